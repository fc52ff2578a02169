//! The time every backend gives its connections: a monotonic clock in
//! milliseconds (what `peregrine_core` deadlines are measured in) and the
//! wall-clock second behind the `Date` header.
//!
//! Both are read once per wake-up of a worker, so they are read often. On
//! Linux they come from the kernel's coarse clocks, which the vDSO answers
//! from its data page without reading the hardware counter: their
//! resolution is the scheduler tick (1–10 ms), far finer than the
//! timeouts they measure (seconds) and the header they date (one second).
//! Elsewhere they come from `std::time`.

#[cfg(not(any(target_os = "linux", target_os = "android")))]
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use peregrine_core::date::DateCache;

/// Milliseconds since a fixed origin, on the monotonic clock. `Copy`, so
/// threads that hand connections to each other can share one origin.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    /// Time zero.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    origin_ms: u64,
    /// Time zero.
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    origin: Instant,
    /// A test's hand-set time, read instead of the monotonic clock.
    #[cfg(test)]
    manual: Option<&'static std::sync::atomic::AtomicU64>,
}

impl Clock {
    /// A clock whose time zero is now.
    pub fn new() -> Self {
        Clock {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            origin_ms: coarse::monotonic_ms(),
            #[cfg(not(any(target_os = "linux", target_os = "android")))]
            origin: Instant::now(),
            #[cfg(test)]
            manual: None,
        }
    }

    /// A clock that reads `time` (milliseconds), which the test sets: the
    /// worker's deadlines then pass only when the test says so.
    #[cfg(test)]
    pub(crate) fn manual(time: &'static std::sync::atomic::AtomicU64) -> Self {
        Clock {
            manual: Some(time),
            ..Clock::new()
        }
    }

    /// Milliseconds since time zero.
    pub fn now(&self) -> u64 {
        #[cfg(test)]
        if let Some(time) = self.manual {
            return time.load(std::sync::atomic::Ordering::Relaxed);
        }
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            coarse::monotonic_ms().saturating_sub(self.origin_ms)
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        {
            self.origin.elapsed().as_millis() as u64
        }
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
    date.update(unix_seconds());
}

/// Seconds since the Unix epoch, on the wall clock.
fn unix_seconds() -> u64 {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        coarse::realtime_seconds()
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// The kernel's coarse clocks, read through the C library, whose
/// `clock_gettime` takes the vDSO fast path (and works under tools such as
/// valgrind that provide no vDSO).
#[cfg(any(target_os = "linux", target_os = "android"))]
mod coarse {
    /// Reads `clock`; all zero should the call fail (it cannot for these
    /// clocks on any kernel since 2.6.32).
    fn read(clock: libc::clockid_t) -> libc::timespec {
        let mut time = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `time` is a valid, writable `timespec` that outlives the
        // call, which writes nothing else.
        let _ = unsafe { libc::clock_gettime(clock, &mut time) };
        time
    }

    /// `CLOCK_MONOTONIC_COARSE`, in milliseconds.
    pub(super) fn monotonic_ms() -> u64 {
        let t = read(libc::CLOCK_MONOTONIC_COARSE);
        (t.tv_sec as u64) * 1000 + (t.tv_nsec as u64) / 1_000_000
    }

    /// `CLOCK_REALTIME_COARSE`, in whole seconds (0 before the epoch).
    pub(super) fn realtime_seconds() -> u64 {
        u64::try_from(read(libc::CLOCK_REALTIME_COARSE).tv_sec).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_starts_near_zero_and_never_goes_back() {
        let clock = Clock::new();
        let mut last = clock.now();
        assert!(last < 1_000, "{last} ms right after start");
        for _ in 0..1_000 {
            let now = clock.now();
            assert!(now >= last);
            last = now;
        }
    }

    #[test]
    fn the_wall_clock_second_agrees_with_std() {
        let std_seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        // The coarse clock lags by at most a tick; allow a second's edge.
        assert!(unix_seconds().abs_diff(std_seconds) <= 1);
    }
}
