//! Key Vault's management plane on the emulator: vault soft delete, `deletedVaults`, purge
//! and name reuse, with bodies and codes compared to the example files. (The secrets data
//! plane through the official `SecretClient` is tested with the provider's client in
//! multicloud-azure's `tests/keyvault.rs`.)

mod support;

use azure_core::http::Method;
use serde_json::{Value, json};
use support::examples::{example, keys};
use support::{Answer, Arm, call, with_vault};

/// The api-versions of the examples used here.
mod api_versions {
    /// `Microsoft.Resources/2025-04-01`.
    pub const RESOURCES: &str = "2025-04-01";
    /// `Microsoft.KeyVault/2026-02-01`.
    pub const KEY_VAULT: &str = "2026-02-01";
}

fn body(r: &Answer) -> Value {
    r.json()
}

/// GET of the Key Vault resource at `path`.
async fn get(arm: &Arm, path: &str) -> Answer {
    call(arm, Method::Get, path, api_versions::KEY_VAULT, None).await
}

/// PUT of a vault in `westus` with default properties at `path`.
async fn put_vault(arm: &Arm, path: &str) -> Answer {
    let vault = json!({"location": "westus", "properties": {}});
    call(arm, Method::Put, path, api_versions::KEY_VAULT, Some(vault)).await
}

#[tokio::test]
async fn vaults_soft_delete_purge_and_reuse_their_name() {
    let (emu, arm, vault) = with_vault("sample-vault").await;
    let create = example("Microsoft.KeyVault/2026-02-01/createVault.json");
    let got = get(&arm, &vault).await;
    let ours = body(&got);
    let want = &example("Microsoft.KeyVault/2026-02-01/getVault.json")["responses"]["200"]["body"];
    for k in keys(&ours) {
        assert!(want.get(&k).is_some(), "`{k}` is not in getVault.json");
    }
    for k in [
        "vaultUri",
        "provisioningState",
        "tenantId",
        "sku",
        "accessPolicies",
    ] {
        assert!(ours["properties"].get(k).is_some(), "properties.{k}");
    }
    assert_eq!(
        ours["properties"]["vaultUri"],
        "https://sample-vault.vault.azure.net"
    );
    assert_eq!(
        ours["properties"]["vaultUri"],
        want["properties"]["vaultUri"]
    );
    assert!(create["responses"].get("201").is_some());

    // The same name elsewhere is taken (names are global).
    let sub = format!("/subscriptions/{}", emu.subscription());
    call(
        &arm,
        Method::Put,
        &format!("{sub}/resourcegroups/other"),
        api_versions::RESOURCES,
        Some(json!({"location": "westus"})),
    )
    .await;
    let elsewhere =
        format!("{sub}/resourceGroups/other/providers/Microsoft.KeyVault/vaults/sample-vault");
    let taken = put_vault(&arm, &elsewhere).await;
    assert_eq!(
        (taken.status, taken.error_code.as_deref()),
        (409, Some("VaultAlreadyExists"))
    );

    // Delete: 200 (deleteVault.json), then soft-deleted and the name reserved.
    let deleted = call(&arm, Method::Delete, &vault, api_versions::KEY_VAULT, None).await;
    assert!(
        keys(&example("Microsoft.KeyVault/2026-02-01/deleteVault.json")["responses"])
            .contains(&deleted.status.to_string())
    );
    assert_eq!(get(&arm, &vault).await.status, 404);
    let dv =
        format!("{sub}/providers/Microsoft.KeyVault/locations/westus/deletedVaults/sample-vault");
    let got = get(&arm, &dv).await;
    let want =
        &example("Microsoft.KeyVault/2026-02-01/getDeletedVault.json")["responses"]["200"]["body"];
    assert_eq!((got.status, keys(&body(&got))), (200, keys(want)));
    assert_eq!(keys(&body(&got)["properties"]), keys(&want["properties"]));
    let list = call(
        &arm,
        Method::Get,
        &format!("{sub}/providers/Microsoft.KeyVault/deletedVaults"),
        api_versions::KEY_VAULT,
        None,
    )
    .await;
    assert_eq!(body(&list)["value"].as_array().map(Vec::len), Some(1));
    let reuse = put_vault(&arm, &vault).await;
    assert_eq!(
        (reuse.status, reuse.error_code.as_deref()),
        (409, Some("ConflictError"))
    );
    assert!(
        body(&reuse)["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("deleted state")
    );

    // Purge (purgeDeletedVault.json: 200 or 202), and the name works again at once.
    let purged = call(
        &arm,
        Method::Post,
        &format!("{dv}/purge"),
        api_versions::KEY_VAULT,
        None,
    )
    .await;
    assert!(
        keys(&example("Microsoft.KeyVault/2026-02-01/purgeDeletedVault.json")["responses"])
            .contains(&purged.status.to_string())
    );
    assert_eq!(
        get(&arm, &dv).await.error_code.as_deref(),
        Some("DeletedVaultNotFound")
    );
    assert_eq!(put_vault(&arm, &vault).await.status, 201);

    // Deleting the resource group soft-deletes the vault inside it too.
    assert_eq!(
        call(
            &arm,
            Method::Delete,
            &format!("{sub}/resourcegroups/rg"),
            api_versions::RESOURCES,
            None
        )
        .await
        .status,
        200
    );
    assert_eq!(get(&arm, &dv).await.status, 200);
    let bad = call(
        &arm,
        Method::Put,
        &format!("{sub}/resourceGroups/other/providers/Microsoft.KeyVault/vaults/kv"),
        api_versions::KEY_VAULT,
        Some(json!({"location": "westus"})),
    )
    .await;
    assert_eq!(
        (bad.status, bad.error_code.as_deref()),
        (400, Some("InvalidResourceName"))
    );
}
