//! A customer's WhatsApp number.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Digits only, country code first (E.164 without `+`), 8 to 20 digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ContactNumber(String);

/// Why a text is not a contact number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid contact number {0:?}: expected 8 to 20 digits, country code first")]
pub struct ContactNumberError(String);

impl ContactNumber {
    /// Accepts `+55 (11) 99999-9999`, `5511999999999` or a JID such as
    /// `5511999999999@s.whatsapp.net` / `5511999999999:12@s.whatsapp.net`;
    /// separators are dropped, anything else is rejected.
    pub fn parse(raw: &str) -> Result<Self, ContactNumberError> {
        let user = raw.split('@').next().unwrap_or_default();
        let user = user.split(':').next().unwrap_or_default();
        let mut digits = String::with_capacity(user.len());
        for c in user.trim().chars() {
            match c {
                '0'..='9' => digits.push(c),
                '+' | ' ' | '-' | '(' | ')' | '.' => {}
                _ => return Err(ContactNumberError(raw.chars().take(40).collect())),
            }
        }
        if !(8..=20).contains(&digits.len()) {
            return Err(ContactNumberError(raw.chars().take(40).collect()));
        }
        Ok(Self(digits))
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ContactNumber {
    type Error = ContactNumberError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ContactNumber> for String {
    fn from(value: ContactNumber) -> Self {
        value.0
    }
}

impl fmt::Display for ContactNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatted_numbers_and_jids_become_digits() {
        for raw in ["+55 (11) 99999-9999", "5511999999999@s.whatsapp.net", "5511999999999:3@s.whatsapp.net"] {
            assert_eq!(ContactNumber::parse(raw).unwrap().as_str(), "5511999999999");
        }
    }

    #[test]
    fn letters_and_short_numbers_are_rejected() {
        assert!(ContactNumber::parse("55119abc").is_err());
        assert!(ContactNumber::parse("1234").is_err());
        assert!(ContactNumber::parse("").is_err());
    }
}
