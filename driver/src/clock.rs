//! The time every backend gives its connections: a monotonic clock in
//! milliseconds (what `peregrine_core` deadlines are measured in) and the
//! wall-clock second behind the `Date` header.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use peregrine_core::date::DateCache;

/// Milliseconds since a fixed origin, on the monotonic clock. `Copy`, so
/// threads that hand connections to each other can share one origin.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    /// Time zero.
    origin: Instant,
}

impl Clock {
    /// A clock whose time zero is now.
    pub fn new() -> Self {
        Clock {
            origin: Instant::now(),
        }
    }

    /// Milliseconds since time zero.
    pub fn now(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

/// Brings `date` to the current second (it reformats only when the
/// second changed, so calling this on every wake-up is cheap).
pub fn refresh_date(date: &mut DateCache) {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    date.update(secs);
}
