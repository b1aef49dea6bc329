//! The web panel: every route's session and role check (a crawl of the route table),
//! login with its CSRF token, throttling and lock, audit, logout, expired sessions, and the
//! operator's forms (AI switch, dead-letter replay) with their CSRF check.

use atende::domain::{ConversationState, Email, Flag, FlagValue, JobState, UserRole};
use atende::http::panel::PAGES;
use atende::secrets::{SessionToken, hash_password};
use atende::store::{AuditFilter, DeadLetterFilter, NewSession, NewUser};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use secrecy::ExposeSecret;
use time::OffsetDateTime;
use wiremock::ResponseTemplate;
use wiremock::matchers::{body_string_contains, method, path};

use crate::helpers::*;

on_each_backend!(
    every_panel_route_needs_a_session_and_its_role,
    login_is_checked_throttled_locked_and_audited_and_logout_ends_the_session,
    operators_act_from_the_panel_with_csrf_and_viewers_cannot,
    the_persona_preview_answers_the_draft_beside_the_saved_one_and_saving_makes_a_version,
    flags_change_at_run_time_and_dead_letters_go_in_bulk,
    the_knowledge_base_is_searched_edited_and_imported_from_the_panel,
    admins_manage_users_and_changes_reach_live_sessions,
);

const CONTACT: &str = "5511999999999";
const PASSWORD: &str = "senha-muito-boa";

/// A browser without redirects, so each answer can be checked.
fn browser() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

async fn add_user(app: &TestApp, login: &str, role: UserRole) {
    let hash = hash_password(&PASSWORD.to_string().into()).unwrap();
    let email = Email::parse(login).unwrap();
    let user = NewUser { email: &email, password_hash: &hash, role };
    app.store.create_user(&user, OffsetDateTime::now_utc()).await.unwrap().unwrap();
}

/// The value of cookie `name` among a response's `Set-Cookie` headers, with the header.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<(String, String)> {
    response.headers().get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|header| {
        let value = header.strip_prefix(&format!("{name}="))?.split(';').next()?.to_string();
        Some((value, header.to_string()))
    })
}

/// The `csrf` hidden field of a page.
fn csrf_field(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a form with a csrf field") + 19;
    html[at..].split('"').next().unwrap().to_string()
}

fn location(response: &reqwest::Response) -> String {
    response.headers().get(LOCATION).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
}

/// A signed-in browser: its cookie header and the session's CSRF token.
struct Session {
    cookie: String,
    csrf: String,
}

/// GET the login form, POST it; the raw answer of the POST and the login cookie used.
async fn try_login(app: &TestApp, email: &str, password: &str, next: &str) -> reqwest::Response {
    let client = browser();
    let form = client.get(app.url("/painel/login")).send().await.unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    let (login_csrf, _) = set_cookie(&form, "atende_login_csrf").expect("the login form sets its CSRF cookie");
    let html = form.text().await.unwrap();
    assert_eq!(csrf_field(&html), login_csrf, "double submit: the form carries the cookie's value");
    client
        .post(app.url("/painel/login"))
        .header(COOKIE, format!("atende_login_csrf={login_csrf}"))
        .form(&[("email", email), ("password", password), ("csrf", &login_csrf), ("next", next)])
        .send()
        .await
        .unwrap()
}

async fn login(app: &TestApp, email: &str) -> Session {
    let response = try_login(app, email, PASSWORD, "").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{email} signs in");
    let (secret, _) = set_cookie(&response, "atende_session").expect("a session cookie");
    let cookie = format!("atende_session={secret}");
    let page = browser().get(app.url("/painel")).header(COOKIE, &cookie).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csrf = csrf_field(&page.text().await.unwrap());
    Session { cookie, csrf }
}

async fn get(app: &TestApp, path: &str, session: Option<&Session>) -> reqwest::Response {
    let mut request = browser().get(app.url(path));
    if let Some(session) = session {
        request = request.header(COOKIE, &session.cookie);
    }
    request.send().await.unwrap()
}

async fn post(app: &TestApp, path: &str, session: Option<&Session>, fields: &[(&str, &str)]) -> reqwest::Response {
    let mut request = browser().post(app.url(path)).form(fields);
    if let Some(session) = session {
        request = request.header(COOKIE, &session.cookie);
    }
    request.send().await.unwrap()
}

/// A page as a browser would use it: GET, or POST of a form with the session's token.
async fn call(app: &TestApp, verb: &str, concrete: &str, session: Option<&Session>) -> reqwest::Response {
    let fields: Vec<(&str, &str)> = match session {
        Some(s) => vec![("csrf", s.csrf.as_str()), ("enabled", "false"), ("text", "oi")],
        None => vec![("enabled", "false")],
    };
    match verb {
        "GET" => get(app, concrete, session).await,
        _ => post(app, concrete, session, &fields).await,
    }
}

fn role_of(name: &str) -> UserRole {
    match name {
        "viewer" => UserRole::Viewer,
        "operator" => UserRole::Operator,
        _ => UserRole::Admin,
    }
}

async fn every_panel_route_needs_a_session_and_its_role(backend: Backend) {
    let app = spawn_app_on(&backend).await;
    mount_gemini(&app.llm, "Oi!").await;
    mount_whaticket_ok(&app.whaticket).await;
    app.post_generic(&generic("p1", CONTACT, "Oi")).await;
    app.drain().await;
    for (login, role) in [
        ("vera@loja.com.br", UserRole::Viewer),
        ("otto@loja.com.br", UserRole::Operator),
        ("ana@loja.com.br", UserRole::Admin),
    ] {
        add_user(&app, login, role).await;
    }
    let sessions = [
        ("viewer", login(&app, "vera@loja.com.br").await),
        ("operator", login(&app, "otto@loja.com.br").await),
        ("admin", login(&app, "ana@loja.com.br").await),
    ];
    let stale = Session { cookie: "atende_session=not-a-session".into(), csrf: "x".into() };
    assert!(PAGES.iter().filter(|p| p.role.is_some()).count() >= 15, "the crawl covers every page");

    for page in PAGES {
        let concrete = format!("/painel{}", page.path)
            .replace("{tenant}", "acme")
            .replace("{contact}", CONTACT)
            .replace("{id}", "999999")
            .replace("{code}", "en");
        assert!(!concrete.contains('{'), "{} has a parameter the crawl does not know", page.path);
        let what = format!("{} {concrete}", page.method);
        let Some(needed) = page.role else {
            if page.method == "GET" {
                let answer = call(&app, page.method, &concrete, None).await;
                assert!(answer.status().is_success() || answer.status() == StatusCode::SEE_OTHER, "{what} is public");
            }
            continue;
        };
        for anonymous in [None, Some(&stale)] {
            let answer = call(&app, page.method, &concrete, anonymous).await;
            assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{what} without a live session");
            assert!(location(&answer).starts_with("/painel/login"), "{what} sends to the login page");
        }
        if page.path == "/logout" {
            continue; // it ends the session it is called with: the login test covers it
        }
        for (name, session) in &sessions {
            let answer = call(&app, page.method, &concrete, Some(session)).await;
            let status = answer.status();
            if role_of(name).allows(needed) {
                assert!(
                    status != StatusCode::FORBIDDEN && !location(&answer).starts_with("/painel/login"),
                    "{what} as {name} answered {status}"
                );
                assert!(!status.is_server_error(), "{what} as {name}: {status}");
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{what} as {name} must be refused (needs {needed:?})");
                let html = answer.text().await.unwrap();
                assert!(html.contains("Acesso negado"), "{what}: {html}");
            }
        }
    }
    // Nothing a refused request tried changed anything.
    let audit = app.store.list_audit(&AuditFilter { limit: 100, ..AuditFilter::default() }).await.unwrap();
    assert!(audit.iter().all(|e| e.actor != "vera@loja.com.br" || e.action == "login"), "{audit:?}");
}

async fn login_is_checked_throttled_locked_and_audited_and_logout_ends_the_session(backend: Backend) {
    let app = spawn_app_on_with(&backend, |config| {
        config.limits.logins_per_ip_burst = 30;
        config.limits.logins_per_ip_per_minute = 30;
        config.panel.lock_after_failures = 3;
    })
    .await;
    let root = get(&app, "/", None).await;
    assert!(root.status().is_redirection() && location(&root) == "/painel", "/ goes to the panel");
    let first = get(&app, "/painel/login", None).await.text().await.unwrap();
    assert!(first.contains("atende user add EMAIL --role admin"), "with no users the panel says how to create one");
    assert!(first.contains("Entrar"), "pt-BR first");

    add_user(&app, "ana@loja.com.br", UserRole::Admin).await;
    let later = get(&app, "/painel/login", None).await.text().await.unwrap();
    assert!(!later.contains("atende user add"), "the notice goes once there is a user");
    let bounced = get(&app, "/painel/dead-letters", None).await;
    assert_eq!(location(&bounced), "/painel/login?next=/painel/dead-letters");

    // The login form's CSRF token is required.
    let forged = browser()
        .post(app.url("/painel/login"))
        .form(&[("email", "ana@loja.com.br"), ("password", PASSWORD), ("csrf", "guess")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(set_cookie(&forged, "atende_session").is_none());

    let wrong = try_login(&app, "ana@loja.com.br", "senha-errada-123", "").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(set_cookie(&wrong, "atende_session").is_none());
    assert!(wrong.text().await.unwrap().contains("E-mail ou senha incorretos."));
    let nobody = try_login(&app, "ninguem@loja.com.br", PASSWORD, "").await;
    assert_eq!(nobody.status(), StatusCode::UNAUTHORIZED, "an unknown e-mail answers the same");

    let ok = try_login(&app, "Ana@Loja.com.br", PASSWORD, "/painel/dead-letters").await;
    assert_eq!((ok.status(), location(&ok).as_str()), (StatusCode::SEE_OTHER, "/painel/dead-letters"));
    let (secret, header) = set_cookie(&ok, "atende_session").unwrap();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/painel"] {
        assert!(header.contains(attribute), "{attribute} missing: {header}");
    }
    assert!(!header.contains("Secure"), "plain HTTP by default: {header}");
    let session = Session { cookie: format!("atende_session={secret}"), csrf: String::new() };
    let page = get(&app, "/painel", Some(&session)).await;
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    assert!(page.headers()["content-security-policy"].to_str().unwrap().contains("default-src 'self'"));
    let html = page.text().await.unwrap();
    assert!(html.contains("ana@loja.com.br"), "{html}");
    let session = Session { csrf: csrf_field(&html), ..session };
    let evil = try_login(&app, "ana@loja.com.br", PASSWORD, "//evil.example/painel").await;
    assert_eq!(location(&evil), "/painel", "never sent off the panel after login");

    // Logout needs the session's CSRF token, then the session is over.
    let refused = post(&app, "/painel/logout", Some(&session), &[("csrf", "wrong")]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(get(&app, "/painel", Some(&session)).await.status(), StatusCode::OK, "still signed in");
    let out = post(&app, "/painel/logout", Some(&session), &[("csrf", &session.csrf)]).await;
    assert_eq!((out.status(), location(&out).as_str()), (StatusCode::SEE_OTHER, "/painel/login"));
    let after = get(&app, "/painel", Some(&session)).await;
    assert!(location(&after).starts_with("/painel/login"), "a revoked session is over");

    // An expired session sends to the login page too.
    let user = app.store.find_user(&Email::parse("ana@loja.com.br").unwrap()).await.unwrap().unwrap().user;
    let old = SessionToken::generate();
    let past = OffsetDateTime::now_utc() - time::Duration::minutes(1);
    let new = NewSession { user: user.id, digest: &old.digest, csrf: &old.csrf, ip: "127.0.0.1", expires_at: past };
    app.store.create_session(&new, past - time::Duration::hours(12)).await.unwrap();
    let expired = Session { cookie: format!("atende_session={}", old.secret.expose_secret()), csrf: old.csrf.clone() };
    assert!(location(&get(&app, "/painel", Some(&expired)).await).starts_with("/painel/login"));

    // Three failures in a row lock the account, even against the right password.
    for _ in 0..3 {
        try_login(&app, "ana@loja.com.br", "senha-errada-123", "").await;
    }
    let locked = try_login(&app, "ana@loja.com.br", PASSWORD, "").await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(set_cookie(&locked, "atende_session").is_none());
    assert!(locked.text().await.unwrap().contains("bloqueada"));

    // Every attempt is in the audit log with its IP; the password never is.
    let audit = app.store.list_audit(&AuditFilter { limit: 100, ..AuditFilter::default() }).await.unwrap();
    let logins: Vec<(&str, bool, String)> = audit
        .iter()
        .filter(|e| e.action == "login")
        .map(|e| (e.actor.as_str(), e.success, e.after.as_ref().unwrap()["result"].as_str().unwrap().to_string()))
        .collect();
    assert!(logins.contains(&("ana@loja.com.br", false, "wrong_password".into())), "{logins:?}");
    assert!(logins.contains(&("ninguem@loja.com.br", false, "unknown_or_disabled".into())), "{logins:?}");
    assert!(logins.contains(&("ana@loja.com.br", true, "password".into())), "{logins:?}");
    assert!(logins.contains(&("ana@loja.com.br", false, "locked".into())), "{logins:?}");
    assert!(audit.iter().any(|e| e.action == "logout"));
    assert!(audit.iter().all(|e| e.ip.as_deref() == Some("127.0.0.1")));
    let text = format!("{audit:?}");
    assert!(!text.contains(PASSWORD) && !text.contains("senha-errada-123"), "no password in the audit log");

    // Too many attempts from one address are refused for a while.
    let strict = spawn_app_on_with(&backend, |config| {
        config.limits.logins_per_ip_burst = 2;
        config.limits.logins_per_ip_per_minute = 1;
        config.panel.secure_cookies = true;
    })
    .await;
    add_user(&strict, "ana@loja.com.br", UserRole::Admin).await;
    let first = try_login(&strict, "ana@loja.com.br", PASSWORD, "").await;
    let (_, header) = set_cookie(&first, "atende_session").unwrap();
    assert!(header.contains("Secure"), "secure_cookies marks the cookie Secure: {header}");
    try_login(&strict, "ana@loja.com.br", "senha-errada-123", "").await;
    let throttled = try_login(&strict, "ana@loja.com.br", PASSWORD, "").await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(throttled.headers().contains_key("retry-after"));
    assert!(set_cookie(&throttled, "atende_session").is_none());
}

async fn operators_act_from_the_panel_with_csrf_and_viewers_cannot(backend: Backend) {
    let app = spawn_app_on(&backend).await;
    mount_gemini(&app.llm, "Seu pedido sai amanhã.").await;
    let outage = wiremock::Mock::given(method("POST"))
        .and(path("/api/messages/send"))
        .respond_with(ResponseTemplate::new(503))
        .mount_as_scoped(&app.whaticket)
        .await;
    app.post_generic(&generic("o1", CONTACT, "Meu pedido <script>alert(1)</script> chega quando?")).await;
    app.drain().await;
    drop(outage);
    mount_whaticket_ok(&app.whaticket).await;
    add_user(&app, "otto@loja.com.br", UserRole::Operator).await;
    add_user(&app, "vera@loja.com.br", UserRole::Viewer).await;
    let (operator, viewer) = (login(&app, "otto@loja.com.br").await, login(&app, "vera@loja.com.br").await);

    let dashboard = get(&app, "/painel", Some(&viewer)).await.text().await.unwrap();
    assert!(dashboard.contains("id=\"received\">1<") && dashboard.contains("id=\"sent\">0<"), "{dashboard}");
    assert!(dashboard.contains("id=\"dead\">1<"), "the failed delivery shows as a dead letter");

    let page = format!("/painel/conversations/acme/{CONTACT}");
    let html = get(&app, &page, Some(&operator)).await.text().await.unwrap();
    assert!(html.contains("alert(1)") && !html.contains("<script>alert(1)"), "customer text is escaped");
    assert!(html.contains("Seu pedido sai amanhã.") && html.contains("humor"), "transcript with mood");
    assert!(html.contains("id=\"ai-toggle\""), "operators get the actions");
    let seen = get(&app, &page, Some(&viewer)).await.text().await.unwrap();
    assert!(seen.contains("Seu pedido sai amanhã.") && !seen.contains("id=\"ai-toggle\""), "viewers only read");
    let listed = get(&app, "/painel/conversations?tenant=acme", Some(&viewer)).await.text().await.unwrap();
    assert!(listed.contains(&format!("/painel/conversations/acme/{CONTACT}")));

    let tenant = app.store.find_tenant("acme").await.unwrap().unwrap();
    let state = || async { app.store.find_conversation(tenant.id, CONTACT).await.unwrap().unwrap().state };
    let ai = format!("{page}/ai");
    let refused = post(&app, &ai, Some(&viewer), &[("csrf", &viewer.csrf), ("enabled", "false")]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN, "a viewer cannot pause the bot");
    let forged = post(&app, &ai, Some(&operator), &[("csrf", &viewer.csrf), ("enabled", "false")]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN, "another session's token is refused");
    let missing = post(&app, &ai, Some(&operator), &[("enabled", "false")]).await;
    assert_eq!(missing.status(), StatusCode::FORBIDDEN, "a form without a token is refused");
    assert_eq!(state().await, ConversationState::Bot, "refused forms change nothing");

    let paused = post(&app, &ai, Some(&operator), &[("csrf", &operator.csrf), ("enabled", "false")]).await;
    assert_eq!((paused.status(), location(&paused)), (StatusCode::SEE_OTHER, format!("{page}?ok=ai_off")));
    assert_eq!(state().await, ConversationState::Human);
    let shown = get(&app, &location(&paused), Some(&operator)).await.text().await.unwrap();
    assert!(shown.contains("Bot pausado"), "the page says what happened");
    let english = browser()
        .get(app.url(&page))
        .header(COOKIE, format!("{}; atende_lang=en", operator.cookie))
        .send()
        .await
        .unwrap();
    assert!(english.text().await.unwrap().contains("Give back to the bot"), "English switchable");

    // Dead letters: replay from the panel.
    let dead = app.store.list_dead_letters(&DeadLetterFilter::default()).await.unwrap();
    assert_eq!(dead.len(), 1);
    let id = dead[0].id;
    let list = get(&app, "/painel/dead-letters", Some(&viewer)).await.text().await.unwrap();
    assert!(list.contains(&format!("/painel/dead-letters/{id}")) && list.contains("503"), "{list}");
    let replay = format!("/painel/dead-letters/{id}/replay");
    assert_eq!(post(&app, &replay, Some(&viewer), &[("csrf", &viewer.csrf)]).await.status(), StatusCode::FORBIDDEN);
    let done = post(&app, &replay, Some(&operator), &[("csrf", &operator.csrf)]).await;
    assert_eq!(location(&done), format!("/painel/dead-letters/{id}?ok=replayed"));
    let again = post(&app, &replay, Some(&operator), &[("csrf", &operator.csrf)]).await;
    assert_eq!(location(&again), format!("/painel/dead-letters/{id}?error=conflict"), "not dead any more");
    app.drain().await;
    assert_eq!(app.store.find_job(id).await.unwrap().unwrap().state, JobState::Done);
    // The bot was paused before the replay: the old answer is not sent over the person's head.
    let conversation = app.store.find_conversation(tenant.id, CONTACT).await.unwrap().unwrap();
    let answer = app.store.list_messages(conversation.id).await.unwrap().pop().unwrap();
    assert_eq!((answer.body.as_str(), answer.status.as_str()), ("Seu pedido sai amanhã.", "cancelled"));
    let dashboard = get(&app, "/painel", Some(&viewer)).await.text().await.unwrap();
    assert!(dashboard.contains("id=\"sent\">0<") && dashboard.contains("id=\"dead\">0<"), "{dashboard}");

    let audit = app.store.list_audit(&AuditFilter { limit: 100, ..AuditFilter::default() }).await.unwrap();
    let actions: Vec<(&str, &str)> =
        audit.iter().filter(|e| e.action != "login").map(|e| (e.actor.as_str(), e.action.as_str())).collect();
    assert_eq!(actions, [("otto@loja.com.br", "dead_letter.replay"), ("otto@loja.com.br", "conversation.ai")]);
}

/// The fields of the persona form, with `instructions` and the preview `message`.
fn persona_form<'a>(csrf: &'a str, instructions: &'a str, message: &'a str, limit: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("tone", "acolhedor"),
        ("formality", "voce"),
        ("language", "pt-BR"),
        ("empathy", "on"),
        ("ai_enabled", "on"),
        ("greetings", "Olá!\nOi, tudo bem?"),
        ("max_ai_messages", limit),
        ("instructions", instructions),
        ("message", message),
    ]
}

async fn the_persona_preview_answers_the_draft_beside_the_saved_one_and_saving_makes_a_version(backend: Backend) {
    let app = spawn_app_on(&backend).await;
    mount_gemini(&app.llm, "Seu pedido chega amanhã.").await;
    wiremock::Mock::given(method("POST"))
        .and(path(GEMINI_PATH))
        .and(body_string_contains("Fale como um pirata"))
        .respond_with(gemini_text("Arrr, seu pedido chega amanhã, marujo!"))
        .with_priority(1)
        .mount(&app.llm)
        .await;
    mount_whaticket_ok(&app.whaticket).await;
    add_user(&app, "otto@loja.com.br", UserRole::Operator).await;
    add_user(&app, "vera@loja.com.br", UserRole::Viewer).await;
    let (operator, viewer) = (login(&app, "otto@loja.com.br").await, login(&app, "vera@loja.com.br").await);
    let tenant = app.store.find_tenant("acme").await.unwrap().unwrap();
    let page = "/painel/tenants/acme/persona";

    let listed = get(&app, "/painel/tenants", Some(&viewer)).await.text().await.unwrap();
    assert!(listed.contains(page), "the tenants page links the persona editor");
    let read_only = get(&app, page, Some(&viewer)).await.text().await.unwrap();
    assert!(read_only.contains("disabled") && !read_only.contains("id=\"save-button\""), "viewers only read");

    let preview = format!("{page}/preview");
    let fields = persona_form(&viewer.csrf, "Fale como um pirata.", "Quando chega meu pedido?", "");
    assert_eq!(post(&app, &preview, Some(&viewer), &fields).await.status(), StatusCode::FORBIDDEN);

    let fields = persona_form(&operator.csrf, "Fale como um pirata.", "Quando chega meu pedido?", "");
    let shown = post(&app, &preview, Some(&operator), &fields).await;
    assert_eq!(shown.status(), StatusCode::OK);
    let html = shown.text().await.unwrap();
    let column = |id: &str| {
        let at = html.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no {id} in {html}"));
        html[at..].split("</div>").next().unwrap().to_string()
    };
    assert!(column("preview-saved").contains("Seu pedido chega amanhã."), "{}", column("preview-saved"));
    assert!(column("preview-draft").contains("Arrr, seu pedido chega amanhã, marujo!"), "{}", column("preview-draft"));
    assert!(html.contains("Fale como um pirata."), "the unsaved draft stays in the form");
    let after = app.store.find_tenant("acme").await.unwrap().unwrap();
    assert_eq!(after.persona_version, tenant.persona_version, "a preview saves nothing");
    assert!(app.sent().await.is_empty(), "and sends nothing");
    assert!(!app.conversation_exists("preview").await);

    let bad = persona_form(&operator.csrf, "Fale como um pirata.", "", "muitas");
    let refused = post(&app, page, Some(&operator), &bad).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused.text().await.unwrap().contains("max_ai_messages"), "the error names the field");
    assert_eq!(app.store.find_tenant("acme").await.unwrap().unwrap().persona_version, tenant.persona_version);

    let good = persona_form(&operator.csrf, "Fale como um pirata.", "", "20");
    let saved = post(&app, page, Some(&operator), &good).await;
    assert_eq!((saved.status(), location(&saved)), (StatusCode::SEE_OTHER, format!("{page}?ok=saved")));
    let now = app.store.find_tenant("acme").await.unwrap().unwrap();
    assert_eq!(now.persona_version, tenant.persona_version + 1, "saving makes a new persona version");
    let persona = &now.settings.persona;
    assert_eq!(persona.instructions.as_deref(), Some("Fale como um pirata."));
    assert_eq!((persona.max_ai_messages, persona.greetings.len()), (Some(20), 2));
    assert_eq!(now.settings.whaticket, tenant.settings.whaticket, "the rest of the tenant is untouched");
    let filter = AuditFilter { action: Some("persona.".into()), limit: 10, ..AuditFilter::default() };
    let audit = app.store.list_audit(&filter).await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].after.as_ref().unwrap()["instructions"], "Fale como um pirata.");
    assert!(audit[0].before.as_ref().unwrap().get("instructions").is_none());

    app.post_generic(&generic("pp1", CONTACT, "Quando chega meu pedido?")).await;
    app.drain().await;
    assert_eq!(
        app.sent().await.last().unwrap()["body"],
        "Arrr, seu pedido chega amanhã, marujo!",
        "customers get the saved persona"
    );
}

async fn flags_change_at_run_time_and_dead_letters_go_in_bulk(backend: Backend) {
    let app = spawn_app_on(&backend).await;
    mount_gemini(&app.llm, "Oi!").await;
    let outage = wiremock::Mock::given(method("POST"))
        .and(path("/api/messages/send"))
        .respond_with(ResponseTemplate::new(503))
        .mount_as_scoped(&app.whaticket)
        .await;
    for (id, contact) in [("f1", CONTACT), ("f2", "5511888888888"), ("f3", "5511777777777")] {
        app.post_generic(&generic(id, contact, "Oi")).await;
    }
    app.drain().await;
    drop(outage);
    mount_whaticket_ok(&app.whaticket).await;
    add_user(&app, "otto@loja.com.br", UserRole::Operator).await;
    add_user(&app, "vera@loja.com.br", UserRole::Viewer).await;
    let (operator, viewer) = (login(&app, "otto@loja.com.br").await, login(&app, "vera@loja.com.br").await);

    // Flags: shown with their defaults, set by an operator, read at once.
    let page = "/painel/tenants/acme/flags";
    let html = get(&app, page, Some(&viewer)).await.text().await.unwrap();
    assert!(html.contains("id=\"flag-csat\"") && html.contains("on (padrão)"), "{html}");
    let off = [("csrf", operator.csrf.as_str()), ("flag", "csat"), ("value", "off")];
    let refused = post(&app, page, Some(&viewer), &[("csrf", &viewer.csrf), ("flag", "csat"), ("value", "off")]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let set = post(&app, page, Some(&operator), &off).await;
    assert_eq!(location(&set), format!("{page}?ok=flag_set"));
    let tenant = app.store.find_tenant("acme").await.unwrap().unwrap();
    assert_eq!(tenant.flags.get(Flag::Csat), Some(&FlagValue::Switch(false)));
    let bad =
        post(&app, page, Some(&operator), &[("csrf", &operator.csrf), ("flag", "csat"), ("value", "talvez")]).await;
    assert_eq!(location(&bad), format!("{page}?error=invalid"), "a value the flag does not take changes nothing");
    let unknown =
        post(&app, page, Some(&operator), &[("csrf", &operator.csrf), ("flag", "teleport"), ("value", "on")]).await;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    let back = post(&app, page, Some(&operator), &[("csrf", &operator.csrf), ("flag", "csat"), ("value", "")]).await;
    assert_eq!(location(&back), format!("{page}?ok=flag_set"));
    assert_eq!(
        app.store.find_tenant("acme").await.unwrap().unwrap().flags.get(Flag::Csat),
        None,
        "back to the default"
    );
    let model = [("csrf", operator.csrf.as_str()), ("flag", "llm_model"), ("value", "gemini-2.5-pro")];
    post(&app, page, Some(&operator), &model).await;
    let now = app.store.find_tenant("acme").await.unwrap().unwrap();
    assert_eq!(now.flags.text(Flag::LlmModel), Some("gemini-2.5-pro"));
    let filter = AuditFilter { action: Some("flag.".into()), limit: 10, ..AuditFilter::default() };
    let entries = app.store.list_audit(&filter).await.unwrap();
    assert_eq!(entries.len(), 3, "every change is audited");
    assert_eq!(entries[2].after.as_ref().unwrap()["value"], "off");
    assert_eq!(
        (entries[2].target.as_deref(), entries[1].before.as_ref().unwrap()["value"].as_str()),
        (Some("acme/csat"), Some("off"))
    );

    // Dead letters in bulk: the ticked ones only.
    let dead = app.store.list_dead_letters(&DeadLetterFilter::default()).await.unwrap();
    assert_eq!(dead.len(), 3);
    let (a, b, c) = (dead[0].id.to_string(), dead[1].id.to_string(), dead[2].id.to_string());
    let bulk = "/painel/dead-letters/bulk";
    let discard = [("csrf", operator.csrf.as_str()), ("id", &a), ("id", &b), ("action", "discard")];
    assert_eq!(
        post(&app, bulk, Some(&viewer), &[("csrf", &viewer.csrf), ("id", &a), ("action", "discard")]).await.status(),
        StatusCode::FORBIDDEN
    );
    let done = post(&app, bulk, Some(&operator), &discard).await;
    assert_eq!(location(&done), "/painel/dead-letters?ok=bulk_discarded");
    let left = app.store.list_dead_letters(&DeadLetterFilter::default()).await.unwrap();
    assert_eq!(left.iter().map(|j| j.id).collect::<Vec<_>>(), [dead[2].id], "only the ticked ones");
    let replay = [("csrf", operator.csrf.as_str()), ("id", &c), ("id", &a), ("action", "replay")];
    assert_eq!(location(&post(&app, bulk, Some(&operator), &replay).await), "/painel/dead-letters?ok=bulk_replayed");
    assert_eq!(
        app.store.find_job(dead[2].id).await.unwrap().unwrap().state,
        JobState::Queued,
        "the discarded one is left alone"
    );
    assert_eq!(app.store.find_job(dead[0].id).await.unwrap().unwrap().state, JobState::Discarded);
    let none = post(&app, bulk, Some(&operator), &[("csrf", &operator.csrf), ("action", "replay")]).await;
    assert_eq!(location(&none), "/painel/dead-letters?error=invalid");
}

async fn the_knowledge_base_is_searched_edited_and_imported_from_the_panel(backend: Backend) {
    let app = spawn_app_on(&backend).await;
    add_user(&app, "otto@loja.com.br", UserRole::Operator).await;
    add_user(&app, "vera@loja.com.br", UserRole::Viewer).await;
    let (operator, viewer) = (login(&app, "otto@loja.com.br").await, login(&app, "vera@loja.com.br").await);
    let tenant = app.store.find_tenant("acme").await.unwrap().unwrap();
    let page = "/painel/tenants/acme/knowledge";
    let csrf = operator.csrf.as_str();

    // Import: a Markdown file with one good entry, one without an answer.
    let file = "## Qual o prazo de entrega?\nEntregamos em até 5 dias úteis.\n\n## Vocês abrem no domingo?\n";
    let fields = [("csrf", viewer.csrf.as_str()), ("format", "markdown"), ("text", file)];
    assert_eq!(post(&app, &format!("{page}/import"), Some(&viewer), &fields).await.status(), StatusCode::FORBIDDEN);
    let imported = post(
        &app,
        &format!("{page}/import"),
        Some(&operator),
        &[("csrf", csrf), ("format", "markdown"), ("text", file)],
    )
    .await;
    assert_eq!(imported.status(), StatusCode::OK);
    let html = imported.text().await.unwrap();
    assert!(
        html.contains("id=\"kb-imported\"") && html.contains("1 adicionadas") && html.contains("1 ignoradas"),
        "{html}"
    );
    assert!(html.contains("linha 4"), "the skipped line is named: {html}");
    let bad = post(
        &app,
        &format!("{page}/import"),
        Some(&operator),
        &[("csrf", csrf), ("format", "csv"), ("text", "a,b\n1,2")],
    )
    .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST, "a CSV without question/answer columns is refused");

    // Add, then search the way the bot does.
    let add = [
        ("csrf", csrf),
        ("question", "Como troco um produto?"),
        ("answer", "Troca em até 30 dias com a nota."),
        ("tags", "troca, devolução"),
        ("enabled", "on"),
    ];
    let saved = post(&app, page, Some(&operator), &add).await;
    assert_eq!(location(&saved), format!("{page}?ok=kb_saved"));
    let entries = app.store.list_knowledge(tenant.id).await.unwrap();
    assert_eq!(entries.len(), 2);
    let troca = entries.iter().find(|e| e.question == "Como troco um produto?").unwrap();
    assert_eq!(troca.tags, ["troca", "devolução"]);
    let found = get(&app, &format!("{page}?q=prazo+de+entrega"), Some(&viewer)).await.text().await.unwrap();
    assert!(found.contains("Qual o prazo de entrega?") && !found.contains("Como troco um produto?"), "{found}");

    // Edit: the question itself can change; another entry's question is refused.
    let id = troca.id.to_string();
    let edit_page = get(&app, &format!("{page}?edit={id}"), Some(&operator)).await.text().await.unwrap();
    assert!(edit_page.contains("Troca em até 30 dias com a nota."), "the form is filled for editing");
    let edit = [
        ("csrf", csrf),
        ("id", id.as_str()),
        ("question", "Como faço uma troca?"),
        ("answer", "Troca em até 30 dias."),
        ("tags", "troca"),
    ];
    assert_eq!(location(&post(&app, page, Some(&operator), &edit).await), format!("{page}?ok=kb_saved"));
    let entries = app.store.list_knowledge(tenant.id).await.unwrap();
    let edited = entries.iter().find(|e| e.id == troca.id).unwrap();
    assert_eq!((edited.question.as_str(), edited.enabled), ("Como faço uma troca?", false), "unticked: off");
    assert_eq!(entries.len(), 2, "an edit changes the entry, it does not add one");
    let taken = [("csrf", csrf), ("id", id.as_str()), ("question", "Qual o prazo de entrega?"), ("answer", "x")];
    let refused = post(&app, page, Some(&operator), &taken).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused.text().await.unwrap().contains("Outra entrada já tem essa pergunta"));
    let empty =
        post(&app, page, Some(&operator), &[("csrf", csrf), ("question", "Só pergunta"), ("answer", " ")]).await;
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST, "an empty answer is refused");
    assert_eq!(app.store.list_knowledge(tenant.id).await.unwrap().len(), 2, "refused forms store nothing");

    let filter = AuditFilter { action: Some("knowledge.".into()), limit: 10, ..AuditFilter::default() };
    let actions: Vec<String> = app.store.list_audit(&filter).await.unwrap().into_iter().map(|e| e.action).collect();
    assert_eq!(actions, ["knowledge.update", "knowledge.add", "knowledge.import"]);
}

async fn admins_manage_users_and_changes_reach_live_sessions(backend: Backend) {
    let app = spawn_app_on(&backend).await;
    add_user(&app, "ana@loja.com.br", UserRole::Admin).await;
    let admin = login(&app, "ana@loja.com.br").await;
    let csrf = admin.csrf.as_str();

    let create = [("csrf", csrf), ("email", "Otto@Loja.com.br"), ("role", "operator"), ("password", PASSWORD)];
    let created = post(&app, "/painel/users", Some(&admin), &create).await;
    assert_eq!(location(&created), "/painel/users?ok=user_saved");
    for (fields, why) in [
        ([("csrf", csrf), ("email", "otto@loja.com.br"), ("role", "viewer"), ("password", PASSWORD)], "taken"),
        ([("csrf", csrf), ("email", "nao-e-email"), ("role", "viewer"), ("password", PASSWORD)], "bad e-mail"),
        ([("csrf", csrf), ("email", "bia@loja.com.br"), ("role", "viewer"), ("password", "curta")], "short password"),
        ([("csrf", csrf), ("email", "bia@loja.com.br"), ("role", "root"), ("password", PASSWORD)], "unknown role"),
    ] {
        let refused = post(&app, "/painel/users", Some(&admin), &fields).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{why}");
        assert!(refused.text().await.unwrap().contains("id=\"user-error\""), "{why}: the page says why");
    }
    let users = app.store.list_users().await.unwrap();
    assert_eq!(users.len(), 2, "refused forms create nobody");
    let otto = users.iter().find(|u| u.email.as_str() == "otto@loja.com.br").unwrap().clone();
    let operator = login(&app, "otto@loja.com.br").await;
    assert_eq!(
        get(&app, "/painel/users", Some(&operator)).await.status(),
        StatusCode::FORBIDDEN,
        "users are for admins"
    );

    // A role change applies to the next request of a live session.
    let path = format!("/painel/users/{}", otto.id.0);
    let demote = post(&app, &path, Some(&admin), &[("csrf", csrf), ("role", "viewer")]).await;
    assert_eq!(location(&demote), "/painel/users?ok=user_saved");
    let flags = [("csrf", operator.csrf.as_str()), ("flag", "csat"), ("value", "off")];
    let refused = post(&app, "/painel/tenants/acme/flags", Some(&operator), &flags).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN, "demoted at once");

    // Disabling ends their sessions; a new password does too.
    let disable = post(&app, &path, Some(&admin), &[("csrf", csrf), ("role", "viewer"), ("disabled", "true")]).await;
    assert_eq!(location(&disable), "/painel/users?ok=user_saved");
    assert!(location(&get(&app, "/painel", Some(&operator)).await).starts_with("/painel/login"), "signed out");
    assert_eq!(try_login(&app, "otto@loja.com.br", PASSWORD, "").await.status(), StatusCode::UNAUTHORIZED);
    post(&app, &path, Some(&admin), &[("csrf", csrf), ("role", "operator"), ("disabled", "false")]).await;
    let again = login(&app, "otto@loja.com.br").await;
    let reset =
        post(&app, &path, Some(&admin), &[("csrf", csrf), ("role", "operator"), ("password", "outra-senha-longa")])
            .await;
    assert_eq!(location(&reset), "/painel/users?ok=user_saved");
    assert!(
        location(&get(&app, "/painel", Some(&again)).await).starts_with("/painel/login"),
        "a new password signs out"
    );
    assert_eq!(try_login(&app, "otto@loja.com.br", "outra-senha-longa", "").await.status(), StatusCode::SEE_OTHER);

    // An admin cannot lock themselves out.
    let ana =
        app.store.list_users().await.unwrap().into_iter().find(|u| u.email.as_str() == "ana@loja.com.br").unwrap();
    let own = format!("/painel/users/{}", ana.id.0);
    for fields in [
        [("csrf", csrf), ("role", "admin"), ("disabled", "true")],
        [("csrf", csrf), ("role", "viewer"), ("disabled", "")],
    ] {
        assert_eq!(post(&app, &own, Some(&admin), &fields).await.status(), StatusCode::BAD_REQUEST);
    }
    let ana = app.store.find_user(&ana.email).await.unwrap().unwrap().user;
    assert_eq!((ana.role, ana.disabled), (UserRole::Admin, false));

    let filter = AuditFilter { action: Some("user.".into()), limit: 10, ..AuditFilter::default() };
    let entries = app.store.list_audit(&filter).await.unwrap();
    assert_eq!(entries.len(), 5, "one create, four changes");
    assert!(entries.iter().all(|e| e.actor == "ana@loja.com.br"));
    assert_eq!(entries[0].after.as_ref().unwrap()["password"], "changed");
    assert!(!format!("{entries:?}").contains("outra-senha-longa"), "never the password itself");
}
