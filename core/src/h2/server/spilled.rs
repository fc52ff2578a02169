//! Written bodies that outgrew the write buffer
//! ([`Response::writer`](crate::Response::writer), or
//! [`Response::body`](crate::Response::body) copies): what did not fit
//! went to the worker's [`Spill`](crate::spill::Spill) while the handler
//! wrote, as over HTTP/1.1 (see [`spill`](crate::spill)).
//!
//! The stream keeps that chain of blocks in its outbound state
//! ([`Outbound::Spilling`]). Its DATA frames carry the part in the write
//! buffer first, then the blocks in order, each piece copied into the
//! write buffer behind room for its frame header whenever the stream has
//! its turn, window on both the stream and the connection, and the
//! buffer has room: the turn-taking streamed bodies get (see `fill`).
//! Each block goes back to the spill as soon as its bytes are copied;
//! the blocks a stream still holds go back when it is reset (by either
//! side) or the connection retires (`report_abandoned`). Nothing is
//! allocated.

use core::ops::Range;

use super::CONTROL_ROOM;
use super::ServerConnection;
use super::fill::Turn;
use super::output::{MIN_DATA, report};
use super::streams::{Outbound, Pending, Spilled};
use crate::h2::frame::{ErrorCode, FRAME_HEADER_LEN, StreamId, encode_data_header};
use crate::send_queue::Segment;
use crate::sizes::Sizes;
use crate::spill::{Chain, Spill};
use crate::{Env, Handler, IoBuffers, Outcome};

impl<Z: Sizes, const STREAMS: usize> ServerConnection<Z, STREAMS> {
    /// Queues the head of `stream`'s response (at the start of `region`,
    /// `head_len` bytes), whose body is `body` in the write buffer and
    /// then `chain` in the spill (`tag` reported once it is all sent),
    /// and its first DATA as the windows allow.
    // The response's parts as `queue_response` took them apart: bundling
    // them would only move them again.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn queue_spilled<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        stream: StreamId,
        region: Range<usize>,
        head_len: usize,
        chain: Chain,
        tag: u64,
        env: &mut Env<'_, H, L>,
    ) {
        let body = (region.start + head_len) as u32..region.end as u32;
        if !self.queue_head(bufs, stream, region, head_len, false) {
            // Its block fits nowhere: the body never starts.
            release(chain, env.spill.as_deref_mut());
            self.end_stream(bufs, stream, ErrorCode::InternalError, env);
            if tag != 0 {
                report(env, self.id, stream.get(), tag, Outcome::NotSent);
            }
            return;
        }
        match self.streams.get_mut(stream) {
            Some(open) => {
                open.outbound = Outbound::Spilling(Spilled {
                    start: body.start,
                    end: body.end,
                    chain,
                    tag,
                });
            }
            None => release(chain, env.spill.as_deref_mut()),
        }
        self.send_data_or_calm(bufs, super::output::DataRoom::BehindHead, env);
    }

    /// The turn of the stream at `index`, sending `spilled`: a DATA frame
    /// of the part in the write buffer, as far as the windows allow; once
    /// that is all queued, the chain's next piece copied into the write
    /// buffer (the caller checked room for a frame header and the control
    /// frames) and sent as far as the windows allow, the rest of the
    /// piece then waiting in the buffer. A frame smaller than
    /// [`MIN_DATA`] is not sent unless it empties what the buffer holds
    /// of the body, and no piece smaller is copied: a peer granting a few
    /// bytes at a time does not get a frame per few bytes.
    pub(super) fn spill_turn<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        index: usize,
        mut spilled: Spilled,
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
            .min(self.peer.max_frame_size) as usize;
        let at = self.write_end;
        let data_at = at + FRAME_HEADER_LEN;
        if spilled.start < spilled.end {
            // The part in the buffer first.
            let left = (spilled.end - spilled.start) as usize;
            let chunk = left.min(window);
            if chunk == 0 || (chunk < left && (chunk as u64) < MIN_DATA) {
                return Turn::Idle;
            }
            let Ok(header) = encode_data_header(id, chunk, false) else {
                return Turn::Idle;
            };
            let piece = spilled.start..spilled.start + chunk as u32;
            spilled.start = piece.end;
            stream.outbound = Outbound::Spilling(spilled);
            // Within both windows, checked above.
            let _ = stream.send_window.consume(chunk as u32);
            let _ = self.send_window.consume(chunk as u32);
            bufs.write[at..data_at].copy_from_slice(&header);
            self.write_end = data_at;
            let _ = self.queue_written(at);
            let pushed = self.queue.push(Segment::Buffer {
                start: piece.start,
                end: piece.end,
            });
            debug_assert!(pushed, "the output queue has room for every frame taken");
            return Turn::Served;
        }
        // The chain's next piece, into the buffer behind room for its
        // frame header.
        let room = Z::WRITE.saturating_sub(data_at + CONTROL_ROOM);
        let Some(spill) = env.spill.as_deref_mut() else {
            // No spill lent this time: the blocks cannot be read.
            return Turn::Idle;
        };
        if window == 0 || (room as u64) < MIN_DATA {
            return Turn::Idle;
        }
        let cap = window.max(MIN_DATA as usize).min(room);
        let (n, rest) = spilled
            .chain
            .read(spill, &mut bufs.write[data_at..data_at + cap]);
        // What of the piece goes out now: all of it within the window,
        // else as much as the window allows if that is not too little.
        let send = if n <= window {
            n
        } else if window as u64 >= MIN_DATA {
            window
        } else {
            0
        };
        let end_stream = rest.is_none() && send == n;
        let piece = data_at + send;
        self.write_end = data_at + n;
        let left = piece as u32..(data_at + n) as u32;
        stream.outbound = match rest {
            None if end_stream => Outbound::Done,
            None => Outbound::Sending {
                pending: Pending::Buffer {
                    start: left.start,
                    end: left.end,
                },
                tag: (spilled.tag != 0).then_some(spilled.tag),
            },
            Some(chain) => Outbound::Spilling(Spilled {
                start: left.start,
                end: left.end,
                chain,
                tag: spilled.tag,
            }),
        };
        if send == 0 {
            // The piece waits in the buffer for window.
            return Turn::Idle;
        }
        let Ok(header) = encode_data_header(id, send, end_stream) else {
            return Turn::Idle;
        };
        // Within both windows, checked above.
        let _ = stream.send_window.consume(send as u32);
        let _ = self.send_window.consume(send as u32);
        bufs.write[at..data_at].copy_from_slice(&header);
        let pushed = self.queue.push(Segment::Buffer {
            start: at as u32,
            end: piece as u32,
        });
        debug_assert!(pushed, "the output queue has room for every frame taken");
        if end_stream {
            self.end_body((spilled.tag != 0).then_some(spilled.tag), id.get(), env);
        }
        Turn::Served
    }
}

/// Gives every block of `chain` back to `spill` (kept if no spill was
/// lent this time: there is nowhere to give it).
pub(super) fn release(chain: Chain, spill: Option<&mut (dyn Spill + '_)>) {
    if let Some(spill) = spill {
        chain.release(spill);
    }
}
