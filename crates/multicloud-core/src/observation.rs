//! What a provider reports of one resource: an [`Observation`] (absent, or present with its
//! owner, outputs, drift and expiry) and a [`Readiness`] check's answer.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::outputs::Outputs;
use crate::tags::Owner;

mod drift;
pub use drift::{Drift, FieldDrift, JsonCompare, json_drift, pointer_path, render};

/// What the provider saw of an existing resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    /// Its cloud id (ARN, resource id), if it has one.
    pub provider_id: Option<String>,
    /// Who owns it.
    pub owner: Owner,
    /// Its current outputs.
    pub outputs: Outputs,
    /// How its live configuration differs from the desired one, field by field, where the
    /// provider can tell (`None`: as desired). The plan shows it and `up` repairs it: an
    /// update, or a replacement when a drifted field cannot change in place.
    pub drift: Option<Drift>,
    /// When what it holds expires (a registry token in a pull secret, a certificate): the
    /// planner plans an update ("renew") once this is closer than
    /// [`ApplyOptions::renew_before`](crate::ApplyOptions::renew_before).
    pub expires_at: Option<DateTime<Utc>>,
    /// Why the resource, as found, cannot be used as it is (an Azure resource whose
    /// provisioning failed, a subnet group over subnets that are not the stack's): the plan
    /// re-applies it (update) or replaces it, saying this — it is never adopted as it is.
    pub unhealthy: Option<String>,
}

impl Observed {
    /// An observation of a resource of ours with these outputs.
    pub fn ours(outputs: Outputs) -> Self {
        Self {
            provider_id: None,
            owner: Owner::Us,
            outputs,
            drift: None,
            expires_at: None,
            unhealthy: None,
        }
    }

    /// Whether its live configuration drifted from the desired one.
    pub fn drifted(&self) -> bool {
        self.drift.is_some()
    }
}

/// The result of one read.
#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    /// Nothing with that name exists.
    Absent,
    /// It exists.
    Present(Observed),
}

/// A readiness (or deletion) check.
#[derive(Debug, Clone, PartialEq)]
pub enum Readiness {
    /// Done. For a readiness check, outputs to merge (endpoints known only once ready).
    Ready(Outputs),
    /// Not yet.
    Pending {
        /// Status to report (`CREATING`).
        status: String,
        /// A server-suggested delay before the next check.
        retry_after: Option<Duration>,
    },
}

impl Readiness {
    /// Ready with no further outputs.
    pub fn ready() -> Self {
        Self::Ready(Outputs::new())
    }
    /// Pending with a status text.
    pub fn pending(status: impl Into<String>) -> Self {
        Self::Pending {
            status: status.into(),
            retry_after: None,
        }
    }
}
