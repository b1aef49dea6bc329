//! A tenant's knowledge base: list, search (the bot's own search), add, edit, import.

use askama::Template;
use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;

use super::pages::{Frame, NoticeQuery, find_tenant};
use super::{PREFIX, Problem, Reply, Viewer, bad_request, error_page, render, show_time};
use crate::brain::{ImportCounts, KnowledgeCache, import_knowledge, new_knowledge};
use crate::http::AppState;
use crate::http::actions::audit;
use crate::knowledge::{self, ImportFormat, ImportedEntry};
use crate::store::{KnowledgeEdit, KnowledgeRow, KnowledgeUpsert, Tenant};

/// Results a search shows.
const SEARCH_LIMIT: usize = 20;

struct EntryRow {
    id: i64,
    question: String,
    answer: String,
    tags: String,
    enabled: bool,
    updated: String,
    score: String,
}

/// The add / edit form.
#[derive(Default)]
struct EntryForm {
    id: String,
    title: String,
    question: String,
    answer: String,
    tags: String,
    enabled: bool,
}

#[derive(Template)]
#[template(path = "knowledge.html")]
struct KnowledgePage {
    frame: Frame,
    tenant: String,
    tenant_name: String,
    total: usize,
    query: String,
    rows: Vec<EntryRow>,
    form: EntryForm,
    error: Option<String>,
    imported: Option<Imported>,
}

/// An import's summary.
struct Imported {
    added: usize,
    updated: usize,
    unchanged: usize,
    skipped: Vec<(usize, String)>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct KnowledgeQuery {
    #[serde(default)]
    q: String,
    edit: Option<i64>,
    ok: Option<String>,
}

fn row(entry: &KnowledgeRow, score: Option<f32>) -> EntryRow {
    EntryRow {
        id: entry.id,
        question: entry.question.clone(),
        answer: knowledge::excerpt(&entry.answer, 160),
        tags: entry.tags.join(", "),
        enabled: entry.enabled,
        updated: show_time(entry.updated_at),
        score: score.map(|s| format!("{s:.2}")).unwrap_or_default(),
    }
}

async fn page(
    state: &AppState,
    viewer: &Viewer,
    tenant: &Tenant,
    query: &KnowledgeQuery,
) -> Result<KnowledgePage, Response> {
    let lang = viewer.lang;
    let unavailable = |err: crate::store::StoreError| {
        tracing::warn!(error = %err, "panel: store unavailable");
        error_page(lang, StatusCode::SERVICE_UNAVAILABLE, Problem::Unavailable)
    };
    let all = state.store.list_knowledge(tenant.id).await.map_err(unavailable)?;
    let text = query.q.trim();
    let rows = if text.is_empty() {
        all.iter().map(|e| row(e, None)).collect()
    } else {
        // Exactly the search the bot runs: enabled entries, the persona's language.
        let cache = KnowledgeCache::new(state.config.brain.knowledge_search);
        let language = tenant.settings.persona.language();
        let found = cache.search(&*state.store, tenant.id, language, text, SEARCH_LIMIT).await.map_err(unavailable)?;
        found.iter().map(|m| row(&m.row, Some(m.score))).collect()
    };
    let form = match query.edit.and_then(|id| all.iter().find(|e| e.id == id)) {
        Some(entry) => EntryForm {
            id: entry.id.to_string(),
            title: entry.title.clone().unwrap_or_default(),
            question: entry.question.clone(),
            answer: entry.answer.clone(),
            tags: entry.tags.join(", "),
            enabled: entry.enabled,
        },
        None => EntryForm { enabled: true, ..EntryForm::default() },
    };
    let notice = NoticeQuery::ok(query.ok.clone());
    Ok(KnowledgePage {
        frame: Frame::new(viewer, "persona", &notice),
        tenant: tenant.slug.clone(),
        tenant_name: tenant.name.clone(),
        total: all.len(),
        query: text.to_string(),
        rows,
        form,
        error: None,
        imported: None,
    })
}

pub(super) async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(slug): Path<String>,
    query: Result<Query<KnowledgeQuery>, QueryRejection>,
) -> Reply {
    let lang = viewer.lang;
    let Query(query) = query.map_err(|_| bad_request(lang))?;
    let tenant = find_tenant(&state, lang, &slug).await?;
    Ok(render(StatusCode::OK, &page(&state, &viewer, &tenant, &query).await?))
}

#[derive(Debug, Deserialize)]
pub(super) struct SaveForm {
    #[serde(default)]
    id: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    question: String,
    #[serde(default)]
    answer: String,
    #[serde(default)]
    tags: String,
    enabled: Option<String>,
}

/// One entry checked by the import's own rules (it is read as a one-line JSONL file).
fn validate(form: &SaveForm) -> Result<ImportedEntry, String> {
    let title = Some(form.title.trim()).filter(|t| !t.is_empty());
    let line = json!({
        "title": title, "question": form.question, "answer": form.answer, "tags": form.tags,
        "enabled": form.enabled.is_some(),
    });
    let parsed = knowledge::parse_import(ImportFormat::Jsonl, &line.to_string()).map_err(|e| e.to_string())?;
    match (parsed.entries.into_iter().next(), parsed.skipped.into_iter().next()) {
        (Some(entry), _) => Ok(entry),
        (None, Some(skipped)) => Err(skipped.reason),
        (None, None) => Err("question and answer are required".into()),
    }
}

pub(super) async fn save(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(slug): Path<String>,
    form: Result<Form<SaveForm>, FormRejection>,
) -> Reply {
    let lang = viewer.lang;
    let Form(form) = form.map_err(|_| bad_request(lang))?;
    let tenant = find_tenant(&state, lang, &slug).await?;
    let id = match form.id.trim() {
        "" => None,
        raw => match raw.parse::<i64>() {
            Ok(id) => Some(id),
            Err(_) => return Err(bad_request(lang)),
        },
    };
    // The list again with the form as typed and why it was refused.
    let refused = |error: String| async {
        let mut shown = page(&state, &viewer, &tenant, &KnowledgeQuery::default()).await?;
        shown.form = EntryForm {
            id: form.id.clone(),
            title: form.title.clone(),
            question: form.question.clone(),
            answer: form.answer.clone(),
            tags: form.tags.clone(),
            enabled: form.enabled.is_some(),
        };
        shown.error = Some(error);
        Err(render(StatusCode::BAD_REQUEST, &shown))
    };
    let entry = match validate(&form) {
        Ok(entry) => entry,
        Err(error) => return refused(error).await,
    };
    let new = new_knowledge(&entry);
    let now = OffsetDateTime::now_utc();
    let stored = match id {
        Some(id) => state.store.update_knowledge(tenant.id, id, &new, now).await.map(|edit| match edit {
            KnowledgeEdit::Updated => Ok(("knowledge.update", id.to_string())),
            KnowledgeEdit::NotFound => Err(None),
            KnowledgeEdit::QuestionTaken { other } => Err(Some(other)),
        }),
        None => state.store.upsert_knowledge(tenant.id, &new, now).await.map(|done| {
            let action = if done == KnowledgeUpsert::Added { "knowledge.add" } else { "knowledge.update" };
            Ok((action, String::new()))
        }),
    };
    let (action, id) = match stored {
        Ok(Ok(done)) => done,
        Ok(Err(None)) => return Err(error_page(lang, StatusCode::NOT_FOUND, Problem::NotFound)),
        Ok(Err(Some(other))) => {
            let why = format!(
                "{} (#{other})",
                lang.pick("Outra entrada já tem essa pergunta", "Another entry has that question already")
            );
            return refused(why).await;
        }
        Err(err) => {
            tracing::warn!(error = %err, "panel: cannot save a knowledge entry");
            return Err(error_page(lang, StatusCode::SERVICE_UNAVAILABLE, Problem::Unavailable));
        }
    };
    let after = json!({ "id": id, "question": entry.question, "enabled": entry.enabled });
    if let Err(err) = audit(&state, viewer.actor(), action, &tenant.slug, None, Some(after)).await {
        tracing::warn!(error = %err, "panel: cannot audit a knowledge change");
    }
    Ok(Redirect::to(&format!("{PREFIX}/tenants/{slug}/knowledge?ok=kb_saved")).into_response())
}

#[derive(Debug, Deserialize)]
pub(super) struct ImportForm {
    #[serde(default)]
    format: String,
    #[serde(default)]
    text: String,
}

/// Imports a pasted (or browser-read) CSV, JSONL or Markdown file, like `atende kb import`,
/// and shows what happened line by line.
pub(super) async fn import(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(slug): Path<String>,
    form: Result<Form<ImportForm>, FormRejection>,
) -> Reply {
    let lang = viewer.lang;
    let Form(form) = form.map_err(|_| bad_request(lang))?;
    let tenant = find_tenant(&state, lang, &slug).await?;
    // The list again with why the file was refused (read only when it is).
    let refused = |error: String| async {
        let mut shown = page(&state, &viewer, &tenant, &KnowledgeQuery::default()).await?;
        shown.error = Some(error);
        Err(render(StatusCode::BAD_REQUEST, &shown))
    };
    let Some(format) = ImportFormat::parse(form.format.trim()) else {
        let why = lang.pick("Escolha o formato: csv, jsonl ou markdown.", "Pick the format: csv, jsonl or markdown.");
        return refused(why.into()).await;
    };
    let parsed = match knowledge::parse_import(format, &form.text) {
        Ok(parsed) => parsed,
        Err(err) => return refused(err.to_string()).await,
    };
    let counts = match import_knowledge(&*state.store, tenant.id, &parsed.entries, || {}).await {
        Ok(counts) => counts,
        Err(err) => {
            tracing::warn!(error = %err, "panel: knowledge import failed");
            return Err(error_page(lang, StatusCode::SERVICE_UNAVAILABLE, Problem::Unavailable));
        }
    };
    let ImportCounts { added, updated, unchanged } = counts;
    let after = json!({
        "format": format.as_str(), "added": added, "updated": updated, "unchanged": unchanged,
        "skipped": parsed.skipped.len(),
    });
    if let Err(err) = audit(&state, viewer.actor(), "knowledge.import", &tenant.slug, None, Some(after)).await {
        tracing::warn!(error = %err, "panel: cannot audit a knowledge import");
    }
    tracing::info!(tenant = %tenant.slug, added, updated, unchanged, skipped = parsed.skipped.len(), "knowledge imported from the panel");
    // The list again, now with the imported entries.
    let mut shown = page(&state, &viewer, &tenant, &KnowledgeQuery::default()).await?;
    let skipped = parsed.skipped.into_iter().map(|s| (s.line, s.reason)).collect();
    shown.imported = Some(Imported { added, updated, unchanged, skipped });
    Ok(render(StatusCode::OK, &shown))
}
