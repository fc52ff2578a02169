//! Deferred responses: a handler answers later, from anywhere, with any
//! status, and the connection waits for it (reading no further request),
//! watches for its client leaving, and bounds the wait when told to.

mod support;

use peregrine_core::Outcome::{Aborted, Sent};
use peregrine_core::{Config, StatusCode};
use support::{DEFERRED, Driver};

#[test]
fn the_answer_chooses_the_status_and_the_pipeline_goes_on_after_it() {
    let mut driver = Driver::new();
    driver.arrive(
        b"POST /defer HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n\
          GET / HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    // Nothing goes out, not even the request after it.
    assert!(driver.out.is_empty());
    assert!(driver.conn.is_deferred());
    assert_eq!(driver.local.handled, 1);
    // The job failed: 500, chosen now.
    assert!(driver.answer(|response| {
        response
            .status(StatusCode::INTERNAL_SERVER_ERROR)
            .header("X-Job", "failed")
            .unwrap();
        response.body(b"job failed").unwrap();
    }));
    let out = driver.output();
    assert!(
        out.starts_with("HTTP/1.1 500 Internal Server Error\r\nX-Job: failed\r\n"),
        "{out}"
    );
    let second = out.find("job failed").expect("the answer's body");
    assert!(out[second..].contains("HTTP/1.1 200 OK"), "{out}");
    assert!(out.ends_with("Hello, World!"), "{out}");
    assert_eq!(driver.local.ended, [(DEFERRED, Sent)]);
    assert_eq!(driver.counters.responses[4], 1);
    // A second answer finds nothing waiting.
    assert!(!driver.answer(|_| panic!("answered twice")));
}

#[test]
fn an_untagged_deferred_response_is_reported_too() {
    let mut driver = Driver::new();
    driver.arrive(b"GET /defer-untagged HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(driver.answer(|response| response.body_static(b"later")));
    assert!(driver.output().ends_with("later"));
    assert_eq!(driver.local.ended, [(0, Sent)]);
}

#[test]
fn a_client_that_leaves_while_waiting_is_noticed_and_reported() {
    let mut driver = Driver::new();
    driver.arrive(b"GET /defer HTTP/1.1\r\nHost: t\r\n\r\n");
    driver.close_read();
    assert!(driver.conn.is_closed());
    assert!(!driver.answer(|_| panic!("answered a closed connection")));
    driver.retire();
    assert_eq!(driver.local.ended, [(DEFERRED, Aborted)]);
}

#[test]
fn a_wait_past_the_parked_limit_gets_503() {
    let config = Config {
        parked_stream_timeout: 1_000,
        ..Config::DEFAULT
    };
    let mut driver = Driver::with_config(config);
    driver.arrive(b"GET /defer HTTP/1.1\r\nHost: t\r\n\r\n");
    driver.advance(999);
    assert!(driver.out.is_empty());
    driver.advance(1);
    assert!(
        driver
            .output()
            .starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
        "{}",
        driver.output()
    );
    assert!(driver.write_closed || driver.conn.is_closed());
    assert!(!driver.answer(|_| panic!("answered after the 503")));
    driver.retire();
    assert_eq!(driver.local.ended, [(DEFERRED, Aborted)]);
}

#[test]
fn a_deferred_connection_waits_without_a_write_deadline() {
    let mut driver = Driver::new();
    driver.arrive(b"GET /defer HTTP/1.1\r\nHost: t\r\n\r\n");
    // No default limit on the wait: an hour later it still waits.
    driver.advance(3_600_000);
    assert!(driver.conn.is_deferred());
    assert!(driver.answer(|response| response.body_static(b"at last")));
    assert!(driver.output().ends_with("at last"));
}

#[test]
fn a_head_request_answered_later_gets_the_head_only() {
    let mut driver = Driver::new();
    driver.arrive(b"HEAD /defer HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(driver.answer(|response| response.body(b"twelve bytes").unwrap()));
    let out = driver.output();
    assert!(out.contains("Content-Length: 12\r\n"), "{out}");
    assert!(out.ends_with("\r\n\r\n"), "{out}");
}

#[test]
fn an_answer_may_stream() {
    let mut driver = Driver::new();
    driver.arrive(b"GET /defer HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(driver.answer(|response| {
        response.set_tag(support::stream_tag(3));
        response.stream(None);
    }));
    assert!(
        driver.output().ends_with("3\r\nabc\r\n0\r\n\r\n"),
        "{}",
        driver.output()
    );
    assert_eq!(driver.local.ended.len(), 1);
    assert_eq!(driver.local.ended[0].1, Sent);
}

#[test]
fn a_next_request_arriving_while_waiting_is_not_timed_out() {
    let mut driver = Driver::new();
    driver.arrive(b"GET /defer HTTP/1.1\r\nHost: t\r\n\r\n");
    // The client pipelines the start of its next request; the server, not
    // the client, is the one taking its time.
    driver.arrive(b"GET / HTTP/1.1\r\nHo");
    driver.advance(120_000);
    assert!(driver.out.is_empty(), "{}", driver.output());
    assert!(driver.conn.is_deferred());
    assert!(driver.answer(|response| response.body_static(b"done")));
    driver.arrive(b"st: t\r\n\r\n");
    assert!(
        driver.output().ends_with("Hello, World!"),
        "{}",
        driver.output()
    );
}
