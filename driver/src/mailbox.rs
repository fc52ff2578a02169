//! A worker's mailbox: what other threads post to it. WebSocket messages
//! go in a fixed, lock-free [`Outbox`] of records, for one connection, a
//! topic or all; wake-ups for parked streams go in a [`WakeSet`], a bit
//! per connection slot. Nothing is allocated per message; nothing locks.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use peregrine_core::ws::{CloseCode, Message};

use crate::answer::{Answer, Posted};
use crate::outbox::{Outbox, PostFailed, Record};
use crate::slab::Token;
use crate::waker::Waker;
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
    /// Set while the mailbox's owner serves no connection (a thread of
    /// the portable backend between connections; never for an event
    /// loop's): posts are then dropped at once, those for one connection
    /// counted undelivered, so that a thread waiting in `accept` does not
    /// see its mailbox fill with broadcasts nobody will take.
    closed: AtomicBool,
    /// The connections its owner opened, for an owner that serves one at
    /// a time (see `Inbox`): the generation in their keys, kept here so
    /// that an owner that takes over from one that ended goes on counting.
    pub(crate) opened: AtomicU32,
}

impl Mailbox {
    /// An empty mailbox of `capacity` bytes, with wake-ups for
    /// `connections` slots.
    pub(crate) fn with_capacity(capacity: usize, connections: usize) -> Self {
        Self::made(Outbox::with_capacity(capacity), connections)
    }

    /// [`with_capacity`](Self::with_capacity), closed, its room allocated
    /// only when its owner first opens it (see `Inbox`): for a thread
    /// that may never serve a connection.
    pub(crate) fn closed(capacity: usize, connections: usize) -> Self {
        let mailbox = Self::made(Outbox::unallocated(capacity), connections);
        mailbox.set_closed(true);
        mailbox
    }

    /// A mailbox around `outbox`, with wake-ups for `connections` slots.
    fn made(outbox: Outbox, connections: usize) -> Self {
        Mailbox {
            outbox,
            waker: OnceLock::new(),
            undelivered: AtomicU64::new(0),
            wakes: WakeSet::new(connections),
            closed: AtomicBool::new(false),
            opened: AtomicU32::new(0),
        }
    }

    /// Opens (`false`) or closes (`true`) the mailbox to posts; see
    /// `closed`. A post racing with the change may land either way: its
    /// owner takes what landed at its next drain.
    pub(crate) fn set_closed(&self, closed: bool) {
        self.closed.store(closed, Ordering::SeqCst);
    }

    /// Whether a post for `target` is dropped because the mailbox is
    /// closed; one for a connection is then counted undelivered.
    fn drops(&self, target: Target) -> bool {
        if !self.closed.load(Ordering::Acquire) {
            return false;
        }
        if let Target::Connection(_) = target {
            self.undelivered.fetch_add(1, Ordering::Relaxed);
        }
        true
    }

    /// Marks the connection with `key` woken, and wakes the worker if it
    /// needs it. Never refused for want of room: repeated wake-ups of one
    /// connection are one.
    pub(crate) fn wake(&self, key: u64) -> Result<(), PostError> {
        if self.closed.load(Ordering::Acquire) {
            // No connection to wake.
            return Ok(());
        }
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
    pub(crate) fn post(&self, target: Target, message: Message<'_>) -> Result<(), PostError> {
        if self.drops(target) {
            return Ok(());
        }
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

    /// Posts the answer to the deferred response of the connection with
    /// `key` (of its HTTP/2 stream `stream`, or 0), and wakes the worker
    /// if it needs it.
    pub(crate) fn post_answer(
        &self,
        key: u64,
        stream: u32,
        answer: &Answer<'_>,
    ) -> Result<(), PostError> {
        if self.drops(Target::Connection(key)) {
            return Ok(());
        }
        let head_len = answer.head_len();
        let body = answer.body_bytes();
        let len = 8 + head_len + body.len();
        let extra = answer.status().as_u16() | u16::from(answer.closes()) << ANSWER_CLOSES_BIT;
        let prefix = u32::try_from(head_len)
            .map_err(|_| PostError::TooLarge)?
            .to_le_bytes();
        let posted =
            self.outbox
                .post_pieces(TARGET_CONNECTION << 8 | ANSWER, key, extra, len, |piece| {
                    piece(&stream.to_le_bytes());
                    piece(&prefix);
                    answer.head_pieces(&mut *piece);
                    piece(body);
                });
        self.wake_if(posted)
    }

    /// Posts `bytes` for the streamed bodies subscribed to `topic`, and
    /// wakes the worker if it needs it.
    pub(crate) fn post_stream_data(&self, topic: u64, bytes: &[u8]) -> Result<(), PostError> {
        if self.drops(Target::Topic(topic)) {
            return Ok(());
        }
        self.post_record(TARGET_TOPIC << 8 | STREAM_DATA, topic, 0, bytes)
    }

    /// Posts one record and wakes the worker if it needs it.
    fn post_record(
        &self,
        kind: u16,
        target: u64,
        extra: u16,
        payload: &[u8],
    ) -> Result<(), PostError> {
        self.wake_if(self.outbox.post(kind, target, extra, payload))
    }

    /// After a post: wakes the worker if the outbox says so.
    fn wake_if(&self, posted: Result<bool, PostFailed>) -> Result<(), PostError> {
        let wake = posted.map_err(|failed| match failed {
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
/// The answer to a deferred response: the extra number is the status,
/// with [`ANSWER_CLOSES_BIT`] set if the connection closes after it; the
/// payload is the HTTP/2 stream (4 bytes, little-endian; 0 for HTTP/1.1),
/// the fields' length (4 bytes, little-endian), the fields
/// (`name: value\r\n` each), then the body.
const ANSWER: u16 = 6;
/// See [`ANSWER`]: statuses are below 1,000.
const ANSWER_CLOSES_BIT: u16 = 10;
/// Bytes for the streamed bodies subscribed to a topic (the target).
const STREAM_DATA: u16 = 7;

/// What a mailbox record asks of the worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mail<'a> {
    /// Send a WebSocket message. (Wake-ups for parked streams do not go
    /// through records: see the mailbox's wake-up set.)
    Message(Target, Message<'a>),
    /// Answer the deferred response of the connection with this key, on
    /// this HTTP/2 stream (0 for HTTP/1.1).
    Answer(u64, u32, Posted<'a>),
    /// Append these bytes to every streamed body subscribed to a topic.
    StreamData(u64, &'a [u8]),
}

/// A record taken from a mailbox as what it asks; `None` for one no
/// sender writes.
pub(crate) fn decode(record: Record<'_>) -> Option<Mail<'_>> {
    if record.kind == TARGET_CONNECTION << 8 | ANSWER {
        let (stream, rest) = record.payload.split_first_chunk::<4>()?;
        let (prefix, rest) = rest.split_first_chunk::<4>()?;
        let (head, body) = rest.split_at_checked(u32::from_le_bytes(*prefix) as usize)?;
        let posted = Posted {
            status: record.extra & ((1 << ANSWER_CLOSES_BIT) - 1),
            close: record.extra & (1 << ANSWER_CLOSES_BIT) != 0,
            head,
            body,
        };
        return Some(Mail::Answer(
            record.target,
            u32::from_le_bytes(*stream),
            posted,
        ));
    }
    if record.kind == TARGET_TOPIC << 8 | STREAM_DATA {
        return Some(Mail::StreamData(record.target, record.payload));
    }
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
    fn an_answer_survives_a_mailbox() {
        let mailbox = Mailbox::with_capacity(1024, 0);
        let mut answer = Answer::new(peregrine_core::StatusCode::INTERNAL_SERVER_ERROR);
        answer
            .header("Content-Type", b"text/plain")
            .unwrap()
            .header("X-Job", b"7")
            .unwrap()
            .body(b"the job failed")
            .close();
        mailbox.post_answer(42, 5, &answer).unwrap();
        let mut scratch = vec![0; mailbox.outbox.max_payload()];
        let mut taken = 0;
        mailbox.outbox.drain(&mut scratch, |record| {
            let expected = Posted {
                status: 500,
                close: true,
                head: b"Content-Type: text/plain\r\nX-Job: 7\r\n",
                body: b"the job failed",
            };
            assert_eq!(decode(record), Some(Mail::Answer(42, 5, expected)));
            taken += 1;
        });
        assert_eq!(taken, 1);
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
