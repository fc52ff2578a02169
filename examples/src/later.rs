//! [`Hello`], plus a route whose body waits for another task: `GET
//! /later` answers `woken by another task` once a timer, started by the
//! handler, has woken the connection: a tokio task through the tokio
//! server's [`Handle::wake`], or a thread through a backend's
//! [`Sender::wake`]. Until then the connection's stream is parked
//! ([`Fill::Pending`]) and costs nothing.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use peregrine_core::{ConnectionId, Fill, Handler, Request, Response};
use peregrine_driver::Sender;

use crate::hello::Hello;
use crate::tokio_driver::Handle;

/// How long `/later` waits.
pub const DELAY: Duration = Duration::from_millis(100);

/// The body of `/later`.
pub const BODY: &[u8] = b"woken by another task\n";

/// Marks the tag of a `/later` stream (the rest is when it is ready);
/// [`Hello`]'s streams count bytes, far below it.
const LATER: u64 = 1 << 63;

/// What wakes a connection whose body waits, once a delay has passed.
pub trait WakeLater: Clone + Send + Sync + 'static {
    /// Wakes connection `id` once `delay` has passed, from elsewhere than
    /// the calling handler.
    fn wake_after(&self, id: ConnectionId, delay: Duration);
}

/// A tokio task sleeps, then wakes the connection; needs the runtime.
impl WakeLater for Handle {
    fn wake_after(&self, id: ConnectionId, delay: Duration) {
        let handle = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            handle.wake(id);
        });
    }
}

/// A thread sleeps, then wakes the connection: the simplest timer for a
/// backend's sender (a thread per request; a real program would keep one
/// timer thread).
impl WakeLater for Sender {
    fn wake_after(&self, id: ConnectionId, delay: Duration) {
        let sender = self.clone();
        std::thread::spawn(move || {
            std::thread::sleep(delay);
            // Harmless for a connection that is gone.
            let _ = sender.wake(id);
        });
    }
}

/// [`Hello`] and `/later`, waking through `W`: the tokio server's
/// [`Handle`] (the handler then needs its runtime) or a backend's
/// [`Sender`].
#[derive(Clone, Debug)]
pub struct Later<W = Handle> {
    /// Wakes the connections of the server that runs it.
    waker: W,
}

impl<W: WakeLater> Later<W> {
    /// The handler, waking through `waker` (the server's).
    pub fn new(waker: W) -> Self {
        Later { waker }
    }
}

impl<W: WakeLater> Handler for Later<W> {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
        if request.path() != b"/later" {
            return Hello::new().handle(request, response);
        }
        // What `fill_body` will check: the time the body is ready.
        response.set_tag(LATER | (millis() + DELAY.as_millis() as u64));
        response.stream(None);
        self.waker.wake_after(response.id(), DELAY);
    }

    fn fill_body(&self, tag: &mut u64, buf: &mut [u8], local: &mut ()) -> Fill {
        if *tag & LATER == 0 {
            return Hello::new().fill_body(tag, buf, local);
        }
        if millis() < *tag & !LATER {
            return Fill::Pending;
        }
        buf[..BODY.len()].copy_from_slice(BODY);
        Fill::Done(BODY.len())
    }
}

/// Milliseconds on a clock of the process's own.
fn millis() -> u64 {
    static ORIGIN: LazyLock<Instant> = LazyLock::new(Instant::now);
    ORIGIN.elapsed().as_millis() as u64
}
