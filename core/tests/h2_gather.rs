//! Request bodies gathered whole over HTTP/2 (`BodyPolicy::Buffer`) on
//! many streams of one connection at once: each kept in the decoding
//! area after a record of its head, those with a `content-length` in
//! room set aside as their head arrives, the one without growing at the
//! end of the area. Their DATA frames interleaved (a byte at a time
//! too), streams reset in the middle, streamed bodies' heads coming and
//! going between them: every body reaches its handler intact. Limits: a
//! body that does not fit beside the others now is refused with
//! REFUSED_STREAM, one that can never fit is answered `413`, a second
//! body without `content-length` while one grows is refused. A handler
//! that panics over a gathered body leaves the area to the others.

mod support;

use peregrine_core::h2::frame::{ErrorCode, StreamId, encode_rst_stream};
use peregrine_core::h2::server::{AREA, MIN_READ, MIN_WRITE};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;

use peregrine_core::{BodyPolicy, Config, Handler, Request, Response};
use support::h2::{Peer, Sent, data, digest, fnv, frame, response_of, was_reset};

/// The driver's default buffer pair.
const DEFAULT: usize = 16_384;

/// `/echo` gathers its body whole and sends it back, `/digest` answers
/// its length and hash (for bodies larger than the write buffer); `/stream` hands
/// its body to `body_chunk` piece by piece, hashing it into its tag, and
/// answers the hash; `/panic` gathers its body and panics; `/` says
/// hello.
struct Bodies;

/// FNV-1a's offset basis: the hash of nothing.
const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

impl Handler for Bodies {
    fn body_policy(&self, request: &Request<'_>) -> BodyPolicy {
        match request.path() {
            b"/stream" => BodyPolicy::Stream,
            _ => BodyPolicy::Buffer,
        }
    }

    fn body_chunk(&self, request: &Request<'_>, chunk: &[u8], tag: &mut u64, _: &mut ()) {
        assert_eq!(request.path(), b"/stream");
        let start = if *tag == 0 { FNV_START } else { *tag };
        *tag = chunk.iter().fold(start, |hash, &b| {
            (hash ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
    }

    fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
        match request.path() {
            b"/echo" => {
                // The request is whole: its fields too.
                let name = request.header("x-name").unwrap_or_default().to_vec();
                let _ = response.header("x-name", name);
                let _ = response.body(request.body());
            }
            b"/digest" => {
                let _ = response.body(&digest(request.body()));
            }
            b"/panic" => panic!("the handler failed"),
            b"/stream" => {
                let hash = if response.tag() == 0 {
                    FNV_START
                } else {
                    response.tag()
                };
                response.set_tag(0);
                let _ = response.body(format!("{hash:016x}").as_bytes());
            }
            _ => response.body_static(b"hello"),
        }
    }
}

/// The body stream `stream` sends, `len` bytes: different from stream
/// to stream.
fn body(stream: u32, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(13).wrapping_add(stream * 101) as u8)
        .collect()
}

/// What `/stream` answers for `body`.
fn hashed(body: &[u8]) -> Vec<u8> {
    format!("{:016x}", fnv(body)).into_bytes()
}

/// HEADERS of a POST to `/echo` on `stream` named after it, with a
/// `content-length` of `len` if given.
fn echo<const R: usize, const W: usize>(
    peer: &mut Peer<R, W, Bodies>,
    stream: u32,
    len: Option<usize>,
) -> Vec<u8> {
    post(peer, "/echo", stream, len)
}

/// HEADERS of a POST to `path` on `stream` named after it, with a
/// `content-length` of `len` if given.
fn post<const R: usize, const W: usize>(
    peer: &mut Peer<R, W, Bodies>,
    path: &str,
    stream: u32,
    len: Option<usize>,
) -> Vec<u8> {
    let name = format!("s{stream}");
    let length = len.map(|len| len.to_string());
    let mut extra = vec![("x-name", name.as_str())];
    if let Some(length) = &length {
        extra.push(("content-length", length.as_str()));
    }
    peer.request(stream, "POST", path, &extra, false)
}

/// No stream reset, no GOAWAY.
fn all_well(sent: &[Sent]) {
    assert!(
        !sent
            .iter()
            .any(|f| matches!(f, Sent::Reset { .. } | Sent::GoAway { .. })),
        "{sent:?}"
    );
}

/// The DATA frames of `bodies` (stream, body), interleaved: a piece of
/// each in turn, the pieces' lengths cycling through `pieces`; each
/// body's last frame ends its stream.
fn interleaved(bodies: &[(u32, Vec<u8>)], pieces: &[usize]) -> Vec<u8> {
    let mut sent = vec![0; bodies.len()];
    let mut wire = Vec::new();
    let mut turn = 0;
    while sent.iter().zip(bodies).any(|(&n, (_, b))| n <= b.len()) {
        for (i, (stream, bytes)) in bodies.iter().enumerate() {
            if sent[i] > bytes.len() {
                continue;
            }
            let len = pieces[turn % pieces.len()].min(bytes.len() - sent[i]);
            turn += 1;
            let end = sent[i] + len == bytes.len();
            wire.extend(data(*stream, &bytes[sent[i]..sent[i] + len], end));
            // Past the end once the last frame is out.
            sent[i] += if end { len + 1 } else { len };
        }
    }
    wire
}

/// Each stream of `bodies` was answered `200` with its own body.
fn echoed(sent: &[Sent], bodies: &[(u32, Vec<u8>)]) {
    for (stream, bytes) in bodies {
        let (status, answered) = response_of(sent, *stream).expect("answered");
        assert_eq!(status, "200", "stream {stream}");
        assert!(
            answered == *bytes,
            "the body of stream {stream} differs: {} bytes, not {}; first difference at {:?}",
            answered.len(),
            bytes.len(),
            answered.iter().zip(bytes).position(|(a, b)| a != b)
        );
    }
}

/// Each stream of `bodies` was answered `200` with its own body's
/// digest.
fn digested(sent: &[Sent], bodies: &[(u32, Vec<u8>)]) {
    for (stream, bytes) in bodies {
        let answered = response_of(sent, *stream);
        assert_eq!(
            answered,
            Some(("200".into(), digest(bytes))),
            "stream {stream}"
        );
    }
}

fn three_bodies<const R: usize, const W: usize>(piece: usize) {
    let mut peer = Peer::<R, W, Bodies>::with_handler(Bodies, piece);
    let bodies: Vec<(u32, Vec<u8>)> = [(1, 3000), (3, 1), (5, 4500)]
        .into_iter()
        .map(|(stream, len)| (stream, body(stream, len)))
        .collect();
    for (stream, bytes) in &bodies {
        // Answers larger than the smallest write buffer are hashed.
        let headers = post(&mut peer, "/digest", *stream, Some(bytes.len()));
        peer.send(&headers);
    }
    // One-byte frames among larger ones.
    peer.send(&interleaved(&bodies, &[1, 1, 700, 1, 333, 1]));
    let sent = peer.take();
    all_well(&sent);
    digested(&sent, &bodies);
    assert_eq!(peer.conn.open_streams(), 0);
}

#[test]
fn three_bodies_gathered_at_once_their_frames_interleaved_are_each_answered_intact() {
    for piece in [usize::MAX, 1] {
        three_bodies::<DEFAULT, DEFAULT>(piece);
        three_bodies::<MIN_READ, MIN_WRITE>(piece);
    }
}

#[test]
fn as_many_bodies_as_the_area_holds_are_gathered_at_once() {
    let mut peer = Peer::<DEFAULT, DEFAULT, Bodies>::with_handler(Bodies, DEFAULT);
    // Bodies of 500 bytes, each with a content-length: taken until one is
    // refused for want of room.
    let mut bodies = Vec::new();
    let mut stream = 1;
    let refused = loop {
        let headers = echo(&mut peer, stream, Some(500));
        peer.send(&headers);
        let sent = peer.take();
        if was_reset(&sent, stream, ErrorCode::RefusedStream) {
            break stream;
        }
        assert!(sent.is_empty(), "{sent:?}");
        bodies.push((stream, body(stream, 500)));
        stream += 2;
        assert!(stream < 200, "never refused");
    };
    assert!(bodies.len() >= 20, "{} gathered at once", bodies.len());
    assert!(bodies.len() * 500 < AREA);
    // Room is left for other requests meanwhile.
    let get = peer.request(refused + 2, "GET", "/", &[], true);
    peer.send(&get);
    assert_eq!(
        response_of(&peer.take(), refused + 2),
        Some(("200".into(), b"hello".to_vec()))
    );
    peer.send(&interleaved(&bodies, &[1, 99, 400, 1, 17]));
    let sent = peer.take();
    all_well(&sent);
    echoed(&sent, &bodies);
    // All left: the one refused is taken when sent again.
    let again = refused + 4;
    let headers = echo(&mut peer, again, Some(500));
    peer.send(&headers);
    let bytes = body(again, 500);
    peer.send(&data(again, &bytes, true));
    echoed(&peer.take(), &[(again, bytes)]);
}

#[test]
fn a_body_without_content_length_grows_after_those_with_one() {
    for piece in [usize::MAX, 1] {
        let mut peer = Peer::<DEFAULT, DEFAULT, Bodies>::with_handler(Bodies, piece);
        let growing = body(1, 5000);
        let headers = echo(&mut peer, 1, None);
        peer.send(&headers);
        peer.send(&data(1, &growing[..1200], false));
        // Reserved bodies go in before it, moving it up.
        let reserved: Vec<(u32, Vec<u8>)> =
            vec![(3, body(3, 2000)), (5, body(5, 1)), (7, body(7, 3333))];
        for (i, (stream, bytes)) in reserved.iter().enumerate() {
            let headers = echo(&mut peer, *stream, Some(bytes.len()));
            peer.send(&headers);
            peer.send(&data(1, &growing[1200 + i..1201 + i], false));
        }
        let mut all = reserved.clone();
        all.push((1, growing[1203..].to_vec()));
        let mut wire = peer.request(9, "GET", "/", &[], true);
        wire.extend(interleaved(&all, &[1, 500, 7]));
        peer.send(&wire);
        let sent = peer.take();
        all_well(&sent);
        echoed(&sent, &reserved);
        echoed(&sent, &[(1, growing.clone())]);
        assert_eq!(response_of(&sent, 9).unwrap().1, b"hello");
    }
}

#[test]
fn a_second_body_without_content_length_while_one_grows_is_refused() {
    let mut peer = Peer::<DEFAULT, DEFAULT, Bodies>::with_handler(Bodies, DEFAULT);
    let headers = echo(&mut peer, 1, None);
    peer.send(&headers);
    peer.send(&data(1, b"one", false));
    let headers = echo(&mut peer, 3, None);
    peer.send(&headers);
    assert!(was_reset(&peer.take(), 3, ErrorCode::RefusedStream));
    // One with a content-length is taken meanwhile.
    let headers = echo(&mut peer, 5, Some(4));
    peer.send(&headers);
    peer.send(&data(5, b"five", true));
    peer.send(&data(1, b"!", true));
    let sent = peer.take();
    echoed(&sent, &[(5, b"five".to_vec()), (1, b"one!".to_vec())]);
    // Once the first ended, another may grow.
    let headers = echo(&mut peer, 7, None);
    peer.send(&headers);
    peer.send(&data(7, b"seven", true));
    echoed(&peer.take(), &[(7, b"seven".to_vec())]);
}

#[test]
fn a_body_that_does_not_fit_beside_others_is_refused_and_one_that_never_fits_gets_413() {
    let mut peer = Peer::<DEFAULT, DEFAULT, Bodies>::with_handler(Bodies, DEFAULT);
    let first = body(1, 8000);
    let headers = echo(&mut peer, 1, Some(first.len()));
    peer.send(&headers);
    peer.send(&data(1, &first[..100], false));
    // Would fit the area alone, not beside the first: refused, for the
    // client to send again.
    let headers = echo(&mut peer, 3, Some(8000));
    peer.send(&headers);
    assert!(was_reset(&peer.take(), 3, ErrorCode::RefusedStream));
    // Never fits: answered 413 at its end, its body dropped as it comes.
    let headers = echo(&mut peer, 5, Some(AREA));
    peer.send(&headers);
    assert!(peer.take().is_empty());
    for part in body(5, AREA).chunks(5000) {
        peer.send(&data(5, part, false));
        peer.send(&data(1, &first[100..101], false));
    }
    peer.send(&data(5, b"", true));
    let sent = peer.take();
    assert_eq!(response_of(&sent, 5).unwrap(), ("413".into(), Vec::new()));
    let rest = first[104..].to_vec();
    peer.send(&data(1, &rest, true));
    let sent = peer.take();
    // (Bytes 101 to 103 were the same byte sent again: rebuild.)
    let mut expected = first[..100].to_vec();
    expected.extend(std::iter::repeat_n(first[100], 4));
    expected.extend(rest);
    echoed(&sent, &[(1, expected)]);
    // The area is free again: the refused one is taken.
    let again = body(7, 8000);
    let headers = echo(&mut peer, 7, Some(again.len()));
    peer.send(&headers);
    peer.send(&data(7, &again, true));
    echoed(&peer.take(), &[(7, again)]);
}

#[test]
fn a_body_over_max_body_len_gets_413_while_others_are_gathered() {
    let config = Config {
        max_body_len: 1000,
        ..Config::DEFAULT
    };
    let mut peer = Peer::<DEFAULT, DEFAULT, Bodies>::with_config(Bodies, config, DEFAULT);
    let small = body(1, 1000);
    let headers = echo(&mut peer, 1, Some(small.len()));
    peer.send(&headers);
    let headers = echo(&mut peer, 3, Some(1001));
    peer.send(&headers);
    // Without a content-length, it is refused once it grows past it.
    let headers = echo(&mut peer, 5, None);
    peer.send(&headers);
    peer.send(&data(5, &[5; 600], false));
    peer.send(&data(3, &[3; 1001], true));
    peer.send(&data(5, &[5; 401], true));
    peer.send(&data(1, &small, true));
    let sent = peer.take();
    assert_eq!(response_of(&sent, 3).unwrap().0, "413");
    assert_eq!(response_of(&sent, 5).unwrap().0, "413");
    echoed(&sent, &[(1, small)]);
}

#[test]
fn a_stream_reset_while_its_body_is_gathered_leaves_the_others_intact() {
    for reset in [1, 3, 5] {
        let mut peer = Peer::<DEFAULT, DEFAULT, Bodies>::with_handler(Bodies, DEFAULT);
        let bodies: Vec<(u32, Vec<u8>)> = [(1, 2000), (3, 3000), (5, 2500)]
            .into_iter()
            .map(|(stream, len)| (stream, body(stream, len)))
            .collect();
        for (stream, bytes) in &bodies {
            let headers = echo(&mut peer, *stream, Some(bytes.len()));
            peer.send(&headers);
        }
        // The last one grows without a content-length.
        let growing = body(7, 3000);
        let headers = echo(&mut peer, 7, None);
        peer.send(&headers);
        for (stream, bytes) in &bodies {
            peer.send(&data(*stream, &bytes[..1000], false));
        }
        peer.send(&data(7, &growing[..1000], false));
        let cancel =
            frame(|buf| encode_rst_stream(buf, StreamId::new(reset).unwrap(), ErrorCode::Cancel));
        peer.send(&cancel);
        let mut others: Vec<(u32, Vec<u8>)> = bodies
            .iter()
            .filter(|(stream, _)| *stream != reset)
            .cloned()
            .collect();
        let mut rest: Vec<(u32, Vec<u8>)> = others
            .iter()
            .map(|(stream, bytes)| (*stream, bytes[1000..].to_vec()))
            .collect();
        rest.push((7, growing[1000..].to_vec()));
        peer.send(&interleaved(&rest, &[1, 250]));
        let sent = peer.take();
        all_well(&sent);
        others.push((7, growing));
        echoed(&sent, &others);
        assert!(response_of(&sent, reset).is_none());
        assert_eq!(peer.conn.open_streams(), 0);
    }
}

#[test]
fn streamed_bodies_come_and_go_between_gathered_ones() {
    for piece in [usize::MAX, 1] {
        let mut peer = Peer::<DEFAULT, DEFAULT, Bodies>::with_handler(Bodies, piece);
        let gathered: Vec<(u32, Vec<u8>)> =
            vec![(1, body(1, 1500)), (5, body(5, 2200)), (9, body(9, 10))];
        let mut streamed: Vec<(u32, Vec<u8>)> = Vec::new();
        // Gathered and streamed heads in turn, the middle gathered body
        // growing without a content-length.
        let mut opened = Vec::new();
        for (i, (stream, bytes)) in gathered.iter().enumerate() {
            let len = (i != 1).then_some(bytes.len());
            let headers = echo(&mut peer, *stream, len);
            peer.send(&headers);
            let kept = stream + 2;
            let headers = peer.request(kept, "POST", "/stream", &[], false);
            peer.send(&headers);
            opened.push(kept);
        }
        // Some of each, then a streamed one ends (its head leaves and the
        // gathered bodies after it move down), some more, then another.
        let mut sent_so_far = vec![0; gathered.len()];
        let mut step = |peer: &mut Peer<DEFAULT, DEFAULT, Bodies>, n: usize| {
            for (i, (stream, bytes)) in gathered.iter().enumerate() {
                let to = (sent_so_far[i] + n).min(bytes.len() - 1);
                peer.send(&data(*stream, &bytes[sent_so_far[i]..to], false));
                sent_so_far[i] = to;
            }
        };
        step(&mut peer, 300);
        for &kept in &opened {
            peer.send(&data(kept, &body(kept, 700), false));
        }
        peer.send(&data(opened[0], b"", true));
        streamed.push((opened[0], body(opened[0], 700)));
        step(&mut peer, 1);
        step(&mut peer, 400);
        // A new streamed head goes in before the growing body.
        let late = 13;
        let headers = peer.request(late, "POST", "/stream", &[], false);
        peer.send(&headers);
        peer.send(&data(late, b"late", true));
        streamed.push((late, b"late".to_vec()));
        peer.send(&data(opened[2], b"", true));
        streamed.push((opened[2], body(opened[2], 700)));
        step(&mut peer, 5000);
        let rest: Vec<(u32, Vec<u8>)> = gathered
            .iter()
            .map(|(stream, bytes)| (*stream, bytes[bytes.len() - 1..].to_vec()))
            .collect();
        peer.send(&interleaved(&rest, &[1]));
        peer.send(&data(opened[1], b"", true));
        streamed.push((opened[1], body(opened[1], 700)));
        let sent = peer.take();
        all_well(&sent);
        echoed(&sent, &gathered);
        for (stream, bytes) in &streamed {
            assert_eq!(
                response_of(&sent, *stream),
                Some(("200".into(), hashed(bytes))),
                "stream {stream}"
            );
        }
        assert_eq!(peer.conn.open_streams(), 0);
    }
}

/// The status a lone body of `len` bytes with a `content-length` gets.
fn lone_status(len: usize, piece: usize) -> String {
    let mut peer = Peer::<DEFAULT, DEFAULT, Bodies>::with_handler(Bodies, piece);
    let headers = post(&mut peer, "/digest", 1, Some(len));
    peer.send(&headers);
    let bytes = body(1, len);
    peer.send(&data(1, &bytes, true));
    let sent = peer.take();
    let (status, answered) = response_of(&sent, 1).expect("answered");
    if status == "200" {
        assert_eq!(answered, digest(&bytes));
    }
    status
}

#[test]
fn a_reserved_body_fills_the_area_exactly_and_one_byte_more_gets_413() {
    let (mut fits, mut too_long) = (0, AREA);
    while too_long - fits > 1 {
        let mid = (fits + too_long) / 2;
        if lone_status(mid, usize::MAX) == "200" {
            fits = mid;
        } else {
            too_long = mid;
        }
    }
    // Only its record (its head and field spans) before it.
    assert!(fits > AREA - 200, "{fits}");
    for piece in [usize::MAX, 1] {
        assert_eq!(lone_status(fits, piece), "200");
        assert_eq!(lone_status(fits + 1, piece), "413");
    }
}

#[test]
fn a_second_reservation_fits_up_to_its_bound_and_is_refused_one_byte_past_it() {
    /// Whether a second body of `len` bytes is taken beside a first of
    /// 4,000; both are then answered intact.
    fn second_taken(len: usize) -> bool {
        let mut peer = Peer::<DEFAULT, DEFAULT, Bodies>::with_handler(Bodies, DEFAULT);
        let first = body(1, 4000);
        let headers = echo(&mut peer, 1, Some(first.len()));
        peer.send(&headers);
        let headers = echo(&mut peer, 3, Some(len));
        peer.send(&headers);
        let sent = peer.take();
        if was_reset(&sent, 3, ErrorCode::RefusedStream) {
            return false;
        }
        assert!(sent.is_empty(), "{sent:?}");
        let second = body(3, len);
        let bodies = [(1, first), (3, second)];
        peer.send(&interleaved(&bodies, &[1, 3000]));
        let sent = peer.take();
        all_well(&sent);
        echoed(&sent, &bodies);
        true
    }
    let (mut fits, mut refused) = (0, AREA);
    while refused - fits > 1 {
        let mid = (fits + refused) / 2;
        if second_taken(mid) {
            fits = mid;
        } else {
            refused = mid;
        }
    }
    // Both with their records, and room left free after them for the
    // heads and answers of other requests.
    assert!(4000 + fits < AREA - 1024, "{fits}");
    assert!(4000 + fits > AREA / 2, "{fits}");
    assert!(second_taken(fits));
    assert!(!second_taken(fits + 1));
}

/// The panics of `/panic` are expected: keep the test output to what
/// fails.
fn quiet_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let expected = info
                .payload()
                .downcast_ref::<&str>()
                .is_some_and(|message| *message == "the handler failed");
            if !expected {
                default(info);
            }
        }));
    });
}

#[test]
fn a_handler_that_panics_over_a_gathered_body_leaves_the_whole_area_to_the_others() {
    quiet_panics();
    let mut peer = Peer::<DEFAULT, DEFAULT, Bodies>::with_handler(Bodies, DEFAULT);
    // Stream 1's body is gathered at the start of the area, stream 3's
    // grows after it.
    let headers = post(&mut peer, "/panic", 1, Some(1000));
    peer.send(&headers);
    let headers = post(&mut peer, "/digest", 3, None);
    peer.send(&headers);
    let growing = body(3, AREA - 512);
    peer.send(&data(3, &growing[..100], false));
    // Stream 1's body ends: its handler panics.
    let last = data(1, &body(1, 1000), true);
    let panic = catch_unwind(AssertUnwindSafe(|| peer.send(&last)));
    assert!(panic.is_err(), "the handler panicked");
    assert!(peer.panicked());
    let sent = peer.take();
    assert_eq!(response_of(&sent, 1).expect("answered").0, "500");
    assert!(sent.contains(&Sent::GoAway {
        last: 3,
        code: ErrorCode::NoError
    }));
    // Stream 3, begun before the GOAWAY, goes on: alone in the area now,
    // its body may fill it.
    peer.send(&data(3, &growing[100..], true));
    let sent = peer.take();
    assert_eq!(
        response_of(&sent, 3),
        Some(("200".into(), digest(&growing))),
        "{sent:?}"
    );
}
