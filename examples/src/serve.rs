//! Running an example: its server (or, with `--tls-port`, a plaintext
//! and a TLS server side by side) bound on the chosen backend, serving
//! one handler until shutdown.

use std::io;

use peregrine_core::{Config, DefaultSizes, H2c, Handler, Sizes};
use peregrine_std::tls::{Identity, TlsConfig};
use peregrine_std::{ServerBuilder, ShutdownHandle, Stats};

use crate::{Backend, Options};

/// ALPN with `--http2` or `--h2c-only`: HTTP/2 for the clients that
/// choose it, HTTP/1.1 for the rest.
const ALPN_H2: &[&[u8]] = &[b"h2", b"http/1.1"];
/// ALPN otherwise.
const ALPN_HTTP1: &[&[u8]] = &[b"http/1.1"];

/// Serves a handler until its server stops.
pub type Run<'s, H> = Box<dyn FnOnce(&H) -> io::Result<Stats> + Send + 's>;

/// A bound server, ready to serve a handler it may share with others
/// ([`serve_together`]).
pub struct Bound<'s, H> {
    /// What it serves, for the log line.
    pub what: String,
    /// Stops it.
    pub stop: ShutdownHandle,
    /// Serves `H` until it stops.
    pub run: Run<'s, H>,
}

impl Options {
    /// Binds `0.0.0.0:PORT` on the chosen backend, configured by these
    /// options; builds the handler with `make`, which gets the server's
    /// shutdown handle; says where it listens (as `NAME: listening on
    /// ...`) and serves until shutdown (Ctrl-C, or the handle).
    ///
    /// With `--tls-cert` and `--tls-key` the port serves HTTPS; adding
    /// `--tls-port N` serves plain HTTP on `--port` and HTTPS on `N`, both
    /// with the same handler, until either stops (the handle stops both).
    ///
    /// # Errors
    ///
    /// If the certificate cannot be loaded, a port cannot be bound, or
    /// the server fails.
    pub fn run<H, L>(&self, name: &str, make: impl FnOnce(ShutdownHandle) -> H) -> io::Result<Stats>
    where
        H: Handler<L>,
        L: Default,
    {
        self.run_sized::<DefaultSizes, H, L>(name, make)
    }

    /// [`run`](Self::run) with each connection's buffer sizes and header
    /// capacity chosen: `Z`, a [`Sizes`] such as
    /// [`Capacity`](peregrine_core::Capacity)`<READ, WRITE, MAX_HEADERS>`.
    ///
    /// # Errors
    ///
    /// If the certificate cannot be loaded, a port cannot be bound, or
    /// the server fails.
    pub fn run_sized<Z: Sizes, H, L>(
        &self,
        name: &str,
        make: impl FnOnce(ShutdownHandle) -> H,
    ) -> io::Result<Stats>
    where
        H: Handler<L>,
        L: Default,
    {
        let tls = self.tls_config()?;
        let mut servers = Vec::with_capacity(2);
        match (tls, self.tls_port) {
            (Some(tls), Some(tls_port)) => {
                servers.push(self.bind::<Z, H, L>(self.port, None)?);
                servers.push(self.bind::<Z, H, L>(tls_port, Some(tls))?);
            }
            (tls, _) => servers.push(self.bind::<Z, H, L>(self.port, tls)?),
        }
        for server in &servers {
            eprintln!("{name}: listening on {}", server.what);
        }
        let handler = make(servers[0].stop.clone());
        serve_together(servers, &handler)
    }

    /// [`run`](Self::run) for a handler that sends WebSocket messages,
    /// wakes streams or answers deferred responses from outside its
    /// callbacks: `make` also gets the server's
    /// [`Sender`](peregrine_driver::Sender). Every backend (epoll,
    /// kqueue, and std in each of its models), and one server:
    /// `--tls-cert` is served, not `--tls-port`.
    ///
    /// # Errors
    ///
    /// If the port cannot be bound, the server fails, or `--tls-port` was
    /// given.
    pub fn run_with_sender<H, L>(
        &self,
        name: &str,
        make: impl FnOnce(ShutdownHandle, peregrine_driver::Sender) -> H,
    ) -> io::Result<Stats>
    where
        H: Handler<L>,
        L: Default,
    {
        if self.tls_port.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "--tls-port: a sender reaches one server; serve HTTPS alone with --tls-cert",
            ));
        }
        let tls = self.tls_config()?;
        let (server, sender) = match self.backend {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Backend::Epoll => self.bind_reactor::<peregrine_epoll::Epoll, DefaultSizes, H, L>(
                self.port, tls, "epoll",
            )?,
            #[cfg(not(any(target_os = "linux", target_os = "android")))]
            Backend::Epoll => return Err(epoll_elsewhere()),
            #[cfg(any(
                target_os = "macos",
                target_os = "ios",
                target_os = "freebsd",
                target_os = "dragonfly"
            ))]
            Backend::Kqueue => self.bind_reactor::<peregrine_kqueue::Kqueue, DefaultSizes, H, L>(
                self.port, tls, "kqueue",
            )?,
            Backend::Std => {
                let scheme = scheme(&tls);
                let server = self.std_server::<DefaultSizes>(self.port, tls)?;
                // Taken before it runs: its threads get mailboxes.
                let sender = server.sender();
                (
                    std_bound(server, self.model.unwrap_or_default(), scheme),
                    sender,
                )
            }
        };
        eprintln!("{name}: listening on {}", server.what);
        let handler = make(server.stop.clone(), sender);
        serve_together(vec![server], &handler)
    }

    /// The TLS configuration `--tls-cert` and `--tls-key` ask for, if
    /// they do: ALPN offers `h2` first with `--http2` or `--h2c-only`.
    fn tls_config(&self) -> io::Result<Option<TlsConfig>> {
        let Some(files) = &self.tls else {
            return Ok(None);
        };
        let alpn = if self.h2c == H2c::Off {
            ALPN_HTTP1
        } else {
            ALPN_H2
        };
        let config = TlsConfig::builder()
            .identity(Identity::from_pem_files(&files.cert, &files.key)?)
            .alpn(alpn)
            .build()?;
        Ok(Some(config))
    }

    /// A server on `port` of the chosen backend, over TLS if `tls` is
    /// given. A TLS server takes HTTP/2 by ALPN alone; only the first
    /// server takes the signals.
    fn bind<'s, Z: Sizes, H, L>(
        &self,
        port: u16,
        tls: Option<TlsConfig>,
    ) -> io::Result<Bound<'s, H>>
    where
        H: Handler<L>,
        L: Default,
    {
        match self.backend {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Backend::Epoll => self
                .bind_reactor::<peregrine_epoll::Epoll, Z, H, L>(port, tls, "epoll")
                .map(|(bound, _)| bound),
            #[cfg(not(any(target_os = "linux", target_os = "android")))]
            Backend::Epoll => Err(epoll_elsewhere()),
            #[cfg(any(
                target_os = "macos",
                target_os = "ios",
                target_os = "freebsd",
                target_os = "dragonfly"
            ))]
            Backend::Kqueue => self
                .bind_reactor::<peregrine_kqueue::Kqueue, Z, H, L>(port, tls, "kqueue")
                .map(|(bound, _)| bound),
            Backend::Std => {
                let scheme = scheme(&tls);
                let server = self.std_server::<Z>(port, tls)?;
                Ok(std_bound(server, self.model.unwrap_or_default(), scheme))
            }
        }
    }

    /// `server`, bound on `port`, with the settings every backend shares
    /// set from these options: workers, grace period, configuration, and
    /// TLS if `tls` is given (HTTP/2 then by ALPN alone), else `--h2c`;
    /// only the first server takes the signals.
    fn configure<S: ServerBuilder>(&self, server: S, port: u16, tls: Option<TlsConfig>) -> S {
        let mut server = server.handle_signals(port == self.port);
        if let Some(workers) = self.workers {
            server = server.workers(workers);
        }
        if let Some(grace) = self.grace {
            server = server.grace_period(grace);
        }
        if let Some(config) = self.effective_config() {
            server = server.config(config);
        }
        match tls {
            Some(tls) => server.tls(tls),
            None => server.h2c(self.h2c),
        }
    }

    /// A server of the portable backend on `port`, configured by these
    /// options (over TLS if `tls` is given), not yet running.
    fn std_server<Z: Sizes>(
        &self,
        port: u16,
        tls: Option<TlsConfig>,
    ) -> io::Result<peregrine_std::ServerWith<Z>> {
        let server = peregrine_std::ServerWith::<Z>::bind(("0.0.0.0", port))?
            .model(self.model.unwrap_or_default());
        Ok(self.configure(server, port, tls))
    }

    /// A server of a readiness backend (epoll, kqueue), which share their
    /// builder, on `port`, and its sender: the shared settings, and those
    /// of a worker holding many connections (`--buffers`,
    /// `--max-connections`) and of its listeners (`--backlog`, `--pin`,
    /// `--accept-threads`).
    #[cfg(unix)]
    fn bind_reactor<'s, P, Z: Sizes, H, L>(
        &self,
        port: u16,
        tls: Option<TlsConfig>,
        label: &str,
    ) -> io::Result<(Bound<'s, H>, peregrine_driver::Sender)>
    where
        P: peregrine_driver::reactor::Poller + 's,
        H: Handler<L>,
        L: Default,
    {
        let scheme = scheme(&tls);
        let server = peregrine_driver::Server::<P, Z>::bind(("0.0.0.0", port))?;
        let mut server = self
            .configure(server, port, tls)
            .pin_workers(self.pin)
            .accept_threads(self.accept_threads);
        if let Some(buffers) = self.buffers {
            server = server.buffers(buffers);
        }
        if let Some(connections) = self.max_connections {
            server = server.max_connections(connections);
        }
        if let Some(backlog) = self.backlog {
            server = server.backlog(backlog);
        }
        let sender = server.sender();
        Ok((bound(server, scheme, label), sender))
    }

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

/// The URL scheme of a server over `tls`, if given.
fn scheme(tls: &Option<TlsConfig>) -> &'static str {
    if tls.is_some() { "https" } else { "http" }
}

/// A server of any backend, serving `scheme`, ready to serve a handler;
/// `backend` names it in the log line.
fn bound<'s, S, H, L>(server: S, scheme: &str, backend: &str) -> Bound<'s, H>
where
    S: ServerBuilder + Send + 's,
    H: Handler<L>,
    L: Default,
{
    Bound {
        what: format!("{scheme}://{} ({backend})", server.local_addr()),
        stop: server.shutdown_handle(),
        run: Box::new(move |handler: &H| server.run(handler)),
    }
}

/// A server of the portable backend in `model`, serving `scheme`, ready
/// to serve a handler.
fn std_bound<'s, Z: Sizes, H, L>(
    server: peregrine_std::ServerWith<Z>,
    model: peregrine_std::Model,
    scheme: &str,
) -> Bound<'s, H>
where
    H: Handler<L>,
    L: Default,
{
    bound(server, scheme, &format!("std, {model:?}"))
}

/// Why `--backend epoll` fails where there is no epoll.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn epoll_elsewhere() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "the epoll backend is Linux-only",
    )
}

/// Serves `handler` on every server until all have stopped: one runs on
/// this thread, several each on a thread of their own, where the first
/// to stop (signalled, shut down or failing) stops the others. Returns
/// their statistics summed, or the first error.
///
/// # Errors
///
/// The first server's error, or one for a server thread that panicked.
pub fn serve_together<H>(servers: Vec<Bound<'_, H>>, handler: &H) -> io::Result<Stats>
where
    H: Sync,
{
    if servers.len() == 1 {
        let server = servers.into_iter().next().expect("one server");
        return (server.run)(handler);
    }
    let stops: Vec<ShutdownHandle> = servers.iter().map(|server| server.stop.clone()).collect();
    let stop_all = || stops.iter().for_each(ShutdownHandle::shutdown);
    std::thread::scope(|scope| {
        let threads: Vec<_> = servers
            .into_iter()
            .map(|server| {
                scope.spawn(|| {
                    let result = (server.run)(handler);
                    stop_all();
                    result
                })
            })
            .collect();
        let mut total = Stats::default();
        let mut failure = None;
        for thread in threads {
            match thread.join() {
                Ok(Ok(stats)) => total += stats,
                Ok(Err(error)) => failure = failure.or(Some(error)),
                Err(_) => failure = failure.or(Some(io::Error::other("a server panicked"))),
            }
        }
        failure.map_or(Ok(total), Err)
    })
}
