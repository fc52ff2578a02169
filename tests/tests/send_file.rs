//! File regions sent with `Response::send_file`, over real sockets, on
//! every backend: `sendfile` on the readiness backends, positioned reads
//! and writes on the portable one. Every byte is compared, the file being
//! larger than any buffer on the way; a file shorter than its region
//! closes the connection at once rather than leaving the client waiting
//! for the write timeout.
#![cfg(unix)]

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use peregrine_core::{FileRegion, Request, Response};
use peregrine_tests::{Backend, Client, Handler, TestServer, backend_tests, get};

backend_tests!(
    a_file_and_part_of_it_arrive_byte_for_byte,
    a_file_shorter_than_its_region_closes_the_connection_at_once,
    a_region_past_the_end_of_the_file_closes_the_connection_at_once,
);

/// Bytes of the file: well over the 16 KiB write buffer and the 64 KiB
/// the portable backend reads at a time, and not a multiple of either.
const FILE_LEN: u64 = 1024 * 1024 + 12_345;

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

/// Serves regions of one file, open for the server's life (so its
/// descriptor outlives every response that names it):
///
/// - `/whole`: all of it;
/// - `/part`: from byte 1,000 to 1,000 before the end;
/// - `/past-the-end`: all of it and [`PAST_THE_END`] bytes more;
/// - `/beyond`: 100 bytes from 10 bytes past the end;
/// - anything else: `ok`.
struct Files {
    /// The file.
    file: File,
}

impl Files {
    /// The region of `len` bytes from `offset`.
    fn region(&self, offset: u64, len: u64) -> FileRegion {
        FileRegion {
            handle: self.file.as_raw_fd() as u64,
            offset,
            len,
        }
    }
}

impl Handler for Files {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
        match request.path() {
            b"/whole" => response.send_file(self.region(0, FILE_LEN)),
            b"/part" => response.send_file(self.region(1000, FILE_LEN - 2000)),
            b"/past-the-end" => response.send_file(self.region(0, FILE_LEN + PAST_THE_END)),
            b"/beyond" => response.send_file(self.region(FILE_LEN + 10, 100)),
            _ => response.body_static(b"ok"),
        }
    }
}

/// A server of `Files` over a new file named after `name`, and the file.
fn start(backend: Backend, name: &str) -> (TestServer, TempFile) {
    let temp = TempFile::new(&format!("{}-{name}", backend.name()), &contents());
    let file = File::open(&temp.path).expect("open the test file");
    (TestServer::start(backend, Files { file }), temp)
}

fn a_file_and_part_of_it_arrive_byte_for_byte(backend: Backend) {
    let (server, _file) = start(backend, "whole");
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
    let (server, _file) = start(backend, "short");
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
    let (server, _file) = start(backend, "beyond");
    let mut client = server.connect();
    let sent = Instant::now();
    client.send(&get("/beyond"));
    let head = client.response_head();
    assert_eq!(head.content_length(), Some(100));
    let body = read_until_closed(&mut client, sent);
    assert!(body.is_empty(), "{} bytes", body.len());
    assert_eq!(server.stop().files_cut_short, 1);
}
