//! `default_get` values of every model, as the recording server answered them for all fields (fresh database):
//! constants, plus what Odoo computes on each call (the current time, the user, random colours and tokens).

use std::hash::BuildHasher;

use serde_json::{Map, Value, json};

use crate::db::Record;
use crate::error::{OdooError, OdooResult};
use crate::orm::Env;
use crate::registry::Model;

/// Odoo's default company logo (`base/static/img/res_company_logo.png`), base64 as `default_get` returns it.
const COMPANY_LOGO: &str = include_str!("company_logo.b64");

/// Models whose `default_get` override lacks `@api.model`: over RPC the first positional argument is the ids.
const DEFAULT_GET_TAKES_IDS: &[&str] = &["account.move.line", "product.template"];

/// Tag colours are drawn with `randint(1, 11)`.
const TAG_COLORS: u64 = 11;
/// Length of a new channel's `uuid` token.
const CHANNEL_UUID_LEN: usize = 10;

/// Whether `model.default_get` takes the ids first (see [`DEFAULT_GET_TAKES_IDS`]).
pub fn takes_ids(model: &str) -> bool {
    DEFAULT_GET_TAKES_IDS.contains(&model)
}

/// Whether computing the defaults of `fields` creates records (res.company creates a batch payment sequence).
pub fn creates_records(model: &str, fields: &[String]) -> bool {
    model == "res.company" && fields.iter().any(|f| f == "batch_payment_sequence_id")
}

/// What a `default_get` call may need besides the environment.
#[derive(Debug, Default, Clone, Copy)]
pub struct Extra {
    /// Id of the ir.sequence this call created, when [`creates_records`].
    pub new_sequence: Option<i64>,
}

/// Every default of `model`, in the form `default_get` answers (x2many values as commands).
pub fn values(env: &Env<'_>, model: &Model, extra: Extra) -> Record {
    let (now, today) = crate::db::now();
    let d = match model.name.as_str() {
        "account.journal" => {
            json!({"active": true, "autocheck_on_post": true, "bank_statements_source": "undefined",
            "color": 0, "company_id": 1, "invoice_reference_model": "odoo", "invoice_reference_type": "invoice",
            "sequence": 10, "show_on_dashboard": true})
        }
        "account.move" => json!({"auto_post": "no", "invoice_incoterm_id": false, "move_type": "entry",
            "state": "draft", "team_id": 1}),
        "crm.lead" => json!({"active": true, "color": 0, "expected_revenue": 0.0, "message_bounce": 0,
            "priority": "0", "recurring_revenue": 0.0, "type": "opportunity", "user_id": env.uid}),
        "crm.stage" => json!({"sequence": 1}),
        "crm.tag" => json!({"color": tag_color()}),
        "discuss.channel" => json!({"active": true, "allow_public_upload": false, "channel_type": "channel",
            "uuid": token(CHANNEL_UUID_LEN)}),
        "mail.message" => {
            let (author, from) = author(env);
            json!({"body": "", "date": now, "email_add_signature": true, "message_type": "comment",
                "email_from": from, "author_id": author})
        }
        "product.category" => {
            json!({"property_account_expense_categ_id": 33, "property_account_income_categ_id": 27})
        }
        "product.product" | "product.template" => {
            json!({"active": true, "categ_id": 1, "expense_policy": "no",
            "list_price": 1.0, "purchase_ok": true, "sale_line_warn": "no-message", "sale_ok": true, "sequence": 1,
            "service_tracking": "no", "supplier_taxes_id": [[6, 0, [2]]], "taxes_id": [[6, 0, [1]]], "type": "consu",
            "uom_id": 1})
        }
        "res.company" => json!({"account_opening_date": format!("{}-01-01", &today[..4]),
            "account_price_include": "tax_excluded", "active": true, "alias_domain_id": false, "autopost_bills": true,
            "batch_payment_sequence_id": extra.new_sequence.map_or(json!(false), Value::from), "currency_id": 1,
            "display_invoice_tax_company_currency": true, "expects_chart_of_accounts": true,
            "fiscalyear_last_day": 31, "fiscalyear_last_month": "12", "font": "Lato", "layout_background": "Blank",
            "logo": COMPANY_LOGO.trim(), "paperformat_id": 1, "portal_confirmation_sign": true,
            "prepayment_percent": 1.0, "quotation_validity_days": 30, "sequence": 10, "snailmail_color": true,
            "snailmail_cover": false, "snailmail_duplex": false, "tax_calculation_rounding_method": "round_per_line",
            "terms_type": "plain"}),
        "res.country" => {
            json!({"address_format": "%(street)s\n%(street2)s\n%(city)s %(state_code)s %(zip)s\n%(country_name)s",
            "name_position": "before", "state_required": false, "zip_required": true})
        }
        "res.currency" => {
            json!({"active": true, "fiscal_country_codes": "US", "position": "after", "rounding": 0.01})
        }
        "res.partner" => partner(env, &now),
        "res.partner.category" => json!({"active": true, "color": tag_color()}),
        "res.users" => {
            let mut u = partner(env, &now);
            let groups = json!({"active": true, "company_id": 1, "company_ids": [[6, 0, [1]]],
                "groups_id": [[6, 0, [8, 23, 29, 13, 9, 1, 26, 19, 20, 43, 7, 22, 21]]], "notification_type": "email",
                "in_group_12": false, "in_group_14": false, "in_group_15": false, "in_group_16": false,
                "in_group_17": false, "in_group_18": false, "in_group_19": true, "in_group_20": true,
                "in_group_24": false, "in_group_3": false, "in_group_30": false, "in_group_31": false,
                "in_group_32": false, "in_group_33": false, "in_group_34": false, "in_group_36": false,
                "in_group_37": false, "in_group_39": false, "in_group_40": false, "in_group_41": false,
                "in_group_42": false, "in_group_43": true, "in_group_5": false, "in_group_6": false,
                "in_group_7": true, "in_group_8": true, "in_group_9": true, "sel_groups_13": 13,
                "sel_groups_1_10_11": 1, "sel_groups_21_22_23": 23, "sel_groups_26_29": 29, "sel_groups_2_4": false,
                "sel_groups_35": false, "sel_groups_38": false});
            merge(&mut u, groups);
            u
        }
        "sale.order" => {
            json!({"company_id": 1, "date_order": now, "locked": false, "name": "New", "state": "draft"})
        }
        "sale.order.line" => json!({"analytic_precision": 2, "display_type": false, "product_uom_qty": 1.0,
            "qty_delivered": 0.0, "sequence": 10}),
        "uom.uom" => json!({"active": true, "factor": 1.0, "rounding": 0.01, "uom_type": "reference"}),
        // Not recorded (account.move.line's defaults depend on the move in the context): none but the context's.
        _ if model.has_active() => json!({"active": true}),
        _ => json!({}),
    };
    let mut d = d.as_object().cloned().unwrap_or_default();
    d.retain(|k, _| model.field(k).is_some());
    for (k, v) in env.ctx {
        if let Some(f) = k.strip_prefix("default_")
            && model.field(f).is_some()
        {
            d.insert(f.to_owned(), v.clone());
        }
    }
    d
}

/// `default_get(fields)`: the defaults of the fields asked for, failing where Odoo's default method fails.
pub fn default_get(
    env: &Env<'_>,
    model: &Model,
    fields: &[String],
    extra: Extra,
) -> OdooResult<Map<String, Value>> {
    let d = values(env, model, extra);
    if model.name == "mail.message"
        && fields.iter().any(|f| f == "email_from")
        && d["email_from"] == json!(false)
    {
        return Err(OdooError::user(
            "Unable to post message, please configure the sender's email address.",
        ));
    }
    Ok(fields
        .iter()
        .filter_map(|f| d.get(f).map(|v| (f.clone(), v.clone())))
        .collect())
}

fn partner(env: &Env<'_>, now: &str) -> Value {
    json!({"active": true, "autopost_bills": "ask", "calendar_last_notif_ack": now, "category_id": [[6, 0, []]],
        "color": 0, "customer_rank": 0, "display_invoice_edi_format": true,
        "display_invoice_template_pdf_report_id": false, "invoice_warn": "no-message", "is_company": false,
        "lang": env.ctx.get("lang").cloned().unwrap_or(json!("en_US")), "message_bounce": 0,
        "property_account_payable_id": 16, "property_account_receivable_id": 7, "sale_warn": "no-message",
        "show_credit_limit": false, "supplier_rank": 0, "trust": "normal", "type": "contact",
        "tz": env.ctx.get("tz").cloned().unwrap_or(json!(false))})
}

fn merge(into: &mut Value, from: Value) {
    if let (Some(a), Value::Object(b)) = (into.as_object_mut(), from) {
        a.extend(b);
    }
}

/// (partner, `"Name" <email>` or `false`) of the acting user.
pub fn author(env: &Env<'_>) -> (Value, Value) {
    let partner = env
        .db
        .row("res.users", env.uid)
        .and_then(|u| u.get("partner_id"))
        .and_then(Value::as_i64);
    let formatted = partner.and_then(|p| env.db.row("res.partner", p)).and_then(|p| {
        let name = p.get("name").and_then(Value::as_str)?;
        let email = p.get("email").and_then(Value::as_str).filter(|e| !e.is_empty())?;
        Some(json!(format!("\"{name}\" <{email}>")))
    });
    (
        partner.map_or(json!(false), Value::from),
        formatted.unwrap_or(json!(false)),
    )
}

pub(crate) fn random() -> u64 {
    std::collections::hash_map::RandomState::new().hash_one(std::time::SystemTime::now())
}

fn tag_color() -> u64 {
    1 + random() % TAG_COLORS
}

/// A random token of ASCII letters and digits.
fn token(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..len)
        .map(|_| char::from(ALPHABET[(random() % ALPHABET.len() as u64) as usize]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_colours() {
        let t = token(CHANNEL_UUID_LEN);
        assert_eq!(t.len(), CHANNEL_UUID_LEN);
        assert!(t.chars().all(|c| c.is_ascii_alphanumeric()));
        for _ in 0..100 {
            assert!((1..=TAG_COLORS).contains(&tag_color()));
        }
    }

    #[test]
    fn the_logo_is_a_png() {
        assert!(COMPANY_LOGO.starts_with("iVBORw0KGgo"));
    }
}
