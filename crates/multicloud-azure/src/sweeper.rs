//! The Azure sweeper: finds what multicloud left behind by its tags — resource groups (and
//! what is in them) of one stack, or whose `multicloud:expires-at` has passed — and the
//! soft-deleted Key Vaults of those stacks, which it purges so their names are free again.
//! With `dry_run` it only reports.
//!
//! Deleting a resource group deletes everything in it (ARM's cascade); the sweeper waits for
//! each group through the core's [`Poller`], then purges the vaults that went with it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use multicloud_core::ProviderError;
use multicloud_core::provider::Readiness;
use multicloud_core::retry::{Poller, RetryPolicy};
use multicloud_core::tags::{TAG_ENV, TAG_STACK, expired};
use serde_json::Value;

use crate::arm::api_versions;
use crate::arm::lro::{self, LroHandle, LroMethod};
use crate::context::AzureContext;
use crate::error::{Op, classify};
use crate::resources::vault;

/// What to sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepFilter {
    /// Only this stack and environment (else every multicloud stack).
    pub stack: Option<(String, String)>,
    /// Also (or, without `stack`, only) what expired before this time.
    pub expired_before: Option<DateTime<Utc>>,
}

impl SweepFilter {
    /// Everything of `stack` in `environment`.
    pub fn stack(stack: impl Into<String>, environment: impl Into<String>) -> Self {
        Self {
            stack: Some((stack.into(), environment.into())),
            expired_before: None,
        }
    }
    /// Everything whose `multicloud:expires-at` is before `now`.
    pub fn expired(now: DateTime<Utc>) -> Self {
        Self {
            stack: None,
            expired_before: Some(now),
        }
    }
    /// Whether a resource with `tags` is to be swept.
    pub fn matches(&self, tags: &serde_json::Map<String, Value>) -> bool {
        let get = |k: &str| tags.get(k).and_then(Value::as_str);
        let Some(stack) = get(TAG_STACK) else {
            return false;
        };
        let mine = self
            .stack
            .as_ref()
            .is_some_and(|(s, e)| s == stack && Some(e.as_str()) == get(TAG_ENV));
        let stale = self.expired_before.is_some_and(|now| {
            expired(
                tags.iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.as_str(), v))),
                now,
            )
        });
        mine || stale
    }
}

/// One thing the sweeper found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// ARM id.
    pub id: String,
    /// `Microsoft.X/type`.
    pub kind: String,
}

/// What a sweep found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Resource groups to delete (with what is in them, listed in `resources`).
    pub groups: Vec<Found>,
    /// The resources in those groups.
    pub resources: Vec<Found>,
    /// Soft-deleted vaults to purge.
    pub deleted_vaults: Vec<Found>,
    /// Whether anything was deleted (false for a dry run).
    pub acted: bool,
}

impl SweepReport {
    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty() && self.resources.is_empty() && self.deleted_vaults.is_empty()
    }
}

/// Lists `path` (`{"value": [...]}`).
async fn list(az: &AzureContext, path: &str, version: &str) -> Result<Vec<Value>, ProviderError> {
    let page: Value = az
        .arm
        .get(path, version)
        .await
        .and_then(|r| r.json())
        .map_err(|e| classify(e, Op::Read, &format!("LIST {path}")))?;
    Ok(page["value"].as_array().cloned().unwrap_or_default())
}

fn found(v: &Value) -> Found {
    let s = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Found {
        id: s("id"),
        kind: s("type"),
    }
}

fn tags_of(v: &Value, pointer: &str) -> serde_json::Map<String, Value> {
    v.pointer(pointer)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// Finds (and unless `dry_run`, deletes and purges) what `filter` selects.
pub async fn sweep(
    az: &AzureContext,
    filter: &SweepFilter,
    dry_run: bool,
    poller: &Poller,
) -> Result<SweepReport, ProviderError> {
    let mut report = SweepReport::default();
    let sub = format!("/subscriptions/{}", az.subscription);
    for g in list(
        az,
        &format!("{sub}/resourcegroups"),
        api_versions::RESOURCES,
    )
    .await?
    {
        if !filter.matches(&tags_of(&g, "/tags")) {
            continue;
        }
        let group = found(&g);
        let inside = list(
            az,
            &format!("{}/resources", group.id),
            api_versions::RESOURCES,
        )
        .await?;
        report.resources.extend(inside.iter().map(found));
        report.groups.push(group);
    }
    if !dry_run {
        for g in &report.groups {
            delete_group(az, &g.id, poller).await?;
        }
    }
    let deleted = list(
        az,
        &format!("{sub}/providers/Microsoft.KeyVault/deletedVaults"),
        api_versions::KEY_VAULT,
    )
    .await?;
    for v in deleted {
        if filter.matches(&tags_of(&v, "/properties/tags")) {
            report.deleted_vaults.push(found(&v));
        }
    }
    if !dry_run {
        for v in &report.deleted_vaults {
            purge(az, &v.id, poller).await?;
        }
    }
    report.acted = !dry_run && !report.is_empty();
    Ok(report)
}

fn retry() -> RetryPolicy {
    RetryPolicy::default()
}

/// Deletes resource group `id` and waits until it is gone.
async fn delete_group(az: &AzureContext, id: &str, poller: &Poller) -> Result<(), ProviderError> {
    let url = az
        .arm
        .url(id, api_versions::RESOURCES)
        .map_err(|e| classify(e, Op::Delete, "DELETE group"))?;
    let started = retry()
        .run(
            || async {
                lro::start(&az.arm, LroMethod::Delete, url.clone(), None)
                    .await
                    .map_err(|e| classify(e, Op::Delete, &format!("DELETE {id}")))
            },
            |_, _, _| {},
        )
        .await;
    match started {
        Ok(s) => {
            az.tracker.track(url.as_str(), &s);
        }
        Err(e) if e.kind() == multicloud_core::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    }
    let fallback = LroHandle::resource(LroMethod::Delete, url.as_str());
    poller
        .await_condition(
            Duration::from_secs(3600),
            &retry(),
            || async {
                let step = az
                    .tracker
                    .poll(&az.arm, url.as_str(), fallback.clone())
                    .await
                    .map_err(|e| classify(e, Op::Read, &format!("DELETE {id}")))?;
                step.into_readiness(|_| Ok(Default::default()))
            },
            |_| {},
        )
        .await
        .map(|_| ())
}

/// Purges soft-deleted vault `id` and waits until it is gone.
async fn purge(az: &AzureContext, id: &str, poller: &Poller) -> Result<(), ProviderError> {
    let handle = vault::start_purge(az, id).await?;
    poller
        .await_condition(
            Duration::from_secs(3600),
            &retry(),
            || async {
                if let Some(h) = &handle
                    && let lro::Step::Running { retry_after, .. } = lro::poll(&az.arm, h)
                        .await
                        .map_err(|e| classify(e, Op::Read, "purge vault"))?
                {
                    return Ok(Readiness::Pending {
                        status: "purging".into(),
                        retry_after,
                    });
                }
                Ok(match vault::deleted_vault(az, id).await? {
                    None => Readiness::ready(),
                    Some(_) => Readiness::pending("purging"),
                })
            },
            |_| {},
        )
        .await
        .map(|_| ())
}
