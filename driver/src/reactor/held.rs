//! A connection's protocol state as a worker holds it: a few bytes while
//! it is idle between requests, a whole [`Connection`] while it is in use.
//!
//! A whole connection (its output queue, its parser and header table, a
//! WebSocket session) takes kilobytes; an idle keep-alive connection needs
//! none of it. So the worker keeps an idle connection as a [`Suspended`]
//! record in its slot, and a connection in use its whole state in a box
//! from a list of spares, made when the worker starts, as many as buffer
//! pairs. A connection idle again keeps its box while the worker has no
//! more boxes in use than that: then a busy keep-alive connection costs
//! nothing more per request. Beyond, it is suspended and its box put
//! back. More connections in use at once than there are spares (idle
//! WebSockets, parked streams) get boxes made for them, freed when they
//! come back beyond the spares. Memory follows the connections in use,
//! not the connections held.

use peregrine_core::Sizes;
use peregrine_core::{Config, Connection, ConnectionId, Suspended};

use crate::protocol::Http2Connection;
use crate::slab::Token;

/// The most HTTP/2 connection states a worker keeps for reuse once their
/// connections closed (each is about 40 KB); beyond, they are freed.
const HTTP2_SPARES: usize = 8;

/// One connection's protocol state.
pub(super) enum Held<Z: Sizes> {
    /// Idle between requests (or not yet heard from).
    Suspended(Suspended),
    /// In use.
    Active(Box<Connection<Z>>),
    /// Speaking HTTP/2, from the client's preface to its close (an HTTP/2
    /// connection is never suspended: its HPACK tables and streams live
    /// as long as it does).
    Http2(Box<Http2Connection<Z>>),
}

/// Whole connection states not in use, kept for the next connection that
/// has work: taking one costs no allocation while there are spares.
pub(super) struct Spares<Z: Sizes> {
    /// The spares.
    boxes: Vec<Box<Connection<Z>>>,
    /// The most spares kept; beyond, a state put back is freed. Also how
    /// many states idle connections may keep.
    keep: usize,
    /// States held by connections.
    in_use: usize,
    /// The worker's configuration, for states made new.
    config: Config,
    /// The worker's number, which names its connections with their slots.
    worker: u32,
    /// HTTP/2 states whose connections closed, kept for the next.
    http2: Vec<Box<Http2Connection<Z>>>,
}

impl<Z: Sizes> Spares<Z> {
    /// `keep` spares for worker `worker`, made now (beside the buffer
    /// pairs, which they match in number); at most `keep` are kept.
    pub(super) fn new(config: Config, keep: usize, worker: usize) -> Self {
        Spares {
            boxes: (0..keep)
                .map(|_| Box::new(Connection::new(config, None, 0)))
                .collect(),
            keep,
            in_use: 0,
            config,
            worker: worker as u32,
            http2: Vec::new(),
        }
    }

    /// The id of the connection in slot `token`.
    pub(super) fn id(&self, token: Token) -> ConnectionId {
        ConnectionId::new(self.worker, token.to_u64())
    }

    /// A state to resume a connection into: a spare, or a new one when
    /// there is none.
    fn take(&mut self) -> Box<Connection<Z>> {
        self.in_use += 1;
        match self.boxes.pop() {
            Some(conn) => conn,
            None => Box::new(Connection::new(self.config, None, 0)),
        }
    }

    /// Takes a state back: kept as a spare, or freed when enough are.
    fn put(&mut self, conn: Box<Connection<Z>>) {
        self.in_use -= 1;
        if self.boxes.len() < self.keep {
            self.boxes.push(conn);
        }
    }

    /// A box for an HTTP/2 state: a spare, or a new one (made only when
    /// a connection switches to HTTP/2, never per request).
    fn take_http2(&mut self, conn: Http2Connection<Z>) -> Box<Http2Connection<Z>> {
        match self.http2.pop() {
            Some(mut spare) => {
                *spare = conn;
                spare
            }
            None => Box::new(conn),
        }
    }

    /// Takes an HTTP/2 state back: kept as a spare, or freed.
    fn put_http2(&mut self, conn: Box<Http2Connection<Z>>) {
        if self.http2.len() < HTTP2_SPARES {
            self.http2.push(conn);
        }
    }

    /// Whether connections hold more states than idle ones may keep.
    #[inline]
    fn crowded(&self) -> bool {
        self.in_use > self.keep
    }

    /// How many spares there are.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.boxes.len()
    }
}

impl<Z: Sizes> Held<Z> {
    /// A connection accepted at `now`, not yet heard from.
    pub(super) fn accepted(config: &Config, peer: Option<std::net::SocketAddr>, now: u64) -> Self {
        Held::Suspended(Suspended::accepted(config, peer, now))
    }

    /// The whole connection, resumed into a state from `spares` if it was
    /// suspended; `token` names its slot.
    #[inline(always)]
    pub(super) fn activate(&mut self, spares: &mut Spares<Z>, token: Token) -> &mut Connection<Z> {
        if let Held::Suspended(suspended) = *self {
            self.resume(suspended, spares, token);
        }
        match self {
            Held::Active(conn) => conn,
            // Made active just above; the callers serve HTTP/2 apart.
            Held::Suspended(_) | Held::Http2(_) => {
                unreachable!("a connection activated is an HTTP/1.1 one")
            }
        }
    }

    /// Resumes `suspended` into a state from `spares`.
    #[inline(never)]
    fn resume(&mut self, suspended: Suspended, spares: &mut Spares<Z>, token: Token) {
        let mut conn = spares.take();
        conn.resume(suspended, spares.id(token));
        *self = Held::Active(conn);
    }

    /// Suspends the connection if it is idle between requests and more
    /// connections hold whole states than `spares` keeps room for,
    /// putting its whole state back.
    #[inline(always)]
    pub(super) fn suspend_if_idle(&mut self, spares: &mut Spares<Z>) {
        if spares.crowded() {
            self.suspend(spares);
        }
    }

    /// Suspends the connection if it is idle, putting its state back.
    #[inline(never)]
    fn suspend(&mut self, spares: &mut Spares<Z>) {
        // An HTTP/2 state is never suspended.
        if let Held::Active(conn) = self {
            if let Some(suspended) = conn.suspend() {
                if let Held::Active(conn) = core::mem::replace(self, Held::Suspended(suspended)) {
                    spares.put(conn);
                }
            }
        }
    }

    /// Ends the connection's hold on its state: puts it back among
    /// `spares` if it had one (the connection is being closed, or goes on
    /// in HTTP/2).
    pub(super) fn release(self, spares: &mut Spares<Z>) {
        match self {
            Held::Active(conn) => spares.put(conn),
            Held::Http2(conn) => spares.put_http2(conn),
            Held::Suspended(_) => {}
        }
    }

    /// Goes on in HTTP/2 from the client's preface, taken at `now`: the
    /// HTTP/1.1 state goes back to `spares`. `false`, with nothing done,
    /// where the buffers cannot serve HTTP/2 (the caller closes the
    /// connection).
    pub(super) fn switch_to_http2(&mut self, spares: &mut Spares<Z>, now: u64) -> bool {
        let Held::Active(http1) = self else {
            return false;
        };
        let Some(http2) = Http2Connection::take_over(http1, now) else {
            return false;
        };
        let http2 = spares.take_http2(http2);
        core::mem::replace(self, Held::Http2(http2)).release(spares);
        true
    }

    /// The whole HTTP/1.1 connection, if active.
    #[inline]
    pub(super) fn active(&mut self) -> Option<&mut Connection<Z>> {
        match self {
            Held::Active(conn) => Some(conn),
            Held::Suspended(_) | Held::Http2(_) => None,
        }
    }

    /// The HTTP/2 connection, if it speaks HTTP/2.
    #[inline]
    pub(super) fn http2(&mut self) -> Option<&mut Http2Connection<Z>> {
        match self {
            Held::Http2(conn) => Some(conn),
            Held::Suspended(_) | Held::Active(_) => None,
        }
    }

    /// Whether it speaks HTTP/2.
    #[inline(always)]
    pub(super) fn is_http2(&self) -> bool {
        matches!(self, Held::Http2(_))
    }

    /// The whole HTTP/1.1 connection, if active, to look at.
    #[inline]
    fn peek(&self) -> Option<&Connection<Z>> {
        match self {
            Held::Active(conn) => Some(conn),
            Held::Suspended(_) | Held::Http2(_) => None,
        }
    }

    /// When it next needs its timeout handled.
    #[inline]
    pub(super) fn poll_timeout(&self) -> Option<u64> {
        match self {
            Held::Active(conn) => conn.poll_timeout(),
            Held::Suspended(suspended) => Some(suspended.poll_timeout()),
            Held::Http2(conn) => conn.poll_timeout(),
        }
    }

    /// Whether it is a connection between requests, which may be closed
    /// to make room losing nothing: an HTTP/1.1 one between requests (see
    /// [`Connection::is_idle`]; a suspended one is), or an HTTP/2 one with
    /// no stream open and no byte in its buffers.
    #[inline]
    pub(super) fn is_idle(&self) -> bool {
        match self {
            Held::Active(conn) => conn.is_idle(),
            Held::Suspended(_) => true,
            Held::Http2(conn) => conn.open_streams() == 0 && !conn.holds_buffers(),
        }
    }

    /// See [`Connection::silent_deadline`].
    pub(super) fn silent_deadline(&self) -> Option<u64> {
        match self {
            Held::Active(conn) => conn.silent_deadline(),
            Held::Suspended(suspended) => suspended.silent_deadline(),
            Held::Http2(_) => None,
        }
    }

    /// Whether it has output waiting.
    #[inline]
    pub(super) fn wants_write(&self) -> bool {
        match self {
            Held::Active(conn) => conn.wants_write(),
            Held::Suspended(_) => false,
            Held::Http2(conn) => conn.interest().write,
        }
    }

    /// Whether it has work left that no IO event will prompt.
    #[inline]
    pub(super) fn has_work(&self) -> bool {
        match self {
            Held::Active(conn) => conn.has_work(),
            Held::Suspended(_) => false,
            Held::Http2(conn) => conn.has_work(),
        }
    }

    /// Whether it speaks WebSocket.
    pub(super) fn is_websocket(&self) -> bool {
        self.peek().is_some_and(Connection::is_websocket)
    }

    /// See [`Connection::partial_head_deadline`].
    pub(super) fn partial_head_deadline(&self) -> Option<u64> {
        self.peek().and_then(Connection::partial_head_deadline)
    }

    /// Whether it subscribes to WebSocket topic `topic`.
    pub(super) fn is_subscribed(&self, topic: u64) -> bool {
        self.peek().is_some_and(|conn| conn.is_subscribed(topic))
    }

    /// Whether a streamed body of it carries `topic`.
    pub(super) fn streams_topic(&self, topic: u64) -> bool {
        match self {
            Held::Active(conn) => conn.streams_topic(topic),
            Held::Suspended(_) => false,
            Held::Http2(conn) => conn.streams_topic(topic),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use peregrine_core::Capacity;

    type Small = Held<Capacity<1024, 2048, 8>>;

    #[test]
    fn a_connection_is_suspended_until_activated_and_its_state_reused() {
        let config = Config::DEFAULT;
        let mut spares = Spares::<Capacity<1024, 2048, 8>>::new(config, 1, 3);
        assert_eq!(spares.len(), 1);
        let token = Token::from_u64(7 << 32 | 5);
        let id = ConnectionId::new(3, token.to_u64());
        // Another connection holds the one state idle connections may
        // keep.
        let mut busy = Small::accepted(&config, None, 0);
        busy.activate(&mut spares, token);
        let mut held = Small::accepted(&config, None, 10);
        assert!(held.active().is_none());
        assert_eq!(held.poll_timeout(), Some(10 + config.header_timeout));
        assert_eq!(held.silent_deadline(), held.poll_timeout());
        assert!(held.is_idle() && !held.wants_write());

        let conn = held.activate(&mut spares, token);
        assert_eq!(conn.id(), id);
        assert_eq!(conn.poll_timeout(), Some(10 + config.header_timeout));
        let first: *const Connection<Capacity<1024, 2048, 8>> = &*conn;
        held.suspend_if_idle(&mut spares);
        assert!(held.active().is_none());
        assert_eq!(spares.len(), 1);

        // The next activation takes the same state back.
        let again: *const Connection<Capacity<1024, 2048, 8>> = held.activate(&mut spares, token);
        assert_eq!(first, again);
        assert_eq!(spares.len(), 0);
        // With room for it, an idle connection keeps its state.
        busy.release(&mut spares);
        held.suspend_if_idle(&mut spares);
        assert!(held.active().is_some());
        held.release(&mut spares);
        assert_eq!(spares.len(), 1);

        // Beyond `keep`, states put back are freed.
        let mut other = Small::accepted(&config, None, 0);
        let mut third = Small::accepted(&config, None, 0);
        other.activate(&mut spares, token);
        third.activate(&mut spares, token);
        other.release(&mut spares);
        third.release(&mut spares);
        assert_eq!(spares.len(), 1);
    }

    #[test]
    fn a_suspended_connection_is_a_few_dozen_bytes() {
        assert!(size_of::<Held<Capacity<16384, 16384, 32>>>() <= 48);
    }
}
