//! `atende notify-deploy --version V`: one signed JSON deploy notice to the monitoring
//! webhook, in the envelope and with the signature of our outbound events (protocols.md
//! §7), so the receiver that verifies events verifies this too. Event `deploy`.

use std::time::Duration;

use serde_json::json;
use time::OffsetDateTime;

use super::Lang;
use crate::config::Config;
use crate::config::tenant::Secret;
use crate::domain::ErrorClass;
use crate::notify::{Delivery, Notifier, rfc3339};

/// Attempts for an answer that may pass later (timeouts, 5xx, 429), 1 s then 2 s apart.
const ATTEMPTS: u32 = 3;

pub(super) async fn run(
    config: &Config,
    version: &str,
    environment: Option<&str>,
    notes: Option<&str>,
    lang: Lang,
) -> anyhow::Result<()> {
    let version = version.trim();
    if version.is_empty() || version.chars().count() > 100 {
        anyhow::bail!(
            "{}",
            lang.pick("--version precisa de 1 a 100 caracteres", "--version needs 1 to 100 characters")
        );
    }
    let Some(url) = config.monitoring.webhook_url.as_deref().filter(|u| !u.trim().is_empty()) else {
        anyhow::bail!(
            "{}",
            lang.pick(
                "nenhum webhook de monitoramento: defina monitoring.webhook_url (ATENDE_MONITORING__WEBHOOK_URL)",
                "no monitoring webhook: set monitoring.webhook_url (ATENDE_MONITORING__WEBHOOK_URL)"
            )
        );
    };
    let secret = secret(config, lang)?;
    let id = uuid::Uuid::now_v7().to_string();
    let body = json!({
        "id": id,
        "event": "deploy",
        "tenant": null,
        "occurred_at": rfc3339(OffsetDateTime::now_utc()),
        "correlation_id": null,
        "data": {
            "version": version,
            "environment": environment,
            "notes": notes,
            "host": crate::queue::hostname(),
            "atende_version": env!("CARGO_PKG_VERSION"),
        },
    })
    .to_string();
    let notifier = Notifier::new(config.events.timeout);
    let delivery = Delivery { url, event: "deploy", delivery_id: &id, body: &body };
    let mut attempt = 1;
    loop {
        match notifier.send(delivery, &secret).await {
            Ok(status) => {
                println!("{} HTTP {status} ({id})", lang.pick("aviso de deploy enviado:", "deploy notice sent:"));
                return Ok(());
            }
            Err(err) if err.class() == ErrorClass::Retryable && attempt < ATTEMPTS => {
                eprintln!("{} {attempt}: {err}", lang.pick("tentativa", "attempt"));
                tokio::time::sleep(
                    err.retry_after().unwrap_or(Duration::from_secs(1 << (attempt - 1))).min(Duration::from_secs(10)),
                )
                .await;
                attempt += 1;
            }
            Err(err) => {
                anyhow::bail!(
                    "{} {err}",
                    lang.pick("o aviso de deploy não foi entregue:", "the deploy notice was not delivered:")
                )
            }
        }
    }
}

/// The signing secret: `ATENDE_MONITORING_WEBHOOK_SECRET`, else `monitoring.webhook_secret_file`.
fn secret(config: &Config, lang: Lang) -> anyhow::Result<Secret> {
    if let Some(value) = std::env::var("ATENDE_MONITORING_WEBHOOK_SECRET").ok().filter(|v| !v.trim().is_empty()) {
        return Ok(Secret::new(value.trim()));
    }
    let Some(path) = &config.monitoring.webhook_secret_file else {
        anyhow::bail!(
            "{}",
            lang.pick(
                "sem segredo para assinar: defina ATENDE_MONITORING_WEBHOOK_SECRET ou monitoring.webhook_secret_file",
                "no secret to sign with: set ATENDE_MONITORING_WEBHOOK_SECRET or monitoring.webhook_secret_file"
            )
        );
    };
    let text = std::fs::read_to_string(path).map_err(|err| {
        anyhow::anyhow!("{} {}: {err}", lang.pick("não foi possível ler", "cannot read"), path.display())
    })?;
    let value = text.trim();
    anyhow::ensure!(!value.is_empty(), "{} {}", lang.pick("arquivo vazio:", "empty file:"), path.display());
    Ok(Secret::new(value))
}
