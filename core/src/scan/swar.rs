//! Portable block tests: SWAR ("SIMD within a register") over `u64` words,
//! 8 bytes a step, in safe code.
//!
//! Each byte is tested in its own lane without carries between lanes: the
//! arithmetic works on the low seven bits of every byte, and adding at most
//! 0x80 to a value of at most 0x7F cannot overflow the byte. The verdict for
//! each byte lands in its high bit.

use super::{HOST, TARGET, TOKEN};

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

/// Index of the first byte at or after `from` outside the block class
/// `CLASS`, or `bytes.len()`; `None` for inputs shorter than 8 bytes.
#[inline(always)]
pub(super) fn run_end<const CLASS: u8>(bytes: &[u8], from: usize) -> Option<usize> {
    run_end!(bytes, from, BLOCK, |block, skip| valid_lead::<CLASS>(
        block, skip
    ))
}

/// Leaves every `Host` value to the general path (see
/// [`usual_host_value_end`](super::usual_host_value_end)).
#[cfg(all(
    not(peregrine_disable_simd),
    not(all(target_arch = "x86_64", target_feature = "sse2"))
))]
#[inline(always)]
pub(super) const fn usual_host_value_end(_bytes: &[u8], _from: usize) -> Option<usize> {
    None
}

/// Number of bytes of `block` in the block class `CLASS`, counting from
/// index `skip`.
#[inline(always)]
fn valid_lead<const CLASS: u8>(block: &[u8; BLOCK], skip: usize) -> usize {
    // Little-endian: the first byte is the low byte. Shifting drops the
    // first `skip` bytes and brings in zero bytes at the top, which no class
    // holds, so the count stops at the end of the block.
    let w = u64::from_le_bytes(*block) >> (8 * skip);
    let valid = match CLASS {
        TARGET => target_lanes(w),
        TOKEN => usual_tchar_lanes(w),
        HOST => usual_host_lanes(w),
        _ => value_lanes(w),
    };
    let invalid = !valid & HIGH;
    // 64 trailing zeros when every byte is valid: 8.
    invalid.trailing_zeros() as usize / BLOCK
}

/// High bit set in the lanes of `w` that hold `b`.
#[inline(always)]
fn equal_lanes(w: u64, b: u8) -> u64 {
    // A lane is zero after the XOR exactly where it held `b`; adding 0x7F
    // to the low seven bits sets the high bit of every other lane.
    let x = w ^ splat(b);
    let differ = ((x & LOW7) + LOW7) | x;
    !differ & HIGH
}

/// High bit set in the lanes of `w` whose low seven bits are at least `b`
/// (`b` at most 0x80).
#[inline(always)]
fn at_least_lanes(w: u64, b: u8) -> u64 {
    (w & LOW7) + splat(0x80 - b)
}

/// Field-value lanes: HTAB, `0x20..=0x7E` or `0x80..=0xFF`.
#[inline(always)]
fn value_lanes(w: u64) -> u64 {
    w | (at_least_lanes(w, 0x20) & !equal_lanes(w, 0x7F)) | equal_lanes(w, b'\t')
}

/// Request-target lanes: `0x21..=0x7E`.
#[inline(always)]
fn target_lanes(w: u64) -> u64 {
    !w & at_least_lanes(w, 0x21) & !equal_lanes(w, 0x7F)
}

/// Lanes holding ALPHA, DIGIT or `-`.
#[inline(always)]
fn usual_tchar_lanes(w: u64) -> u64 {
    // Setting bit 5 lowercases letters and makes no other byte below 0x80
    // a lowercase letter.
    let lower = w | splat(0x20);
    let letter = at_least_lanes(lower, b'a') & !at_least_lanes(lower, b'z' + 1);
    let digit = at_least_lanes(w, b'0') & !at_least_lanes(w, b'9' + 1);
    !w & (letter | digit | equal_lanes(w, b'-'))
}

/// Lanes holding ALPHA, DIGIT, `-` or `.`.
#[inline(always)]
fn usual_host_lanes(w: u64) -> u64 {
    let lower = w | splat(0x20);
    let letter = at_least_lanes(lower, b'a') & !at_least_lanes(lower, b'z' + 1);
    let digit = at_least_lanes(w, b'0') & !at_least_lanes(w, b'9' + 1);
    let dash_or_dot = at_least_lanes(w, b'-') & !at_least_lanes(w, b'.' + 1);
    !w & (letter | digit | dash_or_dot)
}
