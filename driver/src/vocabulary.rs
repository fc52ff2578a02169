//! The names a server's code uses, in one list: every backend re-exports
//! all of them (`pub use peregrine_driver::vocabulary::*`), so an
//! application imports from its backend alone, and moving to another
//! backend changes one line.
//!
//! ```
//! // The same names from the driver, as from any backend.
//! use peregrine_driver::vocabulary::{
//!     BodyPolicy, CloseCode, Config, Fill, Handler, Message, Request, Response, StatusCode,
//!     Upgrade, WebSocket, date, path, query, ws,
//! };
//!
//! struct Echo;
//!
//! impl Handler for Echo {
//!     fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
//!         let mut decoded = [0; 256];
//!         match path::decode_path(request.path(), &mut decoded) {
//!             Ok(path) => response.status(StatusCode::OK).body(path.as_bytes()).unwrap(),
//!             Err(_) => response.status(StatusCode::BAD_REQUEST).body(b"bad path").unwrap(),
//!         }
//!         let _pairs = query::pairs(request.query().unwrap_or(b""));
//!     }
//!
//!     fn websocket(&self, _: &Request<'_>, _: &ws::Handshake<'_>) -> Upgrade {
//!         Upgrade::ACCEPT
//!     }
//!
//!     fn on_message(&self, message: Message<'_>, socket: &mut WebSocket<'_>) {
//!         if let Message::Text(text) = message {
//!             let _ = socket.send_text(text);
//!         } else {
//!             let _ = socket.close(CloseCode::UNSUPPORTED_DATA, "text only");
//!         }
//!     }
//! }
//! # let _ = (BodyPolicy::Buffer, Config::DEFAULT, Fill::Done(0), date::DateCache::new());
//! ```

pub use peregrine_core::response::CONTINUE;
pub use peregrine_core::ws::{CloseCode, Handshake, Message, SendError, TopicsFull};
pub use peregrine_core::{
    Backpressure, BodyFraming, BodyPolicy, Capacity, Config, ConnectionId, Counters, DefaultSizes,
    Error, FileRegion, Fill, Finished, H2c, Handler, Header, HeaderIter, Headers, Method, Outcome,
    Request, Response, ResponseError, Sizes, StatusCode, TargetForm, Tokens, Upgrade, Values,
    Version, WebSocket,
};
pub use peregrine_core::{date, path, query, sse, ws};

pub use crate::answer::Answer;
pub use crate::compress::{self, CompressBody, Compression, Compressors};
pub use crate::files::{OwnedFile, SendFile};
pub use crate::hub::ShutdownHandle;
pub use crate::static_files::{self, Files};
pub use crate::stats::Stats;
pub use crate::{DEFAULT_MAX_HEADERS, DEFAULT_READ_BUFFER, DEFAULT_WRITE_BUFFER};
