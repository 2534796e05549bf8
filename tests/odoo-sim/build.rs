//! Generates the table of corpus files (models and data) embedded into the simulator binary.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("golden");
    let mut out = String::from(
        "/// (kind, file stem, contents) of every embedded corpus file.\npub static FILES: &[(&str, &str, &str)] = &[\n",
    );
    for kind in ["models", "data"] {
        let dir = root.join(kind);
        println!("cargo:rerun-if-changed={}", dir.display());
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) => panic!("cannot read the embedded corpus {}: {e}", dir.display()),
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".json"))
            .collect();
        if names.is_empty() {
            panic!("the embedded corpus {} has no .json files", dir.display());
        }
        names.sort();
        for name in names {
            let stem = name.trim_end_matches(".json");
            // Relative to the crate being compiled, so a target dir shared by two checkouts embeds each one's own files.
            let relative = format!("/golden/{kind}/{name}");
            let _ = writeln!(
                out,
                "    ({kind:?}, {stem:?}, include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), {relative:?}))),"
            );
        }
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into())).join("embedded.rs");
    if let Err(e) = std::fs::write(&dest, out) {
        panic!("cannot write {}: {e}", dest.display());
    }
}
