//! What wakes a connection thread when another thread posts to its
//! mailbox (a [`Sender`](peregrine_driver::Sender) message, a wake-up, a
//! deferred answer) or when shutdown begins.
//!
//! A blocking `read` cannot be interrupted portably, and bounding it with
//! a short timeout would wake every idle connection's thread hundreds of
//! times a second. So on Unix a thread that has a mailbox does not block
//! in `read` or `write` at all: its socket is non-blocking, and where it
//! would have blocked it waits in `poll(2)` on two descriptors, the socket
//! and the read end of its alarm, a Unix socket pair whose other end a
//! waker writes a byte into. A post therefore ends the wait at once, and
//! an idle connection's thread sleeps until its peer or a post wakes it.
//! The cost is paid only by a server that has a sender (the threads of
//! one without keep their blocking calls): a `poll` before a read that
//! finds nothing yet.
//!
//! Elsewhere (Windows) there is no portable way to wait for a socket and
//! a wake-up at once with std alone, so the wait is bounded instead: with
//! a mailbox, no call blocks longer than [`BOUNDED_MS`], and the thread
//! looks at its mailbox between calls.

use std::io;
use std::sync::Arc;

use peregrine_driver::Waker;

/// Elsewhere than Unix: the longest a blocking call of a thread with a
/// mailbox waits, in ms, and so the longest a post waits to be taken.
#[cfg(not(unix))]
pub(crate) const BOUNDED_MS: u64 = 2;

/// One connection thread's alarm; see the module's documentation.
#[derive(Debug)]
pub(crate) struct Alarm {
    /// Readable once rung: what the thread waits on with its socket.
    #[cfg(unix)]
    bell: std::os::unix::net::UnixStream,
    /// What a waker writes a byte into.
    #[cfg(unix)]
    rope: std::os::unix::net::UnixStream,
}

impl Alarm {
    /// A new alarm, not rung.
    ///
    /// # Errors
    ///
    /// Out of descriptors (Unix).
    pub(crate) fn new() -> io::Result<Arc<Self>> {
        #[cfg(unix)]
        {
            let (bell, rope) = std::os::unix::net::UnixStream::pair()?;
            bell.set_nonblocking(true)?;
            rope.set_nonblocking(true)?;
            Ok(Arc::new(Alarm { bell, rope }))
        }
        #[cfg(not(unix))]
        {
            Ok(Arc::new(Alarm {}))
        }
    }

    /// Waits until the alarm rings or `ms` pass (bounded by
    /// [`BOUNDED_MS`] where the alarm cannot interrupt a wait).
    pub(crate) fn wait(&self, ms: u64) {
        #[cfg(unix)]
        {
            let mut fds = [rustix::event::PollFd::new(
                &self.bell,
                rustix::event::PollFlags::IN,
            )];
            let _ = rustix::event::poll(&mut fds, Some(&timespec(ms)));
            if !fds[0].revents().is_empty() {
                self.silence();
            }
        }
        #[cfg(not(unix))]
        std::thread::sleep(std::time::Duration::from_millis(ms.clamp(1, BOUNDED_MS)));
    }

    /// Waits until `socket` is ready to be read (or written, with
    /// `write`), the alarm rings, or `ms` pass; whether the socket is
    /// ready (or failed: the next call on it says how).
    #[cfg(unix)]
    pub(crate) fn wait_for(&self, socket: &impl std::os::fd::AsFd, write: bool, ms: u64) -> bool {
        use rustix::event::{PollFd, PollFlags};
        let interest = if write { PollFlags::OUT } else { PollFlags::IN };
        let mut fds = [
            PollFd::new(socket, interest),
            PollFd::new(&self.bell, PollFlags::IN),
        ];
        if rustix::event::poll(&mut fds, Some(&timespec(ms))).is_err() {
            // Interrupted by a signal: the caller looks around and comes
            // back.
            return false;
        }
        if !fds[1].revents().is_empty() {
            self.silence();
        }
        !fds[0].revents().is_empty()
    }

    /// Takes the bytes the wakers wrote, so the next wait waits. A waker
    /// that writes after this wakes the next wait, however early: the
    /// thread then finds its mailbox empty, or takes what the waker
    /// posted.
    #[cfg(unix)]
    fn silence(&self) {
        use std::io::Read;
        let mut bytes = [0u8; 64];
        while let Ok(read) = (&self.bell).read(&mut bytes) {
            if read < bytes.len() {
                break;
            }
        }
    }
}

impl Waker for Alarm {
    fn wake(&self) {
        #[cfg(unix)]
        {
            use std::io::Write;
            // A full socket buffer means bytes are waiting: the thread
            // wakes all the same.
            let _ = (&self.rope).write(&[1]);
        }
    }
}

/// `ms` milliseconds, as `poll` takes them.
#[cfg(unix)]
fn timespec(ms: u64) -> rustix::event::Timespec {
    rustix::event::Timespec {
        tv_sec: (ms / 1000).try_into().unwrap_or(i64::MAX),
        tv_nsec: ((ms % 1000) * 1_000_000).try_into().unwrap_or(0),
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    #[test]
    fn a_wait_ends_when_rung_and_not_before() {
        let alarm = Alarm::new().unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let _client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        // Nothing to read, not rung: the whole wait.
        let started = Instant::now();
        assert!(!alarm.wait_for(&server, false, 30));
        assert!(started.elapsed() >= Duration::from_millis(25));
        // Rung from another thread: at once, the socket still not ready.
        let ringer = Arc::clone(&alarm);
        let thread = std::thread::spawn(move || ringer.wake());
        let started = Instant::now();
        assert!(!alarm.wait_for(&server, false, 10_000));
        assert!(started.elapsed() < Duration::from_secs(5));
        thread.join().unwrap();
        // Silenced: the next wait waits again.
        let started = Instant::now();
        alarm.wait(20);
        assert!(started.elapsed() >= Duration::from_millis(15));
        // Writable at once.
        assert!(alarm.wait_for(&server, true, 10_000));
    }
}
