//! 200 connect/disconnect cycles leave no child process, zombie or PTY descriptor behind (checked in /proc).
//! Its own test binary, so the children counted are this test's only.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use terminal_host::token::ShellMode;

const CYCLES: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_disconnect_cycles_leave_nothing_behind() {
    let host = start_host(&[("WS_MAX_SESSIONS", "8")]).await;
    let addr = host.local_addr();
    let fds_before = pty_fds();
    assert!(child_pids().is_empty());
    let started = Instant::now();
    for i in 0..CYCLES {
        let mut c = connect(addr, None).await.unwrap();
        c.auth(&token("admin", ShellMode::Bash)).await;
        c.until(Duration::from_secs(5), "ready", |c| c.control("ready").is_some())
            .await;
        // Every tenth shell leaves a background job and a job that ignores SIGHUP behind.
        if i % 10 == 0 {
            c.send_input(b"sleep 1000 & (trap '' HUP; sleep 1001) &\r").await;
            c.until(Duration::from_secs(5), "prompt", |c| {
                c.text().matches(PROMPT).count() >= 2
            })
            .await;
        }
        drop(c);
    }
    eventually(Duration::from_secs(10), "every session to end", || {
        host.active_sessions() == 0
    })
    .await;
    eventually(
        Duration::from_secs(5),
        "no child processes (zombies included)",
        || child_pids().is_empty(),
    )
    .await;
    eventually(
        Duration::from_secs(5),
        "PTY descriptors back to the baseline",
        || pty_fds() == fds_before,
    )
    .await;
    assert!(
        !process_running("sleep 1000") && !process_running("sleep 1001"),
        "background jobs survived"
    );
    println!("{CYCLES} cycles in {:?}", started.elapsed());
}
