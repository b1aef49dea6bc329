//! The persona editor with live preview: a customer message answered by the real brain
//! with the saved persona and with the unsaved draft, side by side. Saving makes a new
//! persona version (the same as `atende tenant apply` with the changed `[persona]`).

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;

use super::pages::{Frame, NoticeQuery, find_tenant};
use super::{PREFIX, Problem, Reply, Viewer, bad_request, error_page, render};
use crate::brain::{Decision, Outcome, first_message_context};
use crate::config::persona::PersonaTable;
use crate::domain::Language;
use crate::http::AppState;
use crate::http::actions::audit;
use crate::store::Tenant;

/// Longest preview message (a customer's WhatsApp message).
const MAX_PREVIEW_CHARS: usize = 4096;

/// The editable fields of a persona, as the form sends them.
#[derive(Debug, Default, Deserialize)]
pub(super) struct PersonaForm {
    #[serde(default)]
    tone: String,
    #[serde(default)]
    formality: String,
    /// Checkboxes: present when ticked.
    empathy: Option<String>,
    humor: Option<String>,
    ai_enabled: Option<String>,
    #[serde(default)]
    greetings: String,
    #[serde(default)]
    closing: String,
    #[serde(default)]
    max_ai_messages: String,
    #[serde(default)]
    language: String,
    #[serde(default)]
    fallback_text: String,
    #[serde(default)]
    handoff_text: String,
    #[serde(default)]
    instructions: String,
    /// The customer message to preview (not part of the persona).
    #[serde(default)]
    message: String,
}

fn text(value: &str) -> Option<String> {
    Some(value.trim().to_string()).filter(|v| !v.is_empty())
}

impl PersonaForm {
    /// `saved` with the form's fields: what the draft persona would be.
    fn apply(&self, saved: &PersonaTable) -> Result<PersonaTable, String> {
        let mut draft = saved.clone();
        draft.tone = text(&self.tone);
        draft.formality = text(&self.formality);
        draft.empathy = Some(self.empathy.is_some());
        draft.humor = Some(self.humor.is_some());
        draft.ai_enabled = Some(self.ai_enabled.is_some());
        draft.greetings = self.greetings.lines().filter_map(text).collect();
        draft.closing = text(&self.closing);
        draft.max_ai_messages = match self.max_ai_messages.trim() {
            "" => None,
            n => Some(n.parse().map_err(|_| format!("persona.max_ai_messages: {n:?} is not a whole number"))?),
        };
        draft.language = text(&self.language);
        draft.fallback_text = text(&self.fallback_text);
        draft.handoff_text = text(&self.handoff_text);
        draft.instructions = text(&self.instructions);
        draft.validate()?;
        Ok(draft)
    }
}

/// The form's fields, filled from a persona.
struct Fields {
    tone: String,
    formality: String,
    empathy: bool,
    humor: bool,
    ai_enabled: bool,
    greetings: String,
    closing: String,
    max_ai_messages: String,
    language: String,
    fallback_text: String,
    handoff_text: String,
    instructions: String,
}

impl Fields {
    fn typed(form: &PersonaForm) -> Self {
        Self {
            tone: form.tone.clone(),
            formality: form.formality.clone(),
            empathy: form.empathy.is_some(),
            humor: form.humor.is_some(),
            ai_enabled: form.ai_enabled.is_some(),
            greetings: form.greetings.clone(),
            closing: form.closing.clone(),
            max_ai_messages: form.max_ai_messages.clone(),
            language: form.language.clone(),
            fallback_text: form.fallback_text.clone(),
            handoff_text: form.handoff_text.clone(),
            instructions: form.instructions.clone(),
        }
    }

    fn of(persona: &PersonaTable) -> Self {
        let or_empty = |v: &Option<String>| v.clone().unwrap_or_default();
        Self {
            tone: or_empty(&persona.tone),
            formality: or_empty(&persona.formality),
            empathy: persona.empathy.unwrap_or(true),
            humor: persona.humor.unwrap_or(false),
            ai_enabled: persona.ai_enabled.unwrap_or(true),
            greetings: persona.greetings.join("\n"),
            closing: or_empty(&persona.closing),
            max_ai_messages: persona.max_ai_messages.map(|n| n.to_string()).unwrap_or_default(),
            language: persona.language().as_str().to_string(),
            fallback_text: or_empty(&persona.fallback_text),
            handoff_text: or_empty(&persona.handoff_text),
            instructions: or_empty(&persona.instructions),
        }
    }
}

/// One side of the preview.
struct Answer {
    parts: Vec<String>,
    decision: String,
    notes: Vec<String>,
}

#[derive(Template)]
#[template(path = "persona.html")]
struct PersonaPage {
    frame: Frame,
    tenant: String,
    tenant_name: String,
    version: i64,
    fields: Fields,
    error: Option<String>,
    message: String,
    saved: Option<Answer>,
    draft: Option<Answer>,
}

fn page(viewer: &Viewer, tenant: &Tenant, fields: Fields, notice: &NoticeQuery) -> PersonaPage {
    PersonaPage {
        frame: Frame::new(viewer, "persona", notice),
        tenant: tenant.slug.clone(),
        tenant_name: tenant.name.clone(),
        version: tenant.persona_version,
        fields,
        error: None,
        message: String::new(),
        saved: None,
        draft: None,
    }
}

pub(super) async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(slug): Path<String>,
    Query(notice): Query<NoticeQuery>,
) -> Reply {
    let tenant = find_tenant(&state, viewer.lang, &slug).await?;
    let fields = Fields::of(&tenant.settings.persona);
    Ok(render(StatusCode::OK, &page(&viewer, &tenant, fields, &notice)))
}

/// The form again with what was typed (not the saved values) and why it was refused.
fn refused(viewer: &Viewer, tenant: &Tenant, form: &PersonaForm, error: String) -> Response {
    let mut shown = page(viewer, tenant, Fields::typed(form), &NoticeQuery::default());
    shown.error = Some(error);
    shown.message = form.message.clone();
    render(StatusCode::BAD_REQUEST, &shown)
}

pub(super) async fn save(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(slug): Path<String>,
    form: Result<Form<PersonaForm>, FormRejection>,
) -> Reply {
    let lang = viewer.lang;
    let Form(form) = form.map_err(|_| bad_request(lang))?;
    let tenant = find_tenant(&state, lang, &slug).await?;
    let saved = &tenant.settings.persona;
    let draft = match form.apply(saved) {
        Ok(draft) => draft,
        Err(error) => return Err(refused(&viewer, &tenant, &form, error)),
    };
    let mut file = tenant.settings.clone();
    file.persona = draft.clone();
    if let Err(error) = file.validate() {
        return Err(refused(&viewer, &tenant, &form, error));
    }
    if let Err(err) = state.store.upsert_tenant(&file, OffsetDateTime::now_utc()).await {
        tracing::warn!(error = %err, "panel: cannot save a persona");
        return Err(error_page(lang, StatusCode::SERVICE_UNAVAILABLE, Problem::Unavailable));
    }
    let (before, after) = (json!(saved), json!(draft));
    if let Err(err) = audit(&state, viewer.actor(), "persona.update", &tenant.slug, Some(before), Some(after)).await {
        tracing::warn!(error = %err, "panel: cannot audit a persona change");
    }
    tracing::info!(tenant = %tenant.slug, by = viewer.user.email.as_str(), "persona saved from the panel");
    Ok(Redirect::to(&format!("{PREFIX}/tenants/{slug}/persona?ok=saved")).into_response())
}

/// Answers the message with the saved persona and with the draft, side by side. Nothing is
/// stored or sent; the LLM is called (twice) as for a real customer.
pub(super) async fn preview(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(slug): Path<String>,
    form: Result<Form<PersonaForm>, FormRejection>,
) -> Reply {
    let lang = viewer.lang;
    let Form(form) = form.map_err(|_| bad_request(lang))?;
    let tenant = find_tenant(&state, lang, &slug).await?;
    let message = form.message.trim().to_string();
    if message.is_empty() || message.chars().count() > MAX_PREVIEW_CHARS {
        let why = lang.pick(
            "Escreva a mensagem do cliente (até 4096 caracteres) para ver a prévia.",
            "Type the customer's message (up to 4096 characters) to see the preview.",
        );
        return Err(refused(&viewer, &tenant, &form, why.to_string()));
    }
    let draft_persona = match form.apply(&tenant.settings.persona) {
        Ok(draft) => draft,
        Err(error) => return Err(refused(&viewer, &tenant, &form, error)),
    };
    let resolved = match tenant.resolve() {
        Ok(resolved) => resolved,
        Err(err) => {
            tracing::warn!(tenant = %tenant.slug, error = %err, "tenant secrets cannot be read for a preview");
            return Err(error_page(lang, StatusCode::SERVICE_UNAVAILABLE, Problem::Unavailable));
        }
    };
    let mut draft_tenant = tenant.clone();
    draft_tenant.settings.persona = draft_persona.clone();
    let now = OffsetDateTime::now_utc();
    let (saved_ctx, draft_ctx) =
        (first_message_context(&tenant, &message), first_message_context(&draft_tenant, &message));
    let (saved, draft) =
        tokio::join!(state.brain.decide(&saved_ctx, &resolved, now), state.brain.decide(&draft_ctx, &resolved, now));
    let answer =
        |decided: Result<Result<Outcome, crate::brain::LlmUnavailable>, crate::store::StoreError>| match decided {
            Ok(Ok(outcome)) => describe(lang, &outcome, None),
            Ok(Err(unavailable)) => describe(lang, &unavailable.fallback, Some(unavailable.reason)),
            Err(err) => Answer {
                parts: Vec::new(),
                decision: format!("{}: {err}", lang.pick("erro", "error")),
                notes: Vec::new(),
            },
        };
    let mut shown = page(&viewer, &tenant, Fields::of(&draft_persona), &NoticeQuery::default());
    shown.message = message;
    shown.saved = Some(answer(saved));
    shown.draft = Some(answer(draft));
    Ok(render(StatusCode::OK, &shown))
}

/// What the brain decided, in words.
fn describe(lang: Language, outcome: &Outcome, unavailable: Option<String>) -> Answer {
    let meta = outcome.meta();
    let decision = match &outcome.decision {
        Decision::Answer { .. } => lang.pick("responde", "answers").to_string(),
        Decision::Handoff { reason, .. } => format!("{} ({})", lang.pick("transfere", "hands off"), reason.as_str()),
        Decision::Silent { reason } => format!("{} ({reason})", lang.pick("fica em silêncio", "stays silent")),
    };
    let mut notes = vec![format!("{} {:+.2}", lang.pick("humor", "mood"), outcome.mood.compound)];
    if let (Some(provider), Some(model)) = (meta["provider"].as_str(), meta["model"].as_str()) {
        notes.push(format!("{provider} · {model}"));
    }
    if let Some(used) = meta["knowledge"].as_array().filter(|u| !u.is_empty()) {
        let ids: Vec<String> = used.iter().map(|id| format!("#{id}")).collect();
        notes.push(format!("{} {}", lang.pick("conhecimento", "knowledge"), ids.join(", ")));
    }
    if let Some(reason) = unavailable {
        notes.push(format!("{}: {reason}", lang.pick("LLM indisponível", "LLM unavailable")));
    }
    Answer { parts: outcome.parts().to_vec(), decision, notes }
}
