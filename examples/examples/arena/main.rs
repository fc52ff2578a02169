//! Peregrine's entry in HttpArena (github.com/MDA2AV/HttpArena): every
//! HTTP/1.1, HTTP/2, WebSocket and TLS profile it defines, from one
//! process.
//!
//! ```text
//! cargo run --release -p peregrine-examples --example arena -- --port 8080 --data DIR
//! ```
//!
//! `DIR` (default `/data`, where HttpArena mounts it) holds `dataset.json`
//! and `static/`. One handler ([`routes`]) serves four ports:
//!
//! | port | protocol | profiles |
//! |---|---|---|
//! | `--port` (8080) | HTTP/1.1, WebSocket | baseline, limited-conn, pipelined, json, json-comp, upload, static, echo-ws |
//! | `--tls-port` (8081) | HTTP/1.1 over TLS (ALPN `http/1.1`) | json-tls |
//! | `--h2-port` (8443) | HTTP/2 over TLS (ALPN `h2`, then `http/1.1`) | baseline-h2, static-h2 |
//! | `--h2c-port` (8082) | HTTP/2 only, prior knowledge (HTTP/1.1 gets `505`) | baseline-h2c, json-h2c |
//!
//! | endpoint | profiles | module |
//! |---|---|---|
//! | `GET`/`POST /baseline11?a=&b=`, `GET /baseline2?a=&b=` | baseline, limited-conn, baseline-h2, baseline-h2c | [`baseline`] |
//! | `GET /pipeline` | pipelined | [`baseline`] |
//! | `GET /json/{count}?m=` | json, json-comp, json-tls, json-h2c | [`json`] |
//! | `POST /upload` | upload | [`upload`] |
//! | `GET /static/{name}` | static, static-h2 | [`files`] |
//! | `/ws` | echo-ws | [`ws`] |
//!
//! Both TLS ports (rustls; TLS 1.3 and 1.2, no session tickets) use the
//! certificate `--cert` (default `/certs/server.crt`) and its key `--key`
//! (default `/certs/server.key`). When the default files are missing both
//! TLS ports are left closed, with a warning; files named on the command
//! line must exist.
//!
//! `--workers N` (default one per CPU) sets each port's worker threads:
//! a port's workers sleep while no traffic comes to it. SIGINT or
//! SIGTERM stops every port gracefully; one port failing stops the
//! others.
//!
//! Linux runs the epoll backend; macOS and the BSDs, kqueue.

mod baseline;
#[cfg(unix)]
mod cli;
mod files;
mod json;
mod routes;
#[cfg(unix)]
mod serve;
mod upload;
mod ws;

#[cfg(unix)]
fn main() -> std::process::ExitCode {
    match serve::serve(cli::Args::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("arena: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(not(unix))]
fn main() {
    eprintln!("arena: needs a readiness backend (epoll or kqueue)");
    std::process::exit(2);
}
