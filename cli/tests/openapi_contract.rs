//! The OpenAPI contract: docs/openapi.yaml is valid and so is every example in it and in docs/examples/;
//! `bitconn serve` serves it at /openapi.json; schemathesis, driven by it against `bitconn serve` in demo mode,
//! finds no server error and no answer that breaks the contract.
#![allow(clippy::unwrap_used)]

mod common;

use common::{TempStore, authority, repo_root, serve};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::process::Command;
use std::time::{Duration, Instant};

/// Generated cases per operation in the fuzzing phase (the examples phase adds the spec's examples);
/// `BITCONN_SCHEMATHESIS_CASES` changes it.
const CASES_PER_OPERATION: u32 = 100;
/// The coverage phase is left out: on CPython 3.11.7 (this image's) it dies in `ast.parse` inside Hypothesis
/// ("AST constructor recursion depth mismatch", a CPython bug fixed in 3.11.8), before sending anything.
const PHASES: &str = "examples,fuzzing";
/// The seed of the generated cases, so a failure reproduces; `BITCONN_SCHEMATHESIS_SEED` changes it.
const SEED: u64 = 20_261_201;
/// The checks that make up "conforms": status, content type, headers and body as the spec says, and no 5xx.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_headers_conformance,response_schema_conformance";
/// Served by the terminal-token function, not by `bitconn serve`.
const NOT_SERVED: &str = "/bitconn/terminal/token";
/// Where the demo webhook's deliveries go during the run: a loopback port nothing serves (discard).
const UNREACHABLE_RECEIVER: &str = "http://127.0.0.1:9/bitconn-contract";
/// The whole schemathesis run must end within this (CI budget).
const RUN_BUDGET: Duration = Duration::from_secs(300);

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn get(base_url: &str, path: &str) -> (u16, String) {
    let host = authority(base_url);
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn the_spec_and_every_documented_example_are_valid() {
    let out = Command::new("python3")
        .arg(repo_root().join("tests/openapi/check_spec.py"))
        .arg(repo_root())
        .output()
        .expect("python3 runs tests/openapi/check_spec.py (scripts/ensure-tools.sh installs its packages)");
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}");
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains(" 0 problems"), "{text}");
}

#[test]
fn serve_answers_the_spec_as_json() {
    let store = TempStore::new();
    let served = serve(&store.spec, &[]);
    let (status, body) = get(&served.base_url, "/openapi.json");
    assert_eq!(status, 200, "{body}");
    let served_spec: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(served_spec, bitconn::gateway::openapi::spec().unwrap());
    let yaml = std::fs::read_to_string(repo_root().join("docs/openapi.yaml")).unwrap();
    assert_eq!(
        yaml,
        bitconn::gateway::openapi::SPEC_YAML,
        "the binary embeds another docs/openapi.yaml"
    );
    for path in served_spec["paths"].as_object().unwrap().keys() {
        assert!(yaml.contains(&format!("\n  {path}:")), "{path}");
    }
}

#[test]
fn schemathesis_finds_no_server_error_and_no_nonconforming_answer() {
    let store = TempStore::new();
    let served = serve(&store.spec, &[]);
    let url = served.printed("url:").unwrap();
    let id = url.rsplit('/').next().unwrap().to_owned();
    let secret = served.printed("secret:").unwrap();
    // A receiver for the demo webhook, so that valid triggers are queued (202); nothing listens there, and the
    // dispatcher's failed attempts stay in this store.
    let mut outbound = common::bitconn(&store.spec);
    outbound
        .args(["outbound", "set", &id, "--url", UNREACHABLE_RECEIVER])
        .args(["--fields", "name", "--allow-cidr", "127.0.0.0/8"]);
    common::ok(outbound);
    let cases: u32 = env_or("BITCONN_SCHEMATHESIS_CASES", CASES_PER_OPERATION);
    let seed: u64 = env_or("BITCONN_SCHEMATHESIS_SEED", SEED);
    let reports = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut child = Command::new("schemathesis")
        .current_dir(reports.path())
        .arg("--no-color")
        .arg("--config-file")
        .arg(repo_root().join("tests/openapi/schemathesis.toml"))
        .arg("run")
        .arg(repo_root().join("docs/openapi.yaml"))
        .args(["--url", &served.base_url])
        .args(["--checks", CHECKS])
        .args(["--exclude-path", NOT_SERVED])
        .args(["--phases", PHASES])
        .args(["--max-examples", &cases.to_string()])
        .args(["--seed", &seed.to_string()])
        .args(["--workers", "2"])
        .args(["--generation-database", "none"])
        .args(["--report", "har", "--report-dir"])
        .arg(reports.path())
        .env("PYTHONPATH", repo_root().join("tests/openapi"))
        .env("BITCONN_WEBHOOK_ID", &id)
        .env("BITCONN_WEBHOOK_SECRET", &secret)
        .stdout(std::fs::File::create(reports.path().join("stdout.txt")).unwrap())
        .stderr(std::fs::File::create(reports.path().join("stderr.txt")).unwrap())
        .spawn()
        .expect("schemathesis runs (scripts/ensure-tools.sh installs it)");
    let deadline = started + RUN_BUDGET;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("schemathesis ran longer than {RUN_BUDGET:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let out = std::fs::read_to_string(reports.path().join("stdout.txt")).unwrap();
    let err = std::fs::read_to_string(reports.path().join("stderr.txt")).unwrap();
    println!("{out}\n{err}");
    println!(
        "schemathesis: up to {cases} generated cases per operation, seed {seed}, {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(status.success(), "schemathesis found failures:\n{out}\n{err}");
    let statuses = statuses_by_route(reports.path());
    for (route, counts) in &statuses {
        println!("{route}: {counts:?}");
    }
    assert!(
        statuses.len() >= 6,
        "schemathesis did not reach every route: {statuses:?}"
    );
    let server_errors: u32 = statuses
        .values()
        .flat_map(|counts| counts.iter().filter(|(s, _)| **s >= 500).map(|(_, n)| *n))
        .sum();
    assert_eq!(server_errors, 0, "{statuses:?}");
}

/// How often each route answered each status, from schemathesis' HAR report.
fn statuses_by_route(dir: &std::path::Path) -> BTreeMap<String, BTreeMap<u16, u32>> {
    let har = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("har-"))
        .expect("schemathesis wrote its HAR report");
    let har: Value = serde_json::from_str(&std::fs::read_to_string(har).unwrap()).unwrap();
    let mut statuses: BTreeMap<String, BTreeMap<u16, u32>> = BTreeMap::new();
    for entry in har["log"]["entries"].as_array().unwrap() {
        let url = entry["request"]["url"].as_str().unwrap();
        let path = url.split("://").nth(1).unwrap_or(url);
        let path = path[path.find('/').unwrap_or(path.len())..]
            .split('?')
            .next()
            .unwrap();
        let segments: Vec<&str> = path.split('/').collect();
        let route = match segments.as_slice() {
            ["", "bitconn", "webhook", _] => "/bitconn/webhook/{id}",
            ["", "bitconn", "webhook", _, "schema"] => "/bitconn/webhook/{id}/schema",
            ["", "bitconn", "webhook", _, "required"] => "/bitconn/webhook/{id}/required",
            ["", "bitconn", "outbound", _] => "/bitconn/outbound/{id}",
            ["", "bitconn", "outbound", _, _] => "/bitconn/outbound/{id}/{trigger_key}",
            _ => path,
        };
        let route = format!("{} {route}", entry["request"]["method"].as_str().unwrap());
        let status = u16::try_from(entry["response"]["status"].as_u64().unwrap()).unwrap();
        *statuses.entry(route).or_default().entry(status).or_default() += 1;
    }
    statuses
}
