//! The opening handshake, server side (RFC 6455 §4.2).
//!
//! [`check_upgrade`] decides whether a parsed request is a valid
//! WebSocket handshake and returns what the response depends on as a
//! [`Handshake`]; [`write_accept`] writes the `101 Switching Protocols`
//! head that completes it, and [`write_reject`] the response to a request
//! that failed the check.
//!
//! # What it accepts (§4.2.1)
//!
//! - The method is `GET` and the version `HTTP/1.1`. (`Host` is required
//!   of every HTTP/1.1 request by the request parser already.)
//! - `Upgrade` lists the token `websocket`, in any letter case; other
//!   protocols may be listed beside it.
//! - `Connection` lists the `upgrade` option, in any letter case.
//! - Exactly one `Sec-WebSocket-Version` field, whose value is `13`. Any
//!   other version is answered with `426 Upgrade Required` and
//!   `Sec-WebSocket-Version: 13`, so the client can retry with a version
//!   the server speaks (§4.4); a missing or repeated field is 400 (§11.3.5).
//! - Exactly one `Sec-WebSocket-Key` field (§11.3.1), whose value is the
//!   base64 encoding of 16 bytes: 24 characters, `==` padding, the unused
//!   low bits zero (RFC 4648 §3.5).
//! - Every element of `Sec-WebSocket-Protocol`, if present, is a token
//!   (§4.1).
//!
//! `Origin` is the application's to judge; [`Handshake::extensions`]
//! hands over `Sec-WebSocket-Extensions` raw. The only extension a server
//! of this crate negotiates is permessage-deflate
//! ([`deflate::negotiate`](super::deflate::negotiate())), whose answer
//! [`write_accept_with`] names.

use core::fmt;
use core::iter::FusedIterator;

use crate::date::DateCache;
use crate::response::{Context, EncodeError, ResponseEncoder};
use crate::{Method, Request, StatusCode, Tokens, Values, Version, scan};

use super::base64;

/// The GUID a server appends to the client's key before hashing it
/// (RFC 6455 §1.3).
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The protocol version this server speaks (RFC 6455 §4.1).
pub const VERSION: &str = "13";

/// The length of a `Sec-WebSocket-Accept` value: the base64 encoding of a
/// 20-byte SHA-1 digest.
pub const ACCEPT_KEY_LEN: usize = 28;

/// The fields of a 426 answer: the protocol required and its version.
const VERSION_HEADERS: &[(&str, &[u8])] = &[
    ("Upgrade", b"websocket"),
    ("Sec-WebSocket-Version", VERSION.as_bytes()),
];

/// The length of the decoded `Sec-WebSocket-Key` (RFC 6455 §4.1).
const KEY_BYTES: usize = 16;

/// Why a request is not a WebSocket handshake this server accepts.
///
/// ```
/// use peregrine_core::ws::HandshakeError;
///
/// assert_eq!(HandshakeError::InvalidKey.status(), 400);
/// assert_eq!(HandshakeError::UnsupportedVersion.status(), 426);
/// assert_eq!(
///     HandshakeError::UnsupportedVersion.response_headers(),
///     [("Upgrade", &b"websocket"[..]), ("Sec-WebSocket-Version", b"13")]
/// );
/// assert_eq!(HandshakeError::NotGet.to_string(), "WebSocket handshake not a GET request");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The method is not `GET` (400).
    NotGet,
    /// The version is not `HTTP/1.1` (400).
    NotHttp11,
    /// `Upgrade` does not list `websocket` (400).
    MissingUpgrade,
    /// `Connection` does not list `upgrade` (400).
    MissingConnectionUpgrade,
    /// `Sec-WebSocket-Version` is missing or repeated (400).
    MissingVersion,
    /// `Sec-WebSocket-Version` names a version other than 13 (426, with
    /// [`response_headers`](Self::response_headers)).
    UnsupportedVersion,
    /// `Sec-WebSocket-Key` is missing, repeated, or not the base64
    /// encoding of 16 bytes (400).
    InvalidKey,
    /// An element of `Sec-WebSocket-Protocol` is not a token (400).
    InvalidProtocol,
}

impl HandshakeError {
    /// The status code of the response: 426 for an unsupported version,
    /// 400 for everything else.
    pub const fn status(self) -> u16 {
        match self {
            HandshakeError::UnsupportedVersion => 426,
            _ => 400,
        }
    }

    /// A short reason, fit for a response body or a log line.
    pub const fn reason(self) -> &'static str {
        match self {
            HandshakeError::NotGet => "WebSocket handshake not a GET request",
            HandshakeError::NotHttp11 => "WebSocket handshake not HTTP/1.1",
            HandshakeError::MissingUpgrade => "Upgrade does not name websocket",
            HandshakeError::MissingConnectionUpgrade => "Connection lacks the upgrade option",
            HandshakeError::MissingVersion => "missing or repeated Sec-WebSocket-Version",
            HandshakeError::UnsupportedVersion => "unsupported WebSocket version",
            HandshakeError::InvalidKey => "invalid Sec-WebSocket-Key",
            HandshakeError::InvalidProtocol => "invalid Sec-WebSocket-Protocol",
        }
    }

    /// The header fields the response must carry besides the usual ones:
    /// for a 426, `Upgrade: websocket` (RFC 9110 §15.5.22) and the version
    /// the server speaks (RFC 6455 §4.4); nothing otherwise.
    pub const fn response_headers(self) -> &'static [(&'static str, &'static [u8])] {
        match self {
            HandshakeError::UnsupportedVersion => VERSION_HEADERS,
            _ => &[],
        }
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

#[cfg(feature = "std")]
impl std::error::Error for HandshakeError {}

/// A checked WebSocket handshake request: what the response depends on.
#[derive(Clone, Copy, Debug)]
pub struct Handshake<'a> {
    /// The `Sec-WebSocket-Key` value, as received.
    key: &'a [u8],
    /// The request's header fields.
    headers: crate::Headers<'a>,
}

impl<'a> Handshake<'a> {
    /// The `Sec-WebSocket-Key` value, as received (24 base64 characters).
    pub fn key(&self) -> &'a [u8] {
        self.key
    }

    /// The `Sec-WebSocket-Accept` value that answers the key.
    pub fn accept_key(&self) -> [u8; ACCEPT_KEY_LEN] {
        accept_key(self.key)
    }

    /// The subprotocols the client offers, in its order of preference
    /// (`Sec-WebSocket-Protocol`, every field, comma-separated tokens).
    pub fn protocols(&self) -> Protocols<'a> {
        Protocols {
            tokens: self.headers.tokens("sec-websocket-protocol"),
        }
    }

    /// Whether the client offers the subprotocol `name`. Subprotocol names
    /// are compared exactly, letter case included (RFC 6455 §4.1: the
    /// server echoes one of the client's values).
    pub fn offers_protocol(&self, name: &str) -> bool {
        self.protocols().any(|offered| offered == name)
    }

    /// The raw values of every `Sec-WebSocket-Extensions` field, in order:
    /// what [`deflate::negotiate`](super::deflate::negotiate()) reads, and
    /// what an application may log or judge.
    pub fn extensions(&self) -> Values<'a, 'static> {
        self.headers.get_all("sec-websocket-extensions")
    }
}

/// Iterator over the subprotocols a client offers; see
/// [`Handshake::protocols`].
#[derive(Clone, Debug)]
pub struct Protocols<'a> {
    /// The elements of the field values.
    tokens: Tokens<'a, 'static>,
}

impl<'a> Iterator for Protocols<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        // Every element is a token, checked by `check_upgrade`: ASCII.
        self.tokens
            .by_ref()
            .find_map(|token| core::str::from_utf8(token).ok())
    }
}

impl FusedIterator for Protocols<'_> {}

/// Checks that `request` is a WebSocket handshake this server accepts; see
/// the [module documentation](self) for the rules.
///
/// ```
/// use peregrine_core::ws::check_upgrade;
/// use peregrine_core::{Parsed, RequestParser};
///
/// let wire = b"GET /chat HTTP/1.1\r\n\
///     Host: server.example.com\r\n\
///     Upgrade: websocket\r\n\
///     Connection: Upgrade\r\n\
///     Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
///     Sec-WebSocket-Protocol: chat, superchat\r\n\
///     Sec-WebSocket-Version: 13\r\n\r\n";
/// let mut parser = RequestParser::<16>::new();
/// let Ok(Parsed::Complete(request)) = parser.parse(wire) else { panic!() };
///
/// let handshake = check_upgrade(&request)?;
/// assert_eq!(&handshake.accept_key(), b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// assert_eq!(handshake.protocols().collect::<Vec<_>>(), ["chat", "superchat"]);
/// # Ok::<(), peregrine_core::ws::HandshakeError>(())
/// ```
///
/// # Errors
///
/// The first rule the request breaks, checked in the order of the module
/// documentation.
pub fn check_upgrade<'a>(request: &Request<'a>) -> Result<Handshake<'a>, HandshakeError> {
    if request.method() != Method::Get {
        return Err(HandshakeError::NotGet);
    }
    if request.version() != Version::Http11 {
        return Err(HandshakeError::NotHttp11);
    }
    let headers = request.headers();
    if !headers.has_token("upgrade", "websocket") {
        return Err(HandshakeError::MissingUpgrade);
    }
    if !headers.has_token("connection", "upgrade") {
        return Err(HandshakeError::MissingConnectionUpgrade);
    }
    let version =
        single(headers.get_all("sec-websocket-version")).ok_or(HandshakeError::MissingVersion)?;
    if version != VERSION.as_bytes() {
        return Err(HandshakeError::UnsupportedVersion);
    }
    let key = single(headers.get_all("sec-websocket-key")).ok_or(HandshakeError::InvalidKey)?;
    let mut decoded = [0; KEY_BYTES + 2];
    if base64::decode(key, &mut decoded) != Some(KEY_BYTES) {
        return Err(HandshakeError::InvalidKey);
    }
    let is_token = |t: &[u8]| scan::token_run(t) == t.len();
    if !headers.tokens("sec-websocket-protocol").all(is_token) {
        return Err(HandshakeError::InvalidProtocol);
    }
    Ok(Handshake { key, headers })
}

/// The only value of a field, or `None` if it is missing or repeated.
fn single<'a>(mut values: Values<'a, '_>) -> Option<&'a [u8]> {
    let value = values.next()?;
    values.next().is_none().then_some(value)
}

/// The `Sec-WebSocket-Accept` value for the client's `Sec-WebSocket-Key`:
/// the base64 encoding of the SHA-1 digest of the key followed by
/// [`GUID`] (RFC 6455 §4.2.2).
///
/// ```
/// use peregrine_core::ws::accept_key;
///
/// // RFC 6455 §1.3's example.
/// assert_eq!(&accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
pub fn accept_key(key: &[u8]) -> [u8; ACCEPT_KEY_LEN] {
    let mut sha1 = sha1_smol::Sha1::new();
    sha1.update(key);
    sha1.update(GUID.as_bytes());
    let digest = sha1.digest().bytes();
    let mut accept = [0; ACCEPT_KEY_LEN];
    // 20 bytes encode to exactly 28 characters.
    let _ = base64::encode(&digest, &mut accept);
    accept
}

/// Starts the `101 Switching Protocols` response to `handshake`, with
/// `Upgrade: websocket`, `Sec-WebSocket-Accept` and, when `protocol` is
/// given, `Sec-WebSocket-Protocol`, and returns the encoder for the caller
/// to add fields of its own (a cookie, say) and finish with
/// [`finish_streaming`](ResponseEncoder::finish_streaming)`(None, ..)`,
/// which adds `Date` and `Connection: upgrade` and no `Content-Length`.
/// [`write_accept`] does it all when there is nothing to add.
///
/// # Errors
///
/// - [`EncodeError::InvalidHeaderValue`] if `protocol` is not one the
///   client offered (RFC 6455 §4.2.2 allows only those);
/// - [`EncodeError::BufferFull`] if the fields do not fit `buf`.
pub fn accept_response<'b>(
    buf: &'b mut [u8],
    handshake: &Handshake<'_>,
    protocol: Option<&str>,
) -> Result<ResponseEncoder<'b>, EncodeError> {
    if protocol.is_some_and(|name| !handshake.offers_protocol(name)) {
        return Err(EncodeError::InvalidHeaderValue);
    }
    let mut response = ResponseEncoder::new(buf, StatusCode::SWITCHING_PROTOCOLS)?;
    response
        .header("Upgrade", b"websocket")?
        .header("Sec-WebSocket-Accept", &handshake.accept_key())?;
    if let Some(name) = protocol {
        response.header("Sec-WebSocket-Protocol", name.as_bytes())?;
    }
    Ok(response)
}

/// Writes the whole `101 Switching Protocols` head that accepts
/// `handshake` into `buf` and returns it: `Upgrade: websocket`,
/// `Sec-WebSocket-Accept`, `Sec-WebSocket-Protocol` when `protocol` is
/// given, `Date` when `date` is, and `Connection: upgrade`; no
/// `Content-Length`. Frames follow it on the connection.
///
/// ```
/// use peregrine_core::ws::{check_upgrade, write_accept};
/// use peregrine_core::{Parsed, RequestParser};
///
/// let wire = b"GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\
///     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
///     Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Version: 13\r\n\r\n";
/// let mut parser = RequestParser::<16>::new();
/// let Ok(Parsed::Complete(request)) = parser.parse(wire) else { panic!() };
/// let handshake = check_upgrade(&request).unwrap();
///
/// let mut buf = [0; 256];
/// let head = write_accept(&mut buf, &handshake, Some("chat"), None)?;
/// assert_eq!(
///     head,
///     b"HTTP/1.1 101 Switching Protocols\r\n\
///       Upgrade: websocket\r\n\
///       Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
///       Sec-WebSocket-Protocol: chat\r\n\
///       Connection: upgrade\r\n\
///       \r\n"
/// );
/// # Ok::<(), peregrine_core::response::EncodeError>(())
/// ```
///
/// # Errors
///
/// As [`accept_response`].
pub fn write_accept<'b>(
    buf: &'b mut [u8],
    handshake: &Handshake<'_>,
    protocol: Option<&str>,
    date: Option<&DateCache>,
) -> Result<&'b [u8], EncodeError> {
    write_accept_with(buf, handshake, protocol, None, date)
}

/// [`write_accept`], with a `Sec-WebSocket-Extensions` field naming the
/// extensions accepted, when `extensions` is given (the value
/// [`Agreement::write_response`](super::deflate::Agreement::write_response)
/// writes, say).
///
/// # Errors
///
/// As [`accept_response`].
pub fn write_accept_with<'b>(
    buf: &'b mut [u8],
    handshake: &Handshake<'_>,
    protocol: Option<&str>,
    extensions: Option<&[u8]>,
    date: Option<&DateCache>,
) -> Result<&'b [u8], EncodeError> {
    let mut response = accept_response(buf, handshake, protocol)?;
    if let Some(value) = extensions {
        response.header("Sec-WebSocket-Extensions", value)?;
    }
    let ctx = Context {
        request_version: Version::Http11,
        head_request: false,
        keep_alive: true,
        date,
    };
    let (head, _) = response.finish_streaming(None, &ctx)?;
    Ok(head)
}

/// Writes the response to a request that failed [`check_upgrade`] with
/// `error` into `buf`: the error's [status](HandshakeError::status) and
/// [header fields](HandshakeError::response_headers),
/// `Content-Type: text/plain; charset=utf-8`, `Date` when `date` is given,
/// `Connection: close` and `Content-Length`. Returns the head and the body
/// to send after it, the [reason](HandshakeError::reason), ready for one
/// vectored write; the caller then closes the connection.
///
/// ```
/// use peregrine_core::ws::{write_reject, HandshakeError};
///
/// let mut buf = [0; 256];
/// let (head, body) = write_reject(&mut buf, HandshakeError::UnsupportedVersion, None)?;
/// assert_eq!(
///     head,
///     b"HTTP/1.1 426 Upgrade Required\r\n\
///       Upgrade: websocket\r\n\
///       Sec-WebSocket-Version: 13\r\n\
///       Content-Type: text/plain; charset=utf-8\r\n\
///       Connection: close, upgrade\r\n\
///       Content-Length: 29\r\n\
///       \r\n"
/// );
/// assert_eq!(body, b"unsupported WebSocket version");
/// # Ok::<(), peregrine_core::response::EncodeError>(())
/// ```
///
/// # Errors
///
/// [`EncodeError::BufferFull`] if the head does not fit `buf`.
pub fn write_reject<'b>(
    buf: &'b mut [u8],
    error: HandshakeError,
    date: Option<&DateCache>,
) -> Result<(&'b [u8], &'static [u8]), EncodeError> {
    let status = match error.status() {
        426 => StatusCode::UPGRADE_REQUIRED,
        _ => StatusCode::BAD_REQUEST,
    };
    let mut response = ResponseEncoder::new(buf, status)?;
    for &(name, value) in error.response_headers() {
        response.header(name, value)?;
    }
    response.header("Content-Type", b"text/plain; charset=utf-8")?;
    let ctx = Context {
        request_version: Version::Http11,
        head_request: false,
        keep_alive: false,
        date,
    };
    response.finish(error.reason().as_bytes(), &ctx)
}
