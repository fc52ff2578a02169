//! File bodies over HTTP/2 (h2c with prior knowledge, the `h2` crate as
//! the client) that turn out shorter than their head said: the file is
//! truncated on disk once its length was announced. Only the stream of
//! that file ends, reset with INTERNAL_ERROR, never completed: the other
//! streams of the connection, files among them, arrive whole, the
//! connection serves new streams after, and each cut is counted as over
//! HTTP/1.1 (`files_cut_short`). On the readiness backend (`sendfile`)
//! and the portable one (positioned reads).
#![cfg(unix)]

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::LazyLock;

use peregrine_core::{Config, H2c, Handler, Request, Response};
use peregrine_driver::files::SendFile;
use peregrine_tests::{Backend, Options, TestServer};

#[path = "common/h2_client.rs"]
mod h2_client;

use h2_client::{connect, get, read, request, run};

/// Bytes of each file: many DATA frames (16,384 bytes each at most).
const FILE_LEN: u64 = 300_000;

/// Where `/cut-early` truncates its file: in the middle of a frame, long
/// before the end.
const EARLY_CUT: u64 = 100_000;

/// Where `/cut-late` truncates its file: one byte short, within its last
/// frame.
const LATE_CUT: u64 = FILE_LEN - 1;

/// The most zeros that may complete the frame the end of a file cut
/// short: the rest of one frame.
const MAX_FILLER: usize = 16_384;

/// The static body served beside the files: 1 MiB.
const STATIC_LEN: usize = 1 << 20;

/// Byte `i` of the files and of the static body.
fn byte(i: u64) -> u8 {
    (i.wrapping_mul(2_654_435_761) >> 13) as u8 ^ (i >> 16) as u8
}

/// The first `len` bytes of the pattern.
fn pattern(len: u64) -> Vec<u8> {
    (0..len).map(byte).collect()
}

/// The static body.
static STATIC: LazyLock<Vec<u8>> = LazyLock::new(|| pattern(STATIC_LEN as u64));

/// Serves, each from a file it writes for the request in `dir`:
///
/// - `/whole`: all of a file of [`FILE_LEN`] bytes;
/// - `/cut-early`: the same, its file truncated to [`EARLY_CUT`] bytes
///   once the response owns it;
/// - `/cut-late`: the same, truncated to [`LATE_CUT`] bytes;
/// - `/past-the-end`: 100 bytes from 10 bytes past the end of a file;
///
/// `/static` is a 1 MiB body in memory, anything else `ok`.
struct Files {
    /// Where the files are written.
    dir: PathBuf,
}

impl Files {
    /// A new file named `name` holding [`FILE_LEN`] bytes of the pattern,
    /// open for reading and writing.
    fn file(&self, name: &str) -> File {
        let path = self.dir.join(name);
        File::create(&path)
            .and_then(|mut file| file.write_all(&pattern(FILE_LEN)))
            .expect("write the file");
        File::options()
            .read(true)
            .write(true)
            .open(&path)
            .expect("open the file")
    }

    /// Sends the whole file `name`, then truncates it to `cut` bytes.
    fn send_then_cut(&self, response: &mut Response<'_>, name: &str, cut: u64) {
        let file = self.file(name);
        let cutter = file.try_clone().expect("a second handle");
        response.send_file(file);
        cutter.set_len(cut).expect("truncate the file");
    }
}

impl Handler for Files {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
        match request.path() {
            b"/whole" => response.send_file(self.file("whole")),
            b"/cut-early" => self.send_then_cut(response, "early", EARLY_CUT),
            b"/cut-late" => self.send_then_cut(response, "late", LATE_CUT),
            b"/past-the-end" => response.send_file_range(self.file("past"), FILE_LEN + 10, 100),
            b"/static" => response.body_static(&STATIC),
            _ => response.body_static(b"ok"),
        }
    }
}

/// A directory of the test's own, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let path =
            std::env::temp_dir().join(format!("peregrine-h2-files-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&path).expect("make the directory");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// How a response's body ended.
enum Ended {
    /// With END_STREAM: the bytes.
    Whole(Vec<u8>),
    /// Reset by the server with this code, after these bytes.
    Reset(h2::Reason, Vec<u8>),
}

impl std::fmt::Debug for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ended::Whole(bytes) => write!(f, "whole after {} bytes", bytes.len()),
            Ended::Reset(reason, bytes) => {
                write!(f, "reset ({reason}) after {} bytes", bytes.len())
            }
        }
    }
}

/// Reads the answer to `response`: its status, `content-length` and how
/// its body ended.
async fn read_to_end(response: h2::client::ResponseFuture) -> (u16, Option<u64>, Ended) {
    let response = response.await.expect("a response head");
    let status = response.status().as_u16();
    let length = response
        .headers()
        .get("content-length")
        .and_then(|value| value.to_str().ok()?.parse().ok());
    let mut body = response.into_body();
    let mut bytes = Vec::new();
    while let Some(chunk) = body.data().await {
        match chunk {
            Ok(chunk) => {
                let _ = body.flow_control().release_capacity(chunk.len());
                bytes.extend_from_slice(&chunk);
            }
            Err(error) => {
                let reason = error
                    .reason()
                    .filter(|_| error.is_reset() && error.is_remote())
                    .unwrap_or_else(|| panic!("not a reset by the server: {error}"));
                return (status, length, Ended::Reset(reason, bytes));
            }
        }
    }
    (status, length, Ended::Whole(bytes))
}

/// A body cut short at `cut`: the file's bytes up to there, then no more
/// than the zeros that complete the frame, then a reset with
/// INTERNAL_ERROR.
#[track_caller]
fn assert_cut(ended: &Ended, from: u64, cut: u64) {
    let Ended::Reset(reason, bytes) = ended else {
        panic!("a body cut short ended whole: {ended:?}");
    };
    assert_eq!(*reason, h2::Reason::INTERNAL_ERROR);
    let real = (cut.saturating_sub(from) as usize).min(bytes.len());
    let expected: Vec<u8> = (from..from + real as u64).map(byte).collect();
    assert!(
        bytes[..real] == expected[..],
        "the bytes before the cut differ"
    );
    let filler = &bytes[real..];
    assert!(
        filler.len() < MAX_FILLER && filler.iter().all(|&b| b == 0),
        "{} bytes after the cut",
        filler.len()
    );
}

/// Three files cut short (early, in their last frame, and a region past
/// the end) among a whole file and a static body, all on one connection
/// at once: only the three streams end, each reset; the others arrive
/// byte for byte; the connection then serves a new stream.
fn a_file_cut_short_resets_its_stream_alone(backend: Backend) {
    let dir = TempDir::new(backend.name());
    let options = Options {
        config: Config {
            h2c: H2c::Beside,
            ..Config::DEFAULT
        },
        ..Options::default()
    };
    let server = TestServer::start_with(backend, options, Files { dir: dir.0.clone() });
    let addr = server.addr();
    run(async move {
        let mut client = connect(addr).await;
        let mut answers = Vec::new();
        for path in [
            "/whole",
            "/static",
            "/cut-early",
            "/cut-late",
            "/past-the-end",
        ] {
            client = client.ready().await.expect("room for a stream");
            let (response, _) = client
                .send_request(request("GET", path), true)
                .expect("send the request");
            answers.push(tokio::spawn(read_to_end(response)));
        }
        let mut ended = Vec::new();
        for answer in answers {
            ended.push(answer.await.expect("the reader"));
        }
        let [whole, fixed, early, late, past] = &ended[..] else {
            unreachable!()
        };
        assert_eq!((whole.0, whole.1), (200, Some(FILE_LEN)));
        assert!(
            matches!(&whole.2, Ended::Whole(bytes) if *bytes == pattern(FILE_LEN)),
            "the whole file"
        );
        assert_eq!((fixed.0, fixed.1), (200, Some(STATIC_LEN as u64)));
        assert!(
            matches!(&fixed.2, Ended::Whole(bytes) if *bytes == *STATIC),
            "the static body"
        );
        assert_eq!((early.0, early.1), (200, Some(FILE_LEN)));
        assert_cut(&early.2, 0, EARLY_CUT);
        assert_eq!((late.0, late.1), (200, Some(FILE_LEN)));
        assert_cut(&late.2, 0, LATE_CUT);
        assert_eq!((past.0, past.1), (200, Some(100)));
        assert_cut(&past.2, FILE_LEN + 10, 0);
        // The connection goes on.
        assert_eq!(get(&mut client, "/").await, (200, b"ok".to_vec()));
        let (response, _) = client
            .send_request(request("GET", "/whole"), true)
            .expect("send the request");
        let (status, body) = read(response).await;
        assert_eq!(status, 200);
        assert!(body == pattern(FILE_LEN), "the whole file, after");
    });
    let stats = server.stop();
    assert_eq!(stats.files_cut_short, 3, "{stats:?}");
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn a_file_cut_short_resets_its_stream_alone_epoll() {
    a_file_cut_short_resets_its_stream_alone(Backend::Epoll);
}

#[test]
fn a_file_cut_short_resets_its_stream_alone_std_pool() {
    a_file_cut_short_resets_its_stream_alone(Backend::StdPool);
}
