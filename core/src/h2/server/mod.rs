//! An HTTP/2 server connection (RFC 9113), sans-IO like the HTTP/1.1
//! [`Connection`](crate::Connection) and driven the same way: the caller
//! reads into [`read_buf`](ServerConnection::read_buf) and reports with
//! [`handle_read`](ServerConnection::handle_read), writes what
//! [`poll_transmit`](ServerConnection::poll_transmit) gives and reports
//! with [`handle_written`](ServerConnection::handle_written), and fires
//! [`poll_timeout`](ServerConnection::poll_timeout)'s deadline with
//! [`handle_timeout`](ServerConnection::handle_timeout).
//!
//! Each request runs the same [`Handler`] with the same [`Request`](crate::Request) and
//! [`Response`](crate::Response) as over HTTP/1.1: the response head the
//! builder writes is re-encoded with HPACK (`head`), and its body goes out
//! in DATA frames within the peer's flow-control windows, round-robin
//! between the streams that have data, so a stream waiting for window
//! never holds the others back.
//!
//! # Memory
//!
//! Nothing is allocated. Besides the buffer pair, a connection holds its
//! HPACK tables (4 KiB each way), the stream table (`STREAMS` entries), a
//! field table of `MAX_HEADERS` for the request being decoded, and a
//! decoding area of [`AREA`] bytes: it holds decoded request heads,
//! header blocks split over CONTINUATION frames or larger than the read
//! buffer, and a record of each request whose body is still coming (see
//! `records`): the heads of the requests whose bodies go to the handler
//! as they arrive (up to [`KEPT_MAX`] bytes of them), and those of the
//! requests whose bodies are gathered whole, each followed by its body.
//!
//! The buffer pair may be as small as [`MIN_READ`] and [`MIN_WRITE`]
//! bytes, far below a frame of the largest size (16,384 bytes and its
//! header): frames are taken in pieces as they arrive (see `dispatch`),
//! and nothing the server sends needs to be whole in the write buffer
//! but its control frames and a response's head, whose HEADERS frames
//! take the place of the HTTP/1.1 head the builder wrote when they fit
//! there. A head whose HPACK block fits neither there nor beside its body
//! resets its stream with INTERNAL_ERROR; the connection goes on.
//!
//! # What is served
//!
//! - Request bodies as [`Handler::body_policy`] says, as over HTTP/1.1:
//!   - [`BodyPolicy::Buffer`](crate::BodyPolicy::Buffer): gathered in the
//!     decoding area after a record of its request's head, for any number
//!     of streams at once (see `gather`). A body whose `content-length`
//!     is known has that much room set aside as its head arrives; one
//!     without grows at the end of the area, one such body at a time. A
//!     body the area can never hold is answered `413`; a request whose
//!     body would fit the area were it empty, but not beside the bodies
//!     and heads it holds now, or a second body without `content-length`
//!     while one grows, is refused with REFUSED_STREAM (the client may
//!     retry it).
//!   - [`BodyPolicy::Stream`](crate::BodyPolicy::Stream): each DATA
//!     frame's data goes to [`Handler::body_chunk`] as it arrives, for any
//!     number of streams at once, with no limit on its length; the
//!     request's head stays in the area until its body ends (see `kept`).
//!     A request whose head finds no room there is refused with
//!     REFUSED_STREAM.
//!   - [`BodyPolicy::Ignore`](crate::BodyPolicy::Ignore): the handler
//!     answers at once and the body is dropped as it comes.
//! - Response bodies in the write buffer, static slices and file regions.
//!   A file body goes out in DATA frames of at most 16,384 bytes, then an
//!   empty one that ends the stream; a file that turns out shorter than
//!   its region ([`handle_file_ended`](ServerConnection::handle_file_ended))
//!   ends its stream alone, reset with INTERNAL_ERROR (see `cut`).
//! - Streamed bodies ([`Response::stream`](crate::Response::stream)): the
//!   handler's [`fill_body`](Handler::fill_body) writes each piece into
//!   the write buffer as the windows allow, one DATA frame a piece, taking
//!   turns with the other streams (see `fill`). A handler with nothing
//!   ready parks its stream until [`handle_wake`](ServerConnection::handle_wake);
//!   the caller then calls [`poll`](ServerConnection::poll) while
//!   [`has_work`](ServerConnection::has_work) says so, as for HTTP/1.1.
//!   Each is reported to [`Handler::finished`]: sent, or aborted when its
//!   stream is reset or the connection ends first.
//! - Written bodies that outgrow the write buffer: the part that did not
//!   fit goes to the worker's [`Spill`](crate::spill::Spill) as over
//!   HTTP/1.1, the stream keeps its blocks, and its DATA frames carry the
//!   part in the buffer, then the blocks copied into the buffer as the
//!   windows and the room allow, taking turns with the other streams
//!   (see `spilled`). Each block goes back as soon as it is copied, and
//!   those a stream still holds when it is reset or the connection
//!   retires. A body larger than the buffer and the spill is answered
//!   `500`.
//! - Any other response whose tag is not 0 (a body in the buffer, a
//!   static slice, a file, a spilled body) is reported to
//!   [`Handler::finished`] as over HTTP/1.1: sent once its last byte is
//!   written, aborted when its stream is reset or the connection ends
//!   before that.
//! - Deferred responses ([`Response::defer`](crate::Response::defer)):
//!   the stream waits, the others go on, until the application answers
//!   ([`handle_answer`](ServerConnection::handle_answer), for the stream
//!   the handler's [`Response::id`](crate::Response::id) names); see
//!   `defer`.
//! - Publications to a topic
//!   ([`Response::subscribe`](crate::Response::subscribe)): each goes
//!   into the DATA of every streamed body of the connection subscribed
//!   to it ([`handle_publish`](ServerConnection::handle_publish)); a
//!   stream backed up is reset, the connection goes on; see `publish`.
//! - A response after which the connection is to close
//!   ([`Response::close`](crate::Response::close)) is followed by
//!   GOAWAY(NO_ERROR): the streams already begun finish, then the
//!   connection closes, as [`shutdown`](ServerConnection::shutdown) does.
//! - Server push is never used (`SETTINGS_ENABLE_PUSH` is 0 for the
//!   client's pushes too: a PUSH_PROMISE is a connection error).

mod block;
mod body;
mod calm;
mod control;
mod cut;
mod defer;
mod dispatch;
mod fields;
mod fill;
mod gather;
mod head;
mod output;
mod publish;
mod records;
mod spilled;
mod streams;

use core::net::SocketAddr;

use crate::h2::flow::{ReceiveWindow, Window};
use crate::h2::frame::{ErrorCode, Settings, StreamId};
use crate::h2::hpack::{Decoder, Encoder};
use crate::handler::Outcome;
use crate::send_queue::{Queue, Segment};
use crate::sizes::{DefaultSizes, FieldTable, Sizes};
use crate::spill::Chain;
use crate::timers::TimerTable;
use crate::{
    Config, ConnectionId, Env, FileRegion, Handler, Interest, IoBuffers, Slices, TimerKind,
    Transmit,
};

pub use calm::MAX_CONTINUATIONS;
pub use records::KEPT_MAX;

use streams::{Outbound, Sink, Streams};

/// Bytes of the decoding area: decoded request heads, split header
/// blocks, and the records of requests whose bodies are still coming
/// (with the bodies gathered whole).
pub const AREA: usize = 16 * 1024;

/// The most decoded header bytes a request may have (RFC 9113
/// `SETTINGS_MAX_HEADER_LIST_SIZE`, fields counted with 32 bytes each
/// beyond their name and value): half the area.
pub const MAX_HEADER_LIST_SIZE: usize = AREA / 2;

/// What each stream lets the client send of a request body before the
/// server's WINDOW_UPDATE (our `SETTINGS_INITIAL_WINDOW_SIZE`): 1 MiB.
/// Every byte is taken as it arrives (into the decoding area, to the
/// handler, or dropped), so a large window costs no memory; it spares an
/// upload the round trips of a small one.
pub const STREAM_WINDOW: u32 = 1 << 20;

/// What the connection lets the client send before the server's
/// WINDOW_UPDATE: 16 MiB, opened with the server's first SETTINGS.
pub const CONNECTION_WINDOW: u32 = 16 << 20;

/// Room the write buffer must have before another request is taken: a
/// response head and a small body, and the frames around them.
const RESPONSE_ROOM: usize = 2048;

/// Room the write buffer must have before a frame that cannot complete a
/// request is taken, and that DATA frame headers leave free: the control
/// frames one frame may make the server write (WINDOW_UPDATE for the
/// connection and a stream, RST_STREAM, GOAWAY).
const CONTROL_ROOM: usize = 64;

/// The smallest read buffer a connection takes: 1 KiB. Only a frame's
/// header and fixed fields (at most 17 bytes), the frames of a fixed size
/// (at most 17) and the client preface (24) must be whole in it; the
/// rest of any frame is taken in pieces as it arrives. Below 1 KiB the
/// pieces get too small to be worth a read each.
pub const MIN_READ: usize = 1024;

/// The smallest write buffer a connection takes: 2 KiB, the room a
/// request's response needs (half for its head and a small body, half
/// for its HEADERS and first DATA frame headers, at least 64 bytes
/// always kept for control frames). Larger bodies go out in DATA frames
/// over several writes, or as their own slices (static bodies, files).
pub const MIN_WRITE: usize = RESPONSE_ROOM;

/// Where the connection stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Waiting for the client's preface.
    Preface,
    /// Serving streams.
    Open,
    /// GOAWAY sent for a graceful end: the streams already started are
    /// finished, then the connection closes.
    Draining,
    /// GOAWAY sent for an error, or the peer is gone: what is queued goes
    /// out, then the write side closes.
    Closing,
    /// The write side is shut: waiting for the peer's end.
    ClosedWrite,
    /// Done.
    Closed,
}

/// A header block being gathered from HEADERS and CONTINUATION frames.
#[derive(Clone, Copy, Debug)]
struct Continuing {
    /// Its stream.
    stream: u32,
    /// What the HEADERS frame said.
    flags: block::BlockFlags,
    /// Where the block starts in the area.
    start: u32,
    /// Its bytes so far.
    len: u32,
    /// CONTINUATION frames so far.
    frames: u32,
}

/// An HTTP/2 server connection: `Z`, its [`Sizes`], sizes its buffer
/// pair (at least [`MIN_READ`] and [`MIN_WRITE`] bytes) and the fields of
/// a request, as it sizes an HTTP/1.1 [`Connection`](crate::Connection);
/// `STREAMS` is the streams open at once
/// (`SETTINGS_MAX_CONCURRENT_STREAMS`).
pub struct ServerConnection<Z: Sizes = DefaultSizes, const STREAMS: usize = 100> {
    /// Timeouts and limits.
    config: Config,
    /// Where it stands.
    state: State,
    /// Start of the bytes received and not yet taken.
    read_start: usize,
    /// End of the bytes received.
    read_end: usize,
    /// Where it is within the frame it reads.
    reading: dispatch::Reading,
    /// End of what was written into the write buffer.
    write_end: usize,
    /// What goes out, in order.
    queue: Queue,
    /// Its deadlines.
    timers: TimerTable,
    /// The client's header blocks.
    decoder: Decoder,
    /// Ours.
    encoder: Encoder,
    /// The client's settings.
    peer: Settings,
    /// What the client lets the server send on the connection.
    send_window: Window,
    /// What the server lets the client send on the connection.
    recv_window: ReceiveWindow,
    /// The open streams.
    streams: Streams<STREAMS>,
    /// The fields of the request being decoded.
    fields: Z::Fields,
    /// A header block split over frames.
    continuing: Option<Continuing>,
    /// End of the records at the start of the area, gathered bodies
    /// included (see `records`).
    records_end: usize,
    /// Bytes of the records of bodies handed to the handler as they
    /// arrive, within [`KEPT_MAX`].
    kept_len: usize,
    /// Records and gathered bodies, decoded heads, split blocks.
    area: [u8; AREA],
    /// The flood bounds.
    calm: calm::Calm,
    /// The client's first SETTINGS arrived.
    settings_seen: bool,
    /// The client shut its side: nothing more is read.
    read_closed: bool,
    /// The error in the GOAWAY sent, if one was.
    goaway: Option<ErrorCode>,
    /// The connection's name.
    id: ConnectionId,
    /// The client's address.
    peer_addr: Option<SocketAddr>,
    /// The spilled blocks of the body a handler is writing: moved to its
    /// stream once the handler returns (see `spilled`).
    spilled: Option<Chain>,
    /// The stream whose request a handler call is deciding (its body
    /// policy, or its response), for a panic in it to answer
    /// ([`handle_panic`](Self::handle_panic)).
    deciding: Option<StreamId>,
    /// Where the body of the request whose response a handler call is
    /// deciding went: its record leaves the area once the handler
    /// returns, or once [`handle_panic`](Self::handle_panic) answers for
    /// it.
    leaving: Sink,
    /// The streams of the file pieces queued (see `cut`).
    pieces: cut::Pieces,
}

impl<Z: Sizes, const STREAMS: usize> ServerConnection<Z, STREAMS> {
    /// Whether buffers of [`Sizes::READ`] and [`Sizes::WRITE`] bytes can
    /// serve HTTP/2: at least [`MIN_READ`] and [`MIN_WRITE`].
    pub const BUFFERS_FIT: bool = Z::READ >= MIN_READ && Z::WRITE >= MIN_WRITE;

    /// The buffers are at least the minimum sizes.
    const BUFFERS_LARGE_ENOUGH: () = assert!(
        Self::BUFFERS_FIT,
        "an HTTP/2 connection needs READ >= MIN_READ (1,024) and WRITE >= MIN_WRITE (2,048)"
    );

    /// A connection from `peer` accepted at `now`, waiting for the client
    /// preface (after a plaintext connection's first bytes were found to
    /// start it, or after ALPN chose `h2`).
    pub fn new(config: Config, peer: Option<SocketAddr>, now: u64) -> Self {
        let () = Self::BUFFERS_LARGE_ENOUGH;
        Self::make(config, peer, now)
    }

    /// [`new`](Self::new), whatever the buffers.
    fn make(config: Config, peer: Option<SocketAddr>, now: u64) -> Self {
        let mut timers = TimerTable::new();
        timers.set(TimerKind::Header, now.saturating_add(config.header_timeout));
        ServerConnection {
            config,
            state: State::Preface,
            read_start: 0,
            read_end: 0,
            reading: dispatch::Reading::FrameStart,
            write_end: 0,
            queue: Queue::new(),
            timers,
            decoder: Decoder::new().with_max_header_list_size(MAX_HEADER_LIST_SIZE),
            encoder: Encoder::new(),
            peer: Settings::DEFAULT,
            send_window: Window::connection(),
            recv_window: ReceiveWindow::connection(),
            streams: Streams::new(),
            fields: <Z::Fields as FieldTable>::EMPTY,
            continuing: None,
            records_end: 0,
            kept_len: 0,
            area: [0; AREA],
            calm: calm::Calm::default(),
            settings_seen: false,
            read_closed: false,
            goaway: None,
            id: ConnectionId::default(),
            peer_addr: peer,
            spilled: None,
            deciding: None,
            leaving: Sink::Discard,
            pieces: cut::Pieces::new(),
        }
    }

    /// The HTTP/2 connection that goes on from `http1`, whose client sent
    /// the preface ([`Connection::is_http2`](crate::Connection::is_http2)),
    /// at `now`, in the same buffers: what it read is taken at the next
    /// [`handle_read`](Self::handle_read) (with 0 bytes if nothing more
    /// came). `None` where the buffers cannot serve HTTP/2
    /// ([`BUFFERS_FIT`](Self::BUFFERS_FIT)): the caller closes the
    /// connection.
    pub fn take_over(http1: &crate::Connection<Z>, now: u64) -> Option<Self> {
        if !Self::BUFFERS_FIT {
            return None;
        }
        let (unread, config, peer, id) = http1.handover();
        let mut conn = ServerConnection::make(config, peer, now);
        conn.read_start = unread.start;
        conn.read_end = unread.end;
        conn.id = id;
        Some(conn)
    }

    /// Whether it holds bytes in its buffer pair: input not yet taken, or
    /// output not yet written, or a deferred response waits for its
    /// answer ([`is_deferred`](Self::is_deferred)). When it holds none, the
    /// caller may lend the pair to another connection until this one
    /// reads or writes again.
    pub fn holds_buffers(&self) -> bool {
        self.read_end > self.read_start
            || !self.queue.is_empty()
            || self.write_end > 0
            || self.is_deferred()
    }

    /// Names the connection (what [`Response::id`](crate::Response::id)
    /// gives its handlers).
    pub fn set_id(&mut self, id: ConnectionId) {
        self.id = id;
    }

    /// Where the next read goes: the free end of the read buffer (what
    /// was taken is dropped first).
    pub fn read_buf<'b>(&mut self, bufs: &'b mut IoBuffers<Z>) -> &'b mut [u8] {
        if self.read_start > 0 {
            bufs.read[..].copy_within(self.read_start..self.read_end, 0);
            self.read_end -= self.read_start;
            self.read_start = 0;
        }
        &mut bufs.read[self.read_end..]
    }

    /// What it waits for: reading while the read buffer has room once
    /// what was taken is dropped.
    pub fn interest(&self) -> Interest {
        let reading = matches!(self.state, State::Preface | State::Open | State::Draining)
            || self.state == State::ClosedWrite;
        Interest {
            read: reading && self.read_end - self.read_start < Z::READ,
            write: !self.queue.is_empty() || self.state == State::Closing,
        }
    }

    /// Whether it is done: the caller drops it (after
    /// [`retire`](Self::retire)).
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// How many streams are open.
    pub fn open_streams(&self) -> usize {
        self.streams.len()
    }

    /// The error code of the GOAWAY the server sent, if it sent one.
    pub fn goaway_sent(&self) -> Option<ErrorCode> {
        self.goaway
    }

    /// What to write next.
    pub fn poll_transmit<'b>(&'b self, bufs: &'b IoBuffers<Z>) -> Transmit<'b> {
        match self.queue.front() {
            None if self.state == State::Closing => Transmit::CloseWrite,
            None => Transmit::Idle,
            Some(Segment::File(span)) => Transmit::SendFile(FileRegion::from_span(*span, false)),
            Some(Segment::KeptFile(span)) => Transmit::SendFile(FileRegion::from_span(*span, true)),
            Some(_) => Transmit::Write(Slices::new(&self.queue, &bufs.write[..])),
        }
    }

    /// `n` bytes of what [`poll_transmit`](Self::poll_transmit) gave were
    /// written at `env.now`: more DATA may go out, and input that waited
    /// for room is taken.
    pub fn handle_written<H: Handler<L>, L: Default>(
        &mut self,
        n: usize,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) {
        let id = self.id;
        self.queue.consume(n as u64, |passed| {
            output::report_passed(passed, env, id, Outcome::Sent)
        });
        self.timers.set(
            TimerKind::Write,
            env.now.saturating_add(self.config.write_timeout),
        );
        self.after_output(bufs, env);
    }

    /// The write side was shut down as [`Transmit::CloseWrite`] asked.
    pub fn handle_write_closed<H: Handler<L>, L: Default>(&mut self, env: &mut Env<'_, H, L>) {
        if self.read_closed {
            // Both sides are shut.
            self.close_now(env);
            return;
        }
        self.state = State::ClosedWrite;
        self.timers.clear_all();
        self.timers.set(
            TimerKind::Linger,
            env.now.saturating_add(self.config.linger_timeout),
        );
    }

    /// The client closed its side: nothing more comes. What is queued
    /// still goes out, so no frame is cut short, then the write side
    /// shuts and the connection closes; with nothing queued it closes at
    /// once.
    pub fn handle_read_closed<H: Handler<L>, L: Default>(&mut self, env: &mut Env<'_, H, L>) {
        self.read_closed = true;
        let flushing = matches!(self.state, State::Open | State::Draining | State::Closing);
        if self.queue.is_empty() || !flushing {
            self.close_now(env);
            return;
        }
        self.state = State::Closing;
        self.read_start = self.read_end;
        for kind in [TimerKind::Idle, TimerKind::Header, TimerKind::Body] {
            self.timers.clear(kind);
        }
    }

    /// The earliest deadline, if any: a timer's, or the end of a
    /// deferred response's wait.
    pub fn poll_timeout(&self) -> Option<u64> {
        match (self.timers.next(), self.answer_deadline()) {
            (Some(timer), Some(answer)) => Some(timer.min(answer)),
            (timer, answer) => timer.or(answer),
        }
    }

    /// Fires the deadline that passed, if one did.
    pub fn handle_timeout<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) {
        if self.answer_overdue(bufs, env) {
            self.after_output(bufs, env);
            return;
        }
        let Some(kind) = self.timers.expired(env.now) else {
            return;
        };
        self.timers.clear(kind);
        match kind {
            TimerKind::Idle => self.go_away(bufs, ErrorCode::NoError, env),
            TimerKind::Header | TimerKind::Body => {
                env.counters.timeouts += 1;
                self.go_away(bufs, ErrorCode::NoError, env);
                self.state = State::Closing;
            }
            _ => {
                env.counters.timeouts += 1;
                self.close_now(env);
            }
        }
    }

    /// Begins a graceful end: GOAWAY with the last stream taken; the
    /// streams started are finished, then the connection closes.
    pub fn shutdown<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) {
        if matches!(self.state, State::Preface | State::Open) {
            self.go_away(bufs, ErrorCode::NoError, env);
        }
    }

    /// A handler panicked in a call into the connection (counted here).
    /// If it was deciding a request (its body policy or its response),
    /// that stream gets `500` (or, its response begun, a reset) and a
    /// GOAWAY follows: the streams already started finish, then the
    /// connection closes, as an HTTP/1.1 connection closes after its
    /// `500`. `true` if so and the connection may be driven on; `false`
    /// for a panic elsewhere (a body's piece, a report), which may have
    /// left a stream half made: the connection is then closed at once.
    pub fn handle_panic<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) -> bool {
        env.counters.handler_panics += 1;
        let Some(stream) = self.deciding.take() else {
            return false;
        };
        // The request's record (with its body, if gathered) leaves the
        // area, as it would have once the handler returned.
        let leaving = core::mem::replace(&mut self.leaving, Sink::Discard);
        self.release(leaving);
        if !matches!(self.state, State::Open | State::Draining) {
            return false;
        }
        if let Some(chain) = self.spilled.take() {
            spilled::release(chain, env.spill.as_deref_mut());
        }
        let unanswered = self
            .streams
            .get_mut(stream)
            .is_some_and(|open| open.outbound == Outbound::Waiting);
        if unanswered {
            self.answer_error(bufs, stream, crate::StatusCode::INTERNAL_SERVER_ERROR, env);
        } else {
            self.end_stream(bufs, stream, ErrorCode::InternalError, env);
        }
        self.go_away(bufs, ErrorCode::NoError, env);
        true
    }

    /// Ends it at once: file regions it still held go back to their
    /// keeper. The caller drops the connection after.
    pub fn retire<H: Handler<L>, L: Default>(&mut self, env: &mut Env<'_, H, L>) {
        let id = self.id;
        for open in self.streams.iter() {
            output::report_cut_short(open, &self.area, id, env);
        }
        self.queue
            .discard(|passed| output::report_passed(passed, env, id, Outcome::Aborted));
        self.streams.clear(|stream| {
            output::release_pending(stream, &mut env.files);
            output::report_abandoned(stream, id, env);
        });
        self.records_end = 0;
        self.kept_len = 0;
        self.state = State::Closed;
    }

    /// Drops everything and closes.
    fn close_now<H: Handler<L>, L: Default>(&mut self, env: &mut Env<'_, H, L>) {
        self.retire(env);
        self.timers.clear_all();
    }

    /// Sends GOAWAY with `code` and the last stream taken. For an error
    /// the connection then closes once it is sent; for `NO_ERROR` it
    /// drains first.
    fn go_away<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        code: ErrorCode,
        env: &mut Env<'_, H, L>,
    ) {
        if self.send_goaway(bufs, code) {
            self.after_output(bufs, env);
        }
    }

    /// [`go_away`](Self::go_away) but for what follows output: `false` if
    /// a GOAWAY was sent before (an error still makes the connection
    /// close).
    fn send_goaway(&mut self, bufs: &mut IoBuffers<Z>, code: ErrorCode) -> bool {
        if self.goaway.is_some() {
            if code != ErrorCode::NoError {
                self.state = State::Closing;
            }
            return false;
        }
        self.goaway = Some(code);
        let last = StreamId::new(self.streams.highest).unwrap_or(StreamId::CONNECTION);
        let written = self.write_frame(bufs, |buf| {
            crate::h2::frame::encode_goaway(buf, last, code, &[])
        });
        self.state = if code == ErrorCode::NoError && written && self.state != State::Preface {
            State::Draining
        } else {
            State::Closing
        };
        true
    }

    /// Writes one frame with `encode` at the end of the write buffer and
    /// queues it; `false` if there was no room.
    fn write_frame<E>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        encode: impl FnOnce(&mut [u8]) -> Result<usize, E>,
    ) -> bool {
        if self.queue.free() == 0 {
            return false;
        }
        let start = self.write_end;
        match encode(&mut bufs.write[start..]) {
            Ok(len) => {
                self.write_end += len;
                self.queue_written(start)
            }
            Err(_) => false,
        }
    }

    /// Queues what was written into the write buffer from `start` to its
    /// end; `false` if the queue was full (the callers check for room
    /// before each frame they take, so it never is).
    fn queue_written(&mut self, start: usize) -> bool {
        let pushed = self.queue.push(Segment::Buffer {
            start: start as u32,
            end: self.write_end as u32,
        });
        debug_assert!(pushed, "the output queue has room for every frame taken");
        pushed
    }

    /// After output moved or input was taken: finished streams leave,
    /// the write buffer starts over once nothing in it is owed, input
    /// that waited for room is taken (before streamed bodies fill the
    /// room again), DATA that now has window goes out, and the timers,
    /// idle and closing states follow.
    fn after_output<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) {
        self.pass_empty(env);
        self.sweep(env);
        self.reclaim_write_buffer();
        // Input that waited for room, or a frame whose last step needs no
        // more bytes (the end of a body waiting for room to respond).
        let input_waits =
            self.read_start < self.read_end || self.reading != dispatch::Reading::FrameStart;
        if matches!(self.state, State::Open | State::Draining) && input_waits {
            self.process(bufs, env);
        }
        if matches!(self.state, State::Open | State::Draining) {
            self.send_data_or_calm(bufs, output::DataRoom::AfterWrite, env);
        }
        self.pass_empty(env);
        if !self.is_parked() {
            self.timers.clear(TimerKind::ParkedStream);
        }
        self.sweep(env);
        // Output owed, queued or waiting for window, runs the write timer:
        // a client that never opens its windows is not served forever.
        let owing = self.streams.iter().any(output::is_sending);
        self.reclaim_write_buffer();
        if self.queue.is_empty() && !owing {
            self.timers.clear(TimerKind::Write);
        } else if !self.timers.is_set(TimerKind::Write) {
            self.timers.set(
                TimerKind::Write,
                env.now.saturating_add(self.config.write_timeout),
            );
        }
        let idle = self.streams.len() == 0 && self.queue.is_empty();
        match self.state {
            State::Draining if idle => self.state = State::Closing,
            State::Open if idle => self.timers.set_if_unset(
                TimerKind::Idle,
                env.now.saturating_add(self.config.idle_timeout),
            ),
            _ => self.timers.clear(TimerKind::Idle),
        }
    }

    /// The streams whose halves are both closed leave the table.
    fn sweep<H: Handler<L>, L: Default>(&mut self, env: &mut Env<'_, H, L>) {
        let files = &mut env.files;
        self.streams
            .sweep(|stream| output::release_pending(stream, files));
    }

    /// The write buffer starts over once nothing in it is owed.
    fn reclaim_write_buffer(&mut self) {
        if self.queue.is_empty() && !self.streams.iter().any(output::holds_buffer) {
            self.write_end = 0;
        }
    }

    /// The decoding area's bytes held: the records, with the gathered
    /// bodies and the room set aside for them.
    fn area_used(&self) -> usize {
        self.records_end
    }
}

impl<Z: Sizes, const STREAMS: usize> core::fmt::Debug for ServerConnection<Z, STREAMS> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ServerConnection")
            .field("state", &self.state)
            .field("streams", &self.streams.len())
            .field("queue", &self.queue)
            .finish_non_exhaustive()
    }
}
