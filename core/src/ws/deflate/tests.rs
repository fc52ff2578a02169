//! Compressed messages through a [`Session`]: the examples of RFC 7692
//! §7.2.3, fragments (empty ones included), the RSV1 rules, the limits, and
//! sending.

use std::vec;
use std::vec::Vec;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::{Agreement, CodecError, Context, Deflate, Inflated};
use crate::ws::frame::FrameError;
use crate::ws::{CloseCode, MAX_CONTROL_FRAME_LEN, Message, Opcode, ProtocolError, Session};

/// A coder with one compressor and one decompressor (slot 0 when taken).
struct Coder {
    compress: Compress,
    decompress: Decompress,
    taken: bool,
}

impl Coder {
    fn new() -> Self {
        Coder {
            compress: Compress::new(Compression::default(), false),
            decompress: Decompress::new(false),
            taken: false,
        }
    }
}

impl Deflate for Coder {
    fn compress(
        &mut self,
        context: Context,
        input: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CodecError> {
        if context.reset {
            self.compress.reset();
        }
        let (i, o) = (self.compress.total_in(), self.compress.total_out());
        self.compress
            .compress(input, out, FlushCompress::Sync)
            .map_err(|_| CodecError::OutputFull)?;
        let written = (self.compress.total_out() - o) as usize;
        if ((self.compress.total_in() - i) as usize) < input.len() || written == out.len() {
            return Err(CodecError::OutputFull);
        }
        Ok(written)
    }

    fn decompress(
        &mut self,
        context: Context,
        input: &[u8],
        out: &mut [u8],
    ) -> Result<Inflated, CodecError> {
        if context.reset {
            self.decompress.reset(false);
        }
        let (i, o) = (self.decompress.total_in(), self.decompress.total_out());
        let status = self
            .decompress
            .decompress(input, out, FlushDecompress::Sync)
            .map_err(|_| CodecError::Invalid)?;
        let written = (self.decompress.total_out() - o) as usize;
        if status == Status::StreamEnd {
            self.decompress.reset(false);
            return Ok(Inflated {
                written,
                stream_end: true,
            });
        }
        if ((self.decompress.total_in() - i) as usize) < input.len() {
            return Err(if written == out.len() {
                CodecError::OutputFull
            } else {
                CodecError::Invalid
            });
        }
        Ok(Inflated {
            written,
            stream_end: false,
        })
    }

    fn acquire(&mut self) -> Option<u16> {
        (!std::mem::replace(&mut self.taken, true)).then_some(0)
    }

    fn release(&mut self, _: u16) {
        self.taken = false;
    }
}

/// Without context takeover, as servers negotiate by default.
const STATELESS: Agreement = Agreement {
    server_no_context_takeover: true,
    client_no_context_takeover: true,
    server_max_window_bits: None,
    client_max_window_bits: None,
};

/// With context takeover both ways.
const TAKEOVER: Agreement = Agreement {
    server_no_context_takeover: false,
    client_no_context_takeover: false,
    server_max_window_bits: None,
    client_max_window_bits: None,
};

/// A client frame: `first` is the first header byte (FIN, RSV1, opcode),
/// the payload masked with a fixed key.
fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let mut wire = vec![first];
    match payload.len() {
        n @ 0..=125 => wire.push(0x80 | n as u8),
        n @ 126..=65535 => {
            wire.push(0x80 | 126);
            wire.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            wire.push(0x80 | 127);
            wire.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    wire.extend_from_slice(&key);
    wire.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    wire
}

/// What a session made of `wire`, read in pieces of `step` bytes: the
/// messages (text as bytes) or the error that ended it.
fn receive(
    session: &mut Session,
    coder: &mut Coder,
    wire: &[u8],
    step: usize,
) -> (Vec<Vec<u8>>, Option<ProtocolError>) {
    let mut buf = vec![0; 1 << 16];
    let mut messages = Vec::new();
    for piece in wire.chunks(step.max(1)) {
        let room = session.read_buf(&mut buf);
        room[..piece.len()].copy_from_slice(piece);
        session.on_read(piece.len());
        loop {
            match session.receive_with(&mut buf, Some(&mut *coder)) {
                Ok(Some(Message::Text(text))) => messages.push(text.as_bytes().to_vec()),
                Ok(Some(Message::Binary(data))) => messages.push(data.to_vec()),
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(error) => return (messages, Some(error)),
            }
        }
    }
    (messages, None)
}

/// Every split of the reads gives the same messages.
fn receive_everywhere(agreement: &Agreement, wire: &[u8]) -> (Vec<Vec<u8>>, Option<ProtocolError>) {
    let fresh = || {
        (
            Session::new().with_deflate(agreement, None, 0),
            Coder::new(),
        )
    };
    let (mut session, mut coder) = fresh();
    let whole = receive(&mut session, &mut coder, wire, wire.len());
    for step in [1, 2, 3, 7] {
        let (mut session, mut coder) = fresh();
        assert_eq!(
            receive(&mut session, &mut coder, wire, step),
            whole,
            "reads of {step}"
        );
    }
    whole
}

/// RFC 7692 §7.2.3.1: "Hello" in one compressed block, in one frame and
/// in two fragments (RSV1 on the first only).
#[test]
fn rfc_7692_one_block() {
    let data = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    let wire = frame(0xc1, &data);
    assert_eq!(
        receive_everywhere(&STATELESS, &wire),
        (vec![b"Hello".to_vec()], None)
    );
    let mut fragmented = frame(0x41, &data[..3]);
    fragmented.extend(frame(0x80, &data[3..]));
    assert_eq!(
        receive_everywhere(&STATELESS, &fragmented),
        (vec![b"Hello".to_vec()], None)
    );
}

/// §7.2.3.2: the second "Hello" refers back to the first, with context
/// takeover.
#[test]
fn rfc_7692_shared_window() {
    let mut wire = frame(0xc1, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
    wire.extend(frame(0xc1, &[0xf2, 0x00, 0x11, 0x00, 0x00]));
    let mut session = Session::new().with_deflate(&TAKEOVER, Some(0), 0);
    let mut coder = Coder::new();
    let (messages, error) = receive(&mut session, &mut coder, &wire, wire.len());
    assert_eq!(
        (messages, error),
        (vec![b"Hello".to_vec(), b"Hello".to_vec()], None)
    );
}

/// §7.2.3.3, §7.2.3.4, §7.2.3.5: a stored block, a final block (the tail
/// then not appended), two blocks in one message.
#[test]
fn rfc_7692_block_kinds() {
    let stored = frame(
        0xc1,
        &[
            0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
        ],
    );
    let bfinal = frame(0xc1, &[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00]);
    let two = frame(
        0xc1,
        &[
            0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00,
        ],
    );
    for wire in [stored, bfinal, two] {
        let mut twice = wire.clone();
        twice.extend(&wire);
        let hello = b"Hello".to_vec();
        assert_eq!(
            receive_everywhere(&STATELESS, &twice),
            (vec![hello.clone(), hello], None)
        );
    }
}

/// Compressed by a real compressor, then cut into fragments anywhere,
/// empty ones included: at the start, in the middle, and an empty final
/// fragment (§7.2.3.6); an empty message too.
#[test]
fn fragments_and_empty_fragments() {
    let text = "Fragments do not matter to DEFLATE. ".repeat(40);
    let mut coder = Coder::new();
    let mut packed = vec![0; 4096];
    let reset = Context {
        slot: None,
        window_bits: 15,
        reset: true,
    };
    let n = coder.compress(reset, text.as_bytes(), &mut packed).unwrap();
    let data = &packed[..n - 4];
    for cuts in [
        vec![0, 1, data.len()],
        vec![5, 5, 9],
        vec![data.len(), data.len()],
        vec![0, 0],
    ] {
        let mut wire = Vec::new();
        let mut start = 0;
        for (i, &cut) in cuts.iter().enumerate() {
            let first = if i == 0 { 0x41 } else { 0x00 };
            wire.extend(frame(first, &data[start..cut]));
            // A ping between fragments is fine.
            wire.extend(frame(0x89, b"p"));
            start = cut;
        }
        wire.extend(frame(0x80, &data[start..]));
        assert_eq!(
            receive_everywhere(&STATELESS, &wire),
            (vec![text.as_bytes().to_vec()], None),
            "{cuts:?}"
        );
    }
    // An empty message, compressed: one empty stored block's worth (the
    // sender removed the tail, leaving a single 0x00), or nothing at all.
    for payload in [&[0x00][..], &[]] {
        let wire = frame(0xc2, payload);
        assert_eq!(
            receive_everywhere(&STATELESS, &wire),
            (vec![Vec::new()], None)
        );
    }
}

/// RSV1 on a continuation or control frame is 1002, and without the
/// extension RSV1 is reserved; an uncompressed message is still fine.
#[test]
fn rsv1_rules() {
    let plain = frame(0x81, b"plain");
    assert_eq!(
        receive_everywhere(&STATELESS, &plain),
        (vec![b"plain".to_vec()], None)
    );
    let mut on_continuation = frame(0x41, &[0xf2, 0x48]);
    on_continuation.extend(frame(0xc0, &[0xcd, 0xc9, 0xc9, 0x07, 0x00]));
    let on_ping = frame(0xc9, b"");
    let on_close = frame(0xc8, b"\x03\xe8");
    for wire in [on_continuation, on_ping, on_close] {
        let (_, error) = receive_everywhere(&STATELESS, &wire);
        assert_eq!(
            error,
            Some(ProtocolError::Frame(FrameError::CompressedFragment))
        );
        assert_eq!(error.unwrap().close_code(), CloseCode::PROTOCOL_ERROR);
    }
    // Not negotiated.
    let mut session = Session::new();
    let wire = frame(0xc1, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
    let (_, error) = receive(&mut session, &mut Coder::new(), &wire, wire.len());
    assert_eq!(error, Some(ProtocolError::Frame(FrameError::ReservedBits)));
    let mut control = [0; MAX_CONTROL_FRAME_LEN];
    assert_eq!(
        &session.next_output(&mut control).unwrap()[..4],
        b"\x88\x13\x03\xea"
    );
}

/// A small message that inflates past the limit (a deflate bomb) is 1009;
/// data that is not DEFLATE is 1007; a compressed message with no coder
/// given is 1011.
#[test]
fn limits_and_bad_data() {
    let zeros = vec![0u8; 1 << 20];
    let mut coder = Coder::new();
    let mut packed = vec![0; 8192];
    let reset = Context {
        slot: None,
        window_bits: 15,
        reset: true,
    };
    let n = coder.compress(reset, &zeros, &mut packed).unwrap();
    assert!(n < 2048, "{n}");
    let bomb = frame(0xc2, &packed[..n - 4]);
    let mut session = Session::new()
        .with_deflate(&STATELESS, None, 0)
        .with_max_message_len(4096);
    let (messages, error) = receive(&mut session, &mut coder, &bomb, bomb.len());
    assert!(messages.is_empty());
    assert_eq!(error, Some(ProtocolError::MessageTooBig));
    assert_eq!(error.unwrap().close_code(), CloseCode::MESSAGE_TOO_BIG);
    // The same bomb against the buffer alone (64 KiB).
    let (_, error) = receive_everywhere(&STATELESS, &bomb);
    assert_eq!(error, Some(ProtocolError::MessageTooBig));
    // Exactly at the limit passes.
    let n = coder.compress(reset, &zeros[..4096], &mut packed).unwrap();
    let at_limit = frame(0xc2, &packed[..n - 4]);
    let mut session = Session::new()
        .with_deflate(&STATELESS, None, 0)
        .with_max_message_len(4096);
    let (messages, error) = receive(&mut session, &mut coder, &at_limit, at_limit.len());
    assert_eq!((messages[0].len(), error), (4096, None));

    let garbage = frame(0xc1, &[0xff, 0xff, 0xff, 0xff]);
    let (_, error) = receive_everywhere(&STATELESS, &garbage);
    assert_eq!(error, Some(ProtocolError::InvalidCompressedData));
    assert_eq!(error.unwrap().close_code(), CloseCode::INVALID_PAYLOAD);
    // Compressed bytes that are not UTF-8 in a text message.
    let n = coder.compress(reset, &[0xff; 100], &mut packed).unwrap();
    let (_, error) = receive_everywhere(&STATELESS, &frame(0xc1, &packed[..n - 4]));
    assert_eq!(error, Some(ProtocolError::InvalidUtf8));

    let mut session = Session::new().with_deflate(&STATELESS, None, 0);
    let mut buf = vec![0; 1024];
    let wire = frame(0xc1, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
    session.read_buf(&mut buf)[..wire.len()].copy_from_slice(&wire);
    session.on_read(wire.len());
    assert_eq!(
        session.receive(&mut buf),
        Err(ProtocolError::BufferMismatch)
    );
}

/// Decompresses a frame the session sent, checking RSV1.
fn unpack(frame: &[u8], coder: &mut Coder, reset: bool) -> (u8, Vec<u8>) {
    let (header_len, len) = match frame[1] {
        126 => (4, u16::from_be_bytes([frame[2], frame[3]]) as usize),
        127 => (
            10,
            u64::from_be_bytes(frame[2..10].try_into().unwrap()) as usize,
        ),
        n => (2, n as usize),
    };
    assert_eq!(frame.len(), header_len + len);
    let mut payload = frame[header_len..].to_vec();
    if frame[0] & 0x40 == 0 {
        return (frame[0], payload);
    }
    payload.extend_from_slice(&super::TAIL);
    let mut out = vec![0; 1 << 20];
    let context = Context {
        slot: None,
        window_bits: 15,
        reset,
    };
    let inflated = coder.decompress(context, &payload, &mut out).unwrap();
    out.truncate(inflated.written);
    (frame[0], out)
}

/// Long messages go out compressed with RSV1 on their one frame; short
/// ones, incompressible ones and control frames go out as they are.
#[test]
fn sending() {
    let mut session = Session::new().with_deflate(&STATELESS, None, 64);
    let mut coder = Coder::new();
    let mut peer = Coder::new();
    let mut out = vec![0; 1 << 18];
    let text = "a message long enough to be worth compressing, ".repeat(3);
    for len in [64, text.len(), 70_000, 200_000] {
        let payload: Vec<u8> = text.bytes().cycle().take(len).collect();
        let frame = session
            .encode_message(&mut out, Opcode::Text, &payload, Some(&mut coder))
            .unwrap()
            .to_vec();
        assert!(frame.len() < payload.len(), "{len}");
        assert_eq!(unpack(&frame, &mut peer, true), (0xc1, payload));
    }
    let short = session
        .encode_message(&mut out, Opcode::Binary, &[7; 63], Some(&mut coder))
        .unwrap();
    assert_eq!(&short[..2], b"\x82\x3f");
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let noise: Vec<u8> = (0..1000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect();
    let raw = session
        .encode_message(&mut out, Opcode::Binary, &noise, Some(&mut coder))
        .unwrap();
    assert_eq!((raw[0], raw.len()), (0x82, 1004));
    let ping = session
        .encode_message(&mut out, Opcode::Ping, &[1; 100], Some(&mut coder))
        .unwrap();
    assert_eq!(ping[0], 0x89);
    // No coder: uncompressed, as the extension always allows.
    let plain = session
        .encode_message(&mut out, Opcode::Text, text.as_bytes(), None)
        .unwrap();
    assert_eq!(plain[0], 0x81);
    // Too small a buffer for the frame either way.
    let mut small = [0; 40];
    let full = session.encode_message(&mut small, Opcode::Text, text.as_bytes(), Some(&mut coder));
    assert_eq!(full, Err(crate::ws::SendError::BufferFull));
}

/// With context takeover the second message refers back to the first, and
/// a buffer too small for the worst case sends it uncompressed rather than
/// leave the peer's history behind.
#[test]
fn sending_with_takeover() {
    let mut session = Session::new().with_deflate(&TAKEOVER, Some(0), 0);
    assert_eq!(session.deflate_slot(), Some(0));
    let mut coder = Coder::new();
    let mut peer = Coder::new();
    let mut out = vec![0; 4096];
    let text = b"context takeover: the second time is cheaper";
    let first = session
        .encode_message(&mut out, Opcode::Text, text, Some(&mut coder))
        .unwrap()
        .to_vec();
    let second = session
        .encode_message(&mut out, Opcode::Text, text, Some(&mut coder))
        .unwrap()
        .to_vec();
    assert!(
        second.len() < first.len() / 2,
        "{} {}",
        first.len(),
        second.len()
    );
    assert_eq!(unpack(&first, &mut peer, true).1, text);
    assert_eq!(unpack(&second, &mut peer, false).1, text);
    let tight = session
        .encode_message(
            &mut out[..text.len() + 2],
            Opcode::Text,
            text,
            Some(&mut coder),
        )
        .unwrap();
    assert_eq!(tight[0], 0x81);
}
