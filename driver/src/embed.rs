//! One connection driven by a runtime of one's own (tokio, async-std, a
//! game loop): the core's [`Connection`], its buffers and a worker's
//! [`App`] in one value, with a call for each thing a runtime learns about
//! its socket, in the runtime's own time ([`Instant`]).
//!
//! The runtime keeps the socket and waits; an [`Embedded`] says what to
//! wait for ([`interest`](Embedded::interest), [`deadline`](Embedded::deadline),
//! [`has_work`](Embedded::has_work)) and takes what happened:
//!
//! - readable: read into [`read_buf`](Embedded::read_buf), then
//!   [`on_read`](Embedded::on_read) with the count (0 for the end of input);
//! - writable: write what [`output`](Embedded::output) gives (one vectored
//!   write of the queued slices, or a piece of a file region read into a
//!   chunk of its own, or a shutdown of the write side), then
//!   [`on_written`](Embedded::on_written) or
//!   [`on_write_closed`](Embedded::on_write_closed);
//! - the deadline passed: [`on_timeout`](Embedded::on_timeout); woken for a
//!   parked stream: [`on_wake`](Embedded::on_wake); work left over:
//!   [`poll`](Embedded::poll); the server stops:
//!   [`shutdown`](Embedded::shutdown); the end: [`retire`](Embedded::retire).
//!
//! Every call contains a handler's panic as the backends do
//! ([`App::call`]). Buffers are the connection's for its whole life (a
//! backend lends them from a pool only while bytes are in flight).

use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use peregrine_core::{
    Config, Connection, ConnectionId, Counters, Env, Handler, Interest, IoBuffers, MAX_SLICES,
    Transmit,
};
use peregrine_core::{DefaultSizes, Sizes};

use crate::app::App;
use crate::region::read_region;

/// How much of a file region one write offers.
const FILE_CHUNK: usize = 64 * 1024;

/// A connection with its buffers and its worker state, for a runtime of
/// one's own. `Z`, its [`Sizes`], sizes it as it sizes a [`Connection`].
///
/// ```
/// use std::time::Instant;
/// use peregrine_core::{Capacity, Config, Handler, Request, Response};
/// use peregrine_driver::embed::{Embedded, Output};
///
/// struct Hello;
/// impl Handler for Hello {
///     fn handle(&self, _: &Request<'_>, response: &mut Response<'_>) {
///         response.body_static(b"hi");
///     }
/// }
///
/// let mut conn = Embedded::<_, (), Capacity<4096, 4096, 16>>::new(&Hello, Config::DEFAULT, None, Instant::now());
/// let request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
/// conn.read_buf()[..request.len()].copy_from_slice(request);
/// conn.on_read(request.len());
/// let Output::Write(slices) = conn.output().unwrap() else { panic!() };
/// let sent: Vec<u8> = slices.iter().flat_map(|s| s.iter().copied()).collect();
/// assert!(sent.starts_with(b"HTTP/1.1 200 OK\r\n") && sent.ends_with(b"\r\n\r\nhi"));
/// conn.on_written(sent.len());
/// assert!(matches!(conn.output().unwrap(), Output::Idle));
/// ```
pub struct Embedded<'h, H, L, Z: Sizes = DefaultSizes> {
    /// The state machine.
    conn: Connection<Z>,
    /// Its buffers.
    bufs: Box<IoBuffers<Z>>,
    /// The application, its state, the `Date` line and the counters.
    app: App<'h, H, L>,
    /// Time zero of the connection's millisecond clock.
    origin: Instant,
    /// Where file regions are read into, allocated when first needed.
    file_chunk: Vec<u8>,
}

/// What to write now, from [`Embedded::output`].
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "made for one match at once; boxing the slices would allocate per write"
)]
pub enum Output<'a> {
    /// Nothing.
    Idle,
    /// These slices, in order, in one vectored write.
    Write(IoSlices<'a>),
    /// Shut the write side down, then call
    /// [`on_write_closed`](Embedded::on_write_closed).
    CloseWrite,
}

/// The slices of one vectored write: a slice of [`IoSlice`]s by
/// dereference.
#[derive(Debug)]
pub struct IoSlices<'a> {
    /// The slices, the first `count` in use.
    slices: [IoSlice<'a>; MAX_SLICES],
    /// How many are in use.
    count: usize,
}

impl<'a> std::ops::Deref for IoSlices<'a> {
    type Target = [IoSlice<'a>];

    fn deref(&self) -> &[IoSlice<'a>] {
        &self.slices[..self.count]
    }
}

impl<'h, H, L, Z: Sizes> Embedded<'h, H, L, Z>
where
    H: Handler<L>,
    L: Default,
{
    /// A connection from `peer` (if known) accepted at `origin`, serving
    /// `handler` with a worker state of its own
    /// ([`Handler::new_local`] for worker 0).
    pub fn new(handler: &'h H, config: Config, peer: Option<SocketAddr>, origin: Instant) -> Self {
        Embedded {
            conn: Connection::new(config, peer, 0),
            bufs: IoBuffers::boxed(),
            app: App::new(handler, 0, Counters::default(), &config),
            origin,
            file_chunk: Vec::new(),
        }
    }

    /// Names the connection (what [`Response::id`](peregrine_core::Response::id)
    /// gives its handlers, to wake it with).
    pub fn set_id(&mut self, id: ConnectionId) {
        self.conn.set_id(id);
    }

    /// Milliseconds since `origin`: the connection's clock.
    fn now(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64
    }

    /// Makes one call into the connection with the environment of now.
    fn call(
        &mut self,
        call: impl FnOnce(&mut Connection<Z>, &mut IoBuffers<Z>, &mut Env<'_, H, L>),
    ) {
        self.app.refresh_date();
        let now = self.now();
        self.app.call(&mut self.conn, &mut self.bufs, now, call);
    }

    /// Whether it wants to read, and whether it has output to write.
    pub fn interest(&self) -> Interest {
        self.conn.interest()
    }

    /// Whether it has work to continue without any event ([`poll`](Self::poll)).
    pub fn has_work(&self) -> bool {
        self.conn.has_work()
    }

    /// When [`on_timeout`](Self::on_timeout) is due, if ever.
    pub fn deadline(&self) -> Option<Instant> {
        self.conn
            .poll_timeout()
            .map(|ms| self.origin + Duration::from_millis(ms))
    }

    /// Whether it is done: closed, or handed over to the application.
    pub fn is_done(&self) -> bool {
        self.conn.is_closed() || self.conn.is_hijacked()
    }

    /// Where the next read goes.
    pub fn read_buf(&mut self) -> &mut [u8] {
        self.conn.read_buf(&mut self.bufs)
    }

    /// `n` bytes were read into [`read_buf`](Self::read_buf); 0 is the end
    /// of the peer's input.
    pub fn on_read(&mut self, n: usize) {
        if n == 0 {
            self.call(|c, _, e| c.handle_read_closed(e));
        } else {
            self.call(|c, b, e| c.handle_read(n, b, e));
        }
    }

    /// What to write now: the queued output, or the next piece of a file
    /// region (read at its offset; the file's position is not used).
    ///
    /// # Errors
    ///
    /// The file read's error; `UnexpectedEof` for a file that ended before
    /// its region (counted as `files_cut_short`). Either way the
    /// connection is to be dropped.
    pub fn output(&mut self) -> io::Result<Output<'_>> {
        match self.conn.poll_transmit(&self.bufs) {
            Transmit::Idle => Ok(Output::Idle),
            Transmit::Write(mut queued) => {
                let mut slices = [IoSlice::new(&[]); MAX_SLICES];
                let count = queued.fill_io(&mut slices);
                Ok(Output::Write(IoSlices { slices, count }))
            }
            Transmit::SendFile(region) => {
                self.file_chunk.resize(FILE_CHUNK, 0);
                match read_region(&region, &mut self.file_chunk)? {
                    0 => {
                        self.app.counters().files_cut_short += 1;
                        Err(io::ErrorKind::UnexpectedEof.into())
                    }
                    read => {
                        let mut slices = [IoSlice::new(&[]); MAX_SLICES];
                        slices[0] = IoSlice::new(&self.file_chunk[..read]);
                        Ok(Output::Write(IoSlices { slices, count: 1 }))
                    }
                }
            }
            Transmit::CloseWrite => Ok(Output::CloseWrite),
        }
    }

    /// `n` bytes of what [`output`](Self::output) gave were written.
    pub fn on_written(&mut self, n: usize) {
        self.call(|c, b, e| c.handle_written(n, b, e));
    }

    /// The write side was shut down as [`Output::CloseWrite`] asked.
    pub fn on_write_closed(&mut self) {
        self.call(|c, _, e| c.handle_write_closed(e));
    }

    /// The [`deadline`](Self::deadline) passed.
    pub fn on_timeout(&mut self) {
        self.call(|c, b, e| c.handle_timeout(b, e));
    }

    /// Woken for a parked stream: its `fill_body` is asked again.
    pub fn on_wake(&mut self) {
        let now = self.now();
        self.conn.handle_wake(now);
    }

    /// Continues the work it left ([`has_work`](Self::has_work)).
    pub fn poll(&mut self) {
        self.call(|c, b, e| c.poll(b, e));
    }

    /// The server is stopping: it finishes the request in hand and closes.
    pub fn shutdown(&mut self) {
        let now = self.now();
        self.conn.shutdown(now);
    }

    /// Ends it: what it still owed is reported unsent and the files it
    /// held close. Returns what it did.
    pub fn retire(mut self) -> Counters {
        self.call(|c, _, e| c.retire(e));
        *self.app.totals()
    }
}
