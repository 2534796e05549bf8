//! The guides run as written: every `sh` block of the quick start and the migration guide runs, in order, against
//! a real `bitconn serve` in demo mode, and each answer has the shape of the `json` block under it.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Served, TempStore, repo_root, serve};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// The address the guides are written for (`bitconn serve`'s default); the test's server listens elsewhere.
const DOC_BASE: &str = "http://127.0.0.1:8080";
/// README's first command: the guides start the gateway with it, the test with the binary it built.
const SERVE_COMMAND: &str = "cargo run -p bitconn-cli --bin bitconn -- serve";
/// Values that `json` blocks show as examples and answers vary in, compared by JSON type only; these keys are
/// compared by value.
const EXACT_KEYS: [&str; 3] = ["ok", "error", "reason"];

/// One `sh` block and the `json` block right after it, if any.
struct Step {
    command: String,
    expected: Option<Value>,
}

fn steps(doc: &str) -> Vec<Step> {
    let text = std::fs::read_to_string(repo_root().join(doc)).unwrap();
    let mut steps: Vec<Step> = Vec::new();
    let mut block: Option<(String, String)> = None;
    let mut last_was_sh = false;
    for line in text.lines() {
        match block.as_mut() {
            None if line.starts_with("```") => {
                block = Some((line.trim_start_matches('`').trim().to_owned(), String::new()));
            }
            None => {}
            Some((lang, body)) if line.starts_with("```") => {
                match lang.as_str() {
                    "sh" => steps.push(Step {
                        command: std::mem::take(body),
                        expected: None,
                    }),
                    "json" if last_was_sh => {
                        let value = serde_json::from_str(body)
                            .unwrap_or_else(|e| panic!("{doc}: a json block is not JSON ({e}): {body}"));
                        steps.last_mut().unwrap().expected = Some(value);
                    }
                    _ => {}
                }
                last_was_sh = lang == "sh";
                block = None;
            }
            Some((_, body)) => {
                body.push_str(line);
                body.push('\n');
            }
        }
    }
    assert!(block.is_none(), "{doc}: a fence is not closed");
    steps
}

/// `actual` has `expected`'s shape: the same keys, the same JSON types, equal `ok`/`error`/`reason`, and lists
/// that are empty, or not, as the documented one is.
fn same_shape(expected: &Value, actual: &Value, at: &str) -> Result<(), String> {
    let fail = || Err(format!("at {at}: documented {expected}, answered {actual}"));
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            let (ek, ak): (Vec<_>, Vec<_>) = (e.keys().collect(), a.keys().collect());
            if ek != ak {
                return Err(format!("at {at}: documented keys {ek:?}, answered {ak:?}"));
            }
            for (key, value) in e {
                if EXACT_KEYS.contains(&key.as_str()) && value != &a[key] {
                    return Err(format!("at {at}.{key}: documented {value}, answered {}", a[key]));
                }
                same_shape(value, &a[key], &format!("{at}.{key}"))?;
            }
            Ok(())
        }
        (Value::Array(e), Value::Array(a)) => match e.first() {
            None if a.is_empty() => Ok(()),
            Some(first) if !a.is_empty() => a
                .iter()
                .enumerate()
                .try_for_each(|(i, item)| same_shape(first, item, &format!("{at}[{i}]"))),
            _ => fail(),
        },
        (Value::String(_), Value::String(_))
        | (Value::Number(_), Value::Number(_))
        | (Value::Bool(_), Value::Bool(_))
        | (Value::Null, Value::Null) => Ok(()),
        _ => fail(),
    }
}

/// A shell that runs a guide's commands: `bitconn` is the built binary, the store the served one.
fn shell(script: &str, store: &TempStore, workdir: &Path) -> (bool, String, String) {
    let bin_dir = Path::new(common::BIN).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("sh");
    for var in [
        "BITCONN_PUBLIC_URL",
        "BITCONN_ODOO_API_KEY",
        "BITCONN_SEAL",
        "URL",
        "SECRET",
    ] {
        cmd.env_remove(var);
    }
    let out = cmd
        .args(["-eu", "-c", script])
        .env("PATH", path)
        .env("BITCONN_STORE", &store.spec)
        .current_dir(workdir)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs every step of `doc` against a fresh demo-mode server; returns how many answers were compared.
fn run_guide(doc: &str) -> usize {
    let store = TempStore::new();
    let served: Served = serve(&store.spec, &[]);
    let url = served.printed("url:").expect("demo mode prints the webhook URL");
    let secret = served.printed("secret:").expect("demo mode prints the secret");
    let workdir = tempfile::tempdir().unwrap();
    let mut prelude = String::new();
    let mut compared = 0;
    // A command given twice in a row (a retry under the same Idempotency-Key) must answer the same both times.
    let mut previous: Option<(String, String)> = None;
    for step in steps(doc) {
        let command = step.command.trim();
        if command == SERVE_COMMAND {
            continue;
        }
        let command = command.replace(DOC_BASE, &served.base_url);
        if command.starts_with("export URL=") {
            let id = url.rsplit('/').next().unwrap();
            let filled = command.replace("<id>", id).replace("<secret>", &secret);
            assert_ne!(
                filled, command,
                "{doc}: the URL line lost its placeholders: {command}"
            );
            prelude = filled;
            let (ok, out, err) = shell(
                &format!("{prelude}\nprintf '%s %s' \"$URL\" \"$SECRET\""),
                &store,
                workdir.path(),
            );
            assert!(ok, "{doc}: {command}: {err}");
            assert_eq!(out, format!("{url} {secret}"), "{doc}: {command}");
            continue;
        }
        let (ok, out, err) = shell(&format!("{prelude}\n{command}"), &store, workdir.path());
        assert!(ok, "{doc}: `{command}` failed: {err}\n{out}");
        if let Some((last_command, last_out)) = previous.replace((command.clone(), out.clone()))
            && last_command == command
        {
            assert_eq!(
                out, last_out,
                "{doc}: `{command}` answered differently the second time"
            );
        }
        if let Some(expected) = step.expected {
            let actual: Value = serde_json::from_str(&out)
                .unwrap_or_else(|e| panic!("{doc}: `{command}` did not answer JSON ({e}): {out}"));
            if let Err(diff) = same_shape(&expected, &actual, "$") {
                panic!("{doc}: `{command}` drifted from the guide: {diff}");
            }
            compared += 1;
        }
    }
    compared
}

#[test]
fn the_quick_start_runs_as_written() {
    let compared = run_guide("docs/quickstart.md");
    assert!(
        compared >= 6,
        "the quick start lost its answers ({compared} compared)"
    );
}

#[test]
fn the_migration_guide_runs_as_written() {
    let compared = run_guide("docs/migrating-from-the-odoo-module.md");
    assert!(
        compared >= 6,
        "the migration guide lost its answers ({compared} compared)"
    );
}

#[test]
fn the_shape_comparison_catches_drift() {
    let doc = serde_json::json!({"ok": false, "error": "invalid_domain", "message": "x"});
    assert!(
        same_shape(
            &doc,
            &serde_json::json!({"ok": false, "error": "invalid_domain", "message": "y"}),
            "$"
        )
        .is_ok()
    );
    assert!(
        same_shape(
            &doc,
            &serde_json::json!({"ok": false, "error": "invalid_field", "message": "x"}),
            "$"
        )
        .is_err()
    );
    assert!(
        same_shape(
            &doc,
            &serde_json::json!({"ok": false, "error": "invalid_domain"}),
            "$"
        )
        .is_err()
    );
    let list = serde_json::json!({"ids": [1]});
    assert!(same_shape(&list, &serde_json::json!({"ids": []}), "$").is_err());
    assert!(same_shape(&list, &serde_json::json!({"ids": ["1"]}), "$").is_err());
}

/// The `sh` blocks of `doc` under the heading `heading` (up to the next heading of the same or a higher level).
fn section_blocks(doc: &str, heading: &str) -> Vec<String> {
    let text = std::fs::read_to_string(repo_root().join(doc)).unwrap();
    let level = heading.chars().take_while(|c| *c == '#').count();
    let mut inside = false;
    let mut blocks = Vec::new();
    let mut block: Option<String> = None;
    for line in text.lines() {
        if let Some(body) = block.as_mut() {
            if line.starts_with("```") {
                blocks.push(block.take().unwrap());
            } else {
                body.push_str(line);
                body.push('\n');
            }
            continue;
        }
        let hashes = line.chars().take_while(|c| *c == '#').count();
        if hashes > 0 && line[hashes..].starts_with(' ') {
            if line.trim() == heading {
                inside = true;
            } else if hashes <= level {
                inside = false;
            }
        } else if inside && line.trim() == "```sh" {
            block = Some(String::new());
        }
    }
    assert!(!blocks.is_empty(), "{doc} has no sh block under {heading:?}");
    blocks
}

#[test]
fn the_backup_and_dead_letter_commands_run_on_a_live_store() {
    let store = TempStore::new();
    let served = serve(&store.spec, &[]);
    let dir = store.path.parent().unwrap();
    let url = served.printed("url:").unwrap();
    let id = url.rsplit('/').next().unwrap();
    for block in section_blocks("docs/operations.md", "## Backups") {
        let (ok, out, err) = shell(&block, &store, dir);
        assert!(ok, "`{block}` failed: {err}\n{out}");
        assert!(
            out.contains(id),
            "the backup does not list the demo webhook: {out}"
        );
    }
    for file in [
        "bitconn-backup.db",
        "bitconn-backup.outbound.db",
        "bitconn-backup.db.key",
    ] {
        assert!(dir.join(file).is_file(), "{file} was not written");
    }
    let blocks = section_blocks("docs/deploy.md", "## Alarms to set");
    let (ok, out, err) = shell(&blocks[0], &store, dir);
    assert!(ok, "`{}` failed: {err}", blocks[0]);
    assert_eq!(out.trim(), "0", "{}", blocks[0]);
}
