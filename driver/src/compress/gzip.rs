//! gzip (RFC 1952) around flate2's raw deflate, so that one deflate state
//! serves response after response: `Compress::reset` keeps its memory,
//! and the ten-byte header and eight-byte trailer are written here, the
//! trailer's CRC-32 computed as the input goes by.

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

use super::encoder::{Flush, Progress};

/// The fixed gzip header: magic, deflate, no flags, no modification time,
/// no extra flags, unknown OS (RFC 1952 §2.3).
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// Where a gzip stream stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    /// The header is (still) in `pending`.
    Header,
    /// Deflating.
    Body,
    /// The trailer is (still) in `pending`.
    Trailer,
    /// All written.
    Done,
}

/// A gzip encoder, reused across responses.
pub(crate) struct Gzip {
    /// The raw deflate state.
    deflate: Compress,
    /// The CRC-32 and length of the input so far.
    crc: Crc,
    /// Header or trailer bytes not yet written: `pending[at..len]`.
    pending: [u8; 10],
    /// The first pending byte not yet written.
    at: usize,
    /// How many of `pending` are meant.
    len: usize,
    /// Where the stream stands.
    part: Part,
}

impl Gzip {
    /// An encoder at `level` (0 to 9), ready for its first stream.
    pub(crate) fn new(level: u32) -> Gzip {
        let mut gzip = Gzip {
            deflate: Compress::new(Compression::new(level.min(9)), false),
            crc: Crc::new(),
            pending: [0; 10],
            at: 0,
            len: 0,
            part: Part::Header,
        };
        gzip.reset();
        gzip
    }

    /// Makes it ready for a new stream, keeping its memory.
    pub(crate) fn reset(&mut self) {
        self.deflate.reset();
        self.crc.reset();
        self.pending = HEADER;
        self.at = 0;
        self.len = HEADER.len();
        self.part = Part::Header;
    }

    /// Writes pending header or trailer bytes to `output`; whether all
    /// are out.
    fn drain(&mut self, output: &mut [u8], written: &mut usize) -> bool {
        let n = (self.len - self.at).min(output.len() - *written);
        output[*written..*written + n].copy_from_slice(&self.pending[self.at..self.at + n]);
        self.at += n;
        *written += n;
        self.at == self.len
    }

    /// Compresses what it can of `input` into `output`; see
    /// [`Encoder::encode`](super::encoder::Encoder::encode).
    pub(crate) fn encode(
        &mut self,
        input: &[u8],
        output: &mut [u8],
        flush: Flush,
    ) -> Result<Progress, flate2::CompressError> {
        let (mut read, mut written) = (0, 0);
        loop {
            let part = self.part;
            match part {
                Part::Header | Part::Trailer if !self.drain(output, &mut written) => {
                    return Ok(Progress::new(read, written, false));
                }
                Part::Header => self.part = Part::Body,
                Part::Trailer => self.part = Part::Done,
                Part::Done => return Ok(Progress::new(read, written, flush == Flush::Finish)),
                Part::Body => {
                    let (in_before, out_before) =
                        (self.deflate.total_in(), self.deflate.total_out());
                    let mode = match flush {
                        Flush::None => FlushCompress::None,
                        Flush::Sync => FlushCompress::Sync,
                        Flush::Finish => FlushCompress::Finish,
                    };
                    let status =
                        self.deflate
                            .compress(&input[read..], &mut output[written..], mode)?;
                    let consumed = (self.deflate.total_in() - in_before) as usize;
                    let produced = (self.deflate.total_out() - out_before) as usize;
                    self.crc.update(&input[read..read + consumed]);
                    read += consumed;
                    written += produced;
                    if status == Status::StreamEnd {
                        self.pending[..4].copy_from_slice(&self.crc.sum().to_le_bytes());
                        self.pending[4..8].copy_from_slice(&self.crc.amount().to_le_bytes());
                        self.at = 0;
                        self.len = 8;
                        self.part = Part::Trailer;
                        continue;
                    }
                    let full = written == output.len();
                    let done = match flush {
                        Flush::None => read == input.len(),
                        Flush::Sync => read == input.len() && !full,
                        Flush::Finish => false,
                    };
                    if done || full || (consumed == 0 && produced == 0) {
                        return Ok(Progress::new(read, written, done));
                    }
                }
            }
        }
    }
}
