//! Deferred responses and topic publications over HTTP/2: a stream whose
//! handler deferred waits, the others going on, until the application
//! answers that stream (any status, chosen then); any number of streams
//! wait at once and are answered in any order; an answer to a stream
//! reset meanwhile finds nothing; the wait is bounded; a graceful end
//! waits for it. Publications to a topic reach every stream subscribed
//! to it, in order, within the windows; a stream backed up is reset alone.
//! A response or an answer after which the connection is to close is
//! followed by GOAWAY: the streams begun finish, then the connection
//! closes.

mod support;

use std::sync::Mutex;

use peregrine_core::h2::frame::{
    ErrorCode, Setting, StreamId, encode_rst_stream, encode_settings, encode_window_update,
};
use peregrine_core::{
    Config, ConnectionId, Fill, Finished, Handler, Outcome, PublishError, Request, Response,
    StatusCode,
};
use support::h2::{Peer, Sent, frame, responses};

/// The driver's default buffer pair.
const DEFAULT: usize = 16_384;

/// `/defer/T` defers with tag T, `/defer-close/T` too and closes the
/// connection after the answer, `/feed/N` streams topic N's publications
/// (a body of no announced length whose handler never has anything of
/// its own), `/feed-of/L/N` the same with L bytes announced; `/close`
/// says goodbye and closes the connection after it; anything else says
/// hello.
#[derive(Default)]
struct Jobs {
    /// The ids the deferring handlers were given.
    ids: Mutex<Vec<ConnectionId>>,
    /// What `finished` was told: (tag, outcome).
    ended: Mutex<Vec<(u64, Outcome)>>,
}

impl Jobs {
    /// What `finished` was told so far.
    fn ended(&self) -> Vec<(u64, Outcome)> {
        self.ended.lock().unwrap().clone()
    }

    /// The ids the deferring handlers were given so far.
    fn ids(&self) -> Vec<ConnectionId> {
        self.ids.lock().unwrap().clone()
    }
}

impl Handler for Jobs {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
        let path = std::str::from_utf8(request.path()).unwrap();
        let parts: Vec<u64> = path
            .split('/')
            .skip(2)
            .map(|n| n.parse().unwrap())
            .collect();
        if path.starts_with("/defer/") {
            self.ids.lock().unwrap().push(response.id());
            response.set_tag(parts[0]).defer();
        } else if path.starts_with("/defer-close/") {
            response.close().set_tag(parts[0]).defer();
        } else if path == "/close" {
            response.close().body_static(b"goodbye");
        } else if path.starts_with("/feed/") {
            response.set_tag(100 + parts[0]).stream(None);
            response.subscribe(parts[0]);
        } else if path.starts_with("/feed-of/") {
            response.set_tag(200 + parts[1]).stream(Some(parts[0]));
            response.subscribe(parts[1]);
        } else {
            response.body_static(b"hello");
        }
    }

    fn fill_body(&self, _: &mut u64, _: &mut [u8], _: &mut ()) -> Fill {
        Fill::Pending
    }

    fn finished(&self, finished: Finished, _: &mut ()) {
        self.ended
            .lock()
            .unwrap()
            .push((finished.tag, finished.outcome));
    }
}

/// A client of [`Jobs`] on a connection configured by `config`.
fn peer(config: Config) -> Peer<DEFAULT, DEFAULT, Jobs> {
    Peer::with_config(Jobs::default(), config, usize::MAX)
}

/// A GET of `path` on `stream`, and the frames the server sent for it.
fn get(peer: &mut Peer<DEFAULT, DEFAULT, Jobs>, stream: u32, path: &str) -> Vec<Sent> {
    let request = peer.request(stream, "GET", path, &[], true);
    peer.send(&request);
    peer.take()
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

/// The DATA payloads of `stream` in `sent`, and whether the last ended it.
fn data_of(sent: &[Sent], stream: u32) -> (Vec<Vec<u8>>, bool) {
    let mut ended = false;
    let payloads = sent
        .iter()
        .filter_map(|frame| match frame {
            Sent::Data {
                stream: s,
                data,
                end_stream,
            } if *s == stream => {
                ended = *end_stream;
                Some(data.clone())
            }
            _ => None,
        })
        .collect();
    (payloads, ended)
}

#[test]
fn deferred_streams_are_answered_out_of_order_while_the_others_go_on() {
    let mut peer = peer(Config::DEFAULT);
    let sent = get(&mut peer, 1, "/defer/11");
    assert!(sent.is_empty(), "{sent:?}");
    assert!(get(&mut peer, 3, "/defer/13").is_empty());
    assert!(peer.conn.is_deferred() && peer.conn.holds_buffers());
    // A request after them is answered at once.
    let sent = get(&mut peer, 5, "/");
    assert_eq!(responses(&sent), [(5, "200".into(), b"hello".to_vec())]);
    // Each handler's id names its stream.
    let ids = peer.handler.ids();
    assert_eq!(ids.iter().map(|id| id.stream()).collect::<Vec<_>>(), [1, 3]);
    assert_eq!(ids[0].connection(), ids[1].connection());
    // The second first: its job failed, 500 chosen now.
    assert!(peer.answer(3, |response| {
        response
            .status(StatusCode::INTERNAL_SERVER_ERROR)
            .header("x-job", "failed")
            .unwrap();
        response.body(b"job failed").unwrap();
    }));
    let sent = peer.take();
    assert_eq!(
        responses(&sent),
        [(3, "500".into(), b"job failed".to_vec())]
    );
    assert_eq!(field(&sent, 3, "x-job").as_deref(), Some("failed"));
    assert_eq!(peer.handler.ended(), [(13, Outcome::Sent)]);
    assert!(peer.answer(1, |response| response.body_static(b"done")));
    let sent = peer.take();
    assert_eq!(responses(&sent), [(1, "200".into(), b"done".to_vec())]);
    assert_eq!(
        peer.handler.ended(),
        [(13, Outcome::Sent), (11, Outcome::Sent)]
    );
    assert!(!peer.conn.is_deferred());
    assert_eq!(peer.conn.open_streams(), 0);
    // A second answer finds nothing waiting; so does one for a stream
    // that never deferred, or never was.
    assert!(!peer.answer(3, |_| panic!("answered twice")));
    assert!(!peer.answer(5, |_| panic!("answered a stream that never waited")));
    assert!(!peer.answer(0, |_| panic!("answered the connection")));
    assert!(!peer.answer(99, |_| panic!("answered a stream never opened")));
}

#[test]
fn an_answer_to_a_stream_reset_meanwhile_finds_nothing() {
    let mut peer = peer(Config::DEFAULT);
    assert!(get(&mut peer, 1, "/defer/7").is_empty());
    let reset = frame(|buf| encode_rst_stream(buf, StreamId::new(1).unwrap(), ErrorCode::Cancel));
    peer.send(&reset);
    assert_eq!(peer.handler.ended(), [(7, Outcome::Aborted)]);
    assert!(!peer.conn.is_deferred() && !peer.conn.holds_buffers());
    assert!(!peer.answer(1, |_| panic!("answered a reset stream")));
    assert!(peer.take().is_empty());
    // The connection goes on.
    let sent = get(&mut peer, 3, "/");
    assert_eq!(responses(&sent), [(3, "200".into(), b"hello".to_vec())]);
    assert_eq!(peer.handler.ended().len(), 1);
}

#[test]
fn a_connection_that_ends_reports_its_deferred_responses_aborted() {
    let mut peer = peer(Config::DEFAULT);
    assert!(get(&mut peer, 1, "/defer/1").is_empty());
    assert!(get(&mut peer, 3, "/defer/3").is_empty());
    peer.retire();
    let mut ended = peer.handler.ended();
    ended.sort_by_key(|&(tag, _)| tag);
    assert_eq!(ended, [(1, Outcome::Aborted), (3, Outcome::Aborted)]);
    assert!(!peer.answer(1, |_| panic!("answered a closed connection")));
}

#[test]
fn a_wait_past_the_parked_limit_gets_503_on_that_stream_alone() {
    let config = Config {
        parked_stream_timeout: 1_000,
        ..Config::DEFAULT
    };
    let mut peer = peer(config);
    assert!(get(&mut peer, 1, "/defer/1").is_empty());
    peer.advance(500);
    assert!(get(&mut peer, 3, "/defer/3").is_empty());
    assert_eq!(peer.conn.poll_timeout(), Some(1_000));
    peer.advance(499);
    assert!(peer.take().is_empty());
    peer.advance(1);
    let sent = peer.take();
    assert_eq!(responses(&sent), [(1, "503".into(), Vec::new())]);
    assert_eq!(peer.handler.ended(), [(1, Outcome::Aborted)]);
    assert_eq!(peer.counters.timeouts, 1);
    assert!(!peer.answer(1, |_| panic!("answered after the limit")));
    // The other still waits, and is answered in time.
    assert!(peer.conn.is_deferred());
    assert!(peer.answer(3, |response| response.body_static(b"in time")));
    let sent = peer.take();
    assert_eq!(responses(&sent), [(3, "200".into(), b"in time".to_vec())]);
    assert!(!peer.conn.is_closed());
}

#[test]
fn a_graceful_end_waits_for_the_deferred_streams() {
    let mut peer = peer(Config::DEFAULT);
    assert!(get(&mut peer, 1, "/defer/1").is_empty());
    peer.shutdown();
    assert_eq!(
        peer.take(),
        [Sent::GoAway {
            last: 1,
            code: ErrorCode::NoError
        }]
    );
    assert!(!peer.conn.is_closed());
    assert!(peer.answer(1, |response| response.body_static(b"last")));
    let sent = peer.take();
    assert_eq!(responses(&sent), [(1, "200".into(), b"last".to_vec())]);
    assert_eq!(peer.handler.ended(), [(1, Outcome::Sent)]);
    // Nothing left: the connection ends.
    assert_eq!(peer.conn.open_streams(), 0);
}

#[test]
fn publications_reach_every_stream_subscribed_in_order() {
    let mut peer = peer(Config::DEFAULT);
    for (stream, path) in [(1, "/feed/1"), (3, "/feed/1"), (5, "/feed/2")] {
        let sent = get(&mut peer, stream, path);
        assert_eq!(responses(&sent), [(stream, "200".into(), Vec::new())]);
    }
    assert!(peer.conn.streams_topic(1) && peer.conn.streams_topic(2));
    assert!(!peer.conn.streams_topic(3));
    peer.publish(1, b"data: a\n\n").unwrap();
    peer.publish(1, b"data: b\n\n").unwrap();
    peer.publish(2, b"data: other\n\n").unwrap();
    assert_eq!(peer.publish(3, b"x"), Err(PublishError::NotSubscribed));
    let sent = peer.take();
    for stream in [1, 3] {
        assert_eq!(
            data_of(&sent, stream),
            (
                vec![b"data: a\n\n".to_vec(), b"data: b\n\n".to_vec()],
                false
            )
        );
    }
    assert_eq!(
        data_of(&sent, 5),
        (vec![b"data: other\n\n".to_vec()], false)
    );
    assert!(peer.handler.ended().is_empty());
    // A client that leaves ends its stream alone.
    let reset = frame(|buf| encode_rst_stream(buf, StreamId::new(1).unwrap(), ErrorCode::Cancel));
    peer.send(&reset);
    assert_eq!(peer.handler.ended(), [(101, Outcome::Aborted)]);
    peer.publish(1, b"data: c\n\n").unwrap();
    let sent = peer.take();
    assert_eq!(data_of(&sent, 1).0.len(), 0);
    assert_eq!(data_of(&sent, 3).0, [b"data: c\n\n".to_vec()]);
}

#[test]
fn a_stream_backed_up_is_reset_and_the_others_take_the_publication() {
    let mut peer = peer(Config::DEFAULT);
    // Every stream may take 8 bytes until the client opens it more.
    let settings = frame(|buf| encode_settings(buf, &[Setting::InitialWindowSize(8)]));
    peer.send(&settings);
    assert_eq!(peer.take(), [Sent::SettingsAck]);
    for stream in [1, 3] {
        get(&mut peer, stream, "/feed/1");
    }
    let update = frame(|buf| encode_window_update(buf, StreamId::new(3).unwrap(), 100));
    peer.send(&update);
    assert_eq!(peer.publish(1, b"data: 1\n\n"), Err(PublishError::Full));
    let sent = peer.take();
    assert!(
        sent.contains(&Sent::Reset {
            stream: 1,
            code: ErrorCode::InternalError
        }),
        "{sent:?}"
    );
    assert_eq!(data_of(&sent, 1).0.len(), 0);
    assert_eq!(data_of(&sent, 3).0, [b"data: 1\n\n".to_vec()]);
    assert_eq!(peer.handler.ended(), [(101, Outcome::Aborted)]);
    assert!(!peer.conn.is_closed());
    // A body of announced length takes no more than it announced.
    get(&mut peer, 5, "/feed-of/4/2");
    let update = frame(|buf| encode_window_update(buf, StreamId::new(5).unwrap(), 100));
    peer.send(&update);
    assert_eq!(peer.publish(2, b"12345"), Err(PublishError::Full));
    assert_eq!(
        peer.handler.ended(),
        [(101, Outcome::Aborted), (202, Outcome::Aborted)]
    );
}

#[test]
fn a_stream_cut_without_a_buffer_is_reset_at_the_next_poll() {
    let mut peer = peer(Config::DEFAULT);
    get(&mut peer, 1, "/feed/1");
    get(&mut peer, 3, "/feed/2");
    peer.conn.cut_streams(1);
    assert!(peer.conn.has_work());
    assert!(!peer.conn.streams_topic(1));
    peer.wake();
    let sent = peer.take();
    assert_eq!(
        sent,
        [Sent::Reset {
            stream: 1,
            code: ErrorCode::InternalError
        }]
    );
    assert_eq!(peer.handler.ended(), [(101, Outcome::Aborted)]);
    assert!(peer.conn.streams_topic(2));
}

#[test]
fn a_response_that_closes_is_followed_by_goaway_and_the_streams_begun_finish() {
    let mut peer = peer(Config::DEFAULT);
    assert!(get(&mut peer, 1, "/defer/1").is_empty());
    let sent = get(&mut peer, 3, "/close");
    assert_eq!(responses(&sent), [(3, "200".into(), b"goodbye".to_vec())]);
    assert_eq!(
        sent.last(),
        Some(&Sent::GoAway {
            last: 3,
            code: ErrorCode::NoError
        })
    );
    // A stream after the GOAWAY is not taken.
    assert!(get(&mut peer, 5, "/").is_empty());
    assert!(!peer.write_closed);
    // The one begun before is answered, then the connection closes.
    assert!(peer.answer(1, |response| response.body_static(b"late")));
    assert_eq!(
        responses(&peer.take()),
        [(1, "200".into(), b"late".to_vec())]
    );
    assert!(peer.write_closed);
}

#[test]
fn an_answer_that_closes_is_followed_by_goaway_and_the_streams_begun_finish() {
    let mut peer = peer(Config::DEFAULT);
    assert!(get(&mut peer, 1, "/defer/1").is_empty());
    assert!(get(&mut peer, 3, "/defer/3").is_empty());
    assert!(peer.answer(1, |response| {
        response.close().body_static(b"first");
    }));
    let sent = peer.take();
    assert_eq!(responses(&sent), [(1, "200".into(), b"first".to_vec())]);
    assert_eq!(
        sent.last(),
        Some(&Sent::GoAway {
            last: 3,
            code: ErrorCode::NoError
        })
    );
    assert!(!peer.write_closed);
    assert!(peer.answer(3, |response| response.body_static(b"second")));
    assert_eq!(
        responses(&peer.take()),
        [(3, "200".into(), b"second".to_vec())]
    );
    assert!(peer.write_closed);
}

#[test]
fn a_response_that_closes_and_defers_closes_after_its_answer() {
    let mut peer = peer(Config::DEFAULT);
    assert!(get(&mut peer, 1, "/defer-close/1").is_empty());
    // Served on meanwhile.
    let sent = get(&mut peer, 3, "/");
    assert_eq!(responses(&sent), [(3, "200".into(), b"hello".to_vec())]);
    assert!(peer.answer(1, |response| response.body_static(b"done")));
    let sent = peer.take();
    assert_eq!(responses(&sent), [(1, "200".into(), b"done".to_vec())]);
    assert!(sent.contains(&Sent::GoAway {
        last: 3,
        code: ErrorCode::NoError
    }));
    assert!(peer.write_closed);
}
