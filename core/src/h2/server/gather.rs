//! Request bodies gathered whole in the decoding area
//! ([`BodyPolicy::Buffer`](crate::BodyPolicy::Buffer)), for any number
//! of streams at once: each request keeps a record of its head (see
//! `records`) with its body right after it, and runs once its body ends.
//!
//! - A body whose `content-length` is known reserves that many bytes
//!   after its record when its head arrives; its DATA fills them in
//!   place, so nothing moves as it arrives, however its frames interleave
//!   with other streams'.
//! - A body without `content-length` grows at the end of the area, after
//!   every other record: one such body at a time. A new record goes in
//!   before it, moving it up once.
//!
//! Limits: a body that can never be gathered (its record and
//! `content-length` larger than the area, or a `content-length` over
//! [`Config::max_body_len`](crate::Config::max_body_len)), or one that
//! grows past the area or that limit, is dropped as it comes and
//! answered `413` at its end, its record leaving the area at once. A body
//! that would fit the area were it empty, but not beside the records it
//! holds now (see `records` for the room they leave free), and a second
//! body without `content-length` while one grows, are refused with
//! REFUSED_STREAM: nothing of the request was processed, and the client
//! may send it again (RFC 9113 §8.7).

use super::AREA;
use super::ServerConnection;
use super::fields::Head;
use super::records::{Record, SPARE, record_len};
use super::streams::{Inbound, Sink};
use crate::h2::frame::StreamId;
use crate::headers::FieldSpan;
use crate::sizes::Sizes;
use crate::{IoBuffers, TimerKind};

/// A body being gathered: where its request's record is, and how much
/// of it arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Gathered {
    /// Its request's record; the body follows it.
    pub(super) record: Record,
    /// Bytes of body so far.
    pub(super) len: u32,
    /// The room it takes after its record.
    pub(super) room: Room,
}

/// The room a gathered body takes after its record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Room {
    /// As many bytes as its `content-length` said, set aside when its
    /// head arrived.
    Reserved(u32),
    /// What arrived so far: it has no `content-length`, and grows at the
    /// end of the area.
    Growing,
}

impl<Z: Sizes, const STREAMS: usize> ServerConnection<Z, STREAMS> {
    /// Where the body of a request whose head was decoded into the area
    /// from `base` goes, its `content-length` being `expected`: gathered
    /// after a record of its head, or dropped and answered `413`; `None`
    /// if the stream is to be refused for now (REFUSED_STREAM).
    pub(super) fn gather(
        &mut self,
        base: usize,
        head: &Head,
        fields: &[FieldSpan],
        expected: Option<u64>,
    ) -> Option<Sink> {
        let len = record_len(base, head, fields) as u64;
        let room = match expected {
            Some(n) if n > self.config.max_body_len || len + n > AREA as u64 => {
                return Some(Sink::TooLarge);
            }
            // Within the area (16 KiB).
            Some(n) => Room::Reserved(n as u32),
            None if self.growing_at().is_some() => return None,
            None => Room::Growing,
        };
        let reserved = match room {
            Room::Reserved(n) => n as usize,
            Room::Growing => 0,
        };
        let record = self.put_record(base, head, fields, reserved)?;
        Some(Sink::Gather(Gathered {
            record,
            len: 0,
            room,
        }))
    }

    /// A DATA frame of `len` bytes begins on `stream`: a body growing at
    /// the end of the area that it would take past the area (or past
    /// [`Config::max_body_len`](crate::Config::max_body_len)) leaves it,
    /// to be answered `413` at its end. (A reserved body is never longer
    /// than its room: its `content-length` was checked.)
    pub(super) fn check_growth(&mut self, stream: StreamId, len: u32) {
        let Some(open) = self.streams.get_mut(stream) else {
            return;
        };
        let Inbound::Body {
            sink: Sink::Gather(gathered),
            ..
        } = open.inbound
        else {
            return;
        };
        if gathered.room != Room::Growing {
            return;
        }
        // Alone in the area, it may fill it; after other records, it
        // leaves them their spare room.
        let limit = if gathered.record.at() == 0 {
            AREA
        } else {
            AREA - SPARE
        };
        let body_len = u64::from(gathered.len) + u64::from(len);
        let end = gathered.record.end(&self.area) as u64 + body_len;
        if end <= limit as u64 && body_len <= self.config.max_body_len {
            return;
        }
        if let Some(open) = self.streams.get_mut(stream)
            && let Inbound::Body { sink, .. } = &mut open.inbound
        {
            *sink = Sink::TooLarge;
        }
        self.release(Sink::Gather(gathered));
    }

    /// `len` bytes of `stream`'s body, at `from` in the read buffer, go
    /// after what arrived of it, if it is gathered (within its room: the
    /// frame was checked as it began).
    pub(super) fn gather_data(
        &mut self,
        stream: StreamId,
        from: usize,
        len: usize,
        bufs: &IoBuffers<Z>,
        now: u64,
    ) {
        let Some(open) = self.streams.get_mut(stream) else {
            return;
        };
        let Inbound::Body {
            sink: Sink::Gather(gathered),
            ..
        } = &mut open.inbound
        else {
            return;
        };
        let at = gathered.record.end(&self.area) + gathered.len as usize;
        if let Some(to) = self.area.get_mut(at..at + len) {
            to.copy_from_slice(&bufs.read[from..from + len]);
            gathered.len += len as u32;
            if gathered.room == Room::Growing {
                self.records_end += len;
            }
        }
        self.timers.set(
            TimerKind::Body,
            now.saturating_add(self.config.body_timeout),
        );
    }
}
