//! The frames a server sends, encoded into buffers the caller owns.
//!
//! Every encoder writes whole frames at the start of `buf` and returns
//! their length, or fails without having written a frame the caller could
//! mistake for a complete one. Each checks what would make its output
//! invalid (a stream frame on stream 0, a setting out of range, a payload
//! beyond 2²⁴ − 1 bytes), so whatever it writes the peer can parse.
//!
//! DATA is the exception to "whole frames": [`encode_data_header`] makes
//! the nine bytes of the header alone, so the payload goes out as its own
//! slice of a vectored write, never copied.

use super::error::{EncodeError, ErrorCode};
use super::header::{
    FRAME_HEADER_LEN, Flags, FrameHeader, FrameType, MAX_FRAME_SIZE_LIMIT, StreamId,
};
use super::settings::{SETTING_LEN, Setting};
use crate::h2::flow::MAX_WINDOW_SIZE;

/// The header of a frame with a payload of `payload_len` bytes, checked
/// against the 24-bit length field.
fn header(
    frame_type: FrameType,
    flags: Flags,
    stream_id: StreamId,
    payload_len: usize,
) -> Result<FrameHeader, EncodeError> {
    let length = u32::try_from(payload_len)
        .ok()
        .filter(|&length| length <= MAX_FRAME_SIZE_LIMIT)
        .ok_or(EncodeError::PayloadTooLarge)?;
    Ok(FrameHeader {
        length,
        frame_type,
        flags,
        stream_id,
    })
}

/// Writes one frame, its payload the concatenation of `payload`, at the
/// start of `buf`; returns its length.
fn write_frame(
    buf: &mut [u8],
    frame_type: FrameType,
    flags: Flags,
    stream_id: StreamId,
    payload: &[&[u8]],
) -> Result<usize, EncodeError> {
    let payload_len = payload
        .iter()
        .try_fold(0usize, |sum, part| sum.checked_add(part.len()))
        .ok_or(EncodeError::PayloadTooLarge)?;
    let header = header(frame_type, flags, stream_id, payload_len)?;
    let needed = FRAME_HEADER_LEN + payload_len;
    let Some(out) = buf.get_mut(..needed) else {
        return Err(EncodeError::BufferTooSmall { needed });
    };
    let (header_out, mut payload_out) = out.split_at_mut(FRAME_HEADER_LEN);
    header_out.copy_from_slice(&header.to_bytes());
    for part in payload {
        let (this, rest) = payload_out.split_at_mut(part.len());
        this.copy_from_slice(part);
        payload_out = rest;
    }
    Ok(needed)
}

/// Fails with [`EncodeError::StreamIdZero`] for stream 0.
fn require_stream(stream_id: StreamId) -> Result<(), EncodeError> {
    if stream_id.is_connection() {
        Err(EncodeError::StreamIdZero)
    } else {
        Ok(())
    }
}

/// Writes a SETTINGS frame carrying `settings`, in order (§6.5).
///
/// # Errors
///
/// [`EncodeError::InvalidSetting`] for a value out of its range (§6.5.2),
/// [`EncodeError::BufferTooSmall`] if `buf` is shorter than
/// 9 + 6 × `settings.len()` bytes.
///
/// ```
/// use peregrine_core::h2::frame::{encode_settings, parse_frame, Frame, Setting, SettingsFrame};
///
/// let mut buf = [0; 64];
/// let ours = [Setting::MaxConcurrentStreams(100), Setting::InitialWindowSize(1 << 20)];
/// let len = encode_settings(&mut buf, &ours).unwrap();
/// assert_eq!(len, 9 + 12);
/// let Some((Frame::Settings(SettingsFrame::Parameters(parameters)), _)) =
///     parse_frame(&buf[..len], 16_384).unwrap() else { panic!() };
/// assert!(parameters.iter().eq(ours));
/// ```
pub fn encode_settings(buf: &mut [u8], settings: &[Setting]) -> Result<usize, EncodeError> {
    if let Some(invalid) = settings.iter().find(|setting| !setting.is_valid()) {
        return Err(EncodeError::InvalidSetting(invalid.id()));
    }
    let payload_len = settings
        .len()
        .checked_mul(SETTING_LEN)
        .ok_or(EncodeError::PayloadTooLarge)?;
    let header = header(
        FrameType::Settings,
        Flags::EMPTY,
        StreamId::CONNECTION,
        payload_len,
    )?;
    let needed = FRAME_HEADER_LEN + payload_len;
    let Some(out) = buf.get_mut(..needed) else {
        return Err(EncodeError::BufferTooSmall { needed });
    };
    let (header_out, payload_out) = out.split_at_mut(FRAME_HEADER_LEN);
    header_out.copy_from_slice(&header.to_bytes());
    for (setting, out) in settings
        .iter()
        .zip(payload_out.chunks_exact_mut(SETTING_LEN))
    {
        let (id, value) = out.split_at_mut(2);
        id.copy_from_slice(&setting.id().as_u16().to_be_bytes());
        value.copy_from_slice(&setting.value().to_be_bytes());
    }
    Ok(needed)
}

/// Writes a SETTINGS frame with the ACK flag and no payload: the answer
/// to the peer's SETTINGS once applied (§6.5.3). Nine bytes.
///
/// # Errors
///
/// [`EncodeError::BufferTooSmall`] if `buf` is shorter than nine bytes.
pub fn encode_settings_ack(buf: &mut [u8]) -> Result<usize, EncodeError> {
    write_frame(
        buf,
        FrameType::Settings,
        Flags::ACK,
        StreamId::CONNECTION,
        &[],
    )
}

/// Writes a PING frame carrying `opaque_data`, which the peer's
/// acknowledgement echoes (§6.7). Seventeen bytes.
///
/// # Errors
///
/// [`EncodeError::BufferTooSmall`] if `buf` is shorter than 17 bytes.
pub fn encode_ping(buf: &mut [u8], opaque_data: [u8; 8]) -> Result<usize, EncodeError> {
    write_frame(
        buf,
        FrameType::Ping,
        Flags::EMPTY,
        StreamId::CONNECTION,
        &[&opaque_data],
    )
}

/// Writes the acknowledgement of a PING: the ACK flag and the PING's
/// `opaque_data` (§6.7). Seventeen bytes.
///
/// # Errors
///
/// [`EncodeError::BufferTooSmall`] if `buf` is shorter than 17 bytes.
pub fn encode_ping_ack(buf: &mut [u8], opaque_data: [u8; 8]) -> Result<usize, EncodeError> {
    write_frame(
        buf,
        FrameType::Ping,
        Flags::ACK,
        StreamId::CONNECTION,
        &[&opaque_data],
    )
}

/// Writes a GOAWAY frame (§6.8): the highest stream the server acted on
/// or may act on, why the connection closes, and diagnostic data.
///
/// The frame is 17 + `debug_data.len()` bytes; every peer accepts it
/// whole while that stays within 16,384 + 9.
///
/// # Errors
///
/// [`EncodeError::PayloadTooLarge`] for debug data of 2²⁴ − 9 bytes or
/// more, [`EncodeError::BufferTooSmall`] if `buf` cannot hold the frame.
pub fn encode_goaway(
    buf: &mut [u8],
    last_stream_id: StreamId,
    error_code: ErrorCode,
    debug_data: &[u8],
) -> Result<usize, EncodeError> {
    write_frame(
        buf,
        FrameType::GoAway,
        Flags::EMPTY,
        StreamId::CONNECTION,
        &[
            &last_stream_id.get().to_be_bytes(),
            &error_code.as_u32().to_be_bytes(),
            debug_data,
        ],
    )
}

/// Writes an RST_STREAM frame ending `stream_id` with `error_code`
/// (§6.4). Thirteen bytes.
///
/// # Errors
///
/// [`EncodeError::StreamIdZero`] for stream 0,
/// [`EncodeError::BufferTooSmall`] if `buf` is shorter than 13 bytes.
pub fn encode_rst_stream(
    buf: &mut [u8],
    stream_id: StreamId,
    error_code: ErrorCode,
) -> Result<usize, EncodeError> {
    require_stream(stream_id)?;
    write_frame(
        buf,
        FrameType::RstStream,
        Flags::EMPTY,
        stream_id,
        &[&error_code.as_u32().to_be_bytes()],
    )
}

/// Writes a WINDOW_UPDATE frame growing the window of `stream_id` (of
/// the connection for stream 0) by `increment` bytes (§6.9). Thirteen
/// bytes.
///
/// # Errors
///
/// [`EncodeError::InvalidWindowIncrement`] for an increment of 0 or above
/// 2³¹ − 1, [`EncodeError::BufferTooSmall`] if `buf` is shorter than 13
/// bytes.
pub fn encode_window_update(
    buf: &mut [u8],
    stream_id: StreamId,
    increment: u32,
) -> Result<usize, EncodeError> {
    if increment == 0 || increment > MAX_WINDOW_SIZE {
        return Err(EncodeError::InvalidWindowIncrement);
    }
    write_frame(
        buf,
        FrameType::WindowUpdate,
        Flags::EMPTY,
        stream_id,
        &[&increment.to_be_bytes()],
    )
}

/// The size of the frames' payloads [`encode_headers`] cuts a field block
/// into: the peer's `max_frame_size` within 1..=2²⁴ − 1.
fn fragment_len(max_frame_size: u32) -> usize {
    let size = max_frame_size.clamp(1, MAX_FRAME_SIZE_LIMIT);
    usize::try_from(size).unwrap_or(usize::MAX)
}

/// The length of the frames [`encode_headers`] writes for a field block
/// of `header_block_len` bytes: the block and nine bytes for each frame,
/// one frame per `max_frame_size` bytes (and one for an empty block).
/// Saturates at `usize::MAX`.
pub fn encoded_headers_len(header_block_len: usize, max_frame_size: u32) -> usize {
    let frames = header_block_len
        .div_ceil(fragment_len(max_frame_size))
        .max(1);
    frames
        .saturating_mul(FRAME_HEADER_LEN)
        .saturating_add(header_block_len)
}

/// Writes an encoded field block as a HEADERS frame followed by as many
/// CONTINUATION frames as the peer's `max_frame_size` requires (§6.2,
/// §6.10); returns the frames' total length
/// ([`encoded_headers_len`]).
///
/// The HEADERS frame carries END_STREAM if `end_stream` (a response
/// without content, or trailers); the last frame carries END_HEADERS.
/// Neither padding nor priority fields are sent. A block of a multiple of
/// `max_frame_size` bytes fills its last frame exactly: no empty
/// CONTINUATION follows. `max_frame_size` is the peer's
/// `SETTINGS_MAX_FRAME_SIZE` (16,384 or more when it comes from a valid
/// SETTINGS frame; smaller values are honoured, 0 counts as 1).
///
/// # Errors
///
/// [`EncodeError::StreamIdZero`] for stream 0,
/// [`EncodeError::BufferTooSmall`] if `buf` cannot hold the frames.
///
/// ```
/// use peregrine_core::h2::frame::{
///     encode_headers, parse_frame, Frame, HeadersFrame, StreamId, DEFAULT_MAX_FRAME_SIZE,
/// };
///
/// let stream = StreamId::new(1).unwrap();
/// let block = b"\x88"; // HPACK: ":status: 200"
/// let mut buf = [0; 32];
/// let len = encode_headers(&mut buf, stream, block, true, DEFAULT_MAX_FRAME_SIZE).unwrap();
/// assert_eq!(&buf[..len], b"\x00\x00\x01\x01\x05\x00\x00\x00\x01\x88");
///
/// let (frame, consumed) = parse_frame(&buf[..len], DEFAULT_MAX_FRAME_SIZE).unwrap().unwrap();
/// assert_eq!(consumed, len);
/// assert_eq!(
///     frame,
///     Frame::Headers(HeadersFrame {
///         stream_id: stream,
///         priority: None,
///         fragment: block,
///         end_stream: true,
///         end_headers: true,
///     })
/// );
/// ```
pub fn encode_headers(
    buf: &mut [u8],
    stream_id: StreamId,
    header_block: &[u8],
    end_stream: bool,
    max_frame_size: u32,
) -> Result<usize, EncodeError> {
    require_stream(stream_id)?;
    let needed = encoded_headers_len(header_block.len(), max_frame_size);
    if buf.len() < needed {
        return Err(EncodeError::BufferTooSmall { needed });
    }
    let fragment_len = fragment_len(max_frame_size);
    let mut written = 0;
    let mut rest = header_block;
    let mut frame_type = FrameType::Headers;
    loop {
        let (fragment, tail) = rest.split_at(rest.len().min(fragment_len));
        let flags = Flags::when(
            frame_type == FrameType::Headers && end_stream,
            Flags::END_STREAM,
        )
        .union(Flags::when(tail.is_empty(), Flags::END_HEADERS));
        let out = buf.get_mut(written..).unwrap_or_default();
        written += write_frame(out, frame_type, flags, stream_id, &[fragment])?;
        if tail.is_empty() {
            return Ok(written);
        }
        rest = tail;
        frame_type = FrameType::Continuation;
    }
}

/// The nine-byte header of a DATA frame on `stream_id` whose payload is
/// `payload_len` bytes, with END_STREAM if `end_stream` (§6.1). The
/// payload itself is sent as the next slice of the same write, never
/// copied; it is not padded.
///
/// `payload_len` must also respect the peer's `SETTINGS_MAX_FRAME_SIZE`
/// and the flow-control windows: the caller's to check.
///
/// # Errors
///
/// [`EncodeError::StreamIdZero`] for stream 0,
/// [`EncodeError::PayloadTooLarge`] for a payload of 2²⁴ bytes or more.
///
/// ```
/// use peregrine_core::h2::frame::{encode_data_header, StreamId};
///
/// let header = encode_data_header(StreamId::new(3).unwrap(), 5, true).unwrap();
/// assert_eq!(header, *b"\x00\x00\x05\x00\x01\x00\x00\x00\x03");
/// let write: [&[u8]; 2] = [&header, b"hello"]; // one writev
/// # let _ = write;
/// ```
pub fn encode_data_header(
    stream_id: StreamId,
    payload_len: usize,
    end_stream: bool,
) -> Result<[u8; FRAME_HEADER_LEN], EncodeError> {
    require_stream(stream_id)?;
    let flags = Flags::when(end_stream, Flags::END_STREAM);
    Ok(header(FrameType::Data, flags, stream_id, payload_len)?.to_bytes())
}
