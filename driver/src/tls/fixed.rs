//! The record layer with no handshake behind it, for tests and fuzzing
//! (with `cfg(fuzzing)`, as `tls::fuzzing`): a [`TlsSession`] past its
//! handshake whose keys are fixed, of one of the six protocol and AEAD
//! kinds the layer serves, and the [`Peer`] that holds the other ends of
//! them, to seal what a client would send and open what the server sent.
//! A key update gives the same key again, from sequence number 0.

use ring::aead;
use rustls::{ProtocolVersion, SupportedCipherSuite};

use super::record::{self, Keys, Shape};
use super::traffic::{Secrets, Traffic};
use super::{Phase, TlsSession};

/// How many kinds [`session`] makes: TLS 1.3 with AES-128-GCM,
/// AES-256-GCM, ChaCha20-Poly1305; TLS 1.2 with the same three.
pub const KINDS: u8 = 6;

/// The keys of one kind, and where the connection's next come from.
pub struct Fixed {
    /// Which kind, below [`KINDS`].
    kind: u8,
}

impl Fixed {
    /// The protocol version.
    pub(super) fn protocol_version(&self) -> ProtocolVersion {
        if self.kind < 3 {
            ProtocolVersion::TLSv1_3
        } else {
            ProtocolVersion::TLSv1_2
        }
    }

    /// The cipher suite.
    #[allow(deprecated)]
    pub(super) fn cipher_suite(&self) -> SupportedCipherSuite {
        use rustls::crypto::ring::cipher_suite as suites;
        match self.kind {
            0 => suites::TLS13_AES_128_GCM_SHA256,
            1 => suites::TLS13_AES_256_GCM_SHA384,
            2 => suites::TLS13_CHACHA20_POLY1305_SHA256,
            3 => suites::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            4 => suites::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            _ => suites::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        }
    }

    /// How records are laid out.
    fn shape(&self) -> Shape {
        match self.kind {
            0..3 => Shape::Tls13,
            3 | 4 => Shape::Tls12Gcm,
            _ => Shape::Tls12Chacha,
        }
    }

    /// The key of one direction (0: client to server), from sequence
    /// number 0.
    fn keys(&self, direction: u8) -> Keys {
        let (algorithm, len) = match self.kind % 3 {
            0 => (&aead::AES_128_GCM, 16),
            1 => (&aead::AES_256_GCM, 32),
            _ => (&aead::CHACHA20_POLY1305, 32),
        };
        let key = [self.kind * 2 + direction + 1; 32];
        let iv = [direction + 7; aead::NONCE_LEN];
        Keys::with(algorithm, &key[..len], &iv, 0).expect("fixed keys")
    }

    /// The client's key.
    pub(super) fn client_keys(&self) -> Keys {
        self.keys(0)
    }

    /// The server's key.
    pub(super) fn server_keys(&self) -> Keys {
        self.keys(1)
    }
}

/// The other end of a [`session`]: seals what a client sends, opens what
/// the server sent.
pub struct Peer {
    /// The kind.
    fixed: Fixed,
    /// Sealing toward the server.
    tx: Keys,
    /// Opening what the server sent.
    rx: Keys,
}

/// A server's session past its handshake with keys of kind `kind`
/// (modulo [`KINDS`]), and its peer.
pub fn session(kind: u8) -> (TlsSession, Peer) {
    let kind = kind % KINDS;
    let traffic = Traffic::with(
        Fixed { kind }.shape(),
        Fixed { kind }.server_keys(),
        Fixed { kind }.client_keys(),
        Secrets::Fixed(Fixed { kind }),
        None,
    );
    let session = TlsSession {
        phase: Phase::Traffic(Box::new(traffic)),
        records: None,
    };
    let fixed = Fixed { kind };
    let peer = Peer {
        tx: fixed.client_keys(),
        rx: fixed.server_keys(),
        fixed,
    };
    (session, peer)
}

impl Peer {
    /// Whether the kind is TLS 1.3.
    pub fn is_tls13(&self) -> bool {
        self.fixed.shape() == Shape::Tls13
    }

    /// A record of content type `typ` carrying `payload` (at most 2¹⁵
    /// bytes: longer than any record may carry, for a peer breaking the
    /// limit), as the client would seal it. A TLS 1.3 key update (a
    /// whole and valid one, alone in its record) renews the client's key
    /// after it.
    pub fn seal(&mut self, typ: u8, payload: &[u8]) -> Vec<u8> {
        assert!(payload.len() <= 1 << 15, "a payload of over 2^15 bytes");
        let shape = self.fixed.shape();
        let mut out = vec![0; payload.len() + shape.overhead()];
        let at = record::HEADER + shape.prefix();
        out[at..at + payload.len()].copy_from_slice(payload);
        let n =
            record::seal_any(shape, &mut self.tx, typ, &mut out, payload.len()).expect("sealing");
        out.truncate(n);
        if shape == Shape::Tls13
            && typ == record::HANDSHAKE
            && matches!(payload, [24, 0, 0, 1, 0 | 1])
        {
            self.tx = self.fixed.client_keys();
        }
        out
    }

    /// A record whose plaintext is `inner` as it is (at most 2¹⁵ bytes):
    /// in TLS 1.3 the whole inner plaintext (content, content type,
    /// padding; all zeros for none), in TLS 1.2 application data.
    pub fn seal_inner(&mut self, inner: &[u8]) -> Vec<u8> {
        match inner.split_last() {
            Some((&typ, content)) if self.is_tls13() => self.seal(typ, content),
            _ => self.seal(record::APPLICATION_DATA, inner),
        }
    }

    /// Opens every record the server sent in `wire` (whole records only):
    /// their content types and plaintexts. A key update from the server
    /// renews the key that opens the next.
    ///
    /// # Panics
    ///
    /// If `wire` is not whole records that open: the server sent what a
    /// client would fail on.
    pub fn open(&mut self, wire: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let shape = self.fixed.shape();
        let mut wire = wire.to_vec();
        let mut at = 0;
        let mut opened = Vec::new();
        while at < wire.len() {
            let (_, len) = record::header(&wire[at..])
                .expect("a record the server sent is too long")
                .expect("the server sent part of a record");
            let end = at + record::HEADER + len;
            assert!(end <= wire.len(), "the server sent part of a record");
            let (typ, range) = record::open(shape, &mut self.rx, &mut wire[at..end])
                .expect("a record the server sent does not open");
            let plain = wire[at + range.start..at + range.end].to_vec();
            if typ == record::HANDSHAKE && plain.first() == Some(&24) {
                self.rx = self.fixed.server_keys();
            }
            opened.push((typ, plain));
            at = end;
        }
        opened
    }

    /// Sets the sequence numbers of both directions' keys, the peer's and
    /// the server's in `session` (tests: keys near their limit).
    #[cfg(test)]
    pub(super) fn set_seqs(&mut self, session: &mut TlsSession, tx: u64, rx: u64) {
        self.tx.set_seq(tx);
        self.rx.set_seq(rx);
        if let Phase::Traffic(traffic) = &mut session.phase {
            let (server_tx, server_rx, _) = traffic.keys();
            server_tx.set_seq(rx);
            server_rx.set_seq(tx);
        }
    }
}
