//! What the app tests of both clouds (`aws_app.rs`, `azure_app.rs`) read back from the local
//! Kubernetes control plane after `up` and `down` of a `shop` stack with an app `api`.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Secret, ServiceAccount};
use kube::Client;
use kube::api::{Api, ListParams};
use multicloud_core::plan::{Action, Plan, PlannedAction};

/// The namespace of the app.
pub const NAMESPACE: &str = "shop";

/// Deployment `api`, asserted Available with its one replica.
pub async fn available_api_deployment(client: &Client) -> Deployment {
    let deployment = Api::<Deployment>::namespaced(client.clone(), NAMESPACE)
        .get("api")
        .await
        .expect("deployment");
    assert_eq!(
        deployment
            .status
            .as_ref()
            .and_then(|s| s.available_replicas),
        Some(1)
    );
    deployment
}

/// The image of the first container of `deployment`.
pub fn image(deployment: &Deployment) -> Option<String> {
    deployment
        .spec
        .template
        .spec
        .as_ref()
        .and_then(|p| p.containers[0].image.clone())
}

/// Service account `api`.
pub async fn api_service_account(client: &Client) -> ServiceAccount {
    Api::<ServiceAccount>::namespaced(client.clone(), NAMESPACE)
        .get("api")
        .await
        .expect("service account")
}

/// The bytes under `value` of the synced Secret `name`.
pub async fn synced_value(client: &Client, name: &str) -> Vec<u8> {
    let synced = Api::<Secret>::namespaced(client.clone(), NAMESPACE)
        .get(name)
        .await
        .expect("synced secret");
    synced.data.expect("data")["value"].0.clone()
}

/// The `.dockerconfigjson` document of the pull secret `name`.
pub async fn docker_config(client: &Client, name: &str) -> serde_json::Value {
    let pull = Api::<Secret>::namespaced(client.clone(), NAMESPACE)
        .get(name)
        .await
        .expect("pull secret");
    serde_json::from_slice(&pull.data.expect("data")[".dockerconfigjson"].0).expect("json")
}

/// The actions of `plan` that change something.
pub fn changes(plan: &Plan) -> Vec<&PlannedAction> {
    plan.actions
        .iter()
        .filter(|a| a.action != Action::NoOp)
        .collect()
}

/// Asserts nothing labelled as stack `shop` is left on the API server: no namespace, no
/// Secret.
pub async fn assert_no_stack_objects_left(client: Client) {
    let ours = ListParams::default().labels("multicloud.dev/stack=shop");
    let namespaces = Api::<Namespace>::all(client.clone())
        .list(&ours)
        .await
        .expect("list");
    assert!(namespaces.items.is_empty());
    let secrets = Api::<Secret>::all(client).list(&ours).await.expect("list");
    assert!(secrets.items.is_empty());
}
