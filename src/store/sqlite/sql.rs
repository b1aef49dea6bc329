//! Statement helpers over `rusqlite` (every statement goes through the connection's
//! prepared-statement cache) and the mapping of `rusqlite` errors onto [`StoreError`].
//!
//! SQL text uses SQLite's numbered placeholders `?N`: they bind by number, so a statement
//! may use `?3` before `?2`, and the parameters are always passed in number order.

use std::borrow::Cow;
use std::fmt;

use rusqlite::{Connection, Params, Row, ffi};
use sqlx::error::{DatabaseError, ErrorKind};

use crate::store::{Result, StoreError};

/// Every row `sql` returns, decoded by `decode`.
pub(super) fn query_all<T>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    mut decode: impl FnMut(&Row<'_>) -> Result<T>,
) -> Result<Vec<T>> {
    let mut statement = conn.prepare_cached(sql)?;
    let mut rows = statement.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(decode(row)?);
    }
    Ok(out)
}

/// The first row `sql` returns, if any.
pub(super) fn query_opt<T>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    decode: impl FnOnce(&Row<'_>) -> Result<T>,
) -> Result<Option<T>> {
    let mut statement = conn.prepare_cached(sql)?;
    let mut rows = statement.query(params)?;
    match rows.next()? {
        Some(row) => decode(row).map(Some),
        None => Ok(None),
    }
}

/// The first row `sql` returns; no row is an error (as `fetch_one` was).
pub(super) fn query_one<T>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    decode: impl FnOnce(&Row<'_>) -> Result<T>,
) -> Result<T> {
    query_opt(conn, sql, params, decode)?.ok_or(StoreError::Database(sqlx::Error::RowNotFound))
}

/// Runs a statement that returns no rows; returns how many rows it changed.
pub(super) fn execute(conn: &Connection, sql: &str, params: impl Params) -> Result<u64> {
    Ok(conn.prepare_cached(sql)?.execute(params)? as u64)
}

/// Runs a statement without parameters and results (transaction control).
pub(super) fn control(conn: &Connection, sql: &str) -> std::result::Result<(), SqliteError> {
    conn.prepare_cached(sql).and_then(|mut s| s.execute([])).map(drop).map_err(SqliteError::from)
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        use rusqlite::Error as E;
        match error {
            // A value of the wrong type or shape: the same class as an undecodable JSON column.
            E::FromSqlConversionFailure(..)
            | E::IntegralValueOutOfRange(..)
            | E::Utf8Error(..)
            | E::InvalidColumnType(..) => StoreError::Corrupt(error.to_string()),
            E::QueryReturnedNoRows => StoreError::Database(sqlx::Error::RowNotFound),
            other => SqliteError::from(other).into(),
        }
    }
}

/// An error SQLite (or `rusqlite` around it) returned: shown and classified as sqlx shows
/// SQLite's errors, so it keeps being a [`StoreError::Database`] (database unavailable)
/// with the same message. Carries SQLite's message only, never SQL text or values.
#[derive(Debug, Clone)]
pub(super) struct SqliteError {
    /// SQLite's extended result code, when there is one.
    code: Option<i32>,
    message: String,
}

impl SqliteError {
    /// An error without an SQLite result code.
    pub(super) fn other(message: impl Into<String>) -> Self {
        Self { code: None, message: message.into() }
    }
}

impl From<rusqlite::Error> for SqliteError {
    fn from(error: rusqlite::Error) -> Self {
        match error {
            rusqlite::Error::SqliteFailure(failure, message) => {
                Self { code: Some(failure.extended_code), message: message.unwrap_or_else(|| failure.to_string()) }
            }
            other => Self::other(other.to_string()),
        }
    }
}

impl From<SqliteError> for StoreError {
    fn from(error: SqliteError) -> Self {
        StoreError::Database(sqlx::Error::Database(Box::new(error)))
    }
}

impl fmt::Display for SqliteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.code {
            Some(code) => write!(f, "(code: {code}) {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for SqliteError {}

impl DatabaseError for SqliteError {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        self.code.map(|code| code.to_string().into())
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> ErrorKind {
        match self.code {
            Some(ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY) => ErrorKind::UniqueViolation,
            Some(ffi::SQLITE_CONSTRAINT_FOREIGNKEY) => ErrorKind::ForeignKeyViolation,
            Some(ffi::SQLITE_CONSTRAINT_NOTNULL) => ErrorKind::NotNullViolation,
            Some(ffi::SQLITE_CONSTRAINT_CHECK) => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_failures_stay_database_errors_and_bad_values_are_corrupt() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (v TEXT UNIQUE); INSERT INTO t VALUES ('a');").unwrap();
        let StoreError::Database(error) = execute(&conn, "INSERT INTO t VALUES (?1)", ["a"]).unwrap_err() else {
            panic!("not a database error")
        };
        let database = error.as_database_error().unwrap();
        assert!(database.is_unique_violation());
        assert_eq!(error.to_string(), "error returned from database: (code: 2067) UNIQUE constraint failed: t.v");
        let wrong_type = query_one(&conn, "SELECT v FROM t", [], |row| Ok(row.get::<_, i64>(0)?)).unwrap_err();
        assert!(matches!(wrong_type, StoreError::Corrupt(_)), "{wrong_type:?}");
        let none = query_one(&conn, "SELECT v FROM t WHERE v = 'z'", [], |row| Ok(row.get::<_, String>(0)?));
        assert!(matches!(none, Err(StoreError::Database(sqlx::Error::RowNotFound))));
        assert!(matches!(execute(&conn, "SELECT * FROM missing", []), Err(StoreError::Database(_))));
    }
}
