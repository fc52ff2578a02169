//! The HTTP version of a request.

use core::fmt;

/// The HTTP version a request was sent with.
///
/// Other versions of the form `HTTP/d.d` in an HTTP/1.x request line are
/// rejected with [`Error::UnsupportedVersion`](crate::Error::UnsupportedVersion)
/// (505).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Version {
    /// `HTTP/1.0`: connections close after each response unless the client
    /// asks for `keep-alive`.
    Http10,
    /// `HTTP/1.1`: connections persist unless either side asks to `close`.
    Http11,
    /// `HTTP/2` (RFC 9113): the request came as a stream of a multiplexed
    /// connection, which persists.
    Http2,
}

impl Version {
    /// The version as it appears on the wire, e.g. `"HTTP/1.1"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
            Version::Http2 => "HTTP/2",
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
