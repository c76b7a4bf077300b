//! [`Shared`]: one stand-in per test process, started on first use.

use std::future::Future;
use std::sync::Arc;

/// One value (a stand-in) per process, started on first use and shared by every caller;
/// held in a `static`, so it is never dropped: its processes end with the test process
/// (the watchdog).
#[derive(Debug)]
pub struct Shared<T>(tokio::sync::OnceCell<Arc<T>>);

impl<T> Shared<T> {
    /// An empty cell, for a `static`.
    pub const fn new() -> Self {
        Self(tokio::sync::OnceCell::const_new())
    }

    /// The value, started with `start` by the first caller (later callers wait for it; a
    /// failed start is tried again by the next caller).
    pub async fn get_or_start<E, F, Fut>(&self, start: F) -> Result<Arc<T>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.0
            .get_or_try_init(|| async { start().await.map(Arc::new) })
            .await
            .cloned()
    }
}

impl<T> Default for Shared<T> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_successful_start_is_shared() {
        static CELL: Shared<u32> = Shared::new();
        let failed: Result<_, &str> = CELL.get_or_start(|| async { Err("no") }).await;
        assert!(failed.is_err());
        let first = CELL.get_or_start(|| async { Ok::<_, ()>(1) }).await;
        let second = CELL.get_or_start(|| async { Ok::<_, ()>(2) }).await;
        assert_eq!((*first.expect("started"), *second.expect("shared")), (1, 1));
    }
}
