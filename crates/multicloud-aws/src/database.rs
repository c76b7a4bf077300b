//! RDS: the DB subnet group ([`ResourceKind::DbSubnetGroup`]) and the PostgreSQL instance
//! ([`ResourceKind::Database`]).
//!
//! Config contract (see [`crate::expand`]):
//! - `db_subnet_group`: `{subnets: [subnet ids]}`. Outputs: `name`, `arn`.
//! - `database`: `{engine_version, storage_gb, instance_class, database_name, username,
//!   deletion_protection, password_secret_name, force_delete_secret, security_group,
//!   subnet_group}`. Outputs: `host`, `port` (once available), `database`, `username`,
//!   `password_secret` (the secret's ARN), `arn`.
//!
//! The master password is generated here and stored in Secrets Manager under
//! `password_secret_name` **before** the instance is created; it never appears in config,
//! outputs, state, logs or errors. Adopting an existing instance never regenerates it.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_rds::types::{DbInstance, Tag};
use multicloud_core::provider::{
    DatabaseOps, Observation, OpContext, Outputs, Owner, Readiness, ResourceOps,
};
use multicloud_core::resource::ResourceKind;
use multicloud_core::{ErrorKind, ProviderError, SecretString};
use serde_json::{Value, json};

use crate::clients::AwsClients;
use crate::error::{Op, classify};
use crate::secrets;
use crate::support::{
    dep_id, dep_ids, dep_output, ensure_ours, none_if_not_found, observed, ok_if_not_found,
    outputs, owner, tag_pairs, unsupported,
};

/// Length of generated master passwords.
pub const PASSWORD_LENGTH: usize = 32;

/// RDS PostgreSQL instances and their subnet groups.
#[derive(Debug, Clone)]
pub struct DatabaseService {
    clients: Arc<AwsClients>,
}

impl DatabaseService {
    pub(crate) fn new(clients: Arc<AwsClients>) -> Self {
        Self { clients }
    }
}

fn rds_tags(ctx: &OpContext<'_>) -> Vec<Tag> {
    ctx.resource
        .tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn config_bool(ctx: &OpContext<'_>, key: &str) -> bool {
    ctx.resource
        .config
        .get(key)
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

fn config_i32(ctx: &OpContext<'_>, key: &str) -> Result<i32, ProviderError> {
    ctx.resource
        .config
        .get(key)
        .and_then(Value::as_u64)
        .and_then(|v| i32::try_from(v).ok())
        .ok_or_else(|| {
            ProviderError::invalid(format!(
                "{}: config has no integer `{key}`",
                ctx.resource.id
            ))
        })
}

// ----- subnet group -----

/// `DescribeDBSubnetGroups` + `ListTagsForResource`: ARN and tags, `None` if absent.
async fn describe_subnet_group(
    clients: &AwsClients,
    name: &str,
) -> Result<Option<(String, Vec<Tag>)>, ProviderError> {
    let res = clients
        .rds
        .describe_db_subnet_groups()
        .db_subnet_group_name(name)
        .send()
        .await;
    let Some(out) =
        none_if_not_found(res.map_err(|e| classify(e, Op::Read, "rds DescribeDBSubnetGroups")))?
    else {
        return Ok(None);
    };
    let Some(arn) = out
        .db_subnet_groups()
        .first()
        .and_then(|g| g.db_subnet_group_arn())
    else {
        return Ok(None);
    };
    let tags = clients
        .rds
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
        .map_err(|e| classify(e, Op::Read, "rds ListTagsForResource"))?;
    Ok(Some((arn.to_string(), tags.tag_list().to_vec())))
}

fn subnet_group_outputs(name: &str, arn: &str) -> Outputs {
    outputs([("name", json!(name)), ("arn", json!(arn))])
}

/// Deletes DB subnet group `name`. Succeeds if it does not exist; an
/// `InvalidDBSubnetGroupStateFault` (an instance still in it) is retryable.
pub(crate) async fn delete_db_subnet_group(
    clients: &AwsClients,
    name: &str,
) -> Result<(), ProviderError> {
    let res = clients
        .rds
        .delete_db_subnet_group()
        .db_subnet_group_name(name)
        .send()
        .await;
    ok_if_not_found(
        res.map(|_| ())
            .map_err(|e| classify(e, Op::Delete, "rds DeleteDBSubnetGroup")),
    )
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
    let out = none_if_not_found(res.map_err(|e| classify(e, Op::Read, "rds DescribeDBInstances")))?;
    Ok(out.and_then(|o| o.db_instances().first().cloned()))
}

/// Deletes DB instance `name` without final snapshot, with its automated backups. Succeeds
/// if it does not exist or is already being deleted; fails with
/// [`ErrorKind::InvalidInput`] when deletion protection is on.
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
    ok_if_not_found(
        res.map(|_| ())
            .map_err(|e| classify(e, Op::Delete, "rds DeleteDBInstance")),
    )
}

fn instance_outputs(db: &DbInstance, password_secret: Option<&str>) -> Outputs {
    let endpoint = db.endpoint();
    outputs([
        ("host", json!(endpoint.and_then(|e| e.address()))),
        ("port", json!(endpoint.and_then(|e| e.port()))),
        ("database", json!(db.db_name())),
        ("username", json!(db.master_username())),
        ("password_secret", json!(password_secret)),
        ("arn", json!(db.db_instance_arn())),
    ])
}

/// Whether the live instance differs from the config in what [`ResourceOps::update`] can
/// change.
fn drifted(ctx: &OpContext<'_>, db: &DbInstance) -> bool {
    config_i32(ctx, "storage_gb").ok() != db.allocated_storage()
        || ctx.config_str("instance_class").ok() != db.db_instance_class()
        || Some(config_bool(ctx, "deletion_protection")) != db.deletion_protection()
        || ctx
            .config_str("engine_version")
            .is_ok_and(|v| !version_matches(db.engine_version().unwrap_or_default(), v))
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

impl DatabaseService {
    /// The ARN of the password secret: recorded, else from `DescribeSecret`.
    async fn password_secret_arn(
        &self,
        ctx: &OpContext<'_>,
    ) -> Result<Option<String>, ProviderError> {
        if let Some(arn) = ctx.recorded_str("password_secret") {
            return Ok(Some(arn.to_string()));
        }
        let name = ctx.config_str("password_secret_name")?;
        Ok(secrets::describe_secret(&self.clients, name)
            .await?
            .map(|i| i.arn))
    }

    async fn create_subnet_group(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        let name = &ctx.resource.name;
        if let Some((arn, tags)) = describe_subnet_group(&self.clients, name).await? {
            ensure_ours(ctx, tag_pairs(&tags))?;
            return Ok(subnet_group_outputs(name, &arn));
        }
        let out = self
            .clients
            .rds
            .create_db_subnet_group()
            .db_subnet_group_name(name)
            .db_subnet_group_description(format!("{} (multicloud)", ctx.resource.id))
            .set_subnet_ids(Some(dep_ids(ctx, "subnets")?))
            .set_tags(Some(rds_tags(ctx)))
            .send()
            .await
            .map_err(|e| classify(e, Op::Create, "rds CreateDBSubnetGroup"))?;
        let arn = out
            .db_subnet_group()
            .and_then(|g| g.db_subnet_group_arn())
            .unwrap_or_default();
        Ok(subnet_group_outputs(name, arn))
    }

    /// Stores a freshly generated master password under `password_secret_name` (creating
    /// the secret with the resource's tags, or putting a new version into ours) and returns
    /// it with the secret's ARN and whether the secret was created by this call.
    async fn store_new_password(
        &self,
        ctx: &OpContext<'_>,
    ) -> Result<(SecretString, String, bool), ProviderError> {
        let name = ctx.config_str("password_secret_name")?;
        let password = SecretString::generate(PASSWORD_LENGTH);
        let (stored, created) = match secrets::describe_secret(&self.clients, name).await? {
            None => (
                secrets::create_secret(&self.clients, name, &password, &ctx.resource.tags).await?,
                true,
            ),
            Some(info) => {
                secrets::adopt_secret(&self.clients, ctx, &info).await?;
                (
                    secrets::put_secret_value(&self.clients, name, &password).await?,
                    false,
                )
            }
        };
        Ok((password, stored.id, created))
    }

    async fn create_instance(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        let name = &ctx.resource.name;
        if let Some(db) = describe_instance(&self.clients, name).await? {
            ensure_ours(ctx, tag_pairs(db.tag_list()))?;
            // Adopt: the password in the secret is the one the instance was created with.
            let secret_name = ctx.config_str("password_secret_name")?;
            let Some(info) = secrets::describe_secret(&self.clients, secret_name).await? else {
                return Err(ProviderError::new(
                    ErrorKind::Failed,
                    format!(
                        "RDS instance {name} exists but its master password secret {secret_name} does not; \
                         reset the master password and store it there, or delete the instance"
                    ),
                )
                .with_code("PasswordSecretMissing"));
            };
            let secret = secrets::adopt_secret(&self.clients, ctx, &info).await?;
            return Ok(instance_outputs(&db, Some(&secret.id)));
        }
        // Resolve every input before touching the password secret.
        let security_group = dep_id(ctx, "security_group")?;
        let subnet_group = dep_output(ctx, "subnet_group", "name")?;
        let (engine_version, class, db_name, username) = (
            ctx.config_str("engine_version")?,
            ctx.config_str("instance_class")?,
            ctx.config_str("database_name")?,
            ctx.config_str("username")?,
        );
        let storage = config_i32(ctx, "storage_gb")?;
        let (password, secret_arn, secret_created) = self.store_new_password(ctx).await?;
        let res = self
            .clients
            .rds
            .create_db_instance()
            .db_instance_identifier(name)
            .engine("postgres")
            .engine_version(engine_version)
            .allocated_storage(storage)
            .db_instance_class(class)
            .db_name(db_name)
            .master_username(username)
            .master_user_password(password.expose())
            .storage_encrypted(true)
            .publicly_accessible(false)
            .deletion_protection(config_bool(ctx, "deletion_protection"))
            .vpc_security_group_ids(security_group)
            .db_subnet_group_name(subnet_group)
            .copy_tags_to_snapshot(true)
            .set_tags(Some(rds_tags(ctx)))
            .send()
            .await
            .map_err(|e| classify(e, Op::Create, "rds CreateDBInstance"));
        let out = match res {
            Ok(out) => out,
            Err(e) => {
                // A definite refusal (bad input, quota…) leaves no instance behind: remove
                // the secret this call created rather than orphan it. Retryable errors and
                // races (AlreadyExists) keep it: the instance may exist or be retried.
                if secret_created && !e.retryable() && e.kind() != ErrorKind::AlreadyExists {
                    let name = ctx.config_str("password_secret_name")?;
                    if let Err(cleanup) = secrets::delete_secret_force(&self.clients, name).await {
                        tracing::warn!(secret = name, error = %cleanup, "could not remove the unused password secret");
                    }
                }
                return Err(e);
            }
        };
        Ok(match out.db_instance() {
            Some(db) => instance_outputs(db, Some(&secret_arn)),
            None => outputs([
                ("database", json!(db_name)),
                ("username", json!(username)),
                ("password_secret", json!(secret_arn)),
            ]),
        })
    }

    async fn update_instance(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        let name = &ctx.resource.name;
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
        let storage = config_i32(ctx, "storage_gb")?;
        if db.allocated_storage() != Some(storage) {
            req = req.allocated_storage(storage);
            changed = true;
        }
        let class = ctx.config_str("instance_class")?;
        if db.db_instance_class() != Some(class) {
            req = req.db_instance_class(class);
            changed = true;
        }
        let protection = config_bool(ctx, "deletion_protection");
        if db.deletion_protection() != Some(protection) {
            req = req.deletion_protection(protection);
            changed = true;
        }
        let version = ctx.config_str("engine_version")?;
        let live_version = db.engine_version().unwrap_or_default();
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
        Ok(instance_outputs(
            &db,
            self.password_secret_arn(ctx).await?.as_deref(),
        ))
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
                self.password_secret_arn(ctx).await?.as_deref(),
            ))),
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
    "password_secret_name",
    "subnet_group",
    "security_group",
];

#[async_trait]
impl ResourceOps for DatabaseService {
    async fn observe(&self, ctx: &OpContext<'_>) -> Result<Observation, ProviderError> {
        let name = &ctx.resource.name;
        match ctx.resource.kind {
            ResourceKind::DbSubnetGroup => {
                Ok(match describe_subnet_group(&self.clients, name).await? {
                    None => Observation::Absent,
                    Some((arn, tags)) => observed(
                        ctx,
                        Some(&arn),
                        tag_pairs(&tags),
                        subnet_group_outputs(name, &arn),
                        false,
                    ),
                })
            }
            ResourceKind::Database => Ok(match describe_instance(&self.clients, name).await? {
                None => Observation::Absent,
                Some(db) => {
                    let secret = self.password_secret_arn(ctx).await?;
                    observed(
                        ctx,
                        db.db_instance_arn(),
                        tag_pairs(db.tag_list()),
                        instance_outputs(&db, secret.as_deref()),
                        drifted(ctx, &db),
                    )
                }
            }),
            _ => Err(unsupported("database", ctx.resource.kind)),
        }
    }

    async fn create(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        match ctx.resource.kind {
            ResourceKind::DbSubnetGroup => self.create_subnet_group(ctx).await,
            ResourceKind::Database => self.create_instance(ctx).await,
            _ => Err(unsupported("database", ctx.resource.kind)),
        }
    }

    /// Databases: `ModifyDBInstance` (applied immediately) for storage, class, deletion
    /// protection and engine version, sending only what differs.
    async fn update(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        match ctx.resource.kind {
            ResourceKind::Database => self.update_instance(ctx).await,
            kind => Err(ProviderError::new(
                ErrorKind::Unsupported,
                format!("{kind} cannot be updated in place"),
            )),
        }
    }

    fn supports_update(&self, kind: ResourceKind) -> bool {
        kind == ResourceKind::Database
    }

    /// A database is replaced only when its name, user, password secret or placement
    /// changes; storage, class, version, deletion protection and `force_delete_secret` are
    /// updated in place. Subnet groups are replaced.
    fn requires_replacement(&self, kind: ResourceKind, old: &Value, new: &Value) -> bool {
        if kind != ResourceKind::Database {
            return true;
        }
        REPLACING_FIELDS.iter().any(|k| old.get(k) != new.get(k))
    }

    /// Databases: deletes the instance (refused with deletion protection on), then its
    /// password secret (at once when `force_delete_secret`, else with the recovery window)
    /// if it carries our ownership tags; a secret of someone else under that name is left.
    async fn delete(&self, ctx: &OpContext<'_>) -> Result<(), ProviderError> {
        match ctx.resource.kind {
            ResourceKind::DbSubnetGroup => {
                delete_db_subnet_group(&self.clients, &ctx.resource.name).await
            }
            ResourceKind::Database => {
                delete_db_instance(&self.clients, &ctx.resource.name).await?;
                let name = ctx.config_str("password_secret_name")?;
                let Some(info) = secrets::describe_secret(&self.clients, name).await? else {
                    return Ok(());
                };
                if owner(ctx, tag_pairs(&info.tags)) != Owner::Us {
                    tracing::warn!(
                        secret = name,
                        "not deleting a password secret we do not own"
                    );
                    return Ok(());
                }
                let force = config_bool(ctx, "force_delete_secret");
                secrets::delete_secret(&self.clients, name, force).await
            }
            _ => Err(unsupported("database", ctx.resource.kind)),
        }
    }

    async fn ready(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        match ctx.resource.kind {
            ResourceKind::DbSubnetGroup => Ok(Readiness::ready()),
            ResourceKind::Database => self.instance_ready(ctx).await,
            _ => Err(unsupported("database", ctx.resource.kind)),
        }
    }

    async fn gone(&self, ctx: &OpContext<'_>) -> Result<Readiness, ProviderError> {
        let name = &ctx.resource.name;
        match ctx.resource.kind {
            ResourceKind::DbSubnetGroup => {
                Ok(match describe_subnet_group(&self.clients, name).await? {
                    None => Readiness::ready(),
                    Some(_) => Readiness::pending("exists"),
                })
            }
            ResourceKind::Database => Ok(match describe_instance(&self.clients, name).await? {
                None => Readiness::ready(),
                Some(db) => Readiness::pending(db.db_instance_status().unwrap_or("deleting")),
            }),
            _ => Err(unsupported("database", ctx.resource.kind)),
        }
    }
}

impl DatabaseOps for DatabaseService {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_versions_match_by_prefix() {
        assert!(version_matches("16.3", "16"));
        assert!(version_matches("16.3", "16.3"));
        assert!(!version_matches("16.3", "1"));
        assert!(!version_matches("17.1", "16"));
        assert_eq!(major("16.3"), "16");
    }
}
