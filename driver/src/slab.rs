//! A slab of slots addressed by generation-tagged tokens, grown as values
//! arrive up to a maximum, with an intrusive list of the slots marked idle,
//! the one idle longest first.
//!
//! Marking a value idle costs a store when it is already listed: the list
//! is ordered by when each entry was *listed*, and an entry marked idle
//! again since is moved into its place only when it reaches the head
//! (`oldest_idle`). So the per-request cost is nil, and the head is still
//! exactly the value idle longest.
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

    /// The slot's number (what a connection's wake-up bit is keyed by).
    pub(crate) fn slot(self) -> usize {
        self.index()
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
    /// When the value was last marked idle, on the slab's idle clock.
    idle_since: u64,
    /// Its idle time when it was put where it stands in the list; the list
    /// is ordered by this, and `idle_since` is never earlier.
    listed_at: u64,
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
    /// Counts marks: the stamps of [`mark_idle`](Self::mark_idle), so
    /// that order is exact however coarse the caller's clock.
    idle_clock: u64,
}

impl<T> Slab<T> {
    /// Bytes each slot takes: the value and the slab's own tags and links.
    pub const SLOT_BYTES: usize = size_of::<Slot<T>>();

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
            idle_clock: 0,
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
                    idle_since: 0,
                    listed_at: 0,
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

    /// The token of the value in slot `slot` now, if it holds one.
    pub fn token_at(&self, slot: usize) -> Option<Token> {
        let held = self.slots.get(slot)?;
        held.value
            .is_some()
            .then(|| Token::new(slot as u32, held.generation))
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

    /// Marks the value `token` names as idle now: the newest of the idle
    /// values. One not yet listed joins the list at the newest end; one
    /// already listed only records when. Nothing happens for a stale
    /// token.
    #[inline(always)]
    pub fn mark_idle(&mut self, token: Token) {
        let Some(slot) = self.slots.get_mut(token.index()) else {
            return;
        };
        if slot.generation != token.generation() || slot.value.is_none() {
            return;
        }
        self.idle_clock += 1;
        let stamp = self.idle_clock;
        slot.idle_since = stamp;
        if !slot.idle {
            slot.listed_at = stamp;
            self.link_before(token.index() as u32, NIL);
        }
    }

    /// Takes the value `token` names out of the idle list (it is busy, or
    /// gone); it rejoins when next marked idle.
    pub fn mark_busy(&mut self, token: Token) {
        if self.live(token).is_some() {
            self.unlink(token.index() as u32);
        }
    }

    /// The value idle longest, if any is idle. Entries marked idle again
    /// since they were listed are first moved to where their stamp puts
    /// them.
    pub fn oldest_idle(&mut self) -> Option<Token> {
        loop {
            let head = self.idle_head;
            if head == NIL {
                return None;
            }
            let slot = &self.slots[head as usize];
            let since = slot.idle_since;
            if since == slot.listed_at {
                return Some(Token::new(head, slot.generation));
            }
            // Idle again since it was listed: move it back to its place,
            // searching from the newest end (where recent stamps go).
            self.unlink(head);
            self.slots[head as usize].listed_at = since;
            let mut after = self.idle_tail;
            while after != NIL && self.slots[after as usize].listed_at > since {
                after = self.slots[after as usize].prev;
            }
            let before = match after {
                NIL => self.idle_head,
                after => self.slots[after as usize].next,
            };
            self.link_before(head, before);
        }
    }

    /// Puts slot `index` in the idle list just before `before` ([`NIL`]:
    /// at the newest end).
    fn link_before(&mut self, index: u32, before: u32) {
        let prev = match before {
            NIL => self.idle_tail,
            before => self.slots[before as usize].prev,
        };
        {
            let slot = &mut self.slots[index as usize];
            slot.idle = true;
            slot.prev = prev;
            slot.next = before;
        }
        match prev {
            NIL => self.idle_head = index,
            prev => self.slots[prev as usize].next = index,
        }
        match before {
            NIL => self.idle_tail = index,
            before => self.slots[before as usize].prev = index,
        }
        self.idle_len += 1;
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
        slab.mark_idle(first);
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
    fn the_oldest_idle_is_the_value_idle_longest() {
        let mut slab = Slab::new(8);
        let t: Vec<_> = (0..5).map(|i| slab.insert(i).unwrap()).collect();
        assert_eq!(slab.oldest_idle(), None);
        for token in &t {
            slab.mark_idle(*token);
        }
        assert_eq!(idle_order(&slab), [0, 1, 2, 3, 4]);
        // Idle again after some activity: listed where it was, and moved
        // behind the others once it reaches the head.
        slab.mark_idle(t[0]);
        assert_eq!(idle_order(&slab), [0, 1, 2, 3, 4]);
        assert_eq!(slab.oldest_idle(), Some(t[1]));
        assert_eq!(idle_order(&slab), [1, 2, 3, 4, 0]);
        slab.mark_idle(t[0]);
        assert_eq!(idle_order(&slab), [1, 2, 3, 4, 0]);
        // Idle again before values listed after it were: it goes between
        // them, not to the newest end.
        slab.mark_idle(t[1]);
        slab.mark_busy(t[4]);
        slab.mark_idle(t[4]);
        assert_eq!(idle_order(&slab), [1, 2, 3, 0, 4]);
        slab.mark_idle(t[2]);
        assert_eq!(slab.oldest_idle(), Some(t[3]));
        assert_eq!(idle_order(&slab), [3, 0, 1, 4, 2]);
        // Busy: out of the list, wherever it was.
        slab.mark_busy(t[3]);
        slab.mark_busy(t[1]);
        slab.mark_busy(t[0]);
        assert_eq!(idle_order(&slab), [4, 2]);
        slab.mark_busy(t[3]);
        assert_eq!(idle_order(&slab), [4, 2]);
        assert_eq!(slab.oldest_idle(), Some(t[4]));
        // Removing unlinks.
        slab.remove(t[4]);
        assert_eq!(slab.oldest_idle(), Some(t[2]));
        slab.remove(t[2]);
        assert_eq!(idle_order(&slab), [] as [u32; 0]);
        assert_eq!(slab.oldest_idle(), None);
        // A reused slot starts busy.
        let again = slab.insert(9).unwrap();
        assert_eq!(again.index(), t[2].index());
        assert_eq!(slab.oldest_idle(), None);
        slab.mark_idle(again);
        slab.mark_idle(t[1]);
        assert_eq!(idle_order(&slab), [2, 1]);
        assert_eq!(slab.oldest_idle(), Some(again));
    }

    #[test]
    fn the_oldest_idle_matches_a_model_under_random_marks() {
        // A fixed pseudo-random walk of marks, with a clock that moves on;
        // the head is always a value with the earliest last-idle stamp.
        let mut slab = Slab::new(16);
        let tokens: Vec<_> = (0..16).map(|i| slab.insert(i).unwrap()).collect();
        let mut model: Vec<Option<u32>> = vec![None; 16];
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        for clock in 0..20_000u32 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let i = (seed % 16) as usize;
            if (seed >> 8) % 4 == 0 {
                slab.mark_busy(tokens[i]);
                model[i] = None;
            } else {
                slab.mark_idle(tokens[i]);
                model[i] = Some(clock);
            }
            let earliest = model.iter().flatten().min().copied();
            let head = slab.oldest_idle();
            assert_eq!(
                head.map(|t| model[t.index()]),
                earliest.map(Some),
                "step {clock}"
            );
        }
    }
}
