//! The `fields` grammar: names, dotted paths and `{relation: [sub-spec]}` objects mixed at any depth.

use serde_json::Value;

use crate::domain::parse::is_field_name;

/// Deepest nesting of `{relation: [...]}` accepted.
pub const MAX_SPEC_DEPTH: usize = 8;
/// Most items (at every level together) in one spec.
pub const MAX_SPEC_ITEMS: usize = 1000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpecItem {
    /// `"name"`: the field as Odoo's `read` gives it.
    Name(String),
    /// `"a.b.c"`: the value at the end of the path, under the literal dotted key.
    Path(Vec<String>),
    /// `{"relation": [...]}`: an object (to-one) or a list of objects (to-many) with exactly the listed keys.
    Nested { field: String, sub: Vec<SpecItem> },
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SpecError {
    /// The offending item, when one can be named.
    pub field: Option<String>,
    pub message: String,
}

fn err<T>(field: Option<&str>, message: impl Into<String>) -> Result<T, SpecError> {
    Err(SpecError {
        field: field.map(str::to_owned),
        message: message.into(),
    })
}

/// Parses `fields`: a list, or (as the original accepts) a string holding such a list.
pub fn parse(value: &Value) -> Result<Vec<SpecItem>, SpecError> {
    let mut budget = MAX_SPEC_ITEMS;
    match value {
        Value::String(text) => {
            let inner: Value = crate::request::parse_json(text.as_bytes()).or_else(|_| {
                err(
                    None,
                    "fields must be a list, such as [\"name\", {\"partner_id\": [\"name\"]}]",
                )
            })?;
            if inner.is_string() {
                return err(
                    None,
                    "fields must be a list, such as [\"name\", {\"partner_id\": [\"name\"]}]",
                );
            }
            parse(&inner)
        }
        _ => list(value, 0, &mut budget),
    }
}

fn list(value: &Value, depth: usize, budget: &mut usize) -> Result<Vec<SpecItem>, SpecError> {
    let Some(items) = value.as_array() else {
        return err(
            None,
            "fields must be a list, such as [\"name\", {\"partner_id\": [\"name\"]}]",
        );
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        *budget = budget.checked_sub(1).ok_or(SpecError {
            field: None,
            message: format!("a field spec may hold at most {MAX_SPEC_ITEMS} items"),
        })?;
        match item {
            Value::String(name) => out.push(name_or_path(name)?),
            Value::Object(map) => {
                for (field, sub) in map {
                    if !is_field_name(field) {
                        return err(Some(field), format!("invalid field name {field:?}"));
                    }
                    if depth + 1 >= MAX_SPEC_DEPTH {
                        return err(
                            Some(field),
                            format!("a field spec may nest at most {MAX_SPEC_DEPTH} levels"),
                        );
                    }
                    let sub = match sub {
                        Value::Array(_) => list(sub, depth + 1, budget)?,
                        Value::Object(o) if o.len() == 1 && o.contains_key("fields") => {
                            list(&o["fields"], depth + 1, budget)?
                        }
                        Value::Null => Vec::new(),
                        _ => {
                            return err(
                                Some(field),
                                format!("the sub-spec of {field:?} must be a list of fields"),
                            );
                        }
                    };
                    out.push(SpecItem::Nested {
                        field: field.clone(),
                        sub,
                    });
                }
            }
            other => {
                return err(
                    None,
                    format!("a field spec item must be a name or an object, not {other}"),
                );
            }
        }
    }
    Ok(out)
}

fn name_or_path(name: &str) -> Result<SpecItem, SpecError> {
    let segments: Vec<&str> = name.split('.').collect();
    if segments.iter().any(|s| !is_field_name(s)) {
        return err(Some(name), format!("invalid field name {name:?}"));
    }
    Ok(match segments.as_slice() {
        [single] => SpecItem::Name((*single).to_owned()),
        _ => SpecItem::Path(segments.into_iter().map(str::to_owned).collect()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_paths_and_nested_objects() {
        let spec =
            parse(&json!(["id", "partner_id.name", {"order_line": ["name", {"product_id": []}]}])).unwrap();
        assert_eq!(spec[0], SpecItem::Name("id".into()));
        assert_eq!(spec[1], SpecItem::Path(vec!["partner_id".into(), "name".into()]));
        let SpecItem::Nested { field, sub } = &spec[2] else {
            panic!()
        };
        assert_eq!(field, "order_line");
        assert_eq!(
            sub[1],
            SpecItem::Nested {
                field: "product_id".into(),
                sub: vec![]
            }
        );
    }

    #[test]
    fn several_keys_in_one_object_keep_their_order_and_fields_wrapper_is_accepted() {
        let spec = parse(&json!([{"b": {"fields": ["x"]}, "a": []}])).unwrap();
        assert!(matches!(&spec[0], SpecItem::Nested { field, sub } if field == "b" && sub.len() == 1));
        assert!(matches!(&spec[1], SpecItem::Nested { field, .. } if field == "a"));
    }

    #[test]
    fn a_string_holding_a_list_is_accepted() {
        assert_eq!(parse(&json!("['name', 'email']")).unwrap().len(), 2);
        assert!(parse(&json!("name")).is_err());
        assert!(parse(&json!("[".repeat(100_000))).is_err());
    }

    #[test]
    fn bad_items_are_named() {
        assert_eq!(
            parse(&json!(["name", "bad name"])).unwrap_err().field.as_deref(),
            Some("bad name")
        );
        assert_eq!(
            parse(&json!(["a..b"])).unwrap_err().field.as_deref(),
            Some("a..b")
        );
        assert_eq!(
            parse(&json!([{"rel": 5}])).unwrap_err().field.as_deref(),
            Some("rel")
        );
        assert!(parse(&json!([5])).is_err());
        assert!(parse(&json!({"name": []})).is_err());
        assert!(parse(&json!([""])).is_err());
    }

    #[test]
    fn depth_and_size_are_bounded() {
        let mut v = json!(["name"]);
        for _ in 0..MAX_SPEC_DEPTH {
            v = json!([{"rel": v}]);
        }
        assert!(parse(&v).unwrap_err().message.contains("nest"));
        let many: Vec<Value> = (0..=MAX_SPEC_ITEMS).map(|_| json!("name")).collect();
        assert!(parse(&Value::Array(many)).is_err());
    }
}
