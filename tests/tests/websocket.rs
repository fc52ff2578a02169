//! WebSocket over real sockets, with tungstenite as the client: echoes of
//! every payload length class up to 1 MiB, fragmented messages, ping and
//! pong, the closing handshake both ways, close codes for every kind of
//! protocol error (invalid close codes, oversized messages, invalid UTF-8
//! split across fragments, unmasked and malformed frames), handshake
//! errors, frames arriving with the handshake or in a burst, and many
//! clients at once.
//!
//! Well-formed traffic goes through tungstenite's `WebSocket`; frames a
//! well-behaved client would never send are written with its
//! `FrameSocket`, which sends exactly the frame it is given (masked or
//! not) and reads the server's frames one by one, unreassembled.
//!
//! Two tests are ignored for known server bugs (see their `ignore`
//! reasons): they pass once the bugs are fixed.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use peregrine_core::ws::{CloseCode, Handshake, MAX_CONTROL_PAYLOAD, Message};
use peregrine_core::{Capacity, Request, Response, StatusCode, Upgrade, WebSocket};
use peregrine_tests::{
    Backend, Handler, IO_TIMEOUT, Options, STOP_TIMEOUT, Stats, TestServer, backend_tests,
};
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::coding::{Control, Data, OpCode};
use tungstenite::protocol::frame::{Frame, FrameHeader, FrameSocket};

backend_tests!(
    echoes_text_and_binary_of_every_length_class,
    fragmented_messages_are_echoed_whole,
    ping_is_answered_with_a_pong_of_the_same_payload,
    client_close_is_echoed_and_reaches_the_handler,
    handler_close_reaches_the_client_with_its_code_and_reason,
    invalid_close_frames_from_the_client_are_refused,
    message_over_the_limit_is_closed_with_1009,
    invalid_utf8_is_refused_before_the_message_ends,
    handshake_errors_are_answered_over_http,
    unmasked_client_frame_is_a_protocol_error,
    [multiplexed] many_clients_at_once,
    server_closes_the_tcp_connection_after_the_closing_handshake,
    frames_sent_with_the_handshake_are_kept,
    burst_of_messages_in_one_write_is_echoed_in_order,
    frames_breaking_the_protocol_are_closed_with_1002,
    handler_close_without_a_reply_ends_after_the_linger_time,
    graceful_shutdown_closes_websockets_with_going_away,
    an_idle_websocket_is_pinged_and_kept,
    an_idle_websocket_gets_a_close_frame_with_1001,
);

/// The text message that makes [`Echo`] close the connection with
/// [`HANDLER_CLOSE_CODE`] and [`HANDLER_CLOSE_REASON`].
const CLOSE_COMMAND: &str = "close with 4000, please";

/// The code [`Echo`] closes with when asked.
const HANDLER_CLOSE_CODE: u16 = 4000;

/// The reason [`Echo`] closes with when asked.
const HANDLER_CLOSE_REASON: &str = "closing as asked";

/// The read buffer of the fixture's servers ([`TestServer`] runs the
/// backend's default `Server`).
const DEFAULT_READ_BUFFER: usize = 16 * 1024;

/// The longest message a fixture server takes: its read buffer less the
/// room kept for a control frame arriving between fragments.
const DEFAULT_MESSAGE_LIMIT: usize = DEFAULT_READ_BUFFER - MAX_CONTROL_PAYLOAD;

/// Read and write buffers of the [`LargeServer`]: a 1 MiB message, its
/// frame header and a control frame fit.
const LARGE_BUFFER: usize = (1 << 20) + 4096;

/// A masking key with four different bytes, so a key applied at the wrong
/// phase garbles the payload.
const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Tungstenite's blocking WebSocket over a plain socket.
type Ws = tungstenite::WebSocket<TcpStream>;

/// The echo server of the tests: accepts the handshake at `/ws` only,
/// echoes text and binary messages, and closes with 4000 when sent
/// [`CLOSE_COMMAND`]. Every other request (a declined upgrade included)
/// is answered `404`. What `on_close` is given goes to the test.
struct Echo {
    /// Told the code and reason of each `on_close`.
    closes: Mutex<mpsc::Sender<(Option<u16>, String)>>,
}

impl Echo {
    /// The handler, and what hears its `on_close` calls.
    fn new() -> (Echo, mpsc::Receiver<(Option<u16>, String)>) {
        let (tx, rx) = mpsc::channel();
        let echo = Echo {
            closes: Mutex::new(tx),
        };
        (echo, rx)
    }
}

impl Handler for Echo {
    fn handle(&self, _: &Request<'_>, response: &mut Response<'_>) {
        response.status(StatusCode::NOT_FOUND);
    }

    fn websocket(&self, request: &Request<'_>, _: &Handshake<'_>) -> Upgrade {
        if request.path() == b"/ws" {
            Upgrade::ACCEPT
        } else {
            Upgrade::Decline
        }
    }

    fn on_message(&self, message: Message<'_>, socket: &mut WebSocket<'_>) {
        let sent = match message {
            Message::Text(CLOSE_COMMAND) => {
                let code = CloseCode::new(HANDLER_CLOSE_CODE).expect("a private-use code");
                socket.close(code, HANDLER_CLOSE_REASON)
            }
            Message::Text(text) => socket.send_text(text),
            Message::Binary(data) => socket.send_binary(data),
            _ => Ok(()),
        };
        // A lost echo would only show as a read timing out: say why at once.
        if let Err(error) = sent {
            let _ = socket.close(
                CloseCode::INTERNAL_ERROR,
                &format!("echo failed: {error:?}"),
            );
        }
    }

    fn on_close(&self, code: Option<CloseCode>, reason: &str, _: &mut ()) {
        if let Ok(closes) = self.closes.lock() {
            let _ = closes.send((code.map(CloseCode::as_u16), reason.to_owned()));
        }
    }
}

/// An [`Echo`] server with [`LARGE_BUFFER`]-byte read and write buffers
/// (the fixture's servers have the default 16 KiB), started on a thread
/// and shut down, within [`STOP_TIMEOUT`], when dropped.
struct LargeServer {
    /// Where it listens.
    addr: SocketAddr,
    /// Stops it.
    handle: peregrine_tests::ShutdownHandle,
    /// What `run` returned.
    done: mpsc::Receiver<io::Result<Stats>>,
    /// The thread running it.
    thread: Option<JoinHandle<()>>,
}

impl LargeServer {
    /// Starts an [`Echo`] on `backend`: one worker, a couple of buffer
    /// pairs (each is 2 MiB), a few connections.
    fn start(backend: Backend) -> LargeServer {
        let (echo, _) = Echo::new();
        let (tx, done) = mpsc::channel();
        let (addr, handle, thread) = match backend {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Backend::Epoll => large_reactor::<peregrine_epoll::Epoll>(echo, tx),
            #[cfg(any(
                target_os = "macos",
                target_os = "ios",
                target_os = "freebsd",
                target_os = "dragonfly"
            ))]
            Backend::Kqueue => large_reactor::<peregrine_kqueue::Kqueue>(echo, tx),
            Backend::StdPool | Backend::StdPerConnection | Backend::StdSingle => {
                let model = match backend {
                    Backend::StdPool => peregrine_std::Model::Pool,
                    Backend::StdPerConnection => {
                        peregrine_std::Model::PerConnection { max_threads: 2 }
                    }
                    _ => peregrine_std::Model::Single,
                };
                let server =
                    peregrine_std::ServerWith::<Capacity<LARGE_BUFFER, LARGE_BUFFER, 32>>::bind(
                        "127.0.0.1:0",
                    )
                    .expect("bind 127.0.0.1:0")
                    .workers(2)
                    .model(model)
                    .handle_signals(false);
                let addr = server.local_addr();
                let handle = server.shutdown_handle();
                let thread = std::thread::Builder::new()
                    .name("large-server".into())
                    .spawn(move || {
                        let _ = tx.send(server.run(echo));
                    })
                    .expect("spawn the server thread");
                (addr, handle, thread)
            }
            Backend::Tokio => {
                let (addr, handle, run) = peregrine_tests::tokio_server::<
                    Capacity<LARGE_BUFFER, LARGE_BUFFER, 32>,
                    _,
                    _,
                >(&Options::default(), echo);
                let thread = std::thread::Builder::new()
                    .name("large-server".into())
                    .spawn(move || {
                        let _ = tx.send(run());
                    })
                    .expect("spawn the server thread");
                (addr, handle, thread)
            }
            other => panic!("no WebSocket over {}", other.name()),
        };
        LargeServer {
            addr,
            handle,
            done,
            thread: Some(thread),
        }
    }
}

/// A large-buffer [`Echo`] on a readiness backend (epoll, kqueue), which
/// share their builder: one worker, a couple of buffer pairs, a few
/// connections. Its address, shutdown handle and thread.
#[cfg(unix)]
fn large_reactor<P: peregrine_driver::reactor::Poller + 'static>(
    echo: Echo,
    tx: mpsc::Sender<std::io::Result<peregrine_tests::Stats>>,
) -> (
    std::net::SocketAddr,
    peregrine_tests::ShutdownHandle,
    JoinHandle<()>,
) {
    let server = peregrine_driver::Server::<P, Capacity<LARGE_BUFFER, LARGE_BUFFER, 32>>::bind(
        "127.0.0.1:0",
    )
    .expect("bind 127.0.0.1:0")
    .workers(1)
    .buffers(2)
    .max_connections(16)
    .handle_signals(false);
    let addr = server.local_addr();
    let handle = server.shutdown_handle();
    let thread = std::thread::Builder::new()
        .name("large-server".into())
        .spawn(move || {
            let _ = tx.send(server.run(echo));
        })
        .expect("spawn the server thread");
    (addr, handle, thread)
}

impl Drop for LargeServer {
    fn drop(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        self.handle.shutdown();
        match self.done.recv_timeout(STOP_TIMEOUT) {
            Ok(result) => {
                let _ = thread.join();
                if let Err(error) = result {
                    if !std::thread::panicking() {
                        panic!("the server failed: {error}");
                    }
                }
            }
            Err(_) if !std::thread::panicking() => {
                panic!("the server did not stop within {STOP_TIMEOUT:?}")
            }
            Err(_) => {}
        }
    }
}

/// A socket to `addr` with [`IO_TIMEOUT`] on reads and writes.
#[track_caller]
fn tcp(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    stream.set_write_timeout(Some(IO_TIMEOUT)).expect("timeout");
    stream.set_nodelay(true).expect("nodelay");
    stream
}

/// A WebSocket client connected to `/ws` at `addr` (tungstenite checks
/// the `101` and its `Sec-WebSocket-Accept`).
#[track_caller]
fn connect(addr: SocketAddr) -> Ws {
    let (ws, response) = tungstenite::client(format!("ws://{addr}/ws"), tcp(addr))
        .unwrap_or_else(|e| panic!("WebSocket handshake with {addr}: {e}"));
    assert_eq!(response.status().as_u16(), 101);
    ws
}

/// A frame-level client: handshake done by tungstenite, then frames sent
/// exactly as given and the server's read one at a time.
#[track_caller]
fn connect_frames(addr: SocketAddr) -> FrameSocket<TcpStream> {
    // Nothing follows the 101 (the handler sends nothing on open), so
    // tungstenite has kept no bytes of the socket's for itself.
    FrameSocket::new(connect(addr).into_inner())
}

/// A client frame: masked with [`MASK`] when `masked`.
fn frame(opcode: OpCode, fin: bool, masked: bool, payload: &[u8]) -> Frame {
    let header = FrameHeader {
        is_final: fin,
        opcode,
        mask: masked.then_some(MASK),
        ..FrameHeader::default()
    };
    Frame::from_payload(header, tungstenite::Bytes::copy_from_slice(payload))
}

/// A masked client frame.
fn masked(opcode: OpCode, fin: bool, payload: &[u8]) -> Frame {
    frame(opcode, fin, true, payload)
}

/// The opcodes, shorter.
const TEXT: OpCode = OpCode::Data(Data::Text);
/// See [`TEXT`].
const BINARY: OpCode = OpCode::Data(Data::Binary);
/// See [`TEXT`].
const CONTINUATION: OpCode = OpCode::Data(Data::Continue);
/// See [`TEXT`].
const PING: OpCode = OpCode::Control(Control::Ping);
/// See [`TEXT`].
const PONG: OpCode = OpCode::Control(Control::Pong);
/// See [`TEXT`].
const CLOSE: OpCode = OpCode::Control(Control::Close);

/// Sends `frame`.
#[track_caller]
fn send(frames: &mut FrameSocket<TcpStream>, frame: Frame) {
    frames
        .send(frame)
        .unwrap_or_else(|e| panic!("sending a frame: {e}"));
}

/// Reads the server's next frame.
///
/// # Panics
///
/// If none arrives within [`IO_TIMEOUT`], or the server closed.
#[track_caller]
fn next_frame(frames: &mut FrameSocket<TcpStream>) -> Frame {
    match frames.read(None) {
        Ok(Some(frame)) => frame,
        Ok(None) => panic!("the server closed the connection instead of sending a frame"),
        Err(e) => panic!("reading a frame: {e}"),
    }
}

/// Reads the server's next frame, which must be a Close, and returns its
/// code and reason.
#[track_caller]
fn expect_close_frame(frames: &mut FrameSocket<TcpStream>) -> (u16, String) {
    let frame = next_frame(frames);
    assert_eq!(
        frame.header().opcode,
        CLOSE,
        "expected a Close, got {frame}"
    );
    assert!(frame.header().is_final);
    assert_eq!(frame.header().mask, None, "a server frame is never masked");
    let payload = frame.payload();
    assert!(payload.len() >= 2, "a Close without a code: {payload:?}");
    let code = u16::from_be_bytes([payload[0], payload[1]]);
    let reason = std::str::from_utf8(&payload[2..]).expect("a UTF-8 reason");
    (code, reason.to_owned())
}

/// Asserts the server closed the TCP connection cleanly: nothing more
/// than what `frames` already read, then the end of the stream (a FIN,
/// not a reset).
#[track_caller]
fn expect_eof(frames: &mut FrameSocket<TcpStream>) {
    match frames.read(None) {
        Ok(None) => {}
        Ok(Some(frame)) => panic!("expected the server to close; got {frame}"),
        Err(e) => panic!("expected the server to close; got {e}"),
    }
    let mut byte = [0u8; 1];
    match frames.get_mut().read(&mut byte) {
        Ok(0) => {}
        other => panic!("expected the end of the stream; got {other:?}"),
    }
}

/// Asserts the server fails the connection with `code`: a Close frame
/// carrying it, then the end of the stream.
#[track_caller]
fn expect_failed_with(frames: &mut FrameSocket<TcpStream>, code: u16) {
    let (got, reason) = expect_close_frame(frames);
    assert_eq!(got, code, "close code (reason {reason:?})");
    expect_eof(frames);
}

/// Reads the next message with tungstenite.
#[track_caller]
fn read(ws: &mut Ws) -> tungstenite::Message {
    ws.read()
        .unwrap_or_else(|e| panic!("reading a message: {e}"))
}

/// Reads what follows a Close with tungstenite: it answers a Close of the
/// server's, and as a client it reports `ConnectionClosed` only once the
/// server has closed the TCP connection.
#[track_caller]
fn expect_closed(ws: &mut Ws) {
    match ws.read() {
        Err(tungstenite::Error::ConnectionClosed) => {}
        Ok(message) => panic!("expected the server to close; got {message:?}"),
        Err(e) => panic!("expected the server to close; got {e}"),
    }
    let mut byte = [0u8; 1];
    match ws.get_mut().read(&mut byte) {
        Ok(0) => {}
        other => panic!("expected the end of the stream; got {other:?}"),
    }
}

/// Text of exactly `len` bytes, mixing one- to four-byte characters.
fn text_of(len: usize) -> String {
    const CHARS: [char; 6] = ['a', 'é', 'Z', '✓', '0', '𝄞'];
    let mut text = String::with_capacity(len);
    let mut i = 0;
    while text.len() < len {
        let c = CHARS[i % CHARS.len()];
        i += 1;
        if text.len() + c.len_utf8() <= len {
            text.push(c);
        } else {
            text.push('.');
        }
    }
    text
}

/// Bytes no two nearby positions of which are likely to match by
/// accident, every value from 0 to 255 among them.
fn bytes_of(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// Text and binary messages of 0, 125, 126, 65,535, 65,536 bytes and
/// 1 MiB come back byte for byte: every payload length encoding, both
/// ways, and a message far larger than a socket read.
fn echoes_text_and_binary_of_every_length_class(backend: Backend) {
    let server = LargeServer::start(backend);
    let mut ws = connect(server.addr);
    for len in [0, 125, 126, 65_535, 65_536, 1 << 20] {
        let text = text_of(len);
        ws.send(tungstenite::Message::text(text.as_str()))
            .unwrap_or_else(|e| panic!("sending {len} B of text: {e}"));
        match read(&mut ws) {
            tungstenite::Message::Text(echo) => {
                assert_eq!(echo.len(), len, "text echo length");
                assert!(echo.as_str() == text, "text echo of {len} B differs");
            }
            other => panic!("expected the text echo of {len} B, got {other:?}"),
        }

        let data = bytes_of(len);
        ws.send(tungstenite::Message::binary(data.clone()))
            .unwrap_or_else(|e| panic!("sending {len} B of binary: {e}"));
        match read(&mut ws) {
            tungstenite::Message::Binary(echo) => {
                assert_eq!(echo.len(), len, "binary echo length");
                assert!(echo[..] == data[..], "binary echo of {len} B differs");
            }
            other => panic!("expected the binary echo of {len} B, got {other:?}"),
        }
    }
    ws.close(None).expect("close");
    assert_eq!(read(&mut ws), tungstenite::Message::Close(None));
    expect_closed(&mut ws);
}

/// A message sent in fragments, with a Ping between two of them and a
/// character split across two, is echoed as one whole frame; the Pong is
/// sent at once, before the message is complete.
fn fragmented_messages_are_echoed_whole(backend: Backend) {
    let (echo, _) = Echo::new();
    let server = TestServer::start(backend, echo);
    let mut frames = connect_frames(server.addr());

    // "Hello, wörld": the 'ö' (C3 B6) split between the second and third
    // fragments; fragment lengths not multiples of 4, so the key's phase
    // moves.
    send(&mut frames, masked(TEXT, false, b"Hel"));
    send(&mut frames, masked(PING, true, b"between fragments"));
    let pong = next_frame(&mut frames);
    assert_eq!(pong.header().opcode, PONG, "{pong}");
    assert_eq!(pong.payload(), b"between fragments");
    send(&mut frames, masked(CONTINUATION, false, b"lo, w\xc3"));
    send(&mut frames, masked(CONTINUATION, false, b""));
    send(&mut frames, masked(CONTINUATION, true, b"\xb6rld"));
    let echo = next_frame(&mut frames);
    assert_eq!(echo.header().opcode, TEXT, "{echo}");
    assert!(echo.header().is_final, "the echo is one frame: {echo}");
    assert_eq!(echo.payload(), "Hello, wörld".as_bytes());

    // Binary, in fragments of 1, 1,000 and 4,999 bytes.
    let data = bytes_of(6_000);
    send(&mut frames, masked(BINARY, false, &data[..1]));
    send(&mut frames, masked(CONTINUATION, false, &data[1..1_001]));
    send(&mut frames, masked(CONTINUATION, true, &data[1_001..]));
    let echo = next_frame(&mut frames);
    assert_eq!(echo.header().opcode, BINARY, "{echo}");
    assert!(echo.header().is_final, "the echo is one frame: {echo}");
    assert!(echo.payload() == &data[..], "binary echo differs");

    send(&mut frames, masked(CLOSE, true, &1000u16.to_be_bytes()));
    assert_eq!(expect_close_frame(&mut frames).0, 1000);
    expect_eof(&mut frames);
}

/// A Ping is answered with a Pong carrying the same payload (empty, a
/// few bytes, the 125-byte maximum), and the connection goes on.
fn ping_is_answered_with_a_pong_of_the_same_payload(backend: Backend) {
    let (echo, _) = Echo::new();
    let server = TestServer::start(backend, echo);
    let mut ws = connect(server.addr());
    for payload in [Vec::new(), b"ping!".to_vec(), bytes_of(125)] {
        ws.send(tungstenite::Message::Ping(payload.clone().into()))
            .expect("send a ping");
        assert_eq!(
            read(&mut ws),
            tungstenite::Message::Pong(payload.clone().into()),
            "pong to a ping of {} B",
            payload.len()
        );
    }
    ws.send(tungstenite::Message::text("still open"))
        .expect("send");
    assert_eq!(read(&mut ws), tungstenite::Message::text("still open"));
}

/// The client closes with 1000 "bye": the server echoes 1000, tells
/// the handler the code and reason, and closes the TCP connection.
fn client_close_is_echoed_and_reaches_the_handler(backend: Backend) {
    let (echo, closes) = Echo::new();
    let server = TestServer::start(backend, echo);
    let mut ws = connect(server.addr());
    ws.close(Some(CloseFrame {
        code: 1000.into(),
        reason: "bye".into(),
    }))
    .expect("close");
    match read(&mut ws) {
        tungstenite::Message::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 1000),
        other => panic!("expected the server's Close, got {other:?}"),
    }
    expect_closed(&mut ws);
    let (code, reason) = closes.recv_timeout(IO_TIMEOUT).expect("on_close");
    assert_eq!((code, reason.as_str()), (Some(1000), "bye"));
}

/// A handler that closes with 4000 and a reason: the client receives
/// both; a message the client sent meanwhile is not echoed; the client's
/// reply reaches `on_close`, and the server then closes the TCP
/// connection.
fn handler_close_reaches_the_client_with_its_code_and_reason(backend: Backend) {
    let (echo, closes) = Echo::new();
    let server = TestServer::start(backend, echo);
    let mut ws = connect(server.addr());
    ws.send(tungstenite::Message::text("before")).expect("send");
    assert_eq!(read(&mut ws), tungstenite::Message::text("before"));

    // The second message follows the first without waiting: the server
    // has sent its Close by the time it reads it, so it is dropped.
    ws.send(tungstenite::Message::text(CLOSE_COMMAND))
        .expect("send");
    ws.send(tungstenite::Message::text("too late"))
        .expect("send");
    match read(&mut ws) {
        tungstenite::Message::Close(Some(frame)) => {
            assert_eq!(u16::from(frame.code), HANDLER_CLOSE_CODE);
            assert_eq!(frame.reason.as_str(), HANDLER_CLOSE_REASON);
        }
        other => panic!("expected the handler's Close, got {other:?}"),
    }
    // Tungstenite replies with the same code while reading on.
    expect_closed(&mut ws);
    let (code, reason) = closes.recv_timeout(IO_TIMEOUT).expect("on_close");
    assert_eq!(code, Some(HANDLER_CLOSE_CODE), "reason {reason:?}");
}

/// Close frames a client may not send fail the connection: codes that
/// are not for the wire (1005, 1006, 1015), unassigned or out of range
/// (999, 1004, 2999, 5000) or a one-byte payload with 1002; a reason that
/// is not UTF-8 with 1007.
fn invalid_close_frames_from_the_client_are_refused(backend: Backend) {
    let (echo, closes) = Echo::new();
    let server = TestServer::start(backend, echo);
    let mut cases: Vec<(Vec<u8>, u16)> = [999u16, 1004, 1005, 1006, 1015, 2999, 5000]
        .iter()
        .map(|code| (code.to_be_bytes().to_vec(), 1002))
        .collect();
    cases.push((vec![0x03], 1002));
    cases.push((b"\x03\xe8bad \xff reason".to_vec(), 1007));
    for (payload, expected) in cases {
        let mut frames = connect_frames(server.addr());
        send(&mut frames, masked(CLOSE, true, &payload));
        let (code, reason) = expect_close_frame(&mut frames);
        assert_eq!(
            code, expected,
            "answer to a Close of {payload:x?} ({reason:?})"
        );
        expect_eof(&mut frames);
        let (code, _) = closes.recv_timeout(IO_TIMEOUT).expect("on_close");
        assert_eq!(
            code,
            Some(expected),
            "on_close after a Close of {payload:x?}"
        );
    }
}

/// The longest message the server takes is echoed; one byte more, in
/// one frame or across fragments, is closed with 1009.
fn message_over_the_limit_is_closed_with_1009(backend: Backend) {
    let (echo, _) = Echo::new();
    let server = TestServer::start(backend, echo);

    let mut ws = connect(server.addr());
    let data = bytes_of(DEFAULT_MESSAGE_LIMIT);
    ws.send(tungstenite::Message::binary(data.clone()))
        .expect("send");
    assert_eq!(read(&mut ws), tungstenite::Message::binary(data));
    ws.send(tungstenite::Message::binary(bytes_of(
        DEFAULT_MESSAGE_LIMIT + 1,
    )))
    .expect("send");
    match read(&mut ws) {
        tungstenite::Message::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 1009),
        other => panic!("expected a Close 1009, got {other:?}"),
    }
    expect_closed(&mut ws);

    // Fragments each within the limit, together one byte over it: the
    // header of the last one is enough to refuse it.
    let mut frames = connect_frames(server.addr());
    let half = DEFAULT_MESSAGE_LIMIT / 2;
    send(&mut frames, masked(TEXT, false, text_of(half).as_bytes()));
    send(
        &mut frames,
        masked(CONTINUATION, false, text_of(half).as_bytes()),
    );
    let rest = DEFAULT_MESSAGE_LIMIT + 1 - 2 * half;
    send(
        &mut frames,
        masked(CONTINUATION, true, text_of(rest).as_bytes()),
    );
    expect_failed_with(&mut frames, 1009);
}

/// Text that cannot become UTF-8 is refused with 1007 as soon as the
/// server has the byte that makes it so, before the message's last
/// fragment is sent: within one fragment, and with the bad sequence split
/// across two.
fn invalid_utf8_is_refused_before_the_message_ends(backend: Backend) {
    let (echo, _) = Echo::new();
    let server = TestServer::start(backend, echo);

    // F4 90: past U+10FFFF whatever follows.
    let mut frames = connect_frames(server.addr());
    send(&mut frames, masked(TEXT, false, b"valid so far \xf4\x90"));
    expect_failed_with(&mut frames, 1007);

    // F4 alone may still become valid: the connection stays open (a Ping
    // proves it), until the next fragment brings the 90.
    let mut frames = connect_frames(server.addr());
    send(&mut frames, masked(TEXT, false, b"valid so far \xf4"));
    send(&mut frames, masked(PING, true, b"still open?"));
    let pong = next_frame(&mut frames);
    assert_eq!(pong.header().opcode, PONG, "{pong}");
    assert_eq!(pong.payload(), b"still open?");
    send(&mut frames, masked(CONTINUATION, false, b"\x90\x80\x80"));
    expect_failed_with(&mut frames, 1007);

    // A message that ends inside a character.
    let mut frames = connect_frames(server.addr());
    send(&mut frames, masked(TEXT, false, b"caf"));
    send(&mut frames, masked(CONTINUATION, true, b"\xc3"));
    expect_failed_with(&mut frames, 1007);
}

/// A handshake request for `path` with `method`, the version and key given
/// (`None`: the field is left out).
fn handshake(method: &str, path: &str, version: Option<&str>, key: Option<&str>) -> Vec<u8> {
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    );
    if let Some(version) = version {
        request.push_str(&format!("Sec-WebSocket-Version: {version}\r\n"));
    }
    if let Some(key) = key {
        request.push_str(&format!("Sec-WebSocket-Key: {key}\r\n"));
    }
    if method != "GET" {
        request.push_str("Content-Length: 0\r\n");
    }
    request.push_str("\r\n");
    request.into_bytes()
}

/// The sample key of RFC 6455 §1.3.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// Its `Sec-WebSocket-Accept` (RFC 6455 §1.3).
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// Malformed handshakes are answered over HTTP and the connection
/// closed: another version with 426 and `Sec-WebSocket-Version: 13`, a bad
/// or missing key or a POST with 400. A valid handshake the handler
/// declines is plain HTTP (the handler's 404) on a connection that stays
/// open, and can upgrade after it.
fn handshake_errors_are_answered_over_http(backend: Backend) {
    let (echo, _) = Echo::new();
    let server = TestServer::start(backend, echo);

    let mut client = server.connect();
    client.send(&handshake("GET", "/ws", Some("8"), Some(KEY)));
    let response = client.response();
    assert_eq!(response.status, 426, "{response:?}");
    assert_eq!(response.header("sec-websocket-version"), Some("13"));
    assert_eq!(response.header("upgrade"), Some("websocket"));
    client.expect_closed();

    let rejected = [
        (
            "a key of 15 bytes",
            handshake("GET", "/ws", Some("13"), Some("dGhlIHNhbXBsZSBub25jZQ=")),
        ),
        (
            "a key that is not base64",
            handshake("GET", "/ws", Some("13"), Some("not a key at all, no!!!=")),
        ),
        ("no key", handshake("GET", "/ws", Some("13"), None)),
        ("no version", handshake("GET", "/ws", None, Some(KEY))),
        ("a POST", handshake("POST", "/ws", Some("13"), Some(KEY))),
    ];
    for (what, request) in rejected {
        let mut client = server.connect();
        client.send(&request);
        let response = client.response();
        assert_eq!(response.status, 400, "{what}: {response:?}");
        assert_eq!(response.header("upgrade"), None, "{what}: {response:?}");
        client.expect_closed();
    }

    // Declined: the handler's 404, then the same connection upgrades.
    let mut client = server.connect();
    client.send(&handshake("GET", "/other", Some("13"), Some(KEY)));
    let response = client.response();
    assert_eq!(response.status, 404, "{response:?}");
    assert_eq!(response.header("sec-websocket-accept"), None);
    client.send(&handshake("GET", "/ws", Some("13"), Some(KEY)));
    let response = client.response_head();
    assert_eq!(response.status, 101, "{response:?}");
    assert_eq!(response.header("sec-websocket-accept"), Some(ACCEPT));
    assert!(response.has_connection_token("upgrade"), "{response:?}");
    assert!(client.buffered().is_empty(), "bytes after the 101");
    let stream = client.stream().try_clone().expect("clone the socket");
    let mut frames = FrameSocket::new(stream);
    send(&mut frames, masked(TEXT, true, b"upgraded"));
    let echo = next_frame(&mut frames);
    assert_eq!(
        (echo.header().opcode, echo.payload()),
        (TEXT, &b"upgraded"[..])
    );
}

/// A client frame without a mask fails the connection with 1002.
fn unmasked_client_frame_is_a_protocol_error(backend: Backend) {
    let (echo, _) = Echo::new();
    let server = TestServer::start(backend, echo);
    let mut frames = connect_frames(server.addr());
    send(&mut frames, frame(TEXT, true, false, b"no mask"));
    expect_failed_with(&mut frames, 1002);
}

/// How many WebSocket connections [`many_clients_at_once`] holds open.
const CLIENTS: usize = 200;

/// Threads its clients are spread over.
const CLIENT_THREADS: usize = 4;

/// Messages of each kind a client sends.
const ROUNDS: usize = 3;

/// 200 WebSocket connections open at once, driven from four threads:
/// each thread sends a text and a binary message on every one of its
/// connections before reading any echo, for a few rounds; every echo comes
/// back on its own connection, intact, and every connection closes
/// cleanly.
fn many_clients_at_once(backend: Backend) {
    #[cfg(unix)]
    peregrine_tests::raise_fd_limit(4 * CLIENTS as u64 + 256);
    let (echo, _) = Echo::new();
    let server = TestServer::start(backend, echo);
    let mut clients: Vec<(usize, Ws)> = (0..CLIENTS).map(|i| (i, connect(server.addr()))).collect();

    let per_thread = CLIENTS.div_ceil(CLIENT_THREADS);
    let mut threads = Vec::new();
    while !clients.is_empty() {
        let mut mine = clients.split_off(clients.len().saturating_sub(per_thread));
        threads.push(std::thread::spawn(move || {
            for round in 0..ROUNDS {
                for (i, ws) in &mut mine {
                    let text = format!("client {i}, round {round}: {}", text_of(*i));
                    ws.send(tungstenite::Message::text(text))
                        .expect("send text");
                    let data = bytes_of(*i + round);
                    ws.send(tungstenite::Message::binary(data))
                        .expect("send binary");
                }
                for (i, ws) in &mut mine {
                    let text = format!("client {i}, round {round}: {}", text_of(*i));
                    assert_eq!(read(ws), tungstenite::Message::text(text), "client {i}");
                    let data = bytes_of(*i + round);
                    assert_eq!(read(ws), tungstenite::Message::binary(data), "client {i}");
                }
            }
            for (i, ws) in &mut mine {
                ws.close(None).expect("close");
                assert_eq!(read(ws), tungstenite::Message::Close(None), "client {i}");
                expect_closed(ws);
            }
        }));
    }
    let mut failed = None;
    for thread in threads {
        if let Err(panic) = thread.join() {
            failed.get_or_insert(panic);
        }
    }
    if let Some(panic) = failed {
        std::panic::resume_unwind(panic);
    }

    let stats = server.stop();
    assert_eq!(stats.connections_accepted, CLIENTS as u64);
    assert_eq!(stats.responses[0], CLIENTS as u64, "101s: {stats:?}");
    assert_eq!(stats.connections_open, 0, "{stats:?}");
}

/// After the closing handshake the server closes the TCP connection:
/// the client reads the Close echoing its code, then the end of the
/// stream, without sending anything more; a client that closes without a
/// code gets an empty Close back.
fn server_closes_the_tcp_connection_after_the_closing_handshake(backend: Backend) {
    let (echo, closes) = Echo::new();
    let server = TestServer::start(backend, echo);

    let mut frames = connect_frames(server.addr());
    let mut payload = 1001u16.to_be_bytes().to_vec();
    payload.extend_from_slice(b"going away");
    send(&mut frames, masked(CLOSE, true, &payload));
    let (code, _) = expect_close_frame(&mut frames);
    assert_eq!(code, 1001);
    expect_eof(&mut frames);
    let closed = closes.recv_timeout(IO_TIMEOUT).expect("on_close");
    assert_eq!(closed, (Some(1001), "going away".to_owned()));

    let mut frames = connect_frames(server.addr());
    send(&mut frames, masked(CLOSE, true, b""));
    let close = next_frame(&mut frames);
    assert_eq!(close.header().opcode, CLOSE, "{close}");
    assert_eq!(close.payload(), b"", "an empty Close is answered with one");
    expect_eof(&mut frames);
    let closed = closes.recv_timeout(IO_TIMEOUT).expect("on_close");
    assert_eq!(closed, (None, String::new()));
}

/// Frames that follow the handshake in the same write belong to the
/// WebSocket session: the server answers `101` and then echoes them.
fn frames_sent_with_the_handshake_are_kept(backend: Backend) {
    let (echo, _) = Echo::new();
    let server = TestServer::start(backend, echo);
    let mut client = server.connect();
    let mut wire = handshake("GET", "/ws", Some("13"), Some(KEY));
    masked(TEXT, true, b"first")
        .format(&mut wire)
        .expect("encode");
    masked(BINARY, true, &bytes_of(300))
        .format(&mut wire)
        .expect("encode");
    client.send(&wire);
    let response = client.response_head();
    assert_eq!(response.status, 101, "{response:?}");
    assert_eq!(response.header("sec-websocket-accept"), Some(ACCEPT));
    let stream = client.stream().try_clone().expect("clone the socket");
    let mut frames = FrameSocket::from_partially_read(stream, client.buffered().to_vec());
    let echo = next_frame(&mut frames);
    assert_eq!(
        (echo.header().opcode, echo.payload()),
        (TEXT, &b"first"[..])
    );
    let echo = next_frame(&mut frames);
    assert_eq!(echo.header().opcode, BINARY, "{echo}");
    assert_eq!(echo.payload(), &bytes_of(300)[..]);
}

/// Messages the client writes all at once, more of them than the
/// server's output queue has segments, are all echoed, in order.
fn burst_of_messages_in_one_write_is_echoed_in_order(backend: Backend) {
    let (echo, _) = Echo::new();
    let server = TestServer::start(backend, echo);
    let mut frames = connect_frames(server.addr());
    let message = |i: usize| format!("message {i}: {}", text_of(i % 17));
    let mut wire = Vec::new();
    for i in 0..200 {
        masked(TEXT, true, message(i).as_bytes())
            .format(&mut wire)
            .expect("encode");
    }
    frames.get_mut().write_all(&wire).expect("write the burst");
    for i in 0..200 {
        let echo = next_frame(&mut frames);
        assert_eq!(echo.header().opcode, TEXT, "message {i}: {echo}");
        assert_eq!(echo.payload(), message(i).as_bytes(), "message {i}");
    }
}

/// Client frames breaking a rule of RFC 6455 §5 fail the connection with
/// 1002: reserved bits, reserved opcodes, control frames fragmented or
/// over 125 bytes, continuations without a message, a new message inside
/// a fragmented one, lengths not minimally encoded or over 2^63.
fn frames_breaking_the_protocol_are_closed_with_1002(backend: Backend) {
    let (echo, _) = Echo::new();
    let server = TestServer::start(backend, echo);
    let wire = |frames: &[Frame]| {
        let mut wire = Vec::new();
        for frame in frames {
            frame.clone().format(&mut wire).expect("encode");
        }
        wire
    };
    let mut rsv1 = masked(TEXT, true, b"rsv1");
    rsv1.header_mut().rsv1 = true;
    let mut rsv3 = masked(BINARY, true, b"rsv3");
    rsv3.header_mut().rsv3 = true;
    // A 5-byte text frame with its length in 16 bits, and a binary frame
    // claiming 2^63 bytes.
    let mut non_minimal = vec![0x81, 0xfe, 0x00, 0x05];
    non_minimal.extend_from_slice(&MASK);
    non_minimal.extend(b"hello".iter().zip(MASK.iter().cycle()).map(|(b, m)| b ^ m));
    let mut overflow = vec![0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0];
    overflow.extend_from_slice(&MASK);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("RSV1 set", wire(&[rsv1])),
        ("RSV3 set", wire(&[rsv3])),
        (
            "reserved data opcode",
            wire(&[masked(OpCode::Data(Data::Reserved(3)), true, b"x")]),
        ),
        (
            "reserved control opcode",
            wire(&[masked(OpCode::Control(Control::Reserved(0xb)), true, b"x")]),
        ),
        ("fragmented ping", wire(&[masked(PING, false, b"half")])),
        (
            "ping of 126 bytes",
            wire(&[masked(PING, true, &bytes_of(126))]),
        ),
        (
            "continuation first",
            wire(&[masked(CONTINUATION, true, b"orphan")]),
        ),
        (
            "text inside a fragmented message",
            wire(&[masked(TEXT, false, b"one"), masked(TEXT, true, b"two")]),
        ),
        ("non-minimal 16-bit length", non_minimal),
        ("64-bit length over 2^63", overflow),
    ];
    for (what, wire) in cases {
        let mut frames = connect_frames(server.addr());
        frames.get_mut().write_all(&wire).expect("write");
        let (code, reason) = expect_close_frame(&mut frames);
        assert_eq!(code, 1002, "{what}: closed with {code} ({reason:?})");
        expect_eof(&mut frames);
    }
}

/// After the handler's Close, a client that never replies is cut off once
/// the linger time passes (`WebSocket::close`: "the connection closes once
/// the client answers or the linger time passes"), not after the idle
/// timeout.
fn handler_close_without_a_reply_ends_after_the_linger_time(backend: Backend) {
    let (echo, _) = Echo::new();
    let mut options = Options::default();
    options.config.linger_timeout = 100;
    options.config.idle_timeout = 60_000;
    let server = TestServer::start_with(backend, options, echo);
    let mut frames = connect_frames(server.addr());
    send(&mut frames, masked(TEXT, true, CLOSE_COMMAND.as_bytes()));
    let (code, _) = expect_close_frame(&mut frames);
    assert_eq!(code, HANDLER_CLOSE_CODE);
    // No reply. The linger time is 100 ms; allow 5 s.
    let started = Instant::now();
    frames
        .get_mut()
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    match frames.read(None) {
        Ok(None) => {}
        Ok(Some(frame)) => panic!("expected the server to close; got {frame}"),
        Err(e) => panic!(
            "the server had not closed {:?} after its Close: {e}",
            started.elapsed()
        ),
    }
}

/// A graceful shutdown closes open WebSocket connections with a Close
/// frame, 1001 "going away" (RFC 6455 §7.4.1), rather than dropping them
/// (which the client sees as an abnormal closure, 1006), then closes the
/// TCP connection once the client replies.
fn graceful_shutdown_closes_websockets_with_going_away(backend: Backend) {
    let (echo, _) = Echo::new();
    let server = TestServer::start(backend, echo);
    let mut frames = connect_frames(server.addr());
    send(&mut frames, masked(TEXT, true, b"hello"));
    assert_eq!(next_frame(&mut frames).payload(), b"hello");
    server.handle().shutdown();
    let (code, _) = expect_close_frame(&mut frames);
    assert_eq!(code, 1001);
    send(&mut frames, masked(CLOSE, true, &1001u16.to_be_bytes()));
    expect_eof(&mut frames);
}

/// An [`Echo`] server with `config`, and a WebSocket to it that had one
/// message echoed (so it is idle between messages and, on the readiness
/// backends, holds no buffer).
fn after_one_echo(
    backend: Backend,
    config: peregrine_core::Config,
) -> (TestServer, FrameSocket<TcpStream>) {
    let (echo, _) = Echo::new();
    let options = Options {
        config,
        ..Options::default()
    };
    let server = TestServer::start_with(backend, options, echo);
    let mut frames = connect_frames(server.addr());
    send(&mut frames, masked(TEXT, true, b"hello"));
    assert_eq!(next_frame(&mut frames).payload(), b"hello");
    (server, frames)
}

/// A WebSocket idle between messages holds no buffer on the readiness
/// backends; the server's automatic Pings borrow one, so the connection
/// is pinged at each interval and stays open (it was dropped, without a
/// frame, at the first ping time).
fn an_idle_websocket_is_pinged_and_kept(backend: Backend) {
    let (_server, mut frames) = after_one_echo(
        backend,
        peregrine_core::Config {
            websocket_ping_interval: 200,
            ..peregrine_core::Config::DEFAULT
        },
    );
    for ping in 0..3 {
        let frame = next_frame(&mut frames);
        assert_eq!(frame.header().opcode, PING, "frame {ping}");
        assert!(frame.payload().is_empty());
    }
    send(&mut frames, masked(TEXT, true, b"still here"));
    let mut frame = next_frame(&mut frames);
    while frame.header().opcode == PING {
        frame = next_frame(&mut frames);
    }
    assert_eq!(frame.payload(), b"still here");
}

/// A WebSocket silent past its idle limit gets a Close frame with 1001
/// "idle", also when it held no buffer (it was dropped without one).
fn an_idle_websocket_gets_a_close_frame_with_1001(backend: Backend) {
    let (_server, mut frames) = after_one_echo(
        backend,
        peregrine_core::Config {
            websocket_idle_timeout: 300,
            ..peregrine_core::Config::DEFAULT
        },
    );
    let (code, reason) = expect_close_frame(&mut frames);
    assert_eq!((code, reason.as_str()), (1001, "idle"));
    send(&mut frames, masked(CLOSE, true, &1001u16.to_be_bytes()));
    expect_eof(&mut frames);
}
