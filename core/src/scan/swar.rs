//! Portable fast path: SWAR ("SIMD within a register") over `u64` words,
//! 8 bytes a step, in safe code.
//!
//! Each byte is tested in its own lane without carries between lanes: the
//! arithmetic works on the low seven bits of every byte, and adding at most
//! 0x7F to a value of at most 0x7F cannot overflow the byte. The verdict for
//! each byte lands in its high bit.

use super::TARGET;

/// Bytes checked per step.
const BLOCK: usize = 8;
/// The low seven bits of every byte.
const LOW7: u64 = splat(0x7F);
/// The high bit of every byte.
const HIGH: u64 = splat(0x80);

/// `b` in every byte of a word.
const fn splat(b: u8) -> u64 {
    u64::from_ne_bytes([b; BLOCK])
}

/// Length of a prefix of `bytes` whose bytes are all in the fast-path class
/// `CLASS` ([`VALUE`](super::VALUE) or [`TARGET`](super::TARGET)); 0 for
/// inputs shorter than 8 bytes.
#[inline(always)]
pub(super) fn prefix<const CLASS: u8>(bytes: &[u8]) -> usize {
    skip_blocks!(bytes, 0, BLOCK, |block| valid_lead::<CLASS>(block))
}

/// Number of leading bytes of `block` in the fast-path class `CLASS`.
#[inline(always)]
fn valid_lead<const CLASS: u8>(block: &[u8; BLOCK]) -> usize {
    // Little-endian: the first byte is the low byte, so the first invalid
    // byte is the lowest flagged lane.
    let w = u64::from_le_bytes(*block);
    let low = w & LOW7;
    // High bit set where the low seven bits are >= 0x20, >= 0x21, == 0x7F.
    let ge_20 = low + splat(0x80 - 0x20);
    let ge_21 = low + splat(0x80 - 0x21);
    let is_7f = low + splat(0x01);
    let valid = if CLASS == TARGET {
        // 0x21..=0x7E: high bit clear, at least 0x21, not DEL.
        !w & ge_21 & !is_7f
    } else {
        // 0x20..=0x7E or 0x80..=0xFF.
        w | (ge_20 & !is_7f)
    };
    let invalid = !valid & HIGH;
    // 64 trailing zeros when every byte is valid: 8.
    invalid.trailing_zeros() as usize / BLOCK
}
