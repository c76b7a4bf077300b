//! The values AWS uses for a spec's region and sizes, each picked by one resolver used by the
//! expansion ([`crate::expand`]) and the naming rules ([`crate::naming`]) alike: the `aws:`
//! override, else the single-cloud field (`region`, `instance_type`, `instance_class`,
//! `node_type`), else the neutral size or tier through the tables below, else the default.
//!
//! | node pool `size` | EC2 instance type | vCPU / GiB |
//! |---|---|---|
//! | `small` | `m6i.large` | 2 / 8 |
//! | `medium` | `m6i.xlarge` | 4 / 16 |
//! | `large` | `m6i.2xlarge` | 8 / 32 |
//! | `xlarge` | `m6i.4xlarge` | 16 / 64 |
//!
//! | database / cache `tier` | RDS instance class | ElastiCache node type |
//! |---|---|---|
//! | `dev` (the default) | `db.t3.micro` (2 vCPU burstable, 1 GiB) | `cache.t3.micro` (0.5 GiB) |
//! | `standard` | `db.m6i.large` (2 / 8 GiB) | `cache.m6g.large` (6.4 GiB) |
//! | `production` | `db.r6i.xlarge` (4 / 32 GiB) | `cache.r6g.xlarge` (26 GiB) |
//!
//! The Azure provider maps the same sizes and tiers to machines of comparable vCPU and memory
//! (`multicloud_azure::expand::resolve`).

use multicloud_core::spec::{
    NodePool, NodeSize, Postgres, Redis, Resolved, Rule, Source, StackSpec, Tier, ValidationError,
};

use super::{DEFAULT_CACHE_NODE, DEFAULT_DB_CLASS};

/// The EC2 instance type of `size` (the table above).
pub fn instance_type_of(size: NodeSize) -> &'static str {
    match size {
        NodeSize::Small => "m6i.large",
        NodeSize::Medium => "m6i.xlarge",
        NodeSize::Large => "m6i.2xlarge",
        NodeSize::Xlarge => "m6i.4xlarge",
    }
}

/// The RDS instance class of `tier` (the table above).
pub fn db_class_of(tier: Tier) -> &'static str {
    match tier {
        Tier::Dev => DEFAULT_DB_CLASS,
        Tier::Standard => "db.m6i.large",
        Tier::Production => "db.r6i.xlarge",
    }
}

/// The ElastiCache node type of `tier` (the table above).
pub fn cache_node_of(tier: Tier) -> &'static str {
    match tier {
        Tier::Dev => DEFAULT_CACHE_NODE,
        Tier::Standard => "cache.m6g.large",
        Tier::Production => "cache.r6g.xlarge",
    }
}

/// `value` unless it is empty (an empty value is the common rules' error, not a choice).
fn given(value: Option<&String>, path: String) -> Option<(&str, String)> {
    value.filter(|v| !v.is_empty()).map(|v| (v.as_str(), path))
}

/// The AWS region: `aws.region`, else `region`; an error at `spec.aws.region` when neither
/// is given.
pub fn region(spec: &StackSpec) -> Result<Resolved, ValidationError> {
    let explicit = Some(&spec.region);
    Resolved::first(
        given(spec.aws.region.as_ref(), "spec.aws.region".into()),
        given(explicit, "spec.region".into()),
        None,
    )
    .ok_or_else(|| {
        ValidationError::new(
            "spec.aws.region",
            Rule::Required,
            "no AWS region: set `aws.region` (or `region`)",
        )
    })
}

/// The EC2 instance type of node pool `i`: `aws.instance_type`, else `instance_type`, else
/// `size` through [`instance_type_of`]; an error at `…node_pools[i].aws.instance_type` when the
/// pool has none of them.
pub fn node_instance_type(pool: &NodePool, i: usize) -> Result<Resolved, ValidationError> {
    let base = format!("spec.cluster.node_pools[{i}]");
    Resolved::first(
        given(
            pool.aws.instance_type.as_ref(),
            format!("{base}.aws.instance_type"),
        ),
        given(pool.instance_type.as_ref(), format!("{base}.instance_type")),
        pool.size
            .map(|s| (instance_type_of(s), format!("{base}.size"))),
    )
    .ok_or_else(|| {
        ValidationError::new(
            format!("{base}.aws.instance_type"),
            Rule::Required,
            format!(
                "node pool `{}` has no AWS instance type: set `size` or `aws.instance_type`",
                pool.name
            ),
        )
    })
}

/// A tiered value: the override, else the single-cloud field, else the tier's, else the
/// default (reported at `<base>.tier`).
fn tiered(
    override_: Option<(&str, String)>,
    explicit: Option<(&str, String)>,
    tier: Option<Tier>,
    table: fn(Tier) -> &'static str,
    base: &str,
    default: &str,
) -> Resolved {
    let path = format!("{base}.tier");
    Resolved::first(override_, explicit, tier.map(|t| (table(t), path.clone())))
        .unwrap_or_else(|| Resolved::new(default, path, Source::Default))
}

/// The RDS instance class: `aws.instance_class`, else `instance_class`, else `tier` through
/// [`db_class_of`], else [`DEFAULT_DB_CLASS`].
pub fn db_instance_class(db: &Postgres) -> Resolved {
    tiered(
        given(
            db.aws.instance_class.as_ref(),
            "spec.database.aws.instance_class".into(),
        ),
        given(
            db.instance_class.as_ref(),
            "spec.database.instance_class".into(),
        ),
        db.tier,
        db_class_of,
        "spec.database",
        DEFAULT_DB_CLASS,
    )
}

/// The ElastiCache node type: `aws.node_type`, else `node_type`, else `tier` through
/// [`cache_node_of`], else [`DEFAULT_CACHE_NODE`].
pub fn cache_node_type(cache: &Redis) -> Resolved {
    tiered(
        given(
            cache.aws.node_type.as_ref(),
            "spec.cache.aws.node_type".into(),
        ),
        given(cache.node_type.as_ref(), "spec.cache.node_type".into()),
        cache.tier,
        cache_node_of,
        "spec.cache",
        DEFAULT_CACHE_NODE,
    )
}
