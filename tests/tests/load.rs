//! The server under load and under abuse: thousands of concurrent
//! connections, a huge response to a slow reader, slowloris clients, and a
//! graceful shutdown with hundreds of responses in flight.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use peregrine_core::{Fill, Handler, Request, Response};
use peregrine_examples::hello::Hello;
use peregrine_tests::{
    Backend, Blocking, Client, Config, LargeBytes, Options, TestServer, backend_tests, get,
    post_echo,
};

backend_tests!(
    [concurrent] two_thousand_concurrent_connections,
    huge_response_to_a_slow_reader,
    [concurrent] slowloris_gets_408_while_others_are_served,
    stalled_body_gets_408,
    [concurrent] reader_that_stops_is_dropped_after_the_write_timeout,
    [concurrent] graceful_shutdown_completes_requests_in_flight,
    [multiplexed] graceful_shutdown_answers_requests_not_yet_read,
);

/// A ureq agent that returns 4xx/5xx as responses, with a deadline.
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

/// Client threads × connections each, and requests per connection.
const THREADS: usize = 8;
const PER_THREAD: usize = 250;
const ROUNDS: usize = 3;

fn two_thousand_concurrent_connections(backend: Backend) {
    // Client and server sockets both live in this process.
    let wanted = (2 * THREADS * PER_THREAD + 512) as u64;
    let limit = peregrine_tests::raise_fd_limit(wanted);
    assert!(
        limit >= wanted,
        "RLIMIT_NOFILE is {limit}; this test needs {wanted} descriptors"
    );
    let options = Options {
        max_connections: 4096,
        threads: THREADS * PER_THREAD + 16,
        ..Options::default()
    };
    let server = TestServer::start_with(backend, options, Hello::new());
    let addr = server.addr();
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            std::thread::spawn(move || {
                let mut clients: Vec<Client> =
                    (0..PER_THREAD).map(|_| Client::connect(addr)).collect();
                for round in 0..ROUNDS {
                    // Every connection has a request in flight at once...
                    for (c, client) in clients.iter_mut().enumerate() {
                        if (c + round) % 2 == 0 {
                            client.send(&post_echo(format!("{t}/{c}/{round}").as_bytes()));
                        } else {
                            client.send(&get(&format!("/bytes/{}", c + round)));
                        }
                    }
                    // ...then each answer is read and checked.
                    for (c, client) in clients.iter_mut().enumerate() {
                        let response = client.response();
                        assert_eq!(response.status, 200, "{t}/{c}/{round}: {response:?}");
                        if (c + round) % 2 == 0 {
                            assert_eq!(response.text(), format!("{t}/{c}/{round}"));
                        } else {
                            assert_eq!(response.body, peregrine_tests::pattern((c + round) as u64));
                        }
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("a client thread failed");
    }
    let stats = server.stop();
    assert_eq!(stats.connections_accepted, (THREADS * PER_THREAD) as u64);
    assert_eq!(stats.requests, (THREADS * PER_THREAD * ROUNDS) as u64);
    assert_eq!(stats.responses[1], (THREADS * PER_THREAD * ROUNDS) as u64);
}

fn huge_response_to_a_slow_reader(backend: Backend) {
    const TOTAL: u64 = 100 * 1024 * 1024;
    const PIECE: usize = 64 * 1024;
    let server = TestServer::start(backend, LargeBytes);
    let mut client = server.connect();
    client.send(&get(&format!("/bytes/{TOTAL}")));
    let head = client.response_head();
    assert_eq!(head.status, 200, "{head:?}");
    assert_eq!(head.content_length(), Some(TOTAL));
    let mut piece = vec![0; PIECE];
    let mut offset = 0u64;
    let started = Instant::now();
    while offset < TOTAL {
        let n = client.read(&mut piece).expect("read the body");
        assert!(n > 0, "closed after {offset} of {TOTAL} bytes");
        assert!(offset + n as u64 <= TOTAL, "more than {TOTAL} bytes");
        assert!(
            piece[..n] == *peregrine_tests::pattern_at(TOTAL, offset, n),
            "wrong bytes in {offset}..{}",
            offset + n as u64
        );
        offset += n as u64;
        // The slow reader: the server must wait for it, not buffer ahead.
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(started.elapsed() < Duration::from_secs(60));
    // The connection is still good afterwards.
    client.send(&get("/"));
    assert_eq!(client.response().body, b"Hello, World!");
}

fn slowloris_gets_408_while_others_are_served(backend: Backend) {
    let options = Options {
        // One worker: the slow clients and the good one share it.
        workers: 1,
        config: Config {
            header_timeout: 500,
            ..Config::DEFAULT
        },
        ..Options::default()
    };
    let server = TestServer::start_with(backend, options, Hello::new());
    let addr = server.addr();
    let (done_tx, done) = mpsc::channel();

    // Sends part of a head, then nothing.
    let silent = {
        let done_tx = done_tx.clone();
        std::thread::spawn(move || {
            let mut client = Client::connect(addr);
            let started = Instant::now();
            client.send(b"GET / HTTP/1.1\r\nHost: t\r\n");
            let response = client.response();
            let elapsed = started.elapsed();
            client.expect_closed();
            let _ = done_tx.send(());
            (response, elapsed)
        })
    };
    // Keeps sending a header one byte at a time, never ending it.
    let trickle = std::thread::spawn(move || {
        let mut client = Client::connect(addr);
        let started = Instant::now();
        client.send(b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: ");
        let mut writer = client.stream().try_clone().expect("clone");
        let (stop_tx, stop) = mpsc::channel::<()>();
        let writer = std::thread::spawn(move || {
            // One byte every 50 ms until told to stop or the server closes;
            // at most 5 s.
            for _ in 0..100 {
                if stop.recv_timeout(Duration::from_millis(50)).is_ok() {
                    return;
                }
                if writer.write_all(b"a").is_err() {
                    return;
                }
            }
        });
        let response = client.response();
        let elapsed = started.elapsed();
        let _ = stop_tx.send(());
        writer.join().expect("writer");
        let _ = done_tx.send(());
        (response, elapsed)
    });

    // Meanwhile a well-behaved client is served, on the same worker.
    let agent = agent();
    let mut served = 0;
    let mut finished = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    while finished < 2 {
        assert!(Instant::now() < deadline, "the slow clients never got 408");
        let mut response = agent.get(server.url("/")).call().expect("GET /");
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.body_mut().read_to_string().unwrap(),
            "Hello, World!"
        );
        served += 1;
        while done.try_recv().is_ok() {
            finished += 1;
        }
    }
    assert!(served > 0);

    for (name, thread) in [("silent", silent), ("trickle", trickle)] {
        let (response, elapsed) = thread.join().expect(name);
        assert_eq!(response.status, 408, "{name}: {response:?}");
        assert!(
            response.has_connection_token("close"),
            "{name}: {response:?}"
        );
        assert!(
            elapsed >= Duration::from_millis(490) && elapsed < Duration::from_secs(5),
            "{name}: 408 after {elapsed:?}, header timeout 500 ms"
        );
    }
    let stats = server.stop();
    assert_eq!(stats.timeouts, 2, "{stats:?}");
}

fn stalled_body_gets_408(backend: Backend) {
    let options = Options {
        config: Config {
            body_timeout: 300,
            ..Config::DEFAULT
        },
        ..Options::default()
    };
    let server = TestServer::start_with(backend, options, Hello::new());
    let mut client = server.connect();
    let started = Instant::now();
    client.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
    let response = client.response();
    let elapsed = started.elapsed();
    assert_eq!(response.status, 408, "{response:?}");
    assert!(response.has_connection_token("close"));
    assert!(
        elapsed >= Duration::from_millis(290) && elapsed < Duration::from_secs(5),
        "408 after {elapsed:?}, body timeout 300 ms"
    );
    client.expect_closed();
    drop(client);
    assert_eq!(server.stop().timeouts, 1);
}

fn reader_that_stops_is_dropped_after_the_write_timeout(backend: Backend) {
    const TOTAL: u64 = 100 * 1024 * 1024;
    let options = Options {
        config: Config {
            write_timeout: 200,
            ..Config::DEFAULT
        },
        ..Options::default()
    };
    let server = TestServer::start_with(backend, options, LargeBytes);
    let mut client = server.connect();
    client.send(&get(&format!("/bytes/{TOTAL}")));
    assert_eq!(client.response_head().status, 200);
    // The client stops reading for five write timeouts (the behaviour
    // under test, not a synchronisation); others are served meanwhile.
    let stalled = Instant::now();
    let mut other = server.connect();
    other.send(&get("/"));
    assert_eq!(other.response().body, b"Hello, World!");
    std::thread::sleep(Duration::from_secs(1).saturating_sub(stalled.elapsed()));
    // What the sockets had buffered arrives, then the end.
    let mut received = 0u64;
    let mut piece = vec![0; 64 * 1024];
    loop {
        match client.read(&mut piece) {
            Ok(0) => break,
            Ok(n) => {
                assert!(piece[..n] == *peregrine_tests::pattern_at(TOTAL, received, n));
                received += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("read: {e}"),
        }
    }
    assert!(received < TOTAL, "the whole body arrived: no timeout");
    drop((client, other));
    assert_eq!(server.stop().timeouts, 1);
}

/// [`Hello`] whose streamed bodies wait for a gate: until it opens,
/// `fill_body` has nothing to give (as a handler relaying a slow source
/// would), so the responses stay in flight however much the sockets
/// buffer.
struct GatedBodies {
    /// Bodies may be produced.
    open: Arc<AtomicBool>,
    /// Bodies whose last byte was produced.
    finished: Arc<AtomicUsize>,
}

impl Handler for GatedBodies {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
        Hello::new().handle(request, response);
    }

    fn fill_body(&self, remaining: &mut u64, buf: &mut [u8], local: &mut ()) -> Fill {
        if !self.open.load(Ordering::SeqCst) {
            return Fill::More(0);
        }
        let fill = Hello::new().fill_body(remaining, buf, local);
        if let Fill::Done(_) = fill {
            self.finished.fetch_add(1, Ordering::SeqCst);
        }
        fill
    }
}

fn graceful_shutdown_completes_requests_in_flight(backend: Backend) {
    const CONNECTIONS: usize = 200;
    const BODY: u64 = 256 * 1024;
    let options = Options {
        grace: Duration::from_secs(30),
        threads: CONNECTIONS + 16,
        ..Options::default()
    };
    let open = Arc::new(AtomicBool::new(false));
    let finished = Arc::new(AtomicUsize::new(0));
    let handler = GatedBodies {
        open: Arc::clone(&open),
        finished: Arc::clone(&finished),
    };
    let mut server = TestServer::start_with(backend, options, handler);
    let mut clients: Vec<Client> = (0..CONNECTIONS).map(|_| server.connect()).collect();
    for (i, client) in clients.iter_mut().enumerate() {
        client.send(&get(&format!("/bytes/{}", BODY + i as u64)));
    }
    // Every response has begun (its head is here) and none has a byte of
    // its body yet.
    for client in &mut clients {
        let head = client.response_head();
        assert_eq!(head.status, 200, "{head:?}");
        assert!(!head.has_connection_token("close"));
        assert!(client.buffered().is_empty());
    }
    server.handle().shutdown();
    assert_eq!(finished.load(Ordering::SeqCst), 0);
    open.store(true, Ordering::SeqCst);
    let mut piece = vec![0; 64 * 1024];
    for (i, client) in clients.iter_mut().enumerate() {
        let total = BODY + i as u64;
        let mut offset = 0;
        while offset < total {
            let n = client.read(&mut piece).expect("read the body");
            assert!(
                n > 0,
                "connection {i} closed after {offset} of {total} bytes"
            );
            assert!(offset + n as u64 <= total);
            assert!(
                piece[..n] == *peregrine_tests::pattern_at(total, offset, n),
                "connection {i}"
            );
            offset += n as u64;
        }
        // Then the server closes it.
        client.expect_closed();
    }
    // The server lingers on each connection until its peer closes too.
    drop(clients);
    let stats = server.wait(Duration::from_secs(5));
    assert_eq!(finished.load(Ordering::SeqCst), CONNECTIONS);
    assert_eq!(stats.requests, CONNECTIONS as u64, "{stats:?}");
    assert_eq!(stats.responses[1], CONNECTIONS as u64, "{stats:?}");
    // Nobody listens any more.
    assert!(TcpStream::connect(server.addr()).is_err());
}

fn graceful_shutdown_answers_requests_not_yet_read(backend: Backend) {
    let (handler, control) = Blocking::new();
    let options = Options {
        workers: 1,
        ..Options::default()
    };
    let server = TestServer::start_with(backend, options, handler);
    // An open keep-alive connection...
    let mut idle = server.connect();
    idle.send(&get("/"));
    assert_eq!(idle.response().status, 200);
    // ...sends its next request while the worker is busy; shutdown begins
    // before the worker gets to read it.
    let mut busy = server.connect();
    busy.send(&get("/block"));
    control.wait_entered();
    idle.send(&get("/"));
    server.handle().shutdown();
    control.release();
    assert_eq!(busy.response().body, b"released");
    // The request was sent before shutdown began: it is in flight, and
    // gets its answer (with `Connection: close`).
    let response = idle
        .try_response(false)
        .expect("the request sent before shutdown was dropped");
    assert_eq!(response.status, 200, "{response:?}");
    assert!(response.has_connection_token("close"), "{response:?}");
    idle.expect_closed();
}
