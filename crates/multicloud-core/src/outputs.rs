//! Typed outputs of a stack, read from the recorded state.
//!
//! Providers record outputs under the keys in [`keys`]; [`StackOutputs::from_state`] turns
//! them into typed values. Resource ids follow the convention of the expansion:
//! `cluster/main`, `database/main`, `cache/main`, `registry/<name>`, `secret/<name>`,
//! `workload_identity/<namespace>-<service account>`, `service/<app>`.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::error::ProviderError;
use crate::provider::{Outputs, SecretRef};
use crate::resource::{ResourceId, ResourceKind};
use crate::state::StackState;

/// Output keys providers must use.
pub mod keys {
    /// The resource's physical name.
    pub const NAME: &str = "name";
    /// Cloud id (VPC id, subnet id…).
    pub const ID: &str = "id";
    /// ARN / Azure resource id.
    pub const ARN: &str = "arn";
    /// Cluster API server URL.
    pub const ENDPOINT: &str = "endpoint";
    /// Cluster CA bundle (base64 PEM).
    pub const CA_DATA: &str = "ca_data";
    /// Cluster OIDC issuer URL.
    pub const OIDC_ISSUER: &str = "oidc_issuer";
    /// Host name (database, cache, load balancer).
    pub const HOST: &str = "host";
    /// Port number.
    pub const PORT: &str = "port";
    /// Database name.
    pub const DATABASE: &str = "database";
    /// Database user name.
    pub const USERNAME: &str = "username";
    /// Reference (ARN / URI) of the secret holding the database password.
    pub const PASSWORD_SECRET: &str = "password_secret";
    /// Registry / repository URL.
    pub const URL: &str = "url";
    /// Version id of a secret.
    pub const VERSION: &str = "version";
    /// Identity id a service account is annotated with (role ARN / client id).
    pub const IDENTITY: &str = "identity";
    /// OIDC subject a workload identity trusts.
    pub const SUBJECT: &str = "subject";
}

/// The cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterOutput {
    /// Cluster name.
    pub name: String,
    /// API server URL.
    pub endpoint: String,
    /// CA bundle (base64 PEM).
    pub ca_data: String,
    /// OIDC issuer URL, if the cluster has one.
    pub oidc_issuer: Option<String>,
}

/// The database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DatabaseOutput {
    /// Host name.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Database name.
    pub database: String,
    /// User name.
    pub username: String,
    /// Reference of the secret that holds the password (never the password).
    pub password_secret: String,
}

/// The cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CacheOutput {
    /// Host name of the primary endpoint.
    pub host: String,
    /// Port.
    pub port: u16,
}

/// A registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegistryOutput {
    /// Repository URL to push to / pull from.
    pub url: String,
}

/// A workload identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdentityOutput {
    /// The id to annotate the service account with (role ARN / client id).
    pub id: String,
    /// The OIDC subject it trusts.
    pub subject: Option<String>,
}

/// An exposed service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceOutput {
    /// Load balancer host name or cluster IP.
    pub host: Option<String>,
    /// Port.
    pub port: Option<u16>,
}

/// Everything a stack exposes after `up`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StackOutputs {
    /// The cluster.
    pub cluster: Option<ClusterOutput>,
    /// The database.
    pub database: Option<DatabaseOutput>,
    /// The cache.
    pub cache: Option<CacheOutput>,
    /// Registries by name.
    pub registries: BTreeMap<String, RegistryOutput>,
    /// Secret references by name.
    pub secrets: BTreeMap<String, SecretRef>,
    /// Workload identities by `<namespace>-<service account>`.
    pub identities: BTreeMap<String, IdentityOutput>,
    /// Services by app name.
    pub services: BTreeMap<String, ServiceOutput>,
}

fn get_str(id: &ResourceId, o: &Outputs, key: &str) -> Result<String, ProviderError> {
    o.get(key)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| ProviderError::invalid(format!("{id} has no output `{key}`")))
}

fn get_port(id: &ResourceId, o: &Outputs) -> Result<u16, ProviderError> {
    o.get(keys::PORT)
        .and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
        .and_then(|p| u16::try_from(p).ok())
        .ok_or_else(|| ProviderError::invalid(format!("{id} has no valid output `port`")))
}

fn opt_str(o: &Outputs, key: &str) -> Option<String> {
    o.get(key).and_then(Value::as_str).map(str::to_string)
}

impl StackOutputs {
    /// Reads the typed outputs from recorded state; a missing required key is an error naming
    /// the resource and the key.
    pub fn from_state(state: &StackState) -> Result<Self, ProviderError> {
        let mut out = StackOutputs::default();
        for (id, rec) in &state.resources {
            let o = &rec.outputs;
            let key = id
                .as_str()
                .split_once('/')
                .map(|(_, k)| k)
                .unwrap_or_default();
            match rec.kind {
                ResourceKind::Cluster => {
                    out.cluster = Some(ClusterOutput {
                        name: get_str(id, o, keys::NAME)?,
                        endpoint: get_str(id, o, keys::ENDPOINT)?,
                        ca_data: get_str(id, o, keys::CA_DATA)?,
                        oidc_issuer: opt_str(o, keys::OIDC_ISSUER),
                    })
                }
                ResourceKind::Database => {
                    out.database = Some(DatabaseOutput {
                        host: get_str(id, o, keys::HOST)?,
                        port: get_port(id, o)?,
                        database: get_str(id, o, keys::DATABASE)?,
                        username: get_str(id, o, keys::USERNAME)?,
                        password_secret: get_str(id, o, keys::PASSWORD_SECRET)?,
                    })
                }
                ResourceKind::Cache => {
                    out.cache = Some(CacheOutput {
                        host: get_str(id, o, keys::HOST)?,
                        port: get_port(id, o)?,
                    })
                }
                ResourceKind::Registry => {
                    out.registries.insert(
                        key.to_string(),
                        RegistryOutput {
                            url: get_str(id, o, keys::URL)?,
                        },
                    );
                }
                ResourceKind::Secret => {
                    out.secrets.insert(
                        key.to_string(),
                        SecretRef {
                            name: get_str(id, o, keys::NAME)?,
                            id: get_str(id, o, keys::ARN)?,
                            version: opt_str(o, keys::VERSION),
                        },
                    );
                }
                ResourceKind::WorkloadIdentity => {
                    out.identities.insert(
                        key.to_string(),
                        IdentityOutput {
                            id: get_str(id, o, keys::IDENTITY)?,
                            subject: opt_str(o, keys::SUBJECT),
                        },
                    );
                }
                ResourceKind::Service => {
                    out.services.insert(
                        key.to_string(),
                        ServiceOutput {
                            host: opt_str(o, keys::HOST),
                            port: get_port(id, o).ok(),
                        },
                    );
                }
                _ => {}
            }
        }
        Ok(out)
    }
}
