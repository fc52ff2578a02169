//! WebSocket messages sent from outside the handler's callbacks, through
//! the `Sender` of the readiness backends and of every model of the
//! portable one: to one connection by id, to a topic,
//! to everyone — from a thread of the test and from another connection's
//! callback — with tungstenite as the client. Also what happens to a
//! message nobody can take: a connection that is gone, one that does not
//! read (dropped and counted, or closed with 1008 when so configured), an
//! id from another server.

use std::net::TcpStream;
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use peregrine_core::ws::{CloseCode, Handshake, Message};
use peregrine_core::{
    Backpressure, Config, ConnectionId, Request, Response, StatusCode, Upgrade, WebSocket,
};
use peregrine_driver::{PostError, Sender};
use peregrine_tests::{Backend, Handler, Options, TestServer, native_backend_tests};

native_backend_tests!(
    [concurrent] a_message_sent_from_another_thread_reaches_that_connection_only,
    every_kind_of_message_can_be_sent_and_a_close_ends_the_connection,
    [concurrent] publish_reaches_the_subscribers_of_the_topic_only_from_any_thread,
    [concurrent] a_broadcast_from_another_thread_reaches_many_concurrent_clients,
    a_client_that_does_not_read_loses_messages_and_they_are_counted,
    a_client_that_does_not_read_is_closed_with_1008_when_configured,
    messages_for_a_connection_that_is_gone_are_counted_and_foreign_ids_refused,
    a_streamed_body_waiting_for_the_application_resumes_when_woken,
    a_streamed_body_waiting_for_the_application_ends_when_its_client_leaves,
    a_flood_of_wakes_from_several_threads_is_never_refused_and_wakes_the_stream,
    a_message_for_an_idle_connection_goes_out_at_once,
    a_wake_up_resumes_a_waiting_body_at_once,
);

/// The most a post may take, on median, to reach the client of an idle
/// connection. A thread of the portable backend that looked at its
/// mailbox only between its 100 ms socket waits would take 50 ms.
const PROMPT: Duration = Duration::from_millis(25);

/// The median of `times`.
fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Tungstenite's blocking WebSocket over a plain socket.
type Ws = tungstenite::WebSocket<TcpStream>;

/// How long a test waits for the server to report a connection open.
const OPEN_TIMEOUT: Duration = Duration::from_secs(20);

/// A hub: accepts `/ws?topic=N` (subscribing to topic N when N ≠ 0),
/// tells the test each connection's id when it opens, publishes
/// `"publish N text"` messages to topic N, and echoes anything else.
struct Hub {
    /// Posts for the connections.
    sender: Sender,
    /// Told each connection's id, as it opens.
    opened: Mutex<mpsc::Sender<ConnectionId>>,
}

impl Hub {
    /// A hub posting through `sender`, and what hears of each opening.
    fn new(sender: Sender) -> (Hub, mpsc::Receiver<ConnectionId>) {
        let (tx, rx) = mpsc::channel();
        let hub = Hub {
            sender,
            opened: Mutex::new(tx),
        };
        (hub, rx)
    }
}

impl Handler for Hub {
    fn handle(&self, _: &Request<'_>, response: &mut Response<'_>) {
        response.status(StatusCode::NOT_FOUND);
    }

    fn websocket(&self, request: &Request<'_>, _: &Handshake<'_>) -> Upgrade {
        if request.path() != b"/ws" {
            return Upgrade::Decline;
        }
        let topic = request
            .query()
            .and_then(|query| std::str::from_utf8(query).ok())
            .and_then(|query| query.strip_prefix("topic="))
            .and_then(|topic| topic.parse().ok())
            .unwrap_or(0);
        Upgrade::Accept {
            protocol: None,
            tag: topic,
            compress: true,
        }
    }

    fn on_open(&self, socket: &mut WebSocket<'_>) {
        if socket.tag() != 0 {
            socket.subscribe(socket.tag()).expect("one topic fits");
        }
        if let Ok(opened) = self.opened.lock() {
            let _ = opened.send(socket.id());
        }
    }

    fn on_message(&self, message: Message<'_>, socket: &mut WebSocket<'_>) {
        if let Message::Text(text) = message {
            if let Some(rest) = text.strip_prefix("publish ") {
                let (topic, text) = rest.split_once(' ').expect("publish TOPIC TEXT");
                let topic = topic.parse().expect("a numeric topic");
                self.sender
                    .publish(topic, Message::Text(text))
                    .expect("the mailbox has room");
                return;
            }
        }
        let _ = match message {
            Message::Text(text) => socket.send_text(text),
            Message::Binary(data) => socket.send_binary(data),
            _ => Ok(()),
        };
    }
}

/// A hub server on `backend` with `options`, the test's sender, and the
/// ids of connections as they open.
fn start(backend: Backend, options: Options) -> (TestServer, Sender, mpsc::Receiver<ConnectionId>) {
    let (opened_tx, opened_rx) = mpsc::channel();
    let (server, sender) = TestServer::start_with_sender_on(backend, options, |sender| {
        let (hub, rx) = Hub::new(sender);
        opened_tx.send(rx).expect("the test waits");
        hub
    });
    let opened = opened_rx.recv().expect("the hub was built");
    (server, sender, opened)
}

/// Opens a WebSocket to `path` and waits until the server reports it open;
/// returns it and its id.
fn open(
    server: &TestServer,
    path: &str,
    opened: &mpsc::Receiver<ConnectionId>,
) -> (Ws, ConnectionId) {
    let ws = server.websocket(path);
    let id = opened
        .recv_timeout(OPEN_TIMEOUT)
        .expect("the server opened it");
    (ws, id)
}

/// The next text message `ws` receives.
#[track_caller]
fn next_text(ws: &mut Ws) -> String {
    match ws.read().expect("a message") {
        tungstenite::Message::Text(text) => text.as_str().to_owned(),
        other => panic!("expected text, got {other:?}"),
    }
}

fn a_message_sent_from_another_thread_reaches_that_connection_only(backend: Backend) {
    let (server, sender, opened) = start(backend, Options::default());
    let mut clients: Vec<_> = (0..4).map(|_| open(&server, "/ws", &opened)).collect();
    let target = clients[2].1;
    std::thread::spawn(move || sender.send(target, Message::Text("for you alone")))
        .join()
        .expect("the thread ran")
        .expect("posted");
    assert_eq!(next_text(&mut clients[2].0), "for you alone");
    // Every connection still answers, and the others got nothing before
    // their answer.
    for (ws, _) in &mut clients {
        ws.send(tungstenite::Message::text("marker")).unwrap();
        assert_eq!(next_text(ws), "marker");
    }
    let stats = server.stop();
    assert_eq!(stats.messages_undelivered, 0);
}

fn every_kind_of_message_can_be_sent_and_a_close_ends_the_connection(backend: Backend) {
    let (server, sender, opened) = start(backend, Options::default());
    let (mut ws, id) = open(&server, "/ws", &opened);
    sender.send(id, Message::Binary(&[1, 2, 3])).unwrap();
    sender.send(id, Message::Ping(b"are you there")).unwrap();
    sender.send(id, Message::Pong(b"unsolicited")).unwrap();
    sender
        .send(id, Message::Close(Some(CloseCode::NORMAL), "done"))
        .unwrap();
    // After the Close, nothing more goes out.
    sender.send(id, Message::Text("too late")).unwrap();
    assert_eq!(
        ws.read().unwrap(),
        tungstenite::Message::binary(vec![1u8, 2, 3])
    );
    assert_eq!(
        ws.read().unwrap(),
        tungstenite::Message::Ping(b"are you there".to_vec().into())
    );
    assert_eq!(
        ws.read().unwrap(),
        tungstenite::Message::Pong(b"unsolicited".to_vec().into())
    );
    match ws.read().unwrap() {
        tungstenite::Message::Close(Some(frame)) => {
            assert_eq!(u16::from(frame.code), 1000);
            assert_eq!(frame.reason.as_str(), "done");
        }
        other => panic!("expected the Close, got {other:?}"),
    }
    // tungstenite replies to the Close; the server then closes the socket.
    match ws.read() {
        Ok(message) => panic!("nothing may follow the Close, got {message:?}"),
        Err(tungstenite::Error::ConnectionClosed) => {}
        Err(error) => panic!("no orderly close: {error}"),
    }
    drop(ws);
    let stats = server.stop();
    assert_eq!(stats.messages_undelivered, 1, "the text after the Close");
}

fn publish_reaches_the_subscribers_of_the_topic_only_from_any_thread(backend: Backend) {
    let (server, sender, opened) = start(backend, Options::default());
    let (mut red_a, _) = open(&server, "/ws?topic=1", &opened);
    let (mut red_b, _) = open(&server, "/ws?topic=1", &opened);
    let (mut blue, _) = open(&server, "/ws?topic=2", &opened);
    let (mut none, _) = open(&server, "/ws", &opened);
    std::thread::spawn(move || {
        sender.publish(1, Message::Text("red news")).unwrap();
        sender.publish(2, Message::Text("blue news")).unwrap();
        sender.publish(3, Message::Text("nobody's news")).unwrap();
    })
    .join()
    .expect("the thread ran");
    assert_eq!(next_text(&mut red_a), "red news");
    assert_eq!(next_text(&mut red_b), "red news");
    assert_eq!(next_text(&mut blue), "blue news");
    // A connection's own callback publishes too (a chat room).
    blue.send(tungstenite::Message::text("publish 1 from blue"))
        .unwrap();
    assert_eq!(next_text(&mut red_a), "from blue");
    assert_eq!(next_text(&mut red_b), "from blue");
    none.send(tungstenite::Message::text("marker")).unwrap();
    assert_eq!(next_text(&mut none), "marker", "no topic, no news");
    blue.send(tungstenite::Message::text("marker")).unwrap();
    assert_eq!(next_text(&mut blue), "marker", "not its topic");
    server.stop();
}

fn a_broadcast_from_another_thread_reaches_many_concurrent_clients(backend: Backend) {
    // A thousand on an event loop; on the portable backend, which gives
    // each connection a thread, a hundred.
    let clients_at_once = match backend {
        Backend::StdPool | Backend::StdPerConnection | Backend::StdSingle => 100,
        _ => 1000,
    };
    #[cfg(unix)]
    peregrine_tests::raise_fd_limit(2 * clients_at_once as u64 + 256);
    let options = Options {
        threads: clients_at_once + 8,
        ..Options::default()
    };
    let (server, sender, opened) = start(backend, options);
    let mut clients: Vec<Ws> = (0..clients_at_once)
        .map(|_| open(&server, "/ws", &opened).0)
        .collect();
    let payload: Vec<u8> = (0..1024u32).map(|i| (i % 251) as u8).collect();
    let message = payload.clone();
    let broadcaster = std::thread::spawn(move || {
        sender.broadcast(Message::Binary(&message))?;
        sender.broadcast(Message::Text("and that is all"))
    });
    broadcaster
        .join()
        .expect("the thread ran")
        .expect("both posted");
    let started = Instant::now();
    for (index, ws) in clients.iter_mut().enumerate() {
        match ws.read() {
            Ok(tungstenite::Message::Binary(data)) => {
                assert_eq!(&data[..], &payload[..], "client {index}")
            }
            other => panic!("client {index}: expected the broadcast, got {other:?}"),
        }
        assert_eq!(next_text(ws), "and that is all", "client {index}");
    }
    eprintln!(
        "{clients_at_once} clients read the broadcast within {:?} of posting",
        started.elapsed()
    );
    let stats = server.stop();
    assert_eq!(stats.messages_undelivered, 0);
}

/// A hub server whose connections' write buffers are the fixture's
/// 16 KiB, with the given backpressure policy; a client that never reads; and
/// 8 KiB messages posted to it until the server gives up on it or
/// `limit` messages went in. Returns the server, the client's socket and
/// id, and the sender.
fn flood(
    backend: Backend,
    backpressure: Backpressure,
    limit: usize,
) -> (TestServer, Ws, ConnectionId, Sender) {
    let options = Options {
        config: Config {
            websocket_backpressure: backpressure,
            ..Config::DEFAULT
        },
        ..Options::default()
    };
    let (server, sender, opened) = start(backend, options);
    let (ws, id) = open(&server, "/ws", &opened);
    let message = vec![0x5a; 8 * 1024];
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut posted = 0;
    while posted < limit {
        assert!(Instant::now() < deadline, "the mailbox never drained");
        match sender.send(id, Message::Binary(&message)) {
            Ok(()) => posted += 1,
            Err(PostError::Full) => std::thread::yield_now(),
            Err(error) => panic!("post failed: {error}"),
        }
    }
    (server, ws, id, sender)
}

fn a_client_that_does_not_read_loses_messages_and_they_are_counted(backend: Backend) {
    // 2,000 × 8 KiB is far more than the socket buffers and the write
    // buffer hold.
    let (server, mut ws, id, sender) = flood(backend, Backpressure::Drop, 2000);
    // The client now reads everything, up to an "end" marker; the marker
    // itself may be dropped while the buffers are still full, so it is
    // posted again until the client has it.
    let (got_end, end_seen) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut binaries = 0u64;
        loop {
            match ws.read().expect("the connection stays open") {
                tungstenite::Message::Binary(data) => {
                    assert!(data.iter().all(|&b| b == 0x5a));
                    binaries += 1;
                }
                tungstenite::Message::Text(text) if text.as_str() == "end" => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        let _ = got_end.send(());
        // Alive: an echo still comes back.
        ws.send(tungstenite::Message::text("echo")).unwrap();
        loop {
            match ws.read().expect("the echo") {
                tungstenite::Message::Text(text) if text.as_str() == "echo" => break,
                tungstenite::Message::Text(text) if text.as_str() == "end" => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        binaries
    });
    let mut ends = 0u64;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "the end marker never arrived");
        if sender.send(id, Message::Text("end")).is_ok() {
            ends += 1;
        }
        if end_seen.recv_timeout(Duration::from_millis(50)).is_ok() {
            break;
        }
    }
    let binaries = reader.join().expect("the reader saw it all");
    let stats = server.stop();
    assert!(binaries < 2000, "some messages had to be dropped");
    // Every flood message was delivered or counted; of the markers, at
    // least the one read was delivered.
    let dropped = stats.messages_undelivered;
    assert!(
        (2000 - binaries..2000 - binaries + ends).contains(&dropped),
        "{binaries} delivered, {dropped} counted undelivered, {ends} markers"
    );
}

fn a_client_that_does_not_read_is_closed_with_1008_when_configured(backend: Backend) {
    let (server, mut ws, _, _) = flood(backend, Backpressure::Close, 2000);
    let mut binaries = 0;
    loop {
        match ws.read() {
            Ok(tungstenite::Message::Binary(data)) => {
                assert!(data.iter().all(|&b| b == 0x5a));
                binaries += 1;
            }
            Ok(tungstenite::Message::Close(Some(frame))) => {
                assert_eq!(u16::from(frame.code), 1008);
                assert_eq!(frame.reason.as_str(), "backpressure");
                break;
            }
            other => panic!("expected the flood then a 1008 Close, got {other:?}"),
        }
    }
    assert!(binaries < 2000, "the server gave up before the end");
    let stats = server.stop();
    assert_eq!(
        stats.messages_undelivered,
        2000 - binaries,
        "the message that did not fit and all after it"
    );
}

fn messages_for_a_connection_that_is_gone_are_counted_and_foreign_ids_refused(backend: Backend) {
    let (server, sender, opened) = start(backend, Options::default());
    let (mut ws, id) = open(&server, "/ws", &opened);
    ws.close(None).unwrap();
    // Read until the server's reply to the Close and the socket's end.
    while ws.read().is_ok() {}
    // The server may not have seen the end yet; either way the message
    // cannot be delivered.
    sender.send(id, Message::Text("anyone?")).unwrap();
    let foreign = ConnectionId::new(99, id.key());
    assert_eq!(
        sender.send(foreign, Message::Text("x")),
        Err(PostError::NoSuchWorker)
    );
    let stats = server.stop();
    assert_eq!(stats.messages_undelivered, 1);
}

/// Streams `/feed` (chunked) from what the test puts in `pending`: while
/// it is empty and not finished, `fill_body` answers `Fill::Pending` and
/// the connection waits for a wake-up.
struct Feed {
    /// Told the connection's id when the request arrives, and each time
    /// `fill_body` has answered.
    events: Mutex<mpsc::Sender<Option<ConnectionId>>>,
    /// Bytes to send, and whether the body ends after them.
    pending: std::sync::Arc<Mutex<(Vec<u8>, bool)>>,
}

impl Handler for Feed {
    fn handle(&self, _: &Request<'_>, response: &mut Response<'_>) {
        response.stream(None);
        let _ = self.events.lock().unwrap().send(Some(response.id()));
    }

    fn fill_body(&self, _: &mut u64, buf: &mut [u8], _: &mut ()) -> peregrine_core::Fill {
        let mut pending = self.pending.lock().unwrap();
        let n = pending.0.len().min(buf.len());
        buf[..n].copy_from_slice(&pending.0[..n]);
        pending.0.drain(..n);
        let fill = match (n, pending.0.is_empty() && pending.1) {
            (_, true) => peregrine_core::Fill::Done(n),
            (0, false) => peregrine_core::Fill::Pending,
            (n, false) => peregrine_core::Fill::More(n),
        };
        // Told once the answer is decided, so the test cannot change what
        // this call sees.
        let _ = self.events.lock().unwrap().send(None);
        fill
    }
}

/// A server streaming `/feed` from `pending`, and a client whose `/feed`
/// stream is parked: the server found nothing to send yet.
struct ParkedFeed {
    server: TestServer,
    sender: Sender,
    client: peregrine_tests::Client,
    /// The parked connection.
    id: ConnectionId,
    /// What `Feed` reports.
    events: mpsc::Receiver<Option<ConnectionId>>,
    /// What `Feed` sends next.
    pending: std::sync::Arc<Mutex<(Vec<u8>, bool)>>,
}

impl ParkedFeed {
    fn start(backend: Backend, options: Options) -> Self {
        let (events_tx, events) = mpsc::channel();
        let pending = std::sync::Arc::new(Mutex::new((Vec::new(), false)));
        let feed_pending = std::sync::Arc::clone(&pending);
        let (server, sender) = TestServer::start_with_sender_on(backend, options, move |_| Feed {
            events: Mutex::new(events_tx),
            pending: feed_pending,
        });
        let mut client = server.connect();
        client.send(&peregrine_tests::get("/feed"));
        let id = events
            .recv_timeout(OPEN_TIMEOUT)
            .expect("handled")
            .expect("the id comes first");
        // Asked once, found nothing: now it waits, without asking again.
        assert_eq!(events.recv_timeout(OPEN_TIMEOUT), Ok(None));
        ParkedFeed {
            server,
            sender,
            client,
            id,
            events,
            pending,
        }
    }
}

fn a_streamed_body_waiting_for_the_application_resumes_when_woken(backend: Backend) {
    let ParkedFeed {
        server,
        sender,
        mut client,
        id,
        events,
        pending,
    } = ParkedFeed::start(backend, Options::default());
    *pending.lock().unwrap() = (b"hello, woken world".to_vec(), true);
    sender.wake(id).expect("posted");
    let response = client.response();
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "hello, woken world");
    // One more call produced the body: the waiting connection was not
    // polled in between.
    assert_eq!(
        events.try_iter().count(),
        1,
        "fill_body calls after the wake"
    );
    // A wake-up for a connection that waits for nothing is harmless.
    sender.wake(id).expect("posted");
    client.send(&peregrine_tests::get("/feed"));
    let _ = events.recv_timeout(OPEN_TIMEOUT).expect("handled");
    pending.lock().unwrap().1 = true;
    sender.wake(id).expect("posted");
    assert_eq!(client.response().text(), "");
    server.stop();
}

fn a_streamed_body_waiting_for_the_application_ends_when_its_client_leaves(backend: Backend) {
    let options = Options {
        grace: Duration::from_secs(30),
        ..Options::default()
    };
    let ParkedFeed { server, client, .. } = ParkedFeed::start(backend, options);
    // The client leaves while the stream waits for the application: the
    // server notices, so a shutdown does not wait out its grace period.
    drop(client);
    let stopping = Instant::now();
    server.stop();
    assert!(
        stopping.elapsed() < Duration::from_secs(5),
        "stopped after {:?}",
        stopping.elapsed()
    );
}

fn a_flood_of_wakes_from_several_threads_is_never_refused_and_wakes_the_stream(backend: Backend) {
    let ParkedFeed {
        server,
        sender,
        mut client,
        id,
        pending,
        ..
    } = ParkedFeed::start(backend, Options::default());
    // Far more wake-ups than a mailbox of messages would hold, from four
    // threads at once: each one is accepted.
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let sender = sender.clone();
            std::thread::spawn(move || {
                for _ in 0..100_000 {
                    sender.wake(id).expect("a wake-up is never refused");
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    // The last of them finds the body ready, and it goes out.
    *pending.lock().unwrap() = (b"after the flood".to_vec(), true);
    sender.wake(id).expect("posted");
    assert_eq!(client.response().text(), "after the flood");
    let stats = server.stop();
    assert_eq!(stats.messages_undelivered, 0);
}

fn a_message_for_an_idle_connection_goes_out_at_once(backend: Backend) {
    let (server, sender, opened) = start(backend, Options::default());
    let (mut ws, id) = open(&server, "/ws", &opened);
    let latencies: Vec<Duration> = (0..20)
        .map(|_| {
            let posted = Instant::now();
            sender.send(id, Message::Text("now")).expect("posted");
            assert_eq!(next_text(&mut ws), "now");
            posted.elapsed()
        })
        .collect();
    let typical = median(latencies.clone());
    assert!(typical < PROMPT, "median {typical:?} of {latencies:?}");
    drop(ws);
    server.stop();
}

fn a_wake_up_resumes_a_waiting_body_at_once(backend: Backend) {
    let ParkedFeed {
        server,
        sender,
        mut client,
        mut id,
        events,
        pending,
    } = ParkedFeed::start(backend, Options::default());
    let mut latencies = Vec::new();
    for round in 0..10 {
        if round > 0 {
            // The next request on the connection waits the same way (the
            // call that ended the last body was reported before it went
            // out).
            assert_eq!(events.try_iter().count(), 1);
            *pending.lock().unwrap() = (Vec::new(), false);
            client.send(&peregrine_tests::get("/feed"));
            id = events
                .recv_timeout(OPEN_TIMEOUT)
                .expect("handled")
                .expect("the id comes first");
            assert_eq!(events.recv_timeout(OPEN_TIMEOUT), Ok(None));
        }
        *pending.lock().unwrap() = (b"woken".to_vec(), true);
        let woken = Instant::now();
        sender.wake(id).expect("posted");
        assert_eq!(client.response().text(), "woken");
        latencies.push(woken.elapsed());
    }
    let typical = median(latencies.clone());
    assert!(typical < PROMPT, "median {typical:?} of {latencies:?}");
    server.stop();
}
