//! Spec validation: every cloud-independent rule with a good and a bad case (exact path and
//! rule), errors reported together, YAML loading, and cloud naming rules written
//! outside core (each cloud's own rules are tested in its crate).

use std::time::Duration;

use multicloud_core::spec::{Network, Postgres, RegistrySpec, Rule, SecretSpec, StackSpec};
use multicloud_core::testing::example_spec as example;
use multicloud_core::testing::spec_checks::*;

#[path = "spec_validation/apps.rs"]
mod apps;
#[path = "spec_validation/cloud.rs"]
mod cloud;
#[path = "spec_validation/clouds.rs"]
mod clouds;
#[path = "spec_validation/existing.rs"]
mod existing;
#[path = "spec_validation/resources.rs"]
mod resources;
#[path = "spec_validation/yaml.rs"]
mod yaml;
#[path = "spec_validation/yaml_forms.rs"]
mod yaml_forms;

/// The example changed by `change` is valid.
#[track_caller]
fn good(change: impl FnOnce(&mut StackSpec)) {
    good_for(None, change);
}

/// The example changed by `change` has exactly one error, at `path` for `rule`; returns its
/// message.
#[track_caller]
fn bad(change: impl FnOnce(&mut StackSpec), path: &str, rule: Rule) -> String {
    bad_for(None, change, path, rule)
}

fn network(spec: &mut StackSpec) -> &mut Network {
    spec.network.as_mut().expect("network")
}

fn database(spec: &mut StackSpec) -> &mut Postgres {
    spec.database.as_mut().expect("database")
}

// ---- the example ----

#[test]
fn the_issue_example_builds_cleanly() {
    // `example()` is the issue's example as the builder writes it
    // (`multicloud_core::testing::example_spec`); `build` is `validate` and the spec.
    example().validate().expect("the example is valid");
}

#[test]
fn several_problems_are_reported_together() {
    let spec = changed(|s| {
        s.name = "Shop".into();
        pool(s).min = 6;
        network(s).private_subnets[1] = "10.9.0.0/20".into();
        s.apps[0].env_from_secrets[0].secret = "db-pass".into();
        database(s).username = "postgres".into();
        s.ttl = Some(Duration::from_secs(60));
    });
    let errors = spec.validate().expect_err("six problems");
    assert_eq!(
        pairs(&errors),
        vec![
            ("spec.name".to_string(), Rule::Name),
            (
                "spec.network.private_subnets[1]".to_string(),
                Rule::CidrOutside
            ),
            ("spec.cluster.node_pools[0].min".to_string(), Rule::MinMax),
            ("spec.database.username".to_string(), Rule::Name),
            (
                "spec.apps[0].env_from_secrets[0].secret".to_string(),
                Rule::UnknownReference
            ),
            ("spec.ttl".to_string(), Rule::Range),
        ],
        "{errors}"
    );
    assert_eq!(errors.len(), 6);
    let text = errors.to_string();
    assert!(text.starts_with("the stack spec has 6 error(s):"), "{text}");
    for bad_value in [
        "`Shop`",
        "10.9.0.0/20",
        "min 6",
        "`postgres`",
        "`db-pass`",
        "1m",
    ] {
        assert!(text.contains(bad_value), "{bad_value} missing from {text}");
    }
}

// ---- stack identity ----

#[test]
fn stack_name_is_required() {
    good(|s| s.name = "s".into());
    bad(|s| s.name.clear(), "spec.name", Rule::Required);
}

#[test]
fn stack_name_is_at_most_20_characters() {
    good(|s| s.name = "a".repeat(20));
    bad(|s| s.name = "a".repeat(21), "spec.name", Rule::Name);
}

#[test]
fn stack_name_is_lowercase_letters_digits_and_hyphens() {
    good(|s| s.name = "shop-2".into());
    let message = bad(|s| s.name = "Shop".into(), "spec.name", Rule::Name);
    assert!(message.contains("`Shop`"), "{message}");
    bad(|s| s.name = "shop_api".into(), "spec.name", Rule::Name);
}

#[test]
fn stack_name_starts_with_a_letter() {
    good(|s| s.name = "s1".into());
    bad(|s| s.name = "1shop".into(), "spec.name", Rule::Name);
}

#[test]
fn stack_name_does_not_end_with_a_hyphen_or_hold_two() {
    good(|s| s.name = "my-shop".into());
    bad(|s| s.name = "shop-".into(), "spec.name", Rule::Name);
    bad(|s| s.name = "my--shop".into(), "spec.name", Rule::Name);
}

#[test]
fn environment_has_the_name_charset_and_length() {
    good(|s| s.environment = "1".into());
    good(|s| s.environment = "e".repeat(20));
    bad(
        |s| s.environment.clear(),
        "spec.environment",
        Rule::Required,
    );
    bad(
        |s| s.environment = "PR-1".into(),
        "spec.environment",
        Rule::Name,
    );
    bad(
        |s| s.environment = "e".repeat(21),
        "spec.environment",
        Rule::Name,
    );
    bad(
        |s| s.environment = "pr_1".into(),
        "spec.environment",
        Rule::Name,
    );
}

#[test]
fn region_is_lowercase_letters_digits_and_hyphens() {
    good(|s| s.region = "westeurope".into());
    bad(|s| s.region.clear(), "spec.region", Rule::Required);
    bad(
        |s| s.region = "us east 1".into(),
        "spec.region",
        Rule::Format,
    );
}

// ---- what needs what ----

#[test]
fn cluster_database_and_cache_need_a_network() {
    good(|s| {
        s.network = None;
        s.cluster = None;
        s.database = None;
        s.cache = None;
        s.apps.clear();
        s.workload_identities.clear();
    });
    let message = bad(|s| s.network = None, "spec.network", Rule::Unsupported);
    assert!(
        message.contains("a cluster, a database and a cache need a network"),
        "{message}"
    );
    bad(
        |s| {
            s.network = None;
            s.cluster = None;
            s.database = None;
            s.apps.clear();
            s.workload_identities.clear();
        },
        "spec.network",
        Rule::Unsupported,
    );
}

#[test]
fn apps_and_workload_identities_need_a_cluster() {
    good(|s| {
        s.cluster = None;
        s.apps.clear();
        s.workload_identities.clear();
    });
    bad(|s| s.cluster = None, "spec.cluster", Rule::Unsupported);
    bad(
        |s| {
            s.cluster = None;
            s.apps.clear();
        },
        "spec.cluster",
        Rule::Unsupported,
    );
}

// ---- registries ----

#[test]
fn registry_name_is_required() {
    good(|s| s.registries.push(RegistrySpec::new("shop-web")));
    bad(
        |s| s.registries.push(RegistrySpec::new("")),
        "spec.registries[1].name",
        Rule::Required,
    );
}

#[test]
fn registry_names_are_unique() {
    bad(
        |s| s.registries.push(RegistrySpec::new("shop-api")),
        "spec.registries[1].name",
        Rule::Duplicate,
    );
}

#[test]
fn registry_keeps_at_least_one_image() {
    good(|s| s.registries[0].keep_images = 1);
    bad(
        |s| s.registries[0].keep_images = 0,
        "spec.registries[0].keep_images",
        Rule::Range,
    );
}

// ---- secrets ----

#[test]
fn secret_names_are_1_to_64_lowercase_starting_with_a_letter() {
    good(|s| s.secrets.push(SecretSpec::generated("api-key-2", 64)));
    good(|s| s.secrets.push(SecretSpec::generated("k".repeat(64), 64)));
    bad(
        |s| s.secrets.push(SecretSpec::generated("", 32)),
        "spec.secrets[1].name",
        Rule::Required,
    );
    bad(
        |s| s.secrets.push(SecretSpec::generated("k".repeat(65), 32)),
        "spec.secrets[1].name",
        Rule::Name,
    );
    bad(
        |s| s.secrets.push(SecretSpec::generated("Api-Key", 32)),
        "spec.secrets[1].name",
        Rule::Name,
    );
    bad(
        |s| s.secrets.push(SecretSpec::generated("api_key", 32)),
        "spec.secrets[1].name",
        Rule::Name,
    );
    bad(
        |s| s.secrets.push(SecretSpec::generated("1key", 32)),
        "spec.secrets[1].name",
        Rule::Name,
    );
}

#[test]
fn secret_names_are_unique() {
    bad(
        |s| {
            s.secrets
                .push(SecretSpec::from_env("api-token", "API_TOKEN"))
        },
        "spec.secrets[1].name",
        Rule::Duplicate,
    );
}

#[test]
fn generated_secret_length_is_16_to_4096() {
    good(|s| s.secrets[0] = SecretSpec::generated("api-token", 16));
    good(|s| s.secrets[0] = SecretSpec::generated("api-token", 4096));
    let path = "spec.secrets[0].source.generated.length";
    bad(
        |s| s.secrets[0] = SecretSpec::generated("api-token", 15),
        path,
        Rule::Range,
    );
    bad(
        |s| s.secrets[0] = SecretSpec::generated("api-token", 4097),
        path,
        Rule::Range,
    );
}

#[test]
fn from_env_secret_names_a_valid_variable() {
    good(|s| s.secrets.push(SecretSpec::from_env("api-key", "_API_KEY2")));
    let path = "spec.secrets[1].source.from_env.var";
    bad(
        |s| s.secrets.push(SecretSpec::from_env("api-key", "")),
        path,
        Rule::Required,
    );
    bad(
        |s| s.secrets.push(SecretSpec::from_env("api-key", "API-KEY")),
        path,
        Rule::Name,
    );
    bad(
        |s| s.secrets.push(SecretSpec::from_env("api-key", "1KEY")),
        path,
        Rule::Name,
    );
}

// ---- ttl and tags ----

#[test]
fn ttl_is_5_minutes_to_90_days() {
    good(|s| s.ttl = None);
    good(|s| s.ttl = Some(Duration::from_secs(5 * 60)));
    good(|s| s.ttl = Some(Duration::from_secs(90 * 86_400)));
    bad(
        |s| s.ttl = Some(Duration::from_secs(5 * 60 - 1)),
        "spec.ttl",
        Rule::Range,
    );
    let message = bad(
        |s| s.ttl = Some(Duration::from_secs(91 * 86_400)),
        "spec.ttl",
        Rule::Range,
    );
    assert!(message.contains("91d"), "{message}");
}

#[test]
fn tag_keys_are_not_reserved() {
    good(|s| {
        s.tags.insert("team".into(), "payments".into());
    });
    bad(
        |s| {
            s.tags.insert("multicloud:stack".into(), "other".into());
        },
        r#"spec.tags["multicloud:stack"]"#,
        Rule::Name,
    );
}

#[test]
fn tag_keys_are_at_most_128_characters() {
    good(|s| {
        s.tags.insert("k".repeat(128), "v".into());
    });
    let key = "k".repeat(129);
    bad(
        |s| {
            s.tags.insert("k".repeat(129), "v".into());
        },
        &format!("spec.tags[\"{key}\"]"),
        Rule::Name,
    );
}

#[test]
fn tag_values_are_at_most_256_characters() {
    good(|s| {
        s.tags.insert("note".into(), "v".repeat(256));
    });
    bad(
        |s| {
            s.tags.insert("note".into(), "v".repeat(257));
        },
        r#"spec.tags["note"]"#,
        Rule::Range,
    );
}
