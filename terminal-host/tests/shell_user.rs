//! `WS_SHELL_USER`: shells run as another user, with no capabilities, its own home, and still die whole
//! when the session ends. Switching users needs root here (or the capabilities the unit grants).
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::MetadataExt;
use std::process::Command;
use std::time::Duration;

use common::*;
use terminal_host::token::ShellMode;

const SECS5: Duration = Duration::from_secs(5);

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").unwrap().uid() == 0
}

#[tokio::test]
async fn shells_run_as_the_shell_user_without_capabilities() {
    if !running_as_root() {
        println!("skipped: switching users needs root");
        return;
    }
    let host = start_host(&[("WS_SHELL_USER", "nobody"), ("WS_WORKDIR", "/tmp")]).await;
    let mut c = connect(host.local_addr(), None).await.unwrap();
    c.ready(&token("admin", ShellMode::Bash)).await;
    assert_eq!(c.run("id -u; id -g").await, "65534\r\n65534");
    assert_eq!(
        c.run("echo $USER $LOGNAME $HOME").await,
        "nobody nobody /nonexistent"
    );
    assert_eq!(
        c.run("grep -E '^Cap(Inh|Prm|Eff|Amb)' /proc/self/status | tr -s '\\t ' ' ' | tr '\\n' ' '")
            .await,
        "CapInh: 0000000000000000 CapPrm: 0000000000000000 CapEff: 0000000000000000 \
         CapAmb: 0000000000000000"
    );
    // The host (this test process) is another user's: its environment is out of reach.
    assert!(
        c.run("cat /proc/$PPID/environ >/dev/null 2>&1 && echo readable || echo refused")
            .await
            .ends_with("refused")
    );
    c.send_input(b"(trap '' HUP; sleep 1003) &\r").await;
    eventually(SECS5, "background job", || process_running("sleep 1003")).await;
    drop(c);
    eventually(SECS5, "the other user's job to be killed", || {
        !process_running("sleep 1003")
    })
    .await;
    eventually(SECS5, "slot released", || host.active_sessions() == 0).await;
}

#[tokio::test]
async fn odoo_mode_runs_as_the_shell_user_too() {
    if !running_as_root() {
        println!("skipped: switching users needs root");
        return;
    }
    let host = start_host(&[("WS_SHELL_USER", "nobody"), ("WS_WORKDIR", "/tmp")]).await;
    let mut c = connect(host.local_addr(), None).await.unwrap();
    c.ready(&token("admin", ShellMode::Odoo)).await;
    assert_eq!(c.run("echo $ODOO_FAKE $(id -un)").await, "yes nobody");
}

/// The unit's arrangement: the host runs as an unprivileged user holding CAP_SETUID, CAP_SETGID and
/// CAP_KILL as ambient capabilities, the shells as yet another user, with none.
#[tokio::test]
async fn an_unprivileged_host_with_the_units_capabilities_switches_users() {
    if !running_as_root() {
        println!("skipped: granting ambient capabilities needs root");
        return;
    }
    let mut cmd = Command::new("/usr/bin/setpriv");
    cmd.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=+setuid,+setgid,+kill",
        "--ambient-caps=+setuid,+setgid,+kill",
        env!("CARGO_BIN_EXE_terminal-host"),
    ]);
    cmd.env_clear()
        .envs(test_env(&[("WS_SHELL_USER", "daemon"), ("WS_WORKDIR", "/tmp")]));
    let host = run_binary(cmd);
    let mut c = connect(host.addr, None).await.unwrap();
    c.ready(&token("admin", ShellMode::Bash)).await;
    assert_eq!(c.run("id -un").await, "daemon");
    assert_eq!(
        c.run("grep -E '^Cap(Prm|Eff|Amb)' /proc/self/status | cut -f2 | sort -u")
            .await,
        "0000000000000000"
    );
    // The host can still end the other user's processes that ignore SIGHUP.
    c.send_input(b"(trap '' HUP; sleep 1004) &\r").await;
    eventually(SECS5, "background job", || process_running("sleep 1004")).await;
    drop(c);
    eventually(SECS5, "the other user's job to be killed", || {
        !process_running("sleep 1004")
    })
    .await;

    // Without the ambient capabilities the host refuses to start instead of failing every session.
    let out = Command::new("/usr/bin/setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            env!("CARGO_BIN_EXE_terminal-host"),
        ])
        .env_clear()
        .envs(test_env(&[("WS_SHELL_USER", "daemon")]))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("WS_SHELL_USER") && stderr.contains("CAP_SETUID"),
        "{stderr}"
    );
}
