//! Secrets Manager: `secret` resources and the `SecretBackend` data plane.

use std::time::Duration;

use aws_sdk_secretsmanager::types::Tag;
use multicloud_core::ErrorKind;
use multicloud_core::SecretString;
use multicloud_core::StackSpec;
use multicloud_core::provider::{CloudProvider, Observation, Readiness};
use multicloud_core::resource::ResourceKind;
use multicloud_core::spec::SecretSpec;

use crate::{
    TestResult, TestStack, assert_deleted_twice, assert_foreign_refused, assert_ours_and_adopted,
    create_from_absent, out_str,
};

#[tokio::test]
async fn generated_secret_lifecycle_adopts_without_regenerating_and_restores_after_delete()
-> TestResult {
    let spec = StackSpec::builder("sec1")
        .secret(SecretSpec::generated("api-key", 40))
        .build()?;
    let t = TestStack::new(&spec).await?;
    let ops = t.ops_for(ResourceKind::SECRET)?;
    let store = t.provider.secrets();
    let r = t.resource("secret/api-key")?;
    let ctx = t.ctx(&r);
    assert_eq!(r.name, "sec1/dev/api-key");

    let (created, arn) = create_from_absent(ops, &ctx).await?;
    let version = out_str(&created, "version")?.to_string();
    assert_eq!(out_str(&created, "name")?, r.name);
    assert!(
        arn.starts_with("arn:aws:secretsmanager:us-east-1:123456789012:secret:sec1/dev/api-key"),
        "{arn}"
    );
    assert_eq!(ops.ready(&ctx).await?, Readiness::ready());

    let value = store.get_secret(&r.name).await?;
    assert_eq!(value.len(), 40);
    assert!(!serde_json::to_string(&created)?.contains(value.expose()));

    // Create again: adopted, same ARN and version, value untouched.
    let (seen, adopted) = assert_ours_and_adopted(ops, &ctx, &arn).await?;
    assert_eq!(seen.provider_id.as_deref(), Some(arn.as_str()));
    assert_eq!(out_str(&seen.outputs, "version")?, version);
    assert_eq!(out_str(&adopted, "version")?, version);
    assert_eq!(store.get_secret(&r.name).await?, value);

    // Delete without force_delete (no TTL): scheduled for deletion, which counts as gone.
    assert_eq!(r.config["force_delete"], false);
    ops.delete(&ctx).await?;
    assert_eq!(ops.gone(&ctx).await?, Readiness::ready());
    assert_eq!(ops.observe(&ctx).await?, Observation::Absent);
    let described = t.describe_secret(&r.name).await?;
    assert!(described.deleted_date().is_some(), "scheduled, not purged");
    // Deleting again is fine.
    ops.delete(&ctx).await?;

    // Creating it again restores it, with its value.
    let restored = ops.create(&ctx).await?;
    assert_eq!(out_str(&restored, "id")?, arn);
    assert_eq!(store.get_secret(&r.name).await?, value);

    store.delete_secret(&r.name, true).await?;
    let err = t
        .describe_secret(&r.name)
        .await
        .err()
        .ok_or("force-deleted secret still exists")?;
    assert_eq!(
        aws_sdk_secretsmanager::error::ProvideErrorMetadata::code(&err),
        Some("ResourceNotFoundException")
    );
    Ok(())
}

#[tokio::test]
async fn force_delete_removes_a_ttl_secret_at_once() -> TestResult {
    let spec = StackSpec::builder("sec2")
        .secret(SecretSpec::generated("token", 16))
        .ttl(Duration::from_secs(3600))
        .build()?;
    let t = TestStack::new(&spec).await?;
    let ops = t.ops_for(ResourceKind::SECRET)?;
    let r = t.resource("secret/token")?;
    let ctx = t.ctx(&r);
    assert_eq!(r.config["force_delete"], true);
    ops.create(&ctx).await?;
    let tags = t.describe_secret(&r.name).await?;
    assert!(
        tags.tags()
            .iter()
            .any(|t| t.key() == Some("multicloud:expires-at"))
    );
    // Deleting what is gone succeeds.
    assert_deleted_twice(ops, &ctx).await?;
    assert!(
        !t.secret_is_listed(&r.name).await?,
        "a force-deleted secret is not even scheduled for deletion"
    );
    Ok(())
}

#[tokio::test]
async fn from_env_secret_takes_the_variable_and_names_a_missing_one() -> TestResult {
    let var = "CARGO_PKG_NAME";
    let expected = std::env::var(var)?;
    let missing = "MULTICLOUD_TEST_SURELY_UNSET_VARIABLE";
    let spec = StackSpec::builder("sec3")
        .secret(SecretSpec::from_env("from-cargo", var))
        .secret(SecretSpec::from_env("from-nothing", missing))
        .build()?;
    let t = TestStack::new(&spec).await?;
    let ops = t.ops_for(ResourceKind::SECRET)?;
    let store = t.provider.secrets();

    let r = t.resource("secret/from-cargo")?;
    ops.create(&t.ctx(&r)).await?;
    assert_eq!(store.get_secret(&r.name).await?.expose(), expected);

    let r = t.resource("secret/from-nothing")?;
    let err = ops
        .create(&t.ctx(&r))
        .await
        .err()
        .ok_or("created from an unset variable")?;
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains(missing), "{err}");
    assert_eq!(ops.observe(&t.ctx(&r)).await?, Observation::Absent);
    Ok(())
}

#[tokio::test]
async fn a_secret_without_ownership_tags_is_foreign() -> TestResult {
    let spec = StackSpec::builder("sec4")
        .secret(SecretSpec::generated("db", 16))
        .build()?;
    let t = TestStack::new(&spec).await?;
    let ops = t.ops_for(ResourceKind::SECRET)?;
    let store = t.provider.secrets();
    let r = t.resource("secret/db")?;
    t.clients()
        .secrets
        .create_secret()
        .name(&r.name)
        .secret_string("someone else's")
        .tags(Tag::builder().key("team").value("other").build())
        .send()
        .await?;
    assert_foreign_refused(ops, &t.ctx(&r)).await?;
    assert_eq!(store.get_secret(&r.name).await?.expose(), "someone else's");
    Ok(())
}

#[tokio::test]
async fn backend_puts_gets_lists_and_deletes_with_new_versions() -> TestResult {
    let spec = StackSpec::builder("sec5").build()?;
    let t = TestStack::new(&spec).await?;
    let store = t.provider.secrets();
    let prefix = "sec5-backend/";
    let (a, b) = (format!("{prefix}a"), format!("{prefix}b"));

    let first = store.put_secret(&a, &SecretString::new("one")).await?;
    assert_eq!(first.name, a);
    assert!(first.version.is_some());
    assert_eq!(store.get_secret(&a).await?.expose(), "one");
    let second = store.put_secret(&a, &SecretString::new("two")).await?;
    assert_eq!(second.id, first.id);
    assert_ne!(second.version, first.version);
    assert_eq!(store.get_secret(&a).await?.expose(), "two");
    store.put_secret(&b, &SecretString::new("three")).await?;
    store
        .put_secret("sec5-other", &SecretString::new("x"))
        .await?;

    let listed = store.list_secrets(prefix).await?;
    let names: Vec<&str> = listed.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, [a.as_str(), b.as_str()]);
    assert_eq!(listed[0].version, second.version);
    assert!(format!("{listed:?}").contains(&first.id));

    store.delete_secret(&a, false).await?;
    let names: Vec<String> = store
        .list_secrets(prefix)
        .await?
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, [b.as_str()]);
    // A put into a secret scheduled for deletion restores it.
    store.put_secret(&a, &SecretString::new("four")).await?;
    assert_eq!(store.get_secret(&a).await?.expose(), "four");

    for name in [&a, &b] {
        store.delete_secret(name, true).await?;
        store.delete_secret(name, true).await?;
    }
    assert!(store.list_secrets(prefix).await?.is_empty());
    let err = store
        .get_secret(&a)
        .await
        .err()
        .ok_or("read a deleted secret")?;
    assert_eq!(err.kind(), ErrorKind::NotFound);
    Ok(())
}
