//! Shared bits of the example servers: handlers the tests reuse, and
//! command-line options.

pub mod hello;

use std::time::Duration;

/// Options every example takes.
#[derive(Clone, Debug)]
pub struct Options {
    /// `--port N` (default 8080).
    pub port: u16,
    /// `--workers N` (default: one per CPU).
    pub workers: Option<usize>,
    /// `--body-file F`, for examples that serve a file's bytes.
    pub body_file: Option<String>,
    /// `--pin`: pin worker i to CPU i.
    pub pin: bool,
    /// `--grace-ms N`: the shutdown grace period.
    pub grace: Option<Duration>,
    /// `--accept-threads N`: dedicated accept threads (0: one listener per
    /// worker).
    pub accept_threads: usize,
}

impl Options {
    /// Parses the process's arguments, exiting with a usage line on error.
    pub fn from_args() -> Options {
        let mut options = Options {
            port: 8080,
            workers: None,
            body_file: None,
            pin: false,
            grace: None,
            accept_threads: 0,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = |name: &str| {
                args.next()
                    .unwrap_or_else(|| usage(&format!("{name} needs a value")))
            };
            match arg.as_str() {
                "--port" => options.port = parse(&value("--port"), "--port"),
                "--workers" => options.workers = Some(parse(&value("--workers"), "--workers")),
                "--body-file" => options.body_file = Some(value("--body-file")),
                "--grace-ms" => {
                    options.grace = Some(Duration::from_millis(parse(
                        &value("--grace-ms"),
                        "--grace-ms",
                    )));
                }
                "--accept-threads" => {
                    options.accept_threads = parse(&value("--accept-threads"), "--accept-threads");
                }
                "--pin" => options.pin = true,
                "-h" | "--help" => usage(""),
                other => usage(&format!("unknown option {other}")),
            }
        }
        options
    }
}

impl Options {
    /// Applies the server options (workers, pinning, grace period) to an
    /// epoll server.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub fn apply<const R: usize, const W: usize, const H: usize>(
        &self,
        mut server: peregrine_epoll::ServerWith<R, W, H>,
    ) -> peregrine_epoll::ServerWith<R, W, H> {
        if let Some(workers) = self.workers {
            server = server.workers(workers);
        }
        if let Some(grace) = self.grace {
            server = server.grace_period(grace);
        }
        server
            .pin_workers(self.pin)
            .accept_threads(self.accept_threads)
    }
}

/// Parses a number or exits with a usage line.
fn parse<T: std::str::FromStr>(value: &str, name: &str) -> T {
    value
        .parse()
        .unwrap_or_else(|_| usage(&format!("{name}: not a number: {value}")))
}

/// Prints the usage and exits.
fn usage(problem: &str) -> ! {
    if !problem.is_empty() {
        eprintln!("error: {problem}");
    }
    eprintln!(
        "options: --port N (default 8080)  --workers N  --body-file FILE  --pin  --grace-ms N  --accept-threads N"
    );
    std::process::exit(if problem.is_empty() { 0 } else { 2 })
}
