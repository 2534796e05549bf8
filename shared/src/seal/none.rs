//! The explicit "no encryption" mode (`BITCONN_SEAL=none`): credentials stored in clear, for tests only.

use super::{Mode, Sealer};

impl Sealer {
    /// Stores credentials as given. Never the default: it must be asked for by name, and says so in the log
    /// every time a store is opened with it.
    pub fn no_encryption() -> Self {
        tracing::warn!(
            "credentials are stored WITHOUT encryption (seal mode `none`); use this only for tests"
        );
        Self { mode: Mode::Clear }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Opened, SealContext, Sealer};
    use serde_json::json;

    #[tokio::test]
    async fn values_pass_through_and_sealed_ones_are_refused() {
        let context = SealContext {
            record: "w",
            field: "/odoo/api_key",
        };
        let clear = Sealer::no_encryption();
        let stored = clear.seal(&json!("key"), &context).await.unwrap();
        assert_eq!(stored, json!("key"));
        assert_eq!(
            clear.open(&stored, &context).await.unwrap(),
            Opened::WasClear(json!("key"))
        );

        let sealed = Sealer::with_key(std::sync::Arc::new(super::super::LocalKey::ephemeral()))
            .seal(&json!("key"), &context)
            .await
            .unwrap();
        let error = clear.open(&sealed, &context).await.unwrap_err().to_string();
        assert!(error.contains("no encryption"), "{error}");
    }
}
