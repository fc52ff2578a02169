//! Precompressed siblings: which of `app.css.br`, `app.css.zst`,
//! `app.css.gz` and `app.css` itself a client's `Accept-Encoding`
//! prefers (RFC 9110 §12.5.3).

use peregrine_core::Headers;

/// A representation a file may have on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// Brotli, `app.css.br`.
    Brotli,
    /// Zstandard, `app.css.zst`.
    Zstd,
    /// gzip, `app.css.gz`.
    Gzip,
    /// The file itself.
    Identity,
}

impl Encoding {
    /// Every encoding, in the order preferred among equal q-values: the
    /// smallest files first, the file itself last.
    const ALL: [Encoding; 4] = [
        Encoding::Brotli,
        Encoding::Zstd,
        Encoding::Gzip,
        Encoding::Identity,
    ];

    /// The suffix of its sibling file.
    pub(crate) fn suffix(self) -> &'static str {
        match self {
            Encoding::Brotli => ".br",
            Encoding::Zstd => ".zst",
            Encoding::Gzip => ".gz",
            Encoding::Identity => "",
        }
    }

    /// Its `Content-Encoding` token; `None` for the file itself.
    pub(crate) fn token(self) -> Option<&'static str> {
        match self {
            Encoding::Brotli => Some("br"),
            Encoding::Zstd => Some("zstd"),
            Encoding::Gzip => Some("gzip"),
            Encoding::Identity => None,
        }
    }

    /// Its index in [`ALL`](Self::ALL).
    fn index(self) -> usize {
        self as usize
    }
}

/// The encodings a request accepts, best first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Preferences {
    /// The acceptable encodings in order; only the first `len` count.
    order: [Encoding; 4],
    /// How many are acceptable.
    len: usize,
}

impl Preferences {
    /// Only the file itself: what a request without `Accept-Encoding`
    /// gets.
    pub(crate) const IDENTITY: Preferences = Preferences {
        order: [Encoding::Identity; 4],
        len: 1,
    };

    /// The preferences of a request's `Accept-Encoding` fields: every
    /// coding with a q-value above 0, highest first, ties broken by
    /// [`Encoding::ALL`]'s order. `*` stands for the codings not named;
    /// the file itself is acceptable unless refused (`identity;q=0`, or
    /// `*;q=0` without `identity`), and when neither `identity` nor `*`
    /// gives it a q-value it comes after every coding named (so that
    /// `gzip;q=0.5` gets the gzip file, as the client meant). Elements
    /// with a malformed q-value are ignored; unknown codings too.
    ///
    /// When no coding is acceptable, not even the file itself, the file
    /// is sent all the same: a `406` helps no browser.
    pub(crate) fn of(headers: &Headers<'_>) -> Preferences {
        if !headers.contains("accept-encoding") {
            return Preferences::IDENTITY;
        }
        // q-values in thousandths, by encoding; `None`: not named.
        let mut named: [Option<u16>; 4] = [None; 4];
        let mut star = None;
        for element in headers.tokens("accept-encoding") {
            let (coding, params) = match memchr_semicolon(element) {
                Some(at) => (&element[..at], &element[at + 1..]),
                None => (element, &b""[..]),
            };
            let Some(q) = qvalue(params) else { continue };
            let coding = trim(coding);
            let slot = if coding == b"*" {
                &mut star
            } else if let Some(encoding) = coding_of(coding) {
                &mut named[encoding.index()]
            } else {
                continue;
            };
            slot.get_or_insert(q);
        }
        let q_of = |encoding: Encoding| match (named[encoding.index()], star, encoding) {
            (Some(q), _, _) => q,
            (None, Some(q), _) => q,
            // Acceptable, and last: a client that names codings prefers
            // them, even at a q-value below 1.
            (None, None, Encoding::Identity) => 1,
            (None, None, _) => 0,
        };
        let mut preferences = Preferences {
            order: [Encoding::Identity; 4],
            len: 0,
        };
        // An insertion sort of four, stable: ties keep `ALL`'s order.
        for encoding in Encoding::ALL {
            let q = q_of(encoding);
            if q == 0 {
                continue;
            }
            let mut at = preferences.len;
            while at > 0 && q_of(preferences.order[at - 1]) < q {
                preferences.order[at] = preferences.order[at - 1];
                at -= 1;
            }
            preferences.order[at] = encoding;
            preferences.len += 1;
        }
        preferences
    }

    /// The acceptable encodings, best first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = Encoding> + '_ {
        self.order[..self.len].iter().copied()
    }
}

/// Where the first `;` is.
fn memchr_semicolon(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&byte| byte == b';')
}

/// The encoding a coding name names (case-insensitive; `x-gzip` is
/// gzip, RFC 9110 §8.4.1.3).
fn coding_of(name: &[u8]) -> Option<Encoding> {
    let is = |token: &str| name.eq_ignore_ascii_case(token.as_bytes());
    if is("br") {
        Some(Encoding::Brotli)
    } else if is("zstd") {
        Some(Encoding::Zstd)
    } else if is("gzip") || is("x-gzip") {
        Some(Encoding::Gzip)
    } else if is("identity") {
        Some(Encoding::Identity)
    } else {
        None
    }
}

/// The q-value of an element's parameters (`q=0.5`), in thousandths:
/// 1000 without one, `None` if it is malformed. Other parameters are
/// skipped.
fn qvalue(params: &[u8]) -> Option<u16> {
    let mut q = 1000;
    for param in params.split(|&byte| byte == b';') {
        let param = trim(param);
        let Some((name, value)) = param.split_at_checked(1) else {
            continue;
        };
        if !name.eq_ignore_ascii_case(b"q") {
            continue;
        }
        let value = trim(value.strip_prefix(b"=").map(trim).unwrap_or(b"?"));
        q = parse_qvalue(value)?;
    }
    Some(q)
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`, in
/// thousandths.
fn parse_qvalue(value: &[u8]) -> Option<u16> {
    let (whole, fraction) = match value.split_first()? {
        (b'0', rest) => (0, rest),
        (b'1', rest) => (1000, rest),
        _ => return None,
    };
    let digits = match fraction {
        [] => &[][..],
        [b'.', digits @ ..] if digits.len() <= 3 => digits,
        _ => return None,
    };
    let mut thousandths = 0u16;
    for (i, &digit) in digits.iter().enumerate() {
        if !digit.is_ascii_digit() {
            return None;
        }
        thousandths += u16::from(digit - b'0') * [100, 10, 1][i];
    }
    if whole == 1000 && thousandths != 0 {
        return None;
    }
    Some(whole + thousandths)
}

/// `bytes` without surrounding spaces and tabs.
fn trim(bytes: &[u8]) -> &[u8] {
    bytes.trim_ascii()
}

#[cfg(test)]
mod tests {
    use super::*;
    use peregrine_core::{Parsed, RequestParser};

    /// The preferences of a request with these `Accept-Encoding` lines.
    fn preferences(lines: &[&str]) -> Vec<Encoding> {
        let mut wire = String::from("GET / HTTP/1.1\r\nHost: t\r\n");
        for line in lines {
            wire.push_str(&format!("Accept-Encoding: {line}\r\n"));
        }
        wire.push_str("\r\n");
        let mut parser = RequestParser::<8>::new();
        let Ok(Parsed::Complete(request)) = parser.parse(wire.as_bytes()) else {
            panic!("{wire}")
        };
        Preferences::of(&request.headers()).iter().collect()
    }

    use Encoding::{Brotli, Gzip, Identity, Zstd};

    #[test]
    fn q_values_order_the_codings() {
        assert_eq!(preferences(&[]), [Identity]);
        assert_eq!(
            preferences(&["gzip, deflate, br"]),
            [Brotli, Gzip, Identity]
        );
        assert_eq!(
            preferences(&["gzip;q=1.0, br;q=0.5"]),
            [Gzip, Brotli, Identity]
        );
        assert_eq!(preferences(&["identity, br;q=0.5"]), [Identity, Brotli]);
        assert_eq!(
            preferences(&["br;q=0.8, zstd;q=0.9, identity;q=0.1"]),
            [Zstd, Brotli, Identity]
        );
        assert_eq!(preferences(&["gzip", "zstd"]), [Zstd, Gzip, Identity]);
        assert_eq!(preferences(&["x-gzip"]), [Gzip, Identity]);
        assert_eq!(preferences(&["GZIP ; Q=0.5"]), [Gzip, Identity]);
        assert_eq!(preferences(&[""]), [Identity]);
    }

    #[test]
    fn zero_refuses_and_star_stands_for_the_rest() {
        assert_eq!(preferences(&["br;q=0, gzip"]), [Gzip, Identity]);
        assert_eq!(preferences(&["identity;q=0, gzip"]), [Gzip]);
        assert_eq!(preferences(&["*"]), [Brotli, Zstd, Gzip, Identity]);
        assert_eq!(preferences(&["*;q=0"]), []);
        assert_eq!(preferences(&["*;q=0, identity"]), [Identity]);
        assert_eq!(
            preferences(&["br, *;q=0.5"]),
            [Brotli, Zstd, Gzip, Identity]
        );
        assert_eq!(preferences(&["gzip;q=0.000"]), [Identity]);
    }

    #[test]
    fn malformed_q_values_drop_their_element() {
        assert_eq!(preferences(&["br;q=2, gzip"]), [Gzip, Identity]);
        assert_eq!(preferences(&["br;q=1.001, gzip"]), [Gzip, Identity]);
        assert_eq!(preferences(&["br;q=0.1234, gzip"]), [Gzip, Identity]);
        assert_eq!(preferences(&["br;q=, gzip"]), [Gzip, Identity]);
        assert_eq!(preferences(&["br;q, gzip"]), [Gzip, Identity]);
        assert_eq!(preferences(&["br;level=5, compress"]), [Brotli, Identity]);
    }

    #[test]
    fn q_values_parse_to_thousandths() {
        assert_eq!(parse_qvalue(b"0"), Some(0));
        assert_eq!(parse_qvalue(b"0."), Some(0));
        assert_eq!(parse_qvalue(b"0.5"), Some(500));
        assert_eq!(parse_qvalue(b"0.05"), Some(50));
        assert_eq!(parse_qvalue(b"0.001"), Some(1));
        assert_eq!(parse_qvalue(b"1.000"), Some(1000));
        assert_eq!(parse_qvalue(b"1"), Some(1000));
        assert_eq!(parse_qvalue(b".5"), None);
        assert_eq!(parse_qvalue(b"0.5x"), None);
        assert_eq!(parse_qvalue(b""), None);
    }
}
