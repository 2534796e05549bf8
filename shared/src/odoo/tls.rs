//! The process's one TLS client configuration: its root store is loaded once, on the first certificate to
//! check, and shared by every outbound client (the Odoo client and the AWS SDK's).

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::sync::{Arc, OnceLock};

/// Where the trusted roots come from: `system` (the default) or `webpki` (compiled in).
pub const ROOTS_ENV: &str = "BITCONN_TLS_ROOTS";

/// The roots every TLS client trusts (see docs/deploy.md for the choice).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RootSource {
    /// The operating system's store (`SSL_CERT_FILE` / `SSL_CERT_DIR` when set), read once per process:
    /// follows the image's CA updates and an operator's private CA.
    #[default]
    System,
    /// Mozilla's roots compiled into the binary (webpki-roots): no file read at all, updated by a rebuild.
    Compiled,
}

#[derive(Debug, thiserror::Error)]
#[error("{ROOTS_ENV} must be `system` or `webpki`, got `{0}`")]
pub struct InvalidRootSource(pub String);

impl std::str::FromStr for RootSource {
    type Err = InvalidRootSource;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim() {
            "" | "system" => Ok(Self::System),
            "webpki" => Ok(Self::Compiled),
            other => Err(InvalidRootSource(other.to_owned())),
        }
    }
}

impl RootSource {
    /// `BITCONN_TLS_ROOTS` from the environment; unset means `system`.
    pub fn from_env() -> Result<Self, InvalidRootSource> {
        std::env::var(ROOTS_ENV).unwrap_or_default().parse()
    }

    /// Loads the roots: reads and parses files for `System`, copies a static table for `Compiled`.
    pub fn load(self) -> RootCertStore {
        match self {
            Self::Compiled => RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            },
            Self::System => {
                let found = rustls_native_certs::load_native_certs();
                for error in &found.errors {
                    tracing::warn!(%error, "a system root certificate could not be read");
                }
                let mut store = RootCertStore::empty();
                let (added, ignored) = store.add_parsable_certificates(found.certs);
                tracing::debug!(added, ignored, "system root certificates loaded");
                store
            }
        }
    }
}

/// The client configuration every outbound client starts from; building it reads no certificate.
/// Clones share one verifier, hence one root store.
pub fn client_config() -> Result<ClientConfig, rustls::Error> {
    static CONFIG: OnceLock<ClientConfig> = OnceLock::new();
    if let Some(config) = CONFIG.get() {
        return Ok(config.clone());
    }
    let config = build_config(Arc::new(LazyRoots::from_env()))?;
    Ok(CONFIG.get_or_init(|| config).clone())
}

/// A reqwest client builder on the shared configuration: every HTTP client of the process starts here, since
/// reqwest itself carries no crypto provider.
pub fn http_client_builder() -> reqwest::ClientBuilder {
    match client_config() {
        Ok(tls) => reqwest::Client::builder().tls_backend_preconfigured(tls),
        Err(error) => {
            // Unreachable with ring's default protocol versions; a client that cannot do TLS still does HTTP.
            tracing::error!(%error, "cannot build the shared TLS configuration");
            let _ = CryptoProvider::install_default(rustls::crypto::ring::default_provider());
            reqwest::Client::builder()
        }
    }
}

/// The crypto provider of every TLS client in the process (ring), shared.
pub fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// What the clients offer by ALPN: HTTP/2 where the server speaks it, as reqwest and the SDK do by default.
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

fn build_config(verifier: Arc<LazyRoots>) -> Result<ClientConfig, rustls::Error> {
    let mut config = ClientConfig::builder_with_provider(verifier.provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}

/// WebPKI verification whose root store is loaded on the first certificate it checks, not when the client is
/// built, so a process that starts pays nothing for roots until its first TLS handshake.
#[derive(Debug)]
pub struct LazyRoots {
    source: RootSource,
    provider: Arc<CryptoProvider>,
    verifier: OnceLock<Result<Arc<WebPkiServerVerifier>, String>>,
}

impl LazyRoots {
    pub fn new(source: RootSource) -> Self {
        Self {
            source,
            provider: provider(),
            verifier: OnceLock::new(),
        }
    }

    /// The source `BITCONN_TLS_ROOTS` names; an unknown value (refused at start by the functions' config) warns
    /// and keeps the system store.
    fn from_env() -> Self {
        let source = RootSource::from_env().unwrap_or_else(|error| {
            tracing::warn!(%error, "using the system root certificates");
            RootSource::System
        });
        Self::new(source)
    }

    /// Whether the roots have been loaded yet.
    pub fn loaded(&self) -> bool {
        self.verifier.get().is_some()
    }

    fn verifier(&self) -> Result<&Arc<WebPkiServerVerifier>, rustls::Error> {
        self.verifier
            .get_or_init(|| {
                WebPkiServerVerifier::builder_with_provider(
                    Arc::new(self.source.load()),
                    self.provider.clone(),
                )
                .build()
                .map_err(|e| format!("no usable root certificates ({:?}): {e}", self.source))
            })
            .as_ref()
            .map_err(|message| rustls::Error::General(message.clone()))
    }
}

impl ServerCertVerifier for LazyRoots {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.verifier()?
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_parse_and_bad_ones_are_named() {
        assert_eq!("".parse::<RootSource>().unwrap(), RootSource::System);
        assert_eq!("system".parse::<RootSource>().unwrap(), RootSource::System);
        assert_eq!(" webpki ".parse::<RootSource>().unwrap(), RootSource::Compiled);
        let error = "mozilla".parse::<RootSource>().unwrap_err().to_string();
        assert!(error.contains(ROOTS_ENV) && error.contains("mozilla"), "{error}");
    }

    #[test]
    fn both_sources_give_roots() {
        assert!(RootSource::Compiled.load().len() > 100);
        assert!(
            !RootSource::System.load().is_empty(),
            "this machine has a CA bundle"
        );
    }

    #[test]
    fn building_a_config_loads_no_roots_and_the_first_check_does_once() {
        let roots = Arc::new(LazyRoots::new(RootSource::Compiled));
        let config = build_config(roots.clone()).unwrap();
        let _clone = config.clone();
        assert!(!roots.loaded(), "building and cloning the config read no roots");
        let name = ServerName::try_from("odoo.example.com").unwrap();
        let garbage = CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x00]);
        let error = roots
            .verify_server_cert(&garbage, &[], &name, &[], UnixTime::now())
            .unwrap_err();
        assert!(matches!(error, rustls::Error::InvalidCertificate(_)), "{error:?}");
        assert!(roots.loaded(), "the first certificate check loaded them");
    }
}
