//! Whaticket ticket changes for hand-offs (protocols.md §1.5). Ticket routes take a *user
//! session* (JWT from `POST /auth/login`), not the API token of the send route, so the client
//! keeps one session token per (backend, user) and logs in again when a call is refused with
//! 401/403 (community tokens live 15 minutes).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use reqwest::header::AUTHORIZATION;
use reqwest::{Method, Response, Url};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::ChannelError;
use super::whaticket_send::{WhaticketClient, bearer, http_error, transport_error};
use crate::domain::ContactNumber;

/// The bot user Atende logs in as to change tickets (tenant `[whaticket] user_email`,
/// `user_password`).
#[derive(Debug, Clone)]
pub struct WhaticketUser {
    /// The backend root, e.g. `https://api.helpdesk.example`.
    pub url: String,
    /// Login e-mail.
    pub email: String,
    /// Password (never logged: `SecretString`).
    pub password: SecretString,
}

/// Session tokens by (backend root, e-mail), shared by clones of the client.
#[derive(Clone, Default)]
pub(super) struct Sessions(Arc<Mutex<HashMap<(String, String), SecretString>>>);

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = self.0.lock().unwrap_or_else(PoisonError::into_inner).len();
        write!(f, "Sessions({count} cached)")
    }
}

impl Sessions {
    fn get(&self, key: &(String, String)) -> Option<SecretString> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).get(key).cloned()
    }

    fn put(&self, key: (String, String), token: SecretString) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).insert(key, token);
    }

    fn forget(&self, key: &(String, String)) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).remove(key);
    }
}

impl WhaticketClient {
    /// Moves a ticket to a human queue: `PUT {url}/tickets/{id}` with `queueId`, `userId: null`,
    /// `status: "pending"`, and `useIntegration: false, integrationId: null, chatbot: false`,
    /// which stop a SaaS fork's queue integration from firing again (the community lineage
    /// ignores fields it does not know).
    pub async fn transfer_ticket(
        &self,
        user: &WhaticketUser,
        ticket_id: &str,
        queue_id: i64,
    ) -> Result<(), ChannelError> {
        let path = format!("tickets/{}", ticket_path(ticket_id)?);
        let body = json!({ "queueId": queue_id, "userId": null, "status": "pending",
                           "useIntegration": false, "integrationId": null, "chatbot": false });
        self.with_session(user, Method::PUT, &path, Some(&body)).await.map(drop)
    }

    /// The contact's open or pending ticket, for webhooks that carried no ticket id:
    /// `GET {url}/tickets?searchParam=<digits>&showAll=true` (`{tickets, count, hasMore}`), the
    /// first ticket whose `contact.number` is the contact's and whose status is not `closed`.
    pub async fn find_open_ticket(
        &self,
        user: &WhaticketUser,
        contact: &ContactNumber,
    ) -> Result<Option<String>, ChannelError> {
        let path = format!("tickets?searchParam={}&showAll=true", contact.as_str());
        let answer = self.with_session(user, Method::GET, &path, None).await?;
        let tickets = answer.get("tickets").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
        let found = tickets.iter().find(|ticket| {
            let number = ticket.pointer("/contact/number").and_then(Value::as_str).map(digits);
            number.as_deref() == Some(contact.as_str())
                && ticket.get("status").and_then(Value::as_str) != Some("closed")
        });
        Ok(found.and_then(|ticket| match ticket.get("id") {
            Some(Value::Number(id)) => Some(id.to_string()),
            Some(Value::String(id)) if !id.is_empty() => Some(id.clone()),
            _ => None,
        }))
    }

    /// Posts an internal note where the fork has them (SaaS `POST {url}/ticket-notes` with
    /// `{note, ticketId, contactId?}`); `Ok(false)` when the route does not exist (404/405).
    pub async fn add_ticket_note(
        &self,
        user: &WhaticketUser,
        ticket_id: &str,
        contact_id: Option<&str>,
        note: &str,
    ) -> Result<bool, ChannelError> {
        let ticket = ticket_path(ticket_id)?;
        let mut body = json!({ "note": note, "ticketId": ticket.parse::<i64>().unwrap_or_default() });
        if let Some(contact) = contact_id.and_then(|c| c.parse::<i64>().ok()) {
            body["contactId"] = json!(contact);
        }
        match self.with_session(user, Method::POST, "ticket-notes", Some(&body)).await {
            Ok(_) => Ok(true),
            Err(ChannelError::Http { status: 404 | 405, .. }) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// One call with the user's session; a 401/403 drops the token and, once, logs in again.
    async fn with_session(
        &self,
        user: &WhaticketUser,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ChannelError> {
        let key = (root(&user.url)?.to_string(), user.email.trim().to_string());
        let mut fresh = false;
        let mut token = match self.sessions.get(&key) {
            Some(token) => token,
            None => {
                fresh = true;
                self.log_in(user).await?
            }
        };
        loop {
            let url = endpoint(&user.url, path)?;
            let mut request = self.http.request(method.clone(), url).header(AUTHORIZATION, bearer(&token)?);
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request.send().await.map_err(transport_error)?;
            let status = response.status().as_u16();
            if response.status().is_success() {
                self.sessions.put(key, token);
                return Ok(read_json(response).await);
            }
            if matches!(status, 401 | 403) && !fresh {
                // The session expired (or the user was changed): one new login, one retry.
                self.sessions.forget(&key);
                token = self.log_in(user).await?;
                fresh = true;
                continue;
            }
            return Err(http_error(response, &token).await);
        }
    }

    /// `POST {url}/auth/login` `{email, password}` → `{token, user}`.
    async fn log_in(&self, user: &WhaticketUser) -> Result<SecretString, ChannelError> {
        let url = endpoint(&user.url, "auth/login")?;
        let body = json!({ "email": user.email.trim(), "password": user.password.expose_secret() });
        let response = self.http.post(url).json(&body).send().await.map_err(transport_error)?;
        let status = response.status().as_u16();
        if matches!(status, 400 | 401 | 403 | 404) {
            return Err(ChannelError::InvalidConfig(format!(
                "Whaticket refused the login of the bot user (HTTP {status}): check [whaticket] user_email and \
                 user_password"
            )));
        }
        if !response.status().is_success() {
            return Err(http_error(response, &user.password).await);
        }
        let answer = read_json(response).await;
        match answer.get("token").and_then(Value::as_str).filter(|t| !t.is_empty()) {
            Some(token) => Ok(SecretString::from(token.to_string())),
            None => Err(ChannelError::Http { status, message: "login answer has no `token`".into() }),
        }
    }
}

/// The backend root as a URL, after checking it is http(s).
fn root(url: &str) -> Result<Url, ChannelError> {
    let invalid = || ChannelError::InvalidConfig("whaticket url must be an http(s) URL".into());
    let parsed = Url::parse(url.trim().trim_end_matches('/')).map_err(|_| invalid())?;
    match parsed.scheme() {
        "http" | "https" if parsed.host().is_some() => Ok(parsed),
        _ => Err(invalid()),
    }
}

fn endpoint(url: &str, path: &str) -> Result<Url, ChannelError> {
    root(url)?;
    Url::parse(&format!("{}/{path}", url.trim().trim_end_matches('/')))
        .map_err(|_| ChannelError::InvalidConfig("whaticket url must be an http(s) URL".into()))
}

/// Ticket ids are numbers in every lineage; anything else would change the route.
fn ticket_path(ticket_id: &str) -> Result<&str, ChannelError> {
    let id = ticket_id.trim();
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ChannelError::InvalidConfig(format!("ticket id {id:?} is not a number")));
    }
    Ok(id)
}

fn digits(number: &str) -> String {
    number.chars().filter(char::is_ascii_digit).collect()
}

/// The JSON of a successful answer; an empty or non-JSON body is `null`.
async fn read_json(response: Response) -> Value {
    response.json::<Value>().await.unwrap_or(Value::Null)
}

#[cfg(test)]
#[path = "whaticket_ticket_tests.rs"]
mod tests;
