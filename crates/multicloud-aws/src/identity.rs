//! The IAM side of the stack: the EKS cluster role and the node role ([`ServiceRole`]), the
//! cluster's OIDC provider ([`OidcProvider`]) and one IRSA role per workload identity
//! ([`IrsaRole`]).
//!
//! Roles are found by name and judged by their tags; the OIDC provider by its ARN
//! (`arn:<partition>:iam::<account>:oidc-provider/<issuer host/path>`). An IRSA role trusts
//! exactly one service account of the cluster ([`irsa_trust_policy`]) and carries one inline
//! policy, `multicloud-access` ([`irsa_access_policy`]), scoped to exactly the secrets and
//! repositories the spec grants. Deleting a role first detaches its managed policies, deletes
//! its inline policies and removes it from instance profiles; a `DeleteConflict` is returned
//! classified retryable.

mod oidc;
mod roles;

use async_trait::async_trait;
use aws_sdk_iam::types::Role;
use multicloud_core::observation::{Drift, FieldDrift};
use multicloud_core::outputs::IdentityOutputs;
use multicloud_core::provider::{Observation, Observed, OpContext, Outputs, Owner, ResourceOps};
use multicloud_core::{ErrorKind, ProviderError};
use serde_json::{Value, json};

use crate::clients::AwsClients;
use crate::expand::ids;
use crate::model::{OidcOutputs, RoleConfig, RoleOutputs, WorkloadIdentityConfig};
use crate::support::{dep_ids, foreign, kind_ops, sweep_with};
use crate::tagging::{desired_tags, judge};

pub use oidc::{EKS_OIDC_THUMBPRINT, OidcProvider, issuer_host_path};
pub(crate) use oidc::{get_provider, list_provider_arns};
pub(crate) use roles::{delete_role, role_tags};

/// The name of the inline policy of an IRSA role.
pub const ACCESS_POLICY_NAME: &str = "multicloud-access";

/// The trust policy letting AWS service `service` (`eks.amazonaws.com`,
/// `ec2.amazonaws.com`) assume a role.
pub fn service_trust_policy(service: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": service },
            "Action": "sts:AssumeRole",
        }],
    })
}

/// The trust policy of an IRSA role: web identities from the cluster's OIDC provider
/// `oidc_provider_arn`, for exactly `system:serviceaccount:<namespace>:<service_account>`
/// and audience `sts.amazonaws.com`. `issuer` may be given with or without `https://`.
pub fn irsa_trust_policy(
    oidc_provider_arn: &str,
    issuer: &str,
    namespace: &str,
    service_account: &str,
) -> Value {
    let issuer = issuer_host_path(issuer);
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Federated": oidc_provider_arn },
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    format!("{issuer}:sub"): format!("system:serviceaccount:{namespace}:{service_account}"),
                    format!("{issuer}:aud"): "sts.amazonaws.com",
                }
            },
        }],
    })
}

/// The inline policy of an IRSA role: read exactly `secret_arns` and pull from exactly
/// `repository_arns` (plus `ecr:GetAuthorizationToken`, which cannot be scoped to a
/// resource). `None` when it grants nothing.
pub fn irsa_access_policy(secret_arns: &[String], repository_arns: &[String]) -> Option<Value> {
    let mut statements = Vec::new();
    if !secret_arns.is_empty() {
        statements.push(json!({
            "Sid": "ReadSecrets",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            "Resource": secret_arns,
        }));
    }
    if !repository_arns.is_empty() {
        statements.push(json!({
            "Sid": "PullImages",
            "Effect": "Allow",
            "Action": [
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
                "ecr:BatchCheckLayerAvailability",
            ],
            "Resource": repository_arns,
        }));
        statements.push(json!({
            "Sid": "RegistryLogin",
            "Effect": "Allow",
            "Action": "ecr:GetAuthorizationToken",
            "Resource": "*",
        }));
    }
    (!statements.is_empty()).then(|| json!({ "Version": "2012-10-17", "Statement": statements }))
}

/// `arn` (an `arn:aws:...` managed policy ARN) in `partition` (`aws-cn`, `aws-us-gov`).
pub fn policy_arn_in_partition(arn: &str, partition: &str) -> String {
    match arn.strip_prefix("arn:aws:") {
        Some(rest) if partition != "aws" => format!("arn:{partition}:{rest}"),
        _ => arn.to_string(),
    }
}

/// Parses a policy document as IAM returns it: URL-encoded (`%7B%22Version%22…`), or plain
/// JSON.
pub fn decode_policy_document(doc: &str) -> Result<Value, ProviderError> {
    let text = if doc.trim_start().starts_with('{') {
        doc.to_string()
    } else {
        let bytes = doc.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                let hex_pair = doc.get(i + 1..i + 3).unwrap_or_default();
                let byte = hex::decode(hex_pair)
                    .ok()
                    .and_then(|b| b.first().copied())
                    .ok_or_else(|| {
                        ProviderError::invalid(format!("bad escape at {i} in policy document"))
                    })?;
                out.push(byte);
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out)
            .map_err(|e| ProviderError::invalid(format!("policy document: {e}")))?
    };
    serde_json::from_str(&text).map_err(|e| ProviderError::invalid(format!("policy document: {e}")))
}

kind_ops! {
    /// An IAM role an AWS service assumes: the EKS cluster role
    /// ([`kinds::CLUSTER_ROLE`](crate::kinds::CLUSTER_ROLE)) and the node role
    /// ([`kinds::NODE_ROLE`](crate::kinds::NODE_ROLE)), config [`RoleConfig`].
    ServiceRole;
    /// The IRSA role of one workload identity ([`ResourceKind::WORKLOAD_IDENTITY`]),
    /// trusting exactly one service account of the cluster, config
    /// [`WorkloadIdentityConfig`]; updated in place.
    ///
    /// [`ResourceKind::WORKLOAD_IDENTITY`]: multicloud_core::resource::ResourceKind::WORKLOAD_IDENTITY
    IrsaRole;
}

/// The desired IRSA documents of a workload identity.
struct Irsa {
    trust: Value,
    access: Option<Value>,
}

fn role_outputs(role: &Role) -> Result<Outputs, ProviderError> {
    Outputs::of(&RoleOutputs {
        id: role.arn().to_string(),
        name: role.role_name().to_string(),
    })
}

fn role_name<'a>(ctx: &'a OpContext<'_>) -> &'a str {
    ctx.recorded_str("name").unwrap_or(&ctx.resource.name)
}

/// Whether the trust policy of `role` is `trust`.
fn trusts(role: &Role, trust: &Value) -> bool {
    role.assume_role_policy_document()
        .and_then(|d| decode_policy_document(d).ok())
        .is_some_and(|d| d == *trust)
}

/// Observes the role of `ctx`, with `outputs` of the live role and how it drifted
/// (`drift`).
async fn observe_role(
    c: &AwsClients,
    ctx: &OpContext<'_>,
    outputs: impl Fn(&Role) -> Result<Outputs, ProviderError>,
    drift: impl Fn(&Role) -> Option<Drift>,
) -> Result<Observation, ProviderError> {
    let Some(live) = roles::find_role(c, role_name(ctx)).await? else {
        return Ok(Observation::Absent);
    };
    Ok(Observation::Present(Observed {
        provider_id: Some(live.role.arn().to_string()),
        owner: judge(&ctx.stack.ownership, &live.tags),
        outputs: outputs(&live.role)?,
        drift: drift(&live.role),
        expires_at: None,
        unhealthy: None,
    }))
}

/// The existing role of `ctx` if it is ours, else a new one trusting `trust`; with whether
/// it was created now.
async fn ensure_role(
    c: &AwsClients,
    ctx: &OpContext<'_>,
    trust: &Value,
) -> Result<(Role, bool), ProviderError> {
    let name = &ctx.resource.name;
    let adopt = |live: roles::LiveRole| match judge(&ctx.stack.ownership, &live.tags) {
        Owner::Us => Ok((live.role, false)),
        owner => Err(foreign(ctx.resource.id.as_str(), name, &owner)),
    };
    if let Some(live) = roles::find_role(c, name).await? {
        return adopt(live);
    }
    let tags = desired_tags(name, &ctx.resource.tags, &[]);
    let description = format!(
        "multicloud {} of stack {}",
        ctx.resource.id, ctx.stack.stack
    );
    match roles::create_role(c, name, trust, &description, &tags).await? {
        Some(role) => Ok((role, true)),
        None => match roles::find_role(c, name).await? {
            Some(live) => adopt(live),
            None => Err(ProviderError::new(
                ErrorKind::EventualConsistency,
                format!("role {name} exists but cannot be read yet"),
            )),
        },
    }
}

/// Deletes the role of `ctx`: the recorded one (ours by construction), else the one of that
/// name if our tags say it is ours.
async fn delete_role_of(c: &AwsClients, ctx: &OpContext<'_>) -> Result<(), ProviderError> {
    let name = match ctx.recorded_str("name") {
        Some(name) => name.to_string(),
        None => match roles::find_role(c, &ctx.resource.name).await? {
            None => return Ok(()),
            Some(live) => match judge(&ctx.stack.ownership, &live.tags) {
                Owner::Us => ctx.resource.name.clone(),
                owner => {
                    return Err(foreign(
                        ctx.resource.id.as_str(),
                        &ctx.resource.name,
                        &owner,
                    ));
                }
            },
        },
    };
    delete_role(c, &name).await
}

#[async_trait]
impl ResourceOps for ServiceRole {
    async fn observe(&self, ctx: &OpContext<'_>) -> Result<Observation, ProviderError> {
        observe_role(&self.clients, ctx, role_outputs, |_| None).await
    }

    async fn create(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        let c = &self.clients;
        let config: RoleConfig = ctx.config()?;
        let trust = service_trust_policy(&config.service);
        let (role, _) = ensure_role(c, ctx, &trust).await?;
        for arn in &config.managed_policies {
            let arn = policy_arn_in_partition(arn, c.partition());
            roles::attach_policy(c, role.role_name(), &arn).await?;
        }
        role_outputs(&role)
    }

    async fn delete(&self, ctx: &OpContext<'_>) -> Result<(), ProviderError> {
        delete_role_of(&self.clients, ctx).await
    }
}

impl IrsaRole {
    fn irsa(ctx: &OpContext<'_>) -> Result<Irsa, ProviderError> {
        let oidc: OidcOutputs = ctx.dep(&ids::oidc())?;
        let config: WorkloadIdentityConfig = ctx.config()?;
        let (namespace, service_account) = (&config.namespace, &config.service_account);
        Ok(Irsa {
            trust: irsa_trust_policy(&oidc.id, &oidc.url, namespace, service_account),
            access: irsa_access_policy(
                &dep_ids(ctx, &config.read_secrets)?,
                &dep_ids(ctx, &config.pull_registries)?,
            ),
        })
    }

    /// The role's outputs, with what its service account is annotated with and the subject
    /// it trusts.
    fn outputs(ctx: &OpContext<'_>, role: &Role) -> Result<Outputs, ProviderError> {
        let mut o = role_outputs(role)?;
        let config: WorkloadIdentityConfig = ctx.config()?;
        o.merge(Outputs::of(&IdentityOutputs {
            id: role.arn().to_string(),
            identity: role.arn().to_string(),
            subject: Some(subject(&config.namespace, &config.service_account)),
        })?);
        Ok(o)
    }

    /// Puts the trust policy (when it differs) and the inline access policy.
    async fn apply(
        &self,
        role: &Role,
        irsa: &Irsa,
        trust_current: bool,
    ) -> Result<(), ProviderError> {
        let c = &self.clients;
        let name = role.role_name();
        if !trust_current && !trusts(role, &irsa.trust) {
            roles::update_trust(c, name, &irsa.trust).await?;
        }
        match &irsa.access {
            Some(doc) => roles::put_inline_policy(c, name, ACCESS_POLICY_NAME, doc).await,
            None => roles::delete_inline_policy(c, name, ACCESS_POLICY_NAME).await,
        }
    }
}

#[async_trait]
impl ResourceOps for IrsaRole {
    /// Drift: a trust policy that is not the desired one.
    async fn observe(&self, ctx: &OpContext<'_>) -> Result<Observation, ProviderError> {
        let desired = Self::irsa(ctx).ok();
        let drift = |role: &Role| {
            let irsa = desired.as_ref()?;
            let live = role
                .assume_role_policy_document()
                .and_then(|d| decode_policy_document(d).ok())?;
            (live != irsa.trust).then(|| {
                Drift::field(FieldDrift::changed(
                    "assume_role_policy_document",
                    &irsa.trust,
                    &live,
                ))
            })
        };
        let outputs = |role: &Role| Self::outputs(ctx, role);
        observe_role(&self.clients, ctx, outputs, drift).await
    }

    async fn create(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        let irsa = Self::irsa(ctx)?;
        let (role, created) = ensure_role(&self.clients, ctx, &irsa.trust).await?;
        self.apply(&role, &irsa, created).await?;
        Self::outputs(ctx, &role)
    }

    fn supports_update(&self) -> bool {
        true
    }

    async fn update(&self, ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
        let irsa = Self::irsa(ctx)?;
        let name = role_name(ctx);
        let live = roles::find_role(&self.clients, name)
            .await?
            .ok_or_else(|| {
                ProviderError::not_found(format!("{}: role {name} does not exist", ctx.resource.id))
            })?;
        let owner = judge(&ctx.stack.ownership, &live.tags);
        if owner != Owner::Us {
            return Err(foreign(ctx.resource.id.as_str(), name, &owner));
        }
        self.apply(&live.role, &irsa, false).await?;
        Self::outputs(ctx, &live.role)
    }

    async fn delete(&self, ctx: &OpContext<'_>) -> Result<(), ProviderError> {
        delete_role_of(&self.clients, ctx).await
    }
}

/// The OIDC subject of service account `sa` in namespace `ns`: exactly
/// `system:serviceaccount:NS:SA`.
fn subject(ns: &str, sa: &str) -> String {
    format!("system:serviceaccount:{ns}:{sa}")
}

sweep_with!(ServiceRole => delete_role(name), IrsaRole => delete_role(name));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_arns_follow_the_partition() {
        let arn = "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy";
        assert_eq!(policy_arn_in_partition(arn, "aws"), arn);
        assert_eq!(
            policy_arn_in_partition(arn, "aws-cn"),
            "arn:aws-cn:iam::aws:policy/AmazonEKSClusterPolicy"
        );
    }

    #[test]
    fn policy_documents_decode_url_encoded_or_plain() {
        let doc = service_trust_policy("eks.amazonaws.com");
        let encoded: String = doc
            .to_string()
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        assert_eq!(decode_policy_document(&encoded).ok(), Some(doc.clone()));
        assert_eq!(decode_policy_document(&doc.to_string()).ok(), Some(doc));
        assert!(decode_policy_document("%7").is_err());
    }

    #[test]
    fn access_policy_omits_empty_statements() {
        assert_eq!(irsa_access_policy(&[], &[]), None);
        let only_secrets = irsa_access_policy(&["arn:s".into()], &[]);
        let statements = only_secrets
            .as_ref()
            .and_then(|p| p["Statement"].as_array())
            .map(Vec::len);
        assert_eq!(statements, Some(1));
    }
}
