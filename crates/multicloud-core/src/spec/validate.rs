//! Validation of a [`StackSpec`]: every rule runs, every error is collected, each names the
//! field path it is about (`spec.cluster.node_pools[0].max`).

use std::fmt;

use super::StackSpec;

/// Which rule a [`ValidationError`] broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rule {
    /// A required value is empty or missing.
    Required,
    /// A name breaks a naming rule (charset, length, shape).
    Name,
    /// A value has the wrong format (Kubernetes version, region, duration…).
    Format,
    /// A number is out of its allowed range.
    Range,
    /// `min` is greater than `max`.
    MinMax,
    /// A CIDR does not parse.
    Cidr,
    /// A subnet lies outside the network's range.
    CidrOutside,
    /// Two subnets overlap.
    CidrOverlap,
    /// A reference names something not declared (a secret, a registry).
    UnknownReference,
    /// Two items share a name that must be unique.
    Duplicate,
    /// A combination the stack does not support (a cluster without a network…).
    Unsupported,
}

/// One problem in a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// Field path, `spec.cluster.node_pools[0].max`.
    pub path: String,
    /// The rule broken.
    pub rule: Rule,
    /// What is wrong, for a person.
    pub message: String,
}

impl ValidationError {
    /// A new error at `path`.
    pub fn new(path: impl Into<String>, rule: Rule, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            rule,
            message: message.into(),
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every problem found in a spec (never empty when returned as an error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecErrors {
    errors: Vec<ValidationError>,
}

impl SpecErrors {
    /// Wraps a list of errors.
    pub fn new(errors: Vec<ValidationError>) -> Self {
        Self { errors }
    }
    /// The errors, in the order found.
    pub fn errors(&self) -> &[ValidationError] {
        &self.errors
    }
    /// The error at `path`, if any.
    pub fn at(&self, path: &str) -> Option<&ValidationError> {
        self.errors.iter().find(|e| e.path == path)
    }
    /// Number of errors.
    pub fn len(&self) -> usize {
        self.errors.len()
    }
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }
}

impl fmt::Display for SpecErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the stack spec has {} error(s):", self.errors.len())?;
        for e in &self.errors {
            write!(f, "\n  - {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SpecErrors {}

/// Naming rules of one cloud, supplied by its provider and checked before any API call.
pub trait NamingRules: Send + Sync {
    /// The cloud these rules are for (`aws`, `azure`).
    fn cloud(&self) -> &str;
    /// Appends an error for every name in `spec` that this cloud would reject.
    fn check(&self, spec: &StackSpec, errors: &mut Vec<ValidationError>);
}

/// Runs the cloud-independent rules, then `rules` if given.
pub fn validate(spec: &StackSpec, rules: Option<&dyn NamingRules>) -> Result<(), SpecErrors> {
    let mut errors = Vec::new();
    if spec.name.is_empty() {
        errors.push(ValidationError::new("spec.name", Rule::Required, "must not be empty"));
    }
    if let Some(rules) = rules {
        rules.check(spec, &mut errors);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(SpecErrors::new(errors))
    }
}
