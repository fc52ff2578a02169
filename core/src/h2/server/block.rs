//! Field blocks: HEADERS and CONTINUATION frames, their fragments
//! gathered in the decoding area as they arrive (or a block in one frame
//! decoded where it lies in the read buffer), decoded with HPACK once
//! whole, and turned into a request, or trailers ending one.
//!
//! The bounds: a block gathered in the area ends within its first half
//! (whose other half takes the decoded fields) and takes at most
//! [`MAX_CONTINUATIONS`] CONTINUATION frames: a client past one gets
//! GOAWAY(ENHANCE_YOUR_CALM). A block that decodes to more than
//! [`MAX_HEADER_LIST_SIZE`](super::MAX_HEADER_LIST_SIZE) bytes (or more
//! than the area holds) is still read whole, keeping HPACK in step, and
//! its request answered `431` (§10.5.1); such answers count against the
//! stream error bound.
//!
//! A block on a stream the client ended or reset, or on one the server
//! closed, is a connection error of type STREAM_CLOSED (§5.1), one on a
//! stream the client skipped a PROTOCOL_ERROR (§5.1.1); one on a stream
//! the server reset lately is ignored (the client may have sent it before
//! the reset reached it). A second block on an open stream is its
//! trailers: without END_STREAM, or with a pseudo-header or a field §8.2
//! refuses, the request is malformed (§8.1).

use super::calm::{Abuse, MAX_CONTINUATIONS};
use super::dispatch::{Progress, Reading};
use super::fields::{self, HeadBuilder, Refusal};
use super::output::Ready;
use super::streams::{Inbound, Outbound, Sink, Stream};
use super::{AREA, Continuing, ServerConnection, State};
use crate::h2::flow::{ReceiveWindow, Window};
use crate::h2::frame::{ErrorCode, Flags, FrameStart, StreamId};
use crate::h2::hpack::{DecodeError, DecodedField};
use crate::sizes::Sizes;
use crate::{BodyPolicy, Env, Handler, IoBuffers, TimerKind};

/// What a HEADERS frame says of its block.
#[derive(Clone, Copy, Debug)]
pub(super) struct BlockFlags {
    /// It ends its stream.
    pub(super) end_stream: bool,
    /// Its priority names its own stream.
    pub(super) self_dependent: bool,
}

impl BlockFlags {
    /// The flags of the HEADERS frame `frame`.
    pub(super) fn of(frame: &FrameStart) -> BlockFlags {
        let stream = frame.header.stream_id;
        BlockFlags {
            end_stream: frame.header.flags.contains(Flags::END_STREAM),
            self_dependent: frame
                .priority
                .is_some_and(|priority| priority.dependency == stream),
        }
    }
}

/// What a block whose fields are not used held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unused {
    /// Fields that passed the check.
    Valid,
    /// A field that failed it.
    Malformed,
    /// More than the area or the header list limit take.
    TooLarge,
    /// A compression error: the connection ended.
    Failed,
}

/// Where a whole header block lies.
#[derive(Clone, Copy, Debug)]
pub(super) enum BlockAt {
    /// In the read buffer (one HEADERS frame).
    Read(usize, usize),
    /// Gathered in the decoding area.
    Area(usize, usize),
}

impl<Z: Sizes, const STREAMS: usize> ServerConnection<Z, STREAMS> {
    /// A HEADERS frame whose block is gathered in the area: it starts
    /// there after what the area holds.
    pub(super) fn begin_block<H: Handler<L>, L: Default>(
        &mut self,
        frame: &FrameStart,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) {
        let start = self.area_used();
        if start + frame.content_len > AREA / 2 {
            self.connection_error(bufs, ErrorCode::EnhanceYourCalm, env);
            return;
        }
        self.continuing = Some(Continuing {
            stream: frame.header.stream_id.get(),
            flags: BlockFlags::of(frame),
            start: start as u32,
            len: 0,
            frames: 0,
        });
        self.reading = Reading::Fragment {
            fragment_left: frame.content_len as u32,
            padding_left: frame.padding as u32,
            end_headers: frame.header.flags.contains(Flags::END_HEADERS),
        };
    }

    /// A CONTINUATION frame of the block being gathered (the caller
    /// checked it is that block's stream).
    pub(super) fn continue_block<H: Handler<L>, L: Default>(
        &mut self,
        frame: &FrameStart,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) {
        let Some(mut continuing) = self.continuing else {
            // §6.10: not after a block that ended.
            self.connection_error(bufs, ErrorCode::ProtocolError, env);
            return;
        };
        let at = (continuing.start + continuing.len) as usize;
        continuing.frames += 1;
        if continuing.frames > MAX_CONTINUATIONS || at + frame.content_len > AREA / 2 {
            self.connection_error(bufs, ErrorCode::EnhanceYourCalm, env);
            return;
        }
        self.continuing = Some(continuing);
        self.reading = Reading::Fragment {
            fragment_left: frame.content_len as u32,
            padding_left: frame.padding as u32,
            end_headers: frame.header.flags.contains(Flags::END_HEADERS),
        };
    }

    /// The fragment bytes that are in, appended to the block in the area,
    /// then its padding; once the frame is all in and it ends the block,
    /// the block is decoded.
    pub(super) fn take_fragment<H: Handler<L>, L: Default>(
        &mut self,
        fragment_left: u32,
        padding_left: u32,
        end_headers: bool,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) -> Progress {
        let Some(mut continuing) = self.continuing else {
            // Never: a fragment is read only for a block begun.
            self.connection_error(bufs, ErrorCode::InternalError, env);
            return Progress::Moved;
        };
        let from = self.read_start;
        let taken = self.take_bytes(fragment_left);
        let at = (continuing.start + continuing.len) as usize;
        // Within the area: checked against the whole fragment when its
        // frame began.
        if let Some(to) = self.area.get_mut(at..at + taken as usize) {
            to.copy_from_slice(&bufs.read[from..from + taken as usize]);
        }
        continuing.len += taken;
        self.continuing = Some(continuing);
        let padding = self.take_bytes(padding_left);
        let (fragment_left, padding_left) = (fragment_left - taken, padding_left - padding);
        if fragment_left > 0 || padding_left > 0 {
            self.reading = Reading::Fragment {
                fragment_left,
                padding_left,
                end_headers,
            };
            return if taken + padding > 0 {
                Progress::Moved
            } else {
                Progress::Waiting
            };
        }
        self.reading = Reading::FrameStart;
        if end_headers {
            self.continuing = None;
            let stream = StreamId::new(continuing.stream).unwrap_or(StreamId::CONNECTION);
            let block = BlockAt::Area(
                continuing.start as usize,
                (continuing.start + continuing.len) as usize,
            );
            self.header_block(stream, block, continuing.flags, bufs, env);
        }
        Progress::Moved
    }

    /// A whole header block for `stream`: a new request, or a request's
    /// trailers.
    pub(super) fn header_block<H: Handler<L>, L: Default>(
        &mut self,
        stream: StreamId,
        block: BlockAt,
        flags: BlockFlags,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) {
        let end_stream = flags.end_stream;
        if let Some(open) = self.streams.get_mut(stream) {
            let body_coming = matches!(open.inbound, Inbound::Body { .. });
            // Decoded first, whatever it holds, so HPACK stays in step.
            let trailers = self.decode_unused(block, bufs, fields::valid_trailer, env);
            let code = match trailers {
                // The connection ended.
                Unused::Failed => return,
                // §5.1: HEADERS on a half-closed (remote) stream.
                _ if !body_coming => ErrorCode::StreamClosed,
                // §8.1: trailers without END_STREAM, or with a
                // pseudo-header or a field §8.2 refuses: malformed.
                Unused::Valid | Unused::Malformed if !end_stream => ErrorCode::ProtocolError,
                Unused::Malformed => ErrorCode::ProtocolError,
                Unused::TooLarge => {
                    self.refuse_large(stream, end_stream, bufs, env);
                    return;
                }
                Unused::Valid => {
                    self.request_ended(stream, bufs, env);
                    return;
                }
            };
            self.reset_stream(bufs, stream, code, env);
            return;
        }
        if !stream.is_client_initiated() {
            // §5.1.1: clients open odd streams only.
            self.connection_error(bufs, ErrorCode::ProtocolError, env);
            return;
        }
        if stream.get() <= self.streams.highest {
            if self.streams.was_skipped(stream) {
                // §5.1.1: identifiers only grow; one skipped cannot be
                // opened later.
                self.connection_error(bufs, ErrorCode::ProtocolError, env);
                return;
            }
            // §5.1: a stream that was opened and closed. (One skipped too
            // long ago to be remembered ends here as well: the same
            // connection error, with another code.)
            if self.streams.was_reset(stream) {
                // Sent before our RST_STREAM reached the client: ignored,
                // once decoded.
                let _ = self.decode_unused(block, bufs, |_| true, env);
                return;
            }
            self.connection_error(bufs, ErrorCode::StreamClosed, env);
            return;
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
        let finished = match decoded {
            Ok(decoded) => head.finish(&mut self.area, base + decoded.written),
            // Larger than the area or SETTINGS_MAX_HEADER_LIST_SIZE: read
            // whole all the same, so only the stream fails.
            Err(error) if !error.is_compression_error() => Err(Refusal::TooLarge),
            Err(_) => {
                self.fields = fields;
                self.connection_error(bufs, ErrorCode::CompressionError, env);
                return;
            }
        };
        self.streams.advance(stream);
        if flags.self_dependent {
            // Decoded, so HPACK stays in step, then refused (§5.3.1).
            self.fields = fields;
            self.reset_stream(bufs, stream, ErrorCode::ProtocolError, env);
            return;
        }
        if self.state == State::Draining {
            // Past the last stream of our GOAWAY: ignored (§6.8).
            self.fields = fields;
            return;
        }
        if self.streams.is_full() {
            self.fields = fields;
            self.end_stream(bufs, stream, ErrorCode::RefusedStream, env);
            return;
        }
        let head = match finished {
            Ok(head) => head,
            Err(Refusal::Malformed) => {
                self.fields = fields;
                self.reset_stream(bufs, stream, ErrorCode::ProtocolError, env);
                return;
            }
            Err(Refusal::TooLarge) => {
                self.fields = fields;
                self.open_stream(stream, end_stream);
                self.refuse_large(stream, end_stream, bufs, env);
                return;
            }
        };
        self.open_stream(stream, end_stream);
        env.counters.requests += 1;
        if end_stream {
            self.respond(bufs, stream, Ready::without_body(head, &fields), env);
            self.fields = fields;
            return;
        }
        let request = head
            .request(&self.area, &fields)
            .with_peer(self.peer_addr.as_ref());
        let Ok(expected) = request.content_length() else {
            self.fields = fields;
            self.reset_stream(bufs, stream, ErrorCode::ProtocolError, env);
            return;
        };
        self.deciding = Some(stream);
        let policy = env.handler.body_policy(&request);
        self.deciding = None;
        let sink = match policy {
            BodyPolicy::Buffer => self.gather(base, &head, &fields, expected),
            BodyPolicy::Stream => self.keep(base, &head, &fields).map(Sink::Handler),
            BodyPolicy::Ignore => Some(Sink::Discard),
        };
        let Some(sink) = sink else {
            // No room for its record now: the client may send it again.
            self.fields = fields;
            self.end_stream(bufs, stream, ErrorCode::RefusedStream, env);
            return;
        };
        if let Some(open) = self.streams.get_mut(stream) {
            open.inbound = Inbound::Body {
                received: 0,
                expected,
                sink,
            };
        }
        if sink == Sink::Discard {
            // Answered now; the body is dropped as it comes.
            self.respond(bufs, stream, Ready::without_body(head, &fields), env);
            self.fields = fields;
            return;
        }
        self.fields = fields;
        self.timers.set(
            TimerKind::Body,
            env.now.saturating_add(self.config.body_timeout),
        );
    }

    /// Decodes a block whose fields are not used (trailers, or a block
    /// on a stream that is not served), keeping the HPACK table in step,
    /// and checks each field with `check`.
    fn decode_unused<H: Handler<L>, L: Default>(
        &mut self,
        block: BlockAt,
        bufs: &mut IoBuffers<Z>,
        check: impl Fn(&DecodedField<'_>) -> bool,
        env: &mut Env<'_, H, L>,
    ) -> Unused {
        let base = match block {
            BlockAt::Read(..) => self.area_used(),
            BlockAt::Area(_, end) => end,
        };
        let (area_block, out) = self.area.split_at_mut(base);
        let bytes = match block {
            BlockAt::Read(from, to) => &bufs.read[from..to],
            BlockAt::Area(from, to) => &area_block[from..to],
        };
        let mut valid = true;
        let decoded = self.decoder.decode(bytes, out, |field| {
            valid &= check(&field);
            Ok::<_, DecodeError>(())
        });
        match decoded {
            Ok(_) if valid => Unused::Valid,
            Ok(_) => Unused::Malformed,
            Err(error) if !error.is_compression_error() => Unused::TooLarge,
            Err(_) => {
                self.connection_error(bufs, ErrorCode::CompressionError, env);
                Unused::Failed
            }
        }
    }

    /// Answers `stream`, whose fields (or trailers) were too large to
    /// take, with `431` (§10.5.1): its body, if any is still coming, is
    /// not wanted. Counted against the stream error bound, so a client
    /// cannot make the server decode blocks it refuses without end.
    fn refuse_large<H: Handler<L>, L: Default>(
        &mut self,
        stream: StreamId,
        end_stream: bool,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) {
        if !self.calm.allow(Abuse::StreamError, env.now) {
            self.connection_error(bufs, ErrorCode::EnhanceYourCalm, env);
            return;
        }
        self.stop_receiving(stream);
        if let (true, Some(open)) = (end_stream, self.streams.get_mut(stream)) {
            open.inbound = Inbound::Closed;
        }
        self.answer_error(
            bufs,
            stream,
            crate::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            env,
        );
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
                    sink: Sink::Discard,
                }
            },
            outbound: Outbound::Waiting,
            send_window: Window::stream(stream, self.peer.initial_window_size),
            recv_window: ReceiveWindow::stream(stream, super::STREAM_WINDOW),
        });
    }
}
