//! The HTTPS fixture: a certificate authority made at test time, the
//! certificates it issues, servers started with TLS on any backend, and a
//! blocking rustls client that verifies what the server presents.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use peregrine_core::Handler;
use peregrine_std::tls::{Identity, TlsConfig};
use rcgen::{BasicConstraints, Certificate, CertificateParams, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use crate::{Backend, IO_TIMEOUT, Options, TestServer};

/// A certificate authority for one test.
pub struct Pki {
    /// Its certificate.
    ca: Certificate,
    /// Its key.
    key: KeyPair,
}

/// A certificate the [`Pki`] issued, with its key, as PEM.
#[derive(Clone, Debug)]
pub struct Issued {
    /// The certificate.
    pub cert_pem: String,
    /// Its key.
    pub key_pem: String,
    /// The certificate as DER, to compare with what a server presents.
    pub der: Vec<u8>,
}

impl Issued {
    /// As the server's identity.
    pub fn identity(&self) -> Identity {
        Identity::from_pem(self.cert_pem.as_bytes(), self.key_pem.as_bytes()).expect("identity")
    }
}

impl Default for Pki {
    fn default() -> Self {
        Self::new()
    }
}

impl Pki {
    /// A new authority.
    pub fn new() -> Pki {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = params.self_signed(&key).expect("CA certificate");
        Pki { ca, key }
    }

    /// A certificate for `names`, with a key of its own.
    pub fn issue(&self, names: &[&str]) -> Issued {
        let key = KeyPair::generate().expect("key");
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let params = CertificateParams::new(names).expect("params");
        let cert = params
            .signed_by(&key, &self.ca, &self.key)
            .expect("certificate");
        Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }

    /// A client trusting this authority, speaking `versions`, offering
    /// `http/1.1` by ALPN, resuming sessions (its own store).
    pub fn client(
        &self,
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from(self.ca.der().to_vec()))
            .expect("root");
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }

    /// [`client`](Self::client) with TLS 1.3 and 1.2.
    pub fn default_client(&self) -> Arc<ClientConfig> {
        self.client(&[&rustls::version::TLS13, &rustls::version::TLS12])
    }
}

impl TestServer {
    /// Starts `handler` on `backend` configured by `options`, serving
    /// HTTPS with `tls`.
    ///
    /// # Panics
    ///
    /// If the server cannot bind or its thread cannot start.
    pub fn start_tls<H, L>(
        backend: Backend,
        options: Options,
        tls: TlsConfig,
        handler: H,
    ) -> TestServer
    where
        H: Handler<L> + Send + 'static,
        L: Default,
    {
        type Run = Box<dyn FnOnce() -> io::Result<crate::Stats> + Send>;
        let (addr, handle, run): (_, _, Run) = match backend {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Backend::Epoll => {
                let server =
                    peregrine_epoll::Server::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
                let server = crate::with_options(server, &options, options.workers)
                    .max_connections(options.max_connections)
                    .buffers(options.buffers)
                    .tls(tls);
                let (addr, handle) = (server.local_addr(), server.shutdown_handle());
                (addr, handle, Box::new(move || server.run(handler)))
            }
            #[cfg(any(
                target_os = "macos",
                target_os = "ios",
                target_os = "freebsd",
                target_os = "dragonfly"
            ))]
            Backend::Kqueue => {
                let server =
                    peregrine_kqueue::Server::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
                let server = crate::with_options(server, &options, options.workers)
                    .max_connections(options.max_connections)
                    .buffers(options.buffers)
                    .tls(tls);
                let (addr, handle) = (server.local_addr(), server.shutdown_handle());
                (addr, handle, Box::new(move || server.run(handler)))
            }
            Backend::Tokio => panic!("the tokio example serves no TLS"),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Backend::EpollH2c => panic!("h2c is HTTP/2 without TLS"),
            Backend::StdPoolH2c => panic!("h2c is HTTP/2 without TLS"),
            Backend::StdPool | Backend::StdPerConnection | Backend::StdSingle => {
                let server = crate::std_server(backend, &options).tls(tls);
                let (addr, handle) = (server.local_addr(), server.shutdown_handle());
                (addr, handle, Box::new(move || server.run(handler)))
            }
        };
        TestServer::spawn(addr, handle, run)
    }
}

/// A response read by [`TlsClient`].
#[derive(Debug)]
pub struct TlsResponse {
    /// The status code.
    pub status: u16,
    /// The head, as text.
    pub head: String,
    /// The body (by `Content-Length`).
    pub body: Vec<u8>,
}

/// A blocking HTTPS client connection, reads and writes bounded by
/// [`IO_TIMEOUT`].
pub struct TlsClient {
    /// The TLS stream.
    stream: StreamOwned<ClientConnection, TcpStream>,
    /// Bytes read beyond the last response.
    buf: Vec<u8>,
}

impl TlsClient {
    /// Connects to `server` as `name` and completes the handshake.
    ///
    /// # Errors
    ///
    /// If the connection or the handshake fails.
    pub fn connect(
        server: &TestServer,
        config: Arc<ClientConfig>,
        name: &str,
    ) -> io::Result<TlsClient> {
        TlsClient::connect_to(server.addr(), config, name)
    }

    /// Connects to `addr` as `name` and completes the handshake.
    ///
    /// # Errors
    ///
    /// If the connection or the handshake fails.
    pub fn connect_to(
        addr: std::net::SocketAddr,
        config: Arc<ClientConfig>,
        name: &str,
    ) -> io::Result<TlsClient> {
        let tcp = TcpStream::connect(addr)?;
        tcp.set_read_timeout(Some(IO_TIMEOUT))?;
        tcp.set_write_timeout(Some(IO_TIMEOUT))?;
        let name = ServerName::try_from(name.to_owned()).map_err(io::Error::other)?;
        let conn = ClientConnection::new(config, name).map_err(io::Error::other)?;
        let mut stream = StreamOwned::new(conn, tcp);
        while stream.conn.is_handshaking() {
            stream.conn.complete_io(&mut stream.sock)?;
        }
        Ok(TlsClient {
            stream,
            buf: Vec::new(),
        })
    }

    /// The TLS connection (version, ALPN, certificates, resumption).
    pub fn tls(&self) -> &ClientConnection {
        &self.stream.conn
    }

    /// Sends `bytes`.
    ///
    /// # Panics
    ///
    /// If the write fails.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
        self.stream.flush().expect("flush");
    }

    /// `GET path`, keep-alive, and its response.
    pub fn get(&mut self, path: &str) -> TlsResponse {
        self.send(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        self.response()
    }

    /// Reads one response (its body by `Content-Length`).
    ///
    /// # Panics
    ///
    /// If the connection fails or ends first.
    pub fn response(&mut self) -> TlsResponse {
        let (head_end, status, head, length) = self.head();
        let length = usize::try_from(length).expect("length");
        while self.buf.len() < head_end + length {
            self.fill();
        }
        let body = self.buf[head_end..head_end + length].to_vec();
        self.buf.drain(..head_end + length);
        TlsResponse { status, head, body }
    }

    /// Reads a response's head only, leaving its body unread: the head
    /// (status, text, an empty body) and its `Content-Length`.
    ///
    /// # Panics
    ///
    /// If the connection fails or ends first.
    pub fn response_head(&mut self) -> (TlsResponse, u64) {
        let (head_end, status, head, length) = self.head();
        self.buf.drain(..head_end);
        let response = TlsResponse {
            status,
            head,
            body: Vec::new(),
        };
        (response, length)
    }

    /// Reads until a whole head is buffered: where it ends, its status,
    /// its text and its `Content-Length` (0 if none).
    fn head(&mut self) -> (usize, u16, String, u64) {
        let head_end = loop {
            if let Some(at) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            self.fill();
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        let status = head[9..12].parse().expect("status");
        let length = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().expect("length"))
            })
            .unwrap_or(0);
        (head_end, status, head, length)
    }

    /// Reads more into the buffer.
    fn fill(&mut self) {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk).expect("read");
        assert!(n > 0, "the server closed the connection");
        self.buf.extend_from_slice(&chunk[..n]);
    }

    /// Reads until the server ends the stream: `Ok` with what came if it
    /// ended with `close_notify`, the error otherwise (`UnexpectedEof`
    /// for a bare TCP close).
    pub fn read_to_close(&mut self) -> io::Result<Vec<u8>> {
        let mut rest = std::mem::take(&mut self.buf);
        self.stream.read_to_end(&mut rest)?;
        Ok(rest)
    }
}
