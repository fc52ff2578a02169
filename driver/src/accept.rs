//! Dedicated accept threads (an optional listening mode): each accepts on
//! its own listener and hands every connection to the least-loaded worker.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec};

use crate::hub::{Accepted, HANDOFF_CAPACITY, Shared};
use crate::unix;

/// How often an idle accept thread checks for shutdown.
const SHUTDOWN_CHECK: Timespec = Timespec {
    tv_sec: 0,
    tv_nsec: 100_000_000,
};

/// How long accepting pauses after running out of descriptors.
const BACKOFF: Duration = Duration::from_millis(100);

/// Accepts on `listener` until shutdown, dispatching to workers; at
/// shutdown, hands over what is left in the listen backlog before closing
/// the listener, so that connections the kernel already accepted are
/// answered rather than reset.
pub(crate) fn run(listener: OwnedFd, shared: Arc<Shared>) -> io::Result<()> {
    let result = serve(&listener, &shared);
    if result.is_ok() {
        accept_all(&listener, &shared);
    }
    drop(listener);
    shared.acceptors.fetch_sub(1, SeqCst);
    // Workers shutting down wait for this.
    wake_workers(&shared);
    result
}

/// Wakes every worker (that has registered a waker).
pub(crate) fn wake_workers(shared: &Shared) {
    for handoff in &shared.handoffs {
        if let Some(waker) = handoff.waker.get() {
            waker.wake();
        }
    }
}

/// Accepts and dispatches until shutdown begins.
fn serve(listener: &OwnedFd, shared: &Shared) -> io::Result<()> {
    while !shared.is_shutting_down() {
        let mut fds = [PollFd::new(listener, PollFlags::IN)];
        match rustix::event::poll(&mut fds, Some(&SHUTDOWN_CHECK)) {
            Ok(0) => continue,
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(error) => return Err(error.into()),
        }
        if !accept_all(listener, shared) {
            // Keep the workers serving; retry later, never spin.
            std::thread::sleep(BACKOFF);
        }
    }
    Ok(())
}

/// Accepts until the backlog is empty; `false` if it stopped for want of
/// descriptors or memory.
fn accept_all(listener: &OwnedFd, shared: &Shared) -> bool {
    loop {
        match unix::accept(listener.as_fd()) {
            Ok(accepted) => dispatch(shared, accepted),
            Err(error) if unix::is_resource_exhaustion(&error) => return false,
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                ) => {}
            Err(_) => return true,
        }
    }
}

/// Hands a connection to the worker with the fewest.
fn dispatch(shared: &Shared, accepted: Accepted) {
    let Some(handoff) = shared
        .handoffs
        .iter()
        .min_by_key(|handoff| handoff.load.load(Relaxed))
    else {
        return;
    };
    {
        let mut queue = handoff.queue.lock().unwrap_or_else(|e| e.into_inner());
        if queue.len() >= HANDOFF_CAPACITY {
            // Every worker is far behind: refuse rather than queue without
            // bound (dropping the descriptor closes the connection).
            return;
        }
        queue.push_back(accepted);
    }
    handoff.load.fetch_add(1, Relaxed);
    if let Some(waker) = handoff.waker.get() {
        waker.wake();
    }
}
