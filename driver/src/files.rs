//! Responses that own their file: [`SendFile::send_file`] hands an open
//! file to the worker's [`FileTable`], which keeps it open while the
//! connection sends it and closes it (drops its share) once the
//! connection is done with it: sent whole, cut short when the connection
//! ended, or never sent (`HEAD`, `304`, a refused response, a handler
//! that panicked).
//!
//! A handler can therefore open a file, give it to the response and
//! forget it:
//!
//! ```no_run
//! use std::fs::File;
//! use peregrine_driver::core::{Handler, Request, Response, StatusCode};
//! use peregrine_driver::files::SendFile;
//!
//! struct Download;
//!
//! impl Handler for Download {
//!     fn handle(&self, _: &Request<'_>, response: &mut Response<'_>) {
//!         match File::open("/srv/report.pdf") {
//!             Ok(file) => {
//!                 response.header("Content-Type", "application/pdf").unwrap();
//!                 response.send_file(file);
//!             }
//!             Err(_) => {
//!                 response.status(StatusCode::NOT_FOUND);
//!             }
//!         }
//!     }
//! }
//! ```
//!
//! The table grows to the most files in flight at once on one worker and
//! keeps that capacity: no allocation per response once warm.

use std::any::Any;
use std::collections::HashMap;
use std::fs::File;
use std::sync::Arc;

use peregrine_core::{FileKeeper, FileRegion, Response};

/// An open file a response can own: a `File`, or a share of one
/// (`Arc<File>`) that many responses send at once.
#[derive(Debug)]
pub enum OwnedFile {
    /// A file of its own, closed when its last response is done.
    File(File),
    /// A share of a file; the file closes when the last share drops.
    Shared(Arc<File>),
}

impl OwnedFile {
    /// The file.
    fn file(&self) -> &File {
        match self {
            OwnedFile::File(file) => file,
            OwnedFile::Shared(file) => file,
        }
    }

    /// The file's raw handle, as [`FileRegion::handle`] carries it.
    fn raw_handle(&self) -> u64 {
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            // A descriptor is never negative.
            self.file().as_raw_fd() as u64
        }
        #[cfg(windows)]
        {
            use std::os::windows::io::AsRawHandle;
            self.file().as_raw_handle().expose_provenance() as u64
        }
        #[cfg(not(any(unix, windows)))]
        {
            let _ = self.file();
            u64::MAX
        }
    }
}

impl From<File> for OwnedFile {
    fn from(file: File) -> Self {
        OwnedFile::File(file)
    }
}

impl From<Arc<File>> for OwnedFile {
    fn from(file: Arc<File>) -> Self {
        OwnedFile::Shared(file)
    }
}

/// A file the table keeps, and how many of its regions are out.
#[derive(Debug)]
struct Kept {
    /// The file (or a share of it), held to keep it open.
    _file: OwnedFile,
    /// Regions of it not yet released.
    regions: u32,
}

/// The files a worker's responses are sending, keyed by raw handle: a
/// handle stays unique while its file is open, and the table holds it
/// open, so a key never names two files. A file given twice (two shares
/// of one `Arc<File>`) is one entry with two regions out.
#[derive(Debug, Default)]
pub struct FileTable {
    /// The kept files by raw handle.
    kept: HashMap<u64, Kept>,
}

impl FileTable {
    /// An empty table.
    pub fn new() -> Self {
        FileTable::default()
    }

    /// Files open for responses now.
    pub fn len(&self) -> usize {
        self.kept.len()
    }

    /// Whether no response holds a file.
    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    /// Keeps `file` open for a response that sends `len` bytes of it from
    /// `offset`, and returns the region, to be given back with
    /// [`FileKeeper::release`].
    pub fn keep(&mut self, file: OwnedFile, offset: u64, len: u64) -> FileRegion {
        let handle = file.raw_handle();
        self.kept
            .entry(handle)
            .and_modify(|kept| kept.regions += 1)
            .or_insert(Kept {
                _file: file,
                regions: 1,
            });
        // SAFETY: the table now owns the file (or a share of it) and keeps
        // it open, under this handle, until the region comes back through
        // `release`: the contract of `FileRegion::kept`, for every
        // connection whose `Env` carries this table.
        unsafe { FileRegion::kept(handle, offset, len) }
    }
}

impl FileKeeper for FileTable {
    fn release(&mut self, region: FileRegion) {
        if let Some(kept) = self.kept.get_mut(&region.handle()) {
            kept.regions -= 1;
            if kept.regions == 0 {
                self.kept.remove(&region.handle());
            }
        }
    }

    fn as_any(&mut self) -> &mut dyn Any {
        self
    }
}

/// Sending an owned file as a response's body: implemented for the core's
/// [`Response`], so a handler writes `response.send_file(file)`.
pub trait SendFile {
    /// Sends the whole of `file` as the body, with its length in
    /// `Content-Length`. The response owns the file from now on: it is
    /// closed (or its share dropped) once the response is done with it,
    /// whether it was sent, cut short, or never sent (a `HEAD` request, a
    /// `304`).
    ///
    /// A file whose length cannot be read, or a server without a file
    /// table, answers `500` (see [`send_file_range`](Self::send_file_range)).
    fn send_file(&mut self, file: impl Into<OwnedFile>);

    /// Sends `len` bytes of `file` from `offset` as the body, owning the
    /// file as [`send_file`](Self::send_file) does. A file shorter than
    /// the range ends the response once its end is reached: over HTTP/1.1
    /// the connection closes (the client sees a body short of its
    /// `Content-Length`), over HTTP/2 the stream is reset (see
    /// [`FileRegion`]).
    ///
    /// The file stays open through the table of the worker that serves
    /// the connection (the backends give every connection one). Without
    /// one (a runtime of its own that sets no
    /// [`Env::files`](peregrine_core::Env::files)), the file is dropped
    /// and the response [abandoned](Response::abandon): `500`.
    fn send_file_range(&mut self, file: impl Into<OwnedFile>, offset: u64, len: u64);
}

impl<L> SendFile for Response<'_, L> {
    fn send_file(&mut self, file: impl Into<OwnedFile>) {
        let file = file.into();
        match file.file().metadata() {
            Ok(metadata) => self.send_file_range(file, 0, metadata.len()),
            Err(_) => self.abandon(),
        }
    }

    fn send_file_range(&mut self, file: impl Into<OwnedFile>, offset: u64, len: u64) {
        let table = self
            .file_keeper()
            .and_then(|keeper| keeper.as_any().downcast_mut::<FileTable>());
        match table {
            Some(table) => {
                let region = table.keep(file.into(), offset, len);
                self.send_file_region(region);
            }
            None => self.abandon(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn temp_file(name: &str) -> File {
        let path =
            std::env::temp_dir().join(format!("peregrine-files-{}-{name}", std::process::id()));
        let mut file = File::create(&path).unwrap();
        file.write_all(b"0123456789").unwrap();
        let file = File::open(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        file
    }

    #[test]
    fn a_kept_file_closes_when_its_last_region_is_released() {
        let mut table = FileTable::new();
        let shared = Arc::new(temp_file("shared"));
        let first = table.keep(OwnedFile::from(Arc::clone(&shared)), 0, 10);
        let second = table.keep(OwnedFile::from(Arc::clone(&shared)), 5, 5);
        assert!(first.is_kept());
        assert_eq!(first.handle(), second.handle());
        assert_eq!((second.offset(), second.len()), (5, 5));
        assert_eq!(table.len(), 1);
        assert_eq!(Arc::strong_count(&shared), 2, "one share kept, one dropped");
        table.release(first);
        assert_eq!(table.len(), 1, "a region is still out");
        table.release(second);
        assert!(table.is_empty());
        assert_eq!(Arc::strong_count(&shared), 1, "the table's share dropped");
    }

    #[test]
    fn a_released_region_of_another_table_or_a_borrowed_one_changes_nothing() {
        let mut table = FileTable::new();
        let region = table.keep(OwnedFile::from(temp_file("own")), 0, 10);
        // SAFETY: never sent; it only names a handle the table does not
        // hold.
        let stranger = unsafe { FileRegion::borrowed(region.handle() + 1000, 0, 1) };
        table.release(stranger);
        assert_eq!(table.len(), 1);
        table.release(region);
        assert!(table.is_empty());
    }
}
