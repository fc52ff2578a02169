//! The sans-IO message layer: a client's masked frames in, messages out
//! (RFC 6455 §5, §7).
//!
//! # Decoding in place
//!
//! A [`Session`] works in a read buffer the caller owns, the one the
//! connection used for HTTP or any other. The caller reads socket bytes
//! into [`read_buf`](Session::read_buf), reports them with
//! [`on_read`](Session::on_read), then calls
//! [`receive`](Session::receive) until it returns `Ok(None)`. Each message
//! returned borrows the buffer, until the buffer is handed to the session
//! again.
//!
//! Frames are decoded where they lie. Each piece of payload is unmasked in
//! place and moved down, with one `copy_within`, to follow the payload
//! before it, closing the gaps the frame headers leave; headers are taken
//! into the session's own state as they arrive, so the buffer never keeps
//! one. A message in a single frame that arrived whole is not moved at all.
//! When [`read_buf`](Session::read_buf) is asked for room it moves the
//! unfinished message, if any, to the start of the buffer, so each message
//! moves there at most once.
//!
//! Text is looked at twice: validated as it arrives, to fail early, and
//! once more, whole, by `core::str::from_utf8` when it is delivered, which
//! turns it into a `&str` without `unsafe`.
//!
//! # Limits
//!
//! A message (the payload of its frames together) may be as long as
//! [`with_max_message_len`](Session::with_max_message_len) says, and at
//! most the buffer's length less 125 bytes, which stay free for a control
//! frame arriving in the middle of a fragmented message. A frame that
//! would take a message past that fails the connection with 1009 as soon
//! as its header arrives, before any of its payload is read.
//!
//! # What it enforces
//!
//! Frame headers are checked by [`FrameDecoder`]: each of its errors is
//! 1002. On top of that:
//!
//! - A Continuation frame without a message to continue, or a Text or
//!   Binary frame inside a fragmented message: 1002 (§5.4). Control frames
//!   may come between fragments (§5.4) and are delivered at once.
//! - Text is validated as it arrives, across fragments; the first byte that
//!   makes it invalid fails the connection with 1007, before the message
//!   is complete (§8.1). A message that ends inside a code point is 1007
//!   too.
//! - A Close frame's payload is empty, or a valid [`CloseCode`] and a UTF-8
//!   reason: a one-byte payload or an invalid code is 1002, an invalid
//!   reason 1007 (§5.5.1, §7.4).
//! - A Ping is delivered, and a Pong echoing its payload is queued; a Ping
//!   that arrives before the Pong was taken replaces it (§5.5.3).
//!
//! On an error the session queues a Close frame with the error's code and
//! reason ([`next_output`](Session::next_output)), delivers nothing more
//! and returns that error from every later [`receive`](Session::receive);
//! the caller sends the Close frame and closes the connection (§7.1.7).
//!
//! # Closing
//!
//! A received Close frame is delivered as [`Message::Close`], and a Close
//! frame echoing its code is queued (§5.5.1); after it, nothing is
//! delivered and nothing but that reply can be sent. The caller sends the
//! reply and closes the TCP connection: the server closes first (§7.1.1).
//!
//! When the server closes first ([`encode_close`](Session::encode_close)),
//! nothing more can be sent; data and pings that arrive meanwhile are
//! discarded, unanswered, and the client's Close is delivered. The caller
//! then closes the TCP connection, or does so after a timeout of its own if
//! the client's Close never comes.

use core::ops::Range;

use super::close::parse_close_payload;
mod compression;

use compression::Compression;

use super::deflate::{self, Deflate};
use super::frame::{FrameDecoder, FrameHeader, MAX_CONTROL_PAYLOAD, MAX_SERVER_HEADER_LEN, Opcode};
use super::send::{self, MAX_CONTROL_FRAME_LEN, SendError};
use super::{CloseCode, ProtocolError, Utf8Validator, encode_header, unmask};

/// What a client sent, borrowing the read buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message<'b> {
    /// A complete text message, valid UTF-8, its fragments joined.
    Text(&'b str),
    /// A complete binary message, its fragments joined.
    Binary(&'b [u8]),
    /// A Ping, with its payload (at most 125 bytes). The session has queued
    /// the Pong that answers it.
    Ping(&'b [u8]),
    /// A Pong, with its payload (at most 125 bytes).
    Pong(&'b [u8]),
    /// A Close frame: its status code, `None` when it had none (the API's
    /// 1005, "no status received", §7.1.5), and its reason, possibly empty.
    /// The session has queued the reply if the server had not sent a Close
    /// frame already; nothing more will be delivered.
    Close(Option<CloseCode>, &'b str),
}

/// The kind of the data message being assembled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A text message: its payload goes through the UTF-8 validator.
    Text,
    /// A binary message.
    Binary,
}

/// The frame whose payload is being read.
#[derive(Clone, Copy, Debug)]
struct Frame {
    /// Its opcode.
    opcode: Opcode,
    /// Whether it ends its message.
    fin: bool,
    /// Its masking key.
    mask: [u8; 4],
    /// Payload bytes not yet read.
    remaining: u64,
    /// Payload bytes read so far, modulo 4: the phase of the key.
    phase: usize,
}

/// A finished message, as ranges of the buffer.
#[derive(Clone, Debug)]
enum Ready {
    /// A text message, its bytes validated.
    Text(Range<usize>),
    /// A binary message.
    Binary(Range<usize>),
    /// A Ping's payload.
    Ping(Range<usize>),
    /// A Pong's payload.
    Pong(Range<usize>),
    /// A Close frame's code and reason, the reason validated.
    Close(Option<CloseCode>, Range<usize>),
}

/// The WebSocket protocol state of one connection, server side.
///
/// See the [module documentation](self) for how it uses the read buffer
/// and what it enforces. It holds no buffer of its own but the payload of
/// a queued Pong: 256 bytes on 64-bit targets.
///
/// ```
/// use peregrine_core::ws::{Message, Session, MAX_CONTROL_FRAME_LEN};
///
/// let mut session = Session::new();
/// let mut buf = [0u8; 1024];
///
/// // A client's masked "Hello" (RFC 6455 §5.7) and an empty ping arrive.
/// let wire = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58\x89\x80\x01\x02\x03\x04";
/// let space = session.read_buf(&mut buf);
/// space[..wire.len()].copy_from_slice(wire); // as a socket read would
/// session.on_read(wire.len());
///
/// assert_eq!(session.receive(&mut buf), Ok(Some(Message::Text("Hello"))));
/// assert_eq!(session.receive(&mut buf), Ok(Some(Message::Ping(b""))));
/// assert_eq!(session.receive(&mut buf), Ok(None)); // read more
///
/// // The pong that answers the ping, then frames of the server's own.
/// let mut control = [0; MAX_CONTROL_FRAME_LEN];
/// assert_eq!(session.next_output(&mut control), Some(&b"\x8a\x00"[..]));
/// assert_eq!(session.next_output(&mut control), None);
/// let mut out = [0; 64];
/// assert_eq!(session.encode_text(&mut out, "Hi")?, b"\x81\x02Hi");
/// # Ok::<(), peregrine_core::ws::SendError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Session {
    /// Decodes the header of the next frame.
    decoder: FrameDecoder,
    /// The frame whose payload is being read, once its header is decoded.
    frame: Option<Frame>,
    /// The data message being assembled, from its first frame to its last.
    message: Option<Kind>,
    /// Whether the data message being assembled is compressed.
    compressed: bool,
    /// permessage-deflate, if negotiated.
    deflate: Option<Compression>,
    /// Validates the text message being assembled.
    text: Utf8Validator,
    /// Where the assembled payload starts in the buffer.
    base: usize,
    /// Bytes of the data message assembled at `base`.
    message_len: usize,
    /// Bytes of a control frame's payload assembled after the message's.
    control_len: usize,
    /// The first byte of the buffer not yet decoded.
    pos: usize,
    /// Bytes of the buffer read so far.
    filled: usize,
    /// The limit on a message's length.
    max_message_len: usize,
    /// The payload of the queued Pong.
    pong: [u8; MAX_CONTROL_PAYLOAD],
    /// The length of the queued Pong's payload, if one is queued.
    pong_len: Option<u8>,
    /// The queued Close frame's code (`None`: an empty Close) and reason.
    queued_close: Option<(Option<CloseCode>, &'static str)>,
    /// Whether a Close frame was sent or queued: nothing may follow it.
    close_sent: bool,
    /// Whether the client's Close frame was received.
    close_received: bool,
    /// The error that failed the connection; sticky.
    failed: Option<ProtocolError>,
}

impl Default for Session {
    fn default() -> Self {
        Self::new()
    }
}

impl Session {
    /// A session just after the handshake, limiting messages by the buffer
    /// alone.
    pub const fn new() -> Self {
        Session {
            decoder: FrameDecoder::new(),
            frame: None,
            message: None,
            compressed: false,
            deflate: None,
            text: Utf8Validator::new(),
            base: 0,
            message_len: 0,
            control_len: 0,
            pos: 0,
            filled: 0,
            max_message_len: usize::MAX,
            pong: [0; MAX_CONTROL_PAYLOAD],
            pong_len: None,
            queued_close: None,
            close_sent: false,
            close_received: false,
            failed: None,
        }
    }

    /// Sets the limit on a message's length, in bytes; a longer one fails
    /// the connection with 1009. The buffer's length less 125 bytes limits
    /// it too.
    pub const fn with_max_message_len(mut self, len: usize) -> Self {
        self.max_message_len = len;
        self
    }

    /// The part of `buf` to read the next bytes into.
    ///
    /// Pass the same buffer to every call of this method and of
    /// [`receive`](Self::receive). The unfinished message, if any, is first
    /// moved to the start of `buf`, so the room returned is as large as it
    /// can be; it is empty only if `buf` is full of bytes
    /// [`receive`](Self::receive) has not yet looked at, or is not the
    /// buffer the session was given before.
    ///
    /// Bytes that followed the handshake in the same read belong to the
    /// session: copy them to the start of a fresh session's `read_buf` and
    /// report them with [`on_read`](Self::on_read).
    pub fn read_buf<'b>(&mut self, buf: &'b mut [u8]) -> &'b mut [u8] {
        if self.filled > buf.len() {
            return &mut [];
        }
        let assembled = self.message_len + self.control_len;
        if assembled == 0 {
            self.base = self.pos;
        }
        // Compact when everything read was decoded (only the unfinished
        // message moves), or when there is no room left at all.
        if self.pos == self.filled || self.filled == buf.len() {
            if self.base != 0 {
                buf.copy_within(self.base..self.base + assembled, 0);
            }
            if self.pos != assembled {
                buf.copy_within(self.pos..self.filled, assembled);
            }
            self.filled = assembled + (self.filled - self.pos);
            self.pos = assembled;
            self.base = 0;
        }
        &mut buf[self.filled..]
    }

    /// Records that `n` bytes were read into the start of the room
    /// [`read_buf`](Self::read_buf) returned.
    #[inline]
    pub fn on_read(&mut self, n: usize) {
        self.filled = self.filled.saturating_add(n);
    }

    /// Decodes the bytes read so far up to the next message, and returns
    /// it; `Ok(None)` when every byte read was decoded and more are needed,
    /// or when the session will deliver nothing more (see
    /// [`wants_read`](Self::wants_read)).
    ///
    /// The message borrows `buf`, which must be the buffer given to
    /// [`read_buf`](Self::read_buf). However the bytes were split between
    /// reads, the same messages come out in the same order, and an error
    /// is found at the same byte.
    ///
    /// # Errors
    ///
    /// The [`ProtocolError`] that failed the connection, on this call and
    /// every later one. A Close frame answering it is queued (see
    /// [`next_output`](Self::next_output)) unless the server had sent
    /// one already.
    pub fn receive<'b>(&mut self, buf: &'b mut [u8]) -> Result<Option<Message<'b>>, ProtocolError> {
        self.receive_with(buf, None)
    }

    /// [`receive`](Self::receive), decompressing compressed messages with
    /// `codec` (see [`with_deflate`](Self::with_deflate)). A compressed
    /// message is decompressed into `buf` after the bytes the session
    /// holds, so it needs room there for itself twice over, compressed and
    /// not; one that would decompress past the message limit or the end of
    /// `buf` fails the connection with 1009.
    ///
    /// # Errors
    ///
    /// As [`receive`](Self::receive); a compressed message that is not
    /// DEFLATE data is 1007, and one that arrives with no `codec` 1011.
    pub fn receive_with<'b>(
        &mut self,
        buf: &'b mut [u8],
        codec: Option<&mut dyn Deflate>,
    ) -> Result<Option<Message<'b>>, ProtocolError> {
        let ready = match self.advance(buf, codec) {
            Ok(Some(ready)) => ready,
            Ok(None) => return Ok(None),
            Err(error) => return Err(self.fail(error)),
        };
        let buf: &'b [u8] = buf;
        Ok(Some(match ready {
            // Validated as it arrived; checked once more, whole, to hand
            // out a `&str` without `unsafe`.
            Ready::Text(range) => match core::str::from_utf8(&buf[range]) {
                Ok(text) => Message::Text(text),
                Err(_) => return Err(self.fail(ProtocolError::InvalidUtf8)),
            },
            Ready::Binary(range) => Message::Binary(&buf[range]),
            Ready::Ping(range) => Message::Ping(&buf[range]),
            Ready::Pong(range) => Message::Pong(&buf[range]),
            Ready::Close(code, range) => {
                Message::Close(code, core::str::from_utf8(&buf[range]).unwrap_or_default())
            }
        }))
    }

    /// Encodes the next control frame the session wants sent into `out`
    /// and returns it: the Pong answering the latest Ping, then the Close
    /// frame that answers a Close or an error. Call it after
    /// [`receive`](Self::receive) and send what it returns, in order, before
    /// the next frame of the server's own.
    pub fn next_output<'o>(
        &mut self,
        out: &'o mut [u8; MAX_CONTROL_FRAME_LEN],
    ) -> Option<&'o [u8]> {
        if let Some(len) = self.pong_len.take() {
            let payload = &self.pong[..usize::from(len)];
            return send::encode_pong(out, payload).ok();
        }
        match self.queued_close.take()? {
            (Some(code), reason) => send::encode_close(out, code, reason).ok(),
            (None, _) => Some(send::encode_empty_close(out)),
        }
    }

    /// Whether the buffer holds bytes the session still needs: an
    /// undecoded read, or part of a message. When not, the caller may lend
    /// the session another buffer next time.
    pub fn holds_buffer(&self) -> bool {
        self.pos < self.filled || self.message_len + self.control_len > 0
    }

    /// Whether [`next_output`](Self::next_output) has a frame to send.
    pub fn has_output(&self) -> bool {
        self.pong_len.is_some() || self.queued_close.is_some()
    }

    /// Whether the session still reads: false once the client's Close frame
    /// was received or the connection failed.
    pub fn wants_read(&self) -> bool {
        !self.close_received && self.failed.is_none()
    }

    /// Whether the server may still send frames of its own: false once a
    /// Close frame was sent, received or queued.
    pub fn can_send(&self) -> bool {
        !self.close_sent
    }

    /// Whether the session is over: nothing more to read, nothing more to
    /// send. The caller closes the connection.
    pub fn is_finished(&self) -> bool {
        !self.wants_read() && !self.has_output()
    }

    /// Encodes a text message in one frame into `out` and returns it.
    ///
    /// # Errors
    ///
    /// [`SendError::Closed`] once the closing handshake has begun;
    /// [`SendError::BufferFull`] if the frame does not fit `out`.
    pub fn encode_text<'o>(
        &mut self,
        out: &'o mut [u8],
        text: &str,
    ) -> Result<&'o [u8], SendError> {
        self.encode_frame(out, Opcode::Text, true, text.as_bytes())
    }

    /// Encodes a binary message in one frame into `out` and returns it.
    ///
    /// # Errors
    ///
    /// [`SendError::Closed`] once the closing handshake has begun;
    /// [`SendError::BufferFull`] if the frame does not fit `out`.
    pub fn encode_binary<'o>(
        &mut self,
        out: &'o mut [u8],
        data: &[u8],
    ) -> Result<&'o [u8], SendError> {
        self.encode_frame(out, Opcode::Binary, true, data)
    }

    /// Encodes a Ping frame into `out` and returns it.
    ///
    /// # Errors
    ///
    /// [`SendError::Closed`] once the closing handshake has begun;
    /// [`SendError::InvalidControlFrame`] if `payload` is over 125 bytes;
    /// [`SendError::BufferFull`] if the frame does not fit `out`.
    pub fn encode_ping<'o>(
        &mut self,
        out: &'o mut [u8],
        payload: &[u8],
    ) -> Result<&'o [u8], SendError> {
        self.encode_frame(out, Opcode::Ping, true, payload)
    }

    /// Encodes any frame into `out` and returns it, as
    /// [`ws::encode_frame`](super::encode_frame) does; for fragmented
    /// messages and unsolicited Pongs. A Close frame begins the closing
    /// handshake, but [`encode_close`](Self::encode_close) is the way to
    /// send one.
    ///
    /// # Errors
    ///
    /// [`SendError::Closed`] once the closing handshake has begun, and the
    /// errors of [`ws::encode_frame`](super::encode_frame).
    pub fn encode_frame<'o>(
        &mut self,
        out: &'o mut [u8],
        opcode: Opcode,
        fin: bool,
        payload: &[u8],
    ) -> Result<&'o [u8], SendError> {
        if self.close_sent {
            return Err(SendError::Closed);
        }
        let frame = send::encode_frame(out, opcode, fin, payload)?;
        if opcode == Opcode::Close {
            self.begin_close();
        }
        Ok(frame)
    }

    /// Encodes the header of a frame whose `len` bytes of payload the
    /// caller sends after it (one vectored write, no copy), as
    /// [`ws::encode_header`](super::encode_header) does.
    ///
    /// # Errors
    ///
    /// [`SendError::Closed`] once the closing handshake has begun;
    /// [`SendError::InvalidControlFrame`] for a control opcode with more
    /// than 125 bytes of payload or without `fin`.
    pub fn encode_header<'o>(
        &mut self,
        out: &'o mut [u8; MAX_SERVER_HEADER_LEN],
        opcode: Opcode,
        fin: bool,
        len: usize,
    ) -> Result<&'o [u8], SendError> {
        if self.close_sent {
            return Err(SendError::Closed);
        }
        if opcode.is_control() && (len > MAX_CONTROL_PAYLOAD || !fin) {
            return Err(SendError::InvalidControlFrame);
        }
        if opcode == Opcode::Close {
            self.begin_close();
        }
        Ok(encode_header(opcode, fin, len, out))
    }

    /// Encodes a Close frame into `out` and returns it, beginning the
    /// closing handshake: nothing can be sent after it, a queued Pong is
    /// dropped, and only the client's Close is delivered from then on.
    ///
    /// ```
    /// use peregrine_core::ws::{CloseCode, SendError, Session};
    ///
    /// let mut session = Session::new();
    /// let mut out = [0; 32];
    /// let frame = session.encode_close(&mut out, CloseCode::GOING_AWAY, "restart")?;
    /// assert_eq!(frame, b"\x88\x09\x03\xe9restart");
    /// assert_eq!(session.encode_text(&mut out, "late"), Err(SendError::Closed));
    /// # Ok::<(), SendError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`SendError::Closed`] once the closing handshake has begun;
    /// [`SendError::InvalidControlFrame`] if `reason` is over 123 bytes;
    /// [`SendError::BufferFull`] if the frame does not fit `out`.
    pub fn encode_close<'o>(
        &mut self,
        out: &'o mut [u8],
        code: CloseCode,
        reason: &str,
    ) -> Result<&'o [u8], SendError> {
        if self.close_sent {
            return Err(SendError::Closed);
        }
        let frame = send::encode_close(out, code, reason)?;
        self.begin_close();
        Ok(frame)
    }

    /// Records that a Close frame went out: nothing may follow it.
    fn begin_close(&mut self) {
        self.close_sent = true;
        self.pong_len = None;
    }

    /// Records the error that failed the connection and queues the Close
    /// frame that answers it; returns it.
    #[cold]
    fn fail(&mut self, error: ProtocolError) -> ProtocolError {
        self.failed = Some(error);
        self.pong_len = None;
        if !self.close_sent {
            self.close_sent = true;
            self.queued_close = Some((Some(error.close_code()), error.reason()));
        }
        error
    }

    /// Decodes up to the next finished message.
    fn advance(
        &mut self,
        buf: &mut [u8],
        mut codec: Option<&mut dyn Deflate>,
    ) -> Result<Option<Ready>, ProtocolError> {
        if let Some(error) = self.failed {
            return Err(error);
        }
        if self.close_received {
            return Ok(None);
        }
        if self.filled > buf.len() {
            return Err(ProtocolError::BufferMismatch);
        }
        loop {
            let Some(mut frame) = self.frame else {
                match self.decoder.decode(&buf[self.pos..self.filled])? {
                    Some((header, used)) => {
                        self.pos += used;
                        self.begin_frame(header, buf.len())?;
                        continue;
                    }
                    None => {
                        self.pos = self.filled;
                        return Ok(None);
                    }
                }
            };
            let available = self.filled - self.pos;
            let take = match usize::try_from(frame.remaining) {
                Ok(remaining) if remaining < available => remaining,
                _ => available,
            };
            let start = self.pos;
            self.pos += take;
            frame.remaining -= take as u64;
            // Once a Close went out, only the client's Close is read.
            let discard = self.close_sent && frame.opcode != Opcode::Close;
            if !discard && take > 0 {
                unmask(&mut buf[start..self.pos], frame.mask, frame.phase);
                let end = self.base + self.message_len + self.control_len;
                if end != start {
                    buf.copy_within(start..self.pos, end);
                }
                if frame.opcode.is_control() {
                    self.control_len += take;
                } else {
                    if self.message == Some(Kind::Text) && !self.compressed {
                        self.text
                            .feed(&buf[end..end + take])
                            .map_err(|_| ProtocolError::InvalidUtf8)?;
                    }
                    self.message_len += take;
                }
            }
            frame.phase = (frame.phase + take) % 4;
            if frame.remaining > 0 {
                self.frame = Some(frame);
                return Ok(None);
            }
            self.frame = None;
            if let Some(ready) =
                self.end_frame(frame, discard, buf, deflate::reborrow(&mut codec))?
            {
                return Ok(Some(ready));
            }
        }
    }

    /// Checks a decoded header against the message in progress and the
    /// limit, and starts reading its payload.
    fn begin_frame(&mut self, header: FrameHeader, capacity: usize) -> Result<(), ProtocolError> {
        match header.opcode {
            Opcode::Continuation if self.message.is_none() => {
                return Err(ProtocolError::UnexpectedContinuation);
            }
            Opcode::Text | Opcode::Binary => {
                if self.message.is_some() {
                    return Err(ProtocolError::UnfinishedMessage);
                }
                self.message = Some(if header.opcode == Opcode::Text {
                    Kind::Text
                } else {
                    Kind::Binary
                });
                self.compressed = header.rsv1;
                self.text.reset();
            }
            _ => {}
        }
        if self.message_len == 0 && self.control_len == 0 {
            // Nothing assembled: the payload can stay where it arrives.
            self.base = self.pos;
        }
        if !header.opcode.is_control() && !self.close_sent {
            let limit = self
                .max_message_len
                .min(capacity.saturating_sub(MAX_CONTROL_PAYLOAD));
            let room = limit.saturating_sub(self.message_len);
            if header.payload_len > room as u64 {
                return Err(ProtocolError::MessageTooBig);
            }
        }
        self.frame = Some(Frame {
            opcode: header.opcode,
            fin: header.fin,
            mask: header.mask,
            remaining: header.payload_len,
            phase: 0,
        });
        Ok(())
    }

    /// Acts on a frame whose payload is complete: finishes a message, or
    /// handles a control frame.
    fn end_frame(
        &mut self,
        frame: Frame,
        discard: bool,
        buf: &mut [u8],
        codec: Option<&mut dyn Deflate>,
    ) -> Result<Option<Ready>, ProtocolError> {
        if !frame.opcode.is_control() {
            if !frame.fin {
                return Ok(None);
            }
            let kind = self.message.take();
            let mut range = self.base..self.base + self.message_len;
            self.message_len = 0;
            if let Some(deflate) = &mut self.deflate {
                deflate.last_compressed_len = 0;
            }
            if self.compressed && !discard {
                range = self.inflate(buf, range, codec)?;
                return Ok(Some(match kind {
                    Some(Kind::Text) => Ready::Text(range),
                    _ => Ready::Binary(range),
                }));
            }
            return Ok(match kind {
                _ if discard => None,
                Some(Kind::Text) if !self.text.is_complete() => {
                    return Err(ProtocolError::InvalidUtf8);
                }
                Some(Kind::Text) => Some(Ready::Text(range)),
                _ => Some(Ready::Binary(range)),
            });
        }
        let start = self.base + self.message_len;
        let range = start..start + self.control_len;
        self.control_len = 0;
        if discard {
            return Ok(None);
        }
        Ok(Some(match frame.opcode {
            Opcode::Ping => {
                let payload = &buf[range.clone()];
                self.pong[..payload.len()].copy_from_slice(payload);
                self.pong_len = Some(payload.len() as u8);
                Ready::Ping(range)
            }
            Opcode::Pong => Ready::Pong(range),
            _ => {
                let (code, reason) = parse_close_payload(&buf[range.clone()])?;
                self.close_received = true;
                self.pong_len = None;
                if !self.close_sent {
                    self.close_sent = true;
                    self.queued_close = Some((code, ""));
                }
                Ready::Close(code, range.end - reason.len()..range.end)
            }
        }))
    }
}

static_assertions::const_assert!(core::mem::size_of::<Session>() <= 272);
