//! No heap allocation per compressed response once a worker is warm: a
//! counting global allocator counts the allocations made on the server's
//! worker threads (marked when each creates its compressors), and after
//! a warm-up thousands of gzip and brotli responses, whole and streamed,
//! must make none. Also measures what a worker's compressors keep.
//!
//! Run for every backend whose threads are started once, one backend at a
//! time: the counts are process-wide. A test binary of its own because it
//! installs the allocator.

use peregrine_core::{Fill, Finished, Handler, Request, Response};
use peregrine_driver::compress::Compressors;
use peregrine_tests::compress::{CompressApp, decode, json, streamed};
use peregrine_tests::counting::{self, CountingAllocator};
use peregrine_tests::{Backend, Client, Options, TestServer, backend_tests};

backend_tests!([persistent] no_allocation_per_compressed_response);

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// [`CompressApp`], marking each worker thread when it creates its
/// compressors.
struct Marked(CompressApp);

impl Handler<Compressors> for Marked {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_, Compressors>) {
        self.0.handle(request, response);
    }

    fn new_local(&self, worker: usize) -> Compressors {
        counting::mark_this_thread();
        self.0.new_local(worker)
    }

    fn fill_body(&self, tag: &mut u64, buf: &mut [u8], local: &mut Compressors) -> Fill {
        self.0.fill_body(tag, buf, local)
    }

    fn finished(&self, finished: Finished, local: &mut Compressors) {
        self.0.finished(finished, local);
    }
}

/// `GET path` with `Accept-Encoding: accept`.
fn get(path: &str, accept: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\nAccept-Encoding: {accept}\r\n\r\n").into_bytes()
}

/// One round of compressed traffic on a new connection; returns the
/// responses.
fn round(server: &TestServer) -> usize {
    exchange(&mut Client::connect(server.addr()))
}

/// Every kind of compressed traffic, once, on `client`: whole bodies of
/// three sizes and streamed ones of two, in each coding, and a `HEAD`;
/// returns the responses.
fn exchange(client: &mut Client) -> usize {
    let mut sent = 0;
    for accept in ["gzip", "br", "identity"] {
        for n in [1024, 2048, 6000] {
            let response = fetch(client, &format!("/json/{n}"), accept);
            assert_eq!(decoded(&response), json(n));
            sent += 1;
        }
        for n in [3000, 60_000] {
            let response = fetch(client, &format!("/stream/{n}"), accept);
            assert_eq!(decoded(&response), streamed(n));
            sent += 1;
        }
        client.send(
            format!("HEAD /json/4000 HTTP/1.1\r\nHost: test\r\nAccept-Encoding: {accept}\r\n\r\n")
                .as_bytes(),
        );
        assert!(client.head_response().body.is_empty());
        sent += 1;
    }
    sent
}

/// The response to `GET path` with `Accept-Encoding: accept`.
fn fetch(client: &mut Client, path: &str, accept: &str) -> peregrine_tests::RawResponse {
    client.send(&get(path, accept));
    client.response()
}

/// The response's body, decoded.
fn decoded(response: &peregrine_tests::RawResponse) -> Vec<u8> {
    decode(response.header("content-encoding"), &response.body)
}

fn no_allocation_per_compressed_response(backend: Backend) {
    let _serial = counting::serial();
    let options = Options::default();
    let server = TestServer::start_with(backend, options, Marked(CompressApp::new()));
    // Warm-up: every kind on every worker. Each worker makes its
    // compressors the first time it compresses. A thread of the portable
    // backend serves one connection at a time, for as long as it is open,
    // so as many connections open at once as it has threads reach every
    // thread; a readiness backend's workers are reached by the 300
    // connections after (which worker takes one is the kernel's choice).
    let threads = backend.workers(&options).unwrap_or(1);
    let mut held: Vec<Client> = (0..threads)
        .map(|_| Client::connect(server.addr()))
        .collect();
    for client in &mut held {
        exchange(client);
    }
    drop(held);
    for _ in 0..300 {
        let mut client = Client::connect(server.addr());
        for accept in ["gzip", "br"] {
            assert_eq!(
                decoded(&fetch(&mut client, "/json/2048", accept)),
                json(2048)
            );
            assert_eq!(
                decoded(&fetch(&mut client, "/stream/3000", accept)),
                streamed(3000)
            );
        }
    }
    for _ in 0..40 {
        round(&server);
    }
    let trace = counting::trace_while(&_serial);
    let before = counting::allocations();
    let mut sent = 0;
    while sent < 2_000 {
        sent += round(&server);
    }
    let after = counting::allocations();
    drop(trace);
    server.stop();
    assert_eq!(
        after - before,
        0,
        "{} allocations on server threads during {sent} compressed responses",
        after - before
    );
}

/// What one worker's compressors keep, measured: the bytes its thread
/// allocated and still holds after its first response of each kind.
/// Printed (run with `--nocapture`) for the README's figures.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn memory_per_worker() {
    let _serial = counting::serial();
    let options = Options {
        workers: 1,
        ..Options::default()
    };
    let server = TestServer::start_with(Backend::Epoll, options, Marked(CompressApp::new()));
    let mut client = Client::connect(server.addr());
    assert_eq!(fetch(&mut client, "/json/100", "gzip").status, 200);
    let mut last = counting::live_bytes();
    let mut step = |what: &str, path: &str, accept: &str| {
        for _ in 0..3 {
            let response = fetch(&mut client, path, accept);
            assert_eq!(response.header("content-encoding"), Some(accept));
        }
        let now = counting::live_bytes();
        println!("{what}: {} KiB", (now - last) / 1024);
        let grown = now - last;
        last = now;
        grown
    };
    let gzip = step("gzip encoder and scratch buffer", "/json/6000", "gzip");
    let brotli = step("brotli encoder, whole 6 KB bodies", "/json/6000", "br");
    let gzip_stream = step("a gzip stream's slot", "/stream/1000000", "gzip");
    let brotli_stream = step(
        "a brotli stream (encoder and pool)",
        "/stream/1000000",
        "br",
    );
    drop(client);
    server.stop();
    // Bounds the README states.
    assert!(gzip < 400 * 1024, "{gzip}");
    assert!(brotli < 800 * 1024, "{brotli}");
    assert!(gzip_stream < 400 * 1024, "{gzip_stream}");
    assert!(brotli_stream < 2048 * 1024, "{brotli_stream}");
}
