//! Terminal access tokens: HS256 JWTs that are short-lived, single-use and bound to one user and shell mode.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// The `aud` every terminal token carries, so a JWT signed with the same key for another purpose is refused.
pub const AUDIENCE: &str = "bitconn-terminal";
/// How long a fresh token may be used to connect, unless the minter asks for less.
pub const DEFAULT_TTL: Duration = Duration::from_secs(60);
/// A token is a way in, not a session: nobody may mint one that outlives this.
pub const MAX_TTL: Duration = Duration::from_secs(600);
/// HS256 with a short key is guessable offline from any captured token.
pub const MIN_SECRET_BYTES: usize = 32;
/// Clock skew tolerated between the minter (a Lambda, an operator's laptop) and the host.
const LEEWAY_SECS: u64 = 5;
/// Odoo logins are e-mail addresses or short names; anything longer is not a login.
const MAX_USER_LEN: usize = 254;

/// Which program a token opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShellMode {
    /// A login-free bash.
    Bash,
    /// `odoo shell` for the local Odoo (full ORM access to its database).
    Odoo,
}

impl ShellMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ShellMode::Bash => "bash",
            ShellMode::Odoo => "odoo",
        }
    }
}

impl fmt::Display for ShellMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ShellMode {
    type Err = TokenError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "bash" => Ok(ShellMode::Bash),
            "odoo" => Ok(ShellMode::Odoo),
            other => Err(TokenError::UnknownMode(other.to_owned())),
        }
    }
}

/// The claims of a terminal token. Every field is required: a token missing one does not decode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The Odoo login the terminal is opened for (audited, shown on the page).
    pub sub: String,
    pub iat: u64,
    pub exp: u64,
    /// Unique per token; a used `jti` is refused until the token expires.
    pub jti: String,
    pub aud: String,
    pub shell: ShellMode,
}

/// The HMAC key shared by the minters and the host; its bytes never appear in `Debug` output.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, TokenError> {
        let bytes = bytes.into();
        if bytes.len() < MIN_SECRET_BYTES {
            return Err(TokenError::SecretTooShort(bytes.len()));
        }
        Ok(Secret(bytes))
    }

    /// Reads `WS_SECRET_KEY`, the one place every minter and the host take the key from.
    pub fn from_env() -> Result<Self, TokenError> {
        match std::env::var("WS_SECRET_KEY") {
            Ok(value) => Secret::new(value),
            Err(_) => Err(TokenError::SecretMissing),
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<{} bytes>)", self.0.len())
    }
}

/// A freshly minted token and what it says.
#[derive(Debug, Clone)]
pub struct Minted {
    pub token: String,
    pub claims: Claims,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("WS_SECRET_KEY is not set")]
    SecretMissing,
    #[error("WS_SECRET_KEY is {0} bytes; at least {MIN_SECRET_BYTES} are required")]
    SecretTooShort(usize),
    #[error("unknown shell mode {0:?} (expected bash or odoo)")]
    UnknownMode(String),
    #[error("the user must be a non-empty login of at most {MAX_USER_LEN} printable characters")]
    InvalidUser,
    #[error("the token lifetime must be between 1 s and {} s", MAX_TTL.as_secs())]
    InvalidTtl,
    #[error("the token has expired")]
    Expired,
    #[error("the token signature does not match")]
    BadSignature,
    #[error("the token is not meant for the terminal")]
    WrongAudience,
    #[error("the token uses an algorithm other than HS256")]
    WrongAlgorithm,
    #[error("the token was issued in the future or lives longer than allowed")]
    BadLifetime,
    #[error("the token has already been used")]
    Replayed,
    #[error("the token is malformed")]
    Malformed,
    #[error("the token could not be signed")]
    Signing(#[source] jsonwebtoken::errors::Error),
}

impl TokenError {
    /// The stable code sent to clients in close reasons and JSON errors.
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::Expired => "token_expired",
            TokenError::Replayed => "token_replayed",
            TokenError::WrongAudience => "token_wrong_audience",
            TokenError::BadSignature => "token_bad_signature",
            TokenError::WrongAlgorithm => "token_wrong_algorithm",
            _ => "token_invalid",
        }
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn valid_user(user: &str) -> bool {
    !user.trim().is_empty() && user.chars().count() <= MAX_USER_LEN && !user.chars().any(char::is_control)
}

/// Mints a token for `user` opening `mode`, usable for `ttl` (at most [`MAX_TTL`]).
pub fn mint(secret: &Secret, user: &str, mode: ShellMode, ttl: Duration) -> Result<Minted, TokenError> {
    if !valid_user(user) {
        return Err(TokenError::InvalidUser);
    }
    if ttl < Duration::from_secs(1) || ttl > MAX_TTL {
        return Err(TokenError::InvalidTtl);
    }
    let iat = now_secs();
    let claims = Claims {
        sub: user.to_owned(),
        iat,
        exp: iat + ttl.as_secs(),
        jti: uuid::Uuid::new_v4().simple().to_string(),
        aud: AUDIENCE.to_owned(),
        shell: mode,
    };
    let token = sign(secret, &claims)?;
    Ok(Minted { token, claims })
}

/// Signs arbitrary claims; [`mint`] is the normal way in, this one lets tests build bad tokens.
pub fn sign(secret: &Secret, claims: &Claims) -> Result<String, TokenError> {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(&secret.0),
    )
    .map_err(TokenError::Signing)
}

/// Checks signature, algorithm, audience, expiry and lifetime; single use is [`ReplayGuard`]'s job.
pub fn verify(secret: &Secret, token: &str) -> Result<Claims, TokenError> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "aud", "sub"]);
    validation.leeway = LEEWAY_SECS;
    let data = jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(&secret.0), &validation)
        .map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => TokenError::Expired,
            ErrorKind::InvalidSignature => TokenError::BadSignature,
            ErrorKind::InvalidAudience => TokenError::WrongAudience,
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName | ErrorKind::MissingAlgorithm => {
                TokenError::WrongAlgorithm
            }
            _ => TokenError::Malformed,
        })?;
    let claims = data.claims;
    let now = now_secs();
    if claims.iat > now + LEEWAY_SECS
        || claims.exp < claims.iat
        || claims.exp - claims.iat > MAX_TTL.as_secs()
    {
        return Err(TokenError::BadLifetime);
    }
    if !valid_user(&claims.sub) {
        return Err(TokenError::InvalidUser);
    }
    Ok(claims)
}

/// Remembers used `jti`s until their token expires, so a captured token cannot open a second shell.
#[derive(Debug, Default)]
pub struct ReplayGuard {
    used: Mutex<HashMap<String, u64>>,
}

impl ReplayGuard {
    /// Marks the token as used; refuses it if it was used before.
    pub fn consume(&self, claims: &Claims) -> Result<(), TokenError> {
        let now = now_secs();
        let mut used = self.used.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        used.retain(|_, exp| *exp + LEEWAY_SECS >= now);
        if used.contains_key(&claims.jti) {
            return Err(TokenError::Replayed);
        }
        used.insert(claims.jti.clone(), claims.exp);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> Secret {
        Secret::new("0123456789abcdef0123456789abcdef").unwrap()
    }

    #[test]
    fn minted_token_verifies_with_all_claims() {
        let minted = mint(&secret(), "admin", ShellMode::Odoo, DEFAULT_TTL).unwrap();
        let claims = verify(&secret(), &minted.token).unwrap();
        assert_eq!(claims, minted.claims);
        assert_eq!(claims.aud, AUDIENCE);
        assert_eq!(claims.exp - claims.iat, 60);
        assert_eq!(claims.shell, ShellMode::Odoo);
    }

    #[test]
    fn short_secret_and_bad_inputs_are_refused() {
        assert!(matches!(Secret::new("short"), Err(TokenError::SecretTooShort(5))));
        assert!(matches!(
            mint(&secret(), " ", ShellMode::Bash, DEFAULT_TTL),
            Err(TokenError::InvalidUser)
        ));
        assert!(matches!(
            mint(&secret(), "a", ShellMode::Bash, Duration::from_secs(3600)),
            Err(TokenError::InvalidTtl)
        ));
        assert!(matches!(
            "zsh".parse::<ShellMode>(),
            Err(TokenError::UnknownMode(_))
        ));
    }

    #[test]
    fn other_key_is_a_bad_signature() {
        let other = Secret::new("ffffffffffffffffffffffffffffffff").unwrap();
        let minted = mint(&other, "admin", ShellMode::Bash, DEFAULT_TTL).unwrap();
        assert!(matches!(
            verify(&secret(), &minted.token),
            Err(TokenError::BadSignature)
        ));
    }

    #[test]
    fn replay_guard_refuses_second_use() {
        let guard = ReplayGuard::default();
        let minted = mint(&secret(), "admin", ShellMode::Bash, DEFAULT_TTL).unwrap();
        guard.consume(&minted.claims).unwrap();
        assert!(matches!(guard.consume(&minted.claims), Err(TokenError::Replayed)));
        let fresh = mint(&secret(), "admin", ShellMode::Bash, DEFAULT_TTL).unwrap();
        guard.consume(&fresh.claims).unwrap();
    }

    #[test]
    fn overlong_lifetime_is_refused() {
        let now = now_secs();
        let claims = Claims {
            sub: "admin".into(),
            iat: now,
            exp: now + 86_400,
            jti: "x".into(),
            aud: AUDIENCE.into(),
            shell: ShellMode::Bash,
        };
        let token = sign(&secret(), &claims).unwrap();
        assert!(matches!(verify(&secret(), &token), Err(TokenError::BadLifetime)));
    }
}
