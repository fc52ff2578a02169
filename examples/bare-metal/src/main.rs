//! Peregrine's protocol core serving HTTP/1.1 and WebSocket on a
//! Cortex-M4F, with no allocator: the core's [`Connection`] state machines
//! driven over smoltcp TCP sockets, on a loopback link, in 64 KiB of RAM.
//!
//! A client in the same firmware talks to the server over that link and
//! checks every byte of its answers (see [`script`]); the firmware prints
//! a summary over semihosting and exits 0 if all matched, 1 otherwise.
//! Run under QEMU with `.ci/bare-metal`, or `cargo run --release` here.
//!
//! [`Connection`]: peregrine_core::Connection
#![no_std]
#![no_main]

mod app;
mod budget;
mod client;
mod loopback;
mod net;
mod ram;
mod report;
mod script;
mod serve;

use core::panic::PanicInfo;

use cortex_m_rt::{ExceptionFrame, entry, exception};
use cortex_m_semihosting::hprintln;
use peregrine_core::Counters;
use peregrine_core::date::DateCache;
use smoltcp::iface::{SocketHandle, SocketStorage};
use smoltcp::time::Instant;
use smoltcp::wire::IpEndpoint;
use static_cell::{ConstStaticCell, StaticCell};

use app::App;
use budget::{CLIENT_CONNECTIONS, SERVER_CONNECTIONS, SOCKETS};
use client::Client;
use net::{Link, Net, SocketBuffers};
use serve::{Buffers, Server, Slot};

/// The port the server listens on.
const PORT: u16 = 80;

/// The client's first port; each conversation takes the next.
const CLIENT_PORT: u16 = 49152;

/// How long the run may take, in milliseconds of the firmware's clock.
const TIME_LIMIT: u64 = 10_000;

/// The server's TCP sockets' buffers.
static SERVER_SOCKETS: ConstStaticCell<[SocketBuffers; SERVER_CONNECTIONS]> =
    ConstStaticCell::new([const { SocketBuffers::new() }; SERVER_CONNECTIONS]);

/// The client's TCP sockets' buffers.
static CLIENT_SOCKETS: ConstStaticCell<[SocketBuffers; CLIENT_CONNECTIONS]> =
    ConstStaticCell::new([const { SocketBuffers::new() }; CLIENT_CONNECTIONS]);

/// The loopback link's packets.
static LINK: ConstStaticCell<Link> = ConstStaticCell::new(Link::new());

/// The interface's socket table.
static SOCKET_STORAGE: StaticCell<[SocketStorage<'static>; SOCKETS]> = StaticCell::new();

/// The interface and its sockets.
static NET: StaticCell<Net<'static>> = StaticCell::new();

/// The buffers the core's connections work in.
static CONNECTION_BUFFERS: ConstStaticCell<[Buffers; SERVER_CONNECTIONS]> =
    ConstStaticCell::new([const { Buffers::new() }; SERVER_CONNECTIONS]);

/// The server's connections: the core's state machines.
static SLOTS: StaticCell<[Slot; SERVER_CONNECTIONS]> = StaticCell::new();

/// The firmware's parts, in statics.
struct Parts {
    /// The interface, the link and the sockets.
    net: &'static mut Net<'static>,
    /// The server's connections.
    slots: &'static mut [Slot; SERVER_CONNECTIONS],
    /// The server's sockets, one per slot.
    server_sockets: [SocketHandle; SERVER_CONNECTIONS],
    /// The client's sockets, one per conversation.
    client_sockets: [SocketHandle; CLIENT_CONNECTIONS],
}

/// Sets the parts up in their statics. Not inlined: what it moves into
/// the statics that are set at run time passes through its stack frame,
/// which is gone before the loop starts, so it does not add to the
/// deepest stack the loop reaches. Statics set at compile time are zeroed
/// (in `.bss`), so that they take no flash.
#[inline(never)]
fn setup() -> Parts {
    let net = NET.init(Net::new(
        LINK.take(),
        SOCKET_STORAGE.init([SocketStorage::EMPTY; SOCKETS]),
        Instant::ZERO,
    ));
    let server_sockets = SERVER_SOCKETS
        .take()
        .each_mut()
        .map(|bufs| net.add_tcp(bufs));
    let client_sockets = CLIENT_SOCKETS
        .take()
        .each_mut()
        .map(|bufs| net.add_tcp(bufs));
    let slots = SLOTS.init(
        CONNECTION_BUFFERS
            .take()
            .each_mut()
            .map(|bufs| Slot::new(PORT, bufs)),
    );
    Parts {
        net,
        slots,
        server_sockets,
        client_sockets,
    }
}

#[entry]
fn main() -> ! {
    hprintln!("peregrine-core on a Cortex-M4F: HTTP/1.1 and WebSocket over smoltcp, loopback link");
    let Parts {
        net,
        slots,
        server_sockets,
        client_sockets,
    } = setup();
    let endpoint = IpEndpoint::new(net::ADDRESS.into(), PORT);
    let mut clients: [Client; CLIENT_CONNECTIONS] = [
        Client::new(&script::HTTP, endpoint, CLIENT_PORT),
        Client::new(&script::WEBSOCKET, endpoint, CLIENT_PORT + 1),
    ];
    let mut date = DateCache::new();
    date.update(script::DATE_SECS);
    let mut server = Server {
        app: &App,
        date: &date,
        counters: Counters::default(),
    };

    // The clock: a millisecond per turn of the loop, so every run is the
    // same. A device would read a timer instead.
    let mut now = 0;
    let finished = loop {
        net.poll(Instant::from_millis(now as i64));
        for (slot, &socket) in slots.iter_mut().zip(&server_sockets) {
            slot.poll(net.tcp(socket), &mut server, now);
        }
        for (client, &socket) in clients.iter_mut().zip(&client_sockets) {
            let (socket, cx) = net.tcp_with_context(socket);
            client.poll(socket, cx);
        }
        let done = clients.iter().all(Client::is_done);
        if done && slots.iter().all(Slot::is_listening) {
            break true;
        }
        if now == TIME_LIMIT {
            break false;
        }
        now += 1;
    };

    if !finished {
        for client in clients.iter().filter(|client| !client.is_done()) {
            hprintln!(
                "FAIL {}: not finished after {} ms ({:?})",
                client.conversation().name,
                TIME_LIMIT,
                client.progress()
            );
        }
    }
    let passed = finished && clients.iter().all(Client::passed);
    summary(&clients, slots, &server.counters, now);
    hprintln!("{}", if passed { "PASSED" } else { "FAILED" });
    report::exit(passed)
}

/// Prints what was exchanged, what the server counted, and the RAM taken.
fn summary(clients: &[Client], slots: &[Slot], counters: &Counters, now: u64) {
    let exchanges: usize = clients.iter().map(Client::exchanges_passed).sum();
    let accepted: u32 = slots.iter().map(Slot::accepted).sum();
    let [r1, r2, r3, r4, r5] = counters.responses;
    hprintln!("exchanges matched: {exchanges}, in {now} ms of the firmware's clock");
    hprintln!(
        "server: {accepted} connections, {} requests; responses 1xx {r1}, 2xx {r2}, 3xx {r3}, 4xx {r4}, 5xx {r5}",
        counters.requests
    );
    let (statics, reserved, used) = (ram::statics(), ram::stack_reserved(), ram::stack_used());
    hprintln!(
        "RAM: {statics} B of statics + {reserved} B of stack ({used} B used) = {} B of 65536",
        statics + reserved
    );
}

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    hprintln!("FAIL panic: {info}");
    report::exit(false)
}

/// A fault (a stack overflow runs into unmapped memory below the RAM)
/// ends the run as a failure rather than hanging it.
#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    hprintln!("FAIL hard fault at pc {:#010x}", frame.pc());
    report::exit(false)
}
