//! A yardstick for benchmarks, not a server: the least an epoll server can
//! do for a request on Linux. One thread and one edge-triggered epoll; each
//! readable connection gets one `recv`, and each request head it finds (a
//! blank line) gets one `send` of the same fixed answer `hello` gives
//! (`Content-Type`, `Date`, `Content-Length`, the body). There is no
//! parser, no timer, no buffer pool, and the `Date` is the one formatted at
//! start-up.
//!
//! What it costs per request is, near enough, the kernel's share of a
//! request: `bench/wrk.sh` runs it beside `hello` and nginx, so the report
//! shows how far each server is above that floor.
//!
//! ```text
//! cargo run --release -p peregrine-examples --example floor -- --port 8080 [--body-file F]
//! ```

#[cfg(any(target_os = "linux", target_os = "android"))]
fn main() -> std::io::Result<()> {
    linux::main()
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn main() {
    eprintln!("floor: Linux only (it measures epoll)");
    std::process::exit(2);
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod linux {
    use std::io;
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::{AsFd, AsRawFd};
    use std::time::{SystemTime, UNIX_EPOCH};

    use peregrine_core::date::DateCache;
    use peregrine_examples::Options;
    use rustix::event::epoll::{self, CreateFlags, Event, EventData, EventFlags};
    use rustix::net::{RecvFlags, SendFlags};

    /// The listener's token; a connection's is its descriptor.
    const LISTENER: u64 = u64::MAX;

    /// Counts request heads across reads: how many bytes of the blank line
    /// `\r\n\r\n` the input has matched so far (0 to 3).
    #[derive(Default)]
    struct HeadEnds(u8);

    impl HeadEnds {
        /// The number of heads that end in `bytes`.
        fn count(&mut self, bytes: &[u8]) -> usize {
            let mut ends = 0;
            for &byte in bytes {
                self.0 = match (self.0, byte) {
                    (0 | 2, b'\r') => self.0 + 1,
                    (1, b'\n') => 2,
                    (3, b'\n') => {
                        ends += 1;
                        0
                    }
                    (_, b'\r') => 1,
                    _ => 0,
                };
            }
            ends
        }
    }

    /// The answer to every request.
    fn answer(body: &[u8]) -> Vec<u8> {
        let mut date = DateCache::new();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        date.update(now);
        let mut answer = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n".to_vec();
        answer.extend_from_slice(date.header_line());
        answer.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
        answer.extend_from_slice(body);
        answer
    }

    /// Sends all of `bytes` (the socket blocks, so a full send buffer
    /// waits rather than losing the rest).
    fn send_all(stream: &TcpStream, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            let sent = rustix::net::send(stream, bytes, SendFlags::NOSIGNAL)?;
            bytes = &bytes[sent..];
        }
        Ok(())
    }

    pub(crate) fn main() -> io::Result<()> {
        let options = Options::from_args();
        let body = match &options.body_file {
            Some(path) => std::fs::read(path)?,
            None => b"Hello, World!".to_vec(),
        };
        let answer = answer(&body);
        let listener = TcpListener::bind(("0.0.0.0", options.port))?;
        listener.set_nonblocking(true)?;
        let epoll = epoll::create(CreateFlags::CLOEXEC)?;
        epoll::add(
            &epoll,
            &listener,
            EventData::new_u64(LISTENER),
            EventFlags::IN | EventFlags::ET,
        )?;
        eprintln!(
            "floor: listening on http://0.0.0.0:{} (epoll, one thread)",
            options.port
        );
        // Connections by descriptor number.
        let mut connections: Vec<Option<(TcpStream, HeadEnds)>> = Vec::new();
        let mut events: Vec<Event> = Vec::with_capacity(1024);
        let mut input = vec![0u8; 16384];
        loop {
            events.clear();
            match epoll::wait(&epoll, rustix::buffer::spare_capacity(&mut events), None) {
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => continue,
                Err(error) => return Err(error.into()),
            }
            for event in &events {
                let token = event.data.u64();
                if token == LISTENER {
                    while let Ok((stream, _)) = listener.accept() {
                        stream.set_nodelay(true)?;
                        let fd = stream.as_raw_fd() as usize;
                        epoll::add(
                            &epoll,
                            stream.as_fd(),
                            EventData::new_u64(fd as u64),
                            EventFlags::IN | EventFlags::RDHUP | EventFlags::ET,
                        )?;
                        if connections.len() <= fd {
                            connections.resize_with(fd + 1, || None);
                        }
                        connections[fd] = Some((stream, HeadEnds::default()));
                    }
                    continue;
                }
                let Some(entry) = connections.get_mut(token as usize) else {
                    continue;
                };
                let Some((stream, ends)) = entry else {
                    continue;
                };
                // Read until a short read; a closed or failed connection is
                // dropped, which closes it and takes it out of the epoll.
                let open = loop {
                    match rustix::net::recv(&*stream, &mut input, RecvFlags::DONTWAIT) {
                        Ok((0, _)) => break false,
                        Ok((read, _)) => {
                            let requests = ends.count(&input[..read]);
                            if (0..requests).any(|_| send_all(stream, &answer).is_err()) {
                                break false;
                            }
                            if read < input.len() {
                                break true;
                            }
                        }
                        Err(rustix::io::Errno::AGAIN) => break true,
                        Err(rustix::io::Errno::INTR) => {}
                        Err(_) => break false,
                    }
                };
                if !open {
                    *entry = None;
                }
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::HeadEnds;

        #[test]
        fn head_ends_are_counted_across_reads() {
            let mut ends = HeadEnds::default();
            assert_eq!(ends.count(b"GET / HTTP/1.1\r\nHost: a\r\n\r"), 0);
            assert_eq!(ends.count(b"\nGET / HTTP/1.1\r\n\r\nGET /"), 2);
            assert_eq!(ends.count(b" HTTP/1.1\r\r\n\r\n"), 1);
            assert_eq!(ends.count(b"\n\n\r\n\n"), 0);
        }
    }
}
