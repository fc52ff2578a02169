//! One message through DEFLATE: compressed into a whole frame in the write
//! buffer, or decompressed where the session reassembled it (RFC 7692
//! §7.2).

use core::ops::Range;

use super::{CodecError, Context, Deflate, Inflated, TAIL, max_compressed_len};
use crate::ws::ProtocolError;
use crate::ws::frame::{MAX_SERVER_HEADER_LEN, Opcode, encode_header, set_rsv1};

/// What [`compress_frame`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Compressed {
    /// The frame is at the start of `out`, this long.
    Frame(usize),
    /// Send the message uncompressed: it did not shrink, or the room left
    /// could not be sure to hold it compressed.
    Skipped,
    /// The codec failed with context takeover: its state no longer matches
    /// the peer's, so this message and all later ones go uncompressed.
    Broken,
}

/// Compresses `payload` and writes it as one frame with RSV1 set (a whole
/// message, FIN set) to the start of `out`.
///
/// Without context takeover (`context.reset`), a message that does not
/// come out smaller is [`Compressed::Skipped`], and the codec is given no
/// more room than the payload's length, so incompressible data costs
/// little. With it, the message must go out compressed once the state took
/// it in, so the codec is called only when `out` holds the worst case.
pub(crate) fn compress_frame(
    codec: &mut dyn Deflate,
    context: Context,
    opcode: Opcode,
    payload: &[u8],
    out: &mut [u8],
) -> Compressed {
    let header_room = MAX_SERVER_HEADER_LEN;
    let room = out.len().saturating_sub(header_room);
    let limit = if context.reset {
        // Worth sending only if smaller, tail removed.
        room.min(payload.len() + TAIL.len() - 1)
    } else if room >= max_compressed_len(payload.len()) {
        room
    } else {
        return Compressed::Skipped;
    };
    let body = &mut out[header_room..header_room + limit];
    let written = match codec.compress(context, payload, body) {
        Ok(written) => written,
        Err(_) if context.reset => return Compressed::Skipped,
        Err(_) => return Compressed::Broken,
    };
    // §7.2.1: the sync flush's empty block goes; its absence is the
    // codec's bug, and the bytes cannot be trusted.
    let Some(len) = written
        .checked_sub(TAIL.len())
        .filter(|&len| body[len..written] == TAIL)
    else {
        return if context.reset {
            Compressed::Skipped
        } else {
            Compressed::Broken
        };
    };
    let mut header = [0; MAX_SERVER_HEADER_LEN];
    let header = encode_header(opcode, true, len, &mut header);
    let header_len = header.len();
    out.copy_within(header_room..header_room + len, header_len);
    out[..header_len].copy_from_slice(header);
    set_rsv1(&mut out[..header_len]);
    Compressed::Frame(header_len + len)
}

/// Decompresses the message at `input` in `buf`, the payload of its frames
/// joined, into `buf` from `out_start` on (after `input` and every byte
/// the session still holds), and returns where the message now lies.
///
/// # Errors
///
/// [`ProtocolError::MessageTooBig`] past `limit` bytes, or up to the end
/// of `buf`; [`ProtocolError::InvalidCompressedData`] for data that is not
/// DEFLATE.
pub(crate) fn inflate_message(
    codec: &mut dyn Deflate,
    context: Context,
    buf: &mut [u8],
    input: Range<usize>,
    out_start: usize,
    limit: usize,
) -> Result<Range<usize>, ProtocolError> {
    let (held, free) = buf.split_at_mut(out_start);
    // One byte over the limit tells a message at the limit from one past it.
    let capacity = free.len().min(limit.saturating_add(1));
    let out = &mut free[..capacity];
    let error = |error| match error {
        CodecError::OutputFull => ProtocolError::MessageTooBig,
        CodecError::Invalid => ProtocolError::InvalidCompressedData,
    };
    let body = codec
        .decompress(context, &held[input], out)
        .map_err(error)?;
    let mut end = body.written;
    if !body.stream_end {
        // §7.2.2: the empty block the sender removed.
        let tail_context = Context {
            reset: false,
            ..context
        };
        let tail: Inflated = codec
            .decompress(tail_context, &TAIL, &mut out[end..])
            .map_err(error)?;
        end += tail.written;
    }
    // Output up to the last byte of room may have more behind it: refused,
    // as is anything past the limit.
    if end >= capacity {
        return Err(ProtocolError::MessageTooBig);
    }
    Ok(out_start..out_start + end)
}
