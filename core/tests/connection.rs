//! Scripted conversations with the connection machine: each input is
//! also run split into pieces of every small size, with writes that make
//! partial progress, and must give the same bytes out.

mod support;

use peregrine_core::Config;
use support::Driver;

/// Runs `input` whole and split every way (pieces of 1..=7 bytes, writes
/// of 1 byte and unbounded), asserting the output is the same, and
/// returns it.
fn converse(input: &[u8]) -> String {
    let mut whole = Driver::new();
    whole.feed(input, input.len());
    let expected = whole.output().to_owned();
    for step in 1..=7 {
        for write_step in [1, 5, usize::MAX] {
            let mut split = Driver::new();
            split.write_step = write_step;
            split.feed(input, step);
            assert_eq!(
                split.output(),
                expected,
                "read pieces of {step}, writes of {write_step}"
            );
        }
    }
    expected
}

#[test]
fn keep_alive_pipeline_answers_in_order() {
    let out = converse(
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n\
          POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nping\
          GET /missing HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    assert_eq!(
        out,
        "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, World!\
         HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nping\
         HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
    );
}

#[test]
fn a_hundred_pipelined_requests_in_one_read_are_answered_in_order() {
    let mut input = Vec::new();
    for i in 0..100 {
        input.extend_from_slice(
            format!("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n{i:03}").as_bytes(),
        );
    }
    let mut driver = Driver::new();
    driver.feed(&input, input.len());
    let out = driver.output();
    let bodies: Vec<&str> = out.split("\r\n\r\n").skip(1).map(|s| &s[..3]).collect();
    let expected: Vec<String> = (0..100).map(|i| format!("{i:03}")).collect();
    assert_eq!(bodies, expected);
}

#[test]
fn http10_closes_unless_keep_alive() {
    let mut driver = Driver::new();
    driver.feed(b"GET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\n\r\n", 64);
    assert_eq!(
        driver.output(),
        "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 13\r\n\r\nHello, World!"
    );
    assert!(driver.write_closed);

    let out = converse(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_eq!(
        out,
        "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 13\r\n\r\nHello, World!"
    );
}

#[test]
fn errors_get_their_status_and_close() {
    let cases: &[(&[u8], &str)] = &[
        (b"GET / HTTP/1.1\r\n\r\n", "400 Bad Request"),
        (
            b"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
            "505 HTTP Version Not Supported",
        ),
        (
            b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
            "501 Not Implemented",
        ),
        (
            b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n",
            "413 Content Too Large",
        ),
    ];
    for (input, status) in cases {
        let out = converse(input);
        assert!(out.starts_with(&format!("HTTP/1.1 {status}\r\n")), "{out}");
        assert!(out.contains("Connection: close\r\n"), "{out}");
    }
}

#[test]
fn chunked_upload_is_decoded_before_the_handler_runs() {
    let out = converse(b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(
        out,
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabcde\
         HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, World!"
    );
}

#[test]
fn continue_is_sent_only_when_the_body_will_be_read() {
    let out = converse(
        b"POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
    );
    assert_eq!(
        out,
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"
    );
    // A handler that ignores the body answers at once, then closes.
    let mut driver = Driver::new();
    driver.feed(
        b"POST /other HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
        1000,
    );
    assert_eq!(
        driver.output(),
        "HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    );
    // Too large: 413 without 100.
    let out = converse(
        b"POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 99999\r\n\r\n",
    );
    assert!(out.starts_with("HTTP/1.1 413"), "{out}");
}

#[test]
fn streamed_body_is_chunked_through_a_tiny_window() {
    let out = converse(b"GET /stream HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(
        out,
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\nabc\r\n3\r\nabc\r\n0\r\n\r\n\
         HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, World!"
    );
}

#[test]
fn half_close_still_gets_the_response() {
    let mut driver = Driver::new();
    driver.feed(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 100);
    driver.close_read();
    assert!(driver.output().ends_with("Hello, World!"));
    assert!(driver.conn.is_closed());
}

#[test]
fn slow_head_gets_408_and_idle_connection_closes_silently() {
    let mut driver = Driver::new();
    driver.feed(b"GET / HTTP/1.1\r\nHo", 100);
    driver.advance(Config::DEFAULT.header_timeout - 1);
    assert_eq!(driver.output(), "");
    driver.advance(1);
    assert!(
        driver
            .output()
            .starts_with("HTTP/1.1 408 Request Timeout\r\n")
    );

    let mut idle = Driver::new();
    idle.feed(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 100);
    idle.advance(Config::DEFAULT.idle_timeout);
    assert!(idle.conn.is_closed());
    assert!(idle.output().ends_with("Hello, World!"));
}
