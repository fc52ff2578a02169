//! The handler API: the trait a server's user implements once, and the
//! [`Response`] it fills for each request.
//!
//! A [`Handler`] is shared by every worker of a server (`Sync`); each call
//! gets the parsed [`Request`] and a [`Response`] writing straight into the
//! connection's write buffer. Per-worker state (a cache, a random number
//! generator, counters without atomics) is the type parameter `L`: each
//! worker creates one with [`Handler::new_local`] and the handler reaches
//! it through [`Response::local`].
//!
//! ```
//! use peregrine_core::{Handler, Request, Response, StatusCode};
//!
//! struct Hello;
//!
//! impl Handler for Hello {
//!     fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
//!         match request.path() {
//!             b"/" => response.body_static(b"Hello, World!"),
//!             _ => {
//!                 response.status(StatusCode::NOT_FOUND);
//!             }
//!         }
//!     }
//! }
//! ```

use crate::Request;
use crate::id::ConnectionId;
use crate::ws::{self, CloseCode, Message};

mod body;
mod response;
mod websocket;

pub(crate) use body::{BodySource, Later, Source};
pub(crate) use response::Completed;
pub use response::{BodyWriter, Response, ResponseError};
pub use websocket::WebSocket;

/// The application side of a server: called once per request.
///
/// Only [`handle`](Self::handle) is required; every other method is a
/// hook with a default body.
pub trait Handler<L: Default = ()>: Sync {
    /// Answers one request by filling `response`. A handler that sets no
    /// body answers with an empty one (`Content-Length: 0`).
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_, L>);

    /// Creates the state worker number `worker` keeps for itself; called
    /// once per worker, when it starts.
    fn new_local(&self, worker: usize) -> L {
        let _ = worker;
        L::default()
    }

    /// Decides, once the head is in, what becomes of the request body.
    ///
    /// The default, [`BodyPolicy::Buffer`], reads it whole into memory
    /// ([`Request::body`]) before [`handle`](Self::handle) runs; bodies over
    /// the connection's limit are answered `413` without being read. A
    /// `100 Continue` is sent only when the body will be read.
    fn body_policy(&self, request: &Request<'_>) -> BodyPolicy {
        let _ = request;
        BodyPolicy::Buffer
    }

    /// Receives the body of a request whose policy is
    /// [`BodyPolicy::Stream`], piece by piece as it arrives, before
    /// [`handle`](Self::handle) is called. `tag` is the request's own
    /// scratch value, starting at 0 and handed on to
    /// [`Response::tag`].
    fn body_chunk(&self, request: &Request<'_>, chunk: &[u8], tag: &mut u64, local: &mut L) {
        let _ = (request, chunk, tag, local);
    }

    /// Produces the next piece of a body started with
    /// [`Response::stream`], into `buf`. Called whenever the connection has
    /// room, so the body never piles up in memory. `tag` is the value the
    /// response carried ([`Response::set_tag`]).
    fn fill_body(&self, tag: &mut u64, buf: &mut [u8], local: &mut L) -> Fill {
        let _ = (tag, buf, local);
        Fill::Done(0)
    }

    /// A response that carried application state ended: its body was a
    /// stream ([`Response::stream`]) or a file, or it had a tag other than
    /// 0 ([`Response::set_tag`], or one [`body_chunk`](Self::body_chunk)
    /// set). Called exactly once per such response, with how it ended
    /// ([`Outcome`]), so the application can free what the response used:
    /// a slot, a subscription, a job.
    ///
    /// ```
    /// use peregrine_core::{Finished, Handler, Outcome, Request, Response};
    /// use std::sync::atomic::{AtomicU64, Ordering};
    ///
    /// /// Counts the downloads that reached the client whole.
    /// struct Downloads(AtomicU64);
    ///
    /// impl Handler for Downloads {
    ///     fn handle(&self, _: &Request<'_>, response: &mut Response<'_>) {
    ///         response.set_tag(1).body_static(b"payload");
    ///     }
    ///
    ///     fn finished(&self, finished: Finished, _: &mut ()) {
    ///         if finished.tag == 1 && finished.outcome == Outcome::Sent {
    ///             self.0.fetch_add(1, Ordering::Relaxed);
    ///         }
    ///     }
    /// }
    /// ```
    fn finished(&self, finished: Finished, local: &mut L) {
        let _ = (finished, local);
    }

    /// Decides a valid WebSocket handshake (RFC 6455 §4.2): accept it,
    /// optionally choosing one of the offered subprotocols, or decline it
    /// (the default), in which case the request goes to
    /// [`handle`](Self::handle) like any other. Malformed handshakes are
    /// answered `400`/`426` before this is asked.
    fn websocket(&self, request: &Request<'_>, handshake: &ws::Handshake<'_>) -> Upgrade {
        let _ = (request, handshake);
        Upgrade::Decline
    }

    /// A WebSocket connection is open (the `101` is queued); the handler
    /// may send through `socket` already.
    fn on_open(&self, socket: &mut WebSocket<'_, L>) {
        let _ = socket;
    }

    /// A complete text or binary message arrived (reassembled from its
    /// fragments, text validated as UTF-8). Pings are answered without
    /// asking.
    fn on_message(&self, message: Message<'_>, socket: &mut WebSocket<'_, L>) {
        let _ = (message, socket);
    }

    /// The WebSocket connection is closing: the client sent a Close frame
    /// (`code` as sent; `None` for none), or broke the protocol (the code
    /// the server answered with). Nothing can be sent any more.
    fn on_close(&self, code: Option<CloseCode>, reason: &str, local: &mut L) {
        let _ = (code, reason, local);
    }
}

/// A reference to a handler is a handler: one value can serve several
/// servers at once (a plaintext and a TLS port, say), each run with
/// `&handler` on a thread of its own.
///
/// ```
/// use peregrine_core::{Handler, Request, Response};
///
/// struct Hello;
///
/// impl Handler for Hello {
///     fn handle(&self, _: &Request<'_>, response: &mut Response<'_>) {
///         response.body_static(b"Hello, World!");
///     }
/// }
///
/// fn serves<H: Handler>(_: H) {}
/// let hello = Hello;
/// serves(&hello);
/// serves(&hello);
/// ```
impl<L: Default, H: Handler<L> + ?Sized> Handler<L> for &H {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_, L>) {
        (**self).handle(request, response);
    }

    fn new_local(&self, worker: usize) -> L {
        (**self).new_local(worker)
    }

    fn body_policy(&self, request: &Request<'_>) -> BodyPolicy {
        (**self).body_policy(request)
    }

    fn body_chunk(&self, request: &Request<'_>, chunk: &[u8], tag: &mut u64, local: &mut L) {
        (**self).body_chunk(request, chunk, tag, local);
    }

    fn fill_body(&self, tag: &mut u64, buf: &mut [u8], local: &mut L) -> Fill {
        (**self).fill_body(tag, buf, local)
    }

    fn finished(&self, finished: Finished, local: &mut L) {
        (**self).finished(finished, local);
    }

    fn websocket(&self, request: &Request<'_>, handshake: &ws::Handshake<'_>) -> Upgrade {
        (**self).websocket(request, handshake)
    }

    fn on_open(&self, socket: &mut WebSocket<'_, L>) {
        (**self).on_open(socket);
    }

    fn on_message(&self, message: Message<'_>, socket: &mut WebSocket<'_, L>) {
        (**self).on_message(message, socket);
    }

    fn on_close(&self, code: Option<CloseCode>, reason: &str, local: &mut L) {
        (**self).on_close(code, reason, local);
    }
}

/// A handler's answer to a WebSocket handshake; see [`Handler::websocket`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upgrade {
    /// Not a WebSocket endpoint: handle the request as plain HTTP.
    Decline,
    /// Switch protocols, naming the subprotocol chosen (one the client
    /// offered) or none.
    Accept {
        /// The subprotocol, if any.
        protocol: Option<&'static str>,
        /// A value the connection keeps, read back with [`WebSocket::tag`]
        /// (say, the room the request named). [`Upgrade::ACCEPT`] sets 0.
        tag: u64,
        /// Whether messages may be compressed (permessage-deflate), if the
        /// server's [policy](crate::Config::websocket_deflate) allows it
        /// and the client offers it; false keeps this connection
        /// uncompressed (say, for data already compressed, or secrets
        /// mixed with attacker-chosen text). [`Upgrade::ACCEPT`] sets true.
        compress: bool,
    },
}

impl Upgrade {
    /// Switch protocols, with no subprotocol, a tag of 0, and compression
    /// as the server's policy and the client agree.
    pub const ACCEPT: Upgrade = Upgrade::Accept {
        protocol: None,
        tag: 0,
        compress: true,
    };
}

/// What the connection does with a request body; see
/// [`Handler::body_policy`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BodyPolicy {
    /// Read it whole before the handler runs (up to the configured limit;
    /// beyond it, `413`).
    Buffer,
    /// Hand it to [`Handler::body_chunk`] as it arrives, with no limit but
    /// the connection's timeouts.
    Stream,
    /// The handler answers without it: no `100 Continue` is sent, and the
    /// body is read and discarded (or, if the client waits for
    /// `100 Continue`, the connection closes after the response).
    Ignore,
}

/// What [`Handler::fill_body`] produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fill {
    /// This many bytes were written to the buffer and more will follow.
    /// `More(0)` asks again soon, after other connections are served (a
    /// busy wait: prefer [`Pending`](Self::Pending)).
    More(usize),
    /// This many bytes were written and the body is complete.
    Done(usize),
    /// Nothing is ready: the connection waits, costing nothing, until it is
    /// woken — with the backend's sender (`Sender::wake`, given the
    /// [`Response::id`] the handler kept), or by an embedding runtime with
    /// [`Connection::handle_wake`](crate::Connection::handle_wake). Backends without a
    /// sender ask again at their next timer tick. The write timeout does
    /// not run while the connection waits for the application.
    Pending,
    /// The body cannot be finished (the application failed): what was
    /// queued is sent, then the connection closes without the rest, so
    /// the client sees a body cut short (a chunked body lacks its last
    /// chunk, a body of announced length is short), never a complete one.
    Abort,
}

/// How a response that carried application state ended; see
/// [`Handler::finished`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// All of it reached the socket (it may still be in flight to the
    /// peer, as with any response).
    Sent,
    /// The connection ended before all of it was written: the peer left
    /// or stopped reading, a deadline passed, the server shut down, or
    /// the body was given up ([`Fill::Abort`], a handler panic).
    Aborted,
    /// Its body was never started: a `HEAD` request, a status without
    /// content (`1xx`, `204`, `304`), or a head that failed (the client got
    /// `500` instead).
    NotSent,
}

/// A response's end, reported to [`Handler::finished`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Finished {
    /// The connection that sent it.
    pub id: ConnectionId,
    /// The response's tag ([`Response::tag`]; for a stream, as
    /// [`Handler::fill_body`] last left it).
    pub tag: u64,
    /// How it ended.
    pub outcome: Outcome,
}

impl Finished {
    /// The end of the response of connection `id` with `tag`.
    pub(crate) fn new(id: ConnectionId, tag: u64, outcome: Outcome) -> Self {
        Finished { id, tag, outcome }
    }
}
