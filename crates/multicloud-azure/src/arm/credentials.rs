//! Where the ARM token comes from: one of azure_identity 1.0's credentials, picked by the
//! builder or from the usual `AZURE_*` environment variables.

use std::sync::Arc;

use azure_core::credentials::{Secret, TokenCredential};
use azure_core::http::ClientOptions;
use azure_identity::{
    ClientSecretCredential, ClientSecretCredentialOptions, DeveloperToolsCredential,
    ManagedIdentityCredential, ManagedIdentityCredentialOptions, UserAssignedId,
    WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};
use multicloud_core::SecretString;

use super::cloud::AzureCloud;
use crate::error::ArmError;

/// A credential choice.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum CredentialSource {
    /// A service principal with a client secret.
    ClientSecret {
        /// Tenant (directory) id.
        tenant_id: String,
        /// Client (application) id.
        client_id: String,
        /// The secret.
        secret: SecretString,
    },
    /// Workload identity federation (AKS, GitHub Actions): tenant, client and token file from
    /// `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_FEDERATED_TOKEN_FILE` unless given.
    WorkloadIdentity {
        /// Tenant id (else `AZURE_TENANT_ID`).
        tenant_id: Option<String>,
        /// Client id (else `AZURE_CLIENT_ID`).
        client_id: Option<String>,
        /// Token file (else `AZURE_FEDERATED_TOKEN_FILE`).
        token_file: Option<std::path::PathBuf>,
    },
    /// A managed identity: system-assigned, or the user-assigned one with this client id.
    ManagedIdentity {
        /// Client id of a user-assigned identity.
        client_id: Option<String>,
    },
    /// The developer's `az` / `azd` login.
    DeveloperTools,
    /// A credential built elsewhere (tests use the emulator's fake one).
    Custom(Arc<dyn TokenCredential>),
}

impl CredentialSource {
    /// The credential the environment asks for, looked up with `var`:
    /// `AZURE_TENANT_ID` + `AZURE_CLIENT_ID` + `AZURE_CLIENT_SECRET` -> client secret;
    /// `AZURE_FEDERATED_TOKEN_FILE` -> workload identity; `IDENTITY_ENDPOINT` or
    /// `MSI_ENDPOINT` (App Service, Arc, Cloud Shell) -> managed identity (user-assigned when
    /// `AZURE_CLIENT_ID` is set); otherwise the developer tools.
    pub fn from_env_with(var: impl Fn(&str) -> Option<String>) -> Self {
        let get = |k: &str| var(k).filter(|v| !v.is_empty());
        if let (Some(tenant_id), Some(client_id), Some(secret)) = (
            get("AZURE_TENANT_ID"),
            get("AZURE_CLIENT_ID"),
            get("AZURE_CLIENT_SECRET"),
        ) {
            return Self::ClientSecret {
                tenant_id,
                client_id,
                secret: SecretString::new(secret),
            };
        }
        if get("AZURE_FEDERATED_TOKEN_FILE").is_some() {
            return Self::WorkloadIdentity {
                tenant_id: None,
                client_id: None,
                token_file: None,
            };
        }
        if get("IDENTITY_ENDPOINT").is_some() || get("MSI_ENDPOINT").is_some() {
            return Self::ManagedIdentity {
                client_id: get("AZURE_CLIENT_ID"),
            };
        }
        Self::DeveloperTools
    }

    /// [`from_env_with`](Self::from_env_with) over the process environment.
    pub fn from_env() -> Self {
        Self::from_env_with(|k| std::env::var(k).ok())
    }

    /// A short name for logs (never a secret).
    pub fn name(&self) -> &'static str {
        match self {
            Self::ClientSecret { .. } => "client-secret",
            Self::WorkloadIdentity { .. } => "workload-identity",
            Self::ManagedIdentity { .. } => "managed-identity",
            Self::DeveloperTools => "developer-tools",
            Self::Custom(_) => "custom",
        }
    }

    /// Builds the credential for `cloud`.
    pub fn build(&self, cloud: &AzureCloud) -> Result<Arc<dyn TokenCredential>, ArmError> {
        let client_options = ClientOptions {
            cloud: Some(cloud.configuration()),
            ..Default::default()
        };
        let err = |e: azure_core::Error| ArmError::Credential {
            message: format!("{}: {e}", self.name()),
        };
        Ok(match self {
            Self::ClientSecret {
                tenant_id,
                client_id,
                secret,
            } => ClientSecretCredential::new(
                tenant_id,
                client_id.clone(),
                Secret::new(secret.expose().to_string()),
                Some(ClientSecretCredentialOptions { client_options }),
            )
            .map_err(err)?,
            Self::WorkloadIdentity {
                tenant_id,
                client_id,
                token_file,
            } => {
                let mut options = WorkloadIdentityCredentialOptions {
                    tenant_id: tenant_id.clone(),
                    client_id: client_id.clone(),
                    token_file_path: token_file.clone(),
                    ..Default::default()
                };
                options.credential_options.client_options = client_options;
                WorkloadIdentityCredential::new(Some(options)).map_err(err)?
            }
            Self::ManagedIdentity { client_id } => {
                ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
                    user_assigned_id: client_id.clone().map(UserAssignedId::ClientId),
                    client_options,
                }))
                .map_err(err)?
            }
            Self::DeveloperTools => DeveloperToolsCredential::new(None).map_err(err)?,
            Self::Custom(c) => c.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn pick(vars: &[(&str, &str)]) -> &'static str {
        let env: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        CredentialSource::from_env_with(|k| env.get(k).cloned()).name()
    }

    #[test]
    fn the_environment_picks_the_credential() {
        let sp = [
            ("AZURE_TENANT_ID", "72f988bf-86f1-41af-91ab-2d7cd011db47"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_SECRET", "s"),
        ];
        assert_eq!(pick(&sp), "client-secret");
        assert_eq!(
            pick(&[("AZURE_FEDERATED_TOKEN_FILE", "/var/run/token")]),
            "workload-identity"
        );
        assert_eq!(
            pick(&[("IDENTITY_ENDPOINT", "http://169.254.169.254")]),
            "managed-identity"
        );
        assert_eq!(pick(&[("AZURE_CLIENT_SECRET", "")]), "developer-tools");
        assert_eq!(pick(&[]), "developer-tools");
    }

    #[test]
    fn a_client_secret_credential_builds_for_every_cloud_and_hides_its_secret() {
        let source = CredentialSource::ClientSecret {
            tenant_id: "72f988bf-86f1-41af-91ab-2d7cd011db47".into(),
            client_id: "app".into(),
            secret: SecretString::new("hunter2"),
        };
        assert!(!format!("{source:?}").contains("hunter2"));
        for cloud in [
            AzureCloud::public(),
            AzureCloud::china(),
            AzureCloud::us_government(),
        ] {
            assert!(source.build(&cloud).is_ok());
        }
        let bad = CredentialSource::ClientSecret {
            tenant_id: "not a tenant!".into(),
            client_id: "app".into(),
            secret: SecretString::new("x"),
        };
        assert!(matches!(
            bad.build(&AzureCloud::public()),
            Err(ArmError::Credential { .. })
        ));
    }
}
