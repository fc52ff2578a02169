//! The serving entry point: from a request to a file response, or to the
//! status that explains why not.

use peregrine_core::path::{PathError, decode_path};
use peregrine_core::{Method, Request, Response, StatusCode};

use super::Files;
use super::cache::{Entry, Opened};
use super::encoding::{Encoding, Preferences};
use super::mime::ContentType;
use super::paths::{self, MAX_PATH, StackPath};
use super::range::{self, Ranged};
use super::validators::{self, Precondition, Validators};
use crate::files::SendFile;

/// The answer to a method other than `GET` and `HEAD`.
const ALLOW: &str = "GET, HEAD";

impl Files {
    /// Serves `request` from the directory if it names something there,
    /// and returns whether it did: `false` leaves `response` untouched, so
    /// that the application answers (a route, its own `404`).
    ///
    /// What is answered:
    ///
    /// - `200` with the file, or `206` with one range of it (`Range`,
    ///   `If-Range`); `416` for a range outside it;
    /// - `304` and `412` as its validators and the request's conditions
    ///   say (`If-None-Match`, `If-Modified-Since`, `If-Match`,
    ///   `If-Unmodified-Since`);
    /// - `301` to `/dir/` (query kept) for a directory named without its
    ///   trailing slash; `/dir/` serves `dir/index.html`;
    /// - `405` (`Allow: GET, HEAD`) for another method on a file or
    ///   directory;
    /// - `400` for a path that tries to leave the root (`..`, encoded
    ///   separators, NUL, a drive prefix) or does not decode, `414` for one
    ///   longer than 1 KiB on disk.
    ///
    /// Nothing is served (`false`) for a path that names nothing, a
    /// hidden name (unless [`hidden`](Self::hidden) allows them), a file
    /// that resolves outside the root through a symbolic link, a
    /// directory without an index file, or a request outside the
    /// [`mount`](Self::mount) point.
    pub fn serve<L>(&self, request: &Request<'_>, response: &mut Response<'_, L>) -> bool {
        let Some(raw) = self.unmount(request.path()) else {
            return false;
        };
        let mut decoded = [0; MAX_PATH];
        let relative = match decode_path(raw, &mut decoded) {
            Ok(relative) => relative,
            Err(_) if raw.is_empty() => "",
            Err(PathError::BufferTooSmall) => {
                return refuse(response, StatusCode::URI_TOO_LONG, b"URI too long\n");
            }
            Err(_) => return refuse(response, StatusCode::BAD_REQUEST, b"bad path\n"),
        };
        if !self.hidden && paths::has_hidden_segment(relative) {
            return false;
        }
        let Ok(mut path) = StackPath::new(self.root.as_str()) else {
            return refuse(response, StatusCode::URI_TOO_LONG, b"URI too long\n");
        };
        let wants_directory = raw.last() == Some(&b'/');
        let pushed = match (wants_directory, self.index.as_deref()) {
            (false, _) => path.push_relative(relative),
            (true, Some(index)) => path
                .push_relative(relative)
                .and_then(|()| path.push_relative(index)),
            (true, None) => return false,
        };
        if pushed.is_err() {
            return refuse(response, StatusCode::URI_TOO_LONG, b"URI too long\n");
        }
        let key_len = path.len();
        let identity = match self.open(&path, false) {
            Opened::File(entry) => entry,
            Opened::Dir if wants_directory => return false,
            Opened::Dir => {
                return match request.method() {
                    Method::Get | Method::Head => redirect_to_directory(request, response),
                    _ => not_allowed(response),
                };
            }
            Opened::Missing => return false,
        };
        if !matches!(request.method(), Method::Get | Method::Head) {
            return not_allowed(response);
        }
        let (entry, encoding) = self.representation(request, &mut path, identity);
        path.truncate(key_len);
        self.answer(request, response, path.relative(), entry, encoding);
        true
    }

    /// The request path below the mount point, still encoded and starting
    /// with `/`; `None` for a path outside it.
    fn unmount<'p>(&self, path: &'p [u8]) -> Option<&'p [u8]> {
        if self.mount.is_empty() {
            return Some(path);
        }
        let below = path.strip_prefix(self.mount.as_bytes())?;
        match below.first() {
            // `/static` itself is the root directory named without its
            // slash: decoded as the root, redirected to `/static/`.
            None => Some(b""),
            Some(b'/') => Some(below),
            Some(_) => None,
        }
    }

    /// Opens (or finds in the cache) the file at `path`.
    fn open(&self, path: &StackPath, sibling: bool) -> Opened {
        self.cache.open(
            path.relative(),
            path.as_path(),
            &self.root,
            self.hidden,
            sibling,
        )
    }

    /// The representation to send: the best precompressed sibling the
    /// request accepts that exists, or the file itself. `path` is the
    /// file's; siblings are looked for by adding their suffix.
    fn representation(
        &self,
        request: &Request<'_>,
        path: &mut StackPath,
        identity: Entry,
    ) -> (Entry, Encoding) {
        if !self.precompressed {
            return (identity, Encoding::Identity);
        }
        let len = path.len();
        for encoding in Preferences::of(&request.headers()).iter() {
            if encoding == Encoding::Identity {
                break;
            }
            path.truncate(len);
            if path.push_raw(encoding.suffix()).is_err() {
                continue;
            }
            if let Opened::File(entry) = self.open(path, true) {
                path.truncate(len);
                return (entry, encoding);
            }
        }
        path.truncate(len);
        (identity, Encoding::Identity)
    }

    /// Answers a `GET` or `HEAD` for `entry`, the representation of the
    /// file at `relative` in `encoding`.
    fn answer<L>(
        &self,
        request: &Request<'_>,
        response: &mut Response<'_, L>,
        relative: &str,
        entry: Entry,
        encoding: Encoding,
    ) {
        let headers = request.headers();
        let validators = Validators::of(&entry.identity);
        let precondition = validators::evaluate(&headers, request.method(), &validators);
        let len = entry.identity.len;
        let ranged = match (precondition, headers.get("range")) {
            (Precondition::Proceed { range: true }, Some(value)) => range::evaluate(value, len),
            _ => Ranged::Full,
        };
        match (precondition, ranged) {
            (Precondition::Failed, _) => {
                response.status(StatusCode::PRECONDITION_FAILED);
                response.body_static(b"precondition failed\n");
                return;
            }
            (Precondition::NotModified, _) => {
                // The fields a 200 would carry that describe caching
                // (RFC 9110 §15.4.5); no body, no type.
                response.status(StatusCode::NOT_MODIFIED);
                self.validator_fields(response, relative, &validators);
                response.body_static(b"");
                return;
            }
            (_, Ranged::Unsatisfiable) => {
                let mut value = Digits::new();
                value.push(b"bytes */").push_number(len);
                response.status(StatusCode::RANGE_NOT_SATISFIABLE);
                let _ = response.header("Content-Range", value.as_bytes());
                response.body_static(b"range not satisfiable\n");
                return;
            }
            _ => {}
        }
        let content_type = ContentType::of(relative);
        let _ = response.header("Content-Type", content_type.as_bytes());
        let _ = response.header("Accept-Ranges", "bytes");
        if let Some(token) = encoding.token() {
            let _ = response.header("Content-Encoding", token);
        }
        self.validator_fields(response, relative, &validators);
        let (start, count) = match ranged {
            Ranged::Part { start, len: count } => {
                let mut value = Digits::new();
                value
                    .push(b"bytes ")
                    .push_number(start)
                    .push(b"-")
                    .push_number(start + count - 1)
                    .push(b"/")
                    .push_number(len);
                response.status(StatusCode::PARTIAL_CONTENT);
                let _ = response.header("Content-Range", value.as_bytes());
                (start, count)
            }
            _ => (0, len),
        };
        if count == 0 {
            response.body_static(b"");
        } else {
            response.send_file_range(entry.file, start, count);
        }
    }

    /// `ETag`, `Last-Modified`, `Cache-Control` and `Vary`.
    fn validator_fields<L>(
        &self,
        response: &mut Response<'_, L>,
        relative: &str,
        validators: &Validators,
    ) {
        let _ = response.header("ETag", validators.etag());
        let _ = response.header("Last-Modified", validators.last_modified());
        if let Some(value) = self.cache_control.value_for(relative) {
            let _ = response.header("Cache-Control", value);
        }
        if self.precompressed {
            let _ = response.header("Vary", "Accept-Encoding");
        }
    }
}

/// Answers `status` with a short text body; returns `true` (answered).
fn refuse<L>(response: &mut Response<'_, L>, status: StatusCode, body: &'static [u8]) -> bool {
    response.status(status);
    let _ = response.header("Content-Type", "text/plain; charset=utf-8");
    response.body_static(body);
    true
}

/// `405` with `Allow`.
fn not_allowed<L>(response: &mut Response<'_, L>) -> bool {
    let _ = response.header("Allow", ALLOW);
    refuse(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        b"method not allowed\n",
    )
}

/// `301` to the request's path with a `/` added, its query kept.
fn redirect_to_directory<L>(request: &Request<'_>, response: &mut Response<'_, L>) -> bool {
    let mut location = [0; 2 * MAX_PATH];
    let path = request.path();
    let query = request.query();
    let len = path.len() + 1 + query.map_or(0, |query| query.len() + 1);
    let Some(dst) = location.get_mut(..len) else {
        return refuse(response, StatusCode::URI_TOO_LONG, b"URI too long\n");
    };
    let (head, tail) = dst.split_at_mut(path.len());
    head.copy_from_slice(path);
    tail[0] = b'/';
    if let Some(query) = query {
        tail[1] = b'?';
        tail[2..].copy_from_slice(query);
    }
    response.status(StatusCode::MOVED_PERMANENTLY);
    let _ = response.header("Location", &location[..len]);
    response.body_static(b"moved permanently\n");
    true
}

/// A header value assembled from text and decimal numbers on the stack
/// (`bytes 0-499/1234`).
struct Digits {
    /// The bytes.
    buf: [u8; 80],
    /// Bytes used.
    len: usize,
}

impl Digits {
    /// An empty value.
    fn new() -> Digits {
        Digits {
            buf: [0; 80],
            len: 0,
        }
    }

    /// Appends `bytes` (short text: always fits three numbers and some).
    fn push(&mut self, bytes: &[u8]) -> &mut Digits {
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
        self
    }

    /// Appends `n` in decimal.
    fn push_number(&mut self, n: u64) -> &mut Digits {
        let mut digits = [0; 20];
        let mut at = digits.len();
        let mut n = n;
        loop {
            at -= 1;
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.push(&digits[at..])
    }

    /// The value.
    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_write_numbers_in_decimal() {
        let mut value = Digits::new();
        value
            .push(b"bytes ")
            .push_number(0)
            .push(b"-")
            .push_number(u64::MAX)
            .push(b"/")
            .push_number(1234);
        assert_eq!(value.as_bytes(), b"bytes 0-18446744073709551615/1234");
    }
}
