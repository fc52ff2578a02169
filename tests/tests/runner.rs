//! The `runner` example over real sockets: jobs handed to runner threads
//! are answered when done (200, or 500 for a failed job, never a 200 sent
//! before), a full queue is a 503 at once, `/ping` keeps answering at once
//! while every runner is busy, and `/shutdown` stops the server from
//! inside a handler. On the readiness backends and every model of the
//! portable one that serves several connections at once.

use std::time::{Duration, Instant};

use peregrine_examples::runner::{Runner, Runners};
use peregrine_tests::{
    Backend, Client, Options, STOP_TIMEOUT, TestServer, get, h2c_tests, native_backend_tests,
};

native_backend_tests!(
    [concurrent] forty_jobs_on_two_runners_finish_while_ping_answers_at_once,
    [concurrent] a_failed_job_gets_500_and_a_full_queue_503,
    [concurrent] shutdown_from_a_handler_stops_the_server_gracefully,
);

// The exchanges that mean the same over HTTP/2.
h2c_tests!(
    forty_jobs_on_two_runners_finish_while_ping_answers_at_once,
    a_failed_job_gets_500_and_a_full_queue_503,
    shutdown_from_a_handler_stops_the_server_gracefully,
);

/// A runner server on `backend` with `runners` threads and room for
/// `capacity` jobs waiting (and, on the portable backend, for 48
/// connections at once).
fn start(backend: Backend, runners: usize, capacity: usize) -> (TestServer, Runners) {
    let mut threads = None;
    let options = Options {
        threads: 48,
        ..Options::default()
    };
    let (server, _) = TestServer::start_with_handles_on(backend, options, |sender, shutdown| {
        let (runner, started) = Runner::start(runners, capacity, sender, shutdown);
        threads = Some(started);
        runner
    });
    (server, threads.expect("the runners"))
}

/// A `POST /run` of `job`.
fn run(job: &str) -> Vec<u8> {
    format!(
        "POST /run HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{job}",
        job.len()
    )
    .into_bytes()
}

fn forty_jobs_on_two_runners_finish_while_ping_answers_at_once(backend: Backend) {
    let (server, _runners) = start(backend, 2, 64);
    let started = Instant::now();
    let mut clients: Vec<Client> = (0..40)
        .map(|_| {
            let mut client = server.connect();
            client.send(&run("sleep 100"));
            client
        })
        .collect();
    // While the runners work (20 rounds of 100 ms), the worker answers.
    let mut ping = server.connect();
    let mut latencies = Vec::new();
    while started.elapsed() < Duration::from_millis(1_500) {
        let sent = Instant::now();
        ping.send(&get("/ping"));
        assert_eq!(ping.response().body, b"pong");
        latencies.push(sent.elapsed());
        std::thread::sleep(Duration::from_millis(20));
    }
    for client in &mut clients {
        let response = client.response();
        assert_eq!((response.status, &response.body[..]), (200, &b"done\n"[..]));
    }
    // Two runners, 40 jobs of 100 ms: at least 2 s in all.
    assert!(started.elapsed() >= Duration::from_millis(2_000));
    latencies.sort();
    let p90 = latencies[latencies.len() * 9 / 10];
    assert!(
        p90 <= Duration::from_millis(10),
        "ping p90 {p90:?} of {latencies:?}"
    );
    server.stop();
}

fn a_failed_job_gets_500_and_a_full_queue_503(backend: Backend) {
    let (server, _runners) = start(backend, 1, 1);
    let mut failed = server.connect();
    failed.send(&run("fail"));
    let response = failed.response();
    assert_eq!(response.status, 500);
    assert_eq!(response.body, b"the job failed\n");
    // One runner and room for one job waiting: of three jobs sent at
    // once, at most two are taken (one running, one waiting), and the
    // others are refused at once, whatever the runner picked up first.
    let mut clients: Vec<Client> = (0..3)
        .map(|_| {
            let mut client = server.connect();
            client.send(&run("sleep 300"));
            client
        })
        .collect();
    let sent = Instant::now();
    let mut refused = 0;
    let mut done = 0;
    for client in &mut clients {
        let response = client.response();
        match response.status {
            503 => {
                refused += 1;
                assert_eq!(response.header("retry-after"), Some("1"));
            }
            200 => done += 1,
            other => panic!("status {other}"),
        }
    }
    assert!(refused >= 1 && done >= 1, "{refused} refused, {done} done");
    assert!(sent.elapsed() >= Duration::from_millis(300));
    server.stop();
}

fn shutdown_from_a_handler_stops_the_server_gracefully(backend: Backend) {
    let (mut server, _runners) = start(backend, 1, 4);
    let mut job = server.connect();
    job.send(&run("sleep 200"));
    // The job is in hand before the shutdown, however late a client
    // library puts it on the wire.
    server.wait_for_requests(1);
    let mut admin = server.connect();
    admin.send(b"POST /shutdown HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(admin.response().body, b"stopping");
    // The job in hand is still answered.
    assert_eq!(job.response().status, 200);
    let stats = server.wait(Duration::from_secs(10));
    assert!(stats.requests >= 2);
}

#[test]
fn the_example_runs_with_a_sender_on_a_single_std_thread() {
    // The example as its `main` runs it, through `run_with_sender`, on a
    // port free a moment ago.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let args = [
        "--port",
        &port.to_string(),
        "--backend",
        "std",
        "--model",
        "single",
    ]
    .map(str::to_owned);
    let options = peregrine_examples::Options::parse(args.into_iter()).expect("options");
    let (started, bound) = std::sync::mpsc::channel();
    let (stopped, done) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut threads = None;
        let stats = options.run_with_sender("runner", |shutdown, sender| {
            let (runner, started_runners) = Runner::start(1, 4, sender, shutdown);
            threads = Some(started_runners);
            let _ = started.send(());
            runner
        });
        drop(threads);
        let _ = stopped.send(stats);
    });
    if bound.recv_timeout(STOP_TIMEOUT).is_err() {
        panic!("runner did not start: {:?}", done.try_recv());
    }
    let mut client = Client::connect(([127, 0, 0, 1], port).into());
    client.send(&run("sleep 10"));
    let response = client.response();
    assert_eq!((response.status, &response.body[..]), (200, &b"done\n"[..]));
    client.send(b"POST /shutdown HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(client.response().body, b"stopping");
    drop(client);
    let stats = done
        .recv_timeout(STOP_TIMEOUT)
        .expect("the server stopped in time")
        .expect("the server ran");
    assert_eq!(stats.requests, 2);
}
