//! [`StackSpec::from_yaml`](super::StackSpec::from_yaml): parse, fill in what a short spec
//! leaves out, validate; every error at its line and column, named by its field path.
//!
//! The parser's own positions are right for what it meets at a node (a wrong type, an
//! unknown key); what is found wrong only after a node is read (a missing field, a value
//! that does not parse, such as `ttl: 4x`) gets the position of the node the error's field
//! path names ([`locate`](super::locate)), and so do the validation errors. An unknown field
//! or variant says which expected one it most likely meant.

use serde_path_to_error::Segment;

use super::locate::{Step, Want, locate, steps};
use super::validate::{NamingRules, SpecErrors, ValidationError};
use super::{SpecError, StackSpec};

/// Parses `text`, derives what a short spec leaves out (a network's subnets from its
/// range), and validates the result.
pub(super) fn from_yaml(text: &str) -> Result<StackSpec, SpecError> {
    let spec = StackSpec::parse_yaml(text)?;
    spec.validate()
        .map_err(|errors| SpecError::Invalid(errors.located_in(text)))?;
    Ok(spec)
}

impl StackSpec {
    /// [`StackSpec::from_yaml`] checked against the cloud-neutral rules and every one of
    /// `clouds`' naming rules in one pass: every error of every rule set at once (a missing
    /// network and a bad AKS pool name together), each once, with its field path, line and
    /// column. What the tools run before any request.
    pub fn from_yaml_for(text: &str, clouds: &[&dyn NamingRules]) -> Result<Self, SpecError> {
        let spec = StackSpec::parse_yaml(text)?;
        let mut errors: Vec<ValidationError> = match spec.validate() {
            Ok(()) => Vec::new(),
            Err(e) => e.errors().to_vec(),
        };
        for rules in clouds {
            for e in spec
                .validate_for(*rules)
                .err()
                .iter()
                .flat_map(|e| e.errors())
            {
                if !errors
                    .iter()
                    .any(|known| known.path == e.path && known.message == e.message)
                {
                    errors.push(e.clone());
                }
            }
        }
        if errors.is_empty() {
            return Ok(spec);
        }
        Err(SpecError::Invalid(SpecErrors::new(errors).located_in(text)))
    }

    /// [`StackSpec::from_yaml`] without the validation: the spec as written, with what a
    /// short spec leaves out derived (to run a cloud's rules on a spec the neutral rules
    /// refuse, say). Locate its validation errors with [`SpecErrors::located_in`].
    pub fn parse_yaml(text: &str) -> Result<Self, SpecError> {
        let de = serde_yaml_ng::Deserializer::from_str(text);
        let mut spec: StackSpec =
            serde_path_to_error::deserialize(de).map_err(|e| yaml_error(text, e))?;
        if let Some(network) = spec.network.as_mut() {
            super::subnets::fill(network);
        }
        Ok(spec)
    }
}

impl SpecErrors {
    /// These errors, each with the line and column of its field in `text`, the YAML the
    /// spec was parsed from (or of the nearest field it has).
    #[must_use]
    pub fn located_in(self, text: &str) -> Self {
        let errors = self
            .errors()
            .iter()
            .cloned()
            .map(|mut e| {
                e.location = locate(text, &steps(&e.path), Want::Value);
                e
            })
            .collect();
        SpecErrors::new(errors)
    }
}

/// The [`SpecError::Yaml`] of a parse error: the field path, the parser's message (with a
/// suggestion for an unknown name) and the position of what is wrong.
fn yaml_error(text: &str, e: serde_path_to_error::Error<serde_yaml_ng::Error>) -> SpecError {
    let path: Vec<Step> = e
        .path()
        .iter()
        .filter_map(|s| match s {
            Segment::Map { key } => Some(Step::Key(key.clone())),
            Segment::Enum { variant } => Some(Step::Key(variant.clone())),
            Segment::Seq { index } => Some(Step::Index(*index)),
            Segment::Unknown => None,
        })
        .collect();
    let inner = e.into_inner();
    let own = inner.location().map(|l| (l.line(), l.column()));
    let bare = bare_message(&inner.to_string(), own);
    let location = if bare.starts_with("unknown field") {
        own
    } else if bare.starts_with("missing field") {
        locate(text, &path, Want::Key).or(own)
    } else if path.is_empty() {
        own
    } else {
        locate(text, &path, Want::Value).or(own)
    };
    let hint = suggestion(&bare)
        .map(|name| format!("; did you mean `{name}`?"))
        .unwrap_or_default();
    SpecError::Yaml {
        location,
        message: format!("{}: {bare}{hint}", display(&path)),
    }
}

/// `spec.apps[0].image` for the steps `apps`, `0`, `image`.
fn display(path: &[Step]) -> String {
    let mut out = String::from("spec");
    for step in path {
        match step {
            Step::Key(key) => {
                out.push('.');
                out.push_str(key);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// The parser's message without its position (` at line L column C`) and its own path
/// prefix (`network: `), both given separately.
fn bare_message(message: &str, location: Option<(usize, usize)>) -> String {
    let mut message = message;
    if let Some((line, column)) = location {
        message = message
            .strip_suffix(&format!(" at line {line} column {column}"))
            .unwrap_or(message);
    }
    if let Some((prefix, rest)) = message.split_once(": ")
        && !prefix.contains(char::is_whitespace)
    {
        message = rest;
    }
    message.to_owned()
}

/// For `unknown field `x`, expected one of `a`, `b`` (or `unknown variant`), the expected
/// name closest to `x`, if one is close enough to be a typo of it.
fn suggestion(message: &str) -> Option<&str> {
    let rest = message
        .strip_prefix("unknown field `")
        .or_else(|| message.strip_prefix("unknown variant `"))?;
    let (given, expected) = rest.split_once('`')?;
    let candidates = expected.split('`').skip(1).step_by(2);
    let (best, distance) = candidates
        .map(|c| (c, edit_distance(given, c)))
        .min_by_key(|(_, d)| *d)?;
    (distance <= (given.chars().count() / 3).max(2)).then_some(best)
}

/// The Levenshtein distance of `a` and `b` (insertions, deletions, substitutions).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_get_the_closest_expected_name() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        let message =
            "unknown field `storage_size`, expected one of `version`, `storage_gb`, `tier`";
        assert_eq!(suggestion(message), Some("storage_gb"));
        let message = "unknown variant `singel`, expected `per_zone` or `single`";
        assert_eq!(suggestion(message), Some("single"));
        // Nothing close: no guess.
        let message = "unknown field `colour`, expected `name` or `id`";
        assert_eq!(suggestion(message), None);
        assert_eq!(suggestion("invalid type: string"), None);
    }

    #[test]
    fn the_parsers_position_and_path_are_taken_off_its_message() {
        let text = "network: missing field `zones` at line 3 column 4";
        assert_eq!(bare_message(text, Some((3, 4))), "missing field `zones`");
        let text = "invalid type: string \"x\", expected u32 at line 1 column 2";
        assert_eq!(
            bare_message(text, Some((1, 2))),
            "invalid type: string \"x\", expected u32"
        );
    }
}
