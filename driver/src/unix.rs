//! Unix sockets through rustix: listeners, accepting, and [`Socket`] for a
//! connected descriptor. Shared by the epoll and kqueue backends.

use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::os::fd::{BorrowedFd, OwnedFd};

use peregrine_core::FileRegion;
#[cfg(not(target_vendor = "apple"))]
use rustix::net::SocketFlags;
use rustix::net::{self, AddressFamily, SocketType, sockopt};

use crate::io::{MAX_SLICES, Socket};

/// How many pending connections a listener's backlog holds unless the
/// server says otherwise ([`Server::backlog`](crate::Server::backlog)).
pub const DEFAULT_BACKLOG: i32 = 1024;

/// A non-blocking TCP listener on `addr`; with `reuse_port`, several
/// listeners may share the port and the kernel spreads connections over
/// them (`SO_REUSEPORT`; `SO_REUSEPORT_LB` on FreeBSD).
pub fn listener(addr: SocketAddr, reuse_port: bool) -> io::Result<OwnedFd> {
    let family = match addr {
        SocketAddr::V4(_) => AddressFamily::INET,
        SocketAddr::V6(_) => AddressFamily::INET6,
    };
    let fd = socket(family)?;
    sockopt::set_socket_reuseaddr(&fd, true)?;
    if reuse_port {
        #[cfg(target_os = "freebsd")]
        sockopt::set_socket_reuseport_lb(&fd, true)?;
        #[cfg(not(target_os = "freebsd"))]
        sockopt::set_socket_reuseport(&fd, true)?;
    }
    net::bind(&fd, &addr)?;
    net::listen(&fd, DEFAULT_BACKLOG)?;
    Ok(fd)
}

/// A server's first non-blocking TCP listener on `addr`, which its other
/// listeners may then join with [`listener`]`(addr, true)` (`SO_REUSEPORT`)
/// — but only if no other socket serves the address already: then it
/// fails with [`io::ErrorKind::AddrInUse`], as a server without
/// `SO_REUSEPORT` would, instead of quietly sharing the port (and its
/// connections) with another program or another server of this one.
///
/// On Linux and Android it is bound without `SO_REUSEPORT`, so the bind
/// itself fails if anything holds the address (a listener, another
/// server's group), with no window between a check and the bind;
/// `SO_REUSEPORT` is set after the bind and before `listen`, which is when
/// the kernel forms the group the other listeners join. From then on, a
/// socket of a process with the same effective UID that sets
/// `SO_REUSEPORT` may still join the group, as the kernel allows for any
/// `SO_REUSEPORT` listener: a deliberate choice of that program, not an
/// accident.
///
/// Elsewhere the group's options must be set before the bind (FreeBSD
/// forms its load-balancing group at bind time), so a probe socket
/// without `SO_REUSEPORT` is bound to `addr` first and closed, then the
/// listener is bound: a server that takes the address in between is not
/// seen. Port 0 needs no probe (the system picks a port nobody uses).
pub fn first_listener(addr: SocketAddr) -> io::Result<OwnedFd> {
    let family = match addr {
        SocketAddr::V4(_) => AddressFamily::INET,
        SocketAddr::V6(_) => AddressFamily::INET6,
    };
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let fd = socket(family)?;
        sockopt::set_socket_reuseaddr(&fd, true)?;
        net::bind(&fd, &addr)?;
        sockopt::set_socket_reuseport(&fd, true)?;
        net::listen(&fd, DEFAULT_BACKLOG)?;
        Ok(fd)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        if addr.port() != 0 {
            let probe = socket(family)?;
            sockopt::set_socket_reuseaddr(&probe, true)?;
            net::bind(&probe, &addr)?;
        }
        listener(addr, true)
    }
}

/// Sets how many pending connections the listener `fd` holds: `listen`
/// again, which every supported system allows on a listening socket.
/// The system caps it (Linux: `net.core.somaxconn`, 4,096 by default).
pub fn set_backlog(fd: BorrowedFd<'_>, backlog: i32) -> io::Result<()> {
    net::listen(fd, backlog.max(1))?;
    Ok(())
}

/// A non-blocking, close-on-exec stream socket.
fn socket(family: AddressFamily) -> io::Result<OwnedFd> {
    #[cfg(not(target_vendor = "apple"))]
    {
        let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
        Ok(net::socket_with(family, SocketType::STREAM, flags, None)?)
    }
    #[cfg(target_vendor = "apple")]
    {
        let fd = net::socket(family, SocketType::STREAM, None)?;
        rustix::io::ioctl_fionbio(&fd, true)?;
        rustix::io::fcntl_setfd(&fd, rustix::io::FdFlags::CLOEXEC)?;
        Ok(fd)
    }
}

/// The address a socket is bound to.
pub fn local_addr(fd: BorrowedFd<'_>) -> io::Result<SocketAddr> {
    SocketAddr::try_from(net::getsockname(fd)?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not an IP socket"))
}

/// Accepts one connection: non-blocking, close-on-exec, `TCP_NODELAY` on
/// (responses go out whole, so Nagle's algorithm only adds delay), no
/// `SIGPIPE` on Apple systems.
pub fn accept(listener: BorrowedFd<'_>) -> io::Result<(OwnedFd, Option<SocketAddr>)> {
    #[cfg(not(target_vendor = "apple"))]
    let (fd, peer) = net::acceptfrom_with(listener, SocketFlags::NONBLOCK | SocketFlags::CLOEXEC)?;
    #[cfg(target_vendor = "apple")]
    let (fd, peer) = {
        let (fd, peer) = net::acceptfrom(listener)?;
        rustix::io::ioctl_fionbio(&fd, true)?;
        rustix::io::fcntl_setfd(&fd, rustix::io::FdFlags::CLOEXEC)?;
        sockopt::set_socket_nosigpipe(&fd, true)?;
        (fd, peer)
    };
    sockopt::set_tcp_nodelay(&fd, true)?;
    let peer = peer.and_then(|addr| SocketAddr::try_from(addr).ok());
    Ok((fd, peer))
}

/// Whether an accept error means "out of descriptors or memory": stop
/// accepting for a while, keep serving.
pub fn is_resource_exhaustion(error: &io::Error) -> bool {
    matches!(
        rustix::io::Errno::from_io_error(error),
        Some(
            rustix::io::Errno::MFILE
                | rustix::io::Errno::NFILE
                | rustix::io::Errno::NOBUFS
                | rustix::io::Errno::NOMEM
        )
    )
}

/// Whether an accept error means "this process or the system is out of
/// descriptors" (`EMFILE`, `ENFILE`): closing a connection of our own
/// makes room.
pub fn is_descriptor_exhaustion(error: &io::Error) -> bool {
    matches!(
        rustix::io::Errno::from_io_error(error),
        Some(rustix::io::Errno::MFILE | rustix::io::Errno::NFILE)
    )
}

/// Whether bytes wait to be read on a connected socket (not an end of
/// stream, not an error): one `recv` with `MSG_PEEK`, which never blocks.
pub fn has_pending_input(fd: BorrowedFd<'_>) -> bool {
    let mut byte = [0u8; 1];
    let flags = net::RecvFlags::PEEK | net::RecvFlags::DONTWAIT;
    matches!(net::recv(fd, &mut byte, flags), Ok((n, _)) if n > 0)
}

/// Bytes [`has_complete_head`] looks at, at most.
pub const HEAD_PEEK_LEN: usize = 16 * 1024;

/// Whether the bytes waiting on a connected socket hold a whole request
/// head (an empty line within the first [`HEAD_PEEK_LEN`] bytes): one
/// `recv` with `MSG_PEEK` into the stack, which never blocks. A longer
/// head, or one still coming, says `false`.
pub fn has_complete_head(fd: BorrowedFd<'_>) -> bool {
    let mut bytes = [0u8; HEAD_PEEK_LEN];
    let flags = net::RecvFlags::PEEK | net::RecvFlags::DONTWAIT;
    match net::recv(fd, &mut bytes, flags) {
        Ok((n, _)) => bytes[..n.min(HEAD_PEEK_LEN)]
            .windows(4)
            .any(|window| window == b"\r\n\r\n"),
        Err(_) => false,
    }
}

/// Whether a listener has a connection waiting to be accepted (a `poll`
/// that does not wait).
pub fn has_pending_connection(listener: BorrowedFd<'_>) -> bool {
    use rustix::event::{PollFd, PollFlags, Timespec};
    let mut fds = [PollFd::new(&listener, PollFlags::IN)];
    let now = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    matches!(rustix::event::poll(&mut fds, Some(&now)), Ok(n) if n > 0)
}

/// Raises the soft limit on open descriptors (`RLIMIT_NOFILE`) to the
/// hard limit, as Go's runtime and many servers do at start-up: the soft
/// limit is often a low default (1,024) kept for programs that use
/// `select`, which this one does not. Returns the soft limit in force
/// afterwards (`None`: unlimited). Where the hard limit is "unlimited" and
/// the system refuses that as a soft limit (macOS), tries `OPEN_MAX`
/// (10,240). A failure leaves the limit as it was.
pub fn raise_fd_limit() -> Option<u64> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    // Whether `target` is more than the soft limit now.
    let above = |target: Option<u64>| match (limit.current, target) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(current), Some(target)) => target > current,
    };
    let set = |target: Option<u64>| {
        let raised = Rlimit {
            current: target,
            maximum: limit.maximum,
        };
        setrlimit(Resource::Nofile, raised).is_ok()
    };
    if !above(limit.maximum) {
        return limit.current;
    }
    if set(limit.maximum) {
        return limit.maximum;
    }
    let open_max = Some(10_240);
    if limit.maximum.is_none() && above(open_max) && set(open_max) {
        return open_max;
    }
    limit.current
}

/// Descriptors kept back from connections when their number is derived
/// from the descriptor limit, besides those of the workers and listeners
/// themselves: standard streams, files a handler opens, the odd pipe.
const FD_RESERVE: u64 = 64;

/// How many connections one worker may hold by default, from the
/// descriptor limit `fd_limit` (`None`: unlimited): the limit less a
/// reserve for `threads` worker and accept threads (each holds a listener,
/// a poller, a waker) and 64 more. Each worker may take that
/// many: connections are spread unevenly, and a process that runs out of
/// descriptors closes idle connections to accept new ones.
pub fn default_max_connections(fd_limit: Option<u64>, threads: usize) -> usize {
    let Some(limit) = fd_limit else {
        return u32::MAX as usize - 1;
    };
    let reserve = FD_RESERVE + 3 * threads as u64;
    let connections = limit.saturating_sub(reserve).max(1);
    usize::try_from(connections)
        .unwrap_or(usize::MAX)
        .min(u32::MAX as usize - 1)
}

/// A connected socket, as a [`Socket`] for the driver.
#[derive(Debug)]
pub struct FdSocket<'a>(pub BorrowedFd<'a>);

impl FdSocket<'_> {
    /// Writes `slices` in one call; with `more`, on Linux, held back
    /// (`MSG_MORE`) to leave with what the next call sends: a file
    /// region, whose `sendfile` pushes the lot (its last piece goes
    /// without `MSG_MORE`). Elsewhere `more` changes nothing.
    #[inline(always)]
    fn send_slices<'b>(
        &mut self,
        slices: impl Iterator<Item = &'b [u8]>,
        more: bool,
    ) -> io::Result<usize> {
        // Filled in one pass, nothing initialised beforehand.
        let mut iov = heapless::Vec::<IoSlice<'b>, MAX_SLICES>::new();
        for slice in slices {
            if iov.push(IoSlice::new(slice)).is_err() {
                break;
            }
        }
        #[cfg(not(target_vendor = "apple"))]
        {
            // MSG_NOSIGNAL: a peer that has gone away is an error here,
            // not a signal that kills the process.
            #[cfg(any(target_os = "linux", target_os = "android"))]
            let flags = if more {
                net::SendFlags::NOSIGNAL | net::SendFlags::MORE
            } else {
                net::SendFlags::NOSIGNAL
            };
            #[cfg(not(any(target_os = "linux", target_os = "android")))]
            let flags = {
                let _ = more;
                net::SendFlags::NOSIGNAL
            };
            let mut control = net::SendAncillaryBuffer::default();
            Ok(net::sendmsg(self.0, &iov, &mut control, flags)?)
        }
        #[cfg(target_vendor = "apple")]
        {
            let _ = more;
            Ok(rustix::io::writev(self.0, &iov)?)
        }
    }
}

impl Socket for FdSocket<'_> {
    #[inline(always)]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // `recv` rather than `read`: the kernel goes straight to the
        // socket, without the file layer's position bookkeeping.
        Ok(net::recv(self.0, buf, net::RecvFlags::empty())?.0)
    }

    #[inline(always)]
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        #[cfg(not(target_vendor = "apple"))]
        {
            // MSG_NOSIGNAL: a peer that has gone away is an error here,
            // not a signal that kills the process.
            Ok(net::send(self.0, bytes, net::SendFlags::NOSIGNAL)?)
        }
        #[cfg(target_vendor = "apple")]
        {
            // SO_NOSIGPIPE is set on the socket.
            Ok(rustix::io::write(self.0, bytes)?)
        }
    }

    // Inlined into each protocol's write, where the slices' iterator and
    // the `iovec` array fuse into one loop.
    #[inline(always)]
    fn write_slices<'b>(&mut self, slices: impl Iterator<Item = &'b [u8]>) -> io::Result<usize> {
        self.send_slices(slices, false)
    }

    #[inline(always)]
    fn write_slices_before_file<'b>(
        &mut self,
        slices: impl Iterator<Item = &'b [u8]>,
    ) -> io::Result<usize> {
        self.send_slices(slices, true)
    }

    fn send_file(&mut self, region: FileRegion) -> io::Result<usize> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            let Ok(raw) = std::os::fd::RawFd::try_from(region.handle()) else {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "not a descriptor",
                ));
            };
            // SAFETY: a region's descriptor is open until its response is
            // done with it: its keeper (the worker's `FileTable`) releases
            // it only after the connection gave the region back, which it
            // does only after this call; a borrowed region's maker
            // promised as much (`FileRegion::borrowed`). It is only
            // borrowed for this call.
            let file = unsafe { BorrowedFd::borrow_raw(raw) };
            let mut offset = region.offset();
            let count = usize::try_from(region.len()).unwrap_or(usize::MAX);
            Ok(rustix::fs::sendfile(
                self.0,
                file,
                Some(&mut offset),
                count,
            )?)
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        {
            let _ = region;
            Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "sendfile is Linux-only here",
            ))
        }
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        Ok(net::shutdown(self.0, net::Shutdown::Write)?)
    }
}

/// Pins the calling thread to CPU `cpu` (modulo the CPUs there are).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn pin_to_cpu(cpu: usize) -> io::Result<()> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut set = rustix::thread::CpuSet::new();
    set.set(cpu % cpus);
    Ok(rustix::thread::sched_setaffinity(None, &set)?)
}

/// Pins the calling thread to a CPU: not available on this system.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn pin_to_cpu(_cpu: usize) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "CPU affinity is Linux-only here",
    ))
}

#[cfg(all(test, any(target_os = "linux", target_os = "android")))]
mod tests {
    use std::net::TcpStream;
    use std::os::fd::AsFd;
    use std::time::Duration;

    use super::*;

    /// How many of `tries` connections a listener that nobody accepts
    /// from takes in: once its backlog is full, the kernel drops their
    /// SYNs and they time out here.
    fn queued(fd: &OwnedFd, tries: usize) -> usize {
        let addr = local_addr(fd.as_fd()).unwrap();
        let held: Vec<TcpStream> = (0..tries)
            .filter_map(|_| TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok())
            .collect();
        held.len()
    }

    #[test]
    fn the_backlog_is_the_servers_to_set() {
        let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let default = first_listener(addr).unwrap();
        assert_eq!(queued(&default, 12), 12);
        let small = first_listener(addr).unwrap();
        set_backlog(small.as_fd(), 4).unwrap();
        // Linux queues one more than the backlog.
        let held = queued(&small, 12);
        assert!((4..=5).contains(&held), "{held} connections queued");
        // Raised again, it takes the rest.
        set_backlog(small.as_fd(), 64).unwrap();
        assert_eq!(queued(&small, 7), 7);
    }
}
