//! [`KindTable`]: the one place a provider (or a workload backend) says which ops handle
//! which kind.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use super::ResourceOps;
use crate::kind::KindDef;
use crate::resource::ResourceKind;

/// One provider's kinds: each row a kind's declaration and the ops that handle it.
///
/// Built once (in the provider's constructor) and handed out by
/// [`CloudProvider::kind_table`](super::CloudProvider::kind_table) or
/// [`WorkloadOps::kind_table`](super::WorkloadOps::kind_table); the engine finds the ops of a
/// resource by its kind here and nowhere else.
#[derive(Clone, Default)]
pub struct KindTable {
    defs: Vec<KindDef>,
    ops: Vec<Arc<dyn ResourceOps>>,
    index: HashMap<ResourceKind, usize>,
}

impl KindTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a row (builder style). A kind given twice is a programming error: the first row
    /// is kept (and debug builds panic).
    #[must_use]
    pub fn row(self, def: KindDef, ops: impl ResourceOps + 'static) -> Self {
        self.row_shared(def, Arc::new(ops))
    }

    /// Adds a row whose ops are shared (several kinds on one `Arc`'d ops value).
    #[must_use]
    pub fn row_shared(mut self, def: KindDef, ops: Arc<dyn ResourceOps>) -> Self {
        debug_assert!(
            !self.index.contains_key(&def.kind),
            "kind {} is in the table twice",
            def.kind
        );
        if !self.index.contains_key(&def.kind) {
            self.index.insert(def.kind, self.defs.len());
            self.defs.push(def);
            self.ops.push(ops);
        }
        self
    }

    /// Every declared kind, in row order.
    pub fn defs(&self) -> &[KindDef] {
        &self.defs
    }

    /// The ops handling `kind`, if it has a row.
    pub fn ops(&self, kind: ResourceKind) -> Option<&dyn ResourceOps> {
        self.index.get(&kind).map(|&i| self.ops[i].as_ref())
    }

    /// The declaration of `kind`, if it has a row.
    pub fn def(&self, kind: ResourceKind) -> Option<&KindDef> {
        self.index.get(&kind).map(|&i| &self.defs[i])
    }
}

impl fmt::Debug for KindTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.defs.iter().map(|d| d.kind))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ProviderError;
    use crate::kind::ServiceFamily;
    use crate::outputs::Outputs;
    use crate::provider::{Observation, OpContext};
    use async_trait::async_trait;

    struct Fixed(bool);

    #[async_trait]
    impl ResourceOps for Fixed {
        async fn observe(&self, _ctx: &OpContext<'_>) -> Result<Observation, ProviderError> {
            Ok(Observation::Absent)
        }
        async fn create(&self, _ctx: &OpContext<'_>) -> Result<Outputs, ProviderError> {
            Ok(Outputs::new())
        }
        async fn delete(&self, _ctx: &OpContext<'_>) -> Result<(), ProviderError> {
            Ok(())
        }
        fn supports_update(&self) -> bool {
            self.0
        }
    }

    const A: ResourceKind = ResourceKind::new("table_test_a");
    const B: ResourceKind = ResourceKind::new("table_test_b");

    #[test]
    fn each_kind_finds_the_ops_of_its_row() {
        let shared: Arc<dyn ResourceOps> = Arc::new(Fixed(true));
        let t = KindTable::new()
            .row(KindDef::new(A, ServiceFamily::Network), Fixed(false))
            .row_shared(KindDef::new(B, ServiceFamily::Cache), shared);
        assert_eq!(t.defs().iter().map(|d| d.kind).collect::<Vec<_>>(), [A, B]);
        assert_eq!(t.ops(A).map(|o| o.supports_update()), Some(false));
        assert_eq!(t.ops(B).map(|o| o.supports_update()), Some(true));
        assert_eq!(t.def(B).map(|d| d.family), Some(ServiceFamily::Cache));
        assert!(t.ops(ResourceKind::CLUSTER).is_none());
        assert!(t.def(ResourceKind::CLUSTER).is_none());
        assert_eq!(format!("{t:?}"), "[table_test_a, table_test_b]");
    }
}
