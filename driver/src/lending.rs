//! A worker's buffer pairs: lent to connections while they have bytes in
//! flight, taken back once they hold no state, and waited for in line when
//! none is free.
//!
//! The pool is allocated once, when the worker starts. It records who
//! holds each pair, so that a worker short of pairs can find the holder to
//! send away (see the reactor's head shedding); and it keeps one scratch
//! pair for work that only needs buffers for a moment and writes nothing
//! (a timeout that closes a connection holding none).

use std::collections::VecDeque;

use peregrine_core::IoBuffers;
use peregrine_core::Sizes;

use crate::slab::Token;

/// The buffer pairs of one worker, and the connections waiting for one.
pub(crate) struct Lending<Z: Sizes> {
    /// The pairs.
    pairs: Box<[IoBuffers<Z>]>,
    /// Who was last lent each pair, by pair number (a token as its raw
    /// number; 0, which no token is, for never). Not cleared when a pair
    /// comes back, which would cost every request a store: a caller that
    /// asks who holds pairs checks that they still do.
    holders: Box<[u64]>,
    /// Pairs no one holds.
    free: Vec<u32>,
    /// Free pairs kept for connections whose socket holds a whole request
    /// (or that speak WebSocket): a sixteenth of the pool.
    reserve: usize,
    /// For work that writes nothing, whoever asks.
    scratch: Box<[IoBuffers<Z>]>,
    /// Connections waiting for a pair whose socket holds a whole request
    /// head, in order of asking: served first.
    ready: VecDeque<Token>,
    /// The other connections waiting for a pair, in order of asking.
    waiting: VecDeque<Token>,
}

impl<Z: Sizes> Lending<Z> {
    /// `count` pairs (at least one), zeroed and allocated now.
    pub(crate) fn new(count: usize) -> Self {
        let count = count.max(1);
        Lending {
            pairs: crate::pool::zeroed_buffers(count),
            holders: vec![0; count].into_boxed_slice(),
            free: (0..count as u32).rev().collect(),
            reserve: count / 16,
            scratch: crate::pool::zeroed_buffers(1),
            ready: VecDeque::new(),
            waiting: VecDeque::new(),
        }
    }

    /// Lends a free pair to `holder`; `None` when every pair is lent.
    #[inline]
    pub(crate) fn lend(&mut self, holder: Token) -> Option<u32> {
        let pair = self.free.pop()?;
        self.holders[pair as usize] = holder.to_u64();
        Some(pair)
    }

    /// Lends a pair to `holder` if one is free beyond the reserve, or if
    /// `whole` (asked only then: it may cost a system call) says its socket
    /// holds a whole request; else puts it in line (see
    /// [`wait`](Self::wait)). So connections that have sent only part of a
    /// head can never take the last pairs from complete requests.
    #[inline(always)]
    pub(crate) fn lend_or_wait(
        &mut self,
        holder: Token,
        queued: &mut bool,
        whole: impl FnOnce() -> bool,
    ) -> Option<u32> {
        if self.free.len() > self.reserve {
            return self.lend(holder);
        }
        self.lend_short(holder, queued, whole)
    }

    /// [`lend_or_wait`](Self::lend_or_wait) when the pairs beyond the
    /// reserve are gone: out of line, for asking `whole` may need a large
    /// stack frame (a peek at the socket) that the usual lending should
    /// not set up.
    #[cold]
    #[inline(never)]
    fn lend_short(
        &mut self,
        holder: Token,
        queued: &mut bool,
        whole: impl FnOnce() -> bool,
    ) -> Option<u32> {
        let whole = whole();
        if whole {
            if let Some(pair) = self.lend(holder) {
                return Some(pair);
            }
        }
        self.wait(holder, queued, whole);
        None
    }

    /// Takes pair `pair` back.
    #[inline]
    pub(crate) fn give_back(&mut self, pair: u32) {
        self.free.push(pair);
    }

    /// Pair `pair`.
    #[inline]
    pub(crate) fn pair(&mut self, pair: u32) -> &mut IoBuffers<Z> {
        &mut self.pairs[pair as usize]
    }

    /// The scratch pair, for work that writes nothing into it.
    pub(crate) fn scratch(&mut self) -> &mut IoBuffers<Z> {
        &mut self.scratch[0]
    }

    /// Each pair lent at least once, with the connection it was last
    /// lent to: the holder, if that connection still holds pair `pair`.
    pub(crate) fn last_holders(&self) -> impl Iterator<Item = (u32, Token)> + '_ {
        (0..)
            .zip(self.holders.iter())
            .filter(|&(_, &raw)| raw != 0)
            .map(|(pair, &raw)| (pair, Token::from_u64(raw)))
    }

    /// Puts `token` in line for a pair, unless `queued` says it is already
    /// (and sets it): ahead of the others if its socket holds a whole
    /// request head (`ready`), so that a complete request does not wait
    /// behind connections that have sent only part of one.
    pub(crate) fn wait(&mut self, token: Token, queued: &mut bool, ready: bool) {
        if !*queued {
            *queued = true;
            if ready {
                self.ready.push_back(token);
            } else {
                self.waiting.push_back(token);
            }
        }
    }

    /// The next connection in line, if any: those with a whole head
    /// first. (Its own `queued` flag is the caller's to clear; a token
    /// whose connection is gone is the caller's to skip.)
    pub(crate) fn next_waiting(&mut self) -> Option<Token> {
        self.ready.pop_front().or_else(|| self.waiting.pop_front())
    }

    /// Takes `token` out of line: its connection is closing. A walk over
    /// the line, made only for a connection that was in it.
    pub(crate) fn leave_line(&mut self, token: Token) {
        self.ready.retain(|&queued| queued != token);
        self.waiting.retain(|&queued| queued != token);
    }

    /// Whether any connection waits for a pair.
    pub(crate) fn has_waiting(&self) -> bool {
        !self.ready.is_empty() || !self.waiting.is_empty()
    }

    /// Whether a connection with a whole request head waits for a pair.
    pub(crate) fn has_ready_waiting(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Makes room in the lines for `connections` connections in all.
    pub(crate) fn reserve_waiting(&mut self, connections: usize) {
        self.ready
            .reserve_exact(connections.saturating_sub(self.ready.len()));
        self.waiting
            .reserve_exact(connections.saturating_sub(self.waiting.len()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use peregrine_core::Capacity;

    #[test]
    fn the_last_pairs_are_kept_for_whole_requests() {
        // 32 pairs: 2 kept back.
        let mut lending = Lending::<Capacity<256, 1024>>::new(32);
        let token = |n: u64| Token::from_u64(n << 32);
        for n in 1..=30 {
            let mut queued = false;
            let lent = lending.lend_or_wait(token(n), &mut queued, || panic!("no need to look"));
            assert!(lent.is_some() && !queued);
        }
        // At the reserve: a partial head waits, a whole request is lent.
        let mut queued = false;
        assert_eq!(lending.lend_or_wait(token(31), &mut queued, || false), None);
        assert!(queued && lending.has_waiting() && !lending.has_ready_waiting());
        for n in 32..=33 {
            let mut queued = false;
            assert!(
                lending
                    .lend_or_wait(token(n), &mut queued, || true)
                    .is_some()
            );
        }
        // None left: a whole request waits too, ahead of the partial one.
        let mut queued = false;
        assert_eq!(lending.lend_or_wait(token(34), &mut queued, || true), None);
        assert!(lending.has_ready_waiting());
        assert_eq!(lending.next_waiting(), Some(token(34)));
        assert_eq!(lending.next_waiting(), Some(token(31)));
    }

    #[test]
    fn pairs_are_lent_to_their_holders_and_come_back() {
        let mut lending = Lending::<Capacity<256, 1024>>::new(2);
        let (a, b, c) = (
            Token::from_u64(1 << 32),
            Token::from_u64(2 << 32),
            Token::from_u64(3 << 32),
        );
        let first = lending.lend(a).unwrap();
        let second = lending.lend(b).unwrap();
        assert_ne!(first, second);
        // Empty: the third waits in line, once however often it asks.
        assert_eq!(lending.lend(c), None);
        let mut queued = false;
        lending.wait(c, &mut queued, false);
        lending.wait(c, &mut queued, true);
        assert!(queued && lending.has_waiting() && !lending.has_ready_waiting());
        let mut holders: Vec<_> = lending.last_holders().collect();
        holders.sort_by_key(|(_, token)| token.to_u64());
        assert_eq!(holders, [(first, a), (second, b)]);
        lending.pair(first).read[0] = 7;
        lending.give_back(first);
        // One with a whole head goes ahead of it.
        let d = Token::from_u64(4 << 32);
        let mut d_queued = false;
        lending.wait(d, &mut d_queued, true);
        assert!(lending.has_ready_waiting());
        assert_eq!(lending.next_waiting(), Some(d));
        assert_eq!(lending.next_waiting(), Some(c));
        assert_eq!(lending.next_waiting(), None);
        assert_eq!(lending.lend(c), Some(first));
        assert_eq!(lending.pair(first).read[0], 7);
    }
}
