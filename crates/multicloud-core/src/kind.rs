//! Resource kinds: an open set, declared by the crate that implements them.
//!
//! A [`ResourceKind`] is only a name (`subnet`, `virtual_network`, `deployment`): two crates
//! naming the same kind mean the same kind, and a kind read back from state is the same
//! value as the constant that declared it. What the engine needs to know about a kind (which
//! [`ServiceFamily`] it is shown under, how long it usually takes, how long to wait for it) is
//! a [`KindDef`], which the implementing crate lists, next to the ops of the kind, in its
//! [`KindTable`](crate::provider::KindTable)
//! ([`CloudProvider::kind_table`](crate::provider::CloudProvider::kind_table) or
//! [`WorkloadOps::kind_table`](crate::provider::WorkloadOps::kind_table)).
//!
//! Core declares only the cloud-neutral vocabulary that the spec and the Kubernetes side
//! need ([`ResourceKind::CLUSTER`], [`ResourceKind::SECRET`], [`ResourceKind::NAMESPACE`]…);
//! a provider adds its own kinds without touching core:
//!
//! ```
//! use std::time::Duration;
//! use multicloud_core::kind::{KindDef, ResourceKind, ServiceFamily};
//!
//! /// An Azure private DNS zone.
//! pub const PRIVATE_DNS_ZONE: ResourceKind = ResourceKind::new("private_dns_zone");
//! pub const DEFS: &[KindDef] = &[KindDef::new(PRIVATE_DNS_ZONE, ServiceFamily::Network)
//!     .expected(Duration::from_secs(30))];
//! assert_eq!(PRIVATE_DNS_ZONE.to_string(), "private_dns_zone");
//! ```

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A kind of resource, identified by its snake_case name. Constants of this type work in
/// `match` patterns.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceKind(&'static str);

impl ResourceKind {
    /// The Kubernetes control plane (EKS cluster, AKS managed cluster).
    pub const CLUSTER: Self = Self("cluster");
    /// A node pool (managed node group, agent pool).
    pub const NODE_POOL: Self = Self("node_pool");
    /// The PostgreSQL server.
    pub const DATABASE: Self = Self("database");
    /// The Redis cache.
    pub const CACHE: Self = Self("cache");
    /// A container registry / repository.
    pub const REGISTRY: Self = Self("registry");
    /// A secret in the cloud's secret store.
    pub const SECRET: Self = Self("secret");
    /// An identity for one Kubernetes service account (IRSA role, managed identity).
    pub const WORKLOAD_IDENTITY: Self = Self("workload_identity");
    /// A Kubernetes namespace.
    pub const NAMESPACE: Self = Self("namespace");
    /// An image pull secret.
    pub const PULL_SECRET: Self = Self("pull_secret");
    /// A Kubernetes service account.
    pub const SERVICE_ACCOUNT: Self = Self("service_account");
    /// A Kubernetes Secret synced from the cloud's secret store.
    pub const SYNCED_SECRET: Self = Self("synced_secret");
    /// A Kubernetes Secret holding an app's connection to a data service of the stack.
    pub const CONNECTION: Self = Self("connection");
    /// A Kubernetes Deployment.
    pub const DEPLOYMENT: Self = Self("deployment");
    /// A Kubernetes Service.
    pub const SERVICE: Self = Self("service");
    /// A set of the user's own Kubernetes objects (`spec.manifests`).
    pub const MANIFEST: Self = Self("manifest");

    /// The kind named `name` (snake_case, as recorded in state).
    pub const fn new(name: &'static str) -> Self {
        Self(name)
    }

    /// The snake_case name (`db_subnet_group`).
    pub fn as_str(self) -> &'static str {
        self.0
    }

    /// The kind named `name`, for a name known only at run time (read from state).
    pub fn from_name(name: &str) -> Self {
        Self(intern(name))
    }
}

/// Kind names read at run time, each kept once for the life of the process (a stack has a
/// few dozen kinds; this is what lets `ResourceKind` stay `Copy`).
fn intern(name: &str) -> &'static str {
    static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let names = NAMES.get_or_init(Default::default);
    let mut set = names.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(&known) = set.get(name) {
        return known;
    }
    let leaked: &'static str = Box::leak(name.to_string().into_boxed_str());
    set.insert(leaked);
    leaked
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl fmt::Debug for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl Serialize for ResourceKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for ResourceKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Known names are interned, so the text is never copied.
        deserialize_str_with(d, "a resource kind name", ResourceKind::from_name)
    }
}

/// Deserializes a value made from a string by `make`, straight from the text (borrowed or
/// escaped alike), without an owned copy first.
pub(crate) fn deserialize_str_with<'de, D: Deserializer<'de>, T>(
    d: D,
    expecting: &'static str,
    make: fn(&str) -> T,
) -> Result<T, D::Error> {
    struct Visitor<T> {
        expecting: &'static str,
        make: fn(&str) -> T,
    }
    impl<T> serde::de::Visitor<'_> for Visitor<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.expecting)
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
            Ok((self.make)(v))
        }
    }
    d.deserialize_str(Visitor { expecting, make })
}

/// The service family a kind belongs to: how events and reports group kinds. It does not
/// decide which ops handle a kind (the provider's [`KindTable`](crate::provider::KindTable)
/// does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ServiceFamily {
    /// Networks, subnets, gateways, route tables, security groups, resource groups, DNS.
    Network,
    /// Roles, OIDC providers, workload identities, federated credentials, role assignments.
    Identity,
    /// The Kubernetes control plane and its node pools.
    Cluster,
    /// PostgreSQL servers and their subnet groups / databases.
    Database,
    /// Redis and its subnet groups / databases.
    Cache,
    /// Container registries.
    Registry,
    /// Secrets and their stores.
    Secrets,
    /// The apps' Kubernetes objects (handled by a
    /// [`WorkloadOps`](crate::provider::WorkloadOps)).
    Workloads,
}

/// What the engine knows about a kind: its family, how long it usually takes (benches,
/// critical-path estimates) and how long the engine waits for it to become ready or gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindDef {
    /// The kind.
    pub kind: ResourceKind,
    /// The family it is shown under.
    pub family: ServiceFamily,
    /// Typical duration of a create (default 5 s).
    pub expected: Duration,
    /// Readiness / deletion wait timeout (default 10 minutes).
    pub timeout: Duration,
    /// For an internal step rather than a cloud resource (Azure's `vault_purge`: free the
    /// vault's name of a soft-deleted vault of ours), what the step does: the plan shows it
    /// as the reason of the step's action, never an adoption of something that is not there.
    pub step: Option<&'static str>,
}

impl KindDef {
    /// `kind` handled by `family`, expected to take 5 s, waited for up to 10 minutes.
    pub const fn new(kind: ResourceKind, family: ServiceFamily) -> Self {
        Self {
            kind,
            family,
            expected: Duration::from_secs(5),
            timeout: Duration::from_secs(600),
            step: None,
        }
    }
    /// Sets the typical duration.
    #[must_use]
    pub const fn expected(mut self, d: Duration) -> Self {
        self.expected = d;
        self
    }
    /// Sets the wait timeout.
    #[must_use]
    pub const fn timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }
    /// Marks the kind an internal step doing `what` (see [`KindDef::step`]).
    #[must_use]
    pub const fn step(mut self, what: &'static str) -> Self {
        self.step = Some(what);
        self
    }
}

const fn mins(m: u64) -> Duration {
    Duration::from_secs(60 * m)
}

/// The declarations of the cloud-neutral cloud kinds one by one, for a provider's
/// [`KindTable`](crate::provider::KindTable) rows (the same values as
/// [`NEUTRAL_CLOUD_KINDS`]).
pub mod neutral {
    use super::{KindDef, ResourceKind, ServiceFamily, mins};

    /// [`ResourceKind::CLUSTER`]: expected 10 minutes, waited for up to 30.
    pub const CLUSTER: KindDef = KindDef::new(ResourceKind::CLUSTER, ServiceFamily::Cluster)
        .expected(mins(10))
        .timeout(mins(30));
    /// [`ResourceKind::NODE_POOL`]: expected 4 minutes, waited for up to 20.
    pub const NODE_POOL: KindDef = KindDef::new(ResourceKind::NODE_POOL, ServiceFamily::Cluster)
        .expected(mins(4))
        .timeout(mins(20));
    /// [`ResourceKind::DATABASE`]: expected 8 minutes, waited for up to 40.
    pub const DATABASE: KindDef = KindDef::new(ResourceKind::DATABASE, ServiceFamily::Database)
        .expected(mins(8))
        .timeout(mins(40));
    /// [`ResourceKind::CACHE`]: expected 8 minutes, waited for up to 40.
    pub const CACHE: KindDef = KindDef::new(ResourceKind::CACHE, ServiceFamily::Cache)
        .expected(mins(8))
        .timeout(mins(40));
    /// [`ResourceKind::REGISTRY`].
    pub const REGISTRY: KindDef = KindDef::new(ResourceKind::REGISTRY, ServiceFamily::Registry);
    /// [`ResourceKind::SECRET`].
    pub const SECRET: KindDef = KindDef::new(ResourceKind::SECRET, ServiceFamily::Secrets);
    /// [`ResourceKind::WORKLOAD_IDENTITY`].
    pub const WORKLOAD_IDENTITY: KindDef =
        KindDef::new(ResourceKind::WORKLOAD_IDENTITY, ServiceFamily::Identity);
}

/// The cloud-neutral cloud kinds every provider implements under these names (a provider
/// lists them in its own [`KindTable`](crate::provider::KindTable),
/// with its own durations where they differ).
pub const NEUTRAL_CLOUD_KINDS: &[KindDef] = &[
    neutral::CLUSTER,
    neutral::NODE_POOL,
    neutral::DATABASE,
    neutral::CACHE,
    neutral::REGISTRY,
    neutral::SECRET,
    neutral::WORKLOAD_IDENTITY,
];

/// The Kubernetes kinds of the apps (handled by a [`WorkloadOps`](crate::provider::WorkloadOps)).
pub const WORKLOAD_KINDS: &[KindDef] = &[
    KindDef::new(ResourceKind::NAMESPACE, ServiceFamily::Workloads),
    KindDef::new(ResourceKind::PULL_SECRET, ServiceFamily::Workloads),
    KindDef::new(ResourceKind::SERVICE_ACCOUNT, ServiceFamily::Workloads),
    KindDef::new(ResourceKind::SYNCED_SECRET, ServiceFamily::Workloads),
    KindDef::new(ResourceKind::CONNECTION, ServiceFamily::Workloads),
    KindDef::new(ResourceKind::DEPLOYMENT, ServiceFamily::Workloads)
        .expected(Duration::from_secs(30)),
    KindDef::new(ResourceKind::SERVICE, ServiceFamily::Workloads),
    KindDef::new(ResourceKind::MANIFEST, ServiceFamily::Workloads),
];

/// The kinds one run can handle, from the provider's and the workload backend's
/// declarations (a later declaration of the same kind wins).
#[derive(Debug, Clone, Default)]
pub struct KindCatalog {
    defs: BTreeMap<ResourceKind, KindDef>,
}

impl KindCatalog {
    /// A catalog of `defs`.
    pub fn new<'a>(defs: impl IntoIterator<Item = &'a KindDef>) -> Self {
        Self {
            defs: defs.into_iter().map(|d| (d.kind, *d)).collect(),
        }
    }
    /// Adds `defs`.
    pub fn extend<'a>(&mut self, defs: impl IntoIterator<Item = &'a KindDef>) {
        self.defs.extend(defs.into_iter().map(|d| (d.kind, *d)));
    }
    /// The declaration of `kind`, if declared.
    pub fn get(&self, kind: ResourceKind) -> Option<&KindDef> {
        self.defs.get(&kind)
    }
    /// Every declared kind.
    pub fn iter(&self) -> impl Iterator<Item = &KindDef> {
        self.defs.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_read_from_text_equal_the_declared_constants() {
        let k: ResourceKind = serde_json::from_str("\"cluster\"").expect("parses");
        assert_eq!(k, ResourceKind::CLUSTER);
        assert!(matches!(k, ResourceKind::CLUSTER));
        let custom = ResourceKind::from_name("private_dns_zone");
        assert_eq!(custom, ResourceKind::new("private_dns_zone"));
        assert_eq!(
            serde_json::to_string(&custom).expect("serializes"),
            "\"private_dns_zone\""
        );
        // Interned once: the same pointer for the same name.
        assert!(std::ptr::eq(
            ResourceKind::from_name("zz_kind").as_str(),
            ResourceKind::from_name("zz_kind").as_str()
        ));
    }

    #[test]
    fn a_later_declaration_wins_in_the_catalog() {
        let mut c = KindCatalog::new(NEUTRAL_CLOUD_KINDS);
        assert_eq!(
            c.get(ResourceKind::CLUSTER).map(|d| d.timeout),
            Some(mins(30))
        );
        c.extend(&[KindDef::new(ResourceKind::CLUSTER, ServiceFamily::Cluster).timeout(mins(5))]);
        assert_eq!(
            c.get(ResourceKind::CLUSTER).map(|d| d.timeout),
            Some(mins(5))
        );
        assert!(c.get(ResourceKind::NAMESPACE).is_none());
    }
}
