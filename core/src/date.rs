//! HTTP-dates: IMF-fixdate formatting without allocation, a per-worker
//! cache of the ready `Date` header line, and [`parse_http_date`] for the
//! dates clients send (`If-Modified-Since` and the like), in all three
//! forms of RFC 9110 §5.6.7.
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

/// Parses an HTTP-date (RFC 9110 §5.6.7) into seconds after the Unix
/// epoch, accepting the three forms a recipient must:
///
/// - IMF-fixdate, the preferred one: `Sun, 06 Nov 1994 08:49:37 GMT`;
/// - the obsolete RFC 850 form: `Sunday, 06-Nov-94 08:49:37 GMT`;
/// - the obsolete asctime form: `Sun Nov  6 08:49:37 1994`.
///
/// Names are matched exactly as the grammar spells them (case-sensitive),
/// the weekday must be the date's own, and every field must be in range
/// (a 31 April or a 29 February of a common year is refused, and so is a
/// 60th second, which a Unix timestamp cannot hold). Surrounding
/// whitespace is not trimmed: header values come trimmed already.
///
/// The two-digit year of the RFC 850 form is read as 1970–2069 (`70` to
/// `99` in the 1900s, `00` to `69` in the 2000s): a fixed window, since
/// the core has no clock to apply RFC 9110's "more than 50 years in the
/// future" rule to, and one that agrees with that rule until 2020 + 49.
///
/// Returns `None` for anything else, and for dates before 1970 or after
/// 9999, which no file's timestamp is compared against. A recipient
/// ignores an invalid date in a conditional header (RFC 9110 §13.1.3).
///
/// ```
/// use peregrine_core::date::parse_http_date;
///
/// let secs = Some(784_111_777);
/// assert_eq!(parse_http_date(b"Sun, 06 Nov 1994 08:49:37 GMT"), secs);
/// assert_eq!(parse_http_date(b"Sunday, 06-Nov-94 08:49:37 GMT"), secs);
/// assert_eq!(parse_http_date(b"Sun Nov  6 08:49:37 1994"), secs);
/// assert_eq!(parse_http_date(b"Mon, 06 Nov 1994 08:49:37 GMT"), None); // a Sunday
/// assert_eq!(parse_http_date(b"yesterday"), None);
/// ```
pub fn parse_http_date(value: &[u8]) -> Option<u64> {
    let comma = memchr::memchr(b',', value);
    let fields = match comma {
        Some(3) => parse_imf_fixdate(value)?,
        Some(_) => parse_rfc850(value)?,
        None => parse_asctime(value)?,
    };
    fields.to_unix()
}

/// The fields of a parsed date, before they are checked against each
/// other.
struct DateFields {
    /// Index into [`WEEKDAYS`], Sunday first.
    weekday: usize,
    year: u32,
    /// 1..=12.
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
}

impl DateFields {
    /// Seconds since the epoch, if every field is in range and the
    /// weekday is the date's.
    fn to_unix(&self) -> Option<u64> {
        let in_range = (1970..=9999).contains(&self.year)
            && (1..=days_in_month(self.year, self.month)).contains(&self.day)
            && self.hour < 24
            && self.minute < 60
            && self.second < 60;
        if !in_range {
            return None;
        }
        let days = days_from_civil(self.year, self.month, self.day);
        if (days + 4) % 7 != self.weekday as u64 {
            return None;
        }
        Some(
            days * SECS_PER_DAY
                + u64::from(self.hour) * 3600
                + u64::from(self.minute) * 60
                + u64::from(self.second),
        )
    }
}

/// The long weekday names of the RFC 850 form.
const LONG_WEEKDAYS: [&[u8]; 7] = [
    b"Sunday",
    b"Monday",
    b"Tuesday",
    b"Wednesday",
    b"Thursday",
    b"Friday",
    b"Saturday",
];

/// `Sun, 06 Nov 1994 08:49:37 GMT`
fn parse_imf_fixdate(s: &[u8]) -> Option<DateFields> {
    let s: &[u8; IMF_FIXDATE_LEN] = s.try_into().ok()?;
    if s[3..5] != *b", " || s[7] != b' ' || s[11] != b' ' || s[16] != b' ' || &s[25..] != b" GMT" {
        return None;
    }
    let (hour, minute, second) = time_of_day(&s[17..25])?;
    Some(DateFields {
        weekday: position(&WEEKDAYS, &s[..3])?,
        day: digits(&s[5..7])?,
        month: month(&s[8..11])?,
        year: digits(&s[12..16])?,
        hour,
        minute,
        second,
    })
}

/// `Sunday, 06-Nov-94 08:49:37 GMT`
fn parse_rfc850(s: &[u8]) -> Option<DateFields> {
    let comma = memchr::memchr(b',', s)?;
    let weekday = position(&LONG_WEEKDAYS, &s[..comma])?;
    let s: &[u8; 24] = s[comma..].try_into().ok()?;
    if s[..2] != *b", " || s[4] != b'-' || s[8] != b'-' || s[11] != b' ' || &s[20..] != b" GMT" {
        return None;
    }
    let (hour, minute, second) = time_of_day(&s[12..20])?;
    let short_year: u32 = digits(&s[9..11])?;
    Some(DateFields {
        weekday,
        day: digits(&s[2..4])?,
        month: month(&s[5..8])?,
        year: if short_year < 70 {
            2000 + short_year
        } else {
            1900 + short_year
        },
        hour,
        minute,
        second,
    })
}

/// `Sun Nov  6 08:49:37 1994` (a day below 10 after a space).
fn parse_asctime(s: &[u8]) -> Option<DateFields> {
    let s: &[u8; 24] = s.try_into().ok()?;
    if s[3] != b' ' || s[7] != b' ' || s[10] != b' ' || s[19] != b' ' {
        return None;
    }
    let day = match s[8..10] {
        [b' ', digit] => digits(&[digit])?,
        _ => digits(&s[8..10])?,
    };
    let (hour, minute, second) = time_of_day(&s[11..19])?;
    Some(DateFields {
        weekday: position(&WEEKDAYS, &s[..3])?,
        month: month(&s[4..7])?,
        day,
        year: digits(&s[20..24])?,
        hour,
        minute,
        second,
    })
}

/// `08:49:37` as hour, minute and second (not yet range-checked).
fn time_of_day(s: &[u8]) -> Option<(u32, u32, u32)> {
    if s.len() != 8 || s[2] != b':' || s[5] != b':' {
        return None;
    }
    Some((digits(&s[..2])?, digits(&s[3..5])?, digits(&s[6..])?))
}

/// The month named `name` (`Jan` …), 1..=12.
fn month(name: &[u8]) -> Option<u32> {
    position(&MONTHS, name).map(|index| index as u32 + 1)
}

/// Where `name` is in `names`.
fn position<N: AsRef<[u8]>>(names: &[N], name: &[u8]) -> Option<usize> {
    names
        .iter()
        .position(|candidate| candidate.as_ref() == name)
}

/// Decimal digits (one to four of them) as a number.
fn digits(s: &[u8]) -> Option<u32> {
    if s.is_empty() || s.len() > 4 {
        return None;
    }
    s.iter().try_fold(0, |n, &byte| {
        byte.is_ascii_digit()
            .then(|| n * 10 + u32::from(byte - b'0'))
    })
}

/// Whether `year` has a 29 February.
const fn is_leap(year: u32) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Days in `month` (1..=12) of `year`; 0 for a month out of range.
const fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days from 1970-01-01 to the proleptic Gregorian date `year-month-day`
/// (1970 or later): the inverse of [`civil_from_days`], by the same
/// March-based count.
const fn days_from_civil(year: u32, month: u32, day: u32) -> u64 {
    let year = (if month <= 2 { year - 1 } else { year }) as u64;
    let era = year / 400;
    let year_of_era = year % 400; // [0, 399]
    let month_from_march = ((month + 9) % 12) as u64; // [0, 11]
    let day_of_year = (153 * month_from_march + 2) / 5 + day as u64 - 1; // [0, 365]
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
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

#[cfg(test)]
mod parse_tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::{Duration, UNIX_EPOCH};

    /// The three forms of one instant.
    const SUNDAY: u64 = 784_111_777;

    #[test]
    fn the_three_forms_of_rfc_9110() {
        assert_eq!(
            parse_http_date(b"Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(SUNDAY)
        );
        assert_eq!(
            parse_http_date(b"Sunday, 06-Nov-94 08:49:37 GMT"),
            Some(SUNDAY)
        );
        assert_eq!(parse_http_date(b"Sun Nov  6 08:49:37 1994"), Some(SUNDAY));
        assert_eq!(parse_http_date(b"Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            parse_http_date(b"Fri, 31 Dec 9999 23:59:59 GMT"),
            Some(MAX_UNIX_SECS)
        );
        assert_eq!(
            parse_http_date(b"Tue, 29 Feb 2000 12:00:00 GMT"),
            Some(951_825_600)
        );
        assert_eq!(
            parse_http_date(b"Wed Mar 15 10:00:00 2023"),
            Some(1_678_874_400)
        );
    }

    #[test]
    fn two_digit_years_fall_in_1970_to_2069() {
        let at = |value: &[u8]| parse_http_date(value).map(format_string);
        assert_eq!(
            at(b"Thursday, 01-Jan-70 00:00:00 GMT").as_deref(),
            Some("Thu, 01 Jan 1970 00:00:00 GMT")
        );
        assert_eq!(
            at(b"Friday, 31-Dec-99 23:59:59 GMT").as_deref(),
            Some("Fri, 31 Dec 1999 23:59:59 GMT")
        );
        assert_eq!(
            at(b"Saturday, 01-Jan-00 00:00:00 GMT").as_deref(),
            Some("Sat, 01 Jan 2000 00:00:00 GMT")
        );
        assert_eq!(
            at(b"Tuesday, 31-Dec-69 23:59:59 GMT").as_deref(),
            Some("Tue, 31 Dec 2069 23:59:59 GMT")
        );
    }

    fn format_string(secs: u64) -> std::string::String {
        std::string::String::from_utf8(format(secs).to_vec()).unwrap()
    }

    fn format(secs: u64) -> [u8; IMF_FIXDATE_LEN] {
        let mut out = [0; IMF_FIXDATE_LEN];
        format_imf_fixdate(secs, &mut out);
        out
    }

    #[test]
    fn invalid_dates_are_refused() {
        let cases: &[&[u8]] = &[
            b"",
            b"Sun, 06 Nov 1994 08:49:37",
            b"Sun, 06 Nov 1994 08:49:37 GMT ",
            b" Sun, 06 Nov 1994 08:49:37 GMT",
            b"Sun, 06 Nov 1994 08:49:37 UTC",
            b"sun, 06 Nov 1994 08:49:37 GMT",
            b"Sun, 06 nov 1994 08:49:37 GMT",
            b"Sun, 6 Nov 1994 08:49:37 GMT",
            b"Sun,  6 Nov 1994 08:49:37 GMT",
            b"Sun, 06 Nov 94 08:49:37 GMT",
            b"Sun, 06-Nov-1994 08:49:37 GMT",
            b"Sun, 06 Nov 1994 8:49:37 GMT",
            b"Sun, 06 Nov 1994 08-49-37 GMT",
            b"Sun, 06 Nov 1994 24:00:00 GMT",
            b"Sun, 06 Nov 1994 08:60:00 GMT",
            b"Sun, 06 Nov 1994 08:49:60 GMT",
            b"Sun, 00 Nov 1994 08:49:37 GMT",
            b"Thu, 31 Nov 1994 08:49:37 GMT",
            b"Tue, 29 Feb 1994 08:49:37 GMT",
            b"Thu, 29 Feb 1900 00:00:00 GMT",
            b"Mon, 06 Nov 1994 08:49:37 GMT",
            b"Wed, 31 Dec 1969 23:59:59 GMT",
            b"Sun, 06 Xyz 1994 08:49:37 GMT",
            b"Sun, 0x Nov 1994 08:49:37 GMT",
            b"Sun, +6 Nov 1994 08:49:37 GMT",
            b"Sunday, 06-Nov-94 08:49:37",
            b"Sun, 06-Nov-94 08:49:37 GMT",
            b"Sunday, 06-Nov-1994 08:49:37 GMT",
            b"Sunday, 06 Nov 94 08:49:37 GMT",
            b"Monday, 06-Nov-94 08:49:37 GMT",
            b"Sunday , 06-Nov-94 08:49:37 GMT",
            b"Sun Nov 6 08:49:37 1994",
            b"Sun Nov  6 08:49:37 94",
            b"Sun Nov 06 08:49:37 1994 ",
            b"Mon Nov  6 08:49:37 1994",
            b"Sun Nov  6 08:49:37 1994 GMT",
            b"Sunday Nov  6 08:49:37 1994",
            b"Sun Nov _6 08:49:37 1994",
            b"1994-11-06T08:49:37Z",
            b"784111777",
            "Sun, 06 Nov 1994 08:49:37 GMT\u{e9}".as_bytes(),
        ];
        for &case in cases {
            assert_eq!(
                parse_http_date(case),
                None,
                "{:?}",
                std::string::String::from_utf8_lossy(case)
            );
        }
        // A two-digit day in the asctime form is fine.
        assert_eq!(parse_http_date(b"Sun Nov 06 08:49:37 1994"), Some(SUNDAY));
    }

    #[test]
    fn days_from_civil_inverts_civil_from_days() {
        for days in (0..2_932_897)
            .step_by(97)
            .chain([0, 10_956, 11_016, 2_932_896])
        {
            let (year, month, day) = civil_from_days(days);
            assert_eq!(
                days_from_civil(year, month, day),
                days,
                "{year}-{month}-{day}"
            );
        }
    }

    proptest! {
        #[test]
        fn every_formatted_date_parses_back(secs in 0..=MAX_UNIX_SECS) {
            prop_assert_eq!(parse_http_date(&format(secs)), Some(secs));
        }

        #[test]
        fn agrees_with_httpdate_on_the_obsolete_forms(secs in 0..=MAX_UNIX_SECS) {
            let time = httpdate::HttpDate::from(UNIX_EPOCH + Duration::from_secs(secs));
            let imf = format(secs);
            let (year, month, day) = civil_from_days(secs / SECS_PER_DAY);
            let weekday = ((secs / SECS_PER_DAY + 4) % 7) as usize;
            let clock = &imf[17..25];
            let asctime = std::format!(
                "{} {} {:>2} {} {year}",
                std::str::from_utf8(WEEKDAYS[weekday]).unwrap(),
                std::str::from_utf8(MONTHS[month as usize - 1]).unwrap(),
                day,
                std::str::from_utf8(clock).unwrap(),
            );
            prop_assert_eq!(parse_http_date(asctime.as_bytes()), Some(secs));
            prop_assert_eq!(asctime.parse::<httpdate::HttpDate>().ok(), Some(time));
            if (1970..2070).contains(&year) {
                let rfc850 = std::format!(
                    "{}, {:02}-{}-{:02} {} GMT",
                    std::str::from_utf8(LONG_WEEKDAYS[weekday]).unwrap(),
                    day,
                    std::str::from_utf8(MONTHS[month as usize - 1]).unwrap(),
                    year % 100,
                    std::str::from_utf8(clock).unwrap(),
                );
                prop_assert_eq!(parse_http_date(rfc850.as_bytes()), Some(secs));
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = parse_http_date(&bytes);
        }
    }
}
