//! The base64 alphabet of RFC 4648 §4, with padding, for the handshake's
//! two keys: encoding the 20-byte SHA-1 digest of `Sec-WebSocket-Accept`
//! and checking that `Sec-WebSocket-Key` decodes to 16 bytes.
//!
//! Decoding is strict: padding only at the end and only as needed, no
//! whitespace, and the unused low bits of the last character zero
//! (RFC 4648 §3.5), so a decoded input is the one encoding of its bytes.

/// The 64 characters, by value.
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Marks a byte outside the alphabet in [`VALUES`].
const INVALID: u8 = 0xFF;

/// The value of each alphabet character, [`INVALID`] for every other byte.
const VALUES: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut value = 0;
    while value < 64 {
        table[ALPHABET[value] as usize] = value as u8;
        value += 1;
    }
    table
};

/// The length of the padded encoding of `len` bytes.
pub(crate) const fn encoded_len(len: usize) -> usize {
    len.div_ceil(3) * 4
}

/// Writes the padded encoding of `input` to the start of `out` and returns
/// its length, [`encoded_len`]`(input.len())`; `None`, with nothing
/// written, if `out` is shorter than that.
pub(crate) fn encode(input: &[u8], out: &mut [u8]) -> Option<usize> {
    let len = encoded_len(input.len());
    let out = out.get_mut(..len)?;
    for (group, quad) in input.chunks(3).zip(out.chunks_exact_mut(4)) {
        let b0 = group[0];
        let b1 = group.get(1).copied().unwrap_or(0);
        let b2 = group.get(2).copied().unwrap_or(0);
        let bits = u32::from_be_bytes([0, b0, b1, b2]);
        for (i, c) in quad.iter_mut().enumerate() {
            *c = if i <= group.len() {
                ALPHABET[(bits >> (18 - 6 * i) & 0x3F) as usize]
            } else {
                b'='
            };
        }
    }
    Some(len)
}

/// Decodes the padded encoding `input` into the start of `out` and returns
/// the number of bytes, or `None` if `input` is not a strict encoding (see
/// the module documentation) or its bytes do not fit `out`.
pub(crate) fn decode(input: &[u8], out: &mut [u8]) -> Option<usize> {
    if input.len() % 4 != 0 {
        return None;
    }
    let quads = input.len() / 4;
    let mut len = 0;
    for (index, quad) in input.chunks_exact(4).enumerate() {
        let last = index + 1 == quads;
        // Padding is allowed in the last quad only: "xx==" or "xxx=".
        let pad = match quad {
            [_, _, b'=', b'='] if last => 2,
            [_, _, _, b'='] if last => 1,
            _ => 0,
        };
        let mut bits = 0u32;
        for &c in &quad[..4 - pad] {
            let value = VALUES[c as usize];
            if value == INVALID {
                return None;
            }
            bits = bits << 6 | u32::from(value);
        }
        bits <<= 6 * pad;
        let [_, b0, b1, b2] = bits.to_be_bytes();
        let bytes = [b0, b1, b2];
        let produced = 3 - pad;
        // The bits past the last byte must be zero (RFC 4648 §3.5).
        if bytes[produced..].iter().any(|&b| b != 0) {
            return None;
        }
        out.get_mut(len..len + produced)?
            .copy_from_slice(&bytes[..produced]);
        len += produced;
    }
    Some(len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec;

    /// RFC 4648 §10's test vectors.
    #[test]
    fn rfc4648_vectors() {
        let vectors: &[(&[u8], &[u8])] = &[
            (b"", b""),
            (b"f", b"Zg=="),
            (b"fo", b"Zm8="),
            (b"foo", b"Zm9v"),
            (b"foob", b"Zm9vYg=="),
            (b"fooba", b"Zm9vYmE="),
            (b"foobar", b"Zm9vYmFy"),
        ];
        for &(plain, encoded) in vectors {
            let mut out = [0; 16];
            let len = encode(plain, &mut out).unwrap();
            assert_eq!(&out[..len], encoded);
            let len = decode(encoded, &mut out).unwrap();
            assert_eq!(&out[..len], plain);
        }
    }

    /// What strict decoding refuses.
    #[test]
    fn refused_encodings() {
        let refused: &[&[u8]] = &[
            b"Zg",       // unpadded
            b"Zg=",      // short padding
            b"Zh==",     // non-zero pad bits (RFC 4648 §3.5)
            b"Zm9=",     // non-zero pad bits
            b"Zg==Zg==", // padding inside
            b"Z===",     // three pad characters
            b"====",     // padding alone
            b"Zm 9v",    // whitespace
            b"Zm9v\n",   // line break
            b"Zm-v",     // URL-safe alphabet
            b"Zm_v",
        ];
        for input in refused {
            assert_eq!(
                decode(input, &mut [0; 16]),
                None,
                "{}",
                input.escape_ascii()
            );
        }
    }

    #[test]
    fn short_output_is_refused_without_panic() {
        assert_eq!(encode(b"foo", &mut [0; 3]), None);
        assert_eq!(decode(b"Zm9vYmFy", &mut [0; 5]), None);
    }

    proptest! {
        /// Decoding inverts encoding, and every strict encoding is the
        /// encoding of what it decodes to.
        #[test]
        fn round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut encoded = vec![0; encoded_len(bytes.len())];
            prop_assert_eq!(encode(&bytes, &mut encoded), Some(encoded.len()));
            let mut decoded = vec![0; bytes.len()];
            prop_assert_eq!(decode(&encoded, &mut decoded), Some(bytes.len()));
            prop_assert_eq!(decoded, bytes);
        }

        #[test]
        fn decoded_input_is_canonical(input in "[A-Za-z0-9+/=]{0,12}") {
            let mut decoded = [0; 9];
            if let Some(len) = decode(input.as_bytes(), &mut decoded) {
                let mut encoded = [0; 12];
                let n = encode(&decoded[..len], &mut encoded).unwrap();
                prop_assert_eq!(&encoded[..n], input.as_bytes());
            }
        }
    }
}
