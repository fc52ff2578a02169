//! What a worker's compressors do: levels, the smallest body worth
//! compressing, which content types, how many streams at once.

/// The settings of a worker's [`Compressors`](super::Compressors), built
/// from [`Compression::new`] (the defaults) with its builder methods.
///
/// ```
/// use peregrine_driver::compress::{Compression, Compressors};
///
/// let settings = Compression::new()
///     .gzip_level(1)
///     .brotli(None)
///     .min_size(512)
///     .max_streams(4);
/// let compressors = Compressors::new(settings);
/// # let _ = compressors;
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Compression {
    /// gzip's level (0 to 9), or `None` for no gzip.
    pub(crate) gzip: Option<u32>,
    /// Brotli's quality (0 to 11), or `None` for no brotli.
    pub(crate) brotli: Option<u32>,
    /// Brotli's largest window, as a power of two.
    pub(crate) brotli_window: u32,
    /// Bodies shorter than this are sent as they are.
    pub(crate) min_size: usize,
    /// Compressed streams a worker runs at once.
    pub(crate) max_streams: usize,
    /// Bytes a compressed body may take (whole bodies).
    pub(crate) scratch: usize,
    /// Plain bytes a stream's source writes at a time.
    pub(crate) stream_buffer: usize,
    /// Which `Content-Type` values are compressed.
    pub(crate) types: fn(&[u8]) -> bool,
}

impl Default for Compression {
    fn default() -> Self {
        Compression::new()
    }
}

impl Compression {
    /// The defaults: gzip at level 6 and brotli at quality 4 with windows
    /// of up to 64 KiB (both about as fast as each other, as on-the-fly
    /// compression wants), bodies of 1 KiB and more, text-like content
    /// types ([`compressible`]), up to 16 compressed streams per worker,
    /// whole compressed bodies of up to 16 KiB, streams read 8 KiB of
    /// plain body at a time.
    pub const fn new() -> Compression {
        Compression {
            gzip: Some(6),
            brotli: Some(4),
            brotli_window: 16,
            min_size: 1024,
            max_streams: 16,
            scratch: 16 * 1024,
            stream_buffer: 8 * 1024,
            types: compressible,
        }
    }

    /// gzip's level, 0 (stored) to 9 (smallest); 1 is the fastest that
    /// compresses.
    pub const fn gzip_level(mut self, level: u32) -> Self {
        self.gzip = Some(if level > 9 { 9 } else { level });
        self
    }

    /// Whether gzip is offered at all (at the level set, 6 unless changed).
    pub const fn gzip(mut self, enabled: bool) -> Self {
        self.gzip = match (enabled, self.gzip) {
            (false, _) => None,
            (true, Some(level)) => Some(level),
            (true, None) => Some(6),
        };
        self
    }

    /// Brotli's quality, 0 to 11, or `None` for no brotli (gzip only).
    /// Above 5 brotli is much slower than gzip: a choice for bodies
    /// compressed once and kept, not for each response.
    pub const fn brotli(mut self, quality: Option<u32>) -> Self {
        self.brotli = match quality {
            Some(q) if q > 11 => Some(11),
            other => other,
        };
        self
    }

    /// Brotli's largest window, as a power of two from 10 (1 KiB) to 24
    /// (16 MiB); 16 by default. It sets what a brotli stream's encoder
    /// holds (about 1.7 MiB at 16, 2.9 MiB at 18, 5.4 MiB at 20, at
    /// quality 4); whole bodies use the smallest window that holds them.
    pub const fn brotli_window(mut self, bits: u32) -> Self {
        self.brotli_window = if bits < 10 {
            10
        } else if bits > 24 {
            24
        } else {
            bits
        };
        self
    }

    /// Bodies shorter than `bytes` are sent as they are (1,024 by
    /// default): below about a kilobyte compression saves less than a
    /// packet and costs the client a decoder.
    pub const fn min_size(mut self, bytes: usize) -> Self {
        self.min_size = bytes;
        self
    }

    /// How many compressed streams a worker runs at once (16 by default);
    /// a stream begun while that many run is sent as it is. Each holds an
    /// encoder and a buffer of [`stream_buffer`](Self::stream_buffer)
    /// bytes.
    pub const fn max_streams(mut self, streams: usize) -> Self {
        self.max_streams = streams;
        self
    }

    /// The largest compressed whole body, in bytes (16 KiB by default, the
    /// default write buffer): the size of the worker's scratch buffer.
    pub const fn max_body(mut self, bytes: usize) -> Self {
        self.scratch = bytes;
        self
    }

    /// Plain bytes a stream's source is given room for at a time (8 KiB by
    /// default).
    pub const fn stream_buffer(mut self, bytes: usize) -> Self {
        self.stream_buffer = if bytes == 0 { 1 } else { bytes };
        self
    }

    /// Which `Content-Type` values are compressed: `filter` is given the
    /// value the handler set (a response without one is compressed). By
    /// default [`compressible`]; [`any_type`] compresses everything.
    pub const fn content_types(mut self, filter: fn(&[u8]) -> bool) -> Self {
        self.types = filter;
        self
    }
}

/// Every content type: for [`Compression::content_types`].
pub fn any_type(_: &[u8]) -> bool {
    true
}

/// Whether a `Content-Type` names text-like content that compresses well:
/// `text/*`, JSON, JavaScript, XML (and any `+json`, `+xml` type), SVG,
/// WebAssembly, `application/x-ndjson`. Images, audio, video, fonts and
/// archives are mostly compressed already.
///
/// ```
/// use peregrine_driver::compress::compressible;
///
/// assert!(compressible(b"application/json; charset=utf-8"));
/// assert!(compressible(b"Text/HTML"));
/// assert!(compressible(b"application/problem+json"));
/// assert!(!compressible(b"image/png"));
/// ```
pub fn compressible(content_type: &[u8]) -> bool {
    let essence = match content_type.iter().position(|&byte| byte == b';') {
        Some(at) => &content_type[..at],
        None => content_type,
    };
    let essence = essence.trim_ascii();
    let lower = |prefix: &str| {
        essence.len() >= prefix.len()
            && essence[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
    };
    let is = |name: &str| essence.eq_ignore_ascii_case(name.as_bytes());
    let suffix = |tail: &str| {
        essence.len() >= tail.len()
            && essence[essence.len() - tail.len()..].eq_ignore_ascii_case(tail.as_bytes())
    };
    lower("text/")
        || is("application/json")
        || is("application/javascript")
        || is("application/xml")
        || is("application/wasm")
        || is("application/x-ndjson")
        || is("image/svg+xml")
        || suffix("+json")
        || suffix("+xml")
}
