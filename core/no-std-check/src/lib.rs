//! A `#![no_std]` static library that parses a request with peregrine-core.
//! It builds only if the core links neither `std` nor `alloc`.
#![no_std]

use core::panic::PanicInfo;

use peregrine_core::{
    Capacity, Config, Connection, Counters, Env, Handler, IoBuffers, Parsed, Request, RequestParser, Response, Transmit,
};

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

/// Answers every request with a fixed greeting.
struct Hello;

impl Handler for Hello {
    fn handle(&self, _: &Request<'_>, response: &mut Response<'_>) {
        response.body_static(b"Hello from no_std");
    }
}

/// Runs a connection over the requests in `input[..input_len]` and copies
/// the responses into `out[..out_cap]`; returns the bytes copied.
///
/// # Safety
/// `input` must point to `input_len` readable bytes and `out` to `out_cap`
/// writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn peregrine_serve(
    input: *const u8,
    input_len: usize,
    out: *mut u8,
    out_cap: usize,
) -> usize {
    // SAFETY: the caller guarantees both regions are valid and distinct.
    let (input, out) = unsafe {
        (
            core::slice::from_raw_parts(input, input_len),
            core::slice::from_raw_parts_mut(out, out_cap),
        )
    };
    let mut bufs = IoBuffers::<Capacity<1024, 2048, 16>>::new();
    let mut conn = Connection::<Capacity<1024, 2048, 16>>::new(Config::DEFAULT, None, 0);
    let mut env = Env {
        handler: &Hello,
        local: &mut (),
        date: None,
        now: 0,
        counters: &mut Counters::default(),
        files: None,
        spill: None,
        deflate: None,
    };
    let space = conn.read_buf(&mut bufs);
    let n = space.len().min(input.len());
    space[..n].copy_from_slice(&input[..n]);
    conn.handle_read(n, &mut bufs, &mut env);
    let mut copied = 0;
    if let Transmit::Write(pieces) = conn.poll_transmit(&bufs) {
        for piece in pieces {
            let take = piece.len().min(out.len() - copied);
            out[copied..copied + take].copy_from_slice(&piece[..take]);
            copied += take;
        }
    }
    copied
}

#[panic_handler]
fn panic(_: &PanicInfo<'_>) -> ! {
    loop {}
}
