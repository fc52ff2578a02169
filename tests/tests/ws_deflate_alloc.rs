//! No heap allocation per compressed WebSocket message: a counting global
//! allocator counts the allocations made on the server's worker threads
//! (marked when each creates its handler state). After a warm-up (which
//! makes the worker's DEFLATE states, and a pool state for context
//! takeover) that sends the measured messages once, 2,000 compressed
//! messages echoed compressed, fragmented or not, with and without context
//! takeover, must make none. Should any allocate, the sizes of the first
//! ones are in the failure message.
//!
//! The epoll backend only (its threads are started once); a test binary of
//! its own because it installs the allocator.

#![cfg(any(target_os = "linux", target_os = "android"))]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use peregrine_core::ws::{Handshake, Message};
use peregrine_core::{DeflatePolicy, Request, Response, Upgrade, WebSocket};
use peregrine_tests::{Backend, Config, Handler, IO_TIMEOUT, Options, TestServer};

/// Passes every call to the system allocator, counting those made on a
/// marked thread.
struct CountingAllocator;

/// Allocations (and reallocations) made on marked threads.
static SERVER_ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Whether this thread is a server worker (const, no destructor: reading
    /// it never allocates).
    static ON_SERVER: Cell<bool> = const { Cell::new(false) };
}

/// Whether the measured messages are being sent.
static MEASURING: AtomicBool = AtomicBool::new(false);

/// The sizes of the first allocations made while measuring.
static SIZES: [AtomicUsize; 8] = [const { AtomicUsize::new(0) }; 8];

/// Counts one allocation of `size` bytes if this thread is marked.
fn count(size: usize) {
    if ON_SERVER.try_with(Cell::get).unwrap_or(false) {
        let seen = SERVER_ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        if MEASURING.load(Ordering::Relaxed) {
            if let Some(slot) = SIZES.get(seen as usize) {
                slot.store(size, Ordering::Relaxed);
            }
        }
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments,
// so `System`'s guarantees are this allocator's.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: forwarded as received.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: forwarded as received.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: `ptr` came from this allocator, hence from `System`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, hence from `System`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Echoes every message, marking each worker thread.
struct Echo;

impl Handler for Echo {
    fn handle(&self, _: &Request<'_>, _: &mut Response<'_>) {}

    fn new_local(&self, _worker: usize) {
        ON_SERVER.with(|on| on.set(true));
    }

    fn websocket(&self, _: &Request<'_>, _: &Handshake<'_>) -> Upgrade {
        Upgrade::ACCEPT
    }

    fn on_message(&self, message: Message<'_>, socket: &mut WebSocket<'_>) {
        let _ = match message {
            Message::Text(text) => socket.send_text(text),
            Message::Binary(data) => socket.send_binary(data),
            _ => Ok(()),
        };
    }
}

/// A compressing client on one connection.
struct Client {
    stream: TcpStream,
    compress: Compress,
    decompress: Decompress,
    takeover: bool,
}

impl Client {
    fn connect(server: &TestServer, offer: &str, takeover: bool) -> Client {
        let mut stream = TcpStream::connect(server.addr()).unwrap();
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let head = format!(
            "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Extensions: {offer}\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).unwrap();
        let mut response = Vec::new();
        let mut byte = [0];
        while !response.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte).unwrap();
            response.push(byte[0]);
        }
        let response = String::from_utf8(response).unwrap();
        assert!(response.contains("permessage-deflate"), "{response}");
        Client {
            stream,
            compress: Compress::new(Compression::default(), false),
            decompress: Decompress::new(false),
            takeover,
        }
    }

    /// Sends `data` compressed in `pieces` fragments, reads the echo and
    /// checks it came back compressed and whole.
    fn echo(&mut self, data: &[u8], pieces: usize) {
        if !self.takeover {
            self.compress.reset();
        }
        let mut packed = Vec::with_capacity(data.len() + 64);
        self.compress
            .compress_vec(data, &mut packed, FlushCompress::Sync)
            .unwrap();
        packed.truncate(packed.len() - 4);
        let step = packed.len().div_ceil(pieces);
        let key = [1, 2, 3, 4];
        let mut wire = Vec::new();
        for (i, chunk) in packed.chunks(step).enumerate() {
            let first = if i == 0 { 0x41 } else { 0x00 };
            let fin = if (i + 1) * step >= packed.len() {
                0x80
            } else {
                0
            };
            wire.push(first | fin);
            assert!(chunk.len() < 65536);
            if chunk.len() < 126 {
                wire.push(0x80 | chunk.len() as u8);
            } else {
                wire.push(0x80 | 126);
                wire.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
            }
            wire.extend_from_slice(&key);
            wire.extend(chunk.iter().enumerate().map(|(j, b)| b ^ key[j % 4]));
        }
        self.stream.write_all(&wire).unwrap();
        let mut head = [0; 2];
        self.stream.read_exact(&mut head).unwrap();
        assert_eq!(head[0], 0xc1, "compressed text, one frame");
        let len = match head[1] {
            126 => {
                let mut ext = [0; 2];
                self.stream.read_exact(&mut ext).unwrap();
                usize::from(u16::from_be_bytes(ext))
            }
            n => usize::from(n),
        };
        let mut payload = vec![0; len];
        self.stream.read_exact(&mut payload).unwrap();
        payload.extend_from_slice(&[0, 0, 0xff, 0xff]);
        if !self.takeover {
            self.decompress.reset(false);
        }
        let mut out = Vec::with_capacity(data.len() + 16);
        self.decompress
            .decompress_vec(&payload, &mut out, FlushDecompress::Sync)
            .unwrap();
        assert_eq!(out, data);
    }
}

#[test]
fn no_allocation_per_compressed_message() {
    let options = Options {
        config: Config {
            websocket_deflate: DeflatePolicy::ContextTakeover { contexts: 4 },
            ..Config::DEFAULT
        },
        ..Options::default()
    };
    let server = TestServer::start_with(Backend::Epoll, options, Echo);
    let text: Vec<u8> = b"zero allocations per message, compressed or not. "
        .iter()
        .copied()
        .cycle()
        .take(10_000)
        .collect();
    let stateless = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";
    let mut clients = [
        Client::connect(&server, stateless, false),
        Client::connect(&server, "permessage-deflate", true),
    ];
    let messages = |clients: &mut [Client]| {
        for i in 0..1000 {
            for client in clients.iter_mut() {
                client.echo(&text[..2_000 + i * 7], 1 + i % 4);
            }
        }
    };
    // Warm-up: every state made, every size and fragmentation seen once.
    messages(&mut clients);
    SERVER_ALLOCATIONS.store(0, Ordering::SeqCst);
    MEASURING.store(true, Ordering::SeqCst);
    messages(&mut clients);
    MEASURING.store(false, Ordering::SeqCst);
    let made = SERVER_ALLOCATIONS.load(Ordering::SeqCst);
    let sizes: Vec<usize> = SIZES.iter().map(|s| s.load(Ordering::SeqCst)).collect();
    assert_eq!(
        made, 0,
        "allocations on the workers for 2,000 compressed messages (the first sizes: {sizes:?})"
    );
}
