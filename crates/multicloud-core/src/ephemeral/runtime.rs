//! The runtime the ephemeral environments run on: one multi-thread runtime of their own,
//! started on first use and kept for the life of the process (as testcontainers keeps one
//! thread for its drops). Everything an environment does (`up`, `down`, its outputs) runs
//! there, so the connections its clients open live on a runtime the test never blocks, and
//! a teardown started from `Drop` can be waited for from any thread: a `#[tokio::test]`'s
//! current-thread runtime, a multi-thread worker, a plain thread unwinding a panic.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::{Handle, Runtime, RuntimeFlavor};
use tokio::task::{JoinError, JoinHandle};

use crate::engine::Error;
use crate::error::{ErrorKind, ProviderError};

/// Worker threads of the environments' runtime.
const WORKERS: usize = 2;

/// The environments' runtime.
fn runtime() -> Result<&'static Runtime, Error> {
    static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(WORKERS)
                .thread_name("multicloud-ephemeral")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| {
            broken(format!(
                "cannot start the ephemeral environments' runtime: {e}"
            ))
        })
}

/// A task of the environments' runtime.
pub(super) type Task<T> = JoinHandle<Result<T, Error>>;

/// Starts `work` on the environments' runtime.
pub(super) fn spawn<T, F>(work: F) -> Result<Task<T>, Error>
where
    T: Send + 'static,
    F: Future<Output = Result<T, Error>> + Send + 'static,
{
    Ok(runtime()?.spawn(work))
}

/// Runs `work` on the environments' runtime and awaits it from the caller's.
pub(super) async fn run<T, F>(work: F) -> Result<T, Error>
where
    T: Send + 'static,
    F: Future<Output = Result<T, Error>> + Send + 'static,
{
    joined(spawn(work)?.await)
}

/// The result of a task, a panic or cancellation of it as an error.
pub(super) fn joined<T>(result: Result<Result<T, Error>, JoinError>) -> Result<T, Error> {
    result.map_err(|e| {
        broken(if e.is_panic() {
            "an ephemeral environment's task panicked".to_string()
        } else {
            "an ephemeral environment's task was cancelled".to_string()
        })
    })?
}

/// Blocks the calling thread until `task` ends. On a multi-thread runtime it does so through
/// `block_in_place`, so the caller's runtime keeps running its other tasks; elsewhere (a
/// current-thread runtime, a plain thread, a thread unwinding a panic) it just blocks: the
/// task runs on the environments' own runtime and needs nothing of the caller's.
pub(super) fn block_on<T>(task: Task<T>) -> Result<T, Error> {
    let wait = move || joined(futures::executor::block_on(task));
    let multi_thread = Handle::try_current()
        .is_ok_and(|h| matches!(h.runtime_flavor(), RuntimeFlavor::MultiThread));
    if multi_thread && !std::thread::panicking() {
        tokio::task::block_in_place(wait)
    } else {
        wait()
    }
}

/// An environment's own machinery failed (its runtime, a panicking task).
fn broken(message: String) -> Error {
    Error::Provider(ProviderError::new(ErrorKind::Other, message))
}
