//! [`SeenVersions`]: what a store with conditional writes (S3, Azure Blob) last read or wrote
//! of each state object, and the rules every such store applies with it.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use super::StateError;

/// What one store instance last read or wrote of each state object, by object name. Each
/// object's [`Seen`] is held (an async lock) across the request that reads or replaces it,
/// so a slow load never records an ETag older than a save that finished meanwhile. Clones
/// share the record.
#[derive(Debug, Clone, Default)]
pub struct SeenVersions(Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<Seen>>>>>);

impl SeenVersions {
    /// The record of `object`, to lock across the request on it.
    pub fn of(&self, object: &str) -> Arc<tokio::sync::Mutex<Seen>> {
        let mut all = self.0.lock().unwrap_or_else(|e| e.into_inner());
        all.entry(object.to_owned()).or_default().clone()
    }
}

/// What a store last read or wrote of one state object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    /// Its ETag (`None`: no object; a save then creates it only if it is still absent).
    pub etag: Option<String>,
    /// The serial of the state in it.
    pub serial: Option<u64>,
}

impl Seen {
    /// Records a read or write of the object at `etag` holding `serial` (`None` for both:
    /// there is no object).
    pub fn record(&mut self, etag: Option<String>, serial: Option<u64>) {
        *self = Self { etag, serial };
    }

    /// Refuses to save `serial` at `location` unless it is newer than the serial seen last.
    pub fn check_newer(&self, serial: u64, location: &str) -> Result<(), StateError> {
        match self.serial.filter(|last| serial <= *last) {
            Some(last) => Err(StateError::Conflict {
                location: location.to_owned(),
                message: format!(
                    "this store last saw serial {last}, as new as the {serial} being saved; load it again"
                ),
            }),
            None => Ok(()),
        }
    }

    /// The error of a conditional write at `location` that failed because the object changed
    /// since it was seen (`detail`: the service's answer).
    pub fn changed_meanwhile(&self, location: &str, detail: impl fmt::Display) -> StateError {
        let expected = match self.etag.as_deref() {
            Some(tag) => format!("the version with ETag {tag} this store last read"),
            None => "no state, as this store last read".to_owned(),
        };
        StateError::Conflict {
            location: location.to_owned(),
            message: format!(
                "expected {expected}; someone else wrote or deleted it meanwhile ({detail}), \
                 load it again"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_save_must_be_newer_than_what_was_seen_and_names_the_version_it_expected() {
        let versions = SeenVersions::default();
        let slot = versions.of("shop/dev");
        let mut seen = slot.lock().await;
        assert_eq!(*seen, Seen::default());
        seen.check_newer(1, "b/shop/dev").expect("nothing seen yet");
        seen.record(Some("\"e1\"".into()), Some(3));
        assert!(seen.check_newer(4, "b/shop/dev").is_ok());
        let stale = seen.check_newer(3, "b/shop/dev").expect_err("not newer");
        assert!(stale.to_string().contains("last saw serial 3"), "{stale}");
        let changed = seen.changed_meanwhile("b/shop/dev", "412 Precondition Failed");
        let text = changed.to_string();
        assert!(
            text.contains("ETag \"e1\"") && text.contains("412"),
            "{text}"
        );
        drop(seen);
        // The same object's record is shared; another object has its own.
        assert_eq!(versions.of("shop/dev").lock().await.serial, Some(3));
        assert_eq!(versions.of("shop/prod").lock().await.serial, None);
        let mut gone = versions.of("shop/dev").lock_owned().await;
        gone.record(None, None);
        let absent = gone.changed_meanwhile("b/shop/dev", "exists");
        assert!(absent.to_string().contains("no state"), "{absent}");
    }
}
