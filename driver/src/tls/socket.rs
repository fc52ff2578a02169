//! A TLS connection as the driver's [`Socket`]: reads give plaintext,
//! writes take plaintext, over a plain socket that carries the records.
//!
//! Records wait in the connection's record buffer (see `buffers.rs`),
//! taken from the thread's pool when the connection first has a byte in
//! flight and given back when a [`TlsSocket`] is dropped (at the end of
//! each turn of the driver) holding nothing. The worker's buffer pairs
//! only ever hold plaintext.

use std::io::{self, ErrorKind};
use std::mem;

use peregrine_core::FileRegion;

use super::buffers::{self, Records};
use super::handshake::{self, Advance};
use super::traffic::Opened;
use super::{Phase, TlsSession};
use crate::io::Socket;

/// What one step on the input gave.
enum Step {
    /// Plaintext, or progress: look again.
    Again,
    /// Nothing more without more records from the socket.
    NeedInput,
    /// The peer closed the connection.
    End,
}

/// A plain socket `S` carrying the TLS connection `session`.
pub struct TlsSocket<'a, S> {
    /// The socket the records go through.
    inner: S,
    /// The TLS state.
    session: &'a mut TlsSession,
}

impl<'a, S: Socket> TlsSocket<'a, S> {
    /// `session` over `inner`.
    pub fn new(inner: S, session: &'a mut TlsSession) -> Self {
        TlsSocket { inner, session }
    }

    /// Sends the records waiting until none is left: `WouldBlock` (or
    /// another error) if the socket stops taking them first.
    fn flush(&mut self) -> io::Result<()> {
        match &mut self.session.records {
            Some(records) => records.output.send(&mut self.inner),
            None => Ok(()),
        }
    }

    /// Sends what records the socket takes now, keeping the rest.
    fn send_what_fits(&mut self) -> io::Result<()> {
        match self.flush() {
            Err(error) if error.kind() == ErrorKind::WouldBlock => Ok(()),
            other => other,
        }
    }

    /// One step on the records received: the handshake as far as they
    /// take it (sending its answers as the socket takes them), or the
    /// next record opened. A record the connection fails on has the fatal
    /// alert it owes sent after the records waiting, as far as the socket
    /// takes it now, and nothing after it: the connection's TLS state is
    /// gone.
    fn process(&mut self) -> io::Result<Step> {
        let TlsSocket { inner, session } = self;
        let records = session.records.get_or_insert_with(buffers::take);
        // Whether records sealed in this step go out at once.
        let mut answer = matches!(session.phase, Phase::Handshake(_));
        let step = match &mut session.phase {
            Phase::Handshake(handshake) => {
                match handshake::advance(&mut handshake.conn, records, inner) {
                    Ok(Advance::Done) => finish(session).map(|()| Step::Again),
                    Ok(Advance::NeedInput) => Ok(Step::NeedInput),
                    Ok(Advance::Closed) => Ok(Step::End),
                    Err(error) => Err(error),
                }
            }
            Phase::Traffic(traffic) => match traffic.open_next(records) {
                Ok(Opened::Data) => Ok(Step::Again),
                Ok(Opened::Control) => {
                    // A warning sealed in answer (a refused renegotiation).
                    answer = records.output.has_output();
                    Ok(Step::Again)
                }
                Ok(Opened::NeedInput) => Ok(Step::NeedInput),
                Ok(Opened::End) => Ok(Step::End),
                Err(error) => {
                    traffic.fail(&mut records.output, &error);
                    session.phase = Phase::Failed;
                    let _ = self.send_what_fits();
                    return Err(error.into());
                }
            },
            Phase::Failed => Err(failed()),
        };
        match step {
            Ok(step) => {
                if answer {
                    // The handshake's answers go out at once: the peer
                    // waits for them (and a blocking socket is read next).
                    self.send_what_fits()?;
                }
                Ok(step)
            }
            Err(error) => {
                self.session.phase = Phase::Failed;
                Err(error)
            }
        }
    }

    /// The record buffer (taken from the pool if the connection holds
    /// none) and the record layer, after the handshake.
    fn traffic(&mut self) -> io::Result<(&mut Records, &mut super::Traffic, &mut S)> {
        let TlsSocket { inner, session } = self;
        if !matches!(session.phase, Phase::Traffic(_)) {
            return Err(match session.phase {
                Phase::Failed => failed(),
                _ => io::Error::other("TLS output before the handshake is done"),
            });
        }
        let Phase::Traffic(traffic) = &mut session.phase else {
            return Err(failed());
        };
        let records = session.records.get_or_insert_with(buffers::take);
        Ok((records, traffic, inner))
    }
}

/// The handshake of `session` is done: its secrets go to the record layer.
fn finish(session: &mut TlsSession) -> io::Result<()> {
    let Phase::Handshake(handshake) = mem::replace(&mut session.phase, Phase::Failed) else {
        return Err(failed());
    };
    let traffic = handshake::finish(*handshake)?;
    session.phase = Phase::Traffic(Box::new(traffic));
    Ok(())
}

/// A connection whose TLS failed before.
fn failed() -> io::Error {
    io::Error::new(ErrorKind::InvalidData, "the TLS connection failed")
}

impl<S: Socket> Socket for TlsSocket<'_, S> {
    /// Plaintext: what was decrypted before, then records read from the
    /// socket and opened until `buf` is full or the socket is drained, so
    /// that an edge-triggered caller may take a short read for a drained
    /// socket, as with a plain one (a blocking socket is not read again
    /// once there is something to give). `Ok(0)` at the end of the
    /// stream, with or without `close_notify`.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        let mut drained = false;
        loop {
            if let Some(records) = &mut self.session.records {
                filled += records.input.read_plain(&mut buf[filled..]);
            }
            if filled == buf.len() {
                return Ok(filled);
            }
            match self.process()? {
                Step::Again => continue,
                Step::End => return Ok(filled),
                Step::NeedInput => {}
            }
            // Nothing opened is left. A drained socket has no more for
            // now; with nothing to show yet, one more read makes sure
            // (and sees the end of a stream a hang-up announced).
            if filled > 0 && (drained || self.inner.is_blocking()) {
                return Ok(filled);
            }
            let TlsSocket { inner, session } = self;
            let records = session.records.get_or_insert_with(buffers::take);
            let space = records.input.space();
            if space.is_empty() {
                return Err(io::Error::new(
                    ErrorKind::InvalidData,
                    "a TLS handshake message longer than the record buffer",
                ));
            }
            let asked = space.len();
            match inner.read(space) {
                Ok(0) => return Ok(filled),
                Ok(n) => {
                    records.input.end += n;
                    drained |= n < asked;
                }
                Err(error) if error.kind() == ErrorKind::WouldBlock && filled > 0 => {
                    return Ok(filled);
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Seals the slices, gathered into records of up to 2¹⁴ bytes, once
    /// the records sealed before are sent; sends them as the socket takes
    /// them, and stops when it is full, keeping the last record (see
    /// [`has_pending_output`](Socket::has_pending_output)). `WouldBlock`
    /// while older records wait.
    fn write_slices<'b>(&mut self, slices: impl Iterator<Item = &'b [u8]>) -> io::Result<usize> {
        self.flush()?;
        let (records, traffic, inner) = self.traffic()?;
        let output = &mut records.output;
        let mut slices = slices;
        let mut current: &[u8] = &[];
        let mut taken = 0;
        loop {
            let (at, room) = match traffic.prepare(output) {
                Ok(room) => room,
                Err(error) => {
                    // What was sealed last (`close_notify` for a key at
                    // its limit) goes out as far as the socket takes it.
                    let _ = output.send(inner);
                    return Err(error);
                }
            };
            let mut len = 0;
            while len < room {
                if current.is_empty() {
                    match slices.next() {
                        Some(slice) => {
                            current = slice;
                            continue;
                        }
                        None => break,
                    }
                }
                let n = current.len().min(room - len);
                output.bytes[at + len..at + len + n].copy_from_slice(&current[..n]);
                len += n;
                current = &current[n..];
            }
            if len == 0 {
                return Ok(taken);
            }
            traffic.seal_data(output, len)?;
            taken += len;
            match output.send(inner) {
                Ok(()) => {}
                Err(error) if error.kind() == ErrorKind::WouldBlock => return Ok(taken),
                Err(error) => return Err(error),
            }
        }
    }

    /// Reads up to a record of the region at its offset into the record
    /// buffer and seals it there (`sendfile` cannot encrypt). The end of
    /// the file before the region's is `Ok(0)`, which
    /// [`drive`](crate::io::drive) takes as an error.
    fn send_file(&mut self, region: FileRegion) -> io::Result<usize> {
        self.flush()?;
        let (records, traffic, inner) = self.traffic()?;
        let output = &mut records.output;
        let (at, room) = match traffic.prepare(output) {
            Ok(room) => room,
            Err(error) => {
                let _ = output.send(inner);
                return Err(error);
            }
        };
        let want = usize::try_from(region.len()).map_or(room, |len| len.min(room));
        if want == 0 {
            return Ok(0);
        }
        let read = crate::region::read_region(&region, &mut output.bytes[at..at + want])?;
        if read == 0 {
            return Ok(0);
        }
        traffic.seal_data(output, read)?;
        match output.send(inner) {
            Err(error) if error.kind() != ErrorKind::WouldBlock => Err(error),
            _ => Ok(read),
        }
    }

    /// Sends `close_notify` after the records waiting, then shuts the
    /// socket's write side; `WouldBlock` while records wait for room. A
    /// connection still handshaking only shuts the write side.
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.flush()?;
        if matches!(self.session.phase, Phase::Traffic(_)) {
            let (records, traffic, _) = self.traffic()?;
            traffic.seal_close_notify(&mut records.output)?;
            self.flush()?;
        }
        self.inner.shutdown_write()
    }

    #[inline]
    fn has_pending_output(&self) -> bool {
        use crate::transport::Session;
        self.session.has_pending_output()
    }

    fn flush_pending(&mut self) -> io::Result<()> {
        self.flush()
    }

    #[inline]
    fn is_blocking(&self) -> bool {
        self.inner.is_blocking()
    }
}

impl<S> Drop for TlsSocket<'_, S> {
    /// Gives the record buffer back to the pool if the connection holds
    /// nothing in it: an idle connection keeps none.
    fn drop(&mut self) {
        if self
            .session
            .records
            .as_ref()
            .is_some_and(|records| records.is_empty())
        {
            if let Some(records) = self.session.records.take() {
                buffers::give_back(records);
            }
        }
    }
}
