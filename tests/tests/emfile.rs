//! Running out of file descriptors: a server in a child process with a low
//! `RLIMIT_NOFILE` is flooded with connections. While it cannot accept it
//! must keep serving the connections it has, without spinning (a readiness
//! backend closes connections idle between requests to make room); once
//! descriptors free up it must accept and serve again.

use std::io::{BufRead, BufReader, ErrorKind, Read};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use peregrine_tests::{Backend, Client, backend_tests, get};

backend_tests!([concurrent] keeps_serving_when_out_of_descriptors);

/// The child's descriptor limit: stdio, per worker a listener, an epoll
/// and a waker, and room for some fifty connections.
const NOFILE: u64 = 64;
/// Threads of a thread-per-connection child: more than it has descriptors
/// for, so that it too runs out.
const THREADS: usize = 256;
/// Connections opened at once: several times what the child can hold.
const FLOOD: usize = 200;
/// How long the child is watched while flooded.
const WINDOW: Duration = Duration::from_secs(1);

/// The `child_server` process; killed if dropped before
/// [`finish`](Self::finish).
struct ChildServer {
    /// The process, until it is waited for.
    child: Option<Child>,
    /// Its standard output, after the `port` line.
    stdout: Option<BufReader<ChildStdout>>,
    /// Where it listens.
    addr: SocketAddr,
}

impl ChildServer {
    /// Starts `child_server` on `backend` with `NOFILE` descriptors and
    /// waits (at most 10 s) for its port.
    fn start(backend: Backend) -> ChildServer {
        let mut child = Command::new(env!("CARGO_BIN_EXE_child_server"))
            .args(["--backend", backend.name(), "--nofile", &NOFILE.to_string()])
            .args(["--threads", &THREADS.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start child_server");
        let stdout = child.stdout.take().expect("stdout");
        let mut server = ChildServer {
            child: Some(child),
            stdout: None,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut stdout = BufReader::new(stdout);
            let mut line = String::new();
            let _ = stdout.read_line(&mut line);
            let _ = tx.send((line, stdout));
        });
        let (line, stdout) = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("child_server did not report its port");
        let port = line
            .strip_prefix("port ")
            .and_then(|p| p.trim().parse::<u16>().ok())
            .unwrap_or_else(|| panic!("child_server said {line:?}"));
        server.addr = SocketAddr::from(([127, 0, 0, 1], port));
        server.stdout = Some(stdout);
        server
    }

    /// The process.
    fn child(&mut self) -> &mut Child {
        self.child.as_mut().expect("running")
    }

    /// Whether it is still running.
    fn is_running(&mut self) -> bool {
        self.child().try_wait().expect("try_wait").is_none()
    }

    /// Its CPU time so far (user and system), from `/proc/PID/stat`.
    fn cpu_time(&mut self) -> Duration {
        let pid = self.child().id();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read stat");
        // Fields after the command name (which may hold spaces): state is
        // field 3, utime 14, stime 15.
        let fields: Vec<&str> = stat[stat.rfind(')').expect("stat") + 2..]
            .split_whitespace()
            .collect();
        let ticks: u64 =
            fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
        let per_second = rustix::param::clock_ticks_per_second();
        Duration::from_millis(ticks * 1000 / per_second)
    }

    /// Closes its standard input (asking it to stop) and waits, at most
    /// `timeout`, for it to exit; returns its status and what it printed.
    fn finish(mut self, timeout: Duration) -> (ExitStatus, String) {
        let mut child = self.child.take().expect("running");
        drop(child.stdin.take());
        let pid = rustix::process::Pid::from_child(&child);
        let mut stdout = self.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut output = String::new();
            let _ = stdout.read_to_string(&mut output);
            let _ = tx.send((child.wait().expect("wait"), output));
        });
        match rx.recv_timeout(timeout) {
            Ok(done) => done,
            Err(_) => {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                panic!("child_server did not stop within {timeout:?}");
            }
        }
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Serves one request on a new connection.
#[track_caller]
fn assert_serves(addr: SocketAddr) {
    let mut client = Client::connect(addr);
    client.send(&get("/"));
    let response = client.response();
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.body, b"Hello, World!");
}

fn keeps_serving_when_out_of_descriptors(backend: Backend) {
    let mut server = ChildServer::start(backend);
    let addr = server.addr;
    assert_serves(addr);

    // The flood: every connection sends a request. The child accepts what
    // its descriptors allow; the rest wait in the listen backlog.
    let cpu_before = server.cpu_time();
    let started = Instant::now();
    let mut flood: Vec<TcpStream> = (0..FLOOD)
        .map(|_| {
            let mut client = Client::connect(addr);
            client.send(&get("/"));
            client.stream().try_clone().expect("clone")
        })
        .collect();
    // The watch window: time passing, not a synchronisation.
    std::thread::sleep(WINDOW.saturating_sub(started.elapsed()));
    let cpu = server.cpu_time() - cpu_before;
    let elapsed = started.elapsed();
    assert!(
        server.is_running(),
        "the child died when out of descriptors"
    );
    assert!(
        cpu < elapsed / 2,
        "the child used {cpu:?} of CPU in {elapsed:?} while out of descriptors: spinning"
    );

    // The connections it could accept were served; the others were not,
    // except on a readiness backend, which closes connections idle after
    // their answer to accept more (and so serves more than it has
    // descriptors for).
    let evicts = backend.name() == "epoll" || backend.name() == "kqueue";
    let mut served = 0;
    for stream in &mut flood {
        stream.set_nonblocking(true).expect("nonblocking");
        let mut byte = [0; 1];
        match stream.peek(&mut byte) {
            Ok(n) if n > 0 => served += 1,
            Ok(_) => panic!("a flood connection was closed"),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => panic!("a flood connection failed: {e}"),
        }
    }
    assert!(
        served > 0 && (evicts || served < NOFILE as usize),
        "{served} of {FLOOD} flood connections served with {NOFILE} descriptors"
    );

    // Descriptors free up: the child serves new connections again.
    drop(flood);
    for _ in 0..20 {
        assert_serves(addr);
    }
    assert!(server.is_running());

    let (status, output) = server.finish(Duration::from_secs(15));
    assert!(
        status.success(),
        "child_server exited with {status}: {output}"
    );
    assert!(output.starts_with("stats "), "{output:?}");
    if evicts {
        assert!(
            !output.contains("idle_evicted: 0,") && !output.contains("idle_evicted: 0 "),
            "no idle connection was closed for room: {output:?}"
        );
    }
}
