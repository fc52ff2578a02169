//! A connection after its handshake: records opened and sealed in place
//! by the record layer, with the keys rustls handed over, and the records
//! that are not application data: alerts, TLS 1.3 key updates, a TLS 1.2
//! client's renegotiation (refused with a `no_renegotiation` warning, as
//! nginx and rustls do), and the fatal alert a connection that fails
//! sends last.
//!
//! A peer may keep a connection busy with records that give no data
//! (empty records, warnings, key updates, pieces of handshake messages):
//! those are bounded as rustls bounds them (see [`Temper`]).

use std::io;

use rustls::kernel::KernelConnection;
use rustls::server::ServerConnectionData;
use rustls::{AlertDescription, ExtractedSecrets, ProtocolVersion, SupportedCipherSuite};

use super::alert::TlsError;
use super::buffers::{Output, Records};
use super::messages::{Message, Reassembly};
use super::record::{self, ALERT, APPLICATION_DATA, HANDSHAKE, HEADER, Keys, MAX_PLAINTEXT, Shape};

/// An alert's `warning` level.
const WARNING: u8 = 1;
/// An alert's `fatal` level.
const FATAL: u8 = 2;
/// TLS 1.3's `key_update` handshake message.
const KEY_UPDATE: u8 = 24;

/// The most records in a row that give no application data: empty ones,
/// alerts, key updates, pieces of handshake messages. rustls' bound on
/// empty records and on key updates in a row (BoringSSL's on key updates,
/// OpenSSL's on empty records).
pub(super) const QUIET_RECORDS: u8 = 32;
/// The most warning alerts a connection takes (rustls' and BoringSSL's
/// bound; `close_notify` is not one).
pub(super) const WARNINGS: u8 = 4;
/// The renegotiations refused with a warning before one more ends the
/// connection (rustls' bound).
pub(super) const RENEGOTIATIONS: u8 = 1;

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
    /// key, TLS 1.2 sends `close_notify` and stops.
    tx_limit: u64,
    /// Where the next keys come from.
    secrets: Secrets,
    /// The ALPN protocol agreed on.
    alpn: Option<Box<[u8]>>,
    /// What may still be sent.
    sending: Sending,
    /// Whether the peer sent `close_notify`.
    receiving: Receiving,
    /// A handshake message received in part.
    reassembly: Reassembly,
    /// What the peer may still do that gives no data.
    temper: Temper,
}

/// What a connection may still send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sending {
    /// Records of any kind.
    Open,
    /// The peer asked for a key update of ours (TLS 1.3): it goes before
    /// the next record sealed.
    KeyUpdateOwed,
    /// Nothing: `close_notify` or a fatal alert was sealed last.
    Closed,
}

/// Whether the peer may still send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Receiving {
    /// Yes.
    Open,
    /// It sent `close_notify`: what follows is not read.
    Closed,
}

/// Bounds on what a peer does that gives no application data, so that
/// a stream of such records ends the connection (`unexpected_message`)
/// instead of keeping its worker busy.
#[derive(Clone, Copy, Debug)]
struct Temper {
    /// Records in a row with no application data.
    quiet: u8,
    /// Warning alerts still taken.
    warnings_left: u8,
    /// Renegotiations still refused with a warning.
    renegotiations_left: u8,
}

/// Where the traffic secrets' next generations come from.
// The small variant exists only in tests and fuzzing; `Traffic` is boxed.
#[cfg_attr(any(test, fuzzing), allow(clippy::large_enum_variant))]
pub(super) enum Secrets {
    /// rustls' remains of the connection (its `KernelConnection`).
    Kernel(KernelConnection<ServerConnectionData>),
    /// No handshake behind them: fixed keys, the same again at each
    /// update (tests and fuzzing).
    #[cfg(any(test, fuzzing))]
    Fixed(super::fixed::Fixed),
}

impl Secrets {
    /// The protocol version.
    fn protocol_version(&self) -> ProtocolVersion {
        match self {
            Secrets::Kernel(kernel) => kernel.protocol_version(),
            #[cfg(any(test, fuzzing))]
            Secrets::Fixed(fixed) => fixed.protocol_version(),
        }
    }

    /// The cipher suite.
    fn cipher_suite(&self) -> SupportedCipherSuite {
        match self {
            Secrets::Kernel(kernel) => kernel.negotiated_cipher_suite(),
            #[cfg(any(test, fuzzing))]
            Secrets::Fixed(fixed) => fixed.cipher_suite(),
        }
    }

    /// The peer's next key.
    fn next_rx(&mut self) -> Result<Keys, TlsError> {
        match self {
            Secrets::Kernel(kernel) => {
                let (seq, secrets) = kernel
                    .update_rx_secret()
                    .map_err(|_| TlsError::internal("no next key for the peer"))?;
                Keys::new(seq, &secrets).map_err(|_| TlsError::internal("a key of no use"))
            }
            #[cfg(any(test, fuzzing))]
            Secrets::Fixed(fixed) => Ok(fixed.client_keys()),
        }
    }

    /// Our next key.
    fn next_tx(&mut self) -> io::Result<Keys> {
        match self {
            Secrets::Kernel(kernel) => {
                let (seq, secrets) = kernel.update_tx_secret().map_err(io::Error::other)?;
                Keys::new(seq, &secrets)
            }
            #[cfg(any(test, fuzzing))]
            Secrets::Fixed(fixed) => Ok(fixed.server_keys()),
        }
    }
}

/// What opening the next record gave.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Opened {
    /// Plaintext waits in the input.
    Data,
    /// A record of no application data was handled (a record to send
    /// may wait in the output: a refused renegotiation's warning).
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
        let tx = Keys::new(*tx_seq, tx)?;
        let rx = Keys::new(secrets.rx.0, &secrets.rx.1)?;
        Ok(Traffic::with(shape, tx, rx, Secrets::Kernel(kernel), alpn))
    }

    /// The record layer with `shape`, these keys and where the next come
    /// from.
    pub(super) fn with(
        shape: Shape,
        tx: Keys,
        rx: Keys,
        secrets: Secrets,
        alpn: Option<Box<[u8]>>,
    ) -> Traffic {
        let limit = match secrets.cipher_suite() {
            SupportedCipherSuite::Tls13(suite) => suite.common.confidentiality_limit,
            SupportedCipherSuite::Tls12(suite) => suite.common.confidentiality_limit,
        };
        Traffic {
            shape,
            tx,
            rx,
            // A margin below the limit, as rustls keeps one.
            tx_limit: limit.saturating_sub(limit / 16),
            secrets,
            alpn,
            sending: Sending::Open,
            receiving: Receiving::Open,
            reassembly: Reassembly::Idle,
            temper: Temper {
                quiet: 0,
                warnings_left: WARNINGS,
                renegotiations_left: RENEGOTIATIONS,
            },
        }
    }

    /// The protocol version.
    pub(super) fn protocol_version(&self) -> ProtocolVersion {
        self.secrets.protocol_version()
    }

    /// The cipher suite.
    pub(super) fn cipher_suite(&self) -> SupportedCipherSuite {
        self.secrets.cipher_suite()
    }

    /// The ALPN protocol agreed on, if any.
    pub(super) fn alpn_protocol(&self) -> Option<&[u8]> {
        self.alpn.as_deref()
    }

    /// Our keys, the peer's and how many records ours may seal (tests:
    /// keys near their limit).
    #[cfg(test)]
    pub(super) fn keys(&mut self) -> (&mut Keys, &mut Keys, u64) {
        (&mut self.tx, &mut self.rx, self.tx_limit)
    }

    /// Opens the next record in the input, if it is all there: its
    /// plaintext, if application data, waits in `records.input.plain`;
    /// a warning it answers (a refused renegotiation) in the output.
    ///
    /// # Errors
    ///
    /// A record that does not open, a fatal alert from the peer, a record
    /// or message the connection does not take (see [`TlsError`]). The
    /// caller then seals the alert owed ([`fail`](Self::fail)).
    pub(super) fn open_next(&mut self, records: &mut Records) -> Result<Opened, TlsError> {
        if self.receiving == Receiving::Closed {
            return Ok(Opened::End);
        }
        let Records { input, output } = records;
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
        if typ != HANDSHAKE && !self.reassembly.is_idle() {
            return Err(TlsError::unexpected(
                "a record between the pieces of a handshake message",
            ));
        }
        if typ == APPLICATION_DATA && !plain.is_empty() {
            self.temper.quiet = 0;
            input.plain = plain;
            return Ok(Opened::Data);
        }
        self.temper.quiet += 1;
        if self.temper.quiet > QUIET_RECORDS {
            return Err(TlsError::unexpected(
                "too many records in a row with no application data",
            ));
        }
        match typ {
            APPLICATION_DATA => Ok(Opened::Control),
            ALERT => self.alert(&input.bytes[plain]),
            HANDSHAKE => {
                let tls13 = self.shape == Shape::Tls13;
                let mut reassembly = self.reassembly;
                let read = reassembly.read(tls13, &input.bytes[plain], |message| {
                    self.handshake_message(message, output)
                });
                self.reassembly = reassembly;
                read.map(|()| Opened::Control)
            }
            _ => Err(TlsError::unexpected(
                "a record of a content type not expected after the handshake",
            )),
        }
    }

    /// An alert: `close_notify` ends the stream; a warning (in TLS 1.3,
    /// only `user_canceled` is one) is taken, up to [`WARNINGS`]; any
    /// other fails the connection, with nothing sent back.
    fn alert(&mut self, alert: &[u8]) -> Result<Opened, TlsError> {
        let &[level, description] = alert else {
            return Err(TlsError::decode("an alert of the wrong length"));
        };
        if level != WARNING && level != FATAL {
            return Err(TlsError::illegal("an alert of an unknown level"));
        }
        let description = AlertDescription::from(description);
        if description == AlertDescription::CloseNotify {
            self.receiving = Receiving::Closed;
            return Ok(Opened::End);
        }
        // RFC 8446 §6: every TLS 1.3 alert is an error whatever its
        // level, but for `user_canceled` (and `close_notify`).
        let warning = match self.shape {
            Shape::Tls13 => description == AlertDescription::UserCanceled,
            Shape::Tls12Gcm | Shape::Tls12Chacha => level == WARNING,
        };
        if !warning {
            return Err(TlsError::PeerAlert(description));
        }
        if self.temper.warnings_left == 0 {
            return Err(TlsError::unexpected("too many warning alerts"));
        }
        self.temper.warnings_left -= 1;
        Ok(Opened::Control)
    }

    /// A handshake message received whole: a key update takes the
    /// peer's next key (and owes one of ours if asked); a renegotiation
    /// is refused with a `no_renegotiation` warning, once.
    fn handshake_message(&mut self, message: Message, output: &mut Output) -> Result<(), TlsError> {
        match message {
            Message::KeyUpdate { requested } => {
                self.rx = self.secrets.next_rx()?;
                if requested && self.sending == Sending::Open {
                    self.sending = Sending::KeyUpdateOwed;
                }
                Ok(())
            }
            Message::ClientHello => {
                if self.temper.renegotiations_left == 0 {
                    return Err(TlsError::unexpected(
                        "a renegotiation asked again after it was refused",
                    ));
                }
                self.temper.renegotiations_left -= 1;
                if self.sending == Sending::Closed {
                    return Ok(());
                }
                let no_renegotiation = u8::from(AlertDescription::NoRenegotiation);
                self.seal_control(output, ALERT, &[WARNING, no_renegotiation])
                    .map_err(|_| TlsError::internal("no room for a warning"))
            }
        }
    }

    /// After `error`: seals the fatal alert it owes the peer, if any, as
    /// the last record the connection sends (if there is room for it
    /// after the records waiting; there always is, as those are at most
    /// a record of data and a few alerts and key updates).
    pub(super) fn fail(&mut self, output: &mut Output, error: &TlsError) {
        if let Some(alert) = error.alert_to_send() {
            if self.sending != Sending::Closed {
                let _ = self.seal_control(output, ALERT, &[FATAL, u8::from(alert)]);
            }
        }
        self.sending = Sending::Closed;
    }

    /// Where the plaintext of the next record goes in `output`, and how
    /// much of it fits (at most a record's worth): a key update owed, or
    /// due because the key has sealed nearly all it may, is sealed first.
    ///
    /// # Errors
    ///
    /// `BrokenPipe` once `close_notify` or a fatal alert was sent, or when
    /// a TLS 1.2 key reaches its limit (`close_notify` is sealed then).
    pub(super) fn prepare(&mut self, output: &mut Output) -> io::Result<(usize, usize)> {
        if self.sending == Sending::Closed {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the TLS connection sends no more (close_notify or a fatal alert was sent)",
            ));
        }
        if self.sending == Sending::KeyUpdateOwed || self.tx.seq() >= self.tx_limit {
            if self.shape != Shape::Tls13 {
                // TLS 1.2 has no key update: the connection ends cleanly
                // before its key says too much, as rustls ends it.
                self.seal_close_notify(output)?;
                return Err(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "the TLS 1.2 key reached its limit: close_notify was sent",
                ));
            }
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
        if self.sending == Sending::Closed {
            return Ok(());
        }
        let close_notify = u8::from(AlertDescription::CloseNotify);
        self.seal_control(output, ALERT, &[WARNING, close_notify])?;
        self.sending = Sending::Closed;
        Ok(())
    }

    /// Sends a key update (not asking for the peer's) under the current
    /// key, then takes the next one (TLS 1.3).
    fn update_tx_key(&mut self, output: &mut Output) -> io::Result<()> {
        self.seal_control(output, HANDSHAKE, &[KEY_UPDATE, 0, 0, 1, 0])?;
        self.tx = self.secrets.next_tx()?;
        self.sending = Sending::Open;
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
