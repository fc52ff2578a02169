//! The `Date` header: IMF-fixdate formatting without allocation, and a
//! per-worker cache of the ready header line.
//!
//! An origin server with a clock sends `Date` in its responses (RFC 9110
//! §6.6.1), always in the IMF-fixdate form (RFC 9110 §5.6.7):
//! `Sun, 06 Nov 1994 08:49:37 GMT`. The value changes once a second, so each
//! worker keeps one [`DateCache`], calls [`DateCache::update`] when its clock
//! ticks, and copies [`DateCache::header_line`] into every response head.
//!
//! The arithmetic is integer-only (Howard Hinnant's `civil_from_days`), with
//! no floating point, no `core::fmt` and no table of leap years.

/// The number of bytes in an IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
pub const IMF_FIXDATE_LEN: usize = 29;

/// The last second an IMF-fixdate can show, `Fri, 31 Dec 9999 23:59:59 GMT`,
/// as a Unix timestamp. Later timestamps are formatted as this one.
pub const MAX_UNIX_SECS: u64 = 253_402_300_799;

const SECS_PER_DAY: u64 = 86_400;

const WEEKDAYS: [&[u8; 3]; 7] = [b"Sun", b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat"];

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// Writes the IMF-fixdate for `unix_secs` seconds after 1970-01-01 00:00:00
/// UTC into `out`.
///
/// Every byte of `out` is written. Timestamps after [`MAX_UNIX_SECS`]
/// (year 9999) do not fit four year digits and are clamped to it.
///
/// ```
/// use peregrine_core::date::format_imf_fixdate;
///
/// let mut out = [0; 29];
/// format_imf_fixdate(784_111_777, &mut out);
/// assert_eq!(&out, b"Sun, 06 Nov 1994 08:49:37 GMT");
/// ```
pub fn format_imf_fixdate(unix_secs: u64, out: &mut [u8; IMF_FIXDATE_LEN]) {
    let secs = if unix_secs > MAX_UNIX_SECS {
        MAX_UNIX_SECS
    } else {
        unix_secs
    };
    let days = secs / SECS_PER_DAY;
    let secs_of_day = secs % SECS_PER_DAY;
    let (year, month, day) = civil_from_days(days);
    // 1970-01-01 was a Thursday.
    let weekday = ((days + 4) % 7) as usize;

    out.copy_from_slice(b"Thu, 01 Jan 1970 00:00:00 GMT");
    out[0..3].copy_from_slice(WEEKDAYS[weekday]);
    put2(out, 5, day);
    out[8..11].copy_from_slice(MONTHS[month as usize - 1]);
    put2(out, 12, year / 100);
    put2(out, 14, year % 100);
    put2(out, 17, (secs_of_day / 3600) as u32);
    put2(out, 20, (secs_of_day / 60 % 60) as u32);
    put2(out, 23, (secs_of_day % 60) as u32);
}

/// Writes `value` (below 100) as two decimal digits at `out[at..at + 2]`.
#[inline]
fn put2(out: &mut [u8; IMF_FIXDATE_LEN], at: usize, value: u32) {
    out[at] = b'0' + (value / 10) as u8;
    out[at + 1] = b'0' + (value % 10) as u8;
}

/// The proleptic Gregorian `(year, month 1..=12, day 1..=31)` of the day
/// `days` days after 1970-01-01.
///
/// Counts from 0000-03-01 so that the leap day ends each 4/100/400-year
/// cycle; see <https://howardhinnant.github.io/date_algorithms.html>.
const fn civil_from_days(days: u64) -> (u32, u32, u32) {
    // Days from 0000-03-01 to 1970-01-01.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097; // [0, 146096]
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365; // [0, 399]
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100); // [0, 365]
    let month_from_march = (5 * day_of_year + 2) / 153; // [0, 11]
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1; // [1, 31]
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + (month <= 2) as u64;
    (year as u32, month as u32, day as u32)
}

/// The `Date` header line, `Date: <IMF-fixdate>\r\n`, kept ready to copy
/// into response heads and refreshed at most once a second.
///
/// Keep one per worker thread; no locking is involved.
///
/// ```
/// use peregrine_core::date::DateCache;
///
/// let mut date = DateCache::new();
/// assert_eq!(date.header_line(), b"Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n");
///
/// assert!(date.update(784_111_777));
/// assert!(!date.update(784_111_777)); // same second: nothing to do
/// assert_eq!(date.value(), b"Sun, 06 Nov 1994 08:49:37 GMT");
/// assert_eq!(date.header_line(), b"Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DateCache {
    line: [u8; Self::LINE_LEN],
    unix_secs: u64,
}

const VALUE_START: usize = b"Date: ".len();
const VALUE_END: usize = VALUE_START + IMF_FIXDATE_LEN;

impl DateCache {
    /// Length of [`header_line`](Self::header_line).
    pub(crate) const LINE_LEN: usize = VALUE_END + 2;

    /// A cache showing the Unix epoch, `Thu, 01 Jan 1970 00:00:00 GMT`,
    /// until the first [`update`](Self::update).
    pub const fn new() -> Self {
        DateCache {
            line: *b"Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n",
            unix_secs: 0,
        }
    }

    /// Sets the time to `unix_secs` seconds after the Unix epoch,
    /// re-formatting only when the second differs from the cached one.
    /// Returns whether the line changed.
    #[inline]
    pub fn update(&mut self, unix_secs: u64) -> bool {
        if unix_secs == self.unix_secs {
            return false;
        }
        self.unix_secs = unix_secs;
        let mut value = [0; IMF_FIXDATE_LEN];
        format_imf_fixdate(unix_secs, &mut value);
        self.line[VALUE_START..VALUE_END].copy_from_slice(&value);
        true
    }

    /// The whole header line, `Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n`
    /// (37 bytes, CRLF included).
    #[inline]
    pub fn header_line(&self) -> &[u8] {
        &self.line
    }

    /// [`header_line`](Self::header_line) as an array, for copies of a
    /// fixed size.
    #[inline]
    pub(crate) fn line(&self) -> &[u8; Self::LINE_LEN] {
        &self.line
    }

    /// The 29-byte IMF-fixdate alone, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
    #[inline]
    pub fn value(&self) -> &[u8] {
        &self.line[VALUE_START..VALUE_END]
    }
}

impl Default for DateCache {
    fn default() -> Self {
        DateCache::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn oracle(secs: u64) -> std::string::String {
        httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs))
    }

    fn format(secs: u64) -> [u8; IMF_FIXDATE_LEN] {
        let mut out = [0; IMF_FIXDATE_LEN];
        format_imf_fixdate(secs, &mut out);
        out
    }

    #[test]
    fn fixed_timestamps() {
        let cases: &[(u64, &str)] = &[
            (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
            (784_111_777, "Sun, 06 Nov 1994 08:49:37 GMT"),
            (951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT"),
            (951_868_799, "Tue, 29 Feb 2000 23:59:59 GMT"),
            (951_868_800, "Wed, 01 Mar 2000 00:00:00 GMT"),
            (946_684_799, "Fri, 31 Dec 1999 23:59:59 GMT"),
            (946_684_800, "Sat, 01 Jan 2000 00:00:00 GMT"),
            (1_709_164_800, "Thu, 29 Feb 2024 00:00:00 GMT"),
            (2_147_483_647, "Tue, 19 Jan 2038 03:14:07 GMT"),
            (2_147_483_648, "Tue, 19 Jan 2038 03:14:08 GMT"),
            (4_107_542_399, "Sun, 28 Feb 2100 23:59:59 GMT"),
            (4_107_542_400, "Mon, 01 Mar 2100 00:00:00 GMT"),
            (4_102_444_800, "Fri, 01 Jan 2100 00:00:00 GMT"),
            (MAX_UNIX_SECS, "Fri, 31 Dec 9999 23:59:59 GMT"),
        ];
        for &(secs, expected) in cases {
            assert_eq!(
                std::str::from_utf8(&format(secs)).unwrap(),
                expected,
                "{secs}"
            );
            assert_eq!(oracle(secs), expected, "oracle disagrees at {secs}");
        }
    }

    #[test]
    fn matches_oracle_around_boundaries() {
        // Midnight on every 1 Jan, 28/29 Feb and 1 Mar from 1970 to 2500,
        // and the seconds either side.
        let mut day = 0u64;
        while day * SECS_PER_DAY <= 16_756_761_600 {
            let (_, month, dom) = civil_from_days(day);
            if dom == 1 || (month == 2 && dom >= 28) {
                let midnight = day * SECS_PER_DAY;
                for secs in [midnight.saturating_sub(1), midnight, midnight + 1] {
                    assert_eq!(
                        std::str::from_utf8(&format(secs)).unwrap(),
                        oracle(secs),
                        "{secs}"
                    );
                }
            }
            day += 1;
        }
    }

    #[test]
    fn clamps_after_year_9999() {
        assert_eq!(format(MAX_UNIX_SECS + 1), format(MAX_UNIX_SECS));
        assert_eq!(format(u64::MAX), format(MAX_UNIX_SECS));
    }

    #[test]
    fn cache_updates_only_on_a_new_second() {
        let mut cache = DateCache::default();
        assert_eq!(cache.header_line().len(), 37);
        assert_eq!(cache.value(), b"Thu, 01 Jan 1970 00:00:00 GMT");
        assert!(!cache.update(0));
        assert!(cache.update(2_147_483_648));
        assert!(!cache.update(2_147_483_648));
        assert_eq!(
            cache.header_line(),
            b"Date: Tue, 19 Jan 2038 03:14:08 GMT\r\n"
        );
        assert!(cache.update(0));
        assert_eq!(cache, DateCache::new());
    }

    proptest! {
        #[test]
        fn matches_httpdate(secs in 0..=MAX_UNIX_SECS) {
            let ours = format(secs);
            prop_assert_eq!(std::str::from_utf8(&ours).unwrap(), oracle(secs));
        }

        #[test]
        fn cache_matches_formatter(secs in 0..=MAX_UNIX_SECS) {
            let mut cache = DateCache::new();
            cache.update(secs);
            prop_assert_eq!(cache.value(), &format(secs)[..]);
            prop_assert_eq!(&cache.header_line()[..6], b"Date: ");
            prop_assert_eq!(&cache.header_line()[35..], b"\r\n");
        }
    }
}
