//! File bodies: the region of a file a response sends, and the keeper
//! that holds the file open while it is sent.
//!
//! The core never opens, reads or closes a file. A response names a
//! [`FileRegion`]; the caller that drives the connection sends it (with
//! `sendfile`, or by reading it) when [`Transmit::SendFile`](crate::Transmit::SendFile)
//! asks. Who keeps the file open is settled when the region is made:
//!
//! - **Kept** ([`FileRegion::kept`]): a [`FileKeeper`] given to the
//!   connection in [`Env::files`](crate::Env::files) owns the file, and the
//!   connection hands the region back to it
//!   ([`FileKeeper::release`]) exactly once, when the response no longer
//!   needs it: sent whole, cut short by the connection's end, or never
//!   sent at all (a `HEAD` request, a `304`, a failed head). The backends
//!   do this for their safe `send_file`, which takes an owned file.
//! - **Borrowed** ([`FileRegion::borrowed`], `unsafe`): the caller
//!   promises the descriptor stays open and unchanged until the
//!   connection is done with it. Nothing tells it when, so in practice
//!   the file is open for as long as the server runs.

use core::any::Any;

/// Who keeps a [`FileRegion`]'s file open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Holder {
    /// The caller, by the contract of [`FileRegion::borrowed`].
    Borrowed,
    /// The connection's [`FileKeeper`], until the region is released.
    Kept,
}

/// A region of a file for the backend to send with `sendfile` (or by
/// reading it, where there is none), as the body of a response
/// ([`Response::send_file_region`](crate::Response::send_file_region)).
///
/// The core only describes the region; `handle` is between whoever made
/// the region and the backend that sends it. On Unix it is a raw file
/// descriptor, on Windows (the portable backend) a raw `HANDLE`, as a
/// number.
///
/// # What is sent
///
/// - **Where it is read.** At `offset`, by positioned reads (`sendfile`
///   with an offset, `pread`): the descriptor's file position is neither
///   used nor moved on Unix, so one descriptor may serve many responses
///   at once. (On Windows the portable backend reads with `seek_read`,
///   which moves the handle's file pointer.)
/// - **When.** The file's bytes as they are when they are read, piece by
///   piece: nothing is copied beforehand, so a file rewritten while being
///   sent is sent part old, part new.
/// - **If the file is shorter than the region** (it shrank while being
///   sent, or the region was wrong): the head has already promised `len`
///   bytes (`Content-Length`), so as soon as the backend finds the end of
///   the file the response ends and is counted
///   ([`Counters::files_cut_short`](crate::Counters::files_cut_short)).
///   Over HTTP/1.1 the connection closes: the client gets the bytes up to
///   the end of the file, then the close, a body short of its
///   `Content-Length`, which it must treat as incomplete. Over HTTP/2 only
///   the stream ends: the DATA frame under way is completed with zeros
///   (its header announced bytes the file no longer has), then the stream
///   is reset with INTERNAL_ERROR, never ended, so the client knows the
///   body incomplete; the connection's other streams go on.
/// - **When nothing is read.** For a `HEAD` request, or a status without
///   content (`1xx`, `204`, `304`), only the head is sent (and a kept
///   region is released at once).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileRegion {
    /// Which bytes of which file.
    span: Span,
    /// Who keeps the file open.
    holder: Holder,
}

/// Which bytes of which file: a [`FileRegion`] without its holder, as the
/// output queue stores it (the holder is the queue entry's kind, which
/// keeps an entry as small as it was before files had holders).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Span {
    /// The file, as the backend knows it.
    pub(crate) handle: u64,
    /// Where the region starts in the file.
    pub(crate) offset: u64,
    /// The region's length in bytes: what `Content-Length` says.
    pub(crate) len: u64,
}

impl Span {
    /// The span after its first `n` bytes were sent (`n` ≤ `len`).
    pub(crate) fn advance(&mut self, n: u64) {
        self.offset += n;
        self.len -= n;
    }
}

impl FileRegion {
    /// A region of a file its caller keeps open.
    ///
    /// # Safety
    ///
    /// `handle` is a file open for reading (on Unix a descriptor, on
    /// Windows a `HANDLE`), and it stays open, naming the same file, until
    /// the response that sends the region has been sent in full or its
    /// connection has been dropped. That can be long after
    /// [`Handler::handle`](crate::Handler::handle) returns (a slow client,
    /// a long keep-alive pipeline), and nothing says when, so in practice:
    /// open the files at start-up and keep them open while the server
    /// runs. A descriptor closed early, and its number reused for another
    /// file, would send that file's bytes to the client. Prefer the
    /// backends' safe `send_file`, which owns the file until it is sent.
    ///
    /// ```
    /// use peregrine_core::FileRegion;
    ///
    /// // SAFETY: the example never sends the region; in a server, the
    /// // descriptor would be one opened at start-up and never closed.
    /// let region = unsafe { FileRegion::borrowed(3, 0, 1024) };
    /// assert_eq!((region.handle(), region.offset(), region.len()), (3, 0, 1024));
    /// assert!(!region.is_kept());
    /// ```
    pub const unsafe fn borrowed(handle: u64, offset: u64, len: u64) -> Self {
        FileRegion {
            span: Span {
                handle,
                offset,
                len,
            },
            holder: Holder::Borrowed,
        }
    }

    /// A region of a file a [`FileKeeper`] owns: the connection gives the
    /// region back to the keeper in its [`Env`](crate::Env) with
    /// [`FileKeeper::release`] once its response is done with it (sent,
    /// cut short, or never sent).
    ///
    /// # Safety
    ///
    /// `handle` is a file open for reading, owned by the keeper of every
    /// connection call that may send or drop the region, and the keeper
    /// keeps it open, naming the same file, until the region comes back
    /// to it through [`FileKeeper::release`].
    pub const unsafe fn kept(handle: u64, offset: u64, len: u64) -> Self {
        FileRegion {
            span: Span {
                handle,
                offset,
                len,
            },
            holder: Holder::Kept,
        }
    }

    /// The region of `span`, kept or borrowed as it was when split.
    pub(crate) const fn from_span(span: Span, kept: bool) -> Self {
        FileRegion {
            span,
            holder: if kept { Holder::Kept } else { Holder::Borrowed },
        }
    }

    /// Which bytes of which file.
    pub(crate) const fn span(&self) -> Span {
        self.span
    }

    /// The file: a raw descriptor on Unix, a raw `HANDLE` on Windows.
    pub const fn handle(&self) -> u64 {
        self.span.handle
    }

    /// Where the region (what is left of it) starts in the file.
    pub const fn offset(&self) -> u64 {
        self.span.offset
    }

    /// The region's length in bytes (what is left of it).
    #[allow(clippy::len_without_is_empty)]
    pub const fn len(&self) -> u64 {
        self.span.len
    }

    /// Whether a [`FileKeeper`] owns the file ([`kept`](Self::kept)).
    pub const fn is_kept(&self) -> bool {
        matches!(self.holder, Holder::Kept)
    }
}

/// What owns the files of [kept](FileRegion::kept) regions while their
/// responses send them: given to a connection in
/// [`Env::files`](crate::Env::files), it gets each kept region back
/// exactly once, when its response is done with it, and may then close
/// the file.
///
/// The backends' keeper is a per-worker table of open files. A runtime
/// that never sends files gives none (`Env::files` is `None`), and then
/// no kept region is ever made.
pub trait FileKeeper {
    /// The response that sent `region` (or was to) is done with it: it was
    /// sent whole, its connection ended first, or it was never sent.
    /// [`handle`](FileRegion::handle) names the file as when the region was
    /// made; the offset and length are what was left unsent (a length of
    /// 0: sent whole).
    fn release(&mut self, region: FileRegion);

    /// The keeper itself, for the code that made it to find its own type
    /// again behind a [`Response`](crate::Response) (to add a file there).
    fn as_any(&mut self) -> &mut dyn Any;
}
