//! Peregrine's entry in HttpArena (github.com/MDA2AV/HttpArena): every
//! HTTP/1.1, WebSocket and TLS profile it defines, from one process.
//!
//! ```text
//! cargo run --release -p peregrine-examples --example arena -- --port 8080 --data DIR
//! ```
//!
//! `DIR` (default `/data`, where HttpArena mounts it) holds `dataset.json`
//! and `static/`. On `--port` (default 8080), plain HTTP/1.1 and
//! WebSocket:
//!
//! | profile | endpoint | module |
//! |---|---|---|
//! | baseline, limited-conn | `GET`/`POST /baseline11?a=&b=` | [`baseline`] |
//! | pipelined | `GET /pipeline` | [`baseline`] |
//! | json, json-comp | `GET /json/{count}?m=` | [`json`] |
//! | upload | `POST /upload` | [`upload`] |
//! | static | `GET /static/{name}` | [`files`] |
//! | echo-ws | `/ws` | [`ws`] |
//!
//! On `--tls-port` (default 8081), the same handler over TLS (rustls; TLS
//! 1.3 and 1.2, ALPN `http/1.1`, no session tickets), for `json-tls`,
//! with the certificate `--cert` (default `/certs/server.crt`) and its
//! key `--key` (default `/certs/server.key`). When the default files are
//! missing the TLS port is left closed, with a warning; files named on
//! the command line must exist.
//!
//! `--workers N` (default one per CPU) sets each port's worker threads:
//! the TLS port's workers sleep while no TLS traffic comes. SIGINT or
//! SIGTERM stops both ports gracefully.
//!
//! Linux runs the epoll backend; macOS and the BSDs, kqueue.

mod baseline;
mod files;
mod json;
mod routes;
mod upload;
mod ws;

#[cfg(unix)]
fn main() -> std::process::ExitCode {
    match serve::serve(serve::Args::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("arena: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(not(unix))]
fn main() {
    eprintln!("arena: needs a readiness backend (epoll or kqueue)");
    std::process::exit(2);
}

#[cfg(unix)]
mod serve {
    use std::io;
    use std::path::{Path, PathBuf};
    use std::process::exit;

    use peregrine_core::Config;
    use peregrine_driver::tls::{Identity, TlsConfig};

    use crate::routes::Arena;

    /// The readiness API of this system.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    type Poller = peregrine_epoll::Epoll;
    /// The readiness API of this system.
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    type Poller = peregrine_kqueue::Kqueue;

    /// A server of either port: 16 KiB buffers, 100 header fields.
    type Server = peregrine_driver::Server<Poller, 16384, 16384, 100>;

    /// HttpArena's certificate, where it mounts it.
    const DEFAULT_CERT: &str = "/certs/server.crt";
    /// Its key.
    const DEFAULT_KEY: &str = "/certs/server.key";

    /// What the command line asked for.
    pub struct Args {
        /// `--port`.
        port: u16,
        /// `--tls-port`.
        tls_port: u16,
        /// `--data`.
        data: PathBuf,
        /// `--workers`.
        workers: Option<usize>,
        /// `--cert`, and whether it was given.
        cert: (PathBuf, bool),
        /// `--key`, and whether it was given.
        key: (PathBuf, bool),
    }

    /// Says what is wrong and how to call, then exits.
    fn usage(problem: &str) -> ! {
        if !problem.is_empty() {
            eprintln!("arena: {problem}");
        }
        eprintln!(
            "options: [--port N (8080)] [--tls-port N (8081)] [--data DIR (/data)] \
             [--workers N (one per CPU)] [--cert FILE ({DEFAULT_CERT})] [--key FILE ({DEFAULT_KEY})]"
        );
        exit(2)
    }

    impl Args {
        /// Parses the process's arguments, exiting with a usage line on
        /// error.
        pub fn parse() -> Args {
            let mut parsed = Args {
                port: 8080,
                tls_port: 8081,
                data: PathBuf::from("/data"),
                workers: None,
                cert: (PathBuf::from(DEFAULT_CERT), false),
                key: (PathBuf::from(DEFAULT_KEY), false),
            };
            let mut args = std::env::args().skip(1);
            while let Some(arg) = args.next() {
                let mut value = || {
                    args.next()
                        .unwrap_or_else(|| usage(&format!("{arg} needs a value")))
                };
                match arg.as_str() {
                    "--port" => parsed.port = number(&value(), "--port"),
                    "--tls-port" => parsed.tls_port = number(&value(), "--tls-port"),
                    "--data" => parsed.data = PathBuf::from(value()),
                    "--workers" => parsed.workers = Some(number(&value(), "--workers")),
                    "--cert" => parsed.cert = (PathBuf::from(value()), true),
                    "--key" => parsed.key = (PathBuf::from(value()), true),
                    "-h" | "--help" => usage(""),
                    other => usage(&format!("unknown option {other}")),
                }
            }
            parsed
        }
    }

    /// `text` as a number, or a usage error naming `option`.
    fn number<T: std::str::FromStr>(text: &str, option: &str) -> T {
        text.parse()
            .unwrap_or_else(|_| usage(&format!("{option}: not a number: {text}")))
    }

    /// The connections' settings: the defaults.
    fn config() -> Config {
        Config::DEFAULT
    }

    /// Each listener's backlog: HttpArena's load generators open
    /// thousands of connections at once. The system caps it (Linux:
    /// `net.core.somaxconn`).
    const BACKLOG: u32 = 65_535;

    /// The TLS port's configuration; `None` when the default certificate
    /// files are missing.
    fn tls(args: &Args) -> io::Result<Option<TlsConfig>> {
        let ((cert, cert_given), (key, key_given)) = (&args.cert, &args.key);
        let given = *cert_given || *key_given;
        if !(given || (exists(cert) && exists(key))) {
            eprintln!(
                "arena: warning: {} or {} missing: no TLS on port {} (--cert, --key)",
                cert.display(),
                key.display(),
                args.tls_port
            );
            return Ok(None);
        }
        let identity = Identity::from_pem_files(cert, key)?;
        // Every connection makes a full handshake: no resumption.
        TlsConfig::builder()
            .identity(identity)
            .tickets(false)
            .build()
            .map(Some)
    }

    /// Whether `path` exists.
    fn exists(path: &Path) -> bool {
        path.try_exists().unwrap_or(false)
    }

    /// Binds both ports, then serves until SIGINT or SIGTERM.
    ///
    /// # Errors
    ///
    /// If the data cannot be read, a port cannot be bound, or a server
    /// fails.
    pub fn serve(args: Args) -> io::Result<()> {
        let arena = Arena::load(&args.data)?;
        let tls = tls(&args)?;
        let workers = args.workers.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
        });
        let plain = Server::bind(("0.0.0.0", args.port))?
            .workers(workers)
            .backlog(BACKLOG)
            .config(config());
        let secure = match tls {
            Some(tls) => Some(
                Server::bind(("0.0.0.0", args.tls_port))?
                    .workers(workers)
                    .backlog(BACKLOG)
                    .config(config())
                    .tls(tls)
                    // The plain server takes the signals and stops this one.
                    .handle_signals(false),
            ),
            None => None,
        };
        eprintln!(
            "arena: http://{}{} ({workers} worker{} each; {} items from {})",
            plain.local_addr(),
            secure.as_ref().map_or(String::new(), |s| format!(
                " and https://{}",
                s.local_addr()
            )),
            if workers == 1 { "" } else { "s" },
            arena.items(),
            args.data.display(),
        );
        let stop_plain = plain.shutdown_handle();
        std::thread::scope(|scope| {
            let secure = secure.map(|server| {
                let stop = server.shutdown_handle();
                let arena = arena.clone();
                let thread = scope.spawn(move || {
                    let result = server.run(arena);
                    // One port failing stops the other.
                    stop_plain.shutdown();
                    result
                });
                (stop, thread)
            });
            let result = plain.run(arena);
            let secure = secure.map(|(stop, thread)| {
                stop.shutdown();
                thread
                    .join()
                    .unwrap_or_else(|_| Err(io::Error::other("the TLS server panicked")))
            });
            let stats = result?;
            if let Some(secure) = secure {
                secure?;
            }
            eprintln!("arena: stopped after {} requests", stats.requests);
            Ok(())
        })
    }
}
