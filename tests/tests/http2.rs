//! HTTP/2 over real sockets: h2c with prior knowledge on the plaintext
//! port of the readiness backend, served by the same handler as HTTP/1.1,
//! with real clients (the `h2` crate, and `curl` where it is installed).

#![cfg(any(target_os = "linux", target_os = "android"))]

use std::net::SocketAddr;
use std::process::Command;
use std::sync::LazyLock;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use peregrine_core::{BodyPolicy, Fill, Handler, Request, Response};
use peregrine_driver::{ShutdownHandle, Stats};
use peregrine_examples::hello::pattern_byte;

#[path = "common/h2_client.rs"]
mod h2_client;

use h2_client::{connect, get, handshake, read, read_response, request, run};
use tokio::net::TcpStream;

/// The largest body `/bytes/N` serves: 1 MiB.
const LARGEST: usize = 1 << 20;

/// What `/bytes/N` serves the first N bytes of: a pattern that tells
/// every offset from its neighbours.
static PATTERN: LazyLock<&'static [u8]> = LazyLock::new(|| {
    let bytes: Vec<u8> = (0..LARGEST).map(|i| (i % 251) as u8).collect();
    Vec::leak(bytes)
});

/// Answers `/hello` with a short body, `/bytes/N` with N bytes of the
/// pattern, `/echo` with the request's body, `/upload` with the FNV-1a
/// hash of its body (streamed to `body_chunk`, any length), and any other
/// path with its own target.
struct Routes;

/// FNV-1a's offset basis: the hash of nothing.
const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

/// The FNV-1a hash of `bytes` after `hash`.
fn fnv_after(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// What `/upload` answers for `body`.
fn upload_answer(body: &[u8]) -> Vec<u8> {
    format!("{:016x}", fnv_after(FNV_START, body)).into_bytes()
}

impl Handler for Routes {
    fn body_policy(&self, request: &Request<'_>) -> BodyPolicy {
        if request.path() == b"/upload" {
            BodyPolicy::Stream
        } else {
            BodyPolicy::Buffer
        }
    }

    fn body_chunk(&self, _: &Request<'_>, chunk: &[u8], hash: &mut u64, _: &mut ()) {
        let start = if *hash == 0 { FNV_START } else { *hash };
        *hash = fnv_after(start, chunk);
    }

    fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
        let path = request.path();
        if path == b"/hello" {
            response.body_static(b"Hello, World!");
        } else if let Some(count) = path.strip_prefix(b"/bytes/") {
            let count: usize = std::str::from_utf8(count)
                .ok()
                .and_then(|count| count.parse().ok())
                .unwrap_or(0)
                .min(LARGEST);
            response.body_static(&PATTERN[..count]);
        } else if let Some(count) = path.strip_prefix(b"/stream/") {
            // A streamed body: `fill_body` writes it piece by piece.
            let count: u64 = std::str::from_utf8(count)
                .ok()
                .and_then(|count| count.parse().ok())
                .unwrap_or(0);
            response.set_tag(count);
            response.stream(Some(count));
        } else if path == b"/echo" {
            let _ = response.body(request.body());
        } else if path == b"/upload" {
            let hash = if response.tag() == 0 {
                FNV_START
            } else {
                response.tag()
            };
            response.set_tag(0);
            let _ = response.body(format!("{hash:016x}").as_bytes());
        } else {
            let _ = response.body(request.target());
        }
    }

    fn fill_body(&self, remaining: &mut u64, buf: &mut [u8], _: &mut ()) -> Fill {
        let n = (*remaining).min(buf.len() as u64) as usize;
        for (i, byte) in buf[..n].iter_mut().enumerate() {
            *byte = pattern_byte(*remaining - i as u64);
        }
        *remaining -= n as u64;
        if *remaining == 0 {
            Fill::Done(n)
        } else {
            Fill::More(n)
        }
    }
}

impl Routes {
    /// What `/stream/N` streams: byte `i` is `pattern_byte(N - i)`.
    fn streamed(count: u64) -> Vec<u8> {
        (0..count).map(|i| pattern_byte(count - i)).collect()
    }
}

/// A server with HTTP/2 on, stopped when dropped.
struct Running {
    addr: SocketAddr,
    handle: ShutdownHandle,
    thread: Option<JoinHandle<Stats>>,
}

/// The backends served here.
#[derive(Clone, Copy, Debug)]
enum Backend {
    /// epoll, one worker.
    Epoll,
    /// The portable backend's thread pool.
    StdPool,
}

impl Running {
    /// Starts [`Routes`] on `backend` with h2c on and the default buffers
    /// (16 KiB each way).
    fn start(backend: Backend) -> Running {
        Running::start_with(backend, peregrine_core::H2c::Beside)
    }

    /// Starts [`Routes`] on `backend` serving HTTP/2 as `h2c` says.
    fn start_with(backend: Backend, h2c: peregrine_core::H2c) -> Running {
        let (addr, handle, run): (_, _, Box<dyn FnOnce() -> Stats + Send>) = match backend {
            Backend::Epoll => {
                let server = peregrine_epoll::Server::bind("127.0.0.1:0")
                    .expect("bind")
                    .workers(1)
                    .h2c(h2c)
                    .handle_signals(false);
                (
                    server.local_addr(),
                    server.shutdown_handle(),
                    Box::new(move || server.run(Routes).expect("the server runs")),
                )
            }
            Backend::StdPool => {
                let server = peregrine_std::Server::bind("127.0.0.1:0")
                    .expect("bind")
                    .workers(8)
                    .h2c(h2c)
                    .handle_signals(false);
                (
                    server.local_addr(),
                    server.shutdown_handle(),
                    Box::new(move || server.run(Routes).expect("the server runs")),
                )
            }
        };
        let thread = std::thread::spawn(run);
        Running {
            addr,
            handle,
            thread: Some(thread),
        }
    }

    /// Stops it and returns its statistics.
    fn stop(mut self) -> Stats {
        self.handle.shutdown();
        self.thread
            .take()
            .expect("running")
            .join()
            .expect("the server thread")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.handle.shutdown();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Uploads `body` to `/upload` on a stream of its own and reads the
/// answer, sending it again on a new stream if the server refused the
/// stream (REFUSED_STREAM: nothing of it was processed, RFC 9113 §8.7).
async fn upload(mut client: h2::client::SendRequest<Bytes>, body: Bytes) -> (u16, Vec<u8>) {
    loop {
        client = client.ready().await.expect("room for a stream");
        let (response, mut send) = client
            .send_request(request("POST", "/upload"), false)
            .expect("send");
        send.send_data(body.clone(), true).expect("send the body");
        match response.await {
            Ok(response) => return read_response(response).await,
            Err(error) if error.reason() == Some(h2::Reason::REFUSED_STREAM) => continue,
            Err(error) => panic!("upload of {} bytes: {error}", body.len()),
        }
    }
}

fn sequential_requests_on_one_connection(backend: Backend) {
    let server = Running::start(backend);
    run(async {
        let mut client = connect(server.addr).await;
        for _ in 0..3 {
            assert_eq!(
                get(&mut client, "/hello").await,
                (200, b"Hello, World!".to_vec())
            );
        }
        assert_eq!(
            get(&mut client, "/other?x=1").await,
            (200, b"/other?x=1".to_vec())
        );
    });
    let stats = server.stop();
    assert_eq!(stats.requests, 4);
}

fn a_hundred_concurrent_streams_with_bodies_of_every_size(backend: Backend) {
    let server = Running::start(backend);
    run(async {
        let mut client = connect(server.addr).await;
        let sizes = [0, 1, 16_384, 16_385, 100_000, LARGEST];
        let mut waiting = Vec::new();
        for stream in 0..100 {
            let size = sizes[stream % sizes.len()];
            client = client.ready().await.expect("room for a stream");
            let (response, _) = client
                .send_request(request("GET", &format!("/bytes/{size}")), true)
                .expect("send");
            waiting.push((size, tokio::spawn(read(response))));
        }
        for (size, answer) in waiting {
            let (status, body) = answer.await.expect("the reader");
            assert_eq!(status, 200);
            assert_eq!(body.len(), size);
            assert!(body == PATTERN[..size], "the body of {size} bytes differs");
        }
    });
}

/// Streamed bodies (`Response::stream`, filled by `Handler::fill_body`)
/// of every size, ten at once on one connection, byte for byte.
fn streamed_bodies_of_every_size(backend: Backend) {
    let server = Running::start(backend);
    run(async {
        let mut client = connect(server.addr).await;
        let sizes = [0u64, 1, 16_384, 16_385, 100_000, 1 << 20];
        let mut waiting = Vec::new();
        for stream in 0..12 {
            let size = sizes[stream % sizes.len()];
            client = client.ready().await.expect("room for a stream");
            let (response, _) = client
                .send_request(request("GET", &format!("/stream/{size}")), true)
                .expect("send");
            waiting.push((size, tokio::spawn(read(response))));
        }
        for (size, answer) in waiting {
            let (status, body) = answer.await.expect("the reader");
            assert_eq!(status, 200);
            assert!(
                body == Routes::streamed(size),
                "the streamed body of {size} bytes"
            );
        }
    });
}

fn request_bodies_are_echoed(backend: Backend) {
    let server = Running::start(backend);
    run(async {
        let mut client = connect(server.addr).await;
        for size in [0usize, 1, 4096, 8000] {
            let body: Vec<u8> = PATTERN[..size].to_vec();
            let (response, mut send) = client
                .send_request(request("POST", "/echo"), false)
                .expect("send");
            send.send_data(Bytes::from(body.clone()), true)
                .expect("send the body");
            assert_eq!(read(response).await, (200, body), "{size} bytes");
        }
    });
}

/// Request bodies streamed to the handler (`BodyPolicy::Stream`) on a
/// hundred streams at once: 0 B, 16 KiB and 1 MiB, hashed piece by piece
/// as they arrive.
fn a_hundred_concurrent_uploads_of_every_size(backend: Backend) {
    let server = Running::start(backend);
    run(async {
        let client = connect(server.addr).await;
        let mut waiting = Vec::new();
        for stream in 0..100 {
            // 1 MiB on every tenth, 16 KiB on every other, none on the rest.
            let size = match stream {
                _ if stream % 10 == 0 => LARGEST,
                _ if stream % 2 == 1 => 16_384,
                _ => 0,
            };
            let body = Bytes::from_static(&PATTERN[stream % 7..][..size - size.min(stream % 7)]);
            let expected = upload_answer(&body);
            waiting.push((size, expected, tokio::spawn(upload(client.clone(), body))));
        }
        for (size, expected, answer) in waiting {
            assert_eq!(
                answer.await.expect("the upload"),
                (200, expected),
                "{size} bytes"
            );
        }
    });
}

/// 100 MiB each way on one connection at once: an upload streamed to the
/// handler, and a streamed download, byte for byte.
fn a_hundred_mib_each_way(backend: Backend) {
    const SIZE: usize = 100 << 20;
    let server = Running::start(backend);
    run(async {
        let mut client = connect(server.addr).await;
        let body: Vec<u8> = (0..SIZE).map(|i| pattern_byte(i as u64)).collect();
        let expected = upload_answer(&body);
        let up = tokio::spawn(upload(client.clone(), Bytes::from(body)));
        client = client.ready().await.expect("room for a stream");
        let (response, _) = client
            .send_request(request("GET", &format!("/stream/{SIZE}")), true)
            .expect("send");
        let (status, downloaded) = read(response).await;
        assert_eq!(status, 200);
        assert!(downloaded == Routes::streamed(SIZE as u64), "the download");
        assert_eq!(up.await.expect("the upload"), (200, expected));
    });
}

fn a_stream_whose_reader_stops_holds_no_other_back(backend: Backend) {
    let server = Running::start(backend);
    run(async {
        let mut client = connect(server.addr).await;
        // A 1 MiB answer whose capacity is never released: it stops at
        // the 64 KiB window.
        let (stalled, _) = client
            .send_request(request("GET", &format!("/bytes/{LARGEST}")), true)
            .expect("send");
        let stalled = stalled.await.expect("its head");
        let mut stalled = stalled.into_body();
        let mut held = 0;
        while held < 65_535 {
            held += stalled.data().await.expect("data").expect("data").len();
        }
        assert_eq!(held, 65_535, "no more than the initial window");
        // Others go on meanwhile.
        for _ in 0..10 {
            assert_eq!(
                get(&mut client, "/bytes/20000").await,
                (200, PATTERN[..20_000].to_vec())
            );
        }
        // Released, the first ends too.
        let _ = stalled.flow_control().release_capacity(held);
        while let Some(chunk) = stalled.data().await {
            let chunk = chunk.expect("data");
            let _ = stalled.flow_control().release_capacity(chunk.len());
            held += chunk.len();
        }
        assert_eq!(held, LARGEST);
    });
}

/// An HTTP/2-only port answers HTTP/2 and refuses HTTP/1.1 with `505`.
fn an_h2c_only_port_refuses_http1(backend: Backend) {
    use std::io::{Read, Write};
    let server = Running::start_with(backend, peregrine_core::H2c::Only);
    let mut http1 = std::net::TcpStream::connect(server.addr).expect("connect");
    http1
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("a timeout");
    http1
        .write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("send");
    let mut answer = Vec::new();
    let _ = http1.read_to_end(&mut answer);
    assert!(
        answer.starts_with(b"HTTP/1.1 505 "),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    run(async {
        let mut client = connect(server.addr).await;
        assert_eq!(
            get(&mut client, "/hello").await,
            (200, b"Hello, World!".to_vec())
        );
    });
}

/// `curl` with HTTP/2 support, if installed.
fn curl() -> Option<Command> {
    let version = Command::new("curl").arg("-V").output().ok()?;
    if !String::from_utf8_lossy(&version.stdout).contains("HTTP2") {
        eprintln!("skipped: this curl has no HTTP/2");
        return None;
    }
    Some(Command::new("curl"))
}

fn curl_with_prior_knowledge(backend: Backend) {
    let Some(mut curl) = curl() else {
        return;
    };
    let server = Running::start(backend);
    // One request per run: curl 7.88 fails to reuse an h2c connection
    // (with any server).
    let output = curl
        .args(["-sS", "--http2-prior-knowledge", "--max-time", "5"])
        .args(["-w", "\n%{http_version}", "--data-binary", "posted"])
        .arg(format!("http://{}/echo", server.addr))
        .output()
        .expect("run curl");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "posted\n2");
}

/// A TLS server offering `h2` then `http/1.1` by ALPN, on `backend`,
/// and a client configuration trusting it.
fn start_tls(
    backend: peregrine_tests::Backend,
) -> (
    peregrine_tests::TestServer,
    std::sync::Arc<rustls::ClientConfig>,
) {
    let pki = peregrine_tests::tls::Pki::new();
    let tls = peregrine_driver::tls::TlsConfig::builder()
        .identity(pki.issue(&["localhost"]).identity())
        .alpn(&[b"h2", b"http/1.1"])
        .build()
        .expect("TLS configuration");
    let server = peregrine_tests::TestServer::start_tls(
        backend,
        peregrine_tests::Options::default(),
        tls,
        Routes,
    );
    (server, pki.default_client())
}

/// HTTP/2 over TLS, chosen by ALPN; a client that offers only
/// `http/1.1` still gets HTTP/1.1 from the same server.
fn alpn_chooses_http2_over_tls(backend: peregrine_tests::Backend) {
    let (server, client) = start_tls(backend);
    let mut h2_config = (*client).clone();
    h2_config.alpn_protocols = vec![b"h2".to_vec()];
    let addr = server.addr();
    run(async move {
        let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(h2_config));
        let tcp = TcpStream::connect(addr).await.expect("connect");
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("a name");
        let tls = connector.connect(name, tcp).await.expect("TLS handshake");
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        let mut client = handshake(tls).await;
        assert_eq!(
            get(&mut client, "/hello").await,
            (200, b"Hello, World!".to_vec())
        );
        let (status, body) = get(&mut client, "/bytes/100000").await;
        assert_eq!(status, 200);
        assert!(body == PATTERN[..100_000], "100,000 bytes over TLS");
    });
    let mut http1 =
        peregrine_tests::tls::TlsClient::connect(&server, client, "localhost").expect("connect");
    assert_eq!(http1.tls().alpn_protocol(), Some(&b"http/1.1"[..]));
    assert_eq!(http1.get("/hello").body, b"Hello, World!");
}

/// Timeouts as for HTTP/1.1: a client that never finishes its preface is
/// closed at the header timeout, an HTTP/2 connection idle past the idle
/// timeout gets GOAWAY and is closed.
fn timeouts_end_silent_and_idle_connections(backend: Backend) {
    use std::io::{Read, Write};
    let backend = match backend {
        Backend::Epoll => peregrine_tests::Backend::Epoll,
        Backend::StdPool => peregrine_tests::Backend::StdPool,
    };
    let options = peregrine_tests::Options {
        config: peregrine_core::Config {
            h2c: peregrine_core::H2c::Beside,
            header_timeout: 300,
            idle_timeout: 300,
            ..peregrine_core::Config::DEFAULT
        },
        ..peregrine_tests::Options::default()
    };
    let server = peregrine_tests::TestServer::start_with(backend, options, Routes);
    let addr = server.addr();
    // Half a preface, then silence: closed at the header timeout.
    let mut silent = std::net::TcpStream::connect(addr).expect("connect");
    silent
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("a timeout");
    silent.write_all(b"PRI * HTTP/2.0\r\n").expect("send");
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    let _ = silent.read_to_end(&mut rest);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "closed at the header timeout, not {:?}",
        started.elapsed()
    );
    // Idle after a request: GOAWAY, then closed.
    run(async move {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        let (mut client, connection) = h2::client::handshake(tcp).await.expect("h2 handshake");
        let connection = tokio::spawn(connection);
        assert_eq!(
            get(&mut client, "/hello").await,
            (200, b"Hello, World!".to_vec())
        );
        let ended = tokio::time::timeout(Duration::from_secs(4), connection).await;
        assert!(
            ended.is_ok(),
            "the idle connection ended within 4 s of a 300 ms idle timeout"
        );
    });
}

/// A worker that holds its most connections closes an idle HTTP/2 one
/// (no stream open) to take a new connection in, as it does an idle
/// keep-alive HTTP/1.1 one.
#[test]
fn an_idle_http2_connection_makes_room() {
    use std::io::{Read, Write};
    let options = peregrine_tests::Options {
        workers: 1,
        max_connections: 1,
        config: peregrine_core::Config {
            h2c: peregrine_core::H2c::Beside,
            ..peregrine_core::Config::DEFAULT
        },
        ..peregrine_tests::Options::default()
    };
    let server =
        peregrine_tests::TestServer::start_with(peregrine_tests::Backend::Epoll, options, Routes);
    let addr = server.addr();
    run(async move {
        let mut client = connect(addr).await;
        assert_eq!(
            get(&mut client, "/hello").await,
            (200, b"Hello, World!".to_vec())
        );
        // Idle now; a newcomer takes its place.
        let answer = tokio::task::spawn_blocking(move || {
            let mut http1 = std::net::TcpStream::connect(addr).expect("connect");
            http1
                .set_read_timeout(Some(Duration::from_secs(5)))
                .expect("a timeout");
            http1
                .write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .expect("send");
            let mut answer = Vec::new();
            let _ = http1.read_to_end(&mut answer);
            answer
        })
        .await
        .expect("the HTTP/1.1 client");
        assert!(
            answer.starts_with(b"HTTP/1.1 200 ") && answer.ends_with(b"Hello, World!"),
            "{}",
            String::from_utf8_lossy(&answer)
        );
        // The HTTP/2 connection was the one closed.
        let closed = match client.send_request(request("GET", "/hello"), true) {
            Err(_) => true,
            Ok((response, _)) => response.await.is_err(),
        };
        assert!(closed, "the idle HTTP/2 connection was closed");
    });
    assert_eq!(server.stop().idle_evicted, 1);
}

#[test]
fn curl_negotiates_http2_over_tls() {
    let Some(mut curl) = curl() else {
        return;
    };
    let (server, _) = start_tls(peregrine_tests::Backend::Epoll);
    let output = curl
        .args(["-sS", "--insecure", "--http2", "--max-time", "5"])
        .args(["-w", "\n%{http_version}"])
        .arg(format!("https://{}/hello", server.addr()))
        .output()
        .expect("run curl");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "Hello, World!\n2");
}

#[test]
fn alpn_chooses_http2_over_tls_epoll() {
    alpn_chooses_http2_over_tls(peregrine_tests::Backend::Epoll);
}

#[test]
fn alpn_chooses_http2_over_tls_std() {
    alpn_chooses_http2_over_tls(peregrine_tests::Backend::StdPool);
}

/// Runs each test on each backend.
macro_rules! on_every_backend {
    ($($test:ident),* $(,)?) => {
        mod epoll {
            $(#[test]
            fn $test() {
                super::$test(super::Backend::Epoll);
            })*
        }
        mod std_pool {
            $(#[test]
            fn $test() {
                super::$test(super::Backend::StdPool);
            })*
        }
    };
}

on_every_backend!(
    sequential_requests_on_one_connection,
    a_hundred_concurrent_streams_with_bodies_of_every_size,
    request_bodies_are_echoed,
    a_hundred_concurrent_uploads_of_every_size,
    a_hundred_mib_each_way,
    streamed_bodies_of_every_size,
    a_stream_whose_reader_stops_holds_no_other_back,
    curl_with_prior_knowledge,
    an_h2c_only_port_refuses_http1,
    timeouts_end_silent_and_idle_connections,
);

/// `/later` of the `later` example over HTTP/2 on `backend`, its body
/// woken by a thread through the server's sender: answered once woken,
/// while another stream of the connection is answered at once.
fn a_waiting_body_is_woken_by_a_sender(backend: peregrine_tests::Backend) {
    use peregrine_examples::later::{BODY, DELAY, Later};

    let options = peregrine_tests::Options {
        config: peregrine_core::Config {
            h2c: peregrine_core::H2c::Beside,
            ..peregrine_core::Config::DEFAULT
        },
        ..peregrine_tests::Options::default()
    };
    let (server, _) =
        peregrine_tests::TestServer::start_with_sender_on(backend, options, Later::new);
    run(async {
        let mut client = connect(server.addr()).await;
        let started = std::time::Instant::now();
        let (later, _) = client
            .send_request(request("GET", "/later"), true)
            .expect("send the request");
        assert_eq!(
            get(&mut client, "/").await,
            (200, b"Hello, World!".to_vec())
        );
        assert_eq!(read(later).await, (200, BODY.to_vec()));
        assert!(started.elapsed() >= DELAY, "answered before the wake");
    });
    server.stop();
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn a_waiting_body_is_woken_by_a_sender_epoll() {
    a_waiting_body_is_woken_by_a_sender(peregrine_tests::Backend::Epoll);
}

#[test]
fn a_waiting_body_is_woken_by_a_sender_std_pool() {
    a_waiting_body_is_woken_by_a_sender(peregrine_tests::Backend::StdPool);
}

#[test]
fn a_waiting_body_is_woken_by_a_sender_std_single() {
    a_waiting_body_is_woken_by_a_sender(peregrine_tests::Backend::StdSingle);
}
