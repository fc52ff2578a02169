//! # peregrine-kqueue
//!
//! The BSD and macOS backend of Peregrine: a multi-worker HTTP/1.1 server
//! over kqueue. It is the epoll backend's twin: each worker is one thread
//! with its own kqueue (`EVFILT_READ`/`EVFILT_WRITE` with `EV_CLEAR`, so
//! edge-triggered; `EV_EOF` reported as hang-up) and an `EVFILT_USER`
//! event as its waker. Everything else — the worker loop, connection
//! slots, timers, buffer pools, accepting (`SO_REUSEPORT_LB` on FreeBSD,
//! `SO_NOSIGPIPE` and `FIONBIO` on Apple systems), shutdown — is
//! `peregrine-driver`'s, shared with the epoll backend and exercised by
//! its tests on Linux.
//!
//! This crate is compiled only on macOS, iOS, FreeBSD and DragonFly BSD
//! (the systems with `EVFILT_USER`); elsewhere it is empty.
//!
//! ```no_run
//! # #[cfg(any(target_os = "macos", target_os = "freebsd"))]
//! # fn main() -> std::io::Result<()> {
//! use peregrine_kqueue::{Handler, Request, Response, Server};
//!
//! struct Hello;
//!
//! impl Handler for Hello {
//!     fn handle(&self, _: &Request<'_>, response: &mut Response<'_>) {
//!         response.body_static(b"Hello, World!");
//!     }
//! }
//!
//! Server::bind("127.0.0.1:8080")?.run(Hello)?;
//! # Ok(())
//! # }
//! # #[cfg(not(any(target_os = "macos", target_os = "freebsd")))]
//! # fn main() {}
//! ```
#![cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "dragonfly"
))]

mod poller;

/// The builder every backend shares: [`ServerBuilder`] and its
/// [`Settings`], and what each backend does with each setting.
pub use peregrine_driver::builder;
/// HTTPS with rustls (the `tls` feature): [`tls::TlsConfig`] for
/// `Server::tls`, [`tls::TlsHandle`] to change certificates while the
/// server runs.
#[cfg(feature = "tls")]
pub use peregrine_driver::tls;
pub use peregrine_driver::vocabulary::*;
pub use peregrine_driver::{DEFAULT_MAILBOX_CAPACITY, PostError, Sender, ServerBuilder, Settings};
pub use poller::Kqueue;

/// The kqueue server with the default buffer sizes; see
/// [`peregrine_driver::Server`] for the builder.
pub type Server = ServerWith<DefaultSizes>;

/// The kqueue server with buffer sizes and header capacity of your choice,
/// a [`Sizes`]: `ServerWith::<Capacity<8192, 8192, 16>>::bind(addr)`.
pub type ServerWith<Z> = peregrine_driver::Server<Kqueue, Z>;
