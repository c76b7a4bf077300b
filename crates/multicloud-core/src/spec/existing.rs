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
//! database and cache live in the cluster's own network, named with [`ExistingNetwork`]
//! (without one they are refused with a clear error); workload identities on an attached
//! cluster are refused (they need the cloud cluster's OIDC issuer).
//!
//! [`ExistingNetwork`]: a VPC / virtual network by id, with the subnets to use, adopted
//! read-only the same way: the stack puts its own pieces in it (security groups, subnet
//! groups, the database, the cache, a cluster) and never changes or deletes the network.

use serde::{Deserialize, Serialize};

use super::StackSpec;
use super::validate::{Rule, ValidationError};

/// A network the stack uses without creating it (instead of `network:`), adopted
/// **read-only**: read, never modified or deleted (`down` forgets it); one that does not
/// exist stops the plan with [`Error::MissingExisting`](crate::Error::MissingExisting) before
/// any change. The stack creates its own pieces in it. In YAML:
///
/// ```yaml
/// existing_network:
///   id: vpc-0abc                       # Azure: the virtual network's ARM id
///   private_subnets: [subnet-1, subnet-2]
/// ```
///
/// - AWS: `id` is a VPC id; `private_subnets` are subnet ids in at least two zones (the
///   nodes, the database's and cache's subnet groups); `public_subnets` are optional (the
///   network's owner tags them `kubernetes.io/role/elb` for internet-facing load balancers);
///   the private subnets' way out (NAT, endpoints) is the network owner's.
/// - Azure: `id` is a virtual network's ARM id; `private_subnets` holds one subnet ARM id,
///   the cluster's nodes' (and the cache's private endpoint's); `database_subnet` is a
///   subnet delegated to `Microsoft.DBforPostgreSQL/flexibleServers`, needed with a
///   database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExistingNetwork {
    /// The network's cloud id: a VPC id (`vpc-…`), a virtual network's ARM id.
    pub id: String,
    /// The private subnets' cloud ids (see the type's docs per cloud).
    pub private_subnets: Vec<String>,
    /// Public subnets' cloud ids (AWS, optional).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub public_subnets: Vec<String>,
    /// The subnet delegated to PostgreSQL (Azure, with a database).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_subnet: Option<String>,
}

impl ExistingNetwork {
    /// The network `id` with its `private_subnets`.
    pub fn new<S: Into<String>>(
        id: impl Into<String>,
        private_subnets: impl IntoIterator<Item = S>,
    ) -> Self {
        Self {
            id: id.into(),
            private_subnets: private_subnets.into_iter().map(Into::into).collect(),
            public_subnets: Vec::new(),
            database_subnet: None,
        }
    }

    /// With public subnets (AWS).
    pub fn public_subnets<S: Into<String>>(mut self, subnets: impl IntoIterator<Item = S>) -> Self {
        self.public_subnets = subnets.into_iter().map(Into::into).collect();
        self
    }

    /// With the subnet delegated to PostgreSQL (Azure).
    pub fn database_subnet(mut self, subnet: impl Into<String>) -> Self {
        self.database_subnet = Some(subnet.into());
        self
    }
}

/// The rules of an existing network: not beside a `network:` block, a non-empty id, at least
/// one private subnet, no empty subnet id.
pub(super) fn check_existing_network(spec: &StackSpec, errors: &mut Vec<ValidationError>) {
    let Some(net) = &spec.existing_network else {
        return;
    };
    let at = "spec.existing_network";
    if spec.network.is_some() {
        errors.push(ValidationError::new(
            at,
            Rule::Unsupported,
            "give either `network` (a network the stack creates) or `existing_network`, not both",
        ));
    }
    if net.id.trim().is_empty() {
        errors.push(ValidationError::new(
            format!("{at}.id"),
            Rule::Required,
            "the existing network's id is empty",
        ));
    }
    if net.private_subnets.is_empty() {
        errors.push(ValidationError::new(
            format!("{at}.private_subnets"),
            Rule::Required,
            "name at least one private subnet (the cluster's nodes, the database and cache)",
        ));
    }
    let subnets = [
        ("private_subnets", &net.private_subnets),
        ("public_subnets", &net.public_subnets),
    ];
    for (field, list) in subnets {
        for (i, s) in list.iter().enumerate() {
            if s.trim().is_empty() {
                errors.push(ValidationError::new(
                    format!("{at}.{field}[{i}]"),
                    Rule::Required,
                    "empty subnet id",
                ));
            }
        }
    }
}

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "Repr")]
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

/// The YAML/JSON form written: a map `{id: ...}` or the word `attached` (no YAML tags; read
/// back by hand, so an unknown key is reported at its line).
#[derive(Serialize)]
#[serde(untagged)]
enum Repr {
    Word(String),
    Id(IdRepr),
}

#[derive(Serialize)]
struct IdRepr {
    id: String,
}

impl From<ExistingCluster> for Repr {
    fn from(c: ExistingCluster) -> Self {
        match c {
            ExistingCluster::Id(id) => Repr::Id(IdRepr { id }),
            ExistingCluster::Attached => Repr::Word("attached".into()),
        }
    }
}

/// The rules of an existing cluster: not beside a `cluster:` block, a non-empty id, a
/// database or cache only in a named existing network (the cluster's), no workload
/// identities on an attached cluster.
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
    if !data.is_empty() && spec.existing_network.is_none() {
        errors.push(ValidationError::new(
            at,
            Rule::Unsupported,
            format!(
                "{} on an existing cluster must live in the cluster's own network: name it \
                 with `existing_network` (its id and private subnets)",
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
