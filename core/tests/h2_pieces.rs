//! The HTTP/2 server connection with buffers smaller than a frame of the
//! largest size: the driver's default pair (16,384 bytes each) and the
//! smallest the connection takes. Frames of every kind arrive whole and
//! one byte at a time and give the same result; limits hold at their
//! bound and fail one past it.

mod support;

use peregrine_core::h2::frame::{ErrorCode, Setting, StreamId, encode_ping, encode_settings};
use peregrine_core::h2::server::{MAX_CONTINUATIONS, MAX_HEADER_LIST_SIZE, MIN_READ, MIN_WRITE};
use support::h2::{LARGE, Peer, Sent, data, digest, frame, padded_data, raw_frame, responses};

/// The driver's default buffer pair.
const DEFAULT: usize = 16_384;

/// Runs `case` with the default buffers and the smallest, each whole
/// (as many bytes per read as the server takes) and one byte per read:
/// the frames the server sends must be the same.
macro_rules! both_sizes_both_ways {
    ($case:ident) => {{
        for (name, sent) in [
            (
                "default",
                [
                    $case::<DEFAULT, DEFAULT>(usize::MAX),
                    $case::<DEFAULT, DEFAULT>(1),
                ],
            ),
            (
                "minimum",
                [
                    $case::<MIN_READ, MIN_WRITE>(usize::MAX),
                    $case::<MIN_READ, MIN_WRITE>(1),
                ],
            ),
        ] {
            assert_eq!(sent[0], sent[1], "{name}: whole and byte by byte differ");
        }
    }};
}

/// HPACK: an integer with an `n`-bit prefix after `first`'s flag bits.
fn hpack_int(n: u32, first: u8, mut value: usize, out: &mut Vec<u8>) {
    let max = (1usize << n) - 1;
    if value < max {
        out.push(first | value as u8);
        return;
    }
    out.push(first | max as u8);
    value -= max;
    while value >= 128 {
        out.push((value % 128 + 128) as u8);
        value /= 128;
    }
    out.push(value as u8);
}

/// HPACK: a field literal without indexing, plain strings: no table
/// changes, and exactly the length it looks.
fn literal(name: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = vec![0x00];
    hpack_int(7, 0, name.len(), &mut out);
    out.extend_from_slice(name);
    hpack_int(7, 0, value.len(), &mut out);
    out.extend_from_slice(value);
    out
}

/// A block for `GET /` from the static table (`:method`, `:scheme`,
/// `:path`: a header list of 123 bytes), then `x-fill` with a value of
/// `fill` bytes.
fn get_with_fill(fill: usize) -> Vec<u8> {
    let mut block = vec![0x82, 0x86, 0x84];
    block.extend(literal(b"x-fill", &vec![b'f'; fill]));
    block
}

/// The header list size of [`get_with_fill`]'s block.
fn list_size(fill: usize) -> usize {
    123 + b"x-fill".len() + fill + 32
}

fn largest_data_frame<const R: usize, const W: usize>(piece: usize) -> Vec<Sent> {
    let mut peer = Peer::<R, W>::new(piece);
    // The largest padding leaves 16,128 bytes of data: with its head,
    // within the decoding area.
    let body: Vec<u8> = (0..16_128u32).map(|i| (i * 7 % 256) as u8).collect();
    let mut wire = peer.request(1, "POST", "/digest", &[("content-length", "16128")], false);
    let frame = padded_data(1, &body, 255, true);
    assert_eq!(frame.len(), 9 + 16_384);
    wire.extend(frame);
    wire.extend(peer.request(3, "GET", "/", &[], true));
    peer.send(&wire);
    let sent = peer.take();
    assert_eq!(
        responses(&sent),
        [
            (1, "200".into(), digest(&body)),
            (3, "200".into(), b"hello".to_vec())
        ],
        "{R}/{W} piece {piece}"
    );
    sent
}

#[test]
fn a_data_frame_of_the_largest_size_gives_the_same_body_whole_and_byte_by_byte() {
    both_sizes_both_ways!(largest_data_frame);
}

fn several_largest_data_frames<const R: usize, const W: usize>(piece: usize) -> Vec<Sent> {
    let mut peer = Peer::<R, W>::new(piece);
    let mut wire = peer.request(1, "POST", "/digest", &[("content-length", "49152")], false);
    for i in 0..3u8 {
        wire.extend(data(1, &[i; 16_384], i == 2));
    }
    wire.extend(peer.request(3, "GET", "/", &[], true));
    peer.send(&wire);
    let sent = peer.take();
    let head = |stream, status: &str, end_stream| Sent::Headers {
        stream,
        fields: vec![
            (":status".into(), status.into()),
            (
                "content-length".into(),
                if status == "413" { "0" } else { "5" }.into(),
            ),
        ],
        end_stream,
    };
    // Far from half of either window (1 MiB and 16 MiB): no update. The
    // body outgrew the decoding area: 413 once it ended.
    assert_eq!(
        sent,
        [
            head(1, "413", true),
            head(3, "200", false),
            Sent::Data {
                stream: 3,
                data: b"hello".to_vec(),
                end_stream: true
            },
        ],
        "{R}/{W} piece {piece}"
    );
    sent
}

#[test]
fn a_body_of_several_frames_of_the_largest_size_is_read_and_counted_alike() {
    both_sizes_both_ways!(several_largest_data_frames);
}

fn body_in_frames<const R: usize, const W: usize>(piece: usize) -> Vec<Sent> {
    let mut peer = Peer::<R, W>::new(piece);
    let body: Vec<u8> = (0..12_000u32).map(|i| (i % 253) as u8).collect();
    let mut wire = peer.request(1, "POST", "/digest", &[], false);
    for (i, part) in body.chunks(5_000).enumerate() {
        wire.extend(padded_data(1, part, (i * 40) as u8, false));
    }
    wire.extend(data(1, b"", true));
    peer.send(&wire);
    let sent = peer.take();
    assert_eq!(responses(&sent), [(1, "200".into(), digest(&body))]);
    sent
}

#[test]
fn a_body_in_padded_frames_is_gathered_alike() {
    both_sizes_both_ways!(body_in_frames);
}

#[test]
fn flow_control_counts_a_data_frame_when_its_header_arrives() {
    fn case<const R: usize, const W: usize>() {
        let mut peer = Peer::<R, W>::new(usize::MAX);
        let mut wire = peer.request(1, "POST", "/digest", &[], false);
        // 31 frames of 16 KiB: under half of the stream's 1 MiB window.
        for _ in 0..31 {
            wire.extend(data(1, &[1; 16_384], false));
        }
        peer.send(&wire);
        assert_eq!(peer.take(), [], "under half of each window: no update");
        // The next frame's header alone takes the stream's window to half:
        // its update comes before any of its data (the connection's 16 MiB
        // is far from half).
        let last = padded_data(1, &[2; 16_128], 255, false);
        assert_eq!(last.len(), 9 + 16_384);
        peer.send(&last[..10]);
        let update = [Sent::WindowUpdate {
            stream: 1,
            increment: 16_384 * 32,
        }];
        assert_eq!(peer.take(), update);
        peer.piece = 1;
        peer.send(&last[10..]);
        assert_eq!(peer.take(), []);
        peer.piece = usize::MAX;
        peer.send(&data(1, b"", true));
        assert_eq!(responses(&peer.take())[0].1, "413");
    }
    case::<DEFAULT, DEFAULT>();
    case::<MIN_READ, MIN_WRITE>();
}

#[test]
fn content_length_holds_at_its_bound_and_fails_one_past_it() {
    fn case<const R: usize, const W: usize>(piece: usize) {
        for extra in [0, 1] {
            let mut peer = Peer::<R, W>::new(piece);
            let mut wire = peer.request(1, "POST", "/digest", &[("content-length", "3000")], false);
            wire.extend(data(1, &[7; 2000], false));
            wire.extend(data(1, &vec![7; 1000 + extra], true));
            wire.extend(peer.request(3, "GET", "/", &[], true));
            peer.send(&wire);
            let sent = peer.take();
            if extra == 0 {
                assert_eq!(responses(&sent)[0], (1, "200".into(), digest(&[7; 3000])));
            } else {
                // Refused at the frame's header; the rest of it dropped
                // and the connection goes on.
                assert_eq!(
                    sent[0],
                    Sent::Reset {
                        stream: 1,
                        code: ErrorCode::ProtocolError
                    }
                );
            }
            assert_eq!(responses(&sent).last().unwrap().2, b"hello");
        }
    }
    for piece in [usize::MAX, 1] {
        case::<DEFAULT, DEFAULT>(piece);
        case::<MIN_READ, MIN_WRITE>(piece);
    }
}

#[test]
fn a_body_fills_the_decoding_area_exactly_and_one_more_byte_gets_413() {
    fn status<const R: usize, const W: usize>(len: usize, piece: usize) -> String {
        let mut peer = Peer::<R, W>::new(piece);
        let mut wire = peer.request(1, "POST", "/digest", &[], false);
        wire.extend(data(1, &vec![3; len], true));
        peer.send(&wire);
        responses(&peer.take())[0].1.clone()
    }
    // The head takes the start of the area: find the largest body.
    let (mut fits, mut too_long) = (0, peregrine_core::h2::server::AREA);
    while too_long - fits > 1 {
        let mid = (fits + too_long) / 2;
        if status::<DEFAULT, DEFAULT>(mid, usize::MAX) == "200" {
            fits = mid;
        } else {
            too_long = mid;
        }
    }
    assert!(fits > 16_000, "{fits}");
    for piece in [usize::MAX, 1] {
        assert_eq!(status::<DEFAULT, DEFAULT>(fits, piece), "200");
        assert_eq!(status::<DEFAULT, DEFAULT>(fits + 1, piece), "413");
        assert_eq!(status::<MIN_READ, MIN_WRITE>(fits, piece), "200");
        assert_eq!(status::<MIN_READ, MIN_WRITE>(fits + 1, piece), "413");
    }
}

fn largest_padded_headers<const R: usize, const W: usize>(piece: usize) -> Vec<Sent> {
    let mut peer = Peer::<R, W>::new(piece);
    // PADDED, PRIORITY, END_HEADERS, END_STREAM: pad length, priority
    // fields, a block of 16,123 bytes, 255 bytes of padding.
    let block = get_with_fill(16_109);
    assert_eq!(block.len(), 16_123);
    let mut payload = vec![255, 0, 0, 0, 0, 15];
    payload.extend(&block);
    payload.extend([0; 255]);
    let wire = raw_frame(0x1, 0x2d, 1, &payload);
    assert_eq!(wire.len(), 9 + 16_384);
    peer.send(&wire);
    let sent = peer.take();
    // Read to its end, and refused: its fields are over the header list
    // limit, and its block over half the decoding area.
    assert_eq!(
        sent,
        [Sent::GoAway {
            last: 0,
            code: ErrorCode::EnhanceYourCalm
        }],
        "{R}/{W} piece {piece}"
    );
    sent
}

#[test]
fn a_padded_headers_frame_of_the_largest_size_is_read_and_refused() {
    both_sizes_both_ways!(largest_padded_headers);
}

fn padded_headers<const R: usize, const W: usize>(piece: usize) -> Vec<Sent> {
    let mut peer = Peer::<R, W>::new(piece);
    let block = get_with_fill(2_000);
    let mut payload = vec![200, 0, 0, 0, 0, 15];
    payload.extend(&block);
    payload.extend([0; 200]);
    let mut wire = raw_frame(0x1, 0x2d, 1, &payload);
    assert!(wire.len() > MIN_READ);
    wire.extend(frame(|buf| encode_ping(buf, *b"after it")));
    peer.send(&wire);
    let sent = peer.take();
    assert_eq!(responses(&sent), [(1, "200".into(), b"hello".to_vec())]);
    assert_eq!(sent.last(), Some(&Sent::PingAck(*b"after it")));
    sent
}

#[test]
fn a_padded_headers_frame_with_priority_is_served_whole_and_in_pieces() {
    both_sizes_both_ways!(padded_headers);
}

#[test]
fn the_header_list_limit_holds_at_its_bound_and_fails_one_past_it() {
    fn case<const R: usize, const W: usize>(piece: usize) {
        let fill = MAX_HEADER_LIST_SIZE - list_size(0);
        assert_eq!(list_size(fill), MAX_HEADER_LIST_SIZE);
        for (extra, served) in [(0, true), (1, false)] {
            let mut peer = Peer::<R, W>::new(piece);
            let wire = raw_frame(0x1, 0x5, 1, &get_with_fill(fill + extra));
            peer.send(&wire);
            let sent = peer.take();
            // One past: answered 431 (§10.5.1), the connection going on.
            let status = if served { "200" } else { "431" };
            let body = if served { &b"hello"[..] } else { b"" };
            assert_eq!(responses(&sent), [(1, status.into(), body.to_vec())]);
        }
    }
    for piece in [usize::MAX, 1] {
        case::<DEFAULT, DEFAULT>(piece);
        case::<MIN_READ, MIN_WRITE>(piece);
    }
}

#[test]
fn a_block_over_the_most_continuations_arrives_in_pieces_and_one_more_is_calmed() {
    fn case<const R: usize, const W: usize>(piece: usize, continuations: usize) -> Vec<Sent> {
        let mut peer = Peer::<R, W>::new(piece);
        let block = get_with_fill(3_000);
        let size = block.len().div_ceil(continuations + 1);
        let mut pieces = block.chunks(size).peekable();
        let mut wire = raw_frame(0x1, 0x1, 1, pieces.next().unwrap());
        while let Some(fragment) = pieces.next() {
            let flags = if pieces.peek().is_none() { 0x4 } else { 0 };
            wire.extend(raw_frame(0x9, flags, 1, fragment));
        }
        peer.send(&wire);
        peer.take()
    }
    let most = MAX_CONTINUATIONS as usize;
    for piece in [usize::MAX, 1] {
        for sent in [
            case::<DEFAULT, DEFAULT>(piece, most),
            case::<MIN_READ, MIN_WRITE>(piece, most),
        ] {
            assert_eq!(responses(&sent), [(1, "200".into(), b"hello".to_vec())]);
        }
        for sent in [
            case::<DEFAULT, DEFAULT>(piece, most + 1),
            case::<MIN_READ, MIN_WRITE>(piece, most + 1),
        ] {
            assert_eq!(
                sent,
                [Sent::GoAway {
                    last: 0,
                    code: ErrorCode::EnhanceYourCalm
                }]
            );
        }
    }
}

fn many_settings<const R: usize, const W: usize>(piece: usize) -> Vec<Sent> {
    let mut peer = Peer::<R, W>::new(piece);
    // 2,730 parameters, 16,380 bytes: unknown ones, and the window
    // changing back and forth, ending at 5,000.
    let mut settings = Vec::new();
    for i in 0..2_729u32 {
        settings.push(match i % 3 {
            0 => Setting::InitialWindowSize(i * 10),
            1 => Setting::HeaderTableSize(4096),
            _ => Setting::MaxConcurrentStreams(i),
        });
    }
    settings.push(Setting::InitialWindowSize(5_000));
    let mut wire = frame(|buf| encode_settings(buf, &settings));
    assert_eq!(wire.len(), 9 + 16_380);
    // An unknown identifier in the middle.
    wire[9 + 6 * 100..9 + 6 * 100 + 2].copy_from_slice(&0xf0f0u16.to_be_bytes());
    let last = wire.pop().unwrap();
    peer.send(&wire);
    assert_eq!(peer.take(), [], "acknowledged after its last byte only");
    peer.send(&[last]);
    assert_eq!(peer.take(), [Sent::SettingsAck]);
    // The last window size is in force: a first DATA frame of 5,000.
    let request = peer.request(1, "GET", "/large", &[], true);
    peer.send(&request);
    let sent = peer.take();
    let Some(Sent::Data { data, .. }) = sent.get(1) else {
        panic!("{sent:?}");
    };
    assert_eq!(data[..], LARGE[..5_000]);
    sent
}

#[test]
fn a_settings_frame_of_many_parameters_applies_them_in_pieces() {
    both_sizes_both_ways!(many_settings);
}

#[test]
fn a_settings_value_holds_at_its_bound_and_fails_one_past_it() {
    fn case<const R: usize, const W: usize>(piece: usize) {
        let bound = (1u32 << 31) - 1;
        for (value, answer) in [
            (bound, Sent::SettingsAck),
            (
                bound + 1,
                Sent::GoAway {
                    last: 0,
                    code: ErrorCode::FlowControlError,
                },
            ),
        ] {
            let mut peer = Peer::<R, W>::new(piece);
            let mut payload = Vec::new();
            for _ in 0..1_000 {
                payload.extend(0x3u16.to_be_bytes());
                payload.extend(10u32.to_be_bytes());
            }
            payload.extend(0x4u16.to_be_bytes());
            payload.extend(value.to_be_bytes());
            peer.send(&raw_frame(0x4, 0, 0, &payload));
            assert_eq!(peer.take(), [answer], "{value}");
        }
    }
    for piece in [usize::MAX, 1] {
        case::<DEFAULT, DEFAULT>(piece);
        case::<MIN_READ, MIN_WRITE>(piece);
    }
}

fn unknown_frames<const R: usize, const W: usize>(piece: usize) -> Vec<Sent> {
    let mut peer = Peer::<R, W>::new(piece);
    let mut wire = raw_frame(0xfa, 0xff, 0, &[0x55; 16_384]);
    wire.extend(raw_frame(0xfa, 0, 1, &[0x66; 16_384]));
    wire.extend(frame(|buf| encode_ping(buf, *b"skipped!")));
    // One byte past the limit on a stream: that stream is reset, the frame
    // dropped as it comes.
    wire.extend(raw_frame(0xfb, 0, 1, &[0x77; 16_385]));
    wire.extend(frame(|buf| encode_ping(buf, *b"and past")));
    // GOAWAY with the largest debug data: skipped, and the connection
    // goes on (§6.8: it only says the client takes no new stream).
    let mut goaway = vec![0, 0, 0, 0, 0, 0, 0, 0];
    goaway.extend([0x44; 16_376]);
    wire.extend(raw_frame(0x7, 0, 0, &goaway));
    wire.extend(frame(|buf| encode_ping(buf, *b"draining")));
    peer.send(&wire);
    let sent = peer.take();
    assert_eq!(
        sent,
        [
            Sent::PingAck(*b"skipped!"),
            Sent::Reset {
                stream: 1,
                code: ErrorCode::FrameSizeError
            },
            Sent::PingAck(*b"and past"),
            Sent::PingAck(*b"draining"),
        ],
        "{R}/{W} piece {piece}"
    );
    sent
}

#[test]
fn unknown_frames_and_goaway_debug_data_of_the_largest_size_are_skipped() {
    both_sizes_both_ways!(unknown_frames);
}

#[test]
fn an_unknown_frame_past_the_limit_on_the_connection_ends_it() {
    let mut peer = Peer::<DEFAULT, DEFAULT>::new(1);
    peer.send(&raw_frame(0xfa, 0, 0, &[0; 16_385]));
    assert_eq!(
        peer.take(),
        [Sent::GoAway {
            last: 0,
            code: ErrorCode::FrameSizeError
        }]
    );
}

/// The answers (DATA frames of two streams interleave as the pieces
/// arrive: the bodies must be the same).
fn large_responses<const R: usize, const W: usize>(piece: usize) -> Vec<(u32, String, Vec<u8>)> {
    let mut peer = Peer::<R, W>::new(piece);
    let mut wire = frame(|buf| encode_settings(buf, &[Setting::InitialWindowSize(1 << 20)]));
    wire.extend(frame(|buf| {
        peregrine_core::h2::frame::encode_window_update(buf, StreamId::CONNECTION, 1 << 20)
    }));
    wire.extend(peer.request(1, "GET", "/large", &[], true));
    // A copied body of nearly half the write buffer: all the response
    // room of the smallest.
    let echo = vec![9; W / 2 - 200];
    wire.extend(peer.request(3, "POST", "/echo", &[], false));
    wire.extend(data(3, &echo, true));
    peer.send(&wire);
    let sent = peer.take();
    let answers = responses(&sent);
    assert_eq!(answers.len(), 2);
    assert!(answers[0] == (1, "200".into(), LARGE.to_vec()), "{R}/{W}");
    assert!(
        answers[1] == (3, "200".into(), echo),
        "{R}/{W}: {}",
        answers[1].2.len()
    );
    let frames = sent
        .iter()
        .filter(|s| matches!(s, Sent::Data { stream: 1, .. }))
        .count();
    assert!(frames >= LARGE.len() / 16_384, "{frames}");
    assert!(peer.largest_data <= 16_384);
    answers
}

#[test]
fn responses_larger_than_the_write_buffer_go_out_in_frames_byte_exact() {
    both_sizes_both_ways!(large_responses);
}

#[test]
fn a_response_head_larger_than_the_headroom_takes_the_place_of_its_http1_head() {
    fn case<const R: usize, const W: usize>(n: usize) {
        let mut peer = Peer::<R, W>::new(usize::MAX);
        let path = format!("/head/{n}");
        let request = peer.request(1, "GET", &path, &[], true);
        peer.send(&request);
        let sent = peer.take();
        let Some(Sent::Headers { fields, .. }) = sent.first() else {
            panic!("{sent:?}");
        };
        let large = fields.iter().find(|(name, _)| name == "x-large").unwrap();
        assert_eq!(large.1.len(), n);
        assert_eq!(responses(&sent)[0].2, b"head");
    }
    case::<DEFAULT, DEFAULT>(14_000);
    case::<MIN_READ, MIN_WRITE>(900);
}

#[test]
fn a_window_update_is_read_while_a_buffered_body_waits_for_window() {
    let mut peer = Peer::<DEFAULT, DEFAULT>::new(usize::MAX);
    // No window for the streams: the echoed body waits in the write
    // buffer, which it nearly fills.
    let mut wire = frame(|buf| encode_settings(buf, &[Setting::InitialWindowSize(0)]));
    wire.extend(peer.request(1, "POST", "/echo", &[], false));
    wire.extend(data(1, &[5; 14_800], true));
    peer.send(&wire);
    let sent = peer.take();
    assert_eq!(sent.len(), 2, "{sent:?}"); // SETTINGS ACK, HEADERS
    assert!(
        matches!(
            sent[1],
            Sent::Headers {
                end_stream: false,
                ..
            }
        ),
        "{sent:?}"
    );
    peer.send(&frame(|buf| {
        peregrine_core::h2::frame::encode_window_update(buf, StreamId::new(1).unwrap(), 20_000)
    }));
    let sent = peer.take();
    assert_eq!(responses_of(&sent), vec![5; 14_800]);
}

/// The DATA payloads of `sent`, joined.
fn responses_of(sent: &[Sent]) -> Vec<u8> {
    sent.iter()
        .filter_map(|s| match s {
            Sent::Data { data, .. } => Some(data.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}
