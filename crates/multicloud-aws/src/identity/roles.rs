//! IAM roles: lookup with tags, creation with a trust policy and tags, managed and inline
//! policies, and deletion of everything that blocks `DeleteRole`.

use std::collections::BTreeMap;

use aws_sdk_iam::types::Role;
use multicloud_core::{ErrorKind, ProviderError};
use serde_json::Value;

use crate::clients::AwsClients;
use crate::error::{Op, classify};
use crate::support::{all_items, deleted, none_if_not_found, read_or_none};
use crate::tagging::{iam_tag_map, iam_tags};

/// IAM is eventually consistent: a role or OIDC provider created a moment ago may be
/// unknown to the next call (`NoSuchEntity` on attach, `MalformedPolicyDocument: Invalid
/// principal` for a trust naming a fresh provider). Those are retried, not fatal.
fn not_visible_yet(e: ProviderError) -> ProviderError {
    let invalid_principal = e.code() == Some("MalformedPolicyDocument")
        && e.message().to_ascii_lowercase().contains("principal");
    if e.kind() == ErrorKind::NotFound || invalid_principal {
        let code = e.code().unwrap_or("NoSuchEntity").to_string();
        ProviderError::new(ErrorKind::EventualConsistency, e.message().to_string())
            .with_code(code)
            .with_source(e)
    } else {
        e
    }
}

/// A role with its tags.
#[derive(Debug, Clone)]
pub(crate) struct LiveRole {
    pub(crate) role: Role,
    pub(crate) tags: BTreeMap<String, String>,
}

/// Role `name` with its tags, or `None` when it does not exist.
pub(crate) async fn find_role(
    c: &AwsClients,
    name: &str,
) -> Result<Option<LiveRole>, ProviderError> {
    let out = read_or_none(c.iam.get_role().role_name(name).send().await, "iam GetRole")?;
    let Some(role) = out.and_then(|o| o.role) else {
        return Ok(None);
    };
    let tags = if role.tags().is_empty() {
        role_tags(c, name).await?
    } else {
        iam_tag_map(role.tags())
    };
    Ok(Some(LiveRole { role, tags }))
}

/// The tags of role `name` (`ListRoleTags`).
pub(crate) async fn role_tags(
    c: &AwsClients,
    name: &str,
) -> Result<BTreeMap<String, String>, ProviderError> {
    let tags = all_items!(c.iam.list_role_tags().role_name(name), "iam ListRoleTags")?;
    Ok(iam_tag_map(&tags))
}

/// Creates role `name` trusting `trust`, tagged with `tags`. `Ok(None)` when a role of that
/// name appeared meanwhile (the caller judges it).
pub(crate) async fn create_role(
    c: &AwsClients,
    name: &str,
    trust: &Value,
    description: &str,
    tags: &BTreeMap<String, String>,
) -> Result<Option<Role>, ProviderError> {
    let r = c
        .iam
        .create_role()
        .role_name(name)
        .assume_role_policy_document(trust.to_string())
        .description(description)
        .set_tags(Some(iam_tags(tags)?))
        .send()
        .await
        .map_err(|e| not_visible_yet(classify(e, Op::Create, "iam CreateRole")));
    match r {
        Ok(out) => out
            .role
            .map(Some)
            .ok_or_else(|| ProviderError::invalid("iam CreateRole returned no role")),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(None),
        Err(e) => Err(e),
    }
}

/// Attaches managed policy `policy_arn` to role `name` (idempotent).
pub(crate) async fn attach_policy(
    c: &AwsClients,
    name: &str,
    policy_arn: &str,
) -> Result<(), ProviderError> {
    c.iam
        .attach_role_policy()
        .role_name(name)
        .policy_arn(policy_arn)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            not_visible_yet(classify(
                e,
                Op::Create,
                &format!("iam AttachRolePolicy {policy_arn}"),
            ))
        })
}

/// The managed policies attached to role `name`.
pub(crate) async fn attached_policies(
    c: &AwsClients,
    name: &str,
) -> Result<Vec<String>, ProviderError> {
    let items = all_items!(
        c.iam.list_attached_role_policies().role_name(name),
        "iam ListAttachedRolePolicies"
    )?;
    Ok(items
        .iter()
        .filter_map(|p| p.policy_arn().map(str::to_string))
        .collect())
}

/// Puts inline policy `policy_name` on role `name`.
pub(crate) async fn put_inline_policy(
    c: &AwsClients,
    name: &str,
    policy_name: &str,
    document: &Value,
) -> Result<(), ProviderError> {
    c.iam
        .put_role_policy()
        .role_name(name)
        .policy_name(policy_name)
        .policy_document(document.to_string())
        .send()
        .await
        .map(|_| ())
        .map_err(|e| not_visible_yet(classify(e, Op::Update, "iam PutRolePolicy")))
}

/// Deletes inline policy `policy_name` of role `name`; a missing policy is not an error.
pub(crate) async fn delete_inline_policy(
    c: &AwsClients,
    name: &str,
    policy_name: &str,
) -> Result<(), ProviderError> {
    deleted(
        c.iam
            .delete_role_policy()
            .role_name(name)
            .policy_name(policy_name)
            .send()
            .await,
        "iam DeleteRolePolicy",
    )
}

/// Replaces the trust policy of role `name`.
pub(crate) async fn update_trust(
    c: &AwsClients,
    name: &str,
    trust: &Value,
) -> Result<(), ProviderError> {
    c.iam
        .update_assume_role_policy()
        .role_name(name)
        .policy_document(trust.to_string())
        .send()
        .await
        .map(|_| ())
        .map_err(|e| not_visible_yet(classify(e, Op::Update, "iam UpdateAssumeRolePolicy")))
}

/// Deletes role `name` and what blocks its deletion: detaches every managed policy, deletes
/// every inline policy and removes it from its instance profiles. A missing role is not an
/// error; `DeleteConflict` (something still attached) is classified retryable.
pub(crate) async fn delete_role(c: &AwsClients, name: &str) -> Result<(), ProviderError> {
    let Some(attached) = none_if_not_found(attached_policies(c, name).await)? else {
        return Ok(());
    };
    for arn in attached {
        deleted(
            c.iam
                .detach_role_policy()
                .role_name(name)
                .policy_arn(&arn)
                .send()
                .await,
            "iam DetachRolePolicy",
        )?;
    }
    let inline = none_if_not_found(all_items!(
        c.iam.list_role_policies().role_name(name),
        "iam ListRolePolicies"
    ))?
    .unwrap_or_default();
    for policy in inline {
        delete_inline_policy(c, name, &policy).await?;
    }
    let profiles = none_if_not_found(all_items!(
        c.iam.list_instance_profiles_for_role().role_name(name),
        "iam ListInstanceProfilesForRole"
    ))?
    .unwrap_or_default();
    for profile in profiles {
        deleted(
            c.iam
                .remove_role_from_instance_profile()
                .instance_profile_name(profile.instance_profile_name())
                .role_name(name)
                .send()
                .await,
            "iam RemoveRoleFromInstanceProfile",
        )?;
    }
    deleted(
        c.iam.delete_role().role_name(name).send().await,
        "iam DeleteRole",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_principals_and_roles_are_retried() {
        let missing =
            ProviderError::not_found("iam AttachRolePolicy: role x").with_code("NoSuchEntity");
        assert_eq!(
            not_visible_yet(missing).kind(),
            ErrorKind::EventualConsistency
        );
        let principal = ProviderError::invalid("iam CreateRole: Invalid principal in policy")
            .with_code("MalformedPolicyDocument");
        assert_eq!(
            not_visible_yet(principal).kind(),
            ErrorKind::EventualConsistency
        );
        let malformed = ProviderError::invalid("iam CreateRole: syntax errors in policy")
            .with_code("MalformedPolicyDocument");
        assert_eq!(not_visible_yet(malformed).kind(), ErrorKind::InvalidInput);
    }
}
