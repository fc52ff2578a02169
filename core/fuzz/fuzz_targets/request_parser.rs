//! Arbitrary bytes through the request parser, whole and in pieces: it
//! never panics, and however the input is split the outcome is the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peregrine_core::{Error, Parsed, RequestParser};

/// An owned summary of one parse, for comparing split and whole runs.
#[derive(Debug, PartialEq)]
enum Outcome {
    Complete(usize, Vec<(Vec<u8>, Vec<u8>)>),
    Partial,
    Failed(Error),
}

fn summarise(result: Result<Parsed<'_>, Error>) -> Outcome {
    match result {
        Ok(Parsed::Complete(request)) => {
            // Exercise every on-demand accessor: none may panic.
            let _ = (request.path(), request.query(), request.method_str());
            let _ = (
                request.body_framing(),
                request.keep_alive(),
                request.expects_continue(),
            );
            let _ = (
                request.is_websocket_upgrade(),
                request.content_length(),
                request.is_chunked(),
            );
            let headers = request
                .headers()
                .iter()
                .map(|h| (h.name.to_vec(), h.value.to_vec()));
            Outcome::Complete(request.head_len(), headers.collect())
        }
        Ok(Parsed::Partial) => Outcome::Partial,
        Err(error) => Outcome::Failed(error),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, input)) = data.split_first() else {
        return;
    };
    let whole = summarise(
        RequestParser::<16>::new()
            .with_max_target_len(512)
            .parse(input),
    );

    // The same input in pieces of `split % 7 + 1` bytes.
    let step = usize::from(split % 7) + 1;
    let mut parser = RequestParser::<16>::new().with_max_target_len(512);
    let mut end = 0;
    let mut pieces = Outcome::Partial;
    while end < input.len() && pieces == Outcome::Partial {
        end = (end + step).min(input.len());
        pieces = summarise(parser.parse(&input[..end]));
    }
    if input.is_empty() {
        pieces = summarise(parser.parse(input));
    }
    assert_eq!(whole, pieces, "split into pieces of {step}");
});
