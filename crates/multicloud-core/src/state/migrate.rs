//! Moving a stack's state from one store to another ([`migrate`]).

use super::{LockInfo, StateError, StateKey, StateStore};

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
    let source_lock = from
        .lock(key, LockInfo::for_current_process("migrate (source)"))
        .await?;
    let result = match to
        .lock(key, LockInfo::for_current_process("migrate (target)"))
        .await
    {
        Ok(target_lock) => {
            let moved = copy_then_remove(from, to, key).await;
            release(target_lock.release().await);
            moved
        }
        Err(e) => Err(e),
    };
    release(source_lock.release().await);
    result
}

async fn copy_then_remove(
    from: &dyn StateStore,
    to: &dyn StateStore,
    key: &StateKey,
) -> Result<bool, StateError> {
    let Some(state) = from.load(key).await? else {
        return Ok(false);
    };
    if let Some(existing) = to.load(key).await? {
        return Err(StateError::Conflict {
            location: format!("the target store ({key})"),
            message: format!(
                "it already holds state (serial {}); remove it first or migrate elsewhere",
                existing.serial
            ),
        });
    }
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
    from.delete(key).await?;
    Ok(true)
}

fn release(result: Result<(), StateError>) {
    if let Err(e) = result {
        tracing::warn!(error = %e, "could not release a state lock after a migration");
    }
}
