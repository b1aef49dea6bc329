//! A tenant's feature flags: read at run time by every process, so a change applies to the
//! next message without a restart (the same as `atende flags set`).

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::pages::{Frame, NoticeQuery, after_action, find_tenant};
use super::{PREFIX, Reply, Viewer, bad_request, render};
use crate::domain::{Flag, FlagKind, Language};
use crate::http::AppState;
use crate::http::actions::{self, ActionError};

/// One flag as the page shows it.
struct FlagRow {
    name: &'static str,
    what: &'static str,
    /// The stored value, or empty for the default.
    value: String,
    /// What applies now.
    effective: String,
    /// `switch`, `choice` or `text`.
    kind: &'static str,
    choices: &'static [&'static str],
}

#[derive(Template)]
#[template(path = "flags.html")]
struct FlagsPage {
    frame: Frame,
    tenant: String,
    tenant_name: String,
    rows: Vec<FlagRow>,
}

fn describe(lang: Language, flag: Flag) -> &'static str {
    match flag {
        Flag::Ai => lang.pick("o bot responde", "the bot answers"),
        Flag::Knowledge => lang.pick("usa a base de conhecimento", "uses the knowledge base"),
        Flag::Embeddings => lang.pick("busca por embeddings (reservado)", "embedding search (reserved)"),
        Flag::Humour => lang.pick("humor leve", "light humour"),
        Flag::Csat => lang.pick("pesquisa de satisfação ao encerrar", "satisfaction survey on close"),
        Flag::Handoff => lang.pick("transfere para pessoas", "hands off to people"),
        Flag::FallbackEmail => lang.pick("e-mail quando o helpdesk falha", "e-mail when the helpdesk fails"),
        Flag::FallbackSms => lang.pick("SMS quando o helpdesk falha", "SMS when the helpdesk fails"),
        Flag::Events => lang.pick("eventos para workflows (n8n)", "events to workflows (n8n)"),
        Flag::LlmProvider => lang.pick("provedor de LLM (primary, fallback)", "LLM provider (primary, fallback)"),
        Flag::LlmModel => lang.pick("modelo de LLM (substitui o do arquivo)", "LLM model (overrides the file's)"),
    }
}

pub(super) async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(slug): Path<String>,
    Query(notice): Query<NoticeQuery>,
) -> Reply {
    let lang = viewer.lang;
    let tenant = find_tenant(&state, lang, &slug).await?;
    let rows = Flag::ALL
        .iter()
        .map(|&flag| {
            let value = tenant.flags.get(flag).map(ToString::to_string).unwrap_or_default();
            let (kind, choices) = match flag.kind() {
                FlagKind::Switch => ("switch", &[][..]),
                FlagKind::Choice(choices) => ("choice", choices),
                FlagKind::Text => ("text", &[][..]),
            };
            let effective = match (value.is_empty(), kind) {
                (false, _) => value.clone(),
                (true, "switch") => format!("on ({})", lang.pick("padrão", "default")),
                (true, _) => format!("– ({})", lang.pick("do arquivo", "from the file")),
            };
            FlagRow { name: flag.name(), what: describe(lang, flag), value, effective, kind, choices }
        })
        .collect();
    let page = FlagsPage {
        frame: Frame::new(&viewer, "persona", &notice),
        tenant: tenant.slug.clone(),
        tenant_name: tenant.name.clone(),
        rows,
    };
    Ok(render(StatusCode::OK, &page))
}

#[derive(Debug, Deserialize)]
pub(super) struct FlagForm {
    flag: String,
    /// Empty: back to the default.
    #[serde(default)]
    value: String,
}

pub(super) async fn set(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(slug): Path<String>,
    form: Result<Form<FlagForm>, FormRejection>,
) -> Reply {
    let lang = viewer.lang;
    let Form(form) = form.map_err(|_| bad_request(lang))?;
    let Some(flag) = Flag::parse(form.flag.trim()) else {
        return Err(bad_request(lang));
    };
    let tenant = find_tenant(&state, lang, &slug).await?;
    let page = format!("{PREFIX}/tenants/{slug}/flags");
    let value = match form.value.trim() {
        "" | "default" => Ok(None),
        raw => flag.value(raw).map(Some).map_err(ActionError::Invalid),
    };
    let outcome = match value {
        Ok(value) => actions::set_flag(&state, &tenant, flag, value, viewer.actor()).await.map(|()| "flag_set"),
        Err(err) => Err(err),
    };
    Ok(after_action(lang, &page, outcome))
}
