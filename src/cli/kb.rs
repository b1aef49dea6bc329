//! `atende kb …` and `atende persona …`.

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use time::OffsetDateTime;

use super::audit::audit;
use super::commands::{not_found_tenant, open};
use super::{KbCommand, Lang, PersonaCommand};
use crate::brain::{ImportCounts, KnowledgeCache, import_knowledge};
use crate::config::Config;
use crate::knowledge::{self, ImportFormat};
use crate::store::{Store, Tenant};

/// Runs `kb import` / `kb search`.
pub async fn run(config: &Config, command: KbCommand, lang: Lang) -> anyhow::Result<()> {
    let store = open(config, lang).await?;
    match command {
        KbCommand::Import { tenant, file, format } => {
            let tenant = find(&*store, &tenant, lang).await?;
            let format = match format.as_deref() {
                Some(name) => ImportFormat::parse(name)
                    .with_context(|| format!("--format {name:?}: use csv, jsonl or markdown"))?,
                None => ImportFormat::from_path(&file).with_context(|| {
                    format!(
                        "{}: {}",
                        file.display(),
                        lang.pick(
                            "extensão desconhecida; use .csv, .jsonl ou .md, ou --format",
                            "unknown extension; use .csv, .jsonl or .md, or --format"
                        )
                    )
                })?,
            };
            let text = std::fs::read_to_string(&file).with_context(|| format!("{}", file.display()))?;
            let parsed = knowledge::parse_import(format, &text).with_context(|| format!("{}", file.display()))?;
            import(&*store, &tenant, parsed, lang).await
        }
        KbCommand::Search { tenant, text, json, limit, engine } => {
            let tenant = find(&*store, &tenant, lang).await?;
            // Exactly the search the bot runs (enabled entries, the persona's language).
            let language = tenant.settings.persona.language();
            let engine = engine.unwrap_or(config.brain.knowledge_search);
            let found = KnowledgeCache::new(engine).search(&*store, tenant.id, language, &text, limit).await?;
            if json {
                let out: Vec<_> = found
                    .iter()
                    .map(|m| {
                        let r = &m.row;
                        json!({ "id": r.id, "question": r.question, "answer": r.answer,
                                "score": m.score, "coverage": m.coverage })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else if found.is_empty() {
                println!("{}", lang.pick("nenhuma entrada encontrada", "no entries found"));
            } else {
                for m in &found {
                    let answer = knowledge::excerpt(&m.row.answer, 100);
                    println!("{:>7.3}  kb:{:<5} {}\n         {answer}", m.score, m.row.id, m.row.question);
                }
            }
            Ok(())
        }
    }
}

async fn import(store: &dyn Store, tenant: &Tenant, parsed: knowledge::ParsedImport, lang: Lang) -> anyhow::Result<()> {
    let bar = ProgressBar::new(parsed.entries.len() as u64);
    bar.set_style(ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}").expect("static template"));
    let counts = import_knowledge(store, tenant.id, &parsed.entries, || bar.inc(1)).await?;
    let ImportCounts { added, updated, unchanged } = counts;
    let after = json!({ "added": added, "updated": updated, "unchanged": unchanged, "skipped": parsed.skipped.len() });
    audit(store, "knowledge.import", &tenant.slug, None, Some(after)).await?;
    bar.finish_and_clear();
    println!(
        "{}: {added} {}, {updated} {}, {unchanged} {}, {} {}",
        tenant.slug,
        lang.pick("adicionadas", "added"),
        lang.pick("atualizadas", "updated"),
        lang.pick("sem mudança", "unchanged"),
        parsed.skipped.len(),
        lang.pick("ignoradas", "skipped"),
    );
    for skipped in &parsed.skipped {
        println!("  {} {}: {}", lang.pick("linha", "line"), skipped.line, skipped.reason);
    }
    Ok(())
}

/// Runs `persona history` / `persona rollback`.
pub async fn persona(config: &Config, command: PersonaCommand, lang: Lang) -> anyhow::Result<()> {
    let store = open(config, lang).await?;
    match command {
        PersonaCommand::History { tenant } => {
            let tenant = find(&*store, &tenant, lang).await?;
            for v in store.list_persona_versions(tenant.id).await? {
                let at = v.created_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
                let current =
                    if v.version == tenant.persona_version { lang.pick(" (atual)", " (current)") } else { "" };
                let tone = v.persona.tone.as_deref().unwrap_or("-");
                println!(
                    "v{}{current}\t{at}\t{}: {tone}\t{}",
                    v.version,
                    lang.pick("tom", "tone"),
                    v.persona.language().as_str()
                );
            }
        }
        PersonaCommand::Rollback { tenant, to } => {
            let tenant = find(&*store, &tenant, lang).await?;
            let target = match to {
                Some(v) => v,
                None if tenant.persona_version > 1 => tenant.persona_version - 1,
                None => {
                    bail!("{}", lang.pick("não há versão anterior da persona", "there is no earlier persona version"))
                }
            };
            match store.rollback_persona(tenant.id, target, OffsetDateTime::now_utc()).await? {
                Some(new) => {
                    let before = json!({ "version": tenant.persona_version });
                    let after = json!({ "version": new, "restored": target });
                    audit(&*store, "persona.rollback", &tenant.slug, Some(before), Some(after)).await?;
                    println!(
                        "{}: {} v{target} ({} v{new})",
                        tenant.slug,
                        lang.pick("persona restaurada da", "persona restored from"),
                        lang.pick("agora", "now"),
                    )
                }
                None => bail!(
                    "{} v{target} {}",
                    lang.pick("a versão", "version"),
                    lang.pick(
                        "não existe (veja `atende persona history`)",
                        "does not exist (see `atende persona history`)"
                    )
                ),
            }
        }
    }
    Ok(())
}

async fn find(store: &dyn Store, slug: &str, lang: Lang) -> anyhow::Result<Tenant> {
    store.find_tenant(slug).await?.with_context(|| not_found_tenant(slug, lang))
}
