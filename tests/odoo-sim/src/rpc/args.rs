//! Python-style binding of positional and keyword arguments, with CPython's `TypeError` wording.

use serde_json::{Map, Value};

use crate::error::{OdooError, OdooResult};

/// A parameter: its name and default (`None` = required).
pub type Param = (&'static str, Option<Value>);

/// Binds `args`/`kwargs` to `params` of `Class.method`; extra keyword arguments are an error unless
/// `rest_kw` is given, in which case they are returned for it.
pub fn bind(
    class: &str,
    method: &str,
    params: &[Param],
    args: &[Value],
    kwargs: &Map<String, Value>,
    rest_kw: Option<&str>,
) -> OdooResult<(Vec<Value>, Map<String, Value>)> {
    let func = format!("{class}.{method}()");
    if args.len() > params.len() {
        let required = params.iter().filter(|p| p.1.is_none()).count();
        let takes = if required == params.len() {
            format!("{}", params.len() + 1)
        } else {
            format!("from {} to {}", required + 1, params.len() + 1)
        };
        return Err(OdooError::type_error(format!(
            "{func} takes {takes} positional arguments but {} were given",
            args.len() + 1
        )));
    }
    let mut out: Vec<Option<Value>> = args.iter().cloned().map(Some).collect();
    out.resize(params.len(), None);
    let mut extra = Map::new();
    for (k, v) in kwargs {
        match params.iter().position(|p| p.0 == k) {
            Some(i) if out[i].is_some() => {
                return Err(OdooError::type_error(format!(
                    "{func} got multiple values for argument '{k}'"
                )));
            }
            Some(i) => out[i] = Some(v.clone()),
            None if rest_kw.is_some() => {
                extra.insert(k.clone(), v.clone());
            }
            None => {
                return Err(OdooError::type_error(format!(
                    "{func} got an unexpected keyword argument '{k}'"
                )));
            }
        }
    }
    let missing: Vec<&str> = params
        .iter()
        .zip(&out)
        .filter(|(p, v)| p.1.is_none() && v.is_none())
        .map(|(p, _)| p.0)
        .collect();
    if !missing.is_empty() {
        return Err(missing_positional(&func, &missing));
    }
    let vals = params
        .iter()
        .zip(out)
        .map(|(p, v)| v.or_else(|| p.1.clone()).unwrap_or(Value::Null))
        .collect();
    Ok((vals, extra))
}

/// Record ids given as the first positional argument (an int or a list of ints).
/// Python's `TypeError` for absent positional arguments: "f() missing 2 required positional arguments: 'a' and 'b'".
pub fn missing_positional(func: &str, missing: &[&str]) -> OdooError {
    let quoted: Vec<String> = missing.iter().map(|n| format!("'{n}'")).collect();
    let list = match quoted.len() {
        0 | 1 => quoted.concat(),
        n => format!("{} and {}", quoted[..n - 1].join(", "), quoted[n - 1]),
    };
    let plural = if missing.len() == 1 {
        "argument"
    } else {
        "arguments"
    };
    OdooError::type_error(format!(
        "{func} missing {} required positional {plural}: {list}",
        missing.len()
    ))
}

pub fn ids(v: &Value) -> Vec<i64> {
    match v {
        Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_i64().or_else(|| x.as_str().and_then(|s| s.parse().ok())))
            .collect(),
        Value::Number(n) => n.as_i64().into_iter().collect(),
        _ => Vec::new(),
    }
}

/// Python class defining `method` for `model` (overrides in business models, else `BaseModel`).
pub fn class_of(model: &str, method: &str) -> String {
    const OVERRIDDEN: &[&str] = &["write", "create", "unlink", "copy", "name_create", "default_get"];
    if !OVERRIDDEN.contains(&method) {
        return "BaseModel".to_owned();
    }
    model
        .split(['.', '_'])
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn binds_and_reports_like_cpython() {
        let params: &[Param] = &[
            ("domain", None),
            ("offset", Some(json!(0))),
            ("limit", Some(Value::Null)),
        ];
        let (v, _) = bind("BaseModel", "search", params, &[json!([])], &Map::new(), None).unwrap();
        assert_eq!(v, vec![json!([]), json!(0), Value::Null]);
        let e = bind("BaseModel", "search", params, &[], &Map::new(), None).unwrap_err();
        assert_eq!(
            e.message,
            "BaseModel.search() missing 1 required positional argument: 'domain'"
        );
        let mut kw = Map::new();
        kw.insert("fieldz".into(), json!(1));
        let e = bind("BaseModel", "search", params, &[json!([])], &kw, None).unwrap_err();
        assert_eq!(
            e.message,
            "BaseModel.search() got an unexpected keyword argument 'fieldz'"
        );
        assert_eq!(class_of("res.partner", "write"), "ResPartner");
        assert_eq!(class_of("res.partner", "search"), "BaseModel");
    }
}
