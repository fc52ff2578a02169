//! The reference server for tests and benchmarks.
//!
//! - `GET /` → `Hello, World!` (or the bytes of `--body-file F`)
//! - `GET /bytes/N` → N bytes (N ≤ 16 MiB), streamed
//! - `POST /echo` → the request body
//! - another method on `/` → 405 with `Allow: GET, HEAD`
//! - any other path → 404
//!
//! ```text
//! cargo run --release -p peregrine-examples --example hello -- --port 8080
//! ```

use peregrine_epoll::{Fill, Handler, Method, Request, Response, Server, StatusCode};
use peregrine_examples::Options;

/// The largest `/bytes/N` served.
const MAX_BYTES: u64 = 16 * 1024 * 1024;

/// The handler.
struct Hello {
    /// What `GET /` answers.
    body: &'static [u8],
}

impl Handler for Hello {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
        let path = request.path();
        match (request.method(), path) {
            (Method::Get | Method::Head, b"/") => {
                let _ = response.header("Content-Type", "text/plain");
                response.body_static(self.body);
            }
            (_, b"/") => {
                response.status(StatusCode::METHOD_NOT_ALLOWED);
                let _ = response.header("Allow", "GET, HEAD");
            }
            (Method::Post, b"/echo") => {
                if response.body(request.body()).is_err() {
                    response.status(StatusCode::INTERNAL_SERVER_ERROR);
                }
            }
            (Method::Get | Method::Head, _) if path.starts_with(b"/bytes/") => {
                match parse_count(&path[b"/bytes/".len()..]) {
                    Some(n) if n <= MAX_BYTES => {
                        let _ = response.header("Content-Type", "application/octet-stream");
                        response.set_tag(n);
                        response.stream(Some(n));
                    }
                    _ => {
                        response.status(StatusCode::BAD_REQUEST);
                    }
                }
            }
            _ => {
                response.status(StatusCode::NOT_FOUND);
            }
        }
    }

    fn fill_body(&self, remaining: &mut u64, buf: &mut [u8], _: &mut ()) -> Fill {
        let n = (*remaining).min(buf.len() as u64) as usize;
        // A repeating pattern a client can verify byte by byte.
        for (i, byte) in buf[..n].iter_mut().enumerate() {
            *byte = b'a' + ((*remaining as usize - i) % 26) as u8;
        }
        *remaining -= n as u64;
        if *remaining == 0 {
            Fill::Done(n)
        } else {
            Fill::More(n)
        }
    }
}

/// A decimal count, or `None`.
fn parse_count(digits: &[u8]) -> Option<u64> {
    std::str::from_utf8(digits).ok()?.parse().ok()
}

fn main() -> std::io::Result<()> {
    let options = Options::from_args();
    let body: &'static [u8] = match &options.body_file {
        // Read once and kept for the life of the process.
        Some(path) => Box::leak(std::fs::read(path)?.into_boxed_slice()),
        None => b"Hello, World!",
    };
    let mut server = Server::bind(("0.0.0.0", options.port))?.pin_workers(options.pin);
    if let Some(workers) = options.workers {
        server = server.workers(workers);
    }
    if let Some(grace) = options.grace {
        server = server.grace_period(grace);
    }
    eprintln!("hello: listening on http://{}", server.local_addr());
    let stats = server.run(Hello { body })?;
    eprintln!(
        "hello: stopped after {} requests ({:?})",
        stats.requests, stats
    );
    Ok(())
}
