//! The nine-byte frame header (RFC 9113 §4.1) and the names in it: stream
//! identifiers, frame types and flags.

use core::fmt;

/// The length of every frame header, in bytes (RFC 9113 §4.1).
pub const FRAME_HEADER_LEN: usize = 9;

/// The initial value of `SETTINGS_MAX_FRAME_SIZE`, and the smallest one an
/// endpoint may advertise: 16,384 bytes (RFC 9113 §6.5.2). Every endpoint
/// accepts frame payloads this long.
pub const DEFAULT_MAX_FRAME_SIZE: u32 = 16_384;

/// The largest value `SETTINGS_MAX_FRAME_SIZE` may take, and the largest
/// payload the 24-bit length field can describe: 16,777,215 bytes
/// (2²⁴ − 1, RFC 9113 §4.1, §6.5.2).
pub const MAX_FRAME_SIZE_LIMIT: u32 = (1 << 24) - 1;

/// A stream identifier: an unsigned 31-bit integer (RFC 9113 §5.1.1).
///
/// Stream 0 ([`StreamId::CONNECTION`]) stands for the connection as a
/// whole. Clients open odd-numbered streams, servers even-numbered ones.
///
/// ```
/// use peregrine_core::h2::frame::StreamId;
///
/// let id = StreamId::new(3).unwrap();
/// assert!(id.is_client_initiated());
/// assert_eq!(id.get(), 3);
/// assert_eq!(StreamId::new(0x8000_0001), None); // 32 bits, not 31
/// assert!(StreamId::CONNECTION.is_connection());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId(u32);

impl StreamId {
    /// Stream 0: frames that concern the connection as a whole.
    pub const CONNECTION: StreamId = StreamId(0);

    /// The largest stream identifier, 2³¹ − 1.
    pub const MAX: StreamId = StreamId(0x7fff_ffff);

    /// The stream `id`, or `None` if it does not fit in 31 bits.
    #[inline]
    pub const fn new(id: u32) -> Option<StreamId> {
        if id <= Self::MAX.0 {
            Some(StreamId(id))
        } else {
            None
        }
    }

    /// The identifier in a 32-bit field on the wire, its reserved most
    /// significant bit ignored as RFC 9113 §4.1 requires of a receiver.
    #[inline]
    pub(crate) const fn from_wire(field: u32) -> StreamId {
        StreamId(field & Self::MAX.0)
    }

    /// The identifier as a number.
    #[inline]
    pub const fn get(self) -> u32 {
        self.0
    }

    /// Whether this is stream 0, the connection itself.
    #[inline]
    pub const fn is_connection(self) -> bool {
        self.0 == 0
    }

    /// Whether a client opens this stream: odd identifiers.
    #[inline]
    pub const fn is_client_initiated(self) -> bool {
        self.0 % 2 == 1
    }

    /// Whether a server opens this stream: even identifiers but 0.
    #[inline]
    pub const fn is_server_initiated(self) -> bool {
        self.0 != 0 && self.0 % 2 == 0
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A frame's type (RFC 9113 §6, §11.2).
///
/// A type this crate does not know is kept as [`FrameType::Unknown`]: an
/// endpoint ignores and discards such frames (§5.5), which is how
/// extensions it has not negotiated pass it by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FrameType {
    /// 0x0: a stream's content (§6.1).
    Data,
    /// 0x1: opens a stream and carries a field block fragment (§6.2).
    Headers,
    /// 0x2: the deprecated priority of a stream (§6.3).
    Priority,
    /// 0x3: ends a stream at once, with an error code (§6.4).
    RstStream,
    /// 0x4: the sender's configuration, or the acknowledgement of the
    /// peer's (§6.5).
    Settings,
    /// 0x5: a stream the server is about to push (§6.6).
    PushPromise,
    /// 0x6: a round trip measurement or liveness check (§6.7).
    Ping,
    /// 0x7: the start of the connection's shutdown (§6.8).
    GoAway,
    /// 0x8: more room in a flow-control window (§6.9).
    WindowUpdate,
    /// 0x9: the next fragment of a field block (§6.10).
    Continuation,
    /// Any other value: an extension frame, ignored (§5.5). Never one of
    /// the values above when made by [`FrameType::from_u8`].
    Unknown(u8),
}

impl FrameType {
    /// The type with the code `code`.
    #[inline]
    pub const fn from_u8(code: u8) -> FrameType {
        match code {
            0x0 => FrameType::Data,
            0x1 => FrameType::Headers,
            0x2 => FrameType::Priority,
            0x3 => FrameType::RstStream,
            0x4 => FrameType::Settings,
            0x5 => FrameType::PushPromise,
            0x6 => FrameType::Ping,
            0x7 => FrameType::GoAway,
            0x8 => FrameType::WindowUpdate,
            0x9 => FrameType::Continuation,
            other => FrameType::Unknown(other),
        }
    }

    /// The type's code on the wire.
    #[inline]
    pub const fn as_u8(self) -> u8 {
        match self {
            FrameType::Data => 0x0,
            FrameType::Headers => 0x1,
            FrameType::Priority => 0x2,
            FrameType::RstStream => 0x3,
            FrameType::Settings => 0x4,
            FrameType::PushPromise => 0x5,
            FrameType::Ping => 0x6,
            FrameType::GoAway => 0x7,
            FrameType::WindowUpdate => 0x8,
            FrameType::Continuation => 0x9,
            FrameType::Unknown(code) => code,
        }
    }

    /// Whether a frame of this type can change the state of the whole
    /// connection even on a stream: the ones carrying a field block
    /// (HEADERS, PUSH_PROMISE, CONTINUATION, which feed the HPACK decoder)
    /// and SETTINGS. A size error in one of them is a connection error
    /// (RFC 9113 §4.2).
    #[inline]
    pub const fn alters_connection_state(self) -> bool {
        matches!(
            self,
            FrameType::Headers
                | FrameType::PushPromise
                | FrameType::Continuation
                | FrameType::Settings
        )
    }
}

impl From<u8> for FrameType {
    fn from(code: u8) -> Self {
        FrameType::from_u8(code)
    }
}

impl From<FrameType> for u8 {
    fn from(frame_type: FrameType) -> Self {
        frame_type.as_u8()
    }
}

/// The flags byte of a frame header (RFC 9113 §4.1).
///
/// What a flag means depends on the frame type, and two flags of different
/// types share a bit ([`END_STREAM`](Self::END_STREAM) and
/// [`ACK`](Self::ACK) are both 0x1). Flags a type does not define are
/// ignored on receipt and never sent. The parsed [`Frame`](super::Frame)s
/// turn the flags into named fields; this type serves the raw header.
///
/// ```
/// use peregrine_core::h2::frame::Flags;
///
/// let flags = Flags::END_STREAM.union(Flags::END_HEADERS);
/// assert_eq!(flags.bits(), 0x5);
/// assert!(flags.contains(Flags::END_HEADERS));
/// assert!(!flags.contains(Flags::PADDED));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Flags(u8);

impl Flags {
    /// No flag set.
    pub const EMPTY: Flags = Flags(0);
    /// 0x1 on DATA and HEADERS: the last frame the sender sends on the
    /// stream (§6.1, §6.2).
    pub const END_STREAM: Flags = Flags(0x1);
    /// 0x1 on SETTINGS and PING: an acknowledgement (§6.5, §6.7).
    pub const ACK: Flags = Flags(0x1);
    /// 0x4 on HEADERS, PUSH_PROMISE and CONTINUATION: the last frame of
    /// the field block (§6.2, §6.6, §6.10).
    pub const END_HEADERS: Flags = Flags(0x4);
    /// 0x8 on DATA, HEADERS and PUSH_PROMISE: the payload starts with a
    /// pad length and ends with padding (§6.1).
    pub const PADDED: Flags = Flags(0x8);
    /// 0x20 on HEADERS: the payload carries priority fields (§6.2).
    pub const PRIORITY: Flags = Flags(0x20);

    /// The flags whose bits are set in `bits`.
    #[inline]
    pub const fn from_bits(bits: u8) -> Flags {
        Flags(bits)
    }

    /// The flags byte.
    #[inline]
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether every flag of `other` is set in `self`.
    #[inline]
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// The flags set in either.
    #[inline]
    #[must_use]
    pub const fn union(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }

    /// `flag` if `condition` holds, else no flag.
    #[inline]
    pub(crate) const fn when(condition: bool, flag: Flags) -> Flags {
        if condition { flag } else { Flags::EMPTY }
    }
}

/// A frame header (RFC 9113 §4.1).
///
/// ```text
/// +-----------------------------------------------+
/// |                 Length (24)                   |
/// +---------------+---------------+---------------+
/// |   Type (8)    |   Flags (8)   |
/// +-+-------------+---------------+-------------------------------+
/// |R|                 Stream Identifier (31)                      |
/// +=+=============================================================+
/// |                   Frame Payload (0...)                      ...
/// +---------------------------------------------------------------+
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FrameHeader {
    /// The payload's length in bytes, below 2²⁴.
    pub length: u32,
    /// What the frame is.
    pub frame_type: FrameType,
    /// The flags byte, as sent.
    pub flags: Flags,
    /// The stream the frame belongs to; 0 for the connection.
    pub stream_id: StreamId,
}

impl FrameHeader {
    /// The header at the start of `input`, or `None` if `input` holds
    /// fewer than [`FRAME_HEADER_LEN`] bytes. Any nine bytes are a header;
    /// whether the frame is valid is [`validate`](Self::validate)'s
    /// question. The reserved bit of the stream identifier is ignored.
    ///
    /// ```
    /// use peregrine_core::h2::frame::{Flags, FrameHeader, FrameType};
    ///
    /// let header = FrameHeader::parse(b"\x00\x00\x08\x06\x01\x00\x00\x00\x00").unwrap();
    /// assert_eq!(header.length, 8);
    /// assert_eq!(header.frame_type, FrameType::Ping);
    /// assert_eq!(header.flags, Flags::ACK);
    /// assert!(header.stream_id.is_connection());
    /// assert_eq!(FrameHeader::parse(b"\x00\x00\x08"), None);
    /// ```
    #[inline]
    pub const fn parse(input: &[u8]) -> Option<FrameHeader> {
        let [l0, l1, l2, frame_type, flags, s0, s1, s2, s3, ..] = *input else {
            return None;
        };
        Some(FrameHeader {
            length: u32::from_be_bytes([0, l0, l1, l2]),
            frame_type: FrameType::from_u8(frame_type),
            flags: Flags(flags),
            stream_id: StreamId::from_wire(u32::from_be_bytes([s0, s1, s2, s3])),
        })
    }

    /// The header's nine bytes, the reserved bit clear. Only the low 24
    /// bits of the length are written: the encoders check it first.
    #[inline]
    pub(crate) const fn to_bytes(self) -> [u8; FRAME_HEADER_LEN] {
        let [_, l0, l1, l2] = self.length.to_be_bytes();
        let [s0, s1, s2, s3] = self.stream_id.get().to_be_bytes();
        [
            l0,
            l1,
            l2,
            self.frame_type.as_u8(),
            self.flags.bits(),
            s0,
            s1,
            s2,
            s3,
        ]
    }

    /// The length of the whole frame, header and payload, in bytes.
    #[inline]
    pub const fn frame_len(&self) -> usize {
        // At most 9 + 2^24 - 1, which fits the usize of any target that
        // can hold such a frame; saturate on the others.
        let length = if usize::BITS >= 32 {
            self.length as usize
        } else {
            usize::MAX
        };
        FRAME_HEADER_LEN.saturating_add(length)
    }
}
