//! Request paths turned into safe relative file paths.
//!
//! A static-file server maps the path of a request onto a directory. This
//! module does the part of that which needs no file system: [`decode_path`]
//! percent-decodes the path into a buffer the caller owns, normalises away
//! empty and `.` segments, and refuses everything that could make the result
//! name a file outside the directory it is joined to — `..` segments,
//! separators smuggled in as escapes, backslashes, NUL bytes and Windows
//! drive prefixes. What comes out is a relative UTF-8 path, segments joined by
//! `/`, ready to be joined to the served directory.
//!
//! ```
//! use peregrine_core::path::{decode_path, PathError};
//!
//! let mut buf = [0u8; 256];
//! assert_eq!(decode_path(b"/docs/./caf%C3%A9//menu.html", &mut buf)?, "docs/café/menu.html");
//! assert_eq!(decode_path(b"/docs/%2e%2e/secret", &mut buf), Err(PathError::Traversal));
//! # Ok::<(), PathError>(())
//! ```
//!
//! # What is not checked
//!
//! The result is safe to join to a directory on POSIX systems and on Windows
//! as far as *structure* goes: it cannot climb out, become absolute, or name
//! another drive or a UNC share. Some names are still special to particular
//! file systems, and policy about them is left to the file-serving layer:
//! Windows device names (`CON`, `NUL`, `COM1`, …), names with trailing dots
//! or spaces (which Windows strips), `:` after the first segment (NTFS
//! alternate data streams such as `file.txt::$DATA`), dot-files such as
//! `.git`, and symbolic links inside the served directory.

use core::fmt;

use memchr::{memchr, memchr3};

use crate::percent::{self, Plus};

/// Why a request path was refused by [`decode_path`].
///
/// ```
/// use peregrine_core::path::PathError;
///
/// assert_eq!(PathError::Traversal.to_string(), "path contains a `..` segment");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PathError {
    /// The path does not start with `/`.
    NotAbsolute,
    /// A `%` is not followed by two hex digits.
    InvalidEscape,
    /// A segment is `..` once decoded (`..`, `%2e%2E`, `.%2e`, …).
    Traversal,
    /// A byte decodes to NUL (`%00`), which no file system accepts in a name
    /// and C APIs take as the end of the path.
    Nul,
    /// A segment holds a separator it must not: an encoded slash (`%2F`), or
    /// a backslash, raw or encoded (`%5C`). A decoded `/` would create a
    /// segment that escaped the checks on segments, and Windows treats `\`
    /// as a separator.
    Separator,
    /// The first segment starts with a Windows drive prefix, an ASCII letter
    /// and a colon (`C:`, `c:foo`), which would make the result absolute or
    /// drive-relative when joined to a directory on Windows. Refused on
    /// every platform, so that behaviour does not depend on where the server
    /// runs.
    DrivePrefix,
    /// The decoded path is not UTF-8.
    InvalidUtf8,
    /// The decoded path does not fit in the buffer given for it.
    BufferTooSmall,
}

impl PathError {
    /// A short, lower-case reason, fit for a response body or a log line.
    pub const fn reason(self) -> &'static str {
        match self {
            PathError::NotAbsolute => "path does not start with `/`",
            PathError::InvalidEscape => "invalid percent-escape",
            PathError::Traversal => "path contains a `..` segment",
            PathError::Nul => "path contains NUL",
            PathError::Separator => "path contains an encoded `/` or a `\\`",
            PathError::DrivePrefix => "path starts with a drive prefix",
            PathError::InvalidUtf8 => "decoded path is not UTF-8",
            PathError::BufferTooSmall => "decoded path does not fit its buffer",
        }
    }
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

#[cfg(feature = "std")]
impl std::error::Error for PathError {}

/// Decodes the path of an origin-form request-target into a relative path
/// that is safe to join to the directory a static-file server serves.
///
/// `path` is the raw path: it starts with `/` and has no query (split the
/// request-target at its first `?` before calling this). The result, written
/// to the front of `dst`:
///
/// - has no leading `/`, and its segments are joined by single `/`s;
/// - has no empty and no `.` segments: they are dropped, so `/a//b/./c`
///   becomes `a/b/c` and `/` becomes the empty string (the directory itself);
///   a trailing `/` is dropped too, so a caller that needs to tell `/dir/`
///   from `/dir` should look at the raw path;
/// - is percent-decoded, hex digits of either case; `+` stays `+`, since it
///   means a space only in queries.
///
/// The decoded path is never longer than `path`, so a `dst` of `path.len()`
/// bytes always suffices.
///
/// # Errors
///
/// - [`PathError::NotAbsolute`]: `path` does not start with `/`.
/// - [`PathError::InvalidEscape`]: a `%` is not followed by two hex digits.
/// - [`PathError::Traversal`]: a segment is `..` once decoded. It is refused,
///   not resolved: no legitimate client sends one, since clients remove dot
///   segments before sending (RFC 3986 §5.2.4).
/// - [`PathError::Nul`]: a byte decodes to NUL.
/// - [`PathError::Separator`]: `%2F`, or a backslash raw or as `%5C`.
/// - [`PathError::DrivePrefix`]: the first segment of the result starts with
///   an ASCII letter and `:`, a Windows drive prefix.
/// - [`PathError::BufferTooSmall`]: the result does not fit in `dst`.
/// - [`PathError::InvalidUtf8`]: the result is not UTF-8.
///
/// The errors up to `DrivePrefix` in this list are about the path itself and
/// are reported whatever the size of `dst`; of those, the one in the
/// leftmost offending segment is reported. `BufferTooSmall` is reported only
/// for a path that is otherwise acceptable except perhaps for its encoding,
/// and `InvalidUtf8` only for one that fits. On error, the contents of `dst`
/// are unspecified.
///
/// ```
/// use peregrine_core::path::{decode_path, PathError};
///
/// let mut buf = [0u8; 64];
/// assert_eq!(decode_path(b"/", &mut buf)?, "");
/// assert_eq!(decode_path(b"/img//a+b%20c.png", &mut buf)?, "img/a+b c.png");
/// assert_eq!(decode_path(b"/a/../b", &mut buf), Err(PathError::Traversal));
/// assert_eq!(decode_path(b"/a%2Fb", &mut buf), Err(PathError::Separator));
/// assert_eq!(decode_path(b"/C:/Windows", &mut buf), Err(PathError::DrivePrefix));
/// assert_eq!(decode_path(b"/abc", &mut buf[..2]), Err(PathError::BufferTooSmall));
/// # Ok::<(), PathError>(())
/// ```
pub fn decode_path<'d>(path: &[u8], dst: &'d mut [u8]) -> Result<&'d str, PathError> {
    let Some((&b'/', mut rest)) = path.split_first() else {
        return Err(PathError::NotAbsolute);
    };
    let mut len = 0;
    let mut fits = true;
    let mut first = true;
    loop {
        let (raw, tail) = match memchr(b'/', rest) {
            Some(slash) => (&rest[..slash], Some(&rest[slash + 1..])),
            None => (rest, None),
        };
        match short_segment(raw).as_ref().map(|(bytes, n)| &bytes[..*n]) {
            Some(b"" | b".") => {}
            Some(b"..") => return Err(PathError::Traversal),
            _ => {
                let out: &mut [u8] = if !fits {
                    &mut []
                } else if first {
                    &mut dst[..]
                } else if len < dst.len() {
                    dst[len] = b'/';
                    &mut dst[len + 1..]
                } else {
                    fits = false;
                    &mut []
                };
                let decoded =
                    percent::decode(raw, out, Plus::Literal, PathError::InvalidEscape, check)?;
                if first && has_drive_prefix(raw) {
                    return Err(PathError::DrivePrefix);
                }
                match decoded {
                    Some(n) if fits => len += usize::from(!first) + n,
                    _ => fits = false,
                }
                first = false;
            }
        }
        match tail {
            Some(tail) => rest = tail,
            None => break,
        }
    }
    if !fits {
        return Err(PathError::BufferTooSmall);
    }
    core::str::from_utf8(&dst[..len]).map_err(|_| PathError::InvalidUtf8)
}

/// Decodes a raw segment that is short enough to be empty, `.` or `..`, so
/// that those can be recognised before anything is written to `dst`.
/// `None` if the segment decodes to more than two bytes or is malformed: it
/// is then neither, and any error is reported when it is decoded in full.
fn short_segment(raw: &[u8]) -> Option<([u8; 2], usize)> {
    let mut head = [0u8; 2];
    let done = percent::decode_prefix(raw, &mut head, Plus::Literal).ok()?;
    (done.read == raw.len()).then_some((head, done.written))
}

/// Whether a raw segment decodes to something starting with an ASCII letter
/// and a colon.
fn has_drive_prefix(raw: &[u8]) -> bool {
    let mut head = [0u8; 2];
    matches!(
        percent::decode_prefix(raw, &mut head, Plus::Literal),
        Ok(done) if done.written == 2 && head[0].is_ascii_alphabetic() && head[1] == b':'
    )
}

/// Refuses decoded bytes that no segment may contain.
fn check(decoded: &[u8]) -> Result<(), PathError> {
    match memchr3(0, b'/', b'\\', decoded).map(|at| decoded[at]) {
        None => Ok(()),
        Some(0) => Err(PathError::Nul),
        Some(_) => Err(PathError::Separator),
    }
}

static_assertions::assert_eq_size!(PathError, u8);
static_assertions::assert_impl_all!(PathError: Copy, Send, Sync, fmt::Display);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::string::ToString;
    use std::vec::Vec;

    const ALL_ERRORS: [PathError; 8] = [
        PathError::NotAbsolute,
        PathError::InvalidEscape,
        PathError::Traversal,
        PathError::Nul,
        PathError::Separator,
        PathError::DrivePrefix,
        PathError::InvalidUtf8,
        PathError::BufferTooSmall,
    ];

    #[test]
    fn accepted_paths() {
        let cases: &[(&str, &[u8], &str)] = &[
            ("root is the empty path", b"/", ""),
            ("leading / is removed", b"/a", "a"),
            ("segments joined by /", b"/a/b/c", "a/b/c"),
            ("empty segments dropped", b"/a//b///c", "a/b/c"),
            ("leading empty segments dropped", b"//a", "a"),
            ("only slashes", b"////", ""),
            ("trailing / dropped", b"/a/b/", "a/b"),
            (". segments dropped", b"/a/./b/.", "a/b"),
            (". as the only segment", b"/.", ""),
            ("encoded . segment dropped, lower case", b"/%2e/a", "a"),
            ("encoded . segment dropped, upper case", b"/a/%2E", "a"),
            ("mixed: empty and dot segments", b"/./a//./b/./", "a/b"),
            (
                "dots inside a name are fine",
                b"/a.b/.c/c./.../..a/a..",
                "a.b/.c/c./.../..a/a..",
            ),
            (
                "encoded dots inside a name are fine",
                b"/%2e%2e%2e/%2e%2ea",
                ".../..a",
            ),
            ("+ stays +", b"/a+b", "a+b"),
            ("%2B is +", b"/a%2Bb", "a+b"),
            ("upper-case hex", b"/caf%C3%A9", "café"),
            ("lower-case hex", b"/caf%c3%a9", "café"),
            ("mixed-case hex", b"/%4a%4A", "JJ"),
            ("%20 is a space", b"/a%20b", "a b"),
            ("%25 is a literal %", b"/100%25", "100%"),
            ("raw UTF-8 passes through", "/日本".as_bytes(), "日本"),
            ("? and # are ordinary bytes here", b"/a?b#c", "a?b#c"),
            ("colon after the first segment", b"/a/C:/b:c", "a/C:/b:c"),
            ("colon not after a letter", b"/1:/:a", "1:/:a"),
            ("letter and colon not at the start", b"/aC:", "aC:"),
        ];
        for &(rule, path, expected) in cases {
            let mut dst = [0u8; 64];
            assert_eq!(decode_path(path, &mut dst), Ok(expected), "{rule}");
        }
    }

    #[test]
    fn refused_paths() {
        let cases: &[(&str, &[u8], PathError)] = &[
            ("empty path is not absolute", b"", PathError::NotAbsolute),
            ("relative path", b"a/b", PathError::NotAbsolute),
            ("asterisk form", b"*", PathError::NotAbsolute),
            ("absolute form", b"http://h/a", PathError::NotAbsolute),
            ("encoded leading slash", b"%2Fa", PathError::NotAbsolute),
            ("raw ..", b"/a/../b", PathError::Traversal),
            ("leading ..", b"/..", PathError::Traversal),
            ("trailing ..", b"/a/..", PathError::Traversal),
            (".. after an empty segment", b"//../a", PathError::Traversal),
            ("encoded .., mixed case", b"/%2e%2E/x", PathError::Traversal),
            ("half-encoded .., first", b"/%2e./x", PathError::Traversal),
            ("half-encoded .., second", b"/.%2E/x", PathError::Traversal),
            (
                ".. even if it resolves inside",
                b"/a/b/../c",
                PathError::Traversal,
            ),
            ("encoded NUL", b"/a%00b", PathError::Nul),
            ("NUL alone", b"/%00", PathError::Nul),
            ("raw NUL", b"/a\0", PathError::Nul),
            ("encoded slash, upper case", b"/a%2Fb", PathError::Separator),
            ("encoded slash, lower case", b"/a%2fb", PathError::Separator),
            ("encoded slash alone", b"/%2F", PathError::Separator),
            (
                "encoded slash hiding ..",
                b"/..%2F..%2Fetc",
                PathError::Separator,
            ),
            ("raw backslash", b"/a\\b", PathError::Separator),
            ("raw backslash with ..", b"/..\\x", PathError::Separator),
            (
                "encoded backslash, upper case",
                b"/a%5Cb",
                PathError::Separator,
            ),
            (
                "encoded backslash, lower case",
                b"/a%5cb",
                PathError::Separator,
            ),
            (
                "encoded backslash hiding ..",
                b"/..%5c..%5cwin.ini",
                PathError::Separator,
            ),
            ("drive prefix", b"/C:", PathError::DrivePrefix),
            ("drive prefix, lower case", b"/c:/x", PathError::DrivePrefix),
            ("drive-relative", b"/C:x", PathError::DrivePrefix),
            ("encoded drive prefix", b"/%43%3a/x", PathError::DrivePrefix),
            (
                "drive prefix after dropped segments",
                b"//./C:/x",
                PathError::DrivePrefix,
            ),
            ("% at the very end", b"/a%", PathError::InvalidEscape),
            ("one hex digit: %4", b"/%4", PathError::InvalidEscape),
            (
                "one hex digit before a slash",
                b"/%4/a",
                PathError::InvalidEscape,
            ),
            ("non-hex digits: %zz", b"/%zz", PathError::InvalidEscape),
            (
                "second digit not hex: %2g",
                b"/%2g",
                PathError::InvalidEscape,
            ),
            (
                "a broken escape is not a dot",
                b"/%2",
                PathError::InvalidEscape,
            ),
            (
                "invalid escape in a later segment",
                b"/a/b%",
                PathError::InvalidEscape,
            ),
            ("lone continuation byte", b"/%80", PathError::InvalidUtf8),
            ("truncated UTF-8", b"/a/%E6%97", PathError::InvalidUtf8),
            ("raw invalid byte", b"/\xff", PathError::InvalidUtf8),
            (
                "UTF-8 split by a separator",
                b"/%E6/%97%A5",
                PathError::InvalidUtf8,
            ),
        ];
        for &(rule, path, expected) in cases {
            let mut dst = [0u8; 64];
            assert_eq!(decode_path(path, &mut dst), Err(expected), "{rule}");
        }
    }

    #[test]
    fn first_offending_segment_decides() {
        let cases: &[(&str, &[u8], PathError)] = &[
            ("traversal before NUL", b"/../%00", PathError::Traversal),
            ("NUL before traversal", b"/%00/..", PathError::Nul),
            (
                "escape before traversal",
                b"/%zz/..",
                PathError::InvalidEscape,
            ),
            ("traversal before escape", b"/../%zz", PathError::Traversal),
            ("separator before escape", b"/%2F/%", PathError::Separator),
            (
                "content errors before UTF-8",
                b"/%ff/..",
                PathError::Traversal,
            ),
            (
                "backslash before a bad escape",
                b"/a\\b%",
                PathError::Separator,
            ),
            (
                "bad escape before a backslash",
                b"/a%zz\\",
                PathError::InvalidEscape,
            ),
            ("NUL before a bad escape", b"/a%00%4", PathError::Nul),
            ("bytes before a drive prefix", b"/C:%00", PathError::Nul),
        ];
        for &(rule, path, expected) in cases {
            let mut dst = [0u8; 64];
            assert_eq!(decode_path(path, &mut dst), Err(expected), "{rule}");
        }
    }

    #[test]
    fn buffer_boundaries() {
        // (rule, path, decoded result)
        let cases: &[(&str, &[u8], &str)] = &[
            ("one segment", b"/abc", "abc"),
            ("separator is the last byte that fits", b"/ab/c", "ab/c"),
            ("ends in an escape", b"/a/%41", "a/A"),
            ("dropped segments need no room", b"/./a//./", "a"),
            ("dropped encoded dot needs no room", b"/%2e", ""),
            ("multi-byte character at the end", b"/a/%C3%A9", "a/é"),
            ("normalised", b"/a//b/./c", "a/b/c"),
        ];
        for &(rule, path, expected) in cases {
            let mut exact = std::vec![0u8; expected.len()];
            assert_eq!(
                decode_path(path, &mut exact),
                Ok(expected),
                "{rule}: dst of exactly the decoded length"
            );
            if !expected.is_empty() {
                let mut short = std::vec![0u8; expected.len() - 1];
                assert_eq!(
                    decode_path(path, &mut short),
                    Err(PathError::BufferTooSmall),
                    "{rule}: dst one byte short"
                );
            }
        }
    }

    #[test]
    fn content_errors_are_reported_whatever_the_buffer_size() {
        let long = b"/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        let cases: &[(&str, &[u8], PathError)] = &[
            (
                "traversal after the end of dst",
                b"/abc/..",
                PathError::Traversal,
            ),
            ("NUL after the end of dst", b"/abc%00", PathError::Nul),
            (
                "separator after the end of dst",
                b"/abc/d%2f",
                PathError::Separator,
            ),
            (
                "escape after the end of dst",
                b"/abc/d%4",
                PathError::InvalidEscape,
            ),
            (
                "drive prefix longer than dst",
                b"/C:abc",
                PathError::DrivePrefix,
            ),
            (
                "backslash, then a bad escape past the end of dst",
                b"/\\2222%",
                PathError::Separator,
            ),
        ];
        for &(rule, path, expected) in cases {
            for size in [0, 1, 2, 3, 4] {
                let mut dst = std::vec![0u8; size];
                assert_eq!(
                    decode_path(path, &mut dst),
                    Err(expected),
                    "{rule}, dst {size}"
                );
            }
        }
        // Past the stack buffer used to check what does not fit.
        let mut path = long.repeat(3);
        path.extend_from_slice(b"%5C");
        assert_eq!(decode_path(&path, &mut [0u8; 4]), Err(PathError::Separator));
        // UTF-8 is only checked once the path fits.
        assert_eq!(
            decode_path(b"/%ff%ff", &mut [0u8; 1]),
            Err(PathError::BufferTooSmall)
        );
    }

    #[test]
    fn path_error_display_and_traits() {
        for error in ALL_ERRORS {
            assert_eq!(error.to_string(), error.reason());
            assert!(!error.reason().is_empty());
        }
        assert_eq!(
            PathError::Separator.to_string(),
            "path contains an encoded `/` or a `\\`"
        );
        #[cfg(feature = "std")]
        {
            let error: &dyn std::error::Error = &PathError::Nul;
            assert!(error.source().is_none());
        }
    }

    /// Bytes that exercise the rules, mixed with arbitrary ones.
    fn path_bytes() -> impl Strategy<Value = Vec<u8>> {
        let byte = prop_oneof![
            6 => prop::sample::select(&b"/./%2eE0fF5cC:a\\\xc3\xa9"[..]),
            1 => any::<u8>(),
        ];
        (any::<bool>(), prop::collection::vec(byte, 0..48)).prop_map(|(slash, mut bytes)| {
            if slash {
                bytes.insert(0, b'/');
            }
            bytes
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        /// Rule: whatever the input, an accepted path has no leading `/`, no
        /// empty, `.` or `..` segment, no NUL, no backslash and no drive
        /// prefix.
        #[test]
        fn decode_path_output_is_safe(path in prop_oneof![
            path_bytes(),
            prop::collection::vec(any::<u8>(), 0..48),
        ]) {
            let mut dst = std::vec![0u8; path.len()];
            if let Ok(out) = decode_path(&path, &mut dst) {
                prop_assert!(!out.starts_with('/'), "leading slash: {out:?}");
                prop_assert!(!out.contains('\0'), "NUL: {out:?}");
                prop_assert!(!out.contains('\\'), "backslash: {out:?}");
                if !out.is_empty() {
                    for segment in out.split('/') {
                        prop_assert!(
                            !matches!(segment, "" | "." | ".."),
                            "segment {segment:?} in {out:?}"
                        );
                    }
                }
                let b = out.as_bytes();
                prop_assert!(
                    !(b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':'),
                    "drive prefix: {out:?}"
                );
            }
        }

        /// Rule: the size of `dst` decides only between success,
        /// `BufferTooSmall` and `InvalidUtf8`; every other outcome is a
        /// property of the path.
        #[test]
        fn decode_path_errors_do_not_depend_on_dst(path in path_bytes(), size in 0..48usize) {
            let mut big = std::vec![0u8; path.len()];
            let mut small = std::vec![0u8; size];
            let full = decode_path(&path, &mut big);
            let partial = decode_path(&path, &mut small);
            match full {
                Ok(out) if out.len() <= size => prop_assert_eq!(partial, Ok(out)),
                Ok(_) => prop_assert_eq!(partial, Err(PathError::BufferTooSmall)),
                Err(PathError::InvalidUtf8) => prop_assert!(matches!(
                    partial,
                    Err(PathError::InvalidUtf8 | PathError::BufferTooSmall)
                )),
                Err(error) => prop_assert_eq!(partial, Err(error)),
            }
        }

        /// Rule: decoding needs no more room than the raw path.
        #[test]
        fn decode_path_fits_in_path_len(path in path_bytes()) {
            let mut dst = std::vec![0u8; path.len()];
            prop_assert_ne!(decode_path(&path, &mut dst), Err(PathError::BufferTooSmall));
        }
    }
}
