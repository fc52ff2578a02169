//! Publications to streamed bodies over HTTP/2: bytes the application
//! publishes to a topic go into the DATA of every streamed body of the
//! connection subscribed to it
//! ([`Response::subscribe`](crate::Response::subscribe)), between the
//! pieces its handler fills, as over HTTP/1.1: one post reaches every
//! Server-Sent Events stream of a feed, however many of them share a
//! connection.
//!
//! A publication goes out at once, whole, in DATA frames of the peer's
//! largest size, within the flow-control windows. A stream with no window
//! or write buffer room for it is backed up (its client does not read as
//! fast as the feed goes): as over HTTP/1.1
//! ([`PublishError::Full`]), it is ended, what was queued of it going out
//! first, so that its client reconnects and resumes rather than miss an
//! event unknowingly; over HTTP/2 that ends the stream alone, with
//! RST_STREAM(INTERNAL_ERROR), and the connection's other streams go on.

use super::streams::{Outbound, Stream};
use super::{CONTROL_ROOM, ServerConnection, State};
use crate::h2::frame::{ErrorCode, FRAME_HEADER_LEN, StreamId, encode_data_header};
use crate::sizes::Sizes;
use crate::{Env, Handler, IoBuffers, PublishError, TimerKind};

/// Whether `stream` has a running streamed body subscribed to `topic`.
fn subscribed(stream: &Stream, topic: u64) -> bool {
    matches!(
        stream.outbound,
        Outbound::Filling(streamed) | Outbound::Parked(streamed) | Outbound::Again(streamed)
            if streamed.topic == Some(topic)
    )
}

impl<Z: Sizes, const STREAMS: usize> ServerConnection<Z, STREAMS> {
    /// Whether a streamed body of this connection carries `topic`.
    pub fn streams_topic(&self, topic: u64) -> bool {
        matches!(self.state, State::Open | State::Draining)
            && self.streams.iter().any(|stream| subscribed(stream, topic))
    }

    /// Appends `bytes` published to `topic` at `env.now` to every streamed
    /// body subscribed to it, as DATA after what each queued; the caller
    /// then writes what [`poll_transmit`](Self::poll_transmit) offers. A
    /// stream whose handler waits ([`Fill::Pending`](crate::Fill::Pending))
    /// stays waiting; the parked-stream limit starts again.
    ///
    /// # Errors
    ///
    /// [`PublishError::NotSubscribed`], or [`PublishError::Full`] when a
    /// stream had no window or room for it: that stream was reset (see the
    /// module's documentation), the others took it. A body of announced
    /// length takes no more than it announced: a publication past it ends
    /// the stream the same way.
    pub fn handle_publish<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        topic: u64,
        bytes: &[u8],
        env: &mut Env<'_, H, L>,
    ) -> Result<(), PublishError> {
        if !self.streams_topic(topic) {
            return Err(PublishError::NotSubscribed);
        }
        let mut result = Ok(());
        // In stream order, each once, however the table moves.
        let mut after = 0;
        while let Some(id) = self.next_subscribed(topic, after) {
            after = id.get();
            if !self.publish_on(bufs, id, bytes, env) {
                result = Err(PublishError::Full);
            }
        }
        if self.is_parked() && self.config.parked_stream_timeout > 0 {
            self.timers.set(
                TimerKind::ParkedStream,
                env.now.saturating_add(self.config.parked_stream_timeout),
            );
        }
        self.after_output(bufs, env);
        result
    }

    /// Ends the streamed bodies subscribed to `topic` without a write
    /// buffer: for a caller that has none to lend for a publication. Each
    /// is reset at the next [`poll`](Self::poll) (now
    /// [`has_work`](Self::has_work)), reported aborted.
    pub fn cut_streams(&mut self, topic: u64) {
        for stream in self.streams.iter_mut() {
            if subscribed(stream, topic) {
                if let Outbound::Filling(streamed)
                | Outbound::Parked(streamed)
                | Outbound::Again(streamed) = stream.outbound
                {
                    stream.outbound = Outbound::Cut(streamed);
                }
            }
        }
    }

    /// Resets the streams [`cut_streams`](Self::cut_streams) ended.
    pub(super) fn reset_cut<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) {
        loop {
            let Some(id) = self
                .streams
                .iter()
                .find(|stream| matches!(stream.outbound, Outbound::Cut(_)))
                .map(|stream| stream.id)
            else {
                break;
            };
            // Reported aborted as it leaves.
            self.end_stream(bufs, id, ErrorCode::InternalError, env);
        }
    }

    /// The lowest stream above `after` subscribed to `topic`.
    fn next_subscribed(&self, topic: u64, after: u32) -> Option<StreamId> {
        self.streams
            .iter()
            .filter(|stream| stream.id.get() > after && subscribed(stream, topic))
            .map(|stream| stream.id)
            .min()
    }

    /// Queues `bytes` as DATA of stream `id`; `false` if it was backed up
    /// (and is reset).
    fn publish_on<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        id: StreamId,
        bytes: &[u8],
        env: &mut Env<'_, H, L>,
    ) -> bool {
        let max_frame = (self.peer.max_frame_size as usize).max(1);
        let frames = bytes.len().div_ceil(max_frame);
        let room = Z::WRITE - self.write_end;
        let connection_window = self.send_window.available() as usize;
        let Some(stream) = self.streams.get_mut(id) else {
            return false;
        };
        let (Outbound::Filling(mut streamed)
        | Outbound::Parked(mut streamed)
        | Outbound::Again(mut streamed)) = stream.outbound
        else {
            return false;
        };
        let window = connection_window.min(stream.send_window.available() as usize);
        let fits_length = streamed.left.is_none_or(|left| bytes.len() as u64 <= left);
        // Two slots stay free for the stream's own pieces and its end.
        if !fits_length
            || window < bytes.len()
            || room < bytes.len() + frames * FRAME_HEADER_LEN + CONTROL_ROOM
            || self.queue.free() < frames + 3
        {
            self.end_stream(bufs, id, ErrorCode::InternalError, env);
            return false;
        }
        if let Some(left) = &mut streamed.left {
            *left -= bytes.len() as u64;
        }
        // Within the window, checked above.
        let _ = stream.send_window.consume(bytes.len() as u32);
        stream.outbound = match stream.outbound {
            Outbound::Parked(_) => Outbound::Parked(streamed),
            Outbound::Again(_) => Outbound::Again(streamed),
            _ => Outbound::Filling(streamed),
        };
        let _ = self.send_window.consume(bytes.len() as u32);
        for piece in bytes.chunks(max_frame) {
            let at = self.write_end;
            // Never an error: a piece is at most the peer's frame size.
            let Ok(header) = encode_data_header(id, piece.len(), false) else {
                return false;
            };
            let data_at = at + FRAME_HEADER_LEN;
            bufs.write[at..data_at].copy_from_slice(&header);
            bufs.write[data_at..data_at + piece.len()].copy_from_slice(piece);
            self.write_end = data_at + piece.len();
            self.queue_written(at);
        }
        true
    }
}
