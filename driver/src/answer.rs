//! Answers to deferred responses ([`Response::defer`]), made on any thread
//! and carried to the connection's worker through its mailbox by
//! [`Sender::respond`](crate::Sender::respond).
//!
//! An [`Answer`] borrows its parts; posting copies them into the mailbox,
//! so nothing is allocated. The worker writes the answer as the response,
//! as the handler would have: the status, the fields, and the body copied
//! into the connection's write buffer.
//!
//! [`Response::defer`]: peregrine_core::Response::defer

use peregrine_core::response::validate_field;
use peregrine_core::{Response, ResponseError, StatusCode};

/// The most header fields an [`Answer`] carries.
pub const MAX_ANSWER_FIELDS: usize = 32;

/// The answer to a deferred response: status, header fields and body,
/// borrowed until posted with [`Sender::respond`](crate::Sender::respond).
///
/// The body is copied into the connection's write buffer, so it must fit
/// there with its head: up to half the write buffer (8 KiB by default)
/// less the head. A larger body makes the client's answer a `500`; send a
/// large body as a stream instead (answer with a short status from here,
/// or defer with a streamed body from the handler).
///
/// ```
/// use peregrine_driver::answer::Answer;
/// use peregrine_driver::core::StatusCode;
///
/// let mut answer = Answer::new(StatusCode::INTERNAL_SERVER_ERROR);
/// answer.header("Content-Type", b"text/plain")?.body(b"the job failed");
/// # Ok::<(), peregrine_driver::core::ResponseError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Answer<'a> {
    /// The status.
    status: StatusCode,
    /// The header fields, checked.
    fields: heapless::Vec<(&'a str, &'a [u8]), MAX_ANSWER_FIELDS>,
    /// The body.
    body: &'a [u8],
    /// Whether the connection closes after it.
    close: bool,
}

impl<'a> Answer<'a> {
    /// An answer with `status`, no fields and an empty body.
    pub fn new(status: StatusCode) -> Self {
        Answer {
            status,
            fields: heapless::Vec::new(),
            body: &[],
            close: false,
        }
    }

    /// Adds a header field, checked as [`Response::header`] checks it.
    ///
    /// # Errors
    ///
    /// [`ResponseError::InvalidHeaderName`],
    /// [`ResponseError::InvalidHeaderValue`] or
    /// [`ResponseError::ReservedHeader`] for a field `Response::header`
    /// would refuse; [`ResponseError::HeadTooLarge`] past
    /// [`MAX_ANSWER_FIELDS`] fields. Nothing is added then.
    pub fn header(&mut self, name: &'a str, value: &'a [u8]) -> Result<&mut Self, ResponseError> {
        validate_field(name, value).map_err(ResponseError::from)?;
        self.fields
            .push((name, value))
            .map_err(|_| ResponseError::HeadTooLarge)?;
        Ok(self)
    }

    /// Sets the body (copied when posted).
    pub fn body(&mut self, body: &'a [u8]) -> &mut Self {
        self.body = body;
        self
    }

    /// Closes the connection after this answer, as
    /// [`Response::close`] does: over HTTP/2, GOAWAY follows the answer,
    /// the connection's streams already begun are finished, then it
    /// closes.
    pub fn close(&mut self) -> &mut Self {
        self.close = true;
        self
    }

    /// The status.
    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }

    /// Whether the connection closes after it.
    pub(crate) fn closes(&self) -> bool {
        self.close
    }

    /// The fields as the mailbox carries them: `name: value\r\n` each, in
    /// pieces (four per field), handed to `piece` in order.
    pub(crate) fn head_pieces(&self, mut piece: impl FnMut(&'a [u8])) {
        for &(name, value) in &self.fields {
            piece(name.as_bytes());
            piece(b": ");
            piece(value);
            piece(b"\r\n");
        }
    }

    /// Bytes of the fields as the mailbox carries them.
    pub(crate) fn head_len(&self) -> usize {
        self.fields
            .iter()
            .map(|(name, value)| name.len() + value.len() + 4)
            .sum()
    }

    /// The body.
    pub(crate) fn body_bytes(&self) -> &'a [u8] {
        self.body
    }
}

/// An answer as the worker takes it from its mailbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Posted<'a> {
    /// The status code.
    pub(crate) status: u16,
    /// Whether the connection closes after it.
    pub(crate) close: bool,
    /// The fields, `name: value\r\n` each.
    pub(crate) head: &'a [u8],
    /// The body.
    pub(crate) body: &'a [u8],
}

impl Posted<'_> {
    /// Writes the answer into `response`. Its fields were checked when it
    /// was made; a body too large for the buffer makes it a `500`.
    pub(crate) fn fill<L>(&self, response: &mut Response<'_, L>) {
        let status = StatusCode::new(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        response.status(status);
        if self.close {
            response.close();
        }
        for line in self.head.split(|&byte| byte == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let Some(colon) = line.iter().position(|&byte| byte == b':') else {
                continue;
            };
            let (name, value) = (&line[..colon], &line[colon + 2..]);
            let Ok(name) = std::str::from_utf8(name) else {
                continue;
            };
            if response.header(name, value).is_err() {
                response.abandon();
                return;
            }
        }
        if response.body(self.body).is_err() {
            response.abandon();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_checked_when_added_and_counted() {
        let mut answer = Answer::new(StatusCode::OK);
        assert_eq!(
            answer.header("Bad Name", b"v").err(),
            Some(ResponseError::InvalidHeaderName)
        );
        assert_eq!(
            answer.header("X-Split", b"a\r\nSet-Cookie: x").err(),
            Some(ResponseError::InvalidHeaderValue)
        );
        assert_eq!(
            answer.header("Content-Length", b"3").err(),
            Some(ResponseError::ReservedHeader)
        );
        for _ in 0..MAX_ANSWER_FIELDS {
            answer.header("X-A", b"1").unwrap();
        }
        assert_eq!(
            answer.header("X-B", b"2").err(),
            Some(ResponseError::HeadTooLarge)
        );
        assert_eq!(answer.head_len(), MAX_ANSWER_FIELDS * "X-A: 1\r\n".len());
    }
}
