//! `bitconn webhook …`: create, list, show, update, rotate the secret of, enable, disable and delete webhooks.

use anyhow::{Context as _, bail};
use bitconn::config::{
    Callable, ModelAccess, ModelName, NewWebhook, OdooConnection, Permissions, WebhookConfig,
};
use bitconn::store::ConfigStore;
use clap::{Args, Subcommand};
use serde_json::json;
use time::OffsetDateTime;

use crate::output::{WebhookView, models_text, print_json, webhook_url, yes_no};
use crate::printable::printable;
use crate::units::{format_time, parse_callable, parse_duration, parse_model};
use crate::webhook_common::{PublicUrl, check_odoo_url, fetch, parse_id, require, show};
use crate::webhook_update::UpdateArgs;
use crate::{Global, stores};

#[derive(Subcommand)]
pub enum WebhookCommand {
    /// Create a webhook and print its URL and secret (the secret is shown only this once).
    Create(CreateArgs),
    /// List webhooks.
    List(PublicUrl),
    /// Show one webhook.
    Show(IdArgs),
    /// Change a webhook's settings.
    Update(UpdateArgs),
    /// Replace the secret, keeping the URL; `--grace 10m` keeps the old one valid meanwhile.
    RotateSecret(RotateArgs),
    /// Accept calls again.
    Enable(IdArgs),
    /// Refuse calls (404) without deleting the webhook.
    Disable(IdArgs),
    /// Delete a webhook.
    Delete(IdArgs),
    /// The former place of `bitconn outbound …`, kept so existing scripts work.
    #[command(subcommand, hide = true)]
    Outbound(crate::outbound::OutboundCommand),
}

#[derive(Args)]
pub struct IdArgs {
    pub id: String,
    #[command(flatten)]
    pub public_url: PublicUrl,
}

#[derive(Args)]
#[command(group = clap::ArgGroup::new("model_choice").required(true).args(["models", "all_models"]))]
pub struct CreateArgs {
    #[arg(long)]
    name: String,
    /// Odoo base URL, e.g. https://odoo.example.com
    #[arg(long)]
    odoo_url: String,
    #[arg(long)]
    odoo_db: String,
    /// Login of the Odoo user the webhook's calls run as.
    #[arg(long)]
    odoo_login: String,
    /// That user's Odoo API key (prefer the environment variable: it stays out of shell history).
    #[arg(long, env = "BITCONN_ODOO_API_KEY", hide_env_values = true)]
    odoo_api_key: String,
    /// Comma-separated models the webhook may touch, e.g. res.partner,sale.order
    #[arg(long, value_delimiter = ',', value_parser = parse_model)]
    models: Vec<ModelName>,
    /// Allow every model the Odoo user can access.
    #[arg(long)]
    all_models: bool,
    /// Comma-separated models calls may only read (searches, nested specs, dotted paths, domains), e.g. res.country
    #[arg(long, value_delimiter = ',', value_parser = parse_model)]
    read_models: Vec<ModelName>,
    /// Comma-separated business methods `call` may run, e.g. sale.order:action_confirm,*:message_post
    #[arg(long, value_delimiter = ',', value_parser = parse_callable)]
    allow_call: Vec<Callable>,
    #[arg(long)]
    can_unlink: bool,
    #[arg(long)]
    no_create: bool,
    #[arg(long)]
    no_write: bool,
    #[command(flatten)]
    public_url: PublicUrl,
}

#[derive(Args)]
pub struct RotateArgs {
    id: String,
    /// How long the old secret keeps working, e.g. 10m (default: it stops at once).
    #[arg(long, value_parser = parse_duration)]
    grace: Option<time::Duration>,
    #[command(flatten)]
    public_url: PublicUrl,
}

pub async fn run(global: &Global, command: WebhookCommand) -> anyhow::Result<()> {
    if let WebhookCommand::Outbound(command) = command {
        return crate::outbound::run(global, command).await;
    }
    let store = stores::open(global).await?.config;
    match command {
        WebhookCommand::Create(args) => create(global, store.as_ref(), args).await,
        WebhookCommand::List(public_url) => list(global, store.as_ref(), &public_url.value).await,
        WebhookCommand::Show(args) => {
            let config = fetch(store.as_ref(), &args.id).await?;
            show(global, &config, &args.public_url.value)
        }
        WebhookCommand::Update(args) => crate::webhook_update::run(global, store.as_ref(), args).await,
        WebhookCommand::RotateSecret(args) => rotate(global, store.as_ref(), args).await,
        WebhookCommand::Enable(args) => set_enabled(global, store.as_ref(), args, true).await,
        WebhookCommand::Disable(args) => set_enabled(global, store.as_ref(), args, false).await,
        WebhookCommand::Delete(args) => delete(global, store.as_ref(), args).await,
        WebhookCommand::Outbound(_) => Ok(()),
    }
}

async fn create(global: &Global, store: &dyn ConfigStore, args: CreateArgs) -> anyhow::Result<()> {
    check_odoo_url(&args.odoo_url)?;
    require("--name", &args.name)?;
    require("--odoo-db", &args.odoo_db)?;
    require("--odoo-login", &args.odoo_login)?;
    require("--odoo-api-key", &args.odoo_api_key)?;
    let models = if args.all_models {
        ModelAccess::All
    } else {
        ModelAccess::Only(args.models.into_iter().collect())
    };
    let new = NewWebhook {
        name: args.name,
        odoo: OdooConnection {
            url: args.odoo_url.trim_end_matches('/').to_owned(),
            db: args.odoo_db,
            login: args.odoo_login,
            api_key: args.odoo_api_key,
        },
        models,
        permissions: Permissions {
            can_create: !args.no_create,
            can_write: !args.no_write,
            can_unlink: args.can_unlink,
        },
    };
    let (mut config, secret) = WebhookConfig::create(new, OffsetDateTime::now_utc());
    config.read_models = args.read_models.into_iter().collect();
    config.callable = args.allow_call.into_iter().collect();
    store.create(&config).await.context("cannot store the webhook")?;
    let url = webhook_url(&args.public_url.value, &config.id);
    if global.json {
        return print_json(&json!({"id": config.id.to_string(), "url": url, "secret": secret.expose()}));
    }
    println!("created webhook {} ({})", config.name, config.id);
    println!("  url:    {url}");
    println!("  secret: {}", secret.expose());
    println!("The secret is shown only now; callers send it as `Authorization: Bearer <secret>`.");
    Ok(())
}

async fn list(global: &Global, store: &dyn ConfigStore, public_url: &str) -> anyhow::Result<()> {
    let mut configs = store.list().await?;
    configs.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    let views: Vec<WebhookView> = configs.iter().map(|c| WebhookView::of(c, public_url)).collect();
    if global.json {
        return print_json(&views);
    }
    if views.is_empty() {
        println!("no webhooks; create one with `bitconn webhook create`");
    }
    for view in views {
        println!(
            "{}  {:<8}  {}  [{}]  {}@{}/{}",
            view.id,
            if view.enabled { "enabled" } else { "disabled" },
            printable(&view.name),
            models_text(&view.models),
            printable(&view.odoo.login),
            printable(&view.odoo.url),
            printable(&view.odoo.db)
        );
    }
    Ok(())
}

async fn rotate(global: &Global, store: &dyn ConfigStore, args: RotateArgs) -> anyhow::Result<()> {
    let mut config = fetch(store, &args.id).await?;
    let secret = config.rotate_secret(args.grace, OffsetDateTime::now_utc());
    let stored = store
        .update(&config)
        .await
        .context("cannot store the new secret")?;
    let url = webhook_url(&args.public_url.value, &stored.id);
    let old_until = stored
        .secret
        .previous
        .as_ref()
        .map(|p| format_time(p.valid_until));
    if global.json {
        return print_json(&json!({
            "id": stored.id.to_string(), "url": url, "secret": secret.expose(),
            "previous_secret_valid_until": old_until,
        }));
    }
    println!("new secret for {} ({})", stored.name, stored.id);
    println!("  url:    {url}");
    println!("  secret: {}", secret.expose());
    match old_until {
        Some(until) => println!("The old secret keeps working until {until}."),
        None => println!("The old secret no longer works."),
    }
    Ok(())
}

async fn set_enabled(
    global: &Global,
    store: &dyn ConfigStore,
    args: IdArgs,
    enabled: bool,
) -> anyhow::Result<()> {
    let mut config = fetch(store, &args.id).await?;
    config.enabled = enabled;
    let stored = store.update(&config).await.context("cannot store the change")?;
    if global.json {
        return print_json(&json!({"id": stored.id.to_string(), "enabled": stored.enabled}));
    }
    println!(
        "webhook {} ({}) enabled: {}",
        stored.name,
        stored.id,
        yes_no(stored.enabled)
    );
    Ok(())
}

async fn delete(global: &Global, store: &dyn ConfigStore, args: IdArgs) -> anyhow::Result<()> {
    let id = parse_id(&args.id)?;
    if !store.delete(&id).await? {
        bail!("webhook {id} not found");
    }
    if global.json {
        return print_json(&json!({"id": id.to_string(), "deleted": true}));
    }
    println!("deleted webhook {id}");
    Ok(())
}
