//! The HTTP/2 client of the socket-level tests: the `h2` crate on a
//! tokio runtime of the test's own, and the calls every HTTP/2 test makes
//! with it. Included by the test files that speak HTTP/2 (`#[path]`).

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use tokio::net::TcpStream;

/// Runs `test` on a runtime of its own, failing it after 30 s.
pub fn run<F: Future<Output = ()>>(test: F) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(async {
            tokio::time::timeout(Duration::from_secs(30), test)
                .await
                .expect("the test finished within 30 s");
        });
}

/// An HTTP/2 client connection over `io` (a TCP or TLS stream).
pub async fn handshake<T>(io: T) -> h2::client::SendRequest<Bytes>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (client, connection) = h2::client::Builder::new()
        .initial_connection_window_size(16 << 20)
        .handshake(io)
        .await
        .expect("h2 handshake");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// An HTTP/2 client connection to `addr` (prior knowledge), with the
/// default window per stream (64 KiB) and 16 MiB for the connection: one
/// stream whose reader stops does not stop the others.
pub async fn connect(addr: SocketAddr) -> h2::client::SendRequest<Bytes> {
    handshake(TcpStream::connect(addr).await.expect("connect")).await
}

/// [`connect`], and the connection's task, which ends once the
/// connection does: with `Ok` for a graceful end.
pub async fn connect_watched(
    addr: SocketAddr,
) -> (
    h2::client::SendRequest<Bytes>,
    tokio::task::JoinHandle<Result<(), h2::Error>>,
) {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let (client, connection) = h2::client::Builder::new()
        .initial_connection_window_size(16 << 20)
        .handshake(tcp)
        .await
        .expect("h2 handshake");
    (client, tokio::spawn(connection))
}

/// A request for `path` on the test server.
pub fn request(method: &str, path: &str) -> http::Request<()> {
    http::Request::builder()
        .method(method)
        .uri(format!("http://localhost{path}"))
        .body(())
        .expect("a request")
}

/// Sends a GET for `path` and reads the whole answer: its status and body.
pub async fn get(client: &mut h2::client::SendRequest<Bytes>, path: &str) -> (u16, Vec<u8>) {
    let (response, _) = client
        .send_request(request("GET", path), true)
        .expect("send the request");
    read(response).await
}

/// Reads a response whole, releasing flow-control capacity as it goes.
pub async fn read(response: h2::client::ResponseFuture) -> (u16, Vec<u8>) {
    read_response(response.await.expect("a response")).await
}

/// Reads the body of `response` whole, releasing flow-control capacity
/// as it goes.
pub async fn read_response(response: http::Response<h2::RecvStream>) -> (u16, Vec<u8>) {
    let status = response.status().as_u16();
    let mut body = response.into_body();
    let mut bytes = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.expect("body data");
        let _ = body.flow_control().release_capacity(chunk.len());
        bytes.extend_from_slice(&chunk);
    }
    (status, bytes)
}
