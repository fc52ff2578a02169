//! The `chat` example's handler: an HTML page at `/` whose script joins a
//! room over a WebSocket at `/ws?room=NAME`; every text message sent in a
//! room reaches everyone in it, whichever worker serves them.
//!
//! A room is a topic: the handshake's `room` names it (hashed to the
//! topic number, kept as the connection's tag), the connection subscribes
//! to it when it opens, and each message is published to it through the
//! server's [`Sender`], which hands it to every worker once; each worker
//! writes it to its own members. The handler keeps no list of members and
//! takes no lock.

use peregrine_core::ws::{CloseCode, Handshake, Message};
use peregrine_core::{Handler, Request, Response, StatusCode, Upgrade, WebSocket};
use peregrine_driver::Sender;

/// The page served at `/`.
pub const PAGE: &str = include_str!("chat.html");

/// The longest chat message relayed, in bytes; longer ones close the
/// connection with 1009.
pub const MAX_MESSAGE_LEN: usize = 4096;

/// The longest room name, in bytes.
pub const MAX_ROOM_LEN: usize = 64;

/// The room of a request without one.
pub const DEFAULT_ROOM: &str = "lobby";

/// The chat server's handler.
#[derive(Debug)]
pub struct Chat {
    /// Publishes messages to rooms.
    sender: Sender,
}

impl Chat {
    /// A chat that publishes through `sender` (the server's).
    pub fn new(sender: Sender) -> Chat {
        Chat { sender }
    }
}

/// The topic of room `name`: its 64-bit FNV-1a hash (never 0).
///
/// ```
/// use peregrine_examples::chat::room_topic;
///
/// assert_eq!(room_topic(b"lobby"), room_topic(b"lobby"));
/// assert_ne!(room_topic(b"lobby"), room_topic(b"kitchen"));
/// ```
pub fn room_topic(name: &[u8]) -> u64 {
    let hash = name.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    hash.max(1)
}

/// The room a WebSocket request asks for: `room=NAME` in its query, or
/// [`DEFAULT_ROOM`]; `None` if the name is empty, too long, or not made of
/// letters, digits, `-` and `_`.
fn requested_room<'r>(request: &'r Request<'_>) -> Option<&'r [u8]> {
    let room = request
        .query_pairs()
        .find(|(key, _)| *key == b"room")
        .map_or(DEFAULT_ROOM.as_bytes(), |(_, value)| value);
    let valid = !room.is_empty()
        && room.len() <= MAX_ROOM_LEN
        && room
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    valid.then_some(room)
}

impl Handler for Chat {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
        match request.path() {
            b"/" => {
                let _ = response.header("Content-Type", "text/html; charset=utf-8");
                response.body_static(PAGE.as_bytes());
            }
            _ => {
                response.status(StatusCode::NOT_FOUND);
            }
        }
    }

    fn websocket(&self, request: &Request<'_>, _: &Handshake<'_>) -> Upgrade {
        if request.path() != b"/ws" {
            return Upgrade::Decline;
        }
        match requested_room(request) {
            Some(room) => Upgrade::Accept {
                protocol: None,
                tag: room_topic(room),
                compress: true,
            },
            // A bad room name: answered 404 like any unknown resource.
            None => Upgrade::Decline,
        }
    }

    fn on_open(&self, socket: &mut WebSocket<'_>) {
        if socket.subscribe(socket.tag()).is_err() {
            let _ = socket.close(CloseCode::INTERNAL_ERROR, "cannot join");
        }
    }

    fn on_message(&self, message: Message<'_>, socket: &mut WebSocket<'_>) {
        let Message::Text(text) = message else {
            let _ = socket.close(CloseCode::UNSUPPORTED_DATA, "text only");
            return;
        };
        if text.len() > MAX_MESSAGE_LEN {
            let _ = socket.close(CloseCode::MESSAGE_TOO_BIG, "message too long");
            return;
        }
        if self
            .sender
            .publish(socket.tag(), Message::Text(text))
            .is_err()
        {
            // The server is overwhelmed: tell the author, keep the room.
            let _ = socket.send_text("* message not sent: server busy");
        }
    }
}
