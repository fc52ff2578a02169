//! Moving bytes between a socket and a connection: the one loop every
//! backend runs, blocking or not.

use std::io::{self, ErrorKind};

use peregrine_core::Sizes;
use peregrine_core::{Env, FileRegion, Handler, IoBuffers, Transmit};

use crate::protocol::Protocol;

/// How many slices one vectored write takes at most (the core's, here
/// for the backends that name it from the driver).
pub use peregrine_core::MAX_SLICES;

/// What a backend's socket must do for [`drive`].
pub trait Socket {
    /// Reads into `buf` (`Ok(0)`: the peer closed its write side).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    /// Writes (the start of) `bytes`: the one-slice case of
    /// [`write_slices`](Self::write_slices), which a socket may serve
    /// with a cheaper call.
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.write_slices(core::iter::once(bytes))
    }
    /// Writes `slices` in order with one system call where possible (at
    /// most [`MAX_SLICES`] of them; the rest go in a later call).
    fn write_slices<'b>(&mut self, slices: impl Iterator<Item = &'b [u8]>) -> io::Result<usize>;
    /// [`write_slices`](Self::write_slices) for slices that a file region
    /// follows at once (a response's head): a socket that can hold them
    /// back to leave with the file's first bytes does (Linux: `MSG_MORE`,
    /// what nginx's `tcp_nopush` does with `TCP_CORK`), so that the head
    /// and the start of the file share packets. By default, the same as
    /// `write_slices`.
    fn write_slices_before_file<'b>(
        &mut self,
        slices: impl Iterator<Item = &'b [u8]>,
    ) -> io::Result<usize> {
        self.write_slices(slices)
    }
    /// Sends (part of) a file region: the bytes sent, from its start.
    /// `Ok(0)` for a non-empty region means the file ends before the
    /// region does (it is shorter than the handler said, or shrank while
    /// being sent): [`drive`] ends that response alone where the protocol
    /// can (an HTTP/2 stream is reset), and otherwise takes it as an
    /// error, and the connection is closed.
    fn send_file(&mut self, region: FileRegion) -> io::Result<usize>;
    /// Shuts down the write side. A layer that must send something first
    /// (TLS's `close_notify`) and cannot yet answers `WouldBlock`; [`drive`]
    /// then asks again once the socket is writable.
    fn shutdown_write(&mut self) -> io::Result<()>;
    /// Whether the socket holds output of its own not yet sent (a TLS
    /// layer's records): [`drive`] sends it before the connection's.
    #[inline(always)]
    fn has_pending_output(&self) -> bool {
        false
    }
    /// Sends the output the socket holds of its own (see
    /// [`has_pending_output`](Self::has_pending_output)): `WouldBlock` if
    /// some is left.
    #[inline(always)]
    fn flush_pending(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// Whether calls wait for the peer (a blocking socket) rather than
    /// answer `WouldBlock`: a layer holding bytes of its own (TLS) then
    /// reads the socket only when it has nothing to give, and takes a
    /// write that took less than offered as no more than that.
    #[inline(always)]
    fn is_blocking(&self) -> bool {
        false
    }
}

impl<S: Socket + ?Sized> Socket for &mut S {
    #[inline(always)]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (**self).read(buf)
    }

    #[inline(always)]
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        (**self).write(bytes)
    }

    #[inline(always)]
    fn write_slices<'b>(&mut self, slices: impl Iterator<Item = &'b [u8]>) -> io::Result<usize> {
        (**self).write_slices(slices)
    }

    #[inline(always)]
    fn write_slices_before_file<'b>(
        &mut self,
        slices: impl Iterator<Item = &'b [u8]>,
    ) -> io::Result<usize> {
        (**self).write_slices_before_file(slices)
    }

    #[inline(always)]
    fn send_file(&mut self, region: FileRegion) -> io::Result<usize> {
        (**self).send_file(region)
    }

    #[inline(always)]
    fn shutdown_write(&mut self) -> io::Result<()> {
        (**self).shutdown_write()
    }

    #[inline(always)]
    fn has_pending_output(&self) -> bool {
        (**self).has_pending_output()
    }

    #[inline(always)]
    fn flush_pending(&mut self) -> io::Result<()> {
        (**self).flush_pending()
    }

    #[inline(always)]
    fn is_blocking(&self) -> bool {
        (**self).is_blocking()
    }
}

/// What the driver knows of a socket's readiness.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Readiness {
    /// A read may return data (cleared when one would block).
    pub readable: bool,
    /// A write may make progress (cleared when one would block).
    pub writable: bool,
    /// The poller reported that the peer hung up: the socket will read
    /// end-of-file once its data is drained.
    pub hangup: bool,
}

/// How a socket reports readiness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Non-blocking with edge-triggered notification: a read that returns
    /// less than asked has drained the socket, and new data brings a new
    /// event, so the driver need not read again to see `EAGAIN`.
    EdgeTriggered,
    /// Blocking: every call waits; readiness is always assumed.
    Blocking,
}

/// Moves bytes between `socket` and `conn` until neither side can make
/// progress: writes what is queued, reads what arrives, and lets the
/// connection handle it, in a loop. Returns an error only for a socket
/// failure, after which the connection is to be dropped.
// Inlined into each caller: in the epoll and kqueue worker's serving of
// a connection, a call of its own costs the usual request about 50
// instructions more (`bench/profile.sh`).
#[inline(always)]
pub fn drive<C, S, H, L, Z: Sizes>(
    conn: &mut C,
    bufs: &mut IoBuffers<Z>,
    socket: &mut S,
    ready: &mut Readiness,
    mode: Mode,
    env: &mut Env<'_, H, L>,
) -> io::Result<()>
where
    C: Protocol<Z>,
    S: Socket,
    H: Handler<L>,
    L: Default,
{
    loop {
        if conn.is_done() {
            return Ok(());
        }
        let mut progressed = false;
        // Read first, then write in the same round: the usual exchange (a
        // request in, its response out) takes one round, and the next
        // finds nothing to do. While output is backed up the connection
        // does not want to read, so the write side drains first.
        if ready.readable && may_read(conn, mode) && !blocked_on_output(socket, mode) {
            let space = conn.read_buf(bufs);
            let asked = space.len();
            match socket.read(space) {
                Ok(0) => {
                    ready.readable = false;
                    conn.handle_read_closed(env);
                }
                Ok(n) => {
                    // A short read drained the socket, unless the peer hung
                    // up: then the end-of-file is still to be read, and no
                    // new event will say so.
                    if n < asked && mode == Mode::EdgeTriggered && !ready.hangup {
                        ready.readable = false;
                    }
                    conn.handle_read(n, bufs, env);
                }
                Err(error) if error.kind() == ErrorKind::WouldBlock => ready.readable = false,
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
            progressed = true;
        }
        if ready.writable && socket.has_pending_output() {
            // The layer's own output (TLS records) goes out before more
            // of the connection's is taken.
            progressed |= flush_pending(socket, ready)?;
        } else if ready.writable && !conn.is_closed() {
            progressed |= write(conn, bufs, socket, ready, mode, env)?;
        }
        // Done when nothing happened, or when nothing is left to read and
        // nothing to write: another round would only find as much.
        let output_left = conn.wants_write() || socket.has_pending_output();
        if !progressed || (!ready.readable && !output_left) {
            return Ok(());
        }
    }
}

/// Whether the connection wants to read now: never with output waiting on
/// a blocking socket, whose read could wait for a peer that waits for
/// that output.
#[inline]
fn may_read<C: Protocol<Z>, Z: Sizes>(conn: &C, mode: Mode) -> bool {
    let interest = conn.interest();
    interest.read && (mode == Mode::EdgeTriggered || !interest.write)
}

/// Whether a blocking socket holds output of its own (TLS records): then
/// it must not read either, for the same reason as in [`may_read`].
#[inline(always)]
fn blocked_on_output<S: Socket>(socket: &S, mode: Mode) -> bool {
    mode == Mode::Blocking && socket.has_pending_output()
}

/// Writes what the connection has queued, once; `true` if anything
/// happened.
#[inline(always)]
fn write<C, S, H, L, Z: Sizes>(
    conn: &mut C,
    bufs: &mut IoBuffers<Z>,
    socket: &mut S,
    ready: &mut Readiness,
    mode: Mode,
    env: &mut Env<'_, H, L>,
) -> io::Result<bool>
where
    C: Protocol<Z>,
    S: Socket,
    H: Handler<L>,
    L: Default,
{
    // How many bytes the socket was offered, when taking fewer means that
    // its buffer is full; 0 for a file region, where it does not:
    // `sendfile` also stops short at the end of the file (a file shorter
    // than its region) or at its own limit per call, so the next call
    // tells (`WouldBlock`, more bytes, or 0 at the end of the file).
    // Taking a short `sendfile` for a full socket would wait for an event
    // that need never come: the kernel signals writability again only
    // after a write found the buffer full.
    let (result, offered) = match conn.poll_transmit(bufs) {
        Transmit::Idle => return Ok(false),
        Transmit::Write(slices) => {
            if let Some(bytes) = slices.single() {
                (socket.write(bytes), bytes.len() as u64)
            } else {
                let before_file = slices.file_follows();
                write_all_slices(socket, slices, before_file)
            }
        }
        Transmit::SendFile(region) => match socket.send_file(region) {
            Ok(0) if region.len() > 0 => return file_ended(conn, bufs, env),
            result => (result, 0),
        },
        Transmit::CloseWrite => return Ok(close_write(conn, socket, ready, env)),
    };
    match result {
        Ok(n) => {
            if (n as u64) < offered && mode == Mode::EdgeTriggered {
                // The socket buffer is full; an event says when it drains.
                ready.writable = false;
            }
            conn.handle_written(n, bufs, env);
            Ok(true)
        }
        Err(error) if error.kind() == ErrorKind::WouldBlock => {
            ready.writable = false;
            Ok(false)
        }
        Err(error) if error.kind() == ErrorKind::Interrupted => Ok(true),
        Err(error) => Err(error),
    }
}

/// Shuts the socket's write side after [`Transmit::CloseWrite`]; `true`
/// once done. A layer's last words (TLS `close_notify`) may have to wait
/// for room in the socket: then the socket is marked full and this is
/// asked again when it drains. Any other failure means the peer may be
/// gone already; the connection closes either way.
#[cold]
#[inline(never)]
fn close_write<C, S, H, L, Z: Sizes>(
    conn: &mut C,
    socket: &mut S,
    ready: &mut Readiness,
    env: &mut Env<'_, H, L>,
) -> bool
where
    C: Protocol<Z>,
    S: Socket,
    H: Handler<L>,
    L: Default,
{
    if let Err(error) = socket.shutdown_write() {
        if error.kind() == ErrorKind::WouldBlock {
            ready.writable = false;
            return false;
        }
    }
    conn.handle_write_closed(env);
    true
}

/// Sends the output the socket holds of its own; `true` if all of it
/// went.
#[cold]
fn flush_pending<S: Socket>(socket: &mut S, ready: &mut Readiness) -> io::Result<bool> {
    match socket.flush_pending() {
        Ok(()) => Ok(true),
        Err(error) if error.kind() == ErrorKind::WouldBlock => {
            ready.writable = false;
            Ok(false)
        }
        Err(error) if error.kind() == ErrorKind::Interrupted => Ok(true),
        Err(error) => Err(error),
    }
}

/// A file region sent nothing: its file ends before the region does.
/// The connection ends that response alone if it can (`Ok(true)`);
/// otherwise an `UnexpectedEof` error, for the connection is then closed.
/// Taken as a short write, it would have the connection wait for the
/// socket to drain, and wait again for the same nothing after, until the
/// write timeout.
#[cold]
#[inline(never)]
fn file_ended<C, H, L, Z: Sizes>(
    conn: &mut C,
    bufs: &mut IoBuffers<Z>,
    env: &mut Env<'_, H, L>,
) -> io::Result<bool>
where
    C: Protocol<Z>,
    H: Handler<L>,
    L: Default,
{
    if conn.handle_file_ended(bufs, env) {
        return Ok(true);
    }
    Err(io::Error::new(
        ErrorKind::UnexpectedEof,
        "the file ends before the region does",
    ))
}

/// Offers the slices to the socket in one vectored write (at most
/// [`MAX_SLICES`]), telling it when a file region follows them; the
/// result, and how many bytes were offered. Inlined into each protocol's
/// write: it is on every response's path.
#[inline(always)]
fn write_all_slices<'b, S: Socket>(
    socket: &mut S,
    slices: impl Iterator<Item = &'b [u8]>,
    before_file: bool,
) -> (io::Result<usize>, u64) {
    // Counted as the socket takes them: one pass over the segments, and
    // only what it was actually offered.
    let mut offered = 0u64;
    let taken = slices
        .take(MAX_SLICES)
        .inspect(|slice| offered += slice.len() as u64);
    let result = if before_file {
        socket.write_slices_before_file(taken)
    } else {
        socket.write_slices(taken)
    };
    (result, offered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use peregrine_core::{Capacity, Config, Connection, Counters, Request, Response};

    /// The sizes of the connections these tests drive.
    type Small = Capacity<1024, 2048, 8>;

    /// Answers with a head in the write buffer and a static body: two
    /// slices.
    struct TwoSlices;

    impl Handler for TwoSlices {
        fn handle(&self, _: &Request<'_>, response: &mut Response<'_>) {
            response.body_static(b"static body");
        }
    }

    /// A socket holding one request, whose vectored write sends only the
    /// first slice it is offered (as a socket limited to one slice per
    /// call would), but all of it.
    struct OneSliceAtATime {
        input: &'static [u8],
        written: Vec<u8>,
    }

    impl Socket for OneSliceAtATime {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.input.len().min(buf.len());
            buf[..n].copy_from_slice(&self.input[..n]);
            self.input = &self.input[n..];
            if n == 0 {
                return Err(ErrorKind::WouldBlock.into());
            }
            Ok(n)
        }

        fn write_slices<'b>(
            &mut self,
            mut slices: impl Iterator<Item = &'b [u8]>,
        ) -> io::Result<usize> {
            let first = slices.next().unwrap_or_default();
            self.written.extend_from_slice(first);
            Ok(first.len())
        }

        fn send_file(&mut self, _: FileRegion) -> io::Result<usize> {
            Err(ErrorKind::Unsupported.into())
        }

        fn shutdown_write(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Answers with a 10-byte file region.
    struct TenByteFile;

    impl Handler for TenByteFile {
        fn handle(&self, _: &Request<'_>, response: &mut Response<'_>) {
            response.send_file_region(
                // SAFETY: the region names no real file: the fake peer makes up its bytes.
                unsafe { FileRegion::borrowed(0, 0, 10) },
            );
        }
    }

    /// A socket holding one request, whose file is `file_left` bytes long
    /// from the region's start: `sendfile` sends what is left, then 0
    /// (and fails the test if asked again and again after that, as a
    /// driver looping on nothing would).
    struct ShortFile {
        input: &'static [u8],
        file_left: usize,
        written: Vec<u8>,
        at_end: usize,
    }

    impl Socket for ShortFile {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.input.len().min(buf.len());
            buf[..n].copy_from_slice(&self.input[..n]);
            self.input = &self.input[n..];
            if n == 0 {
                return Err(ErrorKind::WouldBlock.into());
            }
            Ok(n)
        }

        fn write_slices<'b>(
            &mut self,
            slices: impl Iterator<Item = &'b [u8]>,
        ) -> io::Result<usize> {
            let before = self.written.len();
            for slice in slices {
                self.written.extend_from_slice(slice);
            }
            Ok(self.written.len() - before)
        }

        fn send_file(&mut self, region: FileRegion) -> io::Result<usize> {
            let n = self.file_left.min(region.len() as usize);
            if n == 0 {
                self.at_end += 1;
                assert!(
                    self.at_end < 3,
                    "sendfile asked again at the end of the file"
                );
            }
            self.file_left -= n;
            self.written.extend(std::iter::repeat_n(b'f', n));
            Ok(n)
        }

        fn shutdown_write(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_file_that_ends_before_its_region_is_an_error_not_a_wait() {
        for mode in [Mode::EdgeTriggered, Mode::Blocking] {
            let mut conn = Connection::<Small>::new(Config::DEFAULT, None, 0);
            let mut bufs = Box::new(IoBuffers::<Small>::new());
            let mut socket = ShortFile {
                input: b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
                file_left: 4,
                written: Vec::new(),
                at_end: 0,
            };
            let mut ready = Readiness {
                readable: true,
                writable: true,
                hangup: false,
            };
            let mut local = ();
            let mut counters = Counters::default();
            let mut env = Env {
                handler: &TenByteFile,
                local: &mut local,
                date: None,
                now: 0,
                counters: &mut counters,
                files: None,
                spill: None,
                deflate: None,
            };
            let error = drive(
                &mut conn,
                &mut bufs,
                &mut socket,
                &mut ready,
                mode,
                &mut env,
            )
            .expect_err("the file ended 6 bytes short");
            assert_eq!(error.kind(), ErrorKind::UnexpectedEof, "{mode:?}");
            // The head and the 4 bytes there were went out first.
            assert_eq!(
                socket.written, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nffff",
                "{mode:?}"
            );
        }
    }

    /// A socket holding one request, with a file of `file_left` bytes,
    /// that records which writes were said to come before a file.
    struct Recording {
        input: &'static [u8],
        file_left: usize,
        /// What each write sent, and whether a file followed it.
        writes: Vec<(Vec<u8>, bool)>,
    }

    impl Recording {
        fn write(&mut self, slices: &mut dyn Iterator<Item = &[u8]>, before_file: bool) -> usize {
            let bytes: Vec<u8> = slices.flatten().copied().collect();
            let n = bytes.len();
            self.writes.push((bytes, before_file));
            n
        }
    }

    impl Socket for Recording {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.input.len().min(buf.len());
            buf[..n].copy_from_slice(&self.input[..n]);
            self.input = &self.input[n..];
            if n == 0 {
                return Err(ErrorKind::WouldBlock.into());
            }
            Ok(n)
        }

        fn write_slices<'b>(
            &mut self,
            mut slices: impl Iterator<Item = &'b [u8]>,
        ) -> io::Result<usize> {
            Ok(self.write(&mut slices, false))
        }

        fn write_slices_before_file<'b>(
            &mut self,
            mut slices: impl Iterator<Item = &'b [u8]>,
        ) -> io::Result<usize> {
            Ok(self.write(&mut slices, true))
        }

        fn send_file(&mut self, region: FileRegion) -> io::Result<usize> {
            let n = self.file_left.min(region.len() as usize);
            self.file_left -= n;
            Ok(n)
        }

        fn shutdown_write(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Drives `handler`'s answers to `input` through a [`Recording`].
    fn record<H: Handler>(handler: &H, input: &'static [u8]) -> Vec<(Vec<u8>, bool)> {
        let mut conn = Connection::<Small>::new(Config::DEFAULT, None, 0);
        let mut bufs = Box::new(IoBuffers::<Small>::new());
        let mut socket = Recording {
            input,
            file_left: usize::MAX,
            writes: Vec::new(),
        };
        let mut ready = Readiness {
            readable: true,
            writable: true,
            hangup: false,
        };
        let (mut local, mut counters) = ((), Counters::default());
        let mut env = Env {
            handler,
            local: &mut local,
            date: None,
            now: 0,
            counters: &mut counters,
            files: None,
            spill: None,
            deflate: None,
        };
        let mode = Mode::EdgeTriggered;
        drive(
            &mut conn,
            &mut bufs,
            &mut socket,
            &mut ready,
            mode,
            &mut env,
        )
        .unwrap();
        socket.writes
    }

    #[test]
    fn a_head_before_a_file_is_held_back_for_it() {
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n".to_vec();
        assert_eq!(
            record(&TenByteFile, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
            [(head.clone(), true)]
        );
        // Two in a row: each head before its file; nothing else is.
        let two = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
        assert_eq!(
            record(&TenByteFile, two),
            [(head.clone(), true), (head, true)]
        );
        let writes = record(&TwoSlices, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(writes.len(), 1);
        assert!(!writes[0].1, "no file follows a body in memory");
    }

    #[test]
    fn a_write_that_took_all_it_was_offered_is_not_a_full_socket() {
        let mut conn = Connection::<Small>::new(Config::DEFAULT, None, 0);
        let mut bufs = Box::new(IoBuffers::<Small>::new());
        let mut socket = OneSliceAtATime {
            input: b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
            written: Vec::new(),
        };
        let mut ready = Readiness {
            readable: true,
            writable: true,
            hangup: false,
        };
        let mut local = ();
        let mut counters = Counters::default();
        let mut env = Env {
            handler: &TwoSlices,
            local: &mut local,
            date: None,
            now: 0,
            counters: &mut counters,
            files: None,
            spill: None,
            deflate: None,
        };
        drive(
            &mut conn,
            &mut bufs,
            &mut socket,
            &mut ready,
            Mode::EdgeTriggered,
            &mut env,
        )
        .unwrap();
        // Each write sent everything the socket took, so the driver kept
        // writing until the response was out, with no event to wait for.
        assert_eq!(
            socket.written,
            b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nstatic body"
        );
        assert!(ready.writable);
        assert!(!conn.interest().write);
    }
}
