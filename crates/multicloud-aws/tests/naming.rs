//! The AWS naming rules, through `StackSpec::validate_for` (moved from multicloud-core's
//! spec-validation tests): every case is the issue's example with one change, with exactly one
//! error at an exact path for an exact rule.

use multicloud_aws::naming::AwsNamingRules;
use multicloud_core::spec::{NamingRules, Postgres, Redis, Rule};
use multicloud_core::testing::example_spec as example;
use multicloud_core::testing::spec_checks::*;

const AWS: Option<&dyn NamingRules> = Some(&AwsNamingRules);

#[path = "naming/one_spec.rs"]
mod one_spec;

#[test]
fn aws_rules_accept_the_example() {
    assert_eq!(AwsNamingRules.cloud(), "aws");
    example()
        .validate_for(&AwsNamingRules)
        .expect("the example suits AWS");
}

#[test]
fn aws_region_names() {
    good_for(AWS, |s| s.region = "us-gov-west-1".into());
    good_for(AWS, |s| s.region = "ap-southeast-2".into());
    for region in [
        "US-East-1",
        "useast1",
        "mars-north-7x",
        "us-east-100",
        "westeurope",
    ] {
        let message = bad_for(
            AWS,
            |s| s.region = region.into(),
            "spec.region",
            Rule::Format,
        );
        assert!(message.contains(region), "{message}");
    }
}

#[test]
fn aws_ecr_repository_names() {
    good_for(AWS, |s| rename_registry(s, "team/shop_api.v2"));
    for name in ["Shop-API", "shop--api", "a", "shop/", "-shop"] {
        let message = bad_for(
            AWS,
            |s| rename_registry(s, name),
            "spec.registries[0].name",
            Rule::Name,
        );
        assert!(message.contains(name), "{message}");
    }
    bad_for(
        AWS,
        |s| rename_registry(s, &"r".repeat(250)),
        "spec.registries[0].name",
        Rule::Name,
    );
}

#[test]
fn aws_node_group_names() {
    good_for(AWS, |s| pool(s).name = "General_Pool-1".into());
    bad_for(
        AWS,
        |s| pool(s).name = "_general".into(),
        "spec.cluster.node_pools[0].name",
        Rule::Name,
    );
    bad_for(
        AWS,
        |s| pool(s).name = "n".repeat(64),
        "spec.cluster.node_pools[0].name",
        Rule::Name,
    );
}

#[test]
fn aws_instance_types() {
    good_for(AWS, |s| pool(s).instance_type = Some("m7g.2xlarge".into()));
    let path = "spec.cluster.node_pools[0].instance_type";
    bad_for(
        AWS,
        |s| pool(s).instance_type = Some("t3medium".into()),
        path,
        Rule::Format,
    );
    bad_for(
        AWS,
        |s| pool(s).instance_type = Some("Standard_D4s_v5".into()),
        path,
        Rule::Format,
    );

    good_for(AWS, |s| {
        s.database = Some(Postgres::new("16").instance_class("db.r6g.large"))
    });
    bad_for(
        AWS,
        |s| s.database = Some(Postgres::new("16").instance_class("t3.micro")),
        "spec.database.instance_class",
        Rule::Format,
    );

    good_for(AWS, |s| {
        s.cache = Some(Redis::new("7.1").node_type("cache.t4g.micro"))
    });
    bad_for(
        AWS,
        |s| s.cache = Some(Redis::new("7.1").node_type("t4g.micro")),
        "spec.cache.node_type",
        Rule::Format,
    );
}

#[test]
fn aws_database_needs_two_zones() {
    // Fine for the cloud-independent rules, not for an RDS DB subnet group.
    good_for(None, one_zone_database);
    good_for(AWS, |s| {
        one_zone_database(s);
        s.database = None;
    });
    bad_for(AWS, one_zone_database, "spec.network.zones", Rule::Range);
}

#[test]
fn aws_reserves_aws_tags() {
    good_for(AWS, |s| {
        s.tags.insert("cost-center".into(), "42".into());
    });
    bad_for(
        AWS,
        |s| {
            s.tags.insert("aws:cost".into(), "42".into());
        },
        r#"spec.tags["aws:cost"]"#,
        Rule::Name,
    );
}
