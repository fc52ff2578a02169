//! The wake-ups other threads post to one worker: a set of connection
//! slots, one bit each, so a flood of wake-ups for one connection is one
//! wake-up, and no wake-up is ever refused or lost, however many come.
//!
//! A bit per slot the worker may hold, and a summary bit per word of them,
//! so the worker finds the pending slots without walking every word. Any
//! thread sets bits; the worker alone takes them.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Bits per word.
const BITS: usize = 64;

/// Slots with a pending wake-up.
pub(crate) struct WakeSet {
    /// Bit `i % 64` of word `i / 64`: slot `i` has a wake-up pending.
    words: Box<[AtomicU64]>,
    /// Bit `w % 64` of word `w / 64`: word `w` may have bits set.
    summary: Box<[AtomicU64]>,
    /// Set with the first bit since the worker last took them: the worker
    /// needs waking.
    pending: AtomicBool,
}

impl WakeSet {
    /// Room for slots `0..slots`.
    pub(crate) fn new(slots: usize) -> Self {
        let words = slots.div_ceil(BITS);
        WakeSet {
            words: (0..words).map(|_| AtomicU64::new(0)).collect(),
            summary: (0..words.div_ceil(BITS))
                .map(|_| AtomicU64::new(0))
                .collect(),
            pending: AtomicBool::new(false),
        }
    }

    /// Marks slot `slot` woken. `None` if there is no such slot; else
    /// whether the worker needs waking (nothing was pending before).
    pub(crate) fn insert(&self, slot: usize) -> Option<bool> {
        let word = self.words.get(slot / BITS)?;
        let bit = 1 << (slot % BITS);
        if word.fetch_or(bit, Ordering::AcqRel) & bit != 0 {
            // Already pending: the worker will see it.
            return Some(false);
        }
        let index = slot / BITS;
        self.summary[index / BITS].fetch_or(1 << (index % BITS), Ordering::AcqRel);
        Some(!self.pending.swap(true, Ordering::AcqRel))
    }

    /// Takes every pending slot, calling `woken` for each, lowest first.
    /// A slot marked while this runs is either taken now or left for the
    /// next call, whose wake-up it then asked for.
    pub(crate) fn drain(&self, mut woken: impl FnMut(usize)) {
        if !self.pending.swap(false, Ordering::AcqRel) {
            return;
        }
        for (at, summary) in self.summary.iter().enumerate() {
            let mut indices = summary.swap(0, Ordering::AcqRel);
            while indices != 0 {
                let index = at * BITS + indices.trailing_zeros() as usize;
                indices &= indices - 1;
                let mut bits = self.words[index].swap(0, Ordering::AcqRel);
                while bits != 0 {
                    woken(index * BITS + bits.trailing_zeros() as usize);
                    bits &= bits - 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wake_ups_are_kept_once_each_and_taken_in_order() {
        let set = WakeSet::new(200);
        assert_eq!(set.insert(130), Some(true));
        assert_eq!(set.insert(130), Some(false));
        assert_eq!(set.insert(3), Some(false));
        assert_eq!(set.insert(199), Some(false));
        assert_eq!(set.insert(200 + BITS), None);
        let mut taken = Vec::new();
        set.drain(|slot| taken.push(slot));
        assert_eq!(taken, [3, 130, 199]);
        // Nothing left, and the next one wakes the worker again.
        set.drain(|slot| taken.push(slot));
        assert_eq!(taken.len(), 3);
        assert_eq!(set.insert(3), Some(true));
    }

    #[test]
    fn a_flood_from_many_threads_loses_nothing() {
        let set = std::sync::Arc::new(WakeSet::new(4096));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let set = std::sync::Arc::clone(&set);
                std::thread::spawn(move || {
                    for round in 0..100_000 {
                        set.insert((t * 1000 + round % 1000) % 4096).unwrap();
                    }
                })
            })
            .collect();
        let mut seen = vec![false; 4096];
        while threads.iter().any(|thread| !thread.is_finished()) {
            set.drain(|slot| seen[slot] = true);
        }
        for thread in threads {
            thread.join().unwrap();
        }
        set.drain(|slot| seen[slot] = true);
        assert_eq!(seen.iter().filter(|&&s| s).count(), 4000);
    }
}
