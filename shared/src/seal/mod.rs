//! Credentials sealed at rest: envelope encryption of stored secrets, with data keys wrapped by KMS or a key file.
//!
//! Every sealed value gets its own random AES-256-GCM data key; the data key is stored only wrapped by a
//! key-encryption key (`KeyWrap`: AWS KMS, or a local key file beside an SQLite store). Both layers are bound to
//! where the value lives (webhook id and field), so a sealed value copied to another webhook or field does not
//! open. Values stored in clear by older versions still read; they are sealed the next time they are written.

mod document;
mod envelope;
#[cfg(feature = "kms")]
mod kms;
mod local_key;
mod none;
mod spec;

pub use document::{SEALED_FIELDS, open_document, seal_document};
pub use envelope::Envelope;
#[cfg(feature = "kms")]
pub use kms::KmsKey;
#[cfg(all(unix, feature = "sqlite"))]
pub(crate) use local_key::PRIVATE_MODE;
pub use local_key::{LocalKey, key_file_for};
pub use spec::{InvalidSealSpec, SealSpec};

use async_trait::async_trait;
use serde_json::Value;
use std::sync::Arc;
use zeroize::Zeroizing;

/// AES-256: data keys and local keys are 32 bytes.
pub const KEY_BYTES: usize = 32;

/// Where a sealed value lives. Both are authenticated with the value (AEAD associated data, KMS encryption
/// context), so moving a sealed value elsewhere makes it fail to open instead of handing out another's secret.
#[derive(Clone, Copy, Debug)]
pub struct SealContext<'a> {
    /// The owning record, e.g. the webhook's id.
    pub record: &'a str,
    /// The JSON pointer of the field inside the stored document, e.g. `/odoo/api_key`.
    pub field: &'a str,
}

impl SealContext<'_> {
    /// The associated data both AEAD layers authenticate.
    fn associated_data(&self, key_name: &str) -> Vec<u8> {
        format!("bitconn-seal-v1\0{}\0{}\0{}", self.record, self.field, key_name).into_bytes()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("credentials cannot be sealed: {0}")]
    NotConfigured(String),
    #[error("key file {path}: {reason}")]
    KeyFile { path: String, reason: String },
    #[error(
        "a stored credential was sealed with {sealed_with}, but this store opens credentials with {available}"
    )]
    WrongKey { sealed_with: String, available: String },
    #[error("a stored credential is not a valid sealed value: {0}")]
    Malformed(String),
    #[error("a stored credential did not open (wrong key, or the value was altered or moved)")]
    Authentication,
    #[error("KMS {operation}: {message}")]
    Kms {
        operation: &'static str,
        message: String,
    },
}

/// A fresh data key: used once in clear to seal a value, stored only in its wrapped form.
pub struct DataKey {
    pub plaintext: Zeroizing<[u8; KEY_BYTES]>,
    pub wrapped: Vec<u8>,
}

/// A key-encryption key. Two real implementations: `KmsKey` (AWS) and `LocalKey` (a 0600 key file).
#[async_trait]
pub trait KeyWrap: Send + Sync {
    /// What envelopes record as their key: `local:<fingerprint>` or `kms:<key id>`.
    fn key_name(&self) -> &str;
    /// Whether an envelope naming `sealed_with` can be opened by this key (same kind; a local key also checks
    /// its fingerprint, while KMS checks the key itself on `Decrypt`).
    fn can_open(&self, sealed_with: &str) -> bool;
    async fn new_data_key(&self, context: &SealContext<'_>) -> Result<DataKey, SealError>;
    async fn unwrap_data_key(
        &self,
        wrapped: &[u8],
        context: &SealContext<'_>,
    ) -> Result<Zeroizing<[u8; KEY_BYTES]>, SealError>;
}

#[derive(Clone)]
enum Mode {
    Key(Arc<dyn KeyWrap>),
    /// Tests only (`none`): values are stored as given.
    Clear,
    /// No key was configured: clear values still read, but nothing can be sealed or opened.
    Unconfigured(Arc<str>),
}

/// Seals and opens stored credentials. Cheap to clone; the store adapters hold one.
#[derive(Clone)]
pub struct Sealer {
    mode: Mode,
}

/// What `Sealer::open` found.
#[derive(Debug, PartialEq, Eq)]
pub enum Opened {
    /// The value was sealed and is now in clear.
    Unsealed(Value),
    /// The value was stored in clear (written before sealing, or in `none` mode); it is sealed on the next write.
    WasClear(Value),
}

impl Opened {
    pub fn into_value(self) -> Value {
        match self {
            Self::Unsealed(value) | Self::WasClear(value) => value,
        }
    }
}

impl Sealer {
    pub fn with_key(key: Arc<dyn KeyWrap>) -> Self {
        Self { mode: Mode::Key(key) }
    }

    /// A sealer that refuses to seal, with the reason the operator needs to fix it.
    pub fn unconfigured(reason: impl Into<String>) -> Self {
        Self {
            mode: Mode::Unconfigured(reason.into().into()),
        }
    }

    /// For logs and errors: `local:1a2b…`, `kms:…`, `none` or `unconfigured`.
    pub fn describe(&self) -> String {
        match &self.mode {
            Mode::Key(key) => key.key_name().to_owned(),
            Mode::Clear => "none".to_owned(),
            Mode::Unconfigured(_) => "unconfigured".to_owned(),
        }
    }

    /// The stored form of `value`: an envelope (as JSON), or `value` itself in `none` mode.
    pub async fn seal(&self, value: &Value, context: &SealContext<'_>) -> Result<Value, SealError> {
        let key = match &self.mode {
            Mode::Key(key) => key,
            Mode::Clear => return Ok(value.clone()),
            Mode::Unconfigured(reason) => return Err(SealError::NotConfigured(reason.to_string())),
        };
        let plaintext =
            Zeroizing::new(serde_json::to_vec(value).map_err(|e| SealError::Malformed(e.to_string()))?);
        let data_key = key.new_data_key(context).await?;
        let envelope = Envelope::seal(key.key_name(), &data_key, &plaintext, context)?;
        Ok(envelope.to_value())
    }

    /// The clear value of a stored one: an envelope is opened, anything else is taken as stored in clear.
    pub async fn open(&self, stored: &Value, context: &SealContext<'_>) -> Result<Opened, SealError> {
        let Some(envelope) = Envelope::from_value(stored)? else {
            return Ok(Opened::WasClear(stored.clone()));
        };
        let key = match &self.mode {
            Mode::Key(key) => key,
            Mode::Clear => {
                return Err(SealError::WrongKey {
                    sealed_with: envelope.key.clone(),
                    available: "no encryption (`none`)".to_owned(),
                });
            }
            Mode::Unconfigured(reason) => return Err(SealError::NotConfigured(reason.to_string())),
        };
        if !key.can_open(&envelope.key) {
            return Err(SealError::WrongKey {
                sealed_with: envelope.key.clone(),
                available: key.key_name().to_owned(),
            });
        }
        let data_key = key.unwrap_data_key(&envelope.wrapped_key, context).await?;
        let plaintext = Zeroizing::new(envelope.open(&data_key, context)?);
        serde_json::from_slice(&plaintext)
            .map(Opened::Unsealed)
            .map_err(|e| SealError::Malformed(e.to_string()))
    }
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealer({})", self.describe())
    }
}
