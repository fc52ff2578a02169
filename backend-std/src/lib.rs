//! # peregrine-std
//!
//! The portable backend of Peregrine: the same HTTP/1.1 server, the same
//! [`Handler`] API and the same builder as the epoll backend, over blocking
//! `std::net` sockets, so it builds wherever std has TCP (Linux, macOS and
//! the BSDs, Windows).
//!
//! ```no_run
//! use peregrine_std::{Handler, Model, Request, Response, Server};
//!
//! struct Hello;
//!
//! impl Handler for Hello {
//!     fn handle(&self, _: &Request<'_>, response: &mut Response<'_>) {
//!         response.body_static(b"Hello, World!");
//!     }
//! }
//!
//! let server = Server::bind("127.0.0.1:8080")?
//!     .model(Model::Pool)
//!     .workers(32);
//! let stats = server.run(Hello)?;
//! println!("served {} requests", stats.requests);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! ## Design
//!
//! A connection is served by one thread from accept to close, with
//! blocking calls: the thread runs
//! [`peregrine_driver::io::drive`] in [`Mode::Blocking`] over the socket,
//! which writes what the connection queued, reads, lets the connection
//! parse and answer every request read (a whole pipeline in one `writev`),
//! and loops. The [`Model`] says how many such threads there are and who
//! accepts: one thread ([`Model::Single`]), a thread per connection up to a
//! cap ([`Model::PerConnection`]), or a fixed pool of threads accepting on
//! the shared listener ([`Model::Pool`], the default). In every model a
//! thread serves one connection at a time, so the number of threads is the
//! number of connections served at once; further connections wait in the
//! listen backlog. The pool shares one listener rather than giving each
//! thread an `SO_REUSEPORT` listener of its own: the kernel would then
//! queue a connection behind a thread that may be holding a keep-alive
//! connection for a minute while other threads sit idle.
//!
//! **Deadlines.** A blocking call cannot be interrupted, so none is left
//! unbounded: before each `drive` the socket's read and write timeouts are
//! set so that no call blocks past the connection's next deadline (header,
//! body, idle, write or linger timeout), and none past 100 ms. When a call
//! times out, the thread looks at the clock, and once a deadline has passed
//! calls [`Connection::handle_timeout`](peregrine_core::Connection::handle_timeout):
//! a slowloris client gets its `408` on time, a peer that stops reading is
//! dropped after the write timeout. Timeouts are only set when they must
//! change, so a request costs one `read` and one `writev`.
//!
//! **Shutdown.** [`ShutdownHandle::shutdown`] sets a flag (and rings the
//! alarms, if the server has a sender). A thread blocked on a connection
//! sees it within 100 ms, reads what already reached the
//! socket without waiting, and hands it to the connection's graceful close
//! (requests in flight finish, idle connections close); after the grace
//! period what is left is closed. Threads blocked in `accept` are woken by
//! the thread that called `run`, which connects to the server's own port
//! once for each of them until none is left (a connection accepted after
//! shutdown began is closed unanswered). The port closes as soon as no
//! thread will accept any more.
//!
//! **Sending from other threads.** [`ServerWith::sender`] gives the
//! driver's [`Sender`], with the epoll
//! backend's semantics: WebSocket messages to a connection, a topic or
//! everyone, wake-ups of streamed bodies waiting for the application
//! (`Fill::Pending`), answers to deferred responses, publications to
//! streamed bodies. Each thread serving connections owns a mailbox (the
//! driver's [`Inbox`](peregrine_driver::inbox::Inbox)) for the connection
//! it serves, and looks at it between its socket calls. So that those
//! calls never keep a post waiting, a thread with a mailbox does not block
//! in `read` or `write` on Unix: its socket is non-blocking, and where a
//! call would block the thread waits in `poll` on the socket and an alarm
//! (a socket pair) that a post rings. Bounding blocking reads with a short
//! timeout instead would wake every idle connection's thread hundreds of
//! times a second, and a blocking `read` cannot be interrupted portably.
//! Where there is no `poll` (Windows) the wait is bounded instead: no call
//! of a thread with a mailbox waits more than 2 ms. Only a server that has
//! a sender pays for any of this (a `poll` before a read that would block,
//! a mailbox and a socket pair per thread, made with its buffers): the
//! threads of one without keep their plain blocking calls,
//! and ask a body waiting for the application again every 100 ms.
//!
//! **Memory.** A thread's buffer pair (`READ + WRITE` bytes) is allocated
//! when a pool thread starts, or the first time a connection-thread slot is
//! used, and reused from then on (with a sender, its mailbox too). Serving
//! a request allocates nothing, nor does a post reaching it;
//! under [`Model::PerConnection`], starting each connection's thread does.
//!
//! ## Differences from the epoll backend
//!
//! - No `sendfile` (std has no portable one): a file region sent with
//!   `send_file` is read 64 KiB at a time, at its offset, into a
//!   buffer on the thread's stack, and written from there (Unix and
//!   Windows; elsewhere the connection is closed after the head).
//! - The builder shares the epoll backend's code ([`ServerBuilder`]), but
//!   not its methods that size a worker holding many connections at once
//!   (`max_connections`, `buffers`) or its listeners (`backlog`,
//!   `accept_threads`, `pin_workers`): a thread here serves one connection
//!   at a time, and the [`Model`]'s threads bound the connections served
//!   at once. `Config::max_requests_per_wakeup` does not apply (see
//!   [`builder`] for each setting).
//! - Responses are written with `write_vectored`. Rust programs ignore
//!   `SIGPIPE` on Unix, so a write to a peer that left is an error, not a
//!   signal; a program whose `main` is not Rust's must ignore it itself.
//! - On Unix the listener has a backlog of 1,024; on other systems std's
//!   (128). SIGINT and SIGTERM are handled on Unix only.
//! - On Windows a socket timeout leaves the socket "in an indeterminate
//!   state" by the letter of the documentation; in practice the next
//!   call works, and this backend relies on that.

mod alarm;
mod server;
mod socket;
mod worker;

/// The builder every backend shares: [`ServerBuilder`] and its
/// [`Settings`], and what this backend does with each setting.
pub use peregrine_driver::builder;
/// HTTPS with rustls (the `tls` feature): [`tls::TlsConfig`] for
/// `Server::tls`, [`tls::TlsHandle`] to change certificates while the
/// server runs.
#[cfg(feature = "tls")]
pub use peregrine_driver::tls;
pub use peregrine_driver::vocabulary::*;
pub use peregrine_driver::{DEFAULT_MAILBOX_CAPACITY, PostError, Sender, ServerBuilder, Settings};
pub use server::{DEFAULT_POOL_THREADS, Model, ServerWith};

#[cfg(doc)]
use peregrine_driver::io::Mode;

/// The portable server with the default buffer sizes; see [`ServerWith`]
/// for the builder.
pub type Server = ServerWith<DefaultSizes>;
