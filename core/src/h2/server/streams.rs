//! The streams of a connection (RFC 9113 §5.1), in a table of fixed size.
//!
//! A stream enters the table with its request's HEADERS and leaves it once
//! both halves are closed: the client's with END_STREAM (or at once for a
//! request without a body), the server's when the last DATA frame of the
//! response is queued. Streams the server never opened (idle) and streams
//! that left (closed) are told apart by their identifier: client streams
//! are opened in increasing order, so any identifier up to the highest
//! opened that is not in the table is closed.
//!
//! The last few runs of identifiers the client skipped are remembered
//! too ([`RECENT_GAPS`]): those streams were never opened, so a HEADERS
//! frame on one is a stream identifier out of order (§5.1.1), not a
//! frame on a closed stream.
//!
//! The last few streams the server reset are remembered (a ring of
//! [`RECENT_RESETS`]): frames the client sent on them before our
//! RST_STREAM reached it are ignored (§5.1, "closed"), while frames on
//! other closed streams are errors.

use super::gather::Gathered;
use super::records::Record;
use crate::file::Span;
use crate::h2::flow::{ReceiveWindow, Window};
use crate::h2::frame::StreamId;
use crate::handler::Later;
use crate::spill::Chain;

/// What of a response's body is still to go out as DATA frames, beyond
/// what the flow-control windows allowed so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Pending {
    /// Nothing: the response was sent whole, or none is due yet.
    Nothing,
    /// A range of the write buffer.
    Buffer {
        /// Start of what is left.
        start: u32,
        /// End of the body.
        end: u32,
    },
    /// The rest of a static slice.
    Static(&'static [u8]),
    /// The rest of a file region; `kept` if its file goes back to the
    /// worker's keeper once sent.
    File {
        /// The bytes left.
        span: Span,
        /// Whether the region's file is kept (released when sent).
        kept: bool,
    },
}

impl Pending {
    /// Bytes left.
    pub(super) fn len(&self) -> u64 {
        match *self {
            Pending::Nothing => 0,
            Pending::Buffer { start, end } => u64::from(end - start),
            Pending::Static(bytes) => bytes.len() as u64,
            Pending::File { span, .. } => span.len,
        }
    }
}

/// A body the handler produces in pieces
/// ([`Handler::fill_body`](crate::Handler::fill_body)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Streamed {
    /// The response's tag, as `fill_body` last left it.
    pub(super) tag: u64,
    /// Bytes of the announced `content-length` not yet sent; `None` when
    /// the head announced none.
    pub(super) left: Option<u64>,
    /// The topic whose publications it carries
    /// ([`Response::subscribe`](crate::Response::subscribe)), if any.
    pub(super) topic: Option<u64>,
}

/// A response the handler deferred
/// ([`Response::defer`](crate::Response::defer)): what its answer's head
/// depends on, until the application answers
/// ([`ServerConnection::handle_answer`](super::ServerConnection::handle_answer)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Deferred {
    /// What the answer's head depends on, kept from the request.
    pub(super) later: Later,
    /// The response's tag: reported to
    /// [`Handler::finished`](crate::Handler::finished) whatever it is,
    /// as over HTTP/1.1.
    pub(super) tag: u64,
    /// When the wait ends with `503` (`Config::parked_stream_timeout`);
    /// `u64::MAX` if it never does.
    pub(super) until: u64,
}

/// A written body that outgrew the write buffer: the part of it still in
/// the buffer, then the rest in the spill.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Spilled {
    /// Start of what is left in the write buffer.
    pub(super) start: u32,
    /// End of it (`start` once it is all queued).
    pub(super) end: u32,
    /// The blocks not yet copied out, in order.
    pub(super) chain: Chain,
    /// The response's tag: reported to
    /// [`Handler::finished`](crate::Handler::finished) once the body is
    /// sent, or cut short, unless 0.
    pub(super) tag: u64,
}

/// Where the DATA of a request body goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Sink {
    /// Gathered in the decoding area for the handler
    /// ([`BodyPolicy::Buffer`](crate::BodyPolicy::Buffer)), after the
    /// record of its request (see `gather`).
    Gather(Gathered),
    /// Handed to [`Handler::body_chunk`](crate::Handler::body_chunk)
    /// piece by piece ([`BodyPolicy::Stream`](crate::BodyPolicy::Stream)),
    /// with the request whose head is kept in the area.
    Handler(Record),
    /// Dropped, the request to be answered `413` once it ends: a body to
    /// gather that the area cannot hold.
    TooLarge,
    /// Dropped: the request was answered without it
    /// ([`BodyPolicy::Ignore`](crate::BodyPolicy::Ignore), or an error).
    Discard,
}

/// The client's half of a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Inbound {
    /// A body is coming: `received` bytes so far, against the
    /// `content-length` the request announced, if any.
    Body {
        /// Bytes of DATA received.
        received: u64,
        /// What `content-length` promised.
        expected: Option<u64>,
        /// Where its DATA goes.
        sink: Sink,
    },
    /// The client sent END_STREAM (or reset the stream).
    Closed,
}

/// The server's half of a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Outbound {
    /// No response yet: the request is not complete.
    Waiting,
    /// The head went out; the body's rest waits for window.
    Sending {
        /// What is left to send.
        pending: Pending,
        /// The response's tag, reported to
        /// [`Handler::finished`](crate::Handler::finished) once the body
        /// is sent, or cut short; `None` for a response that carries no
        /// application state (tag 0, and no file).
        tag: Option<u64>,
    },
    /// The head went out; the handler is asked for the body's next piece
    /// whenever the windows and the write buffer have room for it.
    Filling(Streamed),
    /// A streamed body whose handler had nothing ready
    /// ([`Fill::Pending`](crate::Fill::Pending)): it waits for a wake.
    Parked(Streamed),
    /// A streamed body to ask again at the next poll: it was woken, or its
    /// handler gave nothing and more
    /// ([`Fill::More(0)`](crate::Fill::More)).
    Again(Streamed),
    /// The head went out; the body's rest lies in the write buffer and
    /// the spill, copied out as the windows and the buffer allow.
    Spilling(Spilled),
    /// No response yet: the handler deferred it, and the application
    /// answers later.
    Deferred(Deferred),
    /// A streamed body a publication found backed up, with no write
    /// buffer to reset it in: it is reset at the next
    /// [`poll`](super::ServerConnection::poll).
    Cut(Streamed),
    /// The response was queued whole, END_STREAM included.
    Done,
}

/// One stream.
#[derive(Clone, Copy, Debug)]
pub(super) struct Stream {
    /// Its identifier.
    pub(super) id: StreamId,
    /// The client's half.
    pub(super) inbound: Inbound,
    /// The server's half.
    pub(super) outbound: Outbound,
    /// What the client lets the server send on it.
    pub(super) send_window: Window,
    /// What the server lets the client send on it.
    pub(super) recv_window: ReceiveWindow,
}

impl Stream {
    /// Whether both halves are closed: the stream may leave the table.
    pub(super) fn is_finished(&self) -> bool {
        self.inbound == Inbound::Closed && self.outbound == Outbound::Done
    }
}

/// How many of the streams the server reset are remembered.
pub(super) const RECENT_RESETS: usize = 8;

/// How many runs of skipped identifiers are remembered.
pub(super) const RECENT_GAPS: usize = 4;

/// The open streams, at most `N`.
#[derive(Debug)]
pub(super) struct Streams<const N: usize> {
    /// The streams, in the order they opened.
    open: heapless::Vec<Stream, N>,
    /// The highest client stream identifier seen (0 before any).
    pub(super) highest: u32,
    /// Where the next round of DATA starts, so that every stream with
    /// data and window gets its turn.
    next_turn: usize,
    /// The streams the server reset last, 0 where none.
    resets: [u32; RECENT_RESETS],
    /// Where the next reset is recorded in `resets`.
    next_reset: usize,
    /// The last runs of client identifiers skipped, first and last of
    /// each; `(0, 0)` where none.
    gaps: [(u32, u32); RECENT_GAPS],
    /// Where the next run is recorded in `gaps`.
    next_gap: usize,
}

impl<const N: usize> Streams<N> {
    /// No streams.
    pub(super) const fn new() -> Self {
        Streams {
            open: heapless::Vec::new(),
            highest: 0,
            next_turn: 0,
            resets: [0; RECENT_RESETS],
            next_reset: 0,
            gaps: [(0, 0); RECENT_GAPS],
            next_gap: 0,
        }
    }

    /// The client used identifier `id`, above every one before: the
    /// ones it skipped are closed without ever being opened.
    pub(super) fn advance(&mut self, id: StreamId) {
        let first_skipped = if self.highest == 0 {
            1
        } else {
            self.highest + 2
        };
        if id.get() > first_skipped {
            self.gaps[self.next_gap] = (first_skipped, id.get() - 2);
            self.next_gap = (self.next_gap + 1) % RECENT_GAPS;
        }
        self.highest = self.highest.max(id.get());
    }

    /// Whether the client skipped identifier `id` lately (never opened
    /// it, and opened a higher one).
    pub(super) fn was_skipped(&self, id: StreamId) -> bool {
        self.gaps
            .iter()
            .any(|&(first, last)| first != 0 && (first..=last).contains(&id.get()))
    }

    /// The server reset stream `id`: frames already on their way on it
    /// are ignored.
    pub(super) fn remember_reset(&mut self, id: StreamId) {
        if self.was_reset(id) {
            return;
        }
        self.resets[self.next_reset] = id.get();
        self.next_reset = (self.next_reset + 1) % RECENT_RESETS;
    }

    /// Whether the server reset stream `id` lately.
    pub(super) fn was_reset(&self, id: StreamId) -> bool {
        self.resets.contains(&id.get())
    }

    /// How many are open.
    pub(super) fn len(&self) -> usize {
        self.open.len()
    }

    /// Whether the table is full.
    pub(super) fn is_full(&self) -> bool {
        self.open.is_full()
    }

    /// The stream `id`, if open.
    pub(super) fn get_mut(&mut self, id: StreamId) -> Option<&mut Stream> {
        self.open.iter_mut().find(|stream| stream.id == id)
    }

    /// Whether `id` names a stream that was opened and has left.
    pub(super) fn is_closed(&self, id: StreamId) -> bool {
        id.get() <= self.highest && !self.open.iter().any(|stream| stream.id == id)
    }

    /// Opens `stream` (its identifier the highest yet); `false` if full.
    pub(super) fn open(&mut self, stream: Stream) -> bool {
        self.highest = self.highest.max(stream.id.get());
        self.open.push(stream).is_ok()
    }

    /// Removes stream `id`; returns it if it was open.
    pub(super) fn remove(&mut self, id: StreamId) -> Option<Stream> {
        let at = self.open.iter().position(|stream| stream.id == id)?;
        // Order matters only for fairness; keep it.
        let stream = self.open.remove(at);
        if self.next_turn > at {
            self.next_turn -= 1;
        }
        Some(stream)
    }

    /// Removes the streams whose halves are both closed, handing each to
    /// `left`.
    pub(super) fn sweep(&mut self, mut left: impl FnMut(&Stream)) {
        let mut at = 0;
        while at < self.open.len() {
            if self.open[at].is_finished() {
                left(&self.open[at]);
                self.open.remove(at);
                if self.next_turn > at {
                    self.next_turn -= 1;
                }
            } else {
                at += 1;
            }
        }
    }

    /// Every open stream, to look at.
    pub(super) fn iter(&self) -> impl Iterator<Item = &Stream> {
        self.open.iter()
    }

    /// Every open stream.
    pub(super) fn iter_mut(&mut self) -> impl Iterator<Item = &mut Stream> {
        self.open.iter_mut()
    }

    /// The streams in this round's order (starting after the one served
    /// last), by index.
    pub(super) fn round(&self) -> impl Iterator<Item = usize> + use<N> {
        let len = self.open.len();
        let start = if len == 0 { 0 } else { self.next_turn % len };
        (0..len).map(move |i| (start + i) % len)
    }

    /// The stream at `index` was served: the next round starts after it.
    pub(super) fn served(&mut self, index: usize) {
        self.next_turn = index + 1;
    }

    /// The stream at `index` (from [`round`](Self::round)).
    pub(super) fn at(&mut self, index: usize) -> Option<&mut Stream> {
        self.open.get_mut(index)
    }

    /// Drops every stream, handing each to `left`.
    pub(super) fn clear(&mut self, mut left: impl FnMut(&Stream)) {
        for stream in &self.open {
            left(stream);
        }
        self.open.clear();
        self.next_turn = 0;
    }
}
