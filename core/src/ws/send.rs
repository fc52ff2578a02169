//! Whole server frames, encoded into buffers the caller owns (RFC 6455
//! §5).
//!
//! These functions only encode: they know nothing of the connection's
//! state. A server sends through its [`Session`](super::Session), whose
//! methods of the same names refuse to send after the closing handshake
//! began; the functions here are the building blocks, for tests and for
//! clients of the frame layer alone.
//!
//! Each writes the header and the payload to the start of `out` and
//! returns them, ready for one write. To send a large payload without
//! copying it, write [`encode_header`]'s header and
//! the payload with one vectored write instead.

use core::fmt;

use super::CloseCode;
use super::frame::{MAX_CONTROL_PAYLOAD, MAX_SERVER_HEADER_LEN, Opcode, encode_header};

/// The longest control frame a server sends: two header bytes and 125
/// bytes of payload.
pub const MAX_CONTROL_FRAME_LEN: usize = 2 + MAX_CONTROL_PAYLOAD;

/// The longest reason a Close frame can carry: 125 bytes of payload less
/// the two of the status code.
pub const MAX_CLOSE_REASON_LEN: usize = MAX_CONTROL_PAYLOAD - 2;

/// Why a frame was not encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SendError {
    /// The frame does not fit the buffer.
    BufferFull,
    /// A control frame with more than 125 bytes of payload (a close reason
    /// over 123 bytes), or without FIN (RFC 6455 §5.5).
    InvalidControlFrame,
    /// The closing handshake has begun: a Close frame was sent or received,
    /// or the connection failed, and nothing may follow it (§5.5.1).
    Closed,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SendError::BufferFull => "frame does not fit the buffer",
            SendError::InvalidControlFrame => "control frame too long or fragmented",
            SendError::Closed => "the WebSocket connection is closing",
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for SendError {}

/// Encodes a frame with `payload` into `out` and returns it.
///
/// `fin` is false for every fragment of a message but the last; the first
/// fragment has the message's opcode and the others
/// [`Opcode::Continuation`].
///
/// ```
/// use peregrine_core::ws::{encode_frame, Opcode};
///
/// let mut out = [0; 32];
/// assert_eq!(encode_frame(&mut out, Opcode::Text, false, b"Hel")?, b"\x01\x03Hel");
/// assert_eq!(encode_frame(&mut out, Opcode::Continuation, true, b"lo")?, b"\x80\x02lo");
/// # Ok::<(), peregrine_core::ws::SendError>(())
/// ```
///
/// # Errors
///
/// - [`SendError::InvalidControlFrame`] for a control opcode with more
///   than 125 bytes of payload or without `fin`;
/// - [`SendError::BufferFull`] if the frame does not fit `out`.
pub fn encode_frame<'o>(
    out: &'o mut [u8],
    opcode: Opcode,
    fin: bool,
    payload: &[u8],
) -> Result<&'o [u8], SendError> {
    if opcode.is_control() && (payload.len() > MAX_CONTROL_PAYLOAD || !fin) {
        return Err(SendError::InvalidControlFrame);
    }
    let mut header = [0; MAX_SERVER_HEADER_LEN];
    let header = encode_header(opcode, fin, payload.len(), &mut header);
    let len = header.len() + payload.len();
    let frame = out.get_mut(..len).ok_or(SendError::BufferFull)?;
    let (head, body) = frame.split_at_mut(header.len());
    head.copy_from_slice(header);
    body.copy_from_slice(payload);
    Ok(frame)
}

/// Encodes a text message in one frame into `out` and returns it.
///
/// ```
/// use peregrine_core::ws::encode_text;
///
/// let mut out = [0; 16];
/// // RFC 6455 §5.7: a single-frame unmasked text message.
/// assert_eq!(encode_text(&mut out, "Hello")?, b"\x81\x05Hello");
/// # Ok::<(), peregrine_core::ws::SendError>(())
/// ```
///
/// # Errors
///
/// [`SendError::BufferFull`] if the frame does not fit `out`.
pub fn encode_text<'o>(out: &'o mut [u8], text: &str) -> Result<&'o [u8], SendError> {
    encode_frame(out, Opcode::Text, true, text.as_bytes())
}

/// Encodes a binary message in one frame into `out` and returns it.
///
/// # Errors
///
/// [`SendError::BufferFull`] if the frame does not fit `out`.
pub fn encode_binary<'o>(out: &'o mut [u8], data: &[u8]) -> Result<&'o [u8], SendError> {
    encode_frame(out, Opcode::Binary, true, data)
}

/// Encodes a Ping frame with `payload` into `out` and returns it.
///
/// # Errors
///
/// - [`SendError::InvalidControlFrame`] if `payload` is over 125 bytes;
/// - [`SendError::BufferFull`] if the frame does not fit `out`.
pub fn encode_ping<'o>(out: &'o mut [u8], payload: &[u8]) -> Result<&'o [u8], SendError> {
    encode_frame(out, Opcode::Ping, true, payload)
}

/// Encodes a Pong frame with `payload` into `out` and returns it: the
/// answer to a ping echoes its payload, an unsolicited pong (a heartbeat)
/// carries anything.
///
/// # Errors
///
/// - [`SendError::InvalidControlFrame`] if `payload` is over 125 bytes;
/// - [`SendError::BufferFull`] if the frame does not fit `out`.
pub fn encode_pong<'o>(out: &'o mut [u8], payload: &[u8]) -> Result<&'o [u8], SendError> {
    encode_frame(out, Opcode::Pong, true, payload)
}

/// Encodes a Close frame with a status code and a reason into `out` and
/// returns it (RFC 6455 §5.5.1).
///
/// ```
/// use peregrine_core::ws::{encode_close, CloseCode};
///
/// let mut out = [0; 16];
/// assert_eq!(encode_close(&mut out, CloseCode::NORMAL, "bye")?, b"\x88\x05\x03\xe8bye");
/// # Ok::<(), peregrine_core::ws::SendError>(())
/// ```
///
/// # Errors
///
/// - [`SendError::InvalidControlFrame`] if `reason` is over
///   [`MAX_CLOSE_REASON_LEN`] bytes;
/// - [`SendError::BufferFull`] if the frame does not fit `out`.
pub fn encode_close<'o>(
    out: &'o mut [u8],
    code: CloseCode,
    reason: &str,
) -> Result<&'o [u8], SendError> {
    let reason = reason.as_bytes();
    if reason.len() > MAX_CLOSE_REASON_LEN {
        return Err(SendError::InvalidControlFrame);
    }
    let frame = out
        .get_mut(..4 + reason.len())
        .ok_or(SendError::BufferFull)?;
    let (head, body) = frame.split_at_mut(4);
    head[0] = 0x80 | Opcode::Close.as_u8();
    head[1] = 2 + reason.len() as u8;
    head[2..].copy_from_slice(&code.as_u16().to_be_bytes());
    body.copy_from_slice(reason);
    Ok(frame)
}

/// Encodes a Close frame without a status code into `out` and returns it:
/// the answer to a Close frame that had none.
pub(crate) fn encode_empty_close(out: &mut [u8; MAX_CONTROL_FRAME_LEN]) -> &[u8] {
    out[0] = 0x80 | Opcode::Close.as_u8();
    out[1] = 0;
    &out[..2]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;

    /// RFC 6455 §5.5: control frames are short and whole.
    #[test]
    fn control_frame_rules() {
        let mut out = [0; 256];
        let long = [0; 126];
        assert_eq!(
            encode_ping(&mut out, &long),
            Err(SendError::InvalidControlFrame)
        );
        assert_eq!(
            encode_pong(&mut out, &long),
            Err(SendError::InvalidControlFrame)
        );
        assert_eq!(
            encode_frame(&mut out, Opcode::Ping, false, b""),
            Err(SendError::InvalidControlFrame)
        );
        let reason = "x".repeat(124);
        assert_eq!(
            encode_close(&mut out, CloseCode::NORMAL, &reason),
            Err(SendError::InvalidControlFrame)
        );
        let frame = encode_close(&mut out, CloseCode::NORMAL, &reason[..123]).unwrap();
        assert_eq!(frame.len(), MAX_CONTROL_FRAME_LEN);
        assert_eq!(&frame[..4], b"\x88\x7d\x03\xe8");
        let frame = encode_ping(&mut out, &long[..125]).unwrap();
        assert_eq!(frame.len(), MAX_CONTROL_FRAME_LEN);
        assert_eq!(&frame[..2], b"\x89\x7d");
    }

    #[test]
    fn buffer_full() {
        let mut out = [0; 6];
        assert_eq!(encode_text(&mut out, "Hello!"), Err(SendError::BufferFull));
        assert_eq!(encode_text(&mut out, "Hell").unwrap(), b"\x81\x04Hell");
        assert_eq!(
            encode_close(&mut out, CloseCode::GOING_AWAY, "bye"),
            Err(SendError::BufferFull)
        );
        assert_eq!(
            encode_close(&mut out, CloseCode::GOING_AWAY, "").unwrap(),
            b"\x88\x02\x03\xe9"
        );
        assert_eq!(encode_binary(&mut [0; 1], b""), Err(SendError::BufferFull));
    }

    /// RFC 6455 §5.2: the three length forms.
    #[test]
    fn lengths() {
        for (len, header_len) in [(125, 2), (126, 4), (65535, 4), (65536, 10)] {
            let payload = vec![7; len];
            let mut out = vec![0; len + 10];
            let frame = encode_binary(&mut out, &payload).unwrap();
            assert_eq!(frame.len(), header_len + len);
            assert_eq!(frame[0], 0x82);
            assert!(frame[header_len..].iter().all(|&b| b == 7));
        }
    }
}
