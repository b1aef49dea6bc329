//! The admin JSON API: every operation's token and role check (a crawl driven by the
//! published OpenAPI document), conversations, the AI switch, close, dead letters, audit.

use atende::domain::{ConversationState, Email, JobState, UserRole};
use atende::secrets::{ApiToken, hash_password};
use atende::store::{DeadLetterFilter, NewUser};
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use time::OffsetDateTime;
use wiremock::ResponseTemplate;
use wiremock::matchers::{method, path};

use crate::helpers::*;

on_each_backend!(
    every_operation_refuses_missing_bad_and_revoked_tokens_and_lower_roles,
    conversations_are_listed_shown_paused_resumed_and_closed_with_audit,
    dead_letters_are_listed_replayed_and_discarded_through_the_api,
    a_workflow_hands_off_and_sends_as_the_bot,
);

const CONTACT: &str = "5511999999999";

/// Tokens of one user per role (plus a revoked one and a disabled user's).
struct Tokens {
    viewer: String,
    operator: String,
    admin: String,
    revoked: String,
    disabled: String,
}

impl Tokens {
    fn of(&self, role: UserRole) -> &str {
        match role {
            UserRole::Viewer => &self.viewer,
            UserRole::Operator => &self.operator,
            UserRole::Admin => &self.admin,
        }
    }
}

async fn user_with_token(app: &TestApp, login: &str, role: UserRole) -> (atende::domain::UserId, ApiToken) {
    let hash = hash_password(&"senha-muito-boa".to_string().into()).unwrap();
    let login = Email::parse(login).unwrap();
    let now = OffsetDateTime::now_utc();
    let user = NewUser { email: &login, password_hash: &hash, role };
    let id = app.store.create_user(&user, now).await.unwrap().unwrap();
    let token = ApiToken::generate();
    app.store.create_api_token(id, "teste", &token.digest, None, now).await.unwrap();
    (id, token)
}

async fn tokens(app: &TestApp) -> Tokens {
    let secret = |t: &ApiToken| t.secret.expose_secret().to_string();
    let (_, viewer) = user_with_token(app, "vera@loja.com.br", UserRole::Viewer).await;
    let (_, operator) = user_with_token(app, "otto@loja.com.br", UserRole::Operator).await;
    let (admin_id, admin) = user_with_token(app, "ana@loja.com.br", UserRole::Admin).await;
    let (disabled_id, disabled) = user_with_token(app, "dani@loja.com.br", UserRole::Admin).await;
    let now = OffsetDateTime::now_utc();
    let revoked = ApiToken::generate();
    let revoked_id = app.store.create_api_token(admin_id, "antigo", &revoked.digest, None, now).await.unwrap();
    assert!(app.store.revoke_api_token(revoked_id, now).await.unwrap());
    let off = atende::store::UserChange { disabled: Some(true), ..Default::default() };
    assert!(app.store.update_user(disabled_id, &off, now).await.unwrap());
    Tokens {
        viewer: secret(&viewer),
        operator: secret(&operator),
        admin: secret(&admin),
        revoked: secret(&revoked),
        disabled: secret(&disabled),
    }
}

async fn call(
    app: &TestApp,
    verb: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = app.client.request(verb, app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("{verb_path} answered non-JSON: {text}", verb_path = path));
    (status, body)
}

async fn get(app: &TestApp, path: &str, token: &str) -> Value {
    let (status, body) = call(app, Method::GET, path, Some(token), None).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    body
}

/// Every (verb, concrete path, role, body) the published document lists.
async fn documented_operations(app: &TestApp) -> Vec<(Method, String, UserRole, Option<Value>)> {
    let response = app.client.get(app.url("/api/v1/openapi.json")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "the document is public");
    let doc: Value = response.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut operations = Vec::new();
    for (template, item) in doc["paths"].as_object().unwrap() {
        for (verb, operation) in item.as_object().unwrap() {
            let role = match operation["x-atende-role"].as_str().unwrap() {
                "viewer" => UserRole::Viewer,
                "operator" => UserRole::Operator,
                "admin" => UserRole::Admin,
                other => panic!("{verb} {template}: unknown role {other}"),
            };
            let concrete = template.replace("{tenant}", "acme").replace("{contact}", CONTACT).replace("{id}", "999999");
            assert!(!concrete.contains('{'), "{template} has a parameter the crawl does not know");
            // A well-formed body, so a sufficient role reaches the handler.
            let body = operation["requestBody"]["content"]["application/json"]["schema"]["properties"].as_object().map(
                |fields| {
                    let filled = fields.iter().map(|(name, schema)| {
                        let value = match schema["type"].as_str() {
                            Some("boolean") => json!(true),
                            Some("integer") => json!(1),
                            _ => json!("x"),
                        };
                        (name.clone(), value)
                    });
                    Value::Object(filled.collect())
                },
            );
            operations.push((verb.to_uppercase().parse().unwrap(), concrete, role, body));
        }
    }
    operations
}

async fn every_operation_refuses_missing_bad_and_revoked_tokens_and_lower_roles(backend: Backend) {
    let app = spawn_app_on(&backend).await;
    let tokens = tokens(&app).await;
    let operations = documented_operations(&app).await;
    assert!(operations.len() >= 15, "the document lists every operation: {}", operations.len());
    for needed in [UserRole::Viewer, UserRole::Operator, UserRole::Admin] {
        assert!(operations.iter().any(|(.., role, _)| *role == needed), "some operation needs {needed:?}");
    }

    for (verb, path, needed, body) in &operations {
        let what = format!("{verb} {path}");
        let no_token = app.client.request(verb.clone(), app.url(path)).send().await.unwrap();
        assert_eq!(no_token.status(), StatusCode::UNAUTHORIZED, "{what} without a token");
        assert_eq!(no_token.headers()["www-authenticate"], "Bearer", "{what}");
        let error: Value = no_token.json().await.unwrap();
        assert_eq!(error["error"]["code"], "unauthorized", "{what}: {error}");

        for bad in ["atd_not-a-real-token", tokens.revoked.as_str(), tokens.disabled.as_str()] {
            let (status, error) = call(&app, verb.clone(), path, Some(bad), body.clone()).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{what} with a bad, revoked or disabled token");
            assert_eq!(error["error"]["code"], "unauthorized");
        }
        for role in [UserRole::Viewer, UserRole::Operator, UserRole::Admin] {
            let (status, answer) = call(&app, verb.clone(), path, Some(tokens.of(role)), body.clone()).await;
            if role.allows(*needed) {
                assert!(
                    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN && status.is_client_error()
                        || status.is_success(),
                    "{what} as {role:?} (needs {needed:?}) answered {status}: {answer}"
                );
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{what} as {role:?} must be refused (needs {needed:?})");
                assert_eq!(answer["error"]["code"], "forbidden");
                assert!(answer["error"]["message"].as_str().unwrap().contains(needed.as_str()), "{answer}");
            }
        }
    }

    // Nothing the viewer or operator tried changed anything an admin could see.
    let audit = get(&app, "/api/v1/audit", &tokens.admin).await;
    assert!(audit["entries"].as_array().unwrap().iter().all(|e| e["actor"] != "vera@loja.com.br"), "{audit}");
    let me = get(&app, "/api/v1/me", &tokens.operator).await;
    assert_eq!((me["email"].as_str(), me["role"].as_str()), (Some("otto@loja.com.br"), Some("operator")));
    let (status, error) = call(&app, Method::GET, "/api/v1/nothing-here", Some(&tokens.admin), None).await;
    assert_eq!((status, error["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));

    // The tenant as an admin sees it: applied settings with every secret masked.
    let (status, shown) = call(&app, Method::GET, "/api/v1/tenants/acme", Some(&tokens.admin), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["settings"]["whaticket"]["url"], app.whaticket.uri());
    let text = shown.to_string();
    for secret in [SECRET, TOKEN, WHATICKET_TOKEN] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    let listed = get(&app, "/api/v1/tenants", &tokens.viewer).await;
    assert_eq!(listed["tenants"][0]["slug"], "acme");
    assert!(!listed.to_string().contains(SECRET));
    let (status, _) = call(&app, Method::GET, "/api/v1/tenants/nope", Some(&tokens.admin), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn conversations_are_listed_shown_paused_resumed_and_closed_with_audit(backend: Backend) {
    let app = spawn_app_on(&backend).await;
    let tokens = tokens(&app).await;
    mount_gemini(&app.llm, "Seu pedido sai amanhã.").await;
    mount_whaticket_ok(&app.whaticket).await;
    app.post_generic(&generic("c1", CONTACT, "Quando chega meu pedido?")).await;
    app.post_generic(&generic("c2", "5511888888888", "Oi")).await;
    app.drain().await;
    assert_eq!(app.sent().await.len(), 2);

    let base = "/api/v1/tenants/acme/conversations";
    let listed = get(&app, base, &tokens.viewer).await;
    let rows = listed["conversations"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{listed}");
    assert!(rows.iter().all(|r| r["state"] == "bot" && r["ai"] == true), "{listed}");
    let one = get(&app, &format!("{base}?limit=1"), &tokens.viewer).await;
    assert_eq!(one["conversations"].as_array().unwrap().len(), 1);

    let shown = get(&app, &format!("{base}/{CONTACT}"), &tokens.viewer).await;
    let messages = shown["messages"].as_array().unwrap();
    let texts: Vec<(&str, &str)> =
        messages.iter().map(|m| (m["direction"].as_str().unwrap(), m["body"].as_str().unwrap())).collect();
    assert_eq!(texts, [("inbound", "Quando chega meu pedido?"), ("outbound", "Seu pedido sai amanhã.")], "{shown}");
    assert!(messages[0]["sentiment"].is_number(), "mood per inbound message: {shown}");
    assert!(messages[1]["meta"].is_object(), "what the answer used: {shown}");

    // Pause the bot: the next message is stored but not answered.
    let ai = format!("{base}/{CONTACT}/ai");
    let (status, paused) =
        call(&app, Method::PUT, &ai, Some(&tokens.operator), Some(json!({ "enabled": false }))).await;
    assert_eq!(status, StatusCode::OK, "{paused}");
    assert_eq!(paused["state"], "human");
    let tenant = app.store.find_tenant("acme").await.unwrap().unwrap();
    let stored = app.store.find_conversation(tenant.id, CONTACT).await.unwrap().unwrap();
    assert_eq!(stored.state, ConversationState::Human);
    app.post_generic(&generic("c3", CONTACT, "Alguém aí?")).await;
    app.drain().await;
    assert_eq!(app.sent().await.len(), 2, "the bot stays silent while AI is off");
    let humans = get(&app, &format!("{base}?state=human"), &tokens.viewer).await;
    let contacts: Vec<&str> =
        humans["conversations"].as_array().unwrap().iter().map(|c| c["contact"].as_str().unwrap()).collect();
    assert_eq!(contacts, [CONTACT]);

    let (status, resumed) = call(&app, Method::PUT, &ai, Some(&tokens.admin), Some(json!({ "enabled": true }))).await;
    assert_eq!((status, resumed["state"].as_str()), (StatusCode::OK, Some("bot")));

    let (status, closed) =
        call(&app, Method::POST, &format!("{base}/{CONTACT}/close"), Some(&tokens.operator), None).await;
    assert_eq!(status, StatusCode::OK, "{closed}");
    assert_eq!((closed["state"].as_str(), closed["changed"].as_bool()), (Some("closed"), Some(true)));
    let stored = app.store.find_conversation(tenant.id, CONTACT).await.unwrap().unwrap();
    assert_eq!(stored.state, ConversationState::Closed);
    let (_, again) = call(&app, Method::POST, &format!("{base}/{CONTACT}/close"), Some(&tokens.operator), None).await;
    assert_eq!(again["changed"], false, "closing twice changes nothing: {again}");

    // Every change is in the audit log with who, from where, before and after.
    let audit = get(&app, "/api/v1/audit?action=conversation.", &tokens.admin).await;
    let entries = audit["entries"].as_array().unwrap();
    let seen: Vec<(&str, &str, Value, Value)> = entries
        .iter()
        .rev()
        .map(|e| {
            assert_eq!(e["target"], format!("acme/{CONTACT}"));
            assert_eq!(e["ip"], "127.0.0.1");
            (
                e["actor"].as_str().unwrap(),
                e["action"].as_str().unwrap(),
                e["before"].clone(),
                e["after"]["state"].clone(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("otto@loja.com.br", "conversation.ai", json!({ "state": "bot" }), json!("human")),
            ("ana@loja.com.br", "conversation.ai", json!({ "state": "human" }), json!("bot")),
            ("otto@loja.com.br", "conversation.close", json!({ "state": "bot" }), json!("closed")),
        ]
    );

    // Bad input: a clear 400 or 404, nothing changed.
    for (verb, path, body, status) in [
        (Method::GET, format!("{base}?state=sleeping"), None, StatusCode::BAD_REQUEST),
        (Method::GET, format!("{base}?limit=0"), None, StatusCode::BAD_REQUEST),
        (Method::GET, format!("{base}?limit=many"), None, StatusCode::BAD_REQUEST),
        (Method::GET, format!("{base}/not-a-number"), None, StatusCode::BAD_REQUEST),
        (Method::GET, format!("{base}/5511000000000"), None, StatusCode::NOT_FOUND),
        (Method::GET, "/api/v1/tenants/nope/conversations".to_string(), None, StatusCode::NOT_FOUND),
        (Method::PUT, ai.clone(), Some(json!({ "enabled": "yes" })), StatusCode::BAD_REQUEST),
        (Method::PUT, ai.clone(), Some(json!({})), StatusCode::BAD_REQUEST),
        (Method::PUT, ai.clone(), Some(json!({ "enabled": false, "extra": 1 })), StatusCode::BAD_REQUEST),
        (Method::PUT, format!("{base}/5511000000000/ai"), Some(json!({ "enabled": false })), StatusCode::NOT_FOUND),
    ] {
        let (got, error) = call(&app, verb.clone(), &path, Some(&tokens.admin), body).await;
        assert_eq!(got, status, "{verb} {path}: {error}");
        assert!(error["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{error}");
    }
    let response = app.client.put(app.url(&ai)).bearer_auth(&tokens.admin).body("{not json").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let stored = app.store.find_conversation(tenant.id, CONTACT).await.unwrap().unwrap();
    assert_eq!(stored.state, ConversationState::Closed, "bad requests change nothing");
    assert_eq!(
        get(&app, "/api/v1/audit?action=conversation.", &tokens.admin).await["entries"].as_array().unwrap().len(),
        3
    );
}

async fn dead_letters_are_listed_replayed_and_discarded_through_the_api(backend: Backend) {
    let app = spawn_app_on(&backend).await;
    let tokens = tokens(&app).await;
    mount_gemini(&app.llm, "Seu boleto vence dia 10.").await;
    let outage = wiremock::Mock::given(method("POST"))
        .and(path("/api/messages/send"))
        .respond_with(ResponseTemplate::new(503))
        .mount_as_scoped(&app.whaticket)
        .await;
    app.post_generic(&generic("dl1", CONTACT, "Boleto?")).await;
    app.post_generic(&generic("dl2", "5511888888888", "Boleto?")).await;
    app.drain().await;
    drop(outage);
    mount_whaticket_ok(&app.whaticket).await;

    let listed = get(&app, "/api/v1/dead-letters?kind=deliver", &tokens.viewer).await;
    let letters = listed["dead_letters"].as_array().unwrap();
    assert_eq!(letters.len(), 2, "{listed}");
    assert!(letters.iter().all(|l| l["state"] == "dead" && l["tenant"] == "acme"));
    let (first, second) = (letters[0]["id"].as_i64().unwrap(), letters[1]["id"].as_i64().unwrap());
    let shown = get(&app, &format!("/api/v1/dead-letters/{first}"), &tokens.viewer).await;
    assert_eq!(shown["history"].as_array().unwrap().len(), 3, "every failed attempt: {shown}");
    let (status, _) = call(&app, Method::GET, "/api/v1/dead-letters?kind=teleport", Some(&tokens.viewer), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = call(&app, Method::GET, "/api/v1/dead-letters/abc", Some(&tokens.viewer), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let replay = format!("/api/v1/dead-letters/{first}/replay");
    let (status, _) = call(&app, Method::POST, &replay, Some(&tokens.viewer), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a viewer cannot replay");
    let (status, answer) = call(&app, Method::POST, &replay, Some(&tokens.operator), None).await;
    assert_eq!((status, answer["state"].as_str()), (StatusCode::OK, Some("queued")), "{answer}");
    let (status, error) = call(&app, Method::POST, &replay, Some(&tokens.operator), None).await;
    assert_eq!((status, error["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("conflict")), "{error}");
    app.drain().await;
    let delivered = app.sent().await;
    assert_eq!(delivered.last().unwrap()["body"], "Seu boleto vence dia 10.");
    let job = app.store.find_job(atende::domain::JobId(first)).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Done);

    let discard = format!("/api/v1/dead-letters/{second}/discard");
    let (status, answer) = call(&app, Method::POST, &discard, Some(&tokens.operator), None).await;
    assert_eq!((status, answer["state"].as_str()), (StatusCode::OK, Some("discarded")));
    assert!(app.store.list_dead_letters(&DeadLetterFilter::default()).await.unwrap().is_empty());
    let (status, _) =
        call(&app, Method::POST, "/api/v1/dead-letters/999999/replay", Some(&tokens.operator), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let audit = get(&app, "/api/v1/audit?action=dead_letter.", &tokens.admin).await;
    let actions: Vec<(&str, &str, &str)> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["actor"].as_str().unwrap(), e["action"].as_str().unwrap(), e["target"].as_str().unwrap()))
        .collect();
    let (first, second) = (format!("job:{first}"), format!("job:{second}"));
    assert_eq!(
        actions,
        [
            ("otto@loja.com.br", "dead_letter.discard", second.as_str()),
            ("otto@loja.com.br", "dead_letter.replay", first.as_str()),
        ]
    );
}

async fn a_workflow_hands_off_and_sends_as_the_bot(backend: Backend) {
    let app = spawn_app_on(&backend).await;
    let handoff_text = "Vou chamar alguém da nossa equipe.";
    let extra = format!("[handoff]\ntext = \"{handoff_text}\"\n");
    app.apply_tenant(&tenant_toml(&app.llm.uri(), &app.whaticket.uri(), &extra)).await;
    let tokens = tokens(&app).await;
    mount_gemini(&app.llm, "Posso ajudar com o pedido.").await;
    mount_whaticket_ok(&app.whaticket).await;
    app.post_generic(&generic("w1", CONTACT, "Quero falar do meu pedido")).await;
    app.drain().await;
    assert_eq!(app.sent().await.len(), 1);

    let base = format!("/api/v1/tenants/acme/conversations/{CONTACT}");
    let handoff = format!("{base}/handoff");
    let (status, _) = call(&app, Method::POST, &handoff, Some(&tokens.viewer), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for (body, why) in [
        (json!({ "reason": "Cliente VIP!" }), "a reason must be a label"),
        (json!({ "reason": "" }), "an empty reason"),
        (json!({ "motivo": "x" }), "an unknown field"),
    ] {
        let (status, error) = call(&app, Method::POST, &handoff, Some(&tokens.operator), Some(body)).await;
        assert_eq!(
            (status, error["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_payload")),
            "{why}"
        );
    }
    let (status, opened) =
        call(&app, Method::POST, &handoff, Some(&tokens.operator), Some(json!({ "reason": "vip_customer" }))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{opened}");
    assert_eq!((opened["state"].as_str(), opened["reason"].as_str()), (Some("human"), Some("vip_customer")));
    let (status, error) = call(&app, Method::POST, &handoff, Some(&tokens.operator), None).await;
    assert_eq!((status, error["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("conflict")), "{error}");

    app.drain().await;
    let sent = app.sent().await;
    assert_eq!(sent.last().unwrap()["body"], handoff_text, "the customer hears the hand-off text: {sent:?}");
    let handoffs = get(&app, "/api/v1/tenants/acme/handoffs", &tokens.viewer).await;
    let listed = &handoffs["handoffs"][0];
    assert_eq!(
        (listed["reason"].as_str(), listed["contact"].as_str()),
        (Some("vip_customer"), Some(CONTACT)),
        "{handoffs}"
    );
    assert!(
        listed["summary"].as_str().is_some_and(|s| s.contains("pedido")),
        "the handoff job wrote a summary: {listed}"
    );
    let before = app.sent().await.len();
    app.post_generic(&generic("w2", CONTACT, "Oi? Alguém?")).await;
    app.drain().await;
    assert_eq!(app.sent().await.len(), before, "the bot is silent while a person has it");

    let messages = format!("{base}/messages");
    for (body, status) in [
        (json!({ "text": "   " }), StatusCode::BAD_REQUEST),
        (json!({ "text": "x".repeat(4097) }), StatusCode::BAD_REQUEST),
        (json!({ "texto": "oi" }), StatusCode::BAD_REQUEST),
    ] {
        let (got, error) = call(&app, Method::POST, &messages, Some(&tokens.operator), Some(body)).await;
        assert_eq!(got, status, "{error}");
    }
    let unknown = "/api/v1/tenants/acme/conversations/5511000000000";
    let (got, _) = call(&app, Method::POST, &format!("{unknown}/handoff"), Some(&tokens.operator), None).await;
    assert_eq!(got, StatusCode::NOT_FOUND);
    let (got, _) =
        call(&app, Method::POST, &format!("{unknown}/messages"), Some(&tokens.operator), Some(json!({ "text": "oi" })))
            .await;
    assert_eq!(got, StatusCode::NOT_FOUND);
    let (status, queued) = call(
        &app,
        Method::POST,
        &messages,
        Some(&tokens.operator),
        Some(json!({ "text": " Seu reembolso foi aprovado. " })),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    app.drain().await;
    let sent = app.sent().await;
    assert_eq!(sent.len(), before + 1);
    assert_eq!(sent.last().unwrap(), &json!({ "number": CONTACT, "body": "Seu reembolso foi aprovado." }));
    let tenant = app.store.find_tenant("acme").await.unwrap().unwrap();
    let conversation = app.store.find_conversation(tenant.id, CONTACT).await.unwrap().unwrap();
    assert_eq!(conversation.state, ConversationState::Human, "sending as the bot does not take the conversation back");
    let stored = app.store.list_messages(conversation.id).await.unwrap();
    let last = stored.last().unwrap();
    assert_eq!((last.body.as_str(), last.status.as_str()), ("Seu reembolso foi aprovado.", "sent"));
    assert_eq!(last.meta.as_ref().unwrap()["by"], "otto@loja.com.br");
    assert_eq!(
        last.correlation_id,
        queued["correlation_id"].as_str().unwrap(),
        "the correlation id follows the message"
    );

    let audit = get(&app, "/api/v1/audit?action=conversation.", &tokens.admin).await;
    let actions: Vec<&str> =
        audit["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["conversation.send", "conversation.handoff"]);
}
