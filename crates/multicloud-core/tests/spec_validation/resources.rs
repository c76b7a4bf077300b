//! Network, cluster, database and cache.

use multicloud_core::spec::{Network, NodePool, Redis, Rule, StackSpec};

use super::{bad, database, good, network, pool};

// ---- network ----

#[test]
fn network_cidr_parses() {
    good(|s| {
        s.network = Some(Network::new(
            "192.168.0.0/16",
            &["192.168.0.0/24", "192.168.1.0/24"],
            &["192.168.16.0/20", "192.168.32.0/20"],
        ))
    });
    bad(
        |s| network(s).cidr = "10.0.0.0/33".into(),
        "spec.network.cidr",
        Rule::Cidr,
    );
    bad(
        |s| network(s).cidr = "10.0.0".into(),
        "spec.network.cidr",
        Rule::Cidr,
    );
    let message = bad(
        |s| network(s).cidr = "10.0.0.1/16".into(),
        "spec.network.cidr",
        Rule::Cidr,
    );
    assert!(message.contains("10.0.0.0/16"), "{message}");
}

#[test]
fn network_prefix_is_16_to_28() {
    good(|s| {
        s.network = Some(Network::new(
            "10.0.0.0/24",
            &["10.0.0.0/28", "10.0.0.16/28"],
            &["10.0.0.64/26", "10.0.0.128/26"],
        ))
    });
    bad(
        |s| network(s).cidr = "10.0.0.0/12".into(),
        "spec.network.cidr",
        Rule::Range,
    );
}

#[test]
fn subnets_parse() {
    bad(
        |s| network(s).private_subnets[1] = "10.0.32.0/40".into(),
        "spec.network.private_subnets[1]",
        Rule::Cidr,
    );
}

#[test]
fn subnets_lie_inside_the_network() {
    good(|s| network(s).public_subnets[0] = "10.0.255.0/24".into());
    let message = bad(
        |s| network(s).public_subnets[0] = "10.1.0.0/24".into(),
        "spec.network.public_subnets[0]",
        Rule::CidrOutside,
    );
    assert!(
        message.contains("10.1.0.0/24") && message.contains("10.0.0.0/16"),
        "{message}"
    );
}

#[test]
fn subnets_are_no_smaller_than_a_28() {
    good(|s| network(s).public_subnets[1] = "10.0.1.0/28".into());
    bad(
        |s| network(s).public_subnets[1] = "10.0.1.0/29".into(),
        "spec.network.public_subnets[1]",
        Rule::Range,
    );
}

#[test]
fn subnets_do_not_overlap() {
    good(|s| network(s).private_subnets[0] = "10.0.48.0/20".into());
    let message = bad(
        |s| network(s).private_subnets[0] = "10.0.0.0/20".into(),
        "spec.network.private_subnets[0]",
        Rule::CidrOverlap,
    );
    assert!(message.contains("10.0.0.0/20"), "{message}");
    assert!(
        message.contains("10.0.0.0/24") && message.contains("spec.network.public_subnets[0]"),
        "{message}"
    );
}

#[test]
fn a_cluster_needs_two_zones() {
    let one_zone = |s: &mut StackSpec| {
        s.network = Some(Network::new(
            "10.0.0.0/16",
            &["10.0.0.0/24"],
            &["10.0.16.0/20"],
        ));
    };
    good(|s| {
        one_zone(s);
        s.cluster = None;
        s.apps.clear();
        s.workload_identities.clear();
    });
    bad(one_zone, "spec.network.zones", Rule::Range);
}

#[test]
fn one_public_and_one_private_subnet_per_zone() {
    good(|s| {
        let net = network(s);
        net.zones = 3;
        net.public_subnets.push("10.0.2.0/24".into());
        net.private_subnets.push("10.0.48.0/20".into());
    });
    bad(
        |s| network(s).public_subnets.push("10.0.2.0/24".into()),
        "spec.network.public_subnets",
        Rule::Range,
    );
    bad(
        |s| network(s).private_subnets.truncate(1),
        "spec.network.private_subnets",
        Rule::Range,
    );
}

// ---- cluster ----

#[test]
fn cluster_version_is_1_dot_two_digit_minor() {
    good(|s| s.cluster.as_mut().expect("cluster").version = "1.30".into());
    for version in ["1.9", "v1.31", "1.31.0", "2.31", "1.3x", ""] {
        bad(
            |s| s.cluster.as_mut().expect("cluster").version = version.into(),
            "spec.cluster.version",
            Rule::Format,
        );
    }
}

#[test]
fn cluster_needs_a_node_pool() {
    bad(
        |s| s.cluster.as_mut().expect("cluster").node_pools.clear(),
        "spec.cluster.node_pools",
        Rule::Required,
    );
}

#[test]
fn node_pool_name_is_required() {
    good(|s| pool(s).name = "batch".into());
    bad(
        |s| pool(s).name.clear(),
        "spec.cluster.node_pools[0].name",
        Rule::Required,
    );
}

#[test]
fn node_pool_names_are_unique() {
    let add = |name: &str| {
        let name = name.to_string();
        move |s: &mut StackSpec| {
            let cluster = s.cluster.as_mut().expect("cluster");
            cluster
                .node_pools
                .push(NodePool::new(name, "t3.large", 0, 3));
        }
    };
    good(add("batch"));
    bad(
        add("general"),
        "spec.cluster.node_pools[1].name",
        Rule::Duplicate,
    );
}

#[test]
fn node_pool_instance_type_or_size_is_required() {
    good(|s| pool(s).instance_type = Some("m5.large".into()));
    bad(
        |s| pool(s).instance_type = Some(String::new()),
        "spec.cluster.node_pools[0].instance_type",
        Rule::Required,
    );
    let message = bad(
        |s| pool(s).instance_type = None,
        "spec.cluster.node_pools[0].size",
        Rule::Required,
    );
    assert!(message.contains("`general`"), "{message}");
}

#[test]
fn node_pool_max_is_at_least_one() {
    good(|s| {
        pool(s).min = 0;
        pool(s).max = 1;
    });
    bad(
        |s| {
            pool(s).min = 0;
            pool(s).max = 0;
        },
        "spec.cluster.node_pools[0].max",
        Rule::Range,
    );
}

#[test]
fn node_pool_min_is_at_most_max() {
    good(|s| pool(s).min = 5);
    let message = bad(
        |s| pool(s).min = 6,
        "spec.cluster.node_pools[0].min",
        Rule::MinMax,
    );
    assert!(message.contains('6') && message.contains('5'), "{message}");
}

#[test]
fn node_pool_desired_is_within_min_and_max() {
    good(|s| pool(s).desired = Some(3));
    bad(
        |s| pool(s).desired = Some(7),
        "spec.cluster.node_pools[0].desired",
        Rule::Range,
    );
    bad(
        |s| pool(s).desired = Some(1),
        "spec.cluster.node_pools[0].desired",
        Rule::Range,
    );
}

// ---- database ----

#[test]
fn database_version_is_a_major_number_from_11_to_17() {
    good(|s| database(s).version = "11".into());
    good(|s| database(s).version = "17".into());
    bad(
        |s| database(s).version = "16.2".into(),
        "spec.database.version",
        Rule::Format,
    );
    bad(
        |s| database(s).version = "sixteen".into(),
        "spec.database.version",
        Rule::Format,
    );
    bad(
        |s| database(s).version = "10".into(),
        "spec.database.version",
        Rule::Range,
    );
    bad(
        |s| database(s).version = "18".into(),
        "spec.database.version",
        Rule::Range,
    );
}

#[test]
fn database_storage_is_20_to_65536_gb() {
    good(|s| database(s).storage_gb = 65_536);
    bad(
        |s| database(s).storage_gb = 19,
        "spec.database.storage_gb",
        Rule::Range,
    );
    bad(
        |s| database(s).storage_gb = 65_537,
        "spec.database.storage_gb",
        Rule::Range,
    );
}

#[test]
fn database_name_is_a_postgres_identifier() {
    good(|s| database(s).database_name = "Shop_db2".into());
    bad(
        |s| database(s).database_name.clear(),
        "spec.database.database_name",
        Rule::Required,
    );
    bad(
        |s| database(s).database_name = "1shop".into(),
        "spec.database.database_name",
        Rule::Name,
    );
    bad(
        |s| database(s).database_name = "shop-db".into(),
        "spec.database.database_name",
        Rule::Name,
    );
    bad(
        |s| database(s).database_name = "d".repeat(64),
        "spec.database.database_name",
        Rule::Name,
    );
}

#[test]
fn database_username_is_a_postgres_identifier() {
    good(|s| database(s).username = "shop_admin".into());
    bad(
        |s| database(s).username = "shop-admin".into(),
        "spec.database.username",
        Rule::Name,
    );
    bad(
        |s| database(s).username = "_shop".into(),
        "spec.database.username",
        Rule::Name,
    );
}

#[test]
fn database_username_is_not_reserved() {
    good(|s| database(s).username = "administrator_x".into());
    for reserved in [
        "postgres",
        "admin",
        "rdsadmin",
        "azure_superuser",
        "azure_pg_admin",
        "root",
        "guest",
        "public",
        "Admin",
        "pg_monitor",
    ] {
        let message = bad(
            |s| database(s).username = reserved.into(),
            "spec.database.username",
            Rule::Name,
        );
        assert!(message.contains(reserved), "{message}");
    }
}

// ---- cache ----

#[test]
fn cache_version_looks_like_7_1_or_7() {
    good(|s| s.cache = Some(Redis::new("7")));
    good(|s| s.cache = Some(Redis::new("6.2")));
    for version in ["7.1.2", "latest", "7.", ".1", "v7"] {
        bad(
            |s| s.cache = Some(Redis::new(version)),
            "spec.cache.version",
            Rule::Format,
        );
    }
}

#[test]
fn cache_has_at_most_5_replicas() {
    good(|s| s.cache = Some(Redis::new("7.1").replicas(5)));
    bad(
        |s| s.cache = Some(Redis::new("7.1").replicas(6)),
        "spec.cache.replicas",
        Rule::Range,
    );
}
