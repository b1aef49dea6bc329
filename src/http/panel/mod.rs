//! The operator's web panel under `/painel`: server-rendered pages (askama templates
//! compiled into the binary), pt-BR first with English switchable, session cookies, a CSRF
//! token on every form, and the roles of the admin API checked on every route.
//!
//! Like the API, every route is one row of [`PAGES`], which mounts the handler behind its
//! role, so a page cannot be served without the check; the tests crawl the same table.

mod auth;
mod flags;
mod knowledge;
mod pages;
mod persona;
mod users;

use std::net::SocketAddr;

use askama::Template;
use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{MethodRouter, get};
use axum::{Form, Router};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use serde::Deserialize;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;

use super::AppState;
use crate::domain::{Language, UserRole};
use crate::secrets::token_digest;
use crate::store::User;

/// Where the panel lives.
pub const PREFIX: &str = "/painel";
/// The session cookie (its value is the session's secret; the store keeps its digest).
const SESSION_COOKIE: &str = "atende_session";
/// The language cookie (`en` or `pt-BR`).
const LANG_COOKIE: &str = "atende_lang";
/// Largest form the panel accepts (a pasted knowledge-base file fits).
const FORM_LIMIT: usize = 2 * 1024 * 1024;

/// One route of the panel.
pub struct Page {
    /// `GET` or `POST` (state changes are always POST).
    pub method: &'static str,
    /// Path below [`PREFIX`] (`""` is the dashboard), axum syntax.
    pub path: &'static str,
    /// The lowest role allowed; `None` for the public pages (login, assets, language).
    pub role: Option<UserRole>,
    /// The handler.
    route: fn() -> MethodRouter<AppState>,
}

const VIEWER: Option<UserRole> = Some(UserRole::Viewer);
const OPERATOR: Option<UserRole> = Some(UserRole::Operator);
const ADMIN: Option<UserRole> = Some(UserRole::Admin);

/// Every route of the panel.
pub static PAGES: &[Page] = &[
    Page { method: "GET", path: "/login", role: None, route: || get(auth::login_page) },
    Page { method: "POST", path: "/login", role: None, route: || axum::routing::post(auth::login) },
    Page { method: "GET", path: "/lang/{code}", role: None, route: || get(auth::switch_language) },
    Page { method: "GET", path: "/assets/panel.css", role: None, route: || get(pages::stylesheet) },
    Page { method: "GET", path: "/assets/panel.js", role: None, route: || get(pages::script) },
    Page { method: "POST", path: "/logout", role: VIEWER, route: || axum::routing::post(auth::logout) },
    Page { method: "GET", path: "", role: VIEWER, route: || get(pages::dashboard) },
    Page { method: "GET", path: "/conversations", role: VIEWER, route: || get(pages::conversations) },
    Page { method: "GET", path: "/conversations/{tenant}/{contact}", role: VIEWER, route: || get(pages::conversation) },
    Page {
        method: "POST",
        path: "/conversations/{tenant}/{contact}/ai",
        role: OPERATOR,
        route: || axum::routing::post(pages::set_ai),
    },
    Page {
        method: "POST",
        path: "/conversations/{tenant}/{contact}/handoff",
        role: OPERATOR,
        route: || axum::routing::post(pages::hand_off),
    },
    Page {
        method: "POST",
        path: "/conversations/{tenant}/{contact}/messages",
        role: OPERATOR,
        route: || axum::routing::post(pages::send),
    },
    Page {
        method: "POST",
        path: "/conversations/{tenant}/{contact}/close",
        role: OPERATOR,
        route: || axum::routing::post(pages::close),
    },
    Page { method: "GET", path: "/tenants", role: VIEWER, route: || get(pages::tenants) },
    Page { method: "GET", path: "/tenants/{tenant}/persona", role: VIEWER, route: || get(persona::show) },
    Page {
        method: "POST",
        path: "/tenants/{tenant}/persona",
        role: OPERATOR,
        route: || axum::routing::post(persona::save),
    },
    Page {
        method: "POST",
        path: "/tenants/{tenant}/persona/preview",
        role: OPERATOR,
        route: || axum::routing::post(persona::preview),
    },
    Page { method: "GET", path: "/tenants/{tenant}/knowledge", role: VIEWER, route: || get(knowledge::show) },
    Page {
        method: "POST",
        path: "/tenants/{tenant}/knowledge",
        role: OPERATOR,
        route: || axum::routing::post(knowledge::save),
    },
    Page {
        method: "POST",
        path: "/tenants/{tenant}/knowledge/import",
        role: OPERATOR,
        route: || axum::routing::post(knowledge::import),
    },
    Page { method: "GET", path: "/tenants/{tenant}/flags", role: VIEWER, route: || get(flags::show) },
    Page { method: "POST", path: "/tenants/{tenant}/flags", role: OPERATOR, route: || axum::routing::post(flags::set) },
    Page { method: "GET", path: "/handoffs", role: VIEWER, route: || get(pages::handoffs) },
    Page { method: "GET", path: "/dead-letters", role: VIEWER, route: || get(pages::dead_letters) },
    Page { method: "POST", path: "/dead-letters/bulk", role: OPERATOR, route: || axum::routing::post(pages::bulk) },
    Page { method: "GET", path: "/dead-letters/{id}", role: VIEWER, route: || get(pages::dead_letter) },
    Page {
        method: "POST",
        path: "/dead-letters/{id}/replay",
        role: OPERATOR,
        route: || axum::routing::post(pages::replay),
    },
    Page {
        method: "POST",
        path: "/dead-letters/{id}/discard",
        role: OPERATOR,
        route: || axum::routing::post(pages::discard),
    },
    Page { method: "GET", path: "/users", role: ADMIN, route: || get(users::show) },
    Page { method: "POST", path: "/users", role: ADMIN, route: || axum::routing::post(users::create) },
    Page { method: "POST", path: "/users/{id}", role: ADMIN, route: || axum::routing::post(users::change) },
    Page { method: "GET", path: "/audit", role: ADMIN, route: || get(pages::audit) },
];

/// The panel's routes, each behind the session check and its role, and `/` sending there.
pub(super) fn router(state: &AppState) -> Router<AppState> {
    let mut router = Router::new().route("/", get(|| async { Redirect::to(PREFIX) }));
    for page in PAGES {
        let mut route = (page.route)();
        if let Some(role) = page.role {
            let guard = Guard { state: state.clone(), role };
            route = route.route_layer(middleware::from_fn_with_state(guard, require_session));
        }
        router = router.route(&format!("{PREFIX}{}", page.path), route);
    }
    router.layer(middleware::map_response(harden))
}

/// Security headers on every panel answer (and no caching of pages with customer data).
async fn harden(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, "default-src 'self'; frame-ancestors 'none'; form-action 'self'"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    response
}

/// The role a route needs, with the state to check sessions.
#[derive(Clone)]
struct Guard {
    state: AppState,
    role: UserRole,
}

/// The signed-in person of a panel request.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// Who.
    pub user: User,
    /// Their session's CSRF token, put in every form.
    pub csrf: String,
    /// Client address.
    pub ip: String,
    /// Page language.
    pub lang: Language,
}

impl Viewer {
    /// The person as the audit log names them.
    pub fn actor(&self) -> super::actions::Actor<'_> {
        super::actions::Actor { email: self.user.email.as_str(), user: self.user.id, ip: &self.ip }
    }

    /// Whether they may act on conversations and dead letters.
    pub fn can_operate(&self) -> bool {
        self.user.role.allows(UserRole::Operator)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // Only reachable behind `require_session`, which always inserts one.
        parts.extensions.get::<Viewer>().cloned().ok_or_else(|| Redirect::to(&login_url(None)).into_response())
    }
}

/// The CSRF field every panel form carries.
#[derive(Debug, Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

/// Checks the session, the role and, on POST, the form's CSRF token; the [`Viewer`] rides
/// in the request's extensions. No session → the login page (which comes back here).
async fn require_session(State(guard): State<Guard>, jar: CookieJar, request: Request, next: Next) -> Response {
    let lang = language(&jar, request.headers());
    let now = OffsetDateTime::now_utc();
    let session = match jar.get(SESSION_COOKIE) {
        Some(cookie) => match guard.state.store.find_session(&token_digest(cookie.value()), now).await {
            Ok(session) => session,
            Err(err) => {
                tracing::warn!(error = %err, "cannot check a panel session");
                return error_page(lang, StatusCode::SERVICE_UNAVAILABLE, Problem::Unavailable);
            }
        },
        None => None,
    };
    let Some(session) = session else {
        let back = (request.method() == Method::GET).then(|| request.uri().path().to_string());
        return (jar.remove(session_cookie_named()), Redirect::to(&login_url(back.as_deref()))).into_response();
    };
    if !session.user.role.allows(guard.role) {
        return error_page(lang, StatusCode::FORBIDDEN, Problem::Forbidden(guard.role));
    }
    let ip = client_ip(&request);
    let viewer = Viewer { user: session.user, csrf: session.csrf, ip, lang };
    let request = if request.method() == Method::POST {
        match check_csrf(request, &viewer.csrf, lang).await {
            Ok(request) => request,
            Err(response) => return response,
        }
    } else {
        request
    };
    let mut request = request;
    request.extensions_mut().insert(viewer);
    next.run(request).await
}

/// Reads the form, compares its `csrf` with the session's in constant time, and hands the
/// request on with its body intact.
async fn check_csrf(request: Request, expected: &str, lang: Language) -> Result<Request, Response> {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, FORM_LIMIT).await else {
        return Err(error_page(lang, StatusCode::PAYLOAD_TOO_LARGE, Problem::TooLarge));
    };
    let probe = Request::from_parts(parts.clone(), Body::from(bytes.clone()));
    let sent = match Form::<CsrfField>::from_request(probe, &()).await {
        Ok(Form(field)) => field.csrf,
        Err(_) => String::new(),
    };
    if sent.is_empty() || !bool::from(sent.as_bytes().ct_eq(expected.as_bytes())) {
        tracing::warn!(path = %parts.uri.path(), "panel form refused: missing or wrong CSRF token");
        return Err(error_page(lang, StatusCode::FORBIDDEN, Problem::Csrf));
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// The client's address (the peer; `X-Forwarded-For` is not trusted for the panel's audit).
fn client_ip(request: &Request) -> String {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip().to_string())
        .unwrap_or_default()
}

/// The page language: the cookie, else the browser's first preference, else pt-BR.
fn language(jar: &CookieJar, headers: &HeaderMap) -> Language {
    if let Some(lang) = jar.get(LANG_COOKIE).and_then(|c| Language::parse(c.value())) {
        return lang;
    }
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .and_then(|first| Language::parse(first.split(';').next().unwrap_or("").trim()))
        .unwrap_or_default()
}

/// The login page, coming back to `back` (a panel path) after signing in.
fn login_url(back: Option<&str>) -> String {
    match back.filter(|b| safe_return(b)) {
        Some(back) if back != PREFIX => format!("{PREFIX}/login?next={}", encode_path(back)),
        _ => format!("{PREFIX}/login"),
    }
}

/// A path we may send a browser back to after login: inside the panel, never elsewhere.
fn safe_return(path: &str) -> bool {
    (path == PREFIX || path.starts_with("/painel/"))
        && !path.contains("//")
        && !path.contains('\\')
        && path.chars().all(|c| c.is_ascii_graphic())
}

/// Percent-encodes what a path may hold for a query value (hand-rolled: a few characters,
/// not worth a crate).
fn encode_path(path: &str) -> String {
    path.chars()
        .map(|c| match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '/' | '-' | '_' | '.' | '~' => c.to_string(),
            other => {
                let mut buf = [0u8; 4];
                other.encode_utf8(&mut buf).bytes().map(|b| format!("%{b:02X}")).collect()
            }
        })
        .collect()
}

fn session_cookie_named() -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, "")).path(PREFIX).build()
}

/// The session cookie: HttpOnly, SameSite=Strict, panel path, Secure behind TLS.
fn session_cookie(secret: String, max_age: std::time::Duration, secure: bool) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, secret))
        .path(PREFIX)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(time::Duration::try_from(max_age).unwrap_or(time::Duration::hours(12)))
        .build()
}

/// Whether cookies get `Secure`: configured, or a trusted proxy says the browser used https.
fn secure_cookies(state: &AppState, headers: &HeaderMap) -> bool {
    state.config.panel.secure_cookies
        || (state.config.http.trust_forwarded_for
            && headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()) == Some("https"))
}

/// How times show in the panel.
const TIME_FORMAT: &[BorrowedFormatItem<'static>] = format_description!("[day]/[month]/[year] [hour]:[minute] UTC");

/// A time as the panel shows it.
fn show_time(at: OffsetDateTime) -> String {
    at.format(TIME_FORMAT).unwrap_or_default()
}

/// What went wrong, for the error page.
#[derive(Debug, Clone, Copy)]
enum Problem {
    /// The role is too low.
    Forbidden(UserRole),
    /// The form's CSRF token is missing or wrong.
    Csrf,
    /// No such thing.
    NotFound,
    /// The form is too large.
    TooLarge,
    /// The request is wrong.
    BadRequest,
    /// The store is down.
    Unavailable,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    lang: Language,
    title: &'static str,
    detail: String,
}

/// What a panel handler answers: the page, or the page that says why not (both are HTML;
/// `Err` lets a handler stop early with `?`).
pub(super) type Reply = Result<Response, Response>;

/// The page for a malformed form or query.
pub(super) fn bad_request(lang: Language) -> Response {
    error_page(lang, StatusCode::BAD_REQUEST, Problem::BadRequest)
}

/// An error as a page (with the status that says it).
fn error_page(lang: Language, status: StatusCode, problem: Problem) -> Response {
    let (title, detail) = match problem {
        Problem::Forbidden(role) => (
            lang.pick("Acesso negado", "Access denied"),
            format!(
                "{} {}.",
                lang.pick("Esta página precisa do papel", "This page needs the role"),
                role_label(lang, role)
            ),
        ),
        Problem::Csrf => (
            lang.pick("Formulário expirado", "Form expired"),
            lang.pick(
                "O formulário não tem um token válido. Volte, recarregue a página e tente de novo.",
                "The form has no valid token. Go back, reload the page and try again.",
            )
            .to_string(),
        ),
        Problem::NotFound => (
            lang.pick("Não encontrado", "Not found"),
            lang.pick("Nada aqui com esse endereço.", "Nothing here at that address.").to_string(),
        ),
        Problem::TooLarge => (
            lang.pick("Formulário grande demais", "Form too large"),
            lang.pick("Envie menos de 2 MiB.", "Send less than 2 MiB.").to_string(),
        ),
        Problem::BadRequest => (
            lang.pick("Pedido inválido", "Bad request"),
            lang.pick("Confira os campos e tente de novo.", "Check the fields and try again.").to_string(),
        ),
        Problem::Unavailable => (
            lang.pick("Indisponível", "Unavailable"),
            lang.pick(
                "O banco de dados não respondeu. Tente de novo em instantes.",
                "The database did not answer. Try again shortly.",
            )
            .to_string(),
        ),
    };
    render(status, &ErrorPage { lang, title, detail })
}

/// Renders a template as an HTML answer (a template error is a logged 500, never a panic).
fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "panel template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// A role's name in the page language.
fn role_label(lang: Language, role: UserRole) -> &'static str {
    match role {
        UserRole::Viewer => lang.pick("leitura", "viewer"),
        UserRole::Operator => lang.pick("operador", "operator"),
        UserRole::Admin => lang.pick("administrador", "admin"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_panel_paths_are_returned_to_after_login() {
        assert!(safe_return("/painel/conversations/acme/5511999999999"));
        assert!(safe_return("/painel"));
        for bad in
            ["//evil.example", "/painel//evil", "https://evil.example/painel", "/painelx", "/api/v1/me", "/painel/\\x"]
        {
            assert!(!safe_return(bad), "{bad}");
        }
        assert_eq!(login_url(Some("/painel/dead-letters")), "/painel/login?next=/painel/dead-letters");
        assert_eq!(login_url(Some("//evil.example")), "/painel/login");
        assert_eq!(login_url(Some("/painel")), "/painel/login");
        assert_eq!(encode_path("/painel/a b?c"), "/painel/a%20b%3Fc");
    }

    #[test]
    fn the_language_is_the_cookie_then_the_browser_then_portuguese() {
        let mut headers = HeaderMap::new();
        assert_eq!(language(&CookieJar::from_headers(&headers), &headers), Language::PtBr);
        headers.insert(header::ACCEPT_LANGUAGE, "en-US,en;q=0.9,pt;q=0.5".parse().unwrap());
        assert_eq!(language(&CookieJar::from_headers(&headers), &headers), Language::En);
        headers.insert(header::COOKIE, "atende_lang=pt-BR".parse().unwrap());
        assert_eq!(language(&CookieJar::from_headers(&headers), &headers), Language::PtBr);
    }
}
