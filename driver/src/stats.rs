//! Server statistics and the shutdown handle, shared by all workers.

#[cfg(unix)]
use std::collections::VecDeque;
use std::sync::OnceLock;
#[cfg(unix)]
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use peregrine_core::Counters;

/// Connections an accept thread may leave waiting for one worker.
#[cfg(unix)]
pub(crate) const HANDOFF_CAPACITY: usize = 1024;

/// Something that interrupts a worker's wait.
pub trait Waker: Send + Sync {
    /// Wakes the worker.
    fn wake(&self);
}

/// Totals over a server's life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Connections accepted.
    pub connections_accepted: u64,
    /// Connections open now.
    pub connections_open: u64,
    /// Requests whose head was complete.
    pub requests: u64,
    /// Responses by class: `[1xx, 2xx, 3xx, 4xx, 5xx]`.
    pub responses: [u64; 5],
    /// Requests refused as malformed or over a limit.
    pub parse_errors: u64,
    /// Requests that stalled (408) and peers that stopped reading.
    pub timeouts: u64,
    /// WebSocket messages posted through a [`Sender`](crate::Sender) that
    /// reached their worker but no connection: it was gone or closing,
    /// its write buffer was full, or no buffer was free to write from.
    pub messages_undelivered: u64,
    /// Idle keep-alive connections (or, with none idle, connections silent
    /// since their accept for a tenth of the header timeout) closed to
    /// make room for a new one, when a worker held all the connections it
    /// may
    /// ([`Server::max_connections`](crate::Server::max_connections)) or
    /// the process ran out of descriptors. Always 0 on a backend that
    /// serves a connection per thread.
    pub idle_evicted: u64,
    /// Connections holding part of a request head, answered `408` and
    /// closed before their header timeout because every buffer pair was
    /// lent and another connection waited for one (also counted in
    /// `timeouts`). Always 0 on a backend that serves a connection per
    /// thread.
    pub heads_shed: u64,
    /// Handler calls that panicked. Each panic is contained: it ends the
    /// request (`500` if nothing of its response was sent) or the
    /// connection it was serving, and the worker goes on.
    pub handler_panics: u64,
    /// Responses whose file ended before the region the handler named
    /// did (the file was shorter than said, or shrank while being sent):
    /// the connection was closed after the bytes there were.
    pub files_cut_short: u64,
}

/// One worker's counters, written by it alone.
#[derive(Debug, Default)]
pub(crate) struct WorkerCounters {
    /// Connections accepted.
    accepted: AtomicU64,
    /// Connections open.
    open: AtomicU64,
    /// Requests.
    requests: AtomicU64,
    /// Responses by class.
    responses: [AtomicU64; 5],
    /// Protocol errors.
    parse_errors: AtomicU64,
    /// Timeouts.
    timeouts: AtomicU64,
    /// Idle connections closed to make room.
    idle_evicted: AtomicU64,
    /// Partial heads sent away for their buffers.
    heads_shed: AtomicU64,
    /// Handler panics caught.
    handler_panics: AtomicU64,
    /// File regions cut short by their file's end.
    files_cut_short: AtomicU64,
}

impl WorkerCounters {
    /// Publishes a worker's totals (single writer: plain stores suffice).
    pub(crate) fn publish(&self, accepted: u64, open: u64, totals: &Counters) {
        self.accepted.store(accepted, Relaxed);
        self.open.store(open, Relaxed);
        self.requests.store(totals.requests, Relaxed);
        for (slot, value) in self.responses.iter().zip(totals.responses) {
            slot.store(value, Relaxed);
        }
        self.parse_errors.store(totals.parse_errors, Relaxed);
        self.timeouts.store(totals.timeouts, Relaxed);
        self.handler_panics.store(totals.handler_panics, Relaxed);
        self.files_cut_short.store(totals.files_cut_short, Relaxed);
    }

    /// Publishes how many idle connections a worker closed to make room,
    /// and how many partial heads it sent away for their buffers.
    #[cfg(unix)]
    pub(crate) fn publish_shedding(&self, evicted: u64, heads_shed: u64) {
        self.idle_evicted.store(evicted, Relaxed);
        self.heads_shed.store(heads_shed, Relaxed);
    }

    /// Adds this worker's numbers to `stats`.
    fn add_to(&self, stats: &mut Stats) {
        stats.connections_accepted += self.accepted.load(Relaxed);
        stats.connections_open += self.open.load(Relaxed);
        stats.requests += self.requests.load(Relaxed);
        for (total, slot) in stats.responses.iter_mut().zip(&self.responses) {
            *total += slot.load(Relaxed);
        }
        stats.parse_errors += self.parse_errors.load(Relaxed);
        stats.timeouts += self.timeouts.load(Relaxed);
        stats.idle_evicted += self.idle_evicted.load(Relaxed);
        stats.heads_shed += self.heads_shed.load(Relaxed);
        stats.handler_panics += self.handler_panics.load(Relaxed);
        stats.files_cut_short += self.files_cut_short.load(Relaxed);
    }
}

/// A connection accepted by an accept thread, on its way to a worker.
#[cfg(unix)]
pub(crate) type Accepted = (std::os::fd::OwnedFd, Option<std::net::SocketAddr>);

/// Where accept threads leave connections for one worker.
#[cfg(unix)]
pub(crate) struct Handoff {
    /// Connections not yet taken, allocated once.
    pub(crate) queue: Mutex<VecDeque<Accepted>>,
    /// Connections the worker holds or is about to: what "least loaded"
    /// compares.
    pub(crate) load: AtomicUsize,
    /// Wakes the worker; set when it starts.
    pub(crate) waker: OnceLock<Arc<dyn Waker>>,
}

/// One part per worker (or per statistics slot), sized once, when the
/// server starts: until then there are none. Handles taken from a builder
/// share it before its number of workers is final, so it is never
/// replaced, only filled in.
pub(crate) struct PerWorker<T>(OnceLock<Box<[T]>>);

impl<T> PerWorker<T> {
    /// None yet.
    const fn new() -> Self {
        PerWorker(OnceLock::new())
    }

    /// Sets the parts; `false` (and `parts` dropped) if they were set
    /// before.
    fn set(&self, parts: Box<[T]>) -> bool {
        self.0.set(parts).is_ok()
    }

    /// All parts (none before they are set).
    fn as_slice(&self) -> &[T] {
        self.0.get().map_or(&[], |parts| parts)
    }

    /// Part `index`, if the parts are set and it is one of them.
    #[inline]
    pub(crate) fn get(&self, index: usize) -> Option<&T> {
        self.as_slice().get(index)
    }

    /// The parts, in order.
    pub(crate) fn iter(&self) -> std::slice::Iter<'_, T> {
        self.as_slice().iter()
    }

    /// How many parts there are.
    #[cfg(unix)]
    pub(crate) fn len(&self) -> usize {
        self.as_slice().len()
    }
}

impl<'a, T> IntoIterator for &'a PerWorker<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// State the workers and every [`ShutdownHandle`] share.
///
/// Created once, when the builder is, and never replaced: a handle taken
/// from the builder at any point refers to the server that runs. What
/// depends on the number of workers (or on the mailbox capacity) is sized
/// by [`start`](Self::start), when the server runs.
pub(crate) struct Shared {
    /// Set once shutdown begins.
    shutdown: AtomicBool,
    /// Each worker's counters.
    pub(crate) workers: PerWorker<WorkerCounters>,
    /// Each worker's waker, registered when it starts.
    wakers: Mutex<Vec<Arc<dyn Waker>>>,
    /// Each worker's hand-off queue (accept-thread mode).
    #[cfg(unix)]
    pub(crate) handoffs: PerWorker<Handoff>,
    /// Each worker's mailbox for messages from other threads.
    #[cfg(unix)]
    pub(crate) mailboxes: PerWorker<crate::sender::Mailbox>,
    /// Accept threads still running (accept-thread mode): while any is,
    /// a worker shutting down may yet be handed connections from the
    /// listen backlog, so it does not finish.
    #[cfg(unix)]
    pub(crate) acceptors: AtomicUsize,
}

impl Shared {
    /// State with nothing sized yet: see [`start`](Self::start).
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Shared {
            shutdown: AtomicBool::new(false),
            workers: PerWorker::new(),
            wakers: Mutex::new(Vec::new()),
            #[cfg(unix)]
            handoffs: PerWorker::new(),
            #[cfg(unix)]
            mailboxes: PerWorker::new(),
            #[cfg(unix)]
            acceptors: AtomicUsize::new(0),
        })
    }

    /// Sizes the state for `workers` workers, each with a hand-off queue
    /// and a mailbox of `mailbox_capacity` bytes whose wake-up set has
    /// room for `connections` slots. Called once, before any worker starts;
    /// `false` if the state was sized before.
    #[cfg(unix)]
    pub(crate) fn start(
        &self,
        workers: usize,
        mailbox_capacity: usize,
        connections: usize,
    ) -> bool {
        self.size(workers, workers, mailbox_capacity, connections)
    }
    /// Sizes `workers` statistics slots and `queues` hand-off queues and
    /// mailboxes (none for a backend that runs its own threads); `false`
    /// if they were sized before.
    fn size(
        &self,
        workers: usize,
        queues: usize,
        mailbox_capacity: usize,
        connections: usize,
    ) -> bool {
        #[cfg(not(unix))]
        let _ = (queues, mailbox_capacity, connections);
        let counters = (0..workers).map(|_| WorkerCounters::default()).collect();
        if !self.workers.set(counters) {
            return false;
        }
        #[cfg(unix)]
        {
            self.handoffs.set(
                (0..queues)
                    .map(|_| Handoff {
                        queue: Mutex::new(VecDeque::with_capacity(HANDOFF_CAPACITY)),
                        load: AtomicUsize::new(0),
                        waker: OnceLock::new(),
                    })
                    .collect(),
            );
            self.mailboxes.set(
                (0..queues)
                    .map(|_| crate::sender::Mailbox::with_capacity(mailbox_capacity, connections))
                    .collect(),
            );
        }
        true
    }

    /// Registers a worker's waker; wakes it at once if shutdown has begun.
    pub(crate) fn add_waker(&self, waker: Arc<dyn Waker>) {
        let mut wakers = self.wakers.lock().unwrap_or_else(|e| e.into_inner());
        if self.shutdown.load(Relaxed) {
            waker.wake();
        }
        wakers.push(waker);
    }

    /// Whether shutdown has begun.
    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutdown.load(Relaxed)
    }
}

/// Stops a server gracefully, from any thread or from inside a handler,
/// and reads its statistics. Cheap to clone.
#[derive(Clone)]
pub struct ShutdownHandle {
    /// The server's shared state.
    pub(crate) shared: Arc<Shared>,
}

impl ShutdownHandle {
    /// A handle with `slots` statistics slots, for a backend that runs its
    /// own threads instead of the (Unix) reactor: each thread
    /// (or each thread at a time) publishes its totals into a slot of its
    /// own with [`publish`](Self::publish), and [`stats`](Self::stats)
    /// adds the slots up.
    pub fn new(slots: usize) -> Self {
        let handle = Self::without_slots();
        handle.set_slots(slots);
        handle
    }

    /// A handle whose statistics slots are set later, with
    /// [`set_slots`](Self::set_slots): for a builder that hands out
    /// handles before its number of threads is final. Every clone shares
    /// the slots once they are set; until then [`stats`](Self::stats)
    /// reads zeros and [`publish`](Self::publish) is ignored, while
    /// [`shutdown`](Self::shutdown) already works.
    pub fn without_slots() -> Self {
        ShutdownHandle {
            shared: Shared::new(),
        }
    }

    /// Sets the number of statistics slots of a handle made with
    /// [`without_slots`](Self::without_slots), for it and all its clones.
    /// Slots are set once: returns `false`, changing nothing, if they were
    /// set before.
    pub fn set_slots(&self, slots: usize) -> bool {
        self.shared.size(slots, 0, 0, 0)
    }

    /// Publishes the totals of statistics slot `slot` (ignored if there is
    /// no such slot): connections it accepted, connections open now, and
    /// its connections' counters added up. Each call replaces what the
    /// slot held, so one slot must have one writer at a time.
    pub fn publish(&self, slot: usize, accepted: u64, open: u64, totals: &Counters) {
        if let Some(counters) = self.shared.workers.get(slot) {
            counters.publish(accepted, open, totals);
        }
    }

    /// Registers `waker`, woken when shutdown begins (at once if it has).
    pub fn add_waker(&self, waker: Arc<dyn Waker>) {
        self.shared.add_waker(waker);
    }

    /// Begins a graceful shutdown: workers stop accepting, finish the
    /// requests in flight, close idle connections, and force-close what is
    /// left after the grace period. Returns at once; `run` returns when the
    /// workers are done.
    pub fn shutdown(&self) {
        let wakers = self.shared.wakers.lock().unwrap_or_else(|e| e.into_inner());
        self.shared.shutdown.store(true, Relaxed);
        for waker in wakers.iter() {
            waker.wake();
        }
    }

    /// Whether shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.shared.is_shutting_down()
    }

    /// The server's statistics so far (each worker publishes once per
    /// loop, so the numbers may trail by one batch of events).
    pub fn stats(&self) -> Stats {
        let mut stats = Stats::default();
        for worker in &self.shared.workers {
            worker.add_to(&mut stats);
        }
        #[cfg(unix)]
        for mailbox in &self.shared.mailboxes {
            stats.messages_undelivered += mailbox.undelivered.load(Relaxed);
        }
        stats
    }
}

impl std::fmt::Debug for ShutdownHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShutdownHandle")
            .field("shutting_down", &self.is_shutting_down())
            .finish()
    }
}
