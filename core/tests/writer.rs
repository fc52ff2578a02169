//! Bodies written in place with `Response::writer`: byte for byte what
//! `body()` sends when they fit, `Content-Length` exactly up to the
//! writer's room, chunked (close-delimited for HTTP/1.0) through the spill
//! beyond it, `500` past the spill, and framing without a body for `HEAD`,
//! `204` and `304`.

mod support;

use std::fmt::Write as _;

use peregrine_core::{Config, Handler, Request, Response, StatusCode};
use support::{Driver, SPILL_BLOCK, SPILL_BLOCKS, Step, converse_with, gen_body};

/// Writes bodies by path, `/<how>/<delta>` or `/<how>/=<n>`: a body of
/// the writer's room plus `delta` bytes (`delta` may be negative), or of
/// exactly `n`, of [`gen_body`] bytes. `how`: `io` (`io::Write`, pieces of
/// 7 bytes, `BodyWriter::append` without the `std` feature), `fmt` (`fmt::Write`, one piece), `body` (`Response::body`,
/// for comparison); `s204`/`s304` set that status and write with `io`.
struct Writer;

/// The body length a path asks for, given the writer's room.
fn length(arg: &[u8], room: usize) -> usize {
    let arg = std::str::from_utf8(arg).unwrap();
    match arg.strip_prefix('=') {
        Some(n) => n.parse().unwrap(),
        None => (room as i64 + arg.parse::<i64>().unwrap()) as usize,
    }
}

impl Handler for Writer {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
        let path = std::str::from_utf8(request.path()).unwrap();
        let mut parts = path.trim_start_matches('/').split('/');
        let (how, arg) = (parts.next().unwrap(), parts.next().unwrap().as_bytes());
        response.header("Content-Type", "text/plain").unwrap();
        match how {
            "s204" => {
                response.status(StatusCode::NO_CONTENT);
            }
            "s304" => {
                response.status(StatusCode::NOT_MODIFIED);
            }
            _ => {}
        }
        if how == "body" {
            // The room a writer would have, measured on a scratch response
            // of the same head would be the same; `body` takes no offset.
            let body = gen_body(length(arg, 0) as u64);
            response.body(&body).unwrap();
            return;
        }
        let mut writer = response.writer();
        let body = gen_body(length(arg, writer.room()) as u64);
        let result = if how == "fmt" {
            let text = std::str::from_utf8(&body).unwrap();
            writer.write_str(text).map_err(|_| ())
        } else {
            body.chunks(7).try_for_each(|piece| put(&mut writer, piece))
        };
        if result.is_ok() {
            writer.finish().unwrap();
        }
    }
}

/// Writes `piece` through `std::io::Write` (with the `std` feature).
#[cfg(feature = "std")]
fn put(writer: &mut peregrine_core::BodyWriter<'_, '_>, piece: &[u8]) -> Result<(), ()> {
    std::io::Write::write_all(writer, piece).map_err(|_| ())
}

/// Writes `piece` with `BodyWriter::append` (without the `std` feature).
#[cfg(not(feature = "std"))]
fn put(writer: &mut peregrine_core::BodyWriter<'_, '_>, piece: &[u8]) -> Result<(), ()> {
    writer.append(piece).map_err(|_| ())
}

/// A driver with the small connection and [`Writer`].
fn driver() -> Driver<Writer, ()> {
    Driver::build(Writer, Config::DEFAULT)
}

/// Sends `request` under every schedule; returns the output.
fn converse(request: &str) -> Vec<u8> {
    let driver = converse_with(&driver, &[Step::Send(request.as_bytes())]);
    assert_eq!(driver.spill.in_use(), 0, "spill blocks still held");
    driver.out
}

/// A `GET` of `path`.
fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n")
}

/// Splits a response into its head and the rest.
fn split(wire: &[u8]) -> (String, &[u8]) {
    let end = wire.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    (
        String::from_utf8(wire[..end].to_vec()).unwrap(),
        &wire[end..],
    )
}

/// Decodes a complete chunked body, checking its framing; returns the
/// data and what followed the last chunk.
fn dechunk(mut wire: &[u8]) -> (Vec<u8>, &[u8]) {
    let mut data = Vec::new();
    loop {
        let line_end = wire.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = usize::from_str_radix(std::str::from_utf8(&wire[..line_end]).unwrap(), 16)
            .expect("a hex chunk size");
        wire = &wire[line_end + 2..];
        if size == 0 {
            assert_eq!(&wire[..2], b"\r\n", "an empty trailer section");
            return (data, &wire[2..]);
        }
        data.extend_from_slice(&wire[..size]);
        assert_eq!(&wire[size..size + 2], b"\r\n", "CRLF after the chunk data");
        wire = &wire[size + 2..];
    }
}

/// The room a writer has on the small connection for [`Writer`]'s head.
fn room() -> usize {
    let mut driver = driver();
    driver.arrive(get("/io/0").as_bytes());
    let (head, body) = split(&driver.out);
    assert!(head.contains("Content-Length"), "{head}");
    body.len()
}

#[test]
fn a_body_that_fits_is_byte_for_byte_what_body_sends() {
    for n in [0, 1, 13, 500, 1000] {
        let written = converse(&get(&format!("/io/={n}")));
        let formatted = converse(&get(&format!("/fmt/={n}")));
        let copied = converse(&get(&format!("/body/={n}")));
        assert_eq!(written, copied, "{n} bytes");
        assert_eq!(formatted, copied, "{n} bytes");
        let (head, body) = split(&written);
        assert!(head.contains(&format!("Content-Length: {n}\r\n")), "{head}");
        assert_eq!(body, gen_body(n as u64));
    }
}

#[test]
fn exactly_the_room_has_a_length_and_one_byte_more_is_chunked() {
    let room = room();
    // The free half of the 2048-byte buffer at least, less the head.
    assert!(room >= 1024 - 200, "{room}");
    for delta in [-1i64, 0] {
        let wire = converse(&get(&format!("/io/{delta}")));
        let n = (room as i64 + delta) as usize;
        let (head, body) = split(&wire);
        assert!(head.contains(&format!("Content-Length: {n}\r\n")), "{head}");
        assert_eq!(body, gen_body(n as u64));
    }
    for delta in [1, 2, 3, 1000, 5000] {
        let wire = converse(&get(&format!("/io/{delta}")));
        let (head, body) = split(&wire);
        assert!(head.contains("Transfer-Encoding: chunked\r\n"), "{head}");
        assert!(!head.contains("Content-Length"), "{head}");
        let (data, rest) = dechunk(body);
        assert_eq!(data, gen_body(room as u64 + delta), "room + {delta}");
        assert!(rest.is_empty());
    }
}

#[test]
fn the_connection_stays_open_after_a_chunked_body() {
    let request = [get("/io/3000"), get("/io/=5")].concat();
    let wire = converse(&request);
    let (head, body) = split(&wire);
    assert!(!head.contains("Connection: close"), "{head}");
    let (data, rest) = dechunk(body);
    assert_eq!(data.len(), room() + 3000);
    let (head, body) = split(rest);
    assert!(head.contains("Content-Length: 5\r\n"), "{head}");
    assert_eq!(body, gen_body(5));
}

#[test]
fn http_1_0_gets_a_body_delimited_by_the_close() {
    let wire = converse("GET /io/700 HTTP/1.0\r\n\r\n");
    let (head, body) = split(&wire);
    assert!(head.contains("Connection: close\r\n"), "{head}");
    assert!(!head.contains("Content-Length") && !head.contains("Transfer-Encoding"));
    assert_eq!(body, gen_body(room() as u64 + 700));
    // Kept alive when it fits.
    let wire = converse("GET /io/=9 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let (head, _) = split(&wire);
    assert!(
        head.contains("Connection: keep-alive\r\nContent-Length: 9\r\n"),
        "{head}"
    );
}

#[test]
fn head_gets_the_framing_a_get_would_get_and_no_body() {
    let room = room();
    let wire = converse("HEAD /io/0 HTTP/1.1\r\nHost: t\r\n\r\n");
    let (head, body) = split(&wire);
    assert!(
        head.contains(&format!("Content-Length: {room}\r\n")),
        "{head}"
    );
    assert!(body.is_empty());
    let wire = converse("HEAD /io/5000 HTTP/1.1\r\nHost: t\r\n\r\n");
    let (head, body) = split(&wire);
    assert!(head.contains("Transfer-Encoding: chunked\r\n"), "{head}");
    assert!(body.is_empty());
}

#[test]
fn statuses_without_content_send_no_body_and_no_length() {
    for (path, line) in [
        ("/s204/=50", "204 No Content"),
        ("/s304/9000", "304 Not Modified"),
    ] {
        let wire = converse(&[get(path), get("/io/=2")].concat());
        let (head, rest) = split(&wire);
        assert!(head.starts_with(&format!("HTTP/1.1 {line}\r\n")), "{head}");
        assert!(!head.contains("Content-Length") && !head.contains("Transfer-Encoding"));
        // The next response follows at once: nothing was sent between.
        let (head, body) = split(rest);
        assert!(head.contains("Content-Length: 2\r\n"), "{head}");
        assert_eq!(body, gen_body(2));
    }
}

#[test]
fn a_body_beyond_the_spill_is_a_500_never_a_truncated_200() {
    let spill = SPILL_BLOCKS * SPILL_BLOCK;
    let mut driver = driver();
    driver.arrive(get(&format!("/io/{}", spill + 1)).as_bytes());
    let (head, _) = split(&driver.out);
    assert!(head.starts_with("HTTP/1.1 500 "), "{head}");
    assert!(head.contains("Connection: close\r\n"), "{head}");
    assert_eq!(driver.spill.in_use(), 0);
}

#[test]
fn spilled_blocks_are_given_back_when_the_client_leaves_midway() {
    let mut driver = driver();
    driver.write_plan = vec![100, 0];
    driver.arrive(get("/io/10000").as_bytes());
    assert!(driver.spill.in_use() > 0);
    driver.retire();
    assert_eq!(driver.spill.in_use(), 0);
}

#[test]
fn a_writer_after_a_body_refuses_and_headers_after_a_writer_are_refused() {
    struct Late;
    impl Handler for Late {
        fn handle(&self, _: &Request<'_>, response: &mut Response<'_>) {
            let mut writer = response.writer();
            writer.append(b"ok").unwrap();
            drop(writer);
            assert!(response.header("X-Late", "v").is_err());
            assert!(response.writer().append(b"more").is_err());
            assert!(response.body(b"other").is_err());
        }
    }
    let mut driver: Driver<Late, ()> = Driver::build(Late, Config::DEFAULT);
    driver.arrive(get("/").as_bytes());
    assert_eq!(
        driver.output(),
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    );
}
