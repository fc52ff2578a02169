//! Jobs handed to runner threads, answered when done:
//!
//! ```text
//! cargo run --release -p peregrine-examples --example runner -- --port 8080
//! curl -d 'sleep 100' http://127.0.0.1:8080/run   # 200 after 100 ms
//! curl -d 'fail' http://127.0.0.1:8080/run        # 500
//! curl http://127.0.0.1:8080/ping                 # at once
//! curl -X POST http://127.0.0.1:8080/shutdown     # a graceful stop
//! ```
//!
//! `--workers N` sets the runner threads too (default 2). Runs on every
//! backend (`--backend std` too, in any `--model`), whose `Sender` carries
//! the answers to the workers (or connection threads).

fn main() -> std::io::Result<()> {
    use peregrine_examples::Options;
    use peregrine_examples::runner::Runner;

    let options = Options::from_args();
    let count = options.workers.unwrap_or(2);
    let mut runners = None;
    options.run_with_sender("runner", |shutdown, sender| {
        let (runner, threads) = Runner::start(count, 1024, sender, shutdown);
        runners = Some(threads);
        runner
    })?;
    drop(runners);
    Ok(())
}
