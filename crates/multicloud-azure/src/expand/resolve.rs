//! The values Azure uses for a spec's location and sizes, each picked by one resolver used
//! by the expansion ([`crate::expand`]) and the naming rules ([`crate::naming`]) alike: the
//! `azure:` override, else the single-cloud field (`region`, `instance_type`,
//! `instance_class`, `node_type`), else the neutral size or tier through the tables below,
//! else the provider's default ([`AzureSettings`](super::AzureSettings): the `dev` tier's
//! SKU unless changed).
//!
//! | node pool `size` | AKS VM size | vCPU / GiB |
//! |---|---|---|
//! | `small` | `Standard_D2s_v5` | 2 / 8 |
//! | `medium` | `Standard_D4s_v5` | 4 / 16 |
//! | `large` | `Standard_D8s_v5` | 8 / 32 |
//! | `xlarge` | `Standard_D16s_v5` | 16 / 64 |
//!
//! | database / cache `tier` | PostgreSQL flexible server SKU (tier) | Azure Managed Redis SKU |
//! |---|---|---|
//! | `dev` (the default) | `Standard_B1ms` (Burstable, 1 vCPU / 2 GiB) | `Balanced_B0` (0.5 GB) |
//! | `standard` | `Standard_D2ds_v5` (GeneralPurpose, 2 / 8 GiB) | `Balanced_B5` (6 GB) |
//! | `production` | `Standard_E4ds_v5` (MemoryOptimized, 4 / 32 GiB) | `MemoryOptimized_M20` (24 GB) |
//!
//! The AWS provider maps the same sizes and tiers to machines of comparable vCPU and memory
//! (`multicloud_aws::expand::resolve`).

use multicloud_core::spec::{
    NodePool, NodeSize, Postgres, Redis, Resolved, Rule, Source, StackSpec, Tier, ValidationError,
};

/// The AKS VM size of `size` (the table above).
pub fn vm_size_of(size: NodeSize) -> &'static str {
    match size {
        NodeSize::Small => "Standard_D2s_v5",
        NodeSize::Medium => "Standard_D4s_v5",
        NodeSize::Large => "Standard_D8s_v5",
        NodeSize::Xlarge => "Standard_D16s_v5",
    }
}

/// The PostgreSQL flexible server SKU of `tier` (the table above).
pub fn postgres_sku_of(tier: Tier) -> &'static str {
    match tier {
        Tier::Dev => "Standard_B1ms",
        Tier::Standard => "Standard_D2ds_v5",
        Tier::Production => "Standard_E4ds_v5",
    }
}

/// The Azure Managed Redis SKU of `tier` (the table above).
pub fn redis_sku_of(tier: Tier) -> &'static str {
    match tier {
        Tier::Dev => "Balanced_B0",
        Tier::Standard => "Balanced_B5",
        Tier::Production => "MemoryOptimized_M20",
    }
}

/// `value` unless it is empty (an empty value is the common rules' error, not a choice).
fn given(value: Option<&String>, path: String) -> Option<(&str, String)> {
    value.filter(|v| !v.is_empty()).map(|v| (v.as_str(), path))
}

/// The Azure location: `azure.location`, else `region`; an error at `spec.azure.location`
/// when neither is given.
pub fn location(spec: &StackSpec) -> Result<Resolved, ValidationError> {
    Resolved::first(
        given(spec.azure.location.as_ref(), "spec.azure.location".into()),
        given(Some(&spec.region), "spec.region".into()),
        None,
    )
    .ok_or_else(|| {
        ValidationError::new(
            "spec.azure.location",
            Rule::Required,
            "no Azure location: set `azure.location` (or `region`)",
        )
    })
}

/// The VM size of node pool `i`: `azure.vm_size`, else `instance_type`, else `size` through
/// [`vm_size_of`]; an error at `…node_pools[i].azure.vm_size` when the pool has none of them.
pub fn vm_size(pool: &NodePool, i: usize) -> Result<Resolved, ValidationError> {
    let base = format!("spec.cluster.node_pools[{i}]");
    Resolved::first(
        given(pool.azure.vm_size.as_ref(), format!("{base}.azure.vm_size")),
        given(pool.instance_type.as_ref(), format!("{base}.instance_type")),
        pool.size.map(|s| (vm_size_of(s), format!("{base}.size"))),
    )
    .ok_or_else(|| {
        ValidationError::new(
            format!("{base}.azure.vm_size"),
            Rule::Required,
            format!(
                "node pool `{}` has no Azure VM size: set `size` or `azure.vm_size`",
                pool.name
            ),
        )
    })
}

/// A tiered value: the override, else the single-cloud field, else the tier's, else
/// `default` (reported at `<base>.tier`).
fn tiered(
    override_: Option<(&str, String)>,
    explicit: Option<(&str, String)>,
    tier: Option<(&'static str, String)>,
    default: &str,
    base: &str,
) -> Resolved {
    Resolved::first(override_, explicit, tier)
        .unwrap_or_else(|| Resolved::new(default, format!("{base}.tier"), Source::Default))
}

/// The PostgreSQL flexible server SKU: `azure.sku`, else `instance_class`, else `tier`
/// through [`postgres_sku_of`], else `default` (the provider's setting).
pub fn postgres_sku(db: &Postgres, default: &str) -> Resolved {
    tiered(
        given(db.azure.sku.as_ref(), "spec.database.azure.sku".into()),
        given(
            db.instance_class.as_ref(),
            "spec.database.instance_class".into(),
        ),
        db.tier
            .map(|t| (postgres_sku_of(t), "spec.database.tier".into())),
        default,
        "spec.database",
    )
}

/// The Azure Managed Redis SKU: `azure.sku`, else `node_type`, else `tier` through
/// [`redis_sku_of`], else `default` (the provider's setting).
pub fn redis_sku(cache: &Redis, default: &str) -> Resolved {
    tiered(
        given(cache.azure.sku.as_ref(), "spec.cache.azure.sku".into()),
        given(cache.node_type.as_ref(), "spec.cache.node_type".into()),
        cache
            .tier
            .map(|t| (redis_sku_of(t), "spec.cache.tier".into())),
        default,
        "spec.cache",
    )
}
