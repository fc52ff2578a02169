//! Property: any pipeline of valid requests, delivered in any pieces and
//! written out with any progress, is answered in order, each response
//! framed correctly and carrying what the handler made of its request.
//! The output is parsed back with `httparse` and checked response by
//! response, and compared with the output of the same pipeline read at
//! once and written in full.

mod support;

use peregrine_core::{BodyPolicy, Capacity, Config, Fill, Handler, Request, Response};
use proptest::prelude::*;
use support::Driver;

/// What the handler keeps between calls.
#[derive(Debug, Default)]
struct Scratch {
    /// A streamed request body, as it arrives.
    request_body: Vec<u8>,
    /// A streamed response body, as it goes out.
    response_body: Vec<u8>,
}

/// Echoes every request: `X-Method` and `X-Path` headers and the request
/// body. The path chooses how: its first letter `b` reads the body whole,
/// `s` streams it through `body_chunk`; its second `c` copies the answer
/// into the buffer, `k` streams it chunked, `l` streams it with a length.
struct Props;

/// Largest piece a streamed answer is produced in.
const PIECE: usize = 64;

impl Handler<Scratch> for Props {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_, Scratch>) {
        let path = request.path();
        let body = match path[1] {
            b's' => std::mem::take(&mut response.local().request_body),
            _ => request.body().to_vec(),
        };
        response
            .header("X-Method", request.method_str())
            .unwrap()
            .header("X-Path", path)
            .unwrap();
        match path[2] {
            b'c' => response.body(&body).unwrap(),
            kind => {
                let len = body.len() as u64;
                response.local().response_body = body;
                response.set_tag(0);
                response.stream((kind == b'l').then_some(len));
            }
        }
    }

    fn body_policy(&self, request: &Request<'_>) -> BodyPolicy {
        match request.path()[1] {
            b's' => BodyPolicy::Stream,
            _ => BodyPolicy::Buffer,
        }
    }

    fn body_chunk(&self, _: &Request<'_>, chunk: &[u8], _: &mut u64, local: &mut Scratch) {
        local.request_body.extend_from_slice(chunk);
    }

    fn fill_body(&self, tag: &mut u64, buf: &mut [u8], local: &mut Scratch) -> Fill {
        let from = *tag as usize;
        let rest = &local.response_body[from..];
        let n = rest.len().min(buf.len()).min(PIECE);
        buf[..n].copy_from_slice(&rest[..n]);
        *tag += n as u64;
        if n == rest.len() {
            Fill::Done(n)
        } else {
            Fill::More(n)
        }
    }
}

/// How a request body is framed.
#[derive(Clone, Debug)]
enum Framing {
    Length,
    /// Chunked, cut into pieces of these sizes (cycled), with a chunk
    /// extension on each and a trailer field if asked.
    Chunked {
        sizes: Vec<usize>,
        extension: bool,
        trailer: bool,
    },
}

#[derive(Clone, Debug)]
struct Req {
    method: &'static str,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    framing: Framing,
    expect_continue: bool,
}

impl Req {
    /// The request on the wire.
    fn wire(&self) -> Vec<u8> {
        let mut out = format!(
            "{} {} HTTP/1.1\r\nHost: example\r\n",
            self.method, self.path
        );
        for (name, value) in &self.headers {
            out += &format!("{name}: {value}\r\n");
        }
        if self.expect_continue {
            out += "Expect: 100-continue\r\n";
        }
        let mut out = out.into_bytes();
        match &self.framing {
            Framing::Length => {
                out.extend_from_slice(
                    format!("Content-Length: {}\r\n\r\n", self.body.len()).as_bytes(),
                );
                out.extend_from_slice(&self.body);
            }
            Framing::Chunked {
                sizes,
                extension,
                trailer,
            } => {
                out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                let mut rest = &self.body[..];
                let mut turn = 0;
                while !rest.is_empty() {
                    let n = sizes[turn % sizes.len()].min(rest.len());
                    turn += 1;
                    let ext = if *extension { ";x=\"y z\"" } else { "" };
                    out.extend_from_slice(format!("{n:X}{ext}\r\n").as_bytes());
                    out.extend_from_slice(&rest[..n]);
                    out.extend_from_slice(b"\r\n");
                    rest = &rest[n..];
                }
                out.extend_from_slice(b"0\r\n");
                if *trailer {
                    out.extend_from_slice(b"X-Trailer: done\r\n");
                }
                out.extend_from_slice(b"\r\n");
            }
        }
        out
    }

    /// Whether a `100 Continue` comes before the answer.
    fn gets_continue(&self) -> bool {
        self.expect_continue
            && (matches!(self.framing, Framing::Chunked { .. }) || !self.body.is_empty())
    }
}

/// A valid request; its body is streamed to the handler only if
/// `streamed` allows it, else read whole.
fn request(streamed: bool) -> impl Strategy<Value = Req> {
    let method = prop::sample::select(vec!["GET", "POST", "PUT", "HEAD", "DELETE"]);
    let policy = if streamed { "[bs]" } else { "b" };
    let path = (policy, "[ckl]", "[a-z0-9/._~-]{0,16}").prop_map(|(p, k, r)| format!("/{p}{k}{r}"));
    let header = ("X-[A-Za-z0-9-]{1,10}", "[!-~]([ -~]{0,20}[!-~])?");
    let framing = prop_oneof![
        Just(Framing::Length),
        (
            prop::collection::vec(1usize..100, 1..5),
            any::<bool>(),
            any::<bool>()
        )
            .prop_map(|(sizes, extension, trailer)| Framing::Chunked {
                sizes,
                extension,
                trailer
            }),
    ];
    (
        method,
        path,
        prop::collection::vec(header, 0..4),
        prop::collection::vec(any::<u8>(), 0..300),
        framing,
        prop::bool::weighted(0.2),
    )
        .prop_map(
            |(method, path, headers, body, framing, expect_continue)| Req {
                method,
                path,
                headers,
                body,
                framing,
                expect_continue,
            },
        )
}

/// How the backend behaves.
#[derive(Clone, Debug)]
struct Schedule {
    /// Sizes of the arrivals the pipeline is cut into, cycled.
    arrivals: Vec<usize>,
    /// Progress of each write, cycled.
    writes: Vec<usize>,
    /// Writes between reads.
    writes_per_round: usize,
    /// Scribble over the buffers while the connection holds none.
    scribble: bool,
}

fn schedule() -> impl Strategy<Value = Schedule> {
    (
        prop::collection::vec(prop_oneof![1usize..16, 1usize..2000], 1..8),
        prop::collection::vec(prop_oneof![1usize..16, 1usize..5000], 1..8),
        prop_oneof![Just(usize::MAX), 1usize..4],
        any::<bool>(),
    )
        .prop_map(|(arrivals, writes, writes_per_round, scribble)| Schedule {
            arrivals,
            writes,
            writes_per_round,
            scribble,
        })
}

/// Runs the pipeline under `schedule` through a read buffer of `R` bytes;
/// the bytes written.
fn run<const R: usize>(input: &[u8], schedule: &Schedule) -> Vec<u8> {
    let mut driver: Driver<
        Props,
        Scratch,
        Capacity<R, { support::WRITE }, { support::MAX_HEADERS }>,
    > = Driver::build(Props, Config::DEFAULT);
    driver.write_plan = schedule.writes.clone();
    driver.writes_per_round = schedule.writes_per_round;
    driver.scribble_idle = schedule.scribble;
    let mut rest = input;
    let mut turn = 0;
    while !rest.is_empty() {
        let n = schedule.arrivals[turn % schedule.arrivals.len()].min(rest.len());
        turn += 1;
        driver.arrive(&rest[..n]);
        rest = &rest[n..];
    }
    driver.pump();
    assert!(!driver.conn.is_closed() && !driver.write_closed);
    assert!(!driver.conn.holds_buffers(), "idle after the pipeline");
    driver.out
}

/// Decodes a chunked body at the start of `wire`: the body and the bytes
/// taken.
fn dechunk(wire: &[u8]) -> (Vec<u8>, usize) {
    let mut body = Vec::new();
    let mut at = 0;
    loop {
        let line = wire[at..].windows(2).position(|w| w == b"\r\n").unwrap();
        let size = std::str::from_utf8(&wire[at..at + line]).unwrap();
        let size = usize::from_str_radix(size, 16).unwrap();
        at += line + 2;
        if size == 0 {
            assert_eq!(&wire[at..at + 2], b"\r\n", "trailer section");
            return (body, at + 2);
        }
        body.extend_from_slice(&wire[at..at + size]);
        assert_eq!(&wire[at + size..at + size + 2], b"\r\n", "chunk end");
        at += size + 2;
    }
}

/// Parses `out` as the answers to `requests`, in order, and checks each.
fn check_answers(requests: &[Req], out: &[u8]) {
    let mut at = 0;
    for (i, req) in requests.iter().enumerate() {
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut response = httparse::Response::new(&mut headers);
        let httparse::Status::Complete(n) = response.parse(&out[at..]).unwrap() else {
            panic!("answer {i} incomplete");
        };
        at += n;
        if req.gets_continue() {
            assert_eq!(response.code, Some(100), "answer {i}: 100 Continue first");
            assert!(response.headers.is_empty());
            headers = [httparse::EMPTY_HEADER; 16];
            response = httparse::Response::new(&mut headers);
            let httparse::Status::Complete(n) = response.parse(&out[at..]).unwrap() else {
                panic!("answer {i} incomplete");
            };
            at += n;
        }
        assert_eq!(response.code, Some(200), "answer {i}");
        assert_eq!(response.version, Some(1));
        let header = |name: &str| {
            let mut values = response
                .headers
                .iter()
                .filter(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| h.value);
            let value = values.next();
            assert!(values.next().is_none(), "answer {i}: two {name}");
            value
        };
        assert_eq!(
            header("X-Method"),
            Some(req.method.as_bytes()),
            "answer {i}"
        );
        assert_eq!(header("X-Path"), Some(req.path.as_bytes()), "answer {i}");
        assert_eq!(
            header("Connection"),
            None,
            "answer {i}: keep-alive is implicit"
        );
        let length = header("Content-Length")
            .map(|v| std::str::from_utf8(v).unwrap().parse::<usize>().unwrap());
        let chunked = header("Transfer-Encoding").map(|v| {
            assert_eq!(v, b"chunked", "answer {i}");
        });
        let streamed_unknown = req.path.as_bytes()[2] == b'k';
        assert_eq!(chunked.is_some(), streamed_unknown, "answer {i}: framing");
        assert_eq!(length.is_some(), !streamed_unknown, "answer {i}: framing");
        if req.method == "HEAD" {
            if let Some(length) = length {
                assert_eq!(length, req.body.len(), "answer {i}: HEAD length");
            }
            continue;
        }
        let body = match length {
            Some(length) => {
                let body = out[at..at + length].to_vec();
                at += length;
                body
            }
            None => {
                let (body, taken) = dechunk(&out[at..]);
                at += taken;
                body
            }
        };
        assert_eq!(body, req.body, "answer {i}: body");
    }
    assert_eq!(at, out.len(), "bytes after the last answer");
}

/// Runs `requests` under `schedule` and at once, checks the answers and
/// that both runs wrote the same bytes.
fn check_pipeline<const R: usize>(requests: &[Req], schedule: &Schedule) {
    let input: Vec<u8> = requests.iter().flat_map(Req::wire).collect();
    let out = run::<R>(&input, schedule);
    check_answers(requests, &out);
    let whole = Schedule {
        arrivals: vec![usize::MAX],
        writes: vec![usize::MAX],
        writes_per_round: usize::MAX,
        scribble: false,
    };
    // Streamed answers are cut into chunks as the handler produces them,
    // the same under any schedule: the bytes must match.
    assert_eq!(out, run::<R>(&input, &whole));
}

/// A read buffer larger than any generated pipeline (20 requests of at
/// most ~4.5 KiB on the wire: 300 body bytes in 1-byte chunks with
/// extensions), so that no head ever ends at the end of it.
const ROOMY: usize = 128 * 1024;

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        ..ProptestConfig::default()
    })]

    /// Small buffers (1 KiB read, 2 KiB write), bodies read whole: heads
    /// and bodies cross read boundaries, the read buffer fills and is
    /// compacted, answers back up in the write buffer.
    #[test]
    fn pipelines_through_small_buffers(
        requests in prop::collection::vec(request(false), 1..=20),
        schedule in schedule(),
    ) {
        check_pipeline::<{ support::READ }>(&requests, &schedule);
    }

    /// Bodies read whole or streamed to `body_chunk`, through a read
    /// buffer that never fills.
    #[test]
    fn pipelines_with_streamed_bodies(
        requests in prop::collection::vec(request(true), 1..=20),
        schedule in schedule(),
    ) {
        check_pipeline::<ROOMY>(&requests, &schedule);
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Streamed bodies through the small read buffer: fails, typically
    /// within a few hundred cases, when a streamed request's head ends exactly at the end
    /// of the read buffer (see
    /// `streamed_body_after_a_head_ending_at_the_end_of_the_read_buffer_is_read`
    /// in `connection.rs`).
    #[test]
    fn pipelines_with_streamed_bodies_through_small_buffers(
        requests in prop::collection::vec(request(true), 1..=20),
        schedule in schedule(),
    ) {
        check_pipeline::<{ support::READ }>(&requests, &schedule);
    }
}
