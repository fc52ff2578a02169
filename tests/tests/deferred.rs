//! Deferred responses over real sockets, on the readiness backends and
//! every model of the portable one: a
//! handler hands a request to a runner thread and answers nothing; the
//! runner answers through the `Sender` once its job is done, choosing
//! the status then (500 for a job that failed, never a 200 sent before).
//! Requests pipelined behind a deferred one wait for it, in order; a
//! client that leaves while its answer is pending is noticed, and a late
//! answer is dropped and counted.

use std::sync::{Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use peregrine_core::{ConnectionId, Finished, Outcome, Request, Response, StatusCode};
use peregrine_driver::Sender;
use peregrine_driver::answer::Answer;
use peregrine_tests::{
    Backend, Handler, Options, TestServer, get, h2c_tests, native_backend_tests,
};

/// A job: the connection waiting for its answer, and the request body.
type Job = (ConnectionId, Vec<u8>);

/// Defers `POST /job` to the runner, answers `GET /` at once (`ok`), and
/// reports the ends of deferred responses.
struct Jobs {
    /// Where jobs go.
    jobs: Mutex<mpsc::Sender<Job>>,
    /// Where ends are reported.
    ends: Mutex<mpsc::Sender<Finished>>,
}

impl Handler for Jobs {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
        match request.path() {
            b"/job" => {
                let job = (response.id(), request.body().to_vec());
                self.jobs.lock().unwrap().send(job).expect("runner");
                response.set_tag(7).defer();
            }
            _ => response.body_static(b"ok"),
        }
    }

    fn finished(&self, finished: Finished, _: &mut ()) {
        let _ = self.ends.lock().unwrap().send(finished);
    }
}

/// What the test holds of a server of [`Jobs`].
struct Runner {
    /// The server.
    server: TestServer,
    /// The jobs handed over, for the test to answer.
    jobs: mpsc::Receiver<Job>,
    /// The ends reported.
    ends: mpsc::Receiver<Finished>,
    /// What answers.
    sender: Sender,
}

impl Runner {
    /// A server of [`Jobs`] on `backend`, serving `connections` at once
    /// (on the portable backend, which gives each a thread).
    fn start(backend: Backend, connections: usize) -> Runner {
        let (jobs_tx, jobs) = mpsc::channel();
        let (ends_tx, ends) = mpsc::channel();
        let options = Options {
            threads: connections,
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

    /// The next job handed over, within 10 s.
    fn next_job(&self) -> Job {
        self.jobs
            .recv_timeout(Duration::from_secs(10))
            .expect("a job handed over")
    }

    /// The next end reported, within 10 s.
    fn next_end(&self) -> Finished {
        self.ends
            .recv_timeout(Duration::from_secs(10))
            .expect("an end reported")
    }
}

/// A `POST /job` with `body`.
fn job(body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "POST /job HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

native_backend_tests!(
    a_failed_job_is_answered_500_from_another_thread_and_the_pipeline_follows,
    [concurrent] many_deferred_connections_are_answered_each_with_its_own_result,
    a_client_that_leaves_is_noticed_and_a_late_answer_is_counted_undelivered,
    an_answer_goes_out_at_once,
);

// The exchanges that mean the same over HTTP/2.
h2c_tests!(
    a_failed_job_is_answered_500_from_another_thread_and_the_pipeline_follows,
    many_deferred_connections_are_answered_each_with_its_own_result,
    a_client_that_leaves_is_noticed_and_a_late_answer_is_counted_undelivered,
    an_answer_goes_out_at_once,
);

fn a_failed_job_is_answered_500_from_another_thread_and_the_pipeline_follows(backend: Backend) {
    let runner = Runner::start(backend, 16);
    let mut client = runner.server.connect();
    client.send(&[job(b"fail"), get("/")].concat());
    let (id, body) = runner.next_job();
    assert_eq!(body, b"fail");
    // The runner answers from a thread of its own.
    let sender = runner.sender.clone();
    thread::spawn(move || {
        let mut answer = Answer::new(StatusCode::INTERNAL_SERVER_ERROR);
        answer
            .header("Content-Type", b"text/plain")
            .unwrap()
            .body(b"the job failed");
        sender.respond(id, &answer).expect("posted");
    })
    .join()
    .unwrap();
    let failed = client.response();
    assert_eq!(failed.status, 500);
    assert_eq!(failed.header("content-type"), Some("text/plain"));
    assert_eq!(failed.body, b"the job failed");
    let next = client.response();
    assert_eq!((next.status, &next.body[..]), (200, &b"ok"[..]));
    let end = runner.next_end();
    assert_eq!((end.id, end.tag, end.outcome), (id, 7, Outcome::Sent));
    runner.server.stop();
}

fn many_deferred_connections_are_answered_each_with_its_own_result(backend: Backend) {
    // Twenty connections wait at once: a thread each on std.
    let runner = Runner::start(backend, 24);
    let mut clients: Vec<_> = (0..20).map(|_| runner.server.connect()).collect();
    for (i, client) in clients.iter_mut().enumerate() {
        client.send(&job(format!("job {i}").as_bytes()));
    }
    // Answer in reverse order of arrival, from two threads.
    let mut jobs: Vec<Job> = (0..clients.len()).map(|_| runner.next_job()).collect();
    jobs.reverse();
    let halves: Vec<Vec<Job>> = vec![jobs.split_off(jobs.len() / 2), jobs];
    let threads: Vec<_> = halves
        .into_iter()
        .map(|half| {
            let sender = runner.sender.clone();
            thread::spawn(move || {
                for (id, body) in half {
                    let mut reply = b"done: ".to_vec();
                    reply.extend_from_slice(&body);
                    let mut answer = Answer::new(StatusCode::OK);
                    answer.body(&reply);
                    sender.respond(id, &answer).expect("posted");
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    for (i, client) in clients.iter_mut().enumerate() {
        let response = client.response();
        assert_eq!(response.status, 200);
        assert_eq!(response.body, format!("done: job {i}").into_bytes());
    }
    runner.server.stop();
}

fn a_client_that_leaves_is_noticed_and_a_late_answer_is_counted_undelivered(backend: Backend) {
    let runner = Runner::start(backend, 16);
    let mut client = runner.server.connect();
    client.send(&job(b"slow"));
    let (id, _) = runner.next_job();
    drop(client);
    let end = runner.next_end();
    assert_eq!((end.id, end.outcome), (id, Outcome::Aborted));
    runner
        .sender
        .respond(id, &Answer::new(StatusCode::OK))
        .expect("posted");
    // The server goes on serving.
    let mut other = runner.server.connect();
    other.send(&get("/"));
    assert_eq!(other.response().body, b"ok");
    let stats = runner.server.stop();
    assert_eq!(stats.messages_undelivered, 1);
}

fn an_answer_goes_out_at_once(backend: Backend) {
    // A thread of the portable backend that looked at its mailbox only
    // between its 100 ms waits would take 50 ms on median.
    let runner = Runner::start(backend, 16);
    let mut client = runner.server.connect();
    let mut latencies: Vec<Duration> = (0..10)
        .map(|_| {
            client.send(&job(b"quick"));
            let (id, _) = runner.next_job();
            let posted = Instant::now();
            let mut answer = Answer::new(StatusCode::OK);
            answer.body(b"done");
            runner.sender.respond(id, &answer).expect("posted");
            assert_eq!(client.response().body, b"done");
            posted.elapsed()
        })
        .collect();
    latencies.sort();
    let median = latencies[latencies.len() / 2];
    assert!(
        median < Duration::from_millis(25),
        "median {median:?} of {latencies:?}"
    );
    runner.server.stop();
}
