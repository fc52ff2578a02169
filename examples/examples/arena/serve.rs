//! The four ports: bound, configured, and run side by side until SIGINT
//! or SIGTERM.

use std::io;
use std::path::Path;

use peregrine_core::{Capacity, Config, H2c, Sizes};
use peregrine_driver::tls::{Identity, TlsConfig};
use peregrine_examples::{Bound, serve_together};

use crate::cli::Args;
use crate::routes::Arena;

/// The readiness API of this system.
#[cfg(any(target_os = "linux", target_os = "android"))]
type Poller = peregrine_epoll::Epoll;
/// The readiness API of this system.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
type Poller = peregrine_kqueue::Kqueue;

/// A server of an HTTP/1.1 port: 16 KiB buffers, 100 header fields.
type Server = peregrine_driver::Server<Poller, Capacity<16384, 16384, 100>>;

/// A server of an HTTP/2 port: a 64 KiB write buffer. HTTP/2 sends a
/// response body only from the write buffer, a static slice or a file
/// (a body that does not fit the room left is reset, not spilled), and
/// a connection takes its streams' requests while 2 KiB are free: with
/// h2load's 32 streams a connection, JSON answers of up to 8.5 KB reset
/// about a quarter of the streams with 16 KiB, none with 8 streams and
/// about a tenth with 32 with 64 KiB.
type H2Server = peregrine_driver::Server<Poller, Capacity<16384, 65536, 100>>;

/// Each listener's backlog: HttpArena's load generators open thousands
/// of connections at once. The system caps it (Linux:
/// `net.core.somaxconn`).
const BACKLOG: u32 = 65_535;

/// ALPN of the json-tls port: HTTP/1.1 only.
const ALPN_HTTP1: &[&[u8]] = &[b"http/1.1"];
/// ALPN of the HTTP/2 TLS port: h2 first, HTTP/1.1 for clients without
/// it.
const ALPN_H2: &[&[u8]] = &[b"h2", b"http/1.1"];

/// A bound port: what it serves, and how to run and stop it (its server
/// type depends on the protocol).
type Port = Bound<'static, Arena>;

/// The port of `server`, whose [`Sizes`] tell the size of its read buffer
/// and its write buffer's.
fn port<Z: Sizes>(what: &str, server: peregrine_driver::Server<Poller, Z>) -> Port {
    Bound {
        what: format!("{} {what}", server.local_addr()),
        stop: server.shutdown_handle(),
        run: Box::new(move |arena: &Arena| server.run(arena)),
    }
}

/// The certificate and key files, or `None` (with a warning) when the
/// default files are missing.
fn certificate(args: &Args) -> Option<(&Path, &Path)> {
    let ((cert, cert_given), (key, key_given)) = (&args.cert, &args.key);
    if *cert_given || *key_given || (exists(cert) && exists(key)) {
        return Some((cert, key));
    }
    eprintln!(
        "arena: warning: {} or {} missing: no TLS on ports {} and {} (--cert, --key)",
        cert.display(),
        key.display(),
        args.tls_port,
        args.h2_port,
    );
    None
}

/// A TLS configuration offering `alpn`, with the certificate of
/// `files`.
fn tls((cert, key): (&Path, &Path), alpn: &[&[u8]]) -> io::Result<TlsConfig> {
    // Every connection makes a full handshake: no resumption.
    TlsConfig::builder()
        .identity(Identity::from_pem_files(cert, key)?)
        .alpn(alpn)
        .tickets(false)
        .build()
}

/// Whether `path` exists.
fn exists(path: &Path) -> bool {
    path.try_exists().unwrap_or(false)
}

/// A server on `port` with `workers` workers and the defaults (that
/// take no signals).
fn bind<Z: Sizes>(port: u16, workers: usize) -> io::Result<peregrine_driver::Server<Poller, Z>> {
    Ok(peregrine_driver::Server::bind(("0.0.0.0", port))?
        .workers(workers)
        .backlog(BACKLOG)
        .config(Config::DEFAULT)
        .handle_signals(false))
}

/// Binds every port: plain HTTP/1.1 first, then h2c, and both TLS ports
/// when there is a certificate.
fn ports(args: &Args, workers: usize) -> io::Result<Vec<Port>> {
    // The first port takes the signals and stops the others.
    let plain: Server = bind(args.port, workers)?.handle_signals(true);
    let h2c: H2Server = bind(args.h2c_port, workers)?.h2c(H2c::Only);
    let mut ports = vec![
        port("http (HTTP/1.1)", plain),
        port("http (HTTP/2 only)", h2c),
    ];
    if let Some(files) = certificate(args) {
        let tls1: Server = bind(args.tls_port, workers)?.tls(tls(files, ALPN_HTTP1)?);
        let tls2: H2Server = bind(args.h2_port, workers)?.tls(tls(files, ALPN_H2)?);
        ports.push(port("https (HTTP/1.1)", tls1));
        ports.push(port("https (h2, http/1.1)", tls2));
    }
    Ok(ports)
}

/// Binds every port, then serves until SIGINT or SIGTERM.
///
/// # Errors
///
/// If the data cannot be read, a port cannot be bound, or a server
/// fails.
pub fn serve(args: Args) -> io::Result<()> {
    let arena = Arena::load(&args.data)?;
    let workers = args
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get));
    let ports = ports(&args, workers)?;
    let listening: Vec<&str> = ports.iter().map(|port| port.what.as_str()).collect();
    eprintln!(
        "arena: {} ({workers} worker{} each; {} items from {})",
        listening.join(", "),
        if workers == 1 { "" } else { "s" },
        arena.items(),
        args.data.display(),
    );
    let requests = serve_together(ports, &arena)?.requests;
    eprintln!("arena: stopped after {requests} requests");
    Ok(())
}
