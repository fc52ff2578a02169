//! The reference server's HTTPS options, as its command line gives them
//! (`peregrine_examples::Options`): `--tls-cert` and `--tls-key` serve
//! HTTPS on `--port`; adding `--tls-port N` serves plain HTTP on `--port`
//! and HTTPS on `N` from one handler, and stopping one stops both. On the
//! epoll and std backends, with a rustls client verifying the
//! certificate.

use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::mpsc::channel;
use std::thread::JoinHandle;

use peregrine_examples::Options as HelloOptions;
use peregrine_examples::hello::Hello;
use peregrine_std::{ShutdownHandle, Stats};
use peregrine_tests::tls::{Pki, TlsClient};
use peregrine_tests::{Client, IO_TIMEOUT, STOP_TIMEOUT};

/// A port free on 127.0.0.1 a moment ago (the server binds 0.0.0.0).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

/// The address of `port` on the loopback.
fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Writes a certificate for `localhost` issued by `pki` into `dir`;
/// returns the `--tls-cert` and `--tls-key` arguments.
fn certificate_files(pki: &Pki, dir: &Path) -> Vec<String> {
    let issued = pki.issue(&["localhost"]);
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    fs::write(&cert, issued.cert_pem).expect("cert");
    fs::write(&key, issued.key_pem).expect("key");
    vec![
        "--tls-cert".to_owned(),
        cert.display().to_string(),
        "--tls-key".to_owned(),
        key.display().to_string(),
    ]
}

/// `hello` run with `args` on a thread; returns once its ports are
/// bound, with its shutdown handle.
fn start_hello(args: Vec<String>) -> (ShutdownHandle, JoinHandle<std::io::Result<Stats>>) {
    let options = HelloOptions::parse(args.into_iter()).expect("options");
    let (give, take) = channel();
    let thread = std::thread::spawn(move || {
        options.run("hello", move |stop| {
            give.send(stop).expect("send the handle");
            Hello::new()
        })
    });
    match take.recv_timeout(STOP_TIMEOUT) {
        Ok(stop) => (stop, thread),
        Err(_) => panic!("hello did not start: {:?}", thread.join()),
    }
}

/// A temporary directory of its own for the test.
fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("peregrine-{name}-{}", std::process::id()));
    fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// `--tls-cert` alone: HTTPS on `--port`, and plain HTTP there is
/// refused, not served.
fn tls_on_its_port(backend: &str) {
    let pki = Pki::new();
    let dir = scratch(&format!("hello-tls-{backend}"));
    let port = free_port();
    let mut args = vec![
        "--port".to_owned(),
        port.to_string(),
        "--backend".to_owned(),
        backend.to_owned(),
        "--workers".to_owned(),
        "1".to_owned(),
    ];
    args.extend(certificate_files(&pki, &dir));
    let (stop, thread) = start_hello(args);

    let mut client = TlsClient::connect_to(local(port), pki.default_client(), "localhost")
        .expect("TLS handshake");
    let response = client.get("/");
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"Hello, World!");

    // (The std pool's one thread serves one connection at a time.)
    drop(client);
    // Plain HTTP on the TLS port: refused and closed, never served.
    let mut plain = TcpStream::connect(local(port)).expect("connect");
    plain.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let mut answer = Vec::new();
    match plain.read_to_end(&mut answer) {
        Ok(_) => {}
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset, "closed, not {e}"),
    }
    assert!(
        answer.starts_with(b"HTTP/1.1 400 "),
        "plain HTTP on the TLS port is refused: {:?}",
        String::from_utf8_lossy(&answer)
    );

    stop.shutdown();
    let stats = thread.join().expect("server thread").expect("server");
    assert_eq!(stats.responses[1], 1, "{stats:?}");
    fs::remove_dir_all(dir).ok();
}

/// `--tls-port`: plain HTTP on `--port` and HTTPS on the other, the same
/// answers from both; the shutdown handle stops both, and the stats are
/// their sum.
fn plain_and_tls_side_by_side(backend: &str) {
    let pki = Pki::new();
    let dir = scratch(&format!("hello-both-{backend}"));
    let (port, tls_port) = (free_port(), free_port());
    let mut args = vec![
        "--port".to_owned(),
        port.to_string(),
        "--tls-port".to_owned(),
        tls_port.to_string(),
        "--backend".to_owned(),
        backend.to_owned(),
        "--workers".to_owned(),
        "1".to_owned(),
    ];
    args.extend(certificate_files(&pki, &dir));
    let (stop, thread) = start_hello(args);

    let mut plain = Client::connect(local(port));
    plain.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let response = plain.response();
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"Hello, World!");

    let mut tls = TlsClient::connect_to(local(tls_port), pki.default_client(), "localhost")
        .expect("TLS handshake");
    for _ in 0..2 {
        let response = tls.get("/");
        assert_eq!(response.status, 200);
        assert_eq!(response.body, b"Hello, World!");
    }

    stop.shutdown();
    let stats = thread.join().expect("server thread").expect("server");
    assert_eq!(stats.responses[1], 3, "both servers counted: {stats:?}");
    assert!(
        TlsClient::connect_to(local(tls_port), pki.default_client(), "localhost").is_err(),
        "the TLS server stopped with the plaintext one"
    );
    fs::remove_dir_all(dir).ok();
}

#[test]
fn options_refuse_half_a_certificate_and_a_lone_tls_port() {
    let parse = |args: &[&str]| HelloOptions::parse(args.iter().map(|arg| (*arg).to_owned()));
    assert!(parse(&["--tls-cert", "c.pem"]).is_err());
    assert!(parse(&["--tls-key", "k.pem"]).is_err());
    assert!(parse(&["--tls-port", "8443"]).is_err());
    assert!(parse(&["--tls-cert", "c", "--tls-key", "k", "--tls-port", "8080"]).is_err());
    let options = parse(&["--tls-cert", "c", "--tls-key", "k", "--tls-port", "8443"]).unwrap();
    assert_eq!((options.port, options.tls_port), (8080, Some(8443)));
}

#[test]
fn a_missing_certificate_is_an_error_not_a_panic() {
    let port = free_port();
    let args = [
        "--port",
        &port.to_string(),
        "--tls-cert",
        "/nonexistent/c.pem",
        "--tls-key",
        "/nonexistent/k.pem",
    ]
    .map(str::to_owned);
    let options = HelloOptions::parse(args.into_iter()).unwrap();
    let result = options.run("hello", |_| Hello::new());
    assert!(result.is_err());
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn epoll_tls_on_its_port() {
    tls_on_its_port("epoll");
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn epoll_plain_and_tls_side_by_side() {
    plain_and_tls_side_by_side("epoll");
}

#[test]
fn std_tls_on_its_port() {
    tls_on_its_port("std");
}

#[test]
fn std_plain_and_tls_side_by_side() {
    plain_and_tls_side_by_side("std");
}
