//! Huffman coding of string literals (RFC 7541 §5.2, Appendix B).
//!
//! Decoding runs the automaton of [`code`] four bits at a time: two table
//! reads a byte, no bit-by-bit tree walk, and, given room for the most
//! bytes a string can decode to, no branch on the data. A string must end on a symbol
//! boundary or in padding of at most 7 one bits; EOS inside a string, a
//! zero in the padding or a longer padding are errors (§5.2).
//!
//! Encoding packs each byte's code into a 64-bit accumulator and pads the
//! last byte with ones, the most significant bits of EOS.

mod code;

use code::{CODES, ENDINGS, Ending, STEPS};

use super::DecodeError;

/// The length of `bytes` once Huffman-coded.
pub(crate) fn encoded_len(bytes: &[u8]) -> usize {
    let bits: usize = bytes
        .iter()
        .map(|&byte| usize::from(CODES[usize::from(byte)].1))
        .sum();
    bits.div_ceil(8)
}

/// Huffman-codes `bytes` at the start of `out`; returns the length
/// written ([`encoded_len`]), or `None` if `out` is shorter than that.
pub(crate) fn encode(bytes: &[u8], out: &mut [u8]) -> Option<usize> {
    let out = out.get_mut(..encoded_len(bytes))?;
    let mut slots = out.iter_mut();
    // Bits waiting to be written are the low `pending` bits of `bits`;
    // fewer than 8 between bytes, so at most 37 after adding a code.
    let mut bits: u64 = 0;
    let mut pending: u32 = 0;
    for &byte in bytes {
        let (code, len) = CODES[usize::from(byte)];
        bits = (bits << len) | u64::from(code);
        pending += u32::from(len);
        while pending >= 8 {
            pending -= 8;
            *slots.next()? = (bits >> pending) as u8;
        }
    }
    if pending > 0 {
        // The rest of the last byte: ones, the first bits of EOS.
        *slots.next()? = ((bits << (8 - pending)) as u8) | (0xff >> pending);
    }
    Some(out.len())
}

/// Fails unless a string may end in the state whose row is `row`: after
/// at most 7 one bits of padding (§5.2).
fn check_ending(row: usize) -> Result<(), DecodeError> {
    match ENDINGS[(row >> 4) & 0xff] {
        Ending::Valid => Ok(()),
        Ending::PaddingTooLong => Err(DecodeError::HuffmanPaddingTooLong),
        Ending::PaddingNotOnes => Err(DecodeError::HuffmanPaddingNotOnes),
    }
}

/// Decodes the Huffman-coded `bytes` into the start of `out`; returns the
/// length written. The Huffman errors if `bytes` is not a valid string,
/// else [`DecodeError::BufferFull`] if `out` is too short.
pub(crate) fn decode(bytes: &[u8], out: &mut [u8]) -> Result<usize, DecodeError> {
    // The current state's row in `STEPS`, masked when used so that every
    // index is seen in bounds. EOS is remembered and reported at the end:
    // what is decoded after it does not matter.
    let mut row = 0;
    let mut written = 0;
    let mut eos = false;
    if out.len() / 2 >= bytes.len() {
        // Room for a symbol per 4-bit group, the most there can be: each
        // group writes the next slot and moves past it only if it
        // completed a byte, so nothing branches on the data.
        for &byte in bytes {
            for group in [byte >> 4, byte & 0x0f] {
                let step = STEPS[(row | usize::from(group)) & 0xfff];
                if let Some(slot) = out.get_mut(written) {
                    *slot = step.symbol();
                }
                written += step.emitted();
                eos |= step.is_eos();
                row = step.next_row();
            }
        }
    } else {
        for &byte in bytes {
            for group in [byte >> 4, byte & 0x0f] {
                let step = STEPS[(row | usize::from(group)) & 0xfff];
                if step.emitted() == 1 {
                    let Some(slot) = out.get_mut(written) else {
                        // Report an invalid string as such.
                        decoded_len(bytes)?;
                        return Err(DecodeError::BufferFull);
                    };
                    *slot = step.symbol();
                    written += 1;
                }
                eos |= step.is_eos();
                row = step.next_row();
            }
        }
    }
    if eos {
        return Err(DecodeError::HuffmanEos);
    }
    check_ending(row)?;
    Ok(written)
}

/// The length of the Huffman-coded `bytes` once decoded, checking they
/// are a valid string.
pub(crate) fn decoded_len(bytes: &[u8]) -> Result<usize, DecodeError> {
    let mut row = 0;
    let mut len = 0;
    let mut eos = false;
    for &byte in bytes {
        for group in [byte >> 4, byte & 0x0f] {
            let step = STEPS[(row | usize::from(group)) & 0xfff];
            len += step.emitted();
            eos |= step.is_eos();
            row = step.next_row();
        }
    }
    if eos {
        return Err(DecodeError::HuffmanEos);
    }
    check_ending(row)?;
    Ok(len)
}

#[cfg(test)]
mod tests {
    use std::vec;
    use std::vec::Vec;

    use super::*;

    fn round_trip(bytes: &[u8]) {
        let mut coded = vec![0u8; encoded_len(bytes)];
        assert_eq!(encode(bytes, &mut coded), Some(coded.len()));
        let mut decoded = vec![0u8; bytes.len()];
        assert_eq!(decode(&coded, &mut decoded), Ok(bytes.len()));
        assert_eq!(decoded, bytes);
        assert_eq!(decoded_len(&coded), Ok(bytes.len()));
    }

    #[test]
    fn every_symbol_round_trips() {
        for byte in 0..=255u8 {
            round_trip(&[byte]);
            round_trip(&[byte, byte, byte]);
            round_trip(&[b'a', byte, b'0']);
        }
        let all: Vec<u8> = (0..=255).collect();
        round_trip(&all);
        let reversed: Vec<u8> = (0..=255).rev().collect();
        round_trip(&reversed);
        round_trip(b"");
    }

    #[test]
    fn every_symbol_at_every_bit_offset() {
        // A prefix of 1 to 7 five-bit codes ('0' is 00000) shifts the
        // symbol through every alignment.
        for byte in 0..=255u8 {
            for shift in 0..8 {
                let mut bytes = vec![b'0'; shift];
                bytes.push(byte);
                round_trip(&bytes);
            }
        }
    }

    /// The RFC's examples (C.4 and C.6).
    #[test]
    fn rfc_vectors() {
        let vectors: [(&[u8], &[u8]); 6] = [
            (
                b"www.example.com",
                &[
                    0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff,
                ],
            ),
            (b"no-cache", &[0xa8, 0xeb, 0x10, 0x64, 0x9c, 0xbf]),
            (
                b"custom-key",
                &[0x25, 0xa8, 0x49, 0xe9, 0x5b, 0xa9, 0x7d, 0x7f],
            ),
            (
                b"custom-value",
                &[0x25, 0xa8, 0x49, 0xe9, 0x5b, 0xb8, 0xe8, 0xb4, 0xbf],
            ),
            (b"302", &[0x64, 0x02]),
            (b"gzip", &[0x9b, 0xd9, 0xab]),
        ];
        for (plain, coded) in vectors {
            assert_eq!(encoded_len(plain), coded.len());
            let mut out = [0u8; 16];
            assert_eq!(encode(plain, &mut out), Some(coded.len()));
            assert_eq!(&out[..coded.len()], coded);
            let mut decoded = [0u8; 16];
            assert_eq!(decode(coded, &mut decoded), Ok(plain.len()));
            assert_eq!(&decoded[..plain.len()], plain);
        }
    }

    #[test]
    fn eos_is_refused() {
        // EOS alone: 30 ones, then 2 bits of padding.
        assert_eq!(
            decoded_len(&[0xff, 0xff, 0xff, 0xff]),
            Err(DecodeError::HuffmanEos)
        );
        // After a symbol: 'a' (00011) then EOS.
        let mut bits: u64 = (0b00011 << 30) | 0x3fff_ffff;
        bits <<= 64 - 35;
        let bytes = bits.to_be_bytes();
        assert_eq!(decoded_len(&bytes[..5]), Err(DecodeError::HuffmanEos));
        // Before a symbol.
        assert_eq!(
            decoded_len(&[0xff, 0xff, 0xff, 0xfc, 0x00]),
            Err(DecodeError::HuffmanEos)
        );
    }

    #[test]
    fn padding_rules() {
        // 'a' (00011) + 3 ones: valid.
        assert_eq!(decoded_len(&[0b0001_1111]), Ok(1));
        // 'a' + 3 bits with a zero.
        assert_eq!(
            decoded_len(&[0b0001_1110]),
            Err(DecodeError::HuffmanPaddingNotOnes)
        );
        assert_eq!(
            decoded_len(&[0b0001_1011]),
            Err(DecodeError::HuffmanPaddingNotOnes)
        );
        // 'a' + 3 ones, then a whole byte of ones: 11 bits of padding.
        assert_eq!(
            decoded_len(&[0b0001_1111, 0xff]),
            Err(DecodeError::HuffmanPaddingTooLong)
        );
        // A lone byte of ones: 8 bits of padding.
        assert_eq!(
            decoded_len(&[0xff]),
            Err(DecodeError::HuffmanPaddingTooLong)
        );
        // Exactly 7 ones after a 9-bit stretch: '0' '0' (10 bits) + 6 ones.
        assert_eq!(decoded_len(&[0x00, 0b0011_1111]), Ok(2));
        // '&' (11111000, 8 bits) then a byte of 7 ones after '0'... here a
        // full byte of ones after a symbol ending on a byte boundary.
        assert_eq!(
            decoded_len(&[0xf8, 0xff]),
            Err(DecodeError::HuffmanPaddingTooLong)
        );
        // A symbol cut short is a padding that is not all ones.
        assert_eq!(
            decoded_len(&[0x00]),
            Err(DecodeError::HuffmanPaddingNotOnes)
        );
    }

    #[test]
    fn decode_stops_at_the_end_of_the_buffer() {
        let mut coded = [0u8; 16];
        let len = encode(b"hello", &mut coded).unwrap();
        let mut out = [0u8; 5];
        assert_eq!(decode(&coded[..len], &mut out), Ok(5));
        let mut short = [0u8; 4];
        assert_eq!(
            decode(&coded[..len], &mut short),
            Err(DecodeError::BufferFull)
        );
        assert_eq!(encode(b"hello", &mut coded[..len - 1]), None);
    }
}
