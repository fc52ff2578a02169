//! The WebSocket message layer against RFC 6455, one case per rule. Every
//! case runs whole, split in two at every byte, and one byte per read:
//! the messages, the error and the frames the session sends must agree.

use peregrine_core::ws::{
    CloseCode, FrameError, MAX_CONTROL_FRAME_LEN, Message, Opcode, ProtocolError, SendError,
    Session, encode_header, unmask,
};
use proptest::prelude::*;

/// What the session delivered, in owned form.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Event {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<u16>, String),
    Failed(ProtocolError),
    /// A frame the session wanted sent.
    Out(Vec<u8>),
}

impl Event {
    fn from(message: Message<'_>) -> Event {
        match message {
            Message::Text(text) => Event::Text(text.to_owned()),
            Message::Binary(data) => Event::Binary(data.to_vec()),
            Message::Ping(data) => Event::Ping(data.to_vec()),
            Message::Pong(data) => Event::Pong(data.to_vec()),
            Message::Close(code, reason) => {
                Event::Close(code.map(CloseCode::as_u16), reason.to_owned())
            }
        }
    }
}

/// A masked client frame: `first` is the byte holding FIN, RSV and the
/// opcode; the length is written in its minimal form.
fn frame_with(first: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let mut header = [0; 10];
    let len = encode_header(Opcode::Binary, true, payload.len(), &mut header).len();
    let mut wire = header[..len].to_vec();
    wire[0] = first;
    wire[1] |= 0x80;
    wire.extend_from_slice(&mask);
    let mut masked = payload.to_vec();
    unmask(&mut masked, mask, 0);
    wire.extend_from_slice(&masked);
    wire
}

/// A masked client frame with a fixed mask.
fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    frame_with(first, payload, [0x37, 0xfa, 0x21, 0x3d])
}

/// A close frame's payload.
fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason.as_bytes());
    payload
}

/// The Close frame a server sends with `code` and `reason`.
fn server_close(code: u16, reason: &str) -> Event {
    let mut frame = vec![0x88, 2 + reason.len() as u8];
    frame.extend_from_slice(&close_payload(code, reason));
    Event::Out(frame)
}

/// Feeds `wire` to `session` in reads of at most the sizes in `reads`
/// (cycled), draining messages and output after each read.
fn feed(session: &mut Session, buf: &mut [u8], wire: &[u8], reads: &[usize]) -> Vec<Event> {
    let mut events = Vec::new();
    let mut out = [0; MAX_CONTROL_FRAME_LEN];
    let mut offset = 0;
    let mut sizes = reads.iter().cycle();
    loop {
        loop {
            match session.receive(buf) {
                Ok(Some(message)) => events.push(Event::from(message)),
                Ok(None) => break,
                Err(error) => {
                    events.push(Event::Failed(error));
                    break;
                }
            }
            while let Some(frame) = session.next_output(&mut out) {
                events.push(Event::Out(frame.to_vec()));
            }
        }
        while let Some(frame) = session.next_output(&mut out) {
            events.push(Event::Out(frame.to_vec()));
        }
        if offset == wire.len() || !session.wants_read() {
            return events;
        }
        let room = session.read_buf(buf);
        let n = (*sizes.next().unwrap())
            .min(room.len())
            .min(wire.len() - offset);
        assert!(n > 0, "no room to read into at offset {offset}");
        room[..n].copy_from_slice(&wire[offset..offset + n]);
        session.on_read(n);
        offset += n;
    }
}

/// Runs `wire` through a fresh `session` with a buffer of `buf_len` bytes,
/// whole, split in two at every byte, and one byte per read; asserts they
/// agree and returns the events.
fn run_with(session: &Session, buf_len: usize, wire: &[u8]) -> Vec<Event> {
    let mut buf = vec![0; buf_len];
    let whole = feed(&mut session.clone(), &mut buf, wire, &[usize::MAX]);
    for split in 1..wire.len() {
        let mut buf = vec![0; buf_len];
        let mut split_session = session.clone();
        let mut events = feed(&mut split_session, &mut buf, &wire[..split], &[usize::MAX]);
        if split_session.wants_read() {
            events.extend(feed(
                &mut split_session,
                &mut buf,
                &wire[split..],
                &[usize::MAX],
            ));
        }
        assert_eq!(events, whole, "split at {split}");
    }
    let mut buf = vec![0; buf_len];
    let bytewise = feed(&mut session.clone(), &mut buf, wire, &[1]);
    assert_eq!(bytewise, whole, "byte by byte");
    whole
}

/// `run_with` a default session and a 1 KiB buffer.
fn run(wire: &[u8]) -> Vec<Event> {
    run_with(&Session::new(), 1024, wire)
}

fn concat(frames: &[Vec<u8>]) -> Vec<u8> {
    frames.concat()
}

fn text(s: &str) -> Event {
    Event::Text(s.to_owned())
}

fn failed(error: ProtocolError, code: u16) -> [Event; 2] {
    [Event::Failed(error), server_close(code, error.reason())]
}

/// RFC 6455 §5.6, §5.4: data messages, whole and fragmented, with control
/// frames between fragments.
#[test]
fn data_messages() {
    let cases: Vec<(&str, Vec<u8>, Vec<Event>)> = vec![
        (
            "§5.7 single-frame masked text",
            b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58".to_vec(),
            vec![text("Hello")],
        ),
        (
            "§5.7 fragmented text",
            concat(&[frame(0x01, b"Hel"), frame(0x80, b"lo")]),
            vec![text("Hello")],
        ),
        ("§5.6 empty text", frame(0x81, b""), vec![text("")]),
        (
            "§5.6 binary",
            frame(0x82, &[0, 0xff, 0x80]),
            vec![Event::Binary(vec![0, 0xff, 0x80])],
        ),
        (
            "§5.4 three fragments, one empty",
            concat(&[frame(0x02, b"ab"), frame(0x00, b""), frame(0x80, b"cd")]),
            vec![Event::Binary(b"abcd".to_vec())],
        ),
        (
            "§5.4 control frames between fragments",
            concat(&[
                frame(0x01, b"Hel"),
                frame(0x89, b"ping"),
                frame(0x00, b"lo, "),
                frame(0x8a, b"pong"),
                frame(0x80, b"world"),
            ]),
            vec![
                Event::Ping(b"ping".to_vec()),
                Event::Out(b"\x8a\x04ping".to_vec()),
                Event::Pong(b"pong".to_vec()),
                text("Hello, world"),
            ],
        ),
        (
            "§8.1 a code point split between fragments",
            concat(&[frame(0x01, b"caf\xc3"), frame(0x80, b"\xa9")]),
            vec![text("café")],
        ),
        (
            "§5.2 16-bit length",
            frame(0x81, &[b'a'; 300]),
            vec![text(&"a".repeat(300))],
        ),
        (
            "messages back to back",
            concat(&[
                frame(0x81, b"one"),
                frame(0x82, b"two"),
                frame(0x81, b"three"),
            ]),
            vec![text("one"), Event::Binary(b"two".to_vec()), text("three")],
        ),
    ];
    for (rule, wire, expected) in cases {
        assert_eq!(run(&wire), expected, "{rule}");
    }
}

/// RFC 6455 §5.5.2, §5.5.3: pings are answered with their payload, pongs
/// are delivered and not answered.
#[test]
fn ping_and_pong() {
    let mut pong = vec![0x8a, 125];
    pong.extend_from_slice(&[7; 125]);
    assert_eq!(
        run(&frame(0x89, &[7; 125])),
        [Event::Ping(vec![7; 125]), Event::Out(pong)]
    );
    assert_eq!(
        run(&frame(0x89, b"")),
        [Event::Ping(vec![]), Event::Out(vec![0x8a, 0])]
    );
    assert_eq!(run(&frame(0x8a, b"beat")), [Event::Pong(b"beat".to_vec())]);
}

/// §5.5.3: a Ping that arrives before the Pong was taken replaces it.
#[test]
fn only_the_latest_ping_is_answered() {
    let wire = concat(&[frame(0x89, b"one"), frame(0x89, b"two")]);
    let mut session = Session::new();
    let mut buf = [0; 256];
    session.read_buf(&mut buf)[..wire.len()].copy_from_slice(&wire);
    session.on_read(wire.len());
    assert_eq!(session.receive(&mut buf), Ok(Some(Message::Ping(b"one"))));
    assert_eq!(session.receive(&mut buf), Ok(Some(Message::Ping(b"two"))));
    let mut out = [0; MAX_CONTROL_FRAME_LEN];
    assert_eq!(session.next_output(&mut out), Some(&b"\x8a\x03two"[..]));
    assert_eq!(session.next_output(&mut out), None);
}

/// §5.4: fragmentation rules.
#[test]
fn fragmentation_errors() {
    let cases: Vec<(&str, Vec<u8>, Vec<Event>)> = vec![
        (
            "§5.4 continuation without a message",
            frame(0x80, b"x"),
            failed(ProtocolError::UnexpectedContinuation, 1002).to_vec(),
        ),
        (
            "§5.4 continuation after a finished message",
            concat(&[frame(0x81, b"a"), frame(0x00, b"b")]),
            [
                vec![text("a")],
                failed(ProtocolError::UnexpectedContinuation, 1002).to_vec(),
            ]
            .concat(),
        ),
        (
            "§5.4 text inside a fragmented message",
            concat(&[frame(0x01, b"a"), frame(0x81, b"b")]),
            failed(ProtocolError::UnfinishedMessage, 1002).to_vec(),
        ),
        (
            "§5.4 binary inside a fragmented message",
            concat(&[frame(0x02, b"a"), frame(0x02, b"b")]),
            failed(ProtocolError::UnfinishedMessage, 1002).to_vec(),
        ),
    ];
    for (rule, wire, expected) in cases {
        assert_eq!(run(&wire), expected, "{rule}");
    }
}

/// §5.2, §5.5: header errors fail the connection with 1002.
#[test]
fn frame_errors() {
    let unmasked = b"\x81\x05Hello".to_vec();
    let cases: Vec<(&str, Vec<u8>, FrameError)> = vec![
        ("§5.1 unmasked", unmasked, FrameError::Unmasked),
        ("§5.2 RSV1", frame(0xc1, b"a"), FrameError::ReservedBits),
        ("§5.2 RSV2", frame(0xa1, b"a"), FrameError::ReservedBits),
        ("§5.2 RSV3", frame(0x91, b"a"), FrameError::ReservedBits),
        (
            "§5.2 opcode 3",
            frame(0x83, b""),
            FrameError::ReservedOpcode,
        ),
        (
            "§5.2 opcode 0xB",
            frame(0x8b, b""),
            FrameError::ReservedOpcode,
        ),
        (
            "§5.5 ping of 126",
            frame(0x89, &[0; 126]),
            FrameError::ControlTooLong,
        ),
        (
            "§5.5 fragmented ping",
            frame(0x09, b""),
            FrameError::FragmentedControl,
        ),
        (
            "§5.2 non-minimal 16-bit length",
            b"\x81\xfe\x00\x05\x00\x00\x00\x00hello".to_vec(),
            FrameError::NonMinimalLength,
        ),
        (
            "§5.2 64-bit length with the MSB set",
            b"\x82\xff\x80\x00\x00\x00\x00\x00\x00\x00".to_vec(),
            FrameError::LengthOverflow,
        ),
    ];
    for (rule, wire, error) in cases {
        let wire = concat(&[frame(0x81, b"before"), wire, frame(0x81, b"after")]);
        let expected = [vec![text("before")], failed(error.into(), 1002).to_vec()].concat();
        assert_eq!(run(&wire), expected, "{rule}");
    }
}

/// §8.1: text must be UTF-8, and the session fails as soon as it cannot
/// be.
#[test]
fn invalid_text() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("§8.1 invalid byte", frame(0x81, b"a\xffb")),
        ("§8.1 surrogate", frame(0x81, b"\xed\xa0\x80")),
        ("§8.1 overlong", frame(0x81, b"\xc0\xaf")),
        ("§8.1 above U+10FFFF", frame(0x81, b"\xf4\x90\x80\x80")),
        ("§8.1 ends inside a code point", frame(0x81, b"caf\xc3")),
        (
            "§8.1 message ends inside a code point",
            concat(&[frame(0x01, b"caf"), frame(0x80, b"\xc3")]),
        ),
        (
            "§8.1 invalid in a later fragment",
            concat(&[frame(0x01, b"good"), frame(0x00, b"\xff"), frame(0x80, b"")]),
        ),
    ];
    for (rule, wire) in cases {
        assert_eq!(
            run(&wire),
            failed(ProtocolError::InvalidUtf8, 1007),
            "{rule}"
        );
    }
}

/// §8.1, as Autobahn's "fail fast" cases: the error comes before the
/// message is complete, with the rest of the frame and the later
/// fragments not yet sent.
#[test]
fn invalid_text_fails_before_the_message_completes() {
    // A fragment with an invalid byte, and no more fragments.
    let first = frame(
        0x01,
        b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
    );
    assert_eq!(run(&first), failed(ProtocolError::InvalidUtf8, 1007));
    // One frame of 800 bytes of which only the first 20 arrive.
    let mut payload = vec![b'a'; 800];
    payload[10] = 0xf4;
    payload[11] = 0x90;
    let wire = frame(0x81, &payload);
    assert_eq!(
        run(&wire[..8 + 20]),
        failed(ProtocolError::InvalidUtf8, 1007)
    );
}

/// §5.5.1, §7.4: close frames, valid and invalid, and the reply.
#[test]
fn close_frames() {
    let reply = |code: u16| Event::Out([vec![0x88, 2], code.to_be_bytes().to_vec()].concat());
    let valid = [
        1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999,
    ];
    for code in valid {
        let wire = frame(0x88, &close_payload(code, "bye"));
        assert_eq!(
            run(&wire),
            [Event::Close(Some(code), "bye".to_owned()), reply(code)],
            "§7.4.1 code {code}"
        );
    }
    let invalid = [
        0, 999, 1004, 1005, 1006, 1012, 1014, 1015, 1016, 2000, 2999, 5000, 65535,
    ];
    for code in invalid {
        let wire = frame(0x88, &close_payload(code, ""));
        assert_eq!(
            run(&wire),
            failed(ProtocolError::InvalidCloseCode, 1002),
            "§7.4.2 code {code}"
        );
    }
    assert_eq!(
        run(&frame(0x88, b"")),
        [Event::Close(None, String::new()), Event::Out(vec![0x88, 0])],
        "§5.5.1 empty close"
    );
    assert_eq!(
        run(&frame(0x88, b"\x03")),
        failed(ProtocolError::ClosePayloadTooShort, 1002),
        "§5.5.1 one-byte payload"
    );
    assert_eq!(
        run(&frame(0x88, &close_payload(1000, "\u{1F980} ok"))),
        [
            Event::Close(Some(1000), "\u{1F980} ok".to_owned()),
            reply(1000)
        ],
        "§5.5.1 UTF-8 reason"
    );
    assert_eq!(
        run(&frame(0x88, b"\x03\xe8\xed\xa0\x80")),
        failed(ProtocolError::InvalidUtf8, 1007),
        "§5.5.1 reason not UTF-8"
    );
}

/// §5.5.1: after the client's Close nothing is delivered or sent but the
/// reply.
#[test]
fn nothing_after_a_received_close() {
    let wire = concat(&[
        frame(0x89, b"early"),
        frame(0x88, &close_payload(1001, "")),
        frame(0x81, b"late"),
        frame(0x89, b"late"),
        b"\xff\xff garbage".to_vec(),
    ]);
    let expected = [
        Event::Ping(b"early".to_vec()),
        Event::Out(b"\x8a\x05early".to_vec()),
        Event::Close(Some(1001), String::new()),
        Event::Out(b"\x88\x02\x03\xe9".to_vec()),
    ];
    assert_eq!(run(&wire), expected);

    let mut session = Session::new();
    let mut buf = [0; 256];
    let close = frame(0x88, b"");
    session.read_buf(&mut buf)[..close.len()].copy_from_slice(&close);
    session.on_read(close.len());
    assert!(matches!(
        session.receive(&mut buf),
        Ok(Some(Message::Close(None, "")))
    ));
    assert!(!session.wants_read());
    assert!(!session.can_send());
    let mut out = [0; 64];
    assert_eq!(session.encode_text(&mut out, "x"), Err(SendError::Closed));
    assert_eq!(
        session.encode_close(&mut out, CloseCode::NORMAL, ""),
        Err(SendError::Closed)
    );
    assert!(session.has_output());
    let mut control = [0; MAX_CONTROL_FRAME_LEN];
    assert_eq!(session.next_output(&mut control), Some(&b"\x88\x00"[..]));
    assert!(session.is_finished());
    assert_eq!(session.receive(&mut buf), Ok(None));
}

/// §7.1.2, §5.5.1: after the server's Close, data and pings are discarded
/// unanswered, and the client's Close is delivered without a reply.
#[test]
fn server_closes_first() {
    let mut session = Session::new();
    let mut out = [0; 64];
    let frame_out = session
        .encode_close(&mut out, CloseCode::GOING_AWAY, "bye")
        .unwrap();
    assert_eq!(frame_out, b"\x88\x05\x03\xe9bye");
    assert!(!session.can_send());
    assert!(session.wants_read());
    for attempt in [
        session.encode_text(&mut out, "x").err(),
        session.encode_binary(&mut out, b"x").err(),
        session.encode_ping(&mut out, b"x").err(),
        session
            .encode_frame(&mut out, Opcode::Pong, true, b"")
            .err(),
        session
            .encode_header(&mut [0; 10], Opcode::Binary, true, 1)
            .err(),
    ] {
        assert_eq!(attempt, Some(SendError::Closed));
    }
    let wire = concat(&[
        frame(0x81, b"in flight"),
        frame(0x01, b"frag"),
        frame(0x89, b"ping"),
        frame(0x80, b"ment"),
        frame(0x88, &close_payload(1000, "ok")),
    ]);
    assert_eq!(
        run_with(&session, 1024, &wire),
        [Event::Close(Some(1000), "ok".to_owned())]
    );
}

/// A queued Pong is dropped when the server closes: nothing follows a
/// Close.
#[test]
fn server_close_drops_the_queued_pong() {
    let mut session = Session::new();
    let mut buf = [0; 256];
    let ping = frame(0x89, b"p");
    session.read_buf(&mut buf)[..ping.len()].copy_from_slice(&ping);
    session.on_read(ping.len());
    assert_eq!(session.receive(&mut buf), Ok(Some(Message::Ping(b"p"))));
    assert!(session.has_output());
    session
        .encode_close(&mut [0; 16], CloseCode::NORMAL, "")
        .unwrap();
    assert!(!session.has_output());
}

/// §7.4.1 1009: a message longer than the limit fails as soon as the
/// header that takes it past the limit arrives.
#[test]
fn message_too_big() {
    let limited = Session::new().with_max_message_len(10);
    assert_eq!(
        run_with(&limited, 1024, &frame(0x81, &[b'a'; 10])),
        [text(&"a".repeat(10))]
    );
    let too_big = failed(ProtocolError::MessageTooBig, 1009);
    assert_eq!(run_with(&limited, 1024, &frame(0x81, &[b'a'; 11])), too_big);
    // Only the header was sent.
    assert_eq!(
        run_with(&limited, 1024, &frame(0x81, &[b'a'; 11])[..6]),
        too_big
    );
    // Across fragments, control frames not counted.
    let wire = concat(&[
        frame(0x01, b"12345"),
        frame(0x89, &[0; 100]),
        frame(0x80, b"123456"),
    ]);
    let mut expected = vec![
        Event::Ping(vec![0; 100]),
        Event::Out([vec![0x8a, 100], vec![0; 100]].concat()),
    ];
    expected.extend(too_big.clone());
    assert_eq!(run_with(&limited, 1024, &wire), expected);

    // The buffer's length less 125 bytes limits messages too.
    let session = Session::new();
    let fits = frame(0x82, &[1; 75]);
    assert_eq!(run_with(&session, 200, &fits), [Event::Binary(vec![1; 75])]);
    assert_eq!(run_with(&session, 200, &frame(0x82, &[1; 76])), too_big);
    // A 64-bit length far beyond any buffer.
    let huge = b"\x82\xff\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00";
    assert_eq!(run(huge), too_big);
}

/// Messages larger than one read, and fragmented messages whose control
/// frames arrive in pieces while the buffer is nearly full.
#[test]
fn messages_spanning_many_reads() {
    let payload: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    let wire = concat(&[frame(0x82, &payload), frame(0x81, b"next")]);
    let mut session = Session::new();
    let mut buf = vec![0; 70_125];
    for reads in [&[1000][..], &[4096, 7, 1], &[65_536]] {
        let events = feed(&mut session.clone(), &mut buf, &wire, reads);
        assert_eq!(
            events,
            [Event::Binary(payload.clone()), text("next")],
            "{reads:?}"
        );
    }
    // A message as long as the buffer allows, in fragments with a ping of
    // 125 bytes between them, read in pieces of 100 bytes.
    let limit = 1024 - 125;
    let half = limit / 2;
    let body: Vec<u8> = (0..limit).map(|i| b'a' + (i % 26) as u8).collect();
    let wire = concat(&[
        frame(0x01, &body[..half]),
        frame(0x89, &[9; 125]),
        frame(0x80, &body[half..]),
    ]);
    let events = feed(&mut session, &mut buf[..1024], &wire, &[100]);
    assert_eq!(
        events,
        [
            Event::Ping(vec![9; 125]),
            Event::Out([vec![0x8a, 125], vec![9; 125]].concat()),
            Event::Text(String::from_utf8(body).unwrap()),
        ]
    );
}

/// Errors are sticky, and so is the close: one Close frame, then nothing.
#[test]
fn errors_are_sticky() {
    let mut session = Session::new();
    let mut buf = [0; 64];
    let wire = frame(0x80, b"x");
    session.read_buf(&mut buf)[..wire.len()].copy_from_slice(&wire);
    session.on_read(wire.len());
    let error = ProtocolError::UnexpectedContinuation;
    assert_eq!(session.receive(&mut buf), Err(error));
    assert_eq!(session.receive(&mut buf), Err(error));
    assert!(!session.wants_read());
    assert!(!session.can_send());
    let mut out = [0; MAX_CONTROL_FRAME_LEN];
    let close = session.next_output(&mut out).unwrap();
    assert_eq!(
        close[..4],
        [0x88, 2 + error.reason().len() as u8, 0x03, 0xea]
    );
    assert_eq!(session.next_output(&mut out), None);
    assert!(session.is_finished());
}

/// A caller that reports more bytes than its buffer holds gets an error,
/// not a panic.
#[test]
fn buffer_mismatch() {
    let mut session = Session::new();
    session.on_read(100);
    let mut buf = [0; 10];
    assert!(session.read_buf(&mut buf).is_empty());
    assert_eq!(
        session.receive(&mut buf),
        Err(ProtocolError::BufferMismatch)
    );
    let mut out = [0; MAX_CONTROL_FRAME_LEN];
    let close = session.next_output(&mut out).unwrap();
    assert_eq!(close[2..4], 1011u16.to_be_bytes());
}

/// The frame layer's limits on sending (§5.5).
#[test]
fn sending_control_frames() {
    let mut session = Session::new();
    let mut out = [0; 256];
    assert_eq!(
        session.encode_ping(&mut out, &[0; 126]),
        Err(SendError::InvalidControlFrame)
    );
    assert_eq!(
        session.encode_header(&mut [0; 10], Opcode::Ping, false, 0),
        Err(SendError::InvalidControlFrame)
    );
    assert_eq!(
        session.encode_header(&mut [0; 10], Opcode::Binary, false, 300),
        Ok(&b"\x02\x7e\x01\x2c"[..])
    );
    assert_eq!(
        session.encode_frame(&mut out, Opcode::Pong, true, b"hb"),
        Ok(&b"\x8a\x02hb"[..])
    );
    assert!(session.can_send());
    // A Close through the general encoder still begins the closing.
    session
        .encode_frame(&mut out, Opcode::Close, true, b"\x03\xe8")
        .unwrap();
    assert!(!session.can_send());
}

/// One step of a client's conversation, for the property tests.
#[derive(Clone, Debug)]
enum Step {
    /// A message, sent in fragments of the given sizes.
    Message {
        binary: bool,
        data: Vec<u8>,
        cuts: Vec<prop::sample::Index>,
        pings: Vec<prop::sample::Index>,
    },
    Ping(Vec<u8>),
    Pong(Vec<u8>),
}

fn step() -> impl Strategy<Value = Step> {
    let data = prop_oneof![
        any::<String>().prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..300),
    ];
    prop_oneof![
        3 => (any::<bool>(), data, proptest::collection::vec(any::<prop::sample::Index>(), 0..4),
            proptest::collection::vec(any::<prop::sample::Index>(), 0..2))
            .prop_filter_map("text must be UTF-8", |(binary, data, cuts, pings)| {
                (binary || std::str::from_utf8(&data).is_ok())
                    .then_some(Step::Message { binary, data, cuts, pings })
            }),
        1 => proptest::collection::vec(any::<u8>(), 0..=125).prop_map(Step::Ping),
        1 => proptest::collection::vec(any::<u8>(), 0..=125).prop_map(Step::Pong),
    ]
}

/// A client writing frames, and the events a session must produce for
/// them.
struct Client<'m> {
    wire: Vec<u8>,
    events: Vec<Event>,
    masks: std::iter::Cycle<std::slice::Iter<'m, [u8; 4]>>,
}

impl Client<'_> {
    fn send(&mut self, first: u8, payload: &[u8]) {
        let mask = *self.masks.next().unwrap();
        self.wire.extend(frame_with(first, payload, mask));
    }

    fn ping(&mut self, payload: &[u8]) {
        self.send(0x89, payload);
        self.events.push(Event::Ping(payload.to_vec()));
        let pong = [vec![0x8a, payload.len() as u8], payload.to_vec()].concat();
        self.events.push(Event::Out(pong));
    }
}

/// The wire bytes of `steps` and the events a session must produce.
fn conversation(steps: &[Step], masks: &[[u8; 4]], close: bool) -> (Vec<u8>, Vec<Event>) {
    let mut client = Client {
        wire: Vec::new(),
        events: Vec::new(),
        masks: masks.iter().cycle(),
    };
    for step in steps {
        match step {
            Step::Message {
                binary,
                data,
                cuts,
                pings,
            } => {
                let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(data.len() + 1)).collect();
                cuts.push(0);
                cuts.push(data.len());
                cuts.sort_unstable();
                let pings: Vec<usize> = pings.iter().map(|i| i.index(cuts.len())).collect();
                let fragments = cuts.len() - 1;
                for (n, pair) in cuts.windows(2).enumerate() {
                    let opcode = match (n, binary) {
                        (0, true) => 0x2,
                        (0, false) => 0x1,
                        _ => 0x0,
                    };
                    let fin = if n + 1 == fragments { 0x80 } else { 0 };
                    client.send(fin | opcode, &data[pair[0]..pair[1]]);
                    if n + 1 < fragments && pings.contains(&n) {
                        client.ping(b"mid");
                    }
                }
                client.events.push(if *binary {
                    Event::Binary(data.clone())
                } else {
                    Event::Text(String::from_utf8(data.clone()).unwrap())
                });
            }
            Step::Ping(payload) => client.ping(payload),
            Step::Pong(payload) => {
                client.send(0x8a, payload);
                client.events.push(Event::Pong(payload.clone()));
            }
        }
    }
    if close {
        client.send(0x88, &close_payload(1000, "done"));
        client
            .events
            .push(Event::Close(Some(1000), "done".to_owned()));
        client.events.push(Event::Out(b"\x88\x02\x03\xe8".to_vec()));
    }
    (client.wire, client.events)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Random conversations, masked with random keys and read in random
    /// pieces, give exactly the messages sent.
    #[test]
    fn conversations_in_random_reads(
        steps in proptest::collection::vec(step(), 0..8),
        masks in proptest::collection::vec(any::<[u8; 4]>(), 1..4),
        close in any::<bool>(),
        reads in proptest::collection::vec(1usize..700, 1..6),
    ) {
        let (wire, expected) = conversation(&steps, &masks, close);
        let mut buf = vec![0; 1024];
        let events = feed(&mut Session::new(), &mut buf, &wire, &reads);
        prop_assert_eq!(events, expected);
    }

    /// Arbitrary bytes, mostly frame-shaped: however they are split, the
    /// same events come out, and any error is answered by a Close frame
    /// with a code that may be sent.
    #[test]
    fn arbitrary_bytes_in_random_reads(
        pieces in proptest::collection::vec(prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..40),
            (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..130))
                .prop_map(|(first, payload)| frame(first, &payload)),
        ], 0..6),
        reads in proptest::collection::vec(1usize..64, 1..6),
    ) {
        let wire = pieces.concat();
        let mut buf = vec![0; 512];
        let whole = feed(&mut Session::new(), &mut buf, &wire, &[usize::MAX]);
        let pieces = feed(&mut Session::new(), &mut buf, &wire, &reads);
        prop_assert_eq!(&pieces, &whole);
        if let Some(at) = whole.iter().position(|e| matches!(e, Event::Failed(_))) {
            let Event::Failed(error) = whole[at] else { unreachable!() };
            let Some(Event::Out(close)) = whole.get(at + 1) else {
                panic!("no Close after {error:?}");
            };
            let code = u16::from_be_bytes([close[2], close[3]]);
            prop_assert_eq!(close[0], 0x88);
            prop_assert!(CloseCode::new(code).is_some());
            prop_assert_eq!(code, error.close_code().as_u16());
        }
    }
}
