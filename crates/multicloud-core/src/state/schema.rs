//! The state schema: parsing a stored state (any store) and migrating older versions.
//!
//! | version | change |
//! |---|---|
//! | 1 | first released schema |
//! | 2 | outputs carry one cloud-neutral id field `id` (an ARN on AWS, a resource id on Azure); version 1 kept ARNs under `arn` |
//! | 3 | compact: the tags every resource carries are written once (`common_tags`); a record leaves out its `provider_id` when it is its outputs' `id`, its `updated_at` when it is its `created_at`, and empty `depends_on`; a record may note the `drift` a refresh found (optional: older version-3 readers ignore it). Version 3 reads version 2 as it is |

use serde_json::Value;

use super::{SCHEMA_VERSION, StackState, StateError, StateKey};

/// Parses the bytes of a stored state, which must be `key`'s. A state of the current schema
/// is parsed straight into [`StackState`] in one pass; anything else (an older schema, or
/// text that does not parse as the current one) is read for its schema version first and
/// goes through [`migrate`]. `location` names the file or object in errors. A newer schema
/// is [`StateError::UnsupportedVersion`].
pub fn parse_state(bytes: &[u8], key: &StateKey, location: &str) -> Result<StackState, StateError> {
    let corrupt = |message: String| StateError::Corrupt {
        location: location.to_owned(),
        message,
    };
    let state = match serde_json::from_slice::<StackState>(bytes) {
        Ok(state) if state.schema_version == SCHEMA_VERSION => state,
        _ => parse_other_version(bytes, location)?,
    };
    if &state.key != key {
        return Err(corrupt(format!(
            "{location} holds the state of {}, not of {key}",
            state.key
        )));
    }
    Ok(state)
}

/// The slow path of [`parse_state`]: the schema version first, then the state, migrated.
fn parse_other_version(bytes: &[u8], location: &str) -> Result<StackState, StateError> {
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
    if version == SCHEMA_VERSION {
        // The current schema, yet it did not parse: report why.
        return serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()));
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
    let value = migrate(value, version).map_err(|e| at_location(e, location))?;
    // Back to text: recorded configs are read from JSON text only.
    let bytes = serde_json::to_vec(&value).map_err(|e| corrupt(e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))
}

/// The bytes every store writes for `state`: JSON with each top-level field and each
/// resource record on a line of its own, compact inside a record. Loading then scans little
/// whitespace (a third of an indented file was), while a change to one resource is still a
/// one-line diff.
pub fn to_bytes(state: &StackState) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::with_capacity(64 + 512 * state.resources.len());
    let mut ser = serde_json::Serializer::with_formatter(&mut out, RecordLines::default());
    serde::Serialize::serialize(state, &mut ser)?;
    out.push(b'\n');
    Ok(out)
}

/// The formatter of [`to_bytes`]: a line break and indentation before each key of the
/// outer two object levels (the state, its `resources`), nothing deeper.
#[derive(Default)]
struct RecordLines {
    depth: usize,
}

impl RecordLines {
    const LINED: usize = 2;

    fn line<W: ?Sized + std::io::Write>(w: &mut W, depth: usize) -> std::io::Result<()> {
        w.write_all(b"\n")?;
        (0..depth).try_for_each(|_| w.write_all(b"  "))
    }
}

impl serde_json::ser::Formatter for RecordLines {
    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.depth += 1;
        w.write_all(b"{")
    }

    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.depth -= 1;
        if self.depth < Self::LINED {
            Self::line(w, self.depth)?;
        }
        w.write_all(b"}")
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if !first {
            w.write_all(b",")?;
        }
        if self.depth <= Self::LINED {
            Self::line(w, self.depth)?;
        }
        Ok(())
    }
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
            2 => {
                // Version 2 records are version 3 records with nothing left out.
                value["schema_version"] = 3.into();
                value
            }
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

/// The stored shape of a [`StackState`] (version 3), written through borrowed views and
/// read through owned mirrors.
mod stored {
    use std::collections::BTreeMap;

    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::observation::Drift;
    use crate::outputs::Outputs;
    use crate::resource::{ResourceId, ResourceKind};
    use crate::state::{RecordedConfig, ResourceRecord, StackState, StateKey};
    use crate::tags::Tags;

    #[derive(Serialize)]
    struct StateView<'a> {
        schema_version: u32,
        key: &'a StateKey,
        region: &'a str,
        provider: &'a str,
        serial: u64,
        created_at: DateTime<Utc>,
        #[serde(skip_serializing_if = "Option::is_none")]
        expires_at: Option<DateTime<Utc>>,
        updated_at: DateTime<Utc>,
        /// Tags every resource carries.
        #[serde(skip_serializing_if = "BTreeMap::is_empty")]
        common_tags: BTreeMap<&'a str, &'a str>,
        resources: BTreeMap<&'a ResourceId, RecordView<'a>>,
    }

    #[derive(Serialize)]
    struct RecordView<'a> {
        id: &'a ResourceId,
        kind: ResourceKind,
        name: &'a str,
        /// Left out when it is the outputs' `id` (`null`: none at all).
        #[serde(skip_serializing_if = "Option::is_none")]
        provider_id: Option<Option<&'a str>>,
        config: &'a RecordedConfig,
        config_hash: &'a str,
        #[serde(skip_serializing_if = "<[ResourceId]>::is_empty")]
        depends_on: &'a [ResourceId],
        /// Only the tags beyond the common ones.
        #[serde(skip_serializing_if = "BTreeMap::is_empty")]
        tags: BTreeMap<&'a str, &'a str>,
        outputs: &'a Outputs,
        /// Left out unless set (an existing cluster, adopted read-only).
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        read_only: bool,
        /// Left out unless a refresh noted drift.
        #[serde(skip_serializing_if = "Option::is_none")]
        drift: Option<&'a Drift>,
        created_at: DateTime<Utc>,
        /// Left out when it is `created_at`.
        #[serde(skip_serializing_if = "Option::is_none")]
        updated_at: Option<DateTime<Utc>>,
    }

    /// Tags (key and value) every record carries; none without records.
    fn common_tags(state: &StackState) -> BTreeMap<&str, &str> {
        let mut records = state.resources.values();
        let Some(first) = records.next() else {
            return BTreeMap::new();
        };
        let mut common: BTreeMap<&str, &str> = first
            .tags
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        for r in records {
            common.retain(|k, v| r.tags.get(*k).is_some_and(|x| x == v));
        }
        common
    }

    impl Serialize for StackState {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let common = common_tags(self);
            let resources = self
                .resources
                .iter()
                .map(|(id, r)| {
                    let own = r
                        .tags
                        .iter()
                        .filter(|(k, v)| common.get(k.as_str()) != Some(&v.as_str()))
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect();
                    let provider_id = match (r.provider_id.as_deref(), r.outputs.cloud_id()) {
                        (p, id) if p == id && p.is_some() => None,
                        (p, _) => Some(p),
                    };
                    let view = RecordView {
                        id: &r.id,
                        kind: r.kind,
                        name: &r.name,
                        provider_id,
                        config: &r.config,
                        config_hash: &r.config_hash,
                        depends_on: &r.depends_on,
                        tags: own,
                        outputs: &r.outputs,
                        read_only: r.read_only,
                        drift: r.drift.as_ref(),
                        created_at: r.created_at,
                        updated_at: (r.updated_at != r.created_at).then_some(r.updated_at),
                    };
                    (id, view)
                })
                .collect();
            StateView {
                schema_version: self.schema_version,
                key: &self.key,
                region: &self.region,
                provider: &self.provider,
                serial: self.serial,
                created_at: self.created_at,
                expires_at: self.expires_at,
                updated_at: self.updated_at,
                common_tags: common,
                resources,
            }
            .serialize(s)
        }
    }

    #[derive(Deserialize)]
    struct StoredState {
        schema_version: u32,
        key: StateKey,
        region: String,
        provider: String,
        serial: u64,
        created_at: DateTime<Utc>,
        #[serde(default)]
        expires_at: Option<DateTime<Utc>>,
        updated_at: DateTime<Utc>,
        #[serde(default)]
        common_tags: BTreeMap<String, String>,
        #[serde(default)]
        resources: BTreeMap<ResourceId, StoredRecord>,
    }

    #[derive(Deserialize)]
    struct StoredRecord {
        id: ResourceId,
        kind: ResourceKind,
        name: String,
        /// Missing: the outputs' `id`; `null`: none.
        #[serde(default, deserialize_with = "present")]
        provider_id: Option<Option<String>>,
        #[serde(default)]
        config: RecordedConfig,
        config_hash: String,
        #[serde(default)]
        depends_on: Vec<ResourceId>,
        #[serde(default)]
        tags: BTreeMap<String, String>,
        #[serde(default)]
        outputs: Outputs,
        #[serde(default)]
        read_only: bool,
        #[serde(default)]
        drift: Option<Drift>,
        created_at: DateTime<Utc>,
        #[serde(default)]
        updated_at: Option<DateTime<Utc>>,
    }

    /// A field that is present (even as `null`).
    fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
        Ok(Some(Option::deserialize(d)?))
    }

    impl<'de> Deserialize<'de> for StackState {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let s = StoredState::deserialize(d)?;
            // Records without tags of their own share the common map.
            let common = Tags::from(s.common_tags);
            let resources = s
                .resources
                .into_iter()
                .map(|(id, r)| {
                    let mut tags = common.clone();
                    if !r.tags.is_empty() {
                        tags.extend(r.tags);
                    }
                    let provider_id = r
                        .provider_id
                        .unwrap_or_else(|| r.outputs.cloud_id().map(str::to_string));
                    let record = ResourceRecord {
                        id: r.id,
                        kind: r.kind,
                        name: r.name,
                        provider_id,
                        config: r.config,
                        config_hash: r.config_hash,
                        depends_on: r.depends_on,
                        read_only: r.read_only,
                        drift: r.drift,
                        tags,
                        outputs: r.outputs,
                        created_at: r.created_at,
                        updated_at: r.updated_at.unwrap_or(r.created_at),
                    };
                    (id, record)
                })
                .collect();
            Ok(StackState {
                schema_version: s.schema_version,
                key: s.key,
                region: s.region,
                provider: s.provider,
                serial: s.serial,
                created_at: s.created_at,
                expires_at: s.expires_at,
                updated_at: s.updated_at,
                resources,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::outputs::Outputs;
    use crate::resource::{Resource, ResourceKind};
    use crate::state::ResourceRecord;

    fn record(key: &str, provider_id: Option<&str>, extra_tag: bool) -> ResourceRecord {
        let mut r = Resource::new(ResourceKind::SECRET, key, key)
            .with_config(&json!({ "n": 1 }))
            .expect("config");
        r.tags = BTreeMap::from([
            ("multicloud:stack".to_string(), "shop".to_string()),
            ("multicloud:env".to_string(), "dev".to_string()),
        ])
        .into();
        if extra_tag {
            r.tags.insert("team".into(), "blue".into());
        }
        let outputs = Outputs::from(
            json!({ "id": format!("arn:{key}") })
                .as_object()
                .cloned()
                .unwrap_or_default(),
        );
        let mut rec = ResourceRecord::new(&r, provider_id.map(str::to_string), outputs);
        rec.updated_at = rec.created_at + chrono::Duration::seconds(i64::from(extra_tag));
        rec
    }

    #[test]
    fn version_3_round_trips_exactly_and_writes_common_tags_once() {
        let key = StateKey::new("shop", "dev");
        let mut state = StackState::new(key.clone(), "eu-west-1", "aws");
        for rec in [
            record("a", Some("arn:a"), false), // provider_id = outputs.id: left out
            record("b", None, true),           // no provider_id at all: written as null
            record("c", Some("other-id"), false), // a different one: written
        ] {
            state.resources.insert(rec.id.clone(), rec);
        }
        let text = serde_json::to_string_pretty(&state).expect("serializes");
        assert_eq!(text.matches("multicloud:stack").count(), 1, "{text}");
        assert_eq!(text.matches("\"team\"").count(), 1, "{text}");
        let back = parse_state(text.as_bytes(), &key, "test").expect("parses");
        assert_eq!(back, state);
        // Records without tags of their own share one map in memory.
        let tags = |id: &str| &back.resources[&crate::resource::ResourceId::from(id)].tags;
        assert!(tags("secret/a").shares(tags("secret/c")));
        assert!(!tags("secret/a").shares(tags("secret/b")));
    }

    #[test]
    fn stores_write_one_line_per_record_and_read_it_back() {
        let key = StateKey::new("shop", "dev");
        let mut state = StackState::new(key.clone(), "eu-west-1", "aws");
        for rec in [record("a", Some("arn:a"), false), record("b", None, true)] {
            state.resources.insert(rec.id.clone(), rec);
        }
        let bytes = to_bytes(&state).expect("serializes");
        let text = String::from_utf8(bytes.clone()).expect("utf-8");
        let records: Vec<&str> = text
            .lines()
            .filter(|l| l.trim_start().starts_with("\"secret/"))
            .collect();
        assert_eq!(records.len(), 2, "{text}");
        assert!(records[0].contains("\"config\":{\"n\":1}"), "{text}");
        assert!(records[1].contains("\"team\":\"blue\""), "{text}");
        assert_eq!(parse_state(&bytes, &key, "test").expect("parses"), state);
        let empty = StackState::new(key.clone(), "eu-west-1", "aws");
        let bytes = to_bytes(&empty).expect("serializes");
        assert_eq!(parse_state(&bytes, &key, "test").expect("parses"), empty);
    }

    #[test]
    fn version_2_is_read_as_it_is() {
        let key = StateKey::new("shop", "dev");
        let v2 = json!({
            "schema_version": 2, "key": { "stack": "shop", "environment": "dev" },
            "region": "r", "provider": "aws", "serial": 4,
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
            "resources": { "secret/a": {
                "id": "secret/a", "kind": "secret", "name": "a", "provider_id": "arn:a",
                "config": {}, "config_hash": "h", "depends_on": [],
                "tags": { "multicloud:stack": "shop" }, "outputs": { "id": "arn:a" },
                "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-02T00:00:00Z"
            } }
        });
        let state = parse_state(v2.to_string().as_bytes(), &key, "test").expect("migrates");
        assert_eq!(state.schema_version, SCHEMA_VERSION);
        let rec = &state.resources[&crate::resource::ResourceId::from("secret/a")];
        assert_eq!(rec.provider_id.as_deref(), Some("arn:a"));
        assert_eq!(rec.tags["multicloud:stack"], "shop");
        assert_ne!(rec.updated_at, rec.created_at);
    }
}
