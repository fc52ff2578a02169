//! What the caller configures and hands a connection: timeouts and limits,
//! the per-call environment, the buffers it works in.

use crate::FileKeeper;
use crate::counters::Counters;
use crate::date::DateCache;
use crate::sizes::{ByteArray, DefaultSizes, Sizes};
use crate::spill::Spill;
use crate::ws::Deflate;
use crate::ws_output::{Backpressure, FrameTimeouts};

/// Timeouts and limits of a connection. All times are in milliseconds of
/// the caller's monotonic clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// For the first request, from the accept until its head is complete;
    /// for later ones, from the head's first byte. A head not complete in
    /// time is answered `408` and the connection closed (slowloris
    /// defence); a connection that sent nothing at all is closed without
    /// a word. Default 10 s.
    pub header_timeout: u64,
    /// Between two reads of a request body; a stalled body is answered
    /// `408`. Default 30 s.
    pub body_timeout: u64,
    /// How long an idle keep-alive connection is kept; it is then closed
    /// silently. Default 60 s.
    pub idle_timeout: u64,
    /// How long output may wait for the peer to read; then the connection
    /// is dropped. Default 30 s.
    pub write_timeout: u64,
    /// After the last response of a closing connection, how long to read
    /// and discard what the peer still sends, so that it receives the
    /// response rather than a reset. Default 2 s.
    pub linger_timeout: u64,
    /// Requests served on one connection; the last says
    /// `Connection: close`. Default 10,000.
    pub max_requests: u32,
    /// Requests handled per call before the connection yields to others
    /// ([`Connection::has_work`](crate::Connection::has_work)). Default 64.
    pub max_requests_per_wakeup: u32,
    /// Largest body read whole into memory (also bounded by the read
    /// buffer); larger ones are answered `413`. Default: the read buffer.
    pub max_body_len: u64,
    /// Longest request-target; longer ones are answered `414`. Default 8 KiB.
    pub max_target_len: usize,
    /// How long a WebSocket connection may go without traffic: a frame
    /// from the peer, or a message the application sends it (automatic
    /// Pings do not count); it is then closed with `1001`. Default 5
    /// minutes.
    pub websocket_idle_timeout: u64,
    /// Sends a Ping when the peer has been silent this long (0: never).
    /// Default 0.
    pub websocket_ping_interval: u64,
    /// What a WebSocket send does when the connection's write buffer (its
    /// outbound budget) is full: see [`Backpressure`]. Default
    /// [`Backpressure::Close`].
    pub websocket_backpressure: Backpressure,
    /// Whether WebSocket connections compress their messages
    /// (permessage-deflate, RFC 7692) when the client offers it, and how:
    /// see [`DeflatePolicy`]. Needs a [`Deflate`](crate::ws::Deflate) in
    /// [`Env::deflate`]. Default [`DeflatePolicy::Off`].
    pub websocket_deflate: DeflatePolicy,
    /// Messages shorter than this are sent uncompressed even when
    /// permessage-deflate was negotiated: the frame would hardly shrink,
    /// and the call costs more than the bytes. Default 64.
    pub websocket_deflate_min_len: u32,
    /// How long a streamed body may wait for the application after
    /// [`Fill::Pending`](crate::Fill::Pending) before the connection is
    /// closed (0: as long as it takes). Default 0.
    pub parked_stream_timeout: u64,
    /// Whether HTTP/2 is spoken with prior knowledge (h2c, RFC 9113
    /// §3.3): beside HTTP/1.1, a connection whose first bytes are the
    /// HTTP/2 client preface (`PRI * HTTP/2.0`) is handed over to HTTP/2
    /// ([`Connection::is_http2`](crate::Connection::is_http2)); on an
    /// HTTP/2-only port, any other first bytes are answered `505` and the
    /// connection closes. Only for a caller that then drives an
    /// [`h2::server::ServerConnection`](crate::h2::server::ServerConnection).
    /// The HTTP/1.1 `Upgrade: h2c` mechanism, deprecated by RFC 9113, is
    /// declined either way: such a request is served as HTTP/1.1.
    /// Default [`H2c::Off`].
    pub h2c: H2c,
}

impl Config {
    /// The defaults listed on each field.
    pub const DEFAULT: Config = Config {
        header_timeout: 10_000,
        body_timeout: 30_000,
        idle_timeout: 60_000,
        write_timeout: 30_000,
        linger_timeout: 2_000,
        max_requests: 10_000,
        max_requests_per_wakeup: 64,
        max_body_len: u64::MAX,
        max_target_len: crate::DEFAULT_MAX_TARGET_LEN,
        websocket_idle_timeout: 300_000,
        websocket_ping_interval: 0,
        websocket_backpressure: Backpressure::Close,
        websocket_deflate: DeflatePolicy::Off,
        websocket_deflate_min_len: 64,
        parked_stream_timeout: 0,
        h2c: H2c::Off,
    };
}

impl Config {
    /// The timeouts the frames a WebSocket connection sends start.
    #[inline]
    pub(crate) fn frame_timeouts(&self) -> FrameTimeouts {
        FrameTimeouts {
            write: self.write_timeout,
            linger: self.linger_timeout,
            idle: self.websocket_idle_timeout,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::DEFAULT
    }
}

/// The two buffers a connection works in while it has bytes in flight:
/// requests are read into `read` (heads and bodies stay there while they
/// are handled) and responses are written from `write`. Their sizes are
/// those of `Z` ([`Sizes::READ`] and [`Sizes::WRITE`]): arrays, whose
/// lengths are compile-time constants.
///
/// A backend keeps a pool of these, allocated once, and lends one to a
/// connection only while [`Connection::holds_buffers`](crate::Connection::holds_buffers) says it must: an
/// idle keep-alive connection holds none.
///
/// A pair is as large as its two buffers, often megabytes: make one on the
/// heap with `IoBuffers::boxed()` (feature `alloc`), not with
/// `Box::new(IoBuffers::new())`, which builds the pair on the stack first
/// (in an unoptimised build, a pair of 1 MiB overflows a 2 MiB thread
/// stack, the size of a tokio worker's).
pub struct IoBuffers<Z: Sizes = DefaultSizes> {
    /// Where requests are read into: `[u8; Z::READ]`.
    pub read: Z::ReadBuffer,
    /// Where responses are written from: `[u8; Z::WRITE]`.
    pub write: Z::WriteBuffer,
}

impl<Z: Sizes> IoBuffers<Z> {
    /// Zeroed buffers.
    pub const fn new() -> Self {
        IoBuffers {
            read: <Z::ReadBuffer as ByteArray>::ZEROED,
            write: <Z::WriteBuffer as ByteArray>::ZEROED,
        }
    }
}

#[cfg(feature = "alloc")]
impl<Z: Sizes> IoBuffers<Z> {
    /// Zeroed buffers on the heap, allocated there directly: nothing of
    /// their size is ever built on the stack, and the allocator zeroes
    /// them (so pages never touched cost no memory).
    ///
    /// ```
    /// use peregrine_core::{Capacity, IoBuffers};
    ///
    /// // 2 MiB: safe on any thread, in any build.
    /// let bufs = IoBuffers::<Capacity<{ 1 << 20 }, { 1 << 20 }>>::boxed();
    /// assert!(bufs.read.iter().chain(&bufs.write).all(|&byte| byte == 0));
    /// ```
    pub fn boxed() -> alloc::boxed::Box<Self> {
        use alloc::alloc::{Layout, alloc_zeroed, handle_alloc_error};
        use alloc::boxed::Box;
        let layout = Layout::new::<Self>();
        if layout.size() == 0 {
            // Both buffers empty: nothing to allocate. (Not `Box::new(Self::new())`:
            // an unoptimised build reserves the stack room for that value in
            // every call, whatever the size.)
            // SAFETY: a `Box` of a zero-sized type owns no memory; a
            // dangling, aligned, non-null pointer is its valid value, and
            // every (no) byte of `Self` is initialised.
            return unsafe { Box::from_raw(core::ptr::NonNull::<Self>::dangling().as_ptr()) };
        }
        // SAFETY: the layout's size is not zero (checked above).
        let ptr = unsafe { alloc_zeroed(layout) }.cast::<Self>();
        if ptr.is_null() {
            handle_alloc_error(layout);
        }
        // SAFETY: `ptr` is a fresh allocation from the global allocator
        // with the layout of `Self`, as `Box<Self>` requires, and it is
        // initialised: `Self` is two `u8` arrays (`ByteArray` is
        // implemented by those only), for which all-zero bytes are a valid
        // value.
        unsafe { Box::from_raw(ptr) }
    }
}

impl<Z: Sizes> Default for IoBuffers<Z> {
    fn default() -> Self {
        Self::new()
    }
}

/// What the caller gives a connection each time it drives it.
pub struct Env<'e, H, L> {
    /// The application.
    pub handler: &'e H,
    /// The worker's state for the handler.
    pub local: &'e mut L,
    /// The worker's cached `Date` line, if responses should carry one.
    pub date: Option<&'e DateCache>,
    /// The current time, in milliseconds of a monotonic clock.
    pub now: u64,
    /// Where the connection counts what it does, usually the worker's
    /// totals: adding there as it happens costs nothing per request beyond
    /// the additions themselves.
    pub counters: &'e mut Counters,
    /// The DEFLATE coder for WebSocket connections that negotiate
    /// permessage-deflate ([`Config::websocket_deflate`]); `None`: none
    /// does.
    pub deflate: Option<&'e mut dyn Deflate>,
    /// What owns the files of [kept](crate::FileRegion::kept) file
    /// regions, if the caller sends owned files: the connection gives each
    /// kept region back to it once its response is done with it. `None`
    /// for a caller that only sends borrowed regions, or no files.
    pub files: Option<&'e mut dyn FileKeeper>,
    /// Where bodies written with
    /// [`Response::writer`](crate::Response::writer) continue once they
    /// outgrow the write buffer (see [`spill`](crate::spill)): the
    /// connection gives each block back once it is sent, or when it is
    /// retired. `None`: such a body is answered `500`.
    pub spill: Option<&'e mut dyn Spill>,
}

impl<'e, H, L> Env<'e, H, L> {
    /// The environment of a call at `now`, with no `Date` line, no file
    /// keeper and no spill (set [`date`](Self::date),
    /// [`files`](Self::files) and [`spill`](Self::spill) after, if the
    /// caller has them).
    pub fn new(handler: &'e H, local: &'e mut L, now: u64, counters: &'e mut Counters) -> Self {
        Env {
            handler,
            local,
            date: None,
            now,
            counters,
            files: None,
            spill: None,
            deflate: None,
        }
    }
}

/// Which readiness a connection waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Interest {
    /// Wants to read.
    pub read: bool,
    /// Has output to write.
    pub write: bool,
}

/// Whether a plaintext connection may speak HTTP/2 with prior knowledge
/// (h2c, RFC 9113 §3.3): see [`Config::h2c`].
///
/// ```
/// use peregrine_core::{Config, H2c};
///
/// // A port that serves both: HTTP/2 to the clients that open with its
/// // preface, HTTP/1.1 to the others.
/// let config = Config { h2c: H2c::Beside, ..Config::DEFAULT };
/// assert_ne!(config.h2c, Config::DEFAULT.h2c);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum H2c {
    /// HTTP/1.1 only: the preface is a malformed request (`400`).
    #[default]
    Off,
    /// HTTP/2 to the clients that open with its preface, HTTP/1.1 to the
    /// others.
    Beside,
    /// HTTP/2 only: a client that opens with anything but the preface is
    /// answered `505 HTTP Version Not Supported`, and the connection
    /// closes.
    Only,
}

/// Whether and how WebSocket connections compress their messages
/// (permessage-deflate, RFC 7692); see [`Config::websocket_deflate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum DeflatePolicy {
    /// Never negotiated: the extension is ignored. The default.
    #[default]
    Off,
    /// Negotiated without context takeover both ways: each message is
    /// compressed and decompressed on its own, so one compressor and one
    /// decompressor per worker serve every connection, and a connection
    /// costs nothing more.
    NoContextTakeover,
    /// Context takeover allowed, for better ratios on streams of similar
    /// messages: a connection whose client keeps its context takes a
    /// compressor and decompressor of its own from a pool of `contexts`
    /// per worker (about 300 KiB each), made as first needed and kept. A
    /// connection that finds the pool empty goes uncompressed
    /// ([`Counters::deflate_contexts_exhausted`]).
    ContextTakeover {
        /// The states each worker may hold.
        contexts: u16,
    },
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::IoBuffers;
    use crate::Capacity;

    #[test]
    fn boxed_buffers_never_touch_the_stack() {
        // 16 MiB of buffers from a thread with 64 KiB of stack: built on
        // the stack first, they would overflow it many times over.
        let thread = std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(|| {
                let mut bufs = IoBuffers::<Capacity<{ 8 << 20 }, { 8 << 20 }>>::boxed();
                assert!(bufs.read.iter().chain(&bufs.write).all(|&byte| byte == 0));
                bufs.write[(8 << 20) - 1] = 7;
                bufs.read[0] = 1;
                (bufs.read[0], bufs.write[(8 << 20) - 1])
            })
            .expect("spawn a small-stack thread");
        assert_eq!(thread.join().expect("no overflow"), (1, 7));
    }

    #[test]
    fn boxed_buffers_of_no_size_allocate_nothing() {
        let bufs = IoBuffers::<Capacity<0, 0>>::boxed();
        assert!(bufs.read.is_empty() && bufs.write.is_empty());
    }
}
