//! A WebSocket echo server: every text and binary message sent to `/` or
//! `/ws` comes back unchanged. The server Autobahn|Testsuite runs against.
//!
//! ```text
//! cargo run --release -p peregrine-examples --example ws-echo -- --port 9001
//! ```
//!
//! Messages up to 16 MiB are echoed (the largest Autobahn sends), so each
//! connection in flight uses two 16 MiB buffers; the pool is kept small.
//! Messages are compressed (permessage-deflate, without context takeover)
//! when the client offers it; `--deflate takeover` allows context takeover,
//! `--deflate off` turns compression off.

use peregrine_core::ws::{Handshake, Message};
use peregrine_core::{
    Capacity, Config, DeflatePolicy, Handler, Request, Response, StatusCode, Upgrade, WebSocket,
};
use peregrine_examples::Options;

/// Room for a 16 MiB message plus frame headers and control frames.
const BUFFER: usize = (16 << 20) + 4096;

/// Echoes every message.
struct Echo;

impl Handler for Echo {
    fn handle(&self, _: &Request<'_>, response: &mut Response<'_>) {
        response.status(StatusCode::NOT_FOUND);
    }

    fn websocket(&self, request: &Request<'_>, _: &Handshake<'_>) -> Upgrade {
        match request.path() {
            b"/" | b"/ws" => Upgrade::ACCEPT,
            _ => Upgrade::Decline,
        }
    }

    fn on_message(&self, message: Message<'_>, socket: &mut WebSocket<'_>) {
        // A send fails only when the peer stops reading; the connection's
        // timeouts deal with that peer.
        let _ = match message {
            Message::Text(text) => socket.send_text(text),
            Message::Binary(data) => socket.send_binary(data),
            _ => Ok(()),
        };
    }
}

fn main() -> std::io::Result<()> {
    let mut options = Options::from_args();
    // Few buffer pairs: each is 32 MiB (allocated lazily by the system).
    options.buffers.get_or_insert(4);
    options.config = Some(Config {
        websocket_deflate: DeflatePolicy::NoContextTakeover,
        ..Config::DEFAULT
    });
    options.run_sized::<Capacity<BUFFER, BUFFER, 32>, _, _>("ws-echo", |_| Echo)?;
    Ok(())
}
