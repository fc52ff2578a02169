//! HPACK, header compression for HTTP/2 (RFC 7541), without allocation.
//!
//! | module | job |
//! |---|---|
//! | `integer` | prefix integers (§5.1), refusing values beyond `u32` |
//! | `huffman` | the Huffman code (§5.2, Appendix B): a 4-bit-at-a-time decoding automaton built by `const fn` |
//! | `string` | string literals: length, Huffman flag, bytes (§5.2) |
//! | `static_table` | the 61 static entries (Appendix A), with a lookup by name length for the encoder |
//! | `dynamic_table` | [`DynamicTable`]: entries and their index in one fixed arena (§2.3.2, §4) |
//! | `decoder` | [`Decoder`]: a header block in, fields out into a caller's buffer (§3, §6) |
//! | `encoder` | [`Encoder`]: fields in, a header block out, with an indexing policy for responses |
//! | `field` | [`HeaderField`], [`DecodedField`], [`Sensitivity`] |
//! | `error` | [`DecodeError`], [`EncodeError`] |
//!
//! One [`Decoder`] reads every header block a connection receives and one
//! [`Encoder`] writes every block it sends: each keeps a dynamic table
//! that must stay in step with the peer's, so blocks go through them in
//! the order they travel. The caller joins a HEADERS or PUSH_PROMISE
//! frame's fragment with those of its CONTINUATION frames before decoding,
//! and tells each side about the `SETTINGS_HEADER_TABLE_SIZE` that applies
//! to it: the decoder the value this side advertises (once acknowledged),
//! the encoder the value the peer advertises.
//!
//! ```
//! use peregrine_core::h2::hpack::{DecodeError, Decoder, Encoder, HeaderField};
//!
//! let mut encoder = Encoder::<4096>::new();
//! let mut decoder = Decoder::<4096>::new();
//! let response = [
//!     HeaderField::new(b":status", b"200"),
//!     HeaderField::new(b"content-type", b"text/html; charset=utf-8"),
//!     HeaderField::new(b"server", b"peregrine"),
//! ];
//!
//! let mut block = [0u8; 128];
//! let mut fields = [0u8; 256];
//! for round in 0..2 {
//!     let len = encoder.encode_block(response.iter().copied(), &mut block).unwrap();
//!     // Later responses refer to the entries the first one added.
//!     assert_eq!(len, if round == 0 { 30 } else { 3 });
//!     let mut seen = 0;
//!     decoder
//!         .decode(&block[..len], &mut fields, |field| {
//!             assert_eq!(field.to_header_field(), response[seen]);
//!             seen += 1;
//!             Ok::<_, DecodeError>(())
//!         })
//!         .unwrap();
//!     assert_eq!(seen, 3);
//! }
//! ```

mod decoder;
mod dynamic_table;
mod encoder;
mod error;
mod field;
mod huffman;
mod integer;
mod static_table;
mod string;

#[cfg(test)]
mod tests;

pub use decoder::{DEFAULT_MAX_HEADER_LIST_SIZE, Decoded, Decoder};
pub use dynamic_table::{DynamicTable, Entries, Entry};
pub use encoder::Encoder;
pub use error::{DecodeError, EncodeError};
pub use field::{DecodedField, HeaderField, Sensitivity};

/// Bytes each entry adds to a table's size and each field to a header
/// list's size, beyond its name and value (RFC 7541 §4.1, RFC 9113 §6.5.2).
pub const ENTRY_OVERHEAD: usize = 32;

/// The dynamic table's maximum size until SETTINGS say otherwise: the
/// initial `SETTINGS_HEADER_TABLE_SIZE` (RFC 9113 §6.5.2).
pub const DEFAULT_TABLE_SIZE: usize = 4096;
