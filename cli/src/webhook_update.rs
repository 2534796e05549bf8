//! `bitconn webhook update <id> …`: changes only what is given, under optimistic locking.

use anyhow::{Context as _, bail};
use bitconn::config::{Callable, HttpVerb, ModelName, WebhookConfig};
use bitconn::store::ConfigStore;
use clap::Args;

use crate::Global;
use crate::units::{
    ModelFields, parse_model, parse_model_fields, parse_optional_callable, parse_optional_model,
};
use crate::webhook_common::{PublicUrl, check_odoo_url, fetch, model_choice, require, show};

#[derive(Args)]
#[command(group = clap::ArgGroup::new("model_choice").multiple(false).args(["models", "all_models"]))]
pub struct UpdateArgs {
    id: String,
    #[arg(long)]
    name: Option<String>,
    /// Replace the allowed models with this comma-separated list.
    #[arg(long, value_delimiter = ',', value_parser = parse_model)]
    models: Vec<ModelName>,
    /// Allow every model the Odoo user can access.
    #[arg(long)]
    all_models: bool,
    /// Replace the read-only models with this comma-separated list (an empty value clears it).
    #[arg(long, value_delimiter = ',', value_parser = parse_optional_model, num_args = 0..=1, default_missing_value = "")]
    read_models: Option<Vec<Option<ModelName>>>,
    /// Replace the business methods `call` may run, e.g. sale.order:action_confirm (an empty value clears it).
    #[arg(long, value_delimiter = ',', value_parser = parse_optional_callable, num_args = 0..=1, default_missing_value = "")]
    allow_call: Option<Vec<Option<Callable>>>,
    #[arg(long, value_name = "true|false")]
    can_create: Option<bool>,
    #[arg(long, value_name = "true|false")]
    can_write: Option<bool>,
    #[arg(long, value_name = "true|false")]
    can_unlink: Option<bool>,
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    default_search_limit: Option<u32>,
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_search_limit: Option<u32>,
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_records_per_change: Option<u32>,
    /// Hide fields of a model, e.g. res.partner:email,phone (repeatable; replaces that model's deny list).
    #[arg(long, value_name = "MODEL:FIELDS", value_parser = parse_model_fields)]
    deny_fields: Vec<ModelFields>,
    /// Expose only these fields of a model (repeatable; replaces that model's allow list).
    #[arg(long, value_name = "MODEL:FIELDS", value_parser = parse_model_fields)]
    allow_fields: Vec<ModelFields>,
    /// Remove every field rule of a model (repeatable).
    #[arg(long, value_name = "MODEL", value_parser = parse_model)]
    clear_field_rules: Vec<ModelName>,
    /// HTTP verbs accepted on the webhook URL, e.g. POST or POST,PUT.
    #[arg(long, value_delimiter = ',', value_parser = parse_verb)]
    verbs: Vec<HttpVerb>,
    #[arg(long)]
    odoo_url: Option<String>,
    #[arg(long)]
    odoo_db: Option<String>,
    #[arg(long)]
    odoo_login: Option<String>,
    /// Replace the Odoo API key (or set BITCONN_ODOO_API_KEY and pass `--odoo-api-key-from-env`).
    #[arg(long)]
    odoo_api_key: Option<String>,
    /// Take the new Odoo API key from BITCONN_ODOO_API_KEY.
    #[arg(long, conflicts_with = "odoo_api_key")]
    odoo_api_key_from_env: bool,
    #[command(flatten)]
    public_url: PublicUrl,
}

fn parse_verb(text: &str) -> Result<HttpVerb, String> {
    HttpVerb::parse(text.trim())
        .ok_or_else(|| format!("`{text}` is not one of GET, POST, PUT, PATCH, DELETE"))
}

pub async fn run(global: &Global, store: &dyn ConfigStore, args: UpdateArgs) -> anyhow::Result<()> {
    let mut config = fetch(store, &args.id).await?;
    let public_url = args.public_url.value.clone();
    apply(&mut config, args)?;
    let stored = store.update(&config).await.context("cannot store the change")?;
    show(global, &stored, &public_url)
}

fn apply(config: &mut WebhookConfig, args: UpdateArgs) -> anyhow::Result<()> {
    if let Some(name) = args.name {
        require("--name", &name)?;
        config.name = name;
    }
    if let Some(models) = model_choice(args.models, args.all_models) {
        config.models = models;
    }
    if let Some(read_models) = args.read_models {
        config.read_models = read_models.into_iter().flatten().collect();
    }
    if let Some(callable) = args.allow_call {
        config.callable = callable.into_iter().flatten().collect();
    }
    let p = &mut config.permissions;
    p.can_create = args.can_create.unwrap_or(p.can_create);
    p.can_write = args.can_write.unwrap_or(p.can_write);
    p.can_unlink = args.can_unlink.unwrap_or(p.can_unlink);
    let l = &mut config.limits;
    l.default_search_limit = args.default_search_limit.unwrap_or(l.default_search_limit);
    l.max_search_limit = args.max_search_limit.unwrap_or(l.max_search_limit);
    l.max_records_per_change = args.max_records_per_change.unwrap_or(l.max_records_per_change);
    if l.default_search_limit > l.max_search_limit {
        bail!(
            "the default search limit ({}) cannot exceed the maximum ({})",
            l.default_search_limit,
            l.max_search_limit
        );
    }
    for model in args.clear_field_rules {
        config.field_rules.remove(&model);
    }
    for ModelFields { model, fields } in args.deny_fields {
        config.field_rules.entry(model).or_default().deny = fields;
    }
    for ModelFields { model, fields } in args.allow_fields {
        config.field_rules.entry(model).or_default().allow = Some(fields);
    }
    config
        .field_rules
        .retain(|_, rule| rule.allow.is_some() || !rule.deny.is_empty());
    if !args.verbs.is_empty() {
        let mut verbs = args.verbs;
        verbs.sort();
        verbs.dedup();
        config.allowed_verbs = verbs;
    }
    let odoo_before = config.odoo.clone();
    if let Some(url) = args.odoo_url {
        check_odoo_url(&url)?;
        config.odoo.url = url.trim_end_matches('/').to_owned();
    }
    if let Some(db) = args.odoo_db {
        require("--odoo-db", &db)?;
        config.odoo.db = db;
    }
    if let Some(login) = args.odoo_login {
        require("--odoo-login", &login)?;
        config.odoo.login = login;
    }
    if let Some(key) = args.odoo_api_key {
        require("--odoo-api-key", &key)?;
        config.odoo.api_key = key;
    } else if args.odoo_api_key_from_env {
        let key = std::env::var("BITCONN_ODOO_API_KEY")
            .context("--odoo-api-key-from-env: BITCONN_ODOO_API_KEY is not set")?;
        require("BITCONN_ODOO_API_KEY", &key)?;
        config.odoo.api_key = key;
    }
    if config.odoo != odoo_before {
        // Pointed at another Odoo or user: no longer the demo webhook, so demo mode leaves it alone.
        config.demo = false;
    }
    Ok(())
}
