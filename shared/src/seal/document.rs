//! Which members of a stored webhook document are credentials, and sealing or opening all of them at once.

use serde_json::Value;

use super::{Opened, SealContext, SealError, Sealer};

/// JSON pointers of the credentials inside a stored `WebhookConfig`. A credential added to the config (an
/// outbound signing secret, a receiver's headers) is sealed by adding its pointer here; any JSON value can be
/// sealed, a whole map of headers as well as one string.
pub const SEALED_FIELDS: &[&str] = &["/odoo/api_key", "/outbound/headers", "/outbound/signing"];

/// Replaces every credential in `document` (the JSON of a config owned by `record`) with its sealed form.
pub async fn seal_document(sealer: &Sealer, record: &str, document: &mut Value) -> Result<(), SealError> {
    for &field in SEALED_FIELDS {
        if let Some(value) = document.pointer_mut(field) {
            *value = sealer.seal(value, &SealContext { record, field }).await?;
        }
    }
    Ok(())
}

/// Opens every sealed credential in `document` in place; returns how many were stored in clear (an older
/// store: they are sealed when the webhook is next written).
pub async fn open_document(sealer: &Sealer, record: &str, document: &mut Value) -> Result<usize, SealError> {
    let mut clear = 0;
    for &field in SEALED_FIELDS {
        if let Some(value) = document.pointer_mut(field) {
            *value = match sealer.open(value, &SealContext { record, field }).await? {
                Opened::Unsealed(value) => value,
                Opened::WasClear(value) => {
                    clear += 1;
                    value
                }
            };
        }
    }
    Ok(clear)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seal::LocalKey;
    use serde_json::json;
    use std::sync::Arc;

    #[tokio::test]
    async fn credentials_are_sealed_and_everything_else_is_left_as_it_is() {
        let sealer = Sealer::with_key(Arc::new(LocalKey::ephemeral()));
        let original = json!({"name": "n", "odoo": {"url": "http://odoo", "api_key": "the-key"}});
        let mut document = original.clone();
        seal_document(&sealer, "w1", &mut document).await.unwrap();
        assert!(!document.to_string().contains("the-key"), "{document}");
        assert_eq!(document["odoo"]["url"], "http://odoo");
        assert_eq!(document["odoo"]["api_key"]["sealed"], "aes-256-gcm/v1");

        let mut moved = document.clone();
        assert!(
            open_document(&sealer, "w2", &mut moved).await.is_err(),
            "bound to its webhook"
        );
        assert_eq!(open_document(&sealer, "w1", &mut document).await.unwrap(), 0);
        assert_eq!(document, original);

        let mut old = original.clone();
        assert_eq!(
            open_document(&sealer, "w1", &mut old).await.unwrap(),
            1,
            "a clear value still reads"
        );
        assert_eq!(old, original);
    }
}
