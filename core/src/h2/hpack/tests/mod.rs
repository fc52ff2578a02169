//! Tests of the HPACK modules together: the examples of RFC 7541 Appendix
//! C, the dynamic table against a model, the decoder's limits and rules,
//! and the encoder's policy and size updates.

mod appendix_c;
mod decoder;
mod dynamic_table;
mod encoder;

use std::format;
use std::string::String;
use std::vec::Vec;

use super::{DecodeError, Decoded, Decoder, DynamicTable, Encoder, HeaderField, Sensitivity};

/// Bytes from hex digits; spaces and line breaks are ignored.
fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text
        .bytes()
        .filter(|byte| !byte.is_ascii_whitespace())
        .collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(core::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

/// A decoded field, owned, with its sensitivity.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Field {
    name: Vec<u8>,
    value: Vec<u8>,
    sensitivity: Sensitivity,
}

impl Field {
    fn new(name: &[u8], value: &[u8]) -> Self {
        Field {
            name: name.to_vec(),
            value: value.to_vec(),
            sensitivity: Sensitivity::Indexable,
        }
    }

    fn never_indexed(name: &[u8], value: &[u8]) -> Self {
        Field {
            sensitivity: Sensitivity::NeverIndexed,
            ..Field::new(name, value)
        }
    }

    fn as_header_field(&self) -> HeaderField<'_> {
        HeaderField {
            name: &self.name,
            value: &self.value,
            sensitivity: self.sensitivity,
        }
    }
}

/// Decodes `block` into a large buffer, checking each field's offsets.
fn decode<const CAPACITY: usize>(
    decoder: &mut Decoder<CAPACITY>,
    block: &[u8],
) -> Result<(Vec<Field>, Decoded), DecodeError> {
    let mut out = [0u8; 8192];
    let mut fields = Vec::new();
    let mut ranges = Vec::new();
    let decoded = decoder.decode(block, &mut out, |field| {
        assert_eq!(field.name.len(), field.name_range().len());
        assert_eq!(field.name_range().end, field.value_range().start);
        ranges.push((field.name_range(), field.value_range()));
        fields.push(Field {
            name: field.name.to_vec(),
            value: field.value.to_vec(),
            sensitivity: field.sensitivity,
        });
        Ok::<_, DecodeError>(())
    })?;
    for (field, (name, value)) in fields.iter().zip(ranges) {
        assert_eq!(out[name], field.name[..]);
        assert_eq!(out[value], field.value[..]);
    }
    assert_eq!(decoded.fields, fields.len());
    let written: usize = fields.iter().map(|f| f.name.len() + f.value.len()).sum();
    assert_eq!(decoded.written, written);
    assert_eq!(decoded.header_list_size, written + 32 * fields.len());
    Ok((fields, decoded))
}

/// Decodes `block`, expecting success; returns the fields.
fn decode_ok<const CAPACITY: usize>(decoder: &mut Decoder<CAPACITY>, block: &[u8]) -> Vec<Field> {
    decode(decoder, block).unwrap().0
}

/// Decodes `block`, expecting an error.
fn decode_err<const CAPACITY: usize>(decoder: &mut Decoder<CAPACITY>, block: &[u8]) -> DecodeError {
    decode(decoder, block).unwrap_err()
}

/// A table's entries as `"name: value"`, newest first.
fn entries<const CAPACITY: usize>(table: &DynamicTable<CAPACITY>) -> Vec<String> {
    table
        .iter()
        .map(|entry| {
            format!(
                "{}: {}",
                entry.name.escape_ascii(),
                entry.value.escape_ascii()
            )
        })
        .collect()
}

/// Encodes `fields` as one block.
fn encode<const CAPACITY: usize>(encoder: &mut Encoder<CAPACITY>, fields: &[Field]) -> Vec<u8> {
    let mut out = [0u8; 8192];
    let len = encoder
        .encode_block(fields.iter().map(Field::as_header_field), &mut out)
        .unwrap();
    out[..len].to_vec()
}
