//! What the server sends on streams: the handler's response, its head as
//! HEADERS (and CONTINUATION) frames, its body as DATA frames within the
//! flow-control windows, one frame per stream per round.

use core::ops::Range;

use super::calm::Abuse;
use super::cut::FILE_FRAME;
use super::fields::Head;
use super::fill::Turn;
use super::head;
use super::spilled;
use super::streams::{Inbound, Outbound, Pending, Sink, Stream, Streamed};
use super::{AREA, CONTROL_ROOM, ServerConnection};
use crate::file::Span;
use crate::h2::frame::{
    ErrorCode, FRAME_HEADER_LEN, StreamId, encode_data_header, encode_headers, encoded_headers_len,
};
use crate::h2::hpack::HeaderField;
use crate::handler::Source;
use crate::handler::{BodySource, Completed, Finished, Outcome};
use crate::headers::FieldSpan;
use crate::response::ResponseFraming;
use crate::send_queue::{Passed, Segment};
use crate::sizes::Sizes;
use crate::{ConnectionId, Env, FileKeeper, FileRegion, Handler, IoBuffers, StatusCode};

/// Room kept free after a response's bytes in the write buffer for its
/// HEADERS frames and the first DATA frame headers.
pub(super) const HEADROOM: usize = 1024;

/// How much DATA may be queued, and when more waits until some is
/// written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum DataRoom {
    /// Right behind a new response's head: 32 KiB, so that a stream that
    /// answers next (a small response behind a large one) gets its turn
    /// within two frames of the others'.
    BehindHead,
    /// Refilling after a write: 128 KiB, taken a frame per stream in
    /// turn, so that one write carries about twenty 6 KB responses (the
    /// queue's 64 segments, two a frame, are the other bound). At 32 KiB
    /// a connection of 100 such streams took four times the writes, and
    /// about 10% more CPU per request.
    AfterWrite,
}

impl DataRoom {
    /// The DATA bytes queued past which no more is taken.
    fn limit(self) -> u64 {
        match self {
            DataRoom::BehindHead => 32 * 1024,
            DataRoom::AfterWrite => 128 * 1024,
        }
    }
}

/// DATA frames smaller than this that do not end their body are small:
/// they go out as the windows allow (a client whose window stays below
/// this would wait forever otherwise, and RFC 9113 §6.9 lets the sender
/// use any window it is given), but count against a flood bound, so a
/// peer granting a few bytes at a time cannot make the server write a
/// frame header per byte without end.
pub(super) const MIN_DATA: u64 = 1024;

/// A request ready to run.
#[derive(Debug)]
pub(super) struct Ready<'f> {
    /// Where its head starts in the decoding area.
    pub(super) at: usize,
    /// Its head, its offsets from `at`.
    pub(super) head: Head,
    /// Its fields, their offsets from `at`.
    pub(super) fields: &'f [FieldSpan],
    /// Its body in the area.
    pub(super) body: Range<usize>,
    /// Its scratch value: 0, or what `body_chunk` left.
    pub(super) tag: u64,
    /// Where its body went, whose record in the area (if any) leaves it
    /// once the handler ran, before the response is encoded there.
    pub(super) leaving: Sink,
}

impl<'f> Ready<'f> {
    /// A request decoded at the area's start (offsets from there), run
    /// without a body and with tag 0.
    pub(super) fn without_body(head: Head, fields: &'f [FieldSpan]) -> Ready<'f> {
        Ready {
            at: 0,
            head,
            fields,
            body: 0..0,
            tag: 0,
            leaving: Sink::Discard,
        }
    }
}

impl<Z: Sizes, const STREAMS: usize> ServerConnection<Z, STREAMS> {
    /// Runs the handler for the request `ready` of `stream` and queues
    /// its response.
    pub(super) fn respond<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        stream: StreamId,
        ready: Ready<'_>,
        env: &mut Env<'_, H, L>,
    ) {
        let start = self.write_end;
        let end = Z::WRITE.saturating_sub(HEADROOM).max(start);
        let request = ready
            .head
            .request(&self.area[ready.at..], ready.fields)
            .with_body(&self.area[ready.body])
            .with_peer(self.peer_addr.as_ref());
        let out = &mut bufs.write[start..end];
        self.deciding = Some(stream);
        self.leaving = ready.leaving;
        let completed = crate::connection::http::handle(
            env,
            &request,
            out,
            &mut self.spilled,
            true,
            ready.tag,
            self.id.with_stream(stream.get()),
        );
        self.deciding = None;
        let leaving = core::mem::replace(&mut self.leaving, Sink::Discard);
        self.release(leaving);
        self.queue_response(bufs, stream, completed, false, env);
    }

    /// Queues the response the handler completed for `stream`;
    /// `answers_deferred` when it is the answer to a deferred request,
    /// followed to its end whatever it holds (as over HTTP/1.1). A
    /// response after which the connection is to close
    /// ([`Response::close`](crate::Response::close)) is followed by
    /// GOAWAY: the connection drains, its streams begun finishing, as
    /// over HTTP/1.1 it closes after the response. (A deferred one does
    /// so after its answer.)
    pub(super) fn queue_response<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        stream: StreamId,
        completed: Completed,
        answers_deferred: bool,
        env: &mut Env<'_, H, L>,
    ) {
        let closes = !completed.keep_alive && !matches!(completed.source, BodySource::Deferred(_));
        self.queue_completed(bufs, stream, completed, answers_deferred, env);
        if closes {
            // The caller follows output.
            self.send_goaway(bufs, ErrorCode::NoError);
        }
    }

    /// [`queue_response`](Self::queue_response) but for the GOAWAY.
    fn queue_completed<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        stream: StreamId,
        completed: Completed,
        answers_deferred: bool,
        env: &mut Env<'_, H, L>,
    ) {
        if let BodySource::Deferred(later) = completed.source {
            // Nothing is sent until the answer; a body written before the
            // handler deferred goes back.
            if let Some(chain) = self.spilled.take() {
                spilled::release(chain, env.spill.as_deref_mut());
            }
            self.defer_stream(stream, later, completed.tag, env);
            return;
        }
        let start = self.write_end;
        let Some(written) = completed.written else {
            if let Some(chain) = self.spilled.take() {
                spilled::release(chain, env.spill.as_deref_mut());
            }
            env.counters.response(500);
            self.answer_error(bufs, stream, StatusCode::INTERNAL_SERVER_ERROR, env);
            return;
        };
        let region = start..start + written;
        let Some(head_len) = head::head_len(&bufs.write[region.clone()]) else {
            self.end_stream(bufs, stream, ErrorCode::InternalError, env);
            return;
        };
        let body = (start + head_len) as u32..region.end as u32;
        let pending = match completed.source {
            BodySource::InBuffer if body.is_empty() => Pending::Nothing,
            BodySource::InBuffer => Pending::Buffer {
                start: body.start,
                end: body.end,
            },
            BodySource::Static(bytes) => Pending::Static(bytes),
            BodySource::File(span) => Pending::File { span, kept: false },
            BodySource::KeptFile(span) => Pending::File { span, kept: true },
            BodySource::Stream(framing, Source::Handler) => {
                let streamed = Streamed {
                    tag: completed.tag,
                    left: match framing {
                        ResponseFraming::Length(n) => Some(n),
                        _ => None,
                    },
                    topic: completed.topic,
                };
                env.counters.response(completed.status);
                self.queue_streamed(bufs, stream, region, head_len, streamed, env);
                return;
            }
            BodySource::Stream(_, Source::Spill) => match self.spilled.take() {
                Some(chain) => {
                    env.counters.response(completed.status);
                    self.queue_spilled(bufs, stream, region, head_len, chain, completed.tag, env);
                    return;
                }
                // Never: a body said to be spilled holds blocks.
                None if body.is_empty() => Pending::Nothing,
                None => Pending::Buffer {
                    start: body.start,
                    end: body.end,
                },
            },
            // Taken above.
            BodySource::Deferred(_) => Pending::Nothing,
        };
        if completed.unsent {
            // A stream or file asked for, with no body to send (`HEAD`, a
            // status without content).
            report(env, self.id, stream.get(), completed.tag, Outcome::NotSent);
        }
        // Followed to its end, as over HTTP/1.1: a body with a tag, a
        // file whatever its tag (its application may wait to reuse it),
        // and a deferred request's answer. A response already reported
        // (its body never starts) is not.
        let carries_file = matches!(
            completed.source,
            BodySource::File(_) | BodySource::KeptFile(_)
        );
        let follow = (!completed.unsent
            && (completed.tag != 0 || carries_file || answers_deferred))
            .then_some(completed.tag);
        let pending = if pending.len() == 0 {
            // An empty file or slice: nothing to send, but a kept file
            // goes back.
            if let (Pending::File { span, kept: true }, Some(files)) =
                (pending, env.files.as_deref_mut())
            {
                files.release(FileRegion::from_span(span, true));
            }
            Pending::Nothing
        } else {
            pending
        };
        env.counters.response(completed.status);
        let end_stream = pending == Pending::Nothing;
        if !self.queue_head(bufs, stream, region, head_len, end_stream) {
            // Its block fits nowhere: refused before the encoder's table
            // moved, so the connection goes on.
            self.drop_pending(pending, env);
            self.end_stream(bufs, stream, ErrorCode::InternalError, env);
            if let Some(tag) = follow {
                report(env, self.id, stream.get(), tag, Outcome::NotSent);
            }
            return;
        }
        if let Some(open) = self.streams.get_mut(stream) {
            open.outbound = if end_stream {
                Outbound::Done
            } else {
                Outbound::Sending {
                    pending,
                    tag: follow,
                }
            };
            if end_stream {
                self.end_body(follow, stream.get(), env);
            }
        } else {
            self.drop_pending(pending, env);
        }
        // Its first DATA right behind its head, as the windows allow.
        self.send_data_or_calm(bufs, DataRoom::BehindHead, env);
    }

    /// Encodes the HTTP/1.1 head at the start of `region` (`head_len`
    /// bytes, the body after it) and queues it as HEADERS (and
    /// CONTINUATION) frames: in the head's own place, which is never sent,
    /// when they fit there, else after the body. `false` if the block
    /// fits neither (nothing is encoded then).
    pub(super) fn queue_head(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        stream: StreamId,
        region: Range<usize>,
        head_len: usize,
        end_stream: bool,
    ) -> bool {
        let max_frame = self.peer.max_frame_size;
        let after = Z::WRITE
            .saturating_sub(region.end)
            .saturating_sub(CONTROL_ROOM);
        let room = head_len.max(after);
        // The most block bytes whose frames fit `room`: one frame header
        // per `max_frame` bytes, and one more.
        let frames = room / (max_frame.max(1) as usize) + 1;
        let block_room = room.saturating_sub(frames * FRAME_HEADER_LEN);
        let used = self.area_used();
        let area_room = &mut self.area[used..];
        let block_room = block_room.min(area_room.len());
        let head_bytes = &mut bufs.write[region.start..region.start + head_len];
        let Ok(block_len) =
            head::encode_head(head_bytes, &mut self.encoder, &mut area_room[..block_room])
        else {
            return false;
        };
        let frames_len = encoded_headers_len(block_len, max_frame);
        let at = if frames_len <= head_len {
            region.start
        } else {
            region.end
        };
        let block = &self.area[used..used + block_len];
        match encode_headers(&mut bufs.write[at..], stream, block, end_stream, max_frame) {
            Ok(len) => {
                self.write_end = region.end.max(at + len);
                let pushed = self.queue.push(Segment::Buffer {
                    start: at as u32,
                    end: (at + len) as u32,
                });
                debug_assert!(pushed, "the output queue has room for every frame taken");
                true
            }
            // Never: the block was sized to fit.
            Err(_) => false,
        }
    }

    /// A body that will not be sent: a kept file goes back.
    fn drop_pending<H: Handler<L>, L: Default>(
        &mut self,
        pending: Pending,
        env: &mut Env<'_, H, L>,
    ) {
        if let (Pending::File { span, kept: true }, Some(files)) =
            (pending, env.files.as_deref_mut())
        {
            files.release(FileRegion::from_span(span, true));
        }
    }

    /// Answers `stream` with `status` and no body, written by the
    /// connection (a request it refused).
    pub(super) fn answer_error<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        stream: StreamId,
        status: StatusCode,
        env: &mut Env<'_, H, L>,
    ) {
        env.counters.response(status.as_u16());
        let code = status.as_u16();
        let digits = [
            b'0' + (code / 100) as u8,
            b'0' + (code / 10 % 10) as u8,
            b'0' + (code % 10) as u8,
        ];
        let fields = [
            HeaderField::new(b":status", &digits),
            HeaderField::new(b"content-length", b"0"),
        ];
        let used = self.area_used();
        let Ok(block_len) = self
            .encoder
            .encode_block(fields.iter().copied(), &mut self.area[used..])
        else {
            self.connection_error(bufs, ErrorCode::InternalError, env);
            return;
        };
        let block = &self.area[used..used + block_len];
        let max_frame = self.peer.max_frame_size;
        let start = self.write_end;
        match encode_headers(&mut bufs.write[start..], stream, block, true, max_frame) {
            Ok(len) => {
                self.write_end += len;
                self.queue_written(start);
            }
            Err(_) => {
                self.connection_error(bufs, ErrorCode::InternalError, env);
                return;
            }
        }
        if let Some(open) = self.streams.get_mut(stream) {
            open.outbound = Outbound::Done;
            if open.inbound != super::streams::Inbound::Closed {
                // The rest of its body is not wanted (§8.1).
                self.end_stream(bufs, stream, ErrorCode::NoError, env);
            }
        }
    }

    /// [`send_data`](Self::send_data), ending the connection with
    /// GOAWAY(ENHANCE_YOUR_CALM) if the client's windows made the server
    /// send small frames past their bound.
    pub(super) fn send_data_or_calm<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        room: DataRoom,
        env: &mut Env<'_, H, L>,
    ) {
        if !self.send_data(bufs, room, env) {
            self.connection_error(bufs, ErrorCode::EnhanceYourCalm, env);
        }
    }

    /// Queues DATA frames for the streams with body left, as far as the
    /// windows, the write buffer and the queue allow: one frame per
    /// stream per round, so every stream gets its turn. `false` if the
    /// client's windows made the server send small frames past their
    /// bound (the caller ends the connection).
    fn send_data<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        room: DataRoom,
        env: &mut Env<'_, H, L>,
    ) -> bool {
        let limit = room.limit();
        loop {
            let mut sent = false;
            for index in self.streams.round() {
                if self.send_window.available() == 0
                    || self.queue.bytes() >= limit
                    || Z::WRITE - self.write_end < FRAME_HEADER_LEN + CONTROL_ROOM
                    || self.queue.free() < 2
                {
                    return true;
                }
                let Some(stream) = self.streams.at(index) else {
                    continue;
                };
                let (pending, tag) = match stream.outbound {
                    Outbound::Sending { pending, tag } => (pending, tag),
                    Outbound::Filling(streamed) => {
                        match self.fill_turn(bufs, index, streamed, env) {
                            Turn::Served => {
                                self.streams.served(index);
                                sent = true;
                            }
                            // The table moved: a new round.
                            Turn::Ended => {
                                sent = true;
                                break;
                            }
                            Turn::Idle => {}
                        }
                        continue;
                    }
                    Outbound::Spilling(spilled) => {
                        if self.spill_turn(bufs, index, spilled, env) == Turn::Served {
                            self.streams.served(index);
                            sent = true;
                        }
                        continue;
                    }
                    _ => continue,
                };
                let left = pending.len();
                let file = matches!(pending, Pending::File { .. });
                let frame = if file {
                    FILE_FRAME.min(self.peer.max_frame_size)
                } else {
                    self.peer.max_frame_size
                };
                let window = self
                    .send_window
                    .available()
                    .min(stream.send_window.available())
                    .min(frame);
                let chunk = left.min(u64::from(window));
                if chunk == 0 {
                    continue;
                }
                if chunk < left && chunk < MIN_DATA && !self.calm.allow(Abuse::SmallData, env.now) {
                    return false;
                }
                let end_stream = chunk == left;
                // A file's last piece is followed by an empty frame that
                // ends the stream, for which room is kept (see `cut`).
                if file
                    && end_stream
                    && (Z::WRITE - self.write_end < 2 * FRAME_HEADER_LEN + CONTROL_ROOM
                        || self.queue.free() < 3)
                {
                    continue;
                }
                let stream_id = stream.id.get();
                let at = self.write_end;
                let Ok(header) = encode_data_header(stream.id, chunk as usize, end_stream && !file)
                else {
                    return true;
                };
                bufs.write[at..at + FRAME_HEADER_LEN].copy_from_slice(&header);
                self.write_end += FRAME_HEADER_LEN;
                let _ = self.queue.push(Segment::Buffer {
                    start: at as u32,
                    end: self.write_end as u32,
                });
                let (piece, rest) = split(pending, chunk, end_stream);
                let pushed = match piece {
                    Segment::KeptFile(span) => {
                        self.queue.push_file(FileRegion::from_span(span, true))
                    }
                    Segment::File(span) => self.queue.push_file(FileRegion::from_span(span, false)),
                    piece => self.queue.push(piece),
                };
                if file && pushed {
                    self.pieces.record(stream_id);
                    if end_stream {
                        // The empty frame that ends the stream.
                        let at = self.write_end;
                        if let Ok(end) = encode_data_header(stream.id, 0, true) {
                            bufs.write[at..at + FRAME_HEADER_LEN].copy_from_slice(&end);
                            self.write_end += FRAME_HEADER_LEN;
                            let _ = self.queue.push(Segment::Buffer {
                                start: at as u32,
                                end: self.write_end as u32,
                            });
                        }
                    }
                }
                // Within both windows, checked above.
                let _ = self.send_window.consume(chunk as u32);
                let _ = stream.send_window.consume(chunk as u32);
                stream.outbound = if end_stream {
                    Outbound::Done
                } else {
                    Outbound::Sending { pending: rest, tag }
                };
                self.streams.served(index);
                if end_stream {
                    self.end_body(tag, stream_id, env);
                }
                sent = true;
            }
            if !sent {
                return true;
            }
        }
    }

    /// Follows the end of a body on `stream` (its last frame just
    /// queued) that carries `tag`: reported sent to [`Handler::finished`]
    /// once its bytes are written, as over HTTP/1.1; nothing for `None`.
    pub(super) fn end_body<H: Handler<L>, L: Default>(
        &mut self,
        tag: Option<u64>,
        stream: u32,
        env: &mut Env<'_, H, L>,
    ) {
        if let Some(tag) = tag {
            if !self.queue.push_end(tag, stream) {
                // No slot for the marker (against the room kept per
                // frame): over now.
                report(env, self.id, stream, tag, Outcome::Sent);
            }
        }
    }

    /// Passes the queue's empty segments at its front (kept files whose
    /// sending ended early, ends of bodies all written), giving their
    /// files back and reporting the bodies sent.
    pub(super) fn pass_empty<H: Handler<L>, L: Default>(&mut self, env: &mut Env<'_, H, L>) {
        let id = self.id;
        self.queue
            .consume(0, |passed| report_passed(passed, env, id, Outcome::Sent));
    }
}

/// The first `chunk` bytes of `pending` as a segment, and what is left.
/// A kept file's last piece is queued as kept, so that its file goes back
/// once all of it was sent.
fn split(pending: Pending, chunk: u64, last: bool) -> (Segment, Pending) {
    match pending {
        Pending::Nothing => (Segment::Static(&[]), Pending::Nothing),
        Pending::Buffer { start, end } => {
            let cut = start + chunk as u32;
            (
                Segment::Buffer { start, end: cut },
                Pending::Buffer { start: cut, end },
            )
        }
        Pending::Static(bytes) => {
            let (piece, rest) = bytes.split_at(chunk as usize);
            (Segment::Static(piece), Pending::Static(rest))
        }
        Pending::File { span, kept } => {
            let piece = Span { len: chunk, ..span };
            let mut rest = span;
            rest.advance(chunk);
            let segment = if kept && last {
                Segment::KeptFile(piece)
            } else {
                Segment::File(piece)
            };
            (segment, Pending::File { span: rest, kept })
        }
    }
}

/// Gives a passed kept file back to `files`.
pub(super) fn release_passed(passed: Passed, files: &mut Option<&mut dyn FileKeeper>) {
    if let (Passed::File(region), Some(files)) = (passed, files.as_deref_mut()) {
        files.release(region);
    }
}

/// Tells `env` what the queue passed with `outcome`: a kept file goes
/// back to its keeper, the end of a streamed body to the handler.
pub(super) fn report_passed<H: Handler<L>, L: Default>(
    passed: Passed,
    env: &mut Env<'_, H, L>,
    id: ConnectionId,
    outcome: Outcome,
) {
    match passed {
        Passed::File(region) => {
            if let Some(files) = env.files.as_deref_mut() {
                files.release(region);
            }
        }
        Passed::End { tag, stream } => report(env, id, stream, tag, outcome),
    }
}

/// Tells the handler that the response on `stream` of connection `id`,
/// with `tag`, ended with `outcome` (its id names the stream, as the
/// [`Response::id`](crate::Response::id) the handler saw did).
pub(super) fn report<H: Handler<L>, L: Default>(
    env: &mut Env<'_, H, L>,
    id: ConnectionId,
    stream: u32,
    tag: u64,
    outcome: Outcome,
) {
    let id = id.with_stream(stream);
    env.handler
        .finished(Finished::new(id, tag, outcome), env.local);
}

/// A stream that leaves the table before its body was all queued (reset
/// by either side, or the connection ended): a streamed body is reported
/// aborted, with its tag as the handler last left it, and the blocks a
/// spilled body still holds go back to the spill.
pub(super) fn report_abandoned<H: Handler<L>, L: Default>(
    stream: &Stream,
    id: ConnectionId,
    env: &mut Env<'_, H, L>,
) {
    let followed = match stream.outbound {
        Outbound::Spilling(spilled) => {
            spilled::release(spilled.chain, env.spill.as_deref_mut());
            (spilled.tag != 0).then_some(spilled.tag)
        }
        // Streamed bodies and deferred answers are followed whatever
        // their tag, as over HTTP/1.1.
        Outbound::Filling(streamed)
        | Outbound::Parked(streamed)
        | Outbound::Again(streamed)
        | Outbound::Cut(streamed) => Some(streamed.tag),
        Outbound::Deferred(deferred) => Some(deferred.tag),
        Outbound::Sending { tag, .. } => tag,
        Outbound::Waiting | Outbound::Done => None,
    };
    if let Some(tag) = followed {
        report(env, id, stream.id.get(), tag, Outcome::Aborted);
    }
}

/// A request body handed to the handler piece by piece was cut short
/// (its stream reset, or the connection ended) before its request ran:
/// the tag its pieces set (in the record `area` keeps), if any, is
/// reported aborted.
pub(super) fn report_cut_short<H: Handler<L>, L: Default>(
    stream: &Stream,
    area: &[u8],
    id: ConnectionId,
    env: &mut Env<'_, H, L>,
) {
    if let (
        Inbound::Body {
            sink: Sink::Handler(record),
            ..
        },
        Outbound::Waiting,
    ) = (stream.inbound, stream.outbound)
    {
        let tag = record.tag(area);
        if tag != 0 {
            report(env, id, stream.id.get(), tag, Outcome::Aborted);
        }
    }
}

/// What a stream leaving the table with the connection still held: a
/// kept file whose last piece was never queued goes back. (A stream reset
/// while the connection goes on queues the release instead, after the
/// pieces already queued: see `forget`.)
pub(super) fn release_pending(stream: &Stream, files: &mut Option<&mut dyn FileKeeper>) {
    if let (
        Outbound::Sending {
            pending: Pending::File { span, kept: true },
            ..
        },
        Some(files),
    ) = (stream.outbound, files.as_deref_mut())
    {
        files.release(FileRegion::from_span(span, true));
    }
}

/// Whether a stream has body left to send that waits for the peer or
/// the socket (not for the application).
pub(super) fn is_sending(stream: &Stream) -> bool {
    matches!(
        stream.outbound,
        Outbound::Sending { .. }
            | Outbound::Filling(_)
            | Outbound::Again(_)
            | Outbound::Spilling(_)
    )
}

/// Whether a stream's body left lies in the write buffer.
pub(super) fn holds_buffer(stream: &Stream) -> bool {
    match stream.outbound {
        Outbound::Sending {
            pending: Pending::Buffer { .. },
            ..
        } => true,
        Outbound::Spilling(spilled) => spilled.start < spilled.end,
        _ => false,
    }
}

const _: () = assert!(AREA > HEADROOM);
