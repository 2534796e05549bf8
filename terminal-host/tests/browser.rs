//! The page in headless Chromium (tests/browser/terminal-page.mjs): connect with a token from the URL
//! fragment, `echo hello`, a large paste, resize, shell exit, reconnect, disconnect, a lost connection, auth failure; the screenshot lands in target/tmp.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use terminal_host::token::ShellMode;

const CHECKS: &[&str] = &[
    "connected",
    "echo hello",
    "large paste",
    "resize",
    "shell exit",
    "reconnect with a fresh token",
    "disconnect",
    "connection lost",
    "auth failure",
    "done",
];

fn chromium() -> PathBuf {
    let path = PathBuf::from(std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()));
    assert!(
        path.is_file(),
        "Chromium not found at {} (set CHROMIUM or run scripts/ensure-tools.sh, which installs Debian's chromium)",
        path.display()
    );
    path
}

fn script_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/browser");
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed: run `npm ci` in {} (scripts/ensure-tools.sh does)",
        dir.display()
    );
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_runs_a_shell_in_headless_chromium() {
    let chromium = chromium();
    let dir = script_dir();
    let host = start_host(&[]).await;
    let base = format!("http://{}", host.local_addr());
    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("terminal-page.png");
    let _ = std::fs::remove_file(&screenshot);
    let run = tokio::process::Command::new("node")
        .current_dir(&dir)
        .arg("terminal-page.mjs")
        .arg(&base)
        .arg(token("admin", ShellMode::Bash))
        .arg(token("admin", ShellMode::Bash))
        .arg(token("admin", ShellMode::Bash))
        .arg(&screenshot)
        .env("CHROMIUM", &chromium)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("browser run timed out")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "browser checks failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let passed: Vec<String> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["ok"] == true)
        .map(|v| v["check"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(passed, CHECKS, "{stdout}");
    // The lost connection and the disconnect ended their shells too.
    eventually(Duration::from_secs(5), "every session to end", || {
        host.active_sessions() == 0
    })
    .await;
    let png = std::fs::read(&screenshot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 5_000,
        "screenshot missing or empty"
    );
    println!("screenshot: {}", screenshot.display());
}
