//! The application the device serves: a greeting, an echo of request
//! bodies, and a WebSocket echo.

use peregrine_core::ws::Message;
use peregrine_core::{Handler, Request, Response, StatusCode, Upgrade, WebSocket, ws};

/// What `GET /` answers.
pub const GREETING: &[u8] = b"Hello from a Cortex-M4F!";

/// The routes:
///
/// - `GET /`: [`GREETING`], as plain text;
/// - `POST /echo`: the request body (read whole, at most
///   [`MAX_BODY`](crate::budget::MAX_BODY) bytes, however it was framed);
/// - `GET /ws`: a WebSocket that sends every text or binary message back;
/// - anything else: `404 Not Found`.
pub struct App;

impl Handler for App {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
        let answered = match request.path() {
            b"/" => response
                .header("Content-Type", "text/plain")
                .map(|response| response.body_static(GREETING)),
            b"/echo" => response
                .header("Content-Type", "application/octet-stream")
                .and_then(|response| response.body(request.body())),
            _ => {
                response.status(StatusCode::NOT_FOUND);
                Ok(())
            }
        };
        if answered.is_err() {
            // A body over the write buffer's half: not with the read
            // buffer and the body limit chosen in `budget`.
            response.abandon();
        }
    }

    fn websocket(&self, request: &Request<'_>, _: &ws::Handshake<'_>) -> Upgrade {
        match request.path() {
            b"/ws" => Upgrade::ACCEPT,
            _ => Upgrade::Decline,
        }
    }

    fn on_message(&self, message: Message<'_>, socket: &mut WebSocket<'_>) {
        // A message that does not fit the write buffer closes the
        // connection (the default backpressure policy): nothing to do here.
        let _ = match message {
            Message::Text(text) => socket.send_text(text),
            Message::Binary(data) => socket.send_binary(data),
            _ => Ok(()),
        };
    }
}
