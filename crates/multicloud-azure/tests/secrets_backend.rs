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
