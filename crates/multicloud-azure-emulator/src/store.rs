//! The emulator's state: resources by lower-cased ARM id, operations in flight on a
//! simulated clock (finished lazily, when a request looks), soft-deleted vaults and the
//! secrets of every vault.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

/// How a long-running operation answers, per resource type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LroPattern {
    /// PUT: `201`/`200` with a `Creating`/`Updating` body + `Azure-AsyncOperation`;
    /// DELETE: `202` + `Azure-AsyncOperation`.
    AsyncOperation,
    /// `202` + `Location` (no body; a resource created this way is invisible until done).
    Location,
    /// `202` + both headers.
    Both,
}

/// What an operation does when its time is up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpAction {
    /// Creates or updates the resource (`created`: it did not exist before).
    Put {
        /// Whether the PUT created it.
        created: bool,
    },
    /// Deletes the resource and everything under it.
    Delete,
    /// Deletes a resource group and everything in it (vaults are soft-deleted).
    DeleteGroup,
    /// Purges soft-deleted vault `name`.
    Purge {
        /// The vault name (lower-case).
        name: String,
    },
}

/// How an operation ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Succeeds.
    Succeed,
    /// Fails with this ARM error.
    Fail {
        /// `error.code`.
        code: String,
        /// `error.message`.
        message: String,
    },
    /// Is canceled.
    Cancel,
}

/// One long-running operation.
#[derive(Debug, Clone)]
pub struct Operation {
    /// Its id (a GUID-like string).
    pub id: String,
    /// The resource it works on (lower-cased id).
    pub resource: String,
    /// What it does.
    pub action: OpAction,
    /// When it started and how long it takes.
    pub started: Instant,
    /// Its duration.
    pub duration: Duration,
    /// How it ends.
    pub outcome: Outcome,
    /// Set once finished: `Succeeded`, `Failed` or `Canceled`.
    pub status: Option<&'static str>,
}

impl Operation {
    /// `InProgress` or the final status.
    pub fn status(&self) -> &'static str {
        self.status.unwrap_or("InProgress")
    }
}

/// One resource.
#[derive(Debug, Clone)]
pub struct Resource {
    /// Its body (id, name, type, location, tags, properties...).
    pub body: Value,
    /// `properties.provisioningState`.
    pub state: String,
    /// False while a `202`-created resource is being created (GET answers 404).
    pub visible: bool,
    /// The operation running on it, if any.
    pub busy: Option<String>,
}

impl Resource {
    /// The body with the current provisioningState.
    pub fn view(&self) -> Value {
        let mut body = self.body.clone();
        if let Some(props) = body.get_mut("properties").and_then(Value::as_object_mut) {
            props.insert("provisioningState".into(), json!(self.state));
        }
        body
    }
}

/// One secret version.
#[derive(Debug, Clone)]
pub struct SecretVersion {
    /// Version id (32 hex digits).
    pub version: String,
    /// The value.
    pub value: String,
    /// Content type.
    pub content_type: Option<String>,
    /// Tags.
    pub tags: Option<Value>,
    /// Unix seconds.
    pub created: i64,
}

/// A secret: its versions, oldest first; `deleted` once soft-deleted.
#[derive(Debug, Clone, Default)]
pub struct Secret {
    /// Versions, oldest first.
    pub versions: Vec<SecretVersion>,
    /// Unix seconds of the soft delete.
    pub deleted: Option<i64>,
}

/// Everything the emulator holds.
#[derive(Debug, Default)]
pub struct Store {
    /// Resources by lower-cased id (resource groups included).
    pub resources: BTreeMap<String, Resource>,
    /// Operations by id.
    pub operations: BTreeMap<String, Operation>,
    /// Soft-deleted vaults by lower-cased name: their `deletedVaults` body.
    pub deleted_vaults: BTreeMap<String, Value>,
    /// Secrets by lower-cased vault name, then secret name.
    pub secrets: BTreeMap<String, BTreeMap<String, Secret>>,
    /// Failures to inject into the next operation on a type (lower-cased).
    pub fail_next: BTreeMap<String, Outcome>,
    /// Counter for ids.
    pub next_id: u64,
    /// When a role assignment was last created on each scope (lower-cased id).
    pub rbac_changed: BTreeMap<String, Instant>,
    /// The administrator password each flexible server was last given (lower-cased id):
    /// what a client logs in with; ARM never shows it.
    pub admin_passwords: BTreeMap<String, String>,
}

impl Store {
    /// A fresh id of 32 hex digits.
    pub fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!(
            "{:08x}0000400080000000{:08x}",
            self.next_id,
            self.next_id.wrapping_mul(2654435761) & 0xffff_ffff
        )
    }

    /// Finishes every operation whose time is up at `now`.
    pub fn tick(&mut self, now: Instant, secs: i64) {
        let due: Vec<String> = self
            .operations
            .values()
            .filter(|o| o.status.is_none() && now >= o.started + o.duration)
            .map(|o| o.id.clone())
            .collect();
        for id in due {
            self.finish(&id, secs);
        }
    }

    fn finish(&mut self, id: &str, secs: i64) {
        let Some(op) = self.operations.get(id).cloned() else {
            return;
        };
        let status = match (&op.outcome, &op.action) {
            (Outcome::Succeed, action) => {
                self.apply(&op.resource, action, secs);
                "Succeeded"
            }
            (outcome, action) => {
                let state = if *outcome == Outcome::Cancel {
                    "Canceled"
                } else {
                    "Failed"
                };
                if let Some(r) = self.resources.get_mut(&op.resource) {
                    r.busy = None;
                    r.visible = true;
                    if matches!(action, OpAction::Put { .. }) {
                        r.state = state.into();
                    } else {
                        r.state = "Succeeded".into();
                    }
                }
                state
            }
        };
        if let Some(o) = self.operations.get_mut(id) {
            o.status = Some(status);
        }
    }

    fn apply(&mut self, key: &str, action: &OpAction, secs: i64) {
        match action {
            OpAction::Put { .. } => {
                if let Some(r) = self.resources.get_mut(key) {
                    r.state = "Succeeded".into();
                    r.visible = true;
                    r.busy = None;
                }
            }
            OpAction::Delete | OpAction::DeleteGroup => self.remove_tree(key, secs),
            OpAction::Purge { name } => {
                self.deleted_vaults.remove(name);
                self.secrets.remove(name);
            }
        }
    }

    /// Removes `key` and everything under it; vaults among them are soft-deleted.
    pub fn remove_tree(&mut self, key: &str, secs: i64) {
        let prefix = format!("{key}/");
        let doomed: Vec<String> = self
            .resources
            .keys()
            .filter(|k| *k == key || k.starts_with(&prefix))
            .cloned()
            .collect();
        for k in doomed {
            if let Some(r) = self.resources.remove(&k)
                && is_vault(&r.body)
            {
                self.soft_delete_vault(&r.body, secs);
            }
        }
    }

    /// Records vault `body` as soft-deleted (retention 90 days).
    pub fn soft_delete_vault(&mut self, body: &Value, secs: i64) {
        let s = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or_default();
        let (id, name, location) = (s("id"), s("name"), s("location"));
        let sub = id.split('/').nth(2).unwrap_or_default();
        let date = |t: i64| {
            chrono::DateTime::from_timestamp(t, 0)
                .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default()
        };
        let deleted = json!({
            "id": format!("/subscriptions/{sub}/providers/Microsoft.KeyVault/locations/{location}/deletedVaults/{name}"),
            "name": name,
            "type": "Microsoft.KeyVault/deletedVaults",
            "properties": {
                "vaultId": id,
                "location": location,
                "deletionDate": date(secs),
                "scheduledPurgeDate": date(secs + 90 * 86_400),
                "tags": body.get("tags").cloned().unwrap_or(json!({})),
                "purgeProtectionEnabled": false,
            }
        });
        self.deleted_vaults
            .insert(name.to_ascii_lowercase(), deleted);
    }

    /// The live vault named `name` (case-insensitive), if any.
    pub fn vault_named(&self, name: &str) -> Option<&Resource> {
        self.resources.values().find(|r| {
            is_vault(&r.body)
                && r.body
                    .get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
    }
}

/// Whether `body` is a Key Vault vault.
pub fn is_vault(body: &Value) -> bool {
    body.get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| t.eq_ignore_ascii_case("Microsoft.KeyVault/vaults"))
}
