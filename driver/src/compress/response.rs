//! The response side: [`CompressBody`], which decides whether a response
//! is compressed and with what, sets its fields, and compresses it.

use peregrine_core::{Method, Request, Response, ResponseError, StatusCode};

use super::{Coding, Compressors};
use crate::static_files::encoding::{Encoding, Preferences};

/// Room a whole compressed body leaves for the fields it adds:
/// `Content-Encoding: gzip\r\n` and `Vary: Accept-Encoding\r\n`.
const ADDED_FIELDS: usize = 48;

/// Compressed bodies for the core's [`Response`], when the worker's state
/// holds [`Compressors`] (`L: AsMut<Compressors>`).
///
/// Both methods send the body as it is, with no field added, when the
/// response is not one to compress: a status without content (`1xx`,
/// `204`, `304`) or `206`, a `Content-Encoding` already set, a
/// `Content-Type` the [settings](super::Compression::content_types)
/// exclude, or a body shorter than the
/// [minimum](super::Compression::min_size). Otherwise the response gets
/// `Vary: Accept-Encoding`, and is compressed with the coding the
/// request's `Accept-Encoding` prefers (q-values, `q=0` refusing; brotli
/// before gzip when both are as welcome), or sent as it is if it prefers
/// `identity`. A `HEAD` request gets the head a `GET` would.
pub trait CompressBody {
    /// Sets the body to `bytes`, compressed when the request accepts it,
    /// as [`Response::body`] sets a body: `Content-Length` is the
    /// compressed length. A body whose compressed form is no smaller is
    /// sent as it is.
    ///
    /// # Errors
    ///
    /// As [`Response::body`]: [`ResponseError::BodyTooLarge`] if neither
    /// the compressed body (with its fields) nor the plain one fits the
    /// write buffer, or is larger than
    /// [`max_body`](super::Compression::max_body) — the response is then
    /// still open, for [`stream_compressed`](Self::stream_compressed).
    fn body_compressed(&mut self, request: &Request<'_>, bytes: &[u8])
    -> Result<(), ResponseError>;

    /// Streams the body, compressed as it is produced when the request
    /// accepts it, as [`Response::stream`] streams one (`length`, the
    /// plain body's, if known). The body's pieces come from
    /// [`Compressors::fill_body`], which the handler's
    /// [`fill_body`](peregrine_core::Handler::fill_body) calls, and the
    /// handler's [`finished`](peregrine_core::Handler::finished) must
    /// call [`Compressors::finished`]. A compressed stream is chunked
    /// (its length is not known in advance); one begun while the worker
    /// runs its [most](super::Compression::max_streams) is sent as it is.
    ///
    /// The response's [tag](Response::set_tag), set before this call, is
    /// the one the handler's source is given; it must leave the top bit
    /// ([`STREAM_TAG`](super::STREAM_TAG)) clear.
    fn stream_compressed(&mut self, request: &Request<'_>, length: Option<u64>);
}

/// What a response gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Choice {
    /// Nothing: not a response to compress.
    AsIs,
    /// `Vary: Accept-Encoding`, the body as it is.
    Vary,
    /// `Vary: Accept-Encoding` and the body in this coding.
    Encode(Coding),
}

/// What `response`, with a body of `length` bytes if known, gets for
/// `request`.
fn choose<L: AsMut<Compressors>>(
    request: &Request<'_>,
    response: &mut Response<'_, L>,
    length: Option<u64>,
) -> Choice {
    let settings = *response.local().as_mut().settings();
    let status = response.status_code();
    if !status.allows_body() || status == StatusCode::PARTIAL_CONTENT {
        return Choice::AsIs;
    }
    if response.header_value("content-encoding").is_some() {
        return Choice::AsIs;
    }
    if let Some(content_type) = response.header_value("content-type") {
        if !(settings.types)(content_type) {
            return Choice::AsIs;
        }
    }
    if length.is_some_and(|length| length < settings.min_size as u64) {
        return Choice::AsIs;
    }
    for encoding in Preferences::of(&request.headers()).iter() {
        match encoding {
            Encoding::Brotli if settings.brotli.is_some() => return Choice::Encode(Coding::Brotli),
            Encoding::Gzip if settings.gzip.is_some() => return Choice::Encode(Coding::Gzip),
            Encoding::Identity => break,
            _ => {}
        }
    }
    Choice::Vary
}

/// Adds `Vary: Accept-Encoding`, unless the handler said so already.
fn vary<L>(response: &mut Response<'_, L>) -> Result<(), ResponseError> {
    let said = response.header_value("vary").is_some_and(|value| {
        value
            .split(|&byte| byte == b',')
            .any(|token| token.trim_ascii().eq_ignore_ascii_case(b"accept-encoding"))
    });
    if !said {
        response.header("Vary", "Accept-Encoding")?;
    }
    Ok(())
}

/// Adds `Vary: Accept-Encoding` and `Content-Encoding: coding`.
fn encoded<L>(response: &mut Response<'_, L>, coding: Coding) -> Result<(), ResponseError> {
    vary(response)?;
    response.header("Content-Encoding", coding.token())?;
    Ok(())
}

impl<L: AsMut<Compressors>> CompressBody for Response<'_, L> {
    fn body_compressed(
        &mut self,
        request: &Request<'_>,
        bytes: &[u8],
    ) -> Result<(), ResponseError> {
        let coding = match choose(request, self, Some(bytes.len() as u64)) {
            Choice::AsIs => return self.body(bytes),
            Choice::Vary => {
                vary(self)?;
                return self.body(bytes);
            }
            Choice::Encode(coding) => coding,
        };
        // The encoder and the scratch buffer are taken out of the
        // worker's state while the response is written, and put back.
        let compressors = self.local().as_mut();
        let mut encoder = compressors.encoder(coding, Some(bytes.len()));
        let mut scratch = compressors.take_scratch();
        let room = if request.method() == Method::Head {
            scratch.len()
        } else {
            scratch
                .len()
                .min(self.body_room().saturating_sub(ADDED_FIELDS))
        };
        let compressed = encoder
            .compress(bytes, &mut scratch[..room])
            .filter(|&len| len < bytes.len());
        let result = match compressed {
            Some(len) => encoded(self, coding).and_then(|()| self.body(&scratch[..len])),
            None => vary(self).and_then(|()| self.body(bytes)),
        };
        let compressors = self.local().as_mut();
        compressors.give_back(encoder);
        compressors.put_scratch(scratch);
        result
    }

    fn stream_compressed(&mut self, request: &Request<'_>, length: Option<u64>) {
        let coding = match choose(request, self, length) {
            Choice::AsIs => return self.stream(length),
            Choice::Vary => {
                let _ = vary(self);
                return self.stream(length);
            }
            Choice::Encode(coding) => coding,
        };
        if request.method() == Method::Head {
            // The head a GET gets, and no stream to run.
            let _ = encoded(self, coding);
            return self.stream(None);
        }
        let tag = self.tag();
        let Some(stream) = self.local().as_mut().open_stream(coding, tag) else {
            let _ = vary(self);
            return self.stream(length);
        };
        let _ = encoded(self, coding);
        self.set_tag(stream);
        self.stream(None);
    }
}
