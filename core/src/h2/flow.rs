//! Flow control (RFC 9113 §5.2, §6.9): the arithmetic of windows, and when
//! to grow the peer's.
//!
//! Every flow-controlled frame (DATA, whose whole payload counts, padding
//! included) is counted against two windows: its stream's and the
//! connection's. A [`Window`] is one of them, for either direction:
//!
//! - Sending: the server may send as many bytes as the window allows,
//!   [`consume`](Window::consume)s them as it sends, and the peer's
//!   WINDOW_UPDATE frames [`increase`](Window::increase) it. A change of
//!   the peer's `SETTINGS_INITIAL_WINDOW_SIZE` moves every stream window
//!   by the difference, possibly below zero
//!   ([`apply_initial_size_change`](Window::apply_initial_size_change),
//!   §6.9.2).
//! - Receiving: a [`ReceiveWindow`] counts what the peer may still send,
//!   and decides when to send WINDOW_UPDATE and for how much as the
//!   application takes the data: in increments of at least half the
//!   window, never a flood of small ones.
//!
//! ```
//! use peregrine_core::h2::flow::{ReceiveWindow, Window};
//! use peregrine_core::h2::frame::StreamId;
//!
//! let stream = StreamId::new(1).unwrap();
//!
//! // Sending on a stream: the peer allows 65,535 bytes, then lowers its
//! // initial window to 1,000 after 50,000 were sent.
//! let mut send = Window::stream(stream, 65_535);
//! send.consume(50_000).unwrap();
//! send.apply_initial_size_change(65_535, 1_000).unwrap();
//! assert_eq!(send.size(), -49_000); // nothing may be sent...
//! send.increase(49_500).unwrap();
//! assert_eq!(send.available(), 500); // ...until the peer gives room
//!
//! // Receiving: the peer sends, the application reads, the window refills
//! // in one WINDOW_UPDATE once half of it was read.
//! let mut receive = ReceiveWindow::stream(stream, 65_535);
//! receive.receive(40_000).unwrap();
//! receive.release(30_000);
//! assert_eq!(receive.take_update(), None); // under half: not yet
//! receive.release(10_000);
//! assert_eq!(receive.take_update(), Some(40_000));
//! assert_eq!(receive.window().size(), 65_535);
//! ```

use core::fmt;

use super::frame::{ErrorCode, ErrorScope, StreamId};

/// The largest a window may be: 2³¹ − 1 bytes (§6.9.1).
pub const MAX_WINDOW_SIZE: u32 = (1 << 31) - 1;

/// The initial size of every window: the connection's always, and the
/// streams' until `SETTINGS_INITIAL_WINDOW_SIZE` says otherwise: 65,535
/// bytes (§6.9.2).
pub const DEFAULT_WINDOW_SIZE: u32 = 65_535;

/// The flow-control rule a peer broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FlowControlViolation {
    /// A WINDOW_UPDATE would take the window above 2³¹ − 1 (§6.9.1).
    UpdateOverflow,
    /// A change of `SETTINGS_INITIAL_WINDOW_SIZE` would take a stream
    /// window above 2³¹ − 1 (§6.9.2); always a connection error.
    SettingsOverflow,
    /// A flow-controlled frame longer than the window allows (§6.9.1).
    WindowExceeded,
}

/// A breach of flow control: a FLOW_CONTROL_ERROR, of the connection or
/// of the stream whose window it concerns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowControlError {
    /// The rule broken.
    pub violation: FlowControlViolation,
    /// Whether the connection or one stream ends.
    pub scope: ErrorScope,
}

impl FlowControlError {
    /// The error's code: always [`ErrorCode::FlowControlError`].
    #[inline]
    pub const fn code(&self) -> ErrorCode {
        ErrorCode::FlowControlError
    }
}

impl fmt::Display for FlowControlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.violation {
            FlowControlViolation::UpdateOverflow => "WINDOW_UPDATE takes the window above 2^31-1",
            FlowControlViolation::SettingsOverflow => {
                "SETTINGS_INITIAL_WINDOW_SIZE takes a window above 2^31-1"
            }
            FlowControlViolation::WindowExceeded => "more data than the window allows",
        })?;
        match self.scope {
            ErrorScope::Connection => f.write_str(" (connection)"),
            ErrorScope::Stream(id) => write!(f, " (stream {id})"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for FlowControlError {}

/// A flow-control window: how many more bytes of flow-controlled frames
/// one side may send, for the connection or one stream.
///
/// Its size is a signed 31-bit integer: at most 2³¹ − 1, and below zero
/// after a smaller `SETTINGS_INITIAL_WINDOW_SIZE` took more room than
/// remained (§6.9.2). Nothing may be sent while it is zero or less, but an
/// empty DATA frame (§6.9.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Window {
    /// The size, within ±(2³¹ − 1).
    size: i32,
    /// Which window this is, and so what a breach of it ends.
    scope: ErrorScope,
}

impl Window {
    /// The connection's window: 65,535 bytes, whatever the settings say
    /// (§6.9.2); only WINDOW_UPDATE frames on stream 0 grow it.
    pub const fn connection() -> Window {
        Window {
            size: DEFAULT_WINDOW_SIZE as i32,
            scope: ErrorScope::Connection,
        }
    }

    /// The window of stream `id`, of `initial_size` bytes: the
    /// `SETTINGS_INITIAL_WINDOW_SIZE` in force when the stream opened (the
    /// peer's for sending, ours for receiving). Values above 2³¹ − 1,
    /// which a valid SETTINGS frame cannot carry, count as 2³¹ − 1;
    /// stream 0 makes a connection window.
    pub const fn stream(id: StreamId, initial_size: u32) -> Window {
        let size = if initial_size > MAX_WINDOW_SIZE {
            MAX_WINDOW_SIZE
        } else {
            initial_size
        };
        Window {
            size: size as i32,
            scope: if id.is_connection() {
                ErrorScope::Connection
            } else {
                ErrorScope::Stream(id)
            },
        }
    }

    /// The size in bytes, negative after a settings change took more room
    /// than remained.
    #[inline]
    pub const fn size(&self) -> i32 {
        self.size
    }

    /// How many bytes may be sent now: the size, or 0 when it is negative.
    #[inline]
    pub const fn available(&self) -> u32 {
        if self.size > 0 { self.size as u32 } else { 0 }
    }

    /// Which window this is: the connection's, or a stream's.
    #[inline]
    pub const fn scope(&self) -> ErrorScope {
        self.scope
    }

    /// The error of this window.
    const fn error(&self, violation: FlowControlViolation) -> FlowControlError {
        FlowControlError {
            violation,
            scope: self.scope,
        }
    }

    /// Counts `len` bytes of flow-controlled frames against the window:
    /// sent by us, or received from the peer. An empty frame always
    /// passes.
    ///
    /// # Errors
    ///
    /// [`FlowControlViolation::WindowExceeded`] if `len` is more than the
    /// window allows; the window is unchanged.
    pub fn consume(&mut self, len: u32) -> Result<(), FlowControlError> {
        if len == 0 {
            return Ok(());
        }
        if i64::from(len) > i64::from(self.size) {
            return Err(self.error(FlowControlViolation::WindowExceeded));
        }
        self.set(i64::from(self.size) - i64::from(len))
            .ok_or(self.error(FlowControlViolation::WindowExceeded))
    }

    /// Grows the window by a WINDOW_UPDATE's `increment`.
    ///
    /// # Errors
    ///
    /// [`FlowControlViolation::UpdateOverflow`] if the window would exceed
    /// 2³¹ − 1 (§6.9.1), a stream error for a stream window and a
    /// connection error for the connection's; the window is unchanged.
    pub fn increase(&mut self, increment: u32) -> Result<(), FlowControlError> {
        self.set(i64::from(self.size) + i64::from(increment))
            .ok_or(self.error(FlowControlViolation::UpdateOverflow))
    }

    /// Moves a stream window by the change of
    /// `SETTINGS_INITIAL_WINDOW_SIZE` from `old_initial` to `new_initial`
    /// (§6.9.2): down, possibly below zero, or up. The connection's window
    /// does not move.
    ///
    /// # Errors
    ///
    /// [`FlowControlViolation::SettingsOverflow`], always a connection
    /// error, if the window would leave ±(2³¹ − 1) (above is what §6.9.2
    /// forbids; below, valid settings never reach); the window is
    /// unchanged.
    pub fn apply_initial_size_change(
        &mut self,
        old_initial: u32,
        new_initial: u32,
    ) -> Result<(), FlowControlError> {
        if self.scope.is_connection() {
            return Ok(());
        }
        let size = i64::from(self.size) + i64::from(new_initial) - i64::from(old_initial);
        self.set(size).ok_or(FlowControlError {
            violation: FlowControlViolation::SettingsOverflow,
            scope: ErrorScope::Connection,
        })
    }

    /// Sets the size to `size` if it is within ±(2³¹ − 1).
    fn set(&mut self, size: i64) -> Option<()> {
        let limit = i64::from(MAX_WINDOW_SIZE);
        if !(-limit..=limit).contains(&size) {
            return None;
        }
        self.size = i32::try_from(size).ok()?;
        Some(())
    }
}

/// The receiving side of one window: what the peer may still send, and
/// when to send WINDOW_UPDATE to let it send more.
///
/// The window is to be kept at a target size (the initial window size we
/// advertised, or more): received data holds part of it until the
/// application [`release`](Self::release)s it, and the released room goes
/// back to the peer. [`take_update`](Self::take_update) gives it back
/// once it reaches half the target (at least one byte), in one increment;
/// until then the peer still has at least half the target to send into,
/// so it never stalls waiting for an update, and never gets a flood of
/// small ones. Data the application does not release holds its room: that
/// is the backpressure on the peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReceiveWindow {
    /// What the peer may still send.
    window: Window,
    /// The size the window returns to once everything received was
    /// released.
    target: u32,
    /// Bytes received and not yet released by the application.
    unreleased: u32,
}

impl ReceiveWindow {
    /// The connection's receiving window: 65,535 bytes to begin with
    /// (§6.9.2). A larger [`set_target`](Self::set_target) makes the
    /// next update give the peer the difference.
    pub const fn connection() -> ReceiveWindow {
        ReceiveWindow {
            window: Window::connection(),
            target: DEFAULT_WINDOW_SIZE,
            unreleased: 0,
        }
    }

    /// The receiving window of stream `id`, of `initial_size` bytes: our
    /// `SETTINGS_INITIAL_WINDOW_SIZE` (at most 2³¹ − 1).
    pub const fn stream(id: StreamId, initial_size: u32) -> ReceiveWindow {
        let window = Window::stream(id, initial_size);
        ReceiveWindow {
            window,
            target: window.available(),
            unreleased: 0,
        }
    }

    /// What the peer may still send.
    #[inline]
    pub const fn window(&self) -> Window {
        self.window
    }

    /// The size the window returns to once everything received was
    /// released.
    #[inline]
    pub const fn target(&self) -> u32 {
        self.target
    }

    /// Bytes received that the application has not released.
    #[inline]
    pub const fn unreleased(&self) -> u32 {
        self.unreleased
    }

    /// Counts a received flow-controlled frame: `len` is its whole
    /// payload ([`DataFrame::flow_controlled_len`](super::frame::DataFrame::flow_controlled_len)).
    /// Its padding is no data for the application: release it at once.
    ///
    /// # Errors
    ///
    /// [`FlowControlViolation::WindowExceeded`] if the peer sent more than
    /// the window allowed; nothing is counted.
    pub fn receive(&mut self, len: u32) -> Result<(), FlowControlError> {
        self.window.consume(len)?;
        self.unreleased = self.unreleased.saturating_add(len);
        Ok(())
    }

    /// Returns `len` received bytes to the window: the application took
    /// them (or they were discarded). Never more than was received.
    pub fn release(&mut self, len: u32) {
        self.unreleased = self.unreleased.saturating_sub(len);
    }

    /// Sets the size the window is kept at, at most 2³¹ − 1: raising it
    /// gives the peer the difference in the next update; lowering it holds
    /// updates back until the peer used the excess.
    pub fn set_target(&mut self, target: u32) {
        self.target = target.min(MAX_WINDOW_SIZE);
    }

    /// Moves a stream window, and its target, by the change of our
    /// `SETTINGS_INITIAL_WINDOW_SIZE` from `old_initial` to `new_initial`,
    /// once the peer acknowledged it (§6.9.2). The connection's window
    /// does not move.
    ///
    /// # Errors
    ///
    /// As [`Window::apply_initial_size_change`].
    pub fn apply_initial_size_change(
        &mut self,
        old_initial: u32,
        new_initial: u32,
    ) -> Result<(), FlowControlError> {
        if self.window.scope().is_connection() {
            return Ok(());
        }
        self.window
            .apply_initial_size_change(old_initial, new_initial)?;
        let target = i64::from(self.target) + i64::from(new_initial) - i64::from(old_initial);
        let target = target.clamp(0, i64::from(MAX_WINDOW_SIZE));
        self.target = u32::try_from(target).unwrap_or(MAX_WINDOW_SIZE);
        Ok(())
    }

    /// The increment of the WINDOW_UPDATE to send now, if one is due:
    /// the room released since the last one, plus any growth of the
    /// target, once that is at least half the target. The window counts
    /// it as sent.
    pub fn take_update(&mut self) -> Option<u32> {
        let due = self.due();
        let threshold = i64::from((self.target / 2).max(1));
        if due < threshold {
            return None;
        }
        let increment = u32::try_from(due.min(i64::from(MAX_WINDOW_SIZE))).ok()?;
        // Never fails: the window grows to at most the target.
        self.window.increase(increment).ok()?;
        Some(increment)
    }

    /// How far the window is below where it should be: the target less
    /// what the application holds.
    fn due(&self) -> i64 {
        i64::from(self.target) - i64::from(self.unreleased) - i64::from(self.window.size())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: u32 = MAX_WINDOW_SIZE;

    fn stream(id: u32) -> StreamId {
        StreamId::new(id).unwrap()
    }

    #[test]
    fn initial_sizes() {
        assert_eq!(Window::connection().size(), 65_535);
        assert_eq!(Window::connection().scope(), ErrorScope::Connection);
        let window = Window::stream(stream(1), 0);
        assert_eq!((window.size(), window.available()), (0, 0));
        assert_eq!(window.scope(), ErrorScope::Stream(stream(1)));
        assert_eq!(Window::stream(stream(1), MAX).size(), i32::MAX);
        assert_eq!(Window::stream(stream(1), u32::MAX).size(), i32::MAX);
        assert_eq!(
            Window::stream(StreamId::CONNECTION, 10).scope(),
            ErrorScope::Connection
        );
    }

    #[test]
    fn consume_up_to_the_window_and_not_one_more() {
        let mut window = Window::stream(stream(3), 100);
        assert_eq!(
            window.consume(101),
            Err(FlowControlError {
                violation: FlowControlViolation::WindowExceeded,
                scope: ErrorScope::Stream(stream(3)),
            })
        );
        assert_eq!(window.size(), 100);
        window.consume(100).unwrap();
        assert_eq!(window.size(), 0);
        window.consume(0).unwrap(); // an empty DATA frame always passes
        let error = window.consume(1).unwrap_err();
        assert_eq!(error.code(), ErrorCode::FlowControlError);

        let mut connection = Window::connection();
        connection.consume(65_535).unwrap();
        assert_eq!(
            connection.consume(1).unwrap_err().scope,
            ErrorScope::Connection
        );
        assert_eq!(
            connection.consume(u32::MAX).unwrap_err().scope,
            ErrorScope::Connection
        );
    }

    #[test]
    fn updates_up_to_the_maximum_and_not_one_more() {
        let mut window = Window::connection();
        window.increase(MAX - 65_535).unwrap();
        assert_eq!(window.size(), i32::MAX);
        assert_eq!(
            window.increase(1),
            Err(FlowControlError {
                violation: FlowControlViolation::UpdateOverflow,
                scope: ErrorScope::Connection,
            })
        );
        assert_eq!(window.size(), i32::MAX);

        let mut window = Window::stream(stream(5), 0);
        window.increase(MAX).unwrap();
        let error = window.increase(1).unwrap_err();
        assert_eq!(error.scope, ErrorScope::Stream(stream(5)));
        assert_eq!(error.violation, FlowControlViolation::UpdateOverflow);
        let mut window = Window::stream(stream(5), 1);
        assert!(window.increase(MAX).is_err());
        assert!(window.increase(u32::MAX).is_err());
        assert_eq!(window.size(), 1);
    }

    #[test]
    fn settings_changes_move_stream_windows_below_zero_and_back() {
        let mut window = Window::stream(stream(1), 65_535);
        window.consume(60_000).unwrap();
        window.apply_initial_size_change(65_535, 16_384).unwrap();
        assert_eq!(window.size(), 5_535 - 49_151);
        assert_eq!(window.available(), 0);
        assert!(window.consume(1).is_err());
        window.consume(0).unwrap();
        // Updates count from the negative size.
        window.increase(43_616).unwrap();
        assert_eq!(window.size(), 0);
        window.apply_initial_size_change(16_384, 65_535).unwrap();
        assert_eq!(window.size(), 49_151);

        // Down to the lowest a valid sequence reaches, and back.
        let mut window = Window::stream(stream(1), MAX);
        window.consume(MAX).unwrap();
        window.apply_initial_size_change(MAX, 0).unwrap();
        assert_eq!(window.size(), -i32::MAX);
        window.apply_initial_size_change(0, MAX).unwrap();
        assert_eq!(window.size(), 0);

        // The connection's window ignores the setting.
        let mut connection = Window::connection();
        connection.apply_initial_size_change(65_535, 0).unwrap();
        assert_eq!(connection.size(), 65_535);
    }

    #[test]
    fn settings_overflow_is_a_connection_error() {
        let mut window = Window::stream(stream(7), 65_535);
        window.increase(MAX - 65_535).unwrap(); // at the maximum
        window.apply_initial_size_change(65_535, 65_535).unwrap();
        assert_eq!(
            window.apply_initial_size_change(65_535, 65_536),
            Err(FlowControlError {
                violation: FlowControlViolation::SettingsOverflow,
                scope: ErrorScope::Connection,
            })
        );
        assert_eq!(window.size(), i32::MAX);
        let mut window = Window::stream(stream(7), 0);
        window.apply_initial_size_change(0, MAX).unwrap();
        assert!(window.apply_initial_size_change(MAX, u32::MAX).is_err());
        // Below the range valid settings reach: refused, not wrapped.
        let mut window = Window::stream(stream(7), 0);
        window.apply_initial_size_change(MAX, 0).unwrap();
        assert_eq!(window.size(), -i32::MAX);
        assert!(window.apply_initial_size_change(1, 0).is_err());
        assert_eq!(window.size(), -i32::MAX);
    }

    #[test]
    fn receive_updates_once_half_the_window_is_released() {
        let mut receive = ReceiveWindow::stream(stream(1), 65_535);
        assert_eq!(receive.take_update(), None);
        receive.receive(65_535).unwrap();
        assert_eq!(receive.take_update(), None); // nothing released
        receive.release(32_766);
        assert_eq!(receive.take_update(), None); // one byte short of half
        receive.release(1);
        assert_eq!(receive.take_update(), Some(32_767));
        assert_eq!(receive.take_update(), None);
        assert_eq!(receive.window().size(), 32_767);
        assert_eq!(receive.unreleased(), 32_768);
        receive.release(u32::MAX); // more than received: saturates
        assert_eq!(receive.take_update(), Some(32_768));
        assert_eq!(receive.window().size(), 65_535);
        assert_eq!(
            receive.receive(65_536).unwrap_err().violation,
            FlowControlViolation::WindowExceeded
        );
    }

    #[test]
    fn small_releases_make_no_flood_of_updates() {
        let mut receive = ReceiveWindow::connection();
        let mut updates = 0;
        let mut given = 0u64;
        for _ in 0..10_000 {
            receive.receive(100).unwrap();
            receive.release(100);
            if let Some(increment) = receive.take_update() {
                assert!(increment >= 32_767);
                updates += 1;
                given += u64::from(increment);
            }
            assert!(receive.window().size() >= 32_767 - 100);
        }
        assert_eq!(updates, 10_000 * 100 / 32_800);
        assert_eq!(
            given + u64::from(65_535 - receive.window().available()),
            1_000_000
        );
    }

    #[test]
    fn raising_the_connection_target_gives_the_difference() {
        let mut receive = ReceiveWindow::connection();
        receive.set_target(1 << 20);
        assert_eq!(receive.take_update(), Some((1 << 20) - 65_535));
        assert_eq!(receive.window().size(), 1 << 20);
        // Lowering it holds updates back until the peer used the excess.
        receive.set_target(65_535);
        receive.receive(1_000_000).unwrap();
        receive.release(1_000_000);
        assert_eq!(receive.take_update(), None);
        receive.receive(48_576).unwrap();
        receive.release(48_576);
        assert_eq!(receive.window().size(), 0);
        assert_eq!(receive.take_update(), Some(65_535));
        receive.set_target(u32::MAX);
        assert_eq!(receive.target(), MAX);
        assert_eq!(receive.take_update(), Some(MAX - 65_535));
        assert_eq!(receive.take_update(), None);
    }

    #[test]
    fn receive_window_follows_our_settings_changes() {
        let mut receive = ReceiveWindow::stream(stream(1), 65_535);
        receive.receive(60_000).unwrap(); // all buffered by the application
        receive.apply_initial_size_change(65_535, 1_000).unwrap();
        assert_eq!(receive.target(), 1_000);
        assert_eq!(receive.window().size(), 5_535 - 64_535);
        assert_eq!(receive.take_update(), None);
        assert!(receive.receive(1).is_err());
        receive.release(60_000);
        assert_eq!(receive.take_update(), Some(60_000));
        assert_eq!(receive.window().size(), 1_000);
        receive.apply_initial_size_change(1_000, 0).unwrap();
        assert_eq!((receive.target(), receive.window().size()), (0, 0));
        assert_eq!(receive.take_update(), None); // a zero target never updates
        // The connection's window ignores the setting.
        let mut connection = ReceiveWindow::connection();
        connection.apply_initial_size_change(65_535, 0).unwrap();
        assert_eq!(
            (connection.target(), connection.window().size()),
            (65_535, 65_535)
        );
    }

    #[test]
    fn an_update_never_exceeds_the_largest_increment() {
        let mut receive = ReceiveWindow::stream(stream(1), MAX);
        receive.receive(MAX).unwrap();
        receive.apply_initial_size_change(MAX, 0).unwrap();
        assert_eq!(receive.window().size(), -i32::MAX);
        receive.set_target(MAX);
        receive.release(MAX);
        // Twice the largest increment is due: it takes two updates.
        assert_eq!(receive.take_update(), Some(MAX));
        assert_eq!(receive.take_update(), Some(MAX));
        assert_eq!(receive.window().size(), i32::MAX);
        assert_eq!(receive.take_update(), None);
    }
}
