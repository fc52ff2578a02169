//! How the body of a request is delimited (RFC 9112 §6).

use crate::{Error, Headers, Version};

/// The framing of a request body, decided from its head.
///
/// ```
/// use peregrine_core::{BodyFraming, Error, Parsed, RequestParser};
///
/// let mut parser = RequestParser::<8>::new();
/// let wire = b"POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
/// let Ok(Parsed::Complete(request)) = parser.parse(wire) else { panic!() };
/// assert_eq!(request.body_framing(), Ok(BodyFraming::Chunked));
///
/// let mut parser = RequestParser::<8>::new();
/// let wire = b"POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n";
/// let Ok(Parsed::Complete(request)) = parser.parse(wire) else { panic!() };
/// assert_eq!(request.body_framing(), Err(Error::InvalidContentLength));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BodyFraming {
    /// Exactly this many bytes follow the head (0 when neither
    /// `Content-Length` nor `Transfer-Encoding` is present).
    Length(u64),
    /// The body is in the chunked transfer coding (RFC 9112 §7.1).
    Chunked,
}

/// Decides the framing of a request with these headers (RFC 9112 §6.1-6.3).
///
/// - `Transfer-Encoding` in HTTP/1.0 → 400, together with `Content-Length` →
///   400; its final coding must be `chunked` (other codings → 501, since the
///   server decodes none), applied once (→ 400).
/// - `Content-Length` values (several fields, or a list in one) must all be
///   the same digits-only number that fits `u64` (→ 400).
pub(crate) fn decide(headers: &Headers<'_>, version: Version) -> Result<BodyFraming, Error> {
    let has_transfer_encoding = headers.contains("transfer-encoding");
    let content_length = content_length(headers)?;
    if has_transfer_encoding {
        if version == Version::Http10 {
            return Err(Error::TransferEncodingInHttp10);
        }
        if content_length.is_some() {
            return Err(Error::ContentLengthWithTransferEncoding);
        }
        return transfer_encoding(headers);
    }
    Ok(BodyFraming::Length(content_length.unwrap_or(0)))
}

/// The value of `Content-Length`, if present: every field and every list
/// element must be the same decimal number (RFC 9110 §8.6).
pub(crate) fn content_length(headers: &Headers<'_>) -> Result<Option<u64>, Error> {
    let mut length = None;
    // Empty list elements count as malformed here, unlike in `Tokens`.
    for value in headers.get_all("content-length") {
        for element in value.split(|&b| b == b',') {
            let parsed = parse_decimal(element.trim_ascii())?;
            if length.is_some_and(|previous| previous != parsed) {
                return Err(Error::InvalidContentLength);
            }
            length = Some(parsed);
        }
    }
    Ok(length)
}

/// Parses `1*DIGIT` into a `u64`, refusing signs, whitespace and overflow.
fn parse_decimal(digits: &[u8]) -> Result<u64, Error> {
    if digits.is_empty() {
        return Err(Error::InvalidContentLength);
    }
    digits.iter().try_fold(0u64, |n, &b| {
        if !b.is_ascii_digit() {
            return Err(Error::InvalidContentLength);
        }
        n.checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(b - b'0')))
            .ok_or(Error::InvalidContentLength)
    })
}

/// Checks the list of transfer codings: `chunked` must be last and only
/// once; any coding besides `chunked` is one the server cannot decode.
fn transfer_encoding(headers: &Headers<'_>) -> Result<BodyFraming, Error> {
    let mut codings = 0usize;
    let mut chunked_seen = false;
    let mut last_is_chunked = false;
    for element in headers.tokens("transfer-encoding") {
        // A coding may carry parameters after `;` (RFC 9112 §7).
        let name = match memchr::memchr(b';', element) {
            Some(semicolon) => element[..semicolon].trim_ascii_end(),
            None => element,
        };
        if name.is_empty() || !name.iter().all(|&b| crate::scan::is_tchar(b)) {
            return Err(Error::InvalidTransferEncoding);
        }
        last_is_chunked = name.eq_ignore_ascii_case(b"chunked");
        if last_is_chunked {
            if chunked_seen {
                return Err(Error::InvalidTransferEncoding);
            }
            chunked_seen = true;
        }
        codings += 1;
    }
    match (codings, last_is_chunked) {
        (0, _) => Err(Error::InvalidTransferEncoding),
        (1, true) => Ok(BodyFraming::Chunked),
        _ => Err(Error::UnsupportedTransferCoding),
    }
}
