//! HTTPS on every backend: a rustls client verifying the server's
//! certificates against an authority made for the test. Requests,
//! keep-alive and pipelining, uploads and large bodies over TLS; TLS 1.2
//! and 1.3; certificates by name (SNI); ALPN; session resumption; the
//! handshake timeout; `close_notify`; certificates reloaded while the
//! server runs; and `curl`, when it is installed.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

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
    curl_insecure,
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
