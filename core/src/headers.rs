//! The parsed header table and lookups on it.
//!
//! Names are stored as received; lookups compare case-insensitively at
//! search time (RFC 9110 §5.1), length first, so a miss costs little. Typed
//! accessors (content length, connection tokens, ...) parse a value only when
//! asked.

use core::iter::FusedIterator;

use crate::field::FieldRange;

/// One field of the header table, as offsets into the request buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FieldSpan {
    /// Start of the name.
    name_start: u32,
    /// End (exclusive) of the name.
    name_end: u32,
    /// Start of the value.
    value_start: u32,
    /// End (exclusive) of the value.
    value_end: u32,
}

impl FieldSpan {
    /// Records a field the scanner found. Offsets fit `u32` because the
    /// parser bounds the head to `u32::MAX` bytes.
    #[inline]
    pub(crate) fn new(range: FieldRange) -> Self {
        FieldSpan {
            name_start: range.name_start as u32,
            name_end: range.name_end as u32,
            value_start: range.value_start as u32,
            value_end: range.value_end as u32,
        }
    }

    /// Where the name lies in its buffer.
    pub(crate) fn name_range(&self) -> core::ops::Range<usize> {
        self.name_start as usize..self.name_end as usize
    }

    /// Where the value lies in its buffer.
    pub(crate) fn value_range(&self) -> core::ops::Range<usize> {
        self.value_start as usize..self.value_end as usize
    }

    /// The name's bytes in `buf`.
    #[inline]
    pub(crate) fn name<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        &buf[self.name_start as usize..self.name_end as usize]
    }

    /// The value's bytes in `buf`.
    #[inline]
    fn value<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        &buf[self.value_start as usize..self.value_end as usize]
    }

    /// Whether the name equals `name`, ignoring ASCII case.
    #[inline]
    pub(crate) fn is(&self, buf: &[u8], name: &[u8]) -> bool {
        (self.name_end - self.name_start) as usize == name.len()
            && self.name(buf).eq_ignore_ascii_case(name)
    }
}

/// A header field: name as received, value without surrounding whitespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header<'a> {
    /// The field name, in the case the client sent it.
    pub name: &'a [u8],
    /// The field value, leading and trailing SP/HTAB removed.
    pub value: &'a [u8],
}

/// The header fields of a request, in the order received.
///
/// ```
/// use peregrine_core::{Parsed, RequestParser};
///
/// let wire = b"GET / HTTP/1.1\r\nHost: a\r\nAccept: text/html\r\naccept: text/plain\r\n\r\n";
/// let mut parser = RequestParser::<8>::new();
/// let Ok(Parsed::Complete(request)) = parser.parse(wire) else { panic!() };
/// let headers = request.headers();
/// assert_eq!(headers.len(), 3);
/// assert_eq!(headers.get("ACCEPT"), Some(&b"text/html"[..]));
/// assert_eq!(headers.get_all("accept").count(), 2);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Headers<'a> {
    /// The buffer the offsets point into.
    buf: &'a [u8],
    /// The fields, in order.
    fields: &'a [FieldSpan],
}

impl<'a> Headers<'a> {
    /// A view of `fields` over `buf`.
    pub(crate) fn new(buf: &'a [u8], fields: &'a [FieldSpan]) -> Self {
        Headers { buf, fields }
    }

    /// The number of fields (a repeated name counts each time).
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether there are no fields at all.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// All fields, in the order received.
    pub fn iter(&self) -> HeaderIter<'a> {
        HeaderIter {
            buf: self.buf,
            fields: self.fields.iter(),
        }
    }

    /// The value of the first field named `name` (ASCII case-insensitive).
    #[inline]
    pub fn get(&self, name: &str) -> Option<&'a [u8]> {
        self.get_all(name).next()
    }

    /// Whether a field named `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The values of every field named `name`, in order.
    #[inline]
    pub fn get_all<'n>(&self, name: &'n str) -> Values<'a, 'n> {
        Values {
            buf: self.buf,
            fields: self.fields.iter(),
            name: name.as_bytes(),
        }
    }

    /// The elements of the comma-separated lists in every field named
    /// `name` (RFC 9110 §5.6.1): whitespace around elements trimmed, empty
    /// elements skipped.
    ///
    /// ```
    /// use peregrine_core::{Parsed, RequestParser};
    ///
    /// let wire = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, ,Upgrade\r\nConnection: x\r\n\r\n";
    /// let mut parser = RequestParser::<8>::new();
    /// let Ok(Parsed::Complete(request)) = parser.parse(wire) else { panic!() };
    /// let tokens: Vec<&[u8]> = request.headers().tokens("connection").collect();
    /// assert_eq!(tokens, [&b"keep-alive"[..], b"Upgrade", b"x"]);
    /// ```
    pub fn tokens<'n>(&self, name: &'n str) -> Tokens<'a, 'n> {
        Tokens {
            values: self.get_all(name),
            rest: &[],
        }
    }

    /// Whether the comma-separated lists of `name` hold `token`, compared
    /// ASCII case-insensitively.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.tokens(name)
            .any(|t| t.eq_ignore_ascii_case(token.as_bytes()))
    }
}

impl<'a> IntoIterator for Headers<'a> {
    type Item = Header<'a>;
    type IntoIter = HeaderIter<'a>;

    fn into_iter(self) -> HeaderIter<'a> {
        self.iter()
    }
}

/// Iterator over all header fields; see [`Headers::iter`].
#[derive(Clone, Debug)]
pub struct HeaderIter<'a> {
    /// The buffer the offsets point into.
    buf: &'a [u8],
    /// The fields not yet returned.
    fields: core::slice::Iter<'a, FieldSpan>,
}

impl<'a> Iterator for HeaderIter<'a> {
    type Item = Header<'a>;

    fn next(&mut self) -> Option<Header<'a>> {
        self.fields.next().map(|f| Header {
            name: f.name(self.buf),
            value: f.value(self.buf),
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.fields.size_hint()
    }
}

impl ExactSizeIterator for HeaderIter<'_> {}
impl FusedIterator for HeaderIter<'_> {}

/// Iterator over the values of one field name; see [`Headers::get_all`].
#[derive(Clone, Debug)]
pub struct Values<'a, 'n> {
    /// The buffer the offsets point into.
    buf: &'a [u8],
    /// The fields not yet searched.
    fields: core::slice::Iter<'a, FieldSpan>,
    /// The name searched for.
    name: &'n [u8],
}

impl<'a> Iterator for Values<'a, '_> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        let buf = self.buf;
        let name = self.name;
        self.fields.find(|f| f.is(buf, name)).map(|f| f.value(buf))
    }
}

impl FusedIterator for Values<'_, '_> {}

/// Iterator over list elements; see [`Headers::tokens`].
#[derive(Clone, Debug)]
pub struct Tokens<'a, 'n> {
    /// Field values not yet split.
    values: Values<'a, 'n>,
    /// The unsplit rest of the current value.
    rest: &'a [u8],
}

impl<'a> Iterator for Tokens<'a, '_> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            while self.rest.is_empty() {
                self.rest = self.values.next()?;
            }
            let (element, rest) = match memchr::memchr(b',', self.rest) {
                Some(comma) => (&self.rest[..comma], &self.rest[comma + 1..]),
                None => (self.rest, &[][..]),
            };
            self.rest = rest;
            let element = element.trim_ascii();
            if !element.is_empty() {
                return Some(element);
            }
        }
    }
}

impl FusedIterator for Tokens<'_, '_> {}
