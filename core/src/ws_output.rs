//! The WebSocket side of a connection's output: what a connection keeps
//! once it speaks WebSocket ([`WebSocketState`]), and the one path every
//! frame the server sends takes into the output
//! ([`WebSocketState::send`]): the handler's messages, those posted from
//! outside its callbacks, and the server's own Pings, Pongs and Closes,
//! each a [`Frame`] with its [`Origin`], written into the write buffer and
//! queued through [`Output`] with the timers that output starts.
//!
//! Below both the connection, which drives the session, and the handler
//! API, whose [`WebSocket`](crate::WebSocket) handle writes through it;
//! it depends on neither (only on the send queue, the timers, the
//! counters and the WebSocket protocol).

use crate::counters::Counters;
use crate::send_queue::{Queue, Segment};
use crate::timers::{TimerKind, TimerTable};
use crate::ws::{self, CloseCode, Deflate, Message, Opcode, SendError, Session, Topics};

/// What a WebSocket connection does when a message does not fit its
/// outbound budget (its write buffer) because the peer reads too slowly.
///
/// Either way the send fails with [`SendError::BufferFull`] and the
/// message is counted as lost ([`WebSocket::lost`](crate::WebSocket::lost)).
/// No frame is ever cut: what was queued before goes out whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Backpressure {
    /// Close the connection with 1008 (policy violation): a proper Close
    /// frame goes out after the frames already queued. For peers that must
    /// keep up, or know they missed something. The default.
    #[default]
    Close,
    /// Drop the message and keep the connection: for feeds where a peer
    /// may skip messages (the handler can see how many it lost).
    Drop,
}

/// The timeouts the frames a connection sends start, from its
/// configuration (`Config`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FrameTimeouts {
    /// Output waiting for the peer to read it (`Config::write_timeout`).
    pub(crate) write: u64,
    /// The wait for the reply to the server's Close
    /// (`Config::linger_timeout`).
    pub(crate) linger: u64,
    /// A connection with no traffic either way
    /// (`Config::websocket_idle_timeout`).
    pub(crate) idle: u64,
}

/// The Close frame for a peer that does not read fast enough, under
/// [`Backpressure::Close`]: 1008 "backpressure" (static: the write buffer
/// is full when it is needed).
const BACKPRESSURE: &[u8] = b"\x88\x0e\x03\xf0backpressure";

/// What a connection keeps once it speaks WebSocket.
#[derive(Debug)]
pub(crate) struct WebSocketState {
    /// The protocol state.
    pub(crate) session: Session,
    /// The value the handler gave when it accepted the handshake.
    tag: u64,
    /// The topics the connection subscribed to.
    topics: Topics,
    /// Messages that did not fit the outbound budget.
    lost: u64,
    /// What a send that does not fit does.
    backpressure: Backpressure,
}

impl WebSocketState {
    /// The state of a connection that just switched to WebSocket: its
    /// `session`, the handler's `tag`, no topics, nothing lost.
    pub(crate) fn new(session: Session, tag: u64, backpressure: Backpressure) -> Self {
        WebSocketState {
            session,
            tag,
            topics: Topics::new(),
            lost: 0,
            backpressure,
        }
    }

    /// The value the handler gave when it accepted the handshake.
    pub(crate) fn tag(&self) -> u64 {
        self.tag
    }

    /// The topics the connection subscribed to.
    pub(crate) fn topics(&mut self) -> &mut Topics {
        &mut self.topics
    }

    /// Whether the connection subscribed to `topic`.
    pub(crate) fn is_subscribed(&self, topic: u64) -> bool {
        self.topics.contains(topic)
    }

    /// Whether messages may still be sent.
    pub(crate) fn can_send(&self) -> bool {
        self.session.can_send()
    }

    /// Messages that did not fit the outbound budget.
    pub(crate) fn lost(&self) -> u64 {
        self.lost
    }

    /// The one way a frame reaches the output, whoever sends it: `frame`
    /// is encoded into the write buffer (a [`Frame::StaticClose`] is queued
    /// from static memory) and queued, then what sending it means for
    /// the connection follows from its [`Origin`]:
    ///
    /// - any frame but the session's own answers: a Close that went out
    ///   starts the wait for the reply ([`Output::close_sent`]);
    /// - the application's: a frame sent keeps the connection from idling
    ///   (a listen-only subscriber is not cut while it is fed); one that
    ///   does not fit fails with [`SendError::BufferFull`], is counted as
    ///   lost and, under [`Backpressure::Close`], starts the closing
    ///   handshake with 1008.
    ///
    /// # Errors
    ///
    /// [`SendError::BufferFull`] when the frame does not fit,
    /// [`SendError::Closed`] once the closing handshake began,
    /// [`SendError::InvalidControlFrame`] for a control frame over the
    /// limit.
    pub(crate) fn send(
        &mut self,
        output: &mut Output<'_>,
        frame: Frame<'_>,
        origin: Origin,
    ) -> Result<(), SendError> {
        let result = self.queue(output, frame);
        if origin == Origin::Session {
            return result;
        }
        match result {
            Ok(()) if !self.session.can_send() => output.close_sent(),
            Ok(()) if origin == Origin::Application => output.keep_alive(),
            Err(SendError::BufferFull) if origin == Origin::Application => {
                self.lost += 1;
                if self.backpressure == Backpressure::Close && self.session.can_send() {
                    let close = Frame::StaticClose(CloseCode::POLICY_VIOLATION, BACKPRESSURE);
                    let _ = self.send(output, close, Origin::Server);
                }
            }
            _ => {}
        }
        result
    }

    /// Encodes `frame` (through the session, which keeps the protocol
    /// state) and queues it; a compressed message is counted in the
    /// output's counters.
    fn queue(&mut self, output: &mut Output<'_>, frame: Frame<'_>) -> Result<(), SendError> {
        let session = &mut self.session;
        match frame {
            Frame::Data {
                opcode,
                payload,
                deflate,
            } => {
                let mut compressed = None;
                output.write_with(|buf| {
                    let frame = session.encode_message(buf, opcode, payload, deflate)?;
                    compressed = compressed_len(frame);
                    Ok(frame)
                })?;
                if let (Some(wire), Some(counters)) = (compressed, &mut output.counters) {
                    counters.deflated(payload.len(), wire);
                }
                Ok(())
            }
            Frame::Ping(payload) => output.write_with(|buf| session.encode_ping(buf, payload)),
            Frame::Pong(payload) => {
                output.write_with(|buf| session.encode_frame(buf, Opcode::Pong, true, payload))
            }
            Frame::Close(Some(code), reason) => {
                output.write_with(|buf| session.encode_close(buf, code, reason))
            }
            Frame::Close(None, _) => {
                output.write_with(|buf| session.encode_frame(buf, Opcode::Close, true, b""))
            }
            Frame::Encoded(frame) => output.write_with(|buf| {
                let dst = buf.get_mut(..frame.len()).ok_or(SendError::BufferFull)?;
                dst.copy_from_slice(frame);
                Ok(&*dst)
            }),
            Frame::StaticClose(code, frame) => {
                // Encoded for the session's state only: the frame itself
                // is the static one, which needs no room in the buffer.
                let mut scratch = [0; ws::MAX_CONTROL_FRAME_LEN];
                let reason = core::str::from_utf8(&frame[4..]).unwrap_or("");
                session.encode_close(&mut scratch, code, reason)?;
                output.push_static(frame);
                Ok(())
            }
        }
    }
}

/// The payload length of `frame` as sent if it is compressed (RSV1 set),
/// else `None`. The server's headers are unmasked: 2 bytes, or 4 or 10
/// with an extended length.
fn compressed_len(frame: &[u8]) -> Option<usize> {
    let [first, second, ..] = *frame else {
        return None;
    };
    if first & 0x40 == 0 {
        return None;
    }
    let header = match second & 0x7f {
        126 => 4,
        127 => 10,
        _ => 2,
    };
    Some(frame.len() - header)
}

/// A frame the server sends, for [`WebSocketState::send`].
pub(crate) enum Frame<'p> {
    /// A text or binary message, as one frame, compressed with `deflate`
    /// if the connection negotiated permessage-deflate and it pays.
    Data {
        /// [`Opcode::Text`] or [`Opcode::Binary`].
        opcode: Opcode,
        /// The message.
        payload: &'p [u8],
        /// The connection's DEFLATE coder, if it has one.
        deflate: Option<&'p mut dyn Deflate>,
    },
    /// A Ping (payload at most 125 bytes).
    Ping(&'p [u8]),
    /// An unsolicited Pong (payload at most 125 bytes).
    Pong(&'p [u8]),
    /// A Close with a code and reason (at most 123 bytes), or with neither
    /// (`None`, the reason ignored).
    Close(Option<CloseCode>, &'p str),
    /// A control frame the session encoded itself: the Pong that answers
    /// the peer's Ping, the Close that answers the peer's Close or a
    /// protocol error.
    Encoded(&'p [u8]),
    /// A Close with this code, prepared whole in static memory: it needs
    /// no room in the write buffer, so it goes out when nothing else can
    /// (shutdown, failure, backpressure).
    StaticClose(CloseCode, &'static [u8]),
}

impl<'p> Frame<'p> {
    /// The frame that sends `message`, a text or binary one compressed
    /// with `deflate` as for [`Frame::Data`].
    pub(crate) fn message(message: Message<'p>, deflate: Option<&'p mut dyn Deflate>) -> Self {
        match message {
            Message::Text(text) => Frame::Data {
                opcode: Opcode::Text,
                payload: text.as_bytes(),
                deflate,
            },
            Message::Binary(data) => Frame::Data {
                opcode: Opcode::Binary,
                payload: data,
                deflate,
            },
            Message::Ping(payload) => Frame::Ping(payload),
            Message::Pong(payload) => Frame::Pong(payload),
            Message::Close(code, reason) => Frame::Close(code, reason),
        }
    }
}

/// Who sends a frame, which decides what
/// [`WebSocketState::send`] does besides queueing it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// The application: a handler's callback, or a message posted from
    /// outside them ([`Connection::send_message`](crate::Connection::send_message)).
    /// Its frames keep the connection from idling; one that does not fit
    /// is lost, and may close the connection ([`Backpressure`]).
    Application,
    /// The server on its own: an automatic Ping, or a Close for idleness,
    /// shutdown, failure or backpressure. A frame that does not fit is the
    /// caller's to handle.
    Server,
    /// The session answering the peer ([`Frame::Encoded`]): the frame
    /// is queued and nothing else changes (the peer's frame already
    /// restarted the timers).
    Session,
}

/// Where frames go: the connection's write buffer and output queue, and
/// the timers that output starts.
pub(crate) struct Output<'a> {
    /// The write buffer.
    write: &'a mut [u8],
    /// End of its used part.
    write_end: &'a mut usize,
    /// The output queue.
    queue: &'a mut Queue,
    /// The connection's timers.
    timers: &'a mut TimerTable,
    /// The timeouts output starts.
    timeouts: FrameTimeouts,
    /// The time now.
    now: u64,
    /// The worker's counters, where the call has them.
    counters: Option<&'a mut Counters>,
}

impl<'a> Output<'a> {
    /// The output of a connection, at `now`.
    pub(crate) fn new(
        write: &'a mut [u8],
        write_end: &'a mut usize,
        queue: &'a mut Queue,
        timers: &'a mut TimerTable,
        timeouts: FrameTimeouts,
        now: u64,
        counters: Option<&'a mut Counters>,
    ) -> Self {
        Output {
            write,
            write_end,
            queue,
            timers,
            timeouts,
            now,
            counters,
        }
    }
}

impl Output<'_> {
    /// The same output, borrowed for a shorter while.
    pub(crate) fn reborrow(&mut self) -> Output<'_> {
        Output::new(
            self.write,
            self.write_end,
            self.queue,
            self.timers,
            self.timeouts,
            self.now,
            self.counters.as_deref_mut(),
        )
    }

    /// The worker's counters, where the call has them.
    pub(crate) fn counters(&mut self) -> Option<&mut Counters> {
        self.counters.as_deref_mut()
    }

    /// The server's Close went out: the reply gets a bounded wait, and no
    /// Ping or idle close follows.
    fn close_sent(&mut self) {
        self.timers.clear(TimerKind::Ping);
        self.timers.clear(TimerKind::WebSocketIdle);
        self.timers.set_if_unset(
            TimerKind::CloseWait,
            self.now.saturating_add(self.timeouts.linger),
        );
    }

    /// The application talks to the peer: the idle limit runs from now.
    fn keep_alive(&mut self) {
        self.timers.set(
            TimerKind::WebSocketIdle,
            self.now.saturating_add(self.timeouts.idle),
        );
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
        let end = start + len;
        if !self.push(Segment::Buffer {
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
        let _ = self.push(Segment::Static(frame));
    }

    /// Appends a frame's segment to the output queue (`false`: no room);
    /// the write timeout runs from now if nothing was waiting.
    fn push(&mut self, segment: Segment) -> bool {
        if self.queue.is_empty() {
            self.timers.set(
                TimerKind::Write,
                self.now.saturating_add(self.timeouts.write),
            );
        }
        self.queue.push(segment)
    }
}
