//! Opening the stores a `StoreSpec` names, and creating their tables (`bitconn store init`).

use std::sync::Arc;

use super::{
    CachedConfigStore, ConfigStore, DEFAULT_CONFIG_CACHE_TTL, MemoryConfigStore, StoreError, StoreSpec,
};
use crate::execution_log::{BackgroundLog, DEFAULT_RETENTION, ExecutionLog, MemoryExecutionLog};
use crate::idempotency::{IdempotencyStore, MemoryIdempotencyStore};
use crate::seal::{LocalKey, SealSpec, Sealer};

#[cfg(feature = "kms")]
mod aws_http;

/// The ports a host hands to the gateway.
#[derive(Clone)]
pub struct Stores {
    pub config: Arc<dyn ConfigStore>,
    pub log: Arc<dyn ExecutionLog>,
    pub idempotency: Arc<dyn IdempotencyStore>,
}

/// How stores are opened; `Default` is what the CLI and the functions use.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// Execution log entries older than this are neither returned nor kept.
    pub log_retention: time::Duration,
    /// How long the DynamoDB config store caches reads (`Duration::ZERO`: no cache). The SQLite store keeps
    /// decoded configs only while the database is unchanged, and memory ones need no cache.
    pub config_cache_ttl: std::time::Duration,
    /// Write the execution log from a background task (`BackgroundLog`) so the request path only queues.
    pub background_log: bool,
    /// The key that seals stored credentials (`BITCONN_SEAL`); `None` lets the store choose: the key file
    /// beside an SQLite file, a per-process key for in-memory stores, nothing for DynamoDB (writes then fail
    /// with the reason, reads of clear values still work).
    pub seal: Option<SealSpec>,
    /// The AWS configuration for `dynamodb:` stores; `None` loads the SDK defaults (`AWS_REGION`,
    /// `AWS_ENDPOINT_URL`, credentials chain…). Also used by `kms:` sealing.
    #[cfg(any(feature = "dynamodb", feature = "kms"))]
    pub sdk_config: Option<aws_config::SdkConfig>,
    /// The DynamoDB table of `Idempotency-Key`s (`BITCONN_IDEMPOTENCY_TABLE`); `None` derives it from the
    /// webhooks table (`StoreSpec::default_idempotency_table`). Other stores keep keys beside the webhooks.
    pub idempotency_table: Option<String>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            log_retention: DEFAULT_RETENTION,
            config_cache_ttl: DEFAULT_CONFIG_CACHE_TTL,
            background_log: true,
            seal: None,
            #[cfg(any(feature = "dynamodb", feature = "kms"))]
            sdk_config: None,
            idempotency_table: None,
        }
    }
}

/// Opens the config store and execution log of `spec` with the default options.
pub async fn open_stores(spec: &StoreSpec) -> Result<Stores, StoreError> {
    open_stores_with(spec, &StoreOptions::default()).await
}

pub async fn open_stores_with(spec: &StoreSpec, options: &StoreOptions) -> Result<Stores, StoreError> {
    let (config, log, idempotency) = match spec {
        StoreSpec::Memory => {
            // Nothing is at rest, so nothing is sealed; `sealer` is still built so a bad `seal` option fails here.
            sealer(options, None, "").await?;
            let log = Arc::new(MemoryExecutionLog::with_retention(options.log_retention));
            return Ok(Stores {
                config: Arc::new(MemoryConfigStore::new()),
                log,
                idempotency: Arc::new(MemoryIdempotencyStore::new()),
            });
        }
        StoreSpec::Sqlite(location) => open_sqlite(location, options).await?,
        StoreSpec::DynamoDb {
            webhooks_table,
            log_table,
        } => {
            let (config, log, idempotency) = open_dynamodb(webhooks_table, log_table, options).await?;
            let config: Arc<dyn ConfigStore> = if options.config_cache_ttl.is_zero() {
                config
            } else {
                Arc::new(CachedConfigStore::new(config, options.config_cache_ttl))
            };
            (config, log, idempotency)
        }
    };
    let log: Arc<dyn ExecutionLog> = if options.background_log {
        Arc::new(BackgroundLog::spawn(log))
    } else {
        log
    };
    Ok(Stores {
        config,
        log,
        idempotency,
    })
}

/// Creates what `spec` needs (tables, schema); succeeds when it already exists.
pub async fn init_stores(spec: &StoreSpec) -> Result<(), StoreError> {
    init_stores_with(spec, &StoreOptions::default()).await
}

pub async fn init_stores_with(spec: &StoreSpec, options: &StoreOptions) -> Result<(), StoreError> {
    match spec {
        StoreSpec::Memory => Ok(()),
        StoreSpec::Sqlite(location) => open_sqlite(location, options).await.map(drop),
        StoreSpec::DynamoDb {
            webhooks_table,
            log_table,
        } => init_dynamodb(webhooks_table, log_table, options).await,
    }
}

type Ports = (
    Arc<dyn ConfigStore>,
    Arc<dyn ExecutionLog>,
    Arc<dyn IdempotencyStore>,
);

/// The sealer `options.seal` names, or the store's default (`default_key_file` for an SQLite file).
async fn sealer(
    options: &StoreOptions,
    default_key_file: Option<&std::path::Path>,
    unconfigured: &str,
) -> Result<Sealer, StoreError> {
    let local = |path: &std::path::Path| -> Result<Sealer, StoreError> {
        Ok(Sealer::with_key(Arc::new(LocalKey::load_or_create(path)?)))
    };
    match &options.seal {
        Some(SealSpec::None) => Ok(Sealer::no_encryption()),
        Some(SealSpec::KeyFile(path)) => local(path),
        Some(SealSpec::Kms(key)) => kms_sealer(options, key).await,
        None => match default_key_file {
            Some(path) => local(path),
            None if unconfigured.is_empty() => Ok(Sealer::with_key(Arc::new(LocalKey::ephemeral()))),
            None => Ok(Sealer::unconfigured(unconfigured)),
        },
    }
}

#[cfg(feature = "kms")]
async fn kms_sealer(options: &StoreOptions, key: &str) -> Result<Sealer, StoreError> {
    let config = sdk_config(options).await;
    Ok(Sealer::with_key(Arc::new(crate::seal::KmsKey::from_sdk_config(
        &config, key,
    ))))
}

#[cfg(not(feature = "kms"))]
async fn kms_sealer(_: &StoreOptions, _: &str) -> Result<Sealer, StoreError> {
    Err(StoreError::Unsupported {
        kind: "kms",
        feature: "kms",
    })
}

#[cfg(feature = "sqlite")]
async fn open_sqlite(location: &super::SqliteLocation, options: &StoreOptions) -> Result<Ports, StoreError> {
    use crate::execution_log::SqliteExecutionLog;
    let key_file = match location {
        super::SqliteLocation::File(path) => Some(crate::seal::key_file_for(path)),
        super::SqliteLocation::InMemory => None,
    };
    let db = super::SqliteDb::open(location).await?;
    let sealer = sealer(options, key_file.as_deref(), "").await?;
    let log = SqliteExecutionLog::with_retention(db.clone(), options.log_retention);
    let idempotency = crate::idempotency::SqliteIdempotencyStore::open(db.clone()).await?;
    Ok((
        Arc::new(super::SqliteConfigStore::new(db, sealer)),
        Arc::new(log),
        Arc::new(idempotency),
    ))
}

#[cfg(not(feature = "sqlite"))]
async fn open_sqlite(_: &super::SqliteLocation, _: &StoreOptions) -> Result<Ports, StoreError> {
    Err(StoreError::Unsupported {
        kind: "sqlite",
        feature: "sqlite",
    })
}

/// The AWS configuration the stores use, for other clients of the same process (SQS): loaded the same way.
#[cfg(feature = "kms")]
pub async fn aws_sdk_config(options: &StoreOptions) -> aws_config::SdkConfig {
    sdk_config(options).await
}

/// The HTTP client of every AWS SDK client in the process (reqwest on the shared TLS configuration), for code
/// that builds an SDK configuration of its own: the SDK is built without a client of its own.
#[cfg(feature = "kms")]
pub fn aws_http_client() -> Result<aws_smithy_runtime_api::client::http::SharedHttpClient, String> {
    aws_http::ReqwestHttpClient::new().map(aws_smithy_runtime_api::client::http::SharedHttpClient::new)
}

/// The SDK defaults, with every AWS client's HTTP going through one reqwest client on the process's shared
/// TLS configuration: building clients then reads no certificate and builds no connector.
#[cfg(feature = "kms")]
async fn sdk_config(options: &StoreOptions) -> aws_config::SdkConfig {
    if let Some(config) = &options.sdk_config {
        return config.clone();
    }
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if aws_env_complete(|name| std::env::var(name).ok()) {
        loader = loader
            .credentials_provider(aws_config::environment::EnvironmentVariableCredentialsProvider::new())
            .region(aws_config::environment::EnvironmentVariableRegionProvider::new());
    }
    match aws_http::ReqwestHttpClient::new() {
        Ok(http) => loader.http_client(http).load().await,
        Err(error) => {
            // The SDK is built without an HTTP client of its own: its calls will fail and say so.
            tracing::error!(%error, "cannot build the shared AWS HTTP client");
            loader.load().await
        }
    }
}

/// Whether the environment alone names the AWS credentials and region, as in Lambda (the runtime sets
/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` and `AWS_REGION`). The SDK's default chains
/// would pick these same values first, but building those chains builds an STS client (web identity), ECS and
/// IMDS providers that are never asked: about 0.3 ms of a 2.4 ms Lambda cold start. Otherwise the chains are used.
#[cfg(feature = "kms")]
fn aws_env_complete(lookup: impl Fn(&str) -> Option<String>) -> bool {
    let set = |name: &str| lookup(name).is_some_and(|value| !value.trim().is_empty());
    set("AWS_ACCESS_KEY_ID")
        && set("AWS_SECRET_ACCESS_KEY")
        && (set("AWS_REGION") || set("AWS_DEFAULT_REGION"))
}

#[cfg(feature = "dynamodb")]
async fn open_dynamodb(webhooks: &str, log: &str, options: &StoreOptions) -> Result<Ports, StoreError> {
    use crate::execution_log::DynamoExecutionLog;
    // Loaded once for DynamoDB and KMS alike.
    let sdk = sdk_config(options).await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let options = &StoreOptions {
        sdk_config: Some(sdk),
        ..options.clone()
    };
    let sealer = sealer(
        options,
        None,
        "a DynamoDB store seals credentials with AWS KMS: set BITCONN_SEAL=kms:<key id, ARN or alias>",
    )
    .await?;
    let config = super::DynamoConfigStore::new(client.clone(), webhooks, sealer);
    let idempotency =
        crate::idempotency::DynamoIdempotencyStore::new(client.clone(), idempotency_table(webhooks, options));
    let log = DynamoExecutionLog::with_retention(client, log, options.log_retention);
    Ok((Arc::new(config), Arc::new(log), Arc::new(idempotency)))
}

#[cfg(feature = "dynamodb")]
async fn init_dynamodb(webhooks: &str, log: &str, options: &StoreOptions) -> Result<(), StoreError> {
    let client = aws_sdk_dynamodb::Client::new(&sdk_config(options).await);
    super::create_webhooks_table(&client, webhooks).await?;
    super::create_log_table(&client, log).await?;
    crate::outbound::deliveries::create_deliveries_table(
        &client,
        &StoreSpec::default_deliveries_table(webhooks),
    )
    .await?;
    crate::idempotency::create_idempotency_table(&client, &idempotency_table(webhooks, options)).await
}

/// The outbound delivery log that goes with a DynamoDB webhooks table (`<prefix>-deliveries`).
#[cfg(feature = "dynamodb")]
pub async fn open_dynamodb_deliveries(
    webhooks_table: &str,
    options: &StoreOptions,
) -> crate::outbound::deliveries::DynamoDeliveryLog {
    let client = aws_sdk_dynamodb::Client::new(&sdk_config(options).await);
    let table = StoreSpec::default_deliveries_table(webhooks_table);
    crate::outbound::deliveries::DynamoDeliveryLog::with_retention(client, table, options.log_retention)
}

/// The idempotency table `options` names, else the one derived from the webhooks table.
#[cfg(feature = "dynamodb")]
fn idempotency_table(webhooks: &str, options: &StoreOptions) -> String {
    options
        .idempotency_table
        .clone()
        .unwrap_or_else(|| StoreSpec::default_idempotency_table(webhooks))
}

#[cfg(not(feature = "dynamodb"))]
async fn open_dynamodb(_: &str, _: &str, _: &StoreOptions) -> Result<Ports, StoreError> {
    Err(StoreError::Unsupported {
        kind: "dynamodb",
        feature: "dynamodb",
    })
}

#[cfg(not(feature = "dynamodb"))]
async fn init_dynamodb(_: &str, _: &str, _: &StoreOptions) -> Result<(), StoreError> {
    Err(StoreError::Unsupported {
        kind: "dynamodb",
        feature: "dynamodb",
    })
}

#[cfg(all(test, feature = "kms"))]
mod tests {
    use super::aws_env_complete;

    fn complete(pairs: &[(&str, &str)]) -> bool {
        aws_env_complete(|name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn only_full_environment_credentials_and_a_region_skip_the_default_chains() {
        let lambda = [
            ("AWS_ACCESS_KEY_ID", "AKIA"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "token"),
            ("AWS_REGION", "eu-west-1"),
        ];
        assert!(complete(&lambda));
        assert!(complete(&[
            ("AWS_ACCESS_KEY_ID", "AKIA"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
        ]));
        // A profile, SSO or web identity setup keeps the SDK's chains.
        assert!(!complete(&[]));
        assert!(!complete(&[("AWS_PROFILE", "dev"), ("AWS_REGION", "eu-west-1")]));
        assert!(!complete(&[
            ("AWS_ACCESS_KEY_ID", "AKIA"),
            ("AWS_REGION", "eu-west-1")
        ]));
        assert!(!complete(&[
            ("AWS_ACCESS_KEY_ID", "AKIA"),
            ("AWS_SECRET_ACCESS_KEY", "secret")
        ]));
        assert!(!complete(&[
            ("AWS_ACCESS_KEY_ID", " "),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_REGION", "eu-west-1"),
        ]));
    }
}
