//! Field blocks: HEADERS and CONTINUATION frames, their fragments
//! gathered in the decoding area as they arrive (or a block in one frame
//! decoded where it lies in the read buffer), decoded with HPACK once
//! whole, and turned into a request, or trailers ending one.
//!
//! The bounds: a block gathered in the area ends within its first half
//! (whose other half takes the decoded fields), takes at most
//! [`MAX_CONTINUATIONS`] CONTINUATION frames, and decodes to at most
//! [`MAX_HEADER_LIST_SIZE`](super::MAX_HEADER_LIST_SIZE) bytes: a client
//! past one gets GOAWAY(ENHANCE_YOUR_CALM).

use super::calm::MAX_CONTINUATIONS;
use super::dispatch::{Progress, Reading};
use super::fields::{HeadBuilder, Refusal};
use super::streams::{Inbound, Outbound, Stream};
use super::{AREA, Continuing, Gathering, ServerConnection, State};
use crate::h2::flow::{ReceiveWindow, Window};
use crate::h2::frame::{ErrorCode, Flags, FrameStart, StreamId};
use crate::h2::hpack::DecodeError;
use crate::{Env, Handler, IoBuffers, TimerKind};

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

/// Where a whole header block lies.
#[derive(Clone, Copy, Debug)]
pub(super) enum BlockAt {
    /// In the read buffer (one HEADERS frame).
    Read(usize, usize),
    /// Gathered in the decoding area.
    Area(usize, usize),
}

impl<const READ: usize, const WRITE: usize, const MAX_HEADERS: usize, const STREAMS: usize>
    ServerConnection<READ, WRITE, MAX_HEADERS, STREAMS>
{
    /// A HEADERS frame whose block is gathered in the area: it starts
    /// there after what the area holds.
    pub(super) fn begin_block<H: Handler<L>, L: Default>(
        &mut self,
        frame: &FrameStart,
        bufs: &mut IoBuffers<READ, WRITE>,
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
        bufs: &mut IoBuffers<READ, WRITE>,
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
        bufs: &mut IoBuffers<READ, WRITE>,
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
        bufs: &mut IoBuffers<READ, WRITE>,
        env: &mut Env<'_, H, L>,
    ) {
        let end_stream = flags.end_stream;
        // Trailers of a request gathering its body.
        if let Some(open) = self.streams.get_mut(stream) {
            if !matches!(open.inbound, Inbound::Body { .. }) || !end_stream {
                // HEADERS on a half-closed stream, or trailers that do not
                // end it.
                if self.decode_and_drop(block, bufs, env) {
                    self.reset_stream(bufs, stream, ErrorCode::StreamClosed, env);
                }
                return;
            }
            if self.decode_and_drop(block, bufs, env) {
                self.request_ended(stream, bufs, env);
            }
            return;
        }
        if stream.get() <= self.streams.highest || !stream.is_client_initiated() {
            // §5.1.1: identifiers only grow.
            self.connection_error(bufs, ErrorCode::ProtocolError, env);
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
        let decoded_len = match decoded {
            Ok(decoded) => decoded.written,
            Err(DecodeError::HeaderListTooLarge) => {
                self.fields = fields;
                self.connection_error(bufs, ErrorCode::EnhanceYourCalm, env);
                return;
            }
            Err(_) => {
                self.fields = fields;
                self.connection_error(bufs, ErrorCode::CompressionError, env);
                return;
            }
        };
        let finished = head.finish(&mut self.area, base + decoded_len);
        self.streams.highest = stream.get();
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
            Err(Refusal::TooManyFields) => {
                self.fields = fields;
                self.open_stream(stream, end_stream);
                self.answer_error(
                    bufs,
                    stream,
                    crate::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                    env,
                );
                return;
            }
        };
        self.open_stream(stream, end_stream);
        env.counters.requests += 1;
        if end_stream {
            self.respond(bufs, stream, &head, &fields, 0..0, env);
            self.fields = fields;
            return;
        }
        let expected = head.request(&self.area, &fields).content_length();
        let Ok(expected) = expected else {
            self.fields = fields;
            self.reset_stream(bufs, stream, ErrorCode::ProtocolError, env);
            return;
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
            return;
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
}
