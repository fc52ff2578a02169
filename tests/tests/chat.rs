//! The `chat` example over real sockets: its page, rooms across workers,
//! and what it refuses. (`browser.rs` runs the page itself in Chromium.)
#![cfg(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "dragonfly"
))]

use std::net::TcpStream;

use peregrine_examples::chat::{Chat, MAX_MESSAGE_LEN};
use peregrine_tests::{IO_TIMEOUT, Options, TestServer, get};
use tungstenite::Message;

/// Tungstenite's blocking WebSocket over a plain socket.
type Ws = tungstenite::WebSocket<TcpStream>;

/// A chat server with two workers.
fn start() -> TestServer {
    TestServer::start_with_sender(Options::default(), Chat::new).0
}

/// Joins `path` (`/ws?room=...`).
fn join(server: &TestServer, path: &str) -> Ws {
    server.websocket(path)
}

/// Sends `text` from `from` and waits until `from` itself receives it back:
/// once it has, the message went through every worker's mailbox.
fn say(from: &mut Ws, text: &str) {
    from.send(Message::text(text)).unwrap();
    assert_eq!(
        from.read().unwrap(),
        Message::text(text),
        "the author hears it"
    );
}

#[test]
fn the_page_is_served_at_the_root() {
    let server = start();
    let mut client = server.connect();
    client.send(&get("/"));
    let response = client.response();
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let page = response.text();
    assert!(page.contains("new WebSocket(") && page.contains("window.chat"));
    client.send(&get("/missing"));
    assert_eq!(client.response().status, 404);
}

#[test]
fn messages_reach_everyone_in_the_room_and_no_one_else() {
    let server = start();
    // Enough members that both workers serve some of each room.
    let mut red: Vec<Ws> = (0..6).map(|_| join(&server, "/ws?room=red")).collect();
    let mut blue: Vec<Ws> = (0..6).map(|_| join(&server, "/ws?room=blue")).collect();
    let mut lobby = join(&server, "/ws");
    say(&mut red[0], "ann: hi reds");
    for member in &mut red[1..] {
        assert_eq!(member.read().unwrap(), Message::text("ann: hi reds"));
    }
    say(&mut blue[3], "bob: hi blues");
    for (index, member) in blue.iter_mut().enumerate().filter(|(i, _)| *i != 3) {
        assert_eq!(
            member.read().unwrap(),
            Message::text("bob: hi blues"),
            "blue member {index}"
        );
    }
    // Nothing crossed rooms: each one's next message is its own room's.
    say(&mut lobby, "cat: anyone?");
    say(&mut red[1], "dan: next");
    for member in &mut red[2..] {
        assert_eq!(member.read().unwrap(), Message::text("dan: next"));
    }
    let stats = server.stop();
    assert_eq!(stats.messages_undelivered, 0);
}

#[test]
fn bad_rooms_binary_and_overlong_messages_are_refused() {
    let server = start();
    let stream = TcpStream::connect(server.addr()).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let url = format!("ws://{}/ws?room=no%20spaces", server.addr());
    match tungstenite::client(url.as_str(), stream) {
        Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(response))) => {
            assert_eq!(response.status(), 404)
        }
        other => panic!("expected a 404, got {other:?}"),
    }
    let mut ws = join(&server, "/ws?room=r");
    ws.send(Message::binary(vec![1, 2, 3])).unwrap();
    match ws.read().unwrap() {
        Message::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 1003),
        other => panic!("expected 1003, got {other:?}"),
    }
    let mut ws = join(&server, "/ws?room=r");
    say(&mut ws, &"x".repeat(MAX_MESSAGE_LEN));
    ws.send(Message::text("x".repeat(MAX_MESSAGE_LEN + 1)))
        .unwrap();
    match ws.read().unwrap() {
        Message::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 1009),
        other => panic!("expected 1009, got {other:?}"),
    }
}
