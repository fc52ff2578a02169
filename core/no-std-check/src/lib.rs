//! A `#![no_std]` static library that parses a request with peregrine-core.
//! It builds only if the core links neither `std` nor `alloc`.
#![no_std]

use core::panic::PanicInfo;

use peregrine_core::{Parsed, RequestParser};

/// Parses the request in `ptr[..len]`; returns its head length, or 0 when
/// it is incomplete or malformed.
///
/// # Safety
/// `ptr` must point to `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peregrine_parse_head_len(ptr: *const u8, len: usize) -> usize {
    // SAFETY: the caller guarantees `ptr[..len]` is readable.
    let bytes = unsafe { core::slice::from_raw_parts(ptr, len) };
    let mut parser = RequestParser::<32>::new();
    match parser.parse(bytes) {
        Ok(Parsed::Complete(request)) => request.head_len(),
        _ => 0,
    }
}

#[panic_handler]
fn panic(_: &PanicInfo<'_>) -> ! {
    loop {}
}
