//! HTTPS: TLS 1.3 and 1.2 with rustls (the `tls` feature).
//!
//! The layer sits between a connection's socket and its protocol state:
//! [`TlsSocket`] is the driver's [`Socket`] over the
//! plain one, so the connection reads and writes plaintext and knows
//! nothing of TLS. Each connection keeps a [`TlsSession`] beside it (in
//! the reactor's slot, or on the portable backend's thread), made at
//! accept time from the configuration current then.
//!
//! Two parts do the work, and neither allocates per request:
//!
//! - the handshake is rustls' (its unbuffered `UnbufferedServerConnection`:
//!   certificates by name, ALPN, versions, resumption tickets), shown the
//!   records where they lie in the connection's record buffer, its answers
//!   encoded into the same buffer (see `handshake.rs`);
//! - once it is done, rustls hands over the traffic secrets
//!   (`dangerous_into_kernel_connection`, the interface meant for kernel
//!   TLS, which keeps computing the secrets' next generations), and the
//!   record layer (`record.rs`, with *ring*'s AEAD) opens records in place
//!   in the record buffer and seals the connection's plaintext into it.
//!
//! rustls' own record layer, buffered or unbuffered, copies each record's
//! plaintext into a `Vec` of its own, received or sent: two allocations a
//! request, which this avoids.
//!
//! Records wait in a record buffer (one record in, one out: 33,352 bytes)
//! lent from the worker thread's pool only while the connection has bytes
//! in flight: an idle keep-alive TLS connection holds none (see
//! `buffers.rs` for why these are not the worker's buffer pairs, and how
//! many a worker keeps).
//!
//! ```ignore
//! use peregrine_epoll::tls::{Identity, TlsConfig};
//!
//! let tls = TlsConfig::builder()
//!     .identity(Identity::from_pem_files("cert.pem", "key.pem")?)
//!     .sni("api.example.com", Identity::from_pem_files("api.pem", "api-key.pem")?)
//!     .build()?;
//! let reload = tls.handle(); // from any thread: new certificates, no restart
//! Server::bind("0.0.0.0:443")?.tls(tls).run(App)?;
//! ```

mod alert;
mod buffers;
mod config;
#[cfg(any(test, fuzzing))]
mod fixed;
mod handshake;
mod messages;
mod record;
mod sni;
mod socket;
#[cfg(test)]
mod tests;
mod traffic;

use std::io;
use std::sync::{Arc, RwLock};
use std::time::Duration;

pub use alert::TlsError;
pub use buffers::{DEFAULT_KEPT, record_buffers_allocated};
pub use config::{DEFAULT_HANDSHAKE_TIMEOUT, Identity, TlsBuilder, Versions};
pub use rustls;
use rustls::server::UnbufferedServerConnection;
use rustls::{ProtocolVersion, ServerConfig, SupportedCipherSuite};
pub use socket::TlsSocket;

/// The record layer alone, for the fuzz targets (`driver/fuzz`): a
/// session past its handshake with fixed keys, and its peer.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    pub use super::fixed::{KINDS, Peer, session};
}

use self::buffers::Records;
use self::handshake::Handshake;
use self::traffic::Traffic;

use crate::io::Socket;
use crate::transport::{Session, Transport};

/// A server's TLS: the rustls configuration new connections take (which
/// a [`TlsHandle`] may replace while the server runs) and the handshake
/// timeout. Given to `Server::tls`.
#[derive(Clone)]
pub struct TlsConfig {
    /// The configuration new connections take.
    current: Arc<RwLock<Arc<ServerConfig>>>,
    /// How long a handshake may take from the accept, in ms.
    handshake_timeout_ms: u64,
    /// How many record buffers each thread keeps for reuse.
    record_buffers: usize,
}

impl TlsConfig {
    /// A builder: certificates by name, versions, ALPN, tickets.
    pub fn builder() -> TlsBuilder {
        TlsBuilder::default()
    }

    /// One certificate chain and key from PEM files, with every default
    /// of [`TlsBuilder`].
    ///
    /// # Errors
    ///
    /// If a file cannot be read, holds no certificate or key, or the key
    /// does not match the certificate.
    pub fn from_pem_files(
        cert: impl AsRef<std::path::Path>,
        key: impl AsRef<std::path::Path>,
    ) -> io::Result<Self> {
        Self::builder()
            .identity(Identity::from_pem_files(cert, key)?)
            .build()
    }

    /// A rustls configuration made by the caller (its ALPN protocols
    /// should include `http/1.1`, or be empty), taken as it is but for
    /// two settings the layer needs: secret extraction on (the record
    /// layer takes the traffic secrets from rustls after the handshake)
    /// and early data off (`max_early_data_size` 0).
    pub fn from_server_config(config: Arc<ServerConfig>) -> Self {
        TlsConfig {
            current: Arc::new(RwLock::new(prepare(config))),
            handshake_timeout_ms: DEFAULT_HANDSHAKE_TIMEOUT.as_millis() as u64,
            record_buffers: DEFAULT_KEPT,
        }
    }

    /// Sets how long a handshake may take from the accept (default
    /// 10 s); a connection still handshaking then is closed.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        self
    }

    /// Sets how many record buffers (33,352 bytes each) a worker thread
    /// keeps for reuse once connections give them back (default
    /// [`DEFAULT_KEPT`]): a worker keeps as many as it had TLS
    /// connections with bytes in flight at once, up to this; beyond it,
    /// a record buffer is allocated when needed and freed when given back
    /// (counted by [`record_buffers_allocated`]).
    pub fn record_buffers(mut self, count: usize) -> Self {
        self.record_buffers = count;
        self
    }

    /// A handle to replace the configuration while the server runs.
    pub fn handle(&self) -> TlsHandle {
        TlsHandle {
            current: Arc::clone(&self.current),
        }
    }

    /// Whether ALPN offers `h2` (HTTP/2 over TLS): then the servers take
    /// the HTTP/2 preface from the clients that choose it.
    pub fn offers_http2(&self) -> bool {
        self.current()
            .alpn_protocols
            .iter()
            .any(|protocol| protocol == b"h2")
    }

    /// The configuration new connections take now.
    fn current(&self) -> Arc<ServerConfig> {
        Arc::clone(&self.current.read().unwrap_or_else(|e| e.into_inner()))
    }
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field("handshake_timeout_ms", &self.handshake_timeout_ms)
            .field("record_buffers", &self.record_buffers)
            .finish_non_exhaustive()
    }
}

/// Replaces a running server's TLS configuration from any thread (a
/// certificate renewed): handshakes that begin afterwards use the new
/// one; connections already accepted keep theirs.
#[derive(Clone)]
pub struct TlsHandle {
    /// What the server's [`TlsConfig`] reads at each accept.
    current: Arc<RwLock<Arc<ServerConfig>>>,
}

impl TlsHandle {
    /// Makes `config` the one new connections take (with secret
    /// extraction on and early data off, as
    /// [`TlsConfig::from_server_config`] says).
    pub fn reload(&self, config: Arc<ServerConfig>) {
        let config = prepare(config);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = config;
    }

    /// The configuration new connections take now.
    pub fn current(&self) -> Arc<ServerConfig> {
        Arc::clone(&self.current.read().unwrap_or_else(|e| e.into_inner()))
    }
}

impl std::fmt::Debug for TlsHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsHandle").finish_non_exhaustive()
    }
}

/// `config` with what the layer needs: secret extraction on, early data
/// off (copied only if either differs).
fn prepare(config: Arc<ServerConfig>) -> Arc<ServerConfig> {
    if config.enable_secret_extraction && config.max_early_data_size == 0 {
        return config;
    }
    let mut config = (*config).clone();
    config.enable_secret_extraction = true;
    config.max_early_data_size = 0;
    Arc::new(config)
}

/// One connection's TLS state: rustls' handshake, then the record
/// layer's keys; and its record buffer while it has bytes in flight.
pub struct TlsSession {
    /// Where the connection stands.
    phase: Phase,
    /// Its record buffer, while it has bytes in flight.
    records: Option<Box<Records>>,
}

/// Where a TLS connection stands.
enum Phase {
    /// Handshaking (boxed, as the rest: a slot stays small).
    Handshake(Box<Handshake>),
    /// Done: the record layer.
    Traffic(Box<Traffic>),
    /// Failed, or between the two.
    Failed,
}

impl TlsSession {
    /// Whether the handshake is still under way.
    pub fn is_handshaking(&self) -> bool {
        matches!(self.phase, Phase::Handshake(_))
    }

    /// The protocol version, once the handshake is done.
    pub fn protocol_version(&self) -> Option<ProtocolVersion> {
        match &self.phase {
            Phase::Traffic(traffic) => Some(traffic.protocol_version()),
            _ => None,
        }
    }

    /// The cipher suite, once the handshake is done.
    pub fn cipher_suite(&self) -> Option<SupportedCipherSuite> {
        match &self.phase {
            Phase::Traffic(traffic) => Some(traffic.cipher_suite()),
            _ => None,
        }
    }

    /// The ALPN protocol agreed on, once the handshake is done (`None`
    /// if the client offered none).
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        match &self.phase {
            Phase::Traffic(traffic) => traffic.alpn_protocol(),
            _ => None,
        }
    }
}

impl Drop for TlsSession {
    fn drop(&mut self) {
        if let Some(records) = self.records.take() {
            buffers::give_back(records);
        }
    }
}

impl Transport for TlsConfig {
    type Session = TlsSession;

    fn open(&self, now: u64) -> io::Result<TlsSession> {
        buffers::keep(self.record_buffers);
        let conn = UnbufferedServerConnection::new(self.current()).map_err(io::Error::other)?;
        Ok(TlsSession {
            phase: Phase::Handshake(Box::new(Handshake {
                conn,
                deadline: now.saturating_add(self.handshake_timeout_ms),
            })),
            records: None,
        })
    }
}

impl Session for TlsSession {
    type Socket<'a, S: Socket + 'a> = TlsSocket<'a, S>;

    #[inline]
    fn wrap<'a, S: Socket + 'a>(&'a mut self, socket: S) -> TlsSocket<'a, S> {
        TlsSocket::new(socket, self)
    }

    #[inline]
    fn deadline(&self) -> Option<u64> {
        match &self.phase {
            Phase::Handshake(handshake) => Some(handshake.deadline),
            _ => None,
        }
    }

    #[inline]
    fn has_pending_output(&self) -> bool {
        self.records
            .as_ref()
            .is_some_and(|records| records.output.has_output())
    }
}
