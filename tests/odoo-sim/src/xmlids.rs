//! `ir.model.data`: the external ids of the demo records (countries as `base.<code>`, the main company, its
//! partner, the admin user and partner, the message subtypes), derived from the corpus's data at load time.

use serde_json::{Value, json};

/// Fixed external ids of the demo database: (module, name, model, res_id).
const FIXED: &[(&str, &str, &str, i64)] = &[
    ("base", "main_company", "res.company", 1),
    ("base", "main_partner", "res.partner", 1),
    ("base", "partner_admin", "res.partner", 3),
    ("base", "user_admin", "res.users", 2),
    ("base", "res_partner_2", "res.partner", 10),
    ("base", "res_partner_12", "res.partner", 15),
    ("mail", "mt_comment", "mail.message.subtype", 1),
    ("mail", "mt_note", "mail.message.subtype", 2),
];

/// A data file (same shape as the corpus's) holding the `ir.model.data` rows for `data`'s records.
pub fn data_file(data: &[(&str, Value)]) -> Value {
    let mut rows: Vec<Value> = FIXED
        .iter()
        .map(|(module, name, model, res_id)| json!({"module": module, "name": name, "model": model, "res_id": res_id}))
        .collect();
    let countries = data
        .iter()
        .find(|(model, _)| *model == "res.country")
        .and_then(|(_, file)| file.get("records"))
        .and_then(Value::as_array);
    for country in countries.into_iter().flatten() {
        if let (Some(id), Some(code)) = (
            country.get("id").and_then(Value::as_i64),
            country.get("code").and_then(Value::as_str),
        ) {
            rows.push(json!({"module": "base", "name": code.to_ascii_lowercase(), "model": "res.country", "res_id": id}));
        }
    }
    for (i, row) in rows.iter_mut().enumerate() {
        row["id"] = json!(i + 1);
        row["noupdate"] = json!(false);
    }
    json!({
        "model": "ir.model.data",
        "domain": [],
        "fields": ["module", "name", "model", "res_id", "noupdate"],
        "records": rows,
    })
}
