//! The panel in real headless Chromium: `tests/browser/panel.mjs` (playwright-core) signs in
//! with a wrong and a right password, previews a persona draft, pauses the bot, replays a dead letter, logs out, and
//! checks that a viewer cannot edit. `.ci/run` installs Debian's Chromium and the script's
//! one npm package; without them the test says so and skips.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use atende::domain::{ConversationState, Email, JobState, UserRole};
use atende::secrets::hash_password;
use atende::store::{DeadLetterFilter, NewUser};
use time::OffsetDateTime;
use wiremock::ResponseTemplate;
use wiremock::matchers::{body_string_contains, method, path};

use crate::helpers::*;

const CONTACT: &str = "5511999999999";
const PASSWORD: &str = "senha-muito-boa";

#[tokio::test]
async fn panel_flows_in_headless_chromium() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let chromium = std::env::var("ATENDE_TEST_CHROMIUM").unwrap_or_default();
    if chromium.is_empty() || !script.join("node_modules/playwright-core").is_dir() {
        eprintln!(
            "skipping the browser test: set ATENDE_TEST_CHROMIUM (e.g. /usr/bin/chromium) and run \
             `npm ci` in tests/browser (.ci/run does both)"
        );
        return;
    }
    let app = spawn_app().await;
    mount_gemini(&app.llm, "Seu pedido sai amanhã.").await;
    wiremock::Mock::given(method("POST"))
        .and(path(GEMINI_PATH))
        .and(body_string_contains("Fale como um pirata"))
        .respond_with(gemini_text("Arrr, seu pedido sai amanhã, marujo!"))
        .with_priority(1)
        .mount(&app.llm)
        .await;
    let outage = wiremock::Mock::given(method("POST"))
        .and(path("/api/messages/send"))
        .respond_with(ResponseTemplate::new(503))
        .mount_as_scoped(&app.whaticket)
        .await;
    app.post_generic(&generic("b1", CONTACT, "Quando chega meu pedido?")).await;
    app.drain().await;
    drop(outage);
    let dead = app.store.list_dead_letters(&DeadLetterFilter::default()).await.unwrap();
    assert_eq!(dead.len(), 1);
    let hash = hash_password(&PASSWORD.to_string().into()).unwrap();
    for (login, role) in [("otto@loja.com.br", UserRole::Operator), ("vera@loja.com.br", UserRole::Viewer)] {
        let email = Email::parse(login).unwrap();
        let user = NewUser { email: &email, password_hash: &hash, role };
        app.store.create_user(&user, OffsetDateTime::now_utc()).await.unwrap().unwrap();
    }

    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser-artifacts");
    let run = tokio::process::Command::new("node")
        .arg(script.join("panel.mjs"))
        .env("ATENDE_URL", format!("http://{}", app.addr))
        .env("ATENDE_TEST_CHROMIUM", &chromium)
        .env("ATENDE_PASSWORD", PASSWORD)
        .env("ATENDE_OPERATOR", "otto@loja.com.br")
        .env("ATENDE_VIEWER", "vera@loja.com.br")
        .env("ATENDE_TENANT", "acme")
        .env("ATENDE_CONTACT", CONTACT)
        .env("ATENDE_DEAD_LETTER", dead[0].id.to_string())
        .env("ATENDE_ARTIFACTS", &artifacts)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), run).await.expect("the browser run ends").unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    println!("{stdout}");
    assert!(output.status.success(), "browser flows failed:\n{stdout}\n{stderr}");
    assert!(stdout.matches("ok - ").count() >= 15, "every step ran:\n{stdout}");

    // What the browser did is what the store holds.
    let tenant = app.store.find_tenant("acme").await.unwrap().unwrap();
    let conversation = app.store.find_conversation(tenant.id, CONTACT).await.unwrap().unwrap();
    assert_eq!(conversation.state, ConversationState::Human, "paused from the browser; the viewer changed nothing");
    let job = app.store.find_job(dead[0].id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Queued, "replayed from the browser");
    assert!(artifacts.join("06-viewer-read-only.png").is_file(), "screenshots are kept as artefacts");
}
