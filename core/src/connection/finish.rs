//! How responses that carry application state end: each is reported to
//! [`Handler::finished`] exactly once, and each kept file region goes back
//! to its [`FileKeeper`](crate::FileKeeper) exactly once.
//!
//! - A response is over when the queue passes its end marker (everything
//!   before it was written): [`Outcome::Sent`]. A file region is released
//!   when the queue passes it.
//! - A response whose body never starts (`HEAD`, `304`, a failed head) is
//!   reported [`Outcome::NotSent`] when it is queued.
//! - A streamed body that ends unfinished (given up, or the connection
//!   ended while it ran) is remembered, and reported [`Outcome::Aborted`]
//!   when the caller retires the connection, with every marker and file
//!   still queued.

use super::phase::{Input, Phase};
use super::{Connection, ConnectionId, Env};
use crate::handler::{Finished, Outcome};
use crate::send_queue::Passed;
use crate::sizes::Sizes;
use crate::{BodyPolicy, Handler};

/// Tells `env` what the queue passed: a kept file goes back to the
/// keeper, a response's end to the handler with `outcome`.
pub(super) fn report<H: Handler<L>, L: Default>(
    env: &mut Env<'_, H, L>,
    id: ConnectionId,
    passed: Passed,
    outcome: Outcome,
) {
    match passed {
        Passed::File(region) => {
            if let Some(files) = env.files.as_deref_mut() {
                files.release(region);
            }
        }
        Passed::End { tag, .. } => env
            .handler
            .finished(Finished::new(id, tag, outcome), env.local),
    }
}

impl<Z: Sizes> Connection<Z> {
    /// Marks the end of a response with `tag` whose last bytes were just
    /// queued: reported sent once they are written (at once if they
    /// already were).
    pub(super) fn end_response<H: Handler<L>, L: Default>(
        &mut self,
        tag: u64,
        env: &mut Env<'_, H, L>,
    ) {
        if self.queue.is_empty() || !self.queue.push_end(tag, 0) {
            // Nothing left to write (or, against the room every response
            // keeps, no slot for the marker): over now.
            report(env, self.id, Passed::End { tag, stream: 0 }, Outcome::Sent);
        }
    }

    /// Records that `n` bytes of the output were sent, when that is not
    /// simply all of it: segment by segment, reporting the kept files and
    /// response ends passed as sent.
    #[inline(never)]
    pub(super) fn consume_in_parts<H: Handler<L>, L: Default>(
        &mut self,
        n: u64,
        env: &mut Env<'_, H, L>,
    ) {
        let id = self.id;
        self.queue
            .consume(n, |passed| report(env, id, passed, Outcome::Sent));
    }

    /// Remembers that the running stream, if any, ends unfinished, or the
    /// request body being handed to
    /// [`Handler::body_chunk`](crate::Handler::body_chunk) whose pieces
    /// set a tag: it is reported aborted when the connection is retired
    /// (the request never runs).
    pub(super) fn give_up_stream(&mut self) {
        if let Phase::Http(http) = &self.phase {
            match (&http.stream, &http.input) {
                (Some(stream), _) => self.given_up = Some(stream.tag),
                (
                    None,
                    Input::Body {
                        policy: BodyPolicy::Stream,
                        tag,
                        ..
                    },
                ) if *tag != 0 => self.given_up = Some(*tag),
                _ => {}
            }
        }
    }

    /// Ends the connection for good, when the caller drops it or before it
    /// reuses the object for another (closed, timed out, evicted, at
    /// shutdown, or after a socket error): every response it still owed
    /// is reported [`Outcome::Aborted`] to [`Handler::finished`], every
    /// kept file region still queued goes back to `env.files`, in the order
    /// they were queued, and a WebSocket's own DEFLATE state goes back to
    /// `env.deflate`. Calling it again does nothing.
    ///
    /// A caller that makes no [kept](crate::FileRegion::kept) regions and
    /// whose handler has no [`finished`](Handler::finished) hook may skip
    /// it.
    pub fn retire<H: Handler<L>, L: Default>(&mut self, env: &mut Env<'_, H, L>) {
        self.close_now();
        let id = self.id;
        self.queue
            .discard(|passed| report(env, id, passed, Outcome::Aborted));
        self.write_end = 0;
        if let Some(chain) = self.spilled.take() {
            if let Some(spill) = env.spill.as_deref_mut() {
                chain.release(spill);
            }
        }
        if let Some(tag) = self.given_up.take() {
            report(env, id, Passed::End { tag, stream: 0 }, Outcome::Aborted);
        }
        if let (Some(slot), Some(deflate)) = (self.deflate_slot.take(), env.deflate.as_deref_mut())
        {
            deflate.release(slot);
        }
    }
}
