//! The traits a cloud implements.
//!
//! The engine drives every resource through one small lifecycle, [`ResourceOps`]: `observe`
//! (one read), `create`/`update`/`delete` (one mutating call each) and `ready`/`gone`
//! (readiness and deletion checks the engine polls through its shared poller). Each service
//! family has its own trait on top, which adds what users need after `up` (cluster
//! credentials, registry pull credentials, secret values). A [`CloudProvider`] hands out one
//! implementation per family and expands a [`StackSpec`] into its cloud's
//! [`ResourceGraph`].
//!
//! ## Contracts every implementation keeps
//! - **Idempotency**: `create` on a resource that already exists with our ownership tags
//!   returns its outputs (it adopts), and fails with [`ErrorKind::ForeignResource`] when it
//!   exists without them. `delete` of a resource that is already gone succeeds.
//! - **Errors are classified**: throttling, eventual consistency and "dependency still in use"
//!   are returned with a retryable [`ErrorKind`], so the engine retries them with backoff; a
//!   server-suggested delay goes in [`ProviderError::with_retry_after`].
//! - **No secret values** in `config`, outputs or error messages.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::error::{ErrorKind, ProviderError};
use crate::resource::{Resource, ResourceGraph, ResourceId, ResourceKind, ServiceFamily};
use crate::secret::SecretString;
use crate::spec::{NamingRules, StackSpec};
use crate::tags::Ownership;

/// Outputs of a resource (ids, endpoints, ARNs), recorded in state. Never secret values.
pub type Outputs = Map<String, Value>;

/// Who owns an existing resource, judged from its tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// Our ownership tags: this stack and environment.
    Us,
    /// Ownership tags of another stack or environment.
    OtherStack {
        /// Its `multicloud:stack` tag.
        stack: String,
        /// Its `multicloud:env` tag.
        environment: String,
    },
    /// No ownership tags: someone else's resource.
    Unowned,
}

/// What the provider saw of an existing resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    /// Its cloud id (ARN, resource id), if it has one.
    pub provider_id: Option<String>,
    /// Who owns it.
    pub owner: Owner,
    /// Its current outputs.
    pub outputs: Outputs,
    /// Whether its live configuration differs from the desired one in a way the provider
    /// can tell.
    pub drifted: bool,
}

impl Observed {
    /// An observation of a resource of ours with these outputs.
    pub fn ours(outputs: Outputs) -> Self {
        Self {
            provider_id: None,
            owner: Owner::Us,
            outputs,
            drifted: false,
        }
    }
}

/// The result of one read.
#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    /// Nothing with that name exists.
    Absent,
    /// It exists.
    Present(Observed),
}

/// A readiness (or deletion) check.
#[derive(Debug, Clone, PartialEq)]
pub enum Readiness {
    /// Done. For a readiness check, outputs to merge (endpoints known only once ready).
    Ready(Outputs),
    /// Not yet.
    Pending {
        /// Status to report (`CREATING`).
        status: String,
        /// A server-suggested delay before the next check.
        retry_after: Option<Duration>,
    },
}

impl Readiness {
    /// Ready with no further outputs.
    pub fn ready() -> Self {
        Self::Ready(Outputs::new())
    }
    /// Pending with a status text.
    pub fn pending(status: impl Into<String>) -> Self {
        Self::Pending {
            status: status.into(),
            retry_after: None,
        }
    }
}

/// The stack-level facts every operation may need.
#[derive(Debug, Clone)]
pub struct StackContext {
    /// Stack name.
    pub stack: String,
    /// Environment.
    pub environment: String,
    /// Region.
    pub region: String,
    /// Ownership of this stack (to judge and put tags).
    pub ownership: Ownership,
}

/// Everything an operation on one resource gets: the resource, the stack, and the outputs of
/// the resources it depends on.
#[derive(Debug)]
pub struct OpContext<'a> {
    /// The resource.
    pub resource: &'a Resource,
    /// The stack.
    pub stack: &'a StackContext,
    /// Outputs of its dependencies, by id.
    pub deps: &'a BTreeMap<ResourceId, Outputs>,
    /// Outputs recorded in state for this resource (present for update, delete and for
    /// resources adopted or created by an earlier run).
    pub recorded: Option<&'a Outputs>,
}

impl OpContext<'_> {
    /// A string output of dependency `id`, or an [`ErrorKind::InvalidInput`] error naming it.
    pub fn dep_str(&self, id: &ResourceId, key: &str) -> Result<&str, ProviderError> {
        self.deps
            .get(id)
            .and_then(|o| o.get(key))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                ProviderError::invalid(format!(
                    "{}: dependency {id} has no output `{key}`",
                    self.resource.id
                ))
            })
    }

    /// Every dependency of `kind` with its outputs, in id order.
    pub fn deps_of_kind(
        &self,
        kind: ResourceKind,
    ) -> impl Iterator<Item = (&ResourceId, &Outputs)> {
        let prefix = format!("{kind}/");
        self.deps
            .iter()
            .filter(move |(id, _)| id.as_str().starts_with(&prefix))
    }

    /// A string output recorded for this resource.
    pub fn recorded_str(&self, key: &str) -> Option<&str> {
        self.recorded
            .and_then(|o| o.get(key))
            .and_then(Value::as_str)
    }

    /// A field of the desired config as a string, or an invalid-input error.
    pub fn config_str(&self, key: &str) -> Result<&str, ProviderError> {
        self.resource
            .config
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| {
                ProviderError::invalid(format!("{}: config has no `{key}`", self.resource.id))
            })
    }
}

/// The lifecycle of resources of one service family.
#[async_trait]
pub trait ResourceOps: Send + Sync {
    /// One read: does the resource exist, who owns it, what are its outputs. Never mutates.
    async fn observe(&self, ctx: &OpContext<'_>) -> Result<Observation, ProviderError>;

    /// Creates the resource and returns its outputs. Idempotent: see the module docs.
    async fn create(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError>;

    /// Brings an existing resource to the desired config; returns its new outputs.
    /// The default refuses, which makes the planner replace instead.
    async fn update(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        Err(ProviderError::new(
            ErrorKind::Unsupported,
            format!("{} cannot be updated in place", ctx.resource.kind),
        ))
    }

    /// Whether a change from `old` to `new` config needs a replacement (delete + create)
    /// rather than an update. Default: when [`ResourceOps::supports_update`] is false.
    fn requires_replacement(&self, kind: ResourceKind, old: &Value, new: &Value) -> bool {
        let _ = (old, new);
        !self.supports_update(kind)
    }

    /// Whether [`ResourceOps::update`] is implemented for `kind`.
    fn supports_update(&self, kind: ResourceKind) -> bool {
        let _ = kind;
        false
    }

    /// Starts deleting the resource. Succeeds if it is already gone.
    async fn delete(&self, ctx: &OpContext<'_>) -> Result<(), ProviderError>;

    /// Readiness check after create/update/adopt; the engine polls it until `Ready`.
    async fn ready(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        let _ = ctx;
        Ok(Readiness::ready())
    }

    /// Deletion check; the engine polls it until `Ready` (gone). The default observes.
    async fn gone(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        Ok(match self.observe(ctx).await? {
            Observation::Absent => Readiness::ready(),
            Observation::Present(_) => Readiness::pending("deleting"),
        })
    }
}

/// Network resources: VPC, subnets, gateways, route tables, security groups / resource group.
pub trait NetworkOps: ResourceOps {}

/// Identity resources: cluster and node roles, OIDC provider, workload identities, federated
/// credentials, role assignments.
pub trait IdentityOps: ResourceOps {}

/// Credentials to reach a cluster's API server.
#[derive(Debug, Clone)]
pub struct ClusterCredentials {
    /// API server URL.
    pub endpoint: String,
    /// PEM certificate authority bundle (base64 as the cloud returns it).
    pub ca_data: String,
    /// A bearer token.
    pub token: SecretString,
    /// When the token expires, if known.
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The Kubernetes control plane and node pools.
#[async_trait]
pub trait ClusterOps: ResourceOps {
    /// Credentials for the cluster whose recorded outputs are `cluster`. Token generation
    /// happens in-process (no CLI).
    async fn credentials(&self, cluster: &Outputs) -> Result<ClusterCredentials, ProviderError>;
}

/// Database resources: subnet group and PostgreSQL server.
pub trait DatabaseOps: ResourceOps {}

/// Cache resources: subnet group and Redis.
pub trait CacheOps: ResourceOps {}

/// Credentials to pull from a registry.
#[derive(Debug, Clone)]
pub struct RegistryCredentials {
    /// Registry host (`123456789012.dkr.ecr.us-east-1.amazonaws.com`).
    pub server: String,
    /// User name.
    pub username: String,
    /// Password / token.
    pub password: SecretString,
    /// When they expire, if known.
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Container registries.
#[async_trait]
pub trait Registry: ResourceOps {
    /// Pull credentials for the registry whose recorded outputs are `registry`.
    async fn pull_credentials(
        &self,
        registry: &Outputs,
    ) -> Result<RegistryCredentials, ProviderError>;
}

/// A reference to a stored secret (never its value).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SecretRef {
    /// The name in the secret store.
    pub name: String,
    /// Its cloud id (ARN / Key Vault secret id).
    pub id: String,
    /// Version id, if known.
    pub version: Option<String>,
}

/// The cloud's secret store.
#[async_trait]
pub trait SecretBackend: ResourceOps {
    /// Stores a new version of secret `name` (creating it, with our tags, if needed).
    async fn put_secret(
        &self,
        name: &str,
        value: &SecretString,
    ) -> Result<SecretRef, ProviderError>;
    /// The current value of secret `name`.
    async fn get_secret(&self, name: &str) -> Result<SecretString, ProviderError>;
    /// Secrets whose name starts with `prefix`.
    async fn list_secrets(&self, prefix: &str) -> Result<Vec<SecretRef>, ProviderError>;
    /// Deletes secret `name`: at once when `force`, else with the store's recovery window.
    async fn delete_secret(&self, name: &str, force: bool) -> Result<(), ProviderError>;
}

/// Kubernetes resources of the apps (implemented by `multicloud-k8s`).
pub trait WorkloadOps: ResourceOps {}

/// One cloud.
pub trait CloudProvider: Send + Sync {
    /// Short name (`aws`, `azure`, `memory`).
    fn name(&self) -> &str;

    /// The cloud's naming rules, checked before any API call.
    fn naming_rules(&self) -> &dyn NamingRules;

    /// Expands a (validated) spec into this cloud's resources with their dependencies and
    /// deterministic names. Tags are attached by the engine afterwards.
    fn expand(&self, spec: &StackSpec) -> Result<ResourceGraph, crate::Error>;

    /// Network resources.
    fn network(&self) -> &dyn NetworkOps;
    /// Identity resources.
    fn identity(&self) -> &dyn IdentityOps;
    /// Cluster resources.
    fn cluster(&self) -> &dyn ClusterOps;
    /// Database resources.
    fn database(&self) -> &dyn DatabaseOps;
    /// Cache resources.
    fn cache(&self) -> &dyn CacheOps;
    /// Registries.
    fn registry(&self) -> &dyn Registry;
    /// Secrets.
    fn secrets(&self) -> &dyn SecretBackend;
    /// Kubernetes workloads, when a cluster backend is attached.
    fn workloads(&self) -> Option<&dyn WorkloadOps> {
        None
    }

    /// The ops handling `kind`, or `None` if this provider cannot manage it.
    fn ops_for(&self, kind: ResourceKind) -> Option<&dyn ResourceOps> {
        Some(match kind.family() {
            ServiceFamily::Network => self.network(),
            ServiceFamily::Identity => self.identity(),
            ServiceFamily::Cluster => self.cluster(),
            ServiceFamily::Database => self.database(),
            ServiceFamily::Cache => self.cache(),
            ServiceFamily::Registry => self.registry(),
            ServiceFamily::Secrets => self.secrets(),
            ServiceFamily::Workloads => self.workloads()?,
        })
    }
}

/// A shared provider is a provider, so `Stack::new` takes `Arc<AwsProvider>` or
/// `Arc<dyn CloudProvider>` as well as a provider value.
impl<P: CloudProvider + ?Sized> CloudProvider for std::sync::Arc<P> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn naming_rules(&self) -> &dyn NamingRules {
        (**self).naming_rules()
    }
    fn expand(&self, spec: &StackSpec) -> Result<ResourceGraph, crate::Error> {
        (**self).expand(spec)
    }
    fn network(&self) -> &dyn NetworkOps {
        (**self).network()
    }
    fn identity(&self) -> &dyn IdentityOps {
        (**self).identity()
    }
    fn cluster(&self) -> &dyn ClusterOps {
        (**self).cluster()
    }
    fn database(&self) -> &dyn DatabaseOps {
        (**self).database()
    }
    fn cache(&self) -> &dyn CacheOps {
        (**self).cache()
    }
    fn registry(&self) -> &dyn Registry {
        (**self).registry()
    }
    fn secrets(&self) -> &dyn SecretBackend {
        (**self).secrets()
    }
    fn workloads(&self) -> Option<&dyn WorkloadOps> {
        (**self).workloads()
    }
    fn ops_for(&self, kind: ResourceKind) -> Option<&dyn ResourceOps> {
        (**self).ops_for(kind)
    }
}
