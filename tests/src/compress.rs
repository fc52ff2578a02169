//! The fixture of the compression tests: [`CompressApp`], a handler that
//! answers with compressed bodies of every kind, the bodies it sends
//! ([`json`]), and [`decode`], which undoes a `Content-Encoding`.

use std::io::Read;
use std::sync::OnceLock;

use peregrine_core::{Fill, Finished, Handler, Request, Response, StatusCode};
use peregrine_driver::compress::{CompressBody, Compression, Compressors};

/// `n` bytes of JSON-like text, the same for the same `n`: what a JSON
/// API answers, and compresses about as well.
pub fn json(n: usize) -> Vec<u8> {
    (0..n as u64).map(json_byte).collect()
}

/// The longest body `/json/N` and its kin send.
pub const MAX_WHOLE: usize = 1 << 20;

/// The first `n` bytes of [`json`]`(MAX_WHOLE)`, made once: the handler
/// allocates nothing per request.
fn json_prefix(n: usize) -> &'static [u8] {
    static JSON: OnceLock<Vec<u8>> = OnceLock::new();
    &JSON.get_or_init(|| json(MAX_WHOLE))[..n.min(MAX_WHOLE)]
}

/// Byte `i` of every [`json`] body.
fn json_byte(i: u64) -> u8 {
    const ROW: &[u8] =
        b"{\"id\":1234,\"name\":\"peregrine\",\"tags\":[\"fast\",\"small\"],\"ok\":true},\n";
    let row = i / ROW.len() as u64;
    let at = (i % ROW.len() as u64) as usize;
    // The id changes from row to row, so that the text is not one
    // repeated string: about the ratio of real JSON.
    match at {
        6..=9 => b'0' + ((row.wrapping_mul(2_654_435_761) >> (at * 3)) % 10) as u8,
        _ => ROW[at],
    }
}

/// The bytes of a body in `encoding` (`None`, `gzip`, `br`) decoded.
///
/// # Panics
///
/// If they do not decode, or the encoding is another.
pub fn decode(encoding: Option<&str>, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match encoding {
        None => out.extend_from_slice(bytes),
        Some("gzip") => {
            flate2::read::GzDecoder::new(bytes)
                .read_to_end(&mut out)
                .expect("valid gzip");
        }
        Some("br") => {
            brotli::Decompressor::new(bytes, 4096)
                .read_to_end(&mut out)
                .expect("valid brotli");
        }
        Some(other) => panic!("unexpected Content-Encoding {other}"),
    }
    out
}

/// A gzip member holding `b"hello"`, sent by `/encoded` as it is.
pub const GZIPPED_HELLO: &[u8] = &[
    0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0, 0x86, 0xa6, 0x10,
    0x36, 5, 0, 0, 0,
];

/// Answers, with `n` the number in the path's last segment:
///
/// - `/json/N`: `N` bytes (at most [`MAX_WHOLE`]) of [`json`] with `body_compressed`
///   (`application/json`); `/plain/N` the same with no `Content-Type`,
///   `/png/N` as `image/png`;
/// - `/stream/N`: `N` bytes streamed with `stream_compressed`, length
///   unknown; `/stream-length/N` with the length given;
/// - `/big/N`: `body_compressed`, falling back to `stream_compressed`
///   when the body does not fit;
/// - `/encoded`: [`GZIPPED_HELLO`] with `Content-Encoding: gzip` set by
///   the handler; `/204` and `/304`: those statuses.
pub struct CompressApp {
    /// The compressors' settings.
    pub settings: Compression,
}

impl CompressApp {
    /// With the default settings.
    pub fn new() -> CompressApp {
        CompressApp {
            settings: Compression::new(),
        }
    }
}

impl Default for CompressApp {
    fn default() -> Self {
        CompressApp::new()
    }
}

impl Handler<Compressors> for CompressApp {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_, Compressors>) {
        let path = std::str::from_utf8(request.path()).unwrap_or("");
        let (route, n) = match path.rsplit_once('/') {
            Some((route, n)) => (route, n.parse::<usize>().unwrap_or(0)),
            None => (path, 0),
        };
        match route {
            "/json" | "/plain" | "/png" | "/big" => {
                let body = json_prefix(n);
                match route {
                    "/json" | "/big" => {
                        let _ = response.header("Content-Type", "application/json");
                    }
                    "/png" => {
                        let _ = response.header("Content-Type", "image/png");
                    }
                    _ => {}
                }
                if response.body_compressed(request, body).is_err() {
                    response
                        .set_tag(n as u64)
                        .stream_compressed(request, Some(n as u64));
                }
            }
            "/stream" | "/stream-length" => {
                let _ = response.header("Content-Type", "text/plain");
                let length = (route == "/stream-length").then_some(n as u64);
                response
                    .set_tag(n as u64)
                    .stream_compressed(request, length);
            }
            "" if path == "/encoded" => {
                let _ = response.header("Content-Encoding", "gzip");
                let _ = response.body_compressed(request, GZIPPED_HELLO);
            }
            "" if path == "/204" || path == "/304" => {
                let status = if path == "/204" {
                    StatusCode::NO_CONTENT
                } else {
                    StatusCode::NOT_MODIFIED
                };
                response.status(status);
                let _ = response.body_compressed(request, json_prefix(4000));
            }
            _ => {
                response.status(StatusCode::NOT_FOUND);
                response.body_static(b"not found");
            }
        }
    }

    fn new_local(&self, _worker: usize) -> Compressors {
        Compressors::new(self.settings)
    }

    fn fill_body(&self, tag: &mut u64, buf: &mut [u8], local: &mut Compressors) -> Fill {
        // The tag counts the bytes left; the body's length is not kept,
        // so byte `i` is counted from the end, as `/bytes/N` does.
        local.fill_body(tag, buf, |left, plain| {
            let n = (*left).min(plain.len() as u64) as usize;
            for (i, byte) in plain[..n].iter_mut().enumerate() {
                *byte = json_byte(*left - i as u64);
            }
            *left -= n as u64;
            if *left == 0 {
                Fill::Done(n)
            } else {
                Fill::More(n)
            }
        })
    }

    fn finished(&self, finished: Finished, local: &mut Compressors) {
        local.finished(&finished);
    }
}

/// The body `/stream/N` sends: byte `i` of `n` is [`json`]'s byte
/// `n - i`.
pub fn streamed(n: usize) -> Vec<u8> {
    (0..n as u64).map(|i| json_byte(n as u64 - i)).collect()
}
