//! SIGINT and SIGTERM as a graceful shutdown, for every backend.
//!
//! On Unix a thread waits for the first of either signal (through
//! `signal-hook`, so no handler of the application's is replaced for good)
//! and calls [`ShutdownHandle::shutdown`]. Elsewhere [`watch`] does
//! nothing: a server there stops through its [`ShutdownHandle`].

use std::io;

use crate::hub::ShutdownHandle;

/// What [`watch`] started; [`stop`](Self::stop) it when the server is
/// done.
pub struct SignalWatch {
    /// The iterator's handle and the thread waiting on it.
    #[cfg(unix)]
    inner: (signal_hook::iterator::Handle, std::thread::JoinHandle<()>),
}

/// Starts turning the first SIGINT or SIGTERM into `shutdown` (a no-op
/// outside Unix).
///
/// # Errors
///
/// If the signal handlers cannot be installed or the thread not started.
#[cfg(unix)]
pub fn watch(shutdown: ShutdownHandle) -> io::Result<SignalWatch> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    use signal_hook::iterator::Signals;

    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    let handle = signals.handle();
    let thread = std::thread::Builder::new()
        .name("peregrine-signals".into())
        .spawn(move || {
            if signals.forever().next().is_some() {
                shutdown.shutdown();
            }
        })?;
    Ok(SignalWatch {
        inner: (handle, thread),
    })
}

/// Starts turning the first SIGINT or SIGTERM into `shutdown` (a no-op
/// outside Unix).
///
/// # Errors
///
/// Never, here.
#[cfg(not(unix))]
pub fn watch(shutdown: ShutdownHandle) -> io::Result<SignalWatch> {
    let _ = shutdown;
    Ok(SignalWatch {})
}

impl SignalWatch {
    /// Stops watching (the server is done) and restores default handling.
    pub fn stop(self) {
        #[cfg(unix)]
        {
            let (handle, thread) = self.inner;
            handle.close();
            let _ = thread.join();
        }
    }
}

impl std::fmt::Debug for SignalWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignalWatch").finish_non_exhaustive()
    }
}
