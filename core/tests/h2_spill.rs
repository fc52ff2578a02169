//! Written bodies that outgrow the write buffer over HTTP/2: what did not
//! fit goes to the spill, and the stream sends the part in the buffer,
//! then the spilled blocks, as the windows and the room allow, giving
//! every block back once copied, or when the stream or the connection
//! ends first.

mod support;

use peregrine_core::h2::frame::{
    ErrorCode, Setting, StreamId, encode_rst_stream, encode_settings, encode_window_update,
};
use peregrine_core::spill::SpillArea;
use peregrine_core::{Handler, Request, Response};
use support::h2::{Peer, Sent, frame, responses};

/// The driver's buffer pair: 16 KiB each.
const BUF: usize = 16_384;

/// Byte `i` of every body.
fn byte(i: usize) -> u8 {
    (i * 7 % 251) as u8
}

/// The first `len` bytes of every body.
fn body(len: usize) -> Vec<u8> {
    (0..len).map(byte).collect()
}

/// `/w/N` writes N bytes with [`Response::writer`], in pieces of 1000.
struct Written;

impl Handler for Written {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
        let path = std::str::from_utf8(request.path()).unwrap();
        let len: usize = path.strip_prefix("/w/").unwrap().parse().unwrap();
        let bytes = body(len);
        let mut writer = response.writer();
        for piece in bytes.chunks(1000) {
            if writer.append(piece).is_err() {
                return;
            }
        }
    }
}

/// A connection lending a spill of `blocks` blocks of 1 KiB.
fn peer(blocks: usize) -> Peer<BUF, BUF, Written> {
    let mut peer = Peer::with_handler(Written, usize::MAX);
    peer.spill = Some(SpillArea::new(vec![0; blocks * 1024], 1024));
    peer
}

/// Blocks the spill lends out.
fn in_use(peer: &Peer<BUF, BUF, Written>) -> u32 {
    peer.spill.as_ref().unwrap().in_use()
}

/// The client sets every stream's initial window to `window`.
fn stream_window(peer: &mut Peer<BUF, BUF, Written>, window: u32) {
    let settings = frame(|buf| encode_settings(buf, &[Setting::InitialWindowSize(window)]));
    peer.send(&settings);
    assert_eq!(peer.take(), [Sent::SettingsAck]);
}

/// The client asks for `/w/len` on `stream`; the frames the server sent.
fn get(peer: &mut Peer<BUF, BUF, Written>, stream: u32, len: usize) -> Vec<Sent> {
    let request = peer.request(stream, "GET", &format!("/w/{len}"), &[], true);
    peer.send(&request);
    peer.take()
}

/// No frame in `sent` resets a stream.
fn no_resets(sent: &[Sent]) {
    assert!(
        !sent.iter().any(|frame| matches!(frame, Sent::Reset { .. })),
        "{sent:?}"
    );
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

#[test]
fn a_written_body_of_40_kb_arrives_whole_past_a_16_kib_buffer() {
    let mut peer = peer(64);
    let sent = get(&mut peer, 1, 40_000);
    no_resets(&sent);
    assert_eq!(responses(&sent), [(1, "200".into(), body(40_000))]);
    let frames = data_frames(&sent, 1);
    assert!(frames.len() > 2, "{frames:?}");
    assert!(frames[..frames.len() - 1].iter().all(|&(_, end)| !end));
    assert_eq!(frames.last().map(|&(_, end)| end), Some(true));
    assert!(peer.largest_data <= 16_384);
    assert_eq!(in_use(&peer), 0);
    assert_eq!(peer.conn.open_streams(), 0);
    // The connection goes on.
    let sent = get(&mut peer, 3, 100);
    assert_eq!(responses(&sent), [(3, "200".into(), body(100))]);
}

#[test]
fn eight_streams_of_8_kb_at_once_all_arrive_whole() {
    let mut peer = peer(64);
    let mut wire = Vec::new();
    for stream in (1..=15).step_by(2) {
        wire.extend(peer.request(stream, "GET", "/w/8000", &[], true));
    }
    peer.send(&wire);
    let sent = peer.take();
    no_resets(&sent);
    let mut got = responses(&sent);
    got.sort_by_key(|(stream, ..)| *stream);
    let want: Vec<_> = (1..=15)
        .step_by(2)
        .map(|stream| (stream, "200".to_string(), body(8000)))
        .collect();
    assert_eq!(got, want);
    assert_eq!(in_use(&peer), 0);
    assert_eq!(peer.conn.open_streams(), 0);
}

#[test]
fn a_slow_window_gets_the_body_in_frames_within_it() {
    let mut peer = peer(64);
    stream_window(&mut peer, 1_500);
    let sent = get(&mut peer, 1, 40_000);
    no_resets(&sent);
    let mut got = responses(&sent)[0].2.clone();
    assert_eq!(got.len(), 1_500);
    assert!(in_use(&peer) > 0);
    let mut updates = 0;
    loop {
        let update = frame(|buf| encode_window_update(buf, StreamId::new(1).unwrap(), 1_500));
        peer.send(&update);
        let sent = peer.take();
        no_resets(&sent);
        let frames = data_frames(&sent, 1);
        assert!((1..=2).contains(&frames.len()), "{sent:?}");
        assert!(frames.iter().all(|&(len, _)| len > 0 && len <= 1_500));
        for frame in &sent {
            if let Sent::Data { data, .. } = frame {
                got.extend_from_slice(data);
            }
        }
        updates += 1;
        if frames.iter().any(|&(_, end)| end) {
            break;
        }
        assert!(updates < 100, "the body never ended");
    }
    assert_eq!(got, body(40_000));
    assert_eq!(in_use(&peer), 0);
    assert_eq!(peer.conn.open_streams(), 0);
}

#[test]
fn a_client_reset_midway_gives_every_block_back() {
    let mut peer = peer(64);
    stream_window(&mut peer, 4_096);
    let sent = get(&mut peer, 1, 40_000);
    no_resets(&sent);
    assert_eq!(responses(&sent)[0].2, body(4_096));
    assert!(in_use(&peer) > 0);
    let reset = frame(|buf| encode_rst_stream(buf, StreamId::new(1).unwrap(), ErrorCode::Cancel));
    peer.send(&reset);
    assert_eq!(in_use(&peer), 0);
    assert_eq!(peer.conn.open_streams(), 0);
    // A late WINDOW_UPDATE for it opens nothing; the connection goes on.
    let update = frame(|buf| encode_window_update(buf, StreamId::new(1).unwrap(), 1 << 20));
    peer.send(&update);
    assert!(peer.take().is_empty());
    let sent = get(&mut peer, 3, 3_000);
    assert_eq!(responses(&sent), [(3, "200".into(), body(3_000))]);
}

#[test]
fn a_body_waiting_for_window_gives_its_blocks_back_at_retire() {
    let mut peer = peer(64);
    stream_window(&mut peer, 4_096);
    let sent = get(&mut peer, 1, 40_000);
    no_resets(&sent);
    assert!(in_use(&peer) > 0);
    peer.retire();
    assert_eq!(in_use(&peer), 0);
}

#[test]
fn a_body_larger_than_buffer_and_spill_is_answered_500() {
    // 4 blocks: about 4 KB past the buffer.
    let mut peer = peer(4);
    let sent = get(&mut peer, 1, 40_000);
    let got = responses(&sent);
    assert_eq!(got.len(), 1, "{sent:?}");
    assert_eq!(got[0].1, "500");
    assert_eq!(in_use(&peer), 0);
    // One that fits them both is sent whole.
    let sent = get(&mut peer, 3, 17_000);
    no_resets(&sent);
    assert_eq!(responses(&sent), [(3, "200".into(), body(17_000))]);
    assert_eq!(in_use(&peer), 0);
}
