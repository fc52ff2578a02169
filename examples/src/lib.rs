//! Shared bits of the example servers: handlers the tests reuse, and
//! command-line options, including which backend runs the example.

pub mod chat;
pub mod hello;
pub mod json;
pub mod later;
pub mod runner;
mod serve;
pub use serve::{Bound, Run, serve_together};
pub mod sse;
pub mod tokio_driver;

use std::path::PathBuf;
use std::time::Duration;

use peregrine_core::{Config, DeflatePolicy, H2c};
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
    /// `--revalidate-ms N`, for examples that serve a directory: how long
    /// a cached file found unchanged is served without checking it again
    /// (`Files::revalidate_after`; default: checked on every request).
    pub revalidate: Option<Duration>,
    /// `--pin`: pin worker i to CPU i (epoll).
    pub pin: bool,
    /// `--grace-ms N`: the shutdown grace period.
    pub grace: Option<Duration>,
    /// `--accept-threads N`: dedicated accept threads (epoll; 0: one
    /// listener per worker).
    pub accept_threads: usize,
    /// `--buffers N`: buffer pairs per epoll (or kqueue) worker, lent to
    /// connections with bytes in flight (examples with large buffers set
    /// fewer); `None`: the server's default (256).
    pub buffers: Option<usize>,
    /// `--max-connections N`: connections each epoll (or kqueue) worker
    /// holds at once (default: as many as the descriptor limit allows), or
    /// with `--backend std --model per-connection` the cap on connection
    /// threads (instead of `--workers`).
    pub max_connections: Option<usize>,
    /// `--backlog N`: the listen backlog of each epoll (or kqueue)
    /// listener (default 1,024; the system caps it).
    pub backlog: Option<u32>,
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
    /// `--tls-cert FILE --tls-key FILE`: serve HTTPS on `--port`, with this
    /// certificate chain and key (PEM); with `--http2` ALPN offers `h2`.
    pub tls: Option<TlsFiles>,
    /// `--tls-port N` (with `--tls-cert`): plain HTTP on `--port` and
    /// HTTPS on `N`, side by side.
    pub tls_port: Option<u16>,
}

/// A certificate chain and its private key, PEM files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
}

impl Options {
    /// Parses the process's arguments, exiting with a usage line on error.
    pub fn from_args() -> Options {
        Options::parse(std::env::args().skip(1)).unwrap_or_else(|problem| usage(&problem))
    }

    /// Parses `args` (without the program's name).
    ///
    /// # Errors
    ///
    /// What is wrong with them, or an empty text for `--help`.
    ///
    /// ```
    /// use peregrine_examples::Options;
    ///
    /// let args = ["--port", "8080", "--tls-cert", "c.pem", "--tls-key", "k.pem", "--tls-port", "8443"];
    /// let options = Options::parse(args.into_iter().map(String::from)).unwrap();
    /// assert_eq!((options.port, options.tls_port), (8080, Some(8443)));
    /// assert!(Options::parse(["--tls-port".to_owned(), "8443".to_owned()].into_iter()).is_err());
    /// ```
    pub fn parse(args: impl Iterator<Item = String>) -> Result<Options, String> {
        let mut options = Options {
            port: 8080,
            backend: Backend::DEFAULT,
            model: None,
            workers: None,
            body_file: None,
            root: None,
            compress: false,
            gzip_level: None,
            revalidate: None,
            pin: false,
            grace: None,
            accept_threads: 0,
            buffers: None,
            max_connections: None,
            backlog: None,
            interval: None,
            config: None,
            deflate: None,
            h2c: H2c::Off,
            tls: None,
            tls_port: None,
        };
        let (mut model, mut cert, mut key) = (None, None, None);
        let mut args = args;
        while let Some(arg) = args.next() {
            let mut value = || args.next().ok_or(format!("{arg} needs a value"));
            match arg.as_str() {
                "--port" => options.port = number(&value()?, &arg)?,
                "--deflate" => {
                    options.deflate = Some(match value()?.as_str() {
                        "off" => DeflatePolicy::Off,
                        "on" => DeflatePolicy::NoContextTakeover,
                        "takeover" => DeflatePolicy::ContextTakeover { contexts: 64 },
                        other => {
                            return Err(format!("--deflate: off, on or takeover, not {other}"));
                        }
                    })
                }
                "--backend" => {
                    options.backend = match value()?.as_str() {
                        "epoll" => Backend::Epoll,
                        "std" => Backend::Std,
                        #[cfg(any(
                            target_os = "macos",
                            target_os = "ios",
                            target_os = "freebsd",
                            target_os = "dragonfly"
                        ))]
                        "kqueue" => Backend::Kqueue,
                        other => {
                            return Err(format!("--backend: epoll, kqueue or std, not {other}"));
                        }
                    };
                }
                "--model" => model = Some(value()?),
                "--workers" => options.workers = Some(number(&value()?, &arg)?),
                "--body-file" => options.body_file = Some(value()?),
                "--root" => options.root = Some(value()?),
                "--grace-ms" => {
                    options.grace = Some(Duration::from_millis(number(&value()?, &arg)?))
                }
                "--accept-threads" => options.accept_threads = number(&value()?, &arg)?,
                "--max-connections" => options.max_connections = Some(number(&value()?, &arg)?),
                "--buffers" => options.buffers = Some(number(&value()?, &arg)?),
                "--backlog" => options.backlog = Some(number(&value()?, &arg)?),
                "--interval-ms" => {
                    options.interval = Some(Duration::from_millis(number(&value()?, &arg)?));
                }
                "--pin" => options.pin = true,
                "--http2" => options.h2c = H2c::Beside,
                "--h2c-only" => options.h2c = H2c::Only,
                "--compress" => options.compress = true,
                "--gzip-level" => options.gzip_level = Some(number(&value()?, &arg)?),
                "--revalidate-ms" => {
                    options.revalidate = Some(Duration::from_millis(number(&value()?, &arg)?));
                }
                "--tls-cert" => cert = Some(PathBuf::from(value()?)),
                "--tls-key" => key = Some(PathBuf::from(value()?)),
                "--tls-port" => options.tls_port = Some(number(&value()?, &arg)?),
                "-h" | "--help" => return Err(String::new()),
                other => return Err(format!("unknown option {other}")),
            }
        }
        options.tls = match (cert, key) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (None, None) => None,
            _ => return Err("--tls-cert and --tls-key go together".to_owned()),
        };
        if options.tls_port.is_some() && options.tls.is_none() {
            return Err("--tls-port needs --tls-cert and --tls-key".to_owned());
        }
        if options.tls_port == Some(options.port) {
            return Err("--tls-port must differ from --port".to_owned());
        }
        options.model = match model.as_deref() {
            None => None,
            Some("single") => Some(Model::Single),
            Some("per-connection") => Some(Model::PerConnection {
                max_threads: options
                    .max_connections
                    .or(options.workers)
                    .unwrap_or(DEFAULT_MAX_THREADS),
            }),
            Some("pool") => Some(Model::Pool),
            Some(other) => {
                return Err(format!(
                    "--model: single, per-connection or pool, not {other}"
                ));
            }
        };
        match options.backend {
            Backend::Epoll => {
                if options.model.is_some() {
                    return Err("--model applies to --backend std".to_owned());
                }
                if !cfg!(any(target_os = "linux", target_os = "android")) {
                    return Err("--backend epoll is Linux-only".to_owned());
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
                    return Err("--model applies to --backend std".to_owned());
                }
            }
            Backend::Std => {
                if options.pin || options.accept_threads > 0 || options.backlog.is_some() {
                    return Err(
                        "--pin, --accept-threads and --backlog apply to --backend epoll and kqueue"
                            .to_owned(),
                    );
                }
                let per_connection = matches!(options.model, Some(Model::PerConnection { .. }));
                if options.max_connections.is_some() && !per_connection {
                    return Err(
                        "--max-connections applies to --backend epoll and kqueue, and to std \
                         with --model per-connection (a pool serves --workers connections)"
                            .to_owned(),
                    );
                }
            }
        }
        Ok(options)
    }
}

/// Parses `value`, the number `name` takes.
fn number<T: std::str::FromStr>(value: &str, name: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{name}: not a number: {value}"))
}

/// Prints the usage and exits.
fn usage(problem: &str) -> ! {
    if !problem.is_empty() {
        eprintln!("error: {problem}");
    }
    eprintln!(
        "options: --port N (default 8080)  --backend epoll|std  --model single|per-connection|pool (std)  \
         --workers N  --max-connections N  --buffers N (epoll)  --backlog N (epoll)  --body-file FILE  --root DIR  --interval-ms N  --pin (epoll)  --grace-ms N  \
         --accept-threads N (epoll)  --compress  --gzip-level N  --revalidate-ms N (static)  --deflate off|on|takeover  --http2 (h2c beside HTTP/1.1)  --h2c-only  \
         --tls-cert FILE --tls-key FILE (HTTPS on --port)  --tls-port N (HTTPS there, plain HTTP on --port)"
    );
    std::process::exit(if problem.is_empty() { 0 } else { 2 })
}
