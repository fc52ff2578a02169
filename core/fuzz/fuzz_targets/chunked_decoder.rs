//! Arbitrary bytes through the in-place chunked decoder, whole and in
//! pieces: it never panics, and however the input is split it produces the
//! same payload, stops at the same byte and reports the same error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peregrine_core::Error;
use peregrine_core::chunked::ChunkedDecoder;

/// Payload, where the message ended (if it did), and the error (if any).
#[derive(Debug, PartialEq)]
struct Outcome {
    payload: Vec<u8>,
    end: Option<usize>,
    error: Option<Error>,
}

/// Decodes `input` handed over in pieces of `step` bytes, as a server
/// would: each piece is decoded in place, the payload moved out.
fn decode(input: &[u8], step: usize) -> Outcome {
    let mut decoder = ChunkedDecoder::new()
        .with_max_extension_len(64)
        .with_max_trailer_len(128);
    let mut outcome = Outcome {
        payload: Vec::new(),
        end: None,
        error: None,
    };
    let mut offset = 0;
    while offset < input.len() {
        let mut piece = input[offset..(offset + step).min(input.len())].to_vec();
        match decoder.decode_in_place(&mut piece) {
            Ok(decoded) => {
                assert!(decoded.produced <= decoded.consumed && decoded.consumed <= piece.len());
                outcome
                    .payload
                    .extend_from_slice(&piece[..decoded.produced]);
                if decoded.done {
                    outcome.end = Some(offset + decoded.consumed);
                    return outcome;
                }
                assert_eq!(
                    decoded.consumed,
                    piece.len(),
                    "all input is consumed until done"
                );
                offset += piece.len();
            }
            Err(error) => {
                outcome.error = Some(error);
                return outcome;
            }
        }
    }
    outcome
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, input)) = data.split_first() else {
        return;
    };
    let whole = decode(input, input.len().max(1));
    let step = usize::from(split % 9) + 1;
    let pieces = decode(input, step);
    if whole.error.is_some() || pieces.error.is_some() {
        // A call that fails reports no payload, so with an error the payload
        // seen depends on where the pieces broke: only the prefix must agree.
        assert_eq!(whole.error, pieces.error, "pieces of {step}");
        let shorter = whole.payload.len().min(pieces.payload.len());
        assert_eq!(whole.payload[..shorter], pieces.payload[..shorter]);
    } else {
        assert_eq!(whole, pieces, "pieces of {step}");
    }
});
