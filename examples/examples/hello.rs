//! The reference server for tests and benchmarks; see
//! `peregrine_examples::hello` for what it answers.
//!
//! ```text
//! cargo run --release -p peregrine-examples --example hello -- --port 8080
//! cargo run --release -p peregrine-examples --example hello -- --backend std --model pool
//! ```

use peregrine_examples::Options;
use peregrine_examples::hello::Hello;

fn main() -> std::io::Result<()> {
    let options = Options::from_args();
    let body: &'static [u8] = match &options.body_file {
        // Read once and kept for the life of the process.
        Some(path) => Box::leak(std::fs::read(path)?.into_boxed_slice()),
        None => b"Hello, World!",
    };
    let stats = options.run("hello", |_| Hello::with_body(body))?;
    eprintln!(
        "hello: stopped after {} requests ({:?})",
        stats.requests, stats
    );
    Ok(())
}
