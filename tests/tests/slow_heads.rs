//! Slow request heads cannot hold every buffer pair while other clients
//! wait: when a connection needs a pair and none is free, the worker sends
//! away the connection that has held part of a head longest (`408`, then
//! closed) and lends its pair on. A waiting connection whose socket holds
//! a whole request gets one at once; one with only part of a head waits
//! until the oldest partial head began half the header timeout ago.
//!
//! Readiness backends only: a thread-per-connection backend lends no pairs.
#![cfg(any(target_os = "linux", target_os = "android"))]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use peregrine_core::Config;
use peregrine_examples::hello::Hello;
use peregrine_tests::{Backend, Client, IO_TIMEOUT, Options, TestServer, get};

/// Buffer pairs of the server under test.
const PAIRS: usize = 4;

/// Its header timeout: partial heads give way to one another after half
/// of it.
const HEADER_TIMEOUT: Duration = Duration::from_millis(2_000);

/// A one-worker epoll server with [`PAIRS`] buffer pairs.
fn server() -> TestServer {
    let options = Options {
        workers: 1,
        buffers: PAIRS,
        config: Config {
            header_timeout: HEADER_TIMEOUT.as_millis() as u64,
            ..Config::DEFAULT
        },
        ..Options::default()
    };
    TestServer::start_with(Backend::Epoll, options, Hello::new())
}

/// How far the server's clock may lag a test's: it reads a coarse
/// monotonic clock (a tick of a few milliseconds) in whole milliseconds.
const CLOCK_SLACK: Duration = Duration::from_millis(20);

/// `count` clients that each sent part of a request head.
fn slow_heads(addr: SocketAddr, count: usize) -> Vec<Client> {
    (0..count)
        .map(|_| {
            let mut client = Client::connect(addr);
            client.send(b"GET / HTTP/1.1\r\nHost: t");
            client
        })
        .collect()
}

#[test]
fn a_whole_request_is_answered_at_once_while_slow_heads_hold_every_pair() {
    let server = server();
    let started = Instant::now();
    let mut slow = slow_heads(server.addr(), PAIRS);
    // Each slow head is read (and holds a pair) before a later connection
    // is: one worker takes its events in order.
    let mut normal = Client::connect(server.addr());
    normal.send(&get("/"));
    assert_eq!(normal.response().body, b"Hello, World!");
    let waited = started.elapsed();
    assert!(waited < HEADER_TIMEOUT / 2, "answered after {waited:?}");
    // The oldest head gave way: 408, closed.
    assert_eq!(slow[0].response().status, 408);
    assert!(slow[0].is_closed_within(IO_TIMEOUT));
    normal.send(&get("/"));
    assert_eq!(normal.response().body, b"Hello, World!");
    slow.clear();
    let stats = server.stop();
    assert_eq!(stats.heads_shed, 1, "{stats:?}");
    assert!(stats.timeouts >= stats.heads_shed, "{stats:?}");
}

#[test]
fn a_partial_head_waits_until_the_oldest_is_half_the_timeout_old() {
    let server = server();
    let started = Instant::now();
    // One more slow head than there are pairs: the last waits for a pair.
    let mut slow = slow_heads(server.addr(), PAIRS + 1);
    assert_eq!(slow[0].response().status, 408);
    let shed_after = started.elapsed();
    assert!(
        shed_after + CLOCK_SLACK >= HEADER_TIMEOUT / 2,
        "sent away after {shed_after:?}"
    );
    assert!(
        shed_after < HEADER_TIMEOUT * 9 / 10,
        "sent away after {shed_after:?}, as late as its header timeout"
    );
    // The waiting head got the pair: it completes and is answered.
    let last = slow.last_mut().unwrap();
    last.send(b"\r\n\r\n");
    assert_eq!(last.response().body, b"Hello, World!");
    slow.clear();
    let stats = server.stop();
    assert!(stats.heads_shed >= 1, "{stats:?}");
}
