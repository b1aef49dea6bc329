//! `atende secrets …`: the master key that encrypts tenant secrets at rest, and tenant
//! secrets rotated or set from the command line (`config::managed`).
//!
//! Rotation without downtime: the new key goes first in the key file and the old ones stay
//! after it, then every tenant is re-encrypted. Running processes re-read the file when it
//! changes (before they encrypt) and when a value names a key they do not hold (before
//! they decrypt), so they follow without a restart.

use std::io::{IsTerminal, Read};
use std::path::Path;

use anyhow::Context;
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::audit::audit;
use super::commands::{not_found_tenant, open};
use super::{Lang, RotateTarget, SecretsCommand};
use crate::config::Config;
use crate::config::managed::{Rotatable, RotatedSecret};
use crate::config::sealing::{self, MasterKey};
use crate::config::tenant::Secret;
use crate::store::{Store, Tenant};

/// Longest grace period a rotation may give the secrets it replaces.
const MAX_GRACE: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);
/// Longest provider secret `secrets set` takes.
const MAX_SECRET_CHARS: usize = 4096;

pub(super) async fn run(config: &Config, command: SecretsCommand, lang: Lang) -> anyhow::Result<()> {
    match command {
        SecretsCommand::RotateMaster => rotate_master(config, lang).await,
        SecretsCommand::Reseal => reseal(config, lang).await,
        SecretsCommand::Rotate { tenant, what, grace } => rotate(config, &tenant, what, &grace, lang).await,
        SecretsCommand::Set { tenant, key, from_file } => set(config, &tenant, &key, from_file.as_deref(), lang).await,
        SecretsCommand::Unset { tenant, key } => unset(config, &tenant, &key, lang).await,
        SecretsCommand::List { tenant, json } => list(config, &tenant, json, lang).await,
    }
}

async fn find(store: &dyn Store, slug: &str, lang: Lang) -> anyhow::Result<Tenant> {
    store.find_tenant(slug).await?.with_context(|| not_found_tenant(slug, lang))
}

/// `24h`, `30m`, `0` … up to 30 days.
fn parse_grace(text: &str, lang: Lang) -> anyhow::Result<time::Duration> {
    let text = text.trim();
    let parsed = if text == "0" { Ok(std::time::Duration::ZERO) } else { humantime::parse_duration(text) };
    let grace = parsed.ok().filter(|d| *d <= MAX_GRACE).with_context(|| {
        format!(
            "--grace {text:?}: {}",
            lang.pick(
                "use uma duração de 0 a 30 dias, ex.: 24h, 30m, 7d, ou 0 para recusar os anteriores já",
                "use a duration from 0 to 30 days, e.g. 24h, 30m, 7d, or 0 to refuse the previous ones now"
            )
        )
    })?;
    Ok(time::Duration::try_from(grace).expect("at most 30 days"))
}

async fn rotate(config: &Config, slug: &str, what: RotateTarget, grace: &str, lang: Lang) -> anyhow::Result<()> {
    let grace = parse_grace(grace, lang)?;
    let kind = match what {
        RotateTarget::Webhook => Rotatable::Webhook,
        RotateTarget::InboundToken => Rotatable::InboundToken,
    };
    let store = open(config, lang).await?;
    let mut tenant = find(&*store, slug, lang).await?;
    // The file's own values, as senders use them today (rotation cannot edit the file).
    let file =
        tenant.settings.resolve().map_err(|err| anyhow::anyhow!("{} {slug}: {err}", lang.pick("cliente", "tenant")))?;
    let from_file = match kind {
        Rotatable::Webhook => file.webhook_secrets,
        Rotatable::InboundToken => file.inbound_tokens,
    };
    let now = OffsetDateTime::now_utc();
    let new = crate::secrets::random_token();
    let outcome = tenant.secrets.rotate(kind, &from_file, Secret::new(new.clone()), now, grace);
    store.set_tenant_secrets(tenant.id, &tenant.secrets, now).await?;
    let until = rfc3339((now + grace).unix_timestamp());
    audit(
        &*store,
        "secrets.rotate",
        slug,
        None,
        Some(json!({
            "secret": kind.as_str(), "grace_seconds": grace.whole_seconds(), "previous_valid_until": until,
            "retired": outcome.retired, "removed": outcome.removed,
        })),
    )
    .await?;
    tracing::info!(tenant = slug, secret = kind.as_str(), retired = outcome.retired, "tenant secret rotated");
    let previous = if outcome.retired == 0 {
        lang.pick("não havia anterior", "there was no previous one").to_string()
    } else if grace.is_zero() {
        lang.pick("os anteriores já são recusados", "the previous ones are refused now").to_string()
    } else {
        format!("{} {until}", lang.pick("os anteriores valem até", "the previous ones stay valid until"))
    };
    eprintln!(
        "{} {slug} ({previous}). {}",
        match kind {
            Rotatable::Webhook => lang.pick("novo segredo de webhook do cliente", "new webhook secret of tenant"),
            Rotatable::InboundToken => lang.pick("novo inbound_token do cliente", "new inbound_token of tenant"),
        },
        lang.pick(
            "Guarde-o agora: ele não será mostrado de novo. Processos em execução o aceitam em até http.tenant_cache_ttl.",
            "Keep it now: it will not be shown again. Running processes accept it within http.tenant_cache_ttl."
        )
    );
    println!("{new}");
    Ok(())
}

/// A `secrets set` key this tenant has, or an error naming the ones it has.
fn check_key(tenant: &Tenant, key: &str, lang: Lang) -> anyhow::Result<()> {
    if key.starts_with("webhook") || key == "inbound_token" {
        anyhow::bail!(
            "{key}: {}",
            lang.pick(
                "segredos de entrada são trocados com `atende secrets rotate <cliente> webhook|inbound_token`",
                "inbound secrets are replaced with `atende secrets rotate <tenant> webhook|inbound_token`"
            )
        );
    }
    let keys = tenant.settings.provider_secret_keys();
    if !keys.iter().any(|k| k == key) {
        anyhow::bail!(
            "{key}: {} {} {}",
            lang.pick("o cliente", "tenant"),
            tenant.slug,
            if keys.is_empty() {
                lang.pick("não usa segredos de provedor", "uses no provider secrets").to_string()
            } else {
                format!(
                    "{} {}",
                    lang.pick("não tem essa chave; as dele são", "has no such key; its keys are"),
                    keys.join(", ")
                )
            }
        );
    }
    Ok(())
}

/// The value: first line of `file`, else of stdin when piped, else typed without echo.
fn read_value(file: Option<&Path>, lang: Lang) -> anyhow::Result<Secret> {
    let mut text = String::new();
    match file {
        Some(path) => {
            text = std::fs::read_to_string(path).with_context(|| {
                format!("{} {}", lang.pick("não consegui ler o arquivo", "cannot read the file"), path.display())
            })?;
        }
        None if std::io::stdin().is_terminal() => {
            text = rpassword::prompt_password(lang.pick("Valor: ", "Value: ")).with_context(|| {
                lang.pick(
                    "não consegui ler o valor do terminal; use --from-file ARQUIVO",
                    "cannot read the value from the terminal; use --from-file FILE",
                )
            })?;
        }
        None => {
            std::io::stdin().take(64 * 1024).read_to_string(&mut text).with_context(|| {
                lang.pick("não consegui ler o valor da entrada padrão", "cannot read the value from stdin")
            })?;
        }
    }
    let value = text.lines().next().unwrap_or_default().trim();
    if value.is_empty() || value.chars().count() > MAX_SECRET_CHARS || value.chars().any(char::is_control) {
        anyhow::bail!(
            "{}",
            lang.pick(
                "o valor precisa de 1 a 4096 caracteres numa linha, sem caracteres de controle; nada foi gravado",
                "the value needs 1 to 4096 characters on one line, without control characters; nothing was stored"
            )
        );
    }
    Ok(Secret::new(value))
}

async fn set(config: &Config, slug: &str, key: &str, file: Option<&Path>, lang: Lang) -> anyhow::Result<()> {
    let store = open(config, lang).await?;
    let mut tenant = find(&*store, slug, lang).await?;
    check_key(&tenant, key, lang)?;
    let value = read_value(file, lang)?;
    let now = OffsetDateTime::now_utc();
    let replaced = tenant.secrets.get(key).is_some();
    tenant.secrets.set_value(key, Some(value), now);
    store.set_tenant_secrets(tenant.id, &tenant.secrets, now).await?;
    audit(&*store, "secrets.set", slug, None, Some(json!({ "key": key, "replaced": replaced }))).await?;
    tracing::info!(tenant = slug, key, "tenant secret set");
    println!(
        "{key} {} {slug} {}",
        lang.pick("do cliente", "of tenant"),
        lang.pick("gravado; vale no lugar do arquivo do cliente", "stored; it wins over the tenant file")
    );
    Ok(())
}

async fn unset(config: &Config, slug: &str, key: &str, lang: Lang) -> anyhow::Result<()> {
    let store = open(config, lang).await?;
    let mut tenant = find(&*store, slug, lang).await?;
    let now = OffsetDateTime::now_utc();
    if !tenant.secrets.set_value(key, None, now) {
        anyhow::bail!(
            "{key}: {} {slug} (`atende secrets list {slug}`)",
            lang.pick(
                "nenhum valor gravado com `secrets set` no cliente",
                "no value stored with `secrets set` for tenant"
            )
        );
    }
    store.set_tenant_secrets(tenant.id, &tenant.secrets, now).await?;
    audit(&*store, "secrets.unset", slug, Some(json!({ "key": key })), None).await?;
    println!(
        "{key} {} {slug} {}",
        lang.pick("do cliente", "of tenant"),
        lang.pick("apagado; vale o do arquivo do cliente", "removed; the tenant file's value applies")
    );
    Ok(())
}

fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix).ok().and_then(|at| at.format(&Rfc3339).ok()).unwrap_or_default()
}

async fn list(config: &Config, slug: &str, json: bool, lang: Lang) -> anyhow::Result<()> {
    let store = open(config, lang).await?;
    let tenant = find(&*store, slug, lang).await?;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let rotated = |kind: Rotatable, entries: &[RotatedSecret]| {
        entries
            .iter()
            .map(|e| {
                let state = match e.expires_at {
                    None => "active",
                    Some(at) if now < at => "grace",
                    Some(_) => "refused",
                };
                json!({
                    "key": kind.as_str(), "origin": if e.from_file { "file" } else { "rotated" }, "state": state,
                    "since": rfc3339(e.created_at), "until": e.expires_at.map(rfc3339),
                })
            })
            .collect::<Vec<_>>()
    };
    let mut rows = rotated(Rotatable::Webhook, &tenant.secrets.webhook);
    rows.extend(rotated(Rotatable::InboundToken, &tenant.secrets.inbound_token));
    rows.extend(tenant.secrets.set.iter().map(|(key, set)| {
        json!({ "key": key, "origin": "set", "state": "active", "since": rfc3339(set.set_at), "until": null })
    }));
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    if rows.is_empty() {
        println!(
            "{} {slug} {}",
            lang.pick("o cliente", "tenant"),
            lang.pick("usa só os segredos do arquivo", "uses only its file's secrets")
        );
        return Ok(());
    }
    for row in rows {
        let field = |name: &str| row[name].as_str().unwrap_or("-").to_string();
        println!("{}\t{}\t{}\t{}\t{}", field("key"), field("origin"), field("state"), field("since"), field("until"));
    }
    Ok(())
}

async fn rotate_master(config: &Config, lang: Lang) -> anyhow::Result<()> {
    if std::env::var_os("ATENDE_MASTER_KEY").is_some_and(|v| !v.is_empty()) {
        anyhow::bail!(
            "{}",
            lang.pick(
                "a chave mestra vem de ATENDE_MASTER_KEY e a troca reescreve o arquivo de chaves: grave a chave num arquivo (ATENDE_MASTER_KEY_FILE), tire ATENDE_MASTER_KEY e rode de novo",
                "the master key comes from ATENDE_MASTER_KEY and rotation rewrites the key file: put the key in a file (ATENDE_MASTER_KEY_FILE), unset ATENDE_MASTER_KEY and run again"
            )
        );
    }
    // Opening unlocks the current keys (or writes a first key file).
    let store = open(config, lang).await?;
    let file = &config.secrets.master_key_file;
    let (old, _) = sealing::read_keys(None, file).map_err(anyhow::Error::msg)?.ok_or_else(|| {
        anyhow::anyhow!("{} {}", lang.pick("arquivo de chaves sumiu:", "the key file is gone:"), file.display())
    })?;
    let new = MasterKey::generate();
    let mut keys = vec![new.clone()];
    keys.extend(old.iter().cloned());
    sealing::write_key_file(file, &keys, false).map_err(|err| {
        anyhow::anyhow!("{} {}: {err}", lang.pick("não foi possível gravar", "cannot write"), file.display())
    })?;
    sealing::install(vec![new.clone()], Some(file));
    let tenants = crate::app::reseal_all(&*store).await?;
    let old_ids: Vec<&str> = old.iter().map(MasterKey::id).collect();
    audit(
        &*store,
        "secrets.rotate_master",
        new.id(),
        Some(json!({ "keys": old_ids })),
        Some(json!({ "key": new.id(), "tenants": tenants })),
    )
    .await?;
    println!(
        "{} {}; {} {tenants}",
        lang.pick("nova chave mestra:", "new master key:"),
        new.id(),
        lang.pick("clientes recifrados:", "tenants re-encrypted:"),
    );
    println!(
        "{} {} ({})",
        lang.pick("chaves antigas mantidas em", "previous keys kept in"),
        file.display(),
        old_ids.join(", ")
    );
    Ok(())
}

async fn reseal(config: &Config, lang: Lang) -> anyhow::Result<()> {
    let store = open(config, lang).await?;
    let tenants = crate::app::reseal_all(&*store).await?;
    let key = sealing::current_key_id().unwrap_or_default();
    audit(&*store, "secrets.reseal", &key, None, Some(json!({ "tenants": tenants }))).await?;
    println!(
        "{} {tenants} ({} {key})",
        lang.pick("clientes recifrados:", "tenants re-encrypted:"),
        lang.pick("chave", "key")
    );
    Ok(())
}
