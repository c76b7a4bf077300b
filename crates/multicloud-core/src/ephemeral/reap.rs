//! The reaper: what a killed test runner left behind is removed once it expires, resources
//! and state records alike.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use crate::engine::Error;
use crate::state::{LockInfo, StateError, StateKey, StateStore};
use crate::sweep::{SweepFilter, SweepReport, Sweeper};
use crate::tags::{TAG_ENV, TAG_STACK};

/// What [`reap_expired`] did.
#[derive(Debug)]
#[non_exhaustive]
pub struct ReapReport {
    /// The sweep of every resource whose `multicloud:expires-at` tag has passed.
    pub sweep: SweepReport,
    /// The state records removed: expired stacks of the cloud swept.
    pub states_removed: Vec<StateKey>,
    /// Expired state records kept, with why (a run holds the lock, or some of the stack's
    /// resources could not be deleted).
    pub states_kept: Vec<(StateKey, String)>,
}

impl ReapReport {
    /// Whether everything expired is gone: every resource found deleted and every expired
    /// state record removed.
    pub fn is_clean(&self) -> bool {
        self.sweep.is_clean() && self.states_kept.is_empty()
    }
}

/// Removes every expired stack of `cloud` (a [`CloudProvider::name`], `aws`): `sweeper`
/// deletes each resource whose `multicloud:expires-at` tag has passed
/// ([`SweepFilter::expired`]), then each state record of `store` recorded by `cloud` whose
/// expiry has passed is removed, under its lock (a record whose lock a live run holds is
/// kept, as is one whose resources could not all be deleted). This is what a scheduled CI
/// job runs so that the environments of killed test runners never outlive their TTL.
///
/// ```no_run
/// # async fn run(sweeper: &dyn multicloud_core::sweep::Sweeper) -> Result<(), multicloud_core::Error> {
/// use multicloud_core::ephemeral::reap_expired;
/// use multicloud_core::state::LocalStateStore;
///
/// // A scheduled CI job, with the cloud's sweeper (`AwsProvider::sweeper()`) and the
/// // store the tests keep their state in.
/// let report = reap_expired("aws", sweeper, &LocalStateStore::new(".multicloud")).await?;
/// println!(
///     "{} expired resource(s) deleted, state of {:?} removed",
///     report.sweep.deleted.len(),
///     report.states_removed
/// );
/// # Ok(()) }
/// ```
///
/// [`CloudProvider::name`]: crate::provider::CloudProvider::name
pub async fn reap_expired(
    cloud: &str,
    sweeper: &dyn Sweeper,
    store: &dyn StateStore,
) -> Result<ReapReport, Error> {
    reap_expired_before(Utc::now(), cloud, sweeper, store).await
}

/// [`reap_expired`] with another cut-off: removes what expires before `now` (a later time
/// reaps environments still running: a CI job clearing the way, or a test).
pub async fn reap_expired_before(
    now: DateTime<Utc>,
    cloud: &str,
    sweeper: &dyn Sweeper,
    store: &dyn StateStore,
) -> Result<ReapReport, Error> {
    let sweep = sweeper.sweep(&SweepFilter::expired(now), false).await?;
    let failed: BTreeSet<(String, String)> = sweep
        .failed
        .iter()
        .filter_map(|f| {
            let tags = &f.resource.tags;
            Some((tags.get(TAG_STACK)?.clone(), tags.get(TAG_ENV)?.clone()))
        })
        .collect();
    let mut report = ReapReport {
        sweep,
        states_removed: Vec::new(),
        states_kept: Vec::new(),
    };
    for listing in store.list().await? {
        let Some(state) = store.load(&listing.key).await? else {
            continue;
        };
        if state.provider != cloud || state.expires_at.is_none_or(|at| at >= now) {
            continue;
        }
        let key = listing.key;
        if failed.contains(&(key.stack.clone(), key.environment.clone())) {
            let why = "some of its resources could not be deleted (see the sweep's failures)";
            report.states_kept.push((key, why.to_string()));
            continue;
        }
        match remove_state(store, &key).await {
            Ok(()) => report.states_removed.push(key),
            Err(StateError::Locked { holder, .. }) => {
                let why = format!("a run holds its lock: {}", holder.holder());
                report.states_kept.push((key, why));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(report)
}

/// Removes the state of `key` under its lock (taking over a lock whose lease ran out).
async fn remove_state(store: &dyn StateStore, key: &StateKey) -> Result<(), StateError> {
    let lock = store
        .lock(key, LockInfo::for_current_process("reap"))
        .await?;
    store.delete(key).await?;
    if let Err(e) = lock.release().await {
        tracing::warn!(%key, error = %e, "could not release the state lock after reaping");
    }
    Ok(())
}
