//! Cloud naming rules through `StackSpec::validate_for`, with rules written outside core from
//! its public toolkit (`NamingReport`, `shape`, `STACK_NAME`, `ENVIRONMENT`). Each cloud's own
//! rules are tested in its crate (`multicloud-aws`, `multicloud-azure`).

use multicloud_core::spec::shape::{A_LOWER, LOWER_ALNUM, Shape};
use multicloud_core::spec::{
    ENVIRONMENT, NamingReport, NamingRules, RegistrySpec, Rule, STACK_NAME, StackSpec,
    ValidationError,
};
use multicloud_core::testing::MemoryNaming;

use super::{bad_for, example, good_for, one_zone_database, pool};

/// Rules of a made-up cloud: pool names are lowercase letters and digits, registries follow
/// the ECR / ACR repository pattern, and a name derived from the stack's identity
/// (`<stack><env>`) is at most 12 characters.
struct TestRules;

const TEST_POOL: Shape = Shape::new(1, 12, LOWER_ALNUM).starts_with(A_LOWER);

impl NamingRules for TestRules {
    fn cloud(&self) -> &str {
        "test"
    }
    fn check(&self, spec: &StackSpec, errors: &mut Vec<ValidationError>) {
        let mut r = NamingReport::new(errors);
        if STACK_NAME.problems(&spec.name).is_empty()
            && ENVIRONMENT.problems(&spec.environment).is_empty()
            && spec.name.len() + spec.environment.len() > 12
        {
            r.push(
                "spec.name".into(),
                Rule::Name,
                "derived name is too long".into(),
            );
        }
        for (i, reg) in spec.registries.iter().enumerate() {
            r.repository(format!("spec.registries[{i}].name"), "Test", &reg.name, 2);
        }
        if let Some(cluster) = &spec.cluster {
            for (i, pool) in cluster.node_pools.iter().enumerate() {
                r.shape(
                    &TEST_POOL,
                    format!("spec.cluster.node_pools[{i}].name"),
                    "pool name",
                    &pool.name,
                );
            }
        }
    }
}

const TEST: Option<&dyn NamingRules> = Some(&TestRules);

#[test]
fn rules_written_outside_core_run_after_the_common_rules() {
    good_for(TEST, |_| {});
    let message = bad_for(
        TEST,
        |s| pool(s).name = "general-1".into(),
        "spec.cluster.node_pools[0].name",
        Rule::Name,
    );
    assert!(message.contains("`general-1`"), "{message}");
    // Fine for the common rules, too long for the made-up cloud.
    good_for(None, |s| s.environment = "pr-123456".into());
    bad_for(
        TEST,
        |s| s.environment = "pr-123456".into(),
        "spec.name",
        Rule::Name,
    );
    // A stack name the common rules reject gets their message only.
    let message = bad_for(
        TEST,
        |s| s.name = "Shop-with-a-long-name".into(),
        "spec.name",
        Rule::Name,
    );
    assert!(message.starts_with("stack name"), "{message}");
    // An empty registry name is the common rules' error (required), not a second one.
    bad_for(
        TEST,
        |s| s.registries.push(RegistrySpec::new("")),
        "spec.registries[1].name",
        Rule::Required,
    );
    let message = bad_for(
        TEST,
        |s| s.registries.push(RegistrySpec::new("Shop")),
        "spec.registries[1].name",
        Rule::Name,
    );
    assert!(
        message.starts_with("Test repository name `Shop`"),
        "{message}"
    );
    let errors = example()
        .validate_for(&TestRules)
        .err()
        .map(|e| e.to_string());
    assert_eq!(errors, None);
}

#[test]
fn memory_naming_adds_no_rule() {
    assert_eq!(MemoryNaming.cloud(), "memory");
    good_for(Some(&MemoryNaming), |s| {
        s.region = "anywhere-1".into();
        pool(s).name = "Any_Pool".into();
    });
}

#[test]
fn a_one_zone_database_suits_the_common_rules() {
    // Some clouds need two zones for a database (AWS: an RDS DB subnet group); the common
    // rules do not.
    good_for(None, one_zone_database);
}
