//! The WebSocket side of a connection: after the `101`, frames in and out
//! through the same buffers, output queue and deadlines as HTTP.

use super::phase::{Input, Phase, Then};
use super::{Config, Connection, Counters, DeflatePolicy, Env, IoBuffers, TimerKind};
use crate::Handler;
use crate::handler::WebSocket;
use crate::response::EncodeError;
use crate::send_queue::Segment;
use crate::sizes::Sizes;
use crate::ws::deflate::{self, Agreement};
use crate::ws::{self, CloseCode, Deflate, Handshake, Message, SendError, Session};
use crate::ws_output::{Frame, Origin, Output, WebSocketState};

/// A handshake the handler accepted, its `101` head written.
pub(super) struct Accepted {
    /// The head's length.
    len: usize,
    /// The handler's tag.
    tag: u64,
    /// permessage-deflate, if agreed, with the connection's own state.
    deflate: Option<(Agreement, Option<u16>)>,
}

/// The Close frame a shutting-down server sends its WebSocket peers: 1001
/// "going away" (static, so no buffer is needed to send it).
const GOING_AWAY: &[u8] = b"\x88\x0c\x03\xe9going away";

/// A Close frame with code 1011 and the reason "internal error".
const INTERNAL_ERROR: &[u8] = b"\x88\x10\x03\xf3internal error";

impl<Z: Sizes> Connection<Z> {
    /// Whether the connection speaks WebSocket and may still be sent
    /// messages.
    pub fn is_websocket(&self) -> bool {
        matches!(&self.phase, Phase::WebSocket(state) if state.can_send())
    }

    /// Whether the connection speaks WebSocket and subscribed to `topic`
    /// ([`WebSocket::subscribe`]).
    pub fn is_subscribed(&self, topic: u64) -> bool {
        matches!(&self.phase, Phase::WebSocket(state) if state.is_subscribed(topic))
    }

    /// The WebSocket state and its output, at `now`, counting into
    /// `counters` if given.
    fn websocket_output<'a>(
        &'a mut self,
        write: &'a mut [u8],
        now: u64,
        counters: Option<&'a mut Counters>,
    ) -> Option<(&'a mut WebSocketState, Output<'a>)> {
        let Phase::WebSocket(state) = &mut self.phase else {
            return None;
        };
        let output = Output::new(
            write,
            &mut self.write_end,
            &mut self.queue,
            &mut self.timers,
            self.config.frame_timeouts(),
            now,
            counters,
        );
        Some((state, output))
    }

    /// Sends a WebSocket message from outside the handler's callbacks —
    /// one that another thread posted, for example. Text, binary, Ping,
    /// unsolicited Pong, or Close (which begins the closing handshake); the
    /// caller then writes what [`poll_transmit`](Self::poll_transmit)
    /// offers.
    ///
    /// # Errors
    ///
    /// - [`SendError::Closed`] if the connection does not speak WebSocket
    ///   or its closing handshake began;
    /// - [`SendError::BufferFull`] if the frame does not fit the write
    ///   buffer (the peer does not read fast enough): the message is
    ///   counted as lost and, under
    ///   [`Backpressure::Close`](crate::Backpressure::Close) (the default),
    ///   the connection closes with 1008;
    /// - [`SendError::InvalidControlFrame`] for a Ping, Pong or Close over
    ///   the control frame limit.
    pub fn send_message(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        message: Message<'_>,
        now: u64,
    ) -> Result<(), SendError> {
        self.send_message_with(bufs, message, now, None, &mut Counters::default())
    }

    /// [`send_message`](Self::send_message), compressing a text or binary
    /// message with `deflate` if the connection negotiated
    /// permessage-deflate (without one, it goes uncompressed, which the
    /// extension always allows); a message sent compressed is counted in
    /// `counters` ([`Counters::deflate_sent`]).
    ///
    /// # Errors
    ///
    /// As [`send_message`](Self::send_message).
    pub fn send_message_with(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        message: Message<'_>,
        now: u64,
        mut deflate: Option<&mut dyn Deflate>,
        counters: &mut Counters,
    ) -> Result<(), SendError> {
        let Some((state, mut output)) =
            self.websocket_output(&mut bufs.write[..], now, Some(counters))
        else {
            return Err(SendError::Closed);
        };
        let frame = Frame::message(message, deflate::reborrow(&mut deflate));
        let sent = state.send(&mut output, frame, Origin::Application);
        self.end_websocket_if_done(now);
        sent
    }

    /// The WebSocket half of [`shutdown`](Self::shutdown): close with 1001
    /// and wait (the linger time) for the reply.
    pub(super) fn shutdown_websocket(&mut self, now: u64) {
        if let Some((state, mut output)) = self.websocket_output(&mut [], now, None) {
            if state.can_send() {
                let frame = Frame::StaticClose(CloseCode::GOING_AWAY, GOING_AWAY);
                let _ = state.send(&mut output, frame, Origin::Server);
            }
        }
    }

    /// The WebSocket half of [`handle_panic`](Self::handle_panic): close
    /// with 1011 and wait (the linger time) for the reply.
    pub(super) fn fail_websocket(&mut self, now: u64) {
        if let Some((state, mut output)) = self.websocket_output(&mut [], now, None) {
            if state.can_send() {
                let frame = Frame::StaticClose(CloseCode::INTERNAL_ERROR, INTERNAL_ERROR);
                let _ = state.send(&mut output, frame, Origin::Server);
            }
        }
    }

    /// Restarts the timers a frame from the peer resets: the idle limit and
    /// the next automatic Ping.
    pub(super) fn restart_websocket_timers(&mut self, now: u64) {
        let c = &self.config;
        self.timers.set(
            TimerKind::WebSocketIdle,
            now.saturating_add(c.websocket_idle_timeout),
        );
        if c.websocket_ping_interval > 0 {
            self.timers.set(
                TimerKind::Ping,
                now.saturating_add(c.websocket_ping_interval),
            );
        }
    }

    /// A WebSocket timer passed: idle too long (close with 1001), or time
    /// to ping. A frame that does not fit means the peer reads nothing we
    /// send: it is gone.
    pub(super) fn websocket_timeout(&mut self, bufs: &mut IoBuffers<Z>, kind: TimerKind, now: u64) {
        let interval = self.config.websocket_ping_interval;
        let Some((state, mut output)) = self.websocket_output(&mut bufs.write[..], now, None)
        else {
            return;
        };
        if !state.session.can_send() {
            self.close_now();
            return;
        }
        let frame = if kind == TimerKind::WebSocketIdle {
            Frame::Close(Some(CloseCode::GOING_AWAY), "idle")
        } else {
            Frame::Ping(b"")
        };
        if state.send(&mut output, frame, Origin::Server).is_err() {
            self.close_now();
        } else if kind == TimerKind::Ping && interval > 0 {
            self.timers
                .set(TimerKind::Ping, now.saturating_add(interval));
        }
    }

    /// Answers a malformed WebSocket handshake (`400`, or `426` with the
    /// version the server speaks) and closes.
    pub(super) fn reject_upgrade(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        error: ws::HandshakeError,
        now: u64,
        counters: &mut Counters,
    ) {
        counters.parse_errors += 1;
        counters.response(error.status());
        if let Phase::Http(http) = &mut self.phase {
            http.input = Input::Stopped;
            http.then = Then::Close;
        }
        self.timers.clear(TimerKind::Header);
        match ws::write_reject(&mut bufs.write[self.write_end..], error, None) {
            Ok((head, body)) => {
                self.push_written(head.len(), now);
                self.push(Segment::Static(body), now);
            }
            Err(_) => self.close_now(),
        }
        self.finish_if_drained(now);
    }

    /// Writes the `101` head that accepts `handshake`, negotiating
    /// permessage-deflate if `compress`, the policy and the client allow
    /// (a state of the connection's own is taken for context takeover, and
    /// given back if the head cannot be written).
    pub(super) fn accept_upgrade<H: Handler<L>, L: Default>(
        write: &mut [u8],
        config: &Config,
        env: &mut Env<'_, H, L>,
        handshake: &Handshake<'_>,
        protocol: Option<&'static str>,
        tag: u64,
        compress: bool,
    ) -> Result<Accepted, EncodeError> {
        let deflate = if compress {
            Self::negotiate_deflate(config, handshake, env)
        } else {
            None
        };
        let mut value = [0; deflate::MAX_RESPONSE_LEN];
        let extensions = deflate.map(|(agreement, _)| agreement.write_response(&mut value));
        match ws::write_accept_with(write, handshake, protocol, extensions, env.date) {
            Ok(head) => Ok(Accepted {
                len: head.len(),
                tag,
                deflate,
            }),
            Err(error) => {
                if let (Some((_, Some(slot))), Some(codec)) = (deflate, env.deflate.as_deref_mut())
                {
                    codec.release(slot);
                }
                Err(error)
            }
        }
    }

    /// The permessage-deflate agreement for `handshake` under the
    /// configured policy, with a state of the connection's own if it takes
    /// over context; `None` to go uncompressed.
    fn negotiate_deflate<H: Handler<L>, L: Default>(
        config: &Config,
        handshake: &Handshake<'_>,
        env: &mut Env<'_, H, L>,
    ) -> Option<(Agreement, Option<u16>)> {
        let takeover = match config.websocket_deflate {
            DeflatePolicy::Off => return None,
            DeflatePolicy::NoContextTakeover => false,
            DeflatePolicy::ContextTakeover { .. } => true,
        };
        let codec = env.deflate.as_deref_mut()?;
        let agreement = deflate::negotiate(handshake.extensions(), takeover)?;
        if !agreement.takes_over_context() {
            return Some((agreement, None));
        }
        match codec.acquire() {
            Some(slot) => Some((agreement, Some(slot))),
            None => {
                env.counters.deflate_contexts_exhausted += 1;
                None
            }
        }
    }

    /// Switches to WebSocket after the `101` head was written: bytes after
    /// the request head belong to the session.
    pub(super) fn open_websocket<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
        head_len: usize,
        accepted: Accepted,
    ) {
        let Accepted { len, tag, deflate } = accepted;
        env.counters.response(101);
        self.push_written(len, env.now);
        let leftover = self.read_start + head_len..self.read_end;
        let mut session = Session::new();
        if let Some((agreement, slot)) = deflate {
            session = session.with_deflate(&agreement, slot, self.config.websocket_deflate_min_len);
            self.deflate_slot = slot;
        }
        let n = leftover.len();
        bufs.read[..].copy_within(leftover, 0);
        // A fresh session reads from the start of the buffer.
        let _ = session.read_buf(&mut bufs.read[..]);
        session.on_read(n);
        self.read_start = 0;
        self.read_end = 0;
        self.parser.reset();
        self.phase = Phase::WebSocket(WebSocketState::new(
            session,
            tag,
            self.config.websocket_backpressure,
        ));
        for kind in [TimerKind::Header, TimerKind::Body, TimerKind::Idle] {
            self.timers.clear(kind);
        }
        self.restart_websocket_timers(env.now);
        let id = self.id;
        let counters = Some(&mut *env.counters);
        if let Some((state, output)) = self.websocket_output(&mut bufs.write[..], env.now, counters)
        {
            let deflate = deflate::reborrow(&mut env.deflate);
            env.handler
                .on_open(&mut WebSocket::new(state, output, env.local, id, deflate));
        }
        self.end_websocket_if_done(env.now);
    }

    /// Delivers the messages read so far, answers pings and closes, and
    /// ends the connection once the closing handshake is done.
    #[inline(never)]
    pub(super) fn run_websocket<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<Z>,
        env: &mut Env<'_, H, L>,
    ) {
        let id = self.id;
        let IoBuffers { read, write } = bufs;
        let peer_closed = self.peer_closed;
        let Some((state, mut output)) =
            self.websocket_output(&mut write[..], env.now, Some(&mut *env.counters))
        else {
            return;
        };
        if peer_closed || state.session.is_finished() || !state.session.wants_read() {
            // The session reads no more: nothing to deliver.
            self.end_websocket_if_done(env.now);
            return;
        }
        loop {
            let received = state
                .session
                .receive_with(&mut read[..], deflate::reborrow(&mut env.deflate));
            let more = match received {
                Ok(Some(message)) => {
                    match message {
                        Message::Text(_) | Message::Binary(_) => {
                            if let (Some(wire), Some(counters)) =
                                (state.session.last_compressed_len(), output.counters())
                            {
                                let plain = match message {
                                    Message::Text(text) => text.len(),
                                    Message::Binary(data) => data.len(),
                                    _ => 0,
                                };
                                counters.inflated(wire, plain);
                            }
                            let deflate = deflate::reborrow(&mut env.deflate);
                            let mut socket =
                                WebSocket::new(state, output.reborrow(), env.local, id, deflate);
                            env.handler.on_message(message, &mut socket);
                        }
                        Message::Close(code, reason) => {
                            env.handler.on_close(code, reason, env.local)
                        }
                        Message::Ping(_) | Message::Pong(_) => {}
                    }
                    true
                }
                Ok(None) => false,
                Err(error) => {
                    env.handler
                        .on_close(Some(error.close_code()), "", env.local);
                    false
                }
            };
            // Pongs and the Close that answers one go out in order.
            let mut control = [0; ws::MAX_CONTROL_FRAME_LEN];
            while let Some(frame) = state.session.next_output(&mut control) {
                let _ = state.send(&mut output, Frame::Encoded(frame), Origin::Session);
            }
            if !more {
                break;
            }
        }
        self.end_websocket_if_done(env.now);
    }

    /// After the handler ran: gives the reply to a Close the server sent a
    /// bounded wait. The connection ends once the closing handshake is
    /// done (or failed) and its frames are out (RFC 6455 §7.1.1): see
    /// [`finish_if_drained`](Self::finish_if_drained).
    fn end_websocket_if_done(&mut self, now: u64) {
        let Phase::WebSocket(state) = &self.phase else {
            return;
        };
        let session = &state.session;
        if !session.can_send() && session.wants_read() {
            self.timers.clear(TimerKind::Ping);
            self.timers.clear(TimerKind::WebSocketIdle);
            self.timers.set_if_unset(
                TimerKind::CloseWait,
                now.saturating_add(self.config.linger_timeout),
            );
        }
        self.finish_if_drained(now);
    }
}
