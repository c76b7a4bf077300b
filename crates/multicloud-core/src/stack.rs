//! [`Stack`]: a spec bound to a provider and a state store, with `plan`, `up`, `down`.

use std::sync::Arc;

use chrono::Utc;
use futures::stream::BoxStream;
use tokio_util::sync::CancellationToken;

use crate::access::{ClusterAccess, CredentialSource};
use crate::backends::Backends;
use crate::down::DownReport;
use crate::engine::Error;
use crate::events::{Event, EventBus};
use crate::executor::{Applied, ApplyOptions, Executor};
use crate::outputs::StackOutputs;
use crate::plan::{Plan, PlanOptions};
use crate::planner::{self, Mode, PlanInputs};
use crate::provider::{CloudProvider, StackContext, WorkloadOps};
use crate::spec::StackSpec;
use crate::state::{LocalStateStore, LockInfo, StackState, StateKey, StateLock, StateStore};
use crate::tags::Ownership;

mod access_info;
mod refresh;
mod state_key;

/// A stack: what to build ([`StackSpec`]), where ([`CloudProvider`]), and where its state
/// lives ([`StateStore`], `.multicloud/` by default).
///
/// `up` and `down` are safe to re-run: `up` adopts what exists with the stack's ownership
/// tags, `down` deletes what is recorded plus what exists with its tags.
pub struct Stack {
    spec: StackSpec,
    provider: Arc<dyn CloudProvider>,
    workloads: Option<Arc<dyn WorkloadOps>>,
    cluster_access: Option<Arc<dyn CredentialSource>>,
    store: Arc<dyn StateStore>,
    options: ApplyOptions,
    events: EventBus,
    cancel: CancellationToken,
    /// The state key, once the provider said its scope ([`Stack::key`]).
    key: tokio::sync::OnceCell<StateKey>,
}

impl std::fmt::Debug for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stack")
            .field("stack", &self.spec.name)
            .field("environment", &self.spec.environment)
            .field("provider", &self.provider.name())
            .finish_non_exhaustive()
    }
}

impl Stack {
    /// A stack of `spec` on `provider` (a provider value, an `Arc` of one, or an
    /// `Arc<dyn CloudProvider>`), with state in `.multicloud/`.
    pub fn new(spec: StackSpec, provider: impl CloudProvider + 'static) -> Self {
        Self {
            spec,
            provider: Arc::new(provider),
            workloads: None,
            cluster_access: None,
            store: Arc::new(LocalStateStore::new(".multicloud")),
            options: ApplyOptions::default(),
            events: EventBus::default(),
            cancel: CancellationToken::new(),
            key: tokio::sync::OnceCell::new(),
        }
    }

    /// Keeps state in `store`.
    #[must_use]
    pub fn state(mut self, store: impl StateStore + 'static) -> Self {
        self.store = Arc::new(store);
        self
    }

    /// Keeps state in a shared store.
    #[must_use]
    pub fn state_arc(mut self, store: Arc<dyn StateStore>) -> Self {
        self.store = store;
        self
    }

    /// Attaches the backend that puts the apps on the cluster (`multicloud-k8s`); without
    /// one, a spec with apps is refused at plan time. Its operations reach the provider
    /// (pull credentials, secret values) and the cluster through their
    /// [`OpContext::run`](crate::provider::OpContext::run).
    #[must_use]
    pub fn workloads(mut self, workloads: impl WorkloadOps + 'static) -> Self {
        self.workloads = Some(Arc::new(workloads));
        self
    }

    /// Reaches the cluster with `source` instead of the provider's credentials for the
    /// stack's cluster (a kubeconfig, a local control plane in tests).
    #[must_use]
    pub fn cluster_access(mut self, source: impl CredentialSource + 'static) -> Self {
        self.cluster_access = Some(Arc::new(source));
        self
    }

    /// Sets the apply options.
    #[must_use]
    pub fn options(mut self, options: ApplyOptions) -> Self {
        self.options = options;
        self
    }

    /// Sets how many resources are worked on at once.
    #[must_use]
    pub fn parallelism(mut self, n: usize) -> Self {
        self.options.parallelism = n.max(1);
        self
    }

    /// Uses `token` to cancel runs: no new work starts, running work finishes and is
    /// recorded, and the run returns [`Error::Cancelled`].
    #[must_use]
    pub fn cancellation(mut self, token: CancellationToken) -> Self {
        self.cancel = token;
        self
    }

    /// The spec.
    pub fn spec(&self) -> &StackSpec {
        &self.spec
    }

    /// The provider.
    pub fn provider(&self) -> &Arc<dyn CloudProvider> {
        &self.provider
    }

    /// A stream of progress events of every later run.
    pub fn events(&self) -> BoxStream<'static, Event> {
        self.events.stream()
    }

    /// The event bus (to subscribe with a raw receiver).
    pub fn event_bus(&self) -> &EventBus {
        &self.events
    }

    fn context(&self, state: Option<&StackState>) -> StackContext {
        let created_at = state.map(|s| s.created_at).unwrap_or_else(Utc::now);
        let expires_at = self
            .spec
            .ttl
            .and_then(|ttl| chrono::Duration::from_std(ttl).ok())
            .map(|ttl| created_at + ttl);
        StackContext {
            stack: self.spec.name.clone(),
            environment: self.spec.environment.clone(),
            region: self.provider.region(&self.spec),
            ownership: Ownership {
                stack: self.spec.name.clone(),
                environment: self.spec.environment.clone(),
                created_at,
                expires_at,
            },
        }
    }

    /// What `up` would do, without changing anything (reads state and observes each
    /// resource once; takes no lock).
    pub async fn plan(&self) -> Result<Plan, Error> {
        self.plan_mode(Mode::Up, &PlanOptions::default()).await
    }

    /// What `up` would do with `options`: only a target and what it depends on
    /// ([`PlanOptions::target`]), resources replaced on request ([`PlanOptions::replace`]).
    /// An id the options name that the spec and state do not hold (or a read-only resource
    /// to replace) is [`Error::PlanOption`] before anything is read.
    pub async fn plan_with(&self, options: &PlanOptions) -> Result<Plan, Error> {
        self.plan_mode(Mode::Up, options).await
    }

    /// What `down` would do.
    pub async fn plan_down(&self) -> Result<Plan, Error> {
        self.plan_mode(Mode::Down, &PlanOptions::default()).await
    }

    /// The backends of one run.
    fn backends(&self) -> Backends {
        Backends::new(
            self.provider.clone(),
            self.workloads.clone(),
            ClusterAccess::new(
                self.cluster_access.clone(),
                self.options.refresh_credentials_before,
            ),
        )
    }

    async fn plan_mode(&self, mode: Mode, options: &PlanOptions) -> Result<Plan, Error> {
        let backends = self.backends();
        let key = self.key().await?;
        let (state, graph) = self.load_and_expand(&backends, &key, false).await?;
        self.plan_on(&backends, &key, (graph, options), state.as_ref(), mode)
            .await
    }

    /// Loads the state of `key` (the run `holds` its lock, or not) and expands the spec at
    /// the same time (the load runs on the blocking pool while the expansion runs here).
    async fn load_and_expand(
        &self,
        backends: &Backends,
        key: &StateKey,
        holds: bool,
    ) -> Result<(Option<StackState>, crate::resource::ResourceGraph), Error> {
        self.check_attached()?;
        let (state, graph) = tokio::join!(self.load_state(key, holds), async {
            planner::expanded(backends, &self.spec)
        });
        Ok((state?, graph?))
    }

    /// An attached cluster (`existing_cluster: attached`) is reached only through the
    /// credentials the program attaches: without them, a typed spec error before anything.
    fn check_attached(&self) -> Result<(), Error> {
        if self.spec.existing_cluster == Some(crate::spec::ExistingCluster::Attached)
            && self.cluster_access.is_none()
        {
            return Err(Error::Spec(crate::spec::SpecErrors::new(vec![
                crate::spec::ValidationError::new(
                    "spec.existing_cluster",
                    crate::spec::Rule::Required,
                    "an attached cluster needs its credentials: attach them with \
                     `Stack::cluster_access` (e.g. multicloud_k8s::credentials_from_kubeconfig)",
                ),
            ])));
        }
        Ok(())
    }

    async fn plan_on(
        &self,
        backends: &Backends,
        key: &StateKey,
        (graph, options): (crate::resource::ResourceGraph, &PlanOptions),
        state: Option<&StackState>,
        mode: Mode,
    ) -> Result<Plan, Error> {
        let ctx = self.context(state);
        let inputs = PlanInputs {
            key,
            backends,
            stack: &ctx,
            parallelism: self.options.parallelism,
            retry: &self.options.retry,
            renew_before: self.options.renew_before,
            options,
        };
        planner::plan(&inputs, &self.spec, graph, state, mode).await
    }

    /// Runs `f` under the state lock, renewing its lease every third of it; if the lock is
    /// lost (taken over after a long stall), the run is cancelled and
    /// [`StateError::LockLost`](crate::state::StateError::LockLost) returned.
    async fn locked<T>(
        &self,
        operation: &str,
        f: impl AsyncFnOnce(CancellationToken) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let key = self.key().await?;
        let info = LockInfo::for_current_process(operation).with_lease(self.options.lock_lease);
        let mut lock: Box<dyn StateLock> = self.store.lock(&key, info).await?;
        if let Some(previous) = lock.taken_over() {
            tracing::warn!(%key, previous = %previous.holder(), "took over the state lock of a run whose lease ran out");
            self.events.emit(Event::LockTakenOver {
                stack: key.to_string(),
                previous: previous.holder(),
            });
        }
        let run = self.cancel.child_token();
        let finished = CancellationToken::new();
        let work = async {
            let result = f(run.clone()).await;
            finished.cancel();
            result
        };
        let (result, lost) = tokio::join!(work, keep_lease(lock.as_mut(), &finished, &run));
        if let Some(lost) = lost {
            return Err(lost.into());
        }
        if let Err(e) = lock.release().await {
            tracing::warn!(error = %e, "could not release the state lock");
        }
        result
    }

    /// Creates, adopts and updates whatever is needed and returns the stack's outputs.
    /// Takes the state lock; on an unchanged stack it is a pure no-op (one read per
    /// resource, nothing written).
    pub async fn up(&self) -> Result<StackOutputs, Error> {
        self.up_with(&PlanOptions::default()).await
    }

    /// [`up`](Stack::up) with `options` ([`Stack::plan_with`]): only the target and what it
    /// depends on are worked on, and the resources to replace are replaced.
    pub async fn up_with(&self, options: &PlanOptions) -> Result<StackOutputs, Error> {
        self.locked("up", async |cancel| {
            let backends = self.backends();
            let key = self.key().await?;
            let (state, graph) = self.load_and_expand(&backends, &key, true).await?;
            let plan = self
                .plan_on(&backends, &key, (graph, options), state.as_ref(), Mode::Up)
                .await?;
            self.events.emit(Event::PlanReady {
                summary: plan.summary(),
            });
            let state = match state {
                Some(s) if plan.is_noop() => s,
                state => self.execute(&backends, &plan, state, &cancel).await?.state,
            };
            Ok(StackOutputs::from_state(&state)?)
        })
        .await
    }

    /// Applies a plan made earlier with [`Stack::plan`]. Fails with
    /// [`Error::StalePlan`] if the state changed since.
    pub async fn apply(&self, plan: &Plan) -> Result<StackOutputs, Error> {
        self.locked("apply", async |cancel| {
            let key = self.key().await?;
            let state = self.load_state(&key, true).await?;
            if plan.key != key || plan.state_serial != state.as_ref().map(|s| s.serial) {
                return Err(Error::StalePlan { key });
            }
            self.events.emit(Event::PlanReady {
                summary: plan.summary(),
            });
            let state = self
                .execute(&self.backends(), plan, state, &cancel)
                .await?
                .state;
            Ok(StackOutputs::from_state(&state)?)
        })
        .await
    }

    /// Deletes everything the stack owns, in reverse dependency order, waiting for each
    /// deletion; removes the state when done. What a kind does not delete without deleting
    /// what is not ours (a namespace holding objects multicloud did not make) is left in
    /// place, forgotten and listed in the [`DownReport`] instead of failing the teardown.
    pub async fn down(&self) -> Result<DownReport, Error> {
        self.locked("down", async |cancel| {
            let backends = self.backends();
            let key = self.key().await?;
            let (state, graph) = self.load_and_expand(&backends, &key, true).await?;
            let plan = self
                .plan_on(
                    &backends,
                    &key,
                    (graph, &PlanOptions::default()),
                    state.as_ref(),
                    Mode::Down,
                )
                .await?;
            self.events.emit(Event::PlanReady {
                summary: plan.summary(),
            });
            if plan.actions.is_empty() {
                if state.is_some() {
                    self.store.delete(&key).await?;
                }
                return Ok(DownReport::default());
            }
            let Applied { state, left_behind } =
                self.execute(&backends, &plan, state, &cancel).await?;
            if state.resources.is_empty() {
                self.store.delete(&key).await?;
            }
            Ok(DownReport::new(left_behind))
        })
        .await
    }

    /// The outputs recorded in state (no cloud call).
    pub async fn outputs(&self) -> Result<StackOutputs, Error> {
        match self.load_state(&self.key().await?, false).await? {
            Some(state) => Ok(StackOutputs::from_state(&state)?),
            None => Ok(StackOutputs::default()),
        }
    }

    /// Breaks the state lock whoever holds it (after a crash); returns who held it.
    pub async fn force_unlock(&self) -> Result<Option<LockInfo>, Error> {
        Ok(self.store.force_unlock(&self.key().await?).await?)
    }

    async fn execute(
        &self,
        backends: &Backends,
        plan: &Plan,
        state: Option<StackState>,
        cancel: &CancellationToken,
    ) -> Result<Applied, Error> {
        let ctx = self.context(state.as_ref());
        let mut state = state.unwrap_or_else(|| {
            StackState::new(
                plan.key.clone(),
                self.provider.region(&self.spec),
                self.provider.name(),
            )
        });
        state.expires_at = ctx.ownership.expires_at;
        let exec = Executor {
            backends,
            store: self.store.as_ref(),
            options: &self.options,
            events: &self.events,
            cancel,
            stack: &ctx,
        };
        exec.apply(plan, state).await
    }
}

/// Renews `lock` every third of its lease until `finished`; on [`StateError::LockLost`]
/// cancels `run` and returns the error. Other renewal errors are retried at the next tick
/// (the lease is still good until then).
async fn keep_lease(
    lock: &mut dyn StateLock,
    finished: &CancellationToken,
    run: &CancellationToken,
) -> Option<crate::state::StateError> {
    let every = (lock.info().lease() / 3).max(std::time::Duration::from_millis(10));
    loop {
        tokio::select! {
            () = finished.cancelled() => return None,
            () = tokio::time::sleep(every) => match lock.renew().await {
                Ok(()) => {}
                Err(e @ crate::state::StateError::LockLost { .. }) => {
                    tracing::error!(error = %e, "lost the state lock; stopping the run");
                    run.cancel();
                    return Some(e);
                }
                Err(e) => tracing::warn!(error = %e, "could not renew the state lock; retrying"),
            },
        }
    }
}
