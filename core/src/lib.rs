//! # peregrine-core
//!
//! The protocol core of the Peregrine HTTP/1.1 server: `#![no_std]`, no
//! `alloc`, no sockets. It parses request heads incrementally into
//! fixed-capacity tables, frames bodies, and encodes responses into buffers
//! the caller owns. The OS backends (`peregrine-epoll`, `peregrine-kqueue`,
//! `peregrine-std`) move bytes; this crate decides what they mean.
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
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(any(feature = "std", test))]
extern crate std;

pub mod connection;
mod error;
mod field;
mod framing;
mod handler;
mod headers;
mod method;
mod percent;
mod request;
mod scan;
mod status;
mod version;

pub mod chunked;
pub mod date;
pub mod path;
pub mod query;
pub mod response;

pub use connection::{Config, Connection, Env, Interest, IoBuffers, Transmit};
pub use error::Error;
pub use framing::BodyFraming;
pub use handler::{BodyPolicy, FileRegion, Fill, Handler, Response, ResponseError};
pub use headers::{Header, HeaderIter, Headers, Tokens, Values};
pub use method::Method;
pub use request::{
    DEFAULT_MAX_HEAD_LEN, DEFAULT_MAX_HEADERS, DEFAULT_MAX_TARGET_LEN, Parsed, Request,
    RequestParser, TargetForm,
};
pub use status::StatusCode;
pub use version::Version;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
