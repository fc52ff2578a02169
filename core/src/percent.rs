//! Percent-decoding shared by [`query`](crate::query) and [`path`](crate::path).
//!
//! There is one decoding loop, [`decode_prefix`]. It copies the runs between
//! escapes with `memchr`, never allocates, and stops cleanly when the output
//! is full, so a caller can resume it on the rest of the input. [`decode`]
//! builds on it: it fills the caller's buffer and, if the input does not fit,
//! goes on decoding into a small stack buffer so that every escape is still
//! checked and every decoded byte is still shown to the caller's inspector.
//! That is what lets both public decoders report a malformed input as such,
//! whatever the size of the buffer they were given.

use memchr::{memchr, memchr2};

/// What a `+` in the input means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Plus {
    /// `+` is an ordinary byte (RFC 3986 paths).
    Literal,
    /// `+` encodes a space (`application/x-www-form-urlencoded`).
    Space,
}

/// Decoding stopped at a `%` not followed by two hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct InvalidEscape {
    /// Output bytes written to the front of `dst` before the escape.
    pub(crate) written: usize,
}

/// How far [`decode_prefix`] got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Progress {
    /// Input bytes consumed; always at the boundary of a literal byte or a
    /// whole escape.
    pub(crate) read: usize,
    /// Output bytes written to the front of `dst`.
    pub(crate) written: usize,
}

/// The value of an ASCII hex digit of either case.
#[inline]
pub(crate) const fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Decodes as much of `raw` as fits into `dst`.
///
/// Stops when `raw` is used up or `dst` is full, whichever comes first; the
/// input is complete if and only if `read == raw.len()`. An invalid escape is
/// reported only if decoding reaches it before `dst` fills up, along with
/// what was decoded before it.
pub(crate) fn decode_prefix(
    raw: &[u8],
    dst: &mut [u8],
    plus: Plus,
) -> Result<Progress, InvalidEscape> {
    let mut read = 0;
    let mut written = 0;
    loop {
        let rest = &raw[read..];
        let next_escape = match plus {
            Plus::Space => memchr2(b'%', b'+', rest),
            Plus::Literal => memchr(b'%', rest),
        };
        let run = next_escape.unwrap_or(rest.len());
        let copied = run.min(dst.len() - written);
        dst[written..written + copied].copy_from_slice(&rest[..copied]);
        read += copied;
        written += copied;
        if copied < run || read == raw.len() || written == dst.len() {
            return Ok(Progress { read, written });
        }
        dst[written] = if raw[read] == b'+' {
            read += 1;
            b' '
        } else {
            let hi = raw.get(read + 1).copied().and_then(hex_value);
            let lo = raw.get(read + 2).copied().and_then(hex_value);
            let (Some(hi), Some(lo)) = (hi, lo) else {
                return Err(InvalidEscape { written });
            };
            read += 3;
            hi << 4 | lo
        };
        written += 1;
    }
}

/// Decodes `raw` into `dst`, passing every decoded byte to `inspect`.
///
/// Returns `Some(len)` when the whole output fits in `dst` (it is then
/// `dst[..len]`), or `None` when it does not. Either way the whole input is
/// decoded and inspected, so `invalid_escape` and the errors of `inspect` are
/// reported regardless of the size of `dst`. `inspect` sees the output in
/// order, in chunks of unspecified size, and sees everything before an
/// invalid escape before it is reported: the first error in the input wins.
pub(crate) fn decode<E: Copy>(
    raw: &[u8],
    dst: &mut [u8],
    plus: Plus,
    invalid_escape: E,
    mut inspect: impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<Option<usize>, E> {
    let done = decode_prefix(raw, dst, plus);
    inspect(&dst[..written(done)])?;
    let done = done.map_err(|_| invalid_escape)?;
    if done.read == raw.len() {
        return Ok(Some(done.written));
    }
    // It does not fit; decode the rest only to check it. Each round consumes
    // at least one literal byte or escape, because `scratch` is never empty.
    let mut scratch = [0u8; 64];
    let mut rest = &raw[done.read..];
    while !rest.is_empty() {
        let step = decode_prefix(rest, &mut scratch, plus);
        inspect(&scratch[..written(step)])?;
        let step = step.map_err(|_| invalid_escape)?;
        rest = &rest[step.read..];
    }
    Ok(None)
}

/// How many bytes [`decode_prefix`] wrote, whether it finished or not.
fn written(step: Result<Progress, InvalidEscape>) -> usize {
    match step {
        Ok(Progress { written, .. }) | Err(InvalidEscape { written }) => written,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    #[test]
    fn hex_value_accepts_both_cases_and_nothing_else() {
        for byte in 0..=u8::MAX {
            let expected = match byte {
                b'0'..=b'9' => Some(byte - b'0'),
                b'a'..=b'f' => Some(byte - b'a' + 10),
                b'A'..=b'F' => Some(byte - b'A' + 10),
                _ => None,
            };
            assert_eq!(hex_value(byte), expected, "byte {byte:#04x}");
        }
        assert_eq!(hex_value(b'f'), Some(15));
        assert_eq!(hex_value(b'F'), Some(15));
        assert_eq!(hex_value(b'g'), None);
        assert_eq!(hex_value(b'G'), None);
    }

    #[test]
    fn decode_prefix_table() {
        type Case = (
            &'static str,
            &'static [u8],
            Plus,
            Result<&'static [u8], InvalidEscape>,
        );
        let cases: &[Case] = &[
            ("empty input", b"", Plus::Space, Ok(b"")),
            ("literal run", b"abc", Plus::Literal, Ok(b"abc")),
            (
                "plus is literal in paths",
                b"a+b",
                Plus::Literal,
                Ok(b"a+b"),
            ),
            ("plus is space in forms", b"a+b", Plus::Space, Ok(b"a b")),
            ("upper-case escape", b"%4A", Plus::Literal, Ok(b"J")),
            ("lower-case escape", b"%4a", Plus::Literal, Ok(b"J")),
            ("escape of 0xff", b"%fF", Plus::Literal, Ok(b"\xff")),
            ("escaped percent", b"%25", Plus::Literal, Ok(b"%")),
            ("escaped plus stays plus", b"%2B", Plus::Space, Ok(b"+")),
            ("adjacent escapes", b"%41%42+%43", Plus::Space, Ok(b"AB C")),
            (
                "percent at the end",
                b"ab%",
                Plus::Literal,
                Err(InvalidEscape { written: 2 }),
            ),
            (
                "one hex digit at the end",
                b"%4",
                Plus::Literal,
                Err(InvalidEscape { written: 0 }),
            ),
            (
                "non-hex digits",
                b"%zz",
                Plus::Literal,
                Err(InvalidEscape { written: 0 }),
            ),
            (
                "second digit not hex",
                b"a%4g",
                Plus::Literal,
                Err(InvalidEscape { written: 1 }),
            ),
            (
                "first digit not hex",
                b"+%g4",
                Plus::Space,
                Err(InvalidEscape { written: 1 }),
            ),
        ];
        for &(rule, raw, plus, expected) in cases {
            let mut dst = [0u8; 16];
            let got = decode_prefix(raw, &mut dst, plus).map(|p| {
                assert_eq!(p.read, raw.len(), "{rule}: reads everything");
                &dst[..p.written]
            });
            assert_eq!(got, expected, "{rule}");
        }
    }

    #[test]
    fn decode_prefix_stops_at_an_escape_boundary_when_full() {
        let mut dst = [0u8; 2];
        // The escape does not fit after "a" and "b", so it is not consumed.
        assert_eq!(
            decode_prefix(b"ab%41c", &mut dst, Plus::Literal),
            Ok(Progress {
                read: 2,
                written: 2
            })
        );
        // An escape that fits is consumed whole.
        assert_eq!(
            decode_prefix(b"a%41c", &mut dst, Plus::Literal),
            Ok(Progress {
                read: 4,
                written: 2
            })
        );
        assert_eq!(&dst, b"aA");
        // Nothing fits in an empty buffer, and nothing is examined.
        assert_eq!(
            decode_prefix(b"%zz", &mut [], Plus::Literal),
            Ok(Progress {
                read: 0,
                written: 0
            })
        );
    }

    #[test]
    fn decode_checks_and_inspects_what_does_not_fit() {
        let raw = b"0123456789%41%42%43%44%45%46%47%48%49%4A%4b%4c%4d%4e%4f%50".repeat(4);
        let mut seen = Vec::new();
        let mut dst = [0u8; 3];
        let fits = decode(&raw, &mut dst, Plus::Literal, (), |chunk| {
            seen.extend_from_slice(chunk);
            Ok(())
        });
        assert_eq!(fits, Ok(None));
        assert_eq!(seen, b"0123456789ABCDEFGHIJKLMNOP".repeat(4));

        // An invalid escape far past the end of `dst` is still found.
        let mut raw = b"x".repeat(200);
        raw.extend_from_slice(b"%4");
        assert_eq!(
            decode(&raw, &mut dst, Plus::Literal, "bad", |_| Ok(())),
            Err("bad")
        );

        // What comes before an invalid escape is inspected first.
        let mut seen = Vec::new();
        let result = decode(b"a%41b%4", &mut [0u8; 8], Plus::Literal, (), |chunk| {
            seen.extend_from_slice(chunk);
            Ok(())
        });
        assert_eq!((result, &seen[..]), (Err(()), &b"aAb"[..]));
        assert_eq!(
            decode(b"a\\b%4", &mut [0u8; 8], Plus::Literal, "escape", |c| {
                if c.contains(&b'\\') {
                    Err("backslash")
                } else {
                    Ok(())
                }
            }),
            Err("backslash"),
            "an earlier inspector error wins over a later invalid escape"
        );

        // An inspector's error is passed through.
        assert_eq!(
            decode(b"abc", &mut dst, Plus::Literal, "bad", |c| {
                if c.contains(&b'b') { Err("b") } else { Ok(()) }
            }),
            Err("b")
        );

        assert_eq!(
            decode(b"abc", &mut dst, Plus::Literal, (), |_| Ok(())),
            Ok(Some(3))
        );
    }
}
