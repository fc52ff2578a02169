//! Every response that carries application state (a stream, a file, a
//! tag) reports its end exactly once to `Handler::finished`: sent, aborted
//! or never sent; and every kept file region goes back to its keeper
//! exactly once, whether it was sent, cut short or never sent.

mod support;

use peregrine_core::Outcome::{Aborted, NotSent, Sent};
use support::{Driver, gen_body};

/// The outcomes reported so far, tags left out.
fn outcomes(driver: &Driver) -> Vec<peregrine_core::Outcome> {
    driver
        .local
        .ended
        .iter()
        .map(|&(_, outcome)| outcome)
        .collect()
}

/// Offsets and lengths of the regions the keeper got back.
fn released(driver: &Driver) -> Vec<(u64, u64, u64)> {
    driver
        .keeper
        .released
        .iter()
        .map(|region| (region.handle(), region.offset(), region.len()))
        .collect()
}

#[test]
fn a_stream_reports_sent_once_its_last_chunk_is_written() {
    let mut driver = Driver::new();
    driver.arrive(b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(driver.output().ends_with("0\r\n\r\n"));
    assert_eq!(outcomes(&driver), [Sent]);
    driver.retire();
    assert_eq!(outcomes(&driver), [Sent], "reported twice");
}

#[test]
fn a_stream_is_sent_only_when_its_bytes_are_written() {
    let mut driver = Driver::new();
    // The peer takes nothing: the whole body is queued, none of it out.
    driver.write_plan = vec![0];
    driver.arrive(b"GET /gen/length/1000/100 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(driver.out.is_empty());
    assert_eq!(outcomes(&driver), []);
    driver.retire();
    assert_eq!(outcomes(&driver), [Aborted]);
}

#[test]
fn a_head_request_for_a_stream_reports_it_never_sent() {
    let mut driver = Driver::new();
    driver.arrive(b"HEAD /stream HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(outcomes(&driver), [NotSent]);
    driver.retire();
    assert_eq!(outcomes(&driver), [NotSent]);
}

#[test]
fn a_stream_given_up_is_aborted_when_the_connection_ends() {
    let mut driver = Driver::new();
    driver.arrive(b"GET /abort HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(driver.conn.is_closed() || driver.write_closed);
    assert_eq!(outcomes(&driver), [], "not over before the connection");
    driver.retire();
    assert_eq!(outcomes(&driver), [Aborted]);
    driver.retire();
    assert_eq!(outcomes(&driver), [Aborted], "reported twice");
}

#[test]
fn a_parked_stream_whose_peer_leaves_is_aborted() {
    let mut driver = Driver::new();
    driver.arrive(b"GET /parked HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(driver.conn.is_parked());
    driver.close_read();
    assert!(driver.conn.is_closed());
    driver.retire();
    assert_eq!(outcomes(&driver), [Aborted]);
}

#[test]
fn responses_without_state_report_nothing_and_tagged_ones_do() {
    let mut driver = Driver::new();
    // A streamed upload leaves its tag (the chunks counted) on the
    // response: that is state.
    driver.arrive(
        b"GET / HTTP/1.1\r\nHost: t\r\n\r\n\
          POST /in HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc",
    );
    assert_eq!(driver.local.ended, [(1, Sent)]);
}

#[test]
fn a_kept_file_goes_back_once_sent_then_its_response_ends() {
    let mut driver = Driver::new();
    driver.write_plan = vec![400];
    driver.arrive(b"GET /kept/9/100/1000 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(driver.out.ends_with(&support::file_bytes(9, 100, 1000)));
    assert_eq!(released(&driver), [(9, 1100, 0)]);
    assert_eq!(driver.local.ended, [(0, Sent)]);
    driver.retire();
    assert_eq!(driver.keeper.released.len(), 1, "released twice");
}

#[test]
fn pipelined_kept_files_go_back_in_order() {
    let mut driver = Driver::new();
    driver.arrive(
        b"GET /kept/1/0/10 HTTP/1.1\r\nHost: t\r\n\r\n\
          GET / HTTP/1.1\r\nHost: t\r\n\r\n\
          GET /kept/2/0/20 HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    let handles: Vec<u64> = released(&driver).iter().map(|r| r.0).collect();
    assert_eq!(handles, [1, 2]);
    assert_eq!(outcomes(&driver), [Sent, Sent]);
}

#[test]
fn a_kept_file_not_sent_goes_back_when_the_connection_ends() {
    let mut driver = Driver::new();
    driver.write_plan = vec![0];
    driver.arrive(b"GET /kept/5/0/5000 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(driver.keeper.released.is_empty());
    driver.retire();
    assert_eq!(released(&driver), [(5, 0, 5000)]);
    assert_eq!(outcomes(&driver), [Aborted]);
    driver.retire();
    assert_eq!(driver.keeper.released.len(), 1, "released twice");
}

#[test]
fn a_kept_file_of_a_head_request_goes_back_at_once() {
    let mut driver = Driver::new();
    driver.arrive(b"HEAD /kept/5/0/5000 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(driver.output().contains("Content-Length: 5000"));
    assert_eq!(released(&driver), [(5, 0, 5000)]);
    assert_eq!(outcomes(&driver), [NotSent]);
}

#[test]
fn a_long_stream_written_in_pieces_reports_once() {
    let mut driver = Driver::new();
    driver.write_plan = vec![7, 300, 1];
    driver.arrive(b"GET /gen/chunked/5000/333 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(driver.output().ends_with("0\r\n\r\n"));
    let body = gen_body(5000);
    let at = driver
        .out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap()
        + 4;
    let mut bytes = driver.out[at..].to_vec();
    let decoded = peregrine_core::chunked::ChunkedDecoder::new()
        .decode_in_place(&mut bytes)
        .unwrap();
    assert!(decoded.done);
    assert!(bytes[..decoded.produced] == body[..], "the body differs");
    assert_eq!(outcomes(&driver), [Sent]);
}
