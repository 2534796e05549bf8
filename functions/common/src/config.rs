//! The functions' configuration, read once from the environment at start and validated.

use bitconn::gateway::GatewaySettings;
use bitconn::odoo::tls::{InvalidRootSource, ROOTS_ENV, RootSource};
use bitconn::outbound::queue::{InvalidQueueSpec, QueueSpec};
use bitconn::seal::{InvalidSealSpec, SealSpec};
use bitconn::store::{InvalidStoreSpec, StoreOptions, StoreSpec};
use std::time::Duration;

/// Store used when `BITCONN_STORE` is not set: the table the SAM template creates.
pub const DEFAULT_STORE: &str = "dynamodb:bitconn-webhooks";
pub const DEFAULT_LOG_FILTER: &str = "info";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} must be a duration like 5s or 500ms, got `{value}`")]
    Duration { name: &'static str, value: String },
    /// A zero Odoo timeout would fail every call as `odoo_timeout`.
    #[error("{name} must be longer than zero")]
    ZeroTimeout { name: &'static str },
    #[error("{name} must be a positive number, got `{value}`")]
    Number { name: &'static str, value: String },
    #[error("BITCONN_SEAL: {0}")]
    Seal(#[from] InvalidSealSpec),
    #[error(transparent)]
    TlsRoots(#[from] InvalidRootSource),
    #[error("BITCONN_QUEUE: {0}")]
    Queue(#[from] InvalidQueueSpec),
    #[error("BITCONN_QUEUE is not set: this function needs the outbound queue (sqs:<queue url>?dlq=…)")]
    NoQueue,
}

/// Everything a function reads from its environment (the AWS SDK reads its own `AWS_*` variables).
#[derive(Clone, Debug)]
pub struct FunctionConfig {
    /// `BITCONN_STORE`, e.g. `dynamodb:bitconn-webhooks`.
    pub store: String,
    /// `BITCONN_EXECUTION_LOG_TABLE`: the log table when it is not `<prefix>-execution-log`.
    pub execution_log_table: Option<String>,
    /// `BITCONN_IDEMPOTENCY_TABLE`: the `Idempotency-Key` table when it is not `<prefix>-idempotency`.
    pub idempotency_table: Option<String>,
    /// `BITCONN_QUEUE`: the outbound queue (`sqs:<url>?dlq=…`) of the trigger and dispatch functions.
    pub queue: Option<String>,
    /// `BITCONN_DELIVERIES_TABLE`: the delivery log table when it is not `<prefix>-deliveries`.
    pub deliveries_table: Option<String>,
    /// `BITCONN_PUBLIC_URL`: the API's base URL, shown in `default_payload` answers.
    pub public_url: Option<String>,
    /// `BITCONN_ODOO_CONNECT_TIMEOUT` and `BITCONN_ODOO_TIMEOUT`.
    pub odoo_connect_timeout: Option<Duration>,
    pub odoo_timeout: Option<Duration>,
    /// `BITCONN_MAX_BODY_BYTES`.
    pub max_body_bytes: Option<usize>,
    /// `BITCONN_SCHEMA_CACHE_TTL`.
    pub schema_cache_ttl: Option<Duration>,
    /// `BITCONN_SEAL`: the key sealing stored credentials (`kms:<key>` in AWS; the template sets it).
    pub seal: Option<SealSpec>,
    /// `BITCONN_TLS_ROOTS`: the roots every TLS client trusts (`system` by default, `webpki` compiled in); the
    /// TLS clients read it themselves, it is checked here so a bad value stops the function at start.
    pub tls_roots: RootSource,
    /// `RUST_LOG`.
    pub log_filter: String,
}

impl FunctionConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
    }

    /// Reads the configuration through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let duration = |name: &'static str| -> Result<Option<Duration>, ConfigError> {
            lookup(name)
                .map(|value| {
                    humantime::parse_duration(value.trim()).map_err(|_| ConfigError::Duration { name, value })
                })
                .transpose()
        };
        let timeout = |name: &'static str| -> Result<Option<Duration>, ConfigError> {
            match duration(name)? {
                Some(d) if d.is_zero() => Err(ConfigError::ZeroTimeout { name }),
                other => Ok(other),
            }
        };
        let max_body_bytes = lookup("BITCONN_MAX_BODY_BYTES")
            .map(|value| match value.trim().parse::<usize>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(ConfigError::Number {
                    name: "BITCONN_MAX_BODY_BYTES",
                    value,
                }),
            })
            .transpose()?;
        Ok(Self {
            store: lookup("BITCONN_STORE").unwrap_or_else(|| DEFAULT_STORE.to_owned()),
            execution_log_table: lookup("BITCONN_EXECUTION_LOG_TABLE"),
            idempotency_table: lookup("BITCONN_IDEMPOTENCY_TABLE"),
            queue: lookup("BITCONN_QUEUE"),
            deliveries_table: lookup("BITCONN_DELIVERIES_TABLE"),
            public_url: lookup("BITCONN_PUBLIC_URL"),
            odoo_connect_timeout: timeout("BITCONN_ODOO_CONNECT_TIMEOUT")?,
            odoo_timeout: timeout("BITCONN_ODOO_TIMEOUT")?,
            max_body_bytes,
            schema_cache_ttl: duration("BITCONN_SCHEMA_CACHE_TTL")?,
            seal: lookup("BITCONN_SEAL").map(|v| v.trim().parse()).transpose()?,
            tls_roots: lookup(ROOTS_ENV)
                .map(|v| v.parse())
                .transpose()?
                .unwrap_or_default(),
            log_filter: lookup("RUST_LOG").unwrap_or_else(|| DEFAULT_LOG_FILTER.to_owned()),
        })
    }

    /// The store spec, with the execution-log table overridden when one is named.
    pub fn store_spec(&self) -> Result<StoreSpec, InvalidStoreSpec> {
        let spec: StoreSpec = self.store.parse()?;
        match &self.execution_log_table {
            Some(table) => spec.with_log_table(table),
            None => Ok(spec),
        }
    }

    /// The outbound queue, which the trigger and dispatch functions cannot run without.
    pub fn queue_spec(&self) -> Result<QueueSpec, ConfigError> {
        Ok(self.queue.as_deref().ok_or(ConfigError::NoQueue)?.parse()?)
    }

    /// The DynamoDB delivery log table: `BITCONN_DELIVERIES_TABLE`, else the one beside a DynamoDB store; `None`
    /// for other stores (local runs keep attempts in memory).
    pub fn deliveries_table(&self) -> Result<Option<String>, InvalidStoreSpec> {
        Ok(match (&self.deliveries_table, self.store_spec()?) {
            (Some(table), _) => Some(table.clone()),
            (None, StoreSpec::DynamoDb { webhooks_table, .. }) => {
                Some(StoreSpec::default_deliveries_table(&webhooks_table))
            }
            (None, _) => None,
        })
    }

    /// How the stores are opened: the default options with this function's seal key.
    pub fn store_options(&self) -> StoreOptions {
        StoreOptions {
            seal: self.seal.clone(),
            idempotency_table: self.idempotency_table.clone(),
            ..StoreOptions::default()
        }
    }

    pub fn gateway_settings(&self) -> GatewaySettings {
        let defaults = GatewaySettings::default();
        GatewaySettings {
            public_base_url: self.public_url.clone(),
            odoo_connect_timeout: self.odoo_connect_timeout.unwrap_or(defaults.odoo_connect_timeout),
            odoo_timeout: self.odoo_timeout.unwrap_or(defaults.odoo_timeout),
            max_body_bytes: self.max_body_bytes.unwrap_or(defaults.max_body_bytes),
            schema_cache_ttl: self.schema_cache_ttl.unwrap_or(defaults.schema_cache_ttl),
            ..defaults
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<FunctionConfig, ConfigError> {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        FunctionConfig::from_lookup(|name| env.get(name).cloned())
    }

    #[test]
    fn defaults_and_overrides() {
        let config = from(&[]).unwrap();
        assert_eq!(config.store, DEFAULT_STORE);
        assert_eq!(config.log_filter, "info");
        let settings = config.gateway_settings();
        assert_eq!(settings.odoo_timeout, GatewaySettings::default().odoo_timeout);

        let config = from(&[
            ("BITCONN_STORE", "dynamodb:t-webhooks"),
            ("BITCONN_ODOO_TIMEOUT", "7s"),
        ])
        .unwrap();
        assert_eq!(
            config.store_spec().unwrap(),
            StoreSpec::DynamoDb {
                webhooks_table: "t-webhooks".into(),
                log_table: "t-execution-log".into()
            }
        );
        assert_eq!(config.gateway_settings().odoo_timeout, Duration::from_secs(7));
    }

    #[test]
    fn the_queue_is_read_and_checked() {
        assert!(matches!(
            from(&[]).unwrap().queue_spec(),
            Err(ConfigError::NoQueue)
        ));
        let url = "https://sqs.eu-west-1.amazonaws.com/1/out";
        let config = from(&[(
            "BITCONN_QUEUE",
            &format!("sqs:{url}?dlq={url}-dlq&dedup_table=t-idem"),
        )])
        .unwrap();
        assert!(matches!(config.queue_spec().unwrap(), QueueSpec::Sqs(s) if s.standard == url));
        let error = from(&[("BITCONN_QUEUE", "sqs:nope")])
            .unwrap()
            .queue_spec()
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("BITCONN_QUEUE") && error.contains("queue URL"),
            "{error}"
        );
    }

    #[test]
    fn the_deliveries_table_follows_the_store_unless_named() {
        assert_eq!(
            from(&[]).unwrap().deliveries_table().unwrap().as_deref(),
            Some("bitconn-deliveries")
        );
        let named = from(&[("BITCONN_DELIVERIES_TABLE", "attempts")]).unwrap();
        assert_eq!(named.deliveries_table().unwrap().as_deref(), Some("attempts"));
        let local = from(&[("BITCONN_STORE", "memory:")]).unwrap();
        assert_eq!(local.deliveries_table().unwrap(), None);
    }

    #[test]
    fn log_table_override() {
        let config = from(&[("BITCONN_EXECUTION_LOG_TABLE", "audit")]).unwrap();
        assert_eq!(
            config.store_spec().unwrap(),
            StoreSpec::DynamoDb {
                webhooks_table: "bitconn-webhooks".into(),
                log_table: "audit".into()
            }
        );
        assert!(
            from(&[("BITCONN_STORE", "memory:"), ("BITCONN_EXECUTION_LOG_TABLE", "x")])
                .unwrap()
                .store_spec()
                .is_err()
        );
    }

    #[test]
    fn idempotency_table_override() {
        assert_eq!(from(&[]).unwrap().store_options().idempotency_table, None);
        let config = from(&[("BITCONN_IDEMPOTENCY_TABLE", "keys")]).unwrap();
        assert_eq!(config.store_options().idempotency_table.as_deref(), Some("keys"));
    }

    #[test]
    fn the_seal_key_is_read_and_checked() {
        assert_eq!(from(&[]).unwrap().store_options().seal, None);
        let config = from(&[("BITCONN_SEAL", "kms:alias/bitconn-credentials")]).unwrap();
        assert_eq!(
            config.store_options().seal,
            Some(SealSpec::Kms("alias/bitconn-credentials".into()))
        );
        let error = from(&[("BITCONN_SEAL", "plaintext")]).unwrap_err().to_string();
        assert!(
            error.contains("BITCONN_SEAL") && error.contains("plaintext"),
            "{error}"
        );
    }

    #[test]
    fn the_tls_roots_are_read_and_checked() {
        assert_eq!(from(&[]).unwrap().tls_roots, RootSource::System);
        assert_eq!(
            from(&[("BITCONN_TLS_ROOTS", "webpki")]).unwrap().tls_roots,
            RootSource::Compiled
        );
        let error = from(&[("BITCONN_TLS_ROOTS", "mozilla")]).unwrap_err().to_string();
        assert!(
            error.contains("BITCONN_TLS_ROOTS") && error.contains("mozilla"),
            "{error}"
        );
    }

    #[test]
    fn bad_values_are_named() {
        let error = from(&[("BITCONN_ODOO_TIMEOUT", "soon")]).unwrap_err().to_string();
        assert!(
            error.contains("BITCONN_ODOO_TIMEOUT") && error.contains("soon"),
            "{error}"
        );
        assert!(from(&[("BITCONN_MAX_BODY_BYTES", "0")]).is_err());
        for name in ["BITCONN_ODOO_TIMEOUT", "BITCONN_ODOO_CONNECT_TIMEOUT"] {
            let error = from(&[(name, "0s")]).unwrap_err().to_string();
            assert!(
                error.contains(name) && error.contains("longer than zero"),
                "{error}"
            );
        }
        assert_eq!(
            from(&[("BITCONN_SCHEMA_CACHE_TTL", "0s")])
                .unwrap()
                .schema_cache_ttl,
            Some(Duration::ZERO),
            "a zero cache TTL only turns the cache off"
        );
    }
}
