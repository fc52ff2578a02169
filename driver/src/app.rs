//! What every worker does with its connections, however it waits for
//! them (an event loop, or a thread per connection): it holds the
//! application, the application's state for this worker, the cached
//! `Date` line and the counters, builds the [`Env`] each call gets, drives
//! a connection over its socket, fires a deadline that passed, and winds a
//! connection down when the server shuts down.
//!
//! The epoll/kqueue reactor and the portable backend's threads both serve
//! connections through one of these, so each of those steps is written
//! once.
//!
//! It also contains the application's panics: each call into a connection
//! runs under [`catch_unwind`], and a panic in a handler callback ends the
//! request or connection it was serving ([`Connection::handle_panic`]:
//! `500` if nothing of its response was sent, a body left unfinished, a
//! WebSocket Close `1011`), never the worker and its other connections.
//! Panics are counted (`Counters::handler_panics`); the panic hook
//! reports each as usual. The worker's application state (`L`) is left as
//! the panicking code left it. Built with `panic = "abort"`, a panic ends
//! the process.

use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};

use peregrine_core::Sizes;
use peregrine_core::date::DateCache;
use peregrine_core::ws::Deflate;
use peregrine_core::{Config, Connection, Counters, DeflatePolicy, Env, Handler, IoBuffers};

use crate::clock;
use crate::deflate::WorkerDeflate;
use crate::files::FileTable;
use crate::io::{Mode, Readiness, Socket, drive};
use crate::protocol::{Http2Connection, Protocol};
use crate::spill::WorkerSpill;

/// The application as one worker runs it.
pub struct App<'h, H, L> {
    /// The application, shared by every worker.
    handler: &'h H,
    /// The application's state for this worker.
    local: L,
    /// The cached `Date` line.
    date: DateCache,
    /// What this worker's connections did.
    totals: Counters,
    /// The files this worker's responses are sending.
    files: FileTable,
    /// Where this worker's written bodies go on once they outgrow a
    /// write buffer.
    spill: WorkerSpill,
    /// The DEFLATE states of WebSocket connections that compress.
    deflate: WorkerDeflate,
}

impl<'h, H, L> App<'h, H, L>
where
    H: Handler<L>,
    L: Default,
{
    /// The application for worker `worker` (its state made by
    /// [`Handler::new_local`]), counting from `totals`, its connections
    /// configured by `config` (which sizes the DEFLATE pool).
    pub fn new(handler: &'h H, worker: usize, totals: Counters, config: &Config) -> Self {
        let contexts = match config.websocket_deflate {
            DeflatePolicy::ContextTakeover { contexts } => contexts,
            DeflatePolicy::Off | DeflatePolicy::NoContextTakeover => 0,
        };
        App {
            handler,
            local: handler.new_local(worker),
            date: DateCache::new(),
            totals,
            files: FileTable::new(),
            spill: WorkerSpill::default(),
            deflate: WorkerDeflate::new(contexts),
        }
    }

    /// The DEFLATE coder and the counters, for messages sent outside a
    /// connection's calls (see [`Connection::send_message_with`]).
    pub fn deflate(&mut self) -> (&mut dyn Deflate, &mut Counters) {
        (&mut self.deflate, &mut self.totals)
    }

    /// What this worker's connections did so far.
    pub fn totals(&self) -> &Counters {
        &self.totals
    }

    /// The counters, for calls that count without an [`Env`].
    pub fn counters(&mut self) -> &mut Counters {
        &mut self.totals
    }

    /// Reformats the `Date` line if the second changed.
    pub fn refresh_date(&mut self) {
        clock::refresh_date(&mut self.date);
    }

    /// What a connection's calls at `now` get.
    #[inline(always)]
    pub fn env(&mut self, now: u64) -> Env<'_, H, L> {
        Env {
            handler: self.handler,
            local: &mut self.local,
            date: Some(&self.date),
            now,
            counters: &mut self.totals,
            files: Some(&mut self.files),
            spill: Some(&mut self.spill),
            deflate: Some(&mut self.deflate),
        }
    }

    /// Moves bytes between `socket` and `conn` until neither side can make
    /// progress (see [`drive`]).
    ///
    /// # Errors
    ///
    /// A socket failure, after which the connection is to be dropped.
    #[inline(always)]
    pub fn drive<C, S, Z: Sizes>(
        &mut self,
        conn: &mut C,
        bufs: &mut IoBuffers<Z>,
        socket: &mut S,
        ready: &mut Readiness,
        mode: Mode,
        now: u64,
    ) -> io::Result<()>
    where
        C: Protocol<Z>,
        S: Socket,
    {
        let run = AssertUnwindSafe(|| self.drive_unguarded(conn, bufs, socket, ready, mode, now));
        match catch_unwind(run) {
            Ok(result) => result,
            Err(_) => self.after_panic(conn, bufs, socket, ready, mode, now),
        }
    }

    /// [`drive`](Self::drive) without containing a handler panic: it
    /// unwinds out of this call. For a caller that contains panics over
    /// many calls at once (the epoll and kqueue worker, once per turn),
    /// then answers for the connection this call was driving with
    /// [`after_panic`](Self::after_panic), as `drive` does; a
    /// `catch_unwind` around each call costs the usual request a tenth
    /// more instructions.
    ///
    /// # Errors
    ///
    /// A socket failure, after which the connection is to be dropped.
    #[inline(always)]
    pub(crate) fn drive_unguarded<C, S, Z: Sizes>(
        &mut self,
        conn: &mut C,
        bufs: &mut IoBuffers<Z>,
        socket: &mut S,
        ready: &mut Readiness,
        mode: Mode,
        now: u64,
    ) -> io::Result<()>
    where
        C: Protocol<Z>,
        S: Socket,
    {
        let result = drive(conn, bufs, socket, ready, mode, &mut self.env(now));
        if let Err(error) = &result {
            if error.kind() == io::ErrorKind::UnexpectedEof {
                // A file ended before its region (see `Socket::send_file`).
                self.totals.files_cut_short += 1;
            }
        }
        result
    }

    /// After a handler panicked in a call into `conn`: the connection
    /// answers what it can, and what it queued is written as far as the
    /// socket takes it (the connection no longer reads, so no handler runs
    /// for it again but a body's last piece or a WebSocket's `on_close`).
    #[cold]
    #[inline(never)]
    pub(crate) fn after_panic<C, S, Z: Sizes>(
        &mut self,
        conn: &mut C,
        bufs: &mut IoBuffers<Z>,
        socket: &mut S,
        ready: &mut Readiness,
        mode: Mode,
        now: u64,
    ) -> io::Result<()>
    where
        C: Protocol<Z>,
        S: Socket,
    {
        if !conn.handle_panic(bufs, &mut self.env(now)) {
            return Err(io::Error::other("a handler panicked"));
        }
        ready.writable = true;
        let run = AssertUnwindSafe(|| self.drive_unguarded(conn, bufs, socket, ready, mode, now));
        catch_unwind(run).unwrap_or_else(|_| {
            // A second panic: nothing more is sent.
            self.totals.handler_panics += 1;
            Err(io::Error::other("the handler panicked again"))
        })
    }

    /// Lets `conn` take what was read into `bufs` before it took over the
    /// connection (an HTTP/2 connection after the preface an HTTP/1.1 one
    /// read), at `now`; `false` if a handler panicked and the connection
    /// is to be closed.
    pub fn resume<C: Protocol<Z>, Z: Sizes>(
        &mut self,
        conn: &mut C,
        bufs: &mut IoBuffers<Z>,
        now: u64,
    ) -> bool {
        let run = AssertUnwindSafe(|| conn.handle_read(0, bufs, &mut self.env(now)));
        match catch_unwind(run) {
            Ok(()) => true,
            Err(_) => conn.handle_panic(bufs, &mut self.env(now)),
        }
    }

    /// Begins the graceful end of HTTP/2 connection `conn` at `now` (its
    /// GOAWAY into `bufs`); `false` if a handler panicked on the way and
    /// the connection is to be closed.
    pub fn shut_down<Z: Sizes>(
        &mut self,
        conn: &mut Http2Connection<Z>,
        bufs: &mut IoBuffers<Z>,
        now: u64,
    ) -> bool {
        let run = AssertUnwindSafe(|| conn.shutdown(bufs, &mut self.env(now)));
        match catch_unwind(run) {
            Ok(()) => true,
            Err(_) => Protocol::handle_panic(conn, bufs, &mut self.env(now)),
        }
    }

    /// Makes one call into `conn` (any of its `handle_*` methods, or
    /// `poll`) with the environment of `now`, containing a handler panic
    /// as [`drive`](Self::drive) does: the connection answers what it can
    /// ([`Connection::handle_panic`]) and the caller goes on. For runtimes
    /// of one's own, which drive the connection themselves.
    pub fn call<Z: Sizes>(
        &mut self,
        conn: &mut Connection<Z>,
        bufs: &mut IoBuffers<Z>,
        now: u64,
        call: impl FnOnce(&mut Connection<Z>, &mut IoBuffers<Z>, &mut Env<'_, H, L>),
    ) {
        let run = AssertUnwindSafe(|| call(conn, bufs, &mut self.env(now)));
        if catch_unwind(run).is_err() {
            conn.handle_panic(bufs, now, &mut self.totals);
        }
    }

    /// Continues the work `conn` left (see [`Connection::poll`]); `false`
    /// if a handler panicked and the connection is to be closed (an
    /// HTTP/2 one: see [`Protocol::handle_panic`]).
    pub fn poll<C: Protocol<Z>, Z: Sizes>(
        &mut self,
        conn: &mut C,
        bufs: &mut IoBuffers<Z>,
        now: u64,
    ) -> bool {
        let run = AssertUnwindSafe(|| conn.poll(bufs, &mut self.env(now)));
        match catch_unwind(run) {
            Ok(()) => true,
            // What the connection queued goes out with its next drive.
            Err(_) => conn.handle_panic(bufs, &mut self.env(now)),
        }
    }

    /// Answers the deferred response of `conn` (of its HTTP/2 stream
    /// `stream`) at `now` with what `answer` writes (see
    /// [`Connection::handle_answer`]); whether one waited. A panic in the
    /// hooks it runs is contained as in [`drive`](Self::drive); an HTTP/2
    /// connection is then retired ([`Protocol::handle_panic`]).
    pub fn answer<C: Protocol<Z>, Z: Sizes>(
        &mut self,
        conn: &mut C,
        bufs: &mut IoBuffers<Z>,
        stream: u32,
        now: u64,
        answer: impl FnOnce(&mut peregrine_core::Response<'_, L>),
    ) -> bool {
        let run = AssertUnwindSafe(|| conn.handle_answer(stream, bufs, &mut self.env(now), answer));
        catch_unwind(run).unwrap_or_else(|_| {
            self.contain(conn, bufs, now);
            true
        })
    }

    /// Appends `bytes` published to `topic` to `conn`'s streamed bodies
    /// subscribed to it, at `now` (see [`Connection::handle_publish`]). A
    /// panic in the hooks it runs (a stream backed up is reported ended)
    /// is contained as in [`answer`](Self::answer).
    ///
    /// # Errors
    ///
    /// As [`Connection::handle_publish`].
    pub fn publish<C: Protocol<Z>, Z: Sizes>(
        &mut self,
        conn: &mut C,
        bufs: &mut IoBuffers<Z>,
        topic: u64,
        bytes: &[u8],
        now: u64,
    ) -> Result<(), peregrine_core::PublishError> {
        let run = AssertUnwindSafe(|| conn.handle_publish(bufs, topic, bytes, &mut self.env(now)));
        catch_unwind(run).unwrap_or_else(|_| {
            self.contain(conn, bufs, now);
            Err(peregrine_core::PublishError::Full)
        })
    }

    /// After a handler panicked in a call into `conn` outside
    /// [`drive`](Self::drive): the connection answers what it can, or,
    /// if it cannot go on, is retired (closed).
    #[cold]
    #[inline(never)]
    fn contain<C: Protocol<Z>, Z: Sizes>(
        &mut self,
        conn: &mut C,
        bufs: &mut IoBuffers<Z>,
        now: u64,
    ) {
        if !conn.handle_panic(bufs, &mut self.env(now)) {
            self.retire(conn, now);
        }
    }

    /// Ends `conn` for good before it is dropped or reused: the responses
    /// it still owed are reported aborted to the handler, and the files
    /// they held are closed (see [`Connection::retire`]).
    pub fn retire<C: Protocol<Z>, Z: Sizes>(&mut self, conn: &mut C, now: u64) {
        let run = AssertUnwindSafe(|| conn.retire(&mut self.env(now)));
        if catch_unwind(run).is_err() {
            // A `finished` hook panicked: the rest is given up.
            self.totals.handler_panics += 1;
        }
    }

    /// Files this worker's responses hold open now.
    pub fn open_files(&self) -> usize {
        self.files.len()
    }

    /// Handles `conn`'s deadline if it passed by `now`; whether it had.
    pub fn fire_due_timeout<C: Protocol<Z>, Z: Sizes>(
        &mut self,
        conn: &mut C,
        bufs: &mut IoBuffers<Z>,
        now: u64,
    ) -> bool {
        if conn.poll_timeout().is_some_and(|deadline| deadline <= now) {
            conn.handle_timeout(bufs, &mut self.env(now));
            true
        } else {
            false
        }
    }

    /// Winds `conn` down at shutdown: requests that reached the socket
    /// before are still answered, so it reads and answers what is there
    /// (with `Connection: close`, its events may not have been collected
    /// yet) before it starts the graceful close, which closes an idle
    /// connection at once. `socket` must not block: a non-blocking socket,
    /// or one whose calls return at once.
    ///
    /// # Errors
    ///
    /// A socket failure, after which the connection is to be dropped.
    pub fn wind_down<S, Z: Sizes>(
        &mut self,
        conn: &mut Connection<Z>,
        bufs: &mut IoBuffers<Z>,
        socket: &mut S,
        mode: Mode,
        now: u64,
    ) -> io::Result<()>
    where
        S: Socket,
    {
        conn.drain();
        let mut ready = Readiness {
            readable: true,
            writable: true,
            hangup: false,
        };
        self.drive(conn, bufs, socket, &mut ready, mode, now)?;
        conn.shutdown(now);
        Ok(())
    }
}
