//! The sans-IO connection state machine: bytes in, responses out.
//!
//! A [`Connection`] owns no socket, no clock and no memory beyond its own
//! small state. The caller (a backend, or any runtime that embeds the core)
//! lends it an [`IoBuffers`] pair and tells it what happened through the
//! `handle_*` methods — bytes read, bytes written, the peer closed, a
//! deadline passed, the application woke a stream — each with the current
//! time. It asks what the connection wants next through the `poll_*`
//! methods and a few questions: what to write ([`Connection::poll_transmit`]),
//! when to wake it ([`Connection::poll_timeout`]), where to read into
//! ([`Connection::read_buf`]), which readiness to wait for
//! ([`Connection::interest`]), and whether it is done
//! ([`Connection::is_closed`]).
//!
//! After each read the connection parses **every** complete request in the
//! buffer, runs the [`Handler`] for each, and queues all responses, so the
//! caller answers a whole pipeline with one `writev`. Responses stay in
//! request order. When the write side backs up, it stops taking requests
//! (and asks not to read) until the output drains.
//!
//! Its state is one phase enum, each phase holding what only it needs,
//! and its deadlines one [`TimerKind`]-keyed table, set and cleared at the
//! transitions that start and end what each bounds.
//!
//! See the crate root for an example of driving one by hand.

mod config;
mod defer;
mod finish;
pub(crate) mod http;
mod output;
mod phase;
mod publish;
mod suspend;
mod transmit;
mod websocket;

pub use crate::counters::Counters;
pub use crate::id::ConnectionId;
pub use crate::timers::TimerKind;
pub use crate::ws_output::Backpressure;
pub use config::{Config, DeflatePolicy, Env, H2c, Interest, IoBuffers};
pub use publish::PublishError;
pub use suspend::Suspended;
pub use transmit::{MAX_SLICES, Slices, Transmit};

use core::net::SocketAddr;

use crate::send_queue::{Queue, Segment};
use crate::sizes::{DefaultSizes, Sizes};
use crate::timers::TimerTable;
use crate::{FileRegion, Handler, HeadParser};
use phase::{Http, Input, Phase, StreamState, Then};

/// One HTTP/1.1 connection, as a state machine. `Z`, its [`Sizes`], sizes
/// the [`IoBuffers`] it works in and its header table: `Connection` has
/// the [`DefaultSizes`], `Connection<Capacity<READ, WRITE, MAX_HEADERS>>`
/// others (see [`Capacity`](crate::Capacity)).
///
/// A request head must fit the read buffer (else `431`), and a body read
/// whole must fit after it (else `413`). Responses copied into the write
/// buffer may take up to half of it.
#[derive(Debug)]
pub struct Connection<Z: Sizes = DefaultSizes> {
    /// Timeouts and limits.
    config: Config,
    /// The head parser; holds the current request's header table.
    parser: HeadParser<Z::Fields>,
    /// The peer's address, for handlers.
    peer: Option<SocketAddr>,
    /// Start of the bytes of the read buffer not yet consumed.
    read_start: usize,
    /// End of the bytes read.
    read_end: usize,
    /// Output, in order.
    queue: Queue,
    /// End of the used part of the write buffer.
    write_end: usize,
    /// Where the connection is in its life.
    phase: Phase,
    /// The deadlines that run.
    timers: TimerTable,
    /// Requests begun on this connection.
    requests: u32,
    /// The peer shut its write side (a read returned end-of-file).
    peer_closed: bool,
    /// Handled the per-wakeup maximum of requests and has more, or a
    /// stream has more to give: [`has_work`](Self::has_work).
    yielded: bool,
    /// The server is shutting down: no new requests after the current one.
    draining: bool,
    /// The connection's name, for code outside its callbacks.
    id: ConnectionId,
    /// The tag of a streamed body that ended unfinished, reported
    /// aborted when the connection is [retired](Self::retire).
    given_up: Option<u64>,
    /// The part of a written body that outgrew the write buffer, not yet
    /// sent: its blocks go back to the spill as they are sent, or when
    /// the connection is retired.
    spilled: Option<crate::spill::Chain>,
    /// The DEFLATE state a WebSocket took for context takeover, given back
    /// to [`Env::deflate`] when the connection is retired.
    deflate_slot: Option<u16>,
}

impl<Z: Sizes> Connection<Z> {
    /// A new connection, accepted at `now`. Its header timer runs from
    /// now: a peer that sends nothing is closed after
    /// [`Config::header_timeout`].
    ///
    /// Capacities are checked at compile time: a read buffer too small for
    /// a minimal request head, or a write buffer too small for an error
    /// response, does not build.
    ///
    /// ```compile_fail
    /// use peregrine_core::{Capacity, Config, Connection};
    /// // A 64-byte read buffer cannot hold a request head: rejected.
    /// let conn = Connection::<Capacity<64, 4096, 8>>::new(Config::DEFAULT, None, 0);
    /// ```
    pub const fn new(config: Config, peer: Option<SocketAddr>, now: u64) -> Self {
        const {
            assert!(
                Z::READ >= 256,
                "the read buffer must hold at least a minimal request head"
            );
            assert!(
                Z::READ <= u32::MAX as usize,
                "the read buffer must be addressable by u32"
            );
            assert!(
                Z::WRITE >= 1024,
                "the write buffer must hold at least an error response"
            );
            assert!(
                Z::WRITE <= u32::MAX as usize,
                "the write buffer must be addressable by u32"
            );
            assert!(
                Z::MAX_HEADERS >= 1,
                "the header table must hold at least Host"
            );
        }
        let mut timers = TimerTable::new();
        timers.set(TimerKind::Header, now.saturating_add(config.header_timeout));
        Connection {
            config,
            parser: HeadParser::new()
                .with_max_head_len(Z::READ)
                .with_max_target_len(config.max_target_len),
            peer,
            read_start: 0,
            read_end: 0,
            queue: Queue::new(),
            write_end: 0,
            phase: Phase::Http(Http::new()),
            timers,
            requests: 0,
            peer_closed: false,
            yielded: false,
            draining: false,
            id: ConnectionId::new(0, 0),
            given_up: None,
            spilled: None,
            deflate_slot: None,
        }
    }

    /// Names this connection for code outside its callbacks (see
    /// [`ConnectionId`]); a backend sets it once, when it accepts the
    /// connection. Handlers read it with
    /// [`WebSocket::id`](crate::WebSocket::id).
    pub fn set_id(&mut self, id: ConnectionId) {
        self.id = id;
    }

    /// The id set with [`set_id`](Self::set_id) (the default id if none).
    pub fn id(&self) -> ConnectionId {
        self.id
    }

    /// Marks the connection as draining: requests from now on are still
    /// answered, with `Connection: close`, and the connection closes after
    /// the first of them. A backend calls it before reading what is
    /// already in the socket at shutdown, then calls
    /// [`shutdown`](Self::shutdown).
    pub fn drain(&mut self) {
        self.draining = true;
    }

    /// Starts a graceful close: an idle connection closes now; a busy one
    /// finishes the request in hand, says `Connection: close` if its head
    /// is not written yet, and closes after it. A WebSocket connection
    /// sends Close 1001 and waits for the reply.
    ///
    /// A connection that has received nothing since it was accepted is
    /// not idle but new: its first request may be on its way. It waits
    /// for it (answered with `Connection: close`) for a tenth of
    /// [`Config::header_timeout`] at most, or less if its header timer
    /// runs out first, then closes without a word.
    pub fn shutdown(&mut self, now: u64) {
        self.draining = true;
        let Phase::Http(http) = &mut self.phase else {
            if let Phase::WebSocket(_) = self.phase {
                self.shutdown_websocket(now);
            }
            return;
        };
        let partial_head = self.read_end > self.read_start;
        let idle = matches!(http.input, Input::Head)
            && !partial_head
            && self.queue.is_empty()
            && http.stream.is_none();
        if idle {
            let first_request_due = self.requests == 0 && !self.peer_closed;
            match self.timers.get(TimerKind::Header) {
                Some(deadline) if first_request_due => {
                    let wait = now.saturating_add(self.config.header_timeout / 10);
                    self.timers.set(TimerKind::Header, deadline.min(wait));
                }
                _ => self.close_now(),
            }
            return;
        }
        http.then = http.then.or_close();
        if matches!(http.input, Input::Head) && partial_head {
            // A partial head: let it complete and be answered, then close.
            return;
        }
        if !matches!(http.input, Input::Body { .. }) {
            http.input = Input::Stopped;
        }
        self.finish_if_drained(now);
    }

    /// Where to read into: the free tail of the read buffer. Never empty
    /// while the connection wants to read.
    #[inline(always)]
    pub fn read_buf<'b>(&mut self, bufs: &'b mut IoBuffers<Z>) -> &'b mut [u8] {
        match &mut self.phase {
            Phase::WebSocket(state) => return state.session.read_buf(&mut bufs.read[..]),
            Phase::Lingering => {
                self.read_start = 0;
                self.read_end = 0;
            }
            Phase::Http(http)
                if matches!(http.input, Input::Head | Input::Discard { .. })
                    && self.read_start > 0 =>
            {
                // Move a partial head (or undiscarded body bytes) to the
                // front, so it can use the whole buffer; the parser's
                // offsets are relative to its start.
                bufs.read[..].copy_within(self.read_start..self.read_end, 0);
                self.read_end -= self.read_start;
                self.read_start = 0;
            }
            _ => {}
        }
        &mut bufs.read[self.read_end..]
    }

    /// Records that `n` bytes were read into [`read_buf`](Self::read_buf)
    /// at `env.now`, and handles every request they complete.
    #[inline(always)]
    pub fn handle_read<H: Handler<L>, L: Default>(
        &mut self,
        n: usize,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) {
        let now = env.now;
        match &mut self.phase {
            Phase::Lingering => return,
            Phase::WebSocket(state) => {
                state.session.on_read(n);
                if n > 0 && state.session.can_send() {
                    self.restart_websocket_timers(now);
                }
            }
            Phase::Http(http) => {
                if n > 0 && matches!(http.input, Input::Body { .. } | Input::Discard { .. }) {
                    self.timers.set(
                        TimerKind::Body,
                        now.saturating_add(self.config.body_timeout),
                    );
                }
                self.read_end = (self.read_end + n).min(Z::READ);
            }
            _ => self.read_end = (self.read_end + n).min(Z::READ),
        }
        self.poll(bufs, env);
        if n > 0 && self.read_end > self.read_start && self.is_reading_head() {
            // Part of a head is left, whose first byte came with this read
            // or before: the connection is no longer idle, and the head
            // gets its time (kept if it already runs). A head complete in
            // the read that began it never starts the timer.
            self.timers.clear(TimerKind::Idle);
            self.timers.set_if_unset(
                TimerKind::Header,
                now.saturating_add(self.config.header_timeout),
            );
        }
    }

    /// Records that the peer shut its write side (a read returned 0) at
    /// `env.now`. Responses to requests already received are still sent.
    pub fn handle_read_closed<H: Handler<L>, L: Default>(&mut self, env: &mut Env<'_, H, L>) {
        let now = env.now;
        self.peer_closed = true;
        match &self.phase {
            Phase::Lingering => self.close_now(),
            // A stream waiting for the application has a peer that left:
            // no one would read what it might send.
            Phase::Http(http) if http.waits_for_application() => self.close_now(),
            Phase::Http(http) => {
                // Requests already received are still answered (`poll`
                // stops once only a partial one is left); a body or a
                // partial head can never complete. Complete requests are
                // left only if the last `poll` stopped early (per-wakeup
                // maximum, output backed up).
                let complete_left = self.yielded || !self.can_respond();
                if !matches!(http.input, Input::Head)
                    || self.read_end == self.read_start
                    || !complete_left
                {
                    self.stop_reading(now);
                }
            }
            Phase::WebSocket(_) => self.stop_reading(now),
            _ => {}
        }
    }

    /// The output to write next.
    #[inline]
    pub fn poll_transmit<'b>(&'b self, bufs: &'b IoBuffers<Z>) -> Transmit<'b> {
        if let Phase::ClosingWrite = self.phase {
            return Transmit::CloseWrite;
        }
        match self.queue.front() {
            None => Transmit::Idle,
            Some(Segment::File(span)) => Transmit::SendFile(FileRegion::from_span(*span, false)),
            Some(Segment::KeptFile(span)) => Transmit::SendFile(FileRegion::from_span(*span, true)),
            Some(_) => Transmit::Write(Slices::new(&self.queue, &bufs.write[..])),
        }
    }

    /// Records that `n` bytes of what [`poll_transmit`](Self::poll_transmit)
    /// offered were written at `env.now`, refills streamed bodies, and
    /// takes further pipelined requests if the output had backed up (not
    /// if the connection [has work](Self::has_work) left for the caller's
    /// next [`poll`](Self::poll)).
    #[inline(always)]
    pub fn handle_written<H: Handler<L>, L: Default>(
        &mut self,
        n: usize,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) {
        let now = env.now;
        if !self.queue.consume_all(n as u64) {
            self.consume_in_parts(n as u64, env);
        }
        if self.queue.is_empty() {
            self.write_end = 0;
            if let Phase::Http(http) = &self.phase {
                if http.stream.is_none()
                    && self.read_end == self.read_start
                    && matches!(http.input, Input::Head)
                    && !self.peer_closed
                {
                    // The usual end of a keep-alive exchange: nothing read,
                    // nothing to write, nothing to stream, so a poll would
                    // find nothing to do.
                    self.yielded = false;
                    if http.then == Then::KeepAlive {
                        // Idle from now: the one timer that runs.
                        self.timers.only(
                            TimerKind::Idle,
                            now.saturating_add(self.config.idle_timeout),
                        );
                    } else {
                        self.finish_if_drained(now);
                    }
                    return;
                }
                let streaming = http
                    .stream
                    .is_some_and(|stream| stream.state == StreamState::Filling);
                if !streaming {
                    self.timers.clear(TimerKind::Write);
                }
            } else {
                self.timers.clear(TimerKind::Write);
            }
        } else if n > 0 {
            self.timers.set(
                TimerKind::Write,
                now.saturating_add(self.config.write_timeout),
            );
        }
        // A connection that yielded (it handled its per-wakeup maximum, or
        // its stream had nothing ready) waits for the caller's next `poll`,
        // after other connections had their turn.
        if !self.yielded {
            self.poll(bufs, env);
        }
    }

    /// Records that the caller shut the write side at `env.now`, after
    /// [`Transmit::CloseWrite`]; the connection now lingers.
    pub fn handle_write_closed<H: Handler<L>, L: Default>(&mut self, env: &mut Env<'_, H, L>) {
        let now = env.now;
        if let Phase::ClosingWrite = self.phase {
            if self.peer_closed {
                self.close_now();
            } else {
                self.phase = Phase::Lingering;
                self.timers.clear_all();
                self.timers.set(
                    TimerKind::Linger,
                    now.saturating_add(self.config.linger_timeout),
                );
            }
        }
    }

    /// Continues work left from an earlier call: requests beyond the
    /// per-wakeup maximum, or a streamed body. Call it when
    /// [`has_work`](Self::has_work) says so, after serving others.
    pub fn poll<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) {
        self.yielded = false;
        let mut handled = 0;
        while let Phase::Http(http) = &self.phase {
            if http.stream.is_some() {
                self.fill_stream(bufs, env);
                match &self.phase {
                    Phase::Http(http) if http.stream.is_none() => {}
                    _ => break,
                }
            }
            let Phase::Http(http) = &self.phase else {
                break;
            };
            if http.then == Then::Hijack {
                break;
            }
            let proceed = match http.input {
                Input::Head => {
                    if self.read_end == self.read_start {
                        self.stop_if_peer_closed(env.now);
                        break;
                    }
                    if !self.can_respond() {
                        break;
                    }
                    if handled == self.config.max_requests_per_wakeup {
                        self.yielded = true;
                        break;
                    }
                    handled += 1;
                    let begun = self.read_head(bufs, env);
                    if !begun && self.is_reading_head() {
                        // Only a partial head is left.
                        self.stop_if_peer_closed(env.now);
                    }
                    begun
                }
                Input::Body { .. } => self.read_body(bufs, env),
                Input::Discard { .. } => self.discard_body(bufs, env.now),
                Input::Stopped => false,
            };
            if !proceed {
                break;
            }
        }
        if let Phase::WebSocket(_) = self.phase {
            self.run_websocket(bufs, env);
        }
        self.finish_if_drained(env.now);
    }

    /// Handles the deadlines that passed by `env.now` (call when it
    /// reaches [`poll_timeout`](Self::poll_timeout)), earliest first, each
    /// by its [`TimerKind`]; a timeout, or the error it answers, is
    /// counted in `env.counters`.
    ///
    /// A timeout that writes (a `408`, a Ping, a Close; see
    /// [`timeout_writes`](Self::timeout_writes)) writes into `bufs`, so the
    /// caller lends the connection its buffers first.
    pub fn handle_timeout<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) {
        let (now, counters) = (env.now, &mut *env.counters);
        while let Some(kind) = self.timers.expired(now) {
            self.timers.clear(kind);
            match kind {
                TimerKind::Header | TimerKind::Body => {
                    self.request_timeout(bufs, kind, now, counters)
                }
                TimerKind::Idle | TimerKind::Linger | TimerKind::CloseWait => self.close_now(),
                TimerKind::ParkedStream if self.is_deferred() => {
                    self.answer_unavailable(bufs, now, counters);
                }
                TimerKind::Write | TimerKind::ParkedStream => {
                    if matches!(self.phase, Phase::Http(_) | Phase::WebSocket(_)) {
                        // The peer does not read what it asked for, or the
                        // application never finished a stream.
                        counters.timeouts += 1;
                    }
                    self.close_now();
                }
                TimerKind::WebSocketIdle | TimerKind::Ping => {
                    self.websocket_timeout(bufs, kind, now);
                }
            }
            if matches!(self.phase, Phase::Closed | Phase::Hijacked | Phase::Http2) {
                return;
            }
        }
    }

    /// Whether handling the deadline due at `now` writes something (a
    /// `408` to a stalled request, a Ping or a Close to a silent WebSocket
    /// peer): the caller then lends the connection its buffers before
    /// [`handle_timeout`](Self::handle_timeout), waiting for a pair if
    /// none is free. Other deadlines only close the connection.
    pub fn timeout_writes(&self, now: u64) -> bool {
        match self.timers.expired(now) {
            Some(TimerKind::Header) => self.read_end > self.read_start,
            Some(TimerKind::Body | TimerKind::WebSocketIdle | TimerKind::Ping) => true,
            Some(TimerKind::ParkedStream) => self.is_deferred(),
            _ => false,
        }
    }

    /// When the connection next needs [`handle_timeout`](Self::handle_timeout):
    /// the earliest timer that runs, or `None` if it waits for nothing.
    #[inline(always)]
    pub fn poll_timeout(&self) -> Option<u64> {
        match self.phase {
            Phase::Closed | Phase::Hijacked | Phase::Http2 => None,
            _ => self.timers.next(),
        }
    }

    /// When the timer of `kind` expires, if it runs.
    ///
    /// ```
    /// use peregrine_core::{Capacity, Config, Connection, TimerKind};
    ///
    /// let conn = Connection::<Capacity<1024, 2048, 8>>::new(Config::DEFAULT, None, 5);
    /// // The header timer runs from the accept.
    /// assert_eq!(conn.timer(TimerKind::Header), Some(5 + Config::DEFAULT.header_timeout));
    /// assert_eq!(conn.timer(TimerKind::Idle), None);
    /// ```
    pub fn timer(&self, kind: TimerKind) -> Option<u64> {
        self.timers.get(kind)
    }

    /// Which readiness to wait for.
    pub fn interest(&self) -> Interest {
        let write = !self.queue.is_empty();
        match &self.phase {
            Phase::Http(http) => Interest {
                // A response waiting for the application (a parked
                // stream, a deferred answer) keeps reading, to see its
                // peer leave.
                read: !matches!(http.input, Input::Stopped)
                    && !self.peer_closed
                    && http.then != Then::Hijack
                    && self.read_end - self.reclaimable(&http.input) < Z::READ
                    && (!matches!(http.input, Input::Head)
                        || self.can_respond_in(http)
                        || http.waits_for_application()),
                write,
            },
            Phase::WebSocket(state) => Interest {
                read: !self.peer_closed && state.session.wants_read(),
                write,
            },
            Phase::ClosingWrite => Interest {
                read: false,
                write: true,
            },
            Phase::Lingering => Interest {
                read: true,
                write: false,
            },
            Phase::Closed | Phase::Hijacked | Phase::Http2 => Interest::default(),
        }
    }

    /// Whether the connection has something to write: the write half of
    /// [`interest`](Self::interest), for a caller that asks only that.
    #[inline]
    pub fn wants_write(&self) -> bool {
        !self.queue.is_empty() || matches!(self.phase, Phase::ClosingWrite)
    }

    /// Whether work is left that no IO event will prompt: call
    /// [`poll`](Self::poll) again after serving other connections.
    pub fn has_work(&self) -> bool {
        self.yielded
    }

    /// Resumes, at `now`, a streamed body whose handler answered
    /// [`Fill::Pending`](crate::Fill::Pending): [`has_work`](Self::has_work)
    /// becomes true and the next [`poll`](Self::poll) asks
    /// [`Handler::fill_body`] again. Does nothing otherwise (a wake-up that
    /// arrives late is harmless).
    pub fn handle_wake(&mut self, now: u64) {
        if let Phase::Http(Http {
            stream: Some(stream),
            ..
        }) = &mut self.phase
        {
            if stream.state == StreamState::Parked {
                stream.state = StreamState::Filling;
                self.yielded = true;
                self.timers.clear(TimerKind::ParkedStream);
                self.timers.set(
                    TimerKind::Write,
                    now.saturating_add(self.config.write_timeout),
                );
            }
        }
    }

    /// Whether a streamed body waits for [`handle_wake`](Self::handle_wake).
    pub fn is_parked(&self) -> bool {
        matches!(&self.phase, Phase::Http(http) if http.is_parked())
    }

    /// Whether the connection is an HTTP connection between requests: it
    /// keeps the connection open, has read nothing of the next request,
    /// has nothing to write or stream, and the server is not draining. A
    /// backend may close such a connection to make room for a new one.
    pub fn is_idle(&self) -> bool {
        self.between_requests() && !self.draining && !self.peer_closed
    }

    /// Whether an HTTP connection that stays open has nothing in hand:
    /// nothing read of the next request, nothing to write or stream.
    fn between_requests(&self) -> bool {
        // The queue first: just after a request it holds the response.
        self.queue.is_empty()
            && matches!(
                &self.phase,
                Phase::Http(Http {
                    input: Input::Head,
                    stream: None,
                    then: Then::KeepAlive
                })
            )
            && self.read_end == self.read_start
    }

    /// When the connection holds part of a request head and nothing else
    /// (no response queued, no body streamed): the deadline of its header
    /// timer, which tells how long the head has been coming. A caller
    /// short of buffers may send such a connection away with
    /// [`shed_head`](Self::shed_head); `None` for any other connection.
    pub fn partial_head_deadline(&self) -> Option<u64> {
        match &self.phase {
            Phase::Http(Http {
                input: Input::Head,
                stream: None,
                ..
            }) if self.read_end > self.read_start && self.queue.is_empty() => {
                self.timers.get(TimerKind::Header)
            }
            _ => None,
        }
    }

    /// When the connection has received nothing since it was accepted: the
    /// deadline of its header timer (the accept plus the header timeout),
    /// which tells how long it has been silent. A caller short of room
    /// may close such a connection as it would an idle one; `None` for
    /// any other connection.
    pub fn silent_deadline(&self) -> Option<u64> {
        if self.requests == 0 && self.between_requests() {
            self.timers.get(TimerKind::Header)
        } else {
            None
        }
    }

    /// Answers a partial request head `408` now, as its header timer
    /// would, and closes once that is out: the caller needs its buffers
    /// for another connection (see
    /// [`partial_head_deadline`](Self::partial_head_deadline)). Does
    /// nothing to any other connection.
    pub fn shed_head(&mut self, bufs: &mut IoBuffers<Z>, now: u64, counters: &mut Counters) {
        if self.partial_head_deadline().is_some() {
            self.timers.clear(TimerKind::Header);
            self.fail(bufs, crate::Error::RequestTimeout, now, counters);
        }
    }

    /// Whether the buffers hold state: if not, the caller may return them
    /// to its pool and lend any pair next time.
    #[inline(always)]
    pub fn holds_buffers(&self) -> bool {
        let (input_holds, streaming) = match &self.phase {
            Phase::WebSocket(state) => {
                return state.session.holds_buffer() || !self.queue.is_empty();
            }
            // A parked stream with nothing queued holds nothing: the
            // buffers it writes into when woken can be any pair.
            Phase::Http(http) => (
                !matches!(http.input, Input::Head | Input::Stopped),
                http.stream.is_some() && !http.is_parked(),
            ),
            _ => (false, false),
        };
        self.read_end > self.read_start
            || !self.queue.is_empty()
            || streaming
            || input_holds
            || !self.parser.is_idle()
    }

    /// Answers for a handler callback that panicked during the last call
    /// (the caller caught the panic where it can: `std::panic::catch_unwind`
    /// around its calls into the connection), and counts it in
    /// `counters.handler_panics`. The connection makes what it can of its
    /// state, then closes:
    ///
    /// - the request in hand has no response yet (every response is queued
    ///   whole when [`Handler::handle`] returns, and the callbacks before it
    ///   come before it): it is answered `500 Internal Server Error`, after
    ///   the responses queued before it;
    /// - a streamed body was being filled: what was queued goes out, and
    ///   the body is left unfinished (as with [`Fill::Abort`](crate::Fill::Abort));
    /// - a WebSocket: Close `1011`, then the usual wait for the reply.
    ///
    /// The buffers are those the failed call had.
    pub fn handle_panic(&mut self, bufs: &mut IoBuffers<Z>, now: u64, counters: &mut Counters) {
        counters.handler_panics += 1;
        self.yielded = false;
        match &self.phase {
            Phase::Http(http) if http.stream.is_some() => self.abort_stream(now),
            Phase::Http(_) => {
                counters.response(500);
                self.queue_error(bufs, crate::StatusCode::INTERNAL_SERVER_ERROR, None, now);
            }
            Phase::WebSocket(_) => self.fail_websocket(now),
            _ => self.close_now(),
        }
    }

    /// Whether the connection is over: the caller closes the socket.
    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed)
    }

    /// Whether the handler took the connection over; the socket is the
    /// application's now, with [`leftover`](Self::leftover) bytes already
    /// read from it.
    pub fn is_hijacked(&self) -> bool {
        matches!(self.phase, Phase::Hijacked)
    }

    /// The read buffer's unread bytes, the configuration, the peer and the
    /// name, for the HTTP/2 connection taking over (see
    /// [`is_http2`](Self::is_http2)).
    pub(crate) fn handover(
        &self,
    ) -> (
        core::ops::Range<usize>,
        Config,
        Option<SocketAddr>,
        ConnectionId,
    ) {
        (
            self.read_start..self.read_end,
            self.config,
            self.peer,
            self.id,
        )
    }

    /// Whether the client opened with the HTTP/2 preface (with
    /// [`Config::h2c`] on): the caller goes on with an
    /// [`h2::server::ServerConnection`](crate::h2::server::ServerConnection),
    /// giving it [`leftover`](Self::leftover) as the first bytes read.
    pub fn is_http2(&self) -> bool {
        matches!(self.phase, Phase::Http2)
    }

    /// Bytes read beyond the last request (after a hijack, the first bytes
    /// of the new protocol).
    pub fn leftover<'b>(&self, bufs: &'b IoBuffers<Z>) -> &'b [u8] {
        &bufs.read[self.read_start..self.read_end]
    }

    /// Ends the connection now: the caller closes the socket.
    fn close_now(&mut self) {
        self.give_up_stream();
        self.phase = Phase::Closed;
        self.timers.clear_all();
    }

    /// Stops reading requests and closes once the output drains.
    fn stop_reading(&mut self, now: u64) {
        // A request body cut short here never completes.
        self.give_up_stream();
        if let Phase::Http(http) = &mut self.phase {
            http.input = Input::Stopped;
            http.then = http.then.or_close();
            self.timers.clear(TimerKind::Header);
            self.timers.clear(TimerKind::Body);
            self.timers.clear(TimerKind::Idle);
        }
        self.finish_if_drained(now);
    }

    /// After the peer shut its write side, no request can complete any
    /// more: stop.
    fn stop_if_peer_closed(&mut self, now: u64) {
        if self.peer_closed {
            self.stop_reading(now);
        }
    }

    /// Whether an HTTP connection is reading a request head.
    /// (Not while a response waits for the application: a head that
    /// arrives then is the client's next request, waiting on the server.)
    fn is_reading_head(&self) -> bool {
        matches!(
            &self.phase,
            Phase::Http(http @ Http {
                input: Input::Head,
                ..
            }) if !http.waits_for_application()
        )
    }

    /// Bytes at the front of the read buffer that [`read_buf`](Self::read_buf)
    /// can reclaim.
    fn reclaimable(&self, input: &Input) -> usize {
        match input {
            Input::Head | Input::Discard { .. } => self.read_start,
            _ => 0,
        }
    }

    /// Whether a new response may be started: nothing is streaming and
    /// the previous responses left room.
    fn can_respond(&self) -> bool {
        match &self.phase {
            Phase::Http(http) => self.can_respond_in(http),
            _ => self.output_has_room(),
        }
    }

    /// [`can_respond`](Self::can_respond), for the HTTP phase in hand.
    #[inline]
    fn can_respond_in(&self, http: &Http) -> bool {
        http.stream.is_none() && self.output_has_room()
    }

    /// Whether the output queue and the write buffer have room for a
    /// response.
    #[inline]
    fn output_has_room(&self) -> bool {
        self.queue.free() >= 4 && (self.write_end == 0 || Z::WRITE - self.write_end >= Z::WRITE / 2)
    }

    /// Starts the idle timer if the connection just became idle between
    /// requests (the one transition into idleness).
    fn start_idle_if_idle(&mut self, now: u64) {
        if self.between_requests() && !self.timers.is_set(TimerKind::Idle) {
            self.timers.only(
                TimerKind::Idle,
                now.saturating_add(self.config.idle_timeout),
            );
        }
    }

    /// Moves on once the output drained: to closing, or to a hand-over.
    fn finish_if_drained(&mut self, now: u64) {
        if !self.queue.is_empty() {
            return;
        }
        let then = match &self.phase {
            Phase::Http(http) if http.stream.is_none() => http.then,
            Phase::WebSocket(state) => {
                let session = &state.session;
                if self.peer_closed || session.is_finished() || !session.wants_read() {
                    Then::Close
                } else {
                    Then::KeepAlive
                }
            }
            _ => Then::KeepAlive,
        };
        match then {
            Then::KeepAlive => {}
            Then::Hijack => {
                self.phase = Phase::Hijacked;
                self.timers.clear_all();
            }
            Then::Close => {
                self.phase = Phase::ClosingWrite;
                self.timers.clear_all();
                // The caller shuts the write side as soon as it is told to.
                self.timers.set(
                    TimerKind::Write,
                    now.saturating_add(self.config.write_timeout),
                );
            }
        }
    }
}
