//! A connection's timers: one deadline per kind, set and cleared at the
//! transitions that start and end what each one bounds.
//!
//! The connection's deadline is the earliest entry, and a deadline that
//! passes is handled by its kind, so no deadline is ever re-derived from
//! the state it bounds.

/// What a timer bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum TimerKind {
    /// A request head being received: runs from the accept (first request)
    /// or the first byte (later ones) until the head is complete.
    Header = 0,
    /// A request body: runs from each read of it.
    Body,
    /// A keep-alive connection between requests.
    Idle,
    /// Output waiting for the peer to read it: runs from each write that
    /// made progress.
    Write,
    /// Reading what the peer still sends after the server shut its write
    /// side.
    Linger,
    /// A WebSocket connection with no traffic either way.
    WebSocketIdle,
    /// The next automatic Ping to a silent WebSocket peer.
    Ping,
    /// The peer's reply to the server's WebSocket Close.
    CloseWait,
    /// A streamed body waiting for the application
    /// ([`Fill::Pending`](crate::Fill::Pending)).
    ParkedStream,
}

impl TimerKind {
    /// Every kind, in table order.
    pub const ALL: [TimerKind; KINDS] = [
        TimerKind::Header,
        TimerKind::Body,
        TimerKind::Idle,
        TimerKind::Write,
        TimerKind::Linger,
        TimerKind::WebSocketIdle,
        TimerKind::Ping,
        TimerKind::CloseWait,
        TimerKind::ParkedStream,
    ];
}

/// How many kinds of timer there are.
pub const KINDS: usize = 9;

/// An entry that is not set.
const UNSET: u64 = u64::MAX;

/// One deadline per [`TimerKind`], in milliseconds of the caller's clock.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimerTable {
    /// The deadlines, indexed by kind; [`UNSET`] where none runs.
    at: [u64; KINDS],
    /// The earliest of them (kept as they change, so reading the
    /// connection's deadline costs a load).
    next: u64,
}

impl TimerTable {
    /// No timer running.
    pub(crate) const fn new() -> Self {
        TimerTable {
            at: [UNSET; KINDS],
            next: UNSET,
        }
    }

    /// Starts (or restarts) `kind` to expire at `at`.
    #[inline(always)]
    pub(crate) const fn set(&mut self, kind: TimerKind, at: u64) {
        // `UNSET` is reserved: a deadline that far away never comes anyway.
        let at = if at < UNSET { at } else { UNSET - 1 };
        let old = self.at[kind as usize];
        self.at[kind as usize] = at;
        if at < self.next {
            self.next = at;
        } else if old == self.next {
            // The earliest moved later: look again.
            self.next = self.earliest();
        }
    }

    /// Stops every timer but `kind`, which expires at `at`: one
    /// transition's whole effect on the table (the start of idleness).
    #[inline]
    pub(crate) fn only(&mut self, kind: TimerKind, at: u64) {
        let at = if at < UNSET { at } else { UNSET - 1 };
        self.at = [UNSET; KINDS];
        self.at[kind as usize] = at;
        self.next = at;
    }

    /// Starts `kind` unless it already runs.
    #[inline]
    pub(crate) fn set_if_unset(&mut self, kind: TimerKind, at: u64) {
        if !self.is_set(kind) {
            self.set(kind, at);
        }
    }

    /// Stops `kind`.
    #[inline(always)]
    pub(crate) fn clear(&mut self, kind: TimerKind) {
        let old = self.at[kind as usize];
        if old != UNSET {
            self.at[kind as usize] = UNSET;
            if old == self.next {
                self.next = self.earliest();
            }
        }
    }

    /// Stops every timer.
    pub(crate) fn clear_all(&mut self) {
        *self = TimerTable::new();
    }

    /// The earliest entry, looked up.
    const fn earliest(&self) -> u64 {
        let mut earliest = UNSET;
        let mut kind = 0;
        while kind < KINDS {
            if self.at[kind] < earliest {
                earliest = self.at[kind];
            }
            kind += 1;
        }
        earliest
    }

    /// When `kind` expires, if it runs.
    #[inline]
    pub(crate) fn get(&self, kind: TimerKind) -> Option<u64> {
        let at = self.at[kind as usize];
        (at != UNSET).then_some(at)
    }

    /// Whether `kind` runs.
    #[inline]
    pub(crate) fn is_set(&self, kind: TimerKind) -> bool {
        self.at[kind as usize] != UNSET
    }

    /// Whether no timer but `kind` runs.
    pub(crate) fn runs_only(&self, kind: TimerKind) -> bool {
        (0..KINDS).all(|index| index == kind as usize || self.at[index] == UNSET)
    }

    /// The earliest deadline, if any timer runs.
    #[inline(always)]
    pub(crate) fn next(&self) -> Option<u64> {
        (self.next != UNSET).then_some(self.next)
    }

    /// The earliest timer that expired by `now`, if any.
    pub(crate) fn expired(&self, now: u64) -> Option<TimerKind> {
        let mut earliest: Option<(u64, TimerKind)> = None;
        for kind in TimerKind::ALL {
            let at = self.at[kind as usize];
            if at != UNSET && at <= now && earliest.is_none_or(|(first, _)| at < first) {
                earliest = Some((at, kind));
            }
        }
        earliest.map(|(_, kind)| kind)
    }
}

impl core::fmt::Debug for TimerTable {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut map = f.debug_map();
        for kind in TimerKind::ALL {
            if let Some(at) = self.get(kind) {
                map.entry(&kind, &at);
            }
        }
        map.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_is_the_earliest_entry_and_expiry_names_its_kind() {
        let mut timers = TimerTable::new();
        assert_eq!(timers.next(), None);
        assert_eq!(timers.expired(u64::MAX), None);
        timers.set(TimerKind::Idle, 500);
        timers.set(TimerKind::Write, 300);
        assert_eq!(timers.next(), Some(300));
        assert_eq!(timers.expired(299), None);
        assert_eq!(timers.expired(300), Some(TimerKind::Write));
        assert_eq!(timers.expired(1_000), Some(TimerKind::Write));
        timers.clear(TimerKind::Write);
        assert_eq!(timers.expired(1_000), Some(TimerKind::Idle));
        timers.set_if_unset(TimerKind::Idle, 100);
        assert_eq!(timers.get(TimerKind::Idle), Some(500));
        timers.set(TimerKind::Ping, u64::MAX);
        assert_eq!(timers.get(TimerKind::Ping), Some(u64::MAX - 1));
        timers.only(TimerKind::Linger, 7);
        assert_eq!(timers.next(), Some(7));
        assert_eq!(timers.get(TimerKind::Idle), None);
        timers.clear_all();
        assert_eq!(timers.next(), None);
    }

    #[test]
    fn the_cached_earliest_follows_every_change() {
        // A fixed pseudo-random walk of sets and clears; after each step
        // the cached earliest is the minimum of the entries.
        let mut timers = TimerTable::new();
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..10_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let kind = TimerKind::ALL[(seed % KINDS as u64) as usize];
            match (seed >> 8) % 3 {
                0 => timers.clear(kind),
                1 => timers.set_if_unset(kind, (seed >> 16) % 1000),
                _ => timers.set(kind, (seed >> 16) % 1000),
            }
            let earliest = TimerKind::ALL.iter().filter_map(|&k| timers.get(k)).min();
            assert_eq!(timers.next(), earliest);
        }
    }
}
