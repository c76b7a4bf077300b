//! Bring your own cluster: a spec that deploys onto a cluster it does not create, paying only
//! for the app and its per-environment pieces (namespace, identities, secrets, registry).
//!
//! - [`ExistingCluster::Id`]: a cloud cluster by its id (an EKS cluster name, an AKS
//!   cluster's ARM id). The plan adopts it **read-only**: it is read for its endpoint, CA
//!   and OIDC issuer, never modified and never deleted (`down` forgets it); one that does
//!   not exist stops the plan with [`Error::MissingExisting`](crate::Error::MissingExisting)
//!   before any change. On AWS its IAM OIDC provider, needed by workload identities, is
//!   adopted read-only the same way.
//! - [`ExistingCluster::Attached`]: the cluster whose credentials the program attaches with
//!   [`Stack::cluster_access`](crate::Stack::cluster_access) (a kubeconfig read with
//!   `multicloud_k8s::credentials_from_kubeconfig`, a test's local control plane): no cloud
//!   cluster is part of the stack at all.
//!
//! A spec with an existing cluster has no `cluster:` block (giving both is an error). Its
//! database and cache would have to live in the cluster's own network, which a spec cannot
//! name yet: they are refused with a clear error, as are workload identities on an attached
//! cluster (they need the cloud cluster's OIDC issuer).

use serde::{Deserialize, Serialize};

use super::StackSpec;
use super::validate::{Rule, ValidationError};

/// A cluster the stack deploys onto without creating it, paying only for the app and its
/// per-environment pieces. In YAML: `existing_cluster: {id: <id>}` or
/// `existing_cluster: attached`.
///
/// - [`ExistingCluster::Id`] is adopted **read-only**: read for its endpoint, CA and OIDC
///   issuer, never modified or deleted (`down` forgets it); one that does not exist stops the
///   plan with [`Error::MissingExisting`](crate::Error::MissingExisting) before any change.
/// - [`ExistingCluster::Attached`] is the cluster whose credentials the program attaches with
///   [`Stack::cluster_access`](crate::Stack::cluster_access): no cloud cluster in the stack.
///
/// A spec with one has no `cluster:` block; a database or cache on it, or workload
/// identities on an attached cluster, are refused by validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Repr", into = "Repr")]
pub enum ExistingCluster {
    /// A cloud cluster by id: an EKS cluster name (AWS), or an AKS cluster's ARM id
    /// `/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.ContainerService/managedClusters/<name>`
    /// (Azure). Adopted read-only.
    Id(String),
    /// The cluster the program attaches with `Stack::cluster_access`.
    Attached,
}

impl ExistingCluster {
    /// A cloud cluster by `id`.
    pub fn id(id: impl Into<String>) -> Self {
        Self::Id(id.into())
    }

    /// The cloud id, for [`ExistingCluster::Id`].
    pub fn cloud_id(&self) -> Option<&str> {
        match self {
            Self::Id(id) => Some(id),
            Self::Attached => None,
        }
    }
}

/// The YAML/JSON form: a map `{id: ...}` or the word `attached` (no YAML tags).
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Repr {
    Word(String),
    Id(IdRepr),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct IdRepr {
    id: String,
}

impl TryFrom<Repr> for ExistingCluster {
    type Error = String;
    fn try_from(r: Repr) -> Result<Self, String> {
        match r {
            Repr::Id(IdRepr { id }) => Ok(Self::Id(id)),
            Repr::Word(w) if w == "attached" => Ok(Self::Attached),
            Repr::Word(w) => Err(format!(
                "`{w}`: expected `attached` or a map `{{id: <cluster id>}}`"
            )),
        }
    }
}

impl From<ExistingCluster> for Repr {
    fn from(c: ExistingCluster) -> Self {
        match c {
            ExistingCluster::Id(id) => Repr::Id(IdRepr { id }),
            ExistingCluster::Attached => Repr::Word("attached".into()),
        }
    }
}

/// The rules of an existing cluster: not beside a `cluster:` block, a non-empty id, no
/// database or cache (they would need the cluster's network), no workload identities on an
/// attached cluster.
pub(super) fn check_existing(spec: &StackSpec, errors: &mut Vec<ValidationError>) {
    let Some(existing) = &spec.existing_cluster else {
        return;
    };
    let at = "spec.existing_cluster";
    if spec.cluster.is_some() {
        errors.push(ValidationError::new(
            at,
            Rule::Unsupported,
            "give either `cluster` (a cluster the stack creates) or `existing_cluster`, not both",
        ));
    }
    if existing.cloud_id().is_some_and(|id| id.trim().is_empty()) {
        errors.push(ValidationError::new(
            format!("{at}.id"),
            Rule::Required,
            "the existing cluster's id is empty",
        ));
    }
    let data: Vec<&str> = [
        (spec.database.is_some(), "a database"),
        (spec.cache.is_some(), "a cache"),
    ]
    .into_iter()
    .filter_map(|(present, what)| present.then_some(what))
    .collect();
    if !data.is_empty() {
        errors.push(ValidationError::new(
            at,
            Rule::Unsupported,
            format!(
                "{} on an existing cluster would need the cluster's own network, which a spec \
                 cannot name yet; leave them out or let the stack create its cluster",
                data.join(" and ")
            ),
        ));
    }
    if *existing == ExistingCluster::Attached && !spec.workload_identities.is_empty() {
        errors.push(ValidationError::new(
            "spec.workload_identities",
            Rule::Unsupported,
            "workload identities need a cloud cluster's OIDC issuer: name the cluster with \
             `existing_cluster: {id: ...}` instead of `attached`",
        ));
    }
}
