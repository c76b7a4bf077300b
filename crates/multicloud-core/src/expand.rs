//! Expansion helpers shared by providers: the Kubernetes side of the stack (namespaces,
//! pull secrets, service accounts, synced secrets, deployments, services), which is the same
//! on every cloud, with the typed configs of those kinds (what a workload backend reads with
//! [`OpContext::config`](crate::provider::OpContext::config)).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::resource::{Resource, ResourceGraph, ResourceId, ResourceKind};
use crate::spec::{EnvFromSecret, Expose, ImageRef, StackSpec};
use crate::tags::{NameStyle, Naming};

/// Ids of the cloud resources the workloads hang off.
#[derive(Debug, Clone, Default)]
pub struct WorkloadAnchors {
    /// What must exist before anything is put on the cluster (the node pools, or the cluster).
    pub cluster_ready: Vec<ResourceId>,
}

/// Config of [`ResourceKind::NAMESPACE`] and [`ResourceKind::PULL_SECRET`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamespaceConfig {
    /// The namespace.
    pub namespace: String,
}

/// Config of [`ResourceKind::SERVICE_ACCOUNT`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceAccountConfig {
    /// Its namespace.
    pub namespace: String,
    /// The workload identity it is annotated with (a dependency), if one is declared.
    pub identity: Option<ResourceId>,
}

/// Config of [`ResourceKind::SYNCED_SECRET`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncedSecretConfig {
    /// Its namespace.
    pub namespace: String,
    /// The spec secret it copies (the `secret/<name>` dependency).
    pub secret: String,
}

/// Config of [`ResourceKind::DEPLOYMENT`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentConfig {
    /// Its namespace.
    pub namespace: String,
    /// The service account its pods run as.
    pub service_account: String,
    /// The image.
    pub image: ImageRef,
    /// Container port.
    pub port: u16,
    /// Replicas.
    pub replicas: u32,
    /// Plain environment variables.
    pub env: BTreeMap<String, String>,
    /// Environment variables from synced secrets.
    pub env_from_secrets: Vec<EnvFromSecret>,
}

/// Config of [`ResourceKind::SERVICE`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// Its namespace.
    pub namespace: String,
    /// Port.
    pub port: u16,
    /// How it is exposed.
    pub expose: Expose,
}

/// Adds the app resources of `spec` to `graph`:
/// `namespace/<ns>` → `pull_secret/<ns>` and `service_account/<ns>.<sa>` (annotated with the
/// workload identity when one is declared for it) → `synced_secret/<ns>.<secret>` →
/// `deployment/<app>` → `service/<app>`.
pub fn workloads(
    spec: &StackSpec,
    graph: &mut ResourceGraph,
    anchors: &WorkloadAnchors,
) -> Result<(), crate::Error> {
    let naming = Naming::new(&spec.name, &spec.environment);
    let label = NameStyle::hyphenated(63);
    for app in &spec.apps {
        let ns = app.namespace_or(&spec.name).to_string();
        let ns_id = ResourceId::new(ResourceKind::NAMESPACE, &ns);
        if graph.get(&ns_id).is_none() {
            graph.add(
                Resource::new(ResourceKind::NAMESPACE, &ns, &ns)
                    .depends_on_all(&anchors.cluster_ready)
                    .with_config(&NamespaceConfig {
                        namespace: ns.clone(),
                    })?,
            )?;
        }
        let mut deployment_deps = vec![ns_id.clone()];

        let registries: Vec<&str> = match &app.image {
            ImageRef::Registry { registry, .. } => vec![registry.as_str()],
            ImageRef::External { .. } => vec![],
        };
        if !registries.is_empty() {
            let pull_id = ResourceId::new(ResourceKind::PULL_SECRET, &ns);
            if graph.get(&pull_id).is_none() {
                let regs: Vec<ResourceId> = spec
                    .registries
                    .iter()
                    .map(|r| ResourceId::new(ResourceKind::REGISTRY, &r.name))
                    .collect();
                graph.add(
                    Resource::new(
                        ResourceKind::PULL_SECRET,
                        &ns,
                        naming.name("registry", label),
                    )
                    .depends_on(&ns_id)
                    .depends_on_all(&regs)
                    .with_config(&NamespaceConfig {
                        namespace: ns.clone(),
                    })?,
                )?;
            }
            deployment_deps.push(pull_id);
        }

        let sa = app.service_account_name().to_string();
        let sa_key = format!("{ns}.{sa}");
        let sa_id = ResourceId::new(ResourceKind::SERVICE_ACCOUNT, &sa_key);
        if graph.get(&sa_id).is_none() {
            let identity = spec
                .workload_identities
                .iter()
                .find(|w| w.namespace == ns && w.service_account == sa)
                .map(|w| ResourceId::new(ResourceKind::WORKLOAD_IDENTITY, w.key()));
            let mut r = Resource::new(ResourceKind::SERVICE_ACCOUNT, &sa_key, &sa)
                .depends_on(&ns_id)
                .with_config(&ServiceAccountConfig {
                    namespace: ns.clone(),
                    identity: identity.clone(),
                })?;
            if let Some(identity) = &identity {
                r = r.depends_on(identity);
            }
            graph.add(r)?;
        }
        deployment_deps.push(sa_id);

        for env in &app.env_from_secrets {
            let key = format!("{ns}.{}", env.secret);
            let synced = ResourceId::new(ResourceKind::SYNCED_SECRET, &key);
            if graph.get(&synced).is_none() {
                graph.add(
                    Resource::new(ResourceKind::SYNCED_SECRET, &key, &env.secret)
                        .depends_on(&ns_id)
                        .depends_on(&ResourceId::new(ResourceKind::SECRET, &env.secret))
                        .with_config(&SyncedSecretConfig {
                            namespace: ns.clone(),
                            secret: env.secret.clone(),
                        })?,
                )?;
            }
            if !deployment_deps.contains(&synced) {
                deployment_deps.push(synced);
            }
        }

        let deployment = Resource::new(ResourceKind::DEPLOYMENT, &app.name, &app.name)
            .depends_on_all(&deployment_deps)
            .with_config(&DeploymentConfig {
                namespace: ns.clone(),
                service_account: sa,
                image: app.image.clone(),
                port: app.port,
                replicas: app.replicas,
                env: app.env.clone(),
                env_from_secrets: app.env_from_secrets.clone(),
            })?;
        let dep_id = deployment.id.clone();
        graph.add(deployment)?;
        graph.add(
            Resource::new(ResourceKind::SERVICE, &app.name, &app.name)
                .depends_on(&dep_id)
                .with_config(&ServiceConfig {
                    namespace: ns,
                    port: app.port,
                    expose: app.expose,
                })?,
        )?;
    }
    Ok(())
}
