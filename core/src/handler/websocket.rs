//! The handler's side of an open WebSocket connection.

use core::fmt;

use crate::id::ConnectionId;
use crate::ws::{self, CloseCode, Opcode, SendError, TopicsFull};
use crate::ws_output::{Frame, Origin, Output, WebSocketState};

/// An open WebSocket connection, as the handler's callbacks see it: send
/// messages, ping, close, subscribe to topics. Frames go into the
/// connection's write buffer; when it is full a send fails with
/// [`SendError::BufferFull`] instead of growing anything, the message is
/// counted as [`lost`](WebSocket::lost), and under the default
/// [`Backpressure::Close`](crate::Backpressure) the connection closes with
/// 1008 after the frames already queued.
pub struct WebSocket<'a, L = ()> {
    /// The connection's WebSocket state.
    state: &'a mut WebSocketState,
    /// Where frames go.
    output: Output<'a>,
    /// The worker's state.
    local: &'a mut L,
    /// The connection's name.
    id: ConnectionId,
    /// The DEFLATE coder, for a connection that negotiated compression.
    deflate: Option<&'a mut dyn ws::Deflate>,
}

impl<'a, L> WebSocket<'a, L> {
    /// A context over a connection's WebSocket state and output.
    pub(crate) fn new(
        state: &'a mut WebSocketState,
        output: Output<'a>,
        local: &'a mut L,
        id: ConnectionId,
        deflate: Option<&'a mut dyn ws::Deflate>,
    ) -> Self {
        WebSocket {
            state,
            output,
            local,
            id,
            deflate,
        }
    }

    /// Sends a text message.
    ///
    /// # Errors
    ///
    /// [`SendError::BufferFull`] when the write buffer has no room (the
    /// peer is not reading fast enough), [`SendError::Closed`] once the
    /// closing handshake began.
    pub fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        self.send(Opcode::Text, text.as_bytes())
    }

    /// Sends a binary message; errors as for [`send_text`](Self::send_text).
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.send(Opcode::Binary, data)
    }

    /// Sends a data message, compressed if the connection negotiated
    /// permessage-deflate and it pays.
    fn send(&mut self, opcode: Opcode, payload: &[u8]) -> Result<(), SendError> {
        let deflate = ws::deflate::reborrow(&mut self.deflate);
        let frame = Frame::Data {
            opcode,
            payload,
            deflate,
        };
        self.state
            .send(&mut self.output, frame, Origin::Application)
    }

    /// Sends a Ping (payload at most 125 bytes).
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), SendError> {
        let frame = Frame::Ping(payload);
        self.state
            .send(&mut self.output, frame, Origin::Application)
    }

    /// Starts the closing handshake with `code` and `reason` (at most 123
    /// bytes); the connection closes once the client answers or the linger
    /// time passes.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        let frame = Frame::Close(Some(code), reason);
        self.state
            .send(&mut self.output, frame, Origin::Application)
    }

    /// Whether messages may still be sent.
    pub fn can_send(&self) -> bool {
        self.state.can_send()
    }

    /// How many messages sent to this connection did not fit its outbound
    /// budget and were lost (the peer reads too slowly), from the handler
    /// or from other threads.
    pub fn lost(&self) -> u64 {
        self.state.lost()
    }

    /// The connection's id: keep it to send this connection messages later,
    /// from any thread, through the backend's sender.
    pub fn id(&self) -> ConnectionId {
        self.id
    }

    /// The value given with [`Upgrade::Accept`](crate::Upgrade::Accept) when the handshake was
    /// accepted (what the request asked for: a room, a user).
    pub fn tag(&self) -> u64 {
        self.state.tag()
    }

    /// Subscribes the connection to `topic`: messages the backend's sender
    /// publishes to that topic reach it. A topic is any number the
    /// application chooses.
    ///
    /// # Errors
    ///
    /// [`TopicsFull`] if it already has [`ws::MAX_TOPICS`] topics.
    pub fn subscribe(&mut self, topic: u64) -> Result<(), TopicsFull> {
        self.state.topics().subscribe(topic)
    }

    /// Unsubscribes the connection from `topic`; `false` if it was not
    /// subscribed.
    pub fn unsubscribe(&mut self, topic: u64) -> bool {
        self.state.topics().unsubscribe(topic)
    }

    /// The worker's own state.
    pub fn local(&mut self) -> &mut L {
        self.local
    }
}

impl<L> fmt::Debug for WebSocket<'_, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocket")
            .field("id", &self.id)
            .field("can_send", &self.state.can_send())
            .finish_non_exhaustive()
    }
}
