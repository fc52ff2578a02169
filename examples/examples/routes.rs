//! Routing in its simplest form: `GET /` → 200, any other path → 404, any
//! other method → 405 with `Allow`.
//!
//! ```text
//! cargo run --release -p peregrine-examples --example routes -- --port 8080
//! ```

use peregrine_core::{Handler, Method, Request, Response, StatusCode};
use peregrine_examples::Options;

/// The router.
struct Routes;

impl Handler for Routes {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
        match (request.method(), request.path()) {
            (Method::Get | Method::Head, b"/") => response.body_static(b"home\n"),
            (Method::Get | Method::Head, _) => {
                response
                    .status(StatusCode::NOT_FOUND)
                    .body_static(b"not found\n");
            }
            _ => {
                response.status(StatusCode::METHOD_NOT_ALLOWED);
                let _ = response.header("Allow", "GET, HEAD");
            }
        }
    }
}

fn main() -> std::io::Result<()> {
    let options = Options::from_args();
    options.run("routes", |_| Routes)?;
    Ok(())
}
