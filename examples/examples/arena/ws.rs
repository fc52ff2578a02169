//! The `echo-ws` profile's endpoint: a WebSocket at `/ws` that echoes
//! every text and binary message, as the same kind of frame.
//!
//! The core validates the handshake (`400`, or `426` for another
//! version), answers pings and echoes the client's Close; messages are
//! echoed from the callback, straight into the connection's write
//! buffer. A plain `GET /ws`, without the upgrade, is `426 Upgrade
//! Required`.

use peregrine_core::ws::Message;
use peregrine_core::{Response, StatusCode, Upgrade, WebSocket};

use crate::routes::Worker;

/// The path.
pub const PATH: &[u8] = b"/ws";

/// The answer to a valid handshake for `path`.
pub fn upgrade(path: &[u8]) -> Upgrade {
    if path == PATH {
        Upgrade::Accept {
            protocol: None,
            tag: 0,
            // The benchmark's messages are 5 bytes: nothing to gain.
            compress: false,
        }
    } else {
        Upgrade::Decline
    }
}

/// Echoes a message.
pub fn echo(message: Message<'_>, socket: &mut WebSocket<'_, Worker>) {
    // A send fails only when the client stops reading; the connection's
    // backpressure policy closes it then.
    let _ = match message {
        Message::Text(text) => socket.send_text(text),
        Message::Binary(data) => socket.send_binary(data),
        _ => Ok(()),
    };
}

/// `/ws` without a WebSocket handshake.
pub fn refuse(response: &mut Response<'_, Worker>) {
    response.status(StatusCode::UPGRADE_REQUIRED);
    let _ = response.header("Upgrade", "websocket");
    let _ = response.header("Content-Type", "text/plain");
    response.body_static(b"a WebSocket endpoint: upgrade to websocket\n");
}
