//! The HTTP output side: responses queued in order, streamed bodies
//! filled as the socket drains, and the error answers of the protocol
//! layer.

use super::phase::{Http, Input, Phase, Stream, StreamState, Then};
use super::{Connection, Counters, Env, IoBuffers, TimerKind};
use crate::handler::{BodySource, Completed, Finished, Later, Outcome, Source};
use crate::response::{self, CHUNK_HEADER_MAX, Context, ResponseEncoder, ResponseFraming};
use crate::send_queue::Segment;
use crate::sizes::Sizes;
use crate::spill::{Chain, Spill};
use crate::{Error, Fill, Handler, StatusCode};

/// The next piece of a spilled body, moved into `data`: [`Fill::Done`]
/// with the last; the blocks emptied go back to the spill.
#[inline(never)]
fn drain_spill(
    chain: Option<Chain>,
    data: &mut [u8],
    spill: Option<&mut (dyn Spill + '_)>,
) -> (Fill, Option<Chain>) {
    match (chain, spill) {
        (Some(chain), Some(spill)) => {
            let (n, rest) = chain.read(spill, data);
            let fill = if rest.is_some() {
                Fill::More(n)
            } else {
                Fill::Done(n)
            };
            (fill, rest)
        }
        (None, _) => (Fill::Done(0), None),
        // The caller lent no spill this time: the body cannot be read
        // (its blocks stay held until the connection is retired).
        (Some(chain), None) => (Fill::Abort, Some(chain)),
    }
}

impl<Z: Sizes> Connection<Z> {
    /// Queues a completed response, and follows it if it carries
    /// application state.
    #[inline(always)]
    pub(super) fn queue_response<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        completed: Completed,
        env: &mut Env<'_, H, L>,
    ) {
        if let BodySource::Deferred(later) = completed.source {
            self.wait_for_answer(later, completed.tag, env.now);
            return;
        }
        self.enqueue(bufs, completed, env.now, env.counters);
        if completed.unsent
            || completed.tag != 0
            || matches!(
                completed.source,
                BodySource::File(_) | BodySource::KeptFile(_)
            )
        {
            let unsent = completed.unsent || completed.written.is_none();
            let streamed = matches!(completed.source, BodySource::Stream(..));
            self.track(completed.tag, unsent, streamed, env);
        }
    }

    /// Queues a completed response.
    #[inline(always)]
    fn enqueue(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        completed: Completed,
        now: u64,
        counters: &mut Counters,
    ) {
        let Some(len) = completed.written else {
            // The head did not fit: a bare 500, and close.
            counters.response(500);
            self.queue_error(bufs, StatusCode::INTERNAL_SERVER_ERROR, None, now);
            return;
        };
        counters.response(completed.status);
        self.push_written(len, now);
        let stream = match completed.source {
            BodySource::InBuffer => None,
            BodySource::Static(bytes) => {
                self.push(Segment::Static(bytes), now);
                None
            }
            BodySource::File(_) | BodySource::KeptFile(_) => {
                if let Some(region) = completed.source.file_region() {
                    self.push_file(region, now);
                }
                None
            }
            // Taken before this is called (`queue_response`).
            BodySource::Deferred(_) => None,
            BodySource::Stream(framing, source) => Some(Stream {
                framing,
                remaining: match framing {
                    ResponseFraming::Length(n) => n,
                    _ => u64::MAX,
                },
                tag: completed.tag,
                state: StreamState::Filling,
                topic: completed.topic,
                source,
            }),
        };
        if let Phase::Http(http) = &mut self.phase {
            if stream.is_some() {
                http.stream = stream;
            }
            if completed.hijack {
                http.then = Then::Hijack;
            } else if completed.close {
                http.then = http.then.or_close();
            }
        }
    }

    /// A response was deferred: the connection waits for its answer
    /// ([`Connection::handle_answer`]), within the parked-stream limit if
    /// one is set, and takes no further request until then.
    #[cold]
    fn wait_for_answer(&mut self, later: Later, tag: u64, now: u64) {
        if let Phase::Http(http) = &mut self.phase {
            http.stream = Some(Stream {
                framing: ResponseFraming::Empty,
                remaining: 0,
                tag,
                state: StreamState::Deferred(later),
                topic: None,
                source: Source::Handler,
            });
        }
        if self.config.parked_stream_timeout > 0 {
            self.timers.set(
                TimerKind::ParkedStream,
                now.saturating_add(self.config.parked_stream_timeout),
            );
        }
    }

    /// Follows a queued response with `tag` that carries application
    /// state: one whose body never starts (`unsent`) is over now; a
    /// `streamed` one ends with its stream; any other once its bytes are
    /// written. Takes the response's fields by value, so that the
    /// completed response never needs an address.
    #[inline(never)]
    fn track<H: Handler<L>, L: Default>(
        &mut self,
        tag: u64,
        unsent: bool,
        streamed: bool,
        env: &mut Env<'_, H, L>,
    ) {
        if unsent {
            let finished = Finished::new(self.id, tag, Outcome::NotSent);
            env.handler.finished(finished, env.local);
        } else if !streamed {
            self.end_response(tag, env);
        }
    }

    /// Queues the `len` bytes just written at the end of the used part of
    /// the write buffer.
    #[inline]
    pub(super) fn push_written(&mut self, len: usize, now: u64) {
        let start = self.write_end;
        self.write_end += len;
        self.push(
            Segment::Buffer {
                start: start as u32,
                end: self.write_end as u32,
            },
            now,
        );
    }

    /// Appends a segment to the output; the write timer starts if nothing
    /// was waiting.
    #[inline(always)]
    pub(super) fn push(&mut self, segment: Segment, now: u64) {
        self.start_writing(now);
        if !self.queue.push(segment) {
            self.overflow();
        }
    }

    /// Appends a file region to the output, as [`push`](Self::push) does.
    fn push_file(&mut self, region: crate::FileRegion, now: u64) {
        self.start_writing(now);
        if !self.queue.push_file(region) {
            // Against the room every response keeps: a kept file's
            // region would not come back to its keeper.
            debug_assert!(false, "no room for a file region");
            self.overflow();
        }
    }

    /// The write timer starts if nothing was waiting to be written.
    #[inline]
    fn start_writing(&mut self, now: u64) {
        if self.queue.is_empty() {
            // Set before the idle timer stops: the earliest is then not
            // looked up again.
            self.timers.set(
                TimerKind::Write,
                now.saturating_add(self.config.write_timeout),
            );
            self.timers.clear(TimerKind::Idle);
        }
    }

    /// The output had no room for a piece. `can_respond` keeps room;
    /// should that fail, do not send a response with a piece missing:
    /// close (what is queued is given up when the connection is retired).
    #[cold]
    fn overflow(&mut self) {
        self.close_now();
    }

    /// Answers a request that cannot be served with `error`'s status and
    /// closes the connection after it.
    pub(super) fn fail(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        error: Error,
        now: u64,
        counters: &mut Counters,
    ) {
        if error == Error::RequestTimeout {
            counters.timeouts += 1;
        } else {
            counters.parse_errors += 1;
        }
        counters.response(error.status());
        let status = StatusCode::new(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
        self.queue_error(bufs, status, Some(error), now);
    }

    /// Queues an error response (with `error`'s reason as the body), stops
    /// reading requests and closes once it is out.
    pub(super) fn queue_error(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        status: StatusCode,
        error: Option<Error>,
        now: u64,
    ) {
        self.give_up_stream();
        if let Phase::Http(http) = &mut self.phase {
            http.input = Input::Stopped;
            http.then = Then::Close;
            http.stream = None;
        }
        for kind in [
            TimerKind::Header,
            TimerKind::Body,
            TimerKind::Idle,
            TimerKind::ParkedStream,
        ] {
            self.timers.clear(kind);
        }
        let ctx = Context {
            request_version: crate::Version::Http11,
            head_request: false,
            keep_alive: false,
            date: None,
        };
        let buf = &mut bufs.write[self.write_end..];
        let written = match error {
            Some(error) => response::encode_error(buf, error, &ctx).map(|head| head.len()),
            None => ResponseEncoder::new(buf, status)
                .and_then(|encoder| encoder.finish(&[], &ctx))
                .map(|(head, _)| head.len()),
        };
        match written {
            Ok(len) => self.push_written(len, now),
            // No room even for an error: drop the connection.
            Err(_) => self.close_now(),
        }
        self.finish_if_drained(now);
    }

    /// The stream being filled, if the handler has one running.
    fn running_stream(&self) -> Option<Stream> {
        match &self.phase {
            Phase::Http(Http {
                stream: Some(stream),
                ..
            }) if stream.state == StreamState::Filling => Some(*stream),
            _ => None,
        }
    }

    /// Stores the stream's new state (`None`: it ended).
    fn set_stream(&mut self, stream: Option<Stream>) {
        if let Phase::Http(http) = &mut self.phase {
            http.stream = stream;
        }
    }

    /// Asks the handler for more of a streamed body while there is room.
    #[inline(never)]
    pub(super) fn fill_stream<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) {
        while let Some(mut stream) = self.running_stream() {
            let free = Z::WRITE - self.write_end;
            if self.queue.free() < 2 || free < Z::WRITE / 4 {
                return;
            }
            let area = &mut bufs.write[self.write_end..];
            let chunked = stream.framing == ResponseFraming::Chunked;
            // Chunked: room for the size line before and CRLF (and the last
            // chunk) after the data.
            let (lead, trail) = if chunked {
                (
                    CHUNK_HEADER_MAX,
                    response::CHUNK_END.len() + response::LAST_CHUNK.len(),
                )
            } else {
                (0, 0)
            };
            let room = (area.len() - lead - trail) as u64;
            let data_len = room.min(stream.remaining) as usize;
            let data = &mut area[lead..lead + data_len];
            let fill = match stream.source {
                Source::Handler => env.handler.fill_body(&mut stream.tag, data, env.local),
                Source::Spill => {
                    let (fill, rest) = drain_spill(self.spilled, data, env.spill.as_deref_mut());
                    self.spilled = rest;
                    fill
                }
            };
            let (n, done) = match fill {
                Fill::More(n) => (n.min(data_len), false),
                Fill::Done(n) => (n.min(data_len), true),
                Fill::Abort => {
                    self.abort_stream(env.now);
                    return;
                }
                Fill::Pending => {
                    stream.state = StreamState::Parked;
                    self.set_stream(Some(stream));
                    self.park(env.now);
                    return;
                }
            };
            let mut start = self.write_end + lead;
            let mut end = start + n;
            if chunked && n > 0 {
                let mut size = [0; CHUNK_HEADER_MAX];
                let line = response::encode_chunk_header(n, &mut size);
                start -= line.len();
                bufs.write[start..start + line.len()].copy_from_slice(line);
                bufs.write[end..end + 2].copy_from_slice(response::CHUNK_END);
                end += 2;
            }
            if chunked && done {
                bufs.write[end..end + response::LAST_CHUNK.len()]
                    .copy_from_slice(response::LAST_CHUNK);
                end += response::LAST_CHUNK.len();
            }
            if let ResponseFraming::Length(_) = stream.framing {
                stream.remaining -= n as u64;
            }
            self.write_end = end;
            self.push(
                Segment::Buffer {
                    start: start as u32,
                    end: end as u32,
                },
                env.now,
            );
            let length_framed = matches!(stream.framing, ResponseFraming::Length(_));
            if done || (length_framed && stream.remaining == 0) {
                // A body short of its announced length, or one delimited by
                // the close, ends the connection.
                let short = length_framed && stream.remaining > 0;
                self.set_stream(None);
                self.end_response(stream.tag, env);
                if short || stream.framing == ResponseFraming::UntilClose {
                    if let Phase::Http(http) = &mut self.phase {
                        http.then = http.then.or_close();
                        http.input = Input::Stopped;
                    }
                }
                return;
            }
            self.set_stream(Some(stream));
            if n == 0 {
                // Nothing to send now: ask again on the next poll.
                self.yielded = true;
                return;
            }
        }
    }

    /// Ends a stream the application could not finish: what is queued
    /// goes out, then the connection closes, the body left unfinished.
    pub(super) fn abort_stream(&mut self, now: u64) {
        self.give_up_stream();
        self.set_stream(None);
        if let Phase::Http(http) = &mut self.phase {
            http.then = Then::Close;
            http.input = Input::Stopped;
        }
        self.timers.clear(TimerKind::Header);
        self.timers.clear(TimerKind::Body);
        self.timers.clear(TimerKind::Idle);
        self.finish_if_drained(now);
    }

    /// A stream now waits for the application: no write deadline while
    /// nothing is queued, and the parked-stream limit if one is set.
    fn park(&mut self, now: u64) {
        if self.queue.is_empty() {
            self.timers.clear(TimerKind::Write);
        }
        if self.config.parked_stream_timeout > 0 {
            self.timers.set(
                TimerKind::ParkedStream,
                now.saturating_add(self.config.parked_stream_timeout),
            );
        }
    }
}
