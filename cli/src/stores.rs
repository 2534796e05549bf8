//! Opening the store named by `--store`, with errors an operator can act on.

use anyhow::Context as _;
use bitconn::execution_log::ExecutionLog;
use bitconn::idempotency::IdempotencyStore;
use bitconn::seal::SealSpec;
use bitconn::store::{ConfigStore, StoreOptions, StoreSpec};
use std::sync::Arc;

use crate::Global;

pub struct Opened {
    pub config: Arc<dyn ConfigStore>,
    pub log: Arc<dyn ExecutionLog>,
    pub idempotency: Arc<dyn IdempotencyStore>,
}

pub fn parse_spec(spec: &str) -> anyhow::Result<StoreSpec> {
    spec.parse::<StoreSpec>()
        .with_context(|| format!("invalid --store `{spec}`"))
}

/// The store options of `--seal` / `BITCONN_SEAL` (unset: the store's default key).
fn options(global: &Global) -> anyhow::Result<StoreOptions> {
    let seal = global
        .seal
        .as_deref()
        .map(|text| {
            text.parse::<SealSpec>()
                .with_context(|| format!("invalid --seal `{text}`"))
        })
        .transpose()?;
    Ok(StoreOptions {
        seal,
        ..StoreOptions::default()
    })
}

pub async fn open(global: &Global) -> anyhow::Result<Opened> {
    let spec = &global.store;
    let parsed = parse_spec(spec)?;
    let stores = bitconn::store::open_stores_with(&parsed, &options(global)?)
        .await
        .with_context(|| format!("cannot open store `{spec}`"))?;
    Ok(Opened {
        config: stores.config,
        log: stores.log,
        idempotency: stores.idempotency,
    })
}

pub async fn init(spec: &str) -> anyhow::Result<()> {
    let parsed = parse_spec(spec)?;
    bitconn::store::init_stores(&parsed)
        .await
        .with_context(|| format!("cannot initialise store `{spec}`"))?;
    Ok(())
}
