//! Deferred responses and Server-Sent Events over HTTP/2 (h2c with prior
//! knowledge, the `h2` crate as the client), on the readiness backend and
//! the portable one: the same handlers as over HTTP/1.1. A handler hands
//! its stream's id to a runner and answers nothing; the runner answers
//! from a thread of its own through the `Sender`, choosing the status
//! then; several streams of one connection wait at once and are answered
//! in any order; an answer to a stream the client reset is dropped and
//! counted. Publications to a topic reach every subscribed stream, on one
//! connection and on several, in order. A response or an answer that
//! closes its connection (`Response::close`, `Answer::close`) ends it
//! gracefully over HTTP/2: GOAWAY after it, the streams already begun
//! finished, then the close.

use std::sync::Mutex;
use std::thread;
use std::time::Duration;

use bytes::Bytes;
use peregrine_core::{
    Config, ConnectionId, Fill, Finished, H2c, Handler, Outcome, Request, Response, StatusCode,
};
use peregrine_driver::Sender;
use peregrine_driver::answer::Answer;
use peregrine_examples::sse::{Feed, publish};
use peregrine_tests::{Backend, Options, TestServer, native_backend_tests};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::task::JoinHandle;

#[path = "common/h2_client.rs"]
mod h2_client;

use h2_client::{connect, connect_watched, get, read, read_response, request, run};

native_backend_tests!(
    a_deferred_answer_from_another_thread_chooses_the_status_then,
    deferred_streams_of_one_connection_are_answered_out_of_order,
    an_answer_to_a_stream_the_client_reset_is_dropped_and_counted,
    [concurrent] publications_reach_every_stream_on_every_connection_in_order,
    an_answer_that_closes_ends_the_connection_once_the_streams_begun_are_done,
    a_response_that_closes_ends_the_connection_once_the_streams_begun_are_done,
);

/// How long a connection whose last stream is done may take to close:
/// far below the idle timeout (60 s) that would close it otherwise.
const CLOSE_BOUND: Duration = Duration::from_secs(5);

/// A job: the stream waiting for its answer, and the request's path.
type Job = (ConnectionId, String);

/// Defers `/job/…` to the runner (tag 7), streams the `sse` example's
/// feed on `/events`, answers `/close` `closing` and closes the
/// connection after it, anything else `ok` at once; reports the ends of
/// tagged responses.
struct Jobs {
    /// Where jobs go.
    jobs: Mutex<UnboundedSender<Job>>,
    /// Where ends are reported.
    ends: Mutex<UnboundedSender<Finished>>,
}

impl Handler for Jobs {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
        let path = String::from_utf8_lossy(request.path()).into_owned();
        if path.starts_with("/job/") {
            let _ = self.jobs.lock().unwrap().send((response.id(), path));
            response.set_tag(7).defer();
        } else if path == "/events" {
            Feed.handle(request, response);
        } else if path == "/close" {
            response.close().body_static(b"closing");
        } else {
            response.body_static(b"ok");
        }
    }

    fn fill_body(&self, tag: &mut u64, buf: &mut [u8], local: &mut ()) -> Fill {
        Feed.fill_body(tag, buf, local)
    }

    fn finished(&self, finished: Finished, _: &mut ()) {
        let _ = self.ends.lock().unwrap().send(finished);
    }
}

/// What a test holds of a server of [`Jobs`] speaking h2c.
struct Runner {
    /// The server.
    server: TestServer,
    /// The jobs handed over.
    jobs: UnboundedReceiver<Job>,
    /// The ends reported.
    ends: UnboundedReceiver<Finished>,
    /// What answers and publishes.
    sender: Sender,
}

impl Runner {
    /// A server of [`Jobs`] on `backend`, with HTTP/2 beside HTTP/1.1.
    fn start(backend: Backend) -> Runner {
        let (jobs_tx, jobs) = unbounded_channel();
        let (ends_tx, ends) = unbounded_channel();
        let options = Options {
            config: Config {
                h2c: H2c::Beside,
                ..Config::DEFAULT
            },
            ..Options::default()
        };
        let (server, sender) = TestServer::start_with_sender_on(backend, options, |_| Jobs {
            jobs: Mutex::new(jobs_tx),
            ends: Mutex::new(ends_tx),
        });
        Runner {
            server,
            jobs,
            ends,
            sender,
        }
    }

    /// The next job handed over (the test's own deadline bounds the wait).
    async fn next_job(&mut self) -> Job {
        self.jobs.recv().await.expect("a job handed over")
    }

    /// The next end reported.
    async fn next_end(&mut self) -> Finished {
        self.ends.recv().await.expect("an end reported")
    }
}

/// Answers `id` with `status`, an `x-job` field and `body`, from a thread
/// of its own, as a job runner would.
fn answer_from_a_thread(sender: &Sender, id: ConnectionId, status: StatusCode, body: String) {
    answer_with(sender, id, status, body, false);
}

/// [`answer_from_a_thread`], closing the connection after the answer if
/// `close`.
fn answer_with(sender: &Sender, id: ConnectionId, status: StatusCode, body: String, close: bool) {
    let sender = sender.clone();
    thread::spawn(move || {
        let mut answer = Answer::new(status);
        answer
            .header("X-Job", body.as_bytes())
            .unwrap()
            .body(body.as_bytes());
        if close {
            answer.close();
        }
        sender.respond(id, &answer).expect("posted");
    })
    .join()
    .expect("the runner thread");
}

/// Waits for the connection's task to end, within [`CLOSE_BOUND`]: the
/// server ended the connection, gracefully.
async fn ended(connection: JoinHandle<Result<(), h2::Error>>) {
    let ended = tokio::time::timeout(CLOSE_BOUND, connection)
        .await
        .expect("the connection ended once its streams were done");
    let ended = ended.expect("the connection's task");
    if let Err(error) = ended {
        assert!(
            error.is_go_away() && error.reason() == Some(h2::Reason::NO_ERROR),
            "not a graceful end: {error}"
        );
    }
}

/// Sends a GET for `path` on a stream of its own.
fn send(client: &mut h2::client::SendRequest<Bytes>, path: &str) -> h2::client::ResponseFuture {
    client
        .send_request(request("GET", path), true)
        .expect("send the request")
        .0
}

fn a_deferred_answer_from_another_thread_chooses_the_status_then(backend: Backend) {
    let mut runner = Runner::start(backend);
    run(async {
        let mut client = connect(runner.server.addr()).await;
        for (path, status) in [
            ("/job/fail", StatusCode::INTERNAL_SERVER_ERROR),
            ("/job/ok", StatusCode::OK),
        ] {
            let response = send(&mut client, path);
            let (id, job) = runner.next_job().await;
            assert_eq!(job, path);
            assert_ne!(id.stream(), 0, "an HTTP/2 id names its stream");
            answer_from_a_thread(&runner.sender, id, status, format!("answer to {path}"));
            let response = response.await.expect("a response");
            assert_eq!(response.status().as_u16(), status.as_u16());
            let field = response.headers().get("x-job").cloned();
            assert_eq!(field.unwrap(), format!("answer to {path}").as_str());
            let (_, body) = read_response(response).await;
            assert_eq!(body, format!("answer to {path}").into_bytes());
            let end = runner.next_end().await;
            assert_eq!((end.id, end.tag, end.outcome), (id, 7, Outcome::Sent));
        }
    });
    let stats = runner.server.stop();
    assert_eq!(stats.messages_undelivered, 0);
}

fn deferred_streams_of_one_connection_are_answered_out_of_order(backend: Backend) {
    const JOBS: usize = 8;
    let mut runner = Runner::start(backend);
    run(async {
        let mut client = connect(runner.server.addr()).await;
        let responses: Vec<_> = (0..JOBS)
            .map(|i| tokio::spawn(read(send(&mut client, &format!("/job/{i}")))))
            .collect();
        let mut jobs = Vec::new();
        for _ in 0..JOBS {
            jobs.push(runner.next_job().await);
        }
        // One connection, a stream each.
        assert!(
            jobs.iter()
                .all(|(id, _)| id.connection() == jobs[0].0.connection())
        );
        let mut streams: Vec<u32> = jobs.iter().map(|(id, _)| id.stream()).collect();
        streams.sort_unstable();
        streams.dedup();
        assert_eq!(streams.len(), JOBS);
        // The connection serves other streams while they wait.
        assert_eq!(get(&mut client, "/other").await, (200, b"ok".to_vec()));
        // Answered last to first.
        for (id, path) in jobs.into_iter().rev() {
            answer_from_a_thread(&runner.sender, id, StatusCode::OK, format!("done {path}"));
        }
        for (i, response) in responses.into_iter().enumerate() {
            let (status, body) = response.await.expect("the reader");
            assert_eq!((status, body), (200, format!("done /job/{i}").into_bytes()));
        }
        for _ in 0..JOBS {
            assert_eq!(runner.next_end().await.outcome, Outcome::Sent);
        }
    });
    let stats = runner.server.stop();
    assert_eq!(stats.messages_undelivered, 0);
}

fn an_answer_to_a_stream_the_client_reset_is_dropped_and_counted(backend: Backend) {
    let mut runner = Runner::start(backend);
    run(async {
        let mut client = connect(runner.server.addr()).await;
        let response = send(&mut client, "/job/gone");
        let (id, _) = runner.next_job().await;
        // Every handle of the stream dropped: the client resets it.
        drop(response);
        let end = runner.next_end().await;
        assert_eq!((end.id, end.tag, end.outcome), (id, 7, Outcome::Aborted));
        answer_from_a_thread(&runner.sender, id, StatusCode::OK, "late".into());
        // The connection goes on, and serves the next job.
        assert_eq!(get(&mut client, "/other").await, (200, b"ok".to_vec()));
        let response = send(&mut client, "/job/next");
        let (next, _) = runner.next_job().await;
        answer_from_a_thread(&runner.sender, next, StatusCode::OK, "next".into());
        assert_eq!(read(response).await, (200, b"next".to_vec()));
    });
    let stats = runner.server.stop();
    assert_eq!(stats.messages_undelivered, 1);
}

/// How many events are published.
const EVENTS: u64 = 20;

/// Reads the event stream of `response` until `count` events came;
/// returns their data lines.
async fn events(response: h2::client::ResponseFuture, count: usize) -> Vec<String> {
    let response = response.await.expect("a response");
    assert_eq!(response.status().as_u16(), 200);
    let mut body = response.into_body();
    let mut text = String::new();
    loop {
        let data: Vec<String> = text
            .lines()
            .filter_map(|line| line.strip_prefix("data: "))
            .map(str::to_owned)
            .collect();
        if data.len() >= count {
            return data;
        }
        let chunk = body
            .data()
            .await
            .expect("the feed goes on")
            .expect("feed data");
        let _ = body.flow_control().release_capacity(chunk.len());
        text.push_str(std::str::from_utf8(&chunk).expect("text"));
    }
}

fn publications_reach_every_stream_on_every_connection_in_order(backend: Backend) {
    const CONNECTIONS: usize = 3;
    const STREAMS: usize = 4;
    let runner = Runner::start(backend);
    run(async {
        let mut feeds = Vec::new();
        let mut clients = Vec::new();
        for _ in 0..CONNECTIONS {
            let mut client = connect(runner.server.addr()).await;
            for _ in 0..STREAMS {
                let response = send(&mut client, "/events");
                feeds.push(tokio::spawn(events(response, EVENTS as usize)));
            }
            // Every stream subscribed once a request after them on the
            // same connection is answered (streams run in order).
            assert_eq!(get(&mut client, "/other").await, (200, b"ok".to_vec()));
            clients.push(client);
        }
        for number in 1..=EVENTS {
            publish(&runner.sender, number);
        }
        let expected: Vec<String> = (1..=EVENTS).map(|n| format!("tick {n}")).collect();
        assert_eq!(feeds.len(), CONNECTIONS * STREAMS);
        for feed in feeds {
            assert_eq!(feed.await.expect("the reader"), expected);
        }
    });
    let stats = runner.server.stop();
    assert_eq!(stats.messages_undelivered, 0);
}

fn an_answer_that_closes_ends_the_connection_once_the_streams_begun_are_done(backend: Backend) {
    let mut runner = Runner::start(backend);
    run(async {
        let (mut client, connection) = connect_watched(runner.server.addr()).await;
        let first = send(&mut client, "/job/first");
        let (first_id, _) = runner.next_job().await;
        let second = send(&mut client, "/job/second");
        let (second_id, _) = runner.next_job().await;
        answer_with(
            &runner.sender,
            first_id,
            StatusCode::OK,
            "first".into(),
            true,
        );
        assert_eq!(read(first).await, (200, b"first".to_vec()));
        // The stream begun before the answer goes on.
        answer_from_a_thread(&runner.sender, second_id, StatusCode::OK, "second".into());
        assert_eq!(read(second).await, (200, b"second".to_vec()));
        // Then the connection ends.
        ended(connection).await;
        for _ in 0..2 {
            assert_eq!(runner.next_end().await.outcome, Outcome::Sent);
        }
    });
    let stats = runner.server.stop();
    assert_eq!(stats.messages_undelivered, 0);
}

fn a_response_that_closes_ends_the_connection_once_the_streams_begun_are_done(backend: Backend) {
    let mut runner = Runner::start(backend);
    run(async {
        let (mut client, connection) = connect_watched(runner.server.addr()).await;
        let held = send(&mut client, "/job/held");
        let (id, _) = runner.next_job().await;
        assert_eq!(get(&mut client, "/close").await, (200, b"closing".to_vec()));
        // The stream begun before it goes on.
        answer_from_a_thread(&runner.sender, id, StatusCode::OK, "held".into());
        assert_eq!(read(held).await, (200, b"held".to_vec()));
        // Then the connection ends.
        ended(connection).await;
    });
    runner.server.stop();
}
