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

use crate::slab::Token;

/// The buffer pairs of one worker, and the connections waiting for one.
pub(crate) struct Lending<const READ: usize, const WRITE: usize> {
    /// The pairs.
    pairs: Box<[IoBuffers<READ, WRITE>]>,
    /// Who was last lent each pair, by pair number (a token as its raw
    /// number; 0, which no token is, for never). Not cleared when a pair
    /// comes back, which would cost every request a store: a caller that
    /// asks who holds pairs checks that they still do.
    holders: Box<[u64]>,
    /// Pairs no one holds.
    free: Vec<u32>,
    /// For work that writes nothing, whoever asks.
    scratch: Box<[IoBuffers<READ, WRITE>]>,
    /// Connections waiting for a pair, in order of asking.
    waiting: VecDeque<Token>,
}

impl<const READ: usize, const WRITE: usize> Lending<READ, WRITE> {
    /// `count` pairs (at least one), zeroed and allocated now.
    pub(crate) fn new(count: usize) -> Self {
        let count = count.max(1);
        Lending {
            pairs: crate::pool::zeroed_buffers(count),
            holders: vec![0; count].into_boxed_slice(),
            free: (0..count as u32).rev().collect(),
            scratch: crate::pool::zeroed_buffers(1),
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

    /// Takes pair `pair` back.
    #[inline]
    pub(crate) fn give_back(&mut self, pair: u32) {
        self.free.push(pair);
    }

    /// Pair `pair`.
    #[inline]
    pub(crate) fn pair(&mut self, pair: u32) -> &mut IoBuffers<READ, WRITE> {
        &mut self.pairs[pair as usize]
    }

    /// The scratch pair, for work that writes nothing into it.
    pub(crate) fn scratch(&mut self) -> &mut IoBuffers<READ, WRITE> {
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
    /// (and sets it).
    pub(crate) fn wait(&mut self, token: Token, queued: &mut bool) {
        if !*queued {
            *queued = true;
            self.waiting.push_back(token);
        }
    }

    /// The next connection in line, if any (its own `queued` flag is the
    /// caller's to clear; a token whose connection is gone is the caller's
    /// to skip).
    pub(crate) fn next_waiting(&mut self) -> Option<Token> {
        self.waiting.pop_front()
    }

    /// Whether any connection waits for a pair.
    pub(crate) fn has_waiting(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// Makes room in the line for `connections` connections in all.
    pub(crate) fn reserve_waiting(&mut self, connections: usize) {
        self.waiting
            .reserve_exact(connections.saturating_sub(self.waiting.len()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_lent_to_their_holders_and_come_back() {
        let mut lending = Lending::<256, 1024>::new(2);
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
        lending.wait(c, &mut queued);
        lending.wait(c, &mut queued);
        assert!(queued && lending.has_waiting());
        let mut holders: Vec<_> = lending.last_holders().collect();
        holders.sort_by_key(|(_, token)| token.to_u64());
        assert_eq!(holders, [(first, a), (second, b)]);
        lending.pair(first).read[0] = 7;
        lending.give_back(first);
        assert_eq!(lending.next_waiting(), Some(c));
        assert_eq!(lending.next_waiting(), None);
        assert_eq!(lending.lend(c), Some(first));
        assert_eq!(lending.pair(first).read[0], 7);
    }
}
