//! The HTTP/2 server connection, driven without sockets by a client made
//! of the crate's own frame and HPACK encoders: requests and responses,
//! bodies both ways, flow control, fairness between streams, files, and
//! every abuse bound answered as RFC 9113 and the flood reports say.

mod support;

use peregrine_core::h2::frame::{
    CLIENT_PREFACE, DEFAULT_MAX_FRAME_SIZE, ErrorCode, Frame, Setting, SettingsFrame, StreamId,
    encode_data_header, encode_goaway, encode_headers, encode_ping, encode_rst_stream,
    encode_settings, encode_settings_ack, encode_window_update, parse_frame,
};
use peregrine_core::h2::hpack::{DecodeError, Decoder, Encoder, HeaderField};
use peregrine_core::h2::server::{MAX_CONTINUATIONS, ServerConnection};
use peregrine_core::spill::SpillArea;
use peregrine_core::{
    Capacity, Config, Counters, Env, FileRegion, H2c, Handler, IoBuffers, Request, Response,
    Transmit,
};
use support::{Keeper, file_bytes};

/// 20 KiB to read into, 64 KiB to write from, 32 header fields.
type Sizes = Capacity<{ 20 * 1024 }, { 64 * 1024 }, 32>;

/// A body bigger than the initial windows.
static BIG: [u8; 100_000] = {
    let mut body = [0; 100_000];
    let mut i = 0;
    while i < body.len() {
        body[i] = b'a' + (i % 26) as u8;
        i += 1;
    }
    body
};

/// The routes the tests ask for.
struct App;

impl Handler for App {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
        match request.path() {
            b"/" => response.body_static(b"hello"),
            b"/echo" => {
                let _ = response.header("x-method", request.method_str().as_bytes());
                let _ = response.body(request.body());
            }
            b"/big" => response.body_static(&BIG),
            b"/headers" => {
                let cookie = request.header("cookie").unwrap_or(b"-");
                let host = request.header("host").unwrap_or(b"-");
                let mut text = Vec::new();
                text.extend_from_slice(cookie);
                text.push(b'|');
                text.extend_from_slice(host);
                let _ = response.body(&text);
            }
            b"/file" => {
                // SAFETY: the simulated files are never closed.
                let region = unsafe { FileRegion::kept(7, 3, 50_000) };
                response.send_file_region(region);
            }
            _ => {
                response.status(peregrine_core::StatusCode::NOT_FOUND);
            }
        }
    }
}

/// A frame the server sent, with its payload copied out.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Sent {
    Settings(Vec<Setting>),
    SettingsAck,
    Headers {
        stream: u32,
        fields: Vec<(String, String)>,
        end_stream: bool,
    },
    Data {
        stream: u32,
        data: Vec<u8>,
        end_stream: bool,
    },
    PingAck([u8; 8]),
    GoAway {
        last: u32,
        code: ErrorCode,
    },
    Reset {
        stream: u32,
        code: ErrorCode,
    },
    WindowUpdate {
        stream: u32,
        increment: u32,
    },
}

/// A client and the server connection it talks to.
struct Peer {
    conn: Box<ServerConnection<Sizes>>,
    bufs: Box<IoBuffers<Sizes>>,
    now: u64,
    counters: Counters,
    keeper: Keeper,
    spill: SpillArea<Vec<u8>>,
    local: (),
    /// Bytes the server wrote, not yet parsed.
    out: Vec<u8>,
    /// Frames parsed from them.
    sent: Vec<Sent>,
    /// The client's encoder and the decoder of the server's blocks.
    encoder: Encoder,
    decoder: Decoder,
    /// Bytes each write may move (the client reads this fast).
    write_budget: usize,
    /// The server shut its write side.
    write_closed: bool,
}

macro_rules! env {
    ($peer:expr) => {
        &mut Env {
            handler: &App,
            local: &mut $peer.local,
            date: None,
            now: $peer.now,
            counters: &mut $peer.counters,
            files: Some(&mut $peer.keeper),
            spill: Some(&mut $peer.spill),
            deflate: None,
        }
    };
}

impl Peer {
    /// A connection after the preface and an empty SETTINGS.
    fn new() -> Peer {
        Peer::with_config(Config::DEFAULT)
    }

    fn with_config(config: Config) -> Peer {
        let mut peer = Peer {
            conn: Box::new(ServerConnection::new(config, None, 0)),
            bufs: Box::new(IoBuffers::new()),
            now: 0,
            counters: Counters::default(),
            keeper: Keeper::default(),
            spill: SpillArea::new(vec![0; 16 * 256], 256),
            local: (),
            out: Vec::new(),
            sent: Vec::new(),
            encoder: Encoder::new(),
            decoder: Decoder::new(),
            write_budget: usize::MAX,
            write_closed: false,
        };
        let mut hello = CLIENT_PREFACE.to_vec();
        hello.extend(frame(|buf| encode_settings(buf, &[])));
        peer.send(&hello);
        assert_eq!(
            peer.take(),
            [
                Sent::Settings(vec![
                    Setting::MaxConcurrentStreams(100),
                    Setting::EnablePush(false),
                    Setting::MaxHeaderListSize(8192),
                    Setting::InitialWindowSize(1 << 20),
                ]),
                Sent::WindowUpdate {
                    stream: 0,
                    increment: (16 << 20) - 65_535,
                },
                Sent::SettingsAck,
            ]
        );
        peer
    }

    /// The client sends `bytes`; the server reads them (as far as it
    /// wants to) and writes what it can.
    fn send(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() && !self.conn.is_closed() {
            if !self.conn.interest().read {
                self.flush();
                if !self.conn.interest().read {
                    break;
                }
            }
            let buf = self.conn.read_buf(&mut self.bufs);
            let n = buf.len().min(bytes.len());
            assert!(n > 0, "the server wants to read but has no room");
            buf[..n].copy_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            self.conn.handle_read(n, &mut self.bufs, env!(self));
            self.flush();
        }
    }

    /// The server writes what it has, within the client's budget.
    fn flush(&mut self) {
        while !self.conn.is_closed() && self.write_budget > 0 {
            let written = match self.conn.poll_transmit(&self.bufs) {
                Transmit::Idle => return,
                Transmit::Write(slices) => {
                    let mut left = self.write_budget;
                    let mut written = 0;
                    for slice in slices {
                        let take = slice.len().min(left);
                        self.out.extend_from_slice(&slice[..take]);
                        left -= take;
                        written += take;
                    }
                    written
                }
                Transmit::SendFile(region) => {
                    let n = region.len().min(self.write_budget as u64);
                    self.out
                        .extend(file_bytes(region.handle(), region.offset(), n));
                    n as usize
                }
                Transmit::CloseWrite => {
                    self.write_closed = true;
                    self.conn.handle_write_closed(env!(self));
                    return;
                }
            };
            if self.write_budget != usize::MAX {
                self.write_budget -= written;
            }
            self.conn
                .handle_written(written, &mut self.bufs, env!(self));
        }
    }

    /// The frames the server sent since the last call.
    fn take(&mut self) -> Vec<Sent> {
        self.flush();
        let mut at = 0;
        while let Ok(Some((frame, len))) = parse_frame(&self.out[at..], (1 << 24) - 1) {
            let sent = match frame {
                Frame::Settings(SettingsFrame::Ack) => Sent::SettingsAck,
                Frame::Settings(SettingsFrame::Parameters(parameters)) => {
                    Sent::Settings(parameters.into_iter().collect())
                }
                Frame::Headers(headers) => {
                    assert!(headers.end_headers, "no CONTINUATION in these tests");
                    let mut fields = Vec::new();
                    let mut out = [0; 4096];
                    self.decoder
                        .decode(headers.fragment, &mut out, |field| {
                            fields.push((
                                String::from_utf8(field.name.to_vec()).unwrap(),
                                String::from_utf8(field.value.to_vec()).unwrap(),
                            ));
                            Ok::<_, DecodeError>(())
                        })
                        .unwrap();
                    Sent::Headers {
                        stream: headers.stream_id.get(),
                        fields,
                        end_stream: headers.end_stream,
                    }
                }
                Frame::Data(data) => Sent::Data {
                    stream: data.stream_id.get(),
                    data: data.data.to_vec(),
                    end_stream: data.end_stream,
                },
                Frame::Ping(ping) => {
                    assert!(ping.ack);
                    Sent::PingAck(ping.opaque_data)
                }
                Frame::GoAway(goaway) => Sent::GoAway {
                    last: goaway.last_stream_id.get(),
                    code: goaway.error_code,
                },
                Frame::RstStream(reset) => Sent::Reset {
                    stream: reset.stream_id.get(),
                    code: reset.error_code,
                },
                Frame::WindowUpdate(update) => Sent::WindowUpdate {
                    stream: update.stream_id.get(),
                    increment: update.increment,
                },
                other => panic!("unexpected frame {other:?}"),
            };
            self.sent.push(sent);
            at += len;
        }
        self.out.drain(..at);
        std::mem::take(&mut self.sent)
    }

    /// HEADERS for a request on `stream`.
    fn request(
        &mut self,
        stream: u32,
        method: &str,
        path: &str,
        extra: &[(&str, &str)],
        end_stream: bool,
    ) -> Vec<u8> {
        let mut fields = vec![
            HeaderField::new(b":method", method.as_bytes()),
            HeaderField::new(b":scheme", b"http"),
            HeaderField::new(b":authority", b"example.test"),
            HeaderField::new(b":path", path.as_bytes()),
        ];
        fields.extend(
            extra
                .iter()
                .map(|(n, v)| HeaderField::new(n.as_bytes(), v.as_bytes())),
        );
        let mut block = [0; 4096];
        let len = self
            .encoder
            .encode_block(fields.iter().copied(), &mut block)
            .unwrap();
        let id = StreamId::new(stream).unwrap();
        frame(|buf| encode_headers(buf, id, &block[..len], end_stream, DEFAULT_MAX_FRAME_SIZE))
    }
}

/// One frame made by `encode`.
fn frame<E: std::fmt::Debug>(encode: impl FnOnce(&mut [u8]) -> Result<usize, E>) -> Vec<u8> {
    let mut buf = vec![0; 70_000];
    let len = encode(&mut buf).unwrap();
    buf.truncate(len);
    buf
}

/// A DATA frame.
fn data(stream: u32, payload: &[u8], end_stream: bool) -> Vec<u8> {
    let mut bytes = encode_data_header(StreamId::new(stream).unwrap(), payload.len(), end_stream)
        .unwrap()
        .to_vec();
    bytes.extend_from_slice(payload);
    bytes
}

/// The status and body of each stream's response, by stream.
fn responses(sent: &[Sent]) -> Vec<(u32, String, Vec<u8>)> {
    let mut out: Vec<(u32, String, Vec<u8>)> = Vec::new();
    for frame in sent {
        match frame {
            Sent::Headers { stream, fields, .. } => {
                let status = fields
                    .iter()
                    .find(|(n, _)| n == ":status")
                    .unwrap()
                    .1
                    .clone();
                out.push((*stream, status, Vec::new()));
            }
            Sent::Data { stream, data, .. } => {
                let entry = out.iter_mut().find(|(s, ..)| s == stream).unwrap();
                entry.2.extend_from_slice(data);
            }
            _ => {}
        }
    }
    out
}

#[test]
fn a_get_is_answered_with_headers_then_data() {
    let mut peer = Peer::new();
    let request = peer.request(1, "GET", "/", &[], true);
    peer.send(&request);
    let sent = peer.take();
    let [
        Sent::Headers {
            stream: 1,
            fields,
            end_stream: false,
        },
        Sent::Data {
            stream: 1,
            data,
            end_stream: true,
        },
    ] = &sent[..]
    else {
        panic!("{sent:?}");
    };
    assert_eq!(fields[0], (":status".into(), "200".into()));
    assert!(
        fields.contains(&("content-length".into(), "5".into())),
        "{fields:?}"
    );
    assert!(!fields.iter().any(|(n, _)| n == "connection"), "{fields:?}");
    assert_eq!(data, b"hello");
    assert_eq!(peer.conn.open_streams(), 0);
    assert_eq!(peer.counters.requests, 1);
}

#[test]
fn a_head_request_gets_the_head_alone() {
    let mut peer = Peer::new();
    let request = peer.request(1, "HEAD", "/", &[], true);
    peer.send(&request);
    let sent = peer.take();
    let [
        Sent::Headers {
            end_stream: true,
            fields,
            ..
        },
    ] = &sent[..]
    else {
        panic!("{sent:?}");
    };
    assert!(
        fields.contains(&("content-length".into(), "5".into())),
        "{fields:?}"
    );
}

#[test]
fn a_body_in_several_frames_is_gathered_then_handled() {
    let mut peer = Peer::new();
    let mut wire = peer.request(1, "POST", "/echo", &[("content-length", "11")], false);
    wire.extend(data(1, b"hello ", false));
    wire.extend(data(1, b"world", true));
    // Split at every byte: the same answer.
    for step in [1, 7, wire.len()] {
        let mut peer = Peer::new();
        let wire = {
            let mut w = peer.request(1, "POST", "/echo", &[("content-length", "11")], false);
            w.extend(data(1, b"hello ", false));
            w.extend(data(1, b"world", true));
            w
        };
        for piece in wire.chunks(step) {
            peer.send(piece);
        }
        let sent = peer.take();
        assert_eq!(
            responses(&sent),
            [(1, "200".into(), b"hello world".to_vec())],
            "step {step}"
        );
    }
    let _ = wire;
}

#[test]
fn a_content_length_the_body_does_not_match_resets_the_stream() {
    let mut peer = Peer::new();
    let mut wire = peer.request(1, "POST", "/echo", &[("content-length", "3")], false);
    wire.extend(data(1, b"four", true));
    peer.send(&wire);
    assert_eq!(
        peer.take(),
        [Sent::Reset {
            stream: 1,
            code: ErrorCode::ProtocolError
        }]
    );
}

#[test]
fn a_hundred_streams_at_once_each_get_their_answer() {
    let mut peer = Peer::new();
    let mut wire = Vec::new();
    for i in 0..100 {
        wire.extend(peer.request(1 + 2 * i, "GET", "/", &[], true));
    }
    peer.send(&wire);
    let sent = peer.take();
    let answers = responses(&sent);
    assert_eq!(answers.len(), 100);
    for (i, (stream, status, body)) in answers.iter().enumerate() {
        assert_eq!(
            (*stream, status.as_str(), &body[..]),
            (1 + 2 * i as u32, "200", &b"hello"[..])
        );
    }
}

#[test]
fn cookies_are_joined_and_the_authority_is_the_host() {
    let mut peer = Peer::new();
    let request = peer.request(
        1,
        "GET",
        "/headers",
        &[("cookie", "a=1"), ("x", "y"), ("cookie", "b=2")],
        true,
    );
    peer.send(&request);
    assert_eq!(
        responses(&peer.take()),
        [(1, "200".into(), b"a=1; b=2|example.test".to_vec())]
    );
}

#[test]
fn malformed_requests_reset_their_stream_and_the_connection_goes_on() {
    let mut peer = Peer::new();
    let cases: [&[(&str, &str)]; 4] = [
        &[("Upper", "x")],
        &[("connection", "close")],
        &[("te", "gzip")],
        &[("x", " padded")],
    ];
    for (i, extra) in cases.iter().enumerate() {
        let stream = 1 + 2 * i as u32;
        let request = peer.request(stream, "GET", "/", extra, true);
        peer.send(&request);
        assert_eq!(
            peer.take(),
            [Sent::Reset {
                stream,
                code: ErrorCode::ProtocolError
            }],
            "{extra:?}"
        );
    }
    let request = peer.request(21, "GET", "/", &[("te", "trailers")], true);
    peer.send(&request);
    assert_eq!(
        responses(&peer.take()),
        [(21, "200".into(), b"hello".to_vec())]
    );
}

#[test]
fn a_body_beyond_the_windows_waits_for_window_updates() {
    let mut peer = Peer::new();
    let request = peer.request(1, "GET", "/big", &[], true);
    peer.send(&request);
    let sent = peer.take();
    let sent_bytes: usize = responses(&sent)[0].2.len();
    assert_eq!(sent_bytes, 65_535, "the initial windows");
    let mut wire = frame(|buf| encode_window_update(buf, StreamId::CONNECTION, 50_000));
    wire.extend(frame(|buf| {
        encode_window_update(buf, StreamId::new(1).unwrap(), 50_000)
    }));
    peer.send(&wire);
    let rest = responses_data(&peer.take());
    let mut body = responses(&sent)[0].2.clone();
    body.extend(rest);
    assert_eq!(body, BIG);
    assert_eq!(peer.conn.open_streams(), 0);
}

/// The DATA payloads of `sent`, joined.
fn responses_data(sent: &[Sent]) -> Vec<u8> {
    sent.iter()
        .filter_map(|frame| match frame {
            Sent::Data { data, .. } => Some(data.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

#[test]
fn streams_with_data_take_turns() {
    let mut peer = Peer::new();
    // Large windows for the streams, and for the connection.
    let mut wire = frame(|buf| encode_settings(buf, &[Setting::InitialWindowSize(1 << 20)]));
    wire.extend(frame(|buf| {
        encode_window_update(buf, StreamId::CONNECTION, 1 << 20)
    }));
    wire.extend(peer.request(1, "GET", "/big", &[], true));
    wire.extend(peer.request(3, "GET", "/big", &[], true));
    peer.send(&wire);
    let sent = peer.take();
    let order: Vec<u32> = sent
        .iter()
        .filter_map(|frame| match frame {
            Sent::Data { stream, .. } => Some(*stream),
            _ => None,
        })
        .collect();
    // Stream 3 starts within two frames of stream 1's, long before
    // stream 1 ends, and then they take turns.
    let first_3 = order.iter().position(|&s| s == 3).unwrap();
    assert!(first_3 <= 2, "{order:?}");
    let after = &order[first_3..];
    let turns = after.windows(2).filter(|w| w[0] != w[1]).count();
    assert!(turns >= after.len() - 3, "{order:?}");
    let answers = responses(&sent);
    assert!(answers.iter().all(|(_, _, body)| body[..] == BIG[..]));
}

#[test]
fn a_kept_file_is_sent_in_frames_and_released_once() {
    let mut peer = Peer::new();
    let mut wire = frame(|buf| encode_settings(buf, &[Setting::InitialWindowSize(1 << 20)]));
    wire.extend(frame(|buf| {
        encode_window_update(buf, StreamId::CONNECTION, 1 << 20)
    }));
    wire.extend(peer.request(1, "GET", "/file", &[], true));
    peer.send(&wire);
    let sent = peer.take();
    assert_eq!(responses_data(&sent), file_bytes(7, 3, 50_000));
    assert_eq!(peer.keeper.released.len(), 1);
}

#[test]
fn a_file_stream_reset_midway_releases_its_file_after_what_was_queued() {
    let mut peer = Peer::new();
    let request = peer.request(1, "GET", "/file", &[], true);
    peer.send(&request);
    let sent = peer.take();
    assert_eq!(responses_data(&sent).len(), 50_000);
    // 50,000 fit the initial window: all of it went. A bigger window
    // case: reset before the end is sent.
    assert_eq!(peer.keeper.released.len(), 1);

    let mut peer = Peer::new();
    peer.write_budget = 0;
    let request = peer.request(1, "GET", "/file", &[], true);
    peer.send(&request);
    let reset = frame(|buf| encode_rst_stream(buf, StreamId::new(1).unwrap(), ErrorCode::Cancel));
    peer.send(&reset);
    assert!(
        peer.keeper.released.is_empty(),
        "queued pieces still to send"
    );
    peer.write_budget = usize::MAX;
    peer.flush();
    assert_eq!(peer.keeper.released.len(), 1);
}

#[test]
fn ping_is_answered_and_a_ping_flood_is_calmed() {
    let mut peer = Peer::new();
    peer.send(&frame(|buf| encode_ping(buf, *b"12345678")));
    assert_eq!(peer.take(), [Sent::PingAck(*b"12345678")]);
    let mut wire = Vec::new();
    for _ in 0..300 {
        wire.extend(frame(|buf| encode_ping(buf, *b"flooding")));
    }
    peer.send(&wire);
    let sent = peer.take();
    assert_eq!(
        sent.last(),
        Some(&Sent::GoAway {
            last: 0,
            code: ErrorCode::EnhanceYourCalm
        })
    );
    assert!(peer.write_closed);
}

#[test]
fn rapid_reset_is_calmed() {
    let mut peer = Peer::new();
    let mut wire = Vec::new();
    for i in 0..150u32 {
        let stream = 1 + 2 * i;
        wire.extend(peer.request(stream, "GET", "/big", &[], true));
        wire.extend(frame(|buf| {
            encode_rst_stream(buf, StreamId::new(stream).unwrap(), ErrorCode::Cancel)
        }));
    }
    peer.write_budget = 0;
    peer.send(&wire);
    peer.write_budget = usize::MAX;
    let sent = peer.take();
    assert!(
        matches!(
            sent.last(),
            Some(Sent::GoAway {
                code: ErrorCode::EnhanceYourCalm,
                ..
            })
        ),
        "{:?}",
        sent.last()
    );
}

#[test]
fn a_continuation_flood_is_calmed_and_a_split_block_is_served() {
    // A block in three pieces.
    let mut peer = Peer::new();
    let mut encoder = Encoder::<4096>::new();
    let fields = [
        HeaderField::new(b":method", b"GET"),
        HeaderField::new(b":scheme", b"http"),
        HeaderField::new(b":path", b"/"),
        HeaderField::new(b"x-long", &[b'v'; 300]),
    ];
    let mut block = [0; 1024];
    let len = encoder
        .encode_block(fields.iter().copied(), &mut block)
        .unwrap();
    peer.encoder = encoder;
    let block = &block[..len];
    let mut wire = raw_frame(0x1, 0x1, 1, &block[..10]);
    wire.extend(raw_frame(0x9, 0, 1, &block[10..100]));
    wire.extend(raw_frame(0x9, 0x4, 1, &block[100..]));
    peer.send(&wire);
    assert_eq!(
        responses(&peer.take()),
        [(1, "200".into(), b"hello".to_vec())]
    );

    // A block that never ends.
    let mut peer = Peer::new();
    let mut wire = raw_frame(0x1, 0x1, 1, &[0x82]);
    for _ in 0..=MAX_CONTINUATIONS {
        wire.extend(raw_frame(0x9, 0, 1, &[]));
    }
    peer.send(&wire);
    let sent = peer.take();
    assert_eq!(
        sent.last(),
        Some(&Sent::GoAway {
            last: 0,
            code: ErrorCode::EnhanceYourCalm
        })
    );
}

/// A frame from its parts.
fn raw_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut bytes = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    bytes.extend_from_slice(&stream.to_be_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

/// A header list past `SETTINGS_MAX_HEADER_LIST_SIZE` is answered `431`
/// (RFC 9113 §10.5.1) once its block is read whole, so HPACK stays in
/// step and the connection goes on; a client that keeps sending them is
/// calmed like other stream errors.
#[test]
fn an_hpack_bomb_is_answered_431_and_a_flood_of_them_calmed() {
    let mut peer = Peer::new();
    let mut encoder = Encoder::<4096>::new();
    let big = [b'x'; 3000];
    let fields = [
        HeaderField::new(b":method", b"GET"),
        HeaderField::new(b":scheme", b"http"),
        HeaderField::new(b":path", b"/"),
        HeaderField::new(b"x-bomb", &big),
    ];
    let mut block = [0; 8192];
    let len = encoder
        .encode_block(fields.iter().copied(), &mut block)
        .unwrap();
    // Then a block that names the 3,000-byte entry ten times: 30 kB
    // decoded from 10 bytes.
    let mut wire = raw_frame(0x1, 0x5, 1, &block[..len]);
    let mut bomb = vec![0x82, 0x86, 0x84];
    bomb.extend([0xbe; 10]);
    wire.extend(raw_frame(0x1, 0x5, 3, &bomb));
    peer.send(&wire);
    assert_eq!(
        responses(&peer.take()),
        [
            (1, "200".into(), b"hello".to_vec()),
            (3, "431".into(), Vec::new())
        ]
    );
    // The table is in step: a request naming the entry once is served.
    let mut wire = raw_frame(0x1, 0x5, 5, &[0x82, 0x86, 0x84, 0xbe]);
    peer.send(&wire);
    assert_eq!(
        responses(&peer.take()),
        [(5, "200".into(), b"hello".to_vec())]
    );
    // A flood of bombs, within one second: calmed past the bound.
    wire.clear();
    for i in 0..101 {
        wire.extend(raw_frame(0x1, 0x5, 7 + 2 * i, &bomb));
    }
    peer.send(&wire);
    let sent = peer.take();
    // 100 a second, the first bomb's included.
    assert_eq!(responses(&sent).len(), 99);
    assert_eq!(
        sent.last(),
        Some(&Sent::GoAway {
            last: 205,
            code: ErrorCode::EnhanceYourCalm
        }),
    );
}

#[test]
fn a_body_larger_than_the_area_gets_413() {
    let mut peer = Peer::new();
    let mut wire = peer.request(1, "POST", "/echo", &[], false);
    for _ in 0..20 {
        wire.extend(data(1, &[b'b'; 1000], false));
    }
    wire.extend(data(1, b"", true));
    peer.send(&wire);
    let answers = responses(&peer.take());
    assert_eq!(answers[0].1, "413");
}

#[test]
fn a_wrong_preface_ends_the_connection() {
    let mut peer = Peer {
        conn: Box::new(ServerConnection::new(Config::DEFAULT, None, 0)),
        ..Peer::new()
    };
    peer.send(b"GET / HTTP/1.1\r\n\r\n");
    let sent = peer.take();
    assert_eq!(
        sent,
        [Sent::GoAway {
            last: 0,
            code: ErrorCode::ProtocolError
        }]
    );
    assert!(peer.write_closed);
}

#[test]
fn shutdown_sends_goaway_and_finishes_the_streams_begun() {
    let mut peer = Peer::new();
    peer.write_budget = 0;
    let request = peer.request(1, "GET", "/big", &[], true);
    peer.send(&request);
    peer.conn.shutdown(&mut peer.bufs, env!(peer));
    peer.write_budget = usize::MAX;
    let sent = peer.take();
    assert!(sent.contains(&Sent::GoAway {
        last: 1,
        code: ErrorCode::NoError
    }));
    // The rest of the body once windows open.
    let mut wire = frame(|buf| encode_window_update(buf, StreamId::CONNECTION, 50_000));
    wire.extend(frame(|buf| {
        encode_window_update(buf, StreamId::new(1).unwrap(), 50_000)
    }));
    peer.send(&wire);
    let rest = peer.take();
    assert!(
        matches!(
            rest.last(),
            Some(Sent::Data {
                end_stream: true,
                ..
            })
        ),
        "{rest:?}"
    );
    assert!(peer.write_closed, "closed once the stream finished");
}

#[test]
fn a_window_held_shut_ends_at_the_write_timeout() {
    let mut peer = Peer::new();
    let request = peer.request(1, "GET", "/big", &[], true);
    peer.send(&request);
    let _ = peer.take();
    assert_eq!(peer.conn.open_streams(), 1);
    let deadline = peer.conn.poll_timeout().expect("a deadline");
    peer.now = deadline;
    peer.conn.handle_timeout(&mut peer.bufs, env!(peer));
    assert!(peer.conn.is_closed() || peer.write_closed);
    let _ = (encode_goaway, encode_settings_ack);
}

#[test]
fn the_preface_must_end_with_settings() {
    let mut peer = Peer {
        conn: Box::new(ServerConnection::new(Config::DEFAULT, None, 0)),
        ..Peer::new()
    };
    let mut wire = CLIENT_PREFACE.to_vec();
    wire.extend(frame(|buf| encode_ping(buf, *b"not-sett")));
    peer.send(&wire);
    let sent = peer.take();
    assert_eq!(
        sent.last(),
        Some(&Sent::GoAway {
            last: 0,
            code: ErrorCode::ProtocolError
        }),
        "{sent:?}"
    );
}

#[test]
fn a_stream_depending_on_itself_is_reset_after_its_block_is_decoded() {
    let mut peer = Peer::new();
    let mut encoder = Encoder::<4096>::new();
    let fields = [
        HeaderField::new(b":method", b"GET"),
        HeaderField::new(b":scheme", b"http"),
        HeaderField::new(b":path", b"/"),
        HeaderField::new(b"x-indexed", b"kept in the table"),
    ];
    let mut block = [0; 256];
    let len = encoder
        .encode_block(fields.iter().copied(), &mut block)
        .unwrap();
    // PRIORITY flag: dependency on stream 1 itself, weight 16.
    let mut payload = vec![0, 0, 0, 1, 15];
    payload.extend_from_slice(&block[..len]);
    peer.send(&raw_frame(0x1, 0x1 | 0x4 | 0x20, 1, &payload));
    assert_eq!(
        peer.take(),
        [Sent::Reset {
            stream: 1,
            code: ErrorCode::ProtocolError
        }]
    );
    // The table kept the entry: a later block refers to it.
    peer.encoder = encoder;
    let request = peer.request(3, "GET", "/", &[("x-indexed", "kept in the table")], true);
    peer.send(&request);
    assert_eq!(
        responses(&peer.take()),
        [(3, "200".into(), b"hello".to_vec())]
    );
}

/// A plaintext connection that opens with the preface is handed over.
#[test]
fn a_plaintext_connection_opening_with_the_preface_goes_on_in_http2() {
    use peregrine_core::Connection;
    let config = Config {
        h2c: H2c::Beside,
        ..Config::DEFAULT
    };
    let mut counters = Counters::default();
    let mut keeper = Keeper::default();
    let mut bufs: Box<IoBuffers<Sizes>> = Box::new(IoBuffers::new());
    let mut http1: Box<Connection<Sizes>> = Box::new(Connection::new(config, None, 0));
    let mut wire = CLIENT_PREFACE.to_vec();
    wire.extend(frame(|buf| encode_settings(buf, &[])));
    let mut env = Env {
        handler: &App,
        local: &mut (),
        date: None,
        now: 0,
        counters: &mut counters,
        files: Some(&mut keeper),
        spill: None,
        deflate: None,
    };
    // Part of the preface: nothing yet.
    let buf = http1.read_buf(&mut bufs);
    buf[..10].copy_from_slice(&wire[..10]);
    http1.handle_read(10, &mut bufs, &mut env);
    assert!(!http1.is_http2() && !http1.is_closed());
    let buf = http1.read_buf(&mut bufs);
    buf[..wire.len() - 10].copy_from_slice(&wire[10..]);
    http1.handle_read(wire.len() - 10, &mut bufs, &mut env);
    assert!(http1.is_http2());
    assert_eq!(http1.leftover(&bufs), &wire[..]);
    let mut h2: Box<ServerConnection<Sizes>> =
        Box::new(ServerConnection::take_over(&http1, 0).expect("the buffers fit"));
    h2.handle_read(0, &mut bufs, &mut env);
    let Transmit::Write(slices) = h2.poll_transmit(&bufs) else {
        panic!("SETTINGS and its ACK are due");
    };
    let out: Vec<u8> = slices.flat_map(|s| s.iter().copied()).collect();
    let (first, _) = parse_frame(&out, DEFAULT_MAX_FRAME_SIZE).unwrap().unwrap();
    assert!(matches!(
        first,
        Frame::Settings(SettingsFrame::Parameters(_))
    ));

    // Without h2c, the preface is a bad HTTP/1.1 request; beside HTTP/1.1,
    // a request starting with P is no preface; on an HTTP/2-only port, an
    // HTTP/1.1 request is refused with 505 (and one that starts like the
    // preface too, once it differs).
    let post = &b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"[..];
    let get = &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..];
    for (h2c, input, answer) in [
        (H2c::Off, &CLIENT_PREFACE[..], &b"HTTP/1.1 400"[..]),
        (H2c::Beside, post, &b"HTTP/1.1 200"[..]),
        (H2c::Only, get, &b"HTTP/1.1 505"[..]),
        (H2c::Only, post, &b"HTTP/1.1 505"[..]),
    ] {
        let config = Config {
            h2c,
            ..Config::DEFAULT
        };
        let mut http1: Box<Connection<Sizes>> = Box::new(Connection::new(config, None, 0));
        let buf = http1.read_buf(&mut bufs);
        buf[..input.len()].copy_from_slice(input);
        http1.handle_read(input.len(), &mut bufs, &mut env);
        assert!(!http1.is_http2());
        let Transmit::Write(slices) = http1.poll_transmit(&bufs) else {
            panic!("an answer is due");
        };
        let out: Vec<u8> = slices.flat_map(|s| s.iter().copied()).collect();
        assert!(out.starts_with(answer), "{}", String::from_utf8_lossy(&out));
    }
}

/// The size of a connection with the default sizes, printed for the
/// README's memory figures (`--nocapture`).
#[test]
fn the_size_of_a_connection() {
    let size = std::mem::size_of::<ServerConnection>();
    println!("ServerConnection (default sizes): {size} bytes");
    assert!(size > peregrine_core::h2::server::AREA);
}
