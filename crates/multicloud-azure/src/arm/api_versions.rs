//! Every api-version this crate sends, pinned in one place. Each names the example file (in
//! `Azure/azure-rest-api-specs`, copied under `shared/azure-arm-examples/`) whose request and
//! response shapes the models follow.
//!
//! Polling URLs (`Azure-AsyncOperation`, `Location`) carry their own api-version and are
//! used verbatim: none of these is ever put on them.

/// `Microsoft.Resources` resource groups. Follows
/// `Microsoft.Resources/2025-04-01/CreateResourceGroup.json`, `ResourceGroups_Get.json` and
/// `ForceDeleteVMsInResourceGroup.json` (delete: 202 + `location` polled at its own
/// api-version 2018-08-01).
pub const RESOURCES: &str = "2025-04-01";

/// `Microsoft.ContainerService` managed clusters and agent pools. Follows
/// `Microsoft.ContainerService/2026-08-01/ManagedClustersCreate_Update.json`,
/// `ManagedClustersGet.json`, `ManagedClustersDelete.json`,
/// `ManagedClustersListClusterUserCredentials.json`, `AgentPoolsCreate_Update.json` and
/// `AgentPoolsDelete.json`.
pub const CONTAINER_SERVICE: &str = "2026-08-01";

/// `Microsoft.ContainerRegistry` registries. Follows
/// `Microsoft.ContainerRegistry/2025-11-01/RegistryCreate.json`, `RegistryGet.json`,
/// `RegistryDelete.json` and `RegistryListCredentials.json`.
pub const CONTAINER_REGISTRY: &str = "2025-11-01";

/// `Microsoft.KeyVault` vaults (management plane). Follows
/// `Microsoft.KeyVault/2026-02-01/createVault.json`, `getVault.json`, `deleteVault.json`,
/// `getDeletedVault.json` and `purgeDeletedVault.json`.
pub const KEY_VAULT: &str = "2026-02-01";

/// Key Vault secrets (data plane), the version `azure_security_keyvault_secrets` 1.0.1 sends.
/// Follows `KeyVault.DataPlane.Secrets/2025-07-01/DeleteSecret-example.json` and
/// `PurgeDeletedSecret-example.json`; set/get follow the 2025-06-01 examples
/// (`SetSecret-example.json`, `GetSecret-example.json`), the newest with those operations.
pub const KEY_VAULT_SECRETS: &str = "2025-07-01";

/// `Microsoft.ManagedIdentity` user-assigned identities and federated identity credentials.
/// Follows `Microsoft.ManagedIdentity/2026-05-31/IdentityCreate.json`, `IdentityGet.json`,
/// `IdentityDelete.json` and `FederatedIdentityCredentialCreate.json`.
pub const MANAGED_IDENTITY: &str = "2026-05-31";

/// `Microsoft.Authorization` role assignments. Follows
/// `Microsoft.Authorization/2026-08-01/RoleAssignments_CreateForResourceGroup.json`,
/// `RoleAssignments_Get.json` and `RoleAssignments_Delete.json`.
pub const AUTHORIZATION: &str = "2026-08-01";

/// `Microsoft.DBforPostgreSQL` flexible servers. Follows
/// `Microsoft.DBforPostgreSQL/2025-08-01/ServersCreateInMicrosoftOwnedVirtualNetworkWithZoneRedundantHighAvailability.json`
/// (202 + `Azure-AsyncOperation` + `Location`, polled at 2025-06-01-preview),
/// `ServersGet.json` and `ServersDelete.json`.
pub const POSTGRESQL: &str = "2025-08-01";

/// `Microsoft.Network` virtual networks (subnets inline). Follows
/// `specification/network/resource-manager/Microsoft.Network/stable/2025-05-01/examples/VirtualNetworkCreateSubnetWithDelegation.json`
/// (in `Azure/azure-rest-api-specs`): `addressSpace.addressPrefixes`, `subnets[].properties`
/// with `addressPrefix` and `delegations[].properties.serviceName`.
pub const NETWORK: &str = "2025-05-01";

/// `Microsoft.Network` private DNS zones and their virtual network links (a separate
/// api-version line from the rest of Microsoft.Network). Follows
/// `specification/privatedns/resource-manager/Microsoft.Network/stable/2024-06-01/examples/PrivateZonePut.json`
/// and `VirtualNetworkLinkPut.json`: location `global`, link `properties.virtualNetwork.id`
/// and `registrationEnabled`.
pub const PRIVATE_DNS: &str = "2024-06-01";

/// `Microsoft.Cache` Azure Managed Redis (`redisEnterprise` clusters and their databases).
/// Follows
/// `specification/redisenterprise/resource-manager/Microsoft.Cache/RedisEnterprise/stable/2025-07-01/examples/RedisEnterpriseCreate.json`
/// (the first stable version whose example sets `properties.publicNetworkAccess`),
/// `RedisEnterpriseDatabasesCreate.json` and `RedisEnterpriseDatabasesListKeys.json`: `sku.name`
/// (`Balanced_B0`), `properties.hostName`, database `port` 10000 and `listKeys` ->
/// `primaryKey`/`secondaryKey`.
pub const REDIS_ENTERPRISE: &str = "2025-07-01";

/// Every pinned version with its provider namespace, for the docs and the emulator.
pub const ALL: &[(&str, &str)] = &[
    ("Microsoft.Resources", RESOURCES),
    ("Microsoft.ContainerService", CONTAINER_SERVICE),
    ("Microsoft.ContainerRegistry", CONTAINER_REGISTRY),
    ("Microsoft.KeyVault", KEY_VAULT),
    ("Microsoft.ManagedIdentity", MANAGED_IDENTITY),
    ("Microsoft.Authorization", AUTHORIZATION),
    ("Microsoft.DBforPostgreSQL", POSTGRESQL),
    ("Microsoft.Network", NETWORK),
    ("Microsoft.Cache", REDIS_ENTERPRISE),
];

/// The pinned api-version of provider `namespace` (case-insensitive).
pub fn for_namespace(namespace: &str) -> Option<&'static str> {
    ALL.iter()
        .find(|(ns, _)| ns.eq_ignore_ascii_case(namespace))
        .map(|(_, v)| *v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_version_is_a_dated_stable_version() {
        for (ns, v) in ALL
            .iter()
            .chain([("data-plane", KEY_VAULT_SECRETS), ("dns", PRIVATE_DNS)].iter())
        {
            let parts: Vec<&str> = v.split('-').collect();
            assert_eq!(parts.len(), 3, "{ns} {v}: stable versions are YYYY-MM-DD");
            assert!(
                parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit())),
                "{ns} {v}"
            );
        }
        assert_eq!(for_namespace("microsoft.keyvault"), Some(KEY_VAULT));
        assert_eq!(for_namespace("Microsoft.Nope"), None);
    }
}
