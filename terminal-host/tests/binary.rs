//! The real binary as a child process: its environment stays out of shells and out of reach of the
//! shells' user, flow control bounds its memory under `yes`, and it refuses to start without a proper key.
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, Output};
use std::time::Duration;

use common::*;
use serde_json::json;
use terminal_host::token::ShellMode;
use tokio::time::{Instant, timeout};

/// Resident memory the host may reach while a client floods itself with `yes`.
const RSS_LIMIT_KB: u64 = 64 * 1024;

fn spawn_host(extra: &[(&str, &str)]) -> Running {
    spawn_host_as(extra, None)
}

/// A uid and gid without privileges: ours, or `nobody`'s when the tests run as root (root may read any
/// process's `/proc/<pid>/environ`, so only an unprivileged user shows what a shell could do).
fn unprivileged_user() -> (u32, u32) {
    let me = std::fs::metadata("/proc/self").unwrap();
    if me.uid() == 0 {
        (65534, 65534)
    } else {
        (me.uid(), me.gid())
    }
}

fn as_user(cmd: &mut Command, user: Option<(u32, u32)>) -> &mut Command {
    if let Some((uid, gid)) = user {
        cmd.uid(uid).gid(gid);
    }
    cmd
}

fn spawn_host_as(extra: &[(&str, &str)], user: Option<(u32, u32)>) -> Running {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_terminal-host"));
    as_user(&mut cmd, user);
    cmd.env_clear().envs(test_env(extra));
    run_binary(cmd)
}

fn status_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn refuses_to_start_without_a_long_enough_key() {
    for key in ["", "short-key"] {
        let out = Command::new(env!("CARGO_BIN_EXE_terminal-host"))
            .env_clear()
            .envs(test_env(&[("WS_SECRET_KEY", key)]))
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("WS_SECRET_KEY"),
            "{out:?}"
        );
    }
}

#[tokio::test]
async fn the_secret_key_never_reaches_the_shell() {
    let host = spawn_host(&[("SOME_DB_PASSWORD", "hunter2")]);
    let mut c = connect(host.addr, None).await.unwrap();
    c.ready(&token("admin", ShellMode::Bash)).await;
    assert_eq!(
        c.run("echo \"[$WS_SECRET_KEY][$SOME_DB_PASSWORD]\"").await,
        "[][]"
    );
    assert_eq!(c.run("env | grep -c -e WS_ -e hunter2").await, "0");
}

/// `cat /proc/<pid>/environ` as `user`.
fn read_environ(pid: u32, user: (u32, u32)) -> Output {
    let mut cat = Command::new("/bin/cat");
    as_user(&mut cat, Some(user))
        .arg(format!("/proc/{pid}/environ"))
        .output()
        .unwrap()
}

#[test]
fn the_hosts_own_user_cannot_read_its_environment() {
    let user = unprivileged_user();
    let host = spawn_host_as(&[], Some(user));
    // A dumpable process of the same user, as a control: its environment is readable.
    let mut neighbour = Command::new("/bin/sleep");
    let mut neighbour = as_user(&mut neighbour, Some(user))
        .arg("30")
        .env_clear()
        .env("NEIGHBOUR_MARK", "readable")
        .spawn()
        .unwrap();
    let control = read_environ(neighbour.id(), user);
    let _ = neighbour.kill();
    let _ = neighbour.wait();
    assert!(
        String::from_utf8_lossy(&control.stdout).contains("NEIGHBOUR_MARK=readable"),
        "the same user cannot even read a dumpable process: {control:?}"
    );

    let out = read_environ(host.child.id(), user);
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains(KEY),
        "the host's key is readable from /proc by its own user"
    );
    assert!(!out.status.success(), "{out:?}");
    // The host still works as that user.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut c = connect(host.addr, None).await.unwrap();
        c.ready(&token("admin", ShellMode::Bash)).await;
        assert_eq!(c.run("echo served").await, "served");
    });
}

#[tokio::test]
async fn pause_stops_a_yes_flood_and_memory_stays_bounded() {
    let host = spawn_host(&[]);
    let pid = host.child.id();
    let mut c = connect(host.addr, None).await.unwrap();
    c.ready(&token("admin", ShellMode::Bash)).await;
    c.send_input(b"yes\r").await;
    c.until(Duration::from_secs(10), "1 MB of output", |c| {
        c.output.len() > 1 << 20
    })
    .await;

    c.send_json(json!({"type": "pause"})).await;
    // What was in flight when the pause arrived still comes (until a quiet half second); then nothing.
    let give_up = Instant::now() + Duration::from_secs(10);
    while Instant::now() < give_up && timeout(Duration::from_millis(500), c.pump_once()).await.is_ok() {}
    let paused_at = c.output.len();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let _ = timeout(Duration::from_millis(200), c.pump_once()).await;
    assert_eq!(c.output.len(), paused_at, "output kept coming while paused");
    let rss = status_kb(pid, "VmRSS:");
    assert!(rss < RSS_LIMIT_KB, "host RSS {rss} kB while paused under yes");

    c.send_json(json!({"type": "resume"})).await;
    c.until(Duration::from_secs(10), "output after resume", |c| {
        c.output.len() > paused_at + (1 << 20)
    })
    .await;
    c.send_input(b"\x03").await;
    let hwm = status_kb(pid, "VmHWM:");
    assert!(hwm < RSS_LIMIT_KB, "host peak RSS {hwm} kB");
}

#[tokio::test]
async fn a_client_that_reads_slowly_bounds_memory_without_pausing() {
    let host = spawn_host(&[]);
    let pid = host.child.id();
    let mut c = connect(host.addr, None).await.unwrap();
    c.ready(&token("admin", ShellMode::Bash)).await;
    c.send_input(b"yes 0123456789012345678901234567890123456789\r")
        .await;
    let end = Instant::now() + Duration::from_secs(2);
    while Instant::now() < end {
        let _ = timeout(Duration::from_millis(100), c.pump_once()).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let hwm = status_kb(pid, "VmHWM:");
    assert!(hwm < RSS_LIMIT_KB, "host peak RSS {hwm} kB with a slow reader");
}

#[tokio::test]
async fn each_session_leaves_one_audit_line() {
    let host = spawn_host(&[]);
    let mut c = connect(host.addr, None).await.unwrap();
    c.ready(&token("auditor", ShellMode::Bash)).await;
    c.send_input(b"exit 5\r").await;
    c.closed(Duration::from_secs(5)).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut audit = Vec::new();
    while std::time::Instant::now() < deadline && audit.is_empty() {
        while let Ok(line) = host.log.try_recv() {
            if line.contains("terminal_host::audit") {
                audit.push(line);
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(audit.len(), 1, "{audit:?}");
    let line = &audit[0];
    for field in [
        "user=auditor",
        "mode=bash",
        "exit_code=5",
        "reason=\"shell_exited\"",
        "bytes_in=7",
        "start=",
        "end=",
    ] {
        assert!(line.contains(field), "{field} missing from {line}");
    }
}
