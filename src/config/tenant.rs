//! The tenant file (`atende tenant apply tenant.toml`) and how its secrets resolve.
//!
//! The file is stored as given (secret values or `*_file` paths); secrets are read
//! when used, so a rotated secret file takes effect without re-applying the tenant.

use std::fmt;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;

pub use super::fallback::{FallbackTable, ResolvedFallback};
use super::managed::{ManagedSecrets, Rotatable};
pub use super::persona::PersonaTable;
pub use super::spend::SpendTable;
use crate::domain::EventKind;

/// Default Gemini API root.
pub const GEMINI_DEFAULT_BASE_URL: &str = "https://generativelanguage.googleapis.com";

/// A secret value from a tenant file; `Debug` never shows it.
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(SecretString::from(value.into()))
    }

    /// The secret itself, for the one call that needs it.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The `secrecy` form adapters take.
    pub fn to_secret_string(&self) -> SecretString {
        self.0.clone()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"********\"")
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl Serialize for Secret {
    // Serialization stores the tenant row, sealed under the master key when one is
    // installed (`sealing`); `show` prints `masked()` copies, whose mask stays readable.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let value = self.expose();
        let sealed = if value == MASK { None } else { super::sealing::seal(value) };
        serializer.serialize_str(sealed.as_deref().unwrap_or(value))
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        super::sealing::open(&value).map(Secret::new).map_err(serde::de::Error::custom)
    }
}

/// What `masked()` copies show in place of a secret.
pub const MASK: &str = "********";

/// One tenant, exactly as its file states it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantFile {
    /// URL-safe id used in webhook routes.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Inbound webhook authentication.
    #[serde(default)]
    pub webhook: WebhookTable,
    /// Helpdesk used to answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whaticket: Option<WhaticketTable>,
    /// Primary LLM (and `[llm.fallback]`).
    #[serde(default)]
    pub llm: LlmTable,
    /// How the bot speaks.
    #[serde(default)]
    pub persona: PersonaTable,
    /// Hand-off to a person: text, SLA, when the bot resumes.
    #[serde(default, skip_serializing_if = "HandoffTable::is_default")]
    pub handoff: HandoffTable,
    /// Satisfaction survey (CSAT) when a ticket closes.
    #[serde(default, skip_serializing_if = "CsatTable::is_default")]
    pub csat: CsatTable,
    /// `[[events]]`: who gets which signed events (workflows such as n8n).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<EventSubscription>,
    /// E-mail and SMS for answers the helpdesk would not take.
    #[serde(default, skip_serializing_if = "FallbackTable::is_default")]
    pub fallback: FallbackTable,
    /// LLM prices and spend caps.
    #[serde(default, skip_serializing_if = "SpendTable::is_default")]
    pub spend: SpendTable,
}

/// One `[[events]]` entry: a receiver URL, the events it wants and the secret its
/// deliveries are signed with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSubscription {
    /// Receiver (an n8n webhook node, a script).
    pub url: String,
    /// Event names (`message.received`, `reply.sent`, …), or `"*"` for all of them.
    pub events: Vec<String>,
    /// HMAC secret of the `X-Atende-Signature` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Secret>,
    /// File holding `secret`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_file: Option<PathBuf>,
}

impl EventSubscription {
    /// Whether this subscriber asked for `event`.
    pub fn wants(&self, event: EventKind) -> bool {
        self.events.iter().any(|name| name == "*" || name == event.as_str())
    }
}

/// `[handoff]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoffTable {
    /// Said to the customer on hand-off (overrides `persona.handoff_text`); `{wait}` becomes
    /// the expected wait in minutes, which is otherwise appended when `sla_minutes` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Target time from hand-off to the first message of a person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla_minutes: Option<u32>,
    /// The bot answers again when no person wrote for this long after a hand-off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_after_idle_minutes: Option<u32>,
    /// A person's message that gives the conversation back to the bot (default `#bot`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_command: Option<String>,
    /// Said to the customer when the SLA passes without an answer from a person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla_breach_text: Option<String>,
    /// On an SLA breach, also e-mail the team through `[fallback.email]` (with the
    /// `fallback_email` flag on).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub escalation_email: bool,
}

/// The resume command when `[handoff] resume_command` is not set.
pub const DEFAULT_RESUME_COMMAND: &str = "#bot";

impl HandoffTable {
    fn is_default(&self) -> bool {
        self == &Self::default()
    }

    /// The command that gives a conversation back to the bot.
    pub fn resume_command(&self) -> &str {
        self.resume_command.as_deref().map(str::trim).filter(|c| !c.is_empty()).unwrap_or(DEFAULT_RESUME_COMMAND)
    }

    /// Whether `text`, written by a person, is the resume command (case and spaces aside).
    pub fn is_resume_command(&self, text: &str) -> bool {
        text.trim().eq_ignore_ascii_case(self.resume_command())
    }

    fn validate(&self) -> Result<(), String> {
        if self.sla_minutes == Some(0) {
            return Err("handoff.sla_minutes: must be at least 1 (leave it out for no SLA)".into());
        }
        if self.resume_after_idle_minutes == Some(0) {
            return Err(
                "handoff.resume_after_idle_minutes: must be at least 1 (leave it out to wait for a person)".into()
            );
        }
        if self.sla_minutes.is_none() && self.text.as_deref().is_some_and(|t| t.contains("{wait}")) {
            return Err("handoff.text: `{wait}` needs `sla_minutes` (the expected wait it stands for)".into());
        }
        for (key, text) in [("handoff.text", &self.text), ("handoff.sla_breach_text", &self.sla_breach_text)] {
            if text.as_deref().is_some_and(|t| t.trim().is_empty()) {
                return Err(format!("{key}: must not be empty (leave it out for the default)"));
            }
        }
        Ok(())
    }
}

/// The longest period a tenant file may set (30 days): beyond it a timer is a mistake, and
/// its deadline could overflow.
const MAX_MINUTES: u32 = 30 * 24 * 60;

/// `[csat]`: a 1–5 rating asked when a ticket closes (the helpdesk closed it, or nobody
/// wrote for `idle_minutes`), once per ticket, read from the customer's next message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsatTable {
    /// Ask at all (default off).
    #[serde(default)]
    pub enabled: bool,
    /// The question (default: the persona's language's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Said after a rating (default: a thanks, with an apology for ratings of 1–2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thanks_text: Option<String>,
    /// A conversation the bot answered and nobody wrote in for this long is closed and
    /// surveyed (leave it out to survey only tickets the helpdesk closes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_minutes: Option<u32>,
    /// Survey also when the customer left a hand-off no person had answered yet.
    #[serde(default)]
    pub after_abandoned_handoff: bool,
    /// How long the customer's next message still counts as the answer.
    #[serde(default = "CsatTable::default_answer_window_hours")]
    pub answer_window_hours: u32,
}

impl Default for CsatTable {
    fn default() -> Self {
        Self {
            enabled: false,
            text: None,
            thanks_text: None,
            idle_minutes: None,
            after_abandoned_handoff: false,
            answer_window_hours: Self::default_answer_window_hours(),
        }
    }
}

impl CsatTable {
    fn default_answer_window_hours() -> u32 {
        24
    }

    fn is_default(&self) -> bool {
        self == &Self::default()
    }

    /// The idle period that closes a conversation, when surveys are on and one is set.
    pub fn idle(&self) -> Option<time::Duration> {
        self.idle_minutes.filter(|_| self.enabled).map(|m| time::Duration::minutes(i64::from(m)))
    }

    /// How long after the question an answer still counts.
    pub fn answer_window(&self) -> time::Duration {
        time::Duration::hours(i64::from(self.answer_window_hours))
    }

    fn validate(&self) -> Result<(), String> {
        if self.idle_minutes == Some(0) {
            return Err("csat.idle_minutes: must be at least 1 (leave it out to survey only closed tickets)".into());
        }
        if self.idle_minutes.is_some_and(|m| m > MAX_MINUTES) || self.answer_window_hours > MAX_MINUTES / 60 {
            return Err(format!("csat: idle_minutes and answer_window_hours go up to {} days", MAX_MINUTES / 1440));
        }
        if self.answer_window_hours == 0 {
            return Err("csat.answer_window_hours: must be at least 1".into());
        }
        for (key, text) in [("csat.text", &self.text), ("csat.thanks_text", &self.thanks_text)] {
            if text.as_deref().is_some_and(|t| t.trim().is_empty()) {
                return Err(format!("{key}: must not be empty (leave it out for the default)"));
            }
        }
        Ok(())
    }
}

/// `[webhook]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookTable {
    /// Active HMAC secrets; any one verifies (rotation).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<Secret>,
    /// A file with one secret per line, added to `secrets`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets_file: Option<PathBuf>,
    /// Token for senders that cannot sign (`?token=`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbound_token: Option<Secret>,
    /// File holding `inbound_token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbound_token_file: Option<PathBuf>,
}

/// `[whaticket]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhaticketTable {
    /// Backend root; Atende appends `/api/messages/send`.
    pub url: String,
    /// Bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
    /// File holding `token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
    /// Login of the bot's Whaticket user, needed to move tickets on hand-off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_email: Option<String>,
    /// That user's password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_password: Option<Secret>,
    /// File holding `user_password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_password_file: Option<PathBuf>,
    /// The queue (Whaticket "fila") of the people who take hand-offs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handoff_queue_id: Option<i64>,
}

/// Which LLM API a provider speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderChoice {
    /// Google Gemini `generateContent`.
    Gemini,
    /// OpenAI-compatible `/v1/chat/completions` (OpenAI, Ollama, vLLM, llama.cpp).
    Openai,
    /// No LLM: messages are stored, the bot stays silent.
    #[default]
    None,
}

/// `[llm]` and `[llm.fallback]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmTable {
    /// API kind.
    #[serde(default)]
    pub provider: ProviderChoice,
    /// API root (Gemini defaults to Google's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// API key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<Secret>,
    /// File holding `api_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_file: Option<PathBuf>,
    /// Model id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Output cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u32>,
    /// Provider tried when this one's breaker is open or its retries are spent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<Box<LlmTable>>,
}

/// A tenant file that is malformed or names secrets that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct TenantFileError {
    /// The file (or `tenant <slug>` for stored tenants).
    pub origin: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl TenantFile {
    /// Reads, parses and validates a tenant file, including that its secret files are readable.
    pub fn read(path: &Path) -> Result<Self, TenantFileError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|err| TenantFileError { origin: origin.clone(), message: format!("cannot read file: {err}") })?;
        let mut file: TenantFile = toml::from_str(&text).map_err(|err| TenantFileError {
            origin: origin.clone(),
            message: super::describe_toml_error(&text, &err),
        })?;
        // A template file is read now, relative to the tenant file, and stored as text: the
        // persona history then holds the template itself, and workers need no shared disk.
        if let Some(template) = file.persona.prompt_template_file.take() {
            let path = path.parent().unwrap_or(Path::new(".")).join(&template);
            let text = std::fs::read_to_string(&path).map_err(|err| TenantFileError {
                origin: origin.clone(),
                message: format!("persona.prompt_template_file: cannot read {}: {err}", path.display()),
            })?;
            if file.persona.prompt_template.is_some() {
                return Err(TenantFileError {
                    origin,
                    message: "persona: give either `prompt_template` or `prompt_template_file`, not both".into(),
                });
            }
            file.persona.prompt_template = Some(text);
        }
        file.validate().map_err(|message| TenantFileError { origin: origin.clone(), message })?;
        file.resolve().map_err(|message| TenantFileError { origin: origin.clone(), message })?;
        file.resolve_fallback().map_err(|message| TenantFileError { origin, message })?;
        Ok(file)
    }

    /// Checks everything that does not need the file system.
    pub fn validate(&self) -> Result<(), String> {
        let slug_ok = !self.slug.is_empty()
            && self.slug.len() <= 63
            && self.slug.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !self.slug.starts_with('-');
        if !slug_ok {
            return Err(format!("slug {:?}: use 1-63 lowercase letters, digits or '-'", self.slug));
        }
        if self.name.trim().is_empty() {
            return Err("name: must not be empty".into());
        }
        if let Some(w) = &self.whaticket {
            check_url("whaticket.url", &w.url)?;
            one_of("whaticket.token", w.token.is_some(), w.token_file.is_some(), true)?;
            let password = w.user_password.is_some() || w.user_password_file.is_some();
            one_of("whaticket.user_password", w.user_password.is_some(), w.user_password_file.is_some(), false)?;
            match (w.user_email.as_deref().map(str::trim), password, w.handoff_queue_id) {
                (None, false, None) => {}
                (Some(email), true, Some(queue)) if !email.is_empty() && queue > 0 => {}
                (Some(""), _, _) => return Err("whaticket.user_email: must not be empty".into()),
                (_, _, Some(queue)) if queue <= 0 => {
                    return Err(format!("whaticket.handoff_queue_id: {queue} is not a queue id (a positive number)"));
                }
                _ => {
                    return Err("whaticket: moving tickets on hand-off needs all of `user_email`, `user_password` \
                                (or `user_password_file`) and `handoff_queue_id`"
                        .into());
                }
            }
        }
        one_of(
            "webhook.inbound_token",
            self.webhook.inbound_token.is_some(),
            self.webhook.inbound_token_file.is_some(),
            false,
        )?;
        validate_llm("llm", &self.llm)?;
        self.handoff.validate()?;
        if self.handoff.escalation_email && self.fallback.email.is_none() {
            return Err("handoff.escalation_email: needs [fallback.email] (where the e-mail goes)".into());
        }
        self.csat.validate()?;
        self.fallback.validate()?;
        self.spend.validate()?;
        for (i, sub) in self.events.iter().enumerate() {
            let key = format!("events[{i}]");
            check_url(&format!("{key}.url"), &sub.url)?;
            one_of(&format!("{key}.secret"), sub.secret.is_some(), sub.secret_file.is_some(), true)?;
            if sub.events.is_empty() {
                return Err(format!("{key}.events: name at least one event, or \"*\" for all"));
            }
            if let Some(unknown) = sub.events.iter().find(|e| *e != "*" && EventKind::parse(e).is_none()) {
                let known: Vec<&str> = EventKind::ALL.iter().map(|e| e.as_str()).collect();
                return Err(format!("{key}.events: unknown event {unknown:?}; use \"*\" or {}", known.join(", ")));
            }
        }
        self.persona.validate()
    }

    /// Reads every secret (files included), so a tenant that resolves can run.
    pub fn resolve(&self) -> Result<ResolvedTenant, String> {
        self.resolve_with(&ManagedSecrets::default(), OffsetDateTime::now_utc())
    }

    /// [`Self::resolve`] with what `atende secrets rotate|set` changed (`managed`): rotated
    /// inbound secrets as accepted at `now`, and set provider secrets over the file's.
    pub fn resolve_with(&self, managed: &ManagedSecrets, now: OffsetDateTime) -> Result<ResolvedTenant, String> {
        let pick = |key: &str, value: &Option<Secret>, file: &Option<PathBuf>| pick(managed, key, value, file);
        let mut webhook_secrets = self.webhook.secrets.clone();
        if let Some(path) = &self.webhook.secrets_file {
            let text = read_secret_file("webhook.secrets_file", path)?;
            webhook_secrets.extend(text.lines().map(str::trim).filter(|l| !l.is_empty()).map(Secret::new));
        }
        let webhook_secrets = managed.accepted(Rotatable::Webhook, &webhook_secrets, now);
        let inbound_token =
            pick("webhook.inbound_token", &self.webhook.inbound_token, &self.webhook.inbound_token_file)?;
        let inbound_tokens = managed.accepted(Rotatable::InboundToken, inbound_token.as_slice(), now);
        let whaticket = match &self.whaticket {
            Some(w) => Some(ResolvedWhaticket {
                url: w.url.trim_end_matches('/').to_string(),
                token: pick("whaticket.token", &w.token, &w.token_file)?.ok_or("whaticket.token: missing")?,
                user: match (&w.user_email, w.handoff_queue_id) {
                    (Some(email), Some(queue_id)) => Some(ResolvedWhaticketUser {
                        email: email.trim().to_string(),
                        password: pick("whaticket.user_password", &w.user_password, &w.user_password_file)?
                            .ok_or("whaticket.user_password: missing")?,
                        queue_id,
                    }),
                    _ => None,
                },
            }),
            None => None,
        };
        let mut llm = Vec::new();
        for (key, t) in self.providers() {
            llm.push(ResolvedLlm {
                provider: t.provider,
                base_url: t.base_url.clone().unwrap_or_else(|| GEMINI_DEFAULT_BASE_URL.into()),
                api_key: pick(&format!("{key}.api_key"), &t.api_key, &t.api_key_file)?,
                model: t.model.clone().unwrap_or_default(),
                temperature: t.temperature,
                max_output_tokens: t.max_output_tokens,
            });
        }
        let mut events = Vec::with_capacity(self.events.len());
        for (i, sub) in self.events.iter().enumerate() {
            let secret = pick(&format!("events[{i}].secret"), &sub.secret, &sub.secret_file)?;
            events.push(ResolvedSubscription {
                url: sub.url.clone(),
                secret: secret.ok_or_else(|| format!("events[{i}].secret: missing"))?,
            });
        }
        Ok(ResolvedTenant { webhook_secrets, inbound_tokens, whaticket, llm, events })
    }

    /// Reads the fallback channels' secrets. Apart from [`Self::resolve`] on purpose: an
    /// unreadable SMTP password must cost only the fallback, never the tenant's webhooks
    /// and replies.
    pub fn resolve_fallback(&self) -> Result<ResolvedFallback, String> {
        self.fallback.resolve(&ManagedSecrets::default())
    }

    /// [`Self::resolve_fallback`] with the provider secrets `atende secrets set` changed.
    pub fn resolve_fallback_with(&self, managed: &ManagedSecrets) -> Result<ResolvedFallback, String> {
        self.fallback.resolve(managed)
    }

    /// The keys of this tenant's provider secrets, as `atende secrets set` names them
    /// (`whaticket.token`, `llm.fallback.api_key`, `events[0].secret`, …).
    pub fn provider_secret_keys(&self) -> Vec<String> {
        let mut keys = Vec::new();
        if let Some(w) = &self.whaticket {
            keys.push("whaticket.token".to_string());
            if w.user_email.is_some() {
                keys.push("whaticket.user_password".to_string());
            }
        }
        keys.extend(self.providers().map(|(key, _)| format!("{key}.api_key")));
        keys.extend((0..self.events.len()).map(|i| format!("events[{i}].secret")));
        keys.extend(self.fallback.secret_keys().iter().map(|k| k.to_string()));
        keys
    }

    /// The LLM providers in the order to try, with their key (`llm`, `llm.fallback`, …);
    /// tables with `provider = "none"` are skipped.
    fn providers(&self) -> impl Iterator<Item = (String, &LlmTable)> {
        std::iter::successors(Some(("llm".to_string(), &self.llm)), |(key, t)| {
            t.fallback.as_deref().map(|next| (format!("{key}.fallback"), next))
        })
        .filter(|(_, t)| t.provider != ProviderChoice::None)
    }

    /// A copy safe to print: every secret value replaced by `********`.
    pub fn masked(&self) -> TenantFile {
        let mask = |s: &Option<Secret>| s.as_ref().map(|_| Secret::new(MASK));
        let mut copy = self.clone();
        copy.webhook.secrets = copy.webhook.secrets.iter().map(|_| Secret::new(MASK)).collect();
        copy.webhook.inbound_token = mask(&copy.webhook.inbound_token);
        if let Some(w) = copy.whaticket.as_mut() {
            w.token = mask(&w.token);
            w.user_password = mask(&w.user_password);
        }
        let mut table = Some(&mut copy.llm);
        while let Some(t) = table {
            t.api_key = mask(&t.api_key);
            table = t.fallback.as_deref_mut();
        }
        for sub in &mut copy.events {
            sub.secret = mask(&sub.secret);
        }
        copy.fallback.mask();
        copy
    }

    /// The subscriptions that asked for `event`.
    pub fn subscribers(&self, event: EventKind) -> impl Iterator<Item = &EventSubscription> {
        self.events.iter().filter(move |sub| sub.wants(event))
    }
}

/// A tenant's secrets, read and ready for the adapters.
#[derive(Debug, Clone)]
pub struct ResolvedTenant {
    /// Active inbound HMAC secrets.
    pub webhook_secrets: Vec<Secret>,
    /// Accepted inbound tokens for unsigned senders (more than one while a rotation's
    /// grace period runs).
    pub inbound_tokens: Vec<Secret>,
    /// Helpdesk credentials.
    pub whaticket: Option<ResolvedWhaticket>,
    /// Providers in the order to try; empty means the AI is off.
    pub llm: Vec<ResolvedLlm>,
    /// Event subscribers with their signing secrets, in file order.
    pub events: Vec<ResolvedSubscription>,
}

impl ResolvedTenant {
    /// The signing secret of the subscriber at `url` (the first one, when listed twice).
    pub fn event_secret(&self, url: &str) -> Option<&Secret> {
        self.events.iter().find(|sub| sub.url == url).map(|sub| &sub.secret)
    }
}

/// An event subscriber, ready to sign for.
#[derive(Debug, Clone)]
pub struct ResolvedSubscription {
    /// Receiver.
    pub url: String,
    /// HMAC secret.
    pub secret: Secret,
}

/// Helpdesk credentials.
#[derive(Debug, Clone)]
pub struct ResolvedWhaticket {
    /// Backend root, without a trailing `/`.
    pub url: String,
    /// Bearer token.
    pub token: Secret,
    /// The bot user that moves tickets on hand-off, when configured.
    pub user: Option<ResolvedWhaticketUser>,
}

/// The Whaticket user Atende logs in as, and the queue hand-offs go to.
#[derive(Debug, Clone)]
pub struct ResolvedWhaticketUser {
    /// Login e-mail.
    pub email: String,
    /// Password.
    pub password: Secret,
    /// `handoff_queue_id`.
    pub queue_id: i64,
}

/// One LLM provider with its key.
#[derive(Debug, Clone)]
pub struct ResolvedLlm {
    /// API kind (never `None`).
    pub provider: ProviderChoice,
    /// API root.
    pub base_url: String,
    /// API key.
    pub api_key: Option<Secret>,
    /// Model id.
    pub model: String,
    /// Sampling temperature.
    pub temperature: Option<f32>,
    /// Output cap.
    pub max_output_tokens: Option<u32>,
}

fn validate_llm(key: &str, t: &LlmTable) -> Result<(), String> {
    one_of(&format!("{key}.api_key"), t.api_key.is_some(), t.api_key_file.is_some(), false)?;
    match t.provider {
        ProviderChoice::None => {}
        ProviderChoice::Openai if t.base_url.is_none() => {
            return Err(format!("{key}.base_url: required for provider \"openai\" (e.g. \"http://127.0.0.1:11434\")"));
        }
        _ if t.model.as_deref().unwrap_or("").trim().is_empty() => {
            return Err(format!("{key}.model: required when provider is set (e.g. \"gemini-2.0-flash\")"));
        }
        _ => {}
    }
    if let Some(url) = &t.base_url {
        check_url(&format!("{key}.base_url"), url)?;
    }
    if let Some(temp) = t.temperature
        && !(0.0..=2.0).contains(&temp)
    {
        return Err(format!("{key}.temperature: {temp} is outside 0.0..=2.0"));
    }
    match &t.fallback {
        Some(f) if f.fallback.is_some() => {
            Err(format!("{key}.fallback.fallback: only one fallback provider is supported"))
        }
        Some(f) => validate_llm(&format!("{key}.fallback"), f),
        None => Ok(()),
    }
}

pub(super) fn check_url(key: &str, url: &str) -> Result<(), String> {
    let ok = (url.starts_with("http://") || url.starts_with("https://")) && url.len() > "https://".len();
    if ok { Ok(()) } else { Err(format!("{key}: {url:?} is not an http(s) URL")) }
}

pub(super) fn one_of(key: &str, value: bool, file: bool, required: bool) -> Result<(), String> {
    match (value, file) {
        (true, true) => Err(format!("{key}: give either `{}` or `{}_file`, not both", leaf(key), leaf(key))),
        (false, false) if required => Err(format!("{key}: missing (or `{}_file`)", leaf(key))),
        _ => Ok(()),
    }
}

fn leaf(key: &str) -> &str {
    key.rsplit('.').next().unwrap_or(key)
}

/// A secret by precedence: set from the command line (`managed`), the file's value, then
/// the file named by `<key>_file`.
pub(super) fn pick(
    managed: &ManagedSecrets,
    key: &str,
    value: &Option<Secret>,
    file: &Option<PathBuf>,
) -> Result<Option<Secret>, String> {
    if let Some(set) = managed.get(key) {
        return Ok(Some(set.clone()));
    }
    match (value, file) {
        (Some(v), _) => Ok(Some(v.clone())),
        (None, Some(path)) => Ok(Some(Secret::new(read_secret_file(key, path)?.trim()))),
        (None, None) => Ok(None),
    }
}

fn read_secret_file(key: &str, path: &Path) -> Result<String, String> {
    let text =
        std::fs::read_to_string(path).map_err(|err| format!("{key}_file: cannot read {}: {err}", path.display()))?;
    if text.trim().is_empty() {
        return Err(format!("{key}_file: {} is empty", path.display()));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
slug = "acme"
name = "ACME Ltda"
[webhook]
secrets = ["s3cr3t"]
inbound_token = "t0k3n"
[whaticket]
url = "http://127.0.0.1:9001"
token = "whaticket-api-token"
[llm]
provider = "gemini"
base_url = "http://127.0.0.1:9002"
api_key = "k"
model = "gemini-2.0-flash"
"#;

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn the_documented_minimal_file_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let file = TenantFile::read(&write(&dir, "t.toml", MINIMAL)).unwrap();
        let resolved = file.resolve().unwrap();
        assert_eq!(resolved.webhook_secrets[0].expose(), "s3cr3t");
        assert_eq!(resolved.llm.len(), 1);
        assert_eq!(resolved.whaticket.unwrap().token.expose(), "whaticket-api-token");
    }

    #[test]
    fn unknown_keys_are_named_with_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "t.toml", &MINIMAL.replace("model =", "modle ="));
        let err = TenantFile::read(&path).unwrap_err().to_string();
        assert!(err.contains("modle") && err.contains("t.toml"), "{err}");
    }

    #[test]
    fn a_mistyped_key_is_located_without_echoing_its_secret_value() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "t.toml", &MINIMAL.replace("api_key = \"k\"", "api_kye = \"sk-live-very-secret\""));
        let err = TenantFile::read(&path).unwrap_err().to_string();
        assert!(err.contains("api_kye") && err.contains("line 13"), "{err}");
        assert!(!err.contains("sk-live-very-secret"), "{err}");
    }

    #[test]
    fn a_secret_of_the_wrong_type_is_not_echoed() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "t.toml", &MINIMAL.replace("secrets = [\"s3cr3t\"]", "secrets = \"s3cr3t-VALUE\""));
        let err = TenantFile::read(&path).unwrap_err().to_string();
        assert!(err.contains("line 5") && err.contains("expected a sequence"), "{err}");
        assert!(!err.contains("s3cr3t-VALUE"), "{err}");
    }

    #[test]
    fn a_prompt_template_file_is_read_relative_to_the_tenant_file_and_stored_as_text() {
        let dir = tempfile::tempdir().unwrap();
        write(&dir, "prompt.j2", "Você fala pela {{ tenant }}.");
        let path = write(&dir, "t.toml", &format!("{MINIMAL}[persona]\nprompt_template_file = \"prompt.j2\"\n"));
        let file = TenantFile::read(&path).unwrap();
        assert_eq!(file.persona.prompt_template.as_deref(), Some("Você fala pela {{ tenant }}."));
        assert!(file.persona.prompt_template_file.is_none());
    }

    #[test]
    fn secrets_can_come_from_files_and_unreadable_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let token = write(&dir, "token", "from-file\n");
        let text = MINIMAL.replace("token = \"whaticket-api-token\"", &format!("token_file = {:?}", token));
        let file = TenantFile::read(&write(&dir, "a.toml", &text)).unwrap();
        assert_eq!(file.resolve().unwrap().whaticket.unwrap().token.expose(), "from-file");

        let text = MINIMAL.replace("api_key = \"k\"", "api_key_file = \"/nonexistent/key\"");
        let err = TenantFile::read(&write(&dir, "b.toml", &text)).unwrap_err().to_string();
        assert!(err.contains("llm.api_key_file") && err.contains("/nonexistent/key"), "{err}");
    }

    #[test]
    fn event_subscriptions_are_validated_resolved_and_masked() {
        let dir = tempfile::tempdir().unwrap();
        let secret = write(&dir, "event-secret", "from-file-secret\n");
        let text = format!(
            "{MINIMAL}[[events]]\nurl = \"https://n8n.example/webhook/a\"\nevents = [\"handoff.created\", \"sla.breached\"]\nsecret = \"ev-1\"\n\
             [[events]]\nurl = \"https://hooks.example/all\"\nevents = [\"*\"]\nsecret_file = {secret:?}\n"
        );
        let file = TenantFile::read(&write(&dir, "t.toml", &text)).unwrap();
        let urls = |event| file.subscribers(event).map(|s| s.url.as_str()).collect::<Vec<_>>();
        assert_eq!(urls(EventKind::HandoffCreated), ["https://n8n.example/webhook/a", "https://hooks.example/all"]);
        assert_eq!(urls(EventKind::ReplySent), ["https://hooks.example/all"]);
        let resolved = file.resolve().unwrap();
        assert_eq!(resolved.event_secret("https://n8n.example/webhook/a").unwrap().expose(), "ev-1");
        assert_eq!(resolved.event_secret("https://hooks.example/all").unwrap().expose(), "from-file-secret");
        assert!(resolved.event_secret("https://elsewhere.example").is_none());
        let shown = toml::to_string(&file.masked()).unwrap();
        assert!(!shown.contains("ev-1") && shown.contains("********"), "{shown}");

        let bad = |events: &str, secret: &str| {
            let text = format!("{MINIMAL}[[events]]\nurl = \"https://n8n.example/x\"\nevents = {events}\n{secret}");
            TenantFile::read(&write(&dir, "bad.toml", &text)).unwrap_err().to_string()
        };
        let err = bad(r#"["reply.sent", "message.recieved"]"#, "secret = \"x\"\n");
        assert!(err.contains("events[0].events") && err.contains("message.recieved"), "{err}");
        assert!(err.contains("message.received"), "the error lists the known events: {err}");
        let err = bad(r#"["reply.sent"]"#, "");
        assert!(err.contains("events[0].secret: missing"), "{err}");
        let err = bad("[]", "secret = \"x\"\n");
        assert!(err.contains("at least one event"), "{err}");
        let text = format!("{MINIMAL}[[events]]\nurl = \"ftp://x\"\nevents = [\"*\"]\nsecret = \"x\"\n");
        let err = TenantFile::read(&write(&dir, "url.toml", &text)).unwrap_err().to_string();
        assert!(err.contains("events[0].url"), "{err}");
    }

    #[test]
    fn handoff_keys_are_read_and_the_bot_user_resolves_with_its_queue() {
        let dir = tempfile::tempdir().unwrap();
        let password = write(&dir, "password", "p4ss-from-file\n");
        let text = MINIMAL.replace(
            "token = \"whaticket-api-token\"",
            &format!(
                "token = \"whaticket-api-token\"\nuser_email = \"bot@acme.com\"\nuser_password_file = {password:?}\nhandoff_queue_id = 7"
            ),
        ) + "[handoff]\ntext = \"Já chamo alguém (até {wait} min).\"\nsla_minutes = 15\nresume_after_idle_minutes = 60\n";
        let file = TenantFile::read(&write(&dir, "t.toml", &text)).unwrap();
        assert_eq!(file.handoff.sla_minutes, Some(15));
        assert_eq!(file.handoff.resume_after_idle_minutes, Some(60));
        assert!(file.handoff.is_resume_command("  #BOT "));
        assert!(!file.handoff.is_resume_command("#bot please"));
        let user = file.resolve().unwrap().whaticket.unwrap().user.unwrap();
        assert_eq!((user.email.as_str(), user.password.expose(), user.queue_id), ("bot@acme.com", "p4ss-from-file", 7));
    }

    #[test]
    fn incomplete_or_wrong_handoff_settings_are_refused_with_the_key() {
        let cases = [
            ("user_email = \"bot@acme.com\"\n", "", "handoff_queue_id"),
            ("handoff_queue_id = 3\n", "", "user_email"),
            ("user_email = \"b@a.com\"\nuser_password = \"x\"\nhandoff_queue_id = 0\n", "", "handoff_queue_id"),
            ("", "[handoff]\nsla_minutes = 0\n", "handoff.sla_minutes"),
            ("", "[handoff]\ntext = \"espere {wait} min\"\n", "sla_minutes"),
            ("", "[handoff]\nresume_after_idle = 5\n", "resume_after_idle"),
        ];
        for (whaticket, extra, expected) in cases {
            let text =
                MINIMAL.replace("token = \"whaticket-api-token\"", &format!("token = \"t\"\n{whaticket}")) + extra;
            let err = match toml::from_str::<TenantFile>(&text) {
                Ok(file) => file.validate().unwrap_err(),
                Err(err) => err.to_string(),
            };
            assert!(err.contains(expected), "{whaticket}{extra}: {err}");
        }
    }

    #[test]
    fn csat_keys_are_read_and_nonsense_is_refused_with_the_key() {
        let text = format!(
            "{MINIMAL}[csat]\nenabled = true\ntext = \"De 1 a 5?\"\nidle_minutes = 30\nafter_abandoned_handoff = true\n"
        );
        let file: TenantFile = toml::from_str(&text).unwrap();
        file.validate().unwrap();
        assert_eq!(file.csat.idle(), Some(time::Duration::minutes(30)));
        assert_eq!(file.csat.answer_window(), time::Duration::hours(24), "the default window");
        assert!(file.csat.after_abandoned_handoff);
        let off: TenantFile = toml::from_str(&format!("{MINIMAL}[csat]\nidle_minutes = 30\n")).unwrap();
        assert_eq!(off.csat.idle(), None, "no idle close while surveys are off");

        let cases = [
            ("idle_minutes = 0\n", "csat.idle_minutes"),
            ("answer_window_hours = 0\n", "csat.answer_window_hours"),
            ("text = \"  \"\n", "csat.text"),
            ("thanks_text = \"\"\n", "csat.thanks_text"),
            ("enable = true\n", "enable"),
        ];
        for (keys, expected) in cases {
            let text = format!("{MINIMAL}[csat]\nenabled = true\n{keys}");
            let err = match toml::from_str::<TenantFile>(&text) {
                Ok(file) => file.validate().unwrap_err(),
                Err(err) => err.to_string(),
            };
            assert!(err.contains(expected), "{keys}: {err}");
        }
    }

    #[test]
    fn masked_copies_and_debug_output_hide_every_secret() {
        let with_user = MINIMAL.replace(
            "token = \"whaticket-api-token\"",
            "token = \"whaticket-api-token\"\nuser_email = \"bot@acme.com\"\nuser_password = \"user-pass-123\"\nhandoff_queue_id = 2",
        );
        let file: TenantFile = toml::from_str(&with_user).unwrap();
        let shown = toml::to_string(&file.masked()).unwrap();
        assert!(shown.contains("api_key = \"********\""), "{shown}");
        for secret in ["s3cr3t", "t0k3n", "whaticket-api-token", "user-pass-123"] {
            assert!(!shown.contains(secret), "{secret} leaked in {shown}");
            assert!(!format!("{file:?}").contains(secret), "{secret} leaked in Debug");
        }
    }
}
