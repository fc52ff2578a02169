//! Validators and conditional requests (RFC 9110 §8.8, §13): the strong
//! `ETag` and `Last-Modified` of a file, and what `If-Match`,
//! `If-Unmodified-Since`, `If-None-Match`, `If-Modified-Since` and
//! `If-Range` make of a request for it.

use peregrine_core::date::{IMF_FIXDATE_LEN, format_imf_fixdate, parse_http_date};
use peregrine_core::{Headers, Method};

use super::cache::Identity;

/// The longest entity-tag: two quotes, three 16-digit hex numbers, an
/// 8-digit one and three separators.
const MAX_ETAG: usize = 2 + 3 * 16 + 8 + 3;

/// The validators of one representation: an entity-tag and a
/// modification time.
pub(super) struct Validators {
    /// The entity-tag, quotes included: `"<inode>-<mtime s>.<ns>-<len>"`
    /// in hex. Strong: it changes whenever the file's bytes can have
    /// (another file, a write that moved the modification time, another
    /// length).
    etag: [u8; MAX_ETAG],
    /// Bytes of `etag` used.
    etag_len: usize,
    /// The modification time, in whole seconds since the epoch.
    modified: u64,
}

impl Validators {
    /// The validators of a file as it was when opened.
    pub(super) fn of(identity: &Identity) -> Validators {
        let mut validators = Validators {
            etag: [0; MAX_ETAG],
            etag_len: 0,
            modified: identity.modified_secs,
        };
        validators.push(b"\"");
        validators.push_hex(identity.inode);
        validators.push(b"-");
        validators.push_hex(identity.modified_secs);
        validators.push(b".");
        validators.push_hex(u64::from(identity.modified_nanos));
        validators.push(b"-");
        validators.push_hex(identity.len);
        validators.push(b"\"");
        validators
    }

    /// Appends bytes to the entity-tag (they always fit).
    fn push(&mut self, bytes: &[u8]) {
        self.etag[self.etag_len..self.etag_len + bytes.len()].copy_from_slice(bytes);
        self.etag_len += bytes.len();
    }

    /// Appends `value` in lower-case hex, without leading zeros.
    fn push_hex(&mut self, value: u64) {
        let digits = (64 - value.leading_zeros()).div_ceil(4).max(1);
        for shift in (0..digits).rev() {
            let nibble = (value >> (shift * 4)) & 0xf;
            self.push(&[b"0123456789abcdef"[nibble as usize]]);
        }
    }

    /// The `ETag` value.
    pub(super) fn etag(&self) -> &[u8] {
        &self.etag[..self.etag_len]
    }

    /// The `Last-Modified` value.
    pub(super) fn last_modified(&self) -> [u8; IMF_FIXDATE_LEN] {
        let mut date = [0; IMF_FIXDATE_LEN];
        format_imf_fixdate(self.modified, &mut date);
        date
    }
}

/// What the preconditions of a request make of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Precondition {
    /// Answer it; `range` says whether its `Range` (if any) applies,
    /// `If-Range` permitting.
    Proceed {
        /// Whether to honour `Range`.
        range: bool,
    },
    /// `304 Not Modified`.
    NotModified,
    /// `412 Precondition Failed`.
    Failed,
}

/// Evaluates a request's preconditions against the validators of the
/// representation it would get, in the order of RFC 9110 §13.2.2:
///
/// 1. `If-Match` (strong comparison; `*` matches any file) failing: `412`;
/// 2. else `If-Unmodified-Since` earlier than the file: `412`;
/// 3. `If-None-Match` (weak comparison; `*` matches) matching: `304` for
///    `GET` and `HEAD`, `412` otherwise;
/// 4. else, for `GET` and `HEAD`, `If-Modified-Since` no earlier than the
///    file: `304`;
/// 5. for `GET`, `If-Range` decides whether `Range` applies: an
///    entity-tag must match strongly, a date must equal `Last-Modified`.
///
/// A date that does not parse is no condition (§13.1.3, §13.1.4).
pub(super) fn evaluate(
    headers: &Headers<'_>,
    method: Method,
    validators: &Validators,
) -> Precondition {
    let etag = validators.etag();
    let modified = validators.modified;
    let safe = matches!(method, Method::Get | Method::Head);
    if headers.contains("if-match") {
        if !matches_any(headers, "if-match", etag, Comparison::Strong) {
            return Precondition::Failed;
        }
    } else if let Some(since) = date(headers, "if-unmodified-since") {
        if modified > since {
            return Precondition::Failed;
        }
    }
    if headers.contains("if-none-match") {
        if matches_any(headers, "if-none-match", etag, Comparison::Weak) {
            return if safe {
                Precondition::NotModified
            } else {
                Precondition::Failed
            };
        }
    } else if safe {
        if let Some(since) = date(headers, "if-modified-since") {
            if modified <= since {
                return Precondition::NotModified;
            }
        }
    }
    let range = method == Method::Get
        && match headers.get("if-range") {
            None => true,
            Some(value) if value.starts_with(b"\"") || value.starts_with(b"W/") => {
                let mut tags = EntityTags::new(value);
                tags.next()
                    .is_some_and(|tag| tag.matches(etag, Comparison::Strong))
                    && tags.next().is_none()
            }
            Some(value) => parse_http_date(value) == Some(modified),
        };
    Precondition::Proceed { range }
}

/// The date of the single field `name`, if there is one and it parses.
fn date(headers: &Headers<'_>, name: &str) -> Option<u64> {
    let mut values = headers.get_all(name);
    let value = values.next()?;
    match values.next() {
        Some(_) => None,
        None => parse_http_date(value),
    }
}

/// How two entity-tags are compared (RFC 9110 §8.8.3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Comparison {
    /// Equal opaque tags, neither weak.
    Strong,
    /// Equal opaque tags, either or both weak.
    Weak,
}

/// Whether the lists of fields `name` hold `*` or a tag matching `etag`
/// (one of ours, never weak). A malformed list matches nothing after the
/// fault.
fn matches_any(headers: &Headers<'_>, name: &str, etag: &[u8], comparison: Comparison) -> bool {
    headers.get_all(name).any(|value| {
        if value.trim_ascii() == b"*" {
            return true;
        }
        EntityTags::new(value).any(|tag| tag.matches(etag, comparison))
    })
}

/// One entity-tag of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct EntityTag<'a> {
    /// Whether it was `W/`.
    weak: bool,
    /// The opaque tag, quotes included.
    opaque: &'a [u8],
}

impl EntityTag<'_> {
    /// Whether it matches `ours` (a strong tag) by `comparison`.
    fn matches(&self, ours: &[u8], comparison: Comparison) -> bool {
        self.opaque == ours && (comparison == Comparison::Weak || !self.weak)
    }
}

/// The entity-tags of a `#entity-tag` list, read one by one: an
/// opaque tag may hold commas, so the list is not split on them.
struct EntityTags<'a> {
    /// What is left to read.
    rest: &'a [u8],
}

impl<'a> EntityTags<'a> {
    /// The tags of `value`.
    fn new(value: &'a [u8]) -> Self {
        EntityTags { rest: value }
    }
}

impl<'a> Iterator for EntityTags<'a> {
    type Item = EntityTag<'a>;

    fn next(&mut self) -> Option<EntityTag<'a>> {
        let start = self
            .rest
            .iter()
            .position(|&byte| !matches!(byte, b' ' | b'\t' | b','))?;
        let rest = &self.rest[start..];
        let (weak, quoted) = match rest.strip_prefix(b"W/") {
            Some(quoted) => (true, quoted),
            None => (false, rest),
        };
        let tag = quoted
            .strip_prefix(b"\"")
            .and_then(|inner| inner.iter().position(|&byte| byte == b'"'))
            .map(|close| &quoted[..close + 2]);
        let Some(opaque) = tag else {
            self.rest = &[];
            return None;
        };
        self.rest = &quoted[opaque.len()..];
        // The next element must follow a comma (or nothing).
        let after = self.rest.trim_ascii_start();
        if !after.is_empty() && !after.starts_with(b",") {
            self.rest = &[];
        }
        Some(EntityTag { weak, opaque })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use peregrine_core::{Parsed, RequestParser};

    const MODIFIED: u64 = 784_111_777;
    const AT: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
    const EARLIER: &str = "Sun, 06 Nov 1994 08:49:36 GMT";
    const LATER: &str = "Sun, 06 Nov 1994 08:49:38 GMT";

    fn validators() -> Validators {
        Validators::of(&Identity {
            len: 0x1234,
            modified_secs: MODIFIED,
            modified_nanos: 5,
            inode: 0xabc,
            device: 1,
        })
    }

    /// The precondition of a `method` request with `fields`.
    fn evaluate_with(method: &str, fields: &[(&str, &str)]) -> Precondition {
        let mut wire = format!("{method} / HTTP/1.1\r\nHost: t\r\n");
        for (name, value) in fields {
            wire.push_str(&format!("{name}: {value}\r\n"));
        }
        wire.push_str("\r\n");
        let mut parser = RequestParser::<16>::new();
        let Ok(Parsed::Complete(request)) = parser.parse(wire.as_bytes()) else {
            panic!("{wire}")
        };
        evaluate(&request.headers(), request.method(), &validators())
    }

    fn get(fields: &[(&str, &str)]) -> Precondition {
        evaluate_with("GET", fields)
    }

    const PROCEED: Precondition = Precondition::Proceed { range: true };
    const WHOLE: Precondition = Precondition::Proceed { range: false };
    const ETAG: &str = "\"abc-2ebc98a1.5-1234\"";

    #[test]
    fn the_etag_names_inode_time_and_length() {
        let validators = validators();
        assert_eq!(validators.etag(), ETAG.as_bytes());
        assert_eq!(&validators.last_modified(), AT.as_bytes());
        let zero = Validators::of(&Identity {
            len: 0,
            modified_secs: 0,
            modified_nanos: 0,
            inode: u64::MAX,
            device: 0,
        });
        assert_eq!(zero.etag(), b"\"ffffffffffffffff-0.0-0\"");
    }

    #[test]
    fn if_none_match_lists_star_and_weak_tags() {
        assert_eq!(get(&[]), PROCEED);
        assert_eq!(get(&[("If-None-Match", ETAG)]), Precondition::NotModified);
        assert_eq!(
            get(&[("If-None-Match", &format!("W/{ETAG}"))]),
            Precondition::NotModified
        );
        assert_eq!(
            get(&[("If-None-Match", &format!("\"x\", \"a,b\" ,W/{ETAG}"))]),
            Precondition::NotModified
        );
        assert_eq!(
            get(&[("If-None-Match", "\"x\""), ("If-None-Match", ETAG)]),
            Precondition::NotModified
        );
        assert_eq!(get(&[("If-None-Match", "*")]), Precondition::NotModified);
        assert_eq!(get(&[("If-None-Match", "\"other\", W/\"x\"")]), PROCEED);
        assert_eq!(get(&[("If-None-Match", "abc-2ebc98a1.5-1234")]), PROCEED);
        assert_eq!(
            evaluate_with("HEAD", &[("If-None-Match", ETAG)]),
            Precondition::NotModified
        );
        assert_eq!(
            evaluate_with("POST", &[("If-None-Match", ETAG)]),
            Precondition::Failed
        );
    }

    #[test]
    fn if_modified_since_and_its_precedence() {
        assert_eq!(get(&[("If-Modified-Since", AT)]), Precondition::NotModified);
        assert_eq!(
            get(&[("If-Modified-Since", LATER)]),
            Precondition::NotModified
        );
        assert_eq!(get(&[("If-Modified-Since", EARLIER)]), PROCEED);
        assert_eq!(get(&[("If-Modified-Since", "yesterday")]), PROCEED);
        assert_eq!(
            get(&[("If-Modified-Since", AT), ("If-Modified-Since", AT)]),
            PROCEED
        );
        // If-None-Match, present, makes If-Modified-Since ignored.
        assert_eq!(
            get(&[("If-None-Match", "\"other\""), ("If-Modified-Since", LATER)]),
            PROCEED
        );
        assert_eq!(
            evaluate_with("POST", &[("If-Modified-Since", LATER)]),
            WHOLE
        );
    }

    #[test]
    fn if_match_and_if_unmodified_since_fail_with_412() {
        assert_eq!(get(&[("If-Match", ETAG)]), PROCEED);
        assert_eq!(get(&[("If-Match", "*")]), PROCEED);
        assert_eq!(get(&[("If-Match", "\"x\"")]), Precondition::Failed);
        assert_eq!(
            get(&[("If-Match", &format!("W/{ETAG}"))]),
            Precondition::Failed
        );
        assert_eq!(get(&[("If-Unmodified-Since", AT)]), PROCEED);
        assert_eq!(
            get(&[("If-Unmodified-Since", EARLIER)]),
            Precondition::Failed
        );
        assert_eq!(get(&[("If-Unmodified-Since", "nonsense")]), PROCEED);
        // If-Match, present, makes If-Unmodified-Since ignored.
        assert_eq!(
            get(&[("If-Match", ETAG), ("If-Unmodified-Since", EARLIER)]),
            PROCEED
        );
        // 412 comes before 304.
        assert_eq!(
            get(&[("If-Match", "\"x\""), ("If-None-Match", ETAG)]),
            Precondition::Failed
        );
    }

    #[test]
    fn if_range_takes_a_strong_etag_or_the_exact_date() {
        assert_eq!(get(&[("If-Range", ETAG)]), PROCEED);
        assert_eq!(get(&[("If-Range", &format!("W/{ETAG}"))]), WHOLE);
        assert_eq!(get(&[("If-Range", "\"x\"")]), WHOLE);
        assert_eq!(get(&[("If-Range", AT)]), PROCEED);
        assert_eq!(get(&[("If-Range", LATER)]), WHOLE);
        assert_eq!(get(&[("If-Range", "garbage")]), WHOLE);
        assert_eq!(evaluate_with("HEAD", &[]), WHOLE);
    }

    #[test]
    fn entity_tag_lists_are_read_tag_by_tag() {
        let tags: Vec<_> = EntityTags::new(b" \"a\" , W/\"b,c\",,\"\"").collect();
        assert_eq!(
            tags,
            [
                EntityTag {
                    weak: false,
                    opaque: b"\"a\""
                },
                EntityTag {
                    weak: true,
                    opaque: b"\"b,c\""
                },
                EntityTag {
                    weak: false,
                    opaque: b"\"\""
                },
            ]
        );
        assert_eq!(EntityTags::new(b"\"a\" \"b\"").count(), 1);
        assert_eq!(EntityTags::new(b"\"unterminated").count(), 0);
        assert_eq!(EntityTags::new(b"w/\"a\"").count(), 0);
    }
}
