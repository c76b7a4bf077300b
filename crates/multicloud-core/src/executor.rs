//! Applying a [`Plan`]: concurrent along the dependency graph, retries for retryable errors,
//! readiness and deletion waits through the shared poller, and state saved after every
//! resource that completes.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::backends::Backends;
use crate::dag::{self, NodeState};
use crate::down::{Fate, LeftBehind};
use crate::engine::{Error, ResourceFailure};
use crate::error::{ErrorKind, ProviderError};
use crate::events::{Event, EventBus};
use crate::kind::ServiceFamily;
use crate::pacing::Phase;
use crate::plan::{Action, Plan};
use crate::planner::resource_of;
use crate::provider::{OpContext, Outputs, ResourceOps, StackContext};
use crate::resource::{Resource, ResourceId, ResourceKind};
use crate::retry::{Poller, RetryPolicy};
use crate::state::{ResourceRecord, StackState, StateStore};

mod nodes;
mod waits;
use nodes::dependency_nodes;

/// How plans are applied.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Most resources worked on at once (default 10).
    pub parallelism: usize,
    /// Retries of retryable errors.
    pub retry: RetryPolicy,
    /// Readiness / deletion polling.
    pub poller: Poller,
    /// Per-kind wait timeouts overriding the kinds' declared ones
    /// ([`KindDef::timeout`](crate::kind::KindDef::timeout)); empty by default.
    pub timeouts: HashMap<ResourceKind, Duration>,
    /// Wait timeout of a kind nobody declared a timeout for (default 10 minutes).
    pub default_timeout: Duration,
    /// A resource whose holdings (a registry token in a pull secret…) expire sooner than
    /// this is renewed by `up` (default 1 hour).
    pub renew_before: Duration,
    /// Cluster credentials are fetched again when they have less than this left (default
    /// 60 s).
    pub refresh_credentials_before: Duration,
    /// Lease of the state lock (default [`DEFAULT_LEASE`](crate::state::DEFAULT_LEASE),
    /// 60 s): renewed every third of it while the run lasts; a run killed without releasing
    /// its lock blocks others for at most this long (not at all on the same machine).
    pub lock_lease: Duration,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self {
            parallelism: 10,
            retry: RetryPolicy::default(),
            poller: Poller::default(),
            timeouts: HashMap::new(),
            default_timeout: Duration::from_secs(600),
            renew_before: Duration::from_secs(3600),
            refresh_credentials_before: Duration::from_secs(60),
            lock_lease: crate::state::DEFAULT_LEASE,
        }
    }
}

/// Everything a run needs.
pub(crate) struct Executor<'a> {
    pub backends: &'a Backends,
    pub store: &'a dyn StateStore,
    pub options: &'a ApplyOptions,
    pub events: &'a EventBus,
    pub cancel: &'a CancellationToken,
    pub stack: &'a StackContext,
}

impl Executor<'_> {
    /// Whether `kind` is a Kubernetes object (handled by the workloads backend).
    fn is_workload(&self, kind: ResourceKind) -> bool {
        self.backends
            .def(kind)
            .is_some_and(|d| d.family == ServiceFamily::Workloads)
    }
}

struct Shared {
    /// The state as completed so far (ahead of what is saved while a write is running).
    state: Mutex<StackState>,
    /// Wakes the state writer.
    dirty: tokio::sync::Notify,
    /// Set when no more completions will come.
    finished: std::sync::atomic::AtomicBool,
    /// The first error of the state writer.
    save_error: Mutex<Option<crate::state::StateError>>,
    outputs: Mutex<BTreeMap<ResourceId, Outputs>>,
    failures: Mutex<Vec<ResourceFailure>>,
    /// What `delete` left in place ([`ErrorKind::LeftBehind`]), forgotten.
    left_behind: Mutex<Vec<LeftBehind>>,
    /// Whether the run deletes the stack's own cluster (what is inside goes with it).
    deletes_cluster: bool,
}

/// What a run did: the final state and what its deletions left in place.
#[derive(Debug)]
pub(crate) struct Applied {
    /// The state after the run.
    pub state: StackState,
    /// The resources left behind (forgotten, not deleted).
    pub left_behind: Vec<LeftBehind>,
}

impl Executor<'_> {
    /// Applies `plan` to `state`; returns the final state (and what was left behind) or the
    /// failures.
    pub(crate) async fn apply(&self, plan: &Plan, state: StackState) -> Result<Applied, Error> {
        let started = Instant::now();
        let n = plan.actions.len();
        let (deps, phase_of) = dependency_nodes(plan, |k| self.is_workload(k));
        let mut outputs: BTreeMap<ResourceId, Outputs> = state
            .resources
            .iter()
            .map(|(id, r)| (id.clone(), r.outputs.clone()))
            .collect();
        for (id, (_, o)) in &plan.known_outputs {
            outputs.insert(id.clone(), o.clone());
        }
        if let Some(o) = plan
            .known_outputs
            .iter()
            .find(|(id, _)| id.kind_name() == ResourceKind::CLUSTER.as_str())
            .map(|(_, (_, o))| o)
        {
            self.backends.access.set_cluster(o);
        }
        for (id, rec) in &plan.to_delete {
            outputs
                .entry(id.clone())
                .or_insert_with(|| rec.outputs.clone());
        }
        let initial_serial = state.serial;
        let shared = Shared {
            state: Mutex::new(state),
            dirty: tokio::sync::Notify::new(),
            finished: std::sync::atomic::AtomicBool::new(false),
            save_error: Mutex::new(None),
            outputs: Mutex::new(outputs),
            failures: Mutex::new(Vec::new()),
            left_behind: Mutex::new(Vec::new()),
            deletes_cluster: deletes_cluster(plan),
        };
        let run = async {
            let result = dag::run(&deps, self.options.parallelism, self.cancel, |node| {
                let shared = &shared;
                let (i, removing_old) = match node.checked_sub(n) {
                    Some(k) => (phase_of[k], true),
                    None => (node, false),
                };
                async move {
                    let a = &plan.actions[i];
                    if a.action == Action::NoOp {
                        return true;
                    }
                    let span = tracing::info_span!("resource", id = %a.id, kind = %a.kind, action = %a.action);
                    self.run_one(plan, i, removing_old, shared).instrument(span).await
                }
            })
            .await;
            shared
                .finished
                .store(true, std::sync::atomic::Ordering::SeqCst);
            shared.dirty.notify_one();
            result
        };
        let ((states, cancelled), ()) =
            tokio::join!(run, self.write_state(&shared, initial_serial));
        self.finish(plan, &states, cancelled, shared, started)
    }

    /// Reports the end of a run and turns what happened into its result.
    fn finish(
        &self,
        plan: &Plan,
        states: &[NodeState],
        cancelled: bool,
        shared: Shared,
        started: Instant,
    ) -> Result<Applied, Error> {
        let succeeded = states
            .iter()
            .zip(&plan.actions)
            .filter(|(s, a)| **s == NodeState::Done && a.action != Action::NoOp)
            .count();
        let failures = shared.failures.into_inner().unwrap_or_default();
        let skipped = states
            .iter()
            .filter(|s| **s == NodeState::NotStarted)
            .count();
        self.events.emit(Event::Finished {
            succeeded,
            failed: failures.len(),
            elapsed: started.elapsed(),
        });
        let state = shared.state.into_inner().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = shared.save_error.into_inner().ok().flatten() {
            return Err(e.into());
        }
        if !failures.is_empty() {
            return Err(Error::Apply {
                failures,
                succeeded,
                skipped,
            });
        }
        if cancelled {
            return Err(Error::Cancelled {
                completed: succeeded,
            });
        }
        Ok(Applied {
            state,
            left_behind: shared.left_behind.into_inner().unwrap_or_default(),
        })
    }

    /// Runs action `i`; for a Replace, `removing_old` selects the deletion of the old resource
    /// (its first half) instead of the creation of the new one.
    async fn run_one(&self, plan: &Plan, i: usize, removing_old: bool, shared: &Shared) -> bool {
        let a = &plan.actions[i];
        let action = if removing_old {
            Action::Delete
        } else {
            a.action
        };
        let Some(resource) = resource_of(plan, &a.id) else {
            return false;
        };
        let Some(ops) = self.backends.ops_for(resource.kind) else {
            return self.fail(
                shared,
                action,
                &resource.id,
                ProviderError::new(
                    ErrorKind::Unsupported,
                    format!("no ops for {}", resource.kind),
                ),
            );
        };
        self.events.emit(Event::ResourceStarted {
            id: a.id.clone(),
            kind: a.kind,
            action,
        });
        let started = Instant::now();
        let result = match action {
            Action::NoOp => return true,
            action => self.dispatch(action, ops, &resource, shared).await,
        };
        match result {
            Ok(outputs) => {
                let provider_id = match action {
                    Action::Adopt | Action::Update | Action::NoOp => {
                        plan.known_outputs.get(&a.id).and_then(|(p, _)| p.clone())
                    }
                    _ => None,
                };
                if let Err(e) = self.record(shared, &resource, provider_id, outputs) {
                    return self.fail(shared, action, &a.id, e);
                }
                if action == Action::Delete && left_behind(shared, &a.id) {
                    return true;
                }
                self.events.emit(Event::ResourceSucceeded {
                    id: a.id.clone(),
                    action,
                    elapsed: started.elapsed(),
                });
                true
            }
            Err(e) => self.fail(shared, action, &a.id, e),
        }
    }

    /// Carries out `action` on `resource`: its new outputs, or `None` once deleted.
    async fn dispatch(
        &self,
        action: Action,
        ops: &dyn ResourceOps,
        resource: &Resource,
        shared: &Shared,
    ) -> Result<Option<Outputs>, ProviderError> {
        let (deps, recorded) = match shared.outputs.lock() {
            Ok(all) => (
                resource
                    .depends_on
                    .iter()
                    .filter_map(|d| all.get(d).map(|o| (d.clone(), o.clone())))
                    .collect(),
                all.get(&resource.id).cloned(),
            ),
            Err(_) => (BTreeMap::new(), None),
        };
        match action {
            // A replacement's old resource is gone by now (its deletion node ran first).
            Action::Create | Action::Replace => self.create(ops, resource, &deps).await.map(Some),
            Action::Adopt => {
                let observed = recorded.unwrap_or_default();
                self.wait_ready(ops, resource, &deps, observed, None)
                    .await
                    .map(Some)
            }
            Action::Update => self
                .update(ops, resource, &deps, recorded.as_ref())
                .await
                .map(Some),
            Action::Delete => {
                if let Some(why) = self.delete(ops, resource, &deps, recorded.as_ref()).await? {
                    self.leave_behind(shared, resource, why);
                }
                Ok(None)
            }
            Action::NoOp => Ok(recorded),
        }
    }

    fn fail(&self, shared: &Shared, action: Action, id: &ResourceId, error: ProviderError) -> bool {
        tracing::warn!(error = %error, "resource failed");
        self.events.emit(Event::ResourceFailed {
            id: id.clone(),
            action,
            error: error.to_string(),
        });
        if let Ok(mut f) = shared.failures.lock() {
            f.push(ResourceFailure {
                id: id.clone(),
                action,
                error,
            });
        }
        false
    }

    /// The state writer: saves the state whenever completions made it newer than what is
    /// saved. Completions that land while a write runs are coalesced into the next write, so
    /// dependents never wait for a disk sync and a burst of completions costs one write.
    async fn write_state(&self, shared: &Shared, mut saved: u64) {
        loop {
            let finished = shared.finished.load(std::sync::atomic::Ordering::SeqCst);
            let snapshot = shared
                .state
                .lock()
                .ok()
                .filter(|s| s.serial != saved)
                .map(|s| s.clone());
            match snapshot {
                Some(state) => {
                    saved = state.serial;
                    if let Err(e) = self.store.save(&state).await {
                        tracing::error!(error = %e, "could not save state");
                        if let Ok(mut slot) = shared.save_error.lock() {
                            slot.get_or_insert(e);
                        }
                    }
                }
                None if finished => return,
                None => shared.dirty.notified().await,
            }
        }
    }

    /// Records the outcome in the state (`None` outputs = deleted) and wakes the writer.
    fn record(
        &self,
        shared: &Shared,
        resource: &Resource,
        provider_id: Option<String>,
        outputs: Option<Outputs>,
    ) -> Result<(), ProviderError> {
        let mut state = shared
            .state
            .lock()
            .map_err(|_| ProviderError::new(ErrorKind::Other, "state lock poisoned by a panic"))?;
        match outputs {
            Some(outputs) => {
                let provider_id = provider_id.or_else(|| outputs.cloud_id().map(str::to_string));
                if resource.kind == ResourceKind::CLUSTER {
                    self.backends.access.set_cluster(&outputs);
                }
                if let Ok(mut o) = shared.outputs.lock() {
                    o.insert(resource.id.clone(), outputs.clone());
                }
                let mut rec = ResourceRecord::new(resource, provider_id, outputs);
                if let Some(prev) = state.resources.get(&resource.id) {
                    rec.created_at = prev.created_at;
                }
                state.resources.insert(resource.id.clone(), rec);
            }
            None => {
                if let Ok(mut o) = shared.outputs.lock() {
                    o.remove(&resource.id);
                }
                state.resources.remove(&resource.id);
            }
        }
        state.serial += 1;
        state.updated_at = chrono::Utc::now();
        drop(state);
        shared.dirty.notify_one();
        Ok(())
    }

    fn ctx<'c>(
        &'c self,
        resource: &'c Resource,
        deps: &'c BTreeMap<ResourceId, Outputs>,
        recorded: Option<&'c Outputs>,
    ) -> OpContext<'c> {
        OpContext {
            resource,
            stack: self.stack,
            deps,
            recorded,
            run: Some(self.backends.services()),
        }
    }

    fn on_retry<'s>(
        &'s self,
        id: &'s ResourceId,
    ) -> impl FnMut(u32, Duration, &ProviderError) + 's {
        move |attempt, delay, e| {
            tracing::info!(attempt, ?delay, error = %e, "retrying");
            self.events.emit(Event::ResourceRetrying {
                id: id.clone(),
                attempt,
                delay,
                error: e.to_string(),
            });
        }
    }

    async fn create(
        &self,
        ops: &dyn ResourceOps,
        r: &Resource,
        deps: &BTreeMap<ResourceId, Outputs>,
    ) -> Result<Outputs, ProviderError> {
        let ctx = self.ctx(r, deps, None);
        let outputs = self
            .options
            .retry
            .run(|| ops.create(&ctx), self.on_retry(&r.id))
            .await?;
        self.wait_ready(ops, r, deps, outputs, Some(Phase::Create))
            .await
    }

    async fn update(
        &self,
        ops: &dyn ResourceOps,
        r: &Resource,
        deps: &BTreeMap<ResourceId, Outputs>,
        recorded: Option<&Outputs>,
    ) -> Result<Outputs, ProviderError> {
        let ctx = self.ctx(r, deps, recorded);
        let mut outputs = recorded.cloned().unwrap_or_default();
        let updated = self
            .options
            .retry
            .run(|| ops.update(&ctx), self.on_retry(&r.id))
            .await?;
        outputs.merge(updated);
        self.wait_ready(ops, r, deps, outputs, None).await
    }

    async fn wait_ready(
        &self,
        ops: &dyn ResourceOps,
        r: &Resource,
        deps: &BTreeMap<ResourceId, Outputs>,
        mut outputs: Outputs,
        phase: Option<Phase>,
    ) -> Result<Outputs, ProviderError> {
        let snapshot = outputs.clone();
        let ctx = self.ctx(r, deps, Some(&snapshot));
        let more = self.wait_for(r, phase, || ops.ready(&ctx)).await?;
        outputs.merge(more);
        Ok(outputs)
    }

    /// Deletes `r` and waits until it is gone; `Some(why)` when its `delete` left it in
    /// place ([`ErrorKind::LeftBehind`]): then there is nothing to wait for.
    async fn delete(
        &self,
        ops: &dyn ResourceOps,
        r: &Resource,
        deps: &BTreeMap<ResourceId, Outputs>,
        recorded: Option<&Outputs>,
    ) -> Result<Option<ProviderError>, ProviderError> {
        if r.read_only {
            // Not the stack's: forgotten (dropped from state), never deleted.
            return Ok(None);
        }
        let ctx = self.ctx(r, deps, recorded);
        match self
            .options
            .retry
            .run(|| ops.delete(&ctx), self.on_retry(&r.id))
            .await
        {
            Err(e) if e.kind() == ErrorKind::LeftBehind => return Ok(Some(e)),
            other => other?,
        }
        self.wait_for(r, Some(Phase::Delete), || ops.gone(&ctx))
            .await?;
        Ok(None)
    }

    /// Records that `r` was left in place (it is forgotten like a deleted resource) and
    /// says so.
    fn leave_behind(&self, shared: &Shared, r: &Resource, why: ProviderError) {
        let fate = if shared.deletes_cluster && self.is_workload(r.kind) {
            Fate::GoneWithCluster
        } else {
            Fate::Remains
        };
        let reason = why.message().to_string();
        tracing::warn!(id = %r.id, %reason, ?fate, "left behind, not deleted");
        self.events.emit(Event::ResourceLeftBehind {
            id: r.id.clone(),
            reason: reason.clone(),
            remains: fate == Fate::Remains,
        });
        if let Ok(mut list) = shared.left_behind.lock() {
            list.push(LeftBehind {
                id: r.id.clone(),
                kind: r.kind,
                name: r.name.clone(),
                reason,
                fate,
            });
        }
    }
}

/// Whether `id` was left behind in this run.
fn left_behind(shared: &Shared, id: &ResourceId) -> bool {
    shared
        .left_behind
        .lock()
        .is_ok_and(|list| list.iter().any(|l| &l.id == id))
}

/// Whether `plan` deletes the stack's own cluster (not an existing one it only forgets):
/// Kubernetes objects left behind inside it go with it.
fn deletes_cluster(plan: &Plan) -> bool {
    plan.actions.iter().any(|a| {
        a.kind == ResourceKind::CLUSTER
            && a.action == Action::Delete
            && resource_of(plan, &a.id).is_some_and(|r| !r.read_only)
    })
}
