//! The `json` example over real sockets, on every backend: items made,
//! read, paged, replaced and deleted as JSON; errors answered as JSON
//! with the right status; a page longer than the write buffer arrives
//! whole (chunked, through the worker's spill).

use peregrine_examples::json::{Item, Json};
use peregrine_tests::{Backend, Client, RawResponse, TestServer, backend_tests, get, h2c_tests};
use serde_json::Value;

backend_tests!(
    items_are_made_read_replaced_and_deleted,
    pages_follow_the_query,
    errors_are_answers,
    a_page_longer_than_the_write_buffer_arrives_whole,
);

// The exchanges that mean the same over HTTP/2.
h2c_tests!(
    items_are_made_read_replaced_and_deleted,
    pages_follow_the_query,
    errors_are_answers,
);

/// A request with a JSON body.
fn with_body(method: &str, path: &str, body: &str) -> Vec<u8> {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A request without a body.
fn bare(method: &str, path: &str) -> Vec<u8> {
    format!("{method} {path} HTTP/1.1\r\nHost: test\r\n\r\n").into_bytes()
}

/// Sends `request` and reads its response, checking it is JSON.
fn call(client: &mut Client, request: &[u8]) -> (RawResponse, Value) {
    client.send(request);
    let response = client.response();
    if response.status == 204 {
        return (response, Value::Null);
    }
    assert_eq!(response.header("content-type"), Some("application/json"));
    let value = serde_json::from_slice(&response.body).expect("a JSON body");
    (response, value)
}

/// Makes an item; returns it.
fn make(client: &mut Client, name: &str, price: u64) -> Item {
    let body = format!(r#"{{"name":"{name}","price":{price}}}"#);
    let (response, value) = call(client, &with_body("POST", "/items", &body));
    assert_eq!(response.status, 201, "{response:?}");
    let item: Item = serde_json::from_value(value).unwrap();
    assert_eq!(
        response.header("location"),
        Some(format!("/items/{}", item.id).as_str())
    );
    item
}

fn items_are_made_read_replaced_and_deleted(backend: Backend) {
    let server = TestServer::start(backend, Json::new());
    let mut client = server.connect();
    let kettle = make(&mut client, "kettle", 2999);
    let (name, price) = (&kettle.name, kettle.price);
    assert_eq!((name.as_str(), price), ("kettle", 2999));
    let path = format!("/items/{}", kettle.id);

    let (response, value) = call(&mut client, &get(&path));
    assert_eq!(response.status, 200);
    assert!(
        response.content_length().is_some(),
        "a short body has a length"
    );
    assert_eq!(serde_json::from_value::<Item>(value).unwrap(), kettle);

    let body = r#"{"name":"tea \"pot\" ☕","price":1500}"#;
    let (response, value) = call(&mut client, &with_body("PUT", &path, body));
    assert_eq!(response.status, 200);
    assert_eq!(value["name"], "tea \"pot\" ☕");
    let (_, value) = call(&mut client, &get(&path));
    assert_eq!(value["price"], 1500);

    client.send(format!("HEAD {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes());
    let head = client.head_response();
    assert_eq!(head.status, 200);
    assert_eq!(head.content_length(), Some(response.body.len() as u64));

    let (response, _) = call(&mut client, &bare("DELETE", &path));
    assert_eq!(response.status, 204);
    let (response, value) = call(&mut client, &get(&path));
    assert_eq!(response.status, 404);
    assert_eq!(value["error"], "no such item");
    let (response, _) = call(&mut client, &bare("DELETE", &path));
    assert_eq!(response.status, 404);
}

fn pages_follow_the_query(backend: Backend) {
    let server = TestServer::start(backend, Json::new());
    let mut client = server.connect();
    let made: Vec<Item> = (0..12)
        .map(|i| make(&mut client, &format!("n{i}"), i))
        .collect();
    let page = |client: &mut Client, query: &str| -> Vec<u64> {
        let (response, value) = call(client, &get(&format!("/items{query}")));
        assert_eq!(response.status, 200, "{query}");
        let items: Vec<Item> = serde_json::from_value(value).unwrap();
        items.iter().map(|item| item.price).collect()
    };
    assert_eq!(page(&mut client, ""), (0..12).collect::<Vec<_>>());
    assert_eq!(page(&mut client, "?limit=3"), [0, 1, 2]);
    assert_eq!(page(&mut client, "?limit=3&offset=10"), [10, 11]);
    assert_eq!(page(&mut client, "?offset=%31%31"), [11]);
    assert_eq!(page(&mut client, "?limit=0"), Vec::<u64>::new());
    assert_eq!(page(&mut client, "?offset=99"), Vec::<u64>::new());
    assert_eq!(made.len(), 12);
}

fn errors_are_answers(backend: Backend) {
    let server = TestServer::start(backend, Json::new());
    let mut client = server.connect();
    let cases: [(Vec<u8>, u16, Option<&str>); 9] = [
        (with_body("POST", "/items", "{\"name\":"), 400, None),
        (with_body("POST", "/items", "[1,2]"), 400, None),
        (
            with_body("POST", "/items", r#"{"name":"x","price":-1}"#),
            400,
            None,
        ),
        (get("/items?limit=many"), 400, None),
        (get("/items?limit=5000"), 400, None),
        (get("/items/12x"), 400, None),
        (get("/nothing"), 404, None),
        (bare("DELETE", "/items"), 405, Some("GET, HEAD, POST")),
        (
            bare("POST", "/items/3"),
            405,
            Some("GET, HEAD, PUT, DELETE"),
        ),
    ];
    for (request, status, allow) in cases {
        let (response, value) = call(&mut client, &request);
        assert_eq!(
            response.status,
            status,
            "{}",
            String::from_utf8_lossy(&request)
        );
        assert!(value["error"].is_string(), "{value}");
        assert_eq!(response.header("allow"), allow);
    }
    // Not JSON at all.
    client.send(
        b"POST /items HTTP/1.1\r\nHost: test\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi",
    );
    assert_eq!(client.response().status, 415);
    // The connection served every error and stays open.
    let (response, _) = call(&mut client, &get("/items"));
    assert_eq!(response.status, 200);
}

fn a_page_longer_than_the_write_buffer_arrives_whole(backend: Backend) {
    let server = TestServer::start(backend, Json::new());
    let mut client = server.connect();
    let long = "x".repeat(150);
    for i in 0..400 {
        make(&mut client, &format!("{long}{i}"), i);
    }
    let (response, value) = call(&mut client, &get("/items?limit=1000"));
    assert_eq!(response.status, 200);
    assert!(response.chunked, "60 KB of items outgrow the 16 KB buffer");
    assert!(response.body.len() > 60_000, "{}", response.body.len());
    let items: Vec<Item> = serde_json::from_value(value).unwrap();
    assert_eq!(items.len(), 400);
    for (i, item) in items.iter().enumerate() {
        assert_eq!(item.name, format!("{long}{i}"));
        assert_eq!(item.price, i as u64);
    }
    // And the connection goes on.
    let (response, _) = call(&mut client, &get("/items/1"));
    assert_eq!(response.status, 200);
}
