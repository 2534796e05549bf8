//! Demo mode of `bitconn serve`: with no webhook configured, the bundled Odoo simulator and a webhook on it.

use anyhow::Context as _;
use bitconn::config::{ModelAccess, ModelName, NewWebhook, OdooConnection, Permissions, WebhookConfig};
use bitconn::secret::PlainSecret;
use bitconn::store::ConfigStore;
use odoo_sim::{RunningSim, SimConfig};
use time::OffsetDateTime;

use crate::output::webhook_url;

/// The demo webhook's name, for people; what marks it is `WebhookConfig::demo`, never the name.
pub const DEMO_WEBHOOK_NAME: &str = "demo (bundled Odoo simulator)";
/// Models the demo webhook may touch: enough for every README example.
const DEMO_MODELS: [&str; 6] = [
    "res.partner",
    "sale.order",
    "sale.order.line",
    "product.product",
    "res.country",
    "crm.lead",
];
const DEMO_LOGIN: &str = "admin";

pub struct Demo {
    /// Keeps the simulator serving; it stops when this is dropped.
    sim: RunningSim,
    pub url: String,
    pub id: String,
    pub secret: PlainSecret,
}

/// Starts demo mode when the store has no webhook other than an earlier demo one (marked `demo`). Any
/// unmarked webhook, whatever its name, means the store is configured: nothing is started or changed.
pub async fn start_if_needed(store: &dyn ConfigStore, public_url: &str) -> anyhow::Result<Option<Demo>> {
    let existing = store.list().await.context("cannot list webhooks")?;
    if existing.iter().any(|c| !c.demo) {
        return Ok(None);
    }
    let sim = odoo_sim::start(SimConfig::default())
        .await
        .context("cannot start the Odoo simulator")?;
    let odoo = OdooConnection {
        url: sim.url.clone(),
        db: odoo_sim::DEFAULT_DB.to_owned(),
        login: DEMO_LOGIN.to_owned(),
        api_key: odoo_sim::DEFAULT_ADMIN_API_KEY.to_owned(),
    };
    let now = OffsetDateTime::now_utc();
    let (config, secret) = match existing.into_iter().next() {
        Some(mut earlier) => {
            // The previous run's simulator is gone: point the webhook at this one and issue a fresh secret.
            earlier.odoo = odoo;
            earlier.enabled = true;
            let secret = earlier.rotate_secret(None, now);
            (
                store
                    .update(&earlier)
                    .await
                    .context("cannot update the demo webhook")?,
                secret,
            )
        }
        None => {
            let (mut config, secret) = WebhookConfig::create(demo_webhook(odoo)?, now);
            config.demo = true;
            store
                .create(&config)
                .await
                .context("cannot store the demo webhook")?;
            (config, secret)
        }
    };
    Ok(Some(Demo {
        url: webhook_url(public_url, &config.id),
        id: config.id.to_string(),
        secret,
        sim,
    }))
}

fn demo_webhook(odoo: OdooConnection) -> anyhow::Result<NewWebhook> {
    let models = DEMO_MODELS
        .iter()
        .map(|m| m.parse::<ModelName>())
        .collect::<Result<_, _>>()?;
    Ok(NewWebhook {
        name: DEMO_WEBHOOK_NAME.to_owned(),
        odoo,
        models: ModelAccess::Only(models),
        permissions: Permissions {
            can_create: true,
            can_write: true,
            can_unlink: true,
        },
    })
}

impl Demo {
    pub fn curl_example(&self) -> String {
        format!(
            "curl -s -X POST '{}' -H 'Authorization: Bearer {}' -H 'Content-Type: application/json' \
             -d '{{\"model\": \"res.partner\", \"method\": \"search\", \"domain\": [[\"is_company\", \"=\", true]], \
             \"fields\": [\"name\", \"email\"], \"limit\": 5}}'",
            self.url,
            self.secret.expose()
        )
    }

    pub fn print_banner(&self, json: bool) -> anyhow::Result<()> {
        if json {
            let banner = serde_json::json!({
                "demo": true, "odoo_sim": self.sim.url, "id": self.id, "url": self.url,
                "secret": self.secret.expose(), "curl": self.curl_example(),
            });
            println!("{banner}");
            return Ok(());
        }
        let rule = "#".repeat(78);
        println!("{rule}");
        println!("##  DEMO MODE: the store has no webhook, so bitconn started its bundled");
        println!(
            "##  Odoo SIMULATOR (demo data, not a real Odoo) at {}",
            self.sim.url
        );
        println!("##  and a demo webhook on it. Nothing here touches a real Odoo.");
        println!("##  Leave demo mode: create a real webhook with `bitconn webhook create`.");
        println!("{rule}");
        println!("demo webhook {}", self.id);
        println!("  url:    {}", self.url);
        println!("  secret: {}", self.secret.expose());
        println!("try:");
        println!("  {}", self.curl_example());
        println!("{rule}");
        Ok(())
    }
}
