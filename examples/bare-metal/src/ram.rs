//! How much RAM the firmware takes, measured on the device: the statics
//! from the linker's symbols, and how deep the stack went from what is
//! left of the paint cortex-m-rt puts on it before `main`.

use cortex_m_rt::STACK_PAINT_VALUE;

unsafe extern "C" {
    /// The bottom of the stack region (the lowest address it may reach).
    static _stack_end: u32;
    /// The top of the stack region, where the stack pointer starts.
    static _stack_start: u32;
    /// The start of `.data`, the first static.
    static __sdata: u32;
    /// The end of `.bss`, the last static.
    static __ebss: u32;
}

/// Bytes of `.data` and `.bss`: every static, initialised or zeroed.
pub fn statics() -> usize {
    (&raw const __ebss).addr() - (&raw const __sdata).addr()
}

/// Bytes of the region set aside for the stack.
pub fn stack_reserved() -> usize {
    (&raw const _stack_start).addr() - (&raw const _stack_end).addr()
}

/// The most bytes of stack used so far: from the top of the region down to
/// the lowest word that no longer holds the paint.
pub fn stack_used() -> usize {
    let bottom = &raw const _stack_end;
    let words = stack_reserved() / 4;
    let untouched = (0..words)
        .take_while(|&i| {
            // SAFETY: the stack region is RAM of `words` aligned words from
            // `bottom`, readable throughout; reading a word below the stack
            // pointer reads no live object, only what a call left there.
            unsafe { bottom.add(i).read_volatile() == STACK_PAINT_VALUE }
        })
        .count();
    (words - untouched) * 4
}
