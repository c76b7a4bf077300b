//! RDS: DB subnet group and PostgreSQL instance with its generated master password.

use std::time::Duration;

use multicloud_aws::expand::db_password_id;
use multicloud_aws::kinds;
use multicloud_aws::model::{DatabaseConfig, SecretConfig, SecretSourceConfig};
use multicloud_core::ErrorKind;
use multicloud_core::StackSpec;
use multicloud_core::provider::{CloudProvider, Outputs, Readiness};
use multicloud_core::resource::{Resource, ResourceId, ResourceKind};
use multicloud_core::spec::{Network, Postgres};
use serde_json::Value;

use crate::{
    TestResult, TestStack, assert_deleted_twice, assert_foreign_refused, assert_ours_and_adopted,
    create_from_absent, kind_ops, out_str, ready_outputs,
};

/// The ARN of a DB subnet group on moto, but for its name.
const GROUP_ARN: &str = "arn:aws:rds:us-east-1:123456789012:subgrp:";

/// The master-password secret node of the database (`secret/database-master-password`),
/// created through the secrets service as the engine does before the database; its outputs
/// are recorded as the database's dependency. Checks it is the generated, force-deleted
/// (TTL stack) secret `<stack>/dev/database-master-password` the database refers to.
async fn password_secret(
    t: &mut TestStack,
    stack: &str,
) -> Result<(Resource, Outputs), Box<dyn std::error::Error>> {
    let secret = t.resource(db_password_id().as_str())?;
    assert_eq!(secret.name, format!("{stack}/dev/database-master-password"));
    assert_eq!(
        secret.config_as::<SecretConfig>()?,
        SecretConfig {
            source: SecretSourceConfig::Generated { length: 32 },
            force_delete: true,
        }
    );
    let db = t.resource("database/main")?;
    assert_eq!(
        db.config_as::<DatabaseConfig>()?.password_secret,
        db_password_id()
    );
    assert!(db.depends_on.contains(&db_password_id()));
    let out = t.create_dep(&db_password_id()).await?;
    Ok((secret, out))
}

/// Secrets Manager calls that read, write or create a secret value, made so far by `t`'s
/// provider.
fn secret_value_calls(t: &TestStack) -> u64 {
    t.provider
        .api_calls()
        .snapshot()
        .iter()
        .filter(|(op, _)| {
            ["GetSecretValue", "PutSecretValue", "CreateSecret"]
                .iter()
                .any(|name| op.ends_with(&format!(".{name}")))
        })
        .map(|(_, n)| n)
        .sum()
}

fn spec(name: &str) -> Result<StackSpec, Box<dyn std::error::Error>> {
    Ok(StackSpec::builder(name)
        .network(Network::default())
        .database(Postgres::new("16").storage_gb(20))
        .ttl(Duration::from_secs(3600))
        .build()?)
}

#[tokio::test]
async fn database_lifecycle_keeps_the_password_in_secrets_manager_only() -> TestResult {
    let mut t = TestStack::new(&spec("db1")?).await?;
    t.network(31).await?;
    let provider = t.provider.clone();
    let gops = kind_ops(&provider, kinds::DB_SUBNET_GROUP)?;
    let ops = kind_ops(&provider, ResourceKind::DATABASE)?;

    // Subnet group.
    let group = t
        .create_subnet_group(gops, "db_subnet_group/main", GROUP_ARN)
        .await?;

    // The master password: its own secret node, created before the instance.
    let (secret, secret_out) = password_secret(&mut t, "db1").await?;
    let secrets = provider.secrets();
    let secret_ops = kind_ops(&provider, ResourceKind::SECRET)?;

    // Instance.
    let db = t.resource("database/main")?;
    let ctx = t.ctx(&db);
    let (created, arn) = create_from_absent(ops, &ctx).await?;
    let ready = ready_outputs(ops.ready(&ctx).await?)?;
    for key in ["host", "database", "username", "password_secret", "id"] {
        assert!(
            ready
                .get(key)
                .and_then(Value::as_str)
                .is_some_and(|v| !v.is_empty()),
            "{key}: {ready:?}"
        );
    }
    assert_eq!(ready.get("port").and_then(Value::as_u64), Some(5432));
    assert_eq!(out_str(&ready, "database")?, "app");
    assert_eq!(out_str(&ready, "username")?, "app_admin");
    assert_eq!(out_str(&ready, "id")?, arn);

    let live = t
        .clients()
        .rds
        .describe_db_instances()
        .db_instance_identifier(&db.name)
        .send()
        .await?;
    let live = &live.db_instances()[0];
    assert_eq!(live.storage_encrypted(), Some(true));
    assert_eq!(live.publicly_accessible(), Some(false));
    assert_eq!(live.deletion_protection(), Some(false));
    assert_eq!(live.engine(), Some("postgres"));
    assert_eq!(live.allocated_storage(), Some(20));
    assert_eq!(
        live.db_subnet_group()
            .and_then(|g| g.db_subnet_group_name()),
        Some(group.name.as_str())
    );
    assert!(
        live.tag_list()
            .iter()
            .any(|t| t.key() == Some("multicloud:stack") && t.value() == Some("db1"))
    );

    // The password: in Secrets Manager (tagged as ours), nowhere else.
    let secret_name = secret.name.as_str();
    assert_eq!(secret_name, "db1/dev/database-master-password");
    let password = secrets.get_secret(secret_name).await?;
    assert_eq!(password.len(), 32);
    let described = t.describe_secret(secret_name).await?;
    assert_eq!(described.arn(), Some(out_str(&ready, "password_secret")?));
    assert_eq!(
        out_str(&secret_out, "id")?,
        out_str(&ready, "password_secret")?
    );
    assert!(
        described
            .tags()
            .iter()
            .any(|t| t.key() == Some("multicloud:stack") && t.value() == Some("db1"))
    );
    // Create again: adopted, the password is neither regenerated nor rewritten.
    let version = described.version_ids_to_stages().map(|v| v.len());
    let (seen, _) = assert_ours_and_adopted(ops, &ctx, &arn).await?;
    for text in [
        serde_json::to_string(&created)?,
        serde_json::to_string(&ready)?,
        serde_json::to_string(&secret_out)?,
        format!("{created:?} {ready:?} {seen:?} {db:?} {secret:?} {secret_out:?}"),
    ] {
        assert!(!text.contains(password.expose()), "the password leaked");
    }

    assert_eq!(secrets.get_secret(secret_name).await?, password);
    let after = t.describe_secret(secret_name).await?;
    assert_eq!(after.version_ids_to_stages().map(|v| v.len()), version);
    let all = t.clients().rds.describe_db_instances().send().await?;
    assert_eq!(
        all.db_instances()
            .iter()
            .filter(|d| d.db_instance_identifier() == Some(&db.name))
            .count(),
        1
    );

    // Deletion protection: turned on in place, then delete is refused with a clear error.
    let mut protected = db.clone();
    protected.config["deletion_protection"] = Value::Bool(true);
    assert!(!ops.requires_replacement(&db.config, &protected.config));
    ops.update(&t.ctx(&protected)).await?;
    let err = ops
        .delete(&t.ctx(&protected))
        .await
        .err()
        .ok_or("deleted a protected instance")?;
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("deletion protection"), "{err}");
    assert!(!err.to_string().contains(password.expose()));
    assert_eq!(
        secrets.get_secret(secret_name).await?,
        password,
        "the secret is kept while the instance is"
    );
    ops.update(&ctx).await?;

    // Delete: instance gone; the password secret is its own node, deleted after the
    // instance through the secrets service: force-deleted (TTL stack, checked in
    // `password_secret`), so nothing is left.
    ops.delete(&ctx).await?;
    assert_eq!(ops.gone(&ctx).await?, Readiness::ready());
    assert_eq!(
        secrets.get_secret(secret_name).await?,
        password,
        "the database delete leaves the secret to its own node"
    );
    ops.delete(&ctx).await?;
    let sctx = t.ctx(&secret);
    secret_ops.delete(&sctx).await?;
    assert_eq!(secret_ops.gone(&sctx).await?, Readiness::ready());
    let err = secrets
        .get_secret(secret_name)
        .await
        .err()
        .ok_or("the password secret survived")?;
    assert_eq!(err.kind(), ErrorKind::NotFound);

    assert_deleted_twice(gops, &t.ctx(&group)).await?;
    Ok(())
}

#[tokio::test]
async fn foreign_database_and_subnet_group_are_refused_and_the_password_is_untouched() -> TestResult
{
    let mut t = TestStack::new(&spec("db2")?).await?;
    t.network(32).await?;
    let provider = t.provider.clone();
    let gops = kind_ops(&provider, kinds::DB_SUBNET_GROUP)?;
    let ops = kind_ops(&provider, ResourceKind::DATABASE)?;
    let group = t.resource("db_subnet_group/main")?;
    let db = t.resource("database/main")?;
    let rds = &t.clients().rds;
    let subnet_ids: Vec<String> = ["subnet/private-0", "subnet/private-1"]
        .iter()
        .map(|id| {
            t.deps[&ResourceId::from(*id)]
                .get_str("id")
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    rds.create_db_subnet_group()
        .db_subnet_group_name(&group.name)
        .db_subnet_group_description("someone else's")
        .set_subnet_ids(Some(subnet_ids))
        .send()
        .await?;
    rds.create_db_instance()
        .db_instance_identifier(&db.name)
        .engine("postgres")
        .db_instance_class("db.t3.micro")
        .allocated_storage(20)
        .master_username("other")
        .master_user_password("other-password-123")
        .send()
        .await?;

    assert_foreign_refused(gops, &t.ctx(&group)).await?;

    t.set_dep(
        "db_subnet_group/main",
        crate::outputs(&[("name", &group.name)]),
    );
    // The password secret is its own node, created before the database: the refused
    // create must neither read, rewrite nor add a password.
    let (secret, _) = password_secret(&mut t, "db2").await?;
    let secrets = provider.secrets();
    let password = secrets.get_secret(&secret.name).await?;
    let versions = || async {
        let d = t.describe_secret(&secret.name).await?;
        Ok::<_, Box<dyn std::error::Error>>(d.version_ids_to_stages().cloned().unwrap_or_default())
    };
    let before = versions().await?;
    let calls = secret_value_calls(&t);
    assert!(
        calls >= 2,
        "the counter sees CreateSecret and GetSecretValue"
    );

    let err = assert_foreign_refused(ops, &t.ctx(&db)).await?;
    assert!(!err.to_string().contains(password.expose()));
    assert_eq!(
        secret_value_calls(&t),
        calls,
        "no password is generated (or read) for a foreign instance"
    );
    let after = versions().await?;
    assert_eq!(after, before, "the password secret is not rewritten");
    assert_eq!(secrets.get_secret(&secret.name).await?, password);
    let stored: Vec<String> = secrets
        .list_secrets("db2/")
        .await?
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(
        stored,
        [secret.name.as_str()],
        "no other password is stored for a foreign instance"
    );
    Ok(())
}

#[tokio::test]
async fn a_refused_create_leaves_no_password_secret_behind() -> TestResult {
    let mut t = TestStack::new(&spec("db3")?).await?;
    t.network(33).await?;
    let provider = t.provider.clone();
    let ops = kind_ops(&provider, ResourceKind::DATABASE)?;
    t.create_dep(&ResourceId::from("db_subnet_group/main"))
        .await?;
    let (secret, _) = password_secret(&mut t, "db3").await?;
    let secrets = provider.secrets();
    let secret_ops = kind_ops(&provider, ResourceKind::SECRET)?;
    let secret_name = secret.name.as_str();
    let password = secrets.get_secret(secret_name).await?;
    // An identifier RDS refuses (two hyphens in a row).
    let mut bad = t.resource("database/main")?;
    bad.name = "db3--refused".into();
    let err = ops
        .create(&t.ctx(&bad))
        .await
        .err()
        .ok_or("RDS accepted an invalid identifier")?;
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(
        err.to_string().contains("CreateDBInstance"),
        "refused by RDS, after the secret was stored: {err}"
    );
    assert!(!err.to_string().contains(password.expose()));
    // The secret belongs to its own node (the engine deletes it on teardown): the refused
    // create keeps it, and deleting that node removes it entirely (TTL stack).
    assert_eq!(secrets.get_secret(secret_name).await?, password);
    let sctx = t.ctx(&secret);
    secret_ops.delete(&sctx).await?;
    assert_eq!(secret_ops.gone(&sctx).await?, Readiness::ready());
    assert!(
        !t.secret_is_listed(secret_name).await?,
        "the password secret of a refused instance was left behind"
    );

    // Deleting the database never deletes a secret of someone else under that name.
    t.clients()
        .secrets
        .create_secret()
        .name(secret_name)
        .secret_string("not ours")
        .send()
        .await?;
    ops.delete(&t.ctx(&bad)).await?;
    let kept = provider.secrets().get_secret(secret_name).await?;
    assert_eq!(kept.expose(), "not ours");
    Ok(())
}

#[tokio::test]
async fn a_subnet_group_over_another_networks_subnets_is_reported_and_replaced() -> TestResult {
    let mut t = TestStack::new(&spec("db4")?).await?;
    t.network(34).await?;
    let provider = t.provider.clone();
    let ops = kind_ops(&provider, kinds::DB_SUBNET_GROUP)?;
    let group = t
        .create_subnet_group(ops, "db_subnet_group/main", GROUP_ARN)
        .await?;
    // The stack's network is made again (an earlier VPC left the group behind).
    t.network(35).await?;
    let ctx = t.ctx(&group);
    let found = crate::present(ops.observe(&ctx).await?)?;
    let why = found.unhealthy.ok_or("reported as unhealthy")?;
    assert!(why.contains("not the stack's"), "{why}");
    // Neither RDS nor ElastiCache moves a group to another VPC: the plan replaces it, and
    // adopting it as it is is refused with the reason.
    assert!(!ops.supports_update(), "replaced, not updated");
    let refused = ops.create(&ctx).await.err().ok_or("adoption refused")?;
    assert_eq!(refused.kind(), ErrorKind::Failed);
    assert!(refused.message().contains("not the stack's"), "{refused}");
    assert_deleted_twice(ops, &ctx).await?;
    let (_, arn) = create_from_absent(ops, &ctx).await?;
    assert_eq!(arn, format!("{GROUP_ARN}{}", group.name));
    let live = t
        .clients()
        .rds
        .describe_db_subnet_groups()
        .db_subnet_group_name(&group.name)
        .send()
        .await?;
    let mut subnets: Vec<String> = live.db_subnet_groups()[0]
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_identifier().map(str::to_string))
        .collect();
    subnets.sort();
    let mut want: Vec<String> = (0..2)
        .map(|i| {
            ctx.deps[&ResourceId::from(format!("subnet/private-{i}").as_str())]
                .get_str("id")
                .map(str::to_string)
                .ok_or("subnet id")
        })
        .collect::<Result<_, _>>()?;
    want.sort();
    assert_eq!(subnets, want, "the new group spans the stack's subnets");
    assert_eq!(crate::present(ops.observe(&ctx).await?)?.unhealthy, None);
    assert_deleted_twice(ops, &ctx).await?;
    Ok(())
}
