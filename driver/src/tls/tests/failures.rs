//! How the record layer fails, against rustls' client and against a
//! peer with fixed keys (`fixed.rs`) that seals what no client would:
//! the fatal alert each failure sends (encrypted, and last), the bounds on
//! records that give no data, a TLS 1.2 renegotiation refused, and keys
//! at their limit.

use std::cell::RefCell;
use std::io::{self, ErrorKind, Write};
use std::rc::Rc;

use rustls::AlertDescription;

use super::{Pair, ServerEnd, Wire, pki, suites};
use crate::io::Socket;
use crate::tls::TlsError;
use crate::tls::fixed::{self, KINDS, Peer};
use crate::tls::record::{ALERT, APPLICATION_DATA, HANDSHAKE, MAX_CIPHERTEXT, MAX_PLAINTEXT};
use crate::tls::traffic::{QUIET_RECORDS, RENEGOTIATIONS, WARNINGS};
use crate::tls::{Phase, TlsSession};
use crate::transport::Session;

/// The typed error inside a read's `io::Error`.
fn typed(error: &io::Error) -> TlsError {
    *error
        .get_ref()
        .and_then(|e| e.downcast_ref::<TlsError>())
        .unwrap_or_else(|| panic!("not a TlsError: {error:?}"))
}

/// The rustls client takes what the server sent: the error it reports.
fn client_error(pair: &mut Pair) -> rustls::Error {
    let down: Vec<u8> = pair.wire.borrow_mut().down.drain(..).collect();
    let mut down = &down[..];
    pair.client.read_tls(&mut down).unwrap();
    pair.client.process_new_packets().unwrap_err()
}

/// A connection failed: the server sends nothing more, neither data nor
/// `close_notify`.
fn sends_nothing_more(session: &mut TlsSession, wire: &Rc<RefCell<Wire>>) {
    let mut socket = session.wrap(ServerEnd(Rc::clone(wire)));
    assert!(socket.write(b"late").is_err());
    assert!(socket.read(&mut [0; 10]).is_err());
    socket.shutdown_write().unwrap();
    drop(socket);
    assert!(wire.borrow().down.is_empty());
}

#[test]
fn a_record_that_does_not_authenticate_gets_bad_record_mac() {
    let pki = pki();
    let server = pki.server();
    for suite in suites() {
        let mut pair = Pair::new(&server, pki.client(suite));
        pair.handshake(b"x");
        pair.client.writer().write_all(b"tampered").unwrap();
        let mut out = Vec::new();
        pair.client.write_tls(&mut out).unwrap();
        let last = out.len() - 1;
        out[last] ^= 0x40;
        pair.wire.borrow_mut().up.extend(out);
        let error = pair.server_read().unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidData);
        assert_eq!(typed(&error), TlsError::bad_record_mac(), "{suite:?}");
        assert_eq!(
            client_error(&mut pair),
            rustls::Error::AlertReceived(AlertDescription::BadRecordMac),
            "{suite:?}"
        );
        sends_nothing_more(&mut pair.session, &pair.wire);
    }
}

#[test]
fn a_record_over_the_limit_gets_record_overflow() {
    let pki = pki();
    let server = pki.server();
    for suite in suites() {
        let mut pair = Pair::new(&server, pki.client(suite));
        pair.handshake(b"x");
        let len = (MAX_CIPHERTEXT + 1) as u16;
        let [high, low] = len.to_be_bytes();
        pair.wire
            .borrow_mut()
            .up
            .extend([APPLICATION_DATA, 3, 3, high, low]);
        let error = pair.server_read().unwrap_err();
        assert_eq!(
            typed(&error).alert_to_send(),
            Some(AlertDescription::RecordOverflow)
        );
        assert_eq!(
            client_error(&mut pair),
            rustls::Error::AlertReceived(AlertDescription::RecordOverflow),
            "{suite:?}"
        );
        sends_nothing_more(&mut pair.session, &pair.wire);
    }
}

/// A server session with fixed keys, its peer and the wire between.
struct Fixed {
    session: TlsSession,
    peer: Peer,
    wire: Rc<RefCell<Wire>>,
}

impl Fixed {
    fn new(kind: u8) -> Fixed {
        let (session, peer) = fixed::session(kind);
        let wire = Rc::new(RefCell::new(Wire {
            room: 1 << 20,
            ..Wire::default()
        }));
        Fixed {
            session,
            peer,
            wire,
        }
    }

    /// The peer sends a record of type `typ` carrying `payload`.
    fn send(&mut self, typ: u8, payload: &[u8]) {
        let record = self.peer.seal(typ, payload);
        self.wire.borrow_mut().up.extend(record);
    }

    /// The server reads all it can: the plaintext, or its error.
    fn read(&mut self) -> io::Result<Vec<u8>> {
        let mut socket = self.session.wrap(ServerEnd(Rc::clone(&self.wire)));
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match socket.read(&mut buf) {
                Ok(0) => return Ok(got),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(error) if error.kind() == ErrorKind::WouldBlock => return Ok(got),
                Err(error) => return Err(error),
            }
        }
    }

    /// The records the server sent since last asked, opened.
    fn received(&mut self) -> Vec<(u8, Vec<u8>)> {
        let down: Vec<u8> = self.wire.borrow_mut().down.drain(..).collect();
        self.peer.open(&down)
    }

    /// The server's read fails: the error; and the server sent exactly
    /// the fatal alert it owes, or nothing for a peer's alert.
    fn fails(&mut self) -> TlsError {
        let error = typed(&self.read().unwrap_err());
        let expected = match error.alert_to_send() {
            Some(alert) => vec![(ALERT, vec![2, u8::from(alert)])],
            None => Vec::new(),
        };
        assert_eq!(self.received(), expected);
        sends_nothing_more(&mut self.session, &self.wire);
        error
    }
}

/// The alert of a failure.
fn alert(error: TlsError) -> AlertDescription {
    error.alert_to_send().unwrap()
}

#[test]
fn every_failure_has_its_alert() {
    use AlertDescription::*;
    for kind in 0..KINDS {
        let tls13 = kind < 3;
        // Plaintext over the limit: in TLS 1.3 counting the padding.
        let mut over = Fixed::new(kind);
        let mut payload = vec![b'x'; MAX_PLAINTEXT];
        if tls13 {
            payload.extend([APPLICATION_DATA, 0]);
        } else {
            payload.push(b'x');
        }
        let record = over.peer.seal_inner(&payload);
        over.wire.borrow_mut().up.extend(record);
        assert_eq!(alert(over.fails()), RecordOverflow, "kind {kind}");

        let cases: &[(u8, &[u8], AlertDescription)] = &[
            (ALERT, &[2], DecodeError),
            (ALERT, &[1, 0, 0], DecodeError),
            (ALERT, &[3, 10], IllegalParameter),
            (HANDSHAKE, &[], UnexpectedMessage),
            (HANDSHAKE, &[20, 0, 0, 0], UnexpectedMessage),
            (20, &[1], UnexpectedMessage),
            (24, &[1], UnexpectedMessage),
        ];
        for &(typ, payload, expected) in cases {
            let mut fixed = Fixed::new(kind);
            fixed.send(APPLICATION_DATA, b"before");
            fixed.send(typ, payload);
            let error = typed(&fixed.read().unwrap_err());
            assert_eq!(alert(error), expected, "kind {kind}, {typ} {payload:?}");
            assert_eq!(
                fixed.received(),
                [(ALERT, vec![2, u8::from(expected)])],
                "kind {kind}, {typ} {payload:?}"
            );
        }
        let mut hello = Fixed::new(kind);
        hello.send(HANDSHAKE, &[1, 0, 0, 0]);
        if tls13 {
            assert_eq!(alert(hello.fails()), UnexpectedMessage);
            let mut update = Fixed::new(kind);
            update.send(HANDSHAKE, &[24, 0, 0, 1, 2]);
            assert_eq!(alert(update.fails()), IllegalParameter);
            // A record in between a message's pieces.
            let mut between = Fixed::new(kind);
            between.send(HANDSHAKE, &[24, 0]);
            between.send(APPLICATION_DATA, b"x");
            assert_eq!(alert(between.fails()), UnexpectedMessage);
        } else {
            let mut update = Fixed::new(kind);
            update.send(HANDSHAKE, &[24, 0, 0, 1, 0]);
            assert_eq!(alert(update.fails()), UnexpectedMessage);
        }
    }
}

#[test]
fn a_tls13_record_with_no_content_type_is_unexpected() {
    let mut fixed = Fixed::new(0);
    let record = fixed.peer.seal_inner(&[0; 10]);
    fixed.wire.borrow_mut().up.extend(record);
    assert_eq!(alert(fixed.fails()), AlertDescription::UnexpectedMessage);
    // Padding after the content type is taken.
    let mut padded = Fixed::new(0);
    let record = padded
        .peer
        .seal_inner(&[b'h', b'i', APPLICATION_DATA, 0, 0, 0]);
    padded.wire.borrow_mut().up.extend(record);
    assert_eq!(padded.read().unwrap(), b"hi");
}

#[test]
fn a_peer_alert_is_answered_with_nothing() {
    for kind in 0..KINDS {
        let mut fixed = Fixed::new(kind);
        fixed.send(ALERT, &[2, 40]);
        assert_eq!(
            fixed.fails(),
            TlsError::PeerAlert(AlertDescription::HandshakeFailure)
        );
    }
    // TLS 1.3: a warning other than user_canceled is an error alert.
    let mut fixed = Fixed::new(1);
    fixed.send(ALERT, &[1, 42]);
    assert_eq!(
        fixed.fails(),
        TlsError::PeerAlert(AlertDescription::BadCertificate)
    );
}

#[test]
fn empty_records_are_bounded() {
    for kind in 0..KINDS {
        let mut fixed = Fixed::new(kind);
        // As many as the bound, data, as many again: taken.
        for round in 0..3 {
            for _ in 0..QUIET_RECORDS {
                fixed.send(APPLICATION_DATA, &[]);
            }
            fixed.send(APPLICATION_DATA, &[b'0' + round]);
        }
        assert_eq!(fixed.read().unwrap(), b"012");
        assert!(fixed.received().is_empty());
        // One more in a row than the bound: cut off.
        for _ in 0..=QUIET_RECORDS {
            fixed.send(APPLICATION_DATA, &[]);
        }
        assert_eq!(
            alert(fixed.fails()),
            AlertDescription::UnexpectedMessage,
            "kind {kind}"
        );
    }
}

#[test]
fn warnings_and_key_updates_are_bounded() {
    // TLS 1.2 warnings: WARNINGS in all, data or not.
    let mut fixed = Fixed::new(3);
    for _ in 0..WARNINGS {
        fixed.send(ALERT, &[1, 90]);
        fixed.send(APPLICATION_DATA, b"x");
    }
    assert_eq!(fixed.read().unwrap().len(), usize::from(WARNINGS));
    fixed.send(ALERT, &[1, 90]);
    assert_eq!(alert(fixed.fails()), AlertDescription::UnexpectedMessage);
    // TLS 1.3 key updates: QUIET_RECORDS in a row, then data.
    let mut fixed = Fixed::new(2);
    for _ in 0..2 {
        for _ in 0..QUIET_RECORDS {
            fixed.send(HANDSHAKE, &[24, 0, 0, 1, 0]);
        }
        fixed.send(APPLICATION_DATA, b"y");
    }
    assert_eq!(fixed.read().unwrap(), b"yy");
    for _ in 0..=QUIET_RECORDS {
        fixed.send(HANDSHAKE, &[24, 0, 0, 1, 0]);
    }
    assert_eq!(alert(fixed.fails()), AlertDescription::UnexpectedMessage);
}

/// A ClientHello of `len` bytes of body.
fn client_hello(len: usize) -> Vec<u8> {
    let mut hello = vec![1, 0, (len >> 8) as u8, len as u8];
    hello.extend((0..len).map(|i| i as u8));
    hello
}

#[test]
fn a_tls12_renegotiation_is_refused_with_a_warning_and_the_connection_goes_on() {
    for kind in 3..KINDS {
        let mut fixed = Fixed::new(kind);
        fixed.send(APPLICATION_DATA, b"GET / ");
        // In three records: the warning goes out once it is whole.
        let hello = client_hello(300);
        fixed.send(HANDSHAKE, &hello[..2]);
        fixed.send(HANDSHAKE, &hello[2..100]);
        assert_eq!(fixed.read().unwrap(), b"GET / ");
        assert!(fixed.received().is_empty());
        fixed.send(HANDSHAKE, &hello[100..]);
        fixed.send(APPLICATION_DATA, b"HTTP/1.1");
        assert_eq!(fixed.read().unwrap(), b"HTTP/1.1");
        let no_renegotiation = u8::from(AlertDescription::NoRenegotiation);
        assert_eq!(fixed.received(), [(ALERT, vec![1, no_renegotiation])]);
        // The connection goes on both ways.
        let mut socket = fixed.session.wrap(ServerEnd(Rc::clone(&fixed.wire)));
        assert_eq!(socket.write(b"answer").unwrap(), 6);
        drop(socket);
        assert_eq!(fixed.received(), [(APPLICATION_DATA, b"answer".to_vec())]);
        // Asked again: cut off.
        for _ in 0..RENEGOTIATIONS {
            fixed.send(HANDSHAKE, &hello);
        }
        assert_eq!(alert(fixed.fails()), AlertDescription::UnexpectedMessage);
    }
}

#[test]
fn keys_at_their_limit() {
    // TLS 1.3: a key update, then the data under the next key.
    let mut fixed = Fixed::new(0);
    let limit = match &mut fixed.session.phase {
        Phase::Traffic(traffic) => traffic.keys().2,
        _ => unreachable!(),
    };
    fixed.peer.set_seqs(&mut fixed.session, 0, limit);
    let mut socket = fixed.session.wrap(ServerEnd(Rc::clone(&fixed.wire)));
    assert_eq!(socket.write(b"data").unwrap(), 4);
    drop(socket);
    assert_eq!(
        fixed.received(),
        [
            (HANDSHAKE, vec![24, 0, 0, 1, 0]),
            (APPLICATION_DATA, b"data".to_vec())
        ]
    );
    // TLS 1.2: close_notify, and nothing more.
    let mut fixed = Fixed::new(4);
    let limit = match &mut fixed.session.phase {
        Phase::Traffic(traffic) => traffic.keys().2,
        _ => unreachable!(),
    };
    fixed.peer.set_seqs(&mut fixed.session, 0, limit);
    let mut socket = fixed.session.wrap(ServerEnd(Rc::clone(&fixed.wire)));
    let error = socket.write(b"data").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::BrokenPipe);
    assert!(socket.write(b"data").is_err());
    drop(socket);
    assert_eq!(fixed.received(), [(ALERT, vec![1, 0])]);
}
