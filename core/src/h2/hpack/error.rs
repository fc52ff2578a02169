//! What fails a header block: [`DecodeError`] for the decoder,
//! [`EncodeError`] for the encoder.

use core::fmt;

/// Why the [`Decoder`](super::Decoder) refused a header block.
///
/// Two kinds, told apart by [`is_compression_error`](Self::is_compression_error):
///
/// - **Compression errors**: the block breaks RFC 7541. The decoder's
///   dynamic table can no longer be trusted to match the peer's, so the
///   connection must end with a `COMPRESSION_ERROR` (RFC 9113 §4.3), and
///   the decoder refuses every later block.
/// - **Limits of this side** ([`BufferFull`](Self::BufferFull),
///   [`HeaderListTooLarge`](Self::HeaderListTooLarge)): the block is valid
///   but larger than the caller accepts. The decoder stopped writing fields
///   at that point but still read the rest of the block, cheaply, to keep
///   its table in step with the peer's encoder, so only the stream fails
///   (with a 431 response or a stream reset) and the connection goes on.
///
/// ```
/// use peregrine_core::h2::hpack::DecodeError;
///
/// assert!(DecodeError::IndexOutOfRange.is_compression_error());
/// assert!(!DecodeError::HeaderListTooLarge.is_compression_error());
/// assert_eq!(DecodeError::HuffmanEos.to_string(), "Huffman string holds EOS");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DecodeError {
    /// A prefix integer (§5.1) that exceeds `u32`, or takes more than the
    /// five continuation bytes a `u32` needs.
    IntegerOverflow,
    /// The block ends inside a representation: in an integer, or before
    /// the last byte of a string literal.
    Truncated,
    /// Index 0 in an indexed field representation (§6.1).
    IndexZero,
    /// An index past the end of the static and dynamic tables (§2.3.3).
    IndexOutOfRange,
    /// A Huffman-coded string that holds the EOS symbol (§5.2).
    HuffmanEos,
    /// A Huffman-coded string whose padding is longer than 7 bits (§5.2).
    HuffmanPaddingTooLong,
    /// A Huffman-coded string whose padding is not the most significant
    /// bits of EOS, that is not all ones (§5.2).
    HuffmanPaddingNotOnes,
    /// A dynamic table size update above what the settings allow (§6.3),
    /// or, when an update is required (the limit was lowered, §4.2), a
    /// first update above the lowest limit set since the previous block.
    TableSizeUpdateTooLarge,
    /// A dynamic table size update after a field representation: updates
    /// come only at the beginning of a block (§4.2).
    MisplacedTableSizeUpdate,
    /// More than two dynamic table size updates at the beginning of a
    /// block (§4.2: the smallest size, then the final one).
    TooManyTableSizeUpdates,
    /// The table size limit was lowered below the table's size, and the
    /// next block does not begin with a dynamic table size update (§4.2).
    MissingTableSizeUpdate,
    /// The decoded fields do not fit the output buffer. Not a compression
    /// error: the table is still in step.
    BufferFull,
    /// The decoded header list is larger than the limit (RFC 9113
    /// `SETTINGS_MAX_HEADER_LIST_SIZE`: name + value + 32 a field). Not a
    /// compression error: the table is still in step.
    HeaderListTooLarge,
}

impl DecodeError {
    /// Whether the block broke RFC 7541, so that the connection must end
    /// with `COMPRESSION_ERROR`; false for this side's limits
    /// ([`BufferFull`](Self::BufferFull),
    /// [`HeaderListTooLarge`](Self::HeaderListTooLarge)).
    pub const fn is_compression_error(self) -> bool {
        !matches!(
            self,
            DecodeError::BufferFull | DecodeError::HeaderListTooLarge
        )
    }

    /// A short, lower-case reason, fit for a log line or a GOAWAY's debug
    /// data.
    pub const fn reason(self) -> &'static str {
        match self {
            DecodeError::IntegerOverflow => "integer overflow",
            DecodeError::Truncated => "truncated header block",
            DecodeError::IndexZero => "index 0",
            DecodeError::IndexOutOfRange => "index out of range",
            DecodeError::HuffmanEos => "Huffman string holds EOS",
            DecodeError::HuffmanPaddingTooLong => "Huffman padding longer than 7 bits",
            DecodeError::HuffmanPaddingNotOnes => "Huffman padding not all ones",
            DecodeError::TableSizeUpdateTooLarge => "table size update too large",
            DecodeError::MisplacedTableSizeUpdate => "table size update after a field",
            DecodeError::TooManyTableSizeUpdates => "more than two table size updates",
            DecodeError::MissingTableSizeUpdate => "required table size update missing",
            DecodeError::BufferFull => "decoded fields do not fit the buffer",
            DecodeError::HeaderListTooLarge => "header list too large",
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

#[cfg(feature = "std")]
impl std::error::Error for DecodeError {}

/// Why the [`Encoder`](super::Encoder) wrote nothing.
///
/// ```
/// use peregrine_core::h2::hpack::{EncodeError, Encoder, HeaderField};
///
/// let mut encoder = Encoder::<4096>::new();
/// let mut out = [0u8; 4];
/// let error = encoder.encode_field(&HeaderField::new(b"server", b"peregrine"), &mut out);
/// assert!(matches!(error, Err(EncodeError::BufferFull { needed }) if needed > 4));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EncodeError {
    /// The output buffer is too small. Nothing was written and the
    /// encoder is as it was; `needed` bytes would do (for a whole block,
    /// the bound [`Encoder::max_block_len`](super::Encoder::max_block_len)).
    BufferFull {
        /// The buffer length that would have been enough.
        needed: usize,
    },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::BufferFull { needed } => {
                write!(f, "header block needs a buffer of {needed} bytes")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for EncodeError {}

static_assertions::assert_eq_size!(DecodeError, u8);
static_assertions::assert_impl_all!(DecodeError: Copy, Send, Sync, fmt::Display);
static_assertions::assert_impl_all!(EncodeError: Copy, Send, Sync, fmt::Display);
