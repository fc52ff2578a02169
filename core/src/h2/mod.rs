//! HTTP/2 (RFC 9113), sans-IO and without allocation: the frame layer
//! ([`frame`]) and header compression ([`hpack`], RFC 7541).
//!
//! Both work on caller-provided buffers and fixed-capacity state sized by
//! const generics, like the HTTP/1.1 [`Connection`](crate::Connection).
//! Flow control's arithmetic, windows and when to update them, is in [`flow`].

pub mod flow;
pub mod frame;
pub mod hpack;
pub mod server;
