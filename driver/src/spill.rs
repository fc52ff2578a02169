//! A worker's spill: where bodies written with `Response::writer` go on
//! once they outgrow a connection's write buffer (see
//! [`peregrine_core::spill`]).
//!
//! Each worker has one, shared by its connections and bounded by
//! [`DEFAULT_SPILL_LIMIT`]. Its memory is allocated the first time a body
//! outgrows a buffer, in one piece, and kept: no request allocates after
//! that, and a server whose bodies always fit never allocates it. Pages of
//! it that no body reached are never touched, so they cost no memory.

use peregrine_core::spill::{Spill, SpillArea};

/// The most a worker's spill holds at once, shared by its connections: 1
/// MiB. A body that outgrows its write buffer when the spill is full is
/// answered `500`.
pub const DEFAULT_SPILL_LIMIT: usize = 1 << 20;

/// The size of a spill block: a piece of a spilled body, given back to the
/// spill once it is sent.
pub const SPILL_BLOCK: usize = 4096;

/// A worker's spill, its memory allocated when first needed.
#[derive(Debug)]
pub struct WorkerSpill {
    /// The blocks, once a body needed them.
    area: Option<SpillArea<Box<[u8]>>>,
    /// The bytes they may take.
    limit: usize,
}

impl WorkerSpill {
    /// A spill of at most `limit` bytes, not allocated yet.
    pub fn new(limit: usize) -> Self {
        WorkerSpill { area: None, limit }
    }

    /// Blocks in use now.
    pub fn in_use(&self) -> u32 {
        self.area.as_ref().map_or(0, SpillArea::in_use)
    }

    /// The area, allocated if it was not.
    fn area(&mut self) -> &mut SpillArea<Box<[u8]>> {
        let limit = self.limit;
        self.area.get_or_insert_with(|| {
            // Zeroed, so the system hands out pages as they are touched.
            SpillArea::new(vec![0; limit].into_boxed_slice(), SPILL_BLOCK)
        })
    }
}

impl Default for WorkerSpill {
    fn default() -> Self {
        WorkerSpill::new(DEFAULT_SPILL_LIMIT)
    }
}

impl Spill for WorkerSpill {
    fn block_len(&self) -> usize {
        SPILL_BLOCK
    }

    fn take(&mut self) -> Option<u32> {
        if self.limit < SPILL_BLOCK {
            return None;
        }
        self.area().take()
    }

    fn give(&mut self, block: u32) {
        self.area().give(block);
    }

    fn block(&mut self, block: u32) -> &mut [u8] {
        self.area().block(block)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_allocated_until_a_block_is_taken_and_the_limit_holds() {
        let mut spill = WorkerSpill::new(3 * SPILL_BLOCK);
        assert!(spill.area.is_none());
        let blocks: Vec<u32> = std::iter::from_fn(|| spill.take()).collect();
        assert_eq!(blocks.len(), 3);
        assert_eq!(spill.in_use(), 3);
        for block in blocks {
            spill.give(block);
        }
        assert_eq!(spill.in_use(), 0);
        assert_eq!(WorkerSpill::new(0).take(), None);
    }
}
