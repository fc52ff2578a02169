//! The sans-IO connection state machine: bytes in, responses out.
//!
//! A [`Connection`] owns no socket, no clock and no memory beyond its own
//! small state. The caller (a backend, or any runtime that embeds the core)
//! lends it an [`IoBuffers`] pair, tells it what happened — bytes read,
//! bytes written, the peer closed, the time passed a deadline — and asks
//! what it wants next: where to read into ([`Connection::read_buf`]), what
//! to write ([`Connection::transmit`]), which readiness to wait for
//! ([`Connection::interest`]), when to wake it ([`Connection::deadline`]),
//! and whether it is done ([`Connection::is_closed`]).
//!
//! After each read the connection parses **every** complete request in the
//! buffer, runs the [`Handler`] for each, and queues all responses, so the
//! caller answers a whole pipeline with one `writev`. Responses stay in
//! request order. When the write side backs up, it stops taking requests
//! (and asks not to read) until the output drains.
//!
//! See the crate root for an example of driving one by hand.

mod id;
mod queue;
mod websocket;

pub use id::ConnectionId;
pub(crate) use websocket::{Output, WebSocketState};

use core::net::SocketAddr;

use crate::chunked::ChunkedDecoder;
use crate::date::DateCache;
use crate::handler::{BodySource, Completed};
use crate::response::{self, CHUNK_HEADER_MAX, Context, ResponseEncoder, ResponseFraming};
use crate::ws;
use crate::{
    BodyFraming, BodyPolicy, Error, FileRegion, Fill, Handler, Method, Parsed, Request,
    RequestParser, Response, StatusCode, Upgrade,
};
use queue::{Queue, Segment};

/// Timeouts and limits of a connection. All times are in milliseconds of
/// the caller's monotonic clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// From the first byte of a request head until it is complete; a head
    /// not complete in time is answered `408` and the connection closed
    /// (slowloris defence). Default 10 s.
    pub header_timeout: u64,
    /// Between two reads of a request body; a stalled body is answered
    /// `408`. Default 30 s.
    pub body_timeout: u64,
    /// How long an idle keep-alive connection is kept; it is then closed
    /// silently. Default 60 s.
    pub idle_timeout: u64,
    /// How long output may wait for the peer to read; then the connection
    /// is dropped. Default 30 s.
    pub write_timeout: u64,
    /// After the last response of a closing connection, how long to read
    /// and discard what the peer still sends, so that it receives the
    /// response rather than a reset. Default 2 s.
    pub linger_timeout: u64,
    /// Requests served on one connection; the last says
    /// `Connection: close`. Default 10,000.
    pub max_requests: u32,
    /// Requests handled per call before the connection yields to others
    /// ([`Connection::has_work`]). Default 64.
    pub max_requests_per_wakeup: u32,
    /// Largest body read whole into memory (also bounded by the read
    /// buffer); larger ones are answered `413`. Default: the read buffer.
    pub max_body_len: u64,
    /// Longest request-target; longer ones are answered `414`. Default 8 KiB.
    pub max_target_len: usize,
    /// How long a WebSocket connection may go without a frame from the
    /// peer; it is then closed with `1001`. Default 5 minutes.
    pub websocket_idle_timeout: u64,
    /// Sends a Ping when the peer has been silent this long (0: never).
    /// Default 0.
    pub websocket_ping_interval: u64,
    /// What a WebSocket send does when the connection's write buffer (its
    /// outbound budget) is full: `false`, the send fails with
    /// [`SendError::BufferFull`](crate::ws::SendError::BufferFull) and the
    /// connection stays; `true`, the connection is also closed with 1008
    /// (policy violation) — for peers that must keep up. Default `false`.
    pub websocket_close_on_backpressure: bool,
}

impl Config {
    /// The defaults listed on each field.
    pub const DEFAULT: Config = Config {
        header_timeout: 10_000,
        body_timeout: 30_000,
        idle_timeout: 60_000,
        write_timeout: 30_000,
        linger_timeout: 2_000,
        max_requests: 10_000,
        max_requests_per_wakeup: 64,
        max_body_len: u64::MAX,
        max_target_len: crate::DEFAULT_MAX_TARGET_LEN,
        websocket_idle_timeout: 300_000,
        websocket_ping_interval: 0,
        websocket_close_on_backpressure: false,
    };
}

impl Default for Config {
    fn default() -> Self {
        Config::DEFAULT
    }
}

/// The two buffers a connection works in while it has bytes in flight:
/// requests are read into `read` (heads and bodies stay there while they
/// are handled) and responses are written from `write`.
///
/// A backend keeps a pool of these, allocated once, and lends one to a
/// connection only while [`Connection::holds_buffers`] says it must: an
/// idle keep-alive connection holds none.
pub struct IoBuffers<const READ: usize, const WRITE: usize> {
    /// Where requests are read into.
    pub read: [u8; READ],
    /// Where responses are written from.
    pub write: [u8; WRITE],
}

impl<const READ: usize, const WRITE: usize> IoBuffers<READ, WRITE> {
    /// Zeroed buffers.
    pub const fn new() -> Self {
        IoBuffers {
            read: [0; READ],
            write: [0; WRITE],
        }
    }
}

impl<const READ: usize, const WRITE: usize> Default for IoBuffers<READ, WRITE> {
    fn default() -> Self {
        Self::new()
    }
}

/// What the caller gives a connection each time it drives it.
pub struct Env<'e, H, L> {
    /// The application.
    pub handler: &'e H,
    /// The worker's state for the handler.
    pub local: &'e mut L,
    /// The worker's cached `Date` line, if responses should carry one.
    pub date: Option<&'e DateCache>,
    /// The current time, in milliseconds of a monotonic clock.
    pub now: u64,
    /// Where the connection counts what it does, usually the worker's
    /// totals: adding there as it happens costs nothing per request beyond
    /// the additions themselves.
    pub counters: &'e mut Counters,
}

/// What connections did, for a server's statistics: counted into the
/// [`Env::counters`] of the call that did it (and, for a deadline, the
/// counters given to [`Connection::on_timeout`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Requests whose head was complete.
    pub requests: u64,
    /// Responses by class: `[1xx, 2xx, 3xx, 4xx, 5xx]` (interim `100
    /// Continue` included).
    pub responses: [u64; 5],
    /// Requests refused as malformed or over a limit (4xx/5xx from the
    /// protocol layer, not from the handler).
    pub parse_errors: u64,
    /// Requests that stalled (`408`) and peers that stopped reading.
    pub timeouts: u64,
}

impl Counters {
    /// Counts a response with `status`.
    #[inline]
    pub(crate) fn response(&mut self, status: u16) {
        if let Some(class) = self
            .responses
            .get_mut(usize::from(status / 100).wrapping_sub(1))
        {
            *class += 1;
        }
    }
}

/// Which readiness a connection waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Interest {
    /// Wants to read.
    pub read: bool,
    /// Has output to write.
    pub write: bool,
}

/// What the caller should do with the socket next; see
/// [`Connection::transmit`].
#[derive(Clone, Debug)]
pub enum Transmit<'b> {
    /// Nothing to write.
    Idle,
    /// Write these slices, in order (one `writev`), then report how many
    /// bytes went out with [`Connection::on_written`].
    Write(Slices<'b>),
    /// Send this file region (`sendfile`), then report the bytes sent with
    /// [`Connection::on_written`].
    SendFile(FileRegion),
    /// Shut down the write side of the socket (the response is complete,
    /// the connection is closing), then call
    /// [`Connection::on_write_closed`]; keep reading until the peer closes
    /// or the linger deadline passes.
    CloseWrite,
}

/// The slices of a [`Transmit::Write`], in order: an iterator, so the
/// caller builds its `iovec` array (or whatever its API takes) in one
/// pass, with nothing to initialise first.
#[derive(Clone, Debug)]
pub struct Slices<'b> {
    /// Segments not yet returned, front half of the ring.
    front: &'b [Segment],
    /// Then the back half.
    back: &'b [Segment],
    /// The write buffer that buffer segments point into.
    write: &'b [u8],
}

impl<'b> Slices<'b> {
    /// The whole output when it is one slice (the usual response: its head
    /// and a small body in the write buffer), so the caller can make a plain
    /// `send` of it; `None` when there are more.
    #[inline]
    pub fn single(&self) -> Option<&'b [u8]> {
        match (self.front, self.back) {
            ([segment], []) | ([], [segment]) => match *segment {
                Segment::Buffer { start, end } => self.write.get(start as usize..end as usize),
                Segment::Static(bytes) => Some(bytes),
                Segment::File(_) => None,
            },
            _ => None,
        }
    }
}

impl<'b> Iterator for Slices<'b> {
    type Item = &'b [u8];

    #[inline]
    fn next(&mut self) -> Option<&'b [u8]> {
        if self.front.is_empty() {
            self.front = core::mem::take(&mut self.back);
        }
        let (segment, rest) = self.front.split_first()?;
        self.front = rest;
        match *segment {
            Segment::Buffer { start, end } => Some(&self.write[start as usize..end as usize]),
            Segment::Static(bytes) => Some(bytes),
            // A file region goes out on its own, after the slices before it.
            Segment::File(_) => {
                self.front = &[];
                self.back = &[];
                None
            }
        }
    }
}

/// Runs the handler for `request`, its response written at the start of
/// `out` (the free part of the write buffer), and reports what to queue.
///
/// Not a method: the request borrows the connection's parser, so the
/// connection is only borrowed again, to queue the response, once the
/// handler is done with it.
#[inline]
fn handle<H: Handler<L>, L: Default>(
    env: &mut Env<'_, H, L>,
    request: &Request<'_>,
    out: &mut [u8],
    keep_alive: bool,
    tag: u64,
    id: ConnectionId,
) -> Completed {
    let ctx = Context {
        request_version: request.version(),
        head_request: request.method() == Method::Head,
        keep_alive,
        date: env.date,
    };
    let mut response = Response::new(out, ctx, env.local, tag, id);
    env.handler.handle(request, &mut response);
    response.complete()
}

/// Where the connection is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Life {
    /// Serving requests.
    Open,
    /// Output drained; waiting for the caller to shut the write side.
    ClosingWrite,
    /// Write side shut; reading and discarding until the peer closes.
    Lingering,
    /// Done: the caller closes the socket.
    Closed,
    /// The handler took the connection over after its response.
    Hijacked,
}

/// How a request body arrives.
#[derive(Clone, Debug)]
enum Framing {
    /// This many bytes are still to come.
    Length(u64),
    /// Chunked; the decoder keeps its place.
    Chunked(ChunkedDecoder),
}

/// What the connection is reading.
#[derive(Clone, Debug)]
enum Input {
    /// A request head (or nothing yet).
    Head,
    /// The body of the request whose head starts at `read_start`.
    Body {
        /// How the body is delimited.
        framing: Framing,
        /// Read whole, or handed over in pieces.
        policy: BodyPolicy,
        /// Where the body starts in the read buffer.
        start: usize,
        /// Body bytes gathered at `start` (read whole), or handed over.
        len: u64,
        /// Whether the connection stays open after the response.
        keep_alive: bool,
        /// The request's scratch value.
        tag: u64,
    },
    /// The body of a request already answered, read and dropped.
    Discard {
        /// How the body is delimited.
        framing: Framing,
    },
    /// WebSocket frames, after a `101`.
    WebSocket,
    /// No more requests are read.
    Stopped,
}

/// A response body being streamed by the handler.
#[derive(Clone, Copy, Debug)]
struct Stream {
    /// How the pieces are framed.
    framing: ResponseFraming,
    /// For `Length` framing, the bytes still owed.
    remaining: u64,
    /// The handler's scratch value.
    tag: u64,
    /// The handler had nothing ready ([`Fill::Pending`]): wait for
    /// [`Connection::wake`].
    parked: bool,
}

/// One HTTP/1.1 connection, as a state machine. `READ` and `WRITE` are the
/// sizes of the [`IoBuffers`] it works in, `MAX_HEADERS` the capacity of
/// its header table.
///
/// A request head must fit the read buffer (else `431`), and a body read
/// whole must fit after it (else `413`). Responses copied into the write
/// buffer may take up to half of it.
#[derive(Debug)]
pub struct Connection<
    const READ: usize = 16384,
    const WRITE: usize = 16384,
    const MAX_HEADERS: usize = 32,
> {
    /// Timeouts and limits.
    config: Config,
    /// The head parser; holds the current request's header table.
    parser: RequestParser<MAX_HEADERS>,
    /// The peer's address, for handlers.
    peer: Option<SocketAddr>,
    /// Start of the bytes of the read buffer not yet consumed.
    read_start: usize,
    /// End of the bytes read.
    read_end: usize,
    /// What is being read.
    input: Input,
    /// Output, in order.
    queue: Queue,
    /// End of the used part of the write buffer.
    write_end: usize,
    /// The response body being streamed, if any.
    stream: Option<Stream>,
    /// Requests begun on this connection.
    requests: u32,
    /// Close once the output drains.
    close_after: bool,
    /// Hand the connection over once the output drains.
    hijack_after: bool,
    /// The peer shut its write side.
    peer_closed: bool,
    /// Where the connection is in its life.
    life: Life,
    /// Handled the per-wakeup maximum of requests and has more.
    yielded: bool,
    /// When the current head began, if one has.
    head_since: Option<u64>,
    /// When input last arrived.
    last_read: u64,
    /// When output last made progress, or was queued.
    last_write: u64,
    /// When the connection became idle (nothing read, nothing to write).
    idle_since: u64,
    /// When lingering began.
    linger_since: u64,
    /// The server is shutting down: no new requests after the current one.
    draining: bool,
    /// The WebSocket state, once the connection switched protocols.
    ws: Option<WebSocketState>,
    /// The connection's name, for code outside its callbacks.
    id: ConnectionId,
}

impl<const READ: usize, const WRITE: usize, const MAX_HEADERS: usize>
    Connection<READ, WRITE, MAX_HEADERS>
{
    /// A new connection, accepted at `now`.
    ///
    /// Capacities are checked at compile time: a read buffer too small for
    /// a minimal request head, or a write buffer too small for an error
    /// response, does not build.
    ///
    /// ```compile_fail
    /// use peregrine_core::{Config, Connection};
    /// // A 64-byte read buffer cannot hold a request head: rejected.
    /// let conn = Connection::<64, 4096, 8>::new(Config::DEFAULT, None, 0);
    /// ```
    pub const fn new(config: Config, peer: Option<SocketAddr>, now: u64) -> Self {
        const {
            assert!(
                READ >= 256,
                "the read buffer must hold at least a minimal request head"
            );
            assert!(
                READ <= u32::MAX as usize,
                "the read buffer must be addressable by u32"
            );
            assert!(
                WRITE >= 1024,
                "the write buffer must hold at least an error response"
            );
            assert!(
                WRITE <= u32::MAX as usize,
                "the write buffer must be addressable by u32"
            );
            assert!(MAX_HEADERS >= 1, "the header table must hold at least Host");
        }
        Connection {
            config,
            parser: RequestParser::new()
                .with_max_head_len(READ)
                .with_max_target_len(config.max_target_len),
            peer,
            read_start: 0,
            read_end: 0,
            input: Input::Head,
            queue: Queue::new(),
            write_end: 0,
            stream: None,
            requests: 0,
            close_after: false,
            hijack_after: false,
            peer_closed: false,
            life: Life::Open,
            yielded: false,
            head_since: None,
            last_read: now,
            last_write: now,
            idle_since: now,
            linger_since: now,
            draining: false,
            ws: None,
            id: ConnectionId::new(0, 0),
        }
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
    /// is not written yet, and closes after it.
    pub fn shutdown(&mut self, now: u64) {
        self.draining = true;
        if self.life != Life::Open {
            return;
        }
        if self.shutdown_websocket(now) {
            return;
        }
        let idle = matches!(self.input, Input::Head)
            && self.read_end == self.read_start
            && self.queue.is_empty()
            && self.stream.is_none();
        if idle {
            self.life = Life::Closed;
            return;
        }
        if matches!(self.input, Input::Head) && self.read_end > self.read_start {
            // A partial head: let it complete and be answered, then close.
            self.close_after = true;
            self.last_write = now;
            return;
        }
        self.close_after = true;
        if !matches!(self.input, Input::Body { .. }) {
            self.input = Input::Stopped;
        }
        self.finish_if_drained();
    }

    /// Where to read into: the free tail of the read buffer. Never empty
    /// while the connection wants to read.
    #[inline(always)]
    pub fn read_buf<'b>(&mut self, bufs: &'b mut IoBuffers<READ, WRITE>) -> &'b mut [u8] {
        if let (Input::WebSocket, Some(state)) = (&self.input, &mut self.ws) {
            return state.session.read_buf(&mut bufs.read);
        }
        if self.life == Life::Lingering {
            self.read_start = 0;
            self.read_end = 0;
        } else if matches!(self.input, Input::Head | Input::Discard { .. }) && self.read_start > 0 {
            // Move a partial head (or undiscarded body bytes) to the front,
            // so it can use the whole buffer; the parser's offsets are
            // relative to its start.
            bufs.read.copy_within(self.read_start..self.read_end, 0);
            self.read_end -= self.read_start;
            self.read_start = 0;
        }
        &mut bufs.read[self.read_end..]
    }

    /// Records that `n` bytes were read into [`read_buf`](Self::read_buf),
    /// and handles every request they complete.
    pub fn on_read<H: Handler<L>, L: Default>(
        &mut self,
        n: usize,
        bufs: &mut IoBuffers<READ, WRITE>,
        env: &mut Env<'_, H, L>,
    ) {
        self.last_read = env.now;
        if self.life == Life::Lingering {
            return;
        }
        if n > 0 && self.read_end == self.read_start && self.head_since.is_none() {
            if let Input::Head = self.input {
                self.head_since = Some(env.now);
            }
        }
        if let (Input::WebSocket, Some(state)) = (&self.input, &mut self.ws) {
            state.session.on_read(n);
        } else {
            self.read_end = (self.read_end + n).min(READ);
        }
        self.poll(bufs, env);
    }

    /// Records that the peer shut its write side (a read returned 0).
    /// Responses to requests already received are still sent.
    pub fn on_read_closed(&mut self, now: u64) {
        self.peer_closed = true;
        match self.life {
            Life::Lingering => self.life = Life::Closed,
            Life::Open => {
                self.last_write = now;
                // Requests already received are still answered (`poll`
                // stops once only a partial one is left); a body or a
                // partial head can never complete.
                // Complete requests are left only if the last `poll` stopped
                // early (per-wakeup maximum, output backed up).
                let complete_left = self.yielded || !self.can_respond();
                if !matches!(self.input, Input::Head)
                    || self.read_end == self.read_start
                    || !complete_left
                {
                    self.stop_reading();
                }
            }
            _ => {}
        }
    }

    /// The output to write next.
    #[inline]
    pub fn transmit<'b>(&'b self, bufs: &'b IoBuffers<READ, WRITE>) -> Transmit<'b> {
        if self.life == Life::ClosingWrite {
            return Transmit::CloseWrite;
        }
        match self.queue.front() {
            None => Transmit::Idle,
            Some(Segment::File(region)) => Transmit::SendFile(*region),
            Some(_) => {
                let (front, back) = self.queue.as_slices();
                Transmit::Write(Slices {
                    front,
                    back,
                    write: &bufs.write,
                })
            }
        }
    }

    /// Records that `n` bytes of what [`transmit`](Self::transmit) offered
    /// were written, refills streamed bodies, and takes further pipelined
    /// requests if the output had backed up.
    #[inline(always)]
    pub fn on_written<H: Handler<L>, L: Default>(
        &mut self,
        n: usize,
        bufs: &mut IoBuffers<READ, WRITE>,
        env: &mut Env<'_, H, L>,
    ) {
        if n > 0 {
            self.last_write = env.now;
        }
        self.queue.consume(n as u64);
        if self.queue.is_empty() {
            self.write_end = 0;
            if self.stream.is_none() && self.read_end == self.read_start {
                self.idle_since = env.now;
                if matches!(self.input, Input::Head) && !self.peer_closed {
                    // The usual end of a keep-alive exchange: nothing
                    // read, nothing to write, nothing to stream, so a
                    // poll would find nothing to do.
                    self.yielded = false;
                    self.finish_if_drained();
                    return;
                }
            }
        }
        self.poll(bufs, env);
    }

    /// Records that the caller shut the write side after
    /// [`Transmit::CloseWrite`]; the connection now lingers.
    pub fn on_write_closed(&mut self, now: u64) {
        if self.life == Life::ClosingWrite {
            self.life = if self.peer_closed {
                Life::Closed
            } else {
                Life::Lingering
            };
            self.linger_since = now;
        }
    }

    /// Continues work left from an earlier call: requests beyond the
    /// per-wakeup maximum, or a streamed body. Call it when
    /// [`has_work`](Self::has_work) says so, after serving others.
    pub fn poll<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<READ, WRITE>,
        env: &mut Env<'_, H, L>,
    ) {
        self.yielded = false;
        let mut handled = 0;
        while self.life == Life::Open {
            self.fill_stream(bufs, env);
            if self.stream.is_some() || self.hijack_after {
                break;
            }
            match self.input {
                Input::Head => {
                    if self.read_end == self.read_start {
                        self.stop_if_peer_closed();
                        break;
                    }
                    if !self.can_respond() {
                        break;
                    }
                    if handled == self.config.max_requests_per_wakeup {
                        self.yielded = true;
                        break;
                    }
                    if !self.read_head(bufs, env) {
                        if matches!(self.input, Input::Head) {
                            // Only a partial head is left.
                            self.stop_if_peer_closed();
                        }
                        break;
                    }
                    handled += 1;
                }
                Input::Body { .. } => {
                    if !self.read_body(bufs, env) {
                        break;
                    }
                }
                Input::Discard { .. } => {
                    if !self.discard_body(bufs, env.now) {
                        break;
                    }
                }
                Input::WebSocket => {
                    self.run_websocket(bufs, env);
                    break;
                }
                Input::Stopped => break,
            }
        }
        self.finish_if_drained();
    }

    /// Handles the deadline having passed (call when `now` reaches
    /// [`deadline`](Self::deadline)); a timeout or the error it answers is
    /// counted in `counters`.
    pub fn on_timeout(
        &mut self,
        bufs: &mut IoBuffers<READ, WRITE>,
        now: u64,
        counters: &mut Counters,
    ) {
        let Some(deadline) = self.deadline() else {
            return;
        };
        if now < deadline {
            return;
        }
        match self.life {
            Life::Lingering | Life::ClosingWrite => self.life = Life::Closed,
            Life::Closed | Life::Hijacked => {}
            Life::Open if !self.queue.is_empty() || self.stream.is_some() => {
                // The peer does not read what it asked for.
                counters.timeouts += 1;
                self.life = Life::Closed;
            }
            Life::Open => match self.input {
                Input::WebSocket => self.websocket_timeout(bufs, now),
                Input::Head if self.read_end > self.read_start => {
                    self.fail(bufs, Error::RequestTimeout, now, counters);
                }
                Input::Body { .. } | Input::Discard { .. } => {
                    self.fail(bufs, Error::RequestTimeout, now, counters);
                }
                _ => self.life = Life::Closed,
            },
        }
    }

    /// When the connection next needs [`on_timeout`](Self::on_timeout),
    /// or `None` if it waits for nothing.
    #[inline(always)]
    pub fn deadline(&self) -> Option<u64> {
        let c = &self.config;
        match self.life {
            Life::Closed | Life::Hijacked => return None,
            // The caller shuts the write side as soon as it is told to.
            Life::ClosingWrite => return Some(self.last_write.saturating_add(c.write_timeout)),
            Life::Lingering => return Some(self.linger_since.saturating_add(c.linger_timeout)),
            Life::Open => {}
        }
        if self.queue.is_empty() && self.stream.is_some_and(|stream| stream.parked) {
            // Waiting for the application, not for the peer: it ends the
            // stream or wakes it.
            return None;
        }
        if !self.queue.is_empty() || self.stream.is_some() {
            return Some(self.last_write.saturating_add(c.write_timeout));
        }
        Some(match self.input {
            Input::Head if self.read_end > self.read_start => self
                .head_since
                .unwrap_or(self.last_read)
                .saturating_add(c.header_timeout),
            Input::Body { .. } | Input::Discard { .. } => {
                self.last_read.saturating_add(c.body_timeout)
            }
            Input::WebSocket => self.websocket_deadline(),
            Input::Head | Input::Stopped => self.idle_since.saturating_add(c.idle_timeout),
        })
    }

    /// Which readiness to wait for.
    pub fn interest(&self) -> Interest {
        match self.life {
            Life::Open => Interest {
                read: self.input_open()
                    && !self.peer_closed
                    && !self.hijack_after
                    && self.read_end - self.reclaimable() < READ
                    && (self.can_respond() || !matches!(self.input, Input::Head)),
                write: !self.queue.is_empty(),
            },
            Life::ClosingWrite => Interest {
                read: false,
                write: true,
            },
            Life::Lingering => Interest {
                read: true,
                write: false,
            },
            Life::Closed | Life::Hijacked => Interest::default(),
        }
    }

    /// Whether work is left that no IO event will prompt: call
    /// [`poll`](Self::poll) again after serving other connections.
    pub fn has_work(&self) -> bool {
        self.yielded
    }

    /// Resumes a streamed body whose handler answered [`Fill::Pending`]:
    /// [`has_work`](Self::has_work) becomes true and the next
    /// [`poll`](Self::poll) asks [`Handler::fill_body`] again. Does
    /// nothing otherwise (a wake-up that arrives late is harmless).
    pub fn wake(&mut self) {
        if let Some(stream) = &mut self.stream {
            if stream.parked {
                stream.parked = false;
                self.yielded = true;
            }
        }
    }

    /// Whether a streamed body waits for [`wake`](Self::wake).
    pub fn is_parked(&self) -> bool {
        self.stream.is_some_and(|stream| stream.parked)
    }

    /// Whether the buffers hold state: if not, the caller may return them
    /// to its pool and lend any pair next time.
    pub fn holds_buffers(&self) -> bool {
        if let (Input::WebSocket, Some(state)) = (&self.input, &self.ws) {
            return state.session.holds_buffer() || !self.queue.is_empty();
        }
        self.read_end > self.read_start
            || !self.queue.is_empty()
            || self.stream.is_some()
            || !matches!(self.input, Input::Head | Input::Stopped)
            || !self.parser.is_idle()
    }

    /// Whether the connection is over: the caller closes the socket.
    pub fn is_closed(&self) -> bool {
        self.life == Life::Closed
    }

    /// Whether the handler took the connection over; the socket is the
    /// application's now, with [`leftover`](Self::leftover) bytes already
    /// read from it.
    pub fn is_hijacked(&self) -> bool {
        self.life == Life::Hijacked
    }

    /// Bytes read beyond the last request (after a hijack, the first bytes
    /// of the new protocol).
    pub fn leftover<'b>(&self, bufs: &'b IoBuffers<READ, WRITE>) -> &'b [u8] {
        &bufs.read[self.read_start..self.read_end]
    }

    /// Whether the input side still takes bytes: requests, or frames of a
    /// WebSocket session that still reads.
    fn input_open(&self) -> bool {
        match self.input {
            Input::Stopped => false,
            Input::WebSocket => self.ws.as_ref().is_some_and(|s| s.session.wants_read()),
            _ => true,
        }
    }

    /// Stops reading requests and closes once the output drains.
    fn stop_reading(&mut self) {
        self.input = Input::Stopped;
        self.close_after = true;
        self.finish_if_drained();
    }

    /// After the peer shut its write side, no request can complete any
    /// more: stop.
    fn stop_if_peer_closed(&mut self) {
        if self.peer_closed {
            self.stop_reading();
        }
    }

    /// Bytes at the front of the read buffer that [`read_buf`](Self::read_buf)
    /// can reclaim.
    fn reclaimable(&self) -> usize {
        match self.input {
            Input::Head | Input::Discard { .. } => self.read_start,
            _ => 0,
        }
    }

    /// Whether a new response may be started: the previous ones left room.
    fn can_respond(&self) -> bool {
        self.stream.is_none()
            && self.queue.free() >= 4
            && (self.write_end == 0 || WRITE - self.write_end >= WRITE / 2)
    }

    /// Parses the head at `read_start` and begins its request; `false`
    /// when more input is needed or the connection stopped.
    fn read_head<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<READ, WRITE>,
        env: &mut Env<'_, H, L>,
    ) -> bool {
        // The header timeout runs from the first byte of the head, also one
        // that arrived in the read completing the previous request.
        self.head_since.get_or_insert(env.now);
        let request = match self
            .parser
            .parse(&bufs.read[self.read_start..self.read_end])
        {
            Ok(Parsed::Complete(request)) => request.with_peer(self.peer.as_ref()),
            Ok(Parsed::Partial) => return false,
            Err(error) => {
                self.fail(bufs, error, env.now, env.counters);
                return false;
            }
        };
        self.requests += 1;
        let framing = match request.body_framing() {
            Ok(framing) => framing,
            Err(error) => {
                self.fail(bufs, error, env.now, env.counters);
                return false;
            }
        };
        let keep_alive =
            request.keep_alive() && self.requests < self.config.max_requests && !self.draining;
        env.counters.requests += 1;
        if request.is_websocket_upgrade() {
            let head_len = request.head_len();
            let outcome = match ws::check_upgrade(&request) {
                Err(error) => Err(error),
                Ok(handshake) => Ok(match env.handler.websocket(&request, &handshake) {
                    Upgrade::Decline => None,
                    Upgrade::Accept { protocol, tag } => Some((
                        ws::write_accept(
                            &mut bufs.write[self.write_end..],
                            &handshake,
                            protocol,
                            env.date,
                        )
                        .map(|head| head.len()),
                        tag,
                    )),
                }),
            };
            match outcome {
                Err(error) => {
                    self.reject_upgrade(bufs, error, env.now, env.counters);
                    return false;
                }
                Ok(Some((Ok(len), tag))) => {
                    self.open_websocket(bufs, env, head_len, len, tag);
                    return true;
                }
                // The chosen subprotocol was not offered: the handler's bug.
                Ok(Some((Err(_), _))) => {
                    env.counters.response(500);
                    self.queue_error(bufs, StatusCode::INTERNAL_SERVER_ERROR, None, env.now);
                    return false;
                }
                Ok(None) => {}
            }
        }
        let expects_continue = request.expects_continue();
        let head_len = request.head_len();
        let start = self.read_start + head_len;
        let framing = match framing {
            BodyFraming::Length(0) => {
                let out = &mut bufs.write[self.write_end..];
                let completed = handle(env, &request, out, keep_alive, 0, self.id);
                self.enqueue(bufs, completed, env.now, env.counters);
                self.read_start = start;
                return self.next_request(env.now);
            }
            BodyFraming::Length(n) => Framing::Length(n),
            BodyFraming::Chunked => Framing::Chunked(ChunkedDecoder::new()),
        };
        let policy = env.handler.body_policy(&request);
        match policy {
            BodyPolicy::Buffer => {
                let room = (READ - head_len) as u64;
                let limit = self.config.max_body_len.min(room);
                if matches!(framing, Framing::Length(n) if n > limit) {
                    // Refused before a byte of it is read: no 100 Continue.
                    self.fail(bufs, Error::BodyTooLarge, env.now, env.counters);
                    return false;
                }
            }
            BodyPolicy::Ignore => {
                let out = &mut bufs.write[self.write_end..];
                let keep_alive = keep_alive && !expects_continue;
                let completed = handle(env, &request, out, keep_alive, 0, self.id);
                self.enqueue(bufs, completed, env.now, env.counters);
                self.input = if expects_continue {
                    // The client waits for a 100 that never comes: close.
                    Input::Stopped
                } else {
                    self.read_start = start;
                    Input::Discard { framing }
                };
                return true;
            }
            BodyPolicy::Stream => {}
        }
        if expects_continue {
            env.counters.response(100);
            self.push(Segment::Static(response::CONTINUE), env.now);
        }
        if head_len >= READ {
            // No room left after the head to read any of the body into.
            self.fail(bufs, Error::HeadTooLarge, env.now, env.counters);
            return false;
        }
        if self.read_start > 0 {
            // The body is read after the head: give it the whole buffer.
            bufs.read.copy_within(self.read_start..self.read_end, 0);
            self.read_end -= self.read_start;
            self.read_start = 0;
        }
        self.input = Input::Body {
            framing,
            policy,
            start: self.read_start + head_len,
            len: 0,
            keep_alive,
            tag: 0,
        };
        true
    }

    /// Takes in body bytes; `true` once the request was answered.
    fn read_body<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<READ, WRITE>,
        env: &mut Env<'_, H, L>,
    ) -> bool {
        let Input::Body {
            framing,
            policy,
            start,
            len,
            keep_alive,
            tag,
        } = &mut self.input
        else {
            return false;
        };
        let (start, keep_alive) = (*start, *keep_alive);
        // Decode what arrived since the last call, in place.
        let from = match policy {
            BodyPolicy::Buffer => start + *len as usize,
            _ => start,
        };
        let (produced, end, done) = match framing {
            Framing::Length(remaining) => {
                let take = (*remaining).min((self.read_end - from) as u64);
                *remaining -= take;
                (take as usize, from + take as usize, *remaining == 0)
            }
            Framing::Chunked(decoder) => {
                match decoder.decode_in_place(&mut bufs.read[from..self.read_end]) {
                    Ok(decoded) => (decoded.produced, from + decoded.consumed, decoded.done),
                    Err(error) => {
                        self.fail(bufs, error, env.now, env.counters);
                        return false;
                    }
                }
            }
        };
        *len += produced as u64;
        if *policy == BodyPolicy::Stream && produced > 0 {
            let request = self.parser.request(&bufs.read[self.read_start..]);
            if let Some(request) = request {
                let request = request.with_peer(self.peer.as_ref());
                let chunk = &bufs.read[start..start + produced];
                env.handler.body_chunk(&request, chunk, tag, env.local);
            }
        }
        let (policy, total, tag) = (*policy, *len, *tag);
        if !done {
            // Keep the gathered body, drop what was decoded out of it.
            self.read_end = match policy {
                BodyPolicy::Buffer => start + total as usize,
                _ => start,
            };
            if policy == BodyPolicy::Buffer
                && (total > self.config.max_body_len || self.read_end == READ)
            {
                self.fail(bufs, Error::BodyTooLarge, env.now, env.counters);
            }
            return false;
        }
        let body = match policy {
            BodyPolicy::Buffer => start..start + total as usize,
            _ => start..start,
        };
        if policy == BodyPolicy::Buffer && total > self.config.max_body_len {
            self.fail(bufs, Error::BodyTooLarge, env.now, env.counters);
            return false;
        }
        self.respond(bufs, env, body, keep_alive, tag);
        self.read_start = end;
        self.next_request(env.now)
    }

    /// Reads and drops the body of an answered request; `true` when done.
    fn discard_body(&mut self, bufs: &mut IoBuffers<READ, WRITE>, now: u64) -> bool {
        let Input::Discard { framing } = &mut self.input else {
            return false;
        };
        let from = self.read_start;
        let (end, done) = match framing {
            Framing::Length(remaining) => {
                let take = (*remaining).min((self.read_end - from) as u64);
                *remaining -= take;
                (from + take as usize, *remaining == 0)
            }
            Framing::Chunked(decoder) => {
                match decoder.decode_in_place(&mut bufs.read[from..self.read_end]) {
                    Ok(decoded) => (from + decoded.consumed, decoded.done),
                    Err(_) => {
                        // Its response is out; the stream cannot be trusted.
                        self.input = Input::Stopped;
                        self.close_after = true;
                        return false;
                    }
                }
            }
        };
        if done {
            self.read_start = end;
            self.next_request(now)
        } else {
            self.read_end = self.read_start;
            false
        }
    }

    /// Gets ready for the next request; `false` if the connection stopped.
    fn next_request(&mut self, now: u64) -> bool {
        self.parser.reset();
        self.head_since = None;
        if self.close_after || self.hijack_after {
            self.input = Input::Stopped;
            return false;
        }
        self.input = Input::Head;
        if self.read_start == self.read_end {
            self.read_start = 0;
            self.read_end = 0;
            if self.queue.is_empty() && self.stream.is_none() {
                // Idle from now: nothing read, nothing to write.
                self.idle_since = now;
            }
        }
        true
    }

    /// Runs the handler for the request whose head starts at `read_start`
    /// (its body in `body`) and queues the response. A request without a
    /// body is answered from the view [`read_head`](Self::read_head) holds,
    /// without this rebuilding it.
    fn respond<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<READ, WRITE>,
        env: &mut Env<'_, H, L>,
        body: core::ops::Range<usize>,
        keep_alive: bool,
        tag: u64,
    ) {
        let Some(request) = self.parser.request(&bufs.read[self.read_start..]) else {
            return;
        };
        let request = request
            .with_body(&bufs.read[body])
            .with_peer(self.peer.as_ref());
        let out = &mut bufs.write[self.write_end..];
        let completed = handle(env, &request, out, keep_alive, tag, self.id);
        self.enqueue(bufs, completed, env.now, env.counters);
    }

    /// Queues a completed response.
    fn enqueue(
        &mut self,
        bufs: &mut IoBuffers<READ, WRITE>,
        completed: Completed,
        now: u64,
        counters: &mut Counters,
    ) {
        let Some(len) = completed.written else {
            // The head did not fit: a bare 500, and close.
            counters.response(500);
            self.queue_error(bufs, StatusCode::INTERNAL_SERVER_ERROR, None, now);
            return;
        };
        counters.response(completed.status);
        self.push_written(len, now);
        match completed.source {
            BodySource::InBuffer => {}
            BodySource::Static(bytes) => self.push(Segment::Static(bytes), now),
            BodySource::File(region) => self.push(Segment::File(region), now),
            BodySource::Stream(framing) => {
                let remaining = match framing {
                    ResponseFraming::Length(n) => n,
                    _ => u64::MAX,
                };
                self.stream = Some(Stream {
                    framing,
                    remaining,
                    tag: completed.tag,
                    parked: false,
                });
            }
        }
        self.close_after |= completed.close;
        self.hijack_after |= completed.hijack;
    }

    /// Queues the `len` bytes just written at the end of the used part of
    /// the write buffer.
    fn push_written(&mut self, len: usize, now: u64) {
        let start = self.write_end;
        self.write_end += len;
        self.push(
            Segment::Buffer {
                start: start as u32,
                end: self.write_end as u32,
            },
            now,
        );
    }

    /// Appends a segment to the output.
    fn push(&mut self, segment: Segment, now: u64) {
        if self.queue.is_empty() {
            self.last_write = now;
        }
        if !self.queue.push(segment) {
            // `can_respond` keeps room; should that fail, do not send a
            // response with a piece missing.
            self.queue.clear();
            self.life = Life::Closed;
        }
    }

    /// Answers a request that cannot be served with `error`'s status and
    /// closes the connection after it.
    fn fail(
        &mut self,
        bufs: &mut IoBuffers<READ, WRITE>,
        error: Error,
        now: u64,
        counters: &mut Counters,
    ) {
        if error == Error::RequestTimeout {
            counters.timeouts += 1;
        } else {
            counters.parse_errors += 1;
        }
        counters.response(error.status());
        let status = StatusCode::new(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
        self.queue_error(bufs, status, Some(error), now);
    }

    /// Queues an error response (with `error`'s reason as the body) and
    /// stops reading requests.
    fn queue_error(
        &mut self,
        bufs: &mut IoBuffers<READ, WRITE>,
        status: StatusCode,
        error: Option<Error>,
        now: u64,
    ) {
        self.input = Input::Stopped;
        self.close_after = true;
        self.stream = None;
        let ctx = Context {
            request_version: crate::Version::Http11,
            head_request: false,
            keep_alive: false,
            date: None,
        };
        let buf = &mut bufs.write[self.write_end..];
        let written = match error {
            Some(error) => response::encode_error(buf, error, &ctx).map(|head| head.len()),
            None => ResponseEncoder::new(buf, status)
                .and_then(|encoder| encoder.finish(&[], &ctx))
                .map(|(head, _)| head.len()),
        };
        match written {
            Ok(len) => {
                self.push_written(len, now);
            }
            // No room even for an error: drop the connection.
            Err(_) => self.life = Life::Closed,
        }
        self.finish_if_drained();
    }

    /// Asks the handler for more of a streamed body while there is room.
    fn fill_stream<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<READ, WRITE>,
        env: &mut Env<'_, H, L>,
    ) {
        while let Some(mut stream) = self.stream {
            if stream.parked {
                return;
            }
            let free = WRITE - self.write_end;
            if self.queue.free() < 2 || free < WRITE / 4 {
                return;
            }
            let area = &mut bufs.write[self.write_end..];
            let chunked = stream.framing == ResponseFraming::Chunked;
            // Chunked: room for the size line before and CRLF (and the last
            // chunk) after the data.
            let (lead, trail) = if chunked {
                (
                    CHUNK_HEADER_MAX,
                    response::CHUNK_END.len() + response::LAST_CHUNK.len(),
                )
            } else {
                (0, 0)
            };
            let room = (area.len() - lead - trail) as u64;
            let data_len = room.min(stream.remaining) as usize;
            let fill =
                env.handler
                    .fill_body(&mut stream.tag, &mut area[lead..lead + data_len], env.local);
            let (n, done) = match fill {
                Fill::More(n) => (n.min(data_len), false),
                Fill::Done(n) => (n.min(data_len), true),
                Fill::Pending => {
                    stream.parked = true;
                    self.stream = Some(stream);
                    return;
                }
            };
            let mut start = self.write_end + lead;
            let mut end = start + n;
            if chunked && n > 0 {
                let mut size = [0; CHUNK_HEADER_MAX];
                let line = response::encode_chunk_header(n, &mut size);
                start -= line.len();
                bufs.write[start..start + line.len()].copy_from_slice(line);
                bufs.write[end..end + 2].copy_from_slice(response::CHUNK_END);
                end += 2;
            }
            if chunked && done {
                bufs.write[end..end + response::LAST_CHUNK.len()]
                    .copy_from_slice(response::LAST_CHUNK);
                end += response::LAST_CHUNK.len();
            }
            if let ResponseFraming::Length(_) = stream.framing {
                stream.remaining -= n as u64;
            }
            self.write_end = end;
            self.push(
                Segment::Buffer {
                    start: start as u32,
                    end: end as u32,
                },
                env.now,
            );
            let length_framed = matches!(stream.framing, ResponseFraming::Length(_));
            if done || (length_framed && stream.remaining == 0) {
                // A body short of its announced length, or one delimited by
                // the close, ends the connection.
                let short = length_framed && stream.remaining > 0;
                if short || stream.framing == ResponseFraming::UntilClose {
                    self.close_after = true;
                    self.input = Input::Stopped;
                }
                self.stream = None;
                return;
            }
            self.stream = Some(stream);
            if n == 0 {
                // Nothing to send now: ask again on the next poll.
                self.yielded = true;
                return;
            }
        }
    }

    /// Moves on once the output drained: to closing or to a hand-over.
    fn finish_if_drained(&mut self) {
        if self.life != Life::Open || !self.queue.is_empty() || self.stream.is_some() {
            return;
        }
        if self.hijack_after {
            self.life = Life::Hijacked;
        } else if self.close_after {
            self.life = Life::ClosingWrite;
        }
    }

    /// Whether this is an HTTP keep-alive connection between requests:
    /// open, nothing read, nothing queued or streamed, not WebSocket, not
    /// closing or draining. A server short of room may close such a
    /// connection without losing any request.
    pub fn is_idle(&self) -> bool {
        matches!(self.input, Input::Head)
            && self.life == Life::Open
            && self.read_end == self.read_start
            && self.queue.is_empty()
            && self.stream.is_none()
            && !self.close_after
            && !self.draining
    }
}
