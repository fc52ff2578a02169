//! The HTTP/2 server connection against the rules of RFC 9113 the
//! conformance suite (httpwg, after h2spec) checks: frames on closed and
//! half-closed streams, identifiers out of order, trailers, the host and
//! `:authority`, header lists past the limit, flow-control windows of a
//! few bytes, the client's GOAWAY, and a client that shuts its side.

mod support;

use peregrine_core::h2::frame::{
    ErrorCode, Setting, StreamId, encode_goaway, encode_ping, encode_rst_stream, encode_settings,
    encode_window_update,
};
use peregrine_core::h2::hpack::HeaderField;
use peregrine_core::{Counters, Env};
use support::h2::{LARGE, Peer, Routes, Sent, data, frame, raw_frame, responses};

/// The driver's default buffer pair.
const SIZE: usize = 16_384;

/// A connection with the default buffers, input taken whole.
fn connect() -> Peer<SIZE, SIZE> {
    Peer::new(usize::MAX)
}

/// SETTINGS with `settings`.
fn settings(settings: &[Setting]) -> Vec<u8> {
    frame(|buf| encode_settings(buf, settings))
}

/// The GOAWAY the server sent, if any.
fn goaway(sent: &[Sent]) -> Option<(u32, ErrorCode)> {
    sent.iter().find_map(|frame| match frame {
        Sent::GoAway { last, code } => Some((*last, *code)),
        _ => None,
    })
}

/// The DATA payloads the server sent, one by one.
fn data_frames(sent: &[Sent]) -> Vec<Vec<u8>> {
    sent.iter()
        .filter_map(|frame| match frame {
            Sent::Data { data, .. } => Some(data.clone()),
            _ => None,
        })
        .collect()
}

/// §5.1 "closed": HEADERS on a stream that ended (answered whole, its
/// client half ended with END_STREAM) is a connection error of type
/// STREAM_CLOSED, not PROTOCOL_ERROR (httpwg "closed sends headers
/// frame", and "half closed remote sends headers frame" against a server
/// that answers at once).
#[test]
fn headers_on_a_stream_that_ended_is_stream_closed() {
    let mut peer = connect();
    let request = peer.request(1, "POST", "/", &[], true);
    peer.send(&request);
    assert_eq!(
        responses(&peer.take()),
        [(1, "200".into(), b"hello".to_vec())]
    );
    let again = peer.request(1, "POST", "/", &[], true);
    peer.send(&again);
    assert_eq!(goaway(&peer.take()), Some((1, ErrorCode::StreamClosed)));
}

/// §5.1 "half-closed (remote)": HEADERS on a stream whose response is
/// still going out is a stream error of type STREAM_CLOSED.
#[test]
fn headers_on_a_half_closed_stream_resets_it_with_stream_closed() {
    let mut peer = connect();
    let request = peer.request(1, "GET", "/large", &[], true);
    peer.send(&request);
    let _ = peer.take();
    let again = peer.request(1, "GET", "/large", &[], true);
    peer.send(&again);
    assert_eq!(
        peer.take(),
        [Sent::Reset {
            stream: 1,
            code: ErrorCode::StreamClosed
        }]
    );
}

/// §5.1 "closed": HEADERS after the client's own RST_STREAM is
/// STREAM_CLOSED (httpwg "closed sends headers frame after rst stream").
#[test]
fn headers_after_the_clients_reset_is_stream_closed() {
    let mut peer = connect();
    let mut wire = peer.request(1, "POST", "/echo", &[], false);
    wire.extend(frame(|buf| {
        encode_rst_stream(buf, StreamId::new(1).unwrap(), ErrorCode::Cancel)
    }));
    peer.send(&wire);
    assert_eq!(peer.take(), []);
    let again = peer.request(1, "POST", "/", &[], true);
    peer.send(&again);
    assert_eq!(goaway(&peer.take()), Some((1, ErrorCode::StreamClosed)));
}

/// §5.1.1: a stream skipped over was never opened; opening it later is an
/// identifier out of order, PROTOCOL_ERROR (httpwg "sends smaller stream
/// identifier"), unlike a stream that was opened and closed.
#[test]
fn a_skipped_stream_opened_late_is_a_protocol_error() {
    let mut peer = connect();
    let request = peer.request(5, "GET", "/", &[], true);
    peer.send(&request);
    let _ = peer.take();
    let late = peer.request(3, "GET", "/", &[], true);
    peer.send(&late);
    assert_eq!(goaway(&peer.take()), Some((5, ErrorCode::ProtocolError)));
}

/// §5.1 "closed": frames the client sent before the server's RST_STREAM
/// reached it are ignored (the trailers decoded all the same, so the
/// HPACK table stays in step), and the connection goes on.
#[test]
fn frames_on_a_stream_the_server_reset_are_ignored() {
    let mut peer = connect();
    // Malformed: reset with PROTOCOL_ERROR.
    let request = peer.request(1, "POST", "/echo", &[("Upper", "x")], false);
    peer.send(&request);
    assert_eq!(
        peer.take(),
        [Sent::Reset {
            stream: 1,
            code: ErrorCode::ProtocolError
        }]
    );
    // Its body and trailers, already on their way; the trailer field
    // enters the client's table.
    let mut wire = data(1, b"body", false);
    let trailers = trailer_block(&mut peer, &[("x-checksum", "abc")]);
    wire.extend(raw_frame(0x1, 0x5, 1, &trailers));
    peer.send(&wire);
    assert_eq!(peer.take(), [], "ignored");
    // The table is in step: a request naming the trailer's entry.
    let request = peer.request(3, "GET", "/", &[("x-checksum", "abc")], true);
    peer.send(&request);
    assert_eq!(
        responses(&peer.take()),
        [(3, "200".into(), b"hello".to_vec())]
    );
}

/// A block of `fields` alone (trailers), from the client's encoder.
fn trailer_block(peer: &mut Peer<SIZE, SIZE>, fields: &[(&str, &str)]) -> Vec<u8> {
    let fields: Vec<_> = fields
        .iter()
        .map(|(n, v)| HeaderField::new(n.as_bytes(), v.as_bytes()))
        .collect();
    let mut block = vec![0; 4096];
    let len = peer
        .encoder
        .encode_block(fields.iter().copied(), &mut block)
        .unwrap();
    block.truncate(len);
    block
}

/// §8.1: a second HEADERS without END_STREAM makes the request malformed:
/// PROTOCOL_ERROR, not STREAM_CLOSED (httpwg "sends second headers frame
/// without end stream").
#[test]
fn trailers_without_end_stream_are_malformed() {
    let mut peer = connect();
    let mut wire = peer.request(1, "POST", "/echo", &[], false);
    wire.extend(data(1, b"test", false));
    let trailers = trailer_block(&mut peer, &[("x-test", "ok")]);
    wire.extend(raw_frame(0x1, 0x4, 1, &trailers));
    peer.send(&wire);
    assert_eq!(
        peer.take(),
        [Sent::Reset {
            stream: 1,
            code: ErrorCode::ProtocolError
        }]
    );
}

/// §8.1: trailers hold no pseudo-header, and their fields follow §8.2;
/// valid trailers end the request, which is served (httpwg "sends headers
/// frame with pseudo header in trailer").
#[test]
fn trailers_are_checked_and_valid_ones_end_the_request() {
    for (trailer, answered) in [
        ((":method", "POST"), false),
        (("Upper", "x"), false),
        (("connection", "close"), false),
        (("x-bad", " padded"), false),
        (("x-checksum", "abc"), true),
    ] {
        let mut peer = connect();
        let mut wire = peer.request(1, "POST", "/echo", &[], false);
        wire.extend(data(1, b"test", false));
        let trailers = trailer_block(&mut peer, &[trailer]);
        wire.extend(raw_frame(0x1, 0x5, 1, &trailers));
        peer.send(&wire);
        let sent = peer.take();
        if answered {
            assert_eq!(
                responses(&sent),
                [(1, "200".into(), b"test".to_vec())],
                "{trailer:?}"
            );
        } else {
            assert_eq!(
                sent,
                [Sent::Reset {
                    stream: 1,
                    code: ErrorCode::ProtocolError
                }],
                "{trailer:?}"
            );
        }
    }
}

/// §8.3.1: a `host` naming another entity than `:authority` makes the
/// request malformed (httpwg "sends headers frame with mismatched host
/// authority"); the same entity, spelt with another case or the default
/// port, does not.
#[test]
fn a_host_other_than_the_authority_is_malformed() {
    for (host, served) in [
        ("example.test.different", false),
        ("example.test:8080", false),
        ("example.test", true),
        ("EXAMPLE.test:80", true),
        ("example.test:", true),
    ] {
        let mut peer = connect();
        let request = peer.request(1, "GET", "/", &[("host", host)], true);
        peer.send(&request);
        let sent = peer.take();
        if served {
            assert_eq!(
                responses(&sent),
                [(1, "200".into(), b"hello".to_vec())],
                "{host}"
            );
        } else {
            assert_eq!(
                sent,
                [Sent::Reset {
                    stream: 1,
                    code: ErrorCode::ProtocolError
                }],
                "{host}"
            );
        }
    }
}

/// §10.5.1: a header list past `SETTINGS_MAX_HEADER_LIST_SIZE`, split
/// over CONTINUATION frames, is answered `431` once read whole, the
/// connection going on (httpwg "sends multiple continuation frames
/// preceded by headers frame": two 4,000-byte fields take the list just
/// past 8,192 bytes).
#[test]
fn a_header_list_past_the_limit_is_answered_431() {
    let mut peer = connect();
    let long = "x".repeat(4000);
    let head = peer.block("POST", "/", &[]);
    let first = trailer_block(&mut peer, &[("x-dummy0", &long)]);
    let second = trailer_block(&mut peer, &[("x-dummy0", &long)]);
    let mut wire = raw_frame(0x1, 0x1, 1, &head);
    wire.extend(raw_frame(0x9, 0, 1, &first));
    wire.extend(raw_frame(0x9, 0x4, 1, &second));
    peer.send(&wire);
    assert_eq!(responses(&peer.take()), [(1, "431".into(), Vec::new())]);
    let request = peer.request(3, "GET", "/", &[("x-dummy0", &long)], true);
    peer.send(&request);
    assert_eq!(
        responses(&peer.take()),
        [(3, "200".into(), b"hello".to_vec())]
    );
}

/// §5.1.2: streams whose response waits for window are open; the one past
/// `SETTINGS_MAX_CONCURRENT_STREAMS` is refused (httpwg "exceeds
/// concurrent stream limit").
#[test]
fn the_stream_past_the_concurrency_limit_is_refused() {
    let mut peer = connect();
    let mut wire = settings(&[Setting::InitialWindowSize(0)]);
    for i in 0..=100 {
        wire.extend(peer.request(1 + 2 * i, "POST", "/", &[], true));
    }
    peer.send(&wire);
    let sent = peer.take();
    assert_eq!(responses(&sent).len(), 100);
    assert!(data_frames(&sent).is_empty(), "no window");
    assert_eq!(
        sent.last(),
        Some(&Sent::Reset {
            stream: 201,
            code: ErrorCode::RefusedStream
        })
    );
}

/// §6.9: the server sends as much as the windows allow, however little:
/// a window of one byte gets a frame of one byte (httpwg "sends settings
/// frame to set initial window size to 1 and sends headers frame",
/// "changes settings initial window size after sending headers frame",
/// "sends multiple values of settings initial window size"). Before, a
/// frame below 1 KiB waited for more window, and a client whose window
/// never reached it waited forever.
#[test]
fn a_window_of_a_few_bytes_gets_frames_of_a_few_bytes() {
    // A window of one byte from the start.
    let mut peer = connect();
    let mut wire = settings(&[Setting::InitialWindowSize(1)]);
    wire.extend(peer.request(1, "POST", "/", &[], true));
    peer.send(&wire);
    assert_eq!(data_frames(&peer.take()), [b"h".to_vec()]);

    // Zero, opened to one once the request is in.
    let mut peer = connect();
    let mut wire = settings(&[Setting::InitialWindowSize(0)]);
    wire.extend(peer.request(1, "POST", "/", &[], true));
    peer.send(&wire);
    assert!(data_frames(&peer.take()).is_empty());
    peer.send(&settings(&[Setting::InitialWindowSize(1)]));
    assert_eq!(data_frames(&peer.take()), [b"h".to_vec()]);

    // Two values in one frame: the last holds.
    let mut peer = connect();
    let mut wire = settings(&[
        Setting::InitialWindowSize(100),
        Setting::InitialWindowSize(1),
    ]);
    wire.extend(peer.request(1, "POST", "/", &[], true));
    peer.send(&wire);
    assert_eq!(data_frames(&peer.take()), [b"h".to_vec()]);
}

/// §6.9.2: a window made negative by a smaller initial size comes back
/// with WINDOW_UPDATE, and exactly what it then allows is sent (httpwg
/// "sends settings frame for window size to be negative").
#[test]
fn a_window_made_negative_sends_only_once_positive() {
    let mut peer = connect();
    let mut wire = settings(&[Setting::InitialWindowSize(3)]);
    wire.extend(peer.request(1, "POST", "/", &[], true));
    peer.send(&wire);
    assert_eq!(data_frames(&peer.take()), [b"hel".to_vec()]);
    // 3 → 2: the window is -1.
    peer.send(&settings(&[Setting::InitialWindowSize(2)]));
    assert!(data_frames(&peer.take()).is_empty());
    peer.send(&frame(|buf| {
        encode_window_update(buf, StreamId::new(1).unwrap(), 2)
    }));
    assert_eq!(data_frames(&peer.take()), [b"l".to_vec()]);
}

/// A client granting a byte at a time cannot make the server write a
/// frame per byte without end: past 100 such frames a second, it is
/// calmed (Data Dribble, CVE-2019-9511).
#[test]
fn a_window_dribbled_a_byte_at_a_time_is_calmed() {
    let mut peer = connect();
    let mut wire = settings(&[Setting::InitialWindowSize(1)]);
    wire.extend(peer.request(1, "GET", "/large", &[], true));
    peer.send(&wire);
    assert_eq!(data_frames(&peer.take()).len(), 1);
    let update = frame(|buf| encode_window_update(buf, StreamId::new(1).unwrap(), 1));
    let mut sent = Vec::new();
    for _ in 0..100 {
        peer.send(&update);
        sent.extend(peer.take());
    }
    assert_eq!(data_frames(&sent).len(), 99);
    assert_eq!(goaway(&sent), Some((1, ErrorCode::EnhanceYourCalm)));
    let _ = LARGE;
}

/// §6.8: the client's GOAWAY (whatever its code) says it takes no new
/// stream from the server; its pings are still answered and its requests
/// served (httpwg "sends goaway frame with unknown error code").
#[test]
fn the_clients_goaway_leaves_the_connection_open() {
    let mut peer = connect();
    let mut wire =
        frame(|buf| encode_goaway(buf, StreamId::CONNECTION, ErrorCode::from_u32(0xff), &[]));
    wire.extend(frame(|buf| encode_ping(buf, *b"pingpong")));
    wire.extend(peer.request(1, "GET", "/", &[], true));
    peer.send(&wire);
    let sent = peer.take();
    assert_eq!(sent[0], Sent::PingAck(*b"pingpong"));
    assert_eq!(responses(&sent), [(1, "200".into(), b"hello".to_vec())]);
    assert!(!peer.conn.is_closed());
}

/// A client that shuts its side once its request is sent still gets the
/// frames already queued for it, whole; then the connection closes.
#[test]
fn a_client_that_shuts_its_side_gets_what_is_queued_whole() {
    let mut peer = connect();
    let request = peer.request(1, "GET", "/", &[], true);
    let buf = peer.conn.read_buf(&mut peer.bufs);
    buf[..request.len()].copy_from_slice(&request);
    let mut counters = Counters::default();
    let mut env = Env {
        handler: &Routes,
        local: &mut (),
        date: None,
        now: 0,
        counters: &mut counters,
        files: None,
        spill: None,
        deflate: None,
    };
    peer.conn
        .handle_read(request.len(), &mut peer.bufs, &mut env);
    peer.conn.handle_read_closed(&mut env);
    assert!(!peer.conn.is_closed(), "what is queued goes out first");
    assert_eq!(
        responses(&peer.take()),
        [(1, "200".into(), b"hello".to_vec())]
    );
    assert!(peer.conn.is_closed());
}
