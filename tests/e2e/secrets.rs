//! Tenant secrets at rest: encrypted under a master key that is generated on the first
//! run, required once values are encrypted, and rotated without restarting `serve`.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::helpers::*;

/// `atende` in `dir` (where the default key file `atende.key` lives), with no key or
/// language from the environment.
fn atende_command(dir: &Path, db_url: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_atende"));
    command
        .args(args)
        .env("ATENDE_DATABASE_URL", db_url)
        .env_remove("ATENDE_LANG")
        .env_remove("ATENDE_CONFIG")
        .env_remove("ATENDE_MASTER_KEY")
        .env_remove("ATENDE_MASTER_KEY_FILE")
        .current_dir(dir);
    command
}

/// Runs `atende` in `dir` with `envs` added.
fn atende_in(dir: &Path, db_url: &str, envs: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command = atende_command(dir, db_url, args);
    command.envs(envs.iter().copied());
    command.output().unwrap()
}

/// `atende serve` in `dir` on `port`, killed when dropped (a failing test leaves none behind).
struct Serve(std::process::Child);

impl Serve {
    fn start(dir: &Path, db_url: &str, port: u16, debounce: &str) -> Self {
        let mut command = atende_command(dir, db_url, &["serve"]);
        command
            .env("ATENDE_BIND", format!("127.0.0.1:{port}"))
            .env("ATENDE_HTTP__TENANT_CACHE_TTL", "0s")
            .env("ATENDE_QUEUE__DEBOUNCE", debounce)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        Self(command.spawn().unwrap())
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn out(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// The key lines of a key file.
fn keys(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

fn sqlite_settings(url: &str) -> String {
    let path = url.strip_prefix("sqlite://").unwrap();
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row("SELECT settings FROM tenants WHERE slug = 'acme'", [], |row| row.get(0)).unwrap()
}

on_each_backend!(tenant_secrets_are_encrypted_under_a_generated_key_which_is_then_required_and_rotates);

async fn tenant_secrets_are_encrypted_under_a_generated_key_which_is_then_required_and_rotates(backend: Backend) {
    let db = TestDb::create(&backend).await;
    let dir = tempfile::tempdir().unwrap();
    let tenant = dir.path().join("tenant.toml");
    std::fs::write(&tenant, tenant_toml("http://127.0.0.1:9", "http://127.0.0.1:9", "")).unwrap();
    let key_file = dir.path().join("atende.key");
    let run = |envs: &[(&str, &str)], args: &[&str]| atende_in(dir.path(), &db.url, envs, args);

    let applied = run(&[], &["tenant", "apply", tenant.to_str().unwrap()]);
    assert!(applied.status.success(), "{}", out(&applied));
    assert!(out(&applied).contains("atende.key"), "the first run says where the new key is: {}", out(&applied));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let first = keys(&key_file);
    assert_eq!((first.len(), first[0].len()), (1, 64), "{first:?}");
    if matches!(backend, Backend::Sqlite) {
        let stored = sqlite_settings(&db.url);
        assert!(stored.contains("enc:v1:"), "{stored}");
        for secret in [SECRET, TOKEN, WHATICKET_TOKEN, "old-secret", "\"api_key\":\"k\""] {
            assert!(!stored.contains(secret), "{secret} is stored in the clear: {stored}");
        }
    }
    let again = run(&[], &["tenant", "apply", tenant.to_str().unwrap()]);
    assert!(out(&again).contains("sem mudanças"), "a sealed row still compares equal: {}", out(&again));
    let shown = run(&[], &["tenant", "show", "acme"]);
    assert!(shown.status.success() && out(&shown).contains("********"), "{}", out(&shown));

    // The key file is gone: refuse, name the fix, and do not write a new key.
    let saved = dir.path().join("saved.key");
    std::fs::rename(&key_file, &saved).unwrap();
    let refused = run(&[], &["tenant", "show", "acme"]);
    assert!(!refused.status.success());
    assert!(out(&refused).contains("ATENDE_MASTER_KEY_FILE"), "{}", out(&refused));
    assert!(!key_file.exists(), "a new key must not replace the one the data needs");
    let wrong = MasterKeyHex::random();
    let refused = run(&[("ATENDE_MASTER_KEY", &wrong.0)], &["tenant", "show", "acme"]);
    assert!(!refused.status.success() && out(&refused).contains("ATENDE_MASTER_KEY"), "{}", out(&refused));
    assert!(!out(&refused).contains(&wrong.0), "the key itself is never printed");
    let from_env = run(&[("ATENDE_MASTER_KEY", &first[0])], &["tenant", "show", "acme"]);
    assert!(from_env.status.success(), "{}", out(&from_env));

    // Rotation: a new first key, the old one kept, every value re-encrypted.
    let moved = dir.path().join("keys").join("master.key");
    std::fs::create_dir(moved.parent().unwrap()).unwrap();
    std::fs::rename(&saved, &moved).unwrap();
    let file_env = [("ATENDE_MASTER_KEY_FILE", moved.to_str().unwrap())];
    let rotated = run(&file_env, &["secrets", "rotate-master"]);
    assert!(rotated.status.success(), "{}", out(&rotated));
    assert!(
        out(&rotated).contains("nova chave mestra:") && out(&rotated).contains("clientes recifrados: 1"),
        "{}",
        out(&rotated)
    );
    let now = keys(&moved);
    assert_eq!(now.len(), 2);
    assert_eq!(now[1], first[0], "the old key stays, after the new one");
    assert!(!out(&rotated).contains(&now[0]) && !out(&rotated).contains(&first[0]), "keys are never printed");
    let shown = run(&file_env, &["tenant", "show", "acme"]);
    assert!(shown.status.success(), "{}", out(&shown));
    let old_only = run(&[("ATENDE_MASTER_KEY", &first[0])], &["tenant", "show", "acme"]);
    assert!(!old_only.status.success(), "values are now under the new key: {}", out(&old_only));
    let new_only = run(&[("ATENDE_MASTER_KEY", &now[0])], &["tenant", "show", "acme"]);
    assert!(new_only.status.success(), "{}", out(&new_only));
    let env_rotation = run(&[("ATENDE_MASTER_KEY", &now[0])], &["secrets", "rotate-master"]);
    assert!(!env_rotation.status.success() && out(&env_rotation).contains("ATENDE_MASTER_KEY_FILE"));
}

/// 32 random bytes as hex, like `openssl rand -hex 32`.
struct MasterKeyHex(String);

impl MasterKeyHex {
    fn random() -> Self {
        Self((0..32).map(|_| format!("{:02x}", rand::random::<u8>())).collect())
    }
}

#[test]
fn a_database_written_before_encryption_is_encrypted_on_the_first_start_with_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("old.db").display());
    let tenant = dir.path().join("tenant.toml");
    let toml_text = tenant_toml("http://127.0.0.1:9", "http://127.0.0.1:9", "");
    std::fs::write(&tenant, &toml_text).unwrap();
    assert!(atende_in(dir.path(), &db, &[], &["tenant", "apply", tenant.to_str().unwrap()]).status.success());
    // As an earlier release stored it: the tenant file as plain JSON, and no key file.
    let plain = serde_json::to_string(&toml::from_str::<toml::Value>(&toml_text).unwrap()).unwrap();
    let conn = rusqlite::Connection::open(dir.path().join("old.db")).unwrap();
    conn.execute("UPDATE tenants SET settings = ?1", [&plain]).unwrap();
    drop(conn);
    std::fs::remove_file(dir.path().join("atende.key")).unwrap();

    let shown = atende_in(dir.path(), &db, &[], &["tenant", "show", "acme"]);
    assert!(shown.status.success(), "{}", out(&shown));
    assert!(dir.path().join("atende.key").exists());
    let stored = sqlite_settings(&db);
    assert!(stored.contains("enc:v1:") && !stored.contains(WHATICKET_TOKEN), "{stored}");
}

#[tokio::test]
async fn a_running_server_follows_a_master_key_rotation_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("serve.db").display());
    let tenant = dir.path().join("tenant.toml");
    std::fs::write(&tenant, tenant_toml("http://127.0.0.1:9", "http://127.0.0.1:9", "")).unwrap();
    let (d, url) = (dir.path().to_path_buf(), db.clone());
    let apply =
        tokio::task::spawn_blocking(move || atende_in(&d, &url, &[], &["tenant", "apply", tenant.to_str().unwrap()]));
    assert!(apply.await.unwrap().status.success());

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let _serve = Serve::start(dir.path(), &db, port, "60s");
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    wait_healthy(&client, &base).await;
    let send = async |id: &str| post_generic_to(&client, &base, &generic(id, "5511988887777", "Oi")).await;
    assert_eq!(send("before").await.status(), 202);

    let (d, url) = (dir.path().to_path_buf(), db.clone());
    let rotated = tokio::task::spawn_blocking(move || atende_in(&d, &url, &[], &["secrets", "rotate-master"]));
    let rotated = rotated.await.unwrap();
    assert!(rotated.status.success(), "{}", out(&rotated));
    // The server holds only the old key in memory; the row now names the new one.
    assert_eq!(
        send("after").await.status(),
        202,
        "the server re-reads the key file and verifies with the rotated secret"
    );
}

on_each_backend!(a_database_belongs_to_the_first_profile_that_uses_it_and_refuses_the_others);

async fn a_database_belongs_to_the_first_profile_that_uses_it_and_refuses_the_others(backend: Backend) {
    let db = TestDb::create(&backend).await;
    let dir = tempfile::tempdir().unwrap();
    let run = |envs: &[(&str, &str)], args: &[&str]| atende_in(dir.path(), &db.url, envs, args);

    let staging = run(&[], &["--profile", "staging", "tenant", "list"]);
    assert!(staging.status.success(), "{}", out(&staging));
    let production = run(&[("ATENDE_PROFILE", "production")], &["tenant", "list"]);
    assert!(!production.status.success(), "production must not use staging's database");
    assert!(
        out(&production).contains("\"staging\"") && out(&production).contains("ATENDE_DATABASE_URL"),
        "{}",
        out(&production)
    );
    assert!(run(&[("ATENDE_PROFILE", "staging")], &["tenant", "list"]).status.success());
    assert!(run(&[], &["tenant", "list"]).status.success(), "no profile, no check");
    let bad = run(&[], &["--profile", "Prod!", "tenant", "list"]);
    assert!(!bad.status.success() && out(&bad).contains("ATENDE_PROFILE"), "{}", out(&bad));
}

#[test]
fn a_profile_reads_its_own_config_file_and_not_the_default_one() {
    let dir = tempfile::tempdir().unwrap();
    let staging_db = dir.path().join("staging.db");
    std::fs::write(dir.path().join("atende.toml"), "[database]\nurl = \"sqlite://default.db\"\n").unwrap();
    std::fs::write(
        dir.path().join("atende.staging.toml"),
        format!("[database]\nurl = \"sqlite://{}\"\n", staging_db.display()),
    )
    .unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_atende"))
            .args(args)
            .env_remove("ATENDE_DATABASE_URL")
            .env_remove("ATENDE_CONFIG")
            .env_remove("ATENDE_PROFILE")
            .env_remove("ATENDE_LANG")
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let migrated = run(&["--profile", "staging", "migrate"]);
    assert!(migrated.status.success(), "{}", out(&migrated));
    assert!(staging_db.exists(), "the staging file chose the database");
    assert!(!dir.path().join("default.db").exists(), "atende.toml belongs to no profile");
}

/// The new secret `secrets rotate` printed: stdout is that one line and nothing else.
fn printed_secret(output: &Output) -> String {
    assert!(output.status.success(), "{}", out(output));
    let stdout = String::from_utf8(output.stdout.clone()).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "the secret alone on its own line: {stdout:?}");
    let secret = lines[0].to_string();
    assert!(secret.len() >= 32 && !secret.contains(char::is_whitespace), "{secret:?}");
    secret
}

on_each_backend!(inbound_secrets_rotate_with_a_grace_period_and_provider_secrets_are_set_beside_the_file);

async fn inbound_secrets_rotate_with_a_grace_period_and_provider_secrets_are_set_beside_the_file(backend: Backend) {
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let db = TestDb::create(&backend).await;
    let (llm, whaticket) = (MockServer::start().await, MockServer::start().await);
    mount_gemini(&llm, "Olá! Em que posso ajudar?").await;
    Mock::given(method("POST"))
        .and(path("/api/messages/send"))
        .and(header("authorization", "Bearer set-from-the-cli-0123456789"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({ "mensagem": "ok" })))
        .mount(&whaticket)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let tenant = dir.path().join("tenant.toml");
    std::fs::write(&tenant, tenant_toml(&llm.uri(), &whaticket.uri(), "")).unwrap();
    let cli = async |args: &[&str]| {
        let (d, url, args) =
            (dir.path().to_path_buf(), db.url.clone(), args.iter().map(|a| a.to_string()).collect::<Vec<_>>());
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            atende_in(&d, &url, &[], &args)
        })
        .await
        .unwrap()
    };
    let apply = cli(&["tenant", "apply", tenant.to_str().unwrap()]).await;
    assert!(apply.status.success(), "{}", out(&apply));

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let _serve = Serve::start(dir.path(), &db.url, port, "0s");
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    wait_healthy(&client, &base).await;
    let mut n = 0;
    let mut status_with = async |secret: &str| {
        n += 1;
        let body = generic(&format!("m{n}"), "5511988887777", "Oi");
        post_generic_signed_to(&client, &base, secret, &body).await.status().as_u16()
    };

    // A rotation keeps the file's secrets for the default 24 h grace period.
    let first = printed_secret(&cli(&["secrets", "rotate", "acme", "webhook"]).await);
    assert_eq!(status_with(&first).await, 202, "the new secret verifies at once");
    assert_eq!(status_with(SECRET).await, 202, "the file's secret still verifies during the grace period");

    // A rotation with no grace refuses every earlier secret, and re-applying the file
    // does not bring its secret back.
    let second = printed_secret(&cli(&["secrets", "rotate", "acme", "webhook", "--grace", "0"]).await);
    assert_ne!(first, second);
    assert_eq!(status_with(SECRET).await, 401);
    assert_eq!(status_with(&first).await, 401);
    assert_eq!(status_with(&second).await, 202);
    let again = cli(&["tenant", "apply", tenant.to_str().unwrap()]).await;
    assert!(again.status.success(), "{}", out(&again));
    assert_eq!(status_with(SECRET).await, 401, "tenant apply leaves rotations alone");
    let bad = cli(&["secrets", "rotate", "acme", "webhook", "--grace", "soon"]).await;
    assert!(!bad.status.success() && out(&bad).contains("--grace"), "{}", out(&bad));

    // The inbound token rotates the same way.
    let raw: serde_json::Value =
        serde_json::from_str(include_str!("../fixtures/whaticket/baileys_conversation.json")).unwrap();
    let whaticket_status = async |token: &str| {
        let url = format!("{base}/webhook/acme/whaticket?token={token}");
        client.post(url).json(&raw).send().await.unwrap().status().as_u16()
    };
    let token = printed_secret(&cli(&["secrets", "rotate", "acme", "inbound_token", "--grace", "0"]).await);
    assert_eq!(whaticket_status(TOKEN).await, 401);
    assert!(whaticket_status(&token).await < 300);

    // A provider secret set from the command line wins over the file's: the reply goes out
    // with it (the Whaticket mock answers only that token).
    let bad_key = cli(&["secrets", "set", "acme", "whaticket.tokn"]).await;
    assert!(!bad_key.status.success() && out(&bad_key).contains("whaticket.token"), "{}", out(&bad_key));
    let inbound = cli(&["secrets", "set", "acme", "webhook.secrets"]).await;
    assert!(!inbound.status.success() && out(&inbound).contains("secrets rotate"), "{}", out(&inbound));
    let (d, url) = (dir.path().to_path_buf(), db.url.clone());
    let set = tokio::task::spawn_blocking(move || {
        let command = atende_command(&d, &url, &["secrets", "set", "acme", "whaticket.token"]);
        output_with_stdin(command, "set-from-the-cli-0123456789\n")
    })
    .await
    .unwrap();
    assert!(set.status.success(), "{}", out(&set));
    assert_eq!(status_with(&second).await, 202);
    // Replies to the earlier messages went out with the file's token; this one must not.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let with_new_token = async || {
        let sent = whaticket.received_requests().await.unwrap_or_default();
        sent.iter().any(|r| r.headers["authorization"] == "Bearer set-from-the-cli-0123456789")
    };
    while !with_new_token().await {
        assert!(std::time::Instant::now() < deadline, "no reply reached Whaticket with the token set");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // What is kept and said about it: states and dates, never a value.
    let listed = cli(&["secrets", "list", "acme"]).await;
    let listed = out(&listed);
    for line in [
        "webhook\tfile\trefused",
        "webhook\trotated\tactive",
        "inbound_token\trotated\tactive",
        "whaticket.token\tset\tactive",
    ] {
        assert!(listed.contains(line), "{line:?} in {listed}");
    }
    let store = atende::store::connect(&db.url).await.unwrap();
    let audit = store.list_audit(&atende::store::AuditFilter { limit: 100, ..Default::default() }).await.unwrap();
    let audit = format!("{audit:?}");
    assert!(audit.contains("secrets.rotate") && audit.contains("secrets.set"), "{audit}");
    for secret in [first.as_str(), &second, &token, "set-from-the-cli-0123456789", SECRET, TOKEN] {
        assert!(!listed.contains(secret) && !audit.contains(secret), "{secret} leaked");
    }
    if matches!(backend, Backend::Sqlite) {
        let path = db.url.strip_prefix("sqlite://").unwrap();
        let conn = rusqlite::Connection::open(path).unwrap();
        let stored: String =
            conn.query_row("SELECT secrets FROM tenants WHERE slug = 'acme'", [], |row| row.get(0)).unwrap();
        assert!(stored.contains("enc:v1:"), "{stored}");
        for secret in [first.as_str(), &second, &token, "set-from-the-cli-0123456789"] {
            assert!(!stored.contains(secret), "{secret} stored in the clear: {stored}");
        }
    }
}
