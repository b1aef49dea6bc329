//! Password hashing and bearer tokens.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password accepted (argon2 takes any length; this bounds the work per login).
const MAX_PASSWORD_BYTES: usize = 1024;
/// Prefix of admin API tokens, so a leaked one is recognisable (and scannable) as ours.
const API_TOKEN_PREFIX: &str = "atd_";

/// A password that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Too short to resist guessing.
    #[error("the password needs at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    /// Longer than anyone types.
    #[error("the password is longer than {MAX_PASSWORD_BYTES} bytes")]
    TooLong,
    /// The hasher failed (it does not for valid input; kept so nothing panics).
    #[error("could not hash the password: {0}")]
    Hash(String),
}

/// Hashes a new password with argon2id (default parameters, random salt) into a PHC string.
pub fn hash_password(password: &SecretString) -> Result<String, PasswordError> {
    let password = password.expose_secret();
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordError::TooLong);
    }
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|err| PasswordError::Hash(err.to_string()))
}

/// Whether `password` matches the stored PHC string (constant time; the parameters come
/// from the string). A malformed string matches nothing.
pub fn verify_password(password: &str, phc: &str) -> bool {
    password.len() <= MAX_PASSWORD_BYTES && Argon2::default().verify_password(password.as_bytes(), phc).is_ok()
}

/// Lowercase hex SHA-256 of a bearer token: what is stored and looked up. The tokens carry
/// 256 random bits, so a fast digest is enough (no salt, no stretching): nothing can be
/// guessed from it, and lookups stay one index probe.
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// 32 random bytes, URL-safe base64.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A fresh admin API token: shown to its owner once, stored only as its digest.
pub struct ApiToken {
    /// `atd_` + 43 characters.
    pub secret: SecretString,
    /// What the store keeps.
    pub digest: String,
}

impl ApiToken {
    /// A new random token.
    pub fn generate() -> Self {
        let secret = format!("{API_TOKEN_PREFIX}{}", random_token());
        let digest = token_digest(&secret);
        Self { secret: secret.into(), digest }
    }

    /// Whether `value` looks like one of our tokens (cheap check before a lookup).
    pub fn looks_valid(value: &str) -> bool {
        value.len() == API_TOKEN_PREFIX.len() + 43
            && value.starts_with(API_TOKEN_PREFIX)
            && value[API_TOKEN_PREFIX.len()..].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }
}

/// A fresh panel session: the cookie carries `secret`, the store its digest, and forms
/// carry `csrf`.
pub struct SessionToken {
    /// Cookie value.
    pub secret: SecretString,
    /// What the store keeps.
    pub digest: String,
    /// Token every state-changing form must echo.
    pub csrf: String,
}

impl SessionToken {
    /// A new random session.
    pub fn generate() -> Self {
        let secret = random_token();
        let digest = token_digest(&secret);
        Self { secret: secret.into(), digest, csrf: random_token() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_only_against_its_own_hash() {
        let hash = hash_password(&"correct horse battery".to_string().into()).unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse batterY", &hash));
        assert!(!verify_password("correct horse battery", "not a phc string"));
        let again = hash_password(&"correct horse battery".to_string().into()).unwrap();
        assert_ne!(hash, again, "each hash has its own salt");
    }

    #[test]
    fn short_and_huge_passwords_are_refused() {
        assert_eq!(hash_password(&"123456789".to_string().into()), Err(PasswordError::TooShort));
        assert_eq!(hash_password(&"x".repeat(2000).into()), Err(PasswordError::TooLong));
    }

    #[test]
    fn api_tokens_are_random_recognisable_and_stored_as_digests() {
        let (a, b) = (ApiToken::generate(), ApiToken::generate());
        assert_ne!(a.secret.expose_secret(), b.secret.expose_secret());
        assert!(ApiToken::looks_valid(a.secret.expose_secret()));
        assert_eq!(a.digest, token_digest(a.secret.expose_secret()));
        assert_eq!(a.digest.len(), 64);
        assert!(!a.digest.contains(&a.secret.expose_secret()[4..]));
        assert!(!ApiToken::looks_valid("atd_short"));
        assert!(!ApiToken::looks_valid(&a.secret.expose_secret().replace("atd_", "xyz_")));
    }
}
