//! Sending WebSocket messages from any thread: the [`Sender`] handle and
//! the per-worker mailboxes behind it.
//!
//! Each worker owns a mailbox: a fixed, lock-free [`Outbox`] that any
//! thread posts into, plus the worker's waker. A message for one
//! connection goes to the mailbox of the worker serving it (the
//! connection's [`ConnectionId::owner`]); a message for a topic, or for
//! every connection, goes once to every worker, which copies it to each of
//! its connections concerned. Nothing is allocated per message; nothing
//! locks.

use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};

use peregrine_core::ConnectionId;
use peregrine_core::ws::{CloseCode, Message};

use crate::outbox::{Outbox, PostFailed, Record};
use crate::slab::Token;
use crate::stats::{Shared, Waker};
use crate::wakes::WakeSet;

/// Default bytes of each worker's mailbox.
pub const DEFAULT_MAILBOX_CAPACITY: usize = 256 * 1024;

/// Where a posted message goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// One connection, by its key within the worker.
    Connection(u64),
    /// Every WebSocket connection subscribed to a topic.
    Topic(u64),
    /// Every WebSocket connection.
    All,
}

/// One worker's mailbox.
pub(crate) struct Mailbox {
    /// Messages posted for the worker's connections.
    pub(crate) outbox: Outbox,
    /// Wakes the worker; set when it starts.
    pub(crate) waker: OnceLock<Arc<dyn Waker>>,
    /// Messages that reached the worker but no connection: it was gone,
    /// closing, out of buffer room, or no buffer was free.
    pub(crate) undelivered: AtomicU64,
    /// Wake-ups for parked streams, one bit per connection slot.
    pub(crate) wakes: WakeSet,
}

impl Mailbox {
    /// An empty mailbox of `capacity` bytes, with wake-ups for
    /// `connections` slots.
    pub(crate) fn with_capacity(capacity: usize, connections: usize) -> Self {
        Mailbox {
            outbox: Outbox::with_capacity(capacity),
            waker: OnceLock::new(),
            undelivered: AtomicU64::new(0),
            wakes: WakeSet::new(connections),
        }
    }

    /// Marks the connection with `key` woken, and wakes the worker if it
    /// needs it. Never refused for want of room: repeated wake-ups of one
    /// connection are one.
    fn wake(&self, key: u64) -> Result<(), PostError> {
        match self.wakes.insert(Token::from_u64(key).slot()) {
            Some(true) => {
                if let Some(waker) = self.waker.get() {
                    waker.wake();
                }
                Ok(())
            }
            Some(false) => Ok(()),
            // Not a slot of this worker: no connection of it to wake.
            None => Ok(()),
        }
    }

    /// Posts `message` for `target` and wakes the worker if it needs it.
    fn post(&self, target: Target, message: Message<'_>) -> Result<(), PostError> {
        let (target_kind, target) = match target {
            Target::Connection(key) => (TARGET_CONNECTION, key),
            Target::Topic(topic) => (TARGET_TOPIC, topic),
            Target::All => (TARGET_ALL, 0),
        };
        let (message_kind, extra, payload) = match message {
            Message::Text(text) => (TEXT, 0, text.as_bytes()),
            Message::Binary(data) => (BINARY, 0, data),
            Message::Ping(payload) => (PING, 0, payload),
            Message::Pong(payload) => (PONG, 0, payload),
            Message::Close(code, reason) => {
                (CLOSE, code.map_or(0, CloseCode::as_u16), reason.as_bytes())
            }
        };
        self.post_record(target_kind << 8 | message_kind, target, extra, payload)
    }

    /// Posts one record and wakes the worker if it needs it.
    fn post_record(
        &self,
        kind: u16,
        target: u64,
        extra: u16,
        payload: &[u8],
    ) -> Result<(), PostError> {
        let wake =
            self.outbox
                .post(kind, target, extra, payload)
                .map_err(|failed| match failed {
                    PostFailed::Full => PostError::Full,
                    PostFailed::TooLarge => PostError::TooLarge,
                })?;
        if wake {
            if let Some(waker) = self.waker.get() {
                waker.wake();
            }
        }
        Ok(())
    }
}

/// Record kinds: the target in the high byte, the message in the low.
const TARGET_CONNECTION: u16 = 0;
/// See [`TARGET_CONNECTION`].
const TARGET_TOPIC: u16 = 1;
/// See [`TARGET_CONNECTION`].
const TARGET_ALL: u16 = 2;
/// A text message.
const TEXT: u16 = 1;
/// A binary message.
const BINARY: u16 = 2;
/// A Ping.
const PING: u16 = 3;
/// An unsolicited Pong.
const PONG: u16 = 4;
/// A Close; the record's extra number is the code (0: none).
const CLOSE: u16 = 5;

/// What a mailbox record asks of the worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mail<'a> {
    /// Send a WebSocket message. (Wake-ups for parked streams do not go
    /// through records: see the mailbox's wake-up set.)
    Message(Target, Message<'a>),
}

/// A record taken from a mailbox as what it asks; `None` for one no
/// sender writes.
pub(crate) fn decode(record: Record<'_>) -> Option<Mail<'_>> {
    let target = match record.kind >> 8 {
        TARGET_CONNECTION => Target::Connection(record.target),
        TARGET_TOPIC => Target::Topic(record.target),
        TARGET_ALL => Target::All,
        _ => return None,
    };
    let message = match record.kind & 0xff {
        TEXT => Message::Text(std::str::from_utf8(record.payload).ok()?),
        BINARY => Message::Binary(record.payload),
        PING => Message::Ping(record.payload),
        PONG => Message::Pong(record.payload),
        CLOSE => Message::Close(
            CloseCode::new(record.extra),
            std::str::from_utf8(record.payload).ok()?,
        ),
        _ => return None,
    };
    Some(Mail::Message(target, message))
}

/// Why a message was not posted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PostError {
    /// The worker's mailbox is full: it has not caught up with earlier
    /// messages. Try again later, or drop the message.
    Full,
    /// The message is larger than a mailbox can ever hold (its capacity
    /// less 16 bytes; see `Server::mailbox_capacity`).
    TooLarge,
    /// No worker of this server has that id: the id came from another
    /// server.
    NoSuchWorker,
}

impl fmt::Display for PostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PostError::Full => "the worker's mailbox is full",
            PostError::TooLarge => "the message is larger than a mailbox",
            PostError::NoSuchWorker => "no worker of this server has that connection id",
        })
    }
}

impl std::error::Error for PostError {}

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
        self.post_everywhere(Target::Topic(topic), message)
    }

    /// Sends `message` to every open WebSocket connection of the server.
    ///
    /// # Errors
    ///
    /// As for [`publish`](Self::publish).
    pub fn broadcast(&self, message: Message<'_>) -> Result<(), PostError> {
        self.post_everywhere(Target::All, message)
    }

    /// Posts to every worker's mailbox; the first error, after trying all.
    fn post_everywhere(&self, target: Target, message: Message<'_>) -> Result<(), PostError> {
        let mut result = Ok(());
        for mailbox in self.shared.mailboxes.iter() {
            if let Err(error) = mailbox.post(target, message) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_and_target_survives_a_mailbox() {
        let mailbox = Mailbox::with_capacity(1024, 0);
        let messages = [
            (Target::Connection(42), Message::Text("héllo")),
            (Target::Topic(7), Message::Binary(&[0, 1, 2])),
            (Target::All, Message::Ping(b"p")),
            (Target::All, Message::Pong(b"")),
            (
                Target::Connection(u64::MAX),
                Message::Close(Some(CloseCode::GOING_AWAY), "bye"),
            ),
            (Target::Topic(0), Message::Close(None, "")),
        ];
        for (target, message) in messages {
            mailbox.post(target, message).unwrap();
        }
        let mut scratch = vec![0; mailbox.outbox.max_payload()];
        let mut index = 0;
        mailbox.outbox.drain(&mut scratch, |record| {
            let (target, message) = messages[index];
            assert_eq!(decode(record), Some(Mail::Message(target, message)));
            index += 1;
        });
        assert_eq!(index, messages.len());
    }

    #[test]
    fn posting_reports_full_and_too_large() {
        let mailbox = Mailbox::with_capacity(64, 0);
        assert_eq!(
            mailbox.post(Target::All, Message::Binary(&[0; 49])),
            Err(PostError::TooLarge)
        );
        mailbox
            .post(Target::All, Message::Binary(&[0; 48]))
            .unwrap();
        assert_eq!(
            mailbox.post(Target::All, Message::Text("")),
            Err(PostError::Full)
        );
    }
}
