//! Users (admins only): create, change a role, disable or enable, set a new password.
//! Disabling or a new password ends the user's sessions at once; a role change applies to
//! their next request. An admin cannot lock themselves out.

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;

use super::pages::{Frame, NoticeQuery};
use super::{PREFIX, Problem, Reply, Viewer, bad_request, error_page, render, role_label, show_time};
use crate::domain::{Email, Language, UserId, UserRole};
use crate::http::AppState;
use crate::http::actions::audit;
use crate::secrets::{MIN_PASSWORD_CHARS, PasswordError, hash_password};
use crate::store::{NewUser, User, UserChange};

struct UserRow {
    id: i64,
    email: String,
    role: &'static str,
    role_label: &'static str,
    disabled: bool,
    locked: String,
    created: String,
    myself: bool,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    frame: Frame,
    rows: Vec<UserRow>,
    error: Option<String>,
    email: String,
}

async fn users_page(state: &AppState, viewer: &Viewer, notice: &NoticeQuery) -> Result<UsersPage, Response> {
    let users = state.store.list_users().await.map_err(|err| {
        tracing::warn!(error = %err, "panel: store unavailable");
        error_page(viewer.lang, StatusCode::SERVICE_UNAVAILABLE, Problem::Unavailable)
    })?;
    let now = OffsetDateTime::now_utc();
    let rows = users
        .into_iter()
        .map(|u| UserRow {
            id: u.id.0,
            email: u.email.as_str().to_string(),
            role: u.role.as_str(),
            role_label: role_label(viewer.lang, u.role),
            disabled: u.disabled,
            locked: u.locked_until.filter(|until| *until > now).map(show_time).unwrap_or_default(),
            created: show_time(u.created_at),
            myself: u.id == viewer.user.id,
        })
        .collect();
    Ok(UsersPage { frame: Frame::new(viewer, "users", notice), rows, error: None, email: String::new() })
}

pub(super) async fn show(State(state): State<AppState>, viewer: Viewer, Query(notice): Query<NoticeQuery>) -> Response {
    match users_page(&state, &viewer, &notice).await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(response) => response,
    }
}

async fn refused(state: &AppState, viewer: &Viewer, email: &str, error: String) -> Response {
    match users_page(state, viewer, &NoticeQuery::default()).await {
        Ok(mut page) => {
            page.error = Some(error);
            page.email = email.to_string();
            render(StatusCode::BAD_REQUEST, &page)
        }
        Err(response) => response,
    }
}

fn password_problem(lang: Language, err: &PasswordError) -> String {
    match err {
        PasswordError::TooShort => format!(
            "{} {MIN_PASSWORD_CHARS} {}",
            lang.pick("A senha precisa de pelo menos", "The password needs at least"),
            lang.pick("caracteres.", "characters.")
        ),
        other => other.to_string(),
    }
}

/// argon2 off the async threads.
async fn hash(password: String) -> Result<String, PasswordError> {
    let secret = SecretString::from(password);
    tokio::task::spawn_blocking(move || hash_password(&secret))
        .await
        .unwrap_or_else(|err| Err(PasswordError::Hash(err.to_string())))
}

#[derive(Debug, Deserialize)]
pub(super) struct NewUserForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
}

pub(super) async fn create(
    State(state): State<AppState>,
    viewer: Viewer,
    form: Result<Form<NewUserForm>, FormRejection>,
) -> Reply {
    let lang = viewer.lang;
    let Form(form) = form.map_err(|_| bad_request(lang))?;
    let Ok(email) = Email::parse(form.email.trim()) else {
        let why = lang.pick("E-mail inválido (ex.: nome@empresa.com.br).", "Invalid e-mail (e.g. name@company.com).");
        return Err(refused(&state, &viewer, &form.email, why.into()).await);
    };
    let Ok(role) = form.role.parse::<UserRole>() else {
        return Err(refused(&state, &viewer, &form.email, lang.pick("Escolha um papel.", "Pick a role.").into()).await);
    };
    let hashed = match hash(form.password.clone()).await {
        Ok(hashed) => hashed,
        Err(err) => return Err(refused(&state, &viewer, &form.email, password_problem(lang, &err)).await),
    };
    let new = NewUser { email: &email, password_hash: &hashed, role };
    match state.store.create_user(&new, OffsetDateTime::now_utc()).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            let why = lang.pick("Já existe um usuário com esse e-mail.", "A user already has that e-mail.");
            return Err(refused(&state, &viewer, &form.email, why.into()).await);
        }
        Err(err) => {
            tracing::warn!(error = %err, "panel: cannot create a user");
            return Err(error_page(lang, StatusCode::SERVICE_UNAVAILABLE, Problem::Unavailable));
        }
    }
    let after = json!({ "email": email.as_str(), "role": role.as_str() });
    if let Err(err) = audit(&state, viewer.actor(), "user.add", email.as_str(), None, Some(after)).await {
        tracing::warn!(error = %err, "panel: cannot audit a new user");
    }
    Ok(Redirect::to(&format!("{PREFIX}/users?ok=user_saved")).into_response())
}

#[derive(Debug, Deserialize)]
pub(super) struct ChangeForm {
    #[serde(default)]
    role: String,
    /// `true` disables, `false` enables, empty leaves alone.
    #[serde(default)]
    disabled: String,
    /// Empty leaves the password alone.
    #[serde(default)]
    password: String,
}

pub(super) async fn change(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(raw): Path<String>,
    form: Result<Form<ChangeForm>, FormRejection>,
) -> Response {
    let lang = viewer.lang;
    let (Ok(Form(form)), Ok(id)) = (form, raw.parse::<i64>()) else {
        return bad_request(lang);
    };
    let users = match state.store.list_users().await {
        Ok(users) => users,
        Err(err) => {
            tracing::warn!(error = %err, "panel: store unavailable");
            return error_page(lang, StatusCode::SERVICE_UNAVAILABLE, Problem::Unavailable);
        }
    };
    let Some(user) = users.iter().find(|u| u.id == UserId(id)) else {
        return error_page(lang, StatusCode::NOT_FOUND, Problem::NotFound);
    };
    let role = match form.role.trim() {
        "" => None,
        name => match name.parse::<UserRole>() {
            Ok(role) => Some(role),
            Err(_) => return bad_request(lang),
        },
    };
    let disabled = match form.disabled.trim() {
        "" => None,
        "true" => Some(true),
        "false" => Some(false),
        _ => return bad_request(lang),
    };
    if user.id == viewer.user.id && (disabled == Some(true) || role.is_some_and(|r| r != UserRole::Admin)) {
        let why = lang.pick(
            "Você não pode desativar nem rebaixar a si mesmo: peça a outro administrador.",
            "You cannot disable or demote yourself: ask another admin.",
        );
        return refused(&state, &viewer, "", why.into()).await;
    }
    let password_hash = match form.password.as_str() {
        "" => None,
        password => match hash(password.to_string()).await {
            Ok(hashed) => Some(hashed),
            Err(err) => return refused(&state, &viewer, "", password_problem(lang, &err)).await,
        },
    };
    let new_password = password_hash.is_some();
    let change = UserChange { role, password_hash, disabled };
    if let Err(err) = state.store.update_user(user.id, &change, OffsetDateTime::now_utc()).await {
        tracing::warn!(error = %err, "panel: cannot change a user");
        return error_page(lang, StatusCode::SERVICE_UNAVAILABLE, Problem::Unavailable);
    }
    let described = |u: &User, role: UserRole, disabled: bool| json!({ "email": u.email.as_str(), "role": role.as_str(), "disabled": disabled });
    let before = described(user, user.role, user.disabled);
    let mut after = described(user, role.unwrap_or(user.role), disabled.unwrap_or(user.disabled));
    if new_password {
        after["password"] = json!("changed");
    }
    if let Err(err) = audit(&state, viewer.actor(), "user.update", user.email.as_str(), Some(before), Some(after)).await
    {
        tracing::warn!(error = %err, "panel: cannot audit a user change");
    }
    Redirect::to(&format!("{PREFIX}/users?ok=user_saved")).into_response()
}
