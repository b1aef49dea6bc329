//! Stored formats shared by both backends: times as Unix milliseconds, JSON as text.

use time::OffsetDateTime;

use super::StoreError;

/// Unix milliseconds, the stored time format.
pub(super) fn ms(at: OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

/// Reads a stored time.
pub(super) fn from_ms(value: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(value) * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// A row that does not decode.
pub(super) fn corrupt(what: impl Into<String>) -> StoreError {
    StoreError::Corrupt(what.into())
}

/// Reads a tenant's stored flags (a JSON object).
pub(super) fn decode_managed(slug: &str, text: &str) -> Result<crate::config::managed::ManagedSecrets, StoreError> {
    serde_json::from_str(text).map_err(|e| corrupt(format!("tenant {slug}: secrets: {e}")))
}

pub(super) fn decode_flags(slug: &str, text: &str) -> Result<crate::domain::Flags, StoreError> {
    serde_json::from_str(text).map_err(|e| corrupt(format!("tenant {slug}: flags: {e}")))
}
