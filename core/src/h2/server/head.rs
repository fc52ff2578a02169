//! A response head, as the [`Response`](crate::Response) builder wrote it
//! for HTTP/1.1, turned into an HPACK header block.
//!
//! Handlers build one response whatever the protocol, so the builder's
//! checks (names are tokens, values free of control bytes, the framing
//! and `Date` fields written by the connection) hold here too. The status
//! line becomes `:status`; names are lowercased in place (§8.2.1); the
//! connection-specific fields the builder may write (`Connection`,
//! `Keep-Alive`, `Transfer-Encoding`, §8.2.2) are left out.

use crate::h2::hpack::{EncodeError, Encoder, HeaderField};

/// `HTTP/1.1 ` before the status code.
const STATUS_AT: usize = 9;

/// Why a head could not be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum HeadError {
    /// Not a head the builder writes (cannot happen for a finished head).
    Malformed,
    /// The block does not fit the room given.
    TooLarge,
}

impl From<EncodeError> for HeadError {
    fn from(_: EncodeError) -> Self {
        HeadError::TooLarge
    }
}

/// The length of the head at the start of `bytes` (through its blank
/// line), if it is there.
pub(super) fn head_len(bytes: &[u8]) -> Option<usize> {
    memchr::memmem::find(bytes, b"\r\n\r\n").map(|at| at + 4)
}

/// Encodes `head` (an HTTP/1.1 response head, blank line included) as a
/// header block into `out` with `encoder`; returns the block's length.
/// The head's names are lowercased in place.
pub(super) fn encode_head<const CAPACITY: usize>(
    head: &mut [u8],
    encoder: &mut Encoder<CAPACITY>,
    out: &mut [u8],
) -> Result<usize, HeadError> {
    let fields_at = line_end(head, 0).ok_or(HeadError::Malformed)? + 2;
    if fields_at < STATUS_AT + 3 + 2 {
        return Err(HeadError::Malformed);
    }
    lowercase_names(&mut head[fields_at..]);
    let head = &*head;
    let status = &head[STATUS_AT..STATUS_AT + 3];
    let fields = Lines {
        rest: &head[fields_at..],
    }
    .filter(|field| !is_connection_specific(field.name));
    let all = core::iter::once(HeaderField::new(b":status", status)).chain(fields);
    // Checked first: a block cut short would leave the encoder's table
    // ahead of the peer's.
    if encoder.max_block_len(all.clone()) > out.len() {
        return Err(HeadError::TooLarge);
    }
    Ok(encoder.encode_block(all, out)?)
}

/// The position of the CRLF ending the line that starts at `from`.
fn line_end(bytes: &[u8], from: usize) -> Option<usize> {
    memchr::memchr(b'\r', bytes.get(from..)?).map(|at| from + at)
}

/// Lowercases the name of every field line in `lines`.
fn lowercase_names(lines: &mut [u8]) {
    let mut at = 0;
    while at < lines.len() && lines[at] != b'\r' {
        while at < lines.len() && lines[at] != b':' {
            lines[at] = lines[at].to_ascii_lowercase();
            at += 1;
        }
        match memchr::memchr(b'\n', &lines[at..]) {
            Some(end) => at += end + 1,
            None => return,
        }
    }
}

/// Whether a response field is connection-specific (§8.2.2).
fn is_connection_specific(name: &[u8]) -> bool {
    matches!(
        name,
        b"connection" | b"keep-alive" | b"proxy-connection" | b"transfer-encoding" | b"upgrade"
    )
}

/// The field lines of a head, up to its blank line.
#[derive(Clone)]
struct Lines<'h> {
    /// What is left.
    rest: &'h [u8],
}

impl<'h> Iterator for Lines<'h> {
    type Item = HeaderField<'h>;

    fn next(&mut self) -> Option<HeaderField<'h>> {
        let end = memchr::memchr(b'\r', self.rest)?;
        let line = &self.rest[..end];
        self.rest = self.rest.get(end + 2..).unwrap_or_default();
        if line.is_empty() {
            self.rest = &[];
            return None;
        }
        let colon = memchr::memchr(b':', line)?;
        let value = line[colon + 1..].trim_ascii();
        Some(HeaderField::new(&line[..colon], value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h2::hpack::{DecodeError, Decoder};
    use std::vec::Vec;

    #[test]
    fn a_head_becomes_lowercase_fields_after_the_status() {
        let mut head = *b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nConnection: keep-alive\r\nX-Custom:  a b \r\nContent-Length: 5\r\n\r\n";
        assert_eq!(head_len(&head), Some(head.len()));
        let mut encoder = Encoder::<4096>::new();
        let mut block = [0; 256];
        let len = encode_head(&mut head, &mut encoder, &mut block).unwrap();
        let mut decoder = Decoder::<4096>::new();
        let mut out = [0; 512];
        let mut fields = Vec::new();
        decoder
            .decode(&block[..len], &mut out, |field| {
                fields.push((field.name.to_vec(), field.value.to_vec()));
                Ok::<_, DecodeError>(())
            })
            .unwrap();
        let expected: Vec<(Vec<u8>, Vec<u8>)> = [
            (&b":status"[..], &b"404"[..]),
            (b"content-type", b"text/plain"),
            (b"x-custom", b"a b"),
            (b"content-length", b"5"),
        ]
        .iter()
        .map(|(n, v)| (n.to_vec(), v.to_vec()))
        .collect();
        assert_eq!(fields, expected);
    }

    #[test]
    fn a_block_that_does_not_fit_is_refused() {
        let mut head =
            *b"HTTP/1.1 200 OK\r\nX-Long: 0123456789012345678901234567890123456789\r\n\r\n";
        let mut encoder = Encoder::<4096>::new();
        let mut block = [0; 16];
        assert_eq!(
            encode_head(&mut head, &mut encoder, &mut block),
            Err(HeadError::TooLarge)
        );
    }
}
