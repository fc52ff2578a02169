//! The HTTP input side: request heads parsed, bodies gathered, streamed
//! or discarded, and the handler run for each request.

use super::phase::{Framing, Http, Input, Phase};
use super::{Connection, ConnectionId, Env, IoBuffers, TimerKind};
use crate::chunked::ChunkedDecoder;
use crate::handler::{Completed, Later};
use crate::response::{self, Context};
use crate::send_queue::Segment;
use crate::sizes::Sizes;
use crate::ws;
use crate::{
    BodyFraming, BodyPolicy, Error, Handler, Method, Parsed, Request, Response, StatusCode, Upgrade,
};

/// Runs the handler for `request`, its response written at the start of
/// `out` (the free part of the write buffer) and, for a written body that
/// outgrows it, `spilled`; reports what to queue.
///
/// Not a method: the request borrows the connection's parser, so the
/// connection is only borrowed again, to queue the response, once the
/// handler is done with it. HTTP/2 streams run their handler through it
/// too: the application's `handle` then has this one caller, which the
/// compiler inlines it into. Kept out of line: inlined into the
/// connection's `poll` instead, it leaves the application's `handle` out
/// of line, and the usual request costs about 90 more instructions.
#[inline(never)]
pub(crate) fn handle<H: Handler<L>, L: Default>(
    env: &mut Env<'_, H, L>,
    request: &Request<'_>,
    out: &mut [u8],
    spilled: &mut Option<crate::spill::Chain>,
    keep_alive: bool,
    tag: u64,
    id: ConnectionId,
) -> Completed {
    let later = Later {
        version: request.version(),
        head_request: request.method() == Method::Head,
        keep_alive,
    };
    let handler = env.handler;
    fill_response(env, later, out, spilled, tag, id, |response| {
        handler.handle(request, response);
    })
}

/// Has `fill` build the response to a request `request` describes (its
/// version, method and whether the connection stays open), written at the
/// start of `out` and, past it, into `spilled`; reports what to queue.
/// What a handler's response and a deferred response's answer (over
/// HTTP/1.1 and HTTP/2) are both made by.
#[inline(always)]
pub(crate) fn fill_response<H: Handler<L>, L: Default>(
    env: &mut Env<'_, H, L>,
    request: Later,
    out: &mut [u8],
    spilled: &mut Option<crate::spill::Chain>,
    tag: u64,
    id: ConnectionId,
    fill: impl FnOnce(&mut Response<'_, L>),
) -> Completed {
    let ctx = Context {
        request_version: request.version,
        head_request: request.head_request,
        keep_alive: request.keep_alive,
        date: env.date,
    };
    let files: Option<&mut dyn crate::FileKeeper> = match &mut env.files {
        Some(files) => Some(&mut **files),
        None => None,
    };
    let spill: Option<&mut dyn crate::spill::Spill> = match &mut env.spill {
        Some(spill) => Some(&mut **spill),
        None => None,
    };
    let mut response = Response::new(out, ctx, env.local, files, spill, spilled, tag, id);
    fill(&mut response);
    response.complete()
}

impl<Z: Sizes> Connection<Z> {
    /// The HTTP phase's input, if the connection is in it.
    fn input_mut(&mut self) -> Option<&mut Input> {
        match &mut self.phase {
            Phase::Http(http) => Some(&mut http.input),
            _ => None,
        }
    }

    /// Sets what the HTTP phase reads next.
    fn set_input(&mut self, input: Input) {
        if let Some(slot) = self.input_mut() {
            *slot = input;
        }
    }

    /// Looks at a connection's first bytes where HTTP/2 may be spoken with
    /// prior knowledge ([`Config::h2c`](crate::Config::h2c)): `true` when
    /// they are an HTTP/1.1 request to parse, `false` when they are the
    /// HTTP/2 preface (the phase is now [`Phase::Http2`]), may still be,
    /// or were refused (an HTTP/2-only port answers anything else `505`).
    #[cold]
    #[inline(never)]
    fn first_bytes_are_http1(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        now: u64,
        counters: &mut crate::Counters,
    ) -> bool {
        use crate::h2::frame::{PrefaceStatus, detect_preface};
        let received = &bufs.read[self.read_start..self.read_end];
        let only = self.config.h2c == crate::H2c::Only;
        if !only && received.first() != Some(&b'P') {
            return true;
        }
        match detect_preface(received) {
            PrefaceStatus::Matched => {
                self.timers.clear_all();
                self.phase = Phase::Http2;
                false
            }
            PrefaceStatus::Partial => false,
            PrefaceStatus::Mismatch if only => {
                self.fail(bufs, Error::UnsupportedVersion, now, counters);
                false
            }
            PrefaceStatus::Mismatch => true,
        }
    }

    /// The head is complete and its body follows: the header timer stops
    /// and the body timer starts.
    fn begin_body(&mut self, input: Input, now: u64) {
        self.set_input(input);
        self.timers.clear(TimerKind::Header);
        self.timers.set(
            TimerKind::Body,
            now.saturating_add(self.config.body_timeout),
        );
    }

    /// Parses the head at `read_start` and begins its request; `false`
    /// when more input is needed or the connection stopped.
    #[inline(always)]
    pub(super) fn read_head<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) -> bool {
        if self.requests == 0
            && self.config.h2c != crate::H2c::Off
            && !self.first_bytes_are_http1(bufs, env.now, env.counters)
        {
            return false;
        }
        let request = match self
            .parser
            .parse(&bufs.read[self.read_start..self.read_end])
        {
            Ok(Parsed::Complete(request)) => request.with_peer(self.peer.as_ref()),
            Ok(Parsed::Partial) => return false,
            Err(error) => {
                self.fail(bufs, error, env.now, env.counters);
                return false;
            }
        };
        self.requests += 1;
        self.timers.clear(TimerKind::Header);
        let framing = match request.body_framing() {
            Ok(framing) => framing,
            Err(error) => {
                self.fail(bufs, error, env.now, env.counters);
                return false;
            }
        };
        let keep_alive =
            request.keep_alive() && self.requests < self.config.max_requests && !self.draining;
        env.counters.requests += 1;
        if framing == BodyFraming::Length(0) && !request.is_websocket_upgrade() {
            // The usual request: no body, no upgrade.
            let start = self.read_start + request.head_len();
            let out = &mut bufs.write[self.write_end..];
            let completed = handle(
                env,
                &request,
                out,
                &mut self.spilled,
                keep_alive,
                0,
                self.id,
            );
            self.queue_response(bufs, completed, env);
            self.read_start = start;
            return self.next_request(env.now);
        }
        self.begin_request(bufs, env, framing, keep_alive)
    }

    /// [`read_head`](Self::read_head) for a request with a body or an
    /// upgrade: out of line, so that the usual request's path stays small.
    #[inline(never)]
    fn begin_request<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
        framing: BodyFraming,
        keep_alive: bool,
    ) -> bool {
        // The head parsed whole by `read_head`, still in the buffer.
        let Some(request) = self
            .parser
            .request(&bufs.read[self.read_start..self.read_end])
        else {
            return false;
        };
        let request = request.with_peer(self.peer.as_ref());
        if request.is_websocket_upgrade() {
            let head_len = request.head_len();
            let outcome = match ws::check_upgrade(&request) {
                Err(error) => Err(error),
                Ok(handshake) => Ok(match env.handler.websocket(&request, &handshake) {
                    Upgrade::Decline => None,
                    Upgrade::Accept {
                        protocol,
                        tag,
                        compress,
                    } => Some(Self::accept_upgrade(
                        &mut bufs.write[self.write_end..],
                        &self.config,
                        env,
                        &handshake,
                        protocol,
                        tag,
                        compress,
                    )),
                }),
            };
            match outcome {
                Err(error) => {
                    self.reject_upgrade(bufs, error, env.now, env.counters);
                    return false;
                }
                Ok(Some(Ok(accepted))) => {
                    self.open_websocket(bufs, env, head_len, accepted);
                    return true;
                }
                // The chosen subprotocol was not offered: the handler's bug.
                Ok(Some(Err(_))) => {
                    env.counters.response(500);
                    self.queue_error(bufs, StatusCode::INTERNAL_SERVER_ERROR, None, env.now);
                    return false;
                }
                Ok(None) => {}
            }
        }
        let expects_continue = request.expects_continue();
        let head_len = request.head_len();
        let start = self.read_start + head_len;
        let framing = match framing {
            BodyFraming::Length(0) => {
                let out = &mut bufs.write[self.write_end..];
                let completed = handle(
                    env,
                    &request,
                    out,
                    &mut self.spilled,
                    keep_alive,
                    0,
                    self.id,
                );
                self.queue_response(bufs, completed, env);
                self.read_start = start;
                return self.next_request(env.now);
            }
            BodyFraming::Length(n) => Framing::Length(n),
            BodyFraming::Chunked => Framing::Chunked(ChunkedDecoder::new()),
        };
        let policy = env.handler.body_policy(&request);
        match policy {
            BodyPolicy::Buffer => {
                if matches!(framing, Framing::Length(n) if n > self.body_limit(head_len)) {
                    // Refused before a byte of it is read: no 100 Continue.
                    self.fail(bufs, Error::BodyTooLarge, env.now, env.counters);
                    return false;
                }
            }
            BodyPolicy::Ignore => {
                let out = &mut bufs.write[self.write_end..];
                let keep_alive = keep_alive && !expects_continue;
                let completed = handle(
                    env,
                    &request,
                    out,
                    &mut self.spilled,
                    keep_alive,
                    0,
                    self.id,
                );
                self.queue_response(bufs, completed, env);
                if expects_continue {
                    // The client waits for a 100 that never comes: close.
                    self.set_input(Input::Stopped);
                } else {
                    self.read_start = start;
                    self.begin_body(Input::Discard { framing }, env.now);
                }
                return true;
            }
            BodyPolicy::Stream => {}
        }
        if expects_continue {
            env.counters.response(100);
            self.push(Segment::Static(response::CONTINUE), env.now);
        }
        if head_len >= Z::READ {
            // No room left after the head to read any of the body into.
            self.fail(bufs, Error::HeadTooLarge, env.now, env.counters);
            return false;
        }
        if self.read_start > 0 {
            // The body is read after the head: give it the whole buffer.
            bufs.read[..].copy_within(self.read_start..self.read_end, 0);
            self.read_end -= self.read_start;
            self.read_start = 0;
        }
        let body = Input::Body {
            framing,
            policy,
            start: self.read_start + head_len,
            len: 0,
            keep_alive,
            tag: 0,
        };
        self.begin_body(body, env.now);
        true
    }

    /// The largest body read whole after a head of `head_len` bytes: the
    /// configured limit, and the room left in the read buffer.
    fn body_limit(&self, head_len: usize) -> u64 {
        let room = Z::READ.saturating_sub(head_len) as u64;
        self.config.max_body_len.min(room)
    }

    /// Takes in body bytes; `true` once the request was answered.
    #[inline(never)]
    pub(super) fn read_body<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) -> bool {
        let head_len = self.parser_head_len();
        let limit = self.body_limit(head_len);
        let read_end = self.read_end;
        let Some(Input::Body {
            framing,
            policy,
            start,
            len,
            keep_alive,
            tag,
        }) = self.input_mut()
        else {
            return false;
        };
        let (start, keep_alive, policy) = (*start, *keep_alive, *policy);
        // Decode what arrived since the last call, in place.
        let from = match policy {
            BodyPolicy::Buffer => start + *len as usize,
            _ => start,
        };
        let decoded = match framing {
            Framing::Length(remaining) => {
                let take = (*remaining).min((read_end - from) as u64);
                *remaining -= take;
                Ok((take as usize, from + take as usize, *remaining == 0))
            }
            Framing::Chunked(decoder) => decoder
                .decode_in_place(&mut bufs.read[from..read_end])
                .map(|decoded| (decoded.produced, from + decoded.consumed, decoded.done))
                .and_then(|step| {
                    // A chunk announcing more than a whole body may take is
                    // refused at its size line, not after waiting for it.
                    if policy == BodyPolicy::Buffer && decoder.announced_len() > limit {
                        Err(Error::BodyTooLarge)
                    } else {
                        Ok(step)
                    }
                }),
        };
        let (produced, end, done) = match decoded {
            Ok(step) => step,
            Err(error) => {
                self.fail(bufs, error, env.now, env.counters);
                return false;
            }
        };
        *len += produced as u64;
        let (total, tag_value) = (*len, *tag);
        if policy == BodyPolicy::Stream && produced > 0 {
            let request = self.parser.request(&bufs.read[self.read_start..]);
            if let (
                Some(request),
                Phase::Http(Http {
                    input: Input::Body { tag, .. },
                    ..
                }),
            ) = (request, &mut self.phase)
            {
                let request = request.with_peer(self.peer.as_ref());
                let chunk = &bufs.read[start..start + produced];
                env.handler.body_chunk(&request, chunk, tag, env.local);
            }
        }
        let tag = match &self.phase {
            Phase::Http(Http {
                input: Input::Body { tag, .. },
                ..
            }) => *tag,
            _ => tag_value,
        };
        if !done {
            // Keep the gathered body, drop what was decoded out of it.
            self.read_end = match policy {
                BodyPolicy::Buffer => start + total as usize,
                _ => start,
            };
            if policy == BodyPolicy::Buffer
                && (total > self.config.max_body_len || self.read_end == Z::READ)
            {
                self.fail(bufs, Error::BodyTooLarge, env.now, env.counters);
            }
            return false;
        }
        let body = match policy {
            BodyPolicy::Buffer => start..start + total as usize,
            _ => start..start,
        };
        if policy == BodyPolicy::Buffer && total > self.config.max_body_len {
            self.fail(bufs, Error::BodyTooLarge, env.now, env.counters);
            return false;
        }
        self.respond(bufs, env, body, keep_alive, tag);
        self.read_start = end;
        self.next_request(env.now)
    }

    /// The length of the head of the request being read, from its parser.
    fn parser_head_len(&self) -> usize {
        match &self.phase {
            Phase::Http(Http {
                input: Input::Body { start, .. },
                ..
            }) => start - self.read_start,
            _ => 0,
        }
    }

    /// Reads and drops the body of an answered request; `true` when done.
    #[inline(never)]
    pub(super) fn discard_body(&mut self, bufs: &mut IoBuffers<Z>, now: u64) -> bool {
        let from = self.read_start;
        let read_end = self.read_end;
        let Some(Input::Discard { framing }) = self.input_mut() else {
            return false;
        };
        let (end, done) = match framing {
            Framing::Length(remaining) => {
                let take = (*remaining).min((read_end - from) as u64);
                *remaining -= take;
                (from + take as usize, *remaining == 0)
            }
            Framing::Chunked(decoder) => {
                match decoder.decode_in_place(&mut bufs.read[from..read_end]) {
                    Ok(decoded) => (from + decoded.consumed, decoded.done),
                    Err(_) => {
                        // Its response is out; the stream cannot be trusted.
                        self.stop_reading(now);
                        return false;
                    }
                }
            }
        };
        if done {
            self.read_start = end;
            self.next_request(now)
        } else {
            self.read_end = self.read_start;
            false
        }
    }

    /// Gets ready for the next request; `false` if the connection stopped.
    #[inline(always)]
    fn next_request(&mut self, now: u64) -> bool {
        self.parser.reset();
        // The header timer stopped when the head completed.
        self.timers.clear(TimerKind::Body);
        let Phase::Http(http) = &mut self.phase else {
            return false;
        };
        if http.then != super::phase::Then::KeepAlive {
            http.input = Input::Stopped;
            return false;
        }
        http.input = Input::Head;
        if self.read_start == self.read_end {
            self.read_start = 0;
            self.read_end = 0;
            self.start_idle_if_idle(now);
        } else {
            // The next head began in the same read: its time runs now.
            self.timers.set(
                TimerKind::Header,
                now.saturating_add(self.config.header_timeout),
            );
        }
        true
    }

    /// Runs the handler for the request whose head starts at `read_start`
    /// (its body in `body`) and queues the response. A request without a
    /// body is answered from the view [`read_head`](Self::read_head) holds,
    /// without this rebuilding it.
    fn respond<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
        body: core::ops::Range<usize>,
        keep_alive: bool,
        tag: u64,
    ) {
        let Some(request) = self.parser.request(&bufs.read[self.read_start..]) else {
            return;
        };
        let request = request
            .with_body(&bufs.read[body])
            .with_peer(self.peer.as_ref());
        let out = &mut bufs.write[self.write_end..];
        let completed = handle(
            env,
            &request,
            out,
            &mut self.spilled,
            keep_alive,
            tag,
            self.id,
        );
        self.queue_response(bufs, completed, env);
    }

    /// A request head or body stalled: `408` if the answer can still go
    /// out whole, else the connection closes. A connection that sent
    /// nothing at all is closed without a word.
    pub(super) fn request_timeout(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        kind: TimerKind,
        now: u64,
        counters: &mut super::Counters,
    ) {
        let Phase::Http(http) = &self.phase else {
            return;
        };
        let silent = kind == TimerKind::Header && self.read_end == self.read_start;
        if silent || matches!(http.input, Input::Stopped) {
            self.close_now();
        } else if http.stream.is_some() {
            // A 408 cannot follow a body half sent.
            counters.timeouts += 1;
            self.close_now();
        } else {
            self.fail(bufs, Error::RequestTimeout, now, counters);
        }
    }
}
