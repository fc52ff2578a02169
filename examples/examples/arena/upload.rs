//! The `upload` profile's endpoint: `POST /upload` answers the number of
//! body bytes it received, as `text/plain`.
//!
//! The body is streamed (`BodyPolicy::Stream`): the connection hands it
//! to [`Handler::body_chunk`](peregrine_core::Handler::body_chunk) piece
//! by piece as it arrives (chunked bodies decoded), each piece is
//! counted in the request's tag and dropped, and the handler answers once
//! the last has arrived. Nothing is buffered but the connection's read
//! buffer, whatever the body's size; `Content-Length` is never read for
//! the answer.

use peregrine_core::{BodyPolicy, Method, Request, Response, StatusCode};

use crate::routes::Worker;

/// The path.
pub const PATH: &[u8] = b"/upload";

/// What becomes of a request's body: streamed for `POST /upload`.
pub fn policy(request: &Request<'_>) -> Option<BodyPolicy> {
    (request.method() == Method::Post && request.path() == PATH).then_some(BodyPolicy::Stream)
}

/// Counts a piece of the body.
pub fn chunk(chunk: &[u8], received: &mut u64) {
    *received += chunk.len() as u64;
}

/// Answers `POST /upload` once its body is in: the bytes counted.
pub fn upload(request: &Request<'_>, response: &mut Response<'_, Worker>) {
    if request.method() != Method::Post {
        response.status(StatusCode::METHOD_NOT_ALLOWED);
        let _ = response.header("Allow", "POST");
        return;
    }
    let received = response.tag();
    // The count was all the tag was for: no end to report.
    response.set_tag(0);
    let _ = response.header("Content-Type", "text/plain");
    let mut digits = itoa::Buffer::new();
    let _ = response.body(digits.format(received).as_bytes());
}
