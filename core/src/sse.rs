//! Server-Sent Events: framing events for a `text/event-stream` body
//! (the WHATWG HTML standard, §9.2 "Server-sent events"), written into the
//! buffer [`Handler::fill_body`](crate::Handler::fill_body) is given.
//!
//! An [`Event`] becomes its `event:`, `id:` and `retry:` lines, then one
//! `data:` line per line of its data (a CR, an LF or a CRLF in the data
//! starts a new line, as a browser splits them), then the blank line that
//! dispatches it. [`encode_comment`] writes a comment line, which clients
//! ignore: a heartbeat that keeps proxies from closing an idle stream, and
//! that tells the server when the client has left.
//!
//! ```
//! use peregrine_core::sse::{self, Event};
//!
//! let mut buf = [0; 128];
//! let event = Event {
//!     event: Some("price"),
//!     id: Some("42"),
//!     retry: None,
//!     data: "EUR 1.07\nUSD 1.00",
//! };
//! let n = sse::encode(&event, &mut buf).unwrap();
//! assert_eq!(
//!     &buf[..n],
//!     b"event: price\nid: 42\ndata: EUR 1.07\ndata: USD 1.00\n\n"
//! );
//! let n = sse::encode_comment("keep-alive", &mut buf).unwrap();
//! assert_eq!(&buf[..n], b": keep-alive\n\n");
//! ```

/// The media type of an event stream, for the `Content-Type` field.
pub const CONTENT_TYPE: &[u8] = b"text/event-stream";

/// One event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Event<'a> {
    /// The event type (`event:`); clients dispatch `message` without one.
    pub event: Option<&'a str>,
    /// The event id (`id:`), which a reconnecting client sends back as
    /// `Last-Event-ID`.
    pub id: Option<&'a str>,
    /// How long a client waits before reconnecting, in milliseconds
    /// (`retry:`).
    pub retry: Option<u32>,
    /// The data: one `data:` line per line.
    pub data: &'a str,
}

/// Why an event was not written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SseError {
    /// The buffer is too small for it: nothing usable was written (ask
    /// again with more room).
    BufferFull,
    /// An `event` or `id` (or a comment) holds a CR or LF, which would
    /// end its line early and let its text forge other fields; an `id`
    /// holds a NUL, which clients ignore the field for.
    InvalidField,
}

impl core::fmt::Display for SseError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            SseError::BufferFull => "the event does not fit the buffer",
            SseError::InvalidField => "an event field holds a line break",
        })
    }
}

/// Writes `event` at the start of `buf`; the bytes written.
///
/// # Errors
///
/// [`SseError::BufferFull`] if it does not fit, [`SseError::InvalidField`]
/// if its `event` or `id` holds a line break (or its `id` a NUL).
pub fn encode(event: &Event<'_>, buf: &mut [u8]) -> Result<usize, SseError> {
    let mut out = Writer { buf, len: 0 };
    if let Some(name) = event.event {
        check_line(name)?;
        out.line(b"event: ", name.as_bytes())?;
    }
    if let Some(id) = event.id {
        check_line(id)?;
        if id.contains('\0') {
            return Err(SseError::InvalidField);
        }
        out.line(b"id: ", id.as_bytes())?;
    }
    if let Some(retry) = event.retry {
        let mut digits = [0; 10];
        out.line(b"retry: ", decimal(retry, &mut digits))?;
    }
    for line in lines(event.data) {
        out.line(b"data: ", line)?;
    }
    out.put(b"\n")?;
    Ok(out.len)
}

/// Writes a comment line (`: text`, then the blank line) at the start of
/// `buf`; the bytes written. Clients ignore it.
///
/// # Errors
///
/// [`SseError::BufferFull`] if it does not fit, [`SseError::InvalidField`]
/// if `text` holds a line break.
pub fn encode_comment(text: &str, buf: &mut [u8]) -> Result<usize, SseError> {
    check_line(text)?;
    let mut out = Writer { buf, len: 0 };
    out.line(b": ", text.as_bytes())?;
    out.put(b"\n")?;
    Ok(out.len)
}

/// Refuses a field value with a line break.
fn check_line(value: &str) -> Result<(), SseError> {
    if value.bytes().any(|b| b == b'\r' || b == b'\n') {
        Err(SseError::InvalidField)
    } else {
        Ok(())
    }
}

/// The lines of `data` as a client splits them (CRLF, LF or CR); an empty
/// data is one empty line.
fn lines(data: &str) -> impl Iterator<Item = &[u8]> {
    let bytes = data.as_bytes();
    let mut at = Some(0);
    core::iter::from_fn(move || {
        let start = at?;
        let rest = &bytes[start..];
        match rest.iter().position(|&b| b == b'\r' || b == b'\n') {
            Some(end) => {
                let skip = if rest[end..].starts_with(b"\r\n") {
                    2
                } else {
                    1
                };
                at = Some(start + end + skip);
                Some(&rest[..end])
            }
            None => {
                at = None;
                Some(rest)
            }
        }
    })
}

/// `value` in decimal, in `digits`.
fn decimal(mut value: u32, digits: &mut [u8; 10]) -> &[u8] {
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            return &digits[at..];
        }
    }
}

/// Appends to a buffer, failing once it is full.
struct Writer<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl Writer<'_> {
    /// Appends `bytes`.
    fn put(&mut self, bytes: &[u8]) -> Result<(), SseError> {
        let end = self.len + bytes.len();
        let room = self
            .buf
            .get_mut(self.len..end)
            .ok_or(SseError::BufferFull)?;
        room.copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    /// Appends `name`, `value` and a line end.
    fn line(&mut self, name: &[u8], value: &[u8]) -> Result<(), SseError> {
        self.put(name)?;
        self.put(value)?;
        self.put(b"\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(event: &Event<'_>) -> Result<std::string::String, SseError> {
        let mut buf = [0; 256];
        let n = encode(event, &mut buf)?;
        Ok(std::string::String::from_utf8(buf[..n].to_vec()).unwrap())
    }

    #[test]
    fn every_field_in_order_and_data_split_as_clients_split_it() {
        let event = Event {
            event: Some("update"),
            id: Some("7"),
            retry: Some(2_500),
            data: "a\r\nb\nc\rd",
        };
        assert_eq!(
            encoded(&event).unwrap(),
            "event: update\nid: 7\nretry: 2500\ndata: a\ndata: b\ndata: c\ndata: d\n\n"
        );
        // Data alone; empty data is one empty data line; a trailing line
        // break gives an empty last line, as a client reads it.
        let plain = |data| Event {
            data,
            ..Event::default()
        };
        assert_eq!(encoded(&plain("hi")).unwrap(), "data: hi\n\n");
        assert_eq!(encoded(&plain("")).unwrap(), "data: \n\n");
        assert_eq!(encoded(&plain("x\n")).unwrap(), "data: x\ndata: \n\n");
        assert_eq!(
            encoded(&Event {
                retry: Some(0),
                ..plain("x")
            })
            .unwrap(),
            "retry: 0\ndata: x\n\n"
        );
        let max = Event {
            retry: Some(u32::MAX),
            ..plain("x")
        };
        assert_eq!(encoded(&max).unwrap(), "retry: 4294967295\ndata: x\n\n");
    }

    #[test]
    fn fields_that_would_forge_lines_are_refused() {
        for bad in ["a\nb", "a\rb", "x\r\n"] {
            let event = Event {
                event: Some(bad),
                ..Event::default()
            };
            assert_eq!(encoded(&event), Err(SseError::InvalidField));
            let event = Event {
                id: Some(bad),
                ..Event::default()
            };
            assert_eq!(encoded(&event), Err(SseError::InvalidField));
            assert_eq!(
                encode_comment(bad, &mut [0; 64]),
                Err(SseError::InvalidField)
            );
        }
        let event = Event {
            id: Some("a\0b"),
            ..Event::default()
        };
        assert_eq!(encoded(&event), Err(SseError::InvalidField));
    }

    #[test]
    fn a_buffer_one_byte_short_is_full_and_the_exact_size_fits() {
        let event = Event {
            event: Some("e"),
            data: "d",
            ..Event::default()
        };
        let len = "event: e\ndata: d\n\n".len();
        assert_eq!(encode(&event, &mut [0; 64]), Ok(len));
        assert_eq!(encode(&event, &mut std::vec![0; len]), Ok(len));
        assert_eq!(
            encode(&event, &mut std::vec![0; len - 1]),
            Err(SseError::BufferFull)
        );
        assert_eq!(encode_comment("", &mut [0; 4]), Ok(4));
        assert_eq!(encode_comment("", &mut [0; 3]), Err(SseError::BufferFull));
    }
}
