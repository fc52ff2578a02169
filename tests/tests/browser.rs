//! The `chat` example in a real browser: two headless Chromium pages join
//! the same room over WebSocket, and a message typed in one appears in
//! the other (and in its own), while a page in another room hears
//! nothing. The server runs two workers, so the pages may well be served
//! by different ones.
//!
//! With compression allowed, Chromium (which offers permessage-deflate on
//! every connection) negotiates it, the pages work the same, and the
//! server's counters show the messages went compressed both ways.
//!
//! Skipped (with a line saying so) when no Chromium is found, unless
//! `PEREGRINE_REQUIRE_BROWSER=1`, as CI sets it: then it fails.
#![cfg(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "dragonfly"
))]

use std::time::Duration;

use peregrine_core::{Config, DeflatePolicy};
use peregrine_examples::chat::Chat;
use peregrine_tests::browser::{self, Browser};
use peregrine_tests::{Options, TestServer};
use serde_json::json;

/// How long each evaluation may take.
const EVAL: Duration = Duration::from_secs(10);

/// The browser, or `None` to skip (after checking that the environment
/// does not require one).
fn chromium() -> Option<std::path::PathBuf> {
    let chromium = browser::find_chromium();
    if chromium.is_none() {
        assert!(
            !browser::required(),
            "PEREGRINE_REQUIRE_BROWSER=1 but no Chromium was found: install one \
             (.ci/install-browser) or point PEREGRINE_CHROMIUM at it"
        );
        eprintln!("browser: skipped, no Chromium found");
    }
    chromium
}

#[test]
fn two_chat_pages_exchange_a_message_through_the_server() {
    let Some(chromium) = chromium() else {
        return;
    };
    let (server, _) = TestServer::start_with_sender(Options::default(), Chat::new);
    let mut browser = Browser::launch(&chromium)
        .unwrap_or_else(|e| panic!("cannot launch {}: {e}", chromium.display()));
    let url = |query: &str| format!("http://{}/?{query}", server.addr());
    let alice = browser.open(&url("room=garden&name=alice")).unwrap();
    let bob = browser.open(&url("room=garden&name=bob")).unwrap();
    let carol = browser.open(&url("room=attic&name=carol")).unwrap();
    for page in [&alice, &bob, &carol] {
        assert_eq!(
            browser.eval(page, "chat.ready", EVAL).unwrap(),
            json!(true),
            "the page's WebSocket opened"
        );
    }

    browser
        .eval(&alice, "chat.send('hello from a real browser')", EVAL)
        .unwrap();
    let line = "alice: hello from a real browser";
    let wait = format!("chat.waitFor({line:?}, 5000)");
    assert_eq!(browser.eval(&bob, &wait, EVAL).unwrap(), json!(true), "bob");
    assert_eq!(
        browser.eval(&alice, &wait, EVAL).unwrap(),
        json!(true),
        "alice"
    );
    // The page shows it, too.
    assert_eq!(
        browser
            .eval(&bob, "document.getElementById('log').textContent", EVAL)
            .unwrap(),
        json!(line)
    );

    // And back, through the form as a person would use it.
    let reply = "document.getElementById('text').value = 'hi alice'; \
                 document.getElementById('send').click(); true";
    browser.eval(&bob, reply, EVAL).unwrap();
    assert_eq!(
        browser
            .eval(&alice, "chat.waitFor('bob: hi alice', 5000)", EVAL)
            .unwrap(),
        json!(true)
    );
    // Another room heard none of it.
    assert_eq!(
        browser.eval(&carol, "chat.messages.length", EVAL).unwrap(),
        json!(0)
    );
    drop(browser);
    let stats = server.stop();
    assert_eq!(stats.messages_undelivered, 0);
}

#[test]
fn chat_pages_talk_compressed_when_the_server_allows_it() {
    let Some(chromium) = chromium() else {
        return;
    };
    let mut browser = Browser::launch(&chromium)
        .unwrap_or_else(|e| panic!("cannot launch {}: {e}", chromium.display()));
    let policies = [
        (
            DeflatePolicy::NoContextTakeover,
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        ),
        (
            DeflatePolicy::ContextTakeover { contexts: 4 },
            "permessage-deflate",
        ),
    ];
    for (policy, extensions) in policies {
        let options = Options {
            config: Config {
                websocket_deflate: policy,
                ..Config::DEFAULT
            },
            ..Options::default()
        };
        let (server, _) = TestServer::start_with_sender(options, Chat::new);
        let url = |name: &str| format!("http://{}/?room=deck&name={name}", server.addr());
        let mut open = |name: &str| {
            browser
                .open(&url(name))
                .unwrap_or_else(|e| panic!("{policy:?}: cannot open {name}'s page: {e}"))
        };
        let alice = open("alice");
        let bob = open("bob");
        for page in [&alice, &bob] {
            assert_eq!(browser.eval(page, "chat.ready", EVAL).unwrap(), json!(true));
            assert_eq!(
                browser.eval(page, "chat.socket.extensions", EVAL).unwrap(),
                json!(extensions),
                "{policy:?}"
            );
        }
        // Chat lines that repeat themselves, as JSON and chat logs do:
        // 2,000 characters each, well over the 64-byte threshold.
        let mut lines = Vec::new();
        for (from, name, to, word) in [
            (&alice, "alice", &bob, "ahoy"),
            (&bob, "bob", &alice, "aye"),
            (&alice, "alice", &bob, "avast"),
        ] {
            let text = format!("{word} matey, ").repeat(2000 / (word.len() + 8));
            browser
                .eval(from, &format!("chat.send({text:?}); true"), EVAL)
                .unwrap();
            let line = format!("{name}: {text}");
            let wait = format!("chat.waitFor({line:?}, 5000)");
            assert_eq!(
                browser.eval(to, &wait, EVAL).unwrap(),
                json!(true),
                "{policy:?}"
            );
            assert_eq!(
                browser.eval(from, &wait, EVAL).unwrap(),
                json!(true),
                "{policy:?}"
            );
            lines.push(line);
        }
        // The page shows what arrived, decompressed by the browser.
        let shown = browser
            .eval(&bob, "document.getElementById('log').textContent", EVAL)
            .unwrap();
        assert!(
            shown == json!(lines.concat()),
            "{policy:?}: bob's page shows {shown:.200}"
        );
        browser.close_page(&alice).unwrap();
        browser.close_page(&bob).unwrap();
        let stats = server.stop();
        // Chromium compressed the three it sent; the server compressed the
        // six it relayed (each line to both pages).
        assert_eq!(stats.deflate_received, 3, "{policy:?}: {stats:?}");
        assert_eq!(stats.deflate_sent, 6, "{policy:?}: {stats:?}");
        let plain: u64 = lines.iter().map(|line| line.len() as u64).sum();
        assert_eq!(stats.deflate_sent_plain_bytes, 2 * plain, "{stats:?}");
        assert_eq!(stats.deflate_received_plain_bytes, plain, "{stats:?}");
        // A line that repeats itself is a few dozen bytes on the wire.
        assert!(
            stats.deflate_sent_wire_bytes * 10 < stats.deflate_sent_plain_bytes,
            "{stats:?}"
        );
        assert!(
            stats.deflate_received_wire_bytes * 10 < stats.deflate_received_plain_bytes,
            "{stats:?}"
        );
        assert_eq!(stats.messages_undelivered, 0);
    }
}
