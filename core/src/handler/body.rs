//! What a finished response tells the connection about its body: where
//! the body comes from ([`BodySource`]), where a streamed one's pieces come
//! from ([`Source`]), and what a deferred one's head will depend on
//! ([`Later`]). The handler API makes these; the connection (HTTP/1.1 and
//! HTTP/2) acts on them.

#[cfg(doc)]
use crate::Response;
use crate::file::{FileRegion, Span};
use crate::response::ResponseFraming;

/// How the body follows a finished head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodySource {
    /// Nothing follows: the body, if any, was copied after the head.
    InBuffer,
    /// A static slice follows.
    Static(&'static [u8]),
    /// The handler fills it in pieces, framed as said; or, for a written
    /// body that outgrew the buffer ([`Source::Spill`]), the spill does
    /// (the connection holds the spilled bytes, and the part in the
    /// buffer, after the head, was the first chunk).
    Stream(ResponseFraming, Source),
    /// A borrowed file region follows.
    File(Span),
    /// A kept file region follows (the holder is the variant, so that
    /// telling the sources apart is one compare).
    KeptFile(Span),
    /// Nothing yet: the whole response comes later
    /// ([`Response::defer`]).
    Deferred(Later),
}

impl BodySource {
    /// The source that sends `region`.
    pub(super) fn file(region: FileRegion) -> Self {
        if region.is_kept() {
            BodySource::KeptFile(region.span())
        } else {
            BodySource::File(region.span())
        }
    }

    /// The file region this source sends, if it is one.
    pub(crate) fn file_region(self) -> Option<FileRegion> {
        match self {
            BodySource::File(span) => Some(FileRegion::from_span(span, false)),
            BodySource::KeptFile(span) => Some(FileRegion::from_span(span, true)),
            _ => None,
        }
    }
}

/// Where a streamed body's pieces come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// [`Handler::fill_body`](crate::Handler::fill_body).
    Handler,
    /// The spill, where a written body that outgrew the buffer went (the
    /// connection's `spilled` bytes).
    Spill,
}

/// What a deferred response's head will depend on, kept from its request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Later {
    /// The request's version.
    pub(crate) version: crate::Version,
    /// Whether the request was `HEAD`.
    pub(crate) head_request: bool,
    /// Whether the connection stays open after the response.
    pub(crate) keep_alive: bool,
}
