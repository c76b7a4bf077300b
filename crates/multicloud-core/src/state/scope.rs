//! [`ProviderScope`]: which cloud a stack's state belongs to, and where in it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a provider deploys a stack, as far as its state key is concerned: the cloud (the
/// provider's [`name`](crate::provider::CloudProvider::name)), the account within it and,
/// where the same name is another stack in each region, the region. AWS names its account
/// id and region, Azure its subscription (resource names are unique across its regions),
/// the memory cloud a name of its own.
///
/// Written into the state key ([`StateKey::scope`](super::StateKey::scope)), so one spec
/// deployed to several clouds (or accounts, or AWS regions) keeps one state each in the
/// same store. Stores name it as one path segment, [`ProviderScope::segment`]
/// (`aws.123456789012.us-east-1`); no part may be empty (the region is left out instead)
/// or contain `.`, path separators, control characters or any of `:*?"<>|`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ProviderScope {
    /// The cloud: the provider's name (`aws`, `azure`, `memory`).
    pub cloud: String,
    /// The account within the cloud: an AWS account id, an Azure subscription id.
    pub account: String,
    /// The region, where the same stack name in another region is another stack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

impl ProviderScope {
    /// `account` of `cloud`, in no particular region.
    pub fn new(cloud: impl Into<String>, account: impl Into<String>) -> Self {
        Self {
            cloud: cloud.into(),
            account: account.into(),
            region: None,
        }
    }

    /// The same scope in `region`.
    #[must_use]
    pub fn in_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Its one-segment name in store layouts: `cloud.account` or `cloud.account.region`;
    /// `None` when a part is empty or holds a character a segment cannot (see the type).
    pub fn segment(&self) -> Option<String> {
        let parts = [Some(&self.cloud), Some(&self.account), self.region.as_ref()];
        let parts: Vec<&str> = parts.into_iter().flatten().map(String::as_str).collect();
        parts.iter().all(|p| safe_part(p)).then(|| parts.join("."))
    }

    /// The scope a [`segment`](Self::segment) names, if it names one.
    pub fn from_segment(segment: &str) -> Option<Self> {
        let mut parts = segment.split('.');
        let cloud = parts.next()?;
        let account = parts.next()?;
        let region = parts.next();
        let scope = Self {
            cloud: cloud.into(),
            account: account.into(),
            region: region.map(str::to_owned),
        };
        (parts.next().is_none() && scope.segment().is_some()).then_some(scope)
    }
}

/// A non-empty part without `.`, path separators, control characters or `:*?"<>|`.
fn safe_part(part: &str) -> bool {
    !part.is_empty()
        && !part.contains(|c: char| {
            c.is_control()
                || matches!(
                    c,
                    '.' | '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|'
                )
        })
}

impl fmt::Display for ProviderScope {
    /// `aws 123456789012 us-east-1`, `azure <subscription>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.cloud, self.account)?;
        match &self.region {
            Some(region) => write!(f, " {region}"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_round_trip_and_bad_parts_have_none() {
        let aws = ProviderScope::new("aws", "123456789012").in_region("us-east-1");
        assert_eq!(aws.segment().as_deref(), Some("aws.123456789012.us-east-1"));
        assert_eq!(aws.to_string(), "aws 123456789012 us-east-1");
        let azure = ProviderScope::new("azure", "00000000-0000-0000-0000-000000000001");
        assert_eq!(
            azure.segment().as_deref(),
            Some("azure.00000000-0000-0000-0000-000000000001")
        );
        for scope in [aws, azure] {
            let segment = scope.segment().expect("segment");
            assert_eq!(ProviderScope::from_segment(&segment), Some(scope));
        }
        for bad in [
            ProviderScope::new("", "a"),
            ProviderScope::new("aws", ""),
            ProviderScope::new("aws", "a.b"),
            ProviderScope::new("aws", "a/b"),
            ProviderScope::new("aws", "a").in_region(""),
            ProviderScope::new("aws", "a").in_region("x:y"),
        ] {
            assert_eq!(bad.segment(), None, "{bad:?}");
        }
        for bad in ["aws", "aws.a.b.c", "aws..r", ".a", "aws.a/b"] {
            assert_eq!(ProviderScope::from_segment(bad), None, "{bad}");
        }
    }
}
