//! Static files the way nginx serves them: a directory behind one call,
//! [`Files::serve`], which answers what it can and says whether it did,
//! so that an application mixes files and routes.
//!
//! ```no_run
//! use peregrine_driver::core::{Handler, Request, Response, StatusCode};
//! use peregrine_driver::static_files::Files;
//!
//! struct Site {
//!     files: Files,
//! }
//!
//! impl Handler for Site {
//!     fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
//!         if request.path() == b"/health" {
//!             return response.body_static(b"ok");
//!         }
//!         if !self.files.serve(request, response) {
//!             response.status(StatusCode::NOT_FOUND);
//!             response.body_static(b"not found\n");
//!         }
//!     }
//! }
//!
//! let files = Files::new("/srv/www")?
//!     .cache_control_prefix("/assets/", "public, max-age=31536000, immutable")?
//!     .cache_control_extension("html", "no-cache")?;
//! let site = Site { files };
//! # let _ = site;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! `Files` is a [`Handler`] too, answering `404` for what it does not
//! serve: `Server::bind(addr)?.run(Files::new("/srv/www")?)`.
//!
//! # What it does
//!
//! - **Paths** are decoded by [`decode_path`](peregrine_core::path::decode_path):
//!   `..`, encoded separators, NUL and drive prefixes are `400`. Hidden
//!   names (a segment starting with `.`) are not served unless
//!   [`hidden`](Files::hidden) allows them; neither is a file that a
//!   symbolic link leads out of the root (the path is canonicalised when
//!   the file is opened). `/dir` is redirected (`301`) to `/dir/`, query
//!   kept, which serves `dir/index.html`.
//! - **Methods**: `GET` and `HEAD`; others on a file get `405` with
//!   `Allow: GET, HEAD`.
//! - **Types** come from the extension (`mime_guess`), with
//!   `charset=utf-8` on text; `application/octet-stream` otherwise.
//! - **Validators**: a strong `ETag` (inode, modification time and
//!   length) and `Last-Modified`; `If-None-Match`, `If-Modified-Since`
//!   (`304`), `If-Match`, `If-Unmodified-Since` (`412`) are evaluated in
//!   the order of RFC 9110 §13.2.2.
//! - **Ranges**: `Accept-Ranges: bytes`; one range (`0-499`, `500-`,
//!   `-500`) is a `206`, a range outside the file a `416`, `If-Range`
//!   takes an entity-tag or a date. Several ranges get the whole file
//!   (`200`), as nginx answers most of them: `multipart/byteranges` is
//!   rarely asked for.
//! - **Precompressed siblings**: `app.css.br`, `app.css.zst`,
//!   `app.css.gz` are sent in place of `app.css` when `Accept-Encoding`
//!   prefers them (q-values, `q=0` refusing), with `Content-Encoding`,
//!   `Vary: Accept-Encoding` and the sibling's own `ETag`.
//! - **`Cache-Control`** per path prefix, per extension, or for all.
//! - **Bodies** go out with [`SendFile::send_file_range`](crate::files::SendFile):
//!   `sendfile` on the readiness backends, positioned reads on the
//!   portable one, sharing one open file among the responses sending it.
//!
//! # The open-file cache
//!
//! Files stay open between requests in a bounded cache (least recently
//! used out; [`cache_capacity`](Files::cache_capacity), 1,024 by
//! default), shared by the workers through a lock split 16 ways by path
//! and held for a lookup only. Each hit `stat`s the path and compares it
//! with what the open file was (device, inode, length, modification
//! time): a file replaced, rewritten or deleted is opened afresh, so the
//! headers of a response always describe the descriptor its bytes come
//! from. [`revalidate_after`](Files::revalidate_after) trades that for a
//! `stat` per file per interval instead of per request. The absence of a precompressed sibling is remembered for a
//! second. A warm request allocates nothing.
//!
//! # Limits
//!
//! - A file rewritten in place *while* it is being sent goes out part old,
//!   part new, as with any server that does not copy it first (and one
//!   cut short closes its connection; see [`FileRegion`](peregrine_core::FileRegion)).
//! - On-disk paths are at most 1 KiB, and the root's name must be UTF-8.
//! - No directory listings; `index.html` (or [`index`](Files::index)) or
//!   nothing.
//! - When `Accept-Encoding` refuses even `identity`, the file is sent
//!   anyway, rather than a `406`.
//! - Outside Unix the `ETag` has no inode to include.

mod cache;
mod cache_control;
pub(crate) mod encoding;
mod mime;
mod paths;
mod range;
mod serve;
mod validators;

use std::io;
use std::path::Path;
use std::time::Duration;

use peregrine_core::{Handler, Request, Response, StatusCode};

use cache::FileCache;
use paths::Root;

/// Open files kept by default.
pub const DEFAULT_CACHE_CAPACITY: usize = 1024;

/// A directory served as static files; see the [module](self)
/// documentation.
///
/// Built with [`Files::new`] and the builder methods; used by calling
/// [`serve`](Self::serve) from a handler, or as the handler itself.
#[derive(Debug)]
pub struct Files {
    /// The canonical root.
    root: Root,
    /// The URL path the root is served at (`""`: the site's root).
    mount: String,
    /// The file served for a directory, if any.
    index: Option<String>,
    /// Whether hidden names are served.
    hidden: bool,
    /// Whether precompressed siblings are looked for.
    precompressed: bool,
    /// `Cache-Control` values.
    cache_control: cache_control::Rules,
    /// Open files.
    cache: FileCache,
}

impl Files {
    /// Serves the directory `root` at the site's root, with the defaults:
    /// `index.html` for directories, hidden names refused, precompressed
    /// siblings looked for, no `Cache-Control`, an open-file cache of
    /// [`DEFAULT_CACHE_CAPACITY`].
    ///
    /// # Errors
    ///
    /// If `root` does not exist (`NotFound`), is not a directory
    /// (`NotADirectory`), cannot be resolved, or has a name that is not
    /// UTF-8 (`InvalidInput`).
    ///
    /// ```
    /// use peregrine_driver::static_files::Files;
    ///
    /// let missing = Files::new("/no/such/directory");
    /// assert_eq!(missing.unwrap_err().kind(), std::io::ErrorKind::NotFound);
    /// assert!(Files::new(std::env::temp_dir()).is_ok());
    /// ```
    pub fn new(root: impl AsRef<Path>) -> io::Result<Files> {
        Ok(Files {
            root: Root::new(root.as_ref())?,
            mount: String::new(),
            index: Some("index.html".to_owned()),
            hidden: false,
            precompressed: true,
            cache_control: cache_control::Rules::default(),
            cache: FileCache::new(DEFAULT_CACHE_CAPACITY),
        })
    }

    /// Serves the directory at URL path `prefix` (`/static`): a request
    /// below it gets the file at the rest of its path, and a request
    /// elsewhere is not served (`serve` returns `false`).
    ///
    /// ```no_run
    /// # use peregrine_driver::static_files::Files;
    /// // GET /static/css/app.css → /srv/www/css/app.css
    /// let files = Files::new("/srv/www")?.mount("/static");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn mount(mut self, prefix: &str) -> Files {
        self.mount = prefix.trim_end_matches('/').to_owned();
        if !self.mount.is_empty() && !self.mount.starts_with('/') {
            self.mount.insert(0, '/');
        }
        self
    }

    /// The file served for a directory requested with its trailing slash
    /// (`index.html` by default); `None` serves nothing for directories.
    pub fn index(mut self, name: Option<&str>) -> Files {
        self.index = name.map(str::to_owned);
        self
    }

    /// Whether files and directories whose name starts with `.` are
    /// served (`false` by default: `.git`, `.env` and the like are
    /// answered as if absent). `/.well-known/` needs `true`.
    pub fn hidden(mut self, allow: bool) -> Files {
        self.hidden = allow;
        self
    }

    /// Whether precompressed siblings (`.br`, `.zst`, `.gz`) are sent to
    /// clients that accept them (`true` by default). With `true`, every
    /// file response says `Vary: Accept-Encoding`.
    pub fn precompressed(mut self, enabled: bool) -> Files {
        self.precompressed = enabled;
        self
    }

    /// How many open files (and remembered absences of siblings) the
    /// cache keeps; 0 opens every file for every request.
    pub fn cache_capacity(mut self, capacity: usize) -> Files {
        let valid_for = self.cache.valid_for;
        self.cache = FileCache::new(capacity);
        self.cache.valid_for = valid_for;
        self
    }

    /// How long a cached file found unchanged is served again without
    /// checking its path (`stat`): zero, the default, checks on every
    /// request, so a file replaced or rewritten is served new at once.
    /// nginx's `open_file_cache_valid` (60 s by default) is the same
    /// trade: a `stat` saved per request, and changes seen that much
    /// later.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use peregrine_driver::Files;
    ///
    /// let files = Files::new("/srv/www")?.revalidate_after(Duration::from_secs(1));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn revalidate_after(mut self, valid_for: Duration) -> Files {
        self.cache.valid_for = valid_for;
        self
    }

    /// Sends `Cache-Control: value` for files under URL path `prefix`
    /// (below the mount point: `/assets/`); the longest matching prefix
    /// wins over extensions and the default.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `value` holds a control character.
    pub fn cache_control_prefix(mut self, prefix: &str, value: &str) -> io::Result<Files> {
        self.cache_control.prefix(prefix, value)?;
        Ok(self)
    }

    /// Sends `Cache-Control: value` for files named `*.extension`
    /// (case-insensitive, with or without the dot) that no prefix rule
    /// matches.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `value` holds a control character.
    pub fn cache_control_extension(mut self, extension: &str, value: &str) -> io::Result<Files> {
        self.cache_control.extension(extension, value)?;
        Ok(self)
    }

    /// Sends `Cache-Control: value` for files no other rule matches.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `value` holds a control character.
    pub fn cache_control(mut self, value: &str) -> io::Result<Files> {
        self.cache_control.fallback(value)?;
        Ok(self)
    }

    /// The directory served, canonical.
    pub fn root(&self) -> &Path {
        Path::new(self.root.as_str())
    }
}

impl Handler for Files {
    /// Serves the request, or answers `404`.
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
        if !self.serve(request, response) {
            response.status(StatusCode::NOT_FOUND);
            let _ = response.header("Content-Type", "text/plain; charset=utf-8");
            response.body_static(b"not found\n");
        }
    }
}
