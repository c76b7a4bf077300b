//! Expansion helpers shared by providers: the Kubernetes side of the stack (namespaces,
//! pull secrets, service accounts, synced secrets, deployments, services), which is the same
//! on every cloud, with the typed configs of those kinds (what a workload backend reads with
//! [`OpContext::config`](crate::provider::OpContext::config)).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::ProviderError;
use crate::resource::{GraphError, Resource, ResourceGraph, ResourceId, ResourceKind};
use crate::spec::{
    App, AppResources, Connection, EnvFromSecret, Expose, ImageRef, Rule, SpecErrors, StackSpec,
    ValidationError,
};
use crate::tags::{NameStyle, Naming};

/// Why a spec could not be expanded into a provider's graph (what
/// [`CloudProvider::expand`](crate::provider::CloudProvider::expand) returns).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExpandError {
    /// The spec is invalid for this provider (a value it needs is missing or wrong).
    #[error("{0}")]
    Spec(#[from] SpecErrors),
    /// The expansion built an invalid graph (a provider bug).
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// A resource's config could not be attached.
    #[error(transparent)]
    Config(#[from] ProviderError),
}

/// Ids of the cloud resources the workloads hang off.
#[derive(Debug, Clone, Default)]
pub struct WorkloadAnchors {
    /// What must exist before anything is put on the cluster (the node pools, or the cluster).
    pub cluster_ready: Vec<ResourceId>,
    /// What an app connecting to the database reads, if the stack has one.
    pub database: Option<ServiceAnchor>,
    /// What an app connecting to the cache reads, if the stack has one.
    pub cache: Option<ServiceAnchor>,
}

/// A data service apps connect to: the resource whose outputs say where it is
/// ([`DatabaseOutputs`](crate::outputs::DatabaseOutputs),
/// [`CacheOutputs`](crate::outputs::CacheOutputs)) and the secret holding its credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAnchor {
    /// `database/main`, `cache/main`.
    pub resource: ResourceId,
    /// The `secret` node holding its password or access key, if it has one.
    pub credential: Option<ResourceId>,
}

impl ServiceAnchor {
    /// The neutral resource of `service` (`database/main`, `cache/main`) without a
    /// credential node, if `spec` declares the service: the default of
    /// [`CloudProvider::data_service`](crate::provider::CloudProvider::data_service).
    pub fn neutral(spec: &StackSpec, service: Connection) -> Option<Self> {
        let (declared, kind) = match service {
            Connection::Database => (spec.database.is_some(), ResourceKind::DATABASE),
            Connection::Cache => (spec.cache.is_some(), ResourceKind::CACHE),
        };
        declared.then(|| Self {
            resource: ResourceId::single(kind),
            credential: None,
        })
    }

    /// The same service with its credential in the `secret` node `credential`.
    #[must_use]
    pub fn with_credential(mut self, credential: ResourceId) -> Self {
        self.credential = Some(credential);
        self
    }
}

impl WorkloadAnchors {
    /// The anchor of `service`.
    pub fn service(&self, service: Connection) -> Option<&ServiceAnchor> {
        match service {
            Connection::Database => self.database.as_ref(),
            Connection::Cache => self.cache.as_ref(),
        }
    }
}

/// Config of a read-only node for something that exists outside the stack (an existing
/// cluster, see [`ExistingCluster`](crate::spec::ExistingCluster)): the id it was named by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExistingConfig {
    /// The cloud id (an EKS cluster name, an AKS cluster's ARM id).
    pub existing: String,
}

/// Config of [`ResourceKind::CONNECTION`]: the Kubernetes Secret holding an app's connection
/// to a data service (its variables, [`crate::connect`]), and what a Deployment reads of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionConfig {
    /// Its namespace.
    pub namespace: String,
    /// The Secret's name (the resource's name).
    pub name: String,
    /// What it connects to.
    pub service: Connection,
    /// The service's resource (a dependency).
    pub target: ResourceId,
    /// The secret holding the service's credential (a dependency), if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<ResourceId>,
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
    /// The service account in the namespace whose workload identity may read the secret,
    /// if one is declared (what an External Secrets Operator store authenticates as).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
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
    /// CPU and memory of the container.
    pub resources: Option<AppResources>,
    /// HTTP path of the readiness and liveness probes.
    pub health_path: Option<String>,
    /// The connections whose variables it takes (`envFrom` their Secrets).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub connections: Vec<ConnectionConfig>,
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

/// Config of [`ResourceKind::MANIFEST`]: the user's objects, parsed and checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestConfig {
    /// Namespace of namespaced objects that name none.
    pub namespace: String,
    /// The objects (JSON), in the order given; deleted in reverse.
    pub objects: Vec<serde_json::Value>,
}

/// Adds the app resources of `spec` ([`workloads`]) when it declares apps, hung off
/// `cluster_ready` (else the cluster, when the spec declares one: an attached cluster is not
/// part of the graph, there is nothing to wait for) and off the data services as
/// `data_service` (a provider's
/// [`CloudProvider::data_service`](crate::provider::CloudProvider::data_service)) locates
/// them.
pub fn apps(
    spec: &StackSpec,
    graph: &mut ResourceGraph,
    mut cluster_ready: Vec<ResourceId>,
    data_service: impl Fn(&StackSpec, Connection) -> Option<ServiceAnchor>,
) -> Result<(), ExpandError> {
    if spec.apps.is_empty() {
        return Ok(());
    }
    if cluster_ready.is_empty() && spec.cluster.is_some() {
        cluster_ready.push(ResourceId::single(ResourceKind::CLUSTER));
    }
    let anchors = WorkloadAnchors {
        cluster_ready,
        database: data_service(spec, Connection::Database),
        cache: data_service(spec, Connection::Cache),
    };
    workloads(spec, graph, &anchors)
}

/// Adds the app resources of `spec` to `graph`:
/// `namespace/<ns>` → `pull_secret/<ns>` and `service_account/<ns>.<sa>` (annotated with the
/// workload identity when one is declared for it) → `synced_secret/<ns>.<secret>` →
/// `deployment/<app>` → `service/<app>`.
pub fn workloads(
    spec: &StackSpec,
    graph: &mut ResourceGraph,
    anchors: &WorkloadAnchors,
) -> Result<(), ExpandError> {
    for app in &spec.apps {
        let ns = app.namespace_or(&spec.name).to_string();
        let ns_id = ResourceId::new(ResourceKind::NAMESPACE, &ns);
        let mut deps = vec![add_once(graph, ns_id, || namespace(&ns, anchors))?];
        if matches!(app.image, ImageRef::Registry { .. }) {
            let id = ResourceId::new(ResourceKind::PULL_SECRET, &ns);
            deps.push(add_once(graph, id, || pull_secret(spec, &ns))?);
        }
        let sa = ResourceId::new(
            ResourceKind::SERVICE_ACCOUNT,
            format!("{ns}.{}", app.service_account_name()),
        );
        deps.push(add_once(graph, sa, || service_account(spec, &ns, app))?);
        for env in &app.env_from_secrets {
            let id = ResourceId::new(ResourceKind::SYNCED_SECRET, format!("{ns}.{}", env.secret));
            let synced = add_once(graph, id, || synced_secret(spec, &ns, &env.secret))?;
            if !deps.contains(&synced) {
                deps.push(synced);
            }
        }
        let connections = connections(spec, app, &ns, graph, anchors)?;
        // The secrets themselves too (and the connections' services and credentials): their
        // versions are in the pod template, so a rotated secret rolls the app out in the same
        // `up` that syncs it.
        let mut secrets: Vec<ResourceId> = app
            .env_from_secrets
            .iter()
            .map(|e| ResourceId::new(ResourceKind::SECRET, &e.secret))
            .collect();
        for c in &connections {
            deps.push(ResourceId::new(
                ResourceKind::CONNECTION,
                format!("{ns}.{}", c.service),
            ));
            secrets.push(c.target.clone());
            secrets.extend(c.credential.clone());
        }
        let deployment = Resource::new(ResourceKind::DEPLOYMENT, &app.name, &app.name)
            .depends_on_all(&deps)
            .depends_on_all(&secrets)
            .with_config(&DeploymentConfig {
                namespace: ns.clone(),
                service_account: app.service_account_name().to_string(),
                image: app.image.clone(),
                port: app.port,
                replicas: app.replicas,
                env: app.env.clone(),
                env_from_secrets: app.env_from_secrets.clone(),
                resources: app.resources.clone(),
                health_path: app.health_path.clone(),
                connections,
            })?;
        let dep_id = graph.add(deployment)?.clone();
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
    manifests(spec, graph, anchors)
}

/// `connection/<ns>.<service>` per data service `app` connects to (shared by the apps of a
/// namespace): the Secret `<stack>-<service>`, after the namespace, the service and its
/// credential. Their configs, for the Deployment.
fn connections(
    spec: &StackSpec,
    app: &App,
    ns: &str,
    graph: &mut ResourceGraph,
    anchors: &WorkloadAnchors,
) -> Result<Vec<ConnectionConfig>, ExpandError> {
    let mut configs = Vec::new();
    for (j, &service) in app.connect.iter().enumerate() {
        let Some(anchor) = anchors.service(service) else {
            let i = spec
                .apps
                .iter()
                .position(|a| a.name == app.name)
                .unwrap_or(0);
            return Err(ExpandError::Spec(SpecErrors::new(vec![
                ValidationError::new(
                    format!("spec.apps[{i}].connect[{j}]"),
                    Rule::UnknownReference,
                    format!(
                        "this stack has no {service} for app `{}` to connect to",
                        app.name
                    ),
                ),
            ])));
        };
        let config = ConnectionConfig {
            namespace: ns.to_string(),
            name: format!("{}-{service}", spec.name),
            service,
            target: anchor.resource.clone(),
            credential: anchor.credential.clone(),
        };
        let id = ResourceId::new(ResourceKind::CONNECTION, format!("{ns}.{service}"));
        add_once(graph, id, || {
            Resource::new(
                ResourceKind::CONNECTION,
                format!("{ns}.{service}"),
                &config.name,
            )
            .depends_on(&ResourceId::new(ResourceKind::NAMESPACE, ns))
            .depends_on(&config.target)
            .depends_on_all(config.credential.iter())
            .with_config(&config)
        })?;
        configs.push(config);
    }
    Ok(configs)
}

/// `manifest/<name>` per set of the user's manifests, after the cluster is ready (and after
/// the app namespace of the same name, when there is one).
fn manifests(
    spec: &StackSpec,
    graph: &mut ResourceGraph,
    anchors: &WorkloadAnchors,
) -> Result<(), ExpandError> {
    for (i, m) in spec.manifests.iter().enumerate() {
        let namespace = m.namespace_or(&spec.name).to_string();
        let objects = m.documents().map_err(|e| {
            ExpandError::Spec(SpecErrors::new(vec![ValidationError::new(
                format!("spec.manifests[{i}].yaml"),
                Rule::Format,
                e,
            )]))
        })?;
        let ns_id = ResourceId::new(ResourceKind::NAMESPACE, &namespace);
        let ns_dep = graph.get(&ns_id).is_some().then_some(ns_id);
        graph.add(
            Resource::new(ResourceKind::MANIFEST, &m.name, &m.name)
                .depends_on_all(&anchors.cluster_ready)
                .depends_on_all(ns_dep.iter())
                .with_config(&ManifestConfig { namespace, objects })?,
        )?;
    }
    Ok(())
}

/// Adds the resource `build` makes unless one with `id` is there already (apps share
/// namespaces, pull secrets, service accounts and synced secrets); returns `id`.
fn add_once(
    graph: &mut ResourceGraph,
    id: ResourceId,
    build: impl FnOnce() -> Result<Resource, ProviderError>,
) -> Result<ResourceId, ExpandError> {
    if graph.get(&id).is_none() {
        let r = build()?;
        debug_assert_eq!(r.id, id);
        graph.add(r)?;
    }
    Ok(id)
}

/// `namespace/<ns>`, after what must exist before anything is put on the cluster.
fn namespace(ns: &str, anchors: &WorkloadAnchors) -> Result<Resource, ProviderError> {
    Resource::new(ResourceKind::NAMESPACE, ns, ns)
        .depends_on_all(&anchors.cluster_ready)
        .with_config(&NamespaceConfig {
            namespace: ns.to_string(),
        })
}

/// `pull_secret/<ns>`: credentials for every registry of the stack.
fn pull_secret(spec: &StackSpec, ns: &str) -> Result<Resource, ProviderError> {
    let naming = Naming::new(&spec.name, &spec.environment);
    let registries: Vec<ResourceId> = spec
        .registries
        .iter()
        .map(|r| ResourceId::new(ResourceKind::REGISTRY, &r.name))
        .collect();
    Resource::new(
        ResourceKind::PULL_SECRET,
        ns,
        naming.name("registry", NameStyle::hyphenated(63)),
    )
    .depends_on(&ResourceId::new(ResourceKind::NAMESPACE, ns))
    .depends_on_all(&registries)
    .with_config(&NamespaceConfig {
        namespace: ns.to_string(),
    })
}

/// `service_account/<ns>.<sa>`, after the workload identity declared for it, if any.
fn service_account(spec: &StackSpec, ns: &str, app: &App) -> Result<Resource, ProviderError> {
    let sa = app.service_account_name();
    let identity = spec
        .workload_identities
        .iter()
        .find(|w| w.namespace == ns && w.service_account == sa)
        .map(|w| ResourceId::new(ResourceKind::WORKLOAD_IDENTITY, w.key()));
    let r = Resource::new(ResourceKind::SERVICE_ACCOUNT, format!("{ns}.{sa}"), sa)
        .depends_on(&ResourceId::new(ResourceKind::NAMESPACE, ns))
        .depends_on_all(identity.iter())
        .with_config(&ServiceAccountConfig {
            namespace: ns.to_string(),
            identity,
        })?;
    Ok(r)
}

/// `synced_secret/<ns>.<secret>`: spec secret `secret` copied into the namespace, with the
/// service account there whose workload identity may read it, if any.
fn synced_secret(spec: &StackSpec, ns: &str, secret: &str) -> Result<Resource, ProviderError> {
    let service_account = spec
        .workload_identities
        .iter()
        .find(|w| w.namespace == ns && w.read_secrets.iter().any(|s| s == secret))
        .map(|w| w.service_account.clone());
    Resource::new(
        ResourceKind::SYNCED_SECRET,
        format!("{ns}.{secret}"),
        secret,
    )
    .depends_on(&ResourceId::new(ResourceKind::NAMESPACE, ns))
    .depends_on(&ResourceId::new(ResourceKind::SECRET, secret))
    .with_config(&SyncedSecretConfig {
        namespace: ns.to_string(),
        secret: secret.to_string(),
        service_account,
    })
}
