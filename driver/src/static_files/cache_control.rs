//! `Cache-Control` by path prefix or extension, as the builder sets it.

use std::io;

/// The `Cache-Control` rules of a [`Files`](super::Files).
#[derive(Clone, Debug, Default)]
pub(super) struct Rules {
    /// `(prefix, value)`: the value for files under the prefix (relative
    /// to the root, without a leading `/`); the longest prefix wins.
    prefixes: Vec<(String, String)>,
    /// `(extension, value)`, the extension lower-case without its dot.
    extensions: Vec<(String, String)>,
    /// The value for every other file, if any.
    default: Option<String>,
}

impl Rules {
    /// Sets the value for files under URL path `prefix`.
    pub(super) fn prefix(&mut self, prefix: &str, value: &str) -> io::Result<()> {
        let value = checked(value)?;
        let prefix = prefix.trim_start_matches('/').to_owned();
        self.prefixes.retain(|(known, _)| *known != prefix);
        self.prefixes.push((prefix, value));
        // Longest first: the first match is the most specific.
        self.prefixes
            .sort_by(|(a, _), (b, _)| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        Ok(())
    }

    /// Sets the value for files whose name ends in `.extension`.
    pub(super) fn extension(&mut self, extension: &str, value: &str) -> io::Result<()> {
        let value = checked(value)?;
        let extension = extension.trim_start_matches('.').to_ascii_lowercase();
        self.extensions.retain(|(known, _)| *known != extension);
        self.extensions.push((extension, value));
        Ok(())
    }

    /// Sets the value for files no other rule matches.
    pub(super) fn fallback(&mut self, value: &str) -> io::Result<()> {
        self.default = Some(checked(value)?);
        Ok(())
    }

    /// The value for the file at `relative` (`/`-separated, from the
    /// root): by prefix, else by extension, else the default.
    pub(super) fn value_for(&self, relative: &str) -> Option<&str> {
        let by_prefix = self
            .prefixes
            .iter()
            .find(|(prefix, _)| relative.starts_with(prefix.as_str()));
        let by_extension = || {
            let name = relative.rsplit('/').next().unwrap_or(relative);
            let (_, extension) = name.rsplit_once('.')?;
            self.extensions
                .iter()
                .find(|(known, _)| known.eq_ignore_ascii_case(extension))
        };
        by_prefix
            .or_else(by_extension)
            .map(|(_, value)| value.as_str())
            .or(self.default.as_deref())
    }
}

/// `value` as a header value: no control characters (which would be
/// refused when the header is written).
fn checked(value: &str) -> io::Result<String> {
    if value
        .bytes()
        .any(|byte| byte.is_ascii_control() && byte != b'\t')
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("Cache-Control value {value:?} holds a control character"),
        ));
    }
    Ok(value.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_prefix_then_the_extension_then_the_default() {
        let mut rules = Rules::default();
        assert_eq!(rules.value_for("a.css"), None);
        rules.fallback("no-cache").unwrap();
        rules.extension(".CSS", "max-age=60").unwrap();
        rules.prefix("/assets/", "max-age=3600").unwrap();
        rules
            .prefix("/assets/immutable/", "max-age=31536000, immutable")
            .unwrap();
        assert_eq!(rules.value_for("index.html"), Some("no-cache"));
        assert_eq!(rules.value_for("css/a.css"), Some("max-age=60"));
        assert_eq!(rules.value_for("x/b.Css"), Some("max-age=60"));
        assert_eq!(rules.value_for("assets/a.css"), Some("max-age=3600"));
        assert_eq!(
            rules.value_for("assets/immutable/app.1234.js"),
            Some("max-age=31536000, immutable")
        );
        rules.prefix("assets/", "public").unwrap();
        assert_eq!(rules.value_for("assets/a.css"), Some("public"));
    }

    #[test]
    fn control_characters_are_refused() {
        let mut rules = Rules::default();
        assert!(rules.fallback("max-age=1\r\nX-Evil: 1").is_err());
        assert!(rules.prefix("/", "a\0").is_err());
        assert!(rules.extension("js", "public,\tmax-age=5").is_ok());
    }
}
