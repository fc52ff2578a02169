//! The reference handler of the `hello` example, also used by the
//! integration tests and benchmarks.
//!
//! - `GET /` → `Hello, World!` (or the bytes given to [`Hello::with_body`]);
//!   `POST /` the same (its body, up to the buffer's size, read and
//!   dropped), as the HTTP/2 conformance suite expects of a server's root
//! - `GET /bytes/N` → N bytes (N ≤ 16 MiB), streamed
//! - `POST /echo` → the request body
//! - another method on `/` → 405 with `Allow: GET, HEAD, POST`
//! - any other path → 404

use peregrine_core::{Fill, Handler, Method, Request, Response, StatusCode};

/// The largest `/bytes/N` served.
pub const MAX_BYTES: u64 = 16 * 1024 * 1024;

/// The reference handler.
#[derive(Clone, Copy, Debug)]
pub struct Hello {
    /// What `GET /` answers.
    body: &'static [u8],
}

impl Hello {
    /// Answers `GET /` with `Hello, World!`.
    pub const fn new() -> Self {
        Hello {
            body: b"Hello, World!",
        }
    }

    /// Answers `GET /` with `body`.
    pub const fn with_body(body: &'static [u8]) -> Self {
        Hello { body }
    }
}

impl Default for Hello {
    fn default() -> Self {
        Hello::new()
    }
}

impl Handler for Hello {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
        let path = request.path();
        match (request.method(), path) {
            (Method::Get | Method::Head | Method::Post, b"/") => {
                let _ = response.header("Content-Type", "text/plain");
                response.body_static(self.body);
            }
            (_, b"/") => {
                response.status(StatusCode::METHOD_NOT_ALLOWED);
                let _ = response.header("Allow", "GET, HEAD, POST");
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
        for (i, byte) in buf[..n].iter_mut().enumerate() {
            *byte = pattern_byte(*remaining - i as u64);
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

/// Byte of a `/bytes/N` body when `remaining` bytes (this one included)
/// are left: a repeating `a..z` pattern a client can check byte by byte.
/// Byte `i` of `/bytes/N` is `pattern_byte(N - i)`.
pub const fn pattern_byte(remaining: u64) -> u8 {
    b'a' + (remaining % 26) as u8
}
