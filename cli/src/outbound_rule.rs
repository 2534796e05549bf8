//! `bitconn outbound rule add|list|check|remove`: one command sets up an Odoo automation rule whose native
//! webhook action posts to this webhook's trigger route, and keeps the store's and Odoo's view of it in step.

use anyhow::{Context as _, bail};
use bitconn::config::{
    ModelName, NativeTrigger, OdooRule, PayloadSpec, PollCursor, PollSettings, TriggerOn, WebhookConfig,
    WebhookId,
};
use bitconn::store::{ConfigStore, StoreError};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::outbound_rule_odoo::{Admin, OdooSide};
use crate::output::{DEFAULT_PUBLIC_URL, print_json};
use crate::units::{parse_duration, parse_model};
use crate::{Global, stores};

/// Tries of the optimistic update that stores a new or removed trigger.
const STORE_TRIES: usize = 5;

#[derive(Subcommand)]
pub enum RuleCommand {
    /// Create the Odoo webhook action and automation rule for a model, and the trigger they post to (as the
    /// Odoo administrator whose API key is in BITCONN_ODOO_ADMIN_KEY; login BITCONN_ODOO_ADMIN_LOGIN, default admin).
    Add(AddArgs),
    /// Show each rule as the store and (with an admin key) Odoo see it.
    List(RuleWebhook),
    /// Find drift: rules deleted or archived in Odoo, or posting to another URL. Exit code 1 on drift.
    Check(RuleWebhook),
    /// Delete a rule in Odoo (rule and action) and its trigger here.
    Remove(RemoveArgs),
}

#[derive(Args)]
pub struct RuleWebhook {
    /// The webhook's id.
    webhook: String,
    /// Base URL Odoo reaches this gateway at.
    #[arg(long = "public-url", env = "BITCONN_PUBLIC_URL", default_value = DEFAULT_PUBLIC_URL)]
    public_url: String,
}

#[derive(Args)]
pub struct AddArgs {
    /// The webhook's id (it needs an outbound target).
    webhook: String,
    /// The Odoo model whose records the rule watches, e.g. res.partner.
    #[arg(long, value_parser = parse_model)]
    model: ModelName,
    /// create, write, create_or_write (Odoo's "On save"), unlink, or state:<value> (e.g. state:sale).
    #[arg(long, value_parser = |s: &str| s.parse::<TriggerOn>())]
    on: TriggerOn,
    /// Fields whose change fires the rule (default: the payload's fields).
    #[arg(long, value_delimiter = ',')]
    watch: Vec<String>,
    /// Odoo filter domain the record must match, e.g. "[('is_company', '=', True)]".
    #[arg(long)]
    filter: Option<String>,
    /// A JSON file listing the fields Odoo puts in its post (default: the outbound target's fields).
    #[arg(long, value_name = "FILE")]
    payload: Option<std::path::PathBuf>,
    /// Install the Automation Rules module (base_automation) when it is missing.
    #[arg(long)]
    install_module: bool,
    /// Also poll the model this often (e.g. 60s), so changes Odoo failed to post are still delivered.
    #[arg(long, value_parser = parse_duration)]
    poll: Option<time::Duration>,
    /// How long after Odoo's post the record is read (Odoo posts before it commits; default 1s).
    #[arg(long, value_parser = parse_duration)]
    delay: Option<time::Duration>,
    /// Base URL Odoo reaches this gateway at.
    #[arg(long = "public-url", env = "BITCONN_PUBLIC_URL", default_value = DEFAULT_PUBLIC_URL)]
    public_url: String,
}

#[derive(Args)]
pub struct RemoveArgs {
    /// The webhook's id.
    webhook: String,
    /// The trigger id (`tr_…`, from `rule list`).
    trigger: String,
    /// Remove only the store's trigger, leaving Odoo as it is.
    #[arg(long)]
    store_only: bool,
}

pub async fn run(global: &Global, command: RuleCommand) -> anyhow::Result<()> {
    let store = stores::open(global).await?.config;
    match command {
        RuleCommand::Add(args) => add(global, store.as_ref(), args).await,
        RuleCommand::List(args) => list(global, store.as_ref(), &args, false).await,
        RuleCommand::Check(args) => list(global, store.as_ref(), &args, true).await,
        RuleCommand::Remove(args) => remove(global, store.as_ref(), args).await,
    }
}

async fn fetch(store: &dyn ConfigStore, id: &str) -> anyhow::Result<WebhookConfig> {
    let id: WebhookId = id
        .parse()
        .map_err(|e| anyhow::anyhow!("invalid webhook id `{id}`: {e}"))?;
    store
        .get(&id)
        .await?
        .with_context(|| format!("webhook {id} not found"))
}

/// Applies `change` to the freshest copy until the store takes it (another writer may update meanwhile).
async fn update(
    store: &dyn ConfigStore,
    id: &WebhookId,
    mut change: impl FnMut(&mut WebhookConfig) -> anyhow::Result<()>,
) -> anyhow::Result<WebhookConfig> {
    for _ in 0..STORE_TRIES {
        let mut config = store
            .get(id)
            .await?
            .with_context(|| format!("webhook {id} not found"))?;
        change(&mut config)?;
        match store.update(&config).await {
            Ok(stored) => return Ok(stored),
            Err(StoreError::Conflict { .. }) => continue,
            Err(error) => return Err(error).context("cannot store the change"),
        }
    }
    bail!("the webhook kept changing while it was updated; try again")
}

pub fn trigger_url(public_url: &str, id: &WebhookId, key: &str) -> String {
    format!("{}/bitconn/outbound/{id}/{key}", public_url.trim_end_matches('/'))
}

/// The top-level fields a payload spec sends (what Odoo is asked to put in its post by default).
fn payload_fields(config: &WebhookConfig) -> Vec<String> {
    let Some(target) = &config.outbound else {
        return Vec::new();
    };
    let spec = bitconn::outbound::payload::read_spec(&target.payload, &target.url).unwrap_or_default();
    let mut names = Vec::new();
    for item in spec {
        let name = match &item {
            Value::String(path) => path.split('.').next().unwrap_or_default().to_owned(),
            Value::Object(map) => map.keys().next().cloned().unwrap_or_default(),
            _ => continue,
        };
        if name != "id" && !name.is_empty() && !names.contains(&name) {
            names.push(name);
        }
    }
    if matches!(target.payload, PayloadSpec::Fields { .. }) || !names.is_empty() {
        return names;
    }
    Vec::new()
}

fn read_payload_file(path: &std::path::Path) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let value: Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let list = match &value {
        Value::Array(items) => items,
        Value::Object(map) => match map.get("fields") {
            Some(Value::Array(items)) => items,
            _ => bail!("{}: an object needs a `fields` list", path.display()),
        },
        _ => bail!("{}: give a list of field names", path.display()),
    };
    list.iter()
        .map(|v| {
            v.as_str()
                .map(str::to_owned)
                .with_context(|| format!("{}: {v} is not a field name", path.display()))
        })
        .collect()
}

fn seconds(d: time::Duration) -> u64 {
    u64::try_from(d.whole_seconds()).unwrap_or(0)
}

async fn add(global: &Global, store: &dyn ConfigStore, args: AddArgs) -> anyhow::Result<()> {
    let config = fetch(store, &args.webhook).await?;
    if config.outbound.is_none() {
        bail!(
            "this webhook has no outbound target yet: set one first (`outbound set {} --url …`)",
            config.id
        );
    }
    if !config.allows_reading(&args.model) {
        bail!("this webhook may not read {}: allow the model first", args.model);
    }
    let now = time::OffsetDateTime::now_utc();
    let (mut trigger, key) = NativeTrigger::create(args.model.clone(), args.on.clone(), now);
    trigger.fields = match &args.payload {
        Some(path) => read_payload_file(path)?,
        None => payload_fields(&config),
    };
    trigger.filter = args.filter.clone();
    if let Some(delay) = args.delay {
        trigger.reread_delay_ms = u64::try_from(delay.whole_milliseconds()).unwrap_or(u64::MAX);
    }
    // Changes from now on: the first poll does not send every record the model already has.
    trigger.poll = args.poll.map(|every| PollSettings {
        every_seconds: seconds(every),
        cursor: PollCursor {
            write_date: Some(bitconn::outbound::poll::odoo_time(now)),
            ..PollCursor::default()
        },
    });
    let mut notes = Vec::new();
    let saves = matches!(args.on, TriggerOn::Write | TriggerOn::CreateOrWrite);
    trigger.watch = args
        .watch
        .iter()
        .map(|w| w.trim().to_owned())
        .filter(|w| !w.is_empty())
        .collect();
    if saves && trigger.watch.is_empty() {
        trigger.watch = trigger.fields.clone();
        if trigger.watch.is_empty() {
            notes.push(
                "no watched fields: Odoo posts on every save, often many times for one change (they are collapsed \
                 here); give --watch to fire only on the fields that matter"
                    .to_owned(),
            );
        } else {
            notes.push(format!(
                "watching the payload's fields ({}): changes to other fields do not fire the rule; --watch to choose",
                trigger.watch.join(", ")
            ));
        }
    }
    trigger.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
    if let (Some(filter), Some(_)) = (&trigger.filter, &trigger.poll) {
        bitconn::outbound::pydomain::to_json(filter)
            .map_err(|e| anyhow::anyhow!("--filter with --poll: {e}"))?;
    }
    let admin = Admin::from_env(&config.odoo)?;
    if admin.ensure_automation(args.install_module).await? {
        notes.push("installed the Automation Rules module (base_automation)".to_owned());
    }
    let url = trigger_url(&args.public_url, &config.id, key.expose());
    let name = format!("Bitconn {} {} {}", config.name, trigger.model, trigger.on);
    let (action, rule) = admin.create_rule(&name, &trigger, &url).await?;
    trigger.odoo = Some(OdooRule {
        action_id: action,
        automation_id: rule,
    });
    let stored = update(store, &config.id, |c| {
        if c.triggers.len() >= bitconn::config::triggers::MAX_TRIGGERS {
            bail!("{}", bitconn::config::TriggerConfigError::TooMany);
        }
        c.triggers.push(trigger.clone());
        Ok(())
    })
    .await;
    if let Err(error) = stored {
        let _ = admin.remove(action, rule).await;
        return Err(error);
    }
    let view = json!({"webhook": config.id.to_string(), "trigger": trigger.id, "model": trigger.model.as_str(),
        "on": trigger.on.to_string(), "watch": trigger.watch, "fields": trigger.fields, "filter": trigger.filter,
        "poll_seconds": trigger.poll.as_ref().map(|p| p.every_seconds), "odoo_action": action,
        "odoo_rule": rule, "url": redacted(&url), "notes": notes});
    if global.json {
        return print_json(&view);
    }
    println!("trigger {} on {} ({})", trigger.id, trigger.model, trigger.on);
    println!("  Odoo webhook action #{action}: posts to {}", redacted(&url));
    println!("  Odoo automation rule #{rule}: {name}");
    if let Some(poll) = &trigger.poll {
        println!("  polled every {} s as a backstop", poll.every_seconds);
    }
    for note in notes {
        println!("  note: {note}");
    }
    Ok(())
}

/// The trigger URL with its key cut short: it is a credential (Odoo holds it whole).
fn redacted(url: &str) -> String {
    match url.rsplit_once('/') {
        Some((base, key)) => format!("{base}/{}…", key.chars().take(8).collect::<String>()),
        None => url.to_owned(),
    }
}

/// What `rule check` finds wrong with one rule (empty when Odoo matches the store).
fn drift(config: &WebhookConfig, trigger: &NativeTrigger, side: &OdooSide, public_url: &str) -> Vec<String> {
    let mut found = Vec::new();
    let now = time::OffsetDateTime::now_utc();
    match &side.rule {
        None => found.push("the automation rule was deleted in Odoo".to_owned()),
        Some(rule) if rule.get("active") == Some(&Value::Bool(false)) => {
            found.push("the automation rule is archived in Odoo".to_owned());
        }
        Some(rule) if rule.get("trigger").and_then(Value::as_str) != Some(trigger.on.odoo_trigger()) => {
            found.push(format!(
                "the rule's trigger is now {}",
                rule.get("trigger").unwrap_or(&Value::Null)
            ));
        }
        Some(_) => {}
    }
    match &side.action {
        None => found.push("the webhook action was deleted in Odoo".to_owned()),
        Some(action) => {
            let url = action
                .get("webhook_url")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let base = trigger_url(public_url, &config.id, "");
            let key_ok = url
                .strip_prefix(&base)
                .is_some_and(|key| trigger.accepts_key(key, now));
            if !key_ok {
                found.push(format!(
                    "the action posts to {} instead of this trigger's URL",
                    redacted(url)
                ));
            }
            if action.get("state").and_then(Value::as_str) != Some("webhook") {
                found.push("the action no longer sends a webhook".to_owned());
            }
        }
    }
    found
}

async fn list(
    global: &Global,
    store: &dyn ConfigStore,
    args: &RuleWebhook,
    check: bool,
) -> anyhow::Result<()> {
    let config = fetch(store, &args.webhook).await?;
    let admin = match Admin::from_env(&config.odoo) {
        Ok(admin) => Some(admin),
        Err(error) if check => return Err(error),
        Err(_) => None,
    };
    let mut views = Vec::new();
    let mut drifted = 0;
    for trigger in &config.triggers {
        let mut view = json!({"trigger": trigger.id, "model": trigger.model.as_str(), "on": trigger.on.to_string(),
            "watch": trigger.watch, "fields": trigger.fields, "filter": trigger.filter,
            "poll_seconds": trigger.poll.as_ref().map(|p| p.every_seconds),
            "poll_cursor": trigger.poll.as_ref().map(|p| &p.cursor),
            "odoo_action": trigger.odoo.as_ref().map(|o| o.action_id),
            "odoo_rule": trigger.odoo.as_ref().map(|o| o.automation_id)});
        if let (Some(admin), Some(odoo)) = (&admin, &trigger.odoo) {
            let side = admin.side(odoo.action_id, odoo.automation_id).await?;
            let problems = drift(&config, trigger, &side, &args.public_url);
            drifted += usize::from(!problems.is_empty());
            view["odoo"] = json!({
                "rule": side.rule.as_ref().map(|r| json!({"name": r.get("name"), "active": r.get("active"),
                    "trigger": r.get("trigger"), "filter_domain": r.get("filter_domain")})),
                "action": side.action.as_ref().map(|a| json!({"name": a.get("name"), "state": a.get("state")})),
            });
            view["drift"] = json!(problems);
        }
        views.push(view);
    }
    if global.json {
        print_json(&json!({"webhook": config.id.to_string(), "rules": views}))?;
    } else {
        if views.is_empty() {
            println!("webhook {}: no rules", config.id);
        }
        for view in &views {
            println!(
                "{}  {} on {}  Odoo rule #{} action #{}",
                view["trigger"].as_str().unwrap_or_default(),
                view["model"].as_str().unwrap_or_default(),
                view["on"].as_str().unwrap_or_default(),
                view["odoo_rule"],
                view["odoo_action"]
            );
            if let Some(poll) = view["poll_seconds"].as_u64() {
                println!("  polled every {poll} s");
            }
            match view.get("drift").and_then(Value::as_array) {
                None => println!(
                    "  Odoo side not read: set {}",
                    crate::outbound_rule_odoo::ADMIN_KEY_ENV
                ),
                Some(problems) if problems.is_empty() => println!("  in step with Odoo"),
                Some(problems) => problems
                    .iter()
                    .for_each(|p| println!("  drift: {}", p.as_str().unwrap_or_default())),
            }
        }
    }
    if check && drifted > 0 {
        bail!("{drifted} rule(s) drifted from Odoo");
    }
    Ok(())
}

async fn remove(global: &Global, store: &dyn ConfigStore, args: RemoveArgs) -> anyhow::Result<()> {
    let config = fetch(store, &args.webhook).await?;
    let Some(trigger) = config.triggers.iter().find(|t| t.id == args.trigger).cloned() else {
        bail!("webhook {} has no rule {}", config.id, args.trigger);
    };
    if !args.store_only
        && let Some(odoo) = &trigger.odoo
    {
        let admin = Admin::from_env(&config.odoo)?;
        admin.remove(odoo.action_id, odoo.automation_id).await?;
    }
    update(store, &config.id, |c| {
        c.triggers.retain(|t| t.id != trigger.id);
        Ok(())
    })
    .await?;
    if global.json {
        return print_json(&json!({"removed": trigger.id, "odoo": !args.store_only}));
    }
    match (&trigger.odoo, args.store_only) {
        (Some(odoo), false) => println!(
            "removed {}: Odoo rule #{} and action #{} deleted",
            trigger.id, odoo.automation_id, odoo.action_id
        ),
        _ => println!("removed {} from the store (Odoo left as it is)", trigger.id),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_print_without_their_key() {
        assert_eq!(
            redacted("http://h/bitconn/outbound/abc/bcw_0123456789abcdef"),
            "http://h/bitconn/outbound/abc/bcw_0123…"
        );
    }
}
