//! [`Stack::refresh`]: one read of every recorded resource, and what changed outside the
//! stack recorded in state.

use std::collections::BTreeMap;

use chrono::Utc;

use super::Stack;
use crate::engine::Error;
use crate::observation::{Observation, Observed};
use crate::provider::Owner;
use crate::refresh::{RefreshReport, RefreshStatus, RefreshedResource};
use crate::resource::{ResourceGraph, ResourceId};
use crate::state::{ResourceRecord, StackState};

impl Stack {
    /// Reads every resource recorded in state (one observation each, as recorded: its
    /// applied config, its dependencies' recorded outputs) and records what changed outside
    /// the stack: a resource gone from the cloud is dropped from state (the next plan
    /// creates it again); one changed has its new outputs recorded and its drift noted. The
    /// next [`plan`](Stack::plan) shows the drift field by field (`spec.replicas: 2 -> 5`)
    /// and [`up`](Stack::up) repairs it. Takes the state lock; writes state only when
    /// something changed. A stack with nothing recorded is [`Error::NotUp`]. Records of
    /// kinds the provider no longer handles are left out of the report, as they are.
    pub async fn refresh(&self) -> Result<RefreshReport, Error> {
        self.locked("refresh", async |_cancel| {
            let key = self.key().await?;
            let Some(mut state) = self.load_state(&key, true).await? else {
                return Err(Error::NotUp { key });
            };
            let observations = self.observe_recorded(&state).await?;
            let now = Utc::now();
            let mut report = RefreshReport::default();
            let mut changed = false;
            for (id, observation) in observations {
                let Some(rec) = state.resources.get_mut(&id) else {
                    continue;
                };
                let status = match observation {
                    Observation::Absent => RefreshStatus::Vanished,
                    Observation::Present(o) => {
                        let (status, updated) = refreshed(rec, o);
                        if updated {
                            rec.updated_at = now;
                            changed = true;
                        }
                        status
                    }
                };
                report.resources.push(RefreshedResource {
                    id: id.clone(),
                    kind: rec.kind,
                    name: rec.name.clone(),
                    status,
                });
            }
            for r in &report.resources {
                if r.status == RefreshStatus::Vanished {
                    state.resources.remove(&r.id);
                    changed = true;
                }
            }
            if changed {
                state.serial += 1;
                state.updated_at = now;
                self.store.save(&state).await?;
            }
            Ok(report)
        })
        .await
    }

    /// One observation of each recorded resource (of a kind with ops), by id.
    async fn observe_recorded(
        &self,
        state: &StackState,
    ) -> Result<BTreeMap<ResourceId, Observation>, Error> {
        let backends = self.backends();
        backends.remember_cluster(Some(state));
        let mut graph = ResourceGraph::new();
        for rec in state.resources.values() {
            if backends.ops_for(rec.kind).is_some() {
                graph.add(rec.to_resource())?;
            }
        }
        let recorded: Vec<Option<&ResourceRecord>> = graph
            .resources()
            .iter()
            .map(|r| state.resources.get(&r.id))
            .collect();
        let ctx = self.context(Some(state));
        let limits = (self.options.parallelism, &self.options.retry);
        let observations =
            crate::planner::observe_all(&backends, &graph, &recorded, &ctx, limits, false).await?;
        Ok(graph
            .resources()
            .iter()
            .zip(observations)
            .filter_map(|(r, o)| Some((r.id.clone(), o?)))
            .collect())
    }
}

/// What observation `o` of recorded resource `rec` says, and whether `rec` was updated (new
/// outputs, drift noted or cleared).
fn refreshed(rec: &mut ResourceRecord, o: Observed) -> (RefreshStatus, bool) {
    if o.owner != Owner::Us && !rec.read_only {
        return (RefreshStatus::Foreign, false);
    }
    let mut outputs = rec.outputs.clone();
    outputs.merge(o.outputs);
    let changed_outputs: Vec<String> = outputs
        .as_map()
        .iter()
        .filter(|(k, v)| rec.outputs.get(k) != Some(*v))
        .map(|(k, _)| k.clone())
        .collect();
    let updated = !changed_outputs.is_empty() || rec.drift != o.drift;
    if updated {
        rec.outputs = outputs;
        rec.drift = o.drift.clone();
    }
    let status = if o.drift.is_none() && changed_outputs.is_empty() && o.unhealthy.is_none() {
        RefreshStatus::Unchanged
    } else {
        RefreshStatus::Changed {
            drift: o.drift,
            outputs: changed_outputs,
            unhealthy: o.unhealthy,
        }
    };
    (status, updated)
}
