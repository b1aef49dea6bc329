//! Observability: JSON logs with correlation ids (optionally daily-rotated files), and
//! the Prometheus recorder with every metric name.
//!
//! Layer 1: may import `domain`, `config`.

mod init;
pub mod metrics;

pub use init::{LogGuard, init_logs, prometheus};
