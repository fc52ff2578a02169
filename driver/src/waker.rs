//! What interrupts a worker's wait.

/// Something that interrupts a worker's wait.
pub trait Waker: Send + Sync {
    /// Wakes the worker.
    fn wake(&self);
}
