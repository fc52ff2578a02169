//! The compile-time sizes of a connection, carried as one type parameter.
//!
//! A connection works in two buffers (it reads requests into one and
//! writes responses from the other) and keeps the fields of the request
//! it parses in a fixed table. All three sizes are compile-time
//! constants: they size arrays, and the code is built for each choice.
//! [`Sizes`] names them together, so that every type that depends on
//! them ([`Connection`](crate::Connection), [`IoBuffers`](crate::IoBuffers),
//! the HTTP/2 [`ServerConnection`](crate::h2::server::ServerConnection),
//! a backend's server) takes one parameter rather than three; the three
//! numbers are written once, in [`Capacity`].
//!
//! ```
//! use peregrine_core::{Capacity, Config, Connection, DefaultSizes, IoBuffers, Sizes};
//!
//! // 4 KiB to read into, 8 KiB to write from, up to 32 header fields.
//! type Small = Capacity<4096, 8192, 32>;
//! assert_eq!((Small::READ, Small::WRITE, Small::MAX_HEADERS), (4096, 8192, 32));
//!
//! let bufs = IoBuffers::<Small>::new();
//! assert_eq!((bufs.read.len(), bufs.write.len()), (4096, 8192));
//! let conn = Connection::<Small>::new(Config::DEFAULT, None, 0);
//! assert!(!conn.holds_buffers());
//!
//! // The defaults, when no sizes are named: 16 KiB, 16 KiB, 100 fields.
//! let conn: Connection = Connection::new(Config::DEFAULT, None, 0);
//! assert_eq!(DefaultSizes::READ, 16384);
//! ```

use core::fmt::Debug;
use core::hash::Hash;
use core::ops::{
    Deref, DerefMut, Index, IndexMut, Range, RangeFrom, RangeFull, RangeTo, RangeToInclusive,
};

use crate::headers::FieldSpan;

/// The compile-time sizes of a connection: its read buffer, its write
/// buffer and its header table, as one type parameter.
///
/// Implemented by [`Capacity`] only, which states the three numbers; the
/// associated types are the arrays and the table those numbers size, so
/// that generic code can hold them (stable Rust cannot write
/// `[u8; Z::READ]` in generic code). See [the module](crate::sizes).
pub trait Sizes:
    Clone + Copy + Debug + Default + Eq + Hash + Send + Sync + Unpin + 'static + sealed::Sealed
{
    /// Bytes of the read buffer: the largest request head, and the largest
    /// body read whole after it.
    const READ: usize;
    /// Bytes of the write buffer: the room for responses in flight.
    const WRITE: usize;
    /// Fields of the header table: a request with more is answered `431`.
    const MAX_HEADERS: usize;
    /// The read buffer, `[u8; READ]`.
    type ReadBuffer: ByteArray;
    /// The write buffer, `[u8; WRITE]`.
    type WriteBuffer: ByteArray;
    /// The header table, [`HeaderTable<MAX_HEADERS>`](HeaderTable).
    type Fields: FieldTable;
}

/// The sizes of a connection, stated: `READ` and `WRITE` bytes of buffers,
/// `MAX_HEADERS` header fields. A marker type, never built: it is the
/// [`Sizes`] a connection, its buffers or a server is given as a type
/// parameter.
///
/// Each has the default of [`DefaultSizes`], so `Capacity<65536, 65536>`
/// changes the buffers only.
///
/// ```
/// use peregrine_core::{Capacity, Config, Connection, IoBuffers};
///
/// // A connection of 1 KiB buffers and 8 header fields fits on any stack.
/// let mut bufs = IoBuffers::<Capacity<1024, 1024, 8>>::new();
/// let mut conn = Connection::<Capacity<1024, 1024, 8>>::new(Config::DEFAULT, None, 0);
/// assert_eq!(conn.read_buf(&mut bufs).len(), 1024);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Capacity<
    const READ: usize = 16384,
    const WRITE: usize = 16384,
    const MAX_HEADERS: usize = { crate::DEFAULT_MAX_HEADERS },
>;

impl<const READ: usize, const WRITE: usize, const MAX_HEADERS: usize> Sizes
    for Capacity<READ, WRITE, MAX_HEADERS>
{
    const READ: usize = READ;
    const WRITE: usize = WRITE;
    const MAX_HEADERS: usize = MAX_HEADERS;
    type ReadBuffer = [u8; READ];
    type WriteBuffer = [u8; WRITE];
    type Fields = HeaderTable<MAX_HEADERS>;
}

impl<const READ: usize, const WRITE: usize, const MAX_HEADERS: usize> sealed::Sealed
    for Capacity<READ, WRITE, MAX_HEADERS>
{
}

/// The sizes a connection has when none are named: 16 KiB to read into,
/// 16 KiB to write from, [`DEFAULT_MAX_HEADERS`](crate::DEFAULT_MAX_HEADERS)
/// (100) header fields.
pub type DefaultSizes = Capacity;

/// A byte array, `[u8; N]` of any length `N`: what a buffer sized by
/// [`Sizes`] is. Generic code indexes it with ranges and borrows it as a
/// slice; its length is the constant `N`, so the code built for each size
/// is what it would be for the array itself.
///
/// Implemented by `[u8; N]` only: all-zero bytes are a valid value of
/// every implementor, which a caller that allocates buffers zeroed may
/// rely on.
pub trait ByteArray:
    AsRef<[u8]>
    + AsMut<[u8]>
    + Index<usize, Output = u8>
    + IndexMut<usize>
    + Index<Range<usize>, Output = [u8]>
    + IndexMut<Range<usize>>
    + Index<RangeFrom<usize>, Output = [u8]>
    + IndexMut<RangeFrom<usize>>
    + Index<RangeTo<usize>, Output = [u8]>
    + IndexMut<RangeTo<usize>>
    + Index<RangeToInclusive<usize>, Output = [u8]>
    + IndexMut<RangeToInclusive<usize>>
    + Index<RangeFull, Output = [u8]>
    + IndexMut<RangeFull>
    + Send
    + Sync
    + Unpin
    + 'static
    + sealed::Sealed
{
    /// The length, `N`.
    const LEN: usize;
    /// The array of `N` zeroes.
    const ZEROED: Self;
}

impl<const N: usize> ByteArray for [u8; N] {
    const LEN: usize = N;
    const ZEROED: Self = [0; N];
}

impl<const N: usize> sealed::Sealed for [u8; N] {}

/// Room for the header fields of one request: up to `N` of them, kept as
/// offsets into the buffer the head was read into. A request with more is
/// answered `431`.
///
/// What a [`HeadParser`](crate::HeadParser) keeps its fields in
/// ([`RequestParser<N>`](crate::RequestParser) is a parser with a
/// `HeaderTable<N>`), and the [`Sizes::Fields`] of a connection.
#[derive(Clone, Debug)]
pub struct HeaderTable<const N: usize>(heapless::Vec<FieldSpan, N>);

impl<const N: usize> HeaderTable<N> {
    /// An empty table.
    pub const fn new() -> Self {
        HeaderTable(heapless::Vec::new())
    }

    /// The number of fields it holds.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it holds no field.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The number of fields it can hold, `N`.
    pub const fn capacity(&self) -> usize {
        N
    }
}

impl<const N: usize> Default for HeaderTable<N> {
    fn default() -> Self {
        Self::new()
    }
}

#[doc(hidden)]
impl<const N: usize> Deref for HeaderTable<N> {
    type Target = [FieldSpan];

    #[inline(always)]
    fn deref(&self) -> &[FieldSpan] {
        &self.0
    }
}

#[doc(hidden)]
impl<const N: usize> DerefMut for HeaderTable<N> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut [FieldSpan] {
        &mut self.0
    }
}

/// The storage of a header table, whatever its capacity: what a
/// [`HeadParser`](crate::HeadParser) is generic over. Implemented by
/// [`HeaderTable`] only; its operations are the crate's own.
pub trait FieldTable:
    Clone
    + Debug
    + Default
    + Deref<Target = [FieldSpan]>
    + DerefMut
    + Send
    + Sync
    + Unpin
    + 'static
    + sealed::Sealed
{
    /// The capacity, in fields.
    const CAPACITY: usize;
    /// An empty table.
    #[doc(hidden)]
    const EMPTY: Self;
    /// Appends `span`; gives it back when the table is full.
    #[doc(hidden)]
    fn push(&mut self, span: FieldSpan) -> Result<(), FieldSpan>;
    /// Empties the table.
    #[doc(hidden)]
    fn clear(&mut self);
    /// Removes and returns the field at `index`, shifting the later ones.
    #[doc(hidden)]
    fn remove(&mut self, index: usize) -> FieldSpan;
}

impl<const N: usize> FieldTable for HeaderTable<N> {
    const CAPACITY: usize = N;
    const EMPTY: Self = HeaderTable::new();

    #[inline(always)]
    fn push(&mut self, span: FieldSpan) -> Result<(), FieldSpan> {
        self.0.push(span)
    }

    #[inline(always)]
    fn clear(&mut self) {
        self.0.clear();
    }

    #[inline(always)]
    fn remove(&mut self, index: usize) -> FieldSpan {
        self.0.remove(index)
    }
}

impl<const N: usize> sealed::Sealed for HeaderTable<N> {}

/// Keeps the traits above to the types of this module.
mod sealed {
    /// Implemented by this module's types only.
    pub trait Sealed {}
}
