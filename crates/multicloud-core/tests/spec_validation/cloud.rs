//! The AWS and Azure naming rules, through `StackSpec::validate_for`.

use multicloud_core::spec::{
    AwsNamingRules, AzureNamingRules, NamingRules, Network, Postgres, Redis, Rule, SecretSpec,
    StackSpec,
};

use super::{bad_for, example, good_for, pool};

const AWS: Option<&dyn NamingRules> = Some(&AwsNamingRules);
const AZURE: Option<&dyn NamingRules> = Some(&AzureNamingRules);

/// The example as an Azure stack (region and VM size in Azure's terms).
fn azure(spec: &mut StackSpec) {
    spec.region = "westeurope".into();
    pool(spec).instance_type = "Standard_D4s_v5".into();
}

/// Renames the registry (and the app's image reference to it).
fn rename_registry(spec: &mut StackSpec, name: &str) {
    spec.registries[0].name = name.into();
    spec.apps[0] = spec.apps[0].clone().image_from_registry(name, "v1");
}

// ---- AWS ----

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
    good_for(AWS, |s| pool(s).instance_type = "m7g.2xlarge".into());
    let path = "spec.cluster.node_pools[0].instance_type";
    bad_for(
        AWS,
        |s| pool(s).instance_type = "t3medium".into(),
        path,
        Rule::Format,
    );
    bad_for(
        AWS,
        |s| pool(s).instance_type = "Standard_D4s_v5".into(),
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
    let one_zone_database = |s: &mut StackSpec| {
        s.network = Some(Network::new(
            "10.0.0.0/16",
            &["10.0.0.0/24"],
            &["10.0.16.0/20"],
        ));
        s.cluster = None;
        s.apps.clear();
        s.workload_identities.clear();
    };
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

// ---- Azure ----

#[test]
fn azure_rules_accept_the_example_in_azure_terms() {
    assert_eq!(AzureNamingRules.cloud(), "azure");
    good_for(AZURE, azure);
}

#[test]
fn azure_region_names() {
    good_for(AZURE, |s| {
        azure(s);
        s.region = "eastus2".into();
    });
    let path = "spec.region";
    bad_for(
        AZURE,
        |s| {
            azure(s);
            s.region = "West Europe".into()
        },
        path,
        Rule::Format,
    );
    bad_for(
        AZURE,
        |s| {
            azure(s);
            s.region = "west-europe".into()
        },
        path,
        Rule::Format,
    );
}

#[test]
fn azure_agent_pool_names() {
    good_for(AZURE, |s| {
        azure(s);
        pool(s).name = "general2".into();
    });
    let path = "spec.cluster.node_pools[0].name";
    let message = bad_for(
        AZURE,
        |s| {
            azure(s);
            pool(s).name = "general-pool".into()
        },
        path,
        Rule::Name,
    );
    assert!(message.contains("general-pool"), "{message}");
    bad_for(
        AZURE,
        |s| {
            azure(s);
            pool(s).name = "generalpool12".into()
        },
        path,
        Rule::Name,
    );
    bad_for(
        AZURE,
        |s| {
            azure(s);
            pool(s).name = "1general".into()
        },
        path,
        Rule::Name,
    );
}

#[test]
fn azure_vm_sizes_and_database_skus() {
    let path = "spec.cluster.node_pools[0].instance_type";
    bad_for(
        AZURE,
        |s| {
            azure(s);
            pool(s).instance_type = "t3.medium".into()
        },
        path,
        Rule::Format,
    );
    good_for(AZURE, |s| {
        azure(s);
        s.database = Some(Postgres::new("16").instance_class("Standard_B1ms"));
    });
    bad_for(
        AZURE,
        |s| {
            azure(s);
            s.database = Some(Postgres::new("16").instance_class("db.t3.micro"));
        },
        "spec.database.instance_class",
        Rule::Format,
    );
}

#[test]
fn azure_key_vault_secret_names() {
    good_for(AZURE, |s| {
        azure(s);
        s.secrets.push(SecretSpec::generated("api-key", 32));
    });
    // Breaks the common rule too; reported once.
    bad_for(
        AZURE,
        |s| {
            azure(s);
            s.secrets.push(SecretSpec::generated("db_password", 32));
        },
        "spec.secrets[1].name",
        Rule::Name,
    );
}

#[test]
fn azure_reserves_administrator() {
    bad_for(
        AZURE,
        |s| {
            azure(s);
            s.database.as_mut().expect("database").username = "administrator".into();
        },
        "spec.database.username",
        Rule::Name,
    );
}

#[test]
fn azure_repository_names() {
    good_for(AZURE, |s| {
        azure(s);
        rename_registry(s, "team/api");
    });
    bad_for(
        AZURE,
        |s| {
            azure(s);
            rename_registry(s, "Shop-API");
        },
        "spec.registries[0].name",
        Rule::Name,
    );
}

#[test]
fn azure_tag_names() {
    bad_for(
        AZURE,
        |s| {
            azure(s);
            s.tags.insert("team/owner".into(), "x".into());
        },
        r#"spec.tags["team/owner"]"#,
        Rule::Name,
    );
}

#[test]
fn azure_derived_names_fit_short_and_long_stacks() {
    for (name, env) in [("a", "b"), ("a-very-long-stack-n", "a-long-environment-x")] {
        good_for(AZURE, |s| {
            azure(s);
            s.name = name.into();
            s.environment = env.into();
        });
    }
    assert_eq!(
        AzureNamingRules::registry_name("shop", "pr-1234"),
        "shoppr1234acr"
    );
    assert_eq!(
        AzureNamingRules::key_vault_name("shop", "pr-1234"),
        "shop-pr-1234-kv"
    );
}
