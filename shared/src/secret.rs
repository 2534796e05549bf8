//! Webhook secrets: generated once, shown once, stored only as a SHA-256 hash, compared in constant time.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// 32 random bytes: far beyond brute force, so a fast hash (not a password KDF) is the right tool.
const SECRET_BYTES: usize = 32;
/// Prefix that makes a leaked secret recognisable to secret scanners.
const SECRET_PREFIX: &str = "bcw_";

/// A freshly generated secret in clear text. Exists only between generation and the one time it is shown.
#[derive(Clone, PartialEq, Eq)]
pub struct PlainSecret(String);

impl PlainSecret {
    pub fn generate() -> Self {
        let bytes: [u8; SECRET_BYTES] = rand::random();
        Self(format!("{SECRET_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> SecretHash {
        SecretHash::of(&self.0)
    }
}

impl std::fmt::Debug for PlainSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PlainSecret(<redacted>)")
    }
}

/// The stored form of a secret: lowercase hex SHA-256.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretHash(String);

impl SecretHash {
    pub fn of(presented: &str) -> Self {
        let digest = Sha256::digest(presented.as_bytes());
        let mut hex = String::with_capacity(digest.len() * 2);
        for byte in digest {
            hex.push_str(&format!("{byte:02x}"));
        }
        Self(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Constant-time check of a presented clear-text secret against this hash.
    pub fn matches(&self, presented: &str) -> bool {
        let candidate = Self::of(presented);
        candidate.0.as_bytes().ct_eq(self.0.as_bytes()).into()
    }
}

impl std::fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretHash(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_unique_and_prefixed() {
        let a = PlainSecret::generate();
        let b = PlainSecret::generate();
        assert_ne!(a, b);
        assert!(a.expose().starts_with(SECRET_PREFIX));
        assert_eq!(a.expose().len(), SECRET_PREFIX.len() + 43);
    }

    #[test]
    fn hash_matches_only_its_secret() {
        let secret = PlainSecret::generate();
        let hash = secret.hash();
        assert!(hash.matches(secret.expose()));
        assert!(!hash.matches("bcw_wrong"));
        assert!(!hash.matches(""));
        assert_eq!(hash.as_str().len(), 64);
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let secret = PlainSecret::generate();
        assert!(!format!("{secret:?}").contains(secret.expose()));
        assert!(!format!("{:?}", secret.hash()).contains(secret.hash().as_str()));
    }
}
