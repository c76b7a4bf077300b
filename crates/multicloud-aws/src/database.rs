//! RDS: the DB subnet group ([`DbSubnetGroup`]) and the PostgreSQL instance
//! ([`RdsInstance`]).
//!
//! Config contract (see [`crate::expand`] and [`crate::model`]):
//! - `db_subnet_group`: see [`subnet_group`].
//! - `database`: [`DatabaseConfig`]; depends on its subnet group, its security group and
//!   the `secret` node `password_secret` (`secret/database-master-password`). Outputs:
//!   [`DatabaseOutputs`] (`id` is the instance ARN, `password_secret` the secret's ARN);
//!   `host` and `port` once the instance is available.
//!
//! The master password is its own graph node: the secret is generated and stored by the
//! secrets service before the instance is created, and deleted by the engine after the
//! instance. This module only reads its value (`GetSecretValue`) when it creates the
//! instance, to pass it as the master password; the value never appears in config,
//! outputs, state, logs or errors. Adopting an existing instance never touches the secret,
//! but is refused when the secret is younger than the instance (it was made anew, so it
//! does not hold the instance's password).
//!
//! Observe, delete and the deletion check do not need the config (a resource removed from
//! the spec may carry a config of an older shape).

mod password;

use async_trait::async_trait;
use aws_sdk_rds::types::{DbInstance, Tag};
use multicloud_core::observation::{Drift, FieldDrift};
use multicloud_core::outputs::{DatabaseOutputs, SecretOutputs};
use multicloud_core::provider::{Observation, OpContext, Outputs, Readiness, ResourceOps};
use multicloud_core::resource::ResourceId;
use multicloud_core::{ErrorKind, ProviderError};
use serde::Serialize;
use serde_json::Value;

use crate::clients::AwsClients;
use crate::error::{Op, classify};
use crate::model::{DatabaseConfig, SubnetGroupOutputs};
use crate::subnet_group::{self};
use crate::support::{
    any_changed, deleted, dep_id, ensure_ours, kind_ops, observed, read_or_none, sweep_with,
    tag_pairs,
};

kind_ops! {
    /// The RDS DB subnet group ([`kinds::DB_SUBNET_GROUP`](crate::kinds::DB_SUBNET_GROUP)).
    DbSubnetGroup;
    /// The RDS PostgreSQL instance ([`ResourceKind::DATABASE`]).
    ///
    /// [`ResourceKind::DATABASE`]: multicloud_core::resource::ResourceKind::DATABASE
    RdsInstance;
}

fn rds_tags(ctx: &OpContext<'_>) -> Vec<Tag> {
    ctx.resource
        .tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The allocated storage as the `i32` RDS takes; [`ErrorKind::InvalidInput`] when too large.
fn storage(cfg: &DatabaseConfig, id: &ResourceId) -> Result<i32, ProviderError> {
    i32::try_from(cfg.storage_gb).map_err(|_| {
        ProviderError::invalid(format!(
            "{id}: `storage_gb` ({}) is out of range",
            cfg.storage_gb
        ))
    })
}

// ----- subnet group -----

subnet_group::subnet_group_api! {
    DbSubnetGroup, "DB subnet group", client rds, tags rds_tags;
    describe describe_db_subnet_groups(db_subnet_group_name)
        -> db_subnet_groups.db_subnet_group_arn, "rds DescribeDBSubnetGroups";
    list_tags "rds ListTagsForResource";
    create create_db_subnet_group(db_subnet_group_name, db_subnet_group_description)
        -> db_subnet_group, "rds CreateDBSubnetGroup";
    /// Deletes DB subnet group `name`. Succeeds if it does not exist; an
    /// `InvalidDBSubnetGroupStateFault` (an instance still in it) is retryable.
    delete delete_db_subnet_group = delete_db_subnet_group(db_subnet_group_name),
        "rds DeleteDBSubnetGroup";
}

// ----- instance -----

async fn describe_instance(
    clients: &AwsClients,
    name: &str,
) -> Result<Option<DbInstance>, ProviderError> {
    let res = clients
        .rds
        .describe_db_instances()
        .db_instance_identifier(name)
        .send()
        .await;
    let out = read_or_none(res, "rds DescribeDBInstances")?;
    Ok(out.and_then(|o| o.db_instances().first().cloned()))
}

/// Deletes DB instance `name` without final snapshot, with its automated backups. Succeeds
/// if it does not exist or is already being deleted; fails with
/// [`ErrorKind::InvalidInput`] when deletion protection is on. Its password secret is a
/// node of its own, deleted after it.
pub(crate) async fn delete_db_instance(
    clients: &AwsClients,
    name: &str,
) -> Result<(), ProviderError> {
    let Some(db) = describe_instance(clients, name).await? else {
        return Ok(());
    };
    if db.deletion_protection() == Some(true) {
        return Err(ProviderError::invalid(format!(
            "RDS instance {name} has deletion protection on; turn it off (set `deletion_protection: false` \
             in the spec and apply, or modify the instance) before deleting it"
        ))
        .with_code("DeletionProtectionEnabled"));
    }
    if db.db_instance_status() == Some("deleting") {
        return Ok(());
    }
    let res = clients
        .rds
        .delete_db_instance()
        .db_instance_identifier(name)
        .skip_final_snapshot(true)
        .delete_automated_backups(true)
        .send()
        .await;
    deleted(res, "rds DeleteDBInstance")
}

/// What is known of an instance; recorded as [`DatabaseOutputs`] once complete (the
/// endpoint comes when it is available), as the fields known so far before.
#[derive(Serialize)]
struct DatabaseFacts<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    database: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    password_secret: Option<&'a str>,
}

impl<'a> DatabaseFacts<'a> {
    fn of(db: &'a DbInstance, password_secret: Option<&'a str>) -> Self {
        let endpoint = db.endpoint();
        Self {
            id: db.db_instance_arn(),
            host: endpoint.and_then(|e| e.address()),
            port: endpoint
                .and_then(|e| e.port())
                .and_then(|p| u16::try_from(p).ok()),
            database: db.db_name(),
            username: db.master_username(),
            password_secret,
        }
    }

    fn complete(&self) -> Option<DatabaseOutputs> {
        Some(DatabaseOutputs {
            id: self.id?.to_string(),
            host: self.host?.to_string(),
            port: self.port?,
            database: self.database?.to_string(),
            username: self.username?.to_string(),
            password_secret: self.password_secret?.to_string(),
        })
    }

    fn outputs(&self) -> Result<Outputs, ProviderError> {
        match self.complete() {
            Some(full) => Outputs::of(&full),
            None => Outputs::of(self),
        }
    }
}

fn instance_outputs(
    db: &DbInstance,
    password_secret: Option<&str>,
) -> Result<Outputs, ProviderError> {
    DatabaseFacts::of(db, password_secret).outputs()
}

/// How the live instance differs from the config in what [`ResourceOps::update`] can
/// change.
fn drift(cfg: &DatabaseConfig, db: &DbInstance) -> Option<Drift> {
    let version = db.engine_version().unwrap_or_default();
    Drift::of(
        [
            FieldDrift::compare_live(
                "allocated_storage",
                &i64::from(cfg.storage_gb),
                db.allocated_storage().map(i64::from).as_ref(),
            ),
            FieldDrift::compare_live(
                "instance_class",
                cfg.instance_class.as_str(),
                db.db_instance_class(),
            ),
            FieldDrift::compare_live(
                "deletion_protection",
                &cfg.deletion_protection,
                db.deletion_protection().as_ref(),
            ),
            (!version_matches(version, &cfg.engine_version))
                .then(|| FieldDrift::changed("engine_version", &cfg.engine_version, version)),
        ]
        .into_iter()
        .flatten(),
    )
}

/// `16.3` matches `16` and `16.3`.
fn version_matches(live: &str, desired: &str) -> bool {
    live == desired
        || live
            .strip_prefix(desired)
            .is_some_and(|rest| rest.starts_with('.'))
}

fn major(version: &str) -> &str {
    version.split('.').next().unwrap_or(version)
}

impl RdsInstance {
    async fn create_instance(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        let name = &ctx.resource.name;
        let cfg: DatabaseConfig = ctx.config()?;
        if let Some(db) = describe_instance(&self.clients, name).await? {
            ensure_ours(ctx, tag_pairs(db.tag_list()))?;
            let secret_arn = ctx.dep::<SecretOutputs>(&cfg.password_secret)?.id;
            password::ensure_predates(&self.clients, &db, &secret_arn).await?;
            return instance_outputs(&db, Some(&secret_arn));
        }
        // Resolve every input before reading the password.
        let secret_arn = ctx.dep::<SecretOutputs>(&cfg.password_secret)?.id;
        let security_group = dep_id(ctx, &cfg.security_group)?;
        let subnet_group: SubnetGroupOutputs = ctx.dep(&cfg.subnet_group)?;
        let storage = storage(&cfg, &ctx.resource.id)?;
        let password = password::value(&self.clients, &secret_arn).await?;
        let out = self
            .clients
            .rds
            .create_db_instance()
            .db_instance_identifier(name)
            .engine("postgres")
            .engine_version(&cfg.engine_version)
            .allocated_storage(storage)
            .db_instance_class(&cfg.instance_class)
            .db_name(&cfg.database_name)
            .master_username(&cfg.username)
            .master_user_password(password.expose())
            .storage_encrypted(true)
            .publicly_accessible(false)
            .deletion_protection(cfg.deletion_protection)
            .vpc_security_group_ids(security_group)
            .db_subnet_group_name(subnet_group.name)
            .copy_tags_to_snapshot(true)
            .set_tags(Some(rds_tags(ctx)))
            .send()
            .await
            .map_err(|e| classify(e, Op::Create, "rds CreateDBInstance"))?;
        match out.db_instance() {
            Some(db) => instance_outputs(db, Some(&secret_arn)),
            None => DatabaseFacts {
                id: None,
                host: None,
                port: None,
                database: Some(&cfg.database_name),
                username: Some(&cfg.username),
                password_secret: Some(&secret_arn),
            }
            .outputs(),
        }
    }

    async fn update_instance(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        let name = &ctx.resource.name;
        let cfg: DatabaseConfig = ctx.config()?;
        let Some(db) = describe_instance(&self.clients, name).await? else {
            return Err(ProviderError::not_found(format!(
                "RDS instance {name} does not exist"
            )));
        };
        let mut req = self
            .clients
            .rds
            .modify_db_instance()
            .db_instance_identifier(name)
            .apply_immediately(true);
        let mut changed = false;
        let storage = storage(&cfg, &ctx.resource.id)?;
        if db.allocated_storage() != Some(storage) {
            req = req.allocated_storage(storage);
            changed = true;
        }
        if db.db_instance_class() != Some(cfg.instance_class.as_str()) {
            req = req.db_instance_class(&cfg.instance_class);
            changed = true;
        }
        if db.deletion_protection() != Some(cfg.deletion_protection) {
            req = req.deletion_protection(cfg.deletion_protection);
            changed = true;
        }
        let (version, live_version) =
            (&cfg.engine_version, db.engine_version().unwrap_or_default());
        if !version_matches(live_version, version) {
            req = req
                .engine_version(version)
                .allow_major_version_upgrade(major(live_version) != major(version));
            changed = true;
        }
        if changed {
            req.send()
                .await
                .map_err(|e| classify(e, Op::Update, "rds ModifyDBInstance"))?;
        }
        instance_outputs(&db, password::secret_arn(ctx).as_deref())
    }

    async fn instance_ready(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        let name = &ctx.resource.name;
        let Some(db) = describe_instance(&self.clients, name).await? else {
            return Err(ProviderError::not_found(format!(
                "RDS instance {name} does not exist"
            )));
        };
        let status = db.db_instance_status().unwrap_or("unknown");
        match status {
            "available" => Ok(Readiness::Ready(instance_outputs(
                &db,
                password::secret_arn(ctx).as_deref(),
            )?)),
            "failed"
            | "deleting"
            | "stopped"
            | "stopping"
            | "storage-full"
            | "restore-error"
            | "inaccessible-encryption-credentials" => Err(failed(name, status)),
            s if s.starts_with("incompatible-") || s.starts_with("inaccessible-") => {
                Err(failed(name, s))
            }
            other => Ok(Readiness::pending(other)),
        }
    }

    async fn observe_instance(&self, ctx: &OpContext<'_>) -> Result<Observation, ProviderError> {
        let Some(db) = describe_instance(&self.clients, &ctx.resource.name).await? else {
            return Ok(Observation::Absent);
        };
        let drift = ctx
            .config::<DatabaseConfig>()
            .ok()
            .and_then(|cfg| drift(&cfg, &db));
        Ok(observed(
            ctx,
            db.db_instance_arn(),
            tag_pairs(db.tag_list()),
            instance_outputs(&db, password::secret_arn(ctx).as_deref())?,
            drift,
        ))
    }
}

fn failed(name: &str, status: &str) -> ProviderError {
    ProviderError::new(
        ErrorKind::Failed,
        format!("RDS instance {name} is {status}"),
    )
    .with_code(status)
}

/// Config fields whose change replaces the instance (everything else is modified in place).
const REPLACING_FIELDS: &[&str] = &[
    "database_name",
    "username",
    "password_secret",
    "subnet_group",
    "security_group",
];

#[async_trait]
impl ResourceOps for RdsInstance {
    async fn observe(&self, ctx: &OpContext<'_>) -> Result<Observation, ProviderError> {
        self.observe_instance(ctx).await
    }

    async fn create(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        self.create_instance(ctx).await
    }

    /// `ModifyDBInstance` (applied immediately) for storage, class, deletion protection and
    /// engine version, sending only what differs.
    async fn update(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        self.update_instance(ctx).await
    }

    fn supports_update(&self) -> bool {
        true
    }

    /// Replaced only when its name, user, password secret or placement changes; storage,
    /// class, version and deletion protection are updated in place.
    fn requires_replacement(&self, old: &Value, new: &Value) -> bool {
        any_changed(REPLACING_FIELDS, old, new)
    }

    /// Deletes the instance (refused with deletion protection on). Its password secret is
    /// left to its own node, which the engine deletes afterwards.
    async fn delete(&self, ctx: &OpContext<'_>) -> Result<(), ProviderError> {
        delete_db_instance(&self.clients, &ctx.resource.name).await
    }

    async fn ready(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        self.instance_ready(ctx).await
    }

    async fn gone(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        Ok(
            match describe_instance(&self.clients, &ctx.resource.name).await? {
                None => Readiness::ready(),
                Some(db) => Readiness::pending(db.db_instance_status().unwrap_or("deleting")),
            },
        )
    }
}

sweep_with!(RdsInstance => delete_db_instance(name), awaiting describe_instance(name));

#[cfg(test)]
mod tests {
    use super::*;
    use multicloud_core::resource::ResourceKind;

    #[test]
    fn engine_versions_match_by_prefix() {
        assert!(version_matches("16.3", "16"));
        assert!(version_matches("16.3", "16.3"));
        assert!(!version_matches("16.3", "1"));
        assert!(!version_matches("17.1", "16"));
        assert_eq!(major("16.3"), "16");
    }

    #[test]
    fn outputs_are_the_neutral_ones_once_complete() {
        let mut facts = DatabaseFacts {
            id: Some("arn:aws:rds:us-east-1:123456789012:db:pg"),
            host: None,
            port: None,
            database: Some("app"),
            username: Some("app_admin"),
            password_secret: Some("arn:aws:secretsmanager:us-east-1:123456789012:secret:pw"),
        };
        let pending = facts.outputs().expect("outputs");
        assert_eq!(pending.get("host"), None);
        assert_eq!(pending.get("arn"), None);
        facts.host = Some("pg.example");
        facts.port = Some(5432);
        let id = ResourceId::new(ResourceKind::DATABASE, "main");
        let full: DatabaseOutputs = facts.outputs().expect("outputs").read(&id).expect("typed");
        assert_eq!(full.port, 5432);
        assert!(full.id.starts_with("arn:aws:rds:"));
    }
}
