//! Field definitions of the automation models (`ir.model`, `ir.model.fields`, `ir.model.fields.selection`,
//! `ir.actions.server`, `base.automation`, `ir.module.module`), as Odoo 18's `fields_get` describes them.

use serde_json::{Map, Value, json};

use crate::registry::{Registry, add_field, empty_model, field_from_attrs};

/// Model added by the `base_automation` module: absent until the module is installed.
pub const AUTOMATION_MODEL: &str = "base.automation";
/// Field of `ir.actions.server` that `base_automation` adds.
pub const ACTION_RULE_FIELD: &str = "base_automation_id";

/// `ir.actions.server.state` (value, label); the label is also the name a linked action is given.
pub const ACTION_STATES: &[(&str, &str)] = &[
    ("object_write", "Update Record"),
    ("next_activity", "Create Activity"),
    ("mail_post", "Send Email"),
    ("sms", "Send SMS"),
    ("followers", "Add Followers"),
    ("remove_followers", "Remove Followers"),
    ("object_create", "Create Record"),
    ("code", "Execute Code"),
    ("webhook", "Send Webhook Notification"),
    ("multi", "Execute Existing Actions"),
];

/// `base.automation.trigger` (value, label).
pub const TRIGGERS: &[(&str, &str)] = &[
    ("on_stage_set", "Stage is set to"),
    ("on_user_set", "User is set"),
    ("on_tag_set", "Tag is added"),
    ("on_state_set", "State is set to"),
    ("on_priority_set", "Priority is set to"),
    ("on_archive", "On archived"),
    ("on_unarchive", "On unarchived"),
    ("on_create_or_write", "On save"),
    ("on_create", "On creation"),
    ("on_write", "On update"),
    ("on_unlink", "On deletion"),
    ("on_change", "On UI change"),
    ("on_time", "Based on date field"),
    ("on_time_created", "After creation"),
    ("on_time_updated", "After last update"),
    ("on_message_received", "On incoming message"),
    ("on_message_sent", "On outgoing message"),
    ("on_webhook", "On webhook"),
];

const USAGES: &[(&str, &str)] = &[
    ("ir_actions_server", "Server Action"),
    ("ir_cron", "Scheduled Action"),
    ("base_automation", "Automation Rule"),
];

const MODULE_STATES: &[(&str, &str)] = &[
    ("uninstallable", "Uninstallable"),
    ("uninstalled", "Not Installed"),
    ("installed", "Installed"),
    ("to upgrade", "To be upgraded"),
    ("to remove", "To be removed"),
    ("to install", "To be installed"),
];

/// One field description: name, type, label, then the attributes that differ from a plain stored field.
struct Def {
    name: &'static str,
    ttype: &'static str,
    string: &'static str,
    extra: Value,
}

fn d(name: &'static str, ttype: &'static str, string: &'static str, extra: Value) -> Def {
    Def {
        name,
        ttype,
        string,
        extra,
    }
}

fn selection(options: &[(&str, &str)]) -> Value {
    Value::Array(options.iter().map(|(v, l)| json!([v, l])).collect())
}

fn attrs(def: &Def) -> Map<String, Value> {
    let mut a = Map::new();
    for (k, v) in [
        ("change_default", json!(false)),
        ("company_dependent", json!(false)),
        ("depends", json!([])),
        ("exportable", json!(true)),
        ("manual", json!(false)),
        ("readonly", json!(false)),
        ("required", json!(false)),
        ("searchable", json!(true)),
        ("sortable", json!(true)),
        ("store", json!(true)),
    ] {
        a.insert(k.into(), v);
    }
    a.insert("name".into(), json!(def.name));
    a.insert("type".into(), json!(def.ttype));
    a.insert("string".into(), json!(def.string));
    if let Value::Object(extra) = &def.extra {
        for (k, v) in extra {
            a.insert(k.clone(), v.clone());
        }
    }
    let stored = a.get("store") == Some(&json!(true));
    a.insert("groupable".into(), json!(stored && def.ttype != "one2many"));
    if !stored {
        a.insert("sortable".into(), json!(false));
    }
    a
}

/// Fields common to every model: the ORM's magic columns.
fn magic() -> Vec<Def> {
    vec![
        d("id", "integer", "ID", json!({"readonly": true})),
        d(
            "display_name",
            "char",
            "Display Name",
            json!({"store": false, "readonly": true, "searchable": false}),
        ),
        d(
            "create_uid",
            "many2one",
            "Created by",
            json!({"relation": "res.users", "readonly": true}),
        ),
        d("create_date", "datetime", "Created on", json!({"readonly": true})),
        d(
            "write_uid",
            "many2one",
            "Last Updated by",
            json!({"relation": "res.users", "readonly": true}),
        ),
        d(
            "write_date",
            "datetime",
            "Last Updated on",
            json!({"readonly": true}),
        ),
    ]
}

fn ir_model() -> Vec<Def> {
    vec![
        d("name", "char", "Model Description", json!({"required": true})),
        d("model", "char", "Model", json!({"required": true})),
        d("order", "char", "Order", json!({"required": true})),
        d("info", "text", "Information", json!({})),
        d(
            "field_id",
            "one2many",
            "Fields",
            json!({"relation": "ir.model.fields", "relation_field": "model_id", "required": true}),
        ),
        d(
            "state",
            "selection",
            "Type",
            json!({"selection": selection(&[("manual", "Custom Object"), ("base", "Base Object")])}),
        ),
        d("transient", "boolean", "Transient Model", json!({})),
        d(
            "modules",
            "char",
            "In Apps",
            json!({"store": false, "readonly": true, "searchable": false}),
        ),
        d("is_mail_thread", "boolean", "Has Mail Thread", json!({})),
    ]
}

fn ir_model_fields() -> Vec<Def> {
    vec![
        d("name", "char", "Field Name", json!({"required": true})),
        d("complete_name", "char", "Complete Name", json!({})),
        d("model", "char", "Model Name", json!({"required": true})),
        d(
            "model_id",
            "many2one",
            "Model",
            json!({"relation": "ir.model", "required": true}),
        ),
        d(
            "field_description",
            "char",
            "Field Label",
            json!({"required": true}),
        ),
        d("help", "text", "Field Help", json!({})),
        d("ttype", "char", "Field Type", json!({"required": true})),
        d("relation", "char", "Related Model", json!({})),
        d("relation_field", "char", "Related Field", json!({})),
        d("related", "char", "Related Field Definition", json!({})),
        d("required", "boolean", "Required", json!({})),
        d("readonly", "boolean", "Readonly", json!({})),
        d("store", "boolean", "Stored", json!({})),
        d(
            "state",
            "selection",
            "Type",
            json!({"selection": selection(&[("manual", "Custom Field"), ("base", "Base Field")])}),
        ),
        d(
            "selection_ids",
            "one2many",
            "Selection Options",
            json!({"relation": "ir.model.fields.selection", "relation_field": "field_id"}),
        ),
    ]
}

fn ir_model_fields_selection() -> Vec<Def> {
    vec![
        d(
            "field_id",
            "many2one",
            "Field",
            json!({"relation": "ir.model.fields", "required": true}),
        ),
        d("value", "char", "Value", json!({"required": true})),
        d("name", "char", "Name", json!({"required": true})),
        d("sequence", "integer", "Sequence", json!({})),
    ]
}

fn ir_actions_server() -> Vec<Def> {
    vec![
        d("name", "char", "Action Name", json!({"required": true})),
        d("type", "char", "Action Type", json!({"required": true})),
        d(
            "usage",
            "selection",
            "Usage",
            json!({"selection": selection(USAGES), "required": true}),
        ),
        d(
            "state",
            "selection",
            "Type",
            json!({"selection": selection(ACTION_STATES), "required": true}),
        ),
        d("sequence", "integer", "Sequence", json!({})),
        d(
            "model_id",
            "many2one",
            "Model",
            json!({"relation": "ir.model", "required": true}),
        ),
        d(
            "model_name",
            "char",
            "Model Name",
            json!({"related": "model_id.model", "readonly": true, "depends": ["model_id.model"]}),
        ),
        d("code", "text", "Python Code", json!({})),
        d(
            "child_ids",
            "many2many",
            "Child Actions",
            json!({"relation": "ir.actions.server"}),
        ),
        d("webhook_url", "char", "Webhook URL", json!({})),
        d(
            "webhook_field_ids",
            "many2many",
            "Webhook Fields",
            json!({"relation": "ir.model.fields"}),
        ),
        d(
            "webhook_sample_payload",
            "text",
            "Sample Payload",
            json!({"store": false, "readonly": true, "searchable": false,
                   "depends": ["state", "model_id", "webhook_field_ids", "name"]}),
        ),
        d(
            ACTION_RULE_FIELD,
            "many2one",
            "Automation Rule",
            json!({"relation": AUTOMATION_MODEL}),
        ),
    ]
}

fn base_automation() -> Vec<Def> {
    vec![
        d("name", "char", "Automation Rule Name", json!({"required": true})),
        d("description", "html", "Description", json!({})),
        d(
            "model_id",
            "many2one",
            "Model",
            json!({"relation": "ir.model", "required": true}),
        ),
        d(
            "model_name",
            "char",
            "Model Name",
            json!({"related": "model_id.model", "readonly": true, "store": false, "depends": ["model_id.model"]}),
        ),
        d(
            "action_server_ids",
            "one2many",
            "Actions",
            json!({"relation": "ir.actions.server", "relation_field": ACTION_RULE_FIELD}),
        ),
        d(
            "url",
            "char",
            "Url",
            json!({"store": false, "readonly": true, "searchable": false, "depends": ["trigger", "webhook_uuid"]}),
        ),
        d("webhook_uuid", "char", "Webhook UUID", json!({"readonly": true})),
        d("record_getter", "char", "Record Getter", json!({})),
        d("log_webhook_calls", "boolean", "Log Calls", json!({})),
        d("active", "boolean", "Active", json!({})),
        d(
            "trigger",
            "selection",
            "Trigger",
            json!({"selection": selection(TRIGGERS), "required": true,
                   "depends": ["trigger_field_ids"]}),
        ),
        d(
            "trg_selection_field_id",
            "many2one",
            "Trigger Field",
            json!({"relation": "ir.model.fields.selection", "depends": ["trigger", "trigger_field_ids"]}),
        ),
        d(
            "trg_field_ref_model_name",
            "char",
            "Trigger Field Model",
            json!({"store": false, "readonly": true, "searchable": false, "depends": ["trigger", "trigger_field_ids"]}),
        ),
        d(
            "trg_field_ref",
            "many2one_reference",
            "Trigger Reference",
            json!({"model_field": "trg_field_ref_model_name", "depends": ["trigger", "trigger_field_ids"]}),
        ),
        d(
            "trigger_field_ids",
            "many2many",
            "Trigger Fields",
            json!({"relation": "ir.model.fields", "depends": ["model_id", "trigger"]}),
        ),
        d(
            "filter_pre_domain",
            "char",
            "Before Update Domain",
            json!({"depends": ["trigger", "trigger_field_ids", "trg_field_ref"]}),
        ),
        d(
            "filter_domain",
            "char",
            "Apply on",
            json!({"depends": ["trigger", "trigger_field_ids", "trg_selection_field_id", "trg_field_ref"]}),
        ),
        d(
            "on_change_field_ids",
            "many2many",
            "On Change Fields Trigger",
            json!({"relation": "ir.model.fields"}),
        ),
        d(
            "trg_date_id",
            "many2one",
            "Trigger Date",
            json!({"relation": "ir.model.fields"}),
        ),
        d("trg_date_range", "integer", "Delay", json!({})),
        d("last_run", "datetime", "Last Run", json!({"readonly": true})),
    ]
}

fn ir_module_module() -> Vec<Def> {
    vec![
        d(
            "name",
            "char",
            "Technical Name",
            json!({"required": true, "readonly": true}),
        ),
        d("shortdesc", "char", "Module Name", json!({"readonly": true})),
        d("summary", "char", "Summary", json!({"readonly": true})),
        d(
            "state",
            "selection",
            "Status",
            json!({"selection": selection(MODULE_STATES), "readonly": true}),
        ),
        d("application", "boolean", "Application", json!({"readonly": true})),
        d(
            "latest_version",
            "char",
            "Installed Version",
            json!({"readonly": true}),
        ),
    ]
}

/// Adds the automation models to the registry.
pub fn register(reg: &mut Registry) {
    let models: [(&str, Vec<Def>); 6] = [
        ("ir.model", ir_model()),
        ("ir.model.fields", ir_model_fields()),
        ("ir.model.fields.selection", ir_model_fields_selection()),
        ("ir.actions.server", ir_actions_server()),
        (AUTOMATION_MODEL, base_automation()),
        ("ir.module.module", ir_module_module()),
    ];
    for (name, defs) in models {
        let mut model = empty_model(name);
        for def in defs.iter().chain(magic().iter()) {
            add_field(&mut model, field_from_attrs(def.name, &attrs(def)));
        }
        reg.models.insert(name.to_owned(), model);
    }
}
