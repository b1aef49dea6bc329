//! `atende secrets …`: the master key that encrypts tenant secrets at rest.
//!
//! Rotation without downtime: the new key goes first in the key file and the old ones stay
//! after it, then every tenant is re-encrypted. Running processes re-read the file when it
//! changes (before they encrypt) and when a value names a key they do not hold (before
//! they decrypt), so they follow without a restart.

use serde_json::json;

use super::audit::audit;
use super::commands::open;
use super::{Lang, SecretsCommand};
use crate::config::Config;
use crate::config::sealing::{self, MasterKey};

pub(super) async fn run(config: &Config, command: SecretsCommand, lang: Lang) -> anyhow::Result<()> {
    match command {
        SecretsCommand::RotateMaster => rotate_master(config, lang).await,
        SecretsCommand::Reseal => reseal(config, lang).await,
    }
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
