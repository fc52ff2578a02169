//! Byte ranges (RFC 9110 §14): what a `Range` field asks of a file of a
//! given length.
//!
//! One range is answered `206` with that part; several ranges are
//! answered `200` with the whole file, as nginx does by default for
//! files it cannot answer in one part: a `multipart/byteranges` body is
//! rarely asked for (download managers ask for one range per request) and
//! would need a body assembled from pieces. Ranges none of which the file
//! can satisfy get `416`.

/// What to send of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Ranged {
    /// All of it: no `Range`, one the server ignores (another unit, a
    /// malformed set), or several ranges.
    Full,
    /// `len` bytes from `start`: `206`.
    Part {
        /// The first byte.
        start: u64,
        /// How many bytes (at least one).
        len: u64,
    },
    /// None of the ranges asked for lies in the file: `416`.
    Unsatisfiable,
}

/// Evaluates the value of a `Range` field against a file of `len` bytes.
///
/// `bytes=0-499` (the first 500 bytes), `bytes=500-` (from byte 500 to
/// the end), `bytes=-500` (the last 500); a last byte past the end means
/// the end. The unit is matched case-insensitively; a set that does not
/// parse, or a range whose last byte precedes its first, makes the whole
/// field ignored (RFC 9110 §14.2 allows it), as does another unit.
pub(super) fn evaluate(value: &[u8], len: u64) -> Ranged {
    let Some(set) = strip_unit(value) else {
        return Ranged::Full;
    };
    let mut ranges = 0u32;
    let mut satisfiable = None;
    for spec in set.split(|&byte| byte == b',') {
        let spec = spec.trim_ascii();
        if spec.is_empty() {
            // Empty list elements are allowed (RFC 9110 §5.6.1.2).
            continue;
        }
        let Some(part) = parse_spec(spec, len) else {
            return Ranged::Full;
        };
        ranges += 1;
        if part.is_some() && satisfiable.is_none() {
            satisfiable = part;
        }
    }
    match (ranges, satisfiable) {
        (0, _) => Ranged::Full,
        (_, None) => Ranged::Unsatisfiable,
        (1, Some((start, len))) => Ranged::Part { start, len },
        _ => Ranged::Full,
    }
}

/// The range set after `bytes=`, or `None` for another unit.
fn strip_unit(value: &[u8]) -> Option<&[u8]> {
    let (unit, set) = value.split_at_checked(6)?;
    unit.eq_ignore_ascii_case(b"bytes=").then_some(set)
}

/// One range spec against a file of `len` bytes: `None` if malformed,
/// `Some(None)` if well-formed and unsatisfiable, otherwise the start
/// and length of the bytes it covers.
fn parse_spec(spec: &[u8], len: u64) -> Option<Option<(u64, u64)>> {
    let dash = spec.iter().position(|&byte| byte == b'-')?;
    let (first, last) = (&spec[..dash], &spec[dash + 1..]);
    if first.is_empty() {
        // A suffix: the last `n` bytes.
        let n = number(last)?;
        return Some((n > 0 && len > 0).then(|| (len - n.min(len), n.min(len))));
    }
    let first = number(first)?;
    let last = if last.is_empty() {
        u64::MAX
    } else {
        number(last)?
    };
    if last < first {
        return None;
    }
    Some((first < len).then(|| (first, last.min(len - 1) - first + 1)))
}

/// A run of decimal digits; a number too large for `u64` saturates (a
/// last byte that far is the end of any file, a first byte that far is
/// past it).
fn number(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0u64, |n, &digit| {
        n.saturating_mul(10).saturating_add(u64::from(digit - b'0'))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(start: u64, len: u64) -> Ranged {
        Ranged::Part { start, len }
    }

    #[test]
    fn single_ranges() {
        assert_eq!(evaluate(b"bytes=0-499", 1000), part(0, 500));
        assert_eq!(evaluate(b"bytes=500-999", 1000), part(500, 500));
        assert_eq!(evaluate(b"bytes=500-", 1000), part(500, 500));
        assert_eq!(evaluate(b"bytes=-500", 1000), part(500, 500));
        assert_eq!(evaluate(b"bytes=-5000", 1000), part(0, 1000));
        assert_eq!(evaluate(b"bytes=990-5000", 1000), part(990, 10));
        assert_eq!(evaluate(b"bytes=999-999", 1000), part(999, 1));
        assert_eq!(evaluate(b"Bytes=0-0", 1000), part(0, 1));
        assert_eq!(
            evaluate(b"bytes=0-99999999999999999999999", 10),
            part(0, 10)
        );
        assert_eq!(evaluate(b"bytes= 1-2 ,", 10), part(1, 2));
    }

    #[test]
    fn unsatisfiable_ranges() {
        assert_eq!(evaluate(b"bytes=1000-", 1000), Ranged::Unsatisfiable);
        assert_eq!(evaluate(b"bytes=1000-2000", 1000), Ranged::Unsatisfiable);
        assert_eq!(evaluate(b"bytes=-0", 1000), Ranged::Unsatisfiable);
        assert_eq!(evaluate(b"bytes=0-", 0), Ranged::Unsatisfiable);
        assert_eq!(evaluate(b"bytes=-5", 0), Ranged::Unsatisfiable);
        assert_eq!(
            evaluate(b"bytes=2000-3000, 5000-", 1000),
            Ranged::Unsatisfiable
        );
        assert_eq!(
            evaluate(b"bytes=99999999999999999999999-", 1000),
            Ranged::Unsatisfiable
        );
    }

    #[test]
    fn several_ranges_get_the_whole_file() {
        assert_eq!(evaluate(b"bytes=0-1, 5-6", 1000), Ranged::Full);
        assert_eq!(evaluate(b"bytes=0-1,-1", 1000), Ranged::Full);
        assert_eq!(evaluate(b"bytes=0-1, 5000-", 1000), Ranged::Full);
    }

    #[test]
    fn malformed_or_foreign_ranges_are_ignored() {
        for value in [
            &b""[..],
            b"bytes",
            b"bytes=",
            b"bytes=,",
            b"bytes=abc",
            b"bytes=5",
            b"bytes=-",
            b"bytes=5-1",
            b"bytes=1-2-3",
            b"bytes=+1-2",
            b"bytes=0x1-2",
            b"bytes=0-1, x",
            b"items=0-5",
            b"bytes =0-5",
        ] {
            assert_eq!(
                evaluate(value, 1000),
                Ranged::Full,
                "{}",
                String::from_utf8_lossy(value)
            );
        }
    }
}
