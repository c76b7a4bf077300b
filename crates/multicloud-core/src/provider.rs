//! The traits a cloud implements.
//!
//! The engine drives every resource through one small lifecycle, [`ResourceOps`]: `observe`
//! (one read), `create`/`update`/`delete` (one mutating call each) and `ready`/`gone`
//! (readiness and deletion checks the engine polls through its shared poller), implemented
//! once per kind. A [`CloudProvider`] lists its kinds in one [`KindTable`] (each row a
//! [`KindDef`] and the ops of that kind), which is where the engine finds the ops of every
//! resource; it expands a [`StackSpec`] into its cloud's [`ResourceGraph`] and offers what
//! users need after `up` through small traits of their own: [`ClusterOps`] (cluster
//! credentials), [`Registry`] (pull credentials) and [`SecretBackend`] (secret values).
//!
//! ## Contracts every implementation keeps
//! - **Idempotency**: `create` on a resource that already exists with our ownership tags
//!   returns its outputs (it adopts), and fails with [`ErrorKind::ForeignResource`] when it
//!   exists without them. `delete` of a resource that is already gone succeeds.
//! - **Never delete what is not ours**: when deleting a resource would delete what the stack
//!   does not own (a namespace holding objects multicloud did not make), `delete` leaves it
//!   in place and returns an [`ErrorKind::LeftBehind`] error saying why. That is not a
//!   failure of the teardown: the engine forgets the resource, reports it in `down`'s
//!   [`DownReport`](crate::down::DownReport) and goes on.
//! - **Errors are classified**: throttling, eventual consistency and "dependency still in use"
//!   are returned with a retryable [`ErrorKind`], so the engine retries them with backoff; a
//!   server-suggested delay goes in [`ProviderError::with_retry_after`].
//! - **No secret values** in `config`, outputs or error messages.

use std::collections::BTreeMap;

use async_trait::async_trait;
use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use crate::access::{
    ClusterAccess, ClusterCredential, ClusterCredentials, ClusterOps, CredentialSource,
};
use crate::error::{ErrorKind, ProviderError};
use crate::expand::ServiceAnchor;
use crate::kind::KindDef;
pub use crate::observation::{Observation, Observed, Readiness};
pub use crate::outputs::Outputs;
use crate::resource::{Resource, ResourceGraph, ResourceId, ResourceKind};
pub use crate::secret::SecretRef;
use crate::secret::SecretString;
use crate::spec::{Connection, NamingRules, StackSpec};
pub use crate::state::ProviderScope;
pub use crate::tags::Owner;
use crate::tags::Ownership;

mod table;
pub use table::KindTable;

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

/// What the operations of one run share beyond their resource: the provider (registry pull
/// credentials, secret values) and the stack's cluster access. This is how the Kubernetes
/// side reaches the cloud without the provider holding it.
#[derive(Clone, Copy)]
pub struct RunServices<'a> {
    /// The stack's cloud provider.
    pub cloud: &'a dyn CloudProvider,
    /// The stack's cluster access (an explicit override, or the provider's credentials for
    /// the stack's cluster), cached and refreshed before expiry.
    pub cluster: &'a ClusterAccess,
}

impl std::fmt::Debug for RunServices<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunServices")
            .field("cloud", &self.cloud.name())
            .finish_non_exhaustive()
    }
}

/// Everything an operation on one resource gets: the resource, the stack, the outputs of
/// the resources it depends on, and the run's shared services.
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
    /// The run's shared services; `None` when an operation is called outside the engine
    /// (a provider's own tests).
    pub run: Option<RunServices<'a>>,
}

impl OpContext<'_> {
    /// The desired config as the kind's typed config `C` (an
    /// [`ErrorKind::InvalidConfig`] error naming the field when it does not match).
    pub fn config<C: DeserializeOwned>(&self) -> Result<C, ProviderError> {
        self.resource.config_as()
    }

    /// The outputs of dependency `id` as `O`; an [`ErrorKind::InvalidInput`] error when
    /// `id` is not a dependency with outputs, [`ErrorKind::InvalidConfig`] when a field is
    /// missing.
    pub fn dep<O: DeserializeOwned>(&self, id: &ResourceId) -> Result<O, ProviderError> {
        self.dep_outputs(id)?.read(id)
    }

    /// The raw outputs of dependency `id`.
    pub fn dep_outputs(&self, id: &ResourceId) -> Result<&Outputs, ProviderError> {
        self.deps.get(id).ok_or_else(|| {
            ProviderError::invalid(format!(
                "{}: dependency {id} has no outputs",
                self.resource.id
            ))
        })
    }

    /// A string output of dependency `id`, or an [`ErrorKind::InvalidInput`] error naming it.
    pub fn dep_str(&self, id: &ResourceId, key: &str) -> Result<&str, ProviderError> {
        self.dep_outputs(id)?.get_str(key).ok_or_else(|| {
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
        self.deps
            .iter()
            .filter(move |(id, _)| id.kind_name() == kind.as_str())
    }

    /// The outputs recorded for this resource as `O`, if recorded and complete.
    pub fn recorded_as<O: DeserializeOwned>(&self) -> Option<O> {
        self.recorded.and_then(|o| o.read(&self.resource.id).ok())
    }

    /// A string output recorded for this resource.
    pub fn recorded_str(&self, key: &str) -> Option<&str> {
        self.recorded.and_then(|o| o.get_str(key))
    }

    /// The run's shared services, or an error when called outside the engine.
    pub fn run(&self) -> Result<RunServices<'_>, ProviderError> {
        self.run.ok_or_else(|| {
            ProviderError::new(
                ErrorKind::Unsupported,
                format!(
                    "{}: needs the engine's run services (called outside a Stack run)",
                    self.resource.id
                ),
            )
        })
    }

    /// Credentials for the stack's cluster, fresh (refreshed when close to expiry).
    pub async fn cluster_credentials(&self) -> Result<ClusterCredentials, ProviderError> {
        let run = self.run()?;
        run.cluster.credentials(run.cloud.cluster()).await
    }
}

/// The lifecycle of the resources of one kind (a [`KindTable`] row).
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
    fn requires_replacement(&self, old: &Value, new: &Value) -> bool {
        let _ = (old, new);
        !self.supports_update()
    }

    /// Whether [`ResourceOps::update`] is implemented for this kind.
    fn supports_update(&self) -> bool {
        false
    }

    /// Starts deleting the resource. Succeeds if it is already gone. Returns an
    /// [`ErrorKind::LeftBehind`] error, without deleting anything, when deleting it would
    /// delete what is not ours (see the module docs): the engine then forgets it and reports
    /// it as left behind instead of failing.
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

/// Container registries' pull credentials.
#[async_trait]
pub trait Registry: Send + Sync {
    /// Pull credentials for the registry whose recorded outputs are `registry`.
    async fn pull_credentials(
        &self,
        registry: &Outputs,
    ) -> Result<RegistryCredentials, ProviderError>;
}

/// The cloud's secret store (secret values, outside the stack's resources).
#[async_trait]
pub trait SecretBackend: Send + Sync {
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

/// Kubernetes resources of the apps (implemented by `multicloud-k8s`), attached to a
/// [`Stack`](crate::Stack) with [`Stack::workloads`](crate::Stack::workloads). Operations
/// reach the cloud (pull credentials, secret values) and the cluster through
/// [`OpContext::run`].
pub trait WorkloadOps: Send + Sync {
    /// The workload kinds and their ops (by default the kinds of
    /// [`WORKLOAD_KINDS`](crate::kind::WORKLOAD_KINDS)).
    fn kind_table(&self) -> &KindTable;
}

/// What [`CloudProvider::scope`] returns: the provider's scope, once known.
pub type ScopeFuture<'a> = BoxFuture<'a, Result<ProviderScope, ProviderError>>;

/// A shared workloads backend is one, so a backend can be attached to several stacks.
impl<W: WorkloadOps + ?Sized> WorkloadOps for std::sync::Arc<W> {
    fn kind_table(&self) -> &KindTable {
        (**self).kind_table()
    }
}

/// One cloud.
pub trait CloudProvider: Send + Sync {
    /// Short name (`aws`, `azure`, `memory`).
    fn name(&self) -> &str;

    /// The provider's kind table: its own kinds and the cloud-neutral ones of
    /// [`NEUTRAL_CLOUD_KINDS`](crate::kind::NEUTRAL_CLOUD_KINDS), each with its declaration
    /// (family, durations) and the ops that handle it. Built once, e.g. in the constructor.
    fn kind_table(&self) -> &KindTable;

    /// The kinds this provider manages: `self.kind_table().defs()`.
    fn kinds(&self) -> &[KindDef] {
        self.kind_table().defs()
    }

    /// The ops handling `kind`, or `None` if this provider does not declare it:
    /// `self.kind_table().ops(kind)`. The one lookup the engine and the sweepers use.
    fn ops(&self, kind: ResourceKind) -> Option<&dyn ResourceOps> {
        self.kind_table().ops(kind)
    }

    /// The cloud's naming rules, checked before any API call.
    fn naming_rules(&self) -> &dyn NamingRules;

    /// The region (location) `spec` deploys to on this cloud: its per-cloud override, else
    /// `spec.region`. Recorded in state and in [`StackContext::region`].
    fn region(&self, spec: &StackSpec) -> String {
        spec.region.clone()
    }

    /// Where this provider deploys `spec`, as the stack's state key names it: the cloud
    /// (this provider's [`name`](Self::name)), the account and, where the same stack name
    /// is another stack in each region, the [`region`](Self::region). AWS answers its
    /// account id (one STS call, cached) and region, Azure its subscription. Default: the
    /// account `default` in the region of `spec`.
    fn scope<'a>(&'a self, spec: &'a StackSpec) -> ScopeFuture<'a> {
        Box::pin(async move {
            Ok(ProviderScope::new(self.name(), "default").in_region(self.region(spec)))
        })
    }

    /// Expands a (validated) spec into this cloud's resources with their dependencies and
    /// deterministic names. Tags are attached by the engine afterwards, and the engine
    /// checks the graph ([`ResourceGraph::validate`]: known dependencies, no cycle) before
    /// planning, so a provider need not.
    fn expand(&self, spec: &StackSpec) -> Result<ResourceGraph, crate::expand::ExpandError>;

    /// Data service `service` of `spec` as apps reach it: the resource whose outputs say
    /// where it is and the `secret` node holding its credential (password, AUTH token,
    /// access key); `None` when `spec` has no such service. A provider builds its
    /// expansion's [`WorkloadAnchors`](crate::expand::WorkloadAnchors) with the function it
    /// answers this with, so the apps' connections and
    /// [`Stack::cache_url`](crate::Stack::cache_url) read the same secret. Default:
    /// [`ServiceAnchor::neutral`] (`database/main`, `cache/main`, no credential node: the
    /// database's password at its outputs' `password_secret`, the cache without a key).
    fn data_service(&self, spec: &StackSpec, service: Connection) -> Option<ServiceAnchor> {
        ServiceAnchor::neutral(spec, service)
    }

    /// Credentials of the stack's cluster.
    fn cluster(&self) -> &dyn ClusterOps;
    /// Registry pull credentials.
    fn registry(&self) -> &dyn Registry;
    /// The secret store.
    fn secrets(&self) -> &dyn SecretBackend;
}

/// A shared provider is a provider, so `Stack::new` takes `Arc<AwsProvider>` or
/// `Arc<dyn CloudProvider>` as well as a provider value.
impl<P: CloudProvider + ?Sized> CloudProvider for std::sync::Arc<P> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn kind_table(&self) -> &KindTable {
        (**self).kind_table()
    }
    fn naming_rules(&self) -> &dyn NamingRules {
        (**self).naming_rules()
    }
    fn region(&self, spec: &StackSpec) -> String {
        (**self).region(spec)
    }
    fn scope<'a>(&'a self, spec: &'a StackSpec) -> ScopeFuture<'a> {
        (**self).scope(spec)
    }
    fn expand(&self, spec: &StackSpec) -> Result<ResourceGraph, crate::expand::ExpandError> {
        (**self).expand(spec)
    }
    fn data_service(&self, spec: &StackSpec, service: Connection) -> Option<ServiceAnchor> {
        (**self).data_service(spec, service)
    }
    fn cluster(&self) -> &dyn ClusterOps {
        (**self).cluster()
    }
    fn registry(&self) -> &dyn Registry {
        (**self).registry()
    }
    fn secrets(&self) -> &dyn SecretBackend {
        (**self).secrets()
    }
}
