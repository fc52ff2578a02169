//! The backend side of scripted conversations with the connection
//! machine: bytes in, bytes out, no sockets.
//!
//! [`Driver`] plays the backend. Input *arrives* ([`Driver::arrive`]) into
//! a simulated socket receive queue and is read from there only while the
//! connection wants to read, as a real backend would; writes make the
//! progress a schedule allows; the clock is the test's. After every step
//! the driver checks the invariants a backend relies on.
//!
//! [`converse`] runs one script under every schedule that matters (two
//! reads split at every byte, one byte per read, everything coalesced,
//! 1-byte write progress, buffers scribbled over while idle) and asserts
//! they all give the same bytes out and end in the same state.
#![allow(dead_code)]

pub mod h2;

use std::collections::VecDeque;

use peregrine_core::spill::SpillArea;
use peregrine_core::{
    BodyPolicy, Capacity, Config, Connection, Counters, Env, FileKeeper, FileRegion, Fill,
    Finished, Handler, IoBuffers, Request, Response, Sizes, StatusCode, Transmit,
};

/// Small buffers, so limits are reached with small inputs.
pub const READ: usize = 1024;
/// See [`READ`].
pub const WRITE: usize = 2048;
/// Header table capacity of the small connection.
pub const MAX_HEADERS: usize = 16;

/// The sizes of the connection most conversations use.
pub type Small = Capacity<READ, WRITE, MAX_HEADERS>;
/// The connection most conversations use.
pub type Conn = Connection<Small>;
/// Its buffers.
pub type Bufs = IoBuffers<Small>;

/// Buffers big enough to take a hundred pipelined requests in one read
/// and answer them in one write.
pub type BigDriver = Driver<Echo, Local, Capacity<16384, 16384, 16>>;

/// The worker state of [`Echo`]: what it observed.
#[derive(Debug, Default)]
pub struct Local {
    /// Body bytes handed to `body_chunk` for the request in progress.
    pub streamed: Vec<u8>,
    /// Calls of `body_chunk` over the connection's life.
    pub chunks: usize,
    /// Calls of `handle` over the connection's life.
    pub handled: usize,
    /// The ends `finished` reported, in order: tag and outcome.
    pub ended: Vec<(u64, peregrine_core::Outcome)>,
}

/// The file keeper of the simulated files: what was given back.
#[derive(Debug, Default)]
pub struct Keeper {
    /// The regions released, in order.
    pub released: Vec<FileRegion>,
}

impl FileKeeper for Keeper {
    fn release(&mut self, region: FileRegion) {
        assert!(region.is_kept(), "a borrowed region was released");
        self.released.push(region);
    }

    fn as_any(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

/// The bytes of the simulated file `handle` from `offset` on: a pattern
/// that shifts with the position, so a misplaced byte shows.
pub fn file_bytes(handle: u64, offset: u64, len: u64) -> Vec<u8> {
    (offset..offset + len)
        .map(|i| b'A' + ((handle + i) % 26) as u8)
        .collect()
}

/// The `i`th byte of a generated (streamed) response body.
pub fn gen_byte(i: u64) -> u8 {
    b'0' + (i % 10) as u8
}

/// A generated body of `len` bytes.
pub fn gen_body(len: u64) -> Vec<u8> {
    (0..len).map(gen_byte).collect()
}

/// Longest body `/in` echoes as it is; longer ones are summarised.
pub const ECHO_STREAMED_MAX: usize = 256;

/// What `/in` answers for a streamed body: the body itself, or its length
/// and FNV-1a hash when it is long.
pub fn streamed_summary(body: &[u8]) -> Vec<u8> {
    if body.len() <= ECHO_STREAMED_MAX {
        return body.to_vec();
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in body {
        hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{} bytes, fnv1a {hash:016x}", body.len()).into_bytes()
}

/// The body of `/long-static`: longer than the static bodies a response
/// copies after its head.
pub static LONG_STATIC: [u8; 300] = [b'L'; 300];

/// Marks the tag of a `/stream` response.
const ABC: u64 = 1 << 63;

/// The tag of `/feed`: a stream whose handler never has anything ready;
/// all of its body comes from publications to [`FEED_TOPIC`].
pub const FEED: u64 = 1 << 60;

/// The topic `/feed` subscribes to.
pub const FEED_TOPIC: u64 = 5;

/// The tag of a stream of `pieces` pieces of `abc`, as `/stream` uses.
pub fn stream_tag(pieces: u64) -> u64 {
    ABC | pieces
}

/// The tag of `/parked`: waits for a wake-up before its one piece.
const PARKED: u64 = 1 << 62;

/// The tag of `/parked` once it has parked.
const PARKED_ONCE: u64 = PARKED | 1;

/// The tag of `/abort`: one piece, then the application fails.
const ABORTING: u64 = 1 << 61;

/// The tag of `/defer`: a plain number, which `fill_body` never sees
/// unless the answer streams.
pub const DEFERRED: u64 = 77;

/// Packs the state of a generated stream into a response tag.
fn pack(remaining: u64, piece: u64, produced: u64) -> u64 {
    remaining | piece << 24 | produced << 40
}

/// Unpacks [`pack`].
fn unpack(tag: u64) -> (u64, u64, u64) {
    (tag & 0xff_ffff, tag >> 24 & 0xffff, tag >> 40)
}

/// The numbers in the path segments after the first two, e.g.
/// `/gen/length/10/3` → `[10, 3]`.
fn numbers(path: &[u8]) -> Vec<u64> {
    std::str::from_utf8(path)
        .unwrap()
        .split('/')
        .skip(3)
        .map(|n| n.parse().unwrap())
        .collect()
}

/// The handler of scripted conversations; what it does is chosen by path:
///
/// - `/` — `Hello, World!` (a static body, short enough to be copied);
/// - `/long-static` — [`LONG_STATIC`], a static body too long to be
///   copied, which goes out as a piece of its own;
/// - `/echo` — the request body, read whole;
/// - `/in` — the request body, streamed through `body_chunk` and echoed
///   (summarised when long, see [`streamed_summary`]);
/// - `/stream` — three chunks of `abc`;
/// - `/parked` — a chunked body that waits for a wake-up
///   ([`Fill::Pending`]), then is `late`;
/// - `/abort` — a chunked body of `abc`, then [`Fill::Abort`];
/// - `/gen/{chunked,length,short,close}/<total>/<piece>` — a streamed
///   body of [`gen_body`]`(total)` produced `piece` bytes at a time;
///   `length` announces its length, `short` announces `total` but ends
///   after half of it, `close` is `length` plus `Connection: close`;
/// - `/file/<handle>/<offset>/<len>` — a file region;
/// - `/kept/<handle>/<offset>/<len>` — the same, kept by the driver's
///   [`Keeper`];
/// - `/close` — `bye`, and the connection closes;
/// - `/feed` — a chunked stream subscribed to [`FEED_TOPIC`], whose
///   handler never has anything of its own; `/feed-length` — the same,
///   announcing 4 bytes;
/// - `/defer` — deferred ([`Response::defer`]) with the tag
///   [`DEFERRED`]; `/defer-untagged` — the same with no tag;
/// - `/status/<code>` — that status, with the body `ignored`;
/// - `/upgrade` — `101 Switching Protocols`, and a hijack;
/// - `/big/<n>` — a copied body of `n` bytes (`500` if it does not fit);
/// - `/fat/<n>` — a header of `n` bytes, then a static body;
/// - anything else — `404`, body ignored (`BodyPolicy::Ignore`).
pub struct Echo;

impl Handler<Local> for Echo {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_, Local>) {
        response.local().handled += 1;
        let path = request.path();
        match path {
            b"/" => response.body_static(b"Hello, World!"),
            b"/long-static" => response.body_static(&LONG_STATIC),
            b"/echo" => response.body(request.body()).unwrap(),
            b"/in" => {
                let body = std::mem::take(&mut response.local().streamed);
                response.body(&streamed_summary(&body)).unwrap();
            }
            b"/stream" => {
                response.set_tag(ABC | 3);
                response.stream(None);
            }
            b"/parked" => {
                response.set_tag(PARKED);
                response.stream(None);
            }
            b"/defer" => {
                response.set_tag(DEFERRED);
                response.defer();
            }
            b"/defer-untagged" => response.defer(),
            b"/feed" => {
                response.set_tag(FEED);
                response.stream(None);
                response.subscribe(FEED_TOPIC);
            }
            b"/feed-length" => {
                response.set_tag(FEED);
                response.stream(Some(4));
                response.subscribe(FEED_TOPIC);
            }
            b"/abandon" => {
                response.header("X-Begun", b"yes").unwrap();
                response.abandon();
            }
            b"/abort" => {
                response.set_tag(ABORTING);
                response.stream(None);
            }
            b"/close" => {
                response.close().body(b"bye").unwrap();
            }
            b"/upgrade" => {
                response
                    .status(StatusCode::SWITCHING_PROTOCOLS)
                    .header("Upgrade", b"echo")
                    .unwrap();
                response.hijack();
            }
            _ if path.starts_with(b"/gen/") => {
                let n = numbers(path);
                let (total, piece) = (n[0], n[1]);
                let kind = path.split(|&b| b == b'/').nth(2).unwrap();
                let produce = if kind == b"short" { total / 2 } else { total };
                response.set_tag(pack(produce, piece, 0));
                if kind == b"close" {
                    response.close();
                }
                response.stream((kind != b"chunked").then_some(total));
            }
            _ if path.starts_with(b"/file/") => {
                let n = numbers(&[b"/x", path].concat());
                response.send_file_region(
                    // SAFETY: the region names no real file: the fake peer makes up its bytes.
                    unsafe { FileRegion::borrowed(n[0], n[1], n[2]) },
                );
            }
            _ if path.starts_with(b"/kept/") => {
                let n = numbers(&[b"/x", path].concat());
                // SAFETY: a simulated file: the driver makes up its bytes.
                let region = unsafe { FileRegion::kept(n[0], n[1], n[2]) };
                response.send_file_region(region);
            }
            _ if path.starts_with(b"/status/") => {
                let code = numbers(&[b"/x", path].concat())[0] as u16;
                response.status(StatusCode::new(code).unwrap());
                response.body(b"ignored").unwrap();
            }
            _ if path.starts_with(b"/fat/") => {
                // A head that fills the buffer: the framing fields no
                // longer fit.
                let n = numbers(&[b"/x", path].concat())[0] as usize;
                response.header("X-Fat", vec![b'f'; n]).unwrap();
                response.body_static(b"lost");
            }
            _ if path.starts_with(b"/big/") => {
                let n = numbers(&[b"/x", path].concat())[0] as usize;
                if response.body(&vec![b'x'; n]).is_err() {
                    response.status(StatusCode::INTERNAL_SERVER_ERROR);
                    response.body_static(b"no room");
                }
            }
            _ => {
                response.status(StatusCode::NOT_FOUND);
            }
        }
    }

    fn body_policy(&self, request: &Request<'_>) -> BodyPolicy {
        match request.path() {
            b"/echo" => BodyPolicy::Buffer,
            b"/in" => BodyPolicy::Stream,
            path if path.starts_with(b"/big/") => BodyPolicy::Buffer,
            _ => BodyPolicy::Ignore,
        }
    }

    fn finished(&self, finished: Finished, local: &mut Local) {
        local.ended.push((finished.tag, finished.outcome));
    }

    fn body_chunk(&self, _: &Request<'_>, chunk: &[u8], tag: &mut u64, local: &mut Local) {
        assert!(!chunk.is_empty(), "body_chunk called with no bytes");
        local.streamed.extend_from_slice(chunk);
        local.chunks += 1;
        *tag += 1;
    }

    fn fill_body(&self, tag: &mut u64, buf: &mut [u8], _: &mut Local) -> Fill {
        match *tag {
            PARKED => {
                *tag = PARKED_ONCE;
                return Fill::Pending;
            }
            PARKED_ONCE => {
                buf[..4].copy_from_slice(b"late");
                return Fill::Done(4);
            }
            ABORTING => {
                *tag += 1;
                buf[..3].copy_from_slice(b"abc");
                return Fill::More(3);
            }
            tag if tag == ABORTING + 1 => return Fill::Abort,
            FEED => return Fill::Pending,
            _ => {}
        }
        if *tag & ABC != 0 {
            // `/stream`: pieces of "abc", counted down in the low bits.
            buf[..3].copy_from_slice(b"abc");
            *tag -= 1;
            return if *tag == ABC {
                Fill::Done(3)
            } else {
                Fill::More(3)
            };
        }
        let (remaining, piece, produced) = unpack(*tag);
        let n = remaining.min(piece).min(buf.len() as u64);
        for (i, b) in buf[..n as usize].iter_mut().enumerate() {
            *b = gen_byte(produced + i as u64);
        }
        *tag = pack(remaining - n, piece, produced + n);
        if remaining == n {
            Fill::Done(n as usize)
        } else {
            Fill::More(n as usize)
        }
    }
}

/// One step of a script.
#[derive(Clone, Copy, Debug)]
pub enum Step<'a> {
    /// These bytes arrive from the peer.
    Send(&'a [u8]),
    /// The peer shuts its write side (after what it sent).
    Eof,
    /// The clock moves on this many milliseconds.
    Advance(u64),
    /// The application wakes a parked stream.
    Wake,
}

/// Something the driver did, for assertions about batching.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A read of this many bytes.
    Read(usize),
    /// The end of input was reported.
    ReadClosed,
    /// A write: `offered` bytes in `slices` slices, `written` of them out.
    Write {
        offered: usize,
        slices: usize,
        written: usize,
    },
    /// A `sendfile` of `region`, `written` bytes out.
    SendFile { region: FileRegion, written: usize },
    /// The write side was shut.
    CloseWrite,
    /// `poll` was called for left-over work.
    Poll,
    /// `handle_timeout` at this time.
    Timeout(u64),
}

/// What a conversation ended with, compared across schedules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub out: String,
    pub write_closed: bool,
    pub closed: bool,
    pub hijacked: bool,
    /// After a hijack: the bytes read past the request, then those not
    /// read at all — together, everything after the request.
    pub unread: Vec<u8>,
}

/// The environment of a call into the driver's connection: its handler,
/// state, clock, counters, file keeper and spill (a macro, so that it
/// borrows the driver's fields, not the whole driver, beside its
/// connection).
macro_rules! driver_env {
    ($driver:expr) => {
        &mut Env {
            handler: &$driver.handler,
            local: &mut $driver.local,
            date: None,
            now: $driver.now,
            counters: &mut $driver.counters,
            files: Some(&mut $driver.keeper),
            spill: Some(&mut $driver.spill),
            deflate: None,
        }
    };
}

/// Plays the backend for one connection.
pub struct Driver<H = Echo, L = Local, Z: Sizes = Small> {
    pub conn: Connection<Z>,
    pub bufs: Box<IoBuffers<Z>>,
    pub handler: H,
    pub local: L,
    /// The clock, in milliseconds.
    pub now: u64,
    /// Everything written to the peer.
    pub out: Vec<u8>,
    /// Arrived but not read (the socket's receive queue).
    pub pending: VecDeque<u8>,
    /// The peer shut its write side; reported once `pending` is read.
    pub eof: bool,
    /// `handle_read_closed` was called.
    pub eof_reported: bool,
    /// Bytes each write may move, in turn (cycled); 0 means the write
    /// would block (the peer does not read).
    pub write_plan: Vec<usize>,
    write_turn: usize,
    /// Writes between reads; `usize::MAX` drains the output before
    /// reading again.
    pub writes_per_round: usize,
    /// Slices offered to `transmit`.
    pub slices: usize,
    /// Overwrite both buffers whenever the connection says it holds none,
    /// as a backend that lends them to other connections would, and
    /// suspend it whenever it is idle, resuming it into the connection
    /// it last left (`spare`), as a backend that keeps idle connections
    /// small would.
    pub scribble_idle: bool,
    /// The connection last suspended out of, resumed into next time.
    spare: Connection<Z>,
    /// Times the connection was suspended and resumed.
    pub suspensions: usize,
    /// `Transmit::CloseWrite` was acted on.
    pub write_closed: bool,
    /// Writes whose output was one slice (`Slices::single`).
    pub single_slice_writes: usize,
    /// What the connection counted.
    pub counters: Counters,
    /// What happened, in order.
    pub log: Vec<Event>,
    /// What kept the simulated files.
    pub keeper: Keeper,
    /// Where written bodies that outgrow the write buffer continue.
    pub spill: SpillArea<Vec<u8>>,
}

/// The spill every driver lends its connection: 64 blocks of 256 bytes.
pub const SPILL_BLOCKS: usize = 64;
/// See [`SPILL_BLOCKS`].
pub const SPILL_BLOCK: usize = 256;

impl Driver {
    /// The small connection with the default configuration.
    pub fn new() -> Self {
        Self::with_config(Config::DEFAULT)
    }

    /// The small connection with `config`.
    pub fn with_config(config: Config) -> Self {
        Driver::build(Echo, config)
    }
}

impl BigDriver {
    /// The big connection with `config`.
    pub fn big(config: Config) -> Self {
        Driver::build(Echo, config)
    }
}

impl<H: Handler<L>, L: Default, Z: Sizes> Driver<H, L, Z> {
    /// A driver for a connection accepted at time 0.
    pub fn build(handler: H, config: Config) -> Self {
        Driver {
            conn: Connection::new(config, None, 0),
            bufs: Box::new(IoBuffers::new()),
            handler,
            local: L::default(),
            now: 0,
            out: Vec::new(),
            pending: VecDeque::new(),
            eof: false,
            eof_reported: false,
            write_plan: vec![usize::MAX],
            write_turn: 0,
            writes_per_round: usize::MAX,
            slices: 64,
            scribble_idle: false,
            spare: Connection::new(config, None, 0),
            suspensions: 0,
            write_closed: false,
            single_slice_writes: 0,
            counters: Counters::default(),
            log: Vec::new(),
            keeper: Keeper::default(),
            spill: SpillArea::new(vec![0; SPILL_BLOCKS * SPILL_BLOCK], SPILL_BLOCK),
        }
    }

    /// Bytes arrive from the peer; the driver reads and writes until
    /// nothing more can happen.
    pub fn arrive(&mut self, bytes: &[u8]) {
        self.pending.extend(bytes);
        self.pump();
    }

    /// Delivers `input` in arrivals of `step` bytes.
    pub fn feed(&mut self, input: &[u8], step: usize) {
        for piece in input.chunks(step.max(1)) {
            self.arrive(piece);
        }
        if input.is_empty() {
            self.pump();
        }
    }

    /// The peer shuts its write side.
    pub fn close_read(&mut self) {
        self.eof = true;
        self.pump();
    }

    /// The application answers a deferred response with `answer`; whether
    /// one was waiting.
    pub fn answer(&mut self, answer: impl FnOnce(&mut Response<'_, L>)) -> bool {
        let waiting = self
            .conn
            .handle_answer(&mut self.bufs, driver_env!(self), answer);
        self.pump();
        waiting
    }

    /// The application publishes `bytes` to `topic`.
    pub fn publish(
        &mut self,
        topic: u64,
        bytes: &[u8],
    ) -> Result<(), peregrine_core::PublishError> {
        let published = self
            .conn
            .handle_publish(&mut self.bufs, topic, bytes, self.now);
        self.pump();
        published
    }

    /// The backend drops the connection (`Connection::retire`).
    pub fn retire(&mut self) {
        self.conn.retire(driver_env!(self));
    }

    /// The application wakes a parked stream.
    pub fn wake(&mut self) {
        self.conn.handle_wake(self.now);
        self.pump();
    }

    /// Moves the clock on by `ms`, handling every deadline passed on the
    /// way at its exact time.
    pub fn advance(&mut self, ms: u64) {
        let target = self.now + ms;
        for _ in 0..1000 {
            match self.conn.poll_timeout() {
                Some(deadline) if deadline <= target => {
                    self.now = self.now.max(deadline);
                    // Fires the deadline, as a backend's timer would.
                    self.pump();
                }
                _ => {
                    self.now = target;
                    return;
                }
            }
        }
        panic!("deadlines never settled");
    }

    /// Reads, writes and polls until nothing more can happen; then, if
    /// the deadline is due, calls `handle_timeout` and goes on, as a backend
    /// whose timer fires at once. (A deadline can fall due while masked by
    /// another: a partial head's behind output the peer did not read.)
    pub fn pump(&mut self) {
        for _ in 0..1_000_000 {
            let mut progress = false;
            let mut writes = 0;
            while writes < self.writes_per_round && self.write_once() {
                progress = true;
                writes += 1;
            }
            if self.conn.has_work() {
                self.conn.poll(&mut self.bufs, driver_env!(self));
                self.log.push(Event::Poll);
                progress = true;
            }
            progress |= self.read_once();
            if !progress && self.conn.poll_timeout().is_some_and(|d| d <= self.now) {
                self.conn.handle_timeout(&mut self.bufs, driver_env!(self));
                self.log.push(Event::Timeout(self.now));
                let deadline = self.conn.poll_timeout();
                assert!(
                    deadline.is_none_or(|d| d > self.now),
                    "handle_timeout at {} leaves the deadline due: {deadline:?}",
                    self.now
                );
                progress = true;
            }
            self.check();
            if !progress {
                return;
            }
        }
        panic!("the connection never settled");
    }

    /// One read, if the connection wants one and input is waiting; the
    /// end of input once everything before it was read.
    pub fn read_once(&mut self) -> bool {
        if !self.conn.interest().read {
            return false;
        }
        if self.pending.is_empty() {
            if self.eof && !self.eof_reported {
                self.eof_reported = true;
                self.conn.handle_read_closed(driver_env!(self));
                self.log.push(Event::ReadClosed);
                return true;
            }
            return false;
        }
        self.scribble();
        let space = self.conn.read_buf(&mut self.bufs);
        assert!(
            !space.is_empty(),
            "read_buf is empty but interest says read"
        );
        let n = space.len().min(self.pending.len());
        for (dst, src) in space.iter_mut().zip(self.pending.drain(..n)) {
            *dst = src;
        }
        self.log.push(Event::Read(n));
        self.conn.handle_read(n, &mut self.bufs, driver_env!(self));
        true
    }

    /// One write (or `sendfile`, or shutdown), if there is output and the
    /// peer takes some.
    pub fn write_once(&mut self) -> bool {
        if self.conn.is_closed() || self.conn.is_hijacked() {
            return false;
        }
        let limit = self.slices;
        let written = match self.conn.poll_transmit(&self.bufs) {
            Transmit::Idle => return false,
            Transmit::Write(slices) => {
                if let Some(single) = slices.single() {
                    // The one-slice shortcut offers exactly what the
                    // iterator would.
                    let all: Vec<&[u8]> = slices.clone().collect();
                    assert_eq!(all, [single], "`single` disagrees with the slices");
                }
                self.single_slice_writes += usize::from(slices.single().is_some());
                // A vectored write takes at most `limit` slices.
                let slices: Vec<&[u8]> = slices.take(limit).collect();
                let offered: usize = slices.iter().map(|s| s.len()).sum();
                assert!(offered > 0, "an empty write was offered");
                let Some(budget) = take_budget(&self.write_plan, &mut self.write_turn) else {
                    return false;
                };
                let mut left = budget;
                for slice in &slices {
                    let take = slice.len().min(left);
                    self.out.extend_from_slice(&slice[..take]);
                    left -= take;
                }
                let written = budget.min(offered);
                self.log.push(Event::Write {
                    offered,
                    slices: slices.len(),
                    written,
                });
                written
            }
            Transmit::SendFile(region) => {
                assert!(region.len() > 0, "an empty sendfile was offered");
                let Some(budget) = take_budget(&self.write_plan, &mut self.write_turn) else {
                    return false;
                };
                let written = region.len().min(budget as u64);
                self.out
                    .extend(file_bytes(region.handle(), region.offset(), written));
                self.log.push(Event::SendFile {
                    region,
                    written: written as usize,
                });
                written as usize
            }
            Transmit::CloseWrite => {
                assert!(!self.write_closed, "CloseWrite asked for twice");
                self.write_closed = true;
                self.log.push(Event::CloseWrite);
                self.conn.handle_write_closed(driver_env!(self));
                return true;
            }
        };
        self.conn
            .handle_written(written, &mut self.bufs, driver_env!(self));
        true
    }

    /// Overwrites both buffers if the connection says it holds none, and
    /// suspends it if it is idle, resuming it into another connection.
    fn scribble(&mut self) {
        if self.scribble_idle && !self.conn.holds_buffers() {
            self.bufs.read[..].fill(0xa5);
            self.bufs.write[..].fill(0x5a);
            let deadline = self.conn.poll_timeout();
            if let Some(suspended) = self.conn.suspend() {
                assert!(self.conn.is_closed());
                assert_eq!(Some(suspended.poll_timeout()), deadline);
                let id = self.conn.id();
                core::mem::swap(&mut self.conn, &mut self.spare);
                self.conn.resume(suspended, id);
                assert_eq!(self.conn.poll_timeout(), deadline);
                self.suspensions += 1;
            }
        }
    }

    /// The invariants a backend relies on.
    pub fn check(&mut self) {
        let conn = &self.conn;
        if conn.is_closed() {
            assert_eq!(conn.interest(), Default::default(), "closed but interested");
            assert_eq!(
                conn.poll_timeout(),
                None,
                "closed but waiting for a deadline"
            );
            return;
        }
        if conn.is_hijacked() {
            assert_eq!(
                conn.poll_timeout(),
                None,
                "hijacked but waiting for a deadline"
            );
            return;
        }
        let interest = conn.interest();
        let transmit = conn.poll_transmit(&self.bufs);
        assert_eq!(
            interest.write,
            !matches!(transmit, Transmit::Idle),
            "interest.write disagrees with transmit: {transmit:?}"
        );
        assert!(
            interest.read || interest.write || conn.has_work() || conn.poll_timeout().is_some(),
            "the connection waits for nothing"
        );
        // Stronger: a connection that is neither closed nor handed over
        // always waits for the socket or has work; waiting only for a
        // timer is a stall (closing states read or write too).
        assert!(
            interest.read || interest.write || conn.has_work(),
            "the connection waits only for its deadline, {:?}",
            conn.poll_timeout()
        );
        self.scribble();
    }

    /// Everything written, as text.
    pub fn output(&self) -> &str {
        std::str::from_utf8(&self.out).unwrap()
    }

    /// The end state, for comparing schedules.
    pub fn outcome(&self) -> Outcome {
        let mut unread = Vec::new();
        if self.conn.is_hijacked() {
            unread.extend_from_slice(self.conn.leftover(&self.bufs));
            unread.extend(self.pending.iter());
        }
        Outcome {
            out: String::from_utf8_lossy(&self.out).into_owned(),
            write_closed: self.write_closed,
            closed: self.conn.is_closed(),
            hijacked: self.conn.is_hijacked(),
            unread,
        }
    }

    /// The bytes offered by each `Transmit::Write`.
    pub fn writes_offered(&self) -> Vec<usize> {
        self.log
            .iter()
            .filter_map(|e| match e {
                Event::Write { offered, .. } => Some(*offered),
                _ => None,
            })
            .collect()
    }

    /// Runs `script`.
    pub fn run(&mut self, script: &[Step<'_>]) {
        for step in script {
            match *step {
                Step::Send(bytes) => self.arrive(bytes),
                Step::Eof => self.close_read(),
                Step::Advance(ms) => self.advance(ms),
                Step::Wake => self.wake(),
            }
        }
    }
}

/// The next write's budget from `plan`, or `None` if the write would
/// block (which does not use up a turn: the peer never reads again).
fn take_budget(plan: &[usize], turn: &mut usize) -> Option<usize> {
    let budget = plan[*turn % plan.len()];
    if budget == 0 {
        return None;
    }
    *turn += 1;
    Some(budget)
}

/// How a schedule delivers each `Send`: the sizes of its arrivals.
type Splitter<'s> = &'s dyn Fn(usize, usize) -> Vec<usize>;

/// Runs `script` on a fresh driver with the given schedule.
fn run_with<H: Handler<L>, L: Default, Z: Sizes>(
    make: &dyn Fn() -> Driver<H, L, Z>,
    script: &[Step<'_>],
    split: Splitter<'_>,
    tune: &dyn Fn(&mut Driver<H, L, Z>),
) -> Driver<H, L, Z> {
    let mut driver = make();
    tune(&mut driver);
    let mut offset = 0;
    for step in script {
        match *step {
            Step::Send(bytes) => {
                let mut rest = bytes;
                for size in split(offset, bytes.len()) {
                    let (now, later) = rest.split_at(size);
                    driver.arrive(now);
                    rest = later;
                }
                assert!(rest.is_empty());
                offset += bytes.len();
            }
            Step::Eof => driver.close_read(),
            Step::Advance(ms) => driver.advance(ms),
            Step::Wake => driver.wake(),
        }
    }
    driver
}

/// Runs `script` under every schedule and asserts the same outcome;
/// returns the driver of the first (each `Send` in one arrival, writes
/// unbounded).
///
/// Schedules: each `Send` whole (coalesced); the whole input split into
/// two arrivals at every byte position; one byte per arrival; arrivals of
/// 2..=7 bytes; and, with writes of 1 byte, both interleaved with reads
/// and drained before them: coalesced and one byte per arrival; and one
/// byte per arrival with one slice offered per write, and with the buffers
/// scribbled over whenever the connection holds none.
pub fn converse_with<H: Handler<L>, L: Default, Z: Sizes>(
    make: &dyn Fn() -> Driver<H, L, Z>,
    script: &[Step<'_>],
) -> Driver<H, L, Z> {
    let total: usize = script
        .iter()
        .map(|s| match s {
            Step::Send(b) => b.len(),
            _ => 0,
        })
        .sum();
    let whole = |_: usize, len: usize| if len == 0 { vec![] } else { vec![len] };
    let bytes = |_: usize, len: usize| vec![1; len];
    let same = |_: &mut Driver<H, L, Z>| {};
    let slow_writes = |d: &mut Driver<H, L, Z>| d.write_plan = vec![1];
    let slow_interleaved = |d: &mut Driver<H, L, Z>| {
        d.write_plan = vec![1];
        d.writes_per_round = 1;
    };
    let scribbled = |d: &mut Driver<H, L, Z>| d.scribble_idle = true;

    let baseline = run_with(make, script, &whole, &same);
    let expected = baseline.outcome();
    let check = |label: &str, driver: Driver<H, L, Z>| {
        let outcome = driver.outcome();
        assert_eq!(
            outcome, expected,
            "schedule {label} differs from the coalesced one"
        );
    };

    for cut in 1..total {
        let split = move |offset: usize, len: usize| {
            if cut > offset && cut < offset + len {
                vec![cut - offset, len - (cut - offset)]
            } else {
                whole(offset, len)
            }
        };
        check(
            &format!("two reads cut at {cut}"),
            run_with(make, script, &split, &same),
        );
    }
    check("one byte per read", run_with(make, script, &bytes, &same));
    for step in 2..=7 {
        let pieces = move |_: usize, len: usize| {
            let mut v = vec![step; len / step];
            if len % step > 0 {
                v.push(len % step);
            }
            v
        };
        check(
            &format!("reads of {step}, writes of 5"),
            run_with(make, script, &pieces, &|d| d.write_plan = vec![5]),
        );
    }
    check(
        "coalesced, 1-byte writes",
        run_with(make, script, &whole, &slow_writes),
    );
    check(
        "coalesced, 1-byte writes between reads",
        run_with(make, script, &whole, &slow_interleaved),
    );
    check(
        "one byte per read, 1-byte writes",
        run_with(make, script, &bytes, &slow_writes),
    );
    check(
        "one byte per read, 1-byte writes between reads",
        run_with(make, script, &bytes, &slow_interleaved),
    );
    check(
        "one byte per read, one slice per write",
        run_with(make, script, &bytes, &|d| d.slices = 1),
    );
    check(
        "one byte per read, idle buffers scribbled, idle connection suspended",
        run_with(make, script, &bytes, &scribbled),
    );
    baseline
}

/// [`converse_with`] on the small connection with the default
/// configuration, for one arrival of `input`.
pub fn converse(input: &[u8]) -> Driver {
    converse_with(&Driver::new, &[Step::Send(input)])
}

/// [`converse_with`] on the small connection with the default
/// configuration.
pub fn converse_script(script: &[Step<'_>]) -> Driver {
    converse_with(&Driver::new, script)
}

/// The exact error response the connection sends for `status` with the
/// reason `reason`.
pub fn error_response(status: &str, reason: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\
         Content-Length: {}\r\n\r\n{reason}\n",
        reason.len() + 1
    )
}
