//! Assertions for spec-validation tests, shared by core and the provider crates: each case
//! is the example spec ([`example_spec`](super::example_spec)) with one change, checked
//! for being valid, or for exactly one error at an exact path for an exact rule.

use crate::spec::{NamingRules, NodePool, Rule, SpecErrors, StackSpec};

/// `(path, rule)` of every error.
pub fn pairs(errors: &SpecErrors) -> Vec<(String, Rule)> {
    errors
        .errors()
        .iter()
        .map(|e| (e.path.clone(), e.rule))
        .collect()
}

/// The example spec changed by `change`.
pub fn changed(change: impl FnOnce(&mut StackSpec)) -> StackSpec {
    let mut spec = super::example_spec();
    change(&mut spec);
    spec
}

/// Validates `spec` (with `rules` if given).
pub fn check(spec: &StackSpec, rules: Option<&dyn NamingRules>) -> Result<(), SpecErrors> {
    match rules {
        Some(rules) => spec.validate_for(rules),
        None => spec.validate(),
    }
}

/// Panics unless the example changed by `change` is valid (for `rules` if given).
#[track_caller]
pub fn good_for(rules: Option<&dyn NamingRules>, change: impl FnOnce(&mut StackSpec)) {
    if let Err(e) = check(&changed(change), rules) {
        panic!("expected a valid spec, got {e}");
    }
}

/// Panics unless the example changed by `change` has exactly one error, at `path` for
/// `rule` (for `rules` if given); returns its message.
#[track_caller]
pub fn bad_for(
    rules: Option<&dyn NamingRules>,
    change: impl FnOnce(&mut StackSpec),
    path: &str,
    rule: Rule,
) -> String {
    let errors = match check(&changed(change), rules) {
        Ok(()) => panic!("expected an invalid spec at {path}"),
        Err(errors) => errors,
    };
    assert_eq!(pairs(&errors), vec![(path.to_string(), rule)], "{errors}");
    let message = errors.errors()[0].message.clone();
    assert!(!message.is_empty());
    message
}

/// The first node pool of a spec that has a cluster.
#[track_caller]
pub fn pool(spec: &mut StackSpec) -> &mut NodePool {
    match spec.cluster.as_mut() {
        Some(c) => &mut c.node_pools[0],
        None => panic!("the spec has no cluster"),
    }
}

/// Renames the first registry (and the first app's image reference to it).
pub fn rename_registry(spec: &mut StackSpec, name: &str) {
    spec.registries[0].name = name.into();
    spec.apps[0] = spec.apps[0].clone().image_from_registry(name, "v1");
}

/// Gives the spec a network with one zone and only a database and cache on it (no cluster,
/// apps or workload identities): fine for the common rules, too small for some clouds'
/// database subnet groups.
pub fn one_zone_database(spec: &mut StackSpec) {
    spec.network = Some(crate::spec::Network::new(
        "10.0.0.0/16",
        &["10.0.0.0/24"],
        &["10.0.16.0/20"],
    ));
    spec.cluster = None;
    spec.apps.clear();
    spec.workload_identities.clear();
}
