//! Issue 18 §2, "bad specs": a table-driven corpus of invalid specs against the
//! cloud-neutral rules. Each case is a YAML text and every error it must produce, as
//! `(field path, YAML line)`: all of them at once, none more, each with its location.
//! The cases that need a cloud's naming rules are in the workspace `tests` crate
//! (`tests/tests/spec_corpus.rs`).

use multicloud_core::spec::{SpecError, StackSpec};

/// One invalid spec: its name, its text and the `(path, line)` of every error.
type Case = (&'static str, &'static str, &'static [(&'static str, usize)]);

/// `(path, line)` of every error `text` gets from [`StackSpec::from_yaml`].
fn errors(text: &str) -> Result<Vec<(String, usize)>, String> {
    match StackSpec::from_yaml(text) {
        Ok(_) => Err("accepted".into()),
        Err(SpecError::Yaml { location, message }) => {
            let (line, _) = location.ok_or(format!("no location: {message}"))?;
            let path = message.split_once(": ").map_or("", |(p, _)| p);
            Ok(vec![(path.to_owned(), line)])
        }
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

const IDENTITY: &[Case] = &[
    (
        "name with capitals",
        "name: Shop_1\nenvironment: dev\nregion: us-east-1\n",
        &[("spec.name", 1)],
    ),
    (
        "name too long",
        "name: abcdefghijklmnopqrstu\nenvironment: dev\nregion: us-east-1\n",
        &[("spec.name", 1)],
    ),
    (
        "name with --",
        "name: a--b\nenvironment: dev\nregion: us-east-1\n",
        &[("spec.name", 1)],
    ),
    (
        "name starts with a digit",
        "name: 1shop\nenvironment: dev\nregion: us-east-1\n",
        &[("spec.name", 1)],
    ),
    (
        "environment with _",
        "name: shop\nenvironment: Dev_1\nregion: us-east-1\n",
        &[("spec.environment", 2)],
    ),
    (
        "environment ends with -",
        "name: shop\nenvironment: dev-\nregion: us-east-1\n",
        &[("spec.environment", 2)],
    ),
    (
        "region with spaces",
        "name: shop\nenvironment: dev\nregion: US East\n",
        &[("spec.region", 3)],
    ),
    (
        "ttl too short",
        "name: shop\nenvironment: dev\nregion: us-east-1\nttl: 1m\n",
        &[("spec.ttl", 4)],
    ),
    (
        "ttl too long",
        "name: shop\nenvironment: dev\nregion: us-east-1\nttl: 100d\n",
        &[("spec.ttl", 4)],
    ),
    (
        "three identity errors",
        "name: Shop\nenvironment: dev-\nregion: us-east-1\nttl: 1m\n",
        &[("spec.name", 1), ("spec.environment", 2), ("spec.ttl", 4)],
    ),
];

const DEPENDENCIES: &[Case] = &[
    (
        "cluster without network",
        "name: shop\nenvironment: dev\nregion: us-east-1\ncluster:\n  version: \"1.31\"\n  node_pools:\n    - {name: general, instance_type: t3.medium, min: 1, max: 3}\n",
        &[("spec.network", 1)],
    ),
    (
        "database without network",
        "name: shop\nenvironment: dev\nregion: us-east-1\ndatabase: {version: \"16\"}\n",
        &[("spec.network", 1)],
    ),
    (
        "cache without network",
        "name: shop\nenvironment: dev\nregion: us-east-1\ncache: {version: \"7.1\"}\n",
        &[("spec.network", 1)],
    ),
    (
        "apps without cluster",
        "name: shop\nenvironment: dev\nregion: us-east-1\napps:\n  - {name: api, image: nginx:1.27, port: 80}\n",
        &[("spec.cluster", 1)],
    ),
    (
        "identity without cluster",
        "name: shop\nenvironment: dev\nregion: us-east-1\nworkload_identities:\n  - {namespace: shop, service_account: api}\n",
        &[("spec.cluster", 1)],
    ),
];

/// A network (line 4) and a cluster (lines 5-8) for the cases below.
macro_rules! with_cluster {
    ($rest:literal) => {
        concat!(
            "name: shop\nenvironment: dev\nregion: us-east-1\n",
            "network: {cidr: 10.0.0.0/16}\n",
            "cluster:\n  version: \"1.31\"\n  node_pools:\n",
            "    - {name: general, instance_type: t3.medium, min: 1, max: 3}\n",
            $rest
        )
    };
}

/// The stack's identity and a network on line 4.
macro_rules! with_network {
    ($network:literal, $rest:literal) => {
        concat!(
            "name: shop\nenvironment: dev\nregion: us-east-1\n",
            $network,
            $rest
        )
    };
}

const CLUSTER: &[Case] = &[
    (
        "version 1.3",
        with_network!(
            "network: {cidr: 10.0.0.0/16}\n",
            "cluster:\n  version: \"1.3\"\n  node_pools:\n    - {name: general, instance_type: t3.medium, min: 1, max: 3}\n"
        ),
        &[("spec.cluster.version", 6)],
    ),
    (
        "version 2.31",
        with_network!(
            "network: {cidr: 10.0.0.0/16}\n",
            "cluster:\n  version: \"2.31\"\n  node_pools:\n    - {name: general, instance_type: t3.medium, min: 1, max: 3}\n"
        ),
        &[("spec.cluster.version", 6)],
    ),
    (
        "no node pools",
        with_network!(
            "network: {cidr: 10.0.0.0/16}\n",
            "cluster:\n  version: \"1.31\"\n  node_pools: []\n"
        ),
        &[("spec.cluster.node_pools", 7)],
    ),
    (
        "max 0",
        with_network!(
            "network: {cidr: 10.0.0.0/16}\n",
            "cluster:\n  version: \"1.31\"\n  node_pools:\n    - {name: general, instance_type: t3.medium, min: 0, max: 0}\n"
        ),
        &[("spec.cluster.node_pools[0].max", 8)],
    ),
    (
        "min over max",
        with_network!(
            "network: {cidr: 10.0.0.0/16}\n",
            "cluster:\n  version: \"1.31\"\n  node_pools:\n    - {name: general, instance_type: t3.medium, min: 3, max: 2}\n"
        ),
        &[("spec.cluster.node_pools[0].min", 8)],
    ),
    (
        "desired outside",
        with_network!(
            "network: {cidr: 10.0.0.0/16}\n",
            "cluster:\n  version: \"1.31\"\n  node_pools:\n    - {name: general, instance_type: t3.medium, min: 1, max: 2, desired: 5}\n"
        ),
        &[("spec.cluster.node_pools[0].desired", 8)],
    ),
    (
        "pool without a name",
        with_network!(
            "network: {cidr: 10.0.0.0/16}\n",
            "cluster:\n  version: \"1.31\"\n  node_pools:\n    - {name: \"\", instance_type: t3.medium, min: 1, max: 2}\n"
        ),
        &[("spec.cluster.node_pools[0].name", 8)],
    ),
    (
        "duplicate pools",
        with_cluster!("    - {name: general, instance_type: t3.large, min: 1, max: 3}\n"),
        &[("spec.cluster.node_pools[1].name", 9)],
    ),
    (
        "pool min not a number",
        with_network!(
            "network: {cidr: 10.0.0.0/16}\n",
            "cluster:\n  version: \"1.31\"\n  node_pools:\n    - {name: general, instance_type: t3.medium, min: one, max: 2}\n"
        ),
        &[("spec.cluster.node_pools[0].min", 8)],
    ),
    (
        "unknown pool size",
        with_network!(
            "network: {cidr: 10.0.0.0/16}\n",
            "cluster:\n  version: \"1.31\"\n  node_pools:\n    - {name: general, size: huge, min: 1, max: 2}\n"
        ),
        &[("spec.cluster.node_pools[0].size", 8)],
    ),
];

const NETWORK: &[Case] = &[
    (
        "prefix 33",
        with_network!("network: {cidr: 10.0.0.0/33}\n", ""),
        &[("spec.network.cidr", 4)],
    ),
    (
        "prefix 8",
        with_network!("network: {cidr: 10.0.0.0/8}\n", ""),
        &[("spec.network.cidr", 4)],
    ),
    (
        "subnet outside",
        with_network!(
            "network:\n  cidr: 10.0.0.0/16\n  zones: 2\n  public_subnets: [10.0.0.0/24, 10.0.1.0/24]\n",
            "  private_subnets: [10.0.16.0/20, 192.168.0.0/20]\n"
        ),
        &[("spec.network.private_subnets[1]", 8)],
    ),
    (
        "subnets overlap",
        with_network!(
            "network:\n  cidr: 10.0.0.0/16\n  zones: 2\n  public_subnets: [10.0.0.0/24, 10.0.1.0/24]\n",
            "  private_subnets: [10.0.16.0/20, 10.0.0.0/24]\n"
        ),
        &[("spec.network.private_subnets[1]", 8)],
    ),
    (
        "subnet not a cidr",
        with_network!(
            "network:\n  cidr: 10.0.0.0/16\n  zones: 2\n  public_subnets: [10.0.0.0/24, banana]\n",
            "  private_subnets: [10.0.16.0/20, 10.0.32.0/20]\n"
        ),
        &[("spec.network.public_subnets[1]", 7)],
    ),
    (
        "zones not a number",
        with_network!("network:\n  cidr: 10.0.0.0/16\n  zones: two\n", ""),
        &[("spec.network.zones", 6)],
    ),
];

const DATA: &[Case] = &[
    (
        "postgres 10",
        with_network!(
            "network: {cidr: 10.0.0.0/16}\n",
            "database:\n  version: \"10\"\n"
        ),
        &[("spec.database.version", 6)],
    ),
    (
        "storage 10 GiB",
        with_network!(
            "network: {cidr: 10.0.0.0/16}\n",
            "database: {version: \"16\", storage_gb: 10}\n"
        ),
        &[("spec.database.storage_gb", 5)],
    ),
    (
        "reserved user",
        with_network!(
            "network: {cidr: 10.0.0.0/16}\n",
            "database:\n  version: \"16\"\n  username: postgres\n"
        ),
        &[("spec.database.username", 7)],
    ),
    (
        "database name",
        with_network!(
            "network: {cidr: 10.0.0.0/16}\n",
            "database:\n  version: \"16\"\n  database_name: 1db\n"
        ),
        &[("spec.database.database_name", 7)],
    ),
    (
        "unknown database field",
        with_network!(
            "network: {cidr: 10.0.0.0/16}\n",
            "database:\n  version: \"16\"\n  storage_size: 20\n"
        ),
        &[("spec.database.storage_size", 7)],
    ),
    (
        "redis latest",
        with_network!(
            "network: {cidr: 10.0.0.0/16}\n",
            "cache: {version: latest}\n"
        ),
        &[("spec.cache.version", 5)],
    ),
    (
        "9 replicas",
        with_network!(
            "network: {cidr: 10.0.0.0/16}\n",
            "cache:\n  version: \"7.1\"\n  replicas: 9\n"
        ),
        &[("spec.cache.replicas", 7)],
    ),
    (
        "unknown tier",
        with_network!(
            "network: {cidr: 10.0.0.0/16}\n",
            "cache:\n  version: \"7.1\"\n  tier: gold\n"
        ),
        &[("spec.cache.tier", 7)],
    ),
];

const NAMED: &[Case] = &[
    (
        "duplicate registries",
        "name: shop\nenvironment: dev\nregion: us-east-1\nregistries:\n  - name: web\n  - name: web\n",
        &[("spec.registries[1].name", 6)],
    ),
    (
        "keep no images",
        "name: shop\nenvironment: dev\nregion: us-east-1\nregistries:\n  - {name: web, keep_images: 0}\n",
        &[("spec.registries[0].keep_images", 5)],
    ),
    (
        "registries not a list",
        "name: shop\nenvironment: dev\nregion: us-east-1\nregistries: web\n",
        &[("spec.registries", 4)],
    ),
    (
        "secret name with _",
        "name: shop\nenvironment: dev\nregion: us-east-1\nsecrets:\n  - name: db_password\n    generated: {length: 32}\n",
        &[("spec.secrets[0].name", 5)],
    ),
    (
        "short secret",
        "name: shop\nenvironment: dev\nregion: us-east-1\nsecrets:\n  - name: token\n    generated: {length: 2}\n",
        &[("spec.secrets[0].source.generated.length", 6)],
    ),
    (
        "bad variable",
        "name: shop\nenvironment: dev\nregion: us-east-1\nsecrets:\n  - name: token\n    from_env: 1BAD\n",
        &[("spec.secrets[0].source.from_env.var", 6)],
    ),
    (
        "duplicate secrets",
        "name: shop\nenvironment: dev\nregion: us-east-1\nsecrets:\n  - {name: token, from_env: TOKEN}\n  - {name: token, from_env: OTHER}\n",
        &[("spec.secrets[1].name", 6)],
    ),
    (
        "unknown top-level field",
        "name: shop\nenvironment: dev\nregion: us-east-1\nclustr: {}\n",
        &[("spec.clustr", 4)],
    ),
    (
        "malformed yaml",
        "name: shop\nenvironment: [dev\n",
        &[("spec.environment", 2)],
    ),
];

const REFERENCES: &[Case] = &[
    (
        "read an unknown secret",
        with_cluster!(
            "workload_identities:\n  - namespace: shop\n    service_account: api\n    read_secrets: [nope]\n"
        ),
        &[("spec.workload_identities[0].read_secrets[0]", 12)],
    ),
    (
        "pull an unknown registry",
        with_cluster!(
            "workload_identities:\n  - namespace: shop\n    service_account: api\n    pull_registries: [nope]\n"
        ),
        &[("spec.workload_identities[0].pull_registries[0]", 12)],
    ),
    (
        "namespace with capitals",
        with_cluster!("workload_identities:\n  - namespace: Shop\n    service_account: api\n"),
        &[("spec.workload_identities[0].namespace", 10)],
    ),
    (
        "image of an unknown registry",
        with_cluster!("apps:\n  - name: api\n    image: {registry: nope, tag: v1}\n    port: 80\n"),
        &[("spec.apps[0].image.registry", 11)],
    ),
    (
        "secret variable of an unknown secret",
        with_cluster!(
            "apps:\n  - name: api\n    image: nginx:1.27\n    port: 80\n    env_from_secrets:\n      - {var: TOKEN, secret: nope}\n"
        ),
        &[("spec.apps[0].env_from_secrets[0].secret", 14)],
    ),
];

const APPS: &[Case] = &[
    (
        "connect without database",
        with_cluster!(
            "apps:\n  - name: api\n    image: nginx:1.27\n    port: 80\n    connect: [database]\n"
        ),
        &[("spec.apps[0].connect[0]", 13)],
    ),
    (
        "connect without either",
        with_cluster!(
            "apps:\n  - name: api\n    image: nginx:1.27\n    port: 80\n    connect: [database, cache]\n"
        ),
        &[
            ("spec.apps[0].connect[0]", 13),
            ("spec.apps[0].connect[1]", 13),
        ],
    ),
    (
        "connection set by hand too",
        with_cluster!(
            "database: {version: \"16\"}\napps:\n  - name: api\n    image: nginx:1.27\n    port: 80\n    env: {PGHOST: x}\n    connect: [database]\n"
        ),
        &[("spec.apps[0].connect[0]", 15)],
    ),
    (
        "unknown connection",
        with_cluster!(
            "apps:\n  - name: api\n    image: nginx:1.27\n    port: 80\n    connect: [queue]\n"
        ),
        &[("spec.apps[0].connect[0]", 13)],
    ),
    (
        "app name with capitals",
        with_cluster!("apps:\n  - name: API\n    image: nginx:1.27\n    port: 80\n"),
        &[("spec.apps[0].name", 10)],
    ),
    (
        "port 0",
        with_cluster!("apps:\n  - name: api\n    image: nginx:1.27\n    port: 0\n"),
        &[("spec.apps[0].port", 12)],
    ),
    (
        "port 70000",
        with_cluster!("apps:\n  - name: api\n    image: nginx:1.27\n    port: 70000\n"),
        &[("spec.apps[0].port", 12)],
    ),
    (
        "101 replicas",
        with_cluster!(
            "apps:\n  - name: api\n    image: nginx:1.27\n    port: 80\n    replicas: 101\n"
        ),
        &[("spec.apps[0].replicas", 13)],
    ),
    (
        "duplicate apps",
        with_cluster!(
            "apps:\n  - {name: api, image: nginx:1.27, port: 80}\n  - {name: api, image: nginx:1.27, port: 81}\n"
        ),
        &[("spec.apps[1].name", 11)],
    ),
    (
        "unknown expose",
        with_cluster!(
            "apps:\n  - name: api\n    image: nginx:1.27\n    port: 80\n    expose: everywhere\n"
        ),
        &[("spec.apps[0].expose", 13)],
    ),
];

const MANY: &[Case] = &[
    (
        "every kind at once",
        "name: Shop\nenvironment: dev\nregion: us-east-1\ncluster:\n  version: \"1.3\"\n  node_pools:\n    - {name: general, instance_type: t3.medium, min: 3, max: 2}\nttl: 1m\n",
        &[
            ("spec.name", 1),
            ("spec.network", 1),
            ("spec.cluster.version", 5),
            ("spec.cluster.node_pools[0].min", 7),
            ("spec.ttl", 8),
        ],
    ),
    (
        "references and connections at once",
        with_cluster!(
            "workload_identities:\n  - {namespace: shop, service_account: api, read_secrets: [nope]}\napps:\n  - name: api\n    image: {registry: nope, tag: v1}\n    port: 80\n    connect: [cache]\n"
        ),
        &[
            ("spec.workload_identities[0].read_secrets[0]", 10),
            ("spec.apps[0].image.registry", 13),
            ("spec.apps[0].connect[0]", 15),
        ],
    ),
];

#[test]
fn identity_and_ttl() {
    run(IDENTITY);
}

#[test]
fn what_needs_a_network_or_a_cluster() {
    run(DEPENDENCIES);
}

#[test]
fn clusters_and_versions() {
    run(CLUSTER);
}

#[test]
fn networks_and_cidrs() {
    run(NETWORK);
}

#[test]
fn databases_and_caches() {
    run(DATA);
}

#[test]
fn registries_secrets_and_yaml_shapes() {
    run(NAMED);
}

#[test]
fn references() {
    run(REFERENCES);
}

#[test]
fn apps_and_connections() {
    run(APPS);
}

#[test]
fn many_errors_in_one_spec() {
    run(MANY);
}

#[test]
fn the_corpus_is_large_enough() {
    let all = [
        IDENTITY,
        DEPENDENCIES,
        CLUSTER,
        NETWORK,
        DATA,
        NAMED,
        REFERENCES,
        APPS,
        MANY,
    ];
    assert!(all.iter().map(|c| c.len()).sum::<usize>() >= 60);
}
