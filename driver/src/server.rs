//! The server builder every backend exposes, generic over its poller.

use std::io;
use std::marker::PhantomData;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::Ordering::SeqCst;

use peregrine_core::{DefaultSizes, Handler, Sizes};

use crate::builder::{ServerBuilder, Settings};
use crate::reactor::{self, Poller, WorkerSettings};
use crate::stats::Stats;
use crate::transport::Plain;
use crate::unix;

/// A server bound to an address, configured with builder methods, run
/// with [`run`](Self::run).
///
/// The methods every backend shares ([`workers`](Self::workers),
/// [`config`](Self::config), [`grace_period`](Self::grace_period),
/// [`h2c`](Self::h2c), [`shutdown_handle`](Self::shutdown_handle),
/// [`sender`](Self::sender), ...) are those of [`ServerBuilder`], here as
/// inherent methods too; the others ([`max_connections`](Self::max_connections),
/// [`buffers`](Self::buffers), [`backlog`](Self::backlog),
/// [`accept_threads`](Self::accept_threads),
/// [`pin_workers`](Self::pin_workers)) are this builder's own (see
/// [`builder`](crate::builder) for why).
///
/// `Z`, the [`Sizes`], sizes each connection's buffers (while it has
/// bytes in flight), `READ` and `WRITE` bytes, and its header table,
/// `MAX_HEADERS` fields (see [`Capacity`](peregrine_core::Capacity)).
/// Memory per worker: when it starts, `(buffers + 1) × (READ + WRITE) +
/// buffers × (2,816 + 16 × MAX_HEADERS) + 2 × mailbox_capacity` bytes (buffer pairs, and as many
/// whole connection states for the connections in use); then, as
/// connections arrive, at most 180 bytes per connection held at once
/// (committed in doubling steps and kept for the next ones, never more
/// than `max_connections` allow), and `2,816 + 16 × MAX_HEADERS` bytes
/// more per connection in use beyond `buffers` (idle WebSockets, parked
/// streams) while it is.
pub struct Server<P, Z: Sizes = DefaultSizes> {
    /// The first listener, bound at once so the address is known.
    listener: OwnedFd,
    /// The address bound.
    addr: SocketAddr,
    /// The settings every backend shares.
    settings: Settings,
    /// Connections per worker (`None`: from the descriptor limit).
    max_connections: Option<usize>,
    /// Buffer pairs per worker.
    buffers: usize,
    /// Pin worker i to CPU i.
    pin: bool,
    /// Dedicated accept threads (0: each worker accepts for itself).
    accept_threads: usize,
    /// Each listener's backlog, if not the default.
    backlog: Option<i32>,
    /// The readiness API, and the sizes of the connections (types only).
    poller: PhantomData<fn() -> (P, Z)>,
}

impl<P: Poller, Z: Sizes> Server<P, Z> {
    /// Binds `addr` (port 0 picks a free port; see
    /// [`local_addr`](Self::local_addr)). Defaults: one worker per CPU,
    /// as many connections per worker as the descriptor limit allows (see
    /// [`max_connections`](Self::max_connections)), 256 buffer pairs per
    /// worker,
    /// [`Config::DEFAULT`](peregrine_core::Config::DEFAULT), a 10 s grace period, SIGINT/SIGTERM handled.
    ///
    /// Each worker (or accept thread) gets a listener of its own on the
    /// port, all in one `SO_REUSEPORT` group, but the port must be free:
    /// an address another server or program already serves fails with
    /// [`io::ErrorKind::AddrInUse`] rather than share its connections (see
    /// [`unix::first_listener`] for how, and the window left outside
    /// Linux).
    ///
    /// # Errors
    ///
    /// If `addr` resolves to nothing, is in use, or cannot be bound.
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<Self> {
        let addr = addr
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address"))?;
        let listener = unix::first_listener(addr)?;
        let addr = unix::local_addr(listener.as_fd())?;
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Server {
            listener,
            addr,
            settings: Settings::new(workers),
            max_connections: None,
            buffers: 256,
            pin: false,
            accept_threads: 0,
            backlog: None,
            poller: PhantomData,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    crate::builder_methods!(inherent);

    /// Sets how many connections *each worker* holds at once (at least
    /// 1). Slots are committed as connections arrive, so a large limit
    /// costs nothing until it is used.
    ///
    /// By default `run` raises the process's soft descriptor limit
    /// (`RLIMIT_NOFILE`) to its hard limit and lets each worker hold as
    /// many connections as that leaves room for, after a small reserve for
    /// listeners, pollers, wakers and files.
    ///
    /// A worker that holds its maximum, or finds the process out of
    /// descriptors when it accepts, closes the connection idle longest (an
    /// HTTP keep-alive connection between requests, or an HTTP/2 one with
    /// no stream open; never one with a request in flight, a response
    /// being sent, or a WebSocket) and takes
    /// the new one in; the count is [`Stats::idle_evicted`]. With none
    /// idle, new connections wait in the listen backlog until one closes.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.max_connections = Some(connections.max(1));
        self
    }

    /// Sets how many connections each listener (one per worker, or per
    /// accept thread) holds before they are accepted: 1,024 by default
    /// ([`unix::DEFAULT_BACKLOG`]), and at most what the system allows
    /// (Linux: `net.core.somaxconn`). Beyond it, a connection's SYN is
    /// dropped and its client tries again a second later: a server that
    /// expects thousands of connections at once wants more.
    pub fn backlog(mut self, connections: u32) -> Self {
        self.backlog = Some(i32::try_from(connections).unwrap_or(i32::MAX));
        self
    }

    /// Sets how many buffer pairs each worker lends to connections with
    /// bytes in flight (idle keep-alive connections hold none).
    pub fn buffers(mut self, buffers: usize) -> Self {
        self.buffers = buffers.max(1);
        self
    }

    /// Pins worker i to CPU i (Linux).
    pub fn pin_workers(mut self, pin: bool) -> Self {
        self.pin = pin;
        self
    }

    /// Accepts on `threads` dedicated threads that hand each connection to
    /// the least-loaded worker, instead of the default: one `SO_REUSEPORT`
    /// listener per worker, where the kernel spreads connections and none
    /// is handed between threads. 0 restores the default.
    pub fn accept_threads(mut self, threads: usize) -> Self {
        self.accept_threads = threads;
        self
    }

    /// Runs the server until it shuts down, then returns its statistics.
    /// `handler` is shared by all workers; each creates its own state with
    /// [`Handler::new_local`].
    pub fn run<H, L>(self, handler: H) -> io::Result<Stats>
    where
        H: Handler<L>,
        L: Default,
    {
        let config = self.settings.connection_config::<Z>()?;
        let handle = self.settings.shutdown_handle();
        let hub = &handle.shared;
        let workers = self.settings.workers();
        let fd_limit = unix::raise_fd_limit();
        let max_connections = self.max_connections.unwrap_or_else(|| {
            unix::default_max_connections(fd_limit, workers + self.accept_threads)
        });
        let started = hub.start(workers, self.settings.mailbox_capacity(), max_connections);
        if !started {
            // `run` takes the builder, so it runs once per shared state.
            return Err(io::Error::other("the server was already started"));
        }
        // One listener per worker, or per accept thread.
        let handoff = self.accept_threads > 0;
        let count = if handoff {
            self.accept_threads
        } else {
            workers
        };
        let mut listeners = Vec::with_capacity(count);
        listeners.push(self.listener);
        for _ in 1..count {
            listeners.push(unix::listener(self.addr, true)?);
        }
        if let Some(backlog) = self.backlog {
            for listener in &listeners {
                unix::set_backlog(listener.as_fd(), backlog)?;
            }
        }
        let (worker_listeners, accept_listeners) = if handoff {
            (Vec::new(), listeners)
        } else {
            (listeners, Vec::new())
        };
        let signals = if self.settings.handles_signals() {
            Some(crate::signals::watch(handle.clone())?)
        } else {
            None
        };
        let settings = WorkerSettings {
            id: 0,
            config,
            max_connections,
            buffers: self.buffers,
            grace_ms: self.settings.grace_ms(),
            pin: self.pin,
            handoff,
        };
        let handler = &handler;
        #[cfg(feature = "tls")]
        let tls = self.settings.tls();
        #[cfg(not(feature = "tls"))]
        let tls = None::<&crate::transport::Plain>;
        let result = std::thread::scope(|scope| {
            let mut worker_listeners = worker_listeners.into_iter();
            let workers: Vec<_> = (0..workers)
                .map(|id| {
                    let listener = worker_listeners.next();
                    let shared = Arc::clone(hub);
                    let stop = handle.clone();
                    let settings = WorkerSettings { id, ..settings };
                    std::thread::Builder::new()
                        .name(format!("peregrine-worker-{id}"))
                        .spawn_scoped(scope, move || {
                            let result = match tls {
                                Some(tls) => reactor::run::<P, _, H, L, Z>(
                                    settings, listener, handler, tls, shared,
                                ),
                                None => reactor::run::<P, _, H, L, Z>(
                                    settings, listener, handler, &Plain, shared,
                                ),
                            };
                            if result.is_err() {
                                // One worker failing stops the others.
                                stop.shutdown();
                            }
                            result
                        })
                })
                .collect::<io::Result<_>>()?;
            // Counted before any starts: a worker shutting down waits for
            // every accept thread to hand over the listen backlog.
            let count = accept_listeners.len();
            hub.acceptors.store(count, SeqCst);
            let mut acceptors = Vec::with_capacity(count);
            for (id, listener) in accept_listeners.into_iter().enumerate() {
                let shared = Arc::clone(hub);
                let spawned = std::thread::Builder::new()
                    .name(format!("peregrine-accept-{id}"))
                    .spawn_scoped(scope, move || crate::accept::run(listener, shared));
                match spawned {
                    Ok(acceptor) => acceptors.push(acceptor),
                    Err(error) => {
                        // Those not started will never finish: uncount
                        // them, and stop the server.
                        hub.acceptors.fetch_sub(count - id, SeqCst);
                        handle.shutdown();
                        crate::accept::wake_workers(hub);
                        return Err(error);
                    }
                }
            }
            let mut first_error = None;
            for acceptor in acceptors {
                let result = acceptor
                    .join()
                    .unwrap_or_else(|_| Err(io::Error::other("an accept thread panicked")));
                if let Err(error) = result {
                    handle.shutdown();
                    first_error.get_or_insert(error);
                }
            }
            for worker in workers {
                let result = worker
                    .join()
                    .unwrap_or_else(|_| Err(io::Error::other("a worker panicked")));
                if let Err(error) = result {
                    first_error.get_or_insert(error);
                }
            }
            first_error.map_or(Ok(()), Err)
        });
        if let Some(signals) = signals {
            signals.stop();
        }
        result.map(|()| handle.stats())
    }
}

impl<P: Poller, Z: Sizes> ServerBuilder for Server<P, Z> {
    fn bind(addr: impl ToSocketAddrs) -> io::Result<Self> {
        Server::bind(addr)
    }

    fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    fn settings(&self) -> &Settings {
        &self.settings
    }

    fn settings_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }

    fn run<H, L>(self, handler: H) -> io::Result<Stats>
    where
        H: Handler<L>,
        L: Default,
    {
        Server::run(self, handler)
    }
}
