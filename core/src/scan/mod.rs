//! Byte-class scanners: how far a run of bytes of one class reaches.
//!
//! The request parser scans a header value with [`value_run`], a
//! request-target with [`target_run`] and names and methods with
//! [`token_run`], then looks at the byte where the run stopped (CR, SP, or an
//! error). So every run must stop at exactly the first byte outside its
//! class.
//!
//! # Design: the fast path skips, the scalar loop decides
//!
//! [`value_run`] and [`target_run`] are the parser's hot loops. Each is
//! composed of two steps:
//!
//! 1. A fast path returns the length of a prefix it has proved valid, a lower
//!    bound on the answer. It only ever skips bytes; it never decides where a
//!    run ends or whether a byte is an error. It may stop early whenever that
//!    is convenient: for field values it treats HTAB as unknown, which keeps
//!    its compare simple, and it leaves inputs shorter than one block alone.
//! 2. The byte-at-a-time definition in [`scalar`] carries on from there and
//!    finds the end.
//!
//! Errors are therefore decided by one piece of code only, and a fast path
//! that stops too early costs time, never correctness.
//!
//! The fast paths check one block at a time and report how many leading bytes
//! of the first block that fails are valid, so the scalar loop usually looks
//! at a single byte. An input that is not a whole number of blocks gets one
//! more block that overlaps the last one checked, ending at the slice's end.
//! Every load stays within the slice.
//!
//! - x86-64: SSE2, part of the baseline, 16 bytes a step. With the `std`
//!   feature, AVX2 32 bytes a step when the CPU has it, detected at run
//!   time (`is_x86_feature_detected!` caches its answer). SSE2 checks the
//!   first 16 bytes before AVX2 is considered, so short inputs and runs
//!   that end early never pay for the dispatch. Without `std`, AVX2 is used
//!   only when the build enables it (`-C target-feature=+avx2`).
//! - Everywhere else: SWAR over `u64` words, 8 bytes a step, in safe code.
//! - `--cfg peregrine_disable_simd`: no fast path at all; the scalar loop
//!   does everything, which makes a baseline to compare against and a way
//!   out should a fast path ever misbehave.
//!
//! [`token_run`] has no block fast path: tchar is an irregular class, so it
//! looks bytes up in a 256-entry table, four at a time.

/// Skips whole blocks of bytes known valid; the body of every block fast path.
///
/// `skip_blocks!(bytes, from, N, |block| lead)` evaluates `lead`, the number
/// of leading bytes of `block: &[u8; N]` known valid (`0..=N`), block after
/// block from `bytes[from..]`, and yields the length of the prefix of
/// `bytes` known valid. `bytes[..from]` must already be known valid. When
/// the rest is not a whole number of blocks but `bytes` is at least one
/// block long, the last block checked is the one ending at `bytes.len()`; it
/// overlaps bytes already known valid, which `lead` counts again.
#[cfg(any(test, not(peregrine_disable_simd)))]
macro_rules! skip_blocks {
    ($bytes:expr, $from:expr, $n:expr, |$block:ident| $lead:expr) => {{
        let bytes: &[u8] = $bytes;
        let mut known: usize = $from;
        let mut rest = &bytes[known..];
        'scan: {
            while let Some(($block, tail)) = rest.split_first_chunk::<{ $n }>() {
                let lead: usize = $lead;
                known += lead;
                if lead < $n {
                    break 'scan known;
                }
                rest = tail;
            }
            match bytes.last_chunk::<{ $n }>() {
                Some($block) if !rest.is_empty() => bytes.len() - $n + $lead,
                _ => known,
            }
        }
    }};
}

#[cfg(all(
    target_arch = "x86_64",
    target_feature = "sse2",
    not(peregrine_disable_simd)
))]
mod x86;

#[cfg(any(
    test,
    all(
        not(peregrine_disable_simd),
        not(all(target_arch = "x86_64", target_feature = "sse2"))
    )
))]
mod swar;

// The fast path, chosen at compile time.
#[cfg(all(
    target_arch = "x86_64",
    target_feature = "sse2",
    not(peregrine_disable_simd)
))]
use x86 as fast;

#[cfg(all(
    not(peregrine_disable_simd),
    not(all(target_arch = "x86_64", target_feature = "sse2"))
))]
use swar as fast;

#[cfg(peregrine_disable_simd)]
mod fast {
    //! No fast path: the scalar loop does all the work.

    /// Knows no byte valid up front.
    #[inline(always)]
    pub(super) const fn prefix<const CLASS: u8>(_bytes: &[u8]) -> usize {
        0
    }
}

#[cfg(test)]
mod tests;

/// Fast-path class: field-value bytes other than HTAB (`0x20..=0x7E`,
/// `0x80..=0xFF`).
const VALUE: u8 = 0;
/// Fast-path class: request-target bytes (`0x21..=0x7E`).
const TARGET: u8 = 1;

/// Length of the leading run of bytes valid in a field value: HTAB, SP,
/// VCHAR (`0x21..=0x7E`), obs-text (`0x80..=0xFF`).
#[inline(always)]
pub(crate) fn value_run(bytes: &[u8]) -> usize {
    let known = fast::prefix::<VALUE>(bytes);
    known + scalar::value_run(&bytes[known..])
}

/// Length of the leading run of bytes valid in a request-target:
/// `0x21..=0x7E`.
#[inline(always)]
pub(crate) fn target_run(bytes: &[u8]) -> usize {
    let known = fast::prefix::<TARGET>(bytes);
    known + scalar::target_run(&bytes[known..])
}

/// Length of the leading run of RFC 9110 tchar bytes
/// (``!#$%&'*+-.^_`|~``, DIGIT, ALPHA).
#[inline(always)]
pub(crate) fn token_run(bytes: &[u8]) -> usize {
    let mut known = 0;
    let mut rest = bytes;
    while let Some((&[a, b, c, d], tail)) = rest.split_first_chunk::<4>() {
        // One bit per byte, the first in bit 0: the first clear bit is
        // where the run ends, so the scalar loop is left the last 0..=3
        // bytes only.
        let valid = u32::from(TCHAR[a as usize])
            | u32::from(TCHAR[b as usize]) << 1
            | u32::from(TCHAR[c as usize]) << 2
            | u32::from(TCHAR[d as usize]) << 3;
        if valid != 0b1111 {
            return known + valid.trailing_ones() as usize;
        }
        known += 4;
        rest = tail;
    }
    known + scalar::token_run(rest)
}

/// Whether `b` is an RFC 9110 tchar:
/// ``!#$%&'*+-.^_`|~``, DIGIT or ALPHA.
#[inline]
pub(crate) const fn is_tchar(b: u8) -> bool {
    TCHAR[b as usize]
}

/// Whether `b` may appear in a field value: HTAB, SP, VCHAR or obs-text.
#[inline]
pub(crate) const fn is_value_byte(b: u8) -> bool {
    matches!(b, b'\t' | b' '..=b'~' | 0x80..=0xFF)
}

/// Whether `b` may appear in a request-target: `0x21..=0x7E`.
#[inline]
pub(crate) const fn is_target_byte(b: u8) -> bool {
    matches!(b, b'!'..=b'~')
}

/// `TCHAR[b]` is whether `b` is a tchar (RFC 9110 §5.6.2).
const TCHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = matches!(
            b as u8,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
                | b'0'..=b'9'
                | b'A'..=b'Z'
                | b'a'..=b'z'
        );
        b += 1;
    }
    table
};

pub(crate) mod scalar {
    //! Byte-at-a-time reference definitions of the runs. They finish every
    //! run the fast paths start, and the tests hold the fast paths to them.

    use super::{is_target_byte, is_tchar, is_value_byte};

    /// Length of the leading run of field-value bytes, one byte at a time.
    #[inline]
    pub(crate) fn value_run(bytes: &[u8]) -> usize {
        run(bytes, is_value_byte)
    }

    /// Length of the leading run of request-target bytes, one byte at a
    /// time.
    #[inline]
    pub(crate) fn target_run(bytes: &[u8]) -> usize {
        run(bytes, is_target_byte)
    }

    /// Length of the leading run of tchar bytes, one byte at a time.
    #[inline]
    pub(crate) fn token_run(bytes: &[u8]) -> usize {
        run(bytes, is_tchar)
    }

    /// Index of the first byte of `bytes` outside `class`, or its length.
    #[inline(always)]
    fn run(bytes: &[u8], class: impl Fn(u8) -> bool) -> usize {
        let mut n = 0;
        while n < bytes.len() && class(bytes[n]) {
            n += 1;
        }
        n
    }
}
