//! Issue 18 §2, "bad specs": invalid specs that break a cloud's naming rules (AWS, Azure or
//! both), alone or beside the cloud-neutral rules, checked by
//! [`StackSpec::from_yaml_for`] with both providers' rules, as the CLI's `--cloud both`
//! does: every error at once (a missing network and a bad AKS pool name together), each
//! with its field path and YAML line, before any request. The cloud-neutral corpus is in
//! `crates/multicloud-core/tests/spec_corpus.rs`.

use multicloud_aws::naming::AwsNamingRules;
use multicloud_azure::naming::StackNamingRules;
use multicloud_core::spec::{NamingRules, SpecError, StackSpec};

/// One invalid spec: its name, its text and the `(path, line)` of every error (a path
/// twice when both clouds refuse its value, each in its own words).
type Case = (&'static str, &'static str, &'static [(&'static str, usize)]);

/// `(path, line)` of every error `text` gets with both clouds' rules.
fn errors(text: &str) -> Result<Vec<(String, usize)>, String> {
    let azure = StackNamingRules::default();
    let clouds: [&dyn NamingRules; 2] = [&AwsNamingRules, &azure];
    match StackSpec::from_yaml_for(text, &clouds) {
        Ok(_) => Err("accepted".into()),
        Err(SpecError::Invalid(errors)) => errors
            .errors()
            .iter()
            .map(|e| match e.location {
                Some((line, _)) => Ok((e.path.clone(), line)),
                None => Err(format!("no location: {e}")),
            })
            .collect(),
        Err(other) => Err(format!("unexpected error: {other}")),
    }
}

/// Runs every case; reports every mismatch at once.
fn run(cases: &[Case]) {
    let mut failures = Vec::new();
    for (name, text, expected) in cases {
        let mut want: Vec<(String, usize)> = expected
            .iter()
            .map(|(p, l)| ((*p).to_owned(), *l))
            .collect();
        want.sort();
        match errors(text) {
            Ok(mut got) => {
                got.sort();
                if got != want {
                    failures.push(format!("{name}: want {want:?}, got {got:?}"));
                }
            }
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A spec valid on both clouds up to its first node pool (line 9), then `$rest`.
macro_rules! both {
    (default, $rest:literal) => {
        both!(
            "    - {name: general, size: small, min: 1, max: 3}\n",
            $rest
        )
    };
    ($pool:literal, $rest:literal) => {
        concat!(
            "name: shop\nenvironment: dev\n",
            "aws: {region: us-east-1}\nazure: {location: westeurope}\n",
            "network: {cidr: 10.0.0.0/16}\n",
            "cluster:\n  version: \"1.31\"\n  node_pools:\n",
            $pool,
            $rest
        )
    };
}

const NAMING: &[Case] = &[
    (
        "AKS pool with capitals",
        both!(
            "    - {name: General_Pool, size: small, min: 1, max: 3}\n",
            ""
        ),
        &[("spec.cluster.node_pools[0].name", 9)],
    ),
    (
        "AKS pool of 13 characters",
        both!(
            "    - {name: generalpool1x, size: small, min: 1, max: 3}\n",
            ""
        ),
        &[("spec.cluster.node_pools[0].name", 9)],
    ),
    (
        "AKS pool starting with a digit",
        both!("    - {name: 1pool, size: small, min: 1, max: 3}\n", ""),
        &[("spec.cluster.node_pools[0].name", 9)],
    ),
    (
        "pool name neither cloud takes",
        both!("    - {name: gen.eral, size: small, min: 1, max: 3}\n", ""),
        &[
            ("spec.cluster.node_pools[0].name", 9),
            ("spec.cluster.node_pools[0].name", 9),
        ],
    ),
    (
        "Azure location with a space",
        "name: shop\nenvironment: dev\naws: {region: us-east-1}\nazure: {location: West Europe}\n",
        &[("spec.azure.location", 4)],
    ),
    (
        "AWS region in Azure's form",
        "name: shop\nenvironment: dev\naws: {region: useast1}\nazure: {location: westeurope}\n",
        &[("spec.aws.region", 3)],
    ),
    (
        "one region for both",
        "name: shop\nenvironment: dev\nregion: us-east-1\n",
        &[("spec.region", 3)],
    ),
    (
        "VM size without Standard_",
        both!(
            "    - {name: general, size: small, min: 1, max: 3, azure: {vm_size: D4s_v5}}\n",
            ""
        ),
        &[("spec.cluster.node_pools[0].azure.vm_size", 9)],
    ),
    (
        "EC2 type without a family",
        both!(
            "    - {name: general, size: small, min: 1, max: 3, aws: {instance_type: t3}}\n",
            ""
        ),
        &[("spec.cluster.node_pools[0].aws.instance_type", 9)],
    ),
    (
        "repository neither registry takes",
        "name: shop\nenvironment: dev\naws: {region: us-east-1}\nazure: {location: westeurope}\nregistries:\n  - name: -web\n",
        &[
            ("spec.registries[0].name", 6),
            ("spec.registries[0].name", 6),
        ],
    ),
    (
        "Azure's reserved login",
        both!(
            default,
            "database:\n  version: \"16\"\n  username: administrator\n"
        ),
        &[("spec.database.username", 12)],
    ),
    (
        "PostgreSQL SKU without Standard_",
        both!(
            default,
            "database:\n  version: \"16\"\n  azure: {sku: B1ms}\n"
        ),
        &[("spec.database.azure.sku", 12)],
    ),
    (
        "RDS class without db.",
        both!(
            default,
            "database:\n  version: \"16\"\n  aws: {instance_class: m5.large}\n"
        ),
        &[("spec.database.aws.instance_class", 12)],
    ),
    (
        "Redis SKU of the old service",
        both!(
            default,
            "cache:\n  version: \"7.1\"\n  azure: {sku: Basic_C0}\n"
        ),
        &[("spec.cache.azure.sku", 12)],
    ),
    (
        "ElastiCache type without cache.",
        both!(
            default,
            "cache:\n  version: \"7.1\"\n  aws: {node_type: t3.micro}\n"
        ),
        &[("spec.cache.aws.node_type", 12)],
    ),
    (
        "existing cluster that is not an AKS id",
        "name: shop\nenvironment: dev\naws: {region: us-east-1}\nazure: {location: westeurope}\nexisting_cluster: {id: my-cluster}\n",
        &[("spec.existing_cluster.id", 5)],
    ),
];

const COMBINED: &[Case] = &[
    (
        "no network and a bad AKS pool",
        "name: shop\nenvironment: dev\naws: {region: us-east-1}\nazure: {location: westeurope}\ncluster:\n  version: \"1.31\"\n  node_pools:\n    - {name: General_Pool, size: small, min: 1, max: 3}\n",
        &[("spec.network", 1), ("spec.cluster.node_pools[0].name", 8)],
    ),
    (
        "bad range, bad location, bad pool",
        "name: shop\nenvironment: dev\naws: {region: us-east-1}\nazure: {location: West Europe}\nnetwork: {cidr: 10.0.0.0/33}\ncluster:\n  version: \"1.31\"\n  node_pools:\n    - {name: General_Pool, size: small, min: 1, max: 3}\n",
        &[
            ("spec.network.cidr", 5),
            ("spec.azure.location", 4),
            ("spec.cluster.node_pools[0].name", 9),
        ],
    ),
    (
        "unknown secret, bad pool name, bad VM size",
        both!(
            "    - {name: gen.eral, size: small, min: 1, max: 3, azure: {vm_size: D4}}\n",
            "workload_identities:\n  - {namespace: shop, service_account: api, read_secrets: [nope]}\n"
        ),
        &[
            ("spec.cluster.node_pools[0].name", 9),
            ("spec.cluster.node_pools[0].name", 9),
            ("spec.cluster.node_pools[0].azure.vm_size", 9),
            ("spec.workload_identities[0].read_secrets[0]", 11),
        ],
    ),
    (
        "bad stack name and a bad AWS region",
        "name: Shop_1\nenvironment: dev\naws: {region: useast1}\nazure: {location: westeurope}\n",
        &[("spec.name", 1), ("spec.aws.region", 3)],
    ),
    (
        "connect without database and a bad pool",
        both!(
            "    - {name: General_Pool, size: small, min: 3, max: 2}\n",
            "apps:\n  - {name: api, image: nginx:1.27, port: 80, connect: [database]}\n"
        ),
        &[
            ("spec.cluster.node_pools[0].name", 9),
            ("spec.cluster.node_pools[0].min", 9),
            ("spec.apps[0].connect[0]", 11),
        ],
    ),
    (
        "old Postgres with a bad SKU",
        both!(
            default,
            "database:\n  version: \"10\"\n  azure: {sku: B1ms}\n"
        ),
        &[
            ("spec.database.version", 11),
            ("spec.database.azure.sku", 12),
        ],
    ),
];

#[test]
fn each_clouds_naming_rules() {
    run(NAMING);
}

#[test]
fn cloud_and_neutral_errors_at_once() {
    run(COMBINED);
}

#[test]
fn the_base_spec_is_valid_on_both_clouds() {
    let azure = StackNamingRules::default();
    let clouds: [&dyn NamingRules; 2] = [&AwsNamingRules, &azure];
    let text = both!(default, "");
    StackSpec::from_yaml_for(text, &clouds).expect("valid");
    assert!(
        text.lines()
            .nth(8)
            .is_some_and(|l| l.contains("name: general"))
    );
}
