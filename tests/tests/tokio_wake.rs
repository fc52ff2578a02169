//! Wake-ups of a body parked on `Fill::Pending` from elsewhere than its
//! handler: by another task through the tokio server's `Handle::wake`,
//! and by another thread through the `Sender` of the readiness backends
//! and of every model of the portable one. Other connections are served
//! meanwhile, and a wake-up for a connection that is gone is harmless.

use std::time::{Duration, Instant};

use peregrine_examples::later::{BODY, DELAY, Later};
use peregrine_examples::tokio_driver::{Handle, Server};
use peregrine_tests::{
    Backend, Client, Options, STOP_TIMEOUT, TestServer, get, native_backend_tests,
};

native_backend_tests!(
    [concurrent] a_parked_body_is_woken_by_another_thread,
    a_sender_wake_for_a_connection_that_is_gone_is_harmless,
);

/// Serves [`Later`], waking through the server's sender, on `backend`,
/// and runs `test` against it; then stops it.
fn with_later_sender_server(backend: Backend, test: impl FnOnce(std::net::SocketAddr)) {
    let (server, _) = TestServer::start_with_sender_on(backend, Options::default(), Later::new);
    test(server.addr());
    let stats = server.stop();
    assert!(stats.connections_accepted >= 1, "{stats:?}");
}

fn a_parked_body_is_woken_by_another_thread(backend: Backend) {
    with_later_sender_server(backend, parked_body_is_woken);
}

fn a_sender_wake_for_a_connection_that_is_gone_is_harmless(backend: Backend) {
    with_later_sender_server(backend, wake_for_a_connection_gone_is_harmless);
}

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
    with_later_server(parked_body_is_woken);
}

#[test]
fn a_wake_for_a_connection_that_is_gone_is_harmless() {
    with_later_server(wake_for_a_connection_gone_is_harmless);
}

/// `/later` is answered once woken, not before, while another connection
/// is served; the connection then serves the next request.
fn parked_body_is_woken(addr: std::net::SocketAddr) {
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
}

/// A wake-up for a connection that closed before it is harmless.
fn wake_for_a_connection_gone_is_harmless(addr: std::net::SocketAddr) {
    let mut gone = Client::connect(addr);
    gone.send(&get("/later"));
    drop(gone);
    // Its wake comes after it closed; the server goes on serving.
    let mut client = Client::connect(addr);
    client.send(&get("/later"));
    assert_eq!(client.response().body, BODY);
}
