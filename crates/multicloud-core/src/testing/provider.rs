//! [`InMemoryProvider`]: the provider traits on a [`MemoryCloud`], one [`MemoryOps`] per kind.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use tokio::time::Instant;

use super::{MemResource, MemoryCloud, Op, expand, res_key};
use crate::error::{ErrorKind, ProviderError};
use crate::kind::{KindDef, WORKLOAD_KINDS};
use crate::observation::{Drift, FieldDrift, pointer_path, render};
use crate::outputs::{
    CacheOutputs, ClusterOutputs, DatabaseOutputs, IdentityOutputs, NodePoolOutputs,
    RegistryOutputs, SecretOutputs, ServiceOutputs,
};
use crate::provider::{
    CloudProvider, ClusterCredentials, ClusterOps, KindTable, Observation, Observed, OpContext,
    Outputs, ProviderScope, Readiness, Registry, RegistryCredentials, ResourceOps, SecretBackend,
    SecretRef, WorkloadOps,
};
use crate::resource::{ResourceGraph, ResourceKind};
use crate::secret::SecretString;
use crate::spec::{NamingRules, StackSpec, ValidationError};

fn dep_key(m: &MemResource) -> String {
    m.key.clone()
}

/// The ops of one kind on a [`MemoryCloud`]: every row of the memory cloud's kind tables is
/// one (the memory cloud handles all kinds alike; only the VPC cannot be updated in place).
#[derive(Debug, Clone)]
pub struct MemoryOps {
    cloud: Arc<MemoryCloud>,
    kind: ResourceKind,
}

impl MemoryOps {
    /// The ops of `kind` on `cloud`.
    pub fn new(cloud: Arc<MemoryCloud>, kind: ResourceKind) -> Self {
        Self { cloud, kind }
    }
}

/// `table` with a [`MemoryOps`] row for each of `defs`.
fn with_rows(mut table: KindTable, cloud: &Arc<MemoryCloud>, defs: &[KindDef]) -> KindTable {
    for def in defs {
        table = table.row(*def, MemoryOps::new(cloud.clone(), def.kind));
    }
    table
}

/// A [`CloudProvider`] on a [`MemoryCloud`]. Its expansion mirrors the AWS graph of
/// STACK-GRAPH.md (network, roles, cluster, node pools, OIDC, subnet groups, database, cache,
/// registries, secrets, workload identities, apps).
#[derive(Debug, Clone)]
pub struct InMemoryProvider {
    cloud: Arc<MemoryCloud>,
    table: Arc<KindTable>,
    token_lifetime: Option<chrono::Duration>,
    tokens_issued: Arc<std::sync::atomic::AtomicU64>,
    scope: ProviderScope,
}

impl InMemoryProvider {
    /// A provider on `cloud`, named `memory`, in the scope `memory.local`.
    pub fn new(cloud: Arc<MemoryCloud>) -> Self {
        let table = with_rows(KindTable::new(), &cloud, &super::kind_defs());
        Self {
            cloud,
            table: Arc::new(table),
            token_lifetime: None,
            tokens_issued: Arc::default(),
            scope: ProviderScope::new("memory", "local"),
        }
    }
    /// Plays another cloud: named `scope.cloud`, deploying to `scope` (so one spec on two
    /// memory providers keeps two states in one store, as on AWS and Azure).
    #[must_use]
    pub fn with_scope(mut self, scope: ProviderScope) -> Self {
        self.scope = scope;
        self
    }
    /// Cluster tokens expire `lifetime` after they are issued (default: never).
    #[must_use]
    pub fn with_token_lifetime(mut self, lifetime: std::time::Duration) -> Self {
        self.token_lifetime = chrono::Duration::from_std(lifetime).ok();
        self
    }
    /// Also declares `defs` (new kinds of a test's own, each handled by a [`MemoryOps`]).
    #[must_use]
    pub fn with_kinds(mut self, defs: &[KindDef]) -> Self {
        self.table = Arc::new(with_rows((*self.table).clone(), &self.cloud, defs));
        self
    }
    /// How many cluster tokens were issued.
    pub fn tokens_issued(&self) -> u64 {
        self.tokens_issued
            .load(std::sync::atomic::Ordering::Relaxed)
    }
    /// The memory cloud's Kubernetes side, to attach with
    /// [`Stack::workloads`](crate::Stack::workloads).
    pub fn workloads(&self) -> MemoryWorkloads {
        MemoryWorkloads {
            table: Arc::new(with_rows(KindTable::new(), &self.cloud, WORKLOAD_KINDS)),
        }
    }
    /// The cloud.
    pub fn cloud(&self) -> &Arc<MemoryCloud> {
        &self.cloud
    }
}

/// The memory cloud's Kubernetes side: the kinds of [`WORKLOAD_KINDS`], each handled by a
/// [`MemoryOps`]. Made by [`InMemoryProvider::workloads`].
#[derive(Debug, Clone)]
pub struct MemoryWorkloads {
    table: Arc<KindTable>,
}

impl WorkloadOps for MemoryWorkloads {
    fn kind_table(&self) -> &KindTable {
        &self.table
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
        &self.scope.cloud
    }
    fn scope<'a>(&'a self, _spec: &'a StackSpec) -> crate::provider::ScopeFuture<'a> {
        Box::pin(std::future::ready(Ok(self.scope.clone())))
    }
    fn kind_table(&self) -> &KindTable {
        &self.table
    }
    fn naming_rules(&self) -> &dyn NamingRules {
        &MemoryNaming
    }
    fn expand(&self, spec: &StackSpec) -> Result<ResourceGraph, crate::expand::ExpandError> {
        expand(spec)
    }
    fn cluster(&self) -> &dyn ClusterOps {
        self
    }
    fn registry(&self) -> &dyn Registry {
        self
    }
    fn secrets(&self) -> &dyn SecretBackend {
        self
    }
}

/// The typed outputs of a memory resource (the neutral output types for neutral kinds).
fn outputs_for(ctx: &OpContext<'_>, cloud: &MemoryCloud) -> Result<Outputs, ProviderError> {
    let r = ctx.resource;
    let name = r.name.as_str();
    let id = format!("mem-{}", r.id);
    let text = |key: &str, default: &str| config_text(ctx, key, default);
    match r.kind {
        ResourceKind::CLUSTER => Outputs::of(&ClusterOutputs {
            id,
            name: name.into(),
            endpoint: format!("https://{name}.eks.memory.local"),
            ca_data: "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t".into(),
            oidc_issuer: Some(format!("https://oidc.memory.local/id/{name}")),
        }),
        ResourceKind::DATABASE => database_outputs(ctx, cloud, id),
        ResourceKind::CACHE => Outputs::of(&CacheOutputs {
            id,
            host: format!("{name}.cache.memory.local"),
            port: 6379,
            tls: false,
        }),
        ResourceKind::REGISTRY => Outputs::of(&RegistryOutputs {
            id,
            name: name.into(),
            url: format!("registry.memory.local/{name}"),
        }),
        ResourceKind::SECRET => secret_outputs(ctx, cloud),
        ResourceKind::WORKLOAD_IDENTITY => Outputs::of(&IdentityOutputs {
            identity: format!("memory:role/{name}"),
            id,
            subject: Some(format!(
                "system:serviceaccount:{}:{}",
                text("namespace", ""),
                text("service_account", "")
            )),
        }),
        ResourceKind::SERVICE => Outputs::of(&ServiceOutputs {
            host: Some(format!("{name}.lb.memory.local")),
            port: r
                .config
                .get("port")
                .and_then(Value::as_u64)
                .and_then(|p| u16::try_from(p).ok())
                .or(Some(80)),
        }),
        _ => Outputs::of(&NodePoolOutputs {
            id,
            name: name.into(),
        }),
    }
}

/// A text field of the resource's config, or `default`.
fn config_text(ctx: &OpContext<'_>, key: &str, default: &str) -> String {
    ctx.resource
        .config
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or(default)
        .to_string()
}

/// A memory database: its master password goes to the memory secret store, as a cloud's
/// database keeps it in the cloud's.
fn database_outputs(
    ctx: &OpContext<'_>,
    cloud: &MemoryCloud,
    id: String,
) -> Result<Outputs, ProviderError> {
    let name = ctx.resource.name.as_str();
    let secret_name = format!("{name}/master-password");
    cloud
        .lock()
        .secrets
        .insert(secret_name.clone(), SecretString::generate(32));
    Outputs::of(&DatabaseOutputs {
        id,
        host: format!("{name}.db.memory.local"),
        port: 5432,
        database: config_text(ctx, "database_name", "app"),
        username: config_text(ctx, "username", "app_admin"),
        password_secret: secret_name,
    })
}

/// A memory secret: a generated value of the configured length in the memory secret store.
fn secret_outputs(ctx: &OpContext<'_>, cloud: &MemoryCloud) -> Result<Outputs, ProviderError> {
    let r = ctx.resource;
    let name = r.name.as_str();
    let length = r
        .config
        .pointer("/source/generated/length")
        .and_then(Value::as_u64)
        .unwrap_or(32);
    cloud
        .lock()
        .secrets
        .insert(name.to_string(), SecretString::generate(length as usize));
    Outputs::of(&SecretOutputs {
        id: format!("memory:secret:{name}"),
        name: name.into(),
        version: Some("v1".into()),
    })
}

/// The settings of `m` edited behind the engine's back that differ from `desired`.
fn drift_of(desired: &Value, m: &MemResource) -> Option<Drift> {
    Drift::of(m.edits.iter().filter_map(|(pointer, live)| {
        let want = desired.pointer(pointer)?;
        (want != live)
            .then(|| FieldDrift::changed(pointer_path(pointer), render(want), render(live)))
    }))
}

#[async_trait]
impl ResourceOps for MemoryOps {
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
                drift: drift_of(&r.config, m),
                expires_at: m.expires_at,
                unhealthy: None,
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
        // They are of the same stack instance (another environment has the same ids).
        let instance = super::cluster::of(&r.tags);
        let same_instance = |m: &MemResource| super::cluster::of(&m.tags) == instance;
        let mut dep_keys = Vec::new();
        for d in &r.depends_on {
            let dep = i
                .resources
                .values()
                .find(|m| &m.id == d && m.deleting_until.is_none() && same_instance(m));
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
        let outputs = outputs_for(ctx, &self.cloud)?;
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
                expires_at: None,
                key: k.clone(),
                edits: BTreeMap::new(),
            },
        );
        *i.creations.entry(k).or_default() += 1;
        i.active += 1;
        i.max_active = i.max_active.max(i.active);
        Ok(outputs)
    }

    fn supports_update(&self) -> bool {
        self.kind != super::kinds::VPC
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
        m.edits.clear();
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
                retry_after: self.cloud.latencies.retry_after.then(|| m.ready_at - now),
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
        if let Some(left) = i.left_behind(&k) {
            return Err(left);
        }
        let users = i.blocking_users(&k, r.kind);
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
                retry_after: self.cloud.latencies.retry_after.then(|| t - now),
            }),
            _ => {
                if let Some(gone) = i.resources.remove(&k)
                    && r.kind == ResourceKind::CLUSTER
                {
                    i.remove_contents(&gone);
                }
                if r.kind == ResourceKind::SECRET {
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
        let c: ClusterOutputs =
            cluster.read(&crate::resource::ResourceId::single(ResourceKind::CLUSTER))?;
        self.tokens_issued
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let expires_at = self.token_lifetime.map(|l| chrono::Utc::now() + l);
        Ok(ClusterCredentials::bearer(
            c.endpoint,
            c.ca_data,
            SecretString::generate(40),
            expires_at,
        ))
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
