//! Room outside the write buffer for response bodies that outgrow it.
//!
//! A body written with [`Response::writer`](crate::Response::writer) goes
//! straight into the connection's write buffer, after the head. What does
//! not fit there goes to a [`Spill`]: memory the caller lends every
//! connection it drives (in [`Env::spill`](crate::Env::spill)), in blocks,
//! bounded by its size. The connection then sends the body as chunks
//! (close-delimited for an HTTP/1.0 client) as the socket drains, giving
//! each block back as soon as it is sent, and every block it still holds
//! when it is [retired](crate::Connection::retire). A body that does not
//! fit the buffer and the spill together is answered `500`.
//!
//! [`SpillArea`] is the spill over any memory the caller owns (a boxed
//! slice, a static array); nothing is allocated after it is made.
//!
//! ```
//! use peregrine_core::spill::{Spill, SpillArea};
//!
//! let mut area = SpillArea::new([0u8; 1024], 256);
//! assert_eq!(area.blocks(), 4);
//! let a = area.take().unwrap();
//! area.block(a)[..5].copy_from_slice(b"hello");
//! area.give(a);
//! assert_eq!(area.in_use(), 0);
//! ```

/// Memory lent to connections in blocks of one size, for the parts of
/// response bodies that outgrow the write buffer (see the [module
/// documentation](self)). [`SpillArea`] is the usual one.
pub trait Spill {
    /// The size of every block, in bytes: more than 4 (the connection
    /// links its blocks through their first 4 bytes).
    fn block_len(&self) -> usize;

    /// A free block, or `None` if every block is in use.
    fn take(&mut self) -> Option<u32>;

    /// Gives back a block [`take`](Self::take) returned.
    fn give(&mut self, block: u32);

    /// The bytes of a block [`take`](Self::take) returned:
    /// [`block_len`](Self::block_len) of them.
    fn block(&mut self, block: u32) -> &mut [u8];
}

/// A [`Spill`] over memory the caller owns (`M`: a `Box<[u8]>`, an
/// array, a `&'static mut [u8]`), cut into blocks of one size.
///
/// Blocks never taken are never touched, so a large area whose memory
/// the system hands out lazily (a zeroed allocation) costs only the pages
/// bodies actually used.
pub struct SpillArea<M> {
    /// The blocks, one after another.
    memory: M,
    /// Bytes per block.
    block_len: usize,
    /// How many blocks the memory holds.
    blocks: u32,
    /// Blocks given back, linked through their first 4 bytes.
    free: u32,
    /// Blocks from here on were never taken.
    fresh: u32,
    /// Blocks taken and not given back.
    in_use: u32,
}

/// The end of a list of blocks.
pub(crate) const NONE: u32 = u32::MAX;

impl<M: AsMut<[u8]>> SpillArea<M> {
    /// An area over `memory`, in blocks of `block_len` bytes (a partial
    /// block at the end is left unused).
    ///
    /// # Panics
    ///
    /// If `block_len` is 4 or less.
    pub fn new(mut memory: M, block_len: usize) -> Self {
        assert!(block_len > 4, "a spill block must hold its link and data");
        let blocks = (memory.as_mut().len() / block_len).min(NONE as usize - 1) as u32;
        SpillArea {
            memory,
            block_len,
            blocks,
            free: NONE,
            fresh: 0,
            in_use: 0,
        }
    }

    /// How many blocks the area holds.
    pub fn blocks(&self) -> u32 {
        self.blocks
    }

    /// How many blocks are in use.
    pub fn in_use(&self) -> u32 {
        self.in_use
    }

    /// The bytes of `block`.
    fn bytes(&mut self, block: u32) -> &mut [u8] {
        let start = block as usize * self.block_len;
        &mut self.memory.as_mut()[start..start + self.block_len]
    }
}

impl<M: AsMut<[u8]>> Spill for SpillArea<M> {
    fn block_len(&self) -> usize {
        self.block_len
    }

    fn take(&mut self) -> Option<u32> {
        let block = if self.free != NONE {
            let block = self.free;
            self.free = read_link(self.bytes(block));
            block
        } else if self.fresh < self.blocks {
            self.fresh += 1;
            self.fresh - 1
        } else {
            return None;
        };
        self.in_use += 1;
        Some(block)
    }

    fn give(&mut self, block: u32) {
        debug_assert!(block < self.fresh, "a block that was never taken");
        let free = self.free;
        write_link(self.bytes(block), free);
        self.free = block;
        self.in_use -= 1;
    }

    fn block(&mut self, block: u32) -> &mut [u8] {
        self.bytes(block)
    }
}

impl<M> core::fmt::Debug for SpillArea<M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SpillArea")
            .field("block_len", &self.block_len)
            .field("blocks", &self.blocks)
            .field("in_use", &self.in_use)
            .finish_non_exhaustive()
    }
}

/// The link at the start of a block.
fn read_link(block: &[u8]) -> u32 {
    let mut link = [0; 4];
    link.copy_from_slice(&block[..4]);
    u32::from_ne_bytes(link)
}

/// Sets the link at the start of a block.
fn write_link(block: &mut [u8], link: u32) {
    block[..4].copy_from_slice(&link.to_ne_bytes());
}

/// The bytes of a body held in a [`Spill`]: a list of blocks linked
/// through their first 4 bytes, read from the first and written at the
/// last. Never empty: an empty body spills nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Chain {
    /// The block read next.
    first: u32,
    /// Where in `first` reading continues.
    read: u32,
    /// The block written last.
    last: u32,
    /// Where in `last` writing continues.
    write: u32,
}

/// The spill had no block free (or there is no spill).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SpillFull;

impl Chain {
    /// Appends `bytes` to `chain` (a new one if `None`), taking blocks as
    /// needed. On failure some bytes may have been appended: the caller
    /// gives the whole chain up.
    pub(crate) fn append(
        chain: &mut Option<Chain>,
        spill: &mut (dyn Spill + '_),
        mut bytes: &[u8],
    ) -> Result<(), SpillFull> {
        let block_len = spill.block_len() as u32;
        while !bytes.is_empty() {
            let mut current = match *chain {
                Some(current) if current.write < block_len => current,
                Some(mut current) => {
                    let next = spill.take().ok_or(SpillFull)?;
                    write_link(spill.block(next), NONE);
                    write_link(spill.block(current.last), next);
                    current.last = next;
                    current.write = 4;
                    current
                }
                None => {
                    let first = spill.take().ok_or(SpillFull)?;
                    write_link(spill.block(first), NONE);
                    Chain {
                        first,
                        read: 4,
                        last: first,
                        write: 4,
                    }
                }
            };
            let room = (block_len - current.write) as usize;
            let n = room.min(bytes.len());
            let at = current.write as usize;
            spill.block(current.last)[at..at + n].copy_from_slice(&bytes[..n]);
            current.write += n as u32;
            bytes = &bytes[n..];
            *chain = Some(current);
        }
        Ok(())
    }

    /// Moves up to `out.len()` bytes from the front of the chain into
    /// `out`, giving back every block emptied; returns how many, and what
    /// is left (`None` once all is read).
    pub(crate) fn read(
        mut self,
        spill: &mut (dyn Spill + '_),
        out: &mut [u8],
    ) -> (usize, Option<Chain>) {
        let block_len = spill.block_len() as u32;
        let mut n = 0;
        loop {
            let end = if self.first == self.last {
                self.write
            } else {
                block_len
            };
            let take = ((end - self.read) as usize).min(out.len() - n);
            let at = self.read as usize;
            out[n..n + take].copy_from_slice(&spill.block(self.first)[at..at + take]);
            n += take;
            self.read += take as u32;
            if self.read < end {
                return (n, Some(self));
            }
            // This block is empty.
            let next = read_link(spill.block(self.first));
            spill.give(self.first);
            if self.first == self.last {
                return (n, None);
            }
            self.first = next;
            self.read = 4;
            if n == out.len() {
                return (n, Some(self));
            }
        }
    }

    /// Gives back every block of the chain, unread.
    pub(crate) fn release(self, spill: &mut (dyn Spill + '_)) {
        let mut block = self.first;
        loop {
            let next = read_link(spill.block(block));
            spill.give(block);
            if block == self.last {
                return;
            }
            block = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;
    use std::vec::Vec;

    #[test]
    fn blocks_are_taken_fresh_then_reused_and_counted() {
        let mut area = SpillArea::new(vec![0u8; 100], 32);
        assert_eq!(area.blocks(), 3);
        let (a, b, c) = (area.take(), area.take(), area.take());
        assert_eq!((a, b, c), (Some(0), Some(1), Some(2)));
        assert_eq!(area.take(), None);
        area.give(1);
        area.give(0);
        assert_eq!(area.in_use(), 1);
        assert_eq!(area.take(), Some(0));
        assert_eq!(area.take(), Some(1));
        assert_eq!(area.take(), None);
    }

    #[test]
    fn a_chain_gives_back_what_was_appended_in_any_pieces() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
        for block_len in [5, 6, 17, 64] {
            for piece in [1, 3, 60, 1000] {
                for read_size in [1, 7, 100, 2000] {
                    let mut area = SpillArea::new(vec![0u8; 4096 * 4], block_len);
                    let mut chain = None;
                    for part in data.chunks(piece) {
                        Chain::append(&mut chain, &mut area, part).unwrap();
                    }
                    let mut out = Vec::new();
                    let mut buf = vec![0u8; read_size];
                    while let Some(current) = chain {
                        let (n, rest) = current.read(&mut area, &mut buf);
                        assert!(n > 0 || rest.is_none());
                        out.extend_from_slice(&buf[..n]);
                        chain = rest;
                    }
                    assert_eq!(out, data, "blocks of {block_len}, pieces of {piece}");
                    assert_eq!(area.in_use(), 0);
                }
            }
        }
    }

    #[test]
    fn a_full_spill_fails_and_a_released_chain_frees_every_block() {
        let mut area = SpillArea::new([0u8; 64], 16);
        let mut chain = None;
        assert_eq!(Chain::append(&mut chain, &mut area, &[1; 48]), Ok(()));
        assert_eq!(area.in_use(), 4);
        assert_eq!(
            Chain::append(&mut chain, &mut area, &[2; 1]),
            Err(SpillFull)
        );
        chain.unwrap().release(&mut area);
        assert_eq!(area.in_use(), 0);
        // Partly read, then released.
        let mut chain = None;
        Chain::append(&mut chain, &mut area, &[3; 30]).unwrap();
        let (n, rest) = chain.unwrap().read(&mut area, &mut [0; 13]);
        assert_eq!(n, 13);
        assert_eq!(area.in_use(), 2);
        rest.unwrap().release(&mut area);
        assert_eq!(area.in_use(), 0);
    }
}
