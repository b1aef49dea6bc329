//! The `atende` binary as an operator runs it: tenant files, checks, dead letters, and
//! `serve` end to end with JSON logs that carry one correlation id through every job.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wiremock::MockServer;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::*;

fn atende(db_url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_atende"))
        .args(args)
        .env("ATENDE_DATABASE_URL", db_url)
        .env_remove("ATENDE_LANG")
        .env_remove("ATENDE_CONFIG")
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap()
}

fn text(output: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn write_tenant(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    path.display().to_string()
}

on_each_backend!(migrate_reports_its_status_and_refuses_a_schema_newer_than_the_binary);

async fn migrate_reports_its_status_and_refuses_a_schema_newer_than_the_binary(backend: Backend) {
    let db = TestDb::create(&backend).await;
    let migrated = atende(&db.url, &["migrate"]);
    assert!(migrated.status.success(), "{}", text(&migrated));
    let status = text(&atende(&db.url, &["migrate", "status"]));
    for version in ["1\tcreate core\taplicada", "2\tadd brain\taplicada"] {
        assert!(status.lines().any(|l| l == version), "{version:?} missing from\n{status}");
    }

    // A newer Atende migrated this database: this one must say so and change nothing.
    let checksum = match backend {
        Backend::Sqlite => "X'00'",
        Backend::Postgres(_) => "'\\x00'::bytea",
    };
    db.execute(format!(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (9999, 'from the future', TRUE, {checksum}, 0)"
    ))
    .await;
    let refused = atende(&db.url, &["migrate"]);
    assert!(!refused.status.success());
    assert!(text(&refused).contains("newer than this binary") && text(&refused).contains("9999"), "{}", text(&refused));
    let status = text(&atende(&db.url, &["migrate", "status"]));
    assert!(status.contains("9999\t?\tdesconhecida"), "{status}");
}

#[test]
fn tenant_apply_is_idempotent_and_show_masks_every_secret() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("a.db").display());
    let file =
        write_tenant(dir.path(), "tenant.toml", &tenant_toml("http://127.0.0.1:9002", "http://127.0.0.1:9001", ""));

    let first = atende(&db, &["tenant", "apply", &file]);
    assert!(first.status.success(), "{}", text(&first));
    assert!(text(&first).contains("acme criado"), "{}", text(&first));
    let again = atende(&db, &["tenant", "apply", &file]);
    assert!(text(&again).contains("sem mudanças"), "{}", text(&again));

    let shown = atende(&db, &["tenant", "show", "acme"]);
    let out = text(&shown);
    assert!(shown.status.success() && out.contains("slug = \"acme\"") && out.contains("********"), "{out}");
    for secret in [SECRET, TOKEN, WHATICKET_TOKEN, "api_key = \"k\""] {
        assert!(!out.contains(secret), "{secret} leaked: {out}");
    }
}

#[test]
fn unknown_keys_in_a_tenant_file_fail_with_the_key_and_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("a.db").display());
    let bad = tenant_toml("http://127.0.0.1:9002", "http://127.0.0.1:9001", "temperatura = 0.3");
    let file = write_tenant(dir.path(), "bad.toml", &bad);
    let output = atende(&db, &["tenant", "apply", &file]);
    assert!(!output.status.success());
    let out = text(&output);
    assert!(out.contains("temperatura") && out.contains("bad.toml"), "{out}");
    let check = atende(&db, &["check", &file]);
    assert!(!check.status.success(), "{}", text(&check));
}

#[test]
fn check_prints_the_effective_configuration_and_names_unreadable_secret_files() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("a.db").display());
    let missing = atende(&db, &["check"]);
    assert!(!missing.status.success(), "check must not pass on a database that does not exist");
    assert!(text(&missing).contains("atende migrate"), "{}", text(&missing));
    assert!(!dir.path().join("a.db").exists(), "check must not create the database");

    assert!(atende(&db, &["migrate"]).status.success());
    let status = atende(&db, &["migrate", "status"]);
    assert!(text(&status).lines().any(|l| l.starts_with("1\t") && l.ends_with("aplicada")), "{}", text(&status));
    let ok = atende(&db, &["check"]);
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(text(&ok).contains("[queue]") && text(&ok).contains("debounce = \"3s\""), "{}", text(&ok));
    assert!(text(&ok).contains("chave mestra:"), "check reports the master key: {}", text(&ok));

    let key = dir.path().join("key");
    std::fs::write(&key, "k").unwrap();
    let toml = tenant_toml("http://127.0.0.1:9002", "http://127.0.0.1:9001", "")
        .replace("api_key = \"k\"", &format!("api_key_file = \"{}\"", key.display()));
    let file = write_tenant(dir.path(), "t.toml", &toml);
    assert!(atende(&db, &["tenant", "apply", &file]).status.success());
    std::fs::remove_file(&key).unwrap();
    let broken = atende(&db, &["check"]);
    assert!(!broken.status.success());
    assert!(text(&broken).contains("llm.api_key_file"), "{}", text(&broken));
}

#[tokio::test]
async fn dlq_list_show_and_replay_work_from_the_command_line() {
    let app = spawn_app().await;
    mount_gemini(&app.llm, "Resposta").await;
    let outage = Mock::given(method("POST"))
        .and(path("/api/messages/send"))
        .respond_with(ResponseTemplate::new(502))
        .mount_as_scoped(&app.whaticket)
        .await;
    app.post_generic(&generic("cli-1", "5511999999999", "Oi")).await;
    app.drain().await;
    let id = app.store.list_dead_letters(&Default::default()).await.unwrap()[0].id.to_string();

    let db = app.db_url.clone();
    let list = tokio::task::spawn_blocking(move || atende(&db, &["dlq", "list"])).await.unwrap();
    assert!(text(&list).lines().any(|l| l.starts_with(&format!("{id}\tacme\tdeliver\t3"))), "{}", text(&list));
    let (db, job) = (app.db_url.clone(), id.clone());
    let show = tokio::task::spawn_blocking(move || atende(&db, &["dlq", "show", &job])).await.unwrap();
    let shown: Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(shown["state"], "dead");

    drop(outage);
    mount_whaticket_ok(&app.whaticket).await;
    let (db, job) = (app.db_url.clone(), id.clone());
    let replay = tokio::task::spawn_blocking(move || atende(&db, &["dlq", "replay", &job])).await.unwrap();
    assert!(replay.status.success() && text(&replay).contains("recolocado na fila"), "{}", text(&replay));
    app.drain().await;
    assert_eq!(app.sent().await.len(), 4);
    let db = app.db_url.clone();
    let again = tokio::task::spawn_blocking(move || atende(&db, &["dlq", "replay", &id])).await.unwrap();
    assert!(!again.status.success(), "replaying a delivered job must fail: {}", text(&again));
    let filter = atende::store::AuditFilter { action: Some("dead_letter.".into()), limit: 10, ..Default::default() };
    let audited = app.store.list_audit(&filter).await.unwrap();
    let seen: Vec<(&str, &str)> = audited.iter().map(|e| (e.actor.as_str(), e.action.as_str())).collect();
    assert_eq!(seen, [("cli", "dead_letter.replay")], "the replay is audited, the refusal is not");
}

#[tokio::test]
async fn conversation_close_from_the_command_line_asks_for_csat_like_a_closed_ticket() {
    let app = spawn_app().await;
    let csat = "[csat]\nenabled = true\ntext = \"De 1 a 5, como foi?\"\n";
    app.apply_tenant(&tenant_toml(&app.llm.uri(), &app.whaticket.uri(), csat)).await;
    mount_gemini(&app.llm, "Resposta").await;
    mount_whaticket_ok(&app.whaticket).await;
    app.post_generic(&generic("cc-1", "5511999999999", "Oi")).await;
    app.drain().await;

    let db = app.db_url.clone();
    let close = || {
        let db = db.clone();
        tokio::task::spawn_blocking(move || atende(&db, &["conversation", "close", "acme", "5511999999999"]))
    };
    let closed = close().await.unwrap();
    assert!(closed.status.success(), "{}", text(&closed));
    assert!(text(&closed).contains("pesquisa de satisfação na fila"), "{}", text(&closed));
    app.drain().await;
    assert_eq!(app.sent().await.last().unwrap()["body"], "De 1 a 5, como foi?", "the question goes out");
    let tenant = app.store.find_tenant("acme").await.unwrap().unwrap();
    assert_eq!(app.store.list_surveys(tenant.id, 10).await.unwrap().len(), 1);
    let again = close().await.unwrap();
    assert!(again.status.success() && text(&again).contains("já estava encerrado"), "{}", text(&again));
    assert_eq!(app.store.list_surveys(tenant.id, 10).await.unwrap().len(), 1, "never asked twice");
    let filter = atende::store::AuditFilter { action: Some("conversation.".into()), limit: 10, ..Default::default() };
    let audited = app.store.list_audit(&filter).await.unwrap();
    assert_eq!(audited.len(), 1, "one close changed something");
    assert_eq!((audited[0].actor.as_str(), audited[0].target.as_deref()), ("cli", Some("acme/5511999999999")));
    assert_eq!(audited[0].after.as_ref().unwrap()["csat"], "asked");
    let db = app.db_url.clone();
    let unknown = tokio::task::spawn_blocking(move || atende(&db, &["conversation", "close", "acme", "5511000000000"]));
    let unknown = unknown.await.unwrap();
    assert!(!unknown.status.success() && text(&unknown).contains("nenhuma conversa com"), "{}", text(&unknown));
}

#[tokio::test]
async fn events_log_lists_deliveries_without_the_receivers_query_string() {
    let app = spawn_app().await;
    let receiver = MockServer::start().await;
    let hook = format!("{}/hook?token=receiver-query-token", receiver.uri());
    let extra = format!("[[events]]\nurl = \"{hook}\"\nevents = [\"message.received\"]\nsecret = \"ev-secret\"\n");
    app.apply_tenant(&tenant_toml(&app.llm.uri(), &app.whaticket.uri(), &extra)).await;
    Mock::given(method("POST")).and(path("/hook")).respond_with(ResponseTemplate::new(500)).mount(&receiver).await;
    mount_gemini(&app.llm, "Olá").await;
    mount_whaticket_ok(&app.whaticket).await;
    app.post_generic(&generic("ev-1", "5511999999999", "Oi")).await;
    app.drain().await;

    let db = app.db_url.clone();
    let log = tokio::task::spawn_blocking(move || atende(&db, &["events", "log", "acme"])).await.unwrap();
    let out = text(&log);
    assert!(log.status.success(), "{out}");
    let row = out.lines().find(|l| l.contains("message.received")).unwrap_or_else(|| panic!("{out}"));
    assert!(row.contains("\tdead\t8/8\t") && row.contains("HTTP 500"), "{out}");
    assert!(row.contains(&format!("{}/hook", receiver.uri())) && !out.contains("receiver-query-token"), "{out}");
    let db = app.db_url.clone();
    let json = tokio::task::spawn_blocking(move || atende(&db, &["events", "log", "acme", "--json"])).await.unwrap();
    let rows: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(rows[0]["event"], "message.received");
    assert_eq!(rows[0]["state"], "dead");
    let db = app.db_url.clone();
    let unknown = tokio::task::spawn_blocking(move || atende(&db, &["events", "log", "nobody"])).await.unwrap();
    assert!(!unknown.status.success() && text(&unknown).contains("nobody"), "{}", text(&unknown));
}

#[tokio::test]
async fn csat_list_shows_the_mean_and_each_survey_with_its_rating() {
    let app = spawn_app().await;
    let extra = "[csat]\nenabled = true\n";
    app.apply_tenant(&tenant_toml(&app.llm.uri(), &app.whaticket.uri(), extra)).await;
    mount_gemini(&app.llm, "Abrimos às 8h.").await;
    mount_whaticket_ok(&app.whaticket).await;
    app.post_generic(&generic("c-1", "5511999999999", "Que horas vocês abrem?")).await;
    app.drain().await;
    let closed = serde_json::json!({ "event": "ticket.closed", "from": "5511999999999" });
    assert_eq!(app.post_generic(&closed).await.status(), 200);
    app.drain().await;
    app.post_generic(&generic("c-2", "5511999999999", "nota 4")).await;
    app.drain().await;

    let db = app.db_url.clone();
    let list = tokio::task::spawn_blocking(move || atende(&db, &["csat", "list", "acme"])).await.unwrap();
    let out = text(&list);
    assert!(list.status.success(), "{out}");
    assert!(out.starts_with("média (30 dias): 4.00 (1 notas)"), "{out}");
    let row = out.lines().find(|l| l.contains("5511999999999")).unwrap_or_else(|| panic!("{out}"));
    assert!(row.contains("\tclosed\t") && row.ends_with("\t4\tnota 4"), "{row}");
    let db = app.db_url.clone();
    let json = tokio::task::spawn_blocking(move || atende(&db, &["csat", "list", "acme", "--json"])).await.unwrap();
    let summary: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!((summary["mean_30d"].as_f64(), summary["ratings_30d"].as_i64()), (Some(4.0), Some(1)), "{summary}");
    assert_eq!(summary["surveys"][0]["rating"], 4, "{summary}");
    let db = app.db_url.clone();
    let unknown = tokio::task::spawn_blocking(move || atende(&db, &["csat", "list", "nobody"])).await.unwrap();
    assert!(!unknown.status.success() && text(&unknown).contains("nobody"), "{}", text(&unknown));
}

#[tokio::test]
async fn flags_set_list_and_unset_from_the_command_line_with_clear_errors() {
    let app = spawn_app().await;
    app.apply_tenant(&tenant_toml(&app.llm.uri(), &app.whaticket.uri(), "")).await;
    let run = |args: &'static [&'static str]| {
        let db = app.db_url.clone();
        tokio::task::spawn_blocking(move || atende(&db, args))
    };
    let set = run(&["flags", "set", "acme", "csat", "off"]).await.unwrap();
    assert!(set.status.success(), "{}", text(&set));
    assert_eq!(String::from_utf8_lossy(&set.stdout).trim(), "acme csat = off");
    let list = run(&["flags", "list", "acme"]).await.unwrap();
    let out = text(&list);
    assert!(out.lines().any(|l| l == "csat\toff\tdefinida"), "{out}");
    assert!(out.lines().any(|l| l == "ai\ton\tpadrão"), "{out}");
    let tenant = app.store.find_tenant("acme").await.unwrap().unwrap();
    assert!(!tenant.flags.on(atende::domain::Flag::Csat), "the running app reads what the CLI wrote");

    let unknown = run(&["flags", "set", "acme", "humor", "off"]).await.unwrap();
    let err = text(&unknown);
    assert!(!unknown.status.success() && err.contains("humor") && err.contains("humour"), "{err}");
    let bad = run(&["flags", "set", "acme", "ai", "talvez"]).await.unwrap();
    assert!(!bad.status.success() && text(&bad).contains("não é on nem off"), "{}", text(&bad));
    let model = run(&["flags", "set", "acme", "llm_provider", "terceiro"]).await.unwrap();
    assert!(!model.status.success() && text(&model).contains("não é um de: primary, fallback"), "{}", text(&model));
    let filter = atende::store::AuditFilter { action: Some("flag.".into()), limit: 10, ..Default::default() };
    let audited = app.store.list_audit(&filter).await.unwrap();
    assert_eq!(audited.len(), 1, "the change is audited, the refusals are not");
    assert_eq!((audited[0].actor.as_str(), audited[0].target.as_deref()), ("cli", Some("acme/csat")));
    assert_eq!(audited[0].after.as_ref().unwrap()["value"], "off");
    let nobody = run(&["flags", "list", "nobody"]).await.unwrap();
    assert!(!nobody.status.success() && text(&nobody).contains("nobody"), "{}", text(&nobody));

    let unset = run(&["flags", "unset", "acme", "csat"]).await.unwrap();
    assert!(unset.status.success(), "{}", text(&unset));
    let json = run(&["flags", "list", "acme", "--json"]).await.unwrap();
    let rows: Value = serde_json::from_slice(&json.stdout).unwrap();
    let csat = rows.as_array().unwrap().iter().find(|r| r["flag"] == "csat").unwrap();
    assert_eq!((csat["value"].as_str(), csat["default"].as_bool()), (Some("on"), Some(true)), "{rows}");
}

/// Starts `atende serve` on a free port and returns the child and the port.
fn serve(db_url: &str, envs: &[(&str, &str)]) -> (std::process::Child, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_atende"));
    command
        .arg("serve")
        .env("ATENDE_DATABASE_URL", db_url)
        .env("ATENDE_BIND", format!("127.0.0.1:{port}"))
        .env("ATENDE_QUEUE__DEBOUNCE", "0s")
        .env("ATENDE_QUEUE__POLL_INTERVAL", "50ms")
        .env("RUST_LOG", "info")
        .current_dir(std::env::temp_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in envs {
        command.env(k, v);
    }
    (command.spawn().unwrap(), port)
}

#[tokio::test]
async fn serve_answers_a_webhook_end_to_end_with_one_correlation_id_in_every_log_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("serve.db").display());
    let (llm, whaticket) = (MockServer::start().await, MockServer::start().await);
    mount_gemini(&llm, "Olá do Atende!").await;
    mount_whaticket_ok(&whaticket).await;
    let file = write_tenant(dir.path(), "t.toml", &tenant_toml(&llm.uri(), &whaticket.uri(), ""));
    let db2 = db.clone();
    assert!(
        tokio::task::spawn_blocking(move || atende(&db2, &["tenant", "apply", &file])).await.unwrap().status.success()
    );

    let log_dir = dir.path().join("logs");
    std::fs::create_dir(&log_dir).unwrap();
    std::fs::write(log_dir.join("atende.2020-01-01.log"), "{}\n").unwrap();
    let (mut child, port) = serve(&db, &[("ATENDE_LOG_DIR", log_dir.to_str().unwrap())]);
    let stdout = child.stdout.take().unwrap();
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    wait_healthy(&client, &base).await;
    let deadline = Instant::now() + Duration::from_secs(20);

    let response = post_generic_to(&client, &base, &generic("serve-1", "5511999999999", "Oi")).await;
    assert_eq!(response.status(), 202);
    let correlation = response.json::<Value>().await.unwrap()["correlation_id"].as_str().unwrap().to_string();

    while whaticket.received_requests().await.unwrap().is_empty() {
        assert!(Instant::now() < deadline, "no reply was delivered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A person writes from the helpdesk: that line names the contact, masked.
    let mut agent = generic("serve-2", "5511999999999", "Deixa comigo, Maria.");
    agent["from_me"] = json!(true);
    let response = post_generic_to(&client, &base, &agent).await;
    assert_eq!(response.status(), 200);
    tokio::time::sleep(Duration::from_millis(200)).await; // let the last log lines flush
    unsafe { libc_kill(child.id() as i32) };
    let status = child.wait().unwrap();
    assert!(status.success(), "SIGTERM must end atende cleanly: {status:?}");

    let logs: Vec<Value> = lines.lock().unwrap().iter().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert!(!logs.is_empty(), "logs are JSON lines");
    let ours: Vec<&Value> = logs.iter().filter(|l| l["correlation_id"] == correlation.as_str()).collect();
    let kinds: Vec<&str> = ours.iter().filter_map(|l| l["kind"].as_str()).collect();
    assert!(ours.iter().any(|l| l["fields"]["message"].is_null() && l["message"] == "message queued"), "{ours:?}");
    assert!(
        kinds.contains(&"reply") && kinds.contains(&"deliver"),
        "the correlation id must follow both jobs: {ours:?}"
    );
    let all = lines.lock().unwrap().join("\n");
    assert!(!all.contains(WHATICKET_TOKEN) && !all.contains(SECRET), "a secret reached the logs");
    let agent_line =
        logs.iter().find(|l| l["message"] == "a human agent wrote; the bot is paused for this conversation");
    assert_eq!(agent_line.map(|l| l["contact"].clone()), Some(json!("5511*******99")), "{logs:?}");
    assert_eq!(agent_line.map(|l| l["tenant"].clone()), Some(json!("acme")));
    assert!(!all.contains("5511999999999"), "a phone number reached the logs unmasked");
    assert!(ours.iter().all(|l| l["tenant_id"].is_string() || l["tenant_id"].is_number()), "{ours:?}");

    // ATENDE_LOG_DIR: the same lines in today's file; files past the retention are pruned.
    let files: Vec<String> =
        std::fs::read_dir(&log_dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert!(!files.contains(&"atende.2020-01-01.log".to_string()), "{files:?}");
    assert_eq!(files.len(), 1, "{files:?}");
    let written = std::fs::read_to_string(log_dir.join(&files[0])).unwrap();
    assert!(files[0].starts_with("atende.") && files[0].ends_with(".log"), "{files:?}");
    assert!(written.lines().any(|l| l.contains(&correlation) && l.contains("message queued")), "{written}");
    assert!(!written.contains("5511999999999") && !written.contains(SECRET));
    assert!(
        logs.iter().any(|l| l["level"] == "WARN"
            && l["message"].as_str().is_some_and(|m| m.contains("atende user add EMAIL --role admin"))),
        "a start with no users says how to create the first one"
    );
}

unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill_raw(pid: i32, sig: i32) -> i32;
}

/// Sends SIGTERM (libc is linked anyway; no extra crate for one call).
unsafe fn libc_kill(pid: i32) {
    unsafe { libc_kill_raw(pid, 15) };
}

fn atende_stdin(db_url: &str, args: &[&str], input: &str) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_atende"));
    command
        .args(args)
        .env("ATENDE_DATABASE_URL", db_url)
        .env_remove("ATENDE_LANG")
        .env_remove("ATENDE_CONFIG")
        .current_dir(std::env::temp_dir());
    output_with_stdin(command, input)
}

fn repo(path: &str) -> String {
    format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_sample_shop_works_from_the_command_line_with_no_api_key() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("shop.db").display());
    assert!(atende(&db, &["tenant", "apply", &repo("examples/loja-exemplo/tenant.toml")]).status.success());

    let import = atende(&db, &["kb", "import", "loja-exemplo", &repo("tests/fixtures/knowledge/loja_exemplo.csv")]);
    assert!(import.status.success(), "{}", text(&import));
    assert!(text(&import).contains("16 adicionadas"), "{}", text(&import));
    let again = atende(&db, &["kb", "import", "loja-exemplo", &repo("tests/fixtures/knowledge/loja_exemplo.csv")]);
    assert!(text(&again).contains("0 adicionadas, 0 atualizadas, 16 sem mudança"), "{}", text(&again));

    let search = atende(&db, &["kb", "search", "loja-exemplo", "qual o prazo de entrega para o nordeste?", "--json"]);
    let hits: Vec<Value> = serde_json::from_slice(&search.stdout).unwrap_or_else(|_| panic!("{}", text(&search)));
    assert!(hits[0]["question"].as_str().unwrap().to_lowercase().contains("prazo"), "{hits:?}");
    assert!(hits.windows(2).all(|w| w[0]["score"].as_f64() >= w[1]["score"].as_f64()), "best first");
    for key in ["id", "question", "answer", "score", "coverage"] {
        assert!(hits[0].get(key).is_some(), "missing {key}");
    }
    let text_args = ["kb", "search", "loja-exemplo", "qual o prazo de entrega para o nordeste?", "--json"];
    let search = atende(&db, &[&text_args[..], &["--engine", "database"]].concat());
    let hits: Vec<Value> = serde_json::from_slice(&search.stdout).unwrap_or_else(|_| panic!("{}", text(&search)));
    assert!(hits[0]["question"].as_str().unwrap().to_lowercase().contains("prazo"), "FTS5: {hits:?}");
    assert!(hits.windows(2).all(|w| w[0]["score"].as_f64() >= w[1]["score"].as_f64()), "best first");
    let wrong = atende(&db, &[&text_args[..], &["--engine", "elastic"]].concat());
    assert!(!wrong.status.success() && text(&wrong).contains("database"), "{}", text(&wrong));

    let md = atende(&db, &["kb", "import", "loja-exemplo", &repo("examples/loja-exemplo/conhecimento.md")]);
    assert!(md.status.success() && text(&md).contains("ignoradas"), "{}", text(&md));

    let input = "oi\nqual o prazo de entrega?\nquero falar com um atendente\n/sair\n";
    let chat = atende_stdin(&db, &["chat", "loja-exemplo"], input);
    let out = text(&chat);
    assert!(chat.status.success(), "{out}");
    assert!(out.contains("assistente virtual da Loja Exemplo"), "greeting on the first message: {out}");
    assert!(!out.contains("não consegui entender"), "a plain 'oi' gets the greeting, not the fallback: {out}");
    assert!(out.contains("dias úteis") && out.contains("kb:"), "{out}");
    assert!(out.contains("handoff (customer_asked)"), "{out}");
    assert_eq!(out.matches("handoff").count(), 1, "a greeting must not hand off: {out}");
}

#[test]
fn persona_history_and_rollback_restore_an_earlier_voice() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("p.db").display());
    let base = tenant_toml("http://127.0.0.1:9002", "http://127.0.0.1:9001", "");
    let first = write_tenant(dir.path(), "a.toml", &base.replace("[persona]", "[persona]\ntone = \"acolhedor\""));
    let second = write_tenant(dir.path(), "b.toml", &base.replace("[persona]", "[persona]\ntone = \"sarcástico\""));
    assert!(atende(&db, &["tenant", "apply", &first]).status.success());
    assert!(atende(&db, &["tenant", "apply", &second]).status.success());
    let history = text(&atende(&db, &["persona", "history", "acme"]));
    assert!(history.contains("v2 (atual)") && history.contains("sarcástico") && history.contains("v1"), "{history}");

    let rollback = atende(&db, &["persona", "rollback", "acme"]);
    assert!(rollback.status.success(), "{}", text(&rollback));
    let shown = text(&atende(&db, &["tenant", "show", "acme"]));
    assert!(shown.contains("acolhedor") && !shown.contains("sarcástico"), "{shown}");
    assert!(text(&atende(&db, &["persona", "history", "acme"])).contains("v3 (atual)"));
    let bad = atende(&db, &["persona", "rollback", "acme", "--to", "9"]);
    assert!(!bad.status.success() && text(&bad).contains("persona history"), "{}", text(&bad));
}

#[test]
fn eval_prints_metrics_per_label_and_ends_with_the_accuracy() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("e.db").display());
    for (detector, file) in [
        ("sentiment", "tests/eval/sentiment.jsonl"),
        ("injection", "tests/eval/injection.jsonl"),
        ("handoff", "tests/eval/handoff.jsonl"),
    ] {
        let output = atende(&db, &["eval", detector, &repo(file)]);
        let out = String::from_utf8_lossy(&output.stdout).to_string();
        assert!(output.status.success(), "{detector}: {}", text(&output));
        let last = out.trim_end().lines().last().unwrap();
        let accuracy: f64 = last.strip_prefix("accuracy=").unwrap_or_else(|| panic!("{out}")).parse().unwrap();
        assert!((0.0..=1.0).contains(&accuracy));
        assert!(out.contains("precision=") && out.contains("recall="), "{out}");
    }
    let bad = write_tenant(dir.path(), "bad.jsonl", "{\"text\": \"oi\"}\n");
    let output = atende(&db, &["eval", "sentiment", &bad]);
    assert!(!output.status.success() && text(&output).contains("line 1"), "{}", text(&output));
}

#[tokio::test]
async fn loadtest_sends_signed_webhooks_and_summarises_statuses_and_latency() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("load.db").display());
    let file = write_tenant(dir.path(), "t.toml", &tenant_toml("http://127.0.0.1:9", "http://127.0.0.1:9", ""));
    let db2 = db.clone();
    assert!(
        tokio::task::spawn_blocking(move || atende(&db2, &["tenant", "apply", &file])).await.unwrap().status.success()
    );
    let limits = [
        ("ATENDE_LIMITS__PER_IP_PER_SECOND", "100000"),
        ("ATENDE_LIMITS__PER_IP_BURST", "100000"),
        ("ATENDE_QUEUE__DEBOUNCE", "60s"),
    ];
    let (mut child, port) = serve(&db, &limits);
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while client.get(format!("http://127.0.0.1:{port}/health")).send().await.is_err() {
        assert!(Instant::now() < deadline, "atende serve did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let url = format!("http://127.0.0.1:{port}");
    let output = tokio::task::spawn_blocking(move || {
        let args = [
            "loadtest",
            "--url",
            &url,
            "--tenant",
            "acme",
            "--secret",
            SECRET,
            "-n",
            "200",
            "-c",
            "16",
            "--contacts",
            "20",
            "--prom",
        ];
        atende(&db, &args)
    })
    .await
    .unwrap();
    unsafe { libc_kill(child.id() as i32) };
    let _ = child.wait();
    let out = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(output.status.success(), "{}", text(&output));
    assert!(out.contains("enviadas: 200") && out.contains("aceitas: 200") && out.contains("erros: 0"), "{out}");
    assert!(out.contains("p99") && out.contains("req/s"), "{out}");
    assert!(out.contains("atende_loadtest_requests_total{status=\"202\"} 200"), "{out}");
    assert!(out.contains("atende_loadtest_latency_seconds{quantile=\"0.99\"}"), "{out}");

    let remote =
        atende("sqlite::memory:", &["loadtest", "--url", "http://10.1.2.3:8080", "--tenant", "acme", "--secret", "x"]);
    assert!(!remote.status.success() && text(&remote).contains("only target this machine"), "{}", text(&remote));
}

#[tokio::test]
async fn user_add_and_list_store_an_argon2_hash_audit_the_change_and_refuse_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("atende.db").display());
    let empty = atende(&db, &["user", "list"]);
    assert!(text(&empty).contains("atende user add EMAIL --role admin"), "{}", text(&empty));

    let added = atende_stdin(&db, &["user", "add", "Ana@Loja.com.br", "--role", "admin"], "senha-muito-boa\n");
    assert!(added.status.success(), "{}", text(&added));
    assert_eq!(String::from_utf8_lossy(&added.stdout).trim(), "usuário criado: ana@loja.com.br (admin)");
    let file = dir.path().join("senha");
    std::fs::write(&file, "outra-senha-boa\nignored\n").unwrap();
    let by_file = atende(&db, &["user", "add", "bruno@loja.com.br", "--password-file", file.to_str().unwrap()]);
    assert!(by_file.status.success(), "{}", text(&by_file));

    let refusals: [(&[&str], &str, &str); 4] = [
        (&["user", "add", "ana@loja.com.br"], "senha-muito-boa", "já existe um usuário com o e-mail ana@loja.com.br"),
        (&["user", "add", "carla@loja.com.br"], "curta", "pelo menos 10 caracteres"),
        (&["user", "add", "carla@loja.com.br", "--role", "root"], "senha-muito-boa", "papel desconhecido \"root\""),
        (&["user", "add", "carla"], "senha-muito-boa", "e-mail inválido"),
    ];
    for (args, password, expected) in refusals {
        let out = atende_stdin(&db, args, password);
        assert!(!out.status.success(), "{args:?}");
        assert!(text(&out).contains(expected), "{args:?}: {}", text(&out));
        assert!(!text(&out).contains(password), "the password is never echoed: {}", text(&out));
    }

    let list = atende(&db, &["user", "list"]);
    let out = text(&list);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["ana@loja.com.br\tadmin\tativo", "bruno@loja.com.br\toperator\tativo"]
    );

    let store = atende::store::connect(&db).await.unwrap();
    let email = atende::domain::Email::parse("bruno@loja.com.br").unwrap();
    let stored = store.find_user(&email).await.unwrap().unwrap();
    assert!(stored.password_hash.starts_with("$argon2id$"), "{}", stored.password_hash);
    assert!(atende::secrets::verify_password("outra-senha-boa", &stored.password_hash), "the file's first line");
    let audit = store.list_audit(&atende::store::AuditFilter { limit: 10, ..Default::default() }).await.unwrap();
    let entries: Vec<_> = audit.iter().map(|a| (a.actor.as_str(), a.action.as_str(), a.target.as_deref())).collect();
    assert_eq!(entries, [("cli", "user.add", Some("bruno@loja.com.br")), ("cli", "user.add", Some("ana@loja.com.br"))]);
    assert!(audit.iter().all(|a| !a.after.as_ref().unwrap().to_string().contains("senha")), "no password in the audit");
}

#[tokio::test]
async fn token_create_prints_the_token_once_stores_its_digest_and_revoke_stops_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("atende.db").display());
    let added = atende_stdin(&db, &["user", "add", "ana@loja.com.br", "--role", "admin"], "senha-muito-boa\n");
    assert!(added.status.success(), "{}", text(&added));

    let created = atende(&db, &["token", "create", "Ana@Loja.com.br", "--name", "n8n", "--expires", "90d"]);
    assert!(created.status.success(), "{}", text(&created));
    let stdout = String::from_utf8_lossy(&created.stdout).to_string();
    let token = stdout.trim();
    assert_eq!(stdout.lines().count(), 1, "only the token on stdout: {stdout}");
    assert!(atende::secrets::ApiToken::looks_valid(token), "{token}");

    let store = atende::store::connect(&db).await.unwrap();
    let now = time::OffsetDateTime::now_utc();
    let digest = atende::secrets::token_digest(token);
    let (id, owner) = store.token_user(&digest, now).await.unwrap().expect("the token authenticates its owner");
    assert_eq!(owner.email.as_str(), "ana@loja.com.br");
    let listed = store.list_api_tokens(None).await.unwrap();
    let expires = listed[0].expires_at.expect("90d expiry");
    assert!((expires - now - time::Duration::days(90)).abs() < time::Duration::minutes(5), "{expires}");

    let list = text(&atende(&db, &["token", "list"]));
    assert!(list.contains(&format!("{id}\tana@loja.com.br\tn8n\tativo")), "{list}");
    assert!(!list.contains(token), "the list never shows a token: {list}");

    let refusals: [(&[&str], &str); 4] = [
        (&["token", "create", "ninguem@loja.com.br", "--name", "x"], "nenhum usuário com o e-mail ninguem@loja.com.br"),
        (&["token", "create", "ana@loja.com.br", "--name", "x", "--expires", "logo"], "entre 1 minuto e 10 anos"),
        (&["token", "create", "ana@loja.com.br", "--name", " "], "--name precisa de 1 a 100 caracteres"),
        (&["token", "revoke", "999"], "nenhum token ativo com o id 999"),
    ];
    for (args, expected) in refusals {
        let out = atende(&db, args);
        assert!(!out.status.success(), "{args:?}");
        assert!(text(&out).contains(expected), "{args:?}: {}", text(&out));
    }
    assert_eq!(store.list_api_tokens(None).await.unwrap().len(), 1, "refused creations store nothing");

    let revoked = atende(&db, &["token", "revoke", &id.to_string()]);
    assert!(revoked.status.success(), "{}", text(&revoked));
    assert!(store.token_user(&digest, now).await.unwrap().is_none(), "a revoked token stops working");
    let again = atende(&db, &["token", "revoke", &id.to_string()]);
    assert!(!again.status.success() && text(&again).contains("nenhum token ativo"), "{}", text(&again));
    assert!(text(&atende(&db, &["token", "list"])).contains("\trevogado\t"));

    let audit = store.list_audit(&atende::store::AuditFilter { limit: 10, ..Default::default() }).await.unwrap();
    let actions: Vec<_> = audit.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, ["token.revoke", "token.create", "user.add"]);
    assert!(audit.iter().all(|a| !a.after.as_ref().unwrap().to_string().contains(token)), "no token in the audit");
}

#[tokio::test]
async fn notify_deploy_posts_a_signed_notice_retries_a_5xx_and_names_missing_settings() {
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/deploys"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&receiver)
        .await;
    Mock::given(method("POST")).and(path("/deploys")).respond_with(ResponseTemplate::new(200)).mount(&receiver).await;
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("monitoring_secret");
    std::fs::write(&secret_file, "mon-secret-123\n").unwrap();
    let url = format!("{}/deploys", receiver.uri());
    let (u, f) = (url.clone(), secret_file.clone());
    let sent = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_atende"))
            .args(["notify-deploy", "--version", "1.4.2", "--environment", "production"])
            .env("ATENDE_MONITORING__WEBHOOK_URL", &u)
            .env("ATENDE_MONITORING__WEBHOOK_SECRET_FILE", &f)
            .env_remove("ATENDE_MONITORING_WEBHOOK_SECRET")
            .env_remove("ATENDE_LANG")
            .current_dir(std::env::temp_dir())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(sent.status.success(), "{}", text(&sent));
    assert!(text(&sent).contains("aviso de deploy enviado: HTTP 200"), "{}", text(&sent));
    assert!(!text(&sent).contains("mon-secret-123"));
    let requests = receiver.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2, "the 503 was retried once");
    let last = requests.last().unwrap();
    let timestamp: i64 = last.headers["x-atende-timestamp"].to_str().unwrap().parse().unwrap();
    let signature = last.headers["x-atende-signature"].to_str().unwrap();
    assert_eq!(signature, atende::notify::sign("mon-secret-123", timestamp, &last.body));
    assert_eq!(last.headers["x-atende-event"], "deploy");
    let body: Value = serde_json::from_slice(&last.body).unwrap();
    assert_eq!((body["event"].as_str(), body["data"]["version"].as_str()), (Some("deploy"), Some("1.4.2")));
    assert_eq!(body["data"]["environment"], "production");
    assert_eq!(requests[0].headers["x-atende-delivery"], last.headers["x-atende-delivery"], "one id on every attempt");

    let no_url = atende("sqlite:///nonexistent.db", &["notify-deploy", "--version", "1"]);
    assert!(!no_url.status.success() && text(&no_url).contains("ATENDE_MONITORING__WEBHOOK_URL"), "{}", text(&no_url));
}
