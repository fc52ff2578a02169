//! Brotli with the `brotli` crate's encoder (the pure-Rust port of
//! Google's), its memory kept between responses by a [`Pool`].
//!
//! The encoder state has no reset: a new state is made for each stream,
//! with the pool moved from the old state (after the old state gave all
//! its blocks back to it) to the new one.

use brotli::enc::encode::{
    BrotliEncoderDestroyInstance, BrotliEncoderOperation, BrotliEncoderParameter,
    BrotliEncoderStateStruct, BrotliEncoderStreamState,
};
use brotli::enc::interface::PredictionModeContextMap;
use brotli::enc::{InputPair, InputReferenceMut, StaticCommand};

use super::encoder::{Flush, Progress};
use super::pool::Pool;

/// The smallest window brotli allows, as a power of two.
const MIN_WINDOW: u32 = 10;

/// A brotli encoder, reused across responses.
pub(crate) struct Brotli {
    /// The encoder state of the current stream.
    state: BrotliEncoderStateStruct<Pool>,
    /// Quality, 0 to 11.
    quality: u32,
    /// The largest window, as a power of two (10 to 24).
    window: u32,
}

/// What the encoder's per-metablock callback does here: nothing.
fn no_callback(
    _: &mut PredictionModeContextMap<InputReferenceMut<'_>>,
    _: &mut [StaticCommand],
    _: InputPair<'_>,
    _: &mut Pool,
) {
}

impl Brotli {
    /// An encoder of `quality` with windows of at most `2^window` bytes.
    pub(crate) fn new(quality: u32, window: u32) -> Brotli {
        let mut brotli = Brotli {
            state: BrotliEncoderStateStruct::new(Pool::default()),
            quality: quality.min(11),
            window: window.clamp(MIN_WINDOW, 24),
        };
        brotli.reset(None);
        brotli
    }

    /// Makes it ready for a new stream of `size` bytes if known (a smaller
    /// window for a short body), keeping its memory in the pool.
    pub(crate) fn reset(&mut self, size: Option<usize>) {
        BrotliEncoderDestroyInstance(&mut self.state);
        let pool = std::mem::take(&mut self.state.m8);
        self.state = BrotliEncoderStateStruct::new(pool);
        let window = match size {
            Some(size) => {
                let bits = usize::BITS - size.max(1).saturating_sub(1).leading_zeros();
                bits.clamp(MIN_WINDOW, self.window)
            }
            None => self.window,
        };
        let state = &mut self.state;
        state.set_parameter(BrotliEncoderParameter::BROTLI_PARAM_QUALITY, self.quality);
        state.set_parameter(BrotliEncoderParameter::BROTLI_PARAM_LGWIN, window);
        if let Some(size) = size {
            let hint = u32::try_from(size).unwrap_or(u32::MAX);
            state.set_parameter(BrotliEncoderParameter::BROTLI_PARAM_SIZE_HINT, hint);
        }
    }

    /// Bytes its pool keeps between streams.
    pub(crate) fn kept_bytes(&self) -> usize {
        self.state.m8.bytes()
    }

    /// Compresses what it can of `input` into `output`; see
    /// [`Encoder::encode`](super::encoder::Encoder::encode). `Err` when
    /// the encoder refuses (it was misused: never by this module).
    pub(crate) fn encode(
        &mut self,
        input: &[u8],
        output: &mut [u8],
        flush: Flush,
    ) -> Result<Progress, ()> {
        let op = match flush {
            Flush::None => BrotliEncoderOperation::BROTLI_OPERATION_PROCESS,
            Flush::Sync => BrotliEncoderOperation::BROTLI_OPERATION_FLUSH,
            Flush::Finish => BrotliEncoderOperation::BROTLI_OPERATION_FINISH,
        };
        let (mut available_in, mut read) = (input.len(), 0);
        let (mut available_out, mut written) = (output.len(), 0);
        let mut total = None;
        let ok = self.state.compress_stream(
            op,
            &mut available_in,
            input,
            &mut read,
            &mut available_out,
            output,
            &mut written,
            &mut total,
            &mut no_callback,
        );
        if !ok {
            return Err(());
        }
        let done = match flush {
            Flush::None => available_in == 0,
            Flush::Sync => {
                available_in == 0
                    && !self.state.has_more_output()
                    && self.state.stream_state_
                        == BrotliEncoderStreamState::BROTLI_STREAM_PROCESSING
            }
            Flush::Finish => self.state.is_finished(),
        };
        Ok(Progress::new(read, written, done))
    }
}
