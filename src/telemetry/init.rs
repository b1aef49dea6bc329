//! Process-wide subscribers: the log subscriber and the metrics recorder.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogConfig, LogFormat};

/// Keeps the file writer flushing; drop it last.
pub struct LogGuard(#[allow(dead_code)] Option<tracing_appender::non_blocking::WorkerGuard>);

/// Installs the log subscriber: JSON lines on stdout (span fields such as
/// `correlation_id` flattened to the top level), and daily-rotated files when `dir` is set.
pub fn init_logs(config: &LogConfig) -> LogGuard {
    let filter = || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.level));
    let stdout = match config.format {
        LogFormat::Json => json_layer(std::io::stdout).boxed(),
        LogFormat::Text => tracing_subscriber::fmt::layer().with_writer(std::io::stderr).boxed(),
    };
    let (file, guard) = match &config.dir {
        Some(dir) => {
            let appender = tracing_appender::rolling::RollingFileAppender::builder()
                .rotation(tracing_appender::rolling::Rotation::DAILY)
                .filename_prefix("atende")
                .filename_suffix("log")
                .max_log_files(config.max_files.max(1))
                .build(dir)
                .expect("log directory must be writable (log.dir)");
            let (writer, guard) =
                tracing_appender::non_blocking::NonBlockingBuilder::default().lossy(false).finish(appender);
            (Some(json_layer(writer).with_filter(filter()).boxed()), Some(guard))
        }
        None => (None, None),
    };
    let _ = tracing_subscriber::registry().with(stdout.with_filter(filter())).with(file).try_init();
    LogGuard(guard)
}

fn json_layer<S, W>(writer: W) -> json_subscriber::JsonLayer<S, W>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + 'static,
{
    let mut layer = json_subscriber::JsonLayer::new(writer);
    layer
        .with_timer("timestamp", tracing_subscriber::fmt::time::UtcTime::rfc_3339())
        .with_level("level")
        .with_target("target")
        .with_flattened_event()
        .with_top_level_flattened_span_list();
    layer
}

/// The process's Prometheus recorder, installed on first use (the `metrics` facade is
/// global, so several apps in one test process share it).
pub fn prometheus() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let seconds =
                [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &seconds)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full(super::metrics::JOB_ATTEMPTS.into()),
                        &[1.0, 2.0, 3.0, 5.0, 8.0, 13.0],
                    )
                })
                // Minutes to hours: people answer hand-offs on a human scale. (A full-name
                // matcher wins over the `_seconds` suffix.)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full(super::metrics::HANDOFF_SLA_SECONDS.into()),
                        &[30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0],
                    )
                })
                .expect("bucket lists are non-empty")
                .install_recorder()
                .expect("no other metrics recorder is installed")
        })
        .clone()
}
