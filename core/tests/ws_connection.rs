//! WebSocket through the connection machine: the handshake switches the
//! connection to a session; idle peers are pinged, then closed with 1001;
//! the server's own Close gets a bounded wait for the reply.

mod support;

use peregrine_core::ws::{Handshake, Message};
use peregrine_core::{Capacity, Config, Handler, Request, Response, Upgrade, WebSocket};
use support::Driver;

/// Accepts WebSocket at `/ws` and echoes text.
#[derive(Default)]
struct Echo;

impl Handler for Echo {
    fn handle(&self, _: &Request<'_>, response: &mut Response<'_>) {
        response.body_static(b"plain");
    }

    fn websocket(&self, request: &Request<'_>, _: &Handshake<'_>) -> Upgrade {
        match request.path() {
            b"/ws" => Upgrade::ACCEPT,
            // A handler bug: names a subprotocol no client offered.
            b"/ws-bad-protocol" => Upgrade::Accept {
                protocol: Some("never-offered"),
                tag: 0,
                compress: true,
            },
            _ => Upgrade::Decline,
        }
    }

    fn on_message(&self, message: Message<'_>, socket: &mut WebSocket<'_>) {
        if let Message::Text(text) = message {
            socket.send_text(text).unwrap();
        }
    }
}

const HANDSHAKE: &[u8] =
    b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// A masked client text frame (mask 0x01020304).
fn text_frame(text: &str) -> Vec<u8> {
    let mask = [1u8, 2, 3, 4];
    let mut frame = vec![0x81, 0x80 | text.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(text.bytes().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

type Conn = Driver<Echo, (), Capacity<4096, 4096, 16>>;

fn driver(config: Config) -> Conn {
    Driver::build(Echo, config)
}

#[test]
fn handshake_then_echo_over_the_same_connection() {
    let mut driver = driver(Config::DEFAULT);
    let mut input = HANDSHAKE.to_vec();
    input.extend_from_slice(&text_frame("hi")); // in the same read as the head
    driver.arrive(&input);
    let out = driver.out.clone();
    let head_end = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = std::str::from_utf8(&out[..head_end]).unwrap();
    assert!(
        head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{head}"
    );
    assert!(head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    assert_eq!(&out[head_end..], b"\x81\x02hi");
}

#[test]
fn a_subprotocol_the_client_did_not_offer_is_a_counted_500() {
    let bad =
        std::str::from_utf8(HANDSHAKE)
            .unwrap()
            .replacen("GET /ws ", "GET /ws-bad-protocol ", 1);
    let mut driver = driver(Config::DEFAULT);
    driver.arrive(bad.as_bytes());
    assert!(
        driver
            .output()
            .starts_with("HTTP/1.1 500 Internal Server Error\r\n"),
        "{}",
        driver.output()
    );
    assert_eq!(driver.counters.requests, 1);
    assert_eq!(driver.counters.responses, [0, 0, 0, 0, 1]);
}

#[test]
fn a_declined_upgrade_is_plain_http() {
    let declined = std::str::from_utf8(HANDSHAKE)
        .unwrap()
        .replacen("GET /ws ", "GET /other ", 1);
    let mut driver = driver(Config::DEFAULT);
    driver.arrive(declined.as_bytes());
    assert!(
        driver.output().starts_with("HTTP/1.1 200 OK\r\n"),
        "{}",
        driver.output()
    );
    assert!(driver.output().ends_with("plain"));
}

#[test]
fn silent_peer_is_pinged_then_closed_with_1001() {
    let config = Config {
        websocket_ping_interval: 1_000,
        websocket_idle_timeout: 3_000,
        ..Config::DEFAULT
    };
    let mut driver = driver(config);
    driver.arrive(HANDSHAKE);
    let handshake_len = driver.out.len();
    driver.advance(999);
    assert_eq!(
        driver.out.len(),
        handshake_len,
        "no ping before the interval"
    );
    driver.advance(1);
    assert_eq!(&driver.out[handshake_len..], b"\x89\x00", "an empty ping");
    driver.advance(1_000);
    assert_eq!(&driver.out[handshake_len..], b"\x89\x00\x89\x00");
    driver.advance(1_000);
    // Idle for 3 s: a Close with 1001 "idle".
    assert_eq!(&driver.out[handshake_len + 4..], b"\x88\x06\x03\xe9idle");
    assert!(!driver.conn.is_closed());
    // No reply within the linger time: the connection is dropped.
    driver.advance(Config::DEFAULT.linger_timeout);
    assert!(driver.conn.is_closed());
}

#[test]
fn a_talking_peer_is_neither_pinged_nor_closed() {
    let config = Config {
        websocket_ping_interval: 1_000,
        websocket_idle_timeout: 3_000,
        ..Config::DEFAULT
    };
    let mut driver = driver(config);
    driver.arrive(HANDSHAKE);
    let handshake_len = driver.out.len();
    for _ in 0..10 {
        driver.advance(900);
        driver.arrive(&text_frame("x"));
    }
    // Only the echoes: no ping, no close.
    assert_eq!(driver.out[handshake_len..], b"\x81\x01x".repeat(10)[..]);
    assert!(!driver.conn.is_closed());
}

#[test]
fn a_listen_only_peer_that_is_fed_messages_is_not_idle() {
    let config = Config {
        websocket_idle_timeout: 3_000,
        ..Config::DEFAULT
    };
    let mut driver = driver(config);
    driver.arrive(HANDSHAKE);
    let handshake_len = driver.out.len();
    // The peer never sends a frame, but the application keeps sending it
    // messages: fed for 9 s, three idle limits.
    for _ in 0..10 {
        driver.advance(900);
        let now = driver.now;
        driver
            .conn
            .send_message(&mut driver.bufs, Message::Text("x"), now)
            .unwrap();
        driver.pump();
    }
    assert_eq!(driver.out[handshake_len..], b"\x81\x01x".repeat(10)[..]);
    assert!(!driver.conn.is_closed());
    // Then silence both ways: closed with 1001 at the idle limit.
    driver.advance(3_000);
    assert!(driver.out.ends_with(b"\x88\x06\x03\xe9idle"));
}
