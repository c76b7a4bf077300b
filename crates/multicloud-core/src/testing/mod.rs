//! An in-memory cloud for the engine's own tests and benches (feature `testing`).
//!
//! [`MemoryCloud`] keeps resources by kind and name, makes each one ready after a
//! configurable latency (the `ready`/`gone` checks return a `retry_after` so the shared poller
//! wakes exactly then), refuses to create a resource whose dependencies are not ready and to
//! delete one that others still depend on (`DependencyViolation`), and can inject throttling
//! and failures. It records every call so tests can check ordering, concurrency and call
//! counts. It tests the engine; it is not a stand-in for a real cloud.

mod cluster;
mod expand;
pub mod lock_contract;
mod provider;
pub mod scope_contract;
pub mod spec_checks;
pub mod store_contract;
mod sweeper;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use tokio::time::Instant;

use crate::error::{ErrorKind, ProviderError};
use crate::provider::Outputs;
use crate::resource::{ResourceId, ResourceKind};
use crate::secret::SecretString;
use crate::tags::{TAG_ENV, TAG_STACK};

pub use expand::{expand, kind_defs, kinds};

/// The full stack of the README's example (`shop` / `pr-1234` in `us-east-1`: network,
/// cluster with one node pool, PostgreSQL, Redis, a registry, a generated secret, a workload
/// identity and an app behind a load balancer, 4 h TTL), not yet validated, so tests can
/// change it first.
pub fn example_spec() -> crate::spec::StackSpec {
    use crate::spec::{
        App, Cluster, Expose, Network, NodePool, Postgres, Redis, RegistrySpec, SecretSpec,
        StackSpec, WorkloadIdentity,
    };
    StackSpec::builder("shop")
        .environment("pr-1234")
        .region("us-east-1")
        .network(Network::default())
        .cluster(Cluster::new("1.31").node_pool(NodePool::new("general", "t3.medium", 2, 5)))
        .database(Postgres::new("16").storage_gb(20))
        .cache(Redis::new("7.1"))
        .registry(RegistrySpec::new("shop-api"))
        .secret(SecretSpec::generated("api-token", 32))
        .workload_identity(WorkloadIdentity::new("shop", "api").can_read_secret("api-token"))
        .app(
            App::new("api")
                .image_from_registry("shop-api", "v1")
                .port(8080)
                .env_from_secret("API_TOKEN", "api-token")
                .expose(Expose::LoadBalancer),
        )
        .ttl(Duration::from_secs(4 * 3600))
        .build_unchecked()
}

/// The state key of [`example_spec`] on an [`InMemoryProvider`] in its default scope
/// (`shop`/`pr-1234` on `memory.local`).
pub fn example_key() -> crate::state::StateKey {
    crate::state::StateKey::new("shop", "pr-1234")
        .on(crate::state::ProviderScope::new("memory", "local"))
}

pub use provider::{InMemoryProvider, MemoryNaming, MemoryOps, MemoryWorkloads};
pub use sweeper::MemorySweeper;

/// A [`Stack`](crate::Stack) of `spec` on the memory cloud, its Kubernetes side attached.
pub fn memory_stack(spec: crate::StackSpec, provider: InMemoryProvider) -> crate::Stack {
    let workloads = provider.workloads();
    crate::Stack::new(spec, provider).workloads(workloads)
}

/// Which operation a recorded call was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    /// `observe`.
    Observe,
    /// `create`.
    Create,
    /// `update`.
    Update,
    /// `ready`.
    Ready,
    /// `delete`.
    Delete,
    /// `gone`.
    Gone,
}

/// Time units per kind: how long a resource takes to become ready (and to go away).
#[derive(Debug, Clone)]
pub struct Latencies {
    /// Length of one time unit.
    pub unit: Duration,
    /// Units per kind; kinds not listed take `default_units`.
    pub units: HashMap<ResourceKind, f64>,
    /// Units of unlisted kinds.
    pub default_units: f64,
    /// Whether pending answers say when to look again (`Retry-After`, as ARM does); without
    /// it the engine's poller paces its checks itself.
    pub retry_after: bool,
}

impl Latencies {
    /// Realistic relative latencies (cluster 12, node pool 4, database 8, cache 6, network
    /// 1, everything else 0.5 units), after STACK-GRAPH.md.
    pub fn realistic(unit: Duration) -> Self {
        use expand::kinds::*;
        let mut units = HashMap::new();
        for (k, u) in [
            (ResourceKind::CLUSTER, 12.0),
            (ResourceKind::NODE_POOL, 4.0),
            (ResourceKind::DATABASE, 8.0),
            (ResourceKind::CACHE, 6.0),
        ] {
            units.insert(k, u);
        }
        for k in [VPC, SUBNET, INTERNET_GATEWAY, ROUTE_TABLE, SECURITY_GROUP] {
            units.insert(k, 1.0);
        }
        Self {
            unit,
            units,
            default_units: 0.5,
            retry_after: true,
        }
    }
    /// Everything instant.
    pub fn zero() -> Self {
        Self {
            unit: Duration::ZERO,
            units: HashMap::new(),
            default_units: 0.0,
            retry_after: true,
        }
    }
    /// Pending answers without `Retry-After` (as EC2 and EKS describe calls): the poller
    /// decides when to look again.
    pub fn without_retry_after(mut self) -> Self {
        self.retry_after = false;
        self
    }
    /// The latency of `kind`.
    pub fn of(&self, kind: ResourceKind) -> Duration {
        self.unit
            .mul_f64(self.units.get(&kind).copied().unwrap_or(self.default_units))
    }
}

/// One resource in the memory cloud.
#[derive(Debug, Clone)]
pub struct MemResource {
    /// Logical id it was created for.
    pub id: ResourceId,
    /// Kind.
    pub kind: ResourceKind,
    /// Physical name.
    pub name: String,
    /// Tags.
    pub tags: crate::tags::Tags,
    /// Outputs.
    pub outputs: Outputs,
    /// Names (`kind/name`) of the resources it depends on.
    pub depends_on: Vec<String>,
    /// When it becomes ready.
    pub ready_at: Instant,
    /// When its deletion completes, once deleting.
    pub deleting_until: Option<Instant>,
    /// When what it holds expires (reported by `observe`; see
    /// [`MemoryCloud::set_expiry`]).
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Its key in the cloud (`kind/name`, or `kind/namespace/name` for Kubernetes objects).
    pub key: String,
    /// Settings changed behind the engine's back ([`MemoryCloud::edit`]): JSON pointers
    /// into its config with their live values. `observe` reports those that differ from the
    /// desired config as drift; an update puts the config back (clears them).
    pub edits: BTreeMap<String, Value>,
}

/// A recorded call.
#[derive(Debug, Clone)]
pub struct Call {
    /// Resource.
    pub id: ResourceId,
    /// Operation.
    pub op: Op,
    /// When (since the cloud was made).
    pub at: Duration,
    /// Whether it succeeded.
    pub ok: bool,
}

#[derive(Debug)]
struct Inner {
    resources: BTreeMap<String, MemResource>,
    secrets: BTreeMap<String, SecretString>,
    creations: BTreeMap<String, u32>,
    calls: Vec<Call>,
    /// First time `ready` said Ready, per resource id.
    ready_seen: BTreeMap<ResourceId, Duration>,
    /// Time the first create call was made, per resource id.
    create_started: BTreeMap<ResourceId, Duration>,
    /// Time `gone` first said gone, per resource id.
    gone_seen: BTreeMap<ResourceId, Duration>,
    active: usize,
    max_active: usize,
    dependency_violations: u32,
    throttle_probability: f64,
    failures: Vec<(ResourceId, Op, u32)>,
    /// Objects someone else made in a namespace, by the namespace's key.
    foreign_objects: BTreeMap<String, Vec<String>>,
    rng: StdRng,
}

/// The in-memory cloud (shared by providers so a "second run" sees the same world).
#[derive(Debug)]
pub struct MemoryCloud {
    inner: Mutex<Inner>,
    latencies: Latencies,
    epoch: Instant,
}

fn key(kind: ResourceKind, name: &str) -> String {
    joined(&[kind.as_str(), name])
}

/// `parts` joined with `/` (one allocation: the memory cloud keys every call).
fn joined(parts: &[&str]) -> String {
    let mut key = String::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            key.push('/');
        }
        key.push_str(p);
    }
    key
}

/// The memory cloud's key of a resource: Kubernetes objects live in their stack's cluster
/// ([`cluster::of`]) and are namespaced, and node pools are named within their cluster, so
/// two clusters or two namespaces may hold objects of the same name.
fn res_key(r: &crate::resource::Resource) -> String {
    match r.config.get("namespace").and_then(Value::as_str) {
        Some(ns) if cluster::is_object(r.kind) => {
            joined(&[r.kind.as_str(), &cluster::of(&r.tags), ns, &r.name])
        }
        // Node pools are named within their cluster, as EKS node groups and AKS agent pools.
        _ if r.kind == ResourceKind::NODE_POOL => {
            joined(&[r.kind.as_str(), &cluster::of(&r.tags), &r.name])
        }
        _ => key(r.kind, &r.name),
    }
}

impl MemoryCloud {
    /// A cloud with these latencies and a fixed random seed.
    pub fn new(latencies: Latencies) -> Arc<Self> {
        Arc::new(Self {
            inner: Mutex::new(Inner {
                resources: BTreeMap::new(),
                secrets: BTreeMap::new(),
                creations: BTreeMap::new(),
                calls: Vec::new(),
                ready_seen: BTreeMap::new(),
                create_started: BTreeMap::new(),
                gone_seen: BTreeMap::new(),
                active: 0,
                max_active: 0,
                dependency_violations: 0,
                throttle_probability: 0.0,
                failures: Vec::new(),
                foreign_objects: BTreeMap::new(),
                rng: StdRng::seed_from_u64(7),
            }),
            latencies,
            epoch: Instant::now(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes each call fail with a throttling error with probability `p` (seeded, so runs
    /// are reproducible).
    pub fn set_throttle_probability(&self, p: f64) {
        self.lock().throttle_probability = p;
    }

    /// Makes the next `times` calls of `op` on resource `id` fail with a non-retryable error.
    pub fn fail(&self, id: ResourceId, op: Op, times: u32) {
        self.lock().failures.push((id, op, times));
    }

    /// Puts a resource there that carries no ownership tags (someone else's).
    pub fn insert_foreign(&self, kind: ResourceKind, name: &str) {
        let now = Instant::now();
        self.lock().resources.insert(
            key(kind, name),
            MemResource {
                id: ResourceId::new(kind, "foreign"),
                kind,
                name: name.to_string(),
                tags: BTreeMap::from([("owner".to_string(), "someone-else".to_string())]).into(),
                outputs: Outputs::new(),
                depends_on: Vec::new(),
                ready_at: now,
                deleting_until: None,
                expires_at: None,
                key: key(kind, name),
                edits: BTreeMap::new(),
            },
        );
    }

    /// Every resource that exists (including ones being deleted).
    pub fn resources(&self) -> Vec<MemResource> {
        self.lock().resources.values().cloned().collect()
    }

    /// Resources carrying `stack`/`environment` ownership tags.
    pub fn owned_by(&self, stack: &str, environment: &str) -> Vec<MemResource> {
        self.resources()
            .into_iter()
            .filter(|r| {
                r.tags.get(TAG_STACK).map(String::as_str) == Some(stack)
                    && r.tags.get(TAG_ENV).map(String::as_str) == Some(environment)
            })
            .collect()
    }

    /// How many times each physical resource (`kind/name`) was actually created.
    pub fn creations(&self) -> BTreeMap<String, u32> {
        self.lock().creations.clone()
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// Number of calls of `op` so far.
    pub fn count(&self, op: Op) -> usize {
        self.lock().calls.iter().filter(|c| c.op == op).count()
    }

    /// Forgets recorded calls and timings (not the resources).
    pub fn reset_calls(&self) {
        let mut i = self.lock();
        i.calls.clear();
        i.ready_seen.clear();
        i.create_started.clear();
        i.gone_seen.clear();
        i.max_active = 0;
        i.dependency_violations = 0;
    }

    /// When each resource was first reported ready, since the cloud was made.
    pub fn ready_times(&self) -> BTreeMap<ResourceId, Duration> {
        self.lock().ready_seen.clone()
    }

    /// When each resource's first create call was made.
    pub fn create_times(&self) -> BTreeMap<ResourceId, Duration> {
        self.lock().create_started.clone()
    }

    /// When each resource was first reported gone.
    pub fn gone_times(&self) -> BTreeMap<ResourceId, Duration> {
        self.lock().gone_seen.clone()
    }

    /// Most resources that were between their create call and their readiness at once.
    pub fn max_concurrent(&self) -> usize {
        self.lock().max_active
    }

    /// How many deletions were refused because something still depended on the resource.
    pub fn dependency_violations(&self) -> u32 {
        self.lock().dependency_violations
    }

    /// Every secret value stored in the cloud (to check none leaks anywhere else).
    pub fn secret_values(&self) -> Vec<SecretString> {
        self.lock().secrets.values().cloned().collect()
    }

    /// Sets when what resource `kind`/`name` holds expires (what `observe` reports as
    /// [`Observed::expires_at`](crate::provider::Observed::expires_at)); false if absent.
    pub fn set_expiry(
        &self,
        kind: ResourceKind,
        name: &str,
        at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> bool {
        match self.lock().resources.get_mut(&key(kind, name)) {
            Some(m) => {
                m.expires_at = at;
                true
            }
            None => false,
        }
    }

    /// Changes setting `pointer` (a JSON pointer into its config, `/cidr`) of resource
    /// `kind`/`name` to `value` behind the engine's back (drift); false if absent.
    pub fn edit(&self, kind: ResourceKind, name: &str, pointer: &str, value: Value) -> bool {
        match self.lock().resources.get_mut(&key(kind, name)) {
            Some(m) => {
                m.edits.insert(pointer.to_string(), value);
                true
            }
            None => false,
        }
    }

    /// Removes a resource behind the engine's back (drift).
    pub fn remove(&self, kind: ResourceKind, name: &str) -> bool {
        self.lock().resources.remove(&key(kind, name)).is_some()
    }

    fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    /// Records a call and applies throttling / failure injection.
    fn enter(&self, id: &ResourceId, op: Op) -> Result<(), ProviderError> {
        let at = self.now();
        let mut i = self.lock();
        let throttle = i.throttle_probability > 0.0 && {
            let p = i.throttle_probability;
            i.rng.random_bool(p.clamp(0.0, 1.0))
        };
        let mut injected = false;
        for f in i.failures.iter_mut() {
            if &f.0 == id && f.1 == op && f.2 > 0 {
                f.2 -= 1;
                injected = true;
                break;
            }
        }
        i.calls.push(Call {
            id: id.clone(),
            op,
            at,
            ok: !(throttle || injected),
        });
        if injected {
            return Err(ProviderError::new(
                ErrorKind::Failed,
                format!("injected failure of {op:?} on {id}"),
            )
            .with_code("InjectedFailure"));
        }
        if throttle {
            return Err(ProviderError::new(ErrorKind::Throttling, "Rate exceeded")
                .with_code("ThrottlingException"));
        }
        Ok(())
    }
}
