//! The command line: ports, data directory, workers, certificate.

use std::path::PathBuf;
use std::process::exit;

/// HttpArena's certificate, where it mounts it.
pub const DEFAULT_CERT: &str = "/certs/server.crt";
/// Its key.
pub const DEFAULT_KEY: &str = "/certs/server.key";

/// What the command line asked for.
pub struct Args {
    /// `--port`: HTTP/1.1 and WebSocket.
    pub port: u16,
    /// `--tls-port`: HTTP/1.1 over TLS.
    pub tls_port: u16,
    /// `--h2-port`: HTTP/2 over TLS.
    pub h2_port: u16,
    /// `--h2c-port`: HTTP/2 only, in cleartext.
    pub h2c_port: u16,
    /// `--data`.
    pub data: PathBuf,
    /// `--workers`.
    pub workers: Option<usize>,
    /// `--cert`, and whether it was given.
    pub cert: (PathBuf, bool),
    /// `--key`, and whether it was given.
    pub key: (PathBuf, bool),
}

/// Says what is wrong and how to call, then exits.
fn usage(problem: &str) -> ! {
    if !problem.is_empty() {
        eprintln!("arena: {problem}");
    }
    eprintln!(
        "options: [--port N (8080)] [--tls-port N (8081)] [--h2-port N (8443)] \
         [--h2c-port N (8082)] [--data DIR (/data)] [--workers N (one per CPU)] \
         [--cert FILE ({DEFAULT_CERT})] [--key FILE ({DEFAULT_KEY})]"
    );
    exit(2)
}

impl Args {
    /// Parses the process's arguments, exiting with a usage line on
    /// error.
    pub fn parse() -> Args {
        let mut parsed = Args {
            port: 8080,
            tls_port: 8081,
            h2_port: 8443,
            h2c_port: 8082,
            data: PathBuf::from("/data"),
            workers: None,
            cert: (PathBuf::from(DEFAULT_CERT), false),
            key: (PathBuf::from(DEFAULT_KEY), false),
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = || {
                args.next()
                    .unwrap_or_else(|| usage(&format!("{arg} needs a value")))
            };
            match arg.as_str() {
                "--port" => parsed.port = number(&value(), "--port"),
                "--tls-port" => parsed.tls_port = number(&value(), "--tls-port"),
                "--h2-port" => parsed.h2_port = number(&value(), "--h2-port"),
                "--h2c-port" => parsed.h2c_port = number(&value(), "--h2c-port"),
                "--data" => parsed.data = PathBuf::from(value()),
                "--workers" => parsed.workers = Some(number(&value(), "--workers")),
                "--cert" => parsed.cert = (PathBuf::from(value()), true),
                "--key" => parsed.key = (PathBuf::from(value()), true),
                "-h" | "--help" => usage(""),
                other => usage(&format!("unknown option {other}")),
            }
        }
        parsed
    }
}

/// `text` as a number, or a usage error naming `option`.
fn number<T: std::str::FromStr>(text: &str, option: &str) -> T {
    text.parse()
        .unwrap_or_else(|_| usage(&format!("{option}: not a number: {text}")))
}
