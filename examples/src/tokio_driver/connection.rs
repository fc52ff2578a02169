//! One connection's task: an [`Embedded`] connection in a `select!` over
//! the socket's readiness, its deadline, its wake-up and the server's
//! shutdown.

use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use std::sync::Arc;

use peregrine_core::{ConnectionId, Counters, Handler, Sizes};
use peregrine_driver::embed::{Embedded, Output};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::{Instant, sleep_until};

use super::{Server, Shared};

/// Serves one connection (`key` among the server's) until it closes,
/// fails, or outlasts the grace period after a shutdown; returns what it
/// did.
pub(super) async fn serve<H, L, Z: Sizes>(
    shared: Arc<Shared<Server, H>>,
    mut stream: TcpStream,
    peer: SocketAddr,
    key: u64,
) -> Counters
where
    H: Handler<L>,
    L: Default,
{
    let server = &shared.server;
    // Responses go out whole: Nagle's algorithm would only add delay.
    let _ = stream.set_nodelay(true);
    let woken = Arc::new(Notify::new());
    server.handle.open().insert(key, Arc::clone(&woken));
    let (handler, now) = (&shared.handler, std::time::Instant::now());
    let mut conn = Embedded::<H, L, Z>::new(handler, server.config, Some(peer), now);
    conn.set_id(ConnectionId::new(0, key));
    let mut grace_end = None;
    while !conn.is_done() {
        let (interest, has_work) = (conn.interest(), conn.has_work());
        let deadline = conn.deadline().map(Instant::from_std);
        tokio::select! {
            biased;
            _ = stream.writable(), if interest.write => {
                if write(&mut conn, &mut stream).await.is_err() {
                    break;
                }
            }
            _ = stream.readable(), if interest.read => match stream.try_read(conn.read_buf()) {
                Ok(n) => conn.on_read(n),
                Err(error) if error.kind() == ErrorKind::WouldBlock => {}
                Err(_) => break,
            },
            () = sleep_until_some(deadline) => conn.on_timeout(),
            () = woken.notified() => conn.on_wake(),
            () = tokio::task::yield_now(), if has_work => conn.poll(),
            () = server.handle.stopped(), if grace_end.is_none() => {
                grace_end = Some(Instant::now() + server.grace);
                conn.shutdown();
            }
            () = sleep_until_some(grace_end) => break,
        }
    }
    server.handle.open().remove(&key);
    conn.retire()
}

/// Writes what the connection asks for, once: its output in one vectored
/// write (or a piece of a file), or the shutdown of the write side.
async fn write<H: Handler<L>, L: Default, Z: Sizes>(
    conn: &mut Embedded<'_, H, L, Z>,
    stream: &mut TcpStream,
) -> io::Result<()> {
    let written = match conn.output()? {
        Output::Idle => return Ok(()),
        Output::Write(slices) => stream.try_write_vectored(&slices),
        Output::CloseWrite => {
            // The peer may be gone already; the connection closes either way.
            let _ = stream.shutdown().await;
            conn.on_write_closed();
            return Ok(());
        }
    };
    match written {
        Ok(n) => conn.on_written(n),
        Err(error) if error.kind() == ErrorKind::WouldBlock => {}
        Err(error) => return Err(error),
    }
    Ok(())
}

/// Sleeps until `at`; forever if `None`.
async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => sleep_until(at).await,
        None => std::future::pending().await,
    }
}
