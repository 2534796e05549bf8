//! Builds what a delivery sends from the records read for it: the three payload modes (fields, spec body,
//! template), `event` and `extra` at the root, one payload per record when the URL has placeholders.

use serde_json::{Map, Value, json};

use super::template::{self, placeholder_paths};
use crate::config::PayloadSpec;
use crate::extract::SpecItem;

/// The field spec to read for `spec`: its `fields` plus every field a placeholder names (projected away
/// again before the records are sent), as `extract::spec` items in JSON form.
pub fn read_spec(spec: &PayloadSpec, url: &str) -> Result<Vec<Value>, String> {
    let (mut items, templates): (Vec<Value>, Vec<&Value>) = match spec {
        PayloadSpec::Fields { fields } => (fields.clone(), vec![]),
        PayloadSpec::Body { body } => (body_fields(body)?, vec![body]),
        PayloadSpec::Template { template } => (vec![], vec![template]),
    };
    let url = Value::String(url.to_owned());
    for source in templates.into_iter().chain(std::iter::once(&url)) {
        for path in placeholder_paths(source).map_err(|e| e.to_string())? {
            let item = field_of_path(&path);
            if item != "id" && !items.iter().any(|i| i.as_str() == Some(item.as_str())) {
                items.push(Value::String(item));
            }
        }
    }
    Ok(items)
}

/// A placeholder path as a readable spec item: `partner_id.name` as it is, `order_line.0.name` up to the index.
fn field_of_path(path: &str) -> String {
    path.split('.')
        .take_while(|segment| !segment.bytes().all(|b| b.is_ascii_digit()))
        .collect::<Vec<_>>()
        .join(".")
}

fn body_fields(body: &Value) -> Result<Vec<Value>, String> {
    match body.get("fields") {
        None => Ok(vec![]),
        Some(Value::Array(items)) => Ok(items.clone()),
        Some(_) => Err("a spec body's `fields` must be a list".into()),
    }
}

/// Checks a spec when it is configured: a body is an object, templates parse, field specs parse.
pub fn check_spec(spec: &PayloadSpec) -> Result<(), String> {
    if let PayloadSpec::Body { body } = spec
        && !body.is_object()
    {
        return Err("a spec body is a JSON object with `fields` and static keys".into());
    }
    let items = read_spec(spec, "")?;
    crate::extract::spec::parse(&Value::Array(items)).map_err(|e| e.to_string())?;
    Ok(())
}

/// The top-level keys `fields` produces, to keep only those in the `records` sent.
fn output_keys(fields: &[Value]) -> Result<Vec<String>, String> {
    let items = crate::extract::spec::parse(&Value::Array(fields.to_vec())).map_err(|e| e.to_string())?;
    Ok(items
        .into_iter()
        .map(|item| match item {
            SpecItem::Name(name) => name,
            SpecItem::Path(steps) => steps.join("."),
            SpecItem::Nested { field, .. } => field,
        })
        .collect())
}

fn project(records: &[Value], keys: &[String]) -> Vec<Value> {
    records
        .iter()
        .map(|r| {
            let mut out = Map::new();
            for key in keys {
                out.insert(key.clone(), r.get(key).cloned().unwrap_or(Value::Null));
            }
            Value::Object(out)
        })
        .collect()
}

/// What the trigger adds to every payload.
#[derive(Clone, Debug, Default)]
pub struct Extras<'a> {
    pub event: Option<&'a str>,
    pub extra: Option<&'a Map<String, Value>>,
}

/// The payload for `records` (the existing records in the order asked, each with its `id`).
pub fn build(
    spec: &PayloadSpec,
    model: &str,
    records: &[Value],
    extras: &Extras<'_>,
) -> Result<Value, String> {
    let ids: Vec<Value> = records
        .iter()
        .map(|r| r.get("id").cloned().unwrap_or(Value::Null))
        .collect();
    let fields_payload = |fields: &[Value], base: Map<String, Value>| -> Result<Value, String> {
        let mut out = base;
        out.insert("model".into(), json!(model));
        out.insert("count".into(), json!(records.len()));
        if fields.is_empty() {
            out.insert("ids".into(), Value::Array(ids.clone()));
        } else {
            out.insert(
                "records".into(),
                Value::Array(project(records, &output_keys(fields)?)),
            );
        }
        Ok(Value::Object(out))
    };
    let first = records.first().cloned().unwrap_or(Value::Null);
    let mut payload = match spec {
        PayloadSpec::Fields { fields } => fields_payload(fields, Map::new())?,
        PayloadSpec::Body { body } => {
            let fields = body_fields(body)?;
            let mut statics = body.as_object().cloned().unwrap_or_default();
            statics.remove("fields");
            let statics = template::render(&Value::Object(statics), &first).map_err(|e| e.to_string())?;
            fields_payload(&fields, statics.as_object().cloned().unwrap_or_default())?
        }
        PayloadSpec::Template { template } => render_template(template, model, records, &first)?,
    };
    if let Some(root) = payload.as_object_mut() {
        if let Some(event) = extras.event {
            root.entry("event").or_insert_with(|| json!(event));
        }
        if let Some(extra) = extras.extra {
            root.extend(extra.clone());
        }
    }
    Ok(payload)
}

fn render_template(template: &Value, model: &str, records: &[Value], first: &Value) -> Result<Value, String> {
    let render = |t: &Value, r: &Value| template::render(t, r).map_err(|e| e.to_string());
    let per_record = template
        .get("records")
        .and_then(Value::as_array)
        .filter(|items| items.len() == 1);
    let mut out = match (per_record, template.as_object()) {
        (Some(item), Some(root)) => {
            let mut out = root.clone();
            let rendered = records
                .iter()
                .map(|r| render(&item[0], r))
                .collect::<Result<Vec<_>, _>>()?;
            out.insert("records".into(), Value::Array(rendered));
            out.insert("count".into(), json!(records.len()));
            Value::Object(out)
        }
        _ => render(template, first)?,
    };
    if let Some(root) = out.as_object_mut() {
        root.entry("model").or_insert_with(|| json!(model));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records() -> Vec<Value> {
        vec![
            json!({"id": 1, "name": "A", "email": "a@x", "date": "2026-01-02", "partner_id": [5, "P"]}),
            json!({"id": 2, "name": "B", "email": false, "date": false, "partner_id": false}),
        ]
    }

    #[test]
    fn fields_mode_sends_records_or_ids() {
        let spec = PayloadSpec::Fields {
            fields: vec![json!("name"), json!("date")],
        };
        assert_eq!(
            build(&spec, "res.partner", &records(), &Extras::default()).unwrap(),
            json!({"model": "res.partner", "count": 2, "records": [
                {"name": "A", "date": "2026-01-02"}, {"name": "B", "date": false}]})
        );
        let ids = build(
            &PayloadSpec::default(),
            "res.partner",
            &records(),
            &Extras::default(),
        )
        .unwrap();
        assert_eq!(ids, json!({"model": "res.partner", "count": 2, "ids": [1, 2]}));
    }

    #[test]
    fn a_spec_body_keeps_static_keys_and_resolves_their_placeholders() {
        let spec = PayloadSpec::Body {
            body: json!({"fields": ["name"], "event": "partner.changed", "source": "odoo", "first": "{{ name }}",
                         "model": "ignored"}),
        };
        let extra = json!({"tenant": 7}).as_object().cloned().unwrap();
        let extras = Extras {
            event: Some("other"),
            extra: Some(&extra),
        };
        assert_eq!(
            build(&spec, "res.partner", &records(), &extras).unwrap(),
            json!({"event": "partner.changed", "source": "odoo", "first": "A", "model": "res.partner",
                   "count": 2, "records": [{"name": "A"}, {"name": "B"}], "tenant": 7})
        );
        assert_eq!(
            read_spec(&spec, "https://x/{{ id }}").unwrap(),
            vec![json!("name")]
        );
    }

    #[test]
    fn templates_fill_per_record_or_from_the_first() {
        let per_record = PayloadSpec::Template {
            template: json!({"kind": "batch", "records": [{"ref": "R-{{ id }}", "who": "{{ partner_id.name }}"}]}),
        };
        assert_eq!(
            build(&per_record, "res.partner", &records(), &Extras::default()).unwrap(),
            json!({"kind": "batch", "records": [{"ref": "R-1", "who": "P"}, {"ref": "R-2", "who": null}],
                   "count": 2, "model": "res.partner"})
        );
        let whole = PayloadSpec::Template {
            template: json!({"text": "Hello {{ name }}", "id": "${id}"}),
        };
        assert_eq!(
            build(
                &whole,
                "res.partner",
                &records()[..1],
                &Extras {
                    event: Some("e"),
                    extra: None
                }
            )
            .unwrap(),
            json!({"text": "Hello A", "id": 1, "model": "res.partner", "event": "e"})
        );
        assert_eq!(
            read_spec(&per_record, "https://x/{{ order_line.0.name }}").unwrap(),
            vec![json!("partner_id.name"), json!("order_line")]
        );
    }

    #[test]
    fn bad_specs_are_refused_when_configured() {
        assert!(check_spec(&PayloadSpec::Body { body: json!([1]) }).is_err());
        assert!(
            check_spec(&PayloadSpec::Body {
                body: json!({"fields": "name"})
            })
            .is_err()
        );
        assert!(
            check_spec(&PayloadSpec::Template {
                template: json!({"a": "{{ x"})
            })
            .is_err()
        );
        assert!(
            check_spec(&PayloadSpec::Fields {
                fields: vec![json!(3)]
            })
            .is_err()
        );
        assert!(
            check_spec(&PayloadSpec::Fields {
                fields: vec![json!("name"), json!({"partner_id": ["name"]})]
            })
            .is_ok()
        );
    }
}
