//! E-mail through the tenant's SMTP server (`lettre`): the fallback that tells a team an
//! answer could not reach its customer through the helpdesk.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::fallback::{ResolvedEmail, SmtpTls};
use crate::domain::ErrorClass;

/// Why a mail was not sent. Messages never hold the password or the mail's text.
#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    /// An address or header the server would never take.
    #[error("invalid mail: {0}")]
    Invalid(String),
    /// The server refused the mail for good (5xx: unknown mailbox, authentication failed).
    #[error("the SMTP server refused the mail: {0}")]
    Refused(String),
    /// The server could not be reached, timed out or asked to try later (4xx).
    #[error("SMTP: {0}")]
    Unavailable(String),
}

impl EmailError {
    /// 5xx answers and invalid mails would repeat; anything else may pass later.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Invalid(_) | Self::Refused(_) => ErrorClass::Permanent,
            Self::Unavailable(_) => ErrorClass::Retryable,
        }
    }
}

/// Sends plain-text mails, each over its own SMTP session: fallback mails are rare and go
/// to a different server per tenant, so there is no pool worth keeping.
#[derive(Debug, Clone)]
pub struct Mailer {
    timeout: Duration,
}

impl Mailer {
    /// A mailer whose sessions give up after `timeout` (per command and in all).
    pub fn new(timeout: Duration) -> Self {
        Self { timeout }
    }

    /// Sends `body` with `subject` from `settings.from` to `settings.to`.
    pub async fn send(&self, settings: &ResolvedEmail, subject: &str, body: &str) -> Result<(), EmailError> {
        let mailbox = |key: &str, value: &str| {
            value.parse::<Mailbox>().map_err(|err| EmailError::Invalid(format!("{key} {value:?}: {err}")))
        };
        let message = Message::builder()
            .from(mailbox("from", &settings.from)?)
            .to(mailbox("to", &settings.to)?)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_string())
            .map_err(|err| EmailError::Invalid(err.to_string()))?;
        let builder = match settings.tls {
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&settings.host),
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&settings.host),
            SmtpTls::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)),
        }
        .map_err(|err| EmailError::Invalid(format!("TLS for {}: {err}", settings.host)))?;
        let mut builder = builder.port(settings.port).timeout(Some(self.timeout));
        if let Some(username) = &settings.username {
            let password = settings.password.as_ref().map(|p| p.expose().to_string()).unwrap_or_default();
            builder = builder.credentials(Credentials::new(username.clone(), password));
        }
        let transport = builder.build();
        match tokio::time::timeout(self.timeout, transport.send(message)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(err)) if err.is_permanent() => Err(EmailError::Refused(chain(&err))),
            Ok(Err(err)) => Err(EmailError::Unavailable(chain(&err))),
            Err(_) => {
                Err(EmailError::Unavailable(format!("no answer from {}:{} in time", settings.host, settings.port)))
            }
        }
    }
}

fn chain(error: &lettre::transport::smtp::Error) -> String {
    crate::telemetry::error_chain(error).chars().take(300).collect()
}
