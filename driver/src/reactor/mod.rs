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

mod admission;
mod held;
mod mail;
mod serving;

use std::collections::VecDeque;
use std::io;
use std::os::fd::OwnedFd;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use peregrine_core::Sizes;
use peregrine_core::{Config, Counters, Handler};

use self::held::{Held, Spares};
use crate::app::App;
use crate::clock::Clock;
use crate::hub::Shared;
use crate::io::Readiness;
use crate::lending::Lending;
use crate::slab::{Slab, Token};
use crate::timers::Timers;
use crate::transport::{Plain, PlainSession, Session, Transport, earliest};
use crate::unix;
use crate::waker::Waker;

/// The token of the listening socket.
pub const LISTENER: u64 = 0;
/// The token of the worker's waker.
pub const WAKER: u64 = 1;

/// How long accepting pauses after running out of descriptors, in ms.
const ACCEPT_BACKOFF_MS: u64 = 100;

/// The most deadlines a worker handles in one turn of its loop; more that
/// are due wait for the next turn, after the events that came meanwhile.
const TIMEOUTS_PER_TURN: usize = 64;

/// The most connections a worker accepts in one turn of its loop; more
/// that wait in the backlog are taken next turn, after the events that
/// came meanwhile, so that a wave of new connections (clients reconnecting
/// at once) does not hold up the requests of those already served.
const ACCEPTS_PER_TURN: usize = 64;

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

/// One connection and what the worker keeps about it; `X` is its
/// transport's state (nothing for plain TCP).
struct Slot<Z: Sizes, X = PlainSession> {
    /// The transport's state (a TLS connection).
    session: X,
    /// The protocol state: suspended while idle.
    conn: Held<Z>,
    /// The socket.
    fd: OwnedFd,
    /// What is known of the socket's readiness.
    ready: Readiness,
    /// The buffer pair lent to it, if any.
    buffer: Option<u32>,
    /// The deadline armed in the timer heap, if any.
    armed: Armed,
    /// In the ready list.
    listed: bool,
    /// Queued for a buffer.
    waiting: bool,
}

/// Puts connection `token` at the back of `ready_list` unless its slot's
/// `listed` flag says it is in it already: each connection is there at
/// most once, so the list never outgrows the slots it is sized for.
#[inline]
fn list(listed: &mut bool, token: Token, ready_list: &mut VecDeque<Token>) {
    if !*listed {
        *listed = true;
        ready_list.push_back(token);
    }
}

/// The deadline a slot has armed in the timer heap, if any, in eight
/// bytes: `u64::MAX` is none (no deadline is that late: a connection's
/// are capped below it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Armed(u64);

impl Armed {
    /// No deadline armed.
    const NONE: Armed = Armed(u64::MAX);

    /// The deadline armed, if any.
    #[inline(always)]
    fn get(self) -> Option<u64> {
        (self != Armed::NONE).then_some(self.0)
    }
}

/// One worker's state; `T` is the transport its connections take.
struct Worker<'h, P, H, L, Z: Sizes, T: Transport = Plain> {
    /// The transport (TLS, or plain TCP).
    transport: &'h T,
    /// Settings.
    settings: WorkerSettings,
    /// The readiness API.
    poller: P,
    /// The listening socket, until shutdown.
    listener: Option<OwnedFd>,
    /// Connections.
    slab: Slab<Slot<Z, T::Session>>,
    /// The buffer pairs, and who holds or waits for one.
    lending: Lending<Z>,
    /// Whole connection states for connections in use.
    spares: Spares<Z>,
    /// Connections with work left after their per-wakeup maximum.
    ready_list: VecDeque<Token>,
    /// Deadlines.
    timers: Timers,
    /// The application, its state for this worker, the `Date` line and
    /// the counters.
    app: App<'h, H, L>,
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
    /// Accepting stopped after [`ACCEPTS_PER_TURN`] connections with more
    /// perhaps waiting: the next turn takes more, after the events that
    /// came meanwhile.
    accept_more: bool,
    /// When shutdown began.
    shutdown_since: Option<u64>,
    /// Connections taken from the listen backlog when shutdown began,
    /// beyond the slots free then: each is served as a slot frees, within
    /// the grace period.
    held_back: VecDeque<(OwnedFd, Option<std::net::SocketAddr>)>,
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
    /// When the connection silent longest becomes old enough to close
    /// for a newcomer, while accepting waits for room.
    silent_retry: Option<u64>,
    /// What was not yet reported of the worker being full.
    full: FullReport,
    /// The HTTP/1.1 connection whose handler may be running: a panic that
    /// unwinds to the turn is answered on it ([`Worker::recover`]).
    serving: Option<Token>,
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
pub(crate) fn run<P, T, H, L, Z: Sizes>(
    settings: WorkerSettings,
    listener: Option<OwnedFd>,
    handler: &H,
    transport: &T,
    shared: Arc<Shared>,
) -> io::Result<()>
where
    P: Poller,
    T: Transport,
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
    let mut worker = Worker::<P, H, L, Z, T>::new(
        settings,
        poller,
        listener,
        handler,
        shared,
        mail_capacity,
        transport,
    );
    if settings.handoff {
        // Connections handed over before the waker was registered.
        worker.take_handoffs(worker.now());
    }
    worker.event_loop()
}

/// Arms a connection's deadline in `timers` (lazily: see [`Timers::arm`]).
#[inline(always)]
fn arm_slot<X: Session, Z: Sizes>(timers: &mut Timers, token: Token, slot: &mut Slot<Z, X>) {
    let deadline = slot.deadline();
    arm_deadline(timers, token, &mut slot.armed, deadline);
}

impl<X: Session, Z: Sizes> Slot<Z, X> {
    /// When the connection, or its transport, next needs its timeout
    /// handled.
    #[inline(always)]
    fn deadline(&self) -> Option<u64> {
        earliest(self.conn.poll_timeout(), self.session.deadline())
    }
}

/// Arms `deadline` (if any) for connection `token`, whose slot armed
/// `armed` before (lazily: see [`Timers::arm`]).
#[inline(always)]
fn arm_deadline(timers: &mut Timers, token: Token, armed: &mut Armed, deadline: Option<u64>) {
    if let Some(deadline) = deadline {
        *armed = Armed(timers.arm(token, deadline, armed.get()));
    }
}

impl<'h, P, H, L, T, Z: Sizes> Worker<'h, P, H, L, Z, T>
where
    P: Poller,
    H: Handler<L>,
    L: Default,
    T: Transport,
{
    /// A worker with its parts made, none of them started: its buffer
    /// pool allocated, its slots and lists small.
    fn new(
        settings: WorkerSettings,
        poller: P,
        listener: Option<OwnedFd>,
        handler: &'h H,
        shared: Arc<Shared>,
        mail_capacity: usize,
        transport: &'h T,
    ) -> Self {
        let pairs = settings.buffers.clamp(1, settings.max_connections.max(1));
        let mut worker = Worker {
            transport,
            settings,
            poller,
            listener,
            slab: Slab::new(settings.max_connections),
            lending: Lending::new(pairs),
            spares: Spares::new(settings.config, pairs, settings.id),
            ready_list: VecDeque::new(),
            timers: Timers::with_capacity(1),
            app: App::new(handler, settings.id, Counters::default(), &settings.config),
            accepted: 0,
            shared,
            clock: Clock::new(),
            accept_paused_until: None,
            accept_blocked: false,
            accept_more: false,
            shutdown_since: None,
            tokens: Vec::new(),
            mail: vec![0; mail_capacity].into_boxed_slice(),
            evicted: 0,
            shed: 0,
            shed_retry: None,
            silent_retry: None,
            held_back: VecDeque::new(),
            full: FullReport::default(),
            serving: None,
        };
        worker.grow_with_slab();
        worker
    }

    /// Milliseconds since the worker started.
    fn now(&self) -> u64 {
        self.clock.now()
    }

    /// Refreshes the `Date` line (reformatted only when the second changes).
    fn refresh_date(&mut self) {
        self.app.refresh_date();
    }

    /// The loop.
    fn event_loop(&mut self) -> io::Result<()> {
        let mut events = Vec::with_capacity(1024);
        // Messages posted before the waker was registered.
        self.take_mail(self.now());
        while self.turn(&mut events)? {}
        // What is left in the mailbox can no longer be delivered: count it.
        self.take_mail(self.now());
        self.publish();
        Ok(())
    }

    /// One turn of the loop: waits for events (or the next deadline),
    /// serves them, then the connections with work left, the deadlines
    /// due, the waiters for buffer pairs and the listen backlog. `false`
    /// once shutdown is complete.
    fn turn(&mut self, events: &mut Vec<P::Event>) -> io::Result<bool> {
        let now = self.now();
        if self.shared.is_shutting_down() && self.shutdown_since.is_none() {
            self.begin_shutdown(now);
        }
        if let Some(since) = self.shutdown_since {
            if self.slab.is_empty() && self.held_back.is_empty() && self.handoffs_settled() {
                return Ok(false);
            }
            if now >= since.saturating_add(self.settings.grace_ms) {
                self.close_all();
                return Ok(false);
            }
        }
        let timeout = self.wait_timeout(now);
        match self.poller.wait(events, timeout) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::Interrupted => return Ok(true),
            Err(error) => return Err(error),
        }
        let now = self.now();
        self.refresh_date();
        // A handler panic unwinds to here: the connection it was serving
        // answers for it, and the turn goes on from the next event.
        let mut next = 0;
        while let Err(panic) =
            catch_unwind(AssertUnwindSafe(|| self.serve_turn(events, &mut next, now)))
        {
            self.recover(panic, now);
        }
        Ok(true)
    }

    /// Serves a turn's `events` from the `next`th (moving `next` past each
    /// before serving it), then the connections with work left, the
    /// deadlines due, the waiters for buffer pairs and the listen backlog.
    fn serve_turn(&mut self, events: &[P::Event], next: &mut usize, now: u64) {
        while let Some(event) = events.get(*next) {
            *next += 1;
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
                        self.service_unguarded(token, now);
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

    /// How long the next wait may last.
    fn wait_timeout(&self, now: u64) -> Option<u64> {
        if !self.ready_list.is_empty() || self.accept_more {
            return Some(0);
        }
        let shutdown = self
            .shutdown_since
            .map(|since| since.saturating_add(self.settings.grace_ms));
        let shed = self.shed_retry.filter(|_| self.lending.has_waiting());
        let silent = self.silent_retry.filter(|_| self.accept_blocked);
        [
            self.timers.next(),
            self.accept_paused_until,
            shutdown,
            shed,
            silent,
        ]
        .into_iter()
        .flatten()
        .min()
        .map(|at| at.saturating_sub(now))
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
        // The listen backlog: `adopt` winds each down as it comes, and
        // those beyond the free slots wait their turn in `held_back`, so
        // that every request sent before the signal is answered.
        self.accept_paused_until = None;
        self.accept_blocked = false;
        if self.settings.handoff {
            self.take_handoffs(now);
        } else {
            self.accept(now);
            self.hold_back_backlog();
        }
        self.listener = None;
    }

    /// Winds a connection down for the shutdown: reads what reached its
    /// socket (its events may not be collected yet), answers the requests
    /// there with `Connection: close`, and closes it once idle.
    fn wind_down(&mut self, token: Token, now: u64) {
        if self
            .slab
            .get_mut(token)
            .is_some_and(|slot| slot.conn.is_http2())
        {
            self.wind_down_http2(token, now);
            return;
        }
        if let Some(slot) = self.slab.get_mut(token) {
            slot.conn.activate(&mut self.spares, token).drain();
            slot.ready.readable = true;
            slot.ready.writable = true;
        }
        self.service(token, now);
        if let Some(slot) = self.slab.get_mut(token) {
            let conn = slot.conn.activate(&mut self.spares, token);
            conn.shutdown(now);
            if conn.is_closed() {
                self.close(token);
            } else {
                self.service(token, now);
            }
        }
    }

    /// Winds an HTTP/2 connection down: it first reads what reached its
    /// socket (its events may not be collected yet), so that a request
    /// sent before the shutdown is taken, as HTTP/1.1's are; then GOAWAY
    /// names the last stream it took, the streams started are finished,
    /// and it closes. With no buffer pair free for the GOAWAY, it closes
    /// at once.
    fn wind_down_http2(&mut self, token: Token, now: u64) {
        // Held through the read, so that it never waits in line for one.
        let Some(slot) = self.hold_pair(token).and_then(|_| self.slab.get_mut(token)) else {
            return;
        };
        slot.ready.readable = true;
        self.service(token, now);
        let Some(buffer) = self.hold_pair(token) else {
            return;
        };
        let Some(slot) = self.slab.get_mut(token) else {
            return;
        };
        let Some(conn) = slot.conn.http2() else {
            return;
        };
        if !self.app.shut_down(conn, self.lending.pair(buffer), now) {
            self.close(token);
            return;
        }
        slot.ready.readable = true;
        slot.ready.writable = true;
        self.service(token, now);
    }

    /// The buffer pair connection `token` holds, lent one now if it held
    /// none; with none free, the connection is closed. `None` if it is
    /// gone.
    fn hold_pair(&mut self, token: Token) -> Option<u32> {
        let slot = self.slab.get_mut(token)?;
        match slot.buffer.or_else(|| self.lending.lend(token)) {
            Some(buffer) => {
                slot.buffer = Some(buffer);
                Some(buffer)
            }
            None => {
                self.close(token);
                None
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
            counters.publish(self.accepted, self.slab.len() as u64, self.app.totals());
            counters.publish_shedding(self.evicted, self.shed);
        }
    }
}

#[cfg(test)]
mod tests;
