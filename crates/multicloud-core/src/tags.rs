//! Ownership tags and deterministic names.
//!
//! Every resource carries `multicloud:stack`, `multicloud:env`, `multicloud:created-at` and
//! (with a TTL) `multicloud:expires-at`, so that re-runs adopt what exists and the sweeper
//! can find what was left behind.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};

use crate::provider::Owner;

/// Tag naming the stack.
pub const TAG_STACK: &str = "multicloud:stack";
/// Tag naming the environment.
pub const TAG_ENV: &str = "multicloud:env";
/// Tag with the RFC 3339 creation time of the stack.
pub const TAG_CREATED_AT: &str = "multicloud:created-at";
/// Tag with the RFC 3339 time after which the sweeper may delete the resource.
pub const TAG_EXPIRES_AT: &str = "multicloud:expires-at";

/// The ownership of one stack instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ownership {
    /// Stack name.
    pub stack: String,
    /// Environment.
    pub environment: String,
    /// When the stack was first created.
    pub created_at: DateTime<Utc>,
    /// When it expires, with a TTL.
    pub expires_at: Option<DateTime<Utc>>,
}

impl Ownership {
    /// The ownership tags.
    pub fn tags(&self) -> BTreeMap<String, String> {
        let mut tags = BTreeMap::new();
        tags.insert(TAG_STACK.to_string(), self.stack.clone());
        tags.insert(TAG_ENV.to_string(), self.environment.clone());
        tags.insert(
            TAG_CREATED_AT.to_string(),
            self.created_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        );
        if let Some(exp) = self.expires_at {
            tags.insert(
                TAG_EXPIRES_AT.to_string(),
                exp.to_rfc3339_opts(SecondsFormat::Secs, true),
            );
        }
        tags
    }

    /// Who owns a resource carrying `tags`, from this stack's point of view.
    pub fn judge<'a>(&self, tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> Owner {
        let mut stack = None;
        let mut env = None;
        for (k, v) in tags {
            match k {
                TAG_STACK => stack = Some(v),
                TAG_ENV => env = Some(v),
                _ => {}
            }
        }
        match (stack, env) {
            (Some(s), Some(e)) if s == self.stack && e == self.environment => Owner::Us,
            (Some(s), e) => Owner::OtherStack {
                stack: s.to_string(),
                environment: e.unwrap_or_default().to_string(),
            },
            (None, _) => Owner::Unowned,
        }
    }
}

/// Whether tags carry an `expires-at` earlier than `now`.
pub fn expired<'a>(tags: impl IntoIterator<Item = (&'a str, &'a str)>, now: DateTime<Utc>) -> bool {
    tags.into_iter()
        .find(|(k, _)| *k == TAG_EXPIRES_AT)
        .and_then(|(_, v)| DateTime::parse_from_rfc3339(v).ok())
        .is_some_and(|t| t.with_timezone(&Utc) < now)
}

/// The shape a cloud allows for a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameStyle {
    /// Maximum length.
    pub max_len: usize,
    /// Letters and digits only (no hyphens), e.g. ACR and storage accounts.
    pub alphanumeric_only: bool,
}

impl NameStyle {
    /// Lowercase letters, digits and hyphens, up to `max_len`.
    pub const fn hyphenated(max_len: usize) -> Self {
        Self {
            max_len,
            alphanumeric_only: false,
        }
    }
    /// Lowercase letters and digits, up to `max_len`.
    pub const fn alphanumeric(max_len: usize) -> Self {
        Self {
            max_len,
            alphanumeric_only: true,
        }
    }
}

/// Deterministic physical names: `<stack>-<env>-<part>`, shaped to a cloud's rules. A name too
/// long for the style is cut and given a 6-hex-digit hash of the full name, so it stays
/// unique and stable across runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Naming {
    stack: String,
    environment: String,
}

impl Naming {
    /// Names for `stack` in `environment`.
    pub fn new(stack: impl Into<String>, environment: impl Into<String>) -> Self {
        Self {
            stack: stack.into(),
            environment: environment.into(),
        }
    }

    /// `<stack>-<env>-<part>` (or `<stack>-<env>` for an empty part) in `style`.
    pub fn name(&self, part: &str, style: NameStyle) -> String {
        let full = if part.is_empty() {
            format!("{}-{}", self.stack, self.environment)
        } else {
            format!("{}-{}-{}", self.stack, self.environment, part)
        };
        fit(&full, style)
    }

    /// The stack name.
    pub fn stack(&self) -> &str {
        &self.stack
    }

    /// The environment.
    pub fn environment(&self) -> &str {
        &self.environment
    }
}

/// Shapes `full` to `style`: lowercase, allowed characters only, and cut with a stable hash
/// suffix when too long.
pub fn fit(full: &str, style: NameStyle) -> String {
    let cleaned: String = full
        .to_ascii_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || (!style.alphanumeric_only && *c == '-'))
        .collect();
    if cleaned.len() <= style.max_len {
        return cleaned;
    }
    let hash = hex::encode(Sha256::digest(full.as_bytes()));
    let suffix = &hash[..6];
    let keep = style
        .max_len
        .saturating_sub(suffix.len() + usize::from(!style.alphanumeric_only));
    let mut head: String = cleaned.chars().take(keep).collect();
    if !style.alphanumeric_only {
        while head.ends_with('-') {
            head.pop();
        }
        head.push('-');
    }
    head.push_str(suffix);
    head
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_deterministic_and_fit_the_style() {
        let n = Naming::new("shop", "pr-1234");
        assert_eq!(n.name("vpc", NameStyle::hyphenated(63)), "shop-pr-1234-vpc");
        assert_eq!(n.name("acr", NameStyle::alphanumeric(50)), "shoppr1234acr");
        let long = n.name("a-very-long-part-name-indeed", NameStyle::hyphenated(24));
        assert_eq!(long.len(), 24);
        assert_eq!(
            long,
            n.name("a-very-long-part-name-indeed", NameStyle::hyphenated(24))
        );
        assert_ne!(
            long,
            n.name("a-very-long-part-name-indeed2", NameStyle::hyphenated(24))
        );
    }

    #[test]
    fn ownership_is_judged_from_tags() {
        let o = Ownership {
            stack: "shop".into(),
            environment: "dev".into(),
            created_at: Utc::now(),
            expires_at: None,
        };
        let tags = o.tags();
        let pairs = || tags.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        assert_eq!(o.judge(pairs()), Owner::Us);
        assert_eq!(o.judge([("Name", "x")]), Owner::Unowned);
        assert_eq!(
            o.judge([(TAG_STACK, "shop"), (TAG_ENV, "prod")]),
            Owner::OtherStack {
                stack: "shop".into(),
                environment: "prod".into()
            }
        );
    }

    #[test]
    fn expiry_is_read_from_tags() {
        let now = Utc::now();
        assert!(expired([(TAG_EXPIRES_AT, "2020-01-01T00:00:00Z")], now));
        assert!(!expired([(TAG_EXPIRES_AT, "2999-01-01T00:00:00Z")], now));
        assert!(!expired([("other", "x")], now));
    }
}
