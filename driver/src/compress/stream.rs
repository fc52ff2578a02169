//! Compressed streams: bodies compressed as they are produced, each with
//! an encoder of its own for as long as it runs (a worker interleaves
//! many), found again through the response's tag.
//!
//! The application's source writes plain bytes into the stream's buffer;
//! the encoder compresses them into the room the connection offers. When
//! the source has nothing ready ([`Fill::Pending`]), what it gave so far
//! is flushed first, so that a client of a slow stream (server-sent
//! events, a long report) decodes every piece as soon as it is sent.

use peregrine_core::Fill;

use super::encoder::{Encoder, Flush};

/// The bit that marks a tag as a compressed stream's (the low bits are
/// its slot). Tags of the application's own streams must leave it clear.
pub const STREAM_TAG: u64 = 1 << 63;

/// A running compressed stream.
struct Running {
    /// Its encoder.
    encoder: Encoder,
    /// The application's tag, handed to its source.
    tag: u64,
    /// Plain bytes in the slot's buffer not yet compressed: `start..end`.
    start: usize,
    /// End of the plain bytes.
    end: usize,
    /// The source said [`Fill::Done`]: finish after the plain bytes.
    ended: bool,
    /// A sync flush is under way (the source is waiting).
    flushing: bool,
    /// Bytes were compressed since the last flush.
    dirty: bool,
}

/// One place for a stream: its plain-bytes buffer, kept for the next
/// stream, and the stream running there, if any.
struct Slot {
    /// Where the source writes plain bytes.
    buffer: Box<[u8]>,
    /// The stream, if one runs.
    running: Option<Running>,
}

/// A worker's compressed streams.
#[derive(Default)]
pub(crate) struct Streams {
    /// Every slot made so far.
    slots: Vec<Slot>,
    /// Slots without a stream.
    free: Vec<usize>,
}

impl Streams {
    /// Streams running.
    pub(crate) fn running(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// Whether a stream can start, with at most `max` at once.
    pub(crate) fn has_room(&self, max: usize) -> bool {
        !self.free.is_empty() || self.slots.len() < max
    }

    /// Starts a stream (call [`has_room`](Self::has_room) first) with
    /// `encoder`, for the application's `tag`, whose source gets
    /// `buffer_len` bytes at a time; returns the stream's tag.
    pub(crate) fn open(&mut self, encoder: Encoder, tag: u64, buffer_len: usize) -> u64 {
        let at = match self.free.pop() {
            Some(at) => at,
            None => {
                self.slots.push(Slot {
                    buffer: vec![0; buffer_len].into_boxed_slice(),
                    running: None,
                });
                self.slots.len() - 1
            }
        };
        self.slots[at].running = Some(Running {
            encoder,
            tag,
            start: 0,
            end: 0,
            ended: false,
            flushing: false,
            dirty: false,
        });
        STREAM_TAG | at as u64
    }

    /// Ends the stream of `tag`: its encoder and the application's tag;
    /// `None` if `tag` names no running stream.
    pub(crate) fn close(&mut self, tag: u64) -> Option<(Encoder, u64)> {
        let at = slot_of(tag)?;
        let running = self.slots.get_mut(at)?.running.take()?;
        self.free.push(at);
        Some((running.encoder, running.tag))
    }

    /// Fills `buf` with the compressed stream of `tag`, asking `source`
    /// for plain bytes as needed. `None` if `tag` names no running stream.
    pub(crate) fn fill(
        &mut self,
        tag: u64,
        buf: &mut [u8],
        source: impl FnMut(&mut u64, &mut [u8]) -> Fill,
    ) -> Option<Fill> {
        let slot = self.slots.get_mut(slot_of(tag)?)?;
        let running = slot.running.as_mut()?;
        Some(running.fill(&mut slot.buffer, buf, source))
    }

    /// Bytes the slots' buffers and their running encoders keep (as far
    /// as they can be counted).
    pub(crate) fn kept_bytes(&self) -> usize {
        self.slots
            .iter()
            .map(|slot| {
                slot.buffer.len() + slot.running.as_ref().map_or(0, |r| r.encoder.kept_bytes())
            })
            .sum()
    }
}

/// The slot a stream's tag names.
fn slot_of(tag: u64) -> Option<usize> {
    if tag & STREAM_TAG == 0 {
        return None;
    }
    usize::try_from(tag & !STREAM_TAG).ok()
}

impl Running {
    /// Compresses into `out` until it is full, the stream ends, or the
    /// source has nothing ready; `plain` is the slot's buffer.
    fn fill(
        &mut self,
        plain: &mut [u8],
        out: &mut [u8],
        mut source: impl FnMut(&mut u64, &mut [u8]) -> Fill,
    ) -> Fill {
        let mut written = 0;
        loop {
            let flush = if self.ended {
                Flush::Finish
            } else if self.flushing {
                Flush::Sync
            } else {
                Flush::None
            };
            if self.start < self.end || flush != Flush::None {
                if written == out.len() {
                    return Fill::More(written);
                }
                let input = &plain[self.start..self.end];
                let Ok(progress) = self.encoder.encode(input, &mut out[written..], flush) else {
                    return Fill::Abort;
                };
                self.start += progress.read;
                written += progress.written;
                self.dirty |= progress.read > 0;
                match flush {
                    Flush::Finish if progress.done => return Fill::Done(written),
                    Flush::Sync if progress.done => {
                        self.flushing = false;
                        self.dirty = false;
                        return more_or_pending(written);
                    }
                    Flush::None if self.start == self.end => {}
                    _ if progress.read == 0 && progress.written == 0 => {
                        // No progress with room left: ask again later
                        // rather than spin here.
                        return Fill::More(written);
                    }
                    _ => continue,
                }
            }
            // All plain bytes compressed: ask the source for more.
            self.start = 0;
            self.end = 0;
            match source(&mut self.tag, plain) {
                Fill::More(0) => return Fill::More(written),
                Fill::More(n) => self.end = n.min(plain.len()),
                Fill::Done(n) => {
                    self.end = n.min(plain.len());
                    self.ended = true;
                }
                Fill::Pending if self.dirty => self.flushing = true,
                Fill::Pending => return more_or_pending(written),
                Fill::Abort => return Fill::Abort,
            }
        }
    }
}

/// `More(written)` if anything was written (the source is asked again
/// once it is sent), else `Pending`.
fn more_or_pending(written: usize) -> Fill {
    if written > 0 {
        Fill::More(written)
    } else {
        Fill::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compress::brotli::Brotli;
    use crate::compress::encoder::{Coding, Encoder};
    use crate::compress::gzip::Gzip;
    use std::io::Read;

    fn encoder(coding: Coding) -> Encoder {
        match coding {
            Coding::Gzip => Encoder::Gzip(Box::new(Gzip::new(6))),
            Coding::Brotli => Encoder::Brotli(Box::new(Brotli::new(4, 16))),
        }
    }

    /// What a possibly unfinished stream decodes to so far.
    fn decoded(coding: Coding, bytes: &[u8]) -> Vec<u8> {
        let mut reader: Box<dyn Read + '_> = match coding {
            Coding::Gzip => Box::new(flate2::read::GzDecoder::new(bytes)),
            Coding::Brotli => Box::new(brotli::Decompressor::new(bytes, 4096)),
        };
        let (mut out, mut buf) = (Vec::new(), [0; 4096]);
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        out
    }

    /// A source that gives `line` `lines` times, one per call, and
    /// answers `Pending` every third call.
    fn source(calls: &mut u32, line: &'static [u8]) -> impl FnMut(&mut u64, &mut [u8]) -> Fill {
        move |left, plain| {
            *calls += 1;
            if *calls % 3 == 0 {
                return Fill::Pending;
            }
            plain[..line.len()].copy_from_slice(line);
            *left -= 1;
            if *left == 0 {
                Fill::Done(line.len())
            } else {
                Fill::More(line.len())
            }
        }
    }

    #[test]
    fn a_waiting_source_gets_what_it_gave_flushed_first() {
        const LINE: &[u8] = b"data: {\"price\": 101.25, \"symbol\": \"PRGN\"}\n\n";
        for coding in [Coding::Gzip, Coding::Brotli] {
            let mut streams = Streams::default();
            let tag = streams.open(encoder(coding), 30, 1024);
            assert_eq!(tag, STREAM_TAG);
            let (mut wire, mut out, mut calls, mut given) = (Vec::new(), [0u8; 64], 0, 0);
            loop {
                let before = calls;
                let fill = streams
                    .fill(tag, &mut out, source(&mut calls, LINE))
                    .unwrap();
                given += (calls - before) as usize;
                match fill {
                    Fill::More(n) => wire.extend_from_slice(&out[..n]),
                    Fill::Pending => {
                        // Everything the source gave is decodable now.
                        let lines = given - given / 3;
                        assert_eq!(decoded(coding, &wire), LINE.repeat(lines), "{coding:?}");
                    }
                    Fill::Done(n) => {
                        wire.extend_from_slice(&out[..n]);
                        break;
                    }
                    Fill::Abort => panic!("aborted"),
                }
            }
            assert_eq!(decoded(coding, &wire), LINE.repeat(30));
            let (encoder, app_tag) = streams.close(tag).unwrap();
            assert_eq!((encoder.coding(), app_tag), (coding, 0));
            assert!(streams.close(tag).is_none(), "closed once");
        }
    }

    #[test]
    fn slots_are_reused_and_bounded() {
        let mut streams = Streams::default();
        assert!(streams.has_room(2));
        let a = streams.open(encoder(Coding::Gzip), 1, 16);
        let b = streams.open(encoder(Coding::Gzip), 2, 16);
        assert_ne!(a, b);
        assert_eq!(streams.running(), 2);
        assert!(!streams.has_room(2));
        assert_eq!(streams.close(a).map(|(_, tag)| tag), Some(1));
        assert!(streams.has_room(2));
        assert_eq!(streams.open(encoder(Coding::Gzip), 3, 16), a);
        assert!(streams.fill(7, &mut [0; 8], |_, _| Fill::Done(0)).is_none());
        assert!(streams.close(STREAM_TAG | 99).is_none());
    }
}
