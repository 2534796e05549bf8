//! The terminal over a real socket: round trip, first keystroke, resize, Ctrl-C, exit, odoo mode, timeouts.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use terminal_host::token::ShellMode;

const SECS5: Duration = Duration::from_secs(5);

#[tokio::test]
async fn echo_round_trip_and_audit_counters() {
    let host = start_host(&[]).await;
    let mut c = connect(host.local_addr(), None).await.unwrap();
    c.ready(&token("admin", ShellMode::Bash)).await;
    let ready = c.control("ready").unwrap();
    assert_eq!(
        (ready["user"].as_str(), ready["mode"].as_str()),
        (Some("admin"), Some("bash"))
    );
    assert_eq!(c.run("echo hello").await, "hello");
    assert_eq!(c.run("echo $((6*7))").await, "42");
}

#[tokio::test]
async fn keystrokes_sent_with_the_auth_message_are_not_lost() {
    let host = start_host(&[]).await;
    let mut c = connect(host.local_addr(), None).await.unwrap();
    // Auth and the first keystrokes leave in the same burst, before the shell exists.
    c.auth(&token("admin", ShellMode::Bash)).await;
    c.send_input(b"e").await;
    c.send_input(b"cho first-$((1+1))\r").await;
    c.until(SECS5, "first command output", |c| c.text().contains("first-2"))
        .await;
}

#[tokio::test]
async fn resize_is_seen_by_stty_and_clamped() {
    let host = start_host(&[]).await;
    let mut c = connect(host.local_addr(), None).await.unwrap();
    c.send_json(json!({"type": "auth", "token": token("admin", ShellMode::Bash), "rows": 30, "cols": 100}))
        .await;
    c.until(SECS5, "prompt", |c| c.text().contains(PROMPT)).await;
    assert_eq!(c.run("stty size").await, "30 100");
    c.send_json(json!({"type": "resize", "rows": 33, "cols": 101}))
        .await;
    assert_eq!(c.run("stty size").await, "33 101");
    c.send_json(json!({"type": "resize", "rows": 0, "cols": 1_000_000}))
        .await;
    assert_eq!(c.run("stty size").await, "2 1000");
}

#[tokio::test]
async fn ctrl_c_interrupts_the_foreground_job() {
    let host = start_host(&[]).await;
    let mut c = connect(host.local_addr(), None).await.unwrap();
    c.ready(&token("admin", ShellMode::Bash)).await;
    c.send_input(b"sleep 30\r").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = tokio::time::Instant::now();
    let before = c.output.len();
    c.send_input(b"\x03").await;
    c.prompt_after(before).await;
    assert_eq!(c.run("echo status=$?").await, "status=130");
    assert!(started.elapsed() < Duration::from_secs(5));
    // Job control works: the PTY is the controlling terminal of the shell's session.
    assert_eq!(
        c.run("set -o | grep -w monitor | tr -s ' \\t' ' '").await,
        "monitor on"
    );
}

#[tokio::test]
async fn shell_exit_is_reported_and_closes_normally() {
    let host = start_host(&[]).await;
    let mut c = connect(host.local_addr(), None).await.unwrap();
    c.ready(&token("admin", ShellMode::Bash)).await;
    c.send_input(b"echo bye; exit 7\r").await;
    let (code, reason) = c.closed(SECS5).await;
    assert_eq!((code, reason.as_str()), (1000, "shell_exited"));
    let exit = c.control("exit").unwrap();
    assert_eq!(exit["code"], 7);
    assert!(c.text().contains("bye"));
}

#[tokio::test]
async fn odoo_mode_runs_the_configured_command() {
    let host = start_host(&[]).await;
    let mut c = connect(host.local_addr(), None).await.unwrap();
    c.ready(&token("admin", ShellMode::Odoo)).await;
    assert_eq!(c.control("ready").unwrap()["mode"], "odoo");
    assert_eq!(c.run("echo odoo=$ODOO_FAKE").await, "odoo=yes");
}

#[tokio::test]
async fn odoo_token_is_refused_when_no_odoo_is_available() {
    let host = start_host(&[("WS_ODOO_COMMAND", ""), ("PATH", "/nonexistent")]).await;
    let mut c = connect(host.local_addr(), None).await.unwrap();
    c.auth(&token("admin", ShellMode::Odoo)).await;
    assert_eq!(c.closed(SECS5).await, (1008, "shell_unavailable".to_owned()));
}

#[tokio::test]
async fn shell_environment_is_the_allow_list() {
    let host = start_host(&[]).await;
    let mut c = connect(host.local_addr(), None).await.unwrap();
    c.ready(&token("admin", ShellMode::Bash)).await;
    let names = c
        .run("env | cut -d= -f1 | grep -v '^_$' | sort | tr '\\n' ' '")
        .await;
    let names: Vec<&str> = names.split_whitespace().collect();
    for expected in ["HOME", "LANG", "PATH", "TERM", "COLORTERM"] {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }
    assert!(
        !names.iter().any(|n| n.starts_with("WS_") || *n == "CARGO"),
        "{names:?}"
    );
    assert_eq!(c.run("echo $TERM").await, "xterm-256color");
}

#[tokio::test]
async fn idle_sessions_are_closed_and_their_shell_killed() {
    let host = start_host(&[("WS_IDLE_TIMEOUT", "1s")]).await;
    let mut c = connect(host.local_addr(), None).await.unwrap();
    c.ready(&token("admin", ShellMode::Bash)).await;
    c.send_input(b"sleep 987654 &\r").await;
    eventually(SECS5, "background sleep", || process_running("sleep 987654")).await;
    let (code, reason) = c.closed(SECS5).await;
    assert_eq!((code, reason.as_str()), (1000, "idle_timeout"));
    assert!(c.control("exit").is_some(), "{:?}", c.controls);
    eventually(SECS5, "background job killed", || {
        !process_running("sleep 987654")
    })
    .await;
    eventually(SECS5, "slot released", || host.active_sessions() == 0).await;
}

#[tokio::test]
async fn sessions_end_at_their_maximum_length_despite_input() {
    let host = start_host(&[("WS_MAX_SESSION_LENGTH", "1500ms"), ("WS_IDLE_TIMEOUT", "30s")]).await;
    let mut c = connect(host.local_addr(), None).await.unwrap();
    c.ready(&token("admin", ShellMode::Bash)).await;
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        c.send_input(b"\r").await;
    }
    let (code, reason) = c.closed(SECS5).await;
    assert_eq!((code, reason.as_str()), (1000, "max_session_length"));
}

#[tokio::test]
async fn pings_are_answered() {
    let host = start_host(&[]).await;
    let mut c = connect(host.local_addr(), None).await.unwrap();
    c.ready(&token("admin", ShellMode::Bash)).await;
    c.send_json(json!({"type": "ping", "id": 9})).await;
    c.send_json(json!({"type": "no-such-thing"})).await;
    c.until(SECS5, "pong", |c| c.control("pong").is_some()).await;
    assert_eq!(c.control("pong").unwrap()["id"], 9);
    assert_eq!(c.run("echo still-here").await, "still-here");
}
