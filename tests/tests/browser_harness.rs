//! The headless-browser harness (`peregrine_tests::browser`) against a real
//! Chromium: pages load (from a data URL and from a Peregrine server),
//! scripts run, values and promises come back, exceptions and timeouts
//! are errors, and two pages are driven side by side.
//!
//! Skipped (with a line saying so) when no Chromium is found, unless
//! `PEREGRINE_REQUIRE_BROWSER=1`, as CI sets it: then it fails.

use std::io;
use std::time::{Duration, Instant};

use peregrine_examples::hello::Hello;
use peregrine_tests::browser::{self, Browser};
use peregrine_tests::{Backend, TestServer};
use serde_json::json;

/// How long each evaluation may take.
const EVAL: Duration = Duration::from_secs(5);

#[test]
fn harness_drives_headless_chromium() {
    let Some(chromium) = browser::find_chromium() else {
        assert!(
            !browser::required(),
            "PEREGRINE_REQUIRE_BROWSER=1 but no Chromium was found: install one \
             (.ci/install-browser) or point PEREGRINE_CHROMIUM at it"
        );
        eprintln!(
            "browser_harness: skipped, no Chromium found (set PEREGRINE_CHROMIUM or put \
             chromium in PATH)"
        );
        return;
    };
    let started = Instant::now();
    let mut browser = Browser::launch(&chromium)
        .unwrap_or_else(|e| panic!("cannot launch {}: {e}", chromium.display()));
    let version = browser.version().unwrap();
    eprintln!(
        "browser_harness: {version} launched in {:?}",
        started.elapsed()
    );

    // A page whose script has run by the time `open` returns.
    let first = browser
        .open("data:text/html,<title>first</title><script>window.answer=42</script>")
        .unwrap();
    assert_eq!(
        browser.eval(&first, "window.answer", EVAL).unwrap(),
        json!(42)
    );
    assert_eq!(
        browser.eval(&first, "document.title", EVAL).unwrap(),
        json!("first")
    );
    assert_eq!(
        browser
            .eval(&first, "({ a: [1, 'two', null], b: true })", EVAL)
            .unwrap(),
        json!({ "a": [1, "two", null], "b": true })
    );
    assert_eq!(
        browser.eval(&first, "undefined", EVAL).unwrap(),
        json!(null)
    );

    // Promises are awaited.
    assert_eq!(
        browser
            .eval(
                &first,
                "new Promise(r => setTimeout(() => r('later'), 50))",
                EVAL
            )
            .unwrap(),
        json!("later")
    );

    // Exceptions and rejections are errors carrying the exception; the
    // connection is still in step afterwards.
    let thrown = browser
        .eval(&first, "(() => { throw new Error('boom') })()", EVAL)
        .unwrap_err();
    assert!(thrown.to_string().contains("Error: boom"), "{thrown}");
    let rejected = browser
        .eval(&first, "Promise.reject(new TypeError('nope'))", EVAL)
        .unwrap_err();
    assert!(
        rejected.to_string().contains("TypeError: nope"),
        "{rejected}"
    );
    let syntax = browser.eval(&first, "1 +", EVAL).unwrap_err();
    assert!(syntax.to_string().contains("SyntaxError"), "{syntax}");
    assert_eq!(browser.eval(&first, "1 + 1", EVAL).unwrap(), json!(2));

    // A promise that settles too late times out; its late answer does not
    // pass for the next evaluation's.
    let late = browser
        .eval(
            &first,
            "new Promise(r => setTimeout(() => r('stale'), 300))",
            Duration::from_millis(100),
        )
        .unwrap_err();
    assert_eq!(late.kind(), io::ErrorKind::TimedOut, "{late}");
    assert_eq!(
        browser
            .eval(
                &first,
                "new Promise(r => setTimeout(() => r('fresh'), 400))",
                EVAL
            )
            .unwrap(),
        json!("fresh")
    );

    // A second page, served by Peregrine, alongside the first: each is
    // evaluated in its own document, and the first (now in a background
    // tab) still runs its timers promptly.
    let server = TestServer::start(Backend::StdPool, Hello::new());
    let second = browser.open(&server.url("/")).unwrap();
    assert_eq!(
        browser
            .eval(&second, "document.body.innerText", EVAL)
            .unwrap(),
        json!("Hello, World!")
    );
    assert_eq!(
        browser.eval(&second, "window.answer", EVAL).unwrap(),
        json!(null)
    );
    // Throttled, a background tab's timers would fire on one-second
    // wake-ups: five 20 ms timers in a row would take over 4 s.
    let took = browser
        .eval(
            &first,
            "(async () => { const t = performance.now(); \
             for (let i = 0; i < 5; i++) await new Promise(r => setTimeout(r, 20)); \
             return performance.now() - t })()",
            EVAL,
        )
        .unwrap();
    let took = took.as_f64().expect("a number of milliseconds");
    eprintln!("browser_harness: five 20 ms timers in a background page took {took:.0} ms");
    assert!(
        took < 1000.0,
        "five 20 ms timers in a background page took {took} ms"
    );
    assert_eq!(
        browser.eval(&first, "window.answer", EVAL).unwrap(),
        json!(42)
    );

    // Pages that cannot load are errors.
    let refused = browser.open("http://127.0.0.1:1/").unwrap_err();
    assert!(refused.to_string().contains("ERR_"), "{refused}");

    // A closed page can no longer be evaluated in; the other one can.
    browser.close_page(&second).unwrap();
    let closed = browser.eval(&second, "1", EVAL).unwrap_err();
    assert_eq!(closed.kind(), io::ErrorKind::NotConnected, "{closed}");
    assert_eq!(
        browser.eval(&first, "window.answer", EVAL).unwrap(),
        json!(42)
    );

    drop(browser);
    eprintln!("browser_harness: done in {:?}", started.elapsed());
}
