//! What one run works with: the provider, the attached workload backend and the stack's
//! cluster access. The planner and the executor find the ops of every resource through
//! [`Backends::ops_for`]: the kind's row in the provider's [`KindTable`], else in the
//! workload backend's.

use std::sync::Arc;
use std::time::Duration;

use crate::access::ClusterAccess;
use crate::kind::{KindDef, ResourceKind};
use crate::provider::{CloudProvider, KindTable, ResourceOps, RunServices, WorkloadOps};
use crate::state::StackState;

/// The backends of one run.
pub(crate) struct Backends {
    pub provider: Arc<dyn CloudProvider>,
    pub workloads: Option<Arc<dyn WorkloadOps>>,
    pub access: ClusterAccess,
}

impl Backends {
    /// The backends of a run on `provider` with an optional workload backend.
    pub fn new(
        provider: Arc<dyn CloudProvider>,
        workloads: Option<Arc<dyn WorkloadOps>>,
        access: ClusterAccess,
    ) -> Self {
        Self {
            provider,
            workloads,
            access,
        }
    }

    /// The table with a row for `kind`: the provider's, else the workload backend's.
    fn table_of(&self, kind: ResourceKind) -> Option<&KindTable> {
        let provider = self.provider.kind_table();
        if provider.def(kind).is_some() {
            return Some(provider);
        }
        self.workloads
            .as_deref()
            .map(|w| w.kind_table())
            .filter(|t| t.def(kind).is_some())
    }

    /// The declaration of `kind`.
    pub fn def(&self, kind: ResourceKind) -> Option<&KindDef> {
        self.table_of(kind)?.def(kind)
    }

    /// The ops handling `kind`, or `None` if no backend of this run declares it.
    pub fn ops_for(&self, kind: ResourceKind) -> Option<&dyn ResourceOps> {
        self.table_of(kind)?.ops(kind)
    }

    /// The wait timeout of `kind`: an explicit override, else its declaration's, else
    /// `default`.
    pub fn timeout(
        &self,
        kind: ResourceKind,
        overrides: &std::collections::HashMap<ResourceKind, Duration>,
        default: Duration,
    ) -> Duration {
        overrides
            .get(&kind)
            .copied()
            .or_else(|| self.def(kind).map(|d| d.timeout))
            .unwrap_or(default)
    }

    /// The services operations share.
    pub fn services(&self) -> RunServices<'_> {
        RunServices {
            cloud: self.provider.as_ref(),
            cluster: &self.access,
        }
    }

    /// Tells the cluster access the stack's cluster outputs recorded in `state`.
    pub fn remember_cluster(&self, state: Option<&StackState>) {
        if let Some(rec) = state.and_then(|s| {
            s.resources
                .values()
                .find(|r| r.kind == ResourceKind::CLUSTER)
        }) {
            self.access.set_cluster(&rec.outputs);
        }
    }
}
