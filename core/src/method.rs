//! Request methods: the standard ones as an enum, extensions as text.

use core::fmt;

/// A request method (RFC 9110 §9).
///
/// The eight methods of RFC 9110 and `PATCH` (RFC 5789) are recognised
/// while parsing, case-sensitively as the RFC requires; any other token is an
/// extension method whose name [`Request::method_str`](crate::Request::method_str)
/// returns.
///
/// ```
/// use peregrine_core::Method;
///
/// assert_eq!(Method::from_bytes(b"GET"), Method::Get);
/// assert_eq!(Method::from_bytes(b"get"), Method::Other); // methods are case-sensitive
/// assert_eq!(Method::Head.as_str(), Some("HEAD"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`
    Get,
    /// `HEAD`
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `DELETE`
    Delete,
    /// `CONNECT`
    Connect,
    /// `OPTIONS`
    Options,
    /// `TRACE`
    Trace,
    /// `PATCH`
    Patch,
    /// An extension method; its name is kept as received.
    Other,
}

impl Method {
    /// Classifies a method token. Validation that it *is* a token is the
    /// parser's job; this only recognises the standard names.
    #[inline]
    pub fn from_bytes(token: &[u8]) -> Method {
        match token {
            b"GET" => Method::Get,
            b"HEAD" => Method::Head,
            b"POST" => Method::Post,
            b"PUT" => Method::Put,
            b"DELETE" => Method::Delete,
            b"CONNECT" => Method::Connect,
            b"OPTIONS" => Method::Options,
            b"TRACE" => Method::Trace,
            b"PATCH" => Method::Patch,
            _ => Method::Other,
        }
    }

    /// The standard name, or `None` for an extension method.
    pub const fn as_str(self) -> Option<&'static str> {
        Some(match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Connect => "CONNECT",
            Method::Options => "OPTIONS",
            Method::Trace => "TRACE",
            Method::Patch => "PATCH",
            Method::Other => return None,
        })
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str().unwrap_or("(extension method)"))
    }
}
