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
use crate::engine::{Error, ResourceFailure};
use crate::error::{ErrorKind, ProviderError};
use crate::events::{Event, EventBus};
use crate::kind::ServiceFamily;
use crate::plan::{Action, Plan};
use crate::planner::resource_of;
use crate::provider::{OpContext, Outputs, ResourceOps, StackContext};
use crate::resource::{Resource, ResourceId, ResourceKind};
use crate::retry::{Poller, RetryPolicy};
use crate::state::{ResourceRecord, StackState, StateStore};

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
}

impl Executor<'_> {
    /// Applies `plan` to `state`; returns the final state or the failures.
    pub(crate) async fn apply(&self, plan: &Plan, state: StackState) -> Result<StackState, Error> {
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
    ) -> Result<StackState, Error> {
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
        Ok(state)
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
                self.wait_ready(ops, resource, &deps, observed)
                    .await
                    .map(Some)
            }
            Action::Update => self
                .update(ops, resource, &deps, recorded.as_ref())
                .await
                .map(Some),
            Action::Delete => self
                .delete(ops, resource, &deps, recorded.as_ref())
                .await
                .map(|()| None),
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
        self.wait_ready(ops, r, deps, outputs).await
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
        self.wait_ready(ops, r, deps, outputs).await
    }

    async fn wait_ready(
        &self,
        ops: &dyn ResourceOps,
        r: &Resource,
        deps: &BTreeMap<ResourceId, Outputs>,
        mut outputs: Outputs,
    ) -> Result<Outputs, ProviderError> {
        let snapshot = outputs.clone();
        let ctx = self.ctx(r, deps, Some(&snapshot));
        let more = self
            .options
            .poller
            .await_condition(
                self.backends
                    .timeout(r.kind, &self.options.timeouts, self.options.default_timeout),
                &self.options.retry,
                || ops.ready(&ctx),
                |status| {
                    self.events.emit(Event::ResourceProgress {
                        id: r.id.clone(),
                        status: status.to_string(),
                    })
                },
            )
            .await?;
        outputs.merge(more);
        Ok(outputs)
    }

    async fn delete(
        &self,
        ops: &dyn ResourceOps,
        r: &Resource,
        deps: &BTreeMap<ResourceId, Outputs>,
        recorded: Option<&Outputs>,
    ) -> Result<(), ProviderError> {
        if r.read_only {
            // Not the stack's: forgotten (dropped from state), never deleted.
            return Ok(());
        }
        let ctx = self.ctx(r, deps, recorded);
        self.options
            .retry
            .run(|| ops.delete(&ctx), self.on_retry(&r.id))
            .await?;
        self.options
            .poller
            .await_condition(
                self.backends
                    .timeout(r.kind, &self.options.timeouts, self.options.default_timeout),
                &self.options.retry,
                || ops.gone(&ctx),
                |status| {
                    self.events.emit(Event::ResourceProgress {
                        id: r.id.clone(),
                        status: status.to_string(),
                    })
                },
            )
            .await?;
        Ok(())
    }
}

/// The DAG of a plan: nodes `0..n` are the actions; a Replace gets a second node (`n..`)
/// for deleting the old resource, which runs with the deletions. Forward actions wait for
/// their dependencies (and a replacement for its own deletion); deletions wait for the
/// deletion of everything that depends on them (reverse order). Returns each node's
/// dependencies and, for the extra nodes, the action they belong to.
/// The DAG of the plan's actions: creations after what they depend on, removals before what
/// their resource depended on. Removals of Kubernetes objects (`is_workload`) also come before
/// every other removal: the cluster must still answer for them, and what they made in the
/// cloud (load balancers, volumes, network interfaces) must be gone before the network is.
fn dependency_nodes(
    plan: &Plan,
    is_workload: impl Fn(ResourceKind) -> bool,
) -> (Vec<Vec<usize>>, Vec<usize>) {
    let n = plan.actions.len();
    let index: HashMap<&ResourceId, usize> = plan
        .actions
        .iter()
        .enumerate()
        .map(|(i, a)| (&a.id, i))
        .collect();
    let mut delete_node: HashMap<usize, usize> = HashMap::new();
    let mut phase_of = Vec::new();
    for (i, a) in plan.actions.iter().enumerate() {
        if a.action == Action::Replace {
            delete_node.insert(i, n + phase_of.len());
            phase_of.push(i);
        }
    }
    let removal = |j: usize| match plan.actions[j].action {
        Action::Delete => Some(j),
        Action::Replace => delete_node.get(&j).copied(),
        _ => None,
    };
    let mut deps = vec![Vec::new(); n + phase_of.len()];
    for (i, a) in plan.actions.iter().enumerate() {
        // The node that removes this resource, if it is removed.
        if let Some(me) = removal(i) {
            for d in &a.depends_on {
                if let Some(other) = index.get(d).and_then(|&j| removal(j)) {
                    deps[other].push(me);
                }
            }
        }
        if a.action != Action::Delete {
            deps[i] = a
                .depends_on
                .iter()
                .filter_map(|d| index.get(d).copied())
                .filter(|&j| plan.actions[j].action != Action::Delete)
                .collect();
            if let Some(&k) = delete_node.get(&i) {
                deps[i].push(k);
            }
        }
    }
    let removals = (0..n).filter_map(|i| removal(i).map(|node| (i, node)));
    let (apps, infra): (Vec<_>, Vec<_>) =
        removals.partition(|&(i, _)| is_workload(plan.actions[i].kind));
    for &(_, node) in &infra {
        deps[node].extend(apps.iter().map(|&(_, app)| app));
    }
    (deps, phase_of)
}
