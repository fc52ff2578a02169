//! File bodies over real sockets, on every backend: `sendfile` on the
//! readiness backends, positioned reads and writes on the portable one.
//! Every byte is compared, the file being larger than any buffer on the
//! way.
//!
//! - A response owns its file (`SendFile::send_file`): a handler opens it
//!   and forgets it, and it is closed once the response is done with it:
//!   sent, cut short by the client leaving, or never sent (`HEAD`). Each
//!   end is reported once to `Handler::finished`.
//! - Pipelined requests that each open a file get each their own file's
//!   bytes (a descriptor closed early and reused would send another's).
//! - A file shorter than its region closes the connection at once rather
//!   than leaving the client waiting for the write timeout (over HTTP/1.1;
//!   over HTTP/2 its stream alone is reset: `h2_files.rs`).
#![cfg(unix)]

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use peregrine_core::{FileRegion, Finished, Outcome, Request, Response};
use peregrine_driver::files::SendFile;
use peregrine_tests::{Backend, Client, Handler, TestServer, backend_tests, get, h2c_tests};

backend_tests!(
    a_file_and_part_of_it_arrive_byte_for_byte,
    pipelined_requests_each_get_their_own_file,
    an_owned_file_closes_once_sent_and_its_end_is_reported,
    a_head_request_closes_the_file_unsent,
    a_client_leaving_mid_file_closes_it_and_reports_the_abort,
    a_borrowed_region_is_sent_too,
    a_file_shorter_than_its_region_closes_the_connection_at_once,
    a_region_past_the_end_of_the_file_closes_the_connection_at_once,
);

// The exchanges that mean the same over HTTP/2. A file shorter than its
// region ends only its stream there, not the connection: see
// `h2_files.rs`.
h2c_tests!(
    a_file_and_part_of_it_arrive_byte_for_byte,
    pipelined_requests_each_get_their_own_file,
    an_owned_file_closes_once_sent_and_its_end_is_reported,
    a_head_request_closes_the_file_unsent,
    a_borrowed_region_is_sent_too,
);

/// Bytes of the file: well over the 16 KiB write buffer and the 64 KiB
/// the portable backend reads at a time, and not a multiple of either.
const FILE_LEN: u64 = 1024 * 1024 + 12_345;

/// Bytes of the huge file (sparse: it takes no room on disk), far more
/// than the sockets on the way buffer.
const HUGE_LEN: u64 = 1 << 30;

/// Bytes a region claims past the end of the file.
const PAST_THE_END: u64 = 100_000;

/// How long the server may take to close a connection whose file ended
/// early: far below the 30 s write timeout it would otherwise wait for.
const CLOSE_BOUND: Duration = Duration::from_secs(3);

/// Byte `i` of the file: no period that a buffer size could hide a
/// misplaced chunk behind.
fn file_byte(i: u64) -> u8 {
    (i.wrapping_mul(2_654_435_761) >> 13) as u8 ^ (i >> 16) as u8
}

/// The file's contents.
fn contents() -> Vec<u8> {
    (0..FILE_LEN).map(file_byte).collect()
}

/// A file of the test's own in the temporary directory, removed when
/// dropped.
struct TempFile {
    /// Where it is.
    path: PathBuf,
}

impl TempFile {
    /// Writes `bytes` to a new file named after `name` and the process.
    fn new(name: &str, bytes: &[u8]) -> TempFile {
        let path =
            std::env::temp_dir().join(format!("peregrine-send-file-{}-{name}", std::process::id()));
        File::create(&path)
            .and_then(|mut file| file.write_all(bytes))
            .expect("write the test file");
        TempFile { path }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The tag of responses whose file the test watches.
const WATCHED: u64 = 7;

/// Serves regions of files it opens for each request and gives to the
/// response, which closes them:
///
/// - `/whole`: all of the file;
/// - `/part`: from byte 1,000 to 1,000 before the end;
/// - `/other`: all of the other file;
/// - `/watched`: all of the file, shared with the test through a weak
///   reference (which dies when the server closes the file), and tagged
///   [`WATCHED`] so that its end is reported;
/// - `/watched-huge`: all of a file of [`HUGE_LEN`] bytes, as
///   `/watched`;
/// - `/borrowed`: all of the file, as a region of a descriptor open for
///   the server's life;
/// - `/past-the-end`: all of it and [`PAST_THE_END`] bytes more;
/// - `/beyond`: 100 bytes from 10 bytes past the end;
/// - anything else: `ok`.
struct Files {
    /// The file's path.
    path: PathBuf,
    /// The other file's path.
    other: PathBuf,
    /// The huge file's path.
    huge: PathBuf,
    /// The file, open for the server's life, for `/borrowed`.
    open: File,
    /// Weak references to the files of `/watched` responses.
    watched: Arc<Mutex<Vec<Weak<File>>>>,
    /// Where the ends of tagged responses are reported.
    ends: Mutex<Sender<Finished>>,
}

/// What the test sees of a server of `Files`.
struct Watch {
    /// Weak references to the files of `/watched` responses.
    watched: Arc<Mutex<Vec<Weak<File>>>>,
    /// The ends reported by `Handler::finished`.
    ends: Receiver<Finished>,
}

impl Watch {
    /// The next end reported, within 10 s.
    #[track_caller]
    fn next_end(&self) -> Finished {
        self.ends
            .recv_timeout(Duration::from_secs(10))
            .expect("a response's end reported")
    }

    /// How many files given to `/watched` responses are still open.
    fn open_files(&self) -> usize {
        let watched = self.watched.lock().unwrap();
        watched
            .iter()
            .filter(|file| file.strong_count() > 0)
            .count()
    }
}

impl Files {
    /// A new handle on the file.
    fn file(&self) -> File {
        File::open(&self.path).expect("open the test file")
    }
}

impl Handler for Files {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
        match request.path() {
            b"/whole" => response.send_file(self.file()),
            b"/part" => response.send_file_range(self.file(), 1000, FILE_LEN - 2000),
            b"/other" => response.send_file(File::open(&self.other).expect("open")),
            b"/watched" => {
                let file = Arc::new(self.file());
                self.watched.lock().unwrap().push(Arc::downgrade(&file));
                response.set_tag(WATCHED).send_file(file);
            }
            b"/borrowed" => {
                let handle = self.open.as_raw_fd() as u64;
                // SAFETY: `open` stays open for the server's life, longer
                // than any response.
                let region = unsafe { FileRegion::borrowed(handle, 0, FILE_LEN) };
                response.send_file_region(region);
            }
            b"/watched-huge" => {
                let file = Arc::new(File::open(&self.huge).expect("open"));
                self.watched.lock().unwrap().push(Arc::downgrade(&file));
                response.set_tag(WATCHED).send_file(file);
            }
            b"/past-the-end" => response.send_file_range(self.file(), 0, FILE_LEN + PAST_THE_END),
            b"/beyond" => response.send_file_range(self.file(), FILE_LEN + 10, 100),
            _ => response.body_static(b"ok"),
        }
    }

    fn finished(&self, finished: Finished, _: &mut ()) {
        let _ = self.ends.lock().unwrap().send(finished);
    }
}

/// A server of `Files` over new files named after `name`, the files, and
/// what the test sees of it.
fn start(backend: Backend, name: &str) -> (TestServer, [TempFile; 3], Watch) {
    let temp = TempFile::new(&format!("{}-{name}", backend.name()), &contents());
    let other = TempFile::new(
        &format!("{}-{name}-other", backend.name()),
        &other_contents(),
    );
    let huge = TempFile::new(&format!("{}-{name}-huge", backend.name()), b"");
    File::options()
        .write(true)
        .open(&huge.path)
        .and_then(|file| file.set_len(HUGE_LEN))
        .expect("size the huge file");
    let (ends, reported) = channel();
    let watched = Arc::new(Mutex::new(Vec::new()));
    let files = Files {
        path: temp.path.clone(),
        other: other.path.clone(),
        huge: huge.path.clone(),
        open: File::open(&temp.path).expect("open the test file"),
        watched: Arc::clone(&watched),
        ends: Mutex::new(ends),
    };
    let watch = Watch {
        watched,
        ends: reported,
    };
    (
        TestServer::start(backend, files),
        [temp, other, huge],
        watch,
    )
}

/// The other file's contents: as long as the first, every byte different.
fn other_contents() -> Vec<u8> {
    contents().iter().map(|byte| !byte).collect()
}

fn a_file_and_part_of_it_arrive_byte_for_byte(backend: Backend) {
    let (server, _files, _) = start(backend, "whole");
    let expected = contents();
    let mut client = server.connect();
    // One connection throughout: each response ends exactly where its
    // region does, or the next would not parse.
    client.send(&get("/whole"));
    let whole = client.response();
    assert_eq!(whole.status, 200);
    assert_eq!(whole.content_length(), Some(FILE_LEN));
    assert!(whole.body == expected, "the whole file differs");
    client.send(&get("/part"));
    let part = client.response();
    assert_eq!(part.content_length(), Some(FILE_LEN - 2000));
    assert!(
        part.body == expected[1000..expected.len() - 1000],
        "the part differs"
    );
    client.send(&get("/"));
    assert_eq!(client.response().body, b"ok");
    // A HEAD gets the length and no body.
    client.send(b"HEAD /whole HTTP/1.1\r\nHost: t\r\n\r\n");
    let head = client.head_response();
    assert_eq!(head.content_length(), Some(FILE_LEN));
    client.send(&get("/"));
    assert_eq!(client.response().body, b"ok");
    server.stop();
}

fn pipelined_requests_each_get_their_own_file(backend: Backend) {
    let (server, _files, _) = start(backend, "pipelined");
    let mut client = server.connect();
    // Each handler opens its file and lets go of it before the first
    // byte is sent: were it closed then, the second request's file could
    // take the first one's descriptor number.
    client.send(&[get("/whole"), get("/other"), get("/whole")].concat());
    let (first, other) = (contents(), other_contents());
    assert!(client.response().body == first, "the first file differs");
    assert!(client.response().body == other, "the other file differs");
    assert!(client.response().body == first, "the third file differs");
    server.stop();
}

fn an_owned_file_closes_once_sent_and_its_end_is_reported(backend: Backend) {
    let (server, _files, watch) = start(backend, "owned");
    let mut client = server.connect();
    for _ in 0..2 {
        client.send(&get("/watched"));
        assert!(client.response().body == contents());
        let end = watch.next_end();
        assert_eq!((end.tag, end.outcome), (WATCHED, Outcome::Sent));
        // The file was closed before its end was reported.
        assert_eq!(watch.open_files(), 0);
    }
    // A file body is reported whatever its tag; a copied body with no
    // tag is not.
    client.send(&get("/whole"));
    assert!(client.response().body == contents());
    let end = watch.next_end();
    assert_eq!((end.tag, end.outcome), (0, Outcome::Sent));
    client.send(&get("/"));
    assert_eq!(client.response().body, b"ok");
    server.stop();
    assert!(
        watch.ends.try_recv().is_err(),
        "a response without state reported its end"
    );
}

fn a_head_request_closes_the_file_unsent(backend: Backend) {
    let (server, _files, watch) = start(backend, "head");
    let mut client = server.connect();
    client.send(b"HEAD /watched HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(client.head_response().content_length(), Some(FILE_LEN));
    let end = watch.next_end();
    assert_eq!((end.tag, end.outcome), (WATCHED, Outcome::NotSent));
    assert_eq!(watch.open_files(), 0);
    server.stop();
}

fn a_client_leaving_mid_file_closes_it_and_reports_the_abort(backend: Backend) {
    let (server, _files, watch) = start(backend, "aborted");
    let mut client = server.connect();
    client.send(&get("/watched-huge"));
    let head = client.response_head();
    assert_eq!(head.content_length(), Some(HUGE_LEN));
    // Gone with far more unread than the sockets' buffers hold: the
    // server's writes fail.
    drop(client);
    let end = watch.next_end();
    assert_eq!((end.tag, end.outcome), (WATCHED, Outcome::Aborted));
    assert_eq!(watch.open_files(), 0);
    server.stop();
}

fn a_borrowed_region_is_sent_too(backend: Backend) {
    let (server, _files, _) = start(backend, "borrowed");
    let mut client = server.connect();
    client.send(&get("/borrowed"));
    assert!(client.response().body == contents());
    server.stop();
}

/// Reads what follows a response head until the server closes, which it
/// must within [`CLOSE_BOUND`] of `since`; returns the bytes read.
#[track_caller]
fn read_until_closed(client: &mut Client, since: Instant) -> Vec<u8> {
    let mut body = Vec::new();
    let mut buf = vec![0; 64 * 1024];
    loop {
        let left = CLOSE_BOUND.saturating_sub(since.elapsed());
        assert!(
            !left.is_zero(),
            "still open {CLOSE_BOUND:?} after the request, {} bytes in",
            body.len()
        );
        client
            .stream()
            .set_read_timeout(Some(left))
            .expect("timeout");
        match client.read(&mut buf) {
            Ok(0) => return body,
            Ok(n) => body.extend_from_slice(&buf[..n]),
            Err(error) if error.kind() == io::ErrorKind::ConnectionReset => return body,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => panic!(
                "not closed within {CLOSE_BOUND:?} ({error}), {} bytes in",
                body.len()
            ),
        }
    }
}

fn a_file_shorter_than_its_region_closes_the_connection_at_once(backend: Backend) {
    let (server, _files, _) = start(backend, "short");
    let expected = contents();
    let mut client = server.connect();
    let sent = Instant::now();
    client.send(&get("/past-the-end"));
    let head = client.response_head();
    assert_eq!(head.status, 200);
    assert_eq!(head.content_length(), Some(FILE_LEN + PAST_THE_END));
    let body = read_until_closed(&mut client, sent);
    // What came is the file, as far as it goes (a reset may cut it).
    assert!(body.len() as u64 <= FILE_LEN, "{} bytes", body.len());
    assert!(body == expected[..body.len()], "the bytes sent differ");
    // The server goes on serving.
    let mut client = server.connect();
    client.send(&get("/"));
    assert_eq!(client.response().body, b"ok");
    assert_eq!(server.stop().files_cut_short, 1);
}

fn a_region_past_the_end_of_the_file_closes_the_connection_at_once(backend: Backend) {
    let (server, _files, _) = start(backend, "beyond");
    let mut client = server.connect();
    let sent = Instant::now();
    client.send(&get("/beyond"));
    let head = client.response_head();
    assert_eq!(head.content_length(), Some(100));
    let body = read_until_closed(&mut client, sent);
    assert!(body.is_empty(), "{} bytes", body.len());
    assert_eq!(server.stop().files_cut_short, 1);
}
