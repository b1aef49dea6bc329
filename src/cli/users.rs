//! `atende user …`: the people who run Atende (panel and admin API logins).

use std::io::{IsTerminal, Read};
use std::path::Path;

use anyhow::Context;
use secrecy::SecretString;
use serde_json::json;
use time::OffsetDateTime;

use super::commands::open;
use super::{Lang, UserCommand};
use crate::config::Config;
use crate::domain::{Email, UserRole};
use crate::secrets::{MIN_PASSWORD_CHARS, PasswordError, hash_password};
use crate::store::{NewAudit, NewUser};

pub(super) async fn run(config: &Config, command: UserCommand, lang: Lang) -> anyhow::Result<()> {
    match command {
        UserCommand::Add { email, role, password_file } => {
            add(config, &email, &role, password_file.as_deref(), lang).await
        }
        UserCommand::List { json } => list(config, json, lang).await,
    }
}

async fn add(config: &Config, email: &str, role: &str, file: Option<&Path>, lang: Lang) -> anyhow::Result<()> {
    let email = Email::parse(email).map_err(|_| {
        anyhow::anyhow!("{} {email:?} ({})", lang.pick("e-mail inválido", "invalid e-mail"), "nome@empresa.com.br")
    })?;
    let role: UserRole = role.parse().map_err(|_| {
        anyhow::anyhow!(
            "{} {role:?}; {} admin, operator, viewer",
            lang.pick("papel desconhecido", "unknown role"),
            lang.pick("use", "use")
        )
    })?;
    let password = read_password(file, lang)?;
    let hash = hash_password(&password).map_err(|err| match err {
        PasswordError::TooShort => anyhow::anyhow!(
            "{} {MIN_PASSWORD_CHARS} {}",
            lang.pick("a senha precisa de pelo menos", "the password needs at least"),
            lang.pick("caracteres", "characters")
        ),
        other => anyhow::anyhow!(other),
    })?;
    let store = open(config, lang).await?;
    let now = OffsetDateTime::now_utc();
    let new = NewUser { email: &email, password_hash: &hash, role };
    let Some(id) = store.create_user(&new, now).await? else {
        anyhow::bail!(
            "{} {}",
            lang.pick("já existe um usuário com o e-mail", "a user already has the e-mail"),
            email.as_str()
        );
    };
    store
        .append_audit(&NewAudit {
            actor: "cli",
            user_id: None,
            action: "user.add",
            target: Some(email.as_str()),
            ip: None,
            success: true,
            before: None,
            after: Some(json!({"email": email.as_str(), "role": role.as_str()})),
            at: now,
        })
        .await?;
    tracing::info!(user = id.0, role = role.as_str(), "user created");
    println!("{} {} ({})", lang.pick("usuário criado:", "user created:"), email.as_str(), role.as_str());
    Ok(())
}

/// The first line of `file`, or of stdin when it is piped; on a terminal, typed twice
/// without echo.
fn read_password(file: Option<&Path>, lang: Lang) -> anyhow::Result<SecretString> {
    let mut text = String::new();
    match file {
        Some(path) => {
            text = std::fs::read_to_string(path).with_context(|| {
                format!(
                    "{} {}",
                    lang.pick("não consegui ler o arquivo de senha", "cannot read the password file"),
                    path.display()
                )
            })?;
        }
        None if std::io::stdin().is_terminal() => {
            let cannot = || {
                lang.pick(
                    "não consegui ler a senha do terminal; use --password-file ARQUIVO",
                    "cannot read the password from the terminal; use --password-file FILE",
                )
            };
            let first = rpassword::prompt_password(lang.pick("Senha: ", "Password: ")).with_context(cannot)?;
            let again = rpassword::prompt_password(lang.pick("Repita a senha: ", "Repeat the password: "))
                .with_context(cannot)?;
            if first != again {
                anyhow::bail!(
                    "{}",
                    lang.pick("as senhas não conferem; nada foi criado", "the passwords differ; nothing was created")
                );
            }
            text = first;
        }
        None => {
            std::io::stdin().take(64 * 1024).read_to_string(&mut text).with_context(|| {
                lang.pick("não consegui ler a senha da entrada padrão", "cannot read the password from stdin")
            })?;
        }
    }
    let line = text.lines().next().unwrap_or_default();
    Ok(SecretString::from(line.to_string()))
}

async fn list(config: &Config, json: bool, lang: Lang) -> anyhow::Result<()> {
    let store = open(config, lang).await?;
    let users = store.list_users().await?;
    if json {
        let rows: Vec<_> = users
            .iter()
            .map(|u| {
                json!({
                    "id": u.id.0,
                    "email": u.email.as_str(),
                    "role": u.role.as_str(),
                    "disabled": u.disabled,
                    "created_at": u.created_at.unix_timestamp(),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    if users.is_empty() {
        println!(
            "{}",
            lang.pick(
                "nenhum usuário; crie o primeiro com: atende user add EMAIL --role admin",
                "no users; create the first with: atende user add EMAIL --role admin"
            )
        );
        return Ok(());
    }
    for user in &users {
        let state = if user.disabled { lang.pick("desativado", "disabled") } else { lang.pick("ativo", "active") };
        println!("{}\t{}\t{state}", user.email.as_str(), user.role.as_str());
    }
    Ok(())
}
