//! The app's kinds against the real local control plane (etcd, kube-apiserver,
//! controller-manager, scheduler, kwok), through the engine: exact content, no-op re-apply,
//! an image change touching only the Deployment, rollouts, teardown waits and foreign objects.

mod support;

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service, ServiceAccount};
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams, PostParams};
use multicloud_core::Error;
use multicloud_core::down::Fate;
use multicloud_core::plan::Action;
use multicloud_core::resource::{ResourceId, ResourceKind};
use multicloud_core::spec::{App, Expose, ManifestSpec};
use multicloud_k8s::testing::LOAD_BALANCER_FINALIZER;
use serde_json::json;
use support::{Env, builder, client, spec, versions, web_app};

const OURS: [(&str, &str); 3] = [
    ("app.kubernetes.io/managed-by", "multicloud"),
    ("multicloud.dev/stack", "kinds"),
    ("multicloud.dev/env", "test"),
];

/// A finalizer of the tests' own, to hold a Service in deletion.
const HOLD: &str = "multicloud.dev/test-hold";

fn has_our_labels(labels: &std::collections::BTreeMap<String, String>) {
    for (k, v) in OURS {
        assert_eq!(
            labels.get(k).map(String::as_str),
            Some(v),
            "label {k} in {labels:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_is_exact_reapplies_nothing_updates_only_the_deployment_and_leaves_nothing() {
    let env = Env::new();
    let stack = env.stack(spec("kinds", web_app()));
    let out = stack.up().await.expect("up");
    let c = client().await;
    let ns = "kinds";

    let namespace = Api::<Namespace>::all(c.clone())
        .get(ns)
        .await
        .expect("namespace");
    has_our_labels(namespace.labels());

    // The pull secret: dockerconfigjson for the stack's registry, its value not in state.
    let secrets: Api<Secret> = Api::namespaced(c.clone(), ns);
    let pull = secrets
        .get("kinds-test-registry")
        .await
        .expect("pull secret");
    has_our_labels(pull.labels());
    assert_eq!(
        pull.type_.as_deref(),
        Some("kubernetes.io/dockerconfigjson")
    );
    let doc: serde_json::Value =
        serde_json::from_slice(&pull.data.as_ref().expect("data")[".dockerconfigjson"].0)
            .expect("json");
    let registry_url = &out.registries["web"].url;
    let auth = &doc["auths"][registry_url];
    assert_eq!(auth["username"], "memory");
    let password = auth["password"].as_str().expect("password");
    // State lives in `<stack>.<env>/<scope>.json` under the store's directory.
    let state_file = std::fs::read_dir(env.state.path())
        .expect("state dir")
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .flat_map(|d| std::fs::read_dir(d.path()).expect("stack dir"))
        .filter_map(Result::ok)
        .find(|e| e.path().extension().is_some_and(|x| x == "json"))
        .expect("a state file")
        .path();
    let state_text = std::fs::read_to_string(state_file).expect("state");
    assert!(
        !state_text.contains(password),
        "a registry password in state"
    );

    // The service account names the workload identity.
    let sa = Api::<ServiceAccount>::namespaced(c.clone(), ns)
        .get("web")
        .await
        .expect("sa");
    has_our_labels(sa.labels());
    let identity = &out.identities["kinds-web"].identity;
    assert_eq!(
        sa.annotations().get("multicloud.dev/identity"),
        Some(identity)
    );

    // The synced secret holds exactly the cloud's value.
    let synced = secrets.get("api-key").await.expect("synced secret");
    let name = &out.secrets["api-key"].name;
    let value = stack
        .provider()
        .secrets()
        .get_secret(name)
        .await
        .expect("value");
    assert_eq!(
        synced.data.as_ref().expect("data")["value"].0,
        value.expose().as_bytes()
    );
    assert!(
        !state_text.contains(value.expose()),
        "a secret value in state"
    );

    // The Deployment rolled out with the registry image, env, secret ref, resources, probes.
    let deployments: Api<Deployment> = Api::namespaced(c.clone(), ns);
    let d = deployments.get("web").await.expect("deployment");
    has_our_labels(d.labels());
    let status = d.status.as_ref().expect("status");
    assert_eq!(status.available_replicas, Some(1));
    let pod = d.spec.template.spec.as_ref().expect("pod spec");
    assert_eq!(pod.service_account_name.as_deref(), Some("web"));
    assert_eq!(
        pod.image_pull_secrets.as_ref().expect("pull")[0].name,
        "kinds-test-registry"
    );
    let container = serde_json::to_value(&pod.containers[0]).expect("json");
    assert_eq!(container["image"], format!("{registry_url}:v1"));
    assert_eq!(
        container["env"],
        json!([
            { "name": "MODE", "value": "test" },
            { "name": "API_KEY", "valueFrom": { "secretKeyRef": { "name": "api-key", "key": "value" } } },
        ])
    );
    assert_eq!(
        container["resources"],
        json!({
        "requests": { "cpu": "100m", "memory": "64Mi" }, "limits": { "memory": "64Mi" } })
    );
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/healthz");

    // The Service: ClusterIP, its address in the outputs.
    let svc = Api::<Service>::namespaced(c.clone(), ns)
        .get("web")
        .await
        .expect("service");
    has_our_labels(svc.labels());
    let cluster_ip = svc.spec.as_ref().and_then(|s| s.cluster_ip.clone());
    assert_eq!(out.services["web"].host, cluster_ip);
    assert_eq!(out.services["web"].port, Some(8080));

    // Re-applying writes nothing: a no-op plan, every resourceVersion unchanged.
    let before = versions(&c, ns, "kinds").await;
    assert_eq!(before.len(), 6, "{before:?}"); // namespace, 2 secrets, sa, deployment, service
    let again = env.stack(spec("kinds", web_app()));
    assert!(again.plan().await.expect("plan").is_noop());
    again.up().await.expect("re-up");
    assert_eq!(versions(&c, ns, "kinds").await, before);

    // State lost: every object is adopted as it is (the new expiry label is no drift, and
    // no rollout), nothing is written.
    for entry in std::fs::read_dir(env.state.path()).expect("state dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            std::fs::remove_dir_all(&path).expect("remove state");
        } else {
            std::fs::remove_file(&path).expect("remove state");
        }
    }
    let adopt = env.stack(spec("kinds", web_app()));
    let plan = adopt.plan().await.expect("plan");
    let app_kinds = multicloud_core::kind::WORKLOAD_KINDS;
    let app_actions = plan
        .actions
        .iter()
        .filter(|a| app_kinds.iter().any(|d| d.kind == a.kind));
    assert!(
        app_actions.clone().all(|a| a.action == Action::Adopt),
        "{plan}"
    );
    assert_eq!(app_actions.count(), 6);
    adopt.apply(&plan).await.expect("adopting up");
    assert_eq!(versions(&c, ns, "kinds").await, before);

    // A new image updates the Deployment and nothing else.
    let v2 = env.stack(spec("kinds", web_app().image_from_registry("web", "v2")));
    let plan = v2.plan().await.expect("plan");
    let changed: Vec<_> = plan
        .actions
        .iter()
        .filter(|a| a.action != Action::NoOp)
        .collect();
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert_eq!(
        changed[0].id,
        ResourceId::new(ResourceKind::DEPLOYMENT, "web")
    );
    v2.apply(&plan).await.expect("apply v2");
    let after = versions(&c, ns, "kinds").await;
    for (k, v) in &before {
        if k == "deployment/web" {
            assert_ne!(&after[k], v, "the deployment changed");
        } else {
            assert_eq!(&after[k], v, "{k} untouched");
        }
    }
    let d = deployments.get("web").await.expect("deployment");
    let image = d.spec.template.spec.map(|p| p.containers[0].image.clone());
    assert_eq!(image.flatten(), Some(format!("{registry_url}:v2")));

    // Down: nothing with our labels is left, the namespace is gone.
    v2.down().await.expect("down");
    assert!(versions(&c, ns, "kinds").await.is_empty());
    assert!(
        Api::<Namespace>::all(c)
            .get_opt(ns)
            .await
            .expect("get")
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_that_cannot_schedule_times_out_naming_the_deployment_and_condition() {
    let env = Env::new();
    // 64 CPUs: more than the kwok node has, so the pod stays Pending.
    let app = web_app().resources("64", "64Mi");
    let stack = env.stack_with_timeout(
        spec("stuck", app),
        ResourceKind::DEPLOYMENT,
        Duration::from_secs(4),
    );
    let err = stack.up().await.expect_err("cannot roll out");
    let Error::Apply { failures, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(failures.len(), 1, "{err}");
    assert_eq!(
        failures[0].id,
        ResourceId::new(ResourceKind::DEPLOYMENT, "web")
    );
    let message = failures[0].error.message();
    assert!(message.contains("deployment stuck/web"), "{message}");
    assert!(
        message.contains("Available=False (MinimumReplicasUnavailable"),
        "{message}"
    );
    stack.down().await.expect("down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_balancer_service_is_awaited_until_its_finalizer_clears() {
    let env = Env::new();
    let stack = env.stack(spec("lb", web_app().expose(Expose::LoadBalancer)));
    let c = client().await;
    let services: Api<Service> = Api::namespaced(c.clone(), "lb");
    // The plane's load-balancer controller plays the cloud: an address and its finalizer.
    let out = stack.up().await.expect("up");
    let host = out.services["web"].host.clone().expect("an address");
    assert!(host.starts_with("127.0.0."), "{host}");
    let live = services.get("web").await.expect("service");
    assert!(
        live.finalizers()
            .iter()
            .any(|f| f == LOAD_BALANCER_FINALIZER),
        "{:?}",
        live.finalizers()
    );
    // A slow cloud: a finalizer of the test's own holds the Service after the controller's.
    let pp = PatchParams::apply("test-cloud");
    let hold = json!({ "apiVersion": "v1", "kind": "Service", "metadata": {
        "finalizers": [HOLD] } });
    services
        .patch("web", &pp, &Patch::Apply(&hold))
        .await
        .expect("finalizer");

    let down = tokio::spawn(async move { stack.down().await });
    tokio::time::sleep(Duration::from_secs(2)).await;
    let held = services.get("web").await.expect("still there");
    assert!(
        held.metadata.deletion_timestamp.is_some(),
        "deletion started"
    );
    assert_eq!(
        held.finalizers(),
        [HOLD],
        "the controller cleaned up its own"
    );
    assert!(!down.is_finished(), "down waits for the load balancer");
    let ns = Api::<Namespace>::all(c.clone())
        .get("lb")
        .await
        .expect("namespace");
    assert!(
        ns.metadata.deletion_timestamp.is_none(),
        "the namespace waits for the service"
    );
    // The cloud finishes its cleanup.
    let clear = json!({ "metadata": { "finalizers": null } });
    services
        .patch("web", &PatchParams::default(), &Patch::Merge(&clear))
        .await
        .expect("clear");
    down.await.expect("join").expect("down");
    assert!(services.get_opt("web").await.expect("get").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_without_our_labels_are_never_touched() {
    let env = Env::new();
    let app = App::new("web").image("nginx:1.27").service_account("web");
    let stack = env.stack(spec("foreign", app.clone()));
    stack.up().await.expect("up");
    let c = client().await;
    let maps: Api<ConfigMap> = Api::namespaced(c.clone(), "foreign");
    let theirs: ConfigMap =
        serde_json::from_value(json!({ "metadata": { "name": "theirs" }, "data": { "k": "v" } }))
            .expect("configmap");
    maps.create(&PostParams::default(), &theirs)
        .await
        .expect("create theirs");

    // The namespace is left behind (never deleted with their object in it), and the
    // teardown goes on: the cluster, network and the rest of the stack are gone.
    let report = stack.down().await.expect("down completes");
    assert_eq!(report.left_behind.len(), 1, "{report}");
    let left = &report.left_behind[0];
    assert_eq!(left.id, ResourceId::new(ResourceKind::NAMESPACE, "foreign"));
    assert!(left.reason.contains("configmap/theirs"), "{}", left.reason);
    assert_eq!(
        left.fate,
        Fate::GoneWithCluster,
        "the stack's cluster was deleted"
    );
    assert!(
        env.cloud.owned_by("foreign", "test").is_empty(),
        "the infrastructure is gone"
    );
    let kept = maps.get("theirs").await.expect("their configmap is intact");
    assert_eq!(kept.data.expect("data")["k"], "v");
    // (The local plane is not the memory cloud's cluster: the namespace is still on it.)
    assert!(
        Api::<Namespace>::all(c.clone())
            .get_opt("foreign")
            .await
            .expect("get")
            .is_some()
    );

    // Clean the shared plane as the report says a user would (here the plane outlives the
    // stack's cluster): their object, then the namespace.
    maps.delete("theirs", &Default::default())
        .await
        .expect("delete theirs");
    Api::<Namespace>::all(c)
        .delete("foreign", &Default::default())
        .await
        .expect("delete the namespace left behind");
}

const EXTRAS: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: extra-config
data:
  greeting: hello
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: extra
spec:
  replicas: 1
  selector:
    matchLabels: {app: extra}
  template:
    metadata:
      labels: {app: extra}
    spec:
      containers:
        - name: extra
          image: nginx:1.27
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_manifests_are_applied_labelled_awaited_and_removed() {
    let env = Env::new();
    let app = App::new("web").image("nginx:1.27").service_account("web");
    let spec = || {
        builder("manifests", app.clone())
            .manifest(ManifestSpec::new("extras", EXTRAS))
            .build()
            .expect("valid")
    };
    let stack = env.stack(spec());
    stack.up().await.expect("up");
    let c = client().await;
    let map = Api::<ConfigMap>::namespaced(c.clone(), "manifests")
        .get("extra-config")
        .await
        .expect("configmap");
    assert_eq!(
        map.labels().get("multicloud.dev/stack").map(String::as_str),
        Some("manifests")
    );
    assert_eq!(map.data.as_ref().expect("data")["greeting"], "hello");
    // Awaited: the Deployment of the manifest had rolled out when `up` returned.
    let extra = Api::<Deployment>::namespaced(c.clone(), "manifests")
        .get("extra")
        .await
        .expect("deployment");
    assert_eq!(extra.status.and_then(|s| s.available_replicas), Some(1));
    let before = versions(&c, "manifests", "manifests").await;
    assert!(env.stack(spec()).plan().await.expect("plan").is_noop());
    assert_eq!(versions(&c, "manifests", "manifests").await, before);

    env.stack(spec()).down().await.expect("down");
    assert!(versions(&c, "manifests", "manifests").await.is_empty());
}
