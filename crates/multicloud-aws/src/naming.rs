//! The naming rules of AWS, checked on top of the cloud-independent rules before any API is
//! called: [`AwsNamingRules`].
//!
//! A rule reports nothing at a path that already has an error (the cloud-independent rules
//! run first), so a bad value gets one message, not two.

use multicloud_core::spec::shape::{ALNUM_HYPHEN_UNDERSCORE, AN_ALNUM, Shape};
use multicloud_core::spec::{NamingReport, NamingRules, Rule, StackSpec, ValidationError};
use multicloud_core::tags::{NameStyle, Naming};

use crate::expand::resolve;

/// Whether `part` is non-empty lowercase letters, digits and hyphens starting with a letter or
/// digit (one dot-separated part of an AWS instance type).
fn type_part(part: &str) -> bool {
    part.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && part
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// `family.size` (`t3.medium`, `m7g.2xlarge`, `u-6tb1.metal`), optionally after `prefix.`
/// (`db.t3.micro`, `cache.t4g.small`).
fn aws_instance_type(value: &str, prefix: Option<&str>) -> bool {
    let mut parts: Vec<&str> = value.split('.').collect();
    if let Some(prefix) = prefix {
        if parts.first() != Some(&prefix) {
            return false;
        }
        parts.remove(0);
    }
    parts.len() == 2 && parts.iter().all(|p| type_part(p))
}

/// Whether `region` matches `^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}$`.
fn aws_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    let lower = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase());
    let number = |s: &str| (1..=2).contains(&s.len()) && s.chars().all(|c| c.is_ascii_digit());
    let partition = |s: &str| {
        s == "gov"
            || s.strip_prefix("iso")
                .is_some_and(|rest| rest.len() <= 1 && (rest.is_empty() || lower(rest)))
    };
    let country = |s: &str| s.len() == 2 && lower(s);
    match parts.as_slice() {
        [cc, area, n] => country(cc) && lower(area) && number(n),
        [cc, p, area, n] => country(cc) && partition(p) && lower(area) && number(n),
        _ => false,
    }
}

/// EKS managed node group names: 1–63 letters, digits, hyphens and underscores, starting with
/// a letter or digit (EKS `CreateNodegroup`, `nodegroupName`).
const EKS_NODEGROUP: Shape = Shape::new(1, 63, ALNUM_HYPHEN_UNDERSCORE).starts_with(AN_ALNUM);

/// The naming rules of AWS:
///
/// Every value below is the one [`resolve`] picks for AWS (the `aws:` override, else the
/// single-cloud field), checked and reported at the field it came from
/// (`spec.aws.region`, `spec.cluster.node_pools[0].aws.instance_type`); a value AWS lacks
/// (only `azure.location`, a pool with only `azure.vm_size`) is [`Rule::Required`] at the
/// `aws:` field.
///
/// - region: `^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}$` (`us-east-1`, `us-gov-west-1`);
/// - registries become ECR repositories `<stack>-<env>/<name>`: the name is 2–256 characters
///   matching `[a-z0-9]+(?:[._-][a-z0-9]+)*(/[a-z0-9]+(?:[._-][a-z0-9]+)*)*` (ECR
///   `CreateRepository`, `repositoryName`) and the full name stays within 256 characters;
/// - node pools become EKS managed node groups: 1–63 letters, digits, `-` and `_`, starting
///   with a letter or digit; instance types are EC2 types `family.size` (`t3.medium`);
/// - the database's instance class is an RDS class `db.<family>.<size>` (`db.t3.micro`);
///   `database_name` and `username` are at most 63 characters (RDS for PostgreSQL), which the
///   cloud-independent PostgreSQL identifier rule already enforces;
/// - the cache's node type is an ElastiCache type `cache.<family>.<size>` (`cache.t4g.micro`);
/// - an RDS DB subnet group needs subnets in at least two availability zones, so a database
///   needs `zones ≥ 2`;
/// - tag keys must not start with `aws:` (reserved by AWS).
///
/// Secrets Manager names (`<stack>/<env>/<name>`) accept everything the common secret-name
/// rule allows. Derived names (`<stack>-<env>-<part>`) are shortened with
/// [`fit`](multicloud_core::tags::fit), so their length cannot fail, and RDS / ElastiCache identifiers
/// start with a letter because the stack name must.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AwsNamingRules;

impl NamingRules for AwsNamingRules {
    fn cloud(&self) -> &str {
        "aws"
    }

    fn check(&self, spec: &StackSpec, errors: &mut Vec<ValidationError>) {
        let mut r = NamingReport::new(errors);
        check_region(spec, &mut r);
        check_registries(spec, &mut r);
        check_node_pools(spec, &mut r);
        if let Some(db) = &spec.database {
            r.resolved(
                "AWS",
                &resolve::db_instance_class(db),
                |v| aws_instance_type(v, Some("db")),
                "an RDS instance class such as `db.t3.micro`",
                ("instance_class", "aws.instance_class"),
            );
            if let Some(net) = &spec.network
                && net.zones < 2
            {
                r.push(
                    "spec.network.zones".into(),
                    Rule::Range,
                    format!("zones is {}; an RDS DB subnet group needs subnets in at least 2 availability zones", net.zones),
                );
            }
        }
        if let Some(cache) = &spec.cache {
            r.resolved(
                "AWS",
                &resolve::cache_node_type(cache),
                |v| aws_instance_type(v, Some("cache")),
                "an ElastiCache node type such as `cache.t4g.micro`",
                ("node_type", "aws.node_type"),
            );
        }
        if let Some(id) = spec.existing_cluster.as_ref().and_then(|c| c.cloud_id())
            && !eks_cluster_name(id)
        {
            r.push(
                "spec.existing_cluster.id".into(),
                Rule::Name,
                format!(
                    "`{id}` is not an EKS cluster name (1-100 letters, digits, `-` or `_`, \
                     starting with a letter or digit)"
                ),
            );
        }
        for key in spec.tags.keys() {
            if key.to_ascii_lowercase().starts_with("aws:") {
                r.push(
                    format!("spec.tags[{key:?}]"),
                    Rule::Name,
                    format!("tag key `{key}` is reserved: `aws:` tags belong to AWS"),
                );
            }
        }
    }
}

/// An EKS cluster name: 1-100 letters, digits, hyphens and underscores, starting with a
/// letter or digit.
fn eks_cluster_name(name: &str) -> bool {
    (1..=100).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The AWS region (the spec's or its per-cloud override) is an AWS region name.
fn check_region(spec: &StackSpec, r: &mut NamingReport<'_>) {
    match resolve::region(spec) {
        Ok(region) if !aws_region(&region.value) => r.push(
            region.path.clone(),
            Rule::Format,
            format!(
                "`{}` is not an AWS region name such as `us-east-1`{}",
                region.value,
                region.hint("AWS", "region", "aws.region")
            ),
        ),
        Ok(_) => {}
        // No region at all is the common rules' error.
        Err(e) if !r.has("spec.region") => r.push(e.path, e.rule, e.message),
        Err(_) => {}
    }
}

/// ECR repository names, prefixed with the stack's `<name>-<env>/`.
fn check_registries(spec: &StackSpec, r: &mut NamingReport<'_>) {
    let prefix = Naming::new(&spec.name, &spec.environment).name("", NameStyle::hyphenated(200));
    for (i, reg) in spec.registries.iter().enumerate() {
        let path = format!("spec.registries[{i}].name");
        r.repository(path.clone(), "ECR", &reg.name, 2);
        let full = format!("{prefix}/{}", reg.name);
        if full.chars().count() > 256 {
            r.push(
                path,
                Rule::Name,
                format!("ECR repository `{full}` is longer than 256 characters; shorten the registry name"),
            );
        }
    }
}

/// EKS node group names and EC2 instance types.
fn check_node_pools(spec: &StackSpec, r: &mut NamingReport<'_>) {
    if let Some(cluster) = &spec.cluster {
        for (i, pool) in cluster.node_pools.iter().enumerate() {
            let path = format!("spec.cluster.node_pools[{i}]");
            r.shape(
                &EKS_NODEGROUP,
                format!("{path}.name"),
                "EKS node group name",
                &pool.name,
            );
            match resolve::node_instance_type(pool, i) {
                Ok(t) => r.resolved(
                    "AWS",
                    &t,
                    |v| aws_instance_type(v, None),
                    "an EC2 instance type such as `m6i.xlarge`",
                    ("instance_type", "aws.instance_type"),
                ),
                // A pool without any size is the common rules' error.
                Err(e) if !r.has(&format!("{path}.size")) => r.push(e.path, e.rule, e.message),
                Err(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_regions() {
        for ok in [
            "us-east-1",
            "eu-central-2",
            "us-gov-west-1",
            "us-isob-east-1",
            "ap-southeast-10",
        ] {
            assert!(aws_region(ok), "{ok}");
        }
        for bad in [
            "US-East-1",
            "useast1",
            "mars-north-7x",
            "us-east-100",
            "us-east",
            "us-isoxy-east-1",
            "u-east-1",
        ] {
            assert!(!aws_region(bad), "{bad}");
        }
    }

    #[test]
    fn instance_types() {
        for ok in ["t3.medium", "m7g.2xlarge", "u-6tb1.metal", "m7i.metal-24xl"] {
            assert!(aws_instance_type(ok, None), "{ok}");
        }
        for bad in ["t3", "T3.medium", "t3.medium.x", ".medium", "db.t3.micro"] {
            assert!(!aws_instance_type(bad, None), "{bad}");
        }
        assert!(aws_instance_type("db.t3.micro", Some("db")));
        assert!(!aws_instance_type("t3.micro", Some("db")));
        assert!(aws_instance_type("cache.t4g.micro", Some("cache")));
    }
}
