//! The dynamic table against a plain model of §4 (a deque of owned
//! entries), over long random runs, and at its boundaries.

use std::collections::VecDeque;
use std::vec;
use std::vec::Vec;

use crate::h2::hpack::dynamic_table::{DynamicTable, NameSource};
use crate::h2::hpack::static_table::Match;
use crate::h2::hpack::string::Literal;
use crate::h2::hpack::{DecodeError, huffman};

/// A small deterministic generator (xorshift64*).
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub(super) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `bound` (at least 1).
    pub(super) fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }

    /// `len` bytes from a small alphabet, so names and values repeat.
    pub(super) fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| b"abc-xyz:0"[self.below(9)]).collect()
    }

    /// Bytes as [`bytes`](Self::bytes), fewer than `bound` of them.
    pub(super) fn string(&mut self, bound: usize) -> Vec<u8> {
        let len = self.below(bound);
        self.bytes(len)
    }
}

/// The table as §4 describes it, with owned entries, newest first.
struct Model {
    entries: VecDeque<(Vec<u8>, Vec<u8>)>,
    size: usize,
    max_size: usize,
}

impl Model {
    fn insert(&mut self, name: Vec<u8>, value: Vec<u8>) {
        let entry_size = name.len() + value.len() + 32;
        if entry_size > self.max_size {
            self.entries.clear();
            self.size = 0;
            return;
        }
        self.evict_to(self.max_size - entry_size);
        self.size += entry_size;
        self.entries.push_front((name, value));
    }

    fn evict_to(&mut self, limit: usize) {
        while self.size > limit {
            let (name, value) = self.entries.pop_back().unwrap();
            self.size -= name.len() + value.len() + 32;
        }
    }

    fn check<const CAPACITY: usize>(&self, table: &DynamicTable<CAPACITY>) {
        assert_eq!(table.size(), self.size);
        assert_eq!(table.max_size(), self.max_size);
        assert_eq!(table.len(), self.entries.len());
        assert!(
            table.iter().eq(self
                .entries
                .iter()
                .map(|(name, value)| { crate::h2::hpack::Entry { name, value } }))
        );
        assert!(table.get(table.len()).is_none());
    }
}

/// Random insertions (raw, Huffman-coded, named after a live entry that
/// may be evicted) and size changes, checked against the model after each.
fn run_against_model<const CAPACITY: usize>(seed: u64, steps: usize) {
    let mut rng = Rng::new(seed);
    let mut table = DynamicTable::<CAPACITY>::new();
    let mut model = Model {
        entries: VecDeque::new(),
        size: 0,
        max_size: CAPACITY,
    };
    for _ in 0..steps {
        let longest = (CAPACITY / 3).max(4);
        match rng.below(10) {
            0 => {
                let max_size = rng.below(CAPACITY + 2);
                table.set_max_size(max_size);
                model.max_size = max_size.min(CAPACITY);
                model.evict_to(model.max_size);
            }
            1 | 2 if !model.entries.is_empty() => {
                let index = rng.below(model.entries.len());
                let value = rng.string(longest);
                let name = model.entries[index].0.clone();
                let inserted = table.insert_from(NameSource::Entry(index), Literal::Raw(&value));
                assert_eq!(inserted, Ok(()));
                model.insert(name, value);
            }
            3 => {
                let name = rng.string(longest);
                let value = rng.string(longest);
                let mut coded = vec![0u8; huffman::encoded_len(&value)];
                huffman::encode(&value, &mut coded).unwrap();
                let source = NameSource::Literal(Literal::Raw(&name));
                assert_eq!(table.insert_from(source, Literal::Huffman(&coded)), Ok(()));
                model.insert(name, value);
            }
            4 if rng.below(8) == 0 => {
                // Sometimes an entry larger than the table.
                let name = rng.bytes(CAPACITY.saturating_sub(31));
                table.insert(&name, b"");
                model.insert(name, vec![]);
            }
            _ => {
                let name = rng.string(12);
                let value = rng.string(longest);
                table.insert(&name, &value);
                model.insert(name, value);
            }
        }
        model.check(&table);
        // What an encoder asks of it.
        let limit = rng.below(CAPACITY + 1);
        let mut kept = 0;
        let mut total = 0;
        for (name, value) in &model.entries {
            total += name.len() + value.len() + 32;
            if total > limit {
                break;
            }
            kept += 1;
        }
        assert_eq!(table.entries_within(limit), kept);
    }
}

#[test]
fn matches_the_model() {
    for seed in 0..20 {
        run_against_model::<64>(seed, 2_000);
        run_against_model::<100>(seed, 2_000);
        run_against_model::<256>(seed, 2_000);
        run_against_model::<4096>(seed, 2_000);
    }
}

#[test]
fn an_entry_of_exactly_the_maximum_size_fits() {
    let mut table = DynamicTable::<256>::new();
    table.insert(b"a", b"b");
    // 224 + 32 = 256: the only entry.
    let value = [b'v'; 223];
    table.insert(b"n", &value);
    assert_eq!(table.len(), 1);
    assert_eq!(table.size(), 256);
    assert_eq!(table.get(0).unwrap().value, value);
    // One byte more: larger than the table, which empties.
    table.insert(b"n", &[b'v'; 224]);
    assert!(table.is_empty());
    assert_eq!(table.size(), 0);
    // And it is usable again.
    table.insert(b"a", b"b");
    assert_eq!(table.size(), 34);
}

#[test]
fn the_maximum_size_is_at_most_the_capacity() {
    let mut table = DynamicTable::<256>::new();
    table.set_max_size(257);
    assert_eq!(table.max_size(), 256);
    table.set_max_size(0);
    table.insert(b"a", b"b");
    assert!(table.is_empty());
    assert_eq!(DynamicTable::<256>::with_max_size(4096).max_size(), 256);
    assert_eq!(DynamicTable::<256>::with_max_size(100).max_size(), 100);
}

#[test]
fn the_smallest_entries_fill_the_capacity() {
    // Empty name and value: 32 bytes each, 12 of them in the arena.
    let mut table = DynamicTable::<4096>::new();
    for _ in 0..128 {
        table.insert(b"", b"");
    }
    assert_eq!(table.len(), 128);
    assert_eq!(table.size(), 4096);
    table.insert(b"", b"x");
    assert_eq!(table.len(), 127);
    assert_eq!(table.get(0).unwrap().value, b"x");
    // Each with one byte of data: still within the arena.
    for i in 0..200u8 {
        table.insert(&[i], b"");
    }
    assert_eq!(table.len(), 124);
    assert_eq!(table.get(0).unwrap().name, [199]);
}

#[test]
fn a_name_evicted_by_its_own_insertion_is_kept() {
    // §4.4: the new entry names an entry the insertion evicts.
    let mut table = DynamicTable::<128>::new();
    table.insert(b"old-name", &[b'1'; 80]); // 120 bytes
    let inserted = table.insert_from(NameSource::Entry(0), Literal::Raw(b"new value"));
    assert_eq!(inserted, Ok(()));
    assert_eq!(table.len(), 1);
    assert_eq!(table.get(0).unwrap().name, b"old-name");
    assert_eq!(table.get(0).unwrap().value, b"new value");

    // The same where the arena must be compacted around a live entry: the
    // old entry's bytes at the bottom, a live one's above them, and too
    // little room above that for the new entry (71 bytes free, 74 needed).
    let mut table = DynamicTable::<200>::new();
    table.insert(&[b'n'; 60], b"v"); // size 93, bytes 0..61
    table.insert(b"live", &[b'2'; 40]); // size 76, bytes 61..105
    // 169 + 93 > 200: the first entry is evicted for the new one.
    let inserted = table.insert_from(NameSource::Entry(1), Literal::Raw(b"w"));
    assert_eq!(inserted, Ok(()));
    assert_eq!(table.len(), 2);
    assert_eq!(table.get(0).unwrap().name, [b'n'; 60]);
    assert_eq!(table.get(0).unwrap().value, b"w");
    assert_eq!(table.get(1).unwrap().name, b"live");
    assert_eq!(table.size(), 169);
}

#[test]
fn invalid_sources_change_nothing() {
    let mut table = DynamicTable::<256>::new();
    table.insert(b"a", b"b");
    let before = table.clone();
    let source = NameSource::Entry(1);
    assert_eq!(
        table.insert_from(source, Literal::Raw(b"v")),
        Err(DecodeError::IndexOutOfRange)
    );
    let source = NameSource::Literal(Literal::Raw(b"n"));
    assert_eq!(
        table.insert_from(source, Literal::Huffman(&[0xff])),
        Err(DecodeError::HuffmanPaddingTooLong)
    );
    assert!(table.iter().eq(before.iter()));
    assert_eq!(table.size(), before.size());
}

#[test]
fn find_prefers_a_whole_field() {
    let mut table = DynamicTable::<256>::new();
    table.insert(b"vary", b"accept-encoding");
    table.insert(b"vary", b"origin");
    table.insert(b"server", b"peregrine");
    assert_eq!(
        table.find(b"vary", b"accept-encoding", 3),
        Some(Match::Field(2))
    );
    assert_eq!(table.find(b"vary", b"cookie", 3), Some(Match::Name(1)));
    // Only among the newest `within`.
    assert_eq!(
        table.find(b"vary", b"accept-encoding", 2),
        Some(Match::Name(1))
    );
    assert_eq!(table.find(b"vary", b"origin", 1), None);
    assert_eq!(table.find(b"other", b"", 3), None);
}

#[test]
fn debug_shows_the_entries() {
    let mut table = DynamicTable::<256>::new();
    table.insert(b"a", b"\x01");
    let text = std::format!("{table:?}");
    assert_eq!(
        text,
        "DynamicTable { size: 34, max_size: 256, entries: [\"a: \\x01\"] }"
    );
}
