//! The event loop of one worker, generic over the readiness API (epoll,
//! kqueue): accept, dispatch readiness to connections, lend buffers, fire
//! deadlines, shut down gracefully.
//!
//! The buffer pool, the event list and the mailbox's buffer are allocated
//! when a worker starts. The connection slots, and the lists and timer heap
//! sized by them, start small and double as connections arrive, up to the
//! worker's maximum: a worker pays for the most connections it has held at
//! once, and nothing is allocated per request, nor per connection once the
//! worker has been that busy before.
//!
//! A worker that holds its maximum, or runs out of descriptors, closes the
//! connection idle longest to take a new one in (see [`Slab::mark_idle`]:
//! the slab keeps idle HTTP keep-alive connections in an intrusive list,
//! the one idle longest first).

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use peregrine_core::date::DateCache;
use peregrine_core::ws::Message;
use peregrine_core::{Config, Connection, ConnectionId, Counters, Env, Handler};

use crate::clock::{self, Clock};
use crate::io::{Mode, Readiness, drive};
use crate::lending::Lending;
use crate::sender::{self, Mail, Target};
use crate::slab::{Slab, Token};
use crate::stats::{Shared, Waker};
use crate::timers::Timers;
use crate::unix::{self, FdSocket};

/// The token of the listening socket.
pub const LISTENER: u64 = 0;
/// The token of the worker's waker.
pub const WAKER: u64 = 1;

/// How long accepting pauses after running out of descriptors, in ms.
const ACCEPT_BACKOFF_MS: u64 = 100;

/// The least time between two reports of a full worker, in ms.
const FULL_REPORT_MS: u64 = 10_000;

/// A readiness API: what a backend supplies.
pub trait Poller: Sized {
    /// One event as the API reports it.
    type Event;

    /// A new instance, with its waker registered under [`WAKER`].
    fn new() -> io::Result<Self>;
    /// The waker other threads use to interrupt [`wait`](Self::wait).
    fn waker(&self) -> Arc<dyn Waker>;
    /// Clears a wake-up after the waker's event was seen.
    fn clear_wake(&self);
    /// Watches a listening socket for incoming connections.
    fn add_listener(&self, fd: &OwnedFd) -> io::Result<()>;
    /// Watches a connection for reading, writing and hang-up,
    /// edge-triggered.
    fn add_connection(&self, fd: &OwnedFd, token: u64) -> io::Result<()>;
    /// Waits up to `timeout_ms` (forever if `None`) and fills `events`.
    fn wait(&mut self, events: &mut Vec<Self::Event>, timeout_ms: Option<u64>) -> io::Result<()>;
    /// An event's token and the readiness it reports.
    fn decode(event: &Self::Event) -> (u64, Readiness);
}

/// Sizes and settings of a worker.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WorkerSettings {
    /// The worker's number.
    pub(crate) id: usize,
    /// Connection timeouts and limits.
    pub(crate) config: Config,
    /// Connections held at once; beyond it the idle longest is closed,
    /// or, with none idle, more wait in the listen backlog.
    pub(crate) max_connections: usize,
    /// Buffer pairs in the pool; connections beyond wait for one.
    pub(crate) buffers: usize,
    /// How long in-flight requests get after shutdown begins, in ms.
    pub(crate) grace_ms: u64,
    /// Pin the worker to CPU `id`.
    pub(crate) pin: bool,
    /// Connections come from accept threads, not a listener of its own.
    pub(crate) handoff: bool,
}

/// One connection and what the worker keeps about it.
struct Slot<const READ: usize, const WRITE: usize, const MAX_HEADERS: usize> {
    /// The protocol state.
    conn: Connection<READ, WRITE, MAX_HEADERS>,
    /// The socket.
    fd: OwnedFd,
    /// What is known of the socket's readiness.
    ready: Readiness,
    /// The buffer pair lent to it, if any.
    buffer: Option<u32>,
    /// The deadline armed in the timer heap, if any.
    armed: Option<u64>,
    /// Queued for a buffer.
    waiting: bool,
}

/// One worker's state.
struct Worker<'h, P, H, L, const READ: usize, const WRITE: usize, const MAX_HEADERS: usize> {
    /// Settings.
    settings: WorkerSettings,
    /// The readiness API.
    poller: P,
    /// The listening socket, until shutdown.
    listener: Option<OwnedFd>,
    /// Connections.
    slab: Slab<Slot<READ, WRITE, MAX_HEADERS>>,
    /// The buffer pairs, and who holds or waits for one.
    lending: Lending<READ, WRITE>,
    /// Connections with work left after their per-wakeup maximum.
    ready_list: VecDeque<Token>,
    /// Deadlines.
    timers: Timers,
    /// The cached `Date` line.
    date: DateCache,
    /// The application.
    handler: &'h H,
    /// The application's state for this worker.
    local: L,
    /// Totals of the connections' counters.
    totals: Counters,
    /// Connections accepted.
    accepted: u64,
    /// State shared with other threads.
    shared: Arc<Shared>,
    /// This worker's clock.
    clock: Clock,
    /// Accepting pauses until then (out of descriptors).
    accept_paused_until: Option<u64>,
    /// Accepting stopped because the slab is full.
    accept_blocked: bool,
    /// When shutdown began.
    shutdown_since: Option<u64>,
    /// Scratch list of tokens.
    tokens: Vec<Token>,
    /// Where a message from the mailbox is copied before it is sent.
    mail: Box<[u8]>,
    /// Idle connections closed to make room.
    evicted: u64,
    /// Partial heads sent away for their buffers.
    shed: u64,
    /// When the oldest partial head becomes old enough to be sent away,
    /// while connections wait for a pair and none was.
    shed_retry: Option<u64>,
    /// What was not yet reported of the worker being full.
    full: FullReport,
}

/// What a full worker has to report, at most every [`FULL_REPORT_MS`].
#[derive(Debug, Default)]
struct FullReport {
    /// When the last report was made.
    last: Option<u64>,
    /// Idle connections closed since.
    evicted: u64,
    /// Whether, since, a connection had to wait with none idle to close.
    refused: bool,
}

/// Runs a worker until shutdown completes.
pub(crate) fn run<P, H, L, const READ: usize, const WRITE: usize, const MAX_HEADERS: usize>(
    settings: WorkerSettings,
    listener: Option<OwnedFd>,
    handler: &H,
    shared: Arc<Shared>,
) -> io::Result<()>
where
    P: Poller,
    H: Handler<L>,
    L: Default,
{
    if settings.pin {
        unix::pin_to_cpu(settings.id)?;
    }
    let poller = P::new()?;
    if let Some(listener) = &listener {
        poller.add_listener(listener)?;
    }
    if let Some(handoff) = shared.handoffs.get(settings.id) {
        let _ = handoff.waker.set(poller.waker());
    }
    shared.add_waker(poller.waker());
    let mail_capacity = match shared.mailboxes.get(settings.id) {
        Some(mailbox) => {
            let _ = mailbox.waker.set(poller.waker());
            mailbox.outbox.max_payload()
        }
        None => 0,
    };
    let pairs = settings.buffers.clamp(1, settings.max_connections.max(1));
    let mut worker = Worker::<P, H, L, READ, WRITE, MAX_HEADERS> {
        settings,
        poller,
        listener,
        slab: Slab::new(settings.max_connections),
        lending: Lending::new(pairs),
        ready_list: VecDeque::new(),
        timers: Timers::with_capacity(1),
        date: DateCache::new(),
        handler,
        local: handler.new_local(settings.id),
        totals: Counters::default(),
        accepted: 0,
        shared,
        clock: Clock::new(),
        accept_paused_until: None,
        accept_blocked: false,
        shutdown_since: None,
        tokens: Vec::new(),
        mail: vec![0; mail_capacity].into_boxed_slice(),
        evicted: 0,
        shed: 0,
        shed_retry: None,
        full: FullReport::default(),
    };
    worker.grow_with_slab();
    if settings.handoff {
        // Connections handed over before the waker was registered.
        worker.take_handoffs(worker.now());
    }
    worker.event_loop()
}

/// Returns a connection's buffer to the pool if it holds no state;
/// whether it did.
#[inline]
fn release_buffer<const READ: usize, const WRITE: usize, const MAX_HEADERS: usize>(
    slot: &mut Slot<READ, WRITE, MAX_HEADERS>,
    lending: &mut Lending<READ, WRITE>,
) -> bool {
    if slot.conn.holds_buffers() {
        return false;
    }
    match slot.buffer.take() {
        Some(buffer) => {
            lending.give_back(buffer);
            true
        }
        None => false,
    }
}

/// Arms a connection's deadline in `timers` (lazily: see [`Timers::arm`]).
#[inline(always)]
fn arm_slot<const READ: usize, const WRITE: usize, const MAX_HEADERS: usize>(
    timers: &mut Timers,
    token: Token,
    slot: &mut Slot<READ, WRITE, MAX_HEADERS>,
) {
    if let Some(deadline) = slot.conn.poll_timeout() {
        slot.armed = Some(timers.arm(token, deadline, slot.armed));
    }
}

impl<P, H, L, const READ: usize, const WRITE: usize, const MAX_HEADERS: usize>
    Worker<'_, P, H, L, READ, WRITE, MAX_HEADERS>
where
    P: Poller,
    H: Handler<L>,
    L: Default,
{
    /// Milliseconds since the worker started.
    fn now(&self) -> u64 {
        self.clock.now()
    }

    /// Refreshes the `Date` line (reformatted only when the second changes).
    fn refresh_date(&mut self) {
        clock::refresh_date(&mut self.date);
    }

    /// The loop.
    fn event_loop(&mut self) -> io::Result<()> {
        let mut events = Vec::with_capacity(1024);
        // Messages posted before the waker was registered.
        self.take_mail(self.now());
        loop {
            let now = self.now();
            if self.shared.is_shutting_down() && self.shutdown_since.is_none() {
                self.begin_shutdown(now);
            }
            if let Some(since) = self.shutdown_since {
                if self.slab.is_empty() && self.handoffs_settled() {
                    break;
                }
                if now >= since.saturating_add(self.settings.grace_ms) {
                    self.close_all();
                    break;
                }
            }
            let timeout = self.wait_timeout(now);
            match self.poller.wait(&mut events, timeout) {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            }
            let now = self.now();
            self.refresh_date();
            for event in &events {
                let (token, readiness) = P::decode(event);
                match token {
                    LISTENER => self.accept(now),
                    WAKER => {
                        self.poller.clear_wake();
                        if self.settings.handoff {
                            self.take_handoffs(now);
                        }
                        self.take_mail(now);
                    }
                    raw => {
                        let token = Token::from_u64(raw);
                        if let Some(slot) = self.slab.get_mut(token) {
                            slot.ready.readable |= readiness.readable;
                            slot.ready.writable |= readiness.writable;
                            slot.ready.hangup |= readiness.hangup;
                            self.service(token, now);
                        }
                    }
                }
            }
            self.run_ready_list(now);
            self.fire_timers(now);
            self.shed_for_waiters(now);
            self.retry_accept(now);
            self.publish();
        }
        // What is left in the mailbox can no longer be delivered: count it.
        self.take_mail(self.now());
        self.publish();
        Ok(())
    }

    /// How long the next wait may last.
    fn wait_timeout(&self, now: u64) -> Option<u64> {
        if !self.ready_list.is_empty() {
            return Some(0);
        }
        let shutdown = self
            .shutdown_since
            .map(|since| since.saturating_add(self.settings.grace_ms));
        let shed = self.shed_retry.filter(|_| self.lending.has_waiting());
        [self.timers.next(), self.accept_paused_until, shutdown, shed]
            .into_iter()
            .flatten()
            .min()
            .map(|at| at.saturating_sub(now))
    }

    /// Accepts connections until the backlog is empty, or the slab is full
    /// with no idle connection to close, or descriptors run out with none
    /// to close.
    fn accept(&mut self, now: u64) {
        if self.accept_paused_until.is_some() {
            return;
        }
        loop {
            if self.listener.is_none() {
                return;
            }
            let Ok(evict) = self.room_for_one(now) else {
                return;
            };
            let Some(listener) = &self.listener else {
                return;
            };
            let accepted = unix::accept(listener.as_fd());
            let pending = |error: &io::Error| {
                unix::is_descriptor_exhaustion(error)
                    && unix::has_pending_connection(listener.as_fd())
            };
            let (fd, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return,
                Err(error) if pending(&error) => {
                    // Out of descriptors with a connection waiting: close
                    // the idle longest to make room, or wait and retry.
                    match evict.or_else(|| self.evictable()) {
                        Some(token) => self.evict(token, now),
                        None => {
                            self.accept_paused_until = Some(now + ACCEPT_BACKOFF_MS);
                            self.full.refused = true;
                            self.report_full(now);
                            return;
                        }
                    }
                    continue;
                }
                Err(error) if unix::is_resource_exhaustion(&error) => {
                    // Keep serving; try again later rather than spin.
                    self.accept_paused_until = Some(now + ACCEPT_BACKOFF_MS);
                    return;
                }
                Err(error)
                    if matches!(
                        error.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                    ) =>
                {
                    continue;
                }
                Err(_) => return,
            };
            if let Some(token) = evict {
                self.evict(token, now);
            }
            self.adopt(fd, peer, now);
        }
    }

    /// Room for one new connection: `Ok(None)` if a slot is free,
    /// `Ok(Some(token))` for the idle connection to close when the slab is
    /// full, `Err(())` when it is full with nothing idle. Then accepting
    /// stops (connections wait in the backlog until a slot frees or a
    /// connection becomes idle) and the event is reported.
    fn room_for_one(&mut self, now: u64) -> Result<Option<Token>, ()> {
        if !self.slab.is_full() {
            return Ok(None);
        }
        match self.evictable() {
            Some(token) => Ok(Some(token)),
            None => {
                self.accept_blocked = true;
                self.full.refused = true;
                self.report_full(now);
                Err(())
            }
        }
    }

    /// Takes connections accept threads left for this worker.
    fn take_handoffs(&mut self, now: u64) {
        let shared = Arc::clone(&self.shared);
        let Some(handoff) = shared.handoffs.get(self.settings.id) else {
            return;
        };
        loop {
            if self.slab.is_full()
                && handoff
                    .queue
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .is_empty()
            {
                return;
            }
            let Ok(evict) = self.room_for_one(now) else {
                return;
            };
            let next = handoff
                .queue
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop_front();
            let Some((fd, peer)) = next else {
                return;
            };
            if let Some(token) = evict {
                self.evict(token, now);
            }
            self.adopt(fd, peer, now);
        }
    }

    /// Whether no connection can still come from accept threads: none is
    /// running (each hands over its listen backlog before it stops) and
    /// nothing waits in this worker's queue. Always, without accept
    /// threads.
    fn handoffs_settled(&self) -> bool {
        if !self.settings.handoff {
            return true;
        }
        let queued = self
            .shared
            .handoffs
            .get(self.settings.id)
            .is_some_and(|handoff| {
                !handoff
                    .queue
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .is_empty()
            });
        !queued
            && self
                .shared
                .acceptors
                .load(std::sync::atomic::Ordering::SeqCst)
                == 0
    }

    /// Takes a new connection into the slab and the poller; during a
    /// shutdown (a connection from the listen backlog), reads and answers
    /// what it sent, with `Connection: close`.
    fn adopt(&mut self, fd: OwnedFd, peer: Option<std::net::SocketAddr>, now: u64) {
        let slot = Slot {
            conn: Connection::new(self.settings.config, peer, now),
            fd,
            ready: Readiness::default(),
            buffer: None,
            armed: None,
            waiting: false,
        };
        let Ok(token) = self.slab.insert(slot) else {
            return;
        };
        self.grow_with_slab();
        let registered = match self.slab.get_mut(token) {
            Some(slot) => {
                let id = ConnectionId::new(self.settings.id as u32, token.to_u64());
                slot.conn.set_id(id);
                self.poller.add_connection(&slot.fd, token.to_u64())
            }
            None => Ok(()),
        };
        if registered.is_err() {
            self.close(token);
            return;
        }
        self.accepted += 1;
        if self.shutdown_since.is_some() {
            self.wind_down(token, now);
            return;
        }
        self.arm(token);
    }

    /// Keeps the lists and the timer heap sized for every connection the
    /// slab has room for, so that none allocates per request; they grow
    /// when the slab does (doubling), so the cost is amortised.
    fn grow_with_slab(&mut self) {
        let capacity = self.slab.capacity();
        if capacity <= self.tokens.capacity() {
            return;
        }
        self.tokens.reserve_exact(capacity - self.tokens.len());
        self.lending.reserve_waiting(capacity);
        self.ready_list
            .reserve_exact(capacity - self.ready_list.len());
        self.timers.reserve(capacity);
    }

    /// The connection idle longest that may be closed without losing
    /// anything: nothing read, nothing waiting in its socket. Connections
    /// found busy on the way leave the idle list (they rejoin it once
    /// served).
    fn evictable(&mut self) -> Option<Token> {
        while let Some(token) = self.slab.oldest_idle() {
            let idle = self.slab.get_mut(token).is_some_and(|slot| {
                slot.conn.is_idle()
                    && !slot.waiting
                    && !slot.ready.readable
                    && !unix::has_pending_input(slot.fd.as_fd())
            });
            if idle {
                return Some(token);
            }
            self.slab.mark_busy(token);
        }
        None
    }

    /// Closes an idle connection to make room for a new one.
    fn evict(&mut self, token: Token, now: u64) {
        self.close(token);
        self.evicted += 1;
        self.full.evicted += 1;
        self.report_full(now);
    }

    /// Says on standard error, at most every [`FULL_REPORT_MS`], that the
    /// worker was full: how many idle connections it closed to make room,
    /// or that new connections wait with none idle.
    fn report_full(&mut self, now: u64) {
        let report = &mut self.full;
        if !report.refused && report.evicted == 0 {
            return;
        }
        if report
            .last
            .is_some_and(|last| now < last.saturating_add(FULL_REPORT_MS))
        {
            return;
        }
        let (id, held) = (self.settings.id, self.slab.len());
        if report.evicted > 0 {
            eprintln!(
                "peregrine: worker {id} full ({held} connections): closed {} idle keep-alive connections in the last 10 s",
                report.evicted
            );
        } else {
            eprintln!(
                "peregrine: worker {id} full ({held} connections): none idle to close; new connections wait in the listen backlog"
            );
        }
        *report = FullReport {
            last: Some(now),
            evicted: 0,
            refused: false,
        };
    }

    /// Sends the messages other threads posted to this worker's mailbox.
    fn take_mail(&mut self, now: u64) {
        let shared = Arc::clone(&self.shared);
        let Some(mailbox) = shared.mailboxes.get(self.settings.id) else {
            return;
        };
        let mut mail = std::mem::take(&mut self.mail);
        mailbox.outbox.drain(&mut mail, |record| {
            let undelivered = match sender::decode(record) {
                None => 1,
                Some(Mail::Wake(key)) => {
                    self.wake(Token::from_u64(key), now);
                    0
                }
                Some(Mail::Message(Target::Connection(key), message)) => {
                    u64::from(!self.deliver(Token::from_u64(key), message, now))
                }
                Some(Mail::Message(target, message)) => self.deliver_to_many(target, message, now),
            };
            if undelivered > 0 {
                mailbox
                    .undelivered
                    .fetch_add(undelivered, std::sync::atomic::Ordering::Relaxed);
            }
        });
        self.mail = mail;
    }

    /// Resumes a streamed body that waited for the application; it runs
    /// with the connections that have work left.
    fn wake(&mut self, token: Token, now: u64) {
        let Some(slot) = self.slab.get_mut(token) else {
            return;
        };
        slot.conn.handle_wake(now);
        if slot.conn.has_work() && self.ready_list.len() < self.ready_list.capacity() {
            self.ready_list.push_back(token);
        }
    }

    /// Sends `message` to every WebSocket connection `target` (a topic, or
    /// all) covers; returns how many it did not reach.
    fn deliver_to_many(&mut self, target: Target, message: Message<'_>, now: u64) -> u64 {
        self.slab.tokens(&mut self.tokens);
        let mut undelivered = 0;
        for index in 0..self.tokens.len() {
            let token = self.tokens[index];
            let Some(slot) = self.slab.get_mut(token) else {
                continue;
            };
            let covered = match target {
                Target::Topic(topic) => slot.conn.is_subscribed(topic),
                _ => slot.conn.is_websocket(),
            };
            if covered && !self.deliver(token, message, now) {
                undelivered += 1;
            }
        }
        undelivered
    }

    /// Sends `message` to one connection and writes it out if the socket
    /// takes it; `false` if the connection is gone, does not speak
    /// WebSocket or is closing, has no room for it, or no buffer is free.
    fn deliver(&mut self, token: Token, message: Message<'_>, now: u64) -> bool {
        let Some(slot) = self.slab.get_mut(token) else {
            return false;
        };
        if !slot.conn.is_websocket() {
            return false;
        }
        let buffer = match slot.buffer {
            Some(buffer) => buffer,
            None => match self.lending.lend(token) {
                Some(buffer) => {
                    slot.buffer = Some(buffer);
                    buffer
                }
                None => return false,
            },
        };
        let sent = slot
            .conn
            .send_message(self.lending.pair(buffer), message, now);
        // Write it now (and settle the buffer and the deadline), also after
        // a failure that began a close.
        self.service(token, now);
        sent.is_ok()
    }

    /// Retries accepting after a pause, or once a slot freed or a
    /// connection became idle; reports a full worker when due.
    fn retry_accept(&mut self, now: u64) {
        self.report_full(now);
        if self.accept_paused_until.is_some_and(|until| now >= until) {
            self.accept_paused_until = None;
            self.accept(now);
        }
        if self.accept_blocked && (!self.slab.is_full() || self.slab.idle_len() > 0) {
            self.accept_blocked = false;
            if self.settings.handoff {
                self.take_handoffs(now);
            } else {
                self.accept(now);
            }
        }
    }

    /// Drives one connection as far as it goes, then settles its buffer,
    /// its timer and whether it is done.
    fn service(&mut self, token: Token, now: u64) {
        let Worker {
            slab,
            lending,
            ready_list,
            handler,
            local,
            date,
            totals,
            timers,
            ..
        } = self;
        let Some(slot) = slab.get_mut(token) else {
            return;
        };
        let buffer = match slot.buffer {
            Some(buffer) => buffer,
            None => {
                // Readable: lend it the buffers and let `drive` see
                // whether it reads (it nearly always does; when not, the
                // buffers come straight back).
                let wants_io = slot.ready.readable || slot.conn.wants_write();
                if !wants_io {
                    return;
                }
                match lending.lend(token) {
                    Some(buffer) => {
                        slot.buffer = Some(buffer);
                        buffer
                    }
                    None => {
                        lending.wait(token, &mut slot.waiting);
                        return;
                    }
                }
            }
        };
        let mut env = Env {
            handler: *handler,
            local,
            date: Some(date),
            now,
            counters: totals,
        };
        let result = drive(
            &mut slot.conn,
            lending.pair(buffer),
            &mut FdSocket(slot.fd.as_fd()),
            &mut slot.ready,
            Mode::EdgeTriggered,
            &mut env,
        );
        if slot.conn.has_work() && ready_list.len() < ready_list.capacity() {
            ready_list.push_back(token);
        }
        let done = result.is_err() || slot.conn.is_closed() || slot.conn.is_hijacked();
        if done {
            self.close(token);
            return;
        }
        // Settle, on the slot in hand: return its buffer if it holds no
        // state, and arm its deadline.
        let freed = release_buffer(slot, lending);
        arm_slot(timers, token, slot);
        if slot.conn.is_idle() {
            // Busy connections are taken off the list lazily, when the
            // search for one to close meets them (`evictable`).
            self.slab.mark_idle(token);
        }
        if freed && self.lending.has_waiting() {
            self.lend_to_waiter();
        }
        self.sweep_timers();
    }

    /// Arms a connection's deadline.
    fn arm(&mut self, token: Token) {
        let Some(slot) = self.slab.get_mut(token) else {
            return;
        };
        arm_slot(&mut self.timers, token, slot);
        self.sweep_timers();
    }

    /// Drops stale timer entries once the heap is full.
    #[inline]
    fn sweep_timers(&mut self) {
        let slab = &mut self.slab;
        self.timers.sweep_if_full(|token, deadline| {
            slab.get_mut(token)
                .is_none_or(|slot| slot.armed != Some(deadline))
        });
    }

    /// Every buffer pair is lent and a connection waits for one: takes
    /// the pair of the connection that has held part of a request head
    /// longest, if that head began at least a tenth of the header timeout
    /// ago (else [`shed_retry`](Self::shed_retry) says when to look
    /// again). It is answered `408` (counted as a timeout) and closed, and
    /// its pair goes to the first in line. So slow heads cannot hold every
    /// pair while other clients wait, and a head that arrives in pieces
    /// over a few milliseconds is never sent away.
    fn shed_slowest_head(&mut self, now: u64) {
        // A head's header deadline is its start plus the timeout: one that
        // began a tenth of the timeout ago has this deadline.
        let header_timeout = self.settings.config.header_timeout;
        let young = header_timeout - header_timeout / 10;
        let mut slowest: Option<(u64, Token)> = None;
        for (pair, token) in self.lending.last_holders() {
            let Some(slot) = self.slab.get_mut(token) else {
                continue;
            };
            if slot.buffer != Some(pair) {
                continue;
            }
            if let Some(deadline) = slot.conn.partial_head_deadline() {
                if slowest.is_none_or(|(first, _)| deadline < first) {
                    slowest = Some((deadline, token));
                }
            }
        }
        let Some((deadline, token)) = slowest else {
            // Every pair serves a request in progress: look again later.
            self.shed_retry = Some(now.saturating_add(header_timeout / 10));
            return;
        };
        if deadline > now.saturating_add(young) {
            // Too young to send away yet: try again once it is not.
            self.shed_retry = Some(deadline - young);
            return;
        }
        let Some(slot) = self.slab.get_mut(token) else {
            return;
        };
        if let Some(buffer) = slot.buffer {
            slot.conn
                .shed_head(self.lending.pair(buffer), now, &mut self.totals);
            // The 408 goes out if the socket takes it now; the connection
            // closes either way, and its pair with it.
            slot.ready.writable = true;
            slot.ready.readable = false;
            self.service(token, now);
        }
        self.shed += 1;
        self.close(token);
    }

    /// While connections wait for a pair, sends away one slow head per
    /// turn of the loop (its pair goes to the first in line, served in the
    /// next turn), or, when none is old enough, once one is.
    fn shed_for_waiters(&mut self, now: u64) {
        if self.lending.has_waiting() && self.shed_retry.is_none_or(|at| at <= now) {
            self.shed_retry = None;
            self.shed_slowest_head(now);
        }
    }

    /// Hands a freed buffer's turn to the next connection waiting.
    fn lend_to_waiter(&mut self) {
        while let Some(token) = self.lending.next_waiting() {
            if let Some(slot) = self.slab.get_mut(token) {
                slot.waiting = false;
                self.ready_list.push_back(token);
                return;
            }
        }
    }

    /// Drives connections that had work left over, once each, and those
    /// that waited for a buffer to handle a deadline.
    fn run_ready_list(&mut self, now: u64) {
        for _ in 0..self.ready_list.len() {
            let Some(token) = self.ready_list.pop_front() else {
                break;
            };
            let Some(slot) = self.slab.get_mut(token) else {
                continue;
            };
            if slot
                .conn
                .poll_timeout()
                .is_some_and(|deadline| deadline <= now)
            {
                self.expire(token, now);
                continue;
            }
            if slot.buffer.is_some() && slot.conn.has_work() {
                let buffer = slot.buffer.unwrap_or_default();
                let mut env = Env {
                    handler: self.handler,
                    local: &mut self.local,
                    date: Some(&self.date),
                    now,
                    counters: &mut self.totals,
                };
                slot.conn.poll(self.lending.pair(buffer), &mut env);
            }
            self.service(token, now);
        }
    }

    /// Handles every deadline that passed.
    fn fire_timers(&mut self, now: u64) {
        while let Some((token, due)) = self.timers.pop_due(now) {
            let Some(slot) = self.slab.get_mut(token) else {
                continue;
            };
            if slot.armed != Some(due) {
                continue;
            }
            slot.armed = None;
            match slot.conn.poll_timeout() {
                Some(deadline) if deadline <= now => self.expire(token, now),
                Some(_) => self.arm(token),
                None => {}
            }
        }
    }

    /// Handles a connection's deadline that passed. One whose handling
    /// writes (a `408`, a WebSocket Ping or Close) borrows a buffer pair
    /// first, and waits in line for one if none is free: the server never
    /// drops a connection because it wanted to write to it.
    fn expire(&mut self, token: Token, now: u64) {
        let Some(slot) = self.slab.get_mut(token) else {
            return;
        };
        if slot.buffer.is_none() && slot.conn.timeout_writes(now) {
            match self.lending.lend(token) {
                Some(buffer) => slot.buffer = Some(buffer),
                None => {
                    self.lending.wait(token, &mut slot.waiting);
                    return;
                }
            }
        }
        let bufs = match slot.buffer {
            Some(buffer) => self.lending.pair(buffer),
            None => self.lending.scratch(),
        };
        slot.conn.handle_timeout(bufs, now, &mut self.totals);
        // A timeout that needs no buffer only closes; should one that got
        // the scratch pair have queued anything, drop the connection
        // rather than send what the next user of that pair overwrites.
        let stranded = slot.buffer.is_none() && slot.conn.holds_buffers();
        slot.ready.writable = true;
        if slot.conn.is_closed() || stranded {
            self.close(token);
        } else {
            self.service(token, now);
            self.arm(token);
        }
    }

    /// Closes a connection and frees what it held.
    fn close(&mut self, token: Token) {
        if let Some(slot) = self.slab.remove(token) {
            if self.settings.handoff {
                if let Some(handoff) = self.shared.handoffs.get(self.settings.id) {
                    handoff
                        .load
                        .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
            if let Some(buffer) = slot.buffer {
                self.lending.give_back(buffer);
                self.lend_to_waiter();
            }
            // Dropping the descriptor closes it and removes it from the
            // poller.
            drop(slot.fd);
        }
    }

    /// Stops accepting and winds down every connection; connections the
    /// kernel already accepted, waiting in the listen backlog (or, with
    /// accept threads, handed over), are taken in and their requests
    /// answered with `Connection: close` before the listener closes.
    fn begin_shutdown(&mut self, now: u64) {
        self.shutdown_since = Some(now);
        self.slab.tokens(&mut self.tokens);
        for index in 0..self.tokens.len() {
            let token = self.tokens[index];
            self.wind_down(token, now);
        }
        // The listen backlog: `adopt` winds each down as it comes.
        self.accept_paused_until = None;
        self.accept_blocked = false;
        if self.settings.handoff {
            self.take_handoffs(now);
        } else {
            self.accept(now);
        }
        self.listener = None;
    }

    /// Winds a connection down for the shutdown: reads what reached its
    /// socket (its events may not be collected yet), answers the requests
    /// there with `Connection: close`, and closes it once idle.
    fn wind_down(&mut self, token: Token, now: u64) {
        if let Some(slot) = self.slab.get_mut(token) {
            slot.conn.drain();
            slot.ready.readable = true;
            slot.ready.writable = true;
        }
        self.service(token, now);
        if let Some(slot) = self.slab.get_mut(token) {
            slot.conn.shutdown(now);
            if slot.conn.is_closed() {
                self.close(token);
            } else {
                self.service(token, now);
            }
        }
    }

    /// Force-closes what is left after the grace period.
    fn close_all(&mut self) {
        self.slab.tokens(&mut self.tokens);
        for index in 0..self.tokens.len() {
            let token = self.tokens[index];
            self.close(token);
        }
    }

    /// Publishes this worker's numbers.
    fn publish(&self) {
        if let Some(counters) = self.shared.workers.get(self.settings.id) {
            counters.publish(self.accepted, self.slab.len() as u64, &self.totals);
            counters.publish_shedding(self.evicted, self.shed);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::mem::size_of;

    /// Bytes of connection state per connection, as `Server` and the
    /// README document it: the slot, plus the slab's generation tag and
    /// idle-list links.
    const fn documented(max_headers: usize) -> usize {
        2_792 + 16 * max_headers
    }

    #[test]
    fn connection_state_matches_the_documented_formula() {
        let sizes = [
            (8, size_of::<super::Slot<16384, 16384, 8>>()),
            (32, size_of::<super::Slot<16384, 16384, 32>>()),
            (64, size_of::<super::Slot<4096, 4096, 64>>()),
        ];
        for (max_headers, slot) in sizes {
            let actual = slot + 16;
            let documented = documented(max_headers);
            assert!(
                actual <= documented && documented - actual <= 64,
                "MAX_HEADERS = {max_headers}: {actual} bytes, documented {documented}"
            );
        }
    }
}
