//! A TLS connection as the driver's [`Socket`]: reads give plaintext,
//! writes take plaintext, over a plain socket that carries the records.
//!
//! Records are kept in rustls' own buffers (a ciphertext buffer for
//! partial records in, a queue of records out): the worker's buffer
//! pairs only ever hold plaintext, and an idle connection holds none.

use std::io::{self, ErrorKind, Read, Write};

use peregrine_core::FileRegion;
use rustls::ServerConnection;

use crate::io::Socket;

/// The most plaintext one record carries (TLS's limit, 2¹⁴ bytes): the
/// connection's slices are gathered into records of this size.
const RECORD: usize = 16 * 1024;

/// A plain socket `S` carrying the TLS connection `tls`.
pub struct TlsSocket<'a, S> {
    /// The socket the records go through.
    inner: S,
    /// The TLS state.
    tls: &'a mut ServerConnection,
}

impl<'a, S: Socket> TlsSocket<'a, S> {
    /// `tls` over `inner`.
    pub fn new(inner: S, tls: &'a mut ServerConnection) -> Self {
        TlsSocket { inner, tls }
    }

    /// Sends queued records until none is left: `WouldBlock` (or another
    /// error) if the socket stops taking them first.
    fn send_records(&mut self) -> io::Result<()> {
        while self.tls.wants_write() {
            let mut sink = Sink(&mut self.inner);
            if self.tls.write_tls(&mut sink)? == 0 {
                return Err(ErrorKind::WriteZero.into());
            }
        }
        Ok(())
    }

    /// Sends what records the socket takes now, keeping the rest queued.
    fn send_what_fits(&mut self) -> io::Result<()> {
        match self.send_records() {
            Err(error) if error.kind() == ErrorKind::WouldBlock => Ok(()),
            other => other,
        }
    }

    /// Reads records from the socket once and processes them (answering
    /// a handshake as it goes): the bytes read, 0 at the end of the
    /// stream; `short` is set if the socket gave less than room allowed,
    /// which on an edge-triggered socket means it is drained.
    fn receive(&mut self, short: &mut bool) -> io::Result<usize> {
        let n = self.tls.read_tls(&mut Source {
            inner: &mut self.inner,
            short,
        })?;
        if n == 0 {
            return Ok(0);
        }
        if let Err(error) = self.tls.process_new_packets() {
            // The alert rustls queued goes out if it can.
            let _ = self.send_records();
            return Err(io::Error::new(ErrorKind::InvalidData, error));
        }
        self.send_what_fits()?;
        Ok(n)
    }

    /// Encrypts `bytes` (at most a record's worth, or more); how many
    /// rustls took (fewer once its queue of records is full).
    fn seal(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.tls.writer().write(bytes)
    }
}

impl<S: Socket> Socket for TlsSocket<'_, S> {
    /// Plaintext: what rustls holds decrypted, then records read from the
    /// socket until `buf` is full or the socket is drained, so that an
    /// edge-triggered caller may take a short read for a drained socket,
    /// as with a plain one. `Ok(0)` at the end of the stream, with or
    /// without `close_notify`.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        let mut short = false;
        loop {
            match self.tls.reader().read(&mut buf[filled..]) {
                Ok(0) => return Ok(filled),
                Ok(n) => {
                    filled += n;
                    if filled == buf.len() {
                        return Ok(filled);
                    }
                    continue;
                }
                Err(error) if error.kind() == ErrorKind::WouldBlock => {}
                Err(error) if error.kind() == ErrorKind::UnexpectedEof => return Ok(filled),
                Err(error) => return Err(error),
            }
            // Nothing decrypted is left. A drained socket has no more for
            // now; with nothing to show yet, one more read makes sure
            // (and sees the end of a stream a hang-up announced).
            if short && filled > 0 {
                return Ok(filled);
            }
            match self.receive(&mut short) {
                // The end of the stream: the reader says how it ended.
                Ok(0) => {}
                Ok(_) => {}
                Err(error) if error.kind() == ErrorKind::WouldBlock && filled > 0 => {
                    return Ok(filled);
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Encrypts the slices, gathered into full records, once the records
    /// queued before are sent; sends what the socket takes and keeps the
    /// rest queued (see [`has_pending_output`](Socket::has_pending_output)).
    /// `WouldBlock` while older records wait.
    fn write_slices<'b>(&mut self, slices: impl Iterator<Item = &'b [u8]>) -> io::Result<usize> {
        self.send_records()?;
        let mut record = [0u8; RECORD];
        let mut len = 0;
        let mut taken = 0;
        for slice in slices {
            let mut rest = slice;
            while !rest.is_empty() {
                if len == 0 && rest.len() >= RECORD {
                    // Whole records straight from the slice.
                    let whole = rest.len() - rest.len() % RECORD;
                    let n = self.seal(&rest[..whole])?;
                    taken += n;
                    if n < whole {
                        self.send_what_fits()?;
                        return Ok(taken);
                    }
                    rest = &rest[whole..];
                    continue;
                }
                let n = rest.len().min(RECORD - len);
                record[len..len + n].copy_from_slice(&rest[..n]);
                len += n;
                rest = &rest[n..];
                if len == RECORD {
                    let n = self.seal(&record)?;
                    taken += n;
                    len = 0;
                    if n < RECORD {
                        self.send_what_fits()?;
                        return Ok(taken);
                    }
                }
            }
        }
        if len > 0 {
            taken += self.seal(&record[..len])?;
        }
        self.send_what_fits()?;
        Ok(taken)
    }

    /// Reads up to a record of the region at its offset and encrypts it
    /// (`sendfile` cannot encrypt). The end of the file before the
    /// region's is `Ok(0)`, which [`drive`](crate::io::drive) takes as an
    /// error.
    fn send_file(&mut self, region: FileRegion) -> io::Result<usize> {
        self.send_records()?;
        let mut record = [0u8; RECORD];
        let want = usize::try_from(region.len()).map_or(RECORD, |len| len.min(RECORD));
        if want == 0 {
            return Ok(0);
        }
        let read = crate::region::read_region(&region, &mut record[..want])?;
        if read == 0 {
            return Ok(0);
        }
        let n = self.seal(&record[..read])?;
        self.send_what_fits()?;
        Ok(n)
    }

    /// Sends `close_notify` after what is queued, then shuts the socket's
    /// write side; `WouldBlock` while records wait for room.
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.send_records()?;
        self.tls.send_close_notify();
        self.send_records()?;
        self.inner.shutdown_write()
    }

    #[inline]
    fn has_pending_output(&self) -> bool {
        self.tls.wants_write()
    }

    fn flush_pending(&mut self) -> io::Result<()> {
        self.send_records()
    }
}

/// A socket as rustls' source of records, noting a short read.
struct Source<'s, S> {
    /// The socket.
    inner: &'s mut S,
    /// Set when a read gave less than asked.
    short: &'s mut bool,
}

impl<S: Socket> Read for Source<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n < buf.len() {
            *self.short = true;
        }
        Ok(n)
    }
}

/// A socket as rustls' sink for records.
struct Sink<'s, S>(&'s mut S);

impl<S: Socket> Write for Sink<'_, S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.0.write_slices(bufs.iter().map(|slice| &**slice))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
