//! HTTPS: TLS 1.3 and 1.2 with rustls (the `tls` feature).
//!
//! The layer sits between a connection's socket and its protocol state:
//! [`TlsSocket`] is the driver's [`Socket`] over the
//! plain one, so the connection reads and writes plaintext and knows
//! nothing of TLS. Each connection keeps a rustls `ServerConnection`
//! beside it (in the reactor's slot, or on the portable backend's
//! thread), made at accept time from the configuration current then.
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

mod config;
mod sni;
mod socket;

use std::io;
use std::sync::{Arc, RwLock};
use std::time::Duration;

pub use config::{DEFAULT_HANDSHAKE_TIMEOUT, Identity, TlsBuilder, Versions};
pub use rustls;
use rustls::{ServerConfig, ServerConnection};
pub use socket::TlsSocket;

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

    /// A rustls configuration made by the caller, taken as it is (its
    /// ALPN protocols should include `http/1.1`, or be empty).
    pub fn from_server_config(config: Arc<ServerConfig>) -> Self {
        TlsConfig {
            current: Arc::new(RwLock::new(config)),
            handshake_timeout_ms: DEFAULT_HANDSHAKE_TIMEOUT.as_millis() as u64,
        }
    }

    /// Sets how long a handshake may take from the accept (default
    /// 10 s); a connection still handshaking then is closed.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        self
    }

    /// A handle to replace the configuration while the server runs.
    pub fn handle(&self) -> TlsHandle {
        TlsHandle {
            current: Arc::clone(&self.current),
        }
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
    /// Makes `config` the one new connections take.
    pub fn reload(&self, config: Arc<ServerConfig>) {
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

/// One connection's TLS state.
pub struct TlsSession {
    /// The rustls connection (boxed: a slot stays small).
    tls: Box<ServerConnection>,
    /// When the handshake must be done by (ms).
    handshake_deadline: u64,
}

impl TlsSession {
    /// The rustls connection, to look at (its protocol version, ALPN,
    /// server name).
    pub fn connection(&self) -> &ServerConnection {
        &self.tls
    }
}

impl Transport for TlsConfig {
    type Session = TlsSession;

    fn open(&self, now: u64) -> io::Result<TlsSession> {
        let tls = ServerConnection::new(self.current()).map_err(io::Error::other)?;
        Ok(TlsSession {
            tls: Box::new(tls),
            handshake_deadline: now.saturating_add(self.handshake_timeout_ms),
        })
    }
}

impl Session for TlsSession {
    type Socket<'a, S: Socket + 'a> = TlsSocket<'a, S>;

    #[inline]
    fn wrap<'a, S: Socket + 'a>(&'a mut self, socket: S) -> TlsSocket<'a, S> {
        TlsSocket::new(socket, &mut self.tls)
    }

    #[inline]
    fn deadline(&self) -> Option<u64> {
        self.tls.is_handshaking().then_some(self.handshake_deadline)
    }

    #[inline]
    fn has_pending_output(&self) -> bool {
        self.tls.wants_write()
    }
}
