//! A webhook's outbound target: where and how Odoo records are delivered, signed and retried.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use time::{Duration, OffsetDateTime};

use super::HttpVerb;
use crate::outbound::{AllowList, SigningSecret};

/// The original module's hard-coded timeout, now the default of a per-target setting.
pub const DEFAULT_TIMEOUT_MS: u64 = 15_000;
/// Longest timeout an operator may choose for one delivery.
pub const MAX_TIMEOUT_MS: u64 = 120_000;
/// Waits before each retry: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (8 attempts over about a day).
pub const DEFAULT_RETRY_SECONDS: [u64; 7] = [5, 300, 1800, 7200, 18_000, 36_000, 36_000];
/// Most retries a schedule may hold.
pub const MAX_RETRIES: usize = 20;
/// Most custom headers on one target.
pub const MAX_HEADERS: usize = 32;

/// The whole outbound configuration of one webhook. `headers` and `signing` are credentials: sealed at rest
/// (`seal::SEALED_FIELDS`), never shown back, redacted from `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundTarget {
    /// Destination; `{{ path }}` / `${path}` placeholders send one delivery per record.
    pub url: String,
    #[serde(default = "default_verb")]
    pub verb: HttpVerb,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Why the target was switched off by a receiver (`410 Gone`), for the operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing: Option<SigningState>,
    #[serde(default)]
    pub retry: RetrySchedule,
    /// CIDRs the SSRF guard lets through (an internal receiver); everything non-public is refused otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_cidrs: Vec<String>,
    /// Deliveries of this webhook arrive in order: a failing head waits, and later ones queue behind it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ordered: bool,
    #[serde(default)]
    pub payload: PayloadSpec,
}

fn default_verb() -> HttpVerb {
    HttpVerb::Post
}

fn default_timeout_ms() -> u64 {
    DEFAULT_TIMEOUT_MS
}

fn default_true() -> bool {
    true
}

impl std::fmt::Debug for OutboundTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundTarget")
            .field("url", &self.url)
            .field("verb", &self.verb)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("timeout_ms", &self.timeout_ms)
            .field("enabled", &self.enabled)
            .field("signing", &self.signing.as_ref().map(|_| "<redacted>"))
            .field("retry", &self.retry)
            .field("allow_cidrs", &self.allow_cidrs)
            .field("ordered", &self.ordered)
            .field("payload", &self.payload)
            .finish()
    }
}

/// The signing secret in `whsec_` form and, during a rotation's grace period, the previous one.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningState {
    pub current: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<PreviousSigning>,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousSigning {
    pub secret: String,
    #[serde(with = "time::serde::rfc3339")]
    pub valid_until: OffsetDateTime,
}

impl SigningState {
    /// The secrets that sign now: the current one, then the previous one while its grace period lasts.
    /// A stored value that does not parse is skipped (and the delivery is sent unsigned only if none parse).
    pub fn active(&self, now: OffsetDateTime) -> Vec<SigningSecret> {
        let previous = self
            .previous
            .as_ref()
            .filter(|p| now < p.valid_until)
            .map(|p| p.secret.as_str());
        std::iter::once(self.current.as_str())
            .chain(previous)
            .filter_map(|s| SigningSecret::parse(s).ok())
            .collect()
    }
}

/// Waits between attempts, in seconds; each wait gets up to ±10 % jitter so failed receivers are not hit in step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RetrySchedule(pub Vec<u64>);

impl Default for RetrySchedule {
    fn default() -> Self {
        Self(DEFAULT_RETRY_SECONDS.to_vec())
    }
}

impl RetrySchedule {
    /// Attempts in all: the first one plus one per wait.
    pub fn attempts(&self) -> u32 {
        u32::try_from(self.0.len()).unwrap_or(u32::MAX).saturating_add(1)
    }

    /// The wait after failed attempt `attempt` (1-based), jittered; `None` when it was the last.
    pub fn wait_after(&self, attempt: u32) -> Option<std::time::Duration> {
        let base = *self.0.get(usize::try_from(attempt).ok()?.checked_sub(1)?)?;
        let spread = base / 10;
        let jitter = if spread == 0 {
            0
        } else {
            rand::random_range(0..=2 * spread)
        };
        Some(std::time::Duration::from_secs(base - spread + jitter))
    }
}

/// What is sent: the original's three modes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum PayloadSpec {
    /// `{"model","count","records"}` with these fields (a spec as inbound reads take); with none,
    /// `{"model","count","ids"}`.
    Fields {
        #[serde(default)]
        fields: Vec<Value>,
    },
    /// A JSON object with `fields` plus static root keys; placeholders in the static keys are filled from the
    /// first record.
    Body { body: Value },
    /// A JSON template filled per record; a one-item `records` list is a per-record template.
    Template { template: Value },
}

impl Default for PayloadSpec {
    fn default() -> Self {
        Self::Fields { fields: Vec::new() }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OutboundConfigError {
    #[error("the outbound URL must start with http:// or https://")]
    Scheme,
    #[error("timeout must be from 1 ms to {MAX_TIMEOUT_MS} ms")]
    Timeout,
    #[error("at most {MAX_HEADERS} headers")]
    TooManyHeaders,
    #[error("header {0:?} is not a valid HTTP header name and value")]
    Header(String),
    #[error("{0}")]
    Cidr(String),
    #[error("a retry schedule holds at most {MAX_RETRIES} waits")]
    Retries,
    #[error("payload: {0}")]
    Payload(String),
}

impl OutboundTarget {
    pub fn new(url: String) -> Self {
        Self {
            url,
            verb: HttpVerb::Post,
            headers: BTreeMap::new(),
            timeout_ms: DEFAULT_TIMEOUT_MS,
            enabled: true,
            disabled_reason: None,
            signing: None,
            retry: RetrySchedule::default(),
            allow_cidrs: Vec::new(),
            ordered: false,
            payload: PayloadSpec::default(),
        }
    }

    /// Checks what an operator set, so a delivery never meets a target it cannot use.
    pub fn validate(&self) -> Result<(), OutboundConfigError> {
        let lower = self.url.to_ascii_lowercase();
        if !(lower.starts_with("http://") || lower.starts_with("https://")) {
            return Err(OutboundConfigError::Scheme);
        }
        crate::outbound::template::render_url(&self.url, &Value::Null)
            .map_err(|e| OutboundConfigError::Payload(e.to_string()))?;
        if !(1..=MAX_TIMEOUT_MS).contains(&self.timeout_ms) {
            return Err(OutboundConfigError::Timeout);
        }
        if self.headers.len() > MAX_HEADERS {
            return Err(OutboundConfigError::TooManyHeaders);
        }
        for (name, value) in &self.headers {
            let ok = http::HeaderName::from_bytes(name.as_bytes()).is_ok()
                && http::HeaderValue::from_str(value).is_ok();
            if !ok {
                return Err(OutboundConfigError::Header(name.clone()));
            }
        }
        self.allow_list()?;
        if self.retry.0.len() > MAX_RETRIES {
            return Err(OutboundConfigError::Retries);
        }
        crate::outbound::payload::check_spec(&self.payload).map_err(OutboundConfigError::Payload)
    }

    pub fn allow_list(&self) -> Result<AllowList, OutboundConfigError> {
        AllowList::parse(self.allow_cidrs.iter().map(String::as_str)).map_err(OutboundConfigError::Cidr)
    }

    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.timeout_ms)
    }

    /// Replaces the signing secret; with a grace period the old one keeps signing until it ends.
    pub fn rotate_signing_secret(&mut self, grace: Option<Duration>, now: OffsetDateTime) -> SigningSecret {
        let secret = SigningSecret::generate();
        let old = self.signing.take().map(|s| s.current);
        self.signing = Some(SigningState {
            current: secret.expose(),
            previous: old
                .zip(grace.filter(|g| g.is_positive()))
                .map(|(secret, g)| PreviousSigning {
                    secret,
                    valid_until: now + g,
                }),
        });
        secret
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_old_minimal_target_reads_with_every_default() {
        let target: OutboundTarget = serde_json::from_value(json!({"url": "https://h.example/x"})).unwrap();
        assert_eq!(target, OutboundTarget::new("https://h.example/x".into()));
        assert_eq!(target.retry.attempts(), 8);
        assert_eq!(target.timeout(), std::time::Duration::from_secs(15));
        assert!(target.validate().is_ok());
    }

    #[test]
    fn jitter_stays_within_ten_percent_and_the_schedule_ends() {
        let schedule = RetrySchedule::default();
        for _ in 0..100 {
            let wait = schedule.wait_after(2).unwrap().as_secs();
            assert!((270..=330).contains(&wait), "{wait}");
        }
        assert_eq!(schedule.wait_after(1).unwrap().as_secs(), 5);
        assert!(schedule.wait_after(8).is_none() && schedule.wait_after(0).is_none());
    }

    #[test]
    fn rotation_keeps_the_old_secret_signing_during_the_grace_period_only() {
        let now = OffsetDateTime::now_utc();
        let mut target = OutboundTarget::new("https://h.example".into());
        let first = target.rotate_signing_secret(None, now);
        let second = target.rotate_signing_secret(Some(Duration::hours(1)), now);
        let signing = target.signing.clone().unwrap();
        assert_eq!(signing.active(now), vec![second.clone(), first]);
        assert_eq!(signing.active(now + Duration::hours(2)), vec![second]);
        assert!(!format!("{target:?}").contains(&signing.current));
    }

    #[test]
    fn bad_settings_are_named() {
        let mut target = OutboundTarget::new("ftp://x".into());
        assert_eq!(target.validate(), Err(OutboundConfigError::Scheme));
        target.url = "https://x/{{ id".into();
        assert!(matches!(target.validate(), Err(OutboundConfigError::Payload(_))));
        target.url = "https://x/{{ id }}".into();
        target.timeout_ms = 0;
        assert_eq!(target.validate(), Err(OutboundConfigError::Timeout));
        target.timeout_ms = 10;
        target.allow_cidrs = vec!["nope".into()];
        assert!(matches!(target.validate(), Err(OutboundConfigError::Cidr(_))));
        target.allow_cidrs.clear();
        target.headers.insert("Bad Name".into(), "v".into());
        assert!(matches!(target.validate(), Err(OutboundConfigError::Header(_))));
    }
}
