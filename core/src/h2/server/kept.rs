//! Heads kept for request bodies handed to the handler as they arrive
//! ([`BodyPolicy::Stream`](crate::BodyPolicy::Stream)): each such
//! stream's decoded head and field spans stay in the decoding area until
//! its body ends, so that every piece of it reaches
//! [`body_chunk`](crate::Handler::body_chunk) with its request, however
//! many streams send bodies at once.
//!
//! Records lie one after another from the start of the area: the
//! request's tag (8 bytes), its head's offsets ([`HEAD_BYTES`]), how many
//! fields it has (2 bytes, then 2 unused), the head's bytes, then its
//! fields' spans (four 16-bit offsets each, from the head's start). The
//! stream holds only where its record starts. The body being gathered,
//! split header blocks and newly decoded heads come after the records. A
//! record leaves when its body ends or its stream is dropped; what
//! follows it in the area moves down in its place, and a new record
//! moves a body being gathered up. Records take at most [`KEPT_MAX`]
//! bytes in all: a request that needs more, or more than the area has
//! left, is refused with REFUSED_STREAM, which a client may retry.

use crate::field::FieldRange;
use crate::headers::FieldSpan;
use crate::sizes::{FieldTable, Sizes};
use crate::{Env, Handler, IoBuffers};

use super::fields::{HEAD_BYTES, Head};
use super::streams::{Inbound, Sink};
use super::{AREA, ServerConnection};

/// The most bytes the kept heads take at once: a quarter of the area,
/// so that a header block split over frames (and its decoded fields)
/// always has the rest.
pub const KEPT_MAX: usize = AREA / 4;

/// Bytes a field's spans take in a record.
const SPAN_LEN: usize = 8;

/// Bytes before a record's head: its tag, its head's offsets, its field
/// count, two unused.
const META: usize = 8 + HEAD_BYTES + 4;

/// A request whose head is kept in the area while its body arrives:
/// where its record starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Kept {
    /// Where its record starts in the area (under 64 KiB).
    at: u16,
}

impl Kept {
    /// Its record in `area`.
    fn record(self, area: &[u8]) -> &[u8] {
        &area[usize::from(self.at)..]
    }

    /// Its head's offsets, from the head's start.
    fn head(self, area: &[u8]) -> Head {
        Head::from_bytes(&self.record(area)[8..8 + HEAD_BYTES])
    }

    /// How many fields it has.
    fn fields(self, area: &[u8]) -> usize {
        let count = &self.record(area)[8 + HEAD_BYTES..];
        usize::from(u16::from_le_bytes([count[0], count[1]]))
    }

    /// Bytes its record takes.
    fn len(self, area: &[u8]) -> usize {
        META + self.head(area).len as usize + self.fields(area) * SPAN_LEN
    }

    /// The request's scratch value, as `body_chunk` left it.
    pub(super) fn tag(self, area: &[u8]) -> u64 {
        let bytes = self.record(area);
        u64::from_le_bytes(bytes[..8].try_into().unwrap_or_default())
    }

    /// Sets the request's scratch value.
    fn set_tag(self, area: &mut [u8], tag: u64) {
        let at = usize::from(self.at);
        area[at..at + 8].copy_from_slice(&tag.to_le_bytes());
    }

    /// What makes the request: where its head starts in `area`, and the
    /// head (its offsets from there); its fields' spans are read into
    /// `fields`.
    pub(super) fn request_parts<T: FieldTable>(self, area: &[u8], fields: &mut T) -> (usize, Head) {
        let head = self.head(area);
        let start = usize::from(self.at) + META;
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

impl<Z: Sizes, const STREAMS: usize> ServerConnection<Z, STREAMS> {
    /// Keeps the head decoded in the area from `base` (`head` and
    /// `fields` as offsets in the area) in a record at the end of the
    /// others, moving a body being gathered after them up to make room;
    /// `None` if the records would outgrow [`KEPT_MAX`], or the area.
    pub(super) fn keep(&mut self, base: usize, head: &Head, fields: &[FieldSpan]) -> Option<Kept> {
        let head_len = head.len as usize - base;
        let len = META + head_len + fields.len() * SPAN_LEN;
        let (at, end) = (self.kept_end, base + len);
        if at + len > KEPT_MAX || end > AREA {
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
        // between (a body being gathered) up behind it.
        self.area[at..end].rotate_right(len);
        if let Some(gathering) = self.gathering.as_mut() {
            gathering.at += len as u32;
        }
        self.kept_end = at + len;
        Some(Kept { at: at as u16 })
    }

    /// Hands `chunk` of `stream`'s body (at `from` in the read buffer,
    /// `len` bytes) to the handler with its request.
    pub(super) fn hand_over<H: Handler<L>, L: Default>(
        &mut self,
        kept: Kept,
        from: usize,
        len: usize,
        bufs: &IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) {
        let mut tag = kept.tag(&self.area);
        let (start, head) = kept.request_parts(&self.area, &mut self.fields);
        let request = head
            .request(&self.area[start..], &self.fields)
            .with_peer(self.peer_addr.as_ref());
        env.handler
            .body_chunk(&request, &bufs.read[from..from + len], &mut tag, env.local);
        kept.set_tag(&mut self.area, tag);
    }

    /// `kept`'s record leaves the area: what follows it moves down in its
    /// place, and every offset into it follows.
    pub(super) fn release_kept(&mut self, kept: Kept) {
        let (at, len) = (usize::from(kept.at), kept.len(&self.area));
        let continuing_end = self.continuing.map_or(0, |c| (c.start + c.len) as usize);
        let end = self.area_used().max(continuing_end);
        self.area.copy_within(at + len..end, at);
        self.kept_end -= len;
        for open in self.streams.iter_mut() {
            if let Inbound::Body {
                sink: Sink::Handler(other),
                ..
            } = &mut open.inbound
                && usize::from(other.at) > at
            {
                other.at -= len as u16;
            }
        }
        if let Some(gathering) = self.gathering.as_mut()
            && gathering.at as usize > at
        {
            gathering.at -= len as u32;
        }
        if let Some(continuing) = self.continuing.as_mut()
            && continuing.start as usize > at
        {
            continuing.start -= len as u32;
        }
    }
}
