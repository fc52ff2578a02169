//! What the client sends and the exact bytes the server must answer.
//!
//! Responses carry the `Date` line of [`DATE_SECS`]: the device has no
//! clock that knows the date, so it stamps a fixed one (a device with a
//! real-time clock or SNTP would call `DateCache::update` once a second).
//! Error responses the core writes itself carry no `Date`.

use crate::client::{Conversation, Exchange};

/// The Unix time in every `Date` line: 2026-01-01 00:00:00 UTC.
pub const DATE_SECS: u64 = 1_767_225_600;

/// HTTP on one keep-alive connection, until a body over the limit closes it.
pub const HTTP: Conversation = Conversation {
    name: "HTTP",
    exchanges: &[
        Exchange {
            name: "two pipelined GETs",
            send: &[b"GET / HTTP/1.1\r\nHost: device\r\n\r\n\
                      GET /missing HTTP/1.1\r\nHost: device\r\n\r\n"],
            expect: b"HTTP/1.1 200 OK\r\n\
                      Content-Type: text/plain\r\n\
                      Date: Thu, 01 Jan 2026 00:00:00 GMT\r\n\
                      Content-Length: 24\r\n\
                      \r\n\
                      Hello from a Cortex-M4F!\
                      HTTP/1.1 404 Not Found\r\n\
                      Date: Thu, 01 Jan 2026 00:00:00 GMT\r\n\
                      Content-Length: 0\r\n\
                      \r\n",
        },
        Exchange {
            name: "chunked POST echoed",
            // In three pieces, each its own TCP segment: the head alone,
            // then the body's chunks across two.
            send: &[
                b"POST /echo HTTP/1.1\r\nHost: device\r\nTransfer-Encoding: chunked\r\n\r\n",
                b"5\r\nhello\r\n7\r\n, world",
                b"\r\n0\r\n\r\n",
            ],
            expect: b"HTTP/1.1 200 OK\r\n\
                      Content-Type: application/octet-stream\r\n\
                      Date: Thu, 01 Jan 2026 00:00:00 GMT\r\n\
                      Content-Length: 12\r\n\
                      \r\n\
                      hello, world",
        },
        Exchange {
            name: "POST over the body limit: 413, then close",
            send: &[b"POST /echo HTTP/1.1\r\nHost: device\r\nContent-Length: 4096\r\n\r\n"],
            expect: b"HTTP/1.1 413 Content Too Large\r\n\
                      Content-Type: text/plain; charset=utf-8\r\n\
                      Connection: close\r\n\
                      Content-Length: 15\r\n\
                      \r\n\
                      body too large\n",
        },
    ],
};

/// A WebSocket: the handshake, a text message echoed, the closing
/// handshake.
pub const WEBSOCKET: Conversation = Conversation {
    name: "WebSocket",
    exchanges: &[
        Exchange {
            name: "WebSocket handshake",
            // The key and accept value of RFC 6455 §1.3.
            send: &[b"GET /ws HTTP/1.1\r\n\
                      Host: device\r\n\
                      Upgrade: websocket\r\n\
                      Connection: Upgrade\r\n\
                      Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                      Sec-WebSocket-Version: 13\r\n\
                      \r\n"],
            expect: b"HTTP/1.1 101 Switching Protocols\r\n\
                      Upgrade: websocket\r\n\
                      Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
                      Date: Thu, 01 Jan 2026 00:00:00 GMT\r\n\
                      Connection: upgrade\r\n\
                      \r\n",
        },
        Exchange {
            name: "WebSocket text echoed",
            // "Hello", masked, as in RFC 6455 §5.7; the echo comes unmasked.
            send: &[&[
                0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
            ]],
            expect: &[0x81, 0x05, b'H', b'e', b'l', b'l', b'o'],
        },
        Exchange {
            name: "WebSocket close",
            // Close 1000 (0x03e8) masked with 01 02 03 04; the server
            // answers with the same code, then closes the connection.
            send: &[&[0x88, 0x82, 0x01, 0x02, 0x03, 0x04, 0x02, 0xea]],
            expect: &[0x88, 0x02, 0x03, 0xe8],
        },
    ],
};
