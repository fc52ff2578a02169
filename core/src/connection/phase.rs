//! Where a connection is in its life, each phase with the data only it
//! needs, so that no combination of flags can describe an impossible
//! connection.

use crate::BodyPolicy;
use crate::chunked::ChunkedDecoder;
use crate::handler::{Later, Source};
use crate::response::ResponseFraming;
use crate::ws_output::WebSocketState;

/// Where the connection is in its life.
///
/// The WebSocket session is held inline, so a connection is as large as
/// its WebSocket phase: boxing it would need an allocator the core does
/// not have.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
// An explicit tag byte: telling the phases apart is one compare, not a
// niche decoded from a field of a variant.
#[repr(u8)]
pub(crate) enum Phase {
    /// Exchanging HTTP requests and responses.
    Http(Http),
    /// Speaking WebSocket, after a `101`.
    WebSocket(WebSocketState),
    /// Output drained; waiting for the caller to shut the write side.
    ClosingWrite,
    /// Write side shut; reading and discarding until the peer closes or
    /// the linger timer ends it.
    Lingering,
    /// Done: the caller closes the socket.
    Closed,
    /// The handler took the connection over after its response.
    Hijacked,
    /// The client sent the HTTP/2 preface: the caller goes on with HTTP/2.
    Http2,
}

/// The HTTP phase: what is being read, what is being streamed, and what
/// happens once the output drains.
#[derive(Debug)]
pub(crate) struct Http {
    /// What is being read.
    pub(crate) input: Input,
    /// The response body being streamed, if any.
    pub(crate) stream: Option<Stream>,
    /// What happens once the output drains.
    pub(crate) then: Then,
}

impl Http {
    /// A connection waiting for its first request.
    pub(crate) const fn new() -> Self {
        Http {
            input: Input::Head,
            stream: None,
            then: Then::KeepAlive,
        }
    }
}

impl Http {
    /// Whether a streamed body waits for the application.
    pub(crate) fn is_parked(&self) -> bool {
        self.stream
            .is_some_and(|stream| stream.state == StreamState::Parked)
    }

    /// Whether a response waits for the application: a parked stream or
    /// a deferred answer.
    pub(crate) fn waits_for_application(&self) -> bool {
        self.stream.is_some_and(|stream| {
            matches!(stream.state, StreamState::Parked | StreamState::Deferred(_))
        })
    }

    /// What the deferred response waits with, if one does.
    pub(crate) fn deferred(&self) -> Option<(Later, u64)> {
        match self.stream {
            Some(Stream {
                state: StreamState::Deferred(later),
                tag,
                ..
            }) => Some((later, tag)),
            _ => None,
        }
    }
}

/// What an HTTP connection does once its output drains.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Then {
    /// Waits for the next request.
    KeepAlive,
    /// Closes (shuts its write side, then lingers).
    Close,
    /// Hands the socket to the application.
    Hijack,
}

impl Then {
    /// Close after the output, unless a hand-over is already due.
    pub(crate) fn or_close(self) -> Then {
        match self {
            Then::KeepAlive => Then::Close,
            other => other,
        }
    }
}

/// How a request body arrives.
#[derive(Clone, Debug)]
pub(crate) enum Framing {
    /// This many bytes are still to come.
    Length(u64),
    /// Chunked; the decoder keeps its place.
    Chunked(ChunkedDecoder),
}

/// What an HTTP connection is reading.
#[derive(Clone, Debug)]
#[repr(u8)]
pub(crate) enum Input {
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
    /// No more requests are read.
    Stopped,
}

/// A response body being streamed by the handler.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stream {
    /// How the pieces are framed.
    pub(crate) framing: ResponseFraming,
    /// For `Length` framing, the bytes still owed.
    pub(crate) remaining: u64,
    /// The handler's scratch value.
    pub(crate) tag: u64,
    /// Whether it runs or waits for the application.
    pub(crate) state: StreamState,
    /// Where its pieces come from.
    pub(crate) source: Source,
    /// The topic whose publications it carries, if it subscribed to one
    /// ([`Response::subscribe`](crate::Response::subscribe)).
    pub(crate) topic: Option<u64>,
}

/// Whether a streamed body runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StreamState {
    /// The handler is asked for more as the output drains.
    Filling,
    /// The handler had nothing ready ([`Fill::Pending`](crate::Fill)):
    /// waits for [`Connection::handle_wake`](crate::Connection::handle_wake).
    Parked,
    /// The handler deferred the whole response
    /// ([`Response::defer`](crate::Response::defer)): nothing of it is
    /// written yet, and it waits for
    /// [`Connection::handle_answer`](crate::Connection::handle_answer).
    Deferred(Later),
}
