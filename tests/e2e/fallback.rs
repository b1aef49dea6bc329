//! Fallback channels end to end: an answer Whaticket refuses for good goes to the team by
//! e-mail (a real SMTP session with a local sink) and to the customer by SMS (a Twilio-style
//! form post to a mock provider), once; a helpdesk down longer than `after_minutes` falls
//! back before the delivery's retries run out; a refusing mail server dead-letters the
//! e-mail job without the SMTP password anywhere.

use std::time::Duration;

use atende::domain::{Flag, JobKind, JobState};
use atende::store::JobRecord;
use base64::Engine;
use time::OffsetDateTime;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::*;
use crate::smtp::{Mail, SmtpSink};

const CONTACT: &str = "5511999999999";
const QUESTION: &str = "Vocês entregam em Campinas?";
const ANSWER: &str = "Entregamos, sim: em até 3 dias úteis.";
const SMTP_PASSWORD: &str = "smtp-pass-9f8e7d";
const SMS_TOKEN: &str = "twilio-auth-token-1a2b";

fn fallback(smtp: &SmtpSink, sms: &MockServer, extra: &str) -> String {
    format!(
        r#"[fallback]
{extra}
[fallback.email]
to = "SAC <sac@acme.com.br>"
from = "Atende <atende@acme.com.br>"
smtp_host = "127.0.0.1"
smtp_port = {port}
tls = "none"
username = "atende"
password = "{SMTP_PASSWORD}"
[fallback.sms]
url = "{sms}/2010-04-01/Accounts/AC123/Messages.json"
username = "AC123"
password = "{SMS_TOKEN}"
form = {{ To = "+{{to}}", From = "+15005550006", Body = "{{tenant}}: {{text}}" }}
"#,
        port = smtp.port,
        sms = sms.uri(),
    )
}

async fn mount_sms(sms: &MockServer, status: u16) {
    Mock::given(method("POST"))
        .and(path("/2010-04-01/Accounts/AC123/Messages.json"))
        .respond_with(ResponseTemplate::new(status).set_body_json(serde_json::json!({ "sid": "SM1" })))
        .mount(sms)
        .await;
}

async fn mount_whaticket(app: &TestApp, status: u16) {
    app.whaticket.reset().await;
    Mock::given(method("POST"))
        .and(path("/api/messages/send"))
        .respond_with(
            ResponseTemplate::new(status).set_body_json(serde_json::json!({ "error": "ERR_WAPP_NOT_INITIALIZED" })),
        )
        .mount(&app.whaticket)
        .await;
}

async fn jobs(app: &TestApp, kind: JobKind) -> Vec<JobRecord> {
    let tenant = app.store.find_tenant("acme").await.unwrap().unwrap();
    app.store.list_jobs(tenant.id, kind, 20).await.unwrap()
}

/// The SMS posts the provider received, as form fields.
async fn sms_posts(sms: &MockServer) -> Vec<(Vec<(String, String)>, String)> {
    let requests = sms.received_requests().await.unwrap_or_default();
    requests
        .iter()
        .map(|r| {
            let fields = url_form(&String::from_utf8_lossy(&r.body));
            let auth = r.headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
            (fields, auth)
        })
        .collect()
}

fn url_form(body: &str) -> Vec<(String, String)> {
    body.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (percent_decode(k), percent_decode(v)))
        .collect()
}

fn percent_decode(text: &str) -> String {
    unescape(&text.replace('+', " "), b'%')
}

/// Undoes `<marker><two hex digits>` escapes: `%C3%A3` in forms, `=C3=A3` in
/// quoted-printable.
fn unescape(text: &str, marker: u8) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = (bytes[i] == marker).then(|| text.get(i + 1..i + 3)).flatten();
        if let Some(byte) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// Headers and the decoded text of a mail (lettre picks quoted-printable or base64 for
/// non-ASCII text, and RFC 2047 encoded words for the subject).
fn decode(mail: &Mail) -> (String, String) {
    let (headers, body) = mail.data.split_once("\n\n").unwrap_or((&mail.data, ""));
    let unfolded = headers.replace("\n ", " ").replace("\n\t", " ");
    let subject = unfolded.lines().find_map(|l| l.strip_prefix("Subject: ")).unwrap_or_default();
    let subject = decode_header(subject);
    let encoding = unfolded.to_ascii_lowercase();
    let body = if encoding.contains("content-transfer-encoding: base64") {
        let compact: String = body.split_whitespace().collect();
        String::from_utf8(base64::engine::general_purpose::STANDARD.decode(compact).unwrap()).unwrap()
    } else if encoding.contains("content-transfer-encoding: quoted-printable") {
        quoted_printable(body)
    } else {
        body.to_string()
    };
    (subject, body.replace("\r\n", "\n"))
}

fn encoded_word(word: &str) -> Option<String> {
    let inner = word.strip_prefix("=?utf-8?b?").or_else(|| word.strip_prefix("=?UTF-8?B?"))?;
    let inner = inner.trim_end_matches("?=");
    Some(String::from_utf8(base64::engine::general_purpose::STANDARD.decode(inner).unwrap()).unwrap())
}

/// RFC 2047: the space between two encoded words is not part of the text.
fn decode_header(value: &str) -> String {
    let mut out = String::new();
    let mut last_encoded = false;
    for (i, word) in value.split(' ').enumerate() {
        let decoded = encoded_word(word);
        if i > 0 && !(last_encoded && decoded.is_some()) {
            out.push(' ');
        }
        last_encoded = decoded.is_some();
        out.push_str(&decoded.unwrap_or_else(|| word.to_string()));
    }
    out
}

fn quoted_printable(body: &str) -> String {
    unescape(&body.replace("=\n", ""), b'=')
}

on_each_backend!(
    an_answer_the_helpdesk_refuses_goes_to_the_team_by_email_and_to_the_customer_by_sms,
    a_helpdesk_down_longer_than_after_minutes_falls_back_before_the_retries_run_out,
    an_sla_breach_is_emailed_to_the_team_once_when_the_tenant_asks,
);

async fn an_sla_breach_is_emailed_to_the_team_once_when_the_tenant_asks(backend: Backend) {
    let app = spawn_app_on(&backend).await;
    let (smtp, sms) = (SmtpSink::start().await, MockServer::start().await);
    let handoff = "[handoff]\nsla_minutes = 10\nescalation_email = true\n";
    let file = crate::handoff::handoff_tenant(&app, handoff) + &fallback(&smtp, &sms, "");
    app.apply_tenant(&file).await;
    crate::handoff::mount_whaticket_tickets(&app.whaticket).await;

    let response = app.post_generic(&generic("e1", CONTACT, "Quero falar com um atendente")).await;
    assert_eq!(response.status(), 202);
    app.drain().await; // the virtual clock passes the SLA deadline
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1, "one e-mail to the team");
    assert_eq!(mails[0].to, ["sac@acme.com.br"]);
    let (subject, body) = decode(&mails[0]);
    assert_eq!(subject, "Atende: Maria (+5511999999999) espera um atendente além do prazo");
    assert!(body.contains("Motivo: customer_asked") && body.contains("Prazo: "), "{body}");
    assert!(body.contains("Resumo:\nCliente: Maria"), "the hand-off summary is in it: {body}");
    let tenant = app.store.find_tenant("acme").await.unwrap().unwrap();
    let jobs = app.store.list_jobs(tenant.id, JobKind::Fallback, 10).await.unwrap();
    assert_eq!(jobs.iter().map(|j| j.state).collect::<Vec<_>>(), [JobState::Done]);
    app.drain().await;
    assert_eq!(smtp.mails().len(), 1, "a breach is e-mailed once");

    // Without [fallback.email] the key is refused when the file is applied.
    let lonely: atende::config::tenant::TenantFile =
        toml::from_str(&tenant_toml(&app.llm.uri(), &app.whaticket.uri(), handoff)).unwrap();
    let refused = lonely.validate().unwrap_err();
    assert!(refused.contains("handoff.escalation_email") && refused.contains("[fallback.email]"), "{refused}");
}

async fn an_answer_the_helpdesk_refuses_goes_to_the_team_by_email_and_to_the_customer_by_sms(backend: Backend) {
    let app = spawn_app_on(&backend).await;
    let (smtp, sms) = (SmtpSink::start().await, MockServer::start().await);
    app.apply_tenant(&tenant_toml(&app.llm.uri(), &app.whaticket.uri(), &fallback(&smtp, &sms, ""))).await;
    mount_gemini(&app.llm, ANSWER).await;
    mount_whaticket(&app, 400).await;
    mount_sms(&sms, 201).await;

    let response = app.post_generic(&generic("f-1", CONTACT, QUESTION)).await;
    assert_eq!(response.status(), 202);
    app.drain().await;

    assert_eq!(app.sent().await.len(), 1, "a permanent refusal is not retried");
    let deliver = jobs(&app, JobKind::Deliver).await;
    assert_eq!(deliver[0].state, JobState::Dead, "the helpdesk never took it: a dead letter, replayable");
    let fallback = jobs(&app, JobKind::Fallback).await;
    assert_eq!(fallback.len(), 2, "{fallback:?}");
    assert!(fallback.iter().all(|j| j.state == JobState::Done), "{fallback:?}");
    assert!(fallback.iter().all(|j| j.correlation_id == deliver[0].correlation_id), "one correlation id throughout");

    let mails = smtp.mails();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].to, ["sac@acme.com.br"]);
    assert_eq!(mails[0].from, "atende@acme.com.br");
    assert_eq!(mails[0].login.as_deref(), Some(format!("atende:{SMTP_PASSWORD}").as_str()), "logged in");
    let (subject, body) = decode(&mails[0]);
    assert!(subject.contains("resposta não entregue") && subject.contains(&format!("Maria (+{CONTACT})")), "{subject}");
    assert!(body.contains(&format!("Pergunta:\n{QUESTION}")), "{body}");
    assert!(body.contains(&format!("Resposta do Atende:\n{ANSWER}")), "{body}");
    assert!(body.contains("HTTP 400"), "the team is told why: {body}");
    assert!(!body.contains(WHATICKET_TOKEN) && !body.contains(SMTP_PASSWORD), "{body}");

    let posts = sms_posts(&sms).await;
    assert_eq!(posts.len(), 1);
    let (fields, auth) = &posts[0];
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    assert_eq!(field("To"), Some(format!("+{CONTACT}").as_str()));
    assert_eq!(field("From"), Some("+15005550006"));
    assert_eq!(field("Body"), Some(format!("ACME Ltda: {ANSWER}").as_str()));
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("AC123:{SMS_TOKEN}"));
    assert_eq!(auth, &format!("Basic {basic}"));

    // Replaying the dead letter tries the helpdesk again, but never falls back twice.
    assert!(app.store.replay_dead_letter(deliver[0].id, OffsetDateTime::now_utc()).await.unwrap());
    app.drain().await;
    assert_eq!(app.sent().await.len(), 2);
    assert_eq!((smtp.mails().len(), sms_posts(&sms).await.len()), (1, 1));
}

async fn a_helpdesk_down_longer_than_after_minutes_falls_back_before_the_retries_run_out(backend: Backend) {
    let app = spawn_app_on_with(&backend, |config| config.queue.deliver_max_attempts = 20).await;
    let (smtp, sms) = (SmtpSink::start().await, MockServer::start().await);
    let extra = fallback(&smtp, &sms, "after_minutes = 10");
    app.apply_tenant(&tenant_toml(&app.llm.uri(), &app.whaticket.uri(), &extra)).await;
    mount_gemini(&app.llm, ANSWER).await;
    mount_whaticket(&app, 503).await;
    mount_sms(&sms, 201).await;
    app.post_generic(&generic("f-2", CONTACT, QUESTION)).await;

    // A minute of outage: still retrying (at most 7 attempts fit, jitter or not), nothing
    // else sent.
    let start = OffsetDateTime::now_utc();
    app.drain_from(start, Duration::from_secs(60)).await;
    assert!(app.sent().await.len() >= 3, "the delivery is being retried");
    assert!(smtp.mails().is_empty() && sms_posts(&sms).await.is_empty(), "not yet: under after_minutes");
    // Past ten minutes of refusals the answer falls back, while the delivery keeps trying.
    app.drain_from(start + time::Duration::minutes(11), Duration::ZERO).await;
    assert_eq!((smtp.mails().len(), sms_posts(&sms).await.len()), (1, 1));
    let deliver = jobs(&app, JobKind::Deliver).await;
    assert_eq!(deliver[0].state, JobState::Queued, "{deliver:?}");

    // The helpdesk is back: the answer arrives there too, with no second fallback.
    mount_whaticket(&app, 200).await;
    app.drain_from(start + time::Duration::minutes(12), Duration::from_secs(86_400)).await;
    assert_eq!(app.sent().await.len(), 1, "delivered once the helpdesk took it");
    assert_eq!(jobs(&app, JobKind::Deliver).await[0].state, JobState::Done);
    assert_eq!((smtp.mails().len(), sms_posts(&sms).await.len()), (1, 1));
}

#[tokio::test]
async fn a_mail_server_that_refuses_dead_letters_the_email_and_the_sms_still_goes() {
    let app = spawn_app().await;
    let (smtp, sms) = (SmtpSink::refusing().await, MockServer::start().await);
    app.apply_tenant(&tenant_toml(&app.llm.uri(), &app.whaticket.uri(), &fallback(&smtp, &sms, ""))).await;
    mount_gemini(&app.llm, ANSWER).await;
    mount_whaticket(&app, 400).await;
    mount_sms(&sms, 201).await;
    app.post_generic(&generic("f-3", CONTACT, QUESTION)).await;
    app.drain().await;

    let fallback = jobs(&app, JobKind::Fallback).await;
    let email = fallback.iter().find(|j| j.payload["channel"] == "email").unwrap();
    assert_eq!((email.state, email.attempts), (JobState::Dead, 1), "a 550 is final: {email:?}");
    let error = email.last_error.clone().unwrap_or_default();
    assert!(error.starts_with("email: the SMTP server refused the mail") && error.contains("550"), "{error}");
    let shown =
        serde_json::to_string(&fallback.iter().map(|j| (&j.last_error, &j.payload)).collect::<Vec<_>>()).unwrap();
    assert!(!shown.contains(SMTP_PASSWORD) && !shown.contains(SMS_TOKEN), "{shown}");
    assert_eq!(sms_posts(&sms).await.len(), 1, "the SMS does not wait for the e-mail");
    let sms_job = fallback.iter().find(|j| j.payload["channel"] == "sms").unwrap();
    assert_eq!(sms_job.state, JobState::Done);
}

#[tokio::test]
async fn without_fallback_channels_a_refused_answer_is_only_a_dead_letter() {
    let app = spawn_app().await;
    app.apply_tenant(&tenant_toml(&app.llm.uri(), &app.whaticket.uri(), "")).await;
    mount_gemini(&app.llm, ANSWER).await;
    mount_whaticket(&app, 400).await;
    app.post_generic(&generic("f-4", CONTACT, QUESTION)).await;
    app.drain().await;
    assert_eq!(jobs(&app, JobKind::Deliver).await[0].state, JobState::Dead);
    assert!(jobs(&app, JobKind::Fallback).await.is_empty());
}

#[tokio::test]
async fn the_fallback_sms_flag_leaves_only_the_email() {
    let app = spawn_app().await;
    let (smtp, sms) = (SmtpSink::start().await, MockServer::start().await);
    app.apply_tenant(&tenant_toml(&app.llm.uri(), &app.whaticket.uri(), &fallback(&smtp, &sms, ""))).await;
    let tenant = app.store.find_tenant("acme").await.unwrap().unwrap();
    let off = Flag::FallbackSms.value("off").unwrap();
    assert!(app.store.set_flag(tenant.id, Flag::FallbackSms, Some(off), OffsetDateTime::now_utc()).await.unwrap());
    mount_gemini(&app.llm, ANSWER).await;
    mount_whaticket(&app, 400).await;
    mount_sms(&sms, 201).await;
    app.post_generic(&generic("f-5", CONTACT, QUESTION)).await;
    app.drain().await;

    let channels: Vec<String> =
        jobs(&app, JobKind::Fallback).await.iter().map(|j| j.payload["channel"].to_string()).collect();
    assert_eq!(channels, ["\"email\""]);
    assert_eq!((smtp.mails().len(), sms_posts(&sms).await.len()), (1, 0));
}
