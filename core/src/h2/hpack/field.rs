//! Header fields as the encoder takes them and the decoder gives them.

use core::ops::Range;

/// Whether a field may enter a compression table.
///
/// The decoder reports [`NeverIndexed`](Self::NeverIndexed) for a field
/// sent as a never-indexed literal (RFC 7541 §6.2.3); an intermediary that
/// passes the field on must keep it so (§7.1.3), which the [`Encoder`]
/// does when given the same value back.
///
/// [`Encoder`]: super::Encoder
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Sensitivity {
    /// The encoder's policy decides whether the field is indexed.
    #[default]
    Indexable,
    /// Never indexed, here or by any intermediary: credentials, cookies,
    /// anything an attacker could probe for by the compression it gets
    /// (§7.1). Encoded as a never-indexed literal.
    NeverIndexed,
}

/// A header field to encode: name, value and [`Sensitivity`].
///
/// HTTP/2 field names are lowercase (RFC 9113 §8.2.1): lowering them is
/// the caller's job, since the encoder compares and writes names as given
/// and a peer treats a name with an uppercase letter as malformed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HeaderField<'a> {
    /// The field name, lowercase; pseudo-header fields start with `:`.
    pub name: &'a [u8],
    /// The field value.
    pub value: &'a [u8],
    /// Whether the field may be indexed.
    pub sensitivity: Sensitivity,
}

impl<'a> HeaderField<'a> {
    /// An [indexable](Sensitivity::Indexable) field.
    pub const fn new(name: &'a [u8], value: &'a [u8]) -> Self {
        HeaderField {
            name,
            value,
            sensitivity: Sensitivity::Indexable,
        }
    }

    /// A [never-indexed](Sensitivity::NeverIndexed) field.
    pub const fn never_indexed(name: &'a [u8], value: &'a [u8]) -> Self {
        HeaderField {
            name,
            value,
            sensitivity: Sensitivity::NeverIndexed,
        }
    }

    /// Its size as HPACK counts it (§4.1): name + value + 32 bytes. The
    /// header list size of RFC 9113 `SETTINGS_MAX_HEADER_LIST_SIZE` sums
    /// the same.
    pub const fn size(&self) -> usize {
        self.name
            .len()
            .saturating_add(self.value.len())
            .saturating_add(super::ENTRY_OVERHEAD)
    }
}

/// A field the [`Decoder`](super::Decoder) wrote into the caller's output
/// buffer: the bytes, and where they sit in that buffer.
///
/// The name and the value lie next to each other, the value right after
/// the name, from [`offset`](Self::offset) on; offsets fit `u32`, as in the
/// HTTP/1.1 request table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodedField<'a> {
    /// The field name, as sent (HPACK does not check it).
    pub name: &'a [u8],
    /// The field value, as sent.
    pub value: &'a [u8],
    /// [`NeverIndexed`](Sensitivity::NeverIndexed) if the peer sent it as
    /// a never-indexed literal (§6.2.3).
    pub sensitivity: Sensitivity,
    /// Where the name starts in the output buffer.
    pub offset: u32,
}

impl<'a> DecodedField<'a> {
    /// Where the name lies in the output buffer.
    pub fn name_range(&self) -> Range<usize> {
        let start = self.offset as usize;
        start..start + self.name.len()
    }

    /// Where the value lies in the output buffer.
    pub fn value_range(&self) -> Range<usize> {
        let start = self.offset as usize + self.name.len();
        start..start + self.value.len()
    }

    /// Whether the peer sent it as a never-indexed literal (§6.2.3).
    pub fn is_never_indexed(&self) -> bool {
        self.sensitivity == Sensitivity::NeverIndexed
    }

    /// The same field, to hand to an [`Encoder`](super::Encoder): an
    /// intermediary keeps a never-indexed field never-indexed.
    pub const fn to_header_field(&self) -> HeaderField<'a> {
        HeaderField {
            name: self.name,
            value: self.value,
            sensitivity: self.sensitivity,
        }
    }
}
