//! permessage-deflate with a client that is not ours: Python's
//! `websockets` (RFC 6455 and 7692; it offers compression by default)
//! echoes text and binary messages through the server over a real socket
//! — under 64 bytes, 16 KiB (compressible and not), 1 MiB, whole and
//! fragmented — with and without context takeover, on the epoll and
//! portable backends. The client checks every echo
//! (`tests/python/ws_deflate_client.py`); this test checks the extension it
//! negotiated and the server's counters: messages really went compressed
//! both ways.
//!
//! tungstenite, the Rust client of the other tests, does not compress
//! (0.30 has no permessage-deflate).
//!
//! Skipped (with a line saying so) when no Python with `websockets` is
//! found (`PEREGRINE_PYTHON`, `python3`, `/usr/bin/python3`), unless
//! `PEREGRINE_REQUIRE_PYTHON_WEBSOCKETS=1`, as CI sets it (after
//! `.ci/install-python-websockets`): then it fails.

use std::env;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::thread::JoinHandle;

use peregrine_core::ws::{Handshake, Message};
use peregrine_core::{
    Capacity, Config, DeflatePolicy, Handler, Request, Response, Upgrade, WebSocket,
};
use peregrine_tests::{STOP_TIMEOUT, ShutdownHandle, Stats};
use serde_json::Value;

/// The client script.
const CLIENT: &str = include_str!("../python/ws_deflate_client.py");

/// Room for a 1 MiB message, compressed and decompressed, in the read
/// buffer, and for its echo in the write buffer.
const BUFFER: usize = 4 << 20;

/// Echoes every message.
struct Echo;

impl Handler for Echo {
    fn handle(&self, _: &Request<'_>, _: &mut Response<'_>) {}

    fn websocket(&self, _: &Request<'_>, _: &Handshake<'_>) -> Upgrade {
        Upgrade::ACCEPT
    }

    fn on_message(&self, message: Message<'_>, socket: &mut WebSocket<'_>) {
        let _ = match message {
            Message::Text(text) => socket.send_text(text),
            Message::Binary(data) => socket.send_binary(data),
            _ => Ok(()),
        };
    }
}

/// A Python that imports `websockets`, or `None` (after checking that
/// the environment does not require one).
fn python() -> Option<OsString> {
    let candidates = env::var_os("PEREGRINE_PYTHON")
        .into_iter()
        .chain(["python3".into(), "/usr/bin/python3".into()]);
    for python in candidates {
        let imports = Command::new(&python)
            .args(["-c", "import websockets"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if imports {
            return Some(python);
        }
    }
    let required = env::var_os("PEREGRINE_REQUIRE_PYTHON_WEBSOCKETS").is_some_and(|v| v == "1");
    assert!(
        !required,
        "PEREGRINE_REQUIRE_PYTHON_WEBSOCKETS=1 but no Python with websockets was found: \
         run .ci/install-python-websockets or point PEREGRINE_PYTHON at one"
    );
    eprintln!(
        "ws_deflate_clients: skipped, no Python with websockets found \
         (.ci/install-python-websockets installs it)"
    );
    None
}

/// A server of one worker with buffers for 1 MiB messages.
struct Server {
    addr: SocketAddr,
    handle: ShutdownHandle,
    thread: JoinHandle<std::io::Result<Stats>>,
}

impl Server {
    fn start(backend: &str, policy: DeflatePolicy) -> Server {
        let config = Config {
            websocket_deflate: policy,
            ..Config::DEFAULT
        };
        type Run = Box<dyn FnOnce() -> std::io::Result<Stats> + Send>;
        let (addr, handle, run): (_, _, Run) = match backend {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            "epoll" => {
                let server = peregrine_driver::Server::<
                    peregrine_epoll::Epoll,
                    Capacity<BUFFER, BUFFER, 32>,
                >::bind("127.0.0.1:0")
                .unwrap()
                .workers(1)
                .buffers(2)
                .config(config)
                .handle_signals(false);
                let (addr, handle) = (server.local_addr(), server.shutdown_handle());
                (addr, handle, Box::new(move || server.run(Echo)))
            }
            _ => {
                let server =
                    peregrine_std::ServerWith::<Capacity<BUFFER, BUFFER, 32>>::bind("127.0.0.1:0")
                        .unwrap()
                        .model(peregrine_std::Model::Pool)
                        .workers(2)
                        .config(config)
                        .handle_signals(false);
                let (addr, handle) = (server.local_addr(), server.shutdown_handle());
                (addr, handle, Box::new(move || server.run(Echo)))
            }
        };
        let thread = std::thread::spawn(run);
        Server {
            addr,
            handle,
            thread,
        }
    }

    fn stop(self) -> Stats {
        self.handle.shutdown();
        let deadline = std::time::Instant::now() + STOP_TIMEOUT;
        while !self.thread.is_finished() {
            assert!(
                std::time::Instant::now() < deadline,
                "the server did not stop"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        self.thread.join().unwrap().unwrap()
    }
}

/// Runs the client against `backend` under `policy`; returns its report
/// and the server's statistics.
fn run_client(python: &OsString, backend: &str, policy: DeflatePolicy) -> (Value, Stats) {
    let server = Server::start(backend, policy);
    let output = Command::new(python)
        .arg("-c")
        .arg(CLIENT)
        .arg(format!("ws://{}/", server.addr))
        .stdin(Stdio::null())
        .output()
        .expect("run the Python client");
    let stats = server.stop();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{backend}, {policy:?}: the client failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{backend}: the client's report is not JSON ({e}): {stdout}"));
    eprintln!("{backend}, {policy:?}: websockets {}", report["websockets"]);
    (report, stats)
}

/// What the client and the server must show: the extension with the
/// expected parameters, and compression both ways.
fn check(backend: &str, policy: DeflatePolicy, header: &str, takeover: bool) {
    let Some(python) = python() else {
        return;
    };
    let (report, stats) = run_client(&python, backend, policy);
    assert_eq!(report["header"], Value::from(header), "{backend}: {report}");
    let extensions = report["extensions"].as_array().expect("extensions");
    assert_eq!(extensions.len(), 1, "{report}");
    assert_eq!(extensions[0]["name"], "permessage-deflate", "{report}");
    // The client's view: whether the server resets its context (remote)
    // and whether it must reset its own (local).
    assert_eq!(
        extensions[0]["remote_no_context_takeover"],
        Value::from(!takeover),
        "{report}"
    );
    assert_eq!(
        extensions[0]["local_no_context_takeover"],
        Value::from(!takeover),
        "{report}"
    );
    let sent = report["sent"].as_array().expect("sent");
    assert_eq!(sent.len(), 10, "{report}");
    let total: u64 = sent.iter().map(|m| m["len"].as_u64().unwrap()).sum();
    // Every message of 64 bytes or more but the incompressible one came
    // back compressed; the client compressed what it sent (all but the
    // noise, at least, which it may send as it is).
    assert!(stats.deflate_sent >= 7, "{backend}: {stats:?}");
    assert!(stats.deflate_received >= 7, "{backend}: {stats:?}");
    // JSON-like text shrinks several times over, both ways.
    assert!(
        stats.deflate_sent_wire_bytes * 3 < stats.deflate_sent_plain_bytes,
        "{backend}: {stats:?}"
    );
    assert!(
        stats.deflate_received_wire_bytes * 3 < stats.deflate_received_plain_bytes,
        "{backend}: {stats:?}"
    );
    assert!(
        stats.deflate_received_plain_bytes + 16 * 1024 >= total - 64,
        "{backend}: {total} sent, {stats:?}"
    );
    assert_eq!(stats.deflate_contexts_exhausted, 0);
}

const NO_TAKEOVER: &str =
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn websockets_echoes_compressed_on_epoll() {
    check(
        "epoll",
        DeflatePolicy::NoContextTakeover,
        NO_TAKEOVER,
        false,
    );
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn websockets_echoes_compressed_with_context_takeover_on_epoll() {
    let policy = DeflatePolicy::ContextTakeover { contexts: 4 };
    check("epoll", policy, "permessage-deflate", true);
}

#[test]
fn websockets_echoes_compressed_on_std() {
    check("std", DeflatePolicy::NoContextTakeover, NO_TAKEOVER, false);
}

#[test]
fn websockets_echoes_compressed_with_context_takeover_on_std() {
    let policy = DeflatePolicy::ContextTakeover { contexts: 4 };
    check("std", policy, "permessage-deflate", true);
}
