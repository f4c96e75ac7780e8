//! HTTP basic auth, compared in constant time.

use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The expected `user:password`, kept only as a digest: comparing digests of fixed length takes the
/// same time whatever the candidate, its length included, and the password never sits in memory as
/// text after start-up.
#[derive(Clone)]
pub struct BasicAuth {
    digest: [u8; 32],
}

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BasicAuth(<redacted>)")
    }
}

impl BasicAuth {
    /// From `user:password`.
    pub fn new(user_password: &str) -> Option<BasicAuth> {
        let (user, password) = user_password.split_once(':')?;
        if user.is_empty() || password.is_empty() {
            return None;
        }
        Some(BasicAuth { digest: Sha256::digest(user_password.as_bytes()).into() })
    }

    /// Whether an `Authorization` header value carries the expected credentials.
    pub fn allows(&self, header: Option<&[u8]>) -> bool {
        let candidate = header
            .and_then(|h| h.strip_prefix(b"Basic ").or_else(|| h.strip_prefix(b"basic ")))
            .and_then(|encoded| base64::engine::general_purpose::STANDARD.decode(encoded.trim_ascii()).ok())
            .unwrap_or_default();
        let digest: [u8; 32] = Sha256::digest(&candidate).into();
        bool::from(digest.ct_eq(&self.digest)) && !candidate.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(text: &str) -> Vec<u8> {
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(text)).into_bytes()
    }

    #[test]
    fn accepts_only_the_exact_credentials() {
        let auth = BasicAuth::new("snowbridge:s3cret:with-colon").unwrap();
        assert!(auth.allows(Some(&header("snowbridge:s3cret:with-colon"))));
        for wrong in ["snowbridge:s3cret", "snowbridge:s3cret:with-colonx", "", ":", "Snowbridge:s3cret:with-colon"] {
            assert!(!auth.allows(Some(&header(wrong))), "{wrong}");
        }
        assert!(!auth.allows(None));
        assert!(!auth.allows(Some(b"Bearer abc")));
        assert!(!auth.allows(Some(b"Basic !!!not-base64")));
        assert!(BasicAuth::new("no-colon").is_none());
        assert!(BasicAuth::new("user:").is_none());
        assert_eq!(format!("{auth:?}"), "BasicAuth(<redacted>)");
    }
}
