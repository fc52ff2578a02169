//! The static table (RFC 7541 Appendix A): 61 fixed entries, indices 1
//! to 61.
//!
//! The encoder looks fields up by name, then value: names are bucketed by
//! length at compile time, so a lookup compares the name with the few
//! static names of its length (at most six) and then the values of the
//! entries sharing that name, which are consecutive.

/// Number of entries; dynamic indices start right after, at 62.
pub(crate) const LEN: usize = 61;

/// The entries: `ENTRIES[i]` has index `i + 1`.
pub(crate) const ENTRIES: [(&[u8], &[u8]); LEN] = [
    (b":authority", b""),
    (b":method", b"GET"),
    (b":method", b"POST"),
    (b":path", b"/"),
    (b":path", b"/index.html"),
    (b":scheme", b"http"),
    (b":scheme", b"https"),
    (b":status", b"200"),
    (b":status", b"204"),
    (b":status", b"206"),
    (b":status", b"304"),
    (b":status", b"400"),
    (b":status", b"404"),
    (b":status", b"500"),
    (b"accept-charset", b""),
    (b"accept-encoding", b"gzip, deflate"),
    (b"accept-language", b""),
    (b"accept-ranges", b""),
    (b"accept", b""),
    (b"access-control-allow-origin", b""),
    (b"age", b""),
    (b"allow", b""),
    (b"authorization", b""),
    (b"cache-control", b""),
    (b"content-disposition", b""),
    (b"content-encoding", b""),
    (b"content-language", b""),
    (b"content-length", b""),
    (b"content-location", b""),
    (b"content-range", b""),
    (b"content-type", b""),
    (b"cookie", b""),
    (b"date", b""),
    (b"etag", b""),
    (b"expect", b""),
    (b"expires", b""),
    (b"from", b""),
    (b"host", b""),
    (b"if-match", b""),
    (b"if-modified-since", b""),
    (b"if-none-match", b""),
    (b"if-range", b""),
    (b"if-unmodified-since", b""),
    (b"last-modified", b""),
    (b"link", b""),
    (b"location", b""),
    (b"max-forwards", b""),
    (b"proxy-authenticate", b""),
    (b"proxy-authorization", b""),
    (b"range", b""),
    (b"referer", b""),
    (b"refresh", b""),
    (b"retry-after", b""),
    (b"server", b""),
    (b"set-cookie", b""),
    (b"strict-transport-security", b""),
    (b"transfer-encoding", b""),
    (b"user-agent", b""),
    (b"vary", b""),
    (b"via", b""),
    (b"www-authenticate", b""),
];

/// The entry at `index` (1 to 61).
pub(crate) fn get(index: usize) -> Option<(&'static [u8], &'static [u8])> {
    ENTRIES.get(index.checked_sub(1)?).copied()
}

/// Bytes every entry's name and value fit in together (the longest is
/// "accept-encoding: gzip, deflate", 28).
pub(crate) const PADDED_LEN: usize = 32;

/// Each entry's name and value back to back, padded with zeros to
/// [`PADDED_LEN`]: the decoder copies an entry with one fixed-size move.
pub(crate) static PADDED: [[u8; PADDED_LEN]; LEN] = pad_entries();

/// Builds [`PADDED`]; fails to compile if an entry does not fit.
const fn pad_entries() -> [[u8; PADDED_LEN]; LEN] {
    let mut padded = [[0; PADDED_LEN]; LEN];
    let mut i = 0;
    while i < LEN {
        let (name, value) = ENTRIES[i];
        assert!(
            name.len() + value.len() <= PADDED_LEN,
            "a static entry is too long"
        );
        let mut j = 0;
        while j < name.len() {
            padded[i][j] = name[j];
            j += 1;
        }
        let mut k = 0;
        while k < value.len() {
            padded[i][name.len() + k] = value[k];
            k += 1;
        }
        i += 1;
    }
    padded
}

/// What the static table has for a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Match {
    /// An entry with this name and value: its index.
    Field(usize),
    /// Entries with this name, none with this value: the first one's
    /// index.
    Name(usize),
}

/// Longest static name ("access-control-allow-origin").
const MAX_NAME_LEN: usize = 27;

/// Most distinct static names of one length (six of 4, 7 and 13 bytes).
const BUCKET_LEN: usize = 6;

/// For each name length, the index of the first entry of each distinct
/// name of that length; 0 ends a bucket.
const BY_LEN: [[u8; BUCKET_LEN]; MAX_NAME_LEN + 1] = bucket_by_len();

/// Whether two byte strings are equal, in a `const fn`.
const fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Builds [`BY_LEN`]; fails to compile if a bucket overflows.
const fn bucket_by_len() -> [[u8; BUCKET_LEN]; MAX_NAME_LEN + 1] {
    let mut buckets = [[0u8; BUCKET_LEN]; MAX_NAME_LEN + 1];
    let mut i = 0;
    while i < LEN {
        let name = ENTRIES[i].0;
        // Entries sharing a name are consecutive: bucket the first one.
        if i == 0 || !same(name, ENTRIES[i - 1].0) {
            let bucket = &mut buckets[name.len()];
            let mut slot = 0;
            while bucket[slot] != 0 {
                slot += 1;
                assert!(slot < BUCKET_LEN, "a name-length bucket overflows");
            }
            bucket[slot] = (i + 1) as u8;
        }
        i += 1;
    }
    buckets
}

/// Looks `name` and `value` up: a whole-field match if there is one, else
/// a name match.
pub(crate) fn find(name: &[u8], value: &[u8]) -> Option<Match> {
    let bucket = BY_LEN.get(name.len())?;
    let first = bucket
        .iter()
        .take_while(|&&index| index != 0)
        .map(|&index| usize::from(index))
        .find(|&index| ENTRIES[index - 1].0 == name)?;
    let same_name = ENTRIES[first - 1..]
        .iter()
        .take_while(|(entry_name, _)| entry_name.len() == name.len() && *entry_name == name);
    for (offset, (_, entry_value)) in same_name.enumerate() {
        if *entry_value == value {
            return Some(Match::Field(first + offset));
        }
    }
    Some(Match::Name(first))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_is_found() {
        for (i, &(name, value)) in ENTRIES.iter().enumerate() {
            assert_eq!(find(name, value), Some(Match::Field(i + 1)), "{}", i + 1);
            assert_eq!(get(i + 1), Some((name, value)));
            // The first entry with the name answers a name match.
            let first = ENTRIES.iter().position(|entry| entry.0 == name).unwrap() + 1;
            assert_eq!(find(name, b"not in the table"), Some(Match::Name(first)));
        }
    }

    #[test]
    fn padded_entries() {
        for (i, &(name, value)) in ENTRIES.iter().enumerate() {
            let padded = &PADDED[i];
            assert_eq!(&padded[..name.len()], name);
            assert_eq!(&padded[name.len()..name.len() + value.len()], value);
        }
    }

    #[test]
    fn misses() {
        assert_eq!(find(b"x-custom", b""), None);
        assert_eq!(find(b"", b""), None);
        assert_eq!(find(b"Content-Type", b""), None);
        assert_eq!(find(&[b'a'; 200], b""), None);
        assert_eq!(get(0), None);
        assert_eq!(get(62), None);
    }

    #[test]
    fn spot_checks_against_the_rfc() {
        assert_eq!(get(2), Some((&b":method"[..], &b"GET"[..])));
        assert_eq!(
            get(16),
            Some((&b"accept-encoding"[..], &b"gzip, deflate"[..]))
        );
        assert_eq!(get(33), Some((&b"date"[..], &b""[..])));
        assert_eq!(get(55), Some((&b"set-cookie"[..], &b""[..])));
        assert_eq!(get(61), Some((&b"www-authenticate"[..], &b""[..])));
        assert_eq!(find(b":status", b"404"), Some(Match::Field(13)));
        assert_eq!(find(b":status", b"302"), Some(Match::Name(8)));
    }
}
