//! The outbound side's building blocks: Standard Webhooks signatures, the SSRF guard every delivery connects
//! through, and the placeholders of payload templates and URLs.

pub mod signature;
pub mod ssrf;
pub mod template;

pub use signature::{SigningSecret, headers as signature_headers};
pub use ssrf::{AllowList, Blocked, GuardedResolver};
pub use template::{TemplateError, render, render_url};
