//! The `chat` example over real sockets, on the readiness backends and
//! every model of the portable one: its page, rooms across workers, and
//! what it refuses; and the example's own runner (`run_with_sender`) on
//! the portable backend. (`browser.rs` runs the page itself in Chromium.)

use std::net::TcpStream;

use peregrine_examples::chat::{Chat, MAX_MESSAGE_LEN};
use peregrine_tests::{
    Backend, IO_TIMEOUT, Options, STOP_TIMEOUT, TestServer, get, native_backend_tests,
};
use tungstenite::Message;

/// Tungstenite's blocking WebSocket over a plain socket.
type Ws = tungstenite::WebSocket<TcpStream>;

native_backend_tests!(
    the_page_is_served_at_the_root,
    [concurrent] messages_reach_everyone_in_the_room_and_no_one_else,
    [concurrent] bad_rooms_binary_and_overlong_messages_are_refused,
);

/// A chat server on `backend` (two workers, or the fixture's threads).
fn start(backend: Backend) -> TestServer {
    TestServer::start_with_sender_on(backend, Options::default(), Chat::new).0
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

fn the_page_is_served_at_the_root(backend: Backend) {
    let server = start(backend);
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

fn messages_reach_everyone_in_the_room_and_no_one_else(backend: Backend) {
    let server = start(backend);
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

fn bad_rooms_binary_and_overlong_messages_are_refused(backend: Backend) {
    let server = start(backend);
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

/// The example as its `main` runs it, with `args`: `run_with_sender` on a
/// thread of its own, on a port free a moment ago. Two members of a room
/// talk, then the server is stopped.
fn chat_example_with(args: &[&str]) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let port_arg = port.to_string();
    let args = ["--port", &port_arg]
        .into_iter()
        .chain(args.iter().copied())
        .map(str::to_owned);
    let options = peregrine_examples::Options::parse(args).expect("options");
    let (give, take) = std::sync::mpsc::channel();
    let (stopped, done) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let stats = options.run_with_sender("chat", |stop, sender| {
            give.send(stop).expect("the test waits");
            Chat::new(sender)
        });
        let _ = stopped.send(stats);
    });
    let stop = match take.recv_timeout(STOP_TIMEOUT) {
        Ok(stop) => stop,
        Err(_) => panic!("chat did not start: {:?}", done.try_recv()),
    };
    let url = format!("ws://127.0.0.1:{port}/ws?room=std");
    let connect = || {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        tungstenite::client(url.as_str(), stream).expect("joined").0
    };
    // Each hears their own message back once in the room.
    let mut ann = connect();
    say(&mut ann, "ann: here");
    let mut bob = connect();
    say(&mut bob, "bob: here");
    assert_eq!(ann.read().unwrap(), Message::text("bob: here"));
    say(&mut ann, "ann: hi");
    assert_eq!(bob.read().unwrap(), Message::text("ann: hi"));
    drop((ann, bob));
    stop.shutdown();
    let stats = done
        .recv_timeout(STOP_TIMEOUT)
        .expect("the server stopped in time")
        .expect("the server ran");
    assert_eq!(stats.messages_undelivered, 0);
}

#[test]
fn the_example_runs_with_a_sender_on_a_std_pool() {
    chat_example_with(&["--backend", "std", "--model", "pool", "--workers", "4"]);
}

#[test]
fn the_example_runs_with_a_sender_on_std_threads_per_connection() {
    chat_example_with(&["--backend", "std", "--model", "per-connection"]);
}
