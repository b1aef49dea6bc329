//! Access conformance: users, login lockout, admin API tokens and the append-only audit
//! log keep the same semantics on every store.

use atende::domain::{Email, UserRole};
use atende::secrets::{ApiToken, hash_password, token_digest, verify_password};
use atende::store::{AuditFilter, LockPolicy, NewAudit, NewUser, UserChange};
use serde_json::json;
use sqlx::Connection;
use time::{Duration, OffsetDateTime};

use crate::helpers::Backend;
use crate::store::{Fixture, fixture};

on_each_backend!(
    users_are_unique_by_email_and_their_changes_stick,
    failed_logins_lock_the_account_and_a_success_clears_the_count,
    tokens_work_until_revoked_expired_or_their_user_is_disabled,
    the_audit_log_filters_pages_and_refuses_changes,
);

fn email(value: &str) -> Email {
    Email::parse(value).unwrap()
}

async fn add_user(f: &Fixture, login: &str, role: UserRole) -> atende::domain::UserId {
    let hash = hash_password(&"senha-muito-boa".to_string().into()).unwrap();
    let login = email(login);
    let new = NewUser { email: &login, password_hash: &hash, role };
    f.store.create_user(&new, OffsetDateTime::now_utc()).await.unwrap().expect("new e-mail")
}

async fn users_are_unique_by_email_and_their_changes_stick(backend: Backend) {
    let f = fixture(backend).await;
    let now = OffsetDateTime::now_utc();
    let ana = add_user(&f, "Ana@Loja.com.br", UserRole::Admin).await;
    add_user(&f, "bruno@loja.com.br", UserRole::Viewer).await;
    let again = email("ana@loja.com.br");
    let taken = NewUser { email: &again, password_hash: "x", role: UserRole::Viewer };
    assert_eq!(f.store.create_user(&taken, now).await.unwrap(), None, "the e-mail is taken, whatever its case");

    let found = f.store.find_user(&again).await.unwrap().expect("found by its lowercased e-mail");
    assert_eq!(found.user.id, ana);
    assert_eq!(found.user.role, UserRole::Admin);
    assert!(verify_password("senha-muito-boa", &found.password_hash));
    assert!(!verify_password("senha-errada!!", &found.password_hash));
    assert!(f.store.find_user(&email("ninguem@loja.com.br")).await.unwrap().is_none());

    let change = UserChange { role: Some(UserRole::Operator), disabled: Some(true), ..UserChange::default() };
    assert!(f.store.update_user(ana, &change, now).await.unwrap());
    let users = f.store.list_users().await.unwrap();
    let emails: Vec<_> = users.iter().map(|u| u.email.as_str()).collect();
    assert_eq!(emails, ["ana@loja.com.br", "bruno@loja.com.br"]);
    assert_eq!((users[0].role, users[0].disabled), (UserRole::Operator, true));
    assert!(!users[1].disabled);

    let enable = UserChange { disabled: Some(false), ..UserChange::default() };
    assert!(f.store.update_user(ana, &enable, now).await.unwrap());
    let user = f.store.find_user(&again).await.unwrap().unwrap().user;
    assert_eq!((user.role, user.disabled), (UserRole::Operator, false), "the role is left alone");
    assert!(!f.store.update_user(atende::domain::UserId(999_999), &enable, now).await.unwrap());
}

async fn failed_logins_lock_the_account_and_a_success_clears_the_count(backend: Backend) {
    let f = fixture(backend).await;
    let ana = add_user(&f, "ana@loja.com.br", UserRole::Operator).await;
    let policy = LockPolicy { after_failures: 3, lock_for: Duration::minutes(15) };
    let now = OffsetDateTime::now_utc();
    assert_eq!(f.store.record_login(ana, false, policy, now).await.unwrap(), None);
    assert_eq!(f.store.record_login(ana, false, policy, now).await.unwrap(), None);
    assert_eq!(f.store.record_login(ana, true, policy, now).await.unwrap(), None);
    let user = f.store.find_user(&email("ana@loja.com.br")).await.unwrap().unwrap().user;
    assert_eq!(user.failed_logins, 0, "a success clears the count");

    for _ in 0..2 {
        assert_eq!(f.store.record_login(ana, false, policy, now).await.unwrap(), None);
    }
    let locked = f.store.record_login(ana, false, policy, now).await.unwrap().expect("the third failure locks");
    assert_eq!(locked.unix_timestamp(), (now + Duration::minutes(15)).unix_timestamp());
    let user = f.store.find_user(&email("ana@loja.com.br")).await.unwrap().unwrap().user;
    assert_eq!((user.failed_logins, user.locked_until.map(|t| t.unix_timestamp())), (3, Some(locked.unix_timestamp())));

    // A new password clears the lock.
    let hash = hash_password(&"outra-senha-boa".to_string().into()).unwrap();
    let change = UserChange { password_hash: Some(hash), ..UserChange::default() };
    f.store.update_user(ana, &change, now).await.unwrap();
    let found = f.store.find_user(&email("ana@loja.com.br")).await.unwrap().unwrap();
    assert_eq!((found.user.failed_logins, found.user.locked_until), (0, None));
    assert!(verify_password("outra-senha-boa", &found.password_hash));
}

async fn tokens_work_until_revoked_expired_or_their_user_is_disabled(backend: Backend) {
    let f = fixture(backend).await;
    let ana = add_user(&f, "ana@loja.com.br", UserRole::Operator).await;
    let bruno = add_user(&f, "bruno@loja.com.br", UserRole::Viewer).await;
    let now = OffsetDateTime::now_utc();
    let (forever, brief, brunos) = (ApiToken::generate(), ApiToken::generate(), ApiToken::generate());
    let forever_id = f.store.create_api_token(ana, "n8n", &forever.digest, None, now).await.unwrap();
    let brief_at = Some(now + Duration::hours(1));
    let brief_id = f.store.create_api_token(ana, "script", &brief.digest, brief_at, now).await.unwrap();
    f.store.create_api_token(bruno, "leitura", &brunos.digest, None, now).await.unwrap();

    let (id, user) = f.store.token_user(&forever.digest, now).await.unwrap().expect("a live token");
    assert_eq!((id, user.id, user.role), (forever_id, ana, UserRole::Operator));
    assert!(f.store.token_user(&token_digest("atd_unknown"), now).await.unwrap().is_none());
    assert!(f.store.token_user(&brief.digest, now).await.unwrap().is_some());
    let later = now + Duration::hours(2);
    assert!(f.store.token_user(&brief.digest, later).await.unwrap().is_none(), "expired");

    let listed = f.store.list_api_tokens(Some(ana)).await.unwrap();
    let ids: Vec<_> = listed.iter().map(|t| t.id).collect();
    assert_eq!(ids, [brief_id, forever_id], "newest first, only ana's");
    assert_eq!(listed[1].name, "n8n");
    assert_eq!(listed[1].email.as_str(), "ana@loja.com.br");
    assert!(listed[1].last_used_at.is_some(), "the use is noted");
    assert_eq!(f.store.list_api_tokens(None).await.unwrap().len(), 3);

    assert!(f.store.revoke_api_token(forever_id, now).await.unwrap());
    assert!(!f.store.revoke_api_token(forever_id, now).await.unwrap(), "revoked already");
    assert!(f.store.token_user(&forever.digest, now).await.unwrap().is_none(), "revoked");
    assert!(f.store.list_api_tokens(Some(ana)).await.unwrap()[1].revoked_at.is_some());

    assert!(f.store.token_user(&brunos.digest, now).await.unwrap().is_some());
    let disable = UserChange { disabled: Some(true), ..UserChange::default() };
    f.store.update_user(bruno, &disable, now).await.unwrap();
    assert!(f.store.token_user(&brunos.digest, now).await.unwrap().is_none(), "a disabled user's token stops");
}

async fn the_audit_log_filters_pages_and_refuses_changes(backend: Backend) {
    let f = fixture(backend.clone()).await;
    let ana = add_user(&f, "ana@loja.com.br", UserRole::Admin).await;
    let now = OffsetDateTime::now_utc();
    let entry = |actor, action, success| NewAudit {
        actor,
        user_id: None,
        action,
        target: None,
        ip: Some("203.0.113.9"),
        success,
        before: None,
        after: None,
        at: now,
    };
    let failed = f.store.append_audit(&entry("intruso@x.com", "login", false)).await.unwrap();
    let change = NewAudit {
        user_id: Some(ana),
        target: Some("acme"),
        before: Some(json!({"ai": true})),
        after: Some(json!({"ai": false, "token": "[redacted]"})),
        ..entry("ana@loja.com.br", "flags.set", true)
    };
    let changed = f.store.append_audit(&change).await.unwrap();
    let odd = f.store.append_audit(&entry("ana@loja.com.br", "flagsXset", true)).await.unwrap();
    let login = f.store.append_audit(&entry("ana@loja.com.br", "login", true)).await.unwrap();

    let all = f.store.list_audit(&AuditFilter { limit: 10, ..AuditFilter::default() }).await.unwrap();
    let ids: Vec<_> = all.iter().map(|a| a.id).collect();
    assert_eq!(ids, [login, odd, changed, failed], "newest first");
    let stored = &all[2];
    assert_eq!((stored.actor.as_str(), stored.action.as_str()), ("ana@loja.com.br", "flags.set"));
    assert_eq!((stored.user_id, stored.target.as_deref(), stored.success), (Some(ana), Some("acme"), true));
    assert_eq!(stored.before, Some(json!({"ai": true})));
    assert_eq!(stored.after, Some(json!({"ai": false, "token": "[redacted]"})));
    assert_eq!((all[3].success, all[3].ip.as_deref()), (false, Some("203.0.113.9")));

    let by = |actor: Option<&str>, action: Option<&str>, before_id, limit| AuditFilter {
        actor: actor.map(str::to_string),
        action: action.map(str::to_string),
        before_id,
        limit,
    };
    let ids = |list: Vec<atende::store::AuditRecord>| list.iter().map(|a| a.id).collect::<Vec<_>>();
    assert_eq!(ids(f.store.list_audit(&by(Some("intruso@x.com"), None, None, 10)).await.unwrap()), [failed]);
    // The prefix is literal: `.` and `_` are not wildcards.
    assert_eq!(ids(f.store.list_audit(&by(None, Some("flags."), None, 10)).await.unwrap()), [changed]);
    assert_eq!(ids(f.store.list_audit(&by(None, Some("flags_"), None, 10)).await.unwrap()), Vec::<i64>::new());
    assert_eq!(ids(f.store.list_audit(&by(None, None, None, 2)).await.unwrap()), [login, odd]);
    assert_eq!(ids(f.store.list_audit(&by(None, None, Some(odd), 2)).await.unwrap()), [changed, failed]);

    // Never editable, not even with SQL.
    let url = &f.db().url;
    for statement in ["UPDATE audit_log SET success = TRUE", "DELETE FROM audit_log"] {
        let refused = match backend {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
                sqlx::query(statement).execute(&mut conn).await.map(|_| ())
            }
            Backend::Postgres(_) => {
                let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
                sqlx::query(statement).execute(&mut conn).await.map(|_| ())
            }
        };
        let error = refused.expect_err(statement).to_string();
        assert!(error.contains("append-only"), "{statement}: {error}");
    }
    assert_eq!(f.store.list_audit(&by(None, None, None, 10)).await.unwrap().len(), 4);
}
