//! # peregrine-driver
//!
//! What every Peregrine backend shares, so that each backend is only a thin
//! layer over its OS readiness API (or, for the portable backend, over
//! blocking threads):
//!
//! - [`io::drive`]: the loop that moves bytes between a socket and a
//!   `peregrine_core::Connection` (blocking or edge-triggered);
//! - [`embed::Embedded`]: one connection driven by a runtime of one's own;
//! - [`app::App`]: what every worker does with its connections, however
//!   it waits for them — the application and its per-worker state, the
//!   `Date` line, the counters, deadlines fired and connections wound down
//!   at shutdown;
//! - [`slab::Slab`]: connection slots with generation-tagged tokens;
//! - [`timers::Timers`]: lazily armed per-worker deadlines;
//! - [`static_files`]: a directory served as static files ([`Files`]);
//! - [`compress`]: gzip and brotli responses, with per-worker
//!   [`Compressors`](compress::Compressors);
//! - [`spill`]: where a worker's written bodies go on once they outgrow a
//!   connection's write buffer;
//! - [`stats`]: statistics; [`hub`]: the state the workers and every
//!   [`ShutdownHandle`] share; [`waker`]: what interrupts a worker's wait;
//! - [`vocabulary`]: the names a server's code uses, which every backend
//!   re-exports;
//! - [`builder`]: the builder settings every backend shares
//!   ([`Settings`]) and the trait that sets them ([`ServerBuilder`]),
//!   with what each backend does with each;
//! - [`Sender`]: WebSocket messages, wake-ups and deferred answers from
//!   any thread, through a lock-free mailbox per worker; [`inbox`]: such
//!   a mailbox owned by a thread that serves one connection at a time;
//! - [`clock`] and [`signals`]: the millisecond clock and `Date` refresh,
//!   and SIGINT/SIGTERM as a graceful shutdown, for any backend;
//! - on Unix, [`reactor`]: the worker event loop, generic over a
//!   [`reactor::Poller`] (epoll, kqueue), and [`Server`], the builder the
//!   epoll and kqueue backends expose;
//! - [`transport`]: what sits between a socket and a connection (nothing,
//!   or with the `tls` feature, `tls`: HTTPS with rustls).

pub mod answer;
pub mod app;
pub mod builder;
pub mod clock;
pub mod compress;
pub mod deflate;
pub mod embed;
pub mod files;
pub mod hub;
pub mod inbox;
pub mod io;
pub mod pool;
pub mod protocol;
pub mod region;
pub mod signals;
pub mod slab;
pub mod spill;
pub mod static_files;
pub mod stats;
pub mod timers;
#[cfg(feature = "tls")]
pub mod tls;
pub mod transport;
pub mod vocabulary;
pub mod waker;

#[cfg(unix)]
mod accept;
#[cfg(unix)]
mod lending;
mod mailbox;
mod outbox;
#[cfg(unix)]
pub mod reactor;
mod sender;
#[cfg(unix)]
mod server;
#[cfg(unix)]
pub mod unix;
mod wakes;

pub use builder::{ServerBuilder, Settings};
pub use hub::ShutdownHandle;
pub use mailbox::{DEFAULT_MAILBOX_CAPACITY, PostError};
pub use sender::Sender;
#[cfg(unix)]
pub use server::Server;
pub use static_files::Files;
pub use stats::Stats;
pub use waker::Waker;

pub use peregrine_core as core;

/// Default size of a connection's read buffer, in every backend.
pub const DEFAULT_READ_BUFFER: usize = 16 * 1024;
/// Default size of a connection's write buffer, in every backend.
pub const DEFAULT_WRITE_BUFFER: usize = 16 * 1024;
/// Default capacity of a request's header table, in every backend.
pub const DEFAULT_MAX_HEADERS: usize = 100;

// The three defaults are those of the core's `DefaultSizes`, which every
// backend's `Server` has.
const _: () = {
    use peregrine_core::{DefaultSizes, Sizes};
    assert!(DefaultSizes::READ == DEFAULT_READ_BUFFER);
    assert!(DefaultSizes::WRITE == DEFAULT_WRITE_BUFFER);
    assert!(DefaultSizes::MAX_HEADERS == DEFAULT_MAX_HEADERS);
};
