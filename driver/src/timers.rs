//! Per-worker deadlines: a min-heap of `(deadline, token)`, armed lazily.
//!
//! A connection's deadline moves on almost every request (the idle timer
//! restarts), nearly always *later*. Rather than update the heap each time,
//! an entry stays where it was armed; when it comes due the caller asks the
//! connection for its real deadline and re-arms if that is later. An entry
//! is pushed only when a deadline moves earlier than the one armed, so the
//! heap holds about one entry per connection and per-request cost is nil.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::slab::Token;

/// The deadlines of one worker's connections.
#[derive(Debug)]
pub struct Timers {
    /// Armed entries, earliest first.
    heap: BinaryHeap<Reverse<(u64, u64)>>,
    /// Entries beyond which stale ones are swept out, so the heap never
    /// grows past what was allocated.
    limit: usize,
}

impl Timers {
    /// Room for `connections` connections, allocated now.
    pub fn with_capacity(connections: usize) -> Self {
        let limit = connections.max(1) * 2;
        Timers {
            heap: BinaryHeap::with_capacity(limit + 1),
            limit,
        }
    }

    /// Makes room for `connections` connections, if there is less: the
    /// worker calls it as its connection slots grow, so arming a deadline
    /// never allocates.
    pub fn reserve(&mut self, connections: usize) {
        let limit = connections.max(1) * 2;
        if limit > self.limit {
            self.heap
                .reserve_exact((limit + 1).saturating_sub(self.heap.len()));
            self.limit = limit;
        }
    }

    /// Arms `token` for `deadline`, unless `armed` (what the caller last
    /// armed for it) is already as early. Returns the deadline now armed.
    ///
    /// The usual case, a keep-alive connection whose deadline moved later,
    /// is a comparison inlined at the caller.
    #[inline]
    pub fn arm(&mut self, token: Token, deadline: u64, armed: Option<u64>) -> u64 {
        match armed {
            Some(armed) if armed <= deadline => armed,
            _ => self.push(token, deadline),
        }
    }

    /// Adds an entry; returns its deadline.
    #[inline(never)]
    fn push(&mut self, token: Token, deadline: u64) -> u64 {
        self.heap.push(Reverse((deadline, token.to_u64())));
        deadline
    }

    /// Drops entries `is_stale` says are no longer armed, when the heap
    /// reaches its limit.
    #[inline]
    pub fn sweep_if_full(&mut self, is_stale: impl FnMut(Token, u64) -> bool) {
        if self.heap.len() >= self.limit {
            self.sweep(is_stale);
        }
    }

    /// Drops entries `is_stale` says are no longer armed.
    #[inline(never)]
    fn sweep(&mut self, mut is_stale: impl FnMut(Token, u64) -> bool) {
        self.heap
            .retain(|Reverse((deadline, raw))| !is_stale(Token::from_u64(*raw), *deadline));
    }

    /// The earliest armed deadline.
    pub fn next(&self) -> Option<u64> {
        self.heap.peek().map(|Reverse((deadline, _))| *deadline)
    }

    /// Removes and returns an entry due at `now`, if any.
    pub fn pop_due(&mut self, now: u64) -> Option<(Token, u64)> {
        match self.heap.peek() {
            Some(Reverse((deadline, _))) if *deadline <= now => {
                let Reverse((deadline, raw)) = self.heap.pop()?;
                Some((Token::from_u64(raw), deadline))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_deadlines_reuse_the_armed_entry_and_earlier_ones_push() {
        let mut timers = Timers::with_capacity(4);
        let token = Token::from_u64(7);
        let armed = timers.arm(token, 100, None);
        assert_eq!(timers.arm(token, 200, Some(armed)), 100);
        assert_eq!(timers.arm(token, 50, Some(armed)), 50);
        assert_eq!(timers.next(), Some(50));
        assert_eq!(timers.pop_due(49), None);
        assert_eq!(timers.pop_due(100), Some((token, 50)));
        assert_eq!(timers.pop_due(100), Some((token, 100)));
        assert_eq!(timers.pop_due(u64::MAX), None);
    }

    #[test]
    fn reserving_raises_the_sweep_limit_and_the_room() {
        let mut timers = Timers::with_capacity(2);
        timers.reserve(1);
        assert_eq!(timers.limit, 4);
        timers.reserve(100);
        assert_eq!(timers.limit, 200);
        assert!(timers.heap.capacity() > 200);
    }
}
