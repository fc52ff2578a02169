//! Building a rustls server configuration: certificates (by name),
//! protocol versions, ALPN and session tickets.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls::version::{TLS12, TLS13};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::TlsConfig;
use super::sni::ByName;

/// How long a TLS handshake may take by default.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A certificate chain and its private key.
pub struct Identity {
    /// The chain, the server's own certificate first.
    chain: Vec<CertificateDer<'static>>,
    /// The key of the first certificate.
    key: PrivateKeyDer<'static>,
}

impl Identity {
    /// From PEM files: `cert` holds the chain (the server's own
    /// certificate first), `key` its private key (PKCS #8, PKCS #1 or
    /// SEC1).
    ///
    /// # Errors
    ///
    /// If a file cannot be read or holds no certificate or key.
    pub fn from_pem_files(cert: impl AsRef<Path>, key: impl AsRef<Path>) -> io::Result<Self> {
        let cert = cert.as_ref();
        let chain = CertificateDer::pem_file_iter(cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|error| invalid(format!("{}: {error}", cert.display())))?;
        let key_path = key.as_ref();
        let key = PrivateKeyDer::from_pem_file(key_path)
            .map_err(|error| invalid(format!("{}: {error}", key_path.display())))?;
        Identity::new(chain, key)
    }

    /// From PEM text: `cert` holds the chain, `key` its private key.
    ///
    /// # Errors
    ///
    /// If either holds no certificate or key.
    pub fn from_pem(cert: &[u8], key: &[u8]) -> io::Result<Self> {
        let chain = CertificateDer::pem_slice_iter(cert)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| invalid(format!("certificate: {error}")))?;
        let key =
            PrivateKeyDer::from_pem_slice(key).map_err(|error| invalid(format!("key: {error}")))?;
        Identity::new(chain, key)
    }

    /// From DER: the chain and its key.
    ///
    /// # Errors
    ///
    /// If the chain is empty.
    pub fn new(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> io::Result<Self> {
        if chain.is_empty() {
            return Err(invalid("no certificate".into()));
        }
        Ok(Identity { chain, key })
    }

    /// The chain and a signing key from `provider`, checked to match.
    fn certified(&self, provider: &CryptoProvider) -> io::Result<Arc<CertifiedKey>> {
        let signer = provider
            .key_provider
            .load_private_key(self.key.clone_key())
            .map_err(|error| invalid(format!("key: {error}")))?;
        let key = CertifiedKey::new(self.chain.clone(), signer);
        match key.keys_match() {
            Ok(()) => Ok(Arc::new(key)),
            // A key whose public half rustls cannot derive is taken as it is.
            Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {
                Ok(Arc::new(key))
            }
            Err(error) => Err(invalid(format!("certificate and key: {error}"))),
        }
    }
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("certificates", &self.chain.len())
            .finish_non_exhaustive()
    }
}

/// The crypto provider: *ring*, which builds with only a C compiler.
/// rustls marks it deprecated for want of post-quantum key exchange; its
/// X25519, P-256 and P-384 key exchange and its cipher suites are the
/// same as ever.
#[allow(deprecated)]
fn provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// An `InvalidInput` error saying `what`.
fn invalid(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what)
}

/// Which TLS versions a server speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Versions {
    /// TLS 1.3 and 1.2 (the default).
    #[default]
    Both,
    /// TLS 1.3 only.
    Tls13,
    /// TLS 1.2 only (for testing old clients).
    Tls12,
}

/// Builds a [`TlsConfig`] (or, for [`TlsHandle::reload`], a rustls
/// [`ServerConfig`]) the way a web server wants one: the `ring` crypto
/// provider, TLS 1.3 and 1.2, ALPN `http/1.1`, stateless session tickets
/// whose keys rotate every 6 hours (rustls' `Ticketer`), and certificates
/// chosen by the name the client asks for (SNI).
///
/// [`TlsHandle::reload`]: super::TlsHandle::reload
#[derive(Debug)]
pub struct TlsBuilder {
    /// For clients with no SNI or a name not listed.
    default: Option<Identity>,
    /// By server name.
    names: Vec<(String, Identity)>,
    /// ALPN protocols, in order of preference.
    alpn: Vec<Vec<u8>>,
    /// Versions spoken.
    versions: Versions,
    /// Whether resumption tickets are issued.
    tickets: bool,
    /// How long a handshake may take.
    handshake_timeout: Duration,
    /// Record buffers each thread keeps.
    record_buffers: usize,
}

impl Default for TlsBuilder {
    fn default() -> Self {
        TlsBuilder {
            default: None,
            names: Vec::new(),
            alpn: vec![b"http/1.1".to_vec()],
            versions: Versions::Both,
            tickets: true,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            record_buffers: super::DEFAULT_KEPT,
        }
    }
}

impl TlsBuilder {
    /// Serves `identity` to clients that name no server, or a name not
    /// given to [`sni`](Self::sni).
    pub fn identity(mut self, identity: Identity) -> Self {
        self.default = Some(identity);
        self
    }

    /// Serves `identity` to clients asking for `name` (`*.example.com`
    /// for any one label in its place).
    pub fn sni(mut self, name: &str, identity: Identity) -> Self {
        self.names.push((name.to_owned(), identity));
        self
    }

    /// Sets the ALPN protocols offered, in order of preference (default
    /// `http/1.1` alone). A client that offers ALPN with none of them is
    /// refused; one that offers none is served.
    pub fn alpn(mut self, protocols: &[&[u8]]) -> Self {
        self.alpn = protocols.iter().map(|p| p.to_vec()).collect();
        self
    }

    /// Sets the TLS versions spoken (default 1.3 and 1.2).
    pub fn versions(mut self, versions: Versions) -> Self {
        self.versions = versions;
        self
    }

    /// Whether session tickets are issued for resumption (default yes).
    pub fn tickets(mut self, tickets: bool) -> Self {
        self.tickets = tickets;
        self
    }

    /// Sets how long a handshake may take from the accept (default 10 s).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Sets how many record buffers a worker thread keeps for reuse
    /// (default [`DEFAULT_KEPT`](super::DEFAULT_KEPT); see
    /// [`TlsConfig::record_buffers`]).
    pub fn record_buffers(mut self, count: usize) -> Self {
        self.record_buffers = count;
        self
    }

    /// The rustls configuration: for [`build`](Self::build), or for
    /// [`TlsHandle::reload`](super::TlsHandle::reload).
    ///
    /// # Errors
    ///
    /// With no certificate at all, with a key that does not match its
    /// certificate, or if the ticket keys cannot be made.
    pub fn server_config(&self) -> io::Result<Arc<ServerConfig>> {
        if self.default.is_none() && self.names.is_empty() {
            return Err(invalid("no certificate".into()));
        }
        let provider = Arc::new(provider());
        let default = match &self.default {
            Some(identity) => Some(identity.certified(&provider)?),
            None => None,
        };
        let mut names = ByName::new(default);
        for (name, identity) in &self.names {
            names.add(name, identity.certified(&provider)?);
        }
        let versions: &[&rustls::SupportedProtocolVersion] = match self.versions {
            Versions::Both => &[&TLS13, &TLS12],
            Versions::Tls13 => &[&TLS13],
            Versions::Tls12 => &[&TLS12],
        };
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .map_err(|error| invalid(error.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(names));
        config.alpn_protocols = self.alpn.clone();
        // The record layer takes the traffic secrets after the handshake.
        config.enable_secret_extraction = true;
        if self.tickets {
            config.ticketer = rustls::crypto::ring::Ticketer::new().map_err(io::Error::other)?;
        }
        Ok(Arc::new(config))
    }

    /// The TLS configuration for [`Server::tls`](crate::Server::tls).
    ///
    /// # Errors
    ///
    /// As [`server_config`](Self::server_config).
    pub fn build(self) -> io::Result<TlsConfig> {
        let config = self.server_config()?;
        Ok(TlsConfig::from_server_config(config)
            .handshake_timeout(self.handshake_timeout)
            .record_buffers(self.record_buffers))
    }
}
