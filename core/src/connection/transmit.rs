//! What a connection asks the caller to write.

use super::queue::Segment;
use crate::FileRegion;

/// What the caller should do with the socket next; see
/// [`Connection::poll_transmit`](crate::Connection::poll_transmit).
#[derive(Clone, Debug)]
pub enum Transmit<'b> {
    /// Nothing to write.
    Idle,
    /// Write these slices, in order (one `writev`), then report how many
    /// bytes went out with [`Connection::handle_written`](crate::Connection::handle_written).
    Write(Slices<'b>),
    /// Send this file region (`sendfile`), then report the bytes sent with
    /// [`Connection::handle_written`](crate::Connection::handle_written).
    SendFile(FileRegion),
    /// Shut down the write side of the socket (the response is complete,
    /// the connection is closing), then call
    /// [`Connection::handle_write_closed`](crate::Connection::handle_write_closed); keep reading until the peer closes
    /// or the linger deadline passes.
    CloseWrite,
}

/// The slices of a [`Transmit::Write`], in order: an iterator, so the
/// caller builds its `iovec` array (or whatever its API takes) in one
/// pass, with nothing to initialise first.
#[derive(Clone, Debug)]
pub struct Slices<'b> {
    /// Segments not yet returned, front half of the ring.
    front: &'b [Segment],
    /// Then the back half.
    back: &'b [Segment],
    /// The write buffer that buffer segments point into.
    write: &'b [u8],
}

impl<'b> Slices<'b> {
    /// The slices of `front` then `back`, ranges of `write`.
    pub(crate) fn new(front: &'b [Segment], back: &'b [Segment], write: &'b [u8]) -> Self {
        Slices { front, back, write }
    }

    /// The whole output when it is one slice (the usual response: its head
    /// and a small body in the write buffer), so the caller can make a plain
    /// `send` of it; `None` when there are more.
    #[inline]
    pub fn single(&self) -> Option<&'b [u8]> {
        match (self.front, self.back) {
            ([segment], []) | ([], [segment]) => match *segment {
                Segment::Buffer { start, end } => self.write.get(start as usize..end as usize),
                Segment::Static(bytes) => Some(bytes),
                _ => None,
            },
            _ => None,
        }
    }
}

impl<'b> Iterator for Slices<'b> {
    type Item = &'b [u8];

    #[inline]
    fn next(&mut self) -> Option<&'b [u8]> {
        if self.front.is_empty() {
            self.front = core::mem::take(&mut self.back);
        }
        let (segment, rest) = self.front.split_first()?;
        self.front = rest;
        match *segment {
            Segment::Buffer { start, end } => Some(&self.write[start as usize..end as usize]),
            Segment::Static(bytes) => Some(bytes),
            _ => self.past_other(segment),
        }
    }
}

impl<'b> Slices<'b> {
    /// [`next`](Iterator::next) after a segment that is not bytes: a file
    /// region goes out on its own, after the slices before it; the end of
    /// a response has no bytes, and the slices go on after it.
    #[cold]
    fn past_other(&mut self, segment: &Segment) -> Option<&'b [u8]> {
        if let Segment::End(_) = segment {
            return self.next();
        }
        self.front = &[];
        self.back = &[];
        None
    }
}
