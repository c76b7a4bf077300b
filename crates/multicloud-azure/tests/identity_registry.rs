//! ACR (admin user off) with pull credentials through the token exchange (and
//! `listCredentials` only when asked, which fails while the admin user is off), workload
//! identities as user-assigned managed identities with federated credentials, and the role
//! assignments, every scope and role asserted exactly.

mod support;

use std::time::Duration;

use multicloud_azure::roles::AUDIENCE;
use multicloud_azure::roles::{ACR_PULL, KEY_VAULT_SECRETS_USER, role_definition_id};
use multicloud_core::provider::CloudProvider;
use multicloud_core::spec::{Cluster, NodePool, RegistrySpec, SecretSpec, WorkloadIdentity};
use multicloud_core::{ErrorKind, StackSpec};
use support::{TestResult, World, config, spec_in};

fn spec() -> StackSpec {
    spec_in("idr", "t3")
        .cluster(Cluster::new("1.31").node_pool(NodePool::new("apps", "Standard_D4s_v5", 1, 3)))
        .registry(RegistrySpec::new("api"))
        .secret(SecretSpec::generated("token", 20))
        .workload_identity(
            WorkloadIdentity::new("shop", "api")
                .can_read_secret("token")
                .can_pull("api"),
        )
        .build_unchecked()
}

/// Every role assignment the emulator holds, as (scope, role definition id, principal id).
fn assignments(world: &World) -> Vec<(String, String, String)> {
    let rg = format!(
        "/subscriptions/{}/resourceGroups/idr-t3-rg",
        world.emu.subscription()
    );
    let mut found = Vec::new();
    for scope in [
        format!("{rg}/providers/Microsoft.ContainerRegistry/registries/idrt3acr"),
        format!("{rg}/providers/Microsoft.KeyVault/vaults/idr-t3-kv"),
    ] {
        for name in world.emu.children(&format!(
            "{scope}/providers/Microsoft.Authorization/roleAssignments"
        )) {
            if let Some(r) = world.emu.resource(&name) {
                let s = |k: &str| r["properties"][k].as_str().unwrap_or_default().to_string();
                found.push((s("scope"), s("roleDefinitionId"), s("principalId")));
            }
        }
    }
    found.sort();
    found
}

#[tokio::test]
async fn registry_identities_federated_credentials_and_exact_roles() -> TestResult {
    let world = World::start(config(Duration::from_millis(200)), |b| b).await?;
    let stack = world.stack(spec());
    let out = stack.up().await?;
    let sub = world.emu.subscription();
    let rg = format!("/subscriptions/{sub}/resourceGroups/idr-t3-rg");

    let acr_id = format!("{rg}/providers/Microsoft.ContainerRegistry/registries/idrt3acr");
    let acr = world.emu.resource(&acr_id).ok_or("no registry")?;
    assert_eq!(acr["properties"]["adminUserEnabled"], false);
    let repo = out.registries.get("api").ok_or("no registry output")?;
    assert_eq!(repo.url, "idrt3acr.azurecr.io/api");

    // Pull credentials through the token exchange.
    let registry_outputs = multicloud_core::provider::Outputs::of(repo)?;
    let creds = world
        .provider
        .registry()
        .pull_credentials(&registry_outputs)
        .await?;
    assert_eq!(creds.server, "idrt3acr.azurecr.io");
    assert_eq!(creds.username, "00000000-0000-0000-0000-000000000000");
    assert!(creds.password.expose().starts_with("acr-refresh-"));
    // listCredentials only when asked: with the admin user off it is refused.
    let admin = multicloud_azure::AzureProvider::emulator(&world.emu)
        .admin_pull_credentials(true)
        .build()?;
    let refused = admin.registry().pull_credentials(&registry_outputs).await;
    assert!(matches!(refused, Err(e) if e.kind() == ErrorKind::InvalidInput));

    // The workload identity: its client id is what the service account is annotated with.
    let identity = out.identities.get("shop-api").ok_or("no identity output")?;
    let mi_id =
        format!("{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/idr-t3-shop-api");
    let mi = world.emu.resource(&mi_id).ok_or("no managed identity")?;
    assert_eq!(
        identity.identity,
        mi["properties"]["clientId"].as_str().unwrap_or("?")
    );
    assert_eq!(
        identity.subject.as_deref(),
        Some("system:serviceaccount:shop:api")
    );
    assert_eq!(mi["tags"]["multicloud:stack"], "idr");

    // Its federated credential: issuer, subject, audience exactly.
    let cluster = out.cluster.as_ref().ok_or("no cluster output")?;
    let issuer = cluster.oidc_issuer.clone().ok_or("no issuer")?;
    let fic = world
        .emu
        .resource(&format!(
            "{mi_id}/federatedIdentityCredentials/kubernetes-shop-api"
        ))
        .ok_or("no federated credential")?;
    assert_eq!(fic["properties"]["issuer"], issuer.as_str());
    assert_eq!(
        fic["properties"]["subject"],
        "system:serviceaccount:shop:api"
    );
    assert_eq!(
        fic["properties"]["audiences"],
        serde_json::json!([AUDIENCE])
    );

    // Every role assignment: scope and role exactly.
    let aks = world
        .emu
        .resource(&format!(
            "{rg}/providers/Microsoft.ContainerService/managedClusters/idr-t3"
        ))
        .ok_or("no cluster")?;
    let kubelet = aks["properties"]["identityProfile"]["kubeletidentity"]["objectId"]
        .as_str()
        .unwrap_or("?")
        .to_string();
    let principal = mi["properties"]["principalId"]
        .as_str()
        .unwrap_or("?")
        .to_string();
    let vault_id = format!("{rg}/providers/Microsoft.KeyVault/vaults/idr-t3-kv");
    let mut expected = vec![
        (
            acr_id.clone(),
            role_definition_id(&sub, ACR_PULL.1),
            kubelet,
        ),
        (
            acr_id.clone(),
            role_definition_id(&sub, ACR_PULL.1),
            principal.clone(),
        ),
        (
            vault_id,
            role_definition_id(&sub, KEY_VAULT_SECRETS_USER.1),
            principal,
        ),
    ];
    expected.sort();
    assert_eq!(assignments(&world), expected);

    stack.down().await?;
    assert!(assignments(&world).is_empty());
    assert!(world.emu.resource(&rg).is_none());
    Ok(())
}
