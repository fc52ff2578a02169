//! Every buffer size of the firmware, in one place: what the 64 KiB of RAM
//! (stack included; see `memory.x`) is spent on.

/// Connections served at once: one core state machine and one TCP socket
/// each.
pub const SERVER_CONNECTIONS: usize = 2;

/// The core's read buffer per connection: a request head, and a body read
/// whole after it, must fit.
pub const READ: usize = 1024;

/// The core's write buffer per connection (its minimum): response heads,
/// short bodies and WebSocket frames.
pub const WRITE: usize = 1024;

/// Header fields a request may carry.
pub const MAX_HEADERS: usize = 16;

/// Largest request body read into memory; larger ones are answered `413`.
pub const MAX_BODY: u64 = 512;

/// Each TCP socket's receive buffer (its window) and send buffer.
pub const SOCKET_RX: usize = 1024;
/// See [`SOCKET_RX`].
pub const SOCKET_TX: usize = 1024;

/// The loopback link's MTU: the largest IP packet it carries.
pub const MTU: usize = 1024;

/// IP packets the loopback link holds between two polls of the interface.
pub const LINK_QUEUE: usize = 4;

/// The client's sockets, one per conversation it holds at once.
pub const CLIENT_CONNECTIONS: usize = 2;

/// Every socket of the interface: the server's and the client's.
pub const SOCKETS: usize = SERVER_CONNECTIONS + CLIENT_CONNECTIONS;
