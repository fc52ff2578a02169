//! What the client sends: the preface, then frames, each handled as RFC
//! 9113 §5 and §6 say, and taken in pieces as they arrive.
//!
//! A frame's header and fixed fields (at most 17 bytes) are read whole;
//! so are the frames of a fixed size (PING, PRIORITY, RST_STREAM,
//! WINDOW_UPDATE) and a field block in one HEADERS frame that the read
//! buffer can hold, which is decoded where it lies. The rest of a frame
//! is taken as it comes, so that no frame needs to fit the read buffer:
//! DATA into the body being gathered ([`body`](super::body)), field block
//! fragments into the decoding area ([`block`](super::block)), SETTINGS
//! parameters six bytes at a time ([`control`](super::control)), unknown
//! frames and GOAWAY debug data dropped. Where the connection is within a
//! frame is a [`Reading`].

use super::block::BlockFlags;
use super::calm::Abuse;
use super::control::Control;
use super::streams::{Inbound, Outbound, Pending};
use super::{CONTROL_ROOM, RESPONSE_ROOM, ServerConnection, State};
use crate::h2::frame::{
    CLIENT_PREFACE, DEFAULT_MAX_FRAME_SIZE, ErrorCode, ErrorScope, Flags, FrameError, FrameHeader,
    FrameStart, FrameType, Setting, StreamId, encode_rst_stream, encode_settings,
    encode_window_update, parse_frame, parse_frame_start,
};
use crate::sizes::Sizes;
use crate::{Env, Handler, IoBuffers, TimerKind};

/// Where the connection is within the frame it reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Reading {
    /// Between frames: the next one starts at the read position.
    FrameStart,
    /// The payload of a DATA frame, whose header was handled (flow
    /// control counted, the stream checked).
    Data {
        /// Its stream.
        stream: StreamId,
        /// Bytes of data still to come.
        data_left: u32,
        /// Bytes of padding still to come after them.
        padding_left: u32,
        /// Whether the frame ends its stream, once its last byte is in.
        end_stream: bool,
    },
    /// A field block fragment of HEADERS or CONTINUATION, going to the
    /// decoding area after the block's bytes so far (`continuing` holds
    /// the block).
    Fragment {
        /// Bytes of the fragment still to come.
        fragment_left: u32,
        /// Bytes of padding still to come after them.
        padding_left: u32,
        /// Whether the block ends with this frame.
        end_headers: bool,
    },
    /// The parameters of a SETTINGS frame, applied six bytes at a time.
    Settings {
        /// The frame, for the errors its parameters may raise.
        frame: FrameStart,
        /// Bytes of parameters still to come (a multiple of six).
        left: u32,
    },
    /// Bytes to drop: an unknown frame, GOAWAY debug data, or the rest of
    /// a frame whose stream was reset.
    Skip {
        /// Bytes still to come.
        left: u32,
    },
}

impl Reading {
    /// Whether the next step may complete a request, and so write a
    /// response: the end of a field block, or of a body. `header` is the
    /// next frame's, between frames.
    fn may_respond(&self, header: Option<FrameHeader>) -> bool {
        match *self {
            Reading::FrameStart => header.is_some_and(|header| match header.frame_type {
                FrameType::Data => header.flags.contains(Flags::END_STREAM),
                FrameType::Headers | FrameType::Continuation => {
                    header.flags.contains(Flags::END_HEADERS)
                }
                _ => false,
            }),
            Reading::Data { end_stream, .. } => end_stream,
            Reading::Fragment { end_headers, .. } => end_headers,
            Reading::Settings { .. } | Reading::Skip { .. } => false,
        }
    }
}

/// What a step of reading did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Progress {
    /// It took bytes or acted: another step may follow.
    Moved,
    /// It needs more bytes.
    Waiting,
}

impl<Z: Sizes, const STREAMS: usize> ServerConnection<Z, STREAMS> {
    /// `n` bytes were read into [`read_buf`](Self::read_buf) at `env.now`.
    pub fn handle_read<H: Handler<L>, L: Default>(
        &mut self,
        n: usize,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) {
        self.read_end = (self.read_end + n).min(Z::READ);
        match self.state {
            State::Preface | State::Open | State::Draining => {}
            // After GOAWAY for an error, or the write side shut: dropped.
            _ => {
                self.read_start = self.read_end;
                return;
            }
        }
        if self.state == State::Preface && !self.take_preface(bufs, env) {
            return;
        }
        self.process(bufs, env);
        self.after_output(bufs, env);
    }

    /// Checks the client preface; `true` once it is taken and our
    /// SETTINGS queued.
    fn take_preface<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) -> bool {
        let received = &bufs.read[self.read_start..self.read_end];
        let len = received.len().min(CLIENT_PREFACE.len());
        if received[..len] != CLIENT_PREFACE[..len] {
            env.counters.parse_errors += 1;
            self.go_away(bufs, ErrorCode::ProtocolError, env);
            return false;
        }
        if len < CLIENT_PREFACE.len() {
            return false;
        }
        self.read_start += CLIENT_PREFACE.len();
        self.state = State::Open;
        self.timers.clear(TimerKind::Header);
        let settings = [
            Setting::MaxConcurrentStreams(STREAMS as u32),
            Setting::EnablePush(false),
            Setting::MaxHeaderListSize(super::MAX_HEADER_LIST_SIZE as u32),
            Setting::InitialWindowSize(super::STREAM_WINDOW),
        ];
        self.write_frame(bufs, |buf| encode_settings(buf, &settings));
        // The connection's window opens to its full size at once.
        self.recv_window.set_target(super::CONNECTION_WINDOW);
        if let Some(increment) = self.recv_window.take_update() {
            self.write_frame(bufs, |buf| {
                encode_window_update(buf, StreamId::CONNECTION, increment)
            });
        }
        true
    }

    /// Takes what was received, step by step, as far as output room
    /// allows: a step that may complete a request waits for room for a
    /// response, the others for room for a few control frames.
    pub(super) fn process<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) {
        while matches!(self.state, State::Open | State::Draining) {
            let next = FrameHeader::parse(&bufs.read[self.read_start..self.read_end]);
            let room = if self.reading.may_respond(next) {
                RESPONSE_ROOM
            } else {
                CONTROL_ROOM
            };
            if Z::WRITE - self.write_end < room || self.queue.free() < 8 {
                return;
            }
            let progress = match self.reading {
                Reading::FrameStart => self.start_frame(bufs, env),
                Reading::Data {
                    stream,
                    data_left,
                    padding_left,
                    end_stream,
                } => self.take_data(stream, data_left, padding_left, end_stream, bufs, env),
                Reading::Fragment {
                    fragment_left,
                    padding_left,
                    end_headers,
                } => self.take_fragment(fragment_left, padding_left, end_headers, bufs, env),
                Reading::Settings { frame, left } => self.take_settings(frame, left, bufs, env),
                Reading::Skip { left } => {
                    let n = self.take_bytes(left);
                    self.skip(left - n);
                    if n == 0 {
                        Progress::Waiting
                    } else {
                        Progress::Moved
                    }
                }
            };
            if progress == Progress::Waiting {
                return;
            }
        }
    }

    /// Takes up to `wanted` of the bytes received: how many it took.
    pub(super) fn take_bytes(&mut self, wanted: u32) -> u32 {
        let n = (self.read_end - self.read_start).min(wanted as usize);
        self.read_start += n;
        n as u32
    }

    /// Drops the next `left` bytes of the frame being read, the last of
    /// it.
    pub(super) fn skip(&mut self, left: u32) {
        self.reading = if left == 0 {
            Reading::FrameStart
        } else {
            Reading::Skip { left }
        };
    }

    /// Reads the start of the next frame and acts on it.
    fn start_frame<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) -> Progress {
        let received = &bufs.read[self.read_start..self.read_end];
        let frame = match parse_frame_start(received, DEFAULT_MAX_FRAME_SIZE) {
            Ok(Some(frame)) => frame,
            Ok(None) => return Progress::Waiting,
            Err(error) => {
                self.frame_error(bufs, error, env);
                return Progress::Moved;
            }
        };
        let header = frame.header;
        if !self.settings_seen {
            // §3.4: the preface ends with a SETTINGS frame.
            if header.frame_type != FrameType::Settings || header.flags.contains(Flags::ACK) {
                self.connection_error(bufs, ErrorCode::ProtocolError, env);
                return Progress::Moved;
            }
            self.settings_seen = true;
        }
        if let Some(continuing) = self.continuing {
            // §6.10: only the block's CONTINUATION frames until it ends.
            if header.frame_type != FrameType::Continuation
                || header.stream_id.get() != continuing.stream
            {
                self.connection_error(bufs, ErrorCode::ProtocolError, env);
                return Progress::Moved;
            }
        }
        let end_headers = header.flags.contains(Flags::END_HEADERS);
        match header.frame_type {
            FrameType::Priority
            | FrameType::RstStream
            | FrameType::Ping
            | FrameType::WindowUpdate => {
                // Whole: at most 17 bytes.
                let Ok(Some((frame, len))) = parse_frame(received, DEFAULT_MAX_FRAME_SIZE) else {
                    return Progress::Waiting;
                };
                let control = Control::new(frame);
                self.read_start += len;
                self.take_control(control, bufs, env);
            }
            FrameType::Headers if end_headers && frame.frame_len() <= Z::READ => {
                // A block in one frame the buffer can hold: decoded where
                // it lies once all of it is in.
                if received.len() < frame.frame_len() {
                    return Progress::Waiting;
                }
                let from = self.read_start + frame.fixed_len;
                let block = super::block::BlockAt::Read(from, from + frame.content_len);
                self.read_start += frame.frame_len();
                let flags = BlockFlags::of(&frame);
                self.header_block(header.stream_id, block, flags, bufs, env);
            }
            FrameType::Headers => {
                self.read_start += frame.fixed_len;
                self.begin_block(&frame, bufs, env);
            }
            FrameType::Continuation => {
                self.read_start += frame.fixed_len;
                self.continue_block(&frame, bufs, env);
            }
            FrameType::Data => {
                self.read_start += frame.fixed_len;
                self.begin_data(&frame, bufs, env);
            }
            FrameType::Settings => {
                self.read_start += frame.fixed_len;
                self.begin_settings(frame, bufs, env);
            }
            FrameType::GoAway => {
                // §6.8: the client will accept no new stream from the
                // server (which opens none); it may still open its own and
                // expects its pings answered, so the connection goes on
                // until it closes it (or the idle timeout).
                self.read_start += frame.fixed_len;
                self.skip(frame.content_len as u32);
            }
            FrameType::PushPromise => {
                // §8.4: a client cannot push.
                self.connection_error(bufs, ErrorCode::ProtocolError, env);
            }
            FrameType::Unknown(_) => {
                // §5.5: ignored.
                self.read_start += frame.fixed_len;
                self.skip(frame.content_len as u32);
            }
        }
        Progress::Moved
    }

    /// A frame that broke a rule: the stream is reset and the rest of the
    /// frame dropped as it comes, or the connection ends.
    fn frame_error<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        error: FrameError,
        env: &mut Env<'_, H, L>,
    ) {
        match error.scope {
            ErrorScope::Stream(stream) => {
                let here = (self.read_end - self.read_start).min(error.frame_len());
                self.read_start += here;
                self.skip((error.frame_len() - here) as u32);
                if error.header.frame_type == FrameType::Data {
                    // Skipped, yet counted against the connection (§6.9).
                    let len = error.header.length;
                    if self.recv_window.receive(len).is_err() {
                        self.connection_error(bufs, ErrorCode::FlowControlError, env);
                        return;
                    }
                    self.recv_window.release(len);
                }
                self.reset_stream(bufs, stream, error.code(), env);
            }
            ErrorScope::Connection => self.connection_error(bufs, error.code(), env),
        }
    }

    /// Ends the connection with GOAWAY(`code`).
    pub(super) fn connection_error<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        code: ErrorCode,
        env: &mut Env<'_, H, L>,
    ) {
        env.counters.parse_errors += 1;
        self.read_start = self.read_end;
        self.reading = Reading::FrameStart;
        self.go_away(bufs, code, env);
        self.state = State::Closing;
    }

    /// Resets `stream` for the client's error with `code` (RST_STREAM),
    /// counting it against the flood bound.
    pub(super) fn reset_stream<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        stream: StreamId,
        code: ErrorCode,
        env: &mut Env<'_, H, L>,
    ) {
        if !self.calm.allow(Abuse::StreamError, env.now) {
            self.connection_error(bufs, ErrorCode::EnhanceYourCalm, env);
            return;
        }
        self.end_stream(bufs, stream, code, env);
    }

    /// Sends RST_STREAM(`code`) for `stream` and drops it; what the
    /// client sent on it before the reset reached it is then ignored.
    pub(super) fn end_stream<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        stream: StreamId,
        code: ErrorCode,
        env: &mut Env<'_, H, L>,
    ) {
        self.write_frame(bufs, |buf| encode_rst_stream(buf, stream, code));
        self.streams.remember_reset(stream);
        self.forget(stream, env);
    }

    /// Drops `stream` (reset by either side). A kept file it was sending
    /// goes back once the pieces of it already queued are sent.
    pub(super) fn forget<H: Handler<L>, L: Default>(
        &mut self,
        stream: StreamId,
        env: &mut Env<'_, H, L>,
    ) {
        if let Some(left) = self.streams.remove(stream) {
            super::output::report_abandoned(&left, self.id, env);
            super::output::report_cut_short(&left, &self.area, self.id, env);
            if let Inbound::Body { sink, .. } = left.inbound {
                self.release(sink);
            }
            if let Outbound::Sending {
                pending: Pending::File { span, kept: true },
                ..
            } = left.outbound
            {
                let region = crate::FileRegion::from_span(span, true);
                if !self.queue.push_release(region) {
                    // A full queue (never, with the room kept free per
                    // frame): sending stops here, so the file may go.
                    self.queue
                        .discard(|passed| super::output::release_passed(passed, &mut env.files));
                    if let Some(files) = env.files.as_deref_mut() {
                        files.release(region);
                    }
                    self.state = State::Closing;
                }
            }
        }
        self.clear_body_timer();
    }
}
