//! Publications to streamed bodies: bytes the application publishes to a
//! topic, appended to the body of every stream subscribed to it
//! ([`Response::subscribe`](crate::Response::subscribe)), between the
//! pieces the handler fills: one post reaches every Server-Sent Events
//! client of a feed.

use crate::sizes::Sizes;
use core::fmt;

use super::phase::{Http, Phase, StreamState};
use super::{Connection, IoBuffers, TimerKind};
use crate::response::{self, CHUNK_HEADER_MAX, ResponseFraming};
use crate::send_queue::Segment;

/// Why a publication was not appended to a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PublishError {
    /// The connection has no running stream subscribed to the topic.
    NotSubscribed,
    /// The stream's output is backed up (its client does not read as fast
    /// as the feed goes): the stream is ended, what was queued goes out,
    /// and the connection closes, so that the client reconnects and
    /// resumes (`Last-Event-ID`) rather than miss an event unknowingly.
    Full,
}

impl fmt::Display for PublishError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PublishError::NotSubscribed => "no stream of the connection is subscribed",
            PublishError::Full => "the stream's output is backed up: it was ended",
        })
    }
}

impl<Z: Sizes> Connection<Z> {
    /// Whether a streamed body of this connection carries `topic`.
    pub fn streams_topic(&self, topic: u64) -> bool {
        matches!(
            &self.phase,
            Phase::Http(Http { stream: Some(stream), .. })
                if stream.topic == Some(topic)
                    && matches!(stream.state, StreamState::Filling | StreamState::Parked)
        )
    }

    /// Ends the running stream unfinished at `now`, as
    /// [`Fill::Abort`](crate::Fill::Abort) does: what is queued goes out,
    /// then the connection closes. For a caller that cannot deliver a
    /// publication to it (no buffer to write it into), so that its client
    /// reconnects rather than miss the event unknowingly.
    pub fn end_stream(&mut self, now: u64) {
        if matches!(
            &self.phase,
            Phase::Http(Http {
                stream: Some(_),
                ..
            })
        ) {
            self.abort_stream(now);
        }
    }

    /// Appends `bytes` published to `topic` at `now` to the streamed body
    /// subscribed to it, framed as the body is (a chunk of its own, for a
    /// chunked body), after what is queued; the caller then writes what
    /// [`poll_transmit`](Self::poll_transmit) offers. A stream whose
    /// handler waits ([`Fill::Pending`](crate::Fill::Pending)) stays
    /// waiting; its parked-stream limit starts again.
    ///
    /// Writes into `bufs`: a parked stream holds no buffers, so the caller
    /// lends it a pair first.
    ///
    /// # Errors
    ///
    /// [`PublishError::NotSubscribed`], or [`PublishError::Full`] when the
    /// output has no room for it (the stream is then ended and the
    /// connection closes after what was queued). A body of announced
    /// length takes no more than it announced: a publication past it
    /// ends the stream the same way.
    pub fn handle_publish(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        topic: u64,
        bytes: &[u8],
        now: u64,
    ) -> Result<(), PublishError> {
        if !self.streams_topic(topic) {
            return Err(PublishError::NotSubscribed);
        }
        let Phase::Http(Http {
            stream: Some(stream),
            ..
        }) = &mut self.phase
        else {
            return Err(PublishError::NotSubscribed);
        };
        let chunked = stream.framing == ResponseFraming::Chunked;
        let overhead = if chunked {
            CHUNK_HEADER_MAX + response::CHUNK_END.len()
        } else {
            0
        };
        let fits_length = match stream.framing {
            ResponseFraming::Length(_) => bytes.len() as u64 <= stream.remaining,
            _ => true,
        };
        let room = Z::WRITE - self.write_end;
        // Two slots stay free for the stream's own pieces and its end.
        if !fits_length || room < bytes.len() + overhead || self.queue.free() < 3 {
            self.abort_stream(now);
            return Err(PublishError::Full);
        }
        if bytes.is_empty() {
            return Ok(());
        }
        if let ResponseFraming::Length(_) = stream.framing {
            stream.remaining -= bytes.len() as u64;
        }
        let start = self.write_end;
        let mut end = start;
        if chunked {
            let mut size = [0; CHUNK_HEADER_MAX];
            let line = response::encode_chunk_header(bytes.len(), &mut size);
            bufs.write[end..end + line.len()].copy_from_slice(line);
            end += line.len();
        }
        bufs.write[end..end + bytes.len()].copy_from_slice(bytes);
        end += bytes.len();
        if chunked {
            bufs.write[end..end + 2].copy_from_slice(response::CHUNK_END);
            end += 2;
        }
        if self.config.parked_stream_timeout > 0 && self.is_parked() {
            self.timers.set(
                TimerKind::ParkedStream,
                now.saturating_add(self.config.parked_stream_timeout),
            );
        }
        self.write_end = end;
        self.push(
            Segment::Buffer {
                start: start as u32,
                end: end as u32,
            },
            now,
        );
        Ok(())
    }
}
