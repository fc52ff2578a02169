//! The protocols a connection speaks, as the loop that moves its bytes
//! ([`drive`](crate::io::drive)) sees them: HTTP/1.1 ([`Connection`]) and
//! HTTP/2 ([`Http2Connection`]). Both are sans-IO state machines with the
//! same shape (read into a buffer, report what was read, write what they
//! ask, report what was written), so one loop serves both.

use std::panic::{AssertUnwindSafe, catch_unwind};

use peregrine_core::Sizes;
use peregrine_core::h2::server::ServerConnection;
use peregrine_core::{
    Connection, Env, Handler, Interest, IoBuffers, PublishError, Response, Transmit,
};

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
    /// A handler panicked in a call into it at `env.now` (counted in
    /// `env.counters`): `true` if it answered what it could and may be
    /// driven on, `false` if it is to be closed.
    fn handle_panic<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) -> bool;
    /// The file region [`poll_transmit`](Self::poll_transmit) gave sent
    /// nothing: its file ends before the region does. `true` if only
    /// that response ends and the connection may be driven on (HTTP/2:
    /// its stream is reset, see `ServerConnection::handle_file_ended`),
    /// `false` if the connection is to be closed (HTTP/1.1, whose
    /// `Content-Length` can no longer be met).
    fn handle_file_ended<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) -> bool;
    /// Answers the deferred response of `stream` (HTTP/2; 0 over
    /// HTTP/1.1, whose connection has one at a time) with what `answer`
    /// writes; whether one waited (see `Connection::handle_answer` and
    /// `ServerConnection::handle_answer`).
    fn handle_answer<H: Handler<L>, L: Default>(
        &mut self,
        stream: u32,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
        answer: impl FnOnce(&mut Response<'_, L>),
    ) -> bool;
    /// Whether a streamed body of it carries `topic`.
    fn streams_topic(&self, topic: u64) -> bool;
    /// Appends `bytes` published to `topic` to its streamed bodies
    /// subscribed to it.
    ///
    /// # Errors
    ///
    /// As `Connection::handle_publish` and
    /// `ServerConnection::handle_publish`: a stream backed up was ended.
    fn handle_publish<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        topic: u64,
        bytes: &[u8],
        env: &mut Env<'_, H, L>,
    ) -> Result<(), PublishError>;
    /// Ends its streamed bodies subscribed to `topic` at `now`, for a
    /// caller with no buffer to lend it for a publication: over HTTP/1.1
    /// the stream ends and the connection closes after what was queued;
    /// over HTTP/2 each such stream is reset at the next poll.
    fn end_streams(&mut self, topic: u64, now: u64);
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

    fn handle_panic<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) -> bool {
        Connection::handle_panic(self, bufs, env.now, env.counters);
        true
    }

    /// Never: the connection closes, and its client sees a body short
    /// of its `Content-Length`.
    #[inline]
    fn handle_file_ended<H: Handler<L>, L: Default>(
        &mut self,
        _bufs: &mut IoBuffers<Z>,
        _env: &mut Env<'_, H, L>,
    ) -> bool {
        false
    }

    /// The connection's one deferred response, whatever `stream` says.
    #[inline]
    fn handle_answer<H: Handler<L>, L: Default>(
        &mut self,
        _stream: u32,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
        answer: impl FnOnce(&mut Response<'_, L>),
    ) -> bool {
        Connection::handle_answer(self, bufs, env, answer)
    }

    #[inline]
    fn streams_topic(&self, topic: u64) -> bool {
        Connection::streams_topic(self, topic)
    }

    #[inline]
    fn handle_publish<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        topic: u64,
        bytes: &[u8],
        env: &mut Env<'_, H, L>,
    ) -> Result<(), PublishError> {
        Connection::handle_publish(self, bufs, topic, bytes, env.now)
    }

    #[inline]
    fn end_streams(&mut self, topic: u64, now: u64) {
        if Connection::streams_topic(self, topic) {
            Connection::end_stream(self, now);
        }
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

    /// The stream whose request the handler was deciding gets `500` and
    /// the connection ends gracefully (see
    /// [`ServerConnection::handle_panic`]); a panic elsewhere, which may
    /// have left a stream half made, or a second panic on the way, closes
    /// it.
    fn handle_panic<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) -> bool {
        let run = AssertUnwindSafe(|| ServerConnection::handle_panic(self, bufs, env));
        catch_unwind(run).unwrap_or(false)
    }

    #[inline]
    fn handle_file_ended<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) -> bool {
        ServerConnection::handle_file_ended(self, bufs, env)
    }

    #[inline]
    fn handle_answer<H: Handler<L>, L: Default>(
        &mut self,
        stream: u32,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
        answer: impl FnOnce(&mut Response<'_, L>),
    ) -> bool {
        ServerConnection::handle_answer(self, stream, bufs, env, answer)
    }

    #[inline]
    fn streams_topic(&self, topic: u64) -> bool {
        ServerConnection::streams_topic(self, topic)
    }

    #[inline]
    fn handle_publish<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        topic: u64,
        bytes: &[u8],
        env: &mut Env<'_, H, L>,
    ) -> Result<(), PublishError> {
        ServerConnection::handle_publish(self, bufs, topic, bytes, env)
    }

    #[inline]
    fn end_streams(&mut self, topic: u64, _now: u64) {
        ServerConnection::cut_streams(self, topic);
    }
}
