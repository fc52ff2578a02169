//! Serving HTTP on smoltcp TCP sockets: the glue between a socket and the
//! core's sans-IO [`Connection`], which is all a runtime has to write.
//!
//! Each [`Slot`] owns one pair of buffers and serves the peers of one
//! listening socket, one at a time. Once a
//! peer connects, every poll moves bytes both ways until neither side can
//! go on:
//!
//! 1. deadlines that passed ([`Connection::poll_timeout`]) go to
//!    [`Connection::handle_timeout`];
//! 2. while the connection wants to read, the socket's bytes go into
//!    [`Connection::read_buf`], then [`Connection::handle_read`] (or
//!    [`Connection::handle_read_closed`] once the peer sent its FIN);
//! 3. whatever [`Connection::poll_transmit`] offers goes into the socket's
//!    send buffer, and the bytes it took to [`Connection::handle_written`];
//!    [`Transmit::CloseWrite`] becomes smoltcp's `close` (a FIN).
//!
//! Once the connection is over, the socket finishes its closing handshake
//! and listens again.

use core::net::SocketAddr;

use peregrine_core::date::DateCache;
use peregrine_core::{Capacity, Config, Connection, Counters, Env, IoBuffers, Transmit};
use smoltcp::socket::tcp::{self, RecvError, State};

use crate::app::App;
use crate::budget::{MAX_BODY, MAX_HEADERS, READ, WRITE};

/// The sizes of the core's connections: the budget's buffers and header
/// table.
pub type Sizes = Capacity<READ, WRITE, MAX_HEADERS>;

/// The core's connection, sized by the budget.
pub type Conn = Connection<Sizes>;

/// The buffers one connection works in.
pub type Buffers = IoBuffers<Sizes>;

/// The core's timeouts and limits: the defaults, with the body limit of
/// the budget.
const CONFIG: Config = Config {
    max_body_len: MAX_BODY,
    ..Config::DEFAULT
};

/// What every slot of the server shares while it is driven.
pub struct Server<'a> {
    /// The application.
    pub app: &'a App,
    /// The `Date` line responses carry.
    pub date: &'a DateCache,
    /// What the connections did, for the summary.
    pub counters: Counters,
}

/// Where a slot's socket is in its life.
#[expect(
    clippy::large_enum_variant,
    reason = "a slot keeps room for a connection whether or not a peer is connected: \
              there is no heap to box it in"
)]
enum Phase {
    /// Listening, or waiting for a handshake to complete.
    Listening,
    /// A peer is connected and the core drives the exchange.
    Serving {
        /// The state machine.
        conn: Conn,
        /// The peer's FIN was reported to the connection.
        peer_closed: bool,
    },
    /// The connection is over; the socket finishes its closing handshake
    /// until `deadline` and is then reset.
    Closing {
        /// When to give up on the peer.
        deadline: u64,
    },
}

/// One connection of the server: its socket's port, its buffers, and its
/// state machine while a peer is connected.
pub struct Slot {
    /// The port the socket listens on.
    port: u16,
    /// The connection's buffers, its own for as long as the firmware runs.
    bufs: &'static mut Buffers,
    /// Where the socket is in its life.
    phase: Phase,
    /// Connections accepted so far.
    accepted: u32,
}

impl Slot {
    /// A slot that listens on `port` at its first poll, serving its peers
    /// in `bufs`.
    pub fn new(port: u16, bufs: &'static mut Buffers) -> Self {
        Slot {
            port,
            bufs,
            // A closed socket, as after a connection: the first poll makes
            // it listen.
            phase: Phase::Closing { deadline: 0 },
            accepted: 0,
        }
    }

    /// Whether the slot waits for a peer, with no connection in hand.
    pub fn is_listening(&self) -> bool {
        matches!(self.phase, Phase::Listening)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u32 {
        self.accepted
    }

    /// Drives the slot at `now` (milliseconds) as far as it goes: accepts,
    /// serves, or closes its connection. Called after each poll of the
    /// interface, with the slot's own socket.
    pub fn poll(&mut self, socket: &mut tcp::Socket<'_>, server: &mut Server<'_>, now: u64) {
        match &mut self.phase {
            Phase::Listening => {
                // `may_send`: the handshake completed (the peer may even
                // have sent its FIN already).
                if socket.may_send() {
                    let peer = socket.remote_endpoint().map(SocketAddr::from);
                    self.phase = Phase::Serving {
                        conn: Conn::new(CONFIG, peer, now),
                        peer_closed: false,
                    };
                    self.accepted += 1;
                    self.poll(socket, server, now);
                }
            }
            Phase::Serving { conn, peer_closed } => {
                let over = match serve(conn, peer_closed, self.bufs, socket, server, now) {
                    Ok(()) => conn.is_closed() || conn.is_hijacked(),
                    Err(Dropped) => true,
                };
                if over {
                    // A FIN if none was sent (a silent close on a
                    // timeout); nothing if the core's CloseWrite sent it.
                    socket.close();
                    self.phase = Phase::Closing {
                        deadline: now.saturating_add(CONFIG.linger_timeout),
                    };
                }
            }
            Phase::Closing { deadline } => {
                if socket.is_open() && now >= *deadline {
                    // The peer never finished the closing handshake.
                    socket.abort();
                }
                if !socket.is_open() {
                    // The listening socket cannot be in use: the slot owns it.
                    let _ = socket.listen(self.port);
                    self.phase = Phase::Listening;
                }
            }
        }
    }
}

/// The connection is dropped before the core is done with it: the peer
/// reset it, or it asked for what this device cannot do (send a file: it
/// has none).
struct Dropped;

/// Moves bytes between `socket` and `conn` until neither can go on.
fn serve(
    conn: &mut Conn,
    peer_closed: &mut bool,
    bufs: &mut Buffers,
    socket: &mut tcp::Socket<'_>,
    server: &mut Server<'_>,
    now: u64,
) -> Result<(), Dropped> {
    if socket.state() == State::Closed {
        // Reset by the peer: nothing more can be read or written.
        return Err(Dropped);
    }
    let mut local = ();
    let mut env = Env {
        handler: server.app,
        local: &mut local,
        date: Some(server.date),
        now,
        counters: &mut server.counters,
        // No files on this device.
        files: None,
        spill: None,
        deflate: None,
    };
    if conn.poll_timeout().is_some_and(|deadline| deadline <= now) {
        conn.handle_timeout(bufs, &mut env);
    }
    loop {
        if conn.is_closed() || conn.is_hijacked() {
            return Ok(());
        }
        if conn.has_work() {
            // Requests beyond the per-call maximum wait here.
            conn.poll(bufs, &mut env);
        }
        let read = read(conn, peer_closed, bufs, socket, &mut env);
        let written = write(conn, bufs, socket, &mut env)?;
        if !read && !written {
            return Ok(());
        }
    }
}

/// Reads what the socket holds into the connection, if it wants to read;
/// `true` if anything happened.
fn read(
    conn: &mut Conn,
    peer_closed: &mut bool,
    bufs: &mut Buffers,
    socket: &mut tcp::Socket<'_>,
    env: &mut Env<'_, App, ()>,
) -> bool {
    if !conn.interest().read {
        return false;
    }
    match socket.recv_slice(conn.read_buf(bufs)) {
        Ok(0) => false,
        Ok(n) => {
            conn.handle_read(n, bufs, env);
            true
        }
        Err(RecvError::Finished) if !*peer_closed => {
            *peer_closed = true;
            conn.handle_read_closed(env);
            true
        }
        Err(_) => false,
    }
}

/// Copies what the connection has to send into the socket's send buffer;
/// `true` if anything happened.
fn write(
    conn: &mut Conn,
    bufs: &mut Buffers,
    socket: &mut tcp::Socket<'_>,
    env: &mut Env<'_, App, ()>,
) -> Result<bool, Dropped> {
    let sent = match conn.poll_transmit(bufs) {
        Transmit::Idle => return Ok(false),
        Transmit::Write(slices) => {
            let mut sent = 0;
            for slice in slices {
                // An error is a socket that cannot send any more (the peer
                // reset it): nothing is taken, and the next poll sees it.
                let n = socket.send_slice(slice).unwrap_or(0);
                sent += n;
                if n < slice.len() {
                    break;
                }
            }
            sent
        }
        Transmit::CloseWrite => {
            socket.close();
            conn.handle_write_closed(env);
            return Ok(true);
        }
        Transmit::SendFile(_) => return Err(Dropped),
    };
    if sent == 0 {
        return Ok(false);
    }
    conn.handle_written(sent, bufs, env);
    Ok(true)
}
