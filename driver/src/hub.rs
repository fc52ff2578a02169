//! The server's control hub: the state every worker, accept thread and
//! handle shares (the shutdown flag, the workers' wakers, counters,
//! hand-off queues and mailboxes), and the [`ShutdownHandle`] that reaches
//! it from any thread.

#[cfg(unix)]
use std::collections::VecDeque;
use std::sync::OnceLock;
#[cfg(unix)]
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use peregrine_core::Counters;

use crate::mailbox::Mailbox;
use crate::stats::{Stats, WorkerCounters};
use crate::waker::Waker;

/// Connections an accept thread may leave waiting for one worker.
#[cfg(unix)]
pub(crate) const HANDOFF_CAPACITY: usize = 1024;

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
    /// Each worker's mailbox for messages from other threads (for a
    /// backend whose threads serve one connection at a time, each
    /// thread's: see [`ShutdownHandle::set_slots_with_mailboxes`]).
    pub(crate) mailboxes: PerWorker<Mailbox>,
    /// Whether a [`Sender`](crate::Sender) was made for this server: a
    /// backend that makes mailboxes only for a server that has a sender
    /// asks (see [`ShutdownHandle::has_sender`]).
    pub(crate) sender_taken: AtomicBool,
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
            mailboxes: PerWorker::new(),
            sender_taken: AtomicBool::new(false),
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
        self.size(
            workers,
            workers,
            Some(workers),
            mailbox_capacity,
            connections,
        )
    }

    /// Sizes `workers` statistics slots, `queues` hand-off queues and (if
    /// `open` gives their number) mailboxes of `mailbox_capacity` bytes,
    /// open, with wake-ups for `connections` slots each; or else one
    /// mailbox per slot, closed and unallocated until its owner opens it
    /// (a backend that runs its own threads has no queues). `false` if
    /// they were sized before.
    fn size(
        &self,
        workers: usize,
        queues: usize,
        open: Option<usize>,
        mailbox_capacity: usize,
        connections: usize,
    ) -> bool {
        #[cfg(not(unix))]
        let _ = queues;
        let counters = (0..workers).map(|_| WorkerCounters::default()).collect();
        if !self.workers.set(counters) {
            return false;
        }
        #[cfg(unix)]
        self.handoffs.set(
            (0..queues)
                .map(|_| Handoff {
                    queue: Mutex::new(VecDeque::with_capacity(HANDOFF_CAPACITY)),
                    load: AtomicUsize::new(0),
                    waker: OnceLock::new(),
                })
                .collect(),
        );
        let make = |_| match open {
            Some(_) => Mailbox::with_capacity(mailbox_capacity, connections),
            None => Mailbox::closed(mailbox_capacity, connections),
        };
        self.mailboxes
            .set((0..open.unwrap_or(workers)).map(make).collect());
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
        self.shared.size(slots, 0, Some(0), 0, 0)
    }

    /// [`set_slots`](Self::set_slots), and a mailbox of `mailbox_capacity`
    /// bytes for each slot, for a backend whose threads each serve one
    /// connection at a time: the thread publishing into slot `i` owns
    /// mailbox `i` (as an [`Inbox`](crate::inbox::Inbox)), which every
    /// [`Sender`](crate::Sender) of the server posts to. Each mailbox
    /// starts closed (see [`Inbox::open`](crate::inbox::Inbox::open)),
    /// and its room is allocated only when a thread first takes it
    /// ([`Inbox::new`](crate::inbox::Inbox::new)). Returns `false`,
    /// changing nothing, if the slots were set before.
    pub fn set_slots_with_mailboxes(&self, slots: usize, mailbox_capacity: usize) -> bool {
        self.shared.size(slots, 0, None, mailbox_capacity, 1)
    }

    /// Whether a [`Sender`](crate::Sender) was made for this server
    /// ([`Sender::new`](crate::Sender::new)): a backend whose mailboxes
    /// cost something per thread makes them only then.
    pub fn has_sender(&self) -> bool {
        self.shared.sender_taken.load(Relaxed)
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
