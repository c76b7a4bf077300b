//! The instance's side of the master password: the password is the `secret` node
//! [`DatabaseConfig::password_secret`], made and deleted by the secrets service; the
//! instance only reads it, by the secret's ARN, and checks an adopted instance against it.

use aws_sdk_rds::types::DbInstance;
use multicloud_core::outputs::SecretOutputs;
use multicloud_core::provider::OpContext;
use multicloud_core::{ErrorKind, ProviderError, SecretString};

use crate::clients::AwsClients;
use crate::error::{Op, classify};
use crate::model::DatabaseConfig;

/// The ARN of the password secret: the secret dependency's `id`, else the one recorded
/// (`None` when neither is known, or the config is of an older shape).
pub(super) fn secret_arn(ctx: &OpContext<'_>) -> Option<String> {
    ctx.config::<DatabaseConfig>()
        .ok()
        .and_then(|cfg| ctx.dep::<SecretOutputs>(&cfg.password_secret).ok())
        .map(|s| s.id)
        .or_else(|| ctx.recorded_str("password_secret").map(str::to_string))
}

/// The current value of the password secret `arn` (`GetSecretValue`). The error never
/// carries the value.
pub(super) async fn value(clients: &AwsClients, arn: &str) -> Result<SecretString, ProviderError> {
    let out = clients
        .secrets
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| classify(e, Op::Read, "secretsmanager GetSecretValue"))?;
    out.secret_string().map(SecretString::new).ok_or_else(|| {
        ProviderError::invalid(format!(
            "password secret {arn} holds a binary value, not a string"
        ))
    })
}

/// Adopting instance `db`: refused when the password secret `arn` was created after it
/// (made anew, say after the old one was deleted, so it cannot hold the instance's
/// password). Unknown dates pass.
pub(super) async fn ensure_predates(
    clients: &AwsClients,
    db: &DbInstance,
    arn: &str,
) -> Result<(), ProviderError> {
    let described = clients
        .secrets
        .describe_secret()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| classify(e, Op::Read, "secretsmanager DescribeSecret"))?;
    let (Some(secret), Some(instance)) = (described.created_date(), db.instance_create_time())
    else {
        return Ok(());
    };
    if secret.secs() <= instance.secs() {
        return Ok(());
    }
    let name = db.db_instance_identifier().unwrap_or_default();
    Err(ProviderError::new(
        ErrorKind::Failed,
        format!(
            "RDS instance {name} exists but its master password secret {arn} was created after it, \
             so it does not hold the instance's password; set the instance's master password to \
             the secret's value (ModifyDBInstance), or delete the instance"
        ),
    )
    .with_code("PasswordSecretNewer"))
}
