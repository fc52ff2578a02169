//! The reference server over HTTPS: `hello`'s answers, TLS 1.3 and 1.2
//! with the certificate chain and key given as PEM files.
//!
//! ```text
//! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
//!     -keyout key.pem -out cert.pem -days 30 -subj /CN=localhost
//! cargo run --release -p peregrine-examples --features tls --example hello_tls -- \
//!     --tls-cert cert.pem --tls-key key.pem --port 8443
//! curl --insecure https://127.0.0.1:8443/
//! ```
//!
//! Options: `--tls-cert FILE`, `--tls-key FILE` (both required),
//! `--port N` (default 8443), `--backend epoll|std` (default epoll on
//! Linux), `--workers N`, `--body-file FILE` (answer `GET /` with the
//! file's bytes instead of "Hello, World!", as `hello` does), `--http2`
//! (offer `h2` before `http/1.1` by ALPN: HTTP/2 to the clients that
//! choose it).

use std::process::exit;

use peregrine_examples::hello::Hello;

/// What the command line asked for.
struct Args {
    /// The certificate chain, PEM.
    cert: String,
    /// Its key, PEM.
    key: String,
    /// The port.
    port: u16,
    /// `epoll` or `std`.
    backend: String,
    /// Worker threads (epoll) or pool threads (std).
    workers: Option<usize>,
    /// What `GET /` answers, if not "Hello, World!".
    body_file: Option<String>,
    /// Offer HTTP/2 by ALPN.
    http2: bool,
}

/// Says what is wrong and how to call, then exits.
fn usage(problem: &str) -> ! {
    eprintln!("hello_tls: {problem}");
    eprintln!(
        "options: --tls-cert FILE --tls-key FILE [--port N (default 8443)] [--backend epoll|std] [--workers N] [--body-file FILE] [--http2]"
    );
    exit(2)
}

/// Parses the process's arguments.
fn args() -> Args {
    let (mut cert, mut key, mut port) = (None, None, 8443);
    let mut backend = if cfg!(any(target_os = "linux", target_os = "android")) {
        "epoll".to_owned()
    } else {
        "std".to_owned()
    };
    let mut workers = None;
    let mut body_file = None;
    let mut http2 = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{arg} needs a value")))
        };
        match arg.as_str() {
            "--tls-cert" => cert = Some(value()),
            "--tls-key" => key = Some(value()),
            "--port" => {
                port = value()
                    .parse()
                    .unwrap_or_else(|_| usage("--port: a number"))
            }
            "--backend" => backend = value(),
            "--workers" => {
                workers = Some(
                    value()
                        .parse()
                        .unwrap_or_else(|_| usage("--workers: a number")),
                );
            }
            "--body-file" => body_file = Some(value()),
            "--http2" => http2 = true,
            other => usage(&format!("unknown option {other}")),
        }
    }
    Args {
        cert: cert.unwrap_or_else(|| usage("--tls-cert is required")),
        key: key.unwrap_or_else(|| usage("--tls-key is required")),
        port,
        backend,
        workers,
        body_file,
        http2,
    }
}

fn main() -> std::io::Result<()> {
    let args = args();
    let tls = if args.http2 {
        peregrine_std::tls::TlsConfig::builder()
            .identity(peregrine_std::tls::Identity::from_pem_files(
                &args.cert, &args.key,
            )?)
            .alpn(&[b"h2", b"http/1.1"])
            .build()?
    } else {
        peregrine_std::tls::TlsConfig::from_pem_files(&args.cert, &args.key)?
    };
    let addr = ("0.0.0.0", args.port);
    let hello = match &args.body_file {
        // Read once, kept for the server's life.
        Some(path) => Hello::with_body(Box::leak(std::fs::read(path)?.into_boxed_slice())),
        None => Hello::new(),
    };
    let stats = match args.backend.as_str() {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        "epoll" => {
            let mut server = peregrine_epoll::Server::bind(addr)?.tls(tls);
            if let Some(workers) = args.workers {
                server = server.workers(workers);
            }
            eprintln!("hello_tls: https://{} (epoll)", server.local_addr());
            server.run(hello)?
        }
        "std" => {
            let mut server = peregrine_std::Server::bind(addr)?.tls(tls);
            if let Some(workers) = args.workers {
                server = server.workers(workers);
            }
            eprintln!("hello_tls: https://{} (std)", server.local_addr());
            server.run(hello)?
        }
        other => usage(&format!("--backend: epoll or std, not {other}")),
    };
    eprintln!("hello_tls: stopped after {} requests", stats.requests);
    Ok(())
}
