//! The PTY and its process tree: spawn a shell in its own session, pump bytes on threads, kill and reap it.

use std::io::{Read, Write};
use std::path::Path;
use std::thread;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
use nix::unistd::Pid;
use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};
use tokio::sync::{mpsc, oneshot};

use crate::protocol::TermSize;

/// Bytes per PTY read; also the largest chunk queued for the socket.
pub const READ_CHUNK: usize = 32 * 1024;
/// Chunks of output held between the PTY and the socket. With pause/resume this is the memory bound:
/// when the queue is full the reader stops, the kernel's PTY buffer fills and the shell blocks.
pub const OUTPUT_QUEUE: usize = 8;
/// Input chunks held for the shell; the session stops reading the socket when it is full.
pub const INPUT_QUEUE: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum TerminalError {
    #[error("could not open a PTY")]
    OpenPty(#[source] anyhow::Error),
    #[error("could not start {program}")]
    Spawn {
        program: String,
        #[source]
        source: anyhow::Error,
    },
    #[error("the started shell has no process id")]
    NoPid,
    #[error("could not start the PTY threads")]
    Thread(#[source] std::io::Error),
}

/// How the shell ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitInfo {
    pub code: u32,
    pub signal: Option<String>,
}

impl ExitInfo {
    fn from_wait(status: WaitStatus) -> Self {
        match status {
            WaitStatus::Exited(_, code) => ExitInfo {
                code: code as u32,
                signal: None,
            },
            WaitStatus::Signaled(_, signal, _) => ExitInfo {
                code: 128 + signal as u32,
                signal: Some(signal.as_str().to_owned()),
            },
            _ => ExitInfo {
                code: 1,
                signal: None,
            },
        }
    }
}

/// A running shell; [`Terminal::terminate`] ends it.
pub struct Terminal {
    master: Box<dyn MasterPty + Send>,
    child: Box<dyn Child + Send + Sync>,
    leader: Pid,
    exited: oneshot::Receiver<ExitInfo>,
    exit: Option<ExitInfo>,
}

/// The byte streams of a running shell, bridged from the PTY threads by bounded channels.
pub struct Pipes {
    pub output: mpsc::Receiver<Vec<u8>>,
    pub input: mpsc::Sender<Vec<u8>>,
}

impl Terminal {
    /// Starts `argv` on a new PTY as a session leader with the PTY as its controlling terminal
    /// (portable-pty does `setsid` + `TIOCSCTTY`), with exactly `env` as its environment.
    pub fn spawn(
        argv: &[String],
        env: &[(String, String)],
        cwd: &Path,
        size: TermSize,
    ) -> Result<(Self, Pipes), TerminalError> {
        let program = argv.first().cloned().unwrap_or_default();
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: size.rows,
                cols: size.cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .map_err(TerminalError::OpenPty)?;
        let mut cmd = CommandBuilder::from_argv(argv.iter().map(Into::into).collect());
        cmd.env_clear();
        for (name, value) in env {
            cmd.env(name, value);
        }
        cmd.cwd(cwd);
        let spawn_err = |source| TerminalError::Spawn {
            program: program.clone(),
            source,
        };
        let mut child = pair.slave.spawn_command(cmd).map_err(spawn_err)?;
        // The parent's copy of the slave must go, or the reader never sees EOF when the shell exits.
        drop(pair.slave);
        let master = pair.master;
        let Some(leader) = child
            .process_id()
            .and_then(|p| i32::try_from(p).ok())
            .map(Pid::from_raw)
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(TerminalError::NoPid);
        };
        let (out_tx, output) = mpsc::channel(OUTPUT_QUEUE);
        let (input, in_rx) = mpsc::channel(INPUT_QUEUE);
        let (exit_tx, exited) = oneshot::channel();
        let started = (|| {
            let reader = master.try_clone_reader().map_err(spawn_err)?;
            let writer = master.take_writer().map_err(spawn_err)?;
            spawn_thread("pty-reader", move || read_loop(reader, out_tx))?;
            spawn_thread("pty-writer", move || write_loop(writer, in_rx))?;
            spawn_thread("pty-waiter", move || {
                // WNOWAIT leaves the leader a zombie until `terminate` reaps it, so its pid (the session
                // id used to find the rest of the tree) cannot be reused in between.
                let status = waitid(Id::Pid(leader), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT);
                let exit = status.map(ExitInfo::from_wait).unwrap_or(ExitInfo {
                    code: 1,
                    signal: None,
                });
                let _ = exit_tx.send(exit);
            })
        })();
        if let Err(error) = started {
            signal_session(leader, Signal::SIGKILL);
            let _ = child.wait();
            return Err(error);
        }
        let terminal = Terminal {
            master,
            child,
            leader,
            exited,
            exit: None,
        };
        Ok((terminal, Pipes { output, input }))
    }

    pub fn pid(&self) -> u32 {
        self.leader.as_raw() as u32
    }

    pub fn resize(&self, size: TermSize) {
        let size = PtySize {
            rows: size.rows,
            cols: size.cols,
            pixel_width: 0,
            pixel_height: 0,
        };
        if let Err(error) = self.master.resize(size) {
            tracing::warn!(%error, "resize failed");
        }
    }

    /// Resolves when the shell (the session leader) has exited; pending forever afterwards.
    pub async fn exited(&mut self) -> ExitInfo {
        if let Some(exit) = &self.exit {
            return exit.clone();
        }
        match (&mut self.exited).await {
            Ok(exit) => {
                self.exit = Some(exit.clone());
                exit
            }
            Err(_) => std::future::pending().await,
        }
    }

    pub fn has_exited(&self) -> bool {
        self.exit.is_some()
    }

    /// SIGHUP to every process group of the shell's session, SIGKILL to whatever is left after `grace`,
    /// then reap the leader. Returns how the shell ended (a signal, when it had to be killed).
    pub async fn terminate(mut self, grace: Duration) -> ExitInfo {
        if self.exit.is_none() {
            signal_session(self.leader, Signal::SIGHUP);
            let _ = tokio::time::timeout(grace, self.exited()).await;
        }
        // Background jobs, nohup'd commands and anything that ignored SIGHUP die with the session.
        signal_session(self.leader, Signal::SIGKILL);
        let exit = self.exited().await;
        let Terminal {
            mut child, master, ..
        } = self;
        drop(master);
        let _ = tokio::task::spawn_blocking(move || child.wait()).await;
        exit
    }
}

fn spawn_thread(name: &str, f: impl FnOnce() + Send + 'static) -> Result<(), TerminalError> {
    thread::Builder::new()
        .name(name.to_owned())
        .spawn(f)
        .map(drop)
        .map_err(TerminalError::Thread)
}

fn read_loop(mut reader: Box<dyn Read + Send>, tx: mpsc::Sender<Vec<u8>>) {
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        match reader.read(&mut buf) {
            // EIO once the last process holding the slave has gone.
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if tx.blocking_send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        }
    }
}

fn write_loop(mut writer: Box<dyn Write + Send>, mut rx: mpsc::Receiver<Vec<u8>>) {
    while let Some(data) = rx.blocking_recv() {
        if writer.write_all(&data).and_then(|()| writer.flush()).is_err() {
            break;
        }
    }
}

/// Signals every process group whose members belong to the session led by `leader`.
fn signal_session(leader: Pid, signal: Signal) {
    let mut groups = session_groups(leader.as_raw());
    groups.push(leader.as_raw());
    groups.sort_unstable();
    groups.dedup();
    for group in groups {
        if let Err(Errno::EPERM) = killpg(Pid::from_raw(group), signal) {
            // Another user's shell and no CAP_KILL: its processes would outlive the session.
            tracing::error!(group, %signal, "not allowed to signal the shell's processes");
        }
    }
}

/// Process groups of the live processes in session `sid`, read from `/proc/<pid>/stat`.
fn session_groups(sid: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let (pgrp, session) = parse_stat_ids(&stat)?;
            (session == sid).then_some(pgrp)
        })
        .collect()
}

/// `(pgrp, session)` from a `/proc/<pid>/stat` line; the command name may itself contain spaces and `)`.
pub fn parse_stat_ids(stat: &str) -> Option<(i32, i32)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let _state = fields.next()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    let session = fields.next()?.parse().ok()?;
    Some((pgrp, session))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_ids_survive_odd_command_names() {
        let stat = "4242 (we ird) (x)) S 1 4240 4239 34816 4242 4194560 0 0";
        assert_eq!(parse_stat_ids(stat), Some((4240, 4239)));
        assert_eq!(parse_stat_ids("garbage"), None);
    }

    #[tokio::test]
    async fn runs_a_command_and_reports_its_exit() {
        let argv = [
            "/bin/sh".to_owned(),
            "-c".to_owned(),
            "printf hi; exit 3".to_owned(),
        ];
        let env = [("PATH".to_owned(), "/usr/bin:/bin".to_owned())];
        let (mut term, mut pipes) =
            Terminal::spawn(&argv, &env, Path::new("/"), TermSize { rows: 24, cols: 80 }).unwrap();
        let mut out = Vec::new();
        while let Some(chunk) = pipes.output.recv().await {
            out.extend(chunk);
        }
        assert_eq!(String::from_utf8_lossy(&out), "hi");
        assert_eq!(
            term.exited().await,
            ExitInfo {
                code: 3,
                signal: None
            }
        );
        assert_eq!(term.terminate(Duration::from_secs(1)).await.code, 3);
    }
}
