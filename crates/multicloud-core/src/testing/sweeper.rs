//! [`MemorySweeper`]: the memory cloud's [`Sweeper`], finding resources by their ownership
//! tags as a cloud's sweeper does.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use super::{MemoryCloud, cluster};
use crate::error::ProviderError;
use crate::resource::ResourceKind;
use crate::sweep::{SweepFilter, Sweeper, SweptResource};

/// The memory cloud's sweeper: every resource whose tags the filter selects (Kubernetes
/// objects first), deleted at once (the default [`Sweeper::sweep`]).
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

    /// Removes `r` from the cloud (with the secrets of its name, and a cluster's contents);
    /// one gone already (with its cluster) is not reported.
    async fn delete_swept(
        &self,
        r: &SweptResource,
        _found: &[SweptResource],
    ) -> Result<bool, ProviderError> {
        let mut inner = self.cloud.lock();
        let Some(gone) = inner.resources.remove(&r.id) else {
            return Ok(false);
        };
        inner.secrets.remove(&gone.name);
        if gone.kind == ResourceKind::CLUSTER {
            inner.remove_contents(&gone);
        }
        Ok(true)
    }
}
