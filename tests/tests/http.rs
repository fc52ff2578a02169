//! HTTP/1.1 semantics over real sockets: keep-alive and closing,
//! pipelining, requests split to single bytes, uploads, `100 Continue`,
//! `HEAD`, and every error status a malformed request earns.

use std::io::Read;
use std::net::Shutdown;
use std::time::Duration;

use peregrine_examples::hello::Hello;
use peregrine_tests::{
    Backend, Blocking, Config, Options, RawResponse, TestServer, backend_tests, get, h2c_tests,
    pattern, post_echo, send_byte_by_byte,
};

backend_tests!(
    keep_alive_serves_every_request_on_one_connection,
    http10_without_keep_alive_closes_after_the_response,
    http10_with_keep_alive_stays_open,
    connection_close_from_the_client_closes,
    last_request_allowed_on_a_connection_says_close,
    half_closed_client_still_gets_its_responses,
    [concurrent] half_close_arriving_with_the_request_closes_the_connection,
    pipelined_requests_in_one_write_are_answered_in_order,
    request_written_one_byte_at_a_time,
    [concurrent] uploads_are_echoed_exactly,
    body_over_the_read_buffer_is_refused,
    [concurrent] expect_100_continue,
    head_has_the_get_length_and_no_body,
    a_head_with_as_many_fields_as_the_default_table_is_served,
    malformed_requests_get_their_status_and_the_connection_closes,
    malformed_request_in_a_pipeline_is_answered_after_those_before_it,
    [concurrent] handler_errors_keep_the_connection_open,
);

// The exchanges that mean the same over HTTP/2.
h2c_tests!(
    keep_alive_serves_every_request_on_one_connection,
    uploads_are_echoed_exactly,
    head_has_the_get_length_and_no_body,
    a_head_with_as_many_fields_as_the_default_table_is_served,
    handler_errors_keep_the_connection_open,
);

/// A ureq agent that returns 4xx/5xx as responses, with a deadline.
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

/// Asserts `response` is `200 Hello, World!` on a connection kept open,
/// in the version `backend` answers with.
#[track_caller]
fn assert_hello(backend: Backend, response: &RawResponse) {
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.version, backend.version());
    assert_eq!(response.body, b"Hello, World!");
    assert_eq!(response.content_length(), Some(13));
    assert!(!response.has_connection_token("close"), "{response:?}");
}

/// Bytes no two positions of which are likely to match by accident.
fn varied(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

fn keep_alive_serves_every_request_on_one_connection(backend: Backend) {
    let server = TestServer::start(backend, Hello::new());
    let mut client = server.connect();
    for round in 0..5 {
        client.send(&get("/"));
        assert_hello(backend, &client.response());
        client.send(&get(&format!("/bytes/{}", 1000 + round)));
        let bytes = client.response();
        assert_eq!(bytes.status, 200);
        assert_eq!(bytes.body, pattern(1000 + round));
        let body = format!("round {round}");
        client.send(&post_echo(body.as_bytes()));
        assert_eq!(client.response().body, body.as_bytes());
    }
    assert!(client.buffered().is_empty());
    drop(client);
    let stats = server.stop();
    assert_eq!(stats.connections_accepted, 1, "{stats:?}");
    assert_eq!(stats.requests, 15, "{stats:?}");
    assert_eq!(stats.responses, [0, 15, 0, 0, 0], "{stats:?}");
}

fn http10_without_keep_alive_closes_after_the_response(backend: Backend) {
    let server = TestServer::start(backend, Hello::new());
    let mut client = server.connect();
    client.send(b"GET / HTTP/1.0\r\n\r\n");
    let response = client.response();
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"Hello, World!");
    assert!(!response.has_connection_token("keep-alive"), "{response:?}");
    client.expect_closed();

    // A streamed body of unknown length is delimited by the close for an
    // HTTP/1.0 client; with a length it is still the close that ends the
    // connection.
    let mut client = server.connect();
    client.send(b"GET /bytes/5000 HTTP/1.0\r\n\r\n");
    let response = client.response();
    assert_eq!(response.status, 200);
    assert!(!response.chunked, "no chunked coding for HTTP/1.0");
    assert_eq!(response.body, pattern(5000));
    client.expect_closed();
}

fn http10_with_keep_alive_stays_open(backend: Backend) {
    let server = TestServer::start(backend, Hello::new());
    let mut client = server.connect();
    for _ in 0..3 {
        client.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        let response = client.response();
        assert_eq!(response.status, 200);
        assert_eq!(response.body, b"Hello, World!");
        assert!(response.has_connection_token("keep-alive"), "{response:?}");
    }
    // Still open: an idle connection is not closed before its timeout.
    assert!(!client.is_closed_within(Duration::from_millis(200)));
    client.send(b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(client.response().body, b"Hello, World!");
    client.expect_closed();
    drop(client);
    assert_eq!(server.stop().connections_accepted, 1);
}

fn connection_close_from_the_client_closes(backend: Backend) {
    let server = TestServer::start(backend, Hello::new());
    let mut client = server.connect();
    client.send(&get("/"));
    assert_hello(backend, &client.response());
    // A request after the one that says `close`, in the same write, is
    // never answered.
    let mut requests = b"GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n".to_vec();
    requests.extend_from_slice(&get("/bytes/10"));
    client.send(&requests);
    let response = client.response();
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"Hello, World!");
    assert!(response.has_connection_token("close"), "{response:?}");
    client.expect_closed();
}

fn last_request_allowed_on_a_connection_says_close(backend: Backend) {
    let options = Options {
        config: Config {
            max_requests: 3,
            ..Config::DEFAULT
        },
        ..Options::default()
    };
    let server = TestServer::start_with(backend, options, Hello::new());
    let mut client = server.connect();
    for _ in 0..2 {
        client.send(&get("/"));
        assert_hello(backend, &client.response());
    }
    client.send(&get("/"));
    let last = client.response();
    assert_eq!(last.body, b"Hello, World!");
    assert!(last.has_connection_token("close"), "{last:?}");
    client.expect_closed();
}

fn half_closed_client_still_gets_its_responses(backend: Backend) {
    let server = TestServer::start(backend, Hello::new());
    let mut client = server.connect();
    let mut requests = get("/");
    requests.extend(post_echo(b"before the FIN"));
    requests.extend(get("/bytes/20000"));
    client.send(&requests);
    client
        .stream()
        .shutdown(Shutdown::Write)
        .expect("shut down the write side");
    assert_eq!(client.response().body, b"Hello, World!");
    assert_eq!(client.response().body, b"before the FIN");
    assert_eq!(client.response().body, pattern(20000));
    // Whether the server noticed the FIN depends on when it arrived; see
    // the next test.
    drop(client);

    // A FIN after the response: the server closes at once.
    let mut client = server.connect();
    client.send(&get("/"));
    assert_hello(backend, &client.response());
    client
        .stream()
        .shutdown(Shutdown::Write)
        .expect("shut down the write side");
    assert!(client.is_closed_within(Duration::from_secs(5)));
}

fn half_close_arriving_with_the_request_closes_the_connection(backend: Backend) {
    // One worker, held busy, so that the request and the FIN behind it
    // are both waiting when it first reads the connection.
    let options = Options {
        workers: 1,
        ..Options::default()
    };
    let (handler, control) = Blocking::new();
    let server = TestServer::start_with(backend, options, handler);
    let mut busy = server.connect();
    busy.send(&get("/block"));
    control.wait_entered();
    let mut client = server.connect();
    client.send(&get("/"));
    client
        .stream()
        .shutdown(Shutdown::Write)
        .expect("shut down the write side");
    control.release();
    assert_eq!(busy.response().body, b"released");
    let response = client.response();
    assert_eq!(response.body, b"Hello, World!");
    // The peer can send nothing more: the server has no reason to keep
    // the connection (the default idle timeout is 60 s).
    assert!(
        client.is_closed_within(Duration::from_secs(3)),
        "still open 3 s after the response to a client that had half-closed"
    );
}

fn pipelined_requests_in_one_write_are_answered_in_order(backend: Backend) {
    let server = TestServer::start(backend, Hello::new());
    let mut client = server.connect();
    let mut requests = Vec::new();
    for i in 0..100u64 {
        match i % 3 {
            0 => requests.extend(post_echo(format!("request {i}").as_bytes())),
            1 => requests.extend(get(&format!("/bytes/{}", i * 37))),
            _ => requests.extend(get(&format!("/missing/{i}"))),
        }
    }
    client.send(&requests);
    for i in 0..100u64 {
        let response = client.response();
        match i % 3 {
            0 => {
                assert_eq!(response.status, 200, "response {i}");
                assert_eq!(response.text(), format!("request {i}"), "response {i}");
            }
            1 => {
                assert_eq!(response.status, 200, "response {i}");
                assert_eq!(response.body, pattern(i * 37), "response {i}");
            }
            _ => assert_eq!(response.status, 404, "response {i}"),
        }
        assert!(!response.has_connection_token("close"), "response {i}");
    }
    assert!(client.buffered().is_empty(), "more than 100 responses");

    // 1,000 requests in one write: five times the read buffer, so heads
    // are split where it fills.
    let echo = |i: usize| format!("{i}:{}", "x".repeat(i % 50));
    let requests: Vec<u8> = (0..1000)
        .flat_map(|i| post_echo(echo(i).as_bytes()))
        .collect();
    assert!(requests.len() > 5 * 16 * 1024);
    client.send(&requests);
    for i in 0..1000 {
        let response = client.response();
        assert_eq!(response.text(), echo(i), "response {i}");
    }
    assert!(client.buffered().is_empty(), "more than 1,000 responses");

    // The connection is still good.
    client.send(&get("/"));
    assert_hello(backend, &client.response());
    drop(client);
    let stats = server.stop();
    assert_eq!(stats.requests, 1101, "{stats:?}");
    assert_eq!(stats.connections_accepted, 1, "{stats:?}");
}

fn request_written_one_byte_at_a_time(backend: Backend) {
    let server = TestServer::start(backend, Hello::new());
    let mut client = server.connect();
    send_byte_by_byte(&mut client, &get("/"));
    assert_hello(backend, &client.response());
    let body = b"sent one byte per segment";
    send_byte_by_byte(&mut client, &post_echo(body));
    assert_eq!(client.response().body, body);
    let chunked =
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
    send_byte_by_byte(&mut client, chunked);
    assert_eq!(client.response().body, b"abcde");
}

fn uploads_are_echoed_exactly(backend: Backend) {
    let server = TestServer::start(backend, Hello::new());
    let agent = agent();

    // Content-Length.
    let body = varied(12 * 1024);
    let mut response = agent.post(server.url("/echo")).send(&body[..]).unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.body_mut().read_to_vec().unwrap(), body);

    // Chunked: a reader of unknown length.
    let body = varied(10_000);
    let mut reader = &body[..];
    let mut response = agent
        .post(server.url("/echo"))
        .send(ureq::SendBody::from_reader(&mut reader))
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.body_mut().read_to_vec().unwrap(), body);

    // Chunked with extensions and trailers, by hand, then another request
    // on the same connection.
    let mut client = server.connect();
    client.send(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
          5\r\nhello\r\n7;name=value\r\n, world\r\n0\r\nX-Trailer: yes\r\n\r\n",
    );
    let response = client.response();
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"hello, world");
    client.send(&post_echo(b""));
    let response = client.response();
    assert_eq!(response.status, 200);
    assert_eq!(response.content_length(), Some(0));
}

fn body_over_the_read_buffer_is_refused(backend: Backend) {
    let server = TestServer::start(backend, Hello::new());

    // Announced: refused before a byte of it is sent.
    let mut client = server.connect();
    client.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 16385\r\n\r\n");
    let response = client.response();
    assert_eq!(response.status, 413, "{response:?}");
    assert!(response.has_connection_token("close"), "{response:?}");
    client.expect_closed();

    // Chunked: refused once it outgrows the buffer.
    let mut client = server.connect();
    let mut request =
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..20 {
        request.extend_from_slice(b"400\r\n");
        request.extend_from_slice(&[b'x'; 1024]);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    client.send(&request);
    let response = client.response();
    assert_eq!(response.status, 413, "{response:?}");
    assert!(response.has_connection_token("close"), "{response:?}");
    client.expect_closed();
}

fn expect_100_continue(backend: Backend) {
    let server = TestServer::start(backend, Hello::new());
    let mut client = server.connect();
    client.send(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n",
    );
    // The interim response arrives before any of the body is sent.
    let interim = client.response();
    assert_eq!(
        (
            interim.version.as_str(),
            interim.status,
            interim.reason.as_str()
        ),
        ("HTTP/1.1", 100, "Continue"),
        "{interim:?}"
    );
    assert!(client.buffered().is_empty());
    client.send(b"hello there");
    let response = client.response();
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"hello there");

    // A client need not wait for the 100: with head and body in one write
    // the server may send it or not (RFC 9110 §10.1.1), then the answer.
    client.send(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\neager",
    );
    let mut response = client.response();
    if response.status == 100 {
        response = client.response();
    }
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"eager");
    assert!(client.buffered().is_empty());

    // A body that would be refused earns no 100: the final status at once.
    let mut client = server.connect();
    client.send(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n\r\n",
    );
    let response = client.response();
    assert_eq!(response.status, 413, "{response:?}");
    client.expect_closed();
}

fn head_has_the_get_length_and_no_body(backend: Backend) {
    let server = TestServer::start(backend, Hello::new());
    let mut client = server.connect();
    client.send(&get("/"));
    let get_response = client.response();
    assert_hello(backend, &get_response);

    // HEAD and GET in one write: the GET's status line must follow the
    // HEAD's head directly.
    for path in ["/", "/bytes/1000"] {
        let mut requests = format!("HEAD {path} HTTP/1.1\r\nHost: t\r\n\r\n").into_bytes();
        requests.extend(get(path));
        client.send(&requests);
        let head = client.head_response();
        let full = client.response();
        assert_eq!(head.status, 200, "{head:?}");
        assert!(head.body.is_empty());
        assert!(!head.chunked);
        assert_eq!(full.status, 200, "{full:?}");
        assert_eq!(
            head.content_length(),
            Some(full.body.len() as u64),
            "{path}"
        );
        assert_eq!(
            head.header("content-type"),
            full.header("content-type"),
            "{path}"
        );
    }
    assert!(client.buffered().is_empty());
    // And the connection holds nothing more.
    assert!(!client.is_closed_within(Duration::from_millis(100)));
}

/// Browsers behind proxies, with cookies, send 40 to 60 fields: the default
/// header table holds 100 (hyper's default), so a head with exactly that
/// many is served, and one more is refused with 431 (in the malformed
/// cases below).
fn a_head_with_as_many_fields_as_the_default_table_is_served(backend: Backend) {
    let fields = peregrine_driver::DEFAULT_MAX_HEADERS;
    assert!(fields >= 100);
    let head = format!(
        "GET / HTTP/1.1\r\nHost: t\r\n{}\r\n",
        (1..fields)
            .map(|i| format!("X-Header-{i}: {i}\r\n"))
            .collect::<String>()
    );
    let server = TestServer::start(backend, Hello::new());
    let mut client = server.connect();
    client.send(head.as_bytes());
    assert_hello(backend, &client.response());
}

/// One malformed request and the status it must earn.
struct Malformed {
    /// What it is.
    name: &'static str,
    /// The bytes sent.
    wire: Vec<u8>,
    /// The status expected.
    status: u16,
}

fn malformed_requests_get_their_status_and_the_connection_closes(backend: Backend) {
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(9000));
    let many_headers = format!(
        "GET / HTTP/1.1\r\nHost: t\r\n{}\r\n",
        (0..peregrine_driver::DEFAULT_MAX_HEADERS)
            .map(|i| format!("X-Header-{i}: {i}\r\n"))
            .collect::<String>()
    );
    let huge_head = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
        "v".repeat(17_000)
    );
    let cases = [
        Malformed {
            name: "method not a token",
            wire: b"G@T / HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(),
            status: 400,
        },
        Malformed {
            name: "extra word in the request line",
            wire: b"GET / HTTP/1.1 now\r\nHost: t\r\n\r\n".to_vec(),
            status: 400,
        },
        Malformed {
            name: "bare LF",
            wire: b"GET / HTTP/1.1\nHost: t\n\n".to_vec(),
            status: 400,
        },
        Malformed {
            name: "missing Host",
            wire: b"GET / HTTP/1.1\r\n\r\n".to_vec(),
            status: 400,
        },
        Malformed {
            name: "two Host fields",
            wire: b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".to_vec(),
            status: 400,
        },
        Malformed {
            name: "Host with a space",
            wire: b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n".to_vec(),
            status: 400,
        },
        Malformed {
            name: "Host with userinfo, HTTP/1.0",
            wire: b"GET / HTTP/1.0\r\nHost: user@t\r\n\r\n".to_vec(),
            status: 400,
        },
        Malformed {
            name: "Host with a port that is not digits",
            wire: b"GET / HTTP/1.1\r\nHost: t:80x\r\n\r\n".to_vec(),
            status: 400,
        },
        Malformed {
            name: "Host with a path",
            wire: b"GET / HTTP/1.1\r\nHost: t/evil\r\nAccept: */*\r\n\r\n".to_vec(),
            status: 400,
        },
        Malformed {
            name: "Content-Length with Transfer-Encoding",
            wire: b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                .to_vec(),
            status: 400,
        },
        Malformed {
            name: "bad chunk size",
            wire: b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".to_vec(),
            status: 400,
        },
        Malformed {
            name: "target over 8 KiB",
            wire: long_target.into_bytes(),
            status: 414,
        },
        Malformed {
            name: "one header field over the table",
            wire: many_headers.into_bytes(),
            status: 431,
        },
        Malformed {
            name: "head over the read buffer",
            wire: huge_head.into_bytes(),
            status: 431,
        },
        Malformed {
            name: "Transfer-Encoding: gzip",
            wire: b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n".to_vec(),
            status: 501,
        },
        Malformed {
            name: "HTTP/2.0",
            wire: b"GET / HTTP/2.0\r\nHost: t\r\n\r\n".to_vec(),
            status: 505,
        },
    ];
    let server = TestServer::start(backend, Hello::new());
    for case in &cases {
        let mut client = server.connect();
        client.send(&case.wire);
        let response = client.response();
        assert_eq!(response.status, case.status, "{}: {response:?}", case.name);
        assert!(
            response.has_connection_token("close"),
            "{}: {response:?}",
            case.name
        );
        assert!(!response.body.is_empty(), "{}: no reason given", case.name);
        client.expect_closed();
    }
    let stats = server.stop();
    assert_eq!(stats.parse_errors, cases.len() as u64, "{stats:?}");
}

fn malformed_request_in_a_pipeline_is_answered_after_those_before_it(backend: Backend) {
    let server = TestServer::start(backend, Hello::new());
    let mut client = server.connect();
    let mut requests = get("/");
    requests.extend(post_echo(b"second"));
    requests.extend(b"GET / HTTP/1.1\r\nHost: t\r\nBad Header: x\r\n\r\n");
    requests.extend(get("/never"));
    client.send(&requests);
    assert_hello(backend, &client.response());
    assert_eq!(client.response().body, b"second");
    let error = client.response();
    assert_eq!(error.status, 400, "{error:?}");
    assert!(error.has_connection_token("close"));
    client.expect_closed();
}

fn handler_errors_keep_the_connection_open(backend: Backend) {
    let server = TestServer::start(backend, Hello::new());
    let mut client = server.connect();
    client.send(b"PUT / HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi");
    let response = client.response();
    assert_eq!(response.status, 405, "{response:?}");
    assert_eq!(response.header("allow"), Some("GET, HEAD, POST"));
    assert!(!response.has_connection_token("close"));
    client.send(&get("/nowhere"));
    let response = client.response();
    assert_eq!(response.status, 404, "{response:?}");
    assert!(!response.has_connection_token("close"));
    client.send(&get("/bytes/not-a-number"));
    assert_eq!(client.response().status, 400);
    client.send(&get("/"));
    assert_hello(backend, &client.response());

    // The same through ureq.
    let agent = agent();
    let mut response = agent.delete(server.url("/")).call().unwrap();
    assert_eq!(response.status(), 405);
    let _ = response.body_mut().as_reader().read_to_end(&mut Vec::new());
    let response = agent.get(server.url("/nowhere")).call().unwrap();
    assert_eq!(response.status(), 404);
}
