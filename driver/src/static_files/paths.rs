//! From a request path to a file under the root: the on-disk path built on
//! the stack, hidden names, and the check that what a path resolves to
//! (symbolic links followed) is still inside the root.
//!
//! Decoding and the refusal of traversal are the core's
//! ([`decode_path`](peregrine_core::path::decode_path)); what is left
//! needs a file system.

use std::io;
use std::path::{Component, Path, PathBuf};

/// The longest on-disk path served, root included, in bytes. Longer
/// requests are answered `414`.
pub(super) const MAX_PATH: usize = 1024;

/// A file system path assembled in a fixed buffer: the root, then
/// relative segments joined by the platform's separator. Building it
/// never allocates; `std` turns paths shorter than 384 bytes into C
/// strings on the stack too, so opening and `stat`ing it does not either.
pub(super) struct StackPath {
    /// The path's bytes, UTF-8 throughout.
    buf: [u8; MAX_PATH],
    /// Bytes used.
    len: usize,
    /// Where the part after the root (and its separator) starts.
    relative_start: usize,
}

/// The path did not fit [`MAX_PATH`].
#[derive(Debug)]
pub(super) struct TooLong;

impl StackPath {
    /// The path of `root` itself.
    pub(super) fn new(root: &str) -> Result<StackPath, TooLong> {
        let mut path = StackPath {
            buf: [0; MAX_PATH],
            len: 0,
            relative_start: 0,
        };
        path.push_raw(root)?;
        path.relative_start = path.len;
        Ok(path)
    }

    /// Appends a relative path whose segments are joined by `/` (as
    /// `decode_path` gives them), with a separator before it, each `/`
    /// written as the platform's separator. An empty `relative` adds
    /// nothing.
    pub(super) fn push_relative(&mut self, relative: &str) -> Result<(), TooLong> {
        if relative.is_empty() {
            return Ok(());
        }
        let at = self.len;
        self.push_raw("/")?;
        self.push_raw(relative)?;
        if std::path::MAIN_SEPARATOR != '/' {
            for byte in &mut self.buf[at..self.len] {
                if *byte == b'/' {
                    *byte = std::path::MAIN_SEPARATOR as u8;
                }
            }
        }
        if self.relative_start == at {
            self.relative_start = at + 1;
        }
        Ok(())
    }

    /// Appends `suffix` to the last segment (`.br` after `app.css`).
    pub(super) fn push_raw(&mut self, suffix: &str) -> Result<(), TooLong> {
        let end = self.len + suffix.len();
        if end > MAX_PATH {
            return Err(TooLong);
        }
        self.buf[self.len..end].copy_from_slice(suffix.as_bytes());
        self.len = end;
        Ok(())
    }

    /// Shortens the path to `len` bytes (a length it had before).
    pub(super) fn truncate(&mut self, len: usize) {
        self.len = len.min(self.len);
    }

    /// Its length in bytes.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// The path as text.
    pub(super) fn as_str(&self) -> &str {
        // Only whole `&str`s are copied in (and ASCII separators swapped),
        // and `truncate` only goes back to a length the path had.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }

    /// The part after the root: what the open-file cache is keyed by.
    pub(super) fn relative(&self) -> &str {
        self.as_str().get(self.relative_start..).unwrap_or_default()
    }

    /// The path, for the file system.
    pub(super) fn as_path(&self) -> &Path {
        Path::new(self.as_str())
    }
}

/// Whether a `/`-separated relative path has a segment starting with `.`
/// (a dotfile such as `.env`, or a dot-directory such as `.git`).
pub(super) fn has_hidden_segment(relative: &str) -> bool {
    relative.split('/').any(|segment| segment.starts_with('.'))
}

/// The root a served file must resolve inside: its canonical form, as
/// text (every path served is built from it) and as a path (for the
/// prefix check).
#[derive(Debug)]
pub(super) struct Root {
    /// The canonical root, UTF-8.
    text: String,
    /// The same, as a path.
    path: PathBuf,
}

impl Root {
    /// The canonical form of `root`, which must exist, be a directory and
    /// have a UTF-8 name.
    pub(super) fn new(root: &Path) -> io::Result<Root> {
        let path = root.canonicalize().map_err(|error| {
            io::Error::new(
                error.kind(),
                format!("static files root {}: {error}", root.display()),
            )
        })?;
        if !path.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("static files root {} is not a directory", root.display()),
            ));
        }
        let text = path
            .to_str()
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("static files root {} is not UTF-8", path.display()),
                )
            })?
            .to_owned();
        Ok(Root { text, path })
    }

    /// The canonical root, as text.
    pub(super) fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `path`, symbolic links resolved, is inside the root and,
    /// unless `hidden` files are served, names no hidden segment below it
    /// (a link to `.git/config` is as hidden as the file). Allocates (the
    /// canonical path): asked when a file is opened, not on cache hits.
    pub(super) fn confines(&self, path: &Path, hidden: bool) -> bool {
        let Ok(resolved) = path.canonicalize() else {
            return false;
        };
        let Ok(below) = resolved.strip_prefix(&self.path) else {
            return false;
        };
        hidden
            || below.components().all(|component| match component {
                Component::Normal(name) => !name.to_string_lossy().starts_with('.'),
                _ => true,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stack_path_joins_the_root_and_relative_segments() {
        let mut path = StackPath::new("/srv/www").unwrap();
        assert_eq!(path.relative(), "");
        path.push_relative("").unwrap();
        assert_eq!(path.as_str(), "/srv/www");
        path.push_relative("css/app.css").unwrap();
        let sep = std::path::MAIN_SEPARATOR;
        assert_eq!(path.as_str(), format!("/srv/www{sep}css{sep}app.css"));
        assert_eq!(path.relative(), format!("css{sep}app.css"));
        let len = path.len();
        path.push_raw(".br").unwrap();
        assert!(path.as_str().ends_with("app.css.br"));
        path.truncate(len);
        assert!(path.as_str().ends_with("app.css"));
        let long = "a".repeat(MAX_PATH);
        assert!(path.push_relative(&long).is_err());
        assert!(StackPath::new(&long).is_ok());
        assert!(StackPath::new(&(long + "b")).is_err());
    }

    #[test]
    fn hidden_segments_are_those_starting_with_a_dot() {
        assert!(has_hidden_segment(".env"));
        assert!(has_hidden_segment(".git/config"));
        assert!(has_hidden_segment("a/.well-known/x"));
        assert!(!has_hidden_segment("a/b.c/d."));
        assert!(!has_hidden_segment(""));
    }

    #[test]
    fn a_missing_or_file_root_is_an_error() {
        let missing = std::env::temp_dir().join("peregrine-no-such-root-dir");
        assert_eq!(
            Root::new(&missing).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        let file = std::env::temp_dir().join(format!("peregrine-root-file-{}", std::process::id()));
        std::fs::write(&file, b"x").unwrap();
        assert_eq!(
            Root::new(&file).unwrap_err().kind(),
            io::ErrorKind::NotADirectory
        );
        std::fs::remove_file(&file).unwrap();
    }
}
