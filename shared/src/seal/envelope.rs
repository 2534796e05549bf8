//! The stored form of a sealed value: AES-256-GCM ciphertext, its nonce, and its data key wrapped by the store's key.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::{DataKey, KEY_BYTES, SealContext, SealError};

/// The `sealed` member that marks an envelope and names its format.
pub const FORMAT: &str = "aes-256-gcm/v1";
/// GCM's standard nonce; random per value (one data key seals one value, so nonces never repeat under a key).
pub const NONCE_BYTES: usize = 12;
/// Larger wrapped keys or ciphertexts than this are not a credential of ours: refused before decoding.
const MAX_FIELD_CHARS: usize = 64 * 1024;

/// `{"sealed": "aes-256-gcm/v1", "key": "<key name>", "dek": "<wrapped data key>", "nonce": "…", "data": "…"}`
/// (binary members in standard base64).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// The key-encryption key that wrapped `wrapped_key` (`local:<fingerprint>`, `kms:<key id>`).
    pub key: String,
    pub wrapped_key: Vec<u8>,
    pub nonce: [u8; NONCE_BYTES],
    /// Ciphertext with its 16-byte tag.
    pub data: Vec<u8>,
}

/// AES-256-GCM with `context` (and the key's name) as associated data.
pub(super) fn encrypt(
    key: &[u8; KEY_BYTES],
    nonce: &[u8; NONCE_BYTES],
    plaintext: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, SealError> {
    let cipher = Aes256Gcm::new_from_slice(key).map_err(|e| SealError::Malformed(e.to_string()))?;
    cipher
        .encrypt(&Nonce::from(*nonce), Payload { msg: plaintext, aad })
        .map_err(|_| SealError::Malformed("encryption failed".into()))
}

pub(super) fn decrypt(
    key: &[u8; KEY_BYTES],
    nonce: &[u8; NONCE_BYTES],
    ciphertext: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, SealError> {
    let cipher = Aes256Gcm::new_from_slice(key).map_err(|e| SealError::Malformed(e.to_string()))?;
    cipher
        .decrypt(&Nonce::from(*nonce), Payload { msg: ciphertext, aad })
        .map_err(|_| SealError::Authentication)
}

impl Envelope {
    pub(super) fn seal(
        key_name: &str,
        data_key: &DataKey,
        plaintext: &[u8],
        context: &SealContext<'_>,
    ) -> Result<Self, SealError> {
        let nonce: [u8; NONCE_BYTES] = rand::random();
        let aad = context.associated_data(key_name);
        Ok(Self {
            key: key_name.to_owned(),
            wrapped_key: data_key.wrapped.clone(),
            nonce,
            data: encrypt(&data_key.plaintext, &nonce, plaintext, &aad)?,
        })
    }

    pub(super) fn open(
        &self,
        data_key: &[u8; KEY_BYTES],
        context: &SealContext<'_>,
    ) -> Result<Vec<u8>, SealError> {
        decrypt(
            data_key,
            &self.nonce,
            &self.data,
            &context.associated_data(&self.key),
        )
    }

    pub fn to_value(&self) -> Value {
        json!({
            "sealed": FORMAT,
            "key": self.key,
            "dek": STANDARD.encode(&self.wrapped_key),
            "nonce": STANDARD.encode(self.nonce),
            "data": STANDARD.encode(&self.data),
        })
    }

    /// `None` for a value that is not an envelope (a clear value); an error for one that claims to be and is not.
    pub fn from_value(value: &Value) -> Result<Option<Self>, SealError> {
        let Some(object) = value.as_object().filter(|o| o.contains_key("sealed")) else {
            return Ok(None);
        };
        let text = |name: &str| -> Result<&str, SealError> {
            object
                .get(name)
                .and_then(Value::as_str)
                .filter(|s| s.len() <= MAX_FIELD_CHARS)
                .ok_or_else(|| SealError::Malformed(format!("member `{name}` missing or too long")))
        };
        let binary = |name: &str| -> Result<Vec<u8>, SealError> {
            STANDARD
                .decode(text(name)?)
                .map_err(|e| SealError::Malformed(format!("member `{name}`: {e}")))
        };
        let format = text("sealed")?;
        if format != FORMAT {
            return Err(SealError::Malformed(format!("unknown format `{format}`")));
        }
        let nonce = binary("nonce")?
            .try_into()
            .map_err(|_| SealError::Malformed(format!("the nonce must be {NONCE_BYTES} bytes")))?;
        Ok(Some(Self {
            key: text("key")?.to_owned(),
            wrapped_key: binary("dek")?,
            nonce,
            data: binary("data")?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zeroize::Zeroizing;

    fn context() -> SealContext<'static> {
        SealContext {
            record: "webhook-1",
            field: "/odoo/api_key",
        }
    }

    fn sealed(plaintext: &[u8]) -> (Envelope, [u8; KEY_BYTES]) {
        let key: [u8; KEY_BYTES] = rand::random();
        let data_key = DataKey {
            plaintext: Zeroizing::new(key),
            wrapped: b"wrapped".to_vec(),
        };
        (
            Envelope::seal("local:test", &data_key, plaintext, &context()).unwrap(),
            key,
        )
    }

    #[test]
    fn round_trips_through_json_and_hides_the_plaintext() {
        let (envelope, key) = sealed(b"\"odoo-api-key\"");
        let value = envelope.to_value();
        assert!(!value.to_string().contains("odoo-api-key"));
        let back = Envelope::from_value(&value).unwrap().unwrap();
        assert_eq!(back, envelope);
        assert_eq!(back.open(&key, &context()).unwrap(), b"\"odoo-api-key\"");
    }

    #[test]
    fn a_moved_or_altered_value_does_not_open() {
        let (envelope, key) = sealed(b"secret");
        let elsewhere = SealContext {
            record: "webhook-2",
            ..context()
        };
        assert!(matches!(
            envelope.open(&key, &elsewhere),
            Err(SealError::Authentication)
        ));
        let mut altered = envelope.clone();
        altered.data[0] ^= 1;
        assert!(matches!(
            altered.open(&key, &context()),
            Err(SealError::Authentication)
        ));
        let mut renamed = envelope;
        renamed.key = "local:other".into();
        assert!(matches!(
            renamed.open(&key, &context()),
            Err(SealError::Authentication)
        ));
    }

    #[test]
    fn clear_values_are_not_envelopes_and_broken_envelopes_are_named() {
        assert_eq!(Envelope::from_value(&json!("clear key")).unwrap(), None);
        assert_eq!(Envelope::from_value(&json!({"a": 1})).unwrap(), None);
        for broken in [
            json!({"sealed": "rot13"}),
            json!({"sealed": FORMAT, "key": "k", "dek": "!!", "nonce": "AAAA", "data": ""}),
            json!({"sealed": FORMAT, "key": "k", "dek": "", "nonce": "AAAA", "data": ""}),
        ] {
            assert!(
                matches!(Envelope::from_value(&broken), Err(SealError::Malformed(_))),
                "{broken}"
            );
        }
    }
}
