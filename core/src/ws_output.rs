//! The WebSocket side of a connection's output: what a connection keeps
//! once it speaks WebSocket ([`WebSocketState`]) and where the frames it
//! sends go ([`Output`]): the write buffer, the output queue, and the
//! timers that output starts.
//!
//! Below both the connection, which drives the session, and the handler
//! API, whose [`WebSocket`](crate::WebSocket) handle writes through it;
//! it depends on neither.

use crate::counters::Counters;
use crate::send_queue::{Queue, Segment};
use crate::timers::{TimerKind, TimerTable};
use crate::ws::{self, CloseCode, Deflate, Opcode, SendError, Session, Topics};

/// What a WebSocket connection does when a message does not fit its
/// outbound budget (its write buffer) because the peer reads too slowly.
///
/// Either way the send fails with
/// [`SendError::BufferFull`](crate::ws::SendError::BufferFull) and the
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

    /// Encodes a frame with `encode` into `output`. A frame that does not
    /// fit fails with [`SendError::BufferFull`], is counted as lost and,
    /// under [`Backpressure::Close`], starts the closing handshake with
    /// 1008.
    pub(crate) fn send(
        &mut self,
        output: &mut Output<'_>,
        encode: impl for<'b> FnOnce(&mut Session, &'b mut [u8]) -> Result<&'b [u8], SendError>,
    ) -> Result<(), SendError> {
        let session = &mut self.session;
        let result = output.write_with(|buf| encode(session, buf));
        match result {
            Err(SendError::BufferFull) => {
                self.lost += 1;
                if self.backpressure == Backpressure::Close && self.session.can_send() {
                    self.close_static(output, CloseCode::POLICY_VIOLATION, BACKPRESSURE);
                }
            }
            Ok(()) if !self.session.can_send() => output.close_sent(),
            Ok(()) => {
                // The application still talks to the peer: not idle (a
                // listen-only subscriber is not cut while it is fed).
                output.timers.set(
                    TimerKind::WebSocketIdle,
                    output.now.saturating_add(output.timeouts.idle),
                );
            }
            _ => {}
        }
        result
    }

    /// Sends a text or binary message as one frame, compressed with
    /// `deflate` if the connection negotiated permessage-deflate and it
    /// pays (counted in the output's counters); errors as for
    /// [`send`](Self::send).
    pub(crate) fn send_data(
        &mut self,
        output: &mut Output<'_>,
        opcode: Opcode,
        payload: &[u8],
        deflate: Option<&mut dyn Deflate>,
    ) -> Result<(), SendError> {
        let mut compressed = None;
        let sent = self.send(output, |session, buf| {
            let frame = session.encode_message(buf, opcode, payload, deflate)?;
            // RSV1 marks a compressed message; the server's headers are
            // unmasked: 2 bytes, or 4 or 10 with an extended length.
            if let [first, second, ..] = *frame {
                if first & 0x40 != 0 {
                    let header = match second & 0x7f {
                        126 => 4,
                        127 => 10,
                        _ => 2,
                    };
                    compressed = Some(frame.len() - header);
                }
            }
            Ok(frame)
        });
        if let (Ok(()), Some(wire), Some(counters)) = (&sent, compressed, &mut output.counters) {
            counters.deflated(payload.len(), wire);
        }
        sent
    }

    /// Sends a prepared Close `frame` with `code` (its payload), without
    /// needing room in the write buffer.
    pub(crate) fn close_static(
        &mut self,
        output: &mut Output<'_>,
        code: CloseCode,
        frame: &'static [u8],
    ) {
        let mut scratch = [0; ws::MAX_CONTROL_FRAME_LEN];
        let reason = &frame[4..];
        let reason = core::str::from_utf8(reason).unwrap_or("");
        if self
            .session
            .encode_close(&mut scratch, code, reason)
            .is_ok()
        {
            output.close_sent();
            output.push_static(frame);
        }
    }
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
    pub(crate) timers: &'a mut TimerTable,
    /// The timeouts output starts.
    timeouts: FrameTimeouts,
    /// The time now.
    now: u64,
    /// The worker's counters, where the call has them.
    pub(crate) counters: Option<&'a mut Counters>,
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
        Output {
            write: self.write,
            write_end: self.write_end,
            queue: self.queue,
            timers: self.timers,
            timeouts: self.timeouts,
            now: self.now,
            counters: self.counters.as_deref_mut(),
        }
    }

    /// The server's Close went out: the reply gets a bounded wait, and no
    /// Ping or idle close follows.
    pub(crate) fn close_sent(&mut self) {
        self.timers.clear(TimerKind::Ping);
        self.timers.clear(TimerKind::WebSocketIdle);
        self.timers.set_if_unset(
            TimerKind::CloseWait,
            self.now.saturating_add(self.timeouts.linger),
        );
    }

    /// Lets `encode` write a frame into the free part of the write buffer
    /// and queues it. One queue slot is always left for a static Close.
    pub(crate) fn write_with(
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
            self.timers.set(
                TimerKind::Write,
                self.now.saturating_add(self.timeouts.write),
            );
        }
    }
}
