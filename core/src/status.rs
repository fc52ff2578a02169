//! Response status codes.

use core::fmt;

/// An HTTP response status code (RFC 9110 §15): a three-digit integer in
/// `100..=999`.
///
/// RFC 9110 defines codes in `100..=599`; the wire syntax allows any three
/// digits, so the rest of the range is accepted too and encoded with an
/// empty reason phrase. Associated constants name the registered codes.
///
/// ```
/// use peregrine_core::StatusCode;
///
/// let not_found = StatusCode::new(404).unwrap();
/// assert_eq!(not_found, StatusCode::NOT_FOUND);
/// assert_eq!(not_found.canonical_reason(), Some("Not Found"));
/// assert_eq!(not_found.to_string(), "404 Not Found");
/// assert!(StatusCode::new(99).is_none());
/// assert!(!StatusCode::NO_CONTENT.allows_body());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatusCode(u16);

impl StatusCode {
    /// The status code `code`, or `None` unless it has three digits
    /// (`100..=999`).
    #[inline]
    pub const fn new(code: u16) -> Option<StatusCode> {
        if code >= 100 && code <= 999 {
            Some(StatusCode(code))
        } else {
            None
        }
    }

    /// The code as a number.
    #[inline]
    pub const fn as_u16(self) -> u16 {
        self.0
    }

    /// Whether this is an interim response (`1xx`).
    #[inline]
    pub const fn is_informational(self) -> bool {
        self.0 < 200
    }

    /// Whether a response with this status may carry content: false for
    /// `1xx`, `204 No Content` and `304 Not Modified`, whose messages end
    /// with the head (RFC 9112 §6.3).
    #[inline]
    pub const fn allows_body(self) -> bool {
        !(self.0 < 200 || self.0 == 204 || self.0 == 304)
    }

    /// `413 Content Too Large` under its RFC 9110 name; the same value as
    /// [`PAYLOAD_TOO_LARGE`](Self::PAYLOAD_TOO_LARGE).
    pub const CONTENT_TOO_LARGE: StatusCode = StatusCode::PAYLOAD_TOO_LARGE;
}

/// Declares the registered codes once: the associated constants, the reason
/// phrases and the ready-made status lines all come from this table.
macro_rules! status_codes {
    ($( ($code:literal, $name:ident, $reason:literal, $spec:literal); )+) => {
        impl StatusCode {
            $(
                #[doc = concat!("`", $code, " ", $reason, "` (", $spec, ").")]
                pub const $name: StatusCode = StatusCode($code);
            )+

            /// The reason phrase the defining RFC gives this code (RFC 9110
            /// §15, RFC 6585 and RFC 8297), or `None` for an unregistered or
            /// unused code.
            ///
            /// ```
            /// use peregrine_core::StatusCode;
            ///
            /// assert_eq!(StatusCode::OK.canonical_reason(), Some("OK"));
            /// assert_eq!(StatusCode::new(599).unwrap().canonical_reason(), None);
            /// ```
            pub const fn canonical_reason(self) -> Option<&'static str> {
                match self.0 {
                    $( $code => Some($reason), )+
                    _ => None,
                }
            }

            /// The whole status line, `HTTP/1.1 <code> <reason>\r\n`, for a
            /// code with a canonical reason.
            #[inline]
            pub(crate) const fn status_line(self) -> Option<&'static [u8]> {
                match self.0 {
                    $( $code => Some(concat!("HTTP/1.1 ", $code, " ", $reason, "\r\n").as_bytes()), )+
                    _ => None,
                }
            }
        }
    };
}

status_codes! {
    (100, CONTINUE, "Continue", "RFC 9110 §15.2.1");
    (101, SWITCHING_PROTOCOLS, "Switching Protocols", "RFC 9110 §15.2.2");
    (103, EARLY_HINTS, "Early Hints", "RFC 8297");
    (200, OK, "OK", "RFC 9110 §15.3.1");
    (201, CREATED, "Created", "RFC 9110 §15.3.2");
    (202, ACCEPTED, "Accepted", "RFC 9110 §15.3.3");
    (203, NON_AUTHORITATIVE_INFORMATION, "Non-Authoritative Information", "RFC 9110 §15.3.4");
    (204, NO_CONTENT, "No Content", "RFC 9110 §15.3.5");
    (205, RESET_CONTENT, "Reset Content", "RFC 9110 §15.3.6");
    (206, PARTIAL_CONTENT, "Partial Content", "RFC 9110 §15.3.7");
    (300, MULTIPLE_CHOICES, "Multiple Choices", "RFC 9110 §15.4.1");
    (301, MOVED_PERMANENTLY, "Moved Permanently", "RFC 9110 §15.4.2");
    (302, FOUND, "Found", "RFC 9110 §15.4.3");
    (303, SEE_OTHER, "See Other", "RFC 9110 §15.4.4");
    (304, NOT_MODIFIED, "Not Modified", "RFC 9110 §15.4.5");
    (305, USE_PROXY, "Use Proxy", "RFC 9110 §15.4.6");
    (307, TEMPORARY_REDIRECT, "Temporary Redirect", "RFC 9110 §15.4.8");
    (308, PERMANENT_REDIRECT, "Permanent Redirect", "RFC 9110 §15.4.9");
    (400, BAD_REQUEST, "Bad Request", "RFC 9110 §15.5.1");
    (401, UNAUTHORIZED, "Unauthorized", "RFC 9110 §15.5.2");
    (402, PAYMENT_REQUIRED, "Payment Required", "RFC 9110 §15.5.3");
    (403, FORBIDDEN, "Forbidden", "RFC 9110 §15.5.4");
    (404, NOT_FOUND, "Not Found", "RFC 9110 §15.5.5");
    (405, METHOD_NOT_ALLOWED, "Method Not Allowed", "RFC 9110 §15.5.6");
    (406, NOT_ACCEPTABLE, "Not Acceptable", "RFC 9110 §15.5.7");
    (407, PROXY_AUTHENTICATION_REQUIRED, "Proxy Authentication Required", "RFC 9110 §15.5.8");
    (408, REQUEST_TIMEOUT, "Request Timeout", "RFC 9110 §15.5.9");
    (409, CONFLICT, "Conflict", "RFC 9110 §15.5.10");
    (410, GONE, "Gone", "RFC 9110 §15.5.11");
    (411, LENGTH_REQUIRED, "Length Required", "RFC 9110 §15.5.12");
    (412, PRECONDITION_FAILED, "Precondition Failed", "RFC 9110 §15.5.13");
    (413, PAYLOAD_TOO_LARGE, "Content Too Large", "RFC 9110 §15.5.14");
    (414, URI_TOO_LONG, "URI Too Long", "RFC 9110 §15.5.15");
    (415, UNSUPPORTED_MEDIA_TYPE, "Unsupported Media Type", "RFC 9110 §15.5.16");
    (416, RANGE_NOT_SATISFIABLE, "Range Not Satisfiable", "RFC 9110 §15.5.17");
    (417, EXPECTATION_FAILED, "Expectation Failed", "RFC 9110 §15.5.18");
    (421, MISDIRECTED_REQUEST, "Misdirected Request", "RFC 9110 §15.5.20");
    (422, UNPROCESSABLE_CONTENT, "Unprocessable Content", "RFC 9110 §15.5.21");
    (426, UPGRADE_REQUIRED, "Upgrade Required", "RFC 9110 §15.5.22");
    (428, PRECONDITION_REQUIRED, "Precondition Required", "RFC 6585 §3");
    (429, TOO_MANY_REQUESTS, "Too Many Requests", "RFC 6585 §4");
    (431, REQUEST_HEADER_FIELDS_TOO_LARGE, "Request Header Fields Too Large", "RFC 6585 §5");
    (500, INTERNAL_SERVER_ERROR, "Internal Server Error", "RFC 9110 §15.6.1");
    (501, NOT_IMPLEMENTED, "Not Implemented", "RFC 9110 §15.6.2");
    (502, BAD_GATEWAY, "Bad Gateway", "RFC 9110 §15.6.3");
    (503, SERVICE_UNAVAILABLE, "Service Unavailable", "RFC 9110 §15.6.4");
    (504, GATEWAY_TIMEOUT, "Gateway Timeout", "RFC 9110 §15.6.5");
    (505, HTTP_VERSION_NOT_SUPPORTED, "HTTP Version Not Supported", "RFC 9110 §15.6.6");
    (511, NETWORK_AUTHENTICATION_REQUIRED, "Network Authentication Required", "RFC 6585 §6");
}

impl From<StatusCode> for u16 {
    #[inline]
    fn from(status: StatusCode) -> u16 {
        status.0
    }
}

/// The code, followed by the canonical reason when there is one:
/// `404 Not Found`, `599`.
impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.canonical_reason() {
            Some(reason) => write!(f, "{} {}", self.0, reason),
            None => write!(f, "{}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::StatusCode;
    use std::string::ToString;

    #[test]
    fn new_accepts_exactly_three_digits() {
        assert_eq!(StatusCode::new(0), None);
        assert_eq!(StatusCode::new(99), None);
        assert_eq!(StatusCode::new(100).map(StatusCode::as_u16), Some(100));
        assert_eq!(StatusCode::new(999).map(StatusCode::as_u16), Some(999));
        assert_eq!(StatusCode::new(1000), None);
        assert_eq!(StatusCode::new(u16::MAX), None);
    }

    #[test]
    fn classes() {
        let cases = [
            // code, informational, allows body
            (100, true, false),
            (101, true, false),
            (199, true, false),
            (200, false, true),
            (204, false, false),
            (205, false, true),
            (304, false, false),
            (404, false, true),
            (599, false, true),
            (999, false, true),
        ];
        for (code, informational, body) in cases {
            let status = StatusCode::new(code).unwrap();
            assert_eq!(status.is_informational(), informational, "{code}");
            assert_eq!(status.allows_body(), body, "{code}");
        }
    }

    #[test]
    fn reasons_and_display() {
        assert_eq!(StatusCode::PAYLOAD_TOO_LARGE.as_u16(), 413);
        assert_eq!(StatusCode::CONTENT_TOO_LARGE, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(
            StatusCode::PAYLOAD_TOO_LARGE.canonical_reason(),
            Some("Content Too Large")
        );
        assert_eq!(StatusCode::UPGRADE_REQUIRED.as_u16(), 426);
        assert_eq!(StatusCode::new(306).unwrap().canonical_reason(), None);
        assert_eq!(StatusCode::new(418).unwrap().canonical_reason(), None);
        assert_eq!(StatusCode::OK.to_string(), "200 OK");
        assert_eq!(StatusCode::new(599).unwrap().to_string(), "599");
        assert_eq!(u16::from(StatusCode::NOT_FOUND), 404);
    }

    #[test]
    fn status_lines_agree_with_reasons() {
        for code in 100..=999 {
            let status = StatusCode::new(code).unwrap();
            match (status.canonical_reason(), status.status_line()) {
                (Some(reason), Some(line)) => {
                    let expected = std::format!("HTTP/1.1 {code} {reason}\r\n");
                    assert_eq!(line, expected.as_bytes());
                }
                (None, None) => {}
                other => panic!("{code}: {other:?}"),
            }
        }
    }
}
