//! A worker's DEFLATE coder for permessage-deflate (RFC 7692): the
//! [`Deflate`] the core's WebSocket connections compress and decompress
//! with, built on zlib-rs through `flate2`.
//!
//! Without context takeover a message is coded whole in one call, so one
//! shared compressor and one shared decompressor, reset before each
//! message, serve every connection of the worker in turn. The
//! decompressor's 32 KiB window reads any window a client uses; a client
//! that limits the server's window (`server_max_window_bits`, 9 to 15) gets
//! a shared compressor of that size. zlib-rs rather than flate2's default
//! miniz_oxide backend because miniz_oxide compresses with a 32 KiB window
//! only, and a client that asks for less must get no longer distances.
//!
//! With context takeover, a connection's own compressor and decompressor
//! come from a pool of at most `contexts`, made as first needed and kept:
//! a connection that finds it full goes uncompressed.
//!
//! Every state is allocated once, on first use; coding a message then
//! allocates nothing.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use peregrine_core::ws::deflate::{
    CodecError, Context, Deflate, Inflated, MAX_WINDOW_BITS, MIN_SERVER_WINDOW_BITS,
};

/// The compression level: zlib's 6 would take twice the time for a few
/// percent; 3 keeps an echo of text near memcpy-class cost per byte.
const LEVEL: u32 = 3;

/// Compressors by window size, 9 to 15 bits.
const WINDOWS: usize = (MAX_WINDOW_BITS - MIN_SERVER_WINDOW_BITS + 1) as usize;

/// One connection's own states, for context takeover.
struct Pair {
    /// Its compressor (15-bit window: a smaller one is never taken over).
    compress: Compress,
    /// Its decompressor.
    decompress: Decompress,
}

impl Pair {
    /// Fresh states.
    fn new() -> Self {
        Pair {
            compress: Compress::new(Compression::new(LEVEL), false),
            decompress: Decompress::new(false),
        }
    }
}

/// A worker's DEFLATE states: shared ones for messages coded on their own,
/// and a bounded pool for connections with context takeover.
pub struct WorkerDeflate {
    /// Shared compressors, by window size less 9, made on first use.
    shared_compress: [Option<Compress>; WINDOWS],
    /// The shared decompressor, made on first use.
    shared_decompress: Option<Decompress>,
    /// The pool's states, made as first needed.
    pool: Vec<Pair>,
    /// Slots of `pool` free to take.
    free: Vec<u16>,
    /// The most states the pool holds.
    capacity: usize,
}

impl std::fmt::Debug for WorkerDeflate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerDeflate")
            .field("pool", &self.pool.len())
            .field("free", &self.free.len())
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl WorkerDeflate {
    /// A coder whose pool holds at most `contexts` per-connection states.
    /// Nothing is allocated until a connection needs it but the pool's
    /// two index lists.
    pub fn new(contexts: u16) -> Self {
        let capacity = usize::from(contexts);
        WorkerDeflate {
            shared_compress: Default::default(),
            shared_decompress: None,
            pool: Vec::with_capacity(capacity),
            free: Vec::with_capacity(capacity),
            capacity,
        }
    }

    /// Per-connection states taken now.
    pub fn contexts_in_use(&self) -> usize {
        self.pool.len() - self.free.len()
    }

    /// The compressor a call works on.
    fn compressor(&mut self, context: Context) -> &mut Compress {
        match context.slot {
            Some(slot) => &mut self.pool[usize::from(slot)].compress,
            None => {
                let bits = context
                    .window_bits
                    .clamp(MIN_SERVER_WINDOW_BITS, MAX_WINDOW_BITS);
                let index = usize::from(bits - MIN_SERVER_WINDOW_BITS);
                self.shared_compress[index].get_or_insert_with(|| {
                    Compress::new_with_window_bits(Compression::new(LEVEL), false, bits)
                })
            }
        }
    }

    /// The decompressor a call works on.
    fn decompressor(&mut self, context: Context) -> &mut Decompress {
        match context.slot {
            Some(slot) => &mut self.pool[usize::from(slot)].decompress,
            None => self
                .shared_decompress
                .get_or_insert_with(|| Decompress::new(false)),
        }
    }
}

/// Bytes between two readings of a running total.
fn delta(after: u64, before: u64) -> usize {
    usize::try_from(after - before).unwrap_or(usize::MAX)
}

impl Deflate for WorkerDeflate {
    fn compress(
        &mut self,
        context: Context,
        input: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CodecError> {
        let compress = self.compressor(context);
        if context.reset {
            compress.reset();
        }
        let (in_before, out_before) = (compress.total_in(), compress.total_out());
        let status = compress
            .compress(input, out, FlushCompress::Sync)
            .map_err(|_| CodecError::OutputFull)?;
        let taken = delta(compress.total_in(), in_before);
        let written = delta(compress.total_out(), out_before);
        // All of the input, and the flush complete: a full output may
        // hide more to come.
        if taken < input.len() || written == out.len() || status == Status::BufError {
            return Err(CodecError::OutputFull);
        }
        Ok(written)
    }

    fn decompress(
        &mut self,
        context: Context,
        input: &[u8],
        out: &mut [u8],
    ) -> Result<Inflated, CodecError> {
        let decompress = self.decompressor(context);
        if context.reset {
            decompress.reset(false);
        }
        let (in_before, out_before) = (decompress.total_in(), decompress.total_out());
        let status = decompress
            .decompress(input, out, FlushDecompress::Sync)
            .map_err(|_| CodecError::Invalid)?;
        let taken = delta(decompress.total_in(), in_before);
        let written = delta(decompress.total_out(), out_before);
        if status == Status::StreamEnd {
            // A final block: the next message is a stream of its own.
            decompress.reset(false);
            return Ok(Inflated {
                written,
                stream_end: true,
            });
        }
        if taken < input.len() {
            return Err(if written == out.len() {
                CodecError::OutputFull
            } else {
                CodecError::Invalid
            });
        }
        Ok(Inflated {
            written,
            stream_end: false,
        })
    }

    fn acquire(&mut self) -> Option<u16> {
        if let Some(slot) = self.free.pop() {
            return Some(slot);
        }
        if self.pool.len() >= self.capacity {
            return None;
        }
        let slot = u16::try_from(self.pool.len()).ok()?;
        self.pool.push(Pair::new());
        Some(slot)
    }

    fn release(&mut self, slot: u16) {
        if let Some(pair) = self.pool.get_mut(usize::from(slot)) {
            // Empty for its next connection.
            pair.compress.reset();
            pair.decompress.reset(false);
            self.free.push(slot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(window_bits: u8) -> Context {
        Context {
            slot: None,
            window_bits,
            reset: true,
        }
    }

    /// Round trip through the shared states, every window size, with the
    /// sync flush's tail at the end.
    #[test]
    fn shared_round_trip() {
        let mut coder = WorkerDeflate::new(0);
        let text = "permessage-deflate ".repeat(100);
        for bits in MIN_SERVER_WINDOW_BITS..=MAX_WINDOW_BITS {
            let mut packed = vec![0; 4096];
            let len = coder
                .compress(shared(bits), text.as_bytes(), &mut packed)
                .unwrap();
            assert!(len < text.len() / 4, "{bits}: {len}");
            assert_eq!(packed[len - 4..len], [0, 0, 0xff, 0xff]);
            let mut out = vec![0; 4096];
            let inflated = coder
                .decompress(shared(bits), &packed[..len], &mut out)
                .unwrap();
            assert_eq!(&out[..inflated.written], text.as_bytes());
            assert!(!inflated.stream_end);
        }
    }

    #[test]
    fn output_full_and_invalid() {
        let mut coder = WorkerDeflate::new(0);
        let data: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        assert_eq!(
            coder.compress(shared(15), &data, &mut [0; 100]),
            Err(CodecError::OutputFull)
        );
        let mut packed = vec![0; 8192];
        let len = coder.compress(shared(15), &data, &mut packed).unwrap();
        assert_eq!(
            coder.decompress(shared(15), &packed[..len], &mut [0; 100]),
            Err(CodecError::OutputFull)
        );
        // BTYPE 11 is reserved.
        assert_eq!(
            coder.decompress(shared(15), &[0xff, 0xff, 0xff], &mut [0; 100]),
            Err(CodecError::Invalid)
        );
    }

    /// The pool hands out at most its capacity, reuses what comes back,
    /// and keeps each connection's history apart.
    #[test]
    fn pool() {
        let mut coder = WorkerDeflate::new(2);
        let a = coder.acquire().unwrap();
        let b = coder.acquire().unwrap();
        assert_ne!(a, b);
        assert_eq!(coder.acquire(), None);
        assert_eq!(coder.contexts_in_use(), 2);
        let own = |slot| Context {
            slot: Some(slot),
            window_bits: 15,
            reset: false,
        };
        // The second "Hello" on `a` refers back to the first.
        let mut first = [0; 64];
        let n1 = coder.compress(own(a), b"Hello", &mut first).unwrap();
        let mut second = [0; 64];
        let n2 = coder.compress(own(a), b"Hello", &mut second).unwrap();
        assert!(n2 < n1, "{n1} {n2}");
        let mut out = [0; 64];
        assert_eq!(
            coder
                .decompress(own(b), &first[..n1], &mut out)
                .unwrap()
                .written,
            5
        );
        assert_eq!(
            coder
                .decompress(own(b), &second[..n2], &mut out)
                .unwrap()
                .written,
            5
        );
        assert_eq!(&out[..5], b"Hello");
        coder.release(a);
        assert_eq!(coder.contexts_in_use(), 1);
        assert_eq!(coder.acquire(), Some(a));
    }
}
