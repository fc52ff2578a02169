//! The queue of bytes a connection owes its peer, in order.

use crate::FileRegion;
use crate::file::Span;

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
    /// A borrowed file region, for the backend to send.
    File(Span),
    /// A kept file region, for the backend to send, then to give back to
    /// its keeper.
    KeptFile(Span),
    /// The end of a response that carried application state, with its
    /// tag and its HTTP/2 stream (0 over HTTP/1.1): reported to
    /// [`Handler::finished`](crate::Handler::finished) when the queue
    /// moves past it. No bytes.
    End {
        /// The response's tag.
        tag: u64,
        /// The HTTP/2 stream it answered; 0 over HTTP/1.1.
        stream: u32,
    },
}

/// What the queue reports as it moves past the pieces that need it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Passed {
    /// A kept file region, done with (its file goes back to its keeper).
    File(FileRegion),
    /// The end of a response with this tag, on this HTTP/2 stream (0
    /// over HTTP/1.1).
    End {
        /// The response's tag.
        tag: u64,
        /// The HTTP/2 stream it answered; 0 over HTTP/1.1.
        stream: u32,
    },
}

impl Segment {
    /// Bytes left to send.
    fn len(&self) -> u64 {
        match *self {
            Segment::Buffer { start, end } => u64::from(end - start),
            Segment::Static(bytes) => bytes.len() as u64,
            Segment::File(span) | Segment::KeptFile(span) => span.len,
            Segment::End { .. } => 0,
        }
    }

    /// What passing this segment reports, if anything.
    fn passed(&self) -> Option<Passed> {
        match *self {
            Segment::KeptFile(span) => Some(Passed::File(FileRegion::from_span(span, true))),
            Segment::End { tag, stream } => Some(Passed::End { tag, stream }),
            _ => None,
        }
    }

    /// Drops the first `n` bytes (`n` < `len()`).
    fn advance(&mut self, n: u64) {
        match self {
            Segment::Buffer { start, .. } => *start += n as u32,
            Segment::Static(bytes) => *bytes = &bytes[n as usize..],
            Segment::File(span) | Segment::KeptFile(span) => span.advance(n),
            Segment::End { .. } => {}
        }
    }
}

/// Output segments in the order they go on the wire: a ring of
/// [`SEGMENTS`] slots, `len` of them live from `head` on.
pub(crate) struct Queue {
    /// The slots; those outside the live range hold stale values.
    segments: [Segment; SEGMENTS],
    /// Slot of the first live segment (always below [`SEGMENTS`]).
    head: u32,
    /// Live segments (at most [`SEGMENTS`]).
    len: u32,
    /// Bytes left in the live segments: a write that took them all
    /// empties the queue at once.
    bytes: u64,
    /// Live segments that report when passed (kept files, response ends):
    /// while there are none, a write that took everything empties the
    /// queue without a walk.
    reporting: u32,
    /// Live file segments (regions and releases): while there are none,
    /// no write need ask whether a file follows it.
    files: u32,
}

const _: () = assert!(SEGMENTS.is_power_of_two() && SEGMENTS <= u32::MAX as usize);

/// Mask that wraps a slot number around the ring.
const WRAP: u32 = SEGMENTS as u32 - 1;

impl Default for Queue {
    fn default() -> Self {
        Queue::new()
    }
}

impl core::fmt::Debug for Queue {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let (front, back) = self.as_slices();
        f.debug_list().entries(front).entries(back).finish()
    }
}

impl Queue {
    /// An empty queue.
    pub(crate) const fn new() -> Self {
        Queue {
            segments: [Segment::Buffer { start: 0, end: 0 }; SEGMENTS],
            head: 0,
            len: 0,
            bytes: 0,
            reporting: 0,
            files: 0,
        }
    }

    /// Bytes left to send.
    #[inline]
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Whether nothing is left to send.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many more segments fit.
    #[inline]
    pub(crate) fn free(&self) -> usize {
        SEGMENTS - self.len as usize
    }

    /// Appends a segment; a buffer range that continues the previous one
    /// joins it. Empty segments are dropped. The caller keeps room
    /// ([`free`](Self::free)); a full queue is a logic error reported as
    /// `false`. File regions go through [`push_file`](Self::push_file),
    /// which counts them.
    #[must_use]
    #[inline]
    pub(crate) fn push(&mut self, segment: Segment) -> bool {
        debug_assert!(
            !matches!(segment, Segment::File(_) | Segment::KeptFile(_)),
            "files are pushed with push_file"
        );
        self.push_any(segment)
    }

    /// [`push`](Self::push), file regions too (uncounted).
    #[inline(always)]
    fn push_any(&mut self, segment: Segment) -> bool {
        let bytes = segment.len();
        if bytes == 0 {
            return true;
        }
        self.push_slot(segment, bytes)
    }

    /// Appends a file region, [`push`](Self::push)-like; a kept one is
    /// reported when passed.
    #[must_use]
    pub(crate) fn push_file(&mut self, region: FileRegion) -> bool {
        let pushed = if region.is_kept() {
            let pushed = self.push_any(Segment::KeptFile(region.span()));
            self.reporting += u32::from(pushed && region.len() > 0);
            pushed
        } else {
            self.push_any(Segment::File(region.span()))
        };
        // An empty region is dropped, not queued.
        self.files += u32::from(pushed && region.len() > 0);
        pushed
    }

    /// Appends the release of a kept file's region (no bytes: what was
    /// queued of it before goes out first), reported when passed; `false`
    /// if the queue is full.
    #[must_use]
    pub(crate) fn push_release(&mut self, region: FileRegion) -> bool {
        let span = Span {
            len: 0,
            ..region.span()
        };
        let pushed = self.push_slot(Segment::KeptFile(span), 0);
        self.reporting += u32::from(pushed);
        self.files += u32::from(pushed);
        pushed
    }

    /// Appends the end of a response with `tag` on HTTP/2 `stream` (0
    /// over HTTP/1.1), to be reported when the queue passes it; `false`
    /// if the queue is full.
    #[must_use]
    pub(crate) fn push_end(&mut self, tag: u64, stream: u32) -> bool {
        let pushed = self.push_slot(Segment::End { tag, stream }, 0);
        self.reporting += u32::from(pushed);
        pushed
    }

    /// Appends `segment`, of `bytes`, joining a buffer range to the one
    /// before it.
    #[inline(always)]
    fn push_slot(&mut self, segment: Segment, bytes: u64) -> bool {
        if self.len > 0 {
            let last = (self.head + self.len - 1) & WRAP;
            if let (
                Segment::Buffer { end, .. },
                Segment::Buffer {
                    start,
                    end: new_end,
                },
            ) = (&mut self.segments[last as usize], segment)
            {
                if *end == start {
                    *end = new_end;
                    self.bytes += bytes;
                    return true;
                }
            }
        }
        if self.len as usize == SEGMENTS {
            return false;
        }
        self.segments[((self.head + self.len) & WRAP) as usize] = segment;
        self.len += 1;
        self.bytes += bytes;
        true
    }

    /// The segments, front first, as the two halves of the ring.
    #[inline]
    pub(crate) fn as_slices(&self) -> (&[Segment], &[Segment]) {
        let head = self.head as usize;
        let len = self.len as usize;
        let (wrapped, tail) = self.segments.split_at(head);
        if head + len <= SEGMENTS {
            (&tail[..len], &[])
        } else {
            (tail, &wrapped[..head + len - SEGMENTS])
        }
    }

    /// Whether a file segment is queued.
    #[inline(always)]
    pub(crate) fn has_files(&self) -> bool {
        self.files > 0
    }

    /// The first segment.
    #[inline]
    pub(crate) fn front(&self) -> Option<&Segment> {
        if self.len == 0 {
            None
        } else {
            Some(&self.segments[self.head as usize])
        }
    }

    /// Records that `n` bytes from the front were sent if they were all
    /// of it and nothing in the queue reports when passed (the usual case:
    /// no walk over the segments); `false`, with nothing done, otherwise.
    #[inline]
    pub(crate) fn consume_all(&mut self, n: u64) -> bool {
        if n >= self.bytes && self.reporting == 0 {
            self.head = 0;
            self.len = 0;
            self.bytes = 0;
            self.files = 0;
            true
        } else {
            false
        }
    }

    /// Records that `n` bytes from the front were sent; returns how many
    /// of them the queue did not hold (0 unless the caller miscounted).
    /// Each kept file and response end passed is given to `passed`, in
    /// order: ends with no bytes before them included.
    pub(crate) fn consume(&mut self, mut n: u64, mut passed: impl FnMut(Passed)) -> u64 {
        let extra = n.saturating_sub(self.bytes);
        n -= extra;
        self.bytes -= n;
        while let Some(front) = self.front_mut() {
            let len = front.len();
            // A response end (no bytes) is passed once everything before
            // it was sent.
            if n < len {
                front.advance(n);
                return extra;
            }
            n -= len;
            if let Segment::KeptFile(span) = front {
                // Released as it stands: nothing of it left to send.
                span.advance(len);
            }
            let segment = *front;
            self.pop_front();
            if let Some(report) = segment.passed() {
                self.reporting -= 1;
                passed(report);
            }
        }
        extra
    }

    /// The segment `index` segments from the front, if there is one.
    pub(crate) fn get(&self, index: usize) -> Option<Segment> {
        (index < self.len as usize)
            .then(|| self.segments[((self.head + index as u32) & WRAP) as usize])
    }

    /// Puts `bytes` in place of the file region `index` segments from the
    /// front, a region with bytes left, for a file that ended before it:
    /// those bytes go out instead. Returns the region as it stood (what
    /// was left of it) and whether it was kept, for its file to go back;
    /// `None`, with nothing changed, if that segment is no such region.
    pub(crate) fn replace_file(
        &mut self,
        index: usize,
        bytes: &'static [u8],
    ) -> Option<FileRegion> {
        if index >= self.len as usize {
            return None;
        }
        let slot = &mut self.segments[((self.head + index as u32) & WRAP) as usize];
        let (span, kept) = match *slot {
            Segment::File(span) if span.len > 0 => (span, false),
            Segment::KeptFile(span) if span.len > 0 => (span, true),
            _ => return None,
        };
        *slot = Segment::Static(bytes);
        self.bytes = self.bytes - span.len + bytes.len() as u64;
        self.files -= 1;
        self.reporting -= u32::from(kept);
        Some(FileRegion::from_span(span, kept))
    }

    /// Takes back the end of the response on HTTP/2 `stream`, if it is
    /// queued: it is passed without being reported. Returns its tag.
    pub(crate) fn take_end(&mut self, stream: u32) -> Option<u64> {
        for i in 0..self.len {
            let slot = &mut self.segments[((self.head + i) & WRAP) as usize];
            if let Segment::End { tag, stream: ends } = *slot
                && ends == stream
            {
                *slot = Segment::Static(&[]);
                self.reporting -= 1;
                return Some(tag);
            }
        }
        None
    }

    /// The first segment, to change.
    fn front_mut(&mut self) -> Option<&mut Segment> {
        if self.len == 0 {
            None
        } else {
            Some(&mut self.segments[self.head as usize])
        }
    }

    /// Drops the first segment.
    fn pop_front(&mut self) {
        let front = self.segments[self.head as usize];
        self.files -= u32::from(matches!(front, Segment::File(_) | Segment::KeptFile(_)));
        self.len -= 1;
        // An emptied queue starts over at slot 0, so that its segments
        // stay in one piece.
        self.head = if self.len == 0 {
            0
        } else {
            (self.head + 1) & WRAP
        };
    }

    /// Empties the queue, as on a connection that ends with output
    /// unsent, giving every kept file and response end to `passed`.
    pub(crate) fn discard(&mut self, mut passed: impl FnMut(Passed)) {
        while let Some(front) = self.front_mut() {
            let segment = *front;
            self.pop_front();
            if let Some(report) = segment.passed() {
                passed(report);
            }
        }
        self.clear();
    }

    /// Forgets everything.
    pub(crate) fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
        self.bytes = 0;
        self.reporting = 0;
        self.files = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_counted_while_queued() {
        let mut queue = Queue::new();
        assert!(queue.push(Segment::Buffer { start: 0, end: 10 }));
        // SAFETY: the regions name no real file; nothing sends them.
        let (file, kept, empty) = unsafe {
            (
                FileRegion::borrowed(3, 0, 5),
                FileRegion::kept(4, 0, 5),
                FileRegion::borrowed(5, 0, 0),
            )
        };
        assert!(queue.push_file(empty));
        assert!(!queue.has_files(), "an empty region is not queued");
        assert!(queue.push_file(file));
        assert!(queue.push_file(kept));
        assert!(queue.push_release(kept));
        assert!(queue.has_files());
        // Past the buffer and the first file: two file segments left.
        assert_eq!(queue.consume(15, |_| {}), 0);
        assert!(queue.has_files());
        let mut passed = 0;
        assert_eq!(queue.consume(5, |_| passed += 1), 0);
        assert_eq!(passed, 2, "the kept region and its release");
        assert!(queue.is_empty() && !queue.has_files());
        // A write that takes everything at once forgets them too.
        assert!(queue.push_file(file));
        assert!(queue.consume_all(5));
        assert!(!queue.has_files());
        assert!(queue.push_file(file));
        queue.discard(|_| {});
        assert!(!queue.has_files());
    }

    #[test]
    fn a_file_region_replaced_and_an_end_taken_back_leave_the_counts_right() {
        let mut queue = Queue::new();
        // SAFETY: the regions name no real file; nothing sends them.
        let (file, kept) = unsafe { (FileRegion::borrowed(3, 0, 5), FileRegion::kept(4, 0, 4)) };
        assert!(queue.push(Segment::Buffer { start: 0, end: 9 }));
        assert!(queue.push_file(file));
        assert!(queue.push_file(kept));
        assert!(queue.push_end(7, 1));
        assert_eq!(queue.get(1), Some(Segment::File(file.span())));
        assert_eq!(queue.get(4), None);
        // Not a region: nothing changes.
        assert_eq!(queue.replace_file(0, b"12345"), None);
        assert_eq!(queue.replace_file(1, b"00000"), Some(file));
        assert_eq!(queue.replace_file(2, b""), Some(kept));
        assert!(!queue.has_files());
        assert_eq!(queue.bytes(), 14);
        assert_eq!(queue.take_end(2), None);
        assert_eq!(queue.take_end(1), Some(7));
        // Nothing left reports: a write of all of it empties the queue.
        assert!(queue.consume_all(14));
    }

    #[test]
    fn adjacent_buffer_ranges_join_and_consume_splits_segments() {
        let mut queue = Queue::new();
        assert!(queue.push(Segment::Buffer { start: 0, end: 10 }));
        assert!(queue.push(Segment::Buffer { start: 10, end: 20 }));
        assert!(queue.push(Segment::Static(b"static")));
        assert!(queue.push(Segment::Static(b"")));
        assert_eq!(queue.free(), SEGMENTS - 2);
        assert_eq!(queue.consume(15, |_| {}), 0);
        assert_eq!(queue.front(), Some(&Segment::Buffer { start: 15, end: 20 }));
        assert_eq!(queue.consume(7, |_| {}), 0);
        assert_eq!(queue.front(), Some(&Segment::Static(b"atic")));
        assert_eq!(queue.consume(10, |_| {}), 6);
        assert!(queue.is_empty());
    }

    #[test]
    fn the_ring_wraps_and_keeps_order() {
        let mut queue = Queue::new();
        let statics: [&'static [u8]; 4] = [b"a", b"bb", b"ccc", b"dddd"];
        // Fill, drain part, refill across the end of the ring.
        for i in 0..SEGMENTS - 1 {
            assert!(queue.push(Segment::Static(statics[i % 4])));
        }
        assert!(queue.push(Segment::Buffer { start: 0, end: 5 }));
        assert_eq!(queue.free(), 0);
        assert!(!queue.push(Segment::Static(b"over")));
        // Joins the last buffer range even when full.
        assert!(queue.push(Segment::Buffer { start: 5, end: 6 }));
        let first_ten: u64 = (0..10).map(|i| statics[i % 4].len() as u64).sum();
        assert_eq!(queue.consume(first_ten, |_| {}), 0);
        assert_eq!(queue.free(), 10);
        for i in 0..10 {
            assert!(queue.push(Segment::Static(statics[i % 4])));
        }
        let (front, back) = queue.as_slices();
        assert_eq!(front.len(), SEGMENTS - 10);
        assert_eq!(back.len(), 10);
        assert_eq!(front[0], Segment::Static(statics[10 % 4]));
        assert_eq!(front[SEGMENTS - 11], Segment::Buffer { start: 0, end: 6 });
        assert_eq!(back[9], Segment::Static(statics[9 % 4]));
        let total: u64 = front.iter().chain(back).map(Segment::len).sum();
        assert_eq!(queue.bytes, total);
        assert_eq!(queue.consume(total + 3, |_| {}), 3);
        assert!(queue.is_empty());
        assert_eq!(queue.front(), None);
        assert_eq!(queue.as_slices(), (&[][..], &[][..]));
        assert!(queue.push(Segment::Static(b"again")));
        assert_eq!(queue.as_slices().0, &[Segment::Static(b"again")]);
    }
}
