//! Records kept in the decoding area for requests whose bodies are still
//! coming: each holds the request's decoded head and field spans, so
//! that the request can be made again whenever its body needs it.
//!
//! Two kinds of request keep one:
//!
//! - one whose body goes to the handler as it arrives
//!   ([`BodyPolicy::Stream`](crate::BodyPolicy::Stream)): every piece
//!   reaches [`body_chunk`](crate::Handler::body_chunk) with its request,
//!   however many streams send bodies at once;
//! - one whose body is gathered whole
//!   ([`BodyPolicy::Buffer`](crate::BodyPolicy::Buffer)): its body lies
//!   right after its record, in room set aside for it (see `gather`).
//!
//! A record is the request's tag (8 bytes), its head's offsets
//! ([`HEAD_BYTES`]), how many fields it has (2 bytes, then 2 unused), the
//! head's bytes, then its fields' spans (four 16-bit offsets each, from
//! the head's start). The stream holds only where its record starts
//! (its [`Sink`]).
//!
//! Records lie one after another from the start of the area, each
//! gathered body right after its own; the one body growing without a
//! `content-length` is always the last, and a new record goes in before
//! it, moving it up. Split header blocks, newly decoded heads and the
//! HPACK blocks of responses come after the records. A record leaves
//! when its request runs or its stream is dropped; what follows it moves
//! down in its place, and every offset into the area (the streams'
//! records, a split header block) follows. Nothing moves as a body's
//! DATA arrives.
//!
//! Bounds: the records of streamed bodies take at most [`KEPT_MAX`]
//! bytes in all; and records leave the last [`SPARE`] bytes of the area
//! free for what comes after them, unless one record is alone there (a
//! single body may fill the area, as before). A request whose record
//! finds no room is refused with REFUSED_STREAM, which a client may
//! retry.

use crate::field::FieldRange;
use crate::headers::FieldSpan;
use crate::sizes::{FieldTable, Sizes};
use crate::{Env, Handler, IoBuffers};

use super::fields::{HEAD_BYTES, Head};
use super::gather::Room;
use super::streams::{Inbound, Sink};
use super::{AREA, ServerConnection};

/// The most bytes the records of streamed bodies take at once: a quarter
/// of the area.
pub const KEPT_MAX: usize = AREA / 4;

/// Bytes at the end of the area that records leave free unless one is
/// alone there: room to decode the heads of new requests and encode the
/// HPACK blocks of responses while bodies are gathered.
pub(super) const SPARE: usize = AREA / 8;

/// Bytes a field's spans take in a record.
const SPAN_LEN: usize = 8;

/// Bytes before a record's head: its tag, its head's offsets, its field
/// count, two unused.
const META: usize = 8 + HEAD_BYTES + 4;

/// Bytes the record of a head decoded from `base` (`head` as offsets in
/// the area) with `fields` takes.
pub(super) fn record_len(base: usize, head: &Head, fields: &[FieldSpan]) -> usize {
    META + (head.len as usize - base) + fields.len() * SPAN_LEN
}

/// A request whose head is kept in the area while its body arrives:
/// where its record starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Record {
    /// Where its record starts in the area (under 64 KiB).
    at: u16,
}

impl Record {
    /// Where it starts in the area.
    pub(super) fn at(self) -> usize {
        usize::from(self.at)
    }

    /// Its bytes in `area`, and what follows.
    fn bytes(self, area: &[u8]) -> &[u8] {
        &area[self.at()..]
    }

    /// Its head's offsets, from the head's start.
    fn head(self, area: &[u8]) -> Head {
        Head::from_bytes(&self.bytes(area)[8..8 + HEAD_BYTES])
    }

    /// How many fields it has.
    fn fields(self, area: &[u8]) -> usize {
        let count = &self.bytes(area)[8 + HEAD_BYTES..];
        usize::from(u16::from_le_bytes([count[0], count[1]]))
    }

    /// Bytes the record takes (without a body after it).
    pub(super) fn len(self, area: &[u8]) -> usize {
        META + self.head(area).len as usize + self.fields(area) * SPAN_LEN
    }

    /// Where what follows the record (a gathered body) starts.
    pub(super) fn end(self, area: &[u8]) -> usize {
        self.at() + self.len(area)
    }

    /// The request's scratch value, as `body_chunk` left it.
    pub(super) fn tag(self, area: &[u8]) -> u64 {
        let bytes = self.bytes(area);
        u64::from_le_bytes(bytes[..8].try_into().unwrap_or_default())
    }

    /// Sets the request's scratch value.
    fn set_tag(self, area: &mut [u8], tag: u64) {
        let at = self.at();
        area[at..at + 8].copy_from_slice(&tag.to_le_bytes());
    }

    /// The same record after the bytes from `from` on moved `by` toward
    /// the area's start (unchanged if it lies before them).
    fn moved_down(self, from: usize, by: usize) -> Record {
        if self.at() > from {
            Record {
                at: self.at - by as u16,
            }
        } else {
            self
        }
    }

    /// The same record moved `by` toward the area's end.
    fn moved_up(self, by: usize) -> Record {
        Record {
            at: self.at + by as u16,
        }
    }

    /// What makes the request: where its head starts in `area`, and the
    /// head (its offsets from there); its fields' spans are read into
    /// `fields`.
    pub(super) fn request_parts<T: FieldTable>(self, area: &[u8], fields: &mut T) -> (usize, Head) {
        let head = self.head(area);
        let start = self.at() + META;
        let spans_at = start + head.len as usize;
        let spans = &area[spans_at..spans_at + self.fields(area) * SPAN_LEN];
        fields.clear();
        for span in spans.chunks_exact(SPAN_LEN) {
            let offset = |i: usize| usize::from(u16::from_le_bytes([span[i], span[i + 1]]));
            // Never full: as many as were taken from a table this size.
            let _ = fields.push(FieldSpan::new(FieldRange {
                name_start: offset(0),
                name_end: offset(2),
                value_start: offset(4),
                value_end: offset(6),
            }));
        }
        (start, head)
    }
}

/// The record a sink holds in the area, if any, and the bytes it takes
/// there with what follows it (a gathered body or its room).
fn held(sink: Sink, area: &[u8]) -> Option<(Record, usize)> {
    match sink {
        Sink::Handler(record) => Some((record, record.len(area))),
        Sink::Gather(gathered) => {
            let body = match gathered.room {
                Room::Reserved(len) => len,
                Room::Growing => gathered.len,
            };
            Some((gathered.record, gathered.record.len(area) + body as usize))
        }
        Sink::TooLarge | Sink::Discard => None,
    }
}

impl<Z: Sizes, const STREAMS: usize> ServerConnection<Z, STREAMS> {
    /// Whether records `len` bytes longer fit the area: within it, and
    /// leaving [`SPARE`] bytes free unless the area holds no other.
    pub(super) fn records_fit(&self, len: usize) -> bool {
        let end = self.records_end + len;
        end <= AREA && (self.records_end == 0 || end <= AREA - SPARE)
    }

    /// Keeps the head decoded in the area from `base` (`head` and
    /// `fields` as offsets in the area) in a record, for a body handed to
    /// the handler; `None` if the kept heads would outgrow [`KEPT_MAX`],
    /// or the records the area.
    pub(super) fn keep(
        &mut self,
        base: usize,
        head: &Head,
        fields: &[FieldSpan],
    ) -> Option<Record> {
        let len = record_len(base, head, fields);
        if self.kept_len + len > KEPT_MAX {
            return None;
        }
        let record = self.put_record(base, head, fields, 0)?;
        self.kept_len += len;
        Some(record)
    }

    /// Makes a record of the head decoded in the area from `base`, with
    /// `room` bytes after it, and puts it after the other records (before
    /// the growing body, if one is, which moves up); `None` if it does
    /// not fit ([`records_fit`](Self::records_fit)).
    pub(super) fn put_record(
        &mut self,
        base: usize,
        head: &Head,
        fields: &[FieldSpan],
        room: usize,
    ) -> Option<Record> {
        let head_len = head.len as usize - base;
        let len = record_len(base, head, fields);
        let end = base + len;
        if end > AREA || !self.records_fit(len + room) {
            return None;
        }
        // The record is made where the head was decoded, its bytes moved
        // up to make room for its start first.
        let start = base + META;
        self.area.copy_within(base..base + head_len, start);
        let spans = &mut self.area[start + head_len..end];
        for (span, out) in fields.iter().zip(spans.chunks_exact_mut(SPAN_LEN)) {
            let (name, value) = (span.name_range(), span.value_range());
            // Within the area (16 KiB): each fits 16 bits.
            for (i, offset) in [name.start, name.end, value.start, value.end]
                .into_iter()
                .enumerate()
            {
                let offset = (offset - base) as u16;
                out[2 * i..2 * i + 2].copy_from_slice(&offset.to_le_bytes());
            }
        }
        let meta = &mut self.area[base..start];
        meta[..8].copy_from_slice(&0u64.to_le_bytes());
        meta[8..8 + HEAD_BYTES].copy_from_slice(&head.moved_back(base as u32).to_bytes());
        meta[8 + HEAD_BYTES..8 + HEAD_BYTES + 2]
            .copy_from_slice(&(fields.len() as u16).to_le_bytes());
        // Then it goes down behind the other records, and what lay
        // between (the growing body, with its record) up behind it, then
        // up past the new record's room.
        let growing = self.growing_at();
        let at = growing.unwrap_or(self.records_end);
        self.area[at..end].rotate_right(len);
        if let Some(growing) = growing {
            let moved = self.records_end - growing;
            if room > 0 {
                self.area
                    .copy_within(at + len..at + len + moved, at + len + room);
            }
            self.move_growing_up(len + room);
        }
        self.records_end += len + room;
        Some(Record { at: at as u16 })
    }

    /// Hands `chunk` of `stream`'s body (at `from` in the read buffer,
    /// `len` bytes) to the handler with its request.
    pub(super) fn hand_over<H: Handler<L>, L: Default>(
        &mut self,
        record: Record,
        from: usize,
        len: usize,
        bufs: &IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) {
        let mut tag = record.tag(&self.area);
        let (start, head) = record.request_parts(&self.area, &mut self.fields);
        let request = head
            .request(&self.area[start..], &self.fields)
            .with_peer(self.peer_addr.as_ref());
        env.handler
            .body_chunk(&request, &bufs.read[from..from + len], &mut tag, env.local);
        record.set_tag(&mut self.area, tag);
    }

    /// The record `sink` holds, if any, leaves the area with what follows
    /// it (a gathered body): what follows moves down in its place, and
    /// every offset into it follows.
    pub(super) fn release(&mut self, sink: Sink) {
        let Some((record, len)) = held(sink, &self.area) else {
            return;
        };
        if let Sink::Handler(_) = sink {
            self.kept_len -= len;
        }
        let at = record.at();
        let continuing_end = self.continuing.map_or(0, |c| (c.start + c.len) as usize);
        let end = self.records_end.max(continuing_end);
        self.area.copy_within(at + len..end, at);
        self.records_end -= len;
        for open in self.streams.iter_mut() {
            if let Inbound::Body { sink, .. } = &mut open.inbound {
                match sink {
                    Sink::Handler(other) => *other = other.moved_down(at, len),
                    Sink::Gather(other) => other.record = other.record.moved_down(at, len),
                    Sink::TooLarge | Sink::Discard => {}
                }
            }
        }
        if let Some(continuing) = self.continuing.as_mut()
            && continuing.start as usize > at
        {
            continuing.start -= len as u32;
        }
    }

    /// Where the record of the body growing without a `content-length`
    /// starts, if one is: the last in the area.
    pub(super) fn growing_at(&self) -> Option<usize> {
        self.streams.iter().find_map(|open| match open.inbound {
            Inbound::Body {
                sink: Sink::Gather(gathered),
                ..
            } if gathered.room == Room::Growing => Some(gathered.record.at()),
            _ => None,
        })
    }

    /// The growing body's record moved `by` toward the area's end.
    fn move_growing_up(&mut self, by: usize) {
        for open in self.streams.iter_mut() {
            if let Inbound::Body {
                sink: Sink::Gather(gathered),
                ..
            } = &mut open.inbound
                && gathered.room == Room::Growing
            {
                gathered.record = gathered.record.moved_up(by);
            }
        }
    }
}
