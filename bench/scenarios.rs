//! The scenarios of issue 5: ingress at saturation, ingress at a fixed rate, and end to end
//! (webhook → queue → 300 ms LLM → helpdesk) with one process or an API process plus
//! worker processes. Each scenario gets its own temp dir, database, mocks and processes.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tempfile::TempDir;

use crate::db::{Backend, Db};
use crate::figures::{Figures, slow_episodes};
use crate::load::{self, Contacts, Target};
use crate::mocks::{HelpdeskMock, LlmMock};
use crate::process::{Atende, Role, free_port, run_cli};
use crate::report::{Section, ms, opt_ms, per_item_us, thousands};
use crate::stats::{Histogram, Sample, Summary, parse_prometheus, series};
use crate::usage::Meter;

/// The tenant every scenario uses.
const SLUG: &str = "bench";
/// Its webhook secret.
const SECRET: &str = "bench-secret";
/// First contact number; phases use disjoint ranges above it.
const CONTACT_BASE: u64 = 5_511_900_000_000;
/// How long a process gets to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// A paced end-to-end phase stops offering load after this many failed webhooks.
const FAILURE_LIMIT: u64 = 1_000;
/// How long a process gets to stop after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(8);

/// Issue 5 targets.
pub mod target {
    /// Accepted webhooks per second at saturation, SQLite.
    pub const INGRESS_SQLITE: f64 = 20_000.0;
    /// Accepted webhooks per second at saturation, PostgreSQL.
    pub const INGRESS_POSTGRES: f64 = 5_000.0;
    /// Ingress p99 at 1,000 req/s, seconds.
    pub const INGRESS_P99: f64 = 0.005;
    /// Replies per minute with the 300 ms LLM, one process.
    pub const REPLIES_PER_MIN: f64 = 60_000.0;
    /// Added latency (reply − LLM) p99, seconds.
    pub const ADDED_P99: f64 = 0.020;
    /// Peak RSS, bytes.
    pub const PEAK_RSS: u64 = 64 * 1024 * 1024;
    /// CPU per reply, seconds.
    pub const CPU_PER_REPLY: f64 = 300e-6;
}

/// Resolved run parameters.
#[derive(Debug, Clone)]
pub struct Params {
    /// Tiny numbers.
    pub quick: bool,
    /// Fixed latency of the mock LLM.
    pub llm_latency: Duration,
    /// Webhooks of the ingress saturation run.
    pub ingress_requests: u64,
    /// Closed-loop senders.
    pub concurrency: usize,
    /// Contacts of the ingress runs.
    pub contacts: u64,
    /// Rate of the paced ingress run, per second.
    pub rate: f64,
    /// Length of the paced ingress run.
    pub rate_seconds: f64,
    /// Messages of the paced end-to-end phase.
    pub e2e_messages: u64,
    /// Their rate, per second.
    pub e2e_rate: f64,
    /// Contacts they are spread over.
    pub e2e_contacts: u64,
    /// Messages of the end-to-end burst phase (0: no burst phase).
    pub e2e_burst: u64,
    /// `queue.workers` of a single process (split among worker processes).
    pub workers: usize,
    /// `queue.poll_interval`.
    pub poll_interval: Duration,
    /// Worker-process counts of the PostgreSQL scale-out runs.
    pub worker_procs: Vec<usize>,
    /// Idle time measured before the end-to-end load.
    pub idle: Duration,
    /// Longest wait for replies after the load ends.
    pub drain_timeout: Duration,
    /// Longest the ingress saturation run may send for.
    pub send_timeout: Duration,
    /// Longest the end-to-end burst may send for.
    pub burst_timeout: Duration,
}

/// One scenario's temp dir, database, mocks and configuration files.
struct Stage {
    dir: TempDir,
    db: Db,
    run: String,
    llm: LlmMock,
    helpdesk: HelpdeskMock,
    config: PathBuf,
    client: reqwest::Client,
}

impl Stage {
    /// Creates the database and mocks, writes `atende.toml` and the tenant file, runs
    /// `atende migrate` and `atende tenant apply`.
    async fn new(p: &Params, backend: &Backend, workers: usize) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new().prefix("atende-bench-").tempdir().context("create temp dir")?;
        let db = Db::create(backend, dir.path()).await?;
        let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
        let llm = LlmMock::start(&run, p.llm_latency).await?;
        let helpdesk = HelpdeskMock::start().await?;
        let config = dir.path().join("atende.toml");
        std::fs::write(&config, config_toml(p, &db.url, workers)).context("write atende.toml")?;
        let tenant = dir.path().join("tenant.toml");
        std::fs::write(&tenant, tenant_toml(&llm.url(), &helpdesk.url())).context("write tenant.toml")?;
        let setup_log = dir.path().join("setup.log");
        run_cli(&config, &["migrate"], &setup_log, Duration::from_secs(60)).await?;
        let tenant_arg = tenant.to_string_lossy().to_string();
        run_cli(&config, &["tenant", "apply", &tenant_arg], &setup_log, Duration::from_secs(60)).await?;
        let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().context("HTTP client")?;
        Ok(Self { dir, db, run, llm, helpdesk, config, client })
    }

    /// Starts `atende serve --role <role>` and waits until it is ready.
    async fn start(&self, role: Role, name: &str) -> anyhow::Result<Atende> {
        let port = free_port()?;
        let log = self.dir.path().join(format!("{name}.log"));
        let mut atende = Atende::spawn(&self.config, role, port, &log)?;
        atende.wait_ready(&self.client, READY_TIMEOUT).await?;
        Ok(atende)
    }

    /// A load target on `atende`'s webhook route.
    fn target(&self, atende: &Atende, pool: usize) -> anyhow::Result<Arc<Target>> {
        Ok(Arc::new(Target::new(&atende.base, SLUG, SECRET, &self.run, pool)?))
    }

    /// Drops the PostgreSQL schema; the temp dir goes with `self`.
    async fn finish(mut self) -> anyhow::Result<()> {
        self.db.drop_schema().await
    }
}

/// `atende.toml`: debounce off, limits out of the way, logs at `warn` on stdout (captured to
/// a file), short shutdown grace.
fn config_toml(p: &Params, db_url: &str, workers: usize) -> String {
    let url = toml::Value::String(db_url.to_string());
    let poll = format!("{}ms", p.poll_interval.as_millis().max(1));
    let huge = 1_000_000_000u32;
    format!(
        r#"[http]
bind = "127.0.0.1:0"

[database]
url = {url}
migrate_on_start = false

[queue]
workers = {workers}
poll_interval = "{poll}"
debounce = "0s"
debounce_max = "1s"
shutdown_grace = "3s"

[llm]
timeout = "10s"

[limits]
per_ip_per_second = {huge}
per_ip_burst = {huge}
per_tenant_per_second = {huge}
per_tenant_burst = {huge}
per_contact_per_minute = {huge}
per_contact_burst = {huge}

[log]
level = "warn"
format = "json"
"#
    )
}

/// The tenant: generic webhooks signed with [`SECRET`], Gemini at the mock LLM, Whaticket at
/// the mock helpdesk, default persona (no greetings, so every answer comes from the LLM).
fn tenant_toml(llm: &str, helpdesk: &str) -> String {
    format!(
        r#"slug = "{SLUG}"
name = "Bench Ltda"

[webhook]
secrets = ["{SECRET}"]

[whaticket]
url = "{helpdesk}"
token = "bench-helpdesk-token"

[llm]
provider = "gemini"
base_url = "{llm}"
api_key = "bench-llm-key"
model = "gemini-2.0-flash"
"#
    )
}

/// Stops every process (SIGTERM, then SIGKILL) and notes how each ended and what it logged.
async fn stop_all(procs: Vec<Atende>, section: &mut Section) {
    for atende in procs {
        let (role, log) = (atende.role, atende.log.clone());
        match atende.stop(STOP_GRACE).await {
            Ok(how) if how.contains("exit status: 0") => {}
            Ok(how) => section.note(format!("atende ({}) stop: {how}", role.as_str())),
            Err(err) => section.note(format!("atende ({}) stop failed: {err:#}", role.as_str())),
        }
        if let Some(summary) = log_summary(&log) {
            section.note(format!("atende ({}) log: {summary}", role.as_str()));
        }
    }
}

/// Counts WARN/ERROR lines of a JSON log and quotes the first distinct messages.
fn log_summary(path: &std::path::Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let (mut warn, mut error) = (0usize, 0usize);
    let mut samples: Vec<String> = Vec::new();
    for line in text.lines() {
        let level = serde_json::from_str::<serde_json::Value>(line).ok().and_then(|v| {
            let message = v["message"].as_str().unwrap_or(line).to_string();
            let detail = v["error"].as_str().map(|e| format!("{message}: {e}")).unwrap_or(message);
            v["level"].as_str().map(|l| (l.to_string(), detail))
        });
        let (level, detail) = level.unwrap_or_else(|| ("OTHER".into(), line.to_string()));
        match level.as_str() {
            "WARN" => warn += 1,
            "ERROR" => error += 1,
            _ => {}
        }
        let detail: String = detail.chars().take(200).collect();
        if samples.len() < 3 && !samples.contains(&detail) && !detail.trim().is_empty() {
            samples.push(detail);
        }
    }
    (warn + error > 0 || !samples.is_empty()).then(|| {
        let quoted = samples.iter().map(|s| format!("“{s}”")).collect::<Vec<_>>().join("; ");
        format!("{warn} WARN, {error} ERROR lines; first: {quoted}")
    })
}

/// Scrapes `/metrics` of every process.
async fn scrape(client: &reqwest::Client, procs: &[Atende]) -> anyhow::Result<Vec<Vec<Sample>>> {
    let mut all = Vec::new();
    for atende in procs {
        all.push(parse_prometheus(&atende.metrics(client).await?));
    }
    Ok(all)
}

/// `name` (a histogram) merged over processes, filtered by labels.
fn merged(scrapes: &[Vec<Sample>], name: &str, filter: &[(&str, &str)]) -> Histogram {
    let mut total = Histogram::default();
    for samples in scrapes {
        total.merge(&Histogram::from_samples(samples, name, filter));
    }
    total
}

/// Counter series summed over processes, as `{labels} value` texts, for the non-zero series
/// whose label text `keep` accepts.
fn counters(scrapes: &[Vec<Sample>], name: &str, keep: impl Fn(&str) -> bool) -> String {
    let mut totals: BTreeMap<String, f64> = BTreeMap::new();
    for samples in scrapes {
        for (labels, value) in series(samples, name) {
            *totals.entry(labels).or_default() += value;
        }
    }
    totals
        .iter()
        .filter(|(labels, v)| **v > 0.0 && keep(labels))
        .map(|(labels, v)| format!("{{{labels}}} {}", thousands(*v)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Ingress at saturation: role `api` only, closed loop.
pub async fn ingress_saturation(p: Params, backend: Backend) -> anyhow::Result<Section> {
    let mut section = Section::new(format!("Ingress at saturation — {} (role api)", backend.name()));
    let stage = Stage::new(&p, &backend, 1).await?;
    let atende = stage.start(Role::Api, "api").await?;
    let target = stage.target(&atende, p.concurrency)?;
    let contacts = Contacts { base: CONTACT_BASE, count: p.contacts };
    // Warm-up: connections, tenant lookups, page cache.
    let warm = (p.ingress_requests / 10).clamp(10, 1_000);
    let warm_contacts = Contacts { base: CONTACT_BASE + 5_000_000, count: p.contacts };
    load::saturate(target.clone(), 0..warm, warm_contacts, p.concurrency, Instant::now() + Duration::from_secs(30))
        .await;
    let procs = vec![atende];
    let before = scrape(&stage.client, &procs).await?;
    let meter = Meter::start(&procs)?;
    let seqs = warm..warm + p.ingress_requests;
    let run = load::saturate(target, seqs, contacts, p.concurrency, Instant::now() + p.send_timeout).await;
    let usage = meter.stop(&procs)?;
    let after = scrape(&stage.client, &procs).await?;

    let accepted = run.count(202);
    let rate = accepted as f64 / run.wall.as_secs_f64().max(1e-9);
    let lat = Summary::of(run.latencies());
    let (goal, goal_text) = match backend {
        Backend::Sqlite => (target::INGRESS_SQLITE, "≥ 20,000/s"),
        Backend::Postgres(_) => (target::INGRESS_POSTGRES, "≥ 5,000/s"),
    };
    section.check("accepted webhooks/s (202s ÷ wall time)", format!("{}/s", thousands(rate)), goal_text, rate >= goal);
    section.row(
        "requests, concurrency, contacts",
        format!(
            "{} in {:.2} s, {} senders, {} contacts",
            thousands(run.sent.len() as f64),
            run.wall.as_secs_f64(),
            p.concurrency,
            p.contacts
        ),
    );
    section.row("statuses", run.statuses());
    section.row("client latency p50 / p99 / max", format!("{} / {} / {}", ms(lat.p50), ms(lat.p99), ms(lat.max)));
    let server = merged(&after, "atende_ingress_duration_seconds", &[]).since(&merged(
        &before,
        "atende_ingress_duration_seconds",
        &[],
    ));
    section.row(
        "server-side handling p50 / p99 (atende_ingress_duration_seconds)",
        format!("{} / {}", opt_ms(server.quantile(0.5)), opt_ms(server.quantile(0.99))),
    );
    section.row("Atende CPU per accepted webhook", per_item_us(usage.cpu(), accepted));
    section.row("Atende CPU over the run", usage.cpu_text());
    section.note(format!("Atende CPU by thread: {}; {}", usage.threads_text(), usage.machine_text()));
    section.row("Atende peak RSS", usage.rss_text());
    if let Some(bench) = meter.bench_cpu() {
        section.note(format!("load driver CPU (same machine): {bench:.2} s"));
    }
    if run.skipped > 0 {
        section.note(format!("{} requests not sent: the {:?} deadline passed", run.skipped, p.send_timeout));
    }
    stop_all(procs, &mut section).await;
    stage.finish().await?;
    Ok(section)
}

/// Ingress latency at a fixed rate: role `api`, open loop.
pub async fn ingress_paced(p: Params, backend: Backend) -> anyhow::Result<Section> {
    let mut section = Section::new(format!("Ingress at {} req/s — {} (role api)", thousands(p.rate), backend.name()));
    let stage = Stage::new(&p, &backend, 1).await?;
    let atende = stage.start(Role::Api, "api").await?;
    let target = stage.target(&atende, 256)?;
    let contacts = Contacts { base: CONTACT_BASE, count: p.contacts };
    let warm = (p.rate as u64 / 5).clamp(10, 500);
    let warm_contacts = Contacts { base: CONTACT_BASE + 5_000_000, count: p.contacts };
    load::saturate(target.clone(), 0..warm, warm_contacts, 16, Instant::now() + Duration::from_secs(30)).await;
    let procs = vec![atende];
    let meter = Meter::start(&procs)?;
    let n = (p.rate * p.rate_seconds).round() as u64;
    let deadline = Instant::now() + Duration::from_secs_f64(p.rate_seconds * 1.5 + 5.0);
    let run = load::paced(target, warm..warm + n, contacts, p.rate, 4_096, deadline, &|_, _| true).await;
    let usage = meter.stop(&procs)?;

    let lat = Summary::of(run.latencies());
    let first = run.sent.iter().map(|s| s.started).min();
    let last = run.sent.iter().map(|s| s.started).max();
    let achieved = match (first, last) {
        (Some(first), Some(last)) if last > first => (run.sent.len() - 1) as f64 / (last - first).as_secs_f64(),
        _ => 0.0,
    };
    let kept_rate = achieved >= p.rate * 0.97;
    section.check(
        "p99 latency",
        ms(lat.p99),
        format!("≤ {} at {}/s", ms(target::INGRESS_P99), thousands(p.rate)),
        lat.p99 <= target::INGRESS_P99 && kept_rate,
    );
    section.row("p50 / max", format!("{} / {}", ms(lat.p50), ms(lat.max)));
    section.row(
        "rate achieved (sends ÷ send window)",
        format!(
            "{}/s over {:.2} s ({})",
            thousands(achieved),
            p.rate_seconds,
            if kept_rate { "as asked" } else { "BELOW the asked rate" }
        ),
    );
    section.row("statuses", run.statuses());
    section.row("largest scheduling lag of the driver", ms(run.max_lag.as_secs_f64()));
    section.row("slow requests (> 5 ms)", slow_episodes(&run, target::INGRESS_P99));
    section.row("Atende CPU", usage.cpu_text());
    section.note(format!("Atende CPU by thread: {}; {}", usage.threads_text(), usage.machine_text()));
    section.row("Atende peak RSS", usage.rss_text());
    section.note("latency is measured from the request's actual start to its response head; the lag row shows how late the driver started requests relative to the schedule");
    stop_all(procs, &mut section).await;
    stage.finish().await?;
    Ok(section)
}

/// End to end with one `all` process (`worker_procs` = None) or one `api` process plus
/// that many `worker` processes: a paced phase at the target rate, then a burst.
pub async fn end_to_end(p: Params, backend: Backend, worker_procs: Option<usize>) -> anyhow::Result<Section> {
    let layout = match worker_procs {
        None => "1 process (role all)".to_string(),
        Some(n) => format!("1 api + {n} worker process{}", if n == 1 { "" } else { "es" }),
    };
    let mut section = Section::new(format!("End to end — {}, {layout}", backend.name()));
    let per_process = match worker_procs {
        None => p.workers,
        Some(n) => p.workers.div_ceil(n.max(1)),
    };
    let stage = Stage::new(&p, &backend, per_process).await?;
    let mut procs = Vec::new();
    match worker_procs {
        None => procs.push(stage.start(Role::All, "all").await?),
        Some(n) => {
            procs.push(stage.start(Role::Api, "api").await?);
            for i in 0..n {
                procs.push(stage.start(Role::Worker, &format!("worker{i}")).await?);
            }
        }
    }
    let result = drive_end_to_end(&p, &stage, &procs, per_process, &mut section).await;
    if let Err(err) = &result {
        section.row("scenario failed", format!("{err:#}"));
    }
    let scrapes = scrape(&stage.client, &procs).await.unwrap_or_default();
    let jobs = counters(&scrapes, "atende_jobs_total", |l| !l.contains("outcome=done"));
    if !jobs.is_empty() {
        section.note(format!("jobs that did not end `done`: {jobs}"));
    }
    for (name, label) in [
        ("atende_webhooks_total", "webhook outcomes"),
        ("atende_replies_total", "brain decisions"),
        ("atende_llm_errors_total", "LLM errors"),
        ("atende_delivery_errors_total", "delivery errors"),
        ("atende_dead_letters_total", "dead letters"),
    ] {
        let text = counters(&scrapes, name, |_| true);
        if !text.is_empty() {
            section.note(format!("{label} (whole scenario): {text}"));
        }
    }
    stop_all(procs, &mut section).await;
    stage.finish().await?;
    Ok(section)
}

async fn drive_end_to_end(
    p: &Params,
    stage: &Stage,
    procs: &[Atende],
    per_process: usize,
    section: &mut Section,
) -> anyhow::Result<()> {
    let api = &procs[0];
    let workers: Vec<&Atende> = procs.iter().filter(|a| a.role != Role::Api).collect();
    let total_slots = per_process * workers.len();
    section.note(format!(
        "queue.debounce = 0s (replies are not held back); queue.workers = {per_process} per process ({total_slots} slots); queue.poll_interval = {} ms; mock LLM latency {} ms",
        p.poll_interval.as_millis(),
        p.llm_latency.as_millis()
    ));

    // Idle: every worker slot polls on its own.
    let idle = Meter::start(procs)?;
    tokio::time::sleep(p.idle).await;
    let idle = idle.stop(procs)?;
    section.row(format!("idle CPU with {total_slots} worker slots"), idle.cpu_text());

    // Phase 1: paced at the target rate.
    let target = stage.target(api, 1_024)?;
    let seqs = 0..p.e2e_messages;
    let contacts = Contacts { base: CONTACT_BASE, count: p.e2e_contacts };
    let before = scrape(&stage.client, procs).await?;
    let meter = Meter::start(procs)?;
    let send_for = Duration::from_secs_f64(p.e2e_messages as f64 / p.e2e_rate.max(0.001));
    let deadline = Instant::now() + send_for.mul_f64(1.5) + Duration::from_secs(10);
    // Stop offering load once answers lag 5 s behind: the figures are clear by then and
    // the backlog would only stretch the run.
    let backlog_limit = (p.e2e_rate * 5.0).max(1_000.0) as u64;
    let keep_going = |accepted: u64, failed: u64| {
        failed < FAILURE_LIMIT && accepted.saturating_sub(stage.llm.progress(&seqs).0 as u64) <= backlog_limit
    };
    let run = load::paced(target.clone(), seqs.clone(), contacts, p.e2e_rate, 8_192, deadline, &keep_going).await;
    if run.skipped > 0 {
        section.note(format!(
            "paced phase stopped early after {} of {} messages: {} webhooks failed (limit {}), or more than {} accepted ones had not reached the LLM yet",
            thousands(run.sent.len() as f64),
            thousands(p.e2e_messages as f64),
            thousands((run.sent.len() - run.count(202) - run.count(200)) as f64),
            thousands(FAILURE_LIMIT as f64),
            thousands(backlog_limit as f64)
        ));
    }
    let drained = wait_for_replies(&stage.llm, &stage.helpdesk, &seqs, run.count(202), p.drain_timeout).await;
    let usage = meter.stop(procs)?;
    let after = scrape(&stage.client, procs).await?;
    let figures = Figures::compute(&run, stage.helpdesk.take(), stage.llm.take_calls(), &seqs);
    let wait = |kind: &str| {
        merged(&after, "atende_queue_wait_seconds", &[("kind", kind)]).since(&merged(
            &before,
            "atende_queue_wait_seconds",
            &[("kind", kind)],
        ))
    };
    let (reply_wait, deliver_wait) = (wait("reply"), wait("deliver"));

    section.row(
        "offered load",
        format!(
            "{} messages at {}/s over {} contacts; {}",
            thousands(p.e2e_messages as f64),
            thousands(p.e2e_rate),
            thousands(p.e2e_contacts as f64),
            run.statuses()
        ),
    );
    figures.rows(section, p, &usage, drained);
    section.row(
        "queue wait (due → claimed), reply: p50 / p99 / mean",
        format!(
            "{} / {} / {}",
            opt_ms(reply_wait.quantile(0.5)),
            opt_ms(reply_wait.quantile(0.99)),
            opt_ms(reply_wait.mean())
        ),
    );
    section.row(
        "queue wait (due → claimed), deliver: p50 / p99 / mean",
        format!(
            "{} / {} / {}",
            opt_ms(deliver_wait.quantile(0.5)),
            opt_ms(deliver_wait.quantile(0.99)),
            opt_ms(deliver_wait.mean())
        ),
    );
    section.note(
        "`kind=deliver` wait counts from the deliver job's run_at as the store sets it (today the reply job's claim time), so it includes the reply job's own run time, about one LLM latency",
    );
    if let Some(bench) = meter.bench_cpu() {
        section.note(format!("paced phase: load driver + mocks used {bench:.2} s CPU on the same cores"));
    }
    if stage.llm.untokened() > 0 {
        section.note(format!(
            "{} LLM calls carried no message token (e.g. conversation summaries)",
            stage.llm.untokened()
        ));
    }

    // Phase 2: a burst as fast as the ingress takes it; throughput = the queue draining.
    if p.e2e_burst > 0 {
        let seqs = p.e2e_messages..p.e2e_messages + p.e2e_burst;
        let contacts = Contacts { base: CONTACT_BASE + 1_000_000, count: p.e2e_burst };
        let meter = Meter::start(procs)?;
        let run = load::saturate(target, seqs.clone(), contacts, p.concurrency, Instant::now() + p.burst_timeout).await;
        let drained = wait_for_replies(&stage.llm, &stage.helpdesk, &seqs, run.count(202), p.drain_timeout).await;
        let usage = meter.stop(procs)?;
        let figures = Figures::compute(&run, stage.helpdesk.take(), stage.llm.take_calls(), &seqs);
        section.row(
            "burst",
            format!(
                "{} messages from {} contacts sent by {} closed-loop senders in {:.2} s ({}/s); {}",
                thousands(p.e2e_burst as f64),
                thousands(p.e2e_burst as f64),
                p.concurrency,
                run.wall.as_secs_f64(),
                thousands(run.sent.len() as f64 / run.wall.as_secs_f64().max(1e-9)),
                run.statuses()
            ),
        );
        figures.burst_rows(section, &usage, drained);
        if run.skipped > 0 {
            section.note(format!(
                "burst: {} messages not sent, the {:?} sending deadline passed",
                thousands(run.skipped as f64),
                p.burst_timeout
            ));
        }
    }
    Ok(())
}

/// Waits until the LLM has been asked about all `accepted` messages and the helpdesk has
/// every answer the LLM gave (a merged burst gets one answer), `timeout` passes, or nothing
/// moves for 10 s; true when everything arrived.
async fn wait_for_replies(
    llm: &LlmMock,
    helpdesk: &HelpdeskMock,
    seqs: &Range<u64>,
    accepted: usize,
    timeout: Duration,
) -> bool {
    let deadline = Instant::now() + timeout;
    let mut last = (llm.progress(seqs), helpdesk.progress(seqs));
    let mut moved = Instant::now();
    loop {
        let ((covered, answers), (_, arrived)) = last;
        // A merged burst is one answer to several messages, so compare answers, not messages.
        if covered >= accepted && arrived >= answers {
            return true;
        }
        if Instant::now() >= deadline || moved.elapsed() > Duration::from_secs(10) {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = (llm.progress(seqs), helpdesk.progress(seqs));
        if now != last {
            (last, moved) = (now, Instant::now());
        }
    }
}
