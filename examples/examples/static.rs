//! A directory served as static files, the way nginx serves one: index
//! pages, redirects to `/dir/`, validators and `304`, ranges, precompressed
//! `.br`/`.zst`/`.gz` siblings, and `sendfile` for the bodies. See
//! `peregrine_driver::static_files` for what is answered.
//!
//! ```text
//! cargo run --release -p peregrine-examples --example static -- --port 8080 --root DIR
//! cargo run --release -p peregrine-examples --example static -- --port 8080 --root DIR --compress
//! ```
//!
//! Files under `/assets/` are sent with a year-long `Cache-Control`,
//! HTML with `no-cache`; anything else the directory does not hold is
//! `404`. A missing root is an error at start.
//!
//! With `--compress`, `/api/items?n=N` answers a JSON list of `N` items
//! (26 by default, about 2 KiB), made for each request and compressed
//! with gzip or brotli as the request's `Accept-Encoding` prefers
//! (`--gzip-level N`, 6 by default); files are sent as they are (or as
//! their precompressed siblings).
//!
//! Each request checks its file on disk (a `stat`), so a file replaced
//! is served new at once; `--revalidate-ms N` trusts a file found
//! unchanged for N ms instead, as nginx's `open_file_cache_valid` does.

use std::io::Write;
use std::process::ExitCode;

use peregrine_examples::Options;
use peregrine_std::{
    CompressBody, Compression, Compressors, Files, Handler, Request, Response, StatusCode, query,
};

fn main() -> ExitCode {
    match serve() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("static: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Serves the directory until shutdown.
fn serve() -> std::io::Result<()> {
    let options = Options::from_args();
    let root = options.root.as_deref().unwrap_or(".");
    let mut files = Files::new(root)?
        .cache_control_prefix("/assets/", "public, max-age=31536000, immutable")?
        .cache_control_extension("html", "no-cache")?;
    if let Some(valid_for) = options.revalidate {
        files = files.revalidate_after(valid_for);
    }
    eprintln!("static: serving {}", files.root().display());
    let stats = if options.compress {
        let settings = Compression::new().gzip_level(options.gzip_level.unwrap_or(6));
        options.run("static", |_| Site { files, settings })?
    } else {
        options.run("static", |_| files)?
    };
    eprintln!(
        "static: stopped after {} requests ({:?})",
        stats.requests, stats
    );
    Ok(())
}

/// The directory, and a JSON API whose answers are compressed.
struct Site {
    /// The directory.
    files: Files,
    /// How answers are compressed.
    settings: Compression,
}

/// Items `/api/items` lists unless `n` says otherwise: about 2 KiB.
const DEFAULT_ITEMS: usize = 26;

/// The most items listed.
const MAX_ITEMS: usize = 100;

impl Handler<Compressors> for Site {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_, Compressors>) {
        if request.path().starts_with(b"/api/") {
            return api(request, response);
        }
        if !self.files.serve(request, response) {
            response.status(StatusCode::NOT_FOUND);
            response.body_static(b"not found\n");
        }
    }

    fn new_local(&self, _worker: usize) -> Compressors {
        Compressors::new(self.settings)
    }
}

/// Answers `/api/items?n=N`, made on the stack and compressed.
fn api(request: &Request<'_>, response: &mut Response<'_, Compressors>) {
    if request.path() != b"/api/items" {
        response.status(StatusCode::NOT_FOUND);
        return response.body_static(b"{\"error\":\"not found\"}");
    }
    let n = query::pairs(request.query().unwrap_or(b""))
        .find(|(name, _)| *name == b"n")
        .and_then(|(_, value)| std::str::from_utf8(value).ok()?.parse().ok())
        .unwrap_or(DEFAULT_ITEMS)
        .min(MAX_ITEMS);
    let mut buf = [0u8; 96 * MAX_ITEMS + 16];
    let len = items(n, &mut buf);
    let _ = response.header("Content-Type", "application/json");
    let _ = response.header("Cache-Control", "no-store");
    if response.body_compressed(request, &buf[..len]).is_err() {
        response.abandon();
    }
}

/// Writes a JSON list of `n` items into `buf`; the length written.
fn items(n: usize, buf: &mut [u8]) -> usize {
    let total = buf.len();
    let mut out = &mut buf[..];
    let _ = out.write_all(b"[");
    for id in 0..n {
        let comma = if id + 1 < n { "," } else { "" };
        let _ = writeln!(
            out,
            "{{\"id\":{id},\"name\":\"item {id}\",\"price\":{}.{:02},\"in_stock\":{},\"tags\":[\"alpha\",\"beta\"]}}{comma}",
            10 + id * 7 % 90,
            id * 13 % 100,
            id % 3 != 0,
        );
    }
    let _ = out.write_all(b"]\n");
    total - out.len()
}
