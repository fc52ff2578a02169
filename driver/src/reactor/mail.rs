//! The worker's mailbox: wake-ups for parked streams, and WebSocket
//! messages other threads posted, for one connection, a topic or all.

use std::sync::Arc;

use peregrine_core::Handler;
use peregrine_core::Sizes;
use peregrine_core::ws::Message;

use super::{Poller, Worker, list};
use crate::answer::Posted;
use crate::mailbox::{self, Mail, Target};
use crate::protocol::Protocol;
use crate::slab::Token;
use crate::transport::Transport;

impl<P, H, L, T, Z: Sizes> Worker<'_, P, H, L, Z, T>
where
    P: Poller,
    H: Handler<L>,
    L: Default,
    T: Transport,
{
    /// Sends the messages other threads posted to this worker's mailbox.
    pub(super) fn take_mail(&mut self, now: u64) {
        let shared = Arc::clone(&self.shared);
        let Some(mailbox) = shared.mailboxes.get(self.settings.id) else {
            return;
        };
        // Wake-ups first: each slot at most once, for its connection now
        // (one gone since is harmless to the one that took its slot).
        mailbox.wakes.drain(|slot| {
            if let Some(token) = self.slab.token_at(slot) {
                self.wake(token, now);
            }
        });
        let mut mail = std::mem::take(&mut self.mail);
        mailbox.outbox.drain(&mut mail, |record| {
            let undelivered = match mailbox::decode(record) {
                None => 1,
                Some(Mail::Message(Target::Connection(key), message)) => {
                    u64::from(!self.deliver(Token::from_u64(key), message, now))
                }
                Some(Mail::Message(target, message)) => self.deliver_to_many(target, message, now),
                Some(Mail::Answer(key, stream, answer)) => {
                    u64::from(!self.answer(Token::from_u64(key), stream, answer, now))
                }
                Some(Mail::StreamData(topic, bytes)) => self.publish_to_streams(topic, bytes, now),
            };
            if undelivered > 0 {
                mailbox
                    .undelivered
                    .fetch_add(undelivered, std::sync::atomic::Ordering::Relaxed);
            }
        });
        self.mail = mail;
    }

    /// Resumes a streamed body that waited for the application; it runs
    /// with the connections that have work left.
    pub(super) fn wake(&mut self, token: Token, now: u64) {
        let Some(slot) = self.slab.get_mut(token) else {
            return;
        };
        if let Some(conn) = slot.conn.active() {
            conn.handle_wake(now);
        } else if let Some(conn) = slot.conn.http2() {
            conn.handle_wake(now);
        }
        if slot.conn.has_work() {
            list(&mut slot.listed, token, &mut self.ready_list);
        }
    }

    /// Writes the answer to the deferred response of the connection with
    /// `token` (of its HTTP/2 stream `stream`), and writes it out if the
    /// socket takes it; `false` if the connection is gone or no response
    /// of it waits for that answer.
    pub(super) fn answer(
        &mut self,
        token: Token,
        stream: u32,
        answer: Posted<'_>,
        now: u64,
    ) -> bool {
        let Some(slot) = self.slab.get_mut(token) else {
            return false;
        };
        // A deferred connection keeps its pair while it waits.
        let Some(buffer) = slot.buffer else {
            return false;
        };
        let bufs = self.lending.pair(buffer);
        let fill = |response: &mut peregrine_core::Response<'_, L>| answer.fill(response);
        let answered = if let Some(conn) = slot.conn.active() {
            self.app.answer(conn, bufs, stream, now, fill)
        } else if let Some(conn) = slot.conn.http2() {
            self.app.answer(conn, bufs, stream, now, fill)
        } else {
            false
        };
        if answered {
            slot.ready.writable = true;
            self.service(token, now);
        }
        answered
    }

    /// Appends `bytes` to every streamed body subscribed to `topic`;
    /// returns how many connections it did not reach (no buffer free, or
    /// a stream backed up: such a stream is ended).
    pub(super) fn publish_to_streams(&mut self, topic: u64, bytes: &[u8], now: u64) -> u64 {
        self.slab.tokens(&mut self.tokens);
        let mut undelivered = 0;
        for index in 0..self.tokens.len() {
            let token = self.tokens[index];
            let Some(slot) = self.slab.get_mut(token) else {
                continue;
            };
            if !slot.conn.streams_topic(topic) {
                continue;
            }
            let buffer = match slot.buffer {
                Some(buffer) => buffer,
                None => match self.lending.lend(token) {
                    Some(buffer) => {
                        slot.buffer = Some(buffer);
                        buffer
                    }
                    None => {
                        // Not skipped: the stream ends, its client
                        // reconnects.
                        if let Some(conn) = slot.conn.active() {
                            conn.end_streams(topic, now);
                        } else if let Some(conn) = slot.conn.http2() {
                            conn.end_streams(topic, now);
                        }
                        if slot.conn.has_work() {
                            list(&mut slot.listed, token, &mut self.ready_list);
                        }
                        undelivered += 1;
                        self.service(token, now);
                        continue;
                    }
                },
            };
            let bufs = self.lending.pair(buffer);
            let published = if let Some(conn) = slot.conn.active() {
                self.app.publish(conn, bufs, topic, bytes, now)
            } else if let Some(conn) = slot.conn.http2() {
                self.app.publish(conn, bufs, topic, bytes, now)
            } else {
                continue;
            };
            if published.is_err() {
                undelivered += 1;
            }
            slot.ready.writable = true;
            self.service(token, now);
        }
        undelivered
    }

    /// Sends `message` to every WebSocket connection `target` (a topic, or
    /// all) covers; returns how many it did not reach.
    pub(super) fn deliver_to_many(
        &mut self,
        target: Target,
        message: Message<'_>,
        now: u64,
    ) -> u64 {
        self.slab.tokens(&mut self.tokens);
        let mut undelivered = 0;
        for index in 0..self.tokens.len() {
            let token = self.tokens[index];
            let Some(slot) = self.slab.get_mut(token) else {
                continue;
            };
            let covered = match target {
                Target::Topic(topic) => slot.conn.is_subscribed(topic),
                _ => slot.conn.is_websocket(),
            };
            if covered && !self.deliver(token, message, now) {
                undelivered += 1;
            }
        }
        undelivered
    }

    /// Sends `message` to one connection and writes it out if the socket
    /// takes it; `false` if the connection is gone, does not speak
    /// WebSocket or is closing, has no room for it, or no buffer is free.
    pub(super) fn deliver(&mut self, token: Token, message: Message<'_>, now: u64) -> bool {
        let Some(slot) = self.slab.get_mut(token) else {
            return false;
        };
        if !slot.conn.is_websocket() {
            return false;
        }
        let buffer = match slot.buffer {
            Some(buffer) => buffer,
            None => match self.lending.lend(token) {
                Some(buffer) => {
                    slot.buffer = Some(buffer);
                    buffer
                }
                None => return false,
            },
        };
        let Some(conn) = slot.conn.active() else {
            return false;
        };
        let (deflate, counters) = self.app.deflate();
        let bufs = self.lending.pair(buffer);
        let sent = conn.send_message_with(bufs, message, now, Some(deflate), counters);
        // Write it now (and settle the buffer and the deadline), also after
        // a failure that began a close.
        self.service(token, now);
        sent.is_ok()
    }
}
