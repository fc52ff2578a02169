//! A fixed slab of slots addressed by generation-tagged tokens.
//!
//! Every slot carries a generation that changes each time it is freed, and
//! a [`Token`] names a slot *and* its generation, so an event or timer
//! that outlives its connection can never reach the connection that reuses
//! the slot.

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

    /// The slot index.
    fn index(self) -> usize {
        (self.0 & 0xffff_ffff) as usize
    }

    /// The generation.
    fn generation(self) -> u32 {
        (self.0 >> 32) as u32
    }
}

/// One slot: its generation and, while occupied, its value.
#[derive(Debug)]
struct Slot<T> {
    /// Changes every time the slot is freed.
    generation: u32,
    /// The value, if occupied.
    value: Option<T>,
}

/// A fixed-capacity slab, allocated once.
#[derive(Debug)]
pub struct Slab<T> {
    /// The slots.
    slots: Vec<Slot<T>>,
    /// Indices of free slots.
    free: Vec<u32>,
}

impl<T> Slab<T> {
    /// A slab of `capacity` slots, all allocated now. Generation 0 is never
    /// issued, so tokens below `1 << 32` are free for the caller's own use
    /// (a listener, a waker).
    pub fn with_capacity(capacity: usize) -> Self {
        let capacity = capacity.min(u32::MAX as usize);
        let mut slots = Vec::with_capacity(capacity);
        slots.resize_with(capacity, || Slot {
            generation: 1,
            value: None,
        });
        Slab {
            slots,
            free: (0..capacity as u32).rev().collect(),
        }
    }

    /// Stores `value`, returning its token, or gives it back when full.
    pub fn insert(&mut self, value: T) -> Result<Token, T> {
        let Some(index) = self.free.pop() else {
            return Err(value);
        };
        let slot = &mut self.slots[index as usize];
        slot.value = Some(value);
        Ok(Token((u64::from(slot.generation) << 32) | u64::from(index)))
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
        let slot = self.slots.get_mut(token.index())?;
        if slot.generation != token.generation() {
            return None;
        }
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

    /// Whether every slot is occupied.
    pub fn is_full(&self) -> bool {
        self.free.is_empty()
    }

    /// The tokens of every occupied slot, into `out` (cleared first).
    pub fn tokens(&self, out: &mut Vec<Token>) {
        out.clear();
        for (index, slot) in self.slots.iter().enumerate() {
            if slot.value.is_some() {
                out.push(Token((u64::from(slot.generation) << 32) | index as u64));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_token_never_reaches_the_reused_slot() {
        let mut slab = Slab::with_capacity(1);
        let first = slab.insert("first").unwrap();
        assert_eq!(slab.insert("no room"), Err("no room"));
        assert_eq!(slab.remove(first), Some("first"));
        let second = slab.insert("second").unwrap();
        assert_ne!(first, second);
        assert_eq!(slab.get_mut(first), None);
        assert_eq!(slab.remove(first), None);
        assert_eq!(slab.get_mut(second), Some(&mut "second"));
        assert!(slab.is_full());
    }
}
