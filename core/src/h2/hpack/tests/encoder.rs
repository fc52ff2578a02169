//! The encoder's policy, its size updates, and what it does when the
//! output does not fit.

use std::vec;
use std::vec::Vec;

use super::{Field, decode_ok, encode, entries};
use crate::h2::hpack::{Decoder, EncodeError, Encoder, HeaderField};

/// Encodes `fields` and decodes them back with `decoder`, checking they
/// come out the same and the tables agree; returns the block.
fn round_trip<const E: usize, const D: usize>(
    encoder: &mut Encoder<E>,
    decoder: &mut Decoder<D>,
    fields: &[Field],
) -> Vec<u8> {
    let block = encode(encoder, fields);
    assert_eq!(decode_ok(decoder, &block), fields);
    assert_eq!(entries(decoder.table()), entries(encoder.table()));
    assert_eq!(decoder.table().max_size(), encoder.table().max_size());
    block
}

#[test]
fn repeated_response_fields_become_one_byte() {
    let mut encoder = Encoder::<4096>::new();
    let mut decoder = Decoder::<4096>::new();
    let response = [
        Field::new(b":status", b"200"),
        Field::new(b"content-type", b"text/html; charset=utf-8"),
        Field::new(b"server", b"peregrine"),
        Field::new(b"cache-control", b"no-store"),
        Field::new(b"vary", b"accept-encoding"),
        Field::new(b"date", b"Tue, 15 Nov 1994 08:12:31 GMT"),
        Field::new(b"content-length", b"1234"),
    ];
    let first = round_trip(&mut encoder, &mut decoder, &response);
    assert_eq!(
        encoder.table().len(),
        5,
        "all but :status and content-length"
    );
    let second = round_trip(&mut encoder, &mut decoder, &response);
    // Six one-byte indices, and content-length as a literal again: name
    // index 28 (two bytes), "1234" Huffman-coded (one and three).
    assert_eq!(second.len(), 6 + 2 + 1 + 3);
    assert!(second.len() * 6 < first.len());
    assert_eq!(&second[..6], [0x88, 0xc2, 0xc1, 0xc0, 0xbf, 0xbe]);
}

#[test]
fn content_length_is_never_indexed() {
    let mut encoder = Encoder::<4096>::new();
    let mut decoder = Decoder::<4096>::new();
    for _ in 0..2 {
        let block = round_trip(
            &mut encoder,
            &mut decoder,
            &[Field::new(b"content-length", b"42")],
        );
        // Without indexing, name index 28, raw "42" (Huffman is no shorter).
        assert_eq!(block, [0x0f, 0x0d, 0x02, b'4', b'2']);
    }
    assert!(encoder.table().is_empty());
}

#[test]
fn sensitive_fields_are_never_indexed() {
    let mut encoder = Encoder::<4096>::new();
    let mut decoder = Decoder::<4096>::new();
    let fields = [
        Field::new(b"set-cookie", b"session=1"),
        Field::new(b"authorization", b"Basic dXNlcjpwYXNz"),
        Field::new(b"cookie", b"a=b"),
        Field::new(b"proxy-authorization", b"x"),
        Field::never_indexed(b"x-token", b"secret"),
        // Even a whole static field, flagged.
        Field::never_indexed(b":method", b"GET"),
    ];
    // All come out never-indexed, those the policy chose too.
    let expected: Vec<Field> = fields
        .iter()
        .map(|field| Field::never_indexed(&field.name, &field.value))
        .collect();
    for _ in 0..2 {
        let block = encode(&mut encoder, &fields);
        assert_eq!(decode_ok(&mut decoder, &block), expected);
        assert_eq!(block[..2], [0x1f, 0x28], "never indexed, static name 55");
        let end = block.len() - 5;
        assert_eq!(block[end..], *b"\x12\x03GET", ":method by name, GET raw");
    }
    assert!(encoder.table().is_empty());
    assert!(decoder.table().is_empty());
}

#[test]
fn names_come_from_either_table() {
    let mut encoder = Encoder::<4096>::new();
    let mut decoder = Decoder::<4096>::new();
    round_trip(
        &mut encoder,
        &mut decoder,
        &[Field::new(b"x-custom", b"one")],
    );
    let block = round_trip(
        &mut encoder,
        &mut decoder,
        &[Field::new(b"x-custom", b"two")],
    );
    // Incremental, name index 62, raw "two".
    assert_eq!(block[..2], [0x7e, 0x03]);
    // A static name wins over a dynamic one.
    round_trip(
        &mut encoder,
        &mut decoder,
        &[Field::new(b"vary", b"origin")],
    );
    let block = round_trip(
        &mut encoder,
        &mut decoder,
        &[Field::new(b"vary", b"cookie")],
    );
    assert_eq!(block[0], 0x40 | 59);
}

#[test]
fn large_entries_are_not_indexed() {
    let mut encoder = Encoder::<256>::new();
    let mut decoder = Decoder::<256>::new();
    // 3/4 of 256 is 192: an entry of 192 is indexed, 193 is not.
    let fits = [b'a'; 192 - 32 - 4];
    round_trip(&mut encoder, &mut decoder, &[Field::new(b"x-ok", &fits)]);
    assert_eq!(encoder.table().size(), 192);
    let too_large = [b'a'; 193 - 32 - 4];
    round_trip(
        &mut encoder,
        &mut decoder,
        &[Field::new(b"x-no", &too_large)],
    );
    assert_eq!(encoder.table().size(), 192);
}

#[test]
fn a_smaller_encoder_announces_its_size() {
    let mut encoder = Encoder::<256>::new();
    assert!(encoder.size_update_pending());
    assert_eq!(encoder.max_table_size(), 256);
    let mut decoder = Decoder::<4096>::new();
    let block = round_trip(
        &mut encoder,
        &mut decoder,
        &[Field::new(b":status", b"200")],
    );
    assert_eq!(block, [0x3f, 0xe1, 0x01, 0x88]);
    // Once.
    let block = round_trip(
        &mut encoder,
        &mut decoder,
        &[Field::new(b":status", b"200")],
    );
    assert_eq!(block, [0x88]);
    // A peer setting above the capacity changes nothing.
    encoder.set_max_table_size(65536);
    assert!(!encoder.size_update_pending());
}

#[test]
fn size_changes_are_announced_at_the_next_block() {
    let mut encoder = Encoder::<4096>::new();
    let mut decoder = Decoder::<4096>::new();
    let fields = [
        Field::new(b"server", b"peregrine"),
        Field::new(b"x-a", b"1"),
    ];
    round_trip(&mut encoder, &mut decoder, &fields);
    assert_eq!(encoder.table().len(), 2);

    // Unchanged: nothing.
    encoder.set_max_table_size(4096);
    assert!(!encoder.size_update_pending());

    // Lowered to 50: one update, which evicts the older entry (server,
    // 47 + 36 > 50).
    encoder.set_max_table_size(50);
    decoder.set_max_table_size(50);
    assert_eq!(encoder.max_table_size(), 50);
    let block = round_trip(&mut encoder, &mut decoder, &[Field::new(b"x-a", b"1")]);
    assert_eq!(block, [0x3f, 0x13, 0xbe]);
    assert_eq!(entries(encoder.table()), ["x-a: 1"]);

    // Lowered to 0 then raised to 4096 before the next block: both, the
    // lowest first, and the table is emptied.
    encoder.set_max_table_size(0);
    encoder.set_max_table_size(4096);
    decoder.set_max_table_size(0);
    decoder.set_max_table_size(4096);
    let block = round_trip(
        &mut encoder,
        &mut decoder,
        &[Field::new(b":status", b"200")],
    );
    assert_eq!(block, [0x20, 0x3f, 0xe1, 0x1f, 0x88]);
    assert!(encoder.table().is_empty());

    // Raised back and forth to the same size: min then last still.
    encoder.set_max_table_size(100);
    encoder.set_max_table_size(4096);
    decoder.set_max_table_size(100);
    decoder.set_max_table_size(4096);
    let block = round_trip(&mut encoder, &mut decoder, &[]);
    assert_eq!(
        block,
        [0x3f, 0x45, 0x3f, 0xe1, 0x1f],
        "an empty block carries them"
    );
}

#[test]
fn a_field_that_does_not_fit_changes_nothing() {
    let mut encoder = Encoder::<4096>::new();
    encoder.set_max_table_size(1000);
    let field = HeaderField::new(b"x-custom", b"value");
    // Update (3 bytes) + 0x40 + name (1 + 6 coded) + value (1 + 4 coded).
    let mut out = [0u8; 64];
    let exact = encoder.clone().encode_field(&field, &mut out).unwrap();
    assert_eq!(exact, 16);
    let mut short = vec![0u8; exact - 1];
    let error = encoder.encode_field(&field, &mut short);
    assert_eq!(error, Err(EncodeError::BufferFull { needed: exact }));
    assert!(short.iter().all(|&byte| byte == 0), "nothing written");
    assert!(encoder.size_update_pending());
    assert!(encoder.table().is_empty());
    assert_eq!(encoder.table().max_size(), 4096);
    // The same call with room.
    let mut fits = vec![0u8; exact];
    assert_eq!(encoder.encode_field(&field, &mut fits), Ok(exact));
    assert_eq!(fits, out[..exact]);
    assert!(!encoder.size_update_pending());
    assert_eq!(encoder.table().len(), 1);
}

#[test]
fn a_block_is_written_whole_or_not_at_all() {
    let fields = [
        HeaderField::new(b":status", b"404"),
        HeaderField::new(b"content-type", b"text/plain"),
        HeaderField::new(b"x-request-id", b"0123456789"),
    ];
    let encoder = Encoder::<4096>::new();
    let bound = encoder.max_block_len(fields);
    // Two updates of 3 bytes, and per field an index of 2 bytes at most
    // (189) and both strings with a 1-byte length, no longer than raw.
    let raw: usize = fields
        .iter()
        .map(|f| 2 + 1 + f.name.len() + 1 + f.value.len())
        .sum();
    assert!(bound <= 6 + raw);
    let mut out = vec![0u8; bound - 1];
    let mut short = encoder.clone();
    assert_eq!(
        short.encode_block(fields, &mut out),
        Err(EncodeError::BufferFull { needed: bound })
    );
    assert!(short.table().is_empty());
    let mut out = vec![0u8; bound];
    let mut fits = encoder.clone();
    let len = fits.encode_block(fields, &mut out).unwrap();
    assert!(len < bound);
    let mut decoder = Decoder::<4096>::new();
    let expected: Vec<Field> = fields.iter().map(|f| Field::new(f.name, f.value)).collect();
    assert_eq!(decode_ok(&mut decoder, &out[..len]), expected);
}

#[test]
fn a_block_spread_over_buffers_field_by_field() {
    let fields: Vec<Field> = (0..40)
        .map(|i| Field::new(std::format!("x-field-{i}").as_bytes(), &[b'v'; 30]))
        .collect();
    let mut encoder = Encoder::<4096>::new();
    let mut block = Vec::new();
    let mut buffer = [0u8; 100];
    let mut filled = 0;
    for field in &fields {
        let field = field.as_header_field();
        let len = match encoder.encode_field(&field, &mut buffer[filled..]) {
            Ok(len) => len,
            Err(EncodeError::BufferFull { .. }) => {
                // Send what is there, continue in an empty buffer.
                block.extend_from_slice(&buffer[..filled]);
                filled = 0;
                encoder.encode_field(&field, &mut buffer).unwrap()
            }
        };
        filled += len;
    }
    block.extend_from_slice(&buffer[..filled]);
    let mut decoder = Decoder::<4096>::new();
    assert_eq!(decode_ok(&mut decoder, &block), fields);
    assert_eq!(entries(decoder.table()), entries(encoder.table()));
}
