//! ECR: repositories and pull credentials ([`EcrRegistry`]).
//!
//! Config contract (see [`crate::expand`]): `{keep_images, scan_on_push}`; the physical name
//! is `<stack>-<env>/<name>`. Outputs: `name`, `arn`, `url` (the repository URI).
//!
//! The lifecycle policy expires everything but the newest `keep_images` images. Deleting a
//! repository uses `force`, so images in it go with it.

use async_trait::async_trait;
use aws_sdk_ecr::types::{ImageScanningConfiguration, Repository, Tag};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use multicloud_core::observation::{Drift, FieldDrift};
use multicloud_core::outputs::RegistryOutputs;
use multicloud_core::provider::{
    Observation, OpContext, Outputs, Registry, RegistryCredentials, ResourceOps,
};
use multicloud_core::{ErrorKind, ProviderError, SecretString};
use serde_json::json;

use crate::clients::AwsClients;
use crate::error::{Op, classify};
use crate::model::RegistryConfig;
use crate::support::{
    deleted, ensure_ours, kind_ops, observed, read_or_none, sweep_with, tag_pairs,
};

kind_ops! {
    /// ECR repositories ([`ResourceKind::REGISTRY`]), updated in place; also the provider's
    /// [`Registry`] (pull credentials).
    ///
    /// [`ResourceKind::REGISTRY`]: multicloud_core::resource::ResourceKind::REGISTRY
    EcrRegistry;
}

/// The lifecycle policy keeping the newest `keep` images (any tag status) and expiring the
/// rest.
pub fn lifecycle_policy(keep: u64) -> String {
    json!({
        "rules": [{
            "rulePriority": 1,
            "description": format!("keep the newest {keep} images"),
            "selection": {
                "tagStatus": "any",
                "countType": "imageCountMoreThan",
                "countNumber": keep,
            },
            "action": { "type": "expire" },
        }]
    })
    .to_string()
}

/// A repository and its tags, `None` if it does not exist.
async fn describe_repository(
    clients: &AwsClients,
    name: &str,
) -> Result<Option<(Repository, Vec<Tag>)>, ProviderError> {
    let res = clients
        .ecr
        .describe_repositories()
        .repository_names(name)
        .send()
        .await;
    let out = read_or_none(res, "ecr DescribeRepositories")?;
    let Some(repo) = out.and_then(|o| o.repositories().first().cloned()) else {
        return Ok(None);
    };
    let arn = repo.repository_arn().unwrap_or_default();
    let tags = clients
        .ecr
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(|e| classify(e, Op::Read, "ecr ListTagsForResource"))?;
    Ok(Some((repo, tags.tags().to_vec())))
}

fn repo_outputs(repo: &Repository) -> Result<Outputs, ProviderError> {
    Outputs::of(&RegistryOutputs {
        id: repo.repository_arn().unwrap_or_default().to_string(),
        name: repo.repository_name().unwrap_or_default().to_string(),
        url: repo.repository_uri().unwrap_or_default().to_string(),
    })
}

/// Deletes repository `name` with every image in it. Succeeds if it does not exist.
pub(crate) async fn delete_repository_force(
    clients: &AwsClients,
    name: &str,
) -> Result<(), ProviderError> {
    let res = clients
        .ecr
        .delete_repository()
        .repository_name(name)
        .force(true)
        .send()
        .await;
    deleted(res, "ecr DeleteRepository")
}

impl EcrRegistry {
    fn keep_images(ctx: &OpContext<'_>) -> Result<u64, ProviderError> {
        let RegistryConfig { keep_images, .. } = ctx.config()?;
        if keep_images == 0 {
            return Err(ProviderError::invalid(format!(
                "{}: `keep_images` must be a positive integer",
                ctx.resource.id
            )));
        }
        Ok(u64::from(keep_images))
    }

    fn scan_on_push(ctx: &OpContext<'_>) -> Result<bool, ProviderError> {
        Ok(ctx.config::<RegistryConfig>()?.scan_on_push)
    }

    async fn put_lifecycle(&self, ctx: &OpContext<'_>) -> Result<(), ProviderError> {
        self.clients
            .ecr
            .put_lifecycle_policy()
            .repository_name(&ctx.resource.name)
            .lifecycle_policy_text(lifecycle_policy(Self::keep_images(ctx)?))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify(e, Op::Update, "ecr PutLifecyclePolicy"))
    }

    async fn create_repository(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        let name = &ctx.resource.name;
        if let Some((repo, tags)) = describe_repository(&self.clients, name).await? {
            ensure_ours(ctx, tag_pairs(&tags))?;
            // Finish what an interrupted create may have left undone.
            self.put_lifecycle(ctx).await?;
            return repo_outputs(&repo);
        }
        let tags = ctx
            .resource
            .tags
            .iter()
            .map(|(k, v)| {
                Tag::builder().key(k).value(v).build().map_err(|e| {
                    ProviderError::invalid(format!("{}: tag {k}: {e}", ctx.resource.id))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        // Validate before creating anything.
        Self::keep_images(ctx)?;
        let out = self
            .clients
            .ecr
            .create_repository()
            .repository_name(name)
            .image_scanning_configuration(
                ImageScanningConfiguration::builder()
                    .scan_on_push(Self::scan_on_push(ctx)?)
                    .build(),
            )
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| classify(e, Op::Create, "ecr CreateRepository"))?;
        self.put_lifecycle(ctx).await?;
        match out.repository() {
            Some(repo) => repo_outputs(repo),
            None => Err(ProviderError::new(
                ErrorKind::Other,
                format!("ecr CreateRepository returned no repository for {name}"),
            )),
        }
    }
}

#[async_trait]
impl ResourceOps for EcrRegistry {
    async fn observe(&self, ctx: &OpContext<'_>) -> Result<Observation, ProviderError> {
        Ok(
            match describe_repository(&self.clients, &ctx.resource.name).await? {
                None => Observation::Absent,
                Some((repo, tags)) => {
                    let scan = repo
                        .image_scanning_configuration()
                        .is_some_and(|c| c.scan_on_push());
                    let drift =
                        FieldDrift::compare("scan_on_push", &Self::scan_on_push(ctx)?, &scan)
                            .map(Drift::field);
                    observed(
                        ctx,
                        repo.repository_arn(),
                        tag_pairs(&tags),
                        repo_outputs(&repo)?,
                        drift,
                    )
                }
            },
        )
    }

    async fn create(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        self.create_repository(ctx).await
    }

    /// Applies `scan_on_push` and the lifecycle policy (`keep_images`) in place.
    async fn update(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        let name = &ctx.resource.name;
        self.clients
            .ecr
            .put_image_scanning_configuration()
            .repository_name(name)
            .image_scanning_configuration(
                ImageScanningConfiguration::builder()
                    .scan_on_push(Self::scan_on_push(ctx)?)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| classify(e, Op::Update, "ecr PutImageScanningConfiguration"))?;
        self.put_lifecycle(ctx).await?;
        match describe_repository(&self.clients, name).await? {
            Some((repo, _)) => repo_outputs(&repo),
            None => Err(ProviderError::not_found(format!(
                "ECR repository {name} does not exist"
            ))),
        }
    }

    fn supports_update(&self) -> bool {
        true
    }

    /// Deletes the repository with its images (`force`).
    async fn delete(&self, ctx: &OpContext<'_>) -> Result<(), ProviderError> {
        delete_repository_force(&self.clients, &ctx.resource.name).await
    }
}

/// `AWS:<password>` decoded from an ECR authorization token.
fn decode_token(token: &str) -> Result<(String, SecretString), ProviderError> {
    let bytes = STANDARD.decode(token.trim()).map_err(|_| {
        ProviderError::new(
            ErrorKind::Other,
            "ECR returned an authorization token that is not base64",
        )
    })?;
    let text = String::from_utf8(bytes).map_err(|_| {
        ProviderError::new(
            ErrorKind::Other,
            "ECR returned an authorization token that is not UTF-8",
        )
    })?;
    match text.split_once(':') {
        Some((user, password)) if !user.is_empty() && !password.is_empty() => {
            Ok((user.to_string(), SecretString::new(password)))
        }
        _ => Err(ProviderError::new(
            ErrorKind::Other,
            "ECR returned an authorization token that is not `user:password`",
        )),
    }
}

sweep_with!(EcrRegistry => delete_repository_force(name));

#[async_trait]
impl Registry for EcrRegistry {
    /// `GetAuthorizationToken`: user `AWS`, a 12-hour password, and the caller's registry
    /// host (the proxy endpoint) as server. The token is not scoped to one repository.
    async fn pull_credentials(
        &self,
        _registry: &Outputs,
    ) -> Result<RegistryCredentials, ProviderError> {
        let out = self
            .clients
            .ecr
            .get_authorization_token()
            .send()
            .await
            .map_err(|e| classify(e, Op::Read, "ecr GetAuthorizationToken"))?;
        let Some(data) = out.authorization_data().first() else {
            return Err(ProviderError::new(
                ErrorKind::Other,
                "ECR returned no authorization data",
            ));
        };
        let (username, password) = decode_token(data.authorization_token().unwrap_or_default())?;
        let server = data
            .proxy_endpoint()
            .map(|e| {
                e.trim_start_matches("https://")
                    .trim_end_matches('/')
                    .to_string()
            })
            .ok_or_else(|| {
                ProviderError::new(ErrorKind::Other, "ECR returned no proxy endpoint")
            })?;
        let expires_at = data
            .expires_at()
            .and_then(|t| chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos()));
        Ok(RegistryCredentials {
            server,
            username,
            password,
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn tokens_decode_into_user_and_password() {
        let token = STANDARD.encode("AWS:s3cr3t:with-colon");
        let (user, password) = decode_token(&token).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(user, "AWS");
        assert_eq!(password.expose(), "s3cr3t:with-colon");
        assert!(decode_token("not base64!").is_err());
        assert!(decode_token(&STANDARD.encode("nocolon")).is_err());
    }

    #[test]
    fn the_lifecycle_policy_keeps_the_newest_images() {
        let policy: Value = serde_json::from_str(&lifecycle_policy(7)).unwrap_or_default();
        assert_eq!(
            policy.pointer("/rules/0/selection/countType"),
            Some(&json!("imageCountMoreThan"))
        );
        assert_eq!(
            policy.pointer("/rules/0/selection/countNumber"),
            Some(&json!(7))
        );
        assert_eq!(
            policy.pointer("/rules/0/action/type"),
            Some(&json!("expire"))
        );
    }
}
