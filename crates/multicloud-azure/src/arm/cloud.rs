//! The endpoints of an Azure cloud: public by default, the sovereign clouds by name, or any
//! other set (Azure Stack, a test double) given in full.

use std::sync::Arc;

use azure_core::cloud::CloudConfiguration;

/// The endpoints of one Azure cloud.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureCloud {
    /// The ARM endpoint (`https://management.azure.com`), without a trailing slash.
    pub resource_manager: String,
    /// The token scope of ARM (`https://management.azure.com/.default`).
    pub arm_scope: String,
    /// The DNS suffix of Key Vault data-plane hosts (`vault.azure.net`).
    pub key_vault_suffix: String,
    /// The Entra ID authority host (`https://login.microsoftonline.com`).
    pub authority_host: String,
}

impl Default for AzureCloud {
    fn default() -> Self {
        Self::public()
    }
}

impl AzureCloud {
    /// Azure public cloud.
    pub fn public() -> Self {
        Self::new(
            "https://management.azure.com",
            "vault.azure.net",
            "https://login.microsoftonline.com",
        )
    }

    /// Azure China (21Vianet).
    pub fn china() -> Self {
        Self::new(
            "https://management.chinacloudapi.cn",
            "vault.azure.cn",
            "https://login.chinacloudapi.cn",
        )
    }

    /// Azure US Government.
    pub fn us_government() -> Self {
        Self::new(
            "https://management.usgovcloudapi.net",
            "vault.usgovcloudapi.net",
            "https://login.microsoftonline.us",
        )
    }

    /// A cloud with these endpoints; the ARM scope is `<resource_manager>/.default`.
    pub fn new(resource_manager: &str, key_vault_suffix: &str, authority_host: &str) -> Self {
        let resource_manager = resource_manager.trim_end_matches('/').to_string();
        Self {
            arm_scope: format!("{resource_manager}/.default"),
            resource_manager,
            key_vault_suffix: key_vault_suffix.trim_matches('.').to_string(),
            authority_host: authority_host.trim_end_matches('/').to_string(),
        }
    }

    /// The data-plane URL of vault `name` (`https://<name>.vault.azure.net/`).
    pub fn vault_url(&self, name: &str) -> String {
        format!("https://{name}.{}/", self.key_vault_suffix)
    }

    /// The cloud as azure_identity's credentials take it.
    pub fn configuration(&self) -> Arc<CloudConfiguration> {
        let known = [
            (Self::public(), CloudConfiguration::AzurePublic),
            (Self::china(), CloudConfiguration::AzureChina),
            (Self::us_government(), CloudConfiguration::AzureGovernment),
        ];
        let config = known
            .into_iter()
            .find(|(c, _)| c.authority_host == self.authority_host)
            .map(|(_, conf)| conf)
            .unwrap_or_else(|| {
                let mut custom = azure_core::cloud::CustomConfiguration::default();
                custom.authority_host = self.authority_host.clone();
                custom.into()
            });
        Arc::new(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clouds_and_scopes() {
        let public = AzureCloud::default();
        assert_eq!(public.arm_scope, "https://management.azure.com/.default");
        assert_eq!(public.vault_url("kv1"), "https://kv1.vault.azure.net/");
        let cn = AzureCloud::china();
        assert_eq!(cn.arm_scope, "https://management.chinacloudapi.cn/.default");
        assert_eq!(*cn.configuration(), CloudConfiguration::AzureChina);
        let stack = AzureCloud::new(
            "https://management.local/",
            ".vault.local",
            "https://login.local/",
        );
        assert_eq!(stack.vault_url("kv"), "https://kv.vault.local/");
        assert!(matches!(
            *stack.configuration(),
            CloudConfiguration::Custom(_)
        ));
    }
}
