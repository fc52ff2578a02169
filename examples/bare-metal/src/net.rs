//! The network: a smoltcp interface on the loopback link, with one IPv4
//! address that the server listens on and the client connects from, and
//! the TCP sockets of both.

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet, SocketStorage};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr, Ipv4Address};

use crate::budget::{LINK_QUEUE, MTU, SOCKET_RX, SOCKET_TX};
use crate::loopback::Loopback;

/// The interface's address.
pub const ADDRESS: Ipv4Address = Ipv4Address::new(10, 0, 0, 1);

/// The link.
pub type Link = Loopback<MTU, LINK_QUEUE>;

/// The buffers of one TCP socket.
pub struct SocketBuffers {
    /// Received bytes not yet read: the window offered to the peer.
    rx: [u8; SOCKET_RX],
    /// Bytes written and not yet acknowledged.
    tx: [u8; SOCKET_TX],
}

impl SocketBuffers {
    /// Zeroed buffers.
    pub const fn new() -> Self {
        SocketBuffers {
            rx: [0; SOCKET_RX],
            tx: [0; SOCKET_TX],
        }
    }
}

/// The interface, its link and its sockets.
pub struct Net<'a> {
    /// The IP layer.
    iface: Interface,
    /// The link it sends and receives on.
    link: &'a mut Link,
    /// Every socket.
    sockets: SocketSet<'a>,
}

impl<'a> Net<'a> {
    /// An interface on `link` at `now`, with room for as many sockets as
    /// `storage` has entries.
    pub fn new(link: &'a mut Link, storage: &'a mut [SocketStorage<'a>], now: Instant) -> Self {
        let config = Config::new(HardwareAddress::Ip);
        let mut iface = Interface::new(config, link, now);
        iface.update_ip_addrs(|addrs| {
            // One address: the vector has room for it.
            let _ = addrs.push(IpCidr::new(IpAddress::Ipv4(ADDRESS), 24));
        });
        Net {
            iface,
            link,
            sockets: SocketSet::new(storage),
        }
    }

    /// Adds a TCP socket working in `buffers`. Segments go out as soon as
    /// they are written and are acknowledged at once: on a link with no
    /// latency, waiting to coalesce them only slows the exchange.
    pub fn add_tcp(&mut self, buffers: &'a mut SocketBuffers) -> SocketHandle {
        let mut socket = tcp::Socket::new(
            tcp::SocketBuffer::new(&mut buffers.rx[..]),
            tcp::SocketBuffer::new(&mut buffers.tx[..]),
        );
        socket.set_nagle_enabled(false);
        socket.set_ack_delay(None);
        self.sockets.add(socket)
    }

    /// Moves packets between the link and the sockets, at `now`.
    pub fn poll(&mut self, now: Instant) {
        self.iface.poll(now, self.link, &mut self.sockets);
    }

    /// The TCP socket `handle`.
    pub fn tcp(&mut self, handle: SocketHandle) -> &mut tcp::Socket<'a> {
        self.sockets.get_mut(handle)
    }

    /// The TCP socket `handle`, with the interface context that opening a
    /// connection needs.
    pub fn tcp_with_context(
        &mut self,
        handle: SocketHandle,
    ) -> (&mut tcp::Socket<'a>, &mut smoltcp::iface::Context) {
        (self.sockets.get_mut(handle), self.iface.context())
    }
}
