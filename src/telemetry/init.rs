//! Process-wide subscribers: the log subscriber and the metrics recorder.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use time::macros::format_description;
use time::{Date, OffsetDateTime};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogConfig, LogFormat};

/// Keeps the file writer flushing; drop it last.
pub struct LogGuard(#[allow(dead_code)] Option<tracing_appender::non_blocking::WorkerGuard>);

/// The log directory cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("cannot write log files in {dir} (log.dir / ATENDE_LOG_DIR): {source}")]
pub struct LogDirError {
    dir: String,
    source: tracing_appender::rolling::InitError,
}

/// Installs the log subscriber: JSON lines on stdout (span fields such as
/// `correlation_id` flattened to the top level), and daily-rotated files when `dir` is set,
/// kept `retention_days` days. Also sets whether personal data is logged
/// ([`super::pii`]).
pub fn init_logs(config: &LogConfig) -> Result<LogGuard, LogDirError> {
    super::pii::set_include_pii(config.include_pii);
    let filter = || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.level));
    let stdout = match config.format {
        LogFormat::Json => json_layer(std::io::stdout).boxed(),
        LogFormat::Text => tracing_subscriber::fmt::layer().with_writer(std::io::stderr).boxed(),
    };
    let (file, guard) = match &config.dir {
        Some(dir) => {
            let mut builder = tracing_appender::rolling::RollingFileAppender::builder()
                .rotation(tracing_appender::rolling::Rotation::DAILY)
                .filename_prefix(FILE_PREFIX)
                .filename_suffix(FILE_SUFFIX);
            if let Some(max) = config.max_files {
                builder = builder.max_log_files(max.max(1));
            }
            let appender =
                builder.build(dir).map_err(|source| LogDirError { dir: dir.display().to_string(), source })?;
            // Blocks rather than drops when the disk falls behind: a lost line may be the one
            // an incident needs.
            let (writer, guard) =
                tracing_appender::non_blocking::NonBlockingBuilder::default().lossy(false).finish(appender);
            keep_pruning(dir.clone(), config.retention_days);
            (Some(json_layer(writer).with_filter(filter()).boxed()), Some(guard))
        }
        None => (None, None),
    };
    let _ = tracing_subscriber::registry().with(stdout.with_filter(filter())).with(file).try_init();
    Ok(LogGuard(guard))
}

const FILE_PREFIX: &str = "atende";
const FILE_SUFFIX: &str = "log";

/// The daily file's name, as tracing-appender writes it: `atende.2026-12-07.log`.
#[cfg(test)]
fn file_name(day: Date) -> String {
    format!("{FILE_PREFIX}.{day}.{FILE_SUFFIX}")
}

/// The day in a log file's name, `None` for any other file.
fn file_day(name: &str) -> Option<Date> {
    let day = name.strip_prefix(FILE_PREFIX)?.strip_prefix('.')?.strip_suffix(FILE_SUFFIX)?.strip_suffix('.')?;
    Date::parse(day, format_description!("[year]-[month]-[day]")).ok()
}

/// Deletes the log files of days more than `retention_days` before `today` (today's file
/// and the `retention_days` before it stay); returns how many were deleted. The appender's
/// own limit counts files, not days, so an idle week would keep old files forever.
pub fn prune_logs(dir: &Path, retention_days: u32, today: Date) -> std::io::Result<usize> {
    let oldest_kept = today - time::Duration::days(i64::from(retention_days));
    let mut deleted = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Some(day) = entry.file_name().to_str().and_then(file_day) else { continue };
        if day < oldest_kept && entry.file_type()?.is_file() {
            std::fs::remove_file(entry.path())?;
            deleted += 1;
        }
    }
    Ok(deleted)
}

/// Prunes at start-up and then every hour, on a thread of its own (logging starts before
/// any async runtime). `retention_days = 0` keeps every file.
fn keep_pruning(dir: PathBuf, retention_days: u32) {
    if retention_days == 0 {
        return;
    }
    let spawned = std::thread::Builder::new().name("atende-log-pruner".into()).spawn(move || {
        loop {
            let today = OffsetDateTime::now_utc().date();
            match prune_logs(&dir, retention_days, today) {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, retention_days, "old log files deleted"),
                Err(err) => tracing::warn!(error = %err, "cannot prune old log files"),
            }
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    });
    if let Err(err) = spawned {
        tracing::warn!(error = %err, "cannot start the log pruner; old log files are kept");
    }
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
                .inspect(|_| super::metrics::describe_all())
                .expect("no other metrics recorder is installed")
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use time::macros::date;

    use super::*;

    #[test]
    fn the_file_name_is_the_one_tracing_appender_writes() {
        let dir = tempfile::tempdir().unwrap();
        let mut appender = tracing_appender::rolling::RollingFileAppender::builder()
            .rotation(tracing_appender::rolling::Rotation::DAILY)
            .filename_prefix(FILE_PREFIX)
            .filename_suffix(FILE_SUFFIX)
            .build(dir.path())
            .unwrap();
        appender.write_all(b"{}\n").unwrap();
        appender.flush().unwrap();
        let names: Vec<String> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        let today = OffsetDateTime::now_utc().date();
        // Around midnight the appender may have rolled to the next day already.
        assert!(
            names.contains(&file_name(today)) || names.contains(&file_name(today.next_day().unwrap())),
            "{names:?}"
        );
        assert!(names.iter().all(|n| file_day(n).is_some()), "{names:?}");
    }

    #[test]
    fn pruning_deletes_only_log_files_older_than_the_retention() {
        let dir = tempfile::tempdir().unwrap();
        let today = date!(2026 - 12 - 07);
        for day in [date!(2026 - 11 - 29), date!(2026 - 11 - 30), date!(2026 - 12 - 01), today] {
            std::fs::write(dir.path().join(file_name(day)), "{}\n").unwrap();
        }
        for other in ["notes.txt", "atende.log", "atende.yesterday.log", "other.2020-01-01.log"] {
            std::fs::write(dir.path().join(other), "x").unwrap();
        }
        assert_eq!(prune_logs(dir.path(), 7, today).unwrap(), 1);
        let mut left: Vec<String> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        left.sort();
        assert_eq!(
            left,
            [
                "atende.2026-11-30.log",
                "atende.2026-12-01.log",
                "atende.2026-12-07.log",
                "atende.log",
                "atende.yesterday.log",
                "notes.txt",
                "other.2020-01-01.log"
            ]
        );
        assert_eq!(prune_logs(dir.path(), 1, today).unwrap(), 2, "one day keeps yesterday's and today's files");
    }
}
