//! Request-head parsing, Peregrine against httparse, on three shapes:
//! the request wrk sends, a browser GET, and a request with 32 headers.
//!
//! Run with `cargo bench -p peregrine-core --features std --bench parse`
//! (the `std` feature gives both parsers run-time AVX2 detection; httparse
//! has it by default). Both parsers reuse their header storage across
//! iterations, as a server does, and both results are consumed the same way.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use peregrine_core::{Parsed, RequestParser};
use std::hint::black_box;

/// A load generator's request, four lines: request line, `Host`,
/// `Connection` and the empty line.
const WRK: &[u8] = b"GET /plaintext HTTP/1.1\r\n\
Host: 127.0.0.1:8080\r\n\
Connection: keep-alive\r\n\
\r\n";

/// A browser's navigation request: 621 bytes, 12 headers.
const BROWSER: &[u8] = b"GET /wp-content/uploads/2010/03/hello-kitty-darth-vader-pink.jpg HTTP/1.1\r\n\
Host: www.kittyhell.com\r\n\
User-Agent: Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10.6; ja-JP-mac; rv:1.9.2.3) Gecko/20100401 Firefox/3.6.3 Pathtraq/0.9\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n\
Accept-Language: ja,en-us;q=0.7,en;q=0.3\r\n\
Accept-Encoding: gzip,deflate\r\n\
Accept-Charset: Shift_JIS,utf-8;q=0.7,*;q=0.7\r\n\
Keep-Alive: 115\r\n\
Connection: keep-alive\r\n\
Cookie: wp_ozh_wsa_visits=2; wp_ozh_wsa_visit_lasttime=xxxxxxxxxx\r\n\
Referer: http://www.kittyhell.com/\r\n\
Upgrade-Insecure-Requests: 1\r\n\
Cache-Control: max-age=0\r\n\
\r\n";

/// A request with 32 header fields of assorted sizes.
fn many_headers() -> Vec<u8> {
    let mut request =
        b"POST /api/v1/items?page=2&sort=desc HTTP/1.1\r\nHost: api.example.com\r\n".to_vec();
    for i in 1..32 {
        let value = "x".repeat(8 + (i * 7) % 40);
        request.extend_from_slice(format!("X-Custom-Header-{i}: {value}\r\n").as_bytes());
    }
    request.extend_from_slice(b"\r\n");
    request
}

/// Parses with Peregrine; returns what both benchmarks consume.
fn peregrine(parser: &mut RequestParser<64>, input: &[u8]) -> (usize, usize) {
    parser.reset();
    match parser.parse(input) {
        Ok(Parsed::Complete(request)) => (request.head_len(), request.headers().len()),
        _ => unreachable!("benchmark inputs are valid"),
    }
}

/// Parses with httparse; returns what both benchmarks consume.
fn httparse<'a>(headers: &mut [httparse::Header<'a>; 64], input: &'a [u8]) -> (usize, usize) {
    let mut request = httparse::Request::new(headers);
    match request.parse(input) {
        Ok(httparse::Status::Complete(len)) => (len, request.headers.len()),
        _ => unreachable!("benchmark inputs are valid"),
    }
}

fn parse(c: &mut Criterion) {
    let many = many_headers();
    let shapes: [(&str, &[u8]); 3] = [("wrk", WRK), ("browser", BROWSER), ("32-headers", &many)];
    let mut group = c.benchmark_group("parse");
    for (name, input) in shapes {
        // Both parsers agree on the input before either is timed.
        let mut parser = RequestParser::<64>::new();
        let mut headers = [httparse::EMPTY_HEADER; 64];
        assert_eq!(peregrine(&mut parser, input), httparse(&mut headers, input));

        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_function(BenchmarkId::new("peregrine", name), |b| {
            b.iter(|| peregrine(&mut parser, black_box(input)))
        });
        group.bench_function(BenchmarkId::new("httparse", name), |b| {
            b.iter(|| httparse(&mut headers, black_box(input)))
        });
    }
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
