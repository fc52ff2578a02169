//! Byte-class scanners: where a run of bytes of one class ends.
//!
//! The request parser scans a header value with [`value_end`], a
//! request-target with [`target_end`] and names and methods with
//! [`token_end`] (and a `Host` value once more with [`host_end`]), then
//! looks at the byte where the run stopped (CR, SP, `:`,
//! or an error). So every run must stop at exactly the first byte outside its
//! class.
//!
//! # Design: whole blocks, exact classes
//!
//! Each scanner takes the whole buffer and the index the run starts at, and
//! checks the bytes a block at a time with a test of the class that is exact
//! for field values and request-targets. The first block that holds a byte
//! outside the class says exactly where the run ends, so no byte-at-a-time
//! loop follows.
//!
//! Taking the whole buffer rather than the rest of it lets a run near the end
//! be checked in one block too: when fewer than a block of bytes are left, the
//! block checked is the one ending at the end of the buffer, and the verdicts
//! for the bytes before the start are shifted out. Header lines are short and
//! the last ones end close to the end of the head, so this is the usual case,
//! not a rare tail. Every load stays within the buffer; a buffer shorter than
//! one block goes to the byte-at-a-time definitions in [`scalar`].
//!
//! tchar is an irregular class. Its block test covers the bytes names are
//! made of in practice (ALPHA, DIGIT and `-`); when a run stops at another
//! tchar, a 256-entry table, four bytes at a time, carries on from there.
//!
//! - x86-64: SSE2, part of the baseline, 16 bytes a step. With the `std`
//!   feature, AVX2 32 bytes a step when the CPU has it, detected at run
//!   time (`is_x86_feature_detected!` caches its answer). SSE2 checks the
//!   first 64 bytes before AVX2 is considered, so short runs never pay for
//!   the dispatch. Without `std`, AVX2 is used only when the build enables
//!   it (`-C target-feature=+avx2`).
//! - Everywhere else: SWAR over `u64` words, 8 bytes a step, in safe code.
//! - `--cfg peregrine_disable_simd`: no block tests at all; the scalar loops
//!   do everything, which makes a baseline to compare against and a way out
//!   should a block test ever misbehave.
//!
//! The tests hold every block test to the scalar definitions, from every
//! start index, including those within the last block.

/// Where a run of bytes of one class ends; the body of every block scanner.
///
/// `run_end!(bytes, from, N, |block, skip| lead)` evaluates `lead`, the
/// number of bytes of `block: &[u8; N]` in the class counting from index
/// `skip` (`0..=N - skip`), block after block from `bytes[from..]`, and
/// yields `Some` index of the first byte at or after `from` outside the
/// class, or `bytes.len()`. When fewer than `N` bytes are left, the last
/// block checked is the one ending at `bytes.len()`, with `skip` the number
/// of its bytes before the current index (`1..N`). `None` when `bytes` is
/// shorter than one block. `from` must be at most `bytes.len()`.
#[cfg(any(test, not(peregrine_disable_simd)))]
macro_rules! run_end {
    ($bytes:expr, $from:expr, $n:expr, |$block:ident, $skip:ident| $lead:expr) => {{
        let bytes: &[u8] = $bytes;
        let mut at: usize = $from;
        match bytes.last_chunk::<{ $n }>() {
            None => None,
            Some(last) => Some(loop {
                let Some($block) = bytes[at..].first_chunk::<{ $n }>() else {
                    if at == bytes.len() {
                        break at;
                    }
                    let $block = last;
                    let $skip = at - (bytes.len() - $n);
                    break at + $lead;
                };
                let $skip = 0;
                let lead: usize = $lead;
                at += lead;
                if lead < $n {
                    break at;
                }
            }),
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
    //! No block tests: the scalar loops do all the work.

    /// Leaves every run to the scalar loops.
    #[inline(always)]
    pub(super) const fn run_end<const CLASS: u8>(_bytes: &[u8], _from: usize) -> Option<usize> {
        None
    }

    /// Leaves every `Host` value to the general path.
    #[inline(always)]
    pub(super) const fn usual_host_value_end(_bytes: &[u8], _from: usize) -> Option<usize> {
        None
    }
}

#[cfg(test)]
mod tests;

/// Block class: field-value bytes (HTAB, `0x20..=0x7E`, `0x80..=0xFF`).
const VALUE: u8 = 0;
/// Block class: request-target bytes (`0x21..=0x7E`).
const TARGET: u8 = 1;
/// Block class: the tchar bytes names are usually made of, ALPHA, DIGIT
/// and `-`; a subset of tchar.
const TOKEN: u8 = 2;
/// Block class: the bytes host names and IPv4 addresses are made of,
/// ALPHA, DIGIT, `-` and `.`; a subset of a URI's reg-name.
const HOST: u8 = 3;

/// Index of the first byte at or after `from` that may not appear in a
/// field value (HTAB, SP, VCHAR and obs-text may), or `bytes.len()`.
/// `from` must be at most `bytes.len()`.
#[inline(always)]
pub(crate) fn value_end(bytes: &[u8], from: usize) -> usize {
    fast::run_end::<VALUE>(bytes, from).unwrap_or_else(|| from + scalar::value_run(&bytes[from..]))
}

/// Index of the first byte at or after `from` that may not appear in a
/// request-target (`0x21..=0x7E` may), or `bytes.len()`. `from` must be at
/// most `bytes.len()`.
#[inline(always)]
pub(crate) fn target_end(bytes: &[u8], from: usize) -> usize {
    fast::run_end::<TARGET>(bytes, from)
        .unwrap_or_else(|| from + scalar::target_run(&bytes[from..]))
}

/// Index of the first byte at or after `from` that is not an RFC 9110
/// tchar (``!#$%&'*+-.^_`|~``, DIGIT, ALPHA), or `bytes.len()`. `from`
/// must be at most `bytes.len()`.
#[inline(always)]
pub(crate) fn token_end(bytes: &[u8], from: usize) -> usize {
    let end = fast::run_end::<TOKEN>(bytes, from).unwrap_or(from);
    // The block test knows only the usual tchar bytes: a run it stops at
    // another one goes on in the table.
    match bytes.get(end) {
        Some(&b) if is_tchar(b) => end + token_table_run(&bytes[end..]),
        _ => end,
    }
}

/// Index of the first byte at or after `from` that is not ALPHA, DIGIT,
/// `-` or `.` (what host names and IPv4 addresses are made of), or
/// `bytes.len()`. `from` must be at most `bytes.len()`.
#[inline(always)]
pub(crate) fn host_end(bytes: &[u8], from: usize) -> usize {
    fast::run_end::<HOST>(bytes, from).unwrap_or_else(|| from + scalar::host_run(&bytes[from..]))
}

/// Where the CR that ends a usual `Host` value starting at `from` is:
/// `Some(cr)` if `bytes[from..cr]` is ALPHA, DIGIT, `-` and `.`, then
/// perhaps `:` and digits, and `bytes[cr]` is CR, all within one block
/// from `from` (16 bytes on x86-64); `None` for anything else, including
/// a longer value, which the caller then checks the general way. One
/// block test finds the end and checks the value together. Other
/// architectures always answer `None`.
#[inline(always)]
pub(crate) fn usual_host_value_end(bytes: &[u8], from: usize) -> Option<usize> {
    fast::usual_host_value_end(bytes, from)
}

/// Length of the leading run of field-value bytes.
#[inline(always)]
pub(crate) fn value_run(bytes: &[u8]) -> usize {
    value_end(bytes, 0)
}

/// Length of the leading run of tchar bytes.
#[inline(always)]
pub(crate) fn token_run(bytes: &[u8]) -> usize {
    token_end(bytes, 0)
}

/// Length of the leading run of tchar bytes, looked up in a 256-entry
/// table four at a time.
#[inline]
fn token_table_run(bytes: &[u8]) -> usize {
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

/// Whether `b` is one of the usual bytes of a host: ALPHA, DIGIT, `-` or
/// `.`.
#[inline]
pub(crate) const fn is_host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'.'
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
    //! Byte-at-a-time reference definitions of the runs. They scan buffers
    //! shorter than one block, and the tests hold the block tests to them.

    use super::{is_host_byte, is_target_byte, is_tchar, is_value_byte};

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

    /// Length of the leading run of usual host bytes, one byte at a time.
    #[inline]
    pub(crate) fn host_run(bytes: &[u8]) -> usize {
        run(bytes, is_host_byte)
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
