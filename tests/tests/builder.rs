//! The servers' builders: handles taken before the builder calls that
//! size the server (workers, model, mailbox capacity) still reach the
//! server that runs, binding refuses a port that another server or
//! program already serves, while one server's own listeners share theirs,
//! and the settings every backend shares, set through `ServerBuilder` in
//! generic code, take effect on the portable backend as on epoll.
#![cfg(unix)]

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use peregrine_core::ws::{Handshake, Message};
use peregrine_core::{Capacity, ConnectionId, Fill, H2c, Request, Response, Upgrade, WebSocket};
use peregrine_driver::{PostError, ServerBuilder};
use peregrine_examples::hello::Hello;
use peregrine_tests::{Client, Config, Handler, Model, Stats, get};

/// How long a server gets to stop once asked, and a message to arrive.
const BOUND: Duration = Duration::from_secs(10);

/// A readiness-backend server with the tests' buffer sizes.
#[cfg(any(target_os = "linux", target_os = "android"))]
type ReactorServer = peregrine_driver::Server<peregrine_epoll::Epoll, Capacity<16384, 16384, 32>>;
/// A readiness-backend server with the tests' buffer sizes.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
type ReactorServer = peregrine_driver::Server<peregrine_kqueue::Kqueue, Capacity<16384, 16384, 32>>;

/// A server running on a thread of its own; `run`'s result arrives on
/// `done`.
struct Running {
    /// Where it listens.
    addr: SocketAddr,
    /// What `run` returned.
    done: mpsc::Receiver<io::Result<Stats>>,
    /// Stops it if the test fails before it could: a handle taken after
    /// every builder call, which works with or without the fix under test.
    fallback: peregrine_tests::ShutdownHandle,
}

impl Running {
    /// Runs `run` on a thread.
    fn spawn(
        addr: SocketAddr,
        fallback: peregrine_tests::ShutdownHandle,
        run: impl FnOnce() -> io::Result<Stats> + Send + 'static,
    ) -> Running {
        let (tx, done) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(run());
        });
        Running {
            addr,
            done,
            fallback,
        }
    }

    /// Waits (at most [`BOUND`]) for `run` to return after a shutdown the
    /// test began; its statistics.
    #[track_caller]
    fn stopped(&self, what: &str) -> Stats {
        match self.done.recv_timeout(BOUND) {
            Ok(result) => result.expect("the server failed"),
            Err(_) => panic!("{what}: the server did not stop within {BOUND:?}"),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.fallback.shutdown();
        let _ = self.done.recv_timeout(BOUND);
    }
}

/// Serves `GET /` on a new connection to `addr`, and checks the answer.
#[track_caller]
fn serves(addr: SocketAddr) {
    let mut client = Client::connect(addr);
    client.send(&get("/"));
    assert_eq!(client.response().body, b"Hello, World!");
}

#[test]
fn a_reactor_shutdown_handle_taken_before_workers_stops_the_server() {
    let server = ReactorServer::bind("127.0.0.1:0").expect("bind");
    let early = server.shutdown_handle();
    let server = server
        .workers(2)
        .mailbox_capacity(64 * 1024)
        .handle_signals(false);
    let running = Running::spawn(server.local_addr(), server.shutdown_handle(), move || {
        server.run(Hello::new())
    });
    serves(running.addr);
    serves(running.addr);
    early.shutdown();
    let stats = running.stopped("shut down through the handle taken first");
    assert_eq!(stats.requests, 2, "{stats:?}");
    // The early handle reads the same statistics.
    assert_eq!(early.stats().requests, 2);
}

#[test]
fn a_std_shutdown_handle_taken_before_workers_and_model_stops_the_server() {
    for model in [
        Model::Pool,
        Model::PerConnection { max_threads: 3 },
        Model::Single,
    ] {
        let server = peregrine_std::Server::bind("127.0.0.1:0").expect("bind");
        let early = server.shutdown_handle();
        let server = server.workers(2).model(model).handle_signals(false);
        let running = Running::spawn(server.local_addr(), server.shutdown_handle(), move || {
            server.run(Hello::new())
        });
        serves(running.addr);
        early.shutdown();
        let stats = running.stopped(&format!("{model:?}"));
        assert_eq!(stats.requests, 1, "{model:?}: {stats:?}");
        assert_eq!(early.stats().requests, 1, "{model:?}");
    }
}

#[test]
fn a_shutdown_asked_before_run_stops_the_server_once_started() {
    let server = ReactorServer::bind("127.0.0.1:0").expect("bind");
    let early = server.shutdown_handle();
    let server = server.workers(2).handle_signals(false);
    early.shutdown();
    let running = Running::spawn(server.local_addr(), server.shutdown_handle(), move || {
        server.run(Hello::new())
    });
    running.stopped("shut down before run");
}

/// Accepts WebSockets on `/ws`, tells the test each one's id as it opens;
/// streams `GET /park` from what the test allows: `fill_body` answers
/// `Fill::Pending` until `released` is set.
struct Parked {
    /// Told each WebSocket's id, and each parked request's.
    opened: Mutex<mpsc::Sender<ConnectionId>>,
    /// Whether a parked body may be sent.
    released: Arc<AtomicBool>,
}

impl Handler for Parked {
    fn handle(&self, _: &Request<'_>, response: &mut Response<'_>) {
        response.stream(Some(5));
        let _ = self.opened.lock().unwrap().send(response.id());
    }

    fn fill_body(&self, _: &mut u64, buf: &mut [u8], _: &mut ()) -> Fill {
        if !self.released.load(SeqCst) {
            return Fill::Pending;
        }
        buf[..5].copy_from_slice(b"woken");
        Fill::Done(5)
    }

    fn websocket(&self, request: &Request<'_>, _: &Handshake<'_>) -> Upgrade {
        if request.path() == b"/ws" {
            Upgrade::Accept {
                protocol: None,
                tag: 0,
                compress: true,
            }
        } else {
            Upgrade::Decline
        }
    }

    fn on_open(&self, socket: &mut WebSocket<'_>) {
        let _ = self.opened.lock().unwrap().send(socket.id());
    }
}

#[test]
fn a_sender_taken_before_workers_reaches_the_connections() {
    let (opened_tx, opened) = mpsc::channel();
    let released = Arc::new(AtomicBool::new(false));
    let server = ReactorServer::bind("127.0.0.1:0").expect("bind");
    let early = server.sender();
    let server = server
        .workers(2)
        .mailbox_capacity(64 * 1024)
        .handle_signals(false);
    let handler = Parked {
        opened: Mutex::new(opened_tx),
        released: Arc::clone(&released),
    };
    let running = Running::spawn(server.local_addr(), server.shutdown_handle(), move || {
        server.run(handler)
    });
    reaches_the_connections(running.addr, &early, &opened, &released);
}

#[test]
fn a_std_sender_taken_before_workers_and_model_reaches_the_connections() {
    for model in [
        Model::Pool,
        Model::PerConnection { max_threads: 3 },
        Model::Single,
    ] {
        let (opened_tx, opened) = mpsc::channel();
        let released = Arc::new(AtomicBool::new(false));
        let server = peregrine_std::Server::bind("127.0.0.1:0").expect("bind");
        let early = server.sender();
        let server = server
            .workers(2)
            .model(model)
            .mailbox_capacity(64 * 1024)
            .handle_signals(false);
        let handler = Parked {
            opened: Mutex::new(opened_tx),
            released: Arc::clone(&released),
        };
        let running = Running::spawn(server.local_addr(), server.shutdown_handle(), move || {
            server.run(handler)
        });
        reaches_the_connections(running.addr, &early, &opened, &released);
        running.fallback.shutdown();
        let stats = running.stopped(&format!("{model:?}"));
        assert_eq!(stats.messages_undelivered, 0, "{model:?}");
    }
}

/// Through `early`, a sender taken before the builder calls that size the
/// server at `addr` (serving [`Parked`], which reports ids on `opened`):
/// a message to one WebSocket and a broadcast arrive, and a wake-up
/// resumes a streamed body once `released`.
fn reaches_the_connections(
    addr: SocketAddr,
    early: &peregrine_driver::Sender,
    opened: &mpsc::Receiver<ConnectionId>,
    released: &AtomicBool,
) {
    // A message to one WebSocket, and a broadcast.
    let stream = std::net::TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(BOUND)).expect("timeout");
    let url = format!("ws://{}/ws", addr);
    let (mut ws, _) = tungstenite::client(url.as_str(), stream).expect("handshake");
    let id = opened.recv_timeout(BOUND).expect("the WebSocket opened");
    early
        .send(id, Message::Text("to you"))
        .expect("posted to its worker");
    early
        .broadcast(Message::Text("to all"))
        .expect("posted to every worker");
    for expected in ["to you", "to all"] {
        match ws.read().expect("the message, before the read timeout") {
            tungstenite::Message::Text(text) => assert_eq!(text.as_str(), expected),
            other => panic!("expected {expected:?}, got {other:?}"),
        }
    }
    // Closed, so that a server serving one connection at a time takes the
    // next.
    drop(ws);

    // A wake-up for a streamed body that waits for the application.
    let mut client = Client::connect(addr);
    client.send(&get("/park"));
    let id = opened.recv_timeout(BOUND).expect("the request was handled");
    released.store(true, SeqCst);
    early.wake(id).expect("posted to its worker");
    let response = client.response();
    assert_eq!(response.body, b"woken");
}

/// `bind`'s error kind for `addr`, on both builders.
fn bind_errors(addr: SocketAddr) -> [Option<io::ErrorKind>; 2] {
    [
        ReactorServer::bind(addr).err().map(|error| error.kind()),
        peregrine_std::Server::bind(addr)
            .err()
            .map(|error| error.kind()),
    ]
}

#[test]
fn a_port_another_server_serves_is_refused_and_its_owner_keeps_every_connection() {
    // Two workers: two listeners sharing the port in one group.
    let server = ReactorServer::bind("127.0.0.1:0")
        .expect("bind")
        .workers(2)
        .handle_signals(false);
    let addr = server.local_addr();
    let running = Running::spawn(addr, server.shutdown_handle(), move || {
        server.run(Hello::new())
    });
    serves(addr);
    let in_use = Some(io::ErrorKind::AddrInUse);
    assert_eq!(bind_errors(addr), [in_use, in_use]);
    // Nor can a plain listener take it.
    let plain = TcpListener::bind(addr).err().map(|error| error.kind());
    assert_eq!(plain, in_use);
    // Every connection still reaches the server that owns the port: none
    // waits in the backlog of a listener nobody accepts on.
    for _ in 0..32 {
        serves(addr);
    }
    running.fallback.shutdown();
    running.stopped("the first server");
}

#[test]
fn a_port_a_std_server_serves_is_refused() {
    let server = peregrine_std::Server::bind("127.0.0.1:0")
        .expect("bind")
        .workers(2)
        .handle_signals(false);
    let addr = server.local_addr();
    let running = Running::spawn(addr, server.shutdown_handle(), move || {
        server.run(Hello::new())
    });
    serves(addr);
    let in_use = Some(io::ErrorKind::AddrInUse);
    assert_eq!(bind_errors(addr), [in_use, in_use]);
    serves(addr);
    running.fallback.shutdown();
    running.stopped("the std server");
}

#[test]
fn a_port_a_plain_listener_holds_is_refused() {
    let in_use = Some(io::ErrorKind::AddrInUse);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    assert_eq!(bind_errors(addr), [in_use, in_use]);
    // Held on every address, it is in use on the loopback one too.
    let wildcard = TcpListener::bind("0.0.0.0:0").expect("bind");
    let port = wildcard.local_addr().expect("address").port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    assert_eq!(bind_errors(addr), [in_use, in_use]);
    // Once it is closed the port is free again.
    drop(listener);
    drop(wildcard);
    let server = ReactorServer::bind(addr).expect("the port is free again");
    drop(server);
}

#[test]
fn a_server_s_own_listeners_share_its_port_picked_by_the_system() {
    // Port 0: the first listener picks the port, the others join it.
    for (workers, accept_threads) in [(3, 0), (2, 2)] {
        let server = ReactorServer::bind("127.0.0.1:0")
            .expect("bind")
            .workers(workers)
            .accept_threads(accept_threads)
            .handle_signals(false);
        let addr = server.local_addr();
        assert_ne!(addr.port(), 0);
        let running = Running::spawn(addr, server.shutdown_handle(), move || {
            server.run(Hello::new())
        });
        for _ in 0..24 {
            serves(addr);
        }
        running.fallback.shutdown();
        let stats = running.stopped("the server");
        assert_eq!(
            stats.requests, 24,
            "{workers} workers, {accept_threads} accept threads"
        );
    }
}

/// The portable backend's models, each of which takes every shared
/// setting but `workers` (which sizes [`Model::Pool`] only).
const MODELS: [Model; 3] = [
    Model::Pool,
    Model::PerConnection { max_threads: 3 },
    Model::Single,
];

/// Runs `$check(server, what)` on a readiness-backend server and on a
/// portable one in each model, all bound to a free port of 127.0.0.1.
macro_rules! on_every_builder {
    ($check:ident) => {{
        $check(ReactorServer::bind("127.0.0.1:0").expect("bind"), "epoll");
        for model in MODELS {
            let server = peregrine_std::Server::bind("127.0.0.1:0").expect("bind");
            $check(server.model(model), &format!("std {model:?}"));
        }
    }};
}

/// Runs `server`, whatever its backend, on a thread; signals are left to
/// the test process.
fn spawn<S, H, L>(server: S, handler: H) -> Running
where
    S: ServerBuilder + Send + 'static,
    H: Handler<L> + Send + 'static,
    L: Default,
{
    let server = server.handle_signals(false);
    Running::spawn(server.local_addr(), server.shutdown_handle(), move || {
        server.run(handler)
    })
}

/// A header timeout of 300 ms set through the trait: a client that sends
/// half a head is answered `408` after about that, not after the default
/// 10 s.
fn header_timeout_takes_effect<S: ServerBuilder + Send + 'static>(server: S, what: &str) {
    let config = Config {
        header_timeout: 300,
        ..Config::DEFAULT
    };
    let running = spawn(server.config(config), Hello::new());
    let mut client = Client::connect(running.addr);
    let began = Instant::now();
    client.send(b"GET / HTTP/1.1\r\nHost: x\r\n");
    let response = client.response();
    let waited = began.elapsed();
    assert_eq!(response.status, 408, "{what}: {response:?}");
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(5),
        "{what}: answered after {waited:?}"
    );
}

#[test]
fn a_config_set_through_the_trait_times_out_heads_on_every_backend() {
    on_every_builder!(header_timeout_takes_effect);
}

/// A grace period of 400 ms set through the trait: a request whose body
/// waits for the application forever keeps the server for about that
/// once shutdown begins, not for the default 10 s, and not less.
fn grace_period_takes_effect<S: ServerBuilder + Send + 'static>(server: S, what: &str) {
    let (opened_tx, opened) = mpsc::channel();
    let handler = Parked {
        opened: Mutex::new(opened_tx),
        released: Arc::new(AtomicBool::new(false)),
    };
    let running = spawn(server.grace_period(Duration::from_millis(400)), handler);
    let mut client = Client::connect(running.addr);
    client.send(&get("/park"));
    opened.recv_timeout(BOUND).expect("the request was handled");
    let began = Instant::now();
    running.fallback.shutdown();
    // Well short of the default 10 s, with room for a loaded machine.
    match running.done.recv_timeout(Duration::from_secs(5)) {
        Ok(result) => {
            result.expect("the server failed");
        }
        Err(_) => panic!("{what}: still running 5 s after shutdown began"),
    }
    let waited = began.elapsed();
    assert!(
        waited >= Duration::from_millis(300),
        "{what}: the request in flight got {waited:?}, not its grace period"
    );
}

#[test]
fn a_grace_period_set_through_the_trait_bounds_shutdown_on_every_backend() {
    on_every_builder!(grace_period_takes_effect);
}

/// HTTP/2 only, set through the trait: an HTTP/1.1 request is answered
/// `505`, and the client preface gets the server's SETTINGS frame.
fn h2c_takes_effect<S: ServerBuilder + Send + 'static>(server: S, what: &str) {
    let running = spawn(server.h2c(H2c::Only), Hello::new());
    let mut client = Client::connect(running.addr);
    client.send(&get("/"));
    let response = client.response();
    assert_eq!(response.status, 505, "{what}: {response:?}");
    drop(client);
    let mut stream = std::net::TcpStream::connect(running.addr).expect("connect");
    stream.set_read_timeout(Some(BOUND)).expect("timeout");
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .expect("preface");
    let mut frame_head = [0; 9];
    stream.read_exact(&mut frame_head).expect("a frame");
    assert_eq!(
        frame_head[3], 4,
        "{what}: not a SETTINGS frame: {frame_head:?}"
    );
}

#[test]
fn h2c_set_through_the_trait_serves_http2_on_every_backend() {
    on_every_builder!(h2c_takes_effect);
}

/// Answers with the name of the thread serving the request: a worker
/// (`peregrine-worker-N`), or a portable pool's thread (named alike).
struct Owner;

impl Handler for Owner {
    fn handle(&self, _: &Request<'_>, response: &mut Response<'_>) {
        let thread = std::thread::current();
        let _ = response.body(thread.name().unwrap_or("unnamed").as_bytes());
    }
}

/// The names of the threads of a server of three workers.
const THREE_WORKERS: [&str; 3] = [
    "peregrine-worker-0",
    "peregrine-worker-1",
    "peregrine-worker-2",
];

/// Three workers set through the trait: `held` connections open at once
/// (each with a request answered) are served by the threads of workers
/// 0, 1 and 2, and no other.
fn three_workers_serve<S: ServerBuilder + Send + 'static>(
    server: S,
    held: usize,
    what: &str,
) -> (Running, Vec<Client>) {
    let running = spawn(server.workers(3), Owner);
    let mut clients = Vec::with_capacity(held);
    let mut owners = std::collections::BTreeSet::new();
    for _ in 0..held {
        let mut client = Client::connect(running.addr);
        client.send(&get("/"));
        owners.insert(client.response().text());
        clients.push(client);
    }
    let expected: std::collections::BTreeSet<_> = THREE_WORKERS.map(String::from).into();
    assert_eq!(owners, expected, "{what}");
    (running, clients)
}

#[test]
fn workers_set_through_the_trait_are_the_readiness_backend_s_workers() {
    // Spread by the kernel over the workers' listeners: with 48
    // connections, each of three workers has some.
    let server = ReactorServer::bind("127.0.0.1:0").expect("bind");
    let (running, clients) = three_workers_serve(server, 48, "epoll");
    drop(clients);
    running.fallback.shutdown();
    running.stopped("epoll");
}

#[test]
fn workers_set_through_the_trait_are_the_std_pool_s_threads() {
    let server = peregrine_std::Server::bind("127.0.0.1:0")
        .expect("bind")
        .model(Model::Pool);
    // Each thread holds one of three connections...
    let (running, mut clients) = three_workers_serve(server, 3, "std pool");
    // ...so a fourth waits in the backlog...
    let mut fourth = Client::connect(running.addr);
    fourth.send(&get("/"));
    fourth
        .stream()
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    assert!(
        fourth.try_response(false).is_err(),
        "a fourth connection was served while three threads held theirs"
    );
    // ...until one of them leaves.
    fourth
        .stream()
        .set_read_timeout(Some(BOUND))
        .expect("timeout");
    clients.pop();
    let owner = fourth.response().text();
    assert!(THREE_WORKERS.contains(&owner.as_str()), "{owner}");
    drop(clients);
    running.fallback.shutdown();
    running.stopped("std pool");
}

/// A mailbox of 1 KiB set through the trait: a message to a WebSocket
/// that fits is delivered, one that does not is refused as too large
/// (the default mailbox, 256 KiB, would take it).
fn mailbox_capacity_takes_effect<S: ServerBuilder + Send + 'static>(server: S, what: &str) {
    let (opened_tx, opened) = mpsc::channel();
    let handler = Parked {
        opened: Mutex::new(opened_tx),
        released: Arc::new(AtomicBool::new(false)),
    };
    let server = server.mailbox_capacity(1024);
    let sender = server.sender();
    let running = spawn(server, handler);
    let stream = std::net::TcpStream::connect(running.addr).expect("connect");
    stream.set_read_timeout(Some(BOUND)).expect("timeout");
    let url = format!("ws://{}/ws", running.addr);
    let (mut ws, _) = tungstenite::client(url.as_str(), stream).expect("handshake");
    let id = opened.recv_timeout(BOUND).expect("the WebSocket opened");
    assert_eq!(
        sender.send(id, Message::Binary(&[7; 1500])),
        Err(PostError::TooLarge),
        "{what}"
    );
    sender
        .send(id, Message::Binary(&[7; 500]))
        .expect("posted to its thread");
    match ws.read().expect("the message, before the read timeout") {
        tungstenite::Message::Binary(bytes) => assert_eq!(bytes.len(), 500, "{what}"),
        other => panic!("{what}: expected 500 bytes, got {other:?}"),
    }
}

#[test]
fn a_mailbox_capacity_set_through_the_trait_bounds_messages_on_every_backend() {
    on_every_builder!(mailbox_capacity_takes_effect);
}
