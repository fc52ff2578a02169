//! HTTP/2 frames (RFC 9113 §4 and §6): parsing and encoding.
//!
//! Everything here works on byte slices the caller owns and keeps no
//! state between calls:
//!
//! - [`detect_preface`] tells the client preface (§3.4) from an HTTP/1.1
//!   request on a plaintext port serving both.
//! - [`parse_frame`] parses the frame at the start of the bytes received
//!   so far into a [`Frame`], its payload borrowed, or says more bytes are
//!   needed. It checks every rule a frame can break on its own: sizes
//!   against our `SETTINGS_MAX_FRAME_SIZE` (§4.2), the fixed lengths and
//!   stream identifiers of each type (§6), padding, SETTINGS values
//!   (§6.5.2), WINDOW_UPDATE increments (§6.9). A [`FrameError`] names
//!   the rule, its [`ErrorCode`] (§7) and whether it ends the connection
//!   or one stream ([`ErrorScope`], §5.4).
//! - [`parse_frame_start`] parses only a frame's header and fixed fields
//!   ([`FrameStart`]), with the same checks, for a receiver that takes
//!   the rest of a large frame in pieces as it arrives.
//! - [`Settings`] holds the values in force, which SETTINGS frames
//!   change.
//! - The `encode_*` functions write the frames a server sends. DATA
//!   payloads are never copied: [`encode_data_header`] makes the header
//!   to send before them.
//!
//! What spans frames (stream states, a field block spread over HEADERS
//! and CONTINUATION frames, flow control in
//! [`flow`](crate::h2::flow)) belongs to the connection.
//!
//! ```
//! use peregrine_core::h2::frame::{
//!     detect_preface, encode_settings_ack, parse_frame, Frame, PrefaceStatus, Settings,
//!     SettingsFrame, CLIENT_PREFACE, DEFAULT_MAX_FRAME_SIZE,
//! };
//!
//! // A client's first bytes: the preface, and SETTINGS with
//! // SETTINGS_INITIAL_WINDOW_SIZE = 1 MiB.
//! let mut wire = CLIENT_PREFACE.to_vec();
//! wire.extend_from_slice(b"\x00\x00\x06\x04\x00\x00\x00\x00\x00\x00\x04\x00\x10\x00\x00");
//! assert_eq!(detect_preface(&wire), PrefaceStatus::Matched);
//! let received = &wire[CLIENT_PREFACE.len()..];
//!
//! let mut peer = Settings::DEFAULT;
//! let (frame, consumed) = parse_frame(received, DEFAULT_MAX_FRAME_SIZE).unwrap().unwrap();
//! assert_eq!(consumed, received.len());
//! let Frame::Settings(SettingsFrame::Parameters(parameters)) = frame else { panic!() };
//! peer.apply_all(parameters);
//! assert_eq!(peer.initial_window_size, 1 << 20);
//!
//! let mut out = [0; 9];
//! let len = encode_settings_ack(&mut out).unwrap();
//! assert_eq!(&out[..len], b"\x00\x00\x00\x04\x01\x00\x00\x00\x00");
//! ```

mod encode;
mod error;
mod header;
mod parse;
mod preface;
mod settings;
mod start;

pub use encode::{
    encode_data_header, encode_goaway, encode_headers, encode_ping, encode_ping_ack,
    encode_rst_stream, encode_settings, encode_settings_ack, encode_window_update,
    encoded_headers_len,
};
pub use error::{EncodeError, ErrorCode, ErrorScope, FrameError, FrameErrorKind};
pub use header::{
    DEFAULT_MAX_FRAME_SIZE, FRAME_HEADER_LEN, Flags, FrameHeader, FrameType, MAX_FRAME_SIZE_LIMIT,
    StreamId,
};
pub use parse::{
    ContinuationFrame, DataFrame, Frame, GoAwayFrame, HeadersFrame, PingFrame, Priority,
    PriorityFrame, PushPromiseFrame, RstStreamFrame, SettingsFrame, UnknownFrame,
    WindowUpdateFrame, parse_frame,
};
pub use preface::{CLIENT_PREFACE, PrefaceStatus, detect_preface};
pub use settings::{SETTING_LEN, Setting, SettingId, Settings, SettingsIter, SettingsParameters};
pub use start::{FrameStart, parse_frame_start};

static_assertions::assert_impl_all!(Frame<'static>: Copy, Send, Sync);
static_assertions::assert_impl_all!(FrameError: Copy, Send, Sync, core::fmt::Display);
