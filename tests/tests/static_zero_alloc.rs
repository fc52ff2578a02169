//! No heap allocation per static-file request once the open-file cache is
//! warm: a counting global allocator counts the allocations made on the
//! server's worker threads (marked when each creates its handler state),
//! and after a warm-up thousands of requests for files — whole, ranged,
//! precompressed, conditional (`304`), `HEAD`, and for files that are not
//! there — must make none.
//!
//! Run for every backend whose threads are started once, one backend at a
//! time: the counts are process-wide. A test binary of its own because it
//! installs the allocator.
#![cfg(unix)]

use std::path::PathBuf;

use peregrine_core::{Handler, Request, Response};
use peregrine_driver::static_files::Files;
use peregrine_tests::counting::{self, CountingAllocator};
use peregrine_tests::{Backend, Client, Options, TestServer, backend_tests, get};

backend_tests!([persistent] no_allocation_per_static_file_request);

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// [`Files`], marking each worker thread when it creates its state.
struct Marked(Files);

impl Handler for Marked {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
        self.0.handle(request, response);
    }

    fn new_local(&self, _worker: usize) {
        counting::mark_this_thread();
    }
}

/// The site: a page, a stylesheet with a brotli sibling, a larger file.
struct Site(PathBuf);

impl Site {
    fn new(backend: Backend) -> Site {
        let root = std::env::temp_dir().join(format!(
            "peregrine-static-alloc-{}-{}",
            std::process::id(),
            backend.name()
        ));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("docs")).expect("create the site");
        std::fs::write(root.join("docs/index.html"), b"<h1>docs</h1>").expect("write");
        std::fs::write(root.join("app.css"), b"body { color: red }").expect("write");
        std::fs::write(root.join("app.css.br"), b"BROTLI").expect("write");
        std::fs::write(root.join("large.bin"), vec![7; 200_000]).expect("write");
        Site(root)
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One round of every kind of warm request, on one keep-alive connection;
/// returns the requests sent.
fn traffic(client: &mut Client, etag: &str) -> usize {
    client.send(&get("/docs/"));
    assert_eq!(client.response().body, b"<h1>docs</h1>");
    client.send(&get("/app.css"));
    assert_eq!(client.response().body, b"body { color: red }");
    client.send(b"GET /app.css HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip, br\r\n\r\n");
    assert_eq!(client.response().body, b"BROTLI");
    client.send(
        format!("GET /app.css HTTP/1.1\r\nHost: t\r\nIf-None-Match: {etag}\r\n\r\n").as_bytes(),
    );
    assert_eq!(client.response().status, 304);
    client.send(b"GET /large.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=100-199\r\n\r\n");
    assert_eq!(client.response().status, 206);
    client.send(&get("/large.bin"));
    assert_eq!(client.response().body.len(), 200_000);
    client.send(b"HEAD /app.css HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(client.head_response().status, 200);
    client.send(&get("/missing.txt"));
    assert_eq!(client.response().status, 404);
    client.send(&get("/%2e%2e/x"));
    assert_eq!(client.response().status, 400);
    9
}

fn no_allocation_per_static_file_request(backend: Backend) {
    let _serial = counting::serial();
    let site = Site::new(backend);
    let files = Files::new(&site.0).expect("the root exists");
    let server = TestServer::start_with(backend, Options::default(), Marked(files));
    let mut probe = server.connect();
    probe.send(&get("/app.css"));
    let etag = probe.response().header("etag").expect("an ETag").to_owned();
    drop(probe);
    // Warm-up: every file opened on every worker, through connections the
    // kernel spreads over them.
    // (A single-connection server serves one at a time.)
    let connections = if backend == Backend::StdSingle { 1 } else { 8 };
    let mut clients: Vec<Client> = (0..connections).map(|_| server.connect()).collect();
    for _ in 0..20 {
        for client in &mut clients {
            traffic(client, &etag);
        }
    }
    let before = counting::allocations();
    assert!(
        before > 0,
        "no allocation counted while opening files: the count is blind"
    );
    let mut sent = 0;
    while sent < 5_000 {
        for client in &mut clients {
            sent += traffic(client, &etag);
        }
    }
    let after = counting::allocations();
    drop(clients);
    let stats = server.stop();
    assert!(stats.requests >= 5_000, "{stats:?}");
    assert_eq!(
        after - before,
        0,
        "{} allocations on server threads during {sent} warm static-file requests",
        after - before
    );
}
