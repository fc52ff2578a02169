//! Negotiating permessage-deflate (RFC 7692 §5, §7.1): the client's offers
//! in `Sec-WebSocket-Extensions`, the server's answer.
//!
//! The client lists offers in its order of preference, each
//! `permessage-deflate` with parameters; the server accepts the first it
//! can and names it, with its own parameters, in the `101`. An offer the
//! server cannot accept is passed over, and with none accepted the
//! connection simply goes uncompressed: a bad offer never fails the
//! handshake.
//!
//! # What is accepted
//!
//! | parameter (in the offer) | meaning | the server |
//! |---|---|---|
//! | `server_no_context_takeover` | the server resets its compressor after each message | always honours it |
//! | `client_no_context_takeover` | the client will reset its compressor | notes it |
//! | `server_max_window_bits=N` | the server's LZ77 window is at most 2^N bytes | uses N, or declines the offer for N = 8 (zlib's raw DEFLATE encoder has no 256-byte window), and names N in the answer |
//! | `client_max_window_bits[=N]` | the client may be told a window limit | notes N (15 when absent or valueless); the decompressor takes any window up to 15 bits, so no limit is asked for |
//!
//! An offer with an unknown parameter, a parameter given twice, a value
//! where none belongs, or a window size that is not a plain decimal from 8
//! to 15 is invalid and passed over (§7.1).
//!
//! The answer also names `client_no_context_takeover` and
//! `server_no_context_takeover` whenever the server's policy does without
//! context takeover, which a server may always do (§7.1.1.1, §7.1.1.2):
//! then no state outlives a message on either side, and one compressor and
//! one decompressor serve all of a worker's connections.

use crate::scan;

/// The extension's name (RFC 7692 §7).
pub const EXTENSION_NAME: &str = "permessage-deflate";

/// The default and largest LZ77 window, in bits: 32 KiB (RFC 7692 §7.1.2).
pub const MAX_WINDOW_BITS: u8 = 15;

/// The smallest window the server compresses with: 512 bytes. (zlib's raw
/// DEFLATE encoder refuses 8 bits, so an offer that asks for 8 is
/// declined.)
pub const MIN_SERVER_WINDOW_BITS: u8 = 9;

/// The longest answer [`Agreement::write_response`] writes.
pub const MAX_RESPONSE_LEN: usize = 128;

/// What was agreed with the client: how each side compresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Agreement {
    /// The server resets its compressor before each message.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor before each message, so the
    /// server resets its decompressor too.
    pub client_no_context_takeover: bool,
    /// The window the server compresses with, when the offer limited it
    /// (named in the answer); `None`: 15 bits.
    pub server_max_window_bits: Option<u8>,
    /// The window limit the client announced (`client_max_window_bits=N`);
    /// `None`: 15 bits. Informational: the decompressor takes any window.
    pub client_max_window_bits: Option<u8>,
}

impl Agreement {
    /// The window the server's compressor uses, in bits (9 to 15).
    pub fn server_window_bits(&self) -> u8 {
        self.server_max_window_bits.unwrap_or(MAX_WINDOW_BITS)
    }

    /// The largest window the client's compressor may use, in bits.
    pub fn client_window_bits(&self) -> u8 {
        self.client_max_window_bits.unwrap_or(MAX_WINDOW_BITS)
    }

    /// Whether either side keeps its DEFLATE state from one message to the
    /// next, so the connection needs state of its own.
    pub fn takes_over_context(&self) -> bool {
        !self.server_no_context_takeover || !self.client_no_context_takeover
    }

    /// Writes the `Sec-WebSocket-Extensions` value that accepts the offer
    /// into `out`, and returns it.
    ///
    /// ```
    /// use peregrine_core::ws::deflate::{negotiate, MAX_RESPONSE_LEN};
    ///
    /// let offer: &[u8] = b"permessage-deflate; client_max_window_bits; server_max_window_bits=10";
    /// let agreement = negotiate([offer], false).unwrap();
    /// let mut out = [0; MAX_RESPONSE_LEN];
    /// assert_eq!(
    ///     agreement.write_response(&mut out),
    ///     b"permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
    ///       server_max_window_bits=10"
    /// );
    /// ```
    pub fn write_response<'o>(&self, out: &'o mut [u8; MAX_RESPONSE_LEN]) -> &'o [u8] {
        let mut len = 0;
        let mut put = |bytes: &[u8]| {
            out[len..len + bytes.len()].copy_from_slice(bytes);
            len += bytes.len();
        };
        put(EXTENSION_NAME.as_bytes());
        if self.server_no_context_takeover {
            put(b"; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            put(b"; client_no_context_takeover");
        }
        if let Some(bits) = self.server_max_window_bits {
            put(b"; server_max_window_bits=");
            if bits >= 10 {
                put(&[b'1', b'0' + bits - 10]);
            } else {
                put(&[b'0' + bits]);
            }
        }
        &out[..len]
    }
}

/// Picks the first acceptable permessage-deflate offer among `values`,
/// the `Sec-WebSocket-Extensions` field values in order; `None` if there
/// is none.
///
/// With `takeover` false the server does without context takeover both
/// ways (the answer says so whatever the offer); with `takeover` true it
/// keeps its context unless the offer asks it not to, or limits its window
/// (a smaller window is served by a compressor shared per message), and
/// lets the client keep its own unless it offered not to.
///
/// ```
/// use peregrine_core::ws::deflate::negotiate;
///
/// // A browser's offer.
/// let offer: &[u8] = b"permessage-deflate; client_max_window_bits";
/// let agreement = negotiate([offer], false).unwrap();
/// assert!(agreement.server_no_context_takeover && agreement.client_no_context_takeover);
/// assert_eq!((agreement.server_window_bits(), agreement.client_window_bits()), (15, 15));
///
/// // The first offer asks for a window zlib cannot give; the second is taken.
/// let offers: &[u8] = b"permessage-deflate; server_max_window_bits=8, permessage-deflate";
/// assert_eq!(negotiate([offers], true).unwrap().server_max_window_bits, None);
/// assert_eq!(negotiate([&b"x-webkit-deflate-frame"[..]], true), None);
/// ```
pub fn negotiate<'a>(
    values: impl IntoIterator<Item = &'a [u8]>,
    takeover: bool,
) -> Option<Agreement> {
    values
        .into_iter()
        .flat_map(|value| Split::new(value, b','))
        .find_map(|element| accept(element, takeover))
}

/// The agreement that accepts one list element, if it is a
/// permessage-deflate offer the server can accept.
fn accept(element: &[u8], takeover: bool) -> Option<Agreement> {
    let offer = parse_offer(element)?;
    let server_bits = offer.server_max_window_bits;
    if server_bits.is_some_and(|bits| bits < MIN_SERVER_WINDOW_BITS) {
        return None;
    }
    // A window below 15 bits is served by a compressor shared per message.
    let server_reset = !takeover
        || offer.server_no_context_takeover
        || server_bits.is_some_and(|b| b < MAX_WINDOW_BITS);
    Some(Agreement {
        server_no_context_takeover: server_reset,
        client_no_context_takeover: !takeover || offer.client_no_context_takeover,
        server_max_window_bits: server_bits,
        client_max_window_bits: offer.client_max_window_bits.flatten(),
    })
}

/// One permessage-deflate offer's parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Offer {
    /// `server_no_context_takeover`.
    server_no_context_takeover: bool,
    /// `client_no_context_takeover`.
    client_no_context_takeover: bool,
    /// `server_max_window_bits=N`.
    server_max_window_bits: Option<u8>,
    /// `client_max_window_bits`, with its value if it had one.
    client_max_window_bits: Option<Option<u8>>,
}

/// Parses one element of the list: `None` unless it is a valid
/// permessage-deflate offer (§7.1).
fn parse_offer(element: &[u8]) -> Option<Offer> {
    let mut parts = Split::new(element, b';');
    let name = parts.next()?;
    if !name.eq_ignore_ascii_case(EXTENSION_NAME.as_bytes()) {
        return None;
    }
    let mut offer = Offer::default();
    for param in parts {
        let (name, value) = match param.iter().position(|&b| b == b'=') {
            Some(eq) => (trim(&param[..eq]), Some(unquote(trim(&param[eq + 1..]))?)),
            None => (param, None),
        };
        if name.is_empty() || scan::token_run(name) != name.len() {
            return None;
        }
        match (name, value) {
            (b"server_no_context_takeover", None) if !offer.server_no_context_takeover => {
                offer.server_no_context_takeover = true;
            }
            (b"client_no_context_takeover", None) if !offer.client_no_context_takeover => {
                offer.client_no_context_takeover = true;
            }
            (b"server_max_window_bits", Some(value)) if offer.server_max_window_bits.is_none() => {
                offer.server_max_window_bits = Some(window_bits(value)?);
            }
            (b"client_max_window_bits", value) if offer.client_max_window_bits.is_none() => {
                offer.client_max_window_bits = Some(match value {
                    Some(value) => Some(window_bits(value)?),
                    None => None,
                });
            }
            // Unknown, repeated, or with a value where none belongs (or
            // none where one does).
            _ => return None,
        }
    }
    Some(offer)
}

/// A window size: a decimal from 8 to 15 without leading zeros (§7.1.2).
fn window_bits(value: &[u8]) -> Option<u8> {
    match value {
        [digit @ b'8'..=b'9'] => Some(digit - b'0'),
        [b'1', digit @ b'0'..=b'5'] => Some(10 + digit - b'0'),
        _ => None,
    }
}

/// A parameter value without its quotes, if it had any. A quoted value
/// with a backslash is refused: no valid value needs one.
fn unquote(value: &[u8]) -> Option<&[u8]> {
    match value {
        [b'"', inner @ .., b'"'] if !inner.contains(&b'\\') => Some(inner),
        [b'"', ..] => None,
        _ => Some(value),
    }
}

/// `bytes` without spaces and tabs at either end.
fn trim(bytes: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = bytes.iter().position(|b| !is_ows(b)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_ows(b))
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

/// The parts of a field value between separators outside quoted strings,
/// trimmed, empty ones skipped (RFC 9110 §5.6.1).
struct Split<'a> {
    /// What is left to split.
    rest: &'a [u8],
    /// The separator: `,` between list elements, `;` between parameters.
    separator: u8,
}

impl<'a> Split<'a> {
    /// Splits `value` at `separator`.
    fn new(value: &'a [u8], separator: u8) -> Self {
        Split {
            rest: value,
            separator,
        }
    }
}

impl<'a> Iterator for Split<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        while !self.rest.is_empty() {
            let mut quoted = false;
            let mut escaped = false;
            let mut end = self.rest.len();
            for (i, &byte) in self.rest.iter().enumerate() {
                match byte {
                    _ if escaped => escaped = false,
                    b'\\' if quoted => escaped = true,
                    b'"' => quoted = !quoted,
                    _ if byte == self.separator && !quoted => {
                        end = i;
                        break;
                    }
                    _ => {}
                }
            }
            let part = trim(&self.rest[..end]);
            self.rest = self.rest.get(end + 1..).unwrap_or_default();
            if !part.is_empty() {
                return Some(part);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(offer: &str, takeover: bool) -> Option<Agreement> {
        negotiate([offer.as_bytes()], takeover)
    }

    fn response(agreement: Agreement) -> std::string::String {
        let mut out = [0; MAX_RESPONSE_LEN];
        std::string::String::from_utf8(agreement.write_response(&mut out).to_vec()).unwrap()
    }

    /// Without context takeover (the default policy) the answer always
    /// turns it off both ways.
    #[test]
    fn no_takeover_policy() {
        let agreement = one("permessage-deflate", false).unwrap();
        assert_eq!(
            agreement,
            Agreement {
                server_no_context_takeover: true,
                client_no_context_takeover: true,
                server_max_window_bits: None,
                client_max_window_bits: None,
            }
        );
        assert!(!agreement.takes_over_context());
        assert_eq!(
            response(agreement),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
        );
    }

    /// Each parameter, with the takeover policy, where each matters.
    #[test]
    fn each_parameter() {
        let plain = one("permessage-deflate", true).unwrap();
        assert!(!plain.server_no_context_takeover && !plain.client_no_context_takeover);
        assert!(plain.takes_over_context());
        assert_eq!(response(plain), "permessage-deflate");

        let server = one("permessage-deflate; server_no_context_takeover", true).unwrap();
        assert!(server.server_no_context_takeover && !server.client_no_context_takeover);
        assert_eq!(
            response(server),
            "permessage-deflate; server_no_context_takeover"
        );

        let client = one("permessage-deflate;client_no_context_takeover", true).unwrap();
        assert!(!client.server_no_context_takeover && client.client_no_context_takeover);
        assert_eq!(
            response(client),
            "permessage-deflate; client_no_context_takeover"
        );

        let both = one(
            "permessage-deflate; client_no_context_takeover; server_no_context_takeover",
            true,
        )
        .unwrap();
        assert!(!both.takes_over_context());

        // A limited server window: named in the answer, and served per
        // message.
        let small = one("permessage-deflate; server_max_window_bits=12", true).unwrap();
        assert_eq!(small.server_window_bits(), 12);
        assert!(small.server_no_context_takeover && !small.client_no_context_takeover);
        assert_eq!(
            response(small),
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=12"
        );
        let full = one("permessage-deflate; server_max_window_bits=15", true).unwrap();
        assert!(!full.server_no_context_takeover);
        assert_eq!(
            response(full),
            "permessage-deflate; server_max_window_bits=15"
        );

        // The client's window: noted, never limited, never answered.
        let client = one("permessage-deflate; client_max_window_bits=10", true).unwrap();
        assert_eq!(client.client_window_bits(), 10);
        assert_eq!(response(client), "permessage-deflate");
    }

    /// RFC 7692 §7.1.2: a window parameter left out, or
    /// `client_max_window_bits` without a value, means 15.
    #[test]
    fn defaults() {
        for offer in [
            "permessage-deflate",
            "permessage-deflate; client_max_window_bits",
            "PerMessage-Deflate ;  client_max_window_bits ",
        ] {
            let agreement = one(offer, false).unwrap();
            assert_eq!(agreement.client_max_window_bits, None, "{offer}");
            assert_eq!(agreement.client_window_bits(), 15);
            assert_eq!(agreement.server_window_bits(), 15);
            assert_eq!(agreement.server_max_window_bits, None);
        }
    }

    /// Window values: 8 to 15, plain decimals, quoted or not; 8 for the
    /// server declines the offer (zlib), 8 for the client is fine.
    #[test]
    fn window_values() {
        for bits in 9..=15u8 {
            let offer = std::format!("permessage-deflate; server_max_window_bits={bits}");
            assert_eq!(one(&offer, false).unwrap().server_window_bits(), bits);
            let quoted = std::format!("permessage-deflate; server_max_window_bits=\"{bits}\"");
            assert_eq!(one(&quoted, false).unwrap().server_window_bits(), bits);
        }
        assert_eq!(
            one("permessage-deflate; server_max_window_bits=8", false),
            None
        );
        let client = one("permessage-deflate; client_max_window_bits=8", false).unwrap();
        assert_eq!(client.client_window_bits(), 8);
        for bad in [
            "7", "16", "08", "015", "", "\"\"", "1 5", "\"1\\5\"", "9x", "-9", "\"9",
        ] {
            for param in ["server_max_window_bits", "client_max_window_bits"] {
                let offer = std::format!("permessage-deflate; {param}={bad}");
                assert_eq!(one(&offer, false), None, "{offer}");
            }
        }
    }

    /// Offers the server cannot accept are passed over, never an error.
    #[test]
    fn unacceptable_offers() {
        for offer in [
            "permessage-deflate; unknown_parameter",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
            "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; client_no_context_takeover=\"\"",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; =10",
            "permessage-deflate; bad@name",
            "permessage-deflated",
            "x-webkit-deflate-frame",
            "",
            ",,",
        ] {
            assert_eq!(one(offer, false), None, "{offer}");
            assert_eq!(one(offer, true), None, "{offer}");
        }
    }

    /// The first acceptable offer wins, across elements and fields.
    #[test]
    fn first_acceptable_offer() {
        let offers = "permessage-deflate; server_max_window_bits=8; client_max_window_bits, \
                      foo; bar=\"a, b\", permessage-deflate; server_max_window_bits=10, \
                      permessage-deflate";
        let agreement = one(offers, true).unwrap();
        assert_eq!(agreement.server_window_bits(), 10);
        let fields: [&[u8]; 2] = [
            b"permessage-deflate; nope",
            b"permessage-deflate; client_no_context_takeover",
        ];
        let agreement = negotiate(fields, true).unwrap();
        assert!(agreement.client_no_context_takeover);
        assert_eq!(negotiate(core::iter::empty(), true), None);
    }

    #[test]
    fn longest_response_fits() {
        let agreement = Agreement {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: Some(15),
            client_max_window_bits: Some(15),
        };
        let text = response(agreement);
        assert!(text.len() <= MAX_RESPONSE_LEN);
        assert!(text.ends_with("server_max_window_bits=15"));
        assert_eq!(
            response(Agreement {
                server_max_window_bits: Some(9),
                ..agreement
            })
            .rsplit('=')
            .next(),
            Some("9")
        );
    }
}
