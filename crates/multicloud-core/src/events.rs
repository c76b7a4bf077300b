//! Progress events: a broadcast stream callers subscribe to (besides `tracing` spans per
//! resource). Events carry ids, actions and error texts, never secret values.
//!
//! An event serializes to one JSON object tagged by `event` (`resource_started`…), with
//! durations in seconds (`elapsed_s`, `delay_s`): what `multicloud --json` prints a line of.
//!
//! ```
//! use std::time::Duration;
//! use multicloud_core::events::Event;
//! use multicloud_core::plan::Action;
//! use multicloud_core::resource::{ResourceId, ResourceKind};
//!
//! let done = Event::ResourceSucceeded {
//!     id: ResourceId::single(ResourceKind::REGISTRY),
//!     action: Action::Create,
//!     elapsed: Duration::from_millis(1500),
//! };
//! assert_eq!(
//!     serde_json::to_string(&done).unwrap(),
//!     r#"{"event":"resource_succeeded","id":"registry/main","action":"create","elapsed_s":1.5}"#
//! );
//! ```

use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use serde::{Serialize, Serializer};
use tokio::sync::broadcast;

use crate::plan::{Action, PlanSummary};
use crate::resource::{ResourceId, ResourceKind};

/// One progress event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
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
        #[serde(rename = "delay_s", serialize_with = "seconds")]
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
        #[serde(rename = "elapsed_s", serialize_with = "seconds")]
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
        #[serde(rename = "elapsed_s", serialize_with = "seconds")]
        elapsed: Duration,
    },
}

impl std::fmt::Display for Event {
    /// One line for a person: `create  vpc/main ...`, `create  vpc/main done in 1.20s`,
    /// `retry   vpc/main #1 in 200ms: <error>`, `finished: 12 done, 0 failed in 9.81s`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::PlanReady { summary } => write!(f, "plan: {summary}"),
            Self::ResourceStarted { id, action, .. } => {
                write!(f, "{:<7} {id} ...", action.as_str())
            }
            Self::ResourceProgress { id, status } => write!(f, "waiting {id}: {status}"),
            Self::ResourceRetrying {
                id,
                attempt,
                delay,
                error,
            } => write!(f, "retry   {id} #{attempt} in {delay:?}: {error}"),
            Self::ResourceSucceeded {
                id,
                action,
                elapsed,
            } => write!(
                f,
                "{:<7} {id} done in {:.2}s",
                action.as_str(),
                elapsed.as_secs_f64()
            ),
            Self::ResourceFailed { id, action, error } => {
                write!(f, "{:<7} {id} FAILED: {error}", action.as_str())
            }
            Self::ResourceLeftBehind {
                id,
                reason,
                remains,
            } => {
                let remains = if *remains {
                    ""
                } else {
                    " (gone with its container)"
                };
                write!(f, "left    {id}: {reason}{remains}")
            }
            Self::LockTakenOver { stack, previous } => {
                write!(f, "took over the state lock of {stack} from {previous}")
            }
            Self::Finished {
                succeeded,
                failed,
                elapsed,
            } => write!(
                f,
                "finished: {succeeded} done, {failed} failed in {:.2}s",
                elapsed.as_secs_f64()
            ),
        }
    }
}

/// A duration as seconds (JSON has no duration type).
fn seconds<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_reads_as_one_line_and_serializes_tagged() {
        let id = crate::resource::ResourceId::single(ResourceKind::CACHE);
        let failed = Event::ResourceFailed {
            id: id.clone(),
            action: Action::Delete,
            error: "boom".into(),
        };
        assert_eq!(failed.to_string(), "delete  cache/main FAILED: boom");
        let retry = Event::ResourceRetrying {
            id,
            attempt: 2,
            delay: Duration::from_millis(250),
            error: "throttled".into(),
        };
        assert_eq!(
            retry.to_string(),
            "retry   cache/main #2 in 250ms: throttled"
        );
        let json = serde_json::to_value(&retry).expect("serializes");
        assert_eq!(json["event"], "resource_retrying");
        assert_eq!(json["delay_s"], 0.25);
    }
}
