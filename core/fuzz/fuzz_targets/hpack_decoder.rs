//! Arbitrary header blocks through the HPACK decoder, with table size
//! limits changing between blocks: it never panics; a decoder with tight
//! limits (header list size, output buffer) agrees with one without them,
//! failing with a limit error where the other succeeds, with the same
//! compression error where the other fails, and holding the same table
//! after every block; and the fields decoded, encoded again and decoded by
//! a second decoder, come out the same, with that decoder's table in step
//! with the encoder's.
//!
//! Input: a byte choosing the decoders' capacity, two bytes of header list
//! limit and two of output buffer length for the tight decoder, then
//! blocks, each a control byte (bit 0: a new table size limit for the
//! decoders follows, two bytes; bit 1: a new peer table size for the
//! encoder follows, two bytes), two bytes of length, and the block.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peregrine_core::h2::hpack::{DecodeError, Decoder, Encoder, HeaderField, Sensitivity};

/// A decoded field, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Field {
    name: Vec<u8>,
    value: Vec<u8>,
    sensitivity: Sensitivity,
}

/// Reads the input a piece at a time.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(first)
    }

    fn u16(&mut self) -> Option<usize> {
        Some(usize::from(u16::from_le_bytes([self.byte()?, self.byte()?])))
    }

    fn take(&mut self, len: usize) -> &'a [u8] {
        let (taken, rest) = self.0.split_at(len.min(self.0.len()));
        self.0 = rest;
        taken
    }
}

/// Decodes `block`, checking what the decoder reports of each field.
fn decode<const C: usize>(
    decoder: &mut Decoder<C>,
    block: &[u8],
    out: &mut [u8],
) -> (Vec<Field>, Result<(), DecodeError>) {
    let mut fields = Vec::new();
    let mut offsets = Vec::new();
    let result = decoder.decode(block, out, |field| {
        assert_eq!(field.name_range().end, field.value_range().start);
        offsets.push((field.name_range(), field.value_range()));
        fields.push(Field {
            name: field.name.to_vec(),
            value: field.value.to_vec(),
            sensitivity: field.sensitivity,
        });
        Ok::<_, DecodeError>(())
    });
    match result {
        Ok(decoded) => {
            assert_eq!(decoded.fields, fields.len());
            assert!(decoded.written <= out.len());
            assert!(decoded.header_list_size <= decoder.max_header_list_size());
            for (field, (name, value)) in fields.iter().zip(offsets) {
                assert_eq!(out[name], field.name[..]);
                assert_eq!(out[value], field.value[..]);
            }
            (fields, Ok(()))
        }
        Err(error) => (fields, Err(error)),
    }
}

fn run<const C: usize>(mut input: Input<'_>) -> Option<()> {
    let mut loose = Decoder::<C>::new().with_max_header_list_size(usize::MAX);
    let mut tight = Decoder::<C>::new().with_max_header_list_size(input.u16()?);
    let mut loose_out = vec![0u8; 1 << 16];
    let mut tight_out = vec![0u8; input.u16()?];
    let mut encoder = Encoder::<4096>::new();
    let mut again = Decoder::<4096>::new().with_max_header_list_size(usize::MAX);
    let mut again_out = vec![0u8; 1 << 16];
    loop {
        let control = input.byte()?;
        if control & 1 != 0 {
            let size = input.u16()?;
            loose.set_max_table_size(size);
            tight.set_max_table_size(size);
        }
        if control & 2 != 0 {
            let size = input.u16()?;
            encoder.set_max_table_size(size);
            again.set_max_table_size(size);
        }
        let len = input.u16()?;
        let block = input.take(len);

        let (fields, result) = decode(&mut loose, block, &mut loose_out);
        let (tight_fields, tight_result) = decode(&mut tight, block, &mut tight_out);
        match (result, tight_result) {
            (Err(error), _) if error.is_compression_error() => {
                // The tight decoder finds the same error, and neither takes
                // another block.
                assert_eq!(tight_result, Err(error));
                assert_eq!(loose.failure(), Some(error));
                assert_eq!(decode(&mut loose, b"\x82", &mut loose_out).1, Err(error));
                return None;
            }
            (Ok(()), Ok(())) => assert_eq!(tight_fields, fields),
            (_, Err(error)) => {
                // A limit: the fields until then, and the table in step.
                assert!(!error.is_compression_error(), "{error}");
                assert!(tight_fields.len() <= fields.len());
                assert_eq!(tight_fields[..], fields[..tight_fields.len()]);
                // The loose decoder may have run out of buffer too (a block
                // naming large entries many times), never before the tight
                // one.
            }
            (Err(error), Ok(())) => panic!("only the loose decoder failed: {error}"),
        }
        assert!(loose.table().iter().eq(tight.table().iter()));
        assert_eq!(loose.table().size(), tight.table().size());
        assert_eq!(loose.table().max_size(), tight.table().max_size());
        assert_eq!(loose.size_update_required(), tight.size_update_required());
        if result.is_err() {
            // Not every field was decoded: nothing to encode again.
            continue;
        }

        // The fields again, through an encoder and a second decoder.
        let headers: Vec<HeaderField<'_>> = fields
            .iter()
            .map(|field| HeaderField {
                name: &field.name,
                value: &field.value,
                sensitivity: field.sensitivity,
            })
            .collect();
        let mut block = vec![0u8; encoder.max_block_len(headers.iter().copied())];
        let len = encoder
            .encode_block(headers.iter().copied(), &mut block)
            .expect("max_block_len is enough");
        let (decoded, result) = decode(&mut again, &block[..len], &mut again_out);
        assert_eq!(result, Ok(()));
        assert_eq!(decoded.len(), fields.len());
        for (got, sent) in decoded.iter().zip(&fields) {
            assert_eq!(got.name, sent.name);
            assert_eq!(got.value, sent.value);
            if sent.sensitivity == Sensitivity::NeverIndexed {
                assert_eq!(got.sensitivity, Sensitivity::NeverIndexed);
            }
        }
        assert!(again.table().iter().eq(encoder.table().iter()));
        assert_eq!(again.table().size(), encoder.table().size());
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let Some(capacity) = input.byte() else {
        return;
    };
    match capacity % 3 {
        0 => run::<4096>(input),
        1 => run::<256>(input),
        _ => run::<64>(input),
    };
});
