//! `bitconn serve` end to end: demo mode on an empty store runs the README's curl examples verbatim.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Served, TempStore, bitconn, json, ok, repo_root, serve};
use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};

/// The `curl` commands of README.md's shell blocks that call `$URL` (the webhook examples), continuation lines
/// joined, in order.
fn readme_curl_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let mut commands = Vec::new();
    let mut in_shell = false;
    let mut current: Option<String> = None;
    for line in readme.lines() {
        if line.starts_with("```") {
            in_shell = !in_shell && line.trim() == "```sh";
            continue;
        }
        if !in_shell {
            continue;
        }
        let text = line.trim();
        match current.as_mut() {
            Some(command) => command.push_str(text.trim_end_matches('\\')),
            None if text.starts_with("curl ") => current = Some(text.trim_end_matches('\\').to_owned()),
            None => continue,
        }
        if !text.ends_with('\\') {
            commands.extend(current.take().filter(|c| c.contains("\"$URL")));
        }
    }
    commands
}

fn sh(command: &str, url: &str, secret: &str) -> String {
    let out = Command::new("sh")
        .args(["-c", command])
        .env("URL", url)
        .env("SECRET", secret)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{command}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn demo(served: &Served) -> (String, String) {
    assert!(
        served.lines.iter().any(|l| l.contains("DEMO MODE")),
        "no demo banner: {:#?}",
        served.lines
    );
    (
        served.printed("url:").unwrap(),
        served.printed("secret:").unwrap(),
    )
}

#[test]
fn demo_mode_runs_the_readme_examples() {
    let store = TempStore::new();
    let served = serve(&store.spec, &[]);
    let (url, secret) = demo(&served);
    assert!(
        url.starts_with(&format!("{}/bitconn/webhook/", served.base_url)),
        "{url}"
    );

    let printed_curl = served
        .lines
        .iter()
        .map(|l| l.trim())
        .find(|l| l.starts_with("curl "))
        .unwrap();
    let answer: Value = serde_json::from_str(&sh(printed_curl, &url, &secret)).unwrap();
    assert_eq!(answer["ok"], true, "{answer}");
    assert!(!answer["records"].as_array().unwrap().is_empty(), "{answer}");

    let commands = readme_curl_commands();
    assert!(commands.len() >= 9, "README lost its examples: {commands:#?}");
    let mut created_id = None;
    for command in &commands {
        let body = sh(command, &url, &secret);
        assert!(!body.contains(&secret), "the secret is echoed by {command}");
        let answer: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{command}: {e}: {body}"));
        check_example(command, &answer, &mut created_id);
    }
    assert!(created_id.is_some());
}

/// What each README example must answer; an example without a rule here fails the test.
fn check_example(command: &str, answer: &Value, created_id: &mut Option<i64>) {
    let has = |needle: &str| command.contains(needle);
    if has("/required?") {
        // With a customer, nothing is missing: Odoo computes the invoice and delivery addresses from it.
        let missing = answer.as_array().unwrap_or_else(|| panic!("{command}: {answer}"));
        if has("values=") {
            assert!(missing.is_empty(), "{command}: {answer}");
        } else {
            assert!(
                missing.contains(&Value::from("partner_id")),
                "{command}: {answer}"
            );
        }
        return;
    }
    assert_eq!(answer["ok"], true, "{command}: {answer}");
    if has("/schema?") {
        assert_eq!(answer["model"], "res.partner");
        assert_eq!(answer["fields"]["name"]["type"], "char", "{answer}");
    } else if has(r#""default_payload""#) {
        assert!(answer["payload"].is_object(), "{answer}");
    } else if has(r#""create""#) {
        *created_id = Some(answer["id"].as_i64().unwrap_or_else(|| panic!("{answer}")));
    } else if has(r#""write""#) || has(r#""unlink""#) {
        assert_eq!(
            answer["ids"],
            serde_json::json!([created_id.unwrap()]),
            "{command}: {answer}"
        );
    } else if has(r#""read""#) {
        let record = &answer["records"][0];
        assert_eq!(record["name"], "S00001", "{answer}");
        assert!(record["order_line.product_id.name"].is_array(), "{answer}");
    } else if has(r#""S00001""#) {
        assert_eq!(answer["count"], 1, "{answer}");
        assert_eq!(answer["records"][0]["partner_id.name"], "Deco Addict", "{answer}");
    } else if has(r#"{"partner_id""#) {
        let records = answer["records"].as_array().unwrap();
        assert!(!records.is_empty() && records.len() <= 3, "{answer}");
        let partner = records[0]["partner_id"].as_object().unwrap();
        assert_eq!(
            partner.keys().collect::<Vec<_>>(),
            ["id", "name", "email", "country_id"],
            "{answer}"
        );
        assert!(
            records[0]["order_line"].as_array().unwrap()[0]["product_id"]["name"].is_string(),
            "{answer}"
        );
    } else {
        panic!("README example without an expectation in this test: {command}");
    }
}

#[test]
fn demo_mode_comes_back_after_a_restart_and_logs_calls() {
    let store = TempStore::new();
    let first = serve(&store.spec, &[]);
    let (url, secret) = demo(&first);
    let search = r#"curl -s "$URL" -H "Webhook-Key: $SECRET" -d '{"model": "res.country", "method": "search", "domain": [["code", "=", "BE"]], "fields": ["name"]}'"#;
    let answer: Value = serde_json::from_str(&sh(search, &url, &secret)).unwrap();
    assert_eq!(answer["records"][0]["name"], "Belgium", "{answer}");
    terminate(first);

    let logs = ok({
        let mut cmd = bitconn(&store.spec);
        cmd.args(["logs", "--json"]);
        cmd
    });
    let entry: Value = serde_json::from_str(logs.lines().last().unwrap()).unwrap();
    assert_eq!(entry["model"], "res.country", "{logs}");
    assert_eq!(entry["status"], 200);
    let text = ok({
        let mut cmd = bitconn(&store.spec);
        cmd.arg("logs");
        cmd
    });
    assert!(
        text.lines()
            .last()
            .is_some_and(|line| line.contains("res.country  200 success ")),
        "the text lines name the outcome as the JSON does: {text}"
    );

    let second = serve(&store.spec, &[]);
    let (url2, secret2) = demo(&second);
    assert_eq!(
        url.rsplit('/').next(),
        url2.rsplit('/').next(),
        "the demo webhook keeps its id"
    );
    assert_ne!(secret, secret2);
    let answer: Value = serde_json::from_str(&sh(search, &url2, &secret2)).unwrap();
    assert_eq!(answer["ok"], true, "{answer}");
    let listed = json({
        let mut cmd = bitconn(&store.spec);
        cmd.args(["webhook", "list", "--json"]);
        cmd
    });
    assert_eq!(listed.as_array().unwrap().len(), 1);
}

/// SIGTERM must stop the server gracefully (exit code 0) within a few seconds.
fn terminate(mut served: Served) {
    let pid = served.child.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = served.child.0.try_wait().unwrap() {
            assert!(status.success(), "exit status after SIGTERM: {status}");
            return;
        }
        assert!(Instant::now() < deadline, "serve ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn configured_store_is_served_without_demo() {
    let store = TempStore::new();
    let created = json({
        let mut cmd = bitconn(&store.spec);
        cmd.args([
            "webhook",
            "create",
            "--name",
            "real",
            "--odoo-url",
            "http://127.0.0.1:9",
            "--odoo-db",
            "x",
        ])
        .args([
            "--odoo-login",
            "admin",
            "--odoo-api-key",
            "k",
            "--models",
            "res.partner",
            "--json",
        ]);
        cmd
    });
    let served = serve(&store.spec, &["--no-execution-log"]);
    assert!(
        !served.lines.iter().any(|l| l.contains("DEMO")),
        "{:#?}",
        served.lines
    );
    let url = format!(
        "{}/bitconn/webhook/{}",
        served.base_url,
        created["id"].as_str().unwrap()
    );
    let wrong = sh(
        r#"curl -s "$URL" -H "Authorization: Bearer $SECRET" -d '{}'"#,
        &url,
        "bcw_wrong",
    );
    let answer: Value = serde_json::from_str(&wrong).unwrap();
    assert_eq!(
        answer,
        serde_json::json!({"ok": false, "error": "forbidden", "reason": "invalid_token"})
    );
    let unknown = sh(
        r#"curl -s "$URL" -d '{}'"#,
        &format!("{}/bitconn/webhook/{}", served.base_url, uuid()),
        "",
    );
    assert_eq!(
        serde_json::from_str::<Value>(&unknown).unwrap()["error"],
        "conf_not_found"
    );
}

fn uuid() -> &'static str {
    "0f0e0d0c-0b0a-4908-8706-050403020100"
}

#[test]
fn logs_follow_prints_new_entries() {
    let store = TempStore::new();
    let served = serve(&store.spec, &[]);
    let (url, secret) = demo(&served);
    let mut follow = bitconn(&store.spec);
    follow.args([
        "logs",
        "--follow",
        "--json",
        "--webhook",
        url.rsplit('/').next().unwrap(),
    ]);
    follow
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut child = common::ChildGuard(follow.spawn().unwrap());
    let stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let search = r#"curl -s "$URL" -H "Authorization: Bearer $SECRET" -d '{"model": "crm.lead", "method": "search", "domain": [], "limit": 1}'"#;
    sh(search, &url, &secret);
    let line = rx
        .recv_timeout(Duration::from_secs(15))
        .expect("no entry printed by --follow");
    let entry: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(entry["model"], "crm.lead", "{line}");
    sh(search.replace("crm.lead", "res.partner").as_str(), &url, &secret);
    let line = rx
        .recv_timeout(Duration::from_secs(15))
        .expect("no second entry printed by --follow");
    assert!(line.contains("res.partner"), "{line}");
    assert!(
        rx.recv_timeout(Duration::from_millis(1500)).is_err(),
        "entries are printed once"
    );
}
