//! Parses HTTP/1.1 requests and shows what the core makes of them, and the
//! response head it would encode for each.
//!
//! ```text
//! cargo run -p peregrine-core --example parse            # a built-in sample
//! cargo run -p peregrine-core --example parse -- FILE    # requests read from FILE
//! printf 'GET / HTTP/1.1\r\nHost: a\r\n\r\n' | cargo run -p peregrine-core --example parse -- -
//! ```

use std::io::Read;

use peregrine_core::response::{Context, ResponseEncoder, encode_error};
use peregrine_core::{BodyFraming, Parsed, RequestParser, StatusCode};

/// Pipelined requests: a GET, a POST with a body, and a malformed one.
const SAMPLE: &[u8] = b"GET /search?q=peregrine&lang=en HTTP/1.1\r\n\
Host: example.com\r\nAccept: text/html\r\n\r\n\
POST /echo HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n\r\nhello\
GET /bad HTTP/1.1\r\nHost : example.com\r\n\r\n";

fn main() -> std::io::Result<()> {
    let input = match std::env::args().nth(1).as_deref() {
        None => SAMPLE.to_vec(),
        Some("-") => {
            let mut bytes = Vec::new();
            std::io::stdin().read_to_end(&mut bytes)?;
            bytes
        }
        Some(path) => std::fs::read(path)?,
    };
    let mut parser = RequestParser::<32>::new();
    let mut response = [0u8; 1024];
    let mut offset = 0;
    while offset < input.len() {
        parser.reset();
        let request = match parser.parse(&input[offset..]) {
            Ok(Parsed::Complete(request)) => request,
            Ok(Parsed::Partial) => {
                println!(
                    "incomplete request: {} bytes left over",
                    input.len() - offset
                );
                break;
            }
            Err(error) => {
                println!("rejected: {} {error}", error.status());
                let ctx = context(false);
                let head = encode_error(&mut response, error, &ctx).expect("fits");
                println!("response:\n{}", String::from_utf8_lossy(head));
                break;
            }
        };
        println!(
            "{} {} {}",
            request.method_str(),
            String::from_utf8_lossy(request.target()),
            request.version()
        );
        println!("  path: {}", String::from_utf8_lossy(request.path()));
        for (key, value) in request.query_pairs() {
            let (key, value) = (String::from_utf8_lossy(key), String::from_utf8_lossy(value));
            println!("  query: {key} = {value}");
        }
        for header in request.headers() {
            let (name, value) = (
                String::from_utf8_lossy(header.name),
                String::from_utf8_lossy(header.value),
            );
            println!("  header: {name}: {value}");
        }
        let body_len = match request.body_framing() {
            Ok(BodyFraming::Length(n)) => n as usize,
            Ok(BodyFraming::Chunked) => {
                println!("  body: chunked (not decoded by this example)");
                break;
            }
            Err(error) => {
                println!("  rejected: {} {error}", error.status());
                break;
            }
        };
        let body_start = offset + request.head_len();
        let body = &input[body_start..(body_start + body_len).min(input.len())];
        println!("  body: {:?}", String::from_utf8_lossy(body));

        let keep_alive = request.keep_alive();
        let mut encoder = ResponseEncoder::new(&mut response, StatusCode::OK).expect("fits");
        encoder
            .header("Content-Type", b"text/plain")
            .expect("valid header");
        let (head, _) = encoder
            .finish(b"Hello, World!", &context(keep_alive))
            .expect("fits");
        println!("response head:\n{}", String::from_utf8_lossy(head));
        offset = body_start + body_len;
    }
    Ok(())
}

/// The response context for an HTTP/1.1 request (no Date line here).
fn context(keep_alive: bool) -> Context<'static> {
    Context {
        request_version: peregrine_core::Version::Http11,
        head_request: false,
        keep_alive,
        date: None,
    }
}
