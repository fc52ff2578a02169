//! Every example of RFC 7541 Appendix C, decoded and encoded: C.1 is in
//! the `integer` module; here C.2 (single fields), C.3 and C.4 (requests,
//! raw and Huffman-coded), C.5 and C.6 (responses with evictions in a
//! 256-byte table), with the dynamic table checked after each block.

use std::vec;
use std::vec::Vec;

use super::{Field, decode_ok, encode, entries, hex};
use crate::h2::hpack::{Decoder, Encoder};

/// One block of a sequence: its fields, its bytes, the table after it
/// (newest first) and the table size.
struct Step {
    fields: Vec<Field>,
    block: &'static str,
    table: &'static [&'static str],
    size: usize,
}

/// Decodes the blocks in order with one decoder, and encodes the fields in
/// order with one encoder, checking bytes and tables after each block.
/// `announce` is what the encoder writes first: the size update of a
/// 256-byte encoder, which the RFC's examples leave out.
fn run<const CAPACITY: usize>(steps: &[Step], mut encoder: Encoder<CAPACITY>, announce: &[u8]) {
    let mut decoder = Decoder::<CAPACITY>::new();
    for (number, step) in steps.iter().enumerate() {
        let block = hex(step.block);
        assert_eq!(
            decode_ok(&mut decoder, &block),
            step.fields,
            "block {number}"
        );
        assert_eq!(entries(decoder.table()), step.table, "block {number}");
        assert_eq!(decoder.table().size(), step.size);

        let mut expected = if number == 0 {
            announce.to_vec()
        } else {
            vec![]
        };
        expected.extend_from_slice(&block);
        assert_eq!(
            encode(&mut encoder, &step.fields),
            expected,
            "block {number}"
        );
        assert_eq!(entries(encoder.table()), step.table, "block {number}");
        assert_eq!(encoder.table().size(), step.size);
    }
}

#[test]
fn c_2_1_literal_with_indexing() {
    let fields = vec![Field::new(b"custom-key", b"custom-header")];
    let step = Step {
        fields,
        block: "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
        table: &["custom-key: custom-header"],
        size: 55,
    };
    run(&[step], Encoder::<4096>::with_test_policy(true, false), &[]);
}

#[test]
fn c_2_2_literal_without_indexing() {
    let step = Step {
        fields: vec![Field::new(b":path", b"/sample/path")],
        block: "040c 2f73 616d 706c 652f 7061 7468",
        table: &[],
        size: 0,
    };
    // The standard policy does not index `:path`.
    run(
        &[step],
        Encoder::<4096>::with_test_policy(false, false),
        &[],
    );
}

#[test]
fn c_2_3_literal_never_indexed() {
    let step = Step {
        fields: vec![Field::never_indexed(b"password", b"secret")],
        block: "1008 7061 7373 776f 7264 0673 6563 7265 74",
        table: &[],
        size: 0,
    };
    run(&[step], Encoder::<4096>::with_test_policy(true, false), &[]);
}

#[test]
fn c_2_4_indexed_field() {
    let step = Step {
        fields: vec![Field::new(b":method", b"GET")],
        block: "82",
        table: &[],
        size: 0,
    };
    run(&[step], Encoder::<4096>::new(), &[]);
}

/// The three requests of C.3 and C.4.
fn requests(blocks: [&'static str; 3]) -> Vec<Step> {
    let first = vec![
        Field::new(b":method", b"GET"),
        Field::new(b":scheme", b"http"),
        Field::new(b":path", b"/"),
        Field::new(b":authority", b"www.example.com"),
    ];
    let mut second = first.clone();
    second.push(Field::new(b"cache-control", b"no-cache"));
    let third = vec![
        Field::new(b":method", b"GET"),
        Field::new(b":scheme", b"https"),
        Field::new(b":path", b"/index.html"),
        Field::new(b":authority", b"www.example.com"),
        Field::new(b"custom-key", b"custom-value"),
    ];
    vec![
        Step {
            fields: first,
            block: blocks[0],
            table: &[":authority: www.example.com"],
            size: 57,
        },
        Step {
            fields: second,
            block: blocks[1],
            table: &["cache-control: no-cache", ":authority: www.example.com"],
            size: 110,
        },
        Step {
            fields: third,
            block: blocks[2],
            table: &[
                "custom-key: custom-value",
                "cache-control: no-cache",
                ":authority: www.example.com",
            ],
            size: 164,
        },
    ]
}

#[test]
fn c_3_requests_without_huffman() {
    let steps = requests([
        "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
        "8286 84be 5808 6e6f 2d63 6163 6865",
        "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
    ]);
    // The standard indexing policy makes the RFC's choices here.
    run(&steps, Encoder::<4096>::with_test_policy(false, false), &[]);
}

#[test]
fn c_4_requests_with_huffman() {
    let steps = requests([
        "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
        "8286 84be 5886 a8eb 1064 9cbf",
        "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
    ]);
    run(&steps, Encoder::<4096>::with_test_policy(false, true), &[]);
    // Every string is shorter Huffman-coded: the standard encoder agrees.
    run(&steps, Encoder::<4096>::new(), &[]);
}

/// The three responses of C.5 and C.6, in a 256-byte table.
fn responses(blocks: [&'static str; 3]) -> Vec<Step> {
    let date = b"Mon, 21 Oct 2013 20:13:21 GMT";
    let first = vec![
        Field::new(b":status", b"302"),
        Field::new(b"cache-control", b"private"),
        Field::new(b"date", date),
        Field::new(b"location", b"https://www.example.com"),
    ];
    let mut second = first.clone();
    second[0] = Field::new(b":status", b"307");
    let third = vec![
        Field::new(b":status", b"200"),
        Field::new(b"cache-control", b"private"),
        Field::new(b"date", b"Mon, 21 Oct 2013 20:13:22 GMT"),
        Field::new(b"location", b"https://www.example.com"),
        Field::new(b"content-encoding", b"gzip"),
        Field::new(
            b"set-cookie",
            b"foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
        ),
    ];
    vec![
        Step {
            fields: first,
            block: blocks[0],
            table: &[
                "location: https://www.example.com",
                "date: Mon, 21 Oct 2013 20:13:21 GMT",
                "cache-control: private",
                ":status: 302",
            ],
            size: 222,
        },
        Step {
            fields: second,
            block: blocks[1],
            table: &[
                ":status: 307",
                "location: https://www.example.com",
                "date: Mon, 21 Oct 2013 20:13:21 GMT",
                "cache-control: private",
            ],
            size: 222,
        },
        Step {
            fields: third,
            block: blocks[2],
            table: &[
                "set-cookie: foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
                "content-encoding: gzip",
                "date: Mon, 21 Oct 2013 20:13:22 GMT",
            ],
            size: 215,
        },
    ]
}

/// A 256-byte encoder announces its table size in its first block: 256
/// with a 5-bit prefix.
const ANNOUNCE_256: [u8; 3] = [0x3f, 0xe1, 0x01];

#[test]
fn c_5_responses_without_huffman() {
    let steps = responses([
        "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
         2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70
         6c65 2e63 6f6d",
        "4803 3330 37c1 c0bf",
        "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
         54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
         5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e
         3d31",
    ]);
    run(
        &steps,
        Encoder::<256>::with_test_policy(true, false),
        &ANNOUNCE_256,
    );
}

#[test]
fn c_6_responses_with_huffman() {
    let steps = responses([
        "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
         2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
        "4883 640e ffc1 c0bf",
        "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
         77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
         9587 3160 65c0 03ed 4ee5 b106 3d50 07",
    ]);
    run(
        &steps,
        Encoder::<256>::with_test_policy(true, true),
        &ANNOUNCE_256,
    );
}

#[test]
fn c_5_through_a_larger_decoder() {
    // A 4096-byte decoder told to allow 256 needs the update the RFC's
    // examples leave out, and accepts the blocks with it.
    let mut decoder = Decoder::<4096>::new();
    decoder.set_max_table_size(256);
    assert!(decoder.size_update_required());
    let mut block = ANNOUNCE_256.to_vec();
    block.extend(hex("4803 3330 3258 0770 7269 7661 7465"));
    assert_eq!(
        decode_ok(&mut decoder, &block),
        [
            Field::new(b":status", b"302"),
            Field::new(b"cache-control", b"private")
        ]
    );
    assert_eq!(decoder.table().max_size(), 256);
    assert!(!decoder.size_update_required());
}
