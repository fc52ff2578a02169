//! x86-64 fast paths: SSE2 16 bytes a step, AVX2 32 bytes a step.
//!
//! SSE2 is part of the x86-64 baseline, so it needs no check. AVX2 is used
//! throughout when the build enables it (`-C target-feature=+avx2`). With the
//! `std` feature it is detected at run time instead; then SSE2 checks the
//! first 16 bytes, where most runs end, and AVX2 is considered only if those
//! are all valid and at least 32 more bytes follow. Without `std` and without
//! AVX2 in the build, SSE2 does everything.

/// Length of a prefix of `bytes` whose bytes are all in the fast-path class
/// `CLASS` ([`VALUE`](super::VALUE) or [`TARGET`](super::TARGET)).
#[cfg(target_feature = "avx2")]
#[inline(always)]
pub(super) fn prefix<const CLASS: u8>(bytes: &[u8]) -> usize {
    // SAFETY: the build enables AVX2 (`target_feature = "avx2"`), so every
    // CPU this code runs on supports it.
    unsafe { avx2::prefix_from::<CLASS>(bytes, 0) }
}

/// Length of a prefix of `bytes` whose bytes are all in the fast-path class
/// `CLASS` ([`VALUE`](super::VALUE) or [`TARGET`](super::TARGET)).
#[cfg(all(feature = "std", not(target_feature = "avx2")))]
#[inline(always)]
pub(super) fn prefix<const CLASS: u8>(bytes: &[u8]) -> usize {
    // SAFETY: run-time detection answers true only if the CPU supports AVX2.
    unsafe { prefix_with::<CLASS>(bytes, || std::is_x86_feature_detected!("avx2")) }
}

/// Length of a prefix of `bytes` whose bytes are all in the fast-path class
/// `CLASS` ([`VALUE`](super::VALUE) or [`TARGET`](super::TARGET)).
#[cfg(all(not(feature = "std"), not(target_feature = "avx2")))]
#[inline(always)]
pub(super) fn prefix<const CLASS: u8>(bytes: &[u8]) -> usize {
    sse2::prefix_from::<CLASS>(bytes, 0)
}

/// [`prefix`] with run-time dispatch: SSE2 checks the first block, and
/// `has_avx2`, saying whether the CPU supports AVX2, is asked only when
/// that block is all valid and at least 32 more bytes follow.
///
/// # Safety
///
/// `has_avx2` must return true only if the CPU supports AVX2.
#[cfg(any(test, all(feature = "std", not(target_feature = "avx2"))))]
#[inline(always)]
pub(super) unsafe fn prefix_with<const CLASS: u8>(
    bytes: &[u8],
    has_avx2: impl FnOnce() -> bool,
) -> usize {
    // Most header values and paths end within 64 bytes; for them a call
    // into the AVX2 code costs more than it saves, so SSE2 goes first.
    const SSE2_FIRST: usize = 4 * sse2::BLOCK;
    let head = &bytes[..bytes.len().min(SSE2_FIRST)];
    let known = sse2::prefix_from::<CLASS>(head, 0);
    if known < SSE2_FIRST {
        return if known == head.len() && head.len() < bytes.len() {
            sse2::prefix_from::<CLASS>(bytes, known)
        } else {
            known
        };
    }
    if bytes.len() - known >= avx2::BLOCK && has_avx2() {
        // SAFETY: `has_avx2` has just confirmed that the CPU supports AVX2,
        // the one requirement of `avx2::prefix_from`.
        unsafe { avx2::prefix_from::<CLASS>(bytes, known) }
    } else {
        sse2::prefix_from::<CLASS>(bytes, known)
    }
}

pub(super) mod sse2 {
    //! SSE2: 16 bytes a step.

    use crate::scan::TARGET;
    use core::arch::x86_64::{
        _mm_andnot_si128, _mm_cmpeq_epi8, _mm_cmpgt_epi8, _mm_loadu_si128, _mm_max_epu8,
        _mm_movemask_epi8, _mm_set1_epi8,
    };

    /// Bytes checked per step.
    pub(super) const BLOCK: usize = 16;

    /// Length of a prefix of `bytes` whose bytes are all in the fast-path
    /// class `CLASS`, given that `bytes[..from]` is; `from` for inputs
    /// shorter than 16 bytes.
    #[inline(always)]
    pub(in crate::scan) fn prefix_from<const CLASS: u8>(bytes: &[u8], from: usize) -> usize {
        skip_blocks!(bytes, from, BLOCK, |block| valid_lead::<CLASS>(block))
    }

    /// Number of leading bytes of `block` in the fast-path class `CLASS`.
    #[inline(always)]
    pub(super) fn valid_lead<const CLASS: u8>(block: &[u8; BLOCK]) -> usize {
        // SAFETY: `block` refers to 16 initialised bytes, exactly what
        // `_mm_loadu_si128` reads, and that load has no alignment
        // requirement. The other intrinsics need only SSE2, which this
        // module is compiled for (`target_feature = "sse2"`).
        let valid = unsafe {
            let v = _mm_loadu_si128(block.as_ptr().cast());
            let del = _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7F));
            let in_range = if CLASS == TARGET {
                // Signed compare: bytes >= 0x80 are negative, so this is
                // 0x21..=0x7F.
                _mm_cmpgt_epi8(v, _mm_set1_epi8(0x20))
            } else {
                // Unsigned v >= 0x20: max(v, 0x20) == v.
                _mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(0x20)), v)
            };
            _mm_movemask_epi8(_mm_andnot_si128(del, in_range))
        };
        // One bit per byte, the first byte in bit 0; bits 16.. are clear.
        valid.trailing_ones() as usize
    }
}

#[cfg(any(test, feature = "std", target_feature = "avx2"))]
pub(super) mod avx2 {
    //! AVX2: 32 bytes a step.

    use crate::scan::TARGET;
    use core::arch::x86_64::{
        _mm256_andnot_si256, _mm256_cmpeq_epi8, _mm256_cmpgt_epi8, _mm256_loadu_si256,
        _mm256_max_epu8, _mm256_movemask_epi8, _mm256_set1_epi8,
    };

    /// Bytes checked per step.
    pub(super) const BLOCK: usize = 32;

    /// Length of a prefix of `bytes` whose bytes are all in the fast-path
    /// class `CLASS`, given that `bytes[..from]` is. Inputs shorter than 32
    /// bytes go to SSE2.
    ///
    /// # Safety
    ///
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(in crate::scan) unsafe fn prefix_from<const CLASS: u8>(bytes: &[u8], from: usize) -> usize {
        if bytes.len() < BLOCK {
            return super::sse2::prefix_from::<CLASS>(bytes, from);
        }
        skip_blocks!(bytes, from, BLOCK, |block| {
            // SAFETY: our caller guarantees AVX2, the one requirement of
            // `valid_lead`.
            unsafe { valid_lead::<CLASS>(block) }
        })
    }

    /// Number of leading bytes of `block` in the fast-path class `CLASS`.
    ///
    /// # Safety
    ///
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn valid_lead<const CLASS: u8>(block: &[u8; BLOCK]) -> usize {
        // SAFETY: `block` refers to 32 initialised bytes, exactly what
        // `_mm256_loadu_si256` reads, and that load has no alignment
        // requirement. The other intrinsics need only AVX2, which our caller
        // guarantees.
        let valid = unsafe {
            let v = _mm256_loadu_si256(block.as_ptr().cast());
            let del = _mm256_cmpeq_epi8(v, _mm256_set1_epi8(0x7F));
            let in_range = if CLASS == TARGET {
                // Signed compare: bytes >= 0x80 are negative, so this is
                // 0x21..=0x7F.
                _mm256_cmpgt_epi8(v, _mm256_set1_epi8(0x20))
            } else {
                // Unsigned v >= 0x20: max(v, 0x20) == v.
                _mm256_cmpeq_epi8(_mm256_max_epu8(v, _mm256_set1_epi8(0x20)), v)
            };
            _mm256_movemask_epi8(_mm256_andnot_si256(del, in_range))
        };
        // One bit per byte, the first byte in bit 0.
        valid.trailing_ones() as usize
    }
}
