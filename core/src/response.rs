//! Response heads, encoded into a buffer the caller owns.
//!
//! A [`ResponseEncoder`] writes the status line and the header fields of one
//! response into a fixed `&mut [u8]` and hands back the finished head and
//! the body as two slices, ready for a single vectored write. It never
//! allocates, never formats through `core::fmt`, and copies the status line
//! of every registered status from a ready-made constant.
//!
//! # Contract
//!
//! - **The encoder owns message framing.** `Content-Length`,
//!   `Transfer-Encoding`, `Connection` and `Date` are written by the encoder
//!   from the body and the [`Context`]; adding any of them with
//!   [`header`](ResponseEncoder::header), in any letter case, is
//!   [`EncodeError::ReservedHeader`].
//! - **Bodies follow the status and the method.** `1xx`, `204` and `304`
//!   responses carry no content and no `Content-Length` or
//!   `Transfer-Encoding`. Every other response gets `Content-Length`, or
//!   `Transfer-Encoding: chunked` from
//!   [`finish_streaming`](ResponseEncoder::finish_streaming) when the length
//!   is unknown. A response to `HEAD` carries the header fields the body
//!   would have, but no body.
//! - **Persistence is spelled out.** `Connection: close` when
//!   [`Context::keep_alive`] is false, `Connection: keep-alive` when an
//!   HTTP/1.0 request is kept alive, nothing otherwise; the `upgrade` option
//!   is added when an `Upgrade` header was given (RFC 9110 §7.8). Interim
//!   (`1xx`) heads carry no persistence option, which belongs to the final
//!   response; sending them only to HTTP/1.1 clients is the caller's part
//!   (RFC 9110 §15.2).
//! - **Nothing malformed reaches the wire.** Header names must be tokens and
//!   values may not hold CR, LF, NUL or any other control byte except HTAB,
//!   so a response cannot be split. A header that fails any check, or does
//!   not fit, is not appended; `finish*` consume the encoder, so a head that
//!   failed to finish cannot be sent.
//!
//! ```
//! use peregrine_core::date::DateCache;
//! use peregrine_core::response::{Context, ResponseEncoder};
//! use peregrine_core::{StatusCode, Version};
//!
//! let mut date = DateCache::new();
//! date.update(784_111_777);
//! let ctx = Context {
//!     request_version: Version::Http11,
//!     head_request: false,
//!     keep_alive: true,
//!     date: Some(&date),
//! };
//!
//! let mut buf = [0u8; 256];
//! let mut response = ResponseEncoder::new(&mut buf, StatusCode::OK)?;
//! response.header("Content-Type", b"text/plain")?;
//! let (head, body) = response.finish(b"hello", &ctx)?;
//!
//! assert_eq!(
//!     head,
//!     b"HTTP/1.1 200 OK\r\n\
//!       Content-Type: text/plain\r\n\
//!       Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n\
//!       Content-Length: 5\r\n\
//!       \r\n"
//! );
//! assert_eq!(body, b"hello"); // writev([head, body])
//! # Ok::<(), peregrine_core::response::EncodeError>(())
//! ```

use core::fmt;

use crate::date::DateCache;
use crate::{Error, StatusCode, Version};

/// The whole `100 Continue` interim response, to send before reading the
/// body of a request that carried `Expect: 100-continue` (RFC 9110 §10.1.1).
pub const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// The last chunk of a chunked body, with an empty trailer section.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// The CRLF that follows the data of every chunk.
pub const CHUNK_END: &[u8] = b"\r\n";

/// The longest chunk header [`encode_chunk_header`] writes: sixteen hex
/// digits and CRLF.
pub const CHUNK_HEADER_MAX: usize = 18;

/// The request facts a response head depends on.
#[derive(Clone, Copy, Debug)]
pub struct Context<'d> {
    /// The version of the request being answered. Responses always say
    /// `HTTP/1.1`; this decides whether chunked coding may be used and
    /// whether a kept-alive connection must be announced.
    pub request_version: Version,
    /// Whether the request method was `HEAD`: the head is written as for
    /// `GET`, and no body is returned.
    pub head_request: bool,
    /// Whether the connection stays open after this response. When false
    /// the head says `Connection: close` and the caller closes the
    /// connection once the response is written.
    pub keep_alive: bool,
    /// The worker's cached `Date` line, copied into the head when present.
    pub date: Option<&'d DateCache>,
}

/// Why a response head could not be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EncodeError {
    /// The head does not fit the buffer.
    BufferFull,
    /// A header name is empty or not an RFC 9110 token.
    InvalidHeaderName,
    /// A header value holds CR, LF, NUL, DEL or another control byte besides
    /// HTAB.
    InvalidHeaderValue,
    /// The header is one the encoder writes itself: `Content-Length`,
    /// `Transfer-Encoding`, `Connection` or `Date`.
    ReservedHeader,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EncodeError::BufferFull => "response head does not fit the buffer",
            EncodeError::InvalidHeaderName => "invalid response header name",
            EncodeError::InvalidHeaderValue => "invalid response header value",
            EncodeError::ReservedHeader => "header is written by the response encoder",
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for EncodeError {}

/// How the body that follows a head from
/// [`finish_streaming`](ResponseEncoder::finish_streaming) must be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResponseFraming {
    /// Nothing follows the head: the status carries no content, or the
    /// request was `HEAD`.
    Empty,
    /// Exactly this many bytes follow, as they are.
    Length(u64),
    /// The body follows in chunks: for each non-empty piece,
    /// [`encode_chunk_header`], the data and [`CHUNK_END`]; then
    /// [`LAST_CHUNK`].
    Chunked,
    /// The body follows as it is and ends when the connection closes: the
    /// length is unknown and an HTTP/1.0 client cannot read chunks. The head
    /// says `Connection: close` whatever [`Context::keep_alive`] said, and
    /// the caller must close the connection after the last byte.
    UntilClose,
}

impl ResponseFraming {
    /// Whether the connection must close after the body, even if the
    /// request asked to keep it alive.
    #[inline]
    pub const fn must_close(self) -> bool {
        matches!(self, ResponseFraming::UntilClose)
    }
}

/// The framing header the encoder writes at the end of the head.
#[derive(Clone, Copy)]
enum FramingField {
    None,
    ContentLength(u64),
    Chunked,
}

/// The status line for `status`: a ready-made one for registered codes,
/// else `HTTP/1.1 NNN \r\n` written into `unregistered`.
#[inline]
fn status_line(status: StatusCode, unregistered: &mut [u8; 15]) -> &[u8] {
    if let Some(line) = status.status_line() {
        return line;
    }
    let code = status.as_u16();
    *unregistered = *b"HTTP/1.1 000 \r\n";
    unregistered[9] = b'0' + (code / 100) as u8;
    unregistered[10] = b'0' + (code / 10 % 10) as u8;
    unregistered[11] = b'0' + (code % 10) as u8;
    unregistered
}

/// Writes one response head into a caller-provided buffer.
///
/// [`new`](Self::new) writes the status line, [`header`](Self::header)
/// appends a field, and [`finish`](Self::finish) or
/// [`finish_streaming`](Self::finish_streaming) add the fields the encoder
/// owns and the blank line, returning the head. See the
/// [module documentation](self) for the rules.
pub struct ResponseEncoder<'b> {
    buf: &'b mut [u8],
    len: usize,
    status: StatusCode,
    upgrade: bool,
}

impl<'b> ResponseEncoder<'b> {
    /// Starts a response with the status line `HTTP/1.1 <code> <reason>`,
    /// the reason being the [canonical one](StatusCode::canonical_reason),
    /// or empty for an unregistered code (`HTTP/1.1 599 \r\n`).
    ///
    /// # Errors
    ///
    /// [`EncodeError::BufferFull`] if the status line does not fit `buf`.
    #[inline]
    pub fn new(buf: &'b mut [u8], status: StatusCode) -> Result<Self, EncodeError> {
        let mut encoder = ResponseEncoder {
            buf,
            len: 0,
            status,
            upgrade: false,
        };
        let mut unregistered = [0; 15];
        encoder.push(status_line(status, &mut unregistered))?;
        Ok(encoder)
    }

    /// Replaces the status, also after headers were added (they move to
    /// follow the new status line).
    ///
    /// ```
    /// use peregrine_core::StatusCode;
    /// use peregrine_core::response::ResponseEncoder;
    ///
    /// let mut buf = [0u8; 128];
    /// let mut response = ResponseEncoder::new(&mut buf, StatusCode::OK)?;
    /// response.header("Location", b"/new")?;
    /// response.set_status(StatusCode::MOVED_PERMANENTLY)?;
    /// assert_eq!(response.status(), StatusCode::MOVED_PERMANENTLY);
    /// # Ok::<(), peregrine_core::response::EncodeError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`EncodeError::BufferFull`] if the longer status line does not fit;
    /// the response is then unchanged.
    #[inline]
    pub fn set_status(&mut self, status: StatusCode) -> Result<(), EncodeError> {
        self.len = replace_status_line(self.buf, self.len, self.status, status)?;
        self.status = status;
        Ok(())
    }

    /// The status of the response.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The value of the first field called `name` (compared
    /// case-insensitively) among those appended so far, if any.
    ///
    /// ```
    /// use peregrine_core::StatusCode;
    /// use peregrine_core::response::ResponseEncoder;
    ///
    /// let mut buf = [0u8; 128];
    /// let mut response = ResponseEncoder::new(&mut buf, StatusCode::OK)?;
    /// response.header("Content-Type", b"application/json")?;
    /// assert_eq!(response.field("content-type"), Some(&b"application/json"[..]));
    /// assert_eq!(response.field("Content-Encoding"), None);
    /// # Ok::<(), peregrine_core::response::EncodeError>(())
    /// ```
    pub fn field(&self, name: &str) -> Option<&[u8]> {
        let mut unregistered = [0; 15];
        let start = status_line(self.status, &mut unregistered).len();
        let fields = self.buf.get(start..self.len)?;
        fields.split(|&byte| byte == b'\n').find_map(|line| {
            let line = line.strip_suffix(b"\r")?;
            let colon = line.iter().position(|&byte| byte == b':')?;
            let (field, value) = line.split_at(colon);
            field
                .eq_ignore_ascii_case(name.as_bytes())
                .then(|| value[1..].trim_ascii())
        })
    }

    /// Bytes of the buffer not yet used.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.len
    }

    /// Bytes written so far: the head, and whatever was appended after it.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// An encoder over no buffer, standing in for one whose status line did
    /// not fit: everything written to it fails.
    pub(crate) fn empty() -> ResponseEncoder<'static> {
        ResponseEncoder {
            buf: &mut [],
            len: 0,
            status: StatusCode::OK,
            upgrade: false,
        }
    }

    /// Appends the header field `name: value`.
    ///
    /// The value is written as given; leading or trailing whitespace is not
    /// part of a field value (RFC 9110 §5.5), so leave it out. Adding an
    /// `Upgrade` field makes the head's `Connection` field carry the
    /// `upgrade` option, as RFC 9110 §7.8 requires.
    ///
    /// ```
    /// use peregrine_core::StatusCode;
    /// use peregrine_core::response::{EncodeError, ResponseEncoder};
    ///
    /// let mut buf = [0u8; 128];
    /// let mut response = ResponseEncoder::new(&mut buf, StatusCode::SEE_OTHER)?;
    /// response
    ///     .header("Location", b"/login")?
    ///     .header("Cache-Control", b"no-store")?;
    ///
    /// // Refused, and nothing is appended:
    /// let splitting = response.header("Location", b"/\r\nSet-Cookie: x");
    /// assert_eq!(splitting.err(), Some(EncodeError::InvalidHeaderValue));
    /// let framing = response.header("content-length", b"0");
    /// assert_eq!(framing.err(), Some(EncodeError::ReservedHeader));
    /// # Ok::<(), EncodeError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// - [`EncodeError::InvalidHeaderName`] if `name` is not a token;
    /// - [`EncodeError::ReservedHeader`] if the encoder owns `name`;
    /// - [`EncodeError::InvalidHeaderValue`] if `value` holds a control byte
    ///   other than HTAB;
    /// - [`EncodeError::BufferFull`] if the field does not fit.
    ///
    /// On error nothing is appended and the encoder stays usable.
    #[inline]
    pub fn header(&mut self, name: &str, value: &[u8]) -> Result<&mut Self, EncodeError> {
        let upgrade = check_field(name.as_bytes(), value)?;
        self.push_field(name.as_bytes(), value, upgrade)?;
        Ok(self)
    }

    /// Appends a field that [`check_field`] accepted (`upgrade` is what it
    /// returned).
    #[inline(always)]
    pub(crate) fn push_field(
        &mut self,
        name: &[u8],
        value: &[u8],
        upgrade: bool,
    ) -> Result<(), EncodeError> {
        let start = self.len;
        // Saturating: an impossible length must end in `BufferFull`, not a
        // wrapped index.
        let end = start
            .saturating_add(name.len())
            .saturating_add(value.len())
            .saturating_add(4);
        let Some(line) = self.buf.get_mut(start..end) else {
            return Err(EncodeError::BufferFull);
        };
        let (line_name, rest) = line.split_at_mut(name.len());
        line_name.copy_from_slice(name);
        let (colon, rest) = rest.split_at_mut(2);
        colon.copy_from_slice(b": ");
        let (line_value, crlf) = rest.split_at_mut(value.len());
        line_value.copy_from_slice(value);
        crlf.copy_from_slice(b"\r\n");
        self.len = end;
        self.upgrade |= upgrade;
        Ok(())
    }

    /// Finishes a response whose whole body is in hand, adding `Date`,
    /// `Connection` and `Content-Length: body.len()`, and returns the head
    /// and the body to send after it.
    ///
    /// The returned body is `body`, or empty for a `HEAD` request (whose
    /// head still says `Content-Length: body.len()`) and for `1xx`, `204`
    /// and `304`, which have neither content nor `Content-Length`; `body` is
    /// then ignored.
    ///
    /// ```
    /// use peregrine_core::response::{Context, ResponseEncoder};
    /// use peregrine_core::{StatusCode, Version};
    ///
    /// let ctx = Context {
    ///     request_version: Version::Http10,
    ///     head_request: true,
    ///     keep_alive: true,
    ///     date: None,
    /// };
    /// let mut buf = [0u8; 128];
    /// let response = ResponseEncoder::new(&mut buf, StatusCode::OK)?;
    /// let (head, body) = response.finish(b"{\"ok\":true}", &ctx)?;
    ///
    /// assert_eq!(
    ///     head,
    ///     b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 11\r\n\r\n"
    /// );
    /// assert!(body.is_empty()); // HEAD: the length is announced, nothing is sent
    /// # Ok::<(), peregrine_core::response::EncodeError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`EncodeError::BufferFull`] if the head does not fit.
    #[inline]
    pub fn finish<'a>(
        mut self,
        body: &'a [u8],
        ctx: &Context<'_>,
    ) -> Result<(&'b [u8], &'a [u8]), EncodeError> {
        let (field, body) = if !self.status.allows_body() {
            (FramingField::None, &[][..])
        } else if ctx.head_request {
            (FramingField::ContentLength(body.len() as u64), &[][..])
        } else {
            (FramingField::ContentLength(body.len() as u64), body)
        };
        self.write_tail(field, ctx.keep_alive, ctx)?;
        Ok((self.into_head(), body))
    }

    /// Finishes a response whose body the caller streams after the head:
    /// `length` is its size when known (`Content-Length`), or `None` for
    /// chunked coding. Returns the head and how the body must be written.
    ///
    /// An HTTP/1.0 client cannot read chunks, so for an HTTP/1.0 request
    /// with an unknown length the head has no framing field and says
    /// `Connection: close`, and the body is delimited by closing the
    /// connection: [`ResponseFraming::UntilClose`], whatever
    /// [`Context::keep_alive`] said.
    ///
    /// For `1xx`, `204` and `304`, and for `HEAD` requests, nothing follows
    /// the head ([`ResponseFraming::Empty`]); a `HEAD` head still carries the
    /// `Content-Length` or `Transfer-Encoding` a `GET` would get.
    ///
    /// ```
    /// use peregrine_core::response::{
    ///     encode_chunk_header, ResponseFraming, Context, ResponseEncoder, CHUNK_END, LAST_CHUNK,
    /// };
    /// use peregrine_core::{StatusCode, Version};
    ///
    /// let ctx = Context {
    ///     request_version: Version::Http11,
    ///     head_request: false,
    ///     keep_alive: true,
    ///     date: None,
    /// };
    /// let mut buf = [0u8; 128];
    /// let response = ResponseEncoder::new(&mut buf, StatusCode::OK)?;
    /// let (head, framing) = response.finish_streaming(None, &ctx)?;
    /// assert_eq!(head, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    /// assert_eq!(framing, ResponseFraming::Chunked);
    ///
    /// let mut wire = head.to_vec();
    /// let mut size = [0; 18];
    /// for piece in [&b"hello, "[..], b"world"] {
    ///     wire.extend_from_slice(encode_chunk_header(piece.len(), &mut size));
    ///     wire.extend_from_slice(piece);
    ///     wire.extend_from_slice(CHUNK_END);
    /// }
    /// wire.extend_from_slice(LAST_CHUNK);
    /// assert!(wire.ends_with(b"7\r\nhello, \r\n5\r\nworld\r\n0\r\n\r\n"));
    /// # Ok::<(), peregrine_core::response::EncodeError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`EncodeError::BufferFull`] if the head does not fit.
    #[inline]
    pub fn finish_streaming(
        mut self,
        length: Option<u64>,
        ctx: &Context<'_>,
    ) -> Result<(&'b [u8], ResponseFraming), EncodeError> {
        let framing = self.write_streaming_tail(length, ctx)?;
        Ok((self.into_head(), framing))
    }

    /// The tail of a streamed response's head; see
    /// [`finish_streaming`](Self::finish_streaming). The encoder's bytes
    /// are then the finished head, and what is [pushed](Self::push) after
    /// it the start of the body.
    #[inline(always)]
    pub(crate) fn write_streaming_tail(
        &mut self,
        length: Option<u64>,
        ctx: &Context<'_>,
    ) -> Result<ResponseFraming, EncodeError> {
        let (field, framing) = if !self.status.allows_body() {
            (FramingField::None, ResponseFraming::Empty)
        } else {
            match (length, ctx.request_version) {
                (Some(n), _) => (FramingField::ContentLength(n), ResponseFraming::Length(n)),
                (None, Version::Http11) => (FramingField::Chunked, ResponseFraming::Chunked),
                (None, Version::Http10) => (FramingField::None, ResponseFraming::UntilClose),
                // HTTP/2 frames the body itself: it ends with its stream.
                (None, Version::Http2) => (FramingField::None, ResponseFraming::UntilClose),
            }
        };
        let framing = if ctx.head_request {
            ResponseFraming::Empty
        } else {
            framing
        };
        self.write_tail(field, ctx.keep_alive && !framing.must_close(), ctx)?;
        Ok(framing)
    }

    /// Appends `Date`, `Connection`, the framing field and the blank line.
    #[inline(always)]
    fn write_tail(
        &mut self,
        field: FramingField,
        keep_alive: bool,
        ctx: &Context<'_>,
    ) -> Result<(), EncodeError> {
        let connection = connection_line(
            !self.status.is_informational(),
            keep_alive,
            ctx.request_version,
            self.upgrade,
        );
        let rest = &mut self.buf[self.len..];
        let Some(tail) = rest.first_chunk_mut::<TAIL_MAX>() else {
            self.len = write_tail_checked(self.buf, self.len, field, connection, ctx.date)?;
            return Ok(());
        };
        // Room for the longest tail: copies of fixed size, no checks.
        let mut at = 0;
        if let Some(date) = ctx.date {
            let line = date.line();
            tail[..line.len()].copy_from_slice(line);
            at = line.len();
        }
        if !connection.is_empty() {
            tail[at..at + connection.len()].copy_from_slice(connection);
            at += connection.len();
        }
        match field {
            FramingField::None => {}
            FramingField::ContentLength(n) => {
                const NAME: &[u8; 16] = b"Content-Length: ";
                tail[at..at + NAME.len()].copy_from_slice(NAME);
                at += NAME.len();
                at += write_decimal(n, &mut tail[at..at + U64_DIGITS]);
                tail[at..at + 2].copy_from_slice(b"\r\n");
                at += 2;
            }
            FramingField::Chunked => {
                const LINE: &[u8; 28] = b"Transfer-Encoding: chunked\r\n";
                tail[at..at + LINE.len()].copy_from_slice(LINE);
                at += LINE.len();
            }
        }
        tail[at..at + 2].copy_from_slice(b"\r\n");
        self.len += at + 2;
        Ok(())
    }

    /// Copies `bytes` to the end of the head.
    #[inline]
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        self.len = push_at(self.buf, self.len, bytes)?;
        Ok(())
    }

    /// Copies a short body (of a length known only at run time) after
    /// the head.
    #[inline]
    pub(crate) fn push_short(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        let end = self.len + bytes.len();
        let dst = self
            .buf
            .get_mut(self.len..end)
            .ok_or(EncodeError::BufferFull)?;
        copy_short(dst, bytes);
        self.len = end;
        Ok(())
    }

    /// The buffer's bytes from `at` on, which may lie beyond what was
    /// written: where a body is written before the head's tail.
    pub(crate) fn beyond(&mut self, at: usize) -> &mut [u8] {
        &mut self.buf[at..]
    }

    /// The buffer's size.
    pub(crate) fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Appends the `len` bytes written at `from`, at or beyond the end of
    /// what was written, by moving them down to it.
    pub(crate) fn append_moved(&mut self, from: usize, len: usize) {
        debug_assert!(from >= self.len);
        self.buf.copy_within(from..from + len, self.len);
        self.len += len;
    }

    /// The bytes written so far, for the buffer's whole lifetime.
    #[inline]
    fn into_head(self) -> &'b [u8] {
        let buf: &'b [u8] = self.buf;
        &buf[..self.len]
    }
}

impl fmt::Debug for ResponseEncoder<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseEncoder")
            .field("status", &self.status)
            .field("len", &self.len)
            .field("capacity", &self.buf.len())
            .finish()
    }
}

// The helpers below that the encoder calls without inlining them take the
// buffer and the length by value, never the encoder: a response whose
// encoder's address is never taken stays in registers.

/// Copies `bytes` into `buf` at `len`; returns the new length.
#[inline]
fn push_at(buf: &mut [u8], len: usize, bytes: &[u8]) -> Result<usize, EncodeError> {
    let end = len + bytes.len();
    match buf.get_mut(len..end) {
        Some(dst) => {
            dst.copy_from_slice(bytes);
            Ok(end)
        }
        None => Err(EncodeError::BufferFull),
    }
}

/// Copies `src` into `dst`, of the same length. Lengths of 8 to 32 bytes
/// take two overlapping word copies instead of a call to `memcpy`.
#[inline(always)]
fn copy_short(dst: &mut [u8], src: &[u8]) {
    let n = src.len();
    if (8..=16).contains(&n) && dst.len() == n {
        dst[..8].copy_from_slice(&src[..8]);
        dst[n - 8..].copy_from_slice(&src[n - 8..]);
    } else if (17..=32).contains(&n) && dst.len() == n {
        dst[..16].copy_from_slice(&src[..16]);
        dst[n - 16..].copy_from_slice(&src[n - 16..]);
    } else {
        dst.copy_from_slice(src);
    }
}

/// Replaces the status line of the `len`-byte head in `buf`, moving the
/// fields after it; returns the new length, or leaves the head unchanged
/// if the new line does not fit.
fn replace_status_line(
    buf: &mut [u8],
    len: usize,
    old: StatusCode,
    new: StatusCode,
) -> Result<usize, EncodeError> {
    let mut old_unregistered = [0; 15];
    let old_len = status_line(old, &mut old_unregistered).len();
    let mut unregistered = [0; 15];
    let line = status_line(new, &mut unregistered);
    let new_len = len - old_len + line.len();
    if new_len > buf.len() {
        return Err(EncodeError::BufferFull);
    }
    buf.copy_within(old_len..len, line.len());
    buf[..line.len()].copy_from_slice(line);
    Ok(new_len)
}

/// [`ResponseEncoder::write_tail`] near the end of the buffer, each piece
/// checked for room; returns the new length.
#[cold]
fn write_tail_checked(
    buf: &mut [u8],
    mut len: usize,
    field: FramingField,
    connection: &[u8],
    date: Option<&DateCache>,
) -> Result<usize, EncodeError> {
    if let Some(date) = date {
        len = push_at(buf, len, date.header_line())?;
    }
    len = push_at(buf, len, connection)?;
    match field {
        FramingField::None => {}
        FramingField::ContentLength(n) => {
            len = push_at(buf, len, b"Content-Length: ")?;
            let mut digits = [0; U64_DIGITS];
            let digits_len = write_decimal(n, &mut digits);
            len = push_at(buf, len, &digits[..digits_len])?;
            len = push_at(buf, len, b"\r\n")?;
        }
        FramingField::Chunked => len = push_at(buf, len, b"Transfer-Encoding: chunked\r\n")?,
    }
    push_at(buf, len, b"\r\n")
}

/// Digits of the largest `u64`.
const U64_DIGITS: usize = 20;

/// The longest tail [`ResponseEncoder::write_tail`] appends: `Date`, the
/// longest `Connection` line, `Content-Length` with 20 digits, the blank
/// line.
pub(crate) const TAIL_MAX: usize = DateCache::LINE_LEN
    + b"Connection: keep-alive, upgrade\r\n".len()
    + b"Content-Length: \r\n".len()
    + U64_DIGITS
    + 2;

/// Writes `n` in decimal at the start of `out`, which must have room for
/// 20 digits, and returns the number of digits; the bytes after them are
/// left as they were.
///
/// The length is known first, so the digits go straight to their place,
/// two at a time from a table, right to left: no scratch copy, and for
/// the short lengths of most bodies only a few steps.
#[inline]
fn write_decimal(n: u64, out: &mut [u8]) -> usize {
    /// `PAIRS[i]` is `i` (`0..100`) in two digits.
    const PAIRS: [[u8; 2]; 100] = {
        let mut pairs = [[0; 2]; 100];
        let mut i = 0;
        while i < 100 {
            pairs[i] = [b'0' + (i / 10) as u8, b'0' + (i % 10) as u8];
            i += 1;
        }
        pairs
    };
    let len = decimal_len(n);
    let mut end = len;
    let mut rest = n;
    while rest >= 100 {
        end -= 2;
        out[end..end + 2].copy_from_slice(&PAIRS[(rest % 100) as usize]);
        rest /= 100;
    }
    // One or two leading digits are left, and exactly that much room.
    if rest >= 10 {
        out[..2].copy_from_slice(&PAIRS[rest as usize]);
    } else {
        out[0] = b'0' + rest as u8;
    }
    len
}

/// How many decimal digits `n` has (1 for 0): a climb up the powers of
/// ten, a step per digit, which is cheapest for the short numbers that
/// body lengths mostly are.
#[inline]
fn decimal_len(n: u64) -> usize {
    /// `POWERS[i]` is 10 to the `i`; the last is the largest power in `u64`.
    const POWERS: [u64; U64_DIGITS] = {
        let mut powers = [1; U64_DIGITS];
        let mut i = 1;
        while i < U64_DIGITS {
            powers[i] = powers[i - 1] * 10;
            i += 1;
        }
        powers
    };
    let mut len = 1;
    while len < U64_DIGITS && n >= POWERS[len] {
        len += 1;
    }
    len
}

/// The `Connection` line for a response: the persistence option, which
/// belongs to final responses only, plus `upgrade` when the head carries an
/// `Upgrade` field. Empty when there is nothing to say.
#[inline]
fn connection_line(
    is_final: bool,
    keep_alive: bool,
    version: Version,
    upgrade: bool,
) -> &'static [u8] {
    let close = is_final && !keep_alive;
    let announce_keep_alive = is_final && keep_alive && version == Version::Http10;
    match (close, announce_keep_alive, upgrade) {
        (true, _, false) => b"Connection: close\r\n",
        (true, _, true) => b"Connection: close, upgrade\r\n",
        (false, true, false) => b"Connection: keep-alive\r\n",
        (false, true, true) => b"Connection: keep-alive, upgrade\r\n",
        (false, false, true) => b"Connection: upgrade\r\n",
        (false, false, false) => b"",
    }
}

/// Writes the size line of a chunk holding `len` bytes, `<hex>\r\n` in
/// lower-case hex, into `out` and returns it.
///
/// A chunk of size 0 ends the body, so skip empty pieces and end with
/// [`LAST_CHUNK`].
///
/// ```
/// use peregrine_core::response::encode_chunk_header;
///
/// let mut out = [0; 18];
/// assert_eq!(encode_chunk_header(0x1a2b, &mut out), b"1a2b\r\n");
/// assert_eq!(encode_chunk_header(10, &mut out), b"a\r\n");
/// ```
#[inline]
pub fn encode_chunk_header(len: usize, out: &mut [u8; CHUNK_HEADER_MAX]) -> &[u8] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    const _: () = assert!(usize::BITS <= 64, "a chunk size must fit 16 hex digits");
    out[16] = b'\r';
    out[17] = b'\n';
    let mut start = 16;
    let mut n = len;
    loop {
        start -= 1;
        out[start] = HEX[n & 0xf];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    &out[start..]
}

/// Encodes the complete response to a request that failed with `error`:
/// the status from [`Error::status`], `Content-Type: text/plain;
/// charset=utf-8`, `Date` when `ctx` has one, `Connection: close` (a
/// protocol error leaves the connection unusable, so `ctx.keep_alive` is
/// ignored), `Content-Length`, and the body [`Error::reason`] followed by a
/// newline, which is left out for a `HEAD` request.
///
/// The caller sends the returned bytes and closes the connection.
///
/// ```
/// use peregrine_core::response::{encode_error, Context};
/// use peregrine_core::{Error, Version};
///
/// let ctx = Context {
///     request_version: Version::Http11,
///     head_request: false,
///     keep_alive: true,
///     date: None,
/// };
/// let mut buf = [0u8; 256];
/// let response = encode_error(&mut buf, Error::TooManyHeaders, &ctx)?;
/// assert_eq!(
///     response,
///     b"HTTP/1.1 431 Request Header Fields Too Large\r\n\
///       Content-Type: text/plain; charset=utf-8\r\n\
///       Connection: close\r\n\
///       Content-Length: 23\r\n\
///       \r\n\
///       too many header fields\n"
/// );
/// # Ok::<(), peregrine_core::response::EncodeError>(())
/// ```
///
/// # Errors
///
/// [`EncodeError::BufferFull`] if the response does not fit `buf`.
pub fn encode_error<'b>(
    buf: &'b mut [u8],
    error: Error,
    ctx: &Context<'_>,
) -> Result<&'b [u8], EncodeError> {
    let status = match StatusCode::new(error.status()) {
        Some(status) => status,
        None => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let reason = error.reason().as_bytes();
    let mut encoder = ResponseEncoder::new(buf, status)?;
    encoder.push(b"Content-Type: text/plain; charset=utf-8\r\n")?;
    let field = if status.allows_body() {
        FramingField::ContentLength(reason.len() as u64 + 1)
    } else {
        FramingField::None
    };
    encoder.write_tail(field, false, ctx)?;
    if status.allows_body() && !ctx.head_request {
        encoder.push(reason)?;
        encoder.push(b"\n")?;
    }
    Ok(encoder.into_head())
}

/// Checks a header field as [`Response::header`](crate::Response::header)
/// does before adding it: the name a token and not one the connection
/// writes itself (`Content-Length`, `Transfer-Encoding`, `Connection`,
/// `Date`), the value free of CR, LF, NUL and other control bytes. For code
/// that carries fields to a response later (a deferred answer posted from
/// another thread), so that a bad one is refused where it is made.
///
/// ```
/// use peregrine_core::response::{EncodeError, validate_field};
///
/// assert_eq!(validate_field("Content-Type", b"text/plain"), Ok(()));
/// assert_eq!(validate_field("X-Bad", b"a\r\nb"), Err(EncodeError::InvalidHeaderValue));
/// assert_eq!(validate_field("Content-Length", b"1"), Err(EncodeError::ReservedHeader));
/// ```
///
/// # Errors
///
/// The field's first fault, as [`EncodeError`].
pub fn validate_field(name: &str, value: &[u8]) -> Result<(), EncodeError> {
    check_field(name.as_bytes(), value).map(|_| ())
}

/// Checks a header field the handler adds: the name a token and not one
/// the encoder writes itself, the value free of control bytes. Returns
/// whether the field is `Upgrade`.
///
/// Always inlined, and written so that for a name and value known at
/// compile time (the usual case: `header("Content-Type", "text/plain")`)
/// the whole check folds away: short inputs are checked by plain loops,
/// which the compiler unrolls and evaluates.
#[inline(always)]
pub(crate) fn check_field(name: &[u8], value: &[u8]) -> Result<bool, EncodeError> {
    if !is_token(name) {
        return Err(EncodeError::InvalidHeaderName);
    }
    let upgrade = match name.len() {
        4 if name.eq_ignore_ascii_case(b"date") => return Err(EncodeError::ReservedHeader),
        10 if name.eq_ignore_ascii_case(b"connection") => {
            return Err(EncodeError::ReservedHeader);
        }
        14 if name.eq_ignore_ascii_case(b"content-length") => {
            return Err(EncodeError::ReservedHeader);
        }
        17 if name.eq_ignore_ascii_case(b"transfer-encoding") => {
            return Err(EncodeError::ReservedHeader);
        }
        7 => name.eq_ignore_ascii_case(b"upgrade"),
        _ => false,
    };
    if !is_field_value(value) {
        return Err(EncodeError::InvalidHeaderValue);
    }
    Ok(upgrade)
}

/// Inputs up to this long are checked byte by byte, in a loop the
/// compiler can unroll (and evaluate, for a constant input).
const SHORT: usize = 32;

/// Whether `name` is a token (RFC 9110 §5.6.2): one or more tchars.
#[inline(always)]
fn is_token(name: &[u8]) -> bool {
    if name.len() <= SHORT {
        !name.is_empty() && name.iter().all(|&b| crate::scan::is_tchar(b))
    } else {
        crate::scan::token_run(name) == name.len()
    }
}

/// Whether every byte of `value` may appear in a field value: visible ASCII,
/// SP, HTAB and obs-text (RFC 9110 §5.5).
#[inline(always)]
fn is_field_value(value: &[u8]) -> bool {
    if value.len() <= SHORT {
        value.iter().all(|&b| crate::scan::is_value_byte(b))
    } else {
        crate::scan::value_run(value) == value.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::string::{String, ToString};
    use std::vec::Vec;
    use std::{format, vec};

    #[test]
    fn short_copies_are_exact_at_every_length_and_boundary() {
        let src: Vec<u8> = (0..48u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
        for n in 0..=40 {
            let mut dst = vec![0xffu8; n];
            copy_short(&mut dst, &src[..n]);
            assert_eq!(dst, &src[..n], "length {n}");
        }
    }

    const V10: Version = Version::Http10;
    const V11: Version = Version::Http11;

    fn ctx(request_version: Version, head_request: bool, keep_alive: bool) -> Context<'static> {
        Context {
            request_version,
            head_request,
            keep_alive,
            date: None,
        }
    }

    fn status(code: u16) -> StatusCode {
        StatusCode::new(code).unwrap()
    }

    /// Encodes a fixed-body response into a buffer of `capacity` bytes.
    fn encode_fixed(
        capacity: usize,
        code: u16,
        headers: &[(&str, &[u8])],
        body: &[u8],
        ctx: &Context<'_>,
    ) -> Result<(Vec<u8>, Vec<u8>), EncodeError> {
        let mut buf = vec![0; capacity];
        let mut encoder = ResponseEncoder::new(&mut buf, status(code))?;
        for &(name, value) in headers {
            encoder.header(name, value)?;
        }
        let (head, body) = encoder.finish(body, ctx)?;
        Ok((head.to_vec(), body.to_vec()))
    }

    fn encode_streaming(
        capacity: usize,
        code: u16,
        headers: &[(&str, &[u8])],
        length: Option<u64>,
        ctx: &Context<'_>,
    ) -> Result<(Vec<u8>, ResponseFraming), EncodeError> {
        let mut buf = vec![0; capacity];
        let mut encoder = ResponseEncoder::new(&mut buf, status(code))?;
        for &(name, value) in headers {
            encoder.header(name, value)?;
        }
        let (head, framing) = encoder.finish_streaming(length, ctx)?;
        Ok((head.to_vec(), framing))
    }

    fn text(bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes).into_owned()
    }

    #[test]
    fn finish_rules() {
        struct Case {
            code: u16,
            version: Version,
            head: bool,
            keep_alive: bool,
            body: &'static [u8],
            wire_head: &'static str,
            wire_body: &'static [u8],
        }
        let cases = [
            // A plain keep-alive HTTP/1.1 response: no Connection field.
            Case {
                code: 200,
                version: V11,
                head: false,
                keep_alive: true,
                body: b"hello",
                wire_head: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
                wire_body: b"hello",
            },
            Case {
                code: 200,
                version: V11,
                head: false,
                keep_alive: true,
                body: b"",
                wire_head: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
                wire_body: b"",
            },
            // HEAD: the length of the body that is not sent.
            Case {
                code: 200,
                version: V11,
                head: true,
                keep_alive: true,
                body: b"hello",
                wire_head: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
                wire_body: b"",
            },
            Case {
                code: 404,
                version: V11,
                head: true,
                keep_alive: false,
                body: b"missing",
                wire_head: "HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 7\r\n\r\n",
                wire_body: b"",
            },
            // Close.
            Case {
                code: 200,
                version: V11,
                head: false,
                keep_alive: false,
                body: b"x",
                wire_head: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n",
                wire_body: b"x",
            },
            Case {
                code: 200,
                version: V10,
                head: false,
                keep_alive: false,
                body: b"x",
                wire_head: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n",
                wire_body: b"x",
            },
            // HTTP/1.0 kept alive must be told so.
            Case {
                code: 200,
                version: V10,
                head: false,
                keep_alive: true,
                body: b"x",
                wire_head: "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n",
                wire_body: b"x",
            },
            // 204 and 304: no content, no Content-Length, body ignored.
            Case {
                code: 204,
                version: V11,
                head: false,
                keep_alive: true,
                body: b"ignored",
                wire_head: "HTTP/1.1 204 No Content\r\n\r\n",
                wire_body: b"",
            },
            Case {
                code: 204,
                version: V10,
                head: false,
                keep_alive: true,
                body: b"",
                wire_head: "HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n",
                wire_body: b"",
            },
            Case {
                code: 304,
                version: V11,
                head: false,
                keep_alive: false,
                body: b"ignored",
                wire_head: "HTTP/1.1 304 Not Modified\r\nConnection: close\r\n\r\n",
                wire_body: b"",
            },
            Case {
                code: 304,
                version: V11,
                head: true,
                keep_alive: true,
                body: b"ignored",
                wire_head: "HTTP/1.1 304 Not Modified\r\n\r\n",
                wire_body: b"",
            },
            // 1xx: interim, so no framing and no persistence option.
            Case {
                code: 100,
                version: V11,
                head: false,
                keep_alive: false,
                body: b"ignored",
                wire_head: "HTTP/1.1 100 Continue\r\n\r\n",
                wire_body: b"",
            },
            Case {
                code: 103,
                version: V11,
                head: false,
                keep_alive: true,
                body: b"",
                wire_head: "HTTP/1.1 103 Early Hints\r\n\r\n",
                wire_body: b"",
            },
            // 205 may be framed with Content-Length: 0.
            Case {
                code: 205,
                version: V11,
                head: false,
                keep_alive: true,
                body: b"",
                wire_head: "HTTP/1.1 205 Reset Content\r\nContent-Length: 0\r\n\r\n",
                wire_body: b"",
            },
            // Unregistered codes get an empty reason.
            Case {
                code: 599,
                version: V11,
                head: false,
                keep_alive: true,
                body: b"?",
                wire_head: "HTTP/1.1 599 \r\nContent-Length: 1\r\n\r\n",
                wire_body: b"?",
            },
            Case {
                code: 999,
                version: V11,
                head: false,
                keep_alive: true,
                body: b"",
                wire_head: "HTTP/1.1 999 \r\nContent-Length: 0\r\n\r\n",
                wire_body: b"",
            },
            Case {
                code: 199,
                version: V11,
                head: false,
                keep_alive: true,
                body: b"",
                wire_head: "HTTP/1.1 199 \r\n\r\n",
                wire_body: b"",
            },
        ];
        for case in cases {
            let ctx = ctx(case.version, case.head, case.keep_alive);
            let (head, body) = encode_fixed(256, case.code, &[], case.body, &ctx).unwrap();
            assert_eq!(text(&head), case.wire_head, "{} {:?}", case.code, ctx);
            assert_eq!(body, case.wire_body, "{} {:?}", case.code, ctx);
        }
    }

    #[test]
    fn finish_streaming_rules() {
        // (code, version, HEAD, keep-alive, length, head, framing)
        type Case = (
            u16,
            Version,
            bool,
            bool,
            Option<u64>,
            &'static str,
            ResponseFraming,
        );
        let cases: &[Case] = &[
            (
                200,
                V11,
                false,
                true,
                Some(1 << 40),
                "HTTP/1.1 200 OK\r\nContent-Length: 1099511627776\r\n\r\n",
                ResponseFraming::Length(1 << 40),
            ),
            (
                200,
                V11,
                false,
                true,
                Some(u64::MAX),
                "HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n\r\n",
                ResponseFraming::Length(u64::MAX),
            ),
            (
                200,
                V11,
                false,
                true,
                None,
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                ResponseFraming::Chunked,
            ),
            (
                200,
                V11,
                false,
                false,
                None,
                "HTTP/1.1 200 OK\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n",
                ResponseFraming::Chunked,
            ),
            // HTTP/1.0, unknown length: delimited by close, whatever keep-alive said.
            (
                200,
                V10,
                false,
                true,
                None,
                "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n",
                ResponseFraming::UntilClose,
            ),
            (
                200,
                V10,
                false,
                false,
                None,
                "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n",
                ResponseFraming::UntilClose,
            ),
            (
                200,
                V10,
                false,
                true,
                Some(3),
                "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\n",
                ResponseFraming::Length(3),
            ),
            // HEAD: the GET framing fields, nothing follows, the connection may persist.
            (
                200,
                V11,
                true,
                true,
                Some(3),
                "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n",
                ResponseFraming::Empty,
            ),
            (
                200,
                V11,
                true,
                true,
                None,
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                ResponseFraming::Empty,
            ),
            (
                200,
                V10,
                true,
                true,
                None,
                "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\n",
                ResponseFraming::Empty,
            ),
            // No content whatever the length says.
            (
                204,
                V11,
                false,
                true,
                Some(3),
                "HTTP/1.1 204 No Content\r\n\r\n",
                ResponseFraming::Empty,
            ),
            (
                204,
                V10,
                false,
                true,
                None,
                "HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n",
                ResponseFraming::Empty,
            ),
            (
                304,
                V11,
                false,
                true,
                None,
                "HTTP/1.1 304 Not Modified\r\n\r\n",
                ResponseFraming::Empty,
            ),
            (
                304,
                V11,
                false,
                false,
                Some(10),
                "HTTP/1.1 304 Not Modified\r\nConnection: close\r\n\r\n",
                ResponseFraming::Empty,
            ),
            (
                100,
                V11,
                false,
                true,
                None,
                "HTTP/1.1 100 Continue\r\n\r\n",
                ResponseFraming::Empty,
            ),
        ];
        for &(code, version, head, keep_alive, length, wire, framing) in cases {
            let ctx = ctx(version, head, keep_alive);
            let (got, got_framing) = encode_streaming(256, code, &[], length, &ctx).unwrap();
            assert_eq!(text(&got), wire, "{code} {length:?} {ctx:?}");
            assert_eq!(got_framing, framing, "{code} {length:?} {ctx:?}");
            assert_eq!(
                got_framing.must_close(),
                framing == ResponseFraming::UntilClose
            );
        }
    }

    #[test]
    fn continue_constant_matches_encoder() {
        let (head, body) = encode_fixed(64, 100, &[], b"", &ctx(V11, false, true)).unwrap();
        assert_eq!(head, CONTINUE);
        assert!(body.is_empty());
    }

    #[test]
    fn date_line_is_copied() {
        let mut date = DateCache::new();
        date.update(1_700_000_000);
        let ctx = Context {
            date: Some(&date),
            ..ctx(V10, false, false)
        };
        let (head, _) = encode_fixed(256, 200, &[("Server", b"peregrine")], b"", &ctx).unwrap();
        assert_eq!(
            text(&head),
            "HTTP/1.1 200 OK\r\nServer: peregrine\r\nDate: Tue, 14 Nov 2023 22:13:20 GMT\r\n\
             Connection: close\r\nContent-Length: 0\r\n\r\n"
        );
    }

    #[test]
    fn upgrade_adds_the_connection_option() {
        let ws = [
            ("Upgrade", &b"websocket"[..]),
            ("Sec-WebSocket-Accept", b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        ];
        let (head, framing) =
            encode_streaming(256, 101, &ws, None, &ctx(V11, false, true)).unwrap();
        assert_eq!(
            text(&head),
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nConnection: upgrade\r\n\r\n"
        );
        assert_eq!(framing, ResponseFraming::Empty);

        let (head, _) = encode_fixed(
            256,
            426,
            &[("upgrade", b"h2c")],
            b"",
            &ctx(V11, false, false),
        )
        .unwrap();
        assert_eq!(
            text(&head),
            "HTTP/1.1 426 Upgrade Required\r\nupgrade: h2c\r\nConnection: close, upgrade\r\n\
             Content-Length: 0\r\n\r\n"
        );
        let (head, _) = encode_fixed(
            256,
            426,
            &[("UPGRADE", b"h2c")],
            b"",
            &ctx(V10, false, true),
        )
        .unwrap();
        assert!(text(&head).contains("\r\nConnection: keep-alive, upgrade\r\n"));
        let (head, _) = encode_fixed(
            256,
            426,
            &[("Upgrade", b"h2c")],
            b"",
            &ctx(V11, false, true),
        )
        .unwrap();
        assert!(text(&head).contains("\r\nConnection: upgrade\r\n"));
    }

    /// Every case and spelling of the names the encoder owns.
    fn reserved_spellings() -> Vec<String> {
        let mut names = Vec::new();
        for name in ["content-length", "transfer-encoding", "connection", "date"] {
            names.push(name.to_string());
            names.push(name.to_ascii_uppercase());
            let title: String = name
                .split('-')
                .map(|part| {
                    let mut part = part.to_string();
                    part[..1].make_ascii_uppercase();
                    part
                })
                .collect::<Vec<_>>()
                .join("-");
            names.push(title);
            // aLtErNaTiNg case
            names.push(
                name.chars()
                    .enumerate()
                    .map(|(i, c)| {
                        if i % 2 == 1 {
                            c.to_ascii_uppercase()
                        } else {
                            c
                        }
                    })
                    .collect(),
            );
        }
        names
    }

    /// Runs `attempt` on a fresh encoder and checks that the head it then
    /// finishes is exactly the head without the refused header.
    fn assert_refused(name: &str, value: &[u8], error: EncodeError) {
        let mut buf = [0u8; 256];
        let mut encoder = ResponseEncoder::new(&mut buf, StatusCode::OK).unwrap();
        encoder.header("X-Before", b"1").unwrap();
        assert_eq!(
            encoder.header(name, value).err(),
            Some(error),
            "{name:?}: {value:?}"
        );
        encoder.header("X-After", b"2").unwrap();
        let (head, _) = encoder.finish(b"", &ctx(V11, false, true)).unwrap();
        assert_eq!(
            head, b"HTTP/1.1 200 OK\r\nX-Before: 1\r\nX-After: 2\r\nContent-Length: 0\r\n\r\n",
            "{name:?}: {value:?}"
        );
    }

    #[test]
    fn reserved_headers_in_any_case() {
        for name in reserved_spellings() {
            assert_refused(&name, b"0", EncodeError::ReservedHeader);
            assert_refused(&name, b"close", EncodeError::ReservedHeader);
        }
        // Near misses are ordinary fields.
        let near = [
            "Content-Lengths",
            "Content-Type",
            "Dates",
            "Connection-Id",
            "X-Date",
            "Transfer-Encodin",
            "Keep-Alive",
        ];
        for name in near {
            let (head, _) =
                encode_fixed(256, 200, &[(name, b"v")], b"", &ctx(V11, false, true)).unwrap();
            assert!(
                text(&head).contains(&format!("\r\n{name}: v\r\n")),
                "{name}"
            );
        }
    }

    #[test]
    fn invalid_header_names() {
        let names = [
            "",
            " ",
            "X Name",
            "X-Name ",
            " X-Name",
            "X:Name",
            "X-Name:",
            "X\rName",
            "X\nName",
            "X\r\nInjected: yes",
            "X\0",
            "\0",
            "X\tName",
            "X(Name)",
            "X,Name",
            "X/Name",
            "X;Name",
            "X=Name",
            "X\"Name",
            "X@Name",
            "X[Name]",
            "X{Name}",
            "X\\Name",
            "X?Name",
            "X<Name>",
            "X\u{7f}",
            "Ünicode",
            "X-é",
        ];
        for name in names {
            assert_refused(name, b"v", EncodeError::InvalidHeaderName);
        }
        // A name with a bad byte is refused before a reserved-name check or a
        // bad value is considered.
        assert_refused("Date\r", b"\r\n", EncodeError::InvalidHeaderName);
        // Every tchar is accepted.
        let all_tchars =
            "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let (head, _) =
            encode_fixed(256, 200, &[(all_tchars, b"v")], b"", &ctx(V11, false, true)).unwrap();
        assert!(text(&head).contains(&format!("\r\n{all_tchars}: v\r\n")));
        for b in 0..=255u8 {
            let name = [b'X', b];
            let expected = crate::scan::is_tchar(b);
            let listed = all_tchars.as_bytes().contains(&b);
            assert_eq!(expected, listed, "{b:#04x}");
            if let Ok(name) = core::str::from_utf8(&name) {
                if !expected {
                    assert_refused(name, b"v", EncodeError::InvalidHeaderName);
                }
            }
        }
    }

    #[test]
    fn decimal_lengths() {
        let mut out = [0; U64_DIGITS];
        for n in [
            0,
            1,
            9,
            10,
            13,
            99,
            100,
            6150,
            999_999,
            u64::MAX / 10,
            u64::MAX,
        ] {
            let len = write_decimal(n, &mut out);
            assert_eq!(&out[..len], n.to_string().as_bytes());
        }
    }

    proptest! {
        #[test]
        fn decimal_matches_display(n: u64) {
            let mut out = [0; U64_DIGITS];
            let len = write_decimal(n, &mut out);
            let expected = n.to_string();
            prop_assert_eq!(&out[..len], expected.as_bytes());
        }
    }

    #[test]
    fn the_tail_is_the_same_with_and_without_room_to_spare() {
        // A head that fits with at least the longest tail's room is written
        // without per-piece checks; one near the end of the buffer piece by
        // piece. Both give the same bytes, and a head that does not fit
        // fails the same way.
        let mut date = DateCache::new();
        date.update(784_111_777);
        let cases = [
            (Version::Http11, true, Some(&date), Some(13)),
            (Version::Http11, false, Some(&date), Some(u64::MAX)),
            (Version::Http10, true, None, Some(6150)),
            (Version::Http11, true, Some(&date), None),
            (Version::Http10, true, Some(&date), None),
        ];
        for (version, keep_alive, date, length) in cases {
            for upgrade in [false, true] {
                let ctx = Context {
                    request_version: version,
                    head_request: false,
                    keep_alive,
                    date,
                };
                let headers: &[(&str, &[u8])] = if upgrade {
                    &[("Upgrade", b"x")]
                } else {
                    &[("X-A", b"b")]
                };
                let (full, framing) = encode_streaming(1024, 200, headers, length, &ctx).unwrap();
                assert!(full.len() < 1024 - TAIL_MAX);
                for capacity in full.len() - 40..full.len() + TAIL_MAX + 2 {
                    match encode_streaming(capacity, 200, headers, length, &ctx) {
                        Ok((head, f)) => {
                            assert!(capacity >= full.len());
                            assert_eq!(text(&head), text(&full));
                            assert_eq!(f, framing);
                        }
                        Err(error) => {
                            assert!(capacity < full.len(), "{capacity}");
                            assert_eq!(error, EncodeError::BufferFull);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn long_names_and_values_are_checked_too() {
        // Past the length checked byte by byte, the run scanners decide.
        for len in [SHORT - 1, SHORT, SHORT + 1, 3 * SHORT] {
            for at in [0, len / 2, len - 1] {
                let mut name = vec![b'N'; len];
                name[at] = b'(';
                let name = String::from_utf8(name).unwrap();
                assert_refused(&name, b"v", EncodeError::InvalidHeaderName);
                let mut value = vec![b'v'; len];
                value[at] = b'\n';
                assert_refused("X-Value", &value, EncodeError::InvalidHeaderValue);
            }
            let name = "N".repeat(len);
            let value = vec![b'\t'; len];
            let (head, _) =
                encode_fixed(512, 200, &[(&name, &value)], b"", &ctx(V11, false, true)).unwrap();
            assert!(head.windows(len).any(|w| w == name.as_bytes()));
        }
    }

    #[test]
    fn invalid_header_values() {
        for b in (0x00..=0x1fu8).chain([0x7f]) {
            if b == b'\t' {
                continue;
            }
            for value in [vec![b], vec![b'a', b], vec![b, b'a'], vec![b'a', b, b'a']] {
                assert_refused("X-Value", &value, EncodeError::InvalidHeaderValue);
            }
        }
        assert_refused(
            "Location",
            b"/\r\nSet-Cookie: evil=1",
            EncodeError::InvalidHeaderValue,
        );
        assert_refused(
            "Location",
            b"/\nSet-Cookie: evil=1",
            EncodeError::InvalidHeaderValue,
        );
        assert_refused("Location", b"/\r", EncodeError::InvalidHeaderValue);
        assert_refused("X", b"a\0b", EncodeError::InvalidHeaderValue);

        // HTAB, SP, visible ASCII and obs-text are fine, and so is an empty value.
        let mut ok: Vec<u8> = (0x20..=0x7eu8).collect();
        ok.push(b'\t');
        ok.extend(0x80..=0xffu8);
        let ok = [&ok[..], b"", b"a\tb", b"caf\xc3\xa9"];
        for value in ok {
            let (head, _) =
                encode_fixed(1024, 200, &[("X", value)], b"", &ctx(V11, false, true)).unwrap();
            let mut line = b"\r\nX: ".to_vec();
            line.extend_from_slice(value);
            line.extend_from_slice(b"\r\n");
            assert!(head.windows(line.len()).any(|w| w == line), "{value:?}");
        }
    }

    #[test]
    fn refused_header_that_does_not_fit_is_not_appended() {
        let mut buf = [0u8; 64];
        let mut encoder = ResponseEncoder::new(&mut buf, StatusCode::OK).unwrap();
        let long = [b'a'; 64];
        assert_eq!(
            encoder.header("X-Long", &long).err(),
            Some(EncodeError::BufferFull)
        );
        // The remaining room still takes a field and the tail.
        encoder.header("X", b"1").unwrap();
        let (head, _) = encoder.finish(b"", &ctx(V11, false, true)).unwrap();
        assert_eq!(
            head,
            b"HTTP/1.1 200 OK\r\nX: 1\r\nContent-Length: 0\r\n\r\n"
        );
    }

    #[test]
    fn buffer_exactly_big_enough_or_one_short() {
        let mut date = DateCache::new();
        date.update(1_234_567_890);
        let headers: &[(&str, &[u8])] = &[("Content-Type", b"text/html"), ("X-A", b"")];
        let contexts = [
            ctx(V11, false, true),
            ctx(V11, true, false),
            ctx(V10, false, true),
            Context {
                date: Some(&date),
                ..ctx(V10, false, false)
            },
        ];
        for ctx in &contexts {
            for code in [200, 204, 304, 100, 101, 404, 599] {
                for hdrs in [&[][..], headers] {
                    // Fixed body.
                    let (full, body) = encode_fixed(4096, code, hdrs, b"body", ctx).unwrap();
                    let exact = encode_fixed(full.len(), code, hdrs, b"body", ctx).unwrap();
                    assert_eq!(exact, (full.clone(), body));
                    for capacity in 0..full.len() {
                        assert_eq!(
                            encode_fixed(capacity, code, hdrs, b"body", ctx),
                            Err(EncodeError::BufferFull),
                            "{code} {capacity} {ctx:?}"
                        );
                    }
                    // Streaming, known and unknown length.
                    for length in [Some(12345), None] {
                        let full = encode_streaming(4096, code, hdrs, length, ctx).unwrap();
                        let exact = encode_streaming(full.0.len(), code, hdrs, length, ctx);
                        assert_eq!(exact, Ok(full.clone()));
                        assert_eq!(
                            encode_streaming(full.0.len() - 1, code, hdrs, length, ctx),
                            Err(EncodeError::BufferFull)
                        );
                    }
                }
            }
            // Error responses.
            let mut big = [0u8; 512];
            let full = encode_error(&mut big, Error::HeadTooLarge, ctx)
                .unwrap()
                .to_vec();
            let mut exact = vec![0u8; full.len()];
            assert_eq!(
                encode_error(&mut exact, Error::HeadTooLarge, ctx),
                Ok(&full[..])
            );
            for capacity in 0..full.len() {
                let mut short = vec![0u8; capacity];
                assert_eq!(
                    encode_error(&mut short, Error::HeadTooLarge, ctx),
                    Err(EncodeError::BufferFull)
                );
            }
        }
    }

    #[test]
    fn chunk_headers() {
        let mut out = [0u8; CHUNK_HEADER_MAX];
        for len in [0, 1, 9, 10, 15, 16, 255, 256, 0x1a2b, 4096, 65535, 1 << 20]
            .into_iter()
            .chain([usize::MAX, usize::MAX >> 4, (u32::MAX as usize) + 1])
        {
            assert_eq!(
                encode_chunk_header(len, &mut out),
                format!("{len:x}\r\n").as_bytes()
            );
        }
        assert_eq!(
            encode_chunk_header(usize::MAX, &mut out).len(),
            if usize::BITS == 64 { 18 } else { 10 }
        );
    }

    #[test]
    fn error_responses() {
        let errors = [
            Error::InvalidMethod,
            Error::MissingHost,
            Error::BodyTooLarge,
            Error::TargetTooLong,
            Error::TooManyHeaders,
            Error::HeadTooLarge,
            Error::UnsupportedTransferCoding,
            Error::UnsupportedVersion,
        ];
        let mut date = DateCache::new();
        date.update(0);
        for error in errors {
            for head_request in [false, true] {
                for keep_alive in [false, true] {
                    let ctx = Context {
                        date: Some(&date),
                        ..ctx(V11, head_request, keep_alive)
                    };
                    let mut buf = [0u8; 512];
                    let wire = encode_error(&mut buf, error, &ctx).unwrap();
                    let mut headers = [httparse::EMPTY_HEADER; 8];
                    let mut response = httparse::Response::new(&mut headers);
                    let httparse::Status::Complete(head_len) = response.parse(wire).unwrap() else {
                        panic!("incomplete: {}", text(wire));
                    };
                    assert_eq!(response.code, Some(error.status()));
                    let reason = StatusCode::new(error.status()).unwrap().canonical_reason();
                    assert_eq!(response.reason, reason);
                    let fields: Vec<(&str, &[u8])> =
                        response.headers.iter().map(|h| (h.name, h.value)).collect();
                    let length = format!("{}", error.reason().len() + 1);
                    assert_eq!(
                        fields,
                        [
                            ("Content-Type", &b"text/plain; charset=utf-8"[..]),
                            ("Date", b"Thu, 01 Jan 1970 00:00:00 GMT"),
                            ("Connection", b"close"),
                            ("Content-Length", length.as_bytes()),
                        ]
                    );
                    let body = &wire[head_len..];
                    if head_request {
                        assert!(body.is_empty());
                    } else {
                        assert_eq!(body, format!("{}\n", error.reason()).as_bytes());
                    }
                }
            }
        }
    }

    #[test]
    fn display_and_debug() {
        assert_eq!(
            EncodeError::BufferFull.to_string(),
            "response head does not fit the buffer"
        );
        let mut buf = [0u8; 32];
        let encoder = ResponseEncoder::new(&mut buf, StatusCode::OK).unwrap();
        assert_eq!(
            format!("{encoder:?}"),
            "ResponseEncoder { status: StatusCode(200), len: 17, capacity: 32 }"
        );
    }

    /// One response as a test asks for it.
    #[derive(Clone, Debug)]
    struct Spec {
        code: u16,
        headers: Vec<(String, Vec<u8>)>,
        body: Vec<u8>,
        streaming: Option<Option<u64>>,
        version: Version,
        head_request: bool,
        keep_alive: bool,
        date: Option<u64>,
    }

    type Fields = Vec<(String, Vec<u8>)>;

    /// What the head must say for `spec`, field by field, and the body bytes
    /// that must follow it (`None` when they are streamed later).
    fn model(spec: &Spec) -> (Fields, Option<Vec<u8>>) {
        let status = status(spec.code);
        let mut fields = spec.headers.clone();
        if let Some(secs) = spec.date {
            let value = httpdate::fmt_http_date(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs),
            );
            fields.push(("Date".into(), value.into_bytes()));
        }
        let is_final = !status.is_informational();
        let until_close = status.allows_body()
            && spec.streaming == Some(None)
            && spec.version == V10
            && !spec.head_request;
        let mut options = Vec::new();
        if is_final && (!spec.keep_alive || until_close) {
            options.push("close");
        } else if is_final && spec.version == V10 {
            options.push("keep-alive");
        }
        if spec
            .headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("upgrade"))
        {
            options.push("upgrade");
        }
        if !options.is_empty() {
            fields.push(("Connection".into(), options.join(", ").into_bytes()));
        }
        if status.allows_body() {
            match spec.streaming {
                None => fields.push((
                    "Content-Length".into(),
                    spec.body.len().to_string().into_bytes(),
                )),
                Some(Some(n)) => fields.push(("Content-Length".into(), n.to_string().into_bytes())),
                Some(None) if spec.version == V11 => {
                    fields.push(("Transfer-Encoding".into(), b"chunked".to_vec()))
                }
                Some(None) => {}
            }
        }
        let body = match spec.streaming {
            Some(_) => None,
            None if status.allows_body() && !spec.head_request => Some(spec.body.clone()),
            None => Some(Vec::new()),
        };
        (fields, body)
    }

    /// Encodes `spec`, parses the head back with httparse, and checks it
    /// against the model.
    fn check_with_httparse(spec: &Spec) {
        let mut date = DateCache::new();
        if let Some(secs) = spec.date {
            date.update(secs);
        }
        let ctx = Context {
            request_version: spec.version,
            head_request: spec.head_request,
            keep_alive: spec.keep_alive,
            date: spec.date.map(|_| &date),
        };
        let mut buf = vec![0u8; 8192];
        let mut encoder = ResponseEncoder::new(&mut buf, status(spec.code)).unwrap();
        for (name, value) in &spec.headers {
            encoder.header(name, value).unwrap();
        }
        let (head, body, framing) = match spec.streaming {
            None => {
                let (head, body) = encoder.finish(&spec.body, &ctx).unwrap();
                (head, Some(body), None)
            }
            Some(length) => {
                let (head, framing) = encoder.finish_streaming(length, &ctx).unwrap();
                (head, None, Some(framing))
            }
        };

        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut parsed = httparse::Response::new(&mut headers);
        let status = parsed.parse(head).unwrap();
        assert_eq!(
            status,
            httparse::Status::Complete(head.len()),
            "{}",
            text(head)
        );
        assert_eq!(parsed.version, Some(1));
        assert_eq!(parsed.code, Some(spec.code));
        let reason = StatusCode::new(spec.code)
            .unwrap()
            .canonical_reason()
            .unwrap_or("");
        assert_eq!(parsed.reason, Some(reason));

        let (expected, expected_body) = model(spec);
        let got: Vec<(String, Vec<u8>)> = parsed
            .headers
            .iter()
            .map(|h| (h.name.to_string(), h.value.to_vec()))
            .collect();
        assert_eq!(got, expected, "{}", text(head));
        assert_eq!(body.map(<[u8]>::to_vec), expected_body);

        if let Some(framing) = framing {
            let status = StatusCode::new(spec.code).unwrap();
            let expected = match spec.streaming.unwrap() {
                _ if !status.allows_body() || spec.head_request => ResponseFraming::Empty,
                Some(n) => ResponseFraming::Length(n),
                None if spec.version == V11 => ResponseFraming::Chunked,
                None => ResponseFraming::UntilClose,
            };
            assert_eq!(framing, expected);
        }
    }

    #[test]
    fn oracle_over_every_rule() {
        let codes = [
            100, 101, 103, 200, 201, 204, 205, 206, 301, 304, 404, 413, 426, 500, 599, 700,
        ];
        let header_sets: [&[(&str, &[u8])]; 3] = [
            &[],
            &[
                ("Content-Type", b"text/html; charset=utf-8"),
                ("Set-Cookie", b"a=b; Path=/"),
                ("Set-Cookie", b"c=d"),
            ],
            &[
                ("Upgrade", b"websocket"),
                ("X-Empty", b""),
                ("X-Obs", b"caf\xc3\xa9\tbar"),
            ],
        ];
        let bodies: [&[u8]; 3] = [b"", b"x", &[b'z'; 1000]];
        let streamings = [None, Some(Some(0)), Some(Some(987_654_321)), Some(None)];
        let mut count = 0;
        for code in codes {
            for headers in header_sets {
                for body in bodies {
                    for streaming in streamings {
                        for version in [V10, V11] {
                            for head_request in [false, true] {
                                for keep_alive in [false, true] {
                                    for date in [None, Some(1_700_000_000)] {
                                        check_with_httparse(&Spec {
                                            code,
                                            headers: headers
                                                .iter()
                                                .map(|(n, v)| (n.to_string(), v.to_vec()))
                                                .collect(),
                                            body: body.to_vec(),
                                            streaming,
                                            version,
                                            head_request,
                                            keep_alive,
                                            date,
                                        });
                                        count += 1;
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(count, 16 * 3 * 3 * 4 * 16);
    }

    fn token() -> impl Strategy<Value = String> {
        proptest::string::string_regex("[!#$%&'*+.^_`|~0-9A-Za-z-]{1,20}").unwrap()
    }

    /// Field values as httparse returns them: no leading or trailing
    /// whitespace.
    fn field_value() -> impl Strategy<Value = Vec<u8>> {
        let byte = prop_oneof![Just(b'\t'), 0x20..=0x7eu8, 0x80..=0xffu8];
        proptest::collection::vec(byte, 0..40).prop_map(|mut value| {
            while value.first().is_some_and(|b| matches!(b, b' ' | b'\t')) {
                value.remove(0);
            }
            while value.last().is_some_and(|b| matches!(b, b' ' | b'\t')) {
                value.pop();
            }
            value
        })
    }

    fn reserved(name: &str) -> bool {
        ["content-length", "transfer-encoding", "connection", "date"]
            .iter()
            .any(|r| name.eq_ignore_ascii_case(r))
    }

    proptest! {
        #[test]
        fn oracle_on_random_responses(
            code in 100..=999u16,
            headers in proptest::collection::vec(
                (token().prop_filter("reserved", |n| !reserved(n)), field_value()),
                0..12,
            ),
            body in proptest::collection::vec(any::<u8>(), 0..64),
            streaming in prop_oneof![Just(None), any::<Option<u64>>().prop_map(Some)],
            http11 in any::<bool>(),
            head_request in any::<bool>(),
            keep_alive in any::<bool>(),
            date in proptest::option::of(0..=crate::date::MAX_UNIX_SECS),
        ) {
            check_with_httparse(&Spec {
                code,
                headers,
                body,
                streaming,
                version: if http11 { V11 } else { V10 },
                head_request,
                keep_alive,
                date,
            });
        }

        /// Arbitrary bytes never split a response: a header is either
        /// refused or parses back as exactly one field.
        #[test]
        fn arbitrary_fields_cannot_split(
            name in proptest::collection::vec(any::<u8>(), 0..12),
            value in proptest::collection::vec(
                prop_oneof![any::<u8>(), Just(b'\r'), Just(b'\n'), Just(b':')],
                0..24,
            ),
        ) {
            let name = String::from_utf8_lossy(&name).into_owned();
            let mut buf = [0u8; 512];
            let mut encoder = ResponseEncoder::new(&mut buf, StatusCode::OK).unwrap();
            let accepted = encoder.header(&name, &value).is_ok();
            let (head, _) = encoder.finish(b"", &ctx(V11, false, true)).unwrap();
            let mut headers = [httparse::EMPTY_HEADER; 4];
            let mut parsed = httparse::Response::new(&mut headers);
            prop_assert_eq!(parsed.parse(head), Ok(httparse::Status::Complete(head.len())));
            if accepted {
                prop_assert_eq!(parsed.headers.len(), 2);
                prop_assert_eq!(parsed.headers[0].name, name.as_str());
                prop_assert!(!reserved(&name));
            } else {
                prop_assert_eq!(parsed.headers.len(), 1);
                prop_assert_eq!(parsed.headers[0].name, "Content-Length");
            }
        }
    }
}
