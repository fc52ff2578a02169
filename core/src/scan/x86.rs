//! x86-64 block tests: SSE2 16 bytes a step, AVX2 32 bytes a step.
//!
//! SSE2 is part of the x86-64 baseline, so it needs no check. AVX2 is used
//! throughout when the build enables it (`-C target-feature=+avx2`). With the
//! `std` feature it is detected at run time instead; then SSE2 checks the
//! first 64 bytes, where most runs end, and AVX2 is considered only if those
//! are all valid and at least 32 more bytes follow. Without `std` and without
//! AVX2 in the build, SSE2 does everything.

/// Index of the first byte at or after `from` outside the block class
/// `CLASS`, or `bytes.len()`; `None` for inputs shorter than 16 bytes.
#[cfg(target_feature = "avx2")]
#[inline(always)]
pub(super) fn run_end<const CLASS: u8>(bytes: &[u8], from: usize) -> Option<usize> {
    // SAFETY: the build enables AVX2 (`target_feature = "avx2"`), so every
    // CPU this code runs on supports it.
    unsafe { avx2::run_end::<CLASS>(bytes, from) }
}

/// Index of the first byte at or after `from` outside the block class
/// `CLASS`, or `bytes.len()`; `None` for inputs shorter than 16 bytes.
#[cfg(all(feature = "std", not(target_feature = "avx2")))]
#[inline(always)]
pub(super) fn run_end<const CLASS: u8>(bytes: &[u8], from: usize) -> Option<usize> {
    // SAFETY: run-time detection answers true only if the CPU supports AVX2.
    unsafe { run_end_with::<CLASS>(bytes, from, || std::is_x86_feature_detected!("avx2")) }
}

/// Index of the first byte at or after `from` outside the block class
/// `CLASS`, or `bytes.len()`; `None` for inputs shorter than 16 bytes.
#[cfg(all(not(feature = "std"), not(target_feature = "avx2")))]
#[inline(always)]
pub(super) fn run_end<const CLASS: u8>(bytes: &[u8], from: usize) -> Option<usize> {
    sse2::run_end::<CLASS>(bytes, from)
}

/// Where the CR that ends a usual `Host` value starting at `from` is; see
/// [`usual_host_value_end`](super::usual_host_value_end). SSE2 only: a
/// value is one block.
#[inline(always)]
pub(super) fn usual_host_value_end(bytes: &[u8], from: usize) -> Option<usize> {
    sse2::usual_host_value_end(bytes, from)
}

/// [`run_end`] with run-time dispatch: SSE2 checks the first 64 bytes, and
/// `has_avx2`, saying whether the CPU supports AVX2, is asked only when
/// those are all valid and at least 32 more bytes follow.
///
/// # Safety
///
/// `has_avx2` must return true only if the CPU supports AVX2.
#[cfg(any(test, all(feature = "std", not(target_feature = "avx2"))))]
#[inline(always)]
pub(super) unsafe fn run_end_with<const CLASS: u8>(
    bytes: &[u8],
    from: usize,
    has_avx2: impl FnOnce() -> bool,
) -> Option<usize> {
    // Most header values and paths end within 64 bytes; for them a call
    // into the AVX2 code costs more than it saves, so SSE2 goes first.
    const SSE2_FIRST: usize = 4 * sse2::BLOCK;
    let head = &bytes[..bytes.len().min(from + SSE2_FIRST)];
    let end = sse2::run_end::<CLASS>(head, from)?;
    if end < head.len() || head.len() == bytes.len() {
        return Some(end);
    }
    if bytes.len() - end >= avx2::BLOCK && has_avx2() {
        // SAFETY: `has_avx2` has just confirmed that the CPU supports AVX2,
        // the one requirement of `avx2::run_end`.
        unsafe { avx2::run_end::<CLASS>(bytes, end) }
    } else {
        sse2::run_end::<CLASS>(bytes, end)
    }
}

/// A vector of `v` with 0xFF in the bytes of the block class `CLASS` and 0
/// elsewhere, written once for both vector widths: the caller names the
/// width's intrinsics (`or`, `andnot`, `cmpeq`, signed `cmpgt`, `add`,
/// unsigned `max`) and its `splat` of a byte. Expands to intrinsic calls,
/// so it belongs inside the caller's `unsafe` block.
macro_rules! class_mask {
    ($class:expr, $v:expr, $splat:expr, $or:ident, $andnot:ident, $cmpeq:ident,
     $cmpgt:ident, $add:ident, $max_epu8:ident) => {{
        let v = $v;
        let splat = $splat;
        match $class {
            // Signed compare: bytes >= 0x80 are negative, so this is
            // 0x21..=0x7F, and DEL is taken out.
            TARGET => $andnot($cmpeq(v, splat(0x7F)), $cmpgt(v, splat(0x20))),
            // A range test is a signed compare after adding what takes the
            // first byte of the range to -128 (wrapping), so that the range
            // is at the bottom of the signed order; `x < bound` is written
            // `cmpgt(bound, x)`, as AVX2 has no `cmplt`. Setting bit 5
            // lowercases letters and makes no other byte a lowercase letter.
            TOKEN => {
                let lower = $or(v, splat(0x20));
                let letter = $cmpgt(splat(0x80 + 26), $add(lower, splat(0x80 - b'a')));
                let digit = $cmpgt(splat(0x80 + 10), $add(v, splat(0x80 - b'0')));
                let dash = $cmpeq(v, splat(b'-'));
                $or($or(letter, digit), dash)
            }
            // As TOKEN, with `-` and `.` (adjacent) as one range.
            HOST => {
                let lower = $or(v, splat(0x20));
                let letter = $cmpgt(splat(0x80 + 26), $add(lower, splat(0x80 - b'a')));
                let digit = $cmpgt(splat(0x80 + 10), $add(v, splat(0x80 - b'0')));
                let dash_or_dot = $cmpgt(splat(0x80 + 2), $add(v, splat(0x80 - b'-')));
                $or($or(letter, digit), dash_or_dot)
            }
            // Unsigned v >= 0x20 (max(v, 0x20) == v) but not DEL, or HTAB.
            _ => $or(
                $andnot($cmpeq(v, splat(0x7F)), $cmpeq($max_epu8(v, splat(0x20)), v)),
                $cmpeq(v, splat(b'\t')),
            ),
        }
    }};
}

pub(super) mod sse2 {
    //! SSE2: 16 bytes a step.

    use crate::scan::{HOST, TARGET, TOKEN};
    use core::arch::x86_64::{
        __m128i, _mm_add_epi8, _mm_andnot_si128, _mm_cmpeq_epi8, _mm_cmpgt_epi8, _mm_loadu_si128,
        _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };

    /// Bytes checked per step.
    pub(super) const BLOCK: usize = 16;

    /// The lanes of `v` holding bytes of the block class `CLASS` (all ones
    /// where they do).
    #[inline(always)]
    fn in_class<const CLASS: u8>(v: __m128i) -> __m128i {
        // SAFETY: the intrinsics need only SSE2, which this module is
        // compiled for (`target_feature = "sse2"`), and touch no memory.
        unsafe {
            let splat = |b: u8| _mm_set1_epi8(b as i8);
            class_mask!(
                CLASS,
                v,
                splat,
                _mm_or_si128,
                _mm_andnot_si128,
                _mm_cmpeq_epi8,
                _mm_cmpgt_epi8,
                _mm_add_epi8,
                _mm_max_epu8
            )
        }
    }

    /// Index of the first byte at or after `from` outside the block class
    /// `CLASS`, or `bytes.len()`; `None` for inputs shorter than 16 bytes.
    #[inline(always)]
    pub(in crate::scan) fn run_end<const CLASS: u8>(bytes: &[u8], from: usize) -> Option<usize> {
        run_end!(bytes, from, BLOCK, |block, skip| valid_lead::<CLASS>(
            block, skip
        ))
    }

    /// Where the CR that ends a usual `Host` value starting at `from` is,
    /// within the 16 bytes from there; see
    /// [`usual_host_value_end`](crate::scan::usual_host_value_end).
    #[inline(always)]
    pub(in crate::scan) fn usual_host_value_end(bytes: &[u8], from: usize) -> Option<usize> {
        let block = bytes.get(from..)?.first_chunk::<BLOCK>()?;
        // SAFETY: `block` refers to 16 initialised bytes, exactly what
        // `_mm_loadu_si128` reads, and that load has no alignment
        // requirement. The other intrinsics need only SSE2, which this
        // module is compiled for (`target_feature = "sse2"`).
        let (name, digits, colons, crs) = unsafe {
            let v = _mm_loadu_si128(block.as_ptr().cast());
            let splat = |b: u8| _mm_set1_epi8(b as i8);
            let name = in_class::<HOST>(v);
            let digit = _mm_cmpgt_epi8(splat(0x80 + 10), _mm_add_epi8(v, splat(0x80 - b'0')));
            (
                _mm_movemask_epi8(name) as u32,
                _mm_movemask_epi8(digit) as u32,
                _mm_movemask_epi8(_mm_cmpeq_epi8(v, splat(b':'))) as u32,
                _mm_movemask_epi8(_mm_cmpeq_epi8(v, splat(b'\r'))) as u32,
            )
        };
        // One bit per byte, the first byte in bit 0.
        if crs == 0 {
            return None;
        }
        let end = crs.trailing_zeros();
        let value = (1 << end) - 1;
        let colons = colons & value;
        let (host, port) = if colons == 0 {
            (value, 0)
        } else {
            // `colon < end`, so neither shift overflows.
            let colon = colons.trailing_zeros();
            let host = (1 << colon) - 1;
            (host, value & !((2 << colon) - 1))
        };
        (name & host == host && digits & port == port).then_some(from + end as usize)
    }

    /// Number of bytes of `block` in the block class `CLASS`, counting from
    /// index `skip`.
    #[inline(always)]
    fn valid_lead<const CLASS: u8>(block: &[u8; BLOCK], skip: usize) -> usize {
        // SAFETY: `block` refers to 16 initialised bytes, exactly what
        // `_mm_loadu_si128` reads, and that load has no alignment
        // requirement. The other intrinsics need only SSE2, which this
        // module is compiled for (`target_feature = "sse2"`).
        let valid = unsafe {
            let v = _mm_loadu_si128(block.as_ptr().cast());
            _mm_movemask_epi8(in_class::<CLASS>(v))
        };
        // One bit per byte, the first byte in bit 0; bits 16.. are clear, so
        // the count stops at the end of the block.
        (valid as u32 >> skip).trailing_ones() as usize
    }
}

#[cfg(any(test, feature = "std", target_feature = "avx2"))]
pub(super) mod avx2 {
    //! AVX2: 32 bytes a step, the same tests as SSE2 on twice the bytes.

    use crate::scan::{HOST, TARGET, TOKEN};
    use core::arch::x86_64::{
        _mm256_add_epi8, _mm256_andnot_si256, _mm256_cmpeq_epi8, _mm256_cmpgt_epi8,
        _mm256_loadu_si256, _mm256_max_epu8, _mm256_movemask_epi8, _mm256_or_si256,
        _mm256_set1_epi8,
    };

    /// Bytes checked per step.
    pub(super) const BLOCK: usize = 32;

    /// Index of the first byte at or after `from` outside the block class
    /// `CLASS`, or `bytes.len()`; `None` for inputs shorter than 16 bytes.
    /// Inputs shorter than 32 bytes go to SSE2.
    ///
    /// # Safety
    ///
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(in crate::scan) unsafe fn run_end<const CLASS: u8>(
        bytes: &[u8],
        from: usize,
    ) -> Option<usize> {
        if bytes.len() < BLOCK {
            return super::sse2::run_end::<CLASS>(bytes, from);
        }
        run_end!(bytes, from, BLOCK, |block, skip| {
            // SAFETY: our caller guarantees AVX2, the one requirement of
            // `valid_lead`.
            unsafe { valid_lead::<CLASS>(block, skip) }
        })
    }

    /// Number of bytes of `block` in the block class `CLASS`, counting from
    /// index `skip`.
    ///
    /// # Safety
    ///
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn valid_lead<const CLASS: u8>(block: &[u8; BLOCK], skip: usize) -> usize {
        // SAFETY: `block` refers to 32 initialised bytes, exactly what
        // `_mm256_loadu_si256` reads, and that load has no alignment
        // requirement. The other intrinsics need only AVX2, which our caller
        // guarantees.
        let valid = unsafe {
            let v = _mm256_loadu_si256(block.as_ptr().cast());
            let splat = |b: u8| _mm256_set1_epi8(b as i8);
            let in_class = class_mask!(
                CLASS,
                v,
                splat,
                _mm256_or_si256,
                _mm256_andnot_si256,
                _mm256_cmpeq_epi8,
                _mm256_cmpgt_epi8,
                _mm256_add_epi8,
                _mm256_max_epu8
            );
            _mm256_movemask_epi8(in_class)
        };
        // One bit per byte, the first byte in bit 0; `skip` is below 32.
        (valid as u32 >> skip).trailing_ones() as usize
    }
}
