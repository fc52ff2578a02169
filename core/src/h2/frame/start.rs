//! A frame taken in pieces: its header and fixed fields, checked as
//! [`parse_frame`](super::parse_frame) checks them, before the rest of
//! its payload has arrived.
//!
//! A receiver whose buffer is smaller than a frame (a 16 KiB read buffer
//! cannot hold a 16,384-byte payload and its header) reads the start with
//! [`parse_frame_start`], then takes the frame's content (DATA's data, a
//! field block fragment, SETTINGS parameters, GOAWAY debug data, an
//! unknown payload) and padding as they come.

use super::error::{FrameError, FrameErrorKind};
use super::header::{FRAME_HEADER_LEN, Flags, FrameHeader, FrameType};
use super::parse::{Priority, parse_payload};
use super::settings::{SETTING_LEN, Setting};

/// What the first bytes of a frame say: its header, and the fields its
/// payload starts with (pad length, priority fields, PUSH_PROMISE's
/// promised stream, GOAWAY's last stream and error code), every rule they
/// can break checked.
///
/// The frame is `fixed_len` bytes of header and fixed fields, then
/// `content_len` bytes of content, then `padding` bytes of padding. For
/// the types of a fixed size (PRIORITY, RST_STREAM, PING, WINDOW_UPDATE)
/// the whole payload counts as fixed fields, checked as
/// [`parse_frame`](super::parse_frame) checks them; their content is
/// empty.
///
/// ```
/// use peregrine_core::h2::frame::{parse_frame_start, FrameType, DEFAULT_MAX_FRAME_SIZE};
///
/// // A padded DATA frame on stream 1 of 16,384 bytes: pad length 100,
/// // 16,283 bytes of data. Its first ten bytes are enough.
/// let start = b"\x00\x40\x00\x00\x08\x00\x00\x00\x01\x64";
/// let frame = parse_frame_start(start, DEFAULT_MAX_FRAME_SIZE).unwrap().unwrap();
/// assert_eq!(frame.header.frame_type, FrameType::Data);
/// assert_eq!((frame.fixed_len, frame.content_len, frame.padding), (10, 16_283, 100));
/// assert_eq!(frame.frame_len(), 9 + 16_384);
/// assert_eq!(parse_frame_start(&start[..9], DEFAULT_MAX_FRAME_SIZE), Ok(None)); // the pad length
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FrameStart {
    /// The frame's header, checked against the size limit and the rules
    /// of its type ([`FrameHeader::validate`]).
    pub header: FrameHeader,
    /// The bytes of the header and the fixed fields: where the content
    /// starts, from the start of the frame.
    pub fixed_len: usize,
    /// The bytes of content after them.
    pub content_len: usize,
    /// The bytes of padding after the content.
    pub padding: usize,
    /// The priority fields of a HEADERS frame that carries them.
    pub priority: Option<Priority>,
}

impl FrameStart {
    /// The length of the whole frame, header included.
    #[inline]
    pub const fn frame_len(&self) -> usize {
        self.header.frame_len()
    }

    /// One parameter of this SETTINGS frame's content, checked (§6.5.2):
    /// `Ok(None)` for an identifier this crate does not know (ignored).
    ///
    /// # Errors
    ///
    /// A connection error with [`FrameErrorKind::InvalidSetting`] for a
    /// value out of its range, as [`parse_frame`](super::parse_frame)
    /// reports it for the whole frame.
    pub fn setting(&self, parameter: [u8; SETTING_LEN]) -> Result<Option<Setting>, FrameError> {
        let [i0, i1, v0, v1, v2, v3] = parameter;
        Setting::from_wire(
            u16::from_be_bytes([i0, i1]),
            u32::from_be_bytes([v0, v1, v2, v3]),
        )
        .map_err(|id| {
            self.header
                .connection_error(FrameErrorKind::InvalidSetting(id))
        })
    }
}

/// Parses the start of the frame at the start of `input`: its header and
/// fixed fields, checked against `max_frame_size` (our
/// `SETTINGS_MAX_FRAME_SIZE`) and every rule they can break on their own,
/// as [`parse_frame`](super::parse_frame) checks them: stream identifiers,
/// lengths, padding longer than the rest of the payload (§6.1, §6.2,
/// §6.6), a PRIORITY frame naming its own stream, a WINDOW_UPDATE of 0.
/// What only the content can break (a SETTINGS value out of range) is
/// [`FrameStart::setting`]'s to check as the content arrives.
///
/// Returns `Ok(None)` while `input` holds less than the header and the
/// fixed fields: at most 17 bytes (a PING, or a GOAWAY's fixed part).
///
/// # Errors
///
/// A [`FrameError`] for the first rule broken, with the scope
/// [`parse_frame`](super::parse_frame) gives it. Rules the header alone
/// breaks are found as soon as its nine bytes are in.
pub fn parse_frame_start(
    input: &[u8],
    max_frame_size: u32,
) -> Result<Option<FrameStart>, FrameError> {
    let Some(header) = FrameHeader::parse(input) else {
        return Ok(None);
    };
    header.validate(max_frame_size)?;
    let flags = header.flags;
    // PADDED means something on these types only (§6.1, §6.2, §6.6).
    let padded = flags.contains(Flags::PADDED)
        && matches!(
            header.frame_type,
            FrameType::Data | FrameType::Headers | FrameType::PushPromise
        );
    let pad_length_len = usize::from(padded);
    let fields_len = match header.frame_type {
        FrameType::Data => pad_length_len,
        FrameType::Headers if flags.contains(Flags::PRIORITY) => pad_length_len + 5,
        FrameType::Headers => pad_length_len,
        FrameType::PushPromise => pad_length_len + 4,
        FrameType::GoAway | FrameType::Ping => 8,
        FrameType::Priority => 5,
        FrameType::RstStream | FrameType::WindowUpdate => 4,
        FrameType::Settings | FrameType::Continuation | FrameType::Unknown(_) => 0,
    };
    let fixed_len = FRAME_HEADER_LEN + fields_len;
    let Some(fields) = input.get(FRAME_HEADER_LEN..fixed_len) else {
        return Ok(None);
    };
    let (padding, priority) = match header.frame_type {
        FrameType::Priority | FrameType::RstStream | FrameType::WindowUpdate | FrameType::Ping => {
            // The whole payload: checked as a whole frame is.
            parse_payload(header, fields)?;
            (0, None)
        }
        FrameType::Headers if flags.contains(Flags::PRIORITY) => {
            let priority = fields[pad_length_len..]
                .first_chunk()
                .map(|fields| Priority::parse(*fields));
            (pad_length(fields, padded), priority)
        }
        _ => (pad_length(fields, padded), None),
    };
    // The header check made the length at least the fixed fields'.
    let rest = (header.length as usize).saturating_sub(fields_len);
    let Some(content_len) = rest.checked_sub(padding) else {
        return Err(header.connection_error(FrameErrorKind::PaddingTooLong));
    };
    Ok(Some(FrameStart {
        header,
        fixed_len,
        content_len,
        padding,
        priority,
    }))
}

/// The pad length, the first of `fields`, if the frame is `padded`.
fn pad_length(fields: &[u8], padded: bool) -> usize {
    match fields.first() {
        Some(&pad_len) if padded => usize::from(pad_len),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h2::frame::{DEFAULT_MAX_FRAME_SIZE, ErrorCode, ErrorScope, SettingId};

    fn start(bytes: &[u8]) -> Result<Option<FrameStart>, FrameError> {
        parse_frame_start(bytes, DEFAULT_MAX_FRAME_SIZE)
    }

    #[test]
    fn a_padded_headers_frame_with_priority_needs_fifteen_bytes() {
        // 300 bytes: pad length 20, priority on stream 3, weight 16.
        let bytes = b"\x00\x01\x2c\x01\x2d\x00\x00\x00\x01\x14\x80\x00\x00\x03\x0f";
        for len in 0..bytes.len() {
            assert_eq!(start(&bytes[..len]), Ok(None), "{len}");
        }
        let frame = start(bytes).unwrap().unwrap();
        assert_eq!(frame.fixed_len, 15);
        assert_eq!((frame.content_len, frame.padding), (300 - 6 - 20, 20));
        let priority = frame.priority.unwrap();
        assert_eq!(priority.dependency.get(), 3);
        assert!(priority.exclusive);
        assert_eq!(priority.weight, 16);
    }

    #[test]
    fn padding_as_long_as_the_rest_is_allowed_and_one_more_is_not() {
        // DATA of 10 bytes: pad length 9 leaves no data; 10 is too long.
        let at_bound = start(b"\x00\x00\x0a\x00\x08\x00\x00\x00\x01\x09").unwrap();
        assert_eq!(at_bound.map(|f| (f.content_len, f.padding)), Some((0, 9)));
        let error = start(b"\x00\x00\x0a\x00\x08\x00\x00\x00\x01\x0a").unwrap_err();
        assert_eq!(error.kind, FrameErrorKind::PaddingTooLong);
        assert_eq!(error.scope, ErrorScope::Connection);
    }

    #[test]
    fn fixed_size_frames_are_checked_whole() {
        // PRIORITY on stream 1 naming stream 1: a stream error.
        let error = start(b"\x00\x00\x05\x02\x00\x00\x00\x00\x01\x00\x00\x00\x01\x0f").unwrap_err();
        assert_eq!(error.kind, FrameErrorKind::SelfDependency);
        assert_eq!(error.scope, ErrorScope::Stream(error.header.stream_id));
        // WINDOW_UPDATE of 0 on the connection.
        let error = start(b"\x00\x00\x04\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00").unwrap_err();
        assert_eq!(error.kind, FrameErrorKind::ZeroWindowIncrement);
        // A PING needs all 17 bytes.
        let ping = b"\x00\x00\x08\x06\x00\x00\x00\x00\x00pingpong";
        assert_eq!(start(&ping[..16]), Ok(None));
        let frame = start(ping).unwrap().unwrap();
        assert_eq!((frame.fixed_len, frame.content_len), (17, 0));
    }

    #[test]
    fn header_errors_come_with_nine_bytes_and_settings_values_one_at_a_time() {
        // One byte past the limit.
        let error = start(b"\x00\x40\x01\x00\x00\x00\x00\x00\x01").unwrap_err();
        assert_eq!(error.code(), ErrorCode::FrameSizeError);
        let frame = start(b"\x00\x00\x0c\x04\x00\x00\x00\x00\x00")
            .unwrap()
            .unwrap();
        assert_eq!((frame.fixed_len, frame.content_len), (9, 12));
        assert_eq!(
            frame.setting(*b"\x00\x04\x7f\xff\xff\xff"),
            Ok(Some(Setting::InitialWindowSize((1 << 31) - 1)))
        );
        assert_eq!(frame.setting(*b"\xf0\x0d\x00\x00\x00\x07"), Ok(None));
        let error = frame.setting(*b"\x00\x04\x80\x00\x00\x00").unwrap_err();
        assert_eq!(
            error.kind,
            FrameErrorKind::InvalidSetting(SettingId::InitialWindowSize)
        );
        assert_eq!(error.code(), ErrorCode::FlowControlError);
    }
}
