//! Login (throttled per IP and per account, audited), logout, and the language switch.

use std::net::{IpAddr, SocketAddr};
use std::sync::LazyLock;

use askama::Template;
use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use secrecy::ExposeSecret;
use serde::Deserialize;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use tracing::{info, warn};

use super::{
    LANG_COOKIE, PREFIX, Problem, SESSION_COOKIE, Viewer, bad_request, error_page, language, render, safe_return,
    secure_cookies, session_cookie, session_cookie_named, show_time,
};
use crate::domain::UserId;
use crate::domain::{Email, Language};
use crate::http::AppState;
use crate::secrets::{SessionToken, hash_password, random_token, token_digest, verify_password};
use crate::store::{LockPolicy, NewAudit, NewSession};

/// The login form's CSRF cookie (double submit: the form carries the same value).
const LOGIN_CSRF_COOKIE: &str = "atende_login_csrf";

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    lang: Language,
    csrf: String,
    next: String,
    email: String,
    error: Option<String>,
    no_users: bool,
}

#[derive(Debug, Deserialize)]
pub(super) struct NextQuery {
    next: Option<String>,
}

/// The sign-in form (with a fresh CSRF cookie), and how to create the first admin when
/// there is nobody to sign in yet.
pub(super) async fn login_page(
    State(state): State<AppState>,
    jar: CookieJar,
    headers: HeaderMap,
    query: Result<Query<NextQuery>, QueryRejection>,
) -> Response {
    let lang = language(&jar, &headers);
    let next = query.ok().and_then(|Query(q)| q.next).filter(|n| safe_return(n)).unwrap_or_default();
    login_form(&state, jar, &headers, lang, StatusCode::OK, next, String::new(), None).await
}

#[allow(clippy::too_many_arguments)] // one caller per outcome; a struct would only rename them
async fn login_form(
    state: &AppState,
    jar: CookieJar,
    headers: &HeaderMap,
    lang: Language,
    status: StatusCode,
    next: String,
    email: String,
    error: Option<String>,
) -> Response {
    let no_users = match state.store.list_users().await {
        Ok(users) => users.is_empty(),
        Err(err) => {
            warn!(error = %err, "cannot list users for the login page");
            return error_page(lang, StatusCode::SERVICE_UNAVAILABLE, Problem::Unavailable);
        }
    };
    let csrf = random_token();
    let cookie = Cookie::build((LOGIN_CSRF_COOKIE, csrf.clone()))
        .path(format!("{PREFIX}/login"))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure_cookies(state, headers))
        .build();
    let page = LoginPage { lang, csrf, next, email, error, no_users };
    (jar.add(cookie), render(status, &page)).into_response()
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    next: String,
}

/// A hash to verify against when the e-mail is unknown, so a miss costs as long as a
/// wrong password (the response time does not tell which e-mails exist).
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| hash_password(&random_token().into()).unwrap_or_default());

/// Checks the form's CSRF token, the IP's login budget, the account's lock and the
/// password; a success starts a session. Every attempt is audited with its IP.
pub(super) async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    jar: CookieJar,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let lang = language(&jar, &headers);
    let Ok(Form(form)) = form else {
        return bad_request(lang);
    };
    let cookie = jar.get(LOGIN_CSRF_COOKIE).map(|c| c.value().to_string()).unwrap_or_default();
    if cookie.is_empty() || !bool::from(cookie.as_bytes().ct_eq(form.csrf.as_bytes())) {
        warn!("panel login refused: missing or wrong CSRF token");
        return error_page(lang, StatusCode::FORBIDDEN, Problem::Csrf);
    }
    let next = if safe_return(&form.next) { form.next.clone() } else { String::new() };
    let ip = peer.ip();
    let again = |status, message: String| {
        let (state, jar, headers, next, email) =
            (state.clone(), jar.clone(), headers.clone(), next.clone(), form.email.clone());
        async move { login_form(&state, jar, &headers, lang, status, next, email, Some(message)).await }
    };
    if let Err(limited) = state.limits.check_login(ip).await {
        warn!(%ip, "panel logins from this address are over their limit");
        let wait = limited.retry_after.as_secs().max(1);
        let message = format!(
            "{} {wait} s.",
            lang.pick(
                "Muitas tentativas deste endereço. Tente de novo em",
                "Too many attempts from this address. Try again in"
            )
        );
        let mut response = again(StatusCode::TOO_MANY_REQUESTS, message).await;
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait));
        return response;
    }
    let wrong = lang.pick("E-mail ou senha incorretos.", "Wrong e-mail or password.").to_string();
    let now = OffsetDateTime::now_utc();
    let found = match Email::parse(form.email.trim()) {
        Ok(email) => match state.store.find_user(&email).await {
            Ok(found) => found,
            Err(err) => {
                warn!(error = %err, "cannot read a user to log in");
                return error_page(lang, StatusCode::SERVICE_UNAVAILABLE, Problem::Unavailable);
            }
        },
        Err(_) => None,
    };
    let tried = form.email.trim().to_lowercase();
    let Some(credentials) = found.filter(|c| !c.user.disabled) else {
        verify(form.password.clone(), DUMMY_HASH.clone()).await;
        audit_login(&state, &tried, None, ip, false, "unknown_or_disabled").await;
        return again(StatusCode::UNAUTHORIZED, wrong).await;
    };
    let user = credentials.user;
    if let Some(until) = user.locked_until.filter(|until| *until > now) {
        audit_login(&state, &tried, Some(user.id), ip, false, "locked").await;
        return again(StatusCode::TOO_MANY_REQUESTS, locked_message(lang, until)).await;
    }
    let policy = LockPolicy {
        after_failures: state.config.panel.lock_after_failures.max(1),
        lock_for: time::Duration::try_from(state.config.panel.lock_for).unwrap_or(time::Duration::minutes(15)),
    };
    if !verify(form.password.clone(), credentials.password_hash).await {
        let locked = match state.store.record_login(user.id, false, policy, now).await {
            Ok(locked) => locked,
            Err(err) => {
                warn!(error = %err, "cannot record a failed login");
                return error_page(lang, StatusCode::SERVICE_UNAVAILABLE, Problem::Unavailable);
            }
        };
        audit_login(&state, &tried, Some(user.id), ip, false, "wrong_password").await;
        return match locked {
            Some(until) => {
                warn!(user = user.id.0, "panel account locked after repeated failed logins");
                again(StatusCode::TOO_MANY_REQUESTS, locked_message(lang, until)).await
            }
            None => again(StatusCode::UNAUTHORIZED, wrong).await,
        };
    }
    let session = SessionToken::generate();
    let ttl = state.config.panel.session_ttl;
    let expires_at = now + time::Duration::try_from(ttl).unwrap_or(time::Duration::hours(12));
    let ip_text = ip.to_string();
    let new = NewSession { user: user.id, digest: &session.digest, csrf: &session.csrf, ip: &ip_text, expires_at };
    let stored = async {
        state.store.record_login(user.id, true, policy, now).await?;
        state.store.create_session(&new, now).await
    };
    if let Err(err) = stored.await {
        warn!(error = %err, "cannot start a panel session");
        return error_page(lang, StatusCode::SERVICE_UNAVAILABLE, Problem::Unavailable);
    }
    audit_login(&state, user.email.as_str(), Some(user.id), ip, true, "password").await;
    info!(user = user.id.0, %ip, "panel login");
    let cookie = session_cookie(session.secret.expose_secret().to_string(), ttl, secure_cookies(&state, &headers));
    let to = if next.is_empty() { PREFIX.to_string() } else { next };
    let jar = jar.add(cookie).remove(Cookie::build(LOGIN_CSRF_COOKIE).path(format!("{PREFIX}/login")).build());
    (jar, Redirect::to(&to)).into_response()
}

fn locked_message(lang: Language, until: OffsetDateTime) -> String {
    format!(
        "{} {}.",
        lang.pick(
            "Conta bloqueada temporariamente por excesso de tentativas. Tente de novo depois de",
            "Account locked for a while after too many attempts. Try again after"
        ),
        show_time(until)
    )
}

/// argon2 off the async threads.
async fn verify(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || verify_password(&password, &hash)).await.unwrap_or(false)
}

async fn audit_login(state: &AppState, actor: &str, user: Option<UserId>, ip: IpAddr, success: bool, how: &str) {
    let ip = ip.to_string();
    let entry = NewAudit {
        actor,
        user_id: user,
        action: "login",
        target: None,
        ip: Some(&ip),
        success,
        before: None,
        after: Some(serde_json::json!({ "result": how })),
        at: OffsetDateTime::now_utc(),
    };
    if let Err(err) = state.store.append_audit(&entry).await {
        warn!(error = %err, "cannot audit a login attempt");
    }
}

/// Ends the session (the form carries its CSRF token) and goes back to the login page.
pub(super) async fn logout(State(state): State<AppState>, viewer: Viewer, jar: CookieJar) -> Response {
    if let Some(cookie) = jar.get(SESSION_COOKIE) {
        let now = OffsetDateTime::now_utc();
        if let Err(err) = state.store.revoke_session(&token_digest(cookie.value()), now).await {
            warn!(error = %err, "cannot end a panel session");
            return error_page(viewer.lang, StatusCode::SERVICE_UNAVAILABLE, Problem::Unavailable);
        }
    }
    let entry = NewAudit {
        actor: viewer.user.email.as_str(),
        user_id: Some(viewer.user.id),
        action: "logout",
        target: None,
        ip: Some(&viewer.ip),
        success: true,
        before: None,
        after: None,
        at: OffsetDateTime::now_utc(),
    };
    if let Err(err) = state.store.append_audit(&entry).await {
        warn!(error = %err, "cannot audit a logout");
    }
    (jar.remove(session_cookie_named()), Redirect::to(&format!("{PREFIX}/login"))).into_response()
}

/// `/painel/lang/en` or `/painel/lang/pt-BR`: remembers the choice and goes to the dashboard.
pub(super) async fn switch_language(jar: CookieJar, headers: HeaderMap, Path(code): Path<String>) -> Response {
    let Some(lang) = Language::parse(&code) else {
        return error_page(language(&jar, &headers), StatusCode::NOT_FOUND, Problem::NotFound);
    };
    let cookie = Cookie::build((LANG_COOKIE, lang.as_str()))
        .path(PREFIX)
        .same_site(SameSite::Strict)
        .max_age(time::Duration::days(365))
        .build();
    (jar.add(cookie), Redirect::to(PREFIX)).into_response()
}
