//! Scripted conversations with the connection machine: exact bytes in,
//! exact bytes out. Each conversation run through `converse*` is also run
//! split into two reads at every byte, one byte per read, coalesced, in
//! small pieces, with 1-byte write progress and with idle buffers
//! scribbled over, and must give the same bytes and end state every time
//! (see `support::converse_with`).

mod support;

use peregrine_core::{Capacity, Config, Error, FileRegion, StatusCode, response::CONTINUE};
use support::{
    BigDriver, Driver, Echo, Event, LONG_STATIC, Local, READ, Step, WRITE, converse,
    converse_script, converse_with, error_response, file_bytes, gen_body, streamed_summary,
};

const GET: &str = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
const HELLO: &str = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, World!";
const HELLO_CLOSE: &str =
    "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 13\r\n\r\nHello, World!";
const NOT_FOUND: &str = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
const NOT_FOUND_CLOSE: &str =
    "HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";

/// The error response the connection sends for `error`.
fn error(error: Error) -> String {
    let status = StatusCode::new(error.status()).unwrap();
    error_response(
        &format!("{} {}", error.status(), status.canonical_reason().unwrap()),
        error.reason(),
    )
}

/// `POST /echo` with `body`, length-delimited.
fn echo(body: &str) -> String {
    format!(
        "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// The answer to [`echo`].
fn echoed(body: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Asserts the conversation ended with the write side shut, the peer's
/// further bytes read and dropped, and the connection closed once the peer
/// closes too.
fn assert_closes(script: &[Step<'_>]) {
    let mut full = script.to_vec();
    full.push(Step::Send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
    full.push(Step::Eof);
    let driver = converse_script(&full);
    assert!(driver.write_closed, "the write side was not shut");
    assert!(driver.conn.is_closed());
}

// Keep-alive and persistence.

#[test]
fn keep_alive_pipeline_answers_in_order() {
    let input = format!(
        "{GET}{}GET /missing HTTP/1.1\r\nHost: a\r\n\r\n",
        echo("ping")
    );
    let driver = converse(input.as_bytes());
    assert_eq!(
        driver.output(),
        format!("{HELLO}{}{NOT_FOUND}", echoed("ping"))
    );
    assert!(!driver.write_closed);
    assert!(!driver.conn.holds_buffers());
}

#[test]
fn keep_alive_serves_requests_arriving_over_time() {
    let (a, b) = (echo("one"), echo("two"));
    let driver = converse_script(&[
        Step::Send(GET.as_bytes()),
        Step::Advance(1000),
        Step::Send(a.as_bytes()),
        Step::Advance(59_999),
        Step::Send(b.as_bytes()),
        Step::Advance(10),
        Step::Send(GET.as_bytes()),
    ]);
    assert_eq!(
        driver.output(),
        format!("{HELLO}{}{}{HELLO}", echoed("one"), echoed("two"))
    );
    assert!(!driver.write_closed && !driver.conn.is_closed());
    assert!(driver.conn.interest().read);
}

#[test]
fn http10_closes_unless_keep_alive() {
    let driver = converse(b"GET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\n\r\n");
    assert_eq!(driver.output(), HELLO_CLOSE);
    assert!(driver.write_closed);
    assert!(!driver.conn.is_closed(), "lingers until the peer closes");
    assert_closes(&[Step::Send(b"GET / HTTP/1.0\r\n\r\n")]);

    let once =
        "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 13\r\n\r\nHello, World!";
    let driver = converse(
        b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n\
          GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n\
          GET / HTTP/1.0\r\n\r\n",
    );
    assert_eq!(driver.output(), format!("{once}{once}{HELLO_CLOSE}"));
    assert!(driver.write_closed);
}

#[test]
fn client_connection_close_is_answered_then_the_write_side_shut_then_lingering() {
    let request = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    let driver = converse(request);
    assert_eq!(driver.output(), HELLO_CLOSE);
    assert_eq!(driver.log.last(), Some(&Event::CloseWrite));
    assert!(driver.write_closed);
    // Lingering: still reading (and dropping) what the peer sends.
    assert!(!driver.conn.is_closed());
    assert!(driver.conn.interest().read && !driver.conn.interest().write);
    assert!(!driver.conn.holds_buffers());

    // Closed once the peer closes...
    let mut driver = Driver::new();
    driver.arrive(request);
    driver.arrive(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nmore garbage");
    assert_eq!(driver.output(), HELLO_CLOSE);
    assert!(driver.pending.is_empty(), "lingering reads everything");
    driver.close_read();
    assert!(driver.conn.is_closed());

    // ... or when the linger deadline passes.
    let mut driver = Driver::new();
    driver.advance(100);
    driver.arrive(request);
    driver.advance(Config::DEFAULT.linger_timeout - 1);
    assert!(!driver.conn.is_closed());
    driver.advance(1);
    assert!(driver.conn.is_closed());
    assert_eq!(driver.output(), HELLO_CLOSE);

    // The handler can close too.
    let driver =
        converse(b"GET /close HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(
        driver.output(),
        "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\nbye"
    );
    assert!(driver.write_closed);
}

#[test]
fn last_of_max_requests_says_close() {
    let config = Config {
        max_requests: 3,
        ..Config::DEFAULT
    };
    let input = GET.repeat(4);
    let driver = converse_with(
        &|| Driver::with_config(config),
        &[Step::Send(input.as_bytes())],
    );
    assert_eq!(driver.output(), format!("{HELLO}{HELLO}{HELLO_CLOSE}"));
    assert!(driver.write_closed);
}

// Pipelining and batching.

#[test]
fn three_pipelined_requests_are_answered_in_one_write() {
    let input = format!(
        "{GET}{}GET /missing HTTP/1.1\r\nHost: a\r\n\r\n",
        echo("ping")
    );
    let mut driver = Driver::new();
    driver.arrive(input.as_bytes());
    let expected = format!("{HELLO}{}{NOT_FOUND}", echoed("ping"));
    assert_eq!(driver.output(), expected);
    // One read, then one write offering every response. The first one's
    // short static body is copied after its head, so all three lie next to
    // each other in the write buffer and form one slice.
    assert_eq!(
        driver.log,
        [
            Event::Read(input.len()),
            Event::Write {
                offered: expected.len(),
                slices: 1,
                written: expected.len()
            }
        ]
    );
}

#[test]
fn a_response_wholly_in_the_write_buffer_is_offered_as_one_slice() {
    let input = echo("ping");
    let mut driver = Driver::new();
    driver.arrive(input.as_bytes());
    assert_eq!(driver.output(), echoed("ping"));
    assert_eq!(driver.single_slice_writes, 1);
    // A short static body is copied after its head: one slice too.
    let mut driver = Driver::new();
    driver.arrive(GET.as_bytes());
    assert_eq!(driver.output(), HELLO);
    assert_eq!(driver.single_slice_writes, 1);
    // A head in the buffer and a long static body are two slices.
    let mut driver = Driver::new();
    driver.arrive(b"GET /long-static HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(driver.single_slice_writes, 0);
}

/// A hundred `POST /echo` requests with 3-byte bodies `000`..`099`, and
/// their answers; each answer is 41 bytes.
fn hundred() -> (String, String) {
    let mut input = String::new();
    let mut output = String::new();
    for i in 0..100 {
        input += &echo(&format!("{i:03}"));
        output += &echoed(&format!("{i:03}"));
    }
    assert_eq!(output.len(), 100 * 41);
    (input, output)
}

#[test]
fn a_hundred_pipelined_requests_in_one_read_are_answered_in_one_write() {
    let (input, output) = hundred();
    // Big buffers, so that all hundred are read at once and their answers
    // fit in half the write buffer; the per-wakeup cap raised to 100, so
    // the one `handle_read` handles them all. Then the single write offers the
    // whole output (one slice: the answers lie end to end).
    let config = Config {
        max_requests_per_wakeup: 100,
        ..Config::DEFAULT
    };
    let mut driver = BigDriver::big(config);
    driver.arrive(input.as_bytes());
    assert_eq!(driver.output(), output);
    assert_eq!(
        driver.log,
        [
            Event::Read(input.len()),
            Event::Write {
                offered: output.len(),
                slices: 1,
                written: output.len()
            }
        ]
    );

    // With the default cap of 64 the first write offers 64 answers; the
    // write drains the queue and `handle_written` takes the other 36.
    let mut driver = BigDriver::big(Config::DEFAULT);
    driver.arrive(input.as_bytes());
    assert_eq!(driver.output(), output);
    assert_eq!(driver.writes_offered(), [64 * 41, 36 * 41]);

    // A write buffer of 2048 bytes: a response is begun only while half
    // of it is free, so one batch holds the answers that begin within the
    // first 1024 bytes: 25 of 41 bytes (the 25th ends at 1025). Four
    // batches, each one write, as few as the buffer allows.
    let mut driver: Driver<Echo, Local, Capacity<16384, WRITE, 16>> =
        Driver::build(Echo, Config::DEFAULT);
    driver.arrive(input.as_bytes());
    assert_eq!(driver.output(), output);
    assert_eq!(driver.writes_offered(), [1025; 4]);
    assert_eq!(
        driver
            .log
            .iter()
            .filter(|e| matches!(e, Event::Read(_)))
            .count(),
        1
    );
}

#[test]
fn a_hundred_pipelined_requests_through_small_buffers_in_every_schedule() {
    let (input, output) = hundred();
    let driver = converse(input.as_bytes());
    assert_eq!(driver.output(), output);
    // No write ever offers more than the write buffer holds.
    assert!(driver.writes_offered().iter().all(|&n| n <= WRITE));
}

#[test]
fn per_wakeup_cap_yields_and_poll_continues() {
    let (input, output) = hundred();
    let config = Config {
        max_requests_per_wakeup: 10,
        ..Config::DEFAULT
    };
    let mut driver = BigDriver::big(config);
    driver.pending.extend(input.as_bytes());
    assert!(driver.read_once());
    assert_eq!(driver.local.handled, 10);
    assert!(driver.conn.has_work());
    assert!(driver.conn.interest().write);

    // `poll` handles the next ten; the output of the first ten was not
    // written yet, so twenty answers are queued.
    driver.conn.poll(
        &mut driver.bufs,
        &mut peregrine_core::Env {
            handler: &driver.handler,
            local: &mut driver.local,
            date: None,
            now: 0,
            counters: &mut driver.counters,
            files: None,
            spill: None,
            deflate: None,
        },
    );
    assert_eq!(driver.local.handled, 20);
    assert!(driver.conn.has_work());
    assert!(driver.write_once());
    assert_eq!(driver.writes_offered(), [20 * 41]);
    assert_eq!(driver.output(), &output[..20 * 41]);

    driver.pump();
    assert_eq!(driver.output(), output);
    assert_eq!(driver.local.handled, 100);
    assert!(!driver.conn.has_work());
}

// 100-continue.

#[test]
fn continue_is_sent_before_a_body_the_handler_reads() {
    let head =
        b"POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
    let driver = converse_script(&[Step::Send(head), Step::Send(b"hi")]);
    assert_eq!(
        driver.output(),
        format!("{}{}", "HTTP/1.1 100 Continue\r\n\r\n", echoed("hi"))
    );

    // Sent as soon as the head is in, before any of the body.
    let mut driver = Driver::new();
    driver.arrive(head);
    assert_eq!(driver.out, CONTINUE);
    driver.arrive(b"hi");
    assert_eq!(
        driver.output(),
        format!("HTTP/1.1 100 Continue\r\n\r\n{}", echoed("hi"))
    );

    // Streamed bodies, and chunked ones, too.
    let driver = converse(
        b"POST /in HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello\
          POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nTransfer-Encoding: chunked\r\n\r\n\
          2\r\nok\r\n0\r\n\r\n",
    );
    assert_eq!(
        driver.output(),
        format!(
            "HTTP/1.1 100 Continue\r\n\r\n{}HTTP/1.1 100 Continue\r\n\r\n{}",
            echoed("hello"),
            echoed("ok")
        )
    );

    // Not to HTTP/1.0 clients, which do not know it.
    let driver =
        converse(b"POST /echo HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi");
    assert_eq!(
        driver.output(),
        "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi"
    );
}

#[test]
fn continue_is_not_sent_for_an_ignored_or_refused_body() {
    // Ignored: answered at once without the body; the client waits for a
    // 100 that never comes, so the connection closes.
    let head =
        b"POST /other HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
    let driver = converse(head);
    assert_eq!(driver.output(), NOT_FOUND_CLOSE);
    assert!(driver.write_closed);
    assert_closes(&[Step::Send(head), Step::Send(b"hi")]);

    // Over the limit: 413, no 100.
    let head =
        b"POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 99999\r\n\r\n";
    let driver = converse(head);
    assert_eq!(driver.output(), error(Error::BodyTooLarge));
    assert_closes(&[Step::Send(head)]);
}

#[test]
fn ignored_body_is_discarded_and_the_next_request_served() {
    let driver = converse(
        b"POST /other HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello\
          PUT /other HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\
          5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\nTrailer: x\r\n\r\n\
          GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    assert_eq!(driver.output(), format!("{NOT_FOUND}{NOT_FOUND}{HELLO}"));
    assert!(!driver.write_closed);

    // A malformed ignored body: its response is out, so the connection
    // just closes after it.
    let driver = converse(
        b"POST /other HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\
          GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    assert_eq!(driver.output(), NOT_FOUND);
    assert!(driver.write_closed);
}

// HEAD and bodiless statuses.

#[test]
fn head_gets_the_get_framing_without_a_body() {
    let driver = converse(
        b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n\
          HEAD /gen/length/100/10 HTTP/1.1\r\nHost: a\r\n\r\n\
          HEAD /gen/chunked/100/10 HTTP/1.1\r\nHost: a\r\n\r\n\
          HEAD /file/1/0/500 HTTP/1.1\r\nHost: a\r\n\r\n\
          HEAD /echo HTTP/1.1\r\nHost: a\r\n\r\n\
          GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    assert_eq!(
        driver.output(),
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n\
             HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n\
             HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
             HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n\
             HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n\
             {HELLO}"
        )
    );
    assert!(
        !driver
            .log
            .iter()
            .any(|e| matches!(e, Event::SendFile { .. }))
    );
    assert!(!driver.write_closed);
}

#[test]
fn no_content_and_not_modified_have_no_body() {
    let driver = converse(
        b"GET /status/204 HTTP/1.1\r\nHost: a\r\n\r\n\
          GET /status/304 HTTP/1.1\r\nHost: a\r\n\r\n\
          GET /status/200 HTTP/1.1\r\nHost: a\r\n\r\n\
          GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    assert_eq!(
        driver.output(),
        format!(
            "HTTP/1.1 204 No Content\r\n\r\n\
             HTTP/1.1 304 Not Modified\r\n\r\n\
             HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nignored\
             {HELLO}"
        )
    );
}

// Errors.

#[test]
fn every_error_status_is_sent_with_close_and_the_connection_closes() {
    let long_header = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
        "v".repeat(READ)
    );
    let many_headers = format!(
        "GET / HTTP/1.1\r\nHost: a\r\n{}\r\n",
        (0..16).map(|i| format!("X-{i}: v\r\n")).collect::<String>()
    );
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "t".repeat(2 * READ));
    let chunked_too_big = format!(
        "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n{}",
        format!("100\r\n{}\r\n", "x".repeat(256)).repeat(5)
    );
    let cases: Vec<(&str, String, Error)> = vec![
        (
            "no Host",
            "GET / HTTP/1.1\r\n\r\n".into(),
            Error::MissingHost,
        ),
        (
            "two Hosts",
            "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".into(),
            Error::DuplicateHost,
        ),
        (
            "bad request line",
            "GET  / HTTP/1.1\r\nHost: a\r\n\r\n".into(),
            Error::InvalidRequestLine,
        ),
        (
            "bare LF",
            "GET / HTTP/1.1\nHost: a\r\n\r\n".into(),
            Error::BareLineFeed,
        ),
        (
            "bad Content-Length",
            "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n".into(),
            Error::InvalidContentLength,
        ),
        (
            "Content-Length and Transfer-Encoding",
            "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\
             Transfer-Encoding: chunked\r\n\r\n"
                .into(),
            Error::ContentLengthWithTransferEncoding,
        ),
        (
            "bad chunk size",
            "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".into(),
            Error::InvalidChunkSize,
        ),
        (
            "chunk data without CRLF",
            "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab".into(),
            Error::InvalidChunkData,
        ),
        (
            "streamed body with a bad chunk",
            "POST /in HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".into(),
            Error::InvalidChunkSize,
        ),
        (
            "Content-Length over the buffer",
            "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n".into(),
            Error::BodyTooLarge,
        ),
        (
            "chunked body growing over the buffer",
            chunked_too_big,
            Error::BodyTooLarge,
        ),
        ("target over the buffer", long_target, Error::TargetTooLong),
        ("too many headers", many_headers, Error::TooManyHeaders),
        ("head over the buffer", long_header, Error::HeadTooLarge),
        (
            "gzip coding",
            "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n".into(),
            Error::UnsupportedTransferCoding,
        ),
        (
            "HTTP/2.0",
            "GET / HTTP/2.0\r\nHost: a\r\n\r\n".into(),
            Error::UnsupportedVersion,
        ),
    ];
    for (what, input, err) in cases {
        let driver = converse(input.as_bytes());
        assert_eq!(driver.output(), error(err), "{what}");
        assert!(driver.write_closed, "{what}: write side not shut");
        assert_closes(&[Step::Send(input.as_bytes())]);
    }
}

#[test]
fn limits_from_the_config_give_413_and_414() {
    let config = Config {
        max_body_len: 10,
        max_target_len: 16,
        ..Config::DEFAULT
    };
    let make = || Driver::with_config(config);
    let cases: &[(&[u8], Error)] = &[
        (
            b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n",
            Error::BodyTooLarge,
        ),
        (
            b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n6\r\nabcdef\r\n",
            Error::BodyTooLarge,
        ),
        (b"GET /0123456789abcdef HTTP/1.1\r\nHost: a\r\n\r\n", Error::TargetTooLong),
    ];
    for &(input, err) in cases {
        let driver = converse_with(&make, &[Step::Send(input), Step::Eof]);
        assert_eq!(driver.output(), error(err));
        assert!(driver.write_closed && driver.conn.is_closed());
    }
    // At the limits: served.
    let driver = converse_with(
        &make,
        &[Step::Send(
            b"GET /0123456789abcde HTTP/1.1\r\nHost: a\r\n\r\n\
              POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789",
        )],
    );
    assert_eq!(
        driver.output(),
        format!("{NOT_FOUND}{}", echoed("0123456789"))
    );
}

#[test]
fn an_error_after_good_requests_follows_their_answers() {
    let input = format!("{GET}{}GET / HTTP/1.1\r\nHo@st: a\r\n\r\n{GET}", echo("x"));
    let driver = converse(input.as_bytes());
    assert_eq!(
        driver.output(),
        format!("{HELLO}{}{}", echoed("x"), error(Error::InvalidHeaderName))
    );
    assert!(driver.write_closed);
}

// Half-close.

#[test]
fn half_close_still_gets_the_response() {
    let input = format!("{GET}{}", echo("abc"));
    let driver = converse_script(&[Step::Send(input.as_bytes()), Step::Eof]);
    assert_eq!(driver.output(), format!("{HELLO}{}", echoed("abc")));
    assert!(driver.write_closed);
    assert!(driver.conn.is_closed());

    // The end of input arrives before anything was written.
    let mut driver = Driver::new();
    driver.write_plan = vec![0];
    driver.arrive(GET.as_bytes());
    driver.close_read();
    assert!(driver.eof_reported && !driver.conn.is_closed());
    driver.write_plan = vec![1];
    driver.pump();
    assert_eq!(driver.output(), HELLO);
    assert!(driver.conn.is_closed());

    // A streamed answer is finished first.
    let mut driver = Driver::new();
    driver.write_plan = vec![0];
    driver.arrive(b"GET /gen/chunked/5000/100 HTTP/1.1\r\nHost: a\r\n\r\n");
    driver.close_read();
    driver.write_plan = vec![7];
    driver.pump();
    assert_eq!(
        driver.output(),
        format!(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{}",
            chunked(&gen_body(5000), 100)
        )
    );
    assert!(driver.write_closed && driver.conn.is_closed());

    // A partial body: nothing can complete it, nothing is answered.
    let driver = converse_script(&[
        Step::Send(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nab"),
        Step::Eof,
    ]);
    assert_eq!(driver.output(), "");
    assert!(driver.conn.is_closed());

    // A partial request is dropped: nothing can complete it.
    let driver = converse_script(&[Step::Send(b"GET / HTTP/1.1\r\nHo"), Step::Eof]);
    assert_eq!(driver.output(), "");
    assert!(driver.conn.is_closed());
}

#[test]
fn half_close_answers_every_request_already_received() {
    // Thirty requests in one read; the per-wakeup cap lets the read handle
    // ten. The connection still wants to read, and the next read reports
    // the end of input (as a backend reading until it would block sees),
    // before anything was written. The twenty requests already received
    // must still be answered.
    let input = "GET /echo HTTP/1.1\r\nHost: a\r\n\r\n".repeat(30);
    let answer = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    let config = Config {
        max_requests_per_wakeup: 10,
        ..Config::DEFAULT
    };
    let mut driver = Driver::with_config(config);
    driver.pending.extend(input.as_bytes());
    assert!(driver.read_once());
    assert_eq!(driver.local.handled, 10);
    assert!(driver.conn.interest().read && driver.conn.has_work());
    driver.eof = true;
    assert!(driver.read_once());
    assert!(driver.eof_reported);
    driver.pump();
    assert_eq!(driver.output(), answer.repeat(30));
}

// Timeouts, on the test's clock.

#[test]
fn the_first_header_timeout_counts_from_the_accept() {
    let limit = Config::DEFAULT.header_timeout;
    let driver = converse_script(&[
        Step::Advance(5),
        Step::Send(b"GET / HTTP/1.1\r\nHo"),
        Step::Advance(limit / 2),
        Step::Send(b"st: a\r\n"),
        Step::Advance(limit - limit / 2 - 6),
    ]);
    assert_eq!(driver.output(), "");
    let driver = converse_script(&[
        Step::Advance(5),
        Step::Send(b"GET / HTTP/1.1\r\nHo"),
        Step::Advance(limit / 2),
        Step::Send(b"st: a\r\n"),
        Step::Advance(limit - limit / 2 - 5),
    ]);
    assert_eq!(driver.output(), error(Error::RequestTimeout));
    assert!(driver.write_closed);
    assert_closes(&[Step::Send(b"GET / HTTP/1.1\r\nHo"), Step::Advance(limit)]);
}

#[test]
fn a_connection_that_sends_nothing_is_closed_at_the_header_timeout() {
    // Not at the idle timeout: a silent peer holds its slot no longer than
    // a slow one (limit and limit + 1).
    let limit = Config::DEFAULT.header_timeout;
    assert!(limit < Config::DEFAULT.idle_timeout);
    let driver = converse_script(&[Step::Advance(limit - 1)]);
    assert!(!driver.conn.is_closed());
    let driver = converse_script(&[Step::Advance(limit)]);
    assert!(driver.conn.is_closed());
    assert_eq!(driver.output(), "");
}

#[test]
fn a_later_header_timeout_counts_from_the_first_byte_of_its_head() {
    let limit = Config::DEFAULT.header_timeout;
    let first = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    let script = |wait: u64| {
        converse_script(&[
            Step::Send(first),
            Step::Advance(limit * 2),
            Step::Send(b"GET / HTTP/1.1\r\nHo"),
            Step::Advance(limit / 2),
            Step::Send(b"st: a\r\n"),
            Step::Advance(wait),
        ])
    };
    let hello = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, World!";
    let driver = script(limit - limit / 2 - 1);
    assert_eq!(driver.output(), hello);
    let driver = script(limit - limit / 2);
    assert_eq!(
        driver.output(),
        format!("{hello}{}", error(Error::RequestTimeout))
    );
}

#[test]
fn header_timeout_passed_behind_unread_output_answers_408_once_it_drains() {
    // The next head begins with the first request; the peer reads nothing
    // for 20 s, past the header deadline (masked by the write deadline
    // meanwhile). Once the answer drains, the deadline is due: 408.
    let mut driver = Driver::new();
    driver.write_plan = vec![0];
    driver.arrive(format!("{GET}GET / HT").as_bytes());
    driver.advance(20_000);
    assert!(driver.out.is_empty() && !driver.conn.is_closed());
    driver.write_plan = vec![usize::MAX];
    driver.pump();
    assert_eq!(
        driver.output(),
        format!("{HELLO}{}", error(Error::RequestTimeout))
    );
    assert!(driver.write_closed);
}

#[test]
fn header_timeout_of_a_pipelined_head_counts_from_its_first_byte() {
    let limit = Config::DEFAULT.header_timeout;
    // The next head begins in the same read as the first request; then
    // one byte comes every `limit / 2`: a slowloris must still get 408
    // `limit` after the head began.
    let mut driver = Driver::new();
    driver.arrive(format!("{GET}G").as_bytes());
    assert_eq!(driver.output(), HELLO);
    driver.advance(limit / 2);
    driver.arrive(b"E");
    driver.advance(limit / 2);
    assert_eq!(
        driver.output(),
        format!("{HELLO}{}", error(Error::RequestTimeout))
    );
}

#[test]
fn body_timeout_counts_between_reads() {
    let limit = Config::DEFAULT.body_timeout;
    let head = b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc";
    let driver = converse_script(&[
        Step::Send(head),
        Step::Advance(limit - 1),
        Step::Send(b"de"),
        Step::Advance(limit - 1),
    ]);
    assert_eq!(driver.output(), "");
    assert!(driver.conn.holds_buffers());
    let driver = converse_script(&[
        Step::Send(head),
        Step::Advance(limit - 1),
        Step::Send(b"de"),
        Step::Advance(limit),
    ]);
    assert_eq!(driver.output(), error(Error::RequestTimeout));
    assert_closes(&[Step::Send(head), Step::Advance(limit)]);

    // A streamed body, and an ignored one (answered already: its 404 is
    // followed by the 408).
    let driver = converse_script(&[
        Step::Send(b"POST /in HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc"),
        Step::Advance(limit),
    ]);
    assert_eq!(driver.output(), error(Error::RequestTimeout));
    let driver = converse_script(&[
        Step::Send(b"POST /other HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc"),
        Step::Advance(limit),
    ]);
    assert_eq!(
        driver.output(),
        format!("{NOT_FOUND}{}", error(Error::RequestTimeout))
    );
}

#[test]
fn idle_keep_alive_connection_closes_silently() {
    let limit = Config::DEFAULT.idle_timeout;
    let driver = converse_script(&[Step::Send(GET.as_bytes()), Step::Advance(limit - 1)]);
    assert!(!driver.conn.is_closed());
    let driver = converse_script(&[Step::Send(GET.as_bytes()), Step::Advance(limit)]);
    assert!(driver.conn.is_closed());
    assert!(!driver.write_closed, "closed without a shutdown");
    assert_eq!(driver.output(), HELLO);

    // Idle from when the output drained, not from when it was queued.
    let mut driver = Driver::new();
    driver.write_plan = vec![0];
    driver.arrive(GET.as_bytes());
    driver.advance(1000);
    driver.write_plan = vec![usize::MAX];
    driver.pump();
    assert_eq!(driver.output(), HELLO);
    driver.advance(limit - 1);
    assert!(!driver.conn.is_closed());
    driver.advance(1);
    assert!(driver.conn.is_closed());

    // A fresh connection that never sends anything.
    let mut driver = Driver::new();
    driver.advance(limit);
    assert!(driver.conn.is_closed() && driver.out.is_empty());
}

#[test]
fn a_parked_stream_waits_for_its_wake_up_and_ends_if_its_peer_leaves() {
    const PARKED: &[u8] = b"GET /parked HTTP/1.1\r\nHost: a\r\n\r\n";
    const HEAD: &str = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    let woken = converse_script(&[Step::Send(PARKED), Step::Wake, Step::Send(GET.as_bytes())]);
    assert_eq!(
        woken.output(),
        format!("{HEAD}4\r\nlate\r\n0\r\n\r\n{HELLO}")
    );
    assert!(!woken.conn.is_closed());
    // The peer leaves while the stream waits: the connection ends at
    // once, not when the application next has something to send.
    let left = converse_script(&[Step::Send(PARKED), Step::Eof]);
    assert_eq!(left.output(), HEAD);
    assert!(left.conn.is_closed());
    assert!(!left.write_closed);
    // A parked stream with nothing queued holds no buffers: any pair can
    // serve it when it wakes (the scribbled schedule checks it does).
    let mut parked = Driver::new();
    parked.arrive(PARKED);
    assert!(parked.conn.is_parked() && !parked.conn.holds_buffers());
    assert!(parked.conn.interest().read);
}

#[test]
fn an_aborted_stream_sends_what_it_queued_and_closes_unfinished() {
    let driver = converse_script(&[
        Step::Send(b"GET /abort HTTP/1.1\r\nHost: a\r\n\r\n"),
        Step::Send(GET.as_bytes()),
    ]);
    // No last chunk: the client sees a cut body. The request behind it
    // is not answered.
    assert_eq!(
        driver.output(),
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"
    );
    assert!(driver.write_closed);
}

#[test]
fn an_abandoned_response_is_answered_500_and_the_connection_closes() {
    let driver = converse_script(&[Step::Send(b"GET /abandon HTTP/1.1\r\nHost: a\r\n\r\n")]);
    assert_eq!(
        driver.output(),
        "HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    );
    assert!(driver.write_closed);
}

#[test]
fn an_idle_connection_suspends_and_resumes_into_another_as_it_was() {
    let limit = Config::DEFAULT.idle_timeout;
    let mut driver = Driver::new();
    driver.scribble_idle = true;
    // Fresh: suspended from the accept, header timer kept.
    driver.pump();
    assert_eq!(driver.suspensions, 1);
    driver.arrive(GET.as_bytes());
    driver.advance(1_000);
    driver.arrive(GET.as_bytes());
    assert_eq!(driver.output(), format!("{HELLO}{HELLO}"));
    assert!(driver.suspensions >= 3, "{}", driver.suspensions);
    // The idle timer runs from the last answer, across suspensions.
    driver.advance(limit - 1);
    assert!(!driver.conn.is_closed());
    driver.advance(1);
    assert!(driver.conn.is_closed());
}

#[test]
fn only_an_idle_connection_suspends() {
    // A partial head, a body on its way, a peer gone, a draining server:
    // each keeps its whole state.
    let mut partial = Driver::new();
    partial.arrive(b"GET / HT");
    assert_eq!(partial.conn.suspend(), None);
    let mut body = Driver::new();
    body.arrive(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nab");
    assert_eq!(body.conn.suspend(), None);
    let mut gone = Driver::new();
    gone.arrive(GET.as_bytes());
    gone.close_read();
    assert_eq!(gone.conn.suspend(), None);
    let mut draining = Driver::new();
    draining.conn.drain();
    assert_eq!(draining.conn.suspend(), None);
    assert!(!draining.conn.is_closed());
    // Between requests it does, and the record keeps the idle deadline.
    let mut idle = Driver::new();
    idle.arrive(GET.as_bytes());
    let deadline = idle.conn.poll_timeout();
    let suspended = idle.conn.suspend().expect("idle");
    assert_eq!(Some(suspended.poll_timeout()), deadline);
    assert_eq!(suspended.silent_deadline(), None);
    assert!(idle.conn.is_closed());
}

#[test]
fn idle_timeout_counts_from_the_end_of_an_ignored_body() {
    // The 404 goes out at once; the body it ignored trickles in for 29 s;
    // only then is the connection idle.
    let limit = Config::DEFAULT.idle_timeout;
    let mut driver = Driver::new();
    driver.arrive(b"POST /other HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc");
    assert_eq!(driver.output(), NOT_FOUND);
    driver.advance(29_000);
    driver.arrive(b"defghij");
    assert!(!driver.conn.holds_buffers(), "idle");
    driver.advance(limit - 1);
    assert!(
        !driver.conn.is_closed(),
        "closed {} ms after it became idle",
        limit - 1
    );
}

#[test]
fn write_timeout_drops_a_peer_that_does_not_read() {
    let limit = Config::DEFAULT.write_timeout;
    let mut driver = Driver::new();
    driver.write_plan = vec![0];
    driver.arrive(GET.as_bytes());
    driver.advance(limit - 1);
    assert!(!driver.conn.is_closed());
    driver.advance(1);
    assert!(driver.conn.is_closed());
    assert!(driver.out.is_empty() && !driver.write_closed);

    // Progress, even one byte, restarts it.
    let mut driver = Driver::new();
    driver.write_plan = vec![0];
    driver.arrive(GET.as_bytes());
    driver.advance(limit - 1);
    driver.write_plan = vec![1, 0];
    driver.pump();
    assert_eq!(driver.out, b"H");
    driver.advance(limit - 1);
    assert!(!driver.conn.is_closed());
    driver.advance(1);
    assert!(driver.conn.is_closed());

    // A streamed body the peer stops reading.
    let mut driver = Driver::new();
    driver.write_plan = vec![100, 0];
    driver.arrive(b"GET /gen/chunked/100000/1000 HTTP/1.1\r\nHost: a\r\n\r\n");
    driver.advance(limit);
    assert!(driver.conn.is_closed());
}

#[test]
fn linger_timeout_counts_from_the_shutdown() {
    let limit = Config::DEFAULT.linger_timeout;
    let driver = converse_script(&[
        Step::Send(b"GET /close HTTP/1.1\r\nHost: a\r\n\r\n"),
        Step::Advance(limit - 1),
    ]);
    assert!(driver.write_closed && !driver.conn.is_closed());
    let driver = converse_script(&[
        Step::Send(b"GET /close HTTP/1.1\r\nHost: a\r\n\r\n"),
        Step::Advance(limit),
    ]);
    assert!(driver.conn.is_closed());

    // The shutdown comes late (the peer read slowly): lingering starts
    // then.
    let mut driver = Driver::new();
    driver.write_plan = vec![0];
    driver.arrive(b"GET /close HTTP/1.1\r\nHost: a\r\n\r\n");
    driver.advance(10_000);
    driver.write_plan = vec![usize::MAX];
    driver.pump();
    assert!(driver.write_closed);
    driver.advance(limit - 1);
    assert!(!driver.conn.is_closed());
    driver.advance(1);
    assert!(driver.conn.is_closed());
}

#[test]
fn closing_connection_deadline_is_not_in_the_past() {
    // A connection 5 s old answers `Connection: close`; once the output is
    // written it waits for the backend to shut the write side. Its
    // deadline must not already have passed, or a backend that runs
    // timers first closes the socket without the shutdown and the
    // lingering that protect the response from a reset.
    let mut driver = Driver::new();
    driver.advance(5000);
    driver.writes_per_round = 0;
    driver.arrive(b"GET /close HTTP/1.1\r\nHost: a\r\n\r\n");
    assert!(driver.write_once(), "the response");
    assert!(driver.conn.interest().write, "the shutdown is next");
    let deadline = driver.conn.poll_timeout().unwrap();
    assert!(
        deadline > driver.now,
        "deadline {deadline} at {}",
        driver.now
    );
}

// Streamed responses.

/// A chunked body of `body`, in chunks of `piece` bytes.
fn chunked(body: &[u8], piece: usize) -> String {
    let mut out = String::new();
    for chunk in body.chunks(piece) {
        out += &format!(
            "{:x}\r\n{}\r\n",
            chunk.len(),
            std::str::from_utf8(chunk).unwrap()
        );
    }
    out + "0\r\n\r\n"
}

/// Decodes a chunked body at the start of `wire`: the body and the bytes
/// after it.
fn dechunk(mut wire: &[u8]) -> (Vec<u8>, &[u8]) {
    let mut body = Vec::new();
    loop {
        let line = wire.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = usize::from_str_radix(std::str::from_utf8(&wire[..line]).unwrap(), 16).unwrap();
        wire = &wire[line + 2..];
        if size == 0 {
            assert!(wire.starts_with(b"\r\n"));
            return (body, &wire[2..]);
        }
        body.extend_from_slice(&wire[..size]);
        assert_eq!(&wire[size..size + 2], b"\r\n");
        wire = &wire[size + 2..];
    }
}

#[test]
fn streamed_body_is_chunked_through_a_tiny_window() {
    let driver =
        converse(b"GET /stream HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(
        driver.output(),
        format!(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\nabc\r\n3\r\nabc\r\n0\r\n\r\n{HELLO}"
        )
    );
}

#[test]
fn long_streams_go_through_the_write_buffer_a_piece_at_a_time() {
    let body = gen_body(5000);
    let driver = converse(
        b"GET /gen/chunked/5000/100 HTTP/1.1\r\nHost: a\r\n\r\n\
          GET /gen/length/5000/100 HTTP/1.1\r\nHost: a\r\n\r\n\
          GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    assert_eq!(
        driver.output(),
        format!(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{}\
             HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n{}{HELLO}",
            chunked(&body, 100),
            std::str::from_utf8(&body).unwrap()
        )
    );
    assert!(driver.writes_offered().iter().all(|&n| n <= WRITE));

    // Pieces as large as the buffer allows: chunk sizes follow the room
    // left, the body is the same.
    let body = gen_body(20_000);
    let driver = converse(
        b"GET /gen/chunked/20000/20000 HTTP/1.1\r\nHost: a\r\n\r\n\
          GET /gen/length/20000/20000 HTTP/1.1\r\nHost: a\r\n\r\n\
          GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    let rest = driver
        .out
        .strip_prefix(&b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"[..])
        .unwrap();
    let (decoded, rest) = dechunk(rest);
    assert_eq!(decoded, body);
    let length_head = b"HTTP/1.1 200 OK\r\nContent-Length: 20000\r\n\r\n";
    let rest = rest.strip_prefix(&length_head[..]).unwrap();
    assert_eq!(rest[..20_000], body[..]);
    assert_eq!(&rest[20_000..], HELLO.as_bytes());
    assert!(driver.writes_offered().iter().all(|&n| n <= WRITE));
}

#[test]
fn stream_short_of_its_length_closes_the_connection() {
    let driver = converse(
        b"GET /gen/short/10/3 HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    assert_eq!(
        driver.output(),
        "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234"
    );
    assert!(driver.write_closed);
    assert_closes(&[Step::Send(
        b"GET /gen/short/10/3 HTTP/1.1\r\nHost: a\r\n\r\n",
    )]);
}

#[test]
fn stream_of_unknown_length_to_http10_ends_with_the_connection() {
    let driver = converse(b"GET /gen/chunked/250/100 HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n");
    assert_eq!(
        driver.output(),
        format!(
            "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{}",
            std::str::from_utf8(&gen_body(250)).unwrap()
        )
    );
    assert!(driver.write_closed);

    let driver = converse(b"GET /gen/close/10/4 HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(
        driver.output(),
        "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 10\r\n\r\n0123456789"
    );
    assert!(driver.write_closed);
}

// Files.

#[test]
fn send_file_follows_the_head_and_resumes_after_partial_progress() {
    let input =
        b"GET /file/7/100/5000 HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    let head = "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n";
    let mut expected = head.as_bytes().to_vec();
    expected.extend(file_bytes(7, 100, 5000));
    expected.extend_from_slice(HELLO.as_bytes());
    let driver = converse(input);
    assert_eq!(driver.out, expected);

    // An empty region: nothing to send after the head.
    let driver = converse(b"GET /file/7/100/0 HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(
        driver.output(),
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    );
    assert!(
        !driver
            .log
            .iter()
            .any(|e| matches!(e, Event::SendFile { .. }))
    );

    // The head is one write, then the region, then the next response.
    let mut driver = Driver::new();
    driver.write_plan = vec![1500];
    driver.arrive(input);
    assert_eq!(driver.out, expected);
    let sent: Vec<_> = driver
        .log
        .iter()
        .filter(|e| !matches!(e, Event::Read(_)))
        .cloned()
        .collect();
    // SAFETY: the region names no real file: the fake peer makes up its
    // bytes.
    let region = |offset, len| unsafe { FileRegion::borrowed(7, offset, len) };
    assert_eq!(
        sent,
        [
            Event::Write {
                offered: head.len(),
                slices: 1,
                written: head.len()
            },
            Event::SendFile {
                region: region(100, 5000),
                written: 1500
            },
            Event::SendFile {
                region: region(1600, 3500),
                written: 1500
            },
            Event::SendFile {
                region: region(3100, 2000),
                written: 1500
            },
            Event::SendFile {
                region: region(4600, 500),
                written: 500
            },
            Event::Write {
                offered: HELLO.len(),
                slices: 1,
                written: HELLO.len()
            },
        ]
    );
}

// Request bodies.

#[test]
fn streamed_request_body_reaches_body_chunk_whole_before_handle() {
    let driver = converse(
        b"POST /in HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world\
          POST /in HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\
          5\r\nhello\r\n1;x=y\r\n \r\n5\r\nworld\r\n0\r\nT: v\r\n\r\n\
          POST /in HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n\
          GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    assert_eq!(
        driver.output(),
        format!(
            "{}{}{}{HELLO}",
            echoed("hello world"),
            echoed("hello world"),
            echoed("")
        )
    );

    // One byte per read: one `body_chunk` per byte.
    let mut driver = Driver::new();
    driver.feed(
        b"POST /in HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world",
        1,
    );
    assert_eq!(driver.output(), echoed("hello world"));
    assert_eq!(driver.local.chunks, 11);
}

#[test]
fn streamed_request_body_may_be_larger_than_the_read_buffer() {
    let body: Vec<u8> = (0..5000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let mut input = b"POST /in HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n".to_vec();
    input.extend_from_slice(&body);
    input.extend_from_slice(b"POST /in HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
    for piece in body.chunks(700) {
        input.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        input.extend_from_slice(piece);
        input.extend_from_slice(b"\r\n");
    }
    input.extend_from_slice(b"0\r\n\r\n");
    let summary = String::from_utf8(streamed_summary(&body)).unwrap();
    let mut driver = Driver::new();
    driver.arrive(&input);
    assert_eq!(driver.output(), echoed(&summary).repeat(2));
    let mut driver = Driver::new();
    driver.feed(&input, 333);
    assert_eq!(driver.output(), echoed(&summary).repeat(2));
}

/// A first request, then a head filling the small read buffer to its
/// last byte: `POST <path>` with a 5-byte body to come.
fn head_ending_at_the_end_of_the_read_buffer(path: &str) -> String {
    let bare = format!("POST {path} HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nX: \r\n\r\n");
    let pad = READ - GET.len() - bare.len();
    let input = format!(
        "{GET}{}",
        bare.replace("X: ", &format!("X: {}", "p".repeat(pad)))
    );
    assert_eq!(input.len(), READ);
    input
}

#[test]
fn streamed_body_after_a_head_ending_at_the_end_of_the_read_buffer_is_read() {
    let mut driver = Driver::new();
    driver.arrive(head_ending_at_the_end_of_the_read_buffer("/in").as_bytes());
    assert_eq!(driver.output(), HELLO);
    // The connection must want the body (today: no interest, no room).
    assert!(driver.conn.interest().read, "does not read the body");
    driver.arrive(b"hello");
    assert_eq!(driver.output(), format!("{HELLO}{}", echoed("hello")));
}

#[test]
fn ignored_body_after_a_head_ending_at_the_end_of_the_read_buffer_is_read() {
    let mut driver = Driver::new();
    driver.arrive(head_ending_at_the_end_of_the_read_buffer("/no").as_bytes());
    assert_eq!(driver.output(), format!("{HELLO}{NOT_FOUND}"));
    assert!(driver.conn.interest().read, "does not read the body");
    driver.arrive(b"hello");
    driver.arrive(GET.as_bytes());
    assert_eq!(driver.output(), format!("{HELLO}{NOT_FOUND}{HELLO}"));
}

#[test]
fn streamed_body_after_a_head_near_the_end_of_the_read_buffer_is_read() {
    // One byte of room after the head: the body comes a byte per read,
    // slowly but whole.
    let input = head_ending_at_the_end_of_the_read_buffer("/in").replacen("pp", "p", 1);
    let driver = converse_script(&[Step::Send(input.as_bytes()), Step::Send(b"hello")]);
    assert_eq!(driver.output(), format!("{HELLO}{}", echoed("hello")));
}

#[test]
fn chunked_upload_is_decoded_before_the_handler_runs() {
    let driver = converse(b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(driver.output(), format!("{}{HELLO}", echoed("abcde")));
}

#[test]
fn a_body_filling_the_read_buffer_after_its_head_is_accepted() {
    let head_len = "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 000\r\n\r\n".len();
    let body = "b".repeat(READ - head_len);
    let input = format!("{}{GET}", echo(&body));
    assert_eq!(echo(&body).len(), READ);
    // The answer (1011 bytes) is the first in the write buffer: it fits.
    let driver = converse(input.as_bytes());
    assert_eq!(driver.output(), format!("{}{HELLO}", echoed(&body)));
}

// Hijack.

#[test]
fn hijack_hands_over_after_the_head_with_the_bytes_read_past_it() {
    let driver = converse(
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n\
          GET /upgrade HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n\
          HELLO in the new protocol",
    );
    assert_eq!(
        driver.output(),
        format!(
            "{HELLO}HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: upgrade\r\n\r\n"
        )
    );
    assert!(driver.conn.is_hijacked());
    // Bytes of the new protocol that came with the request are in
    // `leftover`; the rest were not read (`converse` checks their sum over
    // every schedule).
    assert_eq!(
        driver.conn.leftover(&driver.bufs),
        b"HELLO in the new protocol"
    );
    assert_eq!(driver.outcome().unread, b"HELLO in the new protocol");

    // Not before the head is out.
    let mut driver = Driver::new();
    driver.write_plan = vec![1];
    driver.writes_per_round = 1;
    driver
        .pending
        .extend(b"GET /upgrade HTTP/1.1\r\nHost: a\r\n\r\nxyz");
    driver.read_once();
    while driver.write_once() {
        let done = driver.out.ends_with(b"\r\n\r\n");
        assert_eq!(
            driver.conn.is_hijacked(),
            done,
            "after {} bytes",
            driver.out.len()
        );
    }
    assert!(driver.conn.is_hijacked());
    assert_eq!(driver.conn.leftover(&driver.bufs), b"xyz");
    assert!(!driver.conn.interest().read && driver.conn.poll_timeout().is_none());
}

// Odd handlers and odd inputs.

#[test]
fn a_head_too_large_for_the_write_buffer_becomes_a_bare_500_and_close() {
    let input = format!("GET /fat/{} HTTP/1.1\r\nHost: a\r\n\r\n{GET}", WRITE - 40);
    let driver = converse(input.as_bytes());
    assert_eq!(
        driver.output(),
        "HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    );
    assert!(driver.write_closed);
}

#[test]
fn a_body_too_large_to_copy_is_refused_to_the_handler_only() {
    let driver =
        converse(b"GET /big/5000 HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(
        driver.output(),
        format!("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 7\r\n\r\nno room{HELLO}")
    );
    assert!(!driver.write_closed);
}

#[test]
fn empty_lines_between_pipelined_requests_are_skipped() {
    let input = format!("{GET}\r\n{GET}\r\n\r\n{GET}");
    let driver = converse(input.as_bytes());
    assert_eq!(driver.output(), HELLO.repeat(3));
}

#[test]
fn long_static_bodies_go_out_without_a_copy() {
    let mut driver = Driver::new();
    let input = b"GET /long-static HTTP/1.1\r\nHost: a\r\n\r\n";
    driver.arrive(input);
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
        LONG_STATIC.len()
    );
    let expected = [head.as_bytes(), &LONG_STATIC[..]].concat();
    assert_eq!(driver.out, expected);
    // The head from the write buffer, then the body where it lies.
    assert_eq!(
        driver.log,
        [
            Event::Read(input.len()),
            Event::Write {
                offered: expected.len(),
                slices: 2,
                written: expected.len()
            }
        ]
    );
}

#[test]
fn static_bodies_fill_the_output_queue_before_the_write_buffer() {
    // Answers to `100 Continue` requests are two segments each (the
    // interim response, then the answer): the queue, not the buffer,
    // bounds a batch of them.
    let input = GET.repeat(40);
    let driver = converse(input.as_bytes());
    assert_eq!(driver.output(), HELLO.repeat(40));
    let continues =
        "POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx"
            .repeat(25);
    let driver = converse(format!("{continues}{}", GET.repeat(10)).as_bytes());
    assert_eq!(
        driver.output(),
        format!("HTTP/1.1 100 Continue\r\n\r\n{}", echoed("x")).repeat(25) + &HELLO.repeat(10)
    );
}

// Buffers.

#[test]
fn idle_connections_hold_no_buffers() {
    let mut driver = Driver::new();
    assert!(!driver.conn.holds_buffers());
    driver.arrive(GET.as_bytes());
    assert_eq!(driver.output(), HELLO);
    assert!(!driver.conn.holds_buffers());

    driver.arrive(b"GET / HT");
    assert!(driver.conn.holds_buffers(), "partial head");
    driver.arrive(b"TP/1.1\r\nHost: a\r\n\r\n");
    assert!(!driver.conn.holds_buffers());

    driver.arrive(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nab");
    assert!(driver.conn.holds_buffers(), "partial body");
    driver.arrive(b"cd");
    assert!(!driver.conn.holds_buffers());

    driver.write_plan = vec![10, 0];
    driver.arrive(GET.as_bytes());
    assert!(driver.conn.holds_buffers(), "output in flight");
    driver.write_plan = vec![usize::MAX];
    driver.pump();
    assert!(!driver.conn.holds_buffers());

    driver.write_plan = vec![100, 0];
    driver.arrive(b"GET /gen/chunked/100000/1000 HTTP/1.1\r\nHost: a\r\n\r\n");
    assert!(driver.conn.holds_buffers(), "stream in progress");
    driver.write_plan = vec![usize::MAX];
    driver.pump();
    assert!(!driver.conn.holds_buffers());

    // Every schedule of `converse` is also run with the buffers scribbled
    // over whenever they are not held; a long pipelined conversation:
    let input = format!(
        "{GET}{}GET /stream HTTP/1.1\r\nHost: a\r\n\r\n{}GET /file/1/2/30 HTTP/1.1\r\nHost: a\r\n\r\n",
        echo("abc"),
        echo("")
    );
    converse(input.as_bytes());
}

#[test]
fn bodies_up_to_half_the_write_buffer_fit() {
    // The first answer takes exactly the first half of the write buffer;
    // the second is started, half the buffer being free, and its head and
    // body take half the buffer less the 160 bytes `Response::body` keeps
    // for the fields the connection adds.
    let first = 1024 - "HTTP/1.1 200 OK\r\nContent-Length: 0000\r\n\r\n".len();
    let second = 1024 - 160 - "HTTP/1.1 200 OK\r\n".len();
    let input = format!(
        "GET /big/{first} HTTP/1.1\r\nHost: a\r\n\r\nGET /big/{second} HTTP/1.1\r\nHost: a\r\n\r\n"
    );
    let mut driver = Driver::new();
    driver.arrive(input.as_bytes());
    assert!(driver.writes_offered()[0] > 1024);
    assert!(
        driver.output().ends_with(&format!(
            "Content-Length: {second}\r\n\r\n{}",
            "x".repeat(second)
        )),
        "{}",
        &driver.output()[driver.output().len() - 60..]
    );
}

#[test]
fn a_chunk_announcing_more_than_the_body_limit_is_refused_at_its_size_line() {
    let config = Config {
        max_body_len: 10,
        ..Config::DEFAULT
    };
    let make = || Driver::with_config(config);
    let head = "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    // At the limit: the connection waits for the data, then answers.
    let at_limit = format!("{head}a\r\n");
    let driver = converse_with(&make, &[Step::Send(at_limit.as_bytes())]);
    assert_eq!(driver.output(), "");
    assert!(!driver.conn.is_closed());
    let whole = format!("{head}a\r\n0123456789\r\n0\r\n\r\n");
    let driver = converse_with(&make, &[Step::Send(whole.as_bytes())]);
    assert_eq!(driver.output(), echoed("0123456789"));
    // One over, split across chunks or in one size line, and a size that
    // no buffer could hold: 413 at once, no data awaited.
    for sizes in ["b\r\n", "5\r\n01234\r\n6\r\n", "ffffffffffffffff\r\n"] {
        let input = format!("{head}{sizes}");
        let driver = converse_with(&make, &[Step::Send(input.as_bytes())]);
        assert_eq!(driver.output(), error(Error::BodyTooLarge), "{sizes:?}");
        assert!(driver.write_closed, "{sizes:?}");
    }
    // With no configured limit, the read buffer is the limit.
    let input = format!("{head}4001\r\n");
    let driver = converse(input.as_bytes());
    assert_eq!(driver.output(), error(Error::BodyTooLarge));
}

#[test]
fn shutdown_waits_a_moment_for_a_new_connections_first_request() {
    let wait = Config::DEFAULT.header_timeout / 10;
    // Accepted just before the shutdown, its request on the way: it is
    // answered, with `Connection: close`, then the connection closes.
    let mut driver = Driver::new();
    let now = driver.now;
    driver.conn.shutdown(now);
    assert!(!driver.conn.is_closed());
    driver.advance(wait - 1);
    driver.arrive(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let out = String::from_utf8_lossy(&driver.out).into_owned();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(out.contains("Connection: close"), "{out}");
    assert!(driver.write_closed);

    // Nothing comes: closed without a word once the moment is over.
    let mut driver = Driver::new();
    let now = driver.now;
    driver.conn.shutdown(now);
    driver.advance(wait - 1);
    assert!(!driver.conn.is_closed());
    driver.advance(1);
    assert!(driver.conn.is_closed());
    assert!(driver.out.is_empty());

    // One idle after a request closes at once.
    let mut driver = Driver::new();
    driver.arrive(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let now = driver.now;
    driver.conn.shutdown(now);
    assert!(driver.conn.is_closed());
}

#[test]
fn a_request_body_cut_short_reports_the_tag_its_pieces_set() {
    let head = b"POST /in HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n";
    // The connection is dropped (reset) after two pieces.
    let mut driver = Driver::new();
    driver.arrive(head);
    driver.arrive(b"abc");
    driver.arrive(b"de");
    assert_eq!(driver.local.chunks, 2);
    assert!(driver.local.ended.is_empty());
    driver.retire();
    assert_eq!(driver.local.ended, [(2, peregrine_core::Outcome::Aborted)]);

    // The peer closes its side after one piece.
    let mut driver = Driver::new();
    driver.arrive(head);
    driver.arrive(b"abc");
    driver.close_read();
    driver.retire();
    assert_eq!(driver.local.ended, [(1, peregrine_core::Outcome::Aborted)]);

    // The body times out: 408, then the connection goes.
    let mut driver = Driver::new();
    driver.arrive(head);
    driver.arrive(b"abc");
    driver.advance(Config::DEFAULT.body_timeout);
    assert!(driver.output().contains("408"), "{}", driver.output());
    driver.retire();
    assert_eq!(driver.local.ended, [(1, peregrine_core::Outcome::Aborted)]);

    // No piece yet: no tag, nothing to report.
    let mut driver = Driver::new();
    driver.arrive(head);
    driver.retire();
    assert!(driver.local.ended.is_empty());
}
