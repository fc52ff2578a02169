//! Serving connections: driving one as far as it goes, lending it a
//! buffer pair (or a place in line, and sending a slow head away for
//! those in line), running the ones with work left, firing deadlines and
//! closing.

use std::os::fd::AsFd;
use std::panic::{AssertUnwindSafe, catch_unwind};

use peregrine_core::Handler;
use peregrine_core::Sizes;

use super::{Armed, Poller, Slot, Worker, arm_deadline, arm_slot, list};
use crate::io::Mode;
use crate::lending::Lending;
use crate::slab::Token;
use crate::transport::{Session, Transport, earliest};
use crate::unix::{self, FdSocket};

/// Lends `slot` (connection `token`) a pair, or puts it in line for one.
/// Under pressure only, a peek at the socket: a whole request (or a
/// WebSocket frame, or a stream woken with something to send) takes the
/// last pairs, and goes ahead of partial heads in line.
#[inline]
fn lend_pair<X, Z: Sizes>(
    lending: &mut Lending<Z>,
    slot: &mut Slot<Z, X>,
    token: Token,
) -> Option<u32> {
    let (conn, fd) = (&slot.conn, &slot.fd);
    let whole = || {
        conn.is_websocket()
            || conn.is_http2()
            || conn.has_work()
            || unix::has_complete_head(fd.as_fd())
    };
    let buffer = lending.lend_or_wait(token, &mut slot.waiting, whole)?;
    slot.buffer = Some(buffer);
    Some(buffer)
}

impl<P, H, L, T, Z: Sizes> Worker<'_, P, H, L, Z, T>
where
    P: Poller,
    H: Handler<L>,
    L: Default,
    T: Transport,
{
    /// Drives one connection as far as it goes, then settles its buffer,
    /// its timer and whether it is done; a handler panic is contained
    /// ([`recover`](Self::recover)).
    pub(super) fn service(&mut self, token: Token, now: u64) {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| self.service_unguarded(token, now))) {
            self.recover(panic, now);
        }
    }

    /// [`service`](Self::service), with a handler panic left to unwind
    /// out of it, for the caller to contain with
    /// [`recover`](Self::recover): the connection it was serving is named
    /// in `serving` meanwhile. The turn serves its events this way, with
    /// one `catch_unwind` for them all, as one around each would cost the
    /// usual request a tenth more instructions.
    pub(super) fn service_unguarded(&mut self, token: Token, now: u64) {
        self.serve_http1(token, now, false);
    }

    /// Serves connection `token` at `now` (see
    /// [`service_unguarded`](Self::service_unguarded)). With
    /// `after_panic`, the connection's handler panicked in its last drive:
    /// it answers what it can and writes it instead
    /// ([`App::after_panic`](crate::app::App::after_panic)), then is
    /// settled as after any drive.
    #[inline(always)]
    fn serve_http1(&mut self, token: Token, now: u64, after_panic: bool) {
        let Worker {
            slab,
            lending,
            spares,
            app,
            serving,
            ready_list,
            timers,
            ..
        } = self;
        let Some(slot) = slab.get_mut(token) else {
            return;
        };
        let buffer = match slot.buffer {
            Some(buffer) => buffer,
            None => {
                // Readable: lend it the buffers and let `drive` see
                // whether it reads (it nearly always does; when not, the
                // buffers come straight back).
                let wants_io = slot.ready.readable
                    || slot.conn.wants_write()
                    || (slot.ready.writable && slot.session.has_pending_output());
                if !wants_io {
                    return;
                }
                match lend_pair(lending, slot, token) {
                    Some(buffer) => buffer,
                    None => return,
                }
            }
        };
        if slot.conn.is_http2() {
            self.service_http2(token, buffer, now);
            return;
        }
        let conn = slot.conn.activate(spares, token);
        let result = {
            let bufs = lending.pair(buffer);
            let socket = &mut slot.session.wrap(FdSocket(slot.fd.as_fd()));
            let ready = &mut slot.ready;
            if after_panic {
                app.after_panic(conn, bufs, socket, ready, Mode::EdgeTriggered, now)
            } else {
                *serving = Some(token);
                let result =
                    app.drive_unguarded(conn, bufs, socket, ready, Mode::EdgeTriggered, now);
                *serving = None;
                result
            }
        };
        if conn.has_work() {
            list(&mut slot.listed, token, ready_list);
        }
        if result.is_err() || conn.is_closed() || conn.is_hijacked() || conn.is_http2() {
            if result.is_ok() && conn.is_http2() {
                self.begin_http2(token, now);
            } else {
                self.close(token);
            }
            return;
        }
        // Settle, on the connection in hand: return its buffer if it holds
        // no state (suspending it if it is idle and states are short), and
        // arm its deadline.
        let idle = conn.is_idle();
        let deadline = earliest(conn.poll_timeout(), slot.session.deadline());
        let mut freed = false;
        // An idle connection holds nothing in its buffers: the usual case
        // after a response asks no more.
        debug_assert!(!idle || !conn.holds_buffers());
        if idle || !conn.holds_buffers() {
            if idle {
                slot.conn.suspend_if_idle(spares);
            }
            if let Some(buffer) = slot.buffer.take() {
                lending.give_back(buffer);
                freed = true;
            }
        }
        arm_deadline(timers, token, &mut slot.armed, deadline);
        if idle {
            // Busy connections are taken off the list lazily, when the
            // search for one to close meets them (`evictable`).
            self.slab.mark_idle(token);
        }
        if freed && self.lending.has_waiting() {
            self.lend_to_waiter();
        }
        self.sweep_timers();
    }

    /// A handler panicked in the worker's turn. If it was serving an
    /// HTTP/1.1 connection (`serving`), that connection answers what it
    /// can ([`App::after_panic`](crate::app::App::after_panic): a `500` if
    /// nothing of the response went out yet, then it closes) and the turn
    /// goes on; a panic anywhere else is the worker's own and unwinds on.
    #[cold]
    #[inline(never)]
    pub(super) fn recover(&mut self, panic: Box<dyn std::any::Any + Send>, now: u64) {
        let Some(token) = self.serving.take() else {
            std::panic::resume_unwind(panic);
        };
        self.serve_http1(token, now, true);
    }

    /// The client of connection `token` opened with the HTTP/2 preface:
    /// it goes on in HTTP/2 in the same buffers, and what it sent after
    /// the preface is taken now.
    #[cold]
    #[inline(never)]
    fn begin_http2(&mut self, token: Token, now: u64) {
        let Some(slot) = self.slab.get_mut(token) else {
            return;
        };
        let switched = slot.conn.switch_to_http2(&mut self.spares, now);
        let (Some(buffer), Some(conn)) = (slot.buffer, slot.conn.http2()) else {
            self.close(token);
            return;
        };
        if !switched || !self.app.resume(conn, self.lending.pair(buffer), now) {
            self.close(token);
            return;
        }
        slot.ready.writable = true;
        self.service_http2(token, buffer, now);
    }

    /// Drives an HTTP/2 connection holding pair `buffer` as far as it
    /// goes, then settles it as [`service`](Self::service) does: the pair
    /// goes back while it holds no bytes in it, and its deadline is armed.
    #[inline(never)]
    fn service_http2(&mut self, token: Token, buffer: u32, now: u64) {
        let Worker {
            slab,
            lending,
            app,
            timers,
            ..
        } = self;
        let Some(slot) = slab.get_mut(token) else {
            return;
        };
        let Some(conn) = slot.conn.http2() else {
            return;
        };
        let result = app.drive(
            conn,
            lending.pair(buffer),
            &mut slot.session.wrap(FdSocket(slot.fd.as_fd())),
            &mut slot.ready,
            Mode::EdgeTriggered,
            now,
        );
        if conn.has_work() {
            list(&mut slot.listed, token, &mut self.ready_list);
        }
        if result.is_err() || conn.is_closed() {
            self.close(token);
            return;
        }
        let deadline = earliest(conn.poll_timeout(), slot.session.deadline());
        let mut freed = false;
        if !conn.holds_buffers() && !slot.session.has_pending_output() {
            if let Some(buffer) = slot.buffer.take() {
                lending.give_back(buffer);
                freed = true;
            }
        }
        let idle = slot.conn.is_idle();
        arm_deadline(timers, token, &mut slot.armed, deadline);
        if idle {
            // The one closed to make room, if it is still idle then.
            self.slab.mark_idle(token);
        }
        if freed && self.lending.has_waiting() {
            self.lend_to_waiter();
        }
        self.sweep_timers();
    }

    /// Handles the deadline of an HTTP/2 connection: its idle timeout, or
    /// a client too slow with its preface or its windows. A GOAWAY may be
    /// due, so it borrows a pair first, or waits in line for one.
    #[cold]
    fn expire_http2(&mut self, token: Token, now: u64) {
        let Some(slot) = self.slab.get_mut(token) else {
            return;
        };
        let buffer = match slot.buffer {
            Some(buffer) => buffer,
            None => match self.lending.lend(token) {
                Some(buffer) => {
                    slot.buffer = Some(buffer);
                    buffer
                }
                None => {
                    self.lending.wait(token, &mut slot.waiting, false);
                    return;
                }
            },
        };
        let Some(conn) = slot.conn.http2() else {
            return;
        };
        self.app
            .fire_due_timeout(conn, self.lending.pair(buffer), now);
        slot.ready.writable = true;
        if conn.is_closed() {
            self.close(token);
        } else {
            self.service(token, now);
            self.arm(token);
        }
    }

    /// Arms a connection's deadline.
    pub(super) fn arm(&mut self, token: Token) {
        let Some(slot) = self.slab.get_mut(token) else {
            return;
        };
        arm_slot(&mut self.timers, token, slot);
        self.sweep_timers();
    }

    /// Drops stale timer entries once the heap is full.
    #[inline]
    pub(super) fn sweep_timers(&mut self) {
        let slab = &mut self.slab;
        self.timers.sweep_if_full(|token, deadline| {
            slab.get_mut(token)
                .is_none_or(|slot| slot.armed != Armed(deadline))
        });
    }

    /// Every buffer pair is lent and a connection waits for one: takes
    /// the pair of the connection that has held part of a request head
    /// longest. It is answered `408` (counted as a timeout) and closed,
    /// and its pair goes to the first in line. When a waiting connection's
    /// socket holds a whole request head, any partial head gives way;
    /// otherwise only one that began at least half the header timeout ago
    /// (the worker's `shed_retry` says when to look again): partial heads
    /// do not churn through the pairs, sending one another away, and a
    /// head that arrives in pieces is not sent away for another that is
    /// no further along.
    pub(super) fn shed_slowest_head(&mut self, now: u64) {
        // A head's header deadline is its start plus the timeout: one that
        // began half the timeout ago has this deadline. When a whole
        // request waits, any partial head gives way.
        let header_timeout = self.settings.config.header_timeout;
        let young = if self.lending.has_ready_waiting() {
            u64::MAX
        } else {
            header_timeout - header_timeout / 2
        };
        let mut slowest: Option<(u64, Token)> = None;
        for (pair, token) in self.lending.last_holders() {
            let Some(slot) = self.slab.get_mut(token) else {
                continue;
            };
            if slot.buffer != Some(pair) {
                continue;
            }
            if let Some(deadline) = slot.conn.partial_head_deadline() {
                if slowest.is_none_or(|(first, _)| deadline < first) {
                    slowest = Some((deadline, token));
                }
            }
        }
        let Some((deadline, token)) = slowest else {
            // Every pair serves a request in progress: look again later.
            self.shed_retry = Some(now.saturating_add(header_timeout / 10).max(now + 1));
            return;
        };
        if deadline > now.saturating_add(young) {
            // Too young to send away yet: try again once it is not.
            self.shed_retry = Some(deadline - young);
            return;
        }
        let Some(slot) = self.slab.get_mut(token) else {
            return;
        };
        if let (Some(buffer), Some(conn)) = (slot.buffer, slot.conn.active()) {
            conn.shed_head(self.lending.pair(buffer), now, self.app.counters());
            // The 408 goes out if the socket takes it now; the connection
            // closes either way, and its pair with it.
            slot.ready.writable = true;
            slot.ready.readable = false;
            self.service(token, now);
        }
        self.shed += 1;
        self.close(token);
    }

    /// While connections wait for a pair, sends away one slow head per
    /// turn of the loop (its pair goes to the first in line, served in the
    /// next turn): at once for a whole request waiting, else once the
    /// oldest partial head is old enough.
    pub(super) fn shed_for_waiters(&mut self, now: u64) {
        let due = self.shed_retry.is_none_or(|at| at <= now);
        if self.lending.has_ready_waiting() || (self.lending.has_waiting() && due) {
            self.shed_retry = None;
            self.shed_slowest_head(now);
        }
    }

    /// Hands a freed buffer's turn to the next connection waiting.
    pub(super) fn lend_to_waiter(&mut self) {
        while let Some(token) = self.lending.next_waiting() {
            if let Some(slot) = self.slab.get_mut(token) {
                slot.waiting = false;
                list(&mut slot.listed, token, &mut self.ready_list);
                return;
            }
        }
    }

    /// Drives connections that had work left over, once each, and those
    /// that waited for a buffer to handle a deadline. A connection is in
    /// the list at most once (its slot says whether it is), so the list
    /// never holds more than the slots it was sized for, and nothing put
    /// in it is ever dropped.
    pub(super) fn run_ready_list(&mut self, now: u64) {
        for _ in 0..self.ready_list.len() {
            let Some(token) = self.ready_list.pop_front() else {
                break;
            };
            let Some(slot) = self.slab.get_mut(token) else {
                continue;
            };
            slot.listed = false;
            if slot.deadline().is_some_and(|deadline| deadline <= now) {
                self.expire(token, now);
                continue;
            }
            // Work left needs a pair (a stream woken after it gave its
            // pair back takes one now, or waits in line for one).
            let buffer = match slot.buffer {
                None if slot.conn.has_work() => lend_pair(&mut self.lending, slot, token),
                buffer => buffer,
            };
            if let (Some(buffer), Some(conn)) = (buffer, slot.conn.active()) {
                if conn.has_work() {
                    self.app.poll(conn, self.lending.pair(buffer), now);
                }
            } else if let (Some(buffer), Some(conn)) = (buffer, slot.conn.http2()) {
                if conn.has_work() && !self.app.poll(conn, self.lending.pair(buffer), now) {
                    self.close(token);
                    continue;
                }
            }
            self.service(token, now);
        }
    }

    /// Handles the deadlines that passed, at most
    /// [`TIMEOUTS_PER_TURN`](super::TIMEOUTS_PER_TURN) of them: the rest
    /// stay due, so the next wait returns at once and they are handled
    /// next turn, after the events that came meanwhile. A wave of
    /// timeouts (a flood of slow heads, all reaching their header timeout
    /// together) then never keeps the worker from other connections for
    /// long.
    pub(super) fn fire_timers(&mut self, now: u64) {
        let mut budget = super::TIMEOUTS_PER_TURN;
        while budget > 0 {
            let Some((token, due)) = self.timers.pop_due(now) else {
                return;
            };
            let Some(slot) = self.slab.get_mut(token) else {
                continue;
            };
            if slot.armed != Armed(due) {
                continue;
            }
            slot.armed = Armed::NONE;
            match slot.deadline() {
                Some(deadline) if deadline <= now => {
                    budget -= 1;
                    self.expire(token, now);
                }
                Some(_) => self.arm(token),
                None => {}
            }
        }
    }

    /// Handles a connection's deadline that passed. One whose handling
    /// writes (a `408`, a WebSocket Ping or Close) borrows a buffer pair
    /// first, and waits in line for one if none is free: the server never
    /// drops a connection because it wanted to write to it.
    pub(super) fn expire(&mut self, token: Token, now: u64) {
        let Some(slot) = self.slab.get_mut(token) else {
            return;
        };
        if slot
            .session
            .deadline()
            .is_some_and(|deadline| deadline <= now)
        {
            // The layer's own deadline (a TLS handshake not done in time).
            self.app.counters().timeouts += 1;
            self.close(token);
            return;
        }
        if slot.conn.is_http2() {
            self.expire_http2(token, now);
            return;
        }
        let conn = slot.conn.activate(&mut self.spares, token);
        if slot.buffer.is_none() && conn.timeout_writes(now) {
            match self.lending.lend(token) {
                Some(buffer) => slot.buffer = Some(buffer),
                None => {
                    self.lending.wait(token, &mut slot.waiting, false);
                    return;
                }
            }
        }
        let bufs = match slot.buffer {
            Some(buffer) => self.lending.pair(buffer),
            None => self.lending.scratch(),
        };
        let conn = slot.conn.activate(&mut self.spares, token);
        conn.handle_timeout(bufs, &mut self.app.env(now));
        // A timeout that needs no buffer only closes; should one that got
        // the scratch pair have queued anything, drop the connection
        // rather than send what the next user of that pair overwrites.
        let stranded = slot.buffer.is_none() && conn.holds_buffers();
        slot.ready.writable = true;
        if conn.is_closed() || stranded {
            self.close(token);
        } else {
            self.service(token, now);
            self.arm(token);
        }
    }

    /// Closes a connection and frees what it held.
    pub(super) fn close(&mut self, token: Token) {
        if let Some(mut slot) = self.slab.remove(token) {
            if self.settings.handoff {
                if let Some(handoff) = self.shared.handoffs.get(self.settings.id) {
                    handoff
                        .load
                        .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
            if slot.waiting {
                self.lending.leave_line(token);
            }
            if let Some(buffer) = slot.buffer {
                self.lending.give_back(buffer);
                self.lend_to_waiter();
            }
            // Responses it still owed end here, and their files close.
            if let Some(conn) = slot.conn.active() {
                self.app.retire(conn, self.now());
            } else if let Some(conn) = slot.conn.http2() {
                self.app.retire(conn, self.now());
            }
            slot.conn.release(&mut self.spares);
            // Dropping the descriptor closes it and removes it from the
            // poller.
            drop(slot.fd);
        }
    }
}
