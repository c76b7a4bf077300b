//! The protocol on an in-memory backend, with and without backend leases: the shared lock
//! contract, the key layout, and what an unreadable lock reads as. (The S3 and Blob stores
//! run the same contract against moto and Azurite.)

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::*;
use crate::testing::lock_contract;

/// One stored object: its bytes, version and backend lease.
#[derive(Debug, Clone)]
struct Stored {
    bytes: Vec<u8>,
    version: u64,
    lease: Option<String>,
}

/// Objects in memory; with `leases`, the lock object is leased like an Azure blob.
#[derive(Debug, Clone, Default)]
struct Memory {
    objects: Arc<Mutex<BTreeMap<String, Stored>>>,
    versions: Arc<Mutex<u64>>,
    leases: bool,
}

impl Memory {
    fn leasing() -> Self {
        Self {
            leases: true,
            ..Self::default()
        }
    }

    fn next_version(&self) -> u64 {
        let mut v = self.versions.lock().unwrap();
        *v += 1;
        *v
    }

    /// Why the condition and lease of `target` refuse a request on `stored`, if they do.
    fn refusal(stored: Option<&Stored>, target: Target<'_>) -> Option<String> {
        if let Some(held) = stored.and_then(|s| s.lease.as_deref())
            && target.lease != Some(held)
        {
            return Some("leased by someone else".into());
        }
        match (target.condition, stored) {
            (Condition::Absent, Some(_)) => Some("exists".into()),
            (Condition::Matches(etag), Some(s)) if s.version.to_string() != etag => {
                Some("changed".into())
            }
            (Condition::Matches(_), None) => Some("gone".into()),
            _ => None,
        }
    }
}

#[async_trait]
impl ConditionalObjects for Memory {
    fn location(&self, name: &str) -> String {
        format!("memory://{name}")
    }

    async fn get(&self, name: &str, _: &str) -> Result<Option<ObjectRead>, StateError> {
        let objects = self.objects.lock().unwrap();
        Ok(objects.get(name).map(|s| ObjectRead {
            bytes: s.bytes.clone(),
            etag: Some(s.version.to_string()),
            modified: None,
        }))
    }

    async fn put(&self, target: Target<'_>, bytes: &[u8]) -> Result<Outcome, StateError> {
        let version = self.next_version();
        let mut objects = self.objects.lock().unwrap();
        let stored = objects.get(target.name);
        if let Some(why) = Self::refusal(stored, target) {
            return Ok(Outcome::Refused(why));
        }
        let lease = stored.and_then(|s| s.lease.clone());
        let bytes = bytes.to_vec();
        objects.insert(
            target.name.into(),
            Stored {
                bytes,
                version,
                lease,
            },
        );
        Ok(Outcome::Applied(Some(version.to_string())))
    }

    async fn delete(&self, target: Target<'_>) -> Result<Outcome, StateError> {
        let mut objects = self.objects.lock().unwrap();
        let Some(stored) = objects.get(target.name) else {
            return Ok(Outcome::Refused("not found".into()));
        };
        if let Some(why) = Self::refusal(Some(stored), target) {
            return Ok(Outcome::Refused(why));
        }
        objects.remove(target.name);
        Ok(Outcome::Applied(None))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StateError> {
        let objects = self.objects.lock().unwrap();
        Ok(objects
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect())
    }

    async fn lease(&self, name: &str, etag: Option<&str>) -> Result<Leased, StateError> {
        if !self.leases {
            return Ok(Leased::NotNeeded);
        }
        let mut objects = self.objects.lock().unwrap();
        match objects.get_mut(name) {
            Some(s) if s.lease.is_none() && etag == Some(&s.version.to_string()) => {
                let id = format!("lease-{}", s.version);
                s.lease = Some(id.clone());
                Ok(Leased::Held(id))
            }
            _ => Ok(Leased::Refused),
        }
    }

    async fn renew_lease(&self, name: &str, lease: &str) -> Result<bool, StateError> {
        let objects = self.objects.lock().unwrap();
        Ok(objects.get(name).and_then(|s| s.lease.as_deref()) == Some(lease))
    }

    async fn break_lease(
        &self,
        name: &str,
        etag: Option<&str>,
    ) -> Result<Option<String>, StateError> {
        let mut objects = self.objects.lock().unwrap();
        match objects.get_mut(name) {
            Some(s) if etag == Some(&s.version.to_string()) => {
                s.lease = None;
                Ok(etag.map(str::to_owned))
            }
            _ => Ok(None),
        }
    }
}

fn key() -> StateKey {
    StateKey::new("app", "dev")
}

fn stores() -> [ObjectStateStore<Memory>; 2] {
    [
        ObjectStateStore::new(Memory::default(), "/teams/"),
        ObjectStateStore::new(Memory::leasing(), "teams"),
    ]
}

#[test]
fn names_follow_the_layout_and_bad_keys_are_refused() {
    let store = ObjectStateStore::new(Memory::default(), "/teams/platform/");
    assert_eq!(store.prefix(), "teams/platform");
    let key = key();
    assert_eq!(
        store.state_name(&key).unwrap(),
        "teams/platform/app/dev/state.json"
    );
    assert_eq!(
        store.lock_name(&key).unwrap(),
        "teams/platform/app/dev/lock.json"
    );
    assert_eq!(
        store.key_of("teams/platform/app/dev/lock.json"),
        Some(key.clone())
    );
    assert_eq!(store.key_of("teams/platform/app/dev/other.json"), None);
    assert_eq!(store.key_of("teams/platform/app/dev/x/state.json"), None);
    let aws = key
        .clone()
        .on(ProviderScope::new("aws", "123456789012").in_region("us-east-1"));
    let name = "teams/platform/app/dev/aws.123456789012.us-east-1/state.json";
    assert_eq!(store.state_name(&aws).unwrap(), name);
    assert_eq!(store.key_of(name), Some(aws));
    assert_eq!(
        store.key_of("teams/platform/app/dev/a.b/c/state.json"),
        None
    );
    assert_eq!(store.key_of("elsewhere/app/dev/state.json"), None);
    let bare = ObjectStateStore::new(Memory::default(), "");
    assert_eq!(bare.state_name(&key).unwrap(), "app/dev/state.json");
    assert_eq!(bare.key_of("app/dev/state.json"), Some(key));
    for bad in [
        StateKey::new("", "dev"),
        StateKey::new("a/b", "dev"),
        StateKey::new("a", "d\n"),
    ] {
        let err = store.state_name(&bad).unwrap_err();
        assert!(err.to_string().contains("must not be empty"), "{err}");
    }
}

#[tokio::test]
async fn the_lock_contract_holds_with_and_without_backend_leases() {
    for store in stores() {
        lock_contract::lease_expiry_and_takeover(&store, &key()).await;
        lock_contract::renewal_keeps_the_lock(&store, &StateKey::new("app", "qa")).await;
        lock_contract::a_stale_write_is_refused(&store, &StateKey::new("app", "prod")).await;
        let shared: Arc<dyn StateStore> = Arc::new(store.clone());
        lock_contract::racing_tasks_hold_it_one_at_a_time(shared, &key(), 4, 3).await;
        assert!(
            store.list().await.unwrap().is_empty(),
            "everything released"
        );
    }
}

#[tokio::test]
async fn the_scope_contract_holds() {
    use crate::testing::scope_contract;
    for store in stores() {
        scope_contract::clouds_keep_separate_states(&store).await;
        scope_contract::bad_scopes_are_refused(&store).await;
        scope_contract::unscoped_state_migrates(&store).await;
    }
}

#[tokio::test]
async fn an_unreadable_lock_is_held_by_an_unknown_owner_until_forced() {
    for store in stores() {
        let name = store.lock_name(&key()).unwrap();
        store
            .objects()
            .put(Target::new(&name, Condition::Absent, "test"), b"not json")
            .await
            .unwrap();
        match store
            .lock(&key(), LockInfo::for_current_process("up"))
            .await
        {
            Err(StateError::Locked { holder, .. }) => {
                assert_eq!(holder.owner, "unknown (unreadable lock object)");
            }
            other => panic!("expected Locked, got {other:?}"),
        }
        let listed = store.list().await.unwrap();
        assert_eq!((listed.len(), listed[0].serial), (1, None), "{listed:?}");
        let forced = store.force_unlock(&key()).await.unwrap().expect("a holder");
        assert!(forced.owner.contains("unreadable"), "{forced:?}");
        assert_eq!(store.force_unlock(&key()).await.unwrap(), None);
    }
}

#[tokio::test]
async fn a_dropped_guard_releases_and_a_forced_holder_loses_its_lock() {
    for store in stores() {
        let dropped = store
            .lock(&key(), LockInfo::for_current_process("up"))
            .await
            .unwrap();
        drop(dropped);
        let mut freed = false;
        for _ in 0..50 {
            if store.lock_holder(&key()).await.unwrap().is_none() {
                freed = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(freed, "released on drop");
        let mut stale = store
            .lock(&key(), LockInfo::for_current_process("up"))
            .await
            .unwrap();
        let forced = store.force_unlock(&key()).await.unwrap();
        assert_eq!(forced.as_ref(), Some(stale.info()));
        let fresh = store
            .lock(&key(), LockInfo::for_current_process("down"))
            .await
            .unwrap();
        assert!(matches!(
            stale.renew().await,
            Err(StateError::LockLost { .. })
        ));
        assert!(matches!(
            stale.release().await,
            Err(StateError::LockLost { .. })
        ));
        assert_eq!(
            store.lock_holder(&key()).await.unwrap().as_ref(),
            Some(fresh.info())
        );
        fresh.release().await.unwrap();
    }
}
