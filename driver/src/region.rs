//! Reading a file region by positioned reads, for the sockets and
//! runtimes with no `sendfile` (the portable backend, TLS, which must
//! encrypt what it sends, and runtimes of one's own).

use std::io::{self, ErrorKind};

use peregrine_core::FileRegion;

/// Reads the start of `region` into `buf` (at most `buf.len()` bytes, at
/// most what is left of the region), at the region's offset: as many
/// bytes as one read gives, 0 at the end of the file. On Unix the
/// descriptor's file position is neither used nor moved; on Windows the
/// handle's file pointer moves.
///
/// # Errors
///
/// The read's error; `Unsupported` where there are no positioned reads
/// of a raw file (neither Unix nor Windows).
pub fn read_region(region: &FileRegion, buf: &mut [u8]) -> io::Result<usize> {
    let want = usize::try_from(region.len()).map_or(buf.len(), |len| len.min(buf.len()));
    read_at(region.handle(), region.offset(), &mut buf[..want])
}

/// Reads from the file `handle` (a raw descriptor) at `offset` into `buf`.
#[cfg(unix)]
fn read_at(handle: u64, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
    use std::os::fd::{FromRawFd, RawFd};
    use std::os::unix::fs::FileExt;
    let fd = RawFd::try_from(handle)
        .map_err(|_| io::Error::new(ErrorKind::InvalidInput, "not a file descriptor"))?;
    // SAFETY: a region's descriptor is open until its response is done
    // with it (its keeper releases it only after the connection gave the
    // region back, after this call; a borrowed region's maker promised as
    // much, see `FileRegion::borrowed`); the `File` only borrows it for
    // this read and, in `ManuallyDrop`, never closes it.
    let file = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(fd) });
    file.read_at(buf, offset)
}

/// Reads from the file `handle` (a raw `HANDLE`) at `offset` into `buf`;
/// the handle's file pointer moves.
#[cfg(windows)]
fn read_at(handle: u64, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
    use std::os::windows::fs::FileExt;
    use std::os::windows::io::{FromRawHandle, RawHandle};
    let raw: RawHandle = std::ptr::with_exposed_provenance_mut(
        usize::try_from(handle)
            .map_err(|_| io::Error::new(ErrorKind::InvalidInput, "not a file handle"))?,
    );
    // SAFETY: as on Unix: the handle is open until the region's response
    // is done with it; the `File` only borrows it for this read and, in
    // `ManuallyDrop`, never closes it.
    let file = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_handle(raw) });
    file.seek_read(buf, offset)
}

/// No positioned reads of a raw file here.
#[cfg(not(any(unix, windows)))]
fn read_at(handle: u64, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
    let _ = (handle, offset, buf);
    Err(ErrorKind::Unsupported.into())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::files::{FileTable, OwnedFile};
    use std::io::Write;

    #[test]
    fn a_region_is_read_from_its_offset_up_to_its_end() {
        let path = std::env::temp_dir().join(format!("peregrine-region-{}", std::process::id()));
        std::fs::File::create(&path)
            .and_then(|mut file| file.write_all(b"0123456789"))
            .unwrap();
        let file = std::fs::File::open(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let mut table = FileTable::new();
        let region = table.keep(OwnedFile::from(file), 3, 4);
        let mut buf = [0u8; 16];
        assert_eq!(read_region(&region, &mut buf).unwrap(), 4);
        assert_eq!(&buf[..4], b"3456");
        let mut small = [0u8; 2];
        assert_eq!(read_region(&region, &mut small).unwrap(), 2);
        assert_eq!(&small, b"34");
        crate::core::FileKeeper::release(&mut table, region);
    }
}
