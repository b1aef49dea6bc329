//! `[persona]`: how a tenant's bot speaks, when it stops, and the texts it falls back on.
//! Every key is optional; `Persona` accessors give the defaults.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::domain::Language;

/// Reply used when the LLM gives no usable answer and the persona sets none.
pub const DEFAULT_FALLBACK_TEXT: &str =
    "Desculpe, não consegui responder agora. Um atendente vai continuar o seu atendimento em breve.";
/// Reply when the conversation is handed to a person and the persona sets none.
pub const DEFAULT_HANDOFF_TEXT: &str = "Certo! Vou transferir você para um atendente humano. Aguarde só um instante.";
/// English defaults.
const DEFAULT_FALLBACK_TEXT_EN: &str =
    "Sorry, I couldn't answer right now. An agent will continue helping you shortly.";
const DEFAULT_HANDOFF_TEXT_EN: &str = "Sure! I'm transferring you to a human agent. Please hold on a moment.";

/// `[persona]` as written in the tenant file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonaTable {
    /// Tone of voice, e.g. "acolhedor", "profissional", "descontraído".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tone: Option<String>,
    /// `voce` (informal) or `senhor` ("o senhor / a senhora").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formality: Option<String>,
    /// Acknowledge feelings when the customer is upset (default on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empathy: Option<bool>,
    /// Light humour when the mood is good (default off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub humor: Option<bool>,
    /// Greetings for a contact's first message (or the first after a conversation closed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub greetings: Vec<String>,
    /// Closing phrase the bot may use when the customer says goodbye.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closing: Option<String>,
    /// AI messages per conversation before handing off to a person (unset: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ai_messages: Option<u32>,
    /// The bot answers at all (default on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ai_enabled: Option<bool>,
    /// `pt-BR` (default) or `en`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// When people are available, in the tenant's time zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_hours: Option<BusinessHours>,
    /// Said instead of the handoff text outside business hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_of_hours_text: Option<String>,
    /// Sent when the LLM gives no usable answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_text: Option<String>,
    /// Sent when the conversation is handed to a person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handoff_text: Option<String>,
    /// Overrides `[llm] model` for this persona.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Overrides `[llm] temperature`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Extra instructions for the model (business facts, rules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// A minijinja template replacing the built-in system prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_template: Option<String>,
    /// File holding `prompt_template`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_template_file: Option<PathBuf>,
    /// Answers that state facts must cite a knowledge entry, or the fallback is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grounded_only: Option<bool>,
    /// Hosts links in answers may point to (unset: any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_allowlist: Option<Vec<String>>,
}

/// `[persona.business_hours]`: `"HH:MM-HH:MM"` per day; a missing day is closed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusinessHours {
    /// IANA time zone, e.g. `America/Sao_Paulo`.
    pub timezone: String,
    /// Monday to Friday, unless a day sets its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weekdays: Option<String>,
    /// Per-day ranges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monday: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub tuesday: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub wednesday: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub thursday: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub friday: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub saturday: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub sunday: Option<String>,
}

/// How the customer is addressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Formality {
    /// "você".
    Voce,
    /// "o senhor / a senhora".
    Senhor,
}

impl BusinessHours {
    /// The range of a weekday (0 = Monday), as minutes since midnight; `None` = closed.
    pub fn range(&self, weekday: u8) -> Option<(u16, u16)> {
        let day = match weekday {
            0 => &self.monday,
            1 => &self.tuesday,
            2 => &self.wednesday,
            3 => &self.thursday,
            4 => &self.friday,
            5 => &self.saturday,
            _ => &self.sunday,
        };
        let spec = day.as_ref().or(if weekday < 5 { self.weekdays.as_ref() } else { None })?;
        parse_range(spec).ok().flatten()
    }

    fn validate(&self) -> Result<(), String> {
        if jiff::tz::TimeZone::get(&self.timezone).is_err() {
            return Err(format!(
                "persona.business_hours.timezone: unknown time zone {:?} (e.g. \"America/Sao_Paulo\")",
                self.timezone
            ));
        }
        let days = [
            ("weekdays", &self.weekdays),
            ("monday", &self.monday),
            ("tuesday", &self.tuesday),
            ("wednesday", &self.wednesday),
            ("thursday", &self.thursday),
            ("friday", &self.friday),
            ("saturday", &self.saturday),
            ("sunday", &self.sunday),
        ];
        for (name, spec) in days {
            if let Some(spec) = spec {
                parse_range(spec).map_err(|e| format!("persona.business_hours.{name}: {e}"))?;
            }
        }
        Ok(())
    }
}

/// `"08:00-18:00"` → minutes; `""` or `"closed"`/`"fechado"` → `None`.
fn parse_range(spec: &str) -> Result<Option<(u16, u16)>, String> {
    let spec = spec.trim();
    if spec.is_empty() || spec.eq_ignore_ascii_case("closed") || spec.eq_ignore_ascii_case("fechado") {
        return Ok(None);
    }
    let bad = || format!("{spec:?} is not a range like \"08:00-18:00\"");
    let (from, to) = spec.split_once('-').ok_or_else(bad)?;
    let minutes = |t: &str| -> Option<u16> {
        let (h, m) = t.trim().split_once(':')?;
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (h <= 24 && m < 60 && h * 60 + m <= 24 * 60).then_some(h * 60 + m)
    };
    let (from, to) = (minutes(from).ok_or_else(bad)?, minutes(to).ok_or_else(bad)?);
    if from >= to {
        return Err(format!("{spec:?}: the end must come after the start"));
    }
    Ok(Some((from, to)))
}

impl PersonaTable {
    /// Checks values that serde cannot (languages, ranges, the template's syntax).
    pub fn validate(&self) -> Result<(), String> {
        if let Some(lang) = &self.language
            && Language::parse(lang).is_none()
        {
            return Err(format!("persona.language: {lang:?} is not supported (use \"pt-BR\" or \"en\")"));
        }
        if let Some(f) = &self.formality
            && parse_formality(f).is_none()
        {
            return Err(format!("persona.formality: {f:?} (use \"voce\" or \"senhor\")"));
        }
        if let Some(t) = self.temperature
            && !(0.0..=2.0).contains(&t)
        {
            return Err(format!("persona.temperature: {t} is outside 0.0..=2.0"));
        }
        if self.max_ai_messages == Some(0) {
            return Err("persona.max_ai_messages: must be at least 1 (or use ai_enabled = false)".into());
        }
        if self.prompt_template.is_some() && self.prompt_template_file.is_some() {
            return Err("persona: give either `prompt_template` or `prompt_template_file`, not both".into());
        }
        if let Some(hours) = &self.business_hours {
            hours.validate()?;
        }
        Ok(())
    }

    /// The customer-facing language.
    pub fn language(&self) -> Language {
        self.language.as_deref().and_then(Language::parse).unwrap_or_default()
    }

    /// How the customer is addressed (default "você").
    pub fn formality(&self) -> Formality {
        self.formality.as_deref().and_then(parse_formality).unwrap_or(Formality::Voce)
    }

    /// Whether the bot answers at all.
    pub fn ai_enabled(&self) -> bool {
        self.ai_enabled.unwrap_or(true)
    }

    /// Whether empathy rules apply.
    pub fn empathy(&self) -> bool {
        self.empathy.unwrap_or(true)
    }

    /// Whether light humour is allowed.
    pub fn humor(&self) -> bool {
        self.humor.unwrap_or(false)
    }

    /// The fallback text, in the persona's language by default.
    pub fn fallback_text(&self) -> &str {
        self.fallback_text.as_deref().unwrap_or(match self.language() {
            Language::PtBr => DEFAULT_FALLBACK_TEXT,
            Language::En => DEFAULT_FALLBACK_TEXT_EN,
        })
    }

    /// The handoff text, in the persona's language by default.
    pub fn handoff_text(&self) -> &str {
        self.handoff_text.as_deref().unwrap_or(match self.language() {
            Language::PtBr => DEFAULT_HANDOFF_TEXT,
            Language::En => DEFAULT_HANDOFF_TEXT_EN,
        })
    }

    /// The custom system-prompt template, read from its file when given as one.
    pub fn template_source(&self) -> Result<Option<String>, String> {
        match (&self.prompt_template, &self.prompt_template_file) {
            (Some(text), _) => Ok(Some(text.clone())),
            (None, Some(path)) => std::fs::read_to_string(path)
                .map(Some)
                .map_err(|e| format!("persona.prompt_template_file: cannot read {}: {e}", path.display())),
            (None, None) => Ok(None),
        }
    }
}

fn parse_formality(value: &str) -> Option<Formality> {
    match value.trim().to_lowercase().as_str() {
        "voce" | "você" | "informal" => Some(Formality::Voce),
        "senhor" | "o senhor" | "senhora" | "formal" => Some(Formality::Senhor),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hours(text: &str) -> BusinessHours {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn weekdays_apply_to_monday_through_friday_unless_a_day_overrides() {
        let h = hours(
            "timezone = \"America/Sao_Paulo\"\nweekdays = \"08:00-18:00\"\nfriday = \"08:00-12:00\"\nsaturday = \"09:00-13:00\"",
        );
        assert_eq!(h.range(0), Some((480, 1080)));
        assert_eq!(h.range(4), Some((480, 720)));
        assert_eq!(h.range(5), Some((540, 780)));
        assert_eq!(h.range(6), None);
        assert!(h.validate().is_ok());
    }

    #[test]
    fn bad_ranges_and_unknown_time_zones_are_explained() {
        let h = hours("timezone = \"America/Sao_Paolo\"");
        assert!(h.validate().unwrap_err().contains("Sao_Paolo"));
        let h = hours("timezone = \"UTC\"\nmonday = \"18:00-08:00\"");
        assert!(h.validate().unwrap_err().contains("monday"));
        let h = hours("timezone = \"UTC\"\nsunday = \"9h-12h\"");
        assert!(h.validate().unwrap_err().contains("sunday"));
    }

    #[test]
    fn defaults_follow_the_language() {
        let pt = PersonaTable::default();
        assert_eq!(pt.fallback_text(), DEFAULT_FALLBACK_TEXT);
        let en = PersonaTable { language: Some("en".into()), ..PersonaTable::default() };
        assert!(en.handoff_text().starts_with("Sure"));
        assert!(PersonaTable { language: Some("es".into()), ..PersonaTable::default() }.validate().is_err());
        assert_eq!(
            PersonaTable { formality: Some("o senhor".into()), ..Default::default() }.formality(),
            Formality::Senhor
        );
    }
}
