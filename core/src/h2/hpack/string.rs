//! String literals (RFC 7541 §5.2): a Huffman flag, a 7-bit prefix
//! length, then the bytes, raw or Huffman-coded.

use super::{DecodeError, huffman, integer};

/// The Huffman flag of a string literal's first byte.
const HUFFMAN: u8 = 0x80;

/// A string literal found in a block, not yet decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Literal<'a> {
    /// The bytes as they are.
    Raw(&'a [u8]),
    /// Huffman-coded bytes.
    Huffman(&'a [u8]),
}

impl Literal<'_> {
    /// Parses the literal at the start of `input`; returns it and the bytes
    /// it took.
    pub(crate) fn parse(input: &[u8]) -> Result<(Literal<'_>, usize), DecodeError> {
        let huffman = input.first().is_some_and(|&first| first & HUFFMAN != 0);
        let (len, header) = integer::decode(input, 7)?;
        let end = header.checked_add(len).ok_or(DecodeError::Truncated)?;
        let bytes = input.get(header..end).ok_or(DecodeError::Truncated)?;
        let literal = if huffman {
            Literal::Huffman(bytes)
        } else {
            Literal::Raw(bytes)
        };
        Ok((literal, end))
    }

    /// Its decoded length, checking a Huffman string is valid.
    pub(crate) fn decoded_len(&self) -> Result<usize, DecodeError> {
        match *self {
            Literal::Raw(bytes) => Ok(bytes.len()),
            Literal::Huffman(bytes) => huffman::decoded_len(bytes),
        }
    }

    /// Decodes it into the start of `out`; returns the length written.
    pub(crate) fn decode_into(&self, out: &mut [u8]) -> Result<usize, DecodeError> {
        match *self {
            Literal::Raw(bytes) => {
                let slot = out.get_mut(..bytes.len()).ok_or(DecodeError::BufferFull)?;
                slot.copy_from_slice(bytes);
                Ok(bytes.len())
            }
            Literal::Huffman(bytes) => huffman::decode(bytes, out),
        }
    }
}

/// Which form the encoder writes a string in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Coding {
    /// The bytes as they are.
    Raw,
    /// Huffman-coded, `len` bytes.
    Huffman {
        /// Length of the coded bytes.
        len: usize,
    },
}

/// A string the encoder has chosen a form for.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Planned<'a> {
    /// The string.
    bytes: &'a [u8],
    /// How it is written.
    coding: Coding,
}

impl<'a> Planned<'a> {
    /// `bytes` Huffman-coded when that is shorter (the decoder's work is
    /// then worth the bytes saved), raw otherwise.
    pub(crate) fn shortest(bytes: &'a [u8]) -> Self {
        let coded = huffman::encoded_len(bytes);
        let coding = if coded < bytes.len() {
            Coding::Huffman { len: coded }
        } else {
            Coding::Raw
        };
        Planned { bytes, coding }
    }

    /// `bytes` raw.
    #[cfg(test)]
    pub(crate) fn raw(bytes: &'a [u8]) -> Self {
        Planned {
            bytes,
            coding: Coding::Raw,
        }
    }

    /// `bytes` Huffman-coded, even when longer.
    #[cfg(test)]
    pub(crate) fn huffman(bytes: &'a [u8]) -> Self {
        Planned {
            bytes,
            coding: Coding::Huffman {
                len: huffman::encoded_len(bytes),
            },
        }
    }

    /// Length of the string's bytes as written.
    fn body_len(&self) -> usize {
        match self.coding {
            Coding::Raw => self.bytes.len(),
            Coding::Huffman { len } => len,
        }
    }

    /// Length of the whole literal: length prefix and bytes.
    pub(crate) fn encoded_len(&self) -> usize {
        let body = self.body_len();
        integer::encoded_len(body, 7).saturating_add(body)
    }

    /// Writes the literal at the start of `out`; returns its length, or
    /// `None` if `out` is shorter than [`encoded_len`](Self::encoded_len).
    pub(crate) fn write(&self, out: &mut [u8]) -> Option<usize> {
        let body = self.body_len();
        let flag = match self.coding {
            Coding::Raw => 0,
            Coding::Huffman { .. } => HUFFMAN,
        };
        let header = integer::encode(body, 7, flag, out)?;
        let rest = out.get_mut(header..)?;
        match self.coding {
            Coding::Raw => rest.get_mut(..body)?.copy_from_slice(self.bytes),
            Coding::Huffman { .. } => {
                huffman::encode(self.bytes, rest)?;
            }
        }
        Some(header + body)
    }
}

#[cfg(test)]
mod tests {
    use std::vec;

    use super::*;

    #[test]
    fn parses_raw_and_huffman() {
        let raw = b"\x0acustom-key rest";
        assert_eq!(Literal::parse(raw), Ok((Literal::Raw(b"custom-key"), 11)));
        let coded = [0x88, 0x25, 0xa8, 0x49, 0xe9, 0x5b, 0xa9, 0x7d, 0x7f];
        assert_eq!(
            Literal::parse(&coded),
            Ok((Literal::Huffman(&coded[1..]), 9))
        );
        let mut out = [0u8; 10];
        assert_eq!(Literal::Huffman(&coded[1..]).decode_into(&mut out), Ok(10));
        assert_eq!(&out, b"custom-key");
    }

    #[test]
    fn truncated_literals() {
        assert_eq!(Literal::parse(b""), Err(DecodeError::Truncated));
        assert_eq!(Literal::parse(b"\x05abcd"), Err(DecodeError::Truncated));
        assert_eq!(Literal::parse(b"\x7f"), Err(DecodeError::Truncated));
        // A length near u32::MAX is only truncated input.
        assert_eq!(
            Literal::parse(&[0x7f, 0x80, 0xff, 0xff, 0xff, 0x0f]),
            Err(DecodeError::Truncated)
        );
        assert_eq!(
            Literal::parse(b"\x05abcde"),
            Ok((Literal::Raw(b"abcde"), 6))
        );
    }

    #[test]
    fn writes_what_it_plans() {
        for bytes in [&b""[..], b"a", b"no-cache", b"\xff\xfe\x00", &[b'x'; 300]] {
            for planned in [
                Planned::shortest(bytes),
                Planned::raw(bytes),
                Planned::huffman(bytes),
            ] {
                let mut out = vec![0u8; planned.encoded_len()];
                assert_eq!(planned.write(&mut out), Some(out.len()));
                let short = out.len() - 1;
                assert_eq!(planned.write(&mut out[..short]), None);
                let (literal, len) = Literal::parse(&out).unwrap();
                assert_eq!(len, out.len());
                let mut decoded = vec![0u8; bytes.len()];
                assert_eq!(literal.decode_into(&mut decoded), Ok(bytes.len()));
                assert_eq!(decoded, bytes);
            }
        }
        // Huffman only when strictly shorter.
        assert_eq!(Planned::shortest(b"307").coding, Coding::Raw);
        assert_eq!(Planned::shortest(b"302").coding, Coding::Huffman { len: 2 });
        assert_eq!(Planned::shortest(b"\xff").coding, Coding::Raw);
    }
}
