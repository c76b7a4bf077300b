//! Loading the spec file: every error, each with its field path (and the YAML line and
//! column when the loader gives one), before anything is started or created.

use std::path::Path;

use multicloud_core::spec::{NamingRules, SpecError, StackSpec, ValidationError};

use crate::cli::Cloud;
use crate::exit::CliError;

/// One problem of a spec, for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Problem {
    /// Field path (`spec.cluster.node_pools[0].max`), if known.
    path: Option<String>,
    /// Line and column in the YAML, when the loader gives them.
    location: Option<(usize, usize)>,
    /// What is wrong.
    message: String,
    /// The clouds whose rules it breaks; empty when it breaks the cloud-neutral rules.
    clouds: Vec<Cloud>,
}

/// Reads and validates the spec at `path` for `clouds`: the cloud-neutral rules and each
/// cloud's naming rules. Any problem is [`CliError::InvalidSpec`] listing every one, each
/// with its line and column in the file.
pub fn load(path: &Path, clouds: &[Cloud]) -> Result<StackSpec, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?;
    let spec = match StackSpec::parse_yaml(&text) {
        Ok(spec) => spec,
        Err(SpecError::Yaml { location, message }) => {
            return Err(CliError::InvalidSpec(report(
                path,
                &[yaml_problem(location, message)],
            )));
        }
        Err(other) => {
            return Err(CliError::InvalidSpec(report(
                path,
                &[yaml_problem(None, other.to_string())],
            )));
        }
    };
    let mut problems: Vec<Problem> = match spec.validate() {
        Ok(()) => Vec::new(),
        Err(errors) => errors
            .located_in(&text)
            .errors()
            .iter()
            .map(|e| problem(e, None))
            .collect(),
    };
    for &cloud in clouds {
        if let Err(errors) = spec.validate_for(rules(cloud).as_ref()) {
            add_cloud_problems(&mut problems, errors.located_in(&text).errors(), cloud);
        }
    }
    if problems.is_empty() {
        Ok(spec)
    } else {
        Err(CliError::InvalidSpec(report(path, &problems)))
    }
}

/// The naming rules of `cloud`, as its provider checks them before any call.
fn rules(cloud: Cloud) -> Box<dyn NamingRules> {
    match cloud {
        Cloud::Aws => Box::new(multicloud_aws::naming::AwsNamingRules),
        Cloud::Azure => Box::new(multicloud_azure::naming::StackNamingRules::default()),
    }
}

fn yaml_problem(location: Option<(usize, usize)>, message: String) -> Problem {
    Problem {
        path: None,
        location,
        message,
        clouds: Vec::new(),
    }
}

fn problem(e: &ValidationError, cloud: Option<Cloud>) -> Problem {
    Problem {
        path: Some(e.path.clone()),
        location: e.location,
        message: e.message.clone(),
        clouds: cloud.into_iter().collect(),
    }
}

/// Adds the errors of `cloud`'s rules not already listed (the neutral ones come back from
/// every cloud's validation; one a second cloud shares names both clouds).
fn add_cloud_problems(problems: &mut Vec<Problem>, errors: &[ValidationError], cloud: Cloud) {
    for e in errors {
        let same =
            |p: &Problem| p.path.as_deref() == Some(e.path.as_str()) && p.message == e.message;
        match problems.iter_mut().find(|p| same(p)) {
            Some(p) if p.clouds.is_empty() || p.clouds.contains(&cloud) => {}
            Some(p) => p.clouds.push(cloud),
            None => problems.push(problem(e, Some(cloud))),
        }
    }
}

/// `<file>: the spec has N error(s):` and one line per problem:
/// `  <file>:<line>:<col>: <path>: <message> (<clouds>)`.
fn report(path: &Path, problems: &[Problem]) -> String {
    let file = path.display();
    let mut out = format!("{file}: the stack spec has {} error(s):", problems.len());
    for p in problems {
        out.push_str("\n  ");
        if let Some((line, column)) = p.location {
            out.push_str(&format!("{file}:{line}:{column}: "));
        }
        if let Some(path) = &p.path {
            out.push_str(path);
            out.push_str(": ");
        }
        out.push_str(&p.message);
        if !p.clouds.is_empty() {
            let names: Vec<&str> = p.clouds.iter().map(|c| c.name()).collect();
            out.push_str(&format!(" ({} naming rules)", names.join(", ")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str, clouds: &[Cloud]) -> Result<StackSpec, String> {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("stack.yaml");
        std::fs::write(&file, text).expect("write");
        load(&file, clouds).map_err(|e| e.to_string())
    }

    #[test]
    fn malformed_yaml_names_line_and_column() {
        let err = load_text("name: shop\nenvironment: [dev\n", &[Cloud::Aws]).expect_err("bad");
        assert!(err.contains("stack.yaml:"), "{err}");
        assert!(err.contains("1 error(s)"), "{err}");
        let located = err.lines().nth(1).expect("one problem");
        let parts: Vec<&str> = located.trim().splitn(4, ':').collect();
        assert!(
            parts[1].parse::<usize>().is_ok() && parts[2].parse::<usize>().is_ok(),
            "{err}"
        );
    }

    #[test]
    fn every_neutral_and_cloud_error_is_listed_with_its_path() {
        let text = "name: Shop_1\nenvironment: dev\nregion: us-east-1\n\
                    registries:\n  - name: A\nsecrets:\n  - name: db_password\n    source: !generated\n      length: 2\n";
        let err = load_text(text, &[Cloud::Aws, Cloud::Azure]).expect_err("invalid");
        for path in ["spec.name", "spec.registries[0].name", "spec.secrets[0]"] {
            assert!(err.contains(path), "{path} missing from:\n{err}");
        }
        assert!(err.contains("azure naming rules"), "{err}");
    }

    #[test]
    fn a_valid_spec_loads() {
        let spec = load_text(
            "name: shop\nenvironment: dev\nregion: us-east-1\n",
            &[Cloud::Aws],
        )
        .expect("valid");
        assert_eq!(spec.name, "shop");
    }
}
