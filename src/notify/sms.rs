//! SMS through any HTTP provider: one `POST` per message with the tenant's body template,
//! as a form (Twilio's `Messages.json`: `To`, `From`, `Body`) or as JSON.

use reqwest::header::{CONTENT_TYPE, HeaderValue};

use super::{Notifier, NotifyError, answer, transport_error};
use crate::config::fallback::{ResolvedSms, SmsAuth, SmsBody, SmsValues, fill, json_escape};

/// SMS longer than this are cut (with "…"): Twilio's limit, and ten segments already.
pub const MAX_SMS_CHARS: usize = 1600;

impl Notifier {
    /// Sends one SMS; the HTTP status of a 2xx answer.
    pub async fn send_sms(&self, sms: &ResolvedSms, values: SmsValues<'_>) -> Result<u16, NotifyError> {
        let url = reqwest::Url::parse(&sms.url).map_err(|err| NotifyError::InvalidUrl(err.to_string()))?;
        let text = cut(values.text);
        let values = SmsValues { text: &text, ..values };
        let request = self.http.post(url);
        let request = match &sms.auth {
            SmsAuth::None => request,
            SmsAuth::Basic { username, password } => {
                request.basic_auth(username, password.as_ref().map(|p| p.expose().to_string()))
            }
            SmsAuth::Bearer(token) => request.bearer_auth(token.expose()),
        };
        let request = match &sms.body {
            SmsBody::Form(fields) => {
                let filled: Vec<(&str, String)> = fields
                    .iter()
                    .map(|(name, template)| (name.as_str(), fill(template, values, str::to_string)))
                    .collect();
                request.form(&filled)
            }
            SmsBody::Json(template) => request
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .body(fill(template, values, json_escape)),
        };
        let response = request.send().await.map_err(transport_error)?;
        answer(response).await
    }
}

fn cut(text: &str) -> String {
    if text.chars().count() <= MAX_SMS_CHARS {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(MAX_SMS_CHARS - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_texts_are_cut_to_the_provider_limit() {
        let long = "a".repeat(2000);
        let cut = super::cut(&long);
        assert_eq!(cut.chars().count(), super::MAX_SMS_CHARS);
        assert!(cut.ends_with('…'));
        assert_eq!(super::cut("curto"), "curto");
    }
}
