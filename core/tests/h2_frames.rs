//! HTTP/2 frames against RFC 9113 §4 and §6: every type parsed from
//! hand-built bytes, every validation rule at its boundary, frames split
//! at every byte, and every encoder's output parsed back.

use peregrine_core::h2::frame::{
    CLIENT_PREFACE, ContinuationFrame, DEFAULT_MAX_FRAME_SIZE, DataFrame, EncodeError, ErrorCode,
    ErrorScope, FRAME_HEADER_LEN, Flags, Frame, FrameError, FrameErrorKind, FrameHeader, FrameType,
    GoAwayFrame, HeadersFrame, MAX_FRAME_SIZE_LIMIT, PingFrame, PrefaceStatus, Priority,
    PriorityFrame, PushPromiseFrame, RstStreamFrame, Setting, SettingId, Settings, SettingsFrame,
    StreamId, UnknownFrame, WindowUpdateFrame, detect_preface, encode_data_header, encode_goaway,
    encode_headers, encode_ping, encode_ping_ack, encode_rst_stream, encode_settings,
    encode_settings_ack, encode_window_update, encoded_headers_len, parse_frame,
};
use proptest::prelude::*;

const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const PRIORITY: u8 = 0x2;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PUSH_PROMISE: u8 = 0x5;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const WINDOW_UPDATE: u8 = 0x8;
const CONTINUATION: u8 = 0x9;

const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY_FLAG: u8 = 0x20;

const MAX: u32 = DEFAULT_MAX_FRAME_SIZE;

/// Stream `id`.
fn sid(id: u32) -> StreamId {
    StreamId::new(id).unwrap()
}

/// A frame's bytes: a header with `payload.len()` as its length, then the
/// payload. `stream` is written as is, reserved bit included.
fn wire(frame_type: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let length = u32::try_from(payload.len()).unwrap();
    let mut out = length.to_be_bytes()[1..].to_vec();
    out.push(frame_type);
    out.push(flags);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// A header alone, announcing `length` bytes of payload.
fn header_only(frame_type: u8, flags: u8, stream: u32, length: u32) -> Vec<u8> {
    let mut out = length.to_be_bytes()[1..].to_vec();
    out.push(frame_type);
    out.push(flags);
    out.extend_from_slice(&stream.to_be_bytes());
    out
}

/// Parses `bytes`, which must hold exactly one frame; checks that every
/// shorter prefix asks for more bytes and that bytes after the frame
/// change nothing.
fn parse_whole(bytes: &[u8], max_frame_size: u32) -> Frame<'_> {
    for split in 0..bytes.len() {
        assert_eq!(
            parse_frame(&bytes[..split], max_frame_size),
            Ok(None),
            "prefix of {split} bytes"
        );
    }
    let mut longer = bytes.to_vec();
    longer.extend_from_slice(b"\x00\x00\x00\x04");
    let (frame, consumed) = parse_frame(bytes, max_frame_size).unwrap().unwrap();
    assert_eq!(consumed, bytes.len());
    let (again, consumed) = parse_frame(&longer, max_frame_size).unwrap().unwrap();
    assert_eq!((again, consumed), (frame, bytes.len()));
    frame
}

/// The error parsing `bytes` gives, the same for every prefix that holds
/// the whole header; shorter prefixes ask for more bytes.
fn error_of(bytes: &[u8], max_frame_size: u32) -> FrameError {
    let error = parse_frame(bytes, max_frame_size).unwrap_err();
    for split in 0..bytes.len() {
        let prefix = parse_frame(&bytes[..split], max_frame_size);
        if split < FRAME_HEADER_LEN {
            assert_eq!(prefix, Ok(None));
        } else if let Err(early) = prefix {
            assert_eq!(early, error, "prefix of {split} bytes");
        }
    }
    assert_eq!(error.header, FrameHeader::parse(bytes).unwrap());
    error
}

/// Asserts `error` has this kind, code and scope.
#[track_caller]
fn assert_error(error: FrameError, kind: FrameErrorKind, code: ErrorCode, scope: ErrorScope) {
    assert_eq!(
        (error.kind, error.code(), error.scope),
        (kind, code, scope),
        "{error}"
    );
}

/// A connection error.
const CONN: ErrorScope = ErrorScope::Connection;

/// A stream error on stream `id`.
fn on(id: u32) -> ErrorScope {
    ErrorScope::Stream(sid(id))
}

/// A SETTINGS payload of `parameters`.
fn settings_payload(parameters: &[(u16, u32)]) -> Vec<u8> {
    parameters
        .iter()
        .flat_map(|(id, value)| id.to_be_bytes().into_iter().chain(value.to_be_bytes()))
        .collect()
}

// ---------------------------------------------------------------------
// Every type from hand-built bytes.

#[test]
fn data() {
    let bytes = wire(DATA, 0, 1, b"hello");
    assert_eq!(
        parse_whole(&bytes, MAX),
        Frame::Data(DataFrame {
            stream_id: sid(1),
            data: b"hello",
            end_stream: false,
            flow_controlled_len: 5,
        })
    );
    // Padded: pad length 3, "hi", three bytes of padding; END_STREAM.
    let bytes = wire(DATA, PADDED | END_STREAM, 3, b"\x03hi\x00\x00\x00");
    assert_eq!(
        parse_whole(&bytes, MAX),
        Frame::Data(DataFrame {
            stream_id: sid(3),
            data: b"hi",
            end_stream: true,
            flow_controlled_len: 6,
        })
    );
    // An empty DATA frame ending the stream.
    let bytes = wire(DATA, END_STREAM, 5, b"");
    let Frame::Data(frame) = parse_whole(&bytes, MAX) else {
        panic!()
    };
    assert!(frame.end_stream && frame.data.is_empty() && frame.flow_controlled_len == 0);
}

#[test]
fn headers() {
    let bytes = wire(HEADERS, END_HEADERS, 1, b"\x82\x86\x84");
    assert_eq!(
        parse_whole(&bytes, MAX),
        Frame::Headers(HeadersFrame {
            stream_id: sid(1),
            priority: None,
            fragment: b"\x82\x86\x84",
            end_stream: false,
            end_headers: true,
        })
    );
    // Padded, with priority: pad length 2, exclusive dependency on 3,
    // weight 255 + 1, fragment, padding.
    let payload = b"\x02\x80\x00\x00\x03\xff\x82\x86\x00\x00";
    let bytes = wire(HEADERS, PADDED | PRIORITY_FLAG | END_STREAM, 5, payload);
    let frame = parse_whole(&bytes, MAX);
    assert_eq!(
        frame,
        Frame::Headers(HeadersFrame {
            stream_id: sid(5),
            priority: Some(Priority {
                dependency: sid(3),
                exclusive: true,
                weight: 256
            }),
            fragment: b"\x82\x86",
            end_stream: true,
            end_headers: false,
        })
    );
    let Frame::Headers(headers) = frame else {
        panic!()
    };
    assert!(!headers.depends_on_itself());
    // Priority without padding, weight 0 + 1; a dependency on itself is
    // left to the connection, which must decode the block first.
    let bytes = wire(
        HEADERS,
        PRIORITY_FLAG | END_HEADERS,
        7,
        b"\x00\x00\x00\x07\x00\x88",
    );
    let Frame::Headers(headers) = parse_whole(&bytes, MAX) else {
        panic!()
    };
    assert_eq!(
        headers.priority,
        Some(Priority {
            dependency: sid(7),
            exclusive: false,
            weight: 1
        })
    );
    assert_eq!(headers.fragment, b"\x88");
    assert!(headers.depends_on_itself());
}

#[test]
fn priority() {
    let bytes = wire(PRIORITY, 0, 3, b"\x80\x00\x00\x01\x0f");
    assert_eq!(
        parse_whole(&bytes, MAX),
        Frame::Priority(PriorityFrame {
            stream_id: sid(3),
            priority: Priority {
                dependency: sid(1),
                exclusive: true,
                weight: 16
            },
        })
    );
    // On an idle stream, a dependency on stream 0: fine.
    let bytes = wire(PRIORITY, 0, 101, b"\x00\x00\x00\x00\x00");
    assert!(matches!(parse_whole(&bytes, MAX), Frame::Priority(_)));
}

#[test]
fn rst_stream() {
    let bytes = wire(RST_STREAM, 0, 1, b"\x00\x00\x00\x08");
    assert_eq!(
        parse_whole(&bytes, MAX),
        Frame::RstStream(RstStreamFrame {
            stream_id: sid(1),
            error_code: ErrorCode::Cancel
        })
    );
    // An unknown code is kept as received.
    let bytes = wire(RST_STREAM, 0, 1, b"\xde\xad\xbe\xef");
    let Frame::RstStream(frame) = parse_whole(&bytes, MAX) else {
        panic!()
    };
    assert_eq!(frame.error_code, ErrorCode::Unknown(0xdead_beef));
    assert_eq!(frame.error_code.as_u32(), 0xdead_beef);
}

#[test]
fn settings() {
    let payload = settings_payload(&[
        (0x1, 0),
        (0x3, 100),
        (0x4, 1 << 20),
        (0x99, 7),
        (0x5, 20_000),
    ]);
    let bytes = wire(SETTINGS, 0, 0, &payload);
    let Frame::Settings(SettingsFrame::Parameters(parameters)) = parse_whole(&bytes, MAX) else {
        panic!()
    };
    assert_eq!(parameters.raw_count(), 5);
    let known: Vec<Setting> = parameters.iter().collect();
    assert_eq!(
        known,
        [
            Setting::HeaderTableSize(0),
            Setting::MaxConcurrentStreams(100),
            Setting::InitialWindowSize(1 << 20),
            Setting::MaxFrameSize(20_000),
        ]
    );
    let mut peer = Settings::DEFAULT;
    peer.apply_all(parameters);
    assert_eq!(
        peer,
        Settings {
            header_table_size: 0,
            max_concurrent_streams: Some(100),
            initial_window_size: 1 << 20,
            max_frame_size: 20_000,
            ..Settings::DEFAULT
        }
    );
    // Empty, and the acknowledgement.
    let bytes = wire(SETTINGS, 0, 0, b"");
    let Frame::Settings(SettingsFrame::Parameters(parameters)) = parse_whole(&bytes, MAX) else {
        panic!()
    };
    assert_eq!(parameters.iter().count(), 0);
    let bytes = wire(SETTINGS, ACK, 0, b"");
    assert_eq!(
        parse_whole(&bytes, MAX),
        Frame::Settings(SettingsFrame::Ack)
    );
}

#[test]
fn push_promise() {
    // Padded by 1; the promised stream's reserved bit set, and ignored.
    let bytes = wire(
        PUSH_PROMISE,
        PADDED | END_HEADERS,
        1,
        b"\x01\x80\x00\x00\x02\x82\x00",
    );
    assert_eq!(
        parse_whole(&bytes, MAX),
        Frame::PushPromise(PushPromiseFrame {
            stream_id: sid(1),
            promised_stream_id: sid(2),
            fragment: b"\x82",
            end_headers: true,
        })
    );
    let bytes = wire(PUSH_PROMISE, 0, 3, b"\x00\x00\x00\x04");
    let Frame::PushPromise(frame) = parse_whole(&bytes, MAX) else {
        panic!()
    };
    assert_eq!(
        (frame.promised_stream_id, frame.fragment, frame.end_headers),
        (sid(4), &b""[..], false)
    );
}

#[test]
fn ping() {
    let bytes = wire(PING, 0, 0, b"\x01\x02\x03\x04\x05\x06\x07\x08");
    assert_eq!(
        parse_whole(&bytes, MAX),
        Frame::Ping(PingFrame {
            ack: false,
            opaque_data: [1, 2, 3, 4, 5, 6, 7, 8]
        })
    );
    let bytes = wire(PING, ACK, 0, b"abcdefgh");
    assert_eq!(
        parse_whole(&bytes, MAX),
        Frame::Ping(PingFrame {
            ack: true,
            opaque_data: *b"abcdefgh"
        })
    );
}

#[test]
fn goaway() {
    let bytes = wire(GOAWAY, 0, 0, b"\x00\x00\x00\x05\x00\x00\x00\x0bcalm down");
    assert_eq!(
        parse_whole(&bytes, MAX),
        Frame::GoAway(GoAwayFrame {
            last_stream_id: sid(5),
            error_code: ErrorCode::EnhanceYourCalm,
            debug_data: b"calm down",
        })
    );
    // The reserved bit of the last stream ignored; an unknown code kept.
    let bytes = wire(GOAWAY, 0, 0, b"\xff\xff\xff\xff\x00\x00\x01\x00");
    assert_eq!(
        parse_whole(&bytes, MAX),
        Frame::GoAway(GoAwayFrame {
            last_stream_id: StreamId::MAX,
            error_code: ErrorCode::Unknown(0x100),
            debug_data: b"",
        })
    );
}

#[test]
fn window_update() {
    let bytes = wire(WINDOW_UPDATE, 0, 0, b"\x00\x01\x00\x00");
    assert_eq!(
        parse_whole(&bytes, MAX),
        Frame::WindowUpdate(WindowUpdateFrame {
            stream_id: StreamId::CONNECTION,
            increment: 65_536
        })
    );
    // The largest increment, with the reserved bit set (ignored).
    let bytes = wire(WINDOW_UPDATE, 0, 9, b"\xff\xff\xff\xff");
    assert_eq!(
        parse_whole(&bytes, MAX),
        Frame::WindowUpdate(WindowUpdateFrame {
            stream_id: sid(9),
            increment: (1 << 31) - 1
        })
    );
}

#[test]
fn continuation() {
    let bytes = wire(CONTINUATION, END_HEADERS, 1, b"\x84");
    assert_eq!(
        parse_whole(&bytes, MAX),
        Frame::Continuation(ContinuationFrame {
            stream_id: sid(1),
            fragment: b"\x84",
            end_headers: true
        })
    );
    let bytes = wire(CONTINUATION, 0, 1, b"");
    let Frame::Continuation(frame) = parse_whole(&bytes, MAX) else {
        panic!()
    };
    assert!(!frame.end_headers && frame.fragment.is_empty());
}

#[test]
fn unknown_types_are_parsed_to_be_ignored() {
    for (frame_type, stream) in [(0xa, 0), (0x10, 3), (0xff, 0x7fff_ffff)] {
        let bytes = wire(frame_type, 0xff, stream, b"extension");
        let frame = parse_whole(&bytes, MAX);
        assert_eq!(
            frame,
            Frame::Unknown(UnknownFrame {
                frame_type,
                flags: Flags::from_bits(0xff),
                stream_id: sid(stream),
                payload: b"extension",
            })
        );
        assert_eq!(frame.frame_type(), FrameType::Unknown(frame_type));
        assert_eq!(frame.stream_id(), sid(stream));
    }
}

#[test]
fn reserved_bit_and_undefined_flags_are_ignored() {
    // Stream 0x80000001 is stream 1; flags PRIORITY and 0x2 mean nothing
    // on DATA.
    let bytes = wire(DATA, 0x22 | END_STREAM, 0x8000_0001, b"x");
    let Frame::Data(frame) = parse_whole(&bytes, MAX) else {
        panic!()
    };
    assert_eq!(
        (frame.stream_id, frame.data, frame.end_stream),
        (sid(1), &b"x"[..], true)
    );
    // PING's bit 0x80 means nothing either; the reserved bit of stream 0.
    let bytes = wire(PING, 0x80, 0x8000_0000, b"12345678");
    assert_eq!(
        parse_whole(&bytes, MAX),
        Frame::Ping(PingFrame {
            ack: false,
            opaque_data: *b"12345678"
        })
    );
}

#[test]
fn frame_types_and_codes_round_trip() {
    for code in 0..=u8::MAX {
        let frame_type = FrameType::from_u8(code);
        assert_eq!(frame_type.as_u8(), code);
        assert_eq!(matches!(frame_type, FrameType::Unknown(_)), code > 0x9);
    }
    for code in (0..=0x20).chain([u32::MAX]) {
        let error_code = ErrorCode::from_u32(code);
        assert_eq!(error_code.as_u32(), code);
        assert_eq!(
            matches!(error_code, ErrorCode::Unknown(_)),
            code > 0xd,
            "{code}"
        );
    }
}

// ---------------------------------------------------------------------
// Every rule at its boundary.

#[test]
fn max_frame_size_boundary() {
    // 16,384 bytes of DATA pass; 16,385 reset the stream, from the header
    // alone.
    let bytes = wire(DATA, 0, 1, &[7; 16_384]);
    assert!(matches!(
        parse_frame(&bytes, MAX),
        Ok(Some((Frame::Data(_), 16_393)))
    ));
    let bytes = wire(DATA, 0, 1, &[7; 16_385]);
    let error = error_of(&bytes, MAX);
    assert_error(
        error,
        FrameErrorKind::TooLarge,
        ErrorCode::FrameSizeError,
        on(1),
    );
    assert_eq!(error.frame_len(), bytes.len());
    // With a larger limit, the same frame passes.
    assert!(matches!(
        parse_frame(&bytes, MAX + 1),
        Ok(Some((Frame::Data(_), 16_394)))
    ));

    // Frames that change the connection's state: connection errors.
    for (frame_type, stream) in [(HEADERS, 1), (CONTINUATION, 1), (PUSH_PROMISE, 1), (0xb, 0)] {
        let error = error_of(&header_only(frame_type, 0, stream, MAX + 1), MAX);
        assert_error(
            error,
            FrameErrorKind::TooLarge,
            ErrorCode::FrameSizeError,
            CONN,
        );
    }
    let error = error_of(&header_only(SETTINGS, 0, 0, 16_386), MAX); // 6 × 2731
    assert_error(
        error,
        FrameErrorKind::TooLarge,
        ErrorCode::FrameSizeError,
        CONN,
    );
    // An extension frame on a stream: a stream error.
    let error = error_of(&header_only(0xb, 0, 3, MAX + 1), MAX);
    assert_error(
        error,
        FrameErrorKind::TooLarge,
        ErrorCode::FrameSizeError,
        on(3),
    );
    // HEADERS of exactly the limit: waits for the rest.
    assert_eq!(parse_frame(&header_only(HEADERS, 0, 1, MAX), MAX), Ok(None));
}

#[test]
fn max_frame_size_ceiling() {
    // The largest length the field holds, against the largest limit.
    let bytes = wire(DATA, 0, 1, &vec![0; 16_777_215]);
    let (frame, consumed) = parse_frame(&bytes, MAX_FRAME_SIZE_LIMIT).unwrap().unwrap();
    assert_eq!(consumed, 9 + 16_777_215);
    let Frame::Data(frame) = frame else { panic!() };
    assert_eq!(frame.flow_controlled_len, MAX_FRAME_SIZE_LIMIT);
    assert_eq!(
        parse_frame(&bytes[..bytes.len() - 1], MAX_FRAME_SIZE_LIMIT),
        Ok(None)
    );
    // One below the ceiling refuses it.
    let error = error_of(&bytes[..9], MAX_FRAME_SIZE_LIMIT - 1);
    assert_error(
        error,
        FrameErrorKind::TooLarge,
        ErrorCode::FrameSizeError,
        on(1),
    );
    assert_eq!(error.frame_len(), 9 + 16_777_215);
}

#[test]
fn data_padding_boundary() {
    // A payload of 6: the pad length byte and 5 more. Padding of 5 leaves
    // no data; 6 (the payload length) and 7 are too long.
    let bytes = wire(DATA, PADDED, 1, b"\x05\x00\x00\x00\x00\x00");
    let Frame::Data(frame) = parse_whole(&bytes, MAX) else {
        panic!()
    };
    assert_eq!((frame.data, frame.flow_controlled_len), (&b""[..], 6));
    for pad in [6, 7, 255] {
        let bytes = wire(DATA, PADDED, 1, &[pad, 0, 0, 0, 0, 0]);
        let error = error_of(&bytes, MAX);
        assert_error(
            error,
            FrameErrorKind::PaddingTooLong,
            ErrorCode::ProtocolError,
            CONN,
        );
    }
    // Padded with no room for the pad length: too short.
    let error = error_of(&wire(DATA, PADDED, 1, b""), MAX);
    assert_error(
        error,
        FrameErrorKind::InvalidLength,
        ErrorCode::FrameSizeError,
        on(1),
    );
    // The pad length alone: no data, no padding.
    let bytes = wire(DATA, PADDED, 1, b"\x00");
    let Frame::Data(frame) = parse_whole(&bytes, MAX) else {
        panic!()
    };
    assert!(frame.data.is_empty());
}

#[test]
fn headers_padding_and_priority_boundaries() {
    // Payload: pad length, 5 priority bytes, 2 bytes left for fragment
    // and padding. Padding 2 is fine, 3 is not.
    let ok = wire(
        HEADERS,
        PADDED | PRIORITY_FLAG,
        1,
        b"\x02\x00\x00\x00\x00\x00\x00\x00",
    );
    let Frame::Headers(frame) = parse_whole(&ok, MAX) else {
        panic!()
    };
    assert!(frame.fragment.is_empty() && frame.priority.is_some());
    let bad = wire(
        HEADERS,
        PADDED | PRIORITY_FLAG,
        1,
        b"\x03\x00\x00\x00\x00\x00\x00\x00",
    );
    assert_error(
        error_of(&bad, MAX),
        FrameErrorKind::PaddingTooLong,
        ErrorCode::ProtocolError,
        CONN,
    );
    // Without priority: padding up to the rest of the payload.
    let ok = wire(HEADERS, PADDED, 1, b"\x02\x00\x00");
    assert!(matches!(
        parse_whole(&ok, MAX),
        Frame::Headers(HeadersFrame { fragment: b"", .. })
    ));
    let bad = wire(HEADERS, PADDED, 1, b"\x03\x00\x00");
    assert_error(
        error_of(&bad, MAX),
        FrameErrorKind::PaddingTooLong,
        ErrorCode::ProtocolError,
        CONN,
    );
    // Too short for the fields the flags announce: a connection error.
    for (flags, length) in [(PRIORITY_FLAG, 4), (PADDED, 0), (PADDED | PRIORITY_FLAG, 5)] {
        let error = error_of(&header_only(HEADERS, flags, 1, length), MAX);
        assert_error(
            error,
            FrameErrorKind::InvalidLength,
            ErrorCode::FrameSizeError,
            CONN,
        );
    }
    assert!(matches!(
        parse_whole(&wire(HEADERS, PRIORITY_FLAG, 1, &[0, 0, 0, 3, 9]), MAX),
        Frame::Headers(HeadersFrame {
            fragment: b"",
            priority: Some(_),
            ..
        })
    ));
}

#[test]
fn push_promise_boundaries() {
    let ok = wire(PUSH_PROMISE, PADDED, 1, b"\x02\x00\x00\x00\x02\x00\x00");
    assert!(matches!(
        parse_whole(&ok, MAX),
        Frame::PushPromise(PushPromiseFrame { fragment: b"", .. })
    ));
    let bad = wire(PUSH_PROMISE, PADDED, 1, b"\x03\x00\x00\x00\x02\x00\x00");
    assert_error(
        error_of(&bad, MAX),
        FrameErrorKind::PaddingTooLong,
        ErrorCode::ProtocolError,
        CONN,
    );
    for (flags, length) in [(0, 3), (PADDED, 4)] {
        let error = error_of(&header_only(PUSH_PROMISE, flags, 1, length), MAX);
        assert_error(
            error,
            FrameErrorKind::InvalidLength,
            ErrorCode::FrameSizeError,
            CONN,
        );
    }
}

#[test]
fn settings_boundaries() {
    // Length 6n passes, 6n + 1 (and every other non-multiple) does not.
    for n in 0..4 {
        let payload = settings_payload(&vec![(0x3, 1); n]);
        assert!(matches!(
            parse_whole(&wire(SETTINGS, 0, 0, &payload), MAX),
            Frame::Settings(_)
        ));
        for extra in 1..6 {
            let mut payload = payload.clone();
            payload.extend(std::iter::repeat_n(0, extra));
            let error = error_of(&wire(SETTINGS, 0, 0, &payload), MAX);
            assert_error(
                error,
                FrameErrorKind::InvalidLength,
                ErrorCode::FrameSizeError,
                CONN,
            );
        }
    }
    // An acknowledgement with a payload, even a valid-looking one.
    for length in [1, 6] {
        let error = error_of(&wire(SETTINGS, ACK, 0, &vec![0; length]), MAX);
        assert_error(
            error,
            FrameErrorKind::SettingsAckWithPayload,
            ErrorCode::FrameSizeError,
            CONN,
        );
    }
    // On a stream.
    let error = error_of(&wire(SETTINGS, 0, 1, b""), MAX);
    assert_error(
        error,
        FrameErrorKind::StreamIdNotZero,
        ErrorCode::ProtocolError,
        CONN,
    );
    let error = error_of(&wire(SETTINGS, ACK, 1, b""), MAX);
    assert_error(
        error,
        FrameErrorKind::StreamIdNotZero,
        ErrorCode::ProtocolError,
        CONN,
    );
}

#[test]
fn settings_value_boundaries() {
    let passes = |id: u16, value: u32| {
        let bytes = wire(SETTINGS, 0, 0, &settings_payload(&[(0x3, 9), (id, value)]));
        matches!(
            parse_whole(&bytes, MAX),
            Frame::Settings(SettingsFrame::Parameters(_))
        )
    };
    let refused = |id: u16, value: u32| {
        let bytes = wire(SETTINGS, 0, 0, &settings_payload(&[(0x3, 9), (id, value)]));
        let error = error_of(&bytes, MAX);
        assert!(error.scope.is_connection());
        let FrameErrorKind::InvalidSetting(setting) = error.kind else {
            panic!("{error}")
        };
        (setting, error.code())
    };
    assert!(passes(0x2, 0) && passes(0x2, 1));
    assert_eq!(
        refused(0x2, 2),
        (SettingId::EnablePush, ErrorCode::ProtocolError)
    );
    assert!(passes(0x4, (1 << 31) - 1));
    assert_eq!(
        refused(0x4, 1 << 31),
        (SettingId::InitialWindowSize, ErrorCode::FlowControlError)
    );
    assert_eq!(
        refused(0x4, u32::MAX),
        (SettingId::InitialWindowSize, ErrorCode::FlowControlError)
    );
    assert_eq!(
        refused(0x5, 16_383),
        (SettingId::MaxFrameSize, ErrorCode::ProtocolError)
    );
    assert!(passes(0x5, 16_384) && passes(0x5, 16_777_215));
    assert_eq!(
        refused(0x5, 16_777_216),
        (SettingId::MaxFrameSize, ErrorCode::ProtocolError)
    );
    assert_eq!(
        refused(0x8, 2),
        (SettingId::EnableConnectProtocol, ErrorCode::ProtocolError)
    );
    assert!(passes(0x8, 1) && passes(0x9, 1) && passes(0x1, u32::MAX) && passes(0x6, 0));
    // Unknown identifiers are ignored whatever their value.
    assert!(passes(0x0, u32::MAX) && passes(0x7, 5) && passes(0xffff, 2));
}

#[test]
fn ping_boundaries() {
    for length in [0, 7, 9, 16] {
        let error = error_of(&wire(PING, 0, 0, &vec![0; length]), MAX);
        assert_error(
            error,
            FrameErrorKind::InvalidLength,
            ErrorCode::FrameSizeError,
            CONN,
        );
    }
    let error = error_of(&wire(PING, 0, 1, &[0; 8]), MAX);
    assert_error(
        error,
        FrameErrorKind::StreamIdNotZero,
        ErrorCode::ProtocolError,
        CONN,
    );
}

#[test]
fn priority_boundaries() {
    for length in [4, 6] {
        let error = error_of(&wire(PRIORITY, 0, 3, &vec![0; length]), MAX);
        assert_error(
            error,
            FrameErrorKind::InvalidLength,
            ErrorCode::FrameSizeError,
            on(3),
        );
        assert_eq!(error.frame_len(), 9 + length);
    }
    let error = error_of(&wire(PRIORITY, 0, 0, &[0; 5]), MAX);
    assert_error(
        error,
        FrameErrorKind::StreamIdZero,
        ErrorCode::ProtocolError,
        CONN,
    );
    // A stream depending on itself, exclusive or not.
    for first in [0x00, 0x80] {
        let error = error_of(&wire(PRIORITY, 0, 3, &[first, 0, 0, 3, 0]), MAX);
        assert_error(
            error,
            FrameErrorKind::SelfDependency,
            ErrorCode::ProtocolError,
            on(3),
        );
    }
}

#[test]
fn rst_stream_and_window_update_lengths() {
    for (frame_type, stream) in [(RST_STREAM, 1), (WINDOW_UPDATE, 0), (WINDOW_UPDATE, 1)] {
        for length in [3, 5] {
            let error = error_of(&wire(frame_type, 0, stream, &vec![0; length]), MAX);
            assert_error(
                error,
                FrameErrorKind::InvalidLength,
                ErrorCode::FrameSizeError,
                CONN,
            );
        }
    }
    let error = error_of(&wire(RST_STREAM, 0, 0, &[0; 4]), MAX);
    assert_error(
        error,
        FrameErrorKind::StreamIdZero,
        ErrorCode::ProtocolError,
        CONN,
    );
}

#[test]
fn window_update_increment_of_zero() {
    // On a stream: that stream's error; on stream 0: the connection's.
    // The reserved bit alone is still 0.
    for increment in [b"\x00\x00\x00\x00", b"\x80\x00\x00\x00"] {
        let error = error_of(&wire(WINDOW_UPDATE, 0, 5, increment), MAX);
        assert_error(
            error,
            FrameErrorKind::ZeroWindowIncrement,
            ErrorCode::ProtocolError,
            on(5),
        );
        let error = error_of(&wire(WINDOW_UPDATE, 0, 0, increment), MAX);
        assert_error(
            error,
            FrameErrorKind::ZeroWindowIncrement,
            ErrorCode::ProtocolError,
            CONN,
        );
    }
    let bytes = wire(WINDOW_UPDATE, 0, 5, b"\x00\x00\x00\x01");
    let Frame::WindowUpdate(frame) = parse_whole(&bytes, MAX) else {
        panic!()
    };
    assert_eq!(frame.increment, 1);
}

#[test]
fn goaway_boundaries() {
    let error = error_of(&wire(GOAWAY, 0, 0, &[0; 7]), MAX);
    assert_error(
        error,
        FrameErrorKind::InvalidLength,
        ErrorCode::FrameSizeError,
        CONN,
    );
    assert!(matches!(
        parse_whole(&wire(GOAWAY, 0, 0, &[0; 8]), MAX),
        Frame::GoAway(_)
    ));
    let error = error_of(&wire(GOAWAY, 0, 1, &[0; 8]), MAX);
    assert_error(
        error,
        FrameErrorKind::StreamIdNotZero,
        ErrorCode::ProtocolError,
        CONN,
    );
}

#[test]
fn stream_frames_on_stream_zero() {
    for frame_type in [
        DATA,
        HEADERS,
        PRIORITY,
        RST_STREAM,
        PUSH_PROMISE,
        CONTINUATION,
    ] {
        let error = error_of(&header_only(frame_type, 0, 0, 5), MAX);
        assert_error(
            error,
            FrameErrorKind::StreamIdZero,
            ErrorCode::ProtocolError,
            CONN,
        );
        // Whatever the reserved bit says.
        let error = error_of(&header_only(frame_type, 0, 0x8000_0000, 5), MAX);
        assert_eq!(error.kind, FrameErrorKind::StreamIdZero);
    }
}

#[test]
fn skipping_a_frame_after_a_stream_error() {
    // An oversized DATA frame then a PING: the caller skips the first and
    // carries on.
    let mut bytes = wire(DATA, 0, 1, &[0; 100]);
    bytes.extend(wire(PING, 0, 0, b"pingpong"));
    let error = parse_frame(&bytes, 50).unwrap_err();
    assert_eq!(error.scope, on(1));
    let rest = &bytes[error.frame_len()..];
    assert!(matches!(
        parse_frame(rest, 50),
        Ok(Some((Frame::Ping(_), 17)))
    ));
    assert!(
        error.to_string().contains("DATA frame on stream 1"),
        "{error}"
    );
}

#[test]
fn frames_in_a_row_split_at_every_byte() {
    let mut bytes = CLIENT_PREFACE.to_vec();
    let frames = [
        wire(
            SETTINGS,
            0,
            0,
            &settings_payload(&[(0x2, 0), (0x4, 1 << 20)]),
        ),
        wire(WINDOW_UPDATE, 0, 0, b"\x00\x0f\x00\x01"),
        wire(
            HEADERS,
            PADDED | PRIORITY_FLAG,
            1,
            b"\x01\x00\x00\x00\x00\x0f\x82\x00",
        ),
        wire(CONTINUATION, END_HEADERS, 1, b"\x86\x84"),
        wire(DATA, PADDED | END_STREAM, 1, b"\x02body\x00\x00"),
        wire(PING, 0, 0, b"\x00\x01\x02\x03\x04\x05\x06\x07"),
        wire(0x42, 0x1, 7, b"extension"),
        wire(GOAWAY, 0, 0, b"\x00\x00\x00\x01\x00\x00\x00\x00bye"),
    ];
    for frame in &frames {
        bytes.extend_from_slice(frame);
    }
    // Whole: every frame, one after the other.
    assert_eq!(detect_preface(&bytes), PrefaceStatus::Matched);
    let mut rest = &bytes[CLIENT_PREFACE.len()..];
    let mut whole = Vec::new();
    while let Some((frame, consumed)) = parse_frame(rest, MAX).unwrap() {
        whole.push(frame);
        rest = &rest[consumed..];
    }
    assert!(rest.is_empty());
    assert_eq!(whole.len(), frames.len());
    // Received in two reads split anywhere: before the split, the frames
    // wholly in the first read; after it, the same frames in all.
    for split in 0..=bytes.len() {
        let first = &bytes[..split];
        let mut offset = 0;
        let mut seen = Vec::new();
        if detect_preface(first) == PrefaceStatus::Partial {
            assert!(split < CLIENT_PREFACE.len());
            continue;
        }
        offset += CLIENT_PREFACE.len();
        while let Some((frame, consumed)) = parse_frame(&first[offset..], MAX).unwrap() {
            seen.push(frame);
            offset += consumed;
        }
        assert_eq!(seen[..], whole[..seen.len()], "split at {split}");
        while let Some((frame, consumed)) = parse_frame(&bytes[offset..], MAX).unwrap() {
            seen.push(frame);
            offset += consumed;
        }
        assert_eq!(seen, whole, "split at {split}");
    }
}

// ---------------------------------------------------------------------
// Encoding, and parsing back what was encoded.

/// Parses `bytes[..len]`, which must be one frame.
fn parse_encoded(bytes: &[u8]) -> Frame<'_> {
    parse_whole(bytes, MAX_FRAME_SIZE_LIMIT)
}

#[test]
fn settings_round_trip() {
    let mut buf = [0; 128];
    let all = [
        Setting::HeaderTableSize(0),
        Setting::EnablePush(false),
        Setting::MaxConcurrentStreams(250),
        Setting::InitialWindowSize((1 << 31) - 1),
        Setting::MaxFrameSize(MAX_FRAME_SIZE_LIMIT),
        Setting::MaxHeaderListSize(65_536),
        Setting::EnableConnectProtocol(true),
        Setting::NoRfc7540Priorities(true),
    ];
    for count in 0..=all.len() {
        let len = encode_settings(&mut buf, &all[..count]).unwrap();
        assert_eq!(len, 9 + 6 * count);
        let Frame::Settings(SettingsFrame::Parameters(parameters)) = parse_encoded(&buf[..len])
        else {
            panic!()
        };
        assert!(parameters.iter().eq(all[..count].iter().copied()));
    }
    let len = encode_settings_ack(&mut buf).unwrap();
    assert_eq!(
        parse_encoded(&buf[..len]),
        Frame::Settings(SettingsFrame::Ack)
    );

    // Our settings against the defaults, sent and applied by the peer.
    let ours = Settings {
        max_concurrent_streams: Some(100),
        initial_window_size: 1 << 24,
        ..Settings::DEFAULT
    };
    let changes: Vec<Setting> = ours.changes_from(&Settings::DEFAULT).collect();
    let len = encode_settings(&mut buf, &changes).unwrap();
    let Frame::Settings(SettingsFrame::Parameters(parameters)) = parse_encoded(&buf[..len]) else {
        panic!()
    };
    let mut seen_by_peer = Settings::DEFAULT;
    seen_by_peer.apply_all(parameters);
    assert_eq!(seen_by_peer, ours);
}

#[test]
fn settings_encoder_refuses_what_the_peer_would() {
    let mut buf = [0; 64];
    for (setting, id) in [
        (
            Setting::InitialWindowSize(1 << 31),
            SettingId::InitialWindowSize,
        ),
        (Setting::MaxFrameSize(16_383), SettingId::MaxFrameSize),
        (Setting::MaxFrameSize(1 << 24), SettingId::MaxFrameSize),
    ] {
        assert_eq!(
            encode_settings(&mut buf, &[Setting::EnablePush(false), setting]),
            Err(EncodeError::InvalidSetting(id))
        );
    }
    assert_eq!(
        encode_settings(&mut buf[..14], &[Setting::EnablePush(false)]),
        Err(EncodeError::BufferTooSmall { needed: 15 })
    );
    assert_eq!(
        encode_settings_ack(&mut buf[..8]),
        Err(EncodeError::BufferTooSmall { needed: 9 })
    );
}

#[test]
fn ping_round_trip() {
    let mut buf = [0; 17];
    let len = encode_ping(&mut buf, *b"12345678").unwrap();
    assert_eq!(
        parse_encoded(&buf[..len]),
        Frame::Ping(PingFrame {
            ack: false,
            opaque_data: *b"12345678"
        })
    );
    // The answer to a received PING echoes its data.
    let received = wire(PING, 0, 0, b"\xffopaque\x00");
    let Frame::Ping(ping) = parse_encoded(&received) else {
        panic!()
    };
    let len = encode_ping_ack(&mut buf, ping.opaque_data).unwrap();
    assert_eq!(len, 17);
    assert_eq!(&buf[..], &wire(PING, ACK, 0, b"\xffopaque\x00")[..]);
    assert_eq!(
        parse_encoded(&buf[..len]),
        Frame::Ping(PingFrame {
            ack: true,
            opaque_data: ping.opaque_data
        })
    );
    assert_eq!(
        encode_ping_ack(&mut buf[..16], [0; 8]),
        Err(EncodeError::BufferTooSmall { needed: 17 })
    );
}

#[test]
fn goaway_round_trip() {
    let mut buf = [0; 64];
    for (last, code, debug) in [
        (StreamId::CONNECTION, ErrorCode::NoError, &b""[..]),
        (sid(7), ErrorCode::ProtocolError, b"frame too large"),
        (StreamId::MAX, ErrorCode::Unknown(0x1234_5678), b"\x00\xff"),
    ] {
        let len = encode_goaway(&mut buf, last, code, debug).unwrap();
        assert_eq!(len, 17 + debug.len());
        assert_eq!(
            parse_encoded(&buf[..len]),
            Frame::GoAway(GoAwayFrame {
                last_stream_id: last,
                error_code: code,
                debug_data: debug
            })
        );
    }
    assert_eq!(
        encode_goaway(&mut buf[..20], sid(1), ErrorCode::NoError, b"four"),
        Err(EncodeError::BufferTooSmall { needed: 21 })
    );
    let huge = vec![0; (1 << 24) - 8];
    assert_eq!(
        encode_goaway(&mut buf, sid(1), ErrorCode::NoError, &huge),
        Err(EncodeError::PayloadTooLarge)
    );
}

#[test]
fn rst_stream_round_trip() {
    let mut buf = [0; 13];
    for code in [
        ErrorCode::Cancel,
        ErrorCode::RefusedStream,
        ErrorCode::Unknown(0xffff_ffff),
    ] {
        let len = encode_rst_stream(&mut buf, sid(3), code).unwrap();
        assert_eq!(len, 13);
        assert_eq!(
            parse_encoded(&buf[..len]),
            Frame::RstStream(RstStreamFrame {
                stream_id: sid(3),
                error_code: code
            })
        );
    }
    assert_eq!(
        encode_rst_stream(&mut buf, StreamId::CONNECTION, ErrorCode::Cancel),
        Err(EncodeError::StreamIdZero)
    );
}

#[test]
fn window_update_round_trip() {
    let mut buf = [0; 13];
    for (stream, increment) in [
        (StreamId::CONNECTION, 1),
        (sid(1), 65_535),
        (StreamId::MAX, (1 << 31) - 1),
    ] {
        let len = encode_window_update(&mut buf, stream, increment).unwrap();
        assert_eq!(
            parse_encoded(&buf[..len]),
            Frame::WindowUpdate(WindowUpdateFrame {
                stream_id: stream,
                increment
            })
        );
    }
    for increment in [0, 1 << 31, u32::MAX] {
        assert_eq!(
            encode_window_update(&mut buf, sid(1), increment),
            Err(EncodeError::InvalidWindowIncrement)
        );
    }
    assert_eq!(
        encode_window_update(&mut buf[..12], sid(1), 1),
        Err(EncodeError::BufferTooSmall { needed: 13 })
    );
}

#[test]
fn data_header_round_trip() {
    for (len, end_stream) in [(0, true), (1, false), (16_384, true)] {
        let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let header = encode_data_header(sid(5), len, end_stream).unwrap();
        let bytes = [&header[..], &payload].concat();
        assert_eq!(
            parse_frame(&bytes, MAX).unwrap().unwrap(),
            (
                Frame::Data(DataFrame {
                    stream_id: sid(5),
                    data: &payload,
                    end_stream,
                    flow_controlled_len: len as u32,
                }),
                bytes.len()
            )
        );
    }
    let header = encode_data_header(sid(1), 16_777_215, false).unwrap();
    assert_eq!(FrameHeader::parse(&header).unwrap().length, 16_777_215);
    assert_eq!(
        encode_data_header(sid(1), 1 << 24, false),
        Err(EncodeError::PayloadTooLarge)
    );
    assert_eq!(
        encode_data_header(StreamId::CONNECTION, 1, false),
        Err(EncodeError::StreamIdZero)
    );
}

/// Parses the HEADERS and CONTINUATION frames in `bytes`, checking their
/// flags and sizes; returns the reassembled block and the frame count.
fn reassemble(
    bytes: &[u8],
    stream: StreamId,
    end_stream: bool,
    max_frame_size: u32,
) -> (Vec<u8>, usize) {
    let mut block = Vec::new();
    let mut rest = bytes;
    let mut frames = 0;
    while let Some((frame, consumed)) = parse_frame(rest, max_frame_size).unwrap() {
        rest = &rest[consumed..];
        let last = rest.is_empty();
        let (fragment, end_headers) = match frame {
            Frame::Headers(headers) => {
                assert_eq!(frames, 0, "HEADERS after the first frame");
                assert_eq!(
                    (headers.stream_id, headers.end_stream, headers.priority),
                    (stream, end_stream, None)
                );
                (headers.fragment, headers.end_headers)
            }
            Frame::Continuation(continuation) => {
                assert!(frames > 0, "CONTINUATION first");
                assert_eq!(continuation.stream_id, stream);
                (continuation.fragment, continuation.end_headers)
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(end_headers, last, "END_HEADERS on the last frame only");
        assert!(fragment.len() <= max_frame_size as usize);
        if !last {
            assert_eq!(
                fragment.len(),
                max_frame_size as usize,
                "frames filled but the last"
            );
        }
        block.extend_from_slice(fragment);
        frames += 1;
    }
    assert!(rest.is_empty());
    (block, frames)
}

#[test]
fn headers_split_at_exact_multiples_of_the_frame_size() {
    let mut buf = vec![0; 3 * 16_384 + 4 * 9];
    for (block_len, frames) in [
        (0, 1),
        (1, 1),
        (16_383, 1),
        (16_384, 1),
        (16_385, 2),
        (32_768, 2),
        (32_769, 3),
        (49_152, 3),
    ] {
        let block: Vec<u8> = (0..block_len).map(|i| (i * 7) as u8).collect();
        for end_stream in [false, true] {
            let len = encode_headers(&mut buf, sid(1), &block, end_stream, MAX).unwrap();
            assert_eq!(len, block_len + 9 * frames);
            assert_eq!(encoded_headers_len(block_len, MAX), len);
            let (reassembled, count) = reassemble(&buf[..len], sid(1), end_stream, MAX);
            assert_eq!((reassembled, count), (block.clone(), frames), "{block_len}");
        }
    }
}

#[test]
fn headers_split_by_small_and_large_frame_sizes() {
    let block: Vec<u8> = (0..=255).collect();
    let mut buf = vec![0; 4096];
    for max_frame_size in [1, 2, 7, 128, 255, 256, 257, MAX_FRAME_SIZE_LIMIT, u32::MAX] {
        let len = encode_headers(&mut buf, sid(9), &block, true, max_frame_size).unwrap();
        let parse_limit = max_frame_size.min(MAX_FRAME_SIZE_LIMIT);
        let (reassembled, frames) = reassemble(&buf[..len], sid(9), true, parse_limit);
        assert_eq!(reassembled, block);
        assert_eq!(frames, 256usize.div_ceil(parse_limit as usize));
    }
    // 0 counts as 1.
    assert_eq!(encoded_headers_len(3, 0), 3 + 27);
    let len = encode_headers(&mut buf, sid(9), b"abc", false, 0).unwrap();
    assert_eq!(
        reassemble(&buf[..len], sid(9), false, 1),
        (b"abc".to_vec(), 3)
    );
}

#[test]
fn headers_encoder_errors() {
    let mut buf = [0; 32];
    assert_eq!(
        encode_headers(&mut buf, StreamId::CONNECTION, b"x", false, MAX),
        Err(EncodeError::StreamIdZero)
    );
    assert_eq!(
        encode_headers(&mut buf, sid(1), &[0; 24], false, MAX),
        Err(EncodeError::BufferTooSmall { needed: 33 })
    );
    assert_eq!(
        encode_headers(&mut buf, sid(1), &[0; 20], false, 10),
        Err(EncodeError::BufferTooSmall { needed: 38 })
    );
    assert_eq!(
        encode_headers(&mut buf, sid(1), &[0; 23], false, MAX),
        Ok(32)
    );
}

// ---------------------------------------------------------------------
// Properties over arbitrary input.

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    /// Any bytes: no panic, every prefix of a parsed frame asks for more,
    /// and a stream error names a stream.
    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..64), max in prop_oneof![Just(MAX), 0u32..64, any::<u32>()]) {
        let mut rest = &bytes[..];
        loop {
            match parse_frame(rest, max) {
                Ok(Some((frame, consumed))) => {
                    prop_assert!(consumed >= 9 && consumed <= rest.len());
                    for split in 0..consumed {
                        prop_assert_eq!(parse_frame(&rest[..split], max), Ok(None));
                    }
                    prop_assert_eq!(frame.stream_id(), FrameHeader::parse(rest).unwrap().stream_id);
                    rest = &rest[consumed..];
                }
                Ok(None) => break,
                Err(error) => {
                    if let ErrorScope::Stream(id) = error.scope {
                        prop_assert!(!id.is_connection());
                    }
                    prop_assert!(!error.to_string().is_empty());
                    break;
                }
            }
        }
    }

    /// Field blocks of any length through any frame size come back whole.
    #[test]
    fn headers_round_trip(block in proptest::collection::vec(any::<u8>(), 0..600), max in 1u32..300, end_stream: bool, stream in 1u32..=0x7fff_ffff) {
        let mut buf = vec![0; encoded_headers_len(block.len(), max)];
        let len = encode_headers(&mut buf, sid(stream), &block, end_stream, max).unwrap();
        prop_assert_eq!(len, buf.len());
        prop_assert_eq!(reassemble(&buf, sid(stream), end_stream, max).0, block);
    }
}
