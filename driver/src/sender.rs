//! Sending WebSocket messages, wake-ups and the answers to deferred
//! responses from any thread: the [`Sender`] handle.
//!
//! Each worker owns a mailbox (see the `mailbox` module) that any thread
//! posts into, plus the worker's waker. A message for one connection goes
//! to the mailbox of the worker serving it (the connection's
//! [`ConnectionId::owner`]); a message for a topic, or for every
//! connection, goes once to every worker, which copies it to each of its
//! connections concerned. Nothing is allocated per message; nothing locks.

use std::fmt;
use std::sync::Arc;

use peregrine_core::ConnectionId;
use peregrine_core::ws::Message;

use crate::ShutdownHandle;
use crate::answer::Answer;
use crate::hub::Shared;
use crate::mailbox::{Mailbox, PostError, Target};

/// Sends WebSocket messages to a server's connections from any thread:
/// another worker, a timer thread, a task runner, or a handler's own
/// callbacks. Cheap to clone, `Send` and `Sync`.
///
/// A message is posted to the mailbox of the worker that serves the
/// connection and written by that worker, in the order posted (per
/// sender thread and worker). Posting never blocks and never allocates:
/// a full mailbox fails the post with [`PostError::Full`]. What happens
/// at the connection is that connection's business: a message for a
/// connection that is gone or closing, or whose write buffer is full, is
/// dropped and counted in [`Stats::messages_undelivered`](crate::Stats);
/// under the default `Config::websocket_backpressure`
/// (`Backpressure::Close`) a slow connection is then closed with 1008.
///
/// Take it from the server (`Server::sender`) before running it, at any
/// point of the builder's calls: the mailboxes it posts to are made when
/// the server runs. Before then there is no connection to send to (a
/// [`broadcast`](Self::broadcast) or [`publish`](Self::publish) reaches
/// nobody and returns `Ok`).
#[derive(Clone)]
pub struct Sender {
    /// The server's shared state.
    pub(crate) shared: Arc<Shared>,
}

impl Sender {
    /// The sender of the server that `handle` stops: what a backend's
    /// builder hands out as its `sender()`. The server learns that it has
    /// one ([`ShutdownHandle::has_sender`]).
    pub fn new(handle: &ShutdownHandle) -> Self {
        handle
            .shared
            .sender_taken
            .store(true, std::sync::atomic::Ordering::Relaxed);
        Sender {
            shared: Arc::clone(&handle.shared),
        }
    }

    /// Sends `message` (text, binary, ping, pong or close) to connection
    /// `to` (from [`WebSocket::id`](peregrine_core::WebSocket::id)).
    ///
    /// # Errors
    ///
    /// [`PostError::Full`], [`PostError::TooLarge`], or
    /// [`PostError::NoSuchWorker`] for an id from another server.
    pub fn send(&self, to: ConnectionId, message: Message<'_>) -> Result<(), PostError> {
        self.mailbox(to)?
            .post(Target::Connection(to.key()), message)
    }

    /// Wakes connection `to` (from
    /// [`Response::id`](peregrine_core::Response::id)), whose streamed body
    /// answered [`Fill::Pending`](peregrine_core::Fill::Pending): its
    /// handler's `fill_body` is asked again. Harmless if the connection is
    /// gone or not waiting.
    ///
    /// Wake-ups do not take room in the mailbox: each worker keeps one bit
    /// per connection slot, so any number of them, from any number of
    /// threads, is accepted, and those for one connection before it runs
    /// again are one.
    ///
    /// # Errors
    ///
    /// [`PostError::NoSuchWorker`] for an id from another server.
    pub fn wake(&self, to: ConnectionId) -> Result<(), PostError> {
        self.mailbox(to)?.wake(to.key())
    }

    /// Answers the deferred response ([`Response::defer`]) of connection
    /// `to` (the handler's [`Response::id`]) with `answer`: its status,
    /// fields and body, chosen now. The answer is copied into the mailbox
    /// of the worker serving the connection, which writes it as the
    /// response, then goes on with the connection's next requests. Over
    /// HTTP/2 the id names the request's stream too, and the answer goes
    /// to that stream; the connection's other streams go on meanwhile.
    ///
    /// An answer that finds no response waiting (the client left or reset
    /// the stream, the wait ran past `Config::parked_stream_timeout`, the
    /// connection answered already) is dropped and counted in
    /// [`Stats::messages_undelivered`](crate::Stats).
    ///
    /// ```no_run
    /// use peregrine_driver::answer::Answer;
    /// use peregrine_driver::core::StatusCode;
    /// # fn job(sender: peregrine_driver::Sender, id: peregrine_driver::core::ConnectionId) {
    /// // On a runner thread, once the job is done:
    /// let failed = true;
    /// let mut answer = Answer::new(if failed {
    ///     StatusCode::INTERNAL_SERVER_ERROR
    /// } else {
    ///     StatusCode::OK
    /// });
    /// answer.body(b"done");
    /// let _ = sender.respond(id, &answer);
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`PostError::Full`] (try again, or give up: the response waits
    /// until its client leaves or its limit passes),
    /// [`PostError::TooLarge`], or [`PostError::NoSuchWorker`] for an id
    /// from another server.
    ///
    /// [`Response::defer`]: peregrine_core::Response::defer
    /// [`Response::id`]: peregrine_core::Response::id
    pub fn respond(&self, to: ConnectionId, answer: &Answer<'_>) -> Result<(), PostError> {
        self.mailbox(to)?.post_answer(to.key(), to.stream(), answer)
    }

    /// The mailbox of the worker serving `id`.
    fn mailbox(&self, id: ConnectionId) -> Result<&Mailbox, PostError> {
        self.shared
            .mailboxes
            .get(id.owner() as usize)
            .ok_or(PostError::NoSuchWorker)
    }

    /// Sends `message` to every WebSocket connection subscribed to `topic`
    /// ([`WebSocket::subscribe`](peregrine_core::WebSocket::subscribe)),
    /// on every worker.
    ///
    /// # Errors
    ///
    /// [`PostError::Full`] if some worker's mailbox was full (the others
    /// still got the message), [`PostError::TooLarge`].
    pub fn publish(&self, topic: u64, message: Message<'_>) -> Result<(), PostError> {
        self.post_everywhere(|mailbox| mailbox.post(Target::Topic(topic), message))
    }

    /// Appends `bytes` to the body of every streamed response subscribed
    /// to `topic` ([`Response::subscribe`]), on every worker: one post
    /// reaches every Server-Sent Events client of a feed. Frame the bytes
    /// as the stream's content needs (an event: `sse::encode`); the
    /// connection adds the body's own framing (a chunk).
    ///
    /// A stream whose output is backed up (its client does not keep up)
    /// is ended after what was queued, so that the client reconnects
    /// (`Last-Event-ID`) rather than miss an event unknowingly: over
    /// HTTP/1.1 its connection closes; over HTTP/2 the stream alone is
    /// reset (RST_STREAM), the connection's other streams go on. Each
    /// connection that missed it is counted in
    /// [`Stats::messages_undelivered`](crate::Stats).
    ///
    /// # Errors
    ///
    /// As for [`publish`](Self::publish).
    ///
    /// [`Response::subscribe`]: peregrine_core::Response::subscribe
    pub fn publish_to_streams(&self, topic: u64, bytes: &[u8]) -> Result<(), PostError> {
        self.post_everywhere(|mailbox| mailbox.post_stream_data(topic, bytes))
    }

    /// Sends `message` to every open WebSocket connection of the server.
    ///
    /// # Errors
    ///
    /// As for [`publish`](Self::publish).
    pub fn broadcast(&self, message: Message<'_>) -> Result<(), PostError> {
        self.post_everywhere(|mailbox| mailbox.post(Target::All, message))
    }

    /// Posts to every worker's mailbox with `post`; the first error, after
    /// trying all (but a record too large for any mailbox stops at once).
    fn post_everywhere(
        &self,
        post: impl Fn(&Mailbox) -> Result<(), PostError>,
    ) -> Result<(), PostError> {
        let mut result = Ok(());
        for mailbox in self.shared.mailboxes.iter() {
            if let Err(error) = post(mailbox) {
                if error == PostError::TooLarge {
                    return Err(error);
                }
                result = Err(error);
            }
        }
        result
    }
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("workers", &self.shared.mailboxes.len())
            .finish()
    }
}
