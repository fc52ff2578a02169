//! Where a TLS connection's records wait: one record buffer (a record in,
//! a record out), lent from its worker's pool only while the connection
//! has bytes in flight.
//!
//! A record buffer is [`Records`]: room for one whole record received
//! (partial records wait there between reads, and a record is decrypted
//! where it lies) and one record to send (the connection's plaintext is
//! encrypted into it, and what the socket did not take waits there). A
//! connection takes one from its thread's pool when it first has a byte
//! to read or write, and gives it back once it holds nothing (no partial
//! record, no plaintext not yet read, no record not yet sent): an idle
//! keep-alive connection holds none.
//!
//! Why a pool of its own and not the worker's buffer pairs: a pair holds
//! the connection's plaintext while it has bytes in flight, so a TLS
//! connection would need a second pair; and a pair's size is the
//! server's choice (its `Sizes`, 4 KiB if it likes),
//! while a peer may send records of 16 KiB whatever the server's buffers
//! are. So the records get buffers of their own, of exactly a record's
//! size.
//!
//! The pool is per thread (a worker's, or on the portable backend the
//! thread serving the connection): taking and giving back touch no lock.
//! It starts empty; when it is empty a buffer is allocated (counted:
//! [`record_buffers_allocated`]), and one given back is kept for the next
//! connection, up to [`TlsBuilder::record_buffers`](super::TlsBuilder::record_buffers)
//! buffers (default [`DEFAULT_KEPT`]); past that it is freed. A worker
//! thus keeps as many as it had connections with bytes in flight at once,
//! up to that bound, and allocates nothing more once it has been that busy.
//!
//! Giving a buffer back never allocates: the pool's own storage grows only
//! when a buffer is allocated, to have room for every buffer the thread
//! made (up to the bound). Were it grown on the first give-back instead,
//! that allocation would come whenever a connection first goes idle, which
//! on the portable backend is a matter of timing, long after the warm-up.

use std::cell::{Cell, RefCell};
use std::io::{self, ErrorKind};
use std::sync::atomic::{AtomicU64, Ordering};

use super::record::MAX_RECORD;
use crate::io::Socket;

/// How many record buffers a thread keeps for reuse by default: as many
/// as a worker has buffer pairs by default.
pub const DEFAULT_KEPT: usize = 256;

/// Room for records received: one whole record of the longest kind.
const INPUT: usize = MAX_RECORD;
/// Room for records to send: one whole record (ours are at most 2¹⁴
/// bytes of plaintext and 29 of overhead; the handshake's, made by
/// rustls, at most a record of the longest kind).
const OUTPUT: usize = MAX_RECORD;

/// Record buffers allocated since the process started, by every thread.
static ALLOCATED: AtomicU64 = AtomicU64::new(0);

/// How many record buffers have been allocated since the process
/// started (all threads): a pool found empty allocates one. Steady once
/// every worker has kept as many as it needs at once.
pub fn record_buffers_allocated() -> u64 {
    ALLOCATED.load(Ordering::Relaxed)
}

thread_local! {
    /// This thread's record buffers no connection holds.
    static POOL: RefCell<Vec<Box<Records>>> = const { RefCell::new(Vec::new()) };
    /// How many this thread keeps (set by the TLS configuration as each
    /// connection is accepted).
    static KEPT: Cell<usize> = const { Cell::new(DEFAULT_KEPT) };
    /// How many record buffers this thread has allocated: the pool has
    /// room for as many (up to [`KEPT`]).
    static MADE: Cell<usize> = const { Cell::new(0) };
}

/// Sets how many record buffers this thread keeps for reuse.
pub(super) fn keep(count: usize) {
    let _ = KEPT.try_with(|kept| kept.set(count));
}

/// A record buffer from this thread's pool, or a new one; the pool then
/// grows its room to take back every buffer this thread made (up to the
/// number it keeps), so that [`give_back`] never allocates.
pub(super) fn take() -> Box<Records> {
    let kept = POOL
        .try_with(|pool| {
            let mut pool = pool.try_borrow_mut().ok()?;
            let records = pool.pop();
            if records.is_none() {
                // Empty: a buffer is made below, and may come back.
                let made = MADE.try_with(|made| {
                    made.set(made.get().saturating_add(1));
                    made.get()
                });
                let kept = KEPT.try_with(Cell::get);
                if let (Ok(made), Ok(kept)) = (made, kept) {
                    // The pool is empty: this asks for room for them all.
                    pool.reserve(made.min(kept));
                }
            }
            records
        })
        .ok()
        .flatten();
    kept.unwrap_or_else(|| {
        ALLOCATED.fetch_add(1, Ordering::Relaxed);
        Records::new()
    })
}

/// Gives `records` back to this thread's pool (emptied), or frees it if
/// the pool holds as many as it keeps, or has no room left for it (a
/// buffer made on another thread). Never allocates.
pub(super) fn give_back(mut records: Box<Records>) {
    records.clear();
    let kept = KEPT.try_with(Cell::get).unwrap_or(0);
    let _ = POOL.try_with(|pool| {
        if let Ok(mut pool) = pool.try_borrow_mut() {
            if pool.len() < kept && pool.len() < pool.capacity() {
                pool.push(records);
            }
        }
    });
}

/// One record buffer: a record received and a record to send.
pub(super) struct Records {
    /// Records received, and plaintext decrypted in place.
    pub(super) input: Input,
    /// Records to send.
    pub(super) output: Output,
}

/// Records received: `bytes[plain]` is plaintext decrypted and not yet
/// read; `bytes[start..end]` is ciphertext not yet opened (during the
/// handshake, bytes rustls has not yet discarded), of which
/// `bytes[start..offered]` has been shown to rustls.
pub(super) struct Input {
    /// The bytes.
    pub(super) bytes: [u8; INPUT],
    /// Plaintext not yet read.
    pub(super) plain: std::ops::Range<usize>,
    /// Where the ciphertext not yet opened starts.
    pub(super) start: usize,
    /// Where the bytes received end.
    pub(super) end: usize,
    /// During the handshake: where the records shown to rustls end.
    pub(super) offered: usize,
}

/// Records to send: `bytes[sent..filled]` is not yet sent.
pub(super) struct Output {
    /// The bytes.
    pub(super) bytes: [u8; OUTPUT],
    /// Where the records not yet sent start.
    pub(super) sent: usize,
    /// Where they end.
    pub(super) filled: usize,
}

impl Records {
    /// A new, empty buffer.
    fn new() -> Box<Records> {
        Box::new(Records {
            input: Input {
                bytes: [0; INPUT],
                plain: 0..0,
                start: 0,
                end: 0,
                offered: 0,
            },
            output: Output {
                bytes: [0; OUTPUT],
                sent: 0,
                filled: 0,
            },
        })
    }

    /// Forgets what it held.
    fn clear(&mut self) {
        self.input.plain = 0..0;
        self.input.start = 0;
        self.input.end = 0;
        self.input.offered = 0;
        self.output.sent = 0;
        self.output.filled = 0;
    }

    /// Whether it holds nothing: no plaintext to read, no bytes received
    /// not yet processed, no record to send.
    #[inline]
    pub(super) fn is_empty(&self) -> bool {
        self.input.is_empty() && !self.output.has_output()
    }
}

impl Input {
    /// Whether it holds nothing: no plaintext to read, no bytes received
    /// not yet processed.
    #[inline]
    pub(super) fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.start == self.end
    }

    /// Room to read more records into, at the end: the bytes not yet
    /// processed are moved to the start first. Only with no plaintext
    /// waiting (it lies here too).
    pub(super) fn space(&mut self) -> &mut [u8] {
        debug_assert!(self.plain.is_empty());
        if self.start == self.end {
            self.plain = 0..0;
            self.start = 0;
            self.end = 0;
            self.offered = 0;
        } else if self.start > 0 {
            self.bytes.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            // Only the handshake keeps `offered` (at or past `start`);
            // after it, it stays at 0.
            self.offered = self.offered.saturating_sub(self.start);
            self.start = 0;
        }
        &mut self.bytes[self.end..]
    }

    /// Copies plaintext waiting into `buf`: how much.
    #[inline]
    pub(super) fn read_plain(&mut self, buf: &mut [u8]) -> usize {
        let n = self.plain.len().min(buf.len());
        buf[..n].copy_from_slice(&self.bytes[self.plain.start..self.plain.start + n]);
        self.plain.start += n;
        n
    }
}

impl Output {
    /// Whether records wait to be sent.
    #[inline]
    pub(super) fn has_output(&self) -> bool {
        self.sent < self.filled
    }

    /// Moves the records not yet sent to the start, leaving the most
    /// room after them.
    pub(super) fn compact(&mut self) {
        if self.sent > 0 {
            self.bytes.copy_within(self.sent..self.filled, 0);
            self.filled -= self.sent;
            self.sent = 0;
        }
    }

    /// The room after the records not yet sent.
    #[inline]
    pub(super) fn space(&mut self) -> &mut [u8] {
        &mut self.bytes[self.filled..]
    }

    /// Sends the records not yet sent through `socket` until none is
    /// left. `WouldBlock` if the socket stops taking them first (for a
    /// non-blocking socket, as soon as one write takes less than offered:
    /// its buffer is full).
    pub(super) fn send<S: Socket>(&mut self, socket: &mut S) -> io::Result<()> {
        while self.sent < self.filled {
            let offered = self.filled - self.sent;
            match socket.write(&self.bytes[self.sent..self.filled]) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.sent += n;
                    if n < offered && !socket.is_blocking() {
                        return Err(ErrorKind::WouldBlock.into());
                    }
                }
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        self.sent = 0;
        self.filled = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_kept_up_to_the_bound_and_reused() {
        // On a thread of its own: the pool is per thread.
        std::thread::spawn(|| {
            keep(2);
            let (a, b, c) = (take(), take(), take());
            let kept: [*const Records; 2] = [&*a, &*b];
            give_back(a);
            give_back(b);
            // Beyond the bound: freed.
            give_back(c);
            let (x, y, z) = (take(), take(), take());
            // Both kept ones came back, emptied; the third is new.
            assert!(kept.contains(&(&*x as *const Records)));
            assert!(kept.contains(&(&*y as *const Records)));
            assert!(!kept.contains(&(&*z as *const Records)));
            assert!(x.is_empty() && y.is_empty());
        })
        .join()
        .unwrap();
    }

    /// This thread's pool: how many it holds, and its room.
    fn pool_len_and_capacity() -> (usize, usize) {
        POOL.with(|pool| {
            let pool = pool.borrow();
            (pool.len(), pool.capacity())
        })
    }

    #[test]
    fn giving_back_never_grows_the_pool() {
        // A thread's first give-back once grew the pool's storage, an
        // allocation at whatever moment a connection first went idle.
        std::thread::spawn(|| {
            keep(3);
            let taken: Vec<_> = (0..5).map(|_| take()).collect();
            let (len, room) = pool_len_and_capacity();
            assert_eq!(len, 0);
            assert!(room >= 3, "room for {room} buffers, 3 kept");
            for records in taken {
                give_back(records);
            }
            // Three kept, two freed, and the pool's storage untouched.
            assert_eq!(pool_len_and_capacity(), (3, room));
            // Taken and given back again: still no growth.
            let again: Vec<_> = (0..3).map(|_| take()).collect();
            again.into_iter().for_each(give_back);
            assert_eq!(pool_len_and_capacity(), (3, room));
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_buffer_from_another_thread_is_freed_rather_than_grow_the_pool() {
        let foreign = Records::new();
        std::thread::spawn(move || {
            // This thread made none: its pool has no room, and gets none.
            give_back(foreign);
            assert_eq!(pool_len_and_capacity(), (0, 0));
        })
        .join()
        .unwrap();
    }

    #[test]
    fn input_is_compacted_and_settled() {
        let mut records = take();
        let input = &mut records.input;
        input.bytes[..10].copy_from_slice(b"0123456789");
        input.end = 10;
        input.start = 4;
        input.offered = 6;
        assert_eq!(input.space().len(), INPUT - 6);
        assert_eq!(&input.bytes[..6], b"456789");
        assert_eq!((input.start, input.end, input.offered), (0, 6, 2));
        input.start = 6;
        assert!(records.is_empty());
        assert_eq!(records.input.space().len(), INPUT);
        assert_eq!(records.input.end, 0);
        give_back(records);
    }
}
