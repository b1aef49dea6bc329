//! `atende token …`: admin API tokens. A token is printed once, on its own line, and only
//! its digest is stored; it carries its owner's role.

use anyhow::Context;
use secrecy::ExposeSecret;
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::audit::audit;
use super::commands::open;
use super::{Lang, TokenCommand};
use crate::config::Config;
use crate::domain::Email;
use crate::secrets::ApiToken;
use crate::store::{ApiTokenRecord, Store};

/// Longest validity a token may get (ten years): beyond it, leave `--expires` out.
const MAX_VALIDITY: std::time::Duration = std::time::Duration::from_secs(10 * 366 * 24 * 3600);

pub(super) async fn run(config: &Config, command: TokenCommand, lang: Lang) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create { email, name, expires } => create(config, &email, &name, expires.as_deref(), lang).await,
        TokenCommand::List { user, json } => list(config, user.as_deref(), json, lang).await,
        TokenCommand::Revoke { id } => revoke(config, id, lang).await,
    }
}

async fn create(config: &Config, email: &str, name: &str, expires: Option<&str>, lang: Lang) -> anyhow::Result<()> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        anyhow::bail!("{}", lang.pick("--name precisa de 1 a 100 caracteres", "--name needs 1 to 100 characters"));
    }
    let validity = expires.map(|text| parse_validity(text, lang)).transpose()?;
    let store = open(config, lang).await?;
    let owner = find_owner(&*store, email, lang).await?;
    let now = OffsetDateTime::now_utc();
    let expires_at = validity.map(|valid| now + valid);
    let token = ApiToken::generate();
    let id = store.create_api_token(owner.0, name, &token.digest, expires_at, now).await?;
    let after = json!({
        "id": id, "user": owner.1.as_str(), "name": name,
        "expires_at": expires_at.and_then(|at| at.format(&Rfc3339).ok()),
    });
    audit(&*store, "token.create", owner.1.as_str(), None, Some(after)).await?;
    tracing::info!(token = id, "api token created");
    eprintln!(
        "{} {id} ({}, {}). {}",
        lang.pick("token criado:", "token created:"),
        owner.1.as_str(),
        name,
        lang.pick(
            "Guarde-o agora: ele não será mostrado de novo. Use no cabeçalho Authorization: Bearer <token>.",
            "Keep it now: it will not be shown again. Send it as Authorization: Bearer <token>."
        )
    );
    println!("{}", token.secret.expose_secret());
    Ok(())
}

/// `90d`, `12h`, `1y`, `2w` … (humantime), between one minute and ten years.
fn parse_validity(text: &str, lang: Lang) -> anyhow::Result<time::Duration> {
    let parsed = humantime::parse_duration(text.trim())
        .ok()
        .filter(|d| *d >= std::time::Duration::from_secs(60) && *d <= MAX_VALIDITY);
    let valid = parsed.with_context(|| {
        format!(
            "--expires {text:?}: {}",
            lang.pick(
                "use uma duração entre 1 minuto e 10 anos, ex.: 90d, 12h, 1y (ou omita para não expirar)",
                "use a duration between 1 minute and 10 years, e.g. 90d, 12h, 1y (or leave it out for no expiry)"
            )
        )
    })?;
    Ok(time::Duration::try_from(valid).expect("at most ten years"))
}

async fn find_owner(store: &dyn Store, email: &str, lang: Lang) -> anyhow::Result<(crate::domain::UserId, Email)> {
    let parsed = Email::parse(email)
        .map_err(|_| anyhow::anyhow!("{} {email:?}", lang.pick("e-mail inválido", "invalid e-mail")))?;
    let Some(found) = store.find_user(&parsed).await? else {
        anyhow::bail!(
            "{} {}; {}",
            lang.pick("nenhum usuário com o e-mail", "no user has the e-mail"),
            parsed.as_str(),
            lang.pick("crie com: atende user add EMAIL", "create one with: atende user add EMAIL")
        );
    };
    if found.user.disabled {
        anyhow::bail!("{} {}", lang.pick("o usuário está desativado:", "the user is disabled:"), parsed.as_str());
    }
    Ok((found.user.id, parsed))
}

async fn list(config: &Config, user: Option<&str>, json: bool, lang: Lang) -> anyhow::Result<()> {
    let store = open(config, lang).await?;
    let owner = match user {
        Some(email) => Some(find_owner(&*store, email, lang).await?.0),
        None => None,
    };
    let tokens = store.list_api_tokens(owner).await?;
    let now = OffsetDateTime::now_utc();
    let time = |at: Option<OffsetDateTime>| at.and_then(|at| at.format(&Rfc3339).ok());
    if json {
        let rows: Vec<_> = tokens
            .iter()
            .map(|t| {
                json!({
                    "id": t.id, "user": t.email.as_str(), "name": t.name, "state": state(t, now),
                    "created_at": time(Some(t.created_at)), "expires_at": time(t.expires_at),
                    "last_used_at": time(t.last_used_at), "revoked_at": time(t.revoked_at),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    if tokens.is_empty() {
        println!(
            "{}",
            lang.pick(
                "nenhum token; crie com: atende token create EMAIL --name NOME",
                "no tokens; create one with: atende token create EMAIL --name NAME"
            )
        );
        return Ok(());
    }
    println!(
        "{}",
        lang.pick("ID\tUSUÁRIO\tNOME\tESTADO\tEXPIRA\tÚLTIMO USO", "ID\tUSER\tNAME\tSTATE\tEXPIRES\tLAST USED")
    );
    for t in &tokens {
        let label = match state(t, now) {
            "revoked" => lang.pick("revogado", "revoked"),
            "expired" => lang.pick("expirado", "expired"),
            _ => lang.pick("ativo", "active"),
        };
        println!(
            "{}\t{}\t{}\t{label}\t{}\t{}",
            t.id,
            t.email.as_str(),
            t.name,
            time(t.expires_at).unwrap_or_else(|| "-".into()),
            time(t.last_used_at).unwrap_or_else(|| "-".into())
        );
    }
    Ok(())
}

/// `active`, `expired` or `revoked`.
fn state(token: &ApiTokenRecord, now: OffsetDateTime) -> &'static str {
    if token.revoked_at.is_some() {
        "revoked"
    } else if token.expires_at.is_some_and(|at| at <= now) {
        "expired"
    } else {
        "active"
    }
}

async fn revoke(config: &Config, id: i64, lang: Lang) -> anyhow::Result<()> {
    let store = open(config, lang).await?;
    let now = OffsetDateTime::now_utc();
    let token = store.list_api_tokens(None).await?.into_iter().find(|t| t.id == id);
    let Some(token) = token.filter(|t| t.revoked_at.is_none()) else {
        anyhow::bail!(
            "{} {id} {}",
            lang.pick("nenhum token ativo com o id", "no live token has the id"),
            lang.pick("(veja atende token list)", "(see atende token list)")
        );
    };
    if !store.revoke_api_token(id, now).await? {
        anyhow::bail!("{} {id}", lang.pick("o token já estava revogado:", "the token was revoked already:"));
    }
    audit(&*store, "token.revoke", token.email.as_str(), None, Some(json!({"id": id, "name": token.name}))).await?;
    tracing::info!(token = id, "api token revoked");
    println!("{} {id} {}", lang.pick("token", "token"), lang.pick("revogado", "revoked"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{Lang, parse_validity};

    #[test]
    fn validity_takes_human_durations_within_bounds() {
        assert_eq!(parse_validity("90d", Lang::PtBr).unwrap(), time::Duration::days(90));
        assert_eq!(parse_validity(" 12h ", Lang::PtBr).unwrap(), time::Duration::hours(12));
        for bad in ["", "abc", "30s", "20y", "-1d"] {
            let err = parse_validity(bad, Lang::PtBr).unwrap_err().to_string();
            assert!(err.contains("entre 1 minuto e 10 anos"), "{bad}: {err}");
        }
    }
}
