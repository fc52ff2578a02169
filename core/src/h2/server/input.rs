//! What the client sends: the preface, then frames, each handled as RFC
//! 9113 §5 and §6 say.

use super::calm::{Abuse, MAX_CONTINUATIONS};
use super::fields::{HeadBuilder, Refusal};
use super::streams::{Inbound, Outbound, Pending, Stream};
use super::{AREA, Continuing, Gathering, RESPONSE_ROOM, ServerConnection, State};
use crate::h2::flow::{ReceiveWindow, Window};
use crate::h2::frame::{
    CLIENT_PREFACE, DEFAULT_MAX_FRAME_SIZE, ErrorCode, ErrorScope, Frame, FrameError, FrameType,
    PingFrame, Setting, SettingsFrame, SettingsParameters, StreamId, encode_ping_ack,
    encode_rst_stream, encode_settings, encode_settings_ack, encode_window_update, parse_frame,
};
use crate::h2::hpack::DecodeError;
use crate::{Env, Handler, IoBuffers, TimerKind};

/// What handling a frame asks of the loop.
enum Next {
    /// Take the next frame.
    Continue,
    /// Stop: the connection is ending.
    Stop,
}

impl<const READ: usize, const WRITE: usize, const MAX_HEADERS: usize, const STREAMS: usize>
    ServerConnection<READ, WRITE, MAX_HEADERS, STREAMS>
{
    /// `n` bytes were read into [`read_buf`](Self::read_buf) at `env.now`.
    pub fn handle_read<H: Handler<L>, L: Default>(
        &mut self,
        n: usize,
        bufs: &mut IoBuffers<READ, WRITE>,
        env: &mut Env<'_, H, L>,
    ) {
        self.read_end = (self.read_end + n).min(READ);
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
        bufs: &mut IoBuffers<READ, WRITE>,
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
        ];
        self.write_frame(bufs, |buf| encode_settings(buf, &settings));
        true
    }

    /// Takes the frames received, as far as output room allows.
    pub(super) fn process<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<READ, WRITE>,
        env: &mut Env<'_, H, L>,
    ) {
        while matches!(self.state, State::Open | State::Draining) {
            // Room for the frames a frame may make us write.
            if WRITE - self.write_end < RESPONSE_ROOM || self.queue.free() < 8 {
                return;
            }
            let received = &bufs.read[self.read_start..self.read_end];
            let (frame, consumed) = match parse_frame(received, DEFAULT_MAX_FRAME_SIZE) {
                Ok(Some(parsed)) => parsed,
                Ok(None) => return,
                Err(error) => {
                    self.frame_error(bufs, error, env);
                    continue;
                }
            };
            // The frame borrows the read buffer: settings apply now, and
            // the rest is kept as ranges, so that handling it may write.
            let settings = match frame {
                Frame::Settings(SettingsFrame::Parameters(parameters)) => {
                    Some(self.apply_settings(parameters))
                }
                _ => None,
            };
            let frame = Owned::new(frame, received, settings);
            if !self.settings_seen {
                // §3.4: the preface ends with a SETTINGS frame.
                if !matches!(frame, Owned::Settings(Some(_))) {
                    self.connection_error(bufs, ErrorCode::ProtocolError, env);
                    return;
                }
                self.settings_seen = true;
            }
            match self.take(frame, bufs, env) {
                Next::Continue => {
                    self.read_start = (self.read_start + consumed).min(self.read_end);
                }
                Next::Stop => return,
            }
        }
    }

    /// A frame that broke a rule: the stream is reset, or the connection
    /// ends.
    fn frame_error<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<READ, WRITE>,
        error: FrameError,
        env: &mut Env<'_, H, L>,
    ) {
        match error.scope {
            ErrorScope::Stream(stream) => {
                self.read_start = (self.read_start + error.frame_len()).min(self.read_end);
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
        bufs: &mut IoBuffers<READ, WRITE>,
        code: ErrorCode,
        env: &mut Env<'_, H, L>,
    ) {
        env.counters.parse_errors += 1;
        self.read_start = self.read_end;
        self.go_away(bufs, code, env);
        self.state = State::Closing;
    }

    /// Resets `stream` for the client's error with `code` (RST_STREAM),
    /// counting it against the flood bound.
    fn reset_stream<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<READ, WRITE>,
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

    /// Sends RST_STREAM(`code`) for `stream` and drops it.
    pub(super) fn end_stream<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<READ, WRITE>,
        stream: StreamId,
        code: ErrorCode,
        env: &mut Env<'_, H, L>,
    ) {
        self.write_frame(bufs, |buf| encode_rst_stream(buf, stream, code));
        self.forget(stream, env);
    }

    /// Drops `stream` (reset by either side). A kept file it was sending
    /// goes back once the pieces of it already queued are sent.
    fn forget<H: Handler<L>, L: Default>(&mut self, stream: StreamId, env: &mut Env<'_, H, L>) {
        if let Some(left) = self.streams.remove(stream) {
            if let Outbound::Sending(Pending::File { span, kept: true }) = left.outbound {
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
        if self
            .gathering
            .as_ref()
            .is_some_and(|g| g.stream == stream.get())
        {
            self.gathering = None;
            self.timers.clear(TimerKind::Body);
        }
    }

    /// Handles one frame.
    fn take<H: Handler<L>, L: Default>(
        &mut self,
        frame: Owned,
        bufs: &mut IoBuffers<READ, WRITE>,
        env: &mut Env<'_, H, L>,
    ) -> Next {
        if let Some(continuing) = self.continuing {
            return match frame {
                Owned::Continuation {
                    stream,
                    fragment,
                    end_headers,
                } if stream.get() == continuing.stream => {
                    self.continue_block(continuing, fragment, end_headers, bufs, env)
                }
                // §6.10: anything else in between is a connection error.
                _ => {
                    self.connection_error(bufs, ErrorCode::ProtocolError, env);
                    Next::Stop
                }
            };
        }
        match frame {
            Owned::Settings(applied) => self.take_settings(applied, bufs, env),
            Owned::Ping { data, ack } => {
                if !self.calm.allow(Abuse::Control, env.now) {
                    self.connection_error(bufs, ErrorCode::EnhanceYourCalm, env);
                    return Next::Stop;
                }
                if !ack {
                    self.write_frame(bufs, |buf| encode_ping_ack(buf, data));
                }
                Next::Continue
            }
            Owned::GoAway => {
                // The client will open no more streams: finish ours.
                if self.state == State::Open {
                    self.go_away(bufs, ErrorCode::NoError, env);
                }
                Next::Continue
            }
            Owned::WindowUpdate { stream, increment } => {
                self.take_window_update(stream, increment, bufs, env);
                Next::Continue
            }
            Owned::RstStream { stream } => {
                if self.streams.is_closed(stream) || stream.get() > self.streams.highest {
                    if stream.get() > self.streams.highest {
                        // §5.1: RST_STREAM on an idle stream.
                        self.connection_error(bufs, ErrorCode::ProtocolError, env);
                        return Next::Stop;
                    }
                    return Next::Continue;
                }
                if !self.calm.allow(Abuse::Reset, env.now) {
                    self.connection_error(bufs, ErrorCode::EnhanceYourCalm, env);
                    return Next::Stop;
                }
                self.forget(stream, env);
                Next::Continue
            }
            Owned::PushPromise => {
                self.connection_error(bufs, ErrorCode::ProtocolError, env);
                Next::Stop
            }
            Owned::Continuation { .. } => {
                // §6.10: not after a block that ended.
                self.connection_error(bufs, ErrorCode::ProtocolError, env);
                Next::Stop
            }
            Owned::Ignored => Next::Continue,
            Owned::Headers {
                stream,
                fragment,
                end_stream,
                end_headers,
                self_dependent,
            } => {
                let flags = BlockFlags {
                    end_stream,
                    self_dependent,
                };
                self.take_headers(stream, fragment, flags, end_headers, bufs, env)
            }
            Owned::Data {
                stream,
                data,
                flow_len,
                end_stream,
            } => self.take_data(stream, data, flow_len, end_stream, bufs, env),
        }
    }

    /// The client's SETTINGS parameters: they apply at once; a window
    /// size change moves every stream's window (§6.9.2).
    fn apply_settings(&mut self, parameters: SettingsParameters<'_>) -> Result<(), ErrorCode> {
        let old_window = self.peer.initial_window_size;
        self.peer.apply_all(parameters);
        let new_window = self.peer.initial_window_size;
        if new_window != old_window {
            for stream in self.streams.iter_mut() {
                stream
                    .send_window
                    .apply_initial_size_change(old_window, new_window)
                    .map_err(|_| ErrorCode::FlowControlError)?;
            }
        }
        self.encoder
            .set_max_table_size(self.peer.header_table_size as usize);
        Ok(())
    }

    /// SETTINGS: acknowledged once applied.
    fn take_settings<H: Handler<L>, L: Default>(
        &mut self,
        applied: Option<Result<(), ErrorCode>>,
        bufs: &mut IoBuffers<READ, WRITE>,
        env: &mut Env<'_, H, L>,
    ) -> Next {
        if !self.calm.allow(Abuse::Control, env.now) {
            self.connection_error(bufs, ErrorCode::EnhanceYourCalm, env);
            return Next::Stop;
        }
        match applied {
            // An acknowledgement of ours.
            None => Next::Continue,
            Some(Ok(())) => {
                self.write_frame(bufs, encode_settings_ack);
                Next::Continue
            }
            Some(Err(code)) => {
                self.connection_error(bufs, code, env);
                Next::Stop
            }
        }
    }

    /// WINDOW_UPDATE: more may be sent on the connection or a stream.
    fn take_window_update<H: Handler<L>, L: Default>(
        &mut self,
        stream: StreamId,
        increment: u32,
        bufs: &mut IoBuffers<READ, WRITE>,
        env: &mut Env<'_, H, L>,
    ) {
        if stream.is_connection() {
            if self.send_window.increase(increment).is_err() {
                self.connection_error(bufs, ErrorCode::FlowControlError, env);
            }
            return;
        }
        let highest = self.streams.highest;
        let increased = self
            .streams
            .get_mut(stream)
            .map(|open| open.send_window.increase(increment).is_ok());
        match increased {
            Some(false) => self.reset_stream(bufs, stream, ErrorCode::FlowControlError, env),
            Some(true) => {}
            None if stream.get() > highest => {
                // §5.1: WINDOW_UPDATE on an idle stream.
                self.connection_error(bufs, ErrorCode::ProtocolError, env);
            }
            // A stream that ended: ignored (§6.9).
            None => {}
        }
    }

    /// HEADERS: a new request, or a request's trailers.
    fn take_headers<H: Handler<L>, L: Default>(
        &mut self,
        stream: StreamId,
        fragment: (usize, usize),
        flags: BlockFlags,
        end_headers: bool,
        bufs: &mut IoBuffers<READ, WRITE>,
        env: &mut Env<'_, H, L>,
    ) -> Next {
        if !end_headers {
            // Gathered in the area after what is held there.
            let start = self.area_used();
            let (from, to) = (self.read_start + fragment.0, self.read_start + fragment.1);
            let len = to - from;
            if start + len > AREA / 2 {
                self.connection_error(bufs, ErrorCode::EnhanceYourCalm, env);
                return Next::Stop;
            }
            self.area[start..start + len].copy_from_slice(&bufs.read[from..to]);
            self.continuing = Some(Continuing {
                stream: stream.get(),
                flags,
                start: start as u32,
                len: len as u32,
                frames: 0,
            });
            return Next::Continue;
        }
        let (from, to) = (self.read_start + fragment.0, self.read_start + fragment.1);
        self.header_block(stream, BlockAt::Read(from, to), flags, bufs, env)
    }

    /// CONTINUATION of a split block.
    fn continue_block<H: Handler<L>, L: Default>(
        &mut self,
        mut continuing: Continuing,
        fragment: (usize, usize),
        end_headers: bool,
        bufs: &mut IoBuffers<READ, WRITE>,
        env: &mut Env<'_, H, L>,
    ) -> Next {
        let (from, to) = (self.read_start + fragment.0, self.read_start + fragment.1);
        let len = to - from;
        let at = (continuing.start + continuing.len) as usize;
        continuing.frames += 1;
        if continuing.frames > MAX_CONTINUATIONS || at + len > AREA / 2 {
            self.connection_error(bufs, ErrorCode::EnhanceYourCalm, env);
            return Next::Stop;
        }
        self.area[at..at + len].copy_from_slice(&bufs.read[from..to]);
        continuing.len += len as u32;
        if !end_headers {
            self.continuing = Some(continuing);
            return Next::Continue;
        }
        self.continuing = None;
        let stream = StreamId::new(continuing.stream).unwrap_or(StreamId::CONNECTION);
        let block = BlockAt::Area(
            continuing.start as usize,
            (continuing.start + continuing.len) as usize,
        );
        self.header_block(stream, block, continuing.flags, bufs, env)
    }

    /// A whole header block for `stream`.
    fn header_block<H: Handler<L>, L: Default>(
        &mut self,
        stream: StreamId,
        block: BlockAt,
        flags: BlockFlags,
        bufs: &mut IoBuffers<READ, WRITE>,
        env: &mut Env<'_, H, L>,
    ) -> Next {
        let end_stream = flags.end_stream;
        // Trailers of a request gathering its body.
        if let Some(open) = self.streams.get_mut(stream) {
            if !matches!(open.inbound, Inbound::Body { .. }) || !end_stream {
                // HEADERS on a half-closed stream, or trailers that do not
                // end it.
                self.decode_and_drop(block, bufs, env);
                self.reset_stream(bufs, stream, ErrorCode::StreamClosed, env);
                return Next::Continue;
            }
            if !self.decode_and_drop(block, bufs, env) {
                return Next::Stop;
            }
            return self.body_ended(stream, bufs, env);
        }
        if stream.get() <= self.streams.highest || !stream.is_client_initiated() {
            // §5.1.1: identifiers only grow.
            self.connection_error(bufs, ErrorCode::ProtocolError, env);
            return Next::Stop;
        }
        // Decode into the area after what is held there (and after the
        // block itself when it was gathered there).
        let base = match block {
            BlockAt::Read(..) => self.area_used(),
            BlockAt::Area(_, end) => end,
        };
        let mut fields = core::mem::take(&mut self.fields);
        let mut head = HeadBuilder::new(&mut fields, base);
        let (area_block, out) = self.area.split_at_mut(base);
        let bytes = match block {
            BlockAt::Read(from, to) => &bufs.read[from..to],
            BlockAt::Area(from, to) => &area_block[from..to],
        };
        let decoded = self.decoder.decode(bytes, out, |field| {
            head.push(&field);
            Ok::<_, DecodeError>(())
        });
        let decoded_len = match decoded {
            Ok(decoded) => decoded.written,
            Err(DecodeError::HeaderListTooLarge) => {
                self.fields = fields;
                self.connection_error(bufs, ErrorCode::EnhanceYourCalm, env);
                return Next::Stop;
            }
            Err(_) => {
                self.fields = fields;
                self.connection_error(bufs, ErrorCode::CompressionError, env);
                return Next::Stop;
            }
        };
        let finished = head.finish(&mut self.area, base + decoded_len);
        self.streams.highest = stream.get();
        if flags.self_dependent {
            // Decoded, so HPACK stays in step, then refused (§5.3.1).
            self.fields = fields;
            self.reset_stream(bufs, stream, ErrorCode::ProtocolError, env);
            return Next::Continue;
        }
        if self.state == State::Draining {
            // Past the last stream of our GOAWAY: ignored (§6.8).
            self.fields = fields;
            return Next::Continue;
        }
        if self.streams.is_full() {
            self.fields = fields;
            self.end_stream(bufs, stream, ErrorCode::RefusedStream, env);
            return Next::Continue;
        }
        let head = match finished {
            Ok(head) => head,
            Err(Refusal::Malformed) => {
                self.fields = fields;
                self.reset_stream(bufs, stream, ErrorCode::ProtocolError, env);
                return Next::Continue;
            }
            Err(Refusal::TooManyFields) => {
                self.fields = fields;
                self.open_stream(stream, end_stream);
                self.answer_error(
                    bufs,
                    stream,
                    crate::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                    env,
                );
                return Next::Continue;
            }
        };
        self.open_stream(stream, end_stream);
        env.counters.requests += 1;
        if end_stream {
            self.respond(bufs, stream, &head, &fields, 0..0, env);
            self.fields = fields;
            return Next::Continue;
        }
        let expected = head.request(&self.area, &fields).content_length();
        let Ok(expected) = expected else {
            self.fields = fields;
            self.reset_stream(bufs, stream, ErrorCode::ProtocolError, env);
            return Next::Continue;
        };
        if let Some(open) = self.streams.get_mut(stream) {
            open.inbound = Inbound::Body {
                received: 0,
                expected,
            };
        }
        if self.gathering.is_some() {
            // One body at a time: the client may send this one again.
            self.fields = fields;
            self.end_stream(bufs, stream, ErrorCode::RefusedStream, env);
            return Next::Continue;
        }
        // The head moves to the start of the area; its body follows it.
        let (start, len) = (base, head.len as usize - base);
        self.area.copy_within(start..start + len, 0);
        let head = head.moved_back(start as u32);
        for span in fields.iter_mut() {
            *span = span.moved_back(start as u32);
        }
        let too_long = expected.is_some_and(|n| n > (AREA - len) as u64);
        self.gathering = Some(Gathering {
            stream: stream.get(),
            head,
            fields,
            body_len: 0,
            overflowed: too_long || self.config.max_body_len < expected.unwrap_or(0),
        });
        self.timers.set(
            TimerKind::Body,
            env.now.saturating_add(self.config.body_timeout),
        );
        Next::Continue
    }

    /// Decodes a block whose fields are not used (trailers), keeping the
    /// HPACK table in step; `false` if it failed (the connection ends).
    fn decode_and_drop<H: Handler<L>, L: Default>(
        &mut self,
        block: BlockAt,
        bufs: &mut IoBuffers<READ, WRITE>,
        env: &mut Env<'_, H, L>,
    ) -> bool {
        let base = match block {
            BlockAt::Read(..) => self.area_used(),
            BlockAt::Area(_, end) => end,
        };
        let (area_block, out) = self.area.split_at_mut(base);
        let bytes = match block {
            BlockAt::Read(from, to) => &bufs.read[from..to],
            BlockAt::Area(from, to) => &area_block[from..to],
        };
        let decoded = self
            .decoder
            .decode(bytes, out, |_| Ok::<_, DecodeError>(()));
        if decoded.is_err() {
            self.connection_error(bufs, ErrorCode::CompressionError, env);
            return false;
        }
        true
    }

    /// Adds `stream` to the table.
    fn open_stream(&mut self, stream: StreamId, end_stream: bool) {
        let _ = self.streams.open(Stream {
            id: stream,
            inbound: if end_stream {
                Inbound::Closed
            } else {
                Inbound::Body {
                    received: 0,
                    expected: None,
                }
            },
            outbound: Outbound::Waiting,
            send_window: Window::stream(stream, self.peer.initial_window_size),
            recv_window: ReceiveWindow::stream(stream, crate::h2::flow::DEFAULT_WINDOW_SIZE),
        });
    }

    /// DATA: a request body's bytes.
    fn take_data<H: Handler<L>, L: Default>(
        &mut self,
        stream: StreamId,
        data: (usize, usize),
        flow_len: u32,
        end_stream: bool,
        bufs: &mut IoBuffers<READ, WRITE>,
        env: &mut Env<'_, H, L>,
    ) -> Next {
        // The connection window counts every DATA frame (§6.9), and the
        // bytes are taken at once, so its window reopens at once.
        if self.recv_window.receive(flow_len).is_err() {
            self.connection_error(bufs, ErrorCode::FlowControlError, env);
            return Next::Stop;
        }
        self.recv_window.release(flow_len);
        if let Some(increment) = self.recv_window.take_update() {
            self.write_frame(bufs, |buf| {
                encode_window_update(buf, StreamId::CONNECTION, increment)
            });
        }
        if data.0 == data.1 && !end_stream && !self.calm.allow(Abuse::EmptyData, env.now) {
            self.connection_error(bufs, ErrorCode::EnhanceYourCalm, env);
            return Next::Stop;
        }
        let Some(open) = self.streams.get_mut(stream) else {
            if stream.get() > self.streams.highest {
                // §5.1: DATA on an idle stream.
                self.connection_error(bufs, ErrorCode::ProtocolError, env);
                return Next::Stop;
            }
            self.reset_stream(bufs, stream, ErrorCode::StreamClosed, env);
            return Next::Continue;
        };
        let Inbound::Body { received, expected } = open.inbound else {
            self.reset_stream(bufs, stream, ErrorCode::StreamClosed, env);
            return Next::Continue;
        };
        if open.recv_window.receive(flow_len).is_err() {
            self.reset_stream(bufs, stream, ErrorCode::FlowControlError, env);
            return Next::Continue;
        }
        open.recv_window.release(flow_len);
        let update = open.recv_window.take_update();
        let len = (data.1 - data.0) as u64;
        let received = received + len;
        open.inbound = Inbound::Body { received, expected };
        if expected.is_some_and(|n| received > n) {
            self.reset_stream(bufs, stream, ErrorCode::ProtocolError, env);
            return Next::Continue;
        }
        if let (Some(increment), false) = (update, end_stream) {
            self.write_frame(bufs, |buf| encode_window_update(buf, stream, increment));
        }
        if let Some(gathering) = self.gathering.as_mut().filter(|g| g.stream == stream.get()) {
            let at = gathering.head.len as usize + gathering.body_len as usize;
            let fits = at + len as usize <= AREA
                && u64::from(gathering.body_len) + len <= self.config.max_body_len;
            if fits && !gathering.overflowed {
                let (from, to) = (self.read_start + data.0, self.read_start + data.1);
                self.area[at..at + len as usize].copy_from_slice(&bufs.read[from..to]);
                gathering.body_len += len as u32;
            } else {
                gathering.overflowed = true;
            }
            self.timers.set(
                TimerKind::Body,
                env.now.saturating_add(self.config.body_timeout),
            );
        }
        if end_stream {
            if expected.is_some_and(|n| received != n) {
                self.reset_stream(bufs, stream, ErrorCode::ProtocolError, env);
                return Next::Continue;
            }
            return self.body_ended(stream, bufs, env);
        }
        Next::Continue
    }

    /// The client ended `stream`'s body: its request runs.
    fn body_ended<H: Handler<L>, L: Default>(
        &mut self,
        stream: StreamId,
        bufs: &mut IoBuffers<READ, WRITE>,
        env: &mut Env<'_, H, L>,
    ) -> Next {
        if let Some(open) = self.streams.get_mut(stream) {
            open.inbound = Inbound::Closed;
        }
        let Some(gathering) = self.gathering.take_if(|g| g.stream == stream.get()) else {
            return Next::Continue;
        };
        self.timers.clear(TimerKind::Body);
        if gathering.overflowed {
            self.answer_error(bufs, stream, crate::StatusCode::PAYLOAD_TOO_LARGE, env);
            return Next::Continue;
        }
        let body = gathering.head.len as usize..(gathering.head.len + gathering.body_len) as usize;
        self.respond(bufs, stream, &gathering.head, &gathering.fields, body, env);
        Next::Continue
    }
}

/// What a HEADERS frame says of its block.
#[derive(Clone, Copy, Debug)]
pub(super) struct BlockFlags {
    /// It ends its stream.
    pub(super) end_stream: bool,
    /// Its priority names its own stream.
    pub(super) self_dependent: bool,
}

/// Where a whole header block lies.
#[derive(Clone, Copy, Debug)]
enum BlockAt {
    /// In the read buffer (one HEADERS frame).
    Read(usize, usize),
    /// Gathered in the decoding area.
    Area(usize, usize),
}

/// A frame's facts, with its payload as a range of the bytes it was
/// parsed from (relative to the frame's start), so that it no longer
/// borrows the read buffer.
#[derive(Clone, Copy, Debug)]
enum Owned {
    /// DATA.
    Data {
        /// Its stream.
        stream: StreamId,
        /// The data, padding removed.
        data: (usize, usize),
        /// What it counts against flow control (padding included).
        flow_len: u32,
        /// Whether it ends the stream.
        end_stream: bool,
    },
    /// HEADERS.
    Headers {
        /// Its stream.
        stream: StreamId,
        /// The block fragment.
        fragment: (usize, usize),
        /// Whether it ends the stream.
        end_stream: bool,
        /// Whether the block ends here.
        end_headers: bool,
        /// Whether its priority names the stream itself (checked once
        /// its block is decoded, §5.3.1).
        self_dependent: bool,
    },
    /// CONTINUATION.
    Continuation {
        /// Its stream.
        stream: StreamId,
        /// The block fragment.
        fragment: (usize, usize),
        /// Whether the block ends here.
        end_headers: bool,
    },
    /// SETTINGS: how applying its parameters went (`None` for an ACK).
    Settings(Option<Result<(), ErrorCode>>),
    /// PING.
    Ping {
        /// The opaque data.
        data: [u8; 8],
        /// Whether it is an ACK.
        ack: bool,
    },
    /// GOAWAY.
    GoAway,
    /// WINDOW_UPDATE.
    WindowUpdate {
        /// Its stream (0 for the connection).
        stream: StreamId,
        /// The increment.
        increment: u32,
    },
    /// RST_STREAM.
    RstStream {
        /// Its stream.
        stream: StreamId,
    },
    /// PUSH_PROMISE: never from a client.
    PushPromise,
    /// PRIORITY and unknown types.
    Ignored,
}

impl Owned {
    /// The facts of `frame`, parsed from the start of `received`, with
    /// `settings` the outcome of applying a SETTINGS frame's parameters.
    fn new(frame: Frame<'_>, received: &[u8], settings: Option<Result<(), ErrorCode>>) -> Owned {
        let base = received.as_ptr() as usize;
        let range = |bytes: &[u8]| {
            let start = bytes.as_ptr() as usize - base;
            (start, start + bytes.len())
        };
        match frame {
            Frame::Data(data) => Owned::Data {
                stream: data.stream_id,
                data: range(data.data),
                flow_len: data.flow_controlled_len,
                end_stream: data.end_stream,
            },
            Frame::Headers(headers) => Owned::Headers {
                stream: headers.stream_id,
                fragment: range(headers.fragment),
                end_stream: headers.end_stream,
                end_headers: headers.end_headers,
                self_dependent: headers.depends_on_itself(),
            },
            Frame::Continuation(continuation) => Owned::Continuation {
                stream: continuation.stream_id,
                fragment: range(continuation.fragment),
                end_headers: continuation.end_headers,
            },
            Frame::Settings(_) => Owned::Settings(settings),
            Frame::Ping(PingFrame { opaque_data, ack }) => Owned::Ping {
                data: opaque_data,
                ack,
            },
            Frame::GoAway(_) => Owned::GoAway,
            Frame::WindowUpdate(update) => Owned::WindowUpdate {
                stream: update.stream_id,
                increment: update.increment,
            },
            Frame::RstStream(reset) => Owned::RstStream {
                stream: reset.stream_id,
            },
            Frame::PushPromise(_) => Owned::PushPromise,
            Frame::Priority(_) | Frame::Unknown(_) => Owned::Ignored,
        }
    }
}
