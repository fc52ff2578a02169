//! Streamed response bodies over HTTP/2: the handler's `fill_body` is
//! asked for pieces as the windows and the write buffer allow, each piece
//! one DATA frame; a handler with nothing ready waits for a wake; a body
//! short of its announced length, or given up, resets its stream; every
//! streamed body is reported to `finished` once, however it ended.

mod support;

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use peregrine_core::h2::frame::{
    ErrorCode, Setting, StreamId, encode_rst_stream, encode_settings, encode_window_update,
};
use peregrine_core::h2::server::{MIN_READ, MIN_WRITE};
use peregrine_core::{Fill, Finished, Handler, Outcome, Request, Response};
use support::h2::{Peer, Sent, frame, responses};

/// The driver's default buffer pair.
const DEFAULT: usize = 16_384;

/// Byte `i` of every streamed body.
fn byte(i: u64) -> u8 {
    (i % 251) as u8
}

/// The first `len` bytes of every streamed body.
fn body(len: u64) -> Vec<u8> {
    (0..len).map(byte).collect()
}

/// How a streamed body goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// All of it, then done.
    Whole = 0,
    /// Nothing ready until [`Bodies::ready`] is set, then all of it.
    Pending = 1,
    /// Done at half its announced length.
    Short = 2,
    /// Given up after its first piece.
    Abort = 3,
    /// Nothing (`More(0)`) every other call.
    Slow = 4,
}

/// The tag of a streamed body: its mode, its length and how much was
/// produced, with a serial number so that every body's tag differs.
fn tag(mode: Mode, serial: u64, len: u64, produced: u64) -> u64 {
    (mode as u64) << 60 | serial << 52 | len << 26 | produced
}

/// What [`tag`] packed.
fn untag(tag: u64) -> (u64, u64, u64, u64) {
    (
        tag >> 60,
        tag >> 52 & 0xff,
        tag >> 26 & 0x3ff_ffff,
        tag & 0x3ff_ffff,
    )
}

/// Routes: `/bytes/N` streams N bytes of announced length,
/// `/chunked/N` N bytes of no announced length, `/pending/N` N bytes
/// once [`ready`](Self::ready), `/short/N` half of N announced,
/// `/abort/N` gives up after a piece, `/slow/N` gives nothing every
/// other call; `/copied/N` copies N bytes into the buffer and `/static/`
/// says hello, both with a tag; anything else says hello.
#[derive(Default)]
struct Bodies {
    /// `/pending/N` may go on.
    ready: AtomicBool,
    /// Calls of `fill_body`.
    fills: AtomicUsize,
    /// Bodies begun.
    serial: AtomicUsize,
    /// What `finished` was told: (mode, serial, produced, outcome).
    finished: Mutex<Vec<(u64, u64, u64, Outcome)>>,
}

impl Bodies {
    /// What `finished` was told so far.
    fn finished(&self) -> Vec<(u64, u64, u64, Outcome)> {
        self.finished.lock().unwrap().clone()
    }

    /// Calls of `fill_body` so far.
    fn fills(&self) -> usize {
        self.fills.load(Ordering::Relaxed)
    }
}

impl Handler for Bodies {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
        let path = std::str::from_utf8(request.path()).unwrap();
        let mut parts = path.trim_start_matches('/').split('/');
        let (route, len) = (parts.next().unwrap(), parts.next());
        let len: u64 = len.map_or(0, |n| n.parse().unwrap());
        let mode = match route {
            "bytes" | "chunked" => Mode::Whole,
            "pending" => Mode::Pending,
            "short" => Mode::Short,
            "abort" => Mode::Abort,
            "slow" => Mode::Slow,
            "copied" | "static" => {
                // A body from the buffer (or a static slice) with a tag:
                // followed to its end as a streamed one is.
                let serial = self.serial.fetch_add(1, Ordering::Relaxed) as u64;
                if route == "copied" {
                    response.body(&body(len)).unwrap();
                } else {
                    response.body_static(b"hello");
                }
                let len = if route == "copied" { len } else { 5 };
                response.set_tag(tag(Mode::Whole, serial, len, len));
                return;
            }
            _ => {
                response.body_static(b"hello");
                return;
            }
        };
        let serial = self.serial.fetch_add(1, Ordering::Relaxed) as u64;
        response.set_tag(tag(mode, serial, len, 0));
        response.stream((route != "chunked").then_some(len));
    }

    fn fill_body(&self, tag_: &mut u64, buf: &mut [u8], _: &mut ()) -> Fill {
        let calls = self.fills.fetch_add(1, Ordering::Relaxed);
        let (mode, serial, len, produced) = untag(*tag_);
        let mode = [
            Mode::Whole,
            Mode::Pending,
            Mode::Short,
            Mode::Abort,
            Mode::Slow,
        ][mode as usize];
        if mode == Mode::Pending && !self.ready.load(Ordering::Relaxed) {
            return Fill::Pending;
        }
        if mode == Mode::Slow && calls % 2 == 0 {
            return Fill::More(0);
        }
        if mode == Mode::Abort && produced > 0 {
            return Fill::Abort;
        }
        let end = if mode == Mode::Short { len / 2 } else { len };
        let n = (end - produced).min(buf.len() as u64);
        for (i, b) in buf[..n as usize].iter_mut().enumerate() {
            *b = byte(produced + i as u64);
        }
        *tag_ = tag(mode, serial, len, produced + n);
        if produced + n == end {
            Fill::Done(n as usize)
        } else {
            Fill::More(n as usize)
        }
    }

    fn finished(&self, finished: Finished, _: &mut ()) {
        let (mode, serial, _, produced) = untag(finished.tag);
        self.finished
            .lock()
            .unwrap()
            .push((mode, serial, produced, finished.outcome));
    }
}

/// A client that opened the connection's and every stream's window to
/// 1 MiB.
fn wide_open<const R: usize, const W: usize>(piece: usize) -> Peer<R, W, Bodies> {
    let mut peer = Peer::with_handler(Bodies::default(), piece);
    let mut wire = frame(|buf| encode_settings(buf, &[Setting::InitialWindowSize(1 << 20)]));
    wire.extend(frame(|buf| {
        encode_window_update(buf, StreamId::CONNECTION, 1 << 20)
    }));
    peer.send(&wire);
    assert_eq!(peer.take(), [Sent::SettingsAck]);
    peer
}

/// The DATA frames of `stream` in `sent`: (length, END_STREAM).
fn data_frames(sent: &[Sent], stream: u32) -> Vec<(usize, bool)> {
    sent.iter()
        .filter_map(|frame| match frame {
            Sent::Data {
                stream: s,
                data,
                end_stream,
            } if *s == stream => Some((data.len(), *end_stream)),
            _ => None,
        })
        .collect()
}

/// The value of field `name` in the first HEADERS of `stream`.
fn field(sent: &[Sent], stream: u32, name: &str) -> Option<String> {
    sent.iter().find_map(|frame| match frame {
        Sent::Headers {
            stream: s, fields, ..
        } if *s == stream => fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone()),
        _ => None,
    })
}

/// A GET of `path` on `stream`, and the frames the server sent for it.
fn get<const R: usize, const W: usize>(
    peer: &mut Peer<R, W, Bodies>,
    stream: u32,
    path: &str,
) -> Vec<Sent> {
    let request = peer.request(stream, "GET", path, &[], true);
    peer.send(&request);
    peer.take()
}

/// Streams `len` bytes (of announced length or not) to a client whose
/// windows are open, with buffers of `R` and `W` bytes.
fn stream_whole<const R: usize, const W: usize>(route: &str, len: u64) {
    let mut peer = wide_open::<R, W>(usize::MAX);
    let sent = get(&mut peer, 1, &format!("/{route}/{len}"));
    let answers = responses(&sent);
    assert_eq!(answers.len(), 1, "{sent:?}");
    assert_eq!(answers[0].1, "200");
    assert_eq!(answers[0].2, body(len), "{route} {len}: the bytes differ");
    let expected_length = (route == "bytes").then(|| len.to_string());
    assert_eq!(field(&sent, 1, "content-length"), expected_length);
    let frames = data_frames(&sent, 1);
    assert!(frames.last().unwrap().1, "the last DATA ends the stream");
    assert!(frames[..frames.len() - 1].iter().all(|&(_, end)| !end));
    assert!(frames.iter().all(|&(n, _)| n <= 16_384));
    if len >= 100_000 {
        assert!(frames.len() >= 7, "{} frames", frames.len());
        assert!(peer.handler.fills() >= 7, "{} fills", peer.handler.fills());
    }
    assert_eq!(peer.handler.finished(), [(0, 0, len, Outcome::Sent)]);
    assert_eq!(peer.conn.open_streams(), 0);
    assert!(!peer.conn.has_work() && !peer.conn.is_parked());
}

#[test]
fn streamed_bodies_of_0_1_and_100k_bytes_arrive_whole() {
    for len in [0, 1, 100_000] {
        stream_whole::<DEFAULT, DEFAULT>("bytes", len);
        stream_whole::<MIN_READ, MIN_WRITE>("bytes", len);
        stream_whole::<DEFAULT, DEFAULT>("chunked", len);
        stream_whole::<MIN_READ, MIN_WRITE>("chunked", len);
    }
}

#[test]
fn an_empty_streamed_body_is_an_empty_data_frame_ending_the_stream() {
    let mut peer = wide_open::<DEFAULT, DEFAULT>(usize::MAX);
    let sent = get(&mut peer, 1, "/chunked/0");
    assert!(matches!(
        &sent[..],
        [
            Sent::Headers {
                stream: 1,
                end_stream: false,
                ..
            },
            Sent::Data {
                stream: 1,
                data,
                end_stream: true
            }
        ] if data.is_empty()
    ));
}

#[test]
fn a_stream_window_that_opens_slowly_gets_a_frame_per_update() {
    let mut peer = Peer::<DEFAULT, DEFAULT, Bodies>::with_handler(Bodies::default(), usize::MAX);
    let settings = frame(|buf| encode_settings(buf, &[Setting::InitialWindowSize(1_500)]));
    peer.send(&settings);
    assert_eq!(peer.take(), [Sent::SettingsAck]);
    let sent = get(&mut peer, 1, "/bytes/10000");
    let mut got = responses(&sent)[0].2.clone();
    assert_eq!(got.len(), 1_500);
    let mut updates = 0;
    while got.len() < 10_000 {
        let update = frame(|buf| encode_window_update(buf, StreamId::new(1).unwrap(), 1_500));
        peer.send(&update);
        let frames = peer.take();
        let data = data_frames(&frames, 1);
        assert_eq!(data.len(), 1, "{frames:?}");
        assert!(data[0].0 <= 1_500);
        for frame in &frames {
            if let Sent::Data { data, .. } = frame {
                got.extend_from_slice(data);
            }
        }
        assert_eq!(data[0].1, got.len() == 10_000);
        updates += 1;
    }
    assert_eq!(got, body(10_000));
    assert_eq!(updates, 6);
    assert_eq!(peer.handler.finished(), [(0, 0, 10_000, Outcome::Sent)]);
}

#[test]
fn a_pending_body_waits_for_a_wake_while_other_streams_go_on() {
    let mut peer = wide_open::<DEFAULT, DEFAULT>(usize::MAX);
    let sent = get(&mut peer, 1, "/pending/5000");
    assert!(matches!(
        &sent[..],
        [Sent::Headers {
            stream: 1,
            end_stream: false,
            ..
        }]
    ));
    assert!(peer.conn.is_parked());
    assert!(!peer.conn.has_work());
    // A wake with nothing ready asks again and parks again.
    peer.wake();
    assert!(peer.take().is_empty());
    assert!(peer.conn.is_parked());
    // Another stream is served meanwhile.
    let other = get(&mut peer, 3, "/");
    assert_eq!(responses(&other), [(3, "200".into(), b"hello".to_vec())]);
    peer.handler.ready.store(true, Ordering::Relaxed);
    peer.conn.handle_wake(peer.now);
    assert!(peer.conn.has_work() && !peer.conn.is_parked());
    peer.wake();
    let sent = peer.take();
    assert_eq!(data_frames(&sent, 1), [(5000, true)]);
    assert!(matches!(&sent[..], [Sent::Data { data, .. }] if *data == body(5000)));
    assert_eq!(peer.handler.finished(), [(1, 0, 5000, Outcome::Sent)]);
    assert!(!peer.conn.has_work());
}

#[test]
fn a_body_giving_nothing_is_asked_again_at_the_next_poll() {
    let mut peer = wide_open::<DEFAULT, DEFAULT>(usize::MAX);
    let sent = get(&mut peer, 1, "/slow/40000");
    assert!(peer.conn.has_work());
    let mut got = responses(&sent)[0].2.clone();
    let mut polls = 0;
    while peer.conn.has_work() {
        peer.wake();
        polls += 1;
        for frame in peer.take() {
            if let Sent::Data { data, .. } = frame {
                got.extend_from_slice(&data);
            }
        }
    }
    assert!(polls >= 2);
    assert_eq!(got, body(40_000));
    assert_eq!(peer.handler.finished(), [(4, 0, 40_000, Outcome::Sent)]);
}

#[test]
fn two_streamed_bodies_take_turns() {
    let mut peer = wide_open::<DEFAULT, DEFAULT>(usize::MAX);
    let mut wire = peer.request(1, "GET", "/bytes/100000", &[], true);
    wire.extend(peer.request(3, "GET", "/bytes/100000", &[], true));
    peer.send(&wire);
    let sent = peer.take();
    let answers = responses(&sent);
    assert_eq!(answers.len(), 2);
    assert!(answers.iter().all(|(_, _, got)| *got == body(100_000)));
    // Once both began, no stream sends two frames in a row while the
    // other has data left.
    let order: Vec<u32> = sent
        .iter()
        .filter_map(|frame| match frame {
            Sent::Data { stream, .. } => Some(*stream),
            _ => None,
        })
        .collect();
    let first_of_3 = order.iter().position(|&s| s == 3).unwrap();
    let last_of_1 = order.iter().rposition(|&s| s == 1).unwrap();
    let last_of_3 = order.iter().rposition(|&s| s == 3).unwrap();
    let both = first_of_3..last_of_1.min(last_of_3);
    assert!(first_of_3 <= 1, "{order:?}");
    assert!(
        order[both].windows(2).all(|pair| pair[0] != pair[1]),
        "{order:?}"
    );
    let mut finished = peer.handler.finished();
    finished.sort_by_key(|f| f.1);
    assert_eq!(
        finished,
        [
            (0, 0, 100_000, Outcome::Sent),
            (0, 1, 100_000, Outcome::Sent)
        ]
    );
}

#[test]
fn a_client_reset_midway_aborts_the_body_and_nothing_more_is_sent() {
    // The stream's window (65,535 bytes) stops the body midway.
    let mut peer = Peer::<DEFAULT, DEFAULT, Bodies>::with_handler(Bodies::default(), usize::MAX);
    let update = frame(|buf| encode_window_update(buf, StreamId::CONNECTION, 1 << 20));
    peer.send(&update);
    let sent = get(&mut peer, 1, "/bytes/100000");
    let got = responses(&sent)[0].2.len() as u64;
    assert!((64_000..=65_535).contains(&got), "{got}");
    assert!(peer.handler.finished().is_empty());
    let fills = peer.handler.fills();
    let reset = frame(|buf| encode_rst_stream(buf, StreamId::new(1).unwrap(), ErrorCode::Cancel));
    peer.send(&reset);
    assert_eq!(peer.handler.finished(), [(0, 0, got, Outcome::Aborted)]);
    // A late WINDOW_UPDATE for it opens nothing.
    let update = frame(|buf| encode_window_update(buf, StreamId::new(1).unwrap(), 1 << 20));
    peer.send(&update);
    assert!(peer.take().is_empty());
    assert_eq!(peer.handler.fills(), fills);
    assert_eq!(peer.conn.open_streams(), 0);
    // The connection goes on.
    let sent = get(&mut peer, 3, "/");
    assert_eq!(responses(&sent), [(3, "200".into(), b"hello".to_vec())]);
    assert_eq!(peer.handler.finished().len(), 1);
}

#[test]
fn a_body_short_of_its_length_resets_its_stream() {
    let mut peer = wide_open::<DEFAULT, DEFAULT>(usize::MAX);
    let sent = get(&mut peer, 1, "/short/1000");
    assert_eq!(data_frames(&sent, 1), [(500, false)]);
    assert_eq!(
        sent.last(),
        Some(&Sent::Reset {
            stream: 1,
            code: ErrorCode::InternalError
        })
    );
    assert_eq!(peer.handler.finished(), [(2, 0, 500, Outcome::Aborted)]);
    // The connection goes on.
    let sent = get(&mut peer, 3, "/");
    assert_eq!(responses(&sent), [(3, "200".into(), b"hello".to_vec())]);
}

#[test]
fn a_body_given_up_resets_its_stream() {
    let mut peer = wide_open::<MIN_READ, MIN_WRITE>(usize::MAX);
    let sent = get(&mut peer, 1, "/abort/100000");
    let data = data_frames(&sent, 1);
    assert_eq!(data.len(), 1);
    assert_eq!(
        sent.last(),
        Some(&Sent::Reset {
            stream: 1,
            code: ErrorCode::InternalError
        })
    );
    assert_eq!(
        peer.handler.finished(),
        [(3, 0, data[0].0 as u64, Outcome::Aborted)]
    );
}

#[test]
fn a_body_cut_by_the_connection_is_reported_aborted_once() {
    let mut peer = wide_open::<DEFAULT, DEFAULT>(usize::MAX);
    let _ = get(&mut peer, 1, "/pending/100");
    assert!(peer.conn.is_parked());
    peer.retire();
    peer.retire();
    assert_eq!(peer.handler.finished(), [(1, 0, 0, Outcome::Aborted)]);
}

#[test]
fn a_head_request_for_a_streamed_body_is_reported_not_sent() {
    let mut peer = wide_open::<DEFAULT, DEFAULT>(usize::MAX);
    let request = peer.request(1, "HEAD", "/bytes/100", &[], true);
    peer.send(&request);
    let sent = peer.take();
    assert!(matches!(
        &sent[..],
        [Sent::Headers {
            stream: 1,
            end_stream: true,
            ..
        }]
    ));
    assert_eq!(peer.handler.fills(), 0);
    assert_eq!(peer.handler.finished(), [(0, 0, 0, Outcome::NotSent)]);
}

#[test]
fn bodies_with_a_tag_from_the_buffer_are_reported_once_sent() {
    let mut peer = wide_open::<DEFAULT, DEFAULT>(usize::MAX);
    let sent = get(&mut peer, 1, "/copied/5000");
    assert_eq!(responses(&sent)[0].2, body(5000));
    let sent = get(&mut peer, 3, "/static/0");
    assert_eq!(responses(&sent)[0].2, b"hello");
    // An empty body ends with its head.
    let sent = get(&mut peer, 5, "/copied/0");
    assert_eq!(responses(&sent)[0].2, b"");
    assert_eq!(
        peer.handler.finished(),
        [
            (0, 0, 5000, Outcome::Sent),
            (0, 1, 5, Outcome::Sent),
            (0, 2, 0, Outcome::Sent)
        ]
    );
}

#[test]
fn a_body_with_a_tag_cut_short_by_a_reset_is_reported_aborted() {
    // No window: the head goes, the body waits, then the client resets
    // the stream.
    let mut peer: Peer<DEFAULT, DEFAULT, Bodies> =
        Peer::with_handler(Bodies::default(), usize::MAX);
    peer.send(&frame(|buf| {
        encode_settings(buf, &[Setting::InitialWindowSize(0)])
    }));
    assert_eq!(peer.take(), [Sent::SettingsAck]);
    let sent = get(&mut peer, 1, "/copied/5000");
    assert!(data_frames(&sent, 1).is_empty(), "{sent:?}");
    assert!(peer.handler.finished().is_empty());
    peer.send(&frame(|buf| {
        encode_rst_stream(buf, StreamId::new(1).unwrap(), ErrorCode::Cancel)
    }));
    peer.take();
    assert_eq!(peer.handler.finished(), [(0, 0, 5000, Outcome::Aborted)]);
}

/// Sixty 6,150-byte responses asked for at once: the first go out right
/// behind their heads (at most 32 KiB of DATA, so that a small response
/// behind a large one is not kept waiting), and each write after takes
/// up to 128 KiB, a frame per stream in turn: 4 writes. At 32 KiB
/// throughout they took 10.
#[test]
fn many_small_responses_go_out_in_few_writes() {
    let mut peer = Peer::<DEFAULT, DEFAULT>::new(usize::MAX);
    let mut wire = frame(|buf| encode_window_update(buf, StreamId::CONNECTION, 1 << 20));
    for i in 0..60 {
        wire.extend(peer.request(1 + 2 * i, "GET", "/bytes/6150", &[], true));
    }
    let writes_before = peer.writes;
    peer.send(&wire);
    let sent = peer.take();
    let answers = responses(&sent);
    assert_eq!(answers.len(), 60);
    assert!(
        answers
            .iter()
            .all(|(_, _, body)| body[..] == support::h2::LARGE[..6150])
    );
    let writes = peer.writes - writes_before;
    assert!(writes <= 6, "{writes} writes");
}
