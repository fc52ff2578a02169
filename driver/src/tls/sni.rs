//! Choosing a certificate by the name a client asked for (SNI).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// Certificates by server name, with a default for clients that name
/// none or a name not listed.
///
/// Names match without regard to case; a name `*.example.com` matches
/// one label in its place (`www.example.com`, not `example.com` nor
/// `a.b.example.com`), after any exact name.
pub struct ByName {
    /// Exact names, lowercase.
    exact: HashMap<String, Arc<CertifiedKey>>,
    /// Wildcard names by the suffix after `*.`, lowercase.
    wildcard: HashMap<String, Arc<CertifiedKey>>,
    /// For clients without SNI or with a name not listed; `None` refuses
    /// them.
    default: Option<Arc<CertifiedKey>>,
}

impl ByName {
    /// No names yet, and `default` for the others.
    pub(crate) fn new(default: Option<Arc<CertifiedKey>>) -> Self {
        ByName {
            exact: HashMap::new(),
            wildcard: HashMap::new(),
            default,
        }
    }

    /// Serves `key` to clients asking for `name`.
    pub(crate) fn add(&mut self, name: &str, key: Arc<CertifiedKey>) {
        let name = name.to_ascii_lowercase();
        match name.strip_prefix("*.") {
            Some(suffix) => self.wildcard.insert(suffix.to_owned(), key),
            None => self.exact.insert(name, key),
        };
    }

    /// The certificate for `name` (SNI), or the default.
    fn lookup(&self, name: Option<&str>) -> Option<Arc<CertifiedKey>> {
        let found = name.and_then(|name| {
            // rustls hands the name over lowercase already.
            self.exact.get(name).or_else(|| {
                let (_, parent) = name.split_once('.')?;
                self.wildcard.get(parent)
            })
        });
        found.or(self.default.as_ref()).cloned()
    }
}

impl ResolvesServerCert for ByName {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.lookup(client_hello.server_name())
    }
}

impl fmt::Debug for ByName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<_> = self.exact.keys().cloned().collect();
        names.extend(self.wildcard.keys().map(|suffix| format!("*.{suffix}")));
        names.sort();
        f.debug_struct("ByName")
            .field("names", &names)
            .field("default", &self.default.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::sign::SigningKey;

    /// A key that signs nothing: only its identity matters here.
    #[derive(Debug)]
    struct Unusable;

    impl SigningKey for Unusable {
        fn choose_scheme(
            &self,
            _: &[rustls::SignatureScheme],
        ) -> Option<Box<dyn rustls::sign::Signer>> {
            None
        }

        fn algorithm(&self) -> rustls::SignatureAlgorithm {
            rustls::SignatureAlgorithm::ED25519
        }
    }

    fn key() -> Arc<CertifiedKey> {
        Arc::new(CertifiedKey::new(Vec::new(), Arc::new(Unusable)))
    }

    #[test]
    fn exact_names_then_wildcards_then_the_default() {
        let (default, exact, wild) = (key(), key(), key());
        let mut names = ByName::new(Some(default.clone()));
        names.add("API.example.com", exact.clone());
        names.add("*.example.com", wild.clone());
        let pick = |name| names.lookup(name).unwrap();
        assert!(Arc::ptr_eq(&pick(Some("api.example.com")), &exact));
        assert!(Arc::ptr_eq(&pick(Some("www.example.com")), &wild));
        assert!(Arc::ptr_eq(&pick(Some("a.b.example.com")), &default));
        assert!(Arc::ptr_eq(&pick(Some("example.com")), &default));
        assert!(Arc::ptr_eq(&pick(None), &default));
        assert!(ByName::new(None).lookup(Some("x")).is_none());
    }
}
