//! The `static` profile's endpoint: `GET /static/{name}` from
//! `DIR/static`, through the driver's [`Files`].
//!
//! `Files` sends each file with `sendfile` from an open-file cache that
//! checks the file on disk once a second, sets `Content-Type` from the
//! extension, and sends the precompressed `name.br` or `name.gz` sibling
//! in its place when the request's `Accept-Encoding` prefers it (with
//! `Content-Encoding` and `Vary`). A name the directory does not hold is
//! `404`.

use std::io;
use std::path::Path;
use std::time::Duration;

use peregrine_core::{Request, Response, StatusCode};
use peregrine_driver::Files;

use crate::routes::Worker;

/// The URL path the directory is served at.
pub const MOUNT: &str = "/static";

/// How long a file found unchanged is served without checking its path
/// again: a second, as the nginx HttpArena's static profile is measured
/// against (`open_file_cache_valid 1s`). The data set does not change
/// while the benchmark runs.
const REVALIDATE_AFTER: Duration = Duration::from_secs(1);

/// `DIR/static`, served at `/static`.
///
/// # Errors
///
/// If the directory does not exist.
pub fn open(data: &Path) -> io::Result<Files> {
    let root = data.join("static");
    Files::new(&root)
        .map(|files| files.mount(MOUNT).revalidate_after(REVALIDATE_AFTER))
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", root.display())))
}

/// Serves a request under `/static/`, or answers `404`.
pub fn serve(files: &Files, request: &Request<'_>, response: &mut Response<'_, Worker>) {
    if !files.serve(request, response) {
        not_found(response);
    }
}

/// `404`.
pub fn not_found(response: &mut Response<'_, Worker>) {
    response.status(StatusCode::NOT_FOUND);
    let _ = response.header("Content-Type", "text/plain");
    response.body_static(b"not found\n");
}
