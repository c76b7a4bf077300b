//! [`InMemoryProvider`]: the provider traits on a [`MemoryCloud`].

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::{MemResource, MemoryCloud, Op, expand, res_key};
use crate::error::{ErrorKind, ProviderError};
use crate::provider::{
    CacheOps, CloudProvider, ClusterCredentials, ClusterOps, DatabaseOps, IdentityOps, NetworkOps,
    Observation, Observed, OpContext, Outputs, Readiness, Registry, RegistryCredentials,
    ResourceOps, SecretBackend, SecretRef, WorkloadOps,
};
use crate::resource::{ResourceGraph, ResourceKind};
use crate::secret::SecretString;
use crate::spec::{NamingRules, StackSpec, ValidationError};

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
