//! The memory brotli's encoder works in, kept between responses: an
//! allocator (in the sense of the `brotli` crate's pluggable
//! `Allocator<T>`) that hands back the blocks it was given back.
//!
//! The encoder has no reset: each response starts a new encoder state,
//! and the old one frees everything it allocated (its ring buffer, hash
//! tables, command and histogram arrays) through its allocator. This one
//! keeps those blocks, one free list per element type, and gives the
//! next state the smallest kept block that is large enough, so that once
//! a worker has compressed its largest response, compressing another
//! asks the system allocator for nothing. A block too small for any
//! request is grown rather than joined by another, so a free list never
//! holds more blocks than one encoder had in use at once.

use brotli::enc::cluster::HistogramPair;
use brotli::enc::command::Command;
use brotli::enc::entropy_encode::HuffmanTree;
use brotli::enc::histogram::{ContextType, HistogramCommand, HistogramDistance, HistogramLiteral};
use brotli::enc::{
    Allocator, BrotliAlloc, PDF, SliceWrapper, SliceWrapperMut, StaticCommand, ZopfliNode, floatX,
    s16, v8,
};

/// A block of `T`s an encoder holds: a vector whose length is the size it
/// asked for, its capacity what the block can be reused for.
pub(crate) struct Block<T>(Vec<T>);

impl<T> Default for Block<T> {
    fn default() -> Self {
        Block(Vec::new())
    }
}

impl<T> SliceWrapper<T> for Block<T> {
    fn slice(&self) -> &[T] {
        &self.0
    }
}

impl<T> SliceWrapperMut<T> for Block<T> {
    fn slice_mut(&mut self) -> &mut [T] {
        &mut self.0
    }
}

/// The kept blocks of one element type.
struct FreeList<T> {
    /// Blocks given back, each with its capacity.
    blocks: Vec<Vec<T>>,
}

impl<T> Default for FreeList<T> {
    fn default() -> Self {
        FreeList { blocks: Vec::new() }
    }
}

impl<T: Clone + Default> FreeList<T> {
    /// A block of `len` default values: the smallest kept block that holds
    /// them, else the largest kept one grown, else a new one.
    fn take(&mut self, len: usize) -> Block<T> {
        if len == 0 {
            return Block::default();
        }
        let fitting = self
            .blocks
            .iter()
            .enumerate()
            .filter(|(_, block)| block.capacity() >= len)
            .min_by_key(|(_, block)| block.capacity())
            .map(|(at, _)| at);
        let largest = || {
            self.blocks
                .iter()
                .enumerate()
                .max_by_key(|(_, block)| block.capacity())
                .map(|(at, _)| at)
        };
        let mut block = match fitting.or_else(largest) {
            Some(at) => self.blocks.swap_remove(at),
            None => Vec::new(),
        };
        block.clear();
        block.resize(len, T::default());
        Block(block)
    }

    /// Keeps a block an encoder is done with.
    fn give(&mut self, block: Block<T>) {
        if block.0.capacity() > 0 {
            self.blocks.push(block.0);
        }
    }

    /// Bytes kept.
    fn bytes(&self) -> usize {
        let each = size_of::<T>();
        self.blocks
            .iter()
            .map(|block| block.capacity() * each)
            .sum()
    }
}

/// Declares [`Pool`] with one free list per type brotli's encoder
/// allocates, and its `Allocator` implementations.
macro_rules! pool {
    ($($field:ident: $t:ty),* $(,)?) => {
        /// A worker's kept brotli memory; see the [module](self)
        /// documentation.
        #[derive(Default)]
        pub(crate) struct Pool {
            $(
                #[doc = concat!("Kept blocks of `", stringify!($t), "`.")]
                $field: FreeList<$t>,
            )*
        }

        impl Pool {
            /// Bytes kept, in blocks no encoder holds now.
            pub(crate) fn bytes(&self) -> usize {
                0 $(+ self.$field.bytes())*
            }
        }

        $(
            impl Allocator<$t> for Pool {
                type AllocatedMemory = Block<$t>;

                fn alloc_cell(&mut self, len: usize) -> Block<$t> {
                    self.$field.take(len)
                }

                fn free_cell(&mut self, block: Block<$t>) {
                    self.$field.give(block)
                }
            }
        )*
    };
}

pool! {
    bytes_u8: u8,
    bytes_u16: u16,
    words_i32: i32,
    words_u32: u32,
    words_u64: u64,
    commands: Command,
    floats: floatX,
    float_vectors: v8,
    short_vectors: s16,
    pdfs: PDF,
    static_commands: StaticCommand,
    literal_histograms: HistogramLiteral,
    command_histograms: HistogramCommand,
    distance_histograms: HistogramDistance,
    histogram_pairs: HistogramPair,
    context_types: ContextType,
    huffman_trees: HuffmanTree,
    zopfli_nodes: ZopfliNode,
}

impl BrotliAlloc for Pool {}

#[cfg(test)]
mod tests {
    use super::*;

    /// A block of `len` `T`s from `pool`.
    fn alloc<T>(pool: &mut Pool, len: usize) -> Block<T>
    where
        Pool: Allocator<T, AllocatedMemory = Block<T>>,
    {
        pool.alloc_cell(len)
    }

    /// Gives `block` back to `pool`.
    fn free<T>(pool: &mut Pool, block: Block<T>)
    where
        Pool: Allocator<T, AllocatedMemory = Block<T>>,
    {
        pool.free_cell(block)
    }

    #[test]
    fn the_smallest_fitting_block_is_reused() {
        let mut pool = Pool::default();
        let small = alloc::<u32>(&mut pool, 10);
        let large = alloc::<u32>(&mut pool, 1000);
        let (small_at, large_at) = (small.0.as_ptr(), large.0.as_ptr());
        free(&mut pool, large);
        free(&mut pool, small);
        assert!(pool.bytes() >= 1010 * 4);
        let again = alloc::<u32>(&mut pool, 8);
        assert_eq!(again.0.as_ptr(), small_at, "the small block fits");
        assert_eq!(again.slice(), [0; 8], "and comes back zeroed");
        let big = alloc::<u32>(&mut pool, 500);
        assert_eq!(big.0.as_ptr(), large_at, "the large one for the rest");
    }

    #[test]
    fn a_block_too_small_is_grown_not_joined() {
        let mut pool = Pool::default();
        let block = alloc::<u8>(&mut pool, 16);
        free(&mut pool, block);
        let grown = alloc::<u8>(&mut pool, 4096);
        assert_eq!(grown.slice().len(), 4096);
        free(&mut pool, grown);
        assert_eq!(pool.bytes_u8.blocks.len(), 1);
        let empty = alloc::<u8>(&mut pool, 0);
        assert!(empty.slice().is_empty());
    }
}
