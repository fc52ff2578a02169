//! The receiving side of the TLS record layer after the handshake, fed
//! arbitrary bytes, records sealed by the peer (valid, tampered, of any
//! content type and length) and the server's own writes, in reads split
//! at arbitrary points. It never panics, and:
//!
//! - every failure is a typed error (`tls::TlsError` inside the
//!   `io::Error`), and the connection stays failed;
//! - the plaintext read is always a prefix of the application data of the
//!   valid records sent, in order: nothing forged, tampered, replayed or
//!   out of its place is ever taken;
//! - everything the server sent opens under the peer's keys (whole
//!   records), its application data is what it was asked to write, and a
//!   failure that owes an alert ends the server's output with that fatal
//!   alert: nothing after it; a peer's alert gets no answer.
//!
//! Input: a byte choosing the protocol version and AEAD (six kinds), then
//! operations (see `Op`).
#![no_main]

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, ErrorKind};
use std::rc::Rc;

use libfuzzer_sys::fuzz_target;
use peregrine_core::FileRegion;
use peregrine_driver::io::Socket;
use peregrine_driver::tls::TlsError;
use peregrine_driver::tls::fuzzing::{Peer, session};
use peregrine_driver::transport::Session;

/// `alert`, `handshake`, `application_data`.
const ALERT: u8 = 21;
const HANDSHAKE: u8 = 22;
const APPLICATION_DATA: u8 = 23;

/// Both directions, and how much one server read takes.
#[derive(Default)]
struct Wire {
    up: VecDeque<u8>,
    down: Vec<u8>,
    /// The most one read takes (0: no bound).
    trickle: usize,
}

/// The server's end: non-blocking, `WouldBlock` when drained.
struct End(Rc<RefCell<Wire>>);

impl Socket for End {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut wire = self.0.borrow_mut();
        if wire.up.is_empty() {
            return Err(ErrorKind::WouldBlock.into());
        }
        let mut n = wire.up.len().min(buf.len());
        if wire.trickle > 0 {
            n = n.min(wire.trickle);
        }
        for (slot, byte) in buf.iter_mut().zip(wire.up.drain(..n)) {
            *slot = byte;
        }
        Ok(n)
    }

    fn write_slices<'b>(&mut self, slices: impl Iterator<Item = &'b [u8]>) -> io::Result<usize> {
        let mut wire = self.0.borrow_mut();
        let mut n = 0;
        for slice in slices {
            wire.down.extend_from_slice(slice);
            n += slice.len();
        }
        Ok(n)
    }

    fn send_file(&mut self, _: FileRegion) -> io::Result<usize> {
        Err(ErrorKind::Unsupported.into())
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Reads the input a byte at a time; zeros once it is spent.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        let (&first, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        first
    }

    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte(), self.byte()])
    }

    fn bytes(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (taken, rest) = self.0.split_at(n);
        self.0 = rest;
        taken
    }
}

/// What the test saw of the server.
struct Run {
    /// Application data of the valid records sent, in order.
    expected: Vec<u8>,
    /// Plaintext the server read.
    read: Vec<u8>,
    /// Application data the server was asked to write and took.
    written: Vec<u8>,
    /// The failure, once there is one.
    failure: Option<TlsError>,
}

impl Run {
    /// One server read into a buffer of `len` bytes, until drained.
    fn read(&mut self, session: &mut impl Session, wire: &Rc<RefCell<Wire>>, len: usize) {
        let mut socket = session.wrap(End(Rc::clone(wire)));
        let mut buf = vec![0; len.max(1)];
        loop {
            match socket.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => self.read.extend_from_slice(&buf[..n]),
                Err(error) if error.kind() == ErrorKind::WouldBlock => break,
                Err(error) => {
                    let typed = error
                        .get_ref()
                        .and_then(|inner| inner.downcast_ref::<TlsError>())
                        .copied();
                    match (typed, self.failure) {
                        (Some(typed), None) => self.failure = Some(typed),
                        // Failed before: it stays failed.
                        (None, Some(_)) => {}
                        _ => panic!("not a typed TLS error: {error:?}"),
                    }
                    break;
                }
            }
        }
        assert!(
            self.expected.starts_with(&self.read),
            "plaintext read that no valid record carried: read {:?}, expected {:?}",
            String::from_utf8_lossy(&self.read),
            String::from_utf8_lossy(&self.expected)
        );
    }
}

/// A valid record of type `typ` carrying `payload` was sent: its data is
/// expected if nothing forged went before it; whatever may end the
/// connection makes what follows uncertain.
fn sent(run: &mut Run, forged: bool, uncertain: &mut bool, typ: u8, payload: &[u8]) {
    if forged {
        return;
    }
    if typ == APPLICATION_DATA && payload.len() <= 1 << 14 {
        run.expected.extend_from_slice(payload);
        // Empty records are bounded: a run of them may end it.
        *uncertain |= payload.is_empty();
    } else {
        *uncertain = true;
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let (mut session, mut peer): (_, Peer) = session(input.byte());
    let wire = Rc::new(RefCell::new(Wire::default()));
    let mut run = Run {
        expected: Vec::new(),
        read: Vec::new(),
        written: Vec::new(),
        failure: None,
    };
    // Once a record is tampered with or raw bytes go in, nothing after
    // them may be read (`forged`); once a record that may end the
    // connection goes in (not application data, or over the limit),
    // what follows may or may not be read (`uncertain`).
    let mut forged = false;
    let mut uncertain = false;
    for _ in 0..64 {
        if input.0.is_empty() {
            break;
        }
        match input.byte() % 6 {
            // Raw bytes.
            0 => {
                let n = usize::from(input.byte());
                let raw = input.bytes(n).to_vec();
                forged |= !raw.is_empty();
                wire.borrow_mut().up.extend(raw);
            }
            // A record sealed by the peer, perhaps tampered with.
            1 => {
                let typ = match input.byte() {
                    t @ 0..=3 => [ALERT, HANDSHAKE, APPLICATION_DATA, 20][usize::from(t)],
                    t => t,
                };
                let len = usize::from(input.u16()) % (17 * 1024);
                let seed = input.bytes(64).to_vec();
                let payload: Vec<u8> = (0..len)
                    .map(|i| seed.get(i % seed.len().max(1)).copied().unwrap_or(0))
                    .collect();
                let mut record = peer.seal(typ, &payload);
                let tamper = input.u16();
                if tamper & 1 == 1 {
                    let at = usize::from(tamper >> 1) % record.len();
                    record[at] ^= input.byte() | 1;
                    forged = true;
                }
                sent(&mut run, forged, &mut uncertain, typ, &payload);
                wire.borrow_mut().up.extend(record);
            }
            // A whole inner plaintext, sealed (TLS 1.3: content, type and
            // padding as they come).
            2 => {
                let n = usize::from(input.u16()) % (17 * 1024);
                let inner = input.bytes(n).to_vec();
                let record = peer.seal_inner(&inner);
                if peer.is_tls13() {
                    match inner.iter().rposition(|&byte| byte != 0) {
                        Some(end) if inner.len() <= (1 << 14) + 1 => {
                            sent(&mut run, forged, &mut uncertain, inner[end], &inner[..end]);
                        }
                        _ => uncertain = true,
                    }
                } else {
                    sent(&mut run, forged, &mut uncertain, APPLICATION_DATA, &inner);
                }
                wire.borrow_mut().up.extend(record);
            }
            // A server read, into a buffer of some size.
            3 => {
                let len = usize::from(input.u16() % 8192);
                run.read(&mut session, &wire, len);
            }
            // Reads take at most so much.
            4 => wire.borrow_mut().trickle = usize::from(input.byte()),
            // The server writes.
            _ => {
                let n = usize::from(input.u16()) % 40_000;
                let data: Vec<u8> = (0..n).map(|i| i as u8).collect();
                let mut socket = session.wrap(End(Rc::clone(&wire)));
                if let Ok(taken) = socket.write(&data) {
                    run.written.extend_from_slice(&data[..taken]);
                }
            }
        }
    }
    run.read(&mut session, &wire, 4096);
    if !forged && !uncertain {
        assert_eq!(run.read, run.expected, "valid records not all read");
        assert!(
            run.failure.is_none(),
            "valid records failed: {:?}",
            run.failure
        );
    }
    // What the server sent: whole records that open, its data as written,
    // and the fatal alert owed last.
    let down = std::mem::take(&mut wire.borrow_mut().down);
    let records = peer.open(&down);
    let data: Vec<u8> = records
        .iter()
        .filter(|(typ, _)| *typ == APPLICATION_DATA)
        .flat_map(|(_, plain)| plain.iter().copied())
        .collect();
    assert_eq!(data, run.written);
    let fatal = |record: &(u8, Vec<u8>)| record.0 == ALERT && record.1.first() == Some(&2);
    match run.failure.and_then(|failure| failure.alert_to_send()) {
        Some(alert) => {
            let last = records.last().expect("no alert sent");
            assert_eq!(
                last,
                &(ALERT, vec![2, u8::from(alert)]),
                "not the alert owed, or not last"
            );
            assert_eq!(records.iter().filter(|r| fatal(r)).count(), 1);
        }
        None => assert!(
            !records.iter().any(fatal),
            "a fatal alert with no failure owing it"
        ),
    }
});
