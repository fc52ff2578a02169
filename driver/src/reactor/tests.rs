//! The worker core, driven one turn at a time: a fake poller delivers the
//! events each test chooses, a hand-set clock says when deadlines pass,
//! and each connection is one end of an in-process socket pair whose
//! other end the test reads and writes. No listener, no network, no
//! sleeps: each test runs the same way every time.

use std::cell::RefCell;
use std::io::{ErrorKind, Read, Write};
use std::mem::size_of;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use peregrine_core::{Capacity, Config, Connection, Fill, Handler, Request, Response};

use super::{Poller, Worker, WorkerSettings};
use crate::clock::Clock;
use crate::hub::Shared;
use crate::io::Readiness;
use crate::slab::{Slab, Token};
use crate::waker::Waker;

/// Bytes of state per connection held, idle or in use, as `Server` and
/// the README document it: the slab's slot (the connection suspended, its
/// socket, readiness, lent pair and armed deadline, with the slab's
/// generation tag and idle-list links).
const HELD: usize = 112;

/// Bytes of a connection's whole state while it is in use, as documented.
const fn in_use(max_headers: usize) -> usize {
    2_816 + 16 * max_headers
}

#[test]
fn connection_state_matches_the_documented_formula() {
    let held = [
        Slab::<super::Slot<Capacity<16384, 16384, 8>>>::SLOT_BYTES,
        Slab::<super::Slot<Capacity<16384, 16384, 32>>>::SLOT_BYTES,
        Slab::<super::Slot<Capacity<4096, 4096, 100>>>::SLOT_BYTES,
    ];
    assert!(held.iter().all(|&bytes| bytes == HELD), "{held:?}");
    let sizes = [
        (8, size_of::<Connection<Capacity<16384, 16384, 8>>>()),
        (32, size_of::<Connection<Capacity<16384, 16384, 32>>>()),
        (100, size_of::<Connection<Capacity<4096, 4096, 100>>>()),
    ];
    for (max_headers, actual) in sizes {
        let documented = in_use(max_headers);
        assert!(
            actual <= documented && documented - actual <= 64,
            "MAX_HEADERS = {max_headers}: {actual} bytes, documented {documented}"
        );
    }
}

/// A poller whose events the test queues; it records how long each wait
/// was allowed to last.
#[derive(Default)]
struct FakePoller {
    /// Events the next wait returns.
    queued: Vec<(u64, Readiness)>,
    /// Tokens of the connections registered, in order.
    registered: RefCell<Vec<u64>>,
    /// The timeout of each wait, in order.
    waits: Vec<Option<u64>>,
}

/// A waker that does nothing: the test runs every turn itself.
struct NoWaker;

impl Waker for NoWaker {
    fn wake(&self) {}
}

impl Poller for FakePoller {
    type Event = (u64, Readiness);

    fn new() -> std::io::Result<Self> {
        Ok(FakePoller::default())
    }

    fn waker(&self) -> Arc<dyn Waker> {
        Arc::new(NoWaker)
    }

    fn clear_wake(&self) {}

    fn add_listener(&self, _fd: &OwnedFd) -> std::io::Result<()> {
        Ok(())
    }

    fn add_connection(&self, _fd: &OwnedFd, token: u64) -> std::io::Result<()> {
        self.registered.borrow_mut().push(token);
        Ok(())
    }

    fn wait(
        &mut self,
        events: &mut Vec<Self::Event>,
        timeout_ms: Option<u64>,
    ) -> std::io::Result<()> {
        events.clear();
        events.append(&mut self.queued);
        self.waits.push(timeout_ms);
        Ok(())
    }

    fn decode(event: &Self::Event) -> (u64, Readiness) {
        *event
    }
}

/// Answers `Hello, World!` to every request but `/parked`, whose chunked
/// body waits for a wake-up before each piece (`tick` a time, then done
/// after three), and `/panic`, whose handler panics.
struct Hello;

impl Handler for Hello {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
        if request.path() == b"/panic" {
            panic!("the handler of /panic panics");
        }
        if request.path() == b"/parked" {
            response.stream(None);
        } else {
            response.body(b"Hello, World!").unwrap();
        }
    }

    fn fill_body(&self, tag: &mut u64, buf: &mut [u8], _local: &mut ()) -> Fill {
        // Even: wait for a wake-up; odd: write a piece.
        *tag += 1;
        match *tag {
            6 => Fill::Done(0),
            tag if tag % 2 == 1 => Fill::Pending,
            _ => {
                buf[..4].copy_from_slice(b"tick");
                Fill::More(4)
            }
        }
    }
}

static HELLO: Hello = Hello;

/// The answer to one request, as the worker sends it (no `Date` line: the
/// worker under test keeps none until a turn refreshes it, so tests
/// compare bodies).
const BODY: &str = "Hello, World!";

/// A partial request head.
const PARTIAL: &[u8] = b"GET / HTTP/1.1\r\nHost: t";

/// The rest of it.
const REST: &[u8] = b"\r\n\r\n";

/// A whole request.
const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n";

type TestWorker = Worker<'static, FakePoller, Hello, (), Capacity<1024, 2048, 8>>;

/// A worker under test, with the peers of its connections.
struct Rig {
    worker: TestWorker,
    time: &'static AtomicU64,
    events: Vec<(u64, Readiness)>,
    /// The test's end of each connection (until it hangs up), and its
    /// token.
    peers: Vec<(Token, Option<UnixStream>)>,
}

impl Rig {
    /// A worker with `buffers` pairs and room for `max_connections`.
    fn new(buffers: usize, max_connections: usize, config: Config) -> Self {
        Rig::with_listener(buffers, max_connections, config, None)
    }

    /// A worker accepting on `listener`, if given.
    fn with_listener(
        buffers: usize,
        max_connections: usize,
        config: Config,
        listener: Option<OwnedFd>,
    ) -> Self {
        let settings = WorkerSettings {
            id: 0,
            config,
            max_connections,
            buffers,
            grace_ms: 1_000,
            pin: false,
            handoff: false,
        };
        let time: &'static AtomicU64 = Box::leak(Box::new(AtomicU64::new(0)));
        let shared = Shared::new();
        assert!(shared.start(1, 0, 1024));
        let mut worker = Worker::new(
            settings,
            FakePoller::default(),
            listener,
            &HELLO,
            shared,
            0,
            &crate::transport::Plain,
        );
        worker.clock = Clock::manual(time);
        Rig {
            worker,
            time,
            events: Vec::new(),
            peers: Vec::new(),
        }
    }

    /// The time now.
    fn now(&self) -> u64 {
        self.time.load(Ordering::Relaxed)
    }

    /// Moves the clock on.
    fn advance(&self, ms: u64) {
        self.time.fetch_add(ms, Ordering::Relaxed);
    }

    /// A new connection, taken in as the accept path does (closing the
    /// idle longest if the worker is full); its peer's number.
    fn connect(&mut self) -> usize {
        let (ours, theirs) = UnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        theirs.set_nonblocking(true).unwrap();
        let now = self.now();
        let evict = self
            .worker
            .room_for_one(now)
            .expect("room for a connection");
        if let Some(token) = evict {
            self.worker.evict(token, now);
        }
        self.worker.adopt(OwnedFd::from(ours), None, now);
        let token = *self.worker.poller.registered.borrow().last().unwrap();
        self.peers.push((Token::from_u64(token), Some(theirs)));
        // A new socket is writable: the poller says so at once.
        self.worker.poller.queued.push((token, readiness(false)));
        self.peers.len() - 1
    }

    /// Peer `peer` sends `bytes`; the poller reports them next turn.
    fn send(&mut self, peer: usize, bytes: &[u8]) {
        let (token, stream) = &mut self.peers[peer];
        stream.as_mut().unwrap().write_all(bytes).unwrap();
        self.worker
            .poller
            .queued
            .push((token.to_u64(), readiness(true)));
    }

    /// Peer `peer` closes its end; the poller reports the hang-up next
    /// turn.
    fn hang_up(&mut self, peer: usize) {
        let (token, stream) = &mut self.peers[peer];
        *stream = None;
        let hangup = Readiness {
            hangup: true,
            ..readiness(true)
        };
        self.worker.poller.queued.push((token.to_u64(), hangup));
    }

    /// One turn of the worker's loop.
    fn turn(&mut self) -> bool {
        self.worker.turn(&mut self.events).unwrap()
    }

    /// What peer `peer` received since last asked, and whether the
    /// connection is closed.
    fn received(&mut self, peer: usize) -> (String, bool) {
        let mut out = Vec::new();
        let mut buf = [0; 4096];
        loop {
            match self.peers[peer].1.as_mut().unwrap().read(&mut buf) {
                Ok(0) => return (String::from_utf8(out).unwrap(), true),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(error) if error.kind() == ErrorKind::WouldBlock => {
                    return (String::from_utf8(out).unwrap(), false);
                }
                Err(error) if error.kind() == ErrorKind::ConnectionReset => {
                    return (String::from_utf8(out).unwrap(), true);
                }
                Err(error) => panic!("{error}"),
            }
        }
    }

    /// How many answers `text` holds.
    fn answers(text: &str) -> usize {
        text.matches(BODY).count()
    }
}

/// Readiness as a socket pair reports it: always writable, readable if
/// data came.
fn readiness(readable: bool) -> Readiness {
    Readiness {
        readable,
        writable: true,
        hangup: false,
    }
}

#[test]
fn a_connection_without_a_pair_waits_in_line_and_gets_the_first_freed() {
    let mut rig = Rig::new(2, 16, Config::DEFAULT);
    let peers: Vec<usize> = (0..3).map(|_| rig.connect()).collect();
    for &peer in &peers {
        rig.send(peer, PARTIAL);
    }
    assert!(rig.turn());
    // Two partial heads hold both pairs; the third waits.
    assert!(rig.worker.lending.has_waiting());
    assert_eq!(rig.received(peers[2]), (String::new(), false));
    // The first head completes: answered, and its pair goes to the one
    // in line, whose head then completes too.
    rig.send(peers[0], REST);
    assert!(rig.turn());
    assert_eq!(Rig::answers(&rig.received(peers[0]).0), 1);
    assert!(rig.turn());
    assert!(!rig.worker.lending.has_waiting());
    rig.send(peers[2], REST);
    assert!(rig.turn());
    assert_eq!(Rig::answers(&rig.received(peers[2]).0), 1);
    // Nobody was sent away.
    assert_eq!(rig.worker.shed, 0);
}

#[test]
fn a_whole_request_in_line_sends_the_slowest_partial_head_away() {
    let mut rig = Rig::new(2, 16, Config::DEFAULT);
    let slow: Vec<usize> = (0..2).map(|_| rig.connect()).collect();
    for &peer in &slow {
        rig.send(peer, PARTIAL);
    }
    assert!(rig.turn());
    let normal = rig.connect();
    rig.send(normal, GET);
    // The whole request waits one turn, the oldest partial head is
    // answered 408 and closed, and the request gets its pair.
    assert!(rig.turn());
    let (first, closed) = rig.received(slow[0]);
    assert!(first.starts_with("HTTP/1.1 408"), "{first}");
    assert!(closed);
    assert!(rig.turn());
    assert_eq!(Rig::answers(&rig.received(normal).0), 1);
    assert_eq!(rig.worker.shed, 1);
    assert_eq!(rig.received(slow[1]), (String::new(), false));
}

/// A worker with one pair and a header timeout of `header_timeout` ms: a
/// partial head holds the pair, and a second waits in line for it.
fn holder_and_waiter(header_timeout: u64) -> (Rig, usize, usize) {
    let config = Config {
        header_timeout,
        ..Config::DEFAULT
    };
    let mut rig = Rig::new(1, 16, config);
    let holder = rig.connect();
    rig.send(holder, PARTIAL);
    assert!(rig.turn());
    let waiter = rig.connect();
    rig.send(waiter, PARTIAL);
    assert!(rig.turn());
    assert!(rig.worker.lending.has_waiting());
    (rig, holder, waiter)
}

#[test]
fn a_partial_head_in_line_waits_until_the_oldest_is_half_the_header_timeout_old() {
    let (mut rig, holder, waiter) = holder_and_waiter(10_000);
    // The worker asks to be woken when the holder turns 5 s old.
    assert_eq!(rig.worker.wait_timeout(rig.now()), Some(5_000));
    rig.advance(4_999);
    assert!(rig.turn());
    assert_eq!(rig.received(holder), (String::new(), false));
    rig.advance(1);
    assert!(rig.turn());
    let (answer, closed) = rig.received(holder);
    assert!(answer.starts_with("HTTP/1.1 408") && closed, "{answer}");
    // The waiter has the pair now and is answered once whole.
    assert!(rig.turn());
    rig.send(waiter, REST);
    assert!(rig.turn());
    assert_eq!(Rig::answers(&rig.received(waiter).0), 1);
}

#[test]
fn a_connection_in_line_for_a_pair_still_times_out() {
    // The holder keeps its head going; the waiter's timer runs in line.
    let (mut rig, holder, waiter) = holder_and_waiter(1_000);
    rig.advance(1_000);
    assert!(rig.turn());
    assert!(rig.turn());
    // Both heads took the whole header timeout: both are closed, the one
    // that held a pair with 408, and none is left in line.
    let (answer, closed) = rig.received(holder);
    assert!(answer.starts_with("HTTP/1.1 408") && closed, "{answer}");
    assert!(rig.received(waiter).1);
    assert!(!rig.worker.lending.has_waiting());
    // Only the holder is left, lingering after its 408 until its peer
    // closes.
    assert_eq!(rig.worker.slab.len(), 1);
}

#[test]
fn a_wave_of_timeouts_is_handled_a_batch_per_turn() {
    let config = Config {
        header_timeout: 1_000,
        ..Config::DEFAULT
    };
    let count = super::TIMEOUTS_PER_TURN * 2 + 1;
    let mut rig = Rig::new(4, count + 1, config);
    let silent: Vec<usize> = (0..count).map(|_| rig.connect()).collect();
    assert!(rig.turn());
    rig.advance(1_000);
    let mut turns = 0;
    while !rig.worker.slab.is_empty() {
        let before = rig.worker.slab.len();
        assert!(rig.turn());
        turns += 1;
        assert!(before - rig.worker.slab.len() <= super::TIMEOUTS_PER_TURN);
        if !rig.worker.slab.is_empty() {
            // The rest are still due: the next wait does not block.
            assert_eq!(rig.worker.wait_timeout(rig.now()), Some(0));
        }
    }
    assert_eq!(turns, 3);
    assert!(silent.iter().all(|&peer| rig.received(peer).1));
}

#[test]
fn work_left_after_the_per_wakeup_maximum_runs_from_the_ready_list() {
    let config = Config {
        max_requests_per_wakeup: 2,
        ..Config::DEFAULT
    };
    let mut rig = Rig::new(4, 16, config);
    let busy = rig.connect();
    let other = rig.connect();
    rig.send(busy, &GET.repeat(7));
    rig.send(other, GET);
    assert!(rig.turn());
    // The pipeline is served a few at a time, between other connections:
    // the next wait does not block while work is left.
    let first = Rig::answers(&rig.received(busy).0);
    assert!((2..7).contains(&first), "{first}");
    assert_eq!(Rig::answers(&rig.received(other).0), 1);
    let mut answered = first;
    for _ in 0..4 {
        if answered == 7 {
            break;
        }
        assert!(rig.turn());
        assert_eq!(rig.worker.poller.waits.last(), Some(&Some(0)));
        answered += Rig::answers(&rig.received(busy).0);
    }
    assert_eq!(answered, 7);
    assert!(rig.worker.ready_list.is_empty());
}

#[test]
fn a_handler_panic_is_answered_500_and_the_rest_of_the_turn_is_served() {
    let mut rig = Rig::new(8, 16, Config::DEFAULT);
    let peers: Vec<usize> = (0..4).map(|_| rig.connect()).collect();
    assert!(rig.turn());
    // In one turn's events: a panic between requests of other
    // connections, and one more on the last connection.
    rig.send(peers[0], GET);
    rig.send(peers[1], b"GET /panic HTTP/1.1\r\nHost: t\r\n\r\n");
    rig.send(peers[2], GET);
    rig.send(peers[3], b"GET /panic HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(rig.turn());
    for panicked in [peers[1], peers[3]] {
        let (text, closed) = rig.received(panicked);
        assert!(text.starts_with("HTTP/1.1 500 "), "{text}");
        assert!(closed, "a connection whose handler panicked is closed");
    }
    for served in [peers[0], peers[2]] {
        let (text, closed) = rig.received(served);
        assert_eq!(Rig::answers(&text), 1, "{text}");
        assert!(!closed);
    }
    assert_eq!(rig.worker.app.totals().handler_panics, 2);
    // The worker goes on: the connections left are served next turn.
    rig.send(peers[0], GET);
    rig.send(peers[2], GET);
    assert!(rig.turn());
    assert_eq!(Rig::answers(&rig.received(peers[0]).0), 1);
    assert_eq!(Rig::answers(&rig.received(peers[2]).0), 1);
    assert!(rig.worker.serving.is_none());
}

#[test]
fn repeated_wakes_list_a_parked_stream_once_and_none_is_lost() {
    let mut rig = Rig::new(4, 16, Config::DEFAULT);
    let peer = rig.connect();
    rig.send(peer, b"GET /parked HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(rig.turn());
    let (head, _) = rig.received(peer);
    assert!(head.contains("Transfer-Encoding: chunked"), "{head}");
    let token = rig.peers[peer].0;
    // Parked with nothing queued, it holds no pair.
    assert!(rig.worker.slab.get_mut(token).unwrap().buffer.is_none());
    let mut body = String::new();
    for _ in 0..3 {
        // A burst of wake-ups from the application: one entry in the
        // ready list, one piece written (the third ends the body).
        for _ in 0..10_000 {
            let now = rig.now();
            rig.worker.wake(token, now);
        }
        assert!(
            rig.worker.ready_list.len() <= 1,
            "{}",
            rig.worker.ready_list.len()
        );
        assert!(rig.turn());
        body += &rig.received(peer).0;
    }
    assert_eq!(body, "4\r\ntick\r\n4\r\ntick\r\n0\r\n\r\n");
}

#[test]
fn a_parked_stream_whose_peer_leaves_ends_at_once() {
    let mut rig = Rig::new(4, 16, Config::DEFAULT);
    let peer = rig.connect();
    rig.send(peer, b"GET /parked HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(rig.turn());
    assert!(!rig.received(peer).0.is_empty());
    rig.hang_up(peer);
    assert!(rig.turn());
    assert!(rig.worker.slab.is_empty());
    // So a shutdown has nothing to wait for.
    let now = rig.now();
    rig.worker.begin_shutdown(now);
    assert!(!rig.turn());
}

#[test]
fn a_full_worker_closes_the_connection_idle_longest() {
    let mut rig = Rig::new(4, 3, Config::DEFAULT);
    let oldest = rig.connect();
    let busy = rig.connect();
    let newer = rig.connect();
    rig.send(oldest, GET);
    assert!(rig.turn());
    rig.advance(10);
    rig.send(newer, GET);
    rig.send(busy, PARTIAL);
    assert!(rig.turn());
    assert_eq!(Rig::answers(&rig.received(oldest).0), 1);
    // Full: the next connection takes the slot of the one idle longest,
    // not the one with a request in hand.
    let late = rig.connect();
    assert_eq!(rig.received(oldest), (String::new(), true));
    assert_eq!(rig.worker.evicted, 1);
    rig.send(late, GET);
    rig.send(busy, REST);
    assert!(rig.turn());
    assert_eq!(Rig::answers(&rig.received(late).0), 1);
    assert_eq!(Rig::answers(&rig.received(busy).0), 1);
    assert!(!rig.received(newer).1);
}

#[test]
fn shutdown_answers_requests_in_hand_and_closes_idle_connections_at_once() {
    let mut rig = Rig::new(4, 16, Config::DEFAULT);
    let idle = rig.connect();
    let partial = rig.connect();
    rig.send(idle, GET);
    rig.send(partial, PARTIAL);
    assert!(rig.turn());
    assert_eq!(Rig::answers(&rig.received(idle).0), 1);
    let now = rig.now();
    rig.worker.begin_shutdown(now);
    assert_eq!(rig.received(idle), (String::new(), true));
    // The partial head completes and is answered with `Connection: close`.
    rig.send(partial, REST);
    assert!(rig.turn());
    let (answer, closed) = rig.received(partial);
    assert_eq!(Rig::answers(&answer), 1);
    assert!(answer.contains("Connection: close"), "{answer}");
    assert!(closed);
    // Its peer closes too; nothing is left and the loop ends.
    rig.hang_up(partial);
    assert!(rig.turn());
    assert!(rig.worker.slab.is_empty());
    assert!(!rig.turn());
}

#[test]
fn shutdown_force_closes_what_is_left_after_the_grace_period() {
    let mut rig = Rig::new(4, 16, Config::DEFAULT);
    let stalled = rig.connect();
    rig.send(stalled, PARTIAL);
    assert!(rig.turn());
    let now = rig.now();
    rig.worker.begin_shutdown(now);
    assert!(rig.turn());
    assert!(!rig.received(stalled).1);
    rig.advance(1_000);
    assert!(!rig.turn());
    assert!(rig.received(stalled).1);
    assert!(rig.worker.slab.is_empty());
}

#[test]
fn idle_connections_beyond_the_spares_are_suspended_and_resume_on_their_next_request() {
    // One pair, so one whole state may stay with an idle connection.
    let mut rig = Rig::new(1, 16, Config::DEFAULT);
    let peers: Vec<usize> = (0..4).map(|_| rig.connect()).collect();
    for &peer in &peers {
        rig.send(peer, GET);
        assert!(rig.turn());
    }
    let active = |rig: &mut Rig| {
        let tokens: Vec<Token> = rig.peers.iter().map(|(token, _)| *token).collect();
        tokens
            .into_iter()
            .filter(|&token| {
                rig.worker
                    .slab
                    .get_mut(token)
                    .is_some_and(|slot| slot.conn.active().is_some())
            })
            .count()
    };
    assert!(active(&mut rig) <= 1, "{}", active(&mut rig));
    for &peer in &peers {
        rig.send(peer, GET);
        assert!(rig.turn());
        assert_eq!(Rig::answers(&rig.received(peer).0), 2);
    }
    assert!(active(&mut rig) <= 1);
}

#[test]
fn a_wave_of_new_connections_is_accepted_a_turn_at_a_time() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let wave = super::ACCEPTS_PER_TURN + 10;
    let clients: Vec<_> = (0..wave)
        .map(|_| std::net::TcpStream::connect(addr).unwrap())
        .collect();
    let mut rig = Rig::with_listener(4, 1024, Config::DEFAULT, Some(OwnedFd::from(listener)));
    let now = rig.now();
    rig.worker.accept(now);
    // One turn's worth, and the next wait does not block: the rest follow.
    assert_eq!(rig.worker.slab.len(), super::ACCEPTS_PER_TURN);
    assert_eq!(rig.worker.wait_timeout(now), Some(0));
    assert!(rig.turn());
    assert_eq!(rig.worker.slab.len(), wave);
    assert!(!rig.worker.accept_more);
    drop(clients);
}
