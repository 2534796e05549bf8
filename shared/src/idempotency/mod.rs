//! The `IdempotencyStore` port: which `Idempotency-Key`s a webhook has used, and what their first call answered.

#[cfg(feature = "dynamodb")]
mod dynamodb;
mod memory;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(feature = "dynamodb")]
pub use dynamodb::{DynamoIdempotencyStore, create_idempotency_table};
pub use memory::MemoryIdempotencyStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteIdempotencyStore;

use async_trait::async_trait;
use bytes::Bytes;
use sha2::{Digest as _, Sha256};
use std::fmt;
use time::OffsetDateTime;

use crate::config::WebhookId;
use crate::store::StoreError;

/// The header a caller names its attempt with, and the one that marks a replayed answer.
pub const KEY_HEADER: &str = "idempotency-key";
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
/// Longest key accepted (characters, all visible ASCII).
pub const MAX_KEY_LEN: usize = 255;
/// How long a key and its answer are kept after the first call.
pub const DEFAULT_IDEMPOTENCY_TTL: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);
/// Answers larger than this are not kept (a DynamoDB item holds at most 400 KB).
pub const MAX_STORED_BODY_BYTES: usize = 256 * 1024;

/// A validated `Idempotency-Key`: 1 to `MAX_KEY_LEN` visible ASCII characters (`!` to `~`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdempotencyKey(String);

/// Why a presented key was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidKey {
    #[error("the Idempotency-Key header is empty")]
    Empty,
    #[error("the Idempotency-Key header is longer than {MAX_KEY_LEN} characters")]
    TooLong,
    #[error("the Idempotency-Key header may hold only visible ASCII characters (no spaces)")]
    Characters,
    #[error("the Idempotency-Key header is given more than once")]
    Repeated,
}

impl IdempotencyKey {
    pub fn parse(value: &[u8]) -> Result<Self, InvalidKey> {
        if value.is_empty() {
            return Err(InvalidKey::Empty);
        }
        if value.len() > MAX_KEY_LEN {
            return Err(InvalidKey::TooLong);
        }
        if !value.iter().all(|b| (0x21..=0x7e).contains(b)) {
            return Err(InvalidKey::Characters);
        }
        // Every byte is ASCII, so this never fails.
        String::from_utf8(value.to_vec())
            .map(Self)
            .map_err(|_| InvalidKey::Characters)
    }

    /// The key a request presents, if any; more than one `Idempotency-Key` header is refused.
    pub fn from_headers(headers: &http::HeaderMap) -> Result<Option<Self>, InvalidKey> {
        let mut values = headers.get_all(KEY_HEADER).iter();
        let Some(first) = values.next() else {
            return Ok(None);
        };
        if values.next().is_some() {
            return Err(InvalidKey::Repeated);
        }
        Self::parse(first.as_bytes()).map(Some)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Lowercase hex SHA-256 of a request body: what tells a repeat from a different request under the same key.
pub fn fingerprint(body: &[u8]) -> String {
    Sha256::digest(body).iter().map(|b| format!("{b:02x}")).collect()
}

/// An answer kept for replay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub content_type: String,
    pub body: Bytes,
}

/// Where the first call with a key stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// The first call is still running (or its process stopped before settling it).
    InProgress,
    /// The first call answered; repeats get this answer.
    Done(StoredResponse),
    /// Repeats get `409` with this code and message: whether the first call took effect is unknown, or its
    /// answer could not be kept.
    Blocked { code: String, message: String },
}

/// One key of one webhook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub webhook_id: WebhookId,
    pub key: IdempotencyKey,
    /// Which reservation this is: settling and releasing only touch the record they reserved.
    pub token: String,
    /// `fingerprint` of the first call's body.
    pub fingerprint: String,
    pub state: State,
    pub created_at: OffsetDateTime,
    /// After this the key is free again (and the record may be swept).
    pub expires_at: OffsetDateTime,
}

impl Record {
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        self.expires_at <= now
    }
}

/// Keys per webhook with the first call's answer. Implementations must make `reserve` atomic: of concurrent
/// reservations of one unexpired key exactly one succeeds; an expired record counts as absent.
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Stores `claim` (state `InProgress`) unless an unexpired record holds its webhook and key; then returns
    /// that record and changes nothing.
    async fn reserve(&self, claim: &Record) -> Result<Option<Record>, StoreError>;
    /// Stores `record`'s state over the record its `token` reserved; nothing happens if the stored record is no
    /// longer that reservation (it expired and was taken over).
    async fn settle(&self, record: &Record) -> Result<(), StoreError>;
    /// Deletes the record `record.token` reserved, so the key can be used again at once.
    async fn release(&self, record: &Record) -> Result<(), StoreError>;
}

/// Milliseconds since the epoch, the stored form of times.
#[cfg_attr(not(any(feature = "sqlite", feature = "dynamodb")), allow(dead_code))]
pub(crate) fn millis(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

#[cfg_attr(not(any(feature = "sqlite", feature = "dynamodb")), allow(dead_code))]
pub(crate) fn from_millis(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The stored names of the states.
#[cfg_attr(not(any(feature = "sqlite", feature = "dynamodb")), allow(dead_code))]
pub(crate) mod state_name {
    pub const IN_PROGRESS: &str = "in_progress";
    pub const DONE: &str = "done";
    pub const BLOCKED: &str = "blocked";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_visible_ascii_up_to_the_limit() {
        assert!(IdempotencyKey::parse(b"order-42/retry:1").is_ok());
        assert!(IdempotencyKey::parse(&[b'k'; MAX_KEY_LEN]).is_ok());
        assert_eq!(
            IdempotencyKey::parse(&[b'k'; MAX_KEY_LEN + 1]),
            Err(InvalidKey::TooLong)
        );
        assert_eq!(IdempotencyKey::parse(b""), Err(InvalidKey::Empty));
        assert_eq!(IdempotencyKey::parse(b"a b"), Err(InvalidKey::Characters));
        assert_eq!(
            IdempotencyKey::parse("clé".as_bytes()),
            Err(InvalidKey::Characters)
        );
        assert_eq!(IdempotencyKey::parse(b"a\tb"), Err(InvalidKey::Characters));
    }

    #[test]
    fn a_repeated_header_is_refused() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(IdempotencyKey::from_headers(&headers), Ok(None));
        headers.append(KEY_HEADER, http::HeaderValue::from_static("a"));
        assert_eq!(
            IdempotencyKey::from_headers(&headers).unwrap().unwrap().as_str(),
            "a"
        );
        headers.append(KEY_HEADER, http::HeaderValue::from_static("b"));
        assert_eq!(IdempotencyKey::from_headers(&headers), Err(InvalidKey::Repeated));
    }

    #[test]
    fn fingerprints_are_hex_sha256() {
        assert_eq!(
            fingerprint(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
