//! The encoder: fields in, a header block out, with an indexing policy
//! suited to a server's responses.
//!
//! # Policy
//!
//! - A field found whole in the static or dynamic table is sent as its
//!   index (§6.1), unless it is sensitive.
//! - Otherwise the name is sent as an index when a table has it (the
//!   static table first: its indices are small and never move), else as
//!   a literal.
//! - Sensitive fields are never-indexed literals (§6.2.3): those the
//!   caller marks [`NeverIndexed`](Sensitivity::NeverIndexed), and every
//!   `authorization`, `proxy-authorization`, `cookie` and `set-cookie`
//!   (§7.1.3: secrets an attacker could probe for by their compression).
//! - Fields whose values rarely repeat are literals without indexing
//!   (§6.2.2), so they do not push out entries that do repeat:
//!   `content-length`, `content-range`, `age`, `etag`, `last-modified`,
//!   `location`, `if-modified-since`, `if-none-match`, `:path`.
//! - Every other field is indexed (§6.2.1), if its entry takes at most
//!   three quarters of the table: `content-type`, `server`,
//!   `cache-control`, `vary`, `date` (the same all second long), statuses
//!   other than the static ones, and custom fields.
//! - Strings are Huffman-coded when that makes them shorter.
//!
//! # Table size
//!
//! The table's maximum size is the peer's `SETTINGS_HEADER_TABLE_SIZE`, at
//! most `CAPACITY`. A change is announced by size updates at the start of
//! the next block (§4.2): the lowest size reached since the previous block,
//! if lower than the last, then the last.

use super::dynamic_table::DynamicTable;
use super::static_table::{self, Match};
use super::string::Planned;
use super::{DEFAULT_TABLE_SIZE, ENTRY_OVERHEAD, EncodeError, HeaderField, Sensitivity, integer};

/// Names whose values are secrets: always never-indexed literals.
const SENSITIVE_NAMES: [&[u8]; 4] = [
    b"authorization",
    b"cookie",
    b"proxy-authorization",
    b"set-cookie",
];

/// Names whose values rarely repeat: literals without indexing.
const UNINDEXED_NAMES: [&[u8]; 9] = [
    b":path",
    b"age",
    b"content-length",
    b"content-range",
    b"etag",
    b"if-modified-since",
    b"if-none-match",
    b"last-modified",
    b"location",
];

/// Size updates to send at the start of the next block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SizeUpdate {
    /// The table's maximum size is what the peer last heard.
    None,
    /// The peer's setting changed since the last block.
    Pending {
        /// The lowest size reached since the last block.
        minimum: usize,
        /// The size to end on.
        last: usize,
    },
}

/// How fields are chosen for indexing and strings for Huffman coding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Policy {
    /// The policy of the module documentation.
    Standard,
    /// For the RFC's examples, which index and Huffman-code regardless of
    /// what it costs.
    #[cfg(test)]
    Test {
        /// Index every field the caller did not mark never-indexed.
        index_all: bool,
        /// Huffman-code every string (or none).
        huffman: bool,
    },
}

/// The three literal representations (§6.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LiteralForm {
    /// With incremental indexing: `01`, 6-bit index.
    Incremental,
    /// Without indexing: `0000`, 4-bit index.
    Without,
    /// Never indexed: `0001`, 4-bit index.
    Never,
}

impl LiteralForm {
    /// The prefix bits of the name index and the bits above them.
    const fn prefix(self) -> (u8, u8) {
        match self {
            LiteralForm::Incremental => (6, 0x40),
            LiteralForm::Without => (4, 0x00),
            LiteralForm::Never => (4, 0x10),
        }
    }
}

/// A literal representation's name.
#[derive(Clone, Copy, Debug)]
enum PlannedName<'a> {
    /// A table index.
    Indexed(usize),
    /// A string literal.
    Literal(Planned<'a>),
}

/// The representation chosen for a field.
#[derive(Clone, Copy, Debug)]
enum Plan<'a> {
    /// A whole table entry (§6.1).
    Indexed(usize),
    /// A literal value (§6.2).
    Literal {
        /// How the field is treated by tables.
        form: LiteralForm,
        /// The name.
        name: PlannedName<'a>,
        /// The value.
        value: Planned<'a>,
    },
}

impl Plan<'_> {
    /// Bytes it takes.
    fn encoded_len(&self) -> usize {
        match *self {
            Plan::Indexed(index) => integer::encoded_len(index, 7),
            Plan::Literal { form, name, value } => {
                let (prefix_bits, _) = form.prefix();
                let name_len = match name {
                    PlannedName::Indexed(index) => integer::encoded_len(index, prefix_bits),
                    PlannedName::Literal(literal) => 1usize.saturating_add(literal.encoded_len()),
                };
                name_len.saturating_add(value.encoded_len())
            }
        }
    }

    /// Writes it at the start of `out`; `None` if `out` is too short.
    fn write(&self, out: &mut [u8]) -> Option<usize> {
        match *self {
            Plan::Indexed(index) => integer::encode(index, 7, 0x80, out),
            Plan::Literal { form, name, value } => {
                let (prefix_bits, flags) = form.prefix();
                let mut len = match name {
                    PlannedName::Indexed(index) => integer::encode(index, prefix_bits, flags, out)?,
                    PlannedName::Literal(literal) => {
                        let first = integer::encode(0, prefix_bits, flags, out)?;
                        first + literal.write(out.get_mut(first..)?)?
                    }
                };
                len += value.write(out.get_mut(len..)?)?;
                Some(len)
            }
        }
    }
}

/// The HPACK encoder of one connection: every header block it sends goes
/// through it, in order.
///
/// `CAPACITY` bounds the dynamic table it keeps, whatever the peer allows;
/// the encoder takes about `CAPACITY` bytes. See the module documentation
/// for what it indexes.
///
/// Names are compared and written as given: HTTP/2 wants them lowercase
/// (RFC 9113 §8.2.1), and lowering them is the caller's job.
///
/// ```
/// use peregrine_core::h2::hpack::{Encoder, HeaderField};
///
/// let mut encoder = Encoder::<4096>::new();
/// let fields = [
///     HeaderField::new(b":status", b"200"),
///     HeaderField::new(b"content-length", b"13"),
///     HeaderField::new(b"set-cookie", b"id=1"),
/// ];
/// let mut out = [0u8; 64];
/// let len = encoder.encode_block(fields.iter().copied(), &mut out).unwrap();
/// assert_eq!(
///     &out[..len],
///     [
///         0x88, // :status: 200, static index 8
///         0x0f, 0x0d, 0x02, b'1', b'3', // content-length (28), not indexed, raw
///         0x1f, 0x28, 0x83, 0x34, 0x90, 0x07, // set-cookie (55), never indexed, Huffman
///     ]
/// );
/// assert!(encoder.table().is_empty());
///
/// // The peer lowers its table size: the next block starts with an update.
/// encoder.set_max_table_size(0);
/// let len = encoder.encode_block([HeaderField::new(b":status", b"200")], &mut out).unwrap();
/// assert_eq!(&out[..len], [0x20, 0x88]);
/// ```
#[derive(Clone, Debug)]
pub struct Encoder<const CAPACITY: usize = 4096> {
    /// The dynamic table, as the peer's decoder will have it.
    table: DynamicTable<CAPACITY>,
    /// Size updates owed to the peer.
    size_update: SizeUpdate,
    /// What to index, what to Huffman-code.
    policy: Policy,
}

impl<const CAPACITY: usize> Encoder<CAPACITY> {
    /// An encoder for a new connection, assuming the initial 4096-byte
    /// table; with a smaller `CAPACITY`, its first block announces that.
    pub const fn new() -> Self {
        let (max_size, size_update) = if CAPACITY < DEFAULT_TABLE_SIZE {
            let pending = SizeUpdate::Pending {
                minimum: CAPACITY,
                last: CAPACITY,
            };
            (CAPACITY, pending)
        } else {
            (DEFAULT_TABLE_SIZE, SizeUpdate::None)
        };
        Encoder {
            table: DynamicTable::with_max_size(max_size),
            size_update,
            policy: Policy::Standard,
        }
    }

    /// An encoder with the policy the RFC's examples need: indexing every
    /// field (or as the standard policy does), Huffman-coding every string
    /// (or none).
    #[cfg(test)]
    pub(crate) fn with_test_policy(index_all: bool, huffman: bool) -> Self {
        Encoder {
            policy: Policy::Test { index_all, huffman },
            ..Self::new()
        }
    }

    /// Takes the peer's `SETTINGS_HEADER_TABLE_SIZE`, as received: the table
    /// will use it, or `CAPACITY` if smaller, from the next block on, which
    /// starts with the size updates that announce it. Call it between
    /// blocks.
    pub fn set_max_table_size(&mut self, peer_setting: usize) {
        let size = peer_setting.min(CAPACITY);
        self.size_update = match self.size_update {
            SizeUpdate::None if size == self.table.max_size() => SizeUpdate::None,
            SizeUpdate::None => SizeUpdate::Pending {
                minimum: size,
                last: size,
            },
            SizeUpdate::Pending { minimum, .. } => SizeUpdate::Pending {
                minimum: minimum.min(size),
                last: size,
            },
        };
    }

    /// The table's maximum size, once pending updates are sent.
    pub const fn max_table_size(&self) -> usize {
        match self.size_update {
            SizeUpdate::None => self.table.max_size(),
            SizeUpdate::Pending { last, .. } => last,
        }
    }

    /// Whether the next block will start with size updates.
    pub const fn size_update_pending(&self) -> bool {
        matches!(self.size_update, SizeUpdate::Pending { .. })
    }

    /// The dynamic table, as the peer's decoder has it after the last
    /// block (pending size updates not yet applied).
    pub const fn table(&self) -> &DynamicTable<CAPACITY> {
        &self.table
    }

    /// Encodes a whole header block into `out`; returns its length.
    ///
    /// The block is written whole or not at all: first `out` is checked to
    /// hold [`max_block_len`](Self::max_block_len) bytes, a bound a few
    /// bytes a field above the fields' raw size, and if it does not, this
    /// fails with [`BufferFull`](EncodeError::BufferFull) and changes
    /// nothing. To fill a buffer to its last byte, or to spread a block
    /// over several buffers, use [`encode_field`](Self::encode_field).
    /// Pending size updates are written even when there are no fields.
    pub fn encode_block<'f, I>(&mut self, fields: I, out: &mut [u8]) -> Result<usize, EncodeError>
    where
        I: IntoIterator<Item = HeaderField<'f>>,
        I::IntoIter: Clone,
    {
        let fields = fields.into_iter();
        let needed = self.max_block_len(fields.clone());
        if needed > out.len() {
            return Err(EncodeError::BufferFull { needed });
        }
        let mut len = self
            .write_size_updates(out)
            .ok_or(EncodeError::BufferFull { needed })?;
        self.apply_size_updates();
        for field in fields {
            let rest = out.get_mut(len..).unwrap_or_default();
            len += self.encode_field(&field, rest)?;
        }
        Ok(len)
    }

    /// An upper bound of the block [`encode_block`](Self::encode_block)
    /// would write for `fields`: the size updates it may owe, and for each
    /// field its name and value with their length prefixes and a table
    /// index.
    pub fn max_block_len<'f>(&self, fields: impl IntoIterator<Item = HeaderField<'f>>) -> usize {
        let updates = 2 * integer::encoded_len(CAPACITY, 5);
        let largest_index = static_table::LEN + CAPACITY / ENTRY_OVERHEAD;
        let index_len = integer::encoded_len(largest_index, 4);
        fields.into_iter().fold(updates, |total, field| {
            total
                .saturating_add(index_len)
                .saturating_add(self.plan_string(field.name).encoded_len())
                .saturating_add(self.plan_string(field.value).encoded_len())
        })
    }

    /// Encodes one field at the start of `out`, after the size updates
    /// owed if it is the first of a block; returns the bytes written.
    ///
    /// Atomic: if the field does not fit, this fails with
    /// [`BufferFull`](EncodeError::BufferFull), writing nothing and
    /// changing nothing, so the caller may send what it has as one frame
    /// and continue the block in a new buffer (a CONTINUATION frame). A
    /// block of no fields is written by [`encode_block`](Self::encode_block).
    pub fn encode_field(
        &mut self,
        field: &HeaderField<'_>,
        out: &mut [u8],
    ) -> Result<usize, EncodeError> {
        // Find matches among the entries the size updates leave.
        let (within, max_size) = match self.size_update {
            SizeUpdate::None => (self.table.len(), self.table.max_size()),
            SizeUpdate::Pending { minimum, last } => (self.table.entries_within(minimum), last),
        };
        let plan = self.plan(field, within, max_size);
        let needed = self.size_updates_len().saturating_add(plan.encoded_len());
        if needed > out.len() {
            return Err(EncodeError::BufferFull { needed });
        }
        let full = EncodeError::BufferFull { needed };
        let updates = self.write_size_updates(out).ok_or(full)?;
        let len = plan
            .write(out.get_mut(updates..).ok_or(full)?)
            .ok_or(full)?;
        // Written: now change the table as the peer's decoder will.
        self.apply_size_updates();
        if let Plan::Literal {
            form: LiteralForm::Incremental,
            ..
        } = plan
        {
            self.table.insert(field.name, field.value);
        }
        Ok(updates + len)
    }

    /// Chooses a field's representation, with matches among the newest
    /// `within` dynamic entries and the table's maximum size `max_size`.
    fn plan<'f>(&self, field: &HeaderField<'f>, within: usize, max_size: usize) -> Plan<'f> {
        let sensitive = self.is_sensitive(field);
        let in_static = static_table::find(field.name, field.value);
        if let (Some(Match::Field(index)), false) = (in_static, sensitive) {
            return Plan::Indexed(index);
        }
        let in_dynamic = self.table.find(field.name, field.value, within);
        if let (Some(Match::Field(index)), false) = (in_dynamic, sensitive) {
            return Plan::Indexed(static_table::LEN + 1 + index);
        }
        let name = match (in_static, in_dynamic) {
            (Some(Match::Field(index) | Match::Name(index)), _) => PlannedName::Indexed(index),
            (None, Some(Match::Field(index) | Match::Name(index))) => {
                PlannedName::Indexed(static_table::LEN + 1 + index)
            }
            (None, None) => PlannedName::Literal(self.plan_string(field.name)),
        };
        let form = if sensitive {
            LiteralForm::Never
        } else if self.worth_indexing(field, max_size) {
            LiteralForm::Incremental
        } else {
            LiteralForm::Without
        };
        Plan::Literal {
            form,
            name,
            value: self.plan_string(field.value),
        }
    }

    /// Whether a field must be a never-indexed literal.
    fn is_sensitive(&self, field: &HeaderField<'_>) -> bool {
        if field.sensitivity == Sensitivity::NeverIndexed {
            return true;
        }
        !self.indexes_everything() && SENSITIVE_NAMES.contains(&field.name)
    }

    /// Whether a field that is not sensitive is worth a table entry.
    fn worth_indexing(&self, field: &HeaderField<'_>, max_size: usize) -> bool {
        self.indexes_everything()
            || (!UNINDEXED_NAMES.contains(&field.name) && field.size() <= max_size - max_size / 4)
    }

    /// Whether the policy indexes every field not marked never-indexed.
    const fn indexes_everything(&self) -> bool {
        match self.policy {
            Policy::Standard => false,
            #[cfg(test)]
            Policy::Test { index_all, .. } => index_all,
        }
    }

    /// Chooses how a string is written.
    fn plan_string<'f>(&self, bytes: &'f [u8]) -> Planned<'f> {
        match self.policy {
            Policy::Standard => Planned::shortest(bytes),
            #[cfg(test)]
            Policy::Test { huffman: true, .. } => Planned::huffman(bytes),
            #[cfg(test)]
            Policy::Test { huffman: false, .. } => Planned::raw(bytes),
        }
    }

    /// The sizes to announce at the start of the next block: none, the
    /// last, or the lowest then the last.
    fn size_updates(&self) -> ([usize; 2], usize) {
        match self.size_update {
            SizeUpdate::None => ([0; 2], 0),
            SizeUpdate::Pending { minimum, last } if minimum < last => ([minimum, last], 2),
            SizeUpdate::Pending { last, .. } => ([last, 0], 1),
        }
    }

    /// Bytes of the size updates owed.
    fn size_updates_len(&self) -> usize {
        let (sizes, count) = self.size_updates();
        sizes[..count]
            .iter()
            .map(|&size| integer::encoded_len(size, 5))
            .sum()
    }

    /// Writes the size updates owed at the start of `out` (§6.3), without
    /// applying them; `None` if `out` is too short.
    fn write_size_updates(&self, out: &mut [u8]) -> Option<usize> {
        let (sizes, count) = self.size_updates();
        let mut len = 0;
        for &size in &sizes[..count] {
            len += integer::encode(size, 5, 0x20, out.get_mut(len..)?)?;
        }
        Some(len)
    }

    /// Applies the size updates just written to the table.
    fn apply_size_updates(&mut self) {
        if let SizeUpdate::Pending { minimum, last } = self.size_update {
            self.table.set_max_size(minimum);
            self.table.set_max_size(last);
            self.size_update = SizeUpdate::None;
        }
    }
}

impl<const CAPACITY: usize> Default for Encoder<CAPACITY> {
    fn default() -> Self {
        Self::new()
    }
}
