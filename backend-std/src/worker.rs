//! What a thread does with a connection: accept it, then serve it until it
//! closes, with blocking calls whose waits are bounded (see
//! [`socket`](crate::socket)).

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use peregrine_core::{Config, Connection, Counters, Handler, Interest, IoBuffers, Sizes};
use peregrine_driver::ShutdownHandle;
use peregrine_driver::app::App;
use peregrine_driver::clock::Clock;
use peregrine_driver::inbox::Inbox;
use peregrine_driver::io::{Mode, Readiness};
use peregrine_driver::protocol::{Http2Connection, Protocol};
use peregrine_driver::transport::{Plain, Session, Transport, earliest};

use crate::alarm::Alarm;
use crate::socket::{POLL_MS, StdSocket};

/// How long accepting pauses after it failed (out of descriptors, out of
/// memory): the thread keeps serving nothing rather than spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Whether a failed `accept` may simply be tried again: interrupted, or
/// a connection that was reset or aborted before it was taken.
fn is_transient(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::Interrupted | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    )
}

/// What every thread of a server shares.
#[derive(Debug)]
pub(crate) struct Context {
    /// Connection timeouts and limits.
    pub(crate) config: Config,
    /// The clock every connection's deadlines are on.
    pub(crate) clock: Clock,
    /// How long requests in flight get once shutdown begins, in ms.
    pub(crate) grace_ms: u64,
    /// Shutdown and statistics.
    pub(crate) handle: ShutdownHandle,
    /// Held by the one thread that may accept. On Linux a blocked `accept`
    /// holds a descriptor reserved for the connection to come, so a
    /// hundred pool threads blocked in it would hold a hundred descriptors
    /// and leave none for the connect that wakes them; the others wait
    /// here instead, holding nothing.
    pub(crate) accept_turn: Mutex<()>,
    /// Threads in (or about to enter) a blocking `accept`, at most one:
    /// whether the supervisor must connect to wake it at shutdown.
    pub(crate) accepting: AtomicUsize,
    /// When the first thread learnt of the shutdown (`u64::MAX`: not
    /// yet): the grace period runs from then, for every connection.
    pub(crate) shutdown_since: AtomicU64,
    /// The addresses the supervisor's wake-up connections came from,
    /// recorded (under this lock) before a thread can look them up: those
    /// are closed unserved and uncounted.
    pub(crate) wake_peers: Mutex<Vec<SocketAddr>>,
    /// Each statistics slot's alarm, rung by posts to its mailbox and by
    /// the shutdown: a place for one per slot if the server has a sender
    /// (else none), made the first time a thread takes the slot.
    pub(crate) alarms: Box<[OnceLock<Arc<Alarm>>]>,
    /// HTTPS, if set.
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<peregrine_driver::tls::TlsConfig>,
}

impl Context {
    /// Waits for a connection on `listener`. Once shutdown has begun,
    /// takes what is left in the listen backlog without waiting (those
    /// connections are answered with `Connection: close`), then `None`
    /// when it is empty or the grace period is over.
    pub(crate) fn accept(&self, listener: &TcpListener) -> Option<(TcpStream, SocketAddr)> {
        let _turn = self.accept_turn.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            self.accepting.fetch_add(1, SeqCst);
            if self.handle.is_shutting_down() {
                self.accepting.fetch_sub(1, SeqCst);
                return self.accept_backlog(listener);
            }
            let result = listener.accept();
            self.accepting.fetch_sub(1, SeqCst);
            // Accepted after the shutdown began: a client from the
            // backlog is served all the same, in draining mode.
            match result {
                Ok((_, peer)) if self.is_wake_up(peer) => {}
                Ok(accepted) => return Some(accepted),
                Err(error) if is_transient(&error) => {}
                // Out of descriptors or memory, or anything else that would
                // fail again at once: try again later, never spin.
                Err(_) => std::thread::sleep(ACCEPT_BACKOFF),
            }
        }
    }

    /// After shutdown began: a connection from the listen backlog, without
    /// waiting; `None` once it is empty or the grace period is over.
    fn accept_backlog(&self, listener: &TcpListener) -> Option<(TcpStream, SocketAddr)> {
        let now = self.clock.now();
        if now >= self.shutdown_began(now).saturating_add(self.grace_ms) {
            return None;
        }
        // Every accept from now on is of this kind: never wait.
        listener.set_nonblocking(true).ok()?;
        loop {
            match listener.accept() {
                Ok((_, peer)) if self.is_wake_up(peer) => {}
                Ok((stream, peer)) => {
                    // Some systems pass the listener's mode on.
                    stream.set_nonblocking(false).ok()?;
                    return Some((stream, peer));
                }
                Err(error) if is_transient(&error) => {}
                Err(_) => return None,
            }
        }
    }

    /// Whether a connection accepted from `peer` is one the supervisor
    /// made to wake a thread blocked in `accept` (only once shutdown has
    /// begun).
    fn is_wake_up(&self, peer: SocketAddr) -> bool {
        self.handle.is_shutting_down()
            && self
                .wake_peers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(&peer)
    }

    /// When shutdown began, as the first thread to learn of it at `now`
    /// recorded.
    pub(crate) fn shutdown_began(&self, now: u64) -> u64 {
        match self
            .shutdown_since
            .compare_exchange(u64::MAX, now, SeqCst, SeqCst)
        {
            Ok(_) => now,
            Err(since) => since,
        }
    }

    /// Whether the grace period after a shutdown is over.
    pub(crate) fn grace_is_over(&self, now: u64) -> bool {
        self.handle.is_shutting_down()
            && now >= self.shutdown_began(now).saturating_add(self.grace_ms)
    }

    /// The alarm of statistics slot `slot`, if it has one.
    fn alarm(&self, slot: usize) -> Option<&Alarm> {
        self.alarms.get(slot)?.get().map(|alarm| &**alarm)
    }

    /// The mailbox of statistics slot `slot`, for the thread that takes
    /// the slot (one at a time): its alarm is made if it was not, and rung
    /// by the shutdown too. `None` if the server has no sender, or if no
    /// alarm can be made (out of descriptors): the slot's mailbox then
    /// stays closed, and what is posted for its connections is counted
    /// undelivered.
    fn inbox(&self, slot: usize) -> Option<Inbox> {
        let place = self.alarms.get(slot)?;
        let alarm = match place.get() {
            Some(alarm) => alarm,
            None => {
                let alarm = Alarm::new().ok()?;
                self.handle.add_waker(Arc::clone(&alarm) as _);
                place.get_or_init(|| alarm)
            }
        };
        Inbox::new(&self.handle, slot, Arc::clone(alarm) as _)
    }

    /// Waits `ms` (at least 1, at most [`POLL_MS`]), or less if the alarm
    /// of slot `slot` rings.
    fn pause(&self, slot: usize, ms: u64) {
        let ms = ms.clamp(1, POLL_MS);
        match self.alarm(slot) {
            Some(alarm) => alarm.wait(ms),
            None => std::thread::sleep(Duration::from_millis(ms)),
        }
    }
}

/// What a thread keeps between connections: its buffers, its statistics
/// slot, its totals and its mailbox. A pool thread owns one for its life;
/// a connection thread borrows one from the server's set.
pub(crate) struct Lane<Z: Sizes> {
    /// The statistics slot it publishes into.
    pub(crate) slot: usize,
    /// The buffer pair (a one-element pool), allocated on first use and
    /// kept.
    bufs: Option<Box<[IoBuffers<Z>]>>,
    /// Its connections' counters, added up.
    totals: Counters,
    /// Connections it served.
    accepted: u64,
    /// Its mailbox (the slot's), where the server's sender posts for the
    /// connection it serves; taken on first use like the buffers, `None`
    /// if the server has no sender.
    inbox: Option<Inbox>,
}

impl<Z: Sizes> Lane<Z> {
    /// A lane publishing into `slot`, with no buffers or mailbox yet.
    pub(crate) fn new(slot: usize) -> Self {
        Lane {
            slot,
            bufs: None,
            totals: Counters::default(),
            accepted: 0,
            inbox: None,
        }
    }
}

/// A thread serving connections one after another.
pub(crate) struct Worker<'a, H, L, Z: Sizes> {
    /// The server's shared state.
    ctx: &'a Context,
    /// The application, its state for this thread, the `Date` line and
    /// the lane's counters.
    app: App<'a, H, L>,
    /// Buffers and statistics (its counters are in `app` while it works).
    lane: Lane<Z>,
    /// The listener this thread accepts on, dropped as soon as it knows it
    /// will accept no more (so the port closes once every thread knows).
    pub(crate) listener: Option<Arc<TcpListener>>,
}

impl<'a, H, L, Z: Sizes> Worker<'a, H, L, Z>
where
    H: Handler<L>,
    L: Default,
{
    /// A worker on `lane`: creates the application's state for it first
    /// ([`Handler::new_local`] with the lane's slot), then its buffers and
    /// (if the server has a sender) its mailbox if the lane has none yet.
    pub(crate) fn new(
        ctx: &'a Context,
        handler: &'a H,
        mut lane: Lane<Z>,
        listener: Option<Arc<TcpListener>>,
    ) -> Self {
        let app = App::new(
            handler,
            lane.slot,
            std::mem::take(&mut lane.totals),
            &ctx.config,
        );
        // Straight onto the heap: a pair of large buffers built on a
        // thread's stack would overflow it.
        lane.bufs
            .get_or_insert_with(|| peregrine_driver::pool::zeroed_buffers(1));
        if lane.inbox.is_none() {
            lane.inbox = ctx.inbox(lane.slot);
        }
        Worker {
            ctx,
            app,
            lane,
            listener,
        }
    }

    /// Accepts and serves connections until shutdown.
    pub(crate) fn run(&mut self) {
        while let Some(listener) = self.listener.clone() {
            let accepted = self.ctx.accept(&listener);
            drop(listener);
            match accepted {
                Some((stream, peer)) => self.serve(stream, peer),
                None => self.listener = None,
            }
        }
        self.publish(0);
    }

    /// Gives the lane back (for the next connection thread).
    pub(crate) fn into_lane(mut self) -> Lane<Z> {
        self.lane.totals = *self.app.totals();
        self.lane
    }

    /// Publishes the lane's numbers.
    fn publish(&self, open: u64) {
        let lane = &self.lane;
        self.ctx
            .handle
            .publish(lane.slot, lane.accepted, open, self.app.totals());
    }

    /// Serves one connection until it closes, its peer fails, or the grace
    /// period after a shutdown ends.
    pub(crate) fn serve(&mut self, stream: TcpStream, peer: SocketAddr) {
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.ctx.tls {
            return self.serve_over(tls, stream, peer);
        }
        self.serve_over(&Plain, stream, peer);
    }

    /// Serves one connection over `transport` (plain TCP, or TLS).
    fn serve_over<T: Transport>(&mut self, transport: &T, stream: TcpStream, peer: SocketAddr) {
        self.lane.accepted += 1;
        self.publish(1);
        // Responses go out whole: Nagle's algorithm would only add delay.
        let _ = stream.set_nodelay(true);
        let ctx = self.ctx;
        let Worker { app, lane, .. } = self;
        let Lane { bufs, inbox, .. } = lane;
        let Some(bufs) = bufs.as_deref_mut().and_then(|pool| pool.first_mut()) else {
            return;
        };
        let Ok(mut session) = transport.open(ctx.clock.now()) else {
            // The layer cannot take it: closed unserved.
            self.publish(0);
            return;
        };
        let mut socket = StdSocket::new(stream, ctx.clock, &ctx.handle, ctx.alarm(lane.slot));
        let mut conn = Connection::<Z>::new(ctx.config, Some(peer), ctx.clock.now());
        if let Some(inbox) = inbox {
            conn.set_id(inbox.open());
        }
        // When this connection learnt of the shutdown.
        let mut draining: Option<u64> = None;
        // Polls in a row that produced nothing to send.
        let mut starved = 0u32;
        loop {
            let now = ctx.clock.now();
            app.refresh_date();
            if conn.is_closed() || conn.is_hijacked() {
                break;
            }
            if session.deadline().is_some_and(|deadline| deadline <= now) {
                // The layer's own deadline (a TLS handshake not done in
                // time).
                app.counters().timeouts += 1;
                break;
            }
            match draining {
                None if ctx.handle.is_shutting_down() => {
                    // The grace period runs from the shutdown, however
                    // late this connection was taken from the backlog.
                    draining = Some(ctx.shutdown_began(now));
                    // Requests that reached the socket before shutdown are
                    // answered: read what is there without waiting, then
                    // let the connection decide whether it is idle.
                    if socket.set_nonblocking(true).is_ok() {
                        socket.limit(u64::MAX, u64::MAX, false);
                        let mut layered = session.wrap(&mut socket);
                        let result =
                            app.wind_down(&mut conn, bufs, &mut layered, Mode::Blocking, now);
                        drop(layered);
                        if result.is_err() || socket.set_nonblocking(false).is_err() {
                            break;
                        }
                    } else {
                        conn.drain();
                        conn.shutdown(now);
                    }
                    continue;
                }
                Some(since) if now >= since.saturating_add(ctx.grace_ms) => break,
                _ => {}
            }
            if let Some(inbox) = inbox {
                // What other threads posted since the last look.
                inbox.take(app, &mut conn, bufs, now);
            }
            if app.fire_due_timeout(&mut conn, bufs, now) {
                continue;
            }
            let polled = inbox.is_none();
            if !poll_waiting_body(app, &mut conn, bufs, now, &mut starved, polled) {
                break;
            }
            let deadline = earliest(conn.poll_timeout(), session.deadline()).unwrap_or(u64::MAX);
            let grace_end = draining.map_or(u64::MAX, |since| since.saturating_add(ctx.grace_ms));
            socket.limit(
                now.saturating_add(POLL_MS),
                deadline.min(grace_end),
                draining.is_none(),
            );
            let mut ready = Readiness {
                readable: true,
                writable: true,
                hangup: false,
            };
            let result = app.drive(
                &mut conn,
                bufs,
                &mut session.wrap(&mut socket),
                &mut ready,
                Mode::Blocking,
                now,
            );
            ctx.handle
                .publish(lane.slot, lane.accepted, 1, app.totals());
            if result.is_err() {
                break;
            }
            if conn.is_http2() {
                // The client opened with the HTTP/2 preface.
                let mut layer = Layer {
                    socket: &mut socket,
                    session: &mut session,
                    slot: lane.slot,
                    accepted: lane.accepted,
                };
                serve_http2(ctx, app, bufs, &mut layer, &conn, inbox.as_mut(), draining);
                break;
            }
            let idle = conn.interest() == Interest::default() && !session.has_pending_output();
            if !conn.is_closed() && !conn.has_work() && idle {
                // Waiting for nothing but a deadline or a post (a deferred
                // response, a parked stream): sleep rather than spin.
                let wait = deadline.min(grace_end).saturating_sub(ctx.clock.now());
                ctx.pause(lane.slot, wait);
            }
        }
        // Responses it still owed end here, and their files close.
        app.retire(&mut conn, ctx.clock.now());
        if let Some(inbox) = inbox {
            inbox.close();
        }
        drop(socket);
        self.publish(0);
    }
}

/// Continues, at `now`, the work `conn` has left: a streamed body whose
/// handler was woken (or, with `polled`, one waiting for the application,
/// `Fill::Pending`, asked again every tick: a server without a sender has
/// nobody to wake it). One whose handler keeps giving nothing is asked
/// with a short wait between (`starved` counts the polls in a row that
/// gave nothing to send). `false` if a handler panicked and the
/// connection is to be closed.
fn poll_waiting_body<H, L, C, Z: Sizes>(
    app: &mut App<'_, H, L>,
    conn: &mut C,
    bufs: &mut IoBuffers<Z>,
    now: u64,
    starved: &mut u32,
    polled: bool,
) -> bool
where
    H: Handler<L>,
    L: Default,
    C: Protocol<Z>,
{
    if polled {
        conn.handle_wake(now);
    }
    if !conn.has_work() {
        *starved = 0;
        return true;
    }
    if !app.poll(conn, bufs, now) {
        return false;
    }
    if conn.interest().write {
        *starved = 0;
    } else {
        *starved = starved.saturating_add(1);
        if *starved > 1 {
            std::thread::sleep(Duration::from_millis(1));
        } else {
            std::thread::yield_now();
        }
    }
    true
}

/// Drives HTTP/2 connection `conn` once over `layer` with its socket
/// non-blocking, so that it reads and takes what reached the socket
/// without waiting; `false` if the connection is to be dropped.
fn read_what_arrived<H, L, S, Z: Sizes>(
    app: &mut App<'_, H, L>,
    conn: &mut Http2Connection<Z>,
    bufs: &mut IoBuffers<Z>,
    layer: &mut Layer<'_, '_, S>,
    now: u64,
) -> bool
where
    H: Handler<L>,
    L: Default,
    S: Session,
{
    if layer.socket.set_nonblocking(true).is_err() {
        return false;
    }
    layer.socket.limit(u64::MAX, u64::MAX, false);
    drive_http2(app, conn, bufs, layer, now).is_ok()
        && layer.socket.set_nonblocking(false).is_ok()
        && !conn.is_closed()
}

/// Drives HTTP/2 connection `conn` over `layer` once, as far as it goes
/// within the socket's limits.
fn drive_http2<H, L, S, Z: Sizes>(
    app: &mut App<'_, H, L>,
    conn: &mut Http2Connection<Z>,
    bufs: &mut IoBuffers<Z>,
    layer: &mut Layer<'_, '_, S>,
    now: u64,
) -> std::io::Result<()>
where
    H: Handler<L>,
    L: Default,
    S: Session,
{
    let mut ready = Readiness {
        readable: true,
        writable: true,
        hangup: false,
    };
    app.drive(
        conn,
        bufs,
        &mut layer.session.wrap(&mut *layer.socket),
        &mut ready,
        Mode::Blocking,
        now,
    )
}

/// A connection's socket and its transport's state.
struct Layer<'s, 'c, S> {
    /// The socket.
    socket: &'s mut StdSocket<'c>,
    /// The transport's state (a TLS connection).
    session: &'s mut S,
    /// The statistics slot of the thread serving it.
    slot: usize,
    /// Connections that thread accepted: published with its numbers.
    accepted: u64,
}

/// Serves, in HTTP/2, a connection whose client opened with the preface
/// `http1` read, until it closes: the same loop as HTTP/1.1's, with
/// deadlines, the shutdown's GOAWAY and its grace period, and the
/// thread's mailbox (`inbox`) for wake-ups. `draining` says when the
/// connection learnt of a shutdown, if it did.
fn serve_http2<H, L, S, Z: Sizes>(
    ctx: &Context,
    app: &mut App<'_, H, L>,
    bufs: &mut IoBuffers<Z>,
    layer: &mut Layer<'_, '_, S>,
    http1: &Connection<Z>,
    mut inbox: Option<&mut Inbox>,
    mut draining: Option<u64>,
) where
    H: Handler<L>,
    L: Default,
    S: Session,
{
    let now = ctx.clock.now();
    // On the heap: about 40 KB, and a thread's stack is the user's choice.
    let Some(mut conn) = Http2Connection::<Z>::take_over(http1, now).map(Box::new) else {
        return;
    };
    let conn = &mut *conn;
    if !app.resume(conn, bufs, now) {
        app.retire(conn, now);
        return;
    }
    // Polls in a row that produced nothing to send.
    let mut starved = 0u32;
    loop {
        let now = ctx.clock.now();
        app.refresh_date();
        if conn.is_closed() {
            break;
        }
        if layer
            .session
            .deadline()
            .is_some_and(|deadline| deadline <= now)
        {
            app.counters().timeouts += 1;
            break;
        }
        match draining {
            None if ctx.handle.is_shutting_down() => {
                draining = Some(ctx.shutdown_began(now));
                // Streams whose requests reached the socket before the
                // shutdown are taken, as HTTP/1.1's requests are: read
                // what is there without waiting, then send the GOAWAY
                // that names the last of them.
                if !read_what_arrived(app, conn, bufs, layer, now)
                    || !app.shut_down(conn, bufs, now)
                {
                    break;
                }
            }
            Some(since) if now >= since.saturating_add(ctx.grace_ms) => break,
            _ => {}
        }
        if let Some(inbox) = inbox.as_deref_mut() {
            inbox.take_http2(app, conn, bufs, now);
        }
        if app.fire_due_timeout(conn, bufs, now) {
            continue;
        }
        if !poll_waiting_body(app, conn, bufs, now, &mut starved, inbox.is_none()) {
            break;
        }
        let deadline = earliest(conn.poll_timeout(), layer.session.deadline()).unwrap_or(u64::MAX);
        let grace_end = draining.map_or(u64::MAX, |since| since.saturating_add(ctx.grace_ms));
        layer.socket.limit(
            now.saturating_add(POLL_MS),
            deadline.min(grace_end),
            draining.is_none(),
        );
        let result = drive_http2(app, conn, bufs, layer, now);
        ctx.handle
            .publish(layer.slot, layer.accepted, 1, app.totals());
        if result.is_err() {
            break;
        }
    }
    app.retire(conn, ctx.clock.now());
}
