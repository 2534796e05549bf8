//! Replays the golden corpus (recorded Odoo 18 calls) against one fresh simulator and compares the answers;
//! volatile values (times, random tokens, sequence numbers) must keep their recorded shape.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use serde_json::{Map, Value, json};

/// Minimum share of matching cases.
const MIN_MATCH_RATIO: f64 = 0.98;

/// How a value follows from today's `YYYY-MM-DD`.
type FromToday = fn(&str) -> String;

/// Values Odoo derives from the current date that the recording did not mark volatile: (case, pointer, value).
const DATED: &[(&str, &str, FromToday)] = &[(
    "default-get-res.company",
    "/result/account_opening_date",
    |today| format!("{}-01-01", &today[..4]),
)];

fn substitute(v: &mut Value, key: &str) {
    match v {
        Value::String(s) if s == "<api-key>" => *s = key.to_owned(),
        Value::Array(a) => a.iter_mut().for_each(|x| substitute(x, key)),
        Value::Object(o) => o.values_mut().for_each(|x| substitute(x, key)),
        _ => {}
    }
}

fn normalise(mut v: Value, volatile: &[String]) -> Option<Value> {
    if let Some(o) = v.as_object_mut() {
        o.remove("jsonrpc");
        o.remove("id");
        if let Some(data) = o
            .get_mut("error")
            .and_then(|e| e.get_mut("data"))
            .and_then(Value::as_object_mut)
        {
            data.remove("debug");
        }
    }
    for p in volatile {
        let slot = v.pointer_mut(p)?;
        *slot = json!(shape(slot));
    }
    Some(v)
}

/// What a volatile value must still look like: its JSON type, and for strings whether it is a date or datetime.
fn shape(v: &Value) -> String {
    match v {
        Value::String(s) => {
            let digits_at = |pattern: &str| {
                s.len() == pattern.len()
                    && s.bytes()
                        .zip(pattern.bytes())
                        .all(|(c, p)| if p == b'9' { c.is_ascii_digit() } else { c == p })
            };
            if digits_at("9999-99-99 99:99:99") {
                "<datetime>".into()
            } else if digits_at("9999-99-99") {
                "<date>".into()
            } else {
                "<string>".into()
            }
        }
        Value::Number(_) => "<number>".into(),
        Value::Bool(_) => "<bool>".into(),
        Value::Null => "<null>".into(),
        Value::Array(_) => "<array>".into(),
        Value::Object(_) => "<object>".into(),
    }
}

fn today() -> String {
    let t = time::OffsetDateTime::now_utc();
    format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
}

/// JSON equality with numbers compared by value.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, p)| y.get(k).is_some_and(|q| same(p, q)))
        }
        _ => a == b,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn golden_corpus_matches() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("golden/cases");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let known =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("KNOWN_DIFFERENCES.md"))
            .unwrap_or_default();
    let sim = odoo_sim::start(odoo_sim::SimConfig::default()).await.unwrap();
    let client = http_client();
    let verbose = std::env::var_os("GOLDEN_VERBOSE").is_some();
    let (mut ok, mut bad) = (0usize, Vec::new());
    for (n, path) in files.iter().enumerate() {
        let case: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let name = case["name"].as_str().unwrap().to_owned();
        let mut request = case["request"].clone();
        let login = case["as"].as_str().unwrap_or("anonymous");
        if let Some(key) = sim.sim.api_key(login) {
            substitute(&mut request, &key);
        }
        let body = json!({"jsonrpc": "2.0", "method": "call", "params": request, "id": n});
        let resp = client
            .post(format!("{}/jsonrpc", sim.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        let got: Value = resp.json().await.unwrap_or(Value::Null);
        let volatile: Vec<String> = case["volatile"]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        let mut response = case["response"].clone();
        for (_, pointer, from_today) in DATED.iter().filter(|(c, _, _)| *c == name) {
            if let Some(slot) = response.pointer_mut(pointer) {
                *slot = json!(from_today(&today()));
            }
        }
        let expected = normalise(response, &volatile);
        let actual = normalise(got.clone(), &volatile);
        let matched = match (&expected, &actual) {
            (Some(e), Some(a)) => same(e, a),
            _ => false,
        };
        if matched {
            ok += 1;
        } else {
            if verbose {
                let mut m = Map::new();
                m.insert("expected".into(), case["response"].clone());
                m.insert("got".into(), got);
                println!(
                    "MISMATCH {name}\n{}\n",
                    serde_json::to_string(&Value::Object(m)).unwrap()
                );
            }
            bad.push(name);
        }
    }
    let total = files.len();
    println!("golden cases matching: {ok}/{total}");
    for name in &bad {
        let listed = known.contains(&format!("`{name}`"));
        println!(
            "  mismatch: {name}{}",
            if listed {
                " (known difference)"
            } else {
                " (NOT LISTED)"
            }
        );
    }
    let unlisted: Vec<&String> = bad
        .iter()
        .filter(|n| !known.contains(&format!("`{n}`")))
        .collect();
    assert!(total > 0, "no golden cases found in {}", dir.display());
    assert!(
        ok as f64 / total as f64 >= MIN_MATCH_RATIO,
        "only {ok}/{total} golden cases match"
    );
    assert!(
        unlisted.is_empty(),
        "mismatching cases not listed in KNOWN_DIFFERENCES.md: {unlisted:?}"
    );
}

#[test]
fn volatile_values_keep_their_shape() {
    assert_eq!(shape(&json!("2026-11-28 01:28:44")), "<datetime>");
    assert_eq!(shape(&json!("2026-12-28")), "<date>");
    assert_eq!(shape(&json!("2026-12-28 01:28")), "<string>");
    assert_eq!(shape(&json!("XCtMLNGEvh")), "<string>");
    assert_eq!(shape(&json!(4)), "<number>");
    assert_ne!(shape(&json!(false)), shape(&json!("2026-12-28")));
}

/// A plain-HTTP client for the simulator. reqwest carries no TLS crypto provider of its own in this workspace,
/// so one is installed for the process first.
fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}
