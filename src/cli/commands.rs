//! What each subcommand does.

use std::sync::Arc;

use anyhow::Context;
use time::OffsetDateTime;

use super::{
    Cli, Command, ConversationCommand, CsatCommand, DlqCommand, DlqFilter, EventsCommand, FlagsCommand, HandoffCommand,
    Lang, MigrateAction, TenantCommand,
};
use serde_json::json;

use super::audit::audit;
use crate::app::{App, redact_url, shutdown_on_signal};
use crate::brain::csat;
use crate::config::tenant::TenantFile;
use crate::config::{self, Config};
use crate::domain::{ContactNumber, ConversationState, CorrelationId, Flag, FlagKind, JobId, JobKind};
use crate::queue;
use crate::store::{CloseOutcome, DeadLetterFilter, JobRecord, MigrationStatus, Store, SurveyDecision, UpsertOutcome};
use crate::telemetry;

/// Runs one parsed command line.
pub async fn execute(cli: Cli, lang: Lang) -> anyhow::Result<()> {
    let config = match cli.profile.as_deref().filter(|p| !p.is_empty()) {
        Some(profile) => {
            let env: Vec<(String, String)> = std::env::vars().collect();
            config::load_profile(cli.config.as_deref(), profile, &env)?
        }
        None => config::load(cli.config.as_deref())?,
    };
    match cli.command {
        Command::Serve { role } => serve(config, role, lang).await,
        Command::Migrate { action: None } => {
            let store = open(&config, lang).await?;
            let status = store.migration_status().await?;
            println!(
                "{} ({})",
                lang.pick("banco de dados atualizado", "database up to date"),
                applied_summary(&status)
            );
            Ok(())
        }
        Command::Migrate { action: Some(MigrateAction::Status) } => {
            let store = crate::store::open_existing(&config.database.url).await?;
            print_migrations(&store.migration_status().await?, lang);
            Ok(())
        }
        Command::Tenant(command) => tenant(&config, command, lang).await,
        Command::Dlq(command) => dlq(&config, command, lang).await,
        Command::Conversation(command) => conversation(&config, command, lang).await,
        Command::Check { files } => super::check::run(&config, &files, lang).await,
        Command::Handoff(HandoffCommand::List { tenant, limit, json }) => {
            handoffs(&config, &tenant, limit, json, lang).await
        }
        Command::Events(EventsCommand::Log { tenant, limit, json }) => {
            event_log(&config, &tenant, limit, json, lang).await
        }
        Command::Csat(CsatCommand::List { tenant, limit, json }) => surveys(&config, &tenant, limit, json, lang).await,
        Command::Flags(command) => flags(&config, command, lang).await,
        Command::Kb(command) => super::kb::run(&config, command, lang).await,
        Command::User(command) => super::users::run(&config, command, lang).await,
        Command::Token(command) => super::tokens::run(&config, command, lang).await,
        Command::Secrets(command) => super::secrets::run(&config, command, lang).await,
        Command::Persona(command) => super::kb::persona(&config, command, lang).await,
        Command::Chat { tenant } => super::chat::run(&config, &tenant, lang).await,
        Command::Eval { detector, file } => super::eval::run(detector, &file, lang),
        Command::Loadtest(args) => super::loadtest::run(args, lang).await,
        Command::NotifyDeploy { version, environment, notes } => {
            super::notify_deploy::run(&config, &version, environment.as_deref(), notes.as_deref(), lang).await
        }
    }
}

async fn serve(config: Config, role: crate::app::Role, lang: Lang) -> anyhow::Result<()> {
    let _guard = telemetry::init_logs(&config.log)?;
    let app = App::build(config, role).await?;
    if role != crate::app::Role::Worker && app.store().list_users().await.is_ok_and(|users| users.is_empty()) {
        eprintln!(
            "{}",
            lang.pick(
                "nenhum usuário ainda: crie o primeiro admin com `atende user add EMAIL --role admin`",
                "no users yet: create the first admin with `atende user add EMAIL --role admin`"
            )
        );
    }
    app.run_until_stopped(shutdown_on_signal()).await
}

/// Opens the store and applies migrations (CLI commands always run on a current schema).
pub(super) async fn open(config: &Config, lang: Lang) -> anyhow::Result<Arc<dyn Store>> {
    let url = &config.database.url;
    let store = crate::store::connect(url).await.with_context(|| {
        format!(
            "{} {} ({})",
            lang.pick("não foi possível abrir o banco", "cannot open the database"),
            redact_url(url),
            lang.pick("confira ATENDE_DATABASE_URL", "check ATENDE_DATABASE_URL")
        )
    })?;
    store.migrate().await.context(lang.pick("falha ao aplicar migrações", "cannot apply migrations"))?;
    crate::app::guard_profile(config, &*store).await?;
    if let crate::app::MasterKeyOrigin::Generated(path) = crate::app::unlock_secrets(config, &*store).await? {
        eprintln!(
            "{} {}",
            lang.pick(
                "nenhuma chave mestra informada: uma nova chave cifra os segredos dos clientes, gravada em",
                "no master key was given: a new key encrypts tenant secrets, written to"
            ),
            path.display()
        );
    }
    Ok(store)
}

async fn tenant(config: &Config, command: TenantCommand, lang: Lang) -> anyhow::Result<()> {
    let store = open(config, lang).await?;
    match command {
        TenantCommand::Apply { file } => {
            let tenant = TenantFile::read(&file)?;
            crate::brain::validate_template(&tenant.persona).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let (id, outcome) = store.upsert_tenant(&tenant, OffsetDateTime::now_utc()).await?;
            if outcome != UpsertOutcome::Unchanged {
                let done = if outcome == UpsertOutcome::Created { "created" } else { "updated" };
                let after = json!({ "outcome": done, "file": file.display().to_string() });
                audit(&*store, "tenant.apply", &tenant.slug, None, Some(after)).await?;
            }
            let what = match outcome {
                UpsertOutcome::Created => lang.pick("criado", "created"),
                UpsertOutcome::Updated => lang.pick("atualizado", "updated"),
                UpsertOutcome::Unchanged => lang.pick("sem mudanças", "unchanged"),
            };
            println!("{} {} {what} (id {id})", lang.pick("cliente", "tenant"), tenant.slug);
        }
        TenantCommand::Show { slug } => {
            let tenant = store.find_tenant(&slug).await?.with_context(|| not_found_tenant(&slug, lang))?;
            print!("{}", toml::to_string(&tenant.settings.masked())?);
            let secrets = &tenant.secrets;
            if !secrets.is_empty() {
                // Comments, so the output stays a valid tenant file.
                println!(
                    "\n# {}: webhook {}, inbound_token {}, {}: {}",
                    lang.pick(
                        "segredos da linha de comando (atende secrets list)",
                        "command-line secrets (atende secrets list)"
                    ),
                    secrets.webhook.len(),
                    secrets.inbound_token.len(),
                    lang.pick("gravados", "set"),
                    secrets.set.keys().cloned().collect::<Vec<_>>().join(", ")
                );
            }
        }
        TenantCommand::List => {
            for tenant in store.list_tenants().await? {
                println!("{}\t{}", tenant.slug, tenant.name);
            }
        }
    }
    Ok(())
}

async fn dlq(config: &Config, command: DlqCommand, lang: Lang) -> anyhow::Result<()> {
    let store = open(config, lang).await?;
    let now = OffsetDateTime::now_utc();
    match command {
        DlqCommand::List(filter) => {
            let jobs = queue::list(&*store, &dead_letter_filter(&filter)?).await?;
            if filter.json {
                println!("{}", serde_json::to_string_pretty(&jobs)?);
            } else {
                print_jobs(&jobs, lang);
            }
        }
        DlqCommand::Show { id } => {
            let job = queue::show(&*store, JobId(id)).await?;
            println!("{}", serde_json::to_string_pretty(&job)?);
        }
        DlqCommand::Replay { ids, all, filter } => {
            let ids = if all {
                queue::list(&*store, &dead_letter_filter(&filter)?).await?.into_iter().map(|j| j.id).collect()
            } else {
                ids.into_iter().map(JobId).collect::<Vec<_>>()
            };
            for id in &ids {
                queue::replay(&*store, *id, now).await?;
                let (before, after) = (json!({ "state": "dead" }), json!({ "state": "queued" }));
                audit(&*store, "dead_letter.replay", &format!("job:{id}"), Some(before), Some(after)).await?;
                println!("{} {id} {}", lang.pick("job", "job"), lang.pick("recolocado na fila", "queued again"));
            }
            if ids.is_empty() {
                println!("{}", lang.pick("nenhuma mensagem morta encontrada", "no dead letters found"));
            }
        }
        DlqCommand::Discard { ids } => {
            for id in ids.into_iter().map(JobId) {
                queue::discard(&*store, id, now).await?;
                let (before, after) = (json!({ "state": "dead" }), json!({ "state": "discarded" }));
                audit(&*store, "dead_letter.discard", &format!("job:{id}"), Some(before), Some(after)).await?;
                println!("{} {id} {}", lang.pick("job", "job"), lang.pick("descartado", "discarded"));
            }
        }
    }
    Ok(())
}

async fn conversation(config: &Config, command: ConversationCommand, lang: Lang) -> anyhow::Result<()> {
    let store = open(config, lang).await?;
    let (slug, contact, state) = match command {
        ConversationCommand::Resume { tenant, contact } => (tenant, contact, ConversationState::Bot),
        ConversationCommand::Pause { tenant, contact } => (tenant, contact, ConversationState::Human),
        ConversationCommand::Close { tenant, contact } => (tenant, contact, ConversationState::Closed),
    };
    let tenant = store.find_tenant(&slug).await?.with_context(|| not_found_tenant(&slug, lang))?;
    let contact = ContactNumber::parse(&contact)?;
    let missing = || {
        anyhow::anyhow!(
            "{} {contact} {} {slug}",
            lang.pick("nenhuma conversa com", "no conversation with"),
            lang.pick("no cliente", "in tenant")
        )
    };
    let before = store.find_conversation(tenant.id, contact.as_str()).await?.ok_or_else(missing)?;
    let target = format!("{slug}/{contact}");
    let was = json!({ "state": before.state.as_str() });
    let done = if state == ConversationState::Closed {
        // Like a ticket closed in the helpdesk: the hand-off ends and CSAT is asked when on.
        let correlation_id = CorrelationId::new();
        let max_attempts = config.queue.deliver_max_attempts;
        match csat::close_ticket(&*store, &tenant, contact.as_str(), max_attempts, &correlation_id).await? {
            CloseOutcome::NotFound => return Err(missing()),
            CloseOutcome::Closed { survey } => {
                let asked = matches!(survey, SurveyDecision::Asked { .. });
                let after = json!({ "state": "closed", "csat": if asked { "asked" } else { "not_asked" } });
                audit(&*store, "conversation.close", &target, Some(was), Some(after)).await?;
                if asked {
                    lang.pick(
                        "atendimento encerrado; pesquisa de satisfação na fila",
                        "conversation closed; satisfaction survey queued",
                    )
                } else {
                    lang.pick("atendimento encerrado", "conversation closed")
                }
            }
            _ => lang.pick("já estava encerrado", "it was closed already"),
        }
    } else {
        if !store.mark_conversation_state(tenant.id, contact.as_str(), state).await? {
            return Err(missing());
        }
        audit(&*store, "conversation.ai", &target, Some(was), Some(json!({ "state": state.as_str() }))).await?;
        match state {
            ConversationState::Bot => lang.pick("o bot voltou a responder", "the bot answers again"),
            _ => lang.pick("o bot está pausado", "the bot is paused"),
        }
    };
    println!("{slug}/{contact}: {done}");
    Ok(())
}

fn dead_letter_filter(filter: &DlqFilter) -> anyhow::Result<DeadLetterFilter> {
    let kind = match filter.kind.as_deref() {
        None => None,
        Some(kind) => Some(JobKind::parse(kind).with_context(|| {
            let known: Vec<&str> = JobKind::ALL.iter().map(|k| k.as_str()).collect();
            format!("--kind {kind:?}: use one of {}", known.join(", "))
        })?),
    };
    Ok(DeadLetterFilter { tenant: filter.tenant.clone(), kind, limit: Some(filter.limit) })
}

async fn handoffs(config: &Config, slug: &str, limit: u32, json: bool, lang: Lang) -> anyhow::Result<()> {
    let store = open(config, lang).await?;
    let tenant = store.find_tenant(slug).await?.with_context(|| not_found_tenant(slug, lang))?;
    let records = store.list_handoffs(tenant.id, limit).await?;
    let time = |at: Option<time::OffsetDateTime>| {
        at.and_then(|at| at.format(&time::format_description::well_known::Rfc3339).ok())
    };
    if json {
        let rows: Vec<serde_json::Value> = records
            .iter()
            .map(|h| {
                serde_json::json!({
                    "id": h.id, "contact": h.conversation.contact, "reason": h.reason, "summary": h.summary,
                    "ticket_id": h.ticket_id, "transfer": h.transfer, "created_at": time(Some(h.created_at)),
                    "sla_due_at": time(h.sla_due_at), "first_human_at": time(h.first_human_at),
                    "breached_at": time(h.breached_at), "closed_at": time(h.closed_at),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    if records.is_empty() {
        println!("{}", lang.pick("nenhuma transferência", "no hand-offs"));
        return Ok(());
    }
    println!(
        "{}",
        lang.pick(
            "ID\tCONTATO\tMOTIVO\tTICKET\tCRIADA\tSLA\tRESUMO",
            "ID\tCONTACT\tREASON\tTICKET\tCREATED\tSLA\tSUMMARY"
        )
    );
    for h in &records {
        let sla = match (h.sla_due_at, h.first_human_at, h.breached_at) {
            (None, _, _) => "-",
            (_, _, Some(_)) => lang.pick("estourado", "breached"),
            (_, Some(_), None) => lang.pick("cumprido", "met"),
            (Some(_), None, None) => lang.pick("aguardando", "waiting"),
        };
        let summary: String = h.summary.as_deref().unwrap_or("-").replace('\n', " · ").chars().take(120).collect();
        println!(
            "{}\t{}\t{}\t{}\t{}\t{sla}\t{summary}",
            h.id,
            h.conversation.contact,
            h.reason,
            h.ticket_id.as_deref().unwrap_or("-"),
            time(Some(h.created_at)).unwrap_or_default()
        );
    }
    Ok(())
}

/// The `notify` jobs of a tenant: which event went where, and how it fared.
async fn surveys(config: &Config, slug: &str, limit: u32, json: bool, lang: Lang) -> anyhow::Result<()> {
    let store = open(config, lang).await?;
    let tenant = store.find_tenant(slug).await?.with_context(|| not_found_tenant(slug, lang))?;
    let surveys = store.list_surveys(tenant.id, limit).await?;
    let since = OffsetDateTime::now_utc() - time::Duration::days(30);
    let mean = store.mean_csat(since).await?.into_iter().find(|(s, _, _)| *s == tenant.slug);
    if json {
        let summary = serde_json::json!({
            "tenant": tenant.slug,
            "mean_30d": mean.as_ref().map(|(_, mean, _)| *mean),
            "ratings_30d": mean.as_ref().map_or(0, |(_, _, count)| *count),
            "surveys": surveys,
        });
        println!("{}", serde_json::to_string_pretty(&summary)?);
        return Ok(());
    }
    match &mean {
        Some((_, mean, count)) => {
            println!(
                "{} {mean:.2} ({count} {})",
                lang.pick("média (30 dias):", "mean (30 days):"),
                lang.pick("notas", "ratings")
            )
        }
        None => println!("{}", lang.pick("nenhuma nota nos últimos 30 dias", "no ratings in the last 30 days")),
    }
    if surveys.is_empty() {
        return Ok(());
    }
    let time = |at: OffsetDateTime| at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    println!(
        "{}",
        lang.pick("ID\tCONTATO\tMOTIVO\tPERGUNTADA\tNOTA\tRESPOSTA", "ID\tCONTACT\tREASON\tASKED\tRATING\tANSWER")
    );
    for s in &surveys {
        let rating = match (s.rating, s.dismissed_at) {
            (Some(rating), _) => rating.to_string(),
            (None, Some(_)) => lang.pick("sem nota", "not rated").to_string(),
            (None, None) => lang.pick("aguardando", "waiting").to_string(),
        };
        let answer: String = s.answer.as_deref().unwrap_or("-").replace('\n', " ").chars().take(80).collect();
        println!("{}\t{}\t{}\t{}\t{rating}\t{answer}", s.id, s.contact, s.reason, time(s.asked_at));
    }
    Ok(())
}

/// Why `raw` is not a value of `flag`, in the operator's language.
fn flag_value_error(flag: Flag, raw: &str, lang: Lang) -> anyhow::Error {
    let name = flag.name();
    match flag.kind() {
        FlagKind::Switch => anyhow::anyhow!(
            "{name}: {raw:?} {}",
            lang.pick("não é on nem off (use on ou off)", "is not on or off (use on or off)")
        ),
        FlagKind::Choice(choices) => {
            anyhow::anyhow!("{name}: {raw:?} {} {}", lang.pick("não é um de:", "is not one of:"), choices.join(", "))
        }
        FlagKind::Text => anyhow::anyhow!(
            "{name}: {raw:?} {}",
            lang.pick(
                "não é um nome de modelo (letras, dígitos e -._:/@, até 100)",
                "is not a model name (letters, digits and -._:/@, up to 100)"
            )
        ),
    }
}

async fn flags(config: &Config, command: FlagsCommand, lang: Lang) -> anyhow::Result<()> {
    let store = open(config, lang).await?;
    let (slug, change) = match &command {
        FlagsCommand::List { tenant, .. } => (tenant, None),
        FlagsCommand::Set { tenant, name, value } => (tenant, Some((name, Some(value)))),
        FlagsCommand::Unset { tenant, name } => (tenant, Some((name, None))),
    };
    let tenant = store.find_tenant(slug).await?.with_context(|| not_found_tenant(slug, lang))?;
    if let Some((name, value)) = change {
        let flag = Flag::parse(name).with_context(|| {
            let known: Vec<&str> = Flag::ALL.iter().map(|f| f.name()).collect();
            format!(
                "{} {name:?}; {} {}",
                lang.pick("chave desconhecida", "unknown flag"),
                lang.pick("use uma de:", "use one of:"),
                known.join(", ")
            )
        })?;
        let value = value.map(|raw| flag.value(raw).map_err(|_| flag_value_error(flag, raw, lang))).transpose()?;
        let now = OffsetDateTime::now_utc();
        if !store.set_flag(tenant.id, flag, value.clone(), now).await? {
            anyhow::bail!(not_found_tenant(slug, lang));
        }
        let (before, after) =
            (tenant.flags.get(flag).map(ToString::to_string), value.as_ref().map(ToString::to_string));
        let target = format!("{}/{}", tenant.slug, flag.name());
        audit(&*store, "flag.set", &target, Some(json!({ "value": before })), Some(json!({ "value": after }))).await?;
        tracing::info!(tenant = %tenant.slug, flag = flag.name(), value = ?value, "feature flag changed");
        let shown = value.map_or_else(|| lang.pick("padrão", "default").to_string(), |v| v.to_string());
        println!("{} {} = {shown}", tenant.slug, flag.name());
        if flag == Flag::LlmProvider && shown == "fallback" && tenant.settings.llm.fallback.is_none() {
            eprintln!(
                "{}",
                lang.pick(
                    "aviso: este cliente não tem [llm.fallback]; o bot responde só com a base de conhecimento",
                    "warning: this tenant has no [llm.fallback]; the bot answers from the knowledge base only"
                )
            );
        }
        return Ok(());
    }
    let json = matches!(command, FlagsCommand::List { json: true, .. });
    let rows: Vec<(&str, String, bool)> = Flag::ALL
        .iter()
        .map(|flag| match tenant.flags.get(*flag) {
            Some(value) => (flag.name(), value.to_string(), false),
            None if flag.kind() == FlagKind::Switch => (flag.name(), "on".to_string(), true),
            None => (flag.name(), "-".to_string(), true),
        })
        .collect();
    if json {
        let out: Vec<serde_json::Value> = rows
            .iter()
            .map(|(name, value, default)| serde_json::json!({ "flag": name, "value": value, "default": default }))
            .collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!("{}", lang.pick("CHAVE\tVALOR\tORIGEM", "FLAG\tVALUE\tSOURCE"));
    for (name, value, default) in rows {
        let source = if default { lang.pick("padrão", "default") } else { lang.pick("definida", "set") };
        println!("{name}\t{value}\t{source}");
    }
    Ok(())
}

async fn event_log(config: &Config, slug: &str, limit: u32, json: bool, lang: Lang) -> anyhow::Result<()> {
    let store = open(config, lang).await?;
    let tenant = store.find_tenant(slug).await?.with_context(|| not_found_tenant(slug, lang))?;
    let jobs = store.list_jobs(tenant.id, JobKind::Notify, limit).await?;
    let field = |job: &JobRecord, name: &str| job.payload.get(name).and_then(|v| v.as_str()).unwrap_or("").to_string();
    let time = |at: OffsetDateTime| at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    if json {
        let rows: Vec<serde_json::Value> = jobs
            .iter()
            .map(|j| {
                serde_json::json!({
                    "job_id": j.id, "event": field(j, "event"), "delivery_id": field(j, "delivery_id"),
                    "url": receiver(&field(j, "url")), "state": j.state.as_str(), "attempts": j.attempts,
                    "max_attempts": j.max_attempts, "last_error": j.last_error, "created_at": time(j.created_at),
                    "updated_at": time(j.updated_at), "correlation_id": j.correlation_id,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    if jobs.is_empty() {
        println!("{}", lang.pick("nenhum evento enviado", "no events sent"));
        return Ok(());
    }
    println!(
        "{}",
        lang.pick(
            "JOB\tEVENTO\tESTADO\tTENTATIVAS\tDESTINO\tATUALIZADO\tÚLTIMO ERRO",
            "JOB\tEVENT\tSTATE\tATTEMPTS\tRECEIVER\tUPDATED\tLAST ERROR"
        )
    );
    for j in &jobs {
        let error: String = j.last_error.as_deref().unwrap_or("-").chars().take(120).collect();
        println!(
            "{}\t{}\t{}\t{}/{}\t{}\t{}\t{error}",
            j.id,
            field(j, "event"),
            j.state.as_str(),
            j.attempts,
            j.max_attempts,
            receiver(&field(j, "url")),
            time(j.updated_at)
        );
    }
    Ok(())
}

/// A receiver URL without user info or query string, which may carry tokens.
fn receiver(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) => {
            parsed.set_query(None);
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        Err(_) => "(invalid URL)".into(),
    }
}

fn print_jobs(jobs: &[JobRecord], lang: Lang) {
    if jobs.is_empty() {
        println!("{}", lang.pick("nenhuma mensagem morta", "no dead letters"));
        return;
    }
    println!(
        "{}",
        lang.pick(
            "ID\tCLIENTE\tTIPO\tTENTATIVAS\tATUALIZADO\tÚLTIMO ERRO",
            "ID\tTENANT\tKIND\tATTEMPTS\tUPDATED\tLAST ERROR"
        )
    );
    for job in jobs {
        let error: String = job.last_error.as_deref().unwrap_or("-").chars().take(100).collect();
        let updated = job.updated_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
        println!("{}\t{}\t{}\t{}\t{updated}\t{error}", job.id, job.tenant, job.kind.as_str(), job.attempts);
    }
}

pub(super) fn not_found_tenant(slug: &str, lang: Lang) -> String {
    format!(
        "{} {slug:?} {}",
        lang.pick("cliente", "tenant"),
        lang.pick("não encontrado (veja `atende tenant list`)", "not found (see `atende tenant list`)")
    )
}

fn applied_summary(status: &MigrationStatus) -> String {
    match status.applied.last() {
        Some((version, name)) => format!("{version}_{name}"),
        None => "-".into(),
    }
}

/// One line per migration: version, name, state.
pub(super) fn print_migrations(status: &MigrationStatus, lang: Lang) {
    for (version, name) in &status.applied {
        println!("{version}\t{name}\t{}", lang.pick("aplicada", "applied"));
    }
    for (version, name) in &status.pending {
        println!("{version}\t{name}\t{}", lang.pick("pendente", "pending"));
    }
    for version in &status.unknown {
        println!(
            "{version}\t?\t{}",
            lang.pick("desconhecida (banco mais novo que este binário)", "unknown (database newer than this binary)")
        );
    }
}
