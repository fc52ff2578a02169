//! SIGINT and SIGTERM as a graceful shutdown.

use std::io;
use std::thread::JoinHandle;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::{Handle, Signals};

use crate::stats::ShutdownHandle;

/// A thread that turns the first SIGINT or SIGTERM into a shutdown.
pub(crate) struct SignalWatch {
    /// Stops the iterator.
    handle: Handle,
    /// The thread.
    thread: JoinHandle<()>,
}

/// Starts watching for SIGINT and SIGTERM.
pub(crate) fn watch(shutdown: ShutdownHandle) -> io::Result<SignalWatch> {
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    let handle = signals.handle();
    let thread = std::thread::Builder::new()
        .name("peregrine-signals".into())
        .spawn(move || {
            if signals.forever().next().is_some() {
                shutdown.shutdown();
            }
        })?;
    Ok(SignalWatch { handle, thread })
}

impl SignalWatch {
    /// Stops watching (the server is done) and restores default handling.
    pub(crate) fn stop(self) {
        self.handle.close();
        let _ = self.thread.join();
    }
}
