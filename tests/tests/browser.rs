//! The `chat` example in a real browser: two headless Chromium pages join
//! the same room over WebSocket, and a message typed in one appears in
//! the other (and in its own), while a page in another room hears
//! nothing. The server runs two workers, so the pages may well be served
//! by different ones.
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

use peregrine_examples::chat::Chat;
use peregrine_tests::browser::{self, Browser};
use peregrine_tests::{Options, TestServer};
use serde_json::json;

/// How long each evaluation may take.
const EVAL: Duration = Duration::from_secs(10);

#[test]
fn two_chat_pages_exchange_a_message_through_the_server() {
    let Some(chromium) = browser::find_chromium() else {
        assert!(
            !browser::required(),
            "PEREGRINE_REQUIRE_BROWSER=1 but no Chromium was found: install one \
             (.ci/install-browser) or point PEREGRINE_CHROMIUM at it"
        );
        eprintln!("browser: skipped, no Chromium found");
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
