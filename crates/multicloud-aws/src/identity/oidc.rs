//! The IAM OpenID Connect provider registering the EKS cluster's issuer, which IRSA roles
//! trust.

use std::collections::BTreeMap;

use async_trait::async_trait;
use multicloud_core::provider::{Observation, Observed, OpContext, Outputs, Owner, ResourceOps};
use multicloud_core::{ErrorKind, ProviderError};

use crate::clients::AwsClients;
use crate::error::{Op, classify};
use crate::expand::ids;
use crate::model::{OidcConfig, OidcOutputs};
use crate::support::{deleted, foreign, kind_ops, none_if_not_found, read_or_none, sweep_with};
use crate::tagging::{desired_tags, iam_tag_map, iam_tags, judge};

/// The thumbprint registered with the provider: the SHA-1 of the root CA of the EKS issuer
/// endpoints (Amazon Root CA 1 / Starfield chain). IAM no longer validates thumbprints for
/// issuers hosted by AWS (EKS included: it trusts them through its own CA library), but the
/// API still requires one 40-hex-digit value.
pub const EKS_OIDC_THUMBPRINT: &str = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280";

/// The issuer without its scheme and trailing slash (`oidc.eks.<region>.amazonaws.com/id/X`),
/// as IAM writes it in provider ARNs and condition keys.
pub fn issuer_host_path(issuer: &str) -> &str {
    issuer
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/')
}

/// `arn:<partition>:iam::<account>:oidc-provider/<issuer host/path>`.
pub(crate) async fn provider_arn(c: &AwsClients, issuer: &str) -> Result<String, ProviderError> {
    c.arn(
        "iam",
        true,
        &format!("oidc-provider/{}", issuer_host_path(issuer)),
    )
    .await
}

/// A registered provider.
#[derive(Debug, Clone)]
pub(crate) struct LiveProvider {
    pub(crate) arn: String,
    pub(crate) url: String,
    pub(crate) client_ids: Vec<String>,
    pub(crate) tags: BTreeMap<String, String>,
}

/// Every registered provider ARN (`ListOpenIDConnectProviders`).
pub(crate) async fn list_provider_arns(c: &AwsClients) -> Result<Vec<String>, ProviderError> {
    let out = c
        .iam
        .list_open_id_connect_providers()
        .send()
        .await
        .map_err(|e| classify(e, Op::Read, "iam ListOpenIDConnectProviders"))?;
    Ok(out
        .open_id_connect_provider_list()
        .iter()
        .filter_map(|p| p.arn().map(str::to_string))
        .collect())
}

/// The provider with `arn` (listed, then read with its tags), or `None`.
pub(crate) async fn find_provider(
    c: &AwsClients,
    arn: &str,
) -> Result<Option<LiveProvider>, ProviderError> {
    if !list_provider_arns(c).await?.iter().any(|a| a == arn) {
        return Ok(None);
    }
    get_provider(c, arn).await
}

/// `GetOpenIDConnectProvider` with its tags, or `None`.
pub(crate) async fn get_provider(
    c: &AwsClients,
    arn: &str,
) -> Result<Option<LiveProvider>, ProviderError> {
    let out = read_or_none(
        c.iam
            .get_open_id_connect_provider()
            .open_id_connect_provider_arn(arn)
            .send()
            .await,
        "iam GetOpenIDConnectProvider",
    )?;
    let Some(out) = out else {
        return Ok(None);
    };
    let tags = if out.tags().is_empty() {
        let listed = c
            .iam
            .list_open_id_connect_provider_tags()
            .open_id_connect_provider_arn(arn)
            .send()
            .await
            .map_err(|e| classify(e, Op::Read, "iam ListOpenIDConnectProviderTags"));
        none_if_not_found(listed)?
            .map(|o| iam_tag_map(o.tags()))
            .unwrap_or_default()
    } else {
        iam_tag_map(out.tags())
    };
    Ok(Some(LiveProvider {
        arn: arn.to_string(),
        url: issuer_host_path(out.url().unwrap_or_default()).to_string(),
        client_ids: out.client_id_list().to_vec(),
        tags,
    }))
}

/// Registers `issuer` for `audience`, tagged. `Ok(None)` when it exists already (the caller
/// judges it).
pub(crate) async fn create_provider(
    c: &AwsClients,
    issuer: &str,
    audience: &str,
    tags: &BTreeMap<String, String>,
) -> Result<Option<String>, ProviderError> {
    let r = c
        .iam
        .create_open_id_connect_provider()
        .url(format!("https://{}", issuer_host_path(issuer)))
        .client_id_list(audience)
        .thumbprint_list(EKS_OIDC_THUMBPRINT)
        .set_tags(Some(iam_tags(tags)?))
        .send()
        .await
        .map_err(|e| classify(e, Op::Create, "iam CreateOpenIDConnectProvider"));
    match r {
        Ok(out) => out
            .open_id_connect_provider_arn()
            .map(|a| Some(a.to_string()))
            .ok_or_else(|| {
                ProviderError::invalid("iam CreateOpenIDConnectProvider returned no ARN")
            }),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(None),
        Err(e) => Err(e),
    }
}

/// Adds `audience` to an adopted provider that lacks it.
pub(crate) async fn ensure_audience(
    c: &AwsClients,
    p: &LiveProvider,
    audience: &str,
) -> Result<(), ProviderError> {
    if p.client_ids.iter().any(|id| id == audience) {
        return Ok(());
    }
    c.iam
        .add_client_id_to_open_id_connect_provider()
        .open_id_connect_provider_arn(&p.arn)
        .client_id(audience)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| classify(e, Op::Update, "iam AddClientIDToOpenIDConnectProvider"))
}

/// Deletes the provider with `arn`; a missing one is not an error.
pub(crate) async fn delete_oidc_provider(c: &AwsClients, arn: &str) -> Result<(), ProviderError> {
    deleted(
        c.iam
            .delete_open_id_connect_provider()
            .open_id_connect_provider_arn(arn)
            .send()
            .await,
        "iam DeleteOpenIDConnectProvider",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_host_path_drops_scheme_and_trailing_slash() {
        assert_eq!(
            issuer_host_path("https://oidc.eks.us-east-1.amazonaws.com/id/ABC/"),
            "oidc.eks.us-east-1.amazonaws.com/id/ABC"
        );
        assert_eq!(
            issuer_host_path("oidc.example.com/id/1"),
            "oidc.example.com/id/1"
        );
        assert_eq!(EKS_OIDC_THUMBPRINT.len(), 40);
    }
}

kind_ops! {
    /// The cluster's IAM OIDC identity provider
    /// ([`kinds::OIDC_PROVIDER`](crate::kinds::OIDC_PROVIDER)), found by its ARN
    /// (`arn:<partition>:iam::<account>:oidc-provider/<issuer host/path>`).
    OidcProvider;
}

fn oidc_outputs(arn: &str, issuer: &str) -> Result<Outputs, ProviderError> {
    Outputs::of(&OidcOutputs {
        id: arn.to_string(),
        url: issuer_host_path(issuer).to_string(),
    })
}

impl OidcProvider {
    /// The ARN of the provider of `ctx`: recorded, else derived from the cluster's issuer.
    /// `None` when neither is known (no cluster yet: no provider either).
    async fn arn(&self, ctx: &OpContext<'_>) -> Result<Option<String>, ProviderError> {
        if let Some(arn) = ctx.recorded.and_then(|o| o.cloud_id()) {
            return Ok(Some(arn.to_string()));
        }
        match ctx.dep_str(&ids::cluster(), "oidc_issuer") {
            Ok(issuer) => provider_arn(&self.clients, issuer).await.map(Some),
            Err(_) => Ok(None),
        }
    }
}

#[async_trait]
impl ResourceOps for OidcProvider {
    async fn observe(&self, ctx: &OpContext<'_>) -> Result<Observation, ProviderError> {
        let Some(arn) = self.arn(ctx).await? else {
            return Ok(Observation::Absent);
        };
        Ok(match find_provider(&self.clients, &arn).await? {
            None => Observation::Absent,
            Some(p) => Observation::Present(Observed {
                provider_id: Some(p.arn.clone()),
                owner: judge(&ctx.stack.ownership, &p.tags),
                outputs: oidc_outputs(&p.arn, &p.url)?,
                drift: None,
                expires_at: None,
                unhealthy: None,
            }),
        })
    }

    async fn create(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        let c = &self.clients;
        let issuer = ctx.dep_str(&ids::cluster(), "oidc_issuer")?;
        let OidcConfig { audience } = ctx.config()?;
        let audience = audience.as_str();
        let arn = provider_arn(c, issuer).await?;
        let existing = match find_provider(c, &arn).await? {
            Some(p) => Some(p),
            None => {
                let tags = desired_tags(&ctx.resource.name, &ctx.resource.tags, &[]);
                match create_provider(c, issuer, audience, &tags).await? {
                    Some(created) => return oidc_outputs(&created, issuer),
                    None => get_provider(c, &arn).await?,
                }
            }
        };
        let p = existing.ok_or_else(|| {
            ProviderError::new(
                ErrorKind::EventualConsistency,
                format!("OIDC provider {arn} not visible yet"),
            )
        })?;
        match judge(&ctx.stack.ownership, &p.tags) {
            Owner::Us => {
                ensure_audience(c, &p, audience).await?;
                oidc_outputs(&p.arn, &p.url)
            }
            owner => Err(foreign(ctx.resource.id.as_str(), &arn, &owner)),
        }
    }

    async fn delete(&self, ctx: &OpContext<'_>) -> Result<(), ProviderError> {
        let c = &self.clients;
        if let Some(arn) = ctx.recorded.and_then(|o| o.cloud_id()) {
            return delete_oidc_provider(c, arn).await;
        }
        let Some(arn) = self.arn(ctx).await? else {
            return Ok(());
        };
        match find_provider(c, &arn).await? {
            None => Ok(()),
            Some(p) => match judge(&ctx.stack.ownership, &p.tags) {
                Owner::Us => delete_oidc_provider(c, &arn).await,
                owner => Err(foreign(ctx.resource.id.as_str(), &arn, &owner)),
            },
        }
    }
}

sweep_with!(OidcProvider => delete_oidc_provider(id));
