//! Slow request heads cannot hold every buffer pair while other clients
//! wait: when a connection needs a pair and none is free, the worker sends
//! away the connection that has held part of a head longest (`408`, then
//! closed), once that head began at least a tenth of the header timeout
//! ago, and lends its pair on.
//!
//! Readiness backends only: a thread-per-connection backend lends no pairs.
#![cfg(any(target_os = "linux", target_os = "android"))]

use std::time::{Duration, Instant};

use peregrine_core::Config;
use peregrine_examples::hello::Hello;
use peregrine_tests::{Backend, Client, IO_TIMEOUT, Options, TestServer, get};

/// Buffer pairs of the server under test.
const PAIRS: usize = 4;

/// Its header timeout: heads are sent away after a tenth of it.
const HEADER_TIMEOUT: Duration = Duration::from_millis(2_000);

#[test]
fn a_request_is_answered_while_slow_heads_hold_every_buffer() {
    let options = Options {
        workers: 1,
        buffers: PAIRS,
        config: Config {
            header_timeout: HEADER_TIMEOUT.as_millis() as u64,
            ..Config::DEFAULT
        },
        ..Options::default()
    };
    let server = TestServer::start_with(Backend::Epoll, options, Hello::new());
    let started = Instant::now();
    // One more slow head than there are pairs: every pair is held, and
    // one slow head already waits for a pair.
    let mut slow: Vec<Client> = (0..=PAIRS)
        .map(|_| {
            let mut client = Client::connect(server.addr());
            client.send(b"GET / HTTP/1.1\r\nHost: t");
            client
        })
        .collect();
    let mut normal = Client::connect(server.addr());
    normal.send(&get("/"));
    assert_eq!(normal.response().body, b"Hello, World!");
    let waited = started.elapsed();
    // Not before the heads were a tenth of the timeout old, and long
    // before their header timeout (which answered it before).
    assert!(waited >= HEADER_TIMEOUT / 10, "answered after {waited:?}");
    assert!(waited < HEADER_TIMEOUT * 3 / 4, "answered after {waited:?}");
    // The oldest head was answered 408 and closed.
    assert_eq!(slow[0].response().status, 408);
    assert!(slow[0].is_closed_within(IO_TIMEOUT));
    // The normal client keeps its connection.
    normal.send(&get("/"));
    assert_eq!(normal.response().body, b"Hello, World!");
    slow.clear();
    let stats = server.stop();
    assert!(stats.heads_shed >= 1, "{stats:?}");
    assert!(stats.timeouts >= stats.heads_shed, "{stats:?}");
}
