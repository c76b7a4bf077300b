//! What [`Stack::refresh`](crate::Stack::refresh) found: a [`RefreshReport`], one entry
//! per recorded resource (unchanged, changed outside the stack, vanished, or taken by
//! someone else).

use std::fmt;

use serde::Serialize;

use crate::observation::Drift;
use crate::resource::{ResourceId, ResourceKind};

/// What a refresh found of one recorded resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RefreshStatus {
    /// As recorded, and as applied.
    Unchanged,
    /// Changed outside the stack: its new outputs are recorded and its drift noted in
    /// state; the next plan repairs the drift.
    Changed {
        /// How it differs from what was applied, field by field.
        #[serde(skip_serializing_if = "Option::is_none")]
        drift: Option<Drift>,
        /// The outputs whose recorded values changed (`endpoint`).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        outputs: Vec<String>,
        /// Why it is unusable as it is (a failed provisioning), if it is.
        #[serde(skip_serializing_if = "Option::is_none")]
        unhealthy: Option<String>,
    },
    /// Gone from the cloud: dropped from state, so the next plan creates it again.
    Vanished,
    /// Something that is not the stack's stands under its name now (its ownership tags or
    /// labels are gone): left recorded as it was; the next plan refuses to take it over.
    Foreign,
}

/// One recorded resource and what a refresh found of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefreshedResource {
    /// The resource.
    pub id: ResourceId,
    /// Its kind.
    pub kind: ResourceKind,
    /// Its physical name.
    pub name: String,
    /// What was found.
    #[serde(flatten)]
    pub status: RefreshStatus,
}

/// What [`Stack::refresh`](crate::Stack::refresh) found, one entry per recorded resource in
/// id order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RefreshReport {
    /// Every recorded resource the provider could read.
    pub resources: Vec<RefreshedResource>,
}

impl RefreshReport {
    /// The entry of `id`.
    pub fn get(&self, id: &ResourceId) -> Option<&RefreshedResource> {
        self.resources.iter().find(|r| &r.id == id)
    }

    /// The status found for `id`.
    pub fn status(&self, id: &ResourceId) -> Option<&RefreshStatus> {
        self.get(id).map(|r| &r.status)
    }

    /// The resources that are not [`RefreshStatus::Unchanged`].
    pub fn changes(&self) -> impl Iterator<Item = &RefreshedResource> {
        self.resources
            .iter()
            .filter(|r| r.status != RefreshStatus::Unchanged)
    }

    /// Whether everything is as recorded.
    pub fn is_unchanged(&self) -> bool {
        self.changes().next().is_none()
    }
}

impl fmt::Display for RefreshStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unchanged => f.write_str("unchanged"),
            Self::Vanished => f.write_str("vanished: dropped from state; the next plan creates it"),
            Self::Foreign => f.write_str(
                "no longer carries the stack's ownership: left recorded; the next plan refuses it",
            ),
            Self::Changed {
                drift,
                outputs,
                unhealthy,
            } => {
                let mut parts = Vec::new();
                if let Some(d) = drift {
                    parts.push(format!("drifted: {d}"));
                }
                if !outputs.is_empty() {
                    parts.push(format!("outputs changed: {}", outputs.join(", ")));
                }
                if let Some(why) = unhealthy {
                    parts.push(format!("found {why}"));
                }
                write!(f, "changed: {}", parts.join("; "))
            }
        }
    }
}

impl fmt::Display for RefreshReport {
    /// One line per resource that is not unchanged, then a count.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in self.changes() {
            writeln!(f, "  {} ({}): {}", r.id, r.name, r.status)?;
        }
        write!(
            f,
            "{} resource(s) read, {} changed outside the stack",
            self.resources.len(),
            self.changes().count()
        )
    }
}
