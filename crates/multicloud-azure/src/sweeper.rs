//! The Azure sweeper: finds what multicloud left behind by its tags — resource groups (and
//! what is in them) of one stack, or whose `multicloud:expires-at` has passed — and the
//! soft-deleted Key Vaults of those stacks, which it purges so their names are free again.
//! With `dry_run` it only reports. [`AzureSweeper`] is the core's [`Sweeper`], with the
//! core's [`SweepFilter`] and [`SweepReport`].
//!
//! Deleting a resource group deletes everything in it (ARM's cascade); the sweeper waits for
//! each group through the core's [`Poller`], then purges the vaults that went with it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use multicloud_core::ProviderError;
use multicloud_core::provider::Readiness;
use multicloud_core::retry::{Poller, RetryPolicy};
use serde_json::Value;

pub use multicloud_core::sweep::{SweepFilter, SweepReport, Sweeper, SweptResource};

use crate::arm::api_versions;
use crate::arm::lro::{self, LroHandle, LroMethod};
use crate::context::AzureContext;
use crate::error::{Op, classify};
use crate::resources::vault;

/// The type of a resource group, as the sweeper reports it.
pub const RESOURCE_GROUP_TYPE: &str = "Microsoft.Resources/resourceGroups";
/// The type of a soft-deleted Key Vault, as the sweeper reports it.
pub const DELETED_VAULT_TYPE: &str = "Microsoft.KeyVault/deletedVaults";

/// Lists `path`, every page of it.
async fn list(az: &AzureContext, path: &str, version: &str) -> Result<Vec<Value>, ProviderError> {
    az.arm
        .list(path, version)
        .await
        .map_err(|e| classify(e, Op::Read, &format!("LIST {path}")))
}

/// The string-valued tags at `pointer` of `v`.
fn tags_of(v: &Value, pointer: &str) -> BTreeMap<String, String> {
    v.pointer(pointer)
        .and_then(Value::as_object)
        .map(|tags| {
            tags.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// What the sweeper reports of `v`: its `type` (or `kind`), name, id and tags at `tags`.
fn found(v: &Value, kind: Option<&str>, tags: &str, parent: Option<&str>) -> SweptResource {
    let s = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    SweptResource {
        kind: kind.map_or_else(|| s("type"), str::to_string),
        name: s("name"),
        id: s("id"),
        parent: parent.map(str::to_string),
        tags: tags_of(v, tags),
    }
}

/// The Azure sweeper: resource groups (with what is in them) and soft-deleted Key Vaults of
/// the stacks a [`SweepFilter`] selects. Deleting a group deletes everything in it; the
/// sweeper waits for each through the core's [`Poller`], then purges the vaults that went
/// with it. A failure to delete or purge ends the sweep with that error.
#[derive(Debug, Clone)]
pub struct AzureSweeper {
    az: Arc<AzureContext>,
    poller: Poller,
}

impl AzureSweeper {
    /// A sweeper on `az`, waiting with the default [`Poller`].
    pub fn new(az: Arc<AzureContext>) -> Self {
        Self {
            az,
            poller: Poller::default(),
        }
    }

    /// Waits for deletions and purges as `poller` says.
    #[must_use]
    pub fn with_poller(mut self, poller: Poller) -> Self {
        self.poller = poller;
        self
    }

    /// The selected resource groups, each followed by what is in it.
    async fn groups(&self, filter: &SweepFilter) -> Result<Vec<SweptResource>, ProviderError> {
        let az = &self.az;
        let sub = format!("/subscriptions/{}", az.subscription);
        let mut out = Vec::new();
        let groups = list(
            az,
            &format!("{sub}/resourcegroups"),
            api_versions::RESOURCES,
        )
        .await?;
        for g in groups {
            let group = found(&g, Some(RESOURCE_GROUP_TYPE), "/tags", None);
            if !filter.matches(&group.tags) {
                continue;
            }
            let path = format!("{}/resources", group.id);
            let inside = list(az, &path, api_versions::RESOURCES).await?;
            let id = group.id.clone();
            out.push(group);
            out.extend(inside.iter().map(|r| found(r, None, "/tags", Some(&id))));
        }
        Ok(out)
    }

    /// The selected soft-deleted vaults.
    async fn deleted_vaults(
        &self,
        filter: &SweepFilter,
    ) -> Result<Vec<SweptResource>, ProviderError> {
        let path = format!(
            "/subscriptions/{}/providers/Microsoft.KeyVault/deletedVaults",
            self.az.subscription
        );
        let deleted = list(&self.az, &path, api_versions::KEY_VAULT).await?;
        Ok(deleted
            .iter()
            .map(|v| found(v, Some(DELETED_VAULT_TYPE), "/properties/tags", None))
            .filter(|v| filter.matches(&v.tags))
            .collect())
    }
}

#[async_trait]
impl Sweeper for AzureSweeper {
    async fn find(&self, filter: &SweepFilter) -> Result<Vec<SweptResource>, ProviderError> {
        let mut found = self.groups(filter).await?;
        found.extend(self.deleted_vaults(filter).await?);
        Ok(found)
    }

    /// Deletes the groups first: the vaults in them become soft-deleted vaults, listed (and
    /// purged) after.
    async fn sweep(
        &self,
        filter: &SweepFilter,
        dry_run: bool,
    ) -> Result<SweepReport, ProviderError> {
        let mut report = SweepReport {
            dry_run,
            found: self.groups(filter).await?,
            ..SweepReport::default()
        };
        if !dry_run {
            let groups: Vec<SweptResource> =
                report.found_of(RESOURCE_GROUP_TYPE).cloned().collect();
            for g in groups {
                delete_group(&self.az, &g.id, &self.poller).await?;
                report.deleted.push(g);
            }
        }
        let vaults = self.deleted_vaults(filter).await?;
        report.found.extend(vaults.iter().cloned());
        if !dry_run {
            for v in vaults {
                purge(&self.az, &v.id, &self.poller).await?;
                report.deleted.push(v);
            }
        }
        Ok(report)
    }
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
