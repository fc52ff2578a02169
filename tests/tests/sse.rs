//! The `sse` example's feed over real sockets, on the readiness backends
//! and every model of the portable one: every event published reaches
//! every client, in order (2,000 clients over several workers; 100 on the
//! portable backend, a thread each), and a client that leaves is noticed
//! at once.

use std::io::Read;
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use peregrine_core::{Fill, Finished, Handler, Outcome, Request, Response};
use peregrine_examples::sse::{Feed, publish};
use peregrine_tests::{Backend, Client, Options, TestServer, get, native_backend_tests};

native_backend_tests!(
    [concurrent] every_client_receives_every_event_in_order,
    a_client_that_leaves_is_noticed_within_a_second,
);

/// How many clients follow the feed on `backend`.
fn clients(backend: Backend) -> usize {
    match backend {
        Backend::StdPool | Backend::StdPerConnection | Backend::StdSingle => 100,
        _ => 2_000,
    }
}

/// How many events are published.
const EVENTS: u64 = 20;

/// [`Feed`], reporting the end of each stream.
struct Watched {
    /// Where stream ends go.
    ends: Mutex<mpsc::Sender<(Finished, Instant)>>,
}

impl Handler for Watched {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
        Feed.handle(request, response);
    }

    fn fill_body(&self, tag: &mut u64, buf: &mut [u8], local: &mut ()) -> Fill {
        Feed.fill_body(tag, buf, local)
    }

    fn finished(&self, finished: Finished, _: &mut ()) {
        let _ = self.ends.lock().unwrap().send((finished, Instant::now()));
    }
}

/// Opens the feed on a new connection: the head is in, the stream
/// subscribed.
fn follow(server: &TestServer) -> Client {
    let mut client = server.connect();
    client.send(&get("/events"));
    let head = client.response_head();
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-type"), Some("text/event-stream"));
    client
}

/// Reads the chunked event stream until `count` events came, within 20 s;
/// returns their data lines.
fn events(client: &mut Client, count: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut body = String::new();
    let mut raw = client.buffered().to_vec();
    let mut buf = [0u8; 4096];
    loop {
        // Dechunk what came so far.
        body.clear();
        let mut rest = &raw[..];
        while let Some(end) = rest.windows(2).position(|w| w == b"\r\n") {
            let size = usize::from_str_radix(std::str::from_utf8(&rest[..end]).unwrap(), 16)
                .expect("a chunk size");
            if rest.len() < end + 2 + size + 2 {
                break;
            }
            body.push_str(std::str::from_utf8(&rest[end + 2..end + 2 + size]).unwrap());
            rest = &rest[end + 2 + size + 2..];
        }
        let data: Vec<String> = body
            .lines()
            .filter_map(|line| line.strip_prefix("data: "))
            .map(str::to_owned)
            .collect();
        if data.len() >= count {
            return data;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "{} of {count} events in 20 s", data.len());
        client.stream().set_read_timeout(Some(left)).unwrap();
        let n = client.read(&mut buf).expect("the feed");
        assert!(n > 0, "the feed closed after {} events", data.len());
        raw.extend_from_slice(&buf[..n]);
    }
}

fn every_client_receives_every_event_in_order(backend: Backend) {
    let count = clients(backend);
    #[cfg(unix)]
    peregrine_tests::raise_fd_limit(3 * count as u64 + 1_000);
    // Room on each worker for every client: the kernel need not spread
    // the connections evenly.
    let options = Options {
        workers: 2,
        max_connections: count + 100,
        threads: count + 8,
        ..Options::default()
    };
    let (server, sender) = TestServer::start_with_sender_on(backend, options, |_| Feed);
    let mut clients: Vec<Client> = (0..count).map(|_| follow(&server)).collect();
    for number in 1..=EVENTS {
        publish(&sender, number);
    }
    let expected: Vec<String> = (1..=EVENTS).map(|n| format!("tick {n}")).collect();
    for (i, client) in clients.iter_mut().enumerate() {
        assert_eq!(events(client, EVENTS as usize), expected, "client {i}");
    }
    let stats = server.stop();
    assert_eq!(stats.messages_undelivered, 0);
}

fn a_client_that_leaves_is_noticed_within_a_second(backend: Backend) {
    let (ends, reported) = mpsc::channel();
    let (server, sender) =
        TestServer::start_with_sender_on(backend, Options::default(), |_| Watched {
            ends: Mutex::new(ends),
        });
    let mut client = follow(&server);
    publish(&sender, 1);
    assert_eq!(events(&mut client, 1), ["tick 1"]);
    let left = Instant::now();
    drop(client);
    let (finished, at) = reported
        .recv_timeout(Duration::from_secs(5))
        .expect("the stream's end reported");
    assert_eq!(finished.outcome, Outcome::Aborted);
    let noticed = at - left;
    assert!(
        noticed < Duration::from_secs(1),
        "noticed after {noticed:?}"
    );
    server.stop();
}
