//! Ownership tags and deterministic names.
//!
//! Every resource carries `multicloud:stack`, `multicloud:env`, `multicloud:created-at` and
//! (with a TTL) `multicloud:expires-at`, so that re-runs adopt what exists and the sweeper
//! can find what was left behind.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Who owns an existing resource, judged from its tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// Our ownership tags: this stack and environment.
    Us,
    /// Ownership tags of another stack or environment.
    OtherStack {
        /// Its `multicloud:stack` tag.
        stack: String,
        /// Its `multicloud:env` tag.
        environment: String,
    },
    /// No ownership tags: someone else's resource.
    Unowned,
}

/// Tag naming the stack.
pub const TAG_STACK: &str = "multicloud:stack";
/// Tag naming the environment.
pub const TAG_ENV: &str = "multicloud:env";
/// Tag with the RFC 3339 creation time of the stack.
pub const TAG_CREATED_AT: &str = "multicloud:created-at";
/// Tag with the RFC 3339 time after which the sweeper may delete the resource.
pub const TAG_EXPIRES_AT: &str = "multicloud:expires-at";

/// Kubernetes label marking objects multicloud manages (`app.kubernetes.io/managed-by`).
pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// Value of [`LABEL_MANAGED_BY`].
pub const MANAGED_BY: &str = "multicloud";
/// Kubernetes label naming the stack (label keys cannot hold `multicloud:stack`).
pub const LABEL_STACK: &str = "multicloud.dev/stack";
/// Kubernetes label naming the environment.
pub const LABEL_ENV: &str = "multicloud.dev/env";
/// Kubernetes label with the expiry as Unix seconds (RFC 3339 is not a valid label value;
/// seconds are, and sort and compare in a label selector).
pub const LABEL_EXPIRES_AT: &str = "multicloud.dev/expires-at";
/// Kubernetes annotation with the RFC 3339 creation time of the stack.
pub const ANNOTATION_CREATED_AT: &str = "multicloud.dev/created-at";
/// Kubernetes annotation with the RFC 3339 expiry of the stack.
pub const ANNOTATION_EXPIRES_AT: &str = "multicloud.dev/expires-at";

/// The tags of a resource: shared, not copied, when cloned (every resource of a stack
/// carries the same ownership tags, so a 1,000-resource plan holds one map, not a thousand);
/// changed copy-on-write. Read and write it as the map it dereferences to.
#[derive(Clone, Default, Eq)]
pub struct Tags(Arc<BTreeMap<String, String>>);

impl Tags {
    /// No tags.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `self` and `other` are the same shared map (so certainly equal).
    pub fn shares(&self, other: &Tags) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Deref for Tags {
    type Target = BTreeMap<String, String>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for Tags {
    /// The map to change: this resource's own copy once it is shared.
    fn deref_mut(&mut self) -> &mut Self::Target {
        Arc::make_mut(&mut self.0)
    }
}

impl PartialEq for Tags {
    fn eq(&self, other: &Self) -> bool {
        self.shares(other) || self.0 == other.0
    }
}

impl fmt::Debug for Tags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<BTreeMap<String, String>> for Tags {
    fn from(map: BTreeMap<String, String>) -> Self {
        Self(Arc::new(map))
    }
}

impl FromIterator<(String, String)> for Tags {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        Self(Arc::new(iter.into_iter().collect()))
    }
}

impl IntoIterator for Tags {
    type Item = (String, String);
    type IntoIter = std::collections::btree_map::IntoIter<String, String>;
    /// The tags by value (copied only if the map is shared).
    fn into_iter(self) -> Self::IntoIter {
        Arc::unwrap_or_clone(self.0).into_iter()
    }
}

impl<'a> IntoIterator for &'a Tags {
    type Item = (&'a String, &'a String);
    type IntoIter = std::collections::btree_map::Iter<'a, String, String>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl Serialize for Tags {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Tags {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        BTreeMap::deserialize(d).map(Self::from)
    }
}

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

    /// The ownership as Kubernetes labels: every key and value valid for the API server
    /// (see [`is_valid_label_key`], [`is_valid_label_value`]).
    pub fn kubernetes_labels(&self) -> BTreeMap<String, String> {
        let mut labels = BTreeMap::from([
            (LABEL_MANAGED_BY.to_string(), MANAGED_BY.to_string()),
            (LABEL_STACK.to_string(), label_value(&self.stack)),
            (LABEL_ENV.to_string(), label_value(&self.environment)),
        ]);
        if let Some(exp) = self.expires_at {
            labels.insert(LABEL_EXPIRES_AT.to_string(), exp.timestamp().to_string());
        }
        labels
    }

    /// The ownership facts labels cannot hold, as Kubernetes annotations (RFC 3339 times).
    pub fn kubernetes_annotations(&self) -> BTreeMap<String, String> {
        let mut a = BTreeMap::from([(
            ANNOTATION_CREATED_AT.to_string(),
            self.created_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        )]);
        if let Some(exp) = self.expires_at {
            a.insert(
                ANNOTATION_EXPIRES_AT.to_string(),
                exp.to_rfc3339_opts(SecondsFormat::Secs, true),
            );
        }
        a
    }

    /// Who owns a Kubernetes object carrying `labels`, from this stack's point of view.
    pub fn judge_labels<'a>(&self, labels: impl IntoIterator<Item = (&'a str, &'a str)>) -> Owner {
        let mut stack = None;
        let mut env = None;
        for (k, v) in labels {
            match k {
                LABEL_STACK => stack = Some(v),
                LABEL_ENV => env = Some(v),
                _ => {}
            }
        }
        match (stack, env) {
            (Some(s), Some(e))
                if s == label_value(&self.stack) && e == label_value(&self.environment) =>
            {
                Owner::Us
            }
            (Some(s), e) => Owner::OtherStack {
                stack: s.to_string(),
                environment: e.unwrap_or_default().to_string(),
            },
            (None, _) => Owner::Unowned,
        }
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

/// `text` as a valid Kubernetes label value: characters outside `[A-Za-z0-9._-]` become
/// `-`, at most 63 characters, starting and ending alphanumeric. Stack and environment names
/// already are valid values, so for them this is the identity.
pub fn label_value(text: &str) -> String {
    let mapped: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    mapped
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

/// Whether `value` is a valid Kubernetes label value (empty, or at most 63 characters of
/// `[A-Za-z0-9._-]` beginning and ending alphanumeric).
pub fn is_valid_label_value(value: &str) -> bool {
    value.is_empty()
        || (value.len() <= 63
            && value.starts_with(|c: char| c.is_ascii_alphanumeric())
            && value.ends_with(|c: char| c.is_ascii_alphanumeric())
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
}

/// Whether `key` is a valid Kubernetes label key: an optional DNS-subdomain prefix (at most
/// 253 characters) and `/`, then a name that is a non-empty valid label value.
pub fn is_valid_label_key(key: &str) -> bool {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 253
            && p.split('.').all(|part| {
                !part.is_empty()
                    && part.len() <= 63
                    && part.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                    && part.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                    && part
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            })
    });
    prefix_ok && !name.is_empty() && is_valid_label_value(name)
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
    fn tags_are_shared_until_one_copy_changes() {
        let common = Tags::from(BTreeMap::from([("k".to_string(), "v".to_string())]));
        let mut mine = common.clone();
        assert!(mine.shares(&common));
        mine.insert("team".into(), "blue".into());
        assert!(!mine.shares(&common), "a change copies the map");
        assert_eq!(common.len(), 1, "the shared map is untouched");
        assert_eq!(mine.len(), 2);
        assert_ne!(mine, common);
        mine.remove("team");
        assert_eq!(mine, common, "equal by content once unshared");
        let json = serde_json::to_string(&mine).unwrap();
        assert_eq!(json, r#"{"k":"v"}"#);
        assert_eq!(serde_json::from_str::<Tags>(&json).unwrap(), common);
        let owned: Vec<(String, String)> = mine.into_iter().collect();
        assert_eq!(owned, [("k".to_string(), "v".to_string())]);
    }

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
    fn kubernetes_labels_are_valid_and_judged_back() {
        let o = Ownership {
            stack: "shop".into(),
            environment: "pr-1234".into(),
            created_at: Utc::now(),
            expires_at: Some(Utc::now() + chrono::Duration::hours(4)),
        };
        let labels = o.kubernetes_labels();
        assert_eq!(labels.len(), 4);
        for (k, v) in &labels {
            assert!(is_valid_label_key(k), "key {k}");
            assert!(is_valid_label_value(v), "value {v} of {k}");
        }
        // The cloud tags are not valid labels, which is why these exist.
        assert!(!is_valid_label_key(TAG_STACK));
        assert!(!is_valid_label_value(&o.tags()[TAG_CREATED_AT]));
        assert!(o.kubernetes_annotations()[ANNOTATION_CREATED_AT].ends_with('Z'));
        let pairs = labels.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        assert_eq!(o.judge_labels(pairs), Owner::Us);
        assert_eq!(o.judge_labels([("app", "x")]), Owner::Unowned);
        assert_eq!(label_value("a b/c"), "a-b-c");
    }

    #[test]
    fn expiry_is_read_from_tags() {
        let now = Utc::now();
        assert!(expired([(TAG_EXPIRES_AT, "2020-01-01T00:00:00Z")], now));
        assert!(!expired([(TAG_EXPIRES_AT, "2999-01-01T00:00:00Z")], now));
        assert!(!expired([("other", "x")], now));
    }
}
