//! Bodies written in place: [`Response::writer`] and its [`BodyWriter`].
//!
//! # Where the body goes
//!
//! The head's framing field depends on the body's length, which is known
//! only once the body is written. The body is therefore written first, at
//! an offset: after the head's fields and room for the longest tail the
//! head can get (`Date`, `Connection`, the framing field and, should the
//! body outgrow the buffer, the first chunk's size line). Finishing writes
//! the tail in place and moves the body down onto it, so the response
//! ends up one piece, byte for byte what [`Response::body`] makes of the
//! same bytes. The move is one `memmove` of bytes just written (still in
//! cache), small next to producing them; leaving the body where it is and
//! moving the head instead would leave a gap before the response, which
//! the output queue would have to be told about for every response,
//! `body()`'s included. The ordinary paths do not change at all.
//!
//! # Outgrowing the buffer
//!
//! Nothing of a response is sent before the handler returns, and the core
//! cannot allocate, so bytes that do not fit the write buffer go to the
//! worker's [`Spill`] (`Env::spill`), block by block. The response is then
//! chunked (HTTP/1.1) or delimited by the connection's close (HTTP/1.0):
//! the part in the buffer is the first chunk, and the connection sends the
//! spilled part as the socket drains, giving each block back once it is
//! out. Without a spill, or with every block in use, the write fails with
//! [`ResponseError::BodyTooLarge`] and the client gets `500`.

use core::fmt;

use super::{BodySource, Response, ResponseError, Source, Stage, release_chain};
use crate::response::{self, CHUNK_HEADER_MAX, ResponseFraming, TAIL_MAX};
use crate::spill::{Chain, SpillFull};

/// Room left between the head's fields and the body: the longest tail
/// and a chunk size line.
const RESERVE: usize = TAIL_MAX + CHUNK_HEADER_MAX;

/// Bytes kept free at the end of the buffer once the body outgrows it:
/// the CRLF that ends the first chunk.
const CHUNK_END_ROOM: usize = response::CHUNK_END.len();

/// A body being written in place (see the [module documentation](self)).
#[derive(Clone, Copy)]
pub(super) enum Writing {
    /// The response has no content (`HEAD`, `204`, `304`): the bytes are
    /// only counted, for the framing a `GET` would get.
    Counted(u64),
    /// The body is sent: `len` bytes at `start` in the buffer, then what
    /// the connection holds in the spill, if anything.
    Sent {
        /// Where the body starts in the buffer.
        start: u32,
        /// Body bytes in the buffer, from `start`.
        len: u32,
    },
}

/// Writes a response's body straight into the connection's write buffer,
/// after the head: `core::fmt::Write`, and with the `std` feature
/// `std::io::Write`, so a serializer writes there with no buffer of its
/// own. Made by [`Response::writer`].
///
/// Dropping the writer (or [`finish`](Self::finish)) finishes the
/// response: a body that fit the buffer gets `Content-Length`, exactly as
/// if given to [`Response::body`]; one that outgrew it, into the
/// worker's spill, is chunked (close-delimited for HTTP/1.0). A body that
/// fits nowhere fails: the write returns an error and the client gets
/// `500`, never a truncated body.
///
/// ```
/// use core::fmt::Write;
/// use peregrine_core::{Handler, Request, Response};
///
/// struct Count;
///
/// impl Handler for Count {
///     fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
///         response.header("Content-Type", "application/json").unwrap();
///         let mut body = response.writer();
///         let _ = write!(body, "{{\"path_len\":{}}}", request.path().len());
///     } // the writer is dropped: `Content-Length: 14`
/// }
/// ```
pub struct BodyWriter<'r, 'a, L = ()> {
    /// The response written to.
    response: &'r mut Response<'a, L>,
}

impl<'a, L> Response<'a, L> {
    /// A writer of the body, into the write buffer after the head (see
    /// [`BodyWriter`]). The head is then fixed: headers are refused and
    /// the status is kept as it is. Called on a response whose body is
    /// already set, the writer refuses every write.
    ///
    /// How much fits the buffer: the free half of the write buffer (or
    /// more), less the head and 128 bytes for the fields the connection
    /// adds ([`BodyWriter::room`]); beyond it, the body continues in the
    /// worker's spill, as chunks.
    pub fn writer(&mut self) -> BodyWriter<'_, 'a, L> {
        if let Stage::Head = self.stage {
            let sends = self.head.status().allows_body() && !self.ctx.head_request;
            self.stage = Stage::Writing(if sends {
                let start = (self.head.len() + RESERVE).min(self.head.capacity());
                Writing::Sent {
                    start: start as u32,
                    len: 0,
                }
            } else {
                Writing::Counted(0)
            });
        }
        BodyWriter { response: self }
    }

    /// Bytes of the buffer a body being written may take.
    fn writing_room(&self) -> usize {
        let start = match self.stage {
            Stage::Writing(Writing::Sent { start, .. }) => start as usize,
            _ => self.head.len() + RESERVE,
        };
        self.head.capacity().saturating_sub(start)
    }

    /// Appends `bytes` to the body being written.
    fn write_body(&mut self, bytes: &[u8]) -> Result<(), ResponseError> {
        let (start, len) = match self.stage {
            Stage::Writing(Writing::Sent { start, len }) => (start, len),
            Stage::Writing(Writing::Counted(total)) => {
                let total = total + bytes.len() as u64;
                self.stage = Stage::Writing(Writing::Counted(total));
                return Ok(());
            }
            _ => return Err(self.finished_error()),
        };
        let room = self.writing_room();
        if self.spilled.is_none() && bytes.len() <= room - len as usize {
            let at = start as usize + len as usize;
            self.head.beyond(at)[..bytes.len()].copy_from_slice(bytes);
            let len = len + bytes.len() as u32;
            self.stage = Stage::Writing(Writing::Sent { start, len });
            return Ok(());
        }
        self.spill_over(start, len, bytes)
    }

    /// Writes `bytes` past the buffer's room: the first time, the buffer
    /// keeps room for the first chunk's CRLF, and the rest goes to the
    /// spill. On failure the response is given up (`500`).
    #[cold]
    fn spill_over(&mut self, start: u32, mut len: u32, bytes: &[u8]) -> Result<(), ResponseError> {
        let room = self.writing_room();
        let written = match self.spill.as_deref_mut() {
            Some(spill) => {
                let mut rest = bytes;
                let mut written = Ok(());
                if self.spilled.is_none() {
                    let limit = room.saturating_sub(CHUNK_END_ROOM);
                    let area = self.head.beyond(start as usize);
                    let used = len as usize;
                    if used > limit {
                        // The last bytes in the buffer move to the spill
                        // first.
                        let mut moved = [0; CHUNK_END_ROOM];
                        let moved = &mut moved[..used - limit];
                        moved.copy_from_slice(&area[limit..used]);
                        len = limit as u32;
                        written = Chain::append(self.spilled, spill, moved);
                    } else {
                        let n = (limit - used).min(rest.len());
                        area[used..used + n].copy_from_slice(&rest[..n]);
                        len += n as u32;
                        rest = &rest[n..];
                    }
                }
                written.and_then(|()| Chain::append(self.spilled, spill, rest))
            }
            None => Err(SpillFull),
        };
        if written.is_ok() {
            self.stage = Stage::Writing(Writing::Sent { start, len });
            return Ok(());
        }
        if let Some(chain) = self.spilled.take() {
            release_chain(self.spill.as_deref_mut(), chain);
        }
        self.stage = Stage::Failed;
        self.close = true;
        Err(ResponseError::BodyTooLarge)
    }

    /// Finishes the body being written, as the writer's drop does.
    fn finish_writing(&mut self) -> Result<(), ResponseError> {
        let Stage::Writing(writing) = self.stage else {
            return match self.stage {
                Stage::Finished(_) => Ok(()),
                _ => Err(self.finished_error()),
            };
        };
        let room = self.writing_room() as u64;
        self.stage = Stage::Head;
        let (start, len) = match writing {
            Writing::Counted(total) => {
                // What a `GET` would get: the length if it fits, else chunks.
                let length = if total <= room { Some(total) } else { None };
                return self.finish_head(length).map(|_| ());
            }
            Writing::Sent { start, len } => (start as usize, len as usize),
        };
        let spilled = self.spilled.is_some();
        let length = if spilled { None } else { Some(len as u64) };
        let framing = match self.finish_head(length) {
            Ok(framing) => framing,
            Err(error) => {
                if let Some(chain) = self.spilled.take() {
                    release_chain(self.spill.as_deref_mut(), chain);
                }
                self.close = true;
                return Err(error);
            }
        };
        // The reserve holds the size line; the room kept at the end, the
        // CRLF.
        const ROOM: &str = "room for the first chunk's framing was kept";
        let chunked = framing == ResponseFraming::Chunked;
        if chunked && len > 0 {
            let mut size = [0; CHUNK_HEADER_MAX];
            let line = response::encode_chunk_header(len, &mut size);
            self.head.push(line).expect(ROOM);
        }
        self.head.append_moved(start, len);
        if chunked && len > 0 {
            self.head.push(response::CHUNK_END).expect(ROOM);
        }
        if spilled {
            self.stage = Stage::Finished(BodySource::Stream(framing, Source::Spill));
        }
        Ok(())
    }
}

impl<L> BodyWriter<'_, '_, L> {
    /// Appends `bytes` to the body.
    ///
    /// # Errors
    ///
    /// [`ResponseError::BodyTooLarge`] when the body outgrew the buffer
    /// and the worker's spill has no room (or there is none): the response
    /// is then given up, and the client gets `500`.
    /// [`ResponseError::AlreadyFinished`] if the body was set some other
    /// way, or the writer already failed.
    pub fn append(&mut self, bytes: &[u8]) -> Result<(), ResponseError> {
        self.response.write_body(bytes)
    }

    /// Bytes the body may take in the write buffer: up to this many go
    /// out with `Content-Length`; more continue in the spill, as chunks.
    pub fn room(&self) -> usize {
        match self.response.stage {
            Stage::Writing(_) => self.response.writing_room(),
            _ => 0,
        }
    }

    /// Finishes the body (as dropping the writer does), reporting whether
    /// the response could be finished.
    ///
    /// # Errors
    ///
    /// [`ResponseError::HeadTooLarge`] if the head's fields did not fit,
    /// [`ResponseError::AlreadyFinished`] or the error of a failed write:
    /// the client then gets `500`.
    pub fn finish(self) -> Result<(), ResponseError> {
        let mut this = core::mem::ManuallyDrop::new(self);
        this.response.finish_writing()
    }
}

impl<L> Drop for BodyWriter<'_, '_, L> {
    fn drop(&mut self) {
        let _ = self.response.finish_writing();
    }
}

impl<L> fmt::Write for BodyWriter<'_, '_, L> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.append(s.as_bytes()).map_err(|_| fmt::Error)
    }
}

#[cfg(feature = "std")]
impl<L> std::io::Write for BodyWriter<'_, '_, L> {
    /// Takes all of `buf`, or fails: `StorageFull` when the body fits
    /// neither the buffer nor the spill, `Other` when the body was
    /// already set.
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.append(buf).map_err(|error| {
            std::io::Error::from(match error {
                ResponseError::BodyTooLarge => std::io::ErrorKind::StorageFull,
                _ => std::io::ErrorKind::Other,
            })
        })
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<L> fmt::Debug for BodyWriter<'_, '_, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyWriter")
            .field("room", &self.room())
            .finish_non_exhaustive()
    }
}
