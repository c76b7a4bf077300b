//! Expansion helpers shared by providers: the Kubernetes side of the stack (namespaces,
//! pull secrets, service accounts, synced secrets, deployments, services), which is the same
//! on every cloud.

use serde_json::json;

use crate::resource::{Resource, ResourceGraph, ResourceId, ResourceKind};
use crate::spec::{ImageRef, StackSpec};
use crate::tags::{NameStyle, Naming};

/// Ids of the cloud resources the workloads hang off.
#[derive(Debug, Clone, Default)]
pub struct WorkloadAnchors {
    /// What must exist before anything is put on the cluster (the node pools, or the cluster).
    pub cluster_ready: Vec<ResourceId>,
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
        let ns_id = ResourceId::new(ResourceKind::Namespace, &ns);
        if graph.get(&ns_id).is_none() {
            graph.add(
                Resource::new(ResourceKind::Namespace, &ns, &ns)
                    .depends_on_all(&anchors.cluster_ready)
                    .config(json!({ "namespace": ns })),
            )?;
        }
        let mut deployment_deps = vec![ns_id.clone()];

        let registries: Vec<&str> = match &app.image {
            ImageRef::Registry { registry, .. } => vec![registry.as_str()],
            ImageRef::External { .. } => vec![],
        };
        if !registries.is_empty() {
            let pull_id = ResourceId::new(ResourceKind::PullSecret, &ns);
            if graph.get(&pull_id).is_none() {
                let regs: Vec<ResourceId> = spec
                    .registries
                    .iter()
                    .map(|r| ResourceId::new(ResourceKind::Registry, &r.name))
                    .collect();
                graph.add(
                    Resource::new(
                        ResourceKind::PullSecret,
                        &ns,
                        naming.name("registry", label),
                    )
                    .depends_on(&ns_id)
                    .depends_on_all(&regs)
                    .config(json!({ "namespace": ns })),
                )?;
            }
            deployment_deps.push(pull_id);
        }

        let sa = app.service_account_name().to_string();
        let sa_key = format!("{ns}.{sa}");
        let sa_id = ResourceId::new(ResourceKind::ServiceAccount, &sa_key);
        if graph.get(&sa_id).is_none() {
            let identity = spec
                .workload_identities
                .iter()
                .find(|w| w.namespace == ns && w.service_account == sa)
                .map(|w| ResourceId::new(ResourceKind::WorkloadIdentity, w.key()));
            let mut r = Resource::new(ResourceKind::ServiceAccount, &sa_key, &sa)
                .depends_on(&ns_id)
                .config(json!({ "namespace": ns, "identity": identity }));
            if let Some(identity) = &identity {
                r = r.depends_on(identity);
            }
            graph.add(r)?;
        }
        deployment_deps.push(sa_id);

        for env in &app.env_from_secrets {
            let key = format!("{ns}.{}", env.secret);
            let synced = ResourceId::new(ResourceKind::SyncedSecret, &key);
            if graph.get(&synced).is_none() {
                graph.add(
                    Resource::new(ResourceKind::SyncedSecret, &key, &env.secret)
                        .depends_on(&ns_id)
                        .depends_on(&ResourceId::new(ResourceKind::Secret, &env.secret))
                        .config(json!({ "namespace": ns, "secret": env.secret })),
                )?;
            }
            if !deployment_deps.contains(&synced) {
                deployment_deps.push(synced);
            }
        }

        let deployment = Resource::new(ResourceKind::Deployment, &app.name, &app.name)
            .depends_on_all(&deployment_deps)
            .config(json!({
                "namespace": ns,
                "service_account": sa,
                "image": app.image,
                "port": app.port,
                "replicas": app.replicas,
                "env": app.env,
                "env_from_secrets": app.env_from_secrets,
            }));
        let dep_id = deployment.id.clone();
        graph.add(deployment)?;
        graph.add(
            Resource::new(ResourceKind::Service, &app.name, &app.name)
                .depends_on(&dep_id)
                .config(json!({ "namespace": ns, "port": app.port, "expose": app.expose })),
        )?;
    }
    Ok(())
}
