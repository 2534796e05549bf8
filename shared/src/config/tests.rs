//! Unit tests of the webhook configuration model.

use super::*;
use time::macros::datetime;

/// A webhook on the local Odoo that may change res.partner (also used by the store tests).
pub(crate) fn new_webhook() -> NewWebhook {
    NewWebhook {
        name: "n8n".into(),
        odoo: OdooConnection {
            url: "http://127.0.0.1:8069".into(),
            db: "odoo18".into(),
            login: "admin".into(),
            api_key: "odoo-key".into(),
        },
        models: ModelAccess::Only(["res.partner".parse().unwrap()].into()),
        permissions: Permissions::default(),
    }
}

const NOW: OffsetDateTime = datetime!(2026-11-28 10:00 UTC);

#[test]
fn create_applies_the_original_defaults() {
    let (config, secret) = WebhookConfig::create(new_webhook(), NOW);
    assert!(config.enabled);
    assert_eq!(
        config.permissions,
        Permissions {
            can_create: true,
            can_write: true,
            can_unlink: false
        }
    );
    assert_eq!(config.allowed_verbs, vec![HttpVerb::Post]);
    assert_eq!(config.limits.default_search_limit, 80);
    assert!(config.accepts_secret(secret.expose(), NOW));
    assert!(!config.accepts_secret("nope", NOW));
}

#[test]
fn rotation_with_grace_keeps_the_old_secret_until_it_ends() {
    let (mut config, old) = WebhookConfig::create(new_webhook(), NOW);
    let new = config.rotate_secret(Some(Duration::minutes(10)), NOW);
    assert!(config.accepts_secret(new.expose(), NOW));
    assert!(config.accepts_secret(old.expose(), NOW + Duration::minutes(9)));
    assert!(!config.accepts_secret(old.expose(), NOW + Duration::minutes(10)));
}

#[test]
fn rotation_without_grace_drops_the_old_secret_at_once() {
    let (mut config, old) = WebhookConfig::create(new_webhook(), NOW);
    let new = config.rotate_secret(None, NOW);
    assert!(config.accepts_secret(new.expose(), NOW));
    assert!(!config.accepts_secret(old.expose(), NOW));
}

#[test]
fn model_access_is_explicit() {
    let (config, _) = WebhookConfig::create(new_webhook(), NOW);
    assert!(config.allows_model(&"res.partner".parse().unwrap()));
    assert!(!config.allows_model(&"res.users".parse().unwrap()));
    assert!(ModelAccess::All.allows(&"res.users".parse().unwrap()));
}

#[test]
fn model_names_are_validated() {
    for bad in [
        "",
        "Res.Partner",
        "res..partner",
        "res.partner.",
        ".res",
        "res partner",
        "1abc",
    ] {
        assert!(bad.parse::<ModelName>().is_err(), "{bad:?} should be rejected");
    }
    assert!("sale.order.line".parse::<ModelName>().is_ok());
}

#[test]
fn field_rules_deny_wins_over_allow() {
    let rule = FieldRule {
        allow: Some(["name".into(), "email".into()].into()),
        deny: ["email".into()].into(),
    };
    assert!(rule.permits("name"));
    assert!(!rule.permits("email"));
    assert!(!rule.permits("phone"));
    assert!(FieldRule::default().permits("anything"));
}

#[test]
fn config_round_trips_through_json_without_clear_secrets() {
    let (config, secret) = WebhookConfig::create(new_webhook(), NOW);
    let json = serde_json::to_string(&config).unwrap();
    assert!(!json.contains(secret.expose()));
    let back: WebhookConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(back, config);
    assert!(!format!("{config:?}").contains("odoo-key"));
}

#[test]
fn callable_methods_default_to_none_and_round_trip() {
    let (mut config, _) = WebhookConfig::create(new_webhook(), NOW);
    let partner: ModelName = "res.partner".parse().unwrap();
    assert!(!config.allows_call(&partner, "message_post"));
    let mut stored = serde_json::to_value(&config).unwrap();
    assert!(
        stored.get("callable").is_none(),
        "an empty allow-list is not written"
    );
    stored.as_object_mut().unwrap().remove("callable");
    let old: WebhookConfig = serde_json::from_value(stored).unwrap();
    assert!(
        old.callable.is_empty(),
        "a record stored before the allow-list existed reads as none"
    );
    config.callable = ["*:message_post".parse().unwrap()].into();
    let back: WebhookConfig = serde_json::from_value(serde_json::to_value(&config).unwrap()).unwrap();
    assert!(back.allows_call(&partner, "message_post"));
    assert!(!back.allows_call(&partner, "action_confirm"));
    // A stored entry naming a method that is never callable still reads, and never allows the call.
    let mut stored = serde_json::to_value(&config).unwrap();
    stored["callable"] = serde_json::json!(["*:sudo", "res.partner:_private"]);
    let stored: WebhookConfig = serde_json::from_value(stored).unwrap();
    assert!(!stored.allows_call(&partner, "sudo"));
    assert!(!stored.allows_call(&partner, "_private"));
}
