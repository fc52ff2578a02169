//! The WebSocket opening handshake against RFC 6455 §4, one case per
//! rule, on requests parsed by the request parser.

use peregrine_core::date::DateCache;
use peregrine_core::response::EncodeError;
use peregrine_core::ws::{
    ACCEPT_KEY_LEN, HandshakeError, accept_key, accept_response, check_upgrade, write_accept,
    write_reject,
};
use peregrine_core::{Parsed, RequestParser};

/// RFC 6455 §1.2's handshake, as lines between the request line and the
/// empty line.
const FIELDS: &[&str] = &[
    "Host: server.example.com",
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Origin: http://example.com",
    "Sec-WebSocket-Protocol: chat, superchat",
    "Sec-WebSocket-Version: 13",
];

/// A request with `line` and `fields`.
fn request(line: &str, fields: &[&str]) -> Vec<u8> {
    let mut wire = format!("{line}\r\n");
    for field in fields {
        wire.push_str(field);
        wire.push_str("\r\n");
    }
    wire.push_str("\r\n");
    wire.into_bytes()
}

/// RFC 6455 §1.2's fields with the field named like `name` replaced by
/// `replacement` (or dropped when it is empty).
fn fields_with(name: &str, replacement: &[&str]) -> Vec<String> {
    let mut fields: Vec<String> = Vec::new();
    let mut replaced = false;
    for field in FIELDS {
        if field.split(':').next().unwrap().eq_ignore_ascii_case(name) {
            if !replaced {
                fields.extend(replacement.iter().map(|s| s.to_string()));
                replaced = true;
            }
        } else {
            fields.push(field.to_string());
        }
    }
    if !replaced {
        fields.extend(replacement.iter().map(|s| s.to_string()));
    }
    fields
}

/// Parses `wire` and checks it, returning the accept key and the offered
/// protocols.
fn check(wire: &[u8]) -> Result<(Vec<u8>, Vec<String>), HandshakeError> {
    let mut parser = RequestParser::<16>::new();
    let Ok(Parsed::Complete(request)) = parser.parse(wire) else {
        panic!("not a request: {}", wire.escape_ascii());
    };
    check_upgrade(&request).map(|handshake| {
        (
            handshake.accept_key().to_vec(),
            handshake.protocols().map(str::to_owned).collect(),
        )
    })
}

fn check_fields(fields: &[String]) -> Result<(Vec<u8>, Vec<String>), HandshakeError> {
    let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
    check(&request("GET /chat HTTP/1.1", &fields))
}

/// RFC 6455 §1.3: the example key and its accept value.
#[test]
fn accept_key_of_the_rfc_example() {
    assert_eq!(
        &accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
        b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
    assert_eq!(ACCEPT_KEY_LEN, 28);
    let (accept, protocols) = check(&request("GET /chat HTTP/1.1", FIELDS)).unwrap();
    assert_eq!(accept, b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_eq!(protocols, ["chat", "superchat"]);
}

/// More key/accept pairs, computed independently (Python's hashlib and
/// base64).
#[test]
fn accept_keys() {
    let pairs: &[(&[u8], &[u8])] = &[
        (b"x3JJHMbDL1EzLkh9GBhXDw==", b"HSmrc0sMlYUkAGmm5OPpG2HaGWk="),
        (b"AQIDBAUGBwgJCgsMDQ4PEA==", b"C/0nmHhBztSRGR1CwL6Tf4ZjwpY="),
        (b"AAAAAAAAAAAAAAAAAAAAAA==", b"ICX+Yqv66kxgM0FcWaLWlFLwTAI="),
    ];
    for &(key, accept) in pairs {
        assert_eq!(&accept_key(key)[..], accept, "{}", key.escape_ascii());
    }
}

/// RFC 6455 §4.2.1: each requirement on the request, broken one at a
/// time.
#[test]
fn refused_requests() {
    let cases: Vec<(&str, Vec<u8>, HandshakeError)> = vec![
        (
            "§4.2.1 item 1: the method is GET",
            request("POST /chat HTTP/1.1", FIELDS),
            HandshakeError::NotGet,
        ),
        (
            "§4.2.1 item 1: HTTP/1.1 or higher",
            request("GET /chat HTTP/1.0", FIELDS),
            HandshakeError::NotHttp11,
        ),
    ];
    for (rule, wire, error) in cases {
        assert_eq!(check(&wire), Err(error), "{rule}");
    }
    let field_cases: &[(&str, &str, &[&str], HandshakeError)] = &[
        (
            "§4.2.1 item 3",
            "Upgrade",
            &[],
            HandshakeError::MissingUpgrade,
        ),
        (
            "§4.2.1 item 3",
            "Upgrade",
            &["Upgrade: h2c"],
            HandshakeError::MissingUpgrade,
        ),
        (
            "§4.2.1 item 3: the token, not a versioned one",
            "Upgrade",
            &["Upgrade: websocket/13"],
            HandshakeError::MissingUpgrade,
        ),
        (
            "§4.2.1 item 4",
            "Connection",
            &[],
            HandshakeError::MissingConnectionUpgrade,
        ),
        (
            "§4.2.1 item 4",
            "Connection",
            &["Connection: keep-alive"],
            HandshakeError::MissingConnectionUpgrade,
        ),
        (
            "§4.2.1 item 6",
            "Sec-WebSocket-Version",
            &[],
            HandshakeError::MissingVersion,
        ),
        (
            "§11.3.5: at most once",
            "Sec-WebSocket-Version",
            &["Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 13"],
            HandshakeError::MissingVersion,
        ),
        (
            "§4.4: another version is 426",
            "Sec-WebSocket-Version",
            &["Sec-WebSocket-Version: 8"],
            HandshakeError::UnsupportedVersion,
        ),
        (
            "§4.4: no list of versions from a client",
            "Sec-WebSocket-Version",
            &["Sec-WebSocket-Version: 13, 8"],
            HandshakeError::UnsupportedVersion,
        ),
        (
            "§4.1: versions have no leading zero",
            "Sec-WebSocket-Version",
            &["Sec-WebSocket-Version: 013"],
            HandshakeError::UnsupportedVersion,
        ),
        (
            "§4.2.1 item 5",
            "Sec-WebSocket-Key",
            &[],
            HandshakeError::InvalidKey,
        ),
        (
            "§11.3.1: at most once",
            "Sec-WebSocket-Key",
            &[
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            ],
            HandshakeError::InvalidKey,
        ),
        (
            "§4.1: 16 bytes, not 15",
            "Sec-WebSocket-Key",
            &["Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j"],
            HandshakeError::InvalidKey,
        ),
        (
            "§4.1: 16 bytes, not 17",
            "Sec-WebSocket-Key",
            &["Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQE="],
            HandshakeError::InvalidKey,
        ),
        (
            "§4.1: base64",
            "Sec-WebSocket-Key",
            &["Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ!="],
            HandshakeError::InvalidKey,
        ),
        (
            "§4.1: padded",
            "Sec-WebSocket-Key",
            &["Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ"],
            HandshakeError::InvalidKey,
        ),
        (
            "RFC 4648 §3.5: canonical pad bits",
            "Sec-WebSocket-Key",
            &["Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZR=="],
            HandshakeError::InvalidKey,
        ),
        (
            "§4.1: protocols are tokens",
            "Sec-WebSocket-Protocol",
            &["Sec-WebSocket-Protocol: chat, super chat"],
            HandshakeError::InvalidProtocol,
        ),
        (
            "§4.1: protocols are tokens",
            "Sec-WebSocket-Protocol",
            &["Sec-WebSocket-Protocol: chat/1.0"],
            HandshakeError::InvalidProtocol,
        ),
    ];
    for &(rule, name, replacement, error) in field_cases {
        let fields = fields_with(name, replacement);
        assert_eq!(check_fields(&fields), Err(error), "{rule}: {fields:?}");
        assert_eq!(
            error.status(),
            if error == HandshakeError::UnsupportedVersion {
                426
            } else {
                400
            }
        );
    }
}

/// What RFC 6455 and RFC 9110 let vary.
#[test]
fn accepted_variations() {
    let cases: &[(&str, &str, &[&str], &[&str])] = &[
        (
            "§4.2.1: Upgrade is case-insensitive",
            "Upgrade",
            &["Upgrade: WebSocket"],
            &["chat", "superchat"],
        ),
        (
            "RFC 9110 §7.8: several protocols offered",
            "Upgrade",
            &["Upgrade: h2c, websocket"],
            &["chat", "superchat"],
        ),
        (
            "§4.2.1: Connection lists upgrade among others",
            "Connection",
            &["Connection: keep-alive, Upgrade"],
            &["chat", "superchat"],
        ),
        (
            "RFC 9110 §5.3: a list in several fields",
            "Connection",
            &["Connection: keep-alive", "Connection: upgrade"],
            &["chat", "superchat"],
        ),
        (
            "§4.1: protocols in several fields",
            "Sec-WebSocket-Protocol",
            &[
                "Sec-WebSocket-Protocol: chat",
                "Sec-WebSocket-Protocol: v2.json.example",
            ],
            &["chat", "v2.json.example"],
        ),
        (
            "§4.1: no protocol offered",
            "Sec-WebSocket-Protocol",
            &[],
            &[],
        ),
    ];
    for &(rule, name, replacement, protocols) in cases {
        let fields = fields_with(name, replacement);
        let (accept, offered) = check_fields(&fields).unwrap_or_else(|e| panic!("{rule}: {e}"));
        assert_eq!(accept, b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "{rule}");
        assert_eq!(offered, protocols, "{rule}");
    }
}

/// RFC 6455 §4.2.2: the 101 response, with and without a subprotocol;
/// only an offered one may be chosen.
#[test]
fn accept_response_head() {
    let wire = request("GET /chat HTTP/1.1", FIELDS);
    let mut parser = RequestParser::<16>::new();
    let Ok(Parsed::Complete(request)) = parser.parse(&wire) else {
        panic!()
    };
    let handshake = check_upgrade(&request).unwrap();
    assert_eq!(handshake.key(), b"dGhlIHNhbXBsZSBub25jZQ==");
    assert!(handshake.offers_protocol("superchat"));
    assert!(
        !handshake.offers_protocol("Chat"),
        "§4.1: names are compared exactly"
    );
    assert_eq!(handshake.extensions().count(), 0);

    let mut date = DateCache::new();
    date.update(784_111_777);
    let mut buf = [0; 512];
    let head = write_accept(&mut buf, &handshake, Some("chat"), Some(&date)).unwrap();
    assert_eq!(
        head,
        b"HTTP/1.1 101 Switching Protocols\r\n\
          Upgrade: websocket\r\n\
          Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
          Sec-WebSocket-Protocol: chat\r\n\
          Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n\
          Connection: upgrade\r\n\
          \r\n"
    );
    let head = write_accept(&mut buf, &handshake, None, None).unwrap();
    assert_eq!(
        head,
        b"HTTP/1.1 101 Switching Protocols\r\n\
          Upgrade: websocket\r\n\
          Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
          Connection: upgrade\r\n\
          \r\n"
    );
    assert_eq!(
        write_accept(&mut buf, &handshake, Some("mqtt"), None),
        Err(EncodeError::InvalidHeaderValue),
        "§4.2.2: the subprotocol must be one the client offered"
    );
    assert_eq!(
        write_accept(&mut [0; 64], &handshake, None, None),
        Err(EncodeError::BufferFull)
    );

    // Fields of the application's own before finishing.
    let mut encoder = accept_response(&mut buf, &handshake, None).unwrap();
    encoder.header("Set-Cookie", b"session=1").unwrap();
    let ctx = peregrine_core::response::Context {
        request_version: peregrine_core::Version::Http11,
        head_request: false,
        keep_alive: true,
        date: None,
    };
    let (head, _) = encoder.finish_streaming(None, &ctx).unwrap();
    assert!(head.ends_with(b"Set-Cookie: session=1\r\nConnection: upgrade\r\n\r\n"));
}

/// Extensions are handed over raw, and never negotiated.
#[test]
fn extensions_are_listed_raw() {
    let fields = fields_with(
        "Sec-WebSocket-Extensions",
        &[
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
            "Sec-WebSocket-Extensions: x-webkit-deflate-frame",
        ],
    );
    let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
    let wire = request("GET /chat HTTP/1.1", &fields);
    let mut parser = RequestParser::<16>::new();
    let Ok(Parsed::Complete(request)) = parser.parse(&wire) else {
        panic!()
    };
    let handshake = check_upgrade(&request).unwrap();
    let extensions: Vec<&[u8]> = handshake.extensions().collect();
    assert_eq!(
        extensions,
        [
            &b"permessage-deflate; client_max_window_bits"[..],
            b"x-webkit-deflate-frame"
        ]
    );
    let mut buf = [0; 512];
    let head = write_accept(&mut buf, &handshake, None, None).unwrap();
    assert!(
        !head
            .windows(10)
            .any(|w| w.eq_ignore_ascii_case(b"extensions"))
    );
}

/// RFC 6455 §4.2.1, §4.4: the 400 and 426 answers.
#[test]
fn reject_responses() {
    let mut buf = [0; 512];
    let (head, body) = write_reject(&mut buf, HandshakeError::InvalidKey, None).unwrap();
    assert_eq!(
        head,
        b"HTTP/1.1 400 Bad Request\r\n\
          Content-Type: text/plain; charset=utf-8\r\n\
          Connection: close\r\n\
          Content-Length: 25\r\n\
          \r\n"
    );
    assert_eq!(body, b"invalid Sec-WebSocket-Key");
    let (head, _) = write_reject(&mut buf, HandshakeError::UnsupportedVersion, None).unwrap();
    let head = std::str::from_utf8(head).unwrap();
    assert!(
        head.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
        "{head}"
    );
    assert!(
        head.contains("\r\nSec-WebSocket-Version: 13\r\n"),
        "§4.4: {head}"
    );
    assert!(
        head.contains("\r\nUpgrade: websocket\r\n"),
        "RFC 9110 §15.5.22: {head}"
    );
    assert_eq!(
        write_reject(&mut [0; 16], HandshakeError::NotGet, None),
        Err(EncodeError::BufferFull)
    );
}
