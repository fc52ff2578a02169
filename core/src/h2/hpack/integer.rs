//! Prefix integers (RFC 7541 §5.1).
//!
//! An integer starts in the low N bits of a byte whose high bits belong to
//! the representation. Below 2^N − 1 it fits there; otherwise those bits
//! are all ones and the rest, `value − (2^N − 1)`, follows in 7-bit groups,
//! least significant first, each byte's high bit set when another follows.
//!
//! Every integer HPACK carries (an index, a string length, a table size)
//! fits `u32`: the decoder refuses larger values, and integers padded with
//! more continuation bytes than a `u32` needs (five), which could otherwise
//! make a decoder spin over a long run of `0x80` bytes.

use super::DecodeError;

/// The most continuation bytes a `u32` needs: 32 bits, 7 a byte.
const MAX_CONTINUATION_BYTES: usize = 5;

/// Decodes the integer with a `prefix_bits`-bit prefix (1 to 8) at the
/// start of `input`; returns it and the number of bytes it took.
pub(crate) fn decode(input: &[u8], prefix_bits: u8) -> Result<(usize, usize), DecodeError> {
    let max_prefix = u8::MAX >> (8 - prefix_bits);
    let Some((&first, continuation)) = input.split_first() else {
        return Err(DecodeError::Truncated);
    };
    let prefix = first & max_prefix;
    if prefix < max_prefix {
        return Ok((usize::from(prefix), 1));
    }
    let mut value = u64::from(max_prefix);
    let mut shift = 0u32;
    for (taken, &byte) in continuation.iter().enumerate().take(MAX_CONTINUATION_BYTES) {
        value += u64::from(byte & 0x7f) << shift;
        if value > u64::from(u32::MAX) {
            return Err(DecodeError::IntegerOverflow);
        }
        if byte & 0x80 == 0 {
            let value = usize::try_from(value).map_err(|_| DecodeError::IntegerOverflow)?;
            return Ok((value, taken + 2));
        }
        shift += 7;
    }
    if continuation.len() > MAX_CONTINUATION_BYTES {
        Err(DecodeError::IntegerOverflow)
    } else {
        Err(DecodeError::Truncated)
    }
}

/// How many bytes [`encode`] takes for `value` with a `prefix_bits`-bit
/// prefix.
pub(crate) const fn encoded_len(value: usize, prefix_bits: u8) -> usize {
    let max_prefix = (u8::MAX >> (8 - prefix_bits)) as usize;
    if value < max_prefix {
        return 1;
    }
    let mut rest = value - max_prefix;
    let mut len = 2;
    while rest >= 0x80 {
        rest >>= 7;
        len += 1;
    }
    len
}

/// Writes `value` with a `prefix_bits`-bit prefix at the start of `out`,
/// `flags` filling the high bits of the first byte; returns the bytes
/// written, or `None` (nothing written) if `out` is too short.
pub(crate) fn encode(value: usize, prefix_bits: u8, flags: u8, out: &mut [u8]) -> Option<usize> {
    let len = encoded_len(value, prefix_bits);
    let out = out.get_mut(..len)?;
    let max_prefix = u8::MAX >> (8 - prefix_bits);
    let (first, rest) = out.split_first_mut()?;
    if value < usize::from(max_prefix) {
        *first = flags | value as u8;
        return Some(len);
    }
    *first = flags | max_prefix;
    let mut remaining = value - usize::from(max_prefix);
    for byte in rest.iter_mut() {
        // `encoded_len` sized `rest` so the last byte gets what is left,
        // below 0x80.
        *byte = (remaining & 0x7f) as u8 | if remaining >= 0x80 { 0x80 } else { 0 };
        remaining >>= 7;
    }
    Some(len)
}

#[cfg(test)]
mod tests {
    use std::vec;

    use super::*;

    /// RFC 7541 C.1.1: 10 with a 5-bit prefix.
    #[test]
    fn c_1_1_ten_in_five_bits() {
        let mut out = [0u8; 4];
        assert_eq!(encode(10, 5, 0b1110_0000, &mut out), Some(1));
        assert_eq!(out[0], 0b1110_1010);
        assert_eq!(decode(&out[..1], 5), Ok((10, 1)));
    }

    /// RFC 7541 C.1.2: 1337 with a 5-bit prefix.
    #[test]
    fn c_1_2_1337_in_five_bits() {
        let mut out = [0u8; 4];
        assert_eq!(encode(1337, 5, 0, &mut out), Some(3));
        assert_eq!(out[..3], [0b0001_1111, 0b1001_1010, 0b0000_1010]);
        assert_eq!(decode(&out[..3], 5), Ok((1337, 3)));
        // Bits above the prefix are not part of the integer.
        assert_eq!(decode(&[0xff, 0x9a, 0x0a], 5), Ok((1337, 3)));
    }

    /// RFC 7541 C.1.3: 42 on an octet boundary.
    #[test]
    fn c_1_3_42_in_eight_bits() {
        let mut out = [0u8; 4];
        assert_eq!(encode(42, 8, 0, &mut out), Some(1));
        assert_eq!(out[0], 42);
        assert_eq!(decode(&out[..1], 8), Ok((42, 1)));
    }

    #[test]
    fn round_trips_around_every_boundary() {
        for prefix_bits in 1..=8u8 {
            let max_prefix = (1usize << prefix_bits) - 1;
            let mut values = vec![0, 1, max_prefix - 1, max_prefix, max_prefix + 1];
            for shift in [7, 14, 21, 28] {
                let edge = max_prefix + (1usize << shift);
                values.extend([edge - 1, edge, edge + 1]);
            }
            values.push(u32::MAX as usize);
            for value in values {
                let mut out = [0u8; 8];
                let len = encode(value, prefix_bits, 0, &mut out).unwrap();
                assert_eq!(len, encoded_len(value, prefix_bits));
                assert_eq!(
                    decode(&out[..len], prefix_bits),
                    Ok((value, len)),
                    "{value}"
                );
                // One byte short is truncated, not another value.
                assert_eq!(
                    decode(&out[..len - 1], prefix_bits),
                    Err(DecodeError::Truncated)
                );
                // And it does not fit a buffer one byte short.
                assert_eq!(encode(value, prefix_bits, 0, &mut out[..len - 1]), None);
            }
        }
    }

    #[test]
    fn u32_max_is_the_largest_value() {
        // u32::MAX with a 5-bit prefix: 31 + 4294967264.
        let mut out = [0u8; 8];
        let len = encode(u32::MAX as usize, 5, 0, &mut out).unwrap();
        assert_eq!(len, 6);
        assert_eq!(out[..len], [0x1f, 0xe0, 0xff, 0xff, 0xff, 0x0f]);
        assert_eq!(decode(&out[..len], 5), Ok((u32::MAX as usize, 6)));
        // One more: the last group grows by one.
        assert_eq!(
            decode(&[0x1f, 0xe1, 0xff, 0xff, 0xff, 0x0f], 5),
            Err(DecodeError::IntegerOverflow)
        );
        // Overflow is caught at the byte that causes it.
        assert_eq!(
            decode(&[0x1f, 0xff, 0xff, 0xff, 0xff, 0x7f], 5),
            Err(DecodeError::IntegerOverflow)
        );
    }

    #[test]
    fn at_most_five_continuation_bytes() {
        // 127 + 0, padded with zero groups: five continuation bytes pass.
        assert_eq!(
            decode(&[0x7f, 0x80, 0x80, 0x80, 0x80, 0x00], 7),
            Ok((127, 6))
        );
        // A sixth is refused even though the value is small.
        assert_eq!(
            decode(&[0x7f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00], 7),
            Err(DecodeError::IntegerOverflow)
        );
        // Five with the continuation bit still set and nothing after:
        // truncated; with a byte after: overflow.
        assert_eq!(
            decode(&[0x7f, 0x80, 0x80, 0x80, 0x80, 0x80], 7),
            Err(DecodeError::Truncated)
        );
    }

    #[test]
    fn empty_input_is_truncated() {
        assert_eq!(decode(&[], 7), Err(DecodeError::Truncated));
        assert_eq!(decode(&[0x7f], 7), Err(DecodeError::Truncated));
    }
}
