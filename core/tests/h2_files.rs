//! File bodies over HTTP/2 whose file turns out shorter than its region,
//! through the server connection alone: the regions are sent from
//! simulated files of chosen lengths, and a region past a file's end
//! sends nothing, as `sendfile` does. Only that stream ends: the frame in
//! flight is completed with zeros, the body's frames queued behind it go
//! out empty (their window given back to the connection), its END_STREAM
//! is taken back, and the stream is reset with INTERNAL_ERROR; the other
//! streams arrive whole and the connection goes on.

mod support;

use std::sync::Mutex;

use peregrine_core::h2::frame::{
    ErrorCode, Setting, StreamId, encode_settings, encode_window_update,
};
use peregrine_core::{FileRegion, Finished, Handler, Outcome, Request, Response};
use support::file_bytes;
use support::h2::{Peer, Sent, frame, response_of, was_reset};

/// The driver's default buffer pair.
const DEFAULT: usize = 16_384;

/// The tag of every file response.
const TAG: u64 = 5;

/// `/file/H/N` sends N bytes of the simulated file H from its start, a
/// kept region tagged [`TAG`]; anything else says hello. Records what
/// `finished` is told.
#[derive(Default)]
struct Files {
    /// (stream, tag, outcome) of each response reported.
    ended: Mutex<Vec<(u32, u64, Outcome)>>,
}

impl Handler for Files {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
        let path = std::str::from_utf8(request.path()).unwrap();
        if let Some(rest) = path.strip_prefix("/file/") {
            let (handle, len) = rest.split_once('/').unwrap();
            let (handle, len) = (handle.parse().unwrap(), len.parse().unwrap());
            // SAFETY: the simulated files are never closed.
            let region = unsafe { FileRegion::kept(handle, 0, len) };
            response.set_tag(TAG).send_file_region(region);
        } else {
            response.body_static(b"hello");
        }
    }

    fn finished(&self, finished: Finished, _: &mut ()) {
        let stream = finished.id.stream();
        self.ended
            .lock()
            .unwrap()
            .push((stream, finished.tag, finished.outcome));
    }
}

/// A connection serving [`Files`] whose client lets each stream take
/// 1 MiB, and the connection `window` bytes in all.
fn peer(window: u32) -> Peer<DEFAULT, DEFAULT, Files> {
    let mut peer = Peer::with_handler(Files::default(), usize::MAX);
    let mut wire = frame(|buf| encode_settings(buf, &[Setting::InitialWindowSize(1 << 20)]));
    if window > 65_535 {
        wire.extend(frame(|buf| {
            encode_window_update(buf, StreamId::CONNECTION, window - 65_535)
        }));
    }
    peer.send(&wire);
    assert_eq!(peer.take(), [Sent::SettingsAck]);
    peer
}

/// The frames of `sent` on `stream`.
fn on(sent: &[Sent], stream: u32) -> Vec<&Sent> {
    sent.iter()
        .filter(|frame| match frame {
            Sent::Headers { stream: s, .. }
            | Sent::Data { stream: s, .. }
            | Sent::Reset { stream: s, .. } => *s == stream,
            _ => false,
        })
        .collect()
}

/// `stream`'s body among `sent` was cut short at `cut` bytes of file
/// `handle`: those bytes, zeros to the end of the frame in flight (fewer
/// than `frame`), never END_STREAM, and the reset last.
#[track_caller]
fn cut_at(sent: &[Sent], stream: u32, handle: u64, cut: usize, frame: usize) {
    let frames = on(sent, stream);
    assert_eq!(
        frames.last(),
        Some(&&Sent::Reset {
            stream,
            code: ErrorCode::InternalError
        }),
        "{frames:?}"
    );
    assert!(
        !frames.iter().any(|f| matches!(
            f,
            Sent::Data {
                end_stream: true,
                ..
            }
        )),
        "a body cut short ended its stream"
    );
    let (status, body) = response_of(sent, stream).unwrap();
    assert_eq!(status, "200");
    assert!(body[..cut] == file_bytes(handle, 0, cut as u64)[..]);
    assert!(body[cut..].iter().all(|&b| b == 0) && body.len() - cut < frame);
}

#[test]
fn a_file_cut_short_resets_its_stream_alone_and_the_others_go_on() {
    let mut peer = peer(16 << 20);
    peer.file_lens = vec![(1, 100_000)];
    let mut wire = peer.request(1, "GET", "/file/1/200000", &[], true);
    wire.extend(peer.request(3, "GET", "/file/2/150000", &[], true));
    wire.extend(peer.request(5, "GET", "/", &[], true));
    peer.send(&wire);
    let sent = peer.take();
    cut_at(&sent, 1, 1, 100_000, 16_384);
    assert!(
        response_of(&sent, 3) == Some(("200".into(), file_bytes(2, 0, 150_000))),
        "the whole file"
    );
    assert_eq!(
        on(&sent, 3).last(),
        Some(&&Sent::Data {
            stream: 3,
            data: Vec::new(),
            end_stream: true
        }),
        "a file body ends with an empty frame"
    );
    assert_eq!(
        response_of(&sent, 5),
        Some(("200".into(), b"hello".to_vec()))
    );
    assert!(!sent.iter().any(|f| matches!(f, Sent::GoAway { .. })));
    assert_eq!(peer.counters.files_cut_short, 1);
    let mut ended = peer.handler.ended.lock().unwrap().clone();
    ended.sort_unstable_by_key(|end| end.0);
    assert_eq!(ended, [(1, TAG, Outcome::Aborted), (3, TAG, Outcome::Sent)]);
    for handle in [1, 2] {
        let released = peer.keeper.released.iter();
        assert_eq!(released.filter(|r| r.handle() == handle).count(), 1);
    }
    // The connection goes on.
    let request = peer.request(7, "GET", "/file/2/1000", &[], true);
    peer.send(&request);
    assert!(response_of(&peer.take(), 7) == Some(("200".into(), file_bytes(2, 0, 1000))));
}

#[test]
fn the_frames_queued_behind_the_cut_go_out_empty_and_give_their_window_back() {
    // The connection's window as the client opened it: 65,535 bytes, no
    // more ever granted.
    let mut peer = peer(65_535);
    peer.file_lens = vec![(1, 20_000)];
    let request = peer.request(1, "GET", "/file/1/60000", &[], true);
    peer.send(&request);
    let sent = peer.take();
    // All 60,000 bytes were queued in four frames before the second found
    // the end of the file: it is completed with zeros, the two behind it
    // go out empty, and so does the END_STREAM frame, taken back.
    cut_at(&sent, 1, 1, 20_000, 16_384);
    let (_, body) = response_of(&sent, 1).unwrap();
    assert_eq!(body.len(), 32_768);
    let empty = on(&sent, 1)
        .into_iter()
        .filter(|f| matches!(f, Sent::Data { data, .. } if data.is_empty()))
        .count();
    assert_eq!(empty, 3, "{sent:?}");
    assert_eq!(peer.keeper.released.len(), 1);
    // What the two frames took of the connection's window came back: the
    // 32,767 bytes the client still grants all go out.
    let request = peer.request(3, "GET", "/file/2/32767", &[], true);
    peer.send(&request);
    let sent = peer.take();
    let (status, body) = response_of(&sent, 3).unwrap();
    assert_eq!((status.as_str(), body.len()), ("200", 32_767));
    assert!(body == file_bytes(2, 0, 32_767));
    assert!(!was_reset(&sent, 3, ErrorCode::InternalError));
}
