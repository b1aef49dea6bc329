//! Tenant secrets at rest: encrypted under a master key that is generated on the first
//! run, required once values are encrypted, and rotated without restarting `serve`.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::helpers::*;

/// Runs `atende` in `dir` (where the default key file `atende.key` lives).
fn atende_in(dir: &Path, db_url: &str, envs: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_atende"));
    command
        .args(args)
        .env("ATENDE_DATABASE_URL", db_url)
        .env_remove("ATENDE_LANG")
        .env_remove("ATENDE_CONFIG")
        .env_remove("ATENDE_MASTER_KEY")
        .env_remove("ATENDE_MASTER_KEY_FILE")
        .current_dir(dir);
    for (k, v) in envs {
        command.env(k, v);
    }
    command.output().unwrap()
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
    let mut child = Command::new(env!("CARGO_BIN_EXE_atende"))
        .arg("serve")
        .env("ATENDE_DATABASE_URL", &db)
        .env("ATENDE_BIND", format!("127.0.0.1:{port}"))
        .env("ATENDE_HTTP__TENANT_CACHE_TTL", "0s")
        .env("ATENDE_QUEUE__DEBOUNCE", "60s")
        .env_remove("ATENDE_MASTER_KEY")
        .env_remove("ATENDE_MASTER_KEY_FILE")
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
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
    let _ = child.kill();
    let _ = child.wait();
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
