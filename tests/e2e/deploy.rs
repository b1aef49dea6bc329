//! The deploy kit under `deploy/` stays honest: the compose file has the services it claims
//! and publishes only Atende's HTTP port and Prometheus, the alert rules and the Grafana
//! dashboards name only metrics Atende exports, and (when `promtool` is installed, as
//! `.ci/run` does) the rules and a live `/metrics` scrape pass `promtool check`. Docker
//! cannot run on these machines, so the compose file is checked by parsing.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::helpers::*;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Every metric name Atende defines (`src/telemetry/metrics.rs`).
fn catalog() -> BTreeSet<String> {
    let source = std::fs::read_to_string(repo("src/telemetry/metrics.rs")).unwrap();
    let names = metric_names(&source);
    assert!(names.len() > 30, "the catalog was read: {names:?}");
    names
}

/// The `atende_*` names in `text`, with histogram series suffixes kept as written.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("atende_") {
        let tail = &rest[at..];
        let end =
            tail.find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')).unwrap_or(tail.len());
        names.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    names
}

/// `name` is a defined metric, or a histogram's `_bucket` / `_sum` / `_count` series.
fn defined(name: &str, catalog: &BTreeSet<String>) -> bool {
    catalog.contains(name)
        || ["_bucket", "_sum", "_count"]
            .iter()
            .any(|suffix| name.strip_suffix(suffix).is_some_and(|base| catalog.contains(base)))
}

fn exprs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner) {
                    ("expr" | "query", Value::String(expr)) => out.push(expr.clone()),
                    _ => exprs(inner, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| exprs(item, out)),
        _ => {}
    }
}

fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut value: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{path} is not valid YAML: {e}"));
    value.apply_merge().unwrap_or_else(|e| panic!("{path}: bad merge key: {e}"));
    serde_json::to_value(value).unwrap()
}

#[test]
fn the_compose_file_runs_the_stack_on_an_internal_network_publishing_only_atende_and_prometheus() {
    let compose = yaml("deploy/docker-compose.prod.yml");
    let services = compose["services"].as_object().expect("services");
    let names: BTreeSet<&str> = services.keys().map(String::as_str).collect();
    let expected = ["alertmanager", "atende-api", "atende-worker", "grafana", "postgres", "prometheus", "redis"];
    assert_eq!(names, expected.into_iter().collect(), "{names:?}");
    for (name, service) in services {
        let published = service.get("ports").and_then(Value::as_array).is_some_and(|p| !p.is_empty());
        assert_eq!(published, name == "atende-api" || name == "prometheus", "{name} ports: {:?}", service.get("ports"));
        assert!(service.get("healthcheck").is_some(), "{name} has no healthcheck");
    }
    for role in ["atende-api", "atende-worker"] {
        let text = serde_json::to_string(&services[role]).unwrap();
        assert!(text.contains("ATENDE_MASTER_KEY_FILE") && text.contains("ATENDE_DATABASE_URL_FILE"), "{role}: {text}");
        assert!(!text.contains("postgres://"), "{role} must take the database URL from a secret file: {text}");
    }
    let redis = serde_json::to_string(&services["redis"]).unwrap();
    assert!(redis.contains("maxmemory") && redis.contains("maxmemory-policy"), "{redis}");
    let networks = compose["networks"].as_object().expect("networks");
    assert!(networks.values().any(|n| n["internal"] == true), "an internal network: {networks:?}");
    assert!(compose["secrets"].as_object().is_some_and(|s| s.contains_key("master_key")), "secrets through files");
}

#[test]
fn alert_rules_and_dashboards_name_only_metrics_atende_exports() {
    let catalog = catalog();
    let rules = yaml("deploy/prometheus/alerts.yml");
    let mut alerts = BTreeSet::new();
    let mut expressions = Vec::new();
    for group in rules["groups"].as_array().expect("groups") {
        for rule in group["rules"].as_array().expect("rules") {
            alerts.insert(rule["alert"].as_str().expect("alert name").to_string());
            assert!(rule["annotations"]["summary"].is_string(), "{rule}");
            expressions.push(rule["expr"].as_str().expect("expr").to_string());
        }
    }
    for alert in [
        "AtendeDeadLettersGrowing",
        "AtendeBacklogOld",
        "AtendeNoWorkerClaiming",
        "AtendeLlmLatencyHigh",
        "AtendeHelpdeskErrorRatio",
        "AtendeLlmBreakerOpen",
        "AtendeRedisMemoryNearMax",
        "AtendeHandoffSlaBreaches",
        "AtendeWebhookSignatureFailures",
    ] {
        assert!(alerts.contains(alert), "missing alert {alert}: {alerts:?}");
    }

    let mut uids = BTreeSet::new();
    for entry in std::fs::read_dir(repo("deploy/grafana/dashboards")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let dashboard: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
        uids.insert(dashboard["uid"].as_str().expect("uid").to_string());
        let mut found = Vec::new();
        exprs(&dashboard, &mut found);
        assert!(!found.is_empty(), "{} has no queries", path.display());
        expressions.extend(found);
    }
    for uid in ["atende-overview", "atende-tenant", "atende-volume", "atende-llm-cost"] {
        assert!(uids.contains(uid), "missing dashboard {uid}: {uids:?}");
    }
    let used: BTreeSet<String> = expressions.iter().flat_map(|e| metric_names(e)).collect();
    let unknown: Vec<&String> = used.iter().filter(|name| !defined(name, &catalog)).collect();
    assert!(unknown.is_empty(), "rules or dashboards name metrics Atende does not export: {unknown:?}");
    assert!(used.len() >= 15, "the kit covers the pipeline: {used:?}");
}

/// `promtool` when `.ci/run` installed it (`ATENDE_TEST_PROMTOOL`).
fn promtool() -> Option<String> {
    let path = std::env::var("ATENDE_TEST_PROMTOOL").ok().filter(|p| !p.is_empty());
    if path.is_none() {
        eprintln!("skipped: ATENDE_TEST_PROMTOOL is not set (install Debian's prometheus package)");
    }
    path
}

#[tokio::test]
async fn promtool_accepts_the_alert_rules_and_a_live_metrics_scrape() {
    let Some(promtool) = promtool() else { return };
    let rules = std::process::Command::new(&promtool)
        .args(["check", "rules"])
        .arg(repo("deploy/prometheus/alerts.yml"))
        .output()
        .unwrap();
    assert!(
        rules.status.success(),
        "{}{}",
        String::from_utf8_lossy(&rules.stdout),
        String::from_utf8_lossy(&rules.stderr)
    );

    let app = spawn_app().await;
    mount_gemini(&app.llm, "Olá!").await;
    mount_whaticket_ok(&app.whaticket).await;
    app.post_generic(&generic("deploy-1", "5511999999999", "Oi")).await;
    app.drain().await;
    let scrape = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let mut child = tokio::process::Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(scrape.as_bytes()).await.unwrap();
    }
    let checked =
        tokio::time::timeout(std::time::Duration::from_secs(30), child.wait_with_output()).await.unwrap().unwrap();
    let report = format!("{}{}", String::from_utf8_lossy(&checked.stdout), String::from_utf8_lossy(&checked.stderr));
    assert!(checked.status.success() && !report.contains("error"), "promtool check metrics:\n{report}\n{scrape}");
    // Every metric the scrape shows is in the catalog the rules were checked against.
    let catalog = catalog();
    let scraped: Vec<String> = metric_names(&scrape).into_iter().filter(|n| !defined(n, &catalog)).collect();
    assert!(scraped.is_empty(), "metrics outside src/telemetry/metrics.rs: {scraped:?}");
}
