//! Shared setup: a stack on the memory cloud whose app goes onto the real local control plane.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service, ServiceAccount};
use kube::api::{Api, ListParams};
use kube::{Client, Resource, ResourceExt};
use multicloud_core::spec::{
    App, Cluster, Network, NodePool, RegistrySpec, SecretSpec, StackSpec, WorkloadIdentity,
};
use multicloud_core::state::LocalStateStore;
use multicloud_core::testing::{InMemoryProvider, Latencies, MemoryCloud};
use multicloud_core::{ApplyOptions, Stack};
use multicloud_k8s::KubernetesWorkloads;
use multicloud_k8s::testing::ControlPlane;
use serde::de::DeserializeOwned;

/// The shared plane of this test binary; fails the test loudly when it cannot start.
pub fn plane() -> &'static ControlPlane {
    match ControlPlane::shared() {
        Ok(p) => p,
        Err(e) => panic!("the local Kubernetes control plane must start: {e}"),
    }
}

/// A stack `name` (environment `test`): network, cluster, registry `web`, secret `api-key`,
/// a workload identity for `<name>/web`, and `app`.
pub fn spec(name: &str, app: App) -> StackSpec {
    builder(name, app).build().expect("a valid spec")
}

/// The builder behind [`spec`], to add more.
pub fn builder(name: &str, app: App) -> multicloud_core::spec::StackSpecBuilder {
    StackSpec::builder(name)
        .environment("test")
        .region("us-east-1")
        .network(Network::default())
        .cluster(Cluster::new("1.31").node_pool(NodePool::new("general", "t3.medium", 1, 3)))
        .registry(RegistrySpec::new("web"))
        .secret(SecretSpec::generated("api-key", 24))
        .workload_identity(WorkloadIdentity::new(name, "web").can_read_secret("api-key"))
        .app(app)
        .ttl(Duration::from_secs(4 * 3600))
}

/// The app every test starts from: registry image, env, a secret, resources and a probe.
pub fn web_app() -> App {
    App::new("web")
        .image_from_registry("web", "v1")
        .port(8080)
        .env("MODE", "test")
        .env_from_secret("API_KEY", "api-key")
        .resources("100m", "64Mi")
        .health_path("/healthz")
}

/// One environment: the memory cloud and the state directory, shared by the stacks a test
/// builds (as successive runs of a user's program would).
pub struct Env {
    pub cloud: Arc<MemoryCloud>,
    pub state: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Self {
        Self {
            cloud: MemoryCloud::new(Latencies::zero()),
            state: tempfile::tempdir().expect("state dir"),
        }
    }

    /// A stack of `spec` with the app on the plane: the one line more is `.workloads(..)`,
    /// and `.cluster_access(..)` points it at the local plane.
    pub fn stack(&self, spec: StackSpec) -> Stack {
        self.stack_with(spec, KubernetesWorkloads::new())
    }

    /// Like [`Env::stack`] with a configured workloads backend.
    pub fn stack_with(&self, spec: StackSpec, workloads: KubernetesWorkloads) -> Stack {
        self.stack_on(spec, workloads, plane())
    }

    /// Like [`Env::stack_with`] on another plane than the shared one.
    pub fn stack_on(
        &self,
        spec: StackSpec,
        workloads: KubernetesWorkloads,
        plane: &ControlPlane,
    ) -> Stack {
        Stack::new(spec, InMemoryProvider::new(self.cloud.clone()))
            .workloads(workloads)
            // Through a kubeconfig, as a user pointing a stack at their own cluster would.
            .cluster_access(
                multicloud_k8s::credentials_from_kubeconfig(plane.kubeconfig().expose())
                    .expect("the plane's kubeconfig"),
            )
            .state(LocalStateStore::new(self.state.path()))
    }

    /// Like [`Env::stack`] with a wait timeout for one kind.
    pub fn stack_with_timeout(
        &self,
        spec: StackSpec,
        kind: multicloud_core::resource::ResourceKind,
        timeout: Duration,
    ) -> Stack {
        let mut options = ApplyOptions::default();
        options.timeouts.insert(kind, timeout);
        self.stack(spec).options(options)
    }
}

pub async fn client() -> Client {
    plane().client().await.expect("a client for the plane")
}

/// `kind/name → resourceVersion` of every object labelled with stack `stack` in `ns`.
pub async fn versions(client: &Client, ns: &str, stack: &str) -> BTreeMap<String, String> {
    let lp = ListParams::default().labels(&format!("multicloud.dev/stack={stack}"));
    let mut out = BTreeMap::new();
    async fn add<K>(out: &mut BTreeMap<String, String>, api: Api<K>, lp: &ListParams, kind: &str)
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
    {
        for o in api.list(lp).await.expect("list").items {
            out.insert(
                format!("{kind}/{}", o.name_any()),
                o.resource_version().unwrap_or_default(),
            );
        }
    }
    add::<Namespace>(&mut out, Api::all(client.clone()), &lp, "namespace").await;
    add::<Secret>(&mut out, Api::namespaced(client.clone(), ns), &lp, "secret").await;
    add::<ServiceAccount>(&mut out, Api::namespaced(client.clone(), ns), &lp, "sa").await;
    add::<Deployment>(
        &mut out,
        Api::namespaced(client.clone(), ns),
        &lp,
        "deployment",
    )
    .await;
    add::<Service>(
        &mut out,
        Api::namespaced(client.clone(), ns),
        &lp,
        "service",
    )
    .await;
    add::<ConfigMap>(
        &mut out,
        Api::namespaced(client.clone(), ns),
        &lp,
        "configmap",
    )
    .await;
    out
}
