//! [`RecordedConfig`]: a config as state records it.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;

/// The config a resource was last applied with, as recorded in state. It is kept as its
/// JSON text and parsed only when read ([`RecordedConfig::value`]): loading a large state
/// builds no tree per config, and a plan reads a recorded config only when the resource's
/// config hash changed or it is deleted.
#[derive(Clone)]
pub struct RecordedConfig(Box<RawValue>);

impl RecordedConfig {
    /// The recorded form of `config`.
    pub fn new(config: &Value) -> Self {
        // A `Value` always serializes (its keys are strings).
        serde_json::value::to_raw_value(config).map_or_else(|_| Self::default(), Self)
    }

    /// The config as a JSON value.
    pub fn value(&self) -> Value {
        // The text was checked to be JSON when it was read or written, so it parses again.
        serde_json::from_str(self.0.get()).unwrap_or(Value::Null)
    }

    /// The config's JSON text, as stored.
    pub fn as_json(&self) -> &str {
        self.0.get()
    }
}

impl Default for RecordedConfig {
    /// `null`: no config.
    fn default() -> Self {
        Self(RawValue::NULL.to_owned())
    }
}

impl From<&Value> for RecordedConfig {
    fn from(config: &Value) -> Self {
        Self::new(config)
    }
}

impl PartialEq for RecordedConfig {
    /// Equal JSON text (records written by this build write a config one way).
    fn eq(&self, other: &Self) -> bool {
        self.0.get() == other.0.get()
    }
}

impl fmt::Debug for RecordedConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.get())
    }
}

impl Serialize for RecordedConfig {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for RecordedConfig {
    /// Only from JSON text (`serde_json::from_slice` / `from_str`), as every store reads it.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Box::<RawValue>::deserialize(d).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn round_trips_as_the_same_json_and_parses_on_demand() {
        let config = json!({ "b": [1, "x"], "a": { "c": null } });
        let recorded = RecordedConfig::new(&config);
        assert_eq!(recorded.value(), config);
        let text = serde_json::to_string(&json!({ "config": recorded })).unwrap();
        assert_eq!(text, r#"{"config":{"a":{"c":null},"b":[1,"x"]}}"#);
        #[derive(Deserialize)]
        struct Holder {
            config: RecordedConfig,
        }
        let back: Holder = serde_json::from_str(&text).unwrap();
        assert_eq!(back.config, recorded);
        assert_eq!(back.config.value(), config);
        assert_eq!(RecordedConfig::default().value(), Value::Null);
    }
}
