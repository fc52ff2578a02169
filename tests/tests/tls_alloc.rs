//! What a TLS connection costs in heap: a counting global allocator
//! counts allocations made on the server's worker threads (marked when
//! each creates its handler state) over keep-alive and pipelined HTTPS
//! requests after a warm-up, and the bytes an idle keep-alive TLS
//! connection keeps.
//!
//! rustls' buffered connection allocates for each record it encrypts or
//! decrypts (a record's buffer, freed once it is written or read), so
//! this measures and bounds the figure instead of requiring zero; run
//! with `--nocapture` to see it. Plain HTTP is held to zero by
//! `zero_alloc.rs`.
//!
//! A test binary of its own because it installs the allocator.

use peregrine_core::{BodyPolicy, Fill, Handler, Request, Response};
use peregrine_examples::hello::Hello;
use peregrine_std::tls::TlsConfig;
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
    keep_alive(&mut client, 200);
    pipelined(&mut client, 5);

    let before = counting::allocations();
    keep_alive(&mut client, 2_000);
    let keep_alive_allocations = counting::allocations() - before;
    let before = counting::allocations();
    pipelined(&mut client, 100);
    let pipelined_allocations = counting::allocations() - before;
    let per_request = keep_alive_allocations as f64 / 2_000.0;
    let per_pipelined = pipelined_allocations as f64 / 2_000.0;
    eprintln!(
        "{}: TLS keep-alive {per_request:.2} allocations per request, pipelined (20 a write) {per_pipelined:.2}",
        backend.name()
    );
    // One record in, one out, each a buffer of its own.
    assert!(per_request <= 4.0, "{per_request} allocations per request");
    assert!(
        per_pipelined <= 4.0,
        "{per_pipelined} allocations per request"
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
    assert!(per_idle < 64 * 1024, "{per_idle} bytes per idle connection");
    drop(idle);
}
