//! Loading specs from YAML.

use multicloud_core::spec::SpecError;
use multicloud_core::spec::{Rule, StackSpec};

use super::example;

const SHOP_YAML: &str = include_str!("../../../../examples/stacks/shop.yaml");

#[test]
fn the_shop_yaml_equals_the_builder_example() {
    let spec = StackSpec::from_yaml(SHOP_YAML).expect("shop.yaml is valid");
    assert_eq!(spec, example());
}

#[test]
fn an_unknown_field_is_a_yaml_error_with_a_location() {
    let text = SHOP_YAML.replace(
        "  storage_gb: 20\n",
        "  storage_gb: 20\n  storage_size: 20\n",
    );
    assert_ne!(text, SHOP_YAML);
    match StackSpec::from_yaml(&text) {
        Err(SpecError::Yaml { location, message }) => {
            let (line, column) = location.expect("a location");
            let expected_line = text
                .lines()
                .position(|l| l.contains("storage_size"))
                .expect("the line")
                + 1;
            assert_eq!(line, expected_line, "{message}");
            assert!(column >= 1, "{message}");
            assert!(message.contains("storage_size"), "{message}");
        }
        other => panic!("expected SpecError::Yaml, got {other:?}"),
    }
}

#[test]
fn a_spec_that_parses_but_is_invalid_is_a_spec_error_listing_every_problem() {
    let text = SHOP_YAML
        .replace("name: shop\n", "name: Shop\n")
        .replace("      max: 5\n", "      max: 0\n")
        .replace("ttl: 4h", "ttl: 1m");
    match StackSpec::from_yaml(&text) {
        Err(SpecError::Invalid(errors)) => {
            let pairs: Vec<(&str, Rule)> = errors
                .errors()
                .iter()
                .map(|e| (e.path.as_str(), e.rule))
                .collect();
            assert_eq!(
                pairs,
                vec![
                    ("spec.name", Rule::Name),
                    ("spec.cluster.node_pools[0].max", Rule::Range),
                    ("spec.cluster.node_pools[0].min", Rule::MinMax),
                    ("spec.ttl", Rule::Range),
                ],
                "{errors}"
            );
            let text = SpecError::Invalid(errors).to_string();
            assert!(text.contains("spec.cluster.node_pools[0].max"), "{text}");
        }
        other => panic!("expected Error::Spec, got {other:?}"),
    }
}

#[test]
fn a_spec_round_trips_through_yaml() {
    let mut spec = example();
    spec.tags.insert("team".into(), "payments".into());
    spec.database.as_mut().expect("database").instance_class = Some("db.t3.micro".into());
    spec.apps[0] = spec.apps[0].clone().env("LOG_LEVEL", "debug").replicas(2);
    spec.apps
        .push(multicloud_core::spec::App::new("web").image("nginx:1.27"));
    spec.secrets
        .push(multicloud_core::spec::SecretSpec::from_env(
            "api-key", "API_KEY",
        ));
    let text = spec.to_yaml().expect("serialises");
    let back = StackSpec::from_yaml(&text).expect("parses back");
    assert_eq!(back, spec, "{text}");
}

#[test]
fn the_network_says_how_private_subnets_reach_the_internet() {
    use multicloud_core::spec::Nat;
    let with = |nat: &str| {
        SHOP_YAML.replace(
            "  private_subnets: [10.0.16.0/20, 10.0.32.0/20]\n",
            &format!("  private_subnets: [10.0.16.0/20, 10.0.32.0/20]\n  nat: {nat}\n"),
        )
    };
    let single = StackSpec::from_yaml(&with("single")).expect("valid");
    assert_eq!(single.network.as_ref().map(|n| n.nat), Some(Nat::Single));
    let per_zone = StackSpec::from_yaml(&with("per_zone")).expect("valid");
    assert_eq!(per_zone, example(), "per_zone is the default");
    match StackSpec::from_yaml(&with("everywhere")) {
        Err(SpecError::Yaml { location, message }) => {
            assert!(location.is_some(), "{message}");
            assert!(
                message.contains("per_zone") && message.contains("single"),
                "{message}"
            );
        }
        other => panic!("expected SpecError::Yaml, got {other:?}"),
    }
}
