//! The protocols a connection speaks, as the loop that moves its bytes
//! ([`drive`](crate::io::drive)) sees them: HTTP/1.1 ([`Connection`]) and
//! HTTP/2 ([`Http2Connection`]). Both are sans-IO state machines with the
//! same shape (read into a buffer, report what was read, write what they
//! ask, report what was written), so one loop serves both.

use peregrine_core::Sizes;
use peregrine_core::h2::server::ServerConnection;
use peregrine_core::{Connection, Counters, Env, Handler, Interest, IoBuffers, Transmit};

/// An HTTP/2 connection as the driver serves it: the [`Sizes`] of the
/// server's HTTP/1.1 connections, and the core's default number of
/// concurrent streams (100).
pub type Http2Connection<Z> = ServerConnection<Z>;

/// What [`drive`](crate::io::drive) needs of a connection's protocol
/// state: the calls its sans-IO state machine answers, and what becomes
/// of it after a handler panicked in one of them.
pub trait Protocol<Z: Sizes> {
    /// Whether the loop is done with it: closed, or its socket handed to
    /// someone else (a hijack, or HTTP/2 taking over).
    fn is_done(&self) -> bool;
    /// Whether it is closed.
    fn is_closed(&self) -> bool;
    /// What it waits for.
    fn interest(&self) -> Interest;
    /// Whether it has output waiting.
    fn wants_write(&self) -> bool;
    /// Where the next read goes.
    fn read_buf<'b>(&mut self, bufs: &'b mut IoBuffers<Z>) -> &'b mut [u8];
    /// `n` bytes were read into [`read_buf`](Self::read_buf).
    fn handle_read<H: Handler<L>, L: Default>(
        &mut self,
        n: usize,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    );
    /// The peer closed its write side.
    fn handle_read_closed<H: Handler<L>, L: Default>(&mut self, env: &mut Env<'_, H, L>);
    /// What to write next.
    fn poll_transmit<'b>(&'b self, bufs: &'b IoBuffers<Z>) -> Transmit<'b>;
    /// `n` bytes of what [`poll_transmit`](Self::poll_transmit) gave were
    /// written.
    fn handle_written<H: Handler<L>, L: Default>(
        &mut self,
        n: usize,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    );
    /// The write side was shut down as asked.
    fn handle_write_closed<H: Handler<L>, L: Default>(&mut self, env: &mut Env<'_, H, L>);
    /// Fires the deadline that passed, if one did.
    fn handle_timeout<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    );
    /// When it next needs [`handle_timeout`](Self::handle_timeout).
    fn poll_timeout(&self) -> Option<u64>;
    /// Ends it for good before it is dropped: what it still owed is given
    /// up and the files it held are released.
    fn retire<H: Handler<L>, L: Default>(&mut self, env: &mut Env<'_, H, L>);
    /// Whether it has work no IO event will prompt (a streamed body ready
    /// to be asked for more): [`poll`](Self::poll) it.
    fn has_work(&self) -> bool;
    /// Does the work [`has_work`](Self::has_work) says is left.
    fn poll<H: Handler<L>, L: Default>(&mut self, bufs: &mut IoBuffers<Z>, env: &mut Env<'_, H, L>);
    /// The application woke it at `now` (a streamed body that waited for
    /// it may go on).
    fn handle_wake(&mut self, now: u64);
    /// A handler panicked in a call into it at `now` (counted here):
    /// `true` if it answered what it could and may be driven on, `false`
    /// if it is to be closed.
    fn handle_panic(&mut self, bufs: &mut IoBuffers<Z>, now: u64, counters: &mut Counters) -> bool;
}

impl<Z: Sizes> Protocol<Z> for Connection<Z> {
    #[inline(always)]
    fn is_done(&self) -> bool {
        // An HTTP/2 preface leaves no interest: the loop stops by itself.
        self.is_closed() || self.is_hijacked()
    }

    #[inline(always)]
    fn is_closed(&self) -> bool {
        Connection::is_closed(self)
    }

    #[inline(always)]
    fn interest(&self) -> Interest {
        Connection::interest(self)
    }

    #[inline(always)]
    fn wants_write(&self) -> bool {
        Connection::wants_write(self)
    }

    #[inline(always)]
    fn read_buf<'b>(&mut self, bufs: &'b mut IoBuffers<Z>) -> &'b mut [u8] {
        Connection::read_buf(self, bufs)
    }

    #[inline(always)]
    fn handle_read<H: Handler<L>, L: Default>(
        &mut self,
        n: usize,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) {
        Connection::handle_read(self, n, bufs, env);
    }

    #[inline(always)]
    fn handle_read_closed<H: Handler<L>, L: Default>(&mut self, env: &mut Env<'_, H, L>) {
        Connection::handle_read_closed(self, env);
    }

    #[inline(always)]
    fn poll_transmit<'b>(&'b self, bufs: &'b IoBuffers<Z>) -> Transmit<'b> {
        Connection::poll_transmit(self, bufs)
    }

    #[inline(always)]
    fn handle_written<H: Handler<L>, L: Default>(
        &mut self,
        n: usize,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) {
        Connection::handle_written(self, n, bufs, env);
    }

    #[inline(always)]
    fn handle_write_closed<H: Handler<L>, L: Default>(&mut self, env: &mut Env<'_, H, L>) {
        Connection::handle_write_closed(self, env);
    }

    #[inline(always)]
    fn handle_timeout<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) {
        Connection::handle_timeout(self, bufs, env);
    }

    #[inline(always)]
    fn poll_timeout(&self) -> Option<u64> {
        Connection::poll_timeout(self)
    }

    #[inline(always)]
    fn retire<H: Handler<L>, L: Default>(&mut self, env: &mut Env<'_, H, L>) {
        Connection::retire(self, env);
    }

    #[inline(always)]
    fn has_work(&self) -> bool {
        Connection::has_work(self)
    }

    #[inline(always)]
    fn poll<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) {
        Connection::poll(self, bufs, env);
    }

    #[inline(always)]
    fn handle_wake(&mut self, now: u64) {
        Connection::handle_wake(self, now);
    }

    fn handle_panic(&mut self, bufs: &mut IoBuffers<Z>, now: u64, counters: &mut Counters) -> bool {
        Connection::handle_panic(self, bufs, now, counters);
        true
    }
}

impl<Z: Sizes, const STREAMS: usize> Protocol<Z> for ServerConnection<Z, STREAMS> {
    #[inline(always)]
    fn is_done(&self) -> bool {
        ServerConnection::is_closed(self)
    }

    #[inline(always)]
    fn is_closed(&self) -> bool {
        ServerConnection::is_closed(self)
    }

    #[inline(always)]
    fn interest(&self) -> Interest {
        ServerConnection::interest(self)
    }

    #[inline(always)]
    fn wants_write(&self) -> bool {
        ServerConnection::interest(self).write
    }

    #[inline(always)]
    fn read_buf<'b>(&mut self, bufs: &'b mut IoBuffers<Z>) -> &'b mut [u8] {
        ServerConnection::read_buf(self, bufs)
    }

    #[inline(always)]
    fn handle_read<H: Handler<L>, L: Default>(
        &mut self,
        n: usize,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) {
        ServerConnection::handle_read(self, n, bufs, env);
    }

    #[inline(always)]
    fn handle_read_closed<H: Handler<L>, L: Default>(&mut self, env: &mut Env<'_, H, L>) {
        ServerConnection::handle_read_closed(self, env);
    }

    #[inline(always)]
    fn poll_transmit<'b>(&'b self, bufs: &'b IoBuffers<Z>) -> Transmit<'b> {
        ServerConnection::poll_transmit(self, bufs)
    }

    #[inline(always)]
    fn handle_written<H: Handler<L>, L: Default>(
        &mut self,
        n: usize,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) {
        ServerConnection::handle_written(self, n, bufs, env);
    }

    #[inline(always)]
    fn handle_write_closed<H: Handler<L>, L: Default>(&mut self, env: &mut Env<'_, H, L>) {
        ServerConnection::handle_write_closed(self, env);
    }

    #[inline(always)]
    fn handle_timeout<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) {
        ServerConnection::handle_timeout(self, bufs, env);
    }

    #[inline(always)]
    fn poll_timeout(&self) -> Option<u64> {
        ServerConnection::poll_timeout(self)
    }

    #[inline(always)]
    fn retire<H: Handler<L>, L: Default>(&mut self, env: &mut Env<'_, H, L>) {
        ServerConnection::retire(self, env);
    }

    #[inline(always)]
    fn has_work(&self) -> bool {
        ServerConnection::has_work(self)
    }

    #[inline(always)]
    fn poll<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) {
        ServerConnection::poll(self, bufs, env);
    }

    #[inline(always)]
    fn handle_wake(&mut self, now: u64) {
        ServerConnection::handle_wake(self, now);
    }

    /// A panic may have left a stream half made, and every stream shares
    /// the connection's HPACK state: the connection is closed.
    fn handle_panic(
        &mut self,
        _bufs: &mut IoBuffers<Z>,
        _now: u64,
        counters: &mut Counters,
    ) -> bool {
        counters.handler_panics += 1;
        false
    }
}
