//! Every backend re-exports the same vocabulary: code written against one
//! backend's names compiles against another's by changing the crate name.
//! The list is written once below and checked for each backend.

/// Names every backend exports, each used so that a missing one fails to
/// compile.
macro_rules! vocabulary_of {
    ($module:ident, $backend:ident) => {
        #[allow(unused_imports)]
        mod $module {
            use $backend::{
                Backpressure, BodyFraming, BodyPolicy, CONTINUE, CloseCode, CompressBody,
                Compression, Compressors, Config, ConnectionId, Counters, DEFAULT_MAX_HEADERS,
                DEFAULT_READ_BUFFER, DEFAULT_WRITE_BUFFER, Error, FileRegion, Files, Fill,
                Finished, Handler, Handshake, Header, HeaderIter, Headers, Message, Method,
                Outcome, OwnedFile, Request, Response, ResponseError, SendError, SendFile, Server,
                ServerWith, ShutdownHandle, Stats, StatusCode, TargetForm, Tokens, TopicsFull,
                Upgrade, Values, Version, WebSocket, compress, date, path, query, sse,
                static_files, ws,
            };

            #[test]
            fn every_name_is_there() {
                let _ = (
                    Config::DEFAULT,
                    BodyPolicy::Buffer,
                    Fill::Done(0),
                    StatusCode::OK,
                    CloseCode::NORMAL,
                    Upgrade::ACCEPT,
                    Stats::default(),
                    date::DateCache::new(),
                    query::pairs(b"a=1"),
                    DEFAULT_MAX_HEADERS + DEFAULT_READ_BUFFER + DEFAULT_WRITE_BUFFER,
                    CONTINUE,
                    sse::CONTENT_TYPE,
                    Outcome::Sent,
                );
                assert!(path::decode_path(b"/a", &mut [0; 8]).is_ok());
                assert!(Files::new(std::env::temp_dir()).is_ok());
                let _ = static_files::DEFAULT_CACHE_CAPACITY;
                let _ =
                    Compressors::new(Compression::new().min_size(compress::STREAM_TAG as usize));
            }
        }
    };
}

#[cfg(any(target_os = "linux", target_os = "android"))]
vocabulary_of!(epoll, peregrine_epoll);
#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "dragonfly"
))]
vocabulary_of!(kqueue, peregrine_kqueue);
vocabulary_of!(std_backend, peregrine_std);

/// The readiness backends also take messages from other threads.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[allow(unused_imports)]
use peregrine_epoll::{DEFAULT_MAILBOX_CAPACITY, PostError, Sender};
