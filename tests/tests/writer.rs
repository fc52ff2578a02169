//! Bodies written with `Response::writer` over real sockets, on every
//! backend: `Content-Length` when they fit the write buffer, chunked
//! (close-delimited for HTTP/1.0) through the worker's spill when they
//! outgrow it, `500` when they outgrow the spill too; many at once share
//! the spill and each arrives whole.

use std::io::Write;

use peregrine_core::{Request, Response};
use peregrine_driver::spill::DEFAULT_SPILL_LIMIT;
use peregrine_tests::{
    Backend, Client, Handler, TestServer, backend_tests, get, h2c_tests, pattern,
};

backend_tests!(
    a_body_that_fits_has_its_length,
    a_body_that_outgrows_the_buffer_is_chunked,
    http_1_0_gets_a_body_delimited_by_the_close,
    a_body_beyond_the_spill_is_a_500,
    [concurrent] concurrent_large_bodies_share_the_spill,
);

// The exchanges that mean the same over HTTP/2.
h2c_tests!(
    a_body_that_fits_has_its_length,
    a_body_beyond_the_spill_is_a_500,
    concurrent_large_bodies_share_the_spill,
);

/// `GET /write/N`: the `N` bytes of [`pattern`], written with
/// `io::Write` in pieces of 1,000.
struct Writes;

impl Handler for Writes {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
        let n: u64 = std::str::from_utf8(request.path())
            .ok()
            .and_then(|path| path.strip_prefix("/write/"))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let body = pattern(n);
        let mut writer = response.writer();
        for piece in body.chunks(1000) {
            if writer.write_all(piece).is_err() {
                return; // the connection answers 500
            }
        }
    }
}

fn a_body_that_fits_has_its_length(backend: Backend) {
    let server = TestServer::start(backend, Writes);
    let mut client = server.connect();
    for n in [0, 1, 5000] {
        client.send(&get(&format!("/write/{n}")));
        let response = client.response();
        assert_eq!(response.status, 200);
        assert_eq!(response.content_length(), Some(n));
        assert_eq!(response.body, pattern(n));
    }
}

fn a_body_that_outgrows_the_buffer_is_chunked(backend: Backend) {
    let server = TestServer::start(backend, Writes);
    let mut client = server.connect();
    for n in [16_384, 100_000, 700_000] {
        client.send(&get(&format!("/write/{n}")));
        let response = client.response();
        assert_eq!(response.status, 200);
        assert!(response.chunked, "{n} bytes");
        assert_eq!(response.body.len() as u64, n);
        assert!(response.body == pattern(n), "{n} bytes differ");
    }
}

fn http_1_0_gets_a_body_delimited_by_the_close(backend: Backend) {
    let server = TestServer::start(backend, Writes);
    let mut client = server.connect();
    client.send(b"GET /write/50000 HTTP/1.0\r\n\r\n");
    let response = client.response();
    assert_eq!(response.status, 200);
    assert_eq!(response.content_length(), None);
    assert!(!response.chunked);
    assert!(response.body == pattern(50_000));
    client.expect_closed();
}

fn a_body_beyond_the_spill_is_a_500(backend: Backend) {
    let server = TestServer::start(backend, Writes);
    let mut client = server.connect();
    client.send(&get(&format!("/write/{}", DEFAULT_SPILL_LIMIT + 100_000)));
    let response = client.response();
    assert_eq!(response.status, 500);
    if !backend.is_h2c() {
        // Over HTTP/2 only the stream ends; its connection serves on.
        client.expect_closed();
    }
    // The spill was given back: a large body fits again.
    let mut client = server.connect();
    client.send(&get("/write/500000"));
    let response = client.response();
    assert_eq!(response.status, 200);
    assert!(response.body == pattern(500_000));
}

fn concurrent_large_bodies_share_the_spill(backend: Backend) {
    let server = TestServer::start(backend, Writes);
    let addr = server.addr();
    let threads: Vec<_> = (0..4)
        .map(|i| {
            std::thread::spawn(move || {
                let mut client = Client::connect(addr);
                for round in 0..5 {
                    let n = 60_000 + i * 1000 + round;
                    client.send(&get(&format!("/write/{n}")));
                    let response = client.response();
                    assert_eq!(response.status, 200);
                    assert!(response.body == pattern(n), "{n} bytes differ");
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("a client failed");
    }
}
