//! A webhook's native Odoo triggers: the rules whose "Send Webhook Notification" actions post to
//! `/bitconn/outbound/{id}/{key}`, each with its own key (stored hashed), the Odoo records that fire it, and the
//! optional poller's cursor.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use super::{ModelName, PreviousSecret, SecretState};
use crate::secret::PlainSecret;

/// Most native triggers one webhook holds (each request compares the key against all of them).
pub const MAX_TRIGGERS: usize = 64;
/// Wait before a trigger's record is read: Odoo posts before it commits, and a change was measured visible
/// 16–42 ms after the receiver answered, so a second leaves a wide margin.
pub const DEFAULT_REREAD_DELAY_MS: u64 = 1000;
/// Longest wait before the first read an operator may choose.
pub const MAX_REREAD_DELAY_MS: u64 = 60_000;
/// Shortest and longest poll interval.
pub const MIN_POLL_SECONDS: u64 = 5;
pub const MAX_POLL_SECONDS: u64 = 86_400;
/// Longest trigger id and watched-field list.
const MAX_ID_LEN: usize = 64;
pub const MAX_WATCHED: usize = 200;
/// Longest filter domain kept (Odoo's `filter_domain` is a char field holding a Python literal).
pub const MAX_FILTER_LEN: usize = 4096;

/// What makes Odoo fire the rule (`base.automation.trigger`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum TriggerOn {
    Create,
    Write,
    CreateOrWrite,
    Unlink,
    /// The selection field `state` set to this value (`on_state_set`).
    State(String),
}

impl TriggerOn {
    /// The `base.automation.trigger` value.
    pub fn odoo_trigger(&self) -> &'static str {
        match self {
            Self::Create => "on_create",
            Self::Write => "on_write",
            Self::CreateOrWrite => "on_create_or_write",
            Self::Unlink => "on_unlink",
            Self::State(_) => "on_state_set",
        }
    }

    /// The `event` delivered with each record.
    pub fn event(&self) -> String {
        self.to_string()
    }
}

impl std::fmt::Display for TriggerOn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Create => f.write_str("create"),
            Self::Write => f.write_str("write"),
            Self::CreateOrWrite => f.write_str("create_or_write"),
            Self::Unlink => f.write_str("unlink"),
            Self::State(value) => write!(f, "state:{value}"),
        }
    }
}

impl std::str::FromStr for TriggerOn {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "create" => Ok(Self::Create),
            "write" => Ok(Self::Write),
            "create_or_write" => Ok(Self::CreateOrWrite),
            "unlink" => Ok(Self::Unlink),
            _ => match text.strip_prefix("state:") {
                Some(value) if is_identifier(value) => Ok(Self::State(value.to_owned())),
                _ => Err(format!(
                    "`{text}` is not one of create, write, create_or_write, unlink, state:<value>"
                )),
            },
        }
    }
}

impl TryFrom<String> for TriggerOn {
    type Error = String;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<TriggerOn> for String {
    fn from(on: TriggerOn) -> Self {
        on.to_string()
    }
}

/// Field names and selection values: what Odoo accepts as a Python identifier (ASCII here).
pub fn is_identifier(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= MAX_ID_LEN
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !text.as_bytes()[0].is_ascii_digit()
}

/// The records a trigger created in Odoo, so `rule check` and `rule remove` find them again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OdooRule {
    pub action_id: i64,
    pub automation_id: i64,
}

/// Where the poller stands: the last `(write_date, id)` it saw, and when a poll last ran (which doubles as the
/// claim on the next one: whoever stores a newer `polled_at` first runs it).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollCursor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_date: Option<String>,
    #[serde(default)]
    pub id: i64,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub polled_at: Option<OffsetDateTime>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollSettings {
    pub every_seconds: u64,
    #[serde(default)]
    pub cursor: PollCursor,
}

/// One native trigger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NativeTrigger {
    /// Public name (`tr_…`), used by `rule list/check/remove`; never a credential.
    pub id: String,
    /// The path key's hash; a rotation keeps the old one valid for its grace period.
    pub key: SecretState,
    pub model: ModelName,
    pub on: TriggerOn,
    /// Fields whose change fires the rule (`trigger_field_ids`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub watch: Vec<String>,
    /// Fields Odoo puts in its body (`webhook_field_ids`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    /// Odoo's `filter_domain`, as given (a Python literal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    #[serde(default = "default_delay")]
    pub reread_delay_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub odoo: Option<OdooRule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll: Option<PollSettings>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

fn default_delay() -> u64 {
    DEFAULT_REREAD_DELAY_MS
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TriggerConfigError {
    #[error("a webhook holds at most {MAX_TRIGGERS} triggers")]
    TooMany,
    #[error("`{0}` is not a field name")]
    Field(String),
    #[error("at most {MAX_WATCHED} fields")]
    TooManyFields,
    #[error("the filter is longer than {MAX_FILTER_LEN} bytes")]
    Filter,
    #[error("the re-read delay must be at most {MAX_REREAD_DELAY_MS} ms")]
    Delay,
    #[error("the poll interval must be from {MIN_POLL_SECONDS} s to {MAX_POLL_SECONDS} s")]
    Poll,
    #[error("deleted records cannot be polled: an unlink rule has no --poll")]
    PollUnlink,
}

impl NativeTrigger {
    /// A new trigger and its key, returned once in clear (it goes into Odoo's action URL).
    pub fn create(model: ModelName, on: TriggerOn, now: OffsetDateTime) -> (Self, PlainSecret) {
        let key = PlainSecret::generate();
        let trigger = Self {
            id: format!("tr_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]),
            key: SecretState {
                current: key.hash(),
                previous: None,
            },
            model,
            on,
            watch: Vec::new(),
            fields: Vec::new(),
            filter: None,
            reread_delay_ms: DEFAULT_REREAD_DELAY_MS,
            odoo: None,
            poll: None,
            created_at: now,
        };
        (trigger, key)
    }

    pub fn validate(&self) -> Result<(), TriggerConfigError> {
        for field in self.watch.iter().chain(&self.fields) {
            if !is_identifier(field) {
                return Err(TriggerConfigError::Field(field.clone()));
            }
        }
        if self.watch.len() > MAX_WATCHED || self.fields.len() > MAX_WATCHED {
            return Err(TriggerConfigError::TooManyFields);
        }
        if self.filter.as_ref().is_some_and(|f| f.len() > MAX_FILTER_LEN) {
            return Err(TriggerConfigError::Filter);
        }
        if self.reread_delay_ms > MAX_REREAD_DELAY_MS {
            return Err(TriggerConfigError::Delay);
        }
        if let Some(poll) = &self.poll {
            if !(MIN_POLL_SECONDS..=MAX_POLL_SECONDS).contains(&poll.every_seconds) {
                return Err(TriggerConfigError::Poll);
            }
            if self.on == TriggerOn::Unlink {
                return Err(TriggerConfigError::PollUnlink);
            }
        }
        Ok(())
    }

    /// Whether `presented` is this trigger's key (or the previous one within its grace period); both hashes are
    /// always compared.
    pub fn accepts_key(&self, presented: &str, now: OffsetDateTime) -> bool {
        let current = self.key.current.matches(presented);
        let previous = self
            .key
            .previous
            .as_ref()
            .is_some_and(|p| p.hash.matches(presented) & (now < p.valid_until));
        current | previous
    }

    /// A new key; with a grace period the old one keeps working until it ends (Odoo's URL is changed meanwhile).
    pub fn rotate_key(&mut self, grace: Option<Duration>, now: OffsetDateTime) -> PlainSecret {
        let key = PlainSecret::generate();
        let old = std::mem::replace(&mut self.key.current, key.hash());
        self.key.previous = grace.filter(|g| g.is_positive()).map(|g| PreviousSecret {
            hash: old,
            valid_until: now + g,
        });
        key
    }
}

/// The trigger `presented` is the key of. Every trigger's hashes are compared, so timing tells nothing about
/// which one (or whether any) matched.
pub fn trigger_for_key<'a>(
    triggers: &'a [NativeTrigger],
    presented: &str,
    now: OffsetDateTime,
) -> Option<&'a NativeTrigger> {
    let mut found = None;
    for trigger in triggers {
        if trigger.accepts_key(presented, now) && found.is_none() {
            found = Some(trigger);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigger_kinds_read_and_print_alike() {
        for text in ["create", "write", "create_or_write", "unlink", "state:sale"] {
            assert_eq!(text.parse::<TriggerOn>().unwrap().to_string(), text);
        }
        for bad in ["", "save", "state:", "state:a b", "state:1x"] {
            assert!(bad.parse::<TriggerOn>().is_err(), "{bad}");
        }
        assert_eq!(
            "state:sale".parse::<TriggerOn>().unwrap().odoo_trigger(),
            "on_state_set"
        );
    }

    #[test]
    fn keys_match_their_trigger_only_and_rotation_keeps_the_old_one_for_the_grace_period() {
        let now = OffsetDateTime::now_utc();
        let model: ModelName = "res.partner".parse().unwrap();
        let (mut a, key_a) = NativeTrigger::create(model.clone(), TriggerOn::Create, now);
        let (b, key_b) = NativeTrigger::create(model, TriggerOn::Write, now);
        let both = vec![a.clone(), b.clone()];
        assert_eq!(trigger_for_key(&both, key_a.expose(), now).unwrap().id, a.id);
        assert_eq!(trigger_for_key(&both, key_b.expose(), now).unwrap().id, b.id);
        assert!(trigger_for_key(&both, "bcw_nope", now).is_none());
        let new = a.rotate_key(Some(Duration::minutes(5)), now);
        assert!(a.accepts_key(new.expose(), now) && a.accepts_key(key_a.expose(), now));
        assert!(!a.accepts_key(key_a.expose(), now + Duration::minutes(6)));
        a.rotate_key(None, now);
        assert!(!a.accepts_key(new.expose(), now));
    }

    #[test]
    fn bad_settings_are_named() {
        let now = OffsetDateTime::now_utc();
        let (mut t, _) = NativeTrigger::create("res.partner".parse().unwrap(), TriggerOn::Unlink, now);
        t.watch = vec!["name; drop".into()];
        assert!(matches!(t.validate(), Err(TriggerConfigError::Field(_))));
        t.watch = vec!["name".into()];
        t.poll = Some(PollSettings {
            every_seconds: 60,
            cursor: PollCursor::default(),
        });
        assert_eq!(t.validate(), Err(TriggerConfigError::PollUnlink));
        t.on = TriggerOn::Write;
        assert_eq!(t.validate(), Ok(()));
        t.poll.as_mut().unwrap().every_seconds = 1;
        assert_eq!(t.validate(), Err(TriggerConfigError::Poll));
    }
}
