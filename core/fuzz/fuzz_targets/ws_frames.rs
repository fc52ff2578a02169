//! Arbitrary bytes through the WebSocket message layer, in one read and
//! in pieces: it never panics, however the bytes are split the same
//! messages, errors and outgoing frames come out, and every protocol error
//! is answered by one Close frame carrying a code that may be sent.
//!
//! Input: a byte choosing the read size, a byte choosing the buffer size
//! (small buffers exercise the 1009 limit and the compaction of unfinished
//! messages), a byte of options, then the client's bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peregrine_core::ws::{CloseCode, MAX_CONTROL_FRAME_LEN, Message, ProtocolError, Session};

/// What the session did, in owned form.
#[derive(Debug, PartialEq)]
enum Event {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<u16>, String),
    Failed(ProtocolError),
    Out(Vec<u8>),
}

/// Feeds `wire` to `session` in reads of at most `step` bytes, draining
/// messages and output after each.
fn run(mut session: Session, buf_len: usize, wire: &[u8], step: usize) -> Vec<Event> {
    let mut buf = vec![0; buf_len];
    let mut out = [0; MAX_CONTROL_FRAME_LEN];
    let mut events = Vec::new();
    let mut offset = 0;
    loop {
        loop {
            let event = match session.receive(&mut buf) {
                Ok(Some(Message::Text(text))) => Event::Text(text.to_owned()),
                Ok(Some(Message::Binary(data))) => Event::Binary(data.to_vec()),
                Ok(Some(Message::Ping(data))) => Event::Ping(data.to_vec()),
                Ok(Some(Message::Pong(data))) => Event::Pong(data.to_vec()),
                Ok(Some(Message::Close(code, reason))) => {
                    Event::Close(code.map(CloseCode::as_u16), reason.to_owned())
                }
                Ok(None) => break,
                Err(error) => Event::Failed(error),
            };
            let stop = matches!(event, Event::Failed(_));
            events.push(event);
            while let Some(frame) = session.next_output(&mut out) {
                events.push(Event::Out(frame.to_vec()));
            }
            if stop {
                break;
            }
        }
        if offset == wire.len() || !session.wants_read() {
            return events;
        }
        let room = session.read_buf(&mut buf);
        let n = step.min(room.len()).min(wire.len() - offset);
        assert!(n > 0, "the session left no room to read into");
        room[..n].copy_from_slice(&wire[offset..offset + n]);
        session.on_read(n);
        offset += n;
    }
}

/// The invariants of one run's events.
fn check(events: &[Event], server_closed: bool) {
    for (i, event) in events.iter().enumerate() {
        match event {
            Event::Failed(error) => {
                // The last event but the Close answering it, if any.
                let rest = &events[i + 1..];
                if server_closed {
                    assert!(rest.is_empty(), "output after the server's Close: {rest:?}");
                    continue;
                }
                let [Event::Out(close)] = rest else {
                    panic!("{error:?} not answered by exactly one Close: {rest:?}");
                };
                assert_eq!(close[0], 0x88);
                assert!(close.len() >= 4 && usize::from(close[1]) == close.len() - 2);
                let code = u16::from_be_bytes([close[2], close[3]]);
                assert!(CloseCode::new(code).is_some(), "invalid close code {code}");
                assert_eq!(code, error.close_code().as_u16());
                assert!(
                    matches!(code, 1002 | 1007 | 1009 | 1011),
                    "unexpected close code {code}"
                );
            }
            Event::Ping(payload) if !server_closed => {
                let mut pong = vec![0x8a, payload.len() as u8];
                pong.extend_from_slice(payload);
                assert_eq!(events.get(i + 1), Some(&Event::Out(pong)), "Ping not answered");
            }
            Event::Close(..) => {
                let rest = &events[i + 1..];
                assert!(rest.len() <= 1, "events after a Close: {rest:?}");
                if server_closed {
                    assert!(rest.is_empty(), "a reply to the reply: {rest:?}");
                }
            }
            _ => {}
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let [step, size, options, wire @ ..] = data else { return };
    let step = usize::from(*step % 16) + 1;
    let buf_len = 128 + usize::from(*size) * 8;
    let mut session = Session::new();
    if options & 1 != 0 {
        session = session.with_max_message_len(usize::from(*size));
    }
    let server_closed = options & 2 != 0;
    if server_closed {
        let mut out = [0; 16];
        session.encode_close(&mut out, CloseCode::GOING_AWAY, "").unwrap();
    }
    let whole = run(session.clone(), buf_len, wire, usize::MAX);
    check(&whole, server_closed);
    let pieces = run(session, buf_len, wire, step);
    assert_eq!(whole, pieces, "reads of {step}");
});
