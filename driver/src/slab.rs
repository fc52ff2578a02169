//! A slab of slots addressed by generation-tagged tokens, grown as values
//! arrive up to a maximum, with an intrusive list of the slots marked idle,
//! least recently marked first.
//!
//! Every slot carries a generation that changes each time it is freed, and
//! a [`Token`] names a slot *and* its generation, so an event or timer
//! that outlives its connection can never reach the connection that reuses
//! the slot.
//!
//! Slots are committed as they are first used: the slab starts with room
//! for a few and doubles (never past its maximum) when every slot it has is
//! taken, so a server configured for a million connections that holds a
//! hundred pays for a hundred-odd. A freed slot is reused before a new one
//! is made, and nothing is allocated once the slab has been as full as it
//! gets.

/// Slots a slab has room for before it first grows.
const INITIAL_SLOTS: usize = 64;

/// No slot: the end of the idle list.
const NIL: u32 = u32::MAX;

/// A slot index and the generation it was issued for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Token(u64);

impl Token {
    /// The token as a `u64`, for a poller's user data.
    pub fn to_u64(self) -> u64 {
        self.0
    }

    /// A token from a poller's user data.
    pub fn from_u64(raw: u64) -> Self {
        Token(raw)
    }

    /// The token of slot `index` at `generation`.
    fn new(index: u32, generation: u32) -> Self {
        Token((u64::from(generation) << 32) | u64::from(index))
    }

    /// The slot index.
    fn index(self) -> usize {
        (self.0 & 0xffff_ffff) as usize
    }

    /// The generation.
    fn generation(self) -> u32 {
        (self.0 >> 32) as u32
    }
}

/// One slot: its generation, its links in the idle list and, while
/// occupied, its value.
#[derive(Debug)]
struct Slot<T> {
    /// Changes every time the slot is freed.
    generation: u32,
    /// The previous slot in the idle list (towards the oldest), or [`NIL`].
    prev: u32,
    /// The next slot in the idle list (towards the newest), or [`NIL`].
    next: u32,
    /// Whether the slot is in the idle list.
    idle: bool,
    /// The value, if occupied.
    value: Option<T>,
}

/// A slab that grows up to `max` slots.
#[derive(Debug)]
pub struct Slab<T> {
    /// The slots made so far.
    slots: Vec<Slot<T>>,
    /// Indices of free slots; room for every slot is kept, so freeing
    /// never allocates.
    free: Vec<u32>,
    /// The most slots there may be.
    max: usize,
    /// The slot idle longest, or [`NIL`].
    idle_head: u32,
    /// The slot idle most recently, or [`NIL`].
    idle_tail: u32,
    /// Slots in the idle list.
    idle_len: usize,
}

impl<T> Slab<T> {
    /// A slab of at most `max` slots (at most `u32::MAX - 1`), with room
    /// for a few now and more made as values arrive. Generation 0 is never
    /// issued, so tokens below `1 << 32` are free for the caller's own use
    /// (a listener, a waker).
    pub fn new(max: usize) -> Self {
        let max = max.min(NIL as usize - 1);
        let initial = max.min(INITIAL_SLOTS);
        Slab {
            slots: Vec::with_capacity(initial),
            free: Vec::with_capacity(initial),
            max,
            idle_head: NIL,
            idle_tail: NIL,
            idle_len: 0,
        }
    }

    /// A slab of `capacity` slots, all made now.
    pub fn with_capacity(capacity: usize) -> Self {
        let mut slab = Slab::new(capacity);
        slab.grow_to(slab.max);
        slab
    }

    /// Makes room for `capacity` slots (at most the maximum) without
    /// further allocation.
    fn grow_to(&mut self, capacity: usize) {
        let capacity = capacity.min(self.max);
        if capacity > self.slots.capacity() {
            self.slots.reserve_exact(capacity - self.slots.len());
        }
        // Room in the free list for every slot there may be until the next
        // growth, so that `remove` never allocates.
        let room = self.slots.capacity().min(self.max);
        if room > self.free.capacity() {
            self.free.reserve_exact(room - self.free.len());
        }
    }

    /// Stores `value`, returning its token, or gives it back when every
    /// slot up to the maximum is taken.
    pub fn insert(&mut self, value: T) -> Result<Token, T> {
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                let index = self.slots.len();
                if index >= self.max {
                    return Err(value);
                }
                if index == self.slots.capacity() {
                    // Amortised: double, up to the maximum.
                    self.grow_to(index.max(1) * 2);
                }
                self.slots.push(Slot {
                    generation: 1,
                    prev: NIL,
                    next: NIL,
                    idle: false,
                    value: None,
                });
                index as u32
            }
        };
        let slot = &mut self.slots[index as usize];
        slot.value = Some(value);
        Ok(Token::new(index, slot.generation))
    }

    /// The slot `token` names, if it still holds the value issued with it.
    fn live(&self, token: Token) -> Option<&Slot<T>> {
        let slot = self.slots.get(token.index())?;
        (slot.generation == token.generation() && slot.value.is_some()).then_some(slot)
    }

    /// The value `token` names, unless its slot was freed since.
    pub fn get_mut(&mut self, token: Token) -> Option<&mut T> {
        let slot = self.slots.get_mut(token.index())?;
        if slot.generation != token.generation() {
            return None;
        }
        slot.value.as_mut()
    }

    /// Frees the slot `token` names, returning its value.
    pub fn remove(&mut self, token: Token) -> Option<T> {
        self.live(token)?;
        self.unlink(token.index() as u32);
        let slot = &mut self.slots[token.index()];
        let value = slot.value.take()?;
        // Generation 0 is never issued, so a zeroed token matches nothing.
        slot.generation = slot.generation.wrapping_add(1).max(1);
        self.free.push(token.index() as u32);
        Some(value)
    }

    /// How many slots are occupied.
    pub fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// Whether no slot is occupied.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether every slot up to the maximum is occupied.
    pub fn is_full(&self) -> bool {
        self.len() >= self.max
    }

    /// The most values the slab holds.
    pub fn max(&self) -> usize {
        self.max
    }

    /// How many values the slab holds before it next allocates.
    pub fn capacity(&self) -> usize {
        self.slots.capacity().min(self.max)
    }

    /// The tokens of every occupied slot, into `out` (cleared first).
    pub fn tokens(&self, out: &mut Vec<Token>) {
        out.clear();
        for (index, slot) in self.slots.iter().enumerate() {
            if slot.value.is_some() {
                out.push(Token::new(index as u32, slot.generation));
            }
        }
    }

    /// Marks the value `token` names as idle (it becomes the newest in
    /// the idle list, even if it was in it already) or as busy (it leaves
    /// the list). Nothing happens for a stale token.
    #[inline]
    pub fn set_idle(&mut self, token: Token, idle: bool) {
        let Some(slot) = self.live(token) else {
            return;
        };
        let index = token.index() as u32;
        if !idle {
            if slot.idle {
                self.unlink(index);
            }
            return;
        }
        if slot.idle {
            if self.idle_tail == index {
                return;
            }
            self.unlink(index);
        }
        let tail = self.idle_tail;
        {
            let slot = &mut self.slots[index as usize];
            slot.idle = true;
            slot.prev = tail;
            slot.next = NIL;
        }
        match tail {
            NIL => self.idle_head = index,
            tail => self.slots[tail as usize].next = index,
        }
        self.idle_tail = index;
        self.idle_len += 1;
    }

    /// The value idle longest, if any is idle.
    pub fn oldest_idle(&self) -> Option<Token> {
        match self.idle_head {
            NIL => None,
            head => Some(Token::new(head, self.slots[head as usize].generation)),
        }
    }

    /// How many values are idle.
    pub fn idle_len(&self) -> usize {
        self.idle_len
    }

    /// Takes slot `index` out of the idle list, if it is in it.
    fn unlink(&mut self, index: u32) {
        let slot = &mut self.slots[index as usize];
        if !slot.idle {
            return;
        }
        slot.idle = false;
        let (prev, next) = (slot.prev, slot.next);
        slot.prev = NIL;
        slot.next = NIL;
        match prev {
            NIL => self.idle_head = next,
            prev => self.slots[prev as usize].next = next,
        }
        match next {
            NIL => self.idle_tail = prev,
            next => self.slots[next as usize].prev = prev,
        }
        self.idle_len -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The idle list, oldest first, walked both ways (and checked to agree).
    fn idle_order<T>(slab: &Slab<T>) -> Vec<u32> {
        let mut forward = Vec::new();
        let mut at = slab.idle_head;
        while at != NIL {
            forward.push(at);
            at = slab.slots[at as usize].next;
        }
        let mut backward = Vec::new();
        let mut at = slab.idle_tail;
        while at != NIL {
            backward.push(at);
            at = slab.slots[at as usize].prev;
        }
        backward.reverse();
        assert_eq!(forward, backward, "the links disagree");
        assert_eq!(forward.len(), slab.idle_len());
        forward
    }

    #[test]
    fn a_stale_token_never_reaches_the_reused_slot() {
        let mut slab = Slab::new(1);
        let first = slab.insert("first").unwrap();
        assert_eq!(slab.insert("no room"), Err("no room"));
        assert_eq!(slab.remove(first), Some("first"));
        let second = slab.insert("second").unwrap();
        assert_ne!(first, second);
        assert_eq!(slab.get_mut(first), None);
        assert_eq!(slab.remove(first), None);
        // A stale token cannot mark the new value idle, either.
        slab.set_idle(first, true);
        assert_eq!(slab.oldest_idle(), None);
        assert_eq!(slab.get_mut(second), Some(&mut "second"));
        assert!(slab.is_full());
    }

    #[test]
    fn a_stale_token_stays_stale_across_growth() {
        let mut slab = Slab::new(1000);
        let tokens: Vec<_> = (0..10).map(|i| slab.insert(i).unwrap()).collect();
        let old = tokens[3];
        assert_eq!(slab.remove(old), Some(3));
        // Growing moves the slots; the freed one is reused first, under a
        // new generation.
        let more: Vec<_> = (10..500).map(|i| slab.insert(i).unwrap()).collect();
        assert_eq!(more[0].index(), old.index());
        assert_ne!(more[0], old);
        assert_eq!(slab.get_mut(old), None);
        assert_eq!(slab.get_mut(more[0]), Some(&mut 10));
        for (i, token) in tokens.iter().enumerate().filter(|(i, _)| *i != 3) {
            assert_eq!(slab.get_mut(*token).copied(), Some(i));
        }
    }

    #[test]
    fn grows_on_demand_up_to_its_maximum_and_no_further() {
        let mut slab = Slab::new(1000);
        assert!(slab.capacity() <= INITIAL_SLOTS, "allocated up front");
        assert_eq!(slab.slots.len(), 0);
        let mut tokens = Vec::new();
        for i in 0..1000 {
            tokens.push(slab.insert(i).unwrap());
            // Doubling: never more than twice what is held, never past the
            // maximum.
            assert!(slab.capacity() <= (2 * slab.len()).max(INITIAL_SLOTS));
            assert!(slab.slots.capacity() <= 1000);
        }
        assert!(slab.is_full());
        assert_eq!(slab.insert(1000), Err(1000));
        assert_eq!(slab.len(), 1000);
        // Freeing and refilling reuses slots: nothing grows.
        let (slots, free) = (slab.slots.as_ptr(), slab.free.capacity());
        for token in tokens.drain(..) {
            slab.remove(token);
        }
        assert!(slab.is_empty());
        for i in 0..1000 {
            slab.insert(i).unwrap();
        }
        assert_eq!(slab.slots.as_ptr(), slots);
        assert_eq!(slab.free.capacity(), free);
    }

    #[test]
    fn freeing_never_allocates() {
        let mut slab = Slab::new(300);
        let tokens: Vec<_> = (0..200).map(|i| slab.insert(i).unwrap()).collect();
        let free = slab.free.as_ptr();
        for token in tokens {
            slab.remove(token);
        }
        assert_eq!(slab.free.as_ptr(), free);
        assert_eq!(slab.free.len(), 200);
    }

    #[test]
    fn the_idle_list_keeps_least_recently_idle_first() {
        let mut slab = Slab::new(8);
        let t: Vec<_> = (0..5).map(|i| slab.insert(i).unwrap()).collect();
        assert_eq!(slab.oldest_idle(), None);
        for token in &t {
            slab.set_idle(*token, true);
        }
        assert_eq!(idle_order(&slab), [0, 1, 2, 3, 4]);
        // Idle again after some activity: the newest.
        slab.set_idle(t[0], true);
        assert_eq!(idle_order(&slab), [1, 2, 3, 4, 0]);
        slab.set_idle(t[0], true);
        assert_eq!(idle_order(&slab), [1, 2, 3, 4, 0]);
        // Busy: out of the list, wherever it was.
        slab.set_idle(t[3], false);
        slab.set_idle(t[1], false);
        slab.set_idle(t[0], false);
        assert_eq!(idle_order(&slab), [2, 4]);
        slab.set_idle(t[3], false);
        assert_eq!(idle_order(&slab), [2, 4]);
        assert_eq!(slab.oldest_idle(), Some(t[2]));
        // Removing unlinks.
        slab.remove(t[2]);
        assert_eq!(slab.oldest_idle(), Some(t[4]));
        slab.remove(t[4]);
        assert_eq!(idle_order(&slab), [] as [u32; 0]);
        assert_eq!(slab.oldest_idle(), None);
        // A reused slot starts busy.
        let again = slab.insert(9).unwrap();
        assert_eq!(again.index(), t[4].index());
        assert_eq!(slab.oldest_idle(), None);
        slab.set_idle(again, true);
        slab.set_idle(t[1], true);
        assert_eq!(idle_order(&slab), [4, 1]);
        assert_eq!(slab.oldest_idle(), Some(again));
    }
}
