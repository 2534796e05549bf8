//! Running the shells as another user than the host (`WS_SHELL_USER`), so a shell cannot signal, trace
//! or read the host that holds the signing key, nor read the files only the host's user may.

use std::path::{Path, PathBuf};

/// Switches user, groups and capabilities before the shell starts (util-linux, on every Debian system).
pub const SETPRIV: &str = "/usr/bin/setpriv";

/// Capability numbers (linux/capability.h) the host needs to start and end another user's shells.
const CAP_KILL: u32 = 5;
const CAP_SETGID: u32 = 6;
const CAP_SETUID: u32 = 7;

/// The account every shell runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ShellUserError {
    #[error("no such user")]
    Unknown,
    #[error("the user database could not be read: {0}")]
    Lookup(String),
    #[error("{SETPRIV} (util-linux) is needed to switch users")]
    NoSetpriv,
    #[error(
        "the host lacks {0}: give it CAP_SETUID and CAP_SETGID as ambient capabilities and CAP_KILL \
         (the unit's AmbientCapabilities=), or run it as root"
    )]
    MissingCapabilities(String),
}

impl ShellUser {
    /// Looks the account up and checks that this process can start and signal its processes.
    pub fn resolve(name: &str) -> Result<Self, ShellUserError> {
        let user = nix::unistd::User::from_name(name)
            .map_err(|e| ShellUserError::Lookup(e.to_string()))?
            .ok_or(ShellUserError::Unknown)?;
        if !Path::new(SETPRIV).is_file() {
            return Err(ShellUserError::NoSetpriv);
        }
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let missing = missing_capabilities(&status);
        if !missing.is_empty() {
            return Err(ShellUserError::MissingCapabilities(missing.join(", ")));
        }
        Ok(ShellUser {
            name: user.name,
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
            home: user.dir,
        })
    }

    /// `argv` run through setpriv as this user with its groups and no capability left to inherit: after
    /// the switch the shell holds none, even when the host has some.
    pub fn wrap(&self, argv: &[String]) -> Vec<String> {
        let mut wrapped = vec![
            SETPRIV.to_owned(),
            format!("--reuid={}", self.uid),
            format!("--regid={}", self.gid),
            "--init-groups".to_owned(),
            "--inh-caps=-all".to_owned(),
            "--ambient-caps=-all".to_owned(),
            "--".to_owned(),
        ];
        wrapped.extend(argv.iter().cloned());
        wrapped
    }
}

/// What `/proc/self/status` says is missing: a child of the host (setpriv) can only switch users with
/// CAP_SETUID and CAP_SETGID that survive `exec` (root's, or ambient ones), and the host needs CAP_KILL
/// to end the processes of another user.
fn missing_capabilities(status: &str) -> Vec<&'static str> {
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            .unwrap_or(0)
    };
    let root = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().nth(1))
        == Some("0");
    let inherited = if root { field("CapEff:") } else { field("CapAmb:") };
    let effective = field("CapEff:");
    let has = |set: u64, cap: u32| set & (1 << cap) != 0;
    let mut missing = Vec::new();
    if !has(inherited, CAP_SETUID) {
        missing.push("CAP_SETUID");
    }
    if !has(inherited, CAP_SETGID) {
        missing.push("CAP_SETGID");
    }
    if !has(effective, CAP_KILL) {
        missing.push("CAP_KILL");
    }
    missing
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(uid: u32, eff: &str, amb: &str) -> String {
        format!("Name:\tx\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\nCapEff:\t{eff}\nCapAmb:\t{amb}\n")
    }

    #[test]
    fn capabilities_must_survive_exec_unless_root() {
        assert!(missing_capabilities(&status(0, "000001ffffffffff", "0000000000000000")).is_empty());
        // A non-root host with effective but not ambient capabilities cannot pass them to setpriv.
        assert_eq!(
            missing_capabilities(&status(990, "00000000000000e0", "0000000000000000")),
            ["CAP_SETUID", "CAP_SETGID"]
        );
        assert!(missing_capabilities(&status(990, "00000000000000e0", "00000000000000c0")).is_empty());
        assert_eq!(
            missing_capabilities(&status(990, "0000000000000000", "0000000000000000")),
            ["CAP_SETUID", "CAP_SETGID", "CAP_KILL"]
        );
    }

    #[test]
    fn wraps_the_command_in_setpriv() {
        let user = ShellUser {
            name: "shell".into(),
            uid: 991,
            gid: 992,
            home: "/home/shell".into(),
        };
        let argv = user.wrap(&["/bin/bash".to_owned(), "-i".to_owned()]);
        assert_eq!(argv[..3], [SETPRIV, "--reuid=991", "--regid=992"]);
        assert_eq!(argv[argv.len() - 3..], ["--", "/bin/bash", "-i"]);
    }
}
