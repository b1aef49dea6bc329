//! Observability: JSON logs with correlation ids (optionally daily-rotated files), and
//! the Prometheus recorder with every metric name.
//!
//! Layer 1: may import `domain`, `config`.

mod init;
pub mod metrics;
pub mod pii;

pub use init::{LogDirError, LogGuard, init_logs, prometheus, prune_logs};

/// An error with its causes, as logs and job errors show it: "error sending request: client
/// error (Connect): tcp connect error: Connection refused". The top level often hides what
/// went wrong (DNS, refused, TLS) in its sources.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message = format!("{message}: {cause}");
        source = cause.source();
    }
    message
}
