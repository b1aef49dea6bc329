//! When to hand a conversation to a person, and the business-hours check.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use time::OffsetDateTime;

use crate::config::persona::PersonaTable;

/// Why the bot hands over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandoffReason {
    /// The customer asked for a person.
    CustomerAsked,
    /// Strongly negative mood in consecutive messages.
    NegativeMood,
    /// The persona's AI message limit was reached.
    AiLimit,
    /// The model said it cannot help.
    CannotHelp,
    /// The injection guard blocked twice in this ticket.
    GuardRepeated,
    /// No LLM and nothing in the knowledge base.
    NoAnswer,
}

impl HandoffReason {
    /// Label and stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CustomerAsked => "customer_asked",
            Self::NegativeMood => "negative_mood",
            Self::AiLimit => "ai_limit",
            Self::CannotHelp => "cannot_help",
            Self::GuardRepeated => "guard_repeated",
            Self::NoAnswer => "no_answer",
        }
    }
}

/// Compound score at or below which a message counts as strongly negative.
pub const STRONGLY_NEGATIVE: f32 = -0.5;
/// Strongly negative bursts in a row that trigger a handoff.
pub const NEGATIVE_STREAK_LIMIT: u32 = 2;

/// True when the persona sets business hours and `now` is outside them.
pub fn out_of_hours(persona: &PersonaTable, now: OffsetDateTime) -> bool {
    let Some(hours) = &persona.business_hours else { return false };
    let Ok(tz) = TimeZone::get(&hours.timezone) else { return false };
    let Ok(ts) = Timestamp::from_second(now.unix_timestamp()) else { return false };
    let local = ts.to_zoned_datetime(tz);
    let weekday = local.weekday().to_monday_zero_offset() as u8;
    let minute = local.hour() as u16 * 60 + local.minute() as u16;
    match hours.range(weekday) {
        Some((open, close)) => !(open..close).contains(&minute),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn persona() -> PersonaTable {
        toml::from_str(
            "[business_hours]\ntimezone = \"America/Sao_Paulo\"\nweekdays = \"08:00-18:00\"\nsaturday = \"09:00-13:00\"",
        )
        .unwrap()
    }

    fn at(rfc3339: &str) -> OffsetDateTime {
        OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339).unwrap()
    }

    #[test]
    fn hours_are_read_in_the_tenants_time_zone() {
        let p = persona();
        // Wednesday 2026-11-25 12:00 in São Paulo is 15:00 UTC.
        assert!(!out_of_hours(&p, at("2026-11-25T15:00:00Z")));
        // 19:30 local (22:30 UTC) is after closing.
        assert!(out_of_hours(&p, at("2026-11-25T22:30:00Z")));
        // Sunday is closed; Saturday 10:00 local is open.
        assert!(out_of_hours(&p, at("2026-11-29T15:00:00Z")));
        assert!(!out_of_hours(&p, at("2026-11-28T13:00:00Z")));
        assert!(!out_of_hours(&PersonaTable::default(), at("2026-11-29T03:00:00Z")));
    }
}
