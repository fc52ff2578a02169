//! File bodies whose file turns out shorter than its region: it shrank
//! once the response's head announced its length (see
//! [`FileRegion`](crate::FileRegion)).
//!
//! A file body goes out as DATA frames of at most [`FILE_FRAME`] bytes,
//! each frame's header in the write buffer and its piece of the file a
//! region for the caller to send (`sendfile`). None of these frames ends
//! the stream: an empty DATA frame with END_STREAM follows the last
//! piece. The caller learns that the file ends short only when the region
//! at the front of the output sends nothing
//! ([`handle_file_ended`](ServerConnection::handle_file_ended)), after
//! its frame's header announced its length. Then, so that every frame
//! stays whole and the client never takes the body for complete:
//!
//! - the rest of that frame is zeros;
//! - the body's pieces queued after it are not sent: their frames'
//!   headers, not yet sent either, now announce empty frames, and the
//!   connection's window gets back what they took of it;
//! - the END_STREAM queued after the body's last piece, if it is, is
//!   taken back;
//! - the stream is reset with INTERNAL_ERROR, and the response reported
//!   [`Outcome::Aborted`].
//!
//! The client sees at most one frame's worth of zeros after the bytes the
//! file had, then the reset; the connection and its other streams go on.
//!
//! The stream of each piece queued is remembered in order ([`Pieces`]):
//! the pieces leave the queue in the order they entered it, so those
//! still queued are the last ones remembered.

use super::output::report;
use super::{CONTROL_ROOM, ServerConnection};
use crate::FileRegion;
use crate::h2::frame::{
    DEFAULT_MAX_FRAME_SIZE, ErrorCode, FRAME_HEADER_LEN, StreamId, encode_data_header,
};
use crate::handler::Outcome;
use crate::send_queue::{SEGMENTS, Segment};
use crate::sizes::Sizes;
use crate::{Env, Handler, IoBuffers};

/// The largest DATA frame a file body is sent in: the size every peer
/// takes (RFC 9113 §4.2), whatever larger one it allows. A frame whose
/// file ends early is completed with as many zeros.
pub(super) const FILE_FRAME: u32 = DEFAULT_MAX_FRAME_SIZE;

/// What completes a frame whose file ended early.
static ZEROS: [u8; FILE_FRAME as usize] = [0; FILE_FRAME as usize];

/// The most file pieces the output queue holds at once: each follows its
/// frame's header, a segment of its own.
const PIECES: usize = SEGMENTS / 2;

const _: () = assert!(PIECES.is_power_of_two());

/// The streams of the file pieces queued, in the order they were queued:
/// the last [`PIECES`] of them.
#[derive(Debug)]
pub(super) struct Pieces {
    /// Stream identifiers, in a ring.
    streams: [u32; PIECES],
    /// How many pieces were queued (wrapping).
    queued: u32,
}

impl Pieces {
    /// None remembered.
    pub(super) const fn new() -> Self {
        Pieces {
            streams: [0; PIECES],
            queued: 0,
        }
    }

    /// A piece of `stream`'s file was queued.
    pub(super) fn record(&mut self, stream: u32) {
        self.streams[self.queued as usize % PIECES] = stream;
        self.queued = self.queued.wrapping_add(1);
    }

    /// The stream of piece `index` among the last `live` queued, the
    /// oldest first.
    fn stream(&self, live: usize, index: usize) -> u32 {
        self.streams[self.slot(live, index)]
    }

    /// Where piece `index` among the last `live` queued is in the ring.
    fn slot(&self, live: usize, index: usize) -> usize {
        self.queued
            .wrapping_sub(live as u32)
            .wrapping_add(index as u32) as usize
            % PIECES
    }

    /// The pieces among the last `live` queued whose bits `gone` sets (bit
    /// 0 for the oldest) left the queue: the others keep their order.
    fn remove(&mut self, live: usize, gone: u32) {
        let mut kept = 0;
        for index in 0..live {
            if gone & (1 << index) == 0 {
                let to = self.slot(live, kept);
                self.streams[to] = self.stream(live, index);
                kept += 1;
            }
        }
        self.queued = self.queued.wrapping_sub((live - kept) as u32);
    }
}

/// Whether `segment` is a piece of a file body: a region with bytes left.
fn is_piece(segment: &Segment) -> bool {
    matches!(segment, Segment::File(span) | Segment::KeptFile(span) if span.len > 0)
}

impl<Z: Sizes, const STREAMS: usize> ServerConnection<Z, STREAMS> {
    /// The file region [`poll_transmit`](Self::poll_transmit) gave sent
    /// nothing: its file ends before the region does (it shrank once its
    /// length was announced). The frame it was part of is completed with
    /// zeros, the rest of the body is not sent, and the stream is reset
    /// with INTERNAL_ERROR (unless the client reset it first): the client
    /// sees the body end in a reset, never complete. The response is
    /// reported [`Outcome::Aborted`] and counted in
    /// [`Counters::files_cut_short`](crate::Counters::files_cut_short) as
    /// over HTTP/1.1. Returns `true`: the connection goes on with its
    /// other streams; `false` if the front of the output was no such
    /// region, and the caller closes the connection.
    pub fn handle_file_ended<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) -> bool {
        let (front, back) = self.queue.as_slices();
        let live = front.iter().chain(back).filter(|s| is_piece(s)).count();
        let owed = match self.queue.front() {
            Some(&Segment::File(span) | &Segment::KeptFile(span)) if span.len > 0 => span.len,
            _ => return false,
        };
        if live > PIECES || owed > u64::from(FILE_FRAME) {
            // Never: every piece is queued in a frame of its own.
            return false;
        }
        let stream = self.pieces.stream(live, 0);
        // The frame's header went out: its rest is zeros.
        let filled = self.queue.replace_file(0, &ZEROS[..owed as usize]);
        release(filled, env);
        let dropped = self.drop_pieces(bufs, stream, live, env);
        self.pieces.remove(live, dropped | 1);
        if let Some(id) = StreamId::new(stream) {
            self.cut_short(bufs, id, env);
        }
        self.after_output(bufs, env);
        true
    }

    /// The pieces of `stream`'s body queued after the front one (among the
    /// `live` pieces queued, the front one first) are not sent: each
    /// frame's header, the last bytes of the segment before its piece,
    /// announces an empty frame, and what the piece took of the
    /// connection's window is given back. Returns which pieces left the
    /// queue, a bit each (bit 0 for the front one).
    fn drop_pieces<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        stream: u32,
        live: usize,
        env: &mut Env<'_, H, L>,
    ) -> u32 {
        let Some(id) = StreamId::new(stream) else {
            return 0;
        };
        let mut dropped = 0;
        let mut piece = 0;
        // Past the front one.
        let mut at = 1;
        while let Some(segment) = self.queue.get(at) {
            at += 1;
            let (Segment::File(span) | Segment::KeptFile(span)) = segment else {
                continue;
            };
            if span.len == 0 {
                continue;
            }
            piece += 1;
            if piece >= live || self.pieces.stream(live, piece) != stream {
                continue;
            }
            let Some(Segment::Buffer { start, end }) = self.queue.get(at - 2) else {
                continue;
            };
            let (start, end) = (start as usize, end as usize);
            let (Ok(full), Ok(empty)) = (
                encode_data_header(id, span.len as usize, false),
                encode_data_header(id, 0, false),
            ) else {
                continue;
            };
            if end - start < FRAME_HEADER_LEN || bufs.write[end - FRAME_HEADER_LEN..end] != full {
                continue;
            }
            bufs.write[end - FRAME_HEADER_LEN..end].copy_from_slice(&empty);
            release(self.queue.replace_file(at - 1, &[]), env);
            dropped |= 1 << piece;
            // Within the window: it was taken from it.
            let _ = self.send_window.increase(span.len as u32);
        }
        dropped
    }

    /// Ends the body of `stream`, whose file ended short: the END_STREAM
    /// queued after its last piece, if it is, is taken back, the response
    /// reported aborted, and the stream reset. A stream the client reset
    /// already is left as it is.
    fn cut_short<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        stream: StreamId,
        env: &mut Env<'_, H, L>,
    ) {
        let ended = self.take_back_end_stream(bufs, stream);
        let open = self.streams.get_mut(stream).is_some();
        if !open && !ended {
            // Reset already: nothing more goes out on it.
            return;
        }
        env.counters.files_cut_short += 1;
        if let Some(tag) = self.queue.take_end(stream.get()) {
            report(env, self.id, stream.get(), tag, Outcome::Aborted);
        }
        if Z::WRITE - self.write_end < CONTROL_ROOM || self.queue.free() == 0 {
            // No room for the reset (never: room is kept for control
            // frames): the connection ends once what is queued is out.
            self.go_away(bufs, ErrorCode::InternalError, env);
            return;
        }
        self.end_stream(bufs, stream, ErrorCode::InternalError, env);
    }

    /// Clears the END_STREAM flag of the empty DATA frame queued right
    /// after the last piece of `stream`'s body (or the bytes that took its
    /// place), if it is: that frame then ends nothing. Whether it was
    /// queued.
    fn take_back_end_stream(&mut self, bufs: &mut IoBuffers<Z>, stream: StreamId) -> bool {
        let Ok(end_stream) = encode_data_header(stream, 0, true) else {
            return false;
        };
        let mut at = 1;
        while let Some(segment) = self.queue.get(at) {
            at += 1;
            // A range of the write buffer after anything else starts a
            // frame (one after another range may be a body's bytes).
            let Segment::Buffer { start, end } = segment else {
                continue;
            };
            if matches!(self.queue.get(at - 2), Some(Segment::Buffer { .. })) {
                continue;
            }
            let (start, end) = (start as usize, end as usize);
            let header = &mut bufs.write[start..end.min(start + FRAME_HEADER_LEN)];
            if header == end_stream {
                // Its flags byte: no END_STREAM.
                header[4] = 0;
                return true;
            }
        }
        false
    }
}

/// Gives back to its keeper a kept file region that will not be sent.
fn release<H: Handler<L>, L: Default>(region: Option<FileRegion>, env: &mut Env<'_, H, L>) {
    if let (Some(region), Some(files)) =
        (region.filter(FileRegion::is_kept), env.files.as_deref_mut())
    {
        files.release(region);
    }
}
