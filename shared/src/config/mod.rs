//! The webhook configuration: who a webhook is, which Odoo it talks to as whom, and what it may do there.

mod callable;
mod ids;
mod outbound;
mod rules;
pub mod triggers;

pub use callable::{Callable, NEVER_CALLABLE, refusal as call_refusal};
pub use ids::{InvalidId, ModelName, WebhookId};
pub use outbound::{
    OutboundConfigError, OutboundTarget, PayloadSpec, PreviousSigning, RetrySchedule, SigningState,
};
pub use rules::{FieldRule, HttpVerb, Limits, ModelAccess, Permissions};
pub use triggers::{
    NativeTrigger, OdooRule, PollCursor, PollSettings, TriggerConfigError, TriggerOn, trigger_for_key,
};

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use time::{Duration, OffsetDateTime};

use crate::secret::{PlainSecret, SecretHash};

/// How a webhook reaches Odoo and as which user its calls run (Odoo's own access rules apply to that user).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OdooConnection {
    /// Base URL, e.g. `https://odoo.example.com` (the client appends `/jsonrpc`).
    pub url: String,
    pub db: String,
    pub login: String,
    /// The Odoo user's API key. Needed in clear to call Odoo; never logged, never returned by the API.
    pub api_key: String,
}

impl std::fmt::Debug for OdooConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OdooConnection")
            .field("url", &self.url)
            .field("db", &self.db)
            .field("login", &self.login)
            .field("api_key", &"<redacted>")
            .finish()
    }
}

/// The current secret's hash and, during a rotation's grace period, the previous one's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretState {
    pub current: SecretHash,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<PreviousSecret>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousSecret {
    pub hash: SecretHash,
    #[serde(with = "time::serde::rfc3339")]
    pub valid_until: OffsetDateTime,
}

/// One webhook. `version` increases on every update and guards against lost updates (optimistic locking).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookConfig {
    pub id: WebhookId,
    pub name: String,
    pub enabled: bool,
    pub secret: SecretState,
    pub odoo: OdooConnection,
    pub permissions: Permissions,
    pub models: ModelAccess,
    /// Models that calls may read through relations, paths and domains (and search or read directly), but
    /// never change: e.g. `res.country` behind `partner_id.country_id.name`.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub read_models: BTreeSet<ModelName>,
    /// Per-model field allow/deny lists; models without an entry expose every field Odoo lets the user see.
    #[serde(default)]
    pub field_rules: BTreeMap<ModelName, FieldRule>,
    /// Business methods `call` may run (`sale.order:action_confirm`, `*:message_post`); none by default.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub callable: BTreeSet<Callable>,
    pub limits: Limits,
    pub allowed_verbs: Vec<HttpVerb>,
    /// Set only on the webhook `bitconn serve` creates for its bundled Odoo simulator: demo mode re-points and
    /// re-keys that webhook on every start, and must never touch any other (records stored before the mark
    /// existed read as `false`). Changing the webhook's Odoo connection clears it.
    #[serde(default)]
    pub demo: bool,
    /// Where Odoo records are delivered; `None` until an operator sets a target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbound: Option<OutboundTarget>,
    /// Odoo automation rules posting to this webhook's native trigger route.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<NativeTrigger>,
    pub version: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// What an operator chooses when creating a webhook; everything else takes the original module's defaults.
#[derive(Clone, Debug)]
pub struct NewWebhook {
    pub name: String,
    pub odoo: OdooConnection,
    pub models: ModelAccess,
    pub permissions: Permissions,
}

impl WebhookConfig {
    /// Builds a new, enabled webhook and its secret. The secret is returned once and never stored in clear.
    pub fn create(new: NewWebhook, now: OffsetDateTime) -> (Self, PlainSecret) {
        let secret = PlainSecret::generate();
        let config = Self {
            id: WebhookId::generate(),
            name: new.name,
            enabled: true,
            secret: SecretState {
                current: secret.hash(),
                previous: None,
            },
            odoo: new.odoo,
            permissions: new.permissions,
            models: new.models,
            read_models: BTreeSet::new(),
            field_rules: BTreeMap::new(),
            callable: BTreeSet::new(),
            limits: Limits::default(),
            allowed_verbs: vec![HttpVerb::Post],
            demo: false,
            outbound: None,
            triggers: Vec::new(),
            version: 1,
            created_at: now,
            updated_at: now,
        };
        (config, secret)
    }

    /// True when `presented` is the current secret, or the previous one within its grace period.
    /// Both hashes are always compared, so timing does not tell which one matched.
    pub fn accepts_secret(&self, presented: &str, now: OffsetDateTime) -> bool {
        let current = self.secret.current.matches(presented);
        let previous = self
            .secret
            .previous
            .as_ref()
            .is_some_and(|p| p.hash.matches(presented) && now < p.valid_until);
        current | previous
    }

    /// Replaces the secret, keeping the URL. With a grace period the old secret keeps working until it ends.
    pub fn rotate_secret(&mut self, grace: Option<Duration>, now: OffsetDateTime) -> PlainSecret {
        let secret = PlainSecret::generate();
        let old = std::mem::replace(&mut self.secret.current, secret.hash());
        self.secret.previous = grace.filter(|g| g.is_positive()).map(|g| PreviousSecret {
            hash: old,
            valid_until: now + g,
        });
        secret
    }

    /// Whether calls may change `model` (create, write, unlink as the permissions allow) and read it.
    pub fn allows_model(&self, model: &ModelName) -> bool {
        self.models.allows(model)
    }

    /// Whether calls may read or search `model`, directly or through a relation.
    pub fn allows_reading(&self, model: &ModelName) -> bool {
        self.rights().readable(model)
    }

    pub fn rights(&self) -> crate::odoo::ModelRights<'_> {
        crate::odoo::ModelRights {
            models: &self.models,
            read_only: &self.read_models,
        }
    }

    pub fn field_rule(&self, model: &ModelName) -> Option<&FieldRule> {
        self.field_rules.get(model)
    }

    /// Whether `call` may run `function` on `model`: an entry names it, and it is never one of the ORM's own.
    pub fn allows_call(&self, model: &ModelName, function: &str) -> bool {
        callable::refusal(function).is_none() && self.callable.iter().any(|c| c.covers(model, function))
    }

    pub fn allows_verb(&self, verb: HttpVerb) -> bool {
        self.allowed_verbs.contains(&verb)
    }
}

#[cfg(test)]
pub(crate) mod tests;
