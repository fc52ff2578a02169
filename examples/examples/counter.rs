//! A shared counter: every request increments one atomic counter shared by
//! all workers and gets its new value back.
//!
//! ```text
//! cargo run --release -p peregrine-examples --example counter -- --port 8080
//! curl http://127.0.0.1:8080/   # 1, 2, 3, ...
//! ```

use std::sync::atomic::{AtomicU64, Ordering};

use peregrine_core::{Handler, Request, Response};
use peregrine_examples::Options;

/// Counts requests across all workers.
#[derive(Default)]
struct Counter {
    /// Requests so far.
    count: AtomicU64,
}

impl Handler for Counter {
    fn handle(&self, _: &Request<'_>, response: &mut Response<'_>) {
        let count = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        let mut digits = itoa::Buffer::new();
        let _ = response.header("Content-Type", "text/plain");
        // A few digits always fit the write buffer.
        let _ = response.body(digits.format(count).as_bytes());
    }
}

fn main() -> std::io::Result<()> {
    let options = Options::from_args();
    let stats = options.run("counter", |_| Counter::default())?;
    eprintln!("counter: stopped after {} requests", stats.requests);
    Ok(())
}
