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

/// An HTTP/2 request that reached its connection's socket before the
/// shutdown began, while the worker was busy, is taken and answered: the
/// GOAWAY names its stream as the last one taken, rather than refusing it
/// unread. The client speaks raw frames, so that its request is in the
/// server's socket (not in a client library's queue) when the shutdown
/// begins.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn an_http2_request_in_the_socket_at_shutdown_is_answered() {
    use std::io::{Read, Write};

    /// The client's connection preface and an empty SETTINGS frame.
    const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0";
    /// HEADERS on stream 1, END_STREAM | END_HEADERS: `GET /` over `http`
    /// (static table entries 2, 6 and 4), `:authority: t`.
    const GET: &[u8] = b"\0\0\x06\x01\x05\0\0\0\x01\x82\x86\x84\x41\x01t";
    const HEADERS: u8 = 1;
    const DATA: u8 = 0;
    const GOAWAY: u8 = 7;

    let (handler, control) = Blocking::new();
    let options = Options {
        workers: 1,
        grace: GRACE,
        ..Options::default()
    }
    .with_h2c();
    let mut server = TestServer::start_with(Backend::Epoll, options, handler);
    let mut h2 = std::net::TcpStream::connect(server.addr()).expect("connect");
    h2.set_read_timeout(Some(peregrine_tests::IO_TIMEOUT))
        .expect("read timeout");
    h2.write_all(PREFACE).expect("preface");
    // The server's SETTINGS: it has read the preface and speaks HTTP/2.
    let mut frames = Vec::new();
    let next_frame = |h2: &mut std::net::TcpStream, frames: &mut Vec<u8>| {
        loop {
            if frames.len() >= 9 {
                let len = usize::from(frames[0]) << 16
                    | usize::from(frames[1]) << 8
                    | usize::from(frames[2]);
                if frames.len() >= 9 + len {
                    let frame: Vec<u8> = frames.drain(..9 + len).collect();
                    return Some(frame);
                }
            }
            let mut chunk = [0; 4096];
            match h2.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => frames.extend_from_slice(&chunk[..n]),
            }
        }
    };
    let settings = next_frame(&mut h2, &mut frames).expect("the server's SETTINGS");
    assert_eq!(settings[3], 4, "{settings:?}");

    let mut first = Client::connect(server.addr());
    first.send(&get("/block"));
    control.wait_entered();
    h2.write_all(GET).expect("HEADERS");
    server.handle().shutdown();
    control.release();
    assert_eq!(first.response().body, b"released");

    let (mut answered, mut body, mut last_stream) = (false, Vec::new(), None);
    while let Some(frame) = next_frame(&mut h2, &mut frames) {
        let stream = u32::from_be_bytes([frame[5], frame[6], frame[7], frame[8]]);
        match frame[3] {
            HEADERS if stream == 1 => answered = true,
            DATA if stream == 1 => body.extend_from_slice(&frame[9..]),
            GOAWAY => {
                last_stream = Some(u32::from_be_bytes([
                    frame[9], frame[10], frame[11], frame[12],
                ]));
                break;
            }
            _ => {}
        }
    }
    assert_eq!(last_stream, Some(1), "the GOAWAY's last stream");
    assert!(answered, "no response head on stream 1");
    assert_eq!(body, b"Hello, World!");
    drop(h2);
    let began = Instant::now();
    let stats = server.wait(STOP_TIMEOUT);
    assert!(
        began.elapsed() < GRACE,
        "stopping took {:?}",
        began.elapsed()
    );
    assert_eq!(stats.requests, 2, "{stats:?}");
}
