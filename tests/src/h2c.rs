//! The [`Client`](crate::Client) of an h2c test server: the shared suite's
//! raw HTTP/1.1 exchanges, carried over HTTP/2 with prior knowledge.
//!
//! A test writes requests as HTTP/1.1 bytes and reads [`RawResponse`]s,
//! whatever the protocol. Over h2c each complete request becomes a stream
//! of a real HTTP/2 client (the `h2` crate): its method, target and
//! fields become the request's pseudo-header and header fields (the
//! connection-specific ones of RFC 9113 §8.2.2 dropped, `Host` becoming
//! `:authority`), its body (by `Content-Length` or chunked) the stream's
//! DATA. Responses are read back in the order their requests were
//! written, as HTTP/1.1 pipelining would deliver them.
//!
//! Only what a request means crosses over, not how HTTP/1.1 frames it:
//! tests of HTTP/1.1's own framing (malformed heads, pipelining on the
//! wire, `Connection: close`) stay HTTP/1.1-only.

use std::collections::VecDeque;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use bytes::Bytes;
use h2::RecvStream;
use h2::client::{ResponseFuture, SendRequest};
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

use crate::{IO_TIMEOUT, RawResponse};

/// The most header fields a request written by a test may carry.
const MAX_FIELDS: usize = 256;

/// The client's flow-control window per stream: responses are read one
/// after the other, as an HTTP/1.1 client reads them off its socket, so
/// the ones not read yet must not stop the one being read (RFC 9113 §5.2).
const STREAM_WINDOW: u32 = 32 << 20;

/// The client's flow-control window for the whole connection.
const CONNECTION_WINDOW: u32 = (1 << 31) - 1;

/// Fields that only mean something to one HTTP/1.1 connection (RFC 9113
/// §8.2.2): never sent over HTTP/2.
const CONNECTION_SPECIFIC: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "host",
];

/// One HTTP/2 connection, driven by a runtime of its own (one thread):
/// each call blocks until its part is done, at most [`IO_TIMEOUT`].
pub(crate) struct H2Wire {
    /// Runs the connection's task while a call waits.
    runtime: Runtime,
    /// Opens streams.
    send: SendRequest<Bytes>,
    /// The connection's task: done once the connection ended.
    connection: JoinHandle<()>,
    /// Where the server listens: the `:authority` of a request without
    /// `Host`.
    addr: SocketAddr,
    /// Bytes written by the test that do not yet make a whole request.
    unsent: Vec<u8>,
    /// Responses not yet read, in the order their requests were written;
    /// `true` for a `HEAD`.
    waiting: VecDeque<(ResponseFuture, bool)>,
    /// The body of the response whose head was read alone, and its bytes
    /// received but not yet read.
    reading: Option<(RecvStream, Bytes)>,
}

impl std::fmt::Debug for H2Wire {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H2Wire")
            .field("addr", &self.addr)
            .field("unsent", &self.unsent.len())
            .field("waiting", &self.waiting.len())
            .finish_non_exhaustive()
    }
}

impl H2Wire {
    /// Sends the connection preface over `stream` and waits for the
    /// server's settings.
    pub(crate) fn handshake(stream: TcpStream, addr: SocketAddr) -> io::Result<H2Wire> {
        // The connection's task runs on a thread of the runtime's own, so
        // that what a call queued goes out while the test waits on
        // something else (a job handed to it, a channel).
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        stream.set_nonblocking(true)?;
        let (send, connection) = runtime.block_on(async {
            let stream = tokio::net::TcpStream::from_std(stream)?;
            let (send, connection) = within(
                h2::client::Builder::new()
                    .initial_window_size(STREAM_WINDOW)
                    .initial_connection_window_size(CONNECTION_WINDOW)
                    .handshake::<_, Bytes>(stream),
            )
            .await?
            .map_err(io::Error::other)?;
            io::Result::Ok((send, connection))
        })?;
        let connection = runtime.spawn(async move {
            let _ = connection.await;
        });
        Ok(H2Wire {
            runtime,
            send,
            connection,
            addr,
            unsent: Vec::new(),
            waiting: VecDeque::new(),
            reading: None,
        })
    }

    /// Takes `bytes` of HTTP/1.1 requests and opens a stream for each
    /// request they complete.
    pub(crate) fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.unsent.extend_from_slice(bytes);
        while let Some((request, body, used)) = parse_request(&self.unsent, self.addr)? {
            self.unsent.drain(..used);
            let head = request.method() == http::Method::HEAD;
            let send = &mut self.send;
            let response = self.runtime.block_on(async {
                within(std::future::poll_fn(|cx| send.poll_ready(cx)))
                    .await?
                    .map_err(io::Error::other)?;
                let (response, mut stream) = send
                    .send_request(request, body.is_empty())
                    .map_err(io::Error::other)?;
                if !body.is_empty() {
                    stream.send_data(body, true).map_err(io::Error::other)?;
                }
                io::Result::Ok(response)
            })?;
            self.waiting.push_back((response, head));
        }
        Ok(())
    }

    /// Reads the next response whole; `head_only` leaves its body unread
    /// (see [`read`](Self::read)).
    pub(crate) fn response(&mut self, head_only: bool) -> io::Result<RawResponse> {
        let (response, head) = self
            .waiting
            .pop_front()
            .ok_or_else(|| io::Error::other("no request is waiting for a response"))?;
        let runtime = &self.runtime;
        let response = runtime
            .block_on(within(response))?
            .map_err(io::Error::other)?;
        let (parts, mut body) = response.into_parts();
        let mut raw = RawResponse {
            version: "HTTP/2".to_owned(),
            status: parts.status.as_u16(),
            reason: parts
                .status
                .canonical_reason()
                .unwrap_or_default()
                .to_owned(),
            headers: parts
                .headers
                .iter()
                .map(|(name, value)| {
                    let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                    (name.as_str().to_owned(), value)
                })
                .collect(),
            body: Vec::new(),
            chunked: false,
            head_len: 0,
        };
        if head_only {
            self.reading = Some((body, Bytes::new()));
        } else if !head {
            while let Some(chunk) = runtime.block_on(within(body.data()))? {
                let chunk = chunk.map_err(io::Error::other)?;
                let _ = body.flow_control().release_capacity(chunk.len());
                raw.body.extend_from_slice(&chunk);
            }
        }
        Ok(raw)
    }

    /// Reads the body of the response whose head was read alone: what is
    /// left of its last DATA, or the next; 0 at its end.
    pub(crate) fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let Some((body, left)) = &mut self.reading else {
            return Ok(0);
        };
        if left.is_empty() {
            match self.runtime.block_on(within(body.data()))? {
                None => return Ok(0),
                Some(chunk) => {
                    let chunk = chunk.map_err(cut_short)?;
                    let _ = body.flow_control().release_capacity(chunk.len());
                    *left = chunk;
                }
            }
        }
        let n = out.len().min(left.len());
        out[..n].copy_from_slice(&left.split_to(n));
        Ok(n)
    }

    /// Whether the connection ended within `timeout`.
    pub(crate) fn closed_within(&mut self, timeout: Duration) -> bool {
        let connection = &mut self.connection;
        self.runtime
            .block_on(async { tokio::time::timeout(timeout, connection).await.is_ok() })
    }
}

/// A body's stream cut short: reset by the server, or its connection
/// closed under it (as `ConnectionReset`, what a socket's reader sees when
/// an HTTP/1.1 server closes mid-body).
fn cut_short(error: h2::Error) -> io::Error {
    if error.is_reset() || error.is_io() || error.is_go_away() {
        io::Error::new(io::ErrorKind::ConnectionReset, error.to_string())
    } else {
        io::Error::other(error)
    }
}

/// `future`, failing with `TimedOut` after [`IO_TIMEOUT`].
async fn within<F: Future>(future: F) -> io::Result<F::Output> {
    tokio::time::timeout(IO_TIMEOUT, future)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no answer over h2c in time"))
}

/// The first whole HTTP/1.1 request in `bytes`, as an HTTP/2 request, its
/// body, and how many bytes it took; `None` if it is not whole yet.
fn parse_request(
    bytes: &[u8],
    addr: SocketAddr,
) -> io::Result<Option<(http::Request<()>, Bytes, usize)>> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_FIELDS];
    let mut head = httparse::Request::new(&mut fields);
    let head_len = match head.parse(bytes).map_err(io::Error::other)? {
        httparse::Status::Complete(len) => len,
        httparse::Status::Partial => return Ok(None),
    };
    let field = |name: &str| {
        head.headers
            .iter()
            .find(|field| field.name.eq_ignore_ascii_case(name))
            .map(|field| field.value)
    };
    let chunked =
        field("transfer-encoding").is_some_and(|value| value.eq_ignore_ascii_case(b"chunked"));
    let (body, used) = if chunked {
        match dechunk(&bytes[head_len..])? {
            Some((body, len)) => (body, head_len + len),
            None => return Ok(None),
        }
    } else {
        let length: usize = field("content-length")
            .map(|value| {
                std::str::from_utf8(value)
                    .ok()
                    .and_then(|value| value.trim().parse().ok())
                    .ok_or_else(|| io::Error::other("bad Content-Length"))
            })
            .transpose()?
            .unwrap_or(0);
        if bytes.len() < head_len + length {
            return Ok(None);
        }
        (
            bytes[head_len..head_len + length].to_vec(),
            head_len + length,
        )
    };
    let authority = match field("host") {
        Some(host) => String::from_utf8_lossy(host).into_owned(),
        None => addr.to_string(),
    };
    let target = head.path.unwrap_or("/");
    let mut request = http::Request::builder()
        .method(head.method.unwrap_or("GET"))
        .uri(format!("http://{authority}{target}"));
    for field in head.headers.iter() {
        let name = field.name.to_ascii_lowercase();
        let te_other_than_trailers = name == "te" && !field.value.eq_ignore_ascii_case(b"trailers");
        if CONNECTION_SPECIFIC.contains(&name.as_str()) || te_other_than_trailers {
            continue;
        }
        request = request.header(name, field.value);
    }
    let request = request.body(()).map_err(io::Error::other)?;
    Ok(Some((request, Bytes::from(body), used)))
}

/// A chunked body at the start of `bytes`, decoded, and how many bytes it
/// took (trailers skipped); `None` if it is not whole yet.
fn dechunk(bytes: &[u8]) -> io::Result<Option<(Vec<u8>, usize)>> {
    let mut body = Vec::new();
    let mut at = 0;
    loop {
        let (size_len, size) = match httparse::parse_chunk_size(&bytes[at..]) {
            Ok(httparse::Status::Complete(found)) => found,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return Err(io::Error::other("bad chunk size")),
        };
        at += size_len;
        if size == 0 {
            // Trailer fields, if any, then the final empty line.
            loop {
                let Some(end) = bytes[at..].windows(2).position(|w| w == b"\r\n") else {
                    return Ok(None);
                };
                at += end + 2;
                if end == 0 {
                    return Ok(Some((body, at)));
                }
            }
        }
        let size = usize::try_from(size).map_err(io::Error::other)?;
        if bytes.len() < at + size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&bytes[at..at + size]);
        at += size + 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr() -> SocketAddr {
        "127.0.0.1:8080".parse().unwrap()
    }

    #[test]
    fn a_request_waits_until_it_is_whole() {
        let request = b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nab";
        assert!(parse_request(request, addr()).unwrap().is_none());
        let (head, body, used) = parse_request(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET", addr())
            .unwrap()
            .unwrap();
        assert_eq!(head.uri(), "http://a/");
        assert!(body.is_empty());
        assert_eq!(used, 27);
    }

    #[test]
    fn connection_specific_fields_are_dropped_and_bodies_dechunked() {
        let request = b"POST /up HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\
            Transfer-Encoding: chunked\r\nX-Kept: 1\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let (head, body, used) = parse_request(request, addr()).unwrap().unwrap();
        assert_eq!(&body[..], b"abcde");
        assert_eq!(used, request.len());
        assert!(head.headers().get("connection").is_none());
        assert!(head.headers().get("transfer-encoding").is_none());
        assert_eq!(head.headers()["x-kept"], "1");
    }
}
