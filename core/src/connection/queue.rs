//! The queue of bytes a connection owes its peer, in order.

use heapless::Deque;

use crate::FileRegion;

/// How many segments the queue holds. A response takes at most three
/// (interim `100 Continue`, head, body), so this is enough for a deep
/// pipeline; the connection stops taking requests when it runs low.
pub(crate) const SEGMENTS: usize = 64;

/// One piece of output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Segment {
    /// A range of the write buffer.
    Buffer {
        /// Start of the range.
        start: u32,
        /// End (exclusive) of the range.
        end: u32,
    },
    /// A static slice, sent without copying.
    Static(&'static [u8]),
    /// A file region, for the backend to send.
    File(FileRegion),
}

impl Segment {
    /// Bytes left to send.
    fn len(&self) -> u64 {
        match *self {
            Segment::Buffer { start, end } => u64::from(end - start),
            Segment::Static(bytes) => bytes.len() as u64,
            Segment::File(region) => region.len,
        }
    }

    /// Drops the first `n` bytes (`n` < `len()`).
    fn advance(&mut self, n: u64) {
        match self {
            Segment::Buffer { start, .. } => *start += n as u32,
            Segment::Static(bytes) => *bytes = &bytes[n as usize..],
            Segment::File(region) => {
                region.offset += n;
                region.len -= n;
            }
        }
    }
}

/// Output segments in the order they go on the wire.
#[derive(Debug, Default)]
pub(crate) struct Queue {
    /// The segments.
    segments: Deque<Segment, SEGMENTS>,
}

impl Queue {
    /// An empty queue.
    pub(crate) const fn new() -> Self {
        Queue {
            segments: Deque::new(),
        }
    }

    /// Whether nothing is left to send.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// How many more segments fit.
    #[inline]
    pub(crate) fn free(&self) -> usize {
        SEGMENTS - self.segments.len()
    }

    /// Appends a segment; a buffer range that continues the previous one
    /// joins it. Empty segments are dropped. The caller keeps room
    /// ([`free`](Self::free)); a full queue is a logic error reported as
    /// `false`.
    #[must_use]
    pub(crate) fn push(&mut self, segment: Segment) -> bool {
        if segment.len() == 0 {
            return true;
        }
        if let (
            Some(Segment::Buffer { end, .. }),
            Segment::Buffer {
                start,
                end: new_end,
            },
        ) = (self.segments.back_mut(), segment)
        {
            if *end == start {
                *end = new_end;
                return true;
            }
        }
        self.segments.push_back(segment).is_ok()
    }

    /// The segments, front first, as the two halves of the ring.
    pub(crate) fn as_slices(&self) -> (&[Segment], &[Segment]) {
        self.segments.as_slices()
    }

    /// The first segment.
    pub(crate) fn front(&self) -> Option<&Segment> {
        self.segments.front()
    }

    /// Records that `n` bytes from the front were sent; returns how many
    /// of them the queue did not hold (0 unless the caller miscounted).
    pub(crate) fn consume(&mut self, mut n: u64) -> u64 {
        while n > 0 {
            let Some(front) = self.segments.front_mut() else {
                return n;
            };
            let len = front.len();
            if n < len {
                front.advance(n);
                return 0;
            }
            n -= len;
            self.segments.pop_front();
        }
        0
    }

    /// Forgets everything.
    pub(crate) fn clear(&mut self) {
        self.segments.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adjacent_buffer_ranges_join_and_consume_splits_segments() {
        let mut queue = Queue::new();
        assert!(queue.push(Segment::Buffer { start: 0, end: 10 }));
        assert!(queue.push(Segment::Buffer { start: 10, end: 20 }));
        assert!(queue.push(Segment::Static(b"static")));
        assert!(queue.push(Segment::Static(b"")));
        assert_eq!(queue.free(), SEGMENTS - 2);
        assert_eq!(queue.consume(15), 0);
        assert_eq!(queue.front(), Some(&Segment::Buffer { start: 15, end: 20 }));
        assert_eq!(queue.consume(7), 0);
        assert_eq!(queue.front(), Some(&Segment::Static(b"atic")));
        assert_eq!(queue.consume(10), 6);
        assert!(queue.is_empty());
    }
}
