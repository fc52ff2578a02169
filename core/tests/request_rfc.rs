//! Table-driven tests of the request parser, one case per rule of RFC 9112
//! and RFC 9110, each case run whole, split at every byte, and one byte per
//! call — all three must agree.

use peregrine_core::{
    BodyFraming, Error, Method, Parsed, Request, RequestParser, TargetForm, Version,
};

/// What parsing a whole input came to, in owned form for comparisons.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// A complete head: method, target, version, headers, head length.
    Complete {
        method: String,
        target: Vec<u8>,
        version: Version,
        headers: Vec<(Vec<u8>, Vec<u8>)>,
        head_len: usize,
    },
    /// The input ended before the head did.
    Partial,
    /// A protocol error.
    Failed(Error),
}

fn outcome(result: Result<Parsed<'_>, Error>) -> Outcome {
    match result {
        Ok(Parsed::Complete(request)) => Outcome::Complete {
            method: request.method_str().to_owned(),
            target: request.target().to_vec(),
            version: request.version(),
            headers: request
                .headers()
                .iter()
                .map(|h| (h.name.to_vec(), h.value.to_vec()))
                .collect(),
            head_len: request.head_len(),
        },
        Ok(Parsed::Partial) => Outcome::Partial,
        Err(error) => Outcome::Failed(error),
    }
}

/// Parses `input` whole, then split in two at every position, then one
/// byte per call, asserting that all agree, and returns the outcome.
fn parse_everywhere(input: &[u8]) -> Outcome {
    let whole = outcome(RequestParser::<16>::new().parse(input));
    for split in 1..input.len() {
        let mut parser = RequestParser::<16>::new();
        let first = outcome(parser.parse(&input[..split]));
        if matches!(first, Outcome::Failed(_)) {
            assert_eq!(first, whole, "first piece of split at {split}");
            continue;
        }
        let second = outcome(parser.parse(input));
        assert_eq!(
            second,
            whole,
            "split at {split} of {}",
            input.escape_ascii()
        );
    }
    let mut parser = RequestParser::<16>::new();
    let mut last = Outcome::Partial;
    for end in 1..=input.len() {
        last = outcome(parser.parse(&input[..end]));
        if matches!(last, Outcome::Failed(_)) {
            break;
        }
    }
    assert_eq!(last, whole, "byte by byte: {}", input.escape_ascii());
    whole
}

/// Runs `check` on the request parsed from `input`, failing if incomplete.
fn with_request(input: &[u8], check: impl FnOnce(Request<'_>)) {
    assert!(matches!(parse_everywhere(input), Outcome::Complete { .. }));
    let mut parser = RequestParser::<16>::new();
    match parser.parse(input) {
        Ok(Parsed::Complete(request)) => check(request),
        other => panic!("{other:?}"),
    }
}

fn error_of(input: &[u8]) -> Error {
    match parse_everywhere(input) {
        Outcome::Failed(error) => error,
        other => panic!("{} parsed as {other:?}", input.escape_ascii()),
    }
}

#[test]
fn request_line_rules() {
    // (input, expected error, rule)
    let rejected: &[(&[u8], Error, &str)] = &[
        (
            b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
            Error::InvalidRequestLine,
            "9112 §3: one SP (empty target)",
        ),
        (
            b"GET /  HTTP/1.1\r\nHost: a\r\n\r\n",
            Error::InvalidVersion,
            "9112 §3: one SP before version",
        ),
        (
            b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n",
            Error::InvalidRequestLine,
            "9112 §3: nothing after version",
        ),
        (
            b" GET / HTTP/1.1\r\nHost: a\r\n\r\n",
            Error::InvalidMethod,
            "9112 §3: line starts with method",
        ),
        (
            b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n",
            Error::InvalidMethod,
            "9110 §9.1: method is a token",
        ),
        (
            b"GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n",
            Error::InvalidMethod,
            "9112 §3: SP, not HTAB",
        ),
        (
            b"GET /\r\n\r\n",
            Error::InvalidRequestLine,
            "9112 §3: HTTP/0.9 lines are refused",
        ),
        (
            b"GET / \r\n\r\n",
            Error::InvalidVersion,
            "9112 §2.3: version required",
        ),
        (
            b"GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n",
            Error::InvalidTarget,
            "9112 §3.2: no CTL in target",
        ),
        (
            b"GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n",
            Error::InvalidTarget,
            "9112 §3.2: no DEL in target",
        ),
        (
            b"GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n",
            Error::InvalidTarget,
            "RFC 3986: raw non-ASCII",
        ),
        (
            b"GET a/b HTTP/1.1\r\nHost: a\r\n\r\n",
            Error::InvalidTarget,
            "9112 §3.2: no relative targets",
        ),
        (
            b"GET * HTTP/1.1\r\nHost: a\r\n\r\n",
            Error::InvalidTarget,
            "9112 §3.2.4: * only for OPTIONS",
        ),
        (
            b"CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n",
            Error::InvalidTarget,
            "9112 §3.2.3: CONNECT needs authority",
        ),
        (
            b"CONNECT a.com HTTP/1.1\r\nHost: a\r\n\r\n",
            Error::InvalidTarget,
            "9112 §3.2.3: port required",
        ),
        (
            b"CONNECT a/b:80 HTTP/1.1\r\nHost: a\r\n\r\n",
            Error::InvalidTarget,
            "9112 §3.2.3: host only",
        ),
        (
            b"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
            Error::UnsupportedVersion,
            "9110 §15.6.6: 505",
        ),
        (
            b"GET / HTTP/0.9\r\nHost: a\r\n\r\n",
            Error::UnsupportedVersion,
            "9110 §15.6.6: 505",
        ),
        (
            b"GET / HTTP/1.2\r\nHost: a\r\n\r\n",
            Error::UnsupportedVersion,
            "9110 §15.6.6: 505",
        ),
        (
            b"GET / http/1.1\r\nHost: a\r\n\r\n",
            Error::InvalidVersion,
            "9112 §2.3: HTTP-name is case-sensitive",
        ),
        (
            b"GET / HTTP/1.10\r\nHost: a\r\n\r\n",
            Error::InvalidVersion,
            "9112 §2.3: one digit each",
        ),
        (
            b"GET / HTTP/11\r\nHost: a\r\n\r\n",
            Error::InvalidVersion,
            "9112 §2.3: DIGIT . DIGIT",
        ),
        (b"GET / FOO\r\n\r\n", Error::InvalidVersion, "9112 §2.3"),
        (
            b"GET / HTTP/1.1\nHost: a\r\n\r\n",
            Error::BareLineFeed,
            "9112 §2.2: bare LF refused",
        ),
        (
            b"GET / HTTP/1.1\rHost: a\r\n\r\n",
            Error::BareCarriageReturn,
            "9112 §2.2: CR without LF",
        ),
        (
            b"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
            Error::BareLineFeed,
            "9112 §2.2: bare LF refused",
        ),
    ];
    for (input, error, rule) in rejected {
        assert_eq!(error_of(input), *error, "{rule}: {}", input.escape_ascii());
    }
}

#[test]
fn error_statuses() {
    assert_eq!(error_of(b"GET / HTTP/3.0\r\n\r\n").status(), 505);
    assert_eq!(error_of(b"GET / HTTP/1.1\r\n\r\n").status(), 400);
    assert_eq!(error_of(b"G\x01 / HTTP/1.1\r\n\r\n").status(), 400);
}

#[test]
fn target_forms() {
    type Case<'a> = (&'a [u8], TargetForm, &'a [u8], Option<&'a [u8]>);
    let cases: &[Case<'_>] = &[
        (
            b"GET /a/b?x=1 HTTP/1.1\r\nHost: h\r\n\r\n",
            TargetForm::Origin,
            b"/a/b",
            Some(b"x=1"),
        ),
        (
            b"GET /? HTTP/1.1\r\nHost: h\r\n\r\n",
            TargetForm::Origin,
            b"/",
            Some(b""),
        ),
        (
            b"GET http://h/p?q HTTP/1.1\r\nHost: h\r\n\r\n",
            TargetForm::Absolute,
            b"/p",
            Some(b"q"),
        ),
        (
            b"GET http://h HTTP/1.1\r\nHost: h\r\n\r\n",
            TargetForm::Absolute,
            b"/",
            None,
        ),
        (
            b"GET http://h?q HTTP/1.1\r\nHost: h\r\n\r\n",
            TargetForm::Absolute,
            b"/",
            Some(b"q"),
        ),
        (
            b"CONNECT h.com:443 HTTP/1.1\r\nHost: h\r\n\r\n",
            TargetForm::Authority,
            b"h.com:443",
            None,
        ),
        (
            b"CONNECT [::1]:8080 HTTP/1.1\r\nHost: h\r\n\r\n",
            TargetForm::Authority,
            b"[::1]:8080",
            None,
        ),
        (
            b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
            TargetForm::Asterisk,
            b"*",
            None,
        ),
    ];
    for (input, form, path, query) in cases {
        with_request(input, |request| {
            assert_eq!(request.target_form(), *form, "{}", input.escape_ascii());
            assert_eq!(request.path(), *path, "{}", input.escape_ascii());
            assert_eq!(request.query(), *query, "{}", input.escape_ascii());
        });
    }
}

#[test]
fn methods_standard_and_extension() {
    with_request(b"PATCH / HTTP/1.1\r\nHost: h\r\n\r\n", |r| {
        assert_eq!(r.method(), Method::Patch);
    });
    // RFC 9110 §9.1: any token is a method; extension methods keep their text.
    with_request(b"M-SEARCH* / HTTP/1.1\r\nHost: h\r\n\r\n", |r| {
        assert_eq!(r.method(), Method::Other);
        assert_eq!(r.method_str(), "M-SEARCH*");
    });
    // Methods are case-sensitive (RFC 9110 §9.1).
    with_request(b"get / HTTP/1.1\r\nHost: h\r\n\r\n", |r| {
        assert_eq!(r.method(), Method::Other);
    });
}

#[test]
fn header_field_rules() {
    let rejected: &[(&[u8], Error, &str)] = &[
        (
            b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
            Error::WhitespaceBeforeColon,
            "9112 §5.1",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n",
            Error::ObsoleteLineFolding,
            "9112 §5.2",
        ),
        (
            b"GET / HTTP/1.1\r\n Host: a\r\n\r\n",
            Error::ObsoleteLineFolding,
            "9112 §2.2",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n",
            Error::InvalidHeaderValue,
            "9110 §5.5: NUL",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x0bb\r\n\r\n",
            Error::InvalidHeaderValue,
            "9110 §5.5: CTL",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n",
            Error::InvalidHeaderValue,
            "9110 §5.5: DEL",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n",
            Error::BareCarriageReturn,
            "9112 §2.2",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n",
            Error::BareLineFeed,
            "9112 §2.2",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\n\n",
            Error::BareLineFeed,
            "9112 §2.2",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\n\rX",
            Error::BareCarriageReturn,
            "9112 §2.2",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nX[1]: b\r\n\r\n",
            Error::InvalidHeaderName,
            "9110 §5.1",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n",
            Error::InvalidHeaderName,
            "9110 §5.1",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n",
            Error::InvalidHeaderName,
            "9112 §5",
        ),
        (b"GET / HTTP/1.1\r\n\r\n", Error::MissingHost, "9112 §3.2"),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n",
            Error::DuplicateHost,
            "9112 §3.2",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
            Error::InvalidHost,
            "9112 §3.2, 3986 §3.2.2",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: user@a\r\n\r\n",
            Error::InvalidHost,
            "9112 §3.2, 3986 §3.2.2",
        ),
        (
            b"GET / HTTP/1.0\r\nHost: a:8o\r\n\r\n",
            Error::InvalidHost,
            "9112 §3.2, 3986 §3.2.3",
        ),
    ];
    for (input, error, rule) in rejected {
        assert_eq!(error_of(input), *error, "{rule}: {}", input.escape_ascii());
    }
}

#[test]
fn header_values_are_trimmed_and_kept_in_order() {
    // RFC 9112 §5: OWS (SP and HTAB) around the value is not part of it.
    with_request(
        b"GET / HTTP/1.1\r\nHost:a\r\nX-A: \t one two \t\r\nx-a:\r\nX-B: \xff\x80\r\n\r\n",
        |r| {
            let fields: Vec<_> = r.headers().iter().map(|h| (h.name, h.value)).collect();
            assert_eq!(
                fields,
                [
                    (&b"Host"[..], &b"a"[..]),
                    (b"X-A", b"one two"),
                    (b"x-a", b""),
                    (b"X-B", b"\xff\x80"), // obs-text is allowed in values
                ]
            );
            assert_eq!(r.headers().get_all("X-a").count(), 2);
            assert_eq!(r.header("HOST"), Some(&b"a"[..]));
            assert_eq!(r.header("missing"), None);
        },
    );
}

#[test]
fn http10_needs_no_host_and_empty_lines_before_request_are_skipped() {
    // RFC 9112 §3.2: Host is required in HTTP/1.1 only.
    with_request(b"GET / HTTP/1.0\r\n\r\n", |r| {
        assert_eq!(r.version(), Version::Http10)
    });
    // RFC 9112 §2.2: at least one empty line before the request line is ignored.
    with_request(b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", |r| {
        assert_eq!(r.head_len(), 31);
        assert_eq!(r.target(), b"/");
    });
}

#[test]
fn limits_at_the_boundary() {
    // MAX_HEADERS fields fit; one more is 431.
    let mut at_limit = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
    for i in 1..4 {
        at_limit.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    let mut over = at_limit.clone();
    over.extend_from_slice(b"X-4: v\r\n\r\n");
    at_limit.extend_from_slice(b"\r\n");
    assert!(matches!(
        RequestParser::<4>::new().parse(&at_limit),
        Ok(Parsed::Complete(_))
    ));
    let error = RequestParser::<4>::new().parse(&over).unwrap_err();
    assert_eq!((error, error.status()), (Error::TooManyHeaders, 431));

    // A target of exactly the limit is fine; one byte more is 414, even
    // before the line is complete.
    let target = format!("/{}", "a".repeat(99));
    let request = format!("GET {target} HTTP/1.1\r\nHost: a\r\n\r\n");
    let parse = |limit: usize, bytes: &[u8]| {
        RequestParser::<4>::new()
            .with_max_target_len(limit)
            .parse(bytes)
            .map(|p| matches!(p, Parsed::Complete(_)))
    };
    assert_eq!(parse(100, request.as_bytes()), Ok(true));
    assert_eq!(parse(99, request.as_bytes()), Err(Error::TargetTooLong));
    assert_eq!(
        parse(99, &request.as_bytes()[..105]),
        Err(Error::TargetTooLong)
    );

    // A head of exactly the limit completes; one byte less than needed is 431.
    let head = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    let parse = |limit: usize| {
        RequestParser::<4>::new()
            .with_max_head_len(limit)
            .parse(head)
            .map(|p| matches!(p, Parsed::Complete(_)))
    };
    assert_eq!(parse(head.len()), Ok(true));
    assert_eq!(parse(head.len() - 1), Err(Error::HeadTooLarge));
    // A target that does not fit the head limit is reported as 414.
    let long = format!("GET /{} HTTP/1.1\r\n", "a".repeat(200));
    let error = RequestParser::<4>::new()
        .with_max_head_len(64)
        .parse(long.as_bytes())
        .unwrap_err();
    assert_eq!(error, Error::TargetTooLong);
}

#[test]
fn errors_are_sticky_and_reset_starts_over() {
    let mut parser = RequestParser::<4>::new();
    assert_eq!(
        parser.parse(b"GET / HTTP/1.1\n").unwrap_err(),
        Error::BareLineFeed
    );
    assert_eq!(
        parser.parse(b"GET / HTTP/1.1\n\r\n").unwrap_err(),
        Error::BareLineFeed
    );
    parser.reset();
    assert!(matches!(
        parser.parse(b"GET / HTTP/1.0\r\n\r\n"),
        Ok(Parsed::Complete(_))
    ));
}

#[test]
fn pipelined_requests_parse_back_to_back() {
    let wire = b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /3 HTTP/1.1\r\nHost: a\r\n\r\n";
    let mut parser = RequestParser::<4>::new();
    let mut offset = 0;
    let mut targets = Vec::new();
    while offset < wire.len() {
        let Ok(Parsed::Complete(request)) = parser.parse(&wire[offset..]) else {
            panic!()
        };
        targets.push(request.target().to_vec());
        offset += request.head_len();
        parser.reset();
    }
    assert_eq!(targets, [b"/1".to_vec(), b"/2".to_vec(), b"/3".to_vec()]);
}

#[test]
fn body_framing_rules() {
    let framing = |headers: &str, version: &str| {
        let wire = format!("POST / HTTP/{version}\r\nHost: a\r\n{headers}\r\n");
        let mut parser = RequestParser::<8>::new();
        match parser.parse(wire.as_bytes()) {
            Ok(Parsed::Complete(request)) => request.body_framing(),
            other => panic!("{other:?}"),
        }
    };
    let cases: &[(&str, &str, Result<BodyFraming, Error>, &str)] = &[
        (
            "",
            "1.1",
            Ok(BodyFraming::Length(0)),
            "9112 §6.3 rule 7: no body",
        ),
        (
            "Content-Length: 42\r\n",
            "1.1",
            Ok(BodyFraming::Length(42)),
            "9112 §6.3 rule 6",
        ),
        (
            "Content-Length: 0042\r\n",
            "1.1",
            Ok(BodyFraming::Length(42)),
            "9110 §8.6: 1*DIGIT",
        ),
        (
            "Content-Length: 5\r\nContent-Length: 5\r\n",
            "1.1",
            Ok(BodyFraming::Length(5)),
            "9110 §8.6: identical values",
        ),
        (
            "Content-Length: 5, 5\r\n",
            "1.1",
            Ok(BodyFraming::Length(5)),
            "9110 §8.6: identical list",
        ),
        (
            "Content-Length: 5\r\nContent-Length: 6\r\n",
            "1.1",
            Err(Error::InvalidContentLength),
            "9112 §6.3 rule 5",
        ),
        (
            "Content-Length: 5, 6\r\n",
            "1.1",
            Err(Error::InvalidContentLength),
            "9112 §6.3 rule 5",
        ),
        (
            "Content-Length: +5\r\n",
            "1.1",
            Err(Error::InvalidContentLength),
            "9110 §8.6: digits only",
        ),
        (
            "Content-Length: -1\r\n",
            "1.1",
            Err(Error::InvalidContentLength),
            "9110 §8.6",
        ),
        (
            "Content-Length: 0x10\r\n",
            "1.1",
            Err(Error::InvalidContentLength),
            "9110 §8.6",
        ),
        (
            "Content-Length: 1 2\r\n",
            "1.1",
            Err(Error::InvalidContentLength),
            "9110 §8.6",
        ),
        (
            "Content-Length:\r\n",
            "1.1",
            Err(Error::InvalidContentLength),
            "9110 §8.6",
        ),
        (
            "Content-Length: 18446744073709551615\r\n",
            "1.1",
            Ok(BodyFraming::Length(u64::MAX)),
            "u64::MAX fits",
        ),
        (
            "Content-Length: 18446744073709551616\r\n",
            "1.1",
            Err(Error::InvalidContentLength),
            "overflow",
        ),
        (
            "Transfer-Encoding: chunked\r\n",
            "1.1",
            Ok(BodyFraming::Chunked),
            "9112 §6.3 rule 4",
        ),
        (
            "Transfer-Encoding: CHUNKED\r\n",
            "1.1",
            Ok(BodyFraming::Chunked),
            "9112 §7: case-insensitive",
        ),
        (
            "Transfer-Encoding: chunked\r\n",
            "1.0",
            Err(Error::TransferEncodingInHttp10),
            "9112 §6.1",
        ),
        (
            "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n",
            "1.1",
            Err(Error::ContentLengthWithTransferEncoding),
            "9112 §6.3 rule 3",
        ),
        (
            "Transfer-Encoding: gzip\r\n",
            "1.1",
            Err(Error::UnsupportedTransferCoding),
            "9112 §6.1: 501",
        ),
        (
            "Transfer-Encoding: gzip, chunked\r\n",
            "1.1",
            Err(Error::UnsupportedTransferCoding),
            "9112 §6.1: 501",
        ),
        (
            "Transfer-Encoding: chunked, gzip\r\n",
            "1.1",
            Err(Error::UnsupportedTransferCoding),
            "9112 §6.3 rule 4",
        ),
        (
            "Transfer-Encoding: chunked, chunked\r\n",
            "1.1",
            Err(Error::InvalidTransferEncoding),
            "9112 §6.1: once",
        ),
        (
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
            "1.1",
            Err(Error::InvalidTransferEncoding),
            "9112 §6.1: once",
        ),
        (
            "Transfer-Encoding:\r\n",
            "1.1",
            Err(Error::InvalidTransferEncoding),
            "9112 §6.1: empty",
        ),
        (
            "Transfer-Encoding: chun ked\r\n",
            "1.1",
            Err(Error::InvalidTransferEncoding),
            "9112 §7: coding is a token",
        ),
    ];
    for (headers, version, expected, rule) in cases {
        assert_eq!(framing(headers, version), *expected, "{rule}: {headers:?}");
    }
    assert_eq!(Error::UnsupportedTransferCoding.status(), 501);
}

#[test]
fn connection_semantics() {
    let request = |version: &str, headers: &str, check: &dyn Fn(Request<'_>)| {
        let wire = format!("GET / HTTP/{version}\r\nHost: a\r\n{headers}\r\n");
        with_request(wire.as_bytes(), check);
    };
    // RFC 9112 §9.3: persistence by version and Connection tokens.
    request("1.1", "", &|r| assert!(r.keep_alive()));
    request("1.1", "Connection: Close\r\n", &|r| {
        assert!(!r.keep_alive())
    });
    request("1.1", "Connection: keep-alive, close\r\n", &|r| {
        assert!(!r.keep_alive())
    });
    request("1.0", "", &|r| assert!(!r.keep_alive()));
    request("1.0", "Connection: Keep-Alive\r\n", &|r| {
        assert!(r.keep_alive())
    });
    request("1.0", "Connection: x, keep-alive\r\n", &|r| {
        assert!(r.keep_alive())
    });
    request("1.0", "Connection: keep-alivex\r\n", &|r| {
        assert!(!r.keep_alive())
    });
    // RFC 9110 §10.1.1: 100-continue, ignored for HTTP/1.0.
    request("1.1", "Expect: 100-Continue\r\n", &|r| {
        assert!(r.expects_continue())
    });
    request("1.0", "Expect: 100-continue\r\n", &|r| {
        assert!(!r.expects_continue())
    });
    request("1.1", "Expect: 200-ok\r\n", &|r| {
        assert!(!r.expects_continue())
    });
    // RFC 9110 §7.8: Upgrade needs the `upgrade` connection option.
    request(
        "1.1",
        "Connection: Upgrade\r\nUpgrade: WebSocket\r\n",
        &|r| {
            assert!(r.is_websocket_upgrade());
        },
    );
    request("1.1", "Upgrade: websocket\r\n", &|r| {
        assert!(!r.is_websocket_upgrade())
    });
    request(
        "1.1",
        "Connection: upgrade\r\nUpgrade: h2c, websocket/13\r\n",
        &|r| {
            assert!(r.is_websocket_upgrade());
            assert!(r.is_upgrade_to("h2c"));
        },
    );
}
