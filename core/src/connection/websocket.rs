//! The WebSocket side of a connection: after the `101`, frames in and out
//! through the same buffers, output queue and deadlines as HTTP.

use super::queue::{Queue, Segment};
use super::{Connection, Counters, Env, Input, IoBuffers, Life};
use crate::handler::WebSocket;
use crate::ws::{self, CloseCode, Message, Opcode, SendError, Session, Topics};
use crate::{ConnectionId, Handler};

/// The Close frame a shutting-down server sends its WebSocket peers: 1001
/// "going away" (static, so no buffer is needed to send it).
const GOING_AWAY: &[u8] = b"\x88\x0c\x03\xe9going away";

/// The Close frame for a peer that does not read fast enough, when
/// [`Config::websocket_close_on_backpressure`](super::Config) is set: 1008
/// "backpressure" (static: the write buffer is full when it is needed).
const BACKPRESSURE: &[u8] = b"\x88\x0e\x03\xf0backpressure";

/// What a connection keeps once it speaks WebSocket.
#[derive(Debug)]
pub(crate) struct WebSocketState {
    /// The protocol state.
    pub(super) session: Session,
    /// The value the handler gave when it accepted the handshake.
    tag: u64,
    /// The topics the connection subscribed to.
    topics: Topics,
    /// When the last automatic Ping went out.
    last_ping: u64,
    /// When the server's own Close frame went out, awaiting the reply.
    close_sent_at: Option<u64>,
    /// Close with 1008 when a send does not fit, instead of failing it.
    close_on_backpressure: bool,
}

impl WebSocketState {
    /// The value the handler gave when it accepted the handshake.
    pub(crate) fn tag(&self) -> u64 {
        self.tag
    }

    /// The topics the connection subscribed to.
    pub(crate) fn topics(&mut self) -> &mut Topics {
        &mut self.topics
    }

    /// Whether messages may still be sent.
    pub(crate) fn can_send(&self) -> bool {
        self.session.can_send()
    }

    /// Encodes a frame with `encode` into `output`. A frame that does not
    /// fit fails with [`SendError::BufferFull`] and, if so configured,
    /// starts the closing handshake with 1008.
    pub(crate) fn send(
        &mut self,
        output: &mut Output<'_>,
        encode: impl for<'b> FnOnce(&mut Session, &'b mut [u8]) -> Result<&'b [u8], SendError>,
    ) -> Result<(), SendError> {
        let session = &mut self.session;
        let result = output.write_with(|buf| encode(session, buf));
        match result {
            Err(SendError::BufferFull) if self.close_on_backpressure => {
                self.close_static(output, CloseCode::POLICY_VIOLATION, BACKPRESSURE);
            }
            Ok(()) if !self.session.can_send() => {
                // A Close went out: the reply gets a bounded wait.
                self.close_sent_at.get_or_insert(output.now);
            }
            _ => {}
        }
        result
    }

    /// Sends a prepared Close `frame` with `code` (its payload), without
    /// needing room in the write buffer.
    fn close_static(&mut self, output: &mut Output<'_>, code: CloseCode, frame: &'static [u8]) {
        let mut scratch = [0; ws::MAX_CONTROL_FRAME_LEN];
        let reason = &frame[4..];
        let reason = core::str::from_utf8(reason).unwrap_or("");
        if self
            .session
            .encode_close(&mut scratch, code, reason)
            .is_ok()
        {
            self.close_sent_at = Some(output.now);
            output.push_static(frame);
        }
    }
}

/// Where frames go: the connection's write buffer and output queue.
pub(crate) struct Output<'a> {
    /// The write buffer.
    write: &'a mut [u8],
    /// End of its used part.
    write_end: &'a mut usize,
    /// The output queue.
    queue: &'a mut Queue,
    /// When output was last queued or written.
    last_write: &'a mut u64,
    /// The time now.
    now: u64,
}

impl Output<'_> {
    /// The same output, borrowed for a shorter while.
    fn reborrow(&mut self) -> Output<'_> {
        Output {
            write: self.write,
            write_end: self.write_end,
            queue: self.queue,
            last_write: self.last_write,
            now: self.now,
        }
    }

    /// Lets `encode` write a frame into the free part of the write buffer
    /// and queues it. One queue slot is always left for a static Close.
    fn write_with(
        &mut self,
        encode: impl FnOnce(&mut [u8]) -> Result<&[u8], SendError>,
    ) -> Result<(), SendError> {
        if self.queue.free() < 2 {
            return Err(SendError::BufferFull);
        }
        let start = *self.write_end;
        let len = encode(&mut self.write[start..])?.len();
        self.note_queued();
        let end = start + len;
        if !self.queue.push(Segment::Buffer {
            start: start as u32,
            end: end as u32,
        }) {
            return Err(SendError::BufferFull);
        }
        *self.write_end = end;
        Ok(())
    }

    /// Queues a frame that lives in static memory (the slot
    /// [`write_with`](Self::write_with) keeps free).
    fn push_static(&mut self, frame: &'static [u8]) {
        self.note_queued();
        let _ = self.queue.push(Segment::Static(frame));
    }

    /// Output is about to be queued: the write timeout runs from now if
    /// nothing was waiting.
    fn note_queued(&mut self) {
        if self.queue.is_empty() {
            *self.last_write = self.now;
        }
    }
}

impl<const READ: usize, const WRITE: usize, const MAX_HEADERS: usize>
    Connection<READ, WRITE, MAX_HEADERS>
{
    /// Names this connection for code outside its callbacks (see
    /// [`ConnectionId`]); a backend sets it once, when it accepts the
    /// connection. Handlers read it with [`WebSocket::id`].
    pub fn set_id(&mut self, id: ConnectionId) {
        self.id = id;
    }

    /// The id set with [`set_id`](Self::set_id) (the default id if none).
    pub fn id(&self) -> ConnectionId {
        self.id
    }

    /// Whether the connection speaks WebSocket and may still be sent
    /// messages.
    pub fn is_websocket(&self) -> bool {
        self.life == Life::Open && self.ws.as_ref().is_some_and(WebSocketState::can_send)
    }

    /// Whether the connection speaks WebSocket and subscribed to `topic`
    /// ([`WebSocket::subscribe`]).
    pub fn is_subscribed(&self, topic: u64) -> bool {
        self.ws
            .as_ref()
            .is_some_and(|state| state.topics.contains(topic))
    }

    /// Sends a WebSocket message from outside the handler's callbacks —
    /// one that another thread posted, for example. Text, binary, Ping,
    /// unsolicited Pong, or Close (which begins the closing handshake); the
    /// caller then writes what [`transmit`](Self::transmit) offers.
    ///
    /// # Errors
    ///
    /// - [`SendError::Closed`] if the connection does not speak WebSocket
    ///   or its closing handshake began;
    /// - [`SendError::BufferFull`] if the frame does not fit the write
    ///   buffer (the peer does not read fast enough); with
    ///   [`Config::websocket_close_on_backpressure`](super::Config) the
    ///   connection then closes with 1008;
    /// - [`SendError::InvalidControlFrame`] for a Ping, Pong or Close over
    ///   the control frame limit.
    pub fn send_message(
        &mut self,
        bufs: &mut IoBuffers<READ, WRITE>,
        message: Message<'_>,
        now: u64,
    ) -> Result<(), SendError> {
        let Some(state) = self.ws.as_mut().filter(|_| self.life == Life::Open) else {
            return Err(SendError::Closed);
        };
        let mut output = Output {
            write: &mut bufs.write,
            write_end: &mut self.write_end,
            queue: &mut self.queue,
            last_write: &mut self.last_write,
            now,
        };
        state.send(&mut output, |session, buf| match message {
            Message::Text(text) => session.encode_text(buf, text),
            Message::Binary(data) => session.encode_binary(buf, data),
            Message::Ping(payload) => session.encode_ping(buf, payload),
            Message::Pong(payload) => session.encode_frame(buf, Opcode::Pong, true, payload),
            Message::Close(Some(code), reason) => session.encode_close(buf, code, reason),
            Message::Close(None, _) => session.encode_frame(buf, Opcode::Close, true, b""),
        })
    }

    /// The WebSocket half of [`shutdown`](Self::shutdown): close with 1001
    /// and wait (the linger time) for the reply. `false` if the connection
    /// does not speak WebSocket.
    pub(super) fn shutdown_websocket(&mut self, now: u64) -> bool {
        let (Input::WebSocket, Some(state)) = (&self.input, &mut self.ws) else {
            return false;
        };
        let mut output = Output {
            write: &mut [],
            write_end: &mut self.write_end,
            queue: &mut self.queue,
            last_write: &mut self.last_write,
            now,
        };
        state.close_static(&mut output, CloseCode::GOING_AWAY, GOING_AWAY);
        true
    }

    /// The next WebSocket deadline: the reply to the server's Close, the
    /// idle limit, or the next automatic Ping.
    pub(super) fn websocket_deadline(&self) -> u64 {
        let c = &self.config;
        let idle = self.last_read.saturating_add(c.websocket_idle_timeout);
        let Some(state) = &self.ws else {
            return idle;
        };
        if let Some(sent) = state.close_sent_at {
            return sent.saturating_add(c.linger_timeout);
        }
        if c.websocket_ping_interval == 0 {
            return idle;
        }
        let ping = self
            .last_read
            .max(state.last_ping)
            .saturating_add(c.websocket_ping_interval);
        idle.min(ping)
    }

    /// A WebSocket deadline passed: no reply to our Close (drop the
    /// connection), idle too long (close with 1001), or time to ping.
    pub(super) fn websocket_timeout(&mut self, bufs: &mut IoBuffers<READ, WRITE>, now: u64) {
        let Some(state) = self.ws.as_mut().filter(|s| s.close_sent_at.is_none()) else {
            self.life = Life::Closed;
            return;
        };
        let idle = now
            >= self
                .last_read
                .saturating_add(self.config.websocket_idle_timeout);
        let mut output = Output {
            write: &mut bufs.write,
            write_end: &mut self.write_end,
            queue: &mut self.queue,
            last_write: &mut self.last_write,
            now,
        };
        if idle {
            let sent = output.write_with(|buf| {
                state
                    .session
                    .encode_close(buf, CloseCode::GOING_AWAY, "idle")
            });
            if sent.is_err() {
                self.life = Life::Closed;
                return;
            }
            state.close_sent_at = Some(now);
        } else {
            state.last_ping = now;
            if output
                .write_with(|buf| state.session.encode_ping(buf, b""))
                .is_err()
            {
                // The peer reads nothing we send: it is gone.
                self.life = Life::Closed;
            }
        }
    }

    /// Answers a malformed WebSocket handshake (`400`, or `426` with the
    /// version the server speaks) and closes.
    pub(super) fn reject_upgrade(
        &mut self,
        bufs: &mut IoBuffers<READ, WRITE>,
        error: ws::HandshakeError,
        now: u64,
        counters: &mut Counters,
    ) {
        counters.parse_errors += 1;
        counters.response(error.status());
        self.input = Input::Stopped;
        self.close_after = true;
        match ws::write_reject(&mut bufs.write[self.write_end..], error, None) {
            Ok((head, body)) => {
                self.push_written(head.len(), now);
                self.push(Segment::Static(body), now);
            }
            Err(_) => self.life = Life::Closed,
        }
        self.finish_if_drained();
    }

    /// Switches to WebSocket after the `101` head of `len` bytes was
    /// written: bytes after the request head belong to the session.
    pub(super) fn open_websocket<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<READ, WRITE>,
        env: &mut Env<'_, H, L>,
        head_len: usize,
        len: usize,
        tag: u64,
    ) {
        env.counters.response(101);
        self.push_written(len, env.now);
        let leftover = self.read_start + head_len..self.read_end;
        let mut session = Session::new();
        let n = leftover.len();
        bufs.read.copy_within(leftover, 0);
        // A fresh session reads from the start of the buffer.
        let _ = session.read_buf(&mut bufs.read);
        session.on_read(n);
        self.read_start = 0;
        self.read_end = 0;
        self.parser.reset();
        self.head_since = None;
        self.input = Input::WebSocket;
        let state = self.ws.insert(WebSocketState {
            session,
            tag,
            topics: Topics::new(),
            last_ping: env.now,
            close_sent_at: None,
            close_on_backpressure: self.config.websocket_close_on_backpressure,
        });
        let output = Output {
            write: &mut bufs.write,
            write_end: &mut self.write_end,
            queue: &mut self.queue,
            last_write: &mut self.last_write,
            now: env.now,
        };
        env.handler
            .on_open(&mut WebSocket::new(state, output, env.local, self.id));
        self.end_websocket_if_done(env.now);
    }

    /// Delivers the messages read so far, answers pings and closes, and
    /// ends the connection once the closing handshake is done.
    pub(super) fn run_websocket<H: Handler<L>, L: Default>(
        &mut self,
        bufs: &mut IoBuffers<READ, WRITE>,
        env: &mut Env<'_, H, L>,
    ) {
        let Some(state) = &mut self.ws else {
            return;
        };
        let IoBuffers { read, write } = bufs;
        loop {
            let received = state.session.receive(read);
            let mut output = Output {
                write,
                write_end: &mut self.write_end,
                queue: &mut self.queue,
                last_write: &mut self.last_write,
                now: env.now,
            };
            let more = match received {
                Ok(Some(message)) => {
                    match message {
                        Message::Text(_) | Message::Binary(_) => {
                            let mut socket =
                                WebSocket::new(state, output.reborrow(), env.local, self.id);
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
                let frame_len = frame.len();
                let _ = output.write_with(|buf| {
                    let dst = buf.get_mut(..frame_len).ok_or(SendError::BufferFull)?;
                    dst.copy_from_slice(&control[..frame_len]);
                    Ok(&*dst)
                });
            }
            if !more {
                break;
            }
        }
        self.end_websocket_if_done(env.now);
    }

    /// After the handler ran: gives the reply to a Close the server sent a
    /// bounded wait, and ends the connection once the closing handshake is
    /// done (or failed) — the server closes the TCP connection once its
    /// frames are out (RFC 6455 §7.1.1).
    fn end_websocket_if_done(&mut self, now: u64) {
        let Some(state) = &mut self.ws else {
            return;
        };
        let session = &state.session;
        if !session.can_send() && session.wants_read() && state.close_sent_at.is_none() {
            state.close_sent_at = Some(now);
        }
        if session.is_finished() || !session.wants_read() {
            self.input = Input::Stopped;
            self.close_after = true;
        }
    }
}
