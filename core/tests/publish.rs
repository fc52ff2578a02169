//! Publications to streamed bodies: bytes published to a topic are
//! appended to every stream subscribed to it, framed as its body is; a
//! stream that cannot take one is ended (its client reconnects), never
//! silently skipped.

mod support;

use peregrine_core::Outcome::Aborted;
use peregrine_core::PublishError;
use support::{Driver, FEED, FEED_TOPIC};

#[test]
fn publications_become_chunks_of_a_parked_stream() {
    let mut driver = Driver::new();
    driver.arrive(b"GET /feed HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(driver.conn.is_parked());
    assert!(driver.conn.streams_topic(FEED_TOPIC));
    assert!(!driver.conn.streams_topic(FEED_TOPIC + 1));
    let head = driver.out.len();
    driver.publish(FEED_TOPIC, b"data: one\n\n").unwrap();
    driver.publish(FEED_TOPIC, b"data: two\n\n").unwrap();
    assert_eq!(
        &driver.output()[head..],
        "b\r\ndata: one\n\n\r\nb\r\ndata: two\n\n\r\n"
    );
    // Still waiting for the application, still subscribed.
    assert!(driver.conn.is_parked());
    assert_eq!(
        driver.publish(FEED_TOPIC + 1, b"x"),
        Err(PublishError::NotSubscribed)
    );
}

#[test]
fn a_stream_that_cannot_take_a_publication_is_ended_not_skipped() {
    let mut driver = Driver::new();
    driver.arrive(b"GET /feed HTTP/1.1\r\nHost: t\r\n\r\n");
    // The client stops reading.
    driver.write_plan = vec![0];
    let event = [b'e'; 300];
    let mut published = 0;
    let error = loop {
        match driver.publish(FEED_TOPIC, &event) {
            Ok(()) => published += 1,
            Err(error) => break error,
        }
        assert!(published < 100, "never full");
    };
    assert_eq!(error, PublishError::Full);
    assert!(published > 0);
    // What was queued still goes out, then the connection closes.
    assert!(!driver.conn.streams_topic(FEED_TOPIC));
    driver.write_plan = vec![usize::MAX];
    driver.pump();
    assert!(driver.conn.is_closed() || driver.write_closed);
    let body = driver.output();
    assert_eq!(body.matches(&"e".repeat(300)).count(), published);
    assert!(!body.ends_with("0\r\n\r\n"), "ended as if complete");
    driver.retire();
    assert_eq!(driver.local.ended, [(FEED, Aborted)]);
}

#[test]
fn a_body_of_announced_length_takes_no_more_than_it_announced() {
    let mut driver = Driver::new();
    driver.arrive(b"GET /feed-length HTTP/1.1\r\nHost: t\r\n\r\n");
    driver.publish(FEED_TOPIC, b"ab").unwrap();
    assert_eq!(driver.publish(FEED_TOPIC, b"cde"), Err(PublishError::Full));
    assert!(
        driver.output().ends_with("\r\n\r\nab"),
        "{}",
        driver.output()
    );
}
