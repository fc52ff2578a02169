//! A worker's mailbox as a thread that serves one connection at a time
//! owns it: the portable backend's threads, each of which serves a
//! connection from accept to close with blocking calls.
//!
//! Such a server sizes one mailbox per thread (per statistics slot) with
//! [`ShutdownHandle::set_slots_with_mailboxes`], and every
//! [`Sender`](crate::Sender) of it posts there exactly as it posts to an
//! event loop's: a connection's [`ConnectionId::owner`] is its thread's
//! slot, its [`key`](ConnectionId::key) tells the connection apart from
//! the thread's earlier ones (a generation, so a message for one that is
//! gone is dropped and counted, never delivered to its successor).
//!
//! The thread [`open`](Inbox::open)s the inbox when it takes a connection
//! and [`close`](Inbox::close)s it when the connection ends: while it is
//! closed (the thread waits in `accept`), posts are dropped at once, those
//! for one connection counted undelivered, so broadcasts do not pile up
//! in the mailbox of a thread that serves nobody. While it is open, the
//! thread [`take`](Inbox::take)s what was posted whenever the waker it
//! registered is woken, between its socket calls.
//!
//! Nothing here allocates after [`Inbox::new`]: records are copied into a
//! scratch buffer made once, and delivered into the connection's buffers.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use peregrine_core::Sizes;
use peregrine_core::ws::Message;
use peregrine_core::{Connection, ConnectionId, Handler, IoBuffers};

use crate::ShutdownHandle;
use crate::app::App;
use crate::hub::Shared;
use crate::mailbox::{self, Mail, Mailbox, Target};
use crate::protocol::Protocol;
use crate::waker::Waker;

/// One mailbox of a server, owned by the thread that publishes into the
/// statistics slot of the same number, for the connection it serves.
pub struct Inbox {
    /// The server's shared state, which holds the mailbox.
    shared: Arc<Shared>,
    /// Which mailbox: the thread's slot.
    index: usize,
    /// The same, as connection ids carry it.
    owner: u32,
    /// The connection served now (or last), counting from 1 over the
    /// mailbox's life (whichever inbox opened the earlier ones).
    generation: u32,
    /// Where each record's payload is copied to be read.
    scratch: Box<[u8]>,
}

impl Inbox {
    /// Mailbox `index` of the server that `handle` stops, whose posts wake
    /// `waker` (each time the mailbox goes from empty to not empty, and
    /// for the first wake-up since the last [`take`](Self::take)); `None`
    /// if the server has no such mailbox (none were sized: see
    /// [`ShutdownHandle::set_slots_with_mailboxes`]).
    ///
    /// The mailbox's room is allocated now, if it was not before. A
    /// mailbox keeps the first waker registered for it: a thread that
    /// takes over a slot from one that ended passes the same waker.
    pub fn new(handle: &ShutdownHandle, index: usize, waker: Arc<dyn Waker>) -> Option<Self> {
        let shared = Arc::clone(&handle.shared);
        let mailbox = shared.mailboxes.get(index)?;
        let owner = u32::try_from(index).ok()?;
        mailbox.outbox.allocate();
        let _ = mailbox.waker.set(waker);
        let scratch = vec![0; mailbox.outbox.max_payload()].into_boxed_slice();
        Some(Inbox {
            shared,
            index,
            owner,
            generation: 0,
            scratch,
        })
    }

    /// The mailbox.
    fn mailbox(&self) -> Option<&Mailbox> {
        self.shared.mailboxes.get(self.index)
    }

    /// The key of the connection served now: its generation, in the
    /// place a slab token keeps it (slot 0, the mailbox's only wake-up
    /// bit).
    fn key(&self) -> u64 {
        u64::from(self.generation) << 32
    }

    /// Begins serving a new connection: returns its id (for
    /// [`Connection::set_id`]), and opens the mailbox to posts. What was
    /// left there for the thread's earlier connections is dropped, each
    /// message for one of them counted undelivered.
    pub fn open(&mut self) -> ConnectionId {
        let opened = self
            .mailbox()
            .map_or(0, |mailbox| mailbox.opened.fetch_add(1, Ordering::Relaxed));
        self.generation = opened.wrapping_add(1).max(1);
        self.discard();
        if let Some(mailbox) = self.mailbox() {
            mailbox.set_closed(false);
        }
        ConnectionId::new(self.owner, self.key())
    }

    /// Ends the connection opened last: the mailbox is closed to posts,
    /// and what is left in it is dropped (see [`open`](Self::open)).
    pub fn close(&mut self) {
        if let Some(mailbox) = self.mailbox() {
            mailbox.set_closed(true);
        }
        self.discard();
    }

    /// Drops what the mailbox holds, counting each message for a
    /// connection undelivered.
    fn discard(&mut self) {
        let _ = self.take_wake();
        self.drain(|mail| match mail {
            Mail::Message(Target::Connection(_), _) | Mail::Answer(..) => 1,
            Mail::Message(..) | Mail::StreamData(..) => 0,
        });
    }

    /// Takes the wake-up posted since the last call, if there was one.
    fn take_wake(&self) -> bool {
        let mut woken = false;
        if let Some(mailbox) = self.mailbox() {
            mailbox.wakes.drain(|_| woken = true);
        }
        woken
    }

    /// Takes every complete record, handing each to `deliver`, which says
    /// how many connections it did not reach; those are counted.
    fn drain(&mut self, mut deliver: impl FnMut(Mail<'_>) -> u64) {
        let Inbox {
            shared,
            index,
            scratch,
            ..
        } = self;
        let Some(mailbox) = shared.mailboxes.get(*index) else {
            return;
        };
        let mut undelivered = 0;
        mailbox.outbox.drain(scratch, |record| {
            undelivered += match mailbox::decode(record) {
                None => 1,
                Some(mail) => deliver(mail),
            };
        });
        if undelivered > 0 {
            mailbox
                .undelivered
                .fetch_add(undelivered, Ordering::Relaxed);
        }
    }

    /// Acts at `now` on what was posted for HTTP/1.1 connection `conn`
    /// (its buffers `bufs`), as an event loop does for each of its
    /// connections: a wake-up resumes its streamed body waiting for the
    /// application, a message is queued as a WebSocket frame, an answer
    /// becomes its deferred response, published bytes are appended to its
    /// subscribed stream. What it queued goes out with the caller's next
    /// write. Messages it could not take (another connection's, or no
    /// room: see [`Sender`](crate::Sender)) are counted undelivered.
    pub fn take<H, L, Z: Sizes>(
        &mut self,
        app: &mut App<'_, H, L>,
        conn: &mut Connection<Z>,
        bufs: &mut IoBuffers<Z>,
        now: u64,
    ) where
        H: Handler<L>,
        L: Default,
    {
        if self.take_wake() {
            conn.handle_wake(now);
        }
        let key = self.key();
        self.drain(|mail| {
            let missed = match mail {
                Mail::Message(Target::Connection(to), message) => {
                    to != key || !deliver(app, conn, bufs, message, now)
                }
                Mail::Message(Target::Topic(topic), message) => {
                    conn.is_subscribed(topic) && !deliver(app, conn, bufs, message, now)
                }
                Mail::Message(Target::All, message) => {
                    conn.is_websocket() && !deliver(app, conn, bufs, message, now)
                }
                mail => take_either(app, conn, bufs, key, mail, now),
            };
            u64::from(missed)
        });
    }

    /// [`take`](Self::take) for an HTTP/2 connection: wake-ups resume its
    /// streams waiting for the application, an answer goes to the
    /// deferred response of the stream it names, published bytes to its
    /// subscribed streams; WebSocket messages for it are dropped and
    /// counted, as an event loop drops them for such a connection.
    pub fn take_http2<C, H, L, Z: Sizes>(
        &mut self,
        app: &mut App<'_, H, L>,
        conn: &mut C,
        bufs: &mut IoBuffers<Z>,
        now: u64,
    ) where
        C: Protocol<Z>,
        H: Handler<L>,
        L: Default,
    {
        if self.take_wake() {
            conn.handle_wake(now);
        }
        let key = self.key();
        self.drain(|mail| match mail {
            Mail::Message(Target::Connection(_), _) => 1,
            Mail::Message(..) => 0,
            mail => u64::from(take_either(app, conn, bufs, key, mail, now)),
        });
    }
}

/// What both protocols take alike, for connection `conn` with `key`: an
/// answer to a deferred response, published bytes for subscribed streams.
/// Whether it was missed (another connection's answer, or no response
/// waiting, or a stream backed up); `false` for a WebSocket message (the
/// callers take those themselves).
fn take_either<C, H, L, Z: Sizes>(
    app: &mut App<'_, H, L>,
    conn: &mut C,
    bufs: &mut IoBuffers<Z>,
    key: u64,
    mail: Mail<'_>,
    now: u64,
) -> bool
where
    C: Protocol<Z>,
    H: Handler<L>,
    L: Default,
{
    match mail {
        Mail::Answer(to, stream, answer) => {
            to != key || !app.answer(conn, bufs, stream, now, |response| answer.fill(response))
        }
        Mail::StreamData(topic, bytes) => {
            conn.streams_topic(topic) && app.publish(conn, bufs, topic, bytes, now).is_err()
        }
        Mail::Message(..) => false,
    }
}

/// Queues `message` on WebSocket connection `conn`; `false` if it is not
/// one, is closing, or has no room for it.
fn deliver<H, L, Z: Sizes>(
    app: &mut App<'_, H, L>,
    conn: &mut Connection<Z>,
    bufs: &mut IoBuffers<Z>,
    message: Message<'_>,
    now: u64,
) -> bool
where
    H: Handler<L>,
    L: Default,
{
    if !conn.is_websocket() {
        return false;
    }
    let (deflate, counters) = app.deflate();
    conn.send_message_with(bufs, message, now, Some(deflate), counters)
        .is_ok()
}

/// An inbox dropped (its thread ended, or went down with a panic) leaves
/// its mailbox closed, so that posts do not pile up there until another
/// thread takes the slot.
impl Drop for Inbox {
    fn drop(&mut self) {
        self.close();
    }
}

impl fmt::Debug for Inbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inbox")
            .field("index", &self.index)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;
    use crate::Sender;

    /// Counts its wake-ups.
    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Waker for Count {
        fn wake(&self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_closed_inbox_drops_posts_and_an_open_one_wakes_its_thread() {
        let handle = ShutdownHandle::without_slots();
        let sender = Sender::new(&handle);
        assert!(handle.has_sender());
        assert!(handle.set_slots_with_mailboxes(2, 1024));
        assert!(!handle.set_slots_with_mailboxes(2, 1024));
        let waker = Arc::new(Count::default());
        let mut inbox = Inbox::new(&handle, 1, waker.clone()).expect("mailbox 1");
        assert!(Inbox::new(&handle, 2, waker.clone()).is_none());

        // Closed: dropped at once, the one for a connection counted.
        let stranger = ConnectionId::new(1, 1 << 32);
        sender.send(stranger, Message::Text("x")).unwrap();
        sender.broadcast(Message::Text("all")).unwrap();
        sender.wake(stranger).unwrap();
        assert_eq!(waker.0.load(Ordering::SeqCst), 0);
        assert_eq!(handle.stats().messages_undelivered, 1);

        // Open: the first post wakes the thread; what is left when the
        // connection ends is dropped, the messages for it counted.
        let id = inbox.open();
        assert_eq!((id.owner(), id.key()), (1, 1 << 32));
        sender.send(id, Message::Text("for you")).unwrap();
        sender.publish(3, Message::Text("topic")).unwrap();
        sender.wake(id).unwrap();
        assert!(waker.0.load(Ordering::SeqCst) >= 1);
        inbox.close();
        assert_eq!(handle.stats().messages_undelivered, 2);

        // The next connection has another id, whichever inbox of the
        // mailbox opens it; a dropped inbox closes it.
        assert_eq!(inbox.open().key(), 2 << 32);
        drop(inbox);
        sender
            .send(ConnectionId::new(1, 2 << 32), Message::Text("x"))
            .unwrap();
        assert_eq!(handle.stats().messages_undelivered, 3);
        let mut next = Inbox::new(&handle, 1, waker).expect("mailbox 1");
        assert_eq!(next.open().key(), 3 << 32);
    }
}
