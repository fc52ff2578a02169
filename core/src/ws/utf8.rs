//! Incremental UTF-8 validation that fails at the first byte that cannot
//! lead to valid text (RFC 6455 §8.1, RFC 3629 §4).
//!
//! A text message arrives in fragments, and each fragment in pieces; a
//! code point may be split anywhere. [`Utf8Validator`] keeps its place
//! inside a code point between calls, in three bytes, and reports an error
//! as soon as the bytes seen can no longer be completed to valid UTF-8: a
//! lead byte that never starts a sequence (`0x80..=0xC1`, `0xF5..=0xFF`) at
//! once, and an overlong form, a surrogate or a code point above U+10FFFF
//! at its second byte, where the range of the second byte already rules it
//! out (`E0 80`, `ED A0`, `F0 80`, `F4 90`). RFC 6455 §8.1 asks an endpoint
//! to fail the connection on invalid text; failing early stops a peer from
//! streaming megabytes after a byte that already decided the outcome.
//!
//! Runs of ASCII are skipped eight bytes at a time; other bytes go through
//! the byte-at-a-time table of RFC 3629 §4:
//!
//! ```text
//! 00..7F
//! C2..DF 80..BF
//! E0     A0..BF 80..BF
//! E1..EC 80..BF 80..BF
//! ED     80..9F 80..BF
//! EE..EF 80..BF 80..BF
//! F0     90..BF 80..BF 80..BF
//! F1..F3 80..BF 80..BF 80..BF
//! F4     80..8F 80..BF 80..BF
//! ```

use core::fmt;

/// Bytes still expected for the current code point once the validator has
/// failed.
const FAILED: u8 = u8::MAX;

/// The high bit of every byte of a word.
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// The bytes fed to a [`Utf8Validator`] can no longer become valid UTF-8.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct InvalidUtf8;

impl fmt::Display for InvalidUtf8 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid UTF-8")
    }
}

#[cfg(feature = "std")]
impl std::error::Error for InvalidUtf8 {}

/// A resumable UTF-8 validator for text that arrives in pieces.
///
/// ```
/// use peregrine_core::ws::Utf8Validator;
///
/// // "é" is C3 A9, split between two fragments.
/// let mut text = Utf8Validator::new();
/// assert!(text.feed(b"caf\xc3").is_ok());
/// assert!(!text.is_complete()); // inside a code point
/// assert!(text.feed(b"\xa9!").is_ok());
/// assert!(text.is_complete());
///
/// // ED A0 would start a surrogate: refused at its second byte.
/// let mut text = Utf8Validator::new();
/// assert!(text.feed(b"\xed").is_ok());
/// assert!(text.feed(b"\xa0").is_err());
/// assert!(text.is_invalid());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Utf8Validator {
    /// Continuation bytes the current code point still needs: 0 between
    /// code points, [`FAILED`] after an error.
    need: u8,
    /// Smallest value the next continuation byte may take.
    low: u8,
    /// Largest value the next continuation byte may take.
    high: u8,
}

impl Default for Utf8Validator {
    fn default() -> Self {
        Self::new()
    }
}

impl Utf8Validator {
    /// A validator at the start of a text.
    pub const fn new() -> Self {
        Utf8Validator {
            need: 0,
            low: 0x80,
            high: 0xBF,
        }
    }

    /// Forgets everything, for the next text.
    #[inline]
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// Whether the bytes fed so far can no longer become valid UTF-8,
    /// whatever follows. Once true it stays true until
    /// [`reset`](Self::reset).
    #[inline]
    pub fn is_invalid(&self) -> bool {
        self.need == FAILED
    }

    /// Whether the bytes fed so far are valid UTF-8 on their own: valid,
    /// and not stopped inside a code point.
    #[inline]
    pub fn is_complete(&self) -> bool {
        self.need == 0
    }

    /// Validates `bytes`, the continuation of the bytes fed before.
    ///
    /// # Errors
    ///
    /// [`InvalidUtf8`] as soon as a byte makes the text invalid whatever
    /// follows, and on every call after that.
    #[inline]
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), InvalidUtf8> {
        if self.need == FAILED {
            return Err(InvalidUtf8);
        }
        let mut pos = 0;
        while pos < bytes.len() {
            if self.need == 0 {
                pos += ascii_run(&bytes[pos..]);
                let Some(&lead) = bytes.get(pos) else {
                    break;
                };
                let (need, low, high) = match lead {
                    0x00..=0x7F => (0, 0x80, 0xBF),
                    0xC2..=0xDF => (1, 0x80, 0xBF),
                    0xE0 => (2, 0xA0, 0xBF),
                    0xE1..=0xEC | 0xEE..=0xEF => (2, 0x80, 0xBF),
                    0xED => (2, 0x80, 0x9F),
                    0xF0 => (3, 0x90, 0xBF),
                    0xF1..=0xF3 => (3, 0x80, 0xBF),
                    0xF4 => (3, 0x80, 0x8F),
                    _ => return self.fail(),
                };
                self.need = need;
                self.low = low;
                self.high = high;
            } else {
                let byte = bytes[pos];
                if byte < self.low || byte > self.high {
                    return self.fail();
                }
                self.need -= 1;
                self.low = 0x80;
                self.high = 0xBF;
            }
            pos += 1;
        }
        Ok(())
    }

    /// Records the failure.
    #[cold]
    fn fail(&mut self) -> Result<(), InvalidUtf8> {
        self.need = FAILED;
        Err(InvalidUtf8)
    }
}

/// The length of the run of ASCII bytes at the start of `bytes`.
#[inline]
fn ascii_run(bytes: &[u8]) -> usize {
    let mut rest = bytes;
    while let Some((word, tail)) = rest.split_first_chunk::<8>() {
        // Little-endian, so the first byte is the lowest: the first
        // non-ASCII byte is the lowest high bit set.
        let high = u64::from_le_bytes(*word) & HIGH_BITS;
        if high != 0 {
            return bytes.len() - rest.len() + (high.trailing_zeros() / 8) as usize;
        }
        rest = tail;
    }
    bytes.len() - rest.len() + rest.iter().take_while(|b| b.is_ascii()).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    /// Continuation bytes that together meet every second-byte range of
    /// the table (80..BF, A0..BF, 80..9F, 90..BF, 80..8F).
    const COMPLETIONS: [u8; 4] = [0x80, 0x90, 0xA0, 0xBF];

    /// Whether some continuation of `prefix` is valid UTF-8, by trying
    /// them: a completion needs at most three continuation bytes, and
    /// [`COMPLETIONS`] holds a byte of every range one may need.
    fn completable(prefix: &[u8]) -> bool {
        let mut candidate = prefix.to_vec();
        (0..=3).any(|n| {
            (0..COMPLETIONS.len().pow(n)).any(|mut index| {
                candidate.truncate(prefix.len());
                for _ in 0..n {
                    candidate.push(COMPLETIONS[index % COMPLETIONS.len()]);
                    index /= COMPLETIONS.len();
                }
                core::str::from_utf8(&candidate).is_ok()
            })
        })
    }

    /// `completable`, from the standard library's answer: valid, or
    /// invalid only because the input ended.
    fn completable_by_std(prefix: &[u8]) -> bool {
        match core::str::from_utf8(prefix) {
            Ok(_) => true,
            Err(error) => error.error_len().is_none(),
        }
    }

    /// Feeds `bytes` one byte at a time, checking after each that the
    /// validator failed exactly when the prefix became uncompletable, and
    /// returns the validator.
    fn feed_bytewise(bytes: &[u8], completable: fn(&[u8]) -> bool) -> Utf8Validator {
        let mut validator = Utf8Validator::new();
        for end in 1..=bytes.len() {
            let result = validator.feed(&bytes[end - 1..end]);
            let expected = completable(&bytes[..end]);
            assert_eq!(
                !validator.is_invalid(),
                expected,
                "prefix {:02x?}",
                &bytes[..end]
            );
            assert_eq!(result.is_ok(), expected, "prefix {:02x?}", &bytes[..end]);
        }
        validator
    }

    /// Checks `bytes` whole and byte by byte against the standard library.
    fn check(bytes: &[u8]) {
        let valid = core::str::from_utf8(bytes).is_ok();
        let mut whole = Utf8Validator::new();
        let whole_ok = whole.feed(bytes).is_ok() && whole.is_complete();
        assert_eq!(whole_ok, valid, "{bytes:02x?}");
        let bytewise = feed_bytewise(bytes, completable_by_std);
        assert_eq!(bytewise.is_complete(), valid, "{bytes:02x?}");
    }

    /// RFC 3629 §4 and RFC 6455 §8.1: the cases the module promises to
    /// refuse at once or at the second byte.
    #[test]
    fn fails_at_the_first_hopeless_byte() {
        let cases: &[(&[u8], usize)] = &[
            (b"\xc0", 1),         // overlong lead
            (b"\xc1", 1),         // overlong lead
            (b"\xf5", 1),         // above U+10FFFF
            (b"\xff", 1),         // never UTF-8
            (b"\x80", 1),         // continuation without a lead
            (b"\xe0\x80", 2),     // overlong three-byte form
            (b"\xe0\x9f", 2),     // overlong three-byte form
            (b"\xed\xa0", 2),     // surrogate U+D800
            (b"\xed\xbf", 2),     // surrogate U+DFFF
            (b"\xf0\x80", 2),     // overlong four-byte form
            (b"\xf0\x8f", 2),     // overlong four-byte form
            (b"\xf4\x90", 2),     // above U+10FFFF
            (b"\xc2\x41", 2),     // lead without continuation
            (b"\xe1\x80\x41", 3), // truncated three-byte form
            (
                b"abc\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80",
                16,
            ),
        ];
        for &(bytes, fails_at) in cases {
            let mut validator = Utf8Validator::new();
            for (i, &byte) in bytes.iter().enumerate() {
                let ok = validator.feed(&[byte]).is_ok();
                assert_eq!(ok, i + 1 < fails_at, "{bytes:02x?} at byte {}", i + 1);
            }
            assert!(validator.is_invalid());
            assert!(validator.feed(b"a").is_err(), "sticky");
            validator.reset();
            assert!(validator.feed(b"a").is_ok());
        }
    }

    #[test]
    fn boundaries_of_the_table() {
        let valid: &[&[u8]] = &[
            b"\x00",
            b"\x7f",
            b"\xc2\x80",
            b"\xdf\xbf",
            b"\xe0\xa0\x80",
            b"\xed\x9f\xbf",     // U+D7FF
            b"\xee\x80\x80",     // U+E000
            b"\xef\xbf\xbf",     // U+FFFF
            b"\xf0\x90\x80\x80", // U+10000
            b"\xf4\x8f\xbf\xbf", // U+10FFFF
            "κόσμε".as_bytes(),  // RFC 6455 test texts
            "Hello-µ@ßöäüàá-UTF-8!!".as_bytes(),
        ];
        for bytes in valid {
            check(bytes);
            assert!(core::str::from_utf8(bytes).is_ok());
        }
    }

    /// Every sequence of one and two bytes, whole and byte by byte, and
    /// the standard library's notion of "incomplete" checked against the
    /// completion rules.
    #[test]
    fn exhaustive_one_and_two_bytes() {
        for a in 0..=255u8 {
            check(&[a]);
            assert_eq!(completable(&[a]), completable_by_std(&[a]), "{a:02x}");
            for b in 0..=255u8 {
                check(&[a, b]);
                assert_eq!(completable(&[a, b]), completable_by_std(&[a, b]));
            }
        }
    }

    /// Every sequence of three bytes.
    #[test]
    fn exhaustive_three_bytes() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                for c in 0..=255u8 {
                    check(&[a, b, c]);
                }
            }
        }
    }

    /// Four-byte sequences: every lead from F0 (and a few others), every
    /// second and third byte, and the boundary values for the fourth.
    #[test]
    fn many_four_bytes() {
        let leads = [0x41, 0xc3, 0xe0, 0xed, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xf7];
        let lasts = [
            0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xf0, 0xff,
        ];
        for a in leads {
            for b in 0..=255u8 {
                for c in 0..=255u8 {
                    for d in lasts {
                        check(&[a, b, c, d]);
                    }
                }
            }
        }
    }

    #[test]
    fn ascii_run_stops_at_the_first_high_byte() {
        let mut bytes = [b'a'; 40];
        assert_eq!(ascii_run(&bytes), 40);
        for i in 0..40 {
            bytes[i] = 0x80;
            assert_eq!(ascii_run(&bytes), i);
            bytes[i] = b'a';
        }
    }

    /// Text made of valid pieces and now and then a random byte, which may
    /// or may not break it.
    fn mostly_text() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            4 => any::<char>().prop_map(|c| {
                let mut buf = [0; 4];
                c.encode_utf8(&mut buf).as_bytes().to_vec()
            }),
            4 => "[a-z ]{1,20}".prop_map(|s| s.into_bytes()),
            1 => any::<u8>().prop_map(|b| std::vec![b]),
        ];
        proptest::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        /// Fed in random pieces, the validator fails after the same prefix
        /// as byte by byte, and "fails early" holds for the completion
        /// rules: after every piece, invalid iff no continuation can be
        /// valid.
        #[test]
        fn random_splits(bytes in mostly_text(), cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8)) {
            let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
            cuts.push(0);
            cuts.push(bytes.len());
            cuts.sort_unstable();
            let mut validator = Utf8Validator::new();
            for pair in cuts.windows(2) {
                let ok = validator.feed(&bytes[pair[0]..pair[1]]).is_ok();
                let expected = completable(&bytes[..pair[1]]);
                prop_assert_eq!(ok, expected);
                prop_assert_eq!(!validator.is_invalid(), expected);
            }
            let valid = core::str::from_utf8(&bytes).is_ok();
            prop_assert_eq!(validator.is_complete(), valid);
            feed_bytewise(&bytes, completable);
        }
    }
}
