//! Close status codes and the payload of a received Close frame
//! (RFC 6455 §5.5.1, §7.4).
//!
//! A Close frame's payload is empty, or a two-byte big-endian status code
//! followed by a UTF-8 reason. A [`CloseCode`] is always a code that may
//! appear in a Close frame; the codes RFC 6455 reserves for the API only
//! (1005 "no status received", 1006 "abnormal closure", 1015 "TLS
//! failure") have no `CloseCode`: an empty payload is `None`.

use core::fmt;

use super::ProtocolError;

/// A status code that may be sent in a Close frame (RFC 6455 §7.4).
///
/// Valid codes are those RFC 6455 defines for use on the wire (1000–1003,
/// 1007–1011) and the ranges it leaves to registered (3000–3999) and
/// private (4000–4999) use. Everything else, 1004–1006 and 1015 included,
/// is refused by [`new`](Self::new) and, received, fails the connection
/// with [`PROTOCOL_ERROR`](Self::PROTOCOL_ERROR). Codes 1012–1014, which
/// IANA registered after RFC 6455, are refused too: RFC 6455 reserves
/// 1000–2999 for codes defined in a published specification, and none
/// defines them.
///
/// ```
/// use peregrine_core::ws::CloseCode;
///
/// assert_eq!(CloseCode::new(1000), Some(CloseCode::NORMAL));
/// assert_eq!(CloseCode::new(4001).map(CloseCode::as_u16), Some(4001));
/// assert_eq!(CloseCode::new(1005), None); // "no status received": API only
/// assert_eq!(CloseCode::new(2999), None); // reserved, unassigned
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(u16);

impl CloseCode {
    /// 1000: the purpose of the connection was fulfilled.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: the endpoint is going away (server shutdown, page navigated
    /// away).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: the peer broke the protocol.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: a type of data the endpoint cannot accept (say, binary where
    /// only text is understood).
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1007: message data inconsistent with its type, such as a text
    /// message that is not UTF-8.
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: a message that violates the endpoint's policy.
    pub const POLICY_VIOLATION: CloseCode = CloseCode(1008);
    /// 1009: a message too big to process.
    pub const MESSAGE_TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010: (client only) the server did not negotiate an extension the
    /// client requires.
    pub const MANDATORY_EXTENSION: CloseCode = CloseCode(1010);
    /// 1011: the server met a condition that kept it from fulfilling the
    /// request.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);

    /// The code `code`, or `None` unless it may be sent in a Close frame.
    #[inline]
    pub const fn new(code: u16) -> Option<CloseCode> {
        match code {
            1000..=1003 | 1007..=1011 | 3000..=4999 => Some(CloseCode(code)),
            _ => None,
        }
    }

    /// The code as a number.
    #[inline]
    pub const fn as_u16(self) -> u16 {
        self.0
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> u16 {
        code.0
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The status code and reason of a received Close frame's payload
/// (RFC 6455 §5.5.1): `None` and `""` for an empty payload.
///
/// # Errors
///
/// - [`ProtocolError::ClosePayloadTooShort`] for a one-byte payload, which
///   cannot hold a code;
/// - [`ProtocolError::InvalidCloseCode`] for a code [`CloseCode::new`]
///   refuses;
/// - [`ProtocolError::InvalidUtf8`] for a reason that is not UTF-8.
pub(crate) fn parse_close_payload(
    payload: &[u8],
) -> Result<(Option<CloseCode>, &str), ProtocolError> {
    let [high, low, reason @ ..] = payload else {
        return if payload.is_empty() {
            Ok((None, ""))
        } else {
            Err(ProtocolError::ClosePayloadTooShort)
        };
    };
    let code =
        CloseCode::new(u16::from_be_bytes([*high, *low])).ok_or(ProtocolError::InvalidCloseCode)?;
    let reason = core::str::from_utf8(reason).map_err(|_| ProtocolError::InvalidUtf8)?;
    Ok((Some(code), reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6455 §7.4.1 and §7.4.2: which codes may appear on the wire.
    #[test]
    fn valid_codes_are_exactly_the_wire_codes() {
        for code in 0..=u16::MAX {
            let valid = matches!(code, 1000..=1003 | 1007..=1011 | 3000..=4999);
            assert_eq!(CloseCode::new(code).is_some(), valid, "{code}");
        }
        let named = [
            (CloseCode::NORMAL, 1000),
            (CloseCode::GOING_AWAY, 1001),
            (CloseCode::PROTOCOL_ERROR, 1002),
            (CloseCode::UNSUPPORTED_DATA, 1003),
            (CloseCode::INVALID_PAYLOAD, 1007),
            (CloseCode::POLICY_VIOLATION, 1008),
            (CloseCode::MESSAGE_TOO_BIG, 1009),
            (CloseCode::MANDATORY_EXTENSION, 1010),
            (CloseCode::INTERNAL_ERROR, 1011),
        ];
        for (code, number) in named {
            assert_eq!(CloseCode::new(number), Some(code));
            assert_eq!(u16::from(code), number);
        }
    }

    /// RFC 6455 §5.5.1: empty, or a code and a UTF-8 reason.
    #[test]
    fn close_payloads() {
        type Parsed = Result<(Option<u16>, &'static str), ProtocolError>;
        let cases: &[(&[u8], Parsed)] = &[
            (b"", Ok((None, ""))),
            (b"\x03", Err(ProtocolError::ClosePayloadTooShort)),
            (b"\x03\xe8", Ok((Some(1000), ""))),
            (b"\x03\xe8bye", Ok((Some(1000), "bye"))),
            (b"\x0f\xa0caf\xc3\xa9", Ok((Some(4000), "café"))),
            (b"\x03\xed", Err(ProtocolError::InvalidCloseCode)), // 1005
            (b"\x03\xee", Err(ProtocolError::InvalidCloseCode)), // 1006
            (b"\x03\xf7", Err(ProtocolError::InvalidCloseCode)), // 1015
            (b"\x00\x00", Err(ProtocolError::InvalidCloseCode)),
            (b"\x03\xe8\xff", Err(ProtocolError::InvalidUtf8)),
            (b"\x03\xe8\xc3", Err(ProtocolError::InvalidUtf8)), // truncated
        ];
        for (payload, expected) in cases {
            let parsed = parse_close_payload(payload)
                .map(|(code, reason)| (code.map(CloseCode::as_u16), reason));
            assert_eq!(parsed, *expected, "{}", payload.escape_ascii());
        }
    }
}
