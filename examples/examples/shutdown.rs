//! Graceful shutdown from inside a handler: `/run` does some work and
//! answers; `/shutdown` answers, then stops the server — requests in
//! flight finish, idle connections close, `run` returns.
//!
//! ```text
//! cargo run --release -p peregrine-examples --example shutdown -- --port 8080
//! curl http://127.0.0.1:8080/run
//! curl http://127.0.0.1:8080/shutdown
//! ```

use peregrine_core::{Handler, Request, Response, StatusCode};
use peregrine_examples::{Options, ShutdownHandle};

/// Answers `/run` and `/shutdown`.
struct Shutdown {
    /// Stops the server.
    handle: ShutdownHandle,
}

impl Handler for Shutdown {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
        match request.path() {
            b"/run" => {
                // Stand-in for real work: checksum a few kilobytes.
                let sum = (0..4096u32).fold(0u32, |sum, i| sum.wrapping_mul(31).wrapping_add(i));
                let mut digits = itoa::Buffer::new();
                let _ = response.body(digits.format(sum).as_bytes());
            }
            b"/shutdown" => {
                response.body_static(b"shutting down\n");
                self.handle.shutdown();
            }
            _ => {
                response.status(StatusCode::NOT_FOUND);
            }
        }
    }
}

fn main() -> std::io::Result<()> {
    let options = Options::from_args();
    let stats = options.run("shutdown", |handle| Shutdown { handle })?;
    eprintln!(
        "shutdown: stopped gracefully after {} requests",
        stats.requests
    );
    Ok(())
}
