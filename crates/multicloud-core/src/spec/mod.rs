//! The cloud-neutral description of a stack: [`StackSpec`].
//!
//! A spec is plain data (serde), built in code with [`StackSpec::builder`] or loaded from YAML
//! with [`StackSpec::from_yaml`]. Both paths end in [`validate`](validate::validate), which
//! collects every problem it finds, each naming the offending field path, before any cloud API
//! is called. Per-cloud naming rules are supplied by the provider through
//! [`NamingRules`] and checked by the engine when it plans.
//!
//! Core holds no cloud's rules: each provider crate writes its own `NamingRules` with the
//! cloud-independent toolkit here: [`Shape`](shape::Shape) and the character sets in
//! [`shape`], [`NamingReport`] to append errors once per path, and the [`STACK_NAME`] and
//! [`ENVIRONMENT`] shapes for rules that derive names from the stack's identity.

mod apps;
mod cidr;
pub mod clouds;
mod connect;
mod duration;
mod existing;
mod locate;
mod manifest;
mod network;
mod plain;
mod report;
pub mod shape;
mod subnets;
mod types;
pub mod validate;
mod yaml;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use clouds::{
    AwsNodePool, AwsPostgres, AwsRedis, AwsStack, AzureNodePool, AzurePostgres, AzureRedis,
    AzureStack, NodeSize, Resolved, Source, Tier,
};
pub use connect::Connection;
pub use existing::{ExistingCluster, ExistingNetwork};
pub use manifest::ManifestSpec;
pub use network::{AksOutbound, AzureNetwork, Nat, Network, ServiceEndpoint};
pub use report::NamingReport;
pub use types::{
    App, AppResources, Cluster, EnvFromSecret, Expose, ImageRef, NodePool, Postgres, Redis,
    RegistrySpec, SecretSource, SecretSpec, WorkloadIdentity,
};
pub use validate::{ENVIRONMENT, NamingRules, Rule, STACK_NAME, SpecErrors, ValidationError};

/// The whole stack: network, cluster, database, cache, registries, secrets, workload
/// identities and apps, plus the stack's identity (name, environment, region) and lifetime.
///
/// One spec can say both clouds: neutral sizes and tiers, and `aws:` / `azure:` overrides
/// (see [`clouds`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackSpec {
    /// Stack name; prefix of every resource name (`shop`).
    pub name: String,
    /// Environment, e.g. `dev`, `prod` or an ephemeral `pr-1234`.
    pub environment: String,
    /// Cloud region (`us-east-1`, `westeurope`), used by whichever cloud the spec is deployed
    /// on unless its override (`aws.region`, `azure.location`) is set; may be left out when
    /// both are.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub region: String,
    /// What only AWS reads (`region`).
    #[serde(default, skip_serializing_if = "AwsStack::is_empty")]
    pub aws: AwsStack,
    /// What only Azure reads (`location`).
    #[serde(default, skip_serializing_if = "AzureStack::is_empty")]
    pub azure: AzureStack,
    /// The network; `None` only for stacks without cluster, database or cache, or with an
    /// `existing_network`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<Network>,
    /// A network the stack uses without creating it (instead of `network`), read-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub existing_network: Option<ExistingNetwork>,
    /// The Kubernetes cluster the stack creates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<Cluster>,
    /// A cluster the stack deploys onto without creating it (instead of `cluster`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub existing_cluster: Option<ExistingCluster>,
    /// The PostgreSQL database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<Postgres>,
    /// The Redis cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<Redis>,
    /// Container registries (repositories).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub registries: Vec<RegistrySpec>,
    /// Secrets kept in the cloud's secret store.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<SecretSpec>,
    /// Workload identities (IRSA roles / federated managed identities).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workload_identities: Vec<WorkloadIdentity>,
    /// Apps deployed on the cluster.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub apps: Vec<App>,
    /// Users' own Kubernetes manifests (e.g. `helm template` output), applied with the app.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub manifests: Vec<ManifestSpec>,
    /// Time to live: resources are tagged `multicloud:expires-at = created-at + ttl` so the
    /// sweeper can remove forgotten ephemeral stacks. Written as `30m`, `4h`, `2d` in YAML.
    #[serde(
        default,
        with = "duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub ttl: Option<Duration>,
    /// Extra tags put on every resource (besides the ownership tags).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// Why a spec could not be loaded (or written) as YAML.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// The YAML does not parse into a spec.
    #[error("invalid stack YAML{}: {message}", location.map(|(l, c)| format!(" at line {l}, column {c}")).unwrap_or_default())]
    Yaml {
        /// Line and column, when known.
        location: Option<(usize, usize)>,
        /// The parser's message.
        message: String,
    },
    /// It parses, but breaks the rules: every error, each naming its field.
    #[error("{0}")]
    Invalid(#[from] SpecErrors),
}

impl StackSpec {
    /// Starts a builder for a stack called `name` (environment `dev`, region `us-east-1` until
    /// set).
    pub fn builder(name: impl Into<String>) -> StackSpecBuilder {
        StackSpecBuilder {
            spec: StackSpec {
                name: name.into(),
                environment: "dev".into(),
                region: "us-east-1".into(),
                aws: AwsStack::default(),
                azure: AzureStack::default(),
                network: None,
                existing_network: None,
                cluster: None,
                existing_cluster: None,
                database: None,
                cache: None,
                registries: Vec::new(),
                secrets: Vec::new(),
                workload_identities: Vec::new(),
                apps: Vec::new(),
                manifests: Vec::new(),
                ttl: None,
                tags: BTreeMap::new(),
            },
        }
    }

    /// Whether the stack has a network: one it creates (`network`) or an existing one
    /// (`existing_network`).
    pub fn has_network(&self) -> bool {
        self.network.is_some() || self.existing_network.is_some()
    }

    /// Parses YAML and validates the result; both kinds of error come back as
    /// [`SpecError::Yaml`] (the field path, the line and column of what is wrong, and for an
    /// unknown name the expected one it most likely meant) or [`SpecError::Invalid`] (every
    /// validation error, each with the line and column of its field). No YAML tags are
    /// needed: a secret is `generated: {length: 40}` or `from_env: VAR`, an app's image
    /// `nginx:1.27` or `{registry: shop-api, tag: v1}` (the tagged forms of earlier releases
    /// still load); a `network` with only its `cidr` gets its subnets derived.
    pub fn from_yaml(text: &str) -> Result<Self, SpecError> {
        yaml::from_yaml(text)
    }

    /// Serialises to YAML (the inverse of [`StackSpec::from_yaml`]), in the plain form.
    pub fn to_yaml(&self) -> Result<String, SpecError> {
        serde_yaml_ng::to_string(self).map_err(|e| SpecError::Yaml {
            location: None,
            message: e.to_string(),
        })
    }

    /// Runs the cloud-independent validation rules, collecting every error.
    pub fn validate(&self) -> Result<(), SpecErrors> {
        validate::validate(self, None)
    }

    /// Runs the cloud-independent rules and `rules`' naming rules, collecting every error.
    pub fn validate_for(&self, rules: &dyn NamingRules) -> Result<(), SpecErrors> {
        validate::validate(self, Some(rules))
    }

    /// The secret called `name`, if declared.
    pub fn secret(&self, name: &str) -> Option<&SecretSpec> {
        self.secrets.iter().find(|s| s.name == name)
    }

    /// The registry called `name`, if declared.
    pub fn registry(&self, name: &str) -> Option<&RegistrySpec> {
        self.registries.iter().find(|r| r.name == name)
    }
}

/// Builds a [`StackSpec`]; [`StackSpecBuilder::build`] validates it.
#[derive(Debug, Clone)]
#[must_use]
pub struct StackSpecBuilder {
    spec: StackSpec,
}

impl StackSpecBuilder {
    /// Sets the environment.
    pub fn environment(mut self, env: impl Into<String>) -> Self {
        self.spec.environment = env.into();
        self
    }
    /// Sets the region.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.spec.region = region.into();
        self
    }
    /// Sets the AWS region (wins over `region` on AWS).
    pub fn aws_region(mut self, region: impl Into<String>) -> Self {
        self.spec.aws.region = Some(region.into());
        self
    }
    /// Sets the Azure location (wins over `region` on Azure).
    pub fn azure_location(mut self, location: impl Into<String>) -> Self {
        self.spec.azure.location = Some(location.into());
        self
    }
    /// Sets the network.
    pub fn network(mut self, network: Network) -> Self {
        self.spec.network = Some(network);
        self
    }
    /// Sets the cluster.
    pub fn cluster(mut self, cluster: Cluster) -> Self {
        self.spec.cluster = Some(cluster);
        self
    }
    /// Uses a network the stack does not create (see [`ExistingNetwork`]).
    pub fn existing_network(mut self, network: ExistingNetwork) -> Self {
        self.spec.existing_network = Some(network);
        self
    }

    /// Deploys onto `cluster`, which the stack does not create (see [`ExistingCluster`]).
    pub fn existing_cluster(mut self, cluster: ExistingCluster) -> Self {
        self.spec.existing_cluster = Some(cluster);
        self
    }
    /// Sets the database.
    pub fn database(mut self, database: Postgres) -> Self {
        self.spec.database = Some(database);
        self
    }
    /// Sets the cache.
    pub fn cache(mut self, cache: Redis) -> Self {
        self.spec.cache = Some(cache);
        self
    }
    /// Adds a registry.
    pub fn registry(mut self, registry: RegistrySpec) -> Self {
        self.spec.registries.push(registry);
        self
    }
    /// Adds a secret.
    pub fn secret(mut self, secret: SecretSpec) -> Self {
        self.spec.secrets.push(secret);
        self
    }
    /// Adds a workload identity.
    pub fn workload_identity(mut self, identity: WorkloadIdentity) -> Self {
        self.spec.workload_identities.push(identity);
        self
    }
    /// Adds an app.
    pub fn app(mut self, app: App) -> Self {
        self.spec.apps.push(app);
        self
    }
    /// Adds a set of the user's own Kubernetes manifests (multi-document YAML).
    pub fn manifest(mut self, manifest: ManifestSpec) -> Self {
        self.spec.manifests.push(manifest);
        self
    }
    /// Sets the time to live.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.spec.ttl = Some(ttl);
        self
    }
    /// Adds a tag put on every resource.
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.spec.tags.insert(key.into(), value.into());
        self
    }
    /// Validates and returns the spec; every cloud-independent error is reported at once.
    pub fn build(self) -> Result<StackSpec, SpecErrors> {
        self.spec.validate()?;
        Ok(self.spec)
    }
    /// Returns the spec without validating it (for tests of validation itself).
    pub fn build_unchecked(self) -> StackSpec {
        self.spec
    }
}
