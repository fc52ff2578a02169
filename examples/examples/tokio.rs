//! The `hello` routes served by the sans-IO core on tokio's multi-thread
//! runtime (see `peregrine_examples::tokio_driver`), plus `GET /later`, a
//! body woken by another task. Ctrl-C stops it gracefully.
//!
//! ```text
//! cargo run --release -p peregrine-examples --example tokio -- --port 8080
//! curl http://127.0.0.1:8080/later
//! ```
//!
//! Takes `--port`, `--workers` (runtime threads; default one per CPU) and
//! `--grace-ms`.

use std::time::Duration;

use peregrine_core::Config;
use peregrine_examples::Options;
use peregrine_examples::later::Later;
use peregrine_examples::tokio_driver::{Handle, Server};

fn main() -> std::io::Result<()> {
    let options = Options::from_args();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(workers) = options.workers {
        runtime.worker_threads(workers);
    }
    runtime.enable_all().build()?.block_on(async {
        let listener = tokio::net::TcpListener::bind(("0.0.0.0", options.port)).await?;
        eprintln!("tokio: listening on http://{}", listener.local_addr()?);
        let handle = Handle::default();
        let stop = handle.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("tokio: shutting down");
                stop.shutdown();
            }
        });
        let server: Server = Server {
            config: Config::DEFAULT,
            grace: options.grace.unwrap_or(Duration::from_secs(10)),
            handle: handle.clone(),
        };
        let totals = server.run(listener, Later::new(handle)).await;
        eprintln!("tokio: stopped after {} requests", totals.counters.requests);
        Ok(())
    })
}
