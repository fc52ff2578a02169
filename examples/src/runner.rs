//! Work handed to runner threads: `POST /run` queues its body as a job
//! for one of N runner threads (pinned to cores where the system allows)
//! over a bounded lock-free queue, and defers its response; the runner
//! answers when the job is done, through the `Sender`: `200` with the
//! result, or `500` if the job failed. A full queue is a `503` at once:
//! the worker never waits. `GET /ping` answers at once, whatever the
//! runners are doing; `POST /shutdown` stops the server gracefully.
//!
//! A job is text: `sleep N` works for N milliseconds, `fail` fails.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{JoinHandle, Thread};
use std::time::Duration;

use crossbeam_queue::ArrayQueue;
use peregrine_core::{ConnectionId, Handler, Method, Request, Response, StatusCode};
use peregrine_driver::answer::Answer;
use peregrine_driver::{Sender, ShutdownHandle};

/// The longest job text taken.
pub const MAX_JOB: usize = 256;

/// One job: whom to answer, and what to do.
#[derive(Debug)]
struct Job {
    /// The connection waiting for the answer.
    id: ConnectionId,
    /// The job's text.
    text: heapless::Vec<u8, MAX_JOB>,
}

/// What the workers and the runners share.
#[derive(Debug)]
struct Shared {
    /// Jobs waiting for a runner.
    queue: ArrayQueue<Job>,
    /// The runner threads, to wake when a job comes.
    runners: std::sync::OnceLock<Vec<Thread>>,
    /// Set when the server stops: the runners end.
    stopping: AtomicBool,
}

/// The handler: `/run`, `/ping`, `/shutdown`.
#[derive(Debug)]
pub struct Runner {
    /// Shared with the runner threads.
    shared: Arc<Shared>,
    /// Stops the server.
    shutdown: ShutdownHandle,
}

/// The runner threads; they end when dropped.
#[derive(Debug)]
pub struct Runners {
    /// Shared with the handler.
    shared: Arc<Shared>,
    /// The threads.
    threads: Vec<JoinHandle<()>>,
}

impl Runner {
    /// The handler and `count` runner threads answering through `sender`,
    /// with room for `capacity` jobs waiting.
    pub fn start(
        count: usize,
        capacity: usize,
        sender: Sender,
        shutdown: ShutdownHandle,
    ) -> (Runner, Runners) {
        let shared = Arc::new(Shared {
            queue: ArrayQueue::new(capacity.max(1)),
            runners: std::sync::OnceLock::new(),
            stopping: AtomicBool::new(false),
        });
        let threads: Vec<JoinHandle<()>> = (0..count.max(1))
            .map(|index| {
                let shared = Arc::clone(&shared);
                let sender = sender.clone();
                std::thread::spawn(move || run(index, &shared, &sender))
            })
            .collect();
        let _ = shared.runners.set(
            threads
                .iter()
                .map(|thread| thread.thread().clone())
                .collect(),
        );
        let runner = Runner {
            shared: Arc::clone(&shared),
            shutdown,
        };
        (runner, Runners { shared, threads })
    }
}

impl Drop for Runners {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

impl Handler for Runner {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
        match (request.method(), request.path()) {
            (Method::Post, b"/run") => self.queue(request.body(), response),
            (Method::Get, b"/ping") => response.body_static(b"pong"),
            (Method::Post, b"/shutdown") => {
                self.shutdown.shutdown();
                response.body_static(b"stopping");
            }
            (_, b"/run" | b"/shutdown") => {
                response.status(StatusCode::METHOD_NOT_ALLOWED);
                let _ = response.header("Allow", "POST");
            }
            (_, b"/ping") => {
                response.status(StatusCode::METHOD_NOT_ALLOWED);
                let _ = response.header("Allow", "GET");
            }
            _ => {
                response.status(StatusCode::NOT_FOUND);
            }
        }
    }
}

impl Runner {
    /// Queues the job `text` and defers the response; `413` for a job too
    /// long, `503` if every slot of the queue is taken.
    fn queue(&self, text: &[u8], response: &mut Response<'_>) {
        let Ok(text) = heapless::Vec::from_slice(text) else {
            response.status(StatusCode::PAYLOAD_TOO_LARGE);
            return;
        };
        let job = Job {
            id: response.id(),
            text,
        };
        if self.shared.queue.push(job).is_err() {
            response.status(StatusCode::SERVICE_UNAVAILABLE);
            let _ = response.header("Retry-After", "1");
            return;
        }
        response.defer();
        if let Some(runners) = self.shared.runners.get() {
            for runner in runners {
                runner.unpark();
            }
        }
    }
}

/// A runner thread: pinned to a core if it can be, takes jobs until the
/// server stops.
fn run(index: usize, shared: &Shared, sender: &Sender) {
    pin(index);
    while !shared.stopping.load(Ordering::Relaxed) {
        match shared.queue.pop() {
            Some(job) => {
                let (status, body): (StatusCode, &[u8]) = match work(&job.text) {
                    Ok(()) => (StatusCode::OK, b"done\n"),
                    Err(()) => (StatusCode::INTERNAL_SERVER_ERROR, b"the job failed\n"),
                };
                let mut answer = Answer::new(status);
                answer.body(body);
                // Gone (the client left) or a full mailbox: the response
                // is reported aborted, or bounded by its timeout.
                let _ = sender.respond(job.id, &answer);
            }
            None => std::thread::park_timeout(Duration::from_millis(100)),
        }
    }
}

/// Does the job `text`: `sleep N` (milliseconds) succeeds, anything else
/// fails.
fn work(text: &[u8]) -> Result<(), ()> {
    let text = std::str::from_utf8(text).map_err(|_| ())?;
    let ms: u64 = text
        .trim()
        .strip_prefix("sleep ")
        .and_then(|ms| ms.parse().ok())
        .ok_or(())?;
    std::thread::sleep(Duration::from_millis(ms));
    Ok(())
}

/// Pins the calling thread to core `index` (modulo the cores there are),
/// where the system allows; the thread runs unpinned otherwise.
fn pin(index: usize) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let mut set = rustix::thread::CpuSet::new();
        set.set(index % cores);
        let _ = rustix::thread::sched_setaffinity(None, &set);
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = index;
}
