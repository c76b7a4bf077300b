//! [`EphemeralEnv`]: a whole stack for the length of one integration test.
//!
//! `up` gives the spec a unique environment (the spec's environment plus a random suffix
//! valid under every cloud's naming rules, so parallel tests never collide) and an expiry
//! (the spec's `ttl`, else [`DEFAULT_TTL`]), brings the stack up, and returns a handle whose
//! teardown always runs: [`EphemeralEnv::down`], or dropping it — when the test panics, or
//! its future is dropped (a timeout), even in the middle of `up`. With `MULTICLOUD_KEEP=1`
//! ([`KEEP_VAR`]) nothing is torn down; the environment is kept for inspection, and how to
//! remove it is printed (stderr and `tracing`). A runner killed outright leaves an
//! environment that expires: [`reap_expired`] (a scheduled CI job) removes its resources and
//! its state record then.
//!
//! ```no_run
//! use std::sync::Arc;
//! use multicloud_core::prelude::*;
//! use multicloud_core::EphemeralEnv;
//!
//! # async fn test(spec: StackSpec, provider: Arc<dyn CloudProvider>) -> Result<(), multicloud_core::Error> {
//! let env = EphemeralEnv::up(spec, provider).await?; // `pr-1234-k3x9a2`, expiring in 2 h
//! let db = env.database_url().await?;               // from the stack's real credentials
//! // ... the test: `env.outputs()`, `env.kubeconfig()`, `db.expose()` ...
//! let report = env.down().await?;                   // or drop it: teardown still runs
//! # Ok(()) }
//! ```
//!
//! Options (state store, the workloads backend, cluster access, keep, TTL, suffix,
//! parallelism) are on [`EphemeralEnv::builder`]. A Kubernetes client of the stack's
//! cluster is `multicloud_k8s::KubeClientExt::kube_client`.
//!
//! Everything an environment does runs on a runtime of its own (see `runtime`), so a drop
//! can wait for the teardown from any thread. On a current-thread runtime (the default of
//! `#[tokio::test]`) the test's thread waits meanwhile: connections the test itself opened
//! with the same provider on its own runtime cannot progress during that wait, so a test
//! that also calls the provider's clients directly should use a multi-thread runtime or end
//! with `down().await`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::access::CredentialSource;
use crate::down::DownReport;
use crate::engine::Error;
use crate::executor::ApplyOptions;
use crate::kubeconfig::Kubeconfig;
use crate::outputs::StackOutputs;
use crate::provider::{CloudProvider, WorkloadOps};
use crate::secret::SecretString;
use crate::spec::StackSpec;
use crate::stack::Stack;
use crate::state::StateStore;

mod naming;
mod reap;
mod runtime;

pub use naming::{SUFFIX_LEN, keep_requested, random_suffix, unique_environment};
use naming::{check_suffix, environment_with};
pub use reap::{ReapReport, reap_expired, reap_expired_before};

/// The variable that keeps environments instead of tearing them down: `MULTICLOUD_KEEP=1`.
pub const KEEP_VAR: &str = "MULTICLOUD_KEEP";
/// The expiry of an environment whose spec sets no `ttl`.
pub const DEFAULT_TTL: Duration = Duration::from_secs(2 * 3600);

/// What builds an environment's stacks (one for the run, and a fresh one to tear down after
/// a cancelled `up`).
struct Parts {
    spec: StackSpec,
    provider: Arc<dyn CloudProvider>,
    workloads: Option<Arc<dyn WorkloadOps>>,
    cluster_access: Option<Arc<dyn CredentialSource>>,
    store: Option<Arc<dyn StateStore>>,
    options: Option<ApplyOptions>,
    parallelism: Option<usize>,
}

impl Parts {
    fn stack(&self, cancel: CancellationToken) -> Stack {
        let mut stack = Stack::new(self.spec.clone(), self.provider.clone()).cancellation(cancel);
        if let Some(w) = &self.workloads {
            stack = stack.workloads(w.clone());
        }
        if let Some(c) = &self.cluster_access {
            stack = stack.cluster_access(c.clone());
        }
        if let Some(s) = &self.store {
            stack = stack.state_arc(s.clone());
        }
        if let Some(o) = &self.options {
            stack = stack.options(o.clone());
        }
        if let Some(n) = self.parallelism {
            stack = stack.parallelism(n);
        }
        stack
    }
}

/// Options of an [`EphemeralEnv`]; [`EphemeralEnvBuilder::up`] brings it up.
#[must_use = "nothing is up until `up` is awaited"]
pub struct EphemeralEnvBuilder {
    parts: Parts,
    keep: bool,
    ttl: Option<Duration>,
    suffix: Option<String>,
}

impl EphemeralEnvBuilder {
    /// Keeps state in `store` (default: `.multicloud/`, as [`Stack`]).
    pub fn state(mut self, store: impl StateStore + 'static) -> Self {
        self.parts.store = Some(Arc::new(store));
        self
    }
    /// Keeps state in a shared store.
    pub fn state_arc(mut self, store: Arc<dyn StateStore>) -> Self {
        self.parts.store = Some(store);
        self
    }
    /// Puts the apps on the cluster with `workloads` (`multicloud_k8s::KubernetesWorkloads`).
    pub fn workloads(mut self, workloads: impl WorkloadOps + 'static) -> Self {
        self.parts.workloads = Some(Arc::new(workloads));
        self
    }
    /// Reaches the cluster with `source` ([`Stack::cluster_access`]).
    pub fn cluster_access(mut self, source: impl CredentialSource + 'static) -> Self {
        self.parts.cluster_access = Some(Arc::new(source));
        self
    }
    /// Sets the apply options ([`Stack::options`]).
    pub fn options(mut self, options: ApplyOptions) -> Self {
        self.parts.options = Some(options);
        self
    }
    /// Sets how many resources are worked on at once ([`Stack::parallelism`]).
    pub fn parallelism(mut self, n: usize) -> Self {
        self.parts.parallelism = Some(n);
        self
    }
    /// Keeps the environment (no teardown; how to remove it is printed) or not, whatever
    /// [`KEEP_VAR`] says (which is the default).
    pub fn keep(mut self, keep: bool) -> Self {
        self.keep = keep;
        self
    }
    /// Expires the environment `ttl` after it is created (default: the spec's `ttl`, else
    /// [`DEFAULT_TTL`]).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }
    /// Uses `suffix` (1–8 lowercase letters and digits) instead of a random one.
    pub fn suffix(mut self, suffix: impl Into<String>) -> Self {
        self.suffix = Some(suffix.into());
        self
    }

    /// Brings the environment up. If `up` fails, what it made is torn down (unless kept)
    /// before its error is returned; if this future is dropped before it finishes, the run
    /// is cancelled and what it made torn down.
    pub async fn up(self) -> Result<EphemeralEnv, Error> {
        let mut parts = self.parts;
        let suffix = match self.suffix {
            Some(s) => {
                check_suffix(&s)?;
                s
            }
            None => random_suffix(),
        };
        parts.spec.environment = environment_with(&parts.spec.environment, &suffix);
        let ttl = self.ttl.or(parts.spec.ttl).unwrap_or(DEFAULT_TTL);
        parts.spec.ttl = Some(ttl);
        let expires_at = Utc::now() + chrono::Duration::from_std(ttl).unwrap_or_default();
        let parts = Arc::new(parts);
        let cancel = CancellationToken::new();
        let stack = Arc::new(parts.stack(cancel.clone()));
        let name = EnvName::of(&stack, expires_at);
        tracing::info!(env = %name.key(), %expires_at, "bringing an ephemeral environment up");
        let run = stack.clone();
        let mut starting = Starting {
            task: Some(runtime::spawn(async move { run.up().await })?),
            cancel,
            parts: parts.clone(),
            keep: self.keep,
            name: name.clone(),
        };
        let result = starting.finish().await;
        let env = |outputs| EphemeralEnv {
            stack,
            outputs,
            keep: self.keep,
            name,
            teardown: None,
            done: false,
        };
        match result {
            Ok(outputs) => Ok(env(outputs)),
            Err(e) => {
                let env = env(StackOutputs::default());
                tracing::warn!(env = %env.name.key(), error = %e, "up failed; tearing down what it made");
                if let Err(down) = env.down().await {
                    report_failure(&starting.name, &down);
                }
                Err(e)
            }
        }
    }
}

/// The names an environment is found by.
#[derive(Debug, Clone)]
struct EnvName {
    stack: String,
    environment: String,
    cloud: String,
    expires_at: DateTime<Utc>,
}

impl EnvName {
    fn of(stack: &Stack, expires_at: DateTime<Utc>) -> Self {
        Self {
            stack: stack.spec().name.clone(),
            environment: stack.spec().environment.clone(),
            cloud: stack.provider().name().to_string(),
            expires_at,
        }
    }
    fn key(&self) -> String {
        format!("{}/{} on {}", self.stack, self.environment, self.cloud)
    }
    fn kept(&self) -> Kept {
        Kept {
            stack: self.stack.clone(),
            environment: self.environment.clone(),
            cloud: self.cloud.clone(),
            expires_at: self.expires_at,
        }
    }
}

/// An `up` in flight: if it is dropped before it finishes, the run is cancelled and what it
/// made torn down (the drop waits for both).
struct Starting {
    task: Option<runtime::Task<StackOutputs>>,
    cancel: CancellationToken,
    parts: Arc<Parts>,
    keep: bool,
    name: EnvName,
}

impl Starting {
    async fn finish(&mut self) -> Result<StackOutputs, Error> {
        let Some(task) = self.task.as_mut() else {
            return Ok(StackOutputs::default());
        };
        let result = runtime::joined(task.await);
        self.task = None;
        result
    }
}

impl Drop for Starting {
    fn drop(&mut self) {
        let Some(task) = self.task.take() else {
            return;
        };
        self.cancel.cancel();
        if self.keep {
            announce(&self.name.kept());
            return;
        }
        tracing::warn!(env = %self.name.key(), "up was dropped before it finished; cancelling it and tearing down");
        let parts = self.parts.clone();
        let teardown = runtime::spawn(async move {
            let _ = task.await;
            parts.stack(CancellationToken::new()).down().await
        });
        finish_teardown(&self.name, teardown.and_then(runtime::block_on));
    }
}

/// A stack brought up for a test, torn down by [`EphemeralEnv::down`] or when dropped.
/// See the [module docs](self).
pub struct EphemeralEnv {
    stack: Arc<Stack>,
    outputs: StackOutputs,
    keep: bool,
    name: EnvName,
    /// A teardown `down` started whose future was dropped before it ended.
    teardown: Option<runtime::Task<DownReport>>,
    /// Torn down (or kept) already.
    done: bool,
}

impl fmt::Debug for EphemeralEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EphemeralEnv")
            .field("env", &self.name.key())
            .field("expires_at", &self.name.expires_at)
            .field("keep", &self.keep)
            .finish_non_exhaustive()
    }
}

impl EphemeralEnv {
    /// Brings `spec` up on `provider` in a unique environment, with the defaults (see
    /// [`EphemeralEnv::builder`] for the options).
    pub async fn up(
        spec: StackSpec,
        provider: impl CloudProvider + 'static,
    ) -> Result<Self, Error> {
        Self::builder(spec, provider).up().await
    }

    /// The options of an environment of `spec` on `provider`; `keep` defaults to
    /// [`keep_requested`].
    pub fn builder(spec: StackSpec, provider: impl CloudProvider + 'static) -> EphemeralEnvBuilder {
        EphemeralEnvBuilder {
            parts: Parts {
                spec,
                provider: Arc::new(provider),
                workloads: None,
                cluster_access: None,
                store: None,
                options: None,
                parallelism: None,
            },
            keep: keep_requested(),
            ttl: None,
            suffix: None,
        }
    }

    /// Removes every expired stack of `cloud`, resources and state records: see
    /// [`reap_expired`].
    pub async fn reap_expired(
        cloud: &str,
        sweeper: &dyn crate::sweep::Sweeper,
        store: &dyn StateStore,
    ) -> Result<ReapReport, Error> {
        reap_expired(cloud, sweeper, store).await
    }

    /// The stack (its spec, events, plans).
    pub fn stack(&self) -> &Stack {
        &self.stack
    }
    /// The spec as brought up (its unique environment and TTL set).
    pub fn spec(&self) -> &StackSpec {
        self.stack.spec()
    }
    /// The unique environment (`pr-1234-k3x9a2`).
    pub fn environment(&self) -> &str {
        &self.stack.spec().environment
    }
    /// The outputs `up` returned.
    pub fn outputs(&self) -> &StackOutputs {
        &self.outputs
    }
    /// When the environment expires (its `expires-at` tag; the reaper removes it after).
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.name.expires_at
    }
    /// Whether it is kept instead of torn down.
    pub fn is_kept(&self) -> bool {
        self.keep
    }

    /// The stack's PostgreSQL URL ([`Stack::database_url`]).
    pub async fn database_url(&self) -> Result<SecretString, Error> {
        let stack = self.stack.clone();
        runtime::run(async move { stack.database_url().await }).await
    }
    /// The stack's Redis URL ([`Stack::cache_url`]).
    pub async fn cache_url(&self) -> Result<SecretString, Error> {
        let stack = self.stack.clone();
        runtime::run(async move { stack.cache_url().await }).await
    }
    /// A kubeconfig of the stack's cluster with a fresh credential ([`Stack::kubeconfig`]).
    pub async fn kubeconfig(&self) -> Result<Kubeconfig, Error> {
        let stack = self.stack.clone();
        runtime::run(async move { stack.kubeconfig().await }).await
    }

    /// Tears the environment down and says what was left behind; a kept environment is left
    /// up and how to remove it printed. If this future is dropped before it ends, the drop
    /// of the environment waits for the teardown.
    pub async fn down(mut self) -> Result<Teardown, Error> {
        if self.keep {
            self.done = true;
            let kept = self.name.kept();
            announce(&kept);
            return Ok(Teardown::Kept(kept));
        }
        let stack = self.stack.clone();
        let task = self
            .teardown
            .insert(runtime::spawn(async move { stack.down().await })?);
        let result = runtime::joined(task.await);
        self.teardown = None;
        self.done = true;
        result.map(Teardown::Removed)
    }
}

impl Drop for EphemeralEnv {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if self.keep {
            announce(&self.name.kept());
            return;
        }
        let why = if std::thread::panicking() {
            "dropped while panicking"
        } else {
            "dropped"
        };
        tracing::info!(env = %self.name.key(), "{why}: tearing the ephemeral environment down");
        let stack = self.stack.clone();
        let running = self.teardown.take();
        let teardown = runtime::spawn(async move {
            // A `down` whose future was dropped: its result, unless it failed.
            if let Some(task) = running
                && let Ok(Ok(report)) = task.await
            {
                return Ok(report);
            }
            stack.down().await
        });
        finish_teardown(&self.name, teardown.and_then(runtime::block_on));
    }
}

/// What [`EphemeralEnv::down`] did.
#[derive(Debug)]
pub enum Teardown {
    /// Torn down; what `down` reported (what it left behind).
    Removed(DownReport),
    /// Kept up ([`KEEP_VAR`] or [`EphemeralEnvBuilder::keep`]); how to remove it.
    Kept(Kept),
}

impl Teardown {
    /// The down report, unless kept.
    pub fn report(&self) -> Option<&DownReport> {
        match self {
            Self::Removed(report) => Some(report),
            Self::Kept(_) => None,
        }
    }
}

/// An environment kept up: what it is, and how to remove it (its `Display`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    /// Stack name.
    pub stack: String,
    /// The unique environment.
    pub environment: String,
    /// The cloud ([`CloudProvider::name`]).
    pub cloud: String,
    /// When it expires (then [`reap_expired`] removes it).
    pub expires_at: DateTime<Utc>,
}

impl fmt::Display for Kept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            stack,
            environment,
            cloud,
            expires_at,
        } = self;
        let expires_at = expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        write!(
            f,
            "kept ephemeral environment {stack}/{environment} on {cloud}; it expires at \
             {expires_at}, when `reap_expired` removes it. Remove it now with \
             `Stack::down` of its spec with environment `{environment}` and the same state \
             store, or with the {cloud} sweeper: \
             `sweeper.sweep(&SweepFilter::stack(\"{stack}\", \"{environment}\"), false)`, \
             then delete the state record {stack}/{environment}"
        )
    }
}

/// Says that `kept` is kept and how to remove it, on stderr (a test's output) and in the
/// logs.
fn announce(kept: &Kept) {
    eprintln!("multicloud: {kept}");
    tracing::warn!(stack = %kept.stack, environment = %kept.environment, "{kept}");
}

/// Reports the end of a teardown run from a drop.
fn finish_teardown(name: &EnvName, result: Result<DownReport, Error>) {
    match result {
        Ok(report) if report.is_complete() => {
            tracing::info!(env = %name.key(), "ephemeral environment torn down");
        }
        Ok(report) => {
            eprintln!("multicloud: {} torn down; {report}", name.key());
            tracing::warn!(env = %name.key(), %report, "ephemeral environment torn down");
        }
        Err(e) => report_failure(name, &e),
    }
}

/// Says that the teardown of `name` failed and how to finish it.
fn report_failure(name: &EnvName, error: &Error) {
    let kept = name.kept();
    eprintln!(
        "multicloud: tearing down {} failed: {error}\nmulticloud: {kept}",
        name.key()
    );
    tracing::error!(env = %name.key(), %error, "tearing down the ephemeral environment failed");
}
