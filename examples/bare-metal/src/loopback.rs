//! A loopback link of fixed capacity: every IP packet sent on it is
//! received from it, in order. smoltcp's own `Loopback` keeps packets in a
//! `VecDeque<Vec<u8>>`, which needs an allocator; this one keeps at most
//! `N` packets of at most `MTU` bytes in a ring.

use heapless::Deque;
use smoltcp::phy::{self, ChecksumCapabilities, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

/// One IP packet in the ring.
struct Packet<const MTU: usize> {
    /// Bytes used of `bytes`.
    len: usize,
    /// The packet, then unused space.
    bytes: [u8; MTU],
}

/// The link: a ring of up to `N` packets of up to `MTU` bytes.
pub struct Loopback<const MTU: usize, const N: usize> {
    /// Packets sent and not yet received, oldest first.
    queue: Deque<Packet<MTU>, N>,
}

impl<const MTU: usize, const N: usize> Loopback<MTU, N> {
    /// An empty link.
    pub const fn new() -> Self {
        Loopback {
            queue: Deque::new(),
        }
    }
}

impl<const MTU: usize, const N: usize> Device for Loopback<MTU, N> {
    type RxToken<'a> = RxToken<MTU>;
    type TxToken<'a> = TxToken<'a, MTU, N>;

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = MTU;
        // Nothing corrupts packets in memory: neither computing nor
        // checking checksums is needed.
        caps.checksum = ChecksumCapabilities::ignored();
        caps
    }

    fn receive(&mut self, _: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let packet = self.queue.pop_front()?;
        // The packet left the ring, so the reply a receiver may send has
        // room.
        Some((
            RxToken { packet },
            TxToken {
                queue: &mut self.queue,
            },
        ))
    }

    fn transmit(&mut self, _: Instant) -> Option<Self::TxToken<'_>> {
        // A full ring refuses to send, as a NIC with no free descriptor
        // does: smoltcp keeps the data and tries again at its next poll.
        if self.queue.is_full() {
            return None;
        }
        Some(TxToken {
            queue: &mut self.queue,
        })
    }
}

/// A packet taken from the ring.
pub struct RxToken<const MTU: usize> {
    /// The packet.
    packet: Packet<MTU>,
}

impl<const MTU: usize> phy::RxToken for RxToken<MTU> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.packet.bytes[..self.packet.len])
    }
}

/// Room for one packet at the back of the ring.
pub struct TxToken<'a, const MTU: usize, const N: usize> {
    /// The ring, not full.
    queue: &'a mut Deque<Packet<MTU>, N>,
}

impl<const MTU: usize, const N: usize> phy::TxToken for TxToken<'_, MTU, N> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut packet = Packet {
            len,
            bytes: [0; MTU],
        };
        let result = f(&mut packet.bytes[..len]);
        // Only built with room in the ring, and smoltcp never asks for
        // more than the MTU (the slice above would have panicked).
        if self.queue.push_back(packet).is_err() {
            unreachable!("a transmit token is only handed out with room in the ring");
        }
        result
    }
}
