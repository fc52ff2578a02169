//! HTTPS on every backend: a rustls client verifying the server's
//! certificates against an authority made for the test. Requests,
//! keep-alive and pipelining, uploads and large bodies over TLS; TLS 1.2
//! and 1.3; certificates by name (SNI); ALPN; session resumption; the
//! handshake timeout; `close_notify`; certificates reloaded while the
//! server runs; files (`send_file`, sealed a record at a time, as
//! `sendfile` cannot encrypt): whole, a range, and a client leaving
//! mid-file; and `curl` and `openssl s_client` (a TLS 1.2
//! renegotiation, refused with a warning), when they are installed.

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;
use std::sync::mpsc::{Sender, channel};
use std::time::{Duration, Instant};

use peregrine_core::{Finished, Handler, Outcome, Request, Response, StatusCode};
use peregrine_driver::files::SendFile;
use peregrine_examples::hello::Hello;
use peregrine_std::tls::{TlsConfig, Versions};
use peregrine_tests::tls::{Pki, TlsClient};
use peregrine_tests::{Backend, Options, TestServer, native_backend_tests, pattern};
use rustls::{HandshakeKind, ProtocolVersion};

native_backend_tests!(
    get_keep_alive_and_pipelining,
    upload_and_large_body,
    versions_forced_by_the_client,
    certificate_by_server_name,
    [concurrent] sessions_resume,
    silent_client_times_out_in_the_handshake,
    graceful_close_sends_close_notify,
    [concurrent] reload_changes_the_certificate_for_new_connections_only,
    files_whole_ranged_and_abandoned,
    a_pipeline_longer_than_the_read_buffer_is_answered_at_once,
    curl_insecure,
    openssl_renegotiation_is_refused_with_a_warning,
);

/// A server for `localhost` with every default.
fn localhost(backend: Backend, pki: &Pki) -> TestServer {
    let tls = TlsConfig::builder()
        .identity(pki.issue(&["localhost"]).identity())
        .build()
        .expect("tls");
    TestServer::start_tls(backend, Options::default(), tls, Hello::new())
}

fn get_keep_alive_and_pipelining(backend: Backend) {
    let pki = Pki::new();
    let server = localhost(backend, &pki);
    let mut client = TlsClient::connect(&server, pki.default_client(), "localhost").unwrap();
    assert_eq!(client.tls().alpn_protocol(), Some(&b"http/1.1"[..]));
    for _ in 0..3 {
        let response = client.get("/");
        assert_eq!(response.status, 200);
        assert_eq!(response.body, b"Hello, World!");
    }
    let pipelined = "GET / HTTP/1.1\r\nHost: t\r\n\r\n".repeat(20);
    client.send(pipelined.as_bytes());
    for _ in 0..20 {
        assert_eq!(client.response().body, b"Hello, World!");
    }
}

fn upload_and_large_body(backend: Backend) {
    let pki = Pki::new();
    let server = localhost(backend, &pki);
    let mut client = TlsClient::connect(&server, pki.default_client(), "localhost").unwrap();
    let body = pattern(12_000);
    let mut request = format!(
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    client.send(&request);
    let response = client.response();
    assert_eq!(response.status, 200);
    assert_eq!(response.body, body);
    // Far more than the socket buffer takes at once: records wait in
    // rustls while the client reads.
    let response = client.get("/bytes/3000000");
    assert_eq!(response.body.len(), 3_000_000);
    assert!(response.body == pattern(3_000_000), "the body differs");
    assert_eq!(client.get("/").body, b"Hello, World!");
}

fn a_pipeline_longer_than_the_read_buffer_is_answered_at_once(backend: Backend) {
    let pki = Pki::new();
    let server = localhost(backend, &pki);
    let mut client = TlsClient::connect(&server, pki.default_client(), "localhost").unwrap();
    // 30 requests of about 1 KB in one write of exactly two full records
    // (2 × 16,384 bytes), a request cut at the records' boundary: the
    // second record's plaintext is more than the connection's read buffer
    // has room for behind the cut request, so the TLS layer holds the
    // rest decrypted, and the socket has nothing more. Handing the rest
    // over must not wait on the socket (a blocking one would wait there,
    // up to the portable backend's 100 ms poll, each round).
    let request = |pad: usize| {
        format!(
            "GET / HTTP/1.1\r\nHost: t\r\nX-Pad: {}\r\n\r\n",
            "p".repeat(pad)
        )
    };
    let mut wire = request(1057).repeat(29);
    wire.push_str(&request(32_768 - wire.len() - 36));
    assert_eq!(wire.len(), 32_768);
    let started = Instant::now();
    for _ in 0..20 {
        client.send(wire.as_bytes());
        for _ in 0..30 {
            assert_eq!(client.response().body, b"Hello, World!");
        }
    }
    let elapsed = started.elapsed();
    // 20 rounds: at least 2 s if each waited 100 ms.
    assert!(elapsed < Duration::from_millis(1500), "{elapsed:?}");
}

fn versions_forced_by_the_client(backend: Backend) {
    let pki = Pki::new();
    let server = localhost(backend, &pki);
    for (version, expected) in [
        (&rustls::version::TLS12, ProtocolVersion::TLSv1_2),
        (&rustls::version::TLS13, ProtocolVersion::TLSv1_3),
    ] {
        let mut client = TlsClient::connect(&server, pki.client(&[version]), "localhost").unwrap();
        assert_eq!(client.tls().protocol_version(), Some(expected));
        assert_eq!(client.get("/").body, b"Hello, World!");
    }
    // A server limited to TLS 1.3 refuses a TLS 1.2 client.
    let tls = TlsConfig::builder()
        .identity(pki.issue(&["localhost"]).identity())
        .versions(Versions::Tls13)
        .build()
        .unwrap();
    let strict = TestServer::start_tls(backend, Options::default(), tls, Hello::new());
    let old = pki.client(&[&rustls::version::TLS12]);
    assert!(TlsClient::connect(&strict, old, "localhost").is_err());
}

fn certificate_by_server_name(backend: Backend) {
    let pki = Pki::new();
    let (a, b, fallback) = (
        pki.issue(&["a.test"]),
        pki.issue(&["b.test"]),
        pki.issue(&["localhost"]),
    );
    let tls = TlsConfig::builder()
        .identity(fallback.identity())
        .sni("a.test", a.identity())
        .sni("b.test", b.identity())
        .build()
        .unwrap();
    let server = TestServer::start_tls(backend, Options::default(), tls, Hello::new());
    // The client checks the name too; the certificate itself says which.
    for (name, issued) in [("a.test", &a), ("b.test", &b), ("localhost", &fallback)] {
        let mut client = TlsClient::connect(&server, pki.default_client(), name).unwrap();
        let presented = client.tls().peer_certificates().unwrap()[0].to_vec();
        assert!(presented == issued.der, "{name}: another certificate");
        assert_eq!(client.get("/").status, 200);
    }
    // An unknown name gets the default, which the client rejects.
    assert!(TlsClient::connect(&server, pki.default_client(), "c.test").is_err());
}

fn sessions_resume(backend: Backend) {
    let pki = Pki::new();
    let server = localhost(backend, &pki);
    for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
        let config = pki.client(&[version]);
        let mut first = TlsClient::connect(&server, config.clone(), "localhost").unwrap();
        assert_eq!(first.tls().handshake_kind(), Some(HandshakeKind::Full));
        // TLS 1.3 tickets come after the handshake: a request makes sure
        // the client has read them.
        assert_eq!(first.get("/").status, 200);
        let mut second = TlsClient::connect(&server, config, "localhost").unwrap();
        assert_eq!(
            second.tls().handshake_kind(),
            Some(HandshakeKind::Resumed),
            "{version:?}"
        );
        assert_eq!(second.get("/").body, b"Hello, World!");
    }
}

fn silent_client_times_out_in_the_handshake(backend: Backend) {
    let pki = Pki::new();
    let tls = TlsConfig::builder()
        .identity(pki.issue(&["localhost"]).identity())
        .handshake_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let server = TestServer::start_tls(backend, Options::default(), tls, Hello::new());
    let started = Instant::now();
    let mut silent = TcpStream::connect(server.addr()).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut byte = [0u8; 1];
    match silent.read(&mut byte) {
        Ok(0) => {}
        Err(error) if error.kind() == ErrorKind::ConnectionReset => {}
        other => panic!("expected the server to close: {other:?}"),
    }
    // Well before the 10 s header timeout that would close it otherwise.
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert!(server.stop().timeouts >= 1);
}

fn graceful_close_sends_close_notify(backend: Backend) {
    let pki = Pki::new();
    let server = localhost(backend, &pki);
    let mut client = TlsClient::connect(&server, pki.default_client(), "localhost").unwrap();
    client.send(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!(client.response().body, b"Hello, World!");
    // rustls reports a TCP close without close_notify as UnexpectedEof.
    let rest = client.read_to_close().expect("close_notify");
    assert!(rest.is_empty());
}

fn reload_changes_the_certificate_for_new_connections_only(backend: Backend) {
    let pki = Pki::new();
    let (old, new) = (pki.issue(&["localhost"]), pki.issue(&["localhost"]));
    let tls = TlsConfig::builder()
        .identity(old.identity())
        .build()
        .unwrap();
    let handle = tls.handle();
    let server = TestServer::start_tls(backend, Options::default(), tls, Hello::new());
    let mut before = TlsClient::connect(&server, pki.default_client(), "localhost").unwrap();
    assert_eq!(before.get("/").status, 200);

    let config = TlsConfig::builder()
        .identity(new.identity())
        .server_config()
        .unwrap();
    std::thread::spawn(move || handle.reload(config))
        .join()
        .unwrap();

    let mut after = TlsClient::connect(&server, pki.default_client(), "localhost").unwrap();
    let presented = |client: &TlsClient| client.tls().peer_certificates().unwrap()[0].to_vec();
    assert!(
        presented(&after) == new.der,
        "a new connection has the new certificate"
    );
    assert!(presented(&before) == old.der);
    // The connection made before goes on with the old one.
    assert_eq!(before.get("/").body, b"Hello, World!");
    assert_eq!(after.get("/").body, b"Hello, World!");
}

fn curl_insecure(backend: Backend) {
    let available = Command::new("curl").arg("--version").output().is_ok();
    if !available {
        eprintln!("curl is not installed: skipping the curl part");
        return;
    }
    let pki = Pki::new();
    let server = localhost(backend, &pki);
    let url = format!("https://127.0.0.1:{}/", server.addr().port());
    let output = Command::new("curl")
        .args(["--insecure", "--silent", "--show-error", "--http1.1"])
        .args(["--max-time", "10", &url, &url])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.stdout, b"Hello, World!Hello, World!");
    let _ = std::io::stderr().flush();
}

/// `openssl s_client` over TLS 1.2 asks to renegotiate (its `R`
/// command) between two requests: the server answers the first, refuses
/// the renegotiation with a `no_renegotiation` warning, as nginx does,
/// and sends no fatal alert; OpenSSL's client then gives up by itself.
fn openssl_renegotiation_is_refused_with_a_warning(backend: Backend) {
    let available = Command::new("openssl").arg("version").output().is_ok();
    if !available {
        eprintln!("openssl is not installed: skipping");
        return;
    }
    let pki = Pki::new();
    let server = localhost(backend, &pki);
    let mut child = Command::new("openssl")
        .args([
            "s_client",
            "-tls1_2",
            "-crlf",
            "-msg",
            "-servername",
            "localhost",
        ])
        .args(["-connect", &server.addr().to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"GET / HTTP/1.1\nHost: t\n\n").unwrap();
    std::thread::sleep(Duration::from_millis(700));
    stdin.write_all(b"R\n").unwrap();
    std::thread::sleep(Duration::from_millis(700));
    drop(stdin);
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "openssl s_client did not end");
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("Hello, World!"), "{text}");
    // The first handshake's ClientHello, and the renegotiation's.
    let hellos = text
        .lines()
        .filter(|line| line.starts_with(">>>") && line.ends_with("ClientHello"));
    assert_eq!(hellos.count(), 2, "{text}");
    let from_server: Vec<&str> = text
        .lines()
        .filter(|line| line.starts_with("<<<") && line.contains("Alert"))
        .collect();
    assert_eq!(from_server.len(), 1, "{text}");
    assert!(
        from_server[0].contains("warning no_renegotiation"),
        "{text}"
    );
}

/// Bytes of the file: many records, and not a multiple of a record.
const FILE_LEN: u64 = 1024 * 1024 + 7;

/// Bytes of the huge file (sparse: no room on disk), far more than the
/// sockets on the way buffer.
const HUGE_LEN: u64 = 1 << 30;

/// Byte `i` of the file: no period a record size could hide a misplaced
/// record behind.
fn file_byte(i: u64) -> u8 {
    (i.wrapping_mul(2_654_435_761) >> 13) as u8 ^ (i >> 16) as u8
}

/// A file of the test's own, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    /// A new file named after `name`, `len` bytes long: the pattern of
    /// [`file_byte`], or sparse (all zeros) if `sparse`.
    fn new(name: &str, len: u64, sparse: bool) -> TempFile {
        let path =
            std::env::temp_dir().join(format!("peregrine-tls-file-{}-{name}", std::process::id()));
        let mut file = File::create(&path).expect("create the test file");
        if sparse {
            file.set_len(len).expect("size the test file");
        } else {
            let bytes: Vec<u8> = (0..len).map(file_byte).collect();
            file.write_all(&bytes).expect("write the test file");
        }
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Serves `/file` (all of the file, or the one range a `Range:
/// bytes=A-B` header asks for, `206`), `/huge` (the huge file), and
/// reports each response's end.
struct Files {
    /// The file.
    file: PathBuf,
    /// The huge file.
    huge: PathBuf,
    /// Where the ends of responses go.
    ends: Mutex<Sender<Finished>>,
}

/// The range a `Range: bytes=A-B` value asks for: its start and length.
fn range(value: &[u8]) -> Option<(u64, u64)> {
    let value = std::str::from_utf8(value).ok()?.strip_prefix("bytes=")?;
    let (first, last) = value.split_once('-')?;
    let (first, last): (u64, u64) = (first.parse().ok()?, last.parse().ok()?);
    (first <= last && last < FILE_LEN).then_some((first, last - first + 1))
}

impl Handler for Files {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
        match request.path() {
            b"/file" => {
                let file = File::open(&self.file).expect("open");
                match request.header("Range").and_then(range) {
                    Some((start, len)) => {
                        let value = format!("bytes {start}-{}/{FILE_LEN}", start + len - 1);
                        response.status(StatusCode::PARTIAL_CONTENT);
                        let _ = response.header("Content-Range", value.as_bytes());
                        response.send_file_range(file, start, len);
                    }
                    None => response.send_file(file),
                }
            }
            b"/huge" => response.send_file(File::open(&self.huge).expect("open")),
            _ => response.body_static(b"ok"),
        }
    }

    fn finished(&self, finished: Finished, _: &mut ()) {
        let _ = self.ends.lock().unwrap().send(finished);
    }
}

fn files_whole_ranged_and_abandoned(backend: Backend) {
    let pki = Pki::new();
    let name = backend.name();
    let file = TempFile::new(name, FILE_LEN, false);
    let huge = TempFile::new(&format!("{name}-huge"), HUGE_LEN, true);
    let (ends, reported) = channel();
    let handler = Files {
        file: file.0.clone(),
        huge: huge.0.clone(),
        ends: Mutex::new(ends),
    };
    let tls = TlsConfig::builder()
        .identity(pki.issue(&["localhost"]).identity())
        .build()
        .unwrap();
    let server = TestServer::start_tls(backend, Options::default(), tls, handler);
    let next_end = || {
        reported
            .recv_timeout(Duration::from_secs(10))
            .expect("a response's end reported")
            .outcome
    };
    let expected: Vec<u8> = (0..FILE_LEN).map(file_byte).collect();

    // The whole file, then a range of it, then more, on one connection:
    // each response ends exactly where its region does, or the next would
    // not parse.
    let mut client = TlsClient::connect(&server, pki.default_client(), "localhost").unwrap();
    for _ in 0..2 {
        let whole = client.get("/file");
        assert_eq!(whole.status, 200);
        assert_eq!(whole.body.len() as u64, FILE_LEN);
        assert!(whole.body == expected, "the file differs");
        assert_eq!(next_end(), Outcome::Sent);
        // A range across record boundaries, ending 7 bytes short of the end.
        let (first, last) = (16_380u64, FILE_LEN - 8);
        client.send(
            format!("GET /file HTTP/1.1\r\nHost: t\r\nRange: bytes={first}-{last}\r\n\r\n")
                .as_bytes(),
        );
        let part = client.response();
        assert_eq!(part.status, 206);
        assert!(
            part.head
                .contains(&format!("Content-Range: bytes {first}-{last}/{FILE_LEN}")),
            "{}",
            part.head
        );
        assert!(
            part.body == expected[first as usize..=last as usize],
            "the range differs"
        );
        assert_eq!(next_end(), Outcome::Sent);
    }
    assert_eq!(client.get("/").body, b"ok");
    // One connection at a time: the portable backend's single thread
    // serves the next only once this one is gone.
    drop(client);

    // A client leaving mid-file: the server's writes fail and it closes
    // the connection, reporting the abort, without waiting for a timeout.
    let mut leaving = TlsClient::connect(&server, pki.default_client(), "localhost").unwrap();
    leaving.send(b"GET /huge HTTP/1.1\r\nHost: t\r\n\r\n");
    let (head, length) = leaving.response_head();
    assert_eq!(head.status, 200);
    assert_eq!(length, HUGE_LEN);
    let left = Instant::now();
    drop(leaving);
    assert_eq!(next_end(), Outcome::Aborted);
    assert!(
        left.elapsed() < Duration::from_secs(5),
        "{:?}",
        left.elapsed()
    );
    // The server goes on serving.
    let mut again = TlsClient::connect(&server, pki.default_client(), "localhost").unwrap();
    assert_eq!(again.get("/").body, b"ok");
}
