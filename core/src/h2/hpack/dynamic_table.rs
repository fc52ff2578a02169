//! The dynamic table (RFC 7541 §2.3.2, §4) in one fixed arena of
//! `CAPACITY` bytes.
//!
//! Entries' bytes (name then value) grow up from the bottom of the arena,
//! oldest first; their slots (offset, name length, value length: 12 bytes)
//! grow down from the top, newest lowest, so the slot of index `i` is found
//! by arithmetic. An entry counts 32 bytes of overhead in the table size
//! (§4.1) and takes 12 here, so whatever the peer does, the bytes and slots
//! of a table within `CAPACITY` fit `CAPACITY` bytes: no allocation and no
//! second const parameter for the entry count.
//!
//! Eviction only moves the oldest-entry marks; the bytes stay where they
//! are until the space is needed. Only when the gap between bytes and
//! slots is too small for a new entry do the live bytes move down to the
//! bottom and the slots up to the top (compaction), which the accounting
//! above guarantees leaves room. Each entry is 20 bytes smaller here than
//! in the table size, so a full table leaves a gap of 20 bytes an entry
//! for insertions between compactions; a table emptied by eviction starts
//! over at the bottom without moving anything.

use core::fmt;

use super::static_table::Match;
use super::string::Literal;
use super::{DecodeError, ENTRY_OVERHEAD};

/// Bytes of an entry's slot: offset, name length and value length, each a
/// `u32`.
const SLOT_LEN: usize = 12;

/// One entry's slot, decoded.
#[derive(Clone, Copy, Debug)]
struct Slot {
    /// Where the name starts in the arena; the value follows.
    offset: usize,
    /// Length of the name.
    name_len: usize,
    /// Length of the value.
    value_len: usize,
}

impl Slot {
    /// Bytes of name and value.
    const fn data_len(&self) -> usize {
        self.name_len + self.value_len
    }

    /// Size in the table (§4.1).
    const fn size(&self) -> usize {
        self.data_len() + ENTRY_OVERHEAD
    }

    /// The slot's bytes.
    fn encode(&self) -> [u8; SLOT_LEN] {
        // Lengths and offsets are below `CAPACITY`, which fits `u32`.
        let [o0, o1, o2, o3] = (self.offset as u32).to_ne_bytes();
        let [n0, n1, n2, n3] = (self.name_len as u32).to_ne_bytes();
        let [v0, v1, v2, v3] = (self.value_len as u32).to_ne_bytes();
        [o0, o1, o2, o3, n0, n1, n2, n3, v0, v1, v2, v3]
    }

    /// The slot in `bytes`.
    fn decode(bytes: [u8; SLOT_LEN]) -> Slot {
        let [o0, o1, o2, o3, n0, n1, n2, n3, v0, v1, v2, v3] = bytes;
        Slot {
            offset: u32::from_ne_bytes([o0, o1, o2, o3]) as usize,
            name_len: u32::from_ne_bytes([n0, n1, n2, n3]) as usize,
            value_len: u32::from_ne_bytes([v0, v1, v2, v3]) as usize,
        }
    }
}

/// Where the name of a new entry comes from.
#[derive(Clone, Copy, Debug)]
pub(crate) enum NameSource<'a> {
    /// A string literal, or a static table name as a raw one.
    Literal(Literal<'a>),
    /// The name of the entry at this index (0 is the newest) of the same
    /// table, which the insertion may evict (§4.4).
    Entry(usize),
}

/// One entry of a [`DynamicTable`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The field name.
    pub name: &'a [u8],
    /// The field value.
    pub value: &'a [u8],
}

impl Entry<'_> {
    /// Its size in the table (§4.1): name + value + 32.
    pub const fn size(&self) -> usize {
        self.name
            .len()
            .saturating_add(self.value.len())
            .saturating_add(ENTRY_OVERHEAD)
    }
}

impl fmt::Debug for Entry<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "\"{}: {}\"",
            self.name.escape_ascii(),
            self.value.escape_ascii()
        )
    }
}

/// The HPACK dynamic table (§2.3.2, §4): the fields an encoder chose to
/// index, newest first, within a maximum size, in `CAPACITY` bytes that
/// never move or grow.
///
/// `CAPACITY` is the largest maximum size the table supports (the most a
/// `SETTINGS_HEADER_TABLE_SIZE` may allow it), at most `u32::MAX`; the
/// table takes `CAPACITY` bytes and six words. Index 0 is the newest entry,
/// which HPACK numbers 62, after the 61 static entries.
///
/// ```
/// use peregrine_core::h2::hpack::DynamicTable;
///
/// let mut table = DynamicTable::<256>::new();
/// table.insert(b"cache-control", b"private");
/// table.insert(b"location", b"https://www.example.com");
/// assert_eq!(table.len(), 2);
/// assert_eq!(table.size(), 52 + 63);
/// assert_eq!(table.get(0).unwrap().name, b"location"); // newest first
///
/// // Lowering the maximum size evicts the oldest entries (§4.3).
/// table.set_max_size(100);
/// assert_eq!(table.len(), 1);
/// assert_eq!(table.get(0).unwrap().value, b"https://www.example.com");
///
/// // An entry larger than the maximum size empties the table (§4.4).
/// table.insert(b"x", &[b'y'; 100]);
/// assert!(table.is_empty());
/// ```
#[derive(Clone)]
pub struct DynamicTable<const CAPACITY: usize = 4096> {
    /// Entry bytes at `data_start..data_end`, slots at
    /// `slots_start..slots_start + len * SLOT_LEN`, free space between.
    arena: [u8; CAPACITY],
    /// Start of the oldest entry's bytes.
    data_start: usize,
    /// End of the newest entry's bytes.
    data_end: usize,
    /// Start of the newest entry's slot.
    slots_start: usize,
    /// Number of entries.
    len: usize,
    /// Table size: the sum of the entries' sizes (§4.1).
    size: usize,
    /// Maximum size (§4.2), at most `CAPACITY`.
    max_size: usize,
}

impl<const CAPACITY: usize> DynamicTable<CAPACITY> {
    /// An empty table whose maximum size is `CAPACITY`.
    pub const fn new() -> Self {
        const {
            assert!(
                CAPACITY as u64 <= u32::MAX as u64,
                "a dynamic table's capacity must fit u32"
            )
        };
        DynamicTable {
            arena: [0; CAPACITY],
            data_start: 0,
            data_end: 0,
            slots_start: CAPACITY,
            len: 0,
            size: 0,
            max_size: CAPACITY,
        }
    }

    /// An empty table whose maximum size is `max_size`, or `CAPACITY` if
    /// that is smaller.
    pub const fn with_max_size(max_size: usize) -> Self {
        let mut table = Self::new();
        if max_size < CAPACITY {
            table.max_size = max_size;
        }
        table
    }

    /// Number of entries.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether the table has no entries.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The table size (§4.1): each entry's name + value + 32.
    pub const fn size(&self) -> usize {
        self.size
    }

    /// The maximum size (§4.2), at most `CAPACITY`.
    pub const fn max_size(&self) -> usize {
        self.max_size
    }

    /// The entry at `index`, 0 being the newest (HPACK index 62).
    pub fn get(&self, index: usize) -> Option<Entry<'_>> {
        let slot = self.slot(index)?;
        let name_end = slot.offset + slot.name_len;
        Some(Entry {
            name: self.arena.get(slot.offset..name_end)?,
            value: self.arena.get(name_end..name_end + slot.value_len)?,
        })
    }

    /// The entry at `index` (0 newest) as its name and value back to back,
    /// and the name's length: one slice to copy.
    pub(crate) fn get_joined(&self, index: usize) -> Option<(&[u8], usize)> {
        let slot = self.slot(index)?;
        let field = self.arena.get(slot.offset..slot.offset + slot.data_len())?;
        Some((field, slot.name_len))
    }

    /// The entries, newest first.
    pub fn iter(&self) -> Entries<'_, CAPACITY> {
        Entries {
            table: self,
            next: 0,
        }
    }

    /// Sets the maximum size, evicting the oldest entries until the table
    /// fits (§4.3). Values above `CAPACITY` are taken as `CAPACITY`.
    pub fn set_max_size(&mut self, max_size: usize) {
        self.max_size = max_size.min(CAPACITY);
        self.evict_to(self.max_size);
    }

    /// Adds a field as the newest entry, first evicting the oldest entries
    /// until it fits; one larger than the maximum size empties the table
    /// and is not added (§4.4).
    pub fn insert(&mut self, name: &[u8], value: &[u8]) {
        let name = NameSource::Literal(Literal::Raw(name));
        // Raw bytes have no Huffman code to find invalid.
        let inserted = self.insert_from(name, Literal::Raw(value));
        debug_assert!(inserted.is_ok());
    }

    /// Removes every entry; the maximum size stays.
    pub fn clear(&mut self) {
        self.len = 0;
        self.size = 0;
        self.data_start = 0;
        self.data_end = 0;
        self.slots_start = CAPACITY;
    }

    /// Adds an entry whose name and value are decoded straight into the
    /// arena, as [`insert`](Self::insert) does; the name may be that of an
    /// entry the insertion evicts (§4.4). Fails, changing nothing, only on
    /// an invalid Huffman string or a name index out of range.
    pub(crate) fn insert_from(
        &mut self,
        name: NameSource<'_>,
        value: Literal<'_>,
    ) -> Result<(), DecodeError> {
        let name_len = match name {
            NameSource::Literal(literal) => literal.decoded_len()?,
            NameSource::Entry(index) => {
                self.slot(index)
                    .ok_or(DecodeError::IndexOutOfRange)?
                    .name_len
            }
        };
        let value_len = value.decoded_len()?;
        let data_len = name_len.saturating_add(value_len);
        let entry_size = data_len.saturating_add(ENTRY_OVERHEAD);
        if entry_size > self.max_size {
            self.clear();
            return Ok(());
        }
        // Evicting leaves the bytes of evicted entries where they are, so a
        // name about to be evicted can still be read after the eviction.
        let named_after = match name {
            NameSource::Entry(index) => self.slot(index).map(|slot| (index, slot.offset)),
            NameSource::Literal(_) => None,
        };
        self.evict_to(self.max_size - entry_size);
        // Bytes and slot: at most `entry_size` − 20, and the table holds at
        // most `max_size` − `entry_size`, so compaction makes room.
        let room_needed = data_len + SLOT_LEN;
        match named_after {
            Some((index, offset)) if index >= self.len => {
                // Evicted: its bytes lie below `data_start`.
                if self.free() < room_needed {
                    self.compact(Some((offset, name_len)));
                } else {
                    self.arena
                        .copy_within(offset..offset + name_len, self.data_end);
                }
            }
            Some((index, _)) => {
                if self.free() < room_needed {
                    self.compact(None);
                }
                if let Some(slot) = self.slot(index) {
                    let end = slot.offset + name_len;
                    self.arena.copy_within(slot.offset..end, self.data_end);
                }
            }
            None => {
                if self.free() < room_needed {
                    self.compact(None);
                }
            }
        }
        let start = self.data_end;
        let name_end = start + name_len;
        if let NameSource::Literal(literal) = name {
            literal.decode_into(&mut self.arena[start..name_end])?;
        }
        value.decode_into(&mut self.arena[name_end..name_end + value_len])?;
        self.slots_start -= SLOT_LEN;
        self.len += 1;
        self.write_slot(
            0,
            Slot {
                offset: start,
                name_len,
                value_len,
            },
        );
        self.data_end = name_end + value_len;
        self.size += entry_size;
        Ok(())
    }

    /// How many entries would remain if the maximum size became `limit`:
    /// the newest ones whose sizes add up to at most `limit`.
    pub(crate) fn entries_within(&self, limit: usize) -> usize {
        if self.size <= limit {
            return self.len;
        }
        let mut total = 0;
        let mut count = 0;
        while let Some(slot) = self.slot(count) {
            total += slot.size();
            if total > limit {
                break;
            }
            count += 1;
        }
        count
    }

    /// Looks a field up among the newest `within` entries: a whole-field
    /// match if there is one, else the first name match. Indices are 0 for
    /// the newest.
    pub(crate) fn find(&self, name: &[u8], value: &[u8], within: usize) -> Option<Match> {
        let mut name_match = None;
        for index in 0..within.min(self.len) {
            let Some(slot) = self.slot(index) else { break };
            if slot.name_len != name.len() {
                continue;
            }
            let name_end = slot.offset + slot.name_len;
            if self.arena.get(slot.offset..name_end) != Some(name) {
                continue;
            }
            if slot.value_len == value.len()
                && self.arena.get(name_end..name_end + slot.value_len) == Some(value)
            {
                return Some(Match::Field(index));
            }
            name_match = name_match.or(Some(index));
        }
        name_match.map(Match::Name)
    }

    /// Free bytes between the entries' bytes and their slots.
    const fn free(&self) -> usize {
        self.slots_start - self.data_end
    }

    /// The slot of the entry at `index` (0 newest).
    fn slot(&self, index: usize) -> Option<Slot> {
        if index >= self.len {
            return None;
        }
        let at = self.slots_start + index * SLOT_LEN;
        let bytes = self.arena.get(at..at + SLOT_LEN)?;
        Some(Slot::decode(bytes.try_into().ok()?))
    }

    /// Writes the slot of the entry at `index` (0 newest).
    fn write_slot(&mut self, index: usize, slot: Slot) {
        let at = self.slots_start + index * SLOT_LEN;
        if let Some(bytes) = self.arena.get_mut(at..at + SLOT_LEN) {
            bytes.copy_from_slice(&slot.encode());
        }
    }

    /// Evicts the oldest entries until the size is at most `limit` (§4.3,
    /// §4.4). Their bytes stay in place, unused, until overwritten.
    fn evict_to(&mut self, limit: usize) {
        while self.size > limit {
            let Some(oldest) = self.len.checked_sub(1).and_then(|last| self.slot(last)) else {
                break;
            };
            self.data_start = oldest.offset + oldest.data_len();
            self.size -= oldest.size();
            self.len -= 1;
        }
        if self.len == 0 {
            // Nothing live: the whole arena is free again. Evicted bytes
            // are still in place (`insert_from` may read an evicted name).
            self.data_start = 0;
            self.data_end = 0;
            self.slots_start = CAPACITY;
        }
    }

    /// Moves the live bytes to the bottom of the arena and the slots to the
    /// top. With `evicted_name` (offset and length of an evicted entry's
    /// name, below the live bytes), those bytes follow the live ones, at the
    /// new `data_end`, where the next entry starts.
    fn compact(&mut self, evicted_name: Option<(usize, usize)>) {
        let old_start = self.data_start;
        let live = self.data_end - self.data_start;
        match evicted_name {
            None => self.arena.copy_within(old_start..self.data_end, 0),
            Some((offset, name_len)) => {
                // Bring the name next to the live bytes, swap them, and move
                // both down: the name then follows the live bytes.
                let below = old_start - name_len;
                self.arena.copy_within(offset..offset + name_len, below);
                self.arena[below..self.data_end].rotate_left(name_len);
                self.arena.copy_within(below..self.data_end, 0);
            }
        }
        self.data_start = 0;
        self.data_end = live;
        let slots_end = self.slots_start + self.len * SLOT_LEN;
        let slots_start = CAPACITY - self.len * SLOT_LEN;
        self.arena
            .copy_within(self.slots_start..slots_end, slots_start);
        self.slots_start = slots_start;
        for index in 0..self.len {
            if let Some(mut slot) = self.slot(index) {
                slot.offset -= old_start;
                self.write_slot(index, slot);
            }
        }
    }
}

impl<const CAPACITY: usize> Default for DynamicTable<CAPACITY> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const CAPACITY: usize> fmt::Debug for DynamicTable<CAPACITY> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamicTable")
            .field("size", &self.size)
            .field("max_size", &self.max_size)
            .field("entries", &DebugEntries(self))
            .finish()
    }
}

/// The entries of a table, for [`fmt::Debug`].
struct DebugEntries<'a, const CAPACITY: usize>(&'a DynamicTable<CAPACITY>);

impl<const CAPACITY: usize> fmt::Debug for DebugEntries<'_, CAPACITY> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.iter()).finish()
    }
}

/// The entries of a [`DynamicTable`], newest first.
#[derive(Clone, Debug)]
pub struct Entries<'a, const CAPACITY: usize> {
    /// The table.
    table: &'a DynamicTable<CAPACITY>,
    /// Index of the next entry.
    next: usize,
}

impl<'a, const CAPACITY: usize> Iterator for Entries<'a, CAPACITY> {
    type Item = Entry<'a>;

    fn next(&mut self) -> Option<Entry<'a>> {
        let entry = self.table.get(self.next)?;
        self.next += 1;
        Some(entry)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.table.len().saturating_sub(self.next);
        (left, Some(left))
    }
}

impl<const CAPACITY: usize> ExactSizeIterator for Entries<'_, CAPACITY> {}

impl<'a, const CAPACITY: usize> IntoIterator for &'a DynamicTable<CAPACITY> {
    type Item = Entry<'a>;
    type IntoIter = Entries<'a, CAPACITY>;

    fn into_iter(self) -> Entries<'a, CAPACITY> {
        self.iter()
    }
}
