//! The tokio server's wake-ups: a body parked on `Fill::Pending` is
//! resumed by another task through `Handle::wake`, and other connections
//! are served meanwhile.

use std::time::{Duration, Instant};

use peregrine_examples::later::{BODY, DELAY, Later};
use peregrine_examples::tokio_driver::{Handle, Server};
use peregrine_tests::{Client, Options, STOP_TIMEOUT, get};

/// Serves [`Later`] on a runtime of its own and runs `test` against it,
/// then shuts it down and waits (bounded) for it to stop.
fn with_later_server(test: impl FnOnce(std::net::SocketAddr)) {
    let runtime = ::tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let listener = runtime
        .block_on(::tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let handle = Handle::default();
    let server: Server = Server {
        config: Options::default().config,
        grace: Duration::from_secs(1),
        handle: handle.clone(),
    };
    let running = runtime.spawn(server.run(listener, Later::new(handle.clone())));
    test(addr);
    handle.shutdown();
    let totals = runtime
        .block_on(async { ::tokio::time::timeout(STOP_TIMEOUT, running).await })
        .expect("the server stopped in time")
        .expect("the server did not panic");
    assert!(totals.accepted >= 1, "{totals:?}");
}

#[test]
fn a_parked_body_is_woken_by_another_task() {
    with_later_server(|addr| {
        let mut later = Client::connect(addr);
        let started = Instant::now();
        later.send(&get("/later"));
        // While it waits, the server answers others.
        let mut other = Client::connect(addr);
        other.send(&get("/"));
        assert_eq!(other.response().body, b"Hello, World!");
        let response = later.response();
        assert_eq!(response.status, 200, "{response:?}");
        assert_eq!(response.body, BODY);
        assert!(started.elapsed() >= DELAY, "answered before the wake");
        // The connection is kept, and serves the next request.
        later.send(&get("/later"));
        assert_eq!(later.response().body, BODY);
    });
}

#[test]
fn a_wake_for_a_connection_that_is_gone_is_harmless() {
    with_later_server(|addr| {
        let mut gone = Client::connect(addr);
        gone.send(&get("/later"));
        drop(gone);
        // Its wake comes after it closed; the server goes on serving.
        let mut client = Client::connect(addr);
        client.send(&get("/later"));
        assert_eq!(client.response().body, BODY);
    });
}
