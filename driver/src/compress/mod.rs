//! Compressed responses: gzip and brotli, chosen by the request's
//! `Accept-Encoding`, for whole bodies and for streams, with the memory
//! they work in kept by each worker so that a warm worker allocates
//! nothing per compressed response.
//!
//! Compression is opt-in: a handler whose worker state holds
//! [`Compressors`] calls [`CompressBody::body_compressed`] (or
//! [`stream_compressed`](CompressBody::stream_compressed)) where it would
//! call `body` (or `stream`), and which responses are compressed is then
//! decided by their content type, their size and the request:
//!
//! ```
//! use peregrine_driver::compress::{CompressBody, Compressors};
//! use peregrine_driver::core::{Finished, Fill, Handler, Request, Response};
//!
//! struct Api;
//!
//! impl Handler<Compressors> for Api {
//!     fn handle(&self, request: &Request<'_>, response: &mut Response<'_, Compressors>) {
//!         response.header("Content-Type", "application/json").unwrap();
//!         match request.path() {
//!             b"/report" => {
//!                 // 100 lines, produced as the socket drains.
//!                 response.set_tag(100).stream_compressed(request, None);
//!             }
//!             _ => {
//!                 let json = br#"{"items":[1,2,3]}"#; // short: sent as it is
//!                 response.body_compressed(request, json).unwrap();
//!             }
//!         }
//!     }
//!
//!     fn fill_body(&self, tag: &mut u64, buf: &mut [u8], local: &mut Compressors) -> Fill {
//!         local.fill_body(tag, buf, |lines_left, plain| {
//!             let line = b"{\"line\":\"some text that compresses\"}\n";
//!             let mut n = 0;
//!             while *lines_left > 0 && plain.len() - n >= line.len() {
//!                 plain[n..n + line.len()].copy_from_slice(line);
//!                 n += line.len();
//!                 *lines_left -= 1;
//!             }
//!             if *lines_left == 0 { Fill::Done(n) } else { Fill::More(n) }
//!         })
//!     }
//!
//!     fn finished(&self, finished: Finished, local: &mut Compressors) {
//!         let _app_tag = local.finished(&finished);
//!     }
//! }
//! ```
//!
//! [`Compressors::new`] in [`Handler::new_local`](peregrine_core::Handler::new_local)
//! chooses other [settings](Compression); an application whose worker
//! state holds more than the compressors implements
//! `AsMut<Compressors>` for it.
//!
//! # Where the compressors live
//!
//! In the worker's state (`L`), which each worker creates once when it
//! starts and which goes with the connection wherever its callbacks run:
//! a stream's encoder is found again in [`Compressors::fill_body`] on the
//! same worker, whichever backend drives it (the tokio example's tasks
//! move between threads, which a thread-local would not survive), and a
//! server that never compresses pays for nothing. Encoders are made on
//! first use, reset for each response (flate2's `Compress::reset`; for
//! brotli, whose encoder has no reset, a new state over the memory the
//! old one gave back to the worker's pool) and never freed.
//!
//! # Limits
//!
//! - A whole compressed body must fit the write buffer (and
//!   [`max_body`](Compression::max_body)); when it does not,
//!   [`body_compressed`](CompressBody::body_compressed) answers
//!   `BodyTooLarge` and the response stays open, for
//!   [`stream_compressed`](CompressBody::stream_compressed).
//! - No zstd, and no deflate (zlib) coding: gzip is the same algorithm,
//!   understood by every client.
//! - Brotli's encoder has no reset, so each brotli response makes a new
//!   encoder state (about 10 KiB written, nothing allocated).

mod brotli;
mod config;
mod encoder;
mod gzip;
mod pool;
mod response;
mod stream;

use std::fmt;

use peregrine_core::{Fill, Finished};

pub use config::{Compression, any_type, compressible};
pub use encoder::Coding;
pub use response::CompressBody;
pub use stream::STREAM_TAG;

use encoder::Encoder;
use stream::Streams;

/// A worker's compressors: encoders kept between responses, the scratch
/// buffer whole bodies are compressed into, and the running compressed
/// streams. Created empty (allocating nothing until it first compresses)
/// by each worker, as its state or part of it; see the
/// [module](self) documentation.
pub struct Compressors {
    /// What they do.
    settings: Compression,
    /// Encoders no response uses now, of either coding.
    idle: Vec<Encoder>,
    /// Where whole bodies are compressed (empty until first needed).
    scratch: Vec<u8>,
    /// Running streams.
    streams: Streams,
}

impl Compressors {
    /// Compressors with these settings.
    pub fn new(settings: Compression) -> Compressors {
        Compressors {
            settings,
            idle: Vec::new(),
            scratch: Vec::new(),
            streams: Streams::default(),
        }
    }

    /// Their settings.
    pub fn settings(&self) -> &Compression {
        &self.settings
    }

    /// The next piece of the body of a stream begun with
    /// [`CompressBody::stream_compressed`], for the handler's
    /// [`fill_body`](peregrine_core::Handler::fill_body) to return.
    /// `source` writes the next plain bytes into the buffer it is given
    /// and says what it wrote as `fill_body` does, given the tag the
    /// handler set on the response; a stream sent as it is (not
    /// compressed) goes straight to `source`.
    ///
    /// When `source` answers [`Fill::Pending`], what it gave so far is
    /// flushed to the client first.
    pub fn fill_body(
        &mut self,
        tag: &mut u64,
        buf: &mut [u8],
        mut source: impl FnMut(&mut u64, &mut [u8]) -> Fill,
    ) -> Fill {
        if *tag & STREAM_TAG == 0 {
            return source(tag, buf);
        }
        self.streams.fill(*tag, buf, source).unwrap_or(Fill::Abort)
    }

    /// Ends the compressed stream a response ran, if it ran one, for the
    /// handler's [`finished`](peregrine_core::Handler::finished), and
    /// returns the tag the handler's own code knows the response by (the
    /// response's, for a response that ran no compressed stream).
    pub fn finished(&mut self, finished: &Finished) -> u64 {
        match self.streams.close(finished.tag) {
            Some((encoder, tag)) => {
                self.give_back(encoder);
                tag
            }
            None => finished.tag,
        }
    }

    /// Compressed streams running now.
    pub fn streams(&self) -> usize {
        self.streams.running()
    }

    /// Heap bytes kept that can be counted: the scratch buffer, the
    /// streams' buffers and brotli's pools. gzip's deflate state (about
    /// 300 KiB with the default backend) is not counted; see the README
    /// for a worker's whole figure.
    pub fn kept_bytes(&self) -> usize {
        self.scratch.capacity()
            + self.idle.iter().map(Encoder::kept_bytes).sum::<usize>()
            + self.streams.kept_bytes()
    }

    /// An encoder of `coding`, ready for a body of `size` bytes if known.
    fn encoder(&mut self, coding: Coding, size: Option<usize>) -> Encoder {
        let idle = self
            .idle
            .iter()
            .position(|encoder| encoder.coding() == coding);
        match idle {
            Some(at) => {
                let mut encoder = self.idle.swap_remove(at);
                encoder.reset(size);
                encoder
            }
            None => {
                let mut encoder = match coding {
                    Coding::Gzip => {
                        Encoder::Gzip(Box::new(gzip::Gzip::new(self.settings.gzip.unwrap_or(6))))
                    }
                    Coding::Brotli => Encoder::Brotli(Box::new(brotli::Brotli::new(
                        self.settings.brotli.unwrap_or(4),
                        self.settings.brotli_window,
                    ))),
                };
                encoder.reset(size);
                encoder
            }
        }
    }

    /// Keeps an encoder for the next response.
    fn give_back(&mut self, encoder: Encoder) {
        self.idle.push(encoder);
    }

    /// The scratch buffer, taken out of the state while a response uses
    /// it.
    fn take_scratch(&mut self) -> Vec<u8> {
        if self.scratch.is_empty() {
            self.scratch = vec![0; self.settings.scratch];
        }
        std::mem::take(&mut self.scratch)
    }

    /// Puts the scratch buffer back.
    fn put_scratch(&mut self, scratch: Vec<u8>) {
        self.scratch = scratch;
    }

    /// Starts a compressed stream for the application's `tag`; its tag,
    /// or `None` if the worker runs as many as it may.
    fn open_stream(&mut self, coding: Coding, tag: u64) -> Option<u64> {
        if !self.streams.has_room(self.settings.max_streams) {
            return None;
        }
        let encoder = self.encoder(coding, None);
        Some(self.streams.open(encoder, tag, self.settings.stream_buffer))
    }
}

impl Default for Compressors {
    /// Compressors with the default [settings](Compression::new).
    fn default() -> Self {
        Compressors::new(Compression::new())
    }
}

impl AsMut<Compressors> for Compressors {
    fn as_mut(&mut self) -> &mut Compressors {
        self
    }
}

impl fmt::Debug for Compressors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Compressors")
            .field("settings", &self.settings)
            .field("idle", &self.idle.len())
            .field("streams", &self.streams.running())
            .finish_non_exhaustive()
    }
}
