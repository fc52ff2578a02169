//! WebSocket (RFC 6455), server side: the opening handshake, frames and
//! messages, sans-IO and without allocation.
//!
//! | module | job |
//! |---|---|
//! | [`handshake`] | [`check_upgrade`] checks a parsed request; [`write_accept`] writes the `101` head, [`write_reject`] the 400/426 answer |
//! | [`frame`] | [`FrameDecoder`], the resumable decoder of client frame headers; [`encode_header`] for server frames |
//! | [`mask`] | [`unmask`], a word at a time, for payloads arriving in pieces |
//! | [`utf8`] | [`Utf8Validator`], incremental, failing at the first hopeless byte |
//! | [`close`] | [`CloseCode`], the codes a Close frame may carry |
//! | [`session`] | [`Session`]: bytes from the client in, [`Message`]s out, automatic Pong and Close replies |
//! | [`error`] | [`ProtocolError`], what fails a connection, and its close code |
//! | [`send`] | whole server frames into caller buffers: [`encode_text`], [`encode_close`], ... |
//! | [`deflate`] | permessage-deflate (RFC 7692): negotiation, and the [`Deflate`] trait a caller implements |
//!
//! After the handshake a server keeps one [`Session`] per connection and
//! drives it with the read buffer it used for HTTP: read, [`Session::receive`]
//! until `None`, send [`Session::next_output`]'s frames, and send frames of
//! its own through the session, which stops it from sending after a Close.
//!
//! ```
//! use peregrine_core::ws::{self, Message, Session, MAX_CONTROL_FRAME_LEN};
//! use peregrine_core::{Parsed, RequestParser};
//!
//! // The handshake (RFC 6455 §1.2), and a first frame in the same read.
//! let mut buf = [0u8; 2048];
//! let head = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
//!     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
//!     Sec-WebSocket-Version: 13\r\n\r\n";
//! let frame = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"; // "Hello", masked
//! buf[..head.len()].copy_from_slice(head);
//! buf[head.len()..][..frame.len()].copy_from_slice(frame);
//! let filled = head.len() + frame.len();
//!
//! let mut parser = RequestParser::<16>::new();
//! let Ok(Parsed::Complete(request)) = parser.parse(&buf[..filled]) else { panic!() };
//! let head_len = request.head_len();
//! let handshake = ws::check_upgrade(&request).unwrap();
//! let mut out = [0u8; 256];
//! let response = ws::write_accept(&mut out, &handshake, None, None).unwrap();
//! assert!(response.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
//!
//! // Frames: the bytes after the head move to the front, and belong to
//! // the session.
//! let mut session = Session::new();
//! buf.copy_within(head_len..filled, 0);
//! session.on_read(filled - head_len);
//! while let Some(message) = session.receive(&mut buf).unwrap() {
//!     if let Message::Text(text) = message {
//!         // Echo it.
//!         let echo = session.encode_text(&mut out, text).unwrap();
//!         assert_eq!(echo, b"\x81\x05Hello");
//!     }
//! }
//!
//! // The client closes; the session queues the reply.
//! let close = b"\x88\x82\x00\x00\x00\x00\x03\xe8"; // 1000, masked with zeros
//! session.read_buf(&mut buf)[..close.len()].copy_from_slice(close);
//! session.on_read(close.len());
//! let message = session.receive(&mut buf).unwrap();
//! assert_eq!(message, Some(Message::Close(Some(ws::CloseCode::NORMAL), "")));
//! let mut control = [0; MAX_CONTROL_FRAME_LEN];
//! assert_eq!(session.next_output(&mut control), Some(&b"\x88\x02\x03\xe8"[..]));
//! assert!(session.is_finished()); // the server closes the connection
//! ```

mod base64;
pub mod close;
pub mod deflate;
pub mod error;
pub mod frame;
pub mod handshake;
pub mod mask;
pub mod send;
pub mod session;
pub mod topics;
pub mod utf8;

pub use close::CloseCode;
pub use deflate::Deflate;
pub use error::ProtocolError;
pub use frame::{
    FrameDecoder, FrameError, FrameHeader, MAX_CLIENT_HEADER_LEN, MAX_CONTROL_PAYLOAD,
    MAX_SERVER_HEADER_LEN, Opcode, encode_header,
};
pub use handshake::{
    ACCEPT_KEY_LEN, GUID, Handshake, HandshakeError, Protocols, VERSION, accept_key,
    accept_response, check_upgrade, write_accept, write_accept_with, write_reject,
};
pub use mask::unmask;
pub use send::{
    MAX_CLOSE_REASON_LEN, MAX_CONTROL_FRAME_LEN, SendError, encode_binary, encode_close,
    encode_frame, encode_ping, encode_pong, encode_text,
};
pub use session::{Message, Session};
pub use topics::{MAX_TOPICS, Topics, TopicsFull};
pub use utf8::{InvalidUtf8, Utf8Validator};
