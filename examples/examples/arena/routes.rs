//! The entry's handler: one for every port, routing by path to the
//! profiles' modules, and the state each worker keeps. Over HTTP/2 the
//! requests and answers are the same as over HTTP/1.1.
//!
//! | path | profile | module |
//! |---|---|---|
//! | `/baseline11?a=&b=` | baseline, limited-conn | [`baseline`](crate::baseline) |
//! | `/baseline2?a=&b=` | baseline-h2, baseline-h2c | [`baseline`](crate::baseline) |
//! | `/pipeline` | pipelined | [`baseline`](crate::baseline) |
//! | `/json/{count}?m=` | json, json-comp, json-tls, json-h2c | [`json`](crate::json) |
//! | `/upload` | upload | [`upload`](crate::upload) |
//! | `/static/{name}` | static, static-h2 | [`files`](crate::files) |
//! | `/ws` | echo-ws | [`ws`](crate::ws) |
//!
//! Anything else is `404`.

use std::path::Path;
use std::sync::Arc;

use peregrine_core::ws::{Handshake, Message};
use peregrine_core::{BodyPolicy, Handler, Request, Response, Upgrade, WebSocket};
use peregrine_driver::Files;
use peregrine_driver::compress::{Compression, Compressors};

use crate::json::Dataset;
use crate::{baseline, files, json, upload, ws};

/// What every worker of every port shares: the data set and the static
/// files. Cloned for each port's server.
#[derive(Clone)]
pub struct Arena {
    /// The shared part.
    shared: Arc<Shared>,
}

/// See [`Arena`].
struct Shared {
    /// `DIR/dataset.json`.
    dataset: Dataset,
    /// `DIR/static`, at `/static`.
    files: Files,
}

impl Arena {
    /// Reads `DIR/dataset.json` and opens `DIR/static`.
    ///
    /// # Errors
    ///
    /// If either is missing or the data set is malformed.
    pub fn load(data: &Path) -> std::io::Result<Arena> {
        let dataset = Dataset::load(&data.join("dataset.json"))?;
        let files = files::open(data)?;
        Ok(Arena {
            shared: Arc::new(Shared { dataset, files }),
        })
    }

    /// Items in the data set.
    pub fn items(&self) -> usize {
        self.shared.dataset.len()
    }
}

/// What each worker keeps for itself, made once when it starts: the
/// driver's compressors and the buffer a JSON answer is serialized into
/// before they compress it. Nothing is allocated per request once both
/// have been used.
pub struct Worker {
    /// gzip and brotli encoders and their scratch memory.
    compressors: Compressors,
    /// Where a JSON answer to compress is written.
    pub json: Vec<u8>,
}

/// How JSON answers are compressed: gzip at level 6 (zlib-rs), and no
/// brotli. Over json-comp's three requests (HttpArena sends `gzip, br`),
/// measured per response on one worker: gzip 6 spends 63 µs of CPU for
/// 1,255 bytes on average, brotli (the pure-Rust encoder, whose state is
/// made afresh and its hash table cleared for each response) 78 µs for
/// 1,230 bytes at quality 3 and 107 µs for 1,223 at quality 4. A client
/// that accepts only brotli gets the JSON as it is.
const COMPRESSION: Compression = Compression::new().gzip_level(6).brotli(None);

/// The largest JSON answer compressed (the whole data set is about 8 KB).
const JSON_BUFFER: usize = 16 * 1024;

impl Default for Worker {
    fn default() -> Self {
        Worker {
            compressors: Compressors::new(COMPRESSION),
            json: Vec::with_capacity(JSON_BUFFER),
        }
    }
}

impl AsMut<Compressors> for Worker {
    fn as_mut(&mut self) -> &mut Compressors {
        &mut self.compressors
    }
}

impl Handler<Worker> for Arena {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_, Worker>) {
        let path = request.path();
        match path {
            b"/baseline11" | b"/baseline2" => baseline::baseline(request, response),
            b"/pipeline" => baseline::pipeline(request, response),
            upload::PATH => upload::upload(request, response),
            ws::PATH => ws::refuse(response),
            _ => {
                if let Some(count) = path.strip_prefix(b"/json/") {
                    json::json(&self.shared.dataset, count, request, response);
                } else if path.starts_with(b"/static/") {
                    files::serve(&self.shared.files, request, response);
                } else {
                    files::not_found(response);
                }
            }
        }
    }

    fn body_policy(&self, request: &Request<'_>) -> BodyPolicy {
        upload::policy(request).unwrap_or(BodyPolicy::Buffer)
    }

    fn body_chunk(&self, _: &Request<'_>, chunk: &[u8], tag: &mut u64, _: &mut Worker) {
        upload::chunk(chunk, tag);
    }

    fn websocket(&self, request: &Request<'_>, _: &Handshake<'_>) -> Upgrade {
        ws::upgrade(request.path())
    }

    fn on_message(&self, message: Message<'_>, socket: &mut WebSocket<'_, Worker>) {
        ws::echo(message, socket);
    }
}
