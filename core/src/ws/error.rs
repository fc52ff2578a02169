//! What fails a WebSocket connection, and the close code each failure
//! earns (RFC 6455 §7.4.1).

use core::fmt;

use super::{CloseCode, FrameError};

/// Why a [`Session`](super::Session) failed the connection.
///
/// Each variant knows the code of the Close frame the session sends in
/// answer ([`close_code`](Self::close_code)) and a short reason
/// ([`reason`](Self::reason)), which becomes that frame's reason.
///
/// ```
/// use peregrine_core::ws::{CloseCode, ProtocolError};
///
/// assert_eq!(ProtocolError::InvalidUtf8.close_code(), CloseCode::INVALID_PAYLOAD);
/// assert_eq!(ProtocolError::MessageTooBig.close_code().as_u16(), 1009);
/// assert_eq!(ProtocolError::UnexpectedContinuation.to_string(), "continuation frame outside a message");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A frame header broke a rule of RFC 6455 §5 (1002).
    Frame(FrameError),
    /// A Continuation frame with no fragmented message to continue
    /// (1002, §5.4).
    UnexpectedContinuation,
    /// A Text or Binary frame while a fragmented message is unfinished
    /// (1002, §5.4).
    UnfinishedMessage,
    /// A text message or a close reason that is not UTF-8 (1007, §8.1).
    InvalidUtf8,
    /// A message larger than the session's limit or its buffer (1009,
    /// §7.4.1).
    MessageTooBig,
    /// A Close frame with a one-byte payload, too short for a status code
    /// (1002, §5.5.1).
    ClosePayloadTooShort,
    /// A Close frame with a status code that may not be sent: 1004–1006,
    /// 1015, an unassigned code of 1000–2999, or one outside 1000–4999
    /// (1002, §7.4).
    InvalidCloseCode,
    /// The caller broke the session's contract: the buffer passed holds
    /// fewer bytes than the session was told were read into it, or a
    /// compressed message arrived and no [`Deflate`](super::Deflate) was
    /// given to decompress it (1011).
    BufferMismatch,
    /// A compressed message (permessage-deflate) whose payload is not
    /// valid DEFLATE data (1007: data inconsistent with the message; RFC
    /// 7692 §6.2 fails the connection and leaves the code open).
    InvalidCompressedData,
}

impl ProtocolError {
    /// The code of the Close frame that answers this error.
    pub const fn close_code(self) -> CloseCode {
        match self {
            ProtocolError::InvalidUtf8 | ProtocolError::InvalidCompressedData => {
                CloseCode::INVALID_PAYLOAD
            }
            ProtocolError::MessageTooBig => CloseCode::MESSAGE_TOO_BIG,
            ProtocolError::BufferMismatch => CloseCode::INTERNAL_ERROR,
            ProtocolError::Frame(_)
            | ProtocolError::UnexpectedContinuation
            | ProtocolError::UnfinishedMessage
            | ProtocolError::ClosePayloadTooShort
            | ProtocolError::InvalidCloseCode => CloseCode::PROTOCOL_ERROR,
        }
    }

    /// A short, lower-case reason, at most 123 bytes (it is sent as a
    /// Close frame's reason), fit for a log line too.
    pub const fn reason(self) -> &'static str {
        match self {
            ProtocolError::Frame(error) => error.reason(),
            ProtocolError::UnexpectedContinuation => "continuation frame outside a message",
            ProtocolError::UnfinishedMessage => "new message inside a fragmented one",
            ProtocolError::InvalidUtf8 => "invalid UTF-8",
            ProtocolError::MessageTooBig => "message too big",
            ProtocolError::ClosePayloadTooShort => "close payload of one byte",
            ProtocolError::InvalidCloseCode => "invalid close code",
            ProtocolError::BufferMismatch => "internal error",
            ProtocolError::InvalidCompressedData => "invalid compressed data",
        }
    }
}

impl From<FrameError> for ProtocolError {
    fn from(error: FrameError) -> Self {
        ProtocolError::Frame(error)
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ProtocolError {}

static_assertions::const_assert!(core::mem::size_of::<ProtocolError>() <= 2);
static_assertions::assert_impl_all!(ProtocolError: Copy, Send, Sync, fmt::Display);
