//! Static files over real sockets, on every backend: `Files` serving a
//! directory made for each test, read by a raw client (and by `curl`
//! where it is installed).
//!
//! - every status it answers: 200, 206, 301, 304, 400, 404, 405, 412, 416;
//! - the traversal vectors, hidden names, and a symbolic link out of the
//!   root;
//! - precompressed siblings chosen by `Accept-Encoding` q-values;
//! - a file replaced, rewritten or deleted on disk is served as it is now;
//! - parallel downloads of a large file arrive byte for byte.
#![cfg(unix)]

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use peregrine_core::{Request, Response, StatusCode};
use peregrine_driver::static_files::Files;
use peregrine_tests::{
    Backend, Client, Handler, Options, RawResponse, TestServer, backend_tests, get, h2c_tests,
};

backend_tests!(
    files_and_index_pages_are_served_with_their_fields,
    a_directory_without_its_slash_is_redirected,
    missing_hidden_and_escaping_files_are_not_found,
    traversal_vectors_are_refused,
    other_methods_are_not_allowed,
    validators_answer_304_and_412,
    single_ranges_are_partial_and_others_are_whole,
    precompressed_siblings_follow_q_values,
    a_file_changed_on_disk_is_served_as_it_is_now,
    a_mounted_directory_mixes_with_routes,
    curl_agrees,
    [concurrent] parallel_downloads_of_a_large_file_are_byte_exact,
);

// The exchanges that mean the same over HTTP/2.
h2c_tests!(
    files_and_index_pages_are_served_with_their_fields,
    a_directory_without_its_slash_is_redirected,
    missing_hidden_and_escaping_files_are_not_found,
    traversal_vectors_are_refused,
    other_methods_are_not_allowed,
    validators_answer_304_and_412,
    single_ranges_are_partial_and_others_are_whole,
    precompressed_siblings_follow_q_values,
    a_file_changed_on_disk_is_served_as_it_is_now,
    a_mounted_directory_mixes_with_routes,
    parallel_downloads_of_a_large_file_are_byte_exact,
);

/// Bytes of the large file: several megabytes, not a multiple of any
/// buffer on the way.
const BIG_LEN: usize = 3 * 1024 * 1024 + 4321;

/// Byte `i` of the large file: no short period a misplaced chunk could
/// hide behind.
fn big_byte(i: usize) -> u8 {
    (i.wrapping_mul(2_654_435_761) >> 13) as u8 ^ (i >> 16) as u8
}

/// The text of `/hello.txt`.
const HELLO: &[u8] = b"Hello, static world!\n";

/// A site on disk for one test, removed when dropped: `root` is served,
/// `outside` is next to it, where links from inside lead.
struct Site {
    /// The directory of both.
    base: PathBuf,
    /// The served directory.
    root: PathBuf,
}

impl Site {
    /// Lays out the site for test `name` on `backend`.
    fn new(backend: Backend, name: &str) -> Site {
        let base = std::env::temp_dir().join(format!(
            "peregrine-static-{}-{}-{name}",
            std::process::id(),
            backend.name()
        ));
        let _ = std::fs::remove_dir_all(&base);
        let root = base.join("root");
        let outside = base.join("outside");
        for dir in [&root, &outside, &root.join("docs"), &root.join(".git")] {
            std::fs::create_dir_all(dir).expect("create the site");
        }
        let write = |path: &Path, bytes: &[u8]| std::fs::write(path, bytes).expect("write");
        write(&root.join("index.html"), b"<h1>home</h1>");
        write(&root.join("hello.txt"), HELLO);
        write(&root.join("docs/index.html"), b"<h1>docs</h1>");
        write(&root.join("data.json"), b"{\"a\":1}");
        write(&root.join("blob.unknownext"), b"\x00\x01");
        write(&root.join("empty.txt"), b"");
        write(&root.join(".secret"), b"hidden");
        write(&root.join(".git/config"), b"hidden too");
        write(&root.join("style.css"), b"body { color: red }");
        write(&root.join("style.css.br"), b"BROTLI");
        write(&root.join("style.css.zst"), b"ZSTANDARD");
        write(&root.join("style.css.gz"), b"GZIP");
        write(&outside.join("secret.txt"), b"outside the root");
        let big: Vec<u8> = (0..BIG_LEN).map(big_byte).collect();
        write(&root.join("big.bin"), &big);
        std::os::unix::fs::symlink(outside.join("secret.txt"), root.join("escape.txt"))
            .expect("symlink");
        std::os::unix::fs::symlink(&outside, root.join("escape-dir")).expect("symlink");
        std::os::unix::fs::symlink(root.join("hello.txt"), root.join("inside.txt"))
            .expect("symlink");
        std::os::unix::fs::symlink(root.join(".git/config"), root.join("to-hidden.txt"))
            .expect("symlink");
        Site { base, root }
    }

    /// `Files` over the site's root, with the defaults.
    fn files(&self) -> Files {
        Files::new(&self.root).expect("the root exists")
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

/// A server of the site's files with the default settings.
fn serve(backend: Backend, site: &Site) -> TestServer {
    TestServer::start(backend, site.files())
}

/// `GET path` with extra header lines (each ending in CRLF).
fn get_with(path: &str, fields: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: t\r\n{fields}\r\n").into_bytes()
}

/// The response to one request with `fields` on a connection of its own.
fn fetch(server: &TestServer, method: &str, path: &str, fields: &str) -> RawResponse {
    let mut client = server.connect();
    client.send(format!("{method} {path} HTTP/1.1\r\nHost: t\r\n{fields}\r\n").as_bytes());
    if method == "HEAD" {
        client.head_response()
    } else {
        client.response()
    }
}

/// A header's value, which must be there.
#[track_caller]
fn header<'a>(response: &'a RawResponse, name: &str) -> &'a str {
    response
        .header(name)
        .unwrap_or_else(|| panic!("no {name} in {response:?}"))
}

fn files_and_index_pages_are_served_with_their_fields(backend: Backend) {
    let site = Site::new(backend, "fields");
    let server = serve(backend, &site);
    let mut client = server.connect();
    client.send(&get("/hello.txt"));
    let hello = client.response();
    assert_eq!(hello.status, 200);
    assert_eq!(hello.body, HELLO);
    assert_eq!(header(&hello, "content-type"), "text/plain; charset=utf-8");
    assert_eq!(header(&hello, "accept-ranges"), "bytes");
    assert_eq!(header(&hello, "vary"), "Accept-Encoding");
    assert!(hello.header("content-encoding").is_none());
    assert!(hello.header("cache-control").is_none());
    let etag = header(&hello, "etag");
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    let modified = httpdate_parse(header(&hello, "last-modified")).expect("an HTTP-date");
    let on_disk = std::fs::metadata(site.root.join("hello.txt"))
        .unwrap()
        .modified()
        .unwrap();
    let gap = on_disk
        .duration_since(modified)
        .expect("not later than the file");
    assert!(gap < Duration::from_secs(1), "{gap:?}");

    // HEAD: the same fields, no body.
    client.send(b"HEAD /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    let head = client.head_response();
    assert_eq!(head.status, 200);
    assert_eq!(head.content_length(), Some(HELLO.len() as u64));
    assert_eq!(header(&head, "etag"), etag);

    for (path, body, content_type) in [
        ("/", &b"<h1>home</h1>"[..], "text/html; charset=utf-8"),
        ("/docs/", b"<h1>docs</h1>", "text/html; charset=utf-8"),
        (
            "/docs/index.html",
            b"<h1>docs</h1>",
            "text/html; charset=utf-8",
        ),
        (
            "/data.json",
            b"{\"a\":1}",
            "application/json; charset=utf-8",
        ),
        ("/blob.unknownext", b"\x00\x01", "application/octet-stream"),
        ("/big.bin", b"", "application/octet-stream"),
        ("/empty.txt", b"", "text/plain; charset=utf-8"),
        ("/inside.txt", HELLO, "text/plain; charset=utf-8"),
        (
            "/./docs//index.html",
            b"<h1>docs</h1>",
            "text/html; charset=utf-8",
        ),
        ("/hello%2Etxt", HELLO, "text/plain; charset=utf-8"),
    ] {
        let request = if path == "/big.bin" {
            b"HEAD /big.bin HTTP/1.1\r\nHost: t\r\n\r\n".to_vec()
        } else {
            get(path)
        };
        client.send(&request);
        let response = if path == "/big.bin" {
            client.head_response()
        } else {
            client.response()
        };
        assert_eq!(response.status, 200, "{path}");
        assert_eq!(response.body, body, "{path}");
        assert_eq!(header(&response, "content-type"), content_type, "{path}");
    }
    server.stop();
}

/// Parses an IMF-fixdate with the core's parser.
fn httpdate_parse(value: &str) -> Option<SystemTime> {
    peregrine_core::date::parse_http_date(value.as_bytes())
        .map(|secs| SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

fn a_directory_without_its_slash_is_redirected(backend: Backend) {
    let site = Site::new(backend, "redirect");
    let server = serve(backend, &site);
    let mut client = server.connect();
    for (path, location) in [
        ("/docs", "/docs/"),
        ("/docs?lang=en&x=1", "/docs/?lang=en&x=1"),
        ("/d%6fcs", "/d%6fcs/"),
    ] {
        client.send(&get(path));
        let response = client.response();
        assert_eq!(response.status, 301, "{path}");
        assert_eq!(header(&response, "location"), location);
    }
    client.send(b"HEAD /docs HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(client.head_response().status, 301);
    server.stop();
}

fn missing_hidden_and_escaping_files_are_not_found(backend: Backend) {
    let site = Site::new(backend, "missing");
    let server = serve(backend, &site);
    let mut client = server.connect();
    for path in [
        "/missing.txt",
        "/docs/missing/",
        "/hello.txt/",
        "/.secret",
        "/.git/config",
        "/.git/",
        "/%2egit/config",
        "/escape.txt",
        "/escape-dir/secret.txt",
        "/escape-dir",
        "/to-hidden.txt",
        "/style.css.br/x",
    ] {
        client.send(&get(path));
        let response = client.response();
        assert_eq!(response.status, 404, "{path}");
        assert_eq!(response.body, b"not found\n", "{path}");
    }
    // The same site with hidden names allowed.
    let server = TestServer::start(backend, site.files().hidden(true));
    let mut client = server.connect();
    client.send(&get("/.secret"));
    assert_eq!(client.response().body, b"hidden");
    client.send(&get("/to-hidden.txt"));
    assert_eq!(client.response().body, b"hidden too");
    client.send(&get("/escape.txt"));
    assert_eq!(client.response().status, 404, "still outside the root");
    server.stop();
}

fn traversal_vectors_are_refused(backend: Backend) {
    let site = Site::new(backend, "traversal");
    let server = serve(backend, &site);
    for path in [
        "/../outside/secret.txt",
        "/docs/../../outside/secret.txt",
        "/%2e%2e/outside/secret.txt",
        "/%2E%2E/outside/secret.txt",
        "/..%2foutside%2fsecret.txt",
        "/.%2e/outside/secret.txt",
        "/%2e./outside/secret.txt",
        "/docs%2f..%2f..%2foutside",
        "/..%5coutside%5csecret.txt",
        "/docs%5cindex.html",
        "/hello.txt%00.png",
        "/%00",
        "/C:/Windows/win.ini",
        "/c:hello.txt",
        "/%ZZ",
    ] {
        let mut client = server.connect();
        client.send(&get(path));
        let response = client.response();
        assert_eq!(response.status, 400, "{path}: {response:?}");
        assert!(!response.body.windows(7).any(|w| w == b"outside"), "{path}");
    }
    server.stop();
}

fn other_methods_are_not_allowed(backend: Backend) {
    let site = Site::new(backend, "methods");
    let server = serve(backend, &site);
    let mut client = server.connect();
    for request in [
        &b"POST /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi"[..],
        b"PUT /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
        b"DELETE /docs/ HTTP/1.1\r\nHost: t\r\n\r\n",
        b"OPTIONS /docs HTTP/1.1\r\nHost: t\r\n\r\n",
    ] {
        client.send(request);
        let response = client.response();
        assert_eq!(response.status, 405, "{}", String::from_utf8_lossy(request));
        assert_eq!(header(&response, "allow"), "GET, HEAD");
    }
    // Not a file: not the server's to refuse.
    client.send(b"POST /missing HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(client.response().status, 404);
    server.stop();
}

fn validators_answer_304_and_412(backend: Backend) {
    let site = Site::new(backend, "validators");
    let server = serve(backend, &site);
    let first = fetch(&server, "GET", "/hello.txt", "");
    let etag = header(&first, "etag").to_owned();
    let modified = header(&first, "last-modified").to_owned();
    let mut client = server.connect();
    let cases: &[(String, u16)] = &[
        (format!("If-None-Match: {etag}\r\n"), 304),
        (format!("If-None-Match: W/{etag}\r\n"), 304),
        (format!("If-None-Match: \"x\", {etag}\r\n"), 304),
        ("If-None-Match: *\r\n".to_owned(), 304),
        ("If-None-Match: \"x\"\r\n".to_owned(), 200),
        (format!("If-Modified-Since: {modified}\r\n"), 304),
        (
            "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n".to_owned(),
            200,
        ),
        ("If-Modified-Since: not a date\r\n".to_owned(), 200),
        (
            format!("If-None-Match: \"x\"\r\nIf-Modified-Since: {modified}\r\n"),
            200,
        ),
        (format!("If-Match: {etag}\r\n"), 200),
        ("If-Match: *\r\n".to_owned(), 200),
        ("If-Match: \"x\"\r\n".to_owned(), 412),
        (format!("If-Match: W/{etag}\r\n"), 412),
        (format!("If-Unmodified-Since: {modified}\r\n"), 200),
        (
            "If-Unmodified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n".to_owned(),
            412,
        ),
        (format!("If-Match: \"x\"\r\nIf-None-Match: {etag}\r\n"), 412),
    ];
    for (fields, status) in cases {
        client.send(&get_with("/hello.txt", fields));
        let response = client.response();
        assert_eq!(response.status, *status, "{fields}");
        match status {
            304 => {
                assert_eq!(header(&response, "etag"), etag);
                assert_eq!(header(&response, "last-modified"), modified);
                assert!(response.header("content-length").is_none());
                assert!(response.body.is_empty());
            }
            200 => assert_eq!(response.body, HELLO),
            _ => {}
        }
    }
    // HEAD is conditional too.
    client.send(
        format!("HEAD /hello.txt HTTP/1.1\r\nHost: t\r\nIf-None-Match: {etag}\r\n\r\n").as_bytes(),
    );
    assert_eq!(client.head_response().status, 304);
    server.stop();
}

fn single_ranges_are_partial_and_others_are_whole(backend: Backend) {
    let site = Site::new(backend, "ranges");
    let server = serve(backend, &site);
    let len = HELLO.len();
    let etag = header(&fetch(&server, "GET", "/hello.txt", ""), "etag").to_owned();
    let modified = header(&fetch(&server, "GET", "/hello.txt", ""), "last-modified").to_owned();
    let mut client = server.connect();
    let partial =
        |range: &str, start: usize, end: usize| (format!("Range: {range}\r\n"), 206, start, end);
    let cases = [
        partial("bytes=0-4", 0, 5),
        partial("bytes=7-", 7, len),
        partial("bytes=-7", len - 7, len),
        partial("bytes=3-3", 3, 4),
        partial("bytes=10-100000", 10, len),
        partial("bytes=-1000", 0, len),
        (
            format!("Range: bytes=0-1\r\nIf-Range: {etag}\r\n"),
            206,
            0,
            2,
        ),
        (
            format!("Range: bytes=0-1\r\nIf-Range: {modified}\r\n"),
            206,
            0,
            2,
        ),
        (
            "Range: bytes=0-1\r\nIf-Range: \"other\"\r\n".to_owned(),
            200,
            0,
            len,
        ),
        (
            "Range: bytes=0-1\r\nIf-Range: Thu, 01 Jan 1970 00:00:00 GMT\r\n".to_owned(),
            200,
            0,
            len,
        ),
        ("Range: bytes=0-1, 4-5\r\n".to_owned(), 200, 0, len),
        ("Range: bytes=5-1\r\n".to_owned(), 200, 0, len),
        ("Range: lines=1-2\r\n".to_owned(), 200, 0, len),
    ];
    for (fields, status, start, end) in cases {
        client.send(&get_with("/hello.txt", &fields));
        let response = client.response();
        assert_eq!(response.status, status, "{fields}");
        assert_eq!(response.body, &HELLO[start..end], "{fields}");
        assert_eq!(header(&response, "accept-ranges"), "bytes");
        if status == 206 {
            assert_eq!(
                header(&response, "content-range"),
                format!("bytes {start}-{}/{len}", end - 1),
                "{fields}"
            );
        } else {
            assert!(response.header("content-range").is_none(), "{fields}");
        }
    }
    for range in ["bytes=100-", "bytes=21-30", "bytes=-0", "bytes=50-60, 70-"] {
        client.send(&get_with("/hello.txt", &format!("Range: {range}\r\n")));
        let response = client.response();
        assert_eq!(response.status, 416, "{range}");
        assert_eq!(header(&response, "content-range"), format!("bytes */{len}"));
    }
    // A range of the large file, through sendfile from an offset.
    client.send(&get_with("/big.bin", "Range: bytes=1000000-1099999\r\n"));
    let response = client.response();
    assert_eq!(response.status, 206);
    assert!(
        response
            .body
            .iter()
            .zip(1_000_000..)
            .all(|(&b, i)| b == big_byte(i))
    );
    assert_eq!(response.body.len(), 100_000);
    server.stop();
}

fn precompressed_siblings_follow_q_values(backend: Backend) {
    let site = Site::new(backend, "precompressed");
    let server = serve(backend, &site);
    let mut client = server.connect();
    let identity = &b"body { color: red }"[..];
    let mut etags = Vec::new();
    for (accept, body, encoding) in [
        ("", identity, None),
        (
            "Accept-Encoding: gzip, deflate, br, zstd\r\n",
            &b"BROTLI"[..],
            Some("br"),
        ),
        (
            "Accept-Encoding: gzip;q=1.0, br;q=0.5\r\n",
            b"GZIP",
            Some("gzip"),
        ),
        (
            "Accept-Encoding: br;q=0, gzip;q=0.5, zstd;q=0.8\r\n",
            b"ZSTANDARD",
            Some("zstd"),
        ),
        ("Accept-Encoding: identity, gzip;q=0.5\r\n", identity, None),
        (
            "Accept-Encoding: br;q=0, zstd;q=0, gzip;q=0\r\n",
            identity,
            None,
        ),
        ("Accept-Encoding: *\r\n", b"BROTLI", Some("br")),
        (
            "Accept-Encoding: *;q=0.1, br;q=0\r\n",
            b"ZSTANDARD",
            Some("zstd"),
        ),
        ("Accept-Encoding: x-gzip\r\n", b"GZIP", Some("gzip")),
        ("Accept-Encoding: deflate\r\n", identity, None),
    ] {
        client.send(&get_with("/style.css", accept));
        let response = client.response();
        assert_eq!(response.status, 200, "{accept}");
        assert_eq!(response.body, body, "{accept}");
        assert_eq!(response.header("content-encoding"), encoding, "{accept}");
        assert_eq!(header(&response, "vary"), "Accept-Encoding");
        assert_eq!(header(&response, "content-type"), "text/css; charset=utf-8");
        let etag = header(&response, "etag").to_owned();
        if !etags.iter().any(|(known, _)| *known == etag) {
            etags.push((etag, encoding));
        }
    }
    assert_eq!(etags.len(), 4, "one ETag per representation: {etags:?}");
    // Validators are the representation's: the brotli ETag revalidates
    // the brotli file, not the plain one.
    let br_etag = &etags.iter().find(|(_, e)| *e == Some("br")).unwrap().0;
    let ae = "Accept-Encoding: br\r\n";
    client.send(&get_with(
        "/style.css",
        &format!("{ae}If-None-Match: {br_etag}\r\n"),
    ));
    assert_eq!(client.response().status, 304);
    client.send(&get_with(
        "/style.css",
        &format!("If-None-Match: {br_etag}\r\n"),
    ));
    assert_eq!(client.response().body, identity);
    // A range of a sibling is a range of its bytes.
    client.send(&get_with(
        "/style.css",
        &format!("{ae}Range: bytes=0-1\r\n"),
    ));
    let response = client.response();
    assert_eq!((response.status, &response.body[..]), (206, &b"BR"[..]));
    // A file without siblings is sent as it is.
    client.send(&get_with("/hello.txt", ae));
    let response = client.response();
    assert_eq!(response.body, HELLO);
    assert!(response.header("content-encoding").is_none());
    // A sibling is not served by its own name's rules: it is a file.
    client.send(&get("/style.css.br"));
    assert_eq!(client.response().body, b"BROTLI");
    server.stop();

    // Without precompression, the file itself and no Vary.
    let server = TestServer::start(backend, site.files().precompressed(false));
    let response = fetch(&server, "GET", "/style.css", "Accept-Encoding: br\r\n");
    assert_eq!(response.body, identity);
    assert!(response.header("vary").is_none());
    server.stop();
}

fn a_file_changed_on_disk_is_served_as_it_is_now(backend: Backend) {
    let site = Site::new(backend, "changed");
    let server = serve(backend, &site);
    let path = site.root.join("page.txt");
    std::fs::write(&path, b"first version").unwrap();
    let mut client = server.connect();
    client.send(&get("/page.txt"));
    let first = client.response();
    assert_eq!(first.body, b"first version");

    // Replaced by a rename: another inode.
    let next = site.root.join("page.txt.new");
    std::fs::write(&next, b"second version, longer").unwrap();
    std::fs::rename(&next, &path).unwrap();
    client.send(&get("/page.txt"));
    let second = client.response();
    assert_eq!(second.body, b"second version, longer");
    assert_ne!(header(&second, "etag"), header(&first, "etag"));

    // Rewritten in place, same length, another modification time.
    {
        let mut file = File::options().write(true).open(&path).unwrap();
        file.write_all(b"THIRD VERSION, LONGER!").unwrap();
        file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000))
            .unwrap();
    }
    client.send(&get("/page.txt"));
    let third = client.response();
    assert_eq!(third.body, b"THIRD VERSION, LONGER!");
    assert_ne!(header(&third, "etag"), header(&second, "etag"));
    assert_eq!(
        header(&third, "last-modified"),
        "Sun, 09 Sep 2001 01:46:40 GMT"
    );
    // The old validator no longer matches.
    let old = header(&second, "etag").to_owned();
    client.send(&get_with("/page.txt", &format!("If-None-Match: {old}\r\n")));
    assert_eq!(client.response().status, 200);

    // Deleted.
    std::fs::remove_file(&path).unwrap();
    client.send(&get("/page.txt"));
    assert_eq!(client.response().status, 404);
    // And back.
    std::fs::write(&path, b"fourth").unwrap();
    client.send(&get("/page.txt"));
    assert_eq!(client.response().body, b"fourth");
    server.stop();
}

/// Routes of its own, then files under `/static`, then its own `404`.
struct App {
    /// The files.
    files: Files,
}

impl Handler for App {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
        if request.path() == b"/health" {
            return response.body_static(b"ok");
        }
        if !self.files.serve(request, response) {
            response.status(StatusCode::NOT_FOUND);
            response.body_static(b"app 404");
        }
    }
}

fn a_mounted_directory_mixes_with_routes(backend: Backend) {
    let site = Site::new(backend, "mounted");
    let files = site
        .files()
        .mount("/static/")
        .cache_control_prefix("/docs/", "no-cache")
        .unwrap()
        .cache_control_extension("css", "max-age=60")
        .unwrap()
        .cache_control("max-age=5")
        .unwrap();
    let server = TestServer::start(backend, App { files });
    let mut client = server.connect();
    let mut check = |path: &str, status: u16, body: &[u8]| {
        client.send(&get(path));
        let response = client.response();
        assert_eq!(
            (response.status, &response.body[..]),
            (status, body),
            "{path}"
        );
        response
    };
    check("/health", 200, b"ok");
    let hello = check("/static/hello.txt", 200, HELLO);
    assert_eq!(header(&hello, "cache-control"), "max-age=5");
    let docs = check("/static/docs/", 200, b"<h1>docs</h1>");
    assert_eq!(header(&docs, "cache-control"), "no-cache");
    let css = check("/static/style.css", 200, b"body { color: red }");
    assert_eq!(header(&css, "cache-control"), "max-age=60");
    check("/hello.txt", 404, b"app 404");
    check("/statichello.txt", 404, b"app 404");
    check("/static/missing", 404, b"app 404");
    let moved = check("/static", 301, b"moved permanently\n");
    assert_eq!(header(&moved, "location"), "/static/");
    check("/static/", 200, b"<h1>home</h1>");
    server.stop();
}

fn curl_agrees(backend: Backend) {
    let curl_found = Command::new("curl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !curl_found {
        eprintln!("curl is not installed: skipping its part");
        return;
    }
    let site = Site::new(backend, "curl");
    let server = serve(backend, &site);
    let curl = |args: &[&str]| {
        let output = Command::new("curl")
            .args(["--silent", "--show-error", "--max-time", "10"])
            .args(args)
            .output()
            .expect("run curl");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    };
    let big = server.url("/big.bin");
    let body = curl(&[&big]);
    assert_eq!(body.len(), BIG_LEN);
    assert!(body.iter().enumerate().all(|(i, &b)| b == big_byte(i)));
    let part = curl(&["--range", "1000-1999", &big]);
    assert!(part.iter().zip(1000..).all(|(&b, i)| b == big_byte(i)));
    assert_eq!(part.len(), 1000);
    let head = String::from_utf8(curl(&[
        "--head",
        "--header",
        "Accept-Encoding: br;q=1, gzip;q=0.5",
        &server.url("/style.css"),
    ]))
    .unwrap()
    .to_ascii_lowercase();
    assert!(head.contains("content-encoding: br\r\n"), "{head}");
    assert!(head.contains("content-length: 6\r\n"), "{head}");
    let status = String::from_utf8(curl(&[
        "--output",
        "/dev/null",
        "--write-out",
        "%{http_code} %{redirect_url}",
        &server.url("/docs?a=b"),
    ]))
    .unwrap();
    assert_eq!(status, format!("301 {}", server.url("/docs/?a=b")));
    server.stop();
}

fn parallel_downloads_of_a_large_file_are_byte_exact(backend: Backend) {
    /// Downloads at once.
    const PARALLEL: usize = 20;
    let site = Site::new(backend, "parallel");
    let options = Options {
        threads: PARALLEL + 4,
        ..Options::default()
    };
    let server = TestServer::start_with(backend, options, site.files());
    let addr = server.addr();
    let downloads: Vec<_> = (0..PARALLEL)
        .map(|i| {
            std::thread::spawn(move || {
                let mut client = Client::connect(addr);
                // Every other one asks for a range, so that offsets other
                // than 0 are in flight too.
                if i % 2 == 0 {
                    client.send(&get("/big.bin"));
                    let response = client.response();
                    assert_eq!(response.status, 200);
                    response.body.len() == BIG_LEN
                        && response
                            .body
                            .iter()
                            .enumerate()
                            .all(|(i, &b)| b == big_byte(i))
                } else {
                    let start = i * 12_345;
                    client.send(&get_with("/big.bin", &format!("Range: bytes={start}-\r\n")));
                    let response = client.response();
                    assert_eq!(response.status, 206);
                    response.body.len() == BIG_LEN - start
                        && response
                            .body
                            .iter()
                            .zip(start..)
                            .all(|(&b, i)| b == big_byte(i))
                }
            })
        })
        .collect();
    for (i, download) in downloads.into_iter().enumerate() {
        assert!(download.join().expect("a download"), "download {i} differs");
    }
    server.stop();
}
