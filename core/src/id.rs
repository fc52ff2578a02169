//! Names for connections that outlive a callback.

/// Names one connection of a server, so that code outside its callbacks —
/// another worker, a timer thread, a task runner — can send it WebSocket
/// messages, wake its streamed bodies or answer its deferred responses
/// through the backend's sender.
///
/// Over HTTP/2 the id a handler gets ([`Response::id`](crate::Response::id))
/// also names the request's stream ([`stream`](Self::stream)), so that an
/// answer to a deferred response reaches that stream; messages and
/// wake-ups go to the connection whatever the stream. Over HTTP/1.1 the
/// stream is 0. The stream takes what would be padding: the id stays 16
/// bytes, `Copy`.
///
/// A backend assigns ids with [`Connection::set_id`](crate::Connection::set_id):
/// `owner` says which of its event loops serves the connection and `key`
/// which of that loop's connections it is. A key is never reused for a
/// later connection while an old id may still be around (backends tag it
/// with a generation), so a message for a connection that is gone is
/// dropped rather than delivered to a stranger.
///
/// ```
/// use peregrine_core::ConnectionId;
///
/// let id = ConnectionId::new(1, 0x0000_0003_0000_0007);
/// assert_eq!((id.owner(), id.key()), (1, 0x0000_0003_0000_0007));
/// assert_ne!(id, ConnectionId::new(0, 0x0000_0003_0000_0007));
/// // Stream 5 of that connection, as an HTTP/2 handler's response names it.
/// let on_stream = id.with_stream(5);
/// assert_eq!((on_stream.stream(), on_stream.connection()), (5, id));
/// assert_eq!(core::mem::size_of::<ConnectionId>(), 16);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId {
    /// The event loop that serves the connection.
    owner: u32,
    /// The connection within that loop.
    key: u64,
    /// The HTTP/2 stream named, or 0 (fits in what would be padding).
    stream: u32,
}

impl ConnectionId {
    /// The id of connection `key` of event loop `owner`.
    pub const fn new(owner: u32, key: u64) -> Self {
        ConnectionId {
            owner,
            key,
            stream: 0,
        }
    }

    /// The same connection's HTTP/2 stream `stream` (0: the connection
    /// itself).
    pub const fn with_stream(self, stream: u32) -> Self {
        ConnectionId { stream, ..self }
    }

    /// The HTTP/2 stream named, or 0 for an HTTP/1.1 connection (or an
    /// HTTP/2 connection as a whole).
    pub const fn stream(self) -> u32 {
        self.stream
    }

    /// The connection as a whole, whatever stream this id names.
    pub const fn connection(self) -> Self {
        self.with_stream(0)
    }

    /// The event loop that serves the connection.
    pub const fn owner(self) -> u32 {
        self.owner
    }

    /// The connection within its event loop.
    pub const fn key(self) -> u64 {
        self.key
    }
}
