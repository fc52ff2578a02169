//! Received frames: one type per frame type, and the parser that checks
//! every rule of RFC 9113 §4 and §6 a frame can break on its own.

use super::error::{ErrorCode, ErrorScope, FrameError, FrameErrorKind};
use super::header::{FRAME_HEADER_LEN, Flags, FrameHeader, FrameType, StreamId};
use super::settings::SettingsParameters;

/// A received frame, its payload borrowed from the parser's input.
///
/// Every variant holds a frame whose own rules were checked (§6): its
/// length, its stream identifier, its padding and its fields. Rules that
/// span frames (a CONTINUATION must follow HEADERS on the same stream, the
/// first frame after the preface must be SETTINGS, a server refuses
/// PUSH_PROMISE) belong to the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Frame<'a> {
    /// DATA (§6.1).
    Data(DataFrame<'a>),
    /// HEADERS (§6.2).
    Headers(HeadersFrame<'a>),
    /// PRIORITY (§6.3).
    Priority(PriorityFrame),
    /// RST_STREAM (§6.4).
    RstStream(RstStreamFrame),
    /// SETTINGS (§6.5).
    Settings(SettingsFrame<'a>),
    /// PUSH_PROMISE (§6.6). A server treats its receipt as a connection
    /// error of type PROTOCOL_ERROR (§8.4): clients cannot push.
    PushPromise(PushPromiseFrame<'a>),
    /// PING (§6.7).
    Ping(PingFrame),
    /// GOAWAY (§6.8).
    GoAway(GoAwayFrame<'a>),
    /// WINDOW_UPDATE (§6.9).
    WindowUpdate(WindowUpdateFrame),
    /// CONTINUATION (§6.10).
    Continuation(ContinuationFrame<'a>),
    /// A frame of a type this crate does not know, to be ignored (§5.5).
    Unknown(UnknownFrame<'a>),
}

impl Frame<'_> {
    /// The stream the frame belongs to; [`StreamId::CONNECTION`] for
    /// SETTINGS, PING, GOAWAY and frames about the connection.
    pub const fn stream_id(&self) -> StreamId {
        match self {
            Frame::Data(frame) => frame.stream_id,
            Frame::Headers(frame) => frame.stream_id,
            Frame::Priority(frame) => frame.stream_id,
            Frame::RstStream(frame) => frame.stream_id,
            Frame::PushPromise(frame) => frame.stream_id,
            Frame::WindowUpdate(frame) => frame.stream_id,
            Frame::Continuation(frame) => frame.stream_id,
            Frame::Unknown(frame) => frame.stream_id,
            Frame::Settings(_) | Frame::Ping(_) | Frame::GoAway(_) => StreamId::CONNECTION,
        }
    }

    /// The frame's type.
    pub const fn frame_type(&self) -> FrameType {
        match self {
            Frame::Data(_) => FrameType::Data,
            Frame::Headers(_) => FrameType::Headers,
            Frame::Priority(_) => FrameType::Priority,
            Frame::RstStream(_) => FrameType::RstStream,
            Frame::Settings(_) => FrameType::Settings,
            Frame::PushPromise(_) => FrameType::PushPromise,
            Frame::Ping(_) => FrameType::Ping,
            Frame::GoAway(_) => FrameType::GoAway,
            Frame::WindowUpdate(_) => FrameType::WindowUpdate,
            Frame::Continuation(_) => FrameType::Continuation,
            Frame::Unknown(frame) => FrameType::Unknown(frame.frame_type),
        }
    }
}

/// A DATA frame (§6.1), its padding removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DataFrame<'a> {
    /// The stream, never 0.
    pub stream_id: StreamId,
    /// The data, without pad length or padding.
    pub data: &'a [u8],
    /// Whether this is the last frame the peer sends on the stream.
    pub end_stream: bool,
    /// The whole payload's length, pad length and padding included: what
    /// the frame counts against the flow-control windows (§6.9). Padding
    /// is flow-controlled but never given to the application, so it can
    /// be released at once.
    pub flow_controlled_len: u32,
}

/// The priority fields of HEADERS and PRIORITY frames (§6.3, the
/// scheme of RFC 7540 §5.3 that RFC 9113 deprecates but still parses).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Priority {
    /// The stream this one depends on; 0 for none.
    pub dependency: StreamId,
    /// Whether the dependency is exclusive.
    pub exclusive: bool,
    /// The weight, 1..=256 (the byte on the wire plus one).
    pub weight: u16,
}

impl Priority {
    /// The five bytes of the fields.
    pub(super) const fn parse(fields: [u8; 5]) -> Priority {
        let [d0, d1, d2, d3, weight] = fields;
        Priority {
            dependency: StreamId::from_wire(u32::from_be_bytes([d0, d1, d2, d3])),
            exclusive: d0 & 0x80 != 0,
            weight: weight as u16 + 1,
        }
    }
}

/// A HEADERS frame (§6.2), its padding removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HeadersFrame<'a> {
    /// The stream, never 0.
    pub stream_id: StreamId,
    /// The priority fields, when the PRIORITY flag is set.
    pub priority: Option<Priority>,
    /// The field block fragment, without padding or priority fields.
    pub fragment: &'a [u8],
    /// Whether the field block is the last thing the peer sends on the
    /// stream (trailers, or a request without content).
    pub end_stream: bool,
    /// Whether the field block ends here; if not, CONTINUATION frames on
    /// the same stream follow, and nothing else may come between.
    pub end_headers: bool,
}

impl HeadersFrame<'_> {
    /// Whether the priority fields make the stream depend on itself, a
    /// stream error of type PROTOCOL_ERROR (RFC 7540 §5.3.1). Not raised
    /// by the parser: the field block must still be decoded to keep the
    /// HPACK state in step before the stream is reset.
    pub const fn depends_on_itself(&self) -> bool {
        match self.priority {
            Some(priority) => priority.dependency.get() == self.stream_id.get(),
            None => false,
        }
    }
}

/// A PRIORITY frame (§6.3). RFC 9113 deprecates the scheme: a server may
/// ignore these once parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PriorityFrame {
    /// The stream, never 0; never its own dependency.
    pub stream_id: StreamId,
    /// The fields.
    pub priority: Priority,
}

/// An RST_STREAM frame (§6.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RstStreamFrame {
    /// The stream, never 0.
    pub stream_id: StreamId,
    /// Why the stream ends; unknown codes kept as received.
    pub error_code: ErrorCode,
}

/// A SETTINGS frame (§6.5), always on stream 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SettingsFrame<'a> {
    /// The peer acknowledges our last SETTINGS frame: our settings are in
    /// force from here on.
    Ack,
    /// The peer's parameters, every one in range; the peer awaits an
    /// acknowledgement once they are applied.
    Parameters(SettingsParameters<'a>),
}

/// A PUSH_PROMISE frame (§6.6), its padding removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PushPromiseFrame<'a> {
    /// The stream the promise is made on, never 0.
    pub stream_id: StreamId,
    /// The stream the push will use.
    pub promised_stream_id: StreamId,
    /// The field block fragment of the promised request.
    pub fragment: &'a [u8],
    /// Whether the field block ends here.
    pub end_headers: bool,
}

/// A PING frame (§6.7), always on stream 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PingFrame {
    /// Whether this answers a PING; if not, it is to be answered with an
    /// acknowledgement carrying the same data.
    pub ack: bool,
    /// The eight bytes of opaque data.
    pub opaque_data: [u8; 8],
}

/// A GOAWAY frame (§6.8), always on stream 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GoAwayFrame<'a> {
    /// The highest stream the sender may have acted on.
    pub last_stream_id: StreamId,
    /// Why the connection is closing; unknown codes kept as received.
    pub error_code: ErrorCode,
    /// Diagnostic data, opaque.
    pub debug_data: &'a [u8],
}

/// A WINDOW_UPDATE frame (§6.9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WindowUpdateFrame {
    /// The stream whose window grows, or 0 for the connection's.
    pub stream_id: StreamId,
    /// The growth, 1..=2³¹ − 1 bytes.
    pub increment: u32,
}

/// A CONTINUATION frame (§6.10).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ContinuationFrame<'a> {
    /// The stream, never 0.
    pub stream_id: StreamId,
    /// The next field block fragment.
    pub fragment: &'a [u8],
    /// Whether the field block ends here.
    pub end_headers: bool,
}

/// A frame of a type this crate does not know (§5.5): an extension, to be
/// ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UnknownFrame<'a> {
    /// The type's code.
    pub frame_type: u8,
    /// The flags, as sent.
    pub flags: Flags,
    /// The stream, possibly 0.
    pub stream_id: StreamId,
    /// The payload.
    pub payload: &'a [u8],
}

/// Parses the frame at the start of `input`, the bytes received so far.
///
/// `max_frame_size` is our `SETTINGS_MAX_FRAME_SIZE`: the longest payload
/// we accept (16,384 until we advertise more).
///
/// Returns `Ok(None)` when `input` holds less than the whole frame; the
/// caller reads more and calls again with all of it (nothing is kept
/// between calls, nothing is copied). Returns `Ok(Some((frame,
/// consumed)))` once it is all there: the frame's payload borrows from
/// `input`, and the next frame starts at `input[consumed..]`.
///
/// # Errors
///
/// A [`FrameError`] for a frame that breaks a rule of §4 or §6. Rules the
/// header alone breaks (sizes, stream identifiers) are found as soon as
/// its nine bytes are in, before the payload arrives.
///
/// ```
/// use peregrine_core::h2::frame::{parse_frame, ErrorCode, ErrorScope, Frame, PingFrame};
///
/// // A PING on stream 0, then the start of another frame.
/// let wire = b"\x00\x00\x08\x06\x00\x00\x00\x00\x00pingpong\x00\x00";
/// assert_eq!(parse_frame(&wire[..12], 16_384), Ok(None)); // more to come
/// let (frame, consumed) = parse_frame(wire, 16_384).unwrap().unwrap();
/// assert_eq!(frame, Frame::Ping(PingFrame { ack: false, opaque_data: *b"pingpong" }));
/// assert_eq!(consumed, 17);
/// assert_eq!(parse_frame(&wire[consumed..], 16_384), Ok(None));
///
/// // A DATA frame on stream 1 one byte longer than the limit: the stream
/// // is reset, the connection goes on once the frame is skipped.
/// let error = parse_frame(b"\x00\x40\x01\x00\x00\x00\x00\x00\x01", 16_384).unwrap_err();
/// assert_eq!(error.code(), ErrorCode::FrameSizeError);
/// assert!(matches!(error.scope, ErrorScope::Stream(id) if id.get() == 1));
/// assert_eq!(error.frame_len(), 9 + 16_385);
/// ```
pub fn parse_frame(
    input: &[u8],
    max_frame_size: u32,
) -> Result<Option<(Frame<'_>, usize)>, FrameError> {
    let Some(header) = FrameHeader::parse(input) else {
        return Ok(None);
    };
    header.validate(max_frame_size)?;
    let frame_len = header.frame_len();
    let Some(payload) = input.get(FRAME_HEADER_LEN..frame_len) else {
        return Ok(None);
    };
    let frame = parse_payload(header, payload)?;
    Ok(Some((frame, frame_len)))
}

/// Which stream identifiers a frame type may carry (§6).
enum StreamRule {
    /// Stream 0 only: SETTINGS, PING, GOAWAY.
    ConnectionOnly,
    /// Any stream but 0: DATA, HEADERS, PRIORITY, RST_STREAM,
    /// PUSH_PROMISE, CONTINUATION.
    StreamOnly,
    /// Either: WINDOW_UPDATE, and unknown types.
    Any,
}

impl FrameHeader {
    /// Checks the rules the header alone can break: the stream identifier
    /// the type requires (§6), the length the type and flags require
    /// (§6), and `max_frame_size`, our `SETTINGS_MAX_FRAME_SIZE` (§4.2).
    /// [`parse_frame`] checks this first; a caller that reads a payload
    /// on its own (a large DATA frame, straight into the application's
    /// buffer) checks it before.
    ///
    /// # Errors
    ///
    /// The first rule broken, in the order above.
    pub fn validate(&self, max_frame_size: u32) -> Result<(), FrameError> {
        let length = self.length;
        let flags = self.flags;
        let stream_rule = match self.frame_type {
            FrameType::Settings | FrameType::Ping | FrameType::GoAway => StreamRule::ConnectionOnly,
            FrameType::WindowUpdate | FrameType::Unknown(_) => StreamRule::Any,
            FrameType::Data
            | FrameType::Headers
            | FrameType::Priority
            | FrameType::RstStream
            | FrameType::PushPromise
            | FrameType::Continuation => StreamRule::StreamOnly,
        };
        match stream_rule {
            StreamRule::ConnectionOnly if !self.stream_id.is_connection() => {
                return Err(self.connection_error(FrameErrorKind::StreamIdNotZero));
            }
            StreamRule::StreamOnly if self.stream_id.is_connection() => {
                return Err(self.connection_error(FrameErrorKind::StreamIdZero));
            }
            _ => {}
        }
        let pad_length_len = u32::from(flags.contains(Flags::PADDED));
        let length_is_valid = match self.frame_type {
            FrameType::Data => length >= pad_length_len,
            FrameType::Headers => {
                let priority_len = if flags.contains(Flags::PRIORITY) {
                    5
                } else {
                    0
                };
                length >= pad_length_len + priority_len
            }
            FrameType::Priority => length == 5,
            FrameType::RstStream | FrameType::WindowUpdate => length == 4,
            FrameType::Settings if flags.contains(Flags::ACK) => {
                if length != 0 {
                    return Err(self.connection_error(FrameErrorKind::SettingsAckWithPayload));
                }
                true
            }
            FrameType::Settings => length % 6 == 0,
            FrameType::PushPromise => length >= pad_length_len + 4,
            FrameType::Ping => length == 8,
            FrameType::GoAway => length >= 8,
            FrameType::Continuation | FrameType::Unknown(_) => true,
        };
        if !length_is_valid {
            // §6.3 makes a PRIORITY of the wrong length a stream error,
            // and a DATA frame changes no state of the connection (§4.2);
            // §6.4, §6.5, §6.7 and §6.9 make the others connection errors.
            let scope = match self.frame_type {
                FrameType::Priority | FrameType::Data => self.size_error_scope(),
                _ => ErrorScope::Connection,
            };
            return Err(self.error(FrameErrorKind::InvalidLength, scope));
        }
        if length > max_frame_size {
            return Err(self.error(FrameErrorKind::TooLarge, self.size_error_scope()));
        }
        Ok(())
    }

    /// The scope of a size error in this frame (§4.2): the connection
    /// for frames that can change its state (field blocks, SETTINGS,
    /// anything on stream 0), else the stream.
    fn size_error_scope(&self) -> ErrorScope {
        if self.stream_id.is_connection() || self.frame_type.alters_connection_state() {
            ErrorScope::Connection
        } else {
            ErrorScope::Stream(self.stream_id)
        }
    }

    /// An error of this frame.
    pub(super) fn error(&self, kind: FrameErrorKind, scope: ErrorScope) -> FrameError {
        FrameError {
            kind,
            scope,
            header: *self,
        }
    }

    /// A connection error of this frame.
    pub(super) fn connection_error(&self, kind: FrameErrorKind) -> FrameError {
        self.error(kind, ErrorScope::Connection)
    }
}

/// The frame with header `header` (validated) and payload `payload`.
pub(super) fn parse_payload(header: FrameHeader, payload: &[u8]) -> Result<Frame<'_>, FrameError> {
    let stream_id = header.stream_id;
    let flags = header.flags;
    let padded = flags.contains(Flags::PADDED);
    // Only reached by a payload the header check let through, whose
    // fixed lengths hold; the `else` branches keep it total regardless.
    let invalid_length = || header.connection_error(FrameErrorKind::InvalidLength);
    let frame = match header.frame_type {
        FrameType::Data => {
            let (body, pad_len) = split_pad_length(payload, padded).ok_or_else(invalid_length)?;
            Frame::Data(DataFrame {
                stream_id,
                data: strip_padding(body, pad_len, &header)?,
                end_stream: flags.contains(Flags::END_STREAM),
                flow_controlled_len: header.length,
            })
        }
        FrameType::Headers => {
            let (mut body, pad_len) =
                split_pad_length(payload, padded).ok_or_else(invalid_length)?;
            let mut priority = None;
            if flags.contains(Flags::PRIORITY) {
                let (fields, rest) = body.split_first_chunk().ok_or_else(invalid_length)?;
                priority = Some(Priority::parse(*fields));
                body = rest;
            }
            Frame::Headers(HeadersFrame {
                stream_id,
                priority,
                fragment: strip_padding(body, pad_len, &header)?,
                end_stream: flags.contains(Flags::END_STREAM),
                end_headers: flags.contains(Flags::END_HEADERS),
            })
        }
        FrameType::Priority => {
            let fields = payload.first_chunk().ok_or_else(invalid_length)?;
            let priority = Priority::parse(*fields);
            if priority.dependency == stream_id {
                return Err(header.error(
                    FrameErrorKind::SelfDependency,
                    ErrorScope::Stream(stream_id),
                ));
            }
            Frame::Priority(PriorityFrame {
                stream_id,
                priority,
            })
        }
        FrameType::RstStream => {
            let code = payload.first_chunk().ok_or_else(invalid_length)?;
            Frame::RstStream(RstStreamFrame {
                stream_id,
                error_code: ErrorCode::from_u32(u32::from_be_bytes(*code)),
            })
        }
        FrameType::Settings if flags.contains(Flags::ACK) => Frame::Settings(SettingsFrame::Ack),
        FrameType::Settings => {
            let parameters = SettingsParameters::validate(payload)
                .map_err(|kind| header.connection_error(kind))?;
            Frame::Settings(SettingsFrame::Parameters(parameters))
        }
        FrameType::PushPromise => {
            let (body, pad_len) = split_pad_length(payload, padded).ok_or_else(invalid_length)?;
            let (promised, rest) = body.split_first_chunk().ok_or_else(invalid_length)?;
            Frame::PushPromise(PushPromiseFrame {
                stream_id,
                promised_stream_id: StreamId::from_wire(u32::from_be_bytes(*promised)),
                fragment: strip_padding(rest, pad_len, &header)?,
                end_headers: flags.contains(Flags::END_HEADERS),
            })
        }
        FrameType::Ping => Frame::Ping(PingFrame {
            ack: flags.contains(Flags::ACK),
            opaque_data: *payload.first_chunk().ok_or_else(invalid_length)?,
        }),
        FrameType::GoAway => {
            let (last, rest) = payload.split_first_chunk().ok_or_else(invalid_length)?;
            let (code, debug_data) = rest.split_first_chunk().ok_or_else(invalid_length)?;
            Frame::GoAway(GoAwayFrame {
                last_stream_id: StreamId::from_wire(u32::from_be_bytes(*last)),
                error_code: ErrorCode::from_u32(u32::from_be_bytes(*code)),
                debug_data,
            })
        }
        FrameType::WindowUpdate => {
            let increment = payload.first_chunk().ok_or_else(invalid_length)?;
            // The reserved bit is ignored, like a stream identifier's.
            let increment = StreamId::from_wire(u32::from_be_bytes(*increment)).get();
            if increment == 0 {
                let scope = if stream_id.is_connection() {
                    ErrorScope::Connection
                } else {
                    ErrorScope::Stream(stream_id)
                };
                return Err(header.error(FrameErrorKind::ZeroWindowIncrement, scope));
            }
            Frame::WindowUpdate(WindowUpdateFrame {
                stream_id,
                increment,
            })
        }
        FrameType::Continuation => Frame::Continuation(ContinuationFrame {
            stream_id,
            fragment: payload,
            end_headers: flags.contains(Flags::END_HEADERS),
        }),
        FrameType::Unknown(frame_type) => Frame::Unknown(UnknownFrame {
            frame_type,
            flags,
            stream_id,
            payload,
        }),
    };
    Ok(frame)
}

/// The payload after the pad length byte, and the pad length (0 when the
/// frame is not padded); `None` if the byte is missing.
fn split_pad_length(payload: &[u8], padded: bool) -> Option<(&[u8], usize)> {
    if !padded {
        return Some((payload, 0));
    }
    let (&pad_len, rest) = payload.split_first()?;
    Some((rest, usize::from(pad_len)))
}

/// `body` without its last `pad_len` bytes of padding (§6.1): a
/// connection error of type PROTOCOL_ERROR if the padding is longer than
/// what remains of the payload.
fn strip_padding<'a>(
    body: &'a [u8],
    pad_len: usize,
    header: &FrameHeader,
) -> Result<&'a [u8], FrameError> {
    body.len()
        .checked_sub(pad_len)
        .and_then(|content_len| body.get(..content_len))
        .ok_or_else(|| header.connection_error(FrameErrorKind::PaddingTooLong))
}
