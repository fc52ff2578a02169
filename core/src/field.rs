//! The field-line scanner: one resumable state machine for a section of
//! `name: value CRLF` lines ended by an empty line (RFC 9112 §5).
//!
//! The request parser drives it over the header section and the chunked
//! decoder over the trailer section, so both apply exactly the same rules:
//!
//! - the name is a non-empty token, followed directly by `:` (whitespace
//!   before the colon is an error, §5.1);
//! - leading and trailing OWS (SP and HTAB) around the value are not part of
//!   it; the value may hold SP, HTAB, VCHAR and obs-text, nothing else;
//! - a line starting with whitespace is obsolete line folding (§5.2): an error;
//! - every line ends in CRLF: a bare LF or a CR without LF is an error.
//!
//! The scanner keeps its place in a few integers, so it can stop at any byte
//! when input runs out and continue when more arrives without looking at any
//! byte twice (only trailing whitespace is looked at again, when trimmed).
//!
//! Its verdicts never depend on positions, so a caller may hand it a new
//! buffer on each call (the chunked decoder consumes its input as it goes).
//! The ranges it returns are meaningful only when every call passed the same
//! buffer, growing, as the request parser does.

use crate::Error;
use crate::scan;

/// Where the scanner is inside the current line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// At the first byte of a line: a field name or the CR of the empty line.
    LineStart,
    /// Inside a field name.
    Name,
    /// After the colon, skipping leading whitespace.
    LeadingWhitespace,
    /// Inside the value.
    Value,
    /// After the CR that ends a field line.
    FieldLineFeed,
    /// After the CR of the empty line that ends the section.
    EndLineFeed,
}

/// A field found by [`FieldScanner::step`], as byte ranges of the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FieldRange {
    /// Start of the name.
    pub(crate) name_start: usize,
    /// End (exclusive) of the name.
    pub(crate) name_end: usize,
    /// Start of the value, after leading whitespace.
    pub(crate) value_start: usize,
    /// End (exclusive) of the value, before trailing whitespace.
    pub(crate) value_end: usize,
}

/// What one call of [`FieldScanner::step`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// The input ran out inside a line; call again with more.
    Partial,
    /// A complete field line.
    Field(FieldRange),
    /// The empty line that ends the section; the position is past its LF.
    End,
}

/// A resumable scanner over a field section.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FieldScanner {
    /// Where inside the line the scanner stopped.
    state: State,
    /// Start of the current name.
    name_start: u32,
    /// End of the current name.
    name_end: u32,
    /// Start of the current value.
    value_start: u32,
}

impl FieldScanner {
    /// A scanner positioned at the start of a section.
    pub(crate) const fn new() -> Self {
        FieldScanner {
            state: State::LineStart,
            name_start: 0,
            name_end: 0,
            value_start: 0,
        }
    }

    /// Scans `buf` from `*pos` until one field line is complete, the section
    /// ends, or the input runs out, leaving `*pos` just past what it read.
    ///
    /// Positions must fit in `u32`; callers bound their input accordingly.
    #[inline]
    pub(crate) fn step(&mut self, buf: &[u8], pos: &mut usize) -> Result<Step, Error> {
        // Work on local copies so the state stays in registers; it is
        // written back once, whatever the outcome.
        let mut at = *pos;
        let mut scanner = *self;
        let result = scanner.run(buf, &mut at);
        *self = scanner;
        *pos = at;
        result
    }

    /// The body of [`step`](Self::step), on a local cursor.
    ///
    /// The phases of a line run in order, each guarded by its state: a call
    /// resumes at the phase it stopped in and runs straight through the
    /// rest of the line, so a line that is all there is scanned with no
    /// dispatch between phases.
    #[inline(always)]
    fn run(&mut self, buf: &[u8], at: &mut usize) -> Result<Step, Error> {
        if self.state == State::LineStart {
            let Some(&byte) = buf.get(*at) else {
                return Ok(Step::Partial);
            };
            match byte {
                b'\r' => {
                    *at += 1;
                    self.state = State::EndLineFeed;
                }
                b' ' | b'\t' => return Err(Error::ObsoleteLineFolding),
                b'\n' => return Err(Error::BareLineFeed),
                _ if scan::is_tchar(byte) => {
                    self.name_start = *at as u32;
                    *at += 1;
                    self.state = State::Name;
                }
                _ => return Err(Error::InvalidHeaderName),
            }
        }
        if self.state == State::Name {
            // The name is not empty: `LineStart` took its first byte.
            *at = scan::token_end(buf, *at);
            let Some(&stop) = buf.get(*at) else {
                return Ok(Step::Partial);
            };
            match stop {
                b':' => {}
                b' ' | b'\t' => return Err(Error::WhitespaceBeforeColon),
                _ => return Err(Error::InvalidHeaderName),
            }
            self.name_end = *at as u32;
            *at += 1;
            self.state = State::LeadingWhitespace;
        }
        if self.state == State::LeadingWhitespace {
            while let Some(b' ' | b'\t') = buf.get(*at) {
                *at += 1;
            }
            if *at == buf.len() {
                return Ok(Step::Partial);
            }
            self.value_start = *at as u32;
            self.state = State::Value;
        }
        if self.state == State::Value {
            *at = scan::value_end(buf, *at);
            let Some(&stop) = buf.get(*at) else {
                return Ok(Step::Partial);
            };
            match stop {
                b'\r' => {}
                b'\n' => return Err(Error::BareLineFeed),
                _ => return Err(Error::InvalidHeaderValue),
            }
            *at += 1;
            self.state = State::FieldLineFeed;
        }
        let Some(&byte) = buf.get(*at) else {
            return Ok(Step::Partial);
        };
        if byte != b'\n' {
            return Err(Error::BareCarriageReturn);
        }
        *at += 1;
        let line_ended = core::mem::replace(&mut self.state, State::LineStart);
        if line_ended == State::EndLineFeed {
            return Ok(Step::End);
        }
        // The value ends before the CR; trailing OWS is not part of it. The
        // CR may have come in an earlier call on another buffer (the chunked
        // decoder's), so the LF can be at 0 and the value start stale.
        let mut value_end = (*at - 1).saturating_sub(1);
        let value_start = (self.value_start as usize).min(value_end);
        while value_end > value_start && matches!(buf[value_end - 1], b' ' | b'\t') {
            value_end -= 1;
        }
        Ok(Step::Field(FieldRange {
            name_start: self.name_start as usize,
            name_end: self.name_end as usize,
            value_start,
            value_end,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A field as (name, value).
    type Pair<'a> = (&'a [u8], &'a [u8]);

    /// Scans a whole section, returning its fields.
    fn scan_all(input: &[u8]) -> Result<std::vec::Vec<Pair<'_>>, Error> {
        let mut scanner = FieldScanner::new();
        let mut pos = 0;
        let mut fields = std::vec::Vec::new();
        loop {
            match scanner.step(input, &mut pos)? {
                Step::Field(f) => fields.push((
                    &input[f.name_start..f.name_end],
                    &input[f.value_start..f.value_end],
                )),
                Step::End => {
                    assert_eq!(pos, input.len());
                    return Ok(fields);
                }
                Step::Partial => panic!("section incomplete"),
            }
        }
    }

    #[test]
    fn trims_sp_and_htab_around_values() {
        // RFC 9112 §5: OWS before and after the value is not part of it.
        let fields = scan_all(b"A: \t x y \t\r\nB:\r\nC:\t\t\r\n\r\n").unwrap();
        assert_eq!(fields, [(&b"A"[..], &b"x y"[..]), (b"B", b""), (b"C", b"")]);
    }

    #[test]
    fn rejects_each_malformed_line() {
        let cases: &[(&[u8], Error)] = &[
            (b"A : x\r\n\r\n", Error::WhitespaceBeforeColon), // RFC 9112 §5.1
            (b"A\t: x\r\n\r\n", Error::WhitespaceBeforeColon),
            (b"A: x\r\n y\r\n\r\n", Error::ObsoleteLineFolding), // RFC 9112 §5.2
            (b"A: x\n\r\n", Error::BareLineFeed),                // RFC 9112 §2.2
            (b"A: x\r\n\n", Error::BareLineFeed),
            (b"A: x\ry\r\n\r\n", Error::BareCarriageReturn),
            (b"A: x\r\n\rx", Error::BareCarriageReturn),
            (b"A: x\0y\r\n\r\n", Error::InvalidHeaderValue), // RFC 9110 §5.5
            (b"A: x\x7fy\r\n\r\n", Error::InvalidHeaderValue),
            (b": x\r\n\r\n", Error::InvalidHeaderName), // RFC 9110 §5.1
            (b"A(B: x\r\n\r\n", Error::InvalidHeaderName),
            (b"AB\r\n\r\n", Error::InvalidHeaderName),
        ];
        for (input, error) in cases {
            assert_eq!(scan_all(input), Err(*error), "{}", input.escape_ascii());
        }
    }

    #[test]
    fn accepts_a_fresh_buffer_on_each_call() {
        // The chunked decoder hands over each piece of a trailer on its own:
        // a line end split between CR and LF must not look back before 0.
        let mut scanner = FieldScanner::new();
        let mut pos = 0;
        assert_eq!(scanner.step(b"Name: v \r", &mut pos), Ok(Step::Partial));
        pos = 0;
        assert!(matches!(
            scanner.step(b"\n\r\n", &mut pos),
            Ok(Step::Field(_))
        ));
        assert_eq!(scanner.step(b"\n\r\n", &mut pos), Ok(Step::End));
        assert_eq!(pos, 3);
    }

    #[test]
    fn resumes_at_every_split() {
        let input = b"Name: value \r\nOther:\tv2\r\n\r\n";
        let whole = scan_all(input).unwrap();
        for split in 0..input.len() {
            let mut scanner = FieldScanner::new();
            let mut pos = 0;
            let mut fields = std::vec::Vec::new();
            let mut visible = split;
            loop {
                match scanner.step(&input[..visible], &mut pos).unwrap() {
                    Step::Field(f) => fields.push((
                        &input[f.name_start..f.name_end],
                        &input[f.value_start..f.value_end],
                    )),
                    Step::End => break,
                    Step::Partial => visible = input.len(),
                }
            }
            assert_eq!(fields, whole, "split at {split}");
        }
    }
}
