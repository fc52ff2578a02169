//! Taking connections in: accepting (or taking hand-overs from accept
//! threads), making room when the worker is full by closing the
//! connection idle longest (or, with none idle, the one silent longest
//! since its accept), and saying so at most every
//! [`FULL_REPORT_MS`](super::FULL_REPORT_MS).

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use peregrine_core::Handler;
use peregrine_core::Sizes;

use super::{
    ACCEPT_BACKOFF_MS, ACCEPTS_PER_TURN, Armed, FULL_REPORT_MS, FullReport, Held, Poller, Slot,
    Worker,
};
use crate::io::Readiness;
use crate::slab::Token;
use crate::transport::{Session, Transport};
use crate::unix;

impl<P, H, L, T, Z: Sizes> Worker<'_, P, H, L, Z, T>
where
    P: Poller,
    H: Handler<L>,
    L: Default,
    T: Transport,
{
    /// Accepts connections until the backlog is empty, or the slab is full
    /// with no idle connection to close, or descriptors run out with none
    /// to close, or [`ACCEPTS_PER_TURN`] were taken (then `accept_more`
    /// has the next turn go on).
    pub(super) fn accept(&mut self, now: u64) {
        self.accept_more = false;
        if self.accept_paused_until.is_some() {
            return;
        }
        for _ in 0..ACCEPTS_PER_TURN {
            if self.listener.is_none() {
                return;
            }
            let Ok(evict) = self.room_for_one(now) else {
                return;
            };
            let Some(listener) = &self.listener else {
                return;
            };
            let accepted = unix::accept(listener.as_fd());
            let pending = |error: &io::Error| {
                unix::is_descriptor_exhaustion(error)
                    && unix::has_pending_connection(listener.as_fd())
            };
            let (fd, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return,
                Err(error) if pending(&error) => {
                    // Out of descriptors with a connection waiting: close
                    // the idle longest to make room, or wait and retry.
                    match evict.or_else(|| self.evictable(now)) {
                        Some(token) => self.evict(token, now),
                        None => {
                            self.accept_paused_until = Some(now + ACCEPT_BACKOFF_MS);
                            self.full.refused = true;
                            self.report_full(now);
                            return;
                        }
                    }
                    continue;
                }
                Err(error) if unix::is_resource_exhaustion(&error) => {
                    // Keep serving; try again later rather than spin.
                    self.accept_paused_until = Some(now + ACCEPT_BACKOFF_MS);
                    return;
                }
                Err(error)
                    if matches!(
                        error.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                    ) =>
                {
                    continue;
                }
                Err(_) => return,
            };
            if let Some(token) = evict {
                self.evict(token, now);
            }
            self.adopt(fd, peer, now);
        }
        self.accept_more = true;
    }

    /// Room for one new connection: `Ok(None)` if a slot is free,
    /// `Ok(Some(token))` for the idle connection to close when the slab is
    /// full, `Err(())` when it is full with nothing idle. Then accepting
    /// stops (connections wait in the backlog until a slot frees or a
    /// connection becomes idle) and the event is reported.
    pub(super) fn room_for_one(&mut self, now: u64) -> Result<Option<Token>, ()> {
        if !self.slab.is_full() {
            return Ok(None);
        }
        match self.evictable(now) {
            Some(token) => Ok(Some(token)),
            None => {
                self.accept_blocked = true;
                self.full.refused = true;
                self.report_full(now);
                Err(())
            }
        }
    }

    /// Takes connections accept threads left for this worker.
    pub(super) fn take_handoffs(&mut self, now: u64) {
        let shared = Arc::clone(&self.shared);
        let Some(handoff) = shared.handoffs.get(self.settings.id) else {
            return;
        };
        loop {
            if self.slab.is_full()
                && handoff
                    .queue
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .is_empty()
            {
                return;
            }
            let Ok(evict) = self.room_for_one(now) else {
                return;
            };
            let next = handoff
                .queue
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop_front();
            let Some((fd, peer)) = next else {
                return;
            };
            if let Some(token) = evict {
                self.evict(token, now);
            }
            self.adopt(fd, peer, now);
        }
    }

    /// Whether no connection can still come from accept threads: none is
    /// running (each hands over its listen backlog before it stops) and
    /// nothing waits in this worker's queue. Always, without accept
    /// threads.
    pub(super) fn handoffs_settled(&self) -> bool {
        if !self.settings.handoff {
            return true;
        }
        let queued = self
            .shared
            .handoffs
            .get(self.settings.id)
            .is_some_and(|handoff| {
                !handoff
                    .queue
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .is_empty()
            });
        !queued
            && self
                .shared
                .acceptors
                .load(std::sync::atomic::Ordering::SeqCst)
                == 0
    }

    /// Takes a new connection into the slab and the poller; during a
    /// shutdown (a connection from the listen backlog), reads and answers
    /// what it sent, with `Connection: close`.
    pub(super) fn adopt(&mut self, fd: OwnedFd, peer: Option<std::net::SocketAddr>, now: u64) {
        let Ok(session) = self.transport.open(now) else {
            // The layer cannot take it: closed unserved.
            return;
        };
        let slot = Slot {
            session,
            conn: Held::accepted(&self.settings.config, peer, now),
            fd,
            ready: Readiness::default(),
            buffer: None,
            armed: Armed::NONE,
            listed: false,
            waiting: false,
        };
        let Ok(token) = self.slab.insert(slot) else {
            return;
        };
        self.grow_with_slab();
        let registered = match self.slab.get_mut(token) {
            Some(slot) => self.poller.add_connection(&slot.fd, token.to_u64()),
            None => Ok(()),
        };
        if registered.is_err() {
            self.close(token);
            return;
        }
        self.accepted += 1;
        if self.shutdown_since.is_some() {
            self.wind_down(token, now);
            return;
        }
        self.arm(token);
    }

    /// Keeps the lists and the timer heap sized for every connection the
    /// slab has room for, so that none allocates per request; they grow
    /// when the slab does (doubling), so the cost is amortised.
    pub(super) fn grow_with_slab(&mut self) {
        let capacity = self.slab.capacity();
        if capacity <= self.tokens.capacity() {
            return;
        }
        self.tokens.reserve_exact(capacity - self.tokens.len());
        self.lending.reserve_waiting(capacity);
        self.ready_list
            .reserve_exact(capacity - self.ready_list.len());
        self.timers.reserve(capacity);
    }

    /// The connection idle longest that may be closed without losing
    /// anything: nothing read, nothing waiting in its socket. Connections
    /// found busy on the way leave the idle list (they rejoin it once
    /// served).
    pub(super) fn evictable(&mut self, now: u64) -> Option<Token> {
        while let Some(token) = self.slab.oldest_idle() {
            let idle = self.slab.get_mut(token).is_some_and(|slot| {
                slot.conn.is_idle()
                    && !slot.waiting
                    && !slot.ready.readable
                    && !slot.session.has_pending_output()
                    && !unix::has_pending_input(slot.fd.as_fd())
            });
            if idle {
                return Some(token);
            }
            self.slab.mark_busy(token);
        }
        self.oldest_silent(now)
    }

    /// With no idle connection to close: the connection silent longest
    /// since its accept (nothing received, nothing waiting in its socket),
    /// if that was at least a tenth of the header timeout ago. It holds a
    /// slot as an idle one would, and would be closed silently at its
    /// header timeout anyway; the age keeps a flood of new connections
    /// from pushing one another out before they had a moment to speak.
    /// When the oldest is younger, `silent_retry` says when to look again.
    /// A walk over every connection: only when the worker is full.
    fn oldest_silent(&mut self, now: u64) -> Option<Token> {
        let header_timeout = self.settings.config.header_timeout;
        let young = header_timeout - header_timeout / 10;
        self.slab.tokens(&mut self.tokens);
        let mut oldest: Option<(u64, Token)> = None;
        for index in 0..self.tokens.len() {
            let token = self.tokens[index];
            let Some(slot) = self.slab.get_mut(token) else {
                continue;
            };
            let Some(deadline) = slot.conn.silent_deadline() else {
                continue;
            };
            let quiet = slot.buffer.is_none() && !slot.waiting && !slot.ready.readable;
            if quiet && oldest.is_none_or(|(first, _)| deadline < first) {
                oldest = Some((deadline, token));
            }
        }
        let (deadline, token) = oldest?;
        if deadline > now.saturating_add(young) {
            self.silent_retry = Some(deadline - young);
            return None;
        }
        let slot = self.slab.get_mut(token)?;
        (!unix::has_pending_input(slot.fd.as_fd())).then_some(token)
    }

    /// Closes an idle (or silent) connection to make room for a new one.
    pub(super) fn evict(&mut self, token: Token, now: u64) {
        self.close(token);
        self.evicted += 1;
        self.full.evicted += 1;
        self.report_full(now);
    }

    /// Says on standard error, at most every [`FULL_REPORT_MS`], that the
    /// worker was full: how many idle connections it closed to make room,
    /// or that new connections wait with none idle.
    pub(super) fn report_full(&mut self, now: u64) {
        let report = &mut self.full;
        if !report.refused && report.evicted == 0 {
            return;
        }
        if report
            .last
            .is_some_and(|last| now < last.saturating_add(FULL_REPORT_MS))
        {
            return;
        }
        let (id, held) = (self.settings.id, self.slab.len());
        if report.evicted > 0 {
            eprintln!(
                "peregrine: worker {id} full ({held} connections): closed {} idle keep-alive connections in the last 10 s",
                report.evicted
            );
        } else {
            eprintln!(
                "peregrine: worker {id} full ({held} connections): none idle to close; new connections wait in the listen backlog"
            );
        }
        *report = FullReport {
            last: Some(now),
            evicted: 0,
            refused: false,
        };
    }

    /// At shutdown, with no slot free for them: takes the connections left
    /// in the listen backlog into [`held_back`](Worker::held_back), to be
    /// served as slots free, before the listener closes (which would
    /// reset them). Stops early only when descriptors run out.
    pub(super) fn hold_back_backlog(&mut self) {
        let Some(listener) = &self.listener else {
            return;
        };
        loop {
            match unix::accept(listener.as_fd()) {
                Ok(accepted) => self.held_back.push_back(accepted),
                Err(error)
                    if matches!(
                        error.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                    ) => {}
                Err(_) => return,
            }
        }
    }

    /// Serves connections held back at shutdown while slots are free.
    fn adopt_held_back(&mut self, now: u64) {
        while !self.slab.is_full() {
            let Some((fd, peer)) = self.held_back.pop_front() else {
                return;
            };
            self.adopt(fd, peer, now);
        }
    }

    /// Retries accepting after a pause, or once a slot freed or a
    /// connection became idle; reports a full worker when due.
    pub(super) fn retry_accept(&mut self, now: u64) {
        self.adopt_held_back(now);
        self.report_full(now);
        if self.accept_more {
            self.accept(now);
        }
        if self.accept_paused_until.is_some_and(|until| now >= until) {
            self.accept_paused_until = None;
            self.accept(now);
        }
        let silent_due = self.silent_retry.is_some_and(|at| now >= at);
        if self.accept_blocked && (!self.slab.is_full() || self.slab.idle_len() > 0 || silent_due) {
            self.accept_blocked = false;
            self.silent_retry = None;
            if self.settings.handoff {
                self.take_handoffs(now);
            } else {
                self.accept(now);
            }
        }
    }
}
