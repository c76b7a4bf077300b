//! Progress events: a broadcast stream callers subscribe to (besides `tracing` spans per
//! resource). Events carry ids, actions and error texts, never secret values.

use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::sync::broadcast;

use crate::plan::{Action, PlanSummary};
use crate::resource::{ResourceId, ResourceKind};

/// One progress event.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// A plan was computed.
    PlanReady {
        /// Counts per action.
        summary: PlanSummary,
    },
    /// Work on a resource started.
    ResourceStarted {
        /// Resource.
        id: ResourceId,
        /// Kind.
        kind: ResourceKind,
        /// What is being done.
        action: Action,
    },
    /// A resource reported progress while being waited on (`CREATING`).
    ResourceProgress {
        /// Resource.
        id: ResourceId,
        /// Status text.
        status: String,
    },
    /// A call failed with a retryable error and will be retried.
    ResourceRetrying {
        /// Resource.
        id: ResourceId,
        /// Retry number (1 = first retry).
        attempt: u32,
        /// Sleep before the retry.
        delay: Duration,
        /// The error's text.
        error: String,
    },
    /// A resource is done.
    ResourceSucceeded {
        /// Resource.
        id: ResourceId,
        /// What was done.
        action: Action,
        /// How long it took.
        elapsed: Duration,
    },
    /// A resource failed.
    ResourceFailed {
        /// Resource.
        id: ResourceId,
        /// What was being done.
        action: Action,
        /// The error's text.
        error: String,
    },
    /// A resource's `delete` left it in place ([`ErrorKind::LeftBehind`]): it is forgotten
    /// (dropped from state) and the run goes on; `down` reports it in its
    /// [`DownReport`](crate::down::DownReport).
    ///
    /// [`ErrorKind::LeftBehind`]: crate::error::ErrorKind::LeftBehind
    ResourceLeftBehind {
        /// Resource.
        id: ResourceId,
        /// Why (the kind's message).
        reason: String,
        /// Whether it is still there after the run (not inside a cluster the same run
        /// deletes).
        remains: bool,
    },
    /// This run took over the state lock of another whose lease had run out (or whose
    /// process was gone).
    LockTakenOver {
        /// `stack/environment`.
        stack: String,
        /// The previous holder (`user@host pid N (operation)`).
        previous: String,
    },
    /// A run finished.
    Finished {
        /// Resources that completed.
        succeeded: usize,
        /// Resources that failed.
        failed: usize,
        /// Wall time.
        elapsed: Duration,
    },
}

/// The sending side, shared by a stack and its runs.
#[derive(Debug, Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Event>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new(4096)
    }
}

impl EventBus {
    /// A bus buffering `capacity` events per slow subscriber.
    pub fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity);
        Self { tx }
    }
    /// Sends an event to every subscriber (none is fine).
    pub fn emit(&self, event: Event) {
        let _ = self.tx.send(event);
    }
    /// A raw receiver.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }
    /// A stream of events from now on (lagging subscribers skip what they missed).
    pub fn stream(&self) -> BoxStream<'static, Event> {
        futures::stream::unfold(self.tx.subscribe(), |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(ev) => return Some((ev, rx)),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        })
        .boxed()
    }
}
