//! Outputs of resources: typed values, recorded in state as JSON objects.
//!
//! A provider returns a kind's outputs as a Rust type ([`Outputs::of`]), and reads a
//! dependency's outputs back as one ([`Outputs::read`],
//! [`OpContext::dep`](crate::provider::OpContext::dep)); a missing field is an
//! [`ErrorKind::InvalidConfig`] error naming the resource and the field. The
//! cloud-neutral kinds have their output types here ([`ClusterOutputs`],
//! [`DatabaseOutputs`]…), each with one cloud id field `id` (an ARN on AWS, a resource id on
//! Azure); a provider records at least those fields for them (a provider type may
//! `#[serde(flatten)]` one and add its own). [`StackOutputs`] is built from them.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::error::{ErrorKind, ProviderError};
#[cfg(doc)]
use crate::kind::ResourceKind;
use crate::resource::{ResourceId, typed};
use crate::secret::SecretRef;

/// Outputs of one resource (ids, endpoints, ARNs): the JSON object of a typed output value.
/// Never secret values. Shared, not copied, when cloned (the planner hands them to every
/// dependent); changed copy-on-write.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outputs(std::sync::Arc<Map<String, Value>>);

impl Serialize for Outputs {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Outputs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self(std::sync::Arc::new(Map::deserialize(d)?)))
    }
}

impl Outputs {
    /// No outputs.
    pub fn new() -> Self {
        Self::default()
    }

    /// The outputs of a typed value (a struct serializing to a JSON object).
    pub fn of<T: Serialize>(value: &T) -> Result<Self, ProviderError> {
        match serde_json::to_value(value) {
            Ok(Value::Object(map)) => Ok(Self(std::sync::Arc::new(map))),
            Ok(other) => Err(ProviderError::new(
                ErrorKind::InvalidConfig,
                format!("outputs must be an object, got {other}"),
            )),
            Err(e) => Err(ProviderError::new(
                ErrorKind::InvalidConfig,
                format!("outputs do not serialize: {e}"),
            )),
        }
    }

    /// These outputs as `T`; `of` names the resource in the error.
    pub fn read<T: DeserializeOwned>(&self, of: &ResourceId) -> Result<T, ProviderError> {
        let value = Value::Object((*self.0).clone());
        typed(&value, || format!("outputs of {of}"))
    }

    /// The raw value of `key` (the engine's own bookkeeping; providers use typed reads).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// The string value of `key`.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(Value::as_str)
    }

    /// The cloud id (`id`), if recorded.
    pub fn cloud_id(&self) -> Option<&str> {
        self.get_str("id")
    }

    /// Adds every entry of `more`, replacing entries with the same key.
    pub fn merge(&mut self, more: Outputs) {
        if more.is_empty() || std::sync::Arc::ptr_eq(&self.0, &more.0) || self.0 == more.0 {
            return;
        }
        let more = std::sync::Arc::unwrap_or_clone(more.0);
        std::sync::Arc::make_mut(&mut self.0).extend(more);
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The JSON object.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    /// The JSON object, mutable (state migrations).
    pub fn as_map_mut(&mut self) -> &mut Map<String, Value> {
        std::sync::Arc::make_mut(&mut self.0)
    }
}

impl From<Map<String, Value>> for Outputs {
    fn from(map: Map<String, Value>) -> Self {
        Self(std::sync::Arc::new(map))
    }
}

/// A port recorded as a number or as text.
fn port<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Port {
        N(u16),
        S(String),
    }
    match Port::deserialize(d)? {
        Port::N(n) => Ok(n),
        Port::S(s) => s.parse().map_err(serde::de::Error::custom),
    }
}

/// A port that may be absent.
fn opt_port<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    #[derive(Deserialize)]
    struct Wrap(#[serde(deserialize_with = "port")] u16);
    Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
}

/// The cluster ([`ResourceKind::CLUSTER`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterOutputs {
    /// Cloud id (EKS cluster ARN, AKS resource id).
    pub id: String,
    /// Cluster name.
    pub name: String,
    /// API server URL.
    pub endpoint: String,
    /// CA bundle (base64 PEM).
    pub ca_data: String,
    /// OIDC issuer URL, if the cluster has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc_issuer: Option<String>,
}

/// A node pool ([`ResourceKind::NODE_POOL`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodePoolOutputs {
    /// Cloud id (node group ARN, agent pool id).
    pub id: String,
    /// Pool name.
    pub name: String,
}

/// The database ([`ResourceKind::DATABASE`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseOutputs {
    /// Cloud id.
    pub id: String,
    /// Host name.
    pub host: String,
    /// Port.
    #[serde(deserialize_with = "port")]
    pub port: u16,
    /// Database name.
    pub database: String,
    /// User name.
    pub username: String,
    /// Reference of the secret that holds the password (never the password).
    pub password_secret: String,
}

/// The cache ([`ResourceKind::CACHE`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheOutputs {
    /// Cloud id.
    pub id: String,
    /// Host name of the primary endpoint.
    pub host: String,
    /// Port.
    #[serde(deserialize_with = "port")]
    pub port: u16,
    /// Whether it takes TLS connections only (ElastiCache with in-transit encryption, Azure
    /// Managed Redis).
    #[serde(default)]
    pub tls: bool,
}

/// A registry ([`ResourceKind::REGISTRY`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryOutputs {
    /// Cloud id.
    pub id: String,
    /// Repository / registry name.
    pub name: String,
    /// Repository URL to push to / pull from.
    pub url: String,
}

/// A secret ([`ResourceKind::SECRET`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretOutputs {
    /// Cloud id (secret ARN, Key Vault secret id).
    pub id: String,
    /// Name in the secret store.
    pub name: String,
    /// Current version id, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// A workload identity ([`ResourceKind::WORKLOAD_IDENTITY`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityOutputs {
    /// Cloud id (role ARN, managed identity resource id).
    pub id: String,
    /// What the service account is annotated with: the role ARN on AWS
    /// (`eks.amazonaws.com/role-arn`), the client id on Azure
    /// (`azure.workload.identity/client-id`).
    pub identity: String,
    /// The OIDC subject it trusts (`system:serviceaccount:NS:SA`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

/// An exposed service ([`ResourceKind::SERVICE`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceOutputs {
    /// Load balancer host name or cluster IP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Port.
    #[serde(
        default,
        deserialize_with = "opt_port",
        skip_serializing_if = "Option::is_none"
    )]
    pub port: Option<u16>,
}

/// Everything a stack exposes after `up`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StackOutputs {
    /// The cluster.
    pub cluster: Option<ClusterOutputs>,
    /// The database.
    pub database: Option<DatabaseOutputs>,
    /// The cache.
    pub cache: Option<CacheOutputs>,
    /// Registries by name.
    pub registries: BTreeMap<String, RegistryOutputs>,
    /// Secret references by name.
    pub secrets: BTreeMap<String, SecretRef>,
    /// Workload identities by `<namespace>-<service account>`.
    pub identities: BTreeMap<String, IdentityOutputs>,
    /// Services by app name.
    pub services: BTreeMap<String, ServiceOutputs>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::ResourceKind;
    use serde_json::json;

    #[test]
    fn typed_outputs_round_trip_and_name_missing_fields() {
        let id = ResourceId::new(ResourceKind::CACHE, "main");
        let o = Outputs::of(&CacheOutputs {
            id: "arn:aws:elasticache:us-east-1:123456789012:replicationgroup:r".into(),
            host: "r.cache".into(),
            port: 6379,
            tls: true,
        })
        .expect("object");
        assert_eq!(o.cloud_id().map(|s| s.starts_with("arn:")), Some(true));
        let back: CacheOutputs = o.read(&id).expect("reads");
        assert_eq!(back.port, 6379);

        let text_port = Outputs::from(
            json!({"id": "x", "host": "h", "port": "6380"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        );
        assert_eq!(
            text_port
                .read::<CacheOutputs>(&id)
                .expect("port as text")
                .port,
            6380
        );

        let err = Outputs::new()
            .read::<CacheOutputs>(&id)
            .expect_err("missing");
        assert_eq!(err.kind(), ErrorKind::InvalidConfig);
        assert!(err.message().contains("cache/main"), "{err}");
        assert!(err.message().contains("`id`"), "{err}");
    }
}
