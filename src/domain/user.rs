//! People who run Atende (panel and admin API): e-mail, role, and what each role may do.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a user may do. Ordered: each role can do everything the ones below it can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserRole {
    /// Reads everything a tenant's team sees; changes nothing.
    Viewer,
    /// Runs the service day to day: conversations, hand-offs, dead letters, knowledge, persona.
    Operator,
    /// Everything, including users, tenants and secrets.
    Admin,
}

impl UserRole {
    /// Every role, lowest first.
    pub const ALL: [UserRole; 3] = [UserRole::Viewer, UserRole::Operator, UserRole::Admin];

    /// Stored and wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Operator => "operator",
            Self::Admin => "admin",
        }
    }

    /// Reads the stored spelling; unknown text is the least privileged role, so a corrupt
    /// row never grants more than it should.
    pub fn from_stored(value: &str) -> Self {
        value.parse().unwrap_or(Self::Viewer)
    }

    /// Whether this role includes `needed`.
    pub fn allows(self, needed: UserRole) -> bool {
        self >= needed
    }
}

impl fmt::Display for UserRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for UserRole {
    type Err = UnknownRole;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|role| role.as_str() == value).ok_or_else(|| UnknownRole(value.to_string()))
    }
}

/// A role name that is not one of `admin`, `operator`, `viewer`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}: use admin, operator or viewer")]
pub struct UnknownRole(pub String);

/// A login e-mail: trimmed, lowercased, one `@` with text on both sides and a dot in the
/// domain. Deliverability is not checked; this only keeps typos and junk out.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Validates and normalises `value`.
    pub fn parse(value: &str) -> Result<Self, InvalidEmail> {
        let email = value.trim().to_lowercase();
        let valid = match email.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.split('.').count() >= 2
                    && domain.split('.').all(|label| !label.is_empty())
                    && email.len() <= 254
                    && !email.chars().any(|c| c.is_whitespace() || c.is_control())
            }
            None => false,
        };
        if valid { Ok(Self(email)) } else { Err(InvalidEmail(value.trim().to_string())) }
    }

    /// Wraps an address read back from storage.
    pub fn from_stored(value: String) -> Self {
        Self(value)
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Text that is not a usable login e-mail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid e-mail address {0:?}: use name@example.com")]
pub struct InvalidEmail(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_include_the_ones_below_them_only() {
        assert!(UserRole::Admin.allows(UserRole::Operator));
        assert!(UserRole::Operator.allows(UserRole::Viewer));
        assert!(UserRole::Operator.allows(UserRole::Operator));
        assert!(!UserRole::Operator.allows(UserRole::Admin));
        assert!(!UserRole::Viewer.allows(UserRole::Operator));
    }

    #[test]
    fn roles_parse_their_names_and_nothing_else() {
        for role in UserRole::ALL {
            assert_eq!(role.as_str().parse::<UserRole>(), Ok(role));
        }
        assert!("Admin".parse::<UserRole>().is_err());
        assert!("root".parse::<UserRole>().is_err());
        assert_eq!(UserRole::from_stored("root"), UserRole::Viewer);
    }

    #[test]
    fn emails_are_normalised_and_junk_is_refused() {
        assert_eq!(Email::parse("  Ana@Loja.com.BR ").unwrap().as_str(), "ana@loja.com.br");
        for bad in ["", "ana", "ana@", "@loja.com", "ana@loja", "ana@@loja.com", "ana@loja..com", "a na@loja.com"] {
            assert!(Email::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
