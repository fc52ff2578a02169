//! Request bodies over HTTP/2 as the handler's `body_policy` says:
//! bodies streamed to `body_chunk` on many streams at once, each piece
//! with its request (whose head stays in the decoding area until its body
//! ends, within `KEPT_MAX`); kept heads leaving in any order, a body
//! gathered after them moving with them; ignored bodies answered
//! at once; an upload cut short reported to `finished`.

mod support;

use std::sync::Mutex;

use peregrine_core::h2::frame::{ErrorCode, StreamId, encode_rst_stream};
use peregrine_core::h2::server::KEPT_MAX;
use peregrine_core::{BodyPolicy, Finished, Handler, Outcome, Request, Response};
use support::h2::{Peer, Sent, data, digest, fnv, frame, response_of, was_reset};

/// The driver's default buffer pair.
const DEFAULT: usize = 16_384;

/// FNV-1a's offset basis: the hash of nothing.
const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

/// `/stream` hashes its body piece by piece into its tag and answers
/// the `x-name` it was sent with and the hash; `/ignore` answers at once
/// without its body; `/digest` gathers its body whole; `/tag` answers the
/// tag a request starts with.
#[derive(Default)]
struct Uploads {
    /// What `finished` was told.
    finished: Mutex<Vec<Finished>>,
}

impl Handler for Uploads {
    fn body_policy(&self, request: &Request<'_>) -> BodyPolicy {
        match request.path() {
            b"/stream" => BodyPolicy::Stream,
            b"/ignore" => BodyPolicy::Ignore,
            _ => BodyPolicy::Buffer,
        }
    }

    fn body_chunk(&self, request: &Request<'_>, chunk: &[u8], tag: &mut u64, _: &mut ()) {
        // Every piece comes with its request, whole.
        assert_eq!(request.path(), b"/stream");
        assert!(request.header("x-name").is_some());
        let start = if *tag == 0 { FNV_START } else { *tag };
        *tag = chunk.iter().fold(start, |hash, &b| {
            (hash ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
    }

    fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
        match request.path() {
            b"/stream" => {
                let name = String::from_utf8_lossy(request.header("x-name").unwrap_or_default());
                let hash = if response.tag() == 0 {
                    FNV_START
                } else {
                    response.tag()
                };
                let _ = response.body(format!("{name} {hash:016x}").as_bytes());
            }
            b"/ignore" => response.body_static(b"ignored"),
            b"/digest" => {
                let _ = response.body(&digest(request.body()));
            }
            b"/tag" => {
                let _ = response.body(response.tag().to_string().as_bytes());
            }
            _ => {
                response.status(peregrine_core::StatusCode::NOT_FOUND);
            }
        }
    }

    fn finished(&self, finished: Finished, _: &mut ()) {
        self.finished.lock().unwrap().push(finished);
    }
}

/// Piece `round` of stream `stream`'s body: 16 KiB of bytes that differ
/// from stream to stream and round to round.
fn piece(stream: u32, round: u32) -> Vec<u8> {
    (0..16_384u32)
        .map(|i| (i.wrapping_mul(31) ^ stream.wrapping_mul(7) ^ round) as u8)
        .collect()
}

/// What `/stream` answers for the body `body` sent with `name`.
fn answer(name: &str, body: &[u8]) -> Vec<u8> {
    format!("{name} {:016x}", fnv(body)).into_bytes()
}

/// A `/stream` request on `stream` named `name`, its body to follow.
fn upload(peer: &mut Peer<DEFAULT, DEFAULT, Uploads>, stream: u32, name: &str) -> Vec<u8> {
    peer.request(stream, "POST", "/stream", &[("x-name", name)], false)
}

#[test]
fn streamed_bodies_of_many_streams_at_once_reach_the_handler_in_order() {
    for piece_len in [DEFAULT, 1000] {
        let mut peer =
            Peer::<DEFAULT, DEFAULT, Uploads>::with_handler(Uploads::default(), piece_len);
        let streams: Vec<u32> = (0..20).map(|i| 2 * i + 1).collect();
        for &stream in &streams {
            let headers = upload(&mut peer, stream, &format!("s{stream}"));
            peer.send(&headers);
        }
        // 1 MiB each, the streams' frames interleaved.
        let mut bodies = vec![Vec::new(); streams.len()];
        for round in 0..64 {
            for (i, &stream) in streams.iter().enumerate() {
                let bytes = piece(stream, round);
                peer.send(&data(stream, &bytes, false));
                bodies[i].extend_from_slice(&bytes);
            }
        }
        let sent = peer.take();
        assert!(
            !sent
                .iter()
                .any(|f| matches!(f, Sent::Reset { .. } | Sent::GoAway { .. })),
            "{sent:?}"
        );
        // Ended in another order than begun.
        for &stream in streams.iter().rev() {
            peer.send(&data(stream, b"", true));
        }
        let sent = peer.take();
        for (i, &stream) in streams.iter().enumerate() {
            let (status, body) = response_of(&sent, stream).expect("answered");
            assert_eq!(status, "200");
            assert_eq!(
                body,
                answer(&format!("s{stream}"), &bodies[i]),
                "stream {stream}"
            );
        }
        assert_eq!(peer.conn.open_streams(), 0);
    }
}

#[test]
fn kept_heads_are_bounded_and_released_in_any_order() {
    let mut peer = Peer::<DEFAULT, DEFAULT, Uploads>::with_handler(Uploads::default(), DEFAULT);
    // Heads of about 600 bytes: a handful fit the kept area.
    let name = |stream: u32| format!("{stream:04}{}", "n".repeat(596));
    let mut kept = Vec::new();
    let mut stream = 1;
    let refused = loop {
        let headers = upload(&mut peer, stream, &name(stream));
        peer.send(&headers);
        let sent = peer.take();
        if was_reset(&sent, stream, ErrorCode::RefusedStream) {
            break stream;
        }
        assert!(sent.is_empty(), "{sent:?}");
        kept.push(stream);
        stream += 2;
        assert!(stream < 200, "never refused");
    };
    assert!(kept.len() >= 3, "{} kept", kept.len());
    assert!(kept.len() * 600 <= KEPT_MAX);
    // Some of each body, then the streams end: the middle one first,
    // then the first, and the rest in order.
    let mut bodies = std::collections::HashMap::new();
    for &stream in &kept {
        peer.send(&data(stream, &piece(stream, 0), false));
        bodies.insert(stream, piece(stream, 0));
    }
    let middle = kept[kept.len() / 2];
    let order: Vec<u32> = std::iter::once(middle)
        .chain(kept.iter().copied().filter(|&s| s != middle))
        .collect();
    for (n, &stream) in order.iter().enumerate() {
        // Those left get more after each release: their heads moved.
        for &other in &order[n..] {
            let more = piece(other, n as u32 + 1);
            peer.send(&data(other, &more, false));
            bodies.get_mut(&other).unwrap().extend_from_slice(&more);
        }
        peer.send(&data(stream, b"tail", true));
        let sent = peer.take();
        let mut body = bodies.remove(&stream).unwrap();
        body.extend_from_slice(b"tail");
        let (status, answered) = response_of(&sent, stream).expect("answered");
        assert_eq!(status, "200");
        assert_eq!(answered, answer(&name(stream), &body), "stream {stream}");
    }
    // All released: a stream is kept again.
    let next = refused + 2;
    let headers = upload(&mut peer, next, "again");
    peer.send(&headers);
    peer.send(&data(next, b"x", true));
    let sent = peer.take();
    assert_eq!(response_of(&sent, next).unwrap().1, answer("again", b"x"));
}

#[test]
fn a_body_gathered_after_kept_heads_moves_with_them() {
    let mut peer = Peer::<DEFAULT, DEFAULT, Uploads>::with_handler(Uploads::default(), 1000);
    let headers = upload(&mut peer, 1, "first");
    peer.send(&headers);
    let headers = peer.request(3, "POST", "/digest", &[], false);
    peer.send(&headers);
    let gathered: Vec<u8> = (0..6000u32).map(|i| (i % 253) as u8).collect();
    peer.send(&data(3, &gathered[..2500], false));
    // Another upload while a body is gathered after the kept heads: its
    // head is kept, the gathered body moving up.
    let headers = upload(&mut peer, 5, "second");
    peer.send(&headers);
    peer.send(&data(3, &gathered[2500..4000], false));
    peer.send(&data(5, b"two", false));
    assert!(peer.take().is_empty());
    // The first kept head leaves; the others move down.
    peer.send(&data(1, b"one", true));
    let sent = peer.take();
    assert_eq!(response_of(&sent, 1).unwrap().1, answer("first", b"one"));
    peer.send(&data(3, &gathered[4000..], true));
    let sent = peer.take();
    assert_eq!(response_of(&sent, 3).unwrap().1, digest(&gathered));
    peer.send(&data(5, b"!", true));
    let sent = peer.take();
    assert_eq!(response_of(&sent, 5).unwrap().1, answer("second", b"two!"));
    // A second body to gather without a content-length while one grows
    // without one: refused, for the client to send again.
    let headers = peer.request(7, "POST", "/digest", &[], false);
    peer.send(&headers);
    let headers = peer.request(9, "POST", "/digest", &[], false);
    peer.send(&headers);
    assert!(was_reset(&peer.take(), 9, ErrorCode::RefusedStream));
}

#[test]
fn ignored_bodies_are_answered_at_once_and_dropped() {
    let mut peer = Peer::<DEFAULT, DEFAULT, Uploads>::with_handler(Uploads::default(), DEFAULT);
    let headers = peer.request(1, "POST", "/ignore", &[], false);
    peer.send(&headers);
    let sent = peer.take();
    assert_eq!(
        response_of(&sent, 1).unwrap(),
        ("200".to_owned(), b"ignored".to_vec())
    );
    peer.send(&data(1, &piece(1, 0), false));
    peer.send(&data(1, &piece(1, 1), true));
    let sent = peer.take();
    assert!(
        !sent
            .iter()
            .any(|f| matches!(f, Sent::Reset { .. } | Sent::GoAway { .. })),
        "{sent:?}"
    );
    assert_eq!(peer.conn.open_streams(), 0);
    let headers = peer.request(3, "GET", "/tag", &[], true);
    peer.send(&headers);
    assert_eq!(response_of(&peer.take(), 3).unwrap().1, b"0");
}

#[test]
fn an_upload_cut_short_reports_its_tag_and_frees_its_head() {
    let mut peer = Peer::<DEFAULT, DEFAULT, Uploads>::with_handler(Uploads::default(), DEFAULT);
    let headers = upload(&mut peer, 1, "cut");
    peer.send(&headers);
    let bytes = piece(1, 0);
    peer.send(&data(1, &bytes, false));
    let reset = frame(|buf| encode_rst_stream(buf, StreamId::new(1).unwrap(), ErrorCode::Cancel));
    peer.send(&reset);
    let finished = peer.handler.finished.lock().unwrap().clone();
    assert_eq!(finished.len(), 1);
    assert_eq!(finished[0].tag, fnv(&bytes));
    assert_eq!(finished[0].outcome, Outcome::Aborted);
    assert_eq!(peer.conn.open_streams(), 0);
    // Its head is gone from the area: as many uploads fit as before.
    for stream in [3, 5, 7] {
        let headers = upload(&mut peer, stream, "next");
        peer.send(&headers);
        peer.send(&data(stream, b"n", true));
    }
    let sent = peer.take();
    for stream in [3, 5, 7] {
        assert_eq!(response_of(&sent, stream).unwrap().1, answer("next", b"n"));
    }
}

#[test]
fn a_request_starts_with_tag_zero() {
    let mut peer = Peer::<DEFAULT, DEFAULT, Uploads>::with_handler(Uploads::default(), DEFAULT);
    for stream in [1, 3, 5] {
        let headers = peer.request(stream, "GET", "/tag", &[], true);
        peer.send(&headers);
        assert_eq!(response_of(&peer.take(), stream).unwrap().1, b"0");
    }
}
