//! Opening the store named by `--store`, with errors an operator can act on.

use anyhow::Context as _;
use bitconn::execution_log::ExecutionLog;
use bitconn::store::{ConfigStore, StoreSpec};
use std::sync::Arc;

pub struct Opened {
    pub config: Arc<dyn ConfigStore>,
    pub log: Arc<dyn ExecutionLog>,
}

pub fn parse_spec(spec: &str) -> anyhow::Result<StoreSpec> {
    spec.parse::<StoreSpec>()
        .with_context(|| format!("invalid --store `{spec}`"))
}

pub async fn open(spec: &str) -> anyhow::Result<Opened> {
    let parsed = parse_spec(spec)?;
    let stores = bitconn::store::open_stores(&parsed)
        .await
        .with_context(|| format!("cannot open store `{spec}`"))?;
    Ok(Opened {
        config: stores.config,
        log: stores.log,
    })
}

pub async fn init(spec: &str) -> anyhow::Result<()> {
    let parsed = parse_spec(spec)?;
    bitconn::store::init_stores(&parsed)
        .await
        .with_context(|| format!("cannot initialise store `{spec}`"))?;
    Ok(())
}
