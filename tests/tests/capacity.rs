//! A full worker makes room: when a new connection arrives and every slot
//! is taken, the connection idle longest (an HTTP keep-alive connection
//! between requests) is closed and the new one served; a connection in the
//! middle of a request is never closed for it; with none idle, the new
//! connection waits until one is.
//!
//! Readiness backends only: a thread-per-connection backend holds no idle
//! connection it could close.
#![cfg(any(target_os = "linux", target_os = "android"))]

use std::io;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::Instant;

use peregrine_examples::hello::Hello;
use peregrine_tests::{Backend, Client, IO_TIMEOUT, Options, STOP_TIMEOUT, TestServer, get};

/// Connections the server under test holds at most.
const MAX: usize = 4;

/// How the server under test takes connections in.
#[derive(Clone, Copy, Debug)]
enum Mode {
    /// The worker accepts on a listener of its own.
    Listener,
    /// An accept thread hands connections to the worker.
    AcceptThread,
}

/// A one-worker epoll server holding at most [`MAX`] connections.
struct Server {
    /// Where it listens.
    addr: SocketAddr,
    /// Stops it and reads its statistics.
    handle: peregrine_tests::ShutdownHandle,
    /// What `run` returned.
    done: mpsc::Receiver<io::Result<peregrine_tests::Stats>>,
    /// The keeper of the fixture, for the listener mode.
    _fixture: Option<TestServer>,
}

impl Server {
    /// Starts the server in `mode`.
    fn start(mode: Mode) -> Server {
        match mode {
            Mode::Listener => {
                let options = Options {
                    workers: 1,
                    max_connections: MAX,
                    ..Options::default()
                };
                let fixture = TestServer::start_with(Backend::Epoll, options, Hello::new());
                let (_, done) = mpsc::channel();
                Server {
                    addr: fixture.addr(),
                    handle: fixture.handle(),
                    done,
                    _fixture: Some(fixture),
                }
            }
            Mode::AcceptThread => {
                let server = peregrine_epoll::Server::bind("127.0.0.1:0")
                    .expect("bind")
                    .workers(1)
                    .accept_threads(1)
                    .max_connections(MAX)
                    .handle_signals(false);
                let (addr, handle) = (server.local_addr(), server.shutdown_handle());
                let (tx, done) = mpsc::channel();
                std::thread::spawn(move || {
                    let _ = tx.send(server.run(Hello::new()));
                });
                Server {
                    addr,
                    handle,
                    done,
                    _fixture: None,
                }
            }
        }
    }

    /// Stops the server (at most [`STOP_TIMEOUT`]) and returns its
    /// statistics.
    fn stop(self) -> peregrine_tests::Stats {
        match self._fixture {
            Some(fixture) => fixture.stop(),
            None => {
                self.handle.shutdown();
                self.done
                    .recv_timeout(STOP_TIMEOUT)
                    .expect("the server did not stop")
                    .expect("the server failed")
            }
        }
    }
}

/// Connects and completes one request: the connection is then idle.
#[track_caller]
fn idle_client(addr: SocketAddr) -> Client {
    let mut client = Client::connect(addr);
    client.send(&get("/"));
    assert_eq!(client.response().body, b"Hello, World!");
    client
}

/// Connects and sends half a request head: the connection is busy.
fn busy_client(addr: SocketAddr) -> Client {
    let mut client = Client::connect(addr);
    client.send(b"GET / HTTP/1.1\r\nHost: t");
    client
}

/// Completes the head [`busy_client`] began, and reads the answer.
#[track_caller]
fn finish_request(client: &mut Client) {
    client.send(b"est\r\n\r\n");
    assert_eq!(client.response().body, b"Hello, World!");
}

/// Asserts a client still has its connection: a request is answered.
#[track_caller]
fn assert_open(client: &mut Client) {
    client.send(&get("/"));
    assert_eq!(client.response().body, b"Hello, World!");
}

/// Serves a new connection and reads its answer, promptly.
#[track_caller]
fn new_client_is_served(addr: SocketAddr) -> Client {
    let started = Instant::now();
    let client = idle_client(addr);
    assert!(
        started.elapsed() < IO_TIMEOUT / 2,
        "the new connection waited {:?}",
        started.elapsed()
    );
    client
}

fn the_oldest_idle_connection_makes_room(mode: Mode) {
    let server = Server::start(mode);
    let addr = server.addr;
    let mut clients: Vec<Client> = (0..MAX).map(|_| idle_client(addr)).collect();
    // Idle again after a second request: no longer the oldest.
    assert_open(&mut clients[0]);

    let mut newcomer = new_client_is_served(addr);
    assert!(
        clients[1].is_closed_within(IO_TIMEOUT),
        "the connection idle longest is still open"
    );
    for client in [0, 2, 3] {
        assert_open(&mut clients[client]);
    }
    assert_open(&mut newcomer);
    let stats = server.stop();
    assert_eq!(stats.idle_evicted, 1, "{stats:?}");
    assert_eq!(stats.connections_accepted, MAX as u64 + 1, "{stats:?}");
}

fn a_connection_mid_request_is_never_closed(mode: Mode) {
    let server = Server::start(mode);
    let addr = server.addr;
    // The oldest connection is busy: half a head.
    let mut busy = busy_client(addr);
    let mut idle: Vec<Client> = (1..MAX).map(|_| idle_client(addr)).collect();

    let mut newcomer = new_client_is_served(addr);
    // The oldest idle one made room, not the busy one.
    assert!(idle[0].is_closed_within(IO_TIMEOUT));
    finish_request(&mut busy);
    assert_open(&mut busy);
    assert_open(&mut idle[1]);
    assert_open(&mut idle[2]);
    assert_open(&mut newcomer);
    let stats = server.stop();
    assert_eq!(stats.idle_evicted, 1, "{stats:?}");
}

fn with_none_idle_a_new_connection_waits_for_one(mode: Mode) {
    let server = Server::start(mode);
    let addr = server.addr;
    let mut busy: Vec<Client> = (0..MAX).map(|_| busy_client(addr)).collect();
    // Every connection is mid-request: the newcomer waits (in the listen
    // backlog, or the accept thread's queue).
    let mut newcomer = Client::connect(addr);
    newcomer.send(&get("/"));
    // The third finishes its request and so becomes idle: it makes room,
    // after its answer went out whole.
    finish_request(&mut busy[2]);
    assert_eq!(newcomer.response().body, b"Hello, World!");
    assert!(busy[2].is_closed_within(IO_TIMEOUT));
    for client in [0, 1, 3] {
        finish_request(&mut busy[client]);
    }
    assert_open(&mut newcomer);
    let stats = server.stop();
    assert_eq!(stats.idle_evicted, 1, "{stats:?}");
}

/// Every test, in both modes.
macro_rules! both_modes {
    ($($name:ident),*) => {
        mod listener {
            $(#[test]
            fn $name() {
                super::$name(super::Mode::Listener)
            })*
        }
        mod accept_thread {
            $(#[test]
            fn $name() {
                super::$name(super::Mode::AcceptThread)
            })*
        }
    };
}

both_modes!(
    the_oldest_idle_connection_makes_room,
    a_connection_mid_request_is_never_closed,
    with_none_idle_a_new_connection_waits_for_one
);

/// With no connection idle, the one silent longest since its accept makes
/// room, once it has been silent a tenth of the header timeout (before,
/// the newcomer waited for the silent ones' header timeout).
#[test]
fn with_none_idle_the_connection_silent_longest_makes_room() {
    let header_timeout = std::time::Duration::from_millis(2_000);
    let options = Options {
        workers: 1,
        max_connections: MAX,
        config: peregrine_core::Config {
            header_timeout: header_timeout.as_millis() as u64,
            ..peregrine_core::Config::DEFAULT
        },
        ..Options::default()
    };
    let server = TestServer::start_with(Backend::Epoll, options, Hello::new());
    let started = Instant::now();
    let mut silent: Vec<Client> = (0..MAX).map(|_| Client::connect(server.addr())).collect();
    let mut newcomer = Client::connect(server.addr());
    newcomer.send(&get("/"));
    assert_eq!(newcomer.response().body, b"Hello, World!");
    let waited = started.elapsed();
    // The worker's clock is the kernel's coarse one, read once per
    // wake-up: its tick (1 to 10 ms) can put the silence the worker
    // measures up to a tick ahead of the one this test measures.
    let clock_slack = std::time::Duration::from_millis(10);
    assert!(
        waited + clock_slack >= header_timeout / 10,
        "answered after {waited:?}"
    );
    assert!(waited < header_timeout * 3 / 4, "answered after {waited:?}");
    // The first to connect made room; the others still have their slot.
    assert!(silent[0].is_closed_within(IO_TIMEOUT));
    silent[1].send(&get("/"));
    assert_eq!(silent[1].response().body, b"Hello, World!");
    assert_open(&mut newcomer);
    let stats = server.stop();
    assert_eq!(stats.idle_evicted, 1, "{stats:?}");
}
