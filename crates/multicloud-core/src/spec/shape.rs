//! Name-shape checks shared by the cloud-independent rules ([`super::validate`]) and the
//! per-cloud naming rules that provider crates write (see [`NamingRules`]): length bounds,
//! allowed characters, first and last character, no `--`. Plain char checks, no regex.
//!
//! A provider describes each of its names as a [`Shape`] built from the character sets here
//! (or its own [`Chars`]) and reports breaches through [`NamingReport`]:
//!
//! ```
//! use multicloud_core::spec::shape::{A_LOWER, LOWER_ALNUM, Shape};
//! use multicloud_core::spec::Rule;
//!
//! // 1–12 lowercase letters and digits, starting with a letter.
//! const POOL: Shape = Shape::new(1, 12, LOWER_ALNUM).starts_with(A_LOWER);
//!
//! assert!(POOL.problems("general2").is_empty());
//! let error = POOL
//!     .check("spec.cluster.node_pools[0].name", "pool name", "general-pool")
//!     .expect("a hyphen is not allowed");
//! assert_eq!(error.rule, Rule::Name);
//! assert!(error.message.contains("may only contain lowercase letters and digits"));
//! ```
//!
//! [`NamingRules`]: super::NamingRules
//! [`NamingReport`]: super::NamingReport

use super::validate::{Rule, ValidationError};

/// A set of characters and how to describe it to a person.
///
/// The description is used in messages: plural for sets a whole name is made of ("may only
/// contain lowercase letters and digits"), singular for a first or last character ("must
/// start with a letter").
#[derive(Debug, Clone, Copy)]
pub struct Chars {
    test: fn(char) -> bool,
    describe: &'static str,
}

impl Chars {
    /// The characters for which `test` holds, described as `describe`.
    pub const fn new(test: fn(char) -> bool, describe: &'static str) -> Self {
        Self { test, describe }
    }
    /// Whether `c` is in the set.
    pub fn contains(self, c: char) -> bool {
        (self.test)(c)
    }
    /// How the set is described to a person (`lowercase letters and digits`).
    pub fn describe(self) -> &'static str {
        self.describe
    }
}

fn lower(c: char) -> bool {
    c.is_ascii_lowercase()
}
fn letter(c: char) -> bool {
    c.is_ascii_alphabetic()
}
fn lower_alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}
fn alnum(c: char) -> bool {
    c.is_ascii_alphanumeric()
}
fn lower_alnum_hyphen(c: char) -> bool {
    lower_alnum(c) || c == '-'
}
fn alnum_hyphen(c: char) -> bool {
    alnum(c) || c == '-'
}
fn alnum_underscore(c: char) -> bool {
    alnum(c) || c == '_'
}
fn alnum_hyphen_underscore(c: char) -> bool {
    alnum(c) || c == '-' || c == '_'
}
fn letter_underscore(c: char) -> bool {
    letter(c) || c == '_'
}

// Character sets (plural descriptions, for "may only contain …").

/// `a-z0-9-`.
pub const LOWER_ALNUM_HYPHEN: Chars = Chars {
    test: lower_alnum_hyphen,
    describe: "lowercase letters, digits and hyphens",
};
/// `a-z0-9`.
pub const LOWER_ALNUM: Chars = Chars {
    test: lower_alnum,
    describe: "lowercase letters and digits",
};
/// `A-Za-z0-9`.
pub const ALNUM: Chars = Chars {
    test: alnum,
    describe: "letters and digits",
};
/// `A-Za-z0-9-`.
pub const ALNUM_HYPHEN: Chars = Chars {
    test: alnum_hyphen,
    describe: "letters, digits and hyphens",
};
/// `A-Za-z0-9_`.
pub const ALNUM_UNDERSCORE: Chars = Chars {
    test: alnum_underscore,
    describe: "letters, digits and underscores",
};
/// `A-Za-z0-9-_`.
pub const ALNUM_HYPHEN_UNDERSCORE: Chars = Chars {
    test: alnum_hyphen_underscore,
    describe: "letters, digits, hyphens and underscores",
};

// Single characters (for "must start with …" / "must end with …").

/// `a-z`.
pub const A_LOWER: Chars = Chars {
    test: lower,
    describe: "a lowercase letter",
};
/// `A-Za-z`.
pub const A_LETTER: Chars = Chars {
    test: letter,
    describe: "a letter",
};
/// `a-z0-9`.
pub const A_LOWER_ALNUM: Chars = Chars {
    test: lower_alnum,
    describe: "a lowercase letter or digit",
};
/// `A-Za-z0-9`.
pub const AN_ALNUM: Chars = Chars {
    test: alnum,
    describe: "a letter or digit",
};
/// `A-Za-z_`.
pub const A_LETTER_UNDERSCORE: Chars = Chars {
    test: letter_underscore,
    describe: "a letter or an underscore",
};

/// The shape a name must have: a length range, the characters allowed, optionally the
/// characters allowed first and last, optionally no `--`; breaches are reported as
/// [`Rule::Name`] unless [`Shape::rule`] says otherwise.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    rule: Rule,
    min: usize,
    max: usize,
    chars: Chars,
    first: Option<Chars>,
    last: Option<Chars>,
    no_double_hyphen: bool,
}

impl Shape {
    /// `min..=max` characters of `chars`, breaking [`Rule::Name`].
    pub const fn new(min: usize, max: usize, chars: Chars) -> Self {
        Self {
            rule: Rule::Name,
            min,
            max,
            chars,
            first: None,
            last: None,
            no_double_hyphen: false,
        }
    }
    /// The first character must be in `first`.
    pub const fn starts_with(mut self, first: Chars) -> Self {
        self.first = Some(first);
        self
    }
    /// The last character must be in `last`.
    pub const fn ends_with(mut self, last: Chars) -> Self {
        self.last = Some(last);
        self
    }
    /// `--` is not allowed.
    pub const fn no_double_hyphen(mut self) -> Self {
        self.no_double_hyphen = true;
        self
    }
    /// Reports breaches as `rule` instead of [`Rule::Name`].
    pub const fn rule(mut self, rule: Rule) -> Self {
        self.rule = rule;
        self
    }

    /// Every way `value` breaks the shape (empty when it fits).
    pub fn problems(&self, value: &str) -> Vec<String> {
        let mut out = Vec::new();
        let len = value.chars().count();
        if len < self.min || len > self.max {
            let bounds = match (self.min, self.max) {
                (min, usize::MAX) => format!("at least {min}"),
                (min, max) if min == max => format!("exactly {min}"),
                (min, max) => format!("{min} to {max}"),
            };
            out.push(format!("is {len} characters long; {bounds} allowed"));
        }
        let mut bad: Vec<char> = Vec::new();
        for c in value.chars().filter(|c| !self.chars.contains(*c)) {
            if !bad.contains(&c) {
                bad.push(c);
            }
        }
        if !bad.is_empty() {
            let shown: Vec<String> = bad.iter().take(5).map(|c| format!("{c:?}")).collect();
            out.push(format!(
                "may only contain {} (found {})",
                self.chars.describe,
                shown.join(", ")
            ));
        }
        if let (Some(first), Some(c)) = (self.first, value.chars().next())
            && !first.contains(c)
        {
            out.push(format!("must start with {}", first.describe));
        }
        if let (Some(last), Some(c)) = (self.last, value.chars().last())
            && !last.contains(c)
        {
            out.push(format!("must end with {}", last.describe));
        }
        if self.no_double_hyphen && value.contains("--") {
            out.push("must not contain `--`".to_string());
        }
        out
    }

    /// The error for `value` at `path`, if it breaks the shape: [`Rule::Required`] when empty
    /// (and a minimum length applies), else this shape's rule with every problem listed.
    /// `what` names the value for the message (`stack name`).
    pub fn check(&self, path: &str, what: &str, value: &str) -> Option<ValidationError> {
        if value.is_empty() && self.min > 0 {
            return Some(ValidationError::new(
                path,
                Rule::Required,
                format!("{what} is required"),
            ));
        }
        let problems = self.problems(value);
        if problems.is_empty() {
            None
        } else {
            Some(ValidationError::new(
                path,
                self.rule,
                format!("{what} `{value}` {}", problems.join("; ")),
            ))
        }
    }
}

/// Why `name` is not a container repository name as ECR and ACR accept it: lowercase
/// components `[a-z0-9]+(?:[._-][a-z0-9]+)*` joined by `/` (None when it is one). Length is
/// not checked here (see [`NamingReport::repository`](super::NamingReport::repository)).
pub fn repository_problem(name: &str) -> Option<String> {
    for component in name.split('/') {
        if component.is_empty() {
            return Some("has an empty path component (`//`, or a leading or trailing `/`)".into());
        }
        if let Some(c) = component
            .chars()
            .find(|c| !lower_alnum(*c) && !matches!(c, '.' | '_' | '-'))
        {
            return Some(format!(
                "may only contain lowercase letters, digits, `.`, `_`, `-` and `/` (found `{c}`)"
            ));
        }
        let mut pieces = component.split(['.', '_', '-']);
        if pieces.any(str::is_empty) {
            return Some(
                "must separate lowercase letters and digits by single `.`, `_` or `-`, each \
                 path component starting and ending with a letter or digit"
                    .into(),
            );
        }
    }
    None
}

/// A portable environment variable name: `[A-Za-z_][A-Za-z0-9_]*`.
pub const ENV_VAR: Shape =
    Shape::new(1, usize::MAX, ALNUM_UNDERSCORE).starts_with(A_LETTER_UNDERSCORE);

/// A Kubernetes DNS-1123 label: 1–63 lowercase letters, digits and `-`, starting and ending
/// with a letter or digit.
pub const DNS_1123_LABEL: Shape = Shape::new(1, 63, LOWER_ALNUM_HYPHEN)
    .starts_with(A_LOWER_ALNUM)
    .ends_with(A_LOWER_ALNUM);

/// A Kubernetes DNS-1035 label (Service names): a DNS-1123 label starting with a letter.
pub const DNS_1035_LABEL: Shape = DNS_1123_LABEL.starts_with(A_LOWER);

/// A PostgreSQL identifier as RDS and Azure accept it for database and user names: a letter,
/// then letters, digits and underscores, at most 63 (PostgreSQL's `NAMEDATALEN - 1`).
pub const PG_IDENTIFIER: Shape = Shape::new(1, 63, ALNUM_UNDERSCORE).starts_with(A_LETTER);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_report_every_problem() {
        let s = Shape::new(1, 5, LOWER_ALNUM_HYPHEN)
            .starts_with(A_LOWER)
            .ends_with(A_LOWER_ALNUM)
            .no_double_hyphen();
        assert!(s.problems("ab-c").is_empty());
        assert_eq!(s.problems("1a--B-").len(), 5);
        let e = s.check("spec.x", "thing", "").expect("empty is an error");
        assert_eq!(e.rule, Rule::Required);
        let e = s
            .check("spec.x", "thing", "A")
            .expect("capital is an error");
        assert_eq!(e.rule, Rule::Name);
        assert!(e.message.contains("`A`"), "{}", e.message);
    }

    #[test]
    fn repository_names() {
        for ok in ["shop-api", "team/shop_api", "a.b-c/d", "ab"] {
            assert_eq!(repository_problem(ok), None, "{ok}");
        }
        for bad in [
            "Shop-API",
            "shop--api",
            "-shop",
            "shop/",
            "a//b",
            "shop api",
            "shop-",
        ] {
            assert!(repository_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn labels_and_variables() {
        assert!(DNS_1123_LABEL.problems("1-api").is_empty());
        assert!(!DNS_1035_LABEL.problems("1-api").is_empty());
        assert!(!DNS_1123_LABEL.problems("api-").is_empty());
        assert!(ENV_VAR.problems("_DB_PASSWORD2").is_empty());
        assert!(!ENV_VAR.problems("2DB").is_empty());
        assert!(!ENV_VAR.problems("DB-PASSWORD").is_empty());
        assert!(PG_IDENTIFIER.problems("app_admin").is_empty());
        assert!(!PG_IDENTIFIER.problems("_app").is_empty());
    }
}
