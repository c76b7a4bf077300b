//! Key Vault as a resource and the provider's `SecretBackend` on the emulator: the vault
//! with RBAC and soft delete, the spec's secrets, put/get/list/delete/purge with versions,
//! and teardown deleting AND purging the vault so its name works again at once.

mod support;

use std::time::Duration;

use multicloud_core::provider::CloudProvider;
use multicloud_core::spec::SecretSpec;
use multicloud_core::{SecretString, StackSpec};
use support::{TestResult, World, config};

fn spec() -> StackSpec {
    StackSpec::builder("vaulty")
        .environment("t1")
        .region("westeurope")
        .secret(SecretSpec::generated("api-token", 24))
        .build_unchecked()
}

#[tokio::test]
async fn the_vault_its_secrets_and_the_backend_then_delete_and_purge() -> TestResult {
    let world = World::start(config(Duration::from_millis(300)), |b| b).await?;
    let stack = world.stack(spec());
    let out = stack.up().await?;
    let token = out.secrets.get("api-token").ok_or("no api-token output")?;
    assert_eq!(token.name, "vaulty-t1-kv/api-token");
    assert!(
        token
            .id
            .starts_with("https://vaulty-t1-kv.vault.azure.net/secrets/api-token/")
    );

    let vault_id = format!(
        "/subscriptions/{}/resourceGroups/vaulty-t1-rg/providers/Microsoft.KeyVault/vaults/vaulty-t1-kv",
        world.emu.subscription()
    );
    let vault = world.emu.resource(&vault_id).ok_or("no vault")?;
    assert_eq!(vault["properties"]["enableRbacAuthorization"], true);
    assert_eq!(vault["properties"]["enableSoftDelete"], true);
    assert_eq!(vault["tags"]["multicloud:stack"], "vaulty");

    let backend = world.provider.secrets();
    let generated = backend.get_secret("vaulty-t1-kv/api-token").await?;
    assert_eq!(generated.len(), 24);
    let one = backend
        .put_secret("vaulty-t1-kv/extra", &SecretString::new("one"))
        .await?;
    let two = backend
        .put_secret("vaulty-t1-kv/extra", &SecretString::new("two"))
        .await?;
    assert_ne!(one.version, two.version, "a new version per put");
    assert_eq!(
        backend.get_secret("vaulty-t1-kv/extra").await?.expose(),
        "two"
    );
    let listed: Vec<String> = backend
        .list_secrets("vaulty-t1-kv/")
        .await?
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(listed, ["vaulty-t1-kv/api-token", "vaulty-t1-kv/extra"]);
    assert_eq!(backend.list_secrets("vaulty-t1-kv/ex").await?.len(), 1);
    backend.delete_secret("vaulty-t1-kv/extra", true).await?;
    assert!(backend.get_secret("vaulty-t1-kv/extra").await.is_err());
    // Purged: the name takes a new value at once.
    backend
        .put_secret("vaulty-t1-kv/extra", &SecretString::new("three"))
        .await?;
    assert!(backend.get_secret("no-vault-in-the-name").await.is_err());

    stack.down().await?;
    assert!(world.emu.resource(&vault_id).is_none(), "vault deleted");
    let deleted = world
        .provider
        .arm()
        .get_optional::<serde_json::Value>(
            &format!(
                "/subscriptions/{}/providers/Microsoft.KeyVault/locations/westeurope/deletedVaults/vaulty-t1-kv",
                world.emu.subscription()
            ),
            multicloud_azure::arm::api_versions::KEY_VAULT,
        )
        .await?;
    assert!(deleted.is_none(), "and purged: {deleted:?}");

    // The same vault name works again at once.
    let again = stack.up().await?;
    assert!(again.secrets.contains_key("api-token"));
    stack.down().await?;
    Ok(())
}

#[tokio::test]
async fn the_deployer_gets_secrets_officer_on_exactly_the_vault_before_any_secret() -> TestResult {
    let deployer = "11111111-2222-3333-4444-555555555555";
    let world = World::start(config(Duration::from_millis(100)), |b| {
        b.deployer(deployer, "User")
    })
    .await?;
    let spec = StackSpec::builder("dep")
        .environment("t1")
        .region("westeurope")
        .secret(SecretSpec::generated("api-token", 24))
        .build_unchecked();
    let stack = world.stack(spec);
    let plan = stack.plan().await?;
    let secret = plan
        .action(&"secret/api-token".into())
        .ok_or("no secret in the plan")?;
    assert!(
        secret
            .depends_on
            .contains(&"role_assignment/deployer-secrets-officer".into())
    );
    stack.up().await?;
    let sub = world.emu.subscription();
    let vault = format!(
        "/subscriptions/{sub}/resourceGroups/dep-t1-rg/providers/Microsoft.KeyVault/vaults/dep-t1-kv"
    );
    let ids = world.emu.children(&format!(
        "{vault}/providers/Microsoft.Authorization/roleAssignments"
    ));
    assert_eq!(ids.len(), 1);
    let role = world.emu.resource(&ids[0]).ok_or("no role assignment")?;
    let p = &role["properties"];
    assert_eq!(p["scope"], vault.as_str());
    assert_eq!(p["principalId"], deployer);
    assert_eq!(p["principalType"], "User");
    assert_eq!(
        p["roleDefinitionId"],
        multicloud_azure::roles::role_definition_id(
            &sub,
            multicloud_azure::roles::KEY_VAULT_SECRETS_OFFICER.1
        )
        .as_str()
    );
    stack.down().await?;
    assert!(
        world
            .emu
            .children(&format!(
                "{vault}/providers/Microsoft.Authorization/roleAssignments"
            ))
            .is_empty()
    );
    Ok(())
}
