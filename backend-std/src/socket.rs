//! A blocking [`TcpStream`] as the driver's [`Socket`], with every wait
//! bounded.
//!
//! [`drive`](peregrine_driver::io::drive) in [`Mode::Blocking`] reads and
//! writes until the connection can make no progress, and a blocking call
//! returns only when bytes move. To keep the connection's deadlines and
//! the server's shutdown in force, the socket is given two limits before
//! each `drive`:
//!
//! - a *hard* limit, the connection's next deadline (or the end of the
//!   grace period): every read and write timeout is set so that a call
//!   blocked at that moment returns then;
//! - a *soft* limit, [`POLL_MS`] after the call began: past it, calls fail
//!   with `WouldBlock` at once, so `drive` returns at least that often and
//!   the caller can look at the clock, a deadline that moved earlier, or
//!   the shutdown flag.
//!
//! Past either limit, or once shutdown has begun, read and write answer
//! `WouldBlock` without a system call, which `drive` takes as "nothing
//! more for now". Timeouts are set with `setsockopt` only when they must
//! change: while deadlines are more than [`POLL_MS`] away the socket keeps
//! a [`POLL_MS`] timeout and a request costs one `read` and one `writev`.
//!
//! A thread with a mailbox (the server has a sender) gives its socket its
//! [`Alarm`], so that a post ends a wait at once: on Unix the socket is
//! then non-blocking, and a call that would block waits in `poll` on the
//! socket and the alarm (within the same limits) and is made again if the
//! socket became ready; elsewhere the wait of each call is bounded by
//! [`BOUNDED_MS`](crate::alarm::BOUNDED_MS). See [`alarm`](crate::alarm).

use std::io::{self, ErrorKind, IoSlice, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use peregrine_core::FileRegion;
use peregrine_driver::ShutdownHandle;
use peregrine_driver::clock::Clock;
use peregrine_driver::io::{MAX_SLICES, Socket};

use crate::alarm::Alarm;

#[cfg(doc)]
use peregrine_driver::io::Mode;

/// The longest a blocking call waits, in ms, and how often a connection
/// thread looks up from its socket: the bound on how long a shutdown goes
/// unnoticed.
pub(crate) const POLL_MS: u64 = 100;

/// A connected socket with its limits.
#[derive(Debug)]
pub(crate) struct StdSocket<'a> {
    /// The socket, in blocking mode.
    stream: TcpStream,
    /// The clock deadlines are measured on.
    clock: Clock,
    /// Whose shutdown ends a wait early.
    shutdown: &'a ShutdownHandle,
    /// Whether a shutdown ends a wait early (not once the connection
    /// handles it).
    watch_shutdown: bool,
    /// Calls fail from then on, so `drive` returns (ms).
    soft: u64,
    /// No call blocks past then (ms).
    hard: u64,
    /// The read timeout set on the socket, in ms (0: none yet).
    read_timeout: u64,
    /// The write timeout set on the socket, in ms (0: none yet).
    write_timeout: u64,
    /// What a post to the thread's mailbox rings, if it has one.
    alarm: Option<&'a Alarm>,
    /// With an alarm on Unix: whether a call that would block waits
    /// (blocking mode), or fails at once (non-blocking mode). The socket
    /// itself stays non-blocking.
    #[cfg(unix)]
    waits: bool,
}

impl<'a> StdSocket<'a> {
    /// Wraps a connected, blocking socket, whose waits `alarm` (if
    /// given) ends.
    pub(crate) fn new(
        stream: TcpStream,
        clock: Clock,
        shutdown: &'a ShutdownHandle,
        alarm: Option<&'a Alarm>,
    ) -> Self {
        // Without a non-blocking socket, the waits are bounded as they
        // are without an alarm (and a post waits for the bound).
        #[cfg(unix)]
        let alarm = alarm.filter(|_| stream.set_nonblocking(true).is_ok());
        StdSocket {
            stream,
            clock,
            shutdown,
            watch_shutdown: true,
            soft: u64::MAX,
            hard: u64::MAX,
            read_timeout: 0,
            write_timeout: 0,
            alarm,
            #[cfg(unix)]
            waits: true,
        }
    }

    /// Whether waits are `poll`s on the socket and the alarm rather than
    /// blocking calls.
    fn polls(&self) -> bool {
        cfg!(unix) && self.alarm.is_some()
    }

    /// The longest one call waits, in ms.
    fn cap(&self) -> u64 {
        #[cfg(not(unix))]
        if self.alarm.is_some() {
            return crate::alarm::BOUNDED_MS;
        }
        POLL_MS
    }

    /// Sets the limits for the next `drive`: calls fail after `soft`, none
    /// blocks past `hard`, and (with `watch_shutdown`) none starts once
    /// shutdown has begun.
    pub(crate) fn limit(&mut self, soft: u64, hard: u64, watch_shutdown: bool) {
        self.soft = soft;
        self.hard = hard;
        self.watch_shutdown = watch_shutdown;
    }

    /// Switches the socket between blocking and non-blocking mode.
    pub(crate) fn set_nonblocking(&mut self, nonblocking: bool) -> io::Result<()> {
        #[cfg(unix)]
        if self.polls() {
            self.waits = !nonblocking;
            return Ok(());
        }
        self.stream.set_nonblocking(nonblocking)
    }

    /// Makes a call with `call`, waiting (within the limits) if it would
    /// block; `WouldBlock` if it is not to be made, or if the wait ended
    /// with nothing to do for the socket.
    fn call<T>(
        &mut self,
        write: bool,
        mut call: impl FnMut(&TcpStream) -> io::Result<T>,
    ) -> io::Result<T> {
        let room = self.arm(write)?;
        #[cfg(unix)]
        if let Some(alarm) = self.alarm {
            return match call(&self.stream) {
                Err(error) if error.kind() == ErrorKind::WouldBlock && self.waits => {
                    if alarm.wait_for(&self.stream, write, room) {
                        call(&self.stream)
                    } else {
                        Err(ErrorKind::WouldBlock.into())
                    }
                }
                other => other,
            };
        }
        let _ = room;
        timeout_as_would_block(call(&self.stream))
    }

    /// Checks the limits before a call and bounds its wait (the socket's
    /// timeout, unless it [`polls`](Self::polls)); returns the longest
    /// the call may wait, in ms, or `WouldBlock` if it is not to be made.
    fn arm(&mut self, write: bool) -> io::Result<u64> {
        if self.watch_shutdown && self.shutdown.is_shutting_down() {
            return Err(ErrorKind::WouldBlock.into());
        }
        let now = self.clock.now();
        if now >= self.soft.min(self.hard) {
            return Err(ErrorKind::WouldBlock.into());
        }
        // At least 1 ms: `now < hard`.
        let cap = self.cap();
        let room = (self.hard - now).min(cap);
        if self.polls() {
            return Ok(room);
        }
        let current = if write {
            self.write_timeout
        } else {
            self.read_timeout
        };
        // A timeout that would outlast the hard limit must come down; one
        // far shorter than needed goes back up (it would only wake the
        // thread early). Anything in between stays, costing no call.
        let overshoots = current == 0 || current > room;
        let too_short = current < cap && current.saturating_mul(2) <= room;
        if overshoots || too_short {
            let timeout = Some(Duration::from_millis(room));
            if write {
                self.stream.set_write_timeout(timeout)?;
                self.write_timeout = room;
            } else {
                self.stream.set_read_timeout(timeout)?;
                self.read_timeout = room;
            }
        }
        Ok(room)
    }
}

/// Bytes of a file region read and written per call of
/// [`StdSocket::send_file`], from a buffer on the stack.
const FILE_CHUNK: usize = 64 * 1024;

/// A socket timeout as `WouldBlock`: Unix reports one so already, Windows
/// as `TimedOut`.
fn timeout_as_would_block<T>(result: io::Result<T>) -> io::Result<T> {
    match result {
        Err(error) if error.kind() == ErrorKind::TimedOut => Err(ErrorKind::WouldBlock.into()),
        other => other,
    }
}

impl Socket for StdSocket<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.call(false, |mut stream| stream.read(buf))
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.call(true, |mut stream| stream.write(bytes))
    }

    fn write_slices<'b>(&mut self, slices: impl Iterator<Item = &'b [u8]>) -> io::Result<usize> {
        // Filled in one pass, nothing initialised beforehand.
        let mut iov = heapless::Vec::<IoSlice<'b>, MAX_SLICES>::new();
        for slice in slices {
            if iov.push(IoSlice::new(slice)).is_err() {
                break;
            }
        }
        self.call(true, |mut stream| stream.write_vectored(&iov))
    }

    /// Sends the start of a file region without `sendfile` (std has no
    /// portable one): reads up to [`FILE_CHUNK`] bytes of it at its offset
    /// into a buffer on the stack (a positioned read: the descriptor's
    /// file position is not used on Unix), then writes them. Bytes the
    /// socket did not take are read again on the next call, from the
    /// region's new offset.
    ///
    /// A read that finds the end of the file before the region's end (the
    /// file is shorter than the region: it shrank, or the region was
    /// wrong) sends nothing: `Ok(0)`, which the driver's loop takes as the
    /// end of that response (see `Socket::send_file`) rather than waiting
    /// for bytes that will never come.
    fn send_file(&mut self, region: FileRegion) -> io::Result<usize> {
        if region.len() == 0 {
            return Ok(0);
        }
        // Not worth reading the file for a call that is not to be made.
        self.arm(true)?;
        let mut chunk = [0u8; FILE_CHUNK];
        let read = peregrine_driver::region::read_region(&region, &mut chunk)?;
        if read == 0 {
            return Ok(0);
        }
        self.call(true, |mut stream| stream.write(&chunk[..read]))
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        self.stream.shutdown(Shutdown::Write)
    }

    #[inline]
    fn is_blocking(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;
    #[cfg(unix)]
    use std::sync::Arc;
    use std::time::Instant;

    use super::*;

    /// A connected pair: (client, server side).
    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (client, server)
    }

    #[test]
    fn a_read_returns_by_the_hard_limit_and_timeouts_change_only_when_they_must() {
        let (_client, server) = pair();
        let clock = Clock::new();
        let handle = ShutdownHandle::new(1);
        let mut socket = StdSocket::new(server, clock, &handle, None);
        let mut buf = [0; 16];

        // A deadline 30 ms away: the read waits for it, not longer.
        let now = clock.now();
        socket.limit(now + POLL_MS, now + 30, true);
        let started = Instant::now();
        let error = socket.read(&mut buf).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::WouldBlock);
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(25) && waited < Duration::from_secs(1),
            "{waited:?}"
        );
        // The timeout set was the deadline's, not the 100 ms cap.
        assert!(socket.read_timeout <= 30, "{}", socket.read_timeout);
        // Past the limit: refused without waiting.
        let started = Instant::now();
        assert_eq!(
            socket.read(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        assert!(started.elapsed() < Duration::from_millis(5));

        // Deadlines far away: the timeout goes back up to the cap, then
        // stays there as the soft limit moves on.
        let now = clock.now();
        socket.limit(now + POLL_MS, u64::MAX, true);
        socket.arm(false).unwrap();
        assert_eq!(socket.read_timeout, POLL_MS);
        socket.limit(now + 2 * POLL_MS, now + 10 * POLL_MS, true);
        socket.arm(false).unwrap();
        assert_eq!(socket.read_timeout, POLL_MS);
        // Writes are bounded the same way, on their own timeout.
        assert_eq!(socket.write_timeout, 0);
        socket.arm(true).unwrap();
        assert_eq!(socket.write_timeout, POLL_MS);
    }

    #[test]
    fn shutdown_ends_waits_until_the_connection_handles_it() {
        let (mut client, server) = pair();
        let clock = Clock::new();
        let handle = ShutdownHandle::new(1);
        let mut socket = StdSocket::new(server, clock, &handle, None);
        client.write_all(b"x").unwrap();
        handle.shutdown();
        let mut buf = [0; 16];
        socket.limit(u64::MAX, u64::MAX, true);
        assert_eq!(
            socket.read(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        // The connection has taken the shutdown in: reads go on.
        socket.limit(u64::MAX, u64::MAX, false);
        assert_eq!(socket.read(&mut buf).unwrap(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn with_an_alarm_a_read_waits_until_bytes_come_or_the_alarm_rings() {
        use peregrine_driver::Waker;

        let (mut client, server) = pair();
        let clock = Clock::new();
        let handle = ShutdownHandle::new(1);
        let alarm = crate::alarm::Alarm::new().unwrap();
        let mut socket = StdSocket::new(server, clock, &handle, Some(&alarm));
        let mut buf = [0; 16];
        // Rung from another thread while the read waits: it ends long
        // before its limit, with nothing read.
        let now = clock.now();
        socket.limit(now + 10_000, u64::MAX, true);
        let ringer = Arc::clone(&alarm);
        let thread = std::thread::spawn(move || ringer.wake());
        let started = Instant::now();
        assert_eq!(
            socket.read(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        thread.join().unwrap();
        // Bytes that come while it waits are read.
        client.write_all(b"hi").unwrap();
        assert_eq!(socket.read(&mut buf).unwrap(), 2);
        // In non-blocking mode it does not wait at all.
        socket.set_nonblocking(true).unwrap();
        let started = Instant::now();
        assert_eq!(
            socket.read(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        assert!(started.elapsed() < Duration::from_millis(50));
    }
}
