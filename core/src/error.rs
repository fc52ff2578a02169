//! Protocol errors and the status code each one earns.
//!
//! Every way a peer can get HTTP/1.1 wrong is one variant of [`Error`]. Each
//! variant knows the status a client should receive ([`Error::status`]) and a
//! short reason ([`Error::reason`]) fit for a response body or a log line.
//! Every one of them desynchronises message framing, so a server answers it
//! with `Connection: close`.

use core::fmt;

/// A request the server cannot accept, as a small `Copy` value.
///
/// ```
/// use peregrine_core::Error;
///
/// assert_eq!(Error::TooManyHeaders.status(), 431);
/// assert_eq!(Error::UnsupportedVersion.status(), 505);
/// assert_eq!(Error::MissingHost.to_string(), "missing Host header");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// The method is not an RFC 9110 token (400).
    InvalidMethod,
    /// The request-target has a byte outside `0x21..=0x7E`, is empty, or
    /// its form does not suit the method (400).
    InvalidTarget,
    /// The request line is not `method SP target SP version CRLF` with
    /// exactly one space between the parts (400).
    InvalidRequestLine,
    /// The version is not of the form `HTTP/d.d` (400).
    InvalidVersion,
    /// A header name is empty or not a token (400).
    InvalidHeaderName,
    /// Whitespace between a header name and its colon (400, RFC 9112 §5.1).
    WhitespaceBeforeColon,
    /// A header line starts with whitespace: obsolete line folding (400,
    /// RFC 9112 §5.2).
    ObsoleteLineFolding,
    /// A header value holds NUL or another control byte besides HTAB (400).
    InvalidHeaderValue,
    /// A line ends in a bare LF (400). Peregrine accepts only CRLF.
    BareLineFeed,
    /// A CR is not followed by LF (400).
    BareCarriageReturn,
    /// An HTTP/1.1 request without a `Host` header (400, RFC 9112 §3.2).
    MissingHost,
    /// More than one `Host` header (400, RFC 9112 §3.2).
    DuplicateHost,
    /// A `Host` value that is not `uri-host [ ":" port ]` (400, RFC 9112
    /// §3.2; RFC 3986 §3.2.2 and §3.2.3): a space, `@`, `/`, `?`, `#`, a
    /// byte outside the URI characters, a port that is not digits. An
    /// empty value is valid.
    InvalidHost,
    /// `Content-Length` is malformed, overflows `u64`, or its values differ
    /// (400, RFC 9112 §6.3).
    InvalidContentLength,
    /// Both `Transfer-Encoding` and `Content-Length` (400, RFC 9112 §6.3).
    ContentLengthWithTransferEncoding,
    /// `Transfer-Encoding` in an HTTP/1.0 request (400, RFC 9112 §6.1).
    TransferEncodingInHttp10,
    /// `Transfer-Encoding` is empty, malformed, or applies `chunked` twice
    /// (400).
    InvalidTransferEncoding,
    /// A chunk-size line is malformed, overflows `u64`, or its extension
    /// exceeds the limit (400).
    InvalidChunkSize,
    /// Chunk data is not followed by CRLF (400).
    InvalidChunkData,
    /// The request did not arrive in time: its head or body stalled past
    /// the server's timeout (408).
    RequestTimeout,
    /// The body exceeds the limit the server set (413).
    BodyTooLarge,
    /// The request-target exceeds the limit the server set (414).
    TargetTooLong,
    /// More header fields than the header table holds (431).
    TooManyHeaders,
    /// The request head does not fit the buffer it is read into (431).
    HeadTooLarge,
    /// The chunked trailer section exceeds its limit (431).
    TrailersTooLarge,
    /// A transfer coding other than `chunked` (501, RFC 9112 §6.1).
    UnsupportedTransferCoding,
    /// An HTTP version other than 1.0 and 1.1 (505).
    UnsupportedVersion,
}

impl Error {
    /// The status code a client should receive for this error.
    pub const fn status(self) -> u16 {
        match self {
            Error::RequestTimeout => 408,
            Error::BodyTooLarge => 413,
            Error::TargetTooLong => 414,
            Error::TooManyHeaders | Error::HeadTooLarge | Error::TrailersTooLarge => 431,
            Error::UnsupportedTransferCoding => 501,
            Error::UnsupportedVersion => 505,
            _ => 400,
        }
    }

    /// A short, lower-case reason, fit for a response body or a log line.
    pub const fn reason(self) -> &'static str {
        match self {
            Error::InvalidMethod => "invalid method",
            Error::InvalidTarget => "invalid request-target",
            Error::InvalidRequestLine => "invalid request line",
            Error::InvalidVersion => "invalid HTTP version",
            Error::InvalidHeaderName => "invalid header name",
            Error::WhitespaceBeforeColon => "whitespace before colon in header",
            Error::ObsoleteLineFolding => "obsolete line folding",
            Error::InvalidHeaderValue => "invalid header value",
            Error::BareLineFeed => "line ends in a bare LF",
            Error::BareCarriageReturn => "CR not followed by LF",
            Error::MissingHost => "missing Host header",
            Error::DuplicateHost => "more than one Host header",
            Error::InvalidHost => "invalid Host header",
            Error::InvalidContentLength => "invalid Content-Length",
            Error::ContentLengthWithTransferEncoding => "both Content-Length and Transfer-Encoding",
            Error::TransferEncodingInHttp10 => "Transfer-Encoding in an HTTP/1.0 request",
            Error::InvalidTransferEncoding => "invalid Transfer-Encoding",
            Error::InvalidChunkSize => "invalid chunk size",
            Error::InvalidChunkData => "chunk data not followed by CRLF",
            Error::RequestTimeout => "request timed out",
            Error::BodyTooLarge => "body too large",
            Error::TargetTooLong => "request-target too long",
            Error::TooManyHeaders => "too many header fields",
            Error::HeadTooLarge => "request head too large",
            Error::TrailersTooLarge => "trailer section too large",
            Error::UnsupportedTransferCoding => "unsupported transfer coding",
            Error::UnsupportedVersion => "unsupported HTTP version",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}

static_assertions::assert_eq_size!(Error, u8);
static_assertions::assert_impl_all!(Error: Copy, Send, Sync, core::fmt::Display);
