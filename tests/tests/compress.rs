//! Compressed responses over real sockets, on every backend: whole and
//! streamed bodies in gzip and brotli decode to what the handler sent;
//! `Accept-Encoding` (q-values, `q=0`, `identity`) picks the coding; the
//! size threshold, `Vary`, bodies already encoded, `204`/`304` and
//! `HEAD` are answered as they should be.

use peregrine_driver::compress::Compression;
use peregrine_tests::compress::{CompressApp, GZIPPED_HELLO, decode, json, streamed};
use peregrine_tests::{Backend, Client, RawResponse, TestServer, backend_tests, h2c_tests};

backend_tests!(
    whole_bodies_decode_to_the_original,
    streamed_bodies_decode_to_the_original,
    accept_encoding_picks_the_coding,
    the_threshold_is_inclusive,
    bodies_already_encoded_and_excluded_types_are_untouched,
    statuses_without_content_are_untouched,
    head_gets_the_head_of_get,
    a_body_too_large_for_the_buffer_streams,
);

// The exchanges that mean the same over HTTP/2.
h2c_tests!(
    whole_bodies_decode_to_the_original,
    accept_encoding_picks_the_coding,
    the_threshold_is_inclusive,
    bodies_already_encoded_and_excluded_types_are_untouched,
    statuses_without_content_are_untouched,
    head_gets_the_head_of_get,
);

/// `GET path` with `Accept-Encoding: accept` (none if `None`).
fn request(method: &str, path: &str, accept: Option<&str>) -> Vec<u8> {
    let accept = accept
        .map(|value| format!("Accept-Encoding: {value}\r\n"))
        .unwrap_or_default();
    format!("{method} {path} HTTP/1.1\r\nHost: test\r\n{accept}\r\n").into_bytes()
}

/// The response to `GET path` with `Accept-Encoding: accept`.
fn fetch(client: &mut Client, path: &str, accept: Option<&str>) -> RawResponse {
    client.send(&request("GET", path, accept));
    client.response()
}

/// The response's body, decoded as its `Content-Encoding` says.
fn decoded(response: &RawResponse) -> Vec<u8> {
    decode(response.header("content-encoding"), &response.body)
}

/// Whether the response says `Vary: Accept-Encoding`.
fn varies(response: &RawResponse) -> bool {
    response
        .header_all("vary")
        .any(|value| value.eq_ignore_ascii_case("accept-encoding"))
}

fn whole_bodies_decode_to_the_original(backend: Backend) {
    let server = TestServer::start(backend, CompressApp::new());
    let mut client = server.connect();
    for (accept, coding) in [("gzip", "gzip"), ("br", "br")] {
        for n in [1024, 2048, 5000, 7000] {
            let response = fetch(&mut client, &format!("/json/{n}"), Some(accept));
            assert_eq!(response.status, 200);
            assert_eq!(response.header("content-encoding"), Some(coding), "{n}");
            assert!(varies(&response));
            assert!(!response.chunked);
            assert_eq!(response.content_length(), Some(response.body.len() as u64));
            assert!(
                response.body.len() < n / 2,
                "{coding} {n}: {}",
                response.body.len()
            );
            assert_eq!(decoded(&response), json(n), "{coding} {n}");
        }
    }
    // No Content-Type: compressed all the same.
    let response = fetch(&mut client, "/plain/3000", Some("gzip"));
    assert_eq!(response.header("content-encoding"), Some("gzip"));
    assert_eq!(decoded(&response), json(3000));
}

fn streamed_bodies_decode_to_the_original(backend: Backend) {
    let server = TestServer::start(backend, CompressApp::new());
    let mut client = server.connect();
    for (accept, coding) in [("gzip", "gzip"), ("br", "br")] {
        for route in ["/stream", "/stream-length"] {
            for n in [1024, 100_000, 1_000_000] {
                let response = fetch(&mut client, &format!("{route}/{n}"), Some(accept));
                assert_eq!(response.header("content-encoding"), Some(coding));
                assert!(varies(&response));
                assert!(response.chunked, "a compressed stream is chunked");
                assert!(response.body.len() < n / 2);
                assert_eq!(decoded(&response), streamed(n), "{coding} {route}/{n}");
            }
        }
    }
    // Not accepted: the stream as it is, with its length when known.
    let response = fetch(&mut client, "/stream-length/5000", None);
    assert_eq!(response.header("content-encoding"), None);
    assert!(varies(&response));
    assert_eq!(response.content_length(), Some(5000));
    assert_eq!(response.body, streamed(5000));
    let response = fetch(&mut client, "/stream/5000", Some("identity"));
    assert_eq!(response.header("content-encoding"), None);
    assert!(response.chunked);
    assert_eq!(response.body, streamed(5000));
}

fn accept_encoding_picks_the_coding(backend: Backend) {
    let server = TestServer::start(backend, CompressApp::new());
    let mut client = server.connect();
    let cases: &[(Option<&str>, Option<&str>)] = &[
        (None, None),
        (Some("gzip"), Some("gzip")),
        (Some("x-gzip"), Some("gzip")),
        (Some("gzip, deflate, br"), Some("br")),
        (Some("gzip;q=1.0, br;q=0.5"), Some("gzip")),
        (Some("br;q=0, gzip"), Some("gzip")),
        (Some("gzip;q=0"), None),
        (Some("gzip;q=0, br;q=0"), None),
        (Some("identity"), None),
        (Some("identity, gzip;q=0.5"), None),
        (Some("identity;q=0.1, gzip;q=0.2"), Some("gzip")),
        (Some("*"), Some("br")),
        (Some("*;q=0, identity"), None),
        (Some("zstd"), None),
        (Some("deflate, compress"), None),
        (Some("GZIP ; Q=0.5"), Some("gzip")),
    ];
    for &(accept, expected) in cases {
        let response = fetch(&mut client, "/json/4000", accept);
        assert_eq!(
            response.header("content-encoding"),
            expected,
            "Accept-Encoding: {accept:?}"
        );
        assert!(varies(&response), "{accept:?}");
        assert_eq!(decoded(&response), json(4000), "{accept:?}");
    }
}

fn the_threshold_is_inclusive(backend: Backend) {
    let server = TestServer::start(backend, CompressApp::new());
    let mut client = server.connect();
    let response = fetch(&mut client, "/json/1023", Some("gzip, br"));
    assert_eq!(response.header("content-encoding"), None);
    assert!(!varies(&response), "a short body never varies");
    assert_eq!(response.body, json(1023));
    for n in [1024, 1025] {
        let response = fetch(&mut client, &format!("/json/{n}"), Some("gzip, br"));
        assert_eq!(response.header("content-encoding"), Some("br"), "{n}");
        assert_eq!(decoded(&response), json(n));
        let response = fetch(&mut client, &format!("/stream-length/{n}"), Some("gzip"));
        assert_eq!(response.header("content-encoding"), Some("gzip"), "{n}");
        assert_eq!(decoded(&response), streamed(n));
    }
    let response = fetch(&mut client, "/stream-length/1023", Some("gzip"));
    assert_eq!(response.header("content-encoding"), None);
    assert_eq!(response.body, streamed(1023));
}

fn bodies_already_encoded_and_excluded_types_are_untouched(backend: Backend) {
    let server = TestServer::start(backend, CompressApp::new());
    let mut client = server.connect();
    let response = fetch(&mut client, "/encoded", Some("br, gzip"));
    assert_eq!(response.header("content-encoding"), Some("gzip"));
    assert!(!varies(&response));
    assert_eq!(response.body, GZIPPED_HELLO);
    assert_eq!(decoded(&response), b"hello");
    let response = fetch(&mut client, "/png/4000", Some("br, gzip"));
    assert_eq!(response.header("content-encoding"), None);
    assert!(!varies(&response));
    assert_eq!(response.body, json(4000));
}

fn statuses_without_content_are_untouched(backend: Backend) {
    let server = TestServer::start(backend, CompressApp::new());
    let mut client = server.connect();
    for (path, status) in [("/204", 204), ("/304", 304)] {
        let response = fetch(&mut client, path, Some("gzip"));
        assert_eq!(response.status, status);
        assert_eq!(response.header("content-encoding"), None);
        assert!(!varies(&response));
        assert!(response.body.is_empty());
    }
    // The connection is still in step.
    let response = fetch(&mut client, "/json/2000", Some("gzip"));
    assert_eq!(decoded(&response), json(2000));
}

fn head_gets_the_head_of_get(backend: Backend) {
    let server = TestServer::start(backend, CompressApp::new());
    let mut client = server.connect();
    for accept in ["gzip", "br", "identity"] {
        for path in [
            "/json/5000",
            "/stream/5000",
            "/stream-length/5000",
            "/json/100",
        ] {
            let get = fetch(&mut client, path, Some(accept));
            client.send(&request("HEAD", path, Some(accept)));
            let head = client.head_response();
            assert!(head.body.is_empty());
            for field in [
                "content-encoding",
                "vary",
                "content-length",
                "transfer-encoding",
            ] {
                assert_eq!(
                    head.header(field),
                    get.header(field),
                    "{field} of HEAD {path} ({accept})"
                );
            }
        }
    }
    let response = fetch(&mut client, "/json/2000", Some("br"));
    assert_eq!(decoded(&response), json(2000), "still in step");
}

fn a_body_too_large_for_the_buffer_streams(backend: Backend) {
    // Compressed bodies of at most 1 KiB: 50 KB of text compresses to
    // more, and is too large for the write buffer as it is, so the
    // handler streams it instead.
    let app = CompressApp {
        settings: Compression::new().max_body(1024),
    };
    let server = TestServer::start(backend, app);
    let mut client = server.connect();
    let n = 50_000;
    for accept in ["gzip", "br"] {
        let response = fetch(&mut client, &format!("/big/{n}"), Some(accept));
        assert_eq!(response.header("content-encoding"), Some(accept));
        assert!(response.chunked);
        assert_eq!(decoded(&response), streamed(n));
    }
    let response = fetch(&mut client, &format!("/big/{n}"), None);
    assert_eq!(response.header("content-encoding"), None);
    assert_eq!(response.content_length(), Some(n as u64));
    assert_eq!(response.body, streamed(n));
}
