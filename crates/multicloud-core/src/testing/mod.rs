//! An in-memory cloud for the engine's own tests and benches (feature `testing`).
//!
//! [`MemoryCloud`] keeps resources by kind and name, makes each one ready after a
//! configurable latency (the `ready`/`gone` checks return a `retry_after` so the shared poller
//! wakes exactly then), refuses to create a resource whose dependencies are not ready and to
//! delete one that others still depend on (`DependencyViolation`), and can inject throttling
//! and failures. It records every call so tests can check ordering, concurrency and call
//! counts. It tests the engine; it is not a stand-in for a real cloud.

mod expand;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::error::{ErrorKind, ProviderError};
use crate::provider::{
    CacheOps, CloudProvider, ClusterCredentials, ClusterOps, DatabaseOps, IdentityOps, NetworkOps,
    Observation, Observed, OpContext, Outputs, Readiness, Registry, RegistryCredentials,
    ResourceOps, SecretBackend, SecretRef, WorkloadOps,
};
use crate::resource::{ResourceGraph, ResourceId, ResourceKind};
use crate::secret::SecretString;
use crate::spec::{NamingRules, StackSpec, ValidationError};
use crate::tags::{TAG_ENV, TAG_STACK};

pub use expand::expand;

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
}

impl Latencies {
    /// Realistic relative latencies (cluster 12, node pool 4, database 8, cache 6, network
    /// 1, everything else 0.5 units), after STACK-GRAPH.md.
    pub fn realistic(unit: Duration) -> Self {
        use ResourceKind::*;
        let mut units = HashMap::new();
        for (k, u) in [
            (Cluster, 12.0),
            (NodePool, 4.0),
            (Database, 8.0),
            (Cache, 6.0),
        ] {
            units.insert(k, u);
        }
        for k in [
            Vpc,
            Subnet,
            InternetGateway,
            RouteTable,
            SecurityGroup,
            ResourceGroup,
        ] {
            units.insert(k, 1.0);
        }
        Self {
            unit,
            units,
            default_units: 0.5,
        }
    }
    /// Everything instant.
    pub fn zero() -> Self {
        Self {
            unit: Duration::ZERO,
            units: HashMap::new(),
            default_units: 0.0,
        }
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
    pub tags: BTreeMap<String, String>,
    /// Outputs.
    pub outputs: Outputs,
    /// Names (`kind/name`) of the resources it depends on.
    pub depends_on: Vec<String>,
    /// When it becomes ready.
    pub ready_at: Instant,
    /// When its deletion completes, once deleting.
    pub deleting_until: Option<Instant>,
    /// Its key in the cloud (`kind/name`, or `kind/namespace/name` for Kubernetes objects).
    pub key: String,
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
    format!("{kind}/{name}")
}

/// The memory cloud's key of a resource: Kubernetes objects are namespaced, so two
/// namespaces may hold objects of the same name.
fn res_key(r: &crate::resource::Resource) -> String {
    match r.config.get("namespace").and_then(Value::as_str) {
        Some(ns) if r.kind.family() == crate::resource::ServiceFamily::Workloads => {
            format!("{}/{ns}/{}", r.kind, r.name)
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
                tags: BTreeMap::from([("owner".to_string(), "someone-else".to_string())]),
                outputs: Outputs::new(),
                depends_on: Vec::new(),
                ready_at: now,
                deleting_until: None,
                key: key(kind, name),
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

fn dep_key(m: &MemResource) -> String {
    m.key.clone()
}

/// A [`CloudProvider`] on a [`MemoryCloud`]. Its expansion mirrors the AWS graph of
/// STACK-GRAPH.md (network, roles, cluster, node pools, OIDC, subnet groups, database, cache,
/// registries, secrets, workload identities, apps).
#[derive(Debug, Clone)]
pub struct InMemoryProvider {
    cloud: Arc<MemoryCloud>,
}

impl InMemoryProvider {
    /// A provider on `cloud`.
    pub fn new(cloud: Arc<MemoryCloud>) -> Self {
        Self { cloud }
    }
    /// The cloud.
    pub fn cloud(&self) -> &Arc<MemoryCloud> {
        &self.cloud
    }
}

/// Naming rules of the memory cloud: none beyond the cloud-independent ones.
#[derive(Debug, Clone, Copy)]
pub struct MemoryNaming;

impl NamingRules for MemoryNaming {
    fn cloud(&self) -> &str {
        "memory"
    }
    fn check(&self, _spec: &StackSpec, _errors: &mut Vec<ValidationError>) {}
}

impl CloudProvider for InMemoryProvider {
    fn name(&self) -> &str {
        "memory"
    }
    fn naming_rules(&self) -> &dyn NamingRules {
        &MemoryNaming
    }
    fn expand(&self, spec: &StackSpec) -> Result<ResourceGraph, crate::Error> {
        expand(spec)
    }
    fn network(&self) -> &dyn NetworkOps {
        self
    }
    fn identity(&self) -> &dyn IdentityOps {
        self
    }
    fn cluster(&self) -> &dyn ClusterOps {
        self
    }
    fn database(&self) -> &dyn DatabaseOps {
        self
    }
    fn cache(&self) -> &dyn CacheOps {
        self
    }
    fn registry(&self) -> &dyn Registry {
        self
    }
    fn secrets(&self) -> &dyn SecretBackend {
        self
    }
    fn workloads(&self) -> Option<&dyn WorkloadOps> {
        Some(self)
    }
}

impl NetworkOps for InMemoryProvider {}
impl IdentityOps for InMemoryProvider {}
impl DatabaseOps for InMemoryProvider {}
impl CacheOps for InMemoryProvider {}
impl WorkloadOps for InMemoryProvider {}

fn outputs_for(ctx: &OpContext<'_>, cloud: &MemoryCloud) -> Outputs {
    let r = ctx.resource;
    let name = r.name.as_str();
    let mut o = match r.kind {
        ResourceKind::Cluster => json!({
            "endpoint": format!("https://{name}.eks.memory.local"),
            "ca_data": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t",
            "oidc_issuer": format!("https://oidc.memory.local/id/{name}"),
        }),
        ResourceKind::Database => {
            let secret_name = format!("{name}/master-password");
            cloud
                .lock()
                .secrets
                .insert(secret_name.clone(), SecretString::generate(32));
            json!({
                "host": format!("{name}.db.memory.local"), "port": 5432,
                "database": r.config.get("database_name").cloned().unwrap_or(Value::from("app")),
                "username": r.config.get("username").cloned().unwrap_or(Value::from("app_admin")),
                "password_secret": format!("memory:secret:{secret_name}"),
            })
        }
        ResourceKind::Cache => {
            json!({ "host": format!("{name}.cache.memory.local"), "port": 6379 })
        }
        ResourceKind::Registry => json!({ "url": format!("registry.memory.local/{name}") }),
        ResourceKind::Secret => {
            let length = r
                .config
                .pointer("/source/generated/length")
                .and_then(Value::as_u64)
                .unwrap_or(32);
            cloud
                .lock()
                .secrets
                .insert(name.to_string(), SecretString::generate(length as usize));
            json!({ "arn": format!("memory:secret:{name}"), "version": "v1" })
        }
        ResourceKind::WorkloadIdentity => json!({
            "identity": format!("memory:role/{name}"),
            "subject": format!("system:serviceaccount:{}:{}",
                r.config.get("namespace").and_then(Value::as_str).unwrap_or_default(),
                r.config.get("service_account").and_then(Value::as_str).unwrap_or_default()),
        }),
        ResourceKind::Service => {
            json!({ "host": format!("{name}.lb.memory.local"), "port": r.config.get("port").cloned().unwrap_or(Value::from(80)) })
        }
        _ => json!({}),
    };
    if let Some(map) = o.as_object_mut() {
        map.insert("name".into(), Value::from(name));
        map.insert("id".into(), Value::from(format!("mem-{}", r.id)));
        map.into_iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    } else {
        Outputs::new()
    }
}

#[async_trait]
impl ResourceOps for InMemoryProvider {
    async fn observe(&self, ctx: &OpContext<'_>) -> Result<Observation, ProviderError> {
        let r = ctx.resource;
        self.cloud.enter(&r.id, Op::Observe)?;
        let i = self.cloud.lock();
        Ok(match i.resources.get(&res_key(r)) {
            None => Observation::Absent,
            Some(m) => Observation::Present(Observed {
                provider_id: None,
                owner: ctx
                    .stack
                    .ownership
                    .judge(m.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
                outputs: m.outputs.clone(),
                drifted: false,
            }),
        })
    }

    async fn create(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        let r = ctx.resource;
        self.cloud.enter(&r.id, Op::Create)?;
        let now = Instant::now();
        let at = self.cloud.now();
        let k = res_key(r);
        let mut i = self.cloud.lock();
        i.create_started.entry(r.id.clone()).or_insert(at);
        if let Some(existing) = i.resources.get(&k) {
            return match ctx
                .stack
                .ownership
                .judge(existing.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            {
                crate::provider::Owner::Us => Ok(existing.outputs.clone()),
                _ => Err(ProviderError::new(
                    ErrorKind::ForeignResource,
                    format!("{k} exists without our ownership tags"),
                )),
            };
        }
        // The memory cloud checks what a real one would: dependencies exist and are ready.
        let mut dep_keys = Vec::new();
        for d in &r.depends_on {
            let dep = i
                .resources
                .values()
                .find(|m| &m.id == d && m.deleting_until.is_none());
            match dep {
                Some(m) if m.ready_at <= now => dep_keys.push(dep_key(m)),
                Some(_) => {
                    return Err(ProviderError::invalid(format!(
                        "{}: dependency {d} is not ready yet",
                        r.id
                    ))
                    .with_code("DependencyNotReady"));
                }
                None => {
                    return Err(ProviderError::invalid(format!(
                        "{}: dependency {d} does not exist",
                        r.id
                    ))
                    .with_code("DependencyMissing"));
                }
            }
        }
        drop(i);
        let outputs = outputs_for(ctx, &self.cloud);
        let mut i = self.cloud.lock();
        i.resources.insert(
            k.clone(),
            MemResource {
                id: r.id.clone(),
                kind: r.kind,
                name: r.name.clone(),
                tags: r.tags.clone(),
                outputs: outputs.clone(),
                depends_on: dep_keys,
                ready_at: now + self.cloud.latencies.of(r.kind),
                deleting_until: None,
                key: k.clone(),
            },
        );
        *i.creations.entry(k).or_default() += 1;
        i.active += 1;
        i.max_active = i.max_active.max(i.active);
        Ok(outputs)
    }

    fn supports_update(&self, kind: ResourceKind) -> bool {
        kind != ResourceKind::Vpc
    }

    async fn update(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        let r = ctx.resource;
        self.cloud.enter(&r.id, Op::Update)?;
        let mut i = self.cloud.lock();
        let m = i
            .resources
            .get_mut(&res_key(r))
            .ok_or_else(|| ProviderError::not_found(format!("{} does not exist", r.id)))?;
        m.tags = r.tags.clone();
        Ok(m.outputs.clone())
    }

    async fn ready(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        let r = ctx.resource;
        self.cloud.enter(&r.id, Op::Ready)?;
        let now = Instant::now();
        let at = self.cloud.now();
        let mut i = self.cloud.lock();
        let m = i
            .resources
            .get(&res_key(r))
            .ok_or_else(|| ProviderError::not_found(format!("{} does not exist", r.id)))?;
        if m.ready_at > now {
            return Ok(Readiness::Pending {
                status: "creating".into(),
                retry_after: Some(m.ready_at - now),
            });
        }
        if !i.ready_seen.contains_key(&r.id) {
            i.ready_seen.insert(r.id.clone(), at);
            i.active = i.active.saturating_sub(1);
        }
        Ok(Readiness::ready())
    }

    async fn delete(&self, ctx: &OpContext<'_>) -> Result<(), ProviderError> {
        let r = ctx.resource;
        self.cloud.enter(&r.id, Op::Delete)?;
        let k = res_key(r);
        let now = Instant::now();
        let mut i = self.cloud.lock();
        if !i.resources.contains_key(&k) {
            return Ok(());
        }
        let users: Vec<String> = i
            .resources
            .iter()
            .filter(|(_, m)| m.depends_on.contains(&k))
            .map(|(n, _)| n.clone())
            .collect();
        if !users.is_empty() {
            i.dependency_violations += 1;
            return Err(ProviderError::new(
                ErrorKind::DependencyViolation,
                format!("{k} is still used by {}", users.join(", ")),
            )
            .with_code("DependencyViolation"));
        }
        let latency = self.cloud.latencies.of(r.kind);
        if let Some(m) = i.resources.get_mut(&k) {
            m.deleting_until.get_or_insert(now + latency);
        }
        Ok(())
    }

    async fn gone(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        let r = ctx.resource;
        self.cloud.enter(&r.id, Op::Gone)?;
        let k = res_key(r);
        let now = Instant::now();
        let at = self.cloud.now();
        let mut i = self.cloud.lock();
        let until = i.resources.get(&k).map(|m| m.deleting_until.unwrap_or(now));
        match until {
            Some(t) if t > now => Ok(Readiness::Pending {
                status: "deleting".into(),
                retry_after: Some(t - now),
            }),
            _ => {
                i.resources.remove(&k);
                if r.kind == ResourceKind::Secret {
                    i.secrets.remove(&r.name);
                }
                i.gone_seen.entry(r.id.clone()).or_insert(at);
                Ok(Readiness::ready())
            }
        }
    }
}

#[async_trait]
impl ClusterOps for InMemoryProvider {
    async fn credentials(&self, cluster: &Outputs) -> Result<ClusterCredentials, ProviderError> {
        let get = |k: &str| cluster.get(k).and_then(Value::as_str).map(str::to_string);
        Ok(ClusterCredentials {
            endpoint: get("endpoint").ok_or_else(|| ProviderError::invalid("no endpoint"))?,
            ca_data: get("ca_data").unwrap_or_default(),
            token: SecretString::generate(40),
            expires_at: None,
        })
    }
}

#[async_trait]
impl Registry for InMemoryProvider {
    async fn pull_credentials(
        &self,
        registry: &Outputs,
    ) -> Result<RegistryCredentials, ProviderError> {
        Ok(RegistryCredentials {
            server: registry
                .get("url")
                .and_then(Value::as_str)
                .unwrap_or("registry.memory.local")
                .to_string(),
            username: "memory".into(),
            password: SecretString::generate(24),
            expires_at: None,
        })
    }
}

#[async_trait]
impl SecretBackend for InMemoryProvider {
    async fn put_secret(
        &self,
        name: &str,
        value: &SecretString,
    ) -> Result<SecretRef, ProviderError> {
        self.cloud
            .lock()
            .secrets
            .insert(name.to_string(), value.clone());
        Ok(SecretRef {
            name: name.to_string(),
            id: format!("memory:secret:{name}"),
            version: Some(value.fingerprint()),
        })
    }
    async fn get_secret(&self, name: &str) -> Result<SecretString, ProviderError> {
        self.cloud
            .lock()
            .secrets
            .get(name)
            .cloned()
            .ok_or_else(|| ProviderError::not_found(format!("secret {name}")))
    }
    async fn list_secrets(&self, prefix: &str) -> Result<Vec<SecretRef>, ProviderError> {
        Ok(self
            .cloud
            .lock()
            .secrets
            .keys()
            .filter(|k| k.starts_with(prefix))
            .map(|k| SecretRef {
                name: k.clone(),
                id: format!("memory:secret:{k}"),
                version: None,
            })
            .collect())
    }
    async fn delete_secret(&self, name: &str, _force: bool) -> Result<(), ProviderError> {
        self.cloud.lock().secrets.remove(name);
        Ok(())
    }
}
