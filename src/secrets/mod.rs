//! Credentials of the people who run Atende: argon2id password hashes, and the random
//! tokens of admin API clients and panel sessions, of which only a digest is stored.
//!
//! Layer 2: may import `domain`.

mod credentials;

pub use credentials::{
    ApiToken, MIN_PASSWORD_CHARS, PasswordError, SessionToken, hash_password, random_token, token_digest,
    verify_password,
};
