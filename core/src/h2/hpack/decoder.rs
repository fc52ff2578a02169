//! The decoder: a whole header block in, its fields out into a buffer the
//! caller owns (RFC 7541 §3, §6).
//!
//! Each field's name and value are appended to the output buffer and
//! handed to a callback as a [`DecodedField`]: the bytes, and their offset
//! in the buffer, which is what a request table of `u32` spans needs.
//!
//! # Limits and HPACK bombs
//!
//! The header list size (name + value + 32 a field, RFC 9113
//! `SETTINGS_MAX_HEADER_LIST_SIZE`) is checked before a field's bytes are
//! copied wherever its length is known up front (an indexed field, an
//! indexed name, a raw literal), so a small block naming a large table
//! entry many times is refused after one comparison, not after copying it.
//! Other copies are bounded by the block's own length.
//!
//! When the limit or the output buffer is reached, or the callback returns
//! an error, the decoder stops writing but reads the rest of the block to
//! keep its dynamic table in step with the peer: it checks indices and
//! Huffman strings and inserts what the block adds to the table, and
//! copies nothing else. The error is returned at the end. Only a block
//! that breaks RFC 7541 stops it at once, for good.

use super::dynamic_table::{DynamicTable, NameSource};
use super::string::Literal;
use super::{
    DEFAULT_TABLE_SIZE, DecodeError, DecodedField, ENTRY_OVERHEAD, Sensitivity, integer,
    static_table,
};

/// The header list size a [`Decoder`] accepts unless told otherwise: 16
/// KiB, the HTTP/1.1 parser's default head length. A server advertises its
/// limit in `SETTINGS_MAX_HEADER_LIST_SIZE` and sets the same here.
pub const DEFAULT_MAX_HEADER_LIST_SIZE: usize = 16 * 1024;

/// The literal representations (§6.2), by what they do to the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Indexing {
    /// With incremental indexing: added to the dynamic table (§6.2.1).
    Incremental,
    /// Without indexing (§6.2.2).
    Without,
    /// Never indexed (§6.2.3).
    Never,
}

/// Where a literal representation's name comes from.
#[derive(Clone, Copy, Debug)]
enum LiteralName<'b> {
    /// A table entry's name, by index (1 or more).
    Indexed(usize),
    /// A string literal.
    Literal(Literal<'b>),
}

/// A field representation (§6.1, §6.2).
#[derive(Clone, Copy, Debug)]
enum FieldRepresentation<'b> {
    /// A whole table entry, by index (1 or more).
    Indexed(usize),
    /// A literal value with an indexed or literal name.
    Literal {
        /// The name.
        name: LiteralName<'b>,
        /// The value.
        value: Literal<'b>,
        /// What the field does to the table.
        indexing: Indexing,
    },
}

/// One representation of a header block (§6).
#[derive(Clone, Copy, Debug)]
enum Representation<'b> {
    /// A header field.
    Field(FieldRepresentation<'b>),
    /// A dynamic table size update (§6.3).
    SizeUpdate(usize),
}

impl Representation<'_> {
    /// Parses the representation at the start of `input`; returns it and
    /// the bytes it took.
    #[inline]
    fn parse(input: &[u8]) -> Result<(Representation<'_>, usize), DecodeError> {
        let Some(&first) = input.first() else {
            return Err(DecodeError::Truncated);
        };
        if first & 0x80 != 0 {
            let (index, len) = integer::decode(input, 7)?;
            if index == 0 {
                return Err(DecodeError::IndexZero);
            }
            return Ok((
                Representation::Field(FieldRepresentation::Indexed(index)),
                len,
            ));
        }
        if first & 0xe0 == 0x20 {
            let (size, len) = integer::decode(input, 5)?;
            return Ok((Representation::SizeUpdate(size), len));
        }
        let (prefix_bits, indexing) = if first & 0x40 != 0 {
            (6, Indexing::Incremental)
        } else if first & 0x10 != 0 {
            (4, Indexing::Never)
        } else {
            (4, Indexing::Without)
        };
        let (index, mut len) = integer::decode(input, prefix_bits)?;
        let name = if index == 0 {
            let (literal, name_len) = Literal::parse(rest(input, len))?;
            len += name_len;
            LiteralName::Literal(literal)
        } else {
            LiteralName::Indexed(index)
        };
        let (value, value_len) = Literal::parse(rest(input, len))?;
        let field = FieldRepresentation::Literal {
            name,
            value,
            indexing,
        };
        Ok((Representation::Field(field), len + value_len))
    }
}

/// `input` from `at` on; empty past its end.
fn rest(input: &[u8], at: usize) -> &[u8] {
    input.get(at..).unwrap_or_default()
}

/// Whether the next block must begin with a dynamic table size update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SizeUpdateRule {
    /// Updates are allowed, up to the settings' limit, not required.
    Optional,
    /// The limit was lowered below the table's maximum size: the first
    /// update must come first and be at most `at_most`, the lowest limit
    /// set since the previous block (§4.2).
    Required {
        /// The largest size the first update may set.
        at_most: usize,
    },
}

/// Whether the decoder can still be trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Its table is in step with the peer's encoder.
    Ready,
    /// A block broke RFC 7541: the table is not in step any more.
    Failed(DecodeError),
}

/// What a block decoded to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Decoded {
    /// Number of fields.
    pub fields: usize,
    /// Bytes of the output buffer the fields take, from its start.
    pub written: usize,
    /// The header list size: name + value + 32 a field.
    pub header_list_size: usize,
}

/// The HPACK decoder of one connection: every header block the peer sends
/// goes through it, in order.
///
/// `CAPACITY` bounds the dynamic table size this side can advertise in
/// `SETTINGS_HEADER_TABLE_SIZE`; the decoder takes about `CAPACITY` bytes.
/// Below 4096 (the initial setting), a peer that fills the table before
/// this side's SETTINGS arrive fails with
/// [`IndexOutOfRange`](DecodeError::IndexOutOfRange), never with wrong
/// fields.
///
/// ```
/// use peregrine_core::h2::hpack::{DecodeError, Decoder, Sensitivity};
///
/// // RFC 7541 C.4.1: a request with a Huffman-coded authority.
/// let block = [
///     0x82, 0x86, 0x84, 0x41, 0x8c, 0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab,
///     0x90, 0xf4, 0xff,
/// ];
/// let mut decoder = Decoder::<4096>::new();
/// let mut buf = [0u8; 256];
/// let mut spans = [(0u32, 0u32, 0u32); 8]; // name start, name end, value end
/// let mut count = 0;
/// let decoded = decoder
///     .decode(&block, &mut buf, |field| {
///         let slot = spans.get_mut(count).ok_or(DecodeError::HeaderListTooLarge)?;
///         let (name, value) = (field.name_range(), field.value_range());
///         *slot = (name.start as u32, name.end as u32, value.end as u32);
///         assert_eq!(field.sensitivity, Sensitivity::Indexable);
///         count += 1;
///         Ok::<_, DecodeError>(())
///     })
///     .unwrap();
/// assert_eq!(decoded.fields, 4);
/// let (start, name_end, end) = spans[3];
/// assert_eq!(&buf[start as usize..name_end as usize], b":authority");
/// assert_eq!(&buf[name_end as usize..end as usize], b"www.example.com");
/// assert_eq!(decoder.table().size(), 57);
/// ```
#[derive(Clone, Debug)]
pub struct Decoder<const CAPACITY: usize = 4096> {
    /// The dynamic table, in step with the peer's encoder.
    table: DynamicTable<CAPACITY>,
    /// The largest size a size update may set: this side's
    /// `SETTINGS_HEADER_TABLE_SIZE`, at most `CAPACITY`.
    max_table_size: usize,
    /// Whether the next block must start with a size update.
    size_update: SizeUpdateRule,
    /// The largest header list accepted.
    max_header_list_size: usize,
    /// Whether a block broke RFC 7541.
    state: State,
}

impl<const CAPACITY: usize> Decoder<CAPACITY> {
    /// A decoder for a new connection: table size limit 4096 (or
    /// `CAPACITY` if smaller), header list limit
    /// [`DEFAULT_MAX_HEADER_LIST_SIZE`].
    pub const fn new() -> Self {
        let max_table_size = if CAPACITY < DEFAULT_TABLE_SIZE {
            CAPACITY
        } else {
            DEFAULT_TABLE_SIZE
        };
        Decoder {
            table: DynamicTable::with_max_size(max_table_size),
            max_table_size,
            size_update: SizeUpdateRule::Optional,
            max_header_list_size: DEFAULT_MAX_HEADER_LIST_SIZE,
            state: State::Ready,
        }
    }

    /// The same decoder with another header list limit.
    pub const fn with_max_header_list_size(mut self, size: usize) -> Self {
        self.max_header_list_size = size;
        self
    }

    /// Sets the header list limit, as advertised in
    /// `SETTINGS_MAX_HEADER_LIST_SIZE`.
    pub fn set_max_header_list_size(&mut self, size: usize) {
        self.max_header_list_size = size;
    }

    /// The header list limit.
    pub const fn max_header_list_size(&self) -> usize {
        self.max_header_list_size
    }

    /// Sets the table size limit to the `SETTINGS_HEADER_TABLE_SIZE` this
    /// side advertised, once the peer acknowledged it; values above
    /// `CAPACITY` are taken as `CAPACITY` (advertise no more).
    ///
    /// Lowered below the table's current maximum size, the limit requires
    /// the next block to begin with a size update no larger than the
    /// lowest limit set until then (§4.2); see
    /// [`size_update_required`](Self::size_update_required).
    pub fn set_max_table_size(&mut self, size: usize) {
        let size = size.min(CAPACITY);
        self.max_table_size = size;
        if size < self.table.max_size() {
            self.size_update = match self.size_update {
                SizeUpdateRule::Optional => SizeUpdateRule::Required { at_most: size },
                SizeUpdateRule::Required { at_most } => SizeUpdateRule::Required {
                    at_most: at_most.min(size),
                },
            };
        }
    }

    /// The table size limit: the largest size an update may set.
    pub const fn max_table_size(&self) -> usize {
        self.max_table_size
    }

    /// Whether the next block must begin with a dynamic table size update
    /// (the limit was lowered, §4.2); a block that does not is refused
    /// with [`MissingTableSizeUpdate`](DecodeError::MissingTableSizeUpdate).
    pub const fn size_update_required(&self) -> bool {
        matches!(self.size_update, SizeUpdateRule::Required { .. })
    }

    /// The dynamic table, as the peer's encoder last left it.
    pub const fn table(&self) -> &DynamicTable<CAPACITY> {
        &self.table
    }

    /// The error a block broke RFC 7541 with, if one did: from then on
    /// every block is refused with it.
    pub const fn failure(&self) -> Option<DecodeError> {
        match self.state {
            State::Ready => None,
            State::Failed(error) => Some(error),
        }
    }

    /// Decodes one whole header block (a HEADERS or PUSH_PROMISE fragment
    /// joined with its CONTINUATION fragments) into `out`, calling
    /// `on_field` with each field, in order.
    ///
    /// Fields are written one after another from the start of `out` (at
    /// most `u32::MAX` bytes of it are used); a field handed to `on_field`
    /// stays where it is, and bytes past the last field may have been
    /// overwritten. Returns the count, bytes and header list size.
    ///
    /// Errors: an `on_field` error, or a [`DecodeError`] converted into
    /// `E`. After a compression error
    /// ([`is_compression_error`](DecodeError::is_compression_error)) the
    /// decoder is unusable and the connection must end. After any other
    /// error ([`HeaderListTooLarge`](DecodeError::HeaderListTooLarge),
    /// [`BufferFull`](DecodeError::BufferFull) or the callback's own) the
    /// rest of the block was still read, without writing fields, so the
    /// decoder is ready for the next block and only this one's stream
    /// fails.
    pub fn decode<E, F>(
        &mut self,
        block: &[u8],
        out: &mut [u8],
        mut on_field: F,
    ) -> Result<Decoded, E>
    where
        E: From<DecodeError>,
        F: FnMut(DecodedField<'_>) -> Result<(), E>,
    {
        if let State::Failed(error) = self.state {
            return Err(error.into());
        }
        let usable = out.len().min(u32::MAX as usize);
        let out = &mut out[..usable];
        let mut decoded = Decoded::default();
        // The first error that stopped the output; the rest of the block
        // is then only read.
        let mut stopped: Option<E> = None;
        let mut size_updates = 0;
        let mut seen_field = false;
        let mut input = block;
        while !input.is_empty() {
            let (representation, len) =
                Representation::parse(input).map_err(|error| self.fail(error))?;
            input = rest(input, len);
            let field = match representation {
                Representation::SizeUpdate(size) => {
                    let update = if seen_field {
                        Err(DecodeError::MisplacedTableSizeUpdate)
                    } else {
                        self.update_table_size(size, &mut size_updates)
                    };
                    update.map_err(|error| self.fail(error))?;
                    continue;
                }
                Representation::Field(field) => field,
            };
            if !seen_field {
                seen_field = true;
                self.check_size_update_done()?;
            }
            if stopped.is_some() {
                self.skip(field).map_err(|error| self.fail(error))?;
                continue;
            }
            let free = rest_mut(out, decoded.written);
            match self.write_field(&field, free, decoded.header_list_size) {
                Ok((name_len, value_len)) => {
                    let offset = decoded.written;
                    let name_end = offset + name_len;
                    let end = name_end + value_len;
                    decoded.written = end;
                    decoded.fields += 1;
                    decoded.header_list_size += name_len + value_len + ENTRY_OVERHEAD;
                    let sensitivity = match field {
                        FieldRepresentation::Literal {
                            indexing: Indexing::Never,
                            ..
                        } => Sensitivity::NeverIndexed,
                        _ => Sensitivity::Indexable,
                    };
                    let field = DecodedField {
                        name: &out[offset..name_end],
                        value: &out[name_end..end],
                        sensitivity,
                        offset: offset as u32,
                    };
                    if let Err(error) = on_field(field) {
                        stopped = Some(error);
                    }
                }
                Err(error) if error.is_compression_error() => return Err(self.fail(error).into()),
                Err(error) => {
                    stopped = Some(error.into());
                    self.skip(field).map_err(|error| self.fail(error))?;
                }
            }
        }
        // A block of size updates only, or empty, must still carry a
        // required update.
        self.check_size_update_done()?;
        match stopped {
            Some(error) => Err(error),
            None => Ok(decoded),
        }
    }

    /// Records a compression error: the decoder refuses every later block.
    fn fail(&mut self, error: DecodeError) -> DecodeError {
        self.state = State::Failed(error);
        error
    }

    /// Fails if a required size update has not come.
    fn check_size_update_done(&mut self) -> Result<(), DecodeError> {
        match self.size_update {
            SizeUpdateRule::Optional => Ok(()),
            SizeUpdateRule::Required { .. } => Err(self.fail(DecodeError::MissingTableSizeUpdate)),
        }
    }

    /// Applies a size update at the beginning of a block (§4.2, §6.3).
    fn update_table_size(&mut self, size: usize, updates: &mut u8) -> Result<(), DecodeError> {
        if *updates >= 2 {
            return Err(DecodeError::TooManyTableSizeUpdates);
        }
        let limit = match self.size_update {
            SizeUpdateRule::Optional => self.max_table_size,
            SizeUpdateRule::Required { at_most } => at_most,
        };
        if size > limit {
            return Err(DecodeError::TableSizeUpdateTooLarge);
        }
        self.size_update = SizeUpdateRule::Optional;
        self.table.set_max_size(size);
        *updates += 1;
        Ok(())
    }

    /// The entry at a table index: 1 to 61 static, then dynamic.
    fn entry(&self, index: usize) -> Result<(&[u8], &[u8]), DecodeError> {
        if let Some(entry) = static_table::get(index) {
            return Ok(entry);
        }
        let dynamic = index
            .checked_sub(static_table::LEN + 1)
            .ok_or(DecodeError::IndexZero)?;
        let entry = self
            .table
            .get(dynamic)
            .ok_or(DecodeError::IndexOutOfRange)?;
        Ok((entry.name, entry.value))
    }

    /// Fails if a field of `len` bytes of name and value takes the header
    /// list past the limit.
    fn check_list_size(&self, list_size: usize, len: usize) -> Result<(), DecodeError> {
        let size = list_size.saturating_add(len).saturating_add(ENTRY_OVERHEAD);
        if size > self.max_header_list_size {
            return Err(DecodeError::HeaderListTooLarge);
        }
        Ok(())
    }

    /// Writes the table entry at `index` at the start of `out`; returns the
    /// name and value lengths. The hot path of a block: one move of 32
    /// bytes for a static entry, one copy for a dynamic one.
    fn write_entry(
        &self,
        index: usize,
        out: &mut [u8],
        list_size: usize,
    ) -> Result<(usize, usize), DecodeError> {
        if let Some((name, value)) = static_table::get(index) {
            self.check_list_size(list_size, name.len() + value.len())?;
            let padded = &static_table::PADDED[index - 1];
            match out.get_mut(..static_table::PADDED_LEN) {
                // What follows the field is overwritten by the next one.
                Some(room) => room.copy_from_slice(padded),
                None => {
                    let len = name.len() + value.len();
                    let exact = out.get_mut(..len).ok_or(DecodeError::BufferFull)?;
                    exact.copy_from_slice(&padded[..len]);
                }
            }
            return Ok((name.len(), value.len()));
        }
        let dynamic = index
            .checked_sub(static_table::LEN + 1)
            .ok_or(DecodeError::IndexZero)?;
        let (field, name_len) = self
            .table
            .get_joined(dynamic)
            .ok_or(DecodeError::IndexOutOfRange)?;
        self.check_list_size(list_size, field.len())?;
        let room = out.get_mut(..field.len()).ok_or(DecodeError::BufferFull)?;
        room.copy_from_slice(field);
        Ok((name_len, field.len() - name_len))
    }

    /// Writes a field's name and value at the start of `out` and applies it
    /// to the table; returns the name and value lengths. The table changes
    /// only once the field is written: after an error [`skip`](Self::skip)
    /// applies it instead.
    fn write_field(
        &mut self,
        field: &FieldRepresentation<'_>,
        out: &mut [u8],
        list_size: usize,
    ) -> Result<(usize, usize), DecodeError> {
        let (name, value, indexing) = match *field {
            FieldRepresentation::Indexed(index) => return self.write_entry(index, out, list_size),
            FieldRepresentation::Literal {
                name,
                value,
                indexing,
            } => (name, value, indexing),
        };
        // What is known before decoding: refuse a large indexed name before
        // copying it.
        let value_floor = match value {
            Literal::Raw(bytes) => bytes.len(),
            Literal::Huffman(_) => 0,
        };
        let name_len = match name {
            LiteralName::Indexed(index) => {
                let (name, _) = self.entry(index)?;
                self.check_list_size(list_size, name.len() + value_floor)?;
                let name_out = out.get_mut(..name.len()).ok_or(DecodeError::BufferFull)?;
                name_out.copy_from_slice(name);
                name.len()
            }
            LiteralName::Literal(literal) => {
                if let Literal::Raw(bytes) = literal {
                    self.check_list_size(list_size, bytes.len() + value_floor)?;
                }
                literal.decode_into(out)?
            }
        };
        let value_len = value.decode_into(rest_mut(out, name_len))?;
        self.check_list_size(list_size, name_len + value_len)?;
        if indexing == Indexing::Incremental {
            let (name, value) = out.split_at(name_len);
            self.table.insert(name, &value[..value_len]);
        }
        Ok((name_len, value_len))
    }

    /// Applies a field to the table without writing it: checks its indices
    /// and Huffman strings, and inserts it if it is to be indexed.
    fn skip(&mut self, field: FieldRepresentation<'_>) -> Result<(), DecodeError> {
        let (name, value, indexing) = match field {
            FieldRepresentation::Indexed(index) => return self.entry(index).map(drop),
            FieldRepresentation::Literal {
                name,
                value,
                indexing,
            } => (name, value, indexing),
        };
        let name = match name {
            LiteralName::Indexed(index) => match static_table::get(index) {
                Some((name, _)) => NameSource::Literal(Literal::Raw(name)),
                None => {
                    self.entry(index)?;
                    NameSource::Entry(index - static_table::LEN - 1)
                }
            },
            LiteralName::Literal(literal) => NameSource::Literal(literal),
        };
        if indexing == Indexing::Incremental {
            return self.table.insert_from(name, value);
        }
        if let NameSource::Literal(literal) = name {
            literal.decoded_len()?;
        }
        value.decoded_len().map(drop)
    }
}

/// `out` from `at` on; empty past its end.
fn rest_mut(out: &mut [u8], at: usize) -> &mut [u8] {
    match out.get_mut(at..) {
        Some(rest) => rest,
        None => &mut [],
    }
}

impl<const CAPACITY: usize> Default for Decoder<CAPACITY> {
    fn default() -> Self {
        Self::new()
    }
}
