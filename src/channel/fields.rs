//! Typed reads of JSON object fields whose errors name the field by its path
//! (`field `key.remoteJid`: expected a string, got a number`) and never echo long input.

use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::ParseError;
use super::inbound::MAX_ID_CHARS;

/// A JSON object and the path it was reached by, for error messages.
#[derive(Debug, Clone)]
pub(super) struct Fields<'a> {
    map: &'a Map<String, Value>,
    /// Dotted path of this object from the payload root, empty at the root.
    path: String,
}

impl<'a> Fields<'a> {
    /// Reads `value` as an object; `what` names it in the error ("a message object").
    pub(super) fn root(value: &'a Value, what: &str) -> Result<Self, ParseError> {
        match value {
            Value::Object(map) => Ok(Self { map, path: String::new() }),
            other => Err(ParseError::Invalid(format!("expected {what}, got {}", kind(other)))),
        }
    }

    /// The value of `key`; JSON `null` counts as absent.
    pub(super) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|value| !value.is_null())
    }

    /// Whether `key` holds a non-null value.
    pub(super) fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// An optional string field.
    pub(super) fn str(&self, key: &str) -> Result<Option<&'a str>, ParseError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(other) => Err(self.wrong_type(key, "a string", other)),
        }
    }

    /// A required string field.
    pub(super) fn req_str(&self, key: &str) -> Result<&'a str, ParseError> {
        self.str(key)?.ok_or_else(|| self.invalid(key, "is required"))
    }

    /// A provider message id: a non-blank string of at most [`MAX_ID_CHARS`] characters, trimmed.
    pub(super) fn provider_id(&self, key: &str) -> Result<String, ParseError> {
        let id = self.req_str(key)?.trim();
        if id.is_empty() {
            return Err(self.invalid(key, "must not be empty"));
        }
        if id.chars().count() > MAX_ID_CHARS {
            return Err(self.invalid(key, &format!("longer than {MAX_ID_CHARS} characters")));
        }
        Ok(id.to_owned())
    }

    /// An optional boolean field.
    pub(super) fn bool(&self, key: &str) -> Result<Option<bool>, ParseError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(flag)) => Ok(Some(*flag)),
            Some(other) => Err(self.wrong_type(key, "a boolean", other)),
        }
    }

    /// An optional nested object.
    pub(super) fn obj(&self, key: &str) -> Result<Option<Fields<'a>>, ParseError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Fields { map, path: self.name(key) })),
            Some(other) => Err(self.wrong_type(key, "an object", other)),
        }
    }

    /// An optional identifier sent as a string or an integer; blank strings count as absent.
    pub(super) fn id(&self, key: &str) -> Result<Option<String>, ParseError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.trim()).filter(|t| !t.is_empty()).map(str::to_owned)),
            Some(Value::Number(number)) if number.is_i64() || number.is_u64() => Ok(Some(number.to_string())),
            Some(other) => Err(self.wrong_type(key, "a string or an integer", other)),
        }
    }

    /// Unix seconds as an integer, a numeric string or a protobuf Long `{low, high, unsigned}`.
    pub(super) fn unix_time(&self, key: &str) -> Result<Option<OffsetDateTime>, ParseError> {
        let seconds = match self.get(key) {
            None => return Ok(None),
            Some(Value::Number(number)) => number.as_i64(),
            Some(Value::String(text)) => text.trim().parse().ok(),
            Some(Value::Object(map)) => {
                let long = Fields { map, path: self.name(key) };
                Some(long.protobuf_long()?)
            }
            Some(other) => return Err(self.wrong_type(key, "unix seconds", other)),
        };
        let seconds = seconds.ok_or_else(|| self.invalid(key, "expected integer unix seconds"))?;
        self.seconds_to_time(key, seconds).map(Some)
    }

    /// Converts unix seconds, rejecting negatives and values beyond year 9999 (e.g. milliseconds).
    pub(super) fn seconds_to_time(&self, key: &str, seconds: i64) -> Result<OffsetDateTime, ParseError> {
        OffsetDateTime::from_unix_timestamp(seconds)
            .ok()
            .filter(|_| seconds >= 0)
            .ok_or_else(|| self.invalid(key, &format!("{seconds} is not a unix time in seconds")))
    }

    /// The error for `key` with a reason: "field `path.key`: reason".
    pub(super) fn invalid(&self, key: &str, reason: &str) -> ParseError {
        ParseError::Invalid(format!("field `{}`: {reason}", self.name(key)))
    }

    fn protobuf_long(&self) -> Result<i64, ParseError> {
        let low = self.long_half("low")?;
        let high = self.long_half("high")?;
        let bits = (u64::from(high) << 32) | u64::from(low);
        if self.bool("unsigned")?.unwrap_or(false) {
            i64::try_from(bits).map_err(|_| self.invalid("high", "out of range"))
        } else {
            // A signed Long is the two's complement of the 64 bits.
            Ok(bits as i64)
        }
    }

    fn long_half(&self, key: &str) -> Result<u32, ParseError> {
        let number = self.get(key).and_then(Value::as_i64);
        let number = number.ok_or_else(|| self.invalid(key, "expected a 32-bit integer"))?;
        // protobufjs writes each half as a signed int32; accept the unsigned spelling too.
        i32::try_from(number)
            .map(|half| half as u32)
            .or_else(|_| u32::try_from(number))
            .map_err(|_| self.invalid(key, "expected a 32-bit integer"))
    }

    fn wrong_type(&self, key: &str, expected: &str, got: &Value) -> ParseError {
        self.invalid(key, &format!("expected {expected}, got {}", kind(got)))
    }

    fn name(&self, key: &str) -> String {
        if self.path.is_empty() { key.to_owned() } else { format!("{}.{key}", self.path) }
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn read_time(value: Value) -> Result<Option<OffsetDateTime>, ParseError> {
        let root = json!({ "ts": value });
        Fields::root(&root, "an object")?.unix_time("ts")
    }

    #[test]
    fn unix_time_accepts_numbers_numeric_strings_and_protobuf_longs() {
        let expected = OffsetDateTime::from_unix_timestamp(1_764_000_000).ok();
        assert_eq!(read_time(json!(1_764_000_000)).unwrap(), expected);
        assert_eq!(read_time(json!("1764000000")).unwrap(), expected);
        assert_eq!(read_time(json!({"low": 1_764_000_000, "high": 0, "unsigned": false})).unwrap(), expected);
        assert_eq!(read_time(json!({"low": 1_764_000_000, "high": 0, "unsigned": true})).unwrap(), expected);
    }

    #[test]
    fn a_long_with_a_negative_low_half_is_read_as_unsigned_bits() {
        // 3_000_000_000 (year 2065) does not fit an int32, so protobufjs writes low = -1_294_967_296.
        let time = read_time(json!({"low": -1_294_967_296, "high": 0, "unsigned": true})).unwrap();
        assert_eq!(time.map(OffsetDateTime::unix_timestamp), Some(3_000_000_000));
    }

    #[test]
    fn milliseconds_negatives_fractions_and_garbage_are_rejected_with_the_field_name() {
        for value in [json!(1_764_000_000_000_i64), json!(-5), json!(1.5), json!("soon"), json!([1]), json!({"low": 1})]
        {
            let error = read_time(value.clone()).unwrap_err().to_string();
            assert!(error.starts_with("field `ts"), "{value}: {error}");
        }
    }

    #[test]
    fn wrong_types_name_the_nested_path() {
        let root = json!({"key": {"remoteJid": 42}});
        let key = Fields::root(&root, "an object").unwrap().obj("key").unwrap().unwrap();
        let error = key.str("remoteJid").unwrap_err();
        assert_eq!(error.to_string(), "field `key.remoteJid`: expected a string, got a number");
    }

    #[test]
    fn ids_may_be_strings_or_integers_and_null_is_absent() {
        let root = json!({"a": "  T-1 ", "b": 42, "c": null, "d": "", "e": 1.5});
        let fields = Fields::root(&root, "an object").unwrap();
        assert_eq!(fields.id("a").unwrap().as_deref(), Some("T-1"));
        assert_eq!(fields.id("b").unwrap().as_deref(), Some("42"));
        assert_eq!(fields.id("c").unwrap(), None);
        assert_eq!(fields.id("d").unwrap(), None);
        assert!(fields.id("e").is_err());
    }
}
