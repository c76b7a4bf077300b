//! Key Vault on the emulator through the provider's client: the official `SecretClient`
//! 1.0.1 it builds (challenge handshake, set/get/versions/list/delete/purge, call counts),
//! with bodies compared to the example files. (Vault soft delete, purge and name reuse are
//! the emulator's own tests, in multicloud-azure-emulator's `tests/keyvault.rs`.)

/// The emulator crate's own test helpers (its vault set-up).
#[path = "../../multicloud-azure-emulator/tests/support/mod.rs"]
mod raw;

use azure_security_keyvault_secrets::models::SetSecretParameters;
use futures::TryStreamExt;
use multicloud_azure::arm::ArmClient;
use multicloud_azure::emulator::{Emulator, EmulatorArmClient};
use raw::examples::{example, keys};
use serde_json::Value;

/// An emulator with resource group `rg` and vault `name` in it, and the provider's client.
async fn with_vault(name: &str) -> (Emulator, ArmClient, String) {
    let (emu, _, vault) = raw::with_vault(name).await;
    let arm = emu.arm_client().unwrap_or_else(|e| panic!("{e}"));
    (emu, arm, vault)
}

#[tokio::test]
async fn the_official_secret_client_works_against_the_emulator() {
    let (emu, arm, _vault) = with_vault("shop-kv").await;
    let client = arm
        .secret_client(&arm.cloud().vault_url("shop-kv"))
        .unwrap_or_else(|e| panic!("{e}"));
    let set = |v: &str| SetSecretParameters {
        value: Some(v.to_string()),
        ..Default::default()
    };
    let before = emu.requests().0;
    let first = client
        .set_secret(
            "db-password",
            set("one").try_into().unwrap_or_else(|e| panic!("{e}")),
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_model()
        .unwrap_or_else(|e| panic!("{e}"));
    // The challenge: a first request without token (and without body) answered 401, then
    // the same request with a token for https://vault.azure.net/.default.
    assert_eq!(emu.requests().0 - before, 2);
    assert_eq!(arm.calls().snapshot().get("KeyVault/secrets.PUT"), Some(&2));
    let id = first.id.clone().unwrap_or_default();
    assert!(
        id.starts_with("https://shop-kv.vault.azure.net/secrets/db-password/"),
        "{id}"
    );
    let second = client
        .set_secret(
            "db-password",
            set("two").try_into().unwrap_or_else(|e| panic!("{e}")),
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_model()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(first.id, second.id, "a new version");
    assert_eq!(
        emu.requests().0 - before,
        3,
        "the scope is cached: no second challenge"
    );

    let latest = client
        .get_secret("db-password", None)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_model()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(latest.value.as_deref(), Some("two"));
    let version = id.rsplit('/').next().unwrap_or_default().to_string();
    let old = client
        .get_secret(
            "db-password",
            Some(
                azure_security_keyvault_secrets::models::SecretClientGetSecretOptions {
                    secret_version: Some(version),
                    ..Default::default()
                },
            ),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_model()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(old.value.as_deref(), Some("one"));
    let versions: Vec<_> = client
        .list_secret_properties_versions("db-password", None)
        .unwrap_or_else(|e| panic!("{e}"))
        .try_collect()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(versions.len(), 2);
    client
        .set_secret(
            "api-key",
            set("k").try_into().unwrap_or_else(|e| panic!("{e}")),
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let all: Vec<_> = client
        .list_secret_properties(None)
        .unwrap_or_else(|e| panic!("{e}"))
        .try_collect()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut names: Vec<String> = all.iter().filter_map(|p| p.id.clone()).collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            "https://shop-kv.vault.azure.net/secrets/api-key".to_string(),
            "https://shop-kv.vault.azure.net/secrets/db-password".into()
        ]
    );

    let deleted = client
        .delete_secret("db-password", None)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_model()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        deleted.recovery_id.as_deref(),
        Some("https://shop-kv.vault.azure.net/deletedsecrets/db-password")
    );
    assert!(deleted.scheduled_purge_date.is_some() && deleted.deleted_date.is_some());
    let gone = client
        .get_secret("db-password", None)
        .await
        .err()
        .map(|e| format!("{e:?}"))
        .unwrap_or_default();
    assert!(gone.contains("SecretNotFound"), "{gone}");
    let reserved = client
        .set_secret(
            "db-password",
            set("three").try_into().unwrap_or_else(|e| panic!("{e}")),
            None,
        )
        .await;
    assert!(reserved.is_err(), "the name is reserved until purged");
    client
        .purge_deleted_secret("db-password", None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    client
        .set_secret(
            "db-password",
            set("three").try_into().unwrap_or_else(|e| panic!("{e}")),
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test]
async fn secret_bodies_are_shaped_like_the_examples() {
    let (emu, arm, _vault) = with_vault("myvault").await;
    // Raw data-plane calls through the same pipeline shape: the ARM client's transport and
    // a Key Vault token (the SecretClient hides the raw bodies).
    let client = arm
        .secret_client("https://myvault.vault.azure.net/")
        .unwrap_or_else(|e| panic!("{e}"));
    let set = example("KeyVault.DataPlane.Secrets/2025-06-01/SetSecret-example.json");
    let params: SetSecretParameters =
        serde_json::from_value(set["parameters"]["parameters"].clone())
            .unwrap_or_else(|e| panic!("{e}"));
    let r = client
        .set_secret(
            "crpsecret",
            params.try_into().unwrap_or_else(|e| panic!("{e}")),
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(u16::from(r.status()), 200);
    let ours: Value = serde_json::from_slice(&r.into_body()).unwrap_or_default();
    let want = &set["responses"]["200"]["body"];
    assert_eq!(keys(&ours), keys(want));
    for k in keys(&want["attributes"]) {
        assert!(ours["attributes"].get(&k).is_some(), "attributes.{k}");
    }
    assert_eq!(ours["value"], want["value"]);
    let get = example("KeyVault.DataPlane.Secrets/2025-06-01/GetSecret-example.json");
    let r = client
        .get_secret("crpsecret", None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ours: Value = serde_json::from_slice(&r.into_body()).unwrap_or_default();
    assert_eq!(keys(&ours), keys(&get["responses"]["200"]["body"]));
    let del = example("KeyVault.DataPlane.Secrets/2025-07-01/DeleteSecret-example.json");
    let r = client
        .delete_secret("crpsecret", None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ours: Value = serde_json::from_slice(&r.into_body()).unwrap_or_default();
    assert_eq!(keys(&ours), keys(&del["responses"]["200"]["body"]));
    let purge = example("KeyVault.DataPlane.Secrets/2025-07-01/PurgeDeletedSecret-example.json");
    let r = client
        .purge_deleted_secret("crpsecret", None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        keys(&purge["responses"]),
        vec![u16::from(r.status()).to_string()]
    );
    assert!(emu.requests().0 > 0);
}
