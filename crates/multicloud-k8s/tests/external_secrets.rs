//! External Secrets Operator objects next to the directly synced Secret, against the real
//! local control plane with ESO's own CRDs installed (`tests/fixtures/k8s-crds/external-secrets`, verbatim upstream copies), so
//! every object is validated by the real schemas: exact spec, our labels, the direct sync kept,
//! a no-op re-plan, nothing left after `down`.

mod support;

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use multicloud_core::spec::{SecretSpec, StackSpec};
use multicloud_k8s::KubernetesWorkloads;
use multicloud_k8s::kinds::external_secrets::{
    StoreProvider, external_secret, external_secret_resource, secret_store, secret_store_resource,
};
use serde_json::json;
use support::{Env, builder, client, web_app};

const CRDS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/k8s-crds/external-secrets"
);

/// Applies ESO's CRDs and waits until each is Established.
async fn install_crds(c: &Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(c.clone());
    let mut names = Vec::new();
    for file in [
        "external-secrets.io_secretstores.yaml",
        "external-secrets.io_clustersecretstores.yaml",
        "external-secrets.io_externalsecrets.yaml",
    ] {
        let text = std::fs::read_to_string(format!("{CRDS}/{file}")).expect("a CRD file");
        let crd: CustomResourceDefinition = serde_yaml_ng::from_str(&text).expect("a CRD");
        let name = crd.name_any();
        crds.patch(&name, &PatchParams::apply("eso-test"), &Patch::Apply(&crd))
            .await
            .expect("apply the CRD");
        names.push(name);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    for name in names {
        loop {
            let crd = crds.get(&name).await.expect("CRD");
            let established = crd
                .status
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True");
            if established {
                break;
            }
            assert!(Instant::now() < deadline, "CRD {name} never Established");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn has_our_labels(o: &DynamicObject, stack: &str) {
    let labels = o.labels();
    for (k, v) in [
        ("app.kubernetes.io/managed-by", "multicloud"),
        ("multicloud.dev/stack", stack),
        ("multicloud.dev/env", "test"),
    ] {
        assert_eq!(
            labels.get(k).map(String::as_str),
            Some(v),
            "{k} in {labels:?}"
        );
    }
}

/// The support stack (secret `api-key` readable by `web`'s identity) plus secret `other`,
/// also synced for the app, which no identity may read.
fn spec(name: &str) -> StackSpec {
    builder(name, web_app().env_from_secret("OTHER", "other"))
        .secret(SecretSpec::generated("other", 16))
        .build()
        .expect("a valid spec")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eso_objects_are_exact_schema_valid_beside_the_direct_sync_and_removed_at_down() {
    let c = client().await;
    install_crds(&c).await;
    let (name, ns) = ("esostack", "esostack");
    let env = Env::new();
    let eso = || KubernetesWorkloads::new().with_external_secrets();
    let stack = env.stack_with(spec(name), eso());
    let out = stack.up().await.expect("up");

    let stores: Api<DynamicObject> = Api::namespaced_with(c.clone(), ns, &secret_store_resource());
    let externals: Api<DynamicObject> =
        Api::namespaced_with(c.clone(), ns, &external_secret_resource());
    let store = stores.get("api-key").await.expect("SecretStore");
    has_our_labels(&store, name);
    // The memory cloud stands for AWS: Secrets Manager, the stack's region, IRSA as the
    // service account whose identity may read the secret (the schema's default added).
    assert_eq!(
        store.data["spec"],
        json!({ "provider": { "aws": {
            "service": "SecretsManager",
            "region": "us-east-1",
            "auth": { "jwt": { "serviceAccountRef": { "name": "web" } } },
            "sessionTagsPolicy": "None",
        }}})
    );
    let external = externals.get("api-key").await.expect("ExternalSecret");
    has_our_labels(&external, name);
    let remote = &out.secrets["api-key"].name;
    assert_eq!(
        external.data["spec"],
        json!({
            "refreshInterval": "1h",
            "secretStoreRef": { "kind": "SecretStore", "name": "api-key" },
            "target": { "name": "api-key", "creationPolicy": "Merge", "deletionPolicy": "Retain" },
            "data": [{ "secretKey": "value", "remoteRef": { "key": remote } }],
        })
    );

    // No identity may read `other`: no ESO objects for it, only the direct sync.
    assert!(stores.get_opt("other").await.expect("get").is_none());
    assert!(externals.get_opt("other").await.expect("get").is_none());
    let secrets = Api::<Secret>::namespaced(c.clone(), ns);
    let other = secrets.get("other").await.expect("other synced");
    assert!(other.data.expect("data").contains_key("value"));

    // The direct sync stays: the Secret holds the cloud's value.
    let synced = secrets.get("api-key").await.expect("synced secret");
    let value = stack
        .provider()
        .secrets()
        .get_secret(remote)
        .await
        .expect("value");
    assert_eq!(
        synced.data.as_ref().expect("data")["value"].0,
        value.expose().as_bytes()
    );

    // The schemas are enforced (a bad policy is refused), and the Azure shape is valid too.
    let dry = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let mut bad = external_secret("bad", ns, "k");
    bad.data["spec"]["target"]["creationPolicy"] = json!("Sometimes");
    let err = externals.create(&dry, &bad).await.expect_err("invalid");
    assert!(err.to_string().contains("creationPolicy"), "{err}");
    let azure = StoreProvider::AzureKeyVault {
        vault_url: "https://kv-shop.vault.azure.net".into(),
        service_account: "web".into(),
    };
    stores
        .create(&dry, &secret_store("azure", ns, &azure))
        .await
        .expect("the azurekv block is schema-valid");

    // Re-plan is a no-op and re-up writes nothing.
    let versions = || async {
        let s = stores.get("api-key").await.expect("store");
        let e = externals.get("api-key").await.expect("external");
        (s.resource_version(), e.resource_version())
    };
    let before = versions().await;
    let again = env.stack_with(spec(name), eso());
    let plan = again.plan().await.expect("plan");
    assert!(plan.is_noop(), "{plan}");
    again.up().await.expect("re-up");
    assert_eq!(versions().await, before);

    // Down: none of them is left, nor the namespace.
    again.down().await.expect("down");
    assert!(stores.get_opt("api-key").await.expect("get").is_none());
    assert!(externals.get_opt("api-key").await.expect("get").is_none());
    assert!(
        Api::<Namespace>::all(c)
            .get_opt(ns)
            .await
            .expect("get")
            .is_none()
    );
}
