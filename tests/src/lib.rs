//! # peregrine-tests
//!
//! Socket-level integration tests of the Peregrine servers: real servers on
//! `127.0.0.1`, real clients (ureq for well-formed traffic, raw
//! [`TcpStream`]s for everything a well-behaved client would never send).
//!
//! This library holds what the tests share:
//!
//! - [`TestServer`]: a server running on a thread of the test process,
//!   stopped gracefully (and joined, with a deadline) when dropped;
//! - [`Backend`] and [`backend_tests!`]: every test is written once, as a
//!   function of the backend, and run against each backend there is;
//! - [`Client`]: a raw HTTP/1.1 client connection that parses responses
//!   strictly (status line, headers, `Content-Length`, chunked, or
//!   until-close bodies) and can tell whether the server closed;
//! - handlers beyond the reference [`Hello`]: [`LargeBytes`] (`/bytes/N`
//!   without its 16 MiB cap) and [`Blocking`] (holds a worker until the
//!   test lets go, to make races deterministic);
//! - small helpers: request builders, the expected bytes of `/bytes/N`,
//!   descriptor limits.
//!
//! `src/bin/child_server.rs` runs a server in a process of its own, for
//! tests that change process-wide limits or watch the server from outside.
//!
//! Every wait is bounded: sockets get read and write timeouts, and servers
//! are joined through a channel with a deadline.

pub mod browser;
pub mod compress;
pub mod counting;
mod h2c;
mod senders;
pub mod tls;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Mutex, OnceLock, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

pub use peregrine_core::{Config, Handler};
use peregrine_core::{DefaultSizes, Fill, Method, Request, Response, Sizes};
use peregrine_examples::hello::{Hello, MAX_BYTES, pattern_byte};
pub use peregrine_std::Model;

/// How long a test waits for a server to stop after asking it to.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// How long a [`Client`] waits for a read or a write before failing.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// The README's examples, compiled (and run where they do not bind a
/// port) as doctests: this crate depends on every backend they use.
#[cfg(all(doctest, any(target_os = "linux", target_os = "android")))]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

/// A server backend the tests run against: each backend crate, and for
/// the portable one each of its concurrency models.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// `peregrine-epoll`: one edge-triggered epoll per worker (Linux).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    Epoll,
    /// `peregrine-kqueue`: one kqueue per worker (macOS, FreeBSD).
    #[cfg(any(
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "dragonfly"
    ))]
    Kqueue,
    /// `peregrine-std` with `Model::Pool` of [`Options::threads`] threads.
    StdPool,
    /// `peregrine-std` with `Model::PerConnection`, at most
    /// [`Options::threads`] connection threads.
    StdPerConnection,
    /// `peregrine-std` with `Model::Single`: one connection at a time.
    StdSingle,
    /// `peregrine_examples::tokio_driver`: the core on tokio's
    /// multi-thread runtime ([`Options::workers`] threads), a task per
    /// connection.
    Tokio,
    /// [`Epoll`](Self::Epoll) with h2c on ([`H2c::Beside`](peregrine_core::H2c)),
    /// its clients speaking HTTP/2 with prior knowledge
    /// ([`Client::connect_h2c`]); see [`h2c_tests!`].
    #[cfg(any(target_os = "linux", target_os = "android"))]
    EpollH2c,
    /// [`StdPool`](Self::StdPool) with h2c on, its clients speaking
    /// HTTP/2 with prior knowledge; see [`h2c_tests!`].
    StdPoolH2c,
}

impl Backend {
    /// Every backend built on this platform.
    pub const ALL: &[Backend] = &[
        #[cfg(any(target_os = "linux", target_os = "android"))]
        Backend::Epoll,
        #[cfg(any(
            target_os = "macos",
            target_os = "ios",
            target_os = "freebsd",
            target_os = "dragonfly"
        ))]
        Backend::Kqueue,
        Backend::StdPool,
        Backend::StdPerConnection,
        Backend::StdSingle,
        Backend::Tokio,
    ];

    /// This platform's readiness backend (epoll or kqueue).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub const NATIVE: Backend = Backend::Epoll;
    /// This platform's readiness backend (epoll or kqueue).
    #[cfg(any(
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "dragonfly"
    ))]
    pub const NATIVE: Backend = Backend::Kqueue;

    /// Its name, as [`from_name`](Self::from_name) takes it.
    pub fn name(self) -> &'static str {
        match self {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Backend::Epoll => "epoll",
            #[cfg(any(
                target_os = "macos",
                target_os = "ios",
                target_os = "freebsd",
                target_os = "dragonfly"
            ))]
            Backend::Kqueue => "kqueue",
            Backend::StdPool => "std-pool",
            Backend::StdPerConnection => "std-per-connection",
            Backend::StdSingle => "std-single",
            Backend::Tokio => "tokio",
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Backend::EpollH2c => "epoll-h2c",
            Backend::StdPoolH2c => "std-pool-h2c",
        }
    }

    /// For a backend spoken to over h2c, the backend that serves it.
    pub fn h2c_of(self) -> Option<Backend> {
        match self {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Backend::EpollH2c => Some(Backend::Epoll),
            Backend::StdPoolH2c => Some(Backend::StdPool),
            _ => None,
        }
    }

    /// Whether its clients speak HTTP/2 (h2c with prior knowledge).
    pub fn is_h2c(self) -> bool {
        self.h2c_of().is_some()
    }

    /// The version its responses come with: `HTTP/1.1`, or `HTTP/2` over
    /// h2c.
    pub fn version(self) -> &'static str {
        if self.is_h2c() { "HTTP/2" } else { "HTTP/1.1" }
    }

    /// The backend called `name`, if it is built here.
    pub fn from_name(name: &str) -> Option<Backend> {
        Backend::ALL.iter().copied().find(|b| b.name() == name)
    }

    /// How many threads serving connections a server configured by
    /// `options` starts, each calling `Handler::new_local` once; `None`
    /// when a thread is started for each connection.
    pub fn workers(self, options: &Options) -> Option<usize> {
        match self {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Backend::Epoll => Some(options.workers),
            #[cfg(any(
                target_os = "macos",
                target_os = "ios",
                target_os = "freebsd",
                target_os = "dragonfly"
            ))]
            Backend::Kqueue => Some(options.workers),
            Backend::StdPool => Some(options.threads),
            Backend::StdPerConnection | Backend::Tokio => None,
            Backend::StdSingle => Some(1),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Backend::EpollH2c => Backend::Epoll.workers(options),
            Backend::StdPoolH2c => Backend::StdPool.workers(options),
        }
    }
}

/// Runs each listed test function (`fn name(backend: Backend)`) once per
/// backend, as `#[test]`s named `<backend>::<name>` (`epoll`, `std_pool`,
/// `std_per_connection`, `std_single`, `tokio`). Attributes written before a name
/// (`#[ignore = "..."]`) are applied to each generated test.
///
/// A test that needs more than every backend gives names the capability
/// in brackets before its name, and is generated only for the backends
/// that have it:
///
/// - `[concurrent]`: serves several connections at once (all but
///   `std_single`);
/// - `[persistent]`: its threads are started once, not per connection
///   (all but `std_per_connection` and `tokio`, which calls
///   `Handler::new_local` for each connection's task);
/// - `[multiplexed]`: a worker serves many connections, so one held busy
///   leaves the others' bytes unread (`epoll`; not `tokio`, whose other
///   threads take over the tasks of a thread held busy);
/// - `[answers_backlog]`: a graceful shutdown answers the connections
///   still in the listen backlog (all but `tokio`, which stops accepting
///   at once).
///
/// ```
/// use peregrine_examples::hello::Hello;
/// use peregrine_tests::{Backend, TestServer, backend_tests, get};
///
/// fn serves_hello(backend: Backend) {
///     let server = TestServer::start(backend, Hello::new());
///     let mut client = server.connect();
///     client.send(&get("/"));
///     assert_eq!(client.response().body, b"Hello, World!");
/// }
///
/// fn serves_two_at_once(backend: Backend) {
///     let server = TestServer::start(backend, Hello::new());
///     let (mut a, mut b) = (server.connect(), server.connect());
///     b.send(&get("/"));
///     a.send(&get("/"));
///     assert_eq!(b.response().status, 200);
///     assert_eq!(a.response().status, 200);
/// }
///
/// backend_tests!(serves_hello, [concurrent] serves_two_at_once);
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! backend_tests {
    ($($(#[$attr:meta])* $([$needs:ident])? $name:ident),* $(,)?) => {
        $crate::native_backend_tests!($($(#[$attr])* $([$needs])? $name),*);
        mod tokio {
            $($crate::backend_test!(Tokio, [$($needs)?], $(#[$attr])* $name);)*
        }
    };
}

/// [`backend_tests!`] for the server's own backends only (epoll or kqueue,
/// and the portable backend's models), not the tokio example: for what
/// only they offer (TLS, the `Sender`).
#[macro_export]
macro_rules! native_backend_tests {
    ($($(#[$attr:meta])* $([$needs:ident])? $name:ident),* $(,)?) => {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        mod epoll {
            $($crate::backend_test!(Epoll, [$($needs)?], $(#[$attr])* $name);)*
        }
        #[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd", target_os = "dragonfly"))]
        mod kqueue {
            $($crate::backend_test!(Kqueue, [$($needs)?], $(#[$attr])* $name);)*
        }
        mod std_pool {
            $($crate::backend_test!(StdPool, [$($needs)?], $(#[$attr])* $name);)*
        }
        mod std_per_connection {
            $($crate::backend_test!(StdPerConnection, [$($needs)?], $(#[$attr])* $name);)*
        }
        mod std_single {
            $($crate::backend_test!(StdSingle, [$($needs)?], $(#[$attr])* $name);)*
        }
    };
}

/// Runs each listed test of [`backend_tests!`] over h2c as well: against
/// epoll and the portable backend's pool with h2c on, as modules
/// `epoll_h2c` and `std_pool_h2c`, their [`TestServer::connect`] clients
/// speaking HTTP/2 with prior knowledge ([`Client::connect_h2c`]).
///
/// List the tests whose exchanges mean the same over HTTP/2: requests
/// and their responses (status, fields, body), not how HTTP/1.1 frames
/// them (pipelining on the wire, `Connection: close`, malformed heads).
#[macro_export]
macro_rules! h2c_tests {
    ($($(#[$attr:meta])* $name:ident),* $(,)?) => {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        mod epoll_h2c {
            $($(#[$attr])* #[test] fn $name() { super::$name($crate::Backend::EpollH2c) })*
        }
        mod std_pool_h2c {
            $($(#[$attr])* #[test] fn $name() { super::$name($crate::Backend::StdPoolH2c) })*
        }
    };
}

/// One test of [`backend_tests!`] for one backend: nothing if the backend
/// lacks the capability the test needs (an unknown capability does not
/// compile).
#[doc(hidden)]
#[macro_export]
macro_rules! backend_test {
    (StdSingle, [concurrent], $($rest:tt)*) => {};
    (StdPerConnection, [persistent], $($rest:tt)*) => {};
    (StdPool, [multiplexed], $($rest:tt)*) => {};
    (StdPerConnection, [multiplexed], $($rest:tt)*) => {};
    (StdSingle, [multiplexed], $($rest:tt)*) => {};
    (Tokio, [persistent], $($rest:tt)*) => {};
    (Tokio, [multiplexed], $($rest:tt)*) => {};
    (Tokio, [answers_backlog], $($rest:tt)*) => {};
    ($backend:ident, [$($needs:ident)?], $(#[$attr:meta])* $name:ident) => {
        $crate::backend_test!(@check [$($needs)?]);
        $(#[$attr])*
        #[test]
        fn $name() {
            super::$name($crate::Backend::$backend)
        }
    };
    (@check []) => {};
    (@check [concurrent]) => {};
    (@check [persistent]) => {};
    (@check [multiplexed]) => {};
    (@check [answers_backlog]) => {};
}

/// How a [`TestServer`] is configured; [`Default`] is what most tests
/// need: two workers (16 threads for a thread-per-connection backend), the
/// default connection [`Config`], limits and grace period.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Worker threads.
    pub workers: usize,
    /// Connection timeouts and limits.
    pub config: Config,
    /// Connections per worker.
    pub max_connections: usize,
    /// Buffer pairs per worker.
    pub buffers: usize,
    /// Grace period of a graceful shutdown.
    pub grace: Duration,
    /// Threads of the `std` backend: the pool's size, or the cap on
    /// connection threads. Such a server serves that many connections at
    /// once, so a test holding more open at once raises it.
    pub threads: usize,
}

impl Options {
    /// The same options with h2c served beside HTTP/1.1.
    pub fn with_h2c(self) -> Options {
        let config = Config {
            h2c: peregrine_core::H2c::Beside,
            ..self.config
        };
        Options { config, ..self }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            workers: 2,
            config: Config::DEFAULT,
            max_connections: 1024,
            buffers: 256,
            grace: Duration::from_secs(10),
            threads: 16,
        }
    }
}

/// The statistics a server returns when it stops.
pub type Stats = peregrine_std::Stats;

/// The handle that stops a running server.
pub type ShutdownHandle = peregrine_std::ShutdownHandle;

/// A server running on its own thread, listening on `127.0.0.1` on a port
/// of its own. Dropping it shuts the server down gracefully and waits (at
/// most [`STOP_TIMEOUT`]) for it to stop.
pub struct TestServer {
    /// Where it listens.
    addr: SocketAddr,
    /// Stops it.
    handle: ShutdownHandle,
    /// What `run` returned, sent when it returns.
    done: mpsc::Receiver<io::Result<Stats>>,
    /// The thread running it; taken when joined.
    thread: Option<JoinHandle<()>>,
    /// Whether [`connect`](Self::connect) speaks HTTP/2 (h2c).
    h2c: bool,
}

impl TestServer {
    /// Starts `handler` on `backend` with the default [`Options`].
    pub fn start<H, L>(backend: Backend, handler: H) -> TestServer
    where
        H: Handler<L> + Send + 'static,
        L: Default + Send + 'static,
    {
        TestServer::start_with(backend, Options::default(), handler)
    }

    /// Starts `handler` on `backend` configured by `options`.
    ///
    /// # Panics
    ///
    /// If the server cannot bind or its thread cannot start.
    pub fn start_with<H, L>(backend: Backend, options: Options, handler: H) -> TestServer
    where
        H: Handler<L> + Send + 'static,
        L: Default + Send + 'static,
    {
        if let Some(served_by) = backend.h2c_of() {
            let mut server = TestServer::start_with(served_by, options.with_h2c(), handler);
            server.h2c = true;
            return server;
        }
        let (addr, handle, run): (_, _, Box<dyn FnOnce() -> io::Result<Stats> + Send>) =
            match backend {
                #[cfg(any(target_os = "linux", target_os = "android"))]
                Backend::Epoll => start_reactor::<peregrine_epoll::Epoll, H, L>(&options, handler),
                #[cfg(any(
                    target_os = "macos",
                    target_os = "ios",
                    target_os = "freebsd",
                    target_os = "dragonfly"
                ))]
                Backend::Kqueue => {
                    start_reactor::<peregrine_kqueue::Kqueue, H, L>(&options, handler)
                }
                Backend::StdPool | Backend::StdPerConnection | Backend::StdSingle => {
                    let server = std_server(backend, &options);
                    let (addr, handle) = (server.local_addr(), server.shutdown_handle());
                    (addr, handle, Box::new(move || server.run(handler)))
                }
                Backend::Tokio => tokio_server::<DefaultSizes, H, L>(&options, handler),
                #[cfg(any(target_os = "linux", target_os = "android"))]
                Backend::EpollH2c => unreachable!("served by epoll"),
                Backend::StdPoolH2c => unreachable!("served by the std pool"),
            };
        TestServer::spawn(addr, handle, run)
    }

    /// Runs `run` on a thread of its own.
    pub(crate) fn spawn(
        addr: SocketAddr,
        handle: ShutdownHandle,
        run: Box<dyn FnOnce() -> io::Result<Stats> + Send>,
    ) -> TestServer {
        let (tx, done) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("test-server".into())
            .spawn(move || {
                let _ = tx.send(run());
            })
            .expect("spawn the server thread");
        TestServer {
            addr,
            handle,
            done,
            thread: Some(thread),
            h2c: false,
        }
    }

    /// Opens a WebSocket to `path` (tungstenite's client, its socket with
    /// [`IO_TIMEOUT`] on reads and writes).
    ///
    /// # Panics
    ///
    /// If the connection or the handshake fails.
    #[track_caller]
    pub fn websocket(&self, path: &str) -> tungstenite::WebSocket<TcpStream> {
        let stream = TcpStream::connect(self.addr).expect("connect");
        stream.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
        stream.set_write_timeout(Some(IO_TIMEOUT)).expect("timeout");
        let url = format!("ws://{}{path}", self.addr);
        tungstenite::client(url.as_str(), stream)
            .expect("handshake")
            .0
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A handle to stop the server or read its statistics.
    pub fn handle(&self) -> ShutdownHandle {
        self.handle.clone()
    }

    /// Waits (at most [`IO_TIMEOUT`]) until the server has read the heads
    /// of `count` requests in all, by its published statistics: a request
    /// a client wrote is then in the server's hands, not in a queue of the
    /// client's or the kernel's.
    ///
    /// # Panics
    ///
    /// If it has not in time.
    #[track_caller]
    pub fn wait_for_requests(&self, count: u64) {
        let began = std::time::Instant::now();
        loop {
            let requests = self.handle.stats().requests;
            if requests >= count {
                return;
            }
            assert!(
                began.elapsed() < IO_TIMEOUT,
                "{requests} requests read, waiting for {count}"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Connects a raw client: HTTP/1.1, or h2c for a backend spoken to
    /// over h2c ([`Backend::is_h2c`]).
    pub fn connect(&self) -> Client {
        if self.h2c {
            Client::connect_h2c(self.addr)
        } else {
            Client::connect(self.addr)
        }
    }

    /// Begins a graceful shutdown and waits, at most `timeout`, for `run`
    /// to return; returns its statistics.
    ///
    /// # Panics
    ///
    /// If `run` failed or did not return in time.
    pub fn stop_within(mut self, timeout: Duration) -> Stats {
        self.handle.shutdown();
        self.wait(timeout)
    }

    /// [`stop_within`](Self::stop_within) [`STOP_TIMEOUT`].
    pub fn stop(self) -> Stats {
        self.stop_within(STOP_TIMEOUT)
    }

    /// Waits, at most `timeout`, for `run` to return (after a shutdown
    /// begun elsewhere) and joins the thread.
    ///
    /// # Panics
    ///
    /// If `run` failed or did not return in time.
    pub fn wait(&mut self, timeout: Duration) -> Stats {
        let result = self
            .done
            .recv_timeout(timeout)
            .unwrap_or_else(|_| panic!("the server did not stop within {timeout:?}"));
        if let Some(thread) = self.thread.take() {
            thread.join().expect("the server thread panicked");
        }
        result.expect("the server failed")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        self.handle.shutdown();
        // A server that does not stop is left behind rather than hang the
        // test; the test fails on its own assertions (or already did).
        if self.done.recv_timeout(STOP_TIMEOUT).is_ok() {
            let _ = thread.join();
        } else if !std::thread::panicking() {
            panic!("the server did not stop within {STOP_TIMEOUT:?}");
        }
    }
}

/// A response as read off the wire by [`Client`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawResponse {
    /// `HTTP/1.1` or `HTTP/1.0`.
    pub version: String,
    /// The status code.
    pub status: u16,
    /// The reason phrase.
    pub reason: String,
    /// The header fields, in order, as sent.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
    /// Whether the body was chunked.
    pub chunked: bool,
    /// The bytes the head took on the wire.
    pub head_len: usize,
}

impl RawResponse {
    /// The value of the only header named `name` (case-insensitive).
    ///
    /// # Panics
    ///
    /// If there are several.
    pub fn header(&self, name: &str) -> Option<&str> {
        let mut values = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str());
        let first = values.next();
        assert!(
            values.next().is_none(),
            "several {name} headers in {self:?}"
        );
        first
    }

    /// Every value of the headers named `name` (case-insensitive).
    pub fn header_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether a `Connection` header holds `token` (case-insensitive).
    pub fn has_connection_token(&self, token: &str) -> bool {
        self.header_all("connection")
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// The `Content-Length`, if sent.
    pub fn content_length(&self) -> Option<u64> {
        self.header("content-length")
            .map(|v| v.parse().expect("numeric Content-Length"))
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A raw client connection: writes whatever it is given and parses the
/// responses, keeping bytes read beyond one response for the next.
#[derive(Debug)]
pub struct Client {
    /// The socket.
    stream: TcpStream,
    /// Bytes read and not yet parsed: `buf[start..]`.
    buf: Vec<u8>,
    /// Start of the unparsed bytes.
    start: usize,
    /// The peer closed (a read returned 0).
    eof: bool,
    /// Over h2c: the HTTP/2 connection that carries the requests written
    /// (`stream` is then only the socket under it).
    h2: Option<Box<h2c::H2Wire>>,
}

impl Client {
    /// Connects to `addr`, with [`IO_TIMEOUT`] on reads and writes.
    ///
    /// # Panics
    ///
    /// If the connection fails.
    #[track_caller]
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        Client::from_stream(stream)
    }

    /// Wraps a connected socket, setting [`IO_TIMEOUT`] and `TCP_NODELAY`.
    pub fn from_stream(stream: TcpStream) -> Client {
        stream.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
        stream.set_write_timeout(Some(IO_TIMEOUT)).expect("timeout");
        stream.set_nodelay(true).expect("nodelay");
        Client {
            stream,
            buf: Vec::with_capacity(16 * 1024),
            start: 0,
            eof: false,
            h2: None,
        }
    }

    /// Connects to `addr` and speaks HTTP/2 with prior knowledge: each
    /// HTTP/1.1 request written becomes a stream, each response is read
    /// back as HTTP/1.1 would deliver it (see the `h2c` module).
    ///
    /// # Panics
    ///
    /// If the connection or the HTTP/2 handshake fails.
    #[track_caller]
    pub fn connect_h2c(addr: SocketAddr) -> Client {
        let mut client = Client::connect(addr);
        let stream = client.stream.try_clone().expect("clone the socket");
        let wire = h2c::H2Wire::handshake(stream, addr)
            .unwrap_or_else(|e| panic!("h2c handshake with {addr}: {e}"));
        client.h2 = Some(Box::new(wire));
        client
    }

    /// Whether requests go over HTTP/2.
    pub fn is_h2c(&self) -> bool {
        self.h2.is_some()
    }

    /// The socket (over h2c, the non-blocking socket under the HTTP/2
    /// connection: bytes written to it break its framing).
    pub fn stream(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    /// Writes all of `bytes`.
    ///
    /// # Panics
    ///
    /// If the write fails.
    #[track_caller]
    pub fn send(&mut self, bytes: &[u8]) {
        if let Some(h2) = &mut self.h2 {
            return h2.send(bytes).unwrap_or_else(|e| panic!("h2c: {e}"));
        }
        self.stream
            .write_all(bytes)
            .unwrap_or_else(|e| panic!("write: {e}"));
    }

    /// Bytes read but not yet parsed into a response.
    pub fn buffered(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// Reads one response to a request with a body in return (not HEAD).
    ///
    /// # Panics
    ///
    /// If it is malformed, or does not arrive within [`IO_TIMEOUT`].
    #[track_caller]
    pub fn response(&mut self) -> RawResponse {
        self.try_response(false)
            .unwrap_or_else(|e| panic!("reading a response: {e}"))
    }

    /// Reads one response to a HEAD request (no body follows the head).
    ///
    /// # Panics
    ///
    /// If it is malformed, or does not arrive within [`IO_TIMEOUT`].
    #[track_caller]
    pub fn head_response(&mut self) -> RawResponse {
        self.try_response(true)
            .unwrap_or_else(|e| panic!("reading a response: {e}"))
    }

    /// Reads only a response head (the body stays unread).
    ///
    /// # Panics
    ///
    /// If it is malformed, or does not arrive within [`IO_TIMEOUT`].
    #[track_caller]
    pub fn response_head(&mut self) -> RawResponse {
        if let Some(h2) = &mut self.h2 {
            return h2
                .response(true)
                .unwrap_or_else(|e| panic!("reading a response head: {e}"));
        }
        self.try_head()
            .unwrap_or_else(|e| panic!("reading a response head: {e}"))
    }

    /// Reads one response; `head_request` says it answers a HEAD.
    ///
    /// # Errors
    ///
    /// A socket error, a timeout, a malformed response, or the peer
    /// closing before the response is whole.
    pub fn try_response(&mut self, head_request: bool) -> io::Result<RawResponse> {
        if let Some(h2) = &mut self.h2 {
            return h2.response(false);
        }
        let mut response = self.try_head()?;
        let bodiless = head_request
            || (100..200).contains(&response.status)
            || response.status == 204
            || response.status == 304;
        if bodiless {
            return Ok(response);
        }
        let chunked = response
            .header_all("transfer-encoding")
            .flat_map(|v| v.split(','))
            .last()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("chunked"));
        response.body = if chunked {
            response.chunked = true;
            self.chunked_body()?
        } else if let Some(length) = response.content_length() {
            self.exact(length as usize)?
        } else {
            self.until_close()?
        };
        Ok(response)
    }

    /// Reads a response head.
    fn try_head(&mut self) -> io::Result<RawResponse> {
        let end = self.find(b"\r\n\r\n")? + 4;
        let head = self.take(end);
        let text = std::str::from_utf8(&head).map_err(|_| invalid("head is not UTF-8"))?;
        let mut lines = text[..text.len() - 4].split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or_default().to_owned();
        if version != "HTTP/1.1" && version != "HTTP/1.0" {
            return Err(invalid(&format!("bad status line {status_line:?}")));
        }
        let status = parts
            .next()
            .filter(|code| code.len() == 3)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| invalid(&format!("bad status line {status_line:?}")))?;
        let reason = parts.next().unwrap_or_default().to_owned();
        let mut headers = Vec::new();
        for line in lines {
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| invalid(&format!("bad header line {line:?}")))?;
            if name.is_empty() || name.contains(' ') {
                return Err(invalid(&format!("bad header name {line:?}")));
            }
            headers.push((name.to_owned(), value.trim().to_owned()));
        }
        Ok(RawResponse {
            version,
            status,
            reason,
            headers,
            body: Vec::new(),
            chunked: false,
            head_len: end,
        })
    }

    /// Reads a chunked body (and its trailers, dropped).
    fn chunked_body(&mut self) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let line_end = self.find(b"\r\n")?;
            let line = self.take(line_end + 2);
            let line = std::str::from_utf8(&line[..line_end])
                .map_err(|_| invalid("chunk size is not UTF-8"))?;
            let size = line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size, 16)
                .map_err(|_| invalid(&format!("bad chunk size {line:?}")))?;
            if size == 0 {
                // Trailer fields, then the empty line.
                loop {
                    let end = self.find(b"\r\n")?;
                    if self.take(end + 2).len() == 2 {
                        return Ok(body);
                    }
                }
            }
            body.extend_from_slice(&self.exact(size)?);
            if self.exact(2)? != b"\r\n" {
                return Err(invalid("chunk data not followed by CRLF"));
            }
        }
    }

    /// Reads exactly `n` bytes.
    fn exact(&mut self, n: usize) -> io::Result<Vec<u8>> {
        while self.buffered().len() < n {
            if self.fill()? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("closed {} bytes short", n - self.buffered().len()),
                ));
            }
        }
        Ok(self.take(n))
    }

    /// Reads until the peer closes.
    fn until_close(&mut self) -> io::Result<Vec<u8>> {
        while self.fill()? > 0 {}
        let n = self.buffered().len();
        Ok(self.take(n))
    }

    /// The offset of `needle` in the unparsed bytes, reading until it
    /// shows up.
    fn find(&mut self, needle: &[u8]) -> io::Result<usize> {
        let mut from = 0;
        loop {
            let buffered = self.buffered();
            if let Some(at) = buffered[from..]
                .windows(needle.len())
                .position(|w| w == needle)
            {
                return Ok(from + at);
            }
            from = buffered.len().saturating_sub(needle.len() - 1);
            if self.fill()? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "closed before {:?}; got {:?}",
                        String::from_utf8_lossy(needle),
                        String::from_utf8_lossy(self.buffered())
                    ),
                ));
            }
        }
    }

    /// Removes and returns the first `n` unparsed bytes.
    fn take(&mut self, n: usize) -> Vec<u8> {
        let taken = self.buf[self.start..self.start + n].to_vec();
        self.advance(n);
        taken
    }

    /// Drops the first `n` unparsed bytes.
    fn advance(&mut self, n: usize) {
        self.start += n;
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
    }

    /// Reads once more into the buffer; 0 at the end of the stream.
    fn fill(&mut self) -> io::Result<usize> {
        if self.eof {
            return Ok(0);
        }
        if self.start > 0 && self.start * 2 > self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let len = self.buf.len();
        self.buf.resize(len + 64 * 1024, 0);
        let result = loop {
            match self.stream.read(&mut self.buf[len..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        let n = *result.as_ref().unwrap_or(&0);
        self.buf.truncate(len + n);
        let n = result?;
        self.eof = n == 0;
        Ok(n)
    }

    /// Asserts the server closed the connection: nothing more arrives, then
    /// the end of the stream (a reset counts as closed, too).
    ///
    /// # Panics
    ///
    /// If bytes arrive, or the connection stays open past [`IO_TIMEOUT`].
    #[track_caller]
    pub fn expect_closed(&mut self) {
        if let Some(h2) = &mut self.h2 {
            assert!(h2.closed_within(IO_TIMEOUT), "expected the server to close");
            return;
        }
        assert!(
            self.buffered().is_empty(),
            "unexpected bytes after the response: {:?}",
            String::from_utf8_lossy(self.buffered())
        );
        match self.fill() {
            Ok(0) => {}
            Ok(_) => panic!(
                "expected the server to close; got {:?}",
                String::from_utf8_lossy(self.buffered())
            ),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!("expected the server to close; got {e}"),
        }
    }

    /// Whether the server has closed the connection, waiting at most
    /// `timeout` to find out; `false` if it is still open then.
    ///
    /// # Panics
    ///
    /// If bytes arrive.
    #[track_caller]
    pub fn is_closed_within(&mut self, timeout: Duration) -> bool {
        if let Some(h2) = &mut self.h2 {
            return h2.closed_within(timeout);
        }
        self.stream
            .set_read_timeout(Some(timeout))
            .expect("timeout");
        let result = self.fill();
        self.stream
            .set_read_timeout(Some(IO_TIMEOUT))
            .expect("timeout");
        match result {
            Ok(0) => true,
            Ok(_) => panic!(
                "unexpected bytes: {:?}",
                String::from_utf8_lossy(self.buffered())
            ),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => true,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                false
            }
            Err(e) => panic!("read: {e}"),
        }
    }
}

/// Reads what was buffered first, then from the socket: a body can be read
/// piece by piece after [`Client::response_head`].
impl Read for Client {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if let Some(h2) = &mut self.h2 {
            return h2.read(out);
        }
        if self.buffered().is_empty() {
            if self.eof {
                return Ok(0);
            }
            return self.stream.read(out);
        }
        let n = self.buffered().len().min(out.len());
        out[..n].copy_from_slice(&self.buf[self.start..self.start + n]);
        self.advance(n);
        Ok(n)
    }
}

/// An `InvalidData` error.
fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_owned())
}

/// A `GET` of `path` with `Host`, nothing else.
pub fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").into_bytes()
}

/// A `POST /echo` with `body`, framed by `Content-Length`.
pub fn post_echo(body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

/// The body of `GET /bytes/N` for `n` bytes (byte `i` is
/// `pattern_byte(n - i)`).
pub fn pattern(n: u64) -> Vec<u8> {
    (0..n).map(|i| pattern_byte(n - i)).collect()
}

/// The `len` bytes (at most [`PATTERN_WINDOW`]) expected at `offset` in
/// the body of `/bytes/total`, without building the whole body (bodies
/// may be hundreds of MiB).
///
/// # Panics
///
/// If `len` is over [`PATTERN_WINDOW`] or `offset` past `total`.
pub fn pattern_at(total: u64, offset: u64, len: usize) -> &'static [u8] {
    // table[j] is pattern_byte(r) for every r ≡ -j (mod 26): a window's
    // worth of the pattern plus one period, from a phase of 0.
    static TABLE: OnceLock<Vec<u8>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        (0..(PATTERN_WINDOW + 26) as u64)
            .map(|j| pattern_byte(26 * (1 << 30) - j))
            .collect()
    });
    assert!(len <= PATTERN_WINDOW, "{len} bytes asked of the pattern");
    let remaining = total - offset;
    let phase = ((26 - remaining % 26) % 26) as usize;
    &table[phase..phase + len]
}

/// The longest slice [`pattern_at`] gives.
pub const PATTERN_WINDOW: usize = 1 << 20;

/// Raises the soft limit on open descriptors to at least `wanted` (up to
/// the hard limit); returns the soft limit in force afterwards.
#[cfg(unix)]
pub fn raise_fd_limit(wanted: u64) -> u64 {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let current = limit.current.unwrap_or(u64::MAX);
    if current >= wanted {
        return current;
    }
    let target = limit.maximum.map_or(wanted, |max| max.min(wanted));
    let raised = Rlimit {
        current: Some(target),
        maximum: limit.maximum,
    };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => target,
        Err(_) => current,
    }
}

/// Writes `bytes` one at a time, each in its own segment (`TCP_NODELAY` is
/// on for [`Client`]s).
///
/// # Panics
///
/// If a write fails.
#[track_caller]
pub fn send_byte_by_byte(client: &mut Client, bytes: &[u8]) {
    for byte in bytes {
        client.send(std::slice::from_ref(byte));
        client.stream().flush().expect("flush");
    }
}

/// [`Hello`] without its cap on `/bytes/N`: any `N` up to `u64::MAX` is
/// streamed, with the same pattern and the same `fill_body`.
#[derive(Clone, Copy, Debug, Default)]
pub struct LargeBytes;

impl Handler for LargeBytes {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
        let count = request
            .path()
            .strip_prefix(b"/bytes/")
            .and_then(|digits| std::str::from_utf8(digits).ok())
            .and_then(|digits| digits.parse::<u64>().ok());
        match count {
            Some(n) if n > MAX_BYTES && request.method() == Method::Get => {
                response.set_tag(n);
                response.stream(Some(n));
            }
            _ => Hello::new().handle(request, response),
        }
    }

    fn fill_body(&self, remaining: &mut u64, buf: &mut [u8], local: &mut ()) -> Fill {
        Hello::new().fill_body(remaining, buf, local)
    }
}

/// [`Hello`], except that `GET /block` holds its worker until the test
/// says so: a way to have a worker busy, deterministically, while clients
/// do things it cannot see yet. Made with [`Blocking::new`], which also
/// returns the [`BlockingControl`].
#[derive(Debug)]
pub struct Blocking {
    /// Told when a `/block` request is being handled.
    entered: Mutex<mpsc::Sender<()>>,
    /// Waited on (at most [`IO_TIMEOUT`]) before answering `/block`.
    release: Mutex<mpsc::Receiver<()>>,
}

/// The test's side of a [`Blocking`] handler.
#[derive(Debug)]
pub struct BlockingControl {
    /// Hears when a `/block` request is being handled.
    entered: mpsc::Receiver<()>,
    /// Lets one go.
    release: mpsc::Sender<()>,
}

impl Blocking {
    /// The handler and its control.
    pub fn new() -> (Blocking, BlockingControl) {
        let (entered_tx, entered) = mpsc::channel();
        let (release, release_rx) = mpsc::channel();
        let handler = Blocking {
            entered: Mutex::new(entered_tx),
            release: Mutex::new(release_rx),
        };
        (handler, BlockingControl { entered, release })
    }
}

impl BlockingControl {
    /// Waits (at most [`IO_TIMEOUT`]) until a `/block` request holds its
    /// worker.
    ///
    /// # Panics
    ///
    /// If none does in time.
    #[track_caller]
    pub fn wait_entered(&self) {
        self.entered
            .recv_timeout(IO_TIMEOUT)
            .expect("no /block request was handled");
    }

    /// Lets the `/block` request answer (`released`).
    pub fn release(&self) {
        let _ = self.release.send(());
    }
}

impl Handler for Blocking {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
        if request.path() == b"/block" {
            let _ = self.entered.lock().map(|entered| entered.send(()));
            let _ = self
                .release
                .lock()
                .map(|release| release.recv_timeout(IO_TIMEOUT));
            response.body_static(b"released");
        } else {
            Hello::new().handle(request, response);
        }
    }
}

/// A server of the portable backend (`backend`: one of its models)
/// configured by `options`, not yet running.
///
/// # Panics
///
/// If `backend` is not one of the portable backend's models, or the
/// server cannot bind.
pub(crate) fn std_server(backend: Backend, options: &Options) -> peregrine_std::Server {
    let model = match backend {
        Backend::StdPool => Model::Pool,
        Backend::StdPerConnection => Model::PerConnection {
            max_threads: options.threads,
        },
        Backend::StdSingle => Model::Single,
        other => panic!("{other:?} is not the portable backend"),
    };
    let server = peregrine_std::Server::bind("127.0.0.1:0")
        .expect("bind 127.0.0.1:0")
        .model(model);
    with_options(server, options, options.threads)
}

/// `server`, of any backend, with what every builder shares set from
/// `options`: `workers` threads, the configuration and grace period, and
/// signals left to the test process.
pub(crate) fn with_options<S: peregrine_std::ServerBuilder>(
    server: S,
    options: &Options,
    workers: usize,
) -> S {
    server
        .workers(workers)
        .config(options.config)
        .grace_period(options.grace)
        .handle_signals(false)
}

/// A server of one of the readiness backends (epoll, kqueue), which share
/// their builder, configured by `options`: its address, its shutdown
/// handle, and what runs it.
#[cfg(unix)]
#[allow(clippy::type_complexity)]
fn start_reactor<P, H, L>(
    options: &Options,
    handler: H,
) -> (
    std::net::SocketAddr,
    ShutdownHandle,
    Box<dyn FnOnce() -> io::Result<Stats> + Send>,
)
where
    P: peregrine_driver::reactor::Poller + 'static,
    H: Handler<L> + Send + 'static,
    L: Default,
{
    let (addr, handle, run, _) = start_reactor_with::<P, H, L>(options, |_, _| handler);
    (addr, handle, run)
}

/// What a started server with a sender gives the fixture: its address,
/// its handles, and what runs it.
pub(crate) type Started = (
    std::net::SocketAddr,
    ShutdownHandle,
    Box<dyn FnOnce() -> io::Result<Stats> + Send>,
    peregrine_driver::Sender,
);

/// Binds a reactor server configured by `options` and builds its handler
/// with `make`, from the server's [`peregrine_driver::Sender`].
#[cfg(unix)]
pub(crate) fn start_reactor_with<P, H, L>(
    options: &Options,
    make: impl FnOnce(peregrine_driver::Sender, ShutdownHandle) -> H,
) -> Started
where
    P: peregrine_driver::reactor::Poller + 'static,
    H: Handler<L> + Send + 'static,
    L: Default,
{
    let server =
        peregrine_driver::Server::<P, DefaultSizes>::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let server = with_options(server, options, options.workers)
        .max_connections(options.max_connections)
        .buffers(options.buffers);
    let (addr, handle, sender) = (
        server.local_addr(),
        server.shutdown_handle(),
        server.sender(),
    );
    let handler = make(sender.clone(), handle.clone());
    (addr, handle, Box::new(move || server.run(handler)), sender)
}

/// Begins the tokio server's shutdown when the fixture's
/// [`ShutdownHandle`] does.
struct StopTokio(peregrine_examples::tokio_driver::Handle);

impl peregrine_driver::Waker for StopTokio {
    fn wake(&self) {
        self.0.shutdown();
    }
}

/// What runs a server on the thread that calls it, returning its
/// statistics.
pub type Run = Box<dyn FnOnce() -> io::Result<Stats> + Send>;

/// A tokio server ([`Backend::Tokio`]) with `Z` as its connections'
/// buffer sizes and header capacity,
/// configured by `options`, on a runtime of its own with
/// [`Options::workers`] threads: its address, a shutdown handle that stops
/// it, and what runs it. It listens with a backlog of 1,024, as the other
/// backends do.
///
/// # Panics
///
/// If its runtime cannot start or it cannot bind `127.0.0.1:0`.
pub fn tokio_server<Z: Sizes, H, L>(
    options: &Options,
    handler: H,
) -> (SocketAddr, ShutdownHandle, Run)
where
    H: Handler<L> + Send + 'static,
    L: Default + Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(options.workers)
        .enable_all()
        .build()
        .expect("start a tokio runtime");
    let listener = runtime
        .block_on(async {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
            socket.listen(1024)
        })
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    let server = peregrine_examples::tokio_driver::Server {
        config: options.config,
        grace: options.grace,
        handle: Default::default(),
    };
    let handle = ShutdownHandle::new(1);
    handle.add_waker(std::sync::Arc::new(StopTokio(server.handle.clone())));
    let run = move || {
        let totals = runtime.block_on(server.run_sized::<Z, _, _>(listener, handler));
        let counters = totals.counters;
        Ok(Stats {
            connections_accepted: totals.accepted,
            requests: counters.requests,
            responses: counters.responses,
            parse_errors: counters.parse_errors,
            timeouts: counters.timeouts,
            handler_panics: counters.handler_panics,
            files_cut_short: counters.files_cut_short,
            ..Stats::default()
        })
    };
    (addr, handle, Box::new(run))
}
