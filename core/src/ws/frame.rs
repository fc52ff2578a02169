//! Frame headers: the incremental decoder for client frames and the
//! encoder for server frames (RFC 6455 §5.2).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! | Masking-key (continued)       |          Payload Data         |
//! +-------------------------------- - - - - - - - - - - - - - - - +
//! ```
//!
//! # What the decoder accepts
//!
//! The decoder reads the frames a client sends to a server. Every rule of
//! §5.2 and §5.5 that a header alone can break fails the connection with
//! close code 1002 (protocol error), checked at the byte that breaks it:
//!
//! - RSV2 and RSV3 must be clear, and RSV1 too unless permessage-deflate
//!   was negotiated ([`FrameDecoder::allow_rsv1`]): no other extension is,
//!   so no meaning for them is (§5.2). Even then RSV1 marks only the first
//!   frame of a compressed message: on a Continuation or a control frame
//!   it is an error (RFC 7692 §6.1, §6).
//! - Opcodes 0x3–0x7 and 0xB–0xF are reserved (§5.2).
//! - The mask bit must be set: a server closes the connection on an
//!   unmasked frame (§5.1).
//! - Control frames (Close, Ping, Pong) carry at most 125 bytes and are not
//!   fragmented: FIN set (§5.5).
//! - A 64-bit length has its most significant bit clear (§5.2).
//! - **Lengths use the fewest bytes**: a 16-bit length below 126 and a
//!   64-bit length below 65536 are refused. §5.2 says "the minimal number
//!   of bytes MUST be used to encode the length"; accepting other forms
//!   would let the same frame be written several ways, and every
//!   mainstream client writes the minimal one.
//!
//! The decoder keeps its place in the header between calls, so a header
//! may arrive split anywhere. It does not read payloads: the caller reads
//! [`FrameHeader::payload_len`] bytes after the header and unmasks them
//! with [`unmask`](super::unmask).
//!
//! # The encoder
//!
//! [`encode_header`] writes the header of a server frame: unmasked
//! (servers never mask, §5.1), RSV clear, minimal length.

use core::fmt;

use super::CloseCode;

/// The most payload a control frame may carry (RFC 6455 §5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// The longest header a client sends: two bytes, a 64-bit length and the
/// masking key.
pub const MAX_CLIENT_HEADER_LEN: usize = 14;

/// The longest header a server sends: two bytes and a 64-bit length.
pub const MAX_SERVER_HEADER_LEN: usize = 10;

/// A frame's opcode (RFC 6455 §5.2): what its payload is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Opcode {
    /// 0x0: the next fragment of a text or binary message.
    Continuation,
    /// 0x1: the first (or only) frame of a text message.
    Text,
    /// 0x2: the first (or only) frame of a binary message.
    Binary,
    /// 0x8: the closing handshake.
    Close,
    /// 0x9: a ping, to be answered with a pong carrying the same payload.
    Ping,
    /// 0xA: a pong, the answer to a ping or an unsolicited heartbeat.
    Pong,
}

impl Opcode {
    /// The opcode with the value `bits`, or `None` for a reserved or
    /// out-of-range value.
    ///
    /// ```
    /// use peregrine_core::ws::Opcode;
    ///
    /// assert_eq!(Opcode::from_u8(0x9), Some(Opcode::Ping));
    /// assert_eq!(Opcode::from_u8(0x3), None); // reserved
    /// ```
    #[inline]
    pub const fn from_u8(bits: u8) -> Option<Opcode> {
        match bits {
            0x0 => Some(Opcode::Continuation),
            0x1 => Some(Opcode::Text),
            0x2 => Some(Opcode::Binary),
            0x8 => Some(Opcode::Close),
            0x9 => Some(Opcode::Ping),
            0xA => Some(Opcode::Pong),
            _ => None,
        }
    }

    /// The opcode's four-bit value.
    #[inline]
    pub const fn as_u8(self) -> u8 {
        match self {
            Opcode::Continuation => 0x0,
            Opcode::Text => 0x1,
            Opcode::Binary => 0x2,
            Opcode::Close => 0x8,
            Opcode::Ping => 0x9,
            Opcode::Pong => 0xA,
        }
    }

    /// Whether this is a control opcode: Close, Ping or Pong.
    #[inline]
    pub const fn is_control(self) -> bool {
        self.as_u8() & 0x8 != 0
    }
}

/// The header of a frame a client sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FrameHeader {
    /// Whether this is the last frame of its message.
    pub fin: bool,
    /// RSV1: the message this frame begins is compressed (permessage-deflate,
    /// RFC 7692 §6). Only ever set on a Text or Binary frame, and only when
    /// the decoder [allows it](FrameDecoder::allow_rsv1).
    pub rsv1: bool,
    /// What the payload is.
    pub opcode: Opcode,
    /// The key the payload is masked with.
    pub mask: [u8; 4],
    /// The payload's length in bytes, below 2⁶³.
    pub payload_len: u64,
}

/// A frame header that breaks RFC 6455. Every variant fails the connection
/// with close code 1002 ([`close_code`](Self::close_code)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FrameError {
    /// RSV1, RSV2 or RSV3 is set, and no extension gives it a meaning
    /// (§5.2).
    ReservedBits,
    /// RSV1 on a Continuation or control frame: permessage-deflate marks
    /// only a message's first frame (RFC 7692 §6, §6.1).
    CompressedFragment,
    /// A reserved opcode: 0x3–0x7 or 0xB–0xF (§5.2).
    ReservedOpcode,
    /// A control frame without FIN: control frames are not fragmented
    /// (§5.5).
    FragmentedControl,
    /// A client frame without the mask bit (§5.1).
    Unmasked,
    /// A control frame with more than 125 bytes of payload (§5.5).
    ControlTooLong,
    /// A 64-bit length with its most significant bit set (§5.2).
    LengthOverflow,
    /// A length written with more bytes than it needs (§5.2).
    NonMinimalLength,
}

impl FrameError {
    /// The code of the Close frame that answers this error: always
    /// [`CloseCode::PROTOCOL_ERROR`].
    #[inline]
    pub const fn close_code(self) -> CloseCode {
        CloseCode::PROTOCOL_ERROR
    }

    /// A short, lower-case reason, fit for a Close frame or a log line.
    pub const fn reason(self) -> &'static str {
        match self {
            FrameError::ReservedBits => "reserved bits set",
            FrameError::CompressedFragment => "RSV1 on a continuation or control frame",
            FrameError::ReservedOpcode => "reserved opcode",
            FrameError::FragmentedControl => "fragmented control frame",
            FrameError::Unmasked => "unmasked client frame",
            FrameError::ControlTooLong => "control frame payload over 125 bytes",
            FrameError::LengthOverflow => "payload length over 2^63",
            FrameError::NonMinimalLength => "payload length not minimally encoded",
        }
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

#[cfg(feature = "std")]
impl std::error::Error for FrameError {}

/// An incremental decoder of client frame headers.
///
/// Feed it the bytes at the start of a frame with
/// [`decode`](Self::decode), in as many pieces as they arrive; it returns
/// the header once complete and is then ready for the next one. It stores
/// what it has decoded so far, never the caller's bytes.
///
/// ```
/// use peregrine_core::ws::{FrameDecoder, Opcode};
///
/// // RFC 6455 §5.7: a masked text frame holding "Hello".
/// let wire = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
/// let mut decoder = FrameDecoder::new();
/// assert_eq!(decoder.decode(&wire[..3]), Ok(None)); // header incomplete
/// let (header, used) = decoder.decode(&wire[3..]).unwrap().unwrap();
/// assert_eq!(used, 3); // 3 + 3 = 6 header bytes; the payload follows
/// assert!(header.fin);
/// assert_eq!(header.opcode, Opcode::Text);
/// assert_eq!(header.mask, [0x37, 0xfa, 0x21, 0x3d]);
/// assert_eq!(header.payload_len, 5);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameDecoder {
    /// Header bytes seen so far.
    seen: u8,
    /// Bytes of extended length: 0, 2 or 8, known once `seen >= 2`.
    extended: u8,
    /// The FIN bit, known once `seen >= 1`.
    fin: bool,
    /// The RSV1 bit, known once `seen >= 1`.
    rsv1: bool,
    /// Whether RSV1 may be set (permessage-deflate was negotiated); kept
    /// from header to header.
    rsv1_allowed: bool,
    /// The opcode, known once `seen >= 1`.
    opcode: Opcode,
    /// The payload length, as far as it has been read.
    len: u64,
    /// The masking key, as far as it has been read.
    mask: [u8; 4],
    /// The error, once one was found; sticky.
    failed: Option<FrameError>,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameDecoder {
    /// A decoder at the start of a frame.
    pub const fn new() -> Self {
        FrameDecoder {
            seen: 0,
            extended: 0,
            fin: false,
            rsv1: false,
            rsv1_allowed: false,
            opcode: Opcode::Continuation,
            len: 0,
            mask: [0; 4],
            failed: None,
        }
    }

    /// Lets RSV1 mark the first frame of a compressed message, once
    /// permessage-deflate (RFC 7692) was negotiated; see
    /// [`FrameHeader::rsv1`].
    pub const fn allow_rsv1(mut self) -> Self {
        self.rsv1_allowed = true;
        self
    }

    /// Whether the decoder is between headers: no byte of the next one
    /// seen yet, and no error.
    pub const fn is_idle(&self) -> bool {
        self.seen == 0 && self.failed.is_none()
    }

    /// Continues the header with `input`.
    ///
    /// Returns `Ok(Some((header, used)))` once the header is complete,
    /// `used` being how many bytes of `input` it took (the payload starts
    /// at `input[used..]`), and the decoder is ready for the next header;
    /// `Ok(None)` when all of `input` was taken and the header goes on.
    ///
    /// # Errors
    ///
    /// A [`FrameError`] at the first byte that breaks a rule; every later
    /// call returns it too.
    pub fn decode(&mut self, input: &[u8]) -> Result<Option<(FrameHeader, usize)>, FrameError> {
        if let Some(error) = self.failed {
            return Err(error);
        }
        for (i, &byte) in input.iter().enumerate() {
            if let Err(error) = self.step(byte) {
                self.failed = Some(error);
                return Err(error);
            }
            if self.seen == 6 + self.extended {
                let header = FrameHeader {
                    fin: self.fin,
                    rsv1: self.rsv1,
                    opcode: self.opcode,
                    mask: self.mask,
                    payload_len: self.len,
                };
                let rsv1_allowed = self.rsv1_allowed;
                *self = Self::new();
                self.rsv1_allowed = rsv1_allowed;
                return Ok(Some((header, i + 1)));
            }
        }
        Ok(None)
    }

    /// Takes the header's next byte.
    #[inline]
    fn step(&mut self, byte: u8) -> Result<(), FrameError> {
        let index = self.seen;
        self.seen += 1;
        match index {
            0 => {
                let rsv1 = byte & 0x40 != 0;
                if byte & 0x30 != 0 || (rsv1 && !self.rsv1_allowed) {
                    return Err(FrameError::ReservedBits);
                }
                let Some(opcode) = Opcode::from_u8(byte & 0x0F) else {
                    return Err(FrameError::ReservedOpcode);
                };
                if rsv1 && (opcode == Opcode::Continuation || opcode.is_control()) {
                    return Err(FrameError::CompressedFragment);
                }
                let fin = byte & 0x80 != 0;
                self.rsv1 = rsv1;
                if opcode.is_control() && !fin {
                    return Err(FrameError::FragmentedControl);
                }
                self.fin = fin;
                self.opcode = opcode;
            }
            1 => {
                if byte & 0x80 == 0 {
                    return Err(FrameError::Unmasked);
                }
                let len = byte & 0x7F;
                if self.opcode.is_control() && usize::from(len) > MAX_CONTROL_PAYLOAD {
                    return Err(FrameError::ControlTooLong);
                }
                self.extended = match len {
                    126 => 2,
                    127 => 8,
                    _ => 0,
                };
                self.len = if self.extended == 0 {
                    u64::from(len)
                } else {
                    0
                };
            }
            _ if index < 2 + self.extended => {
                if index == 2 && self.extended == 8 && byte & 0x80 != 0 {
                    return Err(FrameError::LengthOverflow);
                }
                self.len = self.len << 8 | u64::from(byte);
                if index + 1 == 2 + self.extended {
                    let minimum = if self.extended == 2 { 126 } else { 0x1_0000 };
                    if self.len < minimum {
                        return Err(FrameError::NonMinimalLength);
                    }
                }
            }
            _ => self.mask[usize::from(index - 2 - self.extended)] = byte,
        }
        Ok(())
    }
}

/// Writes the header of a server frame (unmasked, RSV clear, minimal
/// length) with a payload of `len` bytes into `out`, and returns it.
///
/// The caller keeps to the rules the header cannot check: control frames
/// carry at most [`MAX_CONTROL_PAYLOAD`] bytes and set `fin`, and a
/// fragmented message is a Text or Binary frame followed by Continuation
/// frames, the last with `fin`. The length of any slice is below 2⁶³, so
/// any payload length a slice has is valid.
///
/// ```
/// use peregrine_core::ws::{encode_header, Opcode};
///
/// let mut out = [0; 10];
/// assert_eq!(encode_header(Opcode::Text, true, 5, &mut out), b"\x81\x05");
/// assert_eq!(encode_header(Opcode::Binary, false, 300, &mut out), b"\x02\x7e\x01\x2c");
/// assert_eq!(
///     encode_header(Opcode::Continuation, true, 65536, &mut out),
///     b"\x80\x7f\x00\x00\x00\x00\x00\x01\x00\x00"
/// );
/// ```
#[inline]
pub fn encode_header(
    opcode: Opcode,
    fin: bool,
    len: usize,
    out: &mut [u8; MAX_SERVER_HEADER_LEN],
) -> &[u8] {
    const _: () = assert!(usize::BITS <= 64, "a payload length must fit 64 bits");
    out[0] = u8::from(fin) << 7 | opcode.as_u8();
    if len < 126 {
        out[1] = len as u8;
        &out[..2]
    } else if let Ok(len) = u16::try_from(len) {
        out[1] = 126;
        out[2..4].copy_from_slice(&len.to_be_bytes());
        &out[..4]
    } else {
        out[1] = 127;
        out[2..10].copy_from_slice(&(len as u64).to_be_bytes());
        &out[..10]
    }
}

/// Sets RSV1 on a header [`encode_header`] wrote: the first (here, only)
/// frame of a message compressed with permessage-deflate (RFC 7692 §6).
#[inline]
pub(crate) fn set_rsv1(header: &mut [u8]) {
    header[0] |= 0x40;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    /// Decodes `wire` whole, then split at every byte, then one byte per
    /// call, asserting that all agree; returns the result of the whole.
    fn decode_everywhere(wire: &[u8]) -> Result<Option<(FrameHeader, usize)>, FrameError> {
        let whole = FrameDecoder::new().decode(wire);
        for split in 0..=wire.len() {
            let mut decoder = FrameDecoder::new();
            let first = decoder.decode(&wire[..split]);
            let result = match first {
                Ok(None) => decoder
                    .decode(&wire[split..])
                    .map(|done| done.map(|(header, used)| (header, used + split))),
                other => other,
            };
            assert_eq!(result, whole, "split at {split} of {wire:02x?}");
        }
        let mut decoder = FrameDecoder::new();
        let mut bytewise = Ok(None);
        for (i, byte) in wire.iter().enumerate() {
            bytewise = decoder.decode(core::slice::from_ref(byte));
            match bytewise {
                Ok(Some((header, _))) => {
                    bytewise = Ok(Some((header, i + 1)));
                    break;
                }
                Err(_) => break,
                Ok(None) => {}
            }
        }
        assert_eq!(bytewise, whole, "byte by byte: {wire:02x?}");
        whole
    }

    const MASK: [u8; 4] = [1, 2, 3, 4];

    fn header(fin: bool, opcode: Opcode, payload_len: u64) -> FrameHeader {
        FrameHeader {
            fin,
            rsv1: false,
            opcode,
            mask: MASK,
            payload_len,
        }
    }

    /// RFC 6455 §5.2: the three length forms, FIN and every opcode.
    #[test]
    fn valid_headers() {
        let cases: &[(&[u8], FrameHeader)] = &[
            (b"\x81\x80\x01\x02\x03\x04", header(true, Opcode::Text, 0)),
            (
                b"\x01\xfd\x01\x02\x03\x04",
                header(false, Opcode::Text, 125),
            ),
            (
                b"\x82\xfe\x00\x7e\x01\x02\x03\x04",
                header(true, Opcode::Binary, 126),
            ),
            (
                b"\x00\xfe\xff\xff\x01\x02\x03\x04",
                header(false, Opcode::Continuation, 65535),
            ),
            (
                b"\x82\xff\x00\x00\x00\x00\x00\x01\x00\x00\x01\x02\x03\x04",
                header(true, Opcode::Binary, 65536),
            ),
            (
                b"\x82\xff\x7f\xff\xff\xff\xff\xff\xff\xff\x01\x02\x03\x04",
                header(true, Opcode::Binary, i64::MAX as u64),
            ),
            (b"\x88\x82\x01\x02\x03\x04", header(true, Opcode::Close, 2)),
            (b"\x89\xfd\x01\x02\x03\x04", header(true, Opcode::Ping, 125)),
            (b"\x8a\x80\x01\x02\x03\x04", header(true, Opcode::Pong, 0)),
        ];
        for &(wire, expected) in cases {
            // Bytes after the header belong to the payload: not taken.
            let mut with_payload = wire.to_vec();
            with_payload.extend_from_slice(b"payload");
            let decoded = decode_everywhere(&with_payload);
            assert_eq!(decoded, Ok(Some((expected, wire.len()))), "{wire:02x?}");
        }
    }

    /// One rule per row, each failing at the byte that breaks it.
    #[test]
    fn refused_headers() {
        let cases: &[(&[u8], FrameError, &str)] = &[
            (b"\xc1", FrameError::ReservedBits, "§5.2 RSV1"),
            (b"\xa1", FrameError::ReservedBits, "§5.2 RSV2"),
            (b"\x91", FrameError::ReservedBits, "§5.2 RSV3"),
            (b"\x83", FrameError::ReservedOpcode, "§5.2 opcode 0x3"),
            (b"\x87", FrameError::ReservedOpcode, "§5.2 opcode 0x7"),
            (b"\x8b", FrameError::ReservedOpcode, "§5.2 opcode 0xB"),
            (b"\x8f", FrameError::ReservedOpcode, "§5.2 opcode 0xF"),
            (
                b"\x08",
                FrameError::FragmentedControl,
                "§5.5 close without FIN",
            ),
            (
                b"\x09",
                FrameError::FragmentedControl,
                "§5.5 ping without FIN",
            ),
            (
                b"\x0a",
                FrameError::FragmentedControl,
                "§5.5 pong without FIN",
            ),
            (
                b"\x81\x05",
                FrameError::Unmasked,
                "§5.1 client frames are masked",
            ),
            (b"\x89\xfe", FrameError::ControlTooLong, "§5.5 ping of 126"),
            (
                b"\x88\xff",
                FrameError::ControlTooLong,
                "§5.5 close of 64-bit length",
            ),
            (
                b"\x8a\xfe",
                FrameError::ControlTooLong,
                "§5.5 pong of 16-bit length",
            ),
            (
                b"\x82\xff\x80",
                FrameError::LengthOverflow,
                "§5.2 MSB of 64-bit length",
            ),
            (
                b"\x82\xfe\x00\x7d",
                FrameError::NonMinimalLength,
                "§5.2 125 in 16 bits",
            ),
            (
                b"\x82\xfe\x00\x00",
                FrameError::NonMinimalLength,
                "§5.2 0 in 16 bits",
            ),
            (
                b"\x82\xff\x00\x00\x00\x00\x00\x00\xff\xff",
                FrameError::NonMinimalLength,
                "§5.2 65535 in 64 bits",
            ),
            (
                b"\x82\xff\x00\x00\x00\x00\x00\x00\x00\x05",
                FrameError::NonMinimalLength,
                "§5.2 5 in 64 bits",
            ),
        ];
        for &(wire, error, rule) in cases {
            assert_eq!(decode_everywhere(wire), Err(error), "{rule}");
            // Fails at the last byte given, not before.
            let mut decoder = FrameDecoder::new();
            assert_eq!(decoder.decode(&wire[..wire.len() - 1]), Ok(None), "{rule}");
            assert_eq!(
                decoder.decode(&wire[wire.len() - 1..]),
                Err(error),
                "{rule}"
            );
            assert_eq!(decoder.decode(b"\x81\x80"), Err(error), "sticky: {rule}");
            assert!(!decoder.is_idle());
            assert_eq!(error.close_code(), CloseCode::PROTOCOL_ERROR);
        }
    }

    /// RFC 7692 §6: with permessage-deflate, RSV1 marks a message's first
    /// frame, and nothing else; RSV2 and RSV3 stay reserved.
    #[test]
    fn rsv1_with_deflate() {
        let decode = |wire: &[u8]| FrameDecoder::new().allow_rsv1().decode(wire);
        let (text, _) = decode(b"\xc1\x80\x01\x02\x03\x04").unwrap().unwrap();
        assert!(text.rsv1 && text.fin && text.opcode == Opcode::Text);
        let (binary, _) = decode(b"\x42\x80\x01\x02\x03\x04").unwrap().unwrap();
        assert!(binary.rsv1 && !binary.fin);
        let (plain, _) = decode(b"\x81\x80\x01\x02\x03\x04").unwrap().unwrap();
        assert!(!plain.rsv1);
        for wire in [&b"\xc0"[..], b"\x40", b"\xc8", b"\xc9", b"\xca"] {
            assert_eq!(
                decode(wire),
                Err(FrameError::CompressedFragment),
                "{wire:02x?}"
            );
        }
        assert_eq!(decode(b"\xa1"), Err(FrameError::ReservedBits));
        assert_eq!(decode(b"\x91"), Err(FrameError::ReservedBits));
        // Kept from one header to the next.
        let mut decoder = FrameDecoder::new().allow_rsv1();
        let wire = b"\xc1\x80\x01\x02\x03\x04\xc2\x80\x01\x02\x03\x04";
        assert!(decoder.decode(wire).unwrap().unwrap().0.rsv1);
        assert!(decoder.decode(&wire[6..]).unwrap().unwrap().0.rsv1);
        assert_eq!(
            FrameError::CompressedFragment.close_code(),
            CloseCode::PROTOCOL_ERROR
        );
    }

    #[test]
    fn decodes_consecutive_headers() {
        let wire = b"\x81\x80\x01\x02\x03\x04\x8a\x80\x05\x06\x07\x08";
        let mut decoder = FrameDecoder::new();
        assert!(decoder.is_idle());
        let (first, used) = decoder.decode(wire).unwrap().unwrap();
        assert_eq!((first.opcode, used), (Opcode::Text, 6));
        assert!(decoder.is_idle());
        let (second, used) = decoder.decode(&wire[6..]).unwrap().unwrap();
        assert_eq!(
            (second.opcode, second.mask, used),
            (Opcode::Pong, [5, 6, 7, 8], 6)
        );
        assert_eq!(decoder.decode(&[]), Ok(None));
    }

    /// Every opcode value, with and without FIN.
    #[test]
    fn opcodes() {
        for bits in 0..16u8 {
            let opcode = Opcode::from_u8(bits);
            assert_eq!(opcode.is_some(), matches!(bits, 0..=2 | 8..=10), "{bits}");
            if let Some(opcode) = opcode {
                assert_eq!(opcode.as_u8(), bits);
                assert_eq!(opcode.is_control(), bits >= 8);
            }
        }
        assert_eq!(Opcode::from_u8(16), None);
    }

    /// The encoder's headers, masked as a client would send them, decode to
    /// what was encoded; the lengths are minimal at every boundary.
    #[test]
    fn encoder_round_trip() {
        let lengths = [0, 1, 125, 126, 127, 65535, 65536, 1 << 32, usize::MAX >> 1];
        for opcode in [Opcode::Continuation, Opcode::Text, Opcode::Binary] {
            for fin in [false, true] {
                for len in lengths {
                    let mut out = [0; MAX_SERVER_HEADER_LEN];
                    let encoded = encode_header(opcode, fin, len, &mut out);
                    let expected_len = match len {
                        0..=125 => 2,
                        126..=65535 => 4,
                        _ => 10,
                    };
                    assert_eq!(encoded.len(), expected_len, "{len}");
                    let mut masked: Vec<u8> = encoded.to_vec();
                    masked[1] |= 0x80;
                    masked.extend_from_slice(&MASK);
                    let decoded = decode_everywhere(&masked);
                    let expected = header(fin, opcode, len as u64);
                    assert_eq!(decoded, Ok(Some((expected, masked.len()))));
                }
            }
        }
    }
}
