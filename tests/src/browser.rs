//! A real headless Chromium, driven through the Chrome DevTools Protocol
//! (CDP), for tests that need a browser at the other end: pages that load
//! from a test server, run their scripts, and answer JavaScript.
//!
//! - [`find_chromium`] finds the browser (`PEREGRINE_CHROMIUM`, or
//!   `chromium`, `chromium-browser`, `google-chrome`,
//!   `google-chrome-stable` in `PATH`), and [`required`] says whether a
//!   missing one is a failure (`PEREGRINE_REQUIRE_BROWSER=1`, as CI sets)
//!   or a reason to skip;
//! - [`Browser::launch`] starts it headless with a fresh profile and
//!   connects to its DevTools endpoint; dropping the [`Browser`] kills it
//!   and removes the profile;
//! - [`Browser::open`] opens a page and waits for its `load` event, and
//!   [`Browser::eval`] evaluates JavaScript in it (awaiting promises) and
//!   returns the result as JSON.
//!
//! A [`Page`] is a small handle: a test can hold several and evaluate in
//! any of them, one call at a time, through the browser.
//!
//! Every wait is bounded: the browser has [`LAUNCH_TIMEOUT`] to report its
//! endpoint, a page [`LOAD_TIMEOUT`] to load, other commands
//! [`COMMAND_TIMEOUT`], and [`Browser::eval`] the timeout it is given.
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use peregrine_tests::browser::{self, Browser};
//!
//! let Some(chromium) = browser::find_chromium() else {
//!     assert!(!browser::required(), "no Chromium found");
//!     eprintln!("skipped: no Chromium found");
//!     return;
//! };
//! let mut browser = Browser::launch(&chromium).unwrap();
//! let alice = browser.open("http://127.0.0.1:8080/").unwrap();
//! let bob = browser.open("http://127.0.0.1:8080/").unwrap();
//! let timeout = Duration::from_secs(5);
//! browser.eval(&alice, "send('hi')", timeout).unwrap();
//! let seen = browser
//!     .eval(&bob, "waitForMessage().then(m => m.text)", timeout)
//!     .unwrap();
//! assert_eq!(seen, "hi");
//! ```

use std::collections::{HashMap, VecDeque};
use std::env;
use std::ffi::OsStr;
use std::fs;
use std::io::{self, BufRead, BufReader};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tungstenite::{Message, WebSocket};

/// How long [`Browser::launch`] waits for the browser to report its
/// DevTools endpoint (a cold start on a loaded CI machine can take
/// seconds).
pub const LAUNCH_TIMEOUT: Duration = Duration::from_secs(30);

/// How long [`Browser::open`] waits for a page to load.
pub const LOAD_TIMEOUT: Duration = Duration::from_secs(30);

/// How long any other DevTools command waits for its answer.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// The executables [`find_chromium`] looks for in `PATH`, in this order.
pub const CHROMIUM_NAMES: &[&str] = &[
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
];

/// At most this many unclaimed protocol events are kept (the oldest go
/// first), so a chatty page cannot grow the buffer without bound.
const MAX_BUFFERED_EVENTS: usize = 1024;

/// At most this many of the browser's last stderr lines are quoted when it
/// fails to start.
const STDERR_TAIL: usize = 20;

/// What Chromium prints on stderr once its DevTools endpoint is listening.
const LISTENING: &str = "DevTools listening on ";

/// The browser to use: the path in `PEREGRINE_CHROMIUM` if that is set
/// (as given, even if nothing is there: [`Browser::launch`] then says so),
/// else the first of [`CHROMIUM_NAMES`] found in `PATH`; `None` if there is
/// none.
pub fn find_chromium() -> Option<PathBuf> {
    if let Some(path) = env::var_os("PEREGRINE_CHROMIUM").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let path = env::var_os("PATH")?;
    CHROMIUM_NAMES.iter().find_map(|name| {
        env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| is_executable(candidate))
    })
}

/// Whether a missing browser is a failure rather than a reason to skip:
/// true when `PEREGRINE_REQUIRE_BROWSER` is `1`, as CI sets it.
pub fn required() -> bool {
    env::var_os("PEREGRINE_REQUIRE_BROWSER").is_some_and(|v| v == "1")
}

/// Whether `path` is a file this process may execute.
fn is_executable(path: &Path) -> bool {
    match fs::metadata(path) {
        #[cfg(unix)]
        Ok(meta) => {
            use std::os::unix::fs::PermissionsExt;
            meta.is_file() && meta.permissions().mode() & 0o111 != 0
        }
        #[cfg(not(unix))]
        Ok(meta) => meta.is_file(),
        Err(_) => false,
    }
}

/// A page open in a [`Browser`]: the handle [`Browser::eval`] takes. It is
/// only an identifier; the browser owns the page, and closing it
/// ([`Browser::close_page`]) or dropping the browser ends it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Page {
    /// The page's target, as `Target.createTarget` named it.
    target_id: String,
    /// The flat DevTools session attached to it.
    session_id: String,
}

impl Page {
    /// The page's DevTools target id.
    pub fn target_id(&self) -> &str {
        &self.target_id
    }
}

/// A headless Chromium started by [`Browser::launch`], with a DevTools
/// connection to it. Dropping it kills the browser (every process it
/// started), waits for it, and removes its profile directory.
pub struct Browser {
    /// The browser-wide DevTools connection. Declared first so that it is
    /// closed before the process is killed.
    socket: WebSocket<TcpStream>,
    /// The command id the next command gets.
    next_id: u64,
    /// Events read while waiting for something else, oldest first.
    events: VecDeque<Value>,
    /// The page sessions that ended (closed, or their renderer crashed),
    /// with why: commands to them fail at once rather than wait for an
    /// answer that will not come.
    gone: HashMap<String, &'static str>,
    /// The running browser and its profile, held to be killed and removed
    /// when the browser is dropped.
    _process: Process,
}

impl Browser {
    /// Starts the browser at `path` headless, with a fresh profile in a new
    /// temporary directory, and connects to its DevTools endpoint.
    ///
    /// The endpoint is read from the `DevTools listening on ws://…` line
    /// Chromium prints on stderr (waiting at most [`LAUNCH_TIMEOUT`]); the
    /// rest of stderr is read and discarded, so the browser never blocks
    /// on a full pipe. The flags make it run as root in a container with
    /// no display, no GPU and a small `/dev/shm`, and keep it from
    /// throttling pages in background tabs (a test drives several pages at
    /// once) or reaching out to the network on its own.
    ///
    /// # Errors
    ///
    /// If the browser cannot be started, exits or stays silent before
    /// reporting its endpoint (the error quotes the end of its stderr), or
    /// the DevTools connection fails.
    pub fn launch(path: impl AsRef<Path>) -> io::Result<Browser> {
        let path = path.as_ref();
        let mut process = Process::start(path)?;
        let url = process.devtools_url(path)?;
        let socket = connect(&url)?;
        Ok(Browser {
            socket,
            next_id: 1,
            events: VecDeque::new(),
            gone: HashMap::new(),
            _process: process,
        })
    }

    /// The browser's product and version, e.g. `Chrome/148.0.7778.167`
    /// (`HeadlessChrome/…` in the old headless mode).
    ///
    /// # Errors
    ///
    /// If the DevTools command fails or times out.
    pub fn version(&mut self) -> io::Result<String> {
        let version = self.call(None, "Browser.getVersion", json!({}), COMMAND_TIMEOUT)?;
        Ok(version["product"].as_str().unwrap_or("unknown").to_owned())
    }

    /// Opens `url` in a new page and waits (at most [`LOAD_TIMEOUT`]) for
    /// its `load` event: its document and everything it loads (scripts,
    /// images, …) are in, and its scripts have run.
    ///
    /// The page is created blank, attached to, and only then navigated, so
    /// the wait is for the load of this navigation (matched by its loader
    /// id), never for the blank page's.
    ///
    /// # Errors
    ///
    /// If the page cannot be created, the navigation fails (the error
    /// carries Chromium's reason, e.g. `net::ERR_CONNECTION_REFUSED`), or
    /// the page does not load in time. The page is closed on error.
    pub fn open(&mut self, url: &str) -> io::Result<Page> {
        let deadline = Instant::now() + LOAD_TIMEOUT;
        let created = self.call(
            None,
            "Target.createTarget",
            json!({ "url": "about:blank" }),
            COMMAND_TIMEOUT,
        )?;
        let target_id = string_field(&created, "targetId", "Target.createTarget")?;
        let result = self.attach_and_load(&target_id, url, deadline);
        if result.is_err() {
            let _ = self.call(
                None,
                "Target.closeTarget",
                json!({ "targetId": target_id }),
                COMMAND_TIMEOUT,
            );
        }
        result
    }

    /// Attaches to the blank page `target_id` and navigates it to `url`,
    /// waiting for the load until `deadline`.
    fn attach_and_load(
        &mut self,
        target_id: &str,
        url: &str,
        deadline: Instant,
    ) -> io::Result<Page> {
        let attached = self.call(
            None,
            "Target.attachToTarget",
            json!({ "targetId": target_id, "flatten": true }),
            COMMAND_TIMEOUT,
        )?;
        let page = Page {
            target_id: target_id.to_owned(),
            session_id: string_field(&attached, "sessionId", "Target.attachToTarget")?,
        };
        let session = Some(page.session_id.as_str());
        self.call(session, "Page.enable", json!({}), COMMAND_TIMEOUT)?;
        self.call(
            session,
            "Page.setLifecycleEventsEnabled",
            json!({ "enabled": true }),
            COMMAND_TIMEOUT,
        )?;
        let navigated = self.call(
            session,
            "Page.navigate",
            json!({ "url": url }),
            remaining(deadline),
        )?;
        if let Some(error) = navigated["errorText"].as_str().filter(|e| !e.is_empty()) {
            return Err(io::Error::other(format!("cannot open {url}: {error}")));
        }
        // A navigation within the document (a new fragment) has no loader
        // and no load event: the page is already loaded.
        if let Some(loader) = navigated["loaderId"].as_str() {
            let frame = navigated["frameId"].as_str();
            let what = format!("the load of {url}");
            self.wait_event(&page.session_id, deadline, &what, |event| {
                event["sessionId"].as_str() == session
                    && event["method"] == "Page.lifecycleEvent"
                    && event["params"]["name"] == "load"
                    && event["params"]["loaderId"] == loader
                    && event["params"]["frameId"].as_str() == frame
            })?;
        }
        // Nothing waits for this page's events any more: stop them, and
        // drop those already read.
        self.call(session, "Page.disable", json!({}), COMMAND_TIMEOUT)?;
        self.events
            .retain(|event| event["sessionId"].as_str() != session);
        Ok(page)
    }

    /// Evaluates the JavaScript `expression` in `page` and returns its value
    /// as JSON, waiting at most `timeout`. A promise is awaited and its
    /// fulfilment value returned.
    ///
    /// `undefined` comes back as `null`; values JSON cannot hold (`NaN`,
    /// `Infinity`, `-0`, big integers) as strings (`"NaN"`, `"123n"`);
    /// objects as JSON objects (what `JSON.stringify` would keep).
    ///
    /// # Errors
    ///
    /// If the expression throws or its promise rejects (the error's message
    /// is the exception, e.g. `Uncaught Error: boom`, with its stack), if it
    /// does not settle within `timeout` ([`io::ErrorKind::TimedOut`]), or if
    /// the page is closed or crashes ([`io::ErrorKind::NotConnected`]). A
    /// late answer to a timed-out evaluation is recognised and ignored by
    /// later calls.
    pub fn eval(&mut self, page: &Page, expression: &str, timeout: Duration) -> io::Result<Value> {
        let mut evaluated = self.call(
            Some(&page.session_id),
            "Runtime.evaluate",
            json!({
                "expression": expression,
                "awaitPromise": true,
                "returnByValue": true,
            }),
            timeout,
        )?;
        if let Some(details) = evaluated.get("exceptionDetails") {
            return Err(io::Error::other(format!(
                "JavaScript exception: {}",
                exception_text(details)
            )));
        }
        let result = evaluated.get_mut("result").map_or(Value::Null, Value::take);
        if let Some(unserializable) = result["unserializableValue"].as_str() {
            return Ok(Value::String(unserializable.to_owned()));
        }
        Ok(result.get("value").cloned().unwrap_or(Value::Null))
    }

    /// Closes `page`. Evaluating in it afterwards fails.
    ///
    /// # Errors
    ///
    /// If the DevTools command fails (e.g. the page is already closed) or
    /// times out.
    pub fn close_page(&mut self, page: &Page) -> io::Result<()> {
        self.call(
            None,
            "Target.closeTarget",
            json!({ "targetId": page.target_id }),
            COMMAND_TIMEOUT,
        )?;
        self.gone.insert(page.session_id.clone(), "was closed");
        self.events
            .retain(|event| event["sessionId"].as_str() != Some(&page.session_id));
        Ok(())
    }

    /// Sends the command `method` with `params` (to the page session
    /// `session`, or to the browser) and returns its result, reading until
    /// its answer arrives, `timeout` passes or the session ends. Events
    /// read meanwhile are kept for [`wait_event`](Self::wait_event);
    /// answers to earlier commands that timed out are dropped.
    fn call(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> io::Result<Value> {
        let deadline = Instant::now() + timeout;
        self.check_session(session, method)?;
        let id = self.next_id;
        self.next_id += 1;
        let mut command = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            command["sessionId"] = Value::from(session);
        }
        self.socket
            .send(Message::text(command.to_string()))
            .map_err(|e| ws_error(e, &format!("sending {method}")))?;
        loop {
            let mut message = self.receive(deadline, method)?;
            match message["id"].as_u64() {
                Some(answered) if answered == id => {
                    if let Some(error) = message.get("error") {
                        return Err(io::Error::other(format!("{method} failed: {error}")));
                    }
                    return Ok(message.get_mut("result").map_or(Value::Null, Value::take));
                }
                Some(_) => {} // The answer to an earlier command that timed out.
                None => self.keep_event(message),
            }
            // A command to a page that closes or crashes meanwhile is
            // never answered.
            self.check_session(session, method)?;
        }
    }

    /// Fails if the page session `session` has ended.
    fn check_session(&self, session: Option<&str>, what: &str) -> io::Result<()> {
        match session.and_then(|s| self.gone.get(s)) {
            Some(why) => Err(io::Error::new(
                io::ErrorKind::NotConnected,
                format!("{what}: the page {why}"),
            )),
            None => Ok(()),
        }
    }

    /// Returns the first event (kept or newly read) that `matches`,
    /// reading until `deadline` or until the page session `session` ends;
    /// `what` names the event in errors.
    fn wait_event(
        &mut self,
        session: &str,
        deadline: Instant,
        what: &str,
        mut matches: impl FnMut(&Value) -> bool,
    ) -> io::Result<Value> {
        if let Some(i) = self.events.iter().position(&mut matches) {
            return Ok(self.events.remove(i).expect("position is in bounds"));
        }
        loop {
            let message = self.receive(deadline, what)?;
            if message.get("id").is_some() {
                continue; // The answer to an earlier command that timed out.
            }
            if matches(&message) {
                return Ok(message);
            }
            self.keep_event(message);
            self.check_session(Some(session), what)?;
        }
    }

    /// Keeps `event` for a later [`wait_event`](Self::wait_event), dropping
    /// the oldest if there are too many, and notes sessions that end.
    fn keep_event(&mut self, event: Value) {
        let ended = match event["method"].as_str() {
            Some("Target.detachedFromTarget") => {
                Some((&event["params"]["sessionId"], "was closed"))
            }
            Some("Inspector.targetCrashed") => Some((&event["sessionId"], "crashed")),
            _ => None,
        };
        if let Some((Value::String(session), why)) = ended {
            self.gone.entry(session.clone()).or_insert(why);
        }
        if self.events.len() == MAX_BUFFERED_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(event);
    }

    /// Reads the next protocol message, waiting at most until `deadline`
    /// (`what` names what is awaited, for the timeout error).
    fn receive(&mut self, deadline: Instant, what: &str) -> io::Result<Value> {
        loop {
            let left = remaining(deadline);
            if left.is_zero() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("timed out waiting for {what}"),
                ));
            }
            // A zero read timeout is refused: wait at least a millisecond.
            self.socket
                .get_ref()
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
            let bytes = match self.socket.read() {
                Ok(Message::Text(text)) => text.as_bytes().to_vec(),
                Ok(Message::Binary(bytes)) => bytes.to_vec(),
                Ok(Message::Close(frame)) => {
                    return Err(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        format!("the browser closed the DevTools connection ({frame:?})"),
                    ));
                }
                // Pings are answered by tungstenite itself.
                Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => continue,
                // The read timeout: tungstenite keeps what it has read of a
                // message and resumes on the next read.
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    continue;
                }
                Err(e) => return Err(ws_error(e, &format!("waiting for {what}"))),
            };
            return serde_json::from_slice(&bytes).map_err(|e| {
                let text = String::from_utf8_lossy(&bytes);
                io::Error::other(format!("invalid DevTools message: {e}: {text}"))
            });
        }
    }
}

/// The running browser process and its profile directory: killed (with
/// every process it started) and removed when dropped.
struct Process {
    /// The browser (the process group leader, on Unix).
    child: Child,
    /// Its `--user-data-dir`.
    profile: PathBuf,
    /// From the thread reading its stderr: the lines until it reports its
    /// endpoint, then the endpoint; `Closed` if stderr closes first.
    stderr: mpsc::Receiver<Stderr>,
}

/// What the thread reading the browser's stderr reports.
enum Stderr {
    /// A line (while the endpoint is not known yet).
    Line(String),
    /// The DevTools endpoint's WebSocket URL.
    Listening(String),
    /// Stderr closed before the endpoint was reported.
    Closed,
}

impl Process {
    /// Starts the browser at `path` with a fresh profile.
    fn start(path: &Path) -> io::Result<Process> {
        let profile = fresh_temp_dir()?;
        let mut command = Command::new(path);
        command
            .args([
                // No display needed, nor a GPU.
                "--headless=new",
                "--disable-gpu",
                // Root in a container: Chromium refuses to run as root
                // with its sandbox, which containers rarely allow anyway.
                "--no-sandbox",
                // Containers' /dev/shm is often 64 MiB: use /tmp instead.
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                // A free port, reported on stderr; loopback only.
                "--remote-debugging-port=0",
                "--remote-debugging-address=127.0.0.1",
                // Background tabs run their timers at full speed.
                "--disable-background-timer-throttling",
                "--disable-backgrounding-occluded-windows",
                "--disable-renderer-backgrounding",
                // Nothing but the pages under test on the network, nothing
                // in the profile beyond what they store.
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-default-apps",
                "--disable-extensions",
                "--disable-sync",
                "--disable-breakpad",
                "--metrics-recording-only",
                "--password-store=basic",
                "--use-mock-keychain",
                "--mute-audio",
            ])
            .arg(flag("--user-data-dir=", &profile))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        // A process group of its own, so that dropping kills the renderers
        // and helpers too, not only the browser process.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(e) => {
                let _ = fs::remove_dir_all(&profile);
                return Err(io::Error::new(
                    e.kind(),
                    format!("cannot start {}: {e}", path.display()),
                ));
            }
        };
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, rx) = mpsc::channel();
        let process = Process {
            child,
            profile,
            stderr: rx,
        };
        thread::Builder::new()
            .name("chromium-stderr".into())
            .spawn(move || read_stderr(stderr, tx))?;
        Ok(process)
    }

    /// Waits (at most [`LAUNCH_TIMEOUT`]) for the browser at `path` to
    /// report its DevTools WebSocket URL.
    fn devtools_url(&mut self, path: &Path) -> io::Result<String> {
        let deadline = Instant::now() + LAUNCH_TIMEOUT;
        let mut tail = VecDeque::new();
        let failure = loop {
            match self.stderr.recv_timeout(remaining(deadline)) {
                Ok(Stderr::Listening(url)) => return Ok(url),
                Ok(Stderr::Line(line)) => {
                    if tail.len() == STDERR_TAIL {
                        tail.pop_front();
                    }
                    tail.push_back(line);
                }
                Ok(Stderr::Closed) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                    // Not `wait`: a browser that closed its stderr but runs
                    // on would block it.
                    let status = match self.child.try_wait()? {
                        Some(status) => {
                            format!("exited ({status}) before reporting its DevTools endpoint")
                        }
                        None => "closed its stderr (exiting) before reporting its DevTools \
                                 endpoint"
                            .to_owned(),
                    };
                    break (io::ErrorKind::Other, status);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    break (
                        io::ErrorKind::TimedOut,
                        format!("did not report its DevTools endpoint within {LAUNCH_TIMEOUT:?}"),
                    );
                }
            }
        };
        let tail = match Vec::from(tail) {
            tail if tail.is_empty() => "nothing on its stderr".to_owned(),
            tail => format!("the end of its stderr:\n{}", tail.join("\n")),
        };
        Err(io::Error::new(
            failure.0,
            format!("{} {}; {tail}", path.display(), failure.1),
        ))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        #[cfg(unix)]
        {
            use rustix::process::{Pid, Signal, kill_process_group};
            let _ = kill_process_group(Pid::from_child(&self.child), Signal::KILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A helper process killed in the middle of creating a file may
        // still finish creating it: try again if the first pass left some.
        for _ in 0..3 {
            match fs::remove_dir_all(&self.profile) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => continue,
                _ => break,
            }
        }
    }
}

/// Reads the browser's `stderr` line by line: sends each line and the
/// endpoint once it is reported, then reads the rest without sending, until
/// the browser (and every process that inherited its stderr) is gone.
fn read_stderr(stderr: impl io::Read, tx: mpsc::Sender<Stderr>) {
    let mut reader = BufReader::new(stderr);
    let mut line = Vec::new();
    let mut reported = false;
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) if reported => {}
            Ok(_) => {
                let text = String::from_utf8_lossy(&line).trim_end().to_owned();
                let message = match text.strip_prefix(LISTENING) {
                    Some(url) => {
                        reported = true;
                        Stderr::Listening(url.trim().to_owned())
                    }
                    None => Stderr::Line(text),
                };
                let _ = tx.send(message);
            }
        }
    }
    if !reported {
        let _ = tx.send(Stderr::Closed);
    }
}

/// Opens the DevTools WebSocket at `url` (`ws://127.0.0.1:port/devtools/…`).
fn connect(url: &str) -> io::Result<WebSocket<TcpStream>> {
    let invalid = || io::Error::other(format!("unexpected DevTools URL {url:?}"));
    let authority = url
        .strip_prefix("ws://")
        .and_then(|rest| rest.split('/').next())
        .ok_or_else(invalid)?;
    let addr = authority.to_socket_addrs()?.next().ok_or_else(invalid)?;
    let stream = TcpStream::connect_timeout(&addr, COMMAND_TIMEOUT)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(COMMAND_TIMEOUT))?;
    stream.set_write_timeout(Some(COMMAND_TIMEOUT))?;
    match tungstenite::client(url, stream) {
        Ok((socket, _)) => Ok(socket),
        Err(tungstenite::HandshakeError::Failure(e)) => Err(ws_error(e, "the DevTools handshake")),
        Err(tungstenite::HandshakeError::Interrupted(_)) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the DevTools handshake timed out",
        )),
    }
}

/// A new, empty directory under the system's temporary directory.
fn fresh_temp_dir() -> io::Result<PathBuf> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = env::temp_dir().join(format!(
            "peregrine-chromium-{}-{n}-{nanos}",
            std::process::id()
        ));
        match fs::create_dir(&dir) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            result => return result.map(|()| dir),
        }
    }
}

/// `prefix` followed by `path`, as one argument.
fn flag(prefix: &str, path: &Path) -> std::ffi::OsString {
    let mut flag = OsStr::new(prefix).to_owned();
    flag.push(path);
    flag
}

/// The time left until `deadline` (zero once it has passed).
fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

/// The string `field` of the result of `method`.
fn string_field(result: &Value, field: &str, method: &str) -> io::Result<String> {
    result[field]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| io::Error::other(format!("{method} returned no {field}: {result}")))
}

/// A readable account of a `Runtime.ExceptionDetails`: `Uncaught` (or
/// `Uncaught (in promise)`) and the exception's description (an `Error`'s
/// stack) or value.
fn exception_text(details: &Value) -> String {
    let text = details["text"].as_str().unwrap_or("Uncaught");
    let exception = &details["exception"];
    match (exception["description"].as_str(), exception.get("value")) {
        (Some(description), _) => format!("{text} {description}"),
        (None, Some(value)) => format!("{text} {value}"),
        (None, None) => format!(
            "{text} at line {}, column {}",
            details["lineNumber"], details["columnNumber"]
        ),
    }
}

/// `e` as an [`io::Error`], with `context`.
fn ws_error(e: tungstenite::Error, context: &str) -> io::Error {
    match e {
        tungstenite::Error::Io(e) => io::Error::new(e.kind(), format!("{context}: {e}")),
        e => io::Error::other(format!("{context}: {e}")),
    }
}
