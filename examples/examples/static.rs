//! A directory served as static files, the way nginx serves one: index
//! pages, redirects to `/dir/`, validators and `304`, ranges, precompressed
//! `.br`/`.zst`/`.gz` siblings, and `sendfile` for the bodies. See
//! `peregrine_driver::static_files` for what is answered.
//!
//! ```text
//! cargo run --release -p peregrine-examples --example static -- --port 8080 --root DIR
//! ```
//!
//! Files under `/assets/` are sent with a year-long `Cache-Control`,
//! HTML with `no-cache`; anything else the directory does not hold is
//! `404`. A missing root is an error at start.

use std::process::ExitCode;

use peregrine_examples::Options;
use peregrine_std::Files;

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
    let files = Files::new(root)?
        .cache_control_prefix("/assets/", "public, max-age=31536000, immutable")?
        .cache_control_extension("html", "no-cache")?;
    eprintln!("static: serving {}", files.root().display());
    let stats = options.run("static", |_| files)?;
    eprintln!(
        "static: stopped after {} requests ({:?})",
        stats.requests, stats
    );
    Ok(())
}
