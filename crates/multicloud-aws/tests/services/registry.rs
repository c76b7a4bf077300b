//! ECR: repositories, lifecycle policy, forced delete and pull credentials.

use aws_sdk_ecr::error::ProvideErrorMetadata;
use multicloud_core::StackSpec;
use multicloud_core::provider::{CloudProvider, Readiness};
use multicloud_core::resource::ResourceKind;
use multicloud_core::spec::RegistrySpec;
use serde_json::Value;

use crate::{
    TestResult, TestStack, assert_deleted_twice, assert_foreign_refused, assert_ours_and_adopted,
    create_from_absent, out_str,
};

const MANIFEST: &str = r#"{
  "schemaVersion": 2,
  "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
  "config": {
    "mediaType": "application/vnd.docker.container.image.v1+json",
    "size": 7023,
    "digest": "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7"
  },
  "layers": []
}"#;

#[tokio::test]
async fn repository_lifecycle_with_policy_images_and_pull_credentials() -> TestResult {
    let spec = StackSpec::builder("reg1")
        .registry(RegistrySpec::new("api").keep_images(7))
        .build()?;
    let t = TestStack::new(&spec).await?;
    let ops = t.ops_for(ResourceKind::REGISTRY)?;
    let store = t.provider.registry();
    let r = t.resource("registry/api")?;
    let ctx = t.ctx(&r);
    assert_eq!(r.name, "reg1-dev/api");

    let (created, arn) = create_from_absent(ops, &ctx).await?;
    let url = out_str(&created, "url")?.to_string();
    assert_eq!(out_str(&created, "name")?, r.name);
    assert_eq!(
        arn,
        "arn:aws:ecr:us-east-1:123456789012:repository/reg1-dev/api"
    );
    assert_eq!(
        url,
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/reg1-dev/api"
    );
    assert_eq!(ops.ready(&ctx).await?, Readiness::ready());

    let ecr = &t.clients().ecr;
    let policy = ecr
        .get_lifecycle_policy()
        .repository_name(&r.name)
        .send()
        .await?;
    let policy: Value =
        serde_json::from_str(policy.lifecycle_policy_text().ok_or("no policy text")?)?;
    assert_eq!(
        policy.pointer("/rules/0/selection/countType"),
        Some(&Value::from("imageCountMoreThan"))
    );
    assert_eq!(
        policy.pointer("/rules/0/selection/countNumber"),
        Some(&Value::from(7))
    );
    let repo = ecr
        .describe_repositories()
        .repository_names(&r.name)
        .send()
        .await?;
    let scan = repo.repositories()[0]
        .image_scanning_configuration()
        .map(|c| c.scan_on_push());
    assert_eq!(scan, Some(true));

    let (seen, _) = assert_ours_and_adopted(ops, &ctx, &arn).await?;
    assert_eq!(seen.provider_id.as_deref(), Some(arn.as_str()));
    let all = ecr.describe_repositories().send().await?;
    assert_eq!(
        all.repositories()
            .iter()
            .filter(|r2| r2.repository_name() == Some(&r.name))
            .count(),
        1
    );

    // In-place update of the lifecycle policy.
    let mut changed = r.clone();
    changed.config["keep_images"] = Value::from(3);
    assert!(!ops.requires_replacement(&r.config, &changed.config));
    ops.update(&t.ctx(&changed)).await?;
    let policy = ecr
        .get_lifecycle_policy()
        .repository_name(&r.name)
        .send()
        .await?;
    assert!(
        policy
            .lifecycle_policy_text()
            .is_some_and(|p| p.contains("\"countNumber\":3"))
    );

    let creds = store.pull_credentials(&created).await?;
    assert_eq!(creds.username, "AWS");
    assert_eq!(creds.server, "123456789012.dkr.ecr.us-east-1.amazonaws.com");
    assert!(!creds.password.is_empty());
    assert!(creds.expires_at.is_some());
    assert!(!format!("{creds:?}").contains(creds.password.expose()));

    // Delete with an image in the repository: forced.
    ecr.put_image()
        .repository_name(&r.name)
        .image_manifest(MANIFEST)
        .image_tag("v1")
        .send()
        .await?;
    let images = ecr.list_images().repository_name(&r.name).send().await?;
    assert_eq!(images.image_ids().len(), 1);
    assert_deleted_twice(ops, &ctx).await?;
    let err = ecr
        .describe_repositories()
        .repository_names(&r.name)
        .send()
        .await
        .err()
        .ok_or("the repository survived its deletion")?;
    assert_eq!(err.code(), Some("RepositoryNotFoundException"));
    Ok(())
}

#[tokio::test]
async fn a_repository_without_ownership_tags_is_foreign() -> TestResult {
    let spec = StackSpec::builder("reg2")
        .registry(RegistrySpec::new("web"))
        .build()?;
    let t = TestStack::new(&spec).await?;
    let ops = t.ops_for(ResourceKind::REGISTRY)?;
    let r = t.resource("registry/web")?;
    t.clients()
        .ecr
        .create_repository()
        .repository_name(&r.name)
        .send()
        .await?;
    assert_foreign_refused(ops, &t.ctx(&r)).await?;
    let policy = t
        .clients()
        .ecr
        .get_lifecycle_policy()
        .repository_name(&r.name)
        .send()
        .await;
    assert_eq!(
        policy
            .err()
            .and_then(|e| e.code().map(str::to_string))
            .as_deref(),
        Some("LifecyclePolicyNotFoundException"),
        "a foreign repository is left untouched"
    );
    Ok(())
}
