//! Non-stored fields the simulator computes from other rows (counters, flags, derived values), as Odoo's
//! `_compute_*` methods do; they take precedence over values the corpus recorded for demo rows.

use serde_json::{Map, Value, json};

use crate::db::Record;
use crate::domain::{self, Node};
use crate::orm::{Env, search};
use crate::registry::{Field, Model};

/// (model, field) of every value [`value`] computes.
const COMPUTED: &[(&str, &str)] = &[
    ("crm.lead", "company_currency"),
    ("crm.lead", "quotation_count"),
    ("crm.lead", "sale_order_count"),
    ("product.template", "product_variant_count"),
    ("res.country", "image_url"),
    ("res.partner", "company_type"),
    ("res.partner", "opportunity_count"),
    ("res.partner", "sale_order_count"),
];

/// Countries whose flag is another country's (`res.country.FLAG_MAPPING`) and countries without a flag.
const FLAG_MAPPING: &[(&str, &str)] = &[
    ("GF", "fr"),
    ("BV", "no"),
    ("BQ", "nl"),
    ("GP", "fr"),
    ("HM", "au"),
    ("YT", "fr"),
    ("RE", "fr"),
    ("MF", "fr"),
    ("UM", "us"),
];
const NO_FLAG_COUNTRIES: &[&str] = &["AQ", "SJ"];

/// Whether the simulator computes `model.field`.
pub fn computes(model: &str, field: &str) -> bool {
    COMPUTED.iter().any(|(m, f)| *m == model && *f == field)
}

/// The computed value of `field` for row `id`, if the simulator computes it.
pub fn value(env: &Env<'_>, model: &Model, id: i64, rec: &Record, field: &Field) -> Option<Value> {
    Some(match (model.name.as_str(), field.name.as_str()) {
        ("crm.lead", "company_currency") => json!(1),
        ("crm.lead", "quotation_count") => json!(order_count(env, model, id, rec, |s| matches!(
            s,
            "draft" | "sent"
        ))),
        ("crm.lead", "sale_order_count") => json!(order_count(env, model, id, rec, |s| {
            !matches!(s, "draft" | "sent" | "cancel")
        })),
        ("product.template", "product_variant_count") => {
            let variants = model.field("product_variant_ids")?;
            json!(env.x2many_ids(model, id, rec, variants).len())
        }
        ("res.country", "image_url") => match rec.get("code").and_then(Value::as_str) {
            Some(code) if !code.is_empty() && !NO_FLAG_COUNTRIES.contains(&code) => {
                let flag = FLAG_MAPPING
                    .iter()
                    .find(|(c, _)| *c == code)
                    .map_or_else(|| code.to_lowercase(), |(_, f)| (*f).to_owned());
                json!(format!("/base/static/img/country_flags/{flag}.png"))
            }
            _ => json!(false),
        },
        ("res.partner", "company_type") => {
            json!(if rec.get("is_company") == Some(&Value::Bool(true)) {
                "company"
            } else {
                "person"
            })
        }
        ("res.partner", "opportunity_count") => json!(partner_count(env, "crm.lead", id)),
        ("res.partner", "sale_order_count") => json!(partner_count(env, "sale.order", id)),
        _ => return None,
    })
}

/// Orders of a lead (`order_ids`) whose state passes `keep`.
fn order_count(env: &Env<'_>, model: &Model, id: i64, rec: &Record, keep: impl Fn(&str) -> bool) -> usize {
    let Some(field) = model.field("order_ids") else {
        return 0;
    };
    env.x2many_ids(model, id, rec, field)
        .into_iter()
        .filter(|o| {
            env.db
                .row("sale.order", *o)
                .and_then(|r| r.get("state"))
                .and_then(Value::as_str)
                .is_some_and(&keep)
        })
        .count()
}

/// Records of `target` (leads or orders, archived included, record rules applied) whose customer is the partner
/// or one of its descendants.
fn partner_count(env: &Env<'_>, target: &str, partner: i64) -> usize {
    let Some(model) = env.model(target) else {
        return 0;
    };
    let mut ctx = Map::new();
    ctx.insert("active_test".into(), Value::Bool(false));
    let env = env.with_ctx(&ctx);
    let node = domain::parse(&json!([["partner_id", "child_of", partner]])).unwrap_or(Node::False);
    search::filter_node(&env, model, node).map_or(0, |ids| ids.len())
}
