//! The reference `Hello` server in a process of its own, for tests that
//! change process-wide state (descriptor limits) or watch the server from
//! outside (its CPU time, whether it is alive).
//!
//! ```text
//! child_server --backend NAME [--nofile N] [--workers N] [--threads N]
//! ```
//!
//! With `--nofile N` it first lowers its own `RLIMIT_NOFILE` (soft and hard)
//! to `N`.
//! It prints `port P` on standard output once it listens, serves until its
//! standard input closes, then shuts down gracefully, prints `stats ...`
//! and exits 0.

use std::io::{Read, Write};

use peregrine_examples::hello::Hello;
use peregrine_tests::{Backend, Options, TestServer};

fn main() {
    let mut backend = None;
    let mut nofile = None;
    let mut options = Options::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().unwrap_or_else(|| usage(&arg));
        match arg.as_str() {
            "--backend" => {
                backend = Some(Backend::from_name(&value).unwrap_or_else(|| usage(&value)))
            }
            "--nofile" => nofile = Some(value.parse::<u64>().unwrap_or_else(|_| usage(&value))),
            "--workers" => options.workers = value.parse().unwrap_or_else(|_| usage(&value)),
            "--threads" => options.threads = value.parse().unwrap_or_else(|_| usage(&value)),
            _ => usage(&arg),
        }
    }
    let backend = backend.unwrap_or_else(|| usage("--backend"));
    if let Some(limit) = nofile {
        lower_fd_limit(limit);
    }
    let server = TestServer::start_with(backend, options, Hello::new());
    let mut stdout = std::io::stdout();
    writeln!(stdout, "port {}", server.addr().port()).expect("stdout");
    stdout.flush().expect("stdout");
    // Serve until the parent closes our standard input (or dies).
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    let stats = server.stop();
    writeln!(stdout, "stats {stats:?}").expect("stdout");
}

/// Lowers the limit on open descriptors to `limit`, the hard limit too:
/// servers raise their soft limit to the hard one when they start.
fn lower_fd_limit(limit: u64) {
    use rustix::process::{Resource, Rlimit, setrlimit};
    let lowered = Rlimit {
        current: Some(limit),
        maximum: Some(limit),
    };
    setrlimit(Resource::Nofile, lowered).expect("setrlimit RLIMIT_NOFILE");
}

/// Exits with a usage line.
fn usage(problem: &str) -> ! {
    eprintln!("child_server: bad argument {problem:?}");
    eprintln!("usage: child_server --backend NAME [--nofile N] [--workers N] [--threads N]");
    std::process::exit(2)
}
