//! Buffer pairs for a worker's pool, allocated once, zeroed, on the heap.

use std::alloc::{self, Layout};

use peregrine_core::IoBuffers;
use peregrine_core::Sizes;

/// `count` zeroed buffer pairs, allocated directly on the heap: never built
/// on the stack first (a pair may be megabytes), and zeroed by the
/// allocator, so untouched pages cost no memory until used.
pub fn zeroed_buffers<Z: Sizes>(count: usize) -> Box<[IoBuffers<Z>]> {
    let Ok(layout) = Layout::array::<IoBuffers<Z>>(count) else {
        panic!(
            "a buffer pool of {count} × {} bytes overflows",
            Z::READ + Z::WRITE
        );
    };
    if layout.size() == 0 {
        return Box::new([]);
    }
    // SAFETY: the layout has a non-zero size (checked above).
    let ptr = unsafe { alloc::alloc_zeroed(layout) }.cast::<IoBuffers<Z>>();
    if ptr.is_null() {
        alloc::handle_alloc_error(layout);
    }
    // SAFETY: `ptr` is a fresh allocation from the global allocator with
    // the layout of `[IoBuffers; count]`, as `Box<[IoBuffers]>` expects;
    // `IoBuffers` holds only `u8` arrays, for which all-zero bytes are a
    // valid value, so the zeroed memory is `count` initialised elements.
    unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, count)) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use peregrine_core::Capacity;

    #[test]
    fn buffers_are_zeroed_usable_and_large_ones_stay_off_the_stack() {
        let mut small = zeroed_buffers::<Capacity<256, 1024>>(3);
        assert_eq!(small.len(), 3);
        assert!(
            small
                .iter()
                .all(|b| b.read.iter().chain(&b.write).all(|&x| x == 0))
        );
        small[2].write[1023] = 7;
        assert_eq!(small[2].write[1023], 7);
        // 2 × 64 MiB: built on a thread's stack this would overflow it.
        let large = zeroed_buffers::<Capacity<{ 64 << 20 }, { 64 << 20 }>>(2);
        assert_eq!(large[1].read[(64 << 20) - 1], 0);
        assert!(zeroed_buffers::<Capacity<256, 1024>>(0).is_empty());
    }
}
