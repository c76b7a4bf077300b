//! Sweeping, cloud-neutral: every cloud's sweeper finds what multicloud left behind by its
//! ownership tags and deletes it. One [`Sweeper`] trait, one [`SweepFilter`] saying what to
//! select, one [`SweepReport`] saying what was found and done.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::{ErrorKind, ProviderError};
use crate::tags::{TAG_ENV, TAG_STACK, expired};

/// Which tagged resources to sweep. Only resources carrying a `multicloud:stack` tag are
/// ever selected; of those, a resource is selected when it is of the stack (and environment)
/// named, or expired before the time given, or when the filter selects [`all`](Self::all).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepFilter {
    /// The `multicloud:stack` tag of the stack to sweep.
    pub stack: Option<String>,
    /// With `stack`: its `multicloud:env` tag; `None` for every environment of the stack.
    pub environment: Option<String>,
    /// Also what carries a `multicloud:expires-at` before this time.
    pub expired_before: Option<DateTime<Utc>>,
    /// Every resource carrying a `multicloud:stack` tag.
    pub all: bool,
}

impl SweepFilter {
    /// Everything of `stack` in `environment`.
    pub fn stack(stack: impl Into<String>, environment: impl Into<String>) -> Self {
        Self {
            stack: Some(stack.into()),
            environment: Some(environment.into()),
            ..Self::default()
        }
    }
    /// Everything of `stack`, in every environment.
    pub fn every_environment_of(stack: impl Into<String>) -> Self {
        Self {
            stack: Some(stack.into()),
            ..Self::default()
        }
    }
    /// Everything whose `multicloud:expires-at` is before `now`.
    pub fn expired(now: DateTime<Utc>) -> Self {
        Self {
            expired_before: Some(now),
            ..Self::default()
        }
    }
    /// Everything carrying a `multicloud:stack` tag.
    pub fn all() -> Self {
        Self {
            all: true,
            ..Self::default()
        }
    }
    /// Also selects what expired before `now`.
    #[must_use]
    pub fn or_expired_before(mut self, now: DateTime<Utc>) -> Self {
        self.expired_before = Some(now);
        self
    }

    /// Whether a resource carrying `tags` is selected.
    pub fn matches(&self, tags: &BTreeMap<String, String>) -> bool {
        let Some(stack) = tags.get(TAG_STACK) else {
            return false;
        };
        let of_stack = self.stack.as_ref().is_some_and(|s| {
            s == stack
                && self
                    .environment
                    .as_ref()
                    .is_none_or(|e| tags.get(TAG_ENV) == Some(e))
        });
        let stale = self
            .expired_before
            .is_some_and(|now| expired(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())), now));
        self.all || of_stack || stale
    }
}

/// A resource a sweeper found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweptResource {
    /// What it is: its kind's name ([`ResourceKind::as_str`](crate::kind::ResourceKind::as_str))
    /// where the sweeper knows it, else the cloud's own type
    /// (`Microsoft.Network/virtualNetworks`).
    pub kind: String,
    /// Its name.
    pub name: String,
    /// Its cloud id (ARN, ARM id, EC2 id).
    pub id: String,
    /// What it lives in or goes with (a node group's cluster, a load balancer's VPC, an
    /// Azure resource's group), if anything.
    pub parent: Option<String>,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
}

/// A resource a sweeper could not delete.
#[derive(Debug)]
pub struct SweepFailure {
    /// The resource.
    pub resource: SweptResource,
    /// Why (after the retries).
    pub error: ProviderError,
}

/// What a sweep found and did.
#[derive(Debug, Default)]
pub struct SweepReport {
    /// Whether it was a dry run (nothing deleted).
    pub dry_run: bool,
    /// Every resource the filter selected, in deletion order.
    pub found: Vec<SweptResource>,
    /// The resources deleted (a container deleted with what is in it lists the container).
    pub deleted: Vec<SweptResource>,
    /// The resources that could not be deleted.
    pub failed: Vec<SweepFailure>,
}

impl SweepReport {
    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.found.is_empty()
    }
    /// Whether everything found was deleted (or nothing was to be).
    pub fn is_clean(&self) -> bool {
        self.failed.is_empty()
    }
    /// The resources found of `kind` (a kind's name or a cloud type).
    pub fn found_of<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a SweptResource> {
        self.found.iter().filter(move |r| r.kind == kind)
    }
    /// The resources deleted of `kind`.
    pub fn deleted_of<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a SweptResource> {
        self.deleted.iter().filter(move |r| r.kind == kind)
    }
}

/// A cloud's sweeper.
#[async_trait]
pub trait Sweeper: Send + Sync {
    /// Every resource carrying our ownership tags that `filter` selects, in deletion order.
    async fn find(&self, filter: &SweepFilter) -> Result<Vec<SweptResource>, ProviderError>;

    /// Finds what `filter` selects and, unless `dry_run`, deletes it. The default deletes
    /// what [`find`](Sweeper::find) found in its order, one resource at a time with
    /// [`delete_swept`](Sweeper::delete_swept): a failure is recorded in the report (and
    /// logged) and the sweep goes on; only a failure to list is an error.
    async fn sweep(
        &self,
        filter: &SweepFilter,
        dry_run: bool,
    ) -> Result<SweepReport, ProviderError> {
        let found = self.find(filter).await?;
        let mut report = SweepReport {
            dry_run,
            found,
            ..SweepReport::default()
        };
        if dry_run {
            return Ok(report);
        }
        for r in &report.found {
            match self.delete_swept(r, &report.found).await {
                Ok(true) => report.deleted.push(r.clone()),
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(kind = %r.kind, name = %r.name, %error, "sweep: could not delete");
                    report.failed.push(SweepFailure {
                        resource: r.clone(),
                        error,
                    });
                }
            }
        }
        Ok(report)
    }

    /// Deletes `r`, one of the resources the sweep `found` (deleted in that order), for the
    /// default [`sweep`](Sweeper::sweep): `Ok(false)` when it was gone already. The default
    /// deletes nothing (a sweeper with a sweep of its own need not give one).
    async fn delete_swept(
        &self,
        r: &SweptResource,
        found: &[SweptResource],
    ) -> Result<bool, ProviderError> {
        let _ = found;
        Err(ProviderError::new(
            ErrorKind::Unsupported,
            format!("this sweeper does not delete {} resources", r.kind),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tags::TAG_EXPIRES_AT;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_filter_selects_only_tagged_resources_of_its_stack_or_expired() {
        let old = (Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
        let t = tags(&[
            (TAG_STACK, "shop"),
            (TAG_ENV, "pr-1"),
            (TAG_EXPIRES_AT, old.as_str()),
        ]);
        assert!(SweepFilter::stack("shop", "pr-1").matches(&t));
        assert!(!SweepFilter::stack("shop", "pr-2").matches(&t));
        assert!(SweepFilter::every_environment_of("shop").matches(&t));
        assert!(!SweepFilter::every_environment_of("cart").matches(&t));
        assert!(SweepFilter::expired(Utc::now()).matches(&t));
        assert!(!SweepFilter::expired(Utc::now() - chrono::Duration::hours(2)).matches(&t));
        assert!(
            SweepFilter::stack("cart", "x")
                .or_expired_before(Utc::now())
                .matches(&t)
        );
        assert!(SweepFilter::all().matches(&t));
        assert!(!SweepFilter::default().matches(&t), "selects nothing");
        let untagged = tags(&[(TAG_ENV, "pr-1"), (TAG_EXPIRES_AT, old.as_str())]);
        assert!(!SweepFilter::all().matches(&untagged));
        assert!(!SweepFilter::expired(Utc::now()).matches(&untagged));
    }
}
