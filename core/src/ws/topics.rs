//! The topics a WebSocket connection subscribed to, for publishing one
//! message to many connections.

use core::fmt;

/// How many topics one connection can subscribe to at once.
pub const MAX_TOPICS: usize = 8;

/// A fixed set of at most [`MAX_TOPICS`] topics. A topic is any `u64` the
/// application chooses (a room number, a hash of a channel name).
///
/// ```
/// use peregrine_core::ws::{MAX_TOPICS, Topics, TopicsFull};
///
/// let mut topics = Topics::new();
/// for topic in 0..MAX_TOPICS as u64 {
///     topics.subscribe(topic)?;
/// }
/// assert_eq!(topics.subscribe(99), Err(TopicsFull));
/// assert!(topics.subscribe(3).is_ok(), "subscribing twice is no error");
/// assert!(topics.unsubscribe(3));
/// assert!(!topics.contains(3));
/// topics.subscribe(99)?;
/// assert!(topics.contains(99));
/// # Ok::<(), TopicsFull>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Topics {
    /// The topics, in no particular order.
    list: heapless::Vec<u64, MAX_TOPICS>,
}

impl Topics {
    /// No topics.
    pub const fn new() -> Self {
        Topics {
            list: heapless::Vec::new(),
        }
    }

    /// Adds `topic` (a topic already in the set is not added twice).
    ///
    /// # Errors
    ///
    /// [`TopicsFull`] when [`MAX_TOPICS`] other topics are in the set.
    pub fn subscribe(&mut self, topic: u64) -> Result<(), TopicsFull> {
        if self.contains(topic) {
            return Ok(());
        }
        self.list.push(topic).map_err(|_| TopicsFull)
    }

    /// Removes `topic`; `false` if it was not in the set.
    pub fn unsubscribe(&mut self, topic: u64) -> bool {
        match self.list.iter().position(|&t| t == topic) {
            Some(index) => {
                self.list.swap_remove(index);
                true
            }
            None => false,
        }
    }

    /// Whether `topic` is in the set.
    pub fn contains(&self, topic: u64) -> bool {
        self.list.contains(&topic)
    }

    /// Removes every topic.
    pub fn clear(&mut self) {
        self.list.clear();
    }
}

/// A connection already has [`MAX_TOPICS`] topics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TopicsFull;

impl fmt::Display for TopicsFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a connection subscribes to at most {MAX_TOPICS} topics")
    }
}

#[cfg(feature = "std")]
impl std::error::Error for TopicsFull {}
