//! Deferred responses ([`Response::defer`]) over HTTP/2: the stream waits,
//! as an HTTP/1.1 connection does, until the application answers from
//! anywhere ([`ServerConnection::handle_answer`], given the stream the
//! handler's [`Response::id`] names); the answer is then sent as any
//! response of the stream would be: its head as HEADERS, its body as DATA
//! within the windows. The connection's other streams go on meanwhile,
//! and any number of them (up to the stream table) may wait at once.
//!
//! A stream reset by the client, or a connection that ends, while its
//! answer is pending reports the response [`Outcome::Aborted`]; the
//! answer that comes after finds nothing waiting and is dropped. Past
//! `Config::parked_stream_timeout`, if set, the stream is answered `503`
//! (and the response reported aborted), as over HTTP/1.1. As over
//! HTTP/1.1, [`Handler::finished`] hears of every deferred response,
//! whatever its tag.

use super::output::{HEADROOM, report};
use super::streams::{Deferred, Outbound};
use super::{CONTROL_ROOM, RESPONSE_ROOM, ServerConnection, State};
use crate::connection::http::fill_response;
use crate::h2::frame::{ErrorCode, StreamId};
use crate::handler::{Later, Outcome};
use crate::sizes::Sizes;
use crate::{Env, Handler, IoBuffers, Response, StatusCode};

#[cfg(doc)]
use crate::Config;

impl<Z: Sizes, const STREAMS: usize> ServerConnection<Z, STREAMS> {
    /// Whether a stream waits for the answer to its deferred response
    /// ([`handle_answer`](Self::handle_answer)). The connection then keeps
    /// its buffers ([`holds_buffers`](Self::holds_buffers)), as an
    /// HTTP/1.1 one does, so that the answer always has a place.
    pub fn is_deferred(&self) -> bool {
        self.streams
            .iter()
            .any(|stream| matches!(stream.outbound, Outbound::Deferred(_)))
    }

    /// Answers the deferred response of stream `stream` (what
    /// [`ConnectionId::stream`](crate::ConnectionId::stream) of the
    /// handler's [`Response::id`] says) at `env.now`: `answer` fills a
    /// [`Response`] as [`Handler::handle`] would (its tag is the deferred
    /// response's), and the stream sends it. Returns whether the stream
    /// waited for an answer; if not (it was reset, timed out, or answered
    /// already, or the connection is ending), `answer` is not called.
    ///
    /// A connection whose write buffer has no room for a response (its
    /// other streams' output fills it) resets the stream with
    /// INTERNAL_ERROR instead, the response reported aborted.
    pub fn handle_answer<H: Handler<L>, L: Default>(
        &mut self,
        stream: u32,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
        answer: impl FnOnce(&mut Response<'_, L>),
    ) -> bool {
        let Some(id) = StreamId::new(stream) else {
            return false;
        };
        if !matches!(self.state, State::Open | State::Draining) {
            return false;
        }
        let Some(open) = self.streams.get_mut(id) else {
            return false;
        };
        let Outbound::Deferred(deferred) = open.outbound else {
            return false;
        };
        self.reclaim_write_buffer();
        if Z::WRITE - self.write_end < RESPONSE_ROOM || self.queue.free() < 8 {
            // Reported aborted as it leaves.
            self.end_stream(bufs, id, ErrorCode::InternalError, env);
            self.after_output(bufs, env);
            return true;
        }
        if let Some(open) = self.streams.get_mut(id) {
            open.outbound = Outbound::Waiting;
        }
        let start = self.write_end;
        let end = Z::WRITE.saturating_sub(HEADROOM).max(start);
        let completed = fill_response(
            env,
            deferred.later,
            &mut bufs.write[start..end],
            &mut self.spilled,
            deferred.tag,
            self.id.with_stream(stream),
            answer,
        );
        self.queue_response(bufs, id, completed, true, env);
        self.after_output(bufs, env);
        true
    }

    /// The handler deferred the response of `stream` (with `tag`): it
    /// waits for [`handle_answer`](Self::handle_answer), within
    /// [`Config::parked_stream_timeout`] if one is set.
    pub(super) fn defer_stream<H: Handler<L>, L: Default>(
        &mut self,
        stream: StreamId,
        later: Later,
        tag: u64,
        env: &mut Env<'_, H, L>,
    ) {
        let until = match self.config.parked_stream_timeout {
            0 => u64::MAX,
            limit => env.now.saturating_add(limit),
        };
        match self.streams.get_mut(stream) {
            Some(open) => open.outbound = Outbound::Deferred(Deferred { later, tag, until }),
            // Never: a request runs with its stream open.
            None => report(env, self.id, stream.get(), tag, Outcome::NotSent),
        }
    }

    /// The earliest end of a deferred response's wait, if one is bounded.
    pub(super) fn answer_deadline(&self) -> Option<u64> {
        if self.config.parked_stream_timeout == 0 {
            return None;
        }
        self.streams
            .iter()
            .filter_map(|stream| match stream.outbound {
                Outbound::Deferred(deferred) if deferred.until < u64::MAX => Some(deferred.until),
                _ => None,
            })
            .min()
    }

    /// Answers `503 Service Unavailable` to every deferred response whose
    /// wait ended by `env.now`, each counted a timeout and reported
    /// aborted; whether there was one. With no room for the answer's
    /// frame, the stream is reset instead.
    pub(super) fn answer_overdue<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) -> bool {
        let now = env.now;
        let mut any = false;
        loop {
            let Some(stream) = self.streams.iter_mut().find(|stream| {
                matches!(stream.outbound, Outbound::Deferred(deferred) if deferred.until <= now)
            }) else {
                break;
            };
            let Outbound::Deferred(deferred) = stream.outbound else {
                break;
            };
            // No longer waiting, whatever follows.
            stream.outbound = Outbound::Waiting;
            let id = stream.id;
            any = true;
            env.counters.timeouts += 1;
            report(env, self.id, id.get(), deferred.tag, Outcome::Aborted);
            if Z::WRITE - self.write_end >= 2 * CONTROL_ROOM && self.queue.free() >= 4 {
                self.answer_error(bufs, id, StatusCode::SERVICE_UNAVAILABLE, env);
            } else {
                self.end_stream(bufs, id, ErrorCode::InternalError, env);
            }
        }
        any
    }
}
