//! A Server-Sent Events feed: `GET /events` is a stream subscribed to the
//! feed's topic, and a publisher thread posts an event every interval,
//! once per worker, reaching every client. The handler itself never has
//! anything to give (`Fill::Pending`): the stream's body is made of the
//! publications, each framed as one event (`sse::encode`), with an `id`
//! a reconnecting client sends back as `Last-Event-ID`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use peregrine_core::sse::{self, Event};
use peregrine_core::{Fill, Handler, Method, Request, Response, StatusCode};
use peregrine_driver::Sender;

/// The topic of the feed's streams.
pub const TOPIC: u64 = 1;

/// The feed: `/events` streams it, anything else is `404` (`405` for a
/// method other than GET on `/events`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Feed;

impl Handler for Feed {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
        if request.path() != b"/events" {
            response.status(StatusCode::NOT_FOUND);
            return;
        }
        if request.method() != Method::Get {
            response.status(StatusCode::METHOD_NOT_ALLOWED);
            let _ = response.header("Allow", "GET");
            return;
        }
        let _ = response.header("Content-Type", sse::CONTENT_TYPE);
        let _ = response.header("Cache-Control", "no-cache");
        response.stream(None);
        response.subscribe(TOPIC);
    }

    fn fill_body(&self, _: &mut u64, _: &mut [u8], _: &mut ()) -> Fill {
        // Every byte of the body is a publication.
        Fill::Pending
    }
}

/// The thread publishing the feed; stops when dropped.
#[derive(Debug)]
pub struct Publisher {
    /// Asks the thread to stop.
    stop: Arc<AtomicBool>,
    /// The thread.
    thread: Option<JoinHandle<u64>>,
}

impl Publisher {
    /// Publishes event 1, 2, … through `sender` every `interval`, each
    /// with its number as id and `tick N` as data.
    pub fn start(sender: Sender, interval: Duration) -> Publisher {
        let stop = Arc::new(AtomicBool::new(false));
        let running = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut next = Instant::now() + interval;
            let mut number = 0u64;
            while !running.load(Ordering::Relaxed) {
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
                next += interval;
                number += 1;
                publish(&sender, number);
            }
            number
        });
        Publisher {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops the thread; the number of events published.
    pub fn stop(mut self) -> u64 {
        self.halt()
    }

    /// Stops the thread and waits for it.
    fn halt(&mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .map_or(0, |thread| thread.join().unwrap_or(0))
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Publishes event `number` (formatted on the stack: nothing allocated).
pub fn publish(sender: &Sender, number: u64) {
    let mut id = itoa::Buffer::new();
    let id = id.format(number);
    let mut data = [0u8; 32];
    let data = {
        let text = b"tick ";
        data[..text.len()].copy_from_slice(text);
        let digits = id.as_bytes();
        data[text.len()..text.len() + digits.len()].copy_from_slice(digits);
        std::str::from_utf8(&data[..text.len() + digits.len()]).unwrap_or("tick")
    };
    let event = Event {
        id: Some(id),
        data,
        ..Event::default()
    };
    let mut framed = [0u8; 128];
    if let Ok(len) = sse::encode(&event, &mut framed) {
        // A full mailbox loses nothing silently: the streams that could
        // not take it are ended (their clients reconnect with the id).
        let _ = sender.publish_to_streams(TOPIC, &framed[..len]);
    }
}
