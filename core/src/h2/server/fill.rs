//! Streamed bodies ([`Response::stream`](crate::Response::stream)): the
//! handler's [`fill_body`](Handler::fill_body) is asked for each piece
//! right into the write buffer, behind room for its DATA frame's header,
//! whenever the stream has its turn, window on both the stream and the
//! connection, and the buffer has room. Each piece is one DATA frame.
//!
//! A handler with nothing ready ([`Fill::Pending`]) parks its stream
//! until the application wakes the connection
//! ([`handle_wake`](ServerConnection::handle_wake)); the caller then
//! calls [`poll`](ServerConnection::poll) while
//! [`has_work`](ServerConnection::has_work) says so, as for an HTTP/1.1
//! [`Connection`](crate::Connection). The other streams go on meanwhile.
//!
//! A body of announced length ends when that length is sent; one whose
//! handler says it is done short of it, or that gives up
//! ([`Fill::Abort`]), has its stream reset with INTERNAL_ERROR. Every
//! streamed body is reported to [`Handler::finished`]: sent once its last
//! DATA frame is written, aborted when its stream is reset or the
//! connection ends first.

use super::CONTROL_ROOM;
use super::ServerConnection;
use super::output::{MIN_DATA, report};
use super::streams::{Outbound, Streamed};
use crate::h2::frame::{ErrorCode, FRAME_HEADER_LEN, StreamId, encode_data_header};
use crate::handler::Outcome;
use crate::sizes::Sizes;
use crate::{Env, Fill, Handler, IoBuffers, TimerKind};

/// What a streamed body's turn at DATA did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Turn {
    /// A DATA frame was queued.
    Served,
    /// Nothing was queued: no window or room, or the handler had nothing.
    Idle,
    /// The stream left the table (reset): the round starts over.
    Ended,
}

impl<Z: Sizes, const STREAMS: usize> ServerConnection<Z, STREAMS> {
    /// Whether a streamed body is ready to be asked for more (it was
    /// woken, or its handler gave nothing and asked to be asked again), or
    /// is to be reset ([`cut_streams`](Self::cut_streams)): call
    /// [`poll`](Self::poll), after serving other connections.
    pub fn has_work(&self) -> bool {
        self.streams
            .iter()
            .any(|stream| matches!(stream.outbound, Outbound::Again(_) | Outbound::Cut(_)))
    }

    /// Whether a streamed body waits for [`handle_wake`](Self::handle_wake).
    pub fn is_parked(&self) -> bool {
        self.streams
            .iter()
            .any(|stream| matches!(stream.outbound, Outbound::Parked(_)))
    }

    /// Resumes, at `now`, the streamed bodies whose handler answered
    /// [`Fill::Pending`]: [`has_work`](Self::has_work) becomes true and
    /// the next [`poll`](Self::poll) asks [`Handler::fill_body`] again.
    /// Does nothing otherwise (a wake-up that arrives late is harmless).
    pub fn handle_wake(&mut self, now: u64) {
        let mut woken = false;
        for stream in self.streams.iter_mut() {
            if let Outbound::Parked(streamed) = stream.outbound {
                stream.outbound = Outbound::Again(streamed);
                woken = true;
            }
        }
        if woken {
            self.timers.clear(TimerKind::ParkedStream);
            self.timers.set(
                TimerKind::Write,
                now.saturating_add(self.config.write_timeout),
            );
        }
    }

    /// Continues the streamed bodies that [`has_work`](Self::has_work)
    /// says are ready, at `env.now`: each is asked for its next piece as
    /// the windows and the write buffer allow, taking turns with the
    /// other streams.
    pub fn poll<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) {
        self.reset_cut(bufs, env);
        for stream in self.streams.iter_mut() {
            if let Outbound::Again(streamed) = stream.outbound {
                stream.outbound = Outbound::Filling(streamed);
            }
        }
        self.after_output(bufs, env);
    }

    /// Queues the head of `stream`'s streamed response (at the start of
    /// `region`, `head_len` bytes) and its first DATA as the windows
    /// allow.
    pub(super) fn queue_streamed<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        stream: StreamId,
        region: core::ops::Range<usize>,
        head_len: usize,
        streamed: Streamed,
        env: &mut Env<'_, H, L>,
    ) {
        if !self.queue_head(bufs, stream, region, head_len, false) {
            // Its block fits nowhere: the body never starts.
            self.end_stream(bufs, stream, ErrorCode::InternalError, env);
            report(env, self.id, stream.get(), streamed.tag, Outcome::NotSent);
            return;
        }
        match self.streams.get_mut(stream) {
            Some(open) => open.outbound = Outbound::Filling(streamed),
            None => report(env, self.id, stream.get(), streamed.tag, Outcome::NotSent),
        }
        self.send_data_or_calm(bufs, super::output::DataRoom::BehindHead, env);
    }

    /// The turn of the stream at `index`, filling `streamed`: its handler
    /// is asked for as much as the windows, the peer's frame size and
    /// the write buffer allow (the caller checked room for a frame header
    /// and the control frames), and what it gives goes out as one DATA
    /// frame. A piece smaller than [`MIN_DATA`] is not asked for unless
    /// it ends a body of announced length: a peer granting a few bytes at
    /// a time does not get a frame per few bytes.
    pub(super) fn fill_turn<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        index: usize,
        mut streamed: Streamed,
        env: &mut Env<'_, H, L>,
    ) -> Turn {
        let Some(stream) = self.streams.at(index) else {
            return Turn::Idle;
        };
        let id = stream.id;
        let window = self
            .send_window
            .available()
            .min(stream.send_window.available())
            .min(self.peer.max_frame_size);
        let at = self.write_end;
        let data_at = at + FRAME_HEADER_LEN;
        let room = Z::WRITE.saturating_sub(data_at + CONTROL_ROOM);
        let due = streamed.left.unwrap_or(u64::MAX);
        let cap = u64::from(window).min(room as u64).min(due);
        if cap < MIN_DATA.min(due) {
            return Turn::Idle;
        }
        let cap = cap as usize;
        let buf = &mut bufs.write[data_at..data_at + cap];
        let fill = env.handler.fill_body(&mut streamed.tag, buf, env.local);
        let (n, done) = match fill {
            Fill::More(n) => (n.min(cap), false),
            Fill::Done(n) => (n.min(cap), true),
            Fill::Pending => {
                stream.outbound = Outbound::Parked(streamed);
                self.park(env.now);
                return Turn::Idle;
            }
            Fill::Abort => {
                // Reported aborted, with its last tag, as it leaves.
                stream.outbound = Outbound::Filling(streamed);
                self.end_stream(bufs, id, ErrorCode::InternalError, env);
                return Turn::Ended;
            }
        };
        let left = streamed.left.map(|due| due - n as u64);
        streamed.left = left;
        let complete = done || left == Some(0);
        if n == 0 && !complete {
            // Nothing now, more later: asked again at the next poll.
            stream.outbound = Outbound::Again(streamed);
            return Turn::Idle;
        }
        // Done short of the announced length: the client must not take
        // what it got for the whole body.
        let short = complete && left.is_some_and(|left| left > 0);
        if short && n == 0 {
            stream.outbound = Outbound::Filling(streamed);
            self.end_stream(bufs, id, ErrorCode::InternalError, env);
            return Turn::Ended;
        }
        let end_stream = complete && !short;
        let Ok(header) = encode_data_header(id, n, end_stream) else {
            return Turn::Idle;
        };
        // Within both windows, checked above.
        let _ = stream.send_window.consume(n as u32);
        stream.outbound = if end_stream {
            Outbound::Done
        } else {
            Outbound::Filling(streamed)
        };
        let _ = self.send_window.consume(n as u32);
        bufs.write[at..data_at].copy_from_slice(&header);
        self.write_end = data_at + n;
        let _ = self.queue_written(at);
        if short {
            self.end_stream(bufs, id, ErrorCode::InternalError, env);
            return Turn::Ended;
        }
        if end_stream && !self.queue.push_end(streamed.tag, id.get()) {
            // No slot for the marker (never, with the room kept per
            // frame): over now.
            report(env, self.id, id.get(), streamed.tag, Outcome::Sent);
        }
        Turn::Served
    }

    /// A stream now waits for the application: the parked-stream limit
    /// runs if one is set.
    fn park(&mut self, now: u64) {
        if self.config.parked_stream_timeout > 0 {
            self.timers.set(
                TimerKind::ParkedStream,
                now.saturating_add(self.config.parked_stream_timeout),
            );
        }
    }
}
