//! [`MemorySweeper`]: the memory cloud's [`Sweeper`], finding resources by their ownership
//! tags as a cloud's sweeper does.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use super::{MemoryCloud, cluster};
use crate::error::ProviderError;
use crate::resource::ResourceKind;
use crate::sweep::{SweepFilter, SweepReport, Sweeper, SweptResource};

/// The memory cloud's sweeper: every resource whose tags the filter selects (Kubernetes
/// objects first), deleted at once.
#[derive(Debug, Clone)]
pub struct MemorySweeper {
    cloud: Arc<MemoryCloud>,
}

impl MemorySweeper {
    /// The sweeper of `cloud`.
    pub fn new(cloud: Arc<MemoryCloud>) -> Self {
        Self { cloud }
    }
}

#[async_trait]
impl Sweeper for MemorySweeper {
    async fn find(&self, filter: &SweepFilter) -> Result<Vec<SweptResource>, ProviderError> {
        let mut found: Vec<(bool, SweptResource)> = self
            .cloud
            .resources()
            .into_iter()
            .filter(|m| filter.matches(&m.tags))
            .map(|m| {
                let swept = SweptResource {
                    kind: m.kind.as_str().to_string(),
                    name: m.name.clone(),
                    id: m.key.clone(),
                    parent: None,
                    tags: BTreeMap::clone(&m.tags),
                };
                (!cluster::is_object(m.kind), swept)
            })
            .collect();
        // Kubernetes objects first, as a real sweeper orders what it found by kind.
        found.sort_by_key(|(cloud_side, _)| *cloud_side);
        let found = found.into_iter().map(|(_, r)| r).collect();
        Ok(found)
    }

    async fn sweep(
        &self,
        filter: &SweepFilter,
        dry_run: bool,
    ) -> Result<SweepReport, ProviderError> {
        let found = self.find(filter).await?;
        let mut deleted = Vec::new();
        if !dry_run {
            let mut inner = self.cloud.lock();
            for r in &found {
                if let Some(gone) = inner.resources.remove(&r.id) {
                    inner.secrets.remove(&gone.name);
                    if gone.kind == ResourceKind::CLUSTER {
                        inner.remove_contents(&gone);
                    }
                    deleted.push(r.clone());
                }
            }
        }
        Ok(SweepReport {
            dry_run,
            found,
            deleted,
            failed: Vec::new(),
        })
    }
}
