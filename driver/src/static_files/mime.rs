//! `Content-Type` by file extension, from `mime_guess`'s table, with
//! `charset=utf-8` on text.

/// The longest `Content-Type` value written: the longest type in the
/// table with room for the charset parameter.
const MAX_CONTENT_TYPE: usize = 128;

/// The type of files whose extension is unknown (or that have none).
pub(super) const OCTET_STREAM: &str = "application/octet-stream";

/// The parameter added to textual types.
const CHARSET: &str = "; charset=utf-8";

/// A `Content-Type` value, built on the stack.
pub(super) struct ContentType {
    /// The value's bytes.
    buf: [u8; MAX_CONTENT_TYPE],
    /// Bytes used.
    len: usize,
}

impl ContentType {
    /// The type of the file named `name` (a path whose last segment's
    /// extension decides): `mime_guess`'s first guess, or
    /// `application/octet-stream`; text types (`text/*`, JavaScript,
    /// JSON, XML, SVG) say `charset=utf-8`, the encoding of nearly every
    /// text file served today.
    pub(super) fn of(name: &str) -> ContentType {
        let file = name.rsplit(['/', '\\']).next().unwrap_or(name);
        let essence = match file.rsplit_once('.') {
            Some((stem, ext)) if !stem.is_empty() => mime_guess::from_ext(ext)
                .first_raw()
                .unwrap_or(OCTET_STREAM),
            _ => OCTET_STREAM,
        };
        let mut content_type = ContentType {
            buf: [0; MAX_CONTENT_TYPE],
            len: 0,
        };
        content_type.push(essence);
        if is_text(essence) {
            content_type.push(CHARSET);
        }
        content_type
    }

    /// Appends `part` if it fits (every type in the table does).
    fn push(&mut self, part: &str) {
        if let Some(dst) = self.buf.get_mut(self.len..self.len + part.len()) {
            dst.copy_from_slice(part.as_bytes());
            self.len += part.len();
        }
    }

    /// The value.
    pub(super) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// Whether a type is text a charset applies to.
fn is_text(essence: &str) -> bool {
    essence.starts_with("text/")
        || matches!(
            essence,
            "application/javascript"
                | "application/json"
                | "application/xml"
                | "application/manifest+json"
                | "image/svg+xml"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(name: &str) -> String {
        String::from_utf8(ContentType::of(name).as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn types_by_extension() {
        assert_eq!(of("index.html"), "text/html; charset=utf-8");
        assert_eq!(of("css/app.css"), "text/css; charset=utf-8");
        assert_eq!(of("a/b.JS"), "text/javascript; charset=utf-8");
        assert_eq!(of("data.json"), "application/json; charset=utf-8");
        assert_eq!(of("logo.svg"), "image/svg+xml; charset=utf-8");
        assert_eq!(of("photo.jpeg"), "image/jpeg");
        assert_eq!(of("app.wasm"), "application/wasm");
        assert_eq!(of("font.woff2"), "font/woff2");
    }

    #[test]
    fn unknown_or_missing_extensions_are_octet_streams() {
        assert_eq!(of("blob.unknownext"), OCTET_STREAM);
        assert_eq!(of("Makefile"), OCTET_STREAM);
        assert_eq!(of("dir.d/README"), OCTET_STREAM);
        assert_eq!(of(".profile"), OCTET_STREAM);
        assert_eq!(of("trailing."), OCTET_STREAM);
    }
}
