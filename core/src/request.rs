//! The incremental request-head parser and the parsed [`Request`] view.
//!
//! # How it parses
//!
//! [`RequestParser`] is a resumable state machine over the request line and
//! the header section. Each call of [`RequestParser::parse`] continues where
//! the previous one stopped: the caller passes the same buffer again, with
//! more bytes appended, and the parser looks only at the new bytes. Total
//! work is linear in the length of the head however it is split, and a head
//! delivered one byte per call gives exactly the result of the head at once,
//! errors included. Errors are found as soon as the offending byte arrives.
//!
//! Runs of valid bytes (request-target, header values) are skipped by the
//! vectorised scanners of the `scan` module, which also find the CR that ends
//! a value: one pass both validates the line and finds its end. Byte-level
//! decisions (which byte ended a run, and whether that is an error) are made
//! by the scalar state machine alone.
//!
//! A head that arrives whole and has the usual shape (origin-form target,
//! `HTTP/1.1` or `HTTP/1.0`, plain header lines) is first tried in one
//! straight pass with the same byte classes and scanners, without the state
//! machine's bookkeeping. It either produces exactly the result the state
//! machine would, or gives up without a trace, and the state machine parses
//! the head from its first byte; every error comes from the state machine.
//!
//! # What it accepts (RFC 9112)
//!
//! - `method SP request-target SP HTTP-version CRLF`, exactly one SP between
//!   the parts; the method any token; versions `HTTP/1.0` and `HTTP/1.1`
//!   (other `HTTP/d.d` → 505, anything else → 400). Empty lines (CRLF) before
//!   the request line are skipped (§2.2).
//! - The four target forms (§3.2): origin (`/path?query`), absolute
//!   (`http://host/path`), authority (`host:port`, CONNECT only) and asterisk
//!   (`*`, OPTIONS only). Target bytes must be in `0x21..=0x7E`.
//! - Header fields as described in the `field` module; every line ends in
//!   CRLF. **A bare LF is rejected (400)**, although §2.2 allows a recipient to
//!   accept it: a server that accepts what a proxy in front of it does not
//!   can be led to see a different request than the proxy (request
//!   smuggling).
//! - HTTP/1.1 requires exactly one `Host` header; HTTP/1.0 allows none.
//!   In any version, a `Host` value must be `uri-host [ ":" port ]`
//!   (RFC 3986 §3.2.2, §3.2.3; an empty value is valid), or the request
//!   is refused with 400 (§3.2).
//!
//! # Limits
//!
//! - Header fields: the capacity of the parser's [`HeaderTable`]
//!   (`MAX_HEADERS` of a [`RequestParser`]) → 431 beyond it.
//! - Head size: [`RequestParser::with_max_head_len`] (default
//!   [`DEFAULT_MAX_HEAD_LEN`]), normally the size of the read buffer → 431.
//! - Request-target: [`RequestParser::with_max_target_len`] (default
//!   [`DEFAULT_MAX_TARGET_LEN`]) → 414, reported as soon as the target
//!   exceeds it, before the line is complete.

use core::net::SocketAddr;

use crate::authority::is_valid_host;
use crate::field::{FieldRange, FieldScanner, Step};
use crate::framing::{self, BodyFraming};
use crate::headers::{FieldSpan, Headers};
use crate::sizes::{FieldTable, HeaderTable};
use crate::{Error, Method, Version, scan};

/// Default limit on the request-target, in bytes (as nginx's default
/// `large_client_header_buffers`).
pub const DEFAULT_MAX_TARGET_LEN: usize = 8 * 1024;

/// Default limit on the whole request head, in bytes.
pub const DEFAULT_MAX_HEAD_LEN: usize = 16 * 1024;

/// Default capacity of the header table.
pub const DEFAULT_MAX_HEADERS: usize = 100;

/// The form of a request-target (RFC 9112 §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TargetForm {
    /// `/path?query`: the usual form.
    Origin,
    /// `scheme://authority/path?query`: sent to proxies, and accepted by
    /// servers (RFC 9112 §3.2.2).
    Absolute,
    /// `host:port`: only with `CONNECT`.
    Authority,
    /// `*`: only with `OPTIONS`.
    Asterisk,
}

/// Where the parser stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Before the request line; empty lines may come first.
    Start,
    /// After the CR of an empty line before the request line.
    StartLineFeed,
    /// Inside the method.
    Method,
    /// Inside the request-target.
    Target,
    /// Inside the version.
    Version,
    /// After the CR that ends the request line.
    RequestLineFeed,
    /// Inside the header section.
    Fields,
    /// The head is complete.
    Complete,
    /// The head is malformed; the error is sticky.
    Failed(Error),
}

/// The result of [`RequestParser::parse`].
#[derive(Clone, Copy, Debug)]
pub enum Parsed<'a> {
    /// The head is complete; [`Request::head_len`] bytes of the buffer hold it.
    Complete(Request<'a>),
    /// More bytes are needed.
    Partial,
}

/// A [`HeadParser`] with a header table of `MAX_HEADERS` fields: the
/// parser as most callers name it.
///
/// ```
/// use peregrine_core::{Parsed, RequestParser};
///
/// let mut parser = RequestParser::<8>::new();
/// let Ok(Parsed::Complete(request)) = parser.parse(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n") else {
///     panic!()
/// };
/// assert_eq!(request.header("host"), Some(&b"a"[..]));
/// ```
pub type RequestParser<const MAX_HEADERS: usize = DEFAULT_MAX_HEADERS> =
    HeadParser<HeaderTable<MAX_HEADERS>>;

/// An incremental, zero-copy request-head parser with a fixed-capacity header
/// table `T`, a [`HeaderTable`]: [`RequestParser<MAX_HEADERS>`](RequestParser)
/// names one by its capacity, a connection by its [`Sizes`](crate::Sizes).
///
/// It stores offsets into the caller's buffer, never bytes, and never
/// allocates. Call [`parse`](Self::parse) with the bytes received so far,
/// again with more appended until it is complete, then [`reset`](Self::reset)
/// it for the next request.
///
/// ```
/// use peregrine_core::{Error, Parsed, RequestParser};
///
/// let mut parser = RequestParser::<4>::new().with_max_target_len(16);
/// let wire = b"GET /a-target-longer-than-sixteen-bytes";
/// // The limit is enforced before the line is even complete: 414.
/// assert_eq!(parser.parse(wire).unwrap_err(), Error::TargetTooLong);
/// assert_eq!(Error::TargetTooLong.status(), 414);
/// ```
#[derive(Clone, Debug)]
pub struct HeadParser<T = HeaderTable<DEFAULT_MAX_HEADERS>> {
    /// Where parsing stopped.
    state: State,
    /// The next byte to look at.
    pos: u32,
    /// Start of the request line part being scanned.
    mark: u32,
    /// The method, classified.
    method: Method,
    /// The method's bytes.
    method_span: (u32, u32),
    /// The request-target's bytes.
    target_span: (u32, u32),
    /// The form of the target.
    form: TargetForm,
    /// The version.
    version: Version,
    /// The header section's scanner.
    fields: FieldScanner,
    /// The header table.
    headers: T,
    /// Which of the fields the connection consults were seen.
    seen: Seen,
    /// Limit on the request-target.
    max_target_len: u32,
    /// Limit on the head.
    max_head_len: u32,
}

impl<T: FieldTable> Default for HeadParser<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: FieldTable> HeadParser<T> {
    /// A parser with the default limits.
    pub const fn new() -> Self {
        HeadParser {
            state: State::Start,
            pos: 0,
            mark: 0,
            method: Method::Get,
            method_span: (0, 0),
            target_span: (0, 0),
            form: TargetForm::Origin,
            version: Version::Http11,
            fields: FieldScanner::new(),
            headers: T::EMPTY,
            seen: Seen::NONE,
            max_target_len: DEFAULT_MAX_TARGET_LEN as u32,
            max_head_len: DEFAULT_MAX_HEAD_LEN as u32,
        }
    }

    /// Sets the limit on the request-target (414 beyond it).
    pub const fn with_max_target_len(mut self, len: usize) -> Self {
        self.max_target_len = clamp_u32(len);
        self
    }

    /// Sets the limit on the whole head (431 beyond it); at most `u32::MAX`.
    ///
    /// A server sets it to the size of the buffer it reads heads into: a
    /// head that does not fit can never complete.
    pub const fn with_max_head_len(mut self, len: usize) -> Self {
        self.max_head_len = clamp_u32(len);
        self
    }

    /// The limit on the whole head.
    pub const fn max_head_len(&self) -> usize {
        self.max_head_len as usize
    }

    /// Forgets the current request, keeping the limits.
    #[inline]
    pub fn reset(&mut self) {
        self.state = State::Start;
        self.pos = 0;
        self.fields = FieldScanner::new();
        self.headers.clear();
        self.seen = Seen::NONE;
    }

    /// Parses the head at the start of `buf`, continuing from the previous
    /// call.
    ///
    /// Every call must pass the bytes of the previous call, unchanged, at the
    /// start of `buf`, possibly followed by more. After an error, every call
    /// returns that error until [`reset`](Self::reset).
    ///
    /// When the head does not complete within the head limit, the error is
    /// [`Error::HeadTooLarge`] (431), or [`Error::TargetTooLong`] (414) if the
    /// request-target is what did not fit.
    #[inline]
    pub fn parse<'a>(&'a mut self, buf: &'a [u8]) -> Result<Parsed<'a>, Error> {
        if self.advance(buf)? {
            Ok(Parsed::Complete(self.view(buf)))
        } else {
            Ok(Parsed::Partial)
        }
    }

    /// The parsed request, once [`parse`](Self::parse) has returned
    /// [`Parsed::Complete`] for this `buf`.
    pub fn request<'a>(&'a self, buf: &'a [u8]) -> Option<Request<'a>> {
        (self.state == State::Complete && self.pos as usize <= buf.len()).then(|| self.view(buf))
    }

    /// Whether the head is complete.
    pub fn is_complete(&self) -> bool {
        self.state == State::Complete
    }

    /// Whether no byte of a request has been seen yet (empty lines before
    /// a request line do not count).
    pub fn is_idle(&self) -> bool {
        self.state == State::Start
    }

    /// Runs the state machine; `Ok(true)` when the head is complete.
    #[inline]
    fn advance(&mut self, buf: &[u8]) -> Result<bool, Error> {
        match self.state {
            State::Complete => return Ok(true),
            State::Failed(error) => return Err(error),
            _ => {}
        }
        let limit = self.max_head_len as usize;
        let input = if buf.len() > limit {
            &buf[..limit]
        } else {
            buf
        };
        if self.state == State::Start && self.pos == 0 {
            if let Some(head_len) = self.parse_fast(input) {
                self.pos = head_len as u32;
                self.state = State::Complete;
                return Ok(true);
            }
        }
        self.advance_slow(input, buf.len() >= limit)
    }

    /// The state machine's part of [`advance`](Self::advance), on `input`
    /// (the buffer cut to the head limit); `at_limit` says whether the
    /// buffer reached the limit.
    #[inline]
    fn advance_slow(&mut self, input: &[u8], at_limit: bool) -> Result<bool, Error> {
        let mut pos = self.pos as usize;
        let result = self.run(input, &mut pos);
        self.pos = pos as u32;
        let result = match result {
            Ok(false) if at_limit => Err(if self.state == State::Target {
                Error::TargetTooLong
            } else {
                Error::HeadTooLarge
            }),
            other => other,
        };
        match result {
            Ok(true) => self.state = State::Complete,
            Err(error) => self.state = State::Failed(error),
            Ok(false) => {}
        }
        result
    }

    /// The fast path: a whole head of the common shape in one pass, from
    /// the start of `input`, without the state machine's bookkeeping.
    ///
    /// It takes an origin-form request line (`/` first, any method but
    /// `CONNECT`) with version `HTTP/1.1` or `HTTP/1.0`, then header lines
    /// without surprises, up to the empty line. Every byte is checked by
    /// the same classes and scanners as in the state machine, and whatever
    /// it takes gives exactly what the state machine would give.
    ///
    /// Anything else — a partial head, leading empty lines, another target
    /// form, any error — gives `None`, with the parser left as it was, and
    /// the state machine parses the head from its first byte: errors are
    /// decided by the state machine alone. `Some` is the head's length,
    /// with the request line, the table and `seen` filled in.
    #[inline]
    fn parse_fast(&mut self, input: &[u8]) -> Option<usize> {
        let head_len = self.parse_fast_fields(input);
        if head_len.is_none() {
            // The state machine starts from an empty table.
            self.headers.clear();
        }
        head_len
    }

    /// The body of [`parse_fast`](Self::parse_fast); may leave fields in
    /// the table when it gives up.
    #[inline(always)]
    fn parse_fast_fields(&mut self, input: &[u8]) -> Option<usize> {
        // One compare of a word for the usual method.
        let first_word = u32::from_le_bytes(*input.first_chunk::<4>()?);
        let (method, method_end) = match first_word == u32::from_le_bytes(*b"GET ") {
            true => (Method::Get, 3),
            false => {
                let end = scan::token_end(input, 0);
                if end == 0 || input.get(end) != Some(&b' ') {
                    return None;
                }
                (Method::from_bytes(&input[..end]), end)
            }
        };
        let target_start = method_end + 1;
        if method == Method::Connect || input.get(target_start) != Some(&b'/') {
            return None;
        }
        let target_end = scan::target_end(input, target_start);
        if target_end - target_start > self.max_target_len as usize {
            return None;
        }
        let version = fast_version_and_line_end(input.get(target_end..)?)?;
        let mut at = target_end + VERSION_AND_LINE_END;
        let mut seen = Seen::NONE;
        while *input.get(at)? != b'\r' {
            // A Host value is checked as an authority in the line's scan.
            let (range, next, host) = fast_field_line(input, at)?;
            let span = FieldSpan::new(range);
            // A `Host` line is known by its scan; the others are looked up.
            let field = if host {
                Seen::HOST
            } else {
                Seen::classify(&span, input)
            };
            if field == Seen::HOST && seen.has(Seen::HOST) {
                return None;
            }
            seen.0 |= field.0;
            self.headers.push(span).ok()?;
            at = next;
        }
        if input.get(at + 1) != Some(&b'\n') {
            return None;
        }
        if !seen.has(Seen::HOST) && version == Version::Http11 {
            return None;
        }
        self.method = method;
        self.method_span = (0, method_end as u32);
        self.target_span = (target_start as u32, target_end as u32);
        self.form = TargetForm::Origin;
        self.version = version;
        self.seen = seen;
        Some(at + 2)
    }

    /// The state machine proper, over `input` from `*pos`.
    ///
    /// As in the field scanner, the phases of the request line run in
    /// order, each guarded by its state: a call resumes at the phase it
    /// stopped in and runs straight on.
    #[inline(always)]
    fn run(&mut self, input: &[u8], pos: &mut usize) -> Result<bool, Error> {
        while let State::Start | State::StartLineFeed = self.state {
            let Some(&byte) = input.get(*pos) else {
                return Ok(false);
            };
            match (self.state, byte) {
                (State::Start, b'\r') => {
                    *pos += 1;
                    self.state = State::StartLineFeed;
                }
                (State::Start, b'\n') => return Err(Error::BareLineFeed),
                (State::Start, _) => {
                    self.mark = *pos as u32;
                    self.state = State::Method;
                }
                (_, b'\n') => {
                    *pos += 1;
                    self.state = State::Start;
                }
                (_, _) => return Err(Error::BareCarriageReturn),
            }
        }
        if self.state == State::Method {
            *pos = scan::token_end(input, *pos);
            let Some(&stop) = input.get(*pos) else {
                return Ok(false);
            };
            let start = self.mark as usize;
            if stop != b' ' || *pos == start {
                return Err(match stop {
                    b'\r' | b'\n' if *pos > start => Error::InvalidRequestLine,
                    _ => Error::InvalidMethod,
                });
            }
            self.method = Method::from_bytes(&input[start..*pos]);
            self.method_span = (self.mark, *pos as u32);
            *pos += 1;
            self.mark = *pos as u32;
            self.state = State::Target;
        }
        if self.state == State::Target {
            let start = self.mark as usize;
            *pos = scan::target_end(input, *pos);
            if *pos - start > self.max_target_len as usize {
                return Err(Error::TargetTooLong);
            }
            let Some(&stop) = input.get(*pos) else {
                return Ok(false);
            };
            match stop {
                b' ' if *pos > start => {}
                b' ' | b'\r' | b'\n' => return Err(Error::InvalidRequestLine),
                _ => return Err(Error::InvalidTarget),
            }
            // The usual origin form decided here; the rest out of line.
            self.form = if input[start] == b'/' && self.method != Method::Connect {
                TargetForm::Origin
            } else {
                classify_target(self.method, &input[start..*pos])?
            };
            self.target_span = (self.mark, *pos as u32);
            *pos += 1;
            self.mark = *pos as u32;
            self.state = State::Version;
        }
        if self.state == State::Version {
            // At most 9 bytes: looked at again on each call until
            // complete, a constant cost.
            let start = self.mark as usize;
            let Some((version, stop)) = parse_version(&input[start..])? else {
                *pos = input.len();
                return Ok(false);
            };
            match stop {
                b'\r' => {}
                b' ' => return Err(Error::InvalidRequestLine),
                b'\n' => return Err(Error::BareLineFeed),
                _ => return Err(Error::InvalidVersion),
            }
            self.version = version;
            *pos = start + 9;
            self.state = State::RequestLineFeed;
        }
        if self.state == State::RequestLineFeed {
            let Some(&byte) = input.get(*pos) else {
                return Ok(false);
            };
            if byte != b'\n' {
                return Err(Error::BareCarriageReturn);
            }
            *pos += 1;
            self.state = State::Fields;
        }
        self.run_fields(input, pos)
    }

    /// Scans header fields into the table until the empty line.
    #[inline(always)]
    fn run_fields(&mut self, input: &[u8], pos: &mut usize) -> Result<bool, Error> {
        // The scanner works on a local copy, kept in registers across fields.
        let mut fields = self.fields;
        let result = self.collect_fields(&mut fields, input, pos);
        self.fields = fields;
        result
    }

    /// Steps `fields` over the header section, filling the table.
    #[inline(always)]
    fn collect_fields(
        &mut self,
        fields: &mut FieldScanner,
        input: &[u8],
        pos: &mut usize,
    ) -> Result<bool, Error> {
        loop {
            match fields.step(input, pos)? {
                Step::Field(range) => {
                    let span = FieldSpan::new(range);
                    let field = Seen::classify(&span, input);
                    if field == Seen::HOST {
                        if self.seen.has(Seen::HOST) {
                            return Err(Error::DuplicateHost);
                        }
                        if !is_valid_host(&input[range.value_start..range.value_end]) {
                            return Err(Error::InvalidHost);
                        }
                    }
                    self.seen.0 |= field.0;
                    self.headers.push(span).map_err(|_| Error::TooManyHeaders)?;
                }
                Step::End => {
                    if !self.seen.has(Seen::HOST) && self.version == Version::Http11 {
                        return Err(Error::MissingHost);
                    }
                    return Ok(true);
                }
                Step::Partial => return Ok(false),
            }
        }
    }

    /// The view of a complete head.
    #[inline]
    fn view<'a>(&'a self, buf: &'a [u8]) -> Request<'a> {
        Request {
            buf,
            fields: &self.headers,
            method: self.method,
            method_span: self.method_span,
            target_span: self.target_span,
            form: self.form,
            version: self.version,
            head_len: self.pos,
            seen: self.seen,
            body: &[],
            peer: None,
        }
    }
}

/// Length of ` HTTP/1.1` and CRLF, what ends a request line.
const VERSION_AND_LINE_END: usize = 11;

/// The fast path's end of a request line, at the start of `rest`: SP,
/// `HTTP/1.1` or `HTTP/1.0`, CRLF; `None` for anything else.
#[inline(always)]
fn fast_version_and_line_end(rest: &[u8]) -> Option<Version> {
    // Two overlapping words: ` HTTP/1.` and `.d` CR LF.
    let line_end = rest.first_chunk::<VERSION_AND_LINE_END>()?;
    let (head, _) = line_end.split_first_chunk::<8>()?;
    let (_, tail) = line_end.split_last_chunk::<4>()?;
    if u64::from_le_bytes(*head) != u64::from_le_bytes(*b" HTTP/1.") {
        return None;
    }
    match u32::from_le_bytes(*tail) {
        tail if tail == u32::from_le_bytes(*b".1\r\n") => Some(Version::Http11),
        tail if tail == u32::from_le_bytes(*b".0\r\n") => Some(Version::Http10),
        _ => None,
    }
}

/// The fast path's field line starting at `at` (not the empty line): the
/// field, where the next line starts, and whether the field is `Host`.
/// `None` for anything the state machine must look at: an error (a `Host`
/// value that is not an authority included), or the input running out.
#[inline(always)]
fn fast_field_line(input: &[u8], at: usize) -> Option<(FieldRange, usize, bool)> {
    let name_end = scan::token_end(input, at);
    if name_end == at || input.get(name_end) != Some(&b':') {
        return None;
    }
    let value_start = skip_whitespace(input, name_end + 1);
    let host = name_end - at == 4 && is_lowercase_of(&input[at..name_end], b"host");
    let (cr, value_end) = if host {
        fast_host_value_end(input, value_start)?
    } else {
        let cr = scan::value_end(input, value_start);
        (cr, trim_whitespace_end(input, value_start, cr))
    };
    if input.get(cr..cr + 2) != Some(b"\r\n") {
        return None;
    }
    let range = FieldRange {
        name_start: at,
        name_end,
        value_start,
        value_end,
    };
    Some((range, cr + 2, host))
}

/// The fast path's scan of a `Host` value starting at `start`: where the
/// CR after it is and where the value ends (before any whitespace), if the
/// value is `uri-host [ ":" port ]`; `None` otherwise (or if no CR
/// follows), for the state machine to say why.
///
/// The usual value, a name or an IPv4 address and perhaps a port, then
/// CR, is scanned once, in place of the field-value scan every other field
/// gets; anything else (other bytes, whitespace before the CR) is scanned
/// as a field value and then checked in full.
#[inline(always)]
fn fast_host_value_end(input: &[u8], start: usize) -> Option<(usize, usize)> {
    // Most values are short: one block test finds the CR and checks them.
    // Up to the CR, they hold no whitespace to trim.
    if let Some(cr) = scan::usual_host_value_end(input, start) {
        return Some((cr, cr));
    }
    let mut stop = scan::host_end(input, start);
    if input.get(stop) == Some(&b':') {
        stop += 1;
        while input.get(stop).is_some_and(u8::is_ascii_digit) {
            stop += 1;
        }
    }
    if input.get(stop) == Some(&b'\r') {
        return Some((stop, stop));
    }
    rare_host_value_end(input, start, stop)
}

/// [`fast_host_value_end`] for a value its scan stopped in at `stop`,
/// before a CR: out of line, to keep the fast path small.
#[cold]
#[inline(never)]
fn rare_host_value_end(input: &[u8], start: usize, stop: usize) -> Option<(usize, usize)> {
    let cr = scan::value_end(input, stop);
    let end = trim_whitespace_end(input, start, cr);
    is_valid_host(&input[start..end]).then_some((cr, end))
}

/// The index of the first byte at or after `at` that is not SP or HTAB.
#[inline(always)]
fn skip_whitespace(input: &[u8], mut at: usize) -> usize {
    // Usually a single SP: one compare, then the loop's test fails.
    if input.get(at) == Some(&b' ') {
        at += 1;
    }
    while let Some(b' ' | b'\t') = input.get(at) {
        at += 1;
    }
    at
}

/// `end` moved back over the SP and HTAB bytes before it, down to `start`
/// at most.
#[inline(always)]
fn trim_whitespace_end(input: &[u8], start: usize, mut end: usize) -> usize {
    while end > start && matches!(input[end - 1], b' ' | b'\t') {
        end -= 1;
    }
    end
}

/// The path and query of an absolute-form target (`http://host/p?q` →
/// `/p?q`); empty when it has none.
fn absolute_path(target: &[u8]) -> &[u8] {
    let rest = &target[scheme_len(target).unwrap_or(0)..];
    match rest.strip_prefix(b"//") {
        Some(authority_and_path) => match memchr::memchr2(b'/', b'?', authority_and_path) {
            Some(i) => &authority_and_path[i..],
            None => &[],
        },
        None => rest,
    }
}

/// Index of the first `?` in a request-target. Most targets are short:
/// below 32 bytes a plain loop beats the set-up of `memchr`'s vector code.
#[inline]
fn find_question_mark(target: &[u8]) -> Option<usize> {
    if target.len() < 32 {
        target.iter().position(|&b| b == b'?')
    } else {
        memchr::memchr(b'?', target)
    }
}

/// Which of the fields that the connection itself consults a head has:
/// noted while parsing (a length switch per field, compared only when the
/// length matches), so that a request without them skips the lookups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Seen(u8);

impl Seen {
    /// None of them.
    const NONE: Seen = Seen(0);
    /// `Host`.
    const HOST: Seen = Seen(1);
    /// `Content-Length`.
    pub(crate) const CONTENT_LENGTH: Seen = Seen(2);
    /// `Transfer-Encoding`.
    pub(crate) const TRANSFER_ENCODING: Seen = Seen(4);
    /// `Connection`.
    pub(crate) const CONNECTION: Seen = Seen(8);
    /// `Expect`.
    pub(crate) const EXPECT: Seen = Seen(16);
    /// `Upgrade`.
    pub(crate) const UPGRADE: Seen = Seen(32);

    /// Which of them `span` names, if any. The name must be a token, as
    /// the scanners ensure.
    #[inline(always)]
    fn classify(span: &FieldSpan, buf: &[u8]) -> Seen {
        let name = span.name(buf);
        match name.len() {
            4 if is_lowercase_of(name, b"host") => Seen::HOST,
            6 if is_lowercase_of(name, b"expect") => Seen::EXPECT,
            7 if is_lowercase_of(name, b"upgrade") => Seen::UPGRADE,
            10 if is_lowercase_of(name, b"connection") => Seen::CONNECTION,
            14 if is_lowercase_of(name, b"content-length") => Seen::CONTENT_LENGTH,
            17 if is_lowercase_of(name, b"transfer-encoding") => Seen::TRANSFER_ENCODING,
            _ => Seen::NONE,
        }
    }

    /// Whether `field` was seen.
    #[inline]
    pub(crate) fn has(self, field: Seen) -> bool {
        self.0 & field.0 != 0
    }
}

/// Whether the token `name` equals `lower` (lowercase letters and `-`, at
/// least 4 bytes), ignoring ASCII case, as a compare of fixed size.
///
/// Setting bit 5 of every byte lowercases letters; the only other byte
/// that it turns into a letter or `-` is CR (into `-`), which no token
/// holds. So for a token this is exactly `eq_ignore_ascii_case`.
///
/// It compares words of 8 bytes (4 below 8 bytes), the last one
/// overlapping the one before when the length is not a multiple of the
/// word: a couple of operations per name.
#[inline(always)]
fn is_lowercase_of<const N: usize>(name: &[u8], lower: &[u8; N]) -> bool {
    const { assert!(N >= 4) };
    let Some(name) = name.first_chunk::<N>() else {
        return false;
    };
    if N >= 8 {
        let word = |bytes: &[u8; N], at: usize| {
            u64::from_le_bytes(*bytes[at..].first_chunk::<8>().unwrap_or(&[0; 8]))
        };
        let mut differ = 0;
        let mut at = 0;
        while at < N {
            let start = at.min(N - 8);
            differ |= (word(name, start) | u64::from_le_bytes([0x20; 8])) ^ word(lower, start);
            at += 8;
        }
        differ == 0
    } else {
        let word = |bytes: &[u8; N], at: usize| {
            u32::from_le_bytes(*bytes[at..].first_chunk::<4>().unwrap_or(&[0; 4]))
        };
        let case = u32::from_le_bytes([0x20; 4]);
        let last = N - 4;
        ((word(name, 0) | case) ^ word(lower, 0)) | ((word(name, last) | case) ^ word(lower, last))
            == 0
    }
}

/// `len` as `u32`, saturating.
const fn clamp_u32(len: usize) -> u32 {
    if len > u32::MAX as usize {
        u32::MAX
    } else {
        len as u32
    }
}

/// Parses `HTTP/d.d` and the byte after it from the start of `bytes`:
/// `Ok(None)` while the bytes so far could still become a version.
#[inline]
fn parse_version(bytes: &[u8]) -> Result<Option<(Version, u8)>, Error> {
    if let Some((version, &[stop])) = bytes.first_chunk::<8>().zip(bytes.get(8..9)) {
        // The common case, one comparison each.
        match version {
            b"HTTP/1.1" => return Ok(Some((Version::Http11, stop))),
            b"HTTP/1.0" => return Ok(Some((Version::Http10, stop))),
            _ => {}
        }
    }
    const PATTERN: &[u8; 8] = b"HTTP/0.0";
    for (i, (&b, &p)) in bytes.iter().zip(PATTERN).enumerate() {
        let fits = if matches!(i, 5 | 7) {
            b.is_ascii_digit()
        } else {
            b == p
        };
        if !fits {
            return Err(Error::InvalidVersion);
        }
    }
    let Some(&stop) = bytes.get(8) else {
        return Ok(None);
    };
    match (bytes[5], bytes[7]) {
        (b'1', b'1') => Ok(Some((Version::Http11, stop))),
        (b'1', b'0') => Ok(Some((Version::Http10, stop))),
        _ => Err(Error::UnsupportedVersion),
    }
}

/// Decides the form of a (non-empty, byte-valid) target and whether the
/// method allows it (RFC 9112 §3.2).
fn classify_target(method: Method, target: &[u8]) -> Result<TargetForm, Error> {
    match (method, target[0]) {
        (Method::Connect, _) if is_authority(target) => Ok(TargetForm::Authority),
        (Method::Connect, _) => Err(Error::InvalidTarget),
        (_, b'/') => Ok(TargetForm::Origin),
        (Method::Options, b'*') if target.len() == 1 => Ok(TargetForm::Asterisk),
        _ if scheme_len(target).is_some() => Ok(TargetForm::Absolute),
        _ => Err(Error::InvalidTarget),
    }
}

/// The length of `scheme ":"` at the start of an absolute-URI, if any
/// (RFC 3986 §3.1: `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`).
fn scheme_len(target: &[u8]) -> Option<usize> {
    let colon = memchr::memchr(b':', target)?;
    let scheme = &target[..colon];
    let valid = scheme.first()?.is_ascii_alphabetic()
        && scheme
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    valid.then_some(colon + 1)
}

/// Whether `target` is `uri-host ":" port` (RFC 9112 §3.2.3).
fn is_authority(target: &[u8]) -> bool {
    let Some(colon) = memchr::memrchr(b':', target) else {
        return false;
    };
    let (host, port) = (&target[..colon], &target[colon + 1..]);
    !host.is_empty()
        && !host.iter().any(|b| matches!(b, b'/' | b'?' | b'#' | b'@'))
        && (1..=5).contains(&port.len())
        && port.iter().all(u8::is_ascii_digit)
}

/// A parsed request head, borrowing the buffer and the parser's table.
///
/// Everything beyond the request line and the raw fields is computed only
/// when asked for.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The buffer the head was parsed from.
    buf: &'a [u8],
    /// The header table.
    fields: &'a [FieldSpan],
    /// The method, classified.
    method: Method,
    /// The method's bytes.
    method_span: (u32, u32),
    /// The target's bytes.
    target_span: (u32, u32),
    /// The target's form.
    form: TargetForm,
    /// The version.
    version: Version,
    /// Length of the head, final CRLF included.
    head_len: u32,
    /// Which fields the connection consults are present.
    seen: Seen,
    /// The body, when the connection read it whole.
    body: &'a [u8],
    /// The peer's address, when the transport knows it (borrowed from the
    /// connection: a pointer to attach rather than an address to copy).
    peer: Option<&'a SocketAddr>,
}

impl<'a> Request<'a> {
    /// A request that came over HTTP/2: its method and path (the `:method`
    /// and `:path` pseudo-header values) and its fields, all in `buf`
    /// (see [`h2`](crate::h2)).
    pub(crate) fn from_h2(
        buf: &'a [u8],
        fields: &'a [FieldSpan],
        method_span: (u32, u32),
        target_span: (u32, u32),
        form: TargetForm,
    ) -> Self {
        let method_bytes = buf
            .get(method_span.0 as usize..method_span.1 as usize)
            .unwrap_or_default();
        let seen = fields.iter().fold(Seen::NONE, |seen, field| {
            Seen(seen.0 | Seen::classify(field, buf).0)
        });
        Request {
            buf,
            fields,
            method: Method::from_bytes(method_bytes),
            method_span,
            target_span,
            form,
            version: Version::Http2,
            head_len: buf.len() as u32,
            seen,
            body: &[],
            peer: None,
        }
    }

    /// The same request with its body attached.
    #[inline]
    pub(crate) fn with_body(self, body: &'a [u8]) -> Self {
        Request { body, ..self }
    }

    /// The same request with the peer's address attached.
    #[inline]
    pub(crate) fn with_peer(self, peer: Option<&'a SocketAddr>) -> Self {
        Request { peer, ..self }
    }

    /// The body, as read whole by the connection before the handler runs.
    /// Empty when there is none, before it is read, and when the handler
    /// reads it as a stream ([`BodyPolicy::Stream`](crate::BodyPolicy)).
    #[inline]
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// The peer's address, if the backend knows it.
    #[inline]
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer.copied()
    }

    /// The method.
    #[inline]
    pub fn method(&self) -> Method {
        self.method
    }

    /// The method as sent, also for extension methods.
    pub fn method_str(&self) -> &'a str {
        // A method is a token, so ASCII; the fallback is never taken.
        core::str::from_utf8(self.slice(self.method_span)).unwrap_or_default()
    }

    /// The request-target as sent.
    #[inline]
    pub fn target(&self) -> &'a [u8] {
        self.slice(self.target_span)
    }

    /// The form of the request-target.
    pub fn target_form(&self) -> TargetForm {
        self.form
    }

    /// The path of the target, without the query: `/` for an absolute-form
    /// target without one, the target itself for the authority and
    /// asterisk forms. Still percent-encoded; see
    /// [`path::decode_path`](crate::path::decode_path).
    #[inline]
    pub fn path(&self) -> &'a [u8] {
        let target = self.target();
        let path = match self.form {
            TargetForm::Origin => target,
            TargetForm::Authority | TargetForm::Asterisk => return target,
            TargetForm::Absolute => absolute_path(target),
        };
        let path = match find_question_mark(path) {
            Some(question) => &path[..question],
            None => path,
        };
        if path.is_empty() { b"/" } else { path }
    }

    /// The raw query (after the first `?`), if the target has one.
    pub fn query(&self) -> Option<&'a [u8]> {
        if matches!(self.form, TargetForm::Authority | TargetForm::Asterisk) {
            return None;
        }
        let target = self.target();
        find_question_mark(target).map(|question| &target[question + 1..])
    }

    /// The `key=value` pairs of the query, raw; decode each with
    /// [`query::decode_component`](crate::query::decode_component).
    ///
    /// ```
    /// use peregrine_core::{Parsed, RequestParser};
    ///
    /// let wire = b"GET /search?q=fast+server&&lang HTTP/1.1\r\nHost: a\r\n\r\n";
    /// let mut parser = RequestParser::<4>::new();
    /// let Ok(Parsed::Complete(request)) = parser.parse(wire) else { panic!() };
    /// let pairs: Vec<_> = request.query_pairs().collect();
    /// assert_eq!(pairs, [(&b"q"[..], &b"fast+server"[..]), (b"lang", b"")]);
    /// ```
    pub fn query_pairs(&self) -> crate::query::Pairs<'a> {
        crate::query::pairs(self.query().unwrap_or_default())
    }

    /// The version.
    #[inline]
    pub fn version(&self) -> Version {
        self.version
    }

    /// The header fields.
    #[inline]
    pub fn headers(&self) -> Headers<'a> {
        Headers::new(self.buf, self.fields)
    }

    /// The value of the first header named `name` (ASCII case-insensitive).
    #[inline]
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers().get(name)
    }

    /// The length of the head in the buffer; the body, if any, starts here.
    #[inline]
    pub fn head_len(&self) -> usize {
        self.head_len as usize
    }

    /// How the body is delimited; errors are those of RFC 9112 §6.
    #[inline]
    pub fn body_framing(&self) -> Result<BodyFraming, Error> {
        if !self.seen.has(Seen::CONTENT_LENGTH) && !self.seen.has(Seen::TRANSFER_ENCODING) {
            return Ok(BodyFraming::Length(0));
        }
        framing::decide(&self.headers(), self.version)
    }

    /// The `Content-Length`, if present and valid.
    pub fn content_length(&self) -> Result<Option<u64>, Error> {
        framing::content_length(&self.headers())
    }

    /// Whether `Transfer-Encoding` ends in `chunked`.
    pub fn is_chunked(&self) -> bool {
        self.headers()
            .tokens("transfer-encoding")
            .last()
            .is_some_and(|coding| coding.eq_ignore_ascii_case(b"chunked"))
    }

    /// Whether the `Connection` header holds `token` (case-insensitive).
    pub fn has_connection_token(&self, token: &str) -> bool {
        self.headers().has_token("connection", token)
    }

    /// Whether the client asks to keep the connection open after this
    /// request (RFC 9112 §9.3): HTTP/1.1 unless `Connection: close`,
    /// HTTP/1.0 only with `Connection: keep-alive` (and no `close`).
    #[inline]
    pub fn keep_alive(&self) -> bool {
        if !self.seen.has(Seen::CONNECTION) {
            return self.version >= Version::Http11;
        }
        self.keep_alive_by_field()
    }

    /// [`keep_alive`](Self::keep_alive) for a request with a `Connection`
    /// field.
    fn keep_alive_by_field(&self) -> bool {
        let mut close = false;
        let mut keep_alive = false;
        for token in self.headers().tokens("connection") {
            close |= token.eq_ignore_ascii_case(b"close");
            keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
        }
        !close && (self.version == Version::Http11 || keep_alive)
    }

    /// Whether the client sent `Expect: 100-continue` (ignored in HTTP/1.0
    /// requests, RFC 9110 §10.1.1).
    #[inline]
    pub fn expects_continue(&self) -> bool {
        self.seen.has(Seen::EXPECT) && self.expects_continue_by_field()
    }

    /// [`expects_continue`](Self::expects_continue) for a request with an
    /// `Expect` field.
    fn expects_continue_by_field(&self) -> bool {
        self.version == Version::Http11
            && self
                .header("expect")
                .is_some_and(|v| v.eq_ignore_ascii_case(b"100-continue"))
    }

    /// Whether the request asks to switch to `protocol` (RFC 9110 §7.8):
    /// `Connection` holds `upgrade` and `Upgrade` lists `protocol` (its
    /// name, compared case-insensitively, with or without a `/version`).
    #[inline]
    pub fn is_upgrade_to(&self, protocol: &str) -> bool {
        self.seen.has(Seen::UPGRADE) && self.is_upgrade_by_fields(protocol)
    }

    /// [`is_upgrade_to`](Self::is_upgrade_to) for a request with an
    /// `Upgrade` field.
    fn is_upgrade_by_fields(&self, protocol: &str) -> bool {
        self.has_connection_token("upgrade")
            && self.headers().tokens("upgrade").any(|offered| {
                let name = match memchr::memchr(b'/', offered) {
                    Some(slash) => &offered[..slash],
                    None => offered,
                };
                name.eq_ignore_ascii_case(protocol.as_bytes())
            })
    }

    /// Whether this is a request to upgrade to WebSocket (method and the
    /// other handshake headers are checked by the WebSocket layer).
    #[inline]
    pub fn is_websocket_upgrade(&self) -> bool {
        self.is_upgrade_to("websocket")
    }

    /// The bytes of a span.
    #[inline]
    fn slice(&self, (start, end): (u32, u32)) -> &'a [u8] {
        &self.buf[start as usize..end as usize]
    }
}

#[cfg(test)]
mod fast_path_tests {
    //! The fast path against the state machine: on any head, whole or
    //! split, the outcome is the same.

    use super::*;
    use proptest::prelude::*;
    use std::format;
    use std::string::String;
    use std::vec::Vec as StdVec;

    /// Everything a parse decides, owned.
    #[derive(Debug, PartialEq)]
    enum Outcome {
        Complete {
            head_len: usize,
            method: Method,
            method_span: (u32, u32),
            target_span: (u32, u32),
            form: TargetForm,
            version: Version,
            seen: Seen,
            fields: StdVec<FieldSpan>,
        },
        Partial,
        Failed(Error),
    }

    fn outcome<const N: usize>(parser: &RequestParser<N>, result: Result<bool, Error>) -> Outcome {
        match result {
            Ok(true) => Outcome::Complete {
                head_len: parser.pos as usize,
                method: parser.method,
                method_span: parser.method_span,
                target_span: parser.target_span,
                form: parser.form,
                version: parser.version,
                seen: parser.seen,
                fields: parser.headers.iter().copied().collect(),
            },
            Ok(false) => Outcome::Partial,
            Err(error) => Outcome::Failed(error),
        }
    }

    fn parser() -> RequestParser<4> {
        RequestParser::<4>::new()
            .with_max_target_len(24)
            .with_max_head_len(160)
    }

    /// The state machine alone, on the whole input.
    fn slow(input: &[u8]) -> Outcome {
        let mut parser = parser();
        let limit = parser.max_head_len as usize;
        let cut = &input[..input.len().min(limit)];
        let result = parser.advance_slow(cut, input.len() >= limit);
        outcome(&parser, result)
    }

    /// The usual entry (fast path first), on the whole input.
    fn whole(input: &[u8]) -> Outcome {
        let mut parser = parser();
        let result = parser.advance(input);
        outcome(&parser, result)
    }

    /// The usual entry on the first `split` bytes, then on all of them.
    fn split(input: &[u8], split: usize) -> Outcome {
        let mut parser = parser();
        let first = parser.advance(&input[..split]);
        if let Err(error) = first {
            return Outcome::Failed(error);
        }
        let result = parser.advance(input);
        outcome(&parser, result)
    }

    fn check(input: &[u8]) {
        let expected = slow(input);
        assert_eq!(whole(input), expected, "{}", input.escape_ascii());
        for at in 0..=input.len() {
            assert_eq!(
                split(input, at),
                expected,
                "{} split at {at}",
                input.escape_ascii()
            );
        }
    }

    /// A part of a head: mostly usual, sometimes odd.
    fn piece(
        usual: &'static [&'static str],
        odd: &'static [&'static str],
    ) -> BoxedStrategy<String> {
        prop_oneof![
            4 => proptest::sample::select(usual).prop_map(String::from),
            1 => proptest::sample::select(odd).prop_map(String::from),
        ]
        .boxed()
    }

    fn head() -> impl Strategy<Value = StdVec<u8>> {
        let method = piece(
            &["GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "X-Ext"],
            &[
                "CONNECT", "OPTIONS", "", "G T", "GET\t", "\r\nGET", "\nGET", "GÉT",
            ],
        );
        let target = piece(
            &[
                "/",
                "/a/b?c=d",
                "/index.html",
                "/p%20q#f",
                "/a-target-of-24-bytes-xx",
            ],
            &[
                "*",
                "http://h/p",
                "h:80",
                "",
                "/a b",
                "/\x7f",
                "/é",
                "/the-target-of-25-bytes-xx",
            ],
        );
        let version = piece(
            &["HTTP/1.1", "HTTP/1.0"],
            &["HTTP/2.0", "HTTP/1.1 ", "http/1.1", "HTTP/1", "HTTP/1.12"],
        );
        let name = piece(
            &[
                "Host",
                "host",
                "Content-Length",
                "Transfer-Encoding",
                "Connection",
                "Accept",
                "X-Y",
            ],
            &[
                "", "Ho st", " Host", "Host ", "\tHost", "Hé", "Expect", "Upgrade", "A\r",
            ],
        );
        let value = piece(
            &[
                "a",
                "example.com:8080",
                "",
                " \t padded \t ",
                "0",
                "chunked",
                "close",
            ],
            &[
                "a\rb", "a\nb", "\x00", "\x7f", "é", "a\tb", "\t", "a b", "u@h", "h:8x", "[::1]:80",
            ],
        );
        let ending = piece(&["\r\n"], &["\n", "\r", "", "\r\r\n"]);
        let line = (name, value, ending.clone()).prop_map(|(n, v, e)| format!("{n}:{v}{e}"));
        (
            method,
            target,
            version,
            ending.clone(),
            proptest::collection::vec(line, 0..6),
            ending,
        )
            .prop_map(|(m, t, v, e1, lines, e2)| {
                let mut head = format!("{m} {t} {v}{e1}");
                for line in lines {
                    head.push_str(&line);
                }
                head.push_str(&e2);
                head.into_bytes()
            })
    }

    /// One mutation: replace, insert or remove a byte.
    fn mutate(mut head: StdVec<u8>, kind: u8, at: usize, byte: u8) -> StdVec<u8> {
        if head.is_empty() {
            return head;
        }
        let at = at % head.len();
        match kind % 4 {
            0 => head[at] = byte,
            1 => head.insert(at, byte),
            2 => {
                head.remove(at);
            }
            _ => head.truncate(at),
        }
        head
    }

    proptest! {
        #[test]
        fn generated_heads(head in head()) {
            check(&head);
        }

        #[test]
        fn mutated_heads(
            head in head(),
            mutations in proptest::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 1..4),
        ) {
            let mut head = head;
            for (kind, at, byte) in mutations {
                head = mutate(head, kind, at, byte);
            }
            check(&head);
        }
    }

    #[test]
    fn lowercase_compare_is_eq_ignore_ascii_case_on_tokens() {
        let names: [&[u8]; 6] = [
            b"host",
            b"expect",
            b"upgrade",
            b"connection",
            b"content-length",
            b"transfer-encoding",
        ];
        let tokens = (0..=255u8).filter(|&b| scan::is_tchar(b));
        for byte in tokens {
            for lower in names {
                for at in 0..lower.len() {
                    let mut name = lower.to_vec();
                    name[at] = byte;
                    let expected = name.eq_ignore_ascii_case(lower);
                    let got = match lower.len() {
                        4 => is_lowercase_of(&name, b"host"),
                        6 => is_lowercase_of(&name, b"expect"),
                        7 => is_lowercase_of(&name, b"upgrade"),
                        10 => is_lowercase_of(&name, b"connection"),
                        14 => is_lowercase_of(&name, b"content-length"),
                        _ => is_lowercase_of(&name, b"transfer-encoding"),
                    };
                    assert_eq!(got, expected, "{}", name.escape_ascii());
                }
            }
        }
    }

    #[test]
    fn usual_heads_take_the_fast_path() {
        let heads: &[&[u8]] = &[
            b"GET / HTTP/1.1\r\nHost: 127.0.0.1:18180\r\n\r\n",
            b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
            b"GET / HTTP/1.0\r\n\r\n",
            b"PATCH /x?y HTTP/1.1\r\nhost:\t a \t\r\nX:\r\n\r\n",
        ];
        for head in heads {
            let mut parser = parser();
            assert!(parser.parse_fast(head).is_some(), "{}", head.escape_ascii());
            check(head);
        }
    }

    #[test]
    fn the_rest_goes_to_the_state_machine() {
        let heads: &[&[u8]] = &[
            b"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
            b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
            b"CONNECT /a HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            b"GET / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nHost: a\r\n\r\n",
            b"GET /the-target-of-25-bytes-xx HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\n",
            b"GET / HTTP/1.1\r\nHost: a\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
            b"GET / HTTP/1.0\r\nHost: a:b\r\n\r\n",
        ];
        for head in heads {
            let mut parser = parser();
            assert!(parser.parse_fast(head).is_none(), "{}", head.escape_ascii());
            assert!(parser.headers.is_empty());
            check(head);
        }
    }

    #[test]
    fn host_values_are_checked_as_an_authority_in_any_version() {
        let head = |version: &str, host: &[u8]| {
            let mut head = format!("GET / {version}\r\nHost:").into_bytes();
            head.extend_from_slice(host);
            head.extend_from_slice(b"\r\nAccept: */*\r\n\r\n");
            head
        };
        for version in ["HTTP/1.1", "HTTP/1.0"] {
            let valid: [&[u8]; 6] = [b" a", b" a:80", b" [::1]:8080", b"", b" \t", b" %41:"];
            for host in valid {
                let head = head(version, host);
                assert!(
                    matches!(whole(&head), Outcome::Complete { .. }),
                    "{}",
                    head.escape_ascii()
                );
                check(&head);
            }
            let invalid: [&[u8]; 7] = [
                b" a b", b" u@h", b" h/p", b" h?q", b" h#f", b" h:8x", b" [::1",
            ];
            for host in invalid {
                let head = head(version, host);
                assert_eq!(
                    whole(&head),
                    Outcome::Failed(Error::InvalidHost),
                    "{}",
                    head.escape_ascii()
                );
                // Refused as soon as the Host line is complete.
                let line_end = head.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
                let host_end = line_end
                    + head[line_end..]
                        .windows(2)
                        .position(|w| w == b"\r\n")
                        .unwrap();
                assert_eq!(
                    split(&head[..host_end + 2], host_end + 2),
                    Outcome::Failed(Error::InvalidHost)
                );
                check(&head);
            }
        }
    }
}
