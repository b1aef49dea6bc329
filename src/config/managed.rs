//! Tenant secrets changed from the command line (`atende secrets rotate|set`), kept in the
//! tenant's row beside the applied file so that `tenant apply` never undoes them.
//!
//! Rotation adds a new inbound secret and gives every other one a deadline: until then
//! senders may use either, after it the old one is refused. A secret the tenant *file*
//! holds cannot be removed from the file by us, so rotation records a copy of it with its
//! deadline and keeps that copy after expiry: it is what keeps the file's value refused.
//! Provider secrets set here (`whaticket.token`, `llm.api_key`, …) win over the file's.
//!
//! Values are [`Secret`]s, so the stored JSON is sealed under the master key like the file.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::tenant::Secret;

/// How long a rotated-out secret keeps working unless `--grace` says otherwise.
pub const DEFAULT_GRACE: time::Duration = time::Duration::hours(24);

/// Which inbound credential a rotation replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotatable {
    /// The HMAC secrets of signed webhooks (`[webhook] secrets`).
    Webhook,
    /// The `?token=` of senders that cannot sign (`[webhook] inbound_token`).
    InboundToken,
}

impl Rotatable {
    /// Name on the command line and in the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::InboundToken => "inbound_token",
        }
    }
}

/// One inbound secret that rotation added or retired.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotatedSecret {
    /// The value.
    pub value: Secret,
    /// When it was added (unix seconds).
    pub created_at: i64,
    /// When it stops being accepted (unix seconds); `None`: current.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// A copy of a value of the tenant file, kept so the file's value stays refused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub from_file: bool,
}

impl RotatedSecret {
    fn live_at(&self, now: i64) -> bool {
        self.expires_at.is_none_or(|at| now < at)
    }
}

/// A provider secret set with `atende secrets set`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetSecret {
    /// The value.
    pub value: Secret,
    /// When it was set (unix seconds).
    pub set_at: i64,
}

/// Everything `atende secrets rotate|set` changed for one tenant.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManagedSecrets {
    /// Webhook HMAC secrets added or retired by rotation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhook: Vec<RotatedSecret>,
    /// Inbound tokens added or retired by rotation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inbound_token: Vec<RotatedSecret>,
    /// Provider secrets by tenant-file key (`whaticket.token`), winning over the file.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub set: BTreeMap<String, SetSecret>,
}

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationOutcome {
    /// Secrets that now expire (the file's and earlier rotations').
    pub retired: usize,
    /// Expired entries dropped.
    pub removed: usize,
}

impl ManagedSecrets {
    /// Whether nothing was ever changed from the command line.
    pub fn is_empty(&self) -> bool {
        self.webhook.is_empty() && self.inbound_token.is_empty() && self.set.is_empty()
    }

    fn entries(&self, kind: Rotatable) -> &Vec<RotatedSecret> {
        match kind {
            Rotatable::Webhook => &self.webhook,
            Rotatable::InboundToken => &self.inbound_token,
        }
    }

    fn entries_mut(&mut self, kind: Rotatable) -> &mut Vec<RotatedSecret> {
        match kind {
            Rotatable::Webhook => &mut self.webhook,
            Rotatable::InboundToken => &mut self.inbound_token,
        }
    }

    /// The secrets of `kind` accepted at `now`: the file's (`from_file`, as resolved) unless
    /// rotation retired them and their deadline passed, then the live rotated ones.
    pub fn accepted(&self, kind: Rotatable, from_file: &[Secret], now: OffsetDateTime) -> Vec<Secret> {
        let now = now.unix_timestamp();
        let entries = self.entries(kind);
        let mut accepted: Vec<Secret> = from_file
            .iter()
            .filter(|value| entries.iter().filter(|e| e.from_file && &e.value == *value).all(|e| e.live_at(now)))
            .cloned()
            .collect();
        for entry in entries.iter().filter(|e| !e.from_file && e.live_at(now)) {
            if !accepted.contains(&entry.value) {
                accepted.push(entry.value.clone());
            }
        }
        accepted
    }

    /// Makes `new` the current secret of `kind`; every other accepted one (`from_file` are
    /// the file's, as resolved) keeps working for `grace`, or its earlier deadline.
    pub fn rotate(
        &mut self,
        kind: Rotatable,
        from_file: &[Secret],
        new: Secret,
        now: OffsetDateTime,
        grace: time::Duration,
    ) -> RotationOutcome {
        let at = now.unix_timestamp();
        let deadline = (now + grace).unix_timestamp();
        let entries = self.entries_mut(kind);
        let before = entries.len();
        // Expired rotated entries have done their job; a file copy only while the file
        // still holds the value.
        entries.retain(|e| e.live_at(at) || (e.from_file && from_file.contains(&e.value)));
        let removed = before - entries.len();
        let mut retired = 0;
        for entry in entries.iter_mut().filter(|e| e.live_at(at)) {
            if entry.expires_at.is_none_or(|old| old > deadline) {
                entry.expires_at = Some(deadline);
                retired += 1;
            }
        }
        for value in from_file {
            if !entries.iter().any(|e| e.from_file && &e.value == value) {
                entries.push(RotatedSecret {
                    value: value.clone(),
                    created_at: at,
                    expires_at: Some(deadline),
                    from_file: true,
                });
                retired += 1;
            }
        }
        entries.push(RotatedSecret { value: new, created_at: at, expires_at: None, from_file: false });
        RotationOutcome { retired, removed }
    }

    /// The value set for a tenant-file key, if any.
    pub fn get(&self, key: &str) -> Option<&Secret> {
        self.set.get(key).map(|s| &s.value)
    }

    /// Sets (or with `None` clears) the value for a tenant-file key; whether it changed.
    pub fn set_value(&mut self, key: &str, value: Option<Secret>, now: OffsetDateTime) -> bool {
        match value {
            Some(value) => {
                let entry = SetSecret { value, set_at: now.unix_timestamp() };
                self.set.insert(key.to_string(), entry);
                true
            }
            None => self.set.remove(key).is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hours: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap() + time::Duration::hours(hours)
    }

    fn values(secrets: &[Secret]) -> Vec<&str> {
        secrets.iter().map(Secret::expose).collect()
    }

    #[test]
    fn rotation_keeps_the_file_secret_for_the_grace_period_then_refuses_it_for_good() {
        let file = [Secret::new("file-secret")];
        let mut managed = ManagedSecrets::default();
        assert_eq!(values(&managed.accepted(Rotatable::Webhook, &file, at(0))), ["file-secret"]);

        let outcome = managed.rotate(Rotatable::Webhook, &file, Secret::new("new-1"), at(0), DEFAULT_GRACE);
        assert_eq!(outcome, RotationOutcome { retired: 1, removed: 0 });
        assert_eq!(values(&managed.accepted(Rotatable::Webhook, &file, at(23))), ["file-secret", "new-1"]);
        assert_eq!(values(&managed.accepted(Rotatable::Webhook, &file, at(24))), ["new-1"]);
        assert_eq!(values(&managed.accepted(Rotatable::Webhook, &file, at(24 * 400))), ["new-1"]);
        assert!(managed.accepted(Rotatable::InboundToken, &[], at(1)).is_empty(), "kinds are apart");
    }

    #[test]
    fn a_second_rotation_retires_the_first_and_drops_what_expired() {
        let file = [Secret::new("file-secret")];
        let mut managed = ManagedSecrets::default();
        managed.rotate(Rotatable::Webhook, &file, Secret::new("new-1"), at(0), DEFAULT_GRACE);
        let outcome = managed.rotate(Rotatable::Webhook, &file, Secret::new("new-2"), at(30), DEFAULT_GRACE);
        // new-1 retired; the file's copy is kept (the file still holds the value).
        assert_eq!(outcome, RotationOutcome { retired: 1, removed: 0 });
        assert_eq!(values(&managed.accepted(Rotatable::Webhook, &file, at(31))), ["new-1", "new-2"]);
        assert_eq!(values(&managed.accepted(Rotatable::Webhook, &file, at(54))), ["new-2"]);

        let outcome = managed.rotate(Rotatable::Webhook, &[], Secret::new("new-3"), at(60), DEFAULT_GRACE);
        assert_eq!(outcome, RotationOutcome { retired: 1, removed: 2 }, "new-1 and the file copy go");
        assert_eq!(managed.webhook.len(), 2);
    }

    #[test]
    fn a_short_grace_wins_over_a_longer_earlier_deadline_and_never_extends_one() {
        let mut managed = ManagedSecrets::default();
        managed.rotate(Rotatable::InboundToken, &[], Secret::new("a"), at(0), DEFAULT_GRACE);
        managed.rotate(Rotatable::InboundToken, &[], Secret::new("b"), at(1), time::Duration::hours(48));
        managed.rotate(Rotatable::InboundToken, &[], Secret::new("c"), at(2), time::Duration::ZERO);
        assert_eq!(values(&managed.accepted(Rotatable::InboundToken, &[], at(2))), ["c"]);
    }

    #[test]
    fn a_new_value_in_the_file_is_accepted_beside_the_rotated_one() {
        let mut managed = ManagedSecrets::default();
        managed.rotate(Rotatable::Webhook, &[Secret::new("old")], Secret::new("new"), at(0), time::Duration::ZERO);
        let file = [Secret::new("old"), Secret::new("edited-later")];
        assert_eq!(values(&managed.accepted(Rotatable::Webhook, &file, at(1))), ["edited-later", "new"]);
    }

    #[test]
    fn set_values_are_kept_by_key_and_can_be_cleared() {
        let mut managed = ManagedSecrets::default();
        assert!(managed.set_value("whaticket.token", Some(Secret::new("t")), at(0)));
        assert_eq!(managed.get("whaticket.token").map(Secret::expose), Some("t"));
        assert!(managed.set_value("whaticket.token", None, at(1)));
        assert!(!managed.set_value("whaticket.token", None, at(1)));
        assert!(managed.is_empty());
    }

    #[test]
    fn the_stored_form_round_trips_and_leaves_defaults_out() {
        let mut managed = ManagedSecrets::default();
        assert_eq!(serde_json::to_string(&managed).unwrap(), "{}");
        managed.rotate(Rotatable::Webhook, &[Secret::new("f")], Secret::new("n"), at(0), DEFAULT_GRACE);
        managed.set_value("llm.api_key", Some(Secret::new("k")), at(0));
        let json = serde_json::to_string(&managed).unwrap();
        assert_eq!(serde_json::from_str::<ManagedSecrets>(&json).unwrap(), managed);
    }
}
