//! The emulator's answers to what the provider adds (server-filled properties, POST actions)
//! compared with the examples in `multicloud-azure-emulator/tests/fixtures/azure-arm-examples` (verbatim copies from Azure/azure-rest-api-specs, sources in its SOURCES.tsv) (structure and status codes),
//! after a real `up` of a stack with every part.

mod support;

mod examples;

use std::time::Duration;

use azure_core::http::Method;
use examples::{example, keys};
use multicloud_azure::arm::api_versions;
use multicloud_core::StackSpec;
use multicloud_core::spec::{Postgres, RegistrySpec, SecretSpec, WorkloadIdentity};
use serde_json::Value;
use support::{TestResult, World, config, small_cluster, spec_in};

/// Every key of `want` (an example body) at `pointer` is in `got` at the same place.
fn has_keys(got: &Value, want: &Value, pointer: &str, wanted: &[&str]) {
    for k in wanted {
        assert!(
            want.pointer(pointer).and_then(|v| v.get(k)).is_some(),
            "the example has {pointer}/{k}"
        );
        assert!(
            got.pointer(pointer).and_then(|v| v.get(k)).is_some(),
            "the emulator has {pointer}/{k}: {got}"
        );
    }
}

fn spec() -> StackSpec {
    spec_in("shape", "t7")
        .cluster(small_cluster())
        .database(Postgres::new("16"))
        .registry(RegistrySpec::new("api"))
        .secret(SecretSpec::generated("token", 16))
        .workload_identity(WorkloadIdentity::new("shop", "api").can_read_secret("token"))
        .build_unchecked()
}

#[tokio::test]
async fn what_the_provider_reads_is_shaped_like_the_examples() -> TestResult {
    let world = World::start(config(Duration::from_millis(100)), |b| b).await?;
    world.stack(spec()).up().await?;
    let arm = world.provider.arm();
    let rg = format!(
        "/subscriptions/{}/resourceGroups/shape-t7-rg",
        world.emu.subscription()
    );
    let post = |path: String, version: &'static str| async move {
        arm.send(Method::Post, arm.url(&path, version)?, None).await
    };

    let aks = format!("{rg}/providers/Microsoft.ContainerService/managedClusters/shape-t7");
    let ex = example(
        "Microsoft.ContainerService/2026-08-01/ManagedClustersListClusterUserCredentials.json",
    );
    let got = post(
        format!("{aks}/listClusterUserCredential"),
        api_versions::CONTAINER_SERVICE,
    )
    .await?;
    assert_eq!(got.status.to_string(), keys(&ex["responses"])[0]);
    let body: Value = got.json()?;
    assert_eq!(keys(&body), keys(&ex["responses"]["200"]["body"]));
    assert_eq!(
        keys(&body["kubeconfigs"][0]),
        keys(&ex["responses"]["200"]["body"]["kubeconfigs"][0])
    );

    let acr = format!("{rg}/providers/Microsoft.ContainerRegistry/registries/shapet7acr");
    let ex = example("Microsoft.ContainerRegistry/2025-11-01/RegistryGet.json");
    let got = world.emu.resource(&acr).ok_or("no registry")?;
    has_keys(
        &got,
        &ex["responses"]["200"]["body"],
        "/properties",
        &["loginServer", "adminUserEnabled"],
    );
    // listCredentials: refused while the admin user is off (400 with ARM's error shape).
    let refused = post(
        format!("{acr}/listCredentials"),
        api_versions::CONTAINER_REGISTRY,
    )
    .await?;
    assert_eq!(refused.status, 400);
    assert!(refused.json::<Value>()?["error"]["code"].is_string());

    let mi = format!(
        "{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/shape-t7-shop-api"
    );
    let ex = example("Microsoft.ManagedIdentity/2026-05-31/IdentityGet.json");
    let got = world.emu.resource(&mi).ok_or("no identity")?;
    has_keys(
        &got,
        &ex["responses"]["200"]["body"],
        "/properties",
        &["clientId", "principalId", "tenantId"],
    );

    let ex = example("Microsoft.ManagedIdentity/2026-05-31/FederatedIdentityCredentialCreate.json");
    let got = world
        .emu
        .resource(&format!(
            "{mi}/federatedIdentityCredentials/kubernetes-shop-api"
        ))
        .ok_or("no federated credential")?;
    let want = &ex["responses"]["201"]["body"];
    has_keys(
        &got,
        want,
        "/properties",
        &["issuer", "subject", "audiences"],
    );
    assert_eq!(
        keys(&want["properties"]["audiences"]),
        keys(&got["properties"]["audiences"])
    );

    let ex = example("Microsoft.Authorization/2026-08-01/RoleAssignments_Get.json");
    let vault = format!("{rg}/providers/Microsoft.KeyVault/vaults/shape-t7-kv");
    let ids = world.emu.children(&format!(
        "{vault}/providers/Microsoft.Authorization/roleAssignments"
    ));
    let got = world
        .emu
        .resource(ids.first().ok_or("no role assignment")?)
        .ok_or("gone")?;
    has_keys(
        &got,
        &ex["responses"]["200"]["body"],
        "/properties",
        &["principalId", "principalType", "roleDefinitionId", "scope"],
    );
    assert_eq!(got["type"], "Microsoft.Authorization/roleAssignments");

    let ex = example("Microsoft.DBforPostgreSQL/2025-08-01/ServersGet.json");
    let got = world
        .emu
        .resource(&format!(
            "{rg}/providers/Microsoft.DBforPostgreSQL/flexibleServers/shape-t7-pg"
        ))
        .ok_or("no server")?;
    has_keys(
        &got,
        &ex["responses"]["200"]["body"],
        "/properties",
        &["fullyQualifiedDomainName", "state", "network", "version"],
    );
    has_keys(
        &got,
        &ex["responses"]["200"]["body"],
        "/sku",
        &["name", "tier"],
    );
    Ok(())
}
