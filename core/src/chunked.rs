//! An incremental, in-place decoder for the chunked transfer coding
//! (RFC 9112 §7.1).
//!
//! # The in-place contract
//!
//! [`ChunkedDecoder::decode_in_place`] is given the bytes that arrived after
//! the request head (or after the previous call's bytes) in a buffer the
//! caller owns. It reads the encoded bytes and writes the payload they carry
//! to the front of that same buffer, moving each run of chunk data with one
//! [`copy_within`](slice::copy_within). The payload can only be shorter than
//! its encoding, so the write position never passes the read position and no
//! byte is overwritten before it is read.
//!
//! The call returns a [`Decoded`]:
//!
//! - `buf[..produced]` is payload, in order. The caller takes it (hands it
//!   to the application, or appends it elsewhere) before the next call.
//! - While the body is not complete, `consumed == buf.len()`: the decoder
//!   keeps everything it needs to continue (a partial chunk size, half a
//!   CRLF, the place inside a trailer line) in its own state, so the caller
//!   never keeps bytes back for it. The next call is given the bytes that
//!   follow, in a new buffer or the same one.
//! - When the body ends inside `buf`, `done` is true and `consumed` is the
//!   length of its end: just past the CRLF that ends the trailer section.
//!   `buf[consumed..]` is untouched, so a pipelined request starts there;
//!   `buf[produced..consumed]` holds leftovers of the encoding.
//!
//! After the body is done every call returns `consumed: 0, produced: 0,
//! done: true`. After an error every call returns that same error, until
//! [`reset`](ChunkedDecoder::reset). Every error desynchronises the
//! connection: the server answers it (see [`Error::status`]) and closes.
//!
//! # What it accepts
//!
//! ```text
//! chunked-body   = *chunk last-chunk trailer-section CRLF
//! chunk          = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//! last-chunk     = 1*("0") [ chunk-ext ] CRLF
//! chunk-size     = 1*HEXDIG
//! chunk-ext      = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//! chunk-ext-name = token
//! chunk-ext-val  = token / quoted-string
//! ```
//!
//! - The chunk size is hexadecimal digits only, in either case, with any
//!   number of leading zeros up to 64 digits in all. A `0x` prefix, a sign,
//!   whitespace before the size or after it (other than before a `;`), a
//!   value beyond `u64::MAX` or more than 64 digits are
//!   [`Error::InvalidChunkSize`].
//! - Chunk extensions are checked against the grammar above (BWS is SP and
//!   HTAB; a quoted-string holds no control byte other than HTAB), then
//!   ignored: they carry nothing the server uses. Their length, from the
//!   byte after the last digit of the size to the CR, is bounded by
//!   [`ChunkedDecoder::with_max_extension_len`] (default
//!   [`DEFAULT_MAX_EXTENSION_LEN`]). A malformed or overlong extension is
//!   [`Error::InvalidChunkSize`].
//! - Every line ends in CRLF: a bare LF is [`Error::BareLineFeed`] and a CR
//!   not followed by LF is [`Error::BareCarriageReturn`], as in the request
//!   head. Chunk data followed by anything but CRLF (say, more data than the
//!   size announced) is [`Error::InvalidChunkData`].
//! - The trailer section is checked by the same field-line scanner as the
//!   header section, with the same rules and errors (token names, no
//!   whitespace before the colon, no obsolete line folding, no control bytes
//!   in values). Its fields are then **discarded**: the decoder returns no
//!   trailer fields, and a server must not act on them. Its length, field
//!   lines and their CRLFs but not the empty line that ends the section, is
//!   bounded by [`ChunkedDecoder::with_max_trailer_len`] (default
//!   [`DEFAULT_MAX_TRAILER_LEN`]) → [`Error::TrailersTooLarge`].
//!
//! # Limits and cost
//!
//! The decoder bounds everything that produces no payload: chunk-size lines
//! (64 digits plus the extension limit) and the trailer section. The payload
//! itself is bounded by the caller, who compares
//! [`body_len`](ChunkedDecoder::body_len) with its body limit after each call
//! (413, [`Error::BodyTooLarge`]). Every chunk but the last carries at least
//! one payload byte and at most `68 + max_extension_len` bytes of framing.
//!
//! Each byte of input is looked at once, whatever the split of the input
//! into calls; the only exception is trailing whitespace of a trailer field
//! value, which the field scanner looks at again when it trims it (bounded
//! by the trailer limit). Chunk data is never looked at, only moved: one
//! `copy_within` per chunk and call.

use crate::Error;
use crate::field::{FieldScanner, Step};
use crate::scan;

/// Default limit on the chunk extensions of one chunk-size line, in bytes.
pub const DEFAULT_MAX_EXTENSION_LEN: usize = 1024;

/// Default limit on the trailer section, in bytes.
pub const DEFAULT_MAX_TRAILER_LEN: usize = 8 * 1024;

/// The most hexadecimal digits a chunk size may have, leading zeros
/// included.
const MAX_SIZE_DIGITS: u8 = 64;

/// Where the decoder stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// In the digits of a chunk size (none yet when `digits == 0`).
    Size,
    /// After the size or an extension value, in whitespace that must be
    /// followed by `;`.
    ExtBeforeSemicolon,
    /// After `;`, in whitespace before an extension name.
    ExtBeforeName,
    /// In an extension name.
    ExtName,
    /// After an extension name, in whitespace that must be followed by `=`
    /// or `;`.
    ExtAfterName,
    /// After `=`, in whitespace before an extension value.
    ExtBeforeValue,
    /// In an extension value that is a token.
    ExtToken,
    /// In an extension value that is a quoted-string.
    ExtQuoted,
    /// After a backslash in a quoted-string.
    ExtQuotedPair,
    /// After the closing quote of a quoted-string.
    ExtAfterQuoted,
    /// After the CR that ends a chunk-size line.
    SizeLineFeed,
    /// In chunk data; `size` bytes of it are left.
    Data,
    /// After chunk data, expecting its CR.
    DataCarriageReturn,
    /// After the CR that follows chunk data.
    DataLineFeed,
    /// In the trailer section, after the last chunk.
    Trailers,
    /// The body is complete.
    Done,
    /// The body is malformed; the error is sticky.
    Failed(Error),
}

/// What one call of [`ChunkedDecoder::decode_in_place`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decoded {
    /// Bytes of the input read: all of it, unless `done`, in which case the
    /// body ends at this offset and what follows is the next message.
    pub consumed: usize,
    /// Payload bytes now at the front of the buffer.
    pub produced: usize,
    /// Whether the body is complete: the last chunk and the trailer section
    /// have been read.
    pub done: bool,
}

/// An incremental decoder for one chunked body, decoding in place.
///
/// It holds a few integers and no buffer; each call continues where the
/// previous one stopped, so the body may arrive split anywhere. See the
/// [module documentation](self) for the in-place contract and what is
/// accepted.
///
/// ```
/// use peregrine_core::chunked::{ChunkedDecoder, Decoded};
///
/// let mut decoder = ChunkedDecoder::new();
/// let mut payload = Vec::new();
///
/// // The first read ends inside a chunk.
/// let mut buf = *b"4\r\nWiki\r\n5;lang=en\r\nped";
/// let step = decoder.decode_in_place(&mut buf).unwrap();
/// assert_eq!(step, Decoded { consumed: buf.len(), produced: 7, done: false });
/// payload.extend_from_slice(&buf[..step.produced]);
///
/// // The second read holds the rest of the body, a trailer, and the start
/// // of a pipelined request.
/// let mut buf = *b"ia\r\n0\r\nChecksum: 1f\r\n\r\nGET / HTTP/1.1\r\n";
/// let step = decoder.decode_in_place(&mut buf).unwrap();
/// assert!(step.done);
/// payload.extend_from_slice(&buf[..step.produced]);
/// assert_eq!(payload, b"Wikipedia");
/// assert_eq!(&buf[step.consumed..], b"GET / HTTP/1.1\r\n");
/// assert_eq!(decoder.body_len(), 9);
/// ```
///
/// Malformed framing is an error, and stays one:
///
/// ```
/// use peregrine_core::Error;
/// use peregrine_core::chunked::ChunkedDecoder;
///
/// let mut decoder = ChunkedDecoder::new();
/// let mut buf = *b"0x10\r\n";
/// assert_eq!(decoder.decode_in_place(&mut buf), Err(Error::InvalidChunkSize));
/// assert_eq!(decoder.decode_in_place(&mut [b'0']), Err(Error::InvalidChunkSize));
/// ```
#[derive(Clone, Debug)]
pub struct ChunkedDecoder {
    /// Where decoding stopped.
    state: State,
    /// Digits of the current chunk size read so far.
    digits: u8,
    /// The chunk size being read, then the bytes of its data left.
    size: u64,
    /// Bytes of extensions on the current size line, then bytes of the
    /// trailer section so far.
    line_len: usize,
    /// Payload bytes produced so far.
    body_len: u64,
    /// The trailer section's scanner.
    fields: FieldScanner,
    /// Limit on the extensions of one size line.
    max_extension_len: usize,
    /// Limit on the trailer section.
    max_trailer_len: usize,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkedDecoder {
    /// A decoder at the start of a body, with the default limits.
    ///
    /// ```
    /// use peregrine_core::chunked::ChunkedDecoder;
    ///
    /// let decoder = ChunkedDecoder::new();
    /// assert!(!decoder.is_done());
    /// assert_eq!(decoder.body_len(), 0);
    /// ```
    pub const fn new() -> Self {
        ChunkedDecoder {
            state: State::Size,
            digits: 0,
            size: 0,
            line_len: 0,
            body_len: 0,
            fields: FieldScanner::new(),
            max_extension_len: DEFAULT_MAX_EXTENSION_LEN,
            max_trailer_len: DEFAULT_MAX_TRAILER_LEN,
        }
    }

    /// Sets the limit on the chunk extensions of each chunk-size line, in
    /// bytes from the end of the size to the CR ([`Error::InvalidChunkSize`]
    /// beyond it). Zero forbids extensions.
    ///
    /// ```
    /// use peregrine_core::Error;
    /// use peregrine_core::chunked::ChunkedDecoder;
    ///
    /// let mut decoder = ChunkedDecoder::new().with_max_extension_len(4);
    /// assert!(decoder.decode_in_place(&mut b"1;a=b\r\n".to_vec()).is_ok());
    /// assert_eq!(
    ///     decoder.decode_in_place(&mut b"x\r\n1;a=bc\r\n".to_vec()),
    ///     Err(Error::InvalidChunkSize)
    /// );
    /// ```
    pub const fn with_max_extension_len(mut self, len: usize) -> Self {
        self.max_extension_len = len;
        self
    }

    /// Sets the limit on the trailer section, in bytes of field lines with
    /// their CRLFs, not counting the empty line that ends the section
    /// ([`Error::TrailersTooLarge`] beyond it). Zero forbids trailer fields.
    ///
    /// ```
    /// use peregrine_core::Error;
    /// use peregrine_core::chunked::ChunkedDecoder;
    ///
    /// let mut decoder = ChunkedDecoder::new().with_max_trailer_len(0);
    /// assert!(decoder.decode_in_place(&mut b"0\r\n\r\n".to_vec()).unwrap().done);
    ///
    /// let mut decoder = ChunkedDecoder::new().with_max_trailer_len(0);
    /// assert_eq!(
    ///     decoder.decode_in_place(&mut b"0\r\nA: b\r\n\r\n".to_vec()),
    ///     Err(Error::TrailersTooLarge)
    /// );
    /// ```
    pub const fn with_max_trailer_len(mut self, len: usize) -> Self {
        self.max_trailer_len = len;
        self
    }

    /// Whether the body is complete.
    ///
    /// ```
    /// use peregrine_core::chunked::ChunkedDecoder;
    ///
    /// let mut decoder = ChunkedDecoder::new();
    /// decoder.decode_in_place(&mut b"0\r\n".to_vec()).unwrap();
    /// assert!(!decoder.is_done()); // the trailer section is still open
    /// decoder.decode_in_place(&mut b"\r\n".to_vec()).unwrap();
    /// assert!(decoder.is_done());
    /// ```
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Payload bytes produced so far, over all calls.
    ///
    /// The decoder sets no limit on the payload: the caller compares this
    /// with its body limit after each call and answers
    /// [`Error::BodyTooLarge`] (413) beyond it.
    ///
    /// ```
    /// use peregrine_core::chunked::ChunkedDecoder;
    ///
    /// let mut decoder = ChunkedDecoder::new();
    /// decoder.decode_in_place(&mut b"a\r\n0123".to_vec()).unwrap();
    /// assert_eq!(decoder.body_len(), 4);
    /// ```
    pub fn body_len(&self) -> u64 {
        self.body_len
    }

    /// Payload bytes produced so far plus those the current chunk's size
    /// line announced and not yet produced: a lower bound on the body's
    /// final length, known as soon as the size digits arrive, so a caller
    /// can refuse a chunk announcing more than its body limit before
    /// waiting for its data.
    ///
    /// ```
    /// use peregrine_core::chunked::ChunkedDecoder;
    ///
    /// let mut decoder = ChunkedDecoder::new();
    /// decoder.decode_in_place(&mut b"4001\r\nab".to_vec()).unwrap();
    /// assert_eq!(decoder.body_len(), 2);
    /// assert_eq!(decoder.announced_len(), 0x4001);
    /// let mut decoder = ChunkedDecoder::new();
    /// decoder.decode_in_place(&mut b"ffffffffffffffff".to_vec()).unwrap();
    /// assert_eq!(decoder.announced_len(), u64::MAX);
    /// ```
    pub fn announced_len(&self) -> u64 {
        self.body_len.saturating_add(self.size)
    }

    /// Forgets the current body, keeping the limits, to decode the next one.
    ///
    /// ```
    /// use peregrine_core::chunked::ChunkedDecoder;
    ///
    /// let mut decoder = ChunkedDecoder::new();
    /// assert!(decoder.decode_in_place(&mut b"0\r\n\r\n".to_vec()).unwrap().done);
    /// decoder.reset();
    /// assert!(!decoder.is_done());
    /// assert_eq!(decoder.body_len(), 0);
    /// ```
    pub fn reset(&mut self) {
        *self = Self::new()
            .with_max_extension_len(self.max_extension_len)
            .with_max_trailer_len(self.max_trailer_len);
    }

    /// Decodes `buf` in place, continuing from the previous call: reads the
    /// encoded bytes and writes the payload they carry to `buf[..produced]`.
    ///
    /// Unless the body ends inside `buf`, all of it is consumed. When it
    /// ends, `done` is true and `buf[consumed..]`, the bytes after the body,
    /// is left untouched. See the [module documentation](self).
    ///
    /// ```
    /// use peregrine_core::chunked::{ChunkedDecoder, Decoded};
    ///
    /// let mut decoder = ChunkedDecoder::new();
    /// let mut buf = *b"3\r\nabc\r\n0\r\n\r\nnext";
    /// let step = decoder.decode_in_place(&mut buf).unwrap();
    /// assert_eq!(step, Decoded { consumed: 13, produced: 3, done: true });
    /// assert_eq!(&buf[..3], b"abc");
    /// assert_eq!(&buf[13..], b"next");
    ///
    /// // Once done, the decoder reads nothing more.
    /// let step = decoder.decode_in_place(&mut buf).unwrap();
    /// assert_eq!(step, Decoded { consumed: 0, produced: 0, done: true });
    /// ```
    pub fn decode_in_place(&mut self, buf: &mut [u8]) -> Result<Decoded, Error> {
        match self.state {
            State::Done => {
                return Ok(Decoded {
                    consumed: 0,
                    produced: 0,
                    done: true,
                });
            }
            State::Failed(error) => return Err(error),
            _ => {}
        }
        let mut pos = 0;
        let mut out = 0;
        match self.run(buf, &mut pos, &mut out) {
            Ok(done) => {
                debug_assert!(done || pos == buf.len());
                debug_assert!(out <= pos);
                self.body_len = self.body_len.saturating_add(out as u64);
                if done {
                    self.state = State::Done;
                }
                Ok(Decoded {
                    consumed: pos,
                    produced: out,
                    done,
                })
            }
            Err(error) => {
                self.state = State::Failed(error);
                Err(error)
            }
        }
    }

    /// The state machine: reads `buf` from `*pos`, writes payload at `*out`;
    /// `Ok(true)` when the body is complete.
    #[inline(always)]
    fn run(&mut self, buf: &mut [u8], pos: &mut usize, out: &mut usize) -> Result<bool, Error> {
        loop {
            match self.state {
                State::Data => {
                    let left = buf.len() - *pos;
                    if left == 0 {
                        return Ok(false);
                    }
                    // `size` is not zero here; the cast is exact as the
                    // minimum is at most `left`.
                    let take = self.size.min(left as u64) as usize;
                    if *out != *pos {
                        buf.copy_within(*pos..*pos + take, *out);
                    }
                    *pos += take;
                    *out += take;
                    self.size -= take as u64;
                    if self.size == 0 {
                        self.state = State::DataCarriageReturn;
                    }
                    continue;
                }
                State::Trailers => return self.run_trailers(buf, pos),
                _ => {}
            }
            let Some(&byte) = buf.get(*pos) else {
                return Ok(false);
            };
            *pos += 1;
            match self.state {
                State::Size => self.size_byte(byte)?,
                State::SizeLineFeed => {
                    if byte != b'\n' {
                        return Err(Error::BareCarriageReturn);
                    }
                    if self.size == 0 {
                        self.state = State::Trailers;
                        self.line_len = 0;
                        self.fields = FieldScanner::new();
                    } else {
                        self.state = State::Data;
                    }
                }
                State::DataCarriageReturn => match byte {
                    b'\r' => self.state = State::DataLineFeed,
                    b'\n' => return Err(Error::BareLineFeed),
                    _ => return Err(Error::InvalidChunkData),
                },
                State::DataLineFeed => {
                    if byte != b'\n' {
                        return Err(Error::BareCarriageReturn);
                    }
                    self.state = State::Size;
                    self.digits = 0;
                    self.size = 0;
                }
                State::Data | State::Trailers | State::Done | State::Failed(_) => {
                    unreachable!("handled above or before the loop")
                }
                _ => self.extension_byte(byte)?,
            }
        }
    }

    /// Takes one byte of a chunk size.
    #[inline(always)]
    fn size_byte(&mut self, byte: u8) -> Result<(), Error> {
        if let Some(digit) = hex_value(byte) {
            if self.digits == MAX_SIZE_DIGITS || self.size > u64::MAX >> 4 {
                return Err(Error::InvalidChunkSize);
            }
            self.digits += 1;
            self.size = self.size << 4 | u64::from(digit);
            return Ok(());
        }
        if self.digits == 0 {
            return Err(Error::InvalidChunkSize);
        }
        match byte {
            b'\r' => self.state = State::SizeLineFeed,
            b'\n' => return Err(Error::BareLineFeed),
            _ => {
                // Extensions start, with BWS or `;`.
                self.state = State::ExtBeforeSemicolon;
                self.line_len = 0;
                self.extension_byte(byte)?;
            }
        }
        Ok(())
    }

    /// Takes one byte of the chunk extensions (the `Ext*` states).
    fn extension_byte(&mut self, byte: u8) -> Result<(), Error> {
        use State::*;
        let is_ws = byte == b' ' || byte == b'\t';
        // The line may end after a name or a value.
        if matches!(self.state, ExtName | ExtToken | ExtAfterQuoted) {
            match byte {
                b'\r' => {
                    self.state = SizeLineFeed;
                    return Ok(());
                }
                b'\n' => return Err(Error::BareLineFeed),
                _ => {}
            }
        }
        self.line_len += 1;
        if self.line_len > self.max_extension_len {
            return Err(Error::InvalidChunkSize);
        }
        self.state = match (self.state, byte) {
            (ExtBeforeSemicolon | ExtBeforeName | ExtAfterName | ExtBeforeValue, _) if is_ws => {
                self.state
            }
            (ExtBeforeSemicolon | ExtName | ExtAfterName | ExtToken | ExtAfterQuoted, b';') => {
                ExtBeforeName
            }
            (ExtBeforeName, _) if scan::is_tchar(byte) => ExtName,
            (ExtName, _) if scan::is_tchar(byte) => ExtName,
            (ExtName, _) if is_ws => ExtAfterName,
            (ExtName | ExtAfterName, b'=') => ExtBeforeValue,
            (ExtBeforeValue, b'"') => ExtQuoted,
            (ExtBeforeValue | ExtToken, _) if scan::is_tchar(byte) => ExtToken,
            (ExtToken | ExtAfterQuoted, _) if is_ws => ExtBeforeSemicolon,
            (ExtQuoted, b'"') => ExtAfterQuoted,
            (ExtQuoted, b'\\') => ExtQuotedPair,
            (ExtQuoted, _) if is_qdtext(byte) => ExtQuoted,
            (ExtQuotedPair, _) if scan::is_value_byte(byte) => ExtQuoted,
            _ => return Err(Error::InvalidChunkSize),
        };
        Ok(())
    }

    /// Runs the field scanner over the trailer section; `Ok(true)` when it
    /// ends, with `*pos` just past its final CRLF.
    fn run_trailers(&mut self, buf: &[u8], pos: &mut usize) -> Result<bool, Error> {
        // The section may take `max_trailer_len` bytes of field lines plus
        // the 2 of the empty line; the scanner never sees a byte beyond
        // that, so an error inside the limit wins over the limit, however
        // the input is split.
        let budget = self.max_trailer_len.saturating_add(2) - self.line_len;
        let rest = &buf[*pos..];
        let window = &rest[..rest.len().min(budget)];
        let mut at = 0;
        loop {
            match self.fields.step(window, &mut at)? {
                // Trailer fields are validated, then discarded.
                Step::Field(_) => {}
                Step::End => {
                    *pos += at;
                    return Ok(true);
                }
                Step::Partial => break,
            }
        }
        // The scanner stops short only at the end of its input.
        *pos += at;
        self.line_len += at;
        if window.len() < rest.len() {
            return Err(Error::TrailersTooLarge);
        }
        Ok(false)
    }
}

/// The value of a hexadecimal digit.
#[inline(always)]
const fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Whether `byte` may stand unescaped in a quoted-string (RFC 9110 §5.6.4):
/// HTAB, SP, VCHAR but `"` and `\`, obs-text.
const fn is_qdtext(byte: u8) -> bool {
    scan::is_value_byte(byte) && byte != b'"' && byte != b'\\'
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::string::String;
    use std::vec::Vec;
    use std::{format, vec};

    /// What a caller ends up with: the payload and the offset where the body
    /// ended (`None` while incomplete), or the error.
    type Outcome = Result<(Vec<u8>, Option<usize>), Error>;

    /// A pipelined request to follow bodies with.
    const NEXT: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";

    /// Feeds `input` cut at the offsets `cuts` (ascending; others ignored)
    /// as a server would: each piece arrives in a buffer of its own, and the
    /// payload produced is kept elsewhere before the next call. Checks the
    /// contract of every call on the way.
    fn feed(mut decoder: ChunkedDecoder, input: &[u8], cuts: &[usize]) -> Outcome {
        let mut payload = Vec::new();
        let mut start = 0;
        let ends = cuts.iter().copied().chain([input.len()]);
        for end in ends.filter(|&end| end <= input.len()) {
            if end < start {
                continue;
            }
            let piece = &input[start..end];
            let mut buf = piece.to_vec();
            match decoder.decode_in_place(&mut buf) {
                Ok(step) => {
                    assert!(step.produced <= step.consumed);
                    payload.extend_from_slice(&buf[..step.produced]);
                    assert_eq!(decoder.body_len(), payload.len() as u64);
                    assert_eq!(decoder.is_done(), step.done);
                    if step.done {
                        // What follows the body is untouched.
                        assert_eq!(buf[step.consumed..], piece[step.consumed..]);
                        let again = decoder.decode_in_place(&mut buf);
                        let nothing = Decoded {
                            consumed: 0,
                            produced: 0,
                            done: true,
                        };
                        assert_eq!(again, Ok(nothing));
                        return Ok((payload, Some(start + step.consumed)));
                    }
                    assert_eq!(step.consumed, piece.len(), "all input is consumed");
                }
                Err(error) => {
                    // Errors are sticky.
                    assert_eq!(decoder.decode_in_place(&mut buf), Err(error));
                    assert_eq!(
                        decoder.decode_in_place(&mut b"0\r\n\r\n".to_vec()),
                        Err(error)
                    );
                    assert!(!decoder.is_done());
                    return Err(error);
                }
            }
            start = end;
        }
        Ok((payload, None))
    }

    /// Decodes `input` at once, then split in two at every position (or at
    /// many, for long inputs) and one byte at a time, checking that every
    /// split gives the same outcome; returns it.
    fn decode_with(decoder: ChunkedDecoder, input: &[u8]) -> Outcome {
        let whole = feed(decoder.clone(), input, &[]);
        let stride = if input.len() <= 600 { 1 } else { 97 };
        for cut in (0..=input.len()).step_by(stride) {
            let split = feed(decoder.clone(), input, &[cut]);
            assert_eq!(split, whole, "split at {cut}: {}", input.escape_ascii());
        }
        let bytewise: Vec<usize> = (0..input.len()).collect();
        let split = feed(decoder, input, &bytewise);
        assert_eq!(split, whole, "bytewise: {}", input.escape_ascii());
        whole
    }

    fn decode(input: &[u8]) -> Outcome {
        decode_with(ChunkedDecoder::new(), input)
    }

    /// The size a chunk-size line (ending in CRLF) announces.
    fn chunk_size_with(decoder: ChunkedDecoder, line: &[u8]) -> Result<u64, Error> {
        let mut decoder_at_once = decoder.clone();
        decoder_at_once.decode_in_place(&mut line.to_vec())?;
        // The same verdict over every split.
        assert_eq!(decode_with(decoder, line), Ok((vec![], None)));
        match decoder_at_once.state {
            State::Data => Ok(decoder_at_once.size),
            State::Trailers => Ok(0),
            state => panic!("{} left the decoder in {state:?}", line.escape_ascii()),
        }
    }

    fn chunk_size(line: &[u8]) -> Result<u64, Error> {
        chunk_size_with(ChunkedDecoder::new(), line)
    }

    /// Encodes `payload` in chunks of the sizes in `sizes` (cycled, each at
    /// least 1), adding `ext` to every size line and `trailers` (field lines)
    /// at the end.
    fn encode(payload: &[u8], sizes: &[usize], upper: bool, ext: &str, trailers: &str) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rest = payload;
        for &size in sizes.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let n = size.clamp(1, rest.len());
            let line = if upper {
                format!("{n:X}{ext}\r\n")
            } else {
                format!("{n:x}{ext}\r\n")
            };
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(&rest[..n]);
            out.extend_from_slice(b"\r\n");
            rest = &rest[n..];
        }
        out.extend_from_slice(format!("0{ext}\r\n{trailers}\r\n").as_bytes());
        out
    }

    fn done(payload: &[u8], input: &[u8]) -> Outcome {
        Ok((payload.to_vec(), Some(input.len())))
    }

    #[test]
    fn decoder_is_small() {
        assert!(core::mem::size_of::<ChunkedDecoder>() <= 64);
    }

    #[test]
    fn chunk_size_is_hex_digits() {
        // RFC 9112 §7.1: chunk-size = 1*HEXDIG, either case; leading zeros
        // are allowed; the value must fit u64.
        let long_zeros = format!("{}1\r\n", "0".repeat(63));
        let cases: &[(&[u8], u64)] = &[
            (b"0\r\n", 0),
            (b"000\r\n", 0),
            (b"1\r\n", 1),
            (b"a\r\n", 10),
            (b"A\r\n", 10),
            (b"fF\r\n", 255),
            (b"DeadBeef\r\n", 0xdead_beef),
            (b"0000000000000000001\r\n", 1),
            (b"ffffffffffffffff\r\n", u64::MAX),
            (b"0FFFFFFFFFFFFFFFF\r\n", u64::MAX),
            (long_zeros.as_bytes(), 1), // 64 digits: the most allowed
        ];
        for &(line, size) in cases {
            assert_eq!(chunk_size(line), Ok(size), "{}", line.escape_ascii());
        }
    }

    #[test]
    fn chunk_size_rejects_everything_else() {
        use Error::*;
        let too_many_zeros = format!("{}1\r\n", "0".repeat(64));
        let cases: &[(&[u8], Error)] = &[
            // Overflow of u64: no wrap-around.
            (b"10000000000000000\r\n", InvalidChunkSize),
            (b"fffffffffffffffff\r\n", InvalidChunkSize),
            (b"ffffffffffffffff0\r\n", InvalidChunkSize),
            // More than 64 digits, even if only zeros.
            (too_many_zeros.as_bytes(), InvalidChunkSize),
            // Prefixes, signs, whitespace.
            (b"0x5\r\n", InvalidChunkSize),
            (b"0X5\r\n", InvalidChunkSize),
            (b"x5\r\n", InvalidChunkSize),
            (b"+5\r\n", InvalidChunkSize),
            (b"-5\r\n", InvalidChunkSize),
            (b" 5\r\n", InvalidChunkSize),
            (b"\t5\r\n", InvalidChunkSize),
            (b"5 \r\n", InvalidChunkSize),
            (b"5\t\r\n", InvalidChunkSize),
            (b"5 5\r\n", InvalidChunkSize),
            (b"1_0\r\n", InvalidChunkSize),
            (b"5g\r\n", InvalidChunkSize),
            (b"g\r\n", InvalidChunkSize),
            // No digits at all.
            (b"\r\n", InvalidChunkSize),
            (b"\n", InvalidChunkSize),
            (b";a\r\n", InvalidChunkSize),
            // Strict CRLF.
            (b"5\n", BareLineFeed),
            (b"5\rx", BareCarriageReturn),
            (b"5\r\r\n", BareCarriageReturn),
        ];
        for &(line, error) in cases {
            assert_eq!(chunk_size(line), Err(error), "{}", line.escape_ascii());
        }
    }

    #[test]
    fn chunk_extensions_follow_the_grammar() {
        // RFC 9112 §7.1.1: *( BWS ";" BWS name [ BWS "=" BWS value ] ),
        // name a token, value a token or a quoted-string.
        let accepted: &[&[u8]] = &[
            b"5;a\r\n",
            b"5;a=b\r\n",
            b"5 ;a\r\n",
            b"5\t;\ta\r\n",
            b"5 \t ; a = b\r\n",
            b"5;a;b=c;d=\"\"\r\n",
            b"5;name=\"quoted \\\"string\\\" \t\"\r\n",
            b"5;a=\"\\\t\\\x80\x80\"\r\n",
            b"5;a=\"x\" ;b\r\n",
            b"5;!#$%&'*+-.^_`|~=!#$%&'*+-.^_`|~\r\n",
        ];
        for &line in accepted {
            assert_eq!(chunk_size(line), Ok(5), "{}", line.escape_ascii());
        }
        use Error::*;
        let rejected: &[(&[u8], Error)] = &[
            (b"5;\r\n", InvalidChunkSize),
            (b"5;;a\r\n", InvalidChunkSize),
            (b"5;a=\r\n", InvalidChunkSize),
            (b"5;a \r\n", InvalidChunkSize),
            (b"5;a= \r\n", InvalidChunkSize),
            (b"5;a=b \r\n", InvalidChunkSize),
            (b"5;a=\"x\" \r\n", InvalidChunkSize),
            (b"5;a b\r\n", InvalidChunkSize),
            (b"5;a=b c\r\n", InvalidChunkSize),
            (b"5;a==b\r\n", InvalidChunkSize),
            (b"5;a=\"x\"y\r\n", InvalidChunkSize),
            (b"5;(a)\r\n", InvalidChunkSize),
            (b"5;a=\x01\r\n", InvalidChunkSize),
            (b"5;a=\"x\r\n", InvalidChunkSize),
            (b"5;a=\"\x00\"\r\n", InvalidChunkSize),
            (b"5;a=\"\x7f\"\r\n", InvalidChunkSize),
            (b"5;a=\"\\\x01\"\r\n", InvalidChunkSize),
            (b"5;a=\"\\\r\n", InvalidChunkSize),
            (b"5 a\r\n", InvalidChunkSize),
            (b"5;a\n", BareLineFeed),
            (b"5;a=b\n", BareLineFeed),
            (b"5;a=\"b\"\n", BareLineFeed),
            (b"5;a=b\rx", BareCarriageReturn),
        ];
        for &(line, error) in rejected {
            assert_eq!(chunk_size(line), Err(error), "{}", line.escape_ascii());
        }
    }

    #[test]
    fn chunk_extensions_are_bounded() {
        // Bytes from the end of the size to the CR, whitespace included.
        let ext = |len: usize| format!(";{}", "a".repeat(len - 1));
        for limit in [2, 3, 10, DEFAULT_MAX_EXTENSION_LEN] {
            let decoder = if limit == DEFAULT_MAX_EXTENSION_LEN {
                ChunkedDecoder::new()
            } else {
                ChunkedDecoder::new().with_max_extension_len(limit)
            };
            let at_limit = format!("5{}\r\n", ext(limit));
            let beyond = format!("5{}\r\n", ext(limit + 1));
            assert_eq!(chunk_size_with(decoder.clone(), at_limit.as_bytes()), Ok(5));
            assert_eq!(
                chunk_size_with(decoder.clone(), beyond.as_bytes()),
                Err(Error::InvalidChunkSize),
                "limit {limit}"
            );
            // Found before the line ends.
            let unterminated = format!("5{}", ext(limit + 1));
            let mut buf = unterminated.into_bytes();
            assert_eq!(
                decoder.clone().decode_in_place(&mut buf),
                Err(Error::InvalidChunkSize)
            );
        }
        let with = |len| ChunkedDecoder::new().with_max_extension_len(len);
        assert_eq!(chunk_size_with(with(3), b"5 ;a\r\n"), Ok(5));
        assert_eq!(
            chunk_size_with(with(2), b"5 ;a\r\n"),
            Err(Error::InvalidChunkSize)
        );
        assert_eq!(chunk_size_with(with(4), b"5;a=b\r\n"), Ok(5));
        assert_eq!(
            chunk_size_with(with(3), b"5;a=b\r\n"),
            Err(Error::InvalidChunkSize)
        );
        assert_eq!(chunk_size_with(with(0), b"5\r\n"), Ok(5));
        assert_eq!(
            chunk_size_with(with(0), b"5;a\r\n"),
            Err(Error::InvalidChunkSize)
        );
        assert_eq!(
            chunk_size_with(with(1), b"5;a\r\n"),
            Err(Error::InvalidChunkSize)
        );
        // The last chunk's extensions are bounded too.
        assert_eq!(
            chunk_size_with(with(2), b"0;ab\r\n"),
            Err(Error::InvalidChunkSize)
        );
    }

    #[test]
    fn chunk_data_is_followed_by_crlf() {
        // RFC 9112 §7.1: chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF.
        let body = b"5\r\nhello\r\n0\r\n\r\n";
        assert_eq!(decode(body), done(b"hello", body));
        let body = b"5\r\nhello\r\n1\r\n\0\r\n0\r\n\r\n";
        assert_eq!(decode(body), done(b"hello\0", body));
        use Error::*;
        let cases: &[(&[u8], Error)] = &[
            (b"5\r\nhelloX", InvalidChunkData),
            (b"3\r\nhello\r\n0\r\n\r\n", InvalidChunkData), // more data than announced
            (b"5\r\nhel\r\n0\r\n\r\n", InvalidChunkData),   // less data than announced
            (b"5\r\nhello\n", BareLineFeed),
            (b"5\r\nhello\rX", BareCarriageReturn),
            (b"5\r\nhello\r\r\n", BareCarriageReturn),
            (b"5\r\nhello\r\n\r\n", InvalidChunkSize), // a size line without size
        ];
        for &(body, error) in cases {
            assert_eq!(decode(body), Err(error), "{}", body.escape_ascii());
        }
    }

    #[test]
    fn last_chunk_then_trailer_section() {
        // RFC 9112 §7.1: last-chunk trailer-section CRLF; §7.1.2: trailer
        // fields are field lines, checked as header fields are, then dropped.
        let accepted: &[&[u8]] = &[
            b"0\r\n\r\n",
            b"000\r\n\r\n",
            b"0;a=b\r\n\r\n",
            b"0\r\nA: b\r\n\r\n",
            b"0\r\nA:\r\n\r\n",
            b"0\r\nExpires: x\r\nC-D:\t e  f \t\r\n\r\n",
            b"0\r\nA: b  \r\nC: \x80\xff\r\n\r\n",
        ];
        for &body in accepted {
            assert_eq!(decode(body), done(b"", body), "{}", body.escape_ascii());
        }
        use Error::*;
        let rejected: &[(&[u8], Error)] = &[
            (b"0\n", BareLineFeed),
            (b"0\r\n\n", BareLineFeed),
            (b"0\r\n\rX", BareCarriageReturn),
            (b"0\r\nA : b\r\n\r\n", WhitespaceBeforeColon),
            (b"0\r\nA\t: b\r\n\r\n", WhitespaceBeforeColon),
            (b"0\r\n A: b\r\n\r\n", ObsoleteLineFolding),
            (b"0\r\nA: b\r\n c\r\n\r\n", ObsoleteLineFolding),
            (b"0\r\nA: b\n\r\n", BareLineFeed),
            (b"0\r\nA: b\r\n\n", BareLineFeed),
            (b"0\r\nA: b\rX\r\n\r\n", BareCarriageReturn),
            (b"0\r\nA: \0\r\n\r\n", InvalidHeaderValue),
            (b"0\r\nA: b\x7f\r\n\r\n", InvalidHeaderValue),
            (b"0\r\n: b\r\n\r\n", InvalidHeaderName),
            (b"0\r\nA(: b\r\n\r\n", InvalidHeaderName),
            (b"0\r\nAB\r\n\r\n", InvalidHeaderName),
        ];
        for &(body, error) in rejected {
            assert_eq!(decode(body), Err(error), "{}", body.escape_ascii());
        }
        // Incomplete: not done, no error.
        for body in [
            &b"0\r\n"[..],
            b"0\r\nA: b\r\n",
            b"0\r\n\r",
            b"0\r\nA: b  \r",
        ] {
            assert_eq!(decode(body), Ok((vec![], None)), "{}", body.escape_ascii());
        }
    }

    #[test]
    fn trailer_section_is_bounded() {
        // Field lines with their CRLFs count; the final empty line does not.
        let with = |len| ChunkedDecoder::new().with_max_trailer_len(len);
        let body = b"0\r\nA: b\r\n\r\n";
        assert_eq!(decode_with(with(6), body), done(b"", body));
        assert_eq!(decode_with(with(5), body), Err(Error::TrailersTooLarge));
        let body = b"1\r\nx\r\n0\r\nA: b\r\nC: d\r\n\r\n";
        assert_eq!(decode_with(with(12), body), done(b"x", body));
        assert_eq!(decode_with(with(11), body), Err(Error::TrailersTooLarge));
        let body = b"0\r\n\r\n";
        assert_eq!(decode_with(with(0), body), done(b"", body));
        let body = b"0\r\nA: b\r\n\r\n";
        assert_eq!(decode_with(with(0), body), Err(Error::TrailersTooLarge));

        // The default, at the limit and one byte beyond.
        let field = |len: usize| format!("X: {}\r\n", "v".repeat(len - 5));
        let body = format!("0\r\n{}\r\n", field(DEFAULT_MAX_TRAILER_LEN));
        assert_eq!(decode(body.as_bytes()), done(b"", body.as_bytes()));
        let body = format!("0\r\n{}\r\n", field(DEFAULT_MAX_TRAILER_LEN + 1));
        assert_eq!(decode(body.as_bytes()), Err(Error::TrailersTooLarge));

        // Found before the section ends.
        let mut buf = format!("0\r\nX: {}", "v".repeat(DEFAULT_MAX_TRAILER_LEN)).into_bytes();
        let result = ChunkedDecoder::new().decode_in_place(&mut buf);
        assert_eq!(result, Err(Error::TrailersTooLarge));

        // A malformed line inside the limit is reported as such, however
        // the input is split.
        let body = b"0\r\nA : b but long enough to pass the limit\r\n\r\n";
        assert_eq!(
            decode_with(with(6), body),
            Err(Error::WhitespaceBeforeColon)
        );
    }

    #[test]
    fn pipelined_request_follows_the_body() {
        let bodies: &[&[u8]] = &[
            b"0\r\n\r\n",
            b"4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n",
            b"4;a=b\r\nWiki\r\n0;c\r\nT: v\r\n\r\n",
        ];
        for &body in bodies {
            let input = [body, NEXT].concat();
            let (payload, end) = decode(&input).unwrap();
            assert_eq!(end, Some(body.len()));
            assert_eq!(&input[body.len()..][..1], b"G");
            let mut buf = input.clone();
            let step = ChunkedDecoder::new().decode_in_place(&mut buf).unwrap();
            assert!(step.done);
            assert_eq!(step.consumed, body.len());
            assert_eq!(&buf[..step.produced], &payload[..]);
            assert_eq!(&buf[step.consumed..], NEXT);
        }
    }

    #[test]
    fn split_invariance() {
        let payload: Vec<u8> = (0..=255).cycle().take(700).collect();
        let bodies = [
            encode(b"", &[1], false, "", ""),
            encode(b"Wikipedia", &[4, 5], false, ";lang=en", "Checksum: 1f\r\n"),
            encode(&payload[..200], &[1, 2, 3, 5, 8, 13], false, "", ""),
            encode(
                &payload,
                &[255, 17, 1],
                true,
                " ; q = \"a\\\"b\" ;x",
                "A: b \r\nC:\r\n",
            ),
            encode(&payload[..40], &[7], true, "", "Trailing-Space: v \t \r\n"),
            b"00004\r\nWiki\r\n0000\r\n\r\n".to_vec(),
        ];
        for body in &bodies {
            let input = [&body[..], NEXT].concat();
            // `decode` checks every split against the whole.
            let (payload, end) = decode(&input).unwrap();
            assert_eq!(end, Some(body.len()));
            assert!(!payload.is_empty() || body.starts_with(b"0\r\n"));
        }
        let (decoded, _) = decode(&[&bodies[3][..], NEXT].concat()).unwrap();
        assert_eq!(decoded, payload);
    }

    #[test]
    fn trailer_line_feed_may_start_a_call() {
        // The scanner trims a value looking back from its CR; the CR may be
        // in the previous call's buffer.
        for first in [&b"0\r\nA: b  \r"[..], b"0\r\nA: b\r", b"0\r\n\r"] {
            let mut decoder = ChunkedDecoder::new();
            let step = decoder.decode_in_place(&mut first.to_vec()).unwrap();
            assert!(!step.done);
            let rest: &[u8] = if first.ends_with(b"\r\n\r") {
                b"\n"
            } else {
                b"\n\r\n"
            };
            let step = decoder.decode_in_place(&mut rest.to_vec()).unwrap();
            assert_eq!(step.consumed, rest.len());
            assert!(step.done);
        }
    }

    #[test]
    fn large_chunks_are_moved_whole() {
        let payload: Vec<u8> = (0..=255).cycle().take(1 << 20).collect();
        let body = encode(&payload, &[1 << 19], false, "", "");
        let mut buf = body.clone();
        let step = ChunkedDecoder::new().decode_in_place(&mut buf).unwrap();
        assert_eq!(step.consumed, body.len());
        assert_eq!(&buf[..step.produced], &payload[..]);
    }

    #[test]
    fn reset_keeps_the_limits() {
        let mut decoder = ChunkedDecoder::new().with_max_trailer_len(0);
        assert_eq!(
            decoder.decode_in_place(&mut b"0\r\nA: b\r\n\r\n".to_vec()),
            Err(Error::TrailersTooLarge)
        );
        decoder.reset();
        assert_eq!(
            decoder.decode_in_place(&mut b"0\r\nA: b\r\n\r\n".to_vec()),
            Err(Error::TrailersTooLarge)
        );
        decoder.reset();
        let step = decoder
            .decode_in_place(&mut b"1\r\nx\r\n0\r\n\r\n".to_vec())
            .unwrap();
        assert_eq!(decoder.body_len(), 1);
        assert!(step.done);
    }

    /// Sorted cut points within `len`.
    fn cuts(mut raw: Vec<usize>, len: usize) -> Vec<usize> {
        for cut in &mut raw {
            *cut %= len + 1;
        }
        raw.sort_unstable();
        raw
    }

    proptest! {
        #[test]
        fn encoded_payloads_decode_under_any_split(
            payload in proptest::collection::vec(any::<u8>(), 0..1500),
            sizes in proptest::collection::vec(1usize..300, 1..8),
            upper in any::<bool>(),
            ext in prop_oneof![Just(""), Just(";a"), Just(" ;a=\"b c\" ; d = e")],
            trailers in prop_oneof![Just(""), Just("A: b\r\n"), Just("A: b \r\nC:\r\n")],
            raw_cuts in proptest::collection::vec(any::<usize>(), 0..8),
        ) {
            let body = encode(&payload, &sizes, upper, ext, trailers);
            let input = [&body[..], NEXT].concat();
            let cuts = cuts(raw_cuts, input.len());
            let outcome = feed(ChunkedDecoder::new(), &input, &cuts);
            prop_assert_eq!(outcome, Ok((payload, Some(body.len()))));
        }

        #[test]
        fn arbitrary_bytes_never_panic(
            input in proptest::collection::vec(any::<u8>(), 0..300),
            raw_cuts in proptest::collection::vec(any::<usize>(), 0..6),
        ) {
            let whole = feed(ChunkedDecoder::new(), &input, &[]);
            let cuts = cuts(raw_cuts, input.len());
            prop_assert_eq!(feed(ChunkedDecoder::new(), &input, &cuts), whole);
        }

        #[test]
        fn near_valid_bytes_never_panic(
            // Bytes that matter to the grammar, so that inputs get deep.
            input in "([0-9a-fA-F;= \t\"\\\\\r\nxX:A\x00\x7f]|0\r\n|\r\n){0,80}",
            max_extension_len in 0usize..8,
            max_trailer_len in 0usize..16,
            raw_cuts in proptest::collection::vec(any::<usize>(), 0..6),
        ) {
            let decoder = ChunkedDecoder::new()
                .with_max_extension_len(max_extension_len)
                .with_max_trailer_len(max_trailer_len);
            let input = input.as_bytes();
            let whole = feed(decoder.clone(), input, &[]);
            let cuts = cuts(raw_cuts, input.len());
            prop_assert_eq!(feed(decoder, input, &cuts), whole);
        }

        #[test]
        fn mutated_bodies_never_panic(
            payload in proptest::collection::vec(any::<u8>(), 0..100),
            sizes in proptest::collection::vec(1usize..40, 1..4),
            edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<bool>()), 1..4),
            raw_cuts in proptest::collection::vec(any::<usize>(), 0..6),
        ) {
            let mut input = encode(&payload, &sizes, false, ";e=\"v\"", "T: v\r\n");
            for (at, byte, insert) in edits {
                let at = at % (input.len() + 1);
                if insert || at == input.len() {
                    input.insert(at, byte);
                } else {
                    input[at] = byte;
                }
            }
            let whole = feed(ChunkedDecoder::new(), &input, &[]);
            let cuts = cuts(raw_cuts, input.len());
            prop_assert_eq!(feed(ChunkedDecoder::new(), &input, &cuts), whole);
        }

        #[test]
        fn valid_size_lines_agree_with_httparse(
            digits in "[0-9a-fA-F]{1,16}",
            ext in r#"([ \t]{0,2};[ \t]{0,2}[a-z!~]{1,3}([ \t]{0,2}=[ \t]{0,2}([a-z]{1,3}|"([a-z ]|\\[a-z"\\]){0,3}"))?){0,4}"#,
        ) {
            let line = format!("{digits}{ext}\r\n");
            let ours = chunk_size(line.as_bytes());
            let theirs = httparse::parse_chunk_size(line.as_bytes());
            let theirs = theirs.map(|status| status.unwrap());
            prop_assert_eq!(ours, Ok(u64::from_str_radix(&digits, 16).unwrap()));
            prop_assert_eq!(theirs, Ok((line.len(), ours.unwrap())));
        }

        #[test]
        fn accepted_size_lines_are_accepted_by_httparse(
            line in "[0-9a-fA-F]{0,17}[0-9a-fA-F \t;=a\"\\\\xX+-]{0,10}",
        ) {
            // httparse is laxer (any extension bytes, whitespace after the
            // size), and counts leading zeros against 16 digits.
            let digits = line.bytes().take_while(u8::is_ascii_hexdigit).count();
            let line: String = line + "\r\n";
            if let (Ok(size), true) = (chunk_size(line.as_bytes()), digits <= 16) {
                let theirs = httparse::parse_chunk_size(line.as_bytes());
                prop_assert_eq!(theirs.map(|status| status.unwrap()), Ok((line.len(), size)));
            }
        }
    }
}
