//! Finds the local Odoo's `odoo shell` command the way the original module did, when none is configured.

use std::path::{Path, PathBuf};

/// Where to look; every field is optional and comes from the host's environment.
#[derive(Debug, Clone, Default)]
pub struct OdooHints {
    /// The Odoo source checkout (the directory holding `odoo-bin`).
    pub root: Option<PathBuf>,
    pub config: Option<PathBuf>,
    pub python: Option<PathBuf>,
    pub virtual_env: Option<PathBuf>,
    pub path: Option<String>,
}

/// Virtualenv folder names the original probed beside the Odoo checkout.
const VENV_DIRS: &[&str] = &["venv", ".venv", "env"];
const CONFIG_NAMES: &[&str] = &["odoo.conf", "openerp-server.conf"];
const SYSTEM_CONFIG: &str = "/etc/odoo/odoo.conf";

/// `[launcher…, "shell", "--no-http", ("-c", config)]`, or `None` when no Odoo is installed here.
pub fn detect_odoo(hints: &OdooHints) -> Option<Vec<String>> {
    let on_path = |name: &str| find_on_path(name, hints.path.as_deref());
    let python = || -> Option<PathBuf> {
        if let Some(p) = &hints.python {
            return Some(p.clone());
        }
        let venvs = hints.virtual_env.iter().cloned();
        let beside = hints
            .root
            .iter()
            .flat_map(|r| VENV_DIRS.iter().map(move |d| r.join(d)));
        venvs
            .chain(beside)
            .map(|v| v.join("bin/python3"))
            .find(|p| p.is_file())
            .or_else(|| on_path("python3"))
    };
    let root_bin = hints
        .root
        .as_ref()
        .map(|r| r.join("odoo-bin"))
        .filter(|p| p.is_file());
    let mut argv: Vec<String> = if let Some(bin) = root_bin {
        vec![display(&python()?), display(&bin)]
    } else if let Some(bin) = on_path("odoo-bin").or_else(|| on_path("odoo")) {
        vec![display(&bin)]
    } else if hints
        .root
        .as_ref()
        .is_some_and(|r| r.join("odoo/__init__.py").is_file())
    {
        vec![display(&python()?), "-m".into(), "odoo".into()]
    } else {
        return None;
    };
    argv.extend(["shell".into(), "--no-http".into()]);
    let config = hints.config.clone().or_else(|| {
        let beside = hints
            .root
            .iter()
            .flat_map(|r| CONFIG_NAMES.iter().map(move |n| r.join(n)));
        beside.chain([PathBuf::from(SYSTEM_CONFIG)]).find(|p| p.is_file())
    });
    if let Some(config) = config {
        argv.extend(["-c".into(), display(&config)]);
    }
    Some(argv)
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

fn find_on_path(name: &str, path: Option<&str>) -> Option<PathBuf> {
    path?
        .split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn prefers_odoo_bin_in_root_with_its_venv_and_config() {
        let root = tempfile::tempdir().unwrap();
        fs::write(root.path().join("odoo-bin"), "#!/usr/bin/env python3\n").unwrap();
        fs::write(root.path().join("odoo.conf"), "[options]\n").unwrap();
        fs::create_dir_all(root.path().join(".venv/bin")).unwrap();
        fs::write(root.path().join(".venv/bin/python3"), "").unwrap();
        let argv = detect_odoo(&OdooHints {
            root: Some(root.path().into()),
            ..Default::default()
        })
        .unwrap();
        let r = root.path().display();
        assert_eq!(
            argv,
            [
                format!("{r}/.venv/bin/python3"),
                format!("{r}/odoo-bin"),
                "shell".into(),
                "--no-http".into(),
                "-c".into(),
                format!("{r}/odoo.conf")
            ]
        );
    }

    #[test]
    fn falls_back_to_odoo_on_path_then_nothing() {
        let bin = tempfile::tempdir().unwrap();
        fs::write(bin.path().join("odoo"), "").unwrap();
        let path = Some(bin.path().display().to_string());
        let argv = detect_odoo(&OdooHints {
            path: path.clone(),
            config: Some("/srv/odoo.conf".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(argv[0], format!("{}/odoo", bin.path().display()));
        assert_eq!(&argv[1..], ["shell", "--no-http", "-c", "/srv/odoo.conf"]);
        let empty = tempfile::tempdir().unwrap();
        let none = detect_odoo(&OdooHints {
            path: Some(empty.path().display().to_string()),
            ..Default::default()
        });
        assert_eq!(none, None);
    }
}
