//! Validation of a [`StackSpec`]: every rule runs, every error is collected, each names the
//! field path it is about (`spec.cluster.node_pools[0].max`).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::Duration;

use super::shape::{A_LOWER, A_LOWER_ALNUM, ENV_VAR, LOWER_ALNUM_HYPHEN, PG_IDENTIFIER, Shape};
use super::types::{Cluster, Postgres, Redis, RegistrySpec, SecretSource, SecretSpec};
use super::{StackSpec, apps, cidr, clouds, duration};

/// Which rule a [`ValidationError`] broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rule {
    /// A required value is empty or missing.
    Required,
    /// A name breaks a naming rule (charset, length, shape).
    Name,
    /// A value has the wrong format (Kubernetes version, region, duration…).
    Format,
    /// A number is out of its allowed range.
    Range,
    /// `min` is greater than `max`.
    MinMax,
    /// A CIDR does not parse.
    Cidr,
    /// A subnet lies outside the network's range.
    CidrOutside,
    /// Two subnets overlap.
    CidrOverlap,
    /// A reference names something not declared (a secret, a registry).
    UnknownReference,
    /// Two items share a name that must be unique.
    Duplicate,
    /// A combination the stack does not support (a cluster without a network…).
    Unsupported,
}

/// One problem in a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// Field path, `spec.cluster.node_pools[0].max`.
    pub path: String,
    /// The rule broken.
    pub rule: Rule,
    /// What is wrong, for a person.
    pub message: String,
    /// Line and column of the field in the YAML the spec was loaded from
    /// ([`StackSpec::from_yaml`](super::StackSpec::from_yaml)), or of the nearest field the
    /// YAML has; `None` for a spec built in code.
    pub location: Option<(usize, usize)>,
}

impl ValidationError {
    /// A new error at `path`.
    pub fn new(path: impl Into<String>, rule: Rule, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            rule,
            message: message.into(),
            location: None,
        }
    }
}

impl fmt::Display for ValidationError {
    /// `path: message`, or `path (line L, column C): message` when loaded from YAML.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path)?;
        if let Some((line, column)) = self.location {
            write!(f, " (line {line}, column {column})")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every problem found in a spec (never empty when returned as an error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecErrors {
    errors: Vec<ValidationError>,
}

impl SpecErrors {
    /// Wraps a list of errors.
    pub fn new(errors: Vec<ValidationError>) -> Self {
        Self { errors }
    }
    /// The errors, in the order found.
    pub fn errors(&self) -> &[ValidationError] {
        &self.errors
    }
    /// The error at `path`, if any.
    pub fn at(&self, path: &str) -> Option<&ValidationError> {
        self.errors.iter().find(|e| e.path == path)
    }
    /// Number of errors.
    pub fn len(&self) -> usize {
        self.errors.len()
    }
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }
}

impl fmt::Display for SpecErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the stack spec has {} error(s):", self.errors.len())?;
        for e in &self.errors {
            write!(f, "\n  - {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SpecErrors {}

/// Naming rules of one cloud, supplied by its provider and checked before any API call.
pub trait NamingRules: Send + Sync {
    /// The cloud these rules are for (`aws`, `azure`).
    fn cloud(&self) -> &str;
    /// Appends an error for every name in `spec` that this cloud would reject.
    fn check(&self, spec: &StackSpec, errors: &mut Vec<ValidationError>);
}

/// Runs every cloud-independent rule, then `rules` if given, and returns every error found
/// (never only the first).
///
/// The rules, by part of the spec:
/// - identity: the stack name is 1–20 lowercase letters, digits and hyphens, starts with a
///   letter, does not end with a hyphen and has no `--` (it prefixes every physical name and is
///   the apps' default namespace); the environment has the same charset and length and the
///   same hyphen rules (it is the second part of every physical name); the region is
///   lowercase letters, digits and hyphens;
/// - a cluster, database or cache needs a network; apps and workload identities need a
///   cluster;
/// - network: see the CIDR rules (`/16`–`/28` range, subnets inside it and apart, one public
///   and one private subnet per zone, two zones for a cluster);
/// - cluster: version `1.<minor>`; node pools named, unique, with a size, an instance type
///   or both clouds' overrides (no value empty), `max ≥ 1`,
///   `min ≤ max`, `desired` within `[min, max]`;
/// - database: major version 11–17, 20–65536 GiB, PostgreSQL identifiers for the database
///   and user names, no reserved user name, no empty instance class or override;
/// - cache: version `7` or `7.1`, at most 5 replicas, no empty node type or override;
/// - registries: unique non-empty names, `keep_images ≥ 1`;
/// - secrets: unique names of 1–64 lowercase letters, digits and hyphens starting with a
///   letter; generated lengths 16–4096; `from_env` variables with valid names;
/// - workload identities: DNS-1123 namespace and service account, unique, referring only to
///   declared secrets and registries;
/// - apps: unique DNS-1035 names (they name a Service), DNS-1123 namespace and service
///   account, a declared registry and a valid tag (or a non-empty external image), port ≥ 1,
///   at most 100 replicas, valid and unique variable names, declared secrets;
/// - ttl: 5 minutes to 90 days;
/// - tags: keys not under `multicloud:`, at most 128 characters; values at most 256.
pub fn validate(spec: &StackSpec, rules: Option<&dyn NamingRules>) -> Result<(), SpecErrors> {
    let mut errors = Vec::new();
    check_identity(spec, &mut errors);
    check_dependencies(spec, &mut errors);
    super::existing::check_existing(spec, &mut errors);
    super::existing::check_existing_network(spec, &mut errors);
    if let Some(net) = &spec.network {
        cidr::check_network(net, spec.cluster.is_some(), &mut errors);
        super::network::check_egress(
            net,
            spec.cluster
                .as_ref()
                .is_some_and(|c| !c.node_pools.is_empty()),
            &mut errors,
        );
    }
    if let Some(cluster) = &spec.cluster {
        check_cluster(cluster, &mut errors);
    }
    if let Some(db) = &spec.database {
        check_database(db, &mut errors);
    }
    if let Some(cache) = &spec.cache {
        check_cache(cache, &mut errors);
    }
    check_registries(&spec.registries, &mut errors);
    check_secrets(&spec.secrets, &mut errors);
    apps::check_workload_identities(spec, &mut errors);
    for (i, app) in spec.apps.iter().enumerate() {
        apps::check_app(spec, i, app, &mut errors);
    }
    super::manifest::check_manifests(&spec.manifests, &mut errors);
    check_ttl(spec.ttl, &mut errors);
    check_tags(&spec.tags, &mut errors);
    if let Some(rules) = rules {
        rules.check(spec, &mut errors);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(SpecErrors::new(errors))
    }
}

/// The stack name's shape: 1–20 lowercase letters, digits and hyphens, starting with a
/// letter, ending with a letter or digit, no `--`. It prefixes every physical name and is the
/// apps' default namespace.
pub const STACK_NAME: Shape = Shape::new(1, 20, LOWER_ALNUM_HYPHEN)
    .starts_with(A_LOWER)
    .ends_with(A_LOWER_ALNUM)
    .no_double_hyphen();
/// The environment's shape: 1–20 lowercase letters, digits and hyphens, starting and ending
/// with a letter or digit, no `--`. It is the second part of every physical name
/// (`shop-pr-1234-vpc`).
pub const ENVIRONMENT: Shape = Shape::new(1, 20, LOWER_ALNUM_HYPHEN)
    .starts_with(A_LOWER_ALNUM)
    .ends_with(A_LOWER_ALNUM)
    .no_double_hyphen();
const SECRET_NAME: Shape = Shape::new(1, 64, LOWER_ALNUM_HYPHEN).starts_with(A_LOWER);
/// Login names PostgreSQL, RDS or Azure reserve.
const RESERVED_USERS: [&str; 8] = [
    "postgres",
    "admin",
    "rdsadmin",
    "azure_superuser",
    "azure_pg_admin",
    "root",
    "guest",
    "public",
];

/// Appends `error`, if any.
pub(super) fn push(errors: &mut Vec<ValidationError>, error: Option<ValidationError>) {
    errors.extend(error);
}

fn check_identity(spec: &StackSpec, errors: &mut Vec<ValidationError>) {
    push(
        errors,
        STACK_NAME.check("spec.name", "stack name", &spec.name),
    );
    push(
        errors,
        ENVIRONMENT.check("spec.environment", "environment", &spec.environment),
    );
    clouds::check_region(spec, errors);
}

fn check_dependencies(spec: &StackSpec, errors: &mut Vec<ValidationError>) {
    if !spec.has_network() {
        let mut needy: Vec<&str> = [
            (spec.cluster.is_some(), "a cluster"),
            (spec.database.is_some(), "a database"),
            (spec.cache.is_some(), "a cache"),
        ]
        .into_iter()
        .filter_map(|(present, what)| present.then_some(what))
        .collect();
        if let Some(last) = needy.pop() {
            let (list, verb) = if needy.is_empty() {
                (last.to_string(), "needs")
            } else {
                (format!("{} and {last}", needy.join(", ")), "need")
            };
            errors.push(ValidationError::new(
                "spec.network",
                Rule::Unsupported,
                format!("{list} {verb} a network; add one (e.g. `Network::default()`)"),
            ));
        }
    }
    if spec.cluster.is_none() && spec.existing_cluster.is_none() {
        let what = match (spec.apps.is_empty(), spec.workload_identities.is_empty()) {
            (true, true) => None,
            (false, true) => Some("apps need"),
            (true, false) => Some("workload identities need"),
            (false, false) => Some("apps and workload identities need"),
        };
        if let Some(what) = what {
            errors.push(ValidationError::new(
                "spec.cluster",
                Rule::Unsupported,
                format!("{what} a cluster; add one, or name an `existing_cluster`"),
            ));
        }
    }
}

/// For each name used before, its index and the index of its first use (empty names skipped).
pub(super) fn duplicates<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<(usize, usize)> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut out = Vec::new();
    for (i, name) in names.into_iter().enumerate() {
        if name.is_empty() {
            continue;
        }
        match seen.get(name) {
            Some(first) => out.push((i, *first)),
            None => {
                seen.insert(name, i);
            }
        }
    }
    out
}

fn check_cluster(cluster: &Cluster, errors: &mut Vec<ValidationError>) {
    let version_ok = cluster
        .version
        .split_once('.')
        .is_some_and(|(major, minor)| {
            major == "1"
                && minor.len() == 2
                && minor.bytes().all(|b| b.is_ascii_digit())
                && !minor.starts_with('0')
        });
    if !version_ok {
        errors.push(ValidationError::new(
            "spec.cluster.version",
            Rule::Format,
            format!(
                "Kubernetes version `{}` must look like `1.31`",
                cluster.version
            ),
        ));
    }
    if cluster.node_pools.is_empty() {
        errors.push(ValidationError::new(
            "spec.cluster.node_pools",
            Rule::Required,
            "a cluster needs at least one node pool",
        ));
    }
    for (i, pool) in cluster.node_pools.iter().enumerate() {
        let path = format!("spec.cluster.node_pools[{i}]");
        if pool.name.is_empty() {
            errors.push(ValidationError::new(
                format!("{path}.name"),
                Rule::Required,
                "node pool name is required",
            ));
        }
        clouds::check_pool(&path, pool, errors);
        if pool.max == 0 {
            errors.push(ValidationError::new(
                format!("{path}.max"),
                Rule::Range,
                format!(
                    "node pool `{}` has max 0; it must allow at least 1 node",
                    pool.name
                ),
            ));
        }
        if pool.min > pool.max {
            errors.push(ValidationError::new(
                format!("{path}.min"),
                Rule::MinMax,
                format!(
                    "node pool `{}` has min {} greater than max {}",
                    pool.name, pool.min, pool.max
                ),
            ));
        } else if let Some(desired) = pool.desired
            && !(pool.min..=pool.max).contains(&desired)
        {
            errors.push(ValidationError::new(
                format!("{path}.desired"),
                Rule::Range,
                format!(
                    "node pool `{}` has desired {desired} outside [{}, {}]",
                    pool.name, pool.min, pool.max
                ),
            ));
        }
    }
    for (i, first) in duplicates(cluster.node_pools.iter().map(|p| p.name.as_str())) {
        errors.push(ValidationError::new(
            format!("spec.cluster.node_pools[{i}].name"),
            Rule::Duplicate,
            format!(
                "node pool name `{}` is already used by spec.cluster.node_pools[{first}]",
                cluster.node_pools[i].name
            ),
        ));
    }
}

fn check_database(db: &Postgres, errors: &mut Vec<ValidationError>) {
    clouds::check_database(db, errors);
    let v = &db.version;
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) || v.starts_with('0') {
        errors.push(ValidationError::new(
            "spec.database.version",
            Rule::Format,
            format!("PostgreSQL version `{v}` must be a major version number such as `16`"),
        ));
    } else if !(11..=17).contains(&v.parse::<u32>().unwrap_or(0)) {
        errors.push(ValidationError::new(
            "spec.database.version",
            Rule::Range,
            format!("PostgreSQL version `{v}` is not supported; use 11 to 17"),
        ));
    }
    if !(20..=65_536).contains(&db.storage_gb) {
        errors.push(ValidationError::new(
            "spec.database.storage_gb",
            Rule::Range,
            format!("storage_gb {} must be from 20 to 65536", db.storage_gb),
        ));
    }
    push(
        errors,
        PG_IDENTIFIER.check(
            "spec.database.database_name",
            "database name",
            &db.database_name,
        ),
    );
    match PG_IDENTIFIER.check("spec.database.username", "database user name", &db.username) {
        Some(error) => errors.push(error),
        None => {
            let lower = db.username.to_ascii_lowercase();
            if RESERVED_USERS.contains(&lower.as_str()) || lower.starts_with("pg_") {
                errors.push(ValidationError::new(
                    "spec.database.username",
                    Rule::Name,
                    format!(
                        "database user name `{}` is reserved (by PostgreSQL, RDS or Azure); pick another, e.g. `app_admin`",
                        db.username
                    ),
                ));
            }
        }
    }
}

fn check_cache(cache: &Redis, errors: &mut Vec<ValidationError>) {
    clouds::check_cache(cache, errors);
    let number = |s: &str| !s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit());
    let ok = match cache.version.split_once('.') {
        Some((major, minor)) => number(major) && number(minor),
        None => number(&cache.version),
    };
    if !ok {
        errors.push(ValidationError::new(
            "spec.cache.version",
            Rule::Format,
            format!(
                "Redis version `{}` must look like `7.1` or `7`",
                cache.version
            ),
        ));
    }
    if cache.replicas > 5 {
        errors.push(ValidationError::new(
            "spec.cache.replicas",
            Rule::Range,
            format!(
                "{} replicas requested; at most 5 are allowed",
                cache.replicas
            ),
        ));
    }
}

fn check_registries(registries: &[RegistrySpec], errors: &mut Vec<ValidationError>) {
    for (i, reg) in registries.iter().enumerate() {
        if reg.name.is_empty() {
            errors.push(ValidationError::new(
                format!("spec.registries[{i}].name"),
                Rule::Required,
                "registry name is required",
            ));
        }
        if reg.keep_images == 0 {
            errors.push(ValidationError::new(
                format!("spec.registries[{i}].keep_images"),
                Rule::Range,
                format!("registry `{}` keeps 0 images; keep at least 1", reg.name),
            ));
        }
    }
    for (i, first) in duplicates(registries.iter().map(|r| r.name.as_str())) {
        errors.push(ValidationError::new(
            format!("spec.registries[{i}].name"),
            Rule::Duplicate,
            format!(
                "registry name `{}` is already used by spec.registries[{first}]",
                registries[i].name
            ),
        ));
    }
}

fn check_secrets(secrets: &[SecretSpec], errors: &mut Vec<ValidationError>) {
    for (i, secret) in secrets.iter().enumerate() {
        push(
            errors,
            SECRET_NAME.check(
                &format!("spec.secrets[{i}].name"),
                "secret name",
                &secret.name,
            ),
        );
        match &secret.source {
            SecretSource::Generated { length } => {
                if !(16..=4096).contains(length) {
                    errors.push(ValidationError::new(
                        format!("spec.secrets[{i}].source.generated.length"),
                        Rule::Range,
                        format!("secret `{}` would be generated with {length} characters; use 16 to 4096", secret.name),
                    ));
                }
            }
            SecretSource::FromEnv { var } => push(
                errors,
                ENV_VAR.check(
                    &format!("spec.secrets[{i}].source.from_env.var"),
                    "environment variable name",
                    var,
                ),
            ),
        }
    }
    for (i, first) in duplicates(secrets.iter().map(|s| s.name.as_str())) {
        errors.push(ValidationError::new(
            format!("spec.secrets[{i}].name"),
            Rule::Duplicate,
            format!(
                "secret name `{}` is already used by spec.secrets[{first}]",
                secrets[i].name
            ),
        ));
    }
}

fn check_ttl(ttl: Option<Duration>, errors: &mut Vec<ValidationError>) {
    const MIN: Duration = Duration::from_secs(5 * 60);
    const MAX: Duration = Duration::from_secs(90 * 86_400);
    if let Some(ttl) = ttl
        && !(MIN..=MAX).contains(&ttl)
    {
        errors.push(ValidationError::new(
            "spec.ttl",
            Rule::Range,
            format!(
                "ttl {} is outside the allowed {} to {}",
                duration::format(ttl),
                duration::format(MIN),
                duration::format(MAX)
            ),
        ));
    }
}

/// Prefix of the ownership tags the engine writes; users may not set them.
const RESERVED_TAG_PREFIX: &str = "multicloud:";

fn check_tags(tags: &BTreeMap<String, String>, errors: &mut Vec<ValidationError>) {
    for (key, value) in tags {
        let path = format!("spec.tags[{key:?}]");
        let key_len = key.chars().count();
        if key.is_empty() {
            errors.push(ValidationError::new(
                path,
                Rule::Required,
                "tag keys must not be empty",
            ));
        } else if key.starts_with(RESERVED_TAG_PREFIX) {
            errors.push(ValidationError::new(
                path,
                Rule::Name,
                format!("tag key `{key}` is reserved: `{RESERVED_TAG_PREFIX}` tags are written by multicloud"),
            ));
        } else if key_len > 128 {
            errors.push(ValidationError::new(
                path,
                Rule::Name,
                format!("tag key `{key}` is {key_len} characters long; at most 128 allowed"),
            ));
        } else if value.chars().count() > 256 {
            errors.push(ValidationError::new(
                path,
                Rule::Range,
                format!(
                    "the value of tag `{key}` is {} characters long; at most 256 allowed",
                    value.chars().count()
                ),
            ));
        }
    }
}
