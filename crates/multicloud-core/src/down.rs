//! What [`Stack::down`](crate::Stack::down) reports: the resources it left in place.
//!
//! A kind's `delete` may refuse to delete a resource without failing the teardown: a
//! namespace that holds objects multicloud does not own is never deleted (that would delete
//! them), so its `delete` returns an [`ErrorKind::LeftBehind`](crate::ErrorKind::LeftBehind)
//! error saying why. The engine then does not wait for it to go, forgets it (drops it from
//! state), emits [`Event::ResourceLeftBehind`](crate::events::Event::ResourceLeftBehind) and
//! goes on with the rest of the teardown; `down` returns it in [`DownReport::left_behind`]
//! with its [`Fate`]: gone with the stack's cluster when the same `down` deletes the cluster
//! (deleting a cluster deletes everything inside it), or still there when the cluster is not
//! the stack's to delete (an existing or attached cluster).

use std::fmt;

use crate::resource::{ResourceId, ResourceKind};

/// What `down` did not delete.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DownReport {
    /// The resources left in place, each with why and what becomes of it.
    pub left_behind: Vec<LeftBehind>,
}

impl DownReport {
    /// A report of `left_behind`.
    pub fn new(left_behind: Vec<LeftBehind>) -> Self {
        Self { left_behind }
    }

    /// Whether `down` deleted everything (nothing left behind).
    pub fn is_complete(&self) -> bool {
        self.left_behind.is_empty()
    }

    /// The resources left behind that are still there after `down` (see [`Fate::Remains`]).
    pub fn remaining(&self) -> impl Iterator<Item = &LeftBehind> {
        self.left_behind.iter().filter(|l| l.fate == Fate::Remains)
    }
}

impl fmt::Display for DownReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.left_behind.is_empty() {
            return f.write_str("everything deleted");
        }
        write!(f, "{} resource(s) left behind:", self.left_behind.len())?;
        for l in &self.left_behind {
            write!(f, "\n  - {l}")?;
        }
        Ok(())
    }
}

/// One resource `down` left in place instead of deleting it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftBehind {
    /// The resource.
    pub id: ResourceId,
    /// Its kind.
    pub kind: ResourceKind,
    /// Its physical name.
    pub name: String,
    /// Why it was left (the kind's message: what it holds that is not ours).
    pub reason: String,
    /// What becomes of it.
    pub fate: Fate,
}

impl fmt::Display for LeftBehind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {}; {}",
            self.id, self.name, self.reason, self.fate
        )
    }
}

/// What becomes of a resource left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fate {
    /// It lives inside the stack's cluster, which the same `down` deleted: it went with it.
    GoneWithCluster,
    /// It is still there: nothing of this stack deletes it (it lives on an existing or
    /// attached cluster, which `down` never deletes). Remove it, or what it holds, by hand.
    Remains,
}

impl fmt::Display for Fate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::GoneWithCluster => "it went with the stack's cluster, which this down deleted",
            Self::Remains => {
                "it REMAINS: nothing of this stack deletes it (on an existing or attached \
                 cluster, down never deletes the cluster); remove it by hand"
            }
        })
    }
}
