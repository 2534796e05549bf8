//! The outbound side: Standard Webhooks signatures, the SSRF guard every delivery connects through, payload
//! placeholders, the queue between trigger and dispatcher, the dispatcher and its delivery log.

mod batch;
pub mod deliver;
pub mod deliveries;
pub mod dispatch;
pub mod native;
pub mod payload;
pub mod poll;
pub mod pydomain;
pub mod queue;
pub mod signature;
#[cfg(feature = "sqlite")]
mod sqlite_worker;
pub mod ssrf;
pub mod template;

pub use dispatch::{DispatchSettings, Dispatcher};
pub use signature::{SigningSecret, headers as signature_headers};
pub use ssrf::{AllowList, Blocked, GuardedResolver};
pub use template::{TemplateError, render, render_url};
