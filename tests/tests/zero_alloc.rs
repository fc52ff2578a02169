//! No heap allocation per request: a counting global allocator counts the
//! allocations made on the server's worker threads (marked when each
//! creates its handler state), and after a warm-up 10,000 requests of
//! every kind — keep-alive, pipelined, chunked, `100 Continue`, streamed,
//! written in place (fitting the write buffer, and outgrowing it into the
//! worker's spill), error responses, a new connection each — must make
//! none.
//!
//! Run for every backend whose threads are started once (a backend that
//! starts a thread per connection allocates for it), one backend at a
//! time: the counts are process-wide.
//!
//! This is a test binary of its own because it installs the allocator.

use std::sync::atomic::{AtomicUsize, Ordering};

use peregrine_core::{BodyPolicy, Fill, Handler, Request, Response};
use peregrine_examples::hello::Hello;
use peregrine_tests::counting::{self, CountingAllocator};
use peregrine_tests::{
    Backend, Client, Options, TestServer, backend_tests, get, pattern, post_echo,
};

backend_tests!([persistent] no_allocation_per_request);

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Worker threads marked.
static MARKED: AtomicUsize = AtomicUsize::new(0);

/// [`Hello`], marking each worker thread when it creates its state.
struct Marked;

/// What `/write/N` writes from: the alphabet, over and over (its body is
/// `N` bytes of the alphabet, over and over).
const BLOCK: &[u8; 1000] = &{
    let mut block = [0; 1000];
    let mut i = 0;
    while i < block.len() {
        block[i] = b'a' + (i % 26) as u8;
        i += 1;
    }
    block
};

/// What `/write/N` answers.
fn written(n: usize) -> Vec<u8> {
    (0..n).map(|i| b'a' + (i % 26) as u8).collect()
}

/// Writes `/write/N`'s body with `io::Write`, and `fmt::Write` for the
/// last piece.
fn write_body(n: usize, response: &mut Response<'_>) {
    use std::fmt::Write as _;
    use std::io::Write as _;
    let mut writer = response.writer();
    let mut left = n;
    while left > 26 {
        let piece = left.min(BLOCK.len()) / 26 * 26;
        if writer.write_all(&BLOCK[..piece]).is_err() {
            return;
        }
        left -= piece;
    }
    let tail = std::str::from_utf8(&BLOCK[..left]).unwrap();
    let _ = writer.write_str(tail);
}

impl Handler for Marked {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
        let path = request.path();
        match path.strip_prefix(b"/write/") {
            Some(n) => {
                let n = std::str::from_utf8(n).unwrap().parse().unwrap();
                write_body(n, response);
            }
            None => Hello::new().handle(request, response),
        }
    }

    fn new_local(&self, _worker: usize) {
        counting::mark_this_thread();
        MARKED.fetch_add(1, Ordering::SeqCst);
    }

    fn body_policy(&self, request: &Request<'_>) -> BodyPolicy {
        Hello::new().body_policy(request)
    }

    fn fill_body(&self, tag: &mut u64, buf: &mut [u8], local: &mut ()) -> Fill {
        Hello::new().fill_body(tag, buf, local)
    }
}

/// Malformed requests, each closing its connection.
const MALFORMED: &[&[u8]] = &[
    b"G@T / HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET / HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\nHost: t\n\n",
    b"GET / HTTP/2.0\r\nHost: t\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 99999\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
];

/// A pipeline of `n` assorted requests, and a check of its responses.
fn pipeline(n: usize) -> (Vec<u8>, impl Fn(usize, &mut Client)) {
    let mut wire = Vec::new();
    for i in 0..n {
        match i % 6 {
            0 => wire.extend(get("/")),
            1 => wire.extend(post_echo(format!("pipelined {i}").as_bytes())),
            2 => wire.extend(get(&format!("/bytes/{}", 100 + i))),
            3 => wire.extend(
                b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n",
            ),
            4 => wire.extend(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n"),
            _ => wire.extend(get("/missing")),
        }
    }
    let check = |i: usize, client: &mut Client| match i % 6 {
        0 => assert_eq!(client.response().body, b"Hello, World!"),
        1 => assert_eq!(client.response().text(), format!("pipelined {i}")),
        2 => assert_eq!(client.response().body, pattern(100 + i as u64)),
        3 => assert_eq!(client.response().body, b"abcd"),
        4 => assert_eq!(client.head_response().content_length(), Some(13)),
        _ => assert_eq!(client.response().status, 404),
    };
    (wire, check)
}

/// Drives `rounds` of every kind of traffic; returns the requests sent.
fn traffic(server: &TestServer, rounds: usize) -> usize {
    let addr = server.addr();
    let mut sent = 0;
    for round in 0..rounds {
        // Keep-alive: one connection, requests one after another.
        let mut client = Client::connect(addr);
        for i in 0..20 {
            client.send(&get("/"));
            assert_eq!(client.response().body, b"Hello, World!");
            client.send(&post_echo(format!("{round}/{i}").as_bytes()));
            assert_eq!(client.response().text(), format!("{round}/{i}"));
        }
        // Bodies written in place: one that fits the write buffer, one
        // that outgrows it into the spill.
        for n in [3000, 40_000] {
            client.send(&get(&format!("/write/{n}")));
            let response = client.response();
            assert_eq!(response.chunked, n > 16_384);
            assert!(response.body == written(n), "/write/{n}");
        }
        sent += 2;
        // 100 Continue, and a handler's 405.
        client.send(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n",
        );
        assert_eq!(client.response().status, 100);
        client.send(b"ok");
        assert_eq!(client.response().body, b"ok");
        client.send(b"DELETE / HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(client.response().status, 405);
        sent += 43;

        // Pipelined: 60 requests in one write.
        let (wire, check) = pipeline(60);
        client.send(&wire);
        for i in 0..60 {
            check(i, &mut client);
        }
        sent += 60;
        drop(client);

        // Connection churn: a new connection per request, closed by
        // either side.
        for i in 0..10 {
            let mut client = Client::connect(addr);
            if i % 2 == 0 {
                client.send(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
                assert_eq!(client.response().body, b"Hello, World!");
                client.expect_closed();
            } else {
                client.send(b"GET /bytes/3000 HTTP/1.0\r\n\r\n");
                assert_eq!(client.response().body, pattern(3000));
            }
            sent += 1;
        }
        // Keep-alive connections the client closes.
        for _ in 0..4 {
            let mut client = Client::connect(addr);
            client.send(&get("/"));
            assert_eq!(client.response().status, 200);
            sent += 1;
        }

        // Error responses, each closing its connection.
        for (i, wire) in MALFORMED.iter().enumerate() {
            if (round + i) % 2 == 0 {
                let mut client = Client::connect(addr);
                client.send(wire);
                let response = client.response();
                assert!(response.status >= 400, "{response:?}");
                client.expect_closed();
                sent += 1;
            }
        }
    }
    sent
}

fn no_allocation_per_request(backend: Backend) {
    let _serial = counting::serial();
    let marked_before = MARKED.load(Ordering::SeqCst);
    let allocations_before_start = counting::allocations();
    let options = Options::default();
    let server = TestServer::start_with(backend, options, Marked);
    // Warm-up: every path taken on every worker (the kernel spreads
    // connections over them).
    traffic(&server, 20);
    // Each worker's spill is allocated the first time a body outgrows a
    // buffer there: a body that does on 300 connections reaches every
    // thread of a pool (which thread accepts a connection is the
    // kernel's choice; 16 threads all missed by 300 is about 1 in 10^7).
    for _ in 0..300 {
        let mut client = Client::connect(server.addr());
        client.send(&get("/write/40000"));
        assert!(client.response().body == written(40_000));
    }
    let trace = counting::trace_while(&_serial);
    let before = counting::allocations();
    let at_start = before - allocations_before_start;
    let mut sent = 0;
    while sent < 10_000 {
        sent += traffic(&server, 1);
    }
    let after_traffic = counting::allocations();
    drop(trace);
    let stats = server.stop();
    let after_stop = counting::allocations();
    let workers = backend.workers(&options).expect("threads started once");
    assert_eq!(
        MARKED.load(Ordering::SeqCst) - marked_before,
        workers,
        "every worker marked"
    );
    assert!(
        at_start > 0,
        "no allocation counted at start-up: the count is blind"
    );
    assert!(stats.requests >= 10_000, "{stats:?}");
    assert_eq!(
        after_traffic - before,
        0,
        "{} allocations on server threads during {sent} requests",
        after_traffic - before
    );
    // Closing what is left and stopping allocate nothing either.
    assert_eq!(after_stop - after_traffic, 0, "allocations while stopping");
}

/// [`Marked`], plus `/job`, deferred and answered by a runner thread
/// through the `Sender`, and `/file`, a file opened for the request and
/// handed to the response (`SendFile`), which closes it once sent.
struct Deferring {
    /// Where deferred jobs go: a bounded channel, which allocates nothing
    /// per message.
    jobs: std::sync::mpsc::SyncSender<peregrine_core::ConnectionId>,
    /// The file `/file` sends.
    path: std::path::PathBuf,
}

impl Handler for Deferring {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
        use peregrine_driver::files::SendFile;
        match request.path() {
            b"/job" => {
                self.jobs.send(response.id()).expect("runner");
                response.defer();
            }
            b"/file" => match std::fs::File::open(&self.path) {
                Ok(file) => response.send_file(file),
                Err(_) => response.abandon(),
            },
            b"/feed" => {
                response.stream(None);
                response.subscribe(1);
            }
            _ => Marked.handle(request, response),
        }
    }

    fn new_local(&self, worker: usize) {
        Marked.new_local(worker);
    }

    fn fill_body(&self, _: &mut u64, _: &mut [u8], _: &mut ()) -> Fill {
        // `/feed`: its body is made of publications.
        Fill::Pending
    }
}

/// Deferred responses answered from another thread, files owned by their
/// responses, and publications to streamed bodies allocate nothing per
/// request either: on epoll, and on a pool of the portable backend, whose
/// threads then wait on their mailboxes too.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn no_allocation_per_deferred_answer_or_owned_file() {
    deferred_answers_and_owned_files_allocate_nothing(Backend::Epoll);
}

/// See [`no_allocation_per_deferred_answer_or_owned_file`].
#[test]
fn no_allocation_per_deferred_answer_or_owned_file_on_a_std_pool() {
    deferred_answers_and_owned_files_allocate_nothing(Backend::StdPool);
}

/// 3,000 requests of [`Deferring`] on `backend` (whose threads are
/// started once), after a warm-up: none allocates on a server thread.
fn deferred_answers_and_owned_files_allocate_nothing(backend: Backend) {
    use peregrine_driver::answer::Answer;

    let _serial = counting::serial();
    let path = std::env::temp_dir().join(format!(
        "peregrine-zero-alloc-{}-{}",
        backend.name(),
        std::process::id()
    ));
    std::fs::write(&path, pattern(5000)).expect("write the file");
    let (jobs, pending) = std::sync::mpsc::sync_channel(1024);
    let options = Options::default();
    let (server, sender) = TestServer::start_with_sender_on(backend, options, |_| Deferring {
        jobs,
        path: path.clone(),
    });
    // The runner: answers each job as it comes (its own allocations are
    // not counted: it is not a worker).
    let publisher = sender.clone();
    let runner = std::thread::spawn(move || {
        for id in pending {
            let mut answer = Answer::new(peregrine_core::StatusCode::OK);
            answer.body(b"job done");
            sender.respond(id, &answer).expect("posted");
        }
    });
    let addr = server.addr();
    let mut feed = Client::connect(addr);
    feed.send(&get("/feed"));
    assert_eq!(feed.response_head().status, 200);
    let mut event = 0u64;
    let mut round = || {
        // A publication reaches the stream (a chunk of its own).
        event += 1;
        let text = format!("event {event:06}\n");
        publisher
            .publish_to_streams(1, text.as_bytes())
            .expect("published");
        let mut chunk = vec![0; format!("{:x}\r\n", text.len()).len() + text.len() + 2];
        std::io::Read::read_exact(&mut feed, &mut chunk).expect("the chunk");
        assert!(chunk.ends_with(format!("{text}\r\n").as_bytes()));
        let mut client = Client::connect(addr);
        for _ in 0..10 {
            client.send(b"POST /job HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
            assert_eq!(client.response().body, b"job done");
            client.send(&get("/file"));
            assert_eq!(client.response().body, pattern(5000));
            client.send(&get("/"));
            assert_eq!(client.response().body, b"Hello, World!");
        }
    };
    for _ in 0..50 {
        round();
    }
    let trace = counting::trace_while(&_serial);
    let before = counting::allocations();
    for _ in 0..100 {
        round();
    }
    let after = counting::allocations();
    drop(trace);
    server.stop();
    runner.join().expect("the runner");
    let _ = std::fs::remove_file(&path);
    assert_eq!(
        after - before,
        0,
        "{} allocations on server threads during 3,000 requests",
        after - before
    );
}
