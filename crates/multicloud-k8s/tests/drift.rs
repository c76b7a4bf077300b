//! Drift of the app's objects on the real local control plane, through the engine: a
//! Deployment's image set by another field manager and its replicas scaled by hand are
//! planned as an update naming both fields (`old -> new`, and who manages them now); `up`
//! takes our fields back (a forced apply of our field manager); a label someone else added
//! is not drift and stays.

mod support;

use k8s_openapi::api::apps::v1::Deployment;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use multicloud_core::plan::Action;
use multicloud_core::refresh::RefreshStatus;
use multicloud_core::resource::{ResourceId, ResourceKind};
use multicloud_core::spec::App;
use serde_json::json;
use support::{Env, client, spec};

/// The Deployment's image and replicas, and who manages its fields.
async fn live(api: &Api<Deployment>) -> (String, i64, Vec<String>) {
    let d = api.get("api").await.expect("deployment");
    let managers = d
        .managed_fields()
        .iter()
        .filter_map(|m| m.manager.clone())
        .collect();
    let d = serde_json::to_value(&d).expect("json");
    let image = d
        .pointer("/spec/template/spec/containers/0/image")
        .and_then(serde_json::Value::as_str)
        .expect("image");
    let replicas = d
        .pointer("/spec/replicas")
        .and_then(serde_json::Value::as_i64);
    (image.to_string(), replicas.expect("replicas"), managers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_set_by_another_manager_and_a_manual_scale_are_drift_that_up_takes_back() {
    let env = Env::new();
    let app = App::new("api").image("nginx:1.27").port(8080).replicas(2);
    let stack = env.stack(spec("drift", app));
    stack.up().await.expect("up");
    let plan = stack.plan().await.expect("plan");
    assert!(plan.is_noop(), "no drift right after up: {plan}");

    let api: Api<Deployment> = Api::namespaced(client().await, "drift");
    // Someone else's label: a field we do not manage is never drift.
    let team = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                      "metadata": {"name": "api", "labels": {"team": "blue"}}});
    api.patch(
        "api",
        &PatchParams::apply("team-tool"),
        &Patch::Apply(&team),
    )
    .await
    .expect("label");
    let plan = stack.plan().await.expect("plan");
    assert!(plan.is_noop(), "a foreign label is not drift: {plan}");

    // The image by another field manager (forced), then `kubectl scale` to 5.
    let evil = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api"},
                      "spec": {"template": {"spec": {"containers": [
                          {"name": "api", "image": "evil/miner:latest"}]}}}});
    api.patch(
        "api",
        &PatchParams::apply("evil").force(),
        &Patch::Apply(&evil),
    )
    .await
    .expect("evil image");
    let kubectl = PatchParams {
        field_manager: Some("kubectl".into()),
        ..PatchParams::default()
    };
    api.patch_scale(
        "api",
        &kubectl,
        &Patch::Merge(json!({"spec": {"replicas": 5}})),
    )
    .await
    .expect("scale");
    assert_eq!(live(&api).await.0, "evil/miner:latest");

    let id = ResourceId::new(ResourceKind::DEPLOYMENT, "api");
    let plan = stack.plan().await.expect("plan");
    let a = plan.action(&id).expect("deployment planned");
    assert_eq!(a.action, Action::Update, "{plan}");
    assert_eq!(
        a.reason,
        "drifted outside the stack: spec.replicas: 2 -> 5 (managed by kubectl); \
         spec.template.spec.containers[api].image: nginx:1.27 -> evil/miner:latest \
         (managed by evil)"
    );
    assert_eq!(plan.summary().changes(), 1, "only the Deployment: {plan}");
    let report = stack.refresh().await.expect("refresh");
    let Some(RefreshStatus::Changed { drift: Some(d), .. }) = report.status(&id) else {
        panic!("the Deployment changed: {report}");
    };
    assert_eq!(d.fields().len(), 2, "{d}");

    stack.up().await.expect("up takes our fields back");
    let (image, replicas, managers) = live(&api).await;
    assert_eq!((image.as_str(), replicas), ("nginx:1.27", 2));
    assert!(managers.iter().any(|m| m == "team-tool"), "{managers:?}");
    let d = api.get("api").await.expect("deployment");
    assert_eq!(d.labels().get("team").map(String::as_str), Some("blue"));
    let plan = stack.plan().await.expect("plan");
    assert!(plan.is_noop(), "ours again: {plan}");
    stack.down().await.expect("down");
}
