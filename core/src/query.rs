//! Query strings, parsed on demand and without allocation.
//!
//! The request parser hands a handler the raw request-target; the query is
//! the part after the first `?`. This module reads it the way HTML forms
//! encode it (`application/x-www-form-urlencoded`), in two separate steps:
//!
//! - [`pairs`] splits the query into raw `(key, value)` byte slices. It cannot
//!   fail: a malformed pair is still a pair, and never affects its neighbours.
//! - [`decode_component`] and [`decode_component_str`] decode one key or
//!   value (`+` is a space, `%XX` a byte) into a buffer the caller owns. Only
//!   the pairs a handler actually looks at are decoded, and an error in one
//!   of them says nothing about the others.
//!
//! ```
//! use peregrine_core::query;
//!
//! let mut buf = [0u8; 64];
//! let mut greeting = None;
//! for (key, value) in query::pairs(b"lang=en&name=J%C3%BCrgen+M&bad=%zz") {
//!     if key == b"name" {
//!         greeting = Some(query::decode_component_str(value, &mut buf)?);
//!     }
//! }
//! assert_eq!(greeting, Some("Jürgen M"));
//! # Ok::<(), query::DecodeError>(())
//! ```

use core::fmt;
use core::iter::FusedIterator;

use memchr::memchr;

use crate::percent::{self, Plus};

/// Splits a query into its raw `(key, value)` pairs.
///
/// `query` is the part of the request-target after the `?`, without the `?`
/// itself. Pairs are separated by `&`; each splits at its first `=` into key
/// and value, so the value may itself contain `=`. A pair without `=` is a
/// key with an empty value. Empty pairs — as in `a=1&&b=2`, or from a leading
/// or trailing `&` — are skipped; a pair that is only `=` is not empty and
/// yields an empty key and value.
///
/// Nothing is decoded: pass keys and values to [`decode_component`] or
/// [`decode_component_str`].
///
/// ```
/// use peregrine_core::query::pairs;
///
/// let mut it = pairs(b"&q=a+b&&flag&x=1=2&");
/// assert_eq!(it.next(), Some((&b"q"[..], &b"a+b"[..])));
/// assert_eq!(it.next(), Some((&b"flag"[..], &b""[..])));
/// assert_eq!(it.next(), Some((&b"x"[..], &b"1=2"[..])));
/// assert_eq!(it.next(), None);
/// ```
#[inline]
pub fn pairs(query: &[u8]) -> Pairs<'_> {
    Pairs { rest: query }
}

/// The iterator returned by [`pairs`]: raw `(key, value)` slices of the
/// query, in order.
#[derive(Clone)]
pub struct Pairs<'a> {
    /// The part of the query not yet split.
    rest: &'a [u8],
}

impl<'a> Iterator for Pairs<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        while !self.rest.is_empty() {
            let pair = match memchr(b'&', self.rest) {
                Some(amp) => {
                    let pair = &self.rest[..amp];
                    self.rest = &self.rest[amp + 1..];
                    pair
                }
                None => core::mem::take(&mut self.rest),
            };
            if pair.is_empty() {
                continue;
            }
            return Some(match memchr(b'=', pair) {
                Some(eq) => (&pair[..eq], &pair[eq + 1..]),
                None => (pair, &pair[pair.len()..]),
            });
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        // Every pair after the first needs a byte and a separator.
        (0, Some(self.rest.len().div_ceil(2)))
    }
}

impl FusedIterator for Pairs<'_> {}

impl fmt::Debug for Pairs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pairs")
            .field("rest", &format_args!("b\"{}\"", self.rest.escape_ascii()))
            .finish()
    }
}

/// Why a query component could not be decoded.
///
/// ```
/// use peregrine_core::query::{decode_component, DecodeError};
///
/// let mut buf = [0u8; 8];
/// assert_eq!(decode_component(b"100%", &mut buf), Err(DecodeError::InvalidEscape));
/// assert_eq!(DecodeError::InvalidEscape.to_string(), "invalid percent-escape");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DecodeError {
    /// A `%` is not followed by two hex digits.
    InvalidEscape,
    /// The decoded component does not fit in the buffer given for it.
    BufferTooSmall,
    /// The decoded component is not UTF-8 (only from
    /// [`decode_component_str`]).
    InvalidUtf8,
}

impl DecodeError {
    /// A short, lower-case reason, fit for a response body or a log line.
    pub const fn reason(self) -> &'static str {
        match self {
            DecodeError::InvalidEscape => "invalid percent-escape",
            DecodeError::BufferTooSmall => "decoded component does not fit its buffer",
            DecodeError::InvalidUtf8 => "decoded component is not UTF-8",
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

#[cfg(feature = "std")]
impl std::error::Error for DecodeError {}

/// Decodes one key or value of a query into `dst`, form-style: `+` becomes a
/// space and `%XX` (hex digits of either case) the byte `0xXX`; every other
/// byte is copied as is. Returns the decoded bytes, the front of `dst`.
///
/// The decoded form is never longer than `raw`, so a `dst` of `raw.len()`
/// bytes always suffices.
///
/// # Errors
///
/// [`DecodeError::InvalidEscape`] if a `%` is not followed by two hex digits
/// — reported whatever the size of `dst`; otherwise
/// [`DecodeError::BufferTooSmall`] if the result does not fit in `dst`. On
/// error, the contents of `dst` are unspecified.
///
/// ```
/// use peregrine_core::query::{decode_component, DecodeError};
///
/// let mut buf = [0u8; 8];
/// assert_eq!(decode_component(b"a+b%2Bc%ff", &mut buf)?, b"a b+c\xff");
/// assert_eq!(decode_component(b"%4", &mut buf), Err(DecodeError::InvalidEscape));
/// assert_eq!(decode_component(b"too long!", &mut buf), Err(DecodeError::BufferTooSmall));
/// # Ok::<(), DecodeError>(())
/// ```
pub fn decode_component<'d>(raw: &[u8], dst: &'d mut [u8]) -> Result<&'d [u8], DecodeError> {
    match percent::decode(
        raw,
        dst,
        Plus::Space,
        DecodeError::InvalidEscape,
        |_| Ok(()),
    )? {
        Some(len) => Ok(&dst[..len]),
        None => Err(DecodeError::BufferTooSmall),
    }
}

/// Like [`decode_component`], but the result must also be UTF-8.
///
/// # Errors
///
/// Those of [`decode_component`], and then [`DecodeError::InvalidUtf8`] if
/// the decoded bytes are not UTF-8.
///
/// ```
/// use peregrine_core::query::{decode_component_str, DecodeError};
///
/// let mut buf = [0u8; 16];
/// assert_eq!(decode_component_str(b"caf%C3%A9+au+lait", &mut buf)?, "café au lait");
/// assert_eq!(decode_component_str(b"%C3", &mut buf), Err(DecodeError::InvalidUtf8));
/// # Ok::<(), DecodeError>(())
/// ```
pub fn decode_component_str<'d>(raw: &[u8], dst: &'d mut [u8]) -> Result<&'d str, DecodeError> {
    let bytes = decode_component(raw, dst)?;
    core::str::from_utf8(bytes).map_err(|_| DecodeError::InvalidUtf8)
}

static_assertions::assert_eq_size!(DecodeError, u8);
static_assertions::assert_impl_all!(DecodeError: Copy, Send, Sync, fmt::Display);
static_assertions::assert_impl_all!(Pairs<'static>: Clone, fmt::Debug, FusedIterator, Send, Sync);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::format;
    use std::string::ToString;
    use std::vec::Vec;

    type Pair = (&'static [u8], &'static [u8]);

    fn collect(query: &[u8]) -> Vec<(&[u8], &[u8])> {
        pairs(query).collect()
    }

    #[test]
    fn pairs_table() {
        let cases: &[(&str, &[u8], &[Pair])] = &[
            ("empty query has no pairs", b"", &[]),
            ("single pair", b"a=1", &[(b"a", b"1")]),
            ("split on &", b"a=1&b=2", &[(b"a", b"1"), (b"b", b"2")]),
            (
                "empty pair in the middle is skipped",
                b"a=1&&b=2",
                &[(b"a", b"1"), (b"b", b"2")],
            ),
            (
                "runs of & are skipped",
                b"a=1&&&&b=2",
                &[(b"a", b"1"), (b"b", b"2")],
            ),
            ("leading & is skipped", b"&a=1", &[(b"a", b"1")]),
            ("trailing & is skipped", b"a=1&", &[(b"a", b"1")]),
            ("only separators", b"&&&", &[]),
            (
                "key without = has an empty value",
                b"flag",
                &[(b"flag", b"")],
            ),
            (
                "key without = among others",
                b"a&b=2&c",
                &[(b"a", b""), (b"b", b"2"), (b"c", b"")],
            ),
            ("split at the first = only", b"x=1=2", &[(b"x", b"1=2")]),
            ("empty value", b"a=", &[(b"a", b"")]),
            ("empty key", b"=1", &[(b"", b"1")]),
            ("a lone = is not an empty pair", b"=", &[(b"", b"")]),
            ("nothing is decoded", b"a%20b=c+d", &[(b"a%20b", b"c+d")]),
            (
                "malformed pairs do not poison the rest",
                b"%zz=%&b=2&%",
                &[(b"%zz", b"%"), (b"b", b"2"), (b"%", b"")],
            ),
            (
                "non-UTF-8 bytes pass through",
                b"\xff=\xfe",
                &[(b"\xff", b"\xfe")],
            ),
            ("? is an ordinary byte", b"?a=1", &[(b"?a", b"1")]),
        ];
        for &(rule, query, expected) in cases {
            assert_eq!(collect(query), expected, "{rule}");
        }
    }

    #[test]
    fn pairs_is_fused_and_clonable() {
        let mut it = pairs(b"a=1&b");
        assert_eq!(it.next(), Some((&b"a"[..], &b"1"[..])));
        let copy = it.clone();
        assert_eq!(it.next(), Some((&b"b"[..], &b""[..])));
        assert_eq!(it.next(), None);
        assert_eq!(it.next(), None, "fused: stays None");
        assert_eq!(
            copy.collect::<Vec<_>>(),
            [(&b"b"[..], &b""[..])],
            "clone is independent"
        );
    }

    #[test]
    fn pairs_debug_shows_the_rest_as_a_byte_string() {
        let mut it = pairs(b"a=1&b=\"\xff\"");
        it.next();
        assert_eq!(format!("{it:?}"), r#"Pairs { rest: b"b=\"\xff\"" }"#);
    }

    #[test]
    fn decode_component_table() {
        type Case = (
            &'static str,
            &'static [u8],
            Result<&'static [u8], DecodeError>,
        );
        let cases: &[Case] = &[
            ("empty", b"", Ok(b"")),
            ("plain bytes are copied", b"abc-._~", Ok(b"abc-._~")),
            ("+ is a space", b"a+b", Ok(b"a b")),
            ("only pluses", b"++", Ok(b"  ")),
            ("%2B is a literal +", b"%2B", Ok(b"+")),
            ("%20 is a space", b"%20", Ok(b" ")),
            ("upper-case hex", b"%C3%A9", Ok("é".as_bytes())),
            ("lower-case hex", b"%c3%a9", Ok("é".as_bytes())),
            ("mixed-case hex", b"%Ff%fF", Ok(b"\xff\xff")),
            ("%25 is a literal %", b"%25zz", Ok(b"%zz")),
            ("NUL may be encoded", b"%00", Ok(b"\0")),
            ("escape at the very start and end", b"%41b%43", Ok(b"AbC")),
            (
                "% at the very end",
                b"abc%",
                Err(DecodeError::InvalidEscape),
            ),
            ("% alone", b"%", Err(DecodeError::InvalidEscape)),
            ("one hex digit: %4", b"%4", Err(DecodeError::InvalidEscape)),
            (
                "non-hex digits: %zz",
                b"%zz",
                Err(DecodeError::InvalidEscape),
            ),
            (
                "second digit not hex: %4g",
                b"%4g",
                Err(DecodeError::InvalidEscape),
            ),
            (
                "first digit not hex: %g4",
                b"%g4",
                Err(DecodeError::InvalidEscape),
            ),
            (
                "sign is not a hex digit: %+1",
                b"%+1",
                Err(DecodeError::InvalidEscape),
            ),
            (
                "invalid escape after a valid one",
                b"%41%4",
                Err(DecodeError::InvalidEscape),
            ),
        ];
        for &(rule, raw, expected) in cases {
            let mut dst = [0u8; 32];
            assert_eq!(decode_component(raw, &mut dst), expected, "{rule}");
        }
    }

    #[test]
    fn decode_component_buffer_boundaries() {
        // (rule, raw, decoded length)
        let cases: &[(&str, &[u8], usize)] = &[
            ("plain run", b"hello", 5),
            ("ends in an escape", b"ab%41", 3),
            ("ends in a plus", b"ab+", 3),
            ("only escapes", b"%41%42%43", 3),
            ("starts with an escape", b"%41bc", 3),
        ];
        for &(rule, raw, len) in cases {
            let mut exact = std::vec![0u8; len];
            assert_eq!(
                decode_component(raw, &mut exact).map(<[u8]>::len),
                Ok(len),
                "{rule}: dst of exactly the decoded length"
            );
            let mut short = std::vec![0u8; len - 1];
            assert_eq!(
                decode_component(raw, &mut short),
                Err(DecodeError::BufferTooSmall),
                "{rule}: dst one byte short"
            );
        }
        assert_eq!(
            decode_component(b"", &mut []),
            Ok(&b""[..]),
            "empty fits in nothing"
        );
        assert_eq!(
            decode_component(b"a", &mut []),
            Err(DecodeError::BufferTooSmall),
            "empty dst"
        );
    }

    #[test]
    fn invalid_escape_wins_over_buffer_too_small() {
        let mut dst = [0u8; 2];
        assert_eq!(
            decode_component(b"abcdef%zz", &mut dst),
            Err(DecodeError::InvalidEscape)
        );
        assert_eq!(
            decode_component(b"abcdef%", &mut []),
            Err(DecodeError::InvalidEscape)
        );
        assert_eq!(
            decode_component_str(b"abc%4", &mut dst),
            Err(DecodeError::InvalidEscape)
        );
    }

    #[test]
    fn decode_component_str_table() {
        type Case = (
            &'static str,
            &'static [u8],
            usize,
            Result<&'static str, DecodeError>,
        );
        let cases: &[Case] = &[
            ("ASCII", b"a+b", 8, Ok("a b")),
            ("encoded UTF-8", b"%E2%82%AC", 8, Ok("€")),
            ("raw UTF-8 passes through", "€".as_bytes(), 8, Ok("€")),
            (
                "truncated UTF-8 sequence",
                b"%E2%82",
                8,
                Err(DecodeError::InvalidUtf8),
            ),
            (
                "lone continuation byte",
                b"%80",
                8,
                Err(DecodeError::InvalidUtf8),
            ),
            (
                "raw invalid byte",
                b"\xff",
                8,
                Err(DecodeError::InvalidUtf8),
            ),
            (
                "invalid escape",
                b"%E2%8",
                8,
                Err(DecodeError::InvalidEscape),
            ),
            (
                "buffer checked before UTF-8",
                b"%ff%ff",
                1,
                Err(DecodeError::BufferTooSmall),
            ),
        ];
        for &(rule, raw, size, expected) in cases {
            let mut dst = std::vec![0u8; size];
            assert_eq!(decode_component_str(raw, &mut dst), expected, "{rule}");
        }
    }

    #[test]
    fn decode_error_display_and_traits() {
        for (error, text) in [
            (DecodeError::InvalidEscape, "invalid percent-escape"),
            (
                DecodeError::BufferTooSmall,
                "decoded component does not fit its buffer",
            ),
            (DecodeError::InvalidUtf8, "decoded component is not UTF-8"),
        ] {
            assert_eq!(error.to_string(), text);
            assert_eq!(error.reason(), text);
        }
        #[cfg(feature = "std")]
        {
            let error: &dyn std::error::Error = &DecodeError::InvalidUtf8;
            assert!(error.source().is_none());
        }
    }

    /// How the test encoder writes one byte.
    #[derive(Clone, Copy, Debug)]
    enum Encoding {
        /// As itself, if that is unambiguous.
        Literal,
        /// `%XX`.
        Upper,
        /// `%xx`.
        Lower,
    }

    fn encode(bytes: &[(u8, Encoding)]) -> Vec<u8> {
        let mut out = Vec::new();
        for &(byte, how) in bytes {
            match how {
                Encoding::Literal if byte == b' ' => out.push(b'+'),
                Encoding::Literal if byte != b'%' && byte != b'+' => out.push(byte),
                Encoding::Lower => out.extend_from_slice(format!("%{byte:02x}").as_bytes()),
                _ => out.extend_from_slice(format!("%{byte:02X}").as_bytes()),
            }
        }
        out
    }

    fn encoding() -> impl Strategy<Value = Encoding> {
        prop_oneof![
            Just(Encoding::Literal),
            Just(Encoding::Upper),
            Just(Encoding::Lower)
        ]
    }

    /// A key or value: arbitrary bytes, with the form separators excluded.
    fn component(exclude: &'static [u8]) -> impl Strategy<Value = Vec<u8>> {
        let byte = prop_oneof![
            3 => prop::sample::select(&b"ab=&%+"[..]),
            1 => any::<u8>(),
        ];
        prop::collection::vec(
            byte.prop_filter("separator", move |b| !exclude.contains(b)),
            0..8,
        )
    }

    proptest! {
        /// Rule: decoding inverts encoding, for any bytes and any mix of
        /// literal, `+`, upper- and lower-case escapes.
        #[test]
        fn decode_component_inverts_encoding(
            input in prop::collection::vec((any::<u8>(), encoding()), 0..64),
        ) {
            let encoded = encode(&input);
            let bytes: Vec<u8> = input.iter().map(|&(b, _)| b).collect();
            let mut dst = std::vec![0u8; bytes.len()];
            prop_assert_eq!(decode_component(&encoded, &mut dst), Ok(&bytes[..]));
            if !bytes.is_empty() {
                let mut short = std::vec![0u8; bytes.len() - 1];
                prop_assert_eq!(
                    decode_component(&encoded, &mut short),
                    Err(DecodeError::BufferTooSmall)
                );
            }
        }

        /// Rule: decoding never needs more room than the input, and never
        /// panics on arbitrary input.
        #[test]
        fn decode_component_fits_in_raw_len(raw in prop::collection::vec(any::<u8>(), 0..64)) {
            let mut dst = std::vec![0u8; raw.len()];
            let result = decode_component(&raw, &mut dst);
            prop_assert_ne!(result, Err(DecodeError::BufferTooSmall));
        }

        /// Rule: `pairs` gives back exactly the pairs a query was joined
        /// from, whatever empty pairs surround them and however a key with
        /// an empty value is written.
        #[test]
        fn pairs_round_trip(
            input in prop::collection::vec(
                (component(b"&="), component(b"&"), any::<bool>(), 1..4usize),
                0..8,
            ),
            leading in 0..3usize,
        ) {
            let mut query = b"&".repeat(leading);
            for (key, value, bare, separators) in &input {
                query.extend_from_slice(key);
                // A key with an empty value may be written without `=`, as
                // long as that does not make the pair empty.
                if !(*bare && value.is_empty() && !key.is_empty()) {
                    query.push(b'=');
                    query.extend_from_slice(value);
                }
                query.extend_from_slice(&b"&".repeat(*separators));
            }
            let expected: Vec<(&[u8], &[u8])> =
                input.iter().map(|(k, v, _, _)| (&k[..], &v[..])).collect();
            let got = collect(&query);
            prop_assert_eq!(got, expected);
            let (_, upper) = pairs(&query).size_hint();
            prop_assert!(upper.unwrap() >= input.len());
        }
    }
}
