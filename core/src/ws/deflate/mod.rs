//! permessage-deflate (RFC 7692): messages compressed with DEFLATE
//! (RFC 1951), negotiated in the handshake.
//!
//! | module | job |
//! |---|---|
//! | [`negotiate`](mod@negotiate) | the client's offers in, the [`Agreement`] and the answer's `Sec-WebSocket-Extensions` value out |
//! | `message` | one message: compressed into a whole frame, or decompressed where the session reassembled it |
//!
//! The core frames, negotiates and keeps the rules; the DEFLATE coding
//! itself is the caller's, behind the [`Deflate`] trait (this crate has no
//! allocator, and a compressor needs a few hundred KiB of tables). The
//! caller hands one to each call through
//! [`Env::deflate`](crate::Env::deflate), as it does its
//! [`FileKeeper`](crate::FileKeeper).
//!
//! # How messages are coded
//!
//! - **Receiving.** A compressed message (RSV1 on its first frame) is
//!   reassembled in the read buffer as any message is, compressed; once its
//!   last frame is in, it is decompressed whole, in one call, into the free
//!   part of the same buffer, followed by the `00 00 ff ff` tail the sender
//!   removed (§7.2.2). Fragment boundaries, empty fragments included, do
//!   not matter to DEFLATE, and a decompressor is never left holding half
//!   a message, so without context takeover one serves every connection in
//!   turn. Its output is bounded by the message limit and the room in the
//!   buffer: a message that would inflate past either fails the connection
//!   with 1009, however small it was on the wire (a deflate bomb costs one
//!   buffer's worth of work).
//! - **Sending.** A text or binary message of at least
//!   [`Config::websocket_deflate_min_len`](crate::Config::websocket_deflate_min_len)
//!   bytes is compressed straight into the write buffer with a sync flush,
//!   its `00 00 ff ff` tail removed (§7.2.1), in one frame with RSV1 set.
//!   Without context takeover, a message that does not shrink is sent as it
//!   is instead (RSV1 clear, §6). Control frames are never compressed.

mod message;
pub mod negotiate;
#[cfg(test)]
mod tests;

pub use negotiate::{
    Agreement, EXTENSION_NAME, MAX_RESPONSE_LEN, MAX_WINDOW_BITS, MIN_SERVER_WINDOW_BITS, negotiate,
};

pub(crate) use message::{Compressed, compress_frame, inflate_message};

use core::fmt;

/// The empty stored block a sync flush ends with, which the sender removes
/// from a compressed message and the receiver appends back (RFC 7692
/// §7.2.1, §7.2.2).
pub const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Which DEFLATE state a call works on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Context {
    /// `None`: the caller's shared state, which every connection without
    /// context takeover uses in turn (`reset` is then always true).
    /// `Some(slot)`: the connection's own, taken with
    /// [`Deflate::acquire`].
    pub slot: Option<u16>,
    /// The LZ77 window the compressor may use, in bits (9 to 15). The
    /// decompressor ignores it: one with a 15-bit window reads any.
    pub window_bits: u8,
    /// Start from an empty history: before every message without context
    /// takeover, never within one.
    pub reset: bool,
}

/// What a [`Deflate::decompress`] call did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Inflated {
    /// Bytes written to `out`.
    pub written: usize,
    /// The input held the end of the DEFLATE stream.
    pub stream_end: bool,
}

/// Why a [`Deflate`] call failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CodecError {
    /// `out` filled before all of the input was taken.
    OutputFull,
    /// The input is not valid DEFLATE data (decompression only).
    Invalid,
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CodecError::OutputFull => "output buffer full",
            CodecError::Invalid => "invalid DEFLATE data",
        })
    }
}

/// Raw DEFLATE (RFC 1951: no zlib header, no checksum) for
/// permessage-deflate, implemented by the caller: a server keeps one per
/// worker, with its shared state and a bounded pool of per-connection
/// states for context takeover.
///
/// Every call takes all of `input` or fails; nothing is kept from a failed
/// call but what a later `reset` clears.
pub trait Deflate {
    /// Compresses all of `input` into `out` with a sync flush
    /// (`Z_SYNC_FLUSH`), so the output ends with [`TAIL`], and returns its
    /// length. Resets the state first when `context.reset` says so.
    ///
    /// # Errors
    ///
    /// [`CodecError::OutputFull`] if `out` is too small.
    fn compress(
        &mut self,
        context: Context,
        input: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CodecError>;

    /// Decompresses all of `input` into `out`, resetting the state first
    /// when `context.reset` says so. A message is decompressed by two
    /// calls: its payload, then [`TAIL`] (never reset) unless the first
    /// ended the stream.
    ///
    /// A stream that ends (a block with BFINAL set) ends the message: the
    /// rest of the input is ignored, [`Inflated::stream_end`] says so, and
    /// the state starts afresh for the next message (RFC 7692 §7.2.3.4).
    ///
    /// # Errors
    ///
    /// [`CodecError::OutputFull`] if `out` fills before all of `input` is
    /// taken (the message is too big), [`CodecError::Invalid`] for data
    /// that is not DEFLATE.
    fn decompress(
        &mut self,
        context: Context,
        input: &[u8],
        out: &mut [u8],
    ) -> Result<Inflated, CodecError>;

    /// Takes a state of its own for a connection with context takeover,
    /// empty; `None` if every one is taken (the connection then goes
    /// uncompressed).
    fn acquire(&mut self) -> Option<u16>;

    /// Gives back a state [`acquire`](Self::acquire) took, when its
    /// connection ends.
    fn release(&mut self, slot: u16);
}

/// Reborrows an optional coder for a shorter while (an `Option` does not
/// shorten the trait object's lifetime by itself).
pub(crate) fn reborrow<'s>(codec: &'s mut Option<&mut dyn Deflate>) -> Option<&'s mut dyn Deflate> {
    match codec {
        Some(codec) => Some(&mut **codec),
        None => None,
    }
}

/// An upper bound on the compressed size of `len` bytes with a sync flush:
/// zlib's `deflateBound` for any window and memory level (its stored-block
/// worst case), plus the flush's empty block. A [`Deflate`] given this much
/// room never fails with [`CodecError::OutputFull`].
///
/// ```
/// use peregrine_core::ws::deflate::max_compressed_len;
///
/// assert_eq!(max_compressed_len(0), 16);
/// assert!(max_compressed_len(1 << 20) < (1 << 20) + (1 << 18));
/// ```
pub const fn max_compressed_len(len: usize) -> usize {
    len.saturating_add((len.saturating_add(7)) >> 3)
        .saturating_add((len.saturating_add(63)) >> 6)
        .saturating_add(16)
}
