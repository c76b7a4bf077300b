//! The state schema: parsing a stored state (any store) and migrating older versions.
//!
//! | version | change |
//! |---|---|
//! | 1 | first released schema |
//! | 2 | outputs carry one cloud-neutral id field `id` (an ARN on AWS, a resource id on Azure); version 1 kept ARNs under `arn` |

use serde_json::Value;

use super::{SCHEMA_VERSION, StackState, StateError, StateKey};

/// Parses the bytes of a stored state: the schema version first (a cheap pass, so the
/// current schema is parsed straight into [`StackState`] and only older ones go through a
/// migration), then the state, which must be `key`'s. `location` names the file or object
/// in errors. A newer schema is [`StateError::UnsupportedVersion`].
pub fn parse_state(bytes: &[u8], key: &StateKey, location: &str) -> Result<StackState, StateError> {
    let corrupt = |message: String| StateError::Corrupt {
        location: location.to_owned(),
        message,
    };
    #[derive(serde::Deserialize)]
    struct Version {
        schema_version: Option<Value>,
    }
    let Version { schema_version } =
        serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
    let version = match schema_version {
        // Files from before versioning (none were ever released) are rejected by `migrate`.
        None => 0,
        Some(v) => v
            .as_u64()
            .and_then(|v| u32::try_from(v).ok())
            .ok_or_else(|| corrupt(format!("schema_version {v} is not a version number")))?,
    };
    let state: StackState = if version == SCHEMA_VERSION {
        serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?
    } else {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
        let value = migrate(value, version).map_err(|e| at_location(e, location))?;
        serde_json::from_value(value).map_err(|e| corrupt(e.to_string()))?
    };
    if &state.key != key {
        return Err(corrupt(format!(
            "{location} holds the state of {}, not of {key}",
            state.key
        )));
    }
    Ok(state)
}

/// Brings the JSON of a state written with schema version `from` to [`SCHEMA_VERSION`],
/// one version step at a time. Errors carry no location; the caller adds it.
pub fn migrate(mut value: Value, from: u32) -> Result<Value, StateError> {
    let mut version = from;
    loop {
        value = match version {
            SCHEMA_VERSION => return Ok(value),
            0 => {
                return Err(StateError::Corrupt {
                    location: String::new(),
                    message: "schema_version is missing or 0; the oldest state schema this \
                              build reads is 1"
                        .into(),
                });
            }
            1 => v1_to_v2(value),
            found if found > SCHEMA_VERSION => {
                return Err(StateError::UnsupportedVersion {
                    location: String::new(),
                    found,
                    supported: SCHEMA_VERSION,
                });
            }
            found => {
                return Err(StateError::Corrupt {
                    location: String::new(),
                    message: format!("no migration from state schema version {found}"),
                });
            }
        };
        version += 1;
    }
}

/// Version 1 → 2: each resource's `arn` output becomes the neutral `id` (resources with an
/// `id` already, like EC2 ones, had no `arn`). Configs and their hashes are unchanged, so
/// a migrated stack plans as a no-op.
fn v1_to_v2(mut value: Value) -> Value {
    if let Some(resources) = value.get_mut("resources").and_then(Value::as_object_mut) {
        for rec in resources.values_mut() {
            if let Some(outputs) = rec.get_mut("outputs").and_then(Value::as_object_mut)
                && !outputs.contains_key("id")
                && let Some(arn) = outputs.remove("arn")
            {
                outputs.insert("id".into(), arn);
            }
        }
    }
    value["schema_version"] = 2.into();
    value
}

/// `err` with its location set to `location`.
fn at_location(err: StateError, location: &str) -> StateError {
    match err {
        StateError::Corrupt { message, .. } => StateError::Corrupt {
            location: location.into(),
            message,
        },
        StateError::UnsupportedVersion {
            found, supported, ..
        } => StateError::UnsupportedVersion {
            location: location.into(),
            found,
            supported,
        },
        other => other,
    }
}
