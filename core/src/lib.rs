//! # peregrine-core
//!
//! The protocol core of the Peregrine HTTP/1.1 server: `#![no_std]`, no
//! `alloc`, no sockets. It parses request heads incrementally into
//! fixed-capacity tables, frames bodies, encodes responses into buffers the
//! caller owns, and drives whole connections as a sans-IO state machine.
//! The OS backends (`peregrine-epoll`, `peregrine-kqueue`, `peregrine-std`)
//! move bytes; this crate decides what they mean. Any other runtime can
//! move them too (the `tokio` example drives one connection per task).
//!
//! Features: `alloc` adds `IoBuffers::boxed`, the one call that
//! allocates; `std` (which implies `alloc`) adds `std::error::Error`
//! impls, `Slices::fill_io` and run-time AVX2 detection.
//!
//! ## Parsing
//!
//! ```
//! use peregrine_core::{Method, Parsed, RequestParser};
//!
//! let mut parser = RequestParser::<16>::new();
//! let wire = b"GET /hello?name=peregrine HTTP/1.1\r\nHost: example.com\r\n\r\n";
//!
//! // Bytes may arrive in any number of pieces; the parser never rescans.
//! assert!(matches!(parser.parse(&wire[..20]), Ok(Parsed::Partial)));
//! let Ok(Parsed::Complete(request)) = parser.parse(wire) else { panic!() };
//! assert_eq!(request.method(), Method::Get);
//! assert_eq!(request.path(), b"/hello");
//! assert_eq!(request.header("host"), Some(&b"example.com"[..]));
//! assert_eq!(request.head_len(), wire.len());
//! ```
//!
//! ## Driving a connection by hand
//!
//! A [`Connection`] is told what happened and asked what it wants; the
//! caller owns the socket, the clock and the buffers. This is all a
//! backend does, minus the system calls:
//!
//! ```
//! use peregrine_core::{
//!     Capacity, Config, Connection, Counters, Env, Handler, IoBuffers, MAX_SLICES, Request,
//!     Response, Transmit,
//! };
//!
//! struct Hello;
//! impl Handler for Hello {
//!     fn handle(&self, _: &Request<'_>, response: &mut Response<'_>) {
//!         response.body_static(b"Hello, World!");
//!     }
//! }
//!
//! // Small buffers may live on the stack; large ones are made on the heap
//! // with `IoBuffers::boxed()` (feature `alloc`), never built here first.
//! type Small = Capacity<4096, 4096, 16>;
//! let mut bufs = IoBuffers::<Small>::new();
//! let mut conn = Connection::<Small>::new(Config::DEFAULT, None, 0);
//! let mut counters = Counters::default();
//! let mut env = Env { handler: &Hello, local: &mut (), date: None, now: 0, counters: &mut counters, files: None, spill: None, deflate: None };
//!
//! // Bytes in: two pipelined requests arrive in one read.
//! let wire = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
//! conn.read_buf(&mut bufs)[..wire.len()].copy_from_slice(wire);
//! conn.handle_read(wire.len(), &mut bufs, &mut env);
//!
//! // Bytes out: both responses, ready for one writev (`Slices::fill_io`
//! // makes the `IoSlice`s of `write_vectored`, with the `std` feature).
//! let Transmit::Write(mut slices) = conn.poll_transmit(&bufs) else { panic!() };
//! let mut iov: [&[u8]; MAX_SLICES] = [&[]; MAX_SLICES];
//! let count = slices.fill(&mut iov);
//! let out: Vec<u8> = iov[..count].concat();
//! let one = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, World!";
//! assert_eq!(out, [&one[..], one].concat());
//! conn.handle_written(out.len(), &mut bufs, &mut env);
//!
//! // Idle keep-alive: nothing buffered, a deadline for the idle timeout.
//! assert!(!conn.holds_buffers());
//! assert_eq!(conn.poll_timeout(), Some(Config::DEFAULT.idle_timeout));
//! ```
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

mod authority;
pub mod connection;
mod counters;
mod error;
mod field;
mod file;
mod framing;
mod handler;
mod headers;
mod id;
mod method;
mod percent;
mod request;
mod scan;
mod send_queue;
pub mod sizes;
mod status;
mod timers;
mod version;

pub mod chunked;
pub mod date;
pub mod h2;
pub mod path;
pub mod query;
pub mod response;
pub mod spill;
pub mod sse;
pub mod ws;
mod ws_output;

pub use connection::{
    Config, Connection, DeflatePolicy, Env, H2c, Interest, IoBuffers, MAX_SLICES, PublishError,
    Slices, Suspended, Transmit,
};
pub use counters::Counters;
pub use error::Error;
pub use file::{FileKeeper, FileRegion};
pub use framing::BodyFraming;
pub use handler::{
    BodyPolicy, BodyWriter, Fill, Finished, Handler, Outcome, Response, ResponseError, Upgrade,
    WebSocket,
};
pub use headers::{Header, HeaderIter, Headers, Tokens, Values};
pub use id::ConnectionId;
pub use method::Method;
pub use request::{
    DEFAULT_MAX_HEAD_LEN, DEFAULT_MAX_HEADERS, DEFAULT_MAX_TARGET_LEN, HeadParser, Parsed, Request,
    RequestParser, TargetForm,
};
pub use sizes::{ByteArray, Capacity, DefaultSizes, FieldTable, HeaderTable, Sizes};
pub use status::StatusCode;
pub use timers::TimerKind;
pub use version::Version;
pub use ws_output::Backpressure;
