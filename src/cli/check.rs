//! `atende check`: everything that would stop Atende from working, with the fix named.

use std::path::PathBuf;

use super::Lang;
use crate::app::redact_url;
use crate::config::Config;
use crate::config::tenant::TenantFile;

/// Validates configuration, database and tenants; prints the effective configuration.
pub async fn run(config: &Config, files: &[PathBuf], lang: Lang) -> anyhow::Result<()> {
    let mut problems = Vec::new();
    let mut shown = config.clone();
    shown.database.url = redact_url(&shown.database.url);
    println!("# {}", lang.pick("configuração efetiva", "effective configuration"));
    println!("{}", toml::to_string(&shown)?);

    // Opens what exists without creating or migrating it: a typo in the URL must not pass.
    match crate::store::open_existing(&config.database.url).await {
        Ok(store) => {
            println!("{}: ok", lang.pick("banco de dados", "database"));
            match store.migration_status().await {
                Ok(status) if !status.unknown.is_empty() => {
                    problems.push(crate::store::StoreError::SchemaTooNew(status.unknown).to_string())
                }
                Ok(status) if !status.pending.is_empty() => problems.push(format!(
                    "{} {} ({})",
                    status.pending.len(),
                    lang.pick("migração(ões) pendente(s)", "pending migration(s)"),
                    lang.pick("rode `atende migrate`", "run `atende migrate`")
                )),
                Ok(_) => {}
                Err(err) => problems.push(err.to_string()),
            }
            match crate::app::install_master_key(config) {
                Ok(Some(_)) => println!(
                    "{}: {}",
                    lang.pick("chave mestra", "master key"),
                    crate::config::sealing::current_key_id().unwrap_or_default()
                ),
                Ok(None) => println!(
                    "{}: {} {}",
                    lang.pick("chave mestra", "master key"),
                    lang.pick("nenhuma ainda; a primeira execução a grava em", "none yet; the first run writes it to"),
                    config.secrets.master_key_file.display()
                ),
                Err(err) => problems.push(err.to_string()),
            }
            match store.list_tenants().await {
                Ok(tenants) => {
                    for tenant in tenants {
                        match tenant
                            .settings
                            .validate()
                            .and_then(|()| tenant.resolve().map(|_| ()))
                            .and_then(|()| crate::brain::validate_template(&tenant.settings.persona))
                        {
                            Ok(()) => println!("{} {}: ok", lang.pick("cliente", "tenant"), tenant.slug),
                            Err(err) => {
                                problems.push(format!("{} {}: {err}", lang.pick("cliente", "tenant"), tenant.slug))
                            }
                        }
                    }
                }
                Err(err) => problems.push(err.to_string()),
            }
        }
        Err(err) => problems.push(format!(
            "{} {}: {err}",
            lang.pick("banco de dados", "database"),
            redact_url(&config.database.url)
        )),
    }
    for file in files {
        match TenantFile::read(file).and_then(|t| {
            crate::brain::validate_template(&t.persona).map_err(|message| crate::config::tenant::TenantFileError {
                origin: file.display().to_string(),
                message,
            })
        }) {
            Ok(()) => println!("{}: ok", file.display()),
            Err(err) => problems.push(err.to_string()),
        }
    }
    if problems.is_empty() {
        println!("{}", lang.pick("tudo certo", "all good"));
        return Ok(());
    }
    for problem in &problems {
        eprintln!("✗ {problem}");
    }
    anyhow::bail!("{} {}", problems.len(), lang.pick("problema(s) encontrado(s)", "problem(s) found"))
}
