//! # peregrine-epoll
//!
//! The Linux backend of Peregrine: a multi-worker HTTP/1.1 server over
//! epoll. Each worker is one thread with its own edge-triggered epoll and
//! its own `SO_REUSEPORT` listener, so the kernel spreads connections and
//! none is handed between threads. Everything is allocated when a worker
//! starts; nothing per request.
//!
//! ```no_run
//! use peregrine_epoll::{Handler, Request, Response, Server};
//!
//! struct Hello;
//!
//! impl Handler for Hello {
//!     fn handle(&self, _: &Request<'_>, response: &mut Response<'_>) {
//!         response.body_static(b"Hello, World!");
//!     }
//! }
//!
//! let server = Server::bind("127.0.0.1:8080")?.workers(2);
//! let stats = server.run(Hello)?;
//! println!("served {} requests", stats.requests);
//! # Ok::<(), std::io::Error>(())
//! ```
#![cfg(any(target_os = "linux", target_os = "android"))]

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
pub use poller::Epoll;

/// The epoll server with the default buffer sizes; see
/// [`peregrine_driver::Server`] for the builder.
pub type Server = ServerWith<DefaultSizes>;

/// The epoll server with buffer sizes and header capacity of your choice,
/// a [`Sizes`]: `ServerWith::<Capacity<8192, 8192, 16>>::bind(addr)`.
pub type ServerWith<Z> = peregrine_driver::Server<Epoll, Z>;
