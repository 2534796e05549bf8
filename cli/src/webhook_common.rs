//! What the webhook commands share (`webhook` and `webhook update`, and the outbound and delivery commands):
//! looking a webhook up by id, checks of operator input, showing a webhook.

use anyhow::bail;
use bitconn::config::{ModelAccess, ModelName, WebhookConfig, WebhookId};
use bitconn::store::ConfigStore;
use clap::Args;
use std::collections::BTreeSet;

use crate::Global;
use crate::output::{DEFAULT_PUBLIC_URL, WebhookView, print_json};

#[derive(Args)]
pub struct PublicUrl {
    /// Base URL callers reach the gateway at; used to print webhook URLs.
    #[arg(long = "public-url", env = "BITCONN_PUBLIC_URL", default_value = DEFAULT_PUBLIC_URL)]
    pub value: String,
}

pub fn parse_id(text: &str) -> anyhow::Result<WebhookId> {
    text.parse()
        .map_err(|e| anyhow::anyhow!("invalid webhook id `{text}`: {e}"))
}

pub async fn fetch(store: &dyn ConfigStore, id: &str) -> anyhow::Result<WebhookConfig> {
    let id = parse_id(id)?;
    match store.get(&id).await? {
        Some(config) => Ok(config),
        None => bail!("webhook {id} not found"),
    }
}

pub fn check_odoo_url(url: &str) -> anyhow::Result<()> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.starts_with('/') => Ok(()),
        _ => bail!("--odoo-url must be an http:// or https:// URL, got `{url}`"),
    }
}

/// Refuses a blank value, which would otherwise be stored and only fail later (an Odoo login with no
/// database, user or key fails on every call).
pub fn require(option: &str, value: &str) -> anyhow::Result<()> {
    if value.trim().is_empty() {
        bail!("{option} must not be empty");
    }
    Ok(())
}

pub fn show(global: &Global, config: &WebhookConfig, public_url: &str) -> anyhow::Result<()> {
    let view = WebhookView::of(config, public_url);
    if global.json {
        return print_json(&view);
    }
    view.print_text();
    Ok(())
}

/// The set of models in `--models`, or `All` with `--all-models`; `None` when neither was given.
pub fn model_choice(models: Vec<ModelName>, all: bool) -> Option<ModelAccess> {
    if all {
        Some(ModelAccess::All)
    } else if models.is_empty() {
        None
    } else {
        Some(ModelAccess::Only(models.into_iter().collect::<BTreeSet<_>>()))
    }
}
