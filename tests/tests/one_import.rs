//! Every backend re-exports the same vocabulary, and the builder trait
//! its server implements: code written against one backend's names
//! compiles against another's by changing the crate name.
//! The list is written once below and checked for each backend.

/// Names every backend exports, each used so that a missing one fails to
/// compile.
macro_rules! vocabulary_of {
    ($module:ident, $backend:ident) => {
        #[allow(unused_imports)]
        mod $module {
            use $backend::{
                Backpressure, BodyFraming, BodyPolicy, CONTINUE, CloseCode, CompressBody,
                Compression, Compressors, Config, ConnectionId, Counters, DEFAULT_MAILBOX_CAPACITY,
                DEFAULT_MAX_HEADERS, DEFAULT_READ_BUFFER, DEFAULT_WRITE_BUFFER, Error, FileRegion,
                Files, Fill, Finished, Handler, Handshake, Header, HeaderIter, Headers, Message,
                Method, Outcome, OwnedFile, PostError, Request, Response, ResponseError, SendError,
                SendFile, Sender, Server, ServerBuilder, ServerWith, Settings, ShutdownHandle,
                Stats, StatusCode, TargetForm, Tokens, TopicsFull, Upgrade, Values, Version,
                WebSocket, builder, compress, date, path, query, sse, static_files, ws,
            };

            /// Sets what every backend's builder shares, through the
            /// trait the backend re-exports.
            fn shared<S: ServerBuilder>(server: S) -> S {
                server
                    .workers(1)
                    .grace_period(std::time::Duration::from_millis(1))
                    .handle_signals(false)
            }

            #[test]
            fn the_server_is_a_server_builder() {
                let server = shared(Server::bind("127.0.0.1:0").expect("bind"));
                let settings: &Settings = server.settings();
                assert_eq!(settings.workers(), 1);
                assert_eq!(settings.mailbox_capacity(), DEFAULT_MAILBOX_CAPACITY);
                let _: Sender = server.sender();
                let _: Option<PostError> = None;
                assert_ne!(
                    <Server as builder::ServerBuilder>::local_addr(&server).port(),
                    0
                );
            }

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
