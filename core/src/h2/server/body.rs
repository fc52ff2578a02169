//! Request bodies: DATA frames, counted against flow control when their
//! header arrives, their data gathered in the decoding area (see
//! `gather`) or handed to the handler as it comes, and the request run
//! once its stream ends.
//!
//! The whole payload of a DATA frame, padding included, counts against
//! the connection's and the stream's receive windows (§6.9) as soon as
//! the frame's header is in. The server takes every byte at once (into
//! the area, or dropped for a body that outgrew it), so both windows are
//! released at once too and reopen with WINDOW_UPDATE as
//! [`ReceiveWindow`](crate::h2::flow::ReceiveWindow) decides. END_STREAM
//! takes effect once the frame's last byte is in; `content-length` is
//! checked against the data announced as each frame begins, and against
//! the whole body at its end.

use super::ServerConnection;
use super::calm::Abuse;
use super::dispatch::{Progress, Reading};
use super::output::Ready;
use super::streams::{Inbound, Sink};
use crate::h2::frame::{ErrorCode, Flags, FrameStart, StreamId, encode_window_update};
use crate::sizes::Sizes;
use crate::{Env, Handler, IoBuffers, TimerKind};

impl<Z: Sizes, const STREAMS: usize> ServerConnection<Z, STREAMS> {
    /// The start of a DATA frame: flow control, the stream's state and
    /// its announced length are checked before any of its data is taken.
    pub(super) fn begin_data<H: Handler<L>, L: Default>(
        &mut self,
        frame: &FrameStart,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) {
        let stream = frame.header.stream_id;
        let flow_len = frame.header.length;
        let data_len = frame.content_len as u32;
        let end_stream = frame.header.flags.contains(Flags::END_STREAM);
        // What is dropped of the frame if its stream is reset.
        let rest = (frame.content_len + frame.padding) as u32;
        // The connection window counts every DATA frame (§6.9), and the
        // bytes are taken as they come, so its window reopens at once.
        if self.recv_window.receive(flow_len).is_err() {
            self.connection_error(bufs, ErrorCode::FlowControlError, env);
            return;
        }
        self.recv_window.release(flow_len);
        if let Some(increment) = self.recv_window.take_update() {
            self.write_frame(bufs, |buf| {
                encode_window_update(buf, StreamId::CONNECTION, increment)
            });
        }
        if data_len == 0 && !end_stream && !self.calm.allow(Abuse::EmptyData, env.now) {
            self.connection_error(bufs, ErrorCode::EnhanceYourCalm, env);
            return;
        }
        let Some(open) = self.streams.get_mut(stream) else {
            if stream.get() > self.streams.highest {
                // §5.1: DATA on an idle stream.
                self.connection_error(bufs, ErrorCode::ProtocolError, env);
                return;
            }
            self.skip(rest);
            if !self.streams.was_reset(stream) {
                // §5.1: DATA on a closed stream; ignored on one the server
                // reset, which the client may not have learnt yet.
                self.reset_stream(bufs, stream, ErrorCode::StreamClosed, env);
            }
            return;
        };
        let Inbound::Body {
            received,
            expected,
            sink,
        } = open.inbound
        else {
            self.skip(rest);
            self.reset_stream(bufs, stream, ErrorCode::StreamClosed, env);
            return;
        };
        if open.recv_window.receive(flow_len).is_err() {
            self.skip(rest);
            self.reset_stream(bufs, stream, ErrorCode::FlowControlError, env);
            return;
        }
        open.recv_window.release(flow_len);
        let update = open.recv_window.take_update();
        let received = received + u64::from(data_len);
        open.inbound = Inbound::Body {
            received,
            expected,
            sink,
        };
        if expected.is_some_and(|n| received > n) {
            self.skip(rest);
            self.reset_stream(bufs, stream, ErrorCode::ProtocolError, env);
            return;
        }
        if let (Some(increment), false) = (update, end_stream) {
            self.write_frame(bufs, |buf| encode_window_update(buf, stream, increment));
        }
        // The whole frame's data fits, or none of the body is kept.
        self.check_growth(stream, data_len);
        if sink != Sink::Discard {
            self.timers.set(
                TimerKind::Body,
                env.now.saturating_add(self.config.body_timeout),
            );
        }
        self.reading = Reading::Data {
            stream,
            data_left: data_len,
            padding_left: frame.padding as u32,
            end_stream,
        };
    }

    /// The data of the current DATA frame that is in, added to the body
    /// being gathered, then its padding; once the frame is all in and it
    /// ends its stream, the request runs.
    pub(super) fn take_data<H: Handler<L>, L: Default>(
        &mut self,
        stream: StreamId,
        data_left: u32,
        padding_left: u32,
        end_stream: bool,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) -> Progress {
        let from = self.read_start;
        let taken = self.take_bytes(data_left);
        match self.sink_of(stream) {
            _ if taken == 0 => {}
            Some(Sink::Gather(_)) => self.gather_data(stream, from, taken as usize, bufs, env.now),
            Some(Sink::Handler(record)) => {
                self.hand_over(record, from, taken as usize, bufs, env);
                self.timers.set(
                    TimerKind::Body,
                    env.now.saturating_add(self.config.body_timeout),
                );
            }
            _ => {}
        }
        let padding = self.take_bytes(padding_left);
        let (data_left, padding_left) = (data_left - taken, padding_left - padding);
        if data_left > 0 || padding_left > 0 {
            self.reading = Reading::Data {
                stream,
                data_left,
                padding_left,
                end_stream,
            };
            return if taken + padding > 0 {
                Progress::Moved
            } else {
                Progress::Waiting
            };
        }
        self.reading = Reading::FrameStart;
        if end_stream {
            self.request_ended(stream, bufs, env);
        }
        Progress::Moved
    }

    /// The client ended `stream` (END_STREAM on DATA or trailers): its
    /// body must be as long as its `content-length` said, then its
    /// request runs.
    pub(super) fn request_ended<H: Handler<L>, L: Default>(
        &mut self,
        stream: StreamId,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) {
        let mismatched = self.streams.get_mut(stream).is_some_and(|open| {
            matches!(open.inbound, Inbound::Body { received, expected: Some(expected), .. }
                if received != expected)
        });
        if mismatched {
            self.reset_stream(bufs, stream, ErrorCode::ProtocolError, env);
            return;
        }
        self.body_ended(stream, bufs, env);
    }

    /// The client ended `stream`'s body: its request runs.
    fn body_ended<H: Handler<L>, L: Default>(
        &mut self,
        stream: StreamId,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) {
        let mut sink = Sink::Discard;
        if let Some(open) = self.streams.get_mut(stream) {
            if let Inbound::Body { sink: was, .. } = open.inbound {
                sink = was;
            }
            open.inbound = Inbound::Closed;
        }
        self.clear_body_timer();
        let (record, body_len, tag) = match sink {
            Sink::Handler(record) => (record, 0, record.tag(&self.area)),
            Sink::Gather(gathered) => (gathered.record, gathered.len as usize, 0),
            Sink::TooLarge => {
                self.answer_error(bufs, stream, crate::StatusCode::PAYLOAD_TOO_LARGE, env);
                return;
            }
            Sink::Discard => return,
        };
        // Its request runs with its body (or the tag its pieces left),
        // then its record leaves the area.
        let mut fields = core::mem::take(&mut self.fields);
        let (at, head) = record.request_parts(&self.area, &mut fields);
        let body_start = record.end(&self.area);
        let ready = Ready {
            at,
            head,
            fields: &fields,
            body: body_start..body_start + body_len,
            tag,
            leaving: sink,
        };
        self.respond(bufs, stream, ready, env);
        self.fields = fields;
    }

    /// The rest of `stream`'s body, if it is still coming, is dropped:
    /// the area no longer holds its record (its head, and for a body
    /// gathered whole what arrived of it).
    pub(super) fn stop_receiving(&mut self, stream: StreamId) {
        if let Some(open) = self.streams.get_mut(stream)
            && let Inbound::Body { sink, .. } = &mut open.inbound
        {
            let was = core::mem::replace(sink, Sink::Discard);
            self.release(was);
        }
        self.clear_body_timer();
    }

    /// Where the body of `stream` goes, if it is still coming.
    fn sink_of(&mut self, stream: StreamId) -> Option<Sink> {
        match self.streams.get_mut(stream)?.inbound {
            Inbound::Body { sink, .. } => Some(sink),
            Inbound::Closed => None,
        }
    }

    /// The body timer stops once no stream's body is awaited.
    pub(super) fn clear_body_timer(&mut self) {
        let awaited = self.streams.iter().any(|open| {
            matches!(
                open.inbound,
                Inbound::Body {
                    sink: Sink::Gather(_) | Sink::Handler(_) | Sink::TooLarge,
                    ..
                }
            )
        });
        if !awaited {
            self.timers.clear(TimerKind::Body);
        }
    }
}
