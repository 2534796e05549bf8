//! crm.lead: defaults, stage and team on create, contact fields from the customer, stage change dates.

use serde_json::{Map, Value, json};

use crate::db::Record;
use crate::error::OdooResult;
use crate::orm::create::MutEnv;

/// First stage of the pipeline ("New") and the default sales team ("Sales").
const FIRST_STAGE: i64 = 1;
const DEFAULT_TEAM: i64 = 1;

/// Probability of a stage when predictive scoring has no data (the stage's own rate).
fn stage_probability(stage: i64) -> f64 {
    match stage {
        4 => 100.0,
        3 => 70.0,
        2 => 30.0,
        _ => 10.0,
    }
}

pub fn before_create(m: &mut MutEnv<'_>, row: &mut Record) -> OdooResult<()> {
    let now = m.now.clone();
    for (k, v) in [
        ("stage_id", json!(FIRST_STAGE)),
        ("team_id", json!(DEFAULT_TEAM)),
        ("company_id", json!(1)),
        ("expected_revenue", json!(0.0)),
        ("date_last_stage_update", json!(now)),
        ("tag_ids", json!([])),
    ] {
        row.entry(k).or_insert(v);
    }
    if row.get("user_id").is_some_and(Value::is_i64) {
        row.entry("date_open").or_insert(json!(now));
    }
    let stage = row.get("stage_id").and_then(Value::as_i64).unwrap_or(FIRST_STAGE);
    row.entry("probability")
        .or_insert(json!(stage_probability(stage)));
    if let Some(p) = row
        .get("partner_id")
        .and_then(Value::as_i64)
        .and_then(|p| m.db.row("res.partner", p))
        .cloned()
    {
        let is_company = p.get("is_company") == Some(&Value::Bool(true));
        row.entry("email_from")
            .or_insert(p.get("email").cloned().unwrap_or(json!(false)));
        row.entry("phone")
            .or_insert(p.get("phone").cloned().unwrap_or(json!(false)));
        let company = if is_company {
            p.get("name").cloned()
        } else {
            p.get("commercial_company_name").cloned()
        };
        row.entry("partner_name")
            .or_insert(company.unwrap_or(json!(false)));
        row.entry("contact_name").or_insert(if is_company {
            json!(false)
        } else {
            p.get("name").cloned().unwrap_or(json!(false))
        });
    }
    Ok(())
}

pub fn after_write(m: &mut MutEnv<'_>, id: i64, changed: &Map<String, Value>) {
    if !changed.contains_key("stage_id") {
        return;
    }
    let now = m.now.clone();
    if let Some(row) = m.db.row_mut("crm.lead", id) {
        row.insert("date_last_stage_update".into(), json!(now));
        let stage = row.get("stage_id").and_then(Value::as_i64).unwrap_or(FIRST_STAGE);
        row.insert("probability".into(), json!(stage_probability(stage)));
    }
}
