//! The builder, and the threads `run` starts for each [`Model`].

use std::io;
use std::marker::PhantomData;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::{self, Scope, ScopedJoinHandle, Thread};
use std::time::Duration;

use peregrine_core::{Config, Handler, Sizes};
use peregrine_driver::clock::Clock;
use peregrine_driver::{ServerBuilder, Settings, Stats, Waker};

use crate::socket::POLL_MS;
use crate::worker::{Context, Lane, Worker};

/// Pool threads when [`workers`](ServerWith::workers) is not set.
pub const DEFAULT_POOL_THREADS: usize = 64;

/// How long the supervisor waits between rounds of waking threads blocked
/// in `accept` during a shutdown.
const WAKE_RETRY: Duration = Duration::from_millis(50);

/// How long connecting to the server's own port to wake an `accept` may
/// take.
const WAKE_CONNECT_TIMEOUT: Duration = Duration::from_millis(100);

/// How a server spreads connections over threads. Every model serves a
/// connection on one thread, with blocking calls, from its first byte to
/// its close; they differ in how many threads there are and who accepts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Model {
    /// One thread accepts a connection and serves it until it closes, then
    /// accepts the next: one connection at a time (a keep-alive client
    /// holds the server until it leaves or its idle timeout passes). For
    /// tools, tests and embedded use.
    Single,
    /// An accepting thread starts a thread for each connection, at most
    /// `max_threads` at once; beyond that the acceptor waits for one to
    /// finish, and new connections wait in the listen backlog. A thread's
    /// buffers are kept for the next one, but each connection pays for
    /// starting a thread.
    PerConnection {
        /// Connection threads running at once (at least 1).
        max_threads: usize,
    },
    /// [`workers`](ServerWith::workers) threads, started once, each
    /// accepting on the shared listener and serving what it accepted until
    /// it closes: at most that many connections at once, others wait in
    /// the backlog. Nothing is allocated per connection.
    #[default]
    Pool,
}

/// A server bound to an address, configured with builder methods, run
/// with [`run`](Self::run). It shares the epoll backend's builder code:
/// the settings every backend shares are those of [`ServerBuilder`]
/// (here as inherent methods too), so a program switches backends by
/// changing an import, and generic code takes `S: ServerBuilder`. Its own
/// method is [`model`](Self::model); `workers` sizes [`Model::Pool`]. See
/// [`builder`](crate::builder) for what it does with each shared setting,
/// and which of the epoll builder's methods it does not have.
///
/// `Z`, the [`Sizes`], sizes each thread's buffers, `READ` and `WRITE`
/// bytes, and its header table, `MAX_HEADERS` fields (see
/// [`Capacity`](peregrine_core::Capacity)). Memory: `READ + WRITE` bytes
/// per thread serving connections
/// (allocated when a pool thread starts, or the first time a
/// connection-thread slot is used), plus its stack.
pub struct ServerWith<Z: Sizes> {
    /// The listener, bound at once so the address is known.
    listener: TcpListener,
    /// The address bound.
    addr: SocketAddr,
    /// The settings every backend shares (`workers`: the pool's threads).
    settings: Settings,
    /// How connections are spread over threads.
    model: Model,
    /// The sizes of the connections (a type only).
    sizes: PhantomData<fn() -> Z>,
}

impl<Z: Sizes> ServerWith<Z> {
    /// Binds `addr` (port 0 picks a free port; see
    /// [`local_addr`](Self::local_addr)). Defaults: [`Model::Pool`] of
    /// [`DEFAULT_POOL_THREADS`] threads, [`Config::DEFAULT`], a 10 s grace
    /// period, SIGINT/SIGTERM handled (on Unix).
    ///
    /// # Errors
    ///
    /// If `addr` resolves to nothing or cannot be bound: an address
    /// another server or program already serves fails with
    /// [`io::ErrorKind::AddrInUse`] (the one listener is bound without
    /// `SO_REUSEPORT`, so it never shares the port).
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<Self> {
        let addr = addr
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address"))?;
        let listener = listen(addr)?;
        let addr = listener.local_addr()?;
        Ok(ServerWith {
            listener,
            addr,
            settings: Settings::new(DEFAULT_POOL_THREADS),
            model: Model::default(),
            sizes: PhantomData,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    peregrine_driver::builder_methods!(inherent);

    /// Sets how connections are spread over threads (default
    /// [`Model::Pool`]).
    pub fn model(mut self, model: Model) -> Self {
        self.model = model;
        self
    }

    /// Runs the server until it shuts down, then returns its statistics.
    /// `handler` is shared by all threads; each thread that serves
    /// connections creates its own state with [`Handler::new_local`] (a
    /// pool thread once; under [`Model::PerConnection`], each connection's
    /// thread, numbered by its slot `0..max_threads`).
    ///
    /// # Errors
    ///
    /// If the signal handlers or a thread cannot be started (the threads
    /// already started are stopped first), or if a thread panicked.
    pub fn run<H, L>(self, handler: H) -> io::Result<Stats>
    where
        H: Handler<L>,
        L: Default,
    {
        let ServerWith {
            listener,
            addr,
            settings,
            model,
            sizes: _,
        } = self;
        #[cfg(not(feature = "tls"))]
        if settings.serves_tls() {
            // Set through a driver built with TLS for another crate.
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "HTTPS: peregrine-std is built without its `tls` feature",
            ));
        }
        let config = settings.connection_config::<Z>()?;
        let handle = settings.shutdown_handle();
        let workers = settings.workers();
        let mailbox_capacity = settings.mailbox_capacity();
        #[cfg(feature = "tls")]
        let mut settings = settings;
        #[cfg(feature = "tls")]
        let tls = settings.take_tls();
        // One statistics slot per thread serving connections, known now
        // that the model and the thread count are final; and with a
        // sender, a mailbox and an alarm for each.
        let slots = slots(model, workers);
        let sized = if handle.has_sender() {
            handle.set_slots_with_mailboxes(slots, mailbox_capacity)
        } else {
            handle.set_slots(slots)
        };
        if !sized {
            return Err(io::Error::other("the server was already started"));
        }
        // Each slot's alarm is made when a thread first takes the slot.
        let alarms = if handle.has_sender() {
            (0..slots).map(|_| OnceLock::new()).collect()
        } else {
            Box::default()
        };
        // As the readiness backends do: a thread per connection may hold
        // more sockets than the usual soft limit (1,024) allows.
        #[cfg(unix)]
        peregrine_driver::unix::raise_fd_limit();
        let signals = if settings.handles_signals() {
            Some(peregrine_driver::signals::watch(handle.clone())?)
        } else {
            None
        };
        let ctx = Context {
            config: Config {
                max_requests_per_wakeup: u32::MAX,
                ..config
            },
            clock: Clock::new(),
            grace_ms: settings.grace_ms(),
            handle: handle.clone(),
            accept_turn: Mutex::new(()),
            accepting: AtomicUsize::new(0),
            shutdown_since: AtomicU64::new(u64::MAX),
            wake_peers: Mutex::new(Vec::new()),
            alarms,
            #[cfg(feature = "tls")]
            tls,
        };
        handle.add_waker(Arc::new(Unpark(thread::current())));
        let result = thread::scope(|scope| {
            let mut threads = Vec::new();
            let started = start::<H, L, Z>(
                scope,
                &mut threads,
                &ctx,
                &handler,
                Arc::new(listener),
                model,
                workers,
            );
            if started.is_err() {
                // Stop the threads that did start.
                handle.shutdown();
            }
            supervise(&ctx, addr, &threads);
            let mut first_error = started.err();
            for thread in threads {
                let result = thread
                    .join()
                    .unwrap_or_else(|_| Err(io::Error::other("a server thread panicked")));
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

impl<Z: Sizes> ServerBuilder for ServerWith<Z> {
    fn bind(addr: impl ToSocketAddrs) -> io::Result<Self> {
        ServerWith::bind(addr)
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
        ServerWith::run(self, handler)
    }
}

impl<Z: Sizes> std::fmt::Debug for ServerWith<Z> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerWith")
            .field("addr", &self.addr)
            .field("model", &self.model)
            .field("settings", &self.settings)
            .finish()
    }
}

/// Statistics slots a model needs: one per thread that serves
/// connections.
fn slots(model: Model, workers: usize) -> usize {
    match model {
        Model::Single => 1,
        Model::PerConnection { max_threads } => max_threads.max(1),
        Model::Pool => workers,
    }
}

/// A blocking listener on `addr`. On Unix, the driver's (backlog 1,024,
/// `SO_REUSEADDR`, close-on-exec); elsewhere std's.
fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    #[cfg(unix)]
    {
        let listener = TcpListener::from(peregrine_driver::unix::listener(addr, false)?);
        // Accepted sockets inherit this on some systems: both block.
        listener.set_nonblocking(false)?;
        Ok(listener)
    }
    #[cfg(not(unix))]
    {
        TcpListener::bind(addr)
    }
}

/// Wakes the thread that runs the server.
struct Unpark(Thread);

impl Waker for Unpark {
    fn wake(&self) {
        self.0.unpark();
    }
}

/// A server thread, returning its error if it has one.
type ServerThread<'scope> = ScopedJoinHandle<'scope, io::Result<()>>;

/// Starts the threads of `model` into `handles` (those that started, if
/// one fails to).
fn start<'scope, 'env, H, L, Z: Sizes>(
    scope: &'scope Scope<'scope, 'env>,
    handles: &mut Vec<ServerThread<'scope>>,
    ctx: &'env Context,
    handler: &'env H,
    listener: Arc<TcpListener>,
    model: Model,
    workers: usize,
) -> io::Result<()>
where
    H: Handler<L>,
    L: Default,
{
    match model {
        Model::Single | Model::Pool => {
            let count = if model == Model::Single { 1 } else { workers };
            handles.reserve(count);
            for slot in 0..count {
                let listener = Arc::clone(&listener);
                let thread = thread::Builder::new()
                    .name(format!("peregrine-worker-{slot}"))
                    .spawn_scoped(scope, move || {
                        let lane = Lane::<Z>::new(slot);
                        Worker::<H, L, Z>::new(ctx, handler, lane, Some(listener)).run();
                        Ok(())
                    })?;
                handles.push(thread);
            }
        }
        Model::PerConnection { max_threads } => {
            let thread = thread::Builder::new()
                .name("peregrine-accept".into())
                .spawn_scoped(scope, move || {
                    let lanes = Lanes::<Z>::new(max_threads.max(1));
                    let panicked = AtomicBool::new(false);
                    thread::scope(|connections| {
                        accept_per_connection::<H, L, Z>(
                            connections,
                            ctx,
                            handler,
                            &listener,
                            &lanes,
                            &panicked,
                        );
                        // This thread accepts no more: close the port now,
                        // while the connection threads finish.
                        drop(listener);
                    });
                    if panicked.load(SeqCst) {
                        Err(io::Error::other("a connection thread panicked"))
                    } else {
                        Ok(())
                    }
                })?;
            handles.push(thread);
        }
    }
    Ok(())
}

/// Waits for the server's threads to finish; once shutdown begins, wakes
/// the thread blocked in `accept` (there is at most one) by connecting to
/// the server's own port, until none is left there. A connect that fails
/// (the process may be out of descriptors) is tried again.
fn supervise(ctx: &Context, addr: SocketAddr, threads: &[ServerThread<'_>]) {
    while !threads.iter().all(ScopedJoinHandle::is_finished) {
        if ctx.handle.is_shutting_down() {
            for _ in 0..ctx.accepting.load(SeqCst) {
                wake_accept(ctx, addr);
            }
            thread::park_timeout(WAKE_RETRY);
        } else {
            // Woken by the shutdown; the timeout only bounds a missed
            // wake-up.
            thread::park_timeout(Duration::from_secs(1));
        }
    }
}

/// Makes one connection to the server's own port, so that a thread blocked
/// in `accept` returns (and, seeing the shutdown, closes it unserved and
/// takes what else waits in the backlog). Its address is recorded before
/// any thread can look it up: the lock is held across the connect.
fn wake_accept(ctx: &Context, addr: SocketAddr) {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let mut peers = ctx.wake_peers.lock().unwrap_or_else(|e| e.into_inner());
    // Refused once the listener is closed: nobody is left to wake.
    let connected =
        TcpStream::connect_timeout(&SocketAddr::new(ip, addr.port()), WAKE_CONNECT_TIMEOUT);
    if let Ok(local) = connected.and_then(|stream| stream.local_addr()) {
        peers.push(local);
    }
}

/// The lanes of connection threads: at most one thread per lane, so their
/// number caps the threads.
struct Lanes<Z: Sizes> {
    /// Lanes no thread holds; allocated for all of them, so putting one
    /// back never allocates.
    free: Mutex<Vec<Lane<Z>>>,
    /// Signalled when a lane comes back.
    freed: Condvar,
}

impl<Z: Sizes> Lanes<Z> {
    /// `count` lanes, slots `0..count` (slot 0 handed out first).
    fn new(count: usize) -> Self {
        Lanes {
            free: Mutex::new((0..count).rev().map(Lane::new).collect()),
            freed: Condvar::new(),
        }
    }

    /// A free lane, waiting for one if need be; `None` once the grace
    /// period after a shutdown is over (until then, connections left in
    /// the listen backlog are still served).
    fn take(&self, ctx: &Context) -> Option<Lane<Z>> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if ctx.grace_is_over(ctx.clock.now()) {
                return None;
            }
            if let Some(lane) = free.pop() {
                return Some(lane);
            }
            free = self
                .freed
                .wait_timeout(free, Duration::from_millis(POLL_MS))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Gives a lane back.
    fn put(&self, lane: Lane<Z>) {
        self.free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(lane);
        self.freed.notify_one();
    }
}

/// A lane on its way to a connection thread; given back if dropped there
/// (the thread could not be started).
struct Loan<'l, Z: Sizes> {
    /// The lane, until given back.
    lane: Option<Lane<Z>>,
    /// Where it goes back.
    lanes: &'l Lanes<Z>,
}

impl<Z: Sizes> Drop for Loan<'_, Z> {
    fn drop(&mut self) {
        if let Some(lane) = self.lane.take() {
            self.lanes.put(lane);
        }
    }
}

/// The accepting thread of [`Model::PerConnection`]: takes a free lane,
/// accepts, and starts a thread serving the connection on that lane.
fn accept_per_connection<'scope, 'env, H, L, Z: Sizes>(
    scope: &'scope Scope<'scope, 'env>,
    ctx: &'env Context,
    handler: &'env H,
    listener: &TcpListener,
    lanes: &'env Lanes<Z>,
    panicked: &'env AtomicBool,
) where
    H: Handler<L>,
    L: Default,
{
    while let Some(lane) = lanes.take(ctx) {
        let mut loan = Loan {
            lane: Some(lane),
            lanes,
        };
        let Some((stream, peer)) = ctx.accept(listener) else {
            return;
        };
        let spawned = thread::Builder::new()
            .name("peregrine-connection".into())
            .spawn_scoped(scope, move || {
                let Some(lane) = loan.lane.take() else {
                    return;
                };
                let slot = lane.slot;
                let served = catch_unwind(AssertUnwindSafe(|| {
                    let mut worker = Worker::<H, L, Z>::new(ctx, handler, lane, None);
                    worker.serve(stream, peer);
                    worker.into_lane()
                }));
                let lane = served.unwrap_or_else(|_| {
                    // The lane went down with the thread's state (its
                    // statistics too); a fresh one keeps the cap.
                    panicked.store(true, SeqCst);
                    Lane::new(slot)
                });
                lanes.put(lane);
            });
        if spawned.is_err() {
            // Out of threads or memory: the connection is closed (dropped
            // with the closure, which gives the lane back); retry later.
            thread::sleep(Duration::from_millis(POLL_MS));
        }
    }
}
