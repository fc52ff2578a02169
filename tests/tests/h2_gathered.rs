//! Request bodies gathered whole (`BodyPolicy::Buffer`) on many streams
//! of one HTTP/2 connection at once, over real sockets (h2c with prior
//! knowledge, the `h2` crate as the client), on the readiness backend and
//! the portable one: eight POSTs of different sizes, their bodies sent in
//! pieces that interleave on the wire, one without a `content-length`,
//! each echoed byte for byte.

use bytes::Bytes;
use peregrine_core::{BodyPolicy, Config, H2c, Handler, Request, Response};
use peregrine_tests::{Backend, Options, TestServer};

#[path = "common/h2_client.rs"]
mod h2_client;

use h2_client::{connect, read, run};

/// Gathers every request's body whole and echoes it.
struct Echo;

impl Handler for Echo {
    fn body_policy(&self, _: &Request<'_>) -> BodyPolicy {
        BodyPolicy::Buffer
    }

    fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
        let _ = response.body(request.body());
    }
}

/// The body of request `i`, `len` bytes: different from request to
/// request.
fn body(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|at| (at * 7 + i * 31) as u8).collect()
}

/// Eight POSTs at once on one connection, bodies of 0 B to 4 KB (the
/// 1.5 KB one without a `content-length`), each sent in pieces of up to
/// 500 bytes, the client yielding between pieces so that the streams'
/// DATA frames interleave: every body echoed byte for byte.
fn eight_bodies_gathered_at_once_are_echoed_byte_for_byte(backend: Backend) {
    let options = Options {
        config: Config {
            h2c: H2c::Beside,
            ..Config::DEFAULT
        },
        ..Options::default()
    };
    let server = TestServer::start_with(backend, options, Echo);
    let addr = server.addr();
    run(async move {
        let mut client = connect(addr).await;
        let sizes = [0usize, 1, 100, 700, 1500, 2000, 3000, 4000];
        let mut waiting = Vec::new();
        for (i, &size) in sizes.iter().enumerate() {
            let bytes = body(i, size);
            let mut request = http::Request::builder()
                .method("POST")
                .uri("http://localhost/echo");
            if size != 1500 {
                request = request.header("content-length", size.to_string());
            }
            let request = request.body(()).expect("a request");
            client = client.ready().await.expect("room for a stream");
            let (response, mut send) = client.send_request(request, size == 0).expect("send");
            let pieces: Vec<Bytes> = bytes.chunks(500).map(Bytes::copy_from_slice).collect();
            let sender = tokio::spawn(async move {
                let count = pieces.len();
                for (n, piece) in pieces.into_iter().enumerate() {
                    send.send_data(piece, n + 1 == count).expect("send a piece");
                    tokio::task::yield_now().await;
                }
            });
            waiting.push((i, bytes, sender, tokio::spawn(read(response))));
        }
        for (i, bytes, sender, answer) in waiting {
            sender.await.expect("the sender");
            let (status, echoed) = answer.await.expect("the reader");
            assert_eq!(status, 200, "request {i}");
            assert!(
                echoed == bytes,
                "request {i}: {} bytes back of {}",
                echoed.len(),
                bytes.len()
            );
        }
    });
    let stats = server.stop();
    assert_eq!(stats.requests, 8);
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn eight_bodies_gathered_at_once_are_echoed_byte_for_byte_epoll() {
    eight_bodies_gathered_at_once_are_echoed_byte_for_byte(Backend::Epoll);
}

#[test]
fn eight_bodies_gathered_at_once_are_echoed_byte_for_byte_std_pool() {
    eight_bodies_gathered_at_once_are_echoed_byte_for_byte(Backend::StdPool);
}
