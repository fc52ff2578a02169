//! The TLS layer against rustls' client, in memory: a socket made of two
//! byte queues (non-blocking: `WouldBlock` when empty, or when the
//! queue toward the client is full), every version and cipher suite, key
//! updates both ways, `close_notify` both ways, a socket that takes a
//! little at a time, and records that do not authenticate.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, ErrorKind, Read, Write};
use std::rc::Rc;
use std::sync::Arc;

use peregrine_core::FileRegion;
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use rustls::client::ClientConnection;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ProtocolVersion, RootCertStore, SupportedCipherSuite};

use super::{Identity, TlsBuilder, TlsConfig, TlsSession};
use crate::io::Socket;
use crate::transport::{Session, Transport};

mod failures;

/// Both directions of a connection.
#[derive(Default)]
struct Wire {
    /// Client to server.
    up: VecDeque<u8>,
    /// Server to client.
    down: VecDeque<u8>,
    /// The most `down` holds (the server's socket buffer).
    room: usize,
    /// The client closed its side.
    up_closed: bool,
    /// The server shut its write side.
    down_closed: bool,
    /// If not 0, the most one server read takes (records arrive in
    /// pieces).
    trickle: usize,
}

/// The server's end: non-blocking.
#[derive(Clone)]
struct ServerEnd(Rc<RefCell<Wire>>);

impl Socket for ServerEnd {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut wire = self.0.borrow_mut();
        if wire.up.is_empty() {
            return if wire.up_closed {
                Ok(0)
            } else {
                Err(ErrorKind::WouldBlock.into())
            };
        }
        let mut n = wire.up.len().min(buf.len());
        if wire.trickle > 0 {
            n = n.min(wire.trickle);
        }
        for (byte, slot) in wire.up.drain(..n).zip(buf.iter_mut()) {
            *slot = byte;
        }
        Ok(n)
    }

    fn write_slices<'b>(&mut self, slices: impl Iterator<Item = &'b [u8]>) -> io::Result<usize> {
        let mut wire = self.0.borrow_mut();
        let mut n = 0;
        for slice in slices {
            let take = slice.len().min(wire.room - wire.down.len());
            wire.down.extend(&slice[..take]);
            n += take;
            if take < slice.len() {
                break;
            }
        }
        if n == 0 {
            return Err(ErrorKind::WouldBlock.into());
        }
        Ok(n)
    }

    fn send_file(&mut self, _: FileRegion) -> io::Result<usize> {
        Err(ErrorKind::Unsupported.into())
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        self.0.borrow_mut().down_closed = true;
        Ok(())
    }
}

/// A certificate authority and a certificate it issued for `localhost`.
struct Pki {
    /// The authority's certificate.
    ca: CertificateDer<'static>,
    /// The server's identity.
    cert_pem: String,
    /// Its key.
    key_pem: String,
}

fn pki() -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    Pki {
        ca: ca.der().clone(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

impl Pki {
    fn server(&self) -> TlsConfig {
        self.builder().build().unwrap()
    }

    fn builder(&self) -> TlsBuilder {
        TlsConfig::builder().identity(
            Identity::from_pem(self.cert_pem.as_bytes(), self.key_pem.as_bytes()).unwrap(),
        )
    }

    /// A client speaking only `suite`, offering `http/1.1`.
    fn client(&self, suite: SupportedCipherSuite) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca.clone()).unwrap();
        #[allow(deprecated)]
        let provider = CryptoProvider {
            cipher_suites: vec![suite],
            ..rustls::crypto::ring::default_provider()
        };
        let version = match suite {
            SupportedCipherSuite::Tls13(_) => &rustls::version::TLS13,
            SupportedCipherSuite::Tls12(_) => &rustls::version::TLS12,
        };
        let mut config = ClientConfig::builder_with_provider(Arc::new(provider))
            .with_protocol_versions(&[version])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }
}

/// A client, a server session and the wire between them.
struct Pair {
    client: ClientConnection,
    session: TlsSession,
    wire: Rc<RefCell<Wire>>,
    /// Plaintext the client received.
    received: Vec<u8>,
    /// The client saw `close_notify`.
    client_saw_close: bool,
}

impl Pair {
    fn new(server: &TlsConfig, client: Arc<ClientConfig>) -> Pair {
        let name = ServerName::try_from("localhost").unwrap();
        Pair {
            client: ClientConnection::new(client, name).unwrap(),
            session: server.open(0).unwrap(),
            wire: Rc::new(RefCell::new(Wire {
                room: 1 << 20,
                ..Wire::default()
            })),
            received: Vec::new(),
            client_saw_close: false,
        }
    }

    /// Moves the client's records to the wire and the server's to the
    /// client, which processes them.
    fn pump_client(&mut self) {
        let mut wire = self.wire.borrow_mut();
        while self.client.wants_write() {
            let mut out = Vec::new();
            self.client.write_tls(&mut out).unwrap();
            wire.up.extend(out);
        }
        let down: Vec<u8> = wire.down.drain(..).collect();
        drop(wire);
        let mut down = &down[..];
        while !down.is_empty() {
            self.client.read_tls(&mut down).unwrap();
            self.client.process_new_packets().unwrap();
            let mut plain = [0u8; 4096];
            loop {
                match self.client.reader().read(&mut plain) {
                    Ok(0) => {
                        self.client_saw_close = true;
                        break;
                    }
                    Ok(n) => self.received.extend_from_slice(&plain[..n]),
                    Err(error) if error.kind() == ErrorKind::WouldBlock => break,
                    Err(error) => panic!("client: {error}"),
                }
            }
        }
        if self.client.wants_write() {
            self.pump_client();
        }
    }

    /// The server reads what it can: the plaintext, `None` at the end of
    /// the stream.
    fn server_read(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut socket = self.session.wrap(ServerEnd(Rc::clone(&self.wire)));
        let mut got = Vec::new();
        let mut buf = [0u8; 1000];
        loop {
            match socket.read(&mut buf) {
                Ok(0) if got.is_empty() => return Ok(None),
                Ok(0) => return Ok(Some(got)),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(error) if error.kind() == ErrorKind::WouldBlock => return Ok(Some(got)),
                Err(error) => return Err(error),
            }
        }
    }

    /// Handshake, and `early` from the client: in TLS 1.3 its records
    /// reach the server with the client's `Finished`, in one read.
    fn handshake(&mut self, early: &[u8]) -> Vec<u8> {
        self.pump_client();
        assert_eq!(self.server_read().unwrap(), Some(Vec::new()));
        assert!(self.session.is_handshaking());
        self.pump_client();
        if self.client.is_handshaking() {
            // TLS 1.2: the server's `Finished` comes after the client's.
            assert_eq!(self.server_read().unwrap(), Some(Vec::new()));
            self.pump_client();
            assert!(!self.client.is_handshaking());
        }
        self.client.writer().write_all(early).unwrap();
        self.pump_client();
        let got = self.server_read().unwrap().unwrap();
        assert!(!self.session.is_handshaking());
        got
    }

    /// The server writes `bytes` (as the socket takes them): how many
    /// it took.
    fn server_write(&mut self, slices: &[&[u8]]) -> io::Result<usize> {
        let mut socket = self.session.wrap(ServerEnd(Rc::clone(&self.wire)));
        socket.write_slices(slices.iter().copied())
    }

    /// The server sends the records it holds.
    fn server_flush(&mut self) -> io::Result<()> {
        let mut socket = self.session.wrap(ServerEnd(Rc::clone(&self.wire)));
        socket.flush_pending()
    }
}

/// Every cipher suite of the ring provider for an ECDSA certificate,
/// TLS 1.3 and 1.2.
fn suites() -> Vec<SupportedCipherSuite> {
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    provider
        .cipher_suites
        .into_iter()
        .filter(|suite| !format!("{:?}", suite.suite()).contains("_RSA_"))
        .collect()
}

#[test]
fn every_suite_handshakes_and_carries_data_both_ways() {
    let pki = pki();
    let server = pki.server();
    let suites = suites();
    assert_eq!(suites.len(), 6, "{suites:?}");
    for suite in suites {
        let mut pair = Pair::new(&server, pki.client(suite));
        let got = pair.handshake(b"GET / HTTP/1.1\r\n\r\n");
        assert_eq!(got, b"GET / HTTP/1.1\r\n\r\n", "{suite:?}");
        assert_eq!(pair.session.cipher_suite(), Some(suite));
        assert_eq!(pair.session.alpn_protocol(), Some(&b"http/1.1"[..]));
        let version = match suite {
            SupportedCipherSuite::Tls13(_) => ProtocolVersion::TLSv1_3,
            SupportedCipherSuite::Tls12(_) => ProtocolVersion::TLSv1_2,
        };
        assert_eq!(pair.session.protocol_version(), Some(version));
        // Several slices gathered into one record, then more than a
        // record's worth.
        let big: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
        let n = pair
            .server_write(&[b"HTTP/1.1 ", b"200 OK\r\n\r\n", &big])
            .unwrap();
        assert_eq!(n, 19 + big.len());
        assert!(!pair.session.has_pending_output());
        pair.pump_client();
        assert_eq!(&pair.received[..19], b"HTTP/1.1 200 OK\r\n\r\n");
        assert!(pair.received[19..] == big[..], "{suite:?}");
        // The client's records, a few at once.
        for i in 0..3 {
            write!(pair.client.writer(), "request {i};").unwrap();
        }
        pair.pump_client();
        assert_eq!(
            pair.server_read().unwrap().unwrap(),
            b"request 0;request 1;request 2;"
        );
        // Idle again: the record buffer went back.
        assert!(pair.session.records.is_none());
        // An upload of many full records: partial records wait at the
        // end of the input and move to its start.
        let upload: Vec<u8> = (0..60_000u32).map(|i| (i % 241) as u8).collect();
        pair.client.writer().write_all(&upload).unwrap();
        pair.pump_client();
        let mut got = Vec::new();
        while got.len() < upload.len() {
            let read = pair.server_read().unwrap().unwrap();
            assert!(!read.is_empty(), "{suite:?}: {} bytes in", got.len());
            got.extend_from_slice(&read);
        }
        assert!(got == upload, "{suite:?}");
    }
}

#[test]
fn records_arriving_in_pieces() {
    let pki = pki();
    let server = pki.server();
    for (suite, trickle) in suites().into_iter().zip([1, 7, 300, 1, 7, 300]) {
        let mut pair = Pair::new(&server, pki.client(suite));
        pair.wire.borrow_mut().trickle = trickle;
        assert_eq!(
            pair.handshake(b"GET / HTTP/1.1\r\n\r\n"),
            b"GET / HTTP/1.1\r\n\r\n"
        );
        let upload: Vec<u8> = (0..40_000u32).map(|i| (i % 239) as u8).collect();
        pair.client.writer().write_all(&upload).unwrap();
        pair.pump_client();
        let mut got = Vec::new();
        while got.len() < upload.len() {
            got.extend_from_slice(&pair.server_read().unwrap().unwrap());
        }
        assert!(got == upload, "{suite:?}, {trickle} bytes a read");
    }
}

#[test]
fn key_updates_both_ways() {
    let pki = pki();
    let server = pki.server();
    #[allow(deprecated)]
    let suite = rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256;
    let mut pair = Pair::new(&server, pki.client(suite));
    pair.handshake(b"hello");
    for round in 0..3 {
        // The client updates its key and asks for the server's.
        pair.client.refresh_traffic_keys().unwrap();
        write!(pair.client.writer(), "after update {round}").unwrap();
        pair.pump_client();
        assert_eq!(
            pair.server_read().unwrap().unwrap(),
            format!("after update {round}").as_bytes()
        );
        // The server's answer goes under its new key, after its own update.
        pair.received.clear();
        pair.server_write(&[b"answer"]).unwrap();
        pair.pump_client();
        assert_eq!(pair.received, b"answer");
    }
}

#[test]
fn close_notify_both_ways() {
    let pki = pki();
    let server = pki.server();
    for suite in [
        rustls::crypto::ring::cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
        rustls::crypto::ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    ] {
        let mut pair = Pair::new(&server, pki.client(suite));
        pair.handshake(b"x");
        {
            let mut socket = pair.session.wrap(ServerEnd(Rc::clone(&pair.wire)));
            socket.shutdown_write().unwrap();
        }
        assert!(pair.wire.borrow().down_closed);
        pair.pump_client();
        assert!(pair.client_saw_close, "{suite:?}");
        // Nothing is sealed after close_notify.
        assert!(pair.server_write(&[b"late"]).is_err());
        // The client's close_notify ends the server's stream.
        pair.client.send_close_notify();
        pair.pump_client();
        assert_eq!(pair.server_read().unwrap(), None, "{suite:?}");
    }
}

#[test]
fn a_full_socket_keeps_the_last_record_until_it_drains() {
    let pki = pki();
    let server = pki.server();
    for suite in suites() {
        let mut pair = Pair::new(&server, pki.client(suite));
        pair.handshake(b"x");
        pair.wire.borrow_mut().room = 3000;
        let body: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
        let mut sent = 0;
        let mut turns = 0;
        while sent < body.len() {
            turns += 1;
            assert!(turns < 10_000);
            if pair.session.has_pending_output() {
                match pair.server_flush() {
                    Ok(()) => {}
                    Err(error) if error.kind() == ErrorKind::WouldBlock => {}
                    Err(error) => panic!("{error}"),
                }
            } else {
                match pair.server_write(&[&body[sent..]]) {
                    Ok(n) => sent += n,
                    Err(error) if error.kind() == ErrorKind::WouldBlock => {}
                    Err(error) => panic!("{error}"),
                }
            }
            pair.pump_client();
        }
        while pair.session.has_pending_output() {
            let _ = pair.server_flush();
            pair.pump_client();
        }
        assert!(pair.received == body, "{suite:?}");
        // A small record buffer holds a record at most: the socket took
        // little at a time.
        assert!(turns > 30, "{turns}");
    }
}

#[test]
fn a_client_that_closes_during_the_handshake_ends_the_stream() {
    let pki = pki();
    let server = pki.server();
    let mut pair = Pair::new(&server, pki.client(suites()[0]));
    pair.pump_client();
    pair.wire.borrow_mut().up_closed = true;
    assert_eq!(pair.server_read().unwrap(), None);
    assert!(pair.session.is_handshaking());
    assert!(pair.session.deadline().is_some());
}

/// A session that got `bytes` instead of a ClientHello: the read's
/// error, and what the server sent back.
fn refused(bytes: &[u8]) -> (io::Error, Vec<u8>) {
    let pki = pki();
    let server = pki.server();
    let mut pair = Pair::new(&server, pki.client(suites()[0]));
    pair.wire.borrow_mut().up.extend(bytes);
    let error = pair.server_read().unwrap_err();
    let down = pair.wire.borrow_mut().down.drain(..).collect();
    (error, down)
}

#[test]
fn plain_http_gets_a_400_at_its_first_bytes() {
    // Four bytes: no TLS record header yet, but no TLS record starts so.
    let (error, down) = refused(b"GET ");
    assert_eq!(error.kind(), ErrorKind::InvalidData);
    assert!(
        down.starts_with(b"HTTP/1.1 400 Bad Request\r\n"),
        "{down:?}"
    );
    let text = String::from_utf8(down).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(
        head.contains(&format!("Content-Length: {}", body.len())),
        "{text}"
    );
    assert!(head.contains("Connection: close"));
}

#[test]
fn bytes_that_are_no_tls_record_get_a_fatal_alert() {
    for bytes in [
        &b"\x00\x01"[..],
        b"\x80\x2e\x01\x03\x01",
        b"\x18\x03\x03\x00\x01",
    ] {
        let (error, down) = refused(bytes);
        assert_eq!(error.kind(), ErrorKind::InvalidData);
        // alert(21), TLS 1.2 record version, 2 bytes: fatal(2), unexpected_message(10).
        assert_eq!(down, [21, 3, 3, 0, 2, 2, 10], "{bytes:?}");
    }
}

#[test]
fn a_configuration_made_by_hand_gets_secret_extraction() {
    let pki = pki();
    let mut config = (*pki.builder().server_config().unwrap()).clone();
    config.enable_secret_extraction = false;
    let server = TlsConfig::from_server_config(Arc::new(config));
    let mut pair = Pair::new(&server, pki.client(suites()[0]));
    assert_eq!(pair.handshake(b"works"), b"works");
}

#[test]
#[cfg(target_pointer_width = "64")]
fn the_sizes_the_readme_gives() {
    // Beside each connection in its slot: the phase and the record
    // buffer, boxed.
    assert_eq!(size_of::<TlsSession>(), 24);
    // A record buffer: a record in, a record out, where each stands.
    assert_eq!(size_of::<super::buffers::Records>(), 33_352);
}
