//! `SealSpec`: the `--seal` / `BITCONN_SEAL` syntax naming the key that seals stored credentials.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

const ACCEPTED: &str = "expected `kms:<key id, ARN or alias/name>`, `key-file:<path>` or `none`";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid seal mode `{spec}`: {reason}")]
pub struct InvalidSealSpec {
    spec: String,
    reason: &'static str,
}

/// Which key seals credentials. When none is given, the store picks: an SQLite file uses the key file beside
/// it (`<file>.key`), in-memory stores a key that lives as long as the process, and DynamoDB needs `kms:`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SealSpec {
    /// `kms:<key>`: AWS KMS envelope encryption with this symmetric key.
    Kms(String),
    /// `key-file:<path>`: a local key file (created with mode 0600 when missing).
    KeyFile(PathBuf),
    /// `none`: no encryption, for tests; logged as a warning whenever a store is opened with it.
    None,
}

impl FromStr for SealSpec {
    type Err = InvalidSealSpec;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let invalid = |reason| InvalidSealSpec {
            spec: spec.to_owned(),
            reason,
        };
        match spec.split_once(':') {
            None if spec == "none" => Ok(Self::None),
            Some(("kms", key)) if !key.trim().is_empty() => Ok(Self::Kms(key.trim().to_owned())),
            Some(("key-file", path)) if !path.is_empty() => Ok(Self::KeyFile(PathBuf::from(path))),
            Some(("kms" | "key-file", _)) => Err(invalid("nothing after the colon")),
            _ => Err(invalid(ACCEPTED)),
        }
    }
}

impl fmt::Display for SealSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Kms(key) => write!(f, "kms:{key}"),
            Self::KeyFile(path) => write!(f, "key-file:{}", path.display()),
            Self::None => f.write_str("none"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_forms_parse_and_print_back() {
        for text in [
            "kms:alias/bitconn-credentials",
            "key-file:/var/lib/bitconn/key",
            "none",
        ] {
            assert_eq!(text.parse::<SealSpec>().unwrap().to_string(), text);
        }
        assert_eq!(
            "kms:arn:aws:kms:eu-west-1:1:key/abc".parse::<SealSpec>().unwrap(),
            SealSpec::Kms("arn:aws:kms:eu-west-1:1:key/abc".into())
        );
    }

    #[test]
    fn anything_else_is_refused_with_the_reason() {
        for (text, reason) in [
            ("", "expected"),
            ("kms:", "nothing after"),
            ("key-file:", "nothing after"),
            ("aes:x", "expected"),
            ("None", "expected"),
        ] {
            let error = text.parse::<SealSpec>().unwrap_err().to_string();
            assert!(
                error.contains(reason) && error.contains(&format!("`{text}`")),
                "{text}: {error}"
            );
        }
    }
}
