//! Shared bits of the example servers: handlers the tests reuse, and
//! command-line options, including which backend runs the example.

#[cfg(unix)]
pub mod chat;
pub mod hello;
pub mod json;
pub mod later;
#[cfg(unix)]
pub mod runner;
#[cfg(unix)]
pub mod sse;
pub mod tokio_driver;

use std::io;
use std::time::Duration;

use peregrine_core::{Config, DeflatePolicy, H2c, Handler};
pub use peregrine_std::{Model, ShutdownHandle, Stats};

/// The backends an example can run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// `peregrine-epoll` (Linux; the default there).
    Epoll,
    /// `peregrine-kqueue` (macOS, FreeBSD, DragonFly BSD).
    #[cfg(any(
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "dragonfly"
    ))]
    Kqueue,
    /// `peregrine-std`, on any system (the default elsewhere).
    Std,
}

impl Backend {
    /// The default on this system: epoll where it exists.
    pub const DEFAULT: Backend = if cfg!(any(target_os = "linux", target_os = "android")) {
        Backend::Epoll
    } else {
        Backend::Std
    };
}

/// Connection threads of `--model per-connection` when `--workers` is not
/// given.
pub const DEFAULT_MAX_THREADS: usize = 1024;

/// Options every example takes.
#[derive(Clone, Debug)]
pub struct Options {
    /// `--port N` (default 8080).
    pub port: u16,
    /// `--backend epoll|std` (default epoll on Linux, std elsewhere).
    pub backend: Backend,
    /// `--model single|per-connection|pool` (std backend; default pool).
    pub model: Option<Model>,
    /// `--workers N`: epoll workers (default one per CPU), std pool
    /// threads (default 64), or the cap on per-connection threads (default
    /// [`DEFAULT_MAX_THREADS`]).
    pub workers: Option<usize>,
    /// `--body-file F`, for examples that serve a file's bytes.
    pub body_file: Option<String>,
    /// `--root DIR`, for examples that serve a directory.
    pub root: Option<String>,
    /// `--compress`: compress dynamic answers (the `static` example).
    pub compress: bool,
    /// `--gzip-level N` (0 to 9), with `--compress`.
    pub gzip_level: Option<u32>,
    /// `--pin`: pin worker i to CPU i (epoll).
    pub pin: bool,
    /// `--grace-ms N`: the shutdown grace period.
    pub grace: Option<Duration>,
    /// `--accept-threads N`: dedicated accept threads (epoll; 0: one
    /// listener per worker).
    pub accept_threads: usize,
    /// Buffer pairs per epoll worker (set by examples with large buffers,
    /// not on the command line); `None`: the server's default.
    pub buffers: Option<usize>,
    /// `--max-connections N`: connections each epoll (or kqueue) worker
    /// holds at once (default: as many as the descriptor limit allows), or
    /// with `--backend std --model per-connection` the cap on connection
    /// threads (instead of `--workers`).
    pub max_connections: Option<usize>,
    /// `--interval-ms N`, for examples that publish on a timer (the `sse`
    /// feed: default 100 ms).
    pub interval: Option<Duration>,
    /// The connections' configuration (set by examples); `None`: the
    /// server's default.
    pub config: Option<Config>,
    /// `--deflate off|on|takeover`: WebSocket compression without context
    /// takeover (`on`), or with it (`takeover`, 64 states per worker);
    /// applied over `config`.
    pub deflate: Option<DeflatePolicy>,
    /// `--http2`: serve HTTP/2 with prior knowledge (h2c) beside
    /// HTTP/1.1 on the same port ([`H2c::Beside`]); `--h2c-only`: HTTP/2
    /// alone ([`H2c::Only`]).
    pub h2c: H2c,
}

impl Options {
    /// Parses the process's arguments, exiting with a usage line on error.
    pub fn from_args() -> Options {
        let mut options = Options {
            port: 8080,
            backend: Backend::DEFAULT,
            model: None,
            workers: None,
            body_file: None,
            root: None,
            compress: false,
            gzip_level: None,
            pin: false,
            grace: None,
            accept_threads: 0,
            buffers: None,
            max_connections: None,
            interval: None,
            config: None,
            deflate: None,
            h2c: H2c::Off,
        };
        let mut model = None;
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = |name: &str| {
                args.next()
                    .unwrap_or_else(|| usage(&format!("{name} needs a value")))
            };
            match arg.as_str() {
                "--port" => options.port = parse(&value("--port"), "--port"),
                "--deflate" => {
                    options.deflate = Some(match value("--deflate").as_str() {
                        "off" => DeflatePolicy::Off,
                        "on" => DeflatePolicy::NoContextTakeover,
                        "takeover" => DeflatePolicy::ContextTakeover { contexts: 64 },
                        other => usage(&format!("--deflate: off, on or takeover, not {other}")),
                    })
                }
                "--backend" => {
                    options.backend = match value("--backend").as_str() {
                        "epoll" => Backend::Epoll,
                        "std" => Backend::Std,
                        #[cfg(any(
                            target_os = "macos",
                            target_os = "ios",
                            target_os = "freebsd",
                            target_os = "dragonfly"
                        ))]
                        "kqueue" => Backend::Kqueue,
                        other => usage(&format!("--backend: epoll, kqueue or std, not {other}")),
                    };
                }
                "--model" => model = Some(value("--model")),
                "--workers" => options.workers = Some(parse(&value("--workers"), "--workers")),
                "--body-file" => options.body_file = Some(value("--body-file")),
                "--root" => options.root = Some(value("--root")),
                "--grace-ms" => {
                    options.grace = Some(Duration::from_millis(parse(
                        &value("--grace-ms"),
                        "--grace-ms",
                    )));
                }
                "--accept-threads" => {
                    options.accept_threads = parse(&value("--accept-threads"), "--accept-threads");
                }
                "--max-connections" => {
                    options.max_connections =
                        Some(parse(&value("--max-connections"), "--max-connections"));
                }
                "--interval-ms" => {
                    options.interval = Some(Duration::from_millis(parse(
                        &value("--interval-ms"),
                        "--interval-ms",
                    )));
                }
                "--pin" => options.pin = true,
                "--http2" => options.h2c = H2c::Beside,
                "--h2c-only" => options.h2c = H2c::Only,
                "--compress" => options.compress = true,
                "--gzip-level" => {
                    options.gzip_level = Some(parse(&value("--gzip-level"), "--gzip-level"));
                }
                "-h" | "--help" => usage(""),
                other => usage(&format!("unknown option {other}")),
            }
        }
        options.model = model.map(|model| match model.as_str() {
            "single" => Model::Single,
            "per-connection" => Model::PerConnection {
                max_threads: options
                    .max_connections
                    .or(options.workers)
                    .unwrap_or(DEFAULT_MAX_THREADS),
            },
            "pool" => Model::Pool,
            other => usage(&format!(
                "--model: single, per-connection or pool, not {other}"
            )),
        });
        match options.backend {
            Backend::Epoll => {
                if options.model.is_some() {
                    usage("--model applies to --backend std");
                }
                if !cfg!(any(target_os = "linux", target_os = "android")) {
                    usage("--backend epoll is Linux-only");
                }
            }
            #[cfg(any(
                target_os = "macos",
                target_os = "ios",
                target_os = "freebsd",
                target_os = "dragonfly"
            ))]
            Backend::Kqueue => {
                if options.model.is_some() {
                    usage("--model applies to --backend std");
                }
            }
            Backend::Std => {
                if options.pin || options.accept_threads > 0 {
                    usage("--pin and --accept-threads apply to --backend epoll and kqueue");
                }
                let per_connection = matches!(options.model, Some(Model::PerConnection { .. }));
                if options.max_connections.is_some() && !per_connection {
                    usage(
                        "--max-connections applies to --backend epoll and kqueue, and to std \
                         with --model per-connection (a pool serves --workers connections)",
                    );
                }
            }
        }
        options
    }

    /// Binds `0.0.0.0:PORT` on the chosen backend, configured by these
    /// options; builds the handler with `make`, which gets the server's
    /// shutdown handle; says where it listens (as `NAME: listening on
    /// ...`) and serves until shutdown (Ctrl-C, or the handle).
    ///
    /// # Errors
    ///
    /// If the port cannot be bound or the server fails.
    pub fn run<H, L>(&self, name: &str, make: impl FnOnce(ShutdownHandle) -> H) -> io::Result<Stats>
    where
        H: Handler<L>,
        L: Default,
    {
        self.run_sized::<16384, 16384, 100, H, L>(name, make)
    }

    /// [`run`](Self::run) with each connection's buffer sizes and header
    /// capacity chosen: `READ`, `WRITE`, `MAX_HEADERS`.
    ///
    /// # Errors
    ///
    /// If the port cannot be bound or the server fails.
    pub fn run_sized<const READ: usize, const WRITE: usize, const MAX_HEADERS: usize, H, L>(
        &self,
        name: &str,
        make: impl FnOnce(ShutdownHandle) -> H,
    ) -> io::Result<Stats>
    where
        H: Handler<L>,
        L: Default,
    {
        let addr = ("0.0.0.0", self.port);
        match self.backend {
            #[cfg(unix)]
            Backend::Epoll => {
                self.run_readiness::<READ, WRITE, MAX_HEADERS, H, L>(name, |handle, _| make(handle))
            }
            #[cfg(any(
                target_os = "macos",
                target_os = "ios",
                target_os = "freebsd",
                target_os = "dragonfly"
            ))]
            Backend::Kqueue => {
                self.run_readiness::<READ, WRITE, MAX_HEADERS, H, L>(name, |handle, _| make(handle))
            }
            #[cfg(not(unix))]
            Backend::Epoll => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "the epoll backend is Linux-only",
            )),
            Backend::Std => {
                let model = self.model.unwrap_or_default();
                let mut server =
                    peregrine_std::ServerWith::<READ, WRITE, MAX_HEADERS>::bind(addr)?.model(model);
                if let Some(workers) = self.workers {
                    server = server.workers(workers);
                }
                if let Some(grace) = self.grace {
                    server = server.grace_period(grace);
                }
                if let Some(config) = self.effective_config() {
                    server = server.config(config);
                }
                server = server.h2c(self.h2c);
                eprintln!(
                    "{name}: listening on http://{} (std, {model:?})",
                    server.local_addr()
                );
                let handler = make(server.shutdown_handle());
                server.run(handler)
            }
        }
    }

    /// [`run`](Self::run) for a handler that sends WebSocket messages from
    /// outside its callbacks: `make` also gets the server's
    /// [`Sender`](peregrine_driver::Sender). Readiness backends only
    /// (epoll, kqueue).
    ///
    /// # Errors
    ///
    /// If the port cannot be bound, the server fails, or the backend chosen
    /// has no sender (`--backend std`).
    #[cfg(unix)]
    pub fn run_with_sender<H, L>(
        &self,
        name: &str,
        make: impl FnOnce(ShutdownHandle, peregrine_driver::Sender) -> H,
    ) -> io::Result<Stats>
    where
        H: Handler<L>,
        L: Default,
    {
        self.run_readiness::<16384, 16384, 100, H, L>(name, make)
    }

    /// Runs the chosen readiness backend (epoll, kqueue); an error for one
    /// this system lacks, or for `--backend std`.
    #[cfg(unix)]
    fn run_readiness<const READ: usize, const WRITE: usize, const MAX_HEADERS: usize, H, L>(
        &self,
        name: &str,
        make: impl FnOnce(ShutdownHandle, peregrine_driver::Sender) -> H,
    ) -> io::Result<Stats>
    where
        H: Handler<L>,
        L: Default,
    {
        match self.backend {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Backend::Epoll => self
                .run_reactor::<peregrine_epoll::Epoll, READ, WRITE, MAX_HEADERS, H, L>(
                    name, "epoll", make,
                ),
            #[cfg(not(any(target_os = "linux", target_os = "android")))]
            Backend::Epoll => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "the epoll backend is Linux-only",
            )),
            #[cfg(any(
                target_os = "macos",
                target_os = "ios",
                target_os = "freebsd",
                target_os = "dragonfly"
            ))]
            Backend::Kqueue => self
                .run_reactor::<peregrine_kqueue::Kqueue, READ, WRITE, MAX_HEADERS, H, L>(
                    name, "kqueue", make,
                ),
            Backend::Std => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "sending from other threads needs a readiness backend (epoll, kqueue)",
            )),
        }
    }

    /// Runs a server of one of the readiness backends (epoll, kqueue),
    /// which share their builder.
    #[cfg(unix)]
    fn run_reactor<P, const READ: usize, const WRITE: usize, const MAX_HEADERS: usize, H, L>(
        &self,
        name: &str,
        label: &str,
        make: impl FnOnce(ShutdownHandle, peregrine_driver::Sender) -> H,
    ) -> io::Result<Stats>
    where
        P: peregrine_driver::reactor::Poller,
        H: Handler<L>,
        L: Default,
    {
        let addr = ("0.0.0.0", self.port);
        let mut server = peregrine_driver::Server::<P, READ, WRITE, MAX_HEADERS>::bind(addr)?;
        if let Some(buffers) = self.buffers {
            server = server.buffers(buffers);
        }
        if let Some(workers) = self.workers {
            server = server.workers(workers);
        }
        if let Some(grace) = self.grace {
            server = server.grace_period(grace);
        }
        if let Some(connections) = self.max_connections {
            server = server.max_connections(connections);
        }
        if let Some(config) = self.effective_config() {
            server = server.config(config);
        }
        let server = server
            .pin_workers(self.pin)
            .h2c(self.h2c)
            .accept_threads(self.accept_threads);
        eprintln!(
            "{name}: listening on http://{} ({label})",
            server.local_addr()
        );
        let handler = make(server.shutdown_handle(), server.sender());
        server.run(handler)
    }
}

impl Options {
    /// `config` with `--deflate` applied, if either was given.
    fn effective_config(&self) -> Option<Config> {
        if self.config.is_none() && self.deflate.is_none() {
            return None;
        }
        let mut config = self.config.unwrap_or(Config::DEFAULT);
        if let Some(policy) = self.deflate {
            config.websocket_deflate = policy;
        }
        Some(config)
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
        "options: --port N (default 8080)  --backend epoll|std  --model single|per-connection|pool (std)  \
         --workers N  --max-connections N  --body-file FILE  --root DIR  --interval-ms N  --pin (epoll)  --grace-ms N  \
         --accept-threads N (epoll)  --compress  --gzip-level N (static)  --deflate off|on|takeover  --http2 (h2c beside HTTP/1.1)  --h2c-only"
    );
    std::process::exit(if problem.is_empty() { 0 } else { 2 })
}
