//! Peregrine's sans-IO core on tokio: one [`Connection`](peregrine_core::Connection)
//! per accepted [`TcpStream`](tokio::net::TcpStream), each driven by a task
//! of its own on the multi-thread runtime, for any [`Handler`].
//!
//! A connection's task does what a Peregrine backend does, through the
//! driver's [`Embedded`](peregrine_driver::embed::Embedded) connection
//! (see `connection.rs`): it reads into `read_buf` and reports with
//! `on_read`; writes each `Output::Write` with one vectored write and
//! reports with `on_written`; sleeps until the `deadline` and calls
//! `on_timeout`; and calls `on_wake` when [`Handle::wake`] names it.
//! [`Server::run`] accepts until [`Handle::shutdown`], then lets every
//! connection finish within the grace period.

mod connection;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use peregrine_core::{Config, ConnectionId, Counters, DefaultSizes, Handler, Sizes};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// An HTTP/1.1 server on tokio. Its connections have the
/// [`DefaultSizes`] ([`run`](Self::run)) or the [`Sizes`] of one's choice
/// ([`run_sized`](Self::run_sized)), as a
/// [`Connection`](peregrine_core::Connection) has.
#[derive(Clone, Debug)]
pub struct Server {
    /// Connection timeouts and limits.
    pub config: Config,
    /// How long connections get to finish once shutdown begins.
    pub grace: Duration,
    /// Stops the server and wakes its connections.
    pub handle: Handle,
}

/// Stops a server and wakes its connections' parked streams, from any
/// task or thread. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Handle(Arc<Hub>);

/// What a [`Handle`] reaches.
#[derive(Debug, Default)]
struct Hub {
    /// Whether shutdown has begun.
    stop: watch::Sender<bool>,
    /// The key of the next connection.
    next: AtomicU64,
    /// Each open connection's wake-up, by key.
    open: Mutex<HashMap<u64, Arc<Notify>>>,
}

impl Handle {
    /// Stops accepting; each connection finishes the request in hand (an
    /// idle one closes now, a WebSocket says Close 1001) and is closed
    /// when the grace period ends.
    pub fn shutdown(&self) {
        self.0.stop.send_replace(true);
    }

    /// Wakes connection `id` (a [`Response::id`](peregrine_core::Response::id)
    /// kept by a handler whose `fill_body` answered
    /// [`Fill::Pending`](peregrine_core::Fill::Pending)): `fill_body` is
    /// asked again. Make what it will find ready first. Harmless for a
    /// connection that is gone; never lost for one that is busy.
    pub fn wake(&self, id: ConnectionId) {
        if let Some(notify) = self.open().get(&id.key()) {
            notify.notify_one();
        }
    }

    /// The open connections' wake-ups.
    fn open(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Notify>>> {
        self.0.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Completes once shutdown has begun (at once if it has).
    async fn stopped(&self) {
        let _ = self.0.stop.subscribe().wait_for(|&stop| stop).await;
    }
}

/// What every connection task of a server shares.
struct Shared<S, H> {
    /// The server's settings and handle.
    server: S,
    /// The application.
    handler: H,
}

/// What a server did, returned by [`Server::run`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Connections accepted.
    pub accepted: u64,
    /// What they did, added up.
    pub counters: Counters,
}

impl Server {
    /// Serves `handler` on `listener` until [`Handle::shutdown`], then
    /// waits for the connections to finish (each is closed at the end of
    /// the grace period) and returns what they did. Its connections have
    /// the [`DefaultSizes`].
    pub async fn run<H, L>(self, listener: TcpListener, handler: H) -> Totals
    where
        H: Handler<L> + Send + 'static,
        L: Default + Send + 'static,
    {
        self.run_sized::<DefaultSizes, H, L>(listener, handler)
            .await
    }

    /// [`run`](Self::run) with connections of the sizes `Z`: buffers and
    /// header table.
    pub async fn run_sized<Z: Sizes, H, L>(self, listener: TcpListener, handler: H) -> Totals
    where
        H: Handler<L> + Send + 'static,
        L: Default + Send + 'static,
    {
        let shared = Arc::new(Shared {
            server: self,
            handler,
        });
        let handle = &shared.server.handle;
        let (mut tasks, mut totals) = (JoinSet::new(), Totals::default());
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        totals.accepted += 1;
                        let key = handle.0.next.fetch_add(1, Relaxed);
                        let task = connection::serve::<H, L, Z>;
                        tasks.spawn(task(Arc::clone(&shared), stream, peer, key));
                    }
                    // Out of descriptors, say: try again later, never spin.
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                },
                Some(Ok(counters)) = tasks.join_next() => totals.counters += counters,
                () = handle.stopped() => break,
            }
        }
        drop(listener);
        // Each task closes its connection at the end of the grace period;
        // the extra second bounds the wait for one stuck in its handler.
        let give_up = Instant::now() + shared.server.grace + Duration::from_secs(1);
        while let Ok(Some(done)) = tokio::time::timeout_at(give_up, tasks.join_next()).await {
            totals.counters += done.unwrap_or_default();
        }
        totals
    }
}
