//! `[fallback]` of the tenant file: where an answer goes when the helpdesk will not take it.
//!
//! ```toml
//! [fallback]
//! after_minutes = 15                 # also when the helpdesk has refused it this long
//! [fallback.email]                   # to the tenant's team, with customer, question, answer
//! to = "sac@acme.com.br"
//! from = "Atende <atende@acme.com.br>"
//! smtp_host = "smtp.acme.com.br"
//! [fallback.sms]                     # to the customer, through any HTTP SMS provider
//! url = "https://api.twilio.com/2010-04-01/Accounts/AC123/Messages.json"
//! username = "AC123"
//! password_file = "/etc/atende/twilio-token"
//! form = { To = "+{to}", From = "+15005550006", Body = "{text}" }
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::managed::ManagedSecrets;
use super::tenant::{MASK, Secret, check_url, one_of, pick};

/// The placeholders an SMS body may use.
pub const SMS_PLACEHOLDERS: [&str; 4] = ["to", "text", "name", "tenant"];

/// `[fallback]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FallbackTable {
    /// Fall back once the helpdesk has refused an answer for this long, without waiting
    /// for the delivery's retries to run out (they go on: the helpdesk may still take it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_minutes: Option<u32>,
    /// E-mail to the tenant's team.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailTable>,
    /// SMS to the customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms: Option<SmsTable>,
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS, port 465).
    Tls,
    /// No encryption (a relay on the same host or network only).
    None,
}

impl SmtpTls {
    /// The usual port of this mode.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Starttls => 587,
            Self::Tls => 465,
            Self::None => 25,
        }
    }
}

/// `[fallback.email]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailTable {
    /// The team's address (`"sac@acme.com.br"` or `"SAC <sac@acme.com.br>"`).
    pub to: String,
    /// The sender.
    pub from: String,
    /// SMTP server.
    pub smtp_host: String,
    /// SMTP port (default by `tls`: 587, 465 or 25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_port: Option<u16>,
    /// `starttls` (default), `tls` or `none`.
    #[serde(default)]
    pub tls: SmtpTls,
    /// SMTP login, when the server wants one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// SMTP password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// File holding `password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
}

/// `[fallback.sms]`: one `POST` per message to an HTTP SMS provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsTable {
    /// The provider's send endpoint.
    pub url: String,
    /// HTTP basic auth user (Twilio: the account SID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// HTTP basic auth password (Twilio: the auth token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// File holding `password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// `Authorization: Bearer` token, for providers that use one instead of basic auth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
    /// File holding `token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
    /// Form fields (`application/x-www-form-urlencoded`), each a template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form: Option<BTreeMap<String, String>>,
    /// A JSON body template; placeholders are replaced by JSON-escaped text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<String>,
}

/// What an SMS body is filled with.
#[derive(Debug, Clone, Copy)]
pub struct SmsValues<'a> {
    /// The customer's number, digits only (`5511988887777`).
    pub to: &'a str,
    /// The answer.
    pub text: &'a str,
    /// The customer's name, or empty.
    pub name: &'a str,
    /// The tenant's name.
    pub tenant: &'a str,
}

/// Fills `{to}`, `{text}`, `{name}` and `{tenant}` in `template`, passing each value
/// through `escape`. Hand-rolled rather than minijinja: four fixed names in one pass, and
/// braces that name nothing (`{"to": …}` in a JSON body) must stay as they are.
pub fn fill(template: &str, values: SmsValues<'_>, escape: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(template.len() + values.text.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            let value = match &after[..close] {
                "to" => values.to,
                "text" => values.text,
                "name" => values.name,
                "tenant" => values.tenant,
                _ => return None,
            };
            Some((value, close))
        });
        match value {
            Some((value, close)) => {
                out.push_str(&escape(value));
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Escapes text for the inside of a JSON string.
pub fn json_escape(text: &str) -> String {
    let quoted = serde_json::Value::String(text.to_string()).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

impl FallbackTable {
    pub(super) fn is_default(&self) -> bool {
        self == &Self::default()
    }

    pub(super) fn validate(&self) -> Result<(), String> {
        if self.after_minutes == Some(0) {
            return Err("fallback.after_minutes: must be at least 1 (leave it out to fall back only when the \
                        delivery's retries run out)"
                .into());
        }
        if self.after_minutes.is_some() && self.email.is_none() && self.sms.is_none() {
            return Err(
                "fallback.after_minutes: add [fallback.email] or [fallback.sms], the channel to fall back to".into()
            );
        }
        if let Some(email) = &self.email {
            email.validate()?;
        }
        if let Some(sms) = &self.sms {
            sms.validate()?;
        }
        Ok(())
    }

    /// Keys of the secrets this fallback uses, for `atende secrets set`.
    pub(super) fn secret_keys(&self) -> Vec<&'static str> {
        let mut keys = Vec::new();
        if self.email.is_some() {
            keys.push("fallback.email.password");
        }
        if self.sms.is_some() {
            keys.extend(["fallback.sms.token", "fallback.sms.password"]);
        }
        keys
    }

    pub(super) fn resolve(&self, managed: &ManagedSecrets) -> Result<ResolvedFallback, String> {
        let pick = |key: &str, value: &Option<Secret>, file: &Option<PathBuf>| pick(managed, key, value, file);
        let email = match &self.email {
            Some(e) => Some(ResolvedEmail {
                to: e.to.trim().to_string(),
                from: e.from.trim().to_string(),
                host: e.smtp_host.trim().to_string(),
                port: e.smtp_port.unwrap_or_else(|| e.tls.default_port()),
                tls: e.tls,
                username: e.username.clone(),
                password: pick("fallback.email.password", &e.password, &e.password_file)?,
            }),
            None => None,
        };
        let sms = match &self.sms {
            Some(s) => Some(ResolvedSms {
                url: s.url.clone(),
                auth: match (&s.username, pick("fallback.sms.token", &s.token, &s.token_file)?) {
                    (Some(user), _) => SmsAuth::Basic {
                        username: user.clone(),
                        password: pick("fallback.sms.password", &s.password, &s.password_file)?,
                    },
                    (None, Some(token)) => SmsAuth::Bearer(token),
                    (None, None) => SmsAuth::None,
                },
                body: match (&s.form, &s.json) {
                    (Some(form), _) => SmsBody::Form(form.clone()),
                    (None, json) => SmsBody::Json(json.clone().unwrap_or_default()),
                },
            }),
            None => None,
        };
        Ok(ResolvedFallback { after_minutes: self.after_minutes, email, sms })
    }

    pub(super) fn mask(&mut self) {
        let mask = |s: &Option<Secret>| s.as_ref().map(|_| Secret::new(MASK));
        if let Some(email) = self.email.as_mut() {
            email.password = mask(&email.password);
        }
        if let Some(sms) = self.sms.as_mut() {
            sms.password = mask(&sms.password);
            sms.token = mask(&sms.token);
            // Providers that take a key in the URL or the body: values under names that read
            // like credentials are hidden too.
            sms.url = mask_query(&sms.url);
            if let Some(form) = sms.form.as_mut() {
                for (name, value) in form.iter_mut() {
                    if secret_name(name) {
                        *value = MASK.into();
                    }
                }
            }
            if let Some(json) = sms.json.as_mut() {
                *json = mask_json(json);
            }
        }
    }
}

/// Whether a field name reads like a credential (`api_key`, `token`, `secret`, `password`,
/// `auth`, `signature`…).
fn secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["key", "token", "secret", "pass", "auth", "sig", "credential"].iter().any(|word| name.contains(word))
}

/// The URL with the values of credential-like query parameters hidden (hand-rolled: only
/// `name=value` pairs after `?` are touched, the rest is left as written).
fn mask_query(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else { return url.to_string() };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if secret_name(name) => format!("{name}={MASK}"),
            _ => pair.to_string(),
        })
        .collect();
    format!("{base}?{}", pairs.join("&"))
}

/// The JSON template with the values under credential-like keys hidden; a template that is
/// not JSON but names one is hidden whole.
fn mask_json(template: &str) -> String {
    fn walk(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                for (name, inner) in map.iter_mut() {
                    if secret_name(name) {
                        *inner = serde_json::Value::String(MASK.into());
                    } else {
                        walk(inner);
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    match serde_json::from_str::<serde_json::Value>(template) {
        Ok(mut value) => {
            walk(&mut value);
            value.to_string()
        }
        Err(_) if secret_name(template) => MASK.into(),
        Err(_) => template.to_string(),
    }
}

impl EmailTable {
    fn validate(&self) -> Result<(), String> {
        for (key, address) in [("fallback.email.to", &self.to), ("fallback.email.from", &self.from)] {
            if address.trim().parse::<lettre::message::Mailbox>().is_err() {
                return Err(format!(
                    "{key}: {address:?} is not an e-mail address (\"sac@acme.com.br\" or \"SAC <sac@acme.com.br>\")"
                ));
            }
        }
        let host = self.smtp_host.trim();
        if host.is_empty() || host.contains(['/', ' ', ':']) {
            return Err(format!(
                "fallback.email.smtp_host: {:?} is not a host name (the port goes in `smtp_port`)",
                self.smtp_host
            ));
        }
        if self.smtp_port == Some(0) {
            return Err("fallback.email.smtp_port: 0 is not a port".into());
        }
        one_of("fallback.email.password", self.password.is_some(), self.password_file.is_some(), false)?;
        let password = self.password.is_some() || self.password_file.is_some();
        match (self.username.as_deref().map(str::trim), password) {
            (Some(""), _) => Err("fallback.email.username: must not be empty".into()),
            (Some(_), false) => Err("fallback.email.password: missing for `username` (or `password_file`)".into()),
            (None, true) => Err("fallback.email.username: missing for `password`".into()),
            _ => Ok(()),
        }
    }
}

impl SmsTable {
    fn validate(&self) -> Result<(), String> {
        check_url("fallback.sms.url", &self.url)?;
        one_of("fallback.sms.password", self.password.is_some(), self.password_file.is_some(), false)?;
        one_of("fallback.sms.token", self.token.is_some(), self.token_file.is_some(), false)?;
        let password = self.password.is_some() || self.password_file.is_some();
        let token = self.token.is_some() || self.token_file.is_some();
        if self.username.is_some() && token {
            return Err(
                "fallback.sms: give `username` and `password` (basic auth) or `token` (bearer), not both".into()
            );
        }
        match (self.username.as_deref().map(str::trim), password) {
            (None, true) => return Err("fallback.sms.username: missing for `password`".into()),
            (Some(""), _) => return Err("fallback.sms.username: must not be empty".into()),
            (Some(_), false) => {
                return Err("fallback.sms.password: missing for `username` (or `password_file`)".into());
            }
            _ => {}
        }
        let sample = SmsValues { to: "5511988887777", text: "texto", name: "nome", tenant: "loja" };
        match (&self.form, &self.json) {
            (Some(_), Some(_)) => Err("fallback.sms: give either `form` or `json` as the body, not both".into()),
            (None, None) => Err("fallback.sms: missing the body: `form = { To = \"+{to}\", Body = \"{text}\" }` \
                                 or `json = '{\"to\": \"{to}\", \"text\": \"{text}\"}'`"
                .into()),
            (Some(form), None) => {
                let all: String = form.values().map(String::as_str).collect();
                if !all.contains("{text}") {
                    return Err("fallback.sms.form: no field holds `{text}`, the answer to send".into());
                }
                unknown_placeholder("fallback.sms.form", &all)
            }
            (None, Some(json)) => {
                if !json.contains("{text}") {
                    return Err("fallback.sms.json: the body does not hold `{text}`, the answer to send".into());
                }
                unknown_placeholder("fallback.sms.json", json)?;
                let filled = fill(json, sample, json_escape);
                serde_json::from_str::<serde_json::Value>(&filled).map(|_| ()).map_err(|err| {
                    format!("fallback.sms.json: not JSON once filled in ({err}); placeholders go inside quotes")
                })
            }
        }
    }
}

/// A `{word}` that is not one of [`SMS_PLACEHOLDERS`] is almost certainly a typo.
fn unknown_placeholder(key: &str, template: &str) -> Result<(), String> {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        rest = &rest[open + 1..];
        let Some(close) = rest.find('}') else { break };
        let word = &rest[..close];
        let looks_like_one = !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if looks_like_one && !SMS_PLACEHOLDERS.contains(&word) {
            return Err(format!(
                "{key}: unknown placeholder {{{word}}}; use {}",
                SMS_PLACEHOLDERS.map(|p| format!("{{{p}}}")).join(", ")
            ));
        }
    }
    Ok(())
}

/// `[fallback]` with its secrets read.
#[derive(Debug, Clone, Default)]
pub struct ResolvedFallback {
    /// See [`FallbackTable::after_minutes`].
    pub after_minutes: Option<u32>,
    /// E-mail to the team.
    pub email: Option<ResolvedEmail>,
    /// SMS to the customer.
    pub sms: Option<ResolvedSms>,
}

/// SMTP settings, ready to connect.
#[derive(Debug, Clone)]
pub struct ResolvedEmail {
    /// Recipient.
    pub to: String,
    /// Sender.
    pub from: String,
    /// SMTP host.
    pub host: String,
    /// SMTP port.
    pub port: u16,
    /// Connection security.
    pub tls: SmtpTls,
    /// Login.
    pub username: Option<String>,
    /// Password.
    pub password: Option<Secret>,
}

/// How Atende authenticates to the SMS provider.
#[derive(Debug, Clone)]
pub enum SmsAuth {
    /// No `Authorization` header (the URL carries a key, or the network is trusted).
    None,
    /// HTTP basic auth.
    Basic {
        /// User.
        username: String,
        /// Password.
        password: Option<Secret>,
    },
    /// `Authorization: Bearer`.
    Bearer(Secret),
}

/// The request body of an SMS.
#[derive(Debug, Clone)]
pub enum SmsBody {
    /// Form fields, each a template.
    Form(BTreeMap<String, String>),
    /// A JSON template.
    Json(String),
}

/// SMS provider settings, ready to post.
#[derive(Debug, Clone)]
pub struct ResolvedSms {
    /// Send endpoint.
    pub url: String,
    /// Credentials.
    pub auth: SmsAuth,
    /// Body template.
    pub body: SmsBody,
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALUES: SmsValues<'static> =
        SmsValues { to: "5511988887777", text: "Olá \"Ana\"\nAbrimos às 8h", name: "Ana", tenant: "Loja" };

    #[test]
    fn placeholders_are_filled_and_other_braces_kept() {
        let plain = fill("+{to} {text} {unknown} {", VALUES, str::to_string);
        assert_eq!(plain, "+5511988887777 Olá \"Ana\"\nAbrimos às 8h {unknown} {");
        let json = fill(r#"{"to": "+{to}", "msg": "{tenant}: {text}"}"#, VALUES, json_escape);
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed["msg"], "Loja: Olá \"Ana\"\nAbrimos às 8h");
        assert_eq!(parsed["to"], "+5511988887777");
    }

    fn sms(extra: &str) -> Result<(), String> {
        let text = format!("url = \"https://sms.example/send\"\n{extra}");
        toml::from_str::<SmsTable>(&text).map_err(|e| e.to_string())?.validate()
    }

    #[test]
    fn sms_bodies_and_credentials_are_checked_with_the_key_named() {
        assert_eq!(sms("form = { To = \"+{to}\", Body = \"{text}\" }"), Ok(()));
        assert_eq!(sms("json = '{\"to\": \"{to}\", \"text\": \"{text}\"}'\ntoken = \"t\""), Ok(()));
        let cases = [
            ("", "missing the body"),
            ("form = { To = \"{to}\" }", "`{text}`"),
            ("form = { Body = \"{texto}\" }", "`{text}`"),
            ("form = { Body = \"{text} {nome}\" }", "unknown placeholder {nome}"),
            ("json = '{\"text\": {text}}'", "not JSON once filled in"),
            ("json = '{\"text\": \"{text}\"}'\nform = { Body = \"{text}\" }", "not both"),
            ("form = { Body = \"{text}\" }\npassword = \"p\"", "fallback.sms.username"),
            ("form = { Body = \"{text}\" }\nusername = \"AC1\"", "fallback.sms.password"),
            ("form = { Body = \"{text}\" }\nusername = \"u\"\ntoken = \"t\"", "not both"),
        ];
        for (extra, expected) in cases {
            let err = sms(extra).unwrap_err();
            assert!(err.contains(expected), "{extra}: {err}");
        }
    }

    fn email(extra: &str) -> Result<(), String> {
        let text = format!("to = \"sac@acme.com.br\"\nfrom = \"Atende <atende@acme.com.br>\"\n{extra}");
        toml::from_str::<EmailTable>(&text).map_err(|e| e.to_string())?.validate()
    }

    #[test]
    fn email_settings_are_checked_with_the_key_named() {
        assert_eq!(email("smtp_host = \"smtp.acme.com.br\""), Ok(()));
        assert_eq!(
            email("smtp_host = \"smtp.acme.com.br\"\nusername = \"u\"\npassword = \"p\"\ntls = \"tls\""),
            Ok(())
        );
        let cases = [
            ("smtp_host = \"smtp.acme.com.br:587\"", "fallback.email.smtp_host"),
            ("smtp_host = \"\"", "fallback.email.smtp_host"),
            ("smtp_host = \"h\"\nusername = \"u\"", "fallback.email.password"),
            ("smtp_host = \"h\"\npassword = \"p\"", "fallback.email.username"),
            ("smtp_host = \"h\"\ntls = \"ssl\"", "unknown variant"),
        ];
        for (extra, expected) in cases {
            let err = email(extra).unwrap_err();
            assert!(err.contains(expected), "{extra}: {err}");
        }
        let bad_to =
            toml::from_str::<EmailTable>("to = \"not an address\"\nfrom = \"a@b.c\"\nsmtp_host = \"h\"").unwrap();
        assert!(bad_to.validate().unwrap_err().contains("fallback.email.to"));
    }

    #[test]
    fn keys_in_the_sms_url_form_or_json_are_masked_too() {
        let mut table: FallbackTable = toml::from_str(
            "[sms]\nurl = \"https://sms.example/send?api_key=k-123&from=Loja\"\n\
             form = { To = \"{to}\", Body = \"{text}\", AccessToken = \"t-456\" }\n\
             json = '{\"auth\": {\"apiKey\": \"j-789\"}, \"to\": \"{to}\", \"text\": \"{text}\"}'",
        )
        .unwrap();
        table.mask();
        let shown = toml::to_string(&table).unwrap();
        for secret in ["k-123", "t-456", "j-789"] {
            assert!(!shown.contains(secret), "{secret} shown: {shown}");
        }
        for kept in ["from=Loja", "{text}", "{to}", "sms.example/send"] {
            assert!(shown.contains(kept), "{kept} hidden: {shown}");
        }
        assert_eq!(mask_json("not json but a token"), MASK);
        assert_eq!(mask_json("{text}"), "{text}");
        assert_eq!(mask_query("https://x.example/a"), "https://x.example/a");
    }

    #[test]
    fn masked_copies_and_debug_output_hide_the_fallback_secrets() {
        let mut table: FallbackTable = toml::from_str(
            "[email]\nto = \"a@b.c\"\nfrom = \"a@b.c\"\nsmtp_host = \"h\"\nusername = \"u\"\npassword = \"smtp-secret\"\n\
             [sms]\nurl = \"https://sms.example\"\ntoken = \"sms-token\"\nform = { Body = \"{text}\" }",
        )
        .unwrap();
        assert!(!format!("{table:?}").contains("smtp-secret") && !format!("{table:?}").contains("sms-token"));
        let resolved = table.resolve(&ManagedSecrets::default()).unwrap();
        assert!(matches!(&resolved.sms.as_ref().unwrap().auth, SmsAuth::Bearer(t) if t.expose() == "sms-token"));
        table.mask();
        let shown = toml::to_string(&table).unwrap();
        assert!(
            !shown.contains("smtp-secret") && !shown.contains("sms-token") && shown.contains("********"),
            "{shown}"
        );
    }

    #[test]
    fn the_port_follows_the_tls_mode_unless_given() {
        let table: FallbackTable =
            toml::from_str("[email]\nto = \"a@b.c\"\nfrom = \"a@b.c\"\nsmtp_host = \"h\"\ntls = \"tls\"").unwrap();
        assert_eq!(table.resolve(&ManagedSecrets::default()).unwrap().email.unwrap().port, 465);
        let table: FallbackTable =
            toml::from_str("[email]\nto = \"a@b.c\"\nfrom = \"a@b.c\"\nsmtp_host = \"h\"\nsmtp_port = 2525").unwrap();
        assert_eq!(table.resolve(&ManagedSecrets::default()).unwrap().email.unwrap().port, 2525);
    }
}
