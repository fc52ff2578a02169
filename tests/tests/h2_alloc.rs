//! No heap allocation per HTTP/2 request: a counting global allocator
//! counts allocations made on the server's worker threads (marked when
//! each creates its handler state) over h2c requests, 100 streams in
//! flight on one connection, deferred responses among them (answered
//! through the `Sender` from the worker itself), after a warm-up of the
//! same kinds, and must count none. The connection's own state (one box when it switches to
//! HTTP/2) is made during the warm-up. Run with `--nocapture` to see the
//! figures.
//!
//! A test binary of its own because it installs the allocator.

use std::time::Duration;

use bytes::Bytes;
use peregrine_core::{BodyPolicy, Config, Fill, H2c, Handler, Request, Response, StatusCode};
use peregrine_driver::Sender;
use peregrine_driver::answer::Answer;
use peregrine_examples::hello::Hello;
use peregrine_tests::counting::{self, CountingAllocator};
use peregrine_tests::{Backend, Options, TestServer, native_backend_tests};
use tokio::net::TcpStream;

native_backend_tests!([persistent] h2c_allocations_per_request);

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// [`Hello`], marking each worker thread when it creates its state;
/// `/deferred` defers its response and answers it at once through the
/// sender (the answer comes back through the worker's mailbox).
struct Marked {
    /// What answers the deferred responses.
    sender: Sender,
}

/// What the upload of each round sends: more than the decoding area,
/// over several DATA frames.
static UPLOAD: [u8; 40_000] = [b'u'; 40_000];

impl Handler for Marked {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
        if request.path() == b"/deferred" {
            response.defer();
            let mut answer = Answer::new(StatusCode::OK);
            answer.body(b"later");
            self.sender.respond(response.id(), &answer).expect("posted");
            return;
        }
        if request.path() == b"/upload" {
            // The bytes `body_chunk` counted, in decimal, with no
            // allocation.
            let mut digits = [0u8; 20];
            let mut at = digits.len();
            let mut count = response.tag();
            loop {
                at -= 1;
                digits[at] = b'0' + (count % 10) as u8;
                count /= 10;
                if count == 0 {
                    break;
                }
            }
            let _ = response.body(&digits[at..]);
            return;
        }
        Hello::new().handle(request, response);
    }

    fn body_chunk(&self, _: &Request<'_>, chunk: &[u8], count: &mut u64, _: &mut ()) {
        *count += chunk.len() as u64;
    }

    fn new_local(&self, _worker: usize) {
        counting::mark_this_thread();
    }

    fn body_policy(&self, request: &Request<'_>) -> BodyPolicy {
        if request.path() == b"/upload" {
            return BodyPolicy::Stream;
        }
        Hello::new().body_policy(request)
    }

    fn fill_body(&self, tag: &mut u64, buf: &mut [u8], local: &mut ()) -> Fill {
        Hello::new().fill_body(tag, buf, local)
    }
}

/// `rounds` rounds of 100 requests in flight at once on `client`: `GET /`
/// on most streams, a streamed `GET /bytes/20000` on every tenth, a
/// deferred `GET /deferred` on every tenth from the fifth, a small
/// `POST /echo` on one (one request body is gathered at a time over
/// HTTP/2), and on four a 40,000-byte `POST /upload` streamed to
/// `body_chunk`. Returns the requests made.
async fn rounds(client: &mut h2::client::SendRequest<Bytes>, rounds: usize) -> usize {
    let mut made = 0;
    for _ in 0..rounds {
        let mut waiting = Vec::with_capacity(100);
        for i in 0..100 {
            let (path, method, body) = match i {
                55 => ("/echo", "POST", Some(Bytes::from(format!("echo {i}")))),
                33 | 57 | 77 | 99 => ("/upload", "POST", Some(Bytes::from_static(&UPLOAD))),
                _ if i % 10 == 0 => ("/bytes/20000", "GET", None),
                _ if i % 10 == 5 => ("/deferred", "GET", None),
                _ => ("/", "GET", None),
            };
            let request = http::Request::builder()
                .method(method)
                .uri(format!("http://localhost{path}"))
                .body(())
                .expect("a request");
            *client = client.clone().ready().await.expect("room for a stream");
            let (response, mut send) = client
                .send_request(request, body.is_none())
                .expect("send the request");
            if let Some(body) = body {
                send.send_data(body, true).expect("send the body");
            }
            waiting.push(tokio::spawn(async move {
                let response = response.await.expect("a response");
                assert_eq!(response.status(), 200);
                let mut body = response.into_body();
                let mut len = 0;
                while let Some(chunk) = body.data().await {
                    let chunk = chunk.expect("body data");
                    let _ = body.flow_control().release_capacity(chunk.len());
                    len += chunk.len();
                }
                len
            }));
        }
        for (i, answer) in waiting.into_iter().enumerate() {
            let len = answer.await.expect("the reader");
            match i {
                55 => assert_eq!(len, format!("echo {i}").len()),
                33 | 57 | 77 | 99 => assert_eq!(len, "40000".len()),
                _ if i % 10 == 0 => assert_eq!(len, 20_000),
                _ if i % 10 == 5 => assert_eq!(len, "later".len()),
                _ => assert_eq!(len, 13),
            }
            made += 1;
        }
    }
    made
}

fn h2c_allocations_per_request(backend: Backend) {
    let _serial = counting::serial();
    let options = Options {
        workers: 1,
        threads: 4,
        config: Config {
            h2c: H2c::Beside,
            ..Config::DEFAULT
        },
        ..Options::default()
    };
    let (server, _sender) =
        TestServer::start_with_sender_on(backend, options, |sender| Marked { sender });
    let addr = server.addr();
    let (warm, measured, made) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(async move {
            tokio::time::timeout(Duration::from_secs(60), async move {
                let tcp = TcpStream::connect(addr).await.expect("connect");
                let (mut client, connection) = h2::client::Builder::new()
                    .initial_connection_window_size(16 << 20)
                    .handshake(tcp)
                    .await
                    .expect("h2 handshake");
                tokio::spawn(async move {
                    let _ = connection.await;
                });
                let before = counting::allocations();
                rounds(&mut client, 3).await;
                let warm = counting::allocations() - before;
                let before = counting::allocations();
                let made = rounds(&mut client, 20).await;
                (warm, counting::allocations() - before, made)
            })
            .await
            .expect("the requests finished within 60 s")
        });
    eprintln!(
        "{}: HTTP/2 allocations: {warm} in the warm-up, {measured} over {made} requests \
         (100 streams at once on one connection)",
        backend.name()
    );
    assert_eq!(made, 2_000);
    assert_eq!(measured, 0, "allocations over 2,000 HTTP/2 requests");
}
