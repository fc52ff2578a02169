//! A handler that panics ends the request or connection it was serving,
//! never its worker: under load, on every backend, each panicking request
//! is answered `500` (or, mid-body, cut short) and closed, every other
//! request is answered, and the panics are counted. Over HTTP/2 the
//! body a panicking request gathered leaves the connection's decoding
//! area to the streams that go on.

use std::io::{Read, Write};
use std::sync::Once;
use std::time::Duration;

use bytes::Bytes;
use peregrine_core::{BodyPolicy, Config, Fill, H2c, Handler, Request, Response};
use peregrine_tests::{Backend, Options, TestServer, backend_tests, get, h2c_tests};

#[path = "common/h2_client.rs"]
mod h2_client;

backend_tests!(
    [concurrent] a_panicking_route_under_load_is_answered_500_and_the_rest_served,
    a_panicking_route_is_answered_500_and_its_connection_closed,
    a_body_that_panics_midway_is_cut_short,
    a_panic_deciding_the_body_policy_is_answered_500,
);

// The exchanges that mean the same over HTTP/2.
h2c_tests!(
    a_panicking_route_is_answered_500_and_its_connection_closed,
    a_body_that_panics_midway_is_cut_short,
    a_panic_deciding_the_body_policy_is_answered_500,
);

/// `/panic` panics in `handle`; `/policy` in `body_policy`; `/stream`
/// sends one piece, then panics in `fill_body`; anything else is `ok`.
struct Fragile;

impl Handler for Fragile {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
        match request.path() {
            b"/panic" => {
                response.header("X-Begun", b"yes").unwrap();
                panic!("the handler failed");
            }
            b"/stream" => response.stream(None),
            _ => response.body(b"ok").unwrap(),
        }
    }

    fn body_policy(&self, request: &Request<'_>) -> BodyPolicy {
        if request.path() == b"/policy" {
            panic!("the policy failed");
        }
        BodyPolicy::Buffer
    }

    fn fill_body(&self, tag: &mut u64, buf: &mut [u8], _: &mut ()) -> Fill {
        *tag += 1;
        if *tag > 1 {
            panic!("the body failed");
        }
        buf[..5].copy_from_slice(b"first");
        Fill::More(5)
    }
}

/// The panics are expected: keep the test output to what fails.
fn quiet_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let expected = info
                .payload()
                .downcast_ref::<&str>()
                .is_some_and(|message| message.ends_with("failed"));
            if !expected {
                default(info);
            }
        }));
    });
}

fn a_panicking_route_under_load_is_answered_500_and_the_rest_served(backend: Backend) {
    quiet_panics();
    let options = Options {
        workers: 1,
        ..Options::default()
    };
    let server = TestServer::start_with(backend, options, Fragile);
    const CLIENTS: usize = 4;
    const ROUNDS: usize = 50;
    let addr = server.addr();
    let threads: Vec<_> = (0..CLIENTS)
        .map(|_| {
            std::thread::spawn(move || {
                let mut client = peregrine_tests::Client::connect(addr);
                for round in 0..ROUNDS {
                    client.send(&get("/ok"));
                    let answer = client.response();
                    assert_eq!((answer.status, answer.body.as_slice()), (200, &b"ok"[..]));
                    if round % 5 == 0 {
                        let mut victim = peregrine_tests::Client::connect(addr);
                        victim.send(&get("/panic"));
                        let answer = victim.response();
                        assert_eq!(answer.status, 500, "{answer:?}");
                        assert!(answer.header("X-Begun").is_none(), "{answer:?}");
                        assert!(answer.has_connection_token("close"), "{answer:?}");
                        assert!(victim.is_closed_within(Duration::from_secs(5)));
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("a client failed");
    }
    // The worker that served every panic still serves.
    let mut client = server.connect();
    client.send(&get("/ok"));
    assert_eq!(client.response().status, 200);
    let stats = server.stop();
    assert_eq!(
        stats.handler_panics,
        (CLIENTS * ROUNDS / 5) as u64,
        "{stats:?}"
    );
    assert_eq!(stats.responses[4], stats.handler_panics, "{stats:?}");
}

fn a_body_that_panics_midway_is_cut_short(backend: Backend) {
    quiet_panics();
    let server = TestServer::start(backend, Fragile);
    let mut stream = std::net::TcpStream::connect(server.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(&get("/stream")).unwrap();
    // The head and the first piece, then the end of the connection without
    // the last chunk: the client can tell the body is incomplete.
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .expect("closed, not timed out");
    let answer = String::from_utf8(answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.ends_with("\r\n\r\n5\r\nfirst\r\n"), "{answer}");
    let mut other = server.connect();
    other.send(&get("/ok"));
    assert_eq!(other.response().status, 200);
    assert_eq!(server.stop().handler_panics, 1);
}

fn a_panicking_route_is_answered_500_and_its_connection_closed(backend: Backend) {
    quiet_panics();
    let server = TestServer::start(backend, Fragile);
    let mut client = server.connect();
    client.send(&get("/"));
    assert_eq!(client.response().status, 200);
    client.send(&get("/panic"));
    let answer = client.response();
    assert_eq!(answer.status, 500, "{answer:?}");
    assert!(client.is_closed_within(Duration::from_secs(5)));
    // The worker goes on serving.
    let mut other = server.connect();
    other.send(&get("/"));
    assert_eq!(other.response().status, 200);
    drop(other);
    assert_eq!(server.stop().handler_panics, 1);
}

fn a_panic_deciding_the_body_policy_is_answered_500(backend: Backend) {
    quiet_panics();
    let server = TestServer::start(backend, Fragile);
    let mut client = server.connect();
    client.send(b"POST /policy HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nx");
    let answer = client.response();
    assert_eq!(answer.status, 500, "{answer:?}");
    assert!(client.is_closed_within(Duration::from_secs(5)));
    assert_eq!(server.stop().handler_panics, 1);
}

/// A POST of `path` over HTTP/2, with a `content-length` of `len` if
/// given.
fn post(path: &str, len: Option<usize>) -> http::Request<()> {
    let mut request = http::Request::builder()
        .method("POST")
        .uri(format!("http://localhost{path}"));
    if let Some(len) = len {
        request = request.header("content-length", len.to_string());
    }
    request.body(()).expect("a request")
}

/// Over HTTP/2, a request whose body was gathered (its room set aside at
/// the start of the connection's 16 KiB decoding area) panics: it is
/// answered `500`, then GOAWAY. A stream begun before, whose body has no
/// `content-length` and grows after the first one's, then fills the area
/// all but its head: it is answered, not refused `413` for want of the
/// room the first one held.
fn a_panic_over_a_gathered_body_leaves_the_area_to_the_streams_begun(backend: Backend) {
    use h2_client::{connect, get, read, run};
    quiet_panics();
    let options = Options {
        config: Config {
            h2c: H2c::Beside,
            ..Config::DEFAULT
        },
        ..Options::default()
    };
    let server = TestServer::start_with(backend, options, Fragile);
    let addr = server.addr();
    run(async move {
        let mut client = connect(addr).await;
        let (panicking, mut first) = client
            .send_request(post("/panic", Some(1000)), false)
            .expect("send");
        client = client.ready().await.expect("room for a stream");
        let (growing, mut second) = client.send_request(post("/", None), false).expect("send");
        second
            .send_data(Bytes::from(vec![b'x'; 100]), false)
            .expect("send a piece");
        // Both heads taken: a request after them is answered.
        assert_eq!(get(&mut client, "/").await, (200, b"ok".to_vec()));
        first
            .send_data(Bytes::from(vec![b'p'; 1000]), true)
            .expect("send the body");
        let answer = panicking.await.expect("an answer");
        assert_eq!(answer.status().as_u16(), 500);
        second
            .send_data(Bytes::from(vec![b'x'; 15_800]), true)
            .expect("send the rest");
        assert_eq!(read(growing).await, (200, b"ok".to_vec()));
    });
    assert_eq!(server.stop().handler_panics, 1);
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn a_panic_over_a_gathered_body_leaves_the_area_to_the_streams_begun_epoll() {
    a_panic_over_a_gathered_body_leaves_the_area_to_the_streams_begun(Backend::Epoll);
}

#[test]
fn a_panic_over_a_gathered_body_leaves_the_area_to_the_streams_begun_std_pool() {
    a_panic_over_a_gathered_body_leaves_the_area_to_the_streams_begun(Backend::StdPool);
}
