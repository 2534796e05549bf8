//! `bitconn outbound …`: a webhook's outbound target (URL, verb, headers, timeout, SSRF allow-list, order,
//! payload), switching it off and on, its signing secret, and a test delivery. Header values and secrets are
//! never printed back, except a new signing secret, once.

use anyhow::{Context as _, bail};
use bitconn::config::{HttpVerb, OutboundTarget, PayloadSpec, RetrySchedule, WebhookConfig};
use bitconn::store::ConfigStore;
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::output::{print_json, yes_no};
use crate::units::{parse_duration, parse_timeout};
use crate::webhook_common::fetch;
use crate::{Global, stores};

#[derive(Subcommand)]
pub enum OutboundCommand {
    /// Create or change the outbound target; settings not given are kept.
    Set(SetArgs),
    /// Show the outbound target (header names only, never their values or the signing secret).
    Show(OutboundId),
    /// Stop delivering: new triggers are refused (`outbound_disabled`), queued deliveries are skipped.
    Disable(OutboundId),
    /// Deliver again (also after a receiver answered `410 Gone`).
    Enable(OutboundId),
    /// Generate a new signing secret and print it once; `--grace 1h` keeps the old one signing meanwhile
    /// (both signatures are sent).
    #[command(alias = "rotate-secret")]
    RotateSigningSecret(RotateSigningArgs),
    /// Send one delivery now (signed, SSRF-guarded) and print the answer; recorded as a test delivery.
    Test(crate::outbound_test::TestArgs),
}

#[derive(Args)]
pub struct OutboundId {
    /// The webhook's id.
    id: String,
}

#[derive(Args)]
#[command(group = clap::ArgGroup::new("payload").multiple(false).args(["fields", "fields_json", "body", "template"]))]
pub struct SetArgs {
    id: String,
    /// Receiver URL; `{{ path }}` or `${path}` placeholders (percent-encoded) send one delivery per record.
    #[arg(long)]
    url: Option<String>,
    /// HTTP verb: POST (default), PUT, PATCH, or GET/DELETE (sent without a body).
    #[arg(long, value_parser = parse_verb)]
    verb: Option<HttpVerb>,
    /// A header sent with every delivery, `Name: value` (repeatable; replaces all headers; sealed at rest).
    #[arg(long, value_parser = parse_header)]
    header: Vec<(String, String)>,
    /// Remove every custom header.
    #[arg(long, conflicts_with = "header")]
    clear_headers: bool,
    /// Timeout of one delivery (default 15s).
    #[arg(long, value_parser = parse_timeout)]
    timeout: Option<std::time::Duration>,
    /// A CIDR the SSRF guard lets through, e.g. 10.1.0.0/16 (repeatable; replaces the list).
    #[arg(long)]
    allow_cidr: Vec<String>,
    /// Waits between attempts, e.g. 5s,5m,30m (replaces the default 5s,5m,30m,2h,5h,10h,10h).
    #[arg(long, value_delimiter = ',', value_parser = parse_duration)]
    retry: Vec<time::Duration>,
    /// Fields to send, comma-separated dotted names (`name,partner_id.name`); none sends only ids.
    #[arg(long, value_delimiter = ',', num_args = 0..)]
    fields: Option<Vec<String>>,
    /// Fields to send as a JSON spec, e.g. '["name", {"partner_id": ["name"]}]'.
    #[arg(long)]
    fields_json: Option<String>,
    /// A JSON file: an object with `fields` and static keys (placeholders filled from the first record).
    #[arg(long, value_name = "FILE")]
    body: Option<std::path::PathBuf>,
    /// A JSON template file; a one-item `records` list is filled per record.
    #[arg(long, value_name = "FILE")]
    template: Option<std::path::PathBuf>,
    #[arg(long, value_name = "true|false")]
    enabled: Option<bool>,
    /// Deliver in order: a failing delivery holds back the later ones (`--ordered false` turns it off).
    #[arg(long, value_name = "true|false", num_args = 0..=1, default_missing_value = "true")]
    ordered: Option<bool>,
}

#[derive(Args)]
pub struct RotateSigningArgs {
    id: String,
    /// How long the old secret keeps signing beside the new one, e.g. 1h (default: it stops at once).
    #[arg(long, value_parser = parse_duration)]
    grace: Option<time::Duration>,
}

fn parse_verb(text: &str) -> Result<HttpVerb, String> {
    HttpVerb::parse(text.trim())
        .ok_or_else(|| format!("`{text}` is not one of GET, POST, PUT, PATCH, DELETE"))
}

fn parse_header(text: &str) -> Result<(String, String), String> {
    let (name, value) = text.split_once(':').ok_or_else(|| {
        format!(
            "`{}…` is not `Name: value`",
            text.chars().take(20).collect::<String>()
        )
    })?;
    Ok((name.trim().to_owned(), value.trim().to_owned()))
}

pub async fn run(global: &Global, command: OutboundCommand) -> anyhow::Result<()> {
    let store = stores::open(global).await?.config;
    match command {
        OutboundCommand::Set(args) => set(global, store.as_ref(), args).await,
        OutboundCommand::Show(args) => {
            let config = fetch(store.as_ref(), &args.id).await?;
            show(global, &config)
        }
        OutboundCommand::Disable(args) => switch(global, store.as_ref(), &args.id, false).await,
        OutboundCommand::Enable(args) => switch(global, store.as_ref(), &args.id, true).await,
        OutboundCommand::RotateSigningSecret(args) => rotate(global, store.as_ref(), args).await,
        OutboundCommand::Test(args) => crate::outbound_test::run(global, args).await,
    }
}

async fn switch(global: &Global, store: &dyn ConfigStore, id: &str, enabled: bool) -> anyhow::Result<()> {
    let mut config = fetch(store, id).await?;
    let Some(target) = config.outbound.as_mut() else {
        bail!("this webhook has no outbound target yet: `bitconn outbound set {id} --url …`");
    };
    target.enabled = enabled;
    if enabled {
        target.disabled_reason = None;
    }
    let stored = store.update(&config).await.context("cannot store the change")?;
    show(global, &stored)
}

fn read_json(path: &std::path::Path) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

fn payload_of(args: &SetArgs) -> anyhow::Result<Option<PayloadSpec>> {
    if let Some(fields) = &args.fields {
        let fields = fields
            .iter()
            .filter(|f| !f.trim().is_empty())
            .map(|f| json!(f.trim()))
            .collect();
        return Ok(Some(PayloadSpec::Fields { fields }));
    }
    if let Some(text) = &args.fields_json {
        let Value::Array(fields) = serde_json::from_str(text).context("--fields-json is not JSON")? else {
            bail!("--fields-json must be a JSON list");
        };
        return Ok(Some(PayloadSpec::Fields { fields }));
    }
    if let Some(path) = &args.body {
        return Ok(Some(PayloadSpec::Body {
            body: read_json(path)?,
        }));
    }
    if let Some(path) = &args.template {
        return Ok(Some(PayloadSpec::Template {
            template: read_json(path)?,
        }));
    }
    Ok(None)
}

fn apply(target: &mut OutboundTarget, args: SetArgs) -> anyhow::Result<()> {
    if let Some(payload) = payload_of(&args)? {
        target.payload = payload;
    }
    if let Some(url) = args.url {
        target.url = url;
    }
    if let Some(verb) = args.verb {
        target.verb = verb;
    }
    if args.clear_headers {
        target.headers.clear();
    }
    if !args.header.is_empty() {
        target.headers = args.header.into_iter().collect();
    }
    if let Some(timeout) = args.timeout {
        target.timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
    }
    if !args.allow_cidr.is_empty() {
        target.allow_cidrs = args.allow_cidr;
    }
    if !args.retry.is_empty() {
        target.retry = RetrySchedule(
            args.retry
                .iter()
                .map(|d| u64::try_from(d.whole_seconds()).unwrap_or(0))
                .collect(),
        );
    }
    if let Some(ordered) = args.ordered {
        target.ordered = ordered;
    }
    if let Some(enabled) = args.enabled {
        target.enabled = enabled;
        if enabled {
            target.disabled_reason = None;
        }
    }
    target.validate().map_err(|e| anyhow::anyhow!("{e}"))
}

async fn set(global: &Global, store: &dyn ConfigStore, args: SetArgs) -> anyhow::Result<()> {
    let mut config = fetch(store, &args.id).await?;
    let mut target = match (config.outbound.take(), &args.url) {
        (Some(target), _) => target,
        (None, Some(url)) => OutboundTarget::new(url.clone()),
        (None, None) => bail!("this webhook has no outbound target yet: give --url"),
    };
    apply(&mut target, args)?;
    config.outbound = Some(target);
    let stored = store.update(&config).await.context("cannot store the change")?;
    show(global, &stored)
}

async fn rotate(global: &Global, store: &dyn ConfigStore, args: RotateSigningArgs) -> anyhow::Result<()> {
    let mut config = fetch(store, &args.id).await?;
    let Some(target) = config.outbound.as_mut() else {
        bail!(
            "this webhook has no outbound target yet: `bitconn outbound set {} --url …`",
            args.id
        );
    };
    let secret = target.rotate_signing_secret(args.grace, time::OffsetDateTime::now_utc());
    store
        .update(&config)
        .await
        .context("cannot store the new signing secret")?;
    if global.json {
        print_json(
            &json!({"id": config.id.to_string(), "signing_secret": secret.expose(),
                           "previous_valid_for_seconds": args.grace.map(|g| g.whole_seconds())}),
        )
    } else {
        println!("signing secret (shown only this once): {}", secret.expose());
        if let Some(grace) = args.grace {
            println!("the previous secret keeps signing for {grace}");
        }
        Ok(())
    }
}

/// What `show` prints: everything but header values and secrets.
fn view(config: &WebhookConfig) -> Value {
    let Some(t) = &config.outbound else {
        return json!({"id": config.id.to_string(), "outbound": null});
    };
    json!({
        "id": config.id.to_string(),
        "outbound": {
            "url": t.url, "verb": t.verb.as_str(), "enabled": t.enabled, "disabled_reason": t.disabled_reason,
            "header_names": t.headers.keys().collect::<Vec<_>>(), "timeout_ms": t.timeout_ms,
            "signed": t.signing.is_some(), "retry_seconds": t.retry.0, "allow_cidrs": t.allow_cidrs,
            "ordered": t.ordered,
            "payload": t.payload,
        }
    })
}

fn show(global: &Global, config: &WebhookConfig) -> anyhow::Result<()> {
    let view = view(config);
    if global.json {
        return print_json(&view);
    }
    let Some(t) = &config.outbound else {
        println!("webhook {}: no outbound target", config.id);
        return Ok(());
    };
    println!("webhook {} outbound", config.id);
    println!("  url:       {} {}", t.verb.as_str(), t.url);
    println!("  enabled:   {}", yes_no(t.enabled));
    if let Some(reason) = &t.disabled_reason {
        println!("  disabled:  {reason}");
    }
    println!("  headers:   {}", view["outbound"]["header_names"]);
    println!("  timeout:   {} ms", t.timeout_ms);
    println!("  signed:    {}", yes_no(t.signing.is_some()));
    println!("  retries:   {:?} s", t.retry.0);
    println!("  allow:     {:?}", t.allow_cidrs);
    println!("  ordered:   {}", yes_no(t.ordered));
    println!("  payload:   {}", view["outbound"]["payload"]);
    Ok(())
}
