//! No heap allocation per HTTPS request after the handshake: a counting
//! global allocator counts allocations made on the server's worker
//! threads (marked when each creates its handler state) over keep-alive
//! and pipelined HTTPS requests, uploads and bodies of many records, after
//! a warm-up of the same kinds (which also makes every per-thread state
//! the TLS layer makes on first use: the worker's record buffer, and its
//! pool's room to take it back), and must count none; nor may the record
//! buffers allocated grow. Set `PEREGRINE_TRACE_ALLOCATIONS` to print the
//! backtrace of any allocation counted.
//! Then the bytes an idle keep-alive TLS connection keeps: no record
//! buffer among them. Run with `--nocapture` to see the figures.
//!
//! A test binary of its own because it installs the allocator.

use peregrine_core::{BodyPolicy, Fill, Handler, Request, Response};
use peregrine_examples::hello::Hello;
use peregrine_std::tls::{TlsConfig, record_buffers_allocated};
use peregrine_tests::counting::{self, CountingAllocator};
use peregrine_tests::tls::{Pki, TlsClient};
use peregrine_tests::{Backend, Options, TestServer, backend_tests};

backend_tests!([persistent] tls_allocations_per_request_and_idle_bytes);

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// [`Hello`], marking each worker thread when it creates its state.
struct Marked;

impl Handler for Marked {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
        Hello::new().handle(request, response);
    }

    fn new_local(&self, _worker: usize) {
        counting::mark_this_thread();
    }

    fn body_policy(&self, request: &Request<'_>) -> BodyPolicy {
        Hello::new().body_policy(request)
    }

    fn fill_body(&self, tag: &mut u64, buf: &mut [u8], local: &mut ()) -> Fill {
        Hello::new().fill_body(tag, buf, local)
    }
}

/// Keep-alive requests, one after another: a `GET /` and a small
/// `POST /echo` in turn.
fn keep_alive(client: &mut TlsClient, requests: usize) {
    for i in 0..requests {
        if i % 2 == 0 {
            assert_eq!(client.get("/").body, b"Hello, World!");
        } else {
            let body = format!("echo {i}");
            client.send(
                format!(
                    "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            );
            assert_eq!(client.response().body, body.as_bytes());
        }
    }
}

/// Uploads and bodies of several records, on one connection: a 12 KB
/// `POST /echo` and a 100,000-byte `GET /bytes/100000`, `rounds` times.
fn large(client: &mut TlsClient, rounds: usize) {
    let body: Vec<u8> = (0..12_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let mut request = format!(
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    for _ in 0..rounds {
        client.send(&request);
        assert!(client.response().body == body);
        assert_eq!(client.get("/bytes/100000").body.len(), 100_000);
    }
}

/// `batches` pipelines of 20 `GET /` in one write each.
fn pipelined(client: &mut TlsClient, batches: usize) {
    let wire = "GET / HTTP/1.1\r\nHost: t\r\n\r\n".repeat(20);
    for _ in 0..batches {
        client.send(wire.as_bytes());
        for _ in 0..20 {
            assert_eq!(client.response().body, b"Hello, World!");
        }
    }
}

fn tls_allocations_per_request_and_idle_bytes(backend: Backend) {
    let _serial = counting::serial();
    let pki = Pki::new();
    let tls = TlsConfig::builder()
        .identity(pki.issue(&["localhost"]).identity())
        .build()
        .unwrap();
    let options = Options {
        workers: 1,
        threads: 4,
        ..Options::default()
    };
    let server = TestServer::start_tls(backend, options, tls, Marked);
    let client_config = pki.default_client();
    let mut client = TlsClient::connect(&server, client_config.clone(), "localhost").unwrap();
    // Warm-up: every kind measured below.
    keep_alive(&mut client, 200);
    pipelined(&mut client, 5);
    large(&mut client, 5);

    let buffers_before = record_buffers_allocated();
    let trace = counting::trace_while(&_serial);
    let before = counting::allocations();
    keep_alive(&mut client, 2_000);
    let keep_alive_allocations = counting::allocations() - before;
    let before = counting::allocations();
    pipelined(&mut client, 100);
    let pipelined_allocations = counting::allocations() - before;
    let before = counting::allocations();
    large(&mut client, 50);
    let large_allocations = counting::allocations() - before;
    let buffers_made = record_buffers_allocated() - buffers_before;
    drop(trace);
    eprintln!(
        "{}: TLS allocations after the handshake: {keep_alive_allocations} over 2,000 keep-alive \
         requests, {pipelined_allocations} over 2,000 pipelined (20 a write), \
         {large_allocations} over 100 uploads and 100 KB bodies; record buffers made: {buffers_made}",
        backend.name()
    );
    assert_eq!(
        keep_alive_allocations, 0,
        "allocations over 2,000 keep-alive requests"
    );
    assert_eq!(
        pipelined_allocations, 0,
        "allocations over 2,000 pipelined requests"
    );
    assert_eq!(
        large_allocations, 0,
        "allocations over 100 uploads and large bodies"
    );
    assert_eq!(
        buffers_made, 0,
        "record buffers allocated after the warm-up"
    );

    if matches!(
        backend,
        Backend::StdPool | Backend::StdPerConnection | Backend::StdSingle
    ) {
        // A thread serves one connection at a time here: no idle
        // connections held beside it.
        return;
    }
    // Idle keep-alive connections: what each keeps on the heap once its
    // handshake and a request are done.
    let live_before = counting::live_bytes();
    let mut idle = Vec::new();
    for _ in 0..50 {
        let mut client = TlsClient::connect(&server, client_config.clone(), "localhost").unwrap();
        assert_eq!(client.get("/").status, 200);
        idle.push(client);
    }
    let per_idle = (counting::live_bytes() - live_before) / 50;
    eprintln!(
        "{}: an idle keep-alive TLS connection keeps {per_idle} bytes of heap",
        backend.name()
    );
    // Its keys and rustls' remains of the connection; a record buffer
    // (about 33 KiB) would show.
    assert!(per_idle < 8 * 1024, "{per_idle} bytes per idle connection");
    drop(idle);
}
