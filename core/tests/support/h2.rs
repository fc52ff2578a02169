//! A client of the HTTP/2 server connection, of any buffer sizes, made of
//! the crate's own frame and HPACK encoders: it sends bytes in pieces of
//! a chosen size and parses every frame the server writes. File regions
//! are sent from simulated files ([`file_bytes`]), of the lengths a test
//! gives them.

use peregrine_core::h2::frame::{
    CLIENT_PREFACE, DEFAULT_MAX_FRAME_SIZE, ErrorCode, Frame, Setting, SettingsFrame, StreamId,
    encode_data_header, encode_headers, encode_settings, parse_frame,
};
use peregrine_core::h2::hpack::{DecodeError, Decoder, Encoder, HeaderField};
use peregrine_core::h2::server::ServerConnection;

use super::{Keeper, file_bytes};
use peregrine_core::spill::{Spill, SpillArea};
use peregrine_core::{
    Capacity, Config, Counters, Env, Handler, IoBuffers, PublishError, Request, Response, Transmit,
};

/// A static body larger than any write buffer of the tests.
pub static LARGE: [u8; 100_000] = {
    let mut body = [0; 100_000];
    let mut i = 0;
    while i < body.len() {
        body[i] = (i % 251) as u8;
        i += 1;
    }
    body
};

/// The routes: `/` says hello, `/digest` answers the length and FNV-1a
/// hash of the request body, `/echo` echoes it, `/large` sends [`LARGE`],
/// `/bytes/N` its first N bytes, `/head/N` answers with a field of N
/// bytes.
pub struct Routes;

/// The FNV-1a hash of `bytes`.
pub fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// What `/digest` answers for `body`.
pub fn digest(body: &[u8]) -> Vec<u8> {
    format!("{} {:016x}", body.len(), fnv(body)).into_bytes()
}

impl Handler for Routes {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
        let path = request.path();
        if path == b"/" {
            response.body_static(b"hello");
        } else if path == b"/digest" {
            let _ = response.body(&digest(request.body()));
        } else if path == b"/echo" {
            let _ = response.body(request.body());
        } else if path == b"/large" {
            response.body_static(&LARGE);
        } else if let Some(n) = path.strip_prefix(b"/bytes/") {
            let n: usize = std::str::from_utf8(n).unwrap().parse().unwrap();
            response.body_static(&LARGE[..n]);
        } else if let Some(n) = path.strip_prefix(b"/head/") {
            let n: usize = std::str::from_utf8(n).unwrap().parse().unwrap();
            let _ = response.header("x-large", vec![b'h'; n]);
            response.body_static(b"head");
        } else {
            response.status(peregrine_core::StatusCode::NOT_FOUND);
        }
    }
}

/// A frame the server sent, its payload copied out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// SETTINGS.
    Settings(Vec<Setting>),
    /// SETTINGS with ACK.
    SettingsAck,
    /// HEADERS (and its CONTINUATION frames), decoded.
    Headers {
        /// Its stream.
        stream: u32,
        /// The fields.
        fields: Vec<(String, String)>,
        /// END_STREAM.
        end_stream: bool,
    },
    /// DATA.
    Data {
        /// Its stream.
        stream: u32,
        /// The payload.
        data: Vec<u8>,
        /// END_STREAM.
        end_stream: bool,
    },
    /// PING with ACK.
    PingAck([u8; 8]),
    /// GOAWAY.
    GoAway {
        /// The last stream.
        last: u32,
        /// The error.
        code: ErrorCode,
    },
    /// RST_STREAM.
    Reset {
        /// Its stream.
        stream: u32,
        /// The error.
        code: ErrorCode,
    },
    /// WINDOW_UPDATE.
    WindowUpdate {
        /// Its stream, 0 for the connection.
        stream: u32,
        /// The increment.
        increment: u32,
    },
}

/// A client and the server connection it talks to, with buffers of `R`
/// and `W` bytes.
pub struct Peer<const R: usize, const W: usize, H: Handler = Routes> {
    /// The handler.
    pub handler: H,
    /// The server.
    pub conn: Box<ServerConnection<Capacity<R, W, 32>, 100>>,
    /// Its buffers.
    pub bufs: Box<IoBuffers<Capacity<R, W, 32>>>,
    /// The clock.
    pub now: u64,
    /// The server's counters.
    pub counters: Counters,
    local: (),
    /// Bytes the server wrote, not yet parsed.
    out: Vec<u8>,
    /// A header block of HEADERS and CONTINUATION frames not yet ended.
    block: Option<(u32, bool, Vec<u8>)>,
    /// The client's encoder.
    pub encoder: Encoder,
    decoder: Decoder,
    /// Bytes the client sends per read of the server (`usize::MAX`: as
    /// many as the server takes).
    pub piece: usize,
    /// The largest DATA payload the server sent.
    pub largest_data: usize,
    /// How many writes the server asked for.
    pub writes: usize,
    /// The spill lent to the server, if any (none unless a test sets it).
    pub spill: Option<SpillArea<Vec<u8>>>,
    /// What keeps the files of the server's kept regions.
    pub keeper: Keeper,
    /// The length of each simulated file, by handle: a region past it
    /// sends nothing (a file without a length here never ends). Their
    /// bytes are [`file_bytes`].
    pub file_lens: Vec<(u64, u64)>,
    /// The server shut its write side.
    pub write_closed: bool,
}

macro_rules! env {
    ($peer:expr) => {
        &mut Env {
            handler: &$peer.handler,
            local: &mut $peer.local,
            date: None,
            now: $peer.now,
            counters: &mut $peer.counters,
            files: Some(&mut $peer.keeper),
            spill: match &mut $peer.spill {
                Some(spill) => Some(spill as &mut dyn Spill),
                None => None,
            },
            deflate: None,
        }
    };
}

impl<const R: usize, const W: usize> Peer<R, W> {
    /// A connection serving [`Routes`] after the preface and an empty
    /// SETTINGS, sent in pieces of `piece` bytes.
    pub fn new(piece: usize) -> Self {
        Peer::with_handler(Routes, piece)
    }
}

impl<const R: usize, const W: usize, H: Handler> Peer<R, W, H> {
    /// A connection serving `handler` after the preface and an empty
    /// SETTINGS, sent in pieces of `piece` bytes.
    pub fn with_handler(handler: H, piece: usize) -> Self {
        Peer::with_config(handler, Config::DEFAULT, piece)
    }

    /// [`with_handler`](Self::with_handler), the connection configured by
    /// `config`.
    pub fn with_config(handler: H, config: Config, piece: usize) -> Self {
        let mut peer = Peer {
            handler,
            conn: Box::new(ServerConnection::new(config, None, 0)),
            bufs: Box::new(IoBuffers::new()),
            now: 0,
            counters: Counters::default(),
            local: (),
            out: Vec::new(),
            block: None,
            encoder: Encoder::new(),
            decoder: Decoder::new(),
            piece,
            largest_data: 0,
            writes: 0,
            spill: None,
            keeper: Keeper::default(),
            file_lens: Vec::new(),
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

    /// The client sends `bytes`, `piece` at a time; the server reads them
    /// and writes what it can, the client reading all of it.
    pub fn send(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() && !self.conn.is_closed() {
            if !self.conn.interest().read {
                self.flush();
                if !self.conn.interest().read {
                    break;
                }
            }
            let buf = self.conn.read_buf(&mut self.bufs);
            let n = buf.len().min(bytes.len()).min(self.piece);
            assert!(n > 0, "the server wants to read but has no room");
            buf[..n].copy_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            self.conn.handle_read(n, &mut self.bufs, env!(self));
            self.flush();
        }
        assert!(
            bytes.is_empty() || self.conn.is_closed(),
            "the server stopped reading with {} bytes unread: {:?}",
            bytes.len(),
            self.conn
        );
    }

    /// The application wakes the connection: it is polled while it has
    /// work, and writes what it can.
    pub fn wake(&mut self) {
        self.conn.handle_wake(self.now);
        while self.conn.has_work() {
            self.conn.poll(&mut self.bufs, env!(self));
        }
        self.flush();
    }

    /// The application answers the deferred response of `stream` with
    /// what `answer` writes; whether one waited. The server then writes
    /// what it can.
    pub fn answer(&mut self, stream: u32, answer: impl FnOnce(&mut Response<'_>)) -> bool {
        let answered = self
            .conn
            .handle_answer(stream, &mut self.bufs, env!(self), answer);
        self.flush();
        answered
    }

    /// The application publishes `bytes` to `topic`; the server then
    /// writes what it can.
    pub fn publish(&mut self, topic: u64, bytes: &[u8]) -> Result<(), PublishError> {
        let published = self
            .conn
            .handle_publish(&mut self.bufs, topic, bytes, env!(self));
        self.flush();
        published
    }

    /// The clock moves `ms` on, and the deadline that passed fires.
    pub fn advance(&mut self, ms: u64) {
        self.now += ms;
        while self.conn.poll_timeout().is_some_and(|at| at <= self.now) {
            self.conn.handle_timeout(&mut self.bufs, env!(self));
        }
        self.flush();
    }

    /// A handler panicked in the last call into the server, and the
    /// test caught it: the server answers what it can
    /// ([`ServerConnection::handle_panic`]) and writes it. Whether the
    /// connection goes on.
    pub fn panicked(&mut self) -> bool {
        let goes_on = self.conn.handle_panic(&mut self.bufs, env!(self));
        self.flush();
        goes_on
    }

    /// The server begins a graceful end (GOAWAY).
    pub fn shutdown(&mut self) {
        self.conn.shutdown(&mut self.bufs, env!(self));
        self.flush();
    }

    /// The connection ends for good: what it owed is reported.
    pub fn retire(&mut self) {
        self.conn.retire(env!(self));
    }

    /// The server writes everything it has.
    pub fn flush(&mut self) {
        while !self.conn.is_closed() {
            let written = match self.conn.poll_transmit(&self.bufs) {
                Transmit::Idle => return,
                Transmit::Write(slices) => {
                    self.writes += 1;
                    let mut written = 0;
                    for slice in slices {
                        self.out.extend_from_slice(slice);
                        written += slice.len();
                    }
                    written
                }
                Transmit::SendFile(region) => {
                    let len = self
                        .file_lens
                        .iter()
                        .find(|(handle, _)| *handle == region.handle())
                        .map_or(u64::MAX, |(_, len)| *len);
                    let n = region.len().min(len.saturating_sub(region.offset()));
                    if n == 0 {
                        // The file ends before the region.
                        assert!(
                            self.conn.handle_file_ended(&mut self.bufs, env!(self)),
                            "the connection gave up on a file cut short"
                        );
                        continue;
                    }
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
            self.conn
                .handle_written(written, &mut self.bufs, env!(self));
        }
    }

    /// The frames the server sent since the last call.
    pub fn take(&mut self) -> Vec<Sent> {
        self.flush();
        let mut sent = Vec::new();
        let mut at = 0;
        while let Ok(Some((frame, len))) = parse_frame(&self.out[at..], (1 << 24) - 1) {
            at += len;
            let frame = match frame {
                Frame::Settings(SettingsFrame::Ack) => Sent::SettingsAck,
                Frame::Settings(SettingsFrame::Parameters(parameters)) => {
                    Sent::Settings(parameters.into_iter().collect())
                }
                Frame::Headers(headers) => {
                    let stream = headers.stream_id.get();
                    let block = (stream, headers.end_stream, headers.fragment.to_vec());
                    if !headers.end_headers {
                        self.block = Some(block);
                        continue;
                    }
                    self.decode(block)
                }
                Frame::Continuation(continuation) => {
                    let mut block = self.block.take().expect("CONTINUATION after HEADERS");
                    assert_eq!(block.0, continuation.stream_id.get());
                    block.2.extend_from_slice(continuation.fragment);
                    if !continuation.end_headers {
                        self.block = Some(block);
                        continue;
                    }
                    self.decode(block)
                }
                Frame::Data(data) => {
                    self.largest_data = self.largest_data.max(data.data.len());
                    Sent::Data {
                        stream: data.stream_id.get(),
                        data: data.data.to_vec(),
                        end_stream: data.end_stream,
                    }
                }
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
            sent.push(frame);
        }
        self.out.drain(..at);
        sent
    }

    /// A header block of the server's, decoded.
    fn decode(&mut self, (stream, end_stream, block): (u32, bool, Vec<u8>)) -> Sent {
        let mut fields = Vec::new();
        let mut out = vec![0; 64 * 1024];
        self.decoder
            .decode(&block, &mut out, |field| {
                fields.push((
                    String::from_utf8(field.name.to_vec()).unwrap(),
                    String::from_utf8(field.value.to_vec()).unwrap(),
                ));
                Ok::<_, DecodeError>(())
            })
            .unwrap();
        Sent::Headers {
            stream,
            fields,
            end_stream,
        }
    }

    /// The header block of a request for `path` with `extra` fields.
    pub fn block(&mut self, method: &str, path: &str, extra: &[(&str, &str)]) -> Vec<u8> {
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
        let mut block = vec![0; 64 * 1024];
        let len = self
            .encoder
            .encode_block(fields.iter().copied(), &mut block)
            .unwrap();
        block.truncate(len);
        block
    }

    /// HEADERS for a request on `stream`.
    pub fn request(
        &mut self,
        stream: u32,
        method: &str,
        path: &str,
        extra: &[(&str, &str)],
        end_stream: bool,
    ) -> Vec<u8> {
        let block = self.block(method, path, extra);
        let id = StreamId::new(stream).unwrap();
        frame(|buf| encode_headers(buf, id, &block, end_stream, DEFAULT_MAX_FRAME_SIZE))
    }
}

/// One frame made by `encode`.
pub fn frame<E: std::fmt::Debug>(encode: impl FnOnce(&mut [u8]) -> Result<usize, E>) -> Vec<u8> {
    let mut buf = vec![0; 70_000];
    let len = encode(&mut buf).unwrap();
    buf.truncate(len);
    buf
}

/// A frame from its parts.
pub fn raw_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut bytes = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    bytes.extend_from_slice(&stream.to_be_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

/// A DATA frame.
pub fn data(stream: u32, payload: &[u8], end_stream: bool) -> Vec<u8> {
    let mut bytes = encode_data_header(StreamId::new(stream).unwrap(), payload.len(), end_stream)
        .unwrap()
        .to_vec();
    bytes.extend_from_slice(payload);
    bytes
}

/// A padded DATA frame: `pad` bytes of padding after `payload`.
pub fn padded_data(stream: u32, payload: &[u8], pad: u8, end_stream: bool) -> Vec<u8> {
    let mut body = vec![pad];
    body.extend_from_slice(payload);
    body.extend(std::iter::repeat_n(0, usize::from(pad)));
    raw_frame(0x0, 0x8 | u8::from(end_stream), stream, &body)
}

/// The status and body of each stream's response, in the order the
/// responses began.
pub fn responses(sent: &[Sent]) -> Vec<(u32, String, Vec<u8>)> {
    let mut out: Vec<(u32, String, Vec<u8>)> = Vec::new();
    for frame in sent {
        match frame {
            Sent::Headers { stream, fields, .. } => {
                let status = fields
                    .iter()
                    .find(|(n, _)| n == ":status")
                    .map_or_else(String::new, |(_, v)| v.clone());
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

/// The status and body of `stream`'s response among `sent`.
pub fn response_of(sent: &[Sent], stream: u32) -> Option<(String, Vec<u8>)> {
    responses(sent)
        .into_iter()
        .find(|(s, ..)| *s == stream)
        .map(|(_, status, body)| (status, body))
}

/// Whether the server reset `stream` with `code`.
pub fn was_reset(sent: &[Sent], stream: u32, code: ErrorCode) -> bool {
    sent.contains(&Sent::Reset { stream, code })
}
