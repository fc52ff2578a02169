//! A worker's outbox: a fixed, lock-free queue of variable-length records
//! that any number of threads post into and the worker alone takes from.
//!
//! The storage is a ring of `capacity` bytes (a whole number of 8-byte
//! words), allocated once: when the outbox is made, or for one made
//! [`unallocated`](Outbox::unallocated), when its consumer first
//! [`allocate`](Outbox::allocate)s it (a thread that may never serve a
//! connection pays nothing for it); until then every post finds it full. A record is a header word, a target word and
//! the payload, rounded up to whole words; it may wrap around the end of
//! the ring, because the worker copies each payload out before using it.
//!
//! - A producer reserves room by advancing `head` with a compare-and-swap
//!   (never past `tail + capacity`: a full outbox refuses the record),
//!   writes the target and payload, then publishes the header word with
//!   its `COMMITTED` bit (release).
//! - The consumer reads the header at `tail` (acquire); an uncommitted
//!   header means the next record is still being written, and it stops
//!   there. Otherwise it copies the record out, zeroes its words (so a
//!   later header read there sees "not committed" until a producer
//!   publishes one) and advances `tail` (release), handing the room back.
//!
//! Every word is an atomic, so there is no `unsafe` here: relaxed loads and
//! stores of words cost what plain ones do, and the header's
//! release/acquire pair orders the rest.
//!
//! A producer wakes the worker only when the outbox's `notified` flag was
//! clear, so a burst of posts costs one wake-up; the worker clears the flag
//! before it drains.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Set in a header word once the record is complete.
const COMMITTED: u64 = 1 << 63;

/// Bytes a record takes besides its payload: the header and target words.
pub(crate) const RECORD_OVERHEAD: usize = 16;

/// A record as the consumer sees it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Record<'a> {
    /// What the record is (the producer's choice, up to 16 bits).
    pub(crate) kind: u16,
    /// Whom it is for (the producer's choice).
    pub(crate) target: u64,
    /// A second number of the producer's choice, up to 15 bits (a close
    /// code, for example).
    pub(crate) extra: u16,
    /// Its payload.
    pub(crate) payload: &'a [u8],
}

/// Why a record was not posted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PostFailed {
    /// Not enough free room now.
    Full,
    /// Larger than the whole outbox.
    TooLarge,
}

/// A multi-producer, single-consumer ring of records.
#[derive(Debug)]
pub(crate) struct Outbox {
    /// The ring, in words, once allocated.
    words: OnceLock<Box<[AtomicU64]>>,
    /// Its length in words.
    len: usize,
    /// Bytes reserved by producers since the start (monotonic).
    head: AtomicU64,
    /// Bytes handed back by the consumer since the start (monotonic).
    tail: AtomicU64,
    /// Set by a producer that wakes the consumer; cleared by the consumer
    /// before it drains.
    notified: AtomicBool,
}

impl Outbox {
    /// An outbox of `capacity` bytes (rounded up to a whole number of
    /// words, at least one record's overhead plus a word).
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        let outbox = Outbox::unallocated(capacity);
        outbox.allocate();
        outbox
    }

    /// An outbox of `capacity` bytes whose ring is allocated only by
    /// [`allocate`](Self::allocate): until then it holds nothing and
    /// refuses every post as full.
    pub(crate) fn unallocated(capacity: usize) -> Self {
        Outbox {
            words: OnceLock::new(),
            len: capacity.div_ceil(8).max(RECORD_OVERHEAD / 8 + 1),
            head: AtomicU64::new(0),
            tail: AtomicU64::new(0),
            notified: AtomicBool::new(false),
        }
    }

    /// Allocates the ring, if it is not yet.
    pub(crate) fn allocate(&self) {
        self.words
            .get_or_init(|| (0..self.len).map(|_| AtomicU64::new(0)).collect());
    }

    /// The ring (empty until allocated).
    fn ring(&self) -> &[AtomicU64] {
        self.words.get().map_or(&[], |words| words)
    }

    /// The capacity in bytes.
    pub(crate) fn capacity(&self) -> usize {
        self.len * 8
    }

    /// The largest payload a record can carry.
    pub(crate) fn max_payload(&self) -> usize {
        self.capacity() - RECORD_OVERHEAD
    }

    /// Posts a record. Returns whether the consumer should be woken (the
    /// first post since it last began draining).
    pub(crate) fn post(
        &self,
        kind: u16,
        target: u64,
        extra: u16,
        payload: &[u8],
    ) -> Result<bool, PostFailed> {
        self.post_pieces(kind, target, extra, payload.len(), |piece| piece(payload))
    }

    /// Posts a record whose payload of `len` bytes is the pieces `pieces`
    /// hands to the function it is given, in order (they must add up to
    /// `len`): a payload gathered from several places, copied once, into
    /// the ring. Returns as [`post`](Self::post) does.
    pub(crate) fn post_pieces(
        &self,
        kind: u16,
        target: u64,
        extra: u16,
        len: usize,
        pieces: impl FnOnce(&mut dyn FnMut(&[u8])),
    ) -> Result<bool, PostFailed> {
        if len > self.max_payload() {
            return Err(PostFailed::TooLarge);
        }
        let ring = self.ring();
        if ring.is_empty() {
            return Err(PostFailed::Full);
        }
        let size = (RECORD_OVERHEAD + len.next_multiple_of(8)) as u64;
        let capacity = self.capacity() as u64;
        let head = loop {
            // Acquire: the consumer's zeroing of the room it handed back
            // happens before this producer writes there. `tail` is read
            // before `head`, so `head >= tail`: the consumer hands back only
            // records whose reservation (an earlier `head`) it has seen.
            let tail = self.tail.load(Ordering::Acquire);
            let head = self.head.load(Ordering::Relaxed);
            if head - tail + size > capacity {
                return Err(PostFailed::Full);
            }
            if self
                .head
                .compare_exchange_weak(head, head + size, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            {
                break head;
            }
        };
        at(ring, head + 8).store(target, Ordering::Relaxed);
        // The payload, word by word, whatever the pieces' boundaries; no
        // more than `len` bytes are written, whatever the pieces say.
        let start = head + RECORD_OVERHEAD as u64;
        let end = start + len as u64;
        let mut position = start;
        let mut word = [0u8; 8];
        let mut filled = 0;
        pieces(&mut |mut piece: &[u8]| {
            while !piece.is_empty() && position < end {
                let take = piece.len().min(8 - filled);
                word[filled..filled + take].copy_from_slice(&piece[..take]);
                filled += take;
                piece = &piece[take..];
                if filled == 8 {
                    at(ring, position).store(u64::from_le_bytes(word), Ordering::Relaxed);
                    position += 8;
                    word = [0; 8];
                    filled = 0;
                }
            }
        });
        if filled > 0 && position < end {
            at(ring, position).store(u64::from_le_bytes(word), Ordering::Relaxed);
        }
        let header =
            COMMITTED | u64::from(extra & 0x7fff) << 48 | u64::from(kind) << 32 | len as u64;
        // SeqCst (a release, and ordered before the flag below): the
        // consumer that sees the header sees the record, and a consumer
        // that cleared the flag before this store will see it.
        at(ring, head).store(header, Ordering::SeqCst);
        Ok(!self.notified.swap(true, Ordering::SeqCst))
    }

    /// Takes every complete record in order, copying each payload into
    /// `scratch` (at least [`max_payload`](Self::max_payload) bytes) and
    /// handing it to `take`; stops at the first record still being
    /// written, or after the records that were reserved when it began
    /// (so producers that keep posting cannot keep it here forever).
    /// Returns how many records it took.
    ///
    /// Only one thread — the outbox's worker — may call this.
    pub(crate) fn drain(&self, scratch: &mut [u8], mut take: impl FnMut(Record<'_>)) -> usize {
        self.notified.store(false, Ordering::SeqCst);
        let ring = self.ring();
        if ring.is_empty() {
            return 0;
        }
        let end = self.head.load(Ordering::SeqCst);
        let mut tail = self.tail.load(Ordering::Relaxed);
        let mut taken = 0;
        while tail < end {
            let header = at(ring, tail).load(Ordering::SeqCst);
            if header & COMMITTED == 0 {
                // Being written; its producer wakes the worker when done.
                break;
            }
            let len = (header & 0xffff_ffff) as usize;
            let kind = (header >> 32) as u16;
            let extra = (header >> 48) as u16 & 0x7fff;
            let target = at(ring, tail + 8).load(Ordering::Relaxed);
            let size = (RECORD_OVERHEAD + len.next_multiple_of(8)) as u64;
            let mut position = tail + RECORD_OVERHEAD as u64;
            for chunk in scratch[..len].chunks_mut(8) {
                let bytes = at(ring, position).load(Ordering::Relaxed).to_le_bytes();
                chunk.copy_from_slice(&bytes[..chunk.len()]);
                position += 8;
            }
            let mut position = tail;
            while position < tail + size {
                at(ring, position).store(0, Ordering::Relaxed);
                position += 8;
            }
            tail += size;
            // Release: the zeroed room goes back to producers.
            self.tail.store(tail, Ordering::Release);
            take(Record {
                kind,
                target,
                extra,
                payload: &scratch[..len],
            });
            taken += 1;
        }
        taken
    }
}

/// The word at byte position `position` of `ring` (any multiple of 8,
/// wrapping).
fn at(ring: &[AtomicU64], position: u64) -> &AtomicU64 {
    &ring[(position / 8) as usize % ring.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// Drains everything into owned records.
    fn drain_all(outbox: &Outbox) -> Vec<(u16, u64, u16, Vec<u8>)> {
        let mut scratch = vec![0; outbox.max_payload()];
        let mut out = Vec::new();
        outbox.drain(&mut scratch, |r| {
            out.push((r.kind, r.target, r.extra, r.payload.to_vec()))
        });
        out
    }

    #[test]
    fn an_unallocated_outbox_is_full_until_allocated() {
        let outbox = Outbox::unallocated(256);
        assert_eq!(outbox.max_payload(), 240);
        assert_eq!(outbox.post(1, 7, 0, b"early"), Err(PostFailed::Full));
        assert!(drain_all(&outbox).is_empty());
        outbox.allocate();
        assert_eq!(outbox.post(1, 7, 0, b"now"), Ok(true));
        assert_eq!(drain_all(&outbox), [(1, 7, 0, b"now".to_vec())]);
    }

    #[test]
    fn records_come_out_in_order_with_their_fields() {
        let outbox = Outbox::with_capacity(256);
        assert_eq!(outbox.post(1, 7, 1000, b"hello"), Ok(true));
        assert_eq!(
            outbox.post(2, u64::MAX, 0x7fff, b""),
            Ok(false),
            "one wake-up per burst"
        );
        assert_eq!(
            drain_all(&outbox),
            vec![
                (1, 7, 1000, b"hello".to_vec()),
                (2, u64::MAX, 0x7fff, Vec::new())
            ]
        );
        assert_eq!(
            outbox.post(3, 0, 0, b"again"),
            Ok(true),
            "drained: wake again"
        );
        assert!(drain_all(&outbox).len() == 1);
    }

    #[test]
    fn a_payload_gathered_from_pieces_arrives_whole_across_the_ring_end() {
        let outbox = Outbox::with_capacity(128);
        // Move the ring's start so that the record wraps around its end.
        outbox.post(1, 0, 0, &[0; 40]).unwrap();
        drain_all(&outbox);
        let whole: Vec<u8> = (0..61).collect();
        let (a, rest) = whole.split_at(3);
        let (b, c) = rest.split_at(9);
        let posted = outbox.post_pieces(5, 9, 17, whole.len(), |piece| {
            piece(a);
            piece(&[]);
            piece(b);
            piece(c);
        });
        assert!(posted.is_ok());
        assert_eq!(drain_all(&outbox), vec![(5, 9, 17, whole.clone())]);
        // Pieces beyond the announced length are cut off.
        outbox
            .post_pieces(6, 0, 0, 5, |piece| piece(&whole))
            .unwrap();
        assert_eq!(drain_all(&outbox)[0].3, whole[..5]);
    }

    #[test]
    fn a_full_outbox_refuses_until_drained_and_exact_fit_is_accepted() {
        let outbox = Outbox::with_capacity(128);
        // 128 bytes: 16 overhead + 48 payload = 64 per record: exactly two.
        let payload = [0xab; 48];
        assert!(outbox.post(1, 1, 0, &payload).is_ok());
        assert!(outbox.post(1, 2, 0, &payload).is_ok());
        assert_eq!(outbox.post(1, 3, 0, b""), Err(PostFailed::Full));
        assert_eq!(drain_all(&outbox).len(), 2);
        assert!(outbox.post(1, 3, 0, &payload).is_ok());
    }

    #[test]
    fn payload_limit_is_capacity_less_overhead() {
        let outbox = Outbox::with_capacity(128);
        assert_eq!(outbox.max_payload(), 112);
        assert_eq!(
            outbox.post(1, 0, 0, &[0; 113]),
            Err(PostFailed::TooLarge),
            "limit + 1"
        );
        let payload: Vec<u8> = (0..112).collect();
        assert!(outbox.post(1, 0, 0, &payload).is_ok(), "limit");
        assert_eq!(drain_all(&outbox)[0].3, payload);
    }

    #[test]
    fn records_wrapping_around_the_end_come_out_intact() {
        let outbox = Outbox::with_capacity(96);
        for round in 0..50u8 {
            // Odd sizes walk the record boundaries around the ring.
            let payload: Vec<u8> = (0..(round % 37)).map(|i| i ^ round).collect();
            outbox
                .post(u16::from(round), u64::from(round), 0, &payload)
                .unwrap();
            let records = drain_all(&outbox);
            assert_eq!(
                records,
                vec![(u16::from(round), u64::from(round), 0, payload)]
            );
        }
    }

    #[test]
    fn many_producers_one_consumer_lose_nothing_and_keep_each_order() {
        const PRODUCERS: u64 = 4;
        const EACH: u64 = 20_000;
        let outbox = Arc::new(Outbox::with_capacity(4096));
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let outbox = Arc::clone(&outbox);
                std::thread::spawn(move || {
                    for seq in 0..EACH {
                        let len = (seq % 29) as usize;
                        let payload = vec![(seq as u8) ^ (p as u8); len];
                        while outbox.post(p as u16, seq, 0, &payload).is_err() {
                            std::thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        let mut next = [0u64; PRODUCERS as usize];
        let mut scratch = vec![0; outbox.max_payload()];
        let mut received = 0;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while received < PRODUCERS * EACH {
            assert!(std::time::Instant::now() < deadline, "records went missing");
            outbox.drain(&mut scratch, |r| {
                let p = r.kind as usize;
                assert_eq!(r.target, next[p], "producer {p} out of order");
                let len = (r.target % 29) as usize;
                assert_eq!(r.payload, &vec![(r.target as u8) ^ (p as u8); len][..]);
                next[p] += 1;
                received += 1;
            });
            std::thread::yield_now();
        }
        for producer in producers {
            producer.join().unwrap();
        }
        assert_eq!(drain_all(&outbox).len(), 0);
    }
}
