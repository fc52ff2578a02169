//! A counting global allocator for the zero-allocation tests: it passes
//! every call to the system allocator and counts those made on threads
//! marked as server workers (a worker marks itself when it creates its
//! handler state: [`mark_this_thread`]), with the bytes they hold.
//!
//! A test binary installs it as its allocator:
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOCATOR: peregrine_tests::counting::CountingAllocator =
//!     peregrine_tests::counting::CountingAllocator;
//! ```
//!
//! The counts are process-wide: run one server at a time ([`serial`]).
//!
//! To find an allocation a measured stretch should not have made, set
//! `PEREGRINE_TRACE_ALLOCATIONS`: while a test holds a [`trace_while`]
//! guard, every counted allocation prints its size, thread and backtrace
//! (what the capture allocates itself is not counted).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Passes every call to the system allocator, counting those made on a
/// marked thread.
pub struct CountingAllocator;

/// Allocations (and reallocations) made on marked threads.
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

/// Bytes allocated less bytes freed on marked threads.
static LIVE: AtomicI64 = AtomicI64::new(0);

/// Held by the test that counts.
static SERIAL: Mutex<()> = Mutex::new(());

thread_local! {
    /// Whether this thread is a server worker. Const-initialised with no
    /// destructor, so reading it never allocates.
    static ON_SERVER: Cell<bool> = const { Cell::new(false) };
    /// Whether this thread is capturing a backtrace (whose own
    /// allocations are neither counted nor traced).
    static TRACING: Cell<bool> = const { Cell::new(false) };
}

/// Whether counted allocations print a backtrace: set while a test
/// measures, if `PEREGRINE_TRACE_ALLOCATIONS` is set.
static TRACE: AtomicBool = AtomicBool::new(false);

/// Marks the calling thread as a server worker: its allocations count
/// from now on.
pub fn mark_this_thread() {
    ON_SERVER.with(|on| on.set(true));
}

/// Allocations (and reallocations) made on marked threads so far.
pub fn allocations() -> u64 {
    ALLOCATIONS.load(Ordering::SeqCst)
}

/// Bytes allocated and not yet freed on marked threads.
pub fn live_bytes() -> i64 {
    LIVE.load(Ordering::SeqCst)
}

/// Holds off every other counting test of this binary while the guard
/// lives (a test that panicked leaves it usable).
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Counts a call that grew the marked thread's holdings by `grown`
/// bytes (negative: freed); `allocates` if the call allocates.
fn count(grown: i64, allocates: bool) {
    if ON_SERVER.try_with(Cell::get).unwrap_or(false)
        && !TRACING.try_with(Cell::get).unwrap_or(true)
    {
        if allocates {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
            if TRACE.load(Ordering::Relaxed) {
                trace(grown);
            }
        }
        LIVE.fetch_add(grown, Ordering::Relaxed);
    }
}

/// Prints where a counted allocation of `size` bytes was made; what the
/// capture allocates itself is not counted.
#[cold]
#[inline(never)]
fn trace(size: i64) {
    TRACING.with(|tracing| tracing.set(true));
    let thread = std::thread::current();
    eprintln!(
        "counted allocation of {size} bytes on thread {:?} ({:?}):\n{}",
        thread.name(),
        thread.id(),
        std::backtrace::Backtrace::force_capture()
    );
    TRACING.with(|tracing| tracing.set(false));
}

/// While the guard lives, every counted allocation prints its backtrace
/// if the environment variable `PEREGRINE_TRACE_ALLOCATIONS` is set: the
/// way to find one that a measured stretch should not have made.
pub fn trace_while(_measuring: &MutexGuard<'static, ()>) -> TraceGuard {
    let on = std::env::var_os("PEREGRINE_TRACE_ALLOCATIONS").is_some();
    TRACE.store(on, Ordering::SeqCst);
    TraceGuard(())
}

/// Stops [`trace_while`]'s tracing when dropped.
pub struct TraceGuard(());

impl Drop for TraceGuard {
    fn drop(&mut self) {
        TRACE.store(false, Ordering::SeqCst);
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments,
// so `System`'s guarantees are this allocator's.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as i64, true);
        // SAFETY: forwarded as received; the caller upholds `alloc`'s
        // contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as i64, true);
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as i64 - layout.size() as i64, true);
        // SAFETY: `ptr` came from this allocator, hence from `System`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as i64), false);
        // SAFETY: `ptr` came from this allocator, hence from `System`.
        unsafe { System.dealloc(ptr, layout) }
    }
}
