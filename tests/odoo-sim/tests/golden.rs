//! Replays the golden corpus (recorded Odoo 18 calls) against one fresh simulator and compares the answers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use serde_json::{Map, Value, json};

/// Minimum share of matching cases.
const MIN_MATCH_RATIO: f64 = 0.95;

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
        *slot = json!("<volatile>");
    }
    Some(v)
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
    let client = reqwest::Client::new();
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
        let expected = normalise(case["response"].clone(), &volatile);
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
