//! A Server-Sent Events feed: `curl -N http://127.0.0.1:8080/events`
//! receives `tick 1`, `tick 2`, … every 100 ms (`--interval-ms N`), each
//! post reaching every client on every worker.
//!
//! ```text
//! cargo run --release -p peregrine-examples --example sse -- --port 8080
//! ```
//!
//! Runs on every backend (`--backend std` too, in any `--model`), whose
//! `Sender` carries the publications to the workers (or connection
//! threads).

fn main() -> std::io::Result<()> {
    use std::time::Duration;

    use peregrine_examples::Options;
    use peregrine_examples::sse::{Feed, Publisher};

    let options = Options::from_args();
    let interval = options.interval.unwrap_or(Duration::from_millis(100));
    let mut publisher = None;
    options.run_with_sender("sse", |_, sender| {
        publisher = Some(Publisher::start(sender, interval));
        Feed
    })?;
    drop(publisher);
    Ok(())
}
