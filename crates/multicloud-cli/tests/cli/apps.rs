//! The README's main job as a test: the example spec, app included, on both clouds at once in
//! one `multicloud local --apps` session. `status` shows the app Available and reaching the
//! stack's own database and cache; a connection Secret a colleague deletes by hand is
//! reported (exit 4) and `up` puts it back; after `down` the sweeper finds nothing.

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams};
use serde_json::Value;

use crate::support::{LocalSession, Scratch, code, events};

/// The spec `scripts/demo.sh` deploys.
const EXAMPLE: &str = include_str!("../../../../examples/stacks/shop-multicloud.yaml");

#[test]
fn the_example_spec_and_its_app_on_both_clouds() {
    let scratch = Scratch::with_spec(EXAMPLE);
    let session = LocalSession::start(&scratch, &["--cloud", "both", "--apps"]);
    let run = |args: &[&str]| scratch.run(&[args, &["--local", "--cloud", "both"]].concat());

    run(&["up"]).expect(code::OK);
    let status = run(&["status", "--json"]).expect(code::OK);
    let lines = status.json_lines();
    let apps = events(&lines, "status");
    assert_eq!(apps.len(), 2, "one app per cloud: {lines:#?}");
    for app in apps {
        assert_connected(app);
    }
    let table = run(&["status"]).expect(code::OK);
    assert!(
        table.stdout.contains("Available") && table.stdout.contains("the stack's cache"),
        "{}",
        table.stdout
    );

    // By hand, on AWS's control plane: the app's database connection Secret is deleted.
    delete_secret(&session.ready, "shop", "shop-database");
    let broken = run(&["status", "--json"]).expect(code::FAILED);
    let lines = broken.json_lines();
    let of = |cloud: &str| {
        events(&lines, "status")
            .into_iter()
            .find(|l| l["cloud"] == cloud)
            .cloned()
            .unwrap_or_else(|| panic!("no {cloud} status: {lines:#?}"))
    };
    let aws = of("aws");
    assert_eq!(aws["healthy"], false, "{aws}");
    assert_eq!(
        aws["app"]["missing"],
        serde_json::json!(["database"]),
        "{aws}"
    );
    assert_connected(&of("azure"));
    run(&["up"]).expect(code::OK);
    run(&["status"]).expect(code::OK);

    run(&["down"]).expect(code::OK);
    let swept = run(&["sweep", "--dry-run", "--json"]).expect(code::OK);
    let found = events(&swept.json_lines(), "swept").len();
    assert_eq!(found, 0, "left behind: {}", swept.stdout);
    assert_eq!(session.stop(), code::OK);
}

/// The app `shop/api` of one cloud's `status` line: running, its two connections reaching
/// the stack's database and cache.
fn assert_connected(line: &Value) {
    let app = &line["app"];
    assert_eq!(line["healthy"], true, "{line}");
    assert_eq!(app["namespace"], "shop", "{line}");
    assert_eq!(app["name"], "api", "{line}");
    assert_eq!(app["is_available"], true, "{line}");
    assert_eq!(app["available"], app["replicas"], "{line}");
    let services: Vec<&Value> = app["connections"]
        .as_array()
        .map(|c| c.iter().map(|c| &c["service"]).collect())
        .unwrap_or_default();
    assert_eq!(services, ["database", "cache"], "{line}");
    assert_eq!(
        app["reaches_stack"],
        serde_json::json!([true, true]),
        "{line}"
    );
    assert!(
        app["connections"][0]["port"]
            .as_u64()
            .is_some_and(|p| p > 0),
        "{line}"
    );
}

/// Deletes Secret `namespace/name` on the session's AWS control plane, as `kubectl delete`
/// would.
fn delete_secret(ready: &Value, namespace: &str, name: &str) {
    let path = ready["session"]["aws"]["kubeconfig"]
        .as_str()
        .unwrap_or_else(|| panic!("no AWS kubeconfig in {ready}"));
    let yaml = std::fs::read_to_string(path).expect("the kubeconfig");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let creds = multicloud_k8s::credentials_from_kubeconfig(&yaml).expect("credentials");
        let client = multicloud_k8s::client_for(&creds).await.expect("client");
        Api::<Secret>::namespaced(client, namespace)
            .delete(name, &DeleteParams::default())
            .await
            .expect("delete the Secret");
    });
}
