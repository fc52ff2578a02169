//! One connection's task: the core's calls in a `select!` over the
//! socket's readiness, the connection's deadline, its wake-up and the
//! server's shutdown.

use std::io::{self, ErrorKind, IoSlice};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use peregrine_core::{
    Connection, ConnectionId, Counters, Env, Handler, IoBuffers, MAX_SLICES, Transmit,
};
use peregrine_driver::app::App;
use peregrine_driver::region::read_region;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::{Instant, sleep_until};

use super::{Server, Shared};

/// Serves one connection (`key` among the server's) until it closes,
/// fails, or outlasts the grace period after a shutdown; returns what it
/// did.
pub(super) async fn serve<H, L, const READ: usize, const WRITE: usize, const MAX_HEADERS: usize>(
    shared: Arc<Shared<Server<READ, WRITE, MAX_HEADERS>, H>>,
    mut stream: TcpStream,
    peer: SocketAddr,
    key: u64,
) -> Counters
where
    H: Handler<L>,
    L: Default,
{
    let (server, origin) = (&shared.server, shared.origin);
    // Responses go out whole: Nagle's algorithm would only add delay.
    let _ = stream.set_nodelay(true);
    let woken = Arc::new(Notify::new());
    server.handle.open().insert(key, Arc::clone(&woken));
    let mut task = Task::<H, L, READ, WRITE, MAX_HEADERS> {
        conn: Connection::new(server.config, Some(peer), millis(origin)),
        bufs: IoBuffers::boxed(),
        // The task is this runtime's worker: the handler's state, the
        // `Date` line, the counters and the files its responses own.
        app: App::new(&shared.handler, 0, Counters::default(), &server.config),
        origin,
        file_chunk: Vec::new(),
    };
    task.conn.set_id(ConnectionId::new(0, key));
    let mut grace_end = None;
    while !task.conn.is_closed() && !task.conn.is_hijacked() {
        let (interest, has_work) = (task.conn.interest(), task.conn.has_work());
        let deadline = task
            .conn
            .poll_timeout()
            .map(|ms| origin + Duration::from_millis(ms));
        tokio::select! {
            biased;
            _ = stream.writable(), if interest.write => {
                if task.write(&mut stream).await.is_err() {
                    break;
                }
            }
            _ = stream.readable(), if interest.read => {
                if task.read(&stream).is_err() {
                    break;
                }
            }
            () = sleep_until_some(deadline) => task.call(|c, b, e| c.handle_timeout(b, e)),
            () = woken.notified() => task.conn.handle_wake(millis(origin)),
            () = tokio::task::yield_now(), if has_work => task.call(|c, b, e| c.poll(b, e)),
            () = server.handle.stopped(), if grace_end.is_none() => {
                grace_end = Some(Instant::now() + server.grace);
                task.conn.shutdown(millis(origin));
            }
            () = sleep_until_some(grace_end) => break,
        }
    }
    // What it still owed ends here, and the files it held close.
    task.call(|c, _, e| c.retire(e));
    server.handle.open().remove(&key);
    *task.app.totals()
}

/// A connection and what its calls are given.
struct Task<'a, H, L, const READ: usize, const WRITE: usize, const MAX_HEADERS: usize> {
    /// The state machine.
    conn: Connection<READ, WRITE, MAX_HEADERS>,
    /// Its buffers, for its whole life (a pool would lend them only while
    /// [`Connection::holds_buffers`]).
    bufs: Box<IoBuffers<READ, WRITE>>,
    /// The application, its state, the `Date` line and the counters.
    app: App<'a, H, L>,
    /// Time zero of the connection's millisecond clock.
    origin: Instant,
    /// Where file regions are read into, allocated when first needed.
    file_chunk: Vec<u8>,
}

impl<H, L, const READ: usize, const WRITE: usize, const MAX_HEADERS: usize>
    Task<'_, H, L, READ, WRITE, MAX_HEADERS>
where
    H: Handler<L>,
    L: Default,
{
    /// Makes a call into the connection with the environment of now; a
    /// handler panic is contained ([`App::call`]).
    fn call(
        &mut self,
        call: impl FnOnce(
            &mut Connection<READ, WRITE, MAX_HEADERS>,
            &mut IoBuffers<READ, WRITE>,
            &mut Env<'_, H, L>,
        ),
    ) {
        self.app.refresh_date();
        let now = millis(self.origin);
        self.app.call(&mut self.conn, &mut self.bufs, now, call);
    }

    /// Reads what the socket holds into the connection.
    fn read(&mut self, stream: &TcpStream) -> io::Result<()> {
        match stream.try_read(self.conn.read_buf(&mut self.bufs)) {
            Ok(0) => self.call(|c, _, e| c.handle_read_closed(e)),
            Ok(n) => self.call(|c, b, e| c.handle_read(n, b, e)),
            Err(error) if error.kind() == ErrorKind::WouldBlock => {}
            Err(error) => return Err(error),
        }
        Ok(())
    }

    /// Writes what the connection asks for, once: all its output in one
    /// vectored write, a piece of a file region, or the shutdown of the
    /// write side.
    async fn write(&mut self, stream: &mut TcpStream) -> io::Result<()> {
        let written = match self.conn.poll_transmit(&self.bufs) {
            Transmit::Idle => return Ok(()),
            Transmit::Write(mut slices) => {
                let mut iov = [IoSlice::new(&[]); MAX_SLICES];
                let count = slices.fill_io(&mut iov);
                stream.try_write_vectored(&iov[..count])
            }
            Transmit::SendFile(region) => {
                // Read at its offset (the descriptor's position is not
                // used), then write what the socket takes; a file ending
                // before its region closes the connection.
                self.file_chunk.resize(64 * 1024, 0);
                match read_region(&region, &mut self.file_chunk)? {
                    0 => Err(ErrorKind::UnexpectedEof.into()),
                    read => stream.try_write(&self.file_chunk[..read]),
                }
            }
            Transmit::CloseWrite => {
                // The peer may be gone already; the connection closes either way.
                let _ = stream.shutdown().await;
                self.call(|c, _, e| c.handle_write_closed(e));
                return Ok(());
            }
        };
        match written {
            Ok(n) => self.call(|c, b, e| c.handle_written(n, b, e)),
            Err(error) if error.kind() == ErrorKind::WouldBlock => {}
            Err(error) => {
                self.app.counters().files_cut_short +=
                    u64::from(error.kind() == ErrorKind::UnexpectedEof);
                return Err(error);
            }
        }
        Ok(())
    }
}

/// Milliseconds since `origin`: the connections' clock.
fn millis(origin: Instant) -> u64 {
    origin.elapsed().as_millis() as u64
}

/// Sleeps until `at`; forever if `None`.
async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => sleep_until(at).await,
        None => std::future::pending().await,
    }
}
