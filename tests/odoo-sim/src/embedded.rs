//! The corpus's models and data compiled into the binary, parsed once per process.

use std::sync::{Arc, OnceLock};

use serde_json::Value;

use crate::db::Db;
use crate::registry::Registry;

mod files {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

static LOADED: OnceLock<(Arc<Registry>, Arc<Db>)> = OnceLock::new();

/// The registry and the initial database (parsed on first use, shared afterwards).
pub fn load() -> (Arc<Registry>, Arc<Db>) {
    let (r, d) = LOADED.get_or_init(|| {
        let parse = |kind: &str| -> Vec<(&'static str, Value)> {
            files::FILES
                .iter()
                .filter(|(k, stem, _)| *k == kind && !stem.starts_with('_'))
                .filter_map(|(_, stem, text)| serde_json::from_str(text).ok().map(|v| (*stem, v)))
                .collect()
        };
        let models = parse("models");
        let mut data = parse("data");
        let xmlids = crate::xmlids::data_file(&data);
        data.push(("ir.model.data", xmlids));
        let sequences = files::FILES
            .iter()
            .find(|(k, stem, _)| *k == "data" && *stem == "_sequences")
            .and_then(|(_, _, text)| serde_json::from_str(text).ok())
            .unwrap_or(Value::Null);
        let mut registry = Registry::build(&models, &data);
        crate::automation::schema::register(&mut registry);
        let mut db = Db::load(&registry, &data, &sequences);
        crate::automation::meta::seed(&registry, &mut db);
        (Arc::new(registry), Arc::new(db))
    });
    (r.clone(), d.clone())
}
