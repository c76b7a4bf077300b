//! The Azure naming rules, through `StackSpec::validate_for` (moved from multicloud-core's
//! spec-validation tests): every case is the issue's example in Azure's terms with one change,
//! with exactly one error at an exact path for an exact rule.

use multicloud_azure::naming::AzureNamingRules;
use multicloud_core::spec::{NamingRules, Postgres, Rule, SecretSpec, StackSpec};
use multicloud_core::testing::spec_checks::*;

const AZURE: Option<&dyn NamingRules> = Some(&AzureNamingRules);

#[path = "naming/one_spec.rs"]
mod one_spec;

/// The example as an Azure stack (region and VM size in Azure's terms).
fn azure(spec: &mut StackSpec) {
    spec.region = "westeurope".into();
    pool(spec).instance_type = Some("Standard_D4s_v5".into());
}

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
            pool(s).instance_type = Some("t3.medium".into())
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
    // The exact derived names are pinned by the unit test `naming::tests::derived_azure_names`.
}
