//! Names for connections that outlive a callback.

/// Names one connection of a server, so that code outside its callbacks —
/// another worker, a timer thread, a task runner — can send it WebSocket
/// messages through the backend's sender.
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
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId {
    /// The event loop that serves the connection.
    owner: u32,
    /// The connection within that loop.
    key: u64,
}

impl ConnectionId {
    /// The id of connection `key` of event loop `owner`.
    pub const fn new(owner: u32, key: u64) -> Self {
        ConnectionId { owner, key }
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
