//! `bitconn terminal token`: the printed token is exactly what terminal-host accepts.
#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

use terminal_host::token::{self, AUDIENCE, Secret, ShellMode};

const KEY: &str = "cli-test-key-0123456789abcdef-0123456789";

fn bitconn(args: &[&str], key: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bitconn"));
    cmd.args(args).env_remove("WS_SECRET_KEY");
    if let Some(key) = key {
        cmd.env("WS_SECRET_KEY", key);
    }
    cmd.output().unwrap()
}

#[test]
fn prints_a_verifiable_single_use_token_alone() {
    let out = bitconn(
        &[
            "terminal", "token", "--user", "admin", "--mode", "odoo", "--ttl", "90s",
        ],
        Some(KEY),
    );
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "{stdout:?}");
    let claims = token::verify(&Secret::new(KEY).unwrap(), stdout.trim_end()).unwrap();
    assert_eq!(claims.sub, "admin");
    assert_eq!(claims.shell, ShellMode::Odoo);
    assert_eq!(claims.aud, AUDIENCE);
    assert_eq!(claims.exp - claims.iat, 90);

    let default = bitconn(&["terminal", "token", "--user", "ops"], Some(KEY));
    let default = String::from_utf8(default.stdout).unwrap();
    let claims2 = token::verify(&Secret::new(KEY).unwrap(), default.trim_end()).unwrap();
    assert_eq!((claims2.shell, claims2.exp - claims2.iat), (ShellMode::Bash, 60));
    assert_ne!(claims.jti, claims2.jti);
}

#[test]
fn refuses_without_a_proper_key_or_with_a_long_ttl() {
    for (args, key, expect) in [
        (
            &["terminal", "token", "--user", "admin"][..],
            None,
            "WS_SECRET_KEY",
        ),
        (
            &["terminal", "token", "--user", "admin"][..],
            Some("short"),
            "WS_SECRET_KEY",
        ),
        (
            &["terminal", "token", "--user", "admin", "--ttl", "1h"][..],
            Some(KEY),
            "lifetime",
        ),
        (
            &["terminal", "token", "--user", "admin", "--mode", "zsh"][..],
            Some(KEY),
            "zsh",
        ),
    ] {
        let out = bitconn(args, key);
        assert!(!out.status.success(), "{args:?}");
        assert!(out.stdout.is_empty());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expect), "{args:?}: {stderr}");
    }
}
