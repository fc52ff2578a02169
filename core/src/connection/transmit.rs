//! What a connection asks the caller to write.

use crate::FileRegion;
use crate::send_queue::{Queue, Segment};

/// How many slices one vectored write offers at most: the size of the
/// array a caller fills with [`Slices::fill`] (or `Slices::fill_io`, with
/// the `std` feature).
/// Output beyond it (a long pipeline of responses with static bodies) goes
/// out in a later write. Well under every system's `IOV_MAX` (1,024 on
/// Linux and the BSDs).
pub const MAX_SLICES: usize = 64;

/// What the caller should do with the socket next; see
/// [`Connection::poll_transmit`](crate::Connection::poll_transmit).
///
/// # Runtimes that send no files
///
/// [`SendFile`](Self::SendFile) is asked for only after a handler sent a
/// file ([`Response::send_file_region`](crate::Response::send_file_region),
/// or a backend's `send_file`, which needs the caller's
/// [`Env::files`](crate::Env::files)): a runtime whose handlers never do
/// never sees it. One that does not send files still handles it, in one of
/// two ways:
///
/// - read the region at its offset (`pread`; on Unix
///   `std::os::unix::fs::FileExt::read_at` on the borrowed descriptor)
///   into a buffer of its own, write that, and report the bytes written
///   with [`handle_written`](crate::Connection::handle_written), as the
///   portable backend and the `tokio` example do;
/// - or close the connection: the response's head has already promised
///   the region's length, so the client sees a body cut short, never a
///   wrong one. Such a runtime documents that `send_file` is not for its
///   handlers.
#[derive(Clone, Debug)]
pub enum Transmit<'b> {
    /// Nothing to write.
    Idle,
    /// Write these slices, in order (one `writev`), then report how many
    /// bytes went out with [`Connection::handle_written`](crate::Connection::handle_written).
    Write(Slices<'b>),
    /// Send this file region (`sendfile`), then report the bytes sent with
    /// [`Connection::handle_written`](crate::Connection::handle_written).
    SendFile(FileRegion),
    /// Shut down the write side of the socket (the response is complete,
    /// the connection is closing), then call
    /// [`Connection::handle_write_closed`](crate::Connection::handle_write_closed); keep reading until the peer closes
    /// or the linger deadline passes.
    CloseWrite,
}

/// The slices of a [`Transmit::Write`], in order: an iterator, so the
/// caller builds its `iovec` array (or whatever its API takes) in one
/// pass, with nothing to initialise first.
#[derive(Clone, Debug)]
pub struct Slices<'b> {
    /// Segments not yet returned, front half of the ring.
    front: &'b [Segment],
    /// Then the back half.
    back: &'b [Segment],
    /// The write buffer that buffer segments point into.
    write: &'b [u8],
    /// Whether a file segment is among the segments.
    files: bool,
}

impl<'b> Slices<'b> {
    /// The slices of what `queue` holds, ranges of `write`.
    #[inline(always)]
    pub(crate) fn new(queue: &'b Queue, write: &'b [u8]) -> Self {
        let (front, back) = queue.as_slices();
        Slices {
            front,
            back,
            write,
            files: queue.has_files(),
        }
    }

    /// The whole output when it is one slice (the usual response: its head
    /// and a small body in the write buffer), so the caller can make a plain
    /// `send` of it; `None` when there are more.
    #[inline]
    pub fn single(&self) -> Option<&'b [u8]> {
        match (self.front, self.back) {
            ([segment], []) | ([], [segment]) => match *segment {
                Segment::Buffer { start, end } => self.write.get(start as usize..end as usize),
                Segment::Static(bytes) => Some(bytes),
                _ => None,
            },
            _ => None,
        }
    }
}

impl<'b> Slices<'b> {
    /// Whether a file region of at least one byte comes right after
    /// these slices (a response's head, then its file): the caller may
    /// have its socket hold the bytes back to leave with the file's first
    /// ones (Linux's `MSG_MORE`), one packet where there would be two.
    #[inline]
    pub fn file_follows(&self) -> bool {
        if !self.files {
            return false;
        }
        let next = self.front.iter().chain(self.back).find(|segment| {
            !matches!(
                segment,
                Segment::Buffer { .. } | Segment::Static(_) | Segment::End { .. }
            )
        });
        // An empty region sends nothing that would push the bytes out.
        matches!(next, Some(Segment::File(span) | Segment::KeptFile(span)) if span.len > 0)
    }

    /// Takes the next slices into `out`, as many as fit, and returns how
    /// many it took: `&out[..count]` is what one vectored write offers
    /// (an array of [`MAX_SLICES`] holds what the backends offer). A
    /// caller whose API takes `std::io::IoSlice`s uses `fill_io` (with the
    /// `std` feature).
    #[inline]
    pub fn fill(&mut self, out: &mut [&'b [u8]]) -> usize {
        let mut count = 0;
        for (slot, slice) in out.iter_mut().zip(self) {
            *slot = slice;
            count += 1;
        }
        count
    }

    /// [`fill`](Self::fill) for `std::io::Write::write_vectored` (and
    /// the `poll_write_vectored` of async runtimes): the slices as
    /// `IoSlice`s.
    ///
    /// ```
    /// use std::io::{IoSlice, Write};
    /// use peregrine_core::{Config, Connection, Counters, Env, Handler, IoBuffers, MAX_SLICES};
    /// use peregrine_core::{Capacity, Request, Response, Transmit};
    ///
    /// struct Hello;
    /// impl Handler for Hello {
    ///     fn handle(&self, _: &Request<'_>, response: &mut Response<'_>) {
    ///         response.body_static(&[b'x'; 1000]); // a slice of its own
    ///     }
    /// }
    ///
    /// let mut bufs = IoBuffers::<Capacity<1024, 4096, 16>>::boxed();
    /// let mut conn = Connection::<Capacity<1024, 4096, 16>>::new(Config::DEFAULT, None, 0);
    /// let (mut counters, mut local) = (Counters::default(), ());
    /// let mut env = Env::new(&Hello, &mut local, 0, &mut counters);
    /// let wire = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    /// conn.read_buf(&mut bufs)[..wire.len()].copy_from_slice(wire);
    /// conn.handle_read(wire.len(), &mut bufs, &mut env);
    ///
    /// let mut socket = Vec::new(); // any `Write`: a `TcpStream`
    /// let Transmit::Write(mut slices) = conn.poll_transmit(&bufs) else { panic!() };
    /// let mut iov = [IoSlice::new(&[]); MAX_SLICES];
    /// let count = slices.fill_io(&mut iov);
    /// assert_eq!(count, 2); // the head, then the body
    /// let written = socket.write_vectored(&iov[..count])?;
    /// conn.handle_written(written, &mut bufs, &mut env);
    /// assert!(matches!(conn.poll_transmit(&bufs), Transmit::Idle));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg(feature = "std")]
    #[inline]
    pub fn fill_io(&mut self, out: &mut [std::io::IoSlice<'b>]) -> usize {
        let mut count = 0;
        for (slot, slice) in out.iter_mut().zip(self) {
            *slot = std::io::IoSlice::new(slice);
            count += 1;
        }
        count
    }
}

impl<'b> Iterator for Slices<'b> {
    type Item = &'b [u8];

    #[inline]
    fn next(&mut self) -> Option<&'b [u8]> {
        if self.front.is_empty() {
            self.front = core::mem::take(&mut self.back);
        }
        let (segment, rest) = self.front.split_first()?;
        self.front = rest;
        match *segment {
            Segment::Buffer { start, end } => Some(&self.write[start as usize..end as usize]),
            Segment::Static(bytes) => Some(bytes),
            _ => self.past_other(segment),
        }
    }
}

impl<'b> Slices<'b> {
    /// [`next`](Iterator::next) after a segment that is not bytes: a file
    /// region goes out on its own, after the slices before it; the end of
    /// a response has no bytes, and the slices go on after it.
    #[cold]
    fn past_other(&mut self, segment: &Segment) -> Option<&'b [u8]> {
        if let Segment::End { .. } = segment {
            return self.next();
        }
        self.front = &[];
        self.back = &[];
        None
    }
}
