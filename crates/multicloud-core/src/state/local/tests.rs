//! The local store's own checks (the shared contracts run in `tests/lock_contract.rs`).

use super::*;
use crate::outputs::Outputs;
use crate::resource::Resource;
use crate::state::ResourceRecord;
use crate::state::SCHEMA_VERSION;
use serde_json::Value;

fn key() -> StateKey {
    StateKey::new("app", "dev")
}

fn state(serial: u64) -> StackState {
    let mut state = StackState::new(key(), "us-east-1", "aws");
    state.serial = serial;
    state
}

fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn save_then_load_round_trips() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStateStore::new(tmp.path().join("nested").join("state"));
    let mut saved = state(7);
    let mut outputs = Outputs::new();
    outputs
        .as_map_mut()
        .insert("cidr".into(), "10.0.0.0/16".into());
    let mut config = serde_json::Map::new();
    config.insert("cidr".into(), "10.0.0.0/16".into());
    let mut resource = Resource::new(crate::testing::kinds::VPC, "main", "app-dev-vpc");
    resource.config = Value::Object(config);
    let record = ResourceRecord::new(&resource, Some("vpc-0123".into()), outputs);
    saved.resources.insert(record.id.clone(), record);
    saved.expires_at = Some(saved.created_at);

    store.save(&saved).await.unwrap();
    let loaded = store.load(&key()).await.unwrap();
    assert_eq!(loaded, Some(saved));
    assert!(store.dir().join("app.dev.json").is_file());
}

#[tokio::test]
async fn load_of_missing_state_is_none() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStateStore::new(tmp.path().join("never-created"));
    assert_eq!(store.load(&key()).await.unwrap(), None);
    store.save(&state(1)).await.unwrap();
    assert_eq!(
        store.load(&StateKey::new("app", "prod")).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn save_is_atomic_and_keeps_a_backup_of_the_previous_version() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStateStore::new(tmp.path());
    store.save(&state(1)).await.unwrap();
    assert_eq!(file_names(tmp.path()), ["app.dev.json"]);
    store.save(&state(2)).await.unwrap();
    store.save(&state(3)).await.unwrap();
    // No temporary file left behind, current version and the one before it kept.
    assert_eq!(
        file_names(tmp.path()),
        ["app.dev.json", "app.dev.json.backup"]
    );
    let loaded = store.load(&key()).await.unwrap().unwrap();
    assert_eq!(loaded.serial, 3);
    let backup = fs::read(tmp.path().join("app.dev.json.backup")).unwrap();
    let backup: StackState = serde_json::from_slice(&backup).unwrap();
    assert_eq!(backup.serial, 2);
    // One line per top-level field (and per record), for humans reading the file.
    let text = fs::read_to_string(tmp.path().join("app.dev.json")).unwrap();
    assert!(
        text.contains(&format!("\n  \"schema_version\":{SCHEMA_VERSION},\n")),
        "{text}"
    );
}

#[tokio::test]
async fn failed_save_leaves_no_temp_file() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStateStore::new(tmp.path());
    // A directory where the state file should be: the final rename fails.
    fs::create_dir(tmp.path().join("app.dev.json")).unwrap();
    fs::write(tmp.path().join("app.dev.json").join("x"), "x").unwrap();
    let err = store.save(&state(1)).await.unwrap_err();
    assert!(matches!(err, StateError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("app.dev.json"), "{err}");
    assert_eq!(file_names(tmp.path()), ["app.dev.json"]);
}

#[tokio::test]
async fn corrupt_state_is_reported_and_left_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStateStore::new(tmp.path());
    let path = tmp.path().join("app.dev.json");
    let garbage = "{\"schema_version\": 1, \"key\": ";
    fs::write(&path, garbage).unwrap();

    let err = store.load(&key()).await.unwrap_err();
    match &err {
        StateError::Corrupt { location, message } => {
            assert_eq!(location, &path.display().to_string());
            assert!(message.contains("EOF"), "{message}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    assert!(err.to_string().contains("app.dev.json"), "{err}");
    // Still there, byte for byte, and no backup or temp file appeared.
    assert_eq!(fs::read_to_string(&path).unwrap(), garbage);
    assert_eq!(file_names(tmp.path()), ["app.dev.json"]);
}

#[tokio::test]
async fn newer_schema_is_unsupported() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStateStore::new(tmp.path());
    let mut value = serde_json::to_value(state(1)).unwrap();
    value["schema_version"] = (SCHEMA_VERSION + 1).into();
    // A newer build may also have changed fields: the version is checked first.
    value["resources"] = "something new".into();
    let path = tmp.path().join("app.dev.json");
    fs::write(&path, serde_json::to_vec(&value).unwrap()).unwrap();

    match store.load(&key()).await.unwrap_err() {
        StateError::UnsupportedVersion {
            location,
            found,
            supported,
        } => {
            assert_eq!(location, path.display().to_string());
            assert_eq!(found, SCHEMA_VERSION + 1);
            assert_eq!(supported, SCHEMA_VERSION);
        }
        other => panic!("expected UnsupportedVersion, got {other:?}"),
    }
}

#[tokio::test]
async fn missing_or_zero_schema_version_is_corrupt() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStateStore::new(tmp.path());
    let path = tmp.path().join("app.dev.json");
    let mut value = serde_json::to_value(state(1)).unwrap();
    for version in [Some(Value::from(0)), None, Some(Value::from("1"))] {
        match version {
            Some(v) => value["schema_version"] = v,
            None => {
                value.as_object_mut().unwrap().remove("schema_version");
            }
        }
        fs::write(&path, serde_json::to_vec(&value).unwrap()).unwrap();
        match store.load(&key()).await.unwrap_err() {
            StateError::Corrupt { location, message } => {
                assert_eq!(location, path.display().to_string());
                assert!(message.contains("schema_version"), "{message}");
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn state_of_another_key_is_corrupt() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStateStore::new(tmp.path());
    let other = StackState::new(StateKey::new("other", "dev"), "us-east-1", "aws");
    fs::write(
        tmp.path().join("app.dev.json"),
        serde_json::to_vec(&other).unwrap(),
    )
    .unwrap();
    let err = store.load(&key()).await.unwrap_err();
    assert!(
        matches!(&err, StateError::Corrupt { message, .. } if message.contains("other/dev")),
        "{err:?}"
    );
}

#[tokio::test]
async fn delete_removes_state_and_backup() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStateStore::new(tmp.path());
    store.delete(&key()).await.unwrap();
    store.save(&state(1)).await.unwrap();
    store.save(&state(2)).await.unwrap();
    store
        .save(&StackState::new(StateKey::new("app", "prod"), "r", "aws"))
        .await
        .unwrap();
    store.delete(&key()).await.unwrap();
    assert_eq!(store.load(&key()).await.unwrap(), None);
    assert_eq!(file_names(tmp.path()), ["app.prod.json"]);
    store.delete(&key()).await.unwrap();
}

#[tokio::test]
async fn unsafe_keys_are_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStateStore::new(tmp.path().join("state"));
    for bad in [
        StateKey::new("", "dev"),
        StateKey::new("app", ""),
        StateKey::new("../app", "dev"),
        StateKey::new("app", "dev/../../x"),
        StateKey::new("a.b", "dev"),
        StateKey::new("app", "d\\ev"),
    ] {
        let err = store.load(&bad).await.unwrap_err();
        assert!(
            matches!(&err, StateError::Io { path, source }
                if path == store.dir() && source.kind() == io::ErrorKind::InvalidInput),
            "{bad:?}: {err:?}"
        );
        assert!(
            store
                .save(&StackState::new(bad.clone(), "r", "aws"))
                .await
                .is_err()
        );
        assert!(
            store
                .lock(&bad, LockInfo::for_current_process("up"))
                .await
                .is_err()
        );
    }
    // Dots are fine in the environment: the stack name ends at the first one.
    let key = StateKey::new("app", "pr.42");
    store
        .save(&StackState::new(key.clone(), "r", "aws"))
        .await
        .unwrap();
    assert!(store.load(&key).await.unwrap().is_some());
    assert!(!tmp.path().join("x").exists());
}

#[tokio::test]
async fn a_scoped_key_has_its_files_in_a_directory_of_its_stack() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStateStore::new(tmp.path());
    let scope = ProviderScope::new("aws", "123456789012").in_region("us-east-1");
    let scoped = key().on(scope);
    let path = store.state_file(&scoped).unwrap();
    assert_eq!(
        path,
        tmp.path()
            .join("app.dev")
            .join("aws.123456789012.us-east-1.json")
    );
    let mut state = StackState::new(scoped.clone(), "us-east-1", "aws");
    state.serial = 1;
    store.save(&state).await.unwrap();
    state.serial = 2;
    store.save(&state).await.unwrap();
    let lock = store
        .lock(&scoped, LockInfo::for_current_process("up"))
        .await
        .unwrap();
    assert_eq!(
        file_names(&tmp.path().join("app.dev")),
        [
            "aws.123456789012.us-east-1.json",
            "aws.123456789012.us-east-1.json.backup",
            "aws.123456789012.us-east-1.lock"
        ]
    );
    assert_eq!(store.load(&scoped).await.unwrap(), Some(state));
    assert_eq!(
        store.load(&key()).await.unwrap(),
        None,
        "the old key is apart"
    );
    let listed = store.list().await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!((&listed[0].key, listed[0].serial), (&scoped, Some(2)));
    lock.release().await.unwrap();
    store.delete(&scoped).await.unwrap();
    assert!(
        file_names(&tmp.path().join("app.dev"))
            .iter()
            .all(|f| f.ends_with(".lock.guard")),
        "state, backup and lock removed"
    );
}
