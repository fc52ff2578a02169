//! The [`Response`] a handler fills for each request, written straight
//! into the connection's write buffer, and what it tells the connection
//! once the handler is done ([`Completed`]).

use core::fmt;

use super::body::{BodySource, Later, Source};
use crate::StatusCode;
use crate::file::{FileKeeper, FileRegion};
use crate::id::ConnectionId;
use crate::response::{Context, EncodeError, ResponseEncoder, ResponseFraming, check_field};
use crate::spill::{Chain, Spill};
#[cfg(doc)]
use crate::{Fill, Handler, Outcome};

mod writer;

pub use writer::BodyWriter;

/// Why a [`Response`] refused a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResponseError {
    /// The header name is not a token.
    InvalidHeaderName,
    /// The header value holds CR, LF, NUL or another control byte.
    InvalidHeaderValue,
    /// The connection writes this header itself (`Content-Length`,
    /// `Transfer-Encoding`, `Connection`, `Date`).
    ReservedHeader,
    /// The head does not fit the write buffer.
    HeadTooLarge,
    /// The body does not fit the write buffer: stream it instead
    /// ([`Response::stream`]).
    BodyTooLarge,
    /// The body was already set; the response is complete.
    AlreadyFinished,
}

impl ResponseError {
    /// Maps an error of the head's encoder, variant for variant (a new
    /// encoder error must be given its own mapping here): the head is what
    /// the encoder writes, so its full buffer is a head too large.
    fn from_encode(error: EncodeError) -> Self {
        match error {
            EncodeError::InvalidHeaderName => ResponseError::InvalidHeaderName,
            EncodeError::InvalidHeaderValue => ResponseError::InvalidHeaderValue,
            EncodeError::ReservedHeader => ResponseError::ReservedHeader,
            EncodeError::BufferFull => ResponseError::HeadTooLarge,
        }
    }
}

impl From<EncodeError> for ResponseError {
    /// The error a [`Response`] reports for a fault of its head's encoder
    /// (a full buffer is a head too large).
    fn from(error: EncodeError) -> Self {
        ResponseError::from_encode(error)
    }
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResponseError::InvalidHeaderName => "invalid response header name",
            ResponseError::InvalidHeaderValue => "invalid response header value",
            ResponseError::ReservedHeader => "header is written by the connection",
            ResponseError::HeadTooLarge => "response head does not fit the write buffer",
            ResponseError::BodyTooLarge => "response body does not fit the write buffer",
            ResponseError::AlreadyFinished => "response body already set",
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ResponseError {}

/// Upper bound of what finishing a head appends: `Date`, `Connection`,
/// `Content-Length` or `Transfer-Encoding`, and the blank line.
const HEAD_TAIL_MAX: usize = 160;

/// The longest `&'static` body [`Response::body_static`] copies after the
/// head rather than queueing as a piece of its own. Up to this length a
/// copy costs less than the extra piece does on its way out (one more
/// queue entry, one more slice for the vectored write): measured with the
/// `hello` example, a 256-byte body copied costs fewer instructions per
/// request than a 257-byte one sent apart. Longer bodies stay zero-copy.
pub(crate) const STATIC_COPY_MAX: usize = 256;

/// Where a response stands.
#[derive(Clone, Copy)]
enum Stage {
    /// Status and headers are being written.
    Head,
    /// The head is finished: the encoder's bytes hold it (and a copied
    /// body), and the body comes from the source.
    Finished(BodySource),
    /// The head could not be written.
    Failed,
    /// The answer comes later ([`Response::defer`]).
    Deferred,
    /// The body is being written in place ([`Response::writer`]).
    Writing(writer::Writing),
}

/// The response a [`Handler`] fills: status, headers, then a body, written
/// straight into the connection's write buffer.
///
/// The body is one of: bytes copied into the buffer ([`body`](Self::body)),
/// a `&'static` slice sent without copying ([`body_static`](Self::body_static)),
/// a stream the handler fills as the socket drains ([`stream`](Self::stream)),
/// or a file region ([`send_file_region`](Self::send_file_region); the
/// backends' `send_file` makes one from a file they own). Setting the body
/// finishes the head: `Content-Length` (or chunked coding), `Date` and
/// `Connection` are the connection's to write.
pub struct Response<'a, L = ()> {
    /// The head, written in place; once finished, also a copied body.
    head: ResponseEncoder<'a>,
    /// Where the response stands.
    stage: Stage,
    /// What the head depends on.
    ctx: Context<'a>,
    /// The worker's state.
    local: &'a mut L,
    /// What owns the files of kept regions, if the caller has one.
    files: Option<&'a mut dyn FileKeeper>,
    /// Where a written body that outgrows the buffer continues.
    spill: Option<&'a mut dyn Spill>,
    /// The connection's hold on the spilled part of a written body: the
    /// connection owns the blocks from the first one taken, so a
    /// response that never completes (the handler panicked) leaks none.
    spilled: &'a mut Option<Chain>,
    /// A stream or file body was asked for and will not be sent (no body
    /// for this request or status, or the head failed).
    unsent: bool,
    /// The topic a streamed body carries publications of.
    topic: Option<u64>,
    /// The request's scratch value.
    tag: u64,
    /// The connection's name.
    id: ConnectionId,
    /// Whether the handler asked to close the connection.
    close: bool,
    /// Whether the handler takes the connection over after this response.
    hijack: bool,
}

impl<'a, L> Response<'a, L> {
    /// A `200 OK` response writing into `buf`.
    // Each part is the caller's own borrow (of the connection, its
    // buffers, the environment): bundling them would only move them again.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        buf: &'a mut [u8],
        ctx: Context<'a>,
        local: &'a mut L,
        files: Option<&'a mut dyn FileKeeper>,
        spill: Option<&'a mut dyn Spill>,
        spilled: &'a mut Option<Chain>,
        tag: u64,
        id: ConnectionId,
    ) -> Self {
        let (head, stage) = match ResponseEncoder::new(buf, StatusCode::OK) {
            Ok(head) => (head, Stage::Head),
            Err(_) => (ResponseEncoder::empty(), Stage::Failed),
        };
        Response {
            head,
            stage,
            ctx,
            local,
            files,
            spill,
            spilled,
            unsent: false,
            topic: None,
            tag,
            id,
            close: false,
            hijack: false,
        }
    }

    /// Sets the status (`200 OK` until set). Ignored once the body is set.
    #[inline(always)]
    pub fn status(&mut self, status: StatusCode) -> &mut Self {
        if let Stage::Head = self.stage {
            if self.head.set_status(status).is_err() {
                self.stage = Stage::Failed;
            }
        }
        self
    }

    /// The status set so far (`200 OK` until [`status`](Self::status)
    /// changes it).
    pub fn status_code(&self) -> StatusCode {
        self.head.status()
    }

    /// The value of the first header field called `name` (compared
    /// case-insensitively) that the handler added, while the head is being
    /// written; `None` if there is none, or once the body is set.
    pub fn header_value(&self, name: &str) -> Option<&[u8]> {
        match self.stage {
            Stage::Head => self.head.field(name),
            _ => None,
        }
    }

    /// The longest body [`body`](Self::body) accepts now, with room kept
    /// for the fields the connection adds; 0 once the body is set.
    pub fn body_room(&self) -> usize {
        match self.stage {
            Stage::Head => self.head.remaining().saturating_sub(HEAD_TAIL_MAX),
            _ => 0,
        }
    }

    /// Adds a header field; names and values are validated, so nothing a
    /// client sent can split the response.
    ///
    /// # Errors
    ///
    /// See [`ResponseError`]; on error nothing is added.
    #[inline(always)]
    pub fn header(
        &mut self,
        name: &str,
        value: impl AsRef<[u8]>,
    ) -> Result<&mut Self, ResponseError> {
        // Checked here, inlined into the handler, so that the checks of a
        // constant name and value fold away.
        let (name, value) = (name.as_bytes(), value.as_ref());
        let upgrade = match check_field(name, value) {
            Ok(upgrade) => upgrade,
            Err(error) => return Err(self.header_error(ResponseError::from_encode(error))),
        };
        self.push_field(name, value, upgrade)?;
        Ok(self)
    }

    /// The error for a header refused by its check: the response's own
    /// state's error comes first, as when the check runs after it.
    #[inline]
    fn header_error(&self, error: ResponseError) -> ResponseError {
        match self.stage {
            Stage::Head => error,
            Stage::Finished(_) | Stage::Deferred | Stage::Writing(_) => {
                ResponseError::AlreadyFinished
            }
            Stage::Failed => ResponseError::HeadTooLarge,
        }
    }

    /// Appends a checked header field. Inlined too: with a constant name
    /// and value the copies are of a known size.
    #[inline(always)]
    fn push_field(
        &mut self,
        name: &[u8],
        value: &[u8],
        upgrade: bool,
    ) -> Result<(), ResponseError> {
        match self.stage {
            Stage::Head => self
                .head
                .push_field(name, value, upgrade)
                .map_err(ResponseError::from_encode),
            Stage::Finished(_) | Stage::Deferred | Stage::Writing(_) => {
                Err(ResponseError::AlreadyFinished)
            }
            Stage::Failed => Err(ResponseError::HeadTooLarge),
        }
    }

    /// Sets the body to a copy of `bytes`, finishing the response. A
    /// response is started only with half the write buffer free, so one
    /// whose head and body together take at most half the write buffer,
    /// less 160 bytes for the fields the connection adds, always fits;
    /// larger ones may not, and should be [streamed](Self::stream).
    ///
    /// # Errors
    ///
    /// [`ResponseError::BodyTooLarge`] if it does not fit (the response is
    /// then still open), [`ResponseError::AlreadyFinished`] if a body was
    /// set before.
    #[inline(always)]
    pub fn body(&mut self, bytes: &[u8]) -> Result<(), ResponseError> {
        let Stage::Head = self.stage else {
            return Err(self.finished_error());
        };
        let sends_body = self.head.status().allows_body() && !self.ctx.head_request;
        if sends_body && self.head.remaining() < bytes.len().saturating_add(HEAD_TAIL_MAX) {
            return Err(ResponseError::BodyTooLarge);
        }
        if self.finish_head(Some(bytes.len() as u64))? != ResponseFraming::Empty {
            self.head
                .push(bytes)
                .expect("room for the body was checked with the tail's");
        }
        Ok(())
    }

    /// Sets the body to a `&'static` slice, sent without being copied —
    /// unless it is at most 256 bytes: a short body is copied after the
    /// head (when there is room), so that the response goes out as one
    /// piece.
    #[inline(always)]
    pub fn body_static(&mut self, bytes: &'static [u8]) {
        match self.finish_head(Some(bytes.len() as u64)) {
            Ok(ResponseFraming::Empty) | Err(_) => {}
            Ok(_) if bytes.len() <= STATIC_COPY_MAX && self.head.push_short(bytes).is_ok() => {}
            Ok(_) => self.stage = Stage::Finished(BodySource::Static(bytes)),
        }
    }

    /// Streams the body: [`Handler::fill_body`] is called for each piece
    /// as the socket drains. With a known `length` the head says
    /// `Content-Length`; otherwise the body is chunked (or, for an HTTP/1.0
    /// client, ends when the connection closes). A stream that ends short
    /// of its `length` closes the connection.
    ///
    /// For a `HEAD` request, and for a status without content (`1xx`,
    /// `204 No Content`, `304 Not Modified`), nothing follows the head and
    /// [`Handler::fill_body`] is never called for this response: a handler
    /// must not count on it running (to release something, say). The head
    /// of a `HEAD` still says the `Content-Length` or chunked coding a
    /// `GET` would get. The status is fixed when the body is set, so set
    /// it before calling `stream`.
    ///
    /// [`Handler::finished`] reports the stream's end (sent, aborted, or
    /// never started).
    #[inline(always)]
    pub fn stream(&mut self, length: Option<u64>) {
        match self.finish_head(length) {
            Ok(ResponseFraming::Empty) => self.unsent = true,
            Err(_) => self.unsent |= !matches!(self.stage, Stage::Finished(_)),
            Ok(framing) => {
                self.stage = Stage::Finished(BodySource::Stream(framing, Source::Handler))
            }
        }
    }

    /// Subscribes the streamed body (set with [`stream`](Self::stream))
    /// to `topic`: what the application publishes to it from any thread
    /// (the backend's `Sender::publish_to_streams`) is appended to the
    /// body of every stream subscribed, between the pieces
    /// [`Handler::fill_body`] gives, on every worker — one post reaches
    /// every Server-Sent Events client of a feed. A stream carries one
    /// topic; a later call replaces it. Ignored for a response whose body
    /// is not a stream (or has none, as for `HEAD`).
    ///
    /// ```
    /// use peregrine_core::{Fill, Handler, Request, Response, sse};
    ///
    /// /// `/feed`: a Server-Sent Events stream of topic 1.
    /// struct Feed;
    ///
    /// impl Handler for Feed {
    ///     fn handle(&self, _: &Request<'_>, response: &mut Response<'_>) {
    ///         response.header("Content-Type", sse::CONTENT_TYPE).unwrap();
    ///         response.stream(None);
    ///         response.subscribe(1);
    ///     }
    ///
    ///     fn fill_body(&self, _: &mut u64, _: &mut [u8], _: &mut ()) -> Fill {
    ///         Fill::Pending // everything comes from publications
    ///     }
    /// }
    /// ```
    pub fn subscribe(&mut self, topic: u64) -> &mut Self {
        if let Stage::Finished(BodySource::Stream(..)) = self.stage {
            self.topic = Some(topic);
        }
        self
    }

    /// Sends a file region as the body, its length announced in
    /// `Content-Length`; the backend transfers it (with `sendfile` where it
    /// can). See [`FileRegion`] for what is sent, and who keeps the file
    /// open: the backends' `send_file` takes an owned file and makes the
    /// region for it. For a `HEAD` request, or a status without content
    /// (`1xx`, `204`, `304`), only the head is sent, and a
    /// [kept](FileRegion::kept) region goes back to its keeper at once,
    /// as it does if the response is refused or [abandoned](Self::abandon).
    ///
    /// [`Handler::finished`] reports the file's end (sent, aborted, or
    /// never started).
    pub fn send_file_region(&mut self, region: FileRegion) {
        match self.finish_head(Some(region.len())) {
            Ok(ResponseFraming::Empty) => {
                self.unsent = true;
                self.release(region);
            }
            Err(_) => {
                // A second body leaves the first as it was.
                self.unsent |= !matches!(self.stage, Stage::Finished(_));
                self.release(region);
            }
            Ok(_) => self.stage = Stage::Finished(BodySource::file(region)),
        }
    }

    /// What owns the files of [kept](FileRegion::kept) regions for this
    /// response's connection, if its caller gave one: how a backend's
    /// `send_file` finds its own table of files
    /// ([`FileKeeper::as_any`]) to add a file to.
    pub fn file_keeper(&mut self) -> Option<&mut dyn FileKeeper> {
        match &mut self.files {
            Some(files) => Some(&mut **files),
            None => None,
        }
    }

    /// Gives a kept region back to its keeper (a borrowed one needs
    /// nothing).
    fn release(&mut self, region: FileRegion) {
        if region.is_kept() {
            if let Some(files) = self.files.as_deref_mut() {
                files.release(region);
            }
        }
    }

    /// Answers later: nothing of this response is written now, whatever
    /// was set (status, headers); the connection waits, reading no further
    /// request, until the application answers from any thread with the
    /// backend's `Sender::respond` (given the [`id`](Self::id) the handler
    /// kept), choosing the status, headers and body then, or until an
    /// embedding runtime calls
    /// [`Connection::handle_answer`](crate::Connection::handle_answer).
    /// Over HTTP/2 only the request's stream waits, the connection's other
    /// streams going on
    /// ([`ServerConnection::handle_answer`](crate::h2::server::ServerConnection::handle_answer)).
    ///
    /// While it waits, the connection watches for its client leaving (the
    /// response is then reported [`Outcome::Aborted`] to
    /// [`Handler::finished`]), and `Config::parked_stream_timeout`, if set,
    /// bounds the wait: past it the client gets `503 Service
    /// Unavailable`. A deferred response is always reported to
    /// [`Handler::finished`], with its [tag](Self::set_tag). Ignored once
    /// a body is set.
    ///
    /// ```
    /// use peregrine_core::{Handler, Request, Response};
    ///
    /// struct Jobs;
    ///
    /// impl Handler for Jobs {
    ///     fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
    ///         // Hand the job to a runner with `response.id()`; the runner
    ///         // answers (200 or 500) through the backend's sender.
    ///         let _job = (response.id(), request.body().len());
    ///         response.defer();
    ///     }
    /// }
    /// ```
    pub fn defer(&mut self) {
        if let Stage::Head = self.stage {
            self.stage = Stage::Deferred;
        }
    }

    /// Closes the connection after this response. Called before the body
    /// is set, the head also says `Connection: close`. Over HTTP/2 the
    /// connection ends gracefully: GOAWAY follows this response, the
    /// streams already begun are finished, then it closes. (Called before
    /// [`defer`](Self::defer), it closes after the answer.)
    pub fn close(&mut self) -> &mut Self {
        self.close = true;
        self.ctx.keep_alive = false;
        self
    }

    /// Takes the connection over after this response (for a protocol
    /// switch): once the head is written the backend hands the socket to
    /// the application instead of reading another request.
    pub fn hijack(&mut self) -> &mut Self {
        self.hijack = true;
        self
    }

    /// The worker's own state.
    pub fn local(&mut self) -> &mut L {
        self.local
    }

    /// The request's scratch value (set by [`Handler::body_chunk`] or
    /// [`set_tag`](Self::set_tag); 0 otherwise).
    pub fn tag(&self) -> u64 {
        self.tag
    }

    /// The connection's id: what wakes a streamed body that answered
    /// [`Fill::Pending`] (the backend's `Sender::wake`), and what a
    /// deferred response is answered to (`Sender::respond`). Over HTTP/2
    /// it also names the request's stream ([`ConnectionId::stream`]).
    pub fn id(&self) -> ConnectionId {
        self.id
    }

    /// Gives up on this response, whatever was set: the connection answers
    /// `500 Internal Server Error` instead, as when a head does not fit.
    /// An HTTP/1.1 connection closes after it; over HTTP/2 the `500` ends
    /// its stream alone, and the connection's other streams go on. For a
    /// handler that fails after it began its
    /// answer (nothing of it is sent before [`Handler::handle`] returns),
    /// or code that caught a handler's panic.
    ///
    /// ```
    /// use peregrine_core::{Handler, Request, Response, StatusCode};
    ///
    /// struct Report;
    ///
    /// impl Handler for Report {
    ///     fn handle(&self, _: &Request<'_>, response: &mut Response<'_>) {
    ///         response.status(StatusCode::OK).header("X-Rows", b"3").unwrap();
    ///         let rows: Result<&[u8], ()> = Err(()); // the query failed
    ///         match rows {
    ///             Ok(rows) => response.body(rows).unwrap(),
    ///             Err(()) => response.abandon(),
    ///         }
    ///     }
    /// }
    /// ```
    pub fn abandon(&mut self) {
        match self.stage {
            Stage::Finished(source @ (BodySource::File(_) | BodySource::KeptFile(_))) => {
                self.unsent = true;
                if let Some(region) = source.file_region() {
                    self.release(region);
                }
            }
            Stage::Finished(BodySource::Stream(..)) => self.unsent = true,
            _ => {}
        }
        if let Some(chain) = self.spilled.take() {
            release_chain(self.spill.as_deref_mut(), chain);
        }
        self.stage = Stage::Failed;
        self.close = true;
        self.hijack = false;
    }

    /// Sets the scratch value [`Handler::fill_body`] will be given.
    pub fn set_tag(&mut self, tag: u64) -> &mut Self {
        self.tag = tag;
        self
    }

    /// The error for setting a body on a response that is not open.
    #[inline]
    fn finished_error(&self) -> ResponseError {
        match self.stage {
            Stage::Failed => ResponseError::HeadTooLarge,
            _ => ResponseError::AlreadyFinished,
        }
    }

    /// Finishes the head, in place, for a body of `length`, and returns how
    /// the body must follow it. The response is then finished with nothing
    /// after the head: the caller copies the body after it, or records
    /// where the body comes from.
    ///
    /// Always inlined, like the methods that call it, and without closures:
    /// a response whose address no outlined call takes stays in registers.
    #[inline(always)]
    fn finish_head(&mut self, length: Option<u64>) -> Result<ResponseFraming, ResponseError> {
        let Stage::Head = self.stage else {
            return Err(self.finished_error());
        };
        match self.head.write_streaming_tail(length, &self.ctx) {
            Ok(framing) => {
                self.close |= framing.must_close();
                self.stage = Stage::Finished(BodySource::InBuffer);
                Ok(framing)
            }
            Err(_) => {
                self.stage = Stage::Failed;
                Err(ResponseError::HeadTooLarge)
            }
        }
    }

    /// Completes the response (an empty body if none was set) and reports
    /// what the connection must send. Called once, after the handler.
    ///
    /// Borrows rather than consumes: moving the response into the call
    /// would copy all of it.
    #[inline(always)]
    pub(crate) fn complete(&mut self) -> Completed {
        if let Stage::Head = self.stage {
            // Nothing was set: an empty body.
            let _ = self.finish_head(Some(0));
        }
        let (written, source) = match self.stage {
            Stage::Deferred => {
                let later = Later {
                    version: self.ctx.request_version,
                    head_request: self.ctx.head_request,
                    keep_alive: self.ctx.keep_alive && !self.close,
                };
                (Some(0), BodySource::Deferred(later))
            }
            Stage::Finished(source) => {
                if let BodySource::KeptFile(_) = source {
                    // The connection owns the region now: not released
                    // when the response is dropped.
                    self.stage = Stage::Finished(BodySource::InBuffer);
                }
                (Some(self.head.len()), source)
            }
            _ => (None, BodySource::InBuffer),
        };
        Completed {
            status: self.head.status().as_u16(),
            written,
            source,
            close: self.close || !self.ctx.keep_alive,
            keep_alive: self.ctx.keep_alive,
            hijack: self.hijack,
            tag: self.tag,
            unsent: self.unsent,
            topic: self.topic,
        }
    }
}

impl<L> Drop for Response<'_, L> {
    /// A file region the connection never took (the handler panicked
    /// after setting it) goes back to its keeper.
    fn drop(&mut self) {
        if let Stage::Finished(BodySource::KeptFile(span)) = self.stage {
            self.release(FileRegion::from_span(span, true));
        }
    }
}

/// Gives a spilled body's blocks back to the spill.
#[cold]
#[inline(never)]
fn release_chain(spill: Option<&mut (dyn Spill + '_)>, chain: Chain) {
    if let Some(spill) = spill {
        chain.release(spill);
    }
}

/// What a completed [`Response`] left for the connection to send.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Completed {
    /// The status sent.
    pub(crate) status: u16,
    /// Bytes of the buffer holding the head (and a copied body), or `None`
    /// if the head could not be written.
    pub(crate) written: Option<usize>,
    /// Where the body comes from.
    pub(crate) source: BodySource,
    /// Whether the connection closes after this response.
    pub(crate) close: bool,
    /// Whether the request and the handler let the connection stay open
    /// after this response ([`Response::close`] was not called, here or
    /// before a deferral), whatever the body's framing needs: what an
    /// HTTP/2 connection, whose streams are framed on their own, heeds.
    pub(crate) keep_alive: bool,
    /// Whether the application takes the connection over.
    pub(crate) hijack: bool,
    /// The request's scratch value.
    pub(crate) tag: u64,
    /// A stream or file body was asked for and is not sent.
    pub(crate) unsent: bool,
    /// The topic a streamed body carries publications of.
    pub(crate) topic: Option<u64>,
}

impl<L> fmt::Debug for Response<'_, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("tag", &self.tag)
            .field("close", &self.close)
            .field("hijack", &self.hijack)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Version;
    use std::string::String;
    use std::vec::Vec;
    use std::{format, vec};

    fn ctx() -> Context<'static> {
        Context {
            request_version: Version::Http11,
            head_request: false,
            keep_alive: true,
            date: None,
        }
    }

    #[test]
    fn header_errors_follow_the_response_state() {
        let mut buf = [0u8; 256];
        let mut local = ();
        let mut spilled = None;
        let mut response = Response::new(
            &mut buf,
            ctx(),
            &mut local,
            None,
            None,
            &mut spilled,
            0,
            ConnectionId::default(),
        );
        let name = String::from("X-Run");
        let value = String::from("time value");
        assert!(response.header(&name, &value).is_ok());
        assert!(response.header("Content-Type", "text/plain").is_ok());
        assert_eq!(
            response.header("Bad Name", "v").err(),
            Some(ResponseError::InvalidHeaderName)
        );
        assert_eq!(
            response.header("X-Value", "a\r\nb").err(),
            Some(ResponseError::InvalidHeaderValue)
        );
        assert_eq!(
            response.header("content-length", "1").err(),
            Some(ResponseError::ReservedHeader)
        );
        response.body_static(b"hi");
        // Once the body is set, every header is refused as too late, a
        // malformed one included.
        assert_eq!(
            response.header("X-Late", "v").err(),
            Some(ResponseError::AlreadyFinished)
        );
        assert_eq!(
            response.header("Bad Name", "v").err(),
            Some(ResponseError::AlreadyFinished)
        );
        let completed = response.complete();
        drop(response);
        let len = completed.written.unwrap();
        // The short static body is copied after the head.
        assert_eq!(completed.source, BodySource::InBuffer);
        assert_eq!(
            &buf[..len],
            b"HTTP/1.1 200 OK\r\nX-Run: time value\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi"
        );
    }

    /// What `body_static(body)` leaves to send, with a buffer of
    /// `capacity` bytes: the bytes written and the body's source.
    fn static_response(
        body: &'static [u8],
        capacity: usize,
        head_request: bool,
    ) -> (Vec<u8>, BodySource) {
        let mut buf = vec![0u8; capacity];
        let mut local = ();
        let ctx = Context {
            head_request,
            ..ctx()
        };
        let mut spilled = None;
        let mut response = Response::new(
            &mut buf,
            ctx,
            &mut local,
            None,
            None,
            &mut spilled,
            0,
            ConnectionId::default(),
        );
        response.body_static(body);
        let completed = response.complete();
        drop(response);
        let len = completed.written.unwrap();
        (buf[..len].to_vec(), completed.source)
    }

    #[test]
    fn short_static_bodies_are_copied_and_long_ones_are_not() {
        static LONGEST_COPIED: [u8; STATIC_COPY_MAX] = [b'a'; STATIC_COPY_MAX];
        static SHORTEST_KEPT: [u8; STATIC_COPY_MAX + 1] = [b'b'; STATIC_COPY_MAX + 1];
        let head = |len: usize| format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n");

        let (wire, source) = static_response(&LONGEST_COPIED, 1024, false);
        assert_eq!(source, BodySource::InBuffer);
        let expected = [head(STATIC_COPY_MAX).as_bytes(), &LONGEST_COPIED[..]].concat();
        assert_eq!(wire, expected);

        let (wire, source) = static_response(&SHORTEST_KEPT, 1024, false);
        assert_eq!(source, BodySource::Static(&SHORTEST_KEPT[..]));
        assert_eq!(wire, head(STATIC_COPY_MAX + 1).as_bytes());
    }

    #[test]
    fn a_short_static_body_without_room_after_the_head_stays_apart() {
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n";
        for capacity in head.len()..head.len() + 2 {
            let (wire, source) = static_response(b"hi", capacity, false);
            assert_eq!(source, BodySource::Static(b"hi"));
            assert_eq!(wire, head);
        }
        let (wire, source) = static_response(b"hi", head.len() + 2, false);
        assert_eq!(source, BodySource::InBuffer);
        assert_eq!(wire, [&head[..], b"hi"].concat());
    }

    #[test]
    fn a_head_request_gets_no_static_body() {
        let (wire, source) = static_response(b"hi", 256, true);
        assert_eq!(source, BodySource::InBuffer);
        assert_eq!(wire, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n");
    }

    #[test]
    fn the_head_so_far_can_be_read_back() {
        let mut buf = [0u8; 256];
        let mut local = ();
        let mut spilled = None;
        let mut response = Response::new(
            &mut buf,
            ctx(),
            &mut local,
            None,
            None,
            &mut spilled,
            0,
            ConnectionId::default(),
        );
        let room = response.body_room();
        assert_eq!(room, 256 - b"HTTP/1.1 200 OK\r\n".len() - HEAD_TAIL_MAX);
        response.status(StatusCode::NOT_FOUND);
        response.header("Content-Type", "text/plain").unwrap();
        response.header("X-Empty", "").unwrap();
        assert_eq!(response.status_code(), StatusCode::NOT_FOUND);
        assert_eq!(
            response.header_value("content-type"),
            Some(&b"text/plain"[..])
        );
        assert_eq!(response.header_value("X-Empty"), Some(&b""[..]));
        assert_eq!(response.header_value("Content-Encoding"), None);
        assert!(response.body_room() < room);
        response.body(b"gone").unwrap();
        assert_eq!(response.header_value("Content-Type"), None);
        assert_eq!(response.body_room(), 0);
    }

    #[test]
    fn header_errors_of_a_failed_head() {
        // No room for the status line: the head failed.
        let mut buf = [0u8; 4];
        let mut local = ();
        let mut spilled = None;
        let mut response = Response::new(
            &mut buf,
            ctx(),
            &mut local,
            None,
            None,
            &mut spilled,
            0,
            ConnectionId::default(),
        );
        assert_eq!(
            response.header("X-A", "v").err(),
            Some(ResponseError::HeadTooLarge)
        );
        assert_eq!(
            response.header("Bad Name", "v").err(),
            Some(ResponseError::HeadTooLarge)
        );
    }
}
