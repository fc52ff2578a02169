//! A connection between requests, reduced to the few bytes it needs until
//! its next request: what lets a caller hold many idle keep-alive
//! connections for little more than their sockets.
//!
//! A [`Connection`] carries what only a connection in action needs: its
//! output queue, the parser and its header table, a WebSocket session. An
//! HTTP connection between requests uses none of it. The caller may
//! [`suspend`](Connection::suspend) such a connection into a
//! [`Suspended`] record and give the `Connection` to another socket, then
//! [`resume`](Connection::resume) the record into any free `Connection`
//! when the next request arrives.

use crate::sizes::Sizes;
use core::net::SocketAddr;

use super::phase::{Http, Phase};
use super::{Config, Connection, ConnectionId};
use crate::timers::TimerKind;

/// An idle HTTP connection, reduced to what it keeps between requests: its
/// peer, the requests it has made and its one running deadline (the
/// header timer from the accept until the first byte of its first
/// request, the idle timer after that). Its [`ConnectionId`] is the
/// caller's to keep (a backend derives it from where it keeps the record)
/// and give back to [`Connection::resume`].
///
/// A backend keeps one per idle connection instead of a whole
/// [`Connection`] and its output queue and header table; see
/// [`Connection::suspend`].
///
/// ```
/// use peregrine_core::{Capacity, Config, Connection, ConnectionId, Suspended, TimerKind};
///
/// // Accepted at t = 5 and suspended at once: nothing sent yet.
/// let fresh = Suspended::accepted(&Config::DEFAULT, None, 5);
/// assert_eq!(fresh.poll_timeout(), 5 + Config::DEFAULT.header_timeout);
/// assert_eq!(fresh.silent_deadline(), Some(fresh.poll_timeout()));
///
/// // Its first bytes arrive: any free connection takes it up.
/// let mut conn = Connection::<Capacity<1024, 2048, 8>>::new(Config::DEFAULT, None, 0);
/// conn.resume(fresh, ConnectionId::new(0, 42));
/// assert_eq!(conn.id(), ConnectionId::new(0, 42));
/// assert_eq!(conn.timer(TimerKind::Header), Some(fresh.poll_timeout()));
/// // Nothing happened since: it suspends again as it was.
/// assert_eq!(conn.suspend(), Some(fresh));
/// assert!(conn.is_closed());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Suspended {
    /// The peer's address, for handlers.
    peer: Option<SocketAddr>,
    /// When its running timer expires.
    deadline: u64,
    /// Requests begun on it: none means the running timer is the header
    /// timer started at the accept, else the idle timer.
    requests: u32,
}

impl Suspended {
    /// A connection accepted at `now` that has sent nothing yet, as
    /// [`Connection::new`] would make it and
    /// [`suspend`](Connection::suspend) reduce it: its header timer runs
    /// from now.
    pub const fn accepted(config: &Config, peer: Option<SocketAddr>, now: u64) -> Self {
        Suspended {
            peer,
            deadline: now.saturating_add(config.header_timeout),
            requests: 0,
        }
    }

    /// When the connection needs [`Connection::handle_timeout`]: its
    /// header or idle timer expires. Resume it first.
    pub fn poll_timeout(&self) -> u64 {
        self.deadline
    }

    /// As [`Connection::silent_deadline`]: when the connection has
    /// received nothing since it was accepted, its header deadline.
    pub fn silent_deadline(&self) -> Option<u64> {
        (self.requests == 0).then_some(self.deadline)
    }

    /// The kind of its running timer.
    fn timer_kind(&self) -> TimerKind {
        if self.requests == 0 {
            TimerKind::Header
        } else {
            TimerKind::Idle
        }
    }
}

impl<Z: Sizes> Connection<Z> {
    /// Reduces an idle connection to a [`Suspended`] record, if it is one:
    /// an HTTP connection between requests ([`is_idle`](Self::is_idle))
    /// whose buffers hold nothing and whose one running timer is its
    /// header timer (nothing received since the accept) or its idle timer.
    /// This connection is then [closed](Self::is_closed) and may be
    /// [resumed](Self::resume) into for any other suspended connection of
    /// the same configuration.
    ///
    /// Any other connection is left as it is, and `None` returned.
    pub fn suspend(&mut self) -> Option<Suspended> {
        if !self.is_idle() || self.yielded || self.holds_buffers() {
            return None;
        }
        let kind = if self.requests == 0 {
            TimerKind::Header
        } else {
            TimerKind::Idle
        };
        // Between requests the one timer is the header timer (nothing
        // received yet) or the idle timer: every transition into idleness
        // stops the others.
        let deadline = self.timers.get(kind)?;
        debug_assert!(self.timers.runs_only(kind), "{:?}", self.timers);
        let suspended = Suspended {
            peer: self.peer,
            deadline,
            requests: self.requests,
        };
        // Closed, with nothing else cleared: `resume` sets it all anew.
        self.phase = Phase::Closed;
        Some(suspended)
    }

    /// Takes up the suspended connection `suspended`, named `id`: this
    /// connection becomes it, as it was when suspended, whatever this one
    /// held before. Only the configuration is kept: resume into a
    /// connection made with the same [`Config`] as the one suspended (a
    /// backend keeps one configuration per worker).
    pub fn resume(&mut self, suspended: Suspended, id: ConnectionId) {
        self.parser.reset();
        self.peer = suspended.peer;
        self.read_start = 0;
        self.read_end = 0;
        self.queue.clear();
        self.write_end = 0;
        self.phase = Phase::Http(Http::new());
        self.timers.only(suspended.timer_kind(), suspended.deadline);
        self.requests = suspended.requests;
        self.peer_closed = false;
        self.yielded = false;
        self.draining = false;
        self.id = id;
        self.given_up = None;
        self.spilled = None;
    }
}
