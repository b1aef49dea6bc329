//! `[spend]` of the tenant file: what LLM tokens cost and how much a tenant may spend.
//!
//! ```toml
//! [spend]
//! currency = "USD"
//! daily_cap = 5.0
//! monthly_cap = 100.0
//! on_cap = "knowledge"            # or "handoff"
//! [spend.prices."gemini-2.0-flash"]
//! input = 0.10                    # per million tokens
//! output = 0.40
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What the bot does once a cap is reached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnCap {
    /// A confident knowledge-base answer, else the persona's fallback text.
    #[default]
    Knowledge,
    /// A confident knowledge-base answer, else a hand-off to a person.
    Handoff,
}

/// One model's price, per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Per million prompt tokens.
    pub input: f64,
    /// Per million answer tokens (thinking included).
    pub output: f64,
}

/// `[spend]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpendTable {
    /// Label of the prices and caps (metrics, events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Most the tenant may spend per day (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_cap: Option<f64>,
    /// Most the tenant may spend per calendar month (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_cap: Option<f64>,
    /// What happens past a cap.
    #[serde(default)]
    pub on_cap: OnCap,
    /// Prices by model id (the `model` the provider is asked for).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub prices: BTreeMap<String, Price>,
}

/// Money is kept as millionths of the currency unit, so sums are exact.
pub const MICROS: f64 = 1_000_000.0;

impl SpendTable {
    pub(super) fn is_default(&self) -> bool {
        self == &Self::default()
    }

    /// Whether spend is tracked at all (prices or caps set).
    pub fn tracked(&self) -> bool {
        !self.prices.is_empty() || self.daily_cap.is_some() || self.monthly_cap.is_some()
    }

    /// The currency label.
    pub fn currency(&self) -> &str {
        self.currency.as_deref().unwrap_or("USD")
    }

    /// What a call of `model` with these tokens cost, in micros (zero for an unpriced model).
    pub fn cost_micros(&self, model: &str, input_tokens: u64, output_tokens: u64) -> i64 {
        let Some(price) = self.prices.get(model) else { return 0 };
        // Price per million tokens × tokens = micros of the currency unit.
        (price.input * input_tokens as f64 + price.output * output_tokens as f64).round() as i64
    }

    /// The caps in micros: (daily, monthly).
    pub fn caps_micros(&self) -> (Option<i64>, Option<i64>) {
        let micros = |cap: Option<f64>| cap.map(|c| (c * MICROS).round() as i64);
        (micros(self.daily_cap), micros(self.monthly_cap))
    }

    pub(super) fn validate(&self) -> Result<(), String> {
        for (key, cap) in [("spend.daily_cap", self.daily_cap), ("spend.monthly_cap", self.monthly_cap)] {
            if let Some(cap) = cap
                && !(cap.is_finite() && cap > 0.0)
            {
                return Err(format!("{key}: {cap} must be a positive amount"));
            }
        }
        if (self.daily_cap.is_some() || self.monthly_cap.is_some()) && self.prices.is_empty() {
            return Err("spend: a cap needs [spend.prices.\"<model>\"] input/output prices per million tokens \
                        for the models the tenant uses (unpriced calls cost nothing)"
                .into());
        }
        for (model, price) in &self.prices {
            for (side, value) in [("input", price.input), ("output", price.output)] {
                if !(value.is_finite() && value >= 0.0) {
                    return Err(format!("spend.prices.\"{model}\".{side}: {value} must be zero or more"));
                }
            }
        }
        if let Some(currency) = &self.currency
            && (currency.is_empty() || currency.len() > 8 || !currency.chars().all(|c| c.is_ascii_alphabetic()))
        {
            return Err(format!("spend.currency: {currency:?} is not a currency code (e.g. \"USD\", \"BRL\")"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> Result<SpendTable, String> {
        let table: SpendTable = toml::from_str(text).map_err(|e| e.to_string())?;
        table.validate().map(|()| table)
    }

    #[test]
    fn costs_are_exact_micros_from_prices_per_million_tokens() {
        let t = table("daily_cap = 5\n[prices.\"gemini-2.0-flash\"]\ninput = 0.10\noutput = 0.40").unwrap();
        // 10,000 × 0.10 + 5,000 × 0.40 = 3,000 micros = 0.003.
        assert_eq!(t.cost_micros("gemini-2.0-flash", 10_000, 5_000), 3_000);
        assert_eq!(t.cost_micros("llama3.1", 10_000, 5_000), 0, "unpriced");
        assert_eq!(t.caps_micros(), (Some(5_000_000), None));
        assert_eq!(t.currency(), "USD");
    }

    #[test]
    fn nonsense_is_refused_with_the_key() {
        let cases = [
            ("daily_cap = 0\n[prices.m]\ninput = 1\noutput = 1", "spend.daily_cap"),
            ("monthly_cap = -3\n[prices.m]\ninput = 1\noutput = 1", "spend.monthly_cap"),
            ("daily_cap = 5", "spend: a cap needs"),
            ("[prices.m]\ninput = -1\noutput = 1", "spend.prices.\"m\".input"),
            ("currency = \"R$\"", "spend.currency"),
            ("on_cap = \"silence\"", "unknown variant"),
        ];
        for (text, expected) in cases {
            let err = table(text).unwrap_err();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }
}
