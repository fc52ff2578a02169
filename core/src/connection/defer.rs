//! Deferred responses: a handler that answered with
//! [`Response::defer`] leaves its connection waiting, reading no further
//! request, until the application answers from anywhere:
//! [`Connection::handle_answer`] writes that answer as the response, as
//! [`Handler::handle`] would have.

use super::phase::Phase;
use super::{Connection, Env, IoBuffers, TimerKind};
use crate::handler::{BodySource, Finished, Outcome};
use crate::sizes::Sizes;
use crate::{Counters, Handler, Response, StatusCode};

impl<Z: Sizes> Connection<Z> {
    /// Whether a deferred response waits for its answer
    /// ([`handle_answer`](Self::handle_answer)).
    pub fn is_deferred(&self) -> bool {
        matches!(&self.phase, Phase::Http(http) if http.deferred().is_some())
    }

    /// Answers the deferred response ([`Response::defer`]) at `env.now`:
    /// `answer` fills a [`Response`] as [`Handler::handle`] would (status,
    /// headers, any kind of body; its tag is the deferred response's), and
    /// the connection sends it, then goes on with the requests that
    /// followed. Returns whether a response was waiting; if not, `answer`
    /// is not called (the client left, the wait timed out, or the answer
    /// came twice).
    ///
    /// The response is always reported to [`Handler::finished`] when it
    /// ends. Writes into `bufs`: a deferred connection keeps its buffers
    /// while it waits ([`holds_buffers`](Self::holds_buffers)).
    pub fn handle_answer<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
        answer: impl FnOnce(&mut Response<'_, L>),
    ) -> bool {
        let Phase::Http(http) = &mut self.phase else {
            return false;
        };
        let Some((later, tag)) = http.deferred() else {
            return false;
        };
        http.stream = None;
        self.timers.clear(TimerKind::ParkedStream);
        let out = &mut bufs.write[self.write_end..];
        let completed =
            super::http::fill_response(env, later, out, &mut self.spilled, tag, self.id, answer);
        // `queue_response` follows a response with state; a deferred
        // one is followed whatever it holds.
        let followed = completed.unsent
            || completed.tag != 0
            || matches!(
                completed.source,
                BodySource::File(_)
                    | BodySource::KeptFile(_)
                    | BodySource::Stream(..)
                    | BodySource::Deferred(_)
            );
        self.queue_response(bufs, completed, env);
        if !followed {
            if completed.written.is_some() {
                self.end_response(completed.tag, env);
            } else {
                let finished = Finished::new(self.id, completed.tag, Outcome::NotSent);
                env.handler.finished(finished, env.local);
            }
        }
        // The requests that followed the deferred one, if any.
        self.yielded = true;
        true
    }

    /// The deferred response's wait ran out: the client gets `503 Service
    /// Unavailable` and the connection closes after it; the response is
    /// reported aborted when the connection is retired.
    pub(super) fn answer_unavailable(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        now: u64,
        counters: &mut Counters,
    ) {
        counters.timeouts += 1;
        counters.response(503);
        self.queue_error(bufs, StatusCode::SERVICE_UNAVAILABLE, None, now);
    }
}
