//! One spec for both clouds: neutral sizes ([`NodeSize`], [`Tier`]) that each provider maps
//! to a documented default, per-cloud overrides (`aws:` / `azure:`) for the stack and for
//! each sized part, and [`Resolved`]: the value a provider picked and the field path it came
//! from, so its naming rules report a wrong value where the user wrote it.
//!
//! ```yaml
//! region: us-east-1            # optional when every cloud has its override
//! aws: { region: us-east-1 }
//! azure: { location: westeurope }
//! cluster:
//!   version: "1.31"
//!   node_pools:
//!     - { name: general, size: medium, min: 2, max: 5 }
//!     - { name: batch, size: large, min: 0, max: 3, azure: { vm_size: Standard_F8s_v2 } }
//! database: { version: "16", tier: standard, aws: { instance_class: db.m7g.large } }
//! cache: { version: "7.1", tier: dev }
//! ```
//!
//! Each provider resolves, in one resolver function per value, the first of:
//! 1. its override (`aws.instance_type`, `azure.vm_size`, `aws.region`, `azure.location`…);
//! 2. the single-cloud field (`instance_type`, `instance_class`, `node_type`, `region`): the
//!    format of specs written for one cloud, used as is by whichever cloud the spec is
//!    deployed on;
//! 3. the neutral size or tier, through the provider's table (documented in its crate);
//! 4. the provider's default (databases and caches only; a node pool needs a size).
//!
//! Core holds no cloud's values: the tables and the checks of each cloud's values live in the
//! provider crates (`multicloud_aws::expand::resolve`, `multicloud_azure::expand::resolve`).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::StackSpec;
use super::shape::{LOWER_ALNUM_HYPHEN, Shape};
use super::types::{NodePool, Postgres, Redis};
use super::validate::{Rule, ValidationError, push};

/// The size of a node pool's machines, mapped by each provider to a machine type of its
/// cloud (general purpose, 4 GiB of memory per vCPU): `small` 2 vCPU, `medium` 4, `large` 8,
/// `xlarge` 16.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeSize {
    /// 2 vCPU, 8 GiB.
    Small,
    /// 4 vCPU, 16 GiB.
    Medium,
    /// 8 vCPU, 32 GiB.
    Large,
    /// 16 vCPU, 64 GiB.
    Xlarge,
}

impl NodeSize {
    /// Every size, smallest first.
    pub const ALL: [NodeSize; 4] = [Self::Small, Self::Medium, Self::Large, Self::Xlarge];

    /// The size as written in YAML (`medium`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Small => "small",
            Self::Medium => "medium",
            Self::Large => "large",
            Self::Xlarge => "xlarge",
        }
    }
}

impl fmt::Display for NodeSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The service tier of a database or cache, mapped by each provider to an instance class or
/// SKU of its cloud: `dev` is the cheapest burstable size (the default), `standard` a small
/// general-purpose one, `production` a memory-optimised one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Cheapest, burstable: development and ephemeral stacks (the default).
    Dev,
    /// General purpose, about 2 vCPU: small production workloads.
    Standard,
    /// Memory optimised, about 4 vCPU: production.
    Production,
}

impl Tier {
    /// Every tier, cheapest first.
    pub const ALL: [Tier; 3] = [Self::Dev, Self::Standard, Self::Production];

    /// The tier as written in YAML (`standard`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dev => "dev",
            Self::Standard => "standard",
            Self::Production => "production",
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Declares an override struct: every field an optional string, omitted when unset.
macro_rules! overrides {
    ($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $field:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $(
                $(#[$fdoc])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $field: Option<String>,
            )+
        }

        impl $name {
            /// Whether nothing is overridden.
            pub fn is_empty(&self) -> bool {
                true $(&& self.$field.is_none())+
            }
            /// `(field name, value)` of every field that is set.
            pub fn set_fields(&self) -> Vec<(&'static str, &str)> {
                let mut out = Vec::new();
                $(
                    if let Some(v) = &self.$field {
                        out.push((stringify!($field), v.as_str()));
                    }
                )+
                out
            }
        }
    };
}

overrides!(
    /// What only AWS reads of the stack (`aws:` at the top level).
    AwsStack {
        /// The AWS region (`us-east-1`); wins over `region` on AWS.
        region,
    }
);
overrides!(
    /// What only Azure reads of the stack (`azure:` at the top level).
    AzureStack {
        /// The Azure location (`westeurope`); wins over `region` on Azure.
        location,
    }
);
overrides!(
    /// A node pool's AWS-only values (`aws:` in a node pool).
    AwsNodePool {
        /// The EC2 instance type (`m6i.xlarge`); wins over `instance_type` and `size`.
        instance_type,
    }
);
overrides!(
    /// A node pool's Azure-only values (`azure:` in a node pool).
    AzureNodePool {
        /// The VM size (`Standard_D4s_v5`); wins over `instance_type` and `size`.
        vm_size,
    }
);
overrides!(
    /// The database's AWS-only values (`aws:` in `database`).
    AwsPostgres {
        /// The RDS instance class (`db.m6i.large`); wins over `instance_class` and `tier`.
        instance_class,
    }
);
overrides!(
    /// The database's Azure-only values (`azure:` in `database`).
    AzurePostgres {
        /// The PostgreSQL flexible server SKU (`Standard_D2ds_v5`); wins over
        /// `instance_class` and `tier`.
        sku,
    }
);
overrides!(
    /// The cache's AWS-only values (`aws:` in `cache`).
    AwsRedis {
        /// The ElastiCache node type (`cache.m6g.large`); wins over `node_type` and `tier`.
        node_type,
    }
);
overrides!(
    /// The cache's Azure-only values (`azure:` in `cache`).
    AzureRedis {
        /// The Azure Managed Redis SKU (`Balanced_B5`); wins over `node_type` and `tier`.
        sku,
    }
);

/// Where a [`Resolved`] value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The cloud's override (`aws.instance_type`).
    Override,
    /// The single-cloud field (`instance_type`, `region`).
    Explicit,
    /// The neutral size or tier, through the provider's table.
    Neutral,
    /// The provider's default (nothing was said).
    Default,
}

impl Source {
    /// Whether the user wrote the value itself (an override or a single-cloud field), so the
    /// cloud's rules must check it.
    pub fn is_given(self) -> bool {
        matches!(self, Self::Override | Self::Explicit)
    }
}

/// The value a provider uses for one setting of one cloud, and the field path it came from
/// (`spec.cluster.node_pools[0].azure.vm_size`, `spec.database.tier`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The effective value (`m6i.xlarge`).
    pub value: String,
    /// The field path it came from, where errors about it are reported.
    pub path: String,
    /// How it was chosen.
    pub source: Source,
}

impl Resolved {
    /// For a single-cloud value `cloud` rejects, where that cloud's own value goes: `field`
    /// is used on `cloud` unless `override_` is set (empty unless the value came from `field`).
    pub fn hint(&self, cloud: &str, field: &str, override_: &str) -> String {
        if self.source == Source::Explicit {
            format!(
                " ({cloud} uses `{field}` unless `{override_}` is set; give {cloud}'s value there)"
            )
        } else {
            String::new()
        }
    }

    /// `value` from `path`, chosen as `source`.
    pub fn new(value: impl Into<String>, path: impl Into<String>, source: Source) -> Self {
        Self {
            value: value.into(),
            path: path.into(),
            source,
        }
    }

    /// The first given of `override_` (at `<base>.<cloud>.<field>`) and `explicit` (at
    /// `<base>.<explicit_field>`), else `neutral` (the mapped value and its path), else
    /// `None`. The shape of every provider resolver.
    pub fn first(
        override_: Option<(&str, String)>,
        explicit: Option<(&str, String)>,
        neutral: Option<(&str, String)>,
    ) -> Option<Self> {
        if let Some((v, path)) = override_ {
            return Some(Self::new(v, path, Source::Override));
        }
        if let Some((v, path)) = explicit {
            return Some(Self::new(v, path, Source::Explicit));
        }
        neutral.map(|(v, path)| Self::new(v, path, Source::Neutral))
    }
}

/// Region names: lowercase letters, digits and hyphens (each cloud checks its own form).
const REGION: Shape = Shape::new(1, usize::MAX, LOWER_ALNUM_HYPHEN).rule(Rule::Format);

/// The region rules: `region` is required unless `aws.region` or `azure.location` is given;
/// every region given is lowercase letters, digits and hyphens.
pub(super) fn check_region(spec: &StackSpec, errors: &mut Vec<ValidationError>) {
    if spec.region.is_empty() {
        if spec.aws.region.is_none() && spec.azure.location.is_none() {
            errors.push(ValidationError::new(
                "spec.region",
                Rule::Required,
                "region is required: set `region`, or `aws.region` and `azure.location`",
            ));
        }
    } else {
        push(errors, REGION.check("spec.region", "region", &spec.region));
    }
    if let Some(region) = &spec.aws.region {
        push(
            errors,
            REGION.check("spec.aws.region", "AWS region", region),
        );
    }
    if let Some(location) = &spec.azure.location {
        push(
            errors,
            REGION.check("spec.azure.location", "Azure location", location),
        );
    }
}

/// Appends a [`Rule::Required`] error for every override or single-cloud value set to `""`.
fn no_empty<'a>(
    path: &str,
    values: impl IntoIterator<Item = (String, &'a str)>,
    errors: &mut Vec<ValidationError>,
) {
    for (field, value) in values {
        if value.is_empty() {
            errors.push(ValidationError::new(
                format!("{path}.{field}"),
                Rule::Required,
                format!("{path}.{field} is empty; give a value or leave it out"),
            ));
        }
    }
}

/// Pairs each set field of a per-cloud override with its path part (`aws.instance_type`).
fn prefixed<'a>(cloud: &str, fields: Vec<(&'static str, &'a str)>) -> Vec<(String, &'a str)> {
    fields
        .into_iter()
        .map(|(f, v)| (format!("{cloud}.{f}"), v))
        .collect()
}

/// A node pool says what its machines are: a `size`, an `instance_type`, or both clouds'
/// overrides (one alone is reported by the other cloud's rules); no value is empty.
pub(super) fn check_pool(path: &str, pool: &NodePool, errors: &mut Vec<ValidationError>) {
    let mut given: Vec<(String, &str)> = prefixed("aws", pool.aws.set_fields());
    given.extend(prefixed("azure", pool.azure.set_fields()));
    if let Some(t) = &pool.instance_type {
        given.insert(0, ("instance_type".into(), t));
    }
    no_empty(path, given, errors);
    if pool.size.is_none()
        && pool.instance_type.is_none()
        && pool.aws.is_empty()
        && pool.azure.is_empty()
    {
        errors.push(ValidationError::new(
            format!("{path}.size"),
            Rule::Required,
            format!(
                "node pool `{}` needs a size (small, medium, large or xlarge), an \
                 `instance_type`, or `aws.instance_type` and `azure.vm_size`",
                pool.name
            ),
        ));
    }
}

/// No database value is empty.
pub(super) fn check_database(db: &Postgres, errors: &mut Vec<ValidationError>) {
    let mut given: Vec<(String, &str)> = prefixed("aws", db.aws.set_fields());
    given.extend(prefixed("azure", db.azure.set_fields()));
    if let Some(c) = &db.instance_class {
        given.insert(0, ("instance_class".into(), c));
    }
    no_empty("spec.database", given, errors);
}

/// No cache value is empty.
pub(super) fn check_cache(cache: &Redis, errors: &mut Vec<ValidationError>) {
    let mut given: Vec<(String, &str)> = prefixed("aws", cache.aws.set_fields());
    given.extend(prefixed("azure", cache.azure.set_fields()));
    if let Some(t) = &cache.node_type {
        given.insert(0, ("node_type".into(), t));
    }
    no_empty("spec.cache", given, errors);
}

impl NodePool {
    /// A pool of neutral `size` nodes scaling from `min` to `max` (each provider maps the
    /// size to its machine type).
    pub fn sized(name: impl Into<String>, size: NodeSize, min: u32, max: u32) -> Self {
        Self {
            name: name.into(),
            size: Some(size),
            instance_type: None,
            min,
            max,
            desired: None,
            aws: AwsNodePool::default(),
            azure: AzureNodePool::default(),
        }
    }
    /// Sets the neutral size.
    #[must_use]
    pub fn size(mut self, size: NodeSize) -> Self {
        self.size = Some(size);
        self
    }
    /// Sets the EC2 instance type used on AWS (wins over `instance_type` and `size`).
    #[must_use]
    pub fn aws_instance_type(mut self, instance_type: impl Into<String>) -> Self {
        self.aws.instance_type = Some(instance_type.into());
        self
    }
    /// Sets the VM size used on Azure (wins over `instance_type` and `size`).
    #[must_use]
    pub fn azure_vm_size(mut self, vm_size: impl Into<String>) -> Self {
        self.azure.vm_size = Some(vm_size.into());
        self
    }
}

impl Postgres {
    /// Sets the neutral tier.
    #[must_use]
    pub fn tier(mut self, tier: Tier) -> Self {
        self.tier = Some(tier);
        self
    }
    /// Sets the RDS instance class used on AWS (wins over `instance_class` and `tier`).
    #[must_use]
    pub fn aws_instance_class(mut self, class: impl Into<String>) -> Self {
        self.aws.instance_class = Some(class.into());
        self
    }
    /// Sets the flexible server SKU used on Azure (wins over `instance_class` and `tier`).
    #[must_use]
    pub fn azure_sku(mut self, sku: impl Into<String>) -> Self {
        self.azure.sku = Some(sku.into());
        self
    }
}

impl Redis {
    /// Sets the neutral tier.
    #[must_use]
    pub fn tier(mut self, tier: Tier) -> Self {
        self.tier = Some(tier);
        self
    }
    /// Sets the ElastiCache node type used on AWS (wins over `node_type` and `tier`).
    #[must_use]
    pub fn aws_node_type(mut self, node_type: impl Into<String>) -> Self {
        self.aws.node_type = Some(node_type.into());
        self
    }
    /// Sets the Azure Managed Redis SKU used on Azure (wins over `node_type` and `tier`).
    #[must_use]
    pub fn azure_sku(mut self, sku: impl Into<String>) -> Self {
        self.azure.sku = Some(sku.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_yaml() {
        for size in NodeSize::ALL {
            let text = serde_yaml_ng::to_string(&size).unwrap_or_default();
            assert_eq!(text.trim(), size.as_str());
        }
        for tier in Tier::ALL {
            let back: Tier = serde_yaml_ng::from_str(tier.as_str()).expect("parses");
            assert_eq!(back, tier);
        }
    }

    #[test]
    fn the_first_given_value_wins() {
        let o = || Some(("o", "p.aws.x".to_string()));
        let e = || Some(("e", "p.x".to_string()));
        let n = || Some(("n", "p.size".to_string()));
        assert_eq!(
            Resolved::first(o(), e(), n()).map(|r| r.source),
            Some(Source::Override)
        );
        assert_eq!(
            Resolved::first(None, e(), n()).map(|r| (r.value, r.path)),
            Some(("e".into(), "p.x".into()))
        );
        assert_eq!(
            Resolved::first(None, None, n()).map(|r| r.source),
            Some(Source::Neutral)
        );
        assert_eq!(Resolved::first(None, None, None), None);
        assert!(Source::Explicit.is_given() && !Source::Neutral.is_given());
    }
}
