//! Error codes (RFC 9113 §7), the scope of an error (§5.4), and what
//! parsing and encoding frames can fail with.

use core::fmt;

use super::header::{FrameHeader, FrameType, StreamId};
use super::settings::SettingId;

/// An error code of RST_STREAM and GOAWAY frames (RFC 9113 §7).
///
/// Codes this crate does not know are kept as [`ErrorCode::Unknown`]: §7
/// forbids treating them specially, and a receiver may treat them as
/// [`InternalError`](Self::InternalError).
///
/// ```
/// use peregrine_core::h2::frame::ErrorCode;
///
/// assert_eq!(ErrorCode::from_u32(0x6), ErrorCode::FrameSizeError);
/// assert_eq!(ErrorCode::from_u32(0xff), ErrorCode::Unknown(0xff));
/// assert_eq!(ErrorCode::EnhanceYourCalm.as_u32(), 0xb);
/// assert_eq!(ErrorCode::FlowControlError.name(), "FLOW_CONTROL_ERROR");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 0x0: not an error, e.g. a graceful shutdown.
    NoError,
    /// 0x1: an unspecific protocol error.
    ProtocolError,
    /// 0x2: an unexpected internal error.
    InternalError,
    /// 0x3: the peer broke the flow-control protocol.
    FlowControlError,
    /// 0x4: a SETTINGS frame was not acknowledged in time.
    SettingsTimeout,
    /// 0x5: a frame arrived after the stream was half-closed.
    StreamClosed,
    /// 0x6: a frame of an invalid size.
    FrameSizeError,
    /// 0x7: the stream was refused before any application processing.
    RefusedStream,
    /// 0x8: the stream is no longer needed.
    Cancel,
    /// 0x9: the field section compression context cannot be kept.
    CompressionError,
    /// 0xa: the connection of a CONNECT request was reset or closed.
    ConnectError,
    /// 0xb: the peer generates excessive load.
    EnhanceYourCalm,
    /// 0xc: the transport does not meet minimum security requirements.
    InadequateSecurity,
    /// 0xd: the endpoint requires HTTP/1.1 instead of HTTP/2.
    Http11Required,
    /// Any other code, as received. Never one of the values above when
    /// made by [`ErrorCode::from_u32`].
    Unknown(u32),
}

impl ErrorCode {
    /// The code with the value `code`.
    #[inline]
    pub const fn from_u32(code: u32) -> ErrorCode {
        match code {
            0x0 => ErrorCode::NoError,
            0x1 => ErrorCode::ProtocolError,
            0x2 => ErrorCode::InternalError,
            0x3 => ErrorCode::FlowControlError,
            0x4 => ErrorCode::SettingsTimeout,
            0x5 => ErrorCode::StreamClosed,
            0x6 => ErrorCode::FrameSizeError,
            0x7 => ErrorCode::RefusedStream,
            0x8 => ErrorCode::Cancel,
            0x9 => ErrorCode::CompressionError,
            0xa => ErrorCode::ConnectError,
            0xb => ErrorCode::EnhanceYourCalm,
            0xc => ErrorCode::InadequateSecurity,
            0xd => ErrorCode::Http11Required,
            other => ErrorCode::Unknown(other),
        }
    }

    /// The code's value on the wire.
    #[inline]
    pub const fn as_u32(self) -> u32 {
        match self {
            ErrorCode::NoError => 0x0,
            ErrorCode::ProtocolError => 0x1,
            ErrorCode::InternalError => 0x2,
            ErrorCode::FlowControlError => 0x3,
            ErrorCode::SettingsTimeout => 0x4,
            ErrorCode::StreamClosed => 0x5,
            ErrorCode::FrameSizeError => 0x6,
            ErrorCode::RefusedStream => 0x7,
            ErrorCode::Cancel => 0x8,
            ErrorCode::CompressionError => 0x9,
            ErrorCode::ConnectError => 0xa,
            ErrorCode::EnhanceYourCalm => 0xb,
            ErrorCode::InadequateSecurity => 0xc,
            ErrorCode::Http11Required => 0xd,
            ErrorCode::Unknown(code) => code,
        }
    }

    /// The code's name in RFC 9113, e.g. `"PROTOCOL_ERROR"`; `"UNKNOWN"`
    /// for an unknown code.
    pub const fn name(self) -> &'static str {
        match self {
            ErrorCode::NoError => "NO_ERROR",
            ErrorCode::ProtocolError => "PROTOCOL_ERROR",
            ErrorCode::InternalError => "INTERNAL_ERROR",
            ErrorCode::FlowControlError => "FLOW_CONTROL_ERROR",
            ErrorCode::SettingsTimeout => "SETTINGS_TIMEOUT",
            ErrorCode::StreamClosed => "STREAM_CLOSED",
            ErrorCode::FrameSizeError => "FRAME_SIZE_ERROR",
            ErrorCode::RefusedStream => "REFUSED_STREAM",
            ErrorCode::Cancel => "CANCEL",
            ErrorCode::CompressionError => "COMPRESSION_ERROR",
            ErrorCode::ConnectError => "CONNECT_ERROR",
            ErrorCode::EnhanceYourCalm => "ENHANCE_YOUR_CALM",
            ErrorCode::InadequateSecurity => "INADEQUATE_SECURITY",
            ErrorCode::Http11Required => "HTTP_1_1_REQUIRED",
            ErrorCode::Unknown(_) => "UNKNOWN",
        }
    }
}

impl From<u32> for ErrorCode {
    fn from(code: u32) -> Self {
        ErrorCode::from_u32(code)
    }
}

impl From<ErrorCode> for u32 {
    fn from(code: ErrorCode) -> Self {
        code.as_u32()
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorCode::Unknown(code) => write!(f, "unknown error code {code:#x}"),
            known => f.write_str(known.name()),
        }
    }
}

/// What an error ends (RFC 9113 §5.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorScope {
    /// A connection error (§5.4.1): the endpoint sends GOAWAY with the
    /// error's code and closes the connection.
    Connection,
    /// A stream error (§5.4.2): the endpoint sends RST_STREAM with the
    /// error's code on this stream (never stream 0), and the connection
    /// goes on.
    Stream(StreamId),
}

impl ErrorScope {
    /// Whether the error ends the connection.
    #[inline]
    pub const fn is_connection(self) -> bool {
        matches!(self, ErrorScope::Connection)
    }
}

/// The rule of RFC 9113 a received frame broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FrameErrorKind {
    /// The payload is longer than our `SETTINGS_MAX_FRAME_SIZE`
    /// (FRAME_SIZE_ERROR, §4.2).
    TooLarge,
    /// The payload length is wrong for the type: not the fixed length of
    /// PRIORITY (5), RST_STREAM (4), PING (8) or WINDOW_UPDATE (4), below
    /// the 8 of GOAWAY, not a multiple of 6 for SETTINGS, or too short for
    /// the pad length, priority or promised stream fields the flags
    /// announce (FRAME_SIZE_ERROR, §4.2, §6).
    InvalidLength,
    /// A SETTINGS acknowledgement with a payload (FRAME_SIZE_ERROR,
    /// §6.5).
    SettingsAckWithPayload,
    /// A frame that belongs to a stream arrived on stream 0: DATA,
    /// HEADERS, PRIORITY, RST_STREAM, PUSH_PROMISE or CONTINUATION
    /// (PROTOCOL_ERROR, §6).
    StreamIdZero,
    /// A frame that belongs to the connection arrived on a stream:
    /// SETTINGS, PING or GOAWAY (PROTOCOL_ERROR, §6).
    StreamIdNotZero,
    /// The padding is as long as the rest of the payload or longer
    /// (PROTOCOL_ERROR, §6.1, §6.2, §6.6).
    PaddingTooLong,
    /// A WINDOW_UPDATE with an increment of 0 (PROTOCOL_ERROR, §6.9).
    ZeroWindowIncrement,
    /// A PRIORITY frame that makes its stream depend on itself, a stream
    /// error (PROTOCOL_ERROR, RFC 7540 §5.3.1: RFC 9113 deprecates the
    /// priority scheme but still parses its fields). The same fields on a
    /// HEADERS frame are left to the connection, which must decode the
    /// field block first: see
    /// [`HeadersFrame::depends_on_itself`](super::HeadersFrame::depends_on_itself).
    SelfDependency,
    /// A SETTINGS parameter with a value out of its range (§6.5.2):
    /// FLOW_CONTROL_ERROR for `SETTINGS_INITIAL_WINDOW_SIZE`,
    /// PROTOCOL_ERROR for the others.
    InvalidSetting(SettingId),
}

impl FrameErrorKind {
    /// The code the error is answered with.
    pub const fn code(self) -> ErrorCode {
        match self {
            FrameErrorKind::TooLarge
            | FrameErrorKind::InvalidLength
            | FrameErrorKind::SettingsAckWithPayload => ErrorCode::FrameSizeError,
            FrameErrorKind::InvalidSetting(SettingId::InitialWindowSize) => {
                ErrorCode::FlowControlError
            }
            FrameErrorKind::StreamIdZero
            | FrameErrorKind::StreamIdNotZero
            | FrameErrorKind::PaddingTooLong
            | FrameErrorKind::ZeroWindowIncrement
            | FrameErrorKind::SelfDependency
            | FrameErrorKind::InvalidSetting(_) => ErrorCode::ProtocolError,
        }
    }

    /// A short, lower-case description, fit for a GOAWAY's debug data or
    /// a log line.
    pub const fn reason(self) -> &'static str {
        match self {
            FrameErrorKind::TooLarge => "frame larger than SETTINGS_MAX_FRAME_SIZE",
            FrameErrorKind::InvalidLength => "invalid frame length for its type",
            FrameErrorKind::SettingsAckWithPayload => "SETTINGS acknowledgement with a payload",
            FrameErrorKind::StreamIdZero => "stream frame on stream 0",
            FrameErrorKind::StreamIdNotZero => "connection frame on a stream",
            FrameErrorKind::PaddingTooLong => "padding longer than the payload",
            FrameErrorKind::ZeroWindowIncrement => "WINDOW_UPDATE increment of 0",
            FrameErrorKind::SelfDependency => "stream depends on itself",
            FrameErrorKind::InvalidSetting(SettingId::InitialWindowSize) => {
                "SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1"
            }
            FrameErrorKind::InvalidSetting(SettingId::MaxFrameSize) => {
                "SETTINGS_MAX_FRAME_SIZE outside 16384..=16777215"
            }
            FrameErrorKind::InvalidSetting(_) => "boolean setting neither 0 nor 1",
        }
    }
}

/// A received frame that breaks RFC 9113: which rule
/// ([`kind`](Self::kind)), what it ends ([`scope`](Self::scope)), and the
/// frame's header.
///
/// A connection error ends the connection with GOAWAY and
/// [`code`](Self::code). A stream error resets the stream with
/// RST_STREAM and the connection goes on after the frame, whose
/// [`frame_len`](Self::frame_len) bytes the caller skips (the payload may
/// not have arrived yet: it is discarded as it comes); a DATA frame
/// skipped so still counts against the connection's flow-control window
/// (§6.9). Stream errors come only from frames without a field block:
/// an error in HEADERS, PUSH_PROMISE or CONTINUATION ends the connection,
/// whose HPACK state it would leave out of step (§4.2, §4.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FrameError {
    /// The rule the frame broke.
    pub kind: FrameErrorKind,
    /// Whether the connection or one stream ends.
    pub scope: ErrorScope,
    /// The header of the frame that broke it.
    pub header: FrameHeader,
}

impl FrameError {
    /// The error's code: what the GOAWAY or RST_STREAM answering it
    /// carries.
    #[inline]
    pub const fn code(&self) -> ErrorCode {
        self.kind.code()
    }

    /// The length of the offending frame, header and payload: the bytes
    /// to skip to carry on after a stream error.
    #[inline]
    pub const fn frame_len(&self) -> usize {
        self.header.frame_len()
    }

    /// The error's short description ([`FrameErrorKind::reason`]).
    #[inline]
    pub const fn reason(&self) -> &'static str {
        self.kind.reason()
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let frame_type = match self.header.frame_type {
            FrameType::Data => "DATA",
            FrameType::Headers => "HEADERS",
            FrameType::Priority => "PRIORITY",
            FrameType::RstStream => "RST_STREAM",
            FrameType::Settings => "SETTINGS",
            FrameType::PushPromise => "PUSH_PROMISE",
            FrameType::Ping => "PING",
            FrameType::GoAway => "GOAWAY",
            FrameType::WindowUpdate => "WINDOW_UPDATE",
            FrameType::Continuation => "CONTINUATION",
            FrameType::Unknown(_) => "extension",
        };
        write!(
            f,
            "{} ({frame_type} frame on stream {}, {})",
            self.reason(),
            self.header.stream_id,
            self.code().name(),
        )
    }
}

#[cfg(feature = "std")]
impl std::error::Error for FrameError {}

/// Why a frame could not be encoded. Nothing is written when an encoder
/// fails, or only bytes of the buffer the caller then disregards.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EncodeError {
    /// The buffer holds fewer than `needed` bytes, the frames' length.
    BufferTooSmall {
        /// The length of the encoded frames.
        needed: usize,
    },
    /// A frame that belongs to a stream was asked for on stream 0.
    StreamIdZero,
    /// A WINDOW_UPDATE increment of 0 or above 2³¹ − 1 (§6.9).
    InvalidWindowIncrement,
    /// A SETTINGS parameter whose value is out of its range (§6.5.2).
    InvalidSetting(SettingId),
    /// A payload longer than a frame's 24-bit length can describe.
    PayloadTooLarge,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::BufferTooSmall { needed } => {
                write!(f, "buffer too small: the frames take {needed} bytes")
            }
            EncodeError::StreamIdZero => f.write_str("stream frame on stream 0"),
            EncodeError::InvalidWindowIncrement => {
                f.write_str("window increment outside 1..=2^31-1")
            }
            EncodeError::InvalidSetting(id) => write!(f, "{id:?} setting out of range"),
            EncodeError::PayloadTooLarge => f.write_str("payload longer than 2^24-1 bytes"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for EncodeError {}
