//! A connection after its handshake: records opened and sealed in place
//! by the record layer, with the keys rustls handed over, and the few
//! records that are not application data (alerts, TLS 1.3 key updates).

use std::io;

use rustls::kernel::KernelConnection;
use rustls::server::ServerConnectionData;
use rustls::{ExtractedSecrets, ProtocolVersion, SupportedCipherSuite};

use super::buffers::{Input, Output};
use super::record::{
    self, ALERT, APPLICATION_DATA, HANDSHAKE, HEADER, Keys, MAX_PLAINTEXT, Shape, invalid,
};

/// `close_notify`.
const CLOSE_NOTIFY: u8 = 0;
/// `user_canceled`: a warning, ignored.
const USER_CANCELED: u8 = 90;
/// A fatal alert's level.
const FATAL: u8 = 2;
/// TLS 1.3's `key_update` handshake message.
const KEY_UPDATE: u8 = 24;

/// One connection's state after its handshake.
pub(super) struct Traffic {
    /// How its records are laid out.
    shape: Shape,
    /// Sealing what it sends.
    tx: Keys,
    /// Opening what it receives.
    rx: Keys,
    /// How many records one sending key may seal (the cipher suite's
    /// confidentiality limit, less a margin): TLS 1.3 then updates its
    /// key, TLS 1.2 stops.
    tx_limit: u64,
    /// rustls' remains of the connection: the secrets' next generations.
    kernel: KernelConnection<ServerConnectionData>,
    /// The ALPN protocol agreed on.
    alpn: Option<Box<[u8]>>,
    /// The peer sent `close_notify`.
    peer_closed: bool,
    /// `close_notify` was sealed.
    close_sent: bool,
    /// The peer asked for a key update of ours (TLS 1.3): it goes before
    /// the next record sealed.
    key_update_owed: bool,
    /// Key updates received since the last application data: a peer
    /// sending only those is cut off past [`KEY_UPDATES`], as rustls does.
    key_updates: u8,
}

/// The most key updates taken in a row with no application data between.
const KEY_UPDATES: u8 = 32;

/// What opening the next record gave.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Opened {
    /// Plaintext (perhaps none) waits in the input.
    Data,
    /// A record of the protocol's own was handled.
    Control,
    /// No whole record is there.
    NeedInput,
    /// The peer closed (`close_notify`).
    End,
}

impl Traffic {
    /// The record layer for a connection whose handshake gave `secrets`.
    ///
    /// # Errors
    ///
    /// For a cipher suite the record layer does not know.
    pub(super) fn new(
        secrets: ExtractedSecrets,
        kernel: KernelConnection<ServerConnectionData>,
        alpn: Option<Box<[u8]>>,
    ) -> io::Result<Traffic> {
        let (tx_seq, tx) = &secrets.tx;
        let shape = match (kernel.protocol_version(), tx) {
            (ProtocolVersion::TLSv1_3, _) => Shape::Tls13,
            (_, rustls::ConnectionTrafficSecrets::Chacha20Poly1305 { .. }) => Shape::Tls12Chacha,
            _ => Shape::Tls12Gcm,
        };
        let limit = match kernel.negotiated_cipher_suite() {
            SupportedCipherSuite::Tls13(suite) => suite.common.confidentiality_limit,
            SupportedCipherSuite::Tls12(suite) => suite.common.confidentiality_limit,
        };
        Ok(Traffic {
            shape,
            tx: Keys::new(*tx_seq, tx)?,
            rx: Keys::new(secrets.rx.0, &secrets.rx.1)?,
            // A margin below the limit, as rustls keeps one.
            tx_limit: limit.saturating_sub(limit / 16),
            kernel,
            alpn,
            peer_closed: false,
            close_sent: false,
            key_update_owed: false,
            key_updates: 0,
        })
    }

    /// The protocol version.
    pub(super) fn protocol_version(&self) -> ProtocolVersion {
        self.kernel.protocol_version()
    }

    /// The cipher suite.
    pub(super) fn cipher_suite(&self) -> SupportedCipherSuite {
        self.kernel.negotiated_cipher_suite()
    }

    /// The ALPN protocol agreed on, if any.
    pub(super) fn alpn_protocol(&self) -> Option<&[u8]> {
        self.alpn.as_deref()
    }

    /// Opens the next record in `input`, if it is all there: its
    /// plaintext, if application data, waits in `input.plain`.
    ///
    /// # Errors
    ///
    /// A record that does not open, a fatal alert, a message the
    /// connection cannot take (a TLS 1.2 renegotiation, a TLS 1.3
    /// handshake message other than a key update).
    pub(super) fn open_next(&mut self, input: &mut Input) -> io::Result<Opened> {
        if self.peer_closed {
            return Ok(Opened::End);
        }
        let Some((_, len)) = record::header(&input.bytes[input.start..input.end])? else {
            return Ok(Opened::NeedInput);
        };
        if input.end - input.start < HEADER + len {
            return Ok(Opened::NeedInput);
        }
        let at = input.start;
        input.start += HEADER + len;
        let (typ, range) = record::open(
            self.shape,
            &mut self.rx,
            &mut input.bytes[at..at + HEADER + len],
        )?;
        let plain = at + range.start..at + range.end;
        match typ {
            APPLICATION_DATA => {
                self.key_updates = 0;
                input.plain = plain;
                Ok(Opened::Data)
            }
            ALERT => self.alert(&input.bytes[plain]),
            HANDSHAKE => {
                self.handshake_message(&input.bytes[plain])?;
                Ok(Opened::Control)
            }
            _ => Err(invalid("an unexpected TLS record after the handshake")),
        }
    }

    /// An alert: `close_notify` ends the stream, a warning is ignored, a
    /// fatal one (every other in TLS 1.3) fails the connection.
    fn alert(&mut self, alert: &[u8]) -> io::Result<Opened> {
        let &[level, description] = alert else {
            return Err(invalid("a TLS alert of the wrong length"));
        };
        if description == CLOSE_NOTIFY {
            self.peer_closed = true;
            return Ok(Opened::End);
        }
        let warning = match self.shape {
            Shape::Tls13 => description == USER_CANCELED,
            Shape::Tls12Gcm | Shape::Tls12Chacha => level != FATAL,
        };
        if warning {
            Ok(Opened::Control)
        } else {
            Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the peer sent a fatal TLS alert",
            ))
        }
    }

    /// A handshake message after the handshake: only a TLS 1.3 key
    /// update is taken (the peer's new key opens its next record; an
    /// update asked of ours is owed before our next record).
    fn handshake_message(&mut self, message: &[u8]) -> io::Result<()> {
        if self.shape != Shape::Tls13 {
            return Err(invalid("a TLS 1.2 renegotiation (not supported)"));
        }
        // One key update, alone at the end of its record (RFC 8446 §5.1).
        let &[KEY_UPDATE, 0, 0, 1, request] = message else {
            return Err(invalid("an unexpected TLS handshake message"));
        };
        if request > 1 {
            return Err(invalid("a TLS key update of an unknown kind"));
        }
        self.key_updates += 1;
        if self.key_updates > KEY_UPDATES {
            return Err(invalid("too many TLS key updates"));
        }
        let (seq, secrets) = self.kernel.update_rx_secret().map_err(io::Error::other)?;
        self.rx = Keys::new(seq, &secrets)?;
        if request == 1 {
            self.key_update_owed = true;
        }
        Ok(())
    }

    /// Where the plaintext of the next record goes in `output`, and how
    /// much of it fits (at most a record's worth): a key update owed, or
    /// due because the key has sealed nearly all it may, is sealed first.
    ///
    /// # Errors
    ///
    /// If `close_notify` was sent, or a TLS 1.2 key reached its limit.
    pub(super) fn prepare(&mut self, output: &mut Output) -> io::Result<(usize, usize)> {
        if self.close_sent {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "TLS close_notify was sent",
            ));
        }
        if self.key_update_owed || self.tx.seq() >= self.tx_limit {
            self.update_tx_key(output)?;
        }
        output.compact();
        let at = output.filled + HEADER + self.shape.prefix();
        let room = output
            .bytes
            .len()
            .saturating_sub(output.filled + self.shape.overhead());
        Ok((at, room.min(MAX_PLAINTEXT)))
    }

    /// Seals the `len` bytes of application data that [`prepare`](Self::prepare)
    /// placed into a record at the end of `output`.
    pub(super) fn seal_data(&mut self, output: &mut Output, len: usize) -> io::Result<()> {
        let n = record::seal(
            self.shape,
            &mut self.tx,
            APPLICATION_DATA,
            &mut output.bytes[output.filled..],
            len,
        )?;
        output.filled += n;
        Ok(())
    }

    /// Seals `close_notify` into `output`, once; nothing is sealed after
    /// it.
    pub(super) fn seal_close_notify(&mut self, output: &mut Output) -> io::Result<()> {
        if self.close_sent {
            return Ok(());
        }
        self.seal_control(output, ALERT, &[1, CLOSE_NOTIFY])?;
        self.close_sent = true;
        Ok(())
    }

    /// Sends a key update (not asking for the peer's) under the current
    /// key, then takes the next one (TLS 1.3; TLS 1.2 has none, and its
    /// key may seal no more).
    fn update_tx_key(&mut self, output: &mut Output) -> io::Result<()> {
        if self.shape != Shape::Tls13 {
            return Err(io::Error::other("TLS 1.2 key exhausted"));
        }
        self.seal_control(output, HANDSHAKE, &[KEY_UPDATE, 0, 0, 1, 0])?;
        let (seq, secrets) = self.kernel.update_tx_secret().map_err(io::Error::other)?;
        self.tx = Keys::new(seq, &secrets)?;
        self.key_update_owed = false;
        Ok(())
    }

    /// Seals `message` of type `typ` into `output`.
    fn seal_control(&mut self, output: &mut Output, typ: u8, message: &[u8]) -> io::Result<()> {
        output.compact();
        let at = output.filled + HEADER + self.shape.prefix();
        if output.bytes.len() < at + message.len() + self.shape.suffix() {
            return Err(io::Error::other("no room for a TLS record"));
        }
        output.bytes[at..at + message.len()].copy_from_slice(message);
        let n = record::seal(
            self.shape,
            &mut self.tx,
            typ,
            &mut output.bytes[output.filled..],
            message.len(),
        )?;
        output.filled += n;
        Ok(())
    }
}
