//! Standard Webhooks signing: `whsec_` secrets, `v1,<base64 HMAC-SHA256 of id.timestamp.body>` signatures, and
//! the three headers a receiver verifies (`webhook-id`, `webhook-timestamp`, `webhook-signature`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The prefix of a signing secret in Standard Webhooks form.
pub const SECRET_PREFIX: &str = "whsec_";
/// Random bytes in a generated secret (the spec allows 24 to 64).
pub const GENERATED_SECRET_BYTES: usize = 32;
const MIN_SECRET_BYTES: usize = 24;
const MAX_SECRET_BYTES: usize = 64;

pub const HEADER_ID: &str = "webhook-id";
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
pub const HEADER_SIGNATURE: &str = "webhook-signature";

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("a signing secret is `whsec_` followed by base64")]
    Prefix,
    #[error("the signing secret is not valid base64")]
    Base64,
    #[error("a signing secret holds {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} random bytes, not {0}")]
    Length(usize),
}

/// A signing secret's key bytes. Shown once as `whsec_…`; never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(Vec<u8>);

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSecret(<redacted>)")
    }
}

impl SigningSecret {
    pub fn generate() -> Self {
        let bytes: [u8; GENERATED_SECRET_BYTES] = rand::random();
        Self(bytes.to_vec())
    }

    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let encoded = text.strip_prefix(SECRET_PREFIX).ok_or(SecretError::Prefix)?;
        let bytes = STANDARD.decode(encoded).map_err(|_| SecretError::Base64)?;
        if !(MIN_SECRET_BYTES..=MAX_SECRET_BYTES).contains(&bytes.len()) {
            return Err(SecretError::Length(bytes.len()));
        }
        Ok(Self(bytes))
    }

    /// The `whsec_…` form, to show once or to seal.
    pub fn expose(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.0))
    }

    /// `v1,<base64 signature>` of `id.timestamp.body`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac =
            <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0).expect("HMAC accepts keys of any length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// The three Standard Webhooks headers for one attempt. During a rotation's grace period both the new and the
/// previous secret sign, space-separated, so receivers holding either verify.
pub fn headers(
    id: &str,
    timestamp: i64,
    body: &[u8],
    secrets: &[&SigningSecret],
) -> [(&'static str, String); 3] {
    let signature = secrets
        .iter()
        .map(|s| s.sign(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ");
    [
        (HEADER_ID, id.to_owned()),
        (HEADER_TIMESTAMP, timestamp.to_string()),
        (HEADER_SIGNATURE, signature),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification and its reference libraries' tests.
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TIMESTAMP: i64 = 1614265330;
    const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SPEC_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn signs_the_specification_example() {
        let secret = SigningSecret::parse(SPEC_SECRET).unwrap();
        assert_eq!(secret.sign(SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY), SPEC_SIGNATURE);
        assert_eq!(secret.expose(), SPEC_SECRET);
    }

    #[test]
    fn generated_secrets_round_trip_and_bad_ones_are_named() {
        let secret = SigningSecret::generate();
        assert_eq!(SigningSecret::parse(&secret.expose()).unwrap(), secret);
        assert_eq!(SigningSecret::parse("MfKQ9r8GKYqrTwjU"), Err(SecretError::Prefix));
        assert_eq!(SigningSecret::parse("whsec_!!!"), Err(SecretError::Base64));
        assert_eq!(SigningSecret::parse("whsec_AAAA"), Err(SecretError::Length(3)));
        assert!(!format!("{secret:?}").contains(&secret.expose()[6..]));
    }

    #[test]
    fn rotation_sends_both_signatures() {
        let (new, old) = (SigningSecret::generate(), SigningSecret::generate());
        let [id, ts, sig] = headers("evt_1", 10, b"{}", &[&new, &old]);
        assert_eq!((id.0, id.1.as_str(), ts.1.as_str()), (HEADER_ID, "evt_1", "10"));
        let parts: Vec<&str> = sig.1.split(' ').collect();
        assert_eq!(
            parts,
            [new.sign("evt_1", 10, b"{}"), old.sign("evt_1", 10, b"{}")]
        );
    }
}
