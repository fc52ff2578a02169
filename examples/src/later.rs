//! [`Hello`], plus a route whose body waits for another task: `GET
//! /later` answers `woken by another task` once a timer task, started by
//! the handler, has woken the connection ([`Handle::wake`]). Until then the
//! connection's stream is parked ([`Fill::Pending`]) and costs nothing.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use peregrine_core::{Fill, Handler, Request, Response};

use crate::hello::Hello;
use crate::tokio_driver::Handle;

/// How long `/later` waits.
pub const DELAY: Duration = Duration::from_millis(100);

/// The body of `/later`.
pub const BODY: &[u8] = b"woken by another task\n";

/// Marks the tag of a `/later` stream (the rest is when it is ready);
/// [`Hello`]'s streams count bytes, far below it.
const LATER: u64 = 1 << 63;

/// [`Hello`] and `/later`; needs a tokio runtime (the handler starts a
/// task).
#[derive(Clone, Debug)]
pub struct Later {
    /// Wakes the connections of the server that runs it.
    handle: Handle,
}

impl Later {
    /// The handler, waking through `handle` (the server's).
    pub fn new(handle: Handle) -> Self {
        Later { handle }
    }
}

impl Handler for Later {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
        if request.path() != b"/later" {
            return Hello::new().handle(request, response);
        }
        // What `fill_body` will check: the time the body is ready.
        response.set_tag(LATER | (millis() + DELAY.as_millis() as u64));
        response.stream(None);
        let (handle, id) = (self.handle.clone(), response.id());
        tokio::spawn(async move {
            tokio::time::sleep(DELAY).await;
            handle.wake(id);
        });
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
