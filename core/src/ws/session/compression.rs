//! permessage-deflate in a [`Session`]: turning it on, compressing what
//! is sent, decompressing what was reassembled (RFC 7692).

use core::ops::Range;

use super::Session;
use crate::ws::ProtocolError;
use crate::ws::deflate::{self, Agreement, Compressed, Context, Deflate, MAX_WINDOW_BITS};
use crate::ws::frame::Opcode;
use crate::ws::send::SendError;

/// What a session does with permessage-deflate, once negotiated.
#[derive(Clone, Copy, Debug)]
pub(super) struct Compression {
    /// The connection's own DEFLATE state, for context takeover.
    pub(super) slot: Option<u16>,
    /// The window the server compresses with, in bits.
    window_bits: u8,
    /// The server resets its compressor before each message.
    server_reset: bool,
    /// The client resets its compressor, so the server its decompressor.
    pub(super) client_reset: bool,
    /// The compressor failed with context takeover: send uncompressed.
    broken: bool,
    /// Messages shorter than this go uncompressed.
    min_len: u32,
    /// The last data message delivered: its length as it arrived plus
    /// one if it was compressed (saturated: it is for counting), 0 if not.
    pub(super) last_compressed_len: u32,
}

impl Session {
    /// Turns on permessage-deflate as `agreement` says: RSV1 may mark a
    /// compressed message, which [`receive_with`](Self::receive_with)
    /// decompresses, and [`encode_message`](Self::encode_message)
    /// compresses messages of at least `min_len` bytes. `slot` is the
    /// connection's own DEFLATE state ([`Deflate::acquire`]) when the
    /// agreement takes over context; without one, both directions reset
    /// per message whatever the agreement says.
    pub const fn with_deflate(
        mut self,
        agreement: &Agreement,
        slot: Option<u16>,
        min_len: u32,
    ) -> Self {
        let window_bits = match agreement.server_max_window_bits {
            Some(bits) => bits,
            None => MAX_WINDOW_BITS,
        };
        self.decoder = self.decoder.allow_rsv1();
        self.deflate = Some(Compression {
            slot,
            window_bits,
            server_reset: agreement.server_no_context_takeover || slot.is_none(),
            client_reset: agreement.client_no_context_takeover || slot.is_none(),
            broken: false,
            min_len,
            last_compressed_len: 0,
        });
        self
    }

    /// The connection's own DEFLATE state given to
    /// [`with_deflate`](Self::with_deflate), to give back when it ends.
    pub fn deflate_slot(&self) -> Option<u16> {
        self.deflate.and_then(|deflate| deflate.slot)
    }

    /// Whether permessage-deflate was negotiated.
    pub fn is_compressed(&self) -> bool {
        self.deflate.is_some()
    }

    /// After [`receive_with`](Self::receive_with) returned a text or
    /// binary message: its payload's length as it arrived, if it arrived
    /// compressed (at most `u32::MAX`: it is for counting); `None` for a
    /// message that was not.
    pub fn last_compressed_len(&self) -> Option<usize> {
        let deflate = self.deflate.as_ref()?;
        (deflate.last_compressed_len as usize).checked_sub(1)
    }

    /// Encodes a text or binary message in one frame into `out` and
    /// returns it, compressed with `codec` when permessage-deflate was
    /// negotiated and the message is long enough (see
    /// [`with_deflate`](Self::with_deflate)) and it pays; as
    /// [`encode_frame`](Self::encode_frame) otherwise. Other opcodes are
    /// never compressed.
    ///
    /// # Errors
    ///
    /// As [`encode_frame`](Self::encode_frame).
    pub fn encode_message<'o>(
        &mut self,
        out: &'o mut [u8],
        opcode: Opcode,
        payload: &[u8],
        codec: Option<&mut dyn Deflate>,
    ) -> Result<&'o [u8], SendError> {
        if self.close_sent {
            return Err(SendError::Closed);
        }
        if let (Some(state), Some(codec)) = (&mut self.deflate, codec) {
            let worth_it = !state.broken && payload.len() >= state.min_len as usize;
            if worth_it && matches!(opcode, Opcode::Text | Opcode::Binary) {
                let context = Context {
                    slot: state.slot,
                    window_bits: state.window_bits,
                    reset: state.server_reset,
                };
                match deflate::compress_frame(codec, context, opcode, payload, out) {
                    Compressed::Frame(len) => return Ok(&out[..len]),
                    Compressed::Skipped => {}
                    Compressed::Broken => state.broken = true,
                }
            }
        }
        self.encode_frame(out, opcode, true, payload)
    }

    /// Decompresses the message at `range`: the bytes read after it move
    /// down to follow it (closing the gaps frame headers left), and the
    /// message is written after them.
    pub(super) fn inflate(
        &mut self,
        buf: &mut [u8],
        range: Range<usize>,
        codec: Option<&mut dyn Deflate>,
    ) -> Result<Range<usize>, ProtocolError> {
        let (Some(state), Some(codec)) = (&mut self.deflate, codec) else {
            return Err(ProtocolError::BufferMismatch);
        };
        let compressed_len = u32::try_from(range.len()).unwrap_or(u32::MAX - 1);
        state.last_compressed_len = compressed_len + 1;
        let client_reset = state.client_reset;
        let slot = state.slot;
        if self.pos != range.end {
            buf.copy_within(self.pos..self.filled, range.end);
            self.filled -= self.pos - range.end;
            self.pos = range.end;
        }
        let context = Context {
            slot,
            window_bits: MAX_WINDOW_BITS,
            reset: client_reset,
        };
        let limit = self.max_message_len;
        deflate::inflate_message(codec, context, buf, range, self.filled, limit)
    }
}
