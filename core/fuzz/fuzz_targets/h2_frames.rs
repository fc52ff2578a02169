//! Arbitrary bytes through the HTTP/2 frame parser, frame after frame,
//! under an arbitrary SETTINGS_MAX_FRAME_SIZE: it never panics, a frame is
//! parsed only once all of it is in (every shorter prefix asks for more),
//! errors are consistent with the header they name, every frame of a
//! type the server encodes, encoded again, parses to the same frame, and
//! the start of a frame read alone (`parse_frame_start`, for frames taken
//! in pieces) agrees with the whole frame: the same lengths, fields and
//! errors.
//!
//! Input: a byte choosing how the limit is made, three bytes for it, then
//! the peer's bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peregrine_core::h2::frame::{
    DataFrame, ErrorScope, FRAME_HEADER_LEN, Frame, FrameHeader, HeadersFrame, PingFrame, Setting,
    SettingsFrame, encode_data_header, encode_goaway, encode_headers, encode_ping, encode_ping_ack,
    encode_rst_stream, encode_settings, encode_settings_ack, encode_window_update,
    encoded_headers_len, parse_frame, parse_frame_start, SETTING_LEN,
};

/// Parses `bytes`, which must be exactly one frame.
fn parse_one(bytes: &[u8], max_frame_size: u32) -> Frame<'_> {
    match parse_frame(bytes, max_frame_size) {
        Ok(Some((frame, consumed))) => {
            assert_eq!(consumed, bytes.len(), "encoded frame not consumed whole");
            frame
        }
        other => panic!("encoded frame does not parse: {other:?}"),
    }
}

/// The HEADERS and CONTINUATION frames in `bytes`, reassembled: the
/// block, and the first frame's END_STREAM.
fn reassemble(bytes: &[u8], max_frame_size: u32) -> (Vec<u8>, bool) {
    let mut block = Vec::new();
    let mut end_stream = None;
    let mut rest = bytes;
    while !rest.is_empty() {
        let Ok(Some((frame, consumed))) = parse_frame(rest, max_frame_size) else {
            panic!("encoded field block does not parse");
        };
        rest = &rest[consumed..];
        let (fragment, end_headers) = match (frame, end_stream) {
            (Frame::Headers(headers), None) => {
                end_stream = Some(headers.end_stream);
                (headers.fragment, headers.end_headers)
            }
            (Frame::Continuation(continuation), Some(_)) => {
                (continuation.fragment, continuation.end_headers)
            }
            (other, _) => panic!("unexpected frame in a field block: {other:?}"),
        };
        assert_eq!(
            end_headers,
            rest.is_empty(),
            "END_HEADERS not on the last frame only"
        );
        block.extend_from_slice(fragment);
    }
    (block, end_stream.expect("no HEADERS frame"))
}

/// Encodes `frame` again, if the server has an encoder for its type, and
/// checks that it parses to the same frame.
fn check_reencoded(frame: &Frame<'_>, max_frame_size: u32) {
    let mut buf = vec![0; 64];
    match *frame {
        Frame::Data(data) => {
            // Unpadded: the same data; only the flow-controlled length
            // loses the padding.
            let header = encode_data_header(data.stream_id, data.data.len(), data.end_stream)
                .expect("a parsed DATA frame encodes");
            let bytes = [&header[..], data.data].concat();
            let expected = DataFrame {
                flow_controlled_len: u32::try_from(data.data.len()).unwrap(),
                ..data
            };
            assert_eq!(parse_one(&bytes, max_frame_size), Frame::Data(expected));
        }
        Frame::Headers(headers) => {
            // Within the limit: one frame, END_HEADERS, no priority.
            let limit = max_frame_size.max(1);
            buf.resize(encoded_headers_len(headers.fragment.len(), limit), 0);
            let len = encode_headers(
                &mut buf,
                headers.stream_id,
                headers.fragment,
                headers.end_stream,
                limit,
            )
            .expect("a parsed field block encodes");
            let expected = HeadersFrame {
                priority: None,
                end_headers: true,
                ..headers
            };
            assert_eq!(
                parse_one(&buf[..len], max_frame_size),
                Frame::Headers(expected)
            );
            // Split into small frames: the same block comes back.
            let small = u32::try_from(headers.fragment.len() / 3 + 1).unwrap();
            buf.resize(encoded_headers_len(headers.fragment.len(), small), 0);
            let len = encode_headers(
                &mut buf,
                headers.stream_id,
                headers.fragment,
                headers.end_stream,
                small,
            )
            .expect("a parsed field block encodes");
            assert_eq!(
                reassemble(&buf[..len], small),
                (headers.fragment.to_vec(), headers.end_stream)
            );
        }
        Frame::Settings(SettingsFrame::Ack) => {
            let len = encode_settings_ack(&mut buf).unwrap();
            assert_eq!(parse_one(&buf[..len], max_frame_size), *frame);
        }
        Frame::Settings(SettingsFrame::Parameters(parameters)) => {
            // Unknown parameters are dropped; the known ones come back.
            let known: Vec<Setting> = parameters.iter().collect();
            buf.resize(FRAME_HEADER_LEN + 6 * known.len(), 0);
            let len = encode_settings(&mut buf, &known).expect("parsed settings encode");
            let Frame::Settings(SettingsFrame::Parameters(again)) =
                parse_one(&buf[..len], max_frame_size)
            else {
                panic!("SETTINGS encoded as something else");
            };
            assert!(again.iter().eq(known), "settings changed");
        }
        Frame::Ping(PingFrame { ack, opaque_data }) => {
            let len = if ack {
                encode_ping_ack(&mut buf, opaque_data)
            } else {
                encode_ping(&mut buf, opaque_data)
            }
            .unwrap();
            assert_eq!(parse_one(&buf[..len], max_frame_size), *frame);
        }
        Frame::GoAway(goaway) => {
            buf.resize(17 + goaway.debug_data.len(), 0);
            let len = encode_goaway(
                &mut buf,
                goaway.last_stream_id,
                goaway.error_code,
                goaway.debug_data,
            )
            .expect("a parsed GOAWAY encodes");
            assert_eq!(parse_one(&buf[..len], max_frame_size), *frame);
        }
        Frame::RstStream(reset) => {
            let len = encode_rst_stream(&mut buf, reset.stream_id, reset.error_code)
                .expect("a parsed RST_STREAM encodes");
            assert_eq!(parse_one(&buf[..len], max_frame_size), *frame);
        }
        Frame::WindowUpdate(update) => {
            let len = encode_window_update(&mut buf, update.stream_id, update.increment)
                .expect("a parsed WINDOW_UPDATE encodes");
            assert_eq!(parse_one(&buf[..len], max_frame_size), *frame);
        }
        Frame::Priority(_) | Frame::PushPromise(_) | Frame::Continuation(_) | Frame::Unknown(_) => {
        }
    }
}

/// Checks that the start of the frame at the start of `rest`, read
/// alone, agrees with what `parse_frame` made of all of it.
fn check_start(rest: &[u8], max_frame_size: u32) {
    let whole = parse_frame(rest, max_frame_size);
    let start = parse_frame_start(rest, max_frame_size);
    match (whole, start) {
        (Ok(Some((frame, len))), Ok(Some(start))) => {
            assert_eq!(start.frame_len(), len);
            assert_eq!(start.fixed_len + start.content_len + start.padding, len);
            let content = &rest[start.fixed_len..start.fixed_len + start.content_len];
            match frame {
                Frame::Data(data) => assert_eq!(data.data, content),
                Frame::Headers(headers) => {
                    assert_eq!(headers.fragment, content);
                    assert_eq!(headers.priority, start.priority);
                }
                Frame::PushPromise(promise) => assert_eq!(promise.fragment, content),
                Frame::Continuation(continuation) => assert_eq!(continuation.fragment, content),
                Frame::GoAway(goaway) => assert_eq!(goaway.debug_data, content),
                Frame::Unknown(unknown) => assert_eq!(unknown.payload, content),
                Frame::Settings(_) => {
                    for parameter in content.chunks_exact(SETTING_LEN) {
                        let parameter = parameter.first_chunk().unwrap();
                        assert!(start.setting(*parameter).is_ok(), "a valid setting refused");
                    }
                }
                Frame::Priority(_) | Frame::RstStream(_) | Frame::Ping(_) | Frame::WindowUpdate(_) => {
                    assert_eq!((start.content_len, start.padding), (0, 0));
                }
            }
        }
        (Ok(Some(_)), other) => panic!("a whole frame whose start fails: {other:?}"),
        (Err(error), Ok(Some(start))) => {
            // Only a SETTINGS value is checked as the content arrives.
            let content = &rest[start.fixed_len..start.fixed_len + start.content_len];
            let found = content
                .chunks_exact(SETTING_LEN)
                .find_map(|parameter| start.setting(*parameter.first_chunk().unwrap()).err());
            assert_eq!(found, Some(error), "an error the start does not find");
        }
        (Err(error), start) => assert_eq!(start, Err(error)),
        (Ok(None), Ok(Some(start))) => assert!(start.frame_len() > rest.len()),
        (Ok(None), _) => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let [mode, a, b, c, wire @ ..] = data else {
        return;
    };
    let max_frame_size = match mode % 4 {
        0 => 16_384,
        1 => u32::from(*a),
        2 => u32::from_be_bytes([0, *a, *b, *c]),
        _ => u32::from_be_bytes([*mode, *a, *b, *c]),
    };
    let mut rest = wire;
    loop {
        let header = FrameHeader::parse(rest);
        check_start(rest, max_frame_size);
        match parse_frame(rest, max_frame_size) {
            Ok(None) => {
                // Either the header or the payload is incomplete.
                if let Some(header) = header {
                    assert!(
                        header.frame_len() > rest.len(),
                        "a whole frame left unparsed"
                    );
                }
                return;
            }
            Ok(Some((frame, consumed))) => {
                let header = header.expect("a frame without a header");
                assert_eq!(consumed, header.frame_len());
                assert!(consumed <= rest.len());
                assert!(header.length <= max_frame_size);
                assert_eq!(frame.stream_id(), header.stream_id);
                assert_eq!(frame.frame_type(), header.frame_type);
                // Nothing before the last byte is enough.
                for split in [FRAME_HEADER_LEN - 1, FRAME_HEADER_LEN, consumed - 1] {
                    if split < consumed {
                        assert_eq!(parse_frame(&rest[..split], max_frame_size), Ok(None));
                    }
                }
                check_reencoded(&frame, max_frame_size);
                rest = &rest[consumed..];
            }
            Err(error) => {
                assert_eq!(Some(error.header), header, "the error names another header");
                assert!(!error.to_string().is_empty());
                let ErrorScope::Stream(id) = error.scope else {
                    return;
                };
                assert!(!id.is_connection(), "a stream error on stream 0");
                // The connection goes on after the frame, once it is in.
                let Some(next) = rest.get(error.frame_len()..) else {
                    return;
                };
                rest = next;
            }
        }
    }
});
