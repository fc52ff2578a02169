//! A request's decoded header block checked as RFC 9113 §8.2 and §8.3 say,
//! and turned into the same [`Request`] HTTP/1.1 handlers get.
//!
//! Pseudo-header fields come first, each at most once, only the request
//! ones (`:method`, `:scheme`, `:authority`, `:path`); names are lowercase
//! with no separator or control byte; values hold no NUL, CR or LF and no
//! whitespace at either end; connection-specific fields (`connection`,
//! `keep-alive`, `proxy-connection`, `transfer-encoding`, `upgrade`) and a
//! `te` other than `trailers` make the request malformed. `cookie` fields
//! are joined into one with `"; "` (§8.2.3), and `:authority` becomes a
//! `host` field when the request has none (§8.3.1), so handlers read both
//! as they do over HTTP/1.1; a `host` naming another entity than
//! `:authority` makes the request malformed (§8.3.1). Trailers follow the
//! same rules for their fields and hold no pseudo-header (§8.1).
//!
//! Checking never stops decoding: the block must be decoded whole to keep
//! the HPACK table in step, so a problem is recorded and reported once
//! the block is done.

use crate::field::FieldRange;
use crate::h2::hpack::DecodedField;
use crate::headers::FieldSpan;
use crate::sizes::FieldTable;
use crate::{Request, TargetForm};

/// Why a request cannot be served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Refusal {
    /// Malformed (§8.1.1): the stream is reset with PROTOCOL_ERROR.
    Malformed,
    /// More fields than the table holds, or more bytes than the decoding
    /// area or `SETTINGS_MAX_HEADER_LIST_SIZE` allow: answered `431`
    /// (RFC 9113 §10.5.1), the connection going on.
    TooLarge,
}

/// Where a value lies in the decoded block.
type Span32 = (u32, u32);

/// A request head as its fields are decoded.
#[derive(Debug)]
pub(super) struct HeadBuilder<'t, T: FieldTable> {
    /// The regular fields.
    fields: &'t mut T,
    /// Where the decoder's output starts in the area: field offsets are
    /// made relative to the area.
    base: usize,
    /// `:method`.
    method: Option<Span32>,
    /// `:scheme`.
    scheme: Option<Span32>,
    /// `:authority`.
    authority: Option<Span32>,
    /// `:path`.
    path: Option<Span32>,
    /// A regular field was seen: no pseudo-header may follow.
    regular: bool,
    /// The first `host` field's value.
    host: Option<Span32>,
    /// `cookie` fields seen.
    cookies: u32,
    /// The first problem found.
    refusal: Option<Refusal>,
}

impl<'t, T: FieldTable> HeadBuilder<'t, T> {
    /// A head whose regular fields go into `fields` (emptied first),
    /// decoded into the area from `base` on.
    pub(super) fn new(fields: &'t mut T, base: usize) -> Self {
        fields.clear();
        HeadBuilder {
            fields,
            base,
            method: None,
            scheme: None,
            authority: None,
            path: None,
            regular: false,
            host: None,
            cookies: 0,
            refusal: None,
        }
    }

    /// Records the first problem.
    fn refuse(&mut self, refusal: Refusal) {
        self.refusal.get_or_insert(refusal);
    }

    /// Takes one decoded field.
    pub(super) fn push(&mut self, field: &DecodedField<'_>) {
        let value = field.value_range();
        let value = self.base + value.start..self.base + value.end;
        let value_span = (value.start as u32, value.end as u32);
        if !valid_value(field.value) {
            self.refuse(Refusal::Malformed);
        }
        if let Some(pseudo) = field.name.strip_prefix(b":") {
            let slot = match pseudo {
                b"method" => &mut self.method,
                b"scheme" => &mut self.scheme,
                b"authority" => &mut self.authority,
                b"path" => &mut self.path,
                _ => {
                    self.refuse(Refusal::Malformed);
                    return;
                }
            };
            let duplicate = slot.replace(value_span).is_some();
            if duplicate || self.regular {
                self.refuse(Refusal::Malformed);
            }
            return;
        }
        self.regular = true;
        if !valid_name(field.name) || is_connection_specific(field.name, field.value) {
            self.refuse(Refusal::Malformed);
            return;
        }
        match field.name {
            b"host" => {
                self.host.get_or_insert(value_span);
            }
            b"cookie" => self.cookies += 1,
            _ => {}
        }
        let name = field.name_range();
        let name = self.base + name.start..self.base + name.end;
        let span = FieldSpan::new(FieldRange {
            name_start: name.start,
            name_end: name.end,
            value_start: value.start,
            value_end: value.end,
        });
        if self.fields.push(span).is_err() {
            self.refuse(Refusal::TooLarge);
        }
    }

    /// Finishes the head decoded into `area[..used]`, appending what it
    /// needs (a joined cookie, a `host` name) after `used`; returns the
    /// parts of the request and the bytes of `area` it now takes.
    pub(super) fn finish(mut self, area: &mut [u8], used: usize) -> Result<Head, Refusal> {
        if let Some(refusal) = self.refusal {
            return Err(refusal);
        }
        let (Some(method), Some(path)) = (self.method, self.path) else {
            return Err(Refusal::Malformed);
        };
        let method_bytes = &area[method.0 as usize..method.1 as usize];
        // CONNECT (RFC 8441's extended form included) is not served.
        if method_bytes == b"CONNECT" || self.scheme.is_none() {
            return Err(Refusal::Malformed);
        }
        let form = match &area[path.0 as usize..path.1 as usize] {
            b"*" if method_bytes == b"OPTIONS" => TargetForm::Asterisk,
            [b'/', ..] => TargetForm::Origin,
            _ => return Err(Refusal::Malformed),
        };
        if let (Some(host), Some(authority), Some(scheme)) =
            (self.host, self.authority, self.scheme)
        {
            // §8.3.1: a `host` naming another entity than `:authority`.
            let [host, authority, scheme] =
                [host, authority, scheme].map(|(start, end)| &area[start as usize..end as usize]);
            if !same_authority(host, authority, scheme) {
                return Err(Refusal::Malformed);
            }
        }
        let mut end = used;
        if self.cookies > 1 {
            end = self.join_cookies(area, end)?;
        }
        if let (None, Some(authority)) = (self.host, self.authority) {
            let name = append(area, end, b"host").ok_or(Refusal::TooLarge)?;
            end = name.end;
            let span = FieldSpan::new(FieldRange {
                name_start: name.start,
                name_end: name.end,
                value_start: authority.0 as usize,
                value_end: authority.1 as usize,
            });
            self.fields.push(span).map_err(|_| Refusal::TooLarge)?;
        }
        Ok(Head {
            method,
            path,
            form,
            len: end as u32,
        })
    }

    /// Joins every `cookie` field into the first one's place, the value
    /// copied after `end`; returns the new end.
    fn join_cookies(&mut self, area: &mut [u8], end: usize) -> Result<usize, Refusal> {
        let mut cursor = end;
        let mut first: Option<usize> = None;
        let mut index = 0;
        while index < self.fields.len() {
            let span = self.fields[index];
            if !span.is(area, b"cookie") {
                index += 1;
                continue;
            }
            let value = span.value_range();
            if first.is_some() {
                let at = append(area, cursor, b"; ").ok_or(Refusal::TooLarge)?;
                cursor = at.end;
            }
            if cursor + value.len() > area.len() {
                return Err(Refusal::TooLarge);
            }
            area.copy_within(value, cursor);
            cursor += span.value_range().len();
            match first {
                None => {
                    first = Some(index);
                    index += 1;
                }
                Some(_) => {
                    self.fields.remove(index);
                }
            }
        }
        if let Some(first) = first {
            let name = self.fields[first].name_range();
            self.fields[first] = FieldSpan::new(FieldRange {
                name_start: name.start,
                name_end: name.end,
                value_start: end,
                value_end: cursor,
            });
        }
        Ok(cursor)
    }
}

/// Appends `bytes` to `area` at `at`; where they went, if they fit.
fn append(area: &mut [u8], at: usize, bytes: &[u8]) -> Option<core::ops::Range<usize>> {
    let end = at.checked_add(bytes.len())?;
    area.get_mut(at..end)?.copy_from_slice(bytes);
    Some(at..end)
}

/// A checked request head: where its parts lie in the decoded block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Head {
    /// `:method`'s value.
    method: Span32,
    /// `:path`'s value.
    path: Span32,
    /// The target's form.
    form: TargetForm,
    /// Bytes of the decoding area the head takes.
    pub(super) len: u32,
}

/// Bytes [`Head::to_bytes`] gives.
pub(super) const HEAD_BYTES: usize = 12;

impl Head {
    /// The head as [`HEAD_BYTES`] bytes, for a head whose offsets are
    /// under 64 KiB (from its own start, in the decoding area).
    pub(super) fn to_bytes(self) -> [u8; HEAD_BYTES] {
        let mut bytes = [0; HEAD_BYTES];
        let offsets = [
            self.method.0,
            self.method.1,
            self.path.0,
            self.path.1,
            self.len,
        ];
        for (i, offset) in offsets.into_iter().enumerate() {
            bytes[2 * i..2 * i + 2].copy_from_slice(&(offset as u16).to_le_bytes());
        }
        bytes[10] = match self.form {
            TargetForm::Origin => 0,
            TargetForm::Absolute => 1,
            TargetForm::Authority => 2,
            TargetForm::Asterisk => 3,
        };
        bytes
    }

    /// The head [`to_bytes`](Self::to_bytes) gave `bytes` for.
    pub(super) fn from_bytes(bytes: &[u8]) -> Head {
        let offset = |i: usize| u32::from(u16::from_le_bytes([bytes[2 * i], bytes[2 * i + 1]]));
        Head {
            method: (offset(0), offset(1)),
            path: (offset(2), offset(3)),
            len: offset(4),
            form: match bytes[10] {
                0 => TargetForm::Origin,
                1 => TargetForm::Absolute,
                2 => TargetForm::Authority,
                _ => TargetForm::Asterisk,
            },
        }
    }

    /// The same head after its bytes moved `by` toward the area's start.
    pub(super) fn moved_back(self, by: u32) -> Head {
        Head {
            method: (self.method.0 - by, self.method.1 - by),
            path: (self.path.0 - by, self.path.1 - by),
            form: self.form,
            len: self.len - by,
        }
    }

    /// The request, over `area` (holding the head) and `fields`.
    pub(super) fn request<'a>(&self, area: &'a [u8], fields: &'a [FieldSpan]) -> Request<'a> {
        Request::from_h2(
            &area[..self.len as usize],
            fields,
            self.method,
            self.path,
            self.form,
        )
    }
}

/// Whether `host` and `authority` name the same entity once normalized
/// as their scheme says (§8.3.1, RFC 3986 §6.2.3): the host compared
/// without regard to case, a port that is the scheme's default (or empty)
/// the same as none.
fn same_authority(host: &[u8], authority: &[u8], scheme: &[u8]) -> bool {
    let default_port: &[u8] = match scheme {
        b"http" => b"80",
        b"https" => b"443",
        _ => b"",
    };
    /// The value without a default (or empty) port.
    fn normalized<'v>(value: &'v [u8], default_port: &[u8]) -> &'v [u8] {
        // A port follows the last colon, unless it closes an IPv6 literal.
        let Some(colon) = value.iter().rposition(|&b| b == b':') else {
            return value;
        };
        let port = &value[colon + 1..];
        let is_port = port.iter().all(u8::is_ascii_digit);
        if is_port && (port.is_empty() || port == default_port) {
            &value[..colon]
        } else {
            value
        }
    }
    normalized(host, default_port).eq_ignore_ascii_case(normalized(authority, default_port))
}

/// Whether a trailer field may end a request (§8.1): no pseudo-header,
/// and a regular field as §8.2 wants one (a lowercase token for a name, a
/// clean value, nothing connection-specific).
pub(super) fn valid_trailer(field: &DecodedField<'_>) -> bool {
    !field.name.starts_with(b":")
        && valid_name(field.name)
        && valid_value(field.value)
        && !is_connection_specific(field.name, field.value)
}

/// Whether `name` is a lowercase field name (§8.2.1): a token with no
/// uppercase letter.
fn valid_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name
            .iter()
            .all(|&b| crate::scan::is_tchar(b) && !b.is_ascii_uppercase())
}

/// Whether `value` is a valid field value (§8.2.1): no NUL, CR or LF, and
/// no space or tab at either end.
fn valid_value(value: &[u8]) -> bool {
    let edge = |b: Option<&u8>| matches!(b, Some(b' ' | b'\t'));
    !edge(value.first())
        && !edge(value.last())
        && !value.iter().any(|&b| matches!(b, 0 | b'\r' | b'\n'))
}

/// Whether a field is connection-specific (§8.2.2): never in HTTP/2,
/// except `te: trailers`.
fn is_connection_specific(name: &[u8], value: &[u8]) -> bool {
    match name {
        b"connection" | b"keep-alive" | b"proxy-connection" | b"transfer-encoding" | b"upgrade" => {
            true
        }
        b"te" => value != b"trailers",
        _ => false,
    }
}
