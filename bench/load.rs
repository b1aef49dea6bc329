//! The load driver: signed generic webhooks (docs/webhooks.md) sent closed-loop at a fixed
//! concurrency (saturation) or open-loop at a fixed rate (paced), every request recorded.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::Semaphore;

use crate::mocks::customer_text;

/// How one request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// An HTTP status.
    Http(u16),
    /// The client gave up.
    Timeout,
    /// Connection or protocol failure.
    Failed,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Http(code) => write!(f, "{code}"),
            Self::Timeout => f.write_str("timeout"),
            Self::Failed => f.write_str("error"),
        }
    }
}

/// One webhook sent.
#[derive(Debug, Clone, Copy)]
pub struct Sent {
    /// Sequence number (also in the text and the provider id).
    pub seq: u64,
    /// Outcome.
    pub status: Status,
    /// When the request started.
    pub started: Instant,
    /// When the response head arrived.
    pub done: Instant,
}

impl Sent {
    /// Round-trip seconds.
    pub fn latency(&self) -> f64 {
        (self.done - self.started).as_secs_f64()
    }
}

/// Contacts messages are spread over: `seq` goes to contact `base + seq % count`.
#[derive(Debug, Clone, Copy)]
pub struct Contacts {
    /// First number (digits with country code).
    pub base: u64,
    /// How many distinct contacts.
    pub count: u64,
}

impl Contacts {
    /// The contact of message `seq`.
    pub fn of(&self, seq: u64) -> String {
        (self.base + seq % self.count.max(1)).to_string()
    }
}

/// Where and how webhooks are sent.
pub struct Target {
    client: reqwest::Client,
    endpoint: String,
    secret: String,
    run: String,
}

impl Target {
    /// Webhooks for tenant `slug` at `base`, signed with `secret`, texts tagged with `run`.
    pub fn new(base: &str, slug: &str, secret: &str, run: &str, pool: usize) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(pool)
            .timeout(Duration::from_secs(10))
            .build()
            .context("HTTP client")?;
        Ok(Self {
            client,
            endpoint: format!("{base}/webhook/{slug}/generic"),
            secret: secret.to_string(),
            run: run.to_string(),
        })
    }

    /// Sends message `seq` from its contact and waits for the answer's head.
    pub async fn send(&self, seq: u64, contacts: Contacts) -> Sent {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let body = serde_json::json!({
            "id": format!("bench-{}-{seq}", self.run),
            "from": contacts.of(seq),
            "name": "Bench",
            "text": customer_text(&self.run, seq),
            "timestamp": now,
        })
        .to_string();
        let signature = atende::channel::sign_generic(&self.secret, now, body.as_bytes());
        let request = self
            .client
            .post(&self.endpoint)
            .header("content-type", "application/json")
            .header(atende::channel::TIMESTAMP_HEADER, now.to_string())
            .header(atende::channel::SIGNATURE_HEADER, signature)
            .body(body);
        let started = Instant::now();
        let status = match request.send().await {
            Ok(response) => Status::Http(response.status().as_u16()),
            Err(err) if err.is_timeout() => Status::Timeout,
            Err(_) => Status::Failed,
        };
        Sent { seq, status, started, done: Instant::now() }
    }
}

/// What a load run produced.
#[derive(Debug, Clone, Default)]
pub struct Run {
    /// Every request, in completion order.
    pub sent: Vec<Sent>,
    /// Wall time from the first send to the last answer.
    pub wall: Duration,
    /// Largest delay between a request's scheduled and actual start (paced runs).
    pub max_lag: Duration,
    /// Requests not sent because the deadline passed.
    pub skipped: u64,
}

impl Run {
    /// Requests answered with `code`.
    pub fn count(&self, code: u16) -> usize {
        self.sent.iter().filter(|s| s.status == Status::Http(code)).count()
    }

    /// `status=count` for every outcome.
    pub fn statuses(&self) -> String {
        let mut counts = std::collections::BTreeMap::new();
        for s in &self.sent {
            *counts.entry(s.status).or_insert(0u64) += 1;
        }
        counts.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
    }

    /// Round-trip seconds of every request.
    pub fn latencies(&self) -> Vec<f64> {
        self.sent.iter().map(Sent::latency).collect()
    }
}

/// Sends every `seq` as fast as `concurrency` closed-loop senders can, stopping at `deadline`.
pub async fn saturate(
    target: Arc<Target>,
    seqs: Range<u64>,
    contacts: Contacts,
    concurrency: usize,
    deadline: Instant,
) -> Run {
    let next = Arc::new(AtomicU64::new(seqs.start));
    let started = Instant::now();
    let mut senders = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let (target, next, end) = (target.clone(), next.clone(), seqs.end);
        senders.spawn(async move {
            let mut sent = Vec::new();
            while Instant::now() < deadline {
                let seq = next.fetch_add(1, Ordering::Relaxed);
                if seq >= end {
                    break;
                }
                sent.push(target.send(seq, contacts).await);
            }
            sent
        });
    }
    let mut run = Run::default();
    while let Some(done) = senders.join_next().await {
        if let Ok(sent) = done {
            run.sent.extend(sent);
        }
    }
    run.wall = started.elapsed();
    run.skipped = seqs.end.saturating_sub(next.load(Ordering::Relaxed).min(seqs.end));
    run
}

/// Sends every `seq` open-loop at `rate` per second (at most `max_in_flight` outstanding),
/// stopping at `deadline`, or early when `keep_going(accepted, failed so far)` (asked every
/// 100 sends) says no.
pub async fn paced(
    target: Arc<Target>,
    seqs: Range<u64>,
    contacts: Contacts,
    rate: f64,
    max_in_flight: usize,
    deadline: Instant,
    keep_going: &(dyn Fn(u64, u64) -> bool + Sync),
) -> Run {
    let interval = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let permits = Arc::new(Semaphore::new(max_in_flight.max(1)));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let mut run = Run::default();
    let (mut accepted, mut failed) = (0u64, 0u64);
    for (i, seq) in seqs.clone().enumerate() {
        let scheduled = started + interval.mul_f64(i as f64);
        if scheduled >= deadline || (i % 100 == 99 && !keep_going(accepted, failed)) {
            run.skipped = seqs.end - seq;
            break;
        }
        tokio::time::sleep_until(scheduled.into()).await;
        let Ok(permit) = permits.clone().acquire_owned().await else { break };
        run.max_lag = run.max_lag.max(Instant::now().saturating_duration_since(scheduled));
        let target = target.clone();
        tasks.spawn(async move {
            let _permit = permit;
            target.send(seq, contacts).await
        });
        // Reap finished requests as we go so the set stays small.
        while let Some(done) = tasks.try_join_next() {
            if let Ok(sent) = done {
                accepted += u64::from(sent.status == Status::Http(202));
                failed += u64::from(!matches!(sent.status, Status::Http(200..=299)));
                run.sent.push(sent);
            }
        }
    }
    while let Some(done) = tasks.join_next().await {
        if let Ok(sent) = done {
            run.sent.push(sent);
        }
    }
    run.wall = started.elapsed();
    run
}
