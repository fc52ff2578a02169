//! permessage-deflate (RFC 7692) over real sockets, with a small client of
//! its own (tungstenite does not compress): raw frames, and flate2 for
//! DEFLATE. The handshake's negotiation, compressed messages both ways
//! (fragmented, small, with a limited window), context takeover and its
//! bounded pool, and the failures: RSV1 where it does not belong (1002), a
//! deflate bomb (1009).
//!
//! The server's own backends only: the tokio example's driver hands its
//! connections no DEFLATE coder, so it never negotiates compression.

use std::io::{Read, Write};
use std::net::TcpStream;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use peregrine_core::ws::{Handshake, Message};
use peregrine_core::{DeflatePolicy, Request, Response, StatusCode, Upgrade, WebSocket};
use peregrine_tests::{
    Backend, Config, Handler, IO_TIMEOUT, Options, TestServer, native_backend_tests,
};

native_backend_tests!(
    negotiates_and_echoes_compressed_messages,
    a_limited_server_window_is_kept,
    context_takeover_keeps_history,
    [multiplexed] the_context_pool_is_bounded,
    off_by_default_and_per_connection,
    rsv1_where_it_does_not_belong_is_1002,
    a_deflate_bomb_is_closed_with_1009,
    compressed_messages_are_counted,
    messages_from_a_sender_are_compressed_and_counted,
);

/// Echoes every message; `/plain` accepts without compression.
struct Echo;

impl Handler for Echo {
    fn handle(&self, _: &Request<'_>, response: &mut Response<'_>) {
        response.status(StatusCode::NOT_FOUND);
    }

    fn websocket(&self, request: &Request<'_>, _: &Handshake<'_>) -> Upgrade {
        Upgrade::Accept {
            protocol: None,
            tag: 0,
            compress: request.path() != b"/plain",
        }
    }

    fn on_message(&self, message: Message<'_>, socket: &mut WebSocket<'_>) {
        let _ = match message {
            Message::Text(text) => socket.send_text(text),
            Message::Binary(data) => socket.send_binary(data),
            _ => Ok(()),
        };
    }
}

fn server(backend: Backend, policy: DeflatePolicy) -> TestServer {
    let options = Options {
        config: Config {
            websocket_deflate: policy,
            ..Config::DEFAULT
        },
        ..Options::default()
    };
    TestServer::start_with(backend, options, Echo)
}

/// A frame from the server.
#[derive(Debug)]
struct Frame {
    first: u8,
    payload: Vec<u8>,
}

impl Frame {
    fn rsv1(&self) -> bool {
        self.first & 0x40 != 0
    }
}

/// A client connection that speaks frames, compressing with its own
/// state.
struct Client {
    stream: TcpStream,
    /// The `Sec-WebSocket-Extensions` the server answered, if any.
    extensions: Option<String>,
    compress: Compress,
    decompress: Decompress,
}

impl Client {
    /// Connects to `path` offering `offer` (none if empty).
    fn connect(server: &TestServer, path: &str, offer: &str, server_window: u8) -> Client {
        let mut stream = TcpStream::connect(server.addr()).unwrap();
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let mut head = format!(
            "GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        );
        if !offer.is_empty() {
            head += &format!("Sec-WebSocket-Extensions: {offer}\r\n");
        }
        head += "\r\n";
        stream.write_all(head.as_bytes()).unwrap();
        let mut response = Vec::new();
        let mut byte = [0];
        while !response.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte).unwrap();
            response.push(byte[0]);
        }
        let response = String::from_utf8(response).unwrap();
        assert!(response.starts_with("HTTP/1.1 101 "), "{response}");
        let extensions = response.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("sec-websocket-extensions")
                .then(|| value.trim().to_string())
        });
        Client {
            stream,
            extensions,
            compress: Compress::new(Compression::default(), false),
            decompress: Decompress::new_with_window_bits(false, server_window),
        }
    }

    /// Sends one frame, masked.
    fn send_frame(&mut self, first: u8, payload: &[u8]) {
        let key = [0x11, 0x22, 0x33, 0x44];
        let mut wire = vec![first];
        match payload.len() {
            n @ 0..=125 => wire.push(0x80 | n as u8),
            n @ 126..=65535 => {
                wire.push(0x80 | 126);
                wire.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                wire.push(0x80 | 127);
                wire.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        wire.extend_from_slice(&key);
        wire.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        self.stream.write_all(&wire).unwrap();
    }

    /// `data` compressed with a sync flush, the tail removed (§7.2.1).
    fn deflate(&mut self, data: &[u8], reset: bool) -> Vec<u8> {
        if reset {
            self.compress.reset();
        }
        let mut out = Vec::with_capacity(data.len() + 64);
        self.compress
            .compress_vec(data, &mut out, FlushCompress::Sync)
            .unwrap();
        assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
        out.truncate(out.len() - 4);
        out
    }

    /// Sends `data` compressed in `pieces` fragments (some maybe empty).
    fn send_compressed(&mut self, opcode: u8, data: &[u8], pieces: usize, reset: bool) {
        let packed = self.deflate(data, reset);
        let step = packed.len().div_ceil(pieces).max(1);
        let chunks: Vec<&[u8]> = packed.chunks(step).collect();
        for i in 0..pieces {
            let first = if i == 0 { 0x40 | opcode } else { 0 };
            let fin = if i + 1 == pieces { 0x80 } else { 0 };
            let chunk = chunks.get(i).copied().unwrap_or(&[]);
            self.send_frame(first | fin, chunk);
        }
    }

    /// Reads one frame.
    fn frame(&mut self) -> Frame {
        let mut head = [0; 2];
        self.stream.read_exact(&mut head).unwrap();
        let len = match head[1] & 0x7f {
            126 => {
                let mut ext = [0; 2];
                self.stream.read_exact(&mut ext).unwrap();
                u64::from(u16::from_be_bytes(ext))
            }
            127 => {
                let mut ext = [0; 8];
                self.stream.read_exact(&mut ext).unwrap();
                u64::from_be_bytes(ext)
            }
            n => u64::from(n),
        };
        let mut payload = vec![0; len as usize];
        self.stream.read_exact(&mut payload).unwrap();
        Frame {
            first: head[0],
            payload,
        }
    }

    /// Reads one message frame and returns it decompressed if RSV1 says
    /// so, with whether it was.
    fn message(&mut self, reset: bool) -> (u8, Vec<u8>, bool) {
        let frame = self.frame();
        assert_ne!(frame.first & 0x80, 0, "the server sends whole messages");
        if !frame.rsv1() {
            return (frame.first & 0x0f, frame.payload, false);
        }
        if reset {
            self.decompress.reset(false);
        }
        let mut input = frame.payload.clone();
        input.extend_from_slice(&[0, 0, 0xff, 0xff]);
        let mut out = Vec::with_capacity(1 << 20);
        self.decompress
            .decompress_vec(&input, &mut out, FlushDecompress::Sync)
            .unwrap();
        (frame.first & 0x0f, out, true)
    }

    /// The close code of the Close frame the server sends next.
    fn close_code(&mut self) -> u16 {
        let frame = self.frame();
        assert_eq!(frame.first, 0x88, "{frame:?}");
        u16::from_be_bytes([frame.payload[0], frame.payload[1]])
    }
}

/// Text that compresses well, `len` bytes of it.
fn text(len: usize) -> Vec<u8> {
    b"permessage-deflate shrinks repetitive text a lot. "
        .iter()
        .copied()
        .cycle()
        .take(len)
        .collect()
}

fn negotiates_and_echoes_compressed_messages(backend: Backend) {
    let server = server(backend, DeflatePolicy::NoContextTakeover);
    let mut client = Client::connect(
        &server,
        "/",
        "permessage-deflate; client_max_window_bits",
        15,
    );
    assert_eq!(
        client.extensions.as_deref(),
        Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover")
    );
    for (len, pieces) in [(10_000, 1), (10_000, 3), (100, 5), (8_000, 2)] {
        let data = text(len);
        client.send_compressed(0x1, &data, pieces, true);
        let (opcode, echo, compressed) = client.message(true);
        assert_eq!((opcode, compressed), (0x1, true), "{len} in {pieces}");
        assert_eq!(echo, data);
    }
    // Short ones come back uncompressed (under 64 bytes), and an
    // uncompressed message is fine.
    client.send_compressed(0x2, b"short", 1, true);
    assert_eq!(client.message(true), (0x2, b"short".to_vec(), false));
    client.send_frame(0x82, &text(1000));
    assert_eq!(client.message(true), (0x2, text(1000), true));
    // Control frames are never compressed.
    client.send_frame(0x89, b"ping");
    let pong = client.frame();
    assert_eq!((pong.first, pong.payload), (0x8a, b"ping".to_vec()));
}

fn a_limited_server_window_is_kept(backend: Backend) {
    let server = server(backend, DeflatePolicy::NoContextTakeover);
    let offer = "permessage-deflate; server_max_window_bits=9; client_max_window_bits";
    // The client's decompressor has a 512-byte window: longer distances
    // would fail it.
    let mut client = Client::connect(&server, "/", offer, 9);
    assert_eq!(
        client.extensions.as_deref(),
        Some(
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9"
        )
    );
    // Repeats 4 KiB apart: a 32 KiB window would reach back for them.
    let block: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let data: Vec<u8> = block.iter().chain(&block).chain(&block).copied().collect();
    client.send_compressed(0x2, &data, 1, true);
    let (_, echo, _) = client.message(true);
    assert_eq!(echo, data);
    drop(client);
    // A window of 8 cannot be given: that offer is passed over.
    let fallback = "permessage-deflate; server_max_window_bits=8, permessage-deflate";
    let client = Client::connect(&server, "/", fallback, 15);
    assert_eq!(
        client.extensions.as_deref(),
        Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover")
    );
    drop(client);
    let none = Client::connect(
        &server,
        "/",
        "permessage-deflate; server_max_window_bits=8",
        15,
    );
    assert_eq!(none.extensions, None);
}

fn context_takeover_keeps_history(backend: Backend) {
    let server = server(backend, DeflatePolicy::ContextTakeover { contexts: 1 });
    let mut first = Client::connect(&server, "/", "permessage-deflate", 15);
    assert_eq!(first.extensions.as_deref(), Some("permessage-deflate"));
    let data = text(3000);
    let mut sizes = Vec::new();
    for _ in 0..3 {
        // Both sides keep their history: never reset.
        first.send_compressed(0x1, &data, 2, false);
        let frame = first.frame();
        assert!(frame.rsv1());
        sizes.push(frame.payload.len());
        let mut input = frame.payload.clone();
        input.extend_from_slice(&[0, 0, 0xff, 0xff]);
        let mut out = Vec::with_capacity(8192);
        first
            .decompress
            .decompress_vec(&input, &mut out, FlushDecompress::Sync)
            .unwrap();
        assert_eq!(out, data);
    }
    assert!(sizes[1] < sizes[0] / 2, "{sizes:?}");
    drop(first);
    // One that asks for no takeover needs no state.
    let light = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";
    let mut stateless = Client::connect(&server, "/", light, 15);
    assert_eq!(stateless.extensions.as_deref(), Some(light));
    stateless.send_compressed(0x1, &data, 1, true);
    assert_eq!(stateless.message(true).1, data);
}

fn the_context_pool_is_bounded(backend: Backend) {
    let server = server(backend, DeflatePolicy::ContextTakeover { contexts: 1 });
    let first = Client::connect(&server, "/", "permessage-deflate", 15);
    assert_eq!(first.extensions.as_deref(), Some("permessage-deflate"));
    // The pool is empty (one state per worker, and this backend may put
    // the next connection on either worker): fill both, then one more
    // goes uncompressed.
    let mut others = Vec::new();
    let exhausted = loop {
        let client = Client::connect(&server, "/", "permessage-deflate", 15);
        if client.extensions.is_none() {
            break client;
        }
        others.push(client);
        assert!(others.len() < 64, "the pool never ran out");
    };
    drop(exhausted);
    // A state given back serves the next connection.
    drop(first);
    let again = (0..100).find_map(|_| {
        let client = Client::connect(&server, "/", "permessage-deflate", 15);
        client.extensions.is_some().then_some(client)
    });
    assert!(again.is_some(), "the state never came back");
    drop((others, again));
    let stats = server.stop();
    assert!(stats.deflate_contexts_exhausted >= 1, "{stats:?}");
}

fn off_by_default_and_per_connection(backend: Backend) {
    let server = server(backend, DeflatePolicy::Off);
    let mut client = Client::connect(&server, "/", "permessage-deflate", 15);
    assert_eq!(client.extensions, None);
    // Not negotiated: RSV1 is reserved.
    client.send_compressed(0x1, &text(100), 1, true);
    assert_eq!(client.close_code(), 1002);
    drop(client);
    drop(server);
    let server = self::server(backend, DeflatePolicy::NoContextTakeover);
    let plain = Client::connect(&server, "/plain", "permessage-deflate", 15);
    assert_eq!(plain.extensions, None);
    drop(plain);
    let garbled = Client::connect(&server, "/", "permessage-deflate; bogus=1", 15);
    assert_eq!(garbled.extensions, None);
}

fn rsv1_where_it_does_not_belong_is_1002(backend: Backend) {
    let server = server(backend, DeflatePolicy::NoContextTakeover);
    let mut client = Client::connect(&server, "/", "permessage-deflate", 15);
    let packed = client.deflate(&text(200), true);
    client.send_frame(0x41, &packed[..4]);
    client.send_frame(0xc0, &packed[4..]);
    assert_eq!(client.close_code(), 1002);
    drop(client);
    let mut client = Client::connect(&server, "/", "permessage-deflate", 15);
    client.send_frame(0xc9, b"ping");
    assert_eq!(client.close_code(), 1002);
}

fn a_deflate_bomb_is_closed_with_1009(backend: Backend) {
    let server = server(backend, DeflatePolicy::NoContextTakeover);
    let mut client = Client::connect(&server, "/", "permessage-deflate", 15);
    // 4 MiB of zeros is about 4 KiB on the wire; the read buffer 16 KiB.
    let bomb = vec![0u8; 4 << 20];
    client.send_compressed(0x2, &bomb, 1, true);
    assert_eq!(client.close_code(), 1009);
}

fn compressed_messages_are_counted(backend: Backend) {
    let server = server(backend, DeflatePolicy::NoContextTakeover);
    let mut client = Client::connect(&server, "/", "permessage-deflate", 15);
    let (mut received_wire, mut sent_wire) = (0, 0);
    // Three compressed messages (one in two fragments, one short): each
    // counted as received; the two long ones come back compressed.
    for (data, pieces) in [(text(10_000), 1), (text(8_000), 2), (b"short".to_vec(), 1)] {
        received_wire += client.deflate(&data, true).len() as u64;
        client.send_compressed(0x1, &data, pieces, true);
        let frame = client.frame();
        assert_eq!(frame.rsv1(), data.len() >= 64);
        if frame.rsv1() {
            sent_wire += frame.payload.len() as u64;
        }
    }
    // An uncompressed message is not counted received; its echo is sent
    // compressed.
    client.send_frame(0x82, &text(1000));
    let frame = client.frame();
    assert!(frame.rsv1());
    sent_wire += frame.payload.len() as u64;
    drop(client);
    let stats = server.stop();
    assert_eq!(
        (
            stats.deflate_received,
            stats.deflate_received_wire_bytes,
            stats.deflate_received_plain_bytes
        ),
        (3, received_wire, 18_005),
        "{stats:?}"
    );
    assert_eq!(
        (
            stats.deflate_sent,
            stats.deflate_sent_wire_bytes,
            stats.deflate_sent_plain_bytes
        ),
        (3, sent_wire, 19_000),
        "{stats:?}"
    );
    assert!(sent_wire * 10 < 19_000, "{sent_wire}");
}

/// Messages posted from another thread are compressed by the worker that
/// writes them, and counted like the handler's own.
fn messages_from_a_sender_are_compressed_and_counted(backend: Backend) {
    let options = Options {
        config: Config {
            websocket_deflate: DeflatePolicy::NoContextTakeover,
            ..Config::DEFAULT
        },
        ..Options::default()
    };
    let (server, sender) = TestServer::start_with_sender_on(backend, options, |_| Echo);
    let mut client = Client::connect(&server, "/", "permessage-deflate", 15);
    // The connection is open once an echo came back.
    client.send_frame(0x81, b"hello");
    assert_eq!(client.message(true), (0x1, b"hello".to_vec(), false));
    let data = text(5000);
    sender
        .broadcast(Message::Text(std::str::from_utf8(&data).unwrap()))
        .unwrap();
    let frame = client.frame();
    assert!(frame.rsv1());
    let wire = frame.payload.len() as u64;
    let mut input = frame.payload;
    input.extend_from_slice(&[0, 0, 0xff, 0xff]);
    let mut out = Vec::with_capacity(8192);
    client
        .decompress
        .decompress_vec(&input, &mut out, FlushDecompress::Sync)
        .unwrap();
    assert_eq!(out, data);
    drop(client);
    let stats = server.stop();
    assert_eq!(
        (
            stats.deflate_sent,
            stats.deflate_sent_wire_bytes,
            stats.deflate_sent_plain_bytes,
            stats.deflate_received
        ),
        (1, wire, 5000, 0),
        "{stats:?}"
    );
}
