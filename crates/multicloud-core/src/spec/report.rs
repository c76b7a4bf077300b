//! [`NamingReport`]: how a cloud's [`NamingRules`](super::NamingRules) append their errors.

use super::clouds::Resolved;
use super::shape::{Shape, repository_problem};
use super::validate::{Rule, ValidationError};

/// Appends naming errors to the list [`NamingRules::check`](super::NamingRules::check) is
/// given, skipping paths that already have an error.
///
/// The cloud-independent rules run first, so a value they already reject gets one message,
/// not two. Empty values are left to the cloud-independent rules too (they report them as
/// [`Rule::Required`]).
///
/// ```
/// use multicloud_core::spec::shape::{A_LOWER, LOWER_ALNUM, Shape};
/// use multicloud_core::spec::{NamingReport, NamingRules, Rule, StackSpec, ValidationError};
///
/// /// Regions are lowercase letters and digits (`westeurope`).
/// const REGION: Shape = Shape::new(1, usize::MAX, LOWER_ALNUM).rule(Rule::Format);
///
/// struct ExampleRules;
///
/// impl NamingRules for ExampleRules {
///     fn cloud(&self) -> &str {
///         "example"
///     }
///     fn check(&self, spec: &StackSpec, errors: &mut Vec<ValidationError>) {
///         let mut report = NamingReport::new(errors);
///         report.shape(&REGION, "spec.region".into(), "region", &spec.region);
///         for (i, reg) in spec.registries.iter().enumerate() {
///             report.repository(format!("spec.registries[{i}].name"), "Example", &reg.name, 2);
///         }
///     }
/// }
///
/// let spec = StackSpec::builder("shop").region("west-europe").build_unchecked();
/// let errors = spec.validate_for(&ExampleRules).expect_err("a hyphen is not allowed");
/// assert_eq!(errors.at("spec.region").map(|e| e.rule), Some(Rule::Format));
/// ```
#[derive(Debug)]
pub struct NamingReport<'a> {
    errors: &'a mut Vec<ValidationError>,
}

impl<'a> NamingReport<'a> {
    /// A report appending to `errors`.
    pub fn new(errors: &'a mut Vec<ValidationError>) -> Self {
        Self { errors }
    }

    /// Whether `path` already has an error.
    pub fn has(&self, path: &str) -> bool {
        self.errors.iter().any(|e| e.path == path)
    }

    /// Appends an error at `path`, unless `path` already has one.
    pub fn push(&mut self, path: String, rule: Rule, message: String) {
        if !self.has(&path) {
            self.errors.push(ValidationError::new(path, rule, message));
        }
    }

    /// Checks `value` against `shape` (see [`Shape::check`]; `what` names the value in the
    /// message); empty values and paths that already have an error are skipped.
    pub fn shape(&mut self, shape: &Shape, path: String, what: &str, value: &str) {
        if value.is_empty() || self.has(&path) {
            return;
        }
        if let Some(error) = shape.check(&path, what, value) {
            self.errors.push(error);
        }
    }

    /// Checks a container repository name (ECR and ACR share the pattern, see
    /// [`repository_problem`]): `min` to 256 characters; `cloud` names the registry service
    /// in the message (`ECR`). Empty names are skipped. Breaches are [`Rule::Name`].
    pub fn repository(&mut self, path: String, cloud: &str, name: &str, min: usize) {
        if name.is_empty() {
            return;
        }
        let len = name.chars().count();
        let problem = if !(min..=256).contains(&len) {
            Some(format!("is {len} characters long; {min} to 256 allowed"))
        } else {
            repository_problem(name)
        };
        if let Some(problem) = problem {
            self.push(
                path,
                Rule::Name,
                format!("{cloud} repository name `{name}` {problem}"),
            );
        }
    }

    /// Checks a value the user gave for `cloud` (`fields`: the single-cloud field and the
    /// override, for the hint); values from the neutral tables are right by construction.
    pub fn resolved(
        &mut self,
        cloud: &str,
        value: &Resolved,
        ok: fn(&str) -> bool,
        expected: &str,
        fields: (&str, &str),
    ) {
        if value.source.is_given() {
            let expected = format!("{expected}{}", value.hint(cloud, fields.0, fields.1));
            self.instance_type(value.path.clone(), Some(&value.value), ok, &expected);
        }
    }

    /// Checks that `value` (if set and not empty) is an instance type accepted by `ok`;
    /// otherwise reports [`Rule::Format`] with "does not look like `expected`"
    /// (`an EC2 instance type such as \`t3.medium\``).
    pub fn instance_type(
        &mut self,
        path: String,
        value: Option<&str>,
        ok: fn(&str) -> bool,
        expected: &str,
    ) {
        if let Some(value) = value.filter(|v| !v.is_empty())
            && !ok(value)
        {
            self.push(
                path,
                Rule::Format,
                format!("`{value}` does not look like {expected}"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::shape::{A_LOWER, LOWER_ALNUM};

    #[test]
    fn a_path_gets_one_error() {
        let mut errors = vec![ValidationError::new(
            "spec.a",
            Rule::Required,
            "a is required",
        )];
        let mut r = NamingReport::new(&mut errors);
        assert!(r.has("spec.a") && !r.has("spec.b"));
        r.push("spec.a".into(), Rule::Name, "again".into());
        r.push("spec.b".into(), Rule::Name, "b is bad".into());
        r.push("spec.b".into(), Rule::Format, "b is bad twice".into());
        let shape = Shape::new(1, 3, LOWER_ALNUM).starts_with(A_LOWER);
        r.shape(&shape, "spec.c".into(), "c", "");
        r.shape(&shape, "spec.d".into(), "d", "abc");
        r.shape(&shape, "spec.e".into(), "e", "1bcd");
        r.repository("spec.f".into(), "ECR", "a", 2);
        r.repository("spec.g".into(), "ACR", "a", 1);
        r.repository("spec.h".into(), "ACR", "", 1);
        r.instance_type("spec.i".into(), Some("t3"), |v| v.contains('.'), "a type");
        r.instance_type("spec.j".into(), None, |_| false, "a type");
        r.instance_type("spec.k".into(), Some(""), |_| false, "a type");
        let got: Vec<(&str, Rule)> = errors.iter().map(|e| (e.path.as_str(), e.rule)).collect();
        assert_eq!(
            got,
            vec![
                ("spec.a", Rule::Required),
                ("spec.b", Rule::Name),
                ("spec.e", Rule::Name),
                ("spec.f", Rule::Name),
                ("spec.i", Rule::Format),
            ]
        );
        assert_eq!(
            errors[3].message,
            "ECR repository name `a` is 1 characters long; 2 to 256 allowed"
        );
        assert_eq!(errors[4].message, "`t3` does not look like a type");
    }
}
