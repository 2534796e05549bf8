//! `bitconn outbound test <webhook>`: the original "Manual Test". Sends one delivery now through the same
//! deliverer as the dispatcher (signed, SSRF-guarded, the target's verb, headers and timeout), prints the URL,
//! status, duration and the answer pretty-printed, and records it in the delivery log as a test delivery.

use anyhow::{Context as _, bail};
use bitconn::config::{HttpVerb, ModelName, WebhookConfig};
use bitconn::gateway::{Gateway, GatewaySettings};
use bitconn::outbound::deliver::{Answer, Deliverer, Outgoing};
use bitconn::outbound::deliveries::{Attempt, AttemptOutcome, logged_payload};
use bitconn::outbound::payload::{self, Extras};
use bitconn::outbound::template;
use clap::Args;
use serde_json::{Value, json};
use std::io::Read as _;

use crate::deliveries::pretty;
use crate::output::print_json;
use crate::printable::printable;
use crate::units::parse_model;
use crate::webhook_common::fetch;
use crate::{Global, outbound_stores, stores};

/// Largest `--body` file sent.
const MAX_BODY_BYTES: u64 = 1024 * 1024;
/// Most `--ids` one test reads.
const MAX_IDS: usize = 100;
/// What is sent without `--body` or `--model`: the original module's default test body.
const DEFAULT_BODY: &str = r#"{
  "model": "res.partner",
  "count": 1,
  "records": [
    {
      "id": 123,
      "name": "Test Partner",
      "email": "john.doe@example.com",
      "phone": "+5511999999999"
    }
  ]
}"#;

#[derive(Args)]
#[command(group = clap::ArgGroup::new("source").multiple(false).args(["body", "model"]))]
pub struct TestArgs {
    /// The webhook's id.
    id: String,
    /// Send this file's bytes as they are (default: a sample `res.partner` payload).
    #[arg(long, value_name = "FILE")]
    body: Option<std::path::PathBuf>,
    /// Read these records from Odoo and build the payload as a delivery would.
    #[arg(long, value_parser = parse_model, requires = "ids")]
    model: Option<ModelName>,
    /// Record ids for `--model`, comma-separated.
    #[arg(long, value_delimiter = ',', requires = "model")]
    ids: Vec<i64>,
}

pub async fn run(global: &Global, args: TestArgs) -> anyhow::Result<()> {
    let opened = stores::open(global).await?;
    let config = fetch(opened.config.as_ref(), &args.id).await?;
    let Some(target) = config.outbound.clone() else {
        bail!(
            "this webhook has no outbound target yet: `bitconn outbound set {} --url …`",
            args.id
        );
    };
    if !target.enabled {
        bail!(
            "the outbound target is off: `bitconn outbound enable {}` first",
            args.id
        );
    }
    let (body, first) = match (&args.body, &args.model) {
        (Some(path), _) => file_body(path)?,
        (None, Some(model)) => {
            let gateway = Gateway::new(
                opened.config.clone(),
                opened.log.clone(),
                opened.idempotency.clone(),
                GatewaySettings::default(),
            );
            built_body(&gateway, &config, model, &args.ids).await?
        }
        (None, None) => (
            DEFAULT_BODY.as_bytes().to_vec(),
            sample_record(DEFAULT_BODY.as_bytes()),
        ),
    };
    let url = if template::has_placeholders(&target.url) {
        template::render_url(&target.url, &first).map_err(|e| anyhow::anyhow!("URL: {e}"))?
    } else {
        target.url.clone()
    };
    let event_id = format!("evt_test_{}", fresh_id());
    let secrets = target
        .signing
        .as_ref()
        .map(|s| s.active(time::OffsetDateTime::now_utc()))
        .unwrap_or_default();
    let allow = target.allow_list().map_err(|e| anyhow::anyhow!("{e}"))?;
    let sends_body = !matches!(target.verb, HttpVerb::Get | HttpVerb::Delete);
    let answer = Deliverer::new()
        .send(&Outgoing {
            url: &url,
            verb: target.verb,
            headers: &target.headers,
            body: sends_body.then_some(body.as_slice()),
            event_id: &event_id,
            secrets: &secrets,
            timeout: target.timeout(),
            allow: &allow,
        })
        .await;
    let delivered = matches!(answer.status, Some(200..=299));
    let attempt = Attempt {
        event_id: event_id.clone(),
        webhook_id: config.id,
        attempt: 1,
        at: time::OffsetDateTime::now_utc(),
        url: logged_url(&url),
        outcome: if delivered {
            AttemptOutcome::Delivered
        } else {
            AttemptOutcome::Failed
        },
        status: answer.status,
        duration_ms: u64::try_from(answer.duration.as_millis()).unwrap_or(u64::MAX),
        error: answer.error.clone(),
        response: answer.response.clone(),
        test: true,
        payload: sends_body.then(|| logged_payload(&body)),
        request_headers: answer.request_headers.clone(),
        job: None,
    };
    let recorded = outbound_stores::open(global).await?.log.record(attempt).await;
    if let Err(error) = &recorded {
        eprintln!("warning: the test delivery was not recorded: {error}");
    }
    report(global, &event_id, &url, &answer)?;
    if !delivered {
        bail!(
            "outbound test failed: {}",
            answer
                .error
                .clone()
                .unwrap_or_else(|| format!("HTTP {}", answer.status.unwrap_or_default()))
        );
    }
    Ok(())
}

fn report(global: &Global, event_id: &str, url: &str, answer: &Answer) -> anyhow::Result<()> {
    let duration_ms = u64::try_from(answer.duration.as_millis()).unwrap_or(u64::MAX);
    let response = answer.response.as_deref().unwrap_or_default();
    if global.json {
        let body = serde_json::from_str::<Value>(response).unwrap_or_else(|_| json!(response));
        return print_json(&json!({
            "event_id": event_id, "url": logged_url(url), "status": answer.status,
            "duration_ms": duration_ms, "response": body, "error": answer.error,
        }));
    }
    println!("URL: {}", printable(&logged_url(url)));
    match answer.status {
        Some(status) => println!("Status: {status}"),
        None => println!(
            "Error: {}",
            printable(answer.error.as_deref().unwrap_or("no answer"))
        ),
    }
    println!("Duration: {duration_ms} ms");
    println!("Event: {event_id}");
    if answer.status.is_some() {
        println!("Body:\n{}", pretty(response));
    }
    Ok(())
}

/// A `--body` file's bytes, sent as they are, and its first record (for URL placeholders) when it has one.
fn file_body(path: &std::path::Path) -> anyhow::Result<(Vec<u8>, Value)> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_BODY_BYTES + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() as u64 > MAX_BODY_BYTES {
        bail!("{} is larger than {MAX_BODY_BYTES} bytes", path.display());
    }
    let first = sample_record(&bytes);
    Ok((bytes, first))
}

fn sample_record(bytes: &[u8]) -> Value {
    serde_json::from_slice::<Value>(bytes)
        .ok()
        .and_then(|v| v.get("records").and_then(|r| r.get(0)).cloned())
        .unwrap_or(Value::Null)
}

/// Reads `ids` of `model` as the webhook's Odoo user and builds the payload as the dispatcher would.
async fn built_body(
    gateway: &Gateway,
    config: &WebhookConfig,
    model: &ModelName,
    ids: &[i64],
) -> anyhow::Result<(Vec<u8>, Value)> {
    if ids.is_empty() || ids.len() > MAX_IDS {
        bail!("--ids takes 1 to {MAX_IDS} record ids");
    }
    let target = config.outbound.as_ref().context("no outbound target")?;
    let spec =
        payload::read_spec(&target.payload, &target.url).map_err(|e| anyhow::anyhow!("payload spec: {e}"))?;
    let records = gateway
        .outbound_records(config, model, ids, &spec)
        .await
        .map_err(|e| anyhow::anyhow!("reading the records: {e}"))?;
    if records.is_empty() {
        bail!("none of the records {ids:?} of {model} exists");
    }
    let extras = Extras {
        event: Some("test"),
        extra: None,
    };
    let payload = payload::build(&target.payload, model.as_str(), &records, &extras)
        .map_err(|e| anyhow::anyhow!("payload: {e}"))?;
    let first = records.first().cloned().unwrap_or(Value::Null);
    Ok((serde_json::to_vec(&payload)?, first))
}

/// The URL as shown and logged: a `user:password@` part is a credential and is left out.
fn logged_url(url: &str) -> String {
    match reqwest_url(url) {
        Some(clean) => clean,
        None => url.to_owned(),
    }
}

fn reqwest_url(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (_, host) = authority.rsplit_once('@')?;
    Some(format!("{scheme}://{host}{path}"))
}

fn fresh_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{nanos:x}{:x}", std::process::id())
}

#[cfg(test)]
mod tests {
    #[test]
    fn shown_urls_leave_out_credentials() {
        assert_eq!(
            super::logged_url("https://u:p@hooks.example.com/x?a=1"),
            "https://hooks.example.com/x?a=1"
        );
        assert_eq!(
            super::logged_url("https://hooks.example.com/x"),
            "https://hooks.example.com/x"
        );
    }

    #[test]
    fn the_default_body_is_the_originals() {
        let record = super::sample_record(super::DEFAULT_BODY.as_bytes());
        assert_eq!(record["name"], "Test Partner");
    }
}
