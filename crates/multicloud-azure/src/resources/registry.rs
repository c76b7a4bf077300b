//! The container registry (`Microsoft.ContainerRegistry/registries`, api-version
//! [`CONTAINER_REGISTRY`](crate::arm::api_versions::CONTAINER_REGISTRY), after
//! `RegistryCreate.json`, `RegistryGet.json`, `RegistryDelete.json` and
//! `RegistryListCredentials.json`) with the admin user off; the spec's registries are
//! repositories in it ([`Repository`]); pull credentials through ACR's token exchange, or
//! `listCredentials` when the provider is asked to.

use async_trait::async_trait;
use multicloud_core::outputs::RegistryOutputs;
use multicloud_core::provider::{
    Observation, Observed, OpContext, Outputs, Readiness, Registry, RegistryCredentials,
    ResourceOps,
};
use multicloud_core::secret::SecretString;
use multicloud_core::{ErrorKind, ProviderError};
use serde_json::{Value, json};

use crate::arm::api_versions;
use crate::arm_ops::{arm_kind, field, owner_by_tags, tags};
use crate::context::AzureContext;
use crate::error::{Op, classify};
use crate::model::{AcrOutputs, ContainerRegistryConfig, RepositoryConfig};

/// The user name of ACR refresh tokens.
pub const TOKEN_USER: &str = "00000000-0000-0000-0000-000000000000";

arm_kind! {
    /// [`CONTAINER_REGISTRY`](crate::kinds::CONTAINER_REGISTRY).
    ContainerRegistry: "Microsoft.ContainerRegistry/registries", api_versions::CONTAINER_REGISTRY, named in the group of ContainerRegistryConfig;
    async fn body(&self, _az: &AzureContext, ctx: &OpContext<'_>) -> Result<Value, ProviderError> {
        let c: ContainerRegistryConfig = ctx.config()?;
        Ok(json!({
            "location": ctx.stack.region,
            "tags": tags(ctx),
            "sku": {"name": c.sku},
            "properties": {"adminUserEnabled": false},
        }))
    }
    /// The admin user stays off (pulls use identities and tokens).
    fn drift_checked(&self) -> &'static [&'static str] {
        &["/properties/adminUserEnabled"]
    }
    fn outputs(&self, _ctx: &OpContext<'_>, body: &Value) -> Result<Outputs, ProviderError> {
        Outputs::of(&AcrOutputs {
            id: field(body, "/id", "registry")?.to_string(),
            name: field(body, "/name", "registry")?.to_string(),
            login_server: field(body, "/properties/loginServer", "registry")?.to_string(),
        })
    }
}

/// [`ResourceKind::REGISTRY`](multicloud_core::resource::ResourceKind::REGISTRY): a
/// repository of the ACR. Repositories appear on first push and go with the registry, so
/// create and delete make no call; observe reads the registry.
/// Also the provider's [`Registry`]: pull credentials for a repository.
#[derive(Debug)]
pub struct Repository {
    az: std::sync::Arc<AzureContext>,
    admin_pull_credentials: bool,
}

impl Repository {
    /// On the shared context.
    pub fn new(az: std::sync::Arc<AzureContext>) -> Self {
        Self {
            az,
            admin_pull_credentials: false,
        }
    }

    /// Makes [`Registry::pull_credentials`] use `listCredentials` instead of the token
    /// exchange.
    #[must_use]
    pub fn with_admin_pull_credentials(mut self, on: bool) -> Self {
        self.admin_pull_credentials = on;
        self
    }

    fn outputs(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        let c: RepositoryConfig = ctx.config()?;
        let acr: AcrOutputs = ctx.dep(&c.registry)?;
        Outputs::of(&RegistryOutputs {
            id: format!("{}/repositories/{}", acr.id, ctx.resource.name),
            name: ctx.resource.name.clone(),
            url: format!("{}/{}", acr.login_server, ctx.resource.name),
        })
    }
}

#[async_trait]
impl ResourceOps for Repository {
    async fn observe(&self, ctx: &OpContext<'_>) -> Result<Observation, ProviderError> {
        let c: RepositoryConfig = ctx.config()?;
        let Some(id) = ctx.dep_outputs(&c.registry).ok().and_then(|o| o.cloud_id()) else {
            return Ok(Observation::Absent);
        };
        let acr = self
            .az
            .arm
            .get_optional::<Value>(id, api_versions::CONTAINER_REGISTRY)
            .await
            .map_err(|e| classify(e, Op::Read, "GET registry"))?;
        Ok(match acr {
            None => Observation::Absent,
            Some(body) => Observation::Present(Observed {
                provider_id: None,
                owner: owner_by_tags(ctx, &body),
                outputs: self.outputs(ctx)?,
                drift: None,
                expires_at: None,
                unhealthy: None,
            }),
        })
    }
    async fn create(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        self.outputs(ctx)
    }
    async fn delete(&self, _ctx: &OpContext<'_>) -> Result<(), ProviderError> {
        Ok(())
    }
    async fn gone(&self, _ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        Ok(Readiness::ready())
    }
}

/// The login server of a repository URL (`shopacr.azurecr.io/api` -> `shopacr.azurecr.io`).
#[async_trait]
impl Registry for Repository {
    async fn pull_credentials(
        &self,
        registry: &Outputs,
    ) -> Result<RegistryCredentials, ProviderError> {
        pull_credentials(&self.az, registry, self.admin_pull_credentials).await
    }
}

fn login_server(url: &str) -> &str {
    url.split('/').next().unwrap_or(url)
}

/// Pull credentials for the repository whose outputs are `registry`: an ACR refresh token
/// from the token exchange (`POST https://<login server>/oauth2/exchange` with an Entra
/// token for ARM), or, with `admin`, the admin user from `listCredentials`.
pub async fn pull_credentials(
    az: &AzureContext,
    registry: &Outputs,
    admin: bool,
) -> Result<RegistryCredentials, ProviderError> {
    let url = registry
        .get_str("url")
        .ok_or_else(|| ProviderError::invalid("registry outputs have no `url`"))?;
    let server = login_server(url).to_string();
    if admin {
        let id = registry.cloud_id().unwrap_or_default();
        let acr = id.split("/repositories/").next().unwrap_or(id);
        return list_credentials(az, acr, &server).await;
    }
    let token = az
        .arm
        .token()
        .await
        .map_err(|e| classify(e, Op::Read, "Entra token for ACR"))?;
    let form = format!(
        "grant_type=access_token&service={server}&tenant={}&access_token={}",
        az.tenant,
        token.expose()
    );
    let exchange = url::Url::parse(&format!("https://{server}/oauth2/exchange"))
        .map_err(|e| ProviderError::invalid(format!("ACR exchange URL: {e}")))?;
    let response = az
        .arm
        .post_form(exchange, form)
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| classify(e, Op::Read, "ACR token exchange"))?;
    let body: Value = response
        .json()
        .map_err(|e| classify(e, Op::Read, "ACR token exchange"))?;
    let refresh = field(&body, "/refresh_token", "ACR token exchange")?;
    Ok(RegistryCredentials {
        server,
        username: TOKEN_USER.to_string(),
        password: SecretString::new(refresh),
        expires_at: Some(chrono::Utc::now() + chrono::Duration::hours(3)),
    })
}

/// `POST <registry>/listCredentials`: the admin user (fails while it is off, as on Azure).
async fn list_credentials(
    az: &AzureContext,
    acr_id: &str,
    server: &str,
) -> Result<RegistryCredentials, ProviderError> {
    let body = az
        .arm
        .post_action(acr_id, "listCredentials", api_versions::CONTAINER_REGISTRY)
        .await
        .map_err(|e| classify(e, Op::Read, "listCredentials"))?;
    let user = field(&body, "/username", "listCredentials")?.to_string();
    let password = field(&body, "/passwords/0/value", "listCredentials")?;
    if user.is_empty() {
        return Err(ProviderError::new(
            ErrorKind::Unauthorized,
            "ACR admin user is off",
        ));
    }
    Ok(RegistryCredentials {
        server: server.to_string(),
        username: user,
        password: SecretString::new(password),
        expires_at: None,
    })
}
