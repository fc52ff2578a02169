//! Bounds on what a client may make the server do without getting
//! anything done: the floods behind HTTP/2's denial-of-service reports.
//!
//! Each kind is counted over a rolling second; a client past a bound gets
//! GOAWAY with ENHANCE_YOUR_CALM. The bounds are far above what browsers,
//! curl or load generators do, and far below what costs a worker.
//!
//! | kind | bound per second | attack |
//! |---|---|---|
//! | streams reset by the client | 100 | Rapid Reset (CVE-2023-44487) |
//! | streams the server reset for the client's errors | 100 | MadeYouReset |
//! | SETTINGS and PING frames | 200 | SETTINGS and PING floods |
//! | empty DATA frames without END_STREAM | 100 | empty-frame floods |
//! | DATA frames the server sends below 1 KiB, not ending a body (windows granted a few bytes at a time) | 100 | Data Dribble (CVE-2019-9511) |
//!
//! CONTINUATION floods are bounded elsewhere: a header block takes at most
//! [`MAX_CONTINUATIONS`] CONTINUATION frames and the decoding area.

/// The most CONTINUATION frames one header block may take.
pub const MAX_CONTINUATIONS: u32 = 32;

/// What a client did that the bounds count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Abuse {
    /// It reset a stream.
    Reset,
    /// It made the server reset a stream.
    StreamError,
    /// It sent SETTINGS or PING.
    Control,
    /// It sent an empty DATA frame that does not end its stream.
    EmptyData,
    /// Its windows made the server send a small DATA frame that does not
    /// end its body.
    SmallData,
}

impl Abuse {
    /// The most of this kind per second.
    const fn bound(self) -> u32 {
        match self {
            Abuse::Reset | Abuse::StreamError | Abuse::EmptyData | Abuse::SmallData => 100,
            Abuse::Control => 200,
        }
    }
}

/// The counts of the current second.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Calm {
    /// When the current second began (the caller's milliseconds).
    since: u64,
    /// Counts by kind, in [`Abuse`] order.
    counts: [u32; 5],
}

impl Calm {
    /// Counts one `abuse` at `now`; `false` once past its bound.
    pub(super) fn allow(&mut self, abuse: Abuse, now: u64) -> bool {
        if now.saturating_sub(self.since) >= 1000 {
            self.since = now;
            self.counts = [0; 5];
        }
        let count = &mut self.counts[abuse as usize];
        *count += 1;
        *count <= abuse.bound()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bound_holds_within_a_second_and_resets_after() {
        let mut calm = Calm::default();
        for _ in 0..100 {
            assert!(calm.allow(Abuse::Reset, 10));
        }
        assert!(!calm.allow(Abuse::Reset, 999));
        assert!(calm.allow(Abuse::Control, 999), "kinds count apart");
        assert!(calm.allow(Abuse::Reset, 1010), "a new second");
    }
}
