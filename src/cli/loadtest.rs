//! `atende loadtest`: signed generic webhooks against a running Atende on this machine,
//! bounded by count and time, with a latency and status summary (optionally in Prometheus
//! text format).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::Semaphore;

use super::{Lang, LoadtestArgs};
use crate::channel::sign_generic;

/// What one run measured.
#[derive(Debug, Default)]
struct Summary {
    sent: u64,
    by_status: BTreeMap<String, u64>,
    latencies: Vec<f64>,
    elapsed: Duration,
}

/// Runs the load and prints the summary.
pub async fn run(args: LoadtestArgs, lang: Lang) -> anyhow::Result<()> {
    let base = args.url.trim_end_matches('/').to_string();
    ensure_loopback(&base)?;
    let endpoint = format!("{base}/webhook/{}/generic", args.tenant);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .timeout(Duration::from_secs(10))
        .build()
        .context("HTTP client")?;
    let bar = ProgressBar::new(args.requests);
    bar.set_style(ProgressStyle::with_template("{bar:40} {pos}/{len} {per_sec}").expect("static template"));
    let summary = drive(&client, &endpoint, &args, &bar).await;
    bar.finish_and_clear();
    print_summary(&summary, lang);
    if args.prom {
        print!("{}", prometheus(&summary));
    }
    Ok(())
}

/// Sends `args.requests` webhooks with at most `args.concurrency` in flight, paced to
/// `args.rate` per second when given, and stops at `args.max_duration` whatever is left.
async fn drive(client: &reqwest::Client, endpoint: &str, args: &LoadtestArgs, bar: &ProgressBar) -> Summary {
    let started = Instant::now();
    let deadline = started + args.max_duration;
    let permits = Arc::new(Semaphore::new(args.concurrency.max(1)));
    let run = uuid::Uuid::now_v7().simple().to_string();
    let mut tasks = tokio::task::JoinSet::new();
    let pace = args.rate.filter(|r| *r > 0.0).map(|r| Duration::from_secs_f64(1.0 / r));
    for i in 0..args.requests {
        if Instant::now() >= deadline {
            break;
        }
        if let Some(pace) = pace {
            tokio::time::sleep_until((started + pace.mul_f64(i as f64)).into()).await;
        }
        let permit = permits.clone().acquire_owned().await.expect("semaphore never closes");
        let (client, endpoint, secret) = (client.clone(), endpoint.to_string(), args.secret.clone());
        let contact = 5_511_900_000_000_u64 + i % args.contacts.max(1);
        let body = serde_json::json!({
            "id": format!("loadtest-{run}-{i}"),
            "from": contact.to_string(),
            "text": format!("Mensagem de teste {i}"),
            "timestamp": time::OffsetDateTime::now_utc().unix_timestamp(),
        })
        .to_string();
        let bar = bar.clone();
        tasks.spawn(async move {
            let _permit = permit;
            let ts = time::OffsetDateTime::now_utc().unix_timestamp();
            let signature = sign_generic(&secret, ts, body.as_bytes());
            let sent = Instant::now();
            let result = client
                .post(&endpoint)
                .header("content-type", "application/json")
                .header("x-atende-timestamp", ts.to_string())
                .header("x-atende-signature", signature)
                .body(body)
                .send()
                .await;
            bar.inc(1);
            let status = match result {
                Ok(response) => response.status().as_u16().to_string(),
                Err(err) if err.is_timeout() => "timeout".to_string(),
                Err(_) => "connect".to_string(),
            };
            (status, sent.elapsed().as_secs_f64())
        });
    }
    let mut summary = Summary::default();
    while let Some(done) = tasks.join_next().await {
        if let Ok((status, latency)) = done {
            summary.sent += 1;
            *summary.by_status.entry(status).or_default() += 1;
            summary.latencies.push(latency);
        }
    }
    summary.elapsed = started.elapsed();
    summary.latencies.sort_by(f64::total_cmp);
    summary
}

/// Load tests only target this machine (loopback).
fn ensure_loopback(url: &str) -> anyhow::Result<()> {
    let host = url.split("://").nth(1).unwrap_or_default().split('/').next().unwrap_or_default();
    let host =
        host.rsplit_once(':').map_or(host, |(h, port)| if port.chars().all(|c| c.is_ascii_digit()) { h } else { host });
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !url.starts_with("http://") && !url.starts_with("https://") {
        bail!("--url {url:?}: give the full address, e.g. http://127.0.0.1:8080");
    }
    if !loopback {
        bail!("--url {url:?}: load tests only target this machine (127.0.0.1, ::1 or localhost)");
    }
    Ok(())
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn print_summary(s: &Summary, lang: Lang) {
    let count = |status: &str| s.by_status.get(status).copied().unwrap_or(0);
    let errors: Vec<String> = s
        .by_status
        .iter()
        .filter(|(k, _)| !["202", "200"].contains(&k.as_str()))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let ms = |q: f64| quantile(&s.latencies, q) * 1000.0;
    println!(
        "{}: {}  {}: {}  {}: {}  {}: {}",
        lang.pick("enviadas", "sent"),
        s.sent,
        lang.pick("aceitas", "accepted"),
        count("202"),
        lang.pick("duplicadas", "duplicates"),
        count("200"),
        lang.pick("erros", "errors"),
        if errors.is_empty() { "0".to_string() } else { errors.join(" ") },
    );
    println!(
        "{}: p50 {:.2} ms  p95 {:.2} ms  p99 {:.2} ms  {} {:.2} ms",
        lang.pick("latência", "latency"),
        ms(0.50),
        ms(0.95),
        ms(0.99),
        lang.pick("máx", "max"),
        s.latencies.last().copied().unwrap_or(0.0) * 1000.0,
    );
    let rate = s.sent as f64 / s.elapsed.as_secs_f64().max(1e-9);
    println!("{}: {rate:.1} req/s ({:.2} s)", lang.pick("vazão", "throughput"), s.elapsed.as_secs_f64());
}

/// The summary in Prometheus text format.
fn prometheus(s: &Summary) -> String {
    let mut out = String::from("# HELP atende_loadtest_requests_total Webhooks sent, by HTTP status.\n");
    out.push_str("# TYPE atende_loadtest_requests_total counter\n");
    for (status, n) in &s.by_status {
        out.push_str(&format!("atende_loadtest_requests_total{{status=\"{status}\"}} {n}\n"));
    }
    out.push_str("# HELP atende_loadtest_latency_seconds Webhook round-trip latency.\n");
    out.push_str("# TYPE atende_loadtest_latency_seconds summary\n");
    for q in [0.5, 0.95, 0.99, 1.0] {
        out.push_str(&format!(
            "atende_loadtest_latency_seconds{{quantile=\"{q}\"}} {:.6}\n",
            quantile(&s.latencies, q)
        ));
    }
    out.push_str(&format!("atende_loadtest_latency_seconds_sum {:.6}\n", s.latencies.iter().sum::<f64>()));
    out.push_str(&format!("atende_loadtest_latency_seconds_count {}\n", s.latencies.len()));
    out.push_str("# HELP atende_loadtest_duration_seconds Wall time of the run.\n");
    out.push_str("# TYPE atende_loadtest_duration_seconds gauge\n");
    out.push_str(&format!("atende_loadtest_duration_seconds {:.6}\n", s.elapsed.as_secs_f64()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_targets_are_accepted() {
        for ok in ["http://127.0.0.1:8080", "http://localhost:8080/", "http://[::1]:8080", "http://127.5.0.1"] {
            assert!(ensure_loopback(ok).is_ok(), "{ok}");
        }
        for bad in ["http://10.0.0.1:8080", "http://example.com", "127.0.0.1:8080", "http://192.168.0.10"] {
            assert!(ensure_loopback(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn quantiles_pick_the_nearest_rank() {
        let sorted: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&sorted, 0.5), 50.0);
        assert_eq!(quantile(&sorted, 0.99), 99.0);
        assert_eq!(quantile(&sorted, 1.0), 100.0);
        assert_eq!(quantile(&[], 0.5), 0.0);
    }
}
