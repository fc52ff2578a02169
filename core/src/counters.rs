//! What connections count for a server's statistics: requests, responses
//! by class, errors, and the work of WebSocket compression.

/// What connections did, for a server's statistics: counted into the
/// [`Env::counters`](crate::Env::counters) of the call that did it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Requests whose head was complete.
    pub requests: u64,
    /// Responses by class: `[1xx, 2xx, 3xx, 4xx, 5xx]` (interim `100
    /// Continue` included).
    pub responses: [u64; 5],
    /// Requests refused as malformed or over a limit (4xx/5xx from the
    /// protocol layer, not from the handler).
    pub parse_errors: u64,
    /// Requests that stalled (`408`) and peers that stopped reading.
    pub timeouts: u64,
    /// Handler calls that panicked, caught by the caller and reported with
    /// [`Connection::handle_panic`](crate::Connection::handle_panic).
    pub handler_panics: u64,
    /// File regions whose file ended before the region did: counted by
    /// the caller that sends files when it closes an HTTP/1.1 connection
    /// for it, and by an HTTP/2 connection that resets the stream
    /// ([`ServerConnection::handle_file_ended`](crate::h2::server::ServerConnection::handle_file_ended)).
    pub files_cut_short: u64,
    /// WebSocket handshakes that agreed on permessage-deflate with context
    /// takeover but found every per-connection DEFLATE state taken: the
    /// connection went uncompressed.
    pub deflate_contexts_exhausted: u64,
    /// WebSocket messages received compressed (permessage-deflate) and
    /// decompressed.
    pub deflate_received: u64,
    /// The payload bytes of those messages as they arrived, compressed.
    pub deflate_received_wire_bytes: u64,
    /// The bytes of those messages once decompressed.
    pub deflate_received_plain_bytes: u64,
    /// WebSocket messages sent compressed.
    pub deflate_sent: u64,
    /// The payload bytes of those messages as sent, compressed.
    pub deflate_sent_wire_bytes: u64,
    /// The bytes of those messages before compression.
    pub deflate_sent_plain_bytes: u64,
}

/// Adds another's counts: a runtime that keeps counters per connection
/// (or per thread) sums them into its totals.
impl core::ops::AddAssign for Counters {
    fn add_assign(&mut self, other: Counters) {
        let Counters {
            requests,
            responses,
            parse_errors,
            timeouts,
            handler_panics,
            files_cut_short,
            deflate_contexts_exhausted,
            deflate_received,
            deflate_received_wire_bytes,
            deflate_received_plain_bytes,
            deflate_sent,
            deflate_sent_wire_bytes,
            deflate_sent_plain_bytes,
        } = other;
        self.requests += requests;
        for (total, count) in self.responses.iter_mut().zip(responses) {
            *total += count;
        }
        self.parse_errors += parse_errors;
        self.timeouts += timeouts;
        self.handler_panics += handler_panics;
        self.files_cut_short += files_cut_short;
        self.deflate_contexts_exhausted += deflate_contexts_exhausted;
        self.deflate_received += deflate_received;
        self.deflate_received_wire_bytes += deflate_received_wire_bytes;
        self.deflate_received_plain_bytes += deflate_received_plain_bytes;
        self.deflate_sent += deflate_sent;
        self.deflate_sent_wire_bytes += deflate_sent_wire_bytes;
        self.deflate_sent_plain_bytes += deflate_sent_plain_bytes;
    }
}

impl Counters {
    /// Counts a response with `status`.
    #[inline]
    pub(crate) fn response(&mut self, status: u16) {
        if let Some(class) = self
            .responses
            .get_mut(usize::from(status / 100).wrapping_sub(1))
        {
            *class += 1;
        }
    }

    /// Counts a message received compressed: `wire` bytes of payload that
    /// decompressed to `plain`.
    #[inline]
    pub(crate) fn inflated(&mut self, wire: usize, plain: usize) {
        self.deflate_received += 1;
        self.deflate_received_wire_bytes += wire as u64;
        self.deflate_received_plain_bytes += plain as u64;
    }

    /// Counts a message sent compressed: `plain` bytes that went out as
    /// `wire` bytes of payload.
    #[inline]
    pub(crate) fn deflated(&mut self, plain: usize, wire: usize) {
        self.deflate_sent += 1;
        self.deflate_sent_wire_bytes += wire as u64;
        self.deflate_sent_plain_bytes += plain as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::Counters;

    #[test]
    fn counters_add_up_field_by_field() {
        let one = Counters {
            requests: 1,
            responses: [1, 2, 3, 4, 5],
            parse_errors: 6,
            timeouts: 7,
            handler_panics: 8,
            files_cut_short: 9,
            deflate_contexts_exhausted: 10,
            deflate_received: 11,
            deflate_received_wire_bytes: 12,
            deflate_received_plain_bytes: 13,
            deflate_sent: 14,
            deflate_sent_wire_bytes: 15,
            deflate_sent_plain_bytes: 16,
        };
        let mut total = one;
        total += one;
        assert_eq!(
            total,
            Counters {
                requests: 2,
                responses: [2, 4, 6, 8, 10],
                parse_errors: 12,
                timeouts: 14,
                handler_panics: 16,
                files_cut_short: 18,
                deflate_contexts_exhausted: 20,
                deflate_received: 22,
                deflate_received_wire_bytes: 24,
                deflate_received_plain_bytes: 26,
                deflate_sent: 28,
                deflate_sent_wire_bytes: 30,
                deflate_sent_plain_bytes: 32,
            }
        );
    }
}
