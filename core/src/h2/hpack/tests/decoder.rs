//! The decoder's limits, at the limit and one past it, and its rules:
//! indices, size updates, truncation, and the table kept in step after an
//! error that is not a compression error.

use std::vec;
use std::vec::Vec;

use super::{Field, decode, decode_err, decode_ok, entries, hex};
use crate::h2::hpack::{DecodeError, Decoder, Sensitivity};

/// A literal with incremental indexing and a literal name, raw strings.
fn indexed_literal(name: &[u8], value: &[u8]) -> Vec<u8> {
    assert!(name.len() < 127 && value.len() < 127);
    let mut block = vec![0x40, name.len() as u8];
    block.extend_from_slice(name);
    block.push(value.len() as u8);
    block.extend_from_slice(value);
    block
}

/// Decodes `block` with unbounded limits: what the peer's encoder meant.
fn reference(blocks: &[&[u8]]) -> Decoder<4096> {
    let mut decoder = Decoder::<4096>::new().with_max_header_list_size(usize::MAX);
    for block in blocks {
        decode_ok(&mut decoder, block);
    }
    decoder
}

#[test]
fn header_list_size_at_the_limit_and_one_past() {
    // custom-key: custom-header (55) then :method: GET (42).
    let block = [indexed_literal(b"custom-key", b"custom-header"), vec![0x82]].concat();
    let mut decoder = Decoder::<4096>::new().with_max_header_list_size(97);
    let (fields, decoded) = decode(&mut decoder, &block).unwrap();
    assert_eq!(fields.len(), 2);
    assert_eq!(decoded.header_list_size, 97);

    let mut decoder = Decoder::<4096>::new().with_max_header_list_size(96);
    assert_eq!(
        decode_err(&mut decoder, &block),
        DecodeError::HeaderListTooLarge
    );
    // Not a compression error: the entry the block added is there.
    assert_eq!(entries(decoder.table()), ["custom-key: custom-header"]);
    assert_eq!(decoder.failure(), None);
    assert_eq!(
        decode_ok(&mut decoder, &[0xbe]),
        [Field::new(b"custom-key", b"custom-header")]
    );

    // Past the limit on the first field, which is still indexed.
    let mut decoder = Decoder::<4096>::new().with_max_header_list_size(54);
    assert_eq!(
        decode_err(&mut decoder, &block),
        DecodeError::HeaderListTooLarge
    );
    assert_eq!(entries(decoder.table()), ["custom-key: custom-header"]);
}

#[test]
fn a_table_entry_named_many_times_is_refused_before_it_is_copied() {
    // An entry with a name of 4000 bytes, then a block naming it 1000
    // times: 4 MB of fields from a 1 KB block.
    let mut decoder = Decoder::<4096>::new();
    let mut first = vec![0x40];
    let mut len = [0u8; 8];
    let prefix = crate::h2::hpack::integer::encode(4000, 7, 0, &mut len).unwrap();
    first.extend_from_slice(&len[..prefix]);
    first.extend(vec![b'y'; 4000]);
    first.extend_from_slice(&[0x01, b'x']);
    decode_ok(&mut decoder, &first);
    assert_eq!(decoder.table().size(), 4033);

    let bomb = vec![0xbe; 1000];
    let mut out = vec![0xaa; 64 * 1024];
    let mut fields = 0;
    let result = decoder.decode(&bomb, &mut out, |_| {
        fields += 1;
        Ok::<_, DecodeError>(())
    });
    assert_eq!(result, Err(DecodeError::HeaderListTooLarge));
    // 16 KiB holds four copies (4 × 4033); the fifth was refused before
    // being copied, and nothing after it was written either.
    assert_eq!(fields, 4);
    assert_eq!(out[4 * 4001], 0xaa);
    assert!(out[4 * 4001..].iter().all(|&byte| byte == 0xaa));

    // Literals named after the large entry are refused before the name is
    // copied too.
    let mut named = vec![];
    for _ in 0..100 {
        named.extend_from_slice(&[0x0f, 0x2f, 0x01, b'v']); // name index 62
    }
    let mut out = vec![0xaa; 64 * 1024];
    let result = decoder.decode(&named, &mut out, |_| Ok::<_, DecodeError>(()));
    assert_eq!(result, Err(DecodeError::HeaderListTooLarge));
    assert!(out[4 * 4002..].iter().all(|&byte| byte == 0xaa));
}

#[test]
fn output_buffer_exactly_full_and_one_byte_short() {
    // C.3.1: 10 + 11 + 6 + 25 = 52 bytes of names and values.
    let block = hex("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d");
    let mut decoder = Decoder::<4096>::new();
    let mut out = [0u8; 52];
    let decoded = decoder
        .decode(&block, &mut out, |_| Ok::<_, DecodeError>(()))
        .unwrap();
    assert_eq!(decoded.written, 52);
    assert_eq!(&out[27..], b":authoritywww.example.com");

    let mut decoder = Decoder::<4096>::new();
    let mut out = [0u8; 51];
    let result = decoder.decode(&block, &mut out, |_| Ok::<_, DecodeError>(()));
    assert_eq!(result, Err(DecodeError::BufferFull));
    // The field that did not fit still entered the table.
    assert_eq!(entries(decoder.table()), [":authority: www.example.com"]);
    assert_eq!(decoder.failure(), None);

    // Huffman-coded, one byte short: the same.
    let block = hex("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff");
    let mut decoder = Decoder::<4096>::new();
    let result = decoder.decode(&block, &mut out, |_| Ok::<_, DecodeError>(()));
    assert_eq!(result, Err(DecodeError::BufferFull));
    assert_eq!(entries(decoder.table()), [":authority: www.example.com"]);
}

#[test]
fn after_a_limit_the_rest_of_the_block_still_reaches_the_table() {
    // Every kind of field after the limit: indexed, literals with static,
    // dynamic and literal names (Huffman-coded or not), never-indexed, and
    // one named after the entry its insertion evicts.
    let blocks: Vec<Vec<u8>> = vec![
        indexed_literal(b"first", &[b'1'; 100]),
        [
            vec![0x82],
            indexed_literal(b"second", b"2"),
            hex("4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"), // custom-key: custom-value
            hex("5886 a8eb 1064 9cbf"),                               // cache-control: no-cache
            hex("1008 7061 7373 776f 7264 0673 6563 7265 74"),        // password: secret, never
            // Named after index 64, "second", with a value long enough
            // to evict it from a 256-byte table.
            [vec![0x7f, 0x01, 100], vec![b'3'; 100]].concat(),
            vec![0xbe],
        ]
        .concat(),
    ];
    let expected = reference(&[&blocks[0], &blocks[1]]);
    for limit in [0, 40, 200, 300, 400] {
        let mut decoder = Decoder::<4096>::new().with_max_header_list_size(limit);
        let _ = decode(&mut decoder, &blocks[0]);
        let _ = decode(&mut decoder, &blocks[1]);
        assert_eq!(decoder.failure(), None);
        assert_eq!(
            entries(decoder.table()),
            entries(expected.table()),
            "limit {limit}"
        );
    }
    // A small table, where the last literal evicts the entry it is named
    // after, with output buffers too small.
    let mut expected = Decoder::<256>::new();
    decode_ok(&mut expected, &blocks[0]);
    decode_ok(&mut expected, &blocks[1]);
    for size in [0, 10, 30, 60] {
        let mut decoder = Decoder::<256>::new();
        let mut out = vec![0u8; size];
        for block in &blocks {
            let _ = decoder.decode(block, &mut out, |_| Ok::<_, DecodeError>(()));
        }
        assert_eq!(decoder.failure(), None);
        assert_eq!(
            entries(decoder.table()),
            entries(expected.table()),
            "buffer {size}"
        );
    }
}

#[test]
fn a_callback_error_is_returned_after_the_block() {
    #[derive(Debug, PartialEq)]
    enum Refused {
        Hpack(DecodeError),
        TooManyFields,
    }
    impl From<DecodeError> for Refused {
        fn from(error: DecodeError) -> Self {
            Refused::Hpack(error)
        }
    }
    let block = [indexed_literal(b"a", b"1"), indexed_literal(b"b", b"2")].concat();
    let mut decoder = Decoder::<4096>::new();
    let mut out = [0u8; 64];
    let mut calls = 0;
    let result = decoder.decode(&block, &mut out, |_| {
        calls += 1;
        Err(Refused::TooManyFields)
    });
    assert_eq!(result, Err(Refused::TooManyFields));
    assert_eq!(calls, 1);
    assert_eq!(entries(decoder.table()), ["b: 2", "a: 1"]);

    // A compression error later in the block wins.
    let block = [indexed_literal(b"c", b"3"), vec![0x80]].concat();
    let result = decoder.decode(&block, &mut out, |_| Err(Refused::TooManyFields));
    assert_eq!(result, Err(Refused::Hpack(DecodeError::IndexZero)));
}

#[test]
fn indices() {
    let mut decoder = Decoder::<4096>::new();
    assert_eq!(
        decode_ok(&mut decoder, &[0xbd]),
        [Field::new(b"www-authenticate", b"")]
    );
    assert_eq!(
        decode_err(&mut Decoder::<4096>::new(), &[0x80]),
        DecodeError::IndexZero
    );
    assert_eq!(
        decode_err(&mut Decoder::<4096>::new(), &[0xbe]),
        DecodeError::IndexOutOfRange
    );
    // A literal naming a missing entry.
    let block = [0x7f, 0x00, 0x01, b'v'];
    assert_eq!(
        decode_err(&mut Decoder::<4096>::new(), &block),
        DecodeError::IndexOutOfRange
    );
    // The last dynamic entry and one past it.
    let mut decoder = Decoder::<4096>::new();
    decode_ok(
        &mut decoder,
        &[indexed_literal(b"a", b"1"), indexed_literal(b"b", b"2")].concat(),
    );
    assert_eq!(decode_ok(&mut decoder, &[0xbf]), [Field::new(b"a", b"1")]);
    assert_eq!(
        decode_err(&mut decoder, &[0xc0]),
        DecodeError::IndexOutOfRange
    );
    // An index beyond u32.
    let block = [0xff, 0xff, 0xff, 0xff, 0xff, 0x7f];
    assert_eq!(
        decode_err(&mut Decoder::<4096>::new(), &block),
        DecodeError::IntegerOverflow
    );
}

#[test]
fn a_compression_error_is_final() {
    let mut decoder = Decoder::<4096>::new();
    assert_eq!(
        decode_err(&mut decoder, &[0x82, 0x80]),
        DecodeError::IndexZero
    );
    assert_eq!(decoder.failure(), Some(DecodeError::IndexZero));
    assert_eq!(decode_err(&mut decoder, &[0x82]), DecodeError::IndexZero);
}

#[test]
fn never_indexed_fields_are_reported() {
    let block = hex("1008 7061 7373 776f 7264 0673 6563 7265 74 0004 6e61 6d65 0176");
    let fields = decode_ok(&mut Decoder::<4096>::new(), &block);
    assert_eq!(
        fields,
        [
            Field::never_indexed(b"password", b"secret"),
            Field::new(b"name", b"v")
        ]
    );
    assert_eq!(fields[0].sensitivity, Sensitivity::NeverIndexed);
}

#[test]
fn every_truncation_is_refused() {
    // C.4.3, after C.3.1 and C.3.2.
    let block = &hex("8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf");
    let complete = [1, 2, 3, 4, block.len()];
    for len in 0..=block.len() {
        let mut decoder = reference(&[&hex("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d")]);
        decode_ok(&mut decoder, &hex("8286 84be 5808 6e6f 2d63 6163 6865"));
        let result = decode(&mut decoder, &block[..len]);
        if complete.contains(&len) || len == 0 {
            assert!(result.is_ok(), "{len}");
        } else {
            assert_eq!(result.unwrap_err(), DecodeError::Truncated, "{len}");
        }
    }
}

#[test]
fn table_size_update_up_to_the_limit() {
    // 4096 with a 5-bit prefix, and 4097.
    let mut decoder = Decoder::<4096>::new();
    assert_eq!(decode_ok(&mut decoder, &[0x3f, 0xe1, 0x1f, 0x82]).len(), 1);
    assert_eq!(
        decode_err(&mut Decoder::<4096>::new(), &[0x3f, 0xe2, 0x1f]),
        DecodeError::TableSizeUpdateTooLarge
    );
    // The limit is this side's setting, at most the capacity.
    let mut decoder = Decoder::<8192>::new();
    assert_eq!(
        decode_err(&mut decoder, &[0x3f, 0xe2, 0x1f]),
        DecodeError::TableSizeUpdateTooLarge
    );
    let mut decoder = Decoder::<8192>::new();
    decoder.set_max_table_size(8192);
    assert_eq!(decoder.max_table_size(), 8192);
    decode_ok(&mut decoder, &[0x3f, 0xe1, 0x3f]); // 8192
    assert_eq!(decoder.table().max_size(), 8192);
    let mut decoder = Decoder::<8192>::new();
    decoder.set_max_table_size(100_000);
    assert_eq!(decoder.max_table_size(), 8192);
    assert_eq!(
        decode_err(&mut decoder, &[0x3f, 0xe2, 0x3f]),
        DecodeError::TableSizeUpdateTooLarge
    );
    // A smaller decoder starts with its capacity as the limit.
    let mut decoder = Decoder::<256>::new();
    assert_eq!(decoder.max_table_size(), 256);
    decode_ok(&mut decoder, &[0x3f, 0xe1, 0x01]);
    assert_eq!(
        decode_err(&mut Decoder::<256>::new(), &[0x3f, 0xe2, 0x01]),
        DecodeError::TableSizeUpdateTooLarge
    );
}

#[test]
fn table_size_updates_come_first_and_at_most_twice() {
    // After a field.
    assert_eq!(
        decode_err(&mut Decoder::<4096>::new(), &[0x82, 0x20]),
        DecodeError::MisplacedTableSizeUpdate
    );
    // Two, then a field: fine. Three: refused.
    let mut decoder = Decoder::<4096>::new();
    decode_ok(
        &mut decoder,
        &[indexed_literal(b"a", b"1"), indexed_literal(b"b", b"2")].concat(),
    );
    decode_ok(&mut decoder, &[0x20, 0x3f, 0xe1, 0x1f, 0x82]);
    assert!(
        decoder.table().is_empty(),
        "the first update evicted everything"
    );
    assert_eq!(decoder.table().max_size(), 4096);
    assert_eq!(
        decode_err(&mut Decoder::<4096>::new(), &[0x20, 0x20, 0x20]),
        DecodeError::TooManyTableSizeUpdates
    );
    // A block of updates only is a block.
    decode_ok(&mut Decoder::<4096>::new(), &[0x3f, 0x45]);
}

#[test]
fn a_lowered_limit_requires_an_update() {
    let mut decoder = Decoder::<4096>::new();
    decode_ok(&mut decoder, &indexed_literal(b"a", b"1"));
    decoder.set_max_table_size(4096);
    assert!(!decoder.size_update_required(), "not lowered");
    decoder.set_max_table_size(100);
    decoder.set_max_table_size(2000);
    assert!(decoder.size_update_required());
    // Missing: a field first, or nothing at all.
    assert_eq!(
        decode_err(&mut decoder.clone(), &[0x82]),
        DecodeError::MissingTableSizeUpdate
    );
    assert_eq!(
        decode_err(&mut decoder.clone(), &[]),
        DecodeError::MissingTableSizeUpdate
    );
    // The first update at most the lowest limit (100): 101 refused.
    assert_eq!(
        decode_err(&mut decoder.clone(), &[0x3f, 0x46]),
        DecodeError::TableSizeUpdateTooLarge
    );
    // 100, then up to the current limit (2000), not past it.
    let mut good = decoder.clone();
    decode_ok(&mut good, &[0x3f, 0x45, 0x3f, 0xb1, 0x0f, 0x82]);
    assert_eq!(good.table().max_size(), 2000);
    assert!(!good.size_update_required());
    assert_eq!(
        decode_err(&mut decoder.clone(), &[0x3f, 0x45, 0x3f, 0xb2, 0x0f]),
        DecodeError::TableSizeUpdateTooLarge
    );
    // One update to 0 does too.
    let mut zero = decoder.clone();
    decode_ok(&mut zero, &[0x20]);
    assert!(zero.table().is_empty());
    // Raising the limit requires nothing.
    let mut decoder = Decoder::<8192>::new();
    decoder.set_max_table_size(8192);
    assert!(!decoder.size_update_required());
    decode_ok(&mut decoder, &[0x82]);
}

#[test]
fn empty_block() {
    let mut decoder = Decoder::<4096>::new();
    let (fields, decoded) = decode(&mut decoder, &[]).unwrap();
    assert!(fields.is_empty());
    assert_eq!(decoded.written, 0);
}

#[test]
fn an_invalid_huffman_string_is_a_compression_error() {
    // A value of 8 one bits: padding too long.
    let block = [0x00, 0x01, b'a', 0x81, 0xff];
    assert_eq!(
        decode_err(&mut Decoder::<4096>::new(), &block),
        DecodeError::HuffmanPaddingTooLong
    );
    // Found as well once a limit stopped the output, and in a field that
    // would be indexed.
    let block = [0x82, 0x40, 0x01, b'a', 0x81, 0xff];
    let mut decoder = Decoder::<4096>::new().with_max_header_list_size(10);
    assert_eq!(
        decode_err(&mut decoder, &block),
        DecodeError::HuffmanPaddingTooLong
    );
    assert!(decoder.table().is_empty());
    // EOS in a name, with the output buffer too small.
    let block = [0x40, 0x84, 0xff, 0xff, 0xff, 0xff, 0x00];
    let mut out = [0u8; 2];
    let result = Decoder::<4096>::new().decode(&block, &mut out, |_| Ok::<_, DecodeError>(()));
    assert_eq!(result, Err(DecodeError::HuffmanEos));
}
