//! A graceful shutdown answers the connections waiting in the listen
//! backlog: clients whose connections the kernel accepted, and whose
//! requests it holds, while every thread of the server was busy, get their
//! answers (with `Connection: close`) rather than a reset — and the
//! shutdown still ends within its grace period.
//!
//! The server has one thread serving connections, held by a request that
//! blocks in its handler until the test lets it go; the other clients
//! connect and send their requests meanwhile, then the shutdown begins and
//! the handler is released.

use std::io;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use peregrine_tests::{
    Backend, Blocking, BlockingControl, Client, Options, STOP_TIMEOUT, ShutdownHandle, Stats,
    TestServer, backend_tests, get,
};

backend_tests!(
    [answers_backlog] the_listen_backlog_is_answered,
    [answers_backlog] a_stalled_backlog_connection_does_not_outlast_the_grace_period,
    [answers_backlog] a_backlog_beyond_the_free_slots_is_answered
);

/// Clients waiting in the backlog.
const WAITING: usize = 8;

/// The grace period of the servers under test.
const GRACE: Duration = Duration::from_secs(2);

/// How much later than the grace period's end a server may stop (the
/// std backend looks up from its sockets every 100 ms; a loaded machine).
const SLACK: Duration = Duration::from_secs(3);

/// A server with one thread serving connections, running [`Blocking`].
struct Server {
    /// Where it listens.
    addr: SocketAddr,
    /// Stops it.
    handle: ShutdownHandle,
    /// Lets `/block` go.
    control: BlockingControl,
    /// How it runs.
    running: Running,
}

/// A server's run: the fixture's, or one started here.
enum Running {
    /// The test fixture.
    Fixture(TestServer),
    /// Started here: what `run` returned.
    Own(mpsc::Receiver<io::Result<Stats>>),
}

impl Server {
    /// One thread serving connections on `backend`.
    fn start(backend: Backend) -> Server {
        let (handler, control) = Blocking::new();
        let options = Options {
            workers: 1,
            threads: 1,
            grace: GRACE,
            ..Options::default()
        };
        let server = TestServer::start_with(backend, options, handler);
        Server {
            addr: server.addr(),
            handle: server.handle(),
            control,
            running: Running::Fixture(server),
        }
    }

    /// One epoll worker fed by an accept thread.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn start_with_accept_thread() -> Server {
        let (handler, control) = Blocking::new();
        let server = peregrine_epoll::Server::bind("127.0.0.1:0")
            .expect("bind")
            .workers(1)
            .accept_threads(1)
            .grace_period(GRACE)
            .handle_signals(false);
        let (addr, handle) = (server.local_addr(), server.shutdown_handle());
        let (tx, done) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(server.run(handler));
        });
        Server {
            addr,
            handle,
            control,
            running: Running::Own(done),
        }
    }

    /// Waits, at most `timeout`, for the server to stop (its shutdown
    /// begun).
    fn wait(self, timeout: Duration) -> Stats {
        match self.running {
            Running::Fixture(mut server) => server.wait(timeout),
            Running::Own(done) => done
                .recv_timeout(timeout)
                .unwrap_or_else(|_| panic!("the server did not stop within {timeout:?}"))
                .expect("the server failed"),
        }
    }
}

/// Holds the server's one thread with `/block`, then connects
/// [`WAITING`] clients that each send `request`: their connections wait in
/// the listen backlog (or an accept thread's hand-off queue).
fn hold_and_queue(server: &Server, request: &[u8]) -> (Client, Vec<Client>) {
    let mut first = Client::connect(server.addr);
    first.send(&get("/block"));
    server.control.wait_entered();
    let waiting = (0..WAITING)
        .map(|_| {
            let mut client = Client::connect(server.addr);
            client.send(request);
            client
        })
        .collect();
    (first, waiting)
}

/// Asserts a client got `Hello, World!` with `Connection: close`, then
/// the close; closes its side in turn (as a client does), which ends the
/// server's lingering on it.
#[track_caller]
fn assert_answered_and_closed(mut client: Client) {
    let response = client.response();
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.body, b"Hello, World!");
    assert!(response.has_connection_token("close"), "{response:?}");
    client.expect_closed();
}

fn the_listen_backlog_is_answered(backend: Backend) {
    backlog_is_answered(Server::start(backend));
}

/// Lets the held request go, then checks that it and every queued client
/// were answered.
fn release_and_answer_all(server: &Server, mut first: Client, waiting: Vec<Client>) {
    server.control.release();
    assert_eq!(first.response().body, b"released");
    drop(first);
    for client in waiting {
        assert_answered_and_closed(client);
    }
}

fn backlog_is_answered(server: Server) {
    let (first, waiting) = hold_and_queue(&server, &get("/"));
    server.handle.shutdown();
    let began = Instant::now();
    release_and_answer_all(&server, first, waiting);
    let stats = server.wait(STOP_TIMEOUT);
    assert!(
        began.elapsed() < GRACE,
        "stopping took {:?} with nothing left to wait for",
        began.elapsed()
    );
    assert_eq!(stats.connections_accepted, 1 + WAITING as u64, "{stats:?}");
    assert_eq!(stats.responses[1], 1 + WAITING as u64, "{stats:?}");
}

fn a_stalled_backlog_connection_does_not_outlast_the_grace_period(backend: Backend) {
    stalled_backlog(Server::start(backend));
}

fn stalled_backlog(server: Server) {
    let (first, waiting) = hold_and_queue(&server, &get("/"));
    // Last in the backlog: half a request that never completes.
    let mut stalled = Client::connect(server.addr);
    stalled.send(b"GET / HTTP/1.1\r\nHost: t");
    server.handle.shutdown();
    let began = Instant::now();
    release_and_answer_all(&server, first, waiting);
    server.wait(GRACE + SLACK);
    assert!(
        began.elapsed() < GRACE + SLACK,
        "stopping took {:?}",
        began.elapsed()
    );
    assert!(
        stalled.is_closed_within(SLACK),
        "the stalled client is open"
    );
}

/// Connections the server holds at once in
/// [`a_backlog_beyond_the_free_slots_is_answered`].
const SLOTS: usize = 2;

/// Every slot is held by a partial request head (nothing a full server
/// may close to make room) when the shutdown begins, with more clients
/// than slots waiting in the backlog: they are all answered as the slots
/// free, none reset with the listener.
fn a_backlog_beyond_the_free_slots_is_answered(backend: Backend) {
    let options = Options {
        workers: 1,
        threads: SLOTS,
        max_connections: SLOTS,
        grace: GRACE,
        ..Options::default()
    };
    let server = TestServer::start_with(backend, options, peregrine_examples::hello::Hello::new());
    let holders: Vec<Client> = (0..SLOTS)
        .map(|_| {
            let mut client = server.connect();
            client.send(b"GET / HTTP/1.1\r\nHost: t\r\n");
            client
        })
        .collect();
    let waiting: Vec<Client> = (0..WAITING)
        .map(|_| {
            let mut client = server.connect();
            client.send(&get("/"));
            client
        })
        .collect();
    server.handle().shutdown();
    for mut holder in holders {
        // Its request completes after the signal: a thread blocked in
        // its read (the portable backend's per-connection model, with no
        // alarm to wake it) may answer it before it looks at the
        // shutdown, so the answer may not say `close`; the connection is
        // closed all the same, which is what frees the slot.
        holder.send(b"\r\n");
        let response = holder.response();
        assert_eq!(response.status, 200, "{response:?}");
        assert_eq!(response.body, b"Hello, World!");
        holder.expect_closed();
    }
    for client in waiting {
        assert_answered_and_closed(client);
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod epoll_accept_thread {
    use super::{Server, backlog_is_answered, stalled_backlog};

    #[test]
    fn the_listen_backlog_is_answered() {
        backlog_is_answered(Server::start_with_accept_thread());
    }

    #[test]
    fn a_stalled_backlog_connection_does_not_outlast_the_grace_period() {
        stalled_backlog(Server::start_with_accept_thread());
    }
}
