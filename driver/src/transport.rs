//! What sits between a connection's socket and its protocol state:
//! nothing ([`Plain`] TCP), or a security layer such as TLS.
//!
//! A worker is generic over its transport, so a plain server's code is
//! the same as if the layer did not exist: [`Plain`]'s session is empty,
//! its socket is the socket itself, and its checks are constants the
//! compiler removes.

use std::io;

use crate::io::Socket;

/// A layer over every connection of a server, shared by its workers.
pub trait Transport: Sync {
    /// What the layer keeps for each connection.
    type Session: Session;

    /// The layer's state for a connection accepted at `now` (ms on the
    /// worker's clock).
    ///
    /// # Errors
    ///
    /// If the layer cannot take the connection; it is then closed.
    fn open(&self, now: u64) -> io::Result<Self::Session>;
}

/// One connection's state in a [`Transport`].
pub trait Session {
    /// The socket a connection reads and writes through when its raw
    /// socket is `S`: `S` itself, or a layer over it.
    type Socket<'a, S: Socket + 'a>: Socket
    where
        Self: 'a;

    /// The connection's socket, over the raw `socket`.
    fn wrap<'a, S: Socket + 'a>(&'a mut self, socket: S) -> Self::Socket<'a, S>;

    /// A deadline of the layer's own, if any (ms): a TLS handshake not
    /// finished by then closes the connection.
    #[inline(always)]
    fn deadline(&self) -> Option<u64> {
        None
    }

    /// Whether the layer holds output of its own that waits for the
    /// socket to drain (see [`Socket::has_pending_output`]).
    #[inline(always)]
    fn has_pending_output(&self) -> bool {
        false
    }
}

/// Plain TCP: no layer.
#[derive(Clone, Copy, Debug, Default)]
pub struct Plain;

/// A plain connection's layer state: nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct PlainSession;

impl Transport for Plain {
    type Session = PlainSession;

    #[inline(always)]
    fn open(&self, _now: u64) -> io::Result<PlainSession> {
        Ok(PlainSession)
    }
}

impl Session for PlainSession {
    type Socket<'a, S: Socket + 'a> = S;

    #[inline(always)]
    fn wrap<'a, S: Socket + 'a>(&'a mut self, socket: S) -> S {
        socket
    }
}

/// The earlier of a connection's deadline and its layer's.
#[inline(always)]
pub fn earliest(conn: Option<u64>, layer: Option<u64>) -> Option<u64> {
    match (conn, layer) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}
