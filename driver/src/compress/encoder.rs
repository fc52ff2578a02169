//! One compressed stream, whichever its coding: gzip or brotli driven
//! through one interface, input and output in the caller's buffers.

use super::brotli::Brotli;
use super::gzip::Gzip;

/// A content coding the compressors produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Coding {
    /// gzip (RFC 1952): deflate, understood by every client.
    Gzip,
    /// Brotli (RFC 7932): smaller than gzip at a like speed, understood
    /// by browsers (over HTTPS) and most HTTP libraries.
    Brotli,
}

impl Coding {
    /// Its `Content-Encoding` token.
    ///
    /// ```
    /// use peregrine_driver::compress::Coding;
    ///
    /// assert_eq!(Coding::Gzip.token(), "gzip");
    /// assert_eq!(Coding::Brotli.token(), "br");
    /// ```
    pub fn token(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Brotli => "br",
        }
    }
}

/// How much of the stream an [`Encoder::encode`] call must bring out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flush {
    /// Nothing in particular: the encoder may keep what it was given.
    None,
    /// Everything given so far, decodable by the client now (a stream
    /// waiting for its source).
    Sync,
    /// The end of the stream.
    Finish,
}

/// What an [`Encoder::encode`] call did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Progress {
    /// Input bytes consumed.
    pub(crate) read: usize,
    /// Output bytes written.
    pub(crate) written: usize,
    /// The flush asked for is complete: all input consumed (`None`), and
    /// all of it written out (`Sync`), or the stream's last byte written
    /// (`Finish`).
    pub(crate) done: bool,
}

impl Progress {
    /// A call's progress.
    pub(crate) fn new(read: usize, written: usize, done: bool) -> Self {
        Progress {
            read,
            written,
            done,
        }
    }
}

/// The encoder failed (a fault of its library, not of the data).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct EncodeFailed;

/// A reusable encoder of one coding.
pub(crate) enum Encoder {
    /// gzip.
    Gzip(Box<Gzip>),
    /// Brotli.
    Brotli(Box<Brotli>),
}

impl Encoder {
    /// Its coding.
    pub(crate) fn coding(&self) -> Coding {
        match self {
            Encoder::Gzip(_) => Coding::Gzip,
            Encoder::Brotli(_) => Coding::Brotli,
        }
    }

    /// Makes it ready for a new stream of `size` bytes, if known.
    pub(crate) fn reset(&mut self, size: Option<usize>) {
        match self {
            Encoder::Gzip(gzip) => gzip.reset(),
            Encoder::Brotli(brotli) => brotli.reset(size),
        }
    }

    /// Compresses what it can of `input` into `output`, as far as `flush`
    /// asks: call again with the input not [read](Progress::read), and
    /// room, until the progress is [done](Progress::done).
    pub(crate) fn encode(
        &mut self,
        input: &[u8],
        output: &mut [u8],
        flush: Flush,
    ) -> Result<Progress, EncodeFailed> {
        match self {
            Encoder::Gzip(gzip) => gzip.encode(input, output, flush).map_err(|_| EncodeFailed),
            Encoder::Brotli(brotli) => brotli
                .encode(input, output, flush)
                .map_err(|()| EncodeFailed),
        }
    }

    /// Compresses the whole of `input` into `output`: the length written,
    /// or `None` if it does not fit (or the encoder failed).
    pub(crate) fn compress(&mut self, input: &[u8], output: &mut [u8]) -> Option<usize> {
        let (mut read, mut written) = (0, 0);
        loop {
            let progress = self
                .encode(&input[read..], &mut output[written..], Flush::Finish)
                .ok()?;
            read += progress.read;
            written += progress.written;
            if progress.done {
                return Some(written);
            }
            if written == output.len() || (progress.read == 0 && progress.written == 0) {
                return None;
            }
        }
    }

    /// Bytes of memory it keeps between streams beyond its own state, as
    /// far as they can be counted (brotli's pool).
    pub(crate) fn kept_bytes(&self) -> usize {
        match self {
            Encoder::Gzip(_) => 0,
            Encoder::Brotli(brotli) => brotli.kept_bytes(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// Text that compresses, as a JSON answer does.
    fn text(len: usize) -> Vec<u8> {
        let mut text = Vec::new();
        let mut i = 0u32;
        while text.len() < len {
            text.extend(format!("{{\"id\":{i},\"name\":\"item {}\"}},", i * 7 % 13).bytes());
            i += 1;
        }
        text.truncate(len);
        text
    }

    pub(crate) fn decode(coding: Coding, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        match coding {
            Coding::Gzip => {
                flate2::read::GzDecoder::new(bytes)
                    .read_to_end(&mut out)
                    .unwrap();
            }
            Coding::Brotli => {
                brotli::Decompressor::new(bytes, 4096)
                    .read_to_end(&mut out)
                    .unwrap();
            }
        }
        out
    }

    fn encoders() -> [Encoder; 2] {
        [
            Encoder::Gzip(Box::new(Gzip::new(6))),
            Encoder::Brotli(Box::new(Brotli::new(4, 18))),
        ]
    }

    #[test]
    fn whole_bodies_round_trip_and_encoders_are_reused() {
        for mut encoder in encoders() {
            for len in [0, 1, 100, 5000, 60_000] {
                let input = text(len);
                encoder.reset(Some(len));
                let mut output = vec![0; len + 1000];
                let n = encoder.compress(&input, &mut output).unwrap();
                assert_eq!(decode(encoder.coding(), &output[..n]), input);
                if len >= 5000 {
                    assert!(n < len / 2, "{:?} {len}: {n}", encoder.coding());
                }
            }
        }
    }

    #[test]
    fn a_body_that_does_not_fit_is_refused() {
        for mut encoder in encoders() {
            encoder.reset(Some(5000));
            let mut output = [0; 20];
            assert_eq!(encoder.compress(&text(5000), &mut output), None);
        }
    }

    #[test]
    fn streams_flush_and_finish_through_a_small_window() {
        for mut encoder in encoders() {
            encoder.reset(None);
            let input = text(30_000);
            let mut wire = Vec::new();
            let mut out = [0u8; 7];
            for (i, piece) in input.chunks(1000).enumerate() {
                let flush = if i % 5 == 4 { Flush::Sync } else { Flush::None };
                let mut read = 0;
                loop {
                    let p = encoder.encode(&piece[read..], &mut out, flush).unwrap();
                    read += p.read;
                    wire.extend_from_slice(&out[..p.written]);
                    if p.done {
                        break;
                    }
                }
                if flush == Flush::Sync {
                    // Everything so far decodes already: a prefix.
                    let so_far = partial(encoder.coding(), &wire);
                    assert_eq!(so_far, &input[..(i + 1) * 1000]);
                }
            }
            loop {
                let p = encoder.encode(&[], &mut out, Flush::Finish).unwrap();
                wire.extend_from_slice(&out[..p.written]);
                if p.done {
                    break;
                }
            }
            assert_eq!(decode(encoder.coding(), &wire), input);
        }
    }

    /// What a truncated stream decodes to so far.
    fn partial(coding: Coding, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0; 4096];
        let mut reader: Box<dyn Read> = match coding {
            Coding::Gzip => Box::new(flate2::read::GzDecoder::new(bytes)),
            Coding::Brotli => Box::new(brotli::Decompressor::new(bytes, 4096)),
        };
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        out
    }
}
