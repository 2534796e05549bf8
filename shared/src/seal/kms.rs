//! The AWS KMS key-encryption key: `GenerateDataKey` for every sealed value, `Decrypt` (cached briefly) to open it.

use async_trait::async_trait;
use aws_sdk_kms::Client;
use aws_sdk_kms::error::DisplayErrorContext;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

use super::{DataKey, KEY_BYTES, KeyWrap, SealContext, SealError};

/// Encryption-context keys: KMS binds every data key to its webhook and field, and CloudTrail shows both.
/// The IAM policies in infra/template.yaml require the first one to be present.
pub const CONTEXT_RECORD: &str = "bitconn:webhook";
pub const CONTEXT_FIELD: &str = "bitconn:field";
/// How long an unwrapped data key is reused, so a warm function does not call KMS for every webhook read.
const DATA_KEY_CACHE_TTL: Duration = Duration::from_secs(300);
/// Most unwrapped data keys held at once; beyond it expired ones, then all, are forgotten.
const MAX_CACHED_DATA_KEYS: usize = 1024;

/// A wrapped data key and the record and field it was unwrapped for: a cached key is reused only in its context.
type CacheKey = (Vec<u8>, String, String);
type Cache = HashMap<CacheKey, (Instant, Zeroizing<[u8; KEY_BYTES]>)>;

/// A KMS symmetric key named by id, ARN or alias (`alias/bitconn-credentials`).
pub struct KmsKey {
    client: Client,
    key_id: String,
    name: String,
    cache: Mutex<Cache>,
}

impl KmsKey {
    pub fn new(client: Client, key_id: impl Into<String>) -> Self {
        let key_id = key_id.into();
        Self {
            client,
            name: format!("kms:{key_id}"),
            key_id,
            cache: Mutex::default(),
        }
    }

    pub fn from_sdk_config(config: &aws_config::SdkConfig, key_id: impl Into<String>) -> Self {
        Self::new(Client::new(config), key_id)
    }

    fn context(context: &SealContext<'_>) -> HashMap<String, String> {
        HashMap::from([
            (CONTEXT_RECORD.to_owned(), context.record.to_owned()),
            (CONTEXT_FIELD.to_owned(), context.field.to_owned()),
        ])
    }

    fn cached(&self, key: &CacheKey) -> Option<Zeroizing<[u8; KEY_BYTES]>> {
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        let (at, data_key) = cache.get(key)?;
        (at.elapsed() < DATA_KEY_CACHE_TTL).then(|| data_key.clone())
    }

    fn remember(&self, key: CacheKey, data_key: &Zeroizing<[u8; KEY_BYTES]>) {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= MAX_CACHED_DATA_KEYS {
            cache.retain(|_, (at, _)| at.elapsed() < DATA_KEY_CACHE_TTL);
            if cache.len() >= MAX_CACHED_DATA_KEYS {
                cache.clear();
            }
        }
        cache.insert(key, (Instant::now(), data_key.clone()));
    }
}

fn kms_error(operation: &'static str, error: &dyn std::error::Error) -> SealError {
    SealError::Kms {
        operation,
        message: DisplayErrorContext(error).to_string(),
    }
}

fn data_key(plaintext: Option<&Blob>) -> Result<Zeroizing<[u8; KEY_BYTES]>, SealError> {
    let bytes = plaintext.map(Blob::as_ref).unwrap_or_default();
    let key: [u8; KEY_BYTES] = bytes.try_into().map_err(|_| SealError::Kms {
        operation: "GenerateDataKey",
        message: format!("expected a {KEY_BYTES}-byte data key, got {} bytes", bytes.len()),
    })?;
    Ok(Zeroizing::new(key))
}

#[async_trait]
impl KeyWrap for KmsKey {
    fn key_name(&self) -> &str {
        &self.name
    }

    /// Any KMS envelope: `Decrypt` names the configured key, and KMS refuses a data key wrapped by another.
    fn can_open(&self, sealed_with: &str) -> bool {
        sealed_with.starts_with("kms:")
    }

    async fn new_data_key(&self, context: &SealContext<'_>) -> Result<DataKey, SealError> {
        let output = self
            .client
            .generate_data_key()
            .key_id(&self.key_id)
            .key_spec(DataKeySpec::Aes256)
            .set_encryption_context(Some(Self::context(context)))
            .send()
            .await
            .map_err(|e| kms_error("GenerateDataKey", &e))?;
        let plaintext = data_key(output.plaintext())?;
        let wrapped = output
            .ciphertext_blob()
            .map(|b| b.as_ref().to_vec())
            .ok_or_else(|| SealError::Kms {
                operation: "GenerateDataKey",
                message: "no ciphertext blob in the answer".into(),
            })?;
        Ok(DataKey { plaintext, wrapped })
    }

    async fn unwrap_data_key(
        &self,
        wrapped: &[u8],
        context: &SealContext<'_>,
    ) -> Result<Zeroizing<[u8; KEY_BYTES]>, SealError> {
        let cache_key = (
            wrapped.to_vec(),
            context.record.to_owned(),
            context.field.to_owned(),
        );
        if let Some(key) = self.cached(&cache_key) {
            return Ok(key);
        }
        let output = self
            .client
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(wrapped))
            .set_encryption_context(Some(Self::context(context)))
            .send()
            .await
            .map_err(|e| kms_error("Decrypt", &e))?;
        let key = data_key(output.plaintext())?;
        self.remember(cache_key, &key);
        Ok(key)
    }
}
