//! Moving a stack's state from one store to another ([`migrate`]), and from the key it had
//! before keys named their cloud to its scoped key ([`migrate_unscoped`]).

use super::{LockInfo, StackState, StateError, StateKey, StateLock, StateStore};

/// Moves the state of `key` from `from` to `to` (local files to S3 or Azure Blob and back),
/// holding the lock of both for the whole move, so no run changes either meanwhile: the
/// state is written to `to` as it is (same serial), read back and compared, and only then
/// removed from `from`. Refuses with [`StateError::Conflict`] when `to` already has state
/// for `key`; returns `false` (nothing done) when `from` has none.
pub async fn migrate(
    from: &dyn StateStore,
    to: &dyn StateStore,
    key: &StateKey,
) -> Result<bool, StateError> {
    let source = (from, key);
    move_state(source, (to, key), TargetLock::Take, &|_| true).await
}

/// Moves the state `store` keeps under `key` without its scope (written before keys named
/// their cloud) to `key`, when `ours` says the run's provider recorded it (a state another
/// cloud recorded is left where it is, for that cloud's runs to move). The lock of the old
/// key is held for the whole move, and the lock of `key` too: taken here, unless the caller
/// holds it already (`key_lock_held`). The state is written under `key` as it is (same
/// serial), read back and compared, and only then removed from the old key. Returns
/// `false` (nothing done) when there is no such state, or it is not ours; refuses with
/// [`StateError::Conflict`] when `key` already has state.
pub async fn migrate_unscoped(
    store: &dyn StateStore,
    key: &StateKey,
    ours: &(dyn Fn(&StackState) -> bool + Sync),
    key_lock_held: bool,
) -> Result<bool, StateError> {
    let old = key.unscoped();
    if &old == key {
        return Ok(false);
    }
    let target = if key_lock_held {
        TargetLock::Held
    } else {
        TargetLock::Take
    };
    move_state((store, &old), (store, key), target, ours).await
}

/// Whether the move takes the target's lock, or its caller holds it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TargetLock {
    Take,
    Held,
}

/// A store and a key in it.
type Place<'a> = (&'a dyn StateStore, &'a StateKey);

/// Moves the state at `from` to `to` under the locks (source first), if `wanted`.
async fn move_state(
    from: Place<'_>,
    to: Place<'_>,
    target: TargetLock,
    wanted: &(dyn Fn(&StackState) -> bool + Sync),
) -> Result<bool, StateError> {
    let source_lock = lock(from, "migrate (source)").await?;
    let result = match target {
        TargetLock::Held => copy_then_remove(from, to, wanted).await,
        TargetLock::Take => match lock(to, "migrate (target)").await {
            Ok(target_lock) => {
                let moved = copy_then_remove(from, to, wanted).await;
                release(target_lock.release().await);
                moved
            }
            Err(e) => Err(e),
        },
    };
    release(source_lock.release().await);
    result
}

async fn lock((store, key): Place<'_>, operation: &str) -> Result<Box<dyn StateLock>, StateError> {
    store
        .lock(key, LockInfo::for_current_process(operation))
        .await
}

async fn copy_then_remove(
    (from, from_key): Place<'_>,
    (to, key): Place<'_>,
    wanted: &(dyn Fn(&StackState) -> bool + Sync),
) -> Result<bool, StateError> {
    let Some(mut state) = from.load(from_key).await? else {
        return Ok(false);
    };
    if !wanted(&state) {
        return Ok(false);
    }
    if let Some(existing) = to.load(key).await? {
        return Err(StateError::Conflict {
            location: format!("the target store ({key})"),
            message: format!(
                "it already holds state (serial {}); remove it first or migrate elsewhere",
                existing.serial
            ),
        });
    }
    state.key = key.clone();
    to.save(&state).await?;
    match to.load(key).await? {
        Some(copied) if copied == state => {}
        _ => {
            return Err(StateError::Conflict {
                location: format!("the target store ({key})"),
                message: "the state read back differs from what was written; the source was \
                          left in place"
                    .into(),
            });
        }
    }
    from.delete(from_key).await?;
    tracing::info!(from = %from_key, to = %key, "moved the stack's state");
    Ok(true)
}

fn release(result: Result<(), StateError>) {
    if let Err(e) = result {
        tracing::warn!(error = %e, "could not release a state lock after a migration");
    }
}
