//! The naming rules of each cloud, checked on top of the cloud-independent rules before any
//! API is called: [`AwsNamingRules`] and [`AzureNamingRules`].
//!
//! A cloud rule reports nothing at a path that already has an error (the cloud-independent
//! rules run first), so a bad value gets one message, not two.

use super::StackSpec;
use super::shape::{
    A_LETTER, A_LOWER, ALNUM, ALNUM_HYPHEN, ALNUM_HYPHEN_UNDERSCORE, AN_ALNUM, LOWER_ALNUM, Shape,
    repository_problem,
};
use super::validate::{ENVIRONMENT, NamingRules, Rule, STACK_NAME, ValidationError};
use crate::tags::{NameStyle, Naming};

/// Appends errors, skipping paths that already have one.
struct Report<'a> {
    errors: &'a mut Vec<ValidationError>,
}

impl Report<'_> {
    fn has(&self, path: &str) -> bool {
        self.errors.iter().any(|e| e.path == path)
    }

    fn push(&mut self, path: String, rule: Rule, message: String) {
        if !self.has(&path) {
            self.errors.push(ValidationError::new(path, rule, message));
        }
    }

    /// Checks `value` against `shape`; empty values are left to the cloud-independent rules.
    fn shape(&mut self, shape: &Shape, path: String, what: &str, value: &str) {
        if value.is_empty() || self.has(&path) {
            return;
        }
        if let Some(error) = shape.check(&path, what, value) {
            self.errors.push(error);
        }
    }

    /// Checks a container repository name (ECR and ACR share the pattern).
    fn repository(&mut self, path: String, cloud: &str, name: &str, min: usize) {
        if name.is_empty() {
            return;
        }
        let len = name.chars().count();
        let problem = if !(min..=256).contains(&len) {
            Some(format!("is {len} characters long; {min} to 256 allowed"))
        } else {
            repository_problem(name)
        };
        if let Some(problem) = problem {
            self.push(
                path,
                Rule::Name,
                format!("{cloud} repository name `{name}` {problem}"),
            );
        }
    }

    /// Checks that `value` (if set) is an instance type accepted by `ok`.
    fn instance_type(
        &mut self,
        path: String,
        value: Option<&str>,
        ok: fn(&str) -> bool,
        expected: &str,
    ) {
        if let Some(value) = value.filter(|v| !v.is_empty())
            && !ok(value)
        {
            self.push(
                path,
                Rule::Format,
                format!("`{value}` does not look like {expected}"),
            );
        }
    }
}

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
/// - region: `^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}$` (`us-east-1`, `us-gov-west-1`);
/// - registries become ECR repositories `<stack>-<env>/<name>`: the name is 2–256 characters
///   matching `[a-z0-9]+(?:[._-][a-z0-9]+)*(/[a-z0-9]+(?:[._-][a-z0-9]+)*)*` (ECR
///   `CreateRepository`, `repositoryName`) and the full name stays within 256 characters;
/// - node pools become EKS managed node groups: 1–63 letters, digits, `-` and `_`, starting
///   with a letter or digit; instance types are EC2 types `family.size` (`t3.medium`);
/// - database `instance_class` is an RDS class `db.<family>.<size>` (`db.t3.micro`);
///   `database_name` and `username` are at most 63 characters (RDS for PostgreSQL), which the
///   cloud-independent PostgreSQL identifier rule already enforces;
/// - cache `node_type` is an ElastiCache type `cache.<family>.<size>` (`cache.t4g.micro`);
/// - an RDS DB subnet group needs subnets in at least two availability zones, so a database
///   needs `zones ≥ 2`;
/// - tag keys must not start with `aws:` (reserved by AWS).
///
/// Secrets Manager names (`<stack>/<env>/<name>`) accept everything the common secret-name
/// rule allows. Derived names (`<stack>-<env>-<part>`) are shortened with
/// [`fit`](crate::tags::fit), so their length cannot fail, and RDS / ElastiCache identifiers
/// start with a letter because the stack name must.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AwsNamingRules;

impl NamingRules for AwsNamingRules {
    fn cloud(&self) -> &str {
        "aws"
    }

    fn check(&self, spec: &StackSpec, errors: &mut Vec<ValidationError>) {
        let mut r = Report { errors };
        if !spec.region.is_empty() && !aws_region(&spec.region) {
            r.push(
                "spec.region".into(),
                Rule::Format,
                format!(
                    "`{}` is not an AWS region name such as `us-east-1`",
                    spec.region
                ),
            );
        }
        let prefix =
            Naming::new(&spec.name, &spec.environment).name("", NameStyle::hyphenated(200));
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
        if let Some(cluster) = &spec.cluster {
            for (i, pool) in cluster.node_pools.iter().enumerate() {
                let path = format!("spec.cluster.node_pools[{i}]");
                r.shape(
                    &EKS_NODEGROUP,
                    format!("{path}.name"),
                    "EKS node group name",
                    &pool.name,
                );
                r.instance_type(
                    format!("{path}.instance_type"),
                    Some(&pool.instance_type),
                    |v| aws_instance_type(v, None),
                    "an EC2 instance type such as `t3.medium`",
                );
            }
        }
        if let Some(db) = &spec.database {
            r.instance_type(
                "spec.database.instance_class".into(),
                db.instance_class.as_deref(),
                |v| aws_instance_type(v, Some("db")),
                "an RDS instance class such as `db.t3.micro`",
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
            r.instance_type(
                "spec.cache.node_type".into(),
                cache.node_type.as_deref(),
                |v| aws_instance_type(v, Some("cache")),
                "an ElastiCache node type such as `cache.t4g.micro`",
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

/// AKS agent pool names (Linux): 1–12 lowercase letters and digits, starting with a letter.
const AKS_AGENT_POOL: Shape = Shape::new(1, 12, LOWER_ALNUM).starts_with(A_LOWER);
/// Azure region names as ARM spells them: lowercase letters and digits (`westeurope`).
const AZURE_REGION: Shape = Shape::new(1, usize::MAX, LOWER_ALNUM).rule(Rule::Format);
/// Key Vault names: 3–24 letters, digits and hyphens, starting with a letter, ending with a
/// letter or digit, no `--`.
const KEY_VAULT: Shape = Shape::new(3, 24, ALNUM_HYPHEN)
    .starts_with(A_LETTER)
    .ends_with(AN_ALNUM)
    .no_double_hyphen();
/// Key Vault secret names: 1–127 letters, digits and hyphens.
const KEY_VAULT_SECRET: Shape = Shape::new(1, 127, ALNUM_HYPHEN);
/// Container registry (ACR) names: 5–50 letters and digits.
const ACR: Shape = Shape::new(5, 50, ALNUM);
/// Characters Azure does not allow in tag names.
const AZURE_TAG_FORBIDDEN: [char; 7] = ['<', '>', '%', '&', '\\', '?', '/'];

/// Whether `value` is an Azure SKU such as `Standard_D4s_v5` or `Standard_B1ms`.
fn azure_sku(value: &str) -> bool {
    value.strip_prefix("Standard_").is_some_and(|rest| {
        rest.starts_with(|c: char| c.is_ascii_alphabetic())
            && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// The naming rules of Azure:
///
/// - region: ARM location names, lowercase letters and digits (`westeurope`, `eastus2`);
/// - node pools become AKS agent pools: 1–12 lowercase letters and digits starting with a
///   letter (Linux pools); VM sizes start with `Standard_` (`Standard_D4s_v5`);
/// - the container registry is named [`AzureNamingRules::registry_name`]: ACR names are 5–50
///   alphanumerics (reported at `spec.name`);
/// - the Key Vault is named [`AzureNamingRules::key_vault_name`]: 3–24 letters, digits and
///   hyphens, starting with a letter, ending with a letter or digit, no `--`;
/// - secrets become Key Vault secrets: 1–127 letters, digits and hyphens (no `_`);
/// - registries become ACR repositories: lowercase, the same pattern as ECR;
/// - the PostgreSQL flexible server SKU (`instance_class`) looks like `Standard_B1ms`; the
///   administrator login must not be `administrator` either (besides the common reserved
///   names);
/// - tag names are at most 512 characters without `<`, `>`, `%`, `&`, `\`, `?` or `/`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AzureNamingRules;

impl AzureNamingRules {
    /// The container registry's name: `<stack><env>acr` in alphanumerics, at most 50.
    pub fn registry_name(stack: &str, environment: &str) -> String {
        Naming::new(stack, environment).name("acr", NameStyle::alphanumeric(50))
    }

    /// The Key Vault's name: `<stack>-<env>-kv`, fitted to 24 characters.
    pub fn key_vault_name(stack: &str, environment: &str) -> String {
        Naming::new(stack, environment).name("kv", NameStyle::hyphenated(24))
    }
}

impl NamingRules for AzureNamingRules {
    fn cloud(&self) -> &str {
        "azure"
    }

    fn check(&self, spec: &StackSpec, errors: &mut Vec<ValidationError>) {
        let mut r = Report { errors };
        r.shape(
            &AZURE_REGION,
            "spec.region".into(),
            "Azure region",
            &spec.region,
        );
        // Derived names are only worth checking for a valid stack name and environment.
        if STACK_NAME.problems(&spec.name).is_empty()
            && ENVIRONMENT.problems(&spec.environment).is_empty()
        {
            let acr = Self::registry_name(&spec.name, &spec.environment);
            if let Some(e) = ACR.check("spec.name", "derived container registry name", &acr) {
                r.push(e.path, e.rule, e.message);
            }
            let kv = Self::key_vault_name(&spec.name, &spec.environment);
            if let Some(e) = KEY_VAULT.check("spec.name", "derived Key Vault name", &kv) {
                r.push(e.path, e.rule, e.message);
            }
        }
        for (i, reg) in spec.registries.iter().enumerate() {
            r.repository(format!("spec.registries[{i}].name"), "ACR", &reg.name, 1);
        }
        for (i, secret) in spec.secrets.iter().enumerate() {
            r.shape(
                &KEY_VAULT_SECRET,
                format!("spec.secrets[{i}].name"),
                "Key Vault secret name",
                &secret.name,
            );
        }
        if let Some(cluster) = &spec.cluster {
            for (i, pool) in cluster.node_pools.iter().enumerate() {
                let path = format!("spec.cluster.node_pools[{i}]");
                r.shape(
                    &AKS_AGENT_POOL,
                    format!("{path}.name"),
                    "AKS agent pool name",
                    &pool.name,
                );
                r.instance_type(
                    format!("{path}.instance_type"),
                    Some(&pool.instance_type),
                    azure_sku,
                    "an Azure VM size such as `Standard_D4s_v5`",
                );
            }
        }
        if let Some(db) = &spec.database {
            r.instance_type(
                "spec.database.instance_class".into(),
                db.instance_class.as_deref(),
                azure_sku,
                "a PostgreSQL flexible server SKU such as `Standard_B1ms`",
            );
            if db.username.eq_ignore_ascii_case("administrator") {
                r.push(
                    "spec.database.username".into(),
                    Rule::Name,
                    format!("database user name `{}` is reserved on Azure; pick another, e.g. `app_admin`", db.username),
                );
            }
        }
        for key in spec.tags.keys() {
            let len = key.chars().count();
            if len > 512 || key.contains(AZURE_TAG_FORBIDDEN) {
                r.push(
                    format!("spec.tags[{key:?}]"),
                    Rule::Name,
                    format!("Azure tag name `{key}` must be at most 512 characters without `<`, `>`, `%`, `&`, `\\`, `?` or `/`"),
                );
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
        assert!(azure_sku("Standard_D4s_v5") && azure_sku("Standard_B1ms"));
        assert!(!azure_sku("Standard_") && !azure_sku("D4s_v5") && !azure_sku("t3.medium"));
    }

    #[test]
    fn derived_azure_names() {
        assert_eq!(
            AzureNamingRules::registry_name("shop", "pr-1234"),
            "shoppr1234acr"
        );
        assert_eq!(
            AzureNamingRules::key_vault_name("shop", "pr-1234"),
            "shop-pr-1234-kv"
        );
        let long = AzureNamingRules::key_vault_name("a-very-long-stack", "a-long-environment");
        assert!(KEY_VAULT.problems(&long).is_empty(), "{long}");
    }
}
