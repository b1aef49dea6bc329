//! The panel's pages and the forms that act on conversations and dead letters.

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, RawForm, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::Value;
use time::OffsetDateTime;

use super::{PREFIX, Problem, Reply, Viewer, bad_request, error_page, render, role_label, show_time};
use crate::domain::{ContactNumber, ConversationState, Direction, JobId, JobState, Language};
use crate::http::AppState;
use crate::http::actions::{self, ActionError};
use crate::queue;
use crate::store::{AuditFilter, ConversationFilter, DeadLetterFilter, Tenant};
use crate::telemetry::metrics as m;

/// What every page's frame shows: who, their role, the language, the CSRF token for forms.
pub(super) struct Frame {
    pub(super) lang: Language,
    pub(super) email: String,
    pub(super) role: &'static str,
    pub(super) csrf: String,
    pub(super) can_operate: bool,
    pub(super) is_admin: bool,
    /// The nav entry to highlight.
    pub(super) active: &'static str,
    /// A notice after an action (`?ok=` / `?error=` codes, never free text).
    pub(super) notice: Option<(bool, &'static str)>,
}

impl Frame {
    pub(super) fn new(viewer: &Viewer, active: &'static str, notice: &NoticeQuery) -> Self {
        Self {
            lang: viewer.lang,
            email: viewer.user.email.as_str().to_string(),
            role: role_label(viewer.lang, viewer.user.role),
            csrf: viewer.csrf.clone(),
            can_operate: viewer.can_operate(),
            is_admin: viewer.user.role.allows(crate::domain::UserRole::Admin),
            active,
            notice: notice.text(viewer.lang),
        }
    }

    /// Text in the page language (for the templates).
    pub(super) fn t<'a>(&self, pt_br: &'a str, en: &'a str) -> &'a str {
        self.lang.pick(pt_br, en)
    }
}

/// `?ok=CODE` or `?error=CODE` after a form, turned into a fixed sentence.
#[derive(Debug, Default, Deserialize)]
pub(super) struct NoticeQuery {
    ok: Option<String>,
    error: Option<String>,
}

impl NoticeQuery {
    /// The notice of a success code.
    pub(super) fn ok(code: Option<String>) -> Self {
        Self { ok: code, error: None }
    }

    fn text(&self, lang: Language) -> Option<(bool, &'static str)> {
        if let Some(code) = self.ok.as_deref() {
            let text = match code {
                "ai_on" => {
                    lang.pick("O bot voltou a responder esta conversa.", "The bot answers this conversation again.")
                }
                "ai_off" => lang.pick(
                    "Bot pausado: uma pessoa responde esta conversa.",
                    "Bot paused: a person answers this conversation.",
                ),
                "handoff" => lang.pick("Transferida para a equipe.", "Handed off to the team."),
                "sent" => lang.pick("Mensagem na fila de envio.", "Message queued for delivery."),
                "closed" => lang.pick("Atendimento encerrado.", "Conversation closed."),
                "replayed" => lang.pick("Recolocado na fila.", "Queued again."),
                "discarded" => lang.pick("Descartado.", "Discarded."),
                "bulk_replayed" => lang.pick("Selecionados recolocados na fila.", "Selected jobs queued again."),
                "bulk_discarded" => lang.pick("Selecionados descartados.", "Selected jobs discarded."),
                "user_saved" => lang.pick("Usuário salvo.", "User saved."),
                "kb_saved" => lang.pick("Entrada salva: o bot já a usa.", "Entry saved: the bot uses it now."),
                "flag_set" => lang.pick(
                    "Recurso alterado: vale a partir da próxima mensagem.",
                    "Flag changed: it applies from the next message.",
                ),
                "saved" => lang.pick(
                    "Persona salva: vale a partir da próxima resposta.",
                    "Persona saved: it applies from the next answer.",
                ),
                _ => return None,
            };
            return Some((true, text));
        }
        let text = match self.error.as_deref()? {
            "conflict" => lang.pick(
                "Nada mudou: o estado atual não permite essa ação.",
                "Nothing changed: the current state does not allow that.",
            ),
            "invalid" => {
                lang.pick("Confira o que foi digitado e tente de novo.", "Check what you typed and try again.")
            }
            _ => return None,
        };
        Some((false, text))
    }
}

pub(super) async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", include_str!("../../../assets/panel.css"))
}

pub(super) async fn script() -> Response {
    asset("text/javascript; charset=utf-8", include_str!("../../../assets/panel.js"))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=3600")], body).into_response()
}

/// A store failure as a page.
fn unavailable(lang: Language, err: impl std::fmt::Display) -> Response {
    tracing::warn!(error = %err, "panel: store unavailable");
    error_page(lang, StatusCode::SERVICE_UNAVAILABLE, Problem::Unavailable)
}

// ---------------------------------------------------------------- dashboard

struct TenantFigures {
    slug: String,
    name: String,
    received: i64,
    sent: i64,
    mood: String,
    csat: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    frame: Frame,
    queued: i64,
    running: i64,
    dead: i64,
    received: i64,
    sent: i64,
    replies_per_minute: String,
    llm_latency: String,
    tenants: Vec<TenantFigures>,
    updated: String,
}

/// Mean LLM request time of this process, from its own `/metrics` histogram (`–` before the
/// first call). Parsed from the exporter's text rather than kept twice.
fn llm_latency(metrics: &str) -> String {
    let total = |suffix: &str| -> f64 {
        let name = format!("{}{suffix}", m::LLM_REQUEST_DURATION_SECONDS);
        metrics
            .lines()
            .filter(|line| line.starts_with(&name) && line[name.len()..].starts_with(['{', ' ']))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    let (sum, count) = (total("_sum"), total("_count"));
    if count > 0.0 { format!("{:.0} ms", 1000.0 * sum / count) } else { "–".into() }
}

pub(super) async fn dashboard(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(notice): Query<NoticeQuery>,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let figures = async {
        let counts = state.store.count_jobs().await?;
        let tenants = state.store.list_tenants().await?;
        let moods = state.store.mean_mood(now - time::Duration::DAY).await?;
        let csats = state.store.mean_csat(now - time::Duration::days(30)).await?;
        let day = state.store.message_counts(now - time::Duration::DAY).await?;
        let hour = state.store.message_counts(now - time::Duration::HOUR).await?;
        Ok::<_, crate::store::StoreError>((counts, tenants, moods, csats, day, hour))
    };
    let (counts, tenants, moods, csats, day, hour) = match figures.await {
        Ok(figures) => figures,
        Err(err) => return unavailable(viewer.lang, err),
    };
    let total = |wanted: JobState| counts.iter().filter(|c| c.state == wanted).map(|c| c.count).sum::<i64>();
    let tenants = tenants
        .into_iter()
        .map(|t| {
            let mood = moods.iter().find(|(slug, _)| *slug == t.slug).map(|(_, m)| format!("{m:+.2}"));
            let csat = csats.iter().find(|(slug, ..)| *slug == t.slug).map(|(_, mean, n)| format!("{mean:.1} ({n})"));
            let (received, sent) =
                day.iter().find(|(slug, ..)| *slug == t.slug).map(|(_, r, s)| (*r, *s)).unwrap_or_default();
            TenantFigures {
                slug: t.slug,
                name: t.name,
                received,
                sent,
                mood: mood.unwrap_or_else(|| "–".into()),
                csat: csat.unwrap_or_else(|| "–".into()),
            }
        })
        .collect();
    let page = DashboardPage {
        frame: Frame::new(&viewer, "dashboard", &notice),
        queued: total(JobState::Queued),
        running: total(JobState::Running),
        dead: total(JobState::Dead),
        received: day.iter().map(|(_, r, _)| r).sum(),
        sent: day.iter().map(|(_, _, s)| s).sum(),
        replies_per_minute: format!("{:.1}", hour.iter().map(|(_, _, s)| *s as f64).sum::<f64>() / 60.0),
        llm_latency: llm_latency(&state.metrics.render()),
        tenants,
        updated: show_time(now),
    };
    render(StatusCode::OK, &page)
}

// ---------------------------------------------------------------- tenants

struct TenantRow {
    slug: String,
    name: String,
    version: i64,
    channels: String,
    flags: String,
}

#[derive(Template)]
#[template(path = "tenants.html")]
struct TenantsPage {
    frame: Frame,
    rows: Vec<TenantRow>,
}

pub(super) async fn tenants(State(state): State<AppState>, viewer: Viewer) -> Response {
    let tenants = match state.store.list_tenants().await {
        Ok(tenants) => tenants,
        Err(err) => return unavailable(viewer.lang, err),
    };
    let rows = tenants
        .into_iter()
        .map(|t| {
            let mut channels = vec!["generic"];
            if t.settings.whaticket.is_some() {
                channels.insert(0, "whaticket");
            }
            let set: Vec<String> = crate::domain::Flag::ALL
                .iter()
                .filter_map(|flag| t.flags.get(*flag).map(|value| format!("{} {value}", flag.name())))
                .collect();
            TenantRow {
                slug: t.slug,
                name: t.name,
                version: t.persona_version,
                channels: channels.join(", "),
                flags: if set.is_empty() { "–".into() } else { set.join(", ") },
            }
        })
        .collect();
    render(StatusCode::OK, &TenantsPage { frame: Frame::new(&viewer, "persona", &NoticeQuery::default()), rows })
}

// ---------------------------------------------------------------- conversations

/// The tenant of a `{tenant}` segment, or the page that says why not.
pub(super) async fn find_tenant(state: &AppState, lang: Language, slug: &str) -> Result<Tenant, Response> {
    match state.store.find_tenant(slug).await {
        Ok(Some(tenant)) => Ok(tenant),
        Ok(None) => Err(error_page(lang, StatusCode::NOT_FOUND, Problem::NotFound)),
        Err(err) => Err(unavailable(lang, err)),
    }
}

/// A tenant chosen with `?tenant=`, else the first one.
async fn chosen_tenant(
    state: &AppState,
    lang: Language,
    wanted: Option<&str>,
) -> Result<(Vec<Tenant>, Option<Tenant>), Response> {
    let tenants = state.store.list_tenants().await.map_err(|err| unavailable(lang, err))?;
    let chosen = match wanted.filter(|w| !w.is_empty()) {
        Some(slug) => tenants.iter().find(|t| t.slug == slug).cloned(),
        None => tenants.first().cloned(),
    };
    Ok((tenants, chosen))
}

struct ConversationRow {
    contact: String,
    name: String,
    state: &'static str,
    state_label: &'static str,
    updated: String,
}

fn state_label(lang: Language, state: ConversationState) -> &'static str {
    match state {
        ConversationState::Bot => lang.pick("bot", "bot"),
        ConversationState::Human => lang.pick("com a equipe", "with the team"),
        ConversationState::Closed => lang.pick("encerrada", "closed"),
    }
}

#[derive(Template)]
#[template(path = "conversations.html")]
struct ConversationsPage {
    frame: Frame,
    tenants: Vec<(String, String)>,
    tenant: String,
    state: String,
    rows: Vec<ConversationRow>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct ConversationsQuery {
    tenant: Option<String>,
    state: Option<String>,
}

pub(super) async fn conversations(
    State(state): State<AppState>,
    viewer: Viewer,
    query: Result<Query<ConversationsQuery>, axum::extract::rejection::QueryRejection>,
) -> Reply {
    let lang = viewer.lang;
    let Query(query) = query.map_err(|_| bad_request(lang))?;
    let wanted = match query.state.as_deref().unwrap_or("") {
        "" => None,
        "bot" => Some(ConversationState::Bot),
        "human" => Some(ConversationState::Human),
        "closed" => Some(ConversationState::Closed),
        _ => return Err(bad_request(lang)),
    };
    let (tenants, chosen) = chosen_tenant(&state, lang, query.tenant.as_deref()).await?;
    let rows = match &chosen {
        Some(tenant) => {
            let filter = ConversationFilter { state: wanted, limit: 200 };
            match state.store.list_conversations(tenant.id, filter).await {
                Ok(rows) => rows,
                Err(err) => return Err(unavailable(lang, err)),
            }
        }
        None if query.tenant.is_some() => return Err(error_page(lang, StatusCode::NOT_FOUND, Problem::NotFound)),
        None => Vec::new(),
    };
    let rows = rows
        .into_iter()
        .map(|l| ConversationRow {
            contact: l.conversation.contact,
            name: l.conversation.contact_name.unwrap_or_default(),
            state: l.conversation.state.as_str(),
            state_label: state_label(lang, l.conversation.state),
            updated: show_time(l.updated_at),
        })
        .collect();
    let page = ConversationsPage {
        frame: Frame::new(&viewer, "conversations", &NoticeQuery::default()),
        tenants: tenants.into_iter().map(|t| (t.slug, t.name)).collect(),
        tenant: chosen.map(|t| t.slug).unwrap_or_default(),
        state: wanted.map(|s| s.as_str().to_string()).unwrap_or_default(),
        rows,
    };
    Ok(render(StatusCode::OK, &page))
}

struct MessageRow {
    inbound: bool,
    who: &'static str,
    body: String,
    at: String,
    status: String,
    mood: Option<String>,
    /// Provider/model, knowledge entries used, decision.
    notes: Vec<String>,
}

#[derive(Template)]
#[template(path = "conversation.html")]
struct ConversationPage {
    frame: Frame,
    tenant: String,
    tenant_name: String,
    contact: String,
    name: String,
    state: &'static str,
    state_label: &'static str,
    ai_on: bool,
    ticket: String,
    summary: String,
    messages: Vec<MessageRow>,
}

/// The transcript's notes on one answer: who made it and from what.
fn message_notes(lang: Language, meta: Option<&Value>) -> Vec<String> {
    let Some(meta) = meta else { return Vec::new() };
    let mut notes = Vec::new();
    if let (Some(provider), Some(model)) = (meta["provider"].as_str(), meta["model"].as_str()) {
        notes.push(format!("{provider} · {model}"));
    }
    if let Some(used) = meta["knowledge"].as_array().filter(|u| !u.is_empty()) {
        let ids: Vec<String> = used.iter().map(|id| format!("#{id}")).collect();
        notes.push(format!("{} {}", lang.pick("conhecimento", "knowledge"), ids.join(", ")));
    }
    if let Some(decision) = meta["decision"].as_str() {
        notes.push(decision.to_string());
    }
    if let Some(by) = meta["by"].as_str() {
        notes.push(format!("{} {by}", lang.pick("por", "by")));
    }
    notes
}

pub(super) async fn conversation(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((slug, raw)): Path<(String, String)>,
    Query(notice): Query<NoticeQuery>,
) -> Reply {
    let lang = viewer.lang;
    let (tenant, contact) = target(&state, lang, &slug, &raw).await?;
    let found = match state.store.find_conversation(tenant.id, contact.as_str()).await {
        Ok(found) => found,
        Err(err) => return Err(unavailable(lang, err)),
    };
    let Some(conversation) = found else { return Err(error_page(lang, StatusCode::NOT_FOUND, Problem::NotFound)) };
    let messages = match state.store.list_messages(conversation.id).await {
        Ok(messages) => messages,
        Err(err) => return Err(unavailable(lang, err)),
    };
    let messages = messages
        .into_iter()
        .map(|m| {
            let inbound = m.direction == Direction::Inbound;
            MessageRow {
                inbound,
                who: if inbound { lang.pick("cliente", "customer") } else { lang.pick("atende", "atende") },
                at: show_time(m.created_at),
                status: m.status.clone(),
                mood: m.sentiment.map(|s| format!("{s:+.2}")),
                notes: message_notes(lang, m.meta.as_ref()),
                body: m.body,
            }
        })
        .collect();
    let page = ConversationPage {
        frame: Frame::new(&viewer, "conversations", &notice),
        tenant: tenant.slug.clone(),
        tenant_name: tenant.name.clone(),
        contact: conversation.contact.clone(),
        name: conversation.contact_name.clone().unwrap_or_default(),
        state: conversation.state.as_str(),
        state_label: state_label(lang, conversation.state),
        ai_on: conversation.state == ConversationState::Bot,
        ticket: conversation.ticket_id.clone().unwrap_or_else(|| "–".into()),
        summary: conversation.summary.clone().unwrap_or_default(),
        messages,
    };
    Ok(render(StatusCode::OK, &page))
}

/// The tenant and customer of a conversation URL.
async fn target(state: &AppState, lang: Language, slug: &str, raw: &str) -> Result<(Tenant, ContactNumber), Response> {
    let contact = ContactNumber::parse(raw).map_err(|_| error_page(lang, StatusCode::NOT_FOUND, Problem::NotFound))?;
    Ok((find_tenant(state, lang, slug).await?, contact))
}

/// Back to `page` with the action's outcome, or the error page when there is nothing to go
/// back to.
pub(super) fn after_action(lang: Language, page: &str, outcome: Result<&'static str, ActionError>) -> Response {
    match outcome {
        Ok(code) => Redirect::to(&format!("{page}?ok={code}")).into_response(),
        Err(ActionError::NotFound) => error_page(lang, StatusCode::NOT_FOUND, Problem::NotFound),
        Err(ActionError::Conflict(_)) => Redirect::to(&format!("{page}?error=conflict")).into_response(),
        Err(ActionError::Invalid(_)) => Redirect::to(&format!("{page}?error=invalid")).into_response(),
        Err(ActionError::Store(err)) => unavailable(lang, err),
    }
}

fn conversation_page(slug: &str, contact: &ContactNumber) -> String {
    format!("{PREFIX}/conversations/{slug}/{}", contact.as_str())
}

#[derive(Debug, Deserialize)]
pub(super) struct AiForm {
    enabled: String,
}

pub(super) async fn set_ai(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((slug, raw)): Path<(String, String)>,
    form: Result<Form<AiForm>, FormRejection>,
) -> Reply {
    let lang = viewer.lang;
    let enabled = match form.as_ref().map(|Form(f)| f.enabled.as_str()) {
        Ok("true") => true,
        Ok("false") => false,
        _ => return Err(bad_request(lang)),
    };
    let (tenant, contact) = target(&state, lang, &slug, &raw).await?;
    let outcome = actions::set_ai(&state, &tenant, &contact, enabled, viewer.actor()).await;
    let code = if enabled { "ai_on" } else { "ai_off" };
    Ok(after_action(lang, &conversation_page(&slug, &contact), outcome.map(|_| code)))
}

#[derive(Debug, Deserialize)]
pub(super) struct HandoffForm {
    #[serde(default)]
    reason: String,
}

pub(super) async fn hand_off(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((slug, raw)): Path<(String, String)>,
    form: Result<Form<HandoffForm>, FormRejection>,
) -> Reply {
    let lang = viewer.lang;
    let Form(form) = form.map_err(|_| bad_request(lang))?;
    let (tenant, contact) = target(&state, lang, &slug, &raw).await?;
    let page = conversation_page(&slug, &contact);
    let outcome = match actions::handoff_reason(Some(&form.reason)) {
        Ok(reason) => actions::hand_off(&state, &tenant, &contact, &reason, viewer.actor()).await.map(|_| "handoff"),
        Err(err) => Err(err),
    };
    Ok(after_action(lang, &page, outcome))
}

#[derive(Debug, Deserialize)]
pub(super) struct SendForm {
    #[serde(default)]
    text: String,
}

pub(super) async fn send(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((slug, raw)): Path<(String, String)>,
    form: Result<Form<SendForm>, FormRejection>,
) -> Reply {
    let lang = viewer.lang;
    let Form(form) = form.map_err(|_| bad_request(lang))?;
    let (tenant, contact) = target(&state, lang, &slug, &raw).await?;
    let outcome = actions::send(&state, &tenant, &contact, &form.text, viewer.actor()).await.map(|_| "sent");
    Ok(after_action(lang, &conversation_page(&slug, &contact), outcome))
}

pub(super) async fn close(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((slug, raw)): Path<(String, String)>,
) -> Reply {
    let lang = viewer.lang;
    let (tenant, contact) = target(&state, lang, &slug, &raw).await?;
    let outcome = actions::close(&state, &tenant, &contact, viewer.actor()).await;
    let outcome = outcome.and_then(|closed| {
        if closed.changed { Ok("closed") } else { Err(ActionError::Conflict("closed already".into())) }
    });
    Ok(after_action(lang, &conversation_page(&slug, &contact), outcome))
}

// ---------------------------------------------------------------- hand-offs

struct HandoffRow {
    contact: String,
    reason: String,
    created: String,
    sla: String,
    sla_class: &'static str,
    transfer: String,
    summary: String,
}

#[derive(Template)]
#[template(path = "handoffs.html")]
struct HandoffsPage {
    frame: Frame,
    tenants: Vec<(String, String)>,
    tenant: String,
    rows: Vec<HandoffRow>,
}

pub(super) async fn handoffs(
    State(state): State<AppState>,
    viewer: Viewer,
    query: Result<Query<ConversationsQuery>, axum::extract::rejection::QueryRejection>,
) -> Reply {
    let lang = viewer.lang;
    let Query(query) = query.map_err(|_| bad_request(lang))?;
    let (tenants, chosen) = chosen_tenant(&state, lang, query.tenant.as_deref()).await?;
    let records = match &chosen {
        Some(tenant) => match state.store.list_handoffs(tenant.id, 200).await {
            Ok(records) => records,
            Err(err) => return Err(unavailable(lang, err)),
        },
        None if query.tenant.is_some() => return Err(error_page(lang, StatusCode::NOT_FOUND, Problem::NotFound)),
        None => Vec::new(),
    };
    let now = OffsetDateTime::now_utc();
    let rows = records
        .into_iter()
        .map(|h| {
            let (sla, sla_class) = match (h.sla_due_at, h.first_human_at, h.breached_at, h.closed_at) {
                (None, ..) => ("–".to_string(), ""),
                (_, _, Some(_), _) => (lang.pick("estourado", "breached").to_string(), "bad"),
                (_, Some(at), None, _) => {
                    let waited = (at - h.created_at).whole_minutes();
                    (format!("{} ({waited} min)", lang.pick("cumprido", "met")), "good")
                }
                (_, None, None, Some(_)) => (lang.pick("encerrado", "closed").to_string(), ""),
                (Some(due), None, None, None) => {
                    let left = (due - now).whole_minutes().max(0);
                    (format!("{} {left} min", lang.pick("restam", "left:")), "wait")
                }
            };
            HandoffRow {
                contact: h.conversation.contact,
                reason: h.reason,
                created: show_time(h.created_at),
                sla,
                sla_class,
                transfer: h.transfer.unwrap_or_else(|| "–".into()),
                summary: h.summary.unwrap_or_default(),
            }
        })
        .collect();
    let page = HandoffsPage {
        frame: Frame::new(&viewer, "handoffs", &NoticeQuery::default()),
        tenants: tenants.into_iter().map(|t| (t.slug, t.name)).collect(),
        tenant: chosen.map(|t| t.slug).unwrap_or_default(),
        rows,
    };
    Ok(render(StatusCode::OK, &page))
}

// ---------------------------------------------------------------- dead letters

struct JobRow {
    id: i64,
    tenant: String,
    kind: &'static str,
    attempts: u32,
    error: String,
    updated: String,
}

#[derive(Template)]
#[template(path = "dead_letters.html")]
struct DeadLettersPage {
    frame: Frame,
    rows: Vec<JobRow>,
}

pub(super) async fn dead_letters(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(notice): Query<NoticeQuery>,
) -> Response {
    let filter = DeadLetterFilter { limit: Some(200), ..DeadLetterFilter::default() };
    let jobs = match queue::list(&*state.store, &filter).await {
        Ok(jobs) => jobs,
        Err(err) => return unavailable(viewer.lang, err),
    };
    let rows = jobs
        .into_iter()
        .map(|j| JobRow {
            id: j.id.0,
            tenant: j.tenant,
            kind: j.kind.as_str(),
            attempts: j.attempts,
            error: j.last_error.unwrap_or_default().chars().take(200).collect(),
            updated: show_time(j.updated_at),
        })
        .collect();
    render(StatusCode::OK, &DeadLettersPage { frame: Frame::new(&viewer, "dead_letters", &notice), rows })
}

#[derive(Template)]
#[template(path = "dead_letter.html")]
struct DeadLetterPage {
    frame: Frame,
    id: i64,
    tenant: String,
    kind: &'static str,
    state: &'static str,
    dead: bool,
    attempts: u32,
    max_attempts: u32,
    correlation_id: String,
    payload: String,
    history: Vec<(String, String, String, String)>,
}

fn job_id(raw: &str) -> Option<JobId> {
    raw.parse().ok().map(JobId)
}

pub(super) async fn dead_letter(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(raw): Path<String>,
    Query(notice): Query<NoticeQuery>,
) -> Response {
    let lang = viewer.lang;
    let Some(id) = job_id(&raw) else { return error_page(lang, StatusCode::NOT_FOUND, Problem::NotFound) };
    let job = match queue::show(&*state.store, id).await {
        Ok(job) => job,
        Err(queue::DeadLetterError::NotFound(_)) => return error_page(lang, StatusCode::NOT_FOUND, Problem::NotFound),
        Err(err) => return unavailable(lang, err),
    };
    let history = job
        .history
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|e| {
                    let field = |name: &str| match &e[name] {
                        Value::String(s) => s.clone(),
                        Value::Null => String::new(),
                        other => other.to_string(),
                    };
                    (field("attempt"), field("at"), field("class"), field("error"))
                })
                .collect()
        })
        .unwrap_or_default();
    let page = DeadLetterPage {
        frame: Frame::new(&viewer, "dead_letters", &notice),
        id: job.id.0,
        tenant: job.tenant,
        kind: job.kind.as_str(),
        state: job.state.as_str(),
        dead: job.state == JobState::Dead,
        attempts: job.attempts,
        max_attempts: job.max_attempts,
        correlation_id: job.correlation_id,
        payload: serde_json::to_string_pretty(&job.payload).unwrap_or_default(),
        history,
    };
    render(StatusCode::OK, &page)
}

pub(super) async fn replay(State(state): State<AppState>, viewer: Viewer, Path(raw): Path<String>) -> Response {
    let Some(id) = job_id(&raw) else { return error_page(viewer.lang, StatusCode::NOT_FOUND, Problem::NotFound) };
    let outcome = actions::replay(&state, id, viewer.actor()).await.map(|()| "replayed");
    after_action(viewer.lang, &format!("{PREFIX}/dead-letters/{id}"), outcome)
}

/// Most dead letters one bulk action takes.
const BULK_LIMIT: usize = 200;

/// Replays or discards the ticked dead letters (`id` repeated, `action=replay|discard`).
/// Those that are not dead any more are left alone.
pub(super) async fn bulk(State(state): State<AppState>, viewer: Viewer, RawForm(body): RawForm) -> Response {
    let lang = viewer.lang;
    let mut ids = Vec::new();
    let mut action = String::new();
    for (key, value) in form_urlencoded::parse(&body) {
        match key.as_ref() {
            "id" => match job_id(&value) {
                Some(id) => ids.push(id),
                None => return bad_request(lang),
            },
            "action" => action = value.into_owned(),
            _ => {}
        }
    }
    let page = format!("{PREFIX}/dead-letters");
    if ids.is_empty() || ids.len() > BULK_LIMIT {
        return Redirect::to(&format!("{page}?error=invalid")).into_response();
    }
    for id in ids {
        let outcome = match action.as_str() {
            "replay" => actions::replay(&state, id, viewer.actor()).await,
            "discard" => actions::discard(&state, id, viewer.actor()).await,
            _ => return bad_request(lang),
        };
        match outcome {
            Ok(()) | Err(ActionError::NotFound | ActionError::Conflict(_)) => {}
            Err(err) => return after_action(lang, &page, Err(err)),
        }
    }
    let code = if action == "replay" { "bulk_replayed" } else { "bulk_discarded" };
    Redirect::to(&format!("{page}?ok={code}")).into_response()
}

pub(super) async fn discard(State(state): State<AppState>, viewer: Viewer, Path(raw): Path<String>) -> Response {
    let Some(id) = job_id(&raw) else { return error_page(viewer.lang, StatusCode::NOT_FOUND, Problem::NotFound) };
    let outcome = actions::discard(&state, id, viewer.actor()).await.map(|()| "discarded");
    after_action(viewer.lang, &format!("{PREFIX}/dead-letters/{id}"), outcome)
}

// ---------------------------------------------------------------- audit

struct AuditRow {
    id: i64,
    at: String,
    actor: String,
    action: String,
    target: String,
    ip: String,
    success: bool,
    change: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    frame: Frame,
    actor: String,
    action: String,
    rows: Vec<AuditRow>,
    older: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    before_id: Option<i64>,
}

/// Rows per audit page.
const AUDIT_PAGE: u32 = 100;

pub(super) async fn audit(
    State(state): State<AppState>,
    viewer: Viewer,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Reply {
    let lang = viewer.lang;
    let Query(query) = query.map_err(|_| bad_request(lang))?;
    let (actor, action) = (query.actor.unwrap_or_default(), query.action.unwrap_or_default());
    let filter = AuditFilter {
        actor: Some(actor.trim().to_string()).filter(|a| !a.is_empty()),
        action: Some(action.trim().to_string()).filter(|a| !a.is_empty()),
        before_id: query.before_id,
        limit: AUDIT_PAGE,
    };
    let entries = match state.store.list_audit(&filter).await {
        Ok(entries) => entries,
        Err(err) => return Err(unavailable(lang, err)),
    };
    let older = (entries.len() == AUDIT_PAGE as usize).then(|| entries.last().map(|e| e.id)).flatten();
    let change = |before: &Option<Value>, after: &Option<Value>| match (before, after) {
        (Some(b), Some(a)) => format!("{b} → {a}"),
        (None, Some(a)) => a.to_string(),
        (Some(b), None) => format!("{b} →"),
        (None, None) => String::new(),
    };
    let rows = entries
        .iter()
        .map(|e| AuditRow {
            id: e.id,
            at: show_time(e.at),
            actor: e.actor.clone(),
            action: e.action.clone(),
            target: e.target.clone().unwrap_or_default(),
            ip: e.ip.clone().unwrap_or_default(),
            success: e.success,
            change: change(&e.before, &e.after),
        })
        .collect();
    let page = AuditPage { frame: Frame::new(&viewer, "audit", &NoticeQuery::default()), actor, action, rows, older };
    Ok(render(StatusCode::OK, &page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llm_latency_is_the_mean_over_every_label_set() {
        let text = "# TYPE atende_llm_request_duration_seconds summary\n\
            atende_llm_request_duration_seconds_sum{provider=\"gemini\"} 0.9\n\
            atende_llm_request_duration_seconds_count{provider=\"gemini\"} 3\n\
            atende_llm_request_duration_seconds_sum{provider=\"openai\"} 0.3\n\
            atende_llm_request_duration_seconds_count{provider=\"openai\"} 1\n\
            atende_llm_request_duration_seconds_sumx 99\n";
        assert_eq!(llm_latency(text), "300 ms");
        assert_eq!(llm_latency("atende_jobs_total 4\n"), "–");
    }
}
